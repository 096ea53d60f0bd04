//! The token vault: the customer's tokens on this device, encrypted at rest.
//!
//! One file holds every token's record (bank IDs, display name, issuer, code parameters, clock
//! offset, creation time, delivery state) and its seed. The file is encrypted as a whole and
//! each seed is sealed a second time to its own record (`vault/format.rs` documents the layout), under a
//! 256-bit key that exists only in the OS keychain ([`KeyStore`]). The key is made on the first
//! save; it is never made while a vault file exists, since that would orphan the file's tokens.
//!
//! Every change is saved before the call returns, atomically (write aside, fsync, rename, fsync
//! the directory), so a crash leaves the old or the new vault, never a torn one. If a save
//! fails, the vault in memory is left as it was. A file that does not authenticate is reported
//! as [`Error::VaultCorrupted`] and never written over; a missing key or an unreachable
//! keychain are typed errors too, and leave the file alone. The way out of a damaged file or a
//! lost key is [`Vault::set_aside`]: the file is renamed beside itself with its key, never
//! deleted, and an empty vault starts.
//!
//! Limits, by design: one writer per file (a write over a file another program changed is
//! caught by [`Error::VaultChanged`], not merged; [`Vault::changed_on_disk`] tells a caller to
//! open the file again first), and a whole older vault file put back in place of the current
//! one (a rollback) opens as that older vault.
//!
//! ```
//! use std::sync::Arc;
//! use softtoken_core::ids::{DisplayName, ServiceId, UserId};
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
//!         pending_delivery: None,
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
pub(crate) mod format;
mod keystore;

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

/// What the app may show about a token: everything but the seed.
pub use crate::token::TokenSummary;
/// What the vault stores: the token provisioning produced (or a test made), and its fields.
pub use crate::token::{IssuedToken, NewToken};
pub use aside::SetAside;
pub use keystore::{
    KeyStore, MemoryKeyStore, OsKeyStore, PlatformKeychain, KEYCHAIN_SERVICE,
    TEST_BUILD_KEYCHAIN_SERVICE,
};

/// The customer's tokens, backed by one encrypted file and one keychain entry.
pub struct Vault {
    path: PathBuf,
    keys: Arc<dyn KeyStore>,
    key_name: String,
    /// `None` until the key is needed: an absent vault file is opened without the keychain.
    ciphers: Option<Ciphers>,
    records: Vec<Record>,
    /// SHA-256 of the file as this vault last read or wrote it; `None` when there is no file.
    on_disk: Option<[u8; 32]>,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("path", &self.path)
            .field("key_name", &self.key_name)
            .field("tokens", &self.records.len())
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
    /// - [`Error::VaultCorrupted`] if the file is damaged or was tampered with;
    /// - [`Error::VaultTooNew`] if a newer softtoken wrote it;
    /// - [`Error::VaultKeyMissing`] if the file exists but its key is not in the keychain;
    /// - [`Error::KeychainUnavailable`] if the keychain is locked or unreachable;
    /// - [`Error::Io`] if the file cannot be read.
    pub fn open(path: &Path, keys: Arc<dyn KeyStore>, key_name: &str) -> Result<Vault> {
        let mut vault = Vault {
            path: path.to_path_buf(),
            keys,
            key_name: key_name.to_owned(),
            ciphers: None,
            records: Vec::new(),
            on_disk: None,
        };
        let Some(bytes) = atomic::read_if_exists(path)? else {
            return Ok(vault);
        };
        // Not a vault file at all: say so without bothering the keychain.
        format::claimed_version(&bytes)?;
        let stored = vault.keys.get(key_name)?;
        let key = stored
            .as_deref()
            .and_then(|k| VaultKey::from_bytes(k))
            .ok_or(Error::VaultKeyMissing)?;
        let ciphers = Ciphers::new(&key);
        let on_disk = digest(&bytes);
        vault.records = format::decode(bytes, &ciphers)?;
        vault.ciphers = Some(ciphers);
        vault.on_disk = Some(on_disk);
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
        if self.records[i].summary.pending_delivery.is_none() {
            return Ok(());
        }
        let mut next = self.records.clone();
        next[i].summary.pending_delivery = None;
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
        match &r.summary.pending_delivery {
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
        let bytes = format::encode(&next, self.ciphers()?)?;
        let current = atomic::read_if_exists(&self.path)?.map(|b| digest(&b));
        if current != self.on_disk {
            return Err(Error::VaultChanged);
        }
        atomic::write(&self.path, &bytes)?;
        self.on_disk = Some(digest(&bytes));
        self.records = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
