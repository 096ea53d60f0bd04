// Errors on screen. An error inside a form is kept by its element's id, so a language switch can
// write it again. The error screen is for a failure that leaves nothing else to show (the
// tokens cannot be listed, the kiosk cannot wipe): it offers a real retry of exactly the work
// that failed, and a way back to where the customer was.

import * as api from "./api.js";
import { current, go, show } from "./navigation.js";
import * as notice from "./notice.js";
import { $, errorText, t } from "./view.js";

/** Errors whose only way out is to put the saved tokens aside and start again. */
export const DAMAGED = new Set(["vault_corrupted", "vault_key_missing", "vault_rolled_back"]);

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
  // The app locked meanwhile (in the background too long, or another window's lock): that is
  // no failure, and the unlock screen is the way on.
  if (e?.kind === "pin_needed") {
    go("lock");
    return;
  }
  if (!back) returnTo = null;
  else if (current() !== "error") returnTo = current();
  failedWork = work ?? null;
  showErrorIn("fatal-error", e);
  showWayOut(e);
  $("error-back").hidden = returnTo === null;
  show("error");
}

// The heading says what kind of trouble this is: a vault that cannot be opened and a second
// window are not "something went wrong, try again" (the first has no Try again at all).
function headingKey(e) {
  if (e?.kind === "vault_rolled_back") return "error.heading_rolled_back";
  if (DAMAGED.has(e?.kind)) return "error.heading_damaged";
  if (e?.kind === "already_running") return "error.heading_already_running";
  return "error.generic";
}

// A damaged vault gets the steps and "Start again" (trying again cannot mend it); anything
// else gets "Try again" when there is work to repeat.
function showWayOut(e) {
  const heading = $("error-heading");
  // Kept in data-i18n, so a language switch writes the same heading again.
  heading.dataset.i18n = headingKey(e);
  heading.textContent = t(heading.dataset.i18n);
  const damaged = DAMAGED.has(e?.kind);
  $("error-damaged").hidden = !damaged;
  $("error-rolled-back").hidden = e?.kind !== "vault_rolled_back";
  $("error-new-vault").hidden = !damaged;
  $("error-retry").hidden = damaged || failedWork === null;
}

export function relang() {
  $("error-retry").textContent = t(retrying ? "error.retrying" : "error.retry");
  $("error-new-vault").textContent = t(retrying ? "damaged.starting" : "damaged.start_new");
}

function setRetrying(busy) {
  retrying = busy;
  for (const id of ["error-retry", "error-new-vault"]) {
    const b = $(id);
    b.disabled = busy;
    b.setAttribute("aria-busy", String(busy));
  }
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
    showWayOut(e);
  } finally {
    setRetrying(false);
  }
  if (current() === "error") {
    const damaged = DAMAGED.has(shown.get("fatal-error")?.kind);
    $(damaged ? "error-new-vault" : "error-retry").focus();
  }
}

// The damaged tokens are kept aside by the app, then the work that failed (opening the
// tokens) runs again on the empty store, and the customer is told where the old data is.
async function startNew() {
  if (retrying) return;
  setRetrying(true);
  let kept = null;
  try {
    kept = await api.startNewVault();
  } catch (e) {
    showErrorIn("fatal-error", e);
    showWayOut(e);
    setRetrying(false);
    return;
  }
  setRetrying(false);
  await retry();
  if (kept && current() !== "error") notice.say("damaged.done", { file: kept.fileName });
}

function goBack() {
  show(returnTo ?? "list");
}

// A keychain unlocked or a disk freed elsewhere is followed by the customer coming back to the
// app: try again then by itself, so they need not find the button.
function retryOnReturn() {
  if (current() === "error" && !document.hidden && !$("error-retry").hidden) retry();
}

export function wire() {
  window.addEventListener("focus", retryOnReturn);
  document.addEventListener("visibilitychange", retryOnReturn);
  $("error-retry").addEventListener("click", retry);
  $("error-new-vault").addEventListener("click", startNew);
  $("error-back").addEventListener("click", goBack);
}
