// Step 7: the customer types the service ID, user ID and activation password from the bank's
// mail and the bank web; the app fetches the token. Each field is checked as soon as the
// customer leaves it, and again while they correct it.

import * as api from "../api.js";
import { DAMAGED, clearErrorIn, showErrorIn } from "../errors.js";
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
  // The label is one of two texts: the page-wide rewrite knows only the first.
  $("activate-submit-label").textContent = t(busy ? "activate.sending" : "activate.submit");
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
  if (!now) $("activate-wait-note").hidden = true;
}

// Back while sending would drop the bank's answer (and a try it may have counted, or a token
// it issued): the screen stays until the answer is shown, and says so.
function back() {
  if (busy) {
    $("activate-wait-note").hidden = false;
    return;
  }
  go("list");
}

async function submit(ev) {
  ev.preventDefault();
  if (busy) return;
  const results = FIELDS.map(validateField);
  const firstBad = results.indexOf(false);
  if (firstBad >= 0) {
    // The bank's last answer (how many tries are left) stays beside the field's problem: the
    // second click of a double click lands here after that answer emptied the password.
    $(FIELDS[firstBad].input).focus();
    return;
  }
  clearErrorIn("activate-error");
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
  if (DAMAGED.has(e?.kind)) {
    // Found damaged as the token was to be stored: the way out is on the error screen.
    go("error", e, async () => {
      await tokens.refresh();
      go("list");
    });
    return;
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
  $("activate-cancel").addEventListener("click", back);
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
