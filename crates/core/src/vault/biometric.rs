//! Unlocking with the phone's fingerprint or face instead of typing the app PIN.
//!
//! The secret a biometric unlock keeps is Argon2id of the app PIN under the lock section's salt
//! and cost (`vault/lock.rs`): with the keychain's device secret it opens the lock exactly as the
//! PIN does, and without it (on another device, or with only the vault file) it opens nothing.
//! The app hands it to the platform's biometric store (an Android Keystore key that needs the
//! customer's biometrics for every use and is invalidated when one is enrolled; an iOS Keychain
//! item bound to the current biometric set), never to the web view or a file in the clear.
//!
//! Keeping the stretched PIN rather than the vault key means the lock section's own tag checks
//! it: a secret from before a PIN change (the salt changed) or from another vault is told apart
//! as [`Error::BiometricStale`] instead of failing later on the records. It counts no PIN try:
//! the platform limits biometric attempts itself, and whoever can make the platform release the
//! secret has passed its biometrics.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use zeroize::Zeroizing;

use super::format::{VaultKey, KEY_BYTES};
use super::lock::{self, Lock};
use super::{KeyStore, Vault};
use crate::error::{Error, Result};
use crate::ids::AppPin;

/// What a biometric unlock keeps in the platform's biometric store.
pub struct BiometricSecret(Zeroizing<[u8; KEY_BYTES]>);

impl BiometricSecret {
    /// The secret as the platform store gives it back: `None` unless it is 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let mut s = Zeroizing::new([0u8; KEY_BYTES]);
        (bytes.len() == KEY_BYTES).then(|| {
            s.copy_from_slice(bytes);
            Self(s)
        })
    }

    /// The bytes, for the platform store only.
    pub fn expose(&self) -> &[u8] {
        self.0.as_ref()
    }
}

impl fmt::Debug for BiometricSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BiometricSecret(<redacted>)")
    }
}

/// How a locked vault is to be opened.
pub(super) enum Unlock<'a> {
    /// With the keychain alone: a locked vault answers [`Error::PinNeeded`].
    Keychain,
    /// With the app PIN, at the device's time (for the wrong-PIN wait).
    Pin(&'a AppPin, u64),
    /// With a biometric unlock's secret.
    Biometric(&'a BiometricSecret),
}

/// The vault key `secret` opens `lock` with.
///
/// # Errors
/// [`Error::BiometricStale`] when it does not open it (the PIN was changed since).
pub(super) fn open_lock(lock: &Lock, secret: &BiometricSecret) -> Result<VaultKey> {
    lock.unwrap_stretched(&secret.0)?.ok_or(Error::BiometricStale)
}

impl Vault {
    /// The secret that lets the platform's biometrics open this vault in place of `pin`, for
    /// turning biometric unlock on. Takes the PIN (the try counts, as for
    /// [`Vault::change_pin`]), because whoever turns it on chooses who else may open the vault.
    ///
    /// # Errors
    /// [`Error::PinNotSet`] (biometrics stand in for a PIN, so there must be one);
    /// [`Error::WrongPin`] or [`Error::PinBackOff`] as for [`Vault::open_with_pin`].
    pub fn biometric_secret(&self, pin: &AppPin, now_unix: u64) -> Result<BiometricSecret> {
        let lock = self.lock.as_ref().ok_or(Error::PinNotSet)?;
        let stretched = lock.stretch(pin)?;
        lock::counted_try(&*self.keys, &self.key_name, now_unix, || {
            lock.unwrap_stretched(&stretched)
        })?;
        Ok(BiometricSecret(stretched))
    }

    /// Opens the vault at `path` with a biometric unlock's secret. A vault without a PIN opens
    /// as with [`Vault::open`].
    ///
    /// # Errors
    /// [`Error::BiometricStale`] when the secret no longer opens the vault (the PIN was changed
    /// or removed and set again since it was kept): the app asks for the PIN and offers to turn
    /// biometric unlock on again; as [`Vault::open`] otherwise (never [`Error::PinNeeded`]).
    pub fn open_with_biometric_secret(
        path: &Path,
        keys: Arc<dyn KeyStore>,
        key_name: &str,
        secret: &BiometricSecret,
    ) -> Result<Vault> {
        Vault::open_inner(path, keys, key_name, Unlock::Biometric(secret))
    }
}
