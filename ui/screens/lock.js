// The unlock screen: the app's 6-digit PIN before any code or token name is shown. Wrong tries
// are counted by the app (5 free, then a wait before each further try, kept across restarts);
// the screen says how many are left, counts a wait down, and never takes a try during one.
// "I forgot my PIN" leads to the way out (screens/forgot.js). With biometric unlock on, the
// phone's fingerprint or face prompt is offered first (once by itself as the screen opens, then
// by its button); the PIN field stays for when the customer cancels it or it cannot be used.

import * as api from "../api.js";
import { attempt } from "../errors.js";
import { triesText, waitText } from "../i18n.js";
import * as lock from "../lock.js";
import { go, show } from "../navigation.js";
import * as notice from "../notice.js";
import * as tokens from "../tokens.js";
import { $, currentLang, errorText, setFieldError, setText, t } from "../view.js";

// The unlock's error `{kind, ...}` on screen, for a language switch.
let error = null;
// The time (ms) the running wait ends, or null.
let waitEnds = null;
let sending = false;
// What opens once unlocked.
let then = null;
// The note under the PIN after biometrics were turned off by the phone, as a key.
let biometricNote = null;
// The prompt was offered by itself once since the screen opened.
let biometricOffered = false;

// Unlocked: the tokens are listed again, as at start.
async function showTokens() {
  await tokens.refresh();
  go("list");
  document.body.dataset.ready = "true";
}

/** Shows the unlock screen; `next()` runs once the PIN opened the tokens. */
export function open(next) {
  then = next ?? null;
  lock.forgetTokens();
  // The status line may name a token ("… was deleted"), and nothing said before is news now.
  notice.clear();
  // Ready again once the codes are back on screen.
  delete document.body.dataset.ready;
  $("lock-form").reset();
  error = null;
  setFieldError("lock-pin", null);
  biometricNote = null;
  biometricOffered = false;
  show("lock", "lock-pin");
  lock.refresh().then(offerBiometric, () => paint());
}

// Paints, then asks for the fingerprint or face once, if it is on.
function offerBiometric() {
  paint();
  if (lock.current().biometricOn && !biometricOffered) {
    biometricOffered = true;
    unlockWithBiometric();
  }
}

export const isSending = () => sending;

export const relang = () => paint();

export function forget() {
  $("lock-pin").value = "";
}

/** Counts the wait down, once a second while shown. */
export function tick() {
  if (waitEnds !== null && waitEnds <= Date.now()) waitEnds = null;
  paintWait();
}

function secondsToWait() {
  return waitEnds === null ? 0 : Math.max(0, Math.ceil((waitEnds - Date.now()) / 1000));
}

function paintWait() {
  const left = secondsToWait();
  const wait = $("lock-wait");
  wait.hidden = left === 0;
  setText(wait, left ? waitText(currentLang(), left) : "");
  $("lock-submit").disabled = sending || left > 0;
}

function paint() {
  const s = lock.current();
  if (s.waitSecs && waitEnds === null) waitEnds = Date.now() + s.waitSecs * 1000;
  const tries = $("lock-tries");
  // Said once the customer has used a try, and always once a wait applies.
  const used = s.triesLeftBeforeWait < 5;
  tries.hidden = !used;
  setText(tries, used ? triesText(currentLang(), s.triesLeftBeforeWait) : "");
  // The tries and the wait have lines of their own, kept up to date.
  // An easy number is never anyone's PIN (core refuses to set one): it is a wrong PIN, not counted.
  if (error?.kind === "wrong_pin" || error?.kind === "weak_pin") setFieldError("lock-pin", t("error.wrong_pin"));
  else if (error && error.kind !== "pin_back_off") setFieldError("lock-pin", errorText(error));
  setText($("lock-submit-label"), t(sending ? "lock.checking" : "lock.submit"));
  const bio = $("lock-biometric");
  bio.hidden = !lock.current().biometricOn;
  bio.disabled = sending;
  const note = $("lock-biometric-note");
  note.hidden = biometricNote === null;
  setText(note, biometricNote ? t(biometricNote) : "");
  paintWait();
}

async function unlockWithBiometric() {
  if (sending) return;
  sending = true;
  error = null;
  setFieldError("lock-pin", null);
  paint();
  try {
    lock.remember(await api.unlockWithBiometric(currentLang()));
    sending = false;
    biometricNote = null;
    await attempt(then ?? showTokens);
    return;
  } catch (e) {
    // A cancel needs no words: the PIN field and the button are there.
    if (e?.kind === "biometric_invalidated") biometricNote = "lock.biometric_invalidated";
    else if (e?.kind === "biometric_unavailable") biometricNote = "lock.biometric_unavailable";
    else if (e?.kind !== "biometric_cancelled") error = e;
    if (e?.kind === "biometric_invalidated") lock.remember({ ...lock.current(), biometricOn: false });
  } finally {
    sending = false;
  }
  paint();
  $("lock-pin").focus();
}

async function unlock() {
  if (sending || secondsToWait() > 0) return;
  sending = true;
  error = null;
  setFieldError("lock-pin", null);
  paint();
  try {
    lock.remember(await api.unlock($("lock-pin").value));
    $("lock-form").reset();
    sending = false;
    await attempt(then ?? showTokens);
    return;
  } catch (e) {
    error = e;
    if (e?.retryAfter) waitEnds = Date.now() + e.retryAfter * 1000;
    if (e?.kind === "wrong_pin") lock.remember({ ...lock.current(), triesLeftBeforeWait: e.triesLeft ?? 0 });
    $("lock-pin").value = "";
    $("lock-pin").focus();
  } finally {
    sending = false;
  }
  paint();
}

export function wire() {
  $("lock-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    unlock();
  });
  $("lock-pin").addEventListener("input", () => {
    error = null;
    setFieldError("lock-pin", null);
  });
  $("lock-forgot").addEventListener("click", () => go("forgot"));
  $("lock-biometric").addEventListener("click", unlockWithBiometric);
}
