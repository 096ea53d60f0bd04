// Errors on screen. An error inside a form is kept by its element's id, so a language switch can
// write it again. The error screen is for a failure that leaves nothing else to show (the
// tokens cannot be listed, the kiosk cannot wipe): it offers a real retry of exactly the work
// that failed, and a way back to where the customer was.

import { current, go, show } from "./navigation.js";
import { $, errorText, t } from "./view.js";

// Errors on screen, by element id.
const shown = new Map();

export function showErrorIn(id, e) {
  shown.set(id, e);
  const el = $(id);
  el.textContent = errorText(e);
  el.hidden = false;
}

export function clearErrorIn(id) {
  shown.delete(id);
  $(id).hidden = true;
}

export function relangErrors() {
  for (const [id, e] of shown) $(id).textContent = errorText(e);
}

/**
 * Runs `work` (an async function that ends on the screen it leads to); if it fails, the error
 * screen shows why and can run it again. `back: false` offers no way back (a kiosk whose wipe
 * failed must not go back to the last visitor's token).
 */
export async function attempt(work, options) {
  try {
    await work();
  } catch (e) {
    go("error", e, work, options);
  }
}

// ---------------------------------------------------------------- the error screen

// What failed, to run again; null when only going back can help.
let failedWork = null;
// The screen the customer was on when it failed; null at start-up.
let returnTo = null;
let retrying = false;

/** Shows error `e` full screen; `work` is what failed and is run again by "Try again". */
export function open(e, work, { back = true } = {}) {
  if (!back) returnTo = null;
  else if (current() !== "error") returnTo = current();
  failedWork = work ?? null;
  showErrorIn("fatal-error", e);
  $("error-retry").hidden = failedWork === null;
  $("error-back").hidden = returnTo === null;
  show("error");
}

export function relang() {
  $("error-retry").textContent = t(retrying ? "error.retrying" : "error.retry");
}

function setRetrying(busy) {
  retrying = busy;
  const b = $("error-retry");
  b.disabled = busy;
  b.setAttribute("aria-busy", String(busy));
  relang();
}

async function retry() {
  if (retrying || failedWork === null) return;
  setRetrying(true);
  // Emptied first, so the same error again is announced again.
  $("fatal-error").textContent = "";
  try {
    await failedWork();
    // Work that did not move on by itself (fetching the codes again) returns to the screen
    // it failed on.
    if (current() === "error") goBack();
  } catch (e) {
    showErrorIn("fatal-error", e);
  } finally {
    setRetrying(false);
  }
  if (current() === "error") $("error-retry").focus();
}

function goBack() {
  show(returnTo ?? "list");
}

export function wire() {
  $("error-retry").addEventListener("click", retry);
  $("error-back").addEventListener("click", goBack);
}
