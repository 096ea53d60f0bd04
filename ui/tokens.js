// The customer's tokens as the app last listed them, with their current codes. The list and the
// code screen both show them, so they live here and each screen watches for a new listing.

import * as api from "./api.js";
import { secondsLeftAt } from "./format.js";

let tokens = [];
const watchers = [];

/** The tokens in the customer's order. */
export const all = () => tokens;

export const find = (id) => tokens.find((x) => x.id === id);

/** Calls `fn(previous)` after each new listing, in the order the watchers came. */
export function watch(fn) {
  watchers.push(fn);
}

/** Lists the tokens again, with fresh codes. */
export async function refresh() {
  const previous = tokens;
  tokens = await api.listTokens();
  for (const fn of watchers) fn(previous);
}

/** Forgets the tokens and their codes (the app was locked). */
export function clear() {
  const previous = tokens;
  tokens = [];
  for (const fn of watchers) fn(previous);
}

/** Whether a code on screen has expired at `now` (ms), so the codes must be fetched again. */
export const anyExpired = (now) => tokens.some((x) => secondsLeftAt(x.expiresAt, now) <= 0);
