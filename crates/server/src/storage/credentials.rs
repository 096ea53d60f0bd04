//! The admin listener's named credentials as both backends keep them: one row per issued
//! token, its hash only (`crate::credential`), revoked by stamping `revoked_at` so that the
//! list shows what was issued and when it stopped.
//!
//! A credential is added and revoked from the command line, a few times a year; each backend
//! writes them in a transaction of their own (on SQLite beside the writer thread, whose batches
//! are for the customers' hot path), and the servers read the whole table at most every
//! [`crate::bank::CREDENTIALS_TTL`].

use serde::Serialize;

/// One credential row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredCredential {
    /// A short random ID that tells a name's two credentials apart (8 hex digits).
    pub id: String,
    /// Whose it is: a clerk, a web-tier instance.
    pub name: String,
    /// What it may do (`crate::credential::Scope::as_str`).
    pub scope: String,
    /// The SHA-256 of the token, lower-case hex; never the token.
    #[serde(skip)]
    pub hash: String,
    /// Unix seconds when it was issued.
    pub created_at: u64,
    /// Unix seconds when it was revoked; `None` while it is valid.
    pub revoked_at: Option<u64>,
}

/// What [`super::Storage::add_credential`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialAdded {
    /// The row is written.
    Added,
    /// The name already has as many valid credentials as allowed: revoke one first.
    NameFull,
    /// The name's valid credentials have another scope: a name keeps one scope.
    OtherScope,
}

/// Of a name's valid credentials (their scopes), whether one more of `scope` may be added.
pub(in crate::storage) fn may_add(
    valid_scopes: &[String],
    scope: &str,
    most_valid: usize,
) -> CredentialAdded {
    if valid_scopes.iter().any(|s| s != scope) {
        CredentialAdded::OtherScope
    } else if valid_scopes.len() >= most_valid {
        CredentialAdded::NameFull
    } else {
        CredentialAdded::Added
    }
}
