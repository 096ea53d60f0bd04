// The token list, which is the welcome screen while it is empty: each token's code with its
// countdown, and copy, rename, move up or down and delete (after asking); and the way to the
// app lock's settings.

import * as api from "../api.js";
import { copyCode, paintCountdown } from "../code.js";
import { attempt } from "../errors.js";
import { groupCode, spokenDigits } from "../format.js";
import { go, show } from "../navigation.js";
import * as notice from "../notice.js";
import * as tokens from "../tokens.js";
import { $, setText, t } from "../view.js";

// The token the delete dialog asks about.
let deleteId = null;

export function open() {
  show("list");
}

export const tick = updateCodes;

export const relang = render;

export function forget() {
  if ($("delete-dialog").open) $("delete-dialog").close("cancel");
}

// What the list's rows depend on; the codes alone change without rebuilding them.
function structureKey(list) {
  return list.map((x) => `${x.id}|${x.name}|${x.pendingDelivery}|${x.movingUntil}`).join("\n");
}

const ACTION_LABELS = {
  copy: "list.copy",
  rename: "list.rename",
  up: "list.move_up",
  down: "list.move_down",
  delete: "list.delete",
};

function render() {
  const list = $("tokens");
  const all = tokens.all();
  const active = document.activeElement;
  const keepFocus = active && list.contains(active)
    ? { id: active.closest("[data-token-id]")?.dataset.tokenId, action: active.dataset.action }
    : null;
  list.replaceChildren();
  const tpl = $("token-template");
  all.forEach((tok, i) => {
    const li = tpl.content.firstElementChild.cloneNode(true);
    li.dataset.tokenId = tok.id;
    li.querySelector(".token-name").textContent = tok.name;
    li.querySelector(".token-issuer").textContent = tok.issuer;
    li.setAttribute("aria-label", t("list.token_label", { name: tok.name }));
    const pending = li.querySelector(".pending");
    pending.hidden = !tok.pendingDelivery;
    pending.textContent = t("list.pending");
    const moving = li.querySelector(".moving");
    moving.hidden = tok.movingUntil == null;
    if (tok.movingUntil != null) {
      const date = new Date(tok.movingUntil * 1000).toLocaleString(document.documentElement.lang);
      moving.textContent = t("list.moving", { date });
    }
    for (const [action, key] of Object.entries(ACTION_LABELS)) {
      li.querySelector(`[data-action="${action}"]`).textContent = t(key);
    }
    const up = li.querySelector('[data-action="up"]');
    const down = li.querySelector('[data-action="down"]');
    up.setAttribute("aria-label", t("list.move_up_label", { name: tok.name }));
    down.setAttribute("aria-label", t("list.move_down_label", { name: tok.name }));
    up.hidden = i === 0;
    down.hidden = i === all.length - 1;
    list.append(li);
  });
  $("empty").hidden = all.length > 0;
  updateCodes();
  if (keepFocus?.id) {
    const li = list.querySelector(`[data-token-id="${keepFocus.id}"]`);
    const again = li?.querySelector(`[data-action="${keepFocus.action}"]:not([hidden])`) ??
      li?.querySelector('[data-action="show"]');
    again?.focus();
  }
}

function updateCodes() {
  const now = Date.now();
  for (const li of $("tokens").children) {
    const tok = tokens.find(li.dataset.tokenId);
    if (!tok) continue;
    const code = li.querySelector(".code");
    if (code.textContent !== groupCode(tok.code)) {
      code.textContent = groupCode(tok.code);
      setText(li.querySelector(".code-sr"), t("code.digits_label", { digits: spokenDigits(tok.code) }));
    }
    paintCountdown(tok, now, li.querySelector("progress"), li.querySelector(".seconds"), li.querySelector(".next-code"));
  }
}

async function onClick(ev) {
  const button = ev.target.closest("button[data-action]");
  if (!button) return;
  const tok = tokens.find(button.closest("[data-token-id]")?.dataset.tokenId);
  if (!tok) return;
  switch (button.dataset.action) {
    case "show":
      go("otp", tok.id);
      break;
    case "copy":
      await copyCode(tok.id);
      break;
    case "rename":
      go("name", "rename", tok);
      break;
    case "up":
    case "down":
      await move(tok.id, button.dataset.action === "up" ? -1 : 1);
      break;
    case "delete":
      askDelete(tok);
      break;
  }
}

async function move(id, delta) {
  const ids = tokens.all().map((x) => x.id);
  const i = ids.indexOf(id);
  const j = i + delta;
  if (i < 0 || j < 0 || j >= ids.length) return;
  [ids[i], ids[j]] = [ids[j], ids[i]];
  try {
    await api.reorderTokens(ids);
    await tokens.refresh();
  } catch (e) {
    notice.sayError(e);
  }
  // The focus moves with the token, on the same button while it still can.
  const li = $("tokens").querySelector(`[data-token-id="${id}"]`);
  const same = li?.querySelector(`[data-action="${delta < 0 ? "up" : "down"}"]:not([hidden])`);
  (same ?? li?.querySelector('[data-action="show"]'))?.focus();
}

// What the notice says after a delete, by what the bank did.
const DELETED = {
  not_asked: "delete.done",
  ended: "delete.done_ended",
  already_ended: "delete.done_already_ended",
};

// Why a delete that was to end use at the bank kept the token, by the error's kind.
const KEPT = {
  server_unreachable: "delete.kept_offline",
  confirmation_not_accepted: "delete.kept_refused",
};

function askDelete(tok) {
  deleteId = tok.id;
  $("delete-body").textContent = t("delete.body", { name: tok.name });
  $("delete-at-bank").checked = false;
  $("delete-dialog").returnValue = "";
  $("delete-dialog").showModal();
}

async function onDeleteClosed() {
  const id = deleteId;
  deleteId = null;
  const tok = tokens.find(id);
  if ($("delete-dialog").returnValue !== "delete" || !tok) {
    $("tokens").querySelector(`[data-token-id="${id}"] [data-action="delete"]`)?.focus();
    return;
  }
  try {
    const deleted = await api.deleteToken(id, $("delete-at-bank").checked);
    notice.say(DELETED[deleted.atBank], { name: tok.name });
  } catch (e) {
    if (KEPT[e?.kind]) notice.say(KEPT[e.kind], { name: tok.name });
    else notice.sayError(e);
  }
  await attempt(async () => {
    await tokens.refresh();
    show("list");
  });
}

function onListed(previous) {
  if (structureKey(tokens.all()) !== structureKey(previous)) render();
  else updateCodes();
}

export function wire() {
  $("open-security").addEventListener("click", () => go("security"));
  tokens.watch(onListed);
  $("add-token").addEventListener("click", () => go("activate"));
  $("tokens").addEventListener("click", onClick);
  $("delete-dialog").addEventListener("close", onDeleteClosed);
}
