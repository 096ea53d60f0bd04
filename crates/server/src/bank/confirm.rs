//! Transaction confirmation, the bank's side (`docs/confirmation.md` §5, §9): the web tier
//! creates a request for a registration in use and waits for its outcome; the app fetches the
//! pending requests with its proof and answers one; the offline code is checked once per
//! minute step. Core decides (the MACs, the order of the rules, the OCRA code); this room
//! keeps the state, and storage moves it from `pending` exactly once with a compare-and-set.
//!
//! A waiting status read wakes at once for an answer through this process (a [`Notify`]) and
//! within [`WAIT_POLL`] for one through another instance (it reads the database again).

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use softtoken_core::confirm::{
    self as rule, offline, AccountNumber, Amount, AnswerRequest, ConfirmationId, ConfirmationKeys,
    ConfirmationState, Details, FetchRequest, FetchResponse, MatchNumber, Request, Verdict,
};
use softtoken_core::ids::{ServiceId, UserId};
use tokio::sync::Notify;

use super::audit::{entry, Actor, AdminAction, Subject};
use super::Bank;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::storage::{ConfirmationWrite, Registration, RegistrationState, StoredConfirmation};

/// Pending requests one registration may have at once.
pub const MAX_PENDING: u32 = 5;
/// Requests one fetch returns at most.
pub const MAX_FETCHED: u32 = 16;
/// The longest a status read may wait (seconds).
pub const MAX_WAIT_SECS: u64 = 30;
/// How often a waiting status read looks at the database for an answer made through another
/// instance.
pub const WAIT_POLL: Duration = Duration::from_millis(20);

/// What the web tier asks the customer to confirm (`POST /v1/admin/confirmations`).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConfirmation {
    /// The registration.
    pub service_id: ServiceId,
    /// The registration.
    pub user_id: UserId,
    /// What is to be approved, exactly as in a signed request.
    pub details: Details,
    /// Seconds it stays answerable: 30–300, default 120.
    #[serde(default)]
    pub lifetime_secs: Option<u64>,
    /// Whether an approval must carry the number the web tier's page shows.
    #[serde(default)]
    pub match_required: bool,
}

/// A request just created: what the web tier shows (the number to match only to it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CreatedConfirmation {
    /// The request's ID.
    pub id: ConfirmationId,
    /// Always `pending`.
    pub state: ConfirmationState,
    /// Bank time.
    pub created_at: u64,
    /// Bank time at and after which an answer is late.
    pub expires_at: u64,
    /// Whether an approval must carry the number.
    pub match_required: bool,
    /// The number to show beside the transaction, with `match_required`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub match_number: Option<MatchNumber>,
}

/// A request as the web tier sees it (no number to match: it has it from the creation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ConfirmationStatus {
    /// The request's ID.
    pub id: ConfirmationId,
    /// The registration.
    pub service_id: ServiceId,
    /// The registration.
    pub user_id: UserId,
    /// Where it is.
    pub state: ConfirmationState,
    /// What is to be approved.
    pub details: Details,
    /// Bank time.
    pub created_at: u64,
    /// Bank time.
    pub expires_at: u64,
    /// Whether an approval must carry the number.
    pub match_required: bool,
    /// When an answer made it final.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<u64>,
    /// True when this call made it final (for the counters; not sent).
    #[serde(skip)]
    pub changed: bool,
}

/// The bank's answer to the app's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AnswerOutcome {
    /// The request answered.
    pub id: ConfirmationId,
    /// Its state after the answer.
    pub state: ConfirmationState,
    /// True when this answer made it final (for the counters; not sent).
    #[serde(skip)]
    pub changed: bool,
}

/// The offline code the customer typed on the bank's page (`POST
/// /v1/admin/confirmations/offline`).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfflineCheck {
    /// The registration.
    pub service_id: ServiceId,
    /// The registration.
    pub user_id: UserId,
    /// The payee's account number as the bank holds it (7 digits).
    pub account_number: String,
    /// The amount in yen.
    pub amount_yen: u64,
    /// What the customer typed (8 digits; spaces and hyphens are ignored).
    pub code: String,
}

/// Whether an offline code is good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OfflineOutcome {
    /// True for the code of this or the previous minute, the first time it is typed.
    pub valid: bool,
}

/// The in-process wake-up of waiting status reads.
#[derive(Debug, Default)]
pub(super) struct Wake(Notify);

impl Bank {
    /// Creates a confirmation request for a registration in use (§5), recorded in the audit
    /// log as `confirm_create` by `actor`.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for a lifetime outside 30–300 s or details core refuses;
    /// [`Error::UnknownRegistration`]; [`Error::Ended`]; [`Error::NotDelivered`] before the
    /// first code was accepted; [`Error::TooManyPending`] beyond [`MAX_PENDING`].
    pub async fn create_confirmation(
        &self,
        actor: &Actor,
        new: NewConfirmation,
        now: u64,
    ) -> Result<CreatedConfirmation> {
        let subject = Subject::pair(&new.service_id, &new.user_id);
        let created = self.create_recorded(actor, subject.clone(), new, now).await;
        if let Err(e) = &created {
            // Nothing was stored; the refusal is recorded after it (a failure to record it is
            // logged, the caller gets the refusal).
            let recorded = self.record(actor, AdminAction::ConfirmCreate, subject, now, e.code());
            if let Err(audit) = recorded.await {
                tracing::error!(event = "audit_error", error = %audit,
                    "recording a refused confirmation request");
            }
        }
        created
    }

    /// The request stored with its `ok` entry in one commit (`docs/server.md`, the audit log:
    /// never a change without its entry), or the refusal, nothing stored.
    async fn create_recorded(
        &self,
        actor: &Actor,
        subject: Subject,
        new: NewConfirmation,
        now: u64,
    ) -> Result<CreatedConfirmation> {
        let lifetime = new.lifetime_secs.unwrap_or(rule::DEFAULT_LIFETIME_SECS);
        let id = ConfirmationId::random()?;
        let request = Request::new(
            id.clone(),
            new.service_id.clone(),
            new.user_id.clone(),
            new.details,
            now,
            lifetime,
            new.match_required,
        )?;
        let r = self.in_use(&new.service_id, &new.user_id).await?;
        let number = if new.match_required { Some(MatchNumber::random()?) } else { None };
        let details = serde_json::to_string(request.details())
            .map_err(|_| Error::Internal("confirmation details do not serialise"))?;
        let stored = StoredConfirmation {
            id: id.to_string(),
            registration_id: r.id.clone(),
            service_id: new.service_id,
            user_id: new.user_id,
            kind: request.details().kind().to_owned(),
            details,
            created_at: request.created_at(),
            expires_at: request.expires_at(),
            match_required: request.match_required(),
            match_number: number.as_ref().map(|n| n.as_str().to_owned()),
            state: ConfirmationState::Pending,
            answered_at: None,
        };
        let write = ConfirmationWrite::Insert {
            confirmation: Box::new(stored),
            max_pending: MAX_PENDING,
            now,
        };
        let entry = entry(actor, AdminAction::ConfirmCreate, subject, now, "ok");
        if !self.storage.write_confirmation_audited(write, entry).await? {
            return Err(Error::TooManyPending { max: MAX_PENDING });
        }
        tracing::info!(event = "confirmation_created", service_id = %request.service_id(),
            user_id = %request.user_id(), kind = request.details().kind(),
            "confirmation request created");
        Ok(CreatedConfirmation {
            id,
            state: ConfirmationState::Pending,
            created_at: request.created_at(),
            expires_at: request.expires_at(),
            match_required: request.match_required(),
            match_number: number,
        })
    }

    /// The app's fetch (§4): its registration's answerable requests, oldest first, signed
    /// with the bank's key.
    ///
    /// # Errors
    /// [`Error::NotAuthenticated`] for an unknown registration, one not in use, or a wrong
    /// proof (one answer for all three); [`Error::ClockSkew`] for a right proof whose time is
    /// more than 300 s from `now`.
    pub async fn fetch_confirmations(
        &self,
        fetch: &FetchRequest,
        now: u64,
    ) -> Result<FetchResponse> {
        // A copy in use will do for a read of the token's own requests (see `in_use`).
        let (r, keys) = self.token_keys(&fetch.service_id, &fetch.user_id, true).await?;
        // The proof first, at its own time, so a prober learns nothing of the clock.
        if !fetch.is_authentic(&keys, fetch.time) {
            return Err(Error::NotAuthenticated);
        }
        if !fetch.is_authentic(&keys, now) {
            return Err(Error::ClockSkew { server_time: now });
        }
        let stored = self.storage.pending_confirmations(&r.id, now, MAX_FETCHED).await?;
        let requests =
            stored.iter().map(|c| Ok(request_of(c)?.sign(&keys))).collect::<Result<Vec<_>>>()?;
        Ok(FetchResponse::new(&keys, fetch, requests, now))
    }

    /// The app's answer, judged by core's rules in their order (§5): a request already final
    /// answers its state and changes nothing; then the MAC over the stored request; then the
    /// time; then the number. The state moves once, also when two answers race; the outcome
    /// is recorded in the audit log as `confirm_outcome` by `actor`.
    ///
    /// # Errors
    /// [`Error::NotAuthenticated`] for an unknown registration, one not in use, or a wrong
    /// MAC (nothing changes); [`Error::UnknownConfirmation`] for an ID this registration does
    /// not have.
    pub async fn answer_confirmation(
        &self,
        actor: &Actor,
        answer: &AnswerRequest,
        now: u64,
    ) -> Result<AnswerOutcome> {
        // The row itself: an approval is never taken from a token the bank has just ended.
        let (r, keys) = self.token_keys(&answer.service_id, &answer.user_id, false).await?;
        let stored = self.stored_of(&answer.id).await?;
        if stored.registration_id != r.id {
            return Err(Error::UnknownConfirmation);
        }
        let outcome = |c: &StoredConfirmation, changed| AnswerOutcome {
            id: answer.id.clone(),
            state: c.state,
            changed,
        };
        if stored.state.is_final() {
            return Ok(outcome(&stored, false));
        }
        let expected = stored.match_number.as_deref().map(MatchNumber::new).transpose()?;
        let to = match request_of(&stored)?.judge(&keys, answer, expected.as_ref(), now) {
            Verdict::NotAuthenticated => return Err(Error::NotAuthenticated),
            Verdict::Late => ConfirmationState::Expired,
            Verdict::Denied => ConfirmationState::Denied,
            Verdict::WrongNumber => ConfirmationState::WrongNumber,
            Verdict::Approved => ConfirmationState::Approved,
        };
        let (saved, changed) = self.finish(&stored, to, Some(now), actor, now).await?;
        Ok(outcome(&saved, changed))
    }

    /// A request's status for the web tier; a `pending` one past its expiry is stored and read
    /// as `expired`. With `wait`, the answer comes as soon as the state is final or after
    /// `wait` (at most [`MAX_WAIT_SECS`]) with `pending`.
    ///
    /// # Errors
    /// [`Error::UnknownConfirmation`].
    pub async fn confirmation_status(
        &self,
        id: &ConfirmationId,
        clock: &dyn Clock,
        wait: Duration,
    ) -> Result<ConfirmationStatus> {
        let deadline = Instant::now() + wait.min(Duration::from_secs(MAX_WAIT_SECS));
        loop {
            // Listening before the read, so an answer between the read and the wait wakes it.
            let woken = self.wake.0.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let status = self.status_now(id, clock.now()).await?;
            let left = deadline.saturating_duration_since(Instant::now());
            if status.state.is_final() || left.is_zero() {
                return Ok(status);
            }
            tokio::select! {
                () = woken => {}
                () = tokio::time::sleep(left.min(WAIT_POLL)) => {}
            }
        }
    }

    async fn status_now(&self, id: &ConfirmationId, now: u64) -> Result<ConfirmationStatus> {
        let stored = self.stored_of(id).await?;
        if stored.state == ConfirmationState::Pending && now >= stored.expires_at {
            let (saved, changed) =
                self.finish(&stored, ConfirmationState::Expired, None, &Actor::Bank, now).await?;
            return status_of(&saved, changed);
        }
        status_of(&stored, false)
    }

    /// Withdraws a pending request (`cancelled`); a final one stays as it is. Recorded in the
    /// audit log as `confirm_cancel` by `actor`.
    ///
    /// # Errors
    /// [`Error::UnknownConfirmation`].
    pub async fn cancel_confirmation(
        &self,
        actor: &Actor,
        id: &ConfirmationId,
        now: u64,
    ) -> Result<ConfirmationStatus> {
        let stored = self.stored_of(id).await?;
        let subject = Subject::pair(&stored.service_id, &stored.user_id);
        let work = async {
            if stored.state.is_final() {
                return status_of(&stored, false);
            }
            let (saved, changed) =
                self.finish(&stored, ConfirmationState::Cancelled, None, actor, now).await?;
            status_of(&saved, changed)
        };
        self.audited(actor, AdminAction::ConfirmCancel, subject, now, work, |_| None).await
    }

    /// Checks an offline code (§6): the code of this minute or the one before, for this
    /// payee's account number and amount, accepted once per minute step and registration
    /// (the step is stored, so every instance and a restart keep it).
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for an account number that is not 7 digits, an amount of 0
    /// or beyond the limit, or a code that is not 8 digits; [`Error::UnknownRegistration`];
    /// [`Error::Ended`]; [`Error::NotDelivered`].
    pub async fn check_offline_code(
        &self,
        check: &OfflineCheck,
        now: u64,
    ) -> Result<OfflineOutcome> {
        let account = AccountNumber::new(&check.account_number)?;
        let amount = Amount::new(check.amount_yen)?;
        let code = softtoken_core::verify::EnteredCode::without_separators(&check.code);
        if code.len() != 8 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::InvalidRequest("an offline code is 8 digits".into()));
        }
        let r = self.registration_from_database(&check.service_id, &check.user_id).await?;
        match r.state {
            RegistrationState::InUse => {}
            RegistrationState::Ended => return Err(Error::Ended),
            _ => return Err(Error::NotDelivered),
        }
        let keys = ConfirmationKeys::derive(&self.open_seed(&r)?);
        let Some(step) = offline::accepted_step(&keys, &account, amount, &code, now)? else {
            return Ok(OfflineOutcome { valid: false });
        };
        let write = ConfirmationWrite::OfflineStep { registration_id: r.id.clone(), step };
        let valid = self.storage.write_confirmation(write).await?;
        Ok(OfflineOutcome { valid })
    }

    /// The registration of a token that may take part, and its keys; anything else is one
    /// [`Error::NotAuthenticated`]. With `copy_will_do`, as [`Bank::in_use`] reads it.
    async fn token_keys(
        &self,
        service: &ServiceId,
        user: &UserId,
        copy_will_do: bool,
    ) -> Result<(Registration, ConfirmationKeys)> {
        let read = if copy_will_do {
            self.in_use(service, user).await
        } else {
            self.registration_from_database(service, user).await
        };
        let r = match read {
            Ok(r) if r.state == RegistrationState::InUse => r,
            Ok(_) | Err(Error::UnknownRegistration | Error::Ended | Error::NotDelivered) => {
                return Err(Error::NotAuthenticated)
            }
            Err(e) => return Err(e),
        };
        let keys = ConfirmationKeys::derive(&self.open_seed(&r)?);
        Ok((r, keys))
    }

    /// The pair's registration in use, from the storage's cached copy when that says so (no
    /// database read on the hot path); a refusal ([`Error::Ended`], [`Error::NotDelivered`],
    /// [`Error::UnknownRegistration`]) only on the database's own row, as every refusal is.
    /// A copy is stale only after another process (the admin command line) changed the row,
    /// and then for 200 ms at most: a request created or fetched on it meanwhile cannot be
    /// approved, since the answer reads the row itself.
    async fn in_use(&self, service: &ServiceId, user: &UserId) -> Result<Registration> {
        if let Ok(r) = self.registration(service, user).await {
            if r.state == RegistrationState::InUse {
                return Ok(r);
            }
        }
        let r = self.registration_from_database(service, user).await?;
        match r.state {
            RegistrationState::InUse => Ok(r),
            RegistrationState::Ended => Err(Error::Ended),
            _ => Err(Error::NotDelivered),
        }
    }

    async fn stored_of(&self, id: &ConfirmationId) -> Result<StoredConfirmation> {
        self.storage.confirmation(&id.to_string()).await?.ok_or(Error::UnknownConfirmation)
    }

    /// Moves `stored` from `pending` to `to`; when another answer or instance was first, its
    /// state stands. Either way the request as stored now, and whether this call moved it.
    async fn finish(
        &self,
        stored: &StoredConfirmation,
        to: ConfirmationState,
        answered_at: Option<u64>,
        actor: &Actor,
        now: u64,
    ) -> Result<(StoredConfirmation, bool)> {
        let write = ConfirmationWrite::Finish { id: stored.id.clone(), to, answered_at };
        // The outcome's entry commits with the state, in the same transaction.
        let subject = Subject::pair(&stored.service_id, &stored.user_id);
        let entry = entry(actor, AdminAction::ConfirmOutcome, subject, now, to.as_str());
        let moved = self.storage.write_confirmation_audited(write, entry).await?;
        if moved {
            self.wake.0.notify_waiters();
            tracing::info!(event = "confirmation_final", service_id = %stored.service_id,
                user_id = %stored.user_id, state = to.as_str(), "confirmation request final");
            let saved = StoredConfirmation { state: to, answered_at, ..stored.clone() };
            return Ok((saved, true));
        }
        let now_stored = self.storage.confirmation(&stored.id).await?;
        Ok((now_stored.ok_or(Error::UnknownConfirmation)?, false))
    }
}

/// The core request a stored row is.
fn request_of(c: &StoredConfirmation) -> Result<Request> {
    let bad = || Error::Storage("a stored confirmation does not parse".into());
    let details: Details = serde_json::from_str(&c.details).map_err(|_| bad())?;
    let id = ConfirmationId::parse(&c.id).map_err(|_| bad())?;
    Request::new(
        id,
        c.service_id.clone(),
        c.user_id.clone(),
        details,
        c.created_at,
        c.expires_at.saturating_sub(c.created_at),
        c.match_required,
    )
    .map_err(|_| bad())
}

fn status_of(c: &StoredConfirmation, changed: bool) -> Result<ConfirmationStatus> {
    let request = request_of(c)?;
    Ok(ConfirmationStatus {
        id: request.id().clone(),
        service_id: c.service_id.clone(),
        user_id: c.user_id.clone(),
        state: c.state,
        details: request.details().clone(),
        created_at: c.created_at,
        expires_at: c.expires_at,
        match_required: c.match_required,
        answered_at: c.answered_at,
        changed,
    })
}
