// The demo bank's pages: steps 1–6 and 11–13 of the manual, and the end of use. One page,
// one screen at a time; every text in Japanese and English; every answer of the server shown,
// the known ones in the visitor's words and any other with the server's own message.
"use strict";

const TEXT = {
  ja: {
    lang_switch: "English",
    demo: "デモ",
    busy: "処理中です…",
    required: "【必須】",
    service_id: "サービスID",
    user_id: "ユーザID",
    next: "次へ",
    back: "戻る",
    to_top: "ワンタイムパスワード申請内容選択へ",
    "top.title": "ワンタイムパスワード申請内容選択",
    "top.lead": "ワンタイムパスワードの登録情報を表示します。登録情報の変更を行う場合は変更対象ボタンを押して下さい。",
    "top.status": "ワンタイムパスワード登録状況",
    "top.state": "登録状況",
    "top.choose": "登録情報変更処理選択",
    "top.apply": "トークン発行",
    "top.start": "ワンタイムパスワード利用開始",
    "top.end": "ワンタイムパスワード利用終了",
    "top.transactions": "取引認証(ワンタイムパスワード利用中)",
    "top.transfer": "振込",
    "top.relay": "フィッシングサイトの中継を体験する(攻撃のデモ)",
    "top.about": "注意事項",
    "top.note1": "ワンタイムパスワードとは、1分ごとに変わる使い捨てのパスワードです。ログインやお振込みの際に入力します。",
    "top.note2": "トークン発行の後、アプリで利用開始パスワードを入力し、この画面に戻って「ワンタイムパスワード利用開始」を行って下さい。",
    "top.note3": "機種変更などでアプリが使えなくなる場合は「ワンタイムパスワード利用終了」(利用解除)を行って下さい。",
    "state.issued": "トークン発行済(アプリでの設定待ち)",
    "state.issued_locked": "トークン発行済(利用開始パスワードの誤りが続いたためロック中)",
    "state.issued_expired": "トークン発行済(有効期限切れ)",
    "state.delivered": "アプリ設定済(利用開始待ち)",
    "state.in_use": "ワンタイムパスワード利用中",
    "state.in_use_locked": "ワンタイムパスワード利用中(誤入力が続いたためロック中)",
    "state.ended": "利用終了",
    "apply.title": "ソフトウェアトークン発行情報入力",
    "apply.lead": "ソフトウェアトークンを発行します。送付先メールアドレス、利用開始パスワードを入力し「次へ」ボタンを押して下さい。",
    "apply.mail_heading": "送付先メールアドレスの指定",
    "apply.mail": "携帯電話メールアドレス",
    "apply.mail_again": "携帯電話メールアドレス(確認用)",
    "apply.password_heading": "利用開始パスワードの指定",
    "apply.password_hint": "トークン発行時に必要となる利用開始パスワードを4桁から8桁の数字で登録して下さい。お忘れにならないで下さい。",
    "apply.password": "利用開始パスワード",
    "apply.password_again": "利用開始パスワード(確認用)",
    "apply.mail_invalid": "携帯電話メールアドレスを正しく入力して下さい(例: taro@example.jp)。",
    "apply.mail_mismatch": "携帯電話メールアドレスと確認用が一致しません。もう一度入力して下さい。",
    "apply.password_invalid": "利用開始パスワードは4桁から8桁の数字で入力して下さい。",
    "apply.password_mismatch": "利用開始パスワードと確認用が一致しません。もう一度入力して下さい。",
    "confirm.title": "ソフトウェアトークン発行情報入力内容確認",
    "confirm.lead": "入力内容をご確認のうえ、確認用パスワードを入力し「確定する」ボタンを押して下さい。",
    "confirm.password": "確認用パスワード(半角英数字6~12桁)",
    "confirm.demo_hint": "デモでは任意の半角英数字6~12桁で確定できます(送信されません)。",
    "confirm.invalid": "確認用パスワードは半角英数字6~12桁で入力して下さい。",
    "confirm.submit": "確定する",
    "confirm.cancel": "申込を中止する",
    "issued.title": "ソフトウェアトークン発行完了",
    "issued.lead": "ソフトウェアトークンを発行しました。ご登録のメールアドレスにサービスID、ユーザID及びアプリのダウンロード先をお送りします。アプリで設定の手続きをして下さい。",
    "issued.mail": "お送りしたメールを見る",
    "mail.title": "お客様に届くメール",
    "mail.to": "宛先:",
    "mail.subject": "件名:",
    "mail.subject_text": "ソフトウェアトークン発行のお知らせ",
    "mail.body": "ソフトウェアトークンを発行しました。アプリを開き、次のサービスIDとユーザID、およびお客様がお決めになった利用開始パスワードを入力して下さい。",
    "mail.download": "アプリのダウンロード",
    "mail.expires": "有効期限",
    "mail.no_password": "このメールに利用開始パスワードは記載されません。",
    "mail.next": "アプリで設定が終わったら、「ワンタイムパスワード申請内容選択へ」から「ワンタイムパスワード利用開始」へお進み下さい。",
    "start.title": "ワンタイムパスワード利用開始",
    "start.lead": "ワンタイムパスワード欄にアプリに表示されているワンタイムパスワードを入力し、「利用開始する」ボタンを押して下さい。",
    "start.code": "ワンタイムパスワード",
    "start.submit": "利用開始する",
    "start.invalid": "アプリに表示されている6桁の数字を入力して下さい。",
    "start.wrong": "ワンタイムパスワードが正しくありません。アプリに表示されている最新のワンタイムパスワードを入力して下さい(あと{n}回誤るとロックされます)。",
    "start.replayed": "このワンタイムパスワードは使用済みです。アプリに次のワンタイムパスワードが表示されてから入力して下さい。",
    "started.title": "ワンタイムパスワード利用開始完了",
    "started.lead": "ワンタイムパスワードの利用を開始しました。今後はログインやお振込み等の際にワンタイムパスワードを入力して下さい。",
    "end.title": "ワンタイムパスワード利用終了",
    "end.lead": "機種変更などで現在のアプリが使えなくなる場合に、ワンタイムパスワードの利用を終了(利用解除)します。終了したトークンのワンタイムパスワードはすぐに使えなくなります。翌日以降に、新たにトークン発行と利用開始を行って下さい。",
    "end.submit": "利用終了する",
    "ended.title": "ワンタイムパスワード利用終了完了",
    "ended.lead": "ワンタイムパスワードの利用を終了しました。このトークンのワンタイムパスワードはもう使えません。",
    "err.invalid_request": "入力内容に誤りがあります。",
    "err.not_delivered": "トークンがまだアプリに届いていません。アプリでサービスID、ユーザID、利用開始パスワードを入力し、設定を終えてから入力して下さい。",
    "err.locked": "誤りが続いたためロックされました。トークン発行からやり直して下さい。",
    "err.ended": "このトークンは利用終了しています。トークン発行からやり直して下さい。",
    "err.unknown_registration": "トークンが発行されていません。トークン発行から始めて下さい。",
    "err.rate_limited": "しばらく時間をおいてから、もう一度お試し下さい。",
    "err.demo_ids_taken": "デモのIDは別のお客様の登録に使われています。デモ専用のデータベースで起動して下さい。",
    "err.weak_activation_password": "推測されやすい利用開始パスワードです。同じ数字の繰り返し、連続した数字、西暦、よく使われる番号は使えません。別の番号を選んで下さい。",
    "weak.repeated": "同じ数字の繰り返しです。",
    "weak.sequence": "連続した数字です。",
    "weak.year": "西暦のように見えます。",
    "weak.common": "よく使われる番号です。",
    "apply.password_cleared": "利用開始パスワードは使えないため消去しました。別の番号を2回入力して下さい。",
    "err.network": "銀行のサーバーにつながりません。しばらくしてからもう一度お試し下さい。",
    "err.other": "お手続きできませんでした。",
  },
  en: {
    lang_switch: "日本語",
    demo: "Demo",
    busy: "Working…",
    required: "Required",
    service_id: "Service ID",
    user_id: "User ID",
    next: "Next",
    back: "Back",
    to_top: "Back to one-time password settings",
    "top.title": "One-time password settings",
    "top.lead": "Your one-time password registration. To change it, choose an action below.",
    "top.status": "Registration",
    "top.state": "Status",
    "top.choose": "What would you like to do?",
    "top.apply": "Issue a token",
    "top.start": "Start using one-time passwords",
    "top.end": "End use of one-time passwords",
    "top.transactions": "Transaction confirmation (once one-time passwords are in use)",
    "top.transfer": "Transfer",
    "top.relay": "See a phishing site relay a transfer (a demonstration of an attack)",
    "top.about": "Notes",
    "top.note1": "A one-time password is a single-use password that changes every minute. You type it when you log in or send money.",
    "top.note2": "After issuing a token, enter the activation password in the app, then come back here and choose \"Start using one-time passwords\".",
    "top.note3": "If you change phones or can no longer use the app, end use of one-time passwords.",
    "state.issued": "Token issued (waiting for the app)",
    "state.issued_locked": "Token issued (locked after too many wrong activation passwords)",
    "state.issued_expired": "Token issued (expired)",
    "state.delivered": "Set up in the app (waiting to start use)",
    "state.in_use": "One-time passwords in use",
    "state.in_use_locked": "One-time passwords in use (locked after too many wrong codes)",
    "state.ended": "Use ended",
    "apply.title": "Issue a software token",
    "apply.lead": "We will issue a software token. Enter the mail address to send it to and an activation password, then press Next.",
    "apply.mail_heading": "Where to send the mail",
    "apply.mail": "Mobile mail address",
    "apply.mail_again": "Mobile mail address (again, to confirm)",
    "apply.password_heading": "Activation password",
    "apply.password_hint": "Choose an activation password of 4 to 8 digits. The app asks for it once; do not forget it.",
    "apply.password": "Activation password",
    "apply.password_again": "Activation password (again, to confirm)",
    "apply.mail_invalid": "Enter a valid mail address (for example taro@example.jp).",
    "apply.mail_mismatch": "The two mail addresses differ. Enter them again.",
    "apply.password_invalid": "The activation password must be 4 to 8 digits.",
    "apply.password_mismatch": "The two activation passwords differ. Enter them again.",
    "confirm.title": "Confirm your application",
    "confirm.lead": "Check what you entered, type your confirmation password and press Confirm.",
    "confirm.password": "Confirmation password (6–12 letters or digits)",
    "confirm.demo_hint": "In the demo any 6–12 letters or digits confirm (they are not sent).",
    "confirm.invalid": "The confirmation password is 6 to 12 letters or digits.",
    "confirm.submit": "Confirm",
    "confirm.cancel": "Cancel the application",
    "issued.title": "Software token issued",
    "issued.lead": "Your software token is issued. We are sending the service ID, the user ID and where to download the app to your mail address. Set up the app next.",
    "issued.mail": "Show the mail we sent",
    "mail.title": "The mail you receive",
    "mail.to": "To:",
    "mail.subject": "Subject:",
    "mail.subject_text": "Your software token",
    "mail.body": "Your software token has been issued. Open the app and enter the service ID and user ID below and the activation password you chose on our web site.",
    "mail.download": "Download the app",
    "mail.expires": "Valid until",
    "mail.no_password": "This mail never contains the activation password.",
    "mail.next": "When the app is set up, go back to the one-time password settings and choose \"Start using one-time passwords\".",
    "start.title": "Start using one-time passwords",
    "start.lead": "Type the one-time password the app shows, then press Start using.",
    "start.code": "One-time password",
    "start.submit": "Start using",
    "start.invalid": "Type the 6 digits the app shows.",
    "start.wrong": "That one-time password is not right. Type the newest one the app shows ({n} more wrong codes lock the token).",
    "start.replayed": "That one-time password was already used. Wait for the app to show the next one.",
    "started.title": "One-time passwords in use",
    "started.lead": "You have started using one-time passwords. From now on, logging in and sending money ask for one.",
    "end.title": "End use of one-time passwords",
    "end.lead": "End use when you change phones or can no longer use the app. The token's codes stop working at once. From the next day you can issue a new token and start using it.",
    "end.submit": "End use",
    "ended.title": "Use ended",
    "ended.lead": "You have ended use of one-time passwords. This token's codes no longer work.",
    "err.invalid_request": "Something you entered is not accepted.",
    "err.not_delivered": "The token has not reached the app yet. Enter the service ID, user ID and activation password in the app and finish its setup first.",
    "err.locked": "Locked after too many wrong entries. Issue a new token.",
    "err.ended": "This token's use has ended. Issue a new token.",
    "err.unknown_registration": "No token has been issued yet. Start with Issue a token.",
    "err.rate_limited": "Please wait a little, then try again.",
    "err.demo_ids_taken": "The demo's IDs belong to another customer's registration. Start the demo on a database of its own.",
    "err.weak_activation_password": "This activation password is too easy to guess. Repeated digits, digits in a row, years and common PINs are not accepted. Choose another.",
    "weak.repeated": "It repeats the same digits.",
    "weak.sequence": "Its digits follow each other.",
    "weak.year": "It looks like a year.",
    "weak.common": "It is one of the commonest PINs.",
    "apply.password_cleared": "That activation password cannot be used, so both fields were cleared. Type another one twice.",
    "err.network": "The bank's server does not answer. Try again in a moment.",
    "err.other": "This could not be done.",
  },
};

let view = null;
let current = "screen-top";
// The application between step 3 and step 4; forgotten once sent or abandoned.
let pending = null;
// Step 4 refused the activation password: going back clears it and says why.
let passwordRefusedAtConfirm = false;

function render() {
  document.documentElement.lang = lang;
  document.title = lang === "ja" ? "デモ銀行 ワンタイムパスワード" : "Demo Bank one-time password";
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  $("lang-switch").textContent = t("lang_switch");
  $("go-transfer").href = `/demo/transfer/?lang=${lang}${kioskQuery()}`;
  $("go-relay").href = `/demo/relay/?lang=${lang}${kioskQuery()}`;
  if (view) {
    const s = view.status;
    $("issuer").textContent = view.issuer;
    $("reg-state").textContent = t(stateKey(s));
    for (const p of ["reg", "issued", "mail"]) {
      $(`${p}-service-id`).textContent = s.service_id;
      $(`${p}-user-id`).textContent = s.user_id;
    }
    $("mail-to").textContent = s.mail;
    $("mail-url").textContent = view.download_url;
    $("mail-expires").textContent = new Date(s.expires_at * 1000).toLocaleString(lang === "ja" ? "ja-JP" : "en-GB");
  }
  for (const el of document.querySelectorAll(".error[data-key]")) showError(el.id, el.dataset.key, el.dataset.detail);
}

function stateKey(s) {
  if (s.state === "ended") return "state.ended";
  if (s.state === "in_use") return s.verify_locked ? "state.in_use_locked" : "state.in_use";
  if (s.state === "delivered") return s.verify_locked ? "state.in_use_locked" : "state.delivered";
  if (s.provision_locked) return "state.issued_locked";
  if (s.expired) return "state.issued_expired";
  return "state.issued";
}

function show(id) {
  current = id;
  for (const sec of document.querySelectorAll("main > section")) sec.hidden = sec.id !== id;
  for (const el of document.querySelectorAll(".error")) clearError(el.id);
  // The first field (or button) takes the focus; the screen starts at its top.
  const first = document.querySelector(`#${id} input, #${id} button`);
  if (first) first.focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

async function refresh() {
  const r = await call("GET", "/demo/api/status");
  if (r.ok) view = r.body;
  render();
}

// Step 3 asks the bank's own rule about the activation password (what the application would
// refuse), so an easy one is refused here and not after the confirmation password. A refused
// one is cleared from both fields.
async function passwordRefused() {
  const pw = $("password").value;
  if (!/^[0-9]{4,8}$/.test(pw)) return false;
  const r = await call("POST", "/demo/api/check-password", { activation_password: pw });
  if (r.ok) return false;
  clearPasswords();
  showServerError("apply-error", r.body);
  $("password").focus();
  return true;
}

function clearPasswords() {
  for (const id of ["password", "password-again"]) $(id).value = "";
}

async function onApplyNext() {
  clearError("apply-error");
  const mail = $("mail").value.trim();
  const again = $("mail-again").value.trim();
  const pw = $("password").value;
  const pwAgain = $("password-again").value;
  if (!/^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/.test(mail)) return showError("apply-error", "apply.mail_invalid");
  if (mail !== again) return showError("apply-error", "apply.mail_mismatch");
  if (!/^[0-9]{4,8}$/.test(pw)) return showError("apply-error", "apply.password_invalid");
  if (pw !== pwAgain) return showError("apply-error", "apply.password_mismatch");
  if (await passwordRefused()) return;
  pending = { mail, activation_password: pw };
  $("confirm-mail").textContent = mail;
  $("confirm-password").textContent = "●".repeat(pw.length);
  $("confirmation-password").value = "";
  show("screen-confirm");
}

function onConfirmBack() {
  show("screen-apply");
  if (!passwordRefusedAtConfirm) return;
  passwordRefusedAtConfirm = false;
  pending = null;
  clearPasswords();
  showError("apply-error", "apply.password_cleared");
  $("password").focus();
}

function forgetApplication() {
  passwordRefusedAtConfirm = false;
  pending = null;
  for (const id of ["password", "password-again", "confirmation-password"]) $(id).value = "";
}

async function onConfirm() {
  clearError("confirm-error");
  if (!/^[A-Za-z0-9]{6,12}$/.test($("confirmation-password").value)) {
    return showError("confirm-error", "confirm.invalid");
  }
  if (!pending) return show("screen-apply");
  const r = await call("POST", "/demo/api/apply", pending);
  if (!r.ok) {
    if (r.body.code === "weak_activation_password") passwordRefusedAtConfirm = true;
    return showServerError("confirm-error", r.body);
  }
  forgetApplication();
  $("mail").value = "";
  $("mail-again").value = "";
  view = r.body;
  render();
  show("screen-issued");
}

async function onStartUse() {
  clearError("start-error");
  const code = $("code").value.replace(/[\s-]/g, "");
  if (!/^[0-9]{6,8}$/.test(code)) return showError("start-error", "start.invalid");
  const r = await call("POST", "/demo/api/start-use", { code });
  if (!r.ok) return showServerError("start-error", r.body);
  if (r.body.accepted) {
    $("code").value = "";
    await refresh();
    return show("screen-started");
  }
  if (r.body.reason === "replayed") return showError("start-error", "start.replayed");
  $("start-error").dataset.n = String(r.body.failures_left ?? "");
  showError("start-error", "start.wrong");
}

async function onEndUse() {
  clearError("end-error");
  const r = await call("POST", "/demo/api/end-use", {});
  if (!r.ok) return showServerError("end-error", r.body);
  view = r.body;
  render();
  show("screen-ended");
}

function toTop() {
  forgetApplication();
  refresh().then(() => show("screen-top"));
}

function wire() {
  const on = (id, fn) => $(id).addEventListener("click", fn);
  on("lang-switch", () => {
    lang = lang === "ja" ? "en" : "ja";
    render();
  });
  on("go-apply", () => show("screen-apply"));
  on("go-start", () => show("screen-start"));
  on("go-end", () => show("screen-end"));
  on("apply-next", onApplyNext);
  on("apply-back", toTop);
  on("confirm-submit", onConfirm);
  on("confirm-back", onConfirmBack);
  on("confirm-cancel", toTop);
  on("issued-show-mail", () => show("screen-mail"));
  on("issued-top", toTop);
  on("mail-top", toTop);
  on("start-submit", onStartUse);
  on("start-back", toTop);
  on("started-top", toTop);
  on("end-submit", onEndUse);
  on("end-back", toTop);
  on("ended-top", toTop);
  $("password").addEventListener("change", () => {
    clearError("apply-error");
    passwordRefused();
  });
  for (const id of ["code"]) {
    $(id).addEventListener("keydown", (e) => { if (e.key === "Enter") onStartUse(); });
  }
}

// A kiosk (`/demo/?kiosk=SECONDS`, scripts/demo.sh --kiosk) forgets its visitor after that many
// seconds without input: the demo registration is re-armed for the next visitor (with the
// fixed demo password) and the pages start again at the top, in the kiosk's own language.
function watchIdle() {
  const startLang = lang;
  onIdle(async () => {
    forgetApplication();
    for (const el of document.querySelectorAll("input")) el.value = "";
    await call("POST", "/v1/demo/reset", {});
    lang = startLang;
    await refresh();
    show("screen-top");
    document.body.dataset.resets = String(Number(document.body.dataset.resets ?? "0") + 1);
  });
}

// The registration changes behind the page (the app delivers the token, the bank ends it), so
// the status is read again whenever the page comes back into view and every
// STATUS_REFRESH_MS while it is in view: one small GET, without the busy notice.
const STATUS_REFRESH_MS = 10_000;
async function refreshQuietly() {
  if (document.visibilityState !== "visible") return;
  const r = await call("GET", "/demo/api/status", undefined, true);
  if (r.ok) {
    view = r.body;
    render();
  }
}
function watchStatus() {
  document.addEventListener("visibilitychange", refreshQuietly);
  window.addEventListener("focus", refreshQuietly);
  setInterval(refreshQuietly, STATUS_REFRESH_MS);
}

wire();
watchIdle();
watchStatus();
refresh().then(() => {
  show(current);
  document.body.dataset.ready = "true";
});
