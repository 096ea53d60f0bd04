// A token moving to a new phone asks the bank how its move went at every contact: at start,
// when the device comes back online and when the customer returns to the app (the token
// screen's 5-second confirmation look asks too, in Rust). A token that moved is removed and the
// customer told so; a lapsed or cancelled move only clears the token's note.

import * as api from "./api.js";
import * as notice from "./notice.js";
import * as tokens from "./tokens.js";

const SAID = { moved: "move.moved", move_expired: "move.expired", move_cancelled: "move.cancelled" };

let asking = false;

const moving = () => tokens.all().some((x) => x.movingUntil != null);

/** Asks about every pending move now. */
export async function checkNow() {
  if (asking || !moving()) return;
  asking = true;
  try {
    const notices = await api.checkMoves();
    for (const n of notices) notice.say(SAID[n.kind], { name: n.name, last: n.userIdLast ?? "" });
    if (notices.length > 0) await tokens.refresh();
  } catch {
    // Offline or locked: the next contact asks again.
  } finally {
    asking = false;
  }
}

export function start() {
  window.addEventListener("online", checkNow);
  window.addEventListener("focus", checkNow);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) checkNow();
  });
}
