// The app lock as the screens know it: whether a PIN is set or required, and the cover over the
// page while the app is in the background. The rules live in the app, not here: while it is
// locked it computes no code and sends no token (a command then fails with `pin_needed`, which
// the error screen turns into the unlock screen), whatever this page does.

import * as api from "./api.js";
import { forgetAll } from "./navigation.js";
import * as tokens from "./tokens.js";
import { $ } from "./view.js";

// As `lock_status` last told it.
let status = { pinSet: false, locked: false, pinRequired: false, lockAfterSecs: 60, kiosk: false, biometricAvailable: false, biometricOn: false };

/** `{ pinSet, locked, pinRequired, triesLeftBeforeWait, waitSecs, lockAfterSecs, kiosk, biometricAvailable, biometricOn }` */
export const current = () => status;

/** Asks the app again; resolves to the new status. */
export async function refresh() {
  remember(await api.lockStatus());
  return status;
}

/** Keeps a status a command answered with. */
export function remember(next) {
  status = next;
}

/** Whether the first run must choose a PIN before any code is shown. */
export const needsFirstPin = () => status.pinRequired && !status.pinSet && !status.kiosk;

/** Drops every token name and code this page holds, as the app has dropped its keys. */
export function forgetTokens() {
  tokens.clear();
  forgetAll();
}

// The page's content is hidden while the window is, so the picture the app switcher keeps of
// it shows no token; the app decides by itself whether it locked meanwhile.
function cover() {
  const hide = document.hidden && !status.kiosk;
  $("cover").hidden = !hide;
  document.body.classList.toggle("covered", hide);
}

/** Watches the window: covered while hidden, and `onReturn()` when it comes back. */
export function start(onReturn) {
  document.addEventListener("visibilitychange", () => {
    cover();
    if (!document.hidden) onReturn();
  });
  window.addEventListener("pagehide", () => {
    $("cover").hidden = status.kiosk;
    document.body.classList.toggle("covered", !status.kiosk);
  });
  window.addEventListener("focus", onReturn);
}
