//! The app in its real window: the customer's steps 7–10 through WebKitGTK, driven over
//! WebDriver (tauri-driver + WebKitWebDriver) under Xvfb, with the real Secret Service (the
//! test command's private gnome-keyring) and the real reference server on 127.0.0.1; and the
//! bank's side (steps 1–6 and 11–13) on the server's demo pages in Debian's Chromium under
//! chromedriver, alone and in the whole 13-step walk with the app, in Japanese and English.
//!
//! These run when `SOFTTOKEN_E2E=1` (scripts/test.sh sets it after scripts/app-deps.sh) and
//! then fail on any missing piece; otherwise they print `SKIPPED: ...` and pass. They build the app
//! and server binaries themselves (`cargo build`), start and stop everything they use, and
//! take the screenshots of every screen in ja and en, phone and desktop size: into
//! `docs/screenshots/` when `SOFTTOKEN_UPDATE_SCREENSHOTS=1`, else into `target/screenshots/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

// Shared with the other window-test files; each uses part of it.
#[allow(dead_code, unused_imports)]
mod app_e2e_support;

use std::time::Duration;

use app_e2e_support::*;
use fantoccini::key::Key;

/// The demo registration of the reference server (FLOW.md's example IDs).
const DEMO_SERVICE: &str = "10112231";
const DEMO_USER: &str = "999800000001";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_walks_steps_7_to_10_and_the_bank_accepts_the_code_once() {
    let Some(_serial) = e2e_guard().await else { return };
    let world = World::start().await;
    // A Japanese system: the app must come up in Japanese by itself.
    let app = world.launch(&[("LANG", "ja_JP.UTF-8"), ("LANGUAGE", "ja")], &[]).await;
    app.phone_size().await;
    app.wait_ready().await;
    assert_eq!(app.js_str("return document.documentElement.lang").await, "ja");
    assert_eq!(app.text("add-token").await, "トークンを追加");
    assert!(!app.displayed("qa-badge").await, "a customer build shows no QA badge");
    app.wait_visible("empty").await;
    app.shoot("1-welcome").await;

    // Step 7: the activation form, with the IDs as a customer may type them.
    app.click("add-token").await;
    app.wait_visible("screen-activate").await;
    app.type_into("service-id", "1011").await;
    app.click("user-id").await; // leaving the field shows its problem at once
    app.wait_visible("service-id-error").await;
    assert!(app.text("service-id-error").await.contains('8'), "names the expected length");
    app.shoot("2-activate-invalid").await;
    app.set_value("service-id", "１０１１２２３１").await; // full-width, as an IME types it
    app.set_value("user-id", "9998-0000-0001").await;
    app.type_into("password", &world.bank.demo_password).await;
    assert_eq!(app.attr("password", "type").await, "password", "masked by default");
    assert_eq!(app.attr("password", "inputmode").await, "numeric");
    app.click("toggle-password").await;
    assert_eq!(app.attr("password", "type").await, "text");
    app.click("toggle-password").await;
    app.shoot("2-activate").await;
    app.click("activate-submit").await;

    // Step 8: initial setup.
    app.wait_visible("screen-setup").await;
    assert_eq!(app.text("setup-service-id").await, DEMO_SERVICE);
    assert_eq!(app.text("setup-user-id").await, "********0001");
    assert!(!app.text("setup-bank").await.is_empty());
    app.shoot("3-setup").await;
    app.click("setup-next").await;

    // Step 9: display name with a live preview.
    app.wait_visible("screen-name").await;
    let base = app.text("base-fixed").await;
    assert!(!base.is_empty());
    app.type_into("added-wording", "個人用").await;
    assert_eq!(app.text("name-preview").await, format!("{base} 個人用"));
    app.shoot("4-name").await;
    app.click("name-submit").await;

    // Step 10: the code, grouped, with its countdown.
    app.wait_visible("screen-otp").await;
    assert_eq!(app.text("otp-name").await, format!("{base} 個人用"));
    let shown = app.text("otp-code").await;
    assert!(
        shown.len() == 7 && shown.as_bytes()[3] == b' ',
        "the code is grouped as 123 456, got {shown:?}"
    );
    let spoken = app.text_content("otp-code-sr").await;
    assert!(spoken.contains(&spaced_digits(&shown)), "read digit by digit: {spoken:?}");
    assert_eq!(app.attr("otp-live", "aria-live").await, "polite");
    app.shoot("5-otp").await;

    // Steps 11–13 at the bank: the shown code starts use, once.
    let code = app.current_code().await;
    assert!(world.bank.verify(DEMO_SERVICE, DEMO_USER, &code), "the bank accepts the shown code");
    assert!(
        !world.bank.verify(DEMO_SERVICE, DEMO_USER, &code),
        "the same code replayed is refused"
    );

    // The list, then rename.
    app.click("otp-back").await;
    app.wait_visible("screen-list").await;
    app.shoot("6-list").await;
    app.click_in_token(0, "rename").await;
    app.wait_visible("screen-name").await;
    app.set_value("added-wording", "メイン").await;
    app.shoot("7-rename").await;
    app.click("name-submit").await;
    app.wait_visible("screen-list").await;
    assert_eq!(app.token_names().await, vec![format!("{base} メイン")]);

    // A second token; the customer moves it to the top, and the order is kept.
    let second_user = "999800000002";
    world.bank.issue(DEMO_SERVICE, second_user, "5628");
    app.activate(DEMO_SERVICE, second_user, "5628").await;
    app.wait_visible("screen-otp").await;
    app.click("otp-back").await;
    app.wait_visible("screen-list").await;
    let first_name = format!("{base} メイン");
    assert_eq!(app.token_names().await, vec![first_name.clone(), base.clone()]);
    app.click_in_token(1, "up").await;
    app.wait_until(&format!(
        "return document.querySelector('#tokens .token-name').textContent === {base:?}"
    ))
    .await;
    let focus_in = "return document.activeElement.closest('[data-token-id]') === \
                    document.querySelector('#tokens > li')";
    assert_eq!(app.js_str(focus_in).await, "true", "the focus moves with the token");
    app.shoot("6-list-two").await;

    // Delete asks first and explains that the bank side is separate; cancel keeps the token.
    app.click_in_token(1, "delete").await;
    app.wait_visible("delete-dialog").await;
    assert!(app.text("delete-dialog").await.contains("銀行での利用も終了する"));
    app.shoot("8-delete").await;
    app.click("delete-cancel").await;
    app.wait_hidden("delete-dialog").await;
    assert_eq!(app.token_names().await.len(), 2);

    // Restart: the tokens, their names and order, and the keychain key survive, and so does
    // the language the customer chose (Japanese here), even in an English session.
    let app = app.restart(&world, &[("LANG", "en_US.UTF-8"), ("LANGUAGE", "en")]).await;
    app.wait_ready().await;
    assert_eq!(app.js_str("return document.documentElement.lang").await, "ja");
    assert_eq!(app.token_names().await, vec![base.clone(), first_name.clone()]);
    app.click("lang-switch").await;
    assert_eq!(app.text("add-token").await, "Add a token");
    app.quit().await;

    // Dark mode follows the system (GTK's dark theme here), with the same contrast rules.
    let app = world.launch(&[("LANG", "en_US.UTF-8"), ("GTK_THEME", "Adwaita:dark")], &[]).await;
    app.phone_size().await;
    app.wait_ready().await;
    assert_eq!(
        app.js_str("return String(matchMedia('(prefers-color-scheme: dark)').matches)").await,
        "true"
    );
    app.shoot("9-list-dark").await;
    let code_after_restart = app.current_code().await;
    assert_eq!(code_after_restart.len(), 6);

    // Delete both for real: back to the welcome screen.
    for left in [1, 0] {
        app.click_in_token(0, "delete").await;
        app.wait_visible("delete-dialog").await;
        app.click("delete-confirm").await;
        app.wait_until(&format!(
            "return document.querySelectorAll('#tokens > li').length === {left}"
        ))
        .await;
    }
    app.wait_visible("empty").await;
    assert!(app.token_names().await.is_empty());
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_with_wrong_activation_password_sees_tries_left_then_locked() {
    let Some(_serial) = e2e_guard().await else { return };
    let world = World::start().await;
    let (service, user) = ("10112231", "999800000777");
    world.bank.issue(service, user, "2461");
    let app = world.launch(&[("LANG", "en_US.UTF-8"), ("LANGUAGE", "en")], &[]).await;
    app.phone_size().await;
    app.wait_ready().await;
    app.click("add-token").await;
    app.wait_visible("screen-activate").await;
    app.set_value("service-id", service).await;
    app.set_value("user-id", user).await;

    let mut last_tries = world.bank.tries_left(service, user);
    let mut shot = false;
    for attempt in 0..20 {
        app.set_value("password", "1357").await;
        // An impatient double click sends once: the bank counts one try per round.
        app.js_str(
            "const b = document.getElementById('activate-submit'); b.click(); b.click(); return ''",
        )
        .await;
        app.wait_visible("activate-error").await;
        app.wait_until("return !document.getElementById('activate-submit').disabled").await;
        let kind = app.attr("activate-error", "data-kind").await;
        let text = app.text("activate-error").await;
        if kind == "registration_locked" {
            assert!(last_tries <= 1, "locked only after the last try ({last_tries} left)");
            assert!(text.contains("locked"), "{text}");
            app.shoot("2-activate-locked").await;
            app.quit().await;
            return;
        }
        assert_eq!(kind, "wrong_activation_password", "attempt {attempt}: {text}");
        let tries = world.bank.tries_left(service, user);
        assert_eq!(tries, last_tries - 1, "one try per round, not one per click");
        if tries > 1 {
            assert!(text.contains(&tries.to_string()), "shows {tries} tries left: {text}");
        }
        if !shot {
            app.shoot("2-activate-wrong-password").await;
            shot = true;
        }
        last_tries = tries;
        // Hide the previous message so the next wait sees the new one.
        app.js_str("document.getElementById('activate-error').hidden = true; return ''").await;
    }
    panic!("the registration never locked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_whose_tokens_cannot_be_opened_tries_again_and_gets_the_list() {
    let Some(_serial) = e2e_guard().await else { return };
    let world = World::start().await;
    // A file sits where the app keeps its tokens: opening them fails until it is gone.
    let in_the_way = world.data.path().join("tokens");
    std::fs::write(&in_the_way, b"not a folder").unwrap();
    let app = world.launch(&[("LANG", "en_US.UTF-8"), ("LANGUAGE", "en")], &[]).await;
    app.phone_size().await;
    app.wait_visible("screen-error").await;
    assert_eq!(app.focused().await, "error-heading");
    let why = app.text("fatal-error").await;
    assert!(why.contains("could not be saved"), "says what failed: {why}");
    assert!(app.displayed("error-retry").await);
    assert!(!app.displayed("error-back").await, "nothing to go back to before the first list");
    app.shoot("10-error").await;

    // While the problem lasts, trying again really tries again and fails the same way.
    app.click("error-retry").await;
    app.wait_until(
        "return !document.getElementById('error-retry').disabled && \
         document.getElementById('fatal-error').textContent !== ''",
    )
    .await;
    assert!(app.displayed("screen-error").await);
    assert_eq!(app.text("fatal-error").await, why);

    // Once it is gone, trying again opens the tokens: the welcome screen, ready to add one.
    std::fs::remove_file(&in_the_way).unwrap();
    app.click("error-retry").await;
    app.wait_ready().await;
    app.wait_visible("empty").await;
    assert!(!app.displayed("screen-error").await);
    app.activate_demo(&world).await;
    app.wait_visible("screen-otp").await;
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kiosk_wipes_the_demo_token_after_idle_minutes_and_shows_the_welcome_screen() {
    let Some(_serial) = e2e_guard().await else { return };
    let world = World::start().await;
    let app = world
        .launch(
            &[
                ("LANG", "en_US.UTF-8"),
                ("LANGUAGE", "en"),
                ("SOFTTOKEN_KIOSK_IDLE_SECS", "10"),
                // The rendering mode customers get (no screenshots are taken here).
                ("WEBKIT_DISABLE_COMPOSITING_MODE", "1"),
            ],
            &["--kiosk"],
        )
        .await;
    app.wait_ready().await;
    assert!(app.displayed("kiosk-badge").await);
    // Fullscreen: the page fills the whole (virtual) screen.
    app.wait_until(
        "return window.innerWidth === screen.width && window.innerHeight === screen.height",
    )
    .await;

    // Keyboard only, as a visitor at the kiosk's keyboard: Tab to "Add a token", then type
    // and press Tab and Enter through steps 7–10.
    let (service, user) = world.demo_ids();
    let mut tabs = 0;
    while app.focused().await != "add-token" {
        app.keys(&Key::Tab.to_string()).await;
        tabs += 1;
        assert!(tabs < 10, "Tab never reaches “Add a token”");
    }
    app.keys(&Key::Enter.to_string()).await;
    app.wait_visible("screen-activate").await;
    assert_eq!(app.focused().await, "service-id", "the first field has the focus");
    app.keys(&format!("{service}{}{user}{}", Key::Tab, Key::Tab)).await;
    assert_eq!(app.focused().await, "password");
    app.keys(&format!("{}{}", world.bank.demo_password, Key::Enter)).await;
    app.wait_visible("screen-setup").await;
    app.keys(&Key::Tab.to_string()).await;
    assert_eq!(app.focused().await, "setup-next");
    app.keys(&Key::Enter.to_string()).await;
    app.wait_visible("screen-name").await;
    assert_eq!(app.focused().await, "added-wording");
    app.keys(&format!("kiosk{}", Key::Enter)).await;
    app.wait_visible("screen-otp").await;
    assert!(app.text("otp-name").await.ends_with(" kiosk"));

    // Nobody touches it: within the idle time plus a margin it is back to the welcome screen.
    app.wait_until_for("return !document.getElementById('empty').hidden", Duration::from_secs(25))
        .await;
    assert!(app.token_names().await.is_empty());
    // The server re-armed the demo registration: the next visitor can start again.
    app.activate_demo(&world).await;
    app.wait_visible("screen-otp").await;
    app.quit().await;
}

fn spaced_digits(grouped: &str) -> String {
    let digits: Vec<String> =
        grouped.chars().filter(char::is_ascii_digit).map(String::from).collect();
    digits[..3].join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qa_tester_sees_the_qa_badge_on_every_screen_of_a_qa_build() {
    let Some(_serial) = e2e_guard().await else { return };
    let world = World::start().await;
    let app = world.launch_app(qa_app(), &[("LANG", "en_US.UTF-8"), ("LANGUAGE", "en")], &[]).await;
    app.phone_size().await;
    app.wait_ready().await;
    assert!(app.displayed("qa-badge").await, "the QA badge on the list");
    assert_eq!(app.text("qa-badge").await, "QA");
    app.shoot("11-qa-welcome").await;
    app.click("add-token").await;
    app.wait_visible("screen-activate").await;
    assert!(app.displayed("qa-badge").await, "the QA badge on the activation form");
    app.shoot("11-qa-activate").await;
    app.quit().await;
}

/// Steps 3–5 on the demo bank's pages: the application, its confirmation, the completion;
/// then the step-6 mail on screen. Leaves the pages on the mail. `shots`: screenshots of the
/// confirmation and the completion.
async fn apply_on_bank_pages(pages: &App, mail: &str, password: &str, shots: bool) {
    pages.click("go-apply").await;
    pages.wait_visible("screen-apply").await;
    pages.set_value("mail", mail).await;
    pages.set_value("mail-again", mail).await;
    pages.set_value("password", password).await;
    pages.set_value("password-again", password).await;
    pages.click("apply-next").await;
    pages.wait_visible("screen-confirm").await;
    assert_eq!(pages.text("confirm-mail").await, mail);
    if shots {
        pages.shoot("22-bank-confirm").await;
    }
    pages.set_value("confirmation-password", "demo2025").await;
    pages.click("confirm-submit").await;
    pages.wait_visible("screen-issued").await;
    if shots {
        pages.shoot("23-bank-issued").await;
    }
    pages.click("issued-show-mail").await;
    pages.wait_visible("screen-mail").await;
}

/// Step 7 as the app does it, without the app: the token's seed, for the code of the moment.
async fn provision_like_the_app(url: &str, password: &str) -> softtoken_core::protocol::NewToken {
    use softtoken_core::client::ProvisioningClient;
    use softtoken_core::ids::{ActivationPassword, ServiceId, TokenId, UserId};
    let client = ProvisioningClient::new(url).unwrap();
    let confirmed = client
        .handshake(
            &ServiceId::new(DEMO_SERVICE).unwrap(),
            &UserId::new(DEMO_USER).unwrap(),
            &ActivationPassword::new(password).unwrap(),
            softtoken_core::totp::unix_now(),
        )
        .await
        .unwrap();
    assert!(client.ack(confirmed.ack.stored(TokenId::random().unwrap())).await.is_delivered());
    confirmed.token
}

fn code_of(token: &softtoken_core::protocol::NewToken) -> String {
    let totp =
        softtoken_core::totp::Totp::new(token.issued.params, &token.seed, token.issued.offset)
            .unwrap();
    totp.code_now().as_str().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visitor_applies_reads_the_mail_starts_and_ends_use_on_the_bank_pages() {
    let Some(_serial) = e2e_guard().await else { return };
    let bank = Bank::start(&binaries().server);
    // A browser set to Japanese gets the pages in Japanese.
    let pages = open_bank_pages(&bank, "ja", "").await;
    assert_eq!(pages.js_str("return document.documentElement.lang").await, "ja");
    pages.wait_visible("screen-top").await;
    assert_eq!(pages.text("reg-service-id").await, DEMO_SERVICE);
    assert_eq!(pages.text("reg-user-id").await, DEMO_USER);
    assert_eq!(pages.text("go-apply").await, "トークン発行");
    pages.shoot("20-bank-top").await;

    // Step 3: the two mail addresses must match.
    pages.click("go-apply").await;
    pages.wait_visible("screen-apply").await;
    pages.shoot("21-bank-apply").await;
    pages.set_value("mail", "taro@example.jp").await;
    pages.set_value("mail-again", "taro@example.co.jp").await;
    pages.set_value("password", "7294").await;
    pages.set_value("password-again", "7294").await;
    pages.click("apply-next").await;
    pages.wait_visible("apply-error").await;
    assert!(pages.text("apply-error").await.contains("一致しません"));
    pages.shoot("21-bank-apply-mismatch").await;

    // Step 4: what the bank refuses is shown with its reason (here a mail address only the
    // server checks), in the visitor's words with the server's message.
    pages.set_value("mail", "taro@.example.jp").await;
    pages.set_value("mail-again", "taro@.example.jp").await;
    pages.click("apply-next").await;
    pages.wait_visible("screen-confirm").await;
    pages.set_value("confirmation-password", "demo2025").await;
    pages.click("confirm-submit").await;
    pages.wait_visible("confirm-error").await;
    let refusal = pages.text("confirm-error").await;
    assert!(refusal.contains("入力内容に誤りがあります"), "{refusal}");
    assert!(refusal.contains("mail address is not valid"), "{refusal}");
    pages.shoot("22-bank-confirm-refused").await;
    pages.click("confirm-back").await;
    pages.wait_visible("screen-apply").await;
    pages.click("apply-back").await;
    pages.wait_visible("screen-top").await;

    // Steps 3–6 as a customer does them.
    apply_on_bank_pages(&pages, "taro@example.jp", "7294", true).await;
    assert_eq!(pages.text("mail-to").await, "taro@example.jp");
    assert_eq!(pages.text("mail-service-id").await, DEMO_SERVICE);
    assert_eq!(pages.text("mail-user-id").await, DEMO_USER);
    assert!(pages.text("mail-url").await.starts_with("https://"));
    assert!(!pages.text("mail-expires").await.is_empty());
    let mail = pages.js_str("return document.getElementById('screen-mail').innerText").await;
    assert!(!mail.contains("7294"), "the mail shows the activation password: {mail}");
    pages.shoot("24-bank-mail").await;

    pages.click("mail-top").await;
    pages.wait_visible("screen-top").await;
    assert!(pages.text("reg-state").await.contains("アプリでの設定待ち"));

    // Step 7, as the app does it, with the password chosen on the pages.
    let token = provision_like_the_app(&bank.url, "7294").await;

    // Steps 11–12: a wrong code is refused with the tries left; the right one starts use.
    pages.click("go-start").await;
    pages.wait_visible("screen-start").await;
    let right = code_of(&token);
    let wrong: String = right
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i == 0 {
                if c == '9' {
                    '0'
                } else {
                    '9'
                }
            } else {
                c
            }
        })
        .collect();
    pages.set_value("code", &wrong).await;
    pages.click("start-submit").await;
    pages.wait_visible("start-error").await;
    assert!(pages.text("start-error").await.contains("正しくありません"));
    pages.shoot("25-bank-start-wrong").await;
    pages.set_value("code", &code_of(&token)).await;
    pages.click("start-submit").await;
    // Step 13.
    pages.wait_visible("screen-started").await;
    pages.shoot("26-bank-started").await;
    pages.click("started-top").await;
    pages.wait_visible("screen-top").await;
    assert_eq!(pages.text("reg-state").await, "ワンタイムパスワード利用中");

    // 利用終了: the bank ends use; the token's codes stop working at once.
    pages.click("go-end").await;
    pages.wait_visible("screen-end").await;
    pages.shoot("27-bank-end").await;
    pages.click("end-submit").await;
    pages.wait_visible("screen-ended").await;
    pages.shoot("28-bank-ended").await;
    pages.click("ended-top").await;
    pages.wait_visible("screen-top").await;
    assert_eq!(pages.text("reg-state").await, "利用終了");
    pages.click("go-start").await;
    pages.wait_visible("screen-start").await;
    pages.set_value("code", &code_of(&token)).await;
    pages.click("start-submit").await;
    pages.wait_visible("start-error").await;
    assert!(pages.text("start-error").await.contains("利用終了"));
    pages.quit().await;
}

/// The whole manual on one machine: the bank pages (steps 1–6) → the app (steps 7–10) → the
/// bank pages (steps 11–13), as a visitor at a branch kiosk walks it.
async fn visitor_walks_all_13_steps(lang: &str) {
    let world = World::start().await;
    let pages = open_bank_pages(&world.bank, lang, "").await;
    assert_eq!(pages.js_str("return document.documentElement.lang").await, lang);
    apply_on_bank_pages(&pages, "hanako@example.jp", "58203", false).await;
    let service = pages.text("mail-service-id").await;
    let user = pages.text("mail-user-id").await;

    let locale = if lang == "ja" { "ja_JP.UTF-8" } else { "en_US.UTF-8" };
    let app = world.launch(&[("LANG", locale), ("LANGUAGE", lang)], &[]).await;
    app.phone_size().await;
    app.wait_ready().await;
    app.activate(&service, &user, "58203").await;
    app.wait_visible("screen-otp").await;
    let code = app.current_code().await;

    pages.click("mail-top").await;
    pages.wait_visible("screen-top").await;
    pages.click("go-start").await;
    pages.wait_visible("screen-start").await;
    pages.set_value("code", &code).await;
    pages.click("start-submit").await;
    pages.wait_visible("screen-started").await;
    pages.click("started-top").await;
    pages.wait_visible("screen-top").await;
    let in_use = if lang == "ja" {
        "ワンタイムパスワード利用中"
    } else {
        "One-time passwords in use"
    };
    assert_eq!(pages.text("reg-state").await, in_use);

    // 意思確認 at a transfer: the app shows what the bank received, and only the customer's
    // answer there moves money.
    transfer_approved_in_the_app(&pages, &app, lang).await;
    relayed_transfer_refused_in_the_app(&pages, &app, lang).await;
    app.quit().await;
    pages.quit().await;
}

/// Fills the demo bank's transfer form (on the transfer or the relay page) and sends it.
async fn send_transfer_form(pages: &App, amount: &str) {
    pages.set_value("payee-bank", "みらい信用金庫").await;
    pages.set_value("payee-branch", "本店営業部").await;
    pages.set_value("payee-account", "1234567").await;
    pages.set_value("payee-holder", "ヤマダ　タロウ").await;
    pages.set_value("amount", amount).await;
    pages.click("form-next").await;
    pages.wait_visible("screen-approve").await;
}

/// The token screen shows the bank's request (it looks every few seconds).
async fn app_shows_the_request(app: &App) {
    app.wait_until_for(
        "return !document.getElementById('screen-confirm').hidden \
         && !document.getElementById('confirm-request').hidden",
        Duration::from_secs(30),
    )
    .await;
}

/// The decision's second press, once it is armed.
async fn press_the_second_time(app: &App) {
    app.wait_visible("confirm-step").await;
    app.wait_until("return !document.getElementById('confirm-final').disabled").await;
    app.click("confirm-final").await;
    app.wait_visible("confirm-result").await;
    app.click("confirm-done").await;
}

async fn transfer_approved_in_the_app(pages: &App, app: &App, lang: &str) {
    pages.click("go-transfer").await;
    pages.wait_visible("screen-form").await;
    send_transfer_form(pages, "50,000").await;
    pages.shoot("29-bank-transfer-waiting").await;
    app_shows_the_request(app).await;
    assert_eq!(
        app.attr("confirm-amount", "aria-label").await,
        if lang == "ja" { "金額 50,000円" } else { "Amount 50,000 yen" }
    );
    assert_eq!(app.text("confirm-holder").await, "ヤマダ　タロウ");
    if app.displayed("confirm-number").await {
        let number = pages.text("match-number").await;
        app.set_value("confirm-number", &number).await;
    }
    app.shoot("16-walk-confirm").await;
    app.click("confirm-approve").await;
    press_the_second_time(app).await;
    pages.wait_visible("screen-accepted").await;
    pages.shoot("30-bank-transfer-accepted").await;
}

async fn relayed_transfer_refused_in_the_app(pages: &App, app: &App, lang: &str) {
    // The page standing in for a phishing site: the customer types ¥50,000 and the relay sends
    // the bank ten times as much.
    pages.js_str("window.location.assign('/demo/relay/'); return ''").await;
    pages.wait_visible("screen-form").await;
    send_transfer_form(pages, "50,000").await;
    app_shows_the_request(app).await;
    assert_eq!(
        app.attr("confirm-amount", "aria-label").await,
        if lang == "ja" { "金額 500,000円" } else { "Amount 500,000 yen" },
        "the app shows what the bank received, not what the customer typed"
    );
    app.shoot("17-walk-relayed").await;
    app.click("confirm-not-me").await;
    press_the_second_time(app).await;
    pages.wait_visible("screen-explained").await;
    let outcome = pages.text("explained-outcome").await;
    let refused = if lang == "ja" { "振込は実行されていません" } else { "refused" };
    assert!(outcome.contains(refused), "{outcome}");
    pages.shoot("31-bank-relay-refused").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visitor_walks_all_13_steps_in_japanese() {
    let Some(_serial) = e2e_guard().await else { return };
    visitor_walks_all_13_steps("ja").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visitor_walks_all_13_steps_in_english() {
    let Some(_serial) = e2e_guard().await else { return };
    visitor_walks_all_13_steps("en").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kiosk_bank_pages_forget_the_visitor_after_idle_and_rearm_the_demo() {
    let Some(_serial) = e2e_guard().await else { return };
    let bank = Bank::start(&binaries().server);
    let pages = open_bank_pages(&bank, "ja", "?kiosk=10").await;
    // A visitor applies with a password of their own, switches to English, and walks away.
    apply_on_bank_pages(&pages, "taro@example.jp", "61835", false).await;
    pages.click("lang-switch").await;
    pages.wait_until("return document.documentElement.lang === 'en'").await;
    pages
        .wait_until_for("return document.body.dataset.resets === '1'", Duration::from_secs(25))
        .await;
    pages.wait_visible("screen-top").await;
    assert_eq!(pages.js_str("return document.documentElement.lang").await, "ja");
    assert_eq!(pages.js_str("return document.getElementById('mail').value").await, "");
    // The next visitor goes straight to the app with the demo's own password: it works again.
    let token = provision_like_the_app(&bank.url, &bank.demo_password).await;
    assert_eq!(code_of(&token).len(), 6);
    pages.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kiosk_app_beside_the_bank_pages_keeps_to_its_column_of_the_screen() {
    let Some(_serial) = e2e_guard().await else { return };
    let world = World::start().await;
    // scripts/demo.sh --kiosk on the 1280x1024 screen: the pages left, the app's column right.
    let area = [("SOFTTOKEN_KIOSK_AREA", "420x1024+860+0"), ("LANGUAGE", "en")];
    let app = world.launch(&area, &["--kiosk"]).await;
    app.wait_ready().await;
    assert!(app.displayed("kiosk-badge").await);
    app.wait_until("return window.innerWidth === 420 && window.innerHeight === 1024").await;
    assert!(app.js_str("return String(screen.width)").await.parse::<u32>().unwrap() > 420);
    app.quit().await;
}

/// The processes below `root` (children, grandchildren, …): pid, parent's pid, executable.
fn descendants(root: u32) -> Vec<(u32, u32, std::path::PathBuf)> {
    let mut parent_of = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // The field after the parenthesised command name: state, then the parent's pid.
        let Some((_, rest)) = stat.rsplit_once(')') else { continue };
        let Some(ppid) = rest.split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        parent_of.push((pid, ppid));
    }
    let mut found = vec![(root, 0)];
    let mut i = 0;
    while i < found.len() {
        let p = found[i].0;
        found.extend(parent_of.iter().filter(|(_, pp)| *pp == p).copied());
        i += 1;
    }
    found
        .into_iter()
        .skip(1)
        .filter_map(|(p, pp)| std::fs::read_link(format!("/proc/{p}/exe")).ok().map(|e| (p, pp, e)))
        .collect()
}

/// Waits until a process running `exe`, started by something else than `exe` (the main
/// process, not one of its helpers), is below `root` and is not `other_than`; its pid.
async fn wait_for_process(root: u32, exe: &std::path::Path, other_than: Option<u32>) -> u32 {
    let deadline = std::time::Instant::now() + STEP_TIMEOUT;
    loop {
        let all = descendants(root);
        // The main process of a program is the one whose parent is a live other program (the
        // script's shell). A helper process of a main one just killed (Chromium's zygote) still
        // names the dead main as parent for a moment, whose exe no longer reads: not a main one.
        let parent_is_other = |pp: u32| {
            std::fs::read_link(format!("/proc/{pp}/exe")).is_ok_and(|parent| parent != exe)
        };
        let main = all
            .iter()
            .find(|(p, pp, e)| e == exe && Some(*p) != other_than && parent_is_other(*pp));
        if let Some((pid, _, _)) = main {
            return *pid;
        }
        assert!(std::time::Instant::now() < deadline, "{} never ran", exe.display());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kiosk_script_starts_the_pages_and_the_app_again_when_they_crash() {
    use std::io::BufRead as _;
    let Some(_serial) = e2e_guard().await else { return };
    let bins = binaries();
    let xvfb = Xvfb::start();
    let dir = tempfile::tempdir().unwrap();
    let mut demo = std::process::Command::new("bash")
        .arg(workspace_root().join("scripts/demo.sh"))
        .arg("--kiosk")
        .env("DISPLAY", &xvfb.display)
        .env("SOFTTOKEN_DEMO_SERVER", &bins.server)
        .env("SOFTTOKEN_DEMO_APP", &bins.app)
        .env("SOFTTOKEN_DEMO_PORT", "0")
        .env("SOFTTOKEN_DEMO_DIR", dir.path().join("bank"))
        .env("SOFTTOKEN_DATA_DIR", dir.path().join("tokens"))
        .env("XDG_DATA_HOME", dir.path().join("xdg-data"))
        .env("XDG_CONFIG_HOME", dir.path().join("xdg-config"))
        .env("XDG_CACHE_HOME", dir.path().join("xdg-cache"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(demo.stdout.take().unwrap());
    let mut said = Vec::new();
    loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "demo.sh stopped: {said:?}");
        said.push(line.clone());
        if line.contains("Kiosk:") {
            break;
        }
    }
    // Keep reading, so a later line never meets a closed pipe.
    std::thread::spawn(move || out.lines().map_while(Result::ok).for_each(drop));
    let root = demo.id();
    let chromium = std::fs::canonicalize("/usr/lib/chromium/chromium").unwrap();
    let app = std::fs::canonicalize(&bins.app).unwrap();
    let first_app = wait_for_process(root, &app, None).await;
    let first_pages = wait_for_process(root, &chromium, None).await;

    // A crash of either: it is started again.
    for (pid, exe) in [(first_app, &app), (first_pages, &chromium)] {
        let _ = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        wait_for_process(root, exe, Some(pid)).await;
    }

    // Stopping the kiosk stops everything it started.
    let running: Vec<u32> = descendants(root).into_iter().map(|(p, _, _)| p).collect();
    terminate(&mut demo);
    let mut err = String::new();
    std::io::Read::read_to_string(demo.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(err.contains("the app stopped; starting it again"), "{said:?}\n{err}");
    assert!(err.contains("the bank's pages stopped; starting it again"), "{err}");
    let deadline = std::time::Instant::now() + STEP_TIMEOUT;
    while running.iter().any(|p| std::path::Path::new(&format!("/proc/{p}")).exists()) {
        assert!(std::time::Instant::now() < deadline, "the kiosk left processes running");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
