// The status line above the screens: what just happened ("Copied", "Deleted"), or the error of
// an action that has no form of its own. Kept as a key or an error so a language switch can
// write it again.

import { $, errorText, t } from "./view.js";

// `{ key, params }`, `{ error }`, or null when nothing is said.
let said = null;

export function say(key, params) {
  said = { key, params };
  paint();
}

export function sayError(error) {
  said = { error };
  paint();
}

export function clear() {
  said = null;
  paint();
}

export const relang = paint;

function paint() {
  const n = $("notice");
  n.hidden = said === null;
  if (said === null) n.textContent = "";
  else n.textContent = said.error ? errorText(said.error) : t(said.key, said.params);
}
