//! Where the vault key lives: the OS keychain, behind a small trait.
//!
//! [`OsKeyStore`] talks to the platform's own credential store through `keyring-core`, the API
//! crate of the keyring 4 ecosystem, with one store crate per platform (chosen at compile time):
//!
//! | platform | store | asked of it ([`PlatformKeychain`]) |
//! |---|---|---|
//! | Linux, FreeBSD, other desktop Unix | Secret Service over D-Bus (`zbus-secret-service-keyring-store`) | a readable label |
//! | macOS | the login keychain (`apple-native-keyring-store`, `keychain`) | — |
//! | iOS | the data-protection keychain (`apple-native-keyring-store`, `protected`) | this device only, readable while unlocked, never synced to iCloud |
//! | Windows | Credential Manager (`windows-native-keyring-store`) | this computer only (no roaming profile) |
//! | Android | SharedPreferences encrypted by a key in the Android Keystore (`android-native-keyring-store`) | a store of softtoken's own |
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

/// The keychain "service" the customer app files its entries under.
pub const KEYCHAIN_SERVICE: &str = "softtoken";

/// The service of QA and debug builds ([`OsKeyStore::with_service`]): a test build on the same
/// computer or phone never reads or overwrites the customer app's vault key.
pub const TEST_BUILD_KEYCHAIN_SERVICE: &str = "softtoken-qa";

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
/// Entries are filed under a service ([`KEYCHAIN_SERVICE`] unless the build chose another with
/// [`OsKeyStore::with_service`]) with the caller's name as the user.
/// Secrets are kept as base64 text, because some stores (KDE Wallet behind the Secret Service)
/// only hold UTF-8; [`KeyStore::get`] returns the bytes as they were given to [`KeyStore::set`].
///
/// The connection is made on first use and remade after a failure, so a keychain that was
/// locked or not yet running at start-up is picked up later. Calls block (a D-Bus round trip on
/// Linux); from async code call them on a blocking thread.
pub struct OsKeyStore {
    service: &'static str,
    store: Mutex<Option<Arc<keyring_core::CredentialStore>>>,
}

impl Default for OsKeyStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for OsKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OsKeyStore").field("service", &self.service).finish()
    }
}

impl OsKeyStore {
    /// A handle on the OS keychain under [`KEYCHAIN_SERVICE`]; nothing is contacted until the
    /// first call.
    pub fn new() -> Self {
        Self::with_service(KEYCHAIN_SERVICE)
    }

    /// A handle on the OS keychain whose entries are filed under `service`: the app passes
    /// [`TEST_BUILD_KEYCHAIN_SERVICE`] in QA and debug builds.
    pub fn with_service(service: &'static str) -> Self {
        Self { service, store: Mutex::new(None) }
    }

    /// Opens the platform's store now rather than at the first call. On Android this is the
    /// first moment the app can reach the Keystore, so a failure shows when the app starts.
    ///
    /// # Errors
    /// [`Error::KeychainUnavailable`] when the store cannot be opened; the next call retries.
    pub fn connect(&self) -> Result<()> {
        self.store().map(drop)
    }

    fn store(&self) -> Result<Arc<keyring_core::CredentialStore>> {
        let mut cached = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(store) = cached.as_ref() {
            return Ok(store.clone());
        }
        let config = PlatformKeychain::current().store_config();
        let store = platform_store(&config).map_err(|e| keychain_error(&e))?;
        *cached = Some(store.clone());
        Ok(store)
    }

    fn entry(&self, name: &str) -> Result<keyring_core::Entry> {
        let modifiers = PlatformKeychain::current().entry_modifiers();
        self.store()?.build(self.service, name, Some(&modifiers)).map_err(|e| keychain_error(&e))
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
                "the keychain entry {}/{name} is not in softtoken's format",
                self.service
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

/// The keychain softtoken keeps its vault key in on each platform, and what it asks of it.
///
/// The choice is data, so the settings of every platform are tested on any host; only opening
/// the store (`platform_store`) is compiled per platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlatformKeychain {
    /// Linux, FreeBSD and other desktop Unix: the Secret Service over D-Bus.
    SecretService,
    /// macOS: the login keychain.
    MacosKeychain,
    /// iOS: the data-protection keychain.
    IosKeychain,
    /// Windows: Credential Manager.
    WindowsCredentialManager,
    /// Android: SharedPreferences encrypted by a key in the Android Keystore.
    AndroidKeystore,
    /// A platform softtoken has no keychain for: every call fails.
    Unsupported,
}

impl PlatformKeychain {
    /// The keychain of the platform this build is for.
    pub fn current() -> Self {
        Self::for_os(std::env::consts::OS, std::env::consts::FAMILY)
    }

    /// The keychain for a `target_os` and `target_family` (as in [`std::env::consts`]); agrees
    /// with the `cfg` of the store crates in Cargo.toml and of `platform_store`.
    pub fn for_os(os: &str, family: &str) -> Self {
        match (os, family) {
            ("android", _) => Self::AndroidKeystore,
            ("ios", _) => Self::IosKeychain,
            ("macos", _) => Self::MacosKeychain,
            ("windows", _) => Self::WindowsCredentialManager,
            (_, "unix") => Self::SecretService,
            _ => Self::Unsupported,
        }
    }

    /// How the store is opened (`new_with_configuration` of its crate).
    pub fn store_config(self) -> HashMap<&'static str, &'static str> {
        match self {
            // The vault key must stay on the device: the local store, never the iCloud one.
            Self::IosKeychain => HashMap::from([("cloud-sync", "false")]),
            // A SharedPreferences file and Keystore key of our own ("keyring-softtoken"), not
            // the "default" one any other library in the app might also use.
            Self::AndroidKeystore => HashMap::from([("name", KEYCHAIN_SERVICE)]),
            Self::SecretService
            | Self::MacosKeychain
            | Self::WindowsCredentialManager
            | Self::Unsupported => HashMap::new(),
        }
    }

    /// What every entry is created with (the `modifiers` of keyring-core's `build`).
    pub fn entry_modifiers(self) -> HashMap<&'static str, &'static str> {
        match self {
            // Seahorse and KWallet show this label.
            Self::SecretService => HashMap::from([("label", "softtoken vault key")]),
            // kSecAttrAccessibleWhenUnlockedThisDeviceOnly: readable only while the phone is
            // unlocked, and never in a backup restored to, or a keychain synced with, another
            // device. The app only reads the key while the customer looks at it.
            Self::IosKeychain => {
                HashMap::from([("access-policy", "when-unlocked-this-device-only")])
            }
            // CRED_PERSIST_LOCAL_MACHINE: the store's default (enterprise) roams with a
            // domain user's profile to other computers; the vault key must not.
            Self::WindowsCredentialManager => HashMap::from([("persistence", "Local")]),
            Self::MacosKeychain | Self::AndroidKeystore | Self::Unsupported => HashMap::new(),
        }
    }
}

type StoreConfig = HashMap<&'static str, &'static str>;

#[cfg(all(unix, not(any(target_os = "macos", target_os = "ios", target_os = "android"))))]
fn platform_store(
    config: &StoreConfig,
) -> keyring_core::Result<Arc<keyring_core::CredentialStore>> {
    Ok(zbus_secret_service_keyring_store::Store::new_with_configuration(config)?)
}

#[cfg(target_os = "macos")]
fn platform_store(
    config: &StoreConfig,
) -> keyring_core::Result<Arc<keyring_core::CredentialStore>> {
    Ok(apple_native_keyring_store::keychain::Store::new_with_configuration(config)?)
}

#[cfg(target_os = "ios")]
fn platform_store(
    config: &StoreConfig,
) -> keyring_core::Result<Arc<keyring_core::CredentialStore>> {
    Ok(apple_native_keyring_store::protected::Store::new_with_configuration(config)?)
}

#[cfg(target_os = "windows")]
fn platform_store(
    config: &StoreConfig,
) -> keyring_core::Result<Arc<keyring_core::CredentialStore>> {
    Ok(windows_native_keyring_store::Store::new_with_configuration(config)?)
}

/// The store takes the app's JavaVM and application `Context` from `ndk-context`, which Tauri's
/// Android runtime (tao) fills in when the activity is created, before any of our code runs.
/// (The crate's own JNI initialiser must not be called as well: `ndk-context` may be set once.)
#[cfg(target_os = "android")]
fn platform_store(
    config: &StoreConfig,
) -> keyring_core::Result<Arc<keyring_core::CredentialStore>> {
    Ok(android_native_keyring_store::Store::new_with_configuration(config)?)
}

#[cfg(not(any(unix, target_os = "windows")))]
fn platform_store(
    _config: &StoreConfig,
) -> keyring_core::Result<Arc<keyring_core::CredentialStore>> {
    Err(keyring_core::Error::NoDefaultStore)
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
    fn each_platform_gets_its_own_keychain() {
        use PlatformKeychain as P;
        assert_eq!(P::for_os("android", "unix"), P::AndroidKeystore);
        assert_eq!(P::for_os("ios", "unix"), P::IosKeychain);
        assert_eq!(P::for_os("macos", "unix"), P::MacosKeychain);
        assert_eq!(P::for_os("windows", "windows"), P::WindowsCredentialManager);
        assert_eq!(P::for_os("linux", "unix"), P::SecretService);
        assert_eq!(P::for_os("freebsd", "unix"), P::SecretService);
        assert_eq!(P::for_os("wasi", "wasm"), P::Unsupported);
        if cfg!(target_os = "linux") {
            assert_eq!(P::current(), P::SecretService);
        }
    }

    #[test]
    fn iphone_key_stays_on_the_phone_and_off_icloud() {
        let store = PlatformKeychain::IosKeychain.store_config();
        assert_eq!(store.get("cloud-sync"), Some(&"false"));
        let entry = PlatformKeychain::IosKeychain.entry_modifiers();
        let policy = entry.get("access-policy").copied().unwrap_or_default();
        assert!(policy.ends_with("-this-device-only"), "{policy}");
        assert!(policy.starts_with("when-unlocked"), "readable before the first unlock: {policy}");
    }

    #[test]
    fn windows_key_does_not_roam_to_other_computers() {
        let entry = PlatformKeychain::WindowsCredentialManager.entry_modifiers();
        assert_eq!(entry.get("persistence"), Some(&"Local"));
    }

    #[test]
    fn android_key_lives_in_a_store_of_softtokens_own() {
        let store = PlatformKeychain::AndroidKeystore.store_config();
        assert_eq!(store.get("name"), Some(&KEYCHAIN_SERVICE));
        // The Android store refuses any entry modifier.
        assert!(PlatformKeychain::AndroidKeystore.entry_modifiers().is_empty());
    }

    #[test]
    fn desktop_password_managers_show_a_readable_label() {
        let entry = PlatformKeychain::SecretService.entry_modifiers();
        assert_eq!(entry.get("label"), Some(&"softtoken vault key"));
        // The Secret Service store refuses any configuration.
        assert!(PlatformKeychain::SecretService.store_config().is_empty());
    }

    #[test]
    fn base64_text_round_trips_any_bytes() {
        let key: Vec<u8> = (0..=255).collect();
        assert_eq!(decode_b64(encode_b64(&key).as_bytes()).unwrap().as_slice(), key.as_slice());
        assert!(decode_b64(b"not base64!").is_none());
    }
}
