//! The bank's rules: issue, provision, verify, end use, unlock, status, and the demo
//! registration. HTTP handlers and the admin CLI are thin shells over [`Bank`].
//!
//! Every decision reads a registration, decides, and writes with a compare-and-swap on the
//! row's revision ([`Storage::update`]); when another request changed the row first, the
//! decision is taken again on the fresh row. So two concurrent confirms, a verify racing a
//! revoke, or a replayed code can never both win. That loop is written once,
//! `Bank::retry_on_conflict`; each operation only says how it reads and what it decides.
//!
//! One room per operation: [`issue`](Bank::issue) and its step-6 mail (`issue.rs`, `mail.rs`),
//! provisioning (`provision.rs`), verification (`verify.rs`), revoke and unlock
//! (`lifecycle.rs`), the demo registration (`demo.rs`), the passwords refused at issue
//! (`weak_password.rs`), transaction confirmation (`confirm.rs`).

mod audit;
mod confirm;
mod credentials;
mod demo;
mod issue;
mod lifecycle;
mod mail;
mod moves;
mod provision;
mod rotate;
mod verify;
mod weak_password;

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::Serialize;
use softtoken_core::ids::{ActivationPassword, ServiceId, UserId};
use softtoken_core::protocol::ServerAttempt;
use softtoken_core::totp::{Seed, TotpParams};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::sealed::{Purpose, Sealer};
use crate::storage::{
    Attempt, Change, Freshness, Inserted, OutboxMail, Registration, RegistrationState, Storage,
    Updated,
};

pub use crate::weakness::Weakness;
pub use audit::{audit_query, Actor, AdminAction, Subject, MAX_AUDIT_PAGE};
pub use confirm::{
    AnswerOutcome, ConfirmationStatus, CreatedConfirmation, NewConfirmation, OfflineCheck,
    OfflineOutcome, MAX_FETCHED, MAX_PENDING, MAX_WAIT_SECS, WAIT_POLL,
};
pub use credentials::{AddedCredential, Authenticated, CREDENTIALS_TTL, MOST_VALID_PER_NAME};
pub use demo::{DEMO_SERVICE_ID, DEMO_USER_ID};
pub use issue::IssueRequest;
pub use rotate::{RotationBatch, RotationCursor, KEY_CHECK_SAMPLE};
#[cfg(feature = "fuzzing")]
pub(crate) use verify::check_code_shape;
pub use verify::RESYNC_WINDOW_SECS;
pub use weak_password::weakness;

/// How often a decision is retaken when other requests keep changing the same registration.
/// Each retry means someone else's write succeeded, so this bounds only pathological races.
const MAX_RETRIES: usize = 16;

/// The span over which [`Policy::verify_window_max_failures`] counts rejected codes: a day from
/// the first of them.
pub const VERIFY_FAILURE_WINDOW_SECS: u64 = 86_400;

/// The bank's limits and token parameters.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Wrong activation passwords before the registration is locked (default 5).
    pub provision_max_tries: u32,
    /// Consecutive rejected codes before the token is locked (default 10).
    pub verify_max_failures: u32,
    /// Rejected codes within [`VERIFY_FAILURE_WINDOW_SECS`] before the token is locked, accepted
    /// codes in between or not (default 20): nine guesses between each of the customer's
    /// logins meet it within a day.
    pub verify_window_max_failures: u32,
    /// Seconds an attempt waits for its confirm.
    pub attempt_ttl_secs: u64,
    /// Pending attempts kept per registration; a newer start replaces the oldest (default 5).
    pub max_open_attempts: u32,
    /// Seconds after the end of use before the pair may be issued again (default a day).
    pub reissue_wait_secs: u64,
    /// Seconds a new registration may be fetched by the app (default 7 days).
    pub default_expiry_secs: u64,
    /// Code parameters of new registrations.
    pub params: TotpParams,
    /// The bank's name, sent to the app.
    pub issuer: String,
    /// The default display name, sent to the app.
    pub display_name: String,
    /// Where the app is downloaded (in the step-6 mail).
    pub download_url: String,
    /// Whether the old phone may move its token to a new phone at once (`[moves] enabled`,
    /// default on); off, the customer takes the manual path (end of use, a new issue).
    pub moves_enabled: bool,
    /// Seconds a prepared move waits for the new phone (`[moves] expiry_secs`, default a day).
    pub move_expiry_secs: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            provision_max_tries: 5,
            verify_max_failures: 10,
            verify_window_max_failures: 20,
            attempt_ttl_secs: softtoken_core::protocol::DEFAULT_ATTEMPT_LIFETIME_SECS,
            max_open_attempts: 5,
            reissue_wait_secs: 24 * 3600,
            default_expiry_secs: 7 * 24 * 3600,
            params: TotpParams::default(),
            issuer: "softtoken Demo Bank".into(),
            display_name: "Demo Bank".into(),
            download_url: "https://softtoken.example/download".into(),
            moves_enabled: true,
            move_expiry_secs: softtoken_core::confirm::phone_move::DEFAULT_MOVE_EXPIRY_SECS,
        }
    }
}

/// What the bank web shows about a registration (step 1's status screen). No secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    /// The bank's service ID.
    pub service_id: String,
    /// The customer's user ID.
    pub user_id: String,
    /// Life-cycle state.
    pub state: RegistrationState,
    /// True when the app can no longer fetch the token because the registration expired.
    pub expired: bool,
    /// Locked after too many wrong activation passwords.
    pub provision_locked: bool,
    /// Locked after too many wrong codes.
    pub verify_locked: bool,
    /// Wrong activation passwords so far (reset only by the bank's unlock).
    pub failed_tries: u32,
    /// Consecutive wrong codes.
    pub verify_failures: u32,
    /// The token's clock drift in time steps that verify allows for (positive: the phone is
    /// ahead); moved by accepted codes and by a resync.
    pub drift_steps: i64,
    /// Where the step-6 mail went.
    pub mail: String,
    /// The demo registration.
    pub demo: bool,
    /// Unix seconds.
    pub issued_at: u64,
    /// Unix seconds.
    pub expires_at: u64,
    /// Unix seconds.
    pub confirmed_at: Option<u64>,
    /// Unix seconds.
    pub delivered_at: Option<u64>,
    /// Unix seconds.
    pub in_use_at: Option<u64>,
    /// Unix seconds.
    pub ended_at: Option<u64>,
    /// Unix seconds from when a new token may be issued (after the end of use).
    pub reissue_allowed_at: Option<u64>,
}

/// Why a code was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    /// Not the code of any step within ±1 of the server's clock.
    WrongCode,
    /// The code of a step that was already accepted (replay).
    Replayed,
}

/// The answer to a verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyOutcome {
    /// True when the code was accepted; its step can never be accepted again.
    pub accepted: bool,
    /// Why not, when rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Rejection>,
    /// True for the first accepted code (利用開始: delivered → in use).
    pub first_use: bool,
    /// The state after this verify.
    pub state: RegistrationState,
    /// Rejected codes still accepted before the lock, when rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failures_left: Option<u32>,
}

/// The answer to a resync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResyncOutcome {
    /// True when two consecutive steps matched the codes; the token's drift is now theirs.
    pub resynced: bool,
    /// The token's drift after this resync, in time steps (positive: the phone is ahead).
    pub drift_steps: i64,
    /// The same in seconds.
    pub drift_secs: i64,
}

/// The demo registration's settings.
#[derive(Clone)]
pub struct Demo {
    /// Its activation password.
    pub password: ActivationPassword,
}

/// Writes step-6 mails as files too (for people and scripts to read).
#[derive(Debug, Clone, Default)]
pub struct OutboxDir(pub Option<PathBuf>);

/// The bank side of softtoken.
pub struct Bank {
    storage: Arc<dyn Storage>,
    sealer: Sealer,
    policy: Policy,
    outbox_dir: OutboxDir,
    demo: Option<Demo>,
    wake: confirm::Wake,
    credentials: credentials::CredentialCache,
}

impl std::fmt::Debug for Bank {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bank").field("policy", &self.policy).finish_non_exhaustive()
    }
}

/// What an operation decided on a fresh read of a registration (see
/// [`Bank::retry_on_conflict`]).
enum Decision<'a, T> {
    /// The answer, with nothing to write: a repeat, or a refusal that changes nothing.
    Answer(T),
    /// Write this change; once it applies, `then` turns the saved row into the answer.
    Write(Box<Change>, Then<'a, T>),
    /// Insert this registration; once it applies, `then` turns the saved row into the answer.
    /// When the pair turns out to have a registration meanwhile, decide again.
    Insert(Box<Registration>, Then<'a, T>),
    /// Read again and decide again, without a write (a refusal to confirm on the database's
    /// own row; see [`Bank::retry_on_pair`]).
    ReadAgain,
}

/// The rest of an operation once its write applied (logging, the answer).
type Then<'a, T> = Box<dyn FnOnce(Registration) -> Result<T> + Send + 'a>;

impl Bank {
    /// A bank over `storage`, sealing secrets with `sealer`.
    pub fn new(
        storage: Arc<dyn Storage>,
        sealer: Sealer,
        policy: Policy,
        outbox_dir: OutboxDir,
        demo: Option<Demo>,
    ) -> Self {
        let (wake, credentials) = (confirm::Wake::default(), Default::default());
        Self { storage, sealer, policy, outbox_dir, demo, wake, credentials }
    }

    /// The storage (for shutdown and the outbox listing).
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// The id of the master key new secrets are sealed under.
    pub fn current_key(&self) -> crate::sealed::KeyId {
        self.sealer.current_key()
    }

    /// Whether the storage answers now: one read that finds nothing (no id sorts after `~`),
    /// through the pool and index every request uses, so a database that is down, failed over
    /// or out of connections fails it as it would fail a customer's request.
    ///
    /// # Errors
    /// [`Error::Unavailable`] or [`Error::Storage`], as a request would get them.
    pub async fn ready(&self) -> Result<()> {
        self.storage.registrations_after("~", 1).await.map(drop)
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    fn row(r: &Registration) -> [&str; 3] {
        [r.id.as_str(), r.service_id.as_str(), r.user_id.as_str()]
    }

    fn seal_password(&self, r: &Registration, pw: &ActivationPassword) -> Result<Vec<u8>> {
        self.sealer.seal(Purpose::ActivationPassword, &Self::row(r), pw.expose())
    }

    fn open_password(&self, r: &Registration) -> Result<ActivationPassword> {
        let bytes =
            self.sealer.open(Purpose::ActivationPassword, &Self::row(r), &r.sealed_password)?;
        let text = Zeroizing::new(
            String::from_utf8(bytes.to_vec()).map_err(|_| Error::SealedDataInvalid)?,
        );
        ActivationPassword::new(&text).map_err(|_| Error::SealedDataInvalid)
    }

    fn open_seed(&self, r: &Registration) -> Result<Seed> {
        let sealed = r.sealed_seed.as_ref().ok_or(Error::Internal("delivered without a seed"))?;
        let bytes = self.sealer.open(Purpose::Seed, &Self::row(r), sealed)?;
        Seed::new(bytes).map_err(|_| Error::SealedDataInvalid)
    }

    fn open_attempt(&self, a: &Attempt) -> Result<Option<ServerAttempt>> {
        let Some(sealed) = &a.sealed else { return Ok(None) };
        let bytes = self.sealer.open(
            Purpose::Attempt,
            &[a.id.as_str(), a.registration_id.as_str()],
            sealed,
        )?;
        ServerAttempt::from_bytes(&bytes).map(Some).map_err(|_| {
            if ServerAttempt::was_stored_before_the_token_block(&bytes) {
                Error::AttemptExpired(
                    "this setup was started before the bank's software was updated; start again",
                )
            } else {
                Error::SealedDataInvalid
            }
        })
    }

    /// The status of a pair's newest registration (step 1).
    ///
    /// # Errors
    /// [`Error::UnknownRegistration`] if the pair never had one.
    pub async fn status(&self, service: &ServiceId, user: &UserId, now: u64) -> Result<Status> {
        // The bank's own screen shows what the database holds, not a cached copy.
        Ok(self.status_of(&self.registration_from_database(service, user).await?, now))
    }

    fn status_of(&self, r: &Registration, now: u64) -> Status {
        Status {
            service_id: r.service_id.to_string(),
            user_id: r.user_id.to_string(),
            state: r.state,
            expired: !r.state.is_delivered()
                && r.state != RegistrationState::Ended
                && now >= r.expires_at,
            provision_locked: r.provision_locked,
            verify_locked: r.verify_locked,
            failed_tries: r.failed_tries,
            verify_failures: r.verify_failures,
            drift_steps: r.drift_steps,
            mail: r.mail.clone(),
            demo: r.demo,
            issued_at: r.issued_at,
            expires_at: r.expires_at,
            confirmed_at: r.confirmed_at,
            delivered_at: r.delivered_at,
            in_use_at: r.in_use_at,
            ended_at: r.ended_at,
            reissue_allowed_at: r.ended_at.map(|t| t.saturating_add(self.policy.reissue_wait_secs)),
        }
    }

    /// Reads with `read`, decides with `decide`, and writes what was decided with a
    /// compare-and-swap; when another request changed the row first, reads and decides again.
    ///
    /// # Errors
    /// Whatever `read` or `decide` refuse with; [`Error::Unavailable`] after
    /// [`MAX_RETRIES`] lost races.
    async fn retry_on_conflict<'a, Row, T, Fut>(
        &self,
        read: impl Fn() -> Fut,
        decide: impl FnMut(Row) -> Result<Decision<'a, T>>,
    ) -> Result<T>
    where
        Fut: Future<Output = Result<Row>>,
    {
        self.retry_from(None, read, decide).await
    }

    /// [`Bank::retry_on_conflict`], deciding first on `hint`: a copy of the row that may be
    /// stale (another instance may have written it since). Only a write can be decided on it,
    /// because the compare-and-swap then proves the copy was current; an answer or a refusal
    /// without a write is never given from it, but decided again on a fresh read, as is a
    /// write that lost its race.
    async fn retry_from<'a, Row, T, Fut>(
        &self,
        mut hint: Option<Row>,
        read: impl Fn() -> Fut,
        mut decide: impl FnMut(Row) -> Result<Decision<'a, T>>,
    ) -> Result<T>
    where
        Fut: Future<Output = Result<Row>>,
    {
        for _ in 0..MAX_RETRIES {
            let (row, hinted) = match hint.take() {
                Some(row) => (row, true),
                None => (read().await?, false),
            };
            let decision = match decide(row) {
                Ok(Decision::Answer(_)) | Err(_) if hinted => continue,
                decided => decided?,
            };
            match decision {
                Decision::Answer(answer) => return Ok(answer),
                Decision::Write(change, then) => {
                    if let Updated::Applied(saved) = self.storage.update(*change).await? {
                        return then(*saved);
                    }
                }
                Decision::Insert(fresh, then) => {
                    match self.storage.insert_registration(*fresh, None, false).await? {
                        Inserted::Applied(saved) => return then(*saved),
                        Inserted::ActiveExists | Inserted::UserIdTaken => {}
                    }
                }
                Decision::ReadAgain => {}
            }
        }
        Err(Error::Unavailable)
    }

    /// [`Bank::retry_on_conflict`] on a pair's newest registration, with one true answer: an
    /// acceptance is written with a compare-and-swap on the database's row, so a copy from a
    /// cache can never make it wrong; a refusal (ended, not delivered, locked, an answer with
    /// nothing to write) is not written, so when it was decided on a copy the storage may
    /// hold in a cache, the row is read again from the database and the decision taken again
    /// before it is given. Why confirm rather than prove the cache current on every read:
    /// refusals are rare on the hot path, so they alone pay one more read, while proving the
    /// copy current (SQLite's `PRAGMA data_version`) would cost every verify a query on a
    /// connection, and would still leave the gap between the check and the answer.
    ///
    /// `hint` is a copy to decide on first (see [`Bank::retry_from`]); a refusal decided on it
    /// is confirmed on the database's row like any other.
    async fn retry_on_pair<'a, T>(
        &self,
        hint: Option<Registration>,
        service: &ServiceId,
        user: &UserId,
        mut decide: impl FnMut(Registration) -> Result<Decision<'a, T>>,
    ) -> Result<T> {
        let confirming = AtomicBool::new(false);
        self.retry_from(
            hint,
            || async {
                if confirming.load(Ordering::Relaxed) {
                    self.registration_from_database(service, user).await
                } else {
                    self.registration(service, user).await
                }
            },
            |r| {
                let decision = decide(r);
                let refusal = matches!(decision, Err(_) | Ok(Decision::Answer(_)));
                if refusal && !confirming.swap(true, Ordering::Relaxed) {
                    return Ok(Decision::ReadAgain);
                }
                decision
            },
        )
        .await
    }

    /// The newest registration of a pair, which must exist; possibly a cached copy.
    async fn registration(&self, service: &ServiceId, user: &UserId) -> Result<Registration> {
        self.storage
            .registration(service, user, Freshness::Cached)
            .await?
            .ok_or(Error::UnknownRegistration)
    }

    /// The newest registration of a pair, which must exist, read from the database itself
    /// (never a cached copy): what a refusal is given on.
    async fn registration_from_database(
        &self,
        service: &ServiceId,
        user: &UserId,
    ) -> Result<Registration> {
        self.storage
            .registration(service, user, Freshness::Database)
            .await?
            .ok_or(Error::UnknownRegistration)
    }

    /// The newest mails of the outbox.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn outbox(&self, limit: u32) -> Result<Vec<OutboxMail>> {
        self.storage.outbox(limit).await
    }
}

/// Unix seconds as RFC 3339 UTC, for mails and the CLI.
pub fn rfc3339(unix: u64) -> String {
    i64::try_from(unix)
        .ok()
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}
