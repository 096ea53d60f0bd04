//! The demo registration (`serve --demo`): always there, re-armed for the next visitor once
//! the last one has used it up.

use softtoken_core::ids::{ServiceId, UserId};

use super::issue::Applicant;
use super::lifecycle::ended;
use super::{Bank, Decision, Status};
use crate::error::{Error, Result};
use crate::storage::{Change, Registration, RegistrationState};

/// The demo registration's service ID (the manual's example).
pub const DEMO_SERVICE_ID: &str = "10112231";
/// The demo registration's user ID (the manual's example).
pub const DEMO_USER_ID: &str = "999800000001";

/// How a re-arm went.
enum Rearmed {
    /// The old registration was ended and the fresh one inserted in the same write.
    Replaced,
    /// There was none to end; this is the fresh one.
    Created(Box<Registration>),
}

impl Bank {
    fn demo_ids() -> Result<(ServiceId, UserId)> {
        Ok((
            ServiceId::new(DEMO_SERVICE_ID).map_err(|_| Error::Internal("demo service ID"))?,
            UserId::new(DEMO_USER_ID).map_err(|_| Error::Internal("demo user ID"))?,
        ))
    }

    /// True when the demo registration cannot take the next visitor as it is.
    pub(super) fn demo_needs_rearm(&self, r: &Registration, now: u64) -> bool {
        r.state.is_delivered()
            || r.state == RegistrationState::Ended
            || r.provision_locked
            || now >= r.expires_at
    }

    /// Makes sure the demo registration exists, can be provisioned, and holds the configured
    /// password (demo mode at start).
    ///
    /// # Errors
    /// [`Error::NotFound`] when demo mode is off; [`Error::DemoIdsTaken`] when a customer's
    /// registration uses the demo IDs; storage failures.
    pub async fn arm_demo(&self, now: u64) -> Result<Status> {
        if self.demo.is_none() {
            return Err(Error::NotFound);
        }
        let Some(demo) = self.demo.as_ref() else { return Err(Error::NotFound) };
        let (service, user) = Self::demo_ids()?;
        match self.storage.registration(&service, &user).await? {
            // The printed password must be the one the bank holds: a server restarted with
            // another password (or another master key) re-arms rather than keep the old one.
            Some(r)
                if r.demo
                    && !self.demo_needs_rearm(&r, now)
                    && self.open_password(&r).is_ok_and(|held| held == demo.password) =>
            {
                Ok(self.status_of(&r, now))
            }
            _ => self.rearm_demo(now).await.map(|r| self.status_of(&r, now)),
        }
    }

    /// Replaces the demo registration by a fresh one with the same IDs and password, whatever
    /// its state (demo reset). A registration with the demo IDs that is not the demo's is
    /// never ended here.
    ///
    /// # Errors
    /// [`Error::NotFound`] when demo mode is off; [`Error::DemoIdsTaken`] when a customer's
    /// registration uses the demo IDs and has not ended; storage failures.
    pub async fn rearm_demo(&self, now: u64) -> Result<Registration> {
        let demo = self.demo.as_ref().ok_or(Error::NotFound)?;
        let (service, user) = Self::demo_ids()?;
        let rearmed = self
            .retry_on_conflict(
                || async { self.storage.registration(&service, &user).await },
                |old| {
                    if old.as_ref().is_some_and(|o| !o.demo && o.state != RegistrationState::Ended)
                    {
                        return Err(Error::DemoIdsTaken);
                    }
                    let who = Applicant {
                        service_id: service.clone(),
                        user_id: user.clone(),
                        mail: "demo@softtoken.invalid".into(),
                    };
                    let fresh = self.new_registration(
                        who,
                        &demo.password,
                        now.saturating_add(self.policy.default_expiry_secs),
                        now,
                        true,
                    )?;
                    Ok(match old {
                        Some(old) if old.state != RegistrationState::Ended => {
                            let change = Change {
                                registration: ended(&old, now),
                                attempt: None,
                                wipe_other_attempts: true,
                                insert: Some(fresh),
                            };
                            Decision::Write(Box::new(change), Box::new(|_| Ok(Rearmed::Replaced)))
                        }
                        _ => Decision::Insert(
                            Box::new(fresh),
                            Box::new(|r| Ok(Rearmed::Created(Box::new(r)))),
                        ),
                    })
                },
            )
            .await?;
        match rearmed {
            Rearmed::Replaced => {
                tracing::info!(event = "demo_rearmed", "demo registration re-armed");
                self.storage
                    .registration(&service, &user)
                    .await?
                    .ok_or(Error::Internal("demo vanished"))
            }
            Rearmed::Created(r) => {
                tracing::info!(event = "demo_armed", "demo registration created");
                Ok(*r)
            }
        }
    }
}
