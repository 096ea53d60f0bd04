//! Transaction confirmation through the app's commands against a bank on 127.0.0.1: what the
//! web view is shown, and that what the app signs is the request the bank's MAC vouched for,
//! whatever the web view sends back.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod confirm_bank;

use std::sync::Arc;

use confirm_bank::{transfer, ConfirmBank, SERVICE, USER};
use softtoken_app::config::{Config, ServerTrust};
use softtoken_app::ops::{self, AppState};
use softtoken_core::confirm::{offline, AccountNumber, Amount, ConfirmationState, Decision};
use softtoken_core::ids::{DisplayName, ServiceId, UserId};
use softtoken_core::token::Delivery;
use softtoken_core::totp::{ClockOffset, Seed, TotpParams};
use softtoken_core::vault::{IssuedToken, MemoryKeyStore, NewToken, Vault};
use zeroize::Zeroizing;

const SEED: &[u8; 32] = b"seed-of-the-confirmation-test-32";
/// The device clock; the bank's is `OFFSET` seconds ahead, as learnt at activation.
const DEVICE_NOW: u64 = 1_767_225_000;
const OFFSET: i64 = 600;
const BANK_NOW: u64 = DEVICE_NOW + OFFSET as u64;

/// The app with one delivered token of `SEED`, talking to `bank_url`; and the token's id.
fn app(dir: &std::path::Path, bank_url: &str) -> (AppState, String) {
    let config = Config {
        server_url: bank_url.into(),
        data_dir: dir.to_path_buf(),
        key_name: "vault-key".into(),
        kiosk: false,
        kiosk_idle_secs: 180,
        kiosk_area: None,
        server_trust: ServerTrust::default(),
        pin_required: false,
    };
    let keys = Arc::new(MemoryKeyStore::new());
    let mut vault = Vault::open(&config.vault_path(), keys.clone(), &config.key_name).unwrap();
    let token = NewToken {
        issued: IssuedToken {
            service_id: ServiceId::new(SERVICE).unwrap(),
            user_id: UserId::new(USER).unwrap(),
            display_name: DisplayName::new("しんきん", "").unwrap(),
            issuer: "Example Credit Union".into(),
            params: TotpParams::default(),
            offset: ClockOffset(OFFSET),
        },
        seed: Seed::new(Zeroizing::new(SEED.to_vec())).unwrap(),
        delivery: Delivery::ACKNOWLEDGED,
    };
    let id = vault.add(token, DEVICE_NOW).unwrap();
    (AppState::new(config, keys), id.as_str().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_sees_the_transfer_large_and_approves_it_with_the_number_on_the_banks_page() {
    let bank = ConfirmBank::start(SEED, BANK_NOW).await;
    bank.add(transfer(50_000, BANK_NOW - 20, true), Some("42"));
    let dir = tempfile::tempdir().unwrap();
    let (app, token) = app(dir.path(), &bank.url);

    let pending = ops::list_confirmations(&app, &token, DEVICE_NOW).await.unwrap();
    assert_eq!(pending.refused, 0);
    let shown = &pending.requests[0];
    assert_eq!((shown.kind, shown.amount.as_deref()), ("transfer", Some("¥50,000")));
    let payee = shown.payee.as_ref().unwrap();
    assert_eq!(
        (payee.holder.as_str(), payee.account_number.as_str()),
        ("ヤマダ　タロウ", "1234567")
    );
    assert_eq!((payee.bank.as_str(), payee.account_type), ("みらい信用金庫", "ordinary"));
    assert_eq!(shown.note, "家賃 12月分");
    assert!(shown.match_required);
    // Made 20 s ago (bank time) for 120 s; the device's second of expiry is on its own clock.
    assert_eq!(shown.seconds_left, 100);
    assert_eq!(shown.expires_at, DEVICE_NOW + 100);

    // Without the number nothing is sent; the customer's full-width digits are the number.
    let missing =
        ops::answer_confirmation(&app, &shown.id, Decision::Approve, None, None, DEVICE_NOW);
    let missing = missing.await.unwrap_err();
    assert_eq!((missing.kind, missing.field), ("invalid_input", Some("match_number")));
    assert_eq!(bank.answers(), 0);
    let answered = ops::answer_confirmation(
        &app,
        &shown.id,
        Decision::Approve,
        Some("４２"),
        None,
        DEVICE_NOW,
    );
    assert_eq!(answered.await.unwrap().state, "approved");
    assert_eq!(bank.state(0), ConfirmationState::Approved);

    // Answered once: the app no longer holds it, so a second press cannot send again.
    let again =
        ops::answer_confirmation(&app, &shown.id, Decision::Deny, None, None, DEVICE_NOW).await;
    assert_eq!(again.unwrap_err().kind, "unknown_confirmation");
    assert_eq!(bank.answers(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_answer_binds_the_verified_request_so_the_bank_judges_exactly_what_was_shown() {
    let bank = ConfirmBank::start(SEED, BANK_NOW).await;
    bank.add(transfer(50_000, BANK_NOW, false), None);
    let dir = tempfile::tempdir().unwrap();
    let (app, token) = app(dir.path(), &bank.url);
    let pending = ops::list_confirmations(&app, &token, DEVICE_NOW).await.unwrap();
    let id = pending.requests[0].id.clone();
    // The answer's MAC covers the digest of the request the app verified: recomputing it over
    // the bank's stored request gives the same MAC, or the bank would refuse it.
    let denied = ops::answer_confirmation(&app, &id, Decision::Deny, Some("99"), None, DEVICE_NOW);
    assert_eq!(denied.await.unwrap().state, "denied");
    let sent = bank.books.lock().unwrap().answers[0].clone();
    let held = bank.books.lock().unwrap().requests[0].0.clone();
    let expected = held.answer(bank.keys(), Decision::Deny, None).unwrap();
    assert_eq!(sent, expected, "a denial carries no number and the MAC over the bank's request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_changed_on_the_way_is_never_shown_only_counted_and_never_answered() {
    let bank = ConfirmBank::start(SEED, BANK_NOW).await;
    bank.add(transfer(50_000, BANK_NOW, false), None);
    bank.add(transfer(3_000, BANK_NOW, false), None);
    // A relay changes the payee's account number of every request on the way to the app.
    bank.books.lock().unwrap().tamper = Some(("1234567".into(), "7654321".into()));
    let dir = tempfile::tempdir().unwrap();
    let (app, token) = app(dir.path(), &bank.url);
    let pending = ops::list_confirmations(&app, &token, DEVICE_NOW).await.unwrap();
    assert!(pending.requests.is_empty(), "{pending:?}");
    assert_eq!(pending.refused, 2);

    // The web view cannot answer it by its id: the app holds only verified requests.
    let id = bank.books.lock().unwrap().requests[0].0.id().to_string();
    let r = ops::answer_confirmation(&app, &id, Decision::Approve, None, None, DEVICE_NOW).await;
    assert_eq!(r.unwrap_err().kind, "unknown_confirmation");
    assert_eq!(bank.answers(), 0);
    assert_eq!(bank.state(0), ConfirmationState::Pending);

    // Once the relay is gone the same requests are shown.
    bank.books.lock().unwrap().tamper = None;
    let pending = ops::list_confirmations(&app, &token, DEVICE_NOW).await.unwrap();
    assert_eq!((pending.requests.len(), pending.refused), (2, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_the_bank_does_not_accept_is_told_to_call_the_bank() {
    // The bank holds another seed for this registration.
    let bank = ConfirmBank::start(b"another-seed-the-bank-holds-32by", BANK_NOW).await;
    let dir = tempfile::tempdir().unwrap();
    let (app, token) = app(dir.path(), &bank.url);
    let e = ops::list_confirmations(&app, &token, DEVICE_NOW).await.unwrap_err();
    assert_eq!(e.kind, "confirmation_not_accepted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offline_code_is_the_ocra_of_the_typed_account_and_amount_at_the_banks_minute() {
    let dir = tempfile::tempdir().unwrap();
    let (app, token) = app(dir.path(), "http://127.0.0.1:9");
    let shown =
        ops::offline_code(&app, &token, "１２３-４５６７", "50,000円", DEVICE_NOW).await.unwrap();
    let keys = confirm_bank::keys_of(SEED);
    let account = AccountNumber::new("1234567").unwrap();
    let expected = offline::code(&keys, &account, Amount::new(50_000).unwrap(), BANK_NOW).unwrap();
    assert_eq!(shown.code, expected);
    assert_eq!(shown.code.len(), 8);
    assert_eq!(shown.seconds_left, 60 - BANK_NOW % 60);
    assert_eq!((shown.account_number.as_str(), shown.amount.as_str()), ("1234567", "¥50,000"));
    // Another amount, another code.
    let other = ops::offline_code(&app, &token, "1234567", "50001", DEVICE_NOW).await.unwrap();
    assert_ne!(other.code, shown.code);

    let short = ops::offline_code(&app, &token, "123456", "50000", DEVICE_NOW).await.unwrap_err();
    assert_eq!((short.kind, short.field), ("invalid_input", Some("payee_account")));
    let zero = ops::offline_code(&app, &token, "1234567", "0", DEVICE_NOW).await.unwrap_err();
    assert_eq!((zero.kind, zero.field), ("invalid_input", Some("amount")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_of_a_deleted_token_can_no_longer_be_answered_from_this_device() {
    let bank = ConfirmBank::start(SEED, BANK_NOW).await;
    bank.add(transfer(50_000, BANK_NOW, false), None);
    let dir = tempfile::tempdir().unwrap();
    let (app, token) = app(dir.path(), &bank.url);
    let id =
        ops::list_confirmations(&app, &token, DEVICE_NOW).await.unwrap().requests[0].id.clone();
    ops::delete_token(&app, &token, false, DEVICE_NOW).await.unwrap();
    let r = ops::answer_confirmation(&app, &id, Decision::Approve, None, None, DEVICE_NOW).await;
    assert_eq!(r.unwrap_err().kind, "unknown_confirmation");
    assert_eq!(bank.answers(), 0);
    assert_eq!(bank.state(0), ConfirmationState::Pending);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_app_lock_on_an_approval_needs_the_pin_typed_for_it_and_a_denial_does_not() {
    // New PINs at a tiny Argon2 cost, as the window tests ask of a debug build.
    std::env::set_var("SOFTTOKEN_TEST_PIN_COST", "small");
    let bank = ConfirmBank::start(SEED, BANK_NOW).await;
    bank.add(transfer(50_000, BANK_NOW - 20, false), None);
    bank.add(transfer(3_000, BANK_NOW - 10, false), None);
    let dir = tempfile::tempdir().unwrap();
    let (app, token) = app(dir.path(), &bank.url);
    let pin = |digits: &str| Some(Zeroizing::new(digits.to_owned()));
    ops::set_app_pin(&app, Zeroizing::new("274951".into()), DEVICE_NOW).await.unwrap();
    let pending = ops::list_confirmations(&app, &token, DEVICE_NOW).await.unwrap();
    let (first, second) = (&pending.requests[0].id, &pending.requests[1].id);

    // The phone is unlocked, but whoever holds it must still know the PIN to approve.
    let approve = Decision::Approve;
    let none = ops::answer_confirmation(&app, first, approve, None, None, DEVICE_NOW).await;
    let none = none.unwrap_err();
    assert_eq!((none.kind, none.field), ("invalid_input", Some("app_pin")));
    let wrong = ops::answer_confirmation(&app, first, approve, None, pin("999990"), DEVICE_NOW);
    let wrong = wrong.await.unwrap_err();
    assert_eq!((wrong.kind, wrong.tries_left), ("wrong_pin", Some(4)));
    assert_eq!(bank.answers(), 0, "nothing is sent without the right PIN");
    let right = ops::answer_confirmation(&app, first, approve, None, pin("274951"), DEVICE_NOW);
    assert_eq!(right.await.unwrap().state, "approved");

    let denied = ops::answer_confirmation(&app, second, Decision::Deny, None, None, DEVICE_NOW);
    assert_eq!(denied.await.unwrap().state, "denied");
    assert_eq!(bank.answers(), 2);
}
