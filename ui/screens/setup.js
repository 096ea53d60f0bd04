// Step 8: initial setup. The token has arrived; the customer sees which bank, service ID and
// (masked) user ID it is for, and goes on to name it.

import { go, show } from "../navigation.js";
import { $ } from "../view.js";

// The token that just arrived, to be named next.
let arrived = null;

export function open(token) {
  arrived = token;
  $("setup-bank").textContent = token.issuer;
  $("setup-service-id").textContent = token.serviceId;
  $("setup-user-id").textContent = token.userIdMasked;
  show("setup");
}

export function forget() {
  arrived = null;
}

export function wire() {
  $("setup-next").addEventListener("click", () => go("name", "register", arrived));
}
