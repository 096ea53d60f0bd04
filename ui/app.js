// The screens of softtoken: token list (list), activation (step 7, activate), initial setup
// (step 8, setup), display name (step 9, name), the one-time password (step 10, otp), a
// transaction confirmation (confirm), the offline code (offline), the move to a new phone (move), and the app lock's unlock
// (lock), PIN (pin), forgotten PIN (forgot) and settings (security), one module each under
// screens/, plus the error screen (errors.js). confirmations.js looks for the bank's requests;
// lock.js covers the page in the background. This module starts them and switches the
// language. All calls to Rust go through api.js.
//
// Timing: one timer (ticker.js) fires just after each whole second while codes are on screen,
// and only then; codes are fetched again when one expires. Nothing runs per frame.

import * as acks from "./acks.js";
import * as api from "./api.js";
import * as confirmations from "./confirmations.js";
import * as errors from "./errors.js";
import { defaultLang } from "./i18n.js";
import * as kiosk from "./kiosk.js";
import * as lock from "./lock.js";
import * as moves from "./moves.js";
import { current, go, register, relangAll } from "./navigation.js";
import * as notice from "./notice.js";
import * as activate from "./screens/activate.js";
import * as confirm from "./screens/confirm.js";
import * as forgot from "./screens/forgot.js";
import * as list from "./screens/list.js";
import * as lockScreen from "./screens/lock.js";
import * as move from "./screens/move.js";
import * as name from "./screens/name.js";
import * as offline from "./screens/offline.js";
import * as otp from "./screens/otp.js";
import * as pin from "./screens/pin.js";
import * as security from "./screens/security.js";
import * as setup from "./screens/setup.js";
import * as tokens from "./tokens.js";
import { $, currentLang, setLang, t } from "./view.js";

const SCREENS = {
  list, activate, setup, name, otp, confirm, offline, move, lock: lockScreen, pin, forgot, security,
};
register({ ...SCREENS, error: errors });

function applyLang() {
  document.documentElement.lang = currentLang();
  for (const el of document.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
  const sw = $("lang-switch");
  sw.textContent = t("app.lang_switch");
  sw.lang = currentLang() === "ja" ? "en" : "ja";
  sw.setAttribute("aria-label", t("app.lang_switch_label"));
  $("qa-badge").setAttribute("aria-label", t("app.qa_badge_label"));
  notice.relang();
  errors.relangErrors();
  relangAll();
}

function switchLang() {
  setLang(currentLang() === "ja" ? "en" : "ja");
  applyLang();
  // Kept by the app for the next start; if it cannot be, the choice lasts for this run only.
  api.saveLanguage(currentLang()).catch(() => {});
}

// Settings, language, tokens, then the list. Run again as a whole by the error screen's retry.
async function boot() {
  const info = await api.appInfo().catch((e) => {
    // The failure is told in the language of the system the web view sees.
    setLang(defaultLang(navigator.language));
    applyLang();
    throw e;
  });
  const system = [navigator.language, info.locale].find((l) => defaultLang(l) === "ja");
  setLang(info.language ?? defaultLang(system ?? navigator.language));
  applyLang();
  $("kiosk-badge").hidden = !info.kiosk;
  // A QA build is marked on every screen, so it can never pass for the customer's app.
  $("qa-badge").hidden = !info.qa;
  document.body.classList.toggle("qa-build", info.qa);
  $("open-security").hidden = info.kiosk;
  if (info.kiosk) kiosk.start(info.kioskIdleSecs);
  // Locked: nothing of a token is asked for until the PIN is in; a build that requires a PIN
  // has one chosen before the first code.
  const status = await lock.refresh();
  if (status.locked) {
    go("lock");
    return;
  }
  if (lock.needsFirstPin()) {
    go("pin", "required");
    return;
  }
  await tokens.refresh();
  go("list");
  document.body.dataset.ready = "true";
  // Two frames later the first codes have been painted.
  requestAnimationFrame(() => requestAnimationFrame(() => api.uiReady().catch(() => {})));
  // Acknowledgements the bank is still owed: after the first codes are on screen, so a slow
  // network never delays them.
  acks.sendNow();
  moves.checkNow();
  confirmations.lookNow();
}

// Back from the background: the app may have locked meanwhile (it decides, by the time away).
async function lockedMeanwhile() {
  if (!document.body.dataset.ready) return;
  const status = await lock.refresh().catch(() => null);
  if (status?.locked && current() !== "lock") go("lock");
}

function start() {
  $("lang-switch").addEventListener("click", switchLang);
  for (const m of [...Object.values(SCREENS), errors]) m.wire();
  lock.start(lockedMeanwhile);
  acks.start();
  moves.start();
  confirmations.start();
  errors.attempt(boot);
}

start();
