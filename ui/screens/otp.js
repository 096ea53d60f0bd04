// Step 10: one token's one-time password, large, with its countdown; a new code is announced to
// screen readers when it replaces the old one.

import { copyCode, paintCountdown } from "../code.js";
import { groupCode, spokenDigits } from "../format.js";
import { go, show, current } from "../navigation.js";
import * as notice from "../notice.js";
import * as tokens from "../tokens.js";
import { $, setText, t } from "../view.js";

// The token shown.
let tokenId = null;
// The code last on screen, so a new one is announced once.
let lastShown = null;

export function open(id) {
  tokenId = id;
  lastShown = null;
  $("otp-live").textContent = "";
  render(false);
  show("otp");
}

export const tick = () => render(false);

export const relang = tick;

export function forget() {
  tokenId = null;
  // Nothing of the token stays in the page (the kiosk's next visitor, a locked app).
  for (const id of ["otp-name", "otp-code", "otp-code-sr", "otp-next", "otp-live"]) setText($(id), "");
}

function render(announce) {
  const tok = tokens.find(tokenId);
  if (!tok) return;
  setText($("otp-name"), tok.name);
  setText($("otp-code"), groupCode(tok.code));
  setText($("otp-code-sr"), t("code.digits_label", { digits: spokenDigits(tok.code) }));
  if (announce && current() === "otp" && lastShown !== null && lastShown !== tok.code) {
    $("otp-live").textContent = t("code.new_code_announce", { digits: spokenDigits(tok.code) });
  }
  lastShown = tok.code;
  // Until the bank knows the token arrived it refuses its codes: asking the customer to type
  // one would only get it refused.
  $("otp-instruction").hidden = tok.pendingDelivery;
  $("otp-pending").hidden = !tok.pendingDelivery;
  paintCountdown(tok, Date.now(), $("otp-progress"), $("otp-seconds"), $("otp-next"));
}

export function wire() {
  tokens.watch(() => render(true));
  $("otp-copy").addEventListener("click", () => copyCode(tokenId));
  $("otp-offline").addEventListener("click", () => go("offline", tokenId));
  $("otp-move").addEventListener("click", () => go("move", tokenId));
  $("otp-back").addEventListener("click", () => {
    notice.clear();
    go("list");
  });
}
