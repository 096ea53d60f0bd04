// The demo bank's transfer (振込) page and the phishing-relay page (a fake bank site, for the
// demonstration of the attack transaction confirmation stops). One script for both: the body's
// data-page says which. The page creates the request and waits for the bank's outcome; only the
// app, with the token's key, can approve it.
"use strict";

const TEXT = {
  ja: {
    lang_switch: "English",
    demo: "デモ",
    busy: "処理中です…",
    required: "【必須】",
    to_bank: "ワンタイムパスワードの画面へ",
    again: "別の振込をする",
    "form.title": "振込",
    "form.lead": "振込先と金額を入力し「確認へ進む」ボタンを押して下さい。お手続きはアプリでの承認が必要です。",
    "form.submit": "確認へ進む",
    "payee.bank": "金融機関名",
    "payee.branch": "支店名",
    "payee.type": "預金種目",
    "payee.account": "口座番号(7桁)",
    "payee.holder": "受取人名(全角カタカナ)",
    "payee.holder_hint": "例: ヤマダ　タロウ(姓と名の間は全角スペース)",
    amount: "振込金額(円)",
    "type.ordinary": "普通",
    "type.current": "当座",
    "type.savings": "貯蓄",
    "form.missing": "振込先の金融機関名、支店名、受取人名を入力して下さい。",
    "form.account_invalid": "口座番号は7桁の数字で入力して下さい。",
    "form.amount_invalid": "振込金額は1円以上の数字で入力して下さい。",
    "approve.title": "アプリで承認して下さい",
    "approve.lead": "スマートフォンのアプリに、この振込の内容が表示されます。内容が下と同じであることを確かめ、下の番号をアプリに入力して承認して下さい。",
    "approve.number": "アプリに入力する番号",
    "approve.left": "残り時間:",
    "approve.seconds": "{n}秒",
    "approve.offline": "アプリがオフラインの場合",
    "approve.cancel": "振込を中止する",
    "offline.title": "オフラインでの承認",
    "offline.lead": "振込先口座番号と金額をアプリに入力して下さい。この画面からではなく、請求書など、お客様がご存じの振込先から入力して下さい。アプリに表示された8桁の番号を下に入力して下さい。",
    "offline.code": "アプリに表示された番号(8桁)",
    "offline.submit": "確認する",
    "offline.invalid": "アプリに表示された8桁の数字を入力して下さい。",
    "offline.wrong": "番号が正しくありません。振込先口座番号と金額をもう一度アプリに入力し、表示された最新の番号を入力して下さい(一度使った番号は使えません)。",
    "accepted.title": "振込を受け付けました",
    "accepted.lead": "アプリで承認された内容で振込を受け付けました。",
    "refused.title": "振込は実行されていません",
    "refused.lead": "お金は動いていません。必要であれば、もう一度振込の手続きをして下さい。",
    "state.denied": "アプリで拒否されました。",
    "state.wrong_number": "アプリに入力された番号がこの画面の番号と違いました。",
    "state.expired": "時間内にアプリで承認されませんでした。",
    "state.cancelled": "振込を中止しました。",
    "err.invalid_request": "入力内容に誤りがあります。",
    "err.not_delivered": "ワンタイムパスワードの利用開始がまだです。ワンタイムパスワードの画面で利用開始をしてから振込をして下さい。",
    "err.unknown_registration": "トークンが発行されていません。ワンタイムパスワードの画面でトークン発行から始めて下さい。",
    "err.ended": "このトークンは利用終了しています。トークン発行からやり直して下さい。",
    "err.too_many_pending": "承認待ちの振込が多すぎます。アプリで承認または拒否してから、もう一度お試し下さい。",
    "err.rate_limited": "しばらく時間をおいてから、もう一度お試し下さい。",
    "err.network": "銀行のサーバーにつながりません。しばらくしてからもう一度お試し下さい。",
    "err.other": "お手続きできませんでした。",
    "relay.banner": "これは攻撃のデモンストレーションです。本物の銀行のページではありません(フィッシングサイトの再現)。",
    "relay.fake_name": "softtoken デモ銀行(偽サイト)",
    "relay.lead": "本物そっくりの偽の銀行サイトです。お客様が入力した振込を、偽サイトが裏で本物の銀行に中継します。",
    "relay.change": "デモの設定: 中継する攻撃者が書き換えるもの",
    "relay.change_amount": "金額(10倍にする)",
    "relay.change_payee": "振込先(攻撃者の口座にする)",
    "relay.look_at_app": "偽サイトはお客様が入力した内容を表示しますが、アプリには銀行が受け取った内容が表示されます。アプリの内容をよく見て下さい。",
    "relay.what_happened": "何が起きたか",
    "relay.changed_amount": "偽サイトは、お客様が入力した金額 {from} を {to} に書き換えて銀行に送りました。",
    "relay.changed_payee": "偽サイトは、お客様が入力した振込先を攻撃者の口座({to})に書き換えて銀行に送りました。",
    "relay.you_entered": "お客様が偽サイトに入力した内容",
    "relay.bank_got": "銀行が受け取り、アプリに表示した内容",
    "relay.refused_title": "銀行は振込を実行しませんでした",
    "relay.refused": "アプリには銀行が受け取った本当の内容が表示され、承認されなかったため、振込は実行されていません。お金は動いていません。",
    "relay.approved_title": "書き換えられた振込が承認されました",
    "relay.approved": "アプリに表示された書き換え後の内容が承認されたため、本物の攻撃であれば攻撃者の思い通りの振込が実行されていました(デモなのでお金は動いていません)。",
    "relay.lesson": "取引認証では、銀行が受け取った振込の内容そのものが、銀行の鍵で守られてお客様のアプリに届きます。偽サイトは画面の表示をごまかせても、アプリの表示はごまかせません。アプリの振込先と金額が思っていたものと違えば、必ず拒否して下さい。",
  },
  en: {
    lang_switch: "日本語",
    demo: "Demo",
    busy: "Working…",
    required: "Required",
    to_bank: "To the one-time password pages",
    again: "Make another transfer",
    "form.title": "Transfer",
    "form.lead": "Enter the payee and the amount, then press Continue. The transfer has to be approved in your app.",
    "form.submit": "Continue",
    "payee.bank": "Bank",
    "payee.branch": "Branch",
    "payee.type": "Account type",
    "payee.account": "Account number (7 digits)",
    "payee.holder": "Account holder (full-width katakana)",
    "payee.holder_hint": "For example ヤマダ　タロウ (a full-width space between the names)",
    amount: "Amount (yen)",
    "type.ordinary": "Ordinary (普通)",
    "type.current": "Current (当座)",
    "type.savings": "Savings (貯蓄)",
    "form.missing": "Enter the payee's bank, branch and account holder.",
    "form.account_invalid": "The account number is 7 digits.",
    "form.amount_invalid": "The amount is a whole number of yen, at least 1.",
    "approve.title": "Approve in your app",
    "approve.lead": "Your app shows this transfer. Check that it is the same as below, then type the number below into the app and approve.",
    "approve.number": "Number to type in the app",
    "approve.left": "Time left:",
    "approve.seconds": "{n} s",
    "approve.offline": "App offline?",
    "approve.cancel": "Cancel the transfer",
    "offline.title": "Approve without network",
    "offline.lead": "Enter the payee's account number and the amount in the app — from what you know (the bill, the payee), not from this page. Then type the 8-digit number the app shows below.",
    "offline.code": "Number the app shows (8 digits)",
    "offline.submit": "Check",
    "offline.invalid": "Type the 8 digits the app shows.",
    "offline.wrong": "That number is not right. Enter the account number and the amount in the app again and type the newest number it shows (a number works once).",
    "accepted.title": "Transfer accepted",
    "accepted.lead": "The transfer you approved in the app has been accepted.",
    "refused.title": "The transfer did not run",
    "refused.lead": "No money has moved. Start the transfer again if you still want to make it.",
    "state.denied": "It was denied in the app.",
    "state.wrong_number": "The number typed in the app was not the one on this page.",
    "state.expired": "It was not approved in the app in time.",
    "state.cancelled": "You cancelled the transfer.",
    "err.invalid_request": "Something you entered is not accepted.",
    "err.not_delivered": "One-time passwords are not in use yet. Start using them on the one-time password pages first.",
    "err.unknown_registration": "No token has been issued yet. Start with Issue a token on the one-time password pages.",
    "err.ended": "This token's use has ended. Issue a new token.",
    "err.too_many_pending": "Too many transfers are waiting for approval. Approve or deny them in the app, then try again.",
    "err.rate_limited": "Please wait a little, then try again.",
    "err.network": "The bank's server does not answer. Try again in a moment.",
    "err.other": "This could not be done.",
    "relay.banner": "A demonstration of an attack. This is not the bank's page: it plays a phishing site.",
    "relay.fake_name": "softtoken Demo Bank (fake site)",
    "relay.lead": "A fake bank site that looks like the real one. It passes the transfer you type to the real bank behind your back.",
    "relay.change": "Demo setting: what the attacker's relay changes",
    "relay.change_amount": "The amount (ten times as much)",
    "relay.change_payee": "The payee (the attacker's account)",
    "relay.look_at_app": "The fake site shows what you typed; your app shows what the bank received. Look closely at the app.",
    "relay.what_happened": "What happened",
    "relay.changed_amount": "The fake site changed the amount you typed, {from}, to {to} before passing it to the bank.",
    "relay.changed_payee": "The fake site replaced the payee you typed by the attacker's account ({to}) before passing it to the bank.",
    "relay.you_entered": "What you typed into the fake site",
    "relay.bank_got": "What the bank received, and your app showed",
    "relay.refused_title": "The bank did not make the transfer",
    "relay.refused": "Your app showed the real transfer the bank received, and it was not approved, so the bank refused it. No money has moved.",
    "relay.approved_title": "The changed transfer was approved",
    "relay.approved": "The changed transfer shown in the app was approved: in a real attack the attacker's transfer would have run (this is a demo; no money has moved).",
    "relay.lesson": "With transaction confirmation the transfer the bank received reaches your app itself, protected by the bank's key. A fake site can change what its own page shows, not what the app shows. When the app's payee or amount is not what you meant, always deny.",
  },
};

const $ = (id) => document.getElementById(id);
const PAGE = document.body.dataset.page;
const asked = new URLSearchParams(location.search).get("lang");
let lang = asked === "ja" || asked === "en" ? asked : document.documentElement.lang === "ja" ? "ja" : "en";
// The request on screen, and the relay's account of what it did (relay page).
let request = null;
let relayed = null;
let outcome = null;
// Bumped to stop an older wait (a new transfer, a cancel, the offline path).
let round = 0;
let countdown = null;

function t(key) {
  return TEXT[lang][key] ?? TEXT.en[key] ?? key;
}

function yen(n) {
  return `¥${Number(n).toLocaleString("ja-JP")}`;
}

function render() {
  document.documentElement.lang = lang;
  const title = PAGE === "relay" ? t("relay.fake_name") : lang === "ja" ? "デモ銀行 振込" : "Demo Bank transfer";
  document.title = title;
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

function showError(id, key, detail) {
  const el = $(id);
  el.dataset.key = key;
  if (detail) el.dataset.detail = detail; else delete el.dataset.detail;
  el.textContent = detail ? `${t(key)} (${detail})` : t(key);
  el.hidden = false;
}

function clearError(id) {
  const el = $(id);
  el.hidden = true;
  el.textContent = "";
  delete el.dataset.key;
  delete el.dataset.detail;
}

function showServerError(id, body) {
  const key = `err.${body.code}`;
  if (body.code === "invalid_request" || !(key in TEXT.en)) {
    showError(id, body.code === "invalid_request" ? key : "err.other", body.message || body.code);
  } else {
    showError(id, key);
  }
}

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
    let json;
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
  clearInterval(countdown);
  round++;
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
  round++;
  clearInterval(countdown);
  const r = await call("POST", `/demo/api/transfer/${request.id}/cancel`, {});
  finish(r.ok ? r.body.state : "cancelled");
}

// The app has no network: the request is withdrawn (so the app no longer offers it) and the
// customer proves the transfer with the offline code over the same account number and amount.
async function onOffline() {
  round++;
  clearInterval(countdown);
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
  round++;
  clearInterval(countdown);
  request = null;
  relayed = null;
  outcome = null;
  render();
  show("screen-form");
}

// The one-time password pages, in this page's language, still a kiosk's when this is one.
function bankPages() {
  const kiosk = new URLSearchParams(location.search).get("kiosk");
  return `/demo/?lang=${lang}${kiosk ? `&kiosk=${encodeURIComponent(kiosk)}` : ""}`;
}

// A kiosk's page (`?kiosk=SECONDS`) withdraws its transfer and returns to the one-time password
// pages after that many seconds without input; their own idle reset then forgets the visitor.
function watchIdle() {
  const secs = Number.parseInt(new URLSearchParams(location.search).get("kiosk") ?? "", 10);
  if (!Number.isFinite(secs)) return;
  let timer = null;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      round++;
      if (request && !outcome) await call("POST", `/demo/api/transfer/${request.id}/cancel`, {}, true);
      location.href = bankPages();
    }, Math.max(secs, 10) * 1000);
  };
  for (const ev of ["pointerdown", "keydown", "input", "touchstart"]) {
    document.addEventListener(ev, arm, { capture: true, passive: true });
  }
  arm();
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
