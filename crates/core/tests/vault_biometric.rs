//! Biometric unlock: the secret the phone's fingerprint or face releases opens the locked vault
//! in place of the app PIN, and only while it is the current PIN's. Real files in a temporary
//! directory and the in-memory key store; the platform stores themselves run on devices only
//! (docs/PLATFORMS.md).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;

use softtoken_core::ids::{AppPin, DisplayName, ServiceId, UserId};
use softtoken_core::token::Delivery;
use softtoken_core::totp::{ClockOffset, Seed, TotpParams};
use softtoken_core::vault::{
    BiometricSecret, IssuedToken, MemoryKeyStore, NewToken, PinCost, Vault, FREE_PIN_TRIES,
};
use softtoken_core::Error;
use zeroize::Zeroizing;

const KEY: &str = "vault-key";
const NOW: u64 = 1_765_000_000;
const TEST_COST: PinCost = PinCost { memory_kib: 64, passes: 1, lanes: 1 };

struct Device {
    _dir: tempfile::TempDir,
    path: PathBuf,
    keys: Arc<MemoryKeyStore>,
}

impl Device {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.vault");
        Device { _dir: dir, path, keys: Arc::new(MemoryKeyStore::new()) }
    }

    /// A vault with one token and the PIN 583920.
    fn locked(&self) -> Vault {
        let mut v = Vault::open(&self.path, self.keys.clone(), KEY).unwrap();
        v.use_pin_cost_for_tests(TEST_COST);
        v.add(token(), NOW).unwrap();
        v.set_pin(&pin("583920")).unwrap();
        v
    }

    fn open_with(&self, secret: &BiometricSecret) -> softtoken_core::Result<Vault> {
        Vault::open_with_biometric_secret(&self.path, self.keys.clone(), KEY, secret)
    }

    fn tries_left(&self) -> u32 {
        Vault::lock_status(&self.path, &*self.keys, KEY, NOW).unwrap().tries_left_before_wait
    }
}

fn pin(digits: &str) -> AppPin {
    AppPin::new(digits).unwrap()
}

fn token() -> NewToken {
    NewToken {
        issued: IssuedToken {
            service_id: ServiceId::new("10112231").unwrap(),
            user_id: UserId::new("999800000001").unwrap(),
            display_name: DisplayName::new("しんきん", "").unwrap(),
            issuer: "Example Credit Union".into(),
            params: TotpParams::default(),
            offset: ClockOffset(0),
        },
        seed: Seed::new(Zeroizing::new(b"biometric-test-seed-0001".to_vec())).unwrap(),
        delivery: Delivery::ACKNOWLEDGED,
    }
}

#[test]
fn the_customers_fingerprint_opens_the_locked_vault_without_the_pin() {
    let d = Device::new();
    let v = d.locked();
    let secret = v.biometric_secret(&pin("583920"), NOW).unwrap();
    assert!(matches!(Vault::open(&d.path, d.keys.clone(), KEY), Err(Error::PinNeeded)));
    let opened = d.open_with(&secret).unwrap();
    assert!(opened.has_pin(), "the PIN stays the way in when biometrics fail");
    assert_eq!(opened.tokens().len(), 1);
    assert_eq!(format!("{secret:?}"), "BiometricSecret(<redacted>)");
    // What the platform store keeps is not the vault's key entry, nor anything the file holds.
    let file = std::fs::read(&d.path).unwrap();
    assert!(!file.windows(32).any(|w| w == secret.expose()));
}

#[test]
fn turning_biometrics_on_takes_the_right_pin_and_a_wrong_one_counts_as_a_try() {
    let d = Device::new();
    let v = d.locked();
    match v.biometric_secret(&pin("583921"), NOW) {
        Err(Error::WrongPin { tries_left_before_wait, .. }) => {
            assert_eq!(tries_left_before_wait, FREE_PIN_TRIES - 1)
        }
        other => panic!("expected a wrong PIN, got {other:?}"),
    }
    assert_eq!(d.tries_left(), FREE_PIN_TRIES - 1);
    v.biometric_secret(&pin("583920"), NOW).unwrap();
    assert_eq!(d.tries_left(), FREE_PIN_TRIES, "the right PIN clears the count");
}

#[test]
fn a_vault_without_a_pin_offers_no_biometric_unlock() {
    let d = Device::new();
    let mut v = Vault::open(&d.path, d.keys.clone(), KEY).unwrap();
    v.add(token(), NOW).unwrap();
    assert!(matches!(v.biometric_secret(&pin("583920"), NOW), Err(Error::PinNotSet)));
}

#[test]
fn after_a_pin_change_the_old_fingerprint_secret_is_stale_and_costs_no_try() {
    let d = Device::new();
    let mut v = d.locked();
    let old = v.biometric_secret(&pin("583920"), NOW).unwrap();
    v.change_pin(&pin("583920"), &pin("602817"), NOW).unwrap();
    assert!(matches!(d.open_with(&old), Err(Error::BiometricStale)));
    assert_eq!(d.tries_left(), FREE_PIN_TRIES);
    let v = Vault::open_with_pin(&d.path, d.keys.clone(), KEY, &pin("602817"), NOW).unwrap();
    let new = v.biometric_secret(&pin("602817"), NOW).unwrap();
    assert!(d.open_with(&new).is_ok(), "turned on again with the new PIN, it opens");
}

#[test]
fn a_forged_secret_or_one_of_the_wrong_length_opens_nothing() {
    assert!(BiometricSecret::from_bytes(&[7u8; 31]).is_none());
    let d = Device::new();
    let _v = d.locked();
    let forged = BiometricSecret::from_bytes(&[7u8; 32]).unwrap();
    assert!(matches!(d.open_with(&forged), Err(Error::BiometricStale)));
}

#[test]
fn another_devices_keychain_with_the_right_secret_still_opens_nothing() {
    let d = Device::new();
    let v = d.locked();
    let secret = v.biometric_secret(&pin("583920"), NOW).unwrap();
    // The vault file copied to another device: its keychain lacks the device secret.
    let thief = Arc::new(MemoryKeyStore::new());
    let opened = Vault::open_with_biometric_secret(&d.path, thief, KEY, &secret);
    assert!(matches!(opened, Err(Error::VaultKeyMissing)));
}

#[test]
fn a_vault_without_a_pin_opens_with_any_biometric_secret_as_it_would_without() {
    let d = Device::new();
    let mut v = Vault::open(&d.path, d.keys.clone(), KEY).unwrap();
    v.add(token(), NOW).unwrap();
    let any = BiometricSecret::from_bytes(&[1u8; 32]).unwrap();
    assert_eq!(d.open_with(&any).unwrap().tokens().len(), 1);
}
