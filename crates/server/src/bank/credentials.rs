//! The admin listener's named credentials: issued, listed and revoked by the command line,
//! looked up by the HTTP shell on every admin request.
//!
//! Each instance keeps the table in memory and reads it again when its copy is older than
//! [`CREDENTIALS_TTL`]: one query per instance every two seconds at most, whatever the load,
//! and a revoke (written by the command line to the shared database) takes effect on every
//! instance within that time. A lookup is by the SHA-256 of the presented token; a map keyed by
//! it is no timing oracle, since the caller cannot steer the hash of what it sends towards a
//! stored one.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use rand_core::{OsRng, RngCore};

use super::Bank;
use crate::credential::{CredentialName, IssuedToken, Scope, TokenHash};
use crate::error::{Error, Result};
use crate::storage::{CredentialAdded, StoredCredential};

/// How old an instance's copy of the credentials may be: the longest a revoked credential
/// still opens the admin listener, and a new one does not yet.
pub const CREDENTIALS_TTL: Duration = Duration::from_secs(2);

/// Valid credentials one name may hold at once: the one in use and its successor, so a
/// rotation never leaves the holder without one.
pub const MOST_VALID_PER_NAME: usize = 2;

/// Who a presented bearer is, and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The credential's name, for the audit log.
    pub name: CredentialName,
    /// What it may do.
    pub scope: Scope,
}

/// A credential as `credential add` made it: its token, to print once, and its ID.
#[derive(Debug)]
pub struct AddedCredential {
    /// The token; shown once, never kept.
    pub token: IssuedToken,
    /// The ID that tells it from the name's other credential (for `credential revoke --id`).
    pub id: String,
}

struct Known {
    read_at: Instant,
    by_hash: HashMap<TokenHash, Authenticated>,
}

/// An instance's copy of the valid credentials (see the module's head).
#[derive(Default)]
pub(super) struct CredentialCache {
    known: RwLock<Option<Arc<Known>>>,
    reading: tokio::sync::Mutex<()>,
}

impl CredentialCache {
    fn fresh(&self, now: Instant) -> Option<Arc<Known>> {
        let known = self.known.read().ok()?.clone()?;
        (now.saturating_duration_since(known.read_at) < CREDENTIALS_TTL).then_some(known)
    }
}

impl Bank {
    /// The valid credential whose token hashes to `presented`, from a copy at most
    /// [`CREDENTIALS_TTL`] old.
    ///
    /// # Errors
    /// [`Error::Storage`] or [`Error::Unavailable`] when the copy is due and the database
    /// cannot be read.
    pub async fn credential(&self, presented: &TokenHash) -> Result<Option<Authenticated>> {
        let cache = &self.credentials;
        let known = match cache.fresh(Instant::now()) {
            Some(known) => known,
            None => {
                // One reader at a time; the others wait for its copy rather than query too.
                let _reading = cache.reading.lock().await;
                match cache.fresh(Instant::now()) {
                    Some(known) => known,
                    None => {
                        let read_at = Instant::now();
                        let by_hash = valid(self.storage.credentials().await?);
                        let known = Arc::new(Known { read_at, by_hash });
                        if let Ok(mut slot) = cache.known.write() {
                            *slot = Some(known.clone());
                        }
                        known
                    }
                }
            }
        };
        Ok(known.by_hash.get(presented).cloned())
    }

    /// Issues a credential named `name` with `scope`.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] when the name already holds [`MOST_VALID_PER_NAME`] valid
    /// credentials or holds them with another scope; [`Error::Storage`] when the database
    /// fails.
    pub async fn add_credential(
        &self,
        name: &CredentialName,
        scope: Scope,
        now: u64,
    ) -> Result<AddedCredential> {
        let token = IssuedToken::generate(name)?;
        let mut id = [0u8; 4];
        OsRng.try_fill_bytes(&mut id).map_err(|_| Error::Internal("OS random generator"))?;
        let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
        let row = StoredCredential {
            id: id.clone(),
            name: name.as_str().to_owned(),
            scope: scope.as_str().to_owned(),
            hash: token.hash().to_hex(),
            created_at: now,
            revoked_at: None,
        };
        match self.storage.add_credential(row, MOST_VALID_PER_NAME).await? {
            CredentialAdded::Added => Ok(AddedCredential { token, id }),
            CredentialAdded::NameFull => Err(Error::InvalidRequest(format!(
                "{name} already has {MOST_VALID_PER_NAME} valid credentials; revoke the older \
                 one first (`credential list`, then `credential revoke --name {name} --id ID`)"
            ))),
            CredentialAdded::OtherScope => Err(Error::InvalidRequest(format!(
                "{name} holds credentials of another scope; a name keeps one scope (revoke \
                 them, or choose another name)"
            ))),
        }
    }

    /// Every credential ever issued, revoked ones included.
    ///
    /// # Errors
    /// [`Error::Storage`] when the database fails.
    pub async fn credentials(&self) -> Result<Vec<StoredCredential>> {
        self.storage.credentials().await
    }

    /// Revokes `name`'s valid credentials, or only the one of `id`; returns how many.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] when there was none to revoke; [`Error::Storage`] when the
    /// database fails.
    pub async fn revoke_credential(
        &self,
        name: &CredentialName,
        id: Option<&str>,
        now: u64,
    ) -> Result<u64> {
        let n = self.storage.revoke_credential(name.as_str(), id.map(str::to_owned), now).await?;
        if n == 0 {
            return Err(Error::InvalidRequest(format!(
                "{name} has no valid credential{} to revoke",
                id.map(|id| format!(" with ID {id}")).unwrap_or_default()
            )));
        }
        Ok(n)
    }
}

/// The valid credentials of the table by hash. A row the server cannot read (a scope of a
/// newer server) is left out and logged, so it opens nothing rather than stopping the rest.
fn valid(rows: Vec<StoredCredential>) -> HashMap<TokenHash, Authenticated> {
    rows.into_iter()
        .filter(|r| r.revoked_at.is_none())
        .filter_map(|r| {
            let read = (TokenHash::from_hex(&r.hash).ok())
                .zip(Scope::parse(&r.scope))
                .zip(CredentialName::new(&r.name).ok());
            if read.is_none() {
                tracing::error!(event = "credential_unreadable", id = %r.id,
                    "a credential row cannot be read; it opens nothing");
            }
            read.map(|((hash, scope), name)| (hash, Authenticated { name, scope }))
        })
        .collect()
}
