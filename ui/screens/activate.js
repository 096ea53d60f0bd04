// Step 7: the customer types the service ID, user ID and activation password from the bank's
// mail and the bank web; the app fetches the token. Each field is checked as soon as the
// customer leaves it, and again while they correct it.

import * as api from "../api.js";
import { clearErrorIn, showErrorIn } from "../errors.js";
import { go, show } from "../navigation.js";
import * as notice from "../notice.js";
import * as tokens from "../tokens.js";
import { checkPassword, checkServiceId, checkUserId } from "../validate.js";
import { $, errorText, invalidText, setFieldError, t } from "../view.js";

const FIELDS = [
  { input: "service-id", field: "service_id", check: checkServiceId },
  { input: "user-id", field: "user_id", check: checkUserId },
  { input: "password", field: "activation_password", check: checkPassword },
];

// True while the token is being fetched: one try per press, however impatient.
let busy = false;

/** True while the token is being fetched: the back button then keeps this screen. */
export const isSending = () => busy;

export function open() {
  $("activate-form").reset();
  for (const f of FIELDS) setFieldError(f.input, null);
  setPasswordVisible(false);
  clearErrorIn("activate-error");
  notice.clear();
  show("activate", "service-id");
}

export function relang() {
  setPasswordVisible($("password").type === "text");
  // Field problems are worded from the typed value: check them again in the new language.
  for (const f of FIELDS) {
    if ($(f.input).getAttribute("aria-invalid") === "true") validateField(f);
  }
}

export function forget() {
  $("activate-form").reset();
}

function validateField(f) {
  const r = f.check($(f.input).value);
  setFieldError(f.input, r.ok ? null : invalidText(r, f.field));
  return r.ok;
}

function setPasswordVisible(visible) {
  $("password").type = visible ? "text" : "password";
  const b = $("toggle-password");
  b.textContent = t(visible ? "activate.hide_password" : "activate.show_password");
  b.setAttribute("aria-label", t(visible ? "activate.hide_password_label" : "activate.show_password_label"));
  b.setAttribute("aria-pressed", String(visible));
}

function setBusy(now) {
  busy = now;
  const b = $("activate-submit");
  b.disabled = now;
  b.setAttribute("aria-busy", String(now));
  b.querySelector(".spinner").hidden = !now;
  $("activate-submit-label").textContent = t(now ? "activate.sending" : "activate.submit");
  $("activate-form").setAttribute("aria-busy", String(now));
}

async function submit(ev) {
  ev.preventDefault();
  if (busy) return;
  clearErrorIn("activate-error");
  const results = FIELDS.map(validateField);
  const firstBad = results.indexOf(false);
  if (firstBad >= 0) {
    $(FIELDS[firstBad].input).focus();
    return;
  }
  setBusy(true);
  try {
    const token = await api.activate($("service-id").value, $("user-id").value, $("password").value);
    $("password").value = "";
    await tokens.refresh().catch(() => {});
    go("setup", token);
  } catch (e) {
    onError(e);
  } finally {
    setBusy(false);
  }
}

function onError(e) {
  if (e?.kind === "invalid_input") {
    const f = FIELDS.find((x) => x.field === e.field);
    if (f) {
      setFieldError(f.input, errorText(e));
      $(f.input).focus();
      return;
    }
  }
  showErrorIn("activate-error", e);
  $("activate-error").dataset.kind = e?.kind ?? "unknown";
  if (e?.kind === "wrong_activation_password") {
    $("password").value = "";
    $("password").focus();
  }
}

export function wire() {
  $("activate-form").addEventListener("submit", submit);
  $("activate-cancel").addEventListener("click", () => go("list"));
  $("toggle-password").addEventListener("click", () => setPasswordVisible($("password").type === "password"));
  for (const f of FIELDS) {
    const input = $(f.input);
    input.addEventListener("blur", () => {
      if (input.value !== "" && !busy) validateField(f);
    });
    input.addEventListener("input", () => {
      if (input.getAttribute("aria-invalid") === "true") validateField(f);
    });
  }
}
