// What every page of the demo bank shares, loaded before the page's own script: the language,
// the words lookup (each page defines its TEXT), errors kept as keys so a language switch
// re-words them, the one way to call the server, and a kiosk's idle timer.
"use strict";

const $ = (id) => document.getElementById(id);
// The language: the pages' own link's (`?lang=`), else the one the server chose.
const askedLang = new URLSearchParams(location.search).get("lang");
let lang = askedLang === "ja" || askedLang === "en" ? askedLang : document.documentElement.lang === "ja" ? "ja" : "en";

function t(key) {
  return TEXT[lang][key] ?? TEXT.en[key] ?? key;
}

// An error is kept as a key (and the server's message), so a language switch re-words it.
function showError(id, key, detail) {
  const el = $(id);
  el.dataset.key = key;
  if (detail) el.dataset.detail = detail; else delete el.dataset.detail;
  const n = el.dataset.n;
  let text = t(key).replace("{n}", n ?? "");
  if (el.dataset.reason) text = `${text} ${t(`weak.${el.dataset.reason}`)}`;
  if (detail) text = `${text} (${detail})`;
  el.textContent = text;
  el.hidden = false;
}

function clearError(id) {
  const el = $(id);
  el.hidden = true;
  el.textContent = "";
  delete el.dataset.key;
  delete el.dataset.detail;
  delete el.dataset.n;
  delete el.dataset.reason;
}

// The server's error body: a known code in the visitor's words, with the server's message for
// the codes that carry detail; any other code (a newer server's) with the server's message.
function showServerError(id, body) {
  const key = `err.${body.code}`;
  if (body.code === "weak_activation_password" && body.reason) $(id).dataset.reason = body.reason;
  if (body.code === "invalid_request" || !(key in TEXT.en)) {
    showError(id, body.code === "invalid_request" ? key : "err.other", body.message || body.code);
  } else {
    showError(id, key);
  }
}

// One JSON call; a network failure or a body that is not JSON is an error body too, so a
// caller has one shape to read. `quiet` calls (background polls) do not show the busy notice.
async function call(method, path, body, quiet = false) {
  if (!quiet) $("busy").hidden = false;
  try {
    const init = { method, headers: { Accept: "application/json" }, cache: "no-store" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path, init);
    } catch {
      return { ok: false, body: { code: "network" } };
    }
    let json = null;
    try {
      json = await resp.json();
    } catch {
      json = { code: "other", message: `HTTP ${resp.status}` };
    }
    return { ok: resp.ok, body: json };
  } finally {
    if (!quiet) $("busy").hidden = true;
  }
}

// A kiosk's pages (`?kiosk=SECONDS`, scripts/demo.sh --kiosk) carry that query from page to
// page, so every page knows to forget its visitor.
function kioskQuery() {
  const kiosk = new URLSearchParams(location.search).get("kiosk");
  return kiosk ? `&kiosk=${encodeURIComponent(kiosk)}` : "";
}

// On a kiosk, `forget` runs after that many seconds without input (never fewer than
// KIOSK_MIN_IDLE_SECS, so a visitor has time to read); the visitor's next input arms it again.
const KIOSK_MIN_IDLE_SECS = 10;
function onIdle(forget) {
  const asked = Number.parseInt(new URLSearchParams(location.search).get("kiosk") ?? "", 10);
  if (!Number.isFinite(asked)) return;
  const idleMs = Math.max(asked, KIOSK_MIN_IDLE_SECS) * 1000;
  let timer = null;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(forget, idleMs);
  };
  for (const ev of ["pointerdown", "keydown", "input", "touchstart"]) {
    document.addEventListener(ev, arm, { capture: true, passive: true });
  }
  arm();
}
