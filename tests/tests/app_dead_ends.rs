//! No dead ends (issue 10): each fault the customer can meet in the real window has a way out
//! they can see. Same machinery as `app_e2e.rs`: the app under tauri-driver + WebKitWebDriver
//! in Xvfb, the real reference server on 127.0.0.1, the test command's gnome-keyring. Each
//! test is named after what the customer does; the screenshots show the way out (ja and en).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

// Shared with the other window-test files; each uses part of it.
#[allow(dead_code, unused_imports)]
mod app_e2e_support;

use app_e2e_support::*;

const EN: [(&str, &str); 2] = [("LANG", "en_US.UTF-8"), ("LANGUAGE", "en")];
const JA: [(&str, &str); 2] = [("LANG", "ja_JP.UTF-8"), ("LANGUAGE", "ja")];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_names_a_token_with_joined_emoji() {
    let Some(_serial) = e2e_guard().await else { return };
    let world = World::start().await;
    let app = world.launch(&EN, &[]).await;
    app.phone_size().await;
    app.wait_ready().await;
    let (service, user) = world.demo_ids();
    app.fill_activation(service, user, &world.bank.demo_password).await;
    app.click("activate-submit").await;
    app.wait_visible("screen-setup").await;
    app.click("setup-next").await;
    app.wait_visible("screen-name").await;
    // 👩‍💻 and 👨‍👩‍👧: emoji joined by U+200D, as a phone's emoji keyboard types them.
    let wording = "\u{1f469}\u{200d}\u{1f4bb}\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}";
    app.set_value("added-wording", wording).await;
    app.click("name-submit").await;
    app.wait_visible("screen-otp").await;
    assert!(app.text("otp-name").await.ends_with(wording));
    app.click("otp-back").await;
    app.wait_visible("screen-list").await;
    app.click_in_token(0, "rename").await;
    app.wait_visible("screen-name").await;
    app.shoot("12-name-emoji").await;
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_switches_language_while_the_token_is_being_sent() {
    let Some(_serial) = e2e_guard().await else { return };
    let world = World::start().await;
    let gate = Gate::to(&world.bank.url);
    let app = world.launch(&[JA[0], JA[1], ("SOFTTOKEN_SERVER_URL", &gate.url)], &[]).await;
    app.phone_size().await;
    app.wait_ready().await;
    let (service, user) = world.demo_ids();
    app.fill_activation(service, user, &world.bank.demo_password).await;
    gate.close();
    app.click("activate-submit").await;
    app.wait_until("return document.getElementById('activate-submit').disabled").await;
    assert_eq!(app.text("activate-submit-label").await, "送信中…");
    app.click("lang-switch").await;
    app.wait_until("return document.documentElement.lang === 'en'").await;
    assert_eq!(app.text("activate-submit-label").await, "Sending…");
    app.shoot("12-activate-sending").await;
    assert_eq!(app.text("activate-submit-label").await, "Sending…", "after the screenshots");
    gate.open();
    app.wait_visible("screen-setup").await;
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_presses_back_while_a_wrong_password_is_being_sent() {
    let Some(_serial) = e2e_guard().await else { return };
    let world = World::start().await;
    let gate = Gate::to(&world.bank.url);
    let (service, user) = ("10112231", "999800000778");
    world.bank.issue(service, user, "4391");
    let app = world.launch(&[EN[0], EN[1], ("SOFTTOKEN_SERVER_URL", &gate.url)], &[]).await;
    app.phone_size().await;
    app.wait_ready().await;
    app.fill_activation(service, user, "1357").await;
    gate.close();
    app.click("activate-submit").await;
    app.wait_until("return document.getElementById('activate-submit').disabled").await;
    // "Back" cannot drop the answer on its way: it waits with the form, and says why.
    app.js_str("document.getElementById('activate-cancel').click(); return ''").await;
    assert!(app.displayed("screen-activate").await, "the form stays while sending");
    assert!(app.displayed("activate-wait-note").await, "says the answer is awaited");
    app.shoot("12-activate-back-while-sending").await;
    gate.open();
    app.wait_visible("activate-error").await;
    let text = app.text("activate-error").await;
    assert!(text.contains("4 more"), "the try used is shown: {text}");
    assert!(!app.displayed("activate-wait-note").await);
    // Now back works, and "Add a token" opens a fresh, sendable form.
    app.click("activate-cancel").await;
    app.wait_visible("screen-list").await;
    app.click("add-token").await;
    app.wait_visible("screen-activate").await;
    assert_eq!(app.text("activate-submit-label").await, "Send");
    assert_eq!(app.attr("activate-submit", "disabled").await, "");
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_clicks_send_again_after_a_wrong_password_and_still_sees_tries_left() {
    let Some(_serial) = e2e_guard().await else { return };
    let world = World::start().await;
    let (service, user) = ("10112231", "999800000779");
    world.bank.issue(service, user, "4391");
    let app = world.launch(&EN, &[]).await;
    app.phone_size().await;
    app.wait_ready().await;
    app.fill_activation(service, user, "1357").await;
    app.click("activate-submit").await;
    app.wait_visible("activate-error").await;
    app.wait_until("return !document.getElementById('activate-submit').disabled").await;
    // The second click of a double click lands after the answer emptied the field.
    app.click("activate-submit").await;
    app.wait_visible("password-error").await;
    assert!(app.displayed("activate-error").await, "the tries-left warning stays");
    assert!(app.text("activate-error").await.contains("4 more"));
    assert_eq!(world.bank.tries_left(service, user), 4, "the empty field sent nothing");
    app.shoot("12-activate-tries-left-kept").await;
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_with_a_long_latin_name_reads_it_whole_on_a_320_pixel_phone() {
    let Some(_serial) = e2e_guard().await else { return };
    let world = World::start().await;
    let app = world.launch_with_demo_token(&EN).await;
    app.click_in_token(0, "rename").await;
    app.wait_visible("screen-name").await;
    app.set_value("base-name", &"W".repeat(32)).await;
    app.set_value("added-wording", &"M".repeat(32)).await;
    app.click("name-submit").await;
    app.wait_visible("screen-list").await;
    app.resize((320, 640)).await;
    // Nothing sticks out of its box: each element fits inside its parent's width.
    let overflow = "const over = []; \
        for (const e of document.querySelectorAll(arguments[0])) { \
          if (e.closest('.visually-hidden')) continue; \
          const box = e.parentElement.getBoundingClientRect(); const r = e.getBoundingClientRect(); \
          if (r.right > box.right + 0.5 || e.scrollWidth > e.clientWidth + 1) \
            over.push(`${e.tagName}#${e.id}.${e.className} right ${r.right} > ${box.right} \
              or scroll ${e.scrollWidth} > ${e.clientWidth}`); \
        } return over.join('; ');";
    let card = "#tokens .token *, #tokens .token";
    let over = app.js_with(overflow, card).await;
    assert_eq!(over, "", "overflows the token card at 320 px");
    app.click_in_token(0, "delete").await;
    app.wait_visible("delete-dialog").await;
    let over = app.js_with(overflow, "#delete-dialog *, #delete-dialog").await;
    assert_eq!(over, "", "overflows the delete dialog at 320 px");
    let dialog = "const d = document.getElementById('delete-dialog').getBoundingClientRect(); \
                  return d.right <= innerWidth && d.left >= 0;";
    assert_eq!(app.js_str(dialog).await, "true", "the dialog fits the window");
    app.shoot("12-delete-long-name").await;

    // Deleted: the notice names the token, and the page stays as wide as the window, at 320 px
    // and at 390 px (an iPhone's width), rather than scrolling sideways.
    app.click("delete-confirm").await;
    app.wait_visible("notice").await;
    assert!(app.text("notice").await.contains(&"W".repeat(32)), "the notice names the token");
    let page_width = "return `${document.documentElement.scrollWidth} ${innerWidth}`";
    for width in [320, 390] {
        app.resize((width, 640)).await;
        let [page, window]: [u32; 2] = app
            .js_str(page_width)
            .await
            .split(' ')
            .map(|n| n.parse().unwrap())
            .collect::<Vec<_>>()
            .try_into()
            .unwrap();
        assert!(page <= window, "the page is {page} px wide in a {window} px window");
        assert_eq!(app.js_with(overflow, "#notice").await, "", "the notice fits at {width} px");
    }
    app.shoot("12-deleted-long-name").await;
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_unlocks_the_keychain_and_the_app_recovers_when_it_gets_the_focus_back() {
    let Some(_serial) = e2e_guard().await else { return };
    let world = World::start().await;
    let app = world.launch(&EN, &[]).await;
    app.wait_ready().await;
    app.activate_demo(&world).await;
    app.wait_visible("screen-otp").await;
    app.quit().await;
    // The session bus (and so the keychain) is at an address that does not answer yet, as when
    // the app starts before the desktop's keychain.
    let real = std::env::var("DBUS_SESSION_BUS_ADDRESS").unwrap();
    let socket = real
        .strip_prefix("unix:path=")
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("the test bus is not at a socket path: {real}"));
    let later = world.data.path().join("bus");
    let address = format!("unix:path={}", later.display());
    let app = world.launch(&[EN[0], EN[1], ("DBUS_SESSION_BUS_ADDRESS", &address)], &[]).await;
    app.phone_size().await;
    app.wait_visible("screen-error").await;
    let why = app.text("fatal-error").await;
    assert!(why.contains("keychain"), "{why}");
    assert!(app.displayed("error-retry").await, "a button to try again");
    app.shoot("12-error-keychain").await;

    // The keychain comes; the customer switches back to the app: it opens by itself.
    std::os::unix::fs::symlink(socket, &later).unwrap();
    app.js_str("window.dispatchEvent(new Event('focus')); return ''").await;
    app.wait_ready().await;
    assert_eq!(app.token_names().await.len(), 1, "the token is back");
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_sets_up_a_token_again_that_is_already_on_this_phone() {
    let Some(_serial) = e2e_guard().await else { return };
    let world = World::start().await;
    let (service, user) = ("10112231", "999800000780");
    world.bank.issue(service, user, "4391");
    let app = world.launch(&EN, &[]).await;
    app.phone_size().await;
    app.wait_ready().await;
    app.activate(service, user, "4391").await;
    app.wait_visible("screen-otp").await;
    app.click("otp-back").await;
    app.wait_visible("screen-list").await;

    app.fill_activation(service, user, "4391").await;
    app.click("activate-submit").await;
    app.wait_visible("activate-error").await;
    assert_eq!(app.attr("activate-error", "data-kind").await, "already_on_this_device");
    let text = app.text("activate-error").await;
    assert!(!text.contains("contact the bank"), "no fraud alarm: {text}");
    assert!(text.contains("already on this device"), "{text}");
    app.shoot("12-activate-already-here").await;
    app.click("activate-cancel").await;
    app.wait_visible("screen-list").await;
    assert_eq!(app.token_names().await.len(), 1);
    app.quit().await;
}

/// Damage done to the saved tokens while the app is closed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Damage {
    FlipAByte,
    Truncate,
    Empty,
    Replace,
    DeleteTheKey,
}

/// The bank issues the token (again) and the customer adds it, back to the list.
async fn add_issued_token(world: &World, app: &App, user: &str) {
    world.bank.issue("10112231", user, "4391");
    app.activate("10112231", user, "4391").await;
    app.wait_visible("screen-otp").await;
    app.click("otp-back").await;
    app.wait_visible("screen-list").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_with_damaged_tokens_keeps_them_aside_and_adds_the_reissued_token() {
    use softtoken_core::vault::{KeyStore as _, OsKeyStore};
    let Some(_serial) = e2e_guard().await else { return };
    let world = World::start().await;
    let dir = world.data.path().join("tokens");
    let vault = dir.join(softtoken_app::config::VAULT_FILE);
    let key_name = format!("{}@{}", softtoken_app::config::VAULT_KEY_NAME, dir.display());
    // Where the app under test files its key: a debug build's own service (config::KEYCHAIN_SERVICE).
    let keychain = OsKeyStore::with_service(softtoken_app::config::KEYCHAIN_SERVICE);
    let app = world.launch(&EN, &[]).await;
    app.phone_size().await;
    app.wait_ready().await;
    add_issued_token(&world, &app, "999800000790").await;
    app.quit().await;

    let damages =
        [Damage::FlipAByte, Damage::Truncate, Damage::Empty, Damage::Replace, Damage::DeleteTheKey];
    for (round, damage) in damages.into_iter().enumerate() {
        let key = keychain.get(&key_name).unwrap().expect("the vault's key is in the keychain");
        let mut bytes = std::fs::read(&vault).unwrap();
        match damage {
            Damage::FlipAByte => {
                let i = bytes.len() / 2;
                bytes[i] ^= 0x01;
            }
            Damage::Truncate => bytes.truncate(bytes.len() / 2),
            Damage::Empty => bytes.clear(),
            Damage::Replace => bytes = b"a photo saved under the wrong name".to_vec(),
            Damage::DeleteTheKey => keychain.delete(&key_name).unwrap(),
        }
        std::fs::write(&vault, &bytes).unwrap();

        let app = world.launch(&EN, &[]).await;
        app.phone_size().await;
        app.wait_visible("screen-error").await;
        assert!(app.displayed("error-new-vault").await, "{damage:?}: a way forward");
        assert!(app.displayed("error-damaged").await, "{damage:?}: the steps");
        assert!(!app.displayed("error-retry").await, "{damage:?}: trying again cannot mend it");
        let heading = app.text("error-heading").await;
        assert_eq!(heading, "The saved tokens cannot be opened", "{damage:?}: not \"try again\"");
        if round == 0 {
            app.shoot("12-error-damaged").await;
        }
        app.click("error-new-vault").await;
        app.wait_ready().await;
        app.wait_visible("empty").await;
        let told = app.text("notice").await;
        assert!(told.contains(".damaged-"), "{damage:?}: says where the old data is: {told}");
        if round == 0 {
            app.shoot("12-list-after-start-again").await;
        }

        // The damaged file is kept as it was, beside its key under a matching name.
        let kept: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with("tokens.vault.damaged-"))
            .collect();
        assert_eq!(kept.len(), round + 1, "{damage:?}: every damaged file kept: {kept:?}");
        let newest = kept.iter().max_by_key(|n| (n.len(), n.as_str())).unwrap();
        assert!(told.contains(newest.as_str()), "{told} names {newest}");
        assert_eq!(std::fs::read(dir.join(newest)).unwrap(), bytes, "{damage:?}: kept unchanged");
        let suffix = newest.trim_start_matches("tokens.vault");
        let kept_key = keychain.get(&format!("{key_name}{suffix}")).unwrap();
        if damage == Damage::DeleteTheKey {
            assert!(kept_key.is_none());
        } else {
            assert_eq!(kept_key.as_deref(), Some(&*key), "{damage:?}: its key kept beside it");
        }

        // The bank issues the token again; the customer adds it and sees its code.
        add_issued_token(&world, &app, &format!("99980000079{}", round + 1)).await;
        assert_eq!(app.token_names().await.len(), 1);
        app.quit().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_whose_delivery_ack_was_lost_is_told_to_wait_until_the_app_delivers_it() {
    use softtoken_core::protocol::wire::PATH_ACK;
    let Some(_serial) = e2e_guard().await else { return };
    let world = World::start().await;
    let gate = Gate::to(&world.bank.url);
    let (service, user) = ("10112231", "999800000781");
    world.bank.issue(service, user, "4391");
    let app = world.launch(&[EN[0], EN[1], ("SOFTTOKEN_SERVER_URL", &gate.url)], &[]).await;
    app.phone_size().await;
    app.wait_ready().await;
    // The server goes down just as the app tells it the token arrived.
    gate.drop_requests_to(PATH_ACK);
    app.activate(service, user, "4391").await;
    app.wait_visible("screen-otp").await;
    assert!(app.displayed("otp-pending").await, "says the bank does not have the token yet");
    assert!(!app.displayed("otp-instruction").await, "does not ask to type the code");
    let code = app.current_code().await;
    let refused = world.bank.try_verify(service, user, &code).unwrap_err();
    assert!(refused.contains("not been delivered"), "the bank refuses it, as said: {refused}");
    app.shoot("12-otp-pending").await;

    // The server is back; the customer's phone comes back online: the app delivers by itself,
    // without a restart, and the screen now asks for the code, which the bank accepts.
    gate.pass_all();
    app.js_str("window.dispatchEvent(new Event('online')); return ''").await;
    app.wait_hidden("otp-pending").await;
    assert!(app.displayed("otp-instruction").await);
    let code = app.current_code().await;
    assert!(world.bank.verify(service, user, &code), "the bank accepts the code now");
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_whose_second_start_cannot_find_the_first_is_told_it_is_already_open() {
    let Some(_serial) = e2e_guard().await else { return };
    let world = World::start().await;
    let first = world.launch(&EN, &[]).await;
    first.wait_ready().await;
    first.activate_demo(&world).await;
    first.wait_visible("screen-otp").await;

    // A second start normally hands over to the first window (app_one_window.rs); one that
    // cannot reach it (here: no session bus) still finds the vault held, and says so.
    let no_bus = format!("unix:path={}", world.data.path().join("no-bus").display());
    let second = world.launch(&[EN[0], EN[1], ("DBUS_SESSION_BUS_ADDRESS", &no_bus)], &[]).await;
    second.phone_size().await;
    second.wait_visible("screen-error").await;
    let why = second.text("fatal-error").await;
    assert!(why.contains("already open in another window"), "{why}");
    assert!(second.displayed("error-retry").await);
    assert_eq!(second.text("error-heading").await, "The app is already open");
    second.shoot("12-error-already-running").await;
    // The first window's vault is untouched: it still shows its code.
    assert!(first.displayed("screen-otp").await);
    // The first app ends first: both apps' `quit` wait for the data directory's lock.
    first.quit().await;
    second.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_whose_older_copy_of_the_tokens_was_put_back_is_refused_it_and_starts_again() {
    let Some(_serial) = e2e_guard().await else { return };
    let world = World::start().await;
    let dir = world.data.path().join("tokens");
    let vault = dir.join(softtoken_app::config::VAULT_FILE);
    let app = world.launch(&EN, &[]).await;
    app.phone_size().await;
    app.wait_ready().await;
    add_issued_token(&world, &app, "999800000782").await;
    let backup = std::fs::read(&vault).unwrap();
    add_issued_token(&world, &app, "999800000783").await;
    app.quit().await;

    // A backup tool puts the older file back, from before the second token: a token deleted
    // since would come back with it, so the app refuses it and offers the damaged vault's way
    // out.
    std::fs::write(&vault, &backup).unwrap();
    let app = world.launch(&EN, &[]).await;
    app.phone_size().await;
    app.wait_visible("screen-error").await;
    assert_eq!(app.text("error-heading").await, "An older copy of the tokens cannot be opened");
    assert!(app.displayed("error-rolled-back").await, "says why an older copy is refused");
    assert!(app.displayed("error-new-vault").await, "a way forward");
    assert!(!app.displayed("error-retry").await, "trying again cannot make it newer");
    app.shoot("12-error-rolled-back").await;
    app.click("error-new-vault").await;
    app.wait_ready().await;
    app.wait_visible("empty").await;
    let told = app.text("notice").await;
    assert!(told.contains("tokens.vault.older-"), "says where the older copy is: {told}");
    let kept: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("tokens.vault.older-"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(std::fs::read(dir.join(&kept[0])).unwrap(), backup, "kept as it was");
    add_issued_token(&world, &app, "999800000784").await;
    assert_eq!(app.token_names().await.len(), 1);
    app.quit().await;
}
