// Which screen is shown. Screens are registered here by name so that they can open one another
// without importing one another. A screen is a module with `open(...)`, and optionally `tick()`
// (it shows codes: called once a second), `relang()` (write its texts again) and `forget()`
// (drop what the last kiosk visitor typed or saw), and `isSending()` (true while a request is in
// flight: the back button then leaves the screen where it is).

import { screenHistory } from "./history.js";
import * as ticker from "./ticker.js";
import * as tokens from "./tokens.js";
import { $ } from "./view.js";

const screens = {};
let shown = null;
const steps = screenHistory(window.history);

window.addEventListener("popstate", () => {
  if (steps.popped(screens[shown]?.isSending?.() ?? false) === "list") go("list");
});

/** Registers screens by name; the name is also their element's `screen-<name>` id. */
export function register(named) {
  Object.assign(screens, named);
}

/** Opens the screen `name` with what it needs. */
export const go = (name, ...args) => screens[name].open(...args);

/** The name of the screen on view. */
export const current = () => shown;

/** Shows screen `name` and focuses `focusId`, or its heading. */
export function show(name, focusId) {
  steps.entered(name, shown);
  shown = name;
  for (const s of Object.keys(screens)) $(`screen-${s}`).hidden = s !== name;
  const target = focusId ? $(focusId) : $(`${name}-heading`);
  target?.focus();
  const tick = screens[name].tick;
  if (tick) {
    // A hidden screen is not ticked, so the one coming back is brought up to date at once.
    tick();
    ticker.follow(tick, (e) => go("error", e, tokens.refresh));
  } else {
    ticker.stop();
  }
}

export function relangAll() {
  for (const s of Object.values(screens)) s.relang?.();
}

export function forgetAll() {
  for (const s of Object.values(screens)) s.forget?.();
}
