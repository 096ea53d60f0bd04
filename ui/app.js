// The screens of softtoken: token list, activation (step 7), initial setup (step 8), display
// name (step 9) and the one-time password (step 10). All calls to Rust go through api.js.
//
// Timing: one timer fires just after each whole second while codes are on screen, and only
// then; codes are fetched again when one expires. Nothing runs per frame.

import * as api from "./api.js";
import { defaultLang, errorText as errorTextIn, invalidText as invalidTextIn, translate } from "./i18n.js";
import {
  checkAddedWording,
  checkBaseName,
  checkPassword,
  checkServiceId,
  checkUserId,
  previewName,
} from "./validate.js";
import rules from "./rules.js";
import { groupCode, msToNextSecond, secondsLeftAt, showsNextCode, spokenDigits } from "./format.js";

const LANG_KEY = "softtoken.lang";

const state = {
  lang: "en",
  info: { kiosk: false, kioskIdleSecs: 180, clipboardClearSecs: 30 },
  tokens: [],
  screen: null,
  otpId: null,
  lastAnnounced: null,
  setupToken: null,
  nameMode: "register",
  nameId: null,
  busy: false,
  tickTimer: null,
  idleTimer: null,
  deleteId: null,
  notice: null,
};

const $ = (id) => document.getElementById(id);
const t = (key, params) => translate(state.lang, key, params);

// ---------------------------------------------------------------- language

function applyLang() {
  document.documentElement.lang = state.lang;
  for (const el of document.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
  const sw = $("lang-switch");
  sw.textContent = t("app.lang_switch");
  sw.lang = state.lang === "ja" ? "en" : "ja";
  sw.setAttribute("aria-label", t("app.lang_switch_label"));
  $("added-wording-hint").textContent = t("name.added_hint", { max: rules.added_wording.max_chars });
  setPasswordVisible($("password").type === "text");
  $("name-heading").textContent = t(state.nameMode === "rename" ? "name.rename_heading" : "name.heading");
  $("name-submit").textContent = t(state.nameMode === "rename" ? "name.save" : "name.register");
  if (state.notice) showNotice(state.notice.key, state.notice.params);
  for (const [id, e] of shownErrors) $(id).textContent = errorText(e);
  // Field problems are worded from the typed value: check them again in the new language.
  for (const f of FIELDS) {
    if ($(f.input).getAttribute("aria-invalid") === "true") validateField(f);
  }
  for (const [input, check, field] of NAME_FIELDS) {
    if ($(input).getAttribute("aria-invalid") === "true") {
      const r = check($(input).value);
      setFieldError(input, r.ok ? null : invalidText(r, field));
    }
  }
  renderTokens();
  renderOtp(false);
  updatePreview();
}

function switchLang() {
  state.lang = state.lang === "ja" ? "en" : "ja";
  try {
    localStorage.setItem(LANG_KEY, state.lang);
  } catch {
    // Storage may be unavailable; the choice then lasts for this run only.
  }
  applyLang();
}

// ---------------------------------------------------------------- screens

const SCREENS = ["list", "activate", "setup", "name", "otp", "error"];

function show(screen, focusId) {
  state.screen = screen;
  for (const s of SCREENS) $(`screen-${s}`).hidden = s !== screen;
  const target = focusId ? $(focusId) : $(`${screen}-heading`);
  target?.focus();
  // A hidden screen is not ticked, so the one coming back is brought up to date at once.
  if (screen === "list") updateCodes();
  if (screen === "otp") renderOtp(false);
  if (screen === "list" || screen === "otp") startTicking();
  else stopTicking();
}

function showNotice(key, params) {
  shownErrors.delete("notice");
  state.notice = key ? { key, params } : null;
  const n = $("notice");
  n.hidden = !key;
  n.textContent = key ? t(key, params) : "";
}

// Errors on screen, by element id, so a language switch can write them again.
const shownErrors = new Map();

function showErrorIn(id, e) {
  shownErrors.set(id, e);
  const el = $(id);
  el.textContent = errorText(e);
  el.hidden = false;
}

function clearErrorIn(id) {
  shownErrors.delete(id);
  $(id).hidden = true;
}

function showErrorNotice(e) {
  state.notice = null;
  showErrorIn("notice", e);
}

const errorText = (e) => errorTextIn(state.lang, e);
const invalidText = (result, field) => invalidTextIn(state.lang, result, field);

// ---------------------------------------------------------------- token list

function structureKey(tokens) {
  return tokens.map((x) => `${x.id}|${x.name}|${x.pendingDelivery}`).join("\n");
}

async function refresh() {
  const previous = structureKey(state.tokens);
  const tokens = await api.listTokens();
  state.tokens = tokens;
  if (structureKey(tokens) !== previous) renderTokens();
  else updateCodes();
  renderOtp(true);
}

function renderTokens() {
  const list = $("tokens");
  const active = document.activeElement;
  const keepFocus = active && list.contains(active)
    ? { id: active.closest("[data-token-id]")?.dataset.tokenId, action: active.dataset.action }
    : null;
  list.replaceChildren();
  const tpl = $("token-template");
  state.tokens.forEach((tok, i) => {
    const li = tpl.content.firstElementChild.cloneNode(true);
    li.dataset.tokenId = tok.id;
    li.querySelector(".token-name").textContent = tok.name;
    li.querySelector(".token-issuer").textContent = tok.issuer;
    li.setAttribute("aria-label", t("list.token_label", { name: tok.name }));
    const pending = li.querySelector(".pending");
    pending.hidden = !tok.pendingDelivery;
    pending.textContent = t("list.pending");
    const labels = { copy: "list.copy", rename: "list.rename", up: "list.move_up", down: "list.move_down", delete: "list.delete" };
    for (const [action, key] of Object.entries(labels)) {
      const b = li.querySelector(`[data-action="${action}"]`);
      b.textContent = t(key);
    }
    const up = li.querySelector('[data-action="up"]');
    const down = li.querySelector('[data-action="down"]');
    up.setAttribute("aria-label", t("list.move_up_label", { name: tok.name }));
    down.setAttribute("aria-label", t("list.move_down_label", { name: tok.name }));
    up.hidden = i === 0;
    down.hidden = i === state.tokens.length - 1;
    list.append(li);
  });
  $("empty").hidden = state.tokens.length > 0;
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
    const tok = state.tokens.find((x) => x.id === li.dataset.tokenId);
    if (!tok) continue;
    const code = li.querySelector(".code");
    if (code.textContent !== groupCode(tok.code)) {
      code.textContent = groupCode(tok.code);
      li.querySelector(".code-sr").textContent = t("code.digits_label", { digits: spokenDigits(tok.code) });
    }
    paintCountdown(tok, now, li.querySelector("progress"), li.querySelector(".seconds"), li.querySelector(".next-code"));
  }
}

function paintCountdown(tok, now, progress, seconds, next) {
  const left = secondsLeftAt(tok.expiresAt, now);
  if (progress.max !== tok.period) progress.max = tok.period;
  if (progress.value !== left) progress.value = left;
  progress.classList.toggle("low", showsNextCode(left));
  const text = t("code.seconds_left", { n: left });
  if (seconds.textContent !== text) seconds.textContent = text;
  const showNext = showsNextCode(left);
  next.hidden = !showNext;
  if (showNext) {
    const nextText = `${t("code.next")}: ${groupCode(tok.nextCode)}`;
    if (next.textContent !== nextText) next.textContent = nextText;
  }
}

async function onListClick(ev) {
  const button = ev.target.closest("button[data-action]");
  if (!button) return;
  const id = button.closest("[data-token-id]")?.dataset.tokenId;
  const tok = state.tokens.find((x) => x.id === id);
  if (!tok) return;
  switch (button.dataset.action) {
    case "show":
      openOtp(id);
      break;
    case "copy":
      await copy(id);
      break;
    case "rename":
      openName("rename", tok);
      break;
    case "up":
    case "down":
      await move(id, button.dataset.action === "up" ? -1 : 1);
      break;
    case "delete":
      openDelete(tok);
      break;
  }
}

async function move(id, delta) {
  const ids = state.tokens.map((x) => x.id);
  const i = ids.indexOf(id);
  const j = i + delta;
  if (i < 0 || j < 0 || j >= ids.length) return;
  [ids[i], ids[j]] = [ids[j], ids[i]];
  try {
    await api.reorderTokens(ids);
    await refresh();
  } catch (e) {
    showErrorNotice(e);
  }
  const li = $("tokens").querySelector(`[data-token-id="${id}"]`);
  const same = li?.querySelector(`[data-action="${delta < 0 ? "up" : "down"}"]:not([hidden])`);
  (same ?? li?.querySelector('[data-action="show"]'))?.focus();
}

async function copy(id) {
  try {
    const r = await api.copyCode(id);
    showNotice("code.copied", { n: r.clearAfterSecs });
  } catch (e) {
    showErrorNotice(e);
  }
}

// ---------------------------------------------------------------- ticking

function startTicking() {
  if (state.tickTimer === null && !document.hidden) {
    state.tickTimer = setTimeout(tick, msToNextSecond(Date.now()));
  }
}

function stopTicking() {
  clearTimeout(state.tickTimer);
  state.tickTimer = null;
}

async function tick() {
  state.tickTimer = null;
  if (state.screen !== "list" && state.screen !== "otp") return;
  const now = Date.now();
  try {
    if (state.tokens.some((x) => secondsLeftAt(x.expiresAt, now) <= 0)) await refresh();
    else if (state.screen === "list") updateCodes();
    else renderOtp(false);
  } catch (e) {
    showFatal(e);
    return;
  }
  startTicking();
}

document.addEventListener("visibilitychange", () => {
  if (document.hidden) stopTicking();
  else if (state.screen === "list" || state.screen === "otp") {
    refresh().catch(showFatal);
    startTicking();
  }
});

// ---------------------------------------------------------------- activation (step 7)

const FIELDS = [
  { input: "service-id", field: "service_id", check: checkServiceId },
  { input: "user-id", field: "user_id", check: checkUserId },
  { input: "password", field: "activation_password", check: checkPassword },
];

function setFieldError(inputId, text) {
  const input = $(inputId);
  const err = $(`${inputId}-error`);
  err.hidden = !text;
  err.textContent = text ?? "";
  if (text) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
}

function validateField(f) {
  const r = f.check($(f.input).value);
  setFieldError(f.input, r.ok ? null : invalidText(r, f.field));
  return r.ok;
}

function openActivate() {
  $("activate-form").reset();
  for (const f of FIELDS) setFieldError(f.input, null);
  setPasswordVisible(false);
  clearErrorIn("activate-error");
  showNotice(null);
  show("activate", "service-id");
}

function setPasswordVisible(visible) {
  $("password").type = visible ? "text" : "password";
  const b = $("toggle-password");
  b.textContent = t(visible ? "activate.hide_password" : "activate.show_password");
  b.setAttribute("aria-label", t(visible ? "activate.hide_password_label" : "activate.show_password_label"));
  b.setAttribute("aria-pressed", String(visible));
}

function setBusy(busy) {
  state.busy = busy;
  const b = $("activate-submit");
  b.disabled = busy;
  b.setAttribute("aria-busy", String(busy));
  b.querySelector(".spinner").hidden = !busy;
  $("activate-submit-label").textContent = t(busy ? "activate.sending" : "activate.submit");
  $("activate-form").setAttribute("aria-busy", String(busy));
}

async function submitActivate(ev) {
  ev.preventDefault();
  if (state.busy) return;
  clearErrorIn("activate-error");
  const results = FIELDS.map(validateField);
  const firstBad = results.indexOf(false);
  if (firstBad >= 0) {
    $(FIELDS[firstBad].input).focus();
    return;
  }
  setBusy(true);
  try {
    const token = await api.activate($("service-id").value, $("user-id").value, $("password").value);
    $("password").value = "";
    state.setupToken = token;
    await refresh().catch(() => {});
    openSetup(token);
  } catch (e) {
    onActivateError(e);
  } finally {
    setBusy(false);
  }
}

function onActivateError(e) {
  if (e?.kind === "invalid_input") {
    const f = FIELDS.find((x) => x.field === e.field);
    if (f) {
      setFieldError(f.input, errorText(e));
      $(f.input).focus();
      return;
    }
  }
  showErrorIn("activate-error", e);
  $("activate-error").dataset.kind = e?.kind ?? "unknown";
  if (e?.kind === "wrong_activation_password") {
    $("password").value = "";
    $("password").focus();
  }
}

// ---------------------------------------------------------------- setup (step 8)

function openSetup(token) {
  $("setup-bank").textContent = token.issuer;
  $("setup-service-id").textContent = token.serviceId;
  $("setup-user-id").textContent = token.userIdMasked;
  show("setup");
}

// ---------------------------------------------------------------- display name (step 9)

const NAME_FIELDS = [
  ["base-name", checkBaseName, "display_name"],
  ["added-wording", checkAddedWording, "added_wording"],
];

function openName(mode, tok) {
  state.nameMode = mode;
  state.nameId = tok.id;
  $("name-heading").textContent = t(mode === "rename" ? "name.rename_heading" : "name.heading");
  $("name-submit").textContent = t(mode === "rename" ? "name.save" : "name.register");
  $("name-intro").hidden = mode === "rename";
  $("base-field").hidden = mode !== "rename";
  $("base-fixed-field").hidden = mode === "rename";
  $("name-cancel").hidden = mode !== "rename";
  $("base-name").value = tok.baseName;
  $("base-fixed").textContent = tok.baseName;
  $("added-wording").value = mode === "rename" ? tok.addedWording : "";
  setFieldError("base-name", null);
  setFieldError("added-wording", null);
  clearErrorIn("name-error");
  updatePreview();
  show("name", mode === "rename" ? "base-name" : "added-wording");
}

function currentBase() {
  return state.nameMode === "rename" ? $("base-name").value : $("base-fixed").textContent;
}

function updatePreview() {
  $("name-preview").textContent = previewName(currentBase(), $("added-wording").value);
}

async function submitName(ev) {
  ev.preventDefault();
  if (state.busy) return;
  const base = checkBaseName(currentBase());
  const added = checkAddedWording($("added-wording").value);
  setFieldError("base-name", base.ok ? null : invalidText(base, "display_name"));
  setFieldError("added-wording", added.ok ? null : invalidText(added, "added_wording"));
  if (!base.ok) return $("base-name").focus();
  if (!added.ok) return $("added-wording").focus();
  state.busy = true;
  $("name-submit").disabled = true;
  try {
    await api.renameToken(state.nameId, base.value, added.value);
    await refresh();
    if (state.nameMode === "register") openOtp(state.nameId);
    else show("list");
  } catch (e) {
    showErrorIn("name-error", e);
  } finally {
    state.busy = false;
    $("name-submit").disabled = false;
  }
}

// ---------------------------------------------------------------- one-time password (step 10)

function openOtp(id) {
  state.otpId = id;
  state.lastAnnounced = null;
  $("otp-live").textContent = "";
  renderOtp(false);
  show("otp");
}

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function renderOtp(announce) {
  const tok = state.tokens.find((x) => x.id === state.otpId);
  if (!tok) return;
  // Only what changed is written: an unchanged text node rewritten every second still costs a
  // style pass, a repaint and an accessibility event.
  setText($("otp-name"), tok.name);
  setText($("otp-code"), groupCode(tok.code));
  setText($("otp-code-sr"), t("code.digits_label", { digits: spokenDigits(tok.code) }));
  if (announce && state.screen === "otp" && state.lastAnnounced !== null && state.lastAnnounced !== tok.code) {
    $("otp-live").textContent = t("code.new_code_announce", { digits: spokenDigits(tok.code) });
  }
  state.lastAnnounced = tok.code;
  paintCountdown(tok, Date.now(), $("otp-progress"), $("otp-seconds"), $("otp-next"));
}

// ---------------------------------------------------------------- delete

function openDelete(tok) {
  state.deleteId = tok.id;
  $("delete-body").textContent = t("delete.body", { name: tok.name });
  $("delete-dialog").returnValue = "";
  $("delete-dialog").showModal();
}

async function onDeleteClosed() {
  const id = state.deleteId;
  state.deleteId = null;
  const tok = state.tokens.find((x) => x.id === id);
  if ($("delete-dialog").returnValue !== "delete" || !tok) {
    $("tokens").querySelector(`[data-token-id="${id}"] [data-action="delete"]`)?.focus();
    return;
  }
  try {
    await api.deleteToken(id);
    showNotice("delete.done", { name: tok.name });
  } catch (e) {
    showErrorNotice(e);
  }
  await refresh().catch(showFatal);
  show("list");
}

// ---------------------------------------------------------------- kiosk

function armIdle() {
  clearTimeout(state.idleTimer);
  state.idleTimer = setTimeout(onIdle, state.info.kioskIdleSecs * 1000);
}

async function onIdle() {
  state.idleTimer = null;
  try {
    await api.kioskReset();
  } catch (e) {
    showFatal(e);
    return;
  }
  if ($("delete-dialog").open) $("delete-dialog").close("cancel");
  $("activate-form").reset();
  $("name-form").reset();
  state.setupToken = null;
  state.otpId = null;
  await refresh().catch(showFatal);
  show("list");
  showNotice("kiosk.reset");
}

// ---------------------------------------------------------------- start

function showFatal(e) {
  showErrorIn("fatal-error", e);
  show("error");
}

function wire() {
  $("lang-switch").addEventListener("click", switchLang);
  $("add-token").addEventListener("click", openActivate);
  $("tokens").addEventListener("click", onListClick);
  $("activate-form").addEventListener("submit", submitActivate);
  $("activate-cancel").addEventListener("click", () => show("list"));
  $("toggle-password").addEventListener("click", () => setPasswordVisible($("password").type === "password"));
  for (const f of FIELDS) {
    const input = $(f.input);
    input.addEventListener("blur", () => {
      if (input.value !== "" && !state.busy) validateField(f);
    });
    input.addEventListener("input", () => {
      if (input.getAttribute("aria-invalid") === "true") validateField(f);
    });
  }
  $("setup-next").addEventListener("click", () => openName("register", state.setupToken));
  $("name-form").addEventListener("submit", submitName);
  $("name-cancel").addEventListener("click", () => show("list"));
  $("base-name").addEventListener("input", updatePreview);
  $("added-wording").addEventListener("input", updatePreview);
  $("otp-copy").addEventListener("click", () => copy(state.otpId));
  $("otp-back").addEventListener("click", () => {
    showNotice(null);
    show("list");
  });
  $("delete-dialog").addEventListener("close", onDeleteClosed);
}

async function start() {
  let saved = null;
  try {
    saved = localStorage.getItem(LANG_KEY);
  } catch {
    saved = null;
  }
  wire();
  try {
    state.info = await api.appInfo();
  } catch (e) {
    state.lang = defaultLang(navigator.language);
    applyLang();
    showFatal(e);
    return;
  }
  const system = [navigator.language, state.info.locale].find((l) => defaultLang(l) === "ja");
  state.lang = saved === "ja" || saved === "en" ? saved : defaultLang(system ?? navigator.language);
  applyLang();
  $("kiosk-badge").hidden = !state.info.kiosk;
  if (state.info.kiosk) {
    for (const ev of ["keydown", "pointerdown", "wheel", "touchstart"]) {
      document.addEventListener(ev, armIdle, { passive: true, capture: true });
    }
    armIdle();
  }
  try {
    await refresh();
  } catch (e) {
    showFatal(e);
    return;
  }
  show("list");
  document.body.dataset.ready = "true";
  // Two frames later the first codes have been painted.
  requestAnimationFrame(() => requestAnimationFrame(() => api.uiReady().catch(() => {})));
  // The bank's acknowledgement of a token that arrived while offline: retried after the first
  // codes are on screen so a slow network never delays them.
  if (state.tokens.some((x) => x.pendingDelivery)) {
    try {
      const notices = await api.resumePending();
      for (const n of notices) {
        if (n.kind === "superseded") showNotice("error.superseded", { name: n.name });
      }
      await refresh();
    } catch {
      // Still pending: tried again at the next start.
    }
  }
}

start();
