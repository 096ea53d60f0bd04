//! The app lock: with an app PIN set, the vault file and the keychain entry together no longer
//! open the tokens; the PIN is needed as well.
//!
//! Without a PIN the keychain entry is the vault key itself. Setting a PIN puts a fresh
//! 256-bit *device secret* in that entry instead, and the vault key goes into the file's lock
//! section, wrapped (AES-256-GCM) under
//! `HKDF-SHA256(salt = device secret, Argon2id(PIN, salt, m, t, p))`. The Argon2id parameters and
//! salt are in the section, so a file is always opened with the cost it was written with
//! ([`PinCost::APP`] for every file the app writes). Changing the PIN re-wraps the same vault key
//! under a new salt: the records are not re-encrypted. Removing it (which takes the PIN) puts the
//! vault key back in the keychain.
//!
//! Lock section (`LOCK_BYTES` = 120, in the header of `vault/format.rs`):
//!
//! ```text
//! offset  size  field
//!      0     4  Argon2id memory in KiB (m), big-endian
//!      4     4  Argon2id passes (t)
//!      8     4  Argon2id lanes (p)
//!     12    16  salt
//!     28    12  nonce of the wrapped key
//!     40    32  vault key, AES-256-GCM under the wrap key, associated data
//!               "softtoken vault key wrap" || bytes 0..28
//!     72    16  its tag
//!     88    32  HMAC-SHA256 under HKDF(device secret, "softtoken vault header key") of
//!               magic || version || generation || bytes 0..88
//! ```
//!
//! The MAC lets the header be checked with the keychain alone, before a PIN is: a changed
//! parameter, salt or generation is [`Error::VaultCorrupted`] and costs the customer no try, and
//! an older file is refused ([`Error::VaultRolledBack`]) before the PIN screen.
//!
//! Moving between the two keychain meanings is crash-safe: the entry first holds both (vault
//! key, then device secret: 64 bytes), then the file is written, then the entry keeps only the
//! one the file needs. An entry left holding both is settled to that one when the vault is next
//! opened; a locked file is never opened with the vault key such an entry still holds.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use hmac::{Hmac, Mac};
use rand_core::{OsRng, RngCore};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::format::{self, Header, VaultKey, KEY_BYTES, LOCK_BYTES, MAGIC};
use super::state::{self, FREE_PIN_TRIES};
use super::{atomic, KeyStore, Vault};
use crate::error::{Error, Result};
use crate::ids::AppPin;

const PARAMS_BYTES: usize = 12;
const SALT_BYTES: usize = 16;
const NONCE_BYTES: usize = 12;
const TAG_BYTES: usize = 16;
const WRAP_AT: usize = PARAMS_BYTES + SALT_BYTES;
const MAC_AT: usize = WRAP_AT + NONCE_BYTES + KEY_BYTES + TAG_BYTES;
const MAC_BYTES: usize = 32;
const _: () = assert!(MAC_AT + MAC_BYTES == LOCK_BYTES);

const WRAP_KEY_LABEL: &[u8] = b"softtoken vault pin wrap key";
const WRAP_AAD_LABEL: &[u8] = b"softtoken vault key wrap";
const HEADER_KEY_LABEL: &[u8] = b"softtoken vault header key";

/// The most memory a file may ask Argon2id for (1 GiB): beyond it, the file is not one softtoken
/// wrote and opening it could exhaust the phone.
const MAX_MEMORY_KIB: u32 = 1 << 20;
const MAX_PASSES: u32 = 16;
const MAX_LANES: u32 = 8;

/// The cost of deriving the key from an app PIN: Argon2id's memory, passes and lanes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinCost {
    /// Memory in KiB (Argon2's m).
    pub memory_kib: u32,
    /// Passes over the memory (t).
    pub passes: u32,
    /// Lanes (p); this build computes them one after the other.
    pub lanes: u32,
}

impl PinCost {
    /// What the app writes: 64 MiB, 3 passes, 1 lane, about 0.4 s on a mid-range phone
    /// (`docs/PERFORMANCE.md`, "App PIN unlock").
    pub const APP: PinCost = PinCost { memory_kib: 64 * 1024, passes: 3, lanes: 1 };

    fn argon2(self) -> Result<argon2::Argon2<'static>> {
        let params = argon2::Params::new(self.memory_kib, self.passes, self.lanes, Some(KEY_BYTES))
            .map_err(|_| Error::VaultCorrupted)?;
        Ok(argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params))
    }

    fn within_limits(self) -> bool {
        self.memory_kib <= MAX_MEMORY_KIB
            && (1..=MAX_PASSES).contains(&self.passes)
            && (1..=MAX_LANES).contains(&self.lanes)
    }
}

/// The secret the keychain holds instead of the vault key while an app PIN is set.
pub(super) struct DeviceSecret(Zeroizing<[u8; KEY_BYTES]>);

impl DeviceSecret {
    fn generate() -> Result<Self> {
        let mut s = Zeroizing::new([0u8; KEY_BYTES]);
        OsRng.try_fill_bytes(s.as_mut()).map_err(|_| Error::Crypto)?;
        Ok(Self(s))
    }

    fn copy(&self) -> Self {
        Self(Zeroizing::new(*self.0))
    }

    fn header_mac(&self) -> Result<Hmac<Sha256>> {
        let mut k = Zeroizing::new([0u8; KEY_BYTES]);
        // 32 bytes is far below HKDF-SHA256's limit, so expand cannot fail.
        let _ =
            hkdf::Hkdf::<Sha256>::new(None, self.0.as_ref()).expand(HEADER_KEY_LABEL, k.as_mut());
        <Hmac<Sha256> as Mac>::new_from_slice(k.as_ref()).map_err(|_| Error::Crypto)
    }
}

impl fmt::Debug for DeviceSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeviceSecret(<redacted>)")
    }
}

/// What the vault's keychain entry holds: one secret (the vault key without a PIN, the device
/// secret with one), or both while the lock is being set or removed.
pub(super) enum KeyEntry {
    One(Zeroizing<Vec<u8>>),
    Moving(Zeroizing<Vec<u8>>),
}

impl KeyEntry {
    /// The entry, or `None` when it is absent or not a secret of ours.
    pub fn load(keys: &dyn KeyStore, key_name: &str) -> Result<Option<KeyEntry>> {
        Ok(keys.get(key_name)?.and_then(|bytes| match bytes.len() {
            KEY_BYTES => Some(KeyEntry::One(bytes)),
            n if n == 2 * KEY_BYTES => Some(KeyEntry::Moving(bytes)),
            _ => None,
        }))
    }

    /// The vault key of a file without a lock.
    pub fn vault_key(&self) -> Option<VaultKey> {
        match self {
            KeyEntry::One(b) => VaultKey::from_bytes(b),
            KeyEntry::Moving(b) => VaultKey::from_bytes(&b[..KEY_BYTES]),
        }
    }

    /// The device secret of a file with a lock.
    pub fn device_secret(&self) -> DeviceSecret {
        let bytes = match self {
            KeyEntry::One(b) => &b[..],
            KeyEntry::Moving(b) => &b[KEY_BYTES..],
        };
        let mut s = Zeroizing::new([0u8; KEY_BYTES]);
        s.copy_from_slice(bytes);
        DeviceSecret(s)
    }

    /// Keeps only the secret a file with (`locked`) or without a lock needs, if the entry still
    /// holds both. Best effort: a failure leaves both, and the next open tries again.
    pub fn settle(&self, keys: &dyn KeyStore, key_name: &str, locked: bool) {
        if let KeyEntry::Moving(b) = self {
            let keep = if locked { &b[KEY_BYTES..] } else { &b[..KEY_BYTES] };
            let _ = keys.set(key_name, keep);
        }
    }
}

/// Stores the vault key and the device secret together as the entry (while the file changes
/// from needing one to needing the other), and checks the keychain kept them.
fn store_both(
    keys: &dyn KeyStore,
    key_name: &str,
    key: &VaultKey,
    secret: &DeviceSecret,
) -> Result<()> {
    let mut both = Zeroizing::new(Vec::with_capacity(2 * KEY_BYTES));
    both.extend_from_slice(key.expose());
    both.extend_from_slice(secret.0.as_ref());
    keys.set(key_name, &both)?;
    match keys.get(key_name)? {
        Some(stored) if stored.as_slice() == both.as_slice() => Ok(()),
        _ => Err(Error::KeychainUnavailable("the keychain did not keep the vault key".into())),
    }
}

/// An app PIN's lock: the device secret, and the lock section's parameters, salt and wrapped key.
pub(super) struct Lock {
    secret: DeviceSecret,
    body: [u8; MAC_AT],
}

impl fmt::Debug for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock").field("cost", &self.cost()).field("secret", &self.secret).finish()
    }
}

impl Lock {
    /// The same lock, for a save that keeps it.
    pub fn copy(&self) -> Self {
        Self { secret: self.secret.copy(), body: self.body }
    }

    /// Wraps `key` under `secret` and `pin` at `cost`, with a fresh salt and nonce.
    fn new(key: &VaultKey, secret: DeviceSecret, pin: &AppPin, cost: PinCost) -> Result<Self> {
        let mut body = [0u8; MAC_AT];
        for (i, v) in [cost.memory_kib, cost.passes, cost.lanes].into_iter().enumerate() {
            body[4 * i..4 * i + 4].copy_from_slice(&v.to_be_bytes());
        }
        OsRng
            .try_fill_bytes(&mut body[PARAMS_BYTES..WRAP_AT + NONCE_BYTES])
            .map_err(|_| Error::Crypto)?;
        let wrap = wrap_cipher(&secret, pin, cost, &body)?;
        let (head, rest) = body.split_at_mut(WRAP_AT);
        let (nonce, rest) = rest.split_at_mut(NONCE_BYTES);
        let (wrapped, tag) = rest.split_at_mut(KEY_BYTES);
        wrapped.copy_from_slice(key.expose());
        let t = wrap
            .encrypt_in_place_detached(Nonce::from_slice(nonce), &wrap_aad(head), wrapped)
            .map_err(|_| Error::Crypto)?;
        tag.copy_from_slice(&t);
        Ok(Self { secret, body })
    }

    /// The lock of a file's header, once its MAC under `secret` checks out.
    ///
    /// # Errors
    /// [`Error::VaultCorrupted`] if the header was changed (or the secret is not this file's), or
    /// asks for a cost beyond any softtoken writes.
    fn from_header(secret: DeviceSecret, header: &Header) -> Result<Self> {
        let section = header.lock.as_ref().ok_or(Error::VaultCorrupted)?;
        let mut body = [0u8; MAC_AT];
        body.copy_from_slice(&section[..MAC_AT]);
        let mac = mac_input(&secret, header.version, header.generation, &body)?;
        let lock = Self { secret, body };
        mac.verify_slice(&section[MAC_AT..]).map_err(|_| Error::VaultCorrupted)?;
        if !lock.cost().within_limits() {
            return Err(Error::VaultCorrupted);
        }
        Ok(lock)
    }

    /// The lock section of a file of `version` saved as `generation`.
    pub fn section(&self, version: u32, generation: u64) -> Result<[u8; LOCK_BYTES]> {
        let mut out = [0u8; LOCK_BYTES];
        out[..MAC_AT].copy_from_slice(&self.body);
        let mac = mac_input(&self.secret, version, generation, &self.body)?.finalize().into_bytes();
        out[MAC_AT..].copy_from_slice(&mac);
        Ok(out)
    }

    fn cost(&self) -> PinCost {
        let word = |i: usize| {
            let mut w = [0u8; 4];
            w.copy_from_slice(&self.body[4 * i..4 * i + 4]);
            u32::from_be_bytes(w)
        };
        PinCost { memory_kib: word(0), passes: word(1), lanes: word(2) }
    }

    /// The vault key, if `pin` is the one it was wrapped under (`None` otherwise).
    fn unwrap(&self, pin: &AppPin) -> Result<Option<VaultKey>> {
        self.unwrap_stretched(&stretch(pin, self.cost(), &self.body)?)
    }

    /// Argon2id of `pin` under this lock's salt and cost: what a biometric unlock keeps
    /// (`vault/biometric.rs`), so that it opens this lock without the PIN.
    pub(super) fn stretch(&self, pin: &AppPin) -> Result<Zeroizing<[u8; KEY_BYTES]>> {
        stretch(pin, self.cost(), &self.body)
    }

    /// The vault key, if `stretched` is Argon2id of the PIN it was wrapped under.
    pub(super) fn unwrap_stretched(
        &self,
        stretched: &Zeroizing<[u8; KEY_BYTES]>,
    ) -> Result<Option<VaultKey>> {
        let wrap = wrap_cipher_of(&self.secret, stretched);
        let (head, rest) = self.body.split_at(WRAP_AT);
        let (nonce, rest) = rest.split_at(NONCE_BYTES);
        let (wrapped, tag) = rest.split_at(KEY_BYTES);
        let mut key = Zeroizing::new([0u8; KEY_BYTES]);
        key.copy_from_slice(wrapped);
        let opened = wrap.decrypt_in_place_detached(
            Nonce::from_slice(nonce),
            &wrap_aad(head),
            key.as_mut(),
            Tag::from_slice(tag),
        );
        Ok(opened.ok().and_then(|()| VaultKey::from_bytes(key.as_ref())))
    }
}

fn mac_input(
    secret: &DeviceSecret,
    version: u32,
    generation: u64,
    body: &[u8],
) -> Result<Hmac<Sha256>> {
    let mut mac = secret.header_mac()?;
    mac.update(&MAGIC);
    mac.update(&version.to_be_bytes());
    mac.update(&generation.to_be_bytes());
    mac.update(body);
    Ok(mac)
}

fn wrap_aad(head: &[u8]) -> Vec<u8> {
    [WRAP_AAD_LABEL, head].concat()
}

/// The cipher that wraps the vault key: Argon2id of the PIN under the section's salt and cost,
/// bound to the device secret by HKDF.
fn wrap_cipher(
    secret: &DeviceSecret,
    pin: &AppPin,
    cost: PinCost,
    body: &[u8],
) -> Result<Aes256Gcm> {
    Ok(wrap_cipher_of(secret, &stretch(pin, cost, body)?))
}

fn stretch(pin: &AppPin, cost: PinCost, body: &[u8]) -> Result<Zeroizing<[u8; KEY_BYTES]>> {
    let salt = &body[PARAMS_BYTES..WRAP_AT];
    let mut stretched = Zeroizing::new([0u8; KEY_BYTES]);
    cost.argon2()?
        .hash_password_into(pin.expose(), salt, stretched.as_mut())
        .map_err(|_| Error::Crypto)?;
    Ok(stretched)
}

fn wrap_cipher_of(secret: &DeviceSecret, stretched: &Zeroizing<[u8; KEY_BYTES]>) -> Aes256Gcm {
    let mut k = Zeroizing::new([0u8; KEY_BYTES]);
    // 32 bytes is far below HKDF-SHA256's limit, so expand cannot fail.
    let _ = hkdf::Hkdf::<Sha256>::new(Some(secret.0.as_ref()), stretched.as_ref())
        .expand(WRAP_KEY_LABEL, k.as_mut());
    Aes256Gcm::new(k.as_ref().into())
}

/// The lock of a file with one, read with the keychain alone: the MAC checked, a file newer than
/// this build or older than the keychain's generation refused.
pub(super) fn check_locked_header(
    keys: &dyn KeyStore,
    key_name: &str,
    entry: &KeyEntry,
    header: &Header,
) -> Result<Lock> {
    let lock = Lock::from_header(entry.device_secret(), header)?;
    if header.version > format::CURRENT_VERSION {
        return Err(Error::VaultTooNew {
            found: header.version,
            supported: format::CURRENT_VERSION,
        });
    }
    if header.generation < state::load(keys, key_name)?.generation {
        return Err(Error::VaultRolledBack);
    }
    Ok(lock)
}

/// Checks `pin` against `lock`, counting the try first and clearing the count when it was right.
///
/// # Errors
/// [`Error::PinBackOff`] while a wait runs (no try counted); [`Error::WrongPin`]; the
/// keychain's errors.
pub(super) fn try_pin(
    keys: &dyn KeyStore,
    key_name: &str,
    lock: &Lock,
    pin: &AppPin,
    now_unix: u64,
) -> Result<VaultKey> {
    counted_try(keys, key_name, now_unix, || lock.unwrap(pin))
}

/// Counts a PIN try, runs `check` (the vault key if the PIN was right), and clears the count
/// when it was.
pub(super) fn counted_try(
    keys: &dyn KeyStore,
    key_name: &str,
    now_unix: u64,
    check: impl FnOnce() -> Result<Option<VaultKey>>,
) -> Result<VaultKey> {
    let mut st = state::load(keys, key_name)?;
    let wait_secs = st.wait_secs(now_unix);
    if wait_secs > 0 {
        return Err(Error::PinBackOff { wait_secs });
    }
    st.failed_pins = st.failed_pins.saturating_add(1);
    st.last_failed_at = now_unix;
    state::store(keys, key_name, &st)?;
    match check()? {
        Some(key) => {
            st.failed_pins = 0;
            state::store(keys, key_name, &st)?;
            Ok(key)
        }
        None => Err(Error::WrongPin {
            tries_left_before_wait: st.tries_left_before_wait(),
            wait_secs: st.wait_secs(now_unix),
        }),
    }
}

/// Whether a vault has an app PIN, and how the wrong tries stand: what the lock screen shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockStatus {
    /// The vault is locked with an app PIN.
    pub pin_set: bool,
    /// Wrong PINs still free of a wait (5 with none wrong yet).
    pub tries_left_before_wait: u32,
    /// When the next PIN may be tried, while a wait runs.
    pub wait_until_unix: Option<u64>,
}

impl Vault {
    /// Whether the vault at `path` has an app PIN and how the tries stand, read with the keychain
    /// alone (nothing is written). A vault without a PIN, or no vault, is `pin_set: false`.
    ///
    /// # Errors
    /// As [`Vault::open`] for a file with a PIN: [`Error::VaultCorrupted`],
    /// [`Error::VaultRolledBack`], [`Error::VaultTooNew`], [`Error::VaultKeyMissing`],
    /// [`Error::KeychainUnavailable`], [`Error::Io`].
    pub fn lock_status(
        path: &Path,
        keys: &dyn KeyStore,
        key_name: &str,
        now_unix: u64,
    ) -> Result<LockStatus> {
        let open = LockStatus {
            pin_set: false,
            tries_left_before_wait: FREE_PIN_TRIES,
            wait_until_unix: None,
        };
        let Some(bytes) = atomic::read_if_exists(path)? else { return Ok(open) };
        let header = format::read_header(&bytes)?;
        if header.lock.is_none() {
            return Ok(open);
        }
        let entry = KeyEntry::load(keys, key_name)?.ok_or(Error::VaultKeyMissing)?;
        check_locked_header(keys, key_name, &entry, &header)?;
        let st = state::load(keys, key_name)?;
        let wait = st.wait_secs(now_unix);
        Ok(LockStatus {
            pin_set: true,
            tries_left_before_wait: st.tries_left_before_wait(),
            wait_until_unix: (wait > 0).then(|| now_unix + wait),
        })
    }

    /// Opens the vault at `path` with the customer's app PIN. A vault without a PIN opens as
    /// with [`Vault::open`] (the PIN is not needed).
    ///
    /// # Errors
    /// - [`Error::WrongPin`]: the try is counted; after five in a row each further try waits;
    /// - [`Error::PinBackOff`] while that wait runs: no PIN is checked and no try counted;
    /// - as [`Vault::open`] (but never [`Error::PinNeeded`]). Nothing is ever wiped.
    pub fn open_with_pin(
        path: &Path,
        keys: Arc<dyn KeyStore>,
        key_name: &str,
        pin: &AppPin,
        now_unix: u64,
    ) -> Result<Vault> {
        Vault::open_inner(path, keys, key_name, super::Unlock::Pin(pin, now_unix))
    }

    /// True when the vault is locked with an app PIN.
    pub fn has_pin(&self) -> bool {
        self.lock.is_some()
    }

    /// Sets an app PIN on a vault that has none, and saves: from now on the keychain entry alone
    /// no longer opens the vault. The wrong-PIN count starts afresh.
    ///
    /// # Errors
    /// [`Error::PinAlreadySet`] (use [`Vault::change_pin`]); the errors of a save (see
    /// [`Vault::rename`]) and of the keychain. On any error the vault keeps no PIN.
    pub fn set_pin(&mut self, pin: &AppPin) -> Result<()> {
        if self.lock.is_some() {
            return Err(Error::PinAlreadySet);
        }
        self.ciphers()?;
        let key = self.key.as_ref().and_then(|k| VaultKey::from_bytes(k.expose()));
        let key = key.ok_or(Error::Crypto)?;
        let secret = DeviceSecret::generate()?;
        let lock = Lock::new(&key, secret.copy(), pin, self.pin_cost)?;
        store_both(&*self.keys, &self.key_name, &key, &secret)?;
        if let Err(e) = self.write(self.records.clone(), Some(lock), true) {
            // Only the vault key opens the file as it is: put it back alone.
            let _ = self.keys.set(&self.key_name, key.expose());
            return Err(e);
        }
        // The file needs only the device secret now; a failure here is settled at the next open.
        let _ = self.keys.set(&self.key_name, secret.0.as_ref());
        Ok(())
    }

    /// Changes the app PIN: the vault key is wrapped again under the new one (with a fresh salt),
    /// the records are not re-encrypted.
    ///
    /// # Errors
    /// [`Error::PinNotSet`]; for a wrong `old`, [`Error::WrongPin`] or [`Error::PinBackOff`] as
    /// for [`Vault::open_with_pin`] (the try counts); the errors of a save.
    pub fn change_pin(&mut self, old: &AppPin, new: &AppPin, now_unix: u64) -> Result<()> {
        let lock = self.lock.as_ref().ok_or(Error::PinNotSet)?;
        let key = try_pin(&*self.keys, &self.key_name, lock, old, now_unix)?;
        let relocked = Lock::new(&key, lock.secret.copy(), new, self.pin_cost)?;
        self.write(self.records.clone(), Some(relocked), true)
    }

    /// Turns the app lock off: the vault key goes back into the keychain and the file is saved
    /// without a lock section.
    ///
    /// # Errors
    /// As [`Vault::change_pin`].
    pub fn remove_pin(&mut self, pin: &AppPin, now_unix: u64) -> Result<()> {
        let lock = self.lock.as_ref().ok_or(Error::PinNotSet)?;
        let key = try_pin(&*self.keys, &self.key_name, lock, pin, now_unix)?;
        let secret = lock.secret.copy();
        store_both(&*self.keys, &self.key_name, &key, &secret)?;
        if let Err(e) = self.write(self.records.clone(), None, true) {
            let _ = self.keys.set(&self.key_name, secret.0.as_ref());
            return Err(e);
        }
        let _ = self.keys.set(&self.key_name, key.expose());
        Ok(())
    }

    /// Tests only: PINs set or changed from now on are derived at `cost` instead of
    /// [`PinCost::APP`]. The app never calls this; files are always opened at the cost their
    /// header names, whatever this says.
    #[doc(hidden)]
    pub fn use_pin_cost_for_tests(&mut self, cost: PinCost) {
        self.pin_cost = cost;
    }
}

#[cfg(test)]
mod tests;
