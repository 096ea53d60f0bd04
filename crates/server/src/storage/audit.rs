//! The audit log's entries and listings (the MAC chain that binds them is `chain.rs`).

use serde::Serialize;

/// One admin action in the audit log: who, what, when and how it ended — never a secret (no
/// password, seed, code or bearer token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Assigned by storage, increasing; the paging cursor.
    pub id: u64,
    /// Unix seconds when the action was asked for.
    pub at: u64,
    /// Who acted: `credential:NAME` (a named credential of the admin API; `legacy-admin`,
    /// `legacy-confirm` for the token files'), `cli` (the admin command line), `token` (a
    /// customer's app answering a confirmation or ending its registration) or `bank` (a confirmation that expired
    /// unanswered).
    pub actor: String,
    /// Where from: the socket peer for the admin API, the client address for the app,
    /// `uid N (name)` for the command line.
    pub origin: String,
    /// `issue`, `end`, `unlock`, `resync`, `rotate_key`, `confirm_create`, `confirm_cancel`
    /// or `confirm_outcome`.
    pub action: String,
    /// The registration's service ID, when the action names one.
    pub service_id: Option<String>,
    /// The registration's user ID, when the action names one (for an issue that draws it,
    /// the drawn ID once known).
    pub user_id: Option<String>,
    /// `pending` in the entry written before the action runs; `ok` or the error code the
    /// caller got in the second entry, written when it ended (there is none if the process
    /// died meanwhile). An event only reported has one entry with its outcome.
    pub outcome: String,
    /// The `pending` entry an outcome entry ends.
    pub refers_to: Option<u64>,
    /// The name of the audit key that chained the entry (none for entries written before the
    /// chain).
    pub key_id: Option<String>,
    /// The entry's link in the MAC chain (64 hex digits; see `storage/chain.rs`).
    pub mac: Option<String>,
}

/// Which audit entries to list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only entries with a smaller id (the previous page's `next_before_id`).
    pub before_id: Option<u64>,
    /// Only this service ID's entries.
    pub service_id: Option<String>,
    /// Only this user ID's entries.
    pub user_id: Option<String>,
    /// At most this many.
    pub limit: u32,
}
