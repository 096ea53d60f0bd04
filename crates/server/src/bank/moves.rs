//! The phone move (機種変更, `docs/protocol.md` §4.5), bank side: the old token proves itself
//! with its key and the bank prepares a new registration for the same customer at once; the new
//! phone activates it as at issue; its ack ends the old registration in the same transaction
//! (`bank/provision.rs` asks [`Bank::move_completion`] for the parts to add).
//!
//! A pending move past its expiry is settled when next seen (start, status, cancel, the admin
//! list): its prepared registration has expired by then anyway (it carries the move's expiry),
//! so nothing can activate it in between.

use softtoken_core::confirm::phone_move::{
    MoveQuery, MoveQueryKind, MoveStarted, MoveState, MoveStatusResponse, StartMoveRequest,
};
use softtoken_core::confirm::ConfirmationKeys;
use softtoken_core::ids::{ServiceId, UserId};
use softtoken_core::protocol::wire::{Bytes, MoveReceipt, MAC_LEN};

use super::audit::{Actor, AdminAction, Subject};
use super::issue::{random_hex, random_user_id, Applicant};
use super::lifecycle::ended;
use super::Bank;
use crate::error::{Error, Result};
use crate::storage::{
    Change, MoveLookup, MoveParts, MoveWrite, Registration, RegistrationState, StoredMove, Updated,
};

/// Tries of a move's write against concurrent changes (another start, the ack, a verify).
const MOVE_WRITE_TRIES: usize = 16;
/// Moves listed for one customer.
const MOVES_LISTED: u32 = 50;

impl Bank {
    /// Prepares the move of the asking token's registration to a new phone (§4.5.1). A
    /// pending move of it is replaced: its prepared registration ends, a fresh user ID is
    /// issued. Audited as `move_started` (and `move_replaced`) by `actor`.
    ///
    /// # Errors
    /// In the protocol's order: [`Error::Ended`] / [`Error::EndedByMove`];
    /// [`Error::NotAuthenticated`] (no such registration, not delivered, wrong proof);
    /// [`Error::ClockSkew`]; [`Error::MovesNotOffered`]; [`Error::WeakActivationPassword`];
    /// [`Error::InvalidRequest`] for a seal that does not open to 4–8 digits.
    pub async fn start_move(
        &self,
        actor: &Actor,
        req: &StartMoveRequest,
        now: u64,
    ) -> Result<MoveStarted> {
        let (service, user) = (&req.service_id, &req.user_id);
        let (checked, keys) = self
            .token_asking(service, user, |k| req.is_the_tokens(k), req.is_fresh_at(now), now)
            .await?;
        if !self.policy.moves_enabled {
            return Err(Error::MovesNotOffered);
        }
        let password = req.open_password(&keys).map_err(|_| {
            Error::InvalidRequest("the sealed password does not open to 4 to 8 digits".into())
        })?;
        if let Some(why) = super::weakness(&password) {
            return Err(Error::WeakActivationPassword(why));
        }
        let work = async {
            for _ in 0..MOVE_WRITE_TRIES {
                let old = self.registration_from_database(service, user).await?;
                if old.id != checked.id || old.state == RegistrationState::Ended {
                    return Err(self.ended_answer(&checked).await);
                }
                let mut parts = MoveParts::default();
                let replaced = self.pending_move_of(&old).await?;
                if let Some(earlier) = &replaced {
                    parts.also = self.prepared_ended(earlier, now).await?;
                    parts.writes.push(settle(earlier, MoveState::Cancelled, now, None));
                }
                let expires_at = now.saturating_add(self.policy.move_expiry_secs);
                let who = Applicant {
                    service_id: service.clone(),
                    user_id: random_user_id()?,
                    mail: old.mail.clone(),
                };
                let new = self.new_registration(who, &password, expires_at, now, false)?;
                let mail = self.mail_for(&new, now);
                let mail_file = mail.clone();
                let stored = StoredMove {
                    id: random_hex(16)?,
                    service_id: service.to_string(),
                    old_registration_id: old.id.clone(),
                    old_user_id: user.to_string(),
                    new_registration_id: new.id.clone(),
                    new_user_id: new.user_id.to_string(),
                    state: MoveState::Pending,
                    created_at: now,
                    expires_at,
                    settled_at: None,
                    receipt_mac: None,
                };
                parts.writes.push(MoveWrite::Start { stored: Box::new(stored.clone()), mail });
                // The old row is written unchanged: its new revision makes a concurrent start
                // (another instance) conflict and decide again, on the move written here.
                let change = Change {
                    registration: old,
                    attempt: None,
                    wipe_other_attempts: false,
                    insert: Some(new.clone()),
                    moved: Some(Box::new(parts)),
                };
                if let Updated::Applied(_) = self.storage.update(change).await? {
                    if let Some(earlier) = replaced {
                        let subject = Subject::pair(service, user);
                        self.record(actor, AdminAction::MoveReplaced, subject, now, &earlier.id)
                            .await?;
                    }
                    self.write_mail_file(&new, &mail_file, "move");
                    tracing::info!(event = "move_started", service_id = %service,
                        old_user_id = %user, new_user_id = %new.user_id, "phone move prepared");
                    return Ok(MoveStarted {
                        move_id: stored.id,
                        service_id: service.clone(),
                        old_user_id: user.clone(),
                        new_user_id: new.user_id,
                        expires_at,
                    });
                }
            }
            Err(Error::Unavailable)
        };
        let subject = Subject::pair(service, user);
        self.audited(actor, AdminAction::MoveStarted, subject, now, work, |_| None).await
    }

    /// What became of the asking token's latest move (§4.5.2).
    ///
    /// # Errors
    /// As [`Bank::start_move`]'s first three.
    pub async fn move_status(&self, req: &MoveQuery, now: u64) -> Result<MoveStatusResponse> {
        let proven = |k: &ConfirmationKeys| req.is_the_tokens(k, MoveQueryKind::Status);
        let (old, _) = self
            .token_asking(&req.service_id, &req.user_id, proven, req.is_fresh_at(now), now)
            .await?;
        let latest = self.storage.moves(MoveLookup::ByOld(old.id.clone()), 1).await?;
        let Some(m) = latest.into_iter().next() else {
            return Ok(MoveStatusResponse {
                state: MoveState::None,
                move_id: None,
                new_user_id: None,
                expires_at: None,
            });
        };
        let m = self.settled_if_expired(m, &Actor::Bank, now).await?;
        Ok(status_of(&m))
    }

    /// Withdraws the asking token's pending move (§4.5.3): its prepared registration ends, the
    /// old token keeps working. Audited as `move_cancelled` by `actor`.
    ///
    /// # Errors
    /// [`Error::NoPendingMove`]; as [`Bank::move_status`] otherwise.
    pub async fn cancel_move_by_token(
        &self,
        actor: &Actor,
        req: &MoveQuery,
        now: u64,
    ) -> Result<MoveStatusResponse> {
        let proven = |k: &ConfirmationKeys| req.is_the_tokens(k, MoveQueryKind::Cancel);
        let (old, _) = self
            .token_asking(&req.service_id, &req.user_id, proven, req.is_fresh_at(now), now)
            .await?;
        let pending = self.pending_move_of(&old).await?.ok_or(Error::NoPendingMove)?;
        let m = self.cancel_move(actor, pending, now).await?;
        Ok(status_of(&m))
    }

    /// A customer's moves, from or to any of their registrations, newest first, with the
    /// state each has now (admin API and command line).
    ///
    /// # Errors
    /// [`Error::Storage`] when the database fails.
    pub async fn moves_of(
        &self,
        service: &ServiceId,
        user: &UserId,
        now: u64,
    ) -> Result<Vec<StoredMove>> {
        let lookup = MoveLookup::ByCustomer(service.to_string(), user.to_string());
        let mut out = Vec::new();
        for m in self.storage.moves(lookup, MOVES_LISTED).await? {
            out.push(self.settled_if_expired(m, &Actor::Bank, now).await?);
        }
        Ok(out)
    }

    /// The bank's cancel of a pending move by its ID (admin API and command line).
    ///
    /// # Errors
    /// [`Error::NotFound`] for no such move; [`Error::NoPendingMove`] when it is not pending.
    pub async fn cancel_move_by_bank(
        &self,
        actor: &Actor,
        move_id: &str,
        now: u64,
    ) -> Result<StoredMove> {
        let found = self.storage.moves(MoveLookup::ById(move_id.to_owned()), 1).await?;
        let m = found.into_iter().next().ok_or(Error::NotFound)?;
        let m = self.settled_if_expired(m, &Actor::Bank, now).await?;
        if m.state != MoveState::Pending {
            return Err(Error::NoPendingMove);
        }
        self.cancel_move(actor, m, now).await
    }

    /// The parts an ack of `new` adds when `new` is a pending move's prepared registration: the
    /// old registration ended (its seed wiped) and the move completed with its receipt, made
    /// with the old seed before it goes. `None` when `new` is no move's.
    pub(super) async fn move_completion(
        &self,
        new: &Registration,
        now: u64,
    ) -> Result<Option<MoveParts>> {
        let found = self.storage.moves(MoveLookup::ByNew(new.id.clone()), 1).await?;
        let Some(m) = found.into_iter().find(|m| m.state == MoveState::Pending) else {
            return Ok(None);
        };
        let Some(old) = self.storage.registration_by_id(&m.old_registration_id).await? else {
            return Err(Error::Internal("a move without its old registration"));
        };
        let mac = match old.sealed_seed {
            Some(_) if old.state != RegistrationState::Ended => {
                let keys = ConfirmationKeys::derive(&self.open_seed(&old)?);
                let receipt = MoveReceipt::new(
                    &keys,
                    &old.service_id,
                    &old.user_id,
                    new.user_id.clone(),
                    now,
                );
                Some(receipt.mac.as_bytes().to_vec())
            }
            // Ended meanwhile (by the bank): the move still completes; no receipt to give.
            _ => None,
        };
        let also = (old.state != RegistrationState::Ended).then(|| ended(&old, now));
        Ok(Some(MoveParts { also, writes: vec![settle(&m, MoveState::Completed, now, mac)] }))
    }

    /// Records `move_completed` for the move whose prepared registration the ack of attempt
    /// `attempt_id` delivered. The move is done either way; a failure is logged.
    pub(super) async fn record_move_completed(&self, attempt_id: &str, now: u64) {
        let recorded = async {
            let attempt = self.storage.attempt(attempt_id).await?.ok_or(Error::UnknownAttempt)?;
            let found = self.storage.moves(MoveLookup::ByNew(attempt.registration_id), 1).await?;
            let m = found.into_iter().next().ok_or(Error::NotFound)?;
            let subject = Subject {
                service_id: ServiceId::new(&m.service_id).ok(),
                user_id: UserId::new(&m.old_user_id).ok(),
            };
            self.record(&Actor::Token(None), AdminAction::MoveCompleted, subject, now, &m.id).await
        };
        if let Err(e) = recorded.await {
            tracing::error!(event = "audit_error", error = %e, "recording a completed move");
        }
    }

    /// The answer for an ended registration: `410 ended`, with the move receipt when a
    /// completed move ended it.
    pub(super) async fn ended_answer(&self, r: &Registration) -> Error {
        let Ok(moves) = self.storage.moves(MoveLookup::ByOld(r.id.clone()), MOVES_LISTED).await
        else {
            return Error::Ended;
        };
        let completed = moves.into_iter().find(|m| m.state == MoveState::Completed);
        match completed.and_then(|m| receipt_of(&m)) {
            Some(receipt) => Error::EndedByMove(Box::new(receipt)),
            None => Error::Ended,
        }
    }

    /// The registration whose token asks, and its keys, once the request's proof and time are
    /// right: in the order of §4.4, so a prober learns nothing but "not authenticated".
    async fn token_asking(
        &self,
        service: &ServiceId,
        user: &UserId,
        proven: impl Fn(&ConfirmationKeys) -> bool,
        fresh: bool,
        now: u64,
    ) -> Result<(Registration, ConfirmationKeys)> {
        let r = match self.registration_from_database(service, user).await {
            Ok(r) => r,
            Err(Error::UnknownRegistration) => return Err(Error::NotAuthenticated),
            Err(e) => return Err(e),
        };
        if r.state == RegistrationState::Ended {
            return Err(self.ended_answer(&r).await);
        }
        if !r.state.is_delivered() || r.sealed_seed.is_none() {
            return Err(Error::NotAuthenticated);
        }
        let keys = ConfirmationKeys::derive(&self.open_seed(&r)?);
        if !proven(&keys) {
            return Err(Error::NotAuthenticated);
        }
        if !fresh {
            return Err(Error::ClockSkew { server_time: now });
        }
        Ok((r, keys))
    }

    /// The pending move the registration started, settled first if it is past its expiry.
    async fn pending_move_of(&self, old: &Registration) -> Result<Option<StoredMove>> {
        let latest = self.storage.moves(MoveLookup::ByOld(old.id.clone()), 1).await?;
        let Some(m) = latest.into_iter().next() else { return Ok(None) };
        if m.state != MoveState::Pending {
            return Ok(None);
        }
        // The clock of the request, not of the move: expiry is settled by its reader.
        Ok(Some(m))
    }

    /// The prepared registration of `m`, ended, unless it has ended already.
    async fn prepared_ended(&self, m: &StoredMove, now: u64) -> Result<Option<Registration>> {
        let prepared = self.storage.registration_by_id(&m.new_registration_id).await?;
        Ok(prepared.filter(|p| p.state != RegistrationState::Ended).map(|p| ended(&p, now)))
    }

    /// `m` as it is at `now`: a pending move past its expiry is settled as expired (its
    /// prepared registration ended, audited as `move_expired` by the bank).
    async fn settled_if_expired(
        &self,
        m: StoredMove,
        actor: &Actor,
        now: u64,
    ) -> Result<StoredMove> {
        if m.state != MoveState::Pending || now < m.expires_at {
            return Ok(m);
        }
        self.settle_move(actor, m, MoveState::Expired, AdminAction::MoveExpired, now).await
    }

    async fn cancel_move(&self, actor: &Actor, m: StoredMove, now: u64) -> Result<StoredMove> {
        let action = match actor {
            Actor::Token(_) => AdminAction::MoveCancelledByCustomer,
            _ => AdminAction::MoveCancelledByBank,
        };
        self.settle_move(actor, m, MoveState::Cancelled, action, now).await
    }

    /// Ends `m`'s prepared registration and settles `m` as `to`, in one transaction.
    async fn settle_move(
        &self,
        actor: &Actor,
        m: StoredMove,
        to: MoveState,
        action: AdminAction,
        now: u64,
    ) -> Result<StoredMove> {
        let subject = Subject {
            service_id: ServiceId::new(&m.service_id).ok(),
            user_id: UserId::new(&m.old_user_id).ok(),
        };
        let work = async {
            for _ in 0..MOVE_WRITE_TRIES {
                let found = self.storage.moves(MoveLookup::ById(m.id.clone()), 1).await?;
                let current = found.into_iter().next().ok_or(Error::NotFound)?;
                if current.state != MoveState::Pending {
                    // Settled meanwhile (completed by the ack, or by another reader).
                    return Ok(current);
                }
                let Some(prepared) =
                    self.storage.registration_by_id(&current.new_registration_id).await?
                else {
                    return Err(Error::Internal("a move without its prepared registration"));
                };
                let mut change =
                    Change::registration(if prepared.state == RegistrationState::Ended {
                        prepared
                    } else {
                        ended(&prepared, now)
                    });
                change.wipe_other_attempts = true;
                change.moved = Some(Box::new(MoveParts {
                    also: None,
                    writes: vec![settle(&current, to, now, None)],
                }));
                if let Updated::Applied(_) = self.storage.update(change).await? {
                    tracing::info!(event = "move_settled", move_id = %current.id,
                        state = to.as_str(), "phone move settled");
                    return Ok(StoredMove { state: to, settled_at: Some(now), ..current });
                }
            }
            Err(Error::Unavailable)
        };
        self.audited(actor, action, subject, now, work, |_| None).await
    }
}

fn settle(m: &StoredMove, to: MoveState, at: u64, receipt_mac: Option<Vec<u8>>) -> MoveWrite {
    MoveWrite::Settle { id: m.id.clone(), to, at, receipt_mac }
}

/// The receipt a completed move keeps.
fn receipt_of(m: &StoredMove) -> Option<MoveReceipt> {
    let mac: [u8; MAC_LEN] = m.receipt_mac.as_deref()?.try_into().ok()?;
    Some(MoveReceipt {
        new_user_id: UserId::new(&m.new_user_id).ok()?,
        completed_at: m.settled_at?,
        mac: Bytes(mac),
    })
}

/// The status answer for a move that has not completed (a completed one is `410 ended`).
fn status_of(m: &StoredMove) -> MoveStatusResponse {
    let pending = m.state == MoveState::Pending;
    MoveStatusResponse {
        state: m.state,
        move_id: Some(m.id.clone()),
        new_user_id: pending.then(|| UserId::new(&m.new_user_id).ok()).flatten(),
        expires_at: pending.then_some(m.expires_at),
    }
}
