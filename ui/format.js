// How codes and times are written on screen and read by screen readers.

/** Digits grouped for reading and typing: "123 456", "1234 5678". */
export function groupCode(code) {
  const s = String(code);
  const half = Math.floor(s.length / 2);
  return `${s.slice(0, half)} ${s.slice(half)}`;
}

/**
 * The code as a screen reader should say it: one digit at a time, a pause between the groups
 * ("1 2 3, 4 5 6"), never "one hundred twenty-three thousand".
 */
export function spokenDigits(code) {
  const s = String(code);
  const half = Math.floor(s.length / 2);
  const say = (part) => [...part].join(" ");
  return `${say(s.slice(0, half))}, ${say(s.slice(half))}`;
}

/** Seconds of the last part of a step during which the next code is shown too. */
export const NEXT_CODE_SECS = 10;

/** Whether the next code is worth showing with this many seconds left. */
export function showsNextCode(secondsLeft) {
  return secondsLeft <= NEXT_CODE_SECS;
}

/**
 * Seconds left at `nowMs`, given that the code expires at the whole device second
 * `expiresAtSec`. The server's clock offset is whole seconds, so step boundaries fall on the
 * device's whole seconds and one timer per second stays aligned with the bank.
 */
export function secondsLeftAt(expiresAtSec, nowMs) {
  return Math.max(0, expiresAtSec - Math.floor(nowMs / 1000));
}

/** Milliseconds until just after the next whole second, where the next tick belongs. */
export function msToNextSecond(nowMs) {
  return 1000 - (nowMs % 1000) + 20;
}

/** A user ID with all but the last four digits hidden, as core masks it. */
export function maskUserId(digits) {
  const s = String(digits);
  const keep = Math.min(4, s.length);
  return "*".repeat(s.length - keep) + s.slice(s.length - keep);
}

/**
 * The gap between the phone's clock and the bank's in whole minutes, signed as the offset
 * (bank minus phone; at least 1 either way), or null when the app reports none.
 */
export function clockGapMinutes(offsetSecs) {
  if (offsetSecs === null || offsetSecs === undefined) return null;
  const minutes = Math.max(1, Math.round(Math.abs(offsetSecs) / 60));
  return offsetSecs < 0 ? -minutes : minutes;
}
