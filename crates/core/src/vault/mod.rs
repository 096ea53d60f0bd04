//! The token vault: the customer's tokens on this device, encrypted at rest.
//!
//! One file holds every token's record (bank IDs, display name, issuer, code parameters, clock
//! offset, creation time, delivery state) and its seed. The file is encrypted as a whole and
//! each seed is sealed a second time to its own record (`vault/format.rs` documents the layout), under a
//! 256-bit key that exists only in the OS keychain ([`KeyStore`]). The key is made on the first
//! save; it is never made while a vault file exists, since that would orphan the file's tokens.
//!
//! With an app PIN ([`Vault::set_pin`], `vault/lock.rs`) the keychain holds a device secret
//! instead and the file holds the vault key wrapped under it and Argon2id of the PIN, so the
//! file and the keychain entry together no longer open the tokens; [`Vault::open`] answers
//! [`Error::PinNeeded`] and [`Vault::open_with_pin`] opens. Wrong PINs are counted in the
//! keychain (five free, then a wait that doubles from 30 seconds to an hour, `vault/state.rs`),
//! never by wiping anything.
//!
//! Every change is saved before the call returns, atomically (write aside, fsync, rename, fsync
//! the directory), so a crash leaves the old or the new vault, never a torn one. If a save
//! fails, the vault in memory is left as it was. A file that does not authenticate is reported
//! as [`Error::VaultCorrupted`] and never written over; a missing key or an unreachable
//! keychain are typed errors too, and leave the file alone. The way out of a damaged file, a
//! lost key, an older copy or a forgotten PIN is [`Vault::set_aside`]: the file is renamed
//! beside itself with its key, never deleted, and an empty vault starts.
//!
//! Each save counts one more *generation*, written in the file's authenticated header and then
//! kept in the keychain beside the key. A file older than the keychain's generation (a backup or
//! a sync tool put an old copy back, and with it tokens deleted since) is refused as
//! [`Error::VaultRolledBack`]; a file one ahead (the app stopped between the two writes) is
//! accepted and the keychain caught up.
//!
//! Limits, by design: one writer per file (a write over a file another program changed is
//! caught by [`Error::VaultChanged`], not merged; [`Vault::changed_on_disk`] tells a caller to
//! open the file again first). The rollback refusal is only as good as the keychain: whoever can
//! write the keychain entry `<key name>.state` (on a desktop, any program of the same user) can
//! delete it, after which the next file opened is taken as current and the wrong-PIN count
//! starts afresh; and a keychain restored from an older backup along with the file is not told
//! from the real one. The PIN's wait runs on the device's clock, which its owner can set.
//!
//! ```
//! use std::sync::Arc;
//! use softtoken_core::ids::{DisplayName, ServiceId, UserId};
//! use softtoken_core::token::Delivery;
//! use softtoken_core::totp::{ClockOffset, Seed, TotpParams};
//! use softtoken_core::vault::{IssuedToken, MemoryKeyStore, NewToken, Vault};
//! use zeroize::Zeroizing;
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("tokens.vault");
//! let keys = Arc::new(MemoryKeyStore::new()); // the app uses OsKeyStore
//! let mut vault = Vault::open(&path, keys.clone(), "vault-key")?;
//! let id = vault.add(
//!     NewToken {
//!         issued: IssuedToken {
//!             service_id: ServiceId::new("10112231")?,
//!             user_id: UserId::new("999800000001")?,
//!             display_name: DisplayName::new("しんきん", "")?,
//!             issuer: "Example Credit Union".into(),
//!             params: TotpParams::default(),
//!             offset: ClockOffset(0),
//!         },
//!         seed: Seed::new(Zeroizing::new(b"12345678901234567890".to_vec()))?,
//!         delivery: Delivery::ACKNOWLEDGED,
//!     },
//!     1_700_000_000,
//! )?;
//!
//! let reopened = Vault::open(&path, keys, "vault-key")?;
//! assert_eq!(reopened.tokens()[0].issued.display_name.base(), "しんきん");
//! // Step 0 of the 60-second period: RFC 4226's first value for this seed.
//! assert_eq!(reopened.totp(&id)?.code_at(59).as_str(), "755224");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod aside;
mod atomic;
mod biometric;
pub(crate) mod format;
mod keystore;
mod lock;
mod state;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::ids::{DisplayName, TokenId};
use crate::protocol::ack_for;
use crate::protocol::wire::AckRequest;
use crate::totp::{ClockOffset, Totp};
use format::{Ciphers, Record, VaultKey};
use lock::{KeyEntry, Lock};

/// What the app may show about a token: everything but the seed.
pub use crate::token::TokenSummary;
/// What the vault stores: the token provisioning produced (or a test made), and its fields.
pub use crate::token::{IssuedToken, NewToken, PendingMove};
pub use aside::SetAside;
pub use biometric::BiometricSecret;
use biometric::Unlock;
pub use keystore::{
    KeyStore, MemoryKeyStore, OsKeyStore, PlatformKeychain, KEYCHAIN_SERVICE,
    TEST_BUILD_KEYCHAIN_SERVICE,
};
pub use lock::{LockStatus, PinCost};
pub use state::{FIRST_WAIT_SECS, FREE_PIN_TRIES, LONGEST_WAIT_SECS};

/// The customer's tokens, backed by one encrypted file and one keychain entry.
pub struct Vault {
    path: PathBuf,
    keys: Arc<dyn KeyStore>,
    key_name: String,
    /// `None` until the key is needed: an absent vault file is opened without the keychain.
    ciphers: Option<Ciphers>,
    /// The vault key the ciphers come from, kept to wrap it when an app PIN is set.
    key: Option<VaultKey>,
    /// The app PIN's lock, when the vault has one.
    lock: Option<Lock>,
    /// What new PINs are derived at: [`PinCost::APP`] but in tests.
    pin_cost: PinCost,
    records: Vec<Record>,
    /// SHA-256 of the file as this vault last read or wrote it; `None` when there is no file.
    on_disk: Option<[u8; 32]>,
    /// The generation of the file as this vault last read or wrote it (0: none, or version 1).
    generation: u64,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("path", &self.path)
            .field("key_name", &self.key_name)
            .field("tokens", &self.records.len())
            .field("generation", &self.generation)
            .field("pin_set", &self.lock.is_some())
            .field("key", &"<redacted>")
            .finish()
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

impl Vault {
    /// Opens the vault at `path`, whose key is the keychain entry `key_name` in `keys`. An
    /// absent file is an empty vault (the keychain is not touched until the first save).
    ///
    /// # Errors
    /// The file is never changed by a failed open:
    /// - [`Error::PinNeeded`] if the vault has an app PIN: use [`Vault::open_with_pin`];
    /// - [`Error::VaultCorrupted`] if the file is damaged or was tampered with;
    /// - [`Error::VaultRolledBack`] if it is an older copy than the one last saved here;
    /// - [`Error::VaultTooNew`] if a newer softtoken wrote it;
    /// - [`Error::VaultKeyMissing`] if the file exists but its key is not in the keychain;
    /// - [`Error::KeychainUnavailable`] if the keychain is locked or unreachable;
    /// - [`Error::Io`] if the file cannot be read.
    pub fn open(path: &Path, keys: Arc<dyn KeyStore>, key_name: &str) -> Result<Vault> {
        Vault::open_inner(path, keys, key_name, Unlock::Keychain)
    }

    fn open_inner(
        path: &Path,
        keys: Arc<dyn KeyStore>,
        key_name: &str,
        unlock: Unlock<'_>,
    ) -> Result<Vault> {
        let mut vault = Vault {
            path: path.to_path_buf(),
            keys,
            key_name: key_name.to_owned(),
            ciphers: None,
            key: None,
            lock: None,
            pin_cost: PinCost::APP,
            records: Vec::new(),
            on_disk: None,
            generation: 0,
        };
        let Some(bytes) = atomic::read_if_exists(path)? else {
            return Ok(vault);
        };
        // Not a vault file at all: say so without bothering the keychain.
        let header = format::read_header(&bytes)?;
        let keys = &*vault.keys;
        let entry = KeyEntry::load(keys, key_name)?.ok_or(Error::VaultKeyMissing)?;
        let key = if header.lock.is_some() {
            let lock = lock::check_locked_header(keys, key_name, &entry, &header)?;
            // The file is locked: a vault key the entry may still hold must not stay there.
            entry.settle(keys, key_name, true);
            let key = match unlock {
                Unlock::Keychain => return Err(Error::PinNeeded),
                Unlock::Pin(pin, now_unix) => lock::try_pin(keys, key_name, &lock, pin, now_unix)?,
                Unlock::Biometric(secret) => biometric::open_lock(&lock, secret)?,
            };
            vault.lock = Some(lock);
            key
        } else {
            entry.vault_key().ok_or(Error::VaultKeyMissing)?
        };
        let ciphers = Ciphers::new(&key);
        let on_disk = digest(&bytes);
        vault.records = format::decode(bytes, &ciphers)?;
        let mut st = state::load(keys, key_name)?;
        if header.generation < st.generation {
            return Err(Error::VaultRolledBack);
        }
        if header.generation > st.generation {
            // Saved, then stopped before the keychain was told: catch it up. Best effort: the
            // next save catches it up first if this fails.
            st.generation = header.generation;
            let _ = state::store(keys, key_name, &st);
        }
        entry.settle(keys, key_name, header.lock.is_some());
        vault.ciphers = Some(ciphers);
        vault.key = Some(key);
        vault.on_disk = Some(on_disk);
        vault.generation = header.generation;
        Ok(vault)
    }

    /// True when the file is no longer what this vault last read or wrote (another program
    /// wrote, restored or removed it): open it again before changing anything, or the change
    /// ends in [`Error::VaultChanged`].
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be read.
    pub fn changed_on_disk(&self) -> Result<bool> {
        Ok(atomic::read_if_exists(&self.path)?.map(|b| digest(&b)) != self.on_disk)
    }

    /// Every token, in the customer's order.
    pub fn tokens(&self) -> Vec<TokenSummary> {
        self.records.iter().map(|r| r.summary.clone()).collect()
    }

    /// Adds a token at the end of the list and saves. `now_unix` is its creation time.
    ///
    /// # Errors
    /// - [`Error::DuplicateToken`] if a token for the same service ID and user ID is present;
    /// - [`Error::TotpParameters`] for parameters the code engine does not support;
    /// - on the first save, [`Error::KeychainUnavailable`] if the key cannot be stored;
    /// - the errors of a save (see [`Vault::rename`]).
    pub fn add(&mut self, t: NewToken, now_unix: u64) -> Result<TokenId> {
        if self.records.iter().any(|r| {
            r.summary.issued.service_id == t.issued.service_id
                && r.summary.issued.user_id == t.issued.user_id
        }) {
            return Err(Error::DuplicateToken);
        }
        t.issued.params.validate()?;
        let id = loop {
            let id = TokenId::random()?;
            if self.index(&id).is_err() {
                break id;
            }
        };
        let (summary, seed) = t.into_summary(id.clone(), now_unix);
        let seed = Record::seal_seed(
            self.ciphers()?,
            &summary.id,
            &summary.issued.service_id,
            &summary.issued.user_id,
            &seed,
        )?;
        let mut next = self.records.clone();
        next.push(Record { summary, seed });
        self.commit(next)?;
        Ok(id)
    }

    /// Renames a token and saves.
    ///
    /// # Errors
    /// - [`Error::TokenNotFound`] if no token has this id;
    /// - [`Error::VaultChanged`] if the file changed on disk since this vault read it;
    /// - [`Error::Io`] if the file cannot be written (the old file is intact).
    ///
    /// On any error the vault is left as it was, in memory and on disk.
    pub fn rename(&mut self, id: &TokenId, name: DisplayName) -> Result<()> {
        let i = self.index(id)?;
        let mut next = self.records.clone();
        next[i].summary.issued.display_name = name;
        self.commit(next)
    }

    /// Removes a token and saves. Its seed is gone for good.
    ///
    /// # Errors
    /// As [`Vault::rename`].
    pub fn remove(&mut self, id: &TokenId) -> Result<()> {
        let i = self.index(id)?;
        let mut next = self.records.clone();
        next.remove(i);
        self.commit(next)
    }

    /// Puts the tokens in the order of `ids` and saves.
    ///
    /// # Errors
    /// [`Error::TokenNotFound`] unless `ids` holds every token's id exactly once (the list on
    /// screen is stale: refresh it); otherwise as [`Vault::rename`].
    pub fn reorder(&mut self, ids: &[TokenId]) -> Result<()> {
        if ids.len() != self.records.len() {
            return Err(Error::TokenNotFound);
        }
        let mut taken = vec![false; self.records.len()];
        let mut next = Vec::with_capacity(ids.len());
        for id in ids {
            let i = self.index(id)?;
            if std::mem::replace(&mut taken[i], true) {
                return Err(Error::TokenNotFound);
            }
            next.push(self.records[i].clone());
        }
        self.commit(next)
    }

    /// Records that the bank acknowledged delivery of a token, and saves. Acknowledging a token
    /// that is not pending changes nothing.
    ///
    /// # Errors
    /// As [`Vault::rename`].
    pub fn mark_delivered(&mut self, id: &TokenId) -> Result<()> {
        let i = self.index(id)?;
        if self.records[i].summary.delivery.pending.is_none() {
            return Ok(());
        }
        let mut next = self.records.clone();
        next[i].summary.delivery.pending = None;
        self.commit(next)
    }

    /// Keeps a token's clock offset as the bank's authenticated time last gave it, and saves;
    /// every code after that uses it. The same offset again changes nothing.
    ///
    /// # Errors
    /// As [`Vault::rename`].
    pub fn set_offset(&mut self, id: &TokenId, offset: ClockOffset) -> Result<()> {
        let i = self.index(id)?;
        if self.records[i].summary.issued.offset == offset {
            return Ok(());
        }
        let mut next = self.records.clone();
        next[i].summary.issued.offset = offset;
        self.commit(next)
    }

    /// Keeps (or, with `None`, clears) the move to a new phone a token started, and saves, so
    /// that the app asks the bank about it again after a restart. The same value again changes
    /// nothing.
    ///
    /// # Errors
    /// As [`Vault::rename`].
    pub fn set_pending_move(&mut self, id: &TokenId, pending: Option<PendingMove>) -> Result<()> {
        let i = self.index(id)?;
        if self.records[i].summary.pending_move == pending {
            return Ok(());
        }
        let mut next = self.records.clone();
        next[i].summary.pending_move = pending;
        self.commit(next)
    }

    /// The code generator of a token.
    ///
    /// # Errors
    /// - [`Error::TokenNotFound`] if no token has this id;
    /// - [`Error::VaultCorrupted`] if its sealed seed no longer opens (memory damage).
    pub fn totp(&self, id: &TokenId) -> Result<Totp> {
        let r = &self.records[self.index(id)?];
        Totp::new(r.summary.issued.params, &r.open_seed(self.opened()?)?, r.summary.issued.offset)
    }

    /// The transaction confirmation keys of a token (`docs/confirmation.md` §3.1), derived
    /// from its seed, which stays inside core.
    ///
    /// # Errors
    /// - [`Error::TokenNotFound`] if no token has this id;
    /// - [`Error::VaultCorrupted`] if its sealed seed no longer opens (memory damage).
    pub fn confirmation_keys(&self, id: &TokenId) -> Result<crate::confirm::ConfirmationKeys> {
        let r = &self.records[self.index(id)?];
        Ok(crate::confirm::ConfirmationKeys::derive(&r.open_seed(self.opened()?)?))
    }

    /// Wipes the vault (a kiosk reset): deletes the file, then the key from the keychain, so
    /// no copy of the file can ever be opened again. The vault stays usable, empty; the next
    /// token gets a new key.
    ///
    /// # Errors
    /// - [`Error::Io`] if the file cannot be deleted: nothing changed;
    /// - [`Error::KeychainUnavailable`] if the key cannot be deleted: the tokens are already
    ///   gone; call again to delete the key.
    pub fn clear(&mut self) -> Result<()> {
        atomic::remove(&self.path)?;
        self.records.clear();
        self.on_disk = None;
        self.ciphers = None;
        self.key = None;
        self.lock = None;
        self.keys.delete(&self.key_name)
    }

    /// The delivery ack still owed for a token stored pending delivery, or `None` once the bank
    /// acknowledged it. Reads the vault only: send the ack with the client (without holding a
    /// lock on the vault across the network), then call [`Vault::mark_delivered`]. The seed
    /// stays inside core; only the proof that this device holds it comes out.
    ///
    /// # Errors
    /// [`Error::TokenNotFound`] if no token has this id; [`Error::VaultCorrupted`] if its sealed
    /// seed no longer opens.
    pub fn pending_ack(&self, id: &TokenId) -> Result<Option<AckRequest>> {
        let r = &self.records[self.index(id)?];
        match &r.summary.delivery.pending {
            None => Ok(None),
            Some(attempt) => Ok(Some(ack_for(&r.open_seed(self.opened()?)?, attempt))),
        }
    }

    /// A token's seed, for tests that check what was stored.
    #[cfg(test)]
    pub(crate) fn seed(&self, id: &TokenId) -> Result<crate::totp::Seed> {
        let r = &self.records[self.index(id)?];
        r.open_seed(self.opened()?)
    }

    /// The ciphers of a vault that has tokens (and so a key).
    fn opened(&self) -> Result<&Ciphers> {
        // Tokens exist only once the key is loaded; anything else is a broken invariant.
        self.ciphers.as_ref().ok_or(Error::VaultCorrupted)
    }

    fn index(&self, id: &TokenId) -> Result<usize> {
        self.records.iter().position(|r| &r.summary.id == id).ok_or(Error::TokenNotFound)
    }

    /// The ciphers, fetching the key from the keychain or making it on first use.
    fn ciphers(&mut self) -> Result<&Ciphers> {
        if self.ciphers.is_none() {
            let key = self.load_or_create_key()?;
            self.ciphers = Some(Ciphers::new(&key));
            self.key = Some(key);
        }
        self.ciphers.as_ref().ok_or(Error::Crypto)
    }

    fn load_or_create_key(&self) -> Result<VaultKey> {
        // Only reached with no vault file (an existing file's key is loaded at open). A key
        // left from an earlier vault is reused: nothing else can depend on it.
        if let Some(key) =
            self.keys.get(&self.key_name)?.as_deref().and_then(|k| VaultKey::from_bytes(k))
        {
            return Ok(key);
        }
        // A file that appeared since open has its own key, which a new one would orphan.
        if atomic::read_if_exists(&self.path)?.is_some() {
            return Err(Error::VaultChanged);
        }
        let key = VaultKey::generate()?;
        self.keys.set(&self.key_name, key.expose())?;
        // Read it back: a keychain that silently dropped the key would lose every token.
        match self.keys.get(&self.key_name)? {
            Some(stored) if stored.as_slice() == key.expose() => Ok(key),
            _ => Err(Error::KeychainUnavailable("the keychain did not keep the vault key".into())),
        }
    }

    /// Saves `next` and, only once it is on disk, makes it the vault's content.
    fn commit(&mut self, next: Vec<Record>) -> Result<()> {
        let lock = self.lock.as_ref().map(Lock::copy);
        self.write(next, lock, false)
    }

    /// Saves `next` under `lock` (or none) as the next generation and, only once it is on disk,
    /// makes both the vault's; `fresh_tries` also sets the wrong-PIN count back to zero.
    fn write(&mut self, next: Vec<Record>, lock: Option<Lock>, fresh_tries: bool) -> Result<()> {
        self.ciphers()?;
        let mut st = state::load(&*self.keys, &self.key_name)?;
        if st.generation < self.generation {
            // The keychain missed the last save: catch it up before this file gets two ahead.
            st.generation = self.generation;
            state::store(&*self.keys, &self.key_name, &st)?;
        }
        // After a kiosk wipe or a set-aside the keychain may be ahead of this vault.
        let generation = st.generation.max(self.generation) + 1;
        let section = match &lock {
            Some(l) => Some(l.section(format::CURRENT_VERSION, generation)?),
            None => None,
        };
        let bytes = format::encode(&next, self.ciphers()?, generation, section.as_ref())?;
        let current = atomic::read_if_exists(&self.path)?.map(|b| digest(&b));
        if current != self.on_disk {
            return Err(Error::VaultChanged);
        }
        atomic::write(&self.path, &bytes)?;
        self.on_disk = Some(digest(&bytes));
        self.records = next;
        self.lock = lock;
        self.generation = generation;
        st.generation = generation;
        if fresh_tries {
            st.failed_pins = 0;
        }
        // The file is saved; if the keychain cannot be told now, the next open or save catches
        // it up (a file one generation ahead is accepted).
        let _ = state::store(&*self.keys, &self.key_name, &st);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
