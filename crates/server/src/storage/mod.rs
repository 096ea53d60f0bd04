//! Where registrations, provisioning attempts and outgoing mail are kept.
//!
//! Handlers and the [`crate::bank`] logic see only the [`Storage`] trait. Every change is an
//! optimistic compare-and-swap on the registration's revision ([`Registration::rev`]): the
//! logic reads a registration, decides, and asks storage to write the new values only if nobody
//! changed the row meanwhile. That works the same for one SQLite file ([`sqlite`]) and for
//! PostgreSQL behind several server instances (`UPDATE ... WHERE rev = $expected`), so a second
//! backend needs no change above this module.
//!
//! Both backends store registrations in the same columns, declared once in `columns.rs`, and
//! migrate their schema with the one runner in `migrate.rs`. Transaction confirmations are
//! kept beside them (`confirm.rs`), each state change a compare-and-set of its own.

mod audit;
mod chain;
mod columns;
mod confirm;
mod credentials;
mod migrate;
pub mod moves;
pub mod postgres;
pub mod sqlite;

use async_trait::async_trait;
use serde::Serialize;
use softtoken_core::ids::{ServiceId, UserId};
use softtoken_core::totp::TotpParams;

use crate::error::Result;

pub use audit::{AuditEntry, AuditQuery};
pub use chain::{AuditKey, ChainBreak, ChainCheck};
pub use confirm::{ConfirmationWrite, StoredConfirmation};
pub use credentials::{CredentialAdded, StoredCredential};
pub use moves::{MoveLookup, MoveParts, MoveStorage, MoveWrite, StoredMove};

/// Where a registration is in its life (the manual's 登録状況).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationState {
    /// Issued on the bank web; waiting for the app (step 5).
    Issued,
    /// An app proved the activation password; waiting for its ack. The latest confirmed
    /// attempt wins.
    Confirmed,
    /// The app acknowledged storing the seed; waiting for the first code (step 7 done).
    Delivered,
    /// A code was accepted (利用開始, step 13).
    InUse,
    /// Use ended (利用終了); codes are refused. A new registration may follow.
    Ended,
}

impl RegistrationState {
    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            RegistrationState::Issued => "issued",
            RegistrationState::Confirmed => "confirmed",
            RegistrationState::Delivered => "delivered",
            RegistrationState::InUse => "in_use",
            RegistrationState::Ended => "ended",
        }
    }

    /// Parses [`RegistrationState::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "issued" => RegistrationState::Issued,
            "confirmed" => RegistrationState::Confirmed,
            "delivered" => RegistrationState::Delivered,
            "in_use" => RegistrationState::InUse,
            "ended" => RegistrationState::Ended,
            _ => return None,
        })
    }

    /// True once the app holds the seed and codes may be verified.
    pub fn is_delivered(self) -> bool {
        matches!(self, RegistrationState::Delivered | RegistrationState::InUse)
    }
}

/// One token registration of one customer. Secrets are only held sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// 32 random hex digits; never shown to customers; binds the sealed secrets to this row.
    pub id: String,
    /// The bank's service ID.
    pub service_id: ServiceId,
    /// The customer's user ID.
    pub user_id: UserId,
    /// Where the step-6 mail went.
    pub mail: String,
    /// Life-cycle state.
    pub state: RegistrationState,
    /// The code parameters fixed at issue.
    pub params: TotpParams,
    /// Wrong activation passwords (a right one before delivery does not reset them; the
    /// bank's unlock does).
    pub failed_tries: u32,
    /// Locked after too many wrong activation passwords.
    pub provision_locked: bool,
    /// Consecutive rejected one-time codes.
    pub verify_failures: u32,
    /// Rejected codes since `verify_window_start`, accepted ones in between or not: the
    /// failure limit over a day that guesses spread between the customer's logins meet.
    pub verify_window_failures: u32,
    /// Unix seconds of the first rejected code of the current failure window; `None` before any.
    pub verify_window_start: Option<u64>,
    /// Locked after too many rejected codes.
    pub verify_locked: bool,
    /// The last accepted time step; a step at or below it is never accepted again.
    pub last_step: Option<u64>,
    /// The token's clock drift in time steps: the last accepted step minus the bank's step at
    /// that moment (or what a resync found). Verify looks around the bank's step plus this.
    pub drift_steps: i64,
    /// The activation password, sealed ([`crate::sealed::Purpose::ActivationPassword`]);
    /// empty once it can no longer be needed (delivered, ended, expired).
    pub sealed_password: Vec<u8>,
    /// The seed of the latest confirmed attempt, sealed ([`crate::sealed::Purpose::Seed`]).
    pub sealed_seed: Option<Vec<u8>>,
    /// The latest confirmed attempt (base64url), the only one whose ack is accepted.
    pub confirmed_attempt: Option<String>,
    /// Unix seconds of issue.
    pub issued_at: u64,
    /// Unix seconds after which the app can no longer fetch the token.
    pub expires_at: u64,
    /// Unix seconds of the latest confirm.
    pub confirmed_at: Option<u64>,
    /// Unix seconds of delivery (ack).
    pub delivered_at: Option<u64>,
    /// Unix seconds of the first accepted code.
    pub in_use_at: Option<u64>,
    /// Unix seconds of the end of use.
    pub ended_at: Option<u64>,
    /// The demo registration, re-armed by the server itself.
    pub demo: bool,
    /// Revision of the row, assigned by storage on every write; the compare-and-swap token.
    pub rev: u64,
}

#[cfg(any(test, feature = "test-support"))]
impl Registration {
    /// A freshly issued registration of service 10112231 and `user` (12 digits) with made-up
    /// sealed bytes, for storage tests that never open them.
    ///
    /// # Panics
    /// When `user` is not a valid user ID.
    #[allow(clippy::expect_used)]
    pub fn sample(user: &str) -> Self {
        Registration {
            id: format!("id-{user}"),
            service_id: ServiceId::new("10112231").expect("a valid service ID"),
            user_id: UserId::new(user).expect("a valid user ID"),
            mail: "taro@example.jp".into(),
            state: RegistrationState::Issued,
            params: TotpParams::default(),
            failed_tries: 0,
            provision_locked: false,
            verify_failures: 0,
            verify_window_failures: 0,
            verify_window_start: None,
            verify_locked: false,
            last_step: None,
            drift_steps: 0,
            sealed_password: vec![1, 2, 3],
            sealed_seed: None,
            confirmed_attempt: None,
            issued_at: 100,
            expires_at: 200,
            confirmed_at: None,
            delivered_at: None,
            in_use_at: None,
            ended_at: None,
            demo: false,
            rev: 0,
        }
    }
}

/// What a provisioning attempt has become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptStatus {
    /// Started; waiting for the app's confirm.
    Pending,
    /// A confirm came with a wrong password; evaluated, never usable again.
    Spent,
    /// The app proved the password; its seed is (or was) the registration's.
    Confirmed,
}

impl AttemptStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptStatus::Pending => "pending",
            AttemptStatus::Spent => "spent",
            AttemptStatus::Confirmed => "confirmed",
        }
    }

    /// Parses [`AttemptStatus::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => AttemptStatus::Pending,
            "spent" => AttemptStatus::Spent,
            "confirmed" => AttemptStatus::Confirmed,
            _ => return None,
        })
    }
}

/// One provisioning attempt (start → confirm → ack).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The attempt ID, base64url.
    pub id: String,
    /// The registration it belongs to ([`Registration::id`]).
    pub registration_id: String,
    /// Unix seconds of start.
    pub created_at: u64,
    /// Unix seconds after which confirm is refused.
    pub expires_at: u64,
    /// What it has become.
    pub status: AttemptStatus,
    /// The core's `ServerAttempt`, sealed ([`crate::sealed::Purpose::Attempt`]); wiped when
    /// the attempt can no longer be used.
    pub sealed: Option<Vec<u8>>,
}

/// A mail the bank would send (step 6), kept in the outbox instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OutboxMail {
    /// The registration it announces.
    pub registration_id: String,
    /// Recipient.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body (service ID, user ID, download URL; never the password).
    pub body: String,
    /// Unix seconds.
    pub created_at: u64,
}

/// A change of an attempt's status, applied only if it still has `from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptChange {
    /// The attempt ID.
    pub id: String,
    /// Its expected current status.
    pub from: AttemptStatus,
    /// Its new status.
    pub to: AttemptStatus,
    /// Drop the sealed attempt state (it will never be needed again).
    pub wipe: bool,
    /// A notice to the customer about this attempt (a wrong activation password, a setup that
    /// replaced another), written to the outbox in the same transaction so none goes
    /// unannounced.
    pub notice: Option<OutboxMail>,
}

/// An atomic change: all parts are written, or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The registration's new values; its `rev` is the revision the caller read.
    pub registration: Registration,
    /// An attempt whose status changes with it.
    pub attempt: Option<AttemptChange>,
    /// Wipe the sealed state of every other attempt of this registration (after delivery, so
    /// no other candidate seed stays on disk).
    pub wipe_other_attempts: bool,
    /// A registration to insert in the same transaction (the demo re-arm ends the old one and
    /// creates the fresh one at once).
    pub insert: Option<Registration>,
    /// A phone move's writes in the same transaction ([`moves`]).
    pub moved: Option<Box<MoveParts>>,
}

impl Change {
    /// A change of the registration alone.
    pub fn registration(registration: Registration) -> Self {
        Self { registration, attempt: None, wipe_other_attempts: false, insert: None, moved: None }
    }
}

/// What [`Storage::update`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Updated {
    /// Written; the registration with its new revision.
    Applied(Box<Registration>),
    /// Someone changed the registration (or the attempt) first; nothing was written. Read
    /// again and decide again.
    Conflict,
}

/// Why an insert was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// Written; the registration with its revision.
    Applied(Box<Registration>),
    /// The pair already has a registration that has not ended.
    ActiveExists,
    /// The user ID is already used by another registration of this service (generated IDs
    /// draw again).
    UserIdTaken,
}

/// One row re-sealed under a new master key by `softtoken-server rotate-key`, written only if
/// nobody changed the row since it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reseal {
    /// A registration's sealed activation password (empty stays empty) and seed, if the row
    /// still has revision `rev`; the row gets a new revision.
    Registration {
        /// [`Registration::id`].
        id: String,
        /// The revision it was read at.
        rev: u64,
        /// The password re-sealed (or empty).
        sealed_password: Vec<u8>,
        /// The seed re-sealed.
        sealed_seed: Option<Vec<u8>>,
    },
    /// An attempt's sealed state, if it still holds exactly `old`.
    Attempt {
        /// [`Attempt::id`].
        id: String,
        /// The sealed bytes it was read with.
        old: Vec<u8>,
        /// The same state re-sealed.
        new: Vec<u8>,
    },
}

/// How fresh a read of a pair's registration must be: the "one true answer" rule (issue 16).
///
/// Every answer the bank gives rests on the database. An acceptance rests on a write, and
/// every write is a compare-and-swap on the row's revision, so deciding it on any copy is
/// safe: a stale copy makes the write conflict, and the bank reads again. A refusal or an
/// answer that writes nothing has no such check, so it is given only on
/// [`Freshness::Database`]. In between, [`Freshness::Cached`] is what this process itself has
/// committed, which is right unless another process (the admin CLI, a second server on the
/// same SQLite file, another instance on the same PostgreSQL) wrote meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// The copy this process last saw, which another process may have changed since: good
    /// only to decide a write whose compare-and-swap then proves it current (verify's first
    /// decision), never for an answer without a write. SQLite answers from its cache,
    /// PostgreSQL from the copy its instance last read or wrote; either reads the database
    /// when it holds none.
    Hint,
    /// Never behind a committed write of this process: SQLite's write-through cache may
    /// answer; PostgreSQL, whose instances each write, reads the database.
    Cached,
    /// Straight from the database, never a cache: what a refusal is confirmed against. A
    /// cached copy that differs from it is dropped, so later reads go to the database too.
    Database,
}

/// The storage backend. Implementations must make each call atomic and durable before it
/// returns `Ok`.
#[async_trait]
pub trait Storage: MoveStorage + Send + Sync + 'static {
    /// Inserts a fresh registration and its step-6 mail. With `user_id_must_be_new`, refuses
    /// a user ID that any registration of the service ever had.
    ///
    /// # Errors
    /// [`crate::Error::Storage`] when the database fails.
    async fn insert_registration(
        &self,
        registration: Registration,
        mail: Option<OutboxMail>,
        user_id_must_be_new: bool,
    ) -> Result<Inserted>;

    /// The newest registration of a pair (ended or not), as fresh as `freshness` asks
    /// ([`Freshness`] says when a cache may answer).
    ///
    /// # Errors
    /// [`crate::Error::Storage`] when the database fails.
    async fn registration(
        &self,
        service: &ServiceId,
        user: &UserId,
        freshness: Freshness,
    ) -> Result<Option<Registration>>;

    /// A registration by its [`Registration::id`], straight from the database.
    ///
    /// # Errors
    /// [`crate::Error::Storage`] when the database fails.
    async fn registration_by_id(&self, id: &str) -> Result<Option<Registration>>;

    /// Applies a [`Change`] if the registration still has the revision in it (and the
    /// attempt its `from` status).
    ///
    /// # Errors
    /// [`crate::Error::Storage`] when the database fails; nothing was written.
    async fn update(&self, change: Change) -> Result<Updated>;

    /// Inserts a new attempt, first deleting the registration's oldest pending attempts so
    /// that at most `open_cap` stay pending (the new one included): a flood of starts stores
    /// a bounded number of rows per registration.
    ///
    /// # Errors
    /// [`crate::Error::Storage`] when the database fails.
    async fn insert_attempt(&self, attempt: Attempt, open_cap: u32) -> Result<()>;

    /// An attempt by ID.
    ///
    /// # Errors
    /// [`crate::Error::Storage`] when the database fails.
    async fn attempt(&self, id: &str) -> Result<Option<Attempt>>;

    /// The newest mails of the outbox, newest first.
    ///
    /// # Errors
    /// [`crate::Error::Storage`] when the database fails.
    async fn outbox(&self, limit: u32) -> Result<Vec<OutboxMail>>;

    /// Clears the sealed activation password of every registration that expired (at or
    /// before `now`) without being delivered: it can never be provisioned again, and customers
    /// reuse their PINs elsewhere. Returns how many were cleared.
    ///
    /// # Errors
    /// [`crate::Error::Storage`] when the database fails.
    async fn forget_expired_passwords(&self, now: u64) -> Result<u64>;

    /// Deletes attempts that expired before `before` and were never confirmed.
    ///
    /// # Errors
    /// [`crate::Error::Storage`] when the database fails.
    async fn purge_attempts(&self, before: u64) -> Result<u64>;

    /// Up to `limit` registrations whose [`Registration::id`] sorts after `after`, in id
    /// order (key rotation walks every registration with it).
    ///
    /// # Errors
    /// [`crate::Error::Storage`] when the database fails.
    async fn registrations_after(&self, after: &str, limit: u32) -> Result<Vec<Registration>>;

    /// Up to `limit` attempts that still hold sealed state and whose id sorts after `after`,
    /// in id order.
    ///
    /// # Errors
    /// [`crate::Error::Storage`] when the database fails.
    async fn sealed_attempts_after(&self, after: &str, limit: u32) -> Result<Vec<Attempt>>;

    /// Writes a batch of re-sealed rows in one transaction, each only if its row is unchanged
    /// (revision, or the attempt's exact sealed bytes); returns how many were written. A row
    /// changed meanwhile is left alone: read it again and re-seal what it holds now.
    ///
    /// # Errors
    /// [`crate::Error::Storage`] when the database fails; nothing of the batch was written.
    async fn reseal(&self, batch: Vec<Reseal>) -> Result<u64>;

    /// Appends an audit entry (its `id` is ignored) and returns the id it got. Committed
    /// before the call returns, so the action it announces is never done unrecorded.
    ///
    /// # Errors
    /// [`crate::Error::Storage`] when the database fails.
    async fn append_audit(&self, entry: AuditEntry) -> Result<u64>;

    /// Up to `limit` entries after `after_id`, oldest first, with their links: what `audit
    /// verify` walks and the stream to the SIEM copies.
    ///
    /// # Errors
    /// [`crate::Error::Storage`] when the database fails.
    async fn audit_after(&self, after_id: u64, limit: u32) -> Result<Vec<AuditEntry>>;

    /// Lists audit entries, newest first.
    ///
    /// # Errors
    /// [`crate::Error::Storage`] when the database fails.
    async fn audit(&self, query: AuditQuery) -> Result<Vec<AuditEntry>>;

    /// Writes many registrations at once, each with a fresh revision, in one transaction (all
    /// of them, or none on an error): how a bank-size benchmark seeds millions of customers, or
    /// a migration brings them over, in minutes. No mail is written and no cache is filled.
    /// Returns how many were written.
    ///
    /// # Errors
    /// [`crate::Error::Storage`] when the database fails or refuses a row (a pair that already
    /// has a registration that has not ended, an ID used twice); nothing of the call is written.
    async fn insert_bulk(&self, registrations: Vec<Registration>) -> Result<u64>;

    /// Applies one [`ConfirmationWrite`] atomically; true when it took effect (see each
    /// variant). Committed before the call returns.
    ///
    /// # Errors
    /// [`crate::Error::Storage`] when the database fails; nothing was written.
    async fn write_confirmation(&self, write: ConfirmationWrite) -> Result<bool>;

    /// As [`Storage::write_confirmation`], with `entry` appended to the audit log in the same
    /// transaction when the write takes effect: a request and the entry that records it are
    /// committed together or not at all, in one commit instead of an entry's two around it.
    ///
    /// # Errors
    /// [`crate::Error::Storage`] when the database fails; nothing was written.
    async fn write_confirmation_audited(
        &self,
        write: ConfirmationWrite,
        entry: AuditEntry,
    ) -> Result<bool>;

    /// A confirmation request by its ID, straight from the database.
    ///
    /// # Errors
    /// [`crate::Error::Storage`] when the database fails.
    async fn confirmation(&self, id: &str) -> Result<Option<StoredConfirmation>>;

    /// Up to `limit` requests of a registration that are `pending` and not past their expiry
    /// at `now`, oldest first, straight from the database.
    ///
    /// # Errors
    /// [`crate::Error::Storage`] when the database fails.
    async fn pending_confirmations(
        &self,
        registration_id: &str,
        now: u64,
        limit: u32,
    ) -> Result<Vec<StoredConfirmation>>;

    /// Adds a credential unless its name already has `most_valid` valid ones or valid ones of
    /// another scope (checked and written in one transaction). Committed before it returns.
    ///
    /// # Errors
    /// [`crate::Error::Storage`] when the database fails or the ID is taken.
    async fn add_credential(
        &self,
        credential: StoredCredential,
        most_valid: usize,
    ) -> Result<CredentialAdded>;

    /// Every credential ever added, revoked ones included, by name and age, straight from the
    /// database.
    ///
    /// # Errors
    /// [`crate::Error::Storage`] when the database fails.
    async fn credentials(&self) -> Result<Vec<StoredCredential>>;

    /// Revokes a name's valid credentials at `now` (only the one of `id`, if given); returns
    /// how many. Committed before it returns.
    ///
    /// # Errors
    /// [`crate::Error::Storage`] when the database fails.
    async fn revoke_credential(&self, name: &str, id: Option<String>, now: u64) -> Result<u64>;

    /// Waits until every accepted write is on disk and stops the background writer. Calls
    /// after this fail with [`crate::Error::Unavailable`].
    async fn close(&self);
}
