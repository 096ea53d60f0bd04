//! The web view gets codes and seconds, never a seed: a token with a known seed goes into the
//! vault, every command runs (each of `softtoken_app::commands::NAMES`), and no response
//! (success or error) contains the seed, nor a transaction confirmation key derived from it,
//! nor a MAC of a confirmation request, in any common encoding.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

// Shared with tests/confirmations.rs, which uses all of it.
#[allow(dead_code)]
mod confirm_bank;

use std::sync::Arc;

use base64::Engine as _;
use softtoken_app::config::{Config, ServerTrust};
use softtoken_app::ops::{self, AppState};
use softtoken_core::ids::{DisplayName, ServiceId, UserId};
use softtoken_core::token::Delivery;
use softtoken_core::totp::{ClockOffset, Seed, TotpParams};
use softtoken_core::vault::{IssuedToken, MemoryKeyStore, NewToken, Vault};
use zeroize::Zeroizing;

/// ASCII, so even a "raw" leak would be visible in JSON text.
const SEED: &[u8; 32] = b"KNOWN-seed-for-the-leak-test-32b";
const NOW: u64 = 1_700_000_000;
const KEY_NAME: &str = "vault-key";

/// Every way a seed might be spelled in a response.
fn spellings(seed: &[u8]) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let hex = data_encoding::HEXLOWER.encode(seed);
    let b32 = data_encoding::BASE32.encode(seed);
    let b32_nopad = data_encoding::BASE32_NOPAD.encode(seed);
    let mut all = vec![
        String::from_utf8_lossy(seed).into_owned(),
        hex.clone(),
        hex.to_uppercase(),
        b32.clone(),
        b32_nopad.clone(),
        b32.to_lowercase(),
        b32_nopad.to_lowercase(),
        STANDARD.encode(seed),
        STANDARD_NO_PAD.encode(seed),
        URL_SAFE.encode(seed),
        URL_SAFE_NO_PAD.encode(seed),
        // A byte array as serde_json writes a Vec<u8>.
        serde_json::to_string(&seed.to_vec()).unwrap(),
    ];
    // A prefix is enough to give the seed away; 12 bytes of it is already a leak.
    let prefix = &seed[..12];
    all.push(data_encoding::HEXLOWER.encode(prefix));
    all.push(STANDARD_NO_PAD.encode(prefix));
    all.push(data_encoding::BASE32_NOPAD.encode(prefix));
    all
}

/// The seed and every key derived from it.
fn secrets() -> Vec<Vec<u8>> {
    let keys = confirm_bank::keys_of(SEED);
    let derived = [&keys.bank, &keys.app, &keys.offline].map(|k| k.expose().to_vec());
    std::iter::once(SEED.to_vec()).chain(derived).collect()
}

fn leaks(response: &str) -> Option<String> {
    secrets().iter().flat_map(|secret| spellings(secret)).find(|s| response.contains(s.as_str()))
}

#[test]
fn the_leak_check_finds_a_seed_in_any_spelling() {
    for s in secrets().iter().flat_map(|secret| spellings(secret)) {
        assert!(leaks(&format!("{{\"x\":\"{s}\"}}")).is_some(), "{s}");
    }
    assert!(leaks("{\"code\":\"123456\"}").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_command_response_contains_the_seed_of_a_stored_token() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Arc::new(MemoryKeyStore::new());
    let path = dir.path().join(softtoken_app::config::VAULT_FILE);
    let id = {
        let mut vault = Vault::open(&path, keys.clone(), KEY_NAME).unwrap();
        vault
            .add(
                NewToken {
                    issued: IssuedToken {
                        service_id: ServiceId::new("10112231").unwrap(),
                        user_id: UserId::new("999800000001").unwrap(),
                        display_name: DisplayName::new("テスト信用組合", "").unwrap(),
                        issuer: "テスト信用組合".into(),
                        params: TotpParams::default(),
                        offset: ClockOffset(0),
                    },
                    seed: Seed::new(Zeroizing::new(SEED.to_vec())).unwrap(),
                    delivery: Delivery::ACKNOWLEDGED,
                },
                NOW,
            )
            .unwrap()
    };
    let config = Config {
        // Port 9 (discard) on loopback: nothing listens, so provisioning fails fast.
        server_url: "http://127.0.0.1:9".into(),
        data_dir: dir.path().to_path_buf(),
        key_name: KEY_NAME.into(),
        kiosk: true,
        kiosk_idle_secs: 60,
        kiosk_area: None,
        server_trust: ServerTrust::default(),
        pin_required: false,
    };
    let state = AppState::new(config, keys);
    let id = id.as_str().to_owned();

    let mut responses: Vec<(&str, String)> = Vec::new();
    let json = |v: &dyn erased::Json| v.to_json();
    let list = ops::list_tokens(&state, NOW).await;
    let code = list.as_ref().unwrap()[0].code.clone();
    responses.push(("list_tokens", json(&list)));
    responses.push(("app_info", json(&ops::app_info(&state))));
    responses
        .push(("rename_token", json(&ops::rename_token(&state, &id, "熊本", "個人", NOW).await)));
    responses.push(("rename_token bad", json(&ops::rename_token(&state, &id, "", "", NOW).await)));
    responses.push((
        "reorder_tokens",
        json(&ops::reorder_tokens(&state, std::slice::from_ref(&id)).await),
    ));
    responses.push(("copy_code", json(&ops::copy_code(&state, &id, NOW).await)));
    responses.push(("resume_pending", json(&ops::resume_pending(&state).await)));
    let pw = || Zeroizing::new("1234".to_owned());
    responses.push(("activate bad", json(&ops::activate(&state, "1", "2", pw(), NOW).await)));
    responses.push((
        "activate offline",
        json(&ops::activate(&state, "10112231", "999800000002", pw(), NOW).await),
    ));
    // The move's commands, with the bank out of reach: refused, nothing of the token in them.
    let (chosen, again) = (|| Zeroizing::new("4826".to_owned()), || Zeroizing::new("4826".into()));
    let start = ops::start_move(&state, &id, chosen(), again(), None, NOW).await;
    responses.push(("start_move offline", json(&start)));
    responses.push(("move_status offline", json(&ops::move_status(&state, &id, NOW).await)));
    responses.push(("cancel_move offline", json(&ops::cancel_move(&state, &id, NOW).await)));
    responses.push(("check_moves", json(&ops::check_moves(&state, NOW).await)));
    let unknown = "0".repeat(32);
    responses.push((
        "delete_token unknown",
        json(&ops::delete_token(&state, &unknown, false, NOW).await),
    ));
    // The bank cannot be reached here: the token stays, and the answer says only that.
    responses
        .push(("delete_token at the bank", json(&ops::delete_token(&state, &id, true, NOW).await)));
    responses.push(("list_tokens again", json(&ops::list_tokens(&state, NOW + 60).await)));
    responses.push(("delete_token", json(&ops::delete_token(&state, &id, false, NOW).await)));
    responses.push(("kiosk_reset", json(&ops::kiosk_reset(&state).await)));
    responses.push(("save_language", json(&ops::save_language(&state, ops::Language::En))));
    responses.push(("start_new_vault", json(&ops::start_new_vault(&state, NOW).await)));
    responses.push(("ui_ready", json(&ops::ui_ready())));
    // The lock's commands, in this kiosk refused but for the status (a kiosk never locks).
    let pin = || Zeroizing::new("274951".to_owned());
    responses.push(("lock_status", json(&ops::lock_status(&state, NOW).await)));
    responses.push(("unlock", json(&ops::unlock(&state, pin(), NOW).await)));
    responses.push(("set_app_pin", json(&ops::set_app_pin(&state, pin(), NOW).await)));
    responses.push(("change_app_pin", json(&ops::change_app_pin(&state, pin(), pin(), NOW).await)));
    responses.push(("remove_app_pin", json(&ops::remove_app_pin(&state, pin(), NOW).await)));
    responses.push(("lock_now", json(&ops::lock_now(&state, NOW).await)));
    responses.push(("set_lock_timeout", json(&ops::set_lock_timeout(&state, 60, NOW).await)));
    responses.push(("forgot_app_pin", json(&ops::forgot_app_pin(&state, NOW).await)));
    let lang = || "ja".to_owned();
    responses.push((
        "turn_on_biometric",
        json(&ops::turn_on_biometric(&state, pin(), lang(), NOW).await),
    ));
    responses.push(("turn_off_biometric", json(&ops::turn_off_biometric(&state, NOW).await)));
    responses.push((
        "unlock_with_biometric",
        json(&ops::unlock_with_biometric(&state, lang(), NOW).await),
    ));
    let mut confirmations = confirmation_responses().await;
    let (_, signed_mac) = confirmations.pop().unwrap();
    let shown = confirmations[0].1.clone();
    responses.extend(confirmations);

    // The responses are real: the list carried the code, the rename the new name, and the
    // offline activation the kind the screen needs.
    assert!(responses[0].1.contains(&code) && code.len() == 6, "{}", responses[0].1);
    assert!(responses[2].1.contains("熊本 個人"), "{}", responses[2].1);
    assert!(responses[8].1.contains("server_unreachable"), "{}", responses[8].1);
    // Ending use at an unreachable bank removed nothing: the next list still has the token.
    assert!(responses[14].1.contains("server_unreachable"), "{}", responses[14].1);
    assert!(responses[15].1.contains("熊本 個人"), "{}", responses[15].1);
    // The confirmation was shown with its payee, and none of its MAC went with it.
    assert!(shown.contains("ヤマダ　タロウ") && shown.contains("¥50,000"), "{shown}");
    for (command, response) in &responses {
        assert!(leaks(response).is_none(), "{command} leaked the seed: {response}");
        assert!(!response.contains(&signed_mac), "{command} sent the request's MAC: {response}");
    }
    // Every command the web view may call was asked above (a label starts with its name).
    for name in softtoken_app::commands::NAMES {
        let asked = responses.iter().any(|(label, _)| label.split(' ').next() == Some(name));
        assert!(asked, "{name} is a command the web view may call, but this test never asks it");
    }
}

/// The confirmation commands on a token of the same seed, against a bank on loopback with a
/// pending transfer: the list (shown), the offline code, a refused answer and an approval.
/// The last entry is the request's MAC as the bank sent it (base64url), not a response.
async fn confirmation_responses() -> Vec<(&'static str, String)> {
    let dir = tempfile::tempdir().unwrap();
    let bank = confirm_bank::ConfirmBank::start(SEED, NOW).await;
    let request = confirm_bank::transfer(50_000, NOW, true);
    let mac = serde_json::to_value(request.sign(bank.keys())).unwrap()["mac"].clone();
    bank.add(request, Some("07"));
    let keys = Arc::new(MemoryKeyStore::new());
    let path = dir.path().join(softtoken_app::config::VAULT_FILE);
    let id = Vault::open(&path, keys.clone(), KEY_NAME)
        .unwrap()
        .add(
            NewToken {
                issued: IssuedToken {
                    service_id: ServiceId::new(confirm_bank::SERVICE).unwrap(),
                    user_id: UserId::new(confirm_bank::USER).unwrap(),
                    display_name: DisplayName::new("テスト信用組合", "").unwrap(),
                    issuer: "テスト信用組合".into(),
                    params: TotpParams::default(),
                    offset: ClockOffset(0),
                },
                seed: Seed::new(Zeroizing::new(SEED.to_vec())).unwrap(),
                delivery: Delivery::ACKNOWLEDGED,
            },
            NOW,
        )
        .unwrap();
    let config = Config {
        server_url: bank.url.clone(),
        data_dir: dir.path().to_path_buf(),
        key_name: KEY_NAME.into(),
        kiosk: false,
        kiosk_idle_secs: 60,
        kiosk_area: None,
        server_trust: ServerTrust::default(),
        pin_required: false,
    };
    let state = AppState::new(config, keys);
    let id = id.as_str().to_owned();
    let json = |v: &dyn erased::Json| v.to_json();
    let list = ops::list_confirmations(&state, &id, NOW).await;
    let confirmation = list.as_ref().unwrap().requests[0].id.clone();
    let offline = ops::offline_code(&state, &id, "1234567", "50000", NOW).await;
    let approve = softtoken_core::confirm::Decision::Approve;
    let wrong =
        ops::answer_confirmation(&state, &confirmation, approve, Some("x"), None, NOW).await;
    let answer =
        ops::answer_confirmation(&state, &confirmation, approve, Some("07"), None, NOW).await;
    assert_eq!(answer.as_ref().unwrap().state, "approved");
    vec![
        ("list_confirmations", json(&list)),
        ("offline_code", json(&offline)),
        ("answer_confirmation bad number", json(&wrong)),
        ("answer_confirmation", json(&answer)),
        ("the request's MAC, not a response", mac.as_str().unwrap().to_owned()),
    ]
}

/// Serialises a command's result the way Tauri sends it to the web view.
mod erased {
    pub trait Json {
        fn to_json(&self) -> String;
    }
    impl<T: serde::Serialize, E: serde::Serialize> Json for Result<T, E> {
        fn to_json(&self) -> String {
            match self {
                Ok(v) => serde_json::to_string(v).unwrap(),
                Err(e) => serde_json::to_string(e).unwrap(),
            }
        }
    }
    impl Json for () {
        fn to_json(&self) -> String {
            serde_json::to_string(self).unwrap()
        }
    }
    impl Json for softtoken_app::ops::AppInfo {
        fn to_json(&self) -> String {
            serde_json::to_string(self).unwrap()
        }
    }
}
