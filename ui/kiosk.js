// Kiosk mode, for demo devices in branches: after some minutes without a touch or a key, the
// demo tokens are wiped and the welcome screen comes back for the next visitor.

import * as api from "./api.js";
import { attempt } from "./errors.js";
import { forgetAll, go } from "./navigation.js";
import * as notice from "./notice.js";
import * as tokens from "./tokens.js";

const ACTIVITY = ["keydown", "pointerdown", "wheel", "touchstart"];

let idleMs = null;
let idleTimer = null;

/** Wipes after `idleSecs` without activity, from now on. */
export function start(idleSecs) {
  if (idleMs === null) {
    for (const ev of ACTIVITY) document.addEventListener(ev, arm, { passive: true, capture: true });
  }
  idleMs = idleSecs * 1000;
  arm();
}

function arm() {
  clearTimeout(idleTimer);
  idleTimer = setTimeout(onIdle, idleMs);
}

function onIdle() {
  idleTimer = null;
  // No way back from a failed wipe: it would show the last visitor's token.
  attempt(wipe, { back: false });
}

async function wipe() {
  await api.kioskReset();
  forgetAll();
  await tokens.refresh();
  go("list");
  notice.say("kiosk.reset");
}
