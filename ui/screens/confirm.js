// Transaction confirmation (docs/confirmation.md §10): one request the bank sent, already
// checked by the app, shown large: the amount, the payee, the note. Approve and deny each take
// two separate presses (the choice, then "Yes, …" in another place, armed a moment later), so a
// stray tap or a double tap never answers. The web view names the request by its id only: the
// app signs the request it verified, not anything this page holds.

import * as api from "../api.js";
import { clearErrorIn, showErrorIn } from "../errors.js";
import { secondsLeftAt } from "../format.js";
import * as lock from "../lock.js";
import { go, show } from "../navigation.js";
import { $, errorText, setFieldError, setText, t } from "../view.js";

// A second press closer than this to the first is a double tap, not a decision.
const ARM_MS = 700;

// `{ token, request, back: [screen, ...args] }` while a request is on screen.
let shown = null;
// `"approve" | "deny" | "not_me"` while the second press is awaited.
let step = null;
// `{ key }` or `{ error }` once answered.
let result = null;
let sending = false;
let armTimer = null;

/** Shows `request` of token `tok`; `back` is where "Close" returns to. */
export function open(tok, request, back) {
  shown = { token: tok, request, back };
  step = null;
  result = null;
  $("confirm-number").value = "";
  $("confirm-pin").value = "";
  setFieldError("confirm-number", null);
  setFieldError("confirm-pin", null);
  clearErrorIn("confirm-error");
  render();
  show("confirm");
}

/** Whether a request is on screen and still waits for the customer. */
export const isOpen = () => shown !== null && result === null;

export const isSending = () => sending;

export const relang = () => shown && render();

export function forget() {
  shown = null;
  step = null;
  result = null;
  $("confirm-number").value = "";
  $("confirm-pin").value = "";
  for (const id of ["confirm-token", "confirm-holder", "confirm-amount", "confirm-note"]) $(id).textContent = "";
}

// With the app lock on, an approval takes the PIN, typed then: an unlocked phone lent to
// someone does not approve a transfer.
const pinAsked = () => step === "approve" && lock.current().pinSet;

export function tick() {
  if (!shown || result) return;
  const left = secondsLeftAt(shown.request.expiresAt, Date.now());
  setText($("confirm-seconds"), t("confirm.seconds_left", { n: left }));
  // Nothing is answered after the time: the bank would only say it expired.
  if (left <= 0 && !sending) finish({ key: "confirm.result_expired" });
}

const ACCOUNT_TYPES = ["ordinary", "current", "savings"];

function render() {
  const r = shown.request;
  setText($("confirm-heading"), t(`confirm.heading_${r.kind}`));
  setText($("confirm-lead"), t(`confirm.lead_${r.kind}`));
  setText($("confirm-token"), t("confirm.token", { name: shown.token.name }));
  $("confirm-amount-box").hidden = r.amount == null;
  if (r.amount != null) {
    setText($("confirm-amount-label"), t(r.kind === "limit_change" ? "confirm.new_limit" : "confirm.amount"));
    setText($("confirm-amount"), r.amount);
    // "¥50,000" is read as "50,000円" / "50,000 yen", never as a currency sign and digits.
    $("confirm-amount").setAttribute("aria-label", t("confirm.amount_label", { yen: r.amount.slice(1) }));
  }
  $("confirm-payee").hidden = !r.payee;
  if (r.payee) {
    setText($("confirm-holder"), r.payee.holder);
    setText($("confirm-bank"), r.payee.bank);
    setText($("confirm-branch"), r.payee.branch);
    const type = ACCOUNT_TYPES.includes(r.payee.accountType) ? t(`confirm.type_${r.payee.accountType}`) : "";
    setText($("confirm-account"), `${type} ${r.payee.accountNumber}`);
  }
  $("confirm-note-box").hidden = r.note === "";
  setText($("confirm-note"), r.note);
  $("confirm-number-field").hidden = !r.matchRequired;
  $("confirm-request").hidden = result !== null;
  $("confirm-result").hidden = result === null;
  if (result) {
    $("confirm-result-text").textContent = result.error ? errorText(result.error) : t(result.key);
  }
  $("confirm-choose").hidden = step !== null;
  $("confirm-step").hidden = step === null;
  if (step) renderStep();
  tick();
}

function renderStep() {
  const r = shown.request;
  const approve = step === "approve";
  let text;
  if (!approve) text = t(step === "not_me" ? "confirm.step_not_me" : "confirm.step_deny");
  else if (r.kind === "transfer") text = t("confirm.step_approve_transfer", { amount: r.amount, holder: r.payee.holder });
  else text = t("confirm.step_approve_other");
  setText($("confirm-step-text"), text);
  $("confirm-pin-field").hidden = !pinAsked();
  const final = $("confirm-final");
  final.className = approve ? "primary" : "danger";
  setText(final, sending ? t("confirm.sending") : t(approve ? "confirm.final_approve" : "confirm.final_deny"));
  final.setAttribute("aria-busy", String(sending));
}

// The typed number as two ASCII digits, or null.
function typedNumber() {
  const digits = [...$("confirm-number").value]
    .map((c) => (c >= "０" && c <= "９" ? String.fromCharCode(c.charCodeAt(0) - 0xfee0) : c))
    .filter((c) => c !== " " && c !== "\u3000")
    .join("");
  return /^[0-9]{2}$/.test(digits) ? digits : null;
}

function choose(which) {
  if (sending || result) return;
  if (which === "approve" && shown.request.matchRequired && typedNumber() === null) {
    setFieldError("confirm-number", t("confirm.number_missing"));
    $("confirm-number").focus();
    return;
  }
  setFieldError("confirm-number", null);
  step = which;
  render();
  const final = $("confirm-final");
  final.disabled = true;
  clearTimeout(armTimer);
  armTimer = setTimeout(() => (final.disabled = false), ARM_MS);
  $("confirm-step-text").setAttribute("tabindex", "-1");
  $("confirm-step-text").focus();
}

function back() {
  if (sending) return;
  step = null;
  render();
  $("confirm-approve").focus();
}

// Refusals of the PIN typed for an approval, shown at its field.
const PIN_ERRORS = new Set(["wrong_pin", "pin_back_off"]);

const RESULTS = {
  approved: "confirm.result_approved",
  denied: "confirm.result_denied",
  wrong_number: "confirm.result_wrong_number",
  expired: "confirm.result_expired",
  cancelled: "confirm.result_cancelled",
};

async function answer() {
  if (sending || !step || result) return;
  const decision = step === "approve" ? "approve" : "deny";
  const notMe = step === "not_me";
  const pin = pinAsked() ? $("confirm-pin").value : null;
  if (pin === "") {
    setFieldError("confirm-pin", t("confirm.pin_missing"));
    $("confirm-pin").focus();
    return;
  }
  setFieldError("confirm-pin", null);
  sending = true;
  $("confirm-final").disabled = true;
  renderStep();
  clearErrorIn("confirm-error");
  try {
    const typed = decision === "approve" ? typedNumber() : null;
    const { state } = await api.answerConfirmation(shown.request.id, decision, typed, pin);
    const key = state === "denied" && notMe ? "confirm.result_not_me" : RESULTS[state] ?? "confirm.result_denied";
    sending = false;
    finish({ key });
  } catch (e) {
    sending = false;
    if (e?.kind === "unknown_confirmation") {
      finish({ error: e });
      return;
    }
    // Not answered (offline, the bank busy, a wrong PIN): the customer may try again while
    // time is left.
    $("confirm-final").disabled = false;
    renderStep();
    if (PIN_ERRORS.has(e?.kind) || (e?.kind === "invalid_input" && e.field === "app_pin")) {
      $("confirm-pin").value = "";
      setFieldError("confirm-pin", errorText(e));
      $("confirm-pin").focus();
    } else {
      showErrorIn("confirm-error", e);
    }
  }
}

function finish(what) {
  result = what;
  step = null;
  render();
  $("confirm-done").focus();
}

function close() {
  const back = shown?.back ?? ["list"];
  forget();
  go(...back);
}

export function wire() {
  $("confirm-approve").addEventListener("click", () => choose("approve"));
  $("confirm-deny").addEventListener("click", () => choose("deny"));
  $("confirm-not-me").addEventListener("click", () => choose("not_me"));
  $("confirm-back").addEventListener("click", back);
  $("confirm-final").addEventListener("click", answer);
  $("confirm-done").addEventListener("click", close);
  $("confirm-number").addEventListener("input", () => setFieldError("confirm-number", null));
  $("confirm-pin").addEventListener("input", () => setFieldError("confirm-pin", null));
}
