// The bank's delivery acknowledgement of a token that arrived while the bank could not be told
// (offline, or the server down at that moment). Until the bank has it, the bank refuses the
// token's codes, so it is sent again while the app runs: soon after, then less and less often
// (5 s doubling up to 5 min), and at once when the device comes back online or the customer
// returns to the app.

import * as api from "./api.js";
import * as notice from "./notice.js";
import * as tokens from "./tokens.js";

const FIRST_DELAY_MS = 5_000;
const LONGEST_DELAY_MS = 300_000;

let delay = FIRST_DELAY_MS;
let timer = null;
let sending = false;

const owed = () => tokens.all().some((x) => x.pendingDelivery);

/** Sends what is owed now; then waits for the next try if some is still owed. */
export async function sendNow() {
  if (sending || !owed()) return;
  sending = true;
  clearTimeout(timer);
  timer = null;
  try {
    const notices = await api.resumePending();
    for (const n of notices) {
      if (n.kind === "superseded") notice.say("error.superseded", { name: n.name });
    }
    await tokens.refresh();
  } catch {
    // Still owed: the next try comes.
  } finally {
    sending = false;
  }
  if (owed()) {
    delay = Math.min(delay * 2, LONGEST_DELAY_MS);
    schedule();
  } else {
    delay = FIRST_DELAY_MS;
  }
}

function schedule() {
  if (timer === null && !sending && owed()) timer = setTimeout(sendNow, delay);
}

export function start() {
  window.addEventListener("online", sendNow);
  window.addEventListener("focus", sendNow);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) sendNow();
  });
  // A token stored pending (by an activation whose ack failed) starts the tries.
  tokens.watch(schedule);
}
