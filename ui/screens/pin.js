// Choosing, changing or removing the app's PIN. A new PIN is typed twice (the two must match,
// checked here, as it is a matter of typing); the app refuses one that is not 6 digits or is
// easy to guess, with the reason in words. On a first run of a build that requires a PIN
// ("required"), there is no way round it: no Cancel, and no code until it is chosen.

import * as api from "../api.js";
import { clearErrorIn, showErrorIn } from "../errors.js";
import * as lock from "../lock.js";
import { go, show } from "../navigation.js";
import * as notice from "../notice.js";
import * as tokens from "../tokens.js";
import { checkAppPin } from "../validate.js";
import { $, currentLang, errorText, invalidText, setFieldError, setText, t } from "../view.js";

// What each purpose shows: heading, intro, submit label, fields, and the notice when done.
const PURPOSES = {
  set: { heading: "pin.set_heading", intro: "pin.set_intro", submit: "pin.set_submit", done: "pin.set_done" },
  required: { heading: "pin.set_heading", intro: "pin.required_intro", submit: "pin.set_submit", done: "pin.set_done" },
  change: { heading: "pin.change_heading", intro: "pin.change_intro", submit: "pin.change_submit", done: "pin.changed_done" },
  remove: { heading: "pin.remove_heading", intro: "pin.remove_intro", submit: "pin.remove_submit", done: "pin.removed_done" },
  // Turning biometric unlock on takes the current PIN, then the phone's own prompt.
  biometric: { heading: "pin.biometric_heading", intro: "pin.biometric_intro", submit: "pin.biometric_submit", done: "security.biometric_done" },
};

const FIELDS = ["pin-old", "pin-new", "pin-repeat"];

let purpose = "set";
let sending = false;
// Field errors on screen `{ input: {kind, ...} | key }`, for a language switch.
let errors = {};

/** Opens the form for `which`: "set", "required", "change", "remove" or "biometric". */
export function open(which) {
  purpose = which;
  forget();
  paint();
  show("pin", needsOld() ? "pin-old" : "pin-new");
}

const needsOld = () => purpose === "change" || purpose === "remove" || purpose === "biometric";
// Only the current PIN is typed: no new one.
const oldOnly = () => purpose === "remove" || purpose === "biometric";

export const isSending = () => sending;

export function forget() {
  $("pin-form").reset();
  errors = {};
  for (const f of FIELDS) setFieldError(f, null);
  clearErrorIn("pin-error");
}

export const relang = paint;

function paint() {
  const p = PURPOSES[purpose];
  setText($("pin-heading"), t(p.heading));
  setText($("pin-intro"), t(p.intro));
  setText($("pin-new-label"), t(purpose === "change" ? "pin.new_changed" : "pin.new"));
  setText($("pin-submit"), t(sending ? "pin.sending" : p.submit));
  $("pin-submit").className = purpose === "remove" ? "danger" : "primary";
  $("pin-submit").disabled = sending;
  $("pin-old-field").hidden = !needsOld();
  $("pin-new-field").hidden = oldOnly();
  $("pin-repeat-field").hidden = oldOnly();
  $("pin-cancel").hidden = purpose === "required";
  for (const [input, e] of Object.entries(errors)) setFieldError(input, describe(e));
}

// An error kept for a field: a key of this screen, a refusal typed here, or the app's error.
function describe(e) {
  if (typeof e === "string") return t(e);
  if (e.typed) return invalidText(e.typed, "app_pin");
  return errorText(e);
}

// The fields to check before sending, in the order they are shown: each must be six digits
// (core's rule, through rules.js); the app checks them again, and the weakness too.
function typedWrong() {
  const shown = FIELDS.filter((f) => !$(`${f}-field`).hidden);
  for (const f of shown) {
    const r = checkAppPin($(f).value);
    if (!r.ok) return [f, r];
  }
  return null;
}

// Which field a refusal belongs to: the current PIN's tries, or the new PIN's format.
function fieldOf(e) {
  if (e?.kind === "wrong_pin" || e?.kind === "pin_back_off") return "pin-old";
  const format = e?.kind === "invalid_input" && e.field === "app_pin";
  if (e?.kind === "weak_pin" || format) return oldOnly() ? "pin-old" : "pin-new";
  return null;
}

async function submit() {
  if (sending) return;
  errors = {};
  for (const f of FIELDS) setFieldError(f, null);
  clearErrorIn("pin-error");
  const old = $("pin-old").value;
  const pin = $("pin-new").value;
  const wrong = typedWrong();
  if (wrong) {
    const [input, typed] = wrong;
    errors[input] = { typed };
    paint();
    $(input).focus();
    return;
  }
  if (!oldOnly() && checkAppPin(pin).value !== checkAppPin($("pin-repeat").value).value) {
    errors["pin-repeat"] = "pin.not_same";
    $("pin-repeat").value = "";
    paint();
    $("pin-repeat").focus();
    return;
  }
  sending = true;
  paint();
  try {
    if (purpose === "set" || purpose === "required") lock.remember(await api.setAppPin(pin));
    else if (purpose === "change") lock.remember(await api.changeAppPin(old, pin));
    else if (purpose === "biometric") lock.remember(await api.turnOnBiometric(old, currentLang()));
    else lock.remember(await api.removeAppPin(old));
    sending = false;
    const done = PURPOSES[purpose].done;
    forget();
    if (purpose === "required") {
      await tokens.refresh();
      go("list");
      document.body.dataset.ready = "true";
    } else {
      go("security");
    }
    notice.say(done);
  } catch (e) {
    sending = false;
    const input = fieldOf(e);
    if (input) {
      errors[input] = e;
      $(input).value = "";
      if (input === "pin-new") $("pin-repeat").value = "";
      $(input).focus();
    } else {
      showErrorIn("pin-error", e);
    }
    paint();
  }
}

export function wire() {
  $("pin-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    submit();
  });
  for (const f of FIELDS) {
    $(f).addEventListener("input", () => {
      delete errors[f];
      setFieldError(f, null);
    });
  }
  $("pin-cancel").addEventListener("click", () => {
    if (!sending) go("security");
  });
}
