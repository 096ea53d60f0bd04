// The offline code (docs/confirmation.md §6): when the phone cannot reach the bank, the
// customer types the payee's account number and the amount from what they know, and the app
// shows the 8-digit code for them and the current minute, with its seconds left. The app checks
// what was typed (core's rules); a new code is fetched when the minute ends.

import * as api from "../api.js";
import { clearErrorIn, showErrorIn } from "../errors.js";
import { groupCode, secondsLeftAt, spokenDigits } from "../format.js";
import { go, show } from "../navigation.js";
import { $, errorText, setFieldError, setText, t } from "../view.js";

// Which input shows a refusal of which field.
const INPUTS = { payee_account: "offline-account", amount: "offline-amount" };

let tokenId = null;
// `{ code, accountNumber, amount, expiresAt }` while a code is on screen.
let shownCode = null;
let busy = false;

export function open(id) {
  tokenId = id;
  forget();
  show("offline", "offline-account");
}

export const isSending = () => busy;

export function forget() {
  shownCode = null;
  $("offline-form").reset();
  for (const input of Object.values(INPUTS)) setFieldError(input, null);
  clearErrorIn("offline-error");
  $("offline-result").hidden = true;
}

export function relang() {
  for (const input of Object.values(INPUTS)) {
    const err = $(`${input}-error`);
    if (!err.hidden && err.dataset.error) err.textContent = errorText(JSON.parse(err.dataset.error));
  }
  paint();
}

export function tick() {
  if (!shownCode) return;
  if (secondsLeftAt(shownCode.expiresAt, Date.now()) <= 0) fetchCode();
  else paint();
}

function paint() {
  $("offline-result").hidden = shownCode === null;
  if (!shownCode) return;
  const c = shownCode;
  setText($("offline-for"), t("offline.for", { account: c.accountNumber, amount: c.amount }));
  setText($("offline-code"), groupCode(c.code));
  setText($("offline-code-sr"), t("offline.code_label", { digits: spokenDigits(c.code) }));
  const left = secondsLeftAt(c.expiresAt, Date.now());
  setText($("offline-seconds"), t("offline.seconds_left", { n: left }));
}

function showFieldError(e) {
  const input = INPUTS[e.field];
  if (!input) return false;
  setFieldError(input, errorText(e));
  $(`${input}-error`).dataset.error = JSON.stringify(e);
  $(input).focus();
  return true;
}

async function fetchCode() {
  if (busy) return;
  busy = true;
  for (const input of Object.values(INPUTS)) setFieldError(input, null);
  clearErrorIn("offline-error");
  try {
    const r = await api.offlineCode(tokenId, $("offline-account").value, $("offline-amount").value);
    const now = Math.floor(Date.now() / 1000);
    shownCode = { ...r, expiresAt: now + r.secondsLeft };
  } catch (e) {
    shownCode = null;
    if (!(e?.kind === "invalid_input" && showFieldError(e))) showErrorIn("offline-error", e);
  } finally {
    busy = false;
  }
  paint();
}

export function wire() {
  $("offline-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    fetchCode();
  });
  // A code shown is for what was typed: a change hides it until asked again.
  for (const input of Object.values(INPUTS)) {
    $(input).addEventListener("input", () => {
      shownCode = null;
      setFieldError(input, null);
      paint();
    });
  }
  $("offline-back").addEventListener("click", () => go("otp", tokenId));
}
