// Looking for the bank's confirmation requests (docs/confirmation.md §10): when the app comes
// to the foreground, and every few seconds while a token screen (the list or a code) is on view
// and the window is visible. The first verified request of a token opens the confirmation
// screen; a request refused because it was changed on the way is only told. A push service
// would call `lookNow()` when its message arrives; nothing else changes.
//
// Failures while looking are quiet (the customer did not ask for anything), except those the
// customer must act on: a clock too far off, and the bank no longer accepting a token it
// accepted before (its use ended, or it was replaced). A phone clock a minute or more off the
// bank's (by the bank's authenticated time, which the codes then follow) is told once per
// token and size of the gap. A token just set up is not accepted
// until its first code is used at the bank (docs/confirmation.md §9): that is no news.

import * as api from "./api.js";
import { current, go } from "./navigation.js";
import * as notice from "./notice.js";
import { clockGapMinutes } from "./format.js";
import * as tokens from "./tokens.js";

export const LOOK_EVERY_MS = 5_000;

// Screens a request may interrupt: the customer is only looking at codes there.
const TOKEN_SCREENS = new Set(["list", "otp"]);

let looking = false;
// Per token id: the last refused count told, the last error kind, whether the bank has
// accepted the token's fetch in this run, and the clock gap last told (minutes); so each thing
// is said once.
const told = new Map();

const mayInterrupt = () => !document.hidden && TOKEN_SCREENS.has(current());

/** Asks the bank now for every delivered token, and shows the first request found. */
export async function lookNow() {
  if (looking || !mayInterrupt()) return;
  looking = true;
  try {
    for (const tok of tokens.all()) {
      if (tok.pendingDelivery) continue;
      const found = await lookFor(tok);
      if (found && mayInterrupt()) {
        const back = current() === "otp" ? ["otp", tok.id] : ["list"];
        go("confirm", tok, found, back);
        return;
      }
    }
  } finally {
    looking = false;
  }
}

async function lookFor(tok) {
  const before = told.get(tok.id) ?? { refused: 0, kind: null, accepted: false, clockOff: null };
  let pending;
  try {
    pending = await api.listConfirmations(tok.id);
  } catch (e) {
    // The token moved to the new phone and was removed: the list, without it, says so.
    if (e?.kind === "registration_moved") {
      notice.sayError(e);
      await tokens.refresh();
      if (current() === "otp") go("list");
      return null;
    }
    if (e?.kind !== before.kind) tellError(e, before.accepted);
    told.set(tok.id, { ...before, kind: e?.kind ?? null });
    return null;
  }
  if (pending.refused > 0 && pending.refused !== before.refused) {
    notice.say("confirm.tampered", { n: pending.refused });
  }
  const clockOff = clockGapMinutes(pending.clockOffSecs);
  if (clockOff !== null && clockOff !== before.clockOff) {
    // The offset is the bank's clock minus the phone's: below zero, the phone is ahead.
    const key = clockOff < 0 ? "confirm.clock_ahead" : "confirm.clock_behind";
    notice.say(key, { minutes: Math.abs(clockOff) });
  }
  told.set(tok.id, { refused: pending.refused, kind: null, accepted: true, clockOff });
  return pending.requests[0] ?? null;
}

function tellError(e, acceptedBefore) {
  if (e?.kind === "confirmation_not_accepted" && acceptedBefore) notice.sayError(e);
  if (e?.kind === "device_clock_wrong") notice.say("confirm.clock_wrong");
}

export function start() {
  setInterval(lookNow, LOOK_EVERY_MS);
  window.addEventListener("focus", lookNow);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) lookNow();
  });
}
