//! The move to a new phone (機種変更) through the app's commands, two apps (two data
//! directories, two key stores) against one real reference server on loopback, without a
//! window: the whole move, the app lock guarding it, a move started twice, the old phone offline
//! while the new one is set up, the pending move surviving the old app's restart, and a bank
//! that turned the fast path off.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::sync::Arc;

use softtoken_app::config::{Config, ServerTrust};
use softtoken_app::ops::{self, AppState};
use softtoken_core::ids::{ActivationPassword, ServiceId, UserId};
use softtoken_core::totp::unix_now;
use softtoken_core::vault::MemoryKeyStore;
use softtoken_server::bank::{Bank, IssueRequest};
use softtoken_server::storage::RegistrationState;
use softtoken_server::testing::{BankOptions, ServedBank, TestBank};
use zeroize::Zeroizing;

const SERVICE: &str = "10112231";
const OLD_USER: &str = "999800000001";
const CHOSEN: &str = "4826";
const OFFLINE: &str = "http://127.0.0.1:9";

/// One phone: its data directory and key store outlive the app state, as across a restart.
struct Phone {
    dir: tempfile::TempDir,
    keys: Arc<MemoryKeyStore>,
}

impl Phone {
    fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap(), keys: Arc::new(MemoryKeyStore::new()) }
    }

    fn app(&self, url: &str) -> AppState {
        app_state(url, self.dir.path(), &self.keys)
    }
}

fn app_state(url: &str, dir: &Path, keys: &Arc<MemoryKeyStore>) -> AppState {
    let config = Config {
        server_url: url.to_owned(),
        data_dir: dir.to_path_buf(),
        key_name: "vault-key".into(),
        kiosk: false,
        kiosk_idle_secs: 180,
        kiosk_area: None,
        server_trust: ServerTrust::default(),
        pin_required: false,
    };
    AppState::new(config, keys.clone())
}

fn pw(s: &str) -> Zeroizing<String> {
    Zeroizing::new(s.to_owned())
}

async fn bank_with(options: BankOptions) -> (ServedBank, Arc<Bank>) {
    let served = TestBank::open(options).unwrap().serve().await.unwrap();
    let bank = served.bank().clone();
    let issue = IssueRequest {
        service_id: ServiceId::new(SERVICE).unwrap(),
        user_id: Some(UserId::new(OLD_USER).unwrap()),
        mail: "taro@example.invalid".into(),
        password: ActivationPassword::new("4391").unwrap(),
        expires_in_secs: None,
    };
    bank.issue(issue, unix_now()).await.unwrap();
    (served, bank)
}

/// The old phone with its token, activated at the bank.
async fn old_phone(url: &str) -> (Phone, AppState, String) {
    let phone = Phone::new();
    let app = phone.app(url);
    let token = ops::activate(&app, SERVICE, OLD_USER, pw("4391"), unix_now()).await.unwrap();
    (phone, app, token.id)
}

async fn state_at_bank(bank: &Bank, user: &str) -> RegistrationState {
    let (s, u) = (ServiceId::new(SERVICE).unwrap(), UserId::new(user).unwrap());
    bank.status(&s, &u, unix_now()).await.unwrap().state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_moves_the_token_to_a_new_phone_and_the_old_one_learns_it_moved() {
    let (served, bank) = bank_with(BankOptions::default()).await;
    let (_old, old_app, id) = old_phone(&served.url).await;

    let moving = ops::start_move(&old_app, &id, pw(CHOSEN), pw(CHOSEN), None, unix_now());
    let moving = moving.await.unwrap();
    assert_eq!((moving.state, moving.service_id.as_str()), ("pending", SERVICE));
    let new_user = moving.new_user_id.clone().unwrap();
    assert_ne!(new_user, OLD_USER);
    assert!(moving.expires_at.unwrap() > unix_now() + 23 * 3600, "a day to set up the new phone");
    // Until the new phone is set up, the old token is listed, marked as moving, and works.
    let listed = ops::list_tokens(&old_app, unix_now()).await.unwrap();
    assert_eq!(listed[0].moving_until, moving.expires_at);
    assert_eq!(state_at_bank(&bank, OLD_USER).await, RegistrationState::Delivered);

    let new = Phone::new();
    let new_app = new.app(&served.url);
    let on_new = ops::activate(&new_app, SERVICE, &new_user, pw(CHOSEN), unix_now()).await.unwrap();
    assert!(!on_new.pending_delivery, "the bank acknowledged the new phone");
    // The ack ended the old registration at once: never two live tokens.
    assert_eq!(state_at_bank(&bank, OLD_USER).await, RegistrationState::Ended);

    let told = ops::move_status(&old_app, &id, unix_now()).await.unwrap();
    assert_eq!(told.state, "moved");
    let last = serde_json::to_value(&told).unwrap()["newUserIdLast"].clone();
    assert_eq!(last, new_user[8..]);
    assert!(ops::list_tokens(&old_app, unix_now()).await.unwrap().is_empty());
    assert_eq!(ops::list_tokens(&new_app, unix_now()).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_old_phone_cannot_start_a_move_without_the_app_pin() {
    std::env::set_var("SOFTTOKEN_TEST_PIN_COST", "small");
    let (served, _bank) = bank_with(BankOptions::default()).await;
    let (_old, old_app, id) = old_phone(&served.url).await;
    ops::set_app_pin(&old_app, pw("274951"), unix_now()).await.unwrap();

    let none = ops::start_move(&old_app, &id, pw(CHOSEN), pw(CHOSEN), None, unix_now());
    let none = none.await.unwrap_err();
    assert_eq!((none.kind, none.field), ("invalid_input", Some("app_pin")));
    let wrong =
        ops::start_move(&old_app, &id, pw(CHOSEN), pw(CHOSEN), Some(pw("999990")), unix_now());
    assert_eq!(wrong.await.unwrap_err().kind, "wrong_pin");
    // Nothing reached the bank.
    assert_eq!(ops::move_status(&old_app, &id, unix_now()).await.unwrap().state, "none");

    let right =
        ops::start_move(&old_app, &id, pw(CHOSEN), pw(CHOSEN), Some(pw("274951")), unix_now());
    assert_eq!(right.await.unwrap().state, "pending");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_for_the_new_phone_is_typed_twice_and_no_easy_guess() {
    let (served, _bank) = bank_with(BankOptions::default()).await;
    let (_old, old_app, id) = old_phone(&served.url).await;
    let differ = ops::start_move(&old_app, &id, pw(CHOSEN), pw("4827"), None, unix_now());
    assert_eq!(differ.await.unwrap_err().kind, "passwords_differ");
    let weak = ops::start_move(&old_app, &id, pw("1234"), pw("1234"), None, unix_now());
    let weak = weak.await.unwrap_err();
    assert_eq!((weak.kind, weak.reason), ("weak_activation_password", Some("sequence")));
    // Full-width digits typed twice are the same password.
    let wide = ops::start_move(&old_app, &id, pw("４８２６"), pw(CHOSEN), None, unix_now());
    assert_eq!(wide.await.unwrap().state, "pending");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_started_twice_leaves_only_the_second_new_user_id_to_set_up() {
    let (served, bank) = bank_with(BankOptions::default()).await;
    let (_old, old_app, id) = old_phone(&served.url).await;
    let first = ops::start_move(&old_app, &id, pw(CHOSEN), pw(CHOSEN), None, unix_now());
    let first = first.await.unwrap().new_user_id.unwrap();
    let second = ops::start_move(&old_app, &id, pw("5937"), pw("5937"), None, unix_now());
    let second = second.await.unwrap().new_user_id.unwrap();
    assert_ne!(first, second);
    assert_eq!(state_at_bank(&bank, &first).await, RegistrationState::Ended);

    let new = Phone::new();
    let new_app = new.app(&served.url);
    let stale = ops::activate(&new_app, SERVICE, &first, pw(CHOSEN), unix_now()).await;
    assert!(stale.is_err(), "the replaced registration cannot be set up");
    ops::activate(&new_app, SERVICE, &second, pw("5937"), unix_now()).await.unwrap();
    assert_eq!(ops::move_status(&old_app, &id, unix_now()).await.unwrap().state, "moved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_phone_offline_during_the_move_keeps_it_across_a_restart_and_learns_it_moved_at_its_next_contact(
) {
    let (served, _bank) = bank_with(BankOptions::default()).await;
    let (old, old_app, id) = old_phone(&served.url).await;
    let moving = ops::start_move(&old_app, &id, pw(CHOSEN), pw(CHOSEN), None, unix_now());
    let new_user = moving.await.unwrap().new_user_id.unwrap();
    drop(old_app);

    // The old phone restarts without a network: the move is still known, nothing is lost.
    let offline = old.app(OFFLINE);
    let e = ops::move_status(&offline, &id, unix_now()).await.unwrap_err();
    assert_eq!(e.kind, "server_unreachable");
    assert!(ops::check_moves(&offline, unix_now()).await.unwrap().is_empty());
    let listed = ops::list_tokens(&offline, unix_now()).await.unwrap();
    assert!(listed[0].moving_until.is_some(), "the pending move survived the restart");
    let again = ops::start_move(&offline, &id, pw(CHOSEN), pw(CHOSEN), None, unix_now());
    assert_eq!(again.await.unwrap_err().kind, "server_unreachable");
    drop(offline);

    let new = Phone::new();
    ops::activate(&new.app(&served.url), SERVICE, &new_user, pw(CHOSEN), unix_now()).await.unwrap();

    // Online again: its start-up look tells it the token moved, and removes it.
    let back = old.app(&served.url);
    let notices = ops::check_moves(&back, unix_now()).await.unwrap();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].kind, "moved");
    assert!(ops::list_tokens(&back, unix_now()).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_move_leaves_the_old_token_working_and_the_new_user_id_unusable() {
    let (served, bank) = bank_with(BankOptions::default()).await;
    let (_old, old_app, id) = old_phone(&served.url).await;
    let moving = ops::start_move(&old_app, &id, pw(CHOSEN), pw(CHOSEN), None, unix_now());
    let new_user = moving.await.unwrap().new_user_id.unwrap();
    assert_eq!(ops::cancel_move(&old_app, &id, unix_now()).await.unwrap().state, "cancelled");
    assert!(ops::list_tokens(&old_app, unix_now()).await.unwrap()[0].moving_until.is_none());
    assert_eq!(state_at_bank(&bank, OLD_USER).await, RegistrationState::Delivered);
    let new = Phone::new();
    let new_app = new.app(&served.url);
    let stale = ops::activate(&new_app, SERVICE, &new_user, pw(CHOSEN), unix_now());
    assert!(stale.await.is_err());
    // Cancelling again: nothing pending, the token still here.
    assert_eq!(ops::cancel_move(&old_app, &id, unix_now()).await.unwrap().state, "cancelled");
    assert_eq!(ops::list_tokens(&old_app, unix_now()).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bank_that_turned_the_move_off_is_explained_and_nothing_changes() {
    let mut options = BankOptions::default();
    options.policy.moves_enabled = false;
    let (served, _bank) = bank_with(options).await;
    let (_old, old_app, id) = old_phone(&served.url).await;
    let off = ops::start_move(&old_app, &id, pw(CHOSEN), pw(CHOSEN), None, unix_now());
    assert_eq!(off.await.unwrap_err().kind, "moves_not_offered");
    assert!(ops::list_tokens(&old_app, unix_now()).await.unwrap()[0].moving_until.is_none());
}
