//! The customer's ways of leaving a token behind, through the app's commands against the real
//! reference server on loopback (in process, no window): deleting a token with "also end use at
//! the bank", and what the app keeps when the bank cannot be reached. The vault key lives in
//! memory; the window tests use the real Secret Service.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::sync::Arc;

use softtoken_app::config::{Config, ServerTrust};
use softtoken_app::ops::{self, AppState};
use softtoken_core::ids::{ActivationPassword, ServiceId, UserId};
use softtoken_core::totp::unix_now;
use softtoken_core::vault::MemoryKeyStore;
use softtoken_server::bank::IssueRequest;
use softtoken_server::storage::RegistrationState;
use softtoken_server::testing::{BankOptions, TestBank};
use zeroize::Zeroizing;

const SERVICE: &str = "10112231";
const USER: &str = "999800000001";

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

fn issue(user: &str) -> IssueRequest {
    IssueRequest {
        service_id: ServiceId::new(SERVICE).unwrap(),
        user_id: Some(UserId::new(user).unwrap()),
        mail: "taro@example.invalid".into(),
        password: ActivationPassword::new("4391").unwrap(),
        expires_in_secs: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_who_deletes_a_token_and_ends_it_at_the_bank_leaves_no_code_the_bank_accepts() {
    let served = TestBank::open(BankOptions::default()).unwrap().serve().await.unwrap();
    let bank = served.bank().clone();
    let (s, u) = (ServiceId::new(SERVICE).unwrap(), UserId::new(USER).unwrap());
    bank.issue(issue(USER), unix_now()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let keys = Arc::new(MemoryKeyStore::new());
    let app = app_state(&served.url, dir.path(), &keys);
    let pw = || Zeroizing::new("4391".to_owned());
    let token = ops::activate(&app, SERVICE, USER, pw(), unix_now()).await.unwrap();
    drop(app);

    // Offline, the customer asked for both, so neither happened: the token is still here.
    let offline = app_state("http://127.0.0.1:9", dir.path(), &keys);
    let kept = ops::delete_token(&offline, &token.id, true, unix_now()).await.unwrap_err();
    assert_eq!(kept.kind, "server_unreachable");
    assert_eq!(ops::list_tokens(&offline, unix_now()).await.unwrap().len(), 1);
    drop(offline);

    let app = app_state(&served.url, dir.path(), &keys);
    let code = ops::list_tokens(&app, unix_now()).await.unwrap()[0].code.clone();
    let deleted = ops::delete_token(&app, &token.id, true, unix_now()).await.unwrap();
    assert_eq!(deleted.at_bank, "ended");
    assert!(ops::list_tokens(&app, unix_now()).await.unwrap().is_empty());
    assert_eq!(bank.status(&s, &u, unix_now()).await.unwrap().state, RegistrationState::Ended);
    // The bank refuses the last code shown (its verify reports the registration ended).
    let verdict = bank.verify(&s, &u, &code, unix_now()).await;
    assert!(verdict.as_ref().map_or(true, |v| !v.accepted), "{verdict:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_the_bank_had_already_ended_is_deleted_and_the_customer_is_told_so() {
    let served = TestBank::open(BankOptions::default()).unwrap().serve().await.unwrap();
    let bank = served.bank().clone();
    bank.issue(issue(USER), unix_now()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let app = app_state(&served.url, dir.path(), &Arc::new(MemoryKeyStore::new()));
    let pw = Zeroizing::new("4391".to_owned());
    let token = ops::activate(&app, SERVICE, USER, pw, unix_now()).await.unwrap();
    let (s, u) = (ServiceId::new(SERVICE).unwrap(), UserId::new(USER).unwrap());
    bank.revoke(&s, &u, unix_now()).await.unwrap();

    let deleted = ops::delete_token(&app, &token.id, true, unix_now()).await.unwrap();
    assert_eq!(deleted.at_bank, "already_ended");
    assert!(ops::list_tokens(&app, unix_now()).await.unwrap().is_empty());
}
