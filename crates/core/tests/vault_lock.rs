//! The app lock and the generation counter, over real files in a temporary directory and the
//! in-memory key store (`vault_keychain.rs` has one against the real OS keychain).
//!
//! PINs are set at a small Argon2id cost through the tests-only hook, so the suite stays fast;
//! opening always uses the cost the file's header names, which is what these tests check.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::PathBuf;
use std::sync::Arc;

use softtoken_core::ids::{AppPin, DisplayName, ServiceId, UserId};
use softtoken_core::token::Delivery;
use softtoken_core::totp::{ClockOffset, Seed, Totp, TotpParams};
use softtoken_core::vault::{
    IssuedToken, KeyStore, LockStatus, MemoryKeyStore, NewToken, PinCost, Vault,
};
use softtoken_core::Error;
use zeroize::Zeroizing;

const KEY: &str = "vault-key";
const NOW: u64 = 1_765_000_000;
/// Small enough for a debug build, as the header allows any cost softtoken could write.
const TEST_COST: PinCost = PinCost { memory_kib: 64, passes: 1, lanes: 1 };
/// Where the lock section's Argon2id parameters and salt start in a version-2 file.
const LOCK_AT: usize = 34;

struct Device {
    _dir: tempfile::TempDir,
    path: PathBuf,
    keys: Arc<MemoryKeyStore>,
}

fn device() -> Device {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.vault");
    Device { _dir: dir, path, keys: Arc::new(MemoryKeyStore::new()) }
}

fn pin(digits: &str) -> AppPin {
    AppPin::new(digits).unwrap()
}

fn seed(n: u32) -> Seed {
    Seed::new(Zeroizing::new(format!("lock-test-seed-{n:06}").into_bytes())).unwrap()
}

fn token(n: u32) -> NewToken {
    NewToken {
        issued: IssuedToken {
            service_id: ServiceId::new("10112231").unwrap(),
            user_id: UserId::new(&format!("{:012}", 999_800_000_000u64 + u64::from(n))).unwrap(),
            display_name: DisplayName::new(&format!("しんきん {n}"), "").unwrap(),
            issuer: "Example Credit Union".into(),
            params: TotpParams::default(),
            offset: ClockOffset(0),
        },
        seed: seed(n),
        delivery: Delivery::ACKNOWLEDGED,
    }
}

fn code(n: u32) -> String {
    Totp::new(TotpParams::default(), &seed(n), ClockOffset(0)).unwrap().code_at(NOW).to_string()
}

impl Device {
    fn open(&self) -> softtoken_core::Result<Vault> {
        Vault::open(&self.path, self.keys.clone(), KEY)
    }

    /// As after a restart of the app: a fresh vault over the same file and keychain.
    fn unlock(&self, digits: &str, now: u64) -> softtoken_core::Result<Vault> {
        Vault::open_with_pin(&self.path, self.keys.clone(), KEY, &pin(digits), now)
    }

    fn status(&self, now: u64) -> LockStatus {
        Vault::lock_status(&self.path, &*self.keys, KEY, now).unwrap()
    }

    fn bytes(&self) -> Vec<u8> {
        fs::read(&self.path).unwrap()
    }

    /// A vault with tokens 1 and 2 and the PIN 583920.
    fn locked(&self) -> Vault {
        let mut v = self.open().unwrap();
        v.use_pin_cost_for_tests(TEST_COST);
        v.add(token(1), NOW).unwrap();
        v.add(token(2), NOW).unwrap();
        v.set_pin(&pin("583920")).unwrap();
        v
    }
}

fn generation(file: &[u8]) -> u64 {
    u64::from_be_bytes(file[24..32].try_into().unwrap())
}

fn codes(v: &Vault) -> Vec<String> {
    v.tokens().iter().map(|t| v.totp(&t.id).unwrap().code_at(NOW).to_string()).collect()
}

#[test]
fn once_the_customer_sets_a_pin_the_file_and_the_keychain_alone_no_longer_open_the_tokens() {
    let d = device();
    let mut v = d.open().unwrap();
    v.add(token(1), NOW).unwrap();
    let vault_key = d.keys.get(KEY).unwrap().unwrap();
    assert!(!v.has_pin());
    v.use_pin_cost_for_tests(TEST_COST);
    v.set_pin(&pin("583920")).unwrap();
    assert!(v.has_pin());

    assert!(matches!(d.open(), Err(Error::PinNeeded)));
    let entry = d.keys.get(KEY).unwrap().unwrap();
    assert_eq!(entry.len(), 32);
    assert_ne!(entry, vault_key, "the keychain holds a device secret now, not the vault key");
    // Someone who copied the old keychain entry back does not get in either.
    let thief = Arc::new(MemoryKeyStore::new());
    thief.set(KEY, &vault_key).unwrap();
    assert!(Vault::open(&d.path, thief.clone(), KEY).is_err());
    assert!(Vault::open_with_pin(&d.path, thief, KEY, &pin("000001"), NOW).is_err());

    assert_eq!(
        d.status(NOW),
        LockStatus { pin_set: true, tries_left_before_wait: 5, wait_until_unix: None }
    );
    let opened = d.unlock("583920", NOW).unwrap();
    assert!(opened.has_pin());
    assert_eq!(codes(&opened), [code(1)]);
}

#[test]
fn customer_changes_the_pin_and_only_the_new_one_opens_with_the_same_key() {
    let d = device();
    let mut v = d.locked();
    let secret = d.keys.get(KEY).unwrap().unwrap();
    assert!(matches!(
        v.change_pin(&pin("000001"), &pin("274916"), NOW),
        Err(Error::WrongPin { tries_left_before_wait: 4, wait_secs: 0 })
    ));
    v.change_pin(&pin("583920"), &pin("274916"), NOW).unwrap();
    assert_eq!(d.keys.get(KEY).unwrap().unwrap(), secret, "re-wrapped, not re-keyed");

    assert!(matches!(d.unlock("583920", NOW), Err(Error::WrongPin { .. })));
    let opened = d.unlock("274916", NOW).unwrap();
    assert_eq!(codes(&opened), [code(1), code(2)]);
    assert_eq!(d.status(NOW).tries_left_before_wait, 5, "a right PIN clears the count");
}

#[test]
fn customer_turns_the_lock_off_with_the_pin_and_the_vault_opens_without_one() {
    let d = device();
    let mut v = d.locked();
    let before = d.bytes();
    assert!(matches!(v.remove_pin(&pin("000001"), NOW), Err(Error::WrongPin { .. })));
    assert!(v.has_pin());
    assert_eq!(d.bytes(), before, "a wrong PIN changes nothing");

    v.remove_pin(&pin("583920"), NOW).unwrap();
    assert!(!v.has_pin());
    assert!(matches!(v.remove_pin(&pin("583920"), NOW), Err(Error::PinNotSet)));
    let opened = d.open().unwrap();
    assert!(!opened.has_pin());
    assert_eq!(codes(&opened), [code(1), code(2)]);
    assert!(!d.status(NOW).pin_set);
    // And it can be locked again.
    let mut again = opened;
    again.use_pin_cost_for_tests(TEST_COST);
    again.set_pin(&pin("274916")).unwrap();
    assert!(matches!(again.set_pin(&pin("274916")), Err(Error::PinAlreadySet)));
    assert!(matches!(d.open(), Err(Error::PinNeeded)));
}

#[test]
fn a_child_guessing_the_pin_waits_after_five_tries_even_across_restarts_and_nothing_is_wiped() {
    let d = device();
    drop(d.locked());
    let before = d.bytes();
    for left in (0..5).rev() {
        let wait = if left == 0 { 30 } else { 0 };
        match d.unlock("000001", NOW) {
            Err(Error::WrongPin { tries_left_before_wait, wait_secs }) => {
                assert_eq!((tries_left_before_wait, wait_secs), (left, wait));
            }
            other => panic!("{other:?}"),
        }
    }
    // The right PIN is not even checked while the wait runs.
    assert!(matches!(d.unlock("583920", NOW + 10), Err(Error::PinBackOff { wait_secs: 20 })));
    // A restart of the app (a fresh open over the same keychain) and an older copy of the file
    // put back do not reset the count: it lives in the keychain.
    fs::write(&d.path, &before).unwrap();
    assert_eq!(
        d.status(NOW + 10),
        LockStatus { pin_set: true, tries_left_before_wait: 0, wait_until_unix: Some(NOW + 30) }
    );
    assert!(matches!(
        d.unlock("000001", NOW + 30),
        Err(Error::WrongPin { tries_left_before_wait: 0, wait_secs: 60 })
    ));
    assert!(matches!(d.unlock("583920", NOW + 89), Err(Error::PinBackOff { wait_secs: 1 })));
    assert_eq!(d.bytes(), before, "never wiped, never rewritten by a try");
    let opened = d.unlock("583920", NOW + 90).unwrap();
    assert_eq!(codes(&opened), [code(1), code(2)]);
    assert_eq!(d.status(NOW + 90).tries_left_before_wait, 5);
}

#[test]
fn a_file_locked_at_another_argon2_cost_opens_at_that_cost_and_a_changed_cost_is_tampering() {
    let d = device();
    let mut v = d.open().unwrap();
    v.add(token(1), NOW).unwrap();
    let other = PinCost { memory_kib: 256, passes: 2, lanes: 2 };
    v.use_pin_cost_for_tests(other);
    v.set_pin(&pin("583920")).unwrap();
    let file = d.bytes();
    let word = |i: usize| {
        u32::from_be_bytes(file[LOCK_AT + 4 * i..LOCK_AT + 4 * i + 4].try_into().unwrap())
    };
    assert_eq!((word(0), word(1), word(2)), (256, 2, 2), "the cost is in the header");
    // A vault opened by the app (which sets PINs at PinCost::APP) reads the header's cost.
    assert_eq!(codes(&d.unlock("583920", NOW).unwrap()), [code(1)]);

    // Each byte of the cost and of the salt: changed, the header no longer authenticates, and
    // the customer's tries are untouched.
    for at in LOCK_AT..LOCK_AT + 28 {
        let mut changed = file.clone();
        changed[at] ^= 0x01;
        fs::write(&d.path, &changed).unwrap();
        assert!(matches!(d.unlock("583920", NOW), Err(Error::VaultCorrupted)), "byte {at}");
        assert!(matches!(d.open(), Err(Error::VaultCorrupted)), "byte {at}");
        assert_eq!(fs::read(&d.path).unwrap(), changed, "left as it was");
    }
    fs::write(&d.path, &file).unwrap();
    assert_eq!(d.status(NOW).tries_left_before_wait, 5);
    assert_eq!(codes(&d.unlock("583920", NOW).unwrap()), [code(1)]);
}

#[test]
fn the_app_locks_every_pin_at_its_tuned_cost() {
    let d = device();
    let mut v = d.open().unwrap();
    v.add(token(1), NOW).unwrap();
    v.set_pin(&pin("583920")).unwrap();
    let file = d.bytes();
    let word = |i: usize| {
        u32::from_be_bytes(file[LOCK_AT + 4 * i..LOCK_AT + 4 * i + 4].try_into().unwrap())
    };
    let app = PinCost::APP;
    assert_eq!((word(0), word(1), word(2)), (app.memory_kib, app.passes, app.lanes));
    assert_eq!(codes(&d.unlock("583920", NOW).unwrap()), [code(1)]);
}

#[test]
fn a_vault_from_before_the_lock_still_opens_and_is_saved_in_the_new_format() {
    let d = device();
    // Written by the first release with the all-0x2a key, as on customers' devices today.
    fs::write(&d.path, include_bytes!("../src/vault/fixtures/v1-two-tokens.vault")).unwrap();
    d.keys.set(KEY, &[0x2a; 32]).unwrap();
    assert!(!d.status(NOW).pin_set);
    let mut v = d.open().unwrap();
    assert!(!v.has_pin());
    let users: Vec<String> = v.tokens().iter().map(|t| t.issued.user_id.to_string()).collect();
    assert_eq!(users, ["999800000001", "999800000002"]);
    let id = v.tokens()[0].id.clone();
    v.rename(&id, DisplayName::new("給与口座", "").unwrap()).unwrap();
    let saved = d.bytes();
    assert_eq!(&saved[8..12], &2u32.to_be_bytes());
    assert_eq!(generation(&saved), 1);
    assert_eq!(d.open().unwrap().tokens()[0].issued.display_name.base(), "給与口座");
    assert_eq!(d.keys.get(KEY).unwrap().unwrap().as_slice(), &[0x2a; 32], "same key");
}

#[test]
fn each_save_counts_one_generation_and_a_save_the_keychain_missed_is_caught_up() {
    let d = device();
    let mut v = d.open().unwrap();
    let id = v.add(token(1), NOW).unwrap();
    assert_eq!(generation(&d.bytes()), 1);
    v.rename(&id, DisplayName::new("A", "").unwrap()).unwrap();
    v.rename(&id, DisplayName::new("B", "").unwrap()).unwrap();
    assert_eq!(generation(&d.bytes()), 3);
    // As if the app stopped between writing generation 3 and telling the keychain.
    d.keys
        .set(&format!("{KEY}.state"), br#"{"generation":2,"failed_pins":0,"last_failed_at":0}"#)
        .unwrap();
    let mut reopened = d.open().unwrap();
    assert_eq!(reopened.tokens()[0].issued.display_name.base(), "B");
    reopened.rename(&id, DisplayName::new("C", "").unwrap()).unwrap();
    assert_eq!(generation(&d.bytes()), 4);
}

#[test]
fn a_deleted_token_does_not_come_back_from_an_older_copy_and_set_aside_keeps_the_copy() {
    let d = device();
    let mut v = d.open().unwrap();
    let first = v.add(token(1), NOW).unwrap();
    v.add(token(2), NOW).unwrap();
    let backup = d.bytes();
    v.remove(&first).unwrap();
    drop(v);

    // A desktop backup or a sync tool puts the old file back.
    fs::write(&d.path, &backup).unwrap();
    assert!(matches!(d.open(), Err(Error::VaultRolledBack)));
    assert_eq!(d.bytes(), backup, "left as it was");

    let aside = Vault::set_aside(&d.path, d.keys.clone(), KEY, NOW).unwrap().unwrap();
    assert_eq!(aside.file.file_name().unwrap(), "tokens.vault.older-1765000000");
    assert_eq!(fs::read(&aside.file).unwrap(), backup, "kept, not deleted");
    let mut fresh = d.open().unwrap();
    assert!(fresh.tokens().is_empty());
    fresh.add(token(3), NOW).unwrap();
    assert!(generation(&d.bytes()) > generation(&backup), "the new vault counts on");
    assert_eq!(codes(&d.open().unwrap()), [code(3)]);
}

#[test]
fn an_older_locked_copy_is_refused_before_the_pin_is_asked() {
    let d = device();
    let mut v = d.locked();
    let backup = d.bytes();
    let id = v.tokens()[0].id.clone();
    v.remove(&id).unwrap();
    v.change_pin(&pin("583920"), &pin("274916"), NOW).unwrap();
    fs::write(&d.path, &backup).unwrap();
    let status = Vault::lock_status(&d.path, &*d.keys, KEY, NOW);
    assert!(matches!(status, Err(Error::VaultRolledBack)));
    // Even with the old PIN, which the copy was locked with.
    assert!(matches!(d.unlock("583920", NOW), Err(Error::VaultRolledBack)));
    let state = d.keys.get(&format!("{KEY}.state")).unwrap().unwrap();
    let state: serde_json::Value = serde_json::from_slice(&state).unwrap();
    assert_eq!(state["failed_pins"], 0, "no try was spent on the copy");
    let aside = Vault::set_aside(&d.path, d.keys.clone(), KEY, NOW).unwrap().unwrap();
    assert_eq!(fs::read(&aside.file).unwrap(), backup);
    assert!(d.open().unwrap().tokens().is_empty());
}

#[test]
fn customer_who_forgot_the_pin_sets_the_tokens_aside_keeps_the_file_and_starts_again() {
    let d = device();
    drop(d.locked());
    let locked = d.bytes();
    let aside = Vault::set_aside(&d.path, d.keys.clone(), KEY, NOW).unwrap().unwrap();
    assert_eq!(aside.file.file_name().unwrap(), "tokens.vault.locked-1765000000");
    assert_eq!(fs::read(&aside.file).unwrap(), locked);
    let fresh = d.open().unwrap();
    assert!(fresh.tokens().is_empty() && !fresh.has_pin());
    // Nothing was lost: the file set aside still opens with its PIN and its own entry.
    let key_name = aside.key_name.unwrap();
    let kept = Vault::open_with_pin(&aside.file, d.keys.clone(), &key_name, &pin("583920"), NOW);
    assert_eq!(codes(&kept.unwrap()), [code(1), code(2)]);
}

#[test]
fn setting_a_pin_interrupted_at_either_step_loses_nothing_and_leaves_no_key_in_the_keychain() {
    let d = device();
    let mut v = d.open().unwrap();
    v.add(token(1), NOW).unwrap();
    let unlocked = d.bytes();
    let vault_key = d.keys.get(KEY).unwrap().unwrap();
    let state = d.keys.get(&format!("{KEY}.state")).unwrap().unwrap();
    v.use_pin_cost_for_tests(TEST_COST);
    v.set_pin(&pin("583920")).unwrap();
    let locked = d.bytes();
    let secret = d.keys.get(KEY).unwrap().unwrap();
    let both = [vault_key.as_slice(), secret.as_slice()].concat();

    // Stopped after the keychain took both secrets, before the locked file was written.
    fs::write(&d.path, &unlocked).unwrap();
    d.keys.set(KEY, &both).unwrap();
    d.keys.set(&format!("{KEY}.state"), &state).unwrap();
    assert_eq!(codes(&d.open().unwrap()), [code(1)]);
    assert_eq!(d.keys.get(KEY).unwrap().unwrap(), vault_key, "settled to the key alone");

    // Stopped after the locked file was written, before the keychain dropped the vault key.
    fs::write(&d.path, &locked).unwrap();
    d.keys.set(KEY, &both).unwrap();
    assert!(matches!(d.open(), Err(Error::PinNeeded)), "the key left behind must not open it");
    assert_eq!(d.keys.get(KEY).unwrap().unwrap(), secret, "settled to the device secret alone");
    assert_eq!(codes(&d.unlock("583920", NOW).unwrap()), [code(1)]);
}
