//! The app's commands against the real reference server on a loopback socket (in process),
//! without a window: what the activation screen and the start-up re-ack do, checked at the bank.
//! The vault key lives in memory here; the window tests (app_e2e.rs) use the real
//! Secret Service.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::sync::Arc;

use softtoken_app::config::{Config, ServerTrust, VAULT_FILE};
use softtoken_app::ops::{self, AppState};
use softtoken_core::ids::{ActivationPassword, ServiceId, UserId};
use softtoken_core::protocol::wire::{ConfirmResponse, StartResponse, PATH_CONFIRM, PATH_START};
use softtoken_core::protocol::ClientHandshake;
use softtoken_core::totp::{unix_now, ClockOffset};
use softtoken_core::vault::{KeyStore, MemoryKeyStore, Vault};
use softtoken_server::bank::{Bank, IssueRequest, Policy};
use softtoken_server::testing::{BankOptions, ServedBank, TestBank};
use zeroize::Zeroizing;

const SERVICE: &str = "10112231";
const KEY_NAME: &str = "vault-key";

/// The bank on 127.0.0.1:0 (`softtoken_server::testing`): the served bank, which stops when
/// dropped, its URL, and the bank itself for the admin side.
async fn bank() -> (ServedBank, String, Arc<Bank>) {
    let served = TestBank::open(BankOptions::default()).unwrap().serve().await.unwrap();
    let (url, bank) = (served.url.clone(), served.bank().clone());
    (served, url, bank)
}

async fn issue(bank: &Bank, user: &str, password: &str) {
    bank.issue(
        IssueRequest {
            service_id: ServiceId::new(SERVICE).unwrap(),
            user_id: Some(UserId::new(user).unwrap()),
            mail: "taro@example.invalid".into(),
            password: ActivationPassword::new(password).unwrap(),
            expires_in_secs: None,
        },
        unix_now(),
    )
    .await
    .unwrap();
}

fn app_state(url: &str, dir: &Path, keys: Arc<dyn KeyStore>) -> AppState {
    let config = Config {
        server_url: url.to_owned(),
        data_dir: dir.to_path_buf(),
        key_name: KEY_NAME.into(),
        kiosk: false,
        kiosk_idle_secs: 180,
        kiosk_area: None,
        server_trust: ServerTrust::default(),
        pin_required: false,
    };
    AppState::new(config, keys)
}

fn pw(s: &str) -> Zeroizing<String> {
    Zeroizing::new(s.to_owned())
}

/// Steps 7's handshake as the app runs it, up to the stored token, but the ack is never sent
/// (as when the network drops right after): the token lands in the vault pending delivery.
async fn provision_without_ack(
    url: &str,
    user: &str,
    password: &str,
    dir: &Path,
    keys: Arc<dyn KeyStore>,
) {
    let (service, user) = (ServiceId::new(SERVICE).unwrap(), UserId::new(user).unwrap());
    softtoken_core::client::install_tls_provider();
    let http = reqwest::Client::new();
    let pass = ActivationPassword::new(password).unwrap();
    let (hs, start) = ClientHandshake::start(&service, &user, &pass).unwrap();
    let started: StartResponse = http
        .post(format!("{url}{PATH_START}"))
        .json(&start)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (confirmed, confirm) = hs.confirm(&started).unwrap();
    let answer: ConfirmResponse = http
        .post(format!("{url}{PATH_CONFIRM}"))
        .json(&confirm)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (token, _ack_never_sent) = confirmed.finish(&answer, unix_now()).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    Vault::open(&dir.join(VAULT_FILE), keys, KEY_NAME).unwrap().add(token, unix_now()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_activates_with_full_width_ids_and_the_bank_accepts_the_code_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_served, url, bank) = bank().await;
    issue(&bank, "999800000001", "4391").await;
    let app = app_state(&url, &dir.path().join("app"), Arc::new(MemoryKeyStore::new()));

    let token =
        ops::activate(&app, "１０１１２２３１", "9998-0000-0001", pw("４３９１"), unix_now())
            .await
            .unwrap();
    assert_eq!(
        (token.service_id.as_str(), token.user_id_masked.as_str()),
        (SERVICE, "********0001")
    );
    assert!(!token.pending_delivery, "the bank acknowledged the delivery");

    let (s, u) = (ServiceId::new(SERVICE).unwrap(), UserId::new("999800000001").unwrap());
    let code = ops::list_tokens(&app, unix_now()).await.unwrap()[0].code.clone();
    assert!(bank.verify(&s, &u, &code, unix_now()).await.unwrap().accepted);
    assert!(!bank.verify(&s, &u, &code, unix_now()).await.unwrap().accepted, "replay refused");

    // The same registration again on this device: the bank says already delivered, and the app
    // knows it was to this device (no fraud alarm); nothing added.
    let again = ops::activate(&app, SERVICE, "999800000001", pw("4391"), unix_now()).await;
    assert_eq!(again.unwrap_err().kind, "already_on_this_device");
    assert_eq!(ops::list_tokens(&app, unix_now()).await.unwrap().len(), 1);
    // Another device with the same IDs is told it went elsewhere.
    let other_dir = dir.path().join("other-phone");
    let other = app_state(&url, &other_dir, Arc::new(MemoryKeyStore::new()));
    let elsewhere = ops::activate(&other, SERVICE, "999800000001", pw("4391"), unix_now()).await;
    assert_eq!(elsewhere.unwrap_err().kind, "already_delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_reports_tries_left_and_an_unknown_user_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let (_served, url, bank) = bank().await;
    issue(&bank, "999800000003", "2461").await;
    let app = app_state(&url, &dir.path().join("app"), Arc::new(MemoryKeyStore::new()));

    let wrong = ops::activate(&app, SERVICE, "999800000003", pw("1111"), unix_now()).await;
    let e = wrong.unwrap_err();
    assert_eq!(e.kind, "wrong_activation_password");
    assert_eq!(e.tries_left, Some(Policy::default().provision_max_tries - 1));

    let unknown = ops::activate(&app, SERVICE, "999800000099", pw("1111"), unix_now()).await;
    assert_eq!(unknown.unwrap_err().kind, "unknown_registration");
    assert!(ops::list_tokens(&app, unix_now()).await.unwrap().is_empty(), "nothing stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_whose_ack_was_lost_is_removed_at_start_when_another_setup_won() {
    let dir = tempfile::tempdir().unwrap();
    let (_served, url, bank) = bank().await;
    issue(&bank, "999800000004", "1358").await;
    let (service, user) = (ServiceId::new(SERVICE).unwrap(), UserId::new("999800000004").unwrap());

    // Device 1 gets through the handshake and stores its token, but its ack never arrives.
    let keys1: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());
    let dir1 = dir.path().join("phone1");
    provision_without_ack(&url, "999800000004", "1358", &dir1, keys1.clone()).await;
    let phone1 = app_state(&url, &dir1, keys1);
    let shown = ops::list_tokens(&phone1, unix_now()).await.unwrap();
    assert!(shown[0].pending_delivery, "shown as waiting for the bank");

    // The customer sets the token up again on device 2, which completes.
    let phone2 = app_state(&url, &dir.path().join("phone2"), Arc::new(MemoryKeyStore::new()));
    ops::activate(&phone2, SERVICE, "999800000004", pw("1358"), unix_now()).await.unwrap();

    // Device 1 starts again: its late ack is refused as superseded, so the token goes.
    let notices = ops::resume_pending(&phone1).await.unwrap();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].kind, "superseded");
    assert_eq!(notices[0].name, shown[0].name);
    assert!(ops::list_tokens(&phone1, unix_now()).await.unwrap().is_empty());
    // Device 2's codes are the ones the bank accepts.
    let code = ops::list_tokens(&phone2, unix_now()).await.unwrap()[0].code.clone();
    assert!(bank.verify(&service, &user, &code, unix_now()).await.unwrap().accepted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_whose_ack_was_lost_is_delivered_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let (_served, url, bank) = bank().await;
    issue(&bank, "999800000005", "8642").await;
    let (service, user) = (ServiceId::new(SERVICE).unwrap(), UserId::new("999800000005").unwrap());
    let keys: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());
    let app_dir = dir.path().join("phone");
    provision_without_ack(&url, "999800000005", "8642", &app_dir, keys.clone()).await;
    let app = app_state(&url, &app_dir, keys);
    let code = ops::list_tokens(&app, unix_now()).await.unwrap()[0].code.clone();
    // Not delivered yet: the bank does not take its codes.
    let before = bank.verify(&service, &user, &code, unix_now()).await;
    assert!(!matches!(before, Ok(ref o) if o.accepted), "{before:?}");

    assert!(ops::resume_pending(&app).await.unwrap().is_empty());
    let after = ops::list_tokens(&app, unix_now()).await.unwrap();
    assert!(!after[0].pending_delivery);
    assert!(bank.verify(&service, &user, &after[0].code, unix_now()).await.unwrap().accepted);
}

#[test]
fn customer_who_switched_to_english_gets_english_at_the_next_start_but_a_kiosk_forgets() {
    let dir = tempfile::tempdir().unwrap();
    let keys: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());
    let first = app_state("http://127.0.0.1:9", dir.path(), keys.clone());
    assert_eq!(ops::app_info(&first).language, None, "no choice yet: the system's language");
    ops::save_language(&first, ops::Language::En).unwrap();
    let next = app_state("http://127.0.0.1:9", dir.path(), keys.clone());
    assert_eq!(ops::app_info(&next).language, Some(ops::Language::En));
    ops::save_language(&next, ops::Language::Ja).unwrap();
    assert_eq!(ops::app_info(&next).language, Some(ops::Language::Ja));

    let kiosk_dir = tempfile::tempdir().unwrap();
    let kiosk = AppState::new(
        Config {
            server_url: "http://127.0.0.1:9".into(),
            data_dir: kiosk_dir.path().to_path_buf(),
            key_name: KEY_NAME.into(),
            kiosk: true,
            kiosk_idle_secs: 180,
            kiosk_area: None,
            server_trust: ServerTrust::default(),
            pin_required: false,
        },
        keys,
    );
    ops::save_language(&kiosk, ops::Language::En).unwrap();
    assert_eq!(ops::app_info(&kiosk).language, None, "the next visitor starts afresh");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_whose_clock_was_set_back_after_activation_shows_codes_the_bank_accepts_after_its_next_look(
) {
    let dir = tempfile::tempdir().unwrap();
    let (_served, url, bank) = bank().await;
    issue(&bank, "999800000003", "5817").await;
    let keys = Arc::new(MemoryKeyStore::new());
    let app = app_state(&url, &dir.path().join("app"), keys.clone());
    let token = ops::activate(&app, SERVICE, "999800000003", pw("5817"), unix_now()).await.unwrap();
    let (s, u) = (ServiceId::new(SERVICE).unwrap(), UserId::new("999800000003").unwrap());
    // The first code, used two minutes ago, puts the token in use (the bank then answers its
    // confirmation fetches).
    let start = unix_now();
    let first = ops::list_tokens(&app, start - 120).await.unwrap()[0].code.clone();
    assert!(bank.verify(&s, &u, &first, start - 120).await.unwrap().accepted);

    // Since then the phone's clock was set back ten minutes by hand. The app's next look for
    // confirmations is refused for its time, tries again at the time the refusal names, and
    // learns the offset from the bank's authenticated clock in the accepted answer.
    let pending = ops::list_confirmations(&app, &token.id, unix_now() - 600).await.unwrap();
    let off = pending.clock_off_secs.expect("the customer is told the clock is off");
    assert!((600..=602).contains(&off), "{off}");

    // The code shown at the phone's wrong time is the bank's current one.
    let code = ops::list_tokens(&app, unix_now() - 600).await.unwrap()[0].code.clone();
    assert!(bank.verify(&s, &u, &code, unix_now()).await.unwrap().accepted);
    // Kept with the token in the vault file, for the next start too.
    let vault = Vault::open(&dir.path().join("app").join(VAULT_FILE), keys, KEY_NAME).unwrap();
    assert_eq!(vault.tokens()[0].issued.offset, ClockOffset(off));
}
