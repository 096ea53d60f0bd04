//! The app in its real window: the customer's steps 7–10 through WebKitGTK, driven over
//! WebDriver (tauri-driver + WebKitWebDriver) under Xvfb, with the real Secret Service (the
//! test command's private gnome-keyring) and the real reference server on 127.0.0.1.
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
    world.bank.issue(DEMO_SERVICE, second_user, "5678");
    app.activate(DEMO_SERVICE, second_user, "5678").await;
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
    assert!(app.text("delete-dialog").await.contains("ワンタイムパスワード利用終了"));
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
    world.bank.issue(service, user, "2468");
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
