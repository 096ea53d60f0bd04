// The screens of softtoken: token list (list), activation (step 7, activate), initial setup
// (step 8, setup), display name (step 9, name), the one-time password (step 10, otp), a
// transaction confirmation (confirm) and the offline code (offline), one module each under
// screens/, plus the error screen (errors.js). confirmations.js looks for the bank's requests. This module starts them and
// switches the language. All calls to Rust go through api.js.
//
// Timing: one timer (ticker.js) fires just after each whole second while codes are on screen,
// and only then; codes are fetched again when one expires. Nothing runs per frame.

import * as acks from "./acks.js";
import * as api from "./api.js";
import * as confirmations from "./confirmations.js";
import * as errors from "./errors.js";
import { defaultLang } from "./i18n.js";
import * as kiosk from "./kiosk.js";
import { go, register, relangAll } from "./navigation.js";
import * as notice from "./notice.js";
import * as activate from "./screens/activate.js";
import * as confirm from "./screens/confirm.js";
import * as list from "./screens/list.js";
import * as name from "./screens/name.js";
import * as offline from "./screens/offline.js";
import * as otp from "./screens/otp.js";
import * as setup from "./screens/setup.js";
import * as tokens from "./tokens.js";
import { $, currentLang, setLang, t } from "./view.js";

register({ list, activate, setup, name, otp, confirm, offline, error: errors });

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
  if (info.kiosk) kiosk.start(info.kioskIdleSecs);
  await tokens.refresh();
  go("list");
  document.body.dataset.ready = "true";
  // Two frames later the first codes have been painted.
  requestAnimationFrame(() => requestAnimationFrame(() => api.uiReady().catch(() => {})));
  // Acknowledgements the bank is still owed: after the first codes are on screen, so a slow
  // network never delays them.
  acks.sendNow();
  confirmations.lookNow();
}

function start() {
  $("lang-switch").addEventListener("click", switchLang);
  for (const m of [list, activate, setup, name, otp, confirm, offline, errors]) m.wire();
  acks.start();
  confirmations.start();
  errors.attempt(boot);
}

start();
