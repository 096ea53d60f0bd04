// The move to a new phone (機種変更) on the old phone: what will happen and the new activation
// password, typed twice (and the app's PIN when one is set); then the IDs for the new phone,
// large, with the expiry, while the move waits; the outcome (moved, cancelled, lapsed); the
// bank's refusal of the fast path with the manual path explained; offline said honestly.

import * as api from "../api.js";
import { clearErrorIn, showErrorIn } from "../errors.js";
import { go, show } from "../navigation.js";
import * as notice from "../notice.js";
import * as tokens from "../tokens.js";
import { $, currentLang, setText, t } from "../view.js";

let tokenId = null;
let busy = false;
// The bank's last answer while the IDs are on screen.
let shownMove = null;

const PANELS = ["move-start", "move-ids", "move-off"];

function panel(name) {
  for (const p of PANELS) $(p).hidden = p !== name;
}

export const isSending = () => busy;

export async function open(id) {
  forget();
  tokenId = id;
  const tok = tokens.find(id);
  setText($("move-name"), tok?.name ?? "");
  const lock = await api.lockStatus().catch(() => null);
  $("move-pin-field").hidden = !lock?.pinSet;
  panel("move-start");
  show("move", "move-password");
  // A token already moving shows its IDs at once (the bank is asked, as at any contact).
  if (tok?.movingUntil != null) await ask(() => api.moveStatus(id));
}

export function forget() {
  tokenId = null;
  shownMove = null;
  $("move-form").reset();
  clearErrorIn("move-error");
  for (const id of ["move-new-user", "move-service", "move-expires", "move-status"]) setText($(id), "");
}

export function relang() {
  if (shownMove) paintIds(shownMove);
}

function when(unixSecs) {
  return new Date(unixSecs * 1000).toLocaleString(currentLang() === "ja" ? "ja-JP" : "en-GB", {
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
}

function paintIds(m) {
  setText($("move-service"), m.serviceId);
  setText($("move-new-user"), m.newUserId.replace(/(\d{4})(?=\d)/g, "$1 "));
  setText($("move-expires"), t("move.expires", { date: when(m.expiresAt) }));
}

// Shows what the bank said about the move.
async function follow(m) {
  shownMove = null;
  switch (m.state) {
    case "pending":
      shownMove = m;
      paintIds(m);
      panel("move-ids");
      show("move", "move-ids-heading");
      break;
    case "moved":
      notice.say("move.moved", { name: m.name, last: m.newUserIdLast ?? "" });
      await tokens.refresh();
      go("list");
      break;
    default:
      notice.say(m.state === "expired" ? "move.expired" : "move.cancelled", { name: m.name });
      await tokens.refresh();
      go("list");
  }
}

async function ask(call, errorAt = "move-error") {
  if (busy) return;
  busy = true;
  clearErrorIn("move-error");
  clearErrorIn("move-status");
  try {
    await follow(await call());
  } catch (e) {
    if (e?.kind === "moves_not_offered") {
      panel("move-off");
      show("move", "move-off-heading");
    } else if (e?.kind === "registration_moved") {
      notice.sayError(e);
      await tokens.refresh();
      go("list");
    } else if (e?.kind === "server_unreachable") {
      // Said in the move's own words: nothing changed, and the move needs the bank.
      $(errorAt).hidden = false;
      $(errorAt).textContent = t("move.offline");
    } else {
      showErrorIn(errorAt, e);
    }
  } finally {
    busy = false;
  }
}

async function onSubmit(ev) {
  ev.preventDefault();
  const id = tokenId;
  const pin = $("move-pin-field").hidden ? null : $("move-pin").value;
  await ask(() => api.startMove(id, $("move-password").value, $("move-password-again").value, pin));
  $("move-pin").value = "";
}

export function wire() {
  $("move-form").addEventListener("submit", onSubmit);
  $("move-back").addEventListener("click", () => go("otp", tokenId));
  $("move-off-back").addEventListener("click", () => go("list"));
  $("move-to-list").addEventListener("click", () => go("list"));
  $("move-check").addEventListener("click", async () => {
    await ask(() => api.moveStatus(tokenId), "move-status");
    if (shownMove && $("move-status").hidden) {
      $("move-status").hidden = false;
      $("move-status").textContent = t("move.still_pending");
    }
  });
  $("move-cancel").addEventListener("click", () => ask(() => api.cancelMove(tokenId), "move-status"));
}
