//! The end of use (利用終了) and the admin's unlock.

use softtoken_core::ids::{ServiceId, UserId};

use super::{Bank, Decision, Status};
use crate::error::{Error, Result};
use crate::storage::{Change, Registration, RegistrationState};

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
        self.retry_on_pair(None, service, user, |r| {
            if r.state == RegistrationState::Ended {
                return Ok(Decision::Answer(self.status_of(&r, now)));
            }
            let change = Change {
                registration: ended(&r, now),
                attempt: None,
                wipe_other_attempts: true,
                insert: None,
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
