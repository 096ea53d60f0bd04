//! Where the vault key lives: the OS keychain, behind a small trait.
//!
//! [`OsKeyStore`] talks to the platform's own credential store through `keyring-core`, the API
//! crate of the keyring 4 ecosystem, with one store crate per platform (chosen at compile time):
//!
//! | platform | store |
//! |---|---|
//! | Linux, FreeBSD, other desktop Unix | Secret Service over D-Bus (`zbus-secret-service-keyring-store`) |
//! | macOS | the login keychain (`apple-native-keyring-store`, `keychain`) |
//! | iOS | the protected-data keychain (`apple-native-keyring-store`, `protected`) |
//! | Windows | Credential Manager (`windows-native-keyring-store`) |
//! | Android | SharedPreferences encrypted by the Android Keystore (`android-native-keyring-store`) |
//!
//! The umbrella `keyring` crate is not linked: its own documentation asks applications to link
//! `keyring-core` and the stores they need, and its `v1` mode has no iOS or Android store.
//!
//! [`MemoryKeyStore`] keeps keys in process memory for tests and benchmarks, and can pretend to be
//! a locked keychain.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};

/// The keychain "service" every softtoken entry is filed under.
pub const KEYCHAIN_SERVICE: &str = "softtoken";

/// A place that keeps small secrets by name, outside the vault file.
///
/// Implementations must keep a secret exactly as given and must never log it.
pub trait KeyStore: Send + Sync {
    /// The secret stored under `name`, or `None` if there is no such entry.
    ///
    /// # Errors
    /// [`Error::KeychainUnavailable`] when the store is locked, absent or refuses access.
    fn get(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>>;

    /// Stores `secret` under `name`, replacing any previous one.
    ///
    /// # Errors
    /// [`Error::KeychainUnavailable`] when the store is locked, absent or refuses access.
    fn set(&self, name: &str, secret: &[u8]) -> Result<()>;

    /// Deletes the entry `name`; deleting a missing entry succeeds.
    ///
    /// # Errors
    /// [`Error::KeychainUnavailable`] when the store is locked, absent or refuses access.
    fn delete(&self, name: &str) -> Result<()>;
}

/// Keys in process memory: for unit tests and benchmarks, never for customers (the key would
/// die with the process and the vault with it).
#[derive(Default)]
pub struct MemoryKeyStore {
    state: Mutex<MemoryState>,
}

#[derive(Default)]
struct MemoryState {
    entries: HashMap<String, Zeroizing<Vec<u8>>>,
    locked: bool,
}

impl MemoryKeyStore {
    /// An empty, unlocked store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Simulates a locked or absent keychain: while `locked`, every call fails with
    /// [`Error::KeychainUnavailable`] and nothing changes.
    pub fn set_locked(&self, locked: bool) {
        self.state().locked = locked;
    }

    /// True if an entry `name` exists (ignores the lock, for test assertions).
    pub fn contains(&self, name: &str) -> bool {
        self.state().entries.contains_key(name)
    }

    fn state(&self) -> MutexGuard<'_, MemoryState> {
        // A panic elsewhere while holding the lock leaves the map consistent (every operation is
        // a single insert or remove), so the data is still good to use.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn unlocked(&self) -> Result<MutexGuard<'_, MemoryState>> {
        let state = self.state();
        if state.locked {
            return Err(Error::KeychainUnavailable("the keychain is locked".into()));
        }
        Ok(state)
    }
}

impl KeyStore for MemoryKeyStore {
    fn get(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>> {
        Ok(self.unlocked()?.entries.get(name).cloned())
    }

    fn set(&self, name: &str, secret: &[u8]) -> Result<()> {
        self.unlocked()?.entries.insert(name.to_owned(), Zeroizing::new(secret.to_vec()));
        Ok(())
    }

    fn delete(&self, name: &str) -> Result<()> {
        self.unlocked()?.entries.remove(name);
        Ok(())
    }
}

impl fmt::Debug for MemoryKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        let mut names: Vec<&str> = state.entries.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_struct("MemoryKeyStore")
            .field("entries", &names)
            .field("secrets", &"<redacted>")
            .field("locked", &state.locked)
            .finish()
    }
}

/// The platform's own keychain (see the module documentation for which one).
///
/// Entries are filed under the service [`KEYCHAIN_SERVICE`] with the caller's name as the user.
/// Secrets are kept as base64 text, because some stores (KDE Wallet behind the Secret Service)
/// only hold UTF-8; [`KeyStore::get`] returns the bytes as they were given to [`KeyStore::set`].
///
/// The connection is made on first use and remade after a failure, so a keychain that was
/// locked or not yet running at start-up is picked up later. Calls block (a D-Bus round trip on
/// Linux); from async code call them on a blocking thread.
pub struct OsKeyStore {
    store: Mutex<Option<Arc<keyring_core::CredentialStore>>>,
}

impl Default for OsKeyStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for OsKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OsKeyStore").field("service", &KEYCHAIN_SERVICE).finish()
    }
}

impl OsKeyStore {
    /// A handle on the OS keychain; nothing is contacted until the first call.
    pub fn new() -> Self {
        Self { store: Mutex::new(None) }
    }

    fn entry(&self, name: &str) -> Result<keyring_core::Entry> {
        let mut cached = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        let store = match cached.as_ref() {
            Some(store) => store.clone(),
            None => {
                let store = platform_store().map_err(|e| keychain_error(&e))?;
                *cached = Some(store.clone());
                store
            }
        };
        store
            .build(KEYCHAIN_SERVICE, name, entry_modifiers().as_ref())
            .map_err(|e| keychain_error(&e))
    }

    /// Forgets the connection after a failure, so the next call reconnects (the keychain daemon
    /// may have restarted or been unlocked meanwhile).
    fn forget_connection(&self) {
        *self.store.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    fn failed(&self, mut e: keyring_core::Error) -> Error {
        self.forget_connection();
        let ours = keychain_error(&e);
        // These two carry what the keychain returned, which may be the secret itself.
        if let keyring_core::Error::BadEncoding(bytes)
        | keyring_core::Error::BadDataFormat(bytes, _) = &mut e
        {
            bytes.zeroize();
        }
        ours
    }
}

impl KeyStore for OsKeyStore {
    fn get(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>> {
        let entry = self.entry(name)?;
        let text = match entry.get_secret() {
            Ok(bytes) => Zeroizing::new(bytes),
            Err(keyring_core::Error::NoEntry) => return Ok(None),
            Err(e) => return Err(self.failed(e)),
        };
        let secret = decode_b64(&text).ok_or_else(|| {
            Error::KeychainUnavailable(format!(
                "the keychain entry {KEYCHAIN_SERVICE}/{name} is not in softtoken's format"
            ))
        })?;
        Ok(Some(secret))
    }

    fn set(&self, name: &str, secret: &[u8]) -> Result<()> {
        let text = encode_b64(secret);
        self.entry(name)?.set_secret(text.as_bytes()).map_err(|e| self.failed(e))
    }

    fn delete(&self, name: &str) -> Result<()> {
        match self.entry(name)?.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(e) => Err(self.failed(e)),
        }
    }
}

fn encode_b64(secret: &[u8]) -> Zeroizing<String> {
    use base64::Engine as _;
    Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(secret))
}

fn decode_b64(text: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).ok().map(Zeroizing::new)
}

/// Turns a keyring error into ours without ever formatting stored data: `BadEncoding` and
/// `BadDataFormat` carry the raw secret, so only their kind is named.
fn keychain_error(e: &keyring_core::Error) -> Error {
    use keyring_core::Error as K;
    let what = match e {
        K::NoStorageAccess(inner) => format!("access refused or keychain locked ({inner})"),
        K::PlatformFailure(inner) => format!("the keychain failed ({inner})"),
        K::NoDefaultStore => "no keychain store is configured".to_owned(),
        K::NotSupportedByStore(why) => format!("not supported by this keychain ({why})"),
        K::Ambiguous(entries) => {
            format!("{} keychain entries match; remove the extra ones", entries.len())
        }
        K::TooLong(attr, limit) => format!("{attr} is longer than the keychain's limit {limit}"),
        K::Invalid(attr, why) => format!("the keychain refused {attr}: {why}"),
        K::BadEncoding(_) | K::BadDataFormat(..) => "a keychain entry is malformed".to_owned(),
        K::BadStoreFormat(why) => format!("the keychain store is malformed ({why})"),
        K::NoEntry => "no such keychain entry".to_owned(),
        _ => "the keychain failed".to_owned(),
    };
    Error::KeychainUnavailable(what)
}

#[cfg(all(unix, not(any(target_os = "macos", target_os = "ios", target_os = "android"))))]
fn platform_store() -> keyring_core::Result<Arc<keyring_core::CredentialStore>> {
    Ok(zbus_secret_service_keyring_store::Store::new()?)
}

#[cfg(target_os = "macos")]
fn platform_store() -> keyring_core::Result<Arc<keyring_core::CredentialStore>> {
    Ok(apple_native_keyring_store::keychain::Store::new()?)
}

#[cfg(target_os = "ios")]
fn platform_store() -> keyring_core::Result<Arc<keyring_core::CredentialStore>> {
    Ok(apple_native_keyring_store::protected::Store::new()?)
}

#[cfg(target_os = "windows")]
fn platform_store() -> keyring_core::Result<Arc<keyring_core::CredentialStore>> {
    Ok(windows_native_keyring_store::Store::new()?)
}

/// Needs the app to have initialised `ndk-context` (Tauri's Android runtime does).
#[cfg(target_os = "android")]
fn platform_store() -> keyring_core::Result<Arc<keyring_core::CredentialStore>> {
    Ok(android_native_keyring_store::Store::new()?)
}

#[cfg(not(any(unix, target_os = "windows")))]
fn platform_store() -> keyring_core::Result<Arc<keyring_core::CredentialStore>> {
    Err(keyring_core::Error::NoDefaultStore)
}

/// A readable label in the desktop's password manager (Seahorse shows it), where the store
/// supports one.
#[cfg(all(unix, not(any(target_os = "macos", target_os = "ios", target_os = "android"))))]
fn entry_modifiers() -> Option<HashMap<&'static str, &'static str>> {
    Some(HashMap::from([("label", "softtoken vault key")]))
}

#[cfg(not(all(unix, not(any(target_os = "macos", target_os = "ios", target_os = "android")))))]
fn entry_modifiers() -> Option<HashMap<&'static str, &'static str>> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_keeps_deletes_and_reports_missing_entries() {
        let keys = MemoryKeyStore::new();
        assert!(keys.get("a").unwrap().is_none());
        keys.set("a", b"secret").unwrap();
        assert_eq!(keys.get("a").unwrap().unwrap().as_slice(), b"secret");
        keys.delete("a").unwrap();
        keys.delete("a").unwrap();
        assert!(keys.get("a").unwrap().is_none());
    }

    #[test]
    fn locked_memory_store_refuses_everything_and_changes_nothing() {
        let keys = MemoryKeyStore::new();
        keys.set("a", b"secret").unwrap();
        keys.set_locked(true);
        assert!(matches!(keys.get("a"), Err(Error::KeychainUnavailable(_))));
        assert!(matches!(keys.set("a", b"other"), Err(Error::KeychainUnavailable(_))));
        assert!(matches!(keys.delete("a"), Err(Error::KeychainUnavailable(_))));
        keys.set_locked(false);
        assert_eq!(keys.get("a").unwrap().unwrap().as_slice(), b"secret");
    }

    #[test]
    fn key_stores_do_not_print_secrets() {
        let keys = MemoryKeyStore::new();
        keys.set("vault", b"hunter2-hunter2").unwrap();
        let shown = format!("{keys:?} {:?}", OsKeyStore::new());
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn keychain_errors_never_carry_the_stored_bytes() {
        let leaked = b"the-secret-itself".to_vec();
        for e in [
            keyring_core::Error::BadEncoding(leaked.clone()),
            keyring_core::Error::BadDataFormat(leaked.clone(), "bad".into()),
        ] {
            let shown = keychain_error(&e).to_string();
            assert!(!shown.contains("the-secret-itself"), "{shown}");
            assert!(matches!(keychain_error(&e), Error::KeychainUnavailable(_)));
        }
    }

    #[test]
    fn base64_text_round_trips_any_bytes() {
        let key: Vec<u8> = (0..=255).collect();
        assert_eq!(decode_b64(encode_b64(&key).as_bytes()).unwrap().as_slice(), key.as_slice());
        assert!(decode_b64(b"not base64!").is_none());
    }
}
