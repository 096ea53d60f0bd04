// A token's code as the list and the code screen both show it: the countdown, the next code in
// the last seconds, and copying it.

import * as api from "./api.js";
import { groupCode, secondsLeftAt, showsNextCode } from "./format.js";
import * as notice from "./notice.js";
import { setText, t } from "./view.js";

/** Paints the countdown of `tok` at `now` (ms) into its progress bar, seconds and next code. */
export function paintCountdown(tok, now, progress, seconds, next) {
  const left = secondsLeftAt(tok.expiresAt, now);
  if (progress.max !== tok.period) progress.max = tok.period;
  if (progress.value !== left) progress.value = left;
  const showNext = showsNextCode(left);
  progress.classList.toggle("low", showNext);
  setText(seconds, t("code.seconds_left", { n: left }));
  next.hidden = !showNext;
  if (showNext) setText(next, `${t("code.next")}: ${groupCode(tok.nextCode)}`);
}

/** Copies the current code of token `id`, and says so (or why not). */
export async function copyCode(id) {
  try {
    const r = await api.copyCode(id);
    notice.say("code.copied", { n: r.clearAfterSecs });
  } catch (e) {
    notice.sayError(e);
  }
}
