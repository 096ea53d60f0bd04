//! Across the crates: the reference server on a real loopback socket, the core client, and a
//! vault whose key lives in the real Secret Service (the test command's private gnome-keyring).
//!
//! With `SOFTTOKEN_SECRET_SERVICE=1` (the test command sets it) these tests fail if no Secret
//! Service answers; without it they print `SKIPPED: ...` and pass, so a plain `cargo test` works
//! on a machine without one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use rand_core::{OsRng, RngCore};
use serde_json::{json, Value};
use softtoken_core::client::{ProvisionedToken, ProvisioningClient};
use softtoken_core::ids::{ActivationPassword, ServiceId, UserId};
use softtoken_core::totp::unix_now;
use softtoken_core::vault::{KeyStore, OsKeyStore, Vault};
use softtoken_core::Error;
use softtoken_server::testing::{BankOptions, ServedBank, TestBank};
use softtoken_tests::skip;

const ADMIN: &str = "cross-crate-admin-token-0123456789";
const SERVICE: &str = "10112231";
const PASSWORD: &str = "482913";

/// The bank: a real server on 127.0.0.1:0 over its own SQLite file, until dropped.
async fn bank() -> ServedBank {
    let options = BankOptions::default().with_admin_token(ADMIN).unwrap();
    TestBank::open(options).unwrap().serve().await.unwrap()
}

/// What the bank's web tier does: an admin call with the bank's credential.
async fn admin(url: &str, path: &str, body: Value) -> (u16, Value) {
    softtoken_core::client::install_tls_provider();
    let resp = reqwest::Client::new()
        .post(format!("{url}{path}"))
        .bearer_auth(ADMIN)
        .json(&body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

/// A keychain entry for one test, deleted afterwards; `None` when there is no Secret Service
/// and none is required (the test was skipped).
struct Entry(String);

impl Entry {
    fn new() -> Option<Self> {
        let probe = OsKeyStore::new().get("softtoken-tests-probe");
        match probe {
            Ok(_) => Some(Self(format!("cross-crate-{:016x}", OsRng.next_u64()))),
            Err(e) => {
                let why = format!(
                    "no Secret Service answers ({e}); run it with SOFTTOKEN_SECRET_SERVICE=1 \
                     under scripts/with-secret-service.sh, as scripts/test.sh does"
                );
                skip::missing(Some("SOFTTOKEN_SECRET_SERVICE"), &why);
                None
            }
        }
    }

    fn open(&self, path: &Path) -> Vault {
        // A fresh keychain connection each time, as after a restart of the app.
        Vault::open(path, Arc::new(OsKeyStore::new()), &self.0).unwrap()
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        let _ = OsKeyStore::new().delete(&self.0);
    }
}

async fn issue(url: &str) -> String {
    let (status, body) = admin(
        url,
        "/v1/admin/registrations",
        json!({"service_id": SERVICE, "mail": "hanako@example.jp", "activation_password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["user_id"].as_str().unwrap().to_owned()
}

/// Step 7 as the app does it: fetch the token and store it in `vault` before acknowledging.
async fn fetch(
    url: &str,
    user: &str,
    password: &str,
    vault: &mut Vault,
) -> softtoken_core::Result<ProvisionedToken> {
    let client = ProvisioningClient::new(url)?;
    let confirmed = client
        .handshake(
            &ServiceId::new(SERVICE)?,
            &UserId::new(user)?,
            &ActivationPassword::new(password)?,
            unix_now(),
        )
        .await?;
    let id = vault.add(confirmed.token, unix_now())?;
    Ok(client.ack(confirmed.ack.stored(id)).await)
}

#[tokio::test]
async fn customer_fetches_a_token_into_the_keychain_vault_and_the_bank_starts_using_it() {
    let Some(entry) = Entry::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let bank = bank().await;
    let url = bank.url.clone();
    let user = issue(&bank.admin_url).await;
    let vault_path = dir.path().join("tokens.vault");

    // Step 7: the app fetches the token and stores it before acknowledging.
    let mut vault = entry.open(&vault_path);
    let got = fetch(&url, &user, PASSWORD, &mut vault).await.unwrap();
    assert!(got.is_delivered(), "{:?}", got.delivery);
    vault.mark_delivered(&got.id).unwrap();
    drop(vault);

    // The app is restarted: the token is still there, delivered, and makes the bank's code.
    let vault = entry.open(&vault_path);
    let tokens = vault.tokens();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].issued.user_id.as_str(), user);
    assert!(tokens[0].delivery.pending.is_none());
    let code = vault.totp(&got.id).unwrap().code_now();

    // Steps 11–13: the customer types the code on the bank web.
    let verify = json!({"service_id": SERVICE, "user_id": user, "code": code.as_str()});
    let (status, body) = admin(&bank.admin_url, "/v1/admin/verify", verify.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], true, "{body}");
    assert_eq!(body["state"], "in_use", "{body}");

    // Someone who saw the code cannot use it again.
    let (_, body) = admin(&bank.admin_url, "/v1/admin/verify", verify).await;
    assert_eq!(body["accepted"], false, "{body}");
    assert_eq!(body["reason"], "replayed", "{body}");
}

#[tokio::test]
async fn customer_cannot_fetch_the_same_token_twice_and_keeps_the_one_they_have() {
    let Some(entry) = Entry::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let bank = bank().await;
    let url = bank.url.clone();
    let user = issue(&bank.admin_url).await;
    let vault_path = dir.path().join("tokens.vault");

    let mut vault = entry.open(&vault_path);
    let first = fetch(&url, &user, PASSWORD, &mut vault).await.unwrap();
    vault.mark_delivered(&first.id).unwrap();
    let before = std::fs::read(&vault_path).unwrap();

    let again = fetch(&url, &user, PASSWORD, &mut vault).await;
    assert!(matches!(again, Err(Error::AlreadyDelivered)), "{again:?}");
    assert_eq!(std::fs::read(&vault_path).unwrap(), before, "the vault must be left as it was");
    assert_eq!(entry.open(&vault_path).tokens().len(), 1);
}

#[tokio::test]
async fn customer_typing_the_wrong_activation_password_stores_nothing() {
    let Some(entry) = Entry::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let bank = bank().await;
    let url = bank.url.clone();
    let user = issue(&bank.admin_url).await;
    let vault_path = dir.path().join("tokens.vault");

    let mut vault = entry.open(&vault_path);
    let got = fetch(&url, &user, "000000", &mut vault).await;
    assert!(matches!(got, Err(Error::WrongActivationPassword { tries_left: 4 })), "{got:?}");
    assert!(vault.tokens().is_empty());
    assert!(!vault_path.exists(), "no vault file is written for a refused token");
    // Nor is a key left behind in the keychain for a vault that was never written.
    assert!(OsKeyStore::new().get(&entry.0).unwrap().is_none());
}
