// A forgotten PIN: no one can look it up, so the way out is the damaged vault's. The tokens are
// renamed aside on this device (never deleted), an empty store is started, and the customer
// asks the bank to issue the tokens again. Reached from the unlock screen only.

import * as api from "../api.js";
import { clearErrorIn, showErrorIn } from "../errors.js";
import * as lock from "../lock.js";
import { go, show } from "../navigation.js";
import * as notice from "../notice.js";
import * as tokens from "../tokens.js";
import { $, setText, t } from "../view.js";

let sending = false;

export function open() {
  clearErrorIn("forgot-error");
  paint();
  show("forgot");
}

export const isSending = () => sending;

export const relang = paint;

function paint() {
  setText($("forgot-confirm"), t(sending ? "forgot.starting" : "forgot.confirm"));
  $("forgot-confirm").disabled = sending;
  $("forgot-confirm").setAttribute("aria-busy", String(sending));
}

async function startAgain() {
  if (sending) return;
  sending = true;
  paint();
  clearErrorIn("forgot-error");
  try {
    const kept = await api.forgotAppPin();
    await lock.refresh();
    sending = false;
    if (lock.needsFirstPin()) {
      go("pin", "required");
    } else {
      await tokens.refresh();
      go("list");
      document.body.dataset.ready = "true";
    }
    if (kept) notice.say("forgot.done", { file: kept.fileName });
  } catch (e) {
    showErrorIn("forgot-error", e);
  } finally {
    sending = false;
    paint();
  }
}

export function wire() {
  $("forgot-confirm").addEventListener("click", startAgain);
  $("forgot-back").addEventListener("click", () => {
    if (!sending) go("lock");
  });
}
