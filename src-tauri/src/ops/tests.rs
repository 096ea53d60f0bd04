#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use softtoken_core::ids::{DisplayName, ServiceId, UserId};
use softtoken_core::token::Delivery;
use softtoken_core::totp::{ClockOffset, Seed, TotpParams};
use softtoken_core::vault::{IssuedToken, MemoryKeyStore, NewToken, Vault};
use zeroize::Zeroizing;

use super::{app_info, kiosk_reset, list_tokens, AppState};
use crate::config::Config;

const NOW: u64 = 1_700_000_000;

/// The app's state over a vault in `dir` that holds one token.
fn app_with_a_token(dir: &std::path::Path, kiosk: bool) -> AppState {
    let config = Config {
        // Nothing listens on the discard port: no command here talks to a bank.
        server_url: "http://127.0.0.1:9".into(),
        data_dir: dir.to_path_buf(),
        key_name: "vault-key".into(),
        kiosk,
        kiosk_idle_secs: 180,
        kiosk_area: None,
        server_trust: crate::config::ServerTrust::default(),
    };
    let keys = Arc::new(MemoryKeyStore::new());
    let mut vault = Vault::open(&config.vault_path(), keys.clone(), &config.key_name).unwrap();
    let token = NewToken {
        issued: IssuedToken {
            service_id: ServiceId::new("10112231").unwrap(),
            user_id: UserId::new("999800000001").unwrap(),
            display_name: DisplayName::new("しんきん", "").unwrap(),
            issuer: "Example Credit Union".into(),
            params: TotpParams::default(),
            offset: ClockOffset(0),
        },
        seed: Seed::new(Zeroizing::new(b"12345678901234567890".to_vec())).unwrap(),
        delivery: Delivery::ACKNOWLEDGED,
    };
    vault.add(token, NOW).unwrap();
    AppState::new(config, keys)
}

#[tokio::test]
async fn a_customers_app_refuses_the_kiosk_wipe_and_keeps_its_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_a_token(dir.path(), false);
    let refused = kiosk_reset(&app).await.unwrap_err();
    assert_eq!(refused.kind, "not_kiosk");
    assert_eq!(list_tokens(&app, NOW).await.unwrap().len(), 1);

    // A kiosk with the same token is wiped: the refusal above came from the mode alone.
    let kiosk_dir = tempfile::tempdir().unwrap();
    let kiosk = app_with_a_token(kiosk_dir.path(), true);
    kiosk_reset(&kiosk).await.unwrap();
    assert!(list_tokens(&kiosk, NOW).await.unwrap().is_empty());
}

/// Debug builds included: the badge follows the `qa` feature alone.
#[test]
fn only_a_qa_build_tells_the_screens_to_show_the_qa_badge() {
    let dir = tempfile::tempdir().unwrap();
    let info = app_info(&app_with_a_token(dir.path(), false));
    // Without the feature (a customer build, or this debug test build): no badge.
    assert_eq!(info.qa, cfg!(feature = "qa"));
}
