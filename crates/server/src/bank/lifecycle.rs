//! The end of use (利用終了), by the bank or by the token itself, and the admin's unlock.

use softtoken_core::confirm::end::{EndRequest, Ended};
use softtoken_core::confirm::ConfirmationKeys;
use softtoken_core::ids::{ServiceId, UserId};

use super::audit::{Actor, AdminAction, Subject};
use super::{Bank, Decision, Status};
use crate::error::{Error, Result};
use crate::storage::{Change, Registration, RegistrationState};

/// Why [`Bank::end_use`] does not end a registration.
enum NotEnded {
    /// It needs no change: this is the answer.
    Answer(Box<Status>),
    /// It is refused.
    Refused(Error),
}
use NotEnded::{Answer, Refused};

/// `r` with its use ended at `now`: the seed and the activation password are dropped and, with
/// no confirmed attempt named,
/// the storage wipes every attempt's sealed state too (the change must set
/// `wipe_other_attempts`).
pub(super) fn ended(r: &Registration, now: u64) -> Registration {
    let mut next = r.clone();
    next.state = RegistrationState::Ended;
    next.ended_at = Some(now);
    next.sealed_seed = None;
    next.sealed_password = Vec::new();
    next.confirmed_attempt = None;
    next
}

impl Bank {
    /// Ends the use of a pair's registration (利用終了): codes are refused at once, the seed
    /// is wiped. Idempotent.
    ///
    /// # Errors
    /// [`Error::UnknownRegistration`].
    pub async fn revoke(&self, service: &ServiceId, user: &UserId, now: u64) -> Result<Status> {
        self.end_use(service, user, now, |r| {
            if r.state == RegistrationState::Ended {
                return Err(Answer(Box::new(self.status_of(r, now))));
            }
            Ok(())
        })
        .await
    }

    /// Ends the use of the registration whose token asks (`docs/protocol.md` §4.4): as
    /// [`Bank::revoke`], once the request's proof is the one the registration's own seed
    /// gives; recorded in the audit log as `end` by `actor` (only an authenticated request is,
    /// so a prober writes nothing). The row ended is the one whose seed was checked, never a
    /// later registration of the pair.
    ///
    /// # Errors
    /// [`Error::Ended`] when the pair's registration has ended already (its seed is gone, so
    /// this is answered before the proof, as provisioning answers it);
    /// [`Error::NotAuthenticated`] for an unknown pair, a registration the bank keeps no seed
    /// for yet, or a wrong proof (one answer for the three); [`Error::ClockSkew`] for a right
    /// proof whose time is more than 300 s from `now`.
    pub async fn end_by_token(&self, actor: &Actor, end: &EndRequest, now: u64) -> Result<Ended> {
        let (service, user) = (&end.service_id, &end.user_id);
        let checked = match self.registration_from_database(service, user).await {
            Ok(r) => r,
            Err(Error::UnknownRegistration) => return Err(Error::NotAuthenticated),
            Err(e) => return Err(e),
        };
        if checked.state == RegistrationState::Ended {
            return Err(Error::Ended);
        }
        if checked.sealed_seed.is_none() {
            return Err(Error::NotAuthenticated);
        }
        let keys = ConfirmationKeys::derive(&self.open_seed(&checked)?);
        // The proof first, so a prober learns nothing of the bank's clock.
        if !end.is_the_tokens(&keys) {
            return Err(Error::NotAuthenticated);
        }
        if !end.is_fresh_at(now) {
            return Err(Error::ClockSkew { server_time: now });
        }
        let work = self.end_use(service, user, now, |r| match r.state {
            RegistrationState::Ended => Err(Refused(Error::Ended)),
            // Another registration of the pair since the check: not this token's.
            _ if r.id != checked.id => Err(Refused(Error::NotAuthenticated)),
            _ => Ok(()),
        });
        let subject = Subject::pair(service, user);
        self.audited(actor, AdminAction::End, subject, now, work, |_| None).await?;
        Ok(Ended { service_id: service.clone(), user_id: user.clone(), ended_at: now })
    }

    /// Ends the pair's registration once `may_end` lets it (decided on each fresh read of the
    /// row): the one place a registration's use ends.
    async fn end_use(
        &self,
        service: &ServiceId,
        user: &UserId,
        now: u64,
        may_end: impl Fn(&Registration) -> std::result::Result<(), NotEnded>,
    ) -> Result<Status> {
        self.retry_on_pair(None, service, user, |r| {
            match may_end(&r) {
                Ok(()) => {}
                Err(Answer(status)) => return Ok(Decision::Answer(*status)),
                Err(Refused(e)) => return Err(e),
            }
            let change = Change {
                registration: ended(&r, now),
                attempt: None,
                wipe_other_attempts: true,
                insert: None,
                moved: None,
            };
            Ok(Decision::Write(
                Box::new(change),
                Box::new(move |saved| {
                    tracing::info!(event = "registration_ended", service_id = %saved.service_id,
                            user_id = %saved.user_id, "use ended");
                    Ok(self.status_of(&saved, now))
                }),
            ))
        })
        .await
    }

    /// Clears the provisioning and verify locks and their counters. Idempotent.
    ///
    /// # Errors
    /// [`Error::UnknownRegistration`]; [`Error::Ended`] for an ended registration.
    pub async fn unlock(&self, service: &ServiceId, user: &UserId, now: u64) -> Result<Status> {
        self.retry_on_pair(None, service, user, |r| {
            if r.state == RegistrationState::Ended {
                return Err(Error::Ended);
            }
            let mut next = r.clone();
            next.provision_locked = false;
            next.failed_tries = 0;
            next.verify_locked = false;
            next.verify_failures = 0;
            next.verify_window_failures = 0;
            next.verify_window_start = None;
            if next == r {
                return Ok(Decision::Answer(self.status_of(&r, now)));
            }
            Ok(Decision::Write(
                Box::new(Change::registration(next)),
                Box::new(move |saved| {
                    tracing::info!(event = "registration_unlocked",
                            service_id = %saved.service_id, user_id = %saved.user_id,
                            "locks cleared by an admin");
                    Ok(self.status_of(&saved, now))
                }),
            ))
        })
        .await
    }
}
