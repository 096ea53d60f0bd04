// The demo bank's transfer (振込) page and the phishing-relay page (a fake bank site, for the
// demonstration of the attack transaction confirmation stops). One script for both: the body's
// data-page says which; their words are in pay-text.js. The page creates the request and waits
// for the bank's outcome; only the app, with the token's key, can approve it.
"use strict";

const PAGE = document.body.dataset.page;
// The request on screen, and the relay's account of what it did (relay page).
let request = null;
let relayed = null;
let outcome = null;
// Bumped to stop an older wait (a new transfer, a cancel, the offline path).
let round = 0;
let countdown = null;

function yen(n) {
  return `¥${Number(n).toLocaleString("ja-JP")}`;
}

function render() {
  document.documentElement.lang = lang;
  document.title = t(PAGE === "relay" ? "relay.fake_name" : "title");
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  for (const a of document.querySelectorAll('a[href^="/demo/"]')) a.href = bankPages();
  $("lang-switch").textContent = t("lang_switch");
  if (request) {
    const shown = relayed ? relayed.entered : request.details;
    facts("approve-facts", shown);
    facts("offline-facts", request.details);
    facts("accepted-facts", request.details);
  }
  if (outcome && PAGE === "relay") explain();
  if (outcome && PAGE === "transfer" && outcome !== "approved") $("refused-why").textContent = t(`state.${outcome}`);
  for (const el of document.querySelectorAll(".error[data-key]")) showError(el.id, el.dataset.key, el.dataset.detail);
  tick();
}

// A transfer's fields as a definition list; `other` marks the fields that differ from it.
function facts(id, d, other) {
  const dl = $(id);
  if (!dl) return; // a screen the other page does not have
  dl.textContent = "";
  const rows = [
    ["payee.bank", d.payee.bank, other?.payee.bank],
    ["payee.branch", d.payee.branch, other?.payee.branch],
    ["payee.type", t(`type.${d.payee.account_type}`), other ? t(`type.${other.payee.account_type}`) : undefined],
    ["payee.account", d.payee.account_number, other?.payee.account_number],
    ["payee.holder", d.payee.holder, other?.payee.holder],
    ["amount", yen(d.amount_yen), other ? yen(other.amount_yen) : undefined],
  ];
  for (const [key, value, theirs] of rows) {
    const dt = document.createElement("dt");
    dt.textContent = t(key);
    const dd = document.createElement("dd");
    dd.textContent = value;
    if (theirs !== undefined && theirs !== value) dd.className = "changed";
    dl.append(dt, dd);
  }
}

function show(id) {
  for (const sec of document.querySelectorAll("main > section")) sec.hidden = sec.id !== id;
  for (const el of document.querySelectorAll(".error[role=alert]")) clearError(el.id);
  const first = document.querySelector(`#${id} input, #${id} select, #${id} button`);
  if (first) first.focus({ preventScroll: true });
  window.scrollTo(0, 0);
  document.body.dataset.screen = id;
}

// The form as the bank takes it; the shapes a person gets wrong are said here, every other
// rule (the holder's characters, the lengths) is the bank's, and its message is shown.
function readForm() {
  const payee = {
    bank: $("payee-bank").value.trim(),
    branch: $("payee-branch").value.trim(),
    account_type: $("payee-type").value,
    account_number: $("payee-account").value.trim(),
    holder: $("payee-holder").value.trim(),
  };
  if (!payee.bank || !payee.branch || !payee.holder) return { error: "form.missing" };
  if (!/^[0-9]{7}$/.test(payee.account_number)) return { error: "form.account_invalid" };
  const digits = $("amount").value.replace(/[,\s円]/g, "");
  if (!/^[0-9]{1,10}$/.test(digits) || Number(digits) < 1) return { error: "form.amount_invalid" };
  return { payee, amount_yen: Number(digits) };
}

async function onNext() {
  clearError("form-error");
  const form = readForm();
  if (form.error) return showError("form-error", form.error);
  let r;
  if (PAGE === "relay") {
    const change = document.querySelector('input[name="change"]:checked').value;
    r = await call("POST", "/demo/api/relay", { ...form, change });
    if (!r.ok) return showServerError("form-error", r.body);
    relayed = r.body;
    request = { ...r.body.confirmation, details: r.body.sent };
  } else {
    r = await call("POST", "/demo/api/transfer", form);
    if (!r.ok) return showServerError("form-error", r.body);
    relayed = null;
    request = { ...r.body, details: { kind: "transfer", ...form } };
  }
  outcome = null;
  // The countdown runs on this computer's clock from the lifetime the bank gave.
  request.deadline = Date.now() + (request.expires_at - request.created_at) * 1000;
  $("match-number").textContent = request.match_number ?? "";
  render();
  show("screen-approve");
  startCountdown();
  waitForOutcome(++round);
}

// Stops the countdown and any wait for the bank's outcome (a newer round ends an older one).
function stopWaiting() {
  round++;
  clearInterval(countdown);
}

function startCountdown() {
  clearInterval(countdown);
  countdown = setInterval(tick, 1000);
  tick();
}

function tick() {
  if (!request?.deadline) return;
  const left = Math.max(0, Math.ceil((request.deadline - Date.now()) / 1000));
  $("seconds-left").textContent = t("approve.seconds").replace("{n}", String(left));
}

// Long polls of the bank's status until the request is final; a newer round stops this one.
async function waitForOutcome(mine) {
  while (mine === round) {
    const r = await call("GET", `/demo/api/transfer/${request.id}?wait=25`, undefined, true);
    if (mine !== round) return;
    if (!r.ok) {
      // The bank did not answer: try again shortly, the request stays where it is.
      await new Promise((done) => setTimeout(done, 2000));
      continue;
    }
    if (r.body.state !== "pending") return finish(r.body.state);
  }
}

function finish(state) {
  stopWaiting();
  outcome = state;
  render();
  if (PAGE === "relay") return show("screen-explained");
  show(state === "approved" ? "screen-accepted" : "screen-refused");
}

function explain() {
  const approved = outcome === "approved";
  $("explained-title").textContent = t(approved ? "relay.approved_title" : "relay.refused_title");
  $("explained-outcome").textContent = `${t(`state.${outcome}`)} ${t(approved ? "relay.approved" : "relay.refused")}`;
  $("explained-outcome").className = approved ? "outcome error" : "outcome";
  const { entered, sent } = relayed;
  $("explained-change").textContent = relayed.change === "amount"
    ? t("relay.changed_amount").replace("{from}", yen(entered.amount_yen)).replace("{to}", yen(sent.amount_yen))
    : t("relay.changed_payee").replace("{to}", `${sent.payee.bank} ${sent.payee.branch} ${sent.payee.account_number} ${sent.payee.holder}`);
  facts("entered-facts", entered);
  facts("sent-facts", sent, entered);
}

async function onCancel() {
  stopWaiting();
  const r = await call("POST", `/demo/api/transfer/${request.id}/cancel`, {});
  finish(r.ok ? r.body.state : "cancelled");
}

// The app has no network: the request is withdrawn (so the app no longer offers it) and the
// customer proves the transfer with the offline code over the same account number and amount.
async function onOffline() {
  stopWaiting();
  await call("POST", `/demo/api/transfer/${request.id}/cancel`, {});
  $("offline-code").value = "";
  render();
  show("screen-offline");
}

async function onOfflineCheck() {
  clearError("offline-error");
  const code = $("offline-code").value.replace(/[\s-]/g, "");
  if (!/^[0-9]{8}$/.test(code)) return showError("offline-error", "offline.invalid");
  const d = request.details;
  const r = await call("POST", "/demo/api/transfer/offline", {
    account_number: d.payee.account_number,
    amount_yen: d.amount_yen,
    code,
  });
  if (!r.ok) return showServerError("offline-error", r.body);
  if (!r.body.valid) return showError("offline-error", "offline.wrong");
  outcome = "approved";
  render();
  show("screen-accepted");
}

function again() {
  stopWaiting();
  request = null;
  relayed = null;
  outcome = null;
  render();
  show("screen-form");
}

// The one-time password pages, in this page's language, still a kiosk's when this is one.
function bankPages() {
  return `/demo/?lang=${lang}${kioskQuery()}`;
}

// A kiosk's page (`?kiosk=SECONDS`) withdraws its transfer and returns to the one-time password
// pages after that many seconds without input; their own idle reset then forgets the visitor.
function watchIdle() {
  onIdle(async () => {
    stopWaiting();
    if (request && !outcome) await call("POST", `/demo/api/transfer/${request.id}/cancel`, {}, true);
    location.href = bankPages();
  });
}

function wire() {
  const on = (id, fn) => $(id)?.addEventListener("click", fn);
  on("lang-switch", () => {
    lang = lang === "ja" ? "en" : "ja";
    render();
  });
  on("form-next", onNext);
  on("approve-cancel", onCancel);
  on("go-offline", onOffline);
  on("offline-submit", onOfflineCheck);
  on("offline-back", again);
  on("accepted-again", again);
  on("refused-again", again);
  on("explained-again", again);
  $("offline-code")?.addEventListener("keydown", (e) => { if (e.key === "Enter") onOfflineCheck(); });
}

wire();
watchIdle();
render();
show("screen-form");
document.body.dataset.ready = "true";
