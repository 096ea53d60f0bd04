// The one timer of the screens. While a screen with codes is shown it fires just after each
// whole second, and only then; while the window is hidden it does not fire at all. Codes are
// fetched again when one expires. Nothing runs per frame.

import { msToNextSecond } from "./format.js";
import * as tokens from "./tokens.js";

let timer = null;
// The shown screen's once-a-second update, or null when the shown screen has no codes.
let update = null;
// What to do when the codes cannot be fetched.
let failed = null;

/** Ticks `paint` each second from now on; `onFailure(error)` if fetching the codes fails. */
export function follow(paint, onFailure) {
  update = paint;
  failed = onFailure;
  schedule();
}

/** No ticks until the next `follow`. */
export function stop() {
  update = null;
  pause();
}

function schedule() {
  if (timer === null && update !== null && !document.hidden) {
    timer = setTimeout(tick, msToNextSecond(Date.now()));
  }
}

function pause() {
  clearTimeout(timer);
  timer = null;
}

async function tick() {
  timer = null;
  if (update === null) return;
  try {
    if (tokens.anyExpired(Date.now())) await tokens.refresh();
    else update();
  } catch (e) {
    failed(e);
    return;
  }
  schedule();
}

document.addEventListener("visibilitychange", () => {
  if (document.hidden) {
    pause();
  } else if (update !== null) {
    // The codes may have changed while nobody could see them.
    tokens.refresh().catch(failed);
    schedule();
  }
});
