//! The vault against the real OS keychain: on Linux the Secret Service (gnome-keyring in the
//! test command's private D-Bus session).
//!
//! With `SOFTTOKEN_SECRET_SERVICE=1` (the test command sets it) these tests fail if no Secret
//! Service answers; without it they print `SKIPPED: ...` and pass, so a plain `cargo test` works
//! on a machine without one. Every test uses its own random entry name and
//! deletes it afterwards: the keychain is shared.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::Path;
use std::sync::Arc;

use rand_core::{OsRng, RngCore};
use softtoken_core::ids::{AppPin, DisplayName, ServiceId, UserId};
use softtoken_core::token::Delivery;
use softtoken_core::totp::{ClockOffset, Seed, Totp, TotpParams};
use softtoken_core::vault::{
    IssuedToken, KeyStore, NewToken, OsKeyStore, PinCost, Vault, KEYCHAIN_SERVICE,
    TEST_BUILD_KEYCHAIN_SERVICE,
};
use softtoken_core::Error;
use zeroize::Zeroizing;

// The workspace's one skip helper (the tests crate's; core cannot depend on that crate).
#[path = "../../../tests/skip.rs"]
mod skip;

/// A keychain entry name of this test run, deleted when dropped.
struct TestEntry {
    name: String,
}

impl TestEntry {
    fn new(test: &str) -> Self {
        Self { name: format!("test-{test}-{:016x}", OsRng.next_u64()) }
    }
}

impl Drop for TestEntry {
    fn drop(&mut self) {
        let keys = OsKeyStore::new();
        let _ = keys.delete(&self.name);
        // The generation and wrong-PIN count kept beside the key.
        let _ = keys.delete(&format!("{}.state", self.name));
        let _ = OsKeyStore::with_service(TEST_BUILD_KEYCHAIN_SERVICE).delete(&self.name);
    }
}

/// The OS keychain, or `None` when there is none and none is required (the test was skipped).
fn keychain() -> Option<Arc<OsKeyStore>> {
    let keys = OsKeyStore::new();
    match keys.get("test-probe-that-does-not-exist") {
        Ok(_) => Some(Arc::new(keys)),
        Err(e) => {
            let why = format!(
                "no Secret Service answers ({e}); run it with SOFTTOKEN_SECRET_SERVICE=1 under \
                 scripts/with-secret-service.sh, as scripts/test.sh does"
            );
            skip::missing(Some("SOFTTOKEN_SECRET_SERVICE"), &why);
            None
        }
    }
}

fn seed(n: u32) -> Seed {
    Seed::new(Zeroizing::new(format!("keychain-seed-{n:06}").into_bytes())).unwrap()
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

fn code(n: u32, at: u64) -> String {
    Totp::new(TotpParams::default(), &seed(n), ClockOffset(0)).unwrap().code_at(at).to_string()
}

fn open(path: &Path, entry: &TestEntry) -> softtoken_core::Result<Vault> {
    // A fresh keychain connection each time, as after an app restart.
    Vault::open(path, Arc::new(OsKeyStore::new()), &entry.name)
}

#[test]
fn customer_with_a_thousand_tokens_finds_them_all_after_restarting_the_app() {
    let Some(keys) = keychain() else { return };
    let entry = TestEntry::new("thousand");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.vault");

    let mut v = Vault::open(&path, keys.clone(), &entry.name).unwrap();
    assert!(keys.get(&entry.name).unwrap().is_none(), "opening alone must not make a key");
    for n in 1..=1000 {
        v.add(token(n), 1_700_000_000 + u64::from(n)).unwrap();
    }
    let before = v.tokens();
    drop(v);

    // The key is in the keychain, 256 bits, and nowhere in the file.
    let key = keys.get(&entry.name).unwrap().expect("the first token stores the vault key");
    assert_eq!(key.len(), 32);
    let file = fs::read(&path).unwrap();
    assert!(!file.windows(key.len()).any(|w| w == key.as_slice()));

    let reopened = open(&path, &entry).unwrap();
    assert_eq!(reopened.tokens(), before);
    assert_eq!(before.len(), 1000);
    for (n, t) in (1..=1000).zip(&before) {
        assert_eq!(
            reopened.totp(&t.id).unwrap().code_at(1_700_000_000).to_string(),
            code(n, 1_700_000_000)
        );
    }
}

#[test]
fn vault_whose_key_was_deleted_from_the_keychain_is_refused_and_left_untouched() {
    let Some(keys) = keychain() else { return };
    let entry = TestEntry::new("deleted");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.vault");
    let mut v = Vault::open(&path, keys.clone(), &entry.name).unwrap();
    v.add(token(1), 1).unwrap();
    v.add(token(2), 2).unwrap();
    drop(v);
    let before = fs::read(&path).unwrap();

    // As if the customer reset their keyring in the desktop's password manager.
    OsKeyStore::new().delete(&entry.name).unwrap();

    assert!(matches!(open(&path, &entry), Err(Error::VaultKeyMissing)));
    assert_eq!(fs::read(&path).unwrap(), before);
    // No new key was made in its place: that would orphan the tokens for good.
    assert!(keys.get(&entry.name).unwrap().is_none());
    assert!(matches!(open(&path, &entry), Err(Error::VaultKeyMissing)));
    assert_eq!(fs::read(&path).unwrap(), before);
}

#[test]
fn the_vault_key_is_filed_under_softtoken_where_the_desktop_keyring_shows_it() {
    let Some(keys) = keychain() else { return };
    let entry = TestEntry::new("filed");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.vault");
    let mut v = Vault::open(&path, keys.clone(), &entry.name).unwrap();
    let id = v.add(token(7), 7).unwrap();

    // libsecret's own tool, which knows nothing of softtoken, finds the entry.
    let lookup = std::process::Command::new("secret-tool")
        .args(["lookup", "service", KEYCHAIN_SERVICE, "username", &entry.name])
        .output();
    match lookup {
        Ok(out) => {
            assert!(out.status.success(), "secret-tool found no entry");
            let text = String::from_utf8(out.stdout).unwrap();
            assert_eq!(text.trim().len(), 44, "base64 of a 256-bit key");
        }
        Err(e) => println!("secret-tool not installed ({e}); checked through OsKeyStore only"),
    }

    // And a second connection opens the vault with it.
    assert_eq!(
        open(&path, &entry).unwrap().totp(&id).unwrap().code_at(60).to_string(),
        code(7, 60)
    );
}

#[test]
fn customer_with_an_app_pin_needs_it_after_a_restart_and_a_wrong_one_stays_counted() {
    let Some(keys) = keychain() else { return };
    let entry = TestEntry::new("pin");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.vault");
    let mut v = Vault::open(&path, keys.clone(), &entry.name).unwrap();
    let id = v.add(token(3), 3).unwrap();
    v.use_pin_cost_for_tests(PinCost { memory_kib: 64, passes: 1, lanes: 1 });
    v.set_pin(&AppPin::new("583920").unwrap()).unwrap();
    drop(v);

    assert!(matches!(open(&path, &entry), Err(Error::PinNeeded)));
    let wrong = AppPin::new("274916").unwrap();
    let fresh = || Arc::new(OsKeyStore::new());
    assert!(matches!(
        Vault::open_with_pin(&path, fresh(), &entry.name, &wrong, 100),
        Err(Error::WrongPin { tries_left_before_wait: 4, wait_secs: 0 })
    ));
    // The count is in the OS keychain: a new connection, as after a restart, still has it.
    let status = Vault::lock_status(&path, &OsKeyStore::new(), &entry.name, 100).unwrap();
    assert_eq!((status.pin_set, status.tries_left_before_wait), (true, 4));
    let right = AppPin::new("583920").unwrap();
    let v = Vault::open_with_pin(&path, fresh(), &entry.name, &right, 100).unwrap();
    assert_eq!(v.totp(&id).unwrap().code_at(60).to_string(), code(3, 60));
}

#[test]
fn a_qa_build_on_the_customers_computer_keeps_its_vault_key_apart_from_the_customer_app() {
    let Some(customer) = keychain() else { return };
    let qa = OsKeyStore::with_service(TEST_BUILD_KEYCHAIN_SERVICE);
    // The same entry name in both builds (Config's "vault-key" when the data directory is the
    // platform's): only the service keeps them apart.
    let entry = TestEntry::new("qa-beside-customer");
    customer.set(&entry.name, b"the customer's vault key").unwrap();
    qa.set(&entry.name, b"the QA build's vault key").unwrap();

    assert_eq!(customer.get(&entry.name).unwrap().unwrap().as_slice(), b"the customer's vault key");
    assert_eq!(qa.get(&entry.name).unwrap().unwrap().as_slice(), b"the QA build's vault key");
    // The desktop's password manager shows the two under their own services.
    let lookup = |service: &str| {
        std::process::Command::new("secret-tool")
            .args(["lookup", "service", service, "username", &entry.name])
            .output()
            .map(|out| (out.status.success(), out.stdout))
    };
    if let (Ok(customer_entry), Ok(qa_entry)) =
        (lookup(KEYCHAIN_SERVICE), lookup(TEST_BUILD_KEYCHAIN_SERVICE))
    {
        assert!(customer_entry.0 && qa_entry.0, "secret-tool found no entry");
        assert_ne!(customer_entry.1, qa_entry.1);
    }
    qa.delete(&entry.name).unwrap();
    assert!(qa.get(&entry.name).unwrap().is_none());
    assert_eq!(customer.get(&entry.name).unwrap().unwrap().as_slice(), b"the customer's vault key");
}
