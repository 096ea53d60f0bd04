//! The demo registration (`serve --demo`): always there, re-armed for the next visitor once
//! the last one has used it up.

use softtoken_core::ids::{ActivationPassword, ServiceId, UserId};

use super::issue::{checked_mail, Applicant};
use super::lifecycle::ended;
use super::{Bank, Decision, Demo, Status};
use crate::error::{Error, Result};
use crate::storage::{Change, Freshness, Registration, RegistrationState};

/// The demo registration's service ID (the manual's example).
pub const DEMO_SERVICE_ID: &str = "10112231";
/// The demo registration's user ID (the manual's example).
pub const DEMO_USER_ID: &str = "999800000001";

/// The mail address of the demo registration when no visitor gave one.
const DEMO_MAIL: &str = "demo@softtoken.invalid";

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
        let demo = self.demo_settings()?;
        let (service, user) = Self::demo_ids()?;
        match self.storage.registration(&service, &user, Freshness::Cached).await? {
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
        let demo = self.demo_settings()?;
        self.replace_demo(DEMO_MAIL, &demo.password, now).await
    }

    /// Steps 3–5 on the demo bank pages: the visitor's application replaces the demo
    /// registration by a fresh one with the visitor's mail address and activation password
    /// (the IDs stay the demo's). The next re-arm returns to the configured password.
    ///
    /// # Errors
    /// [`Error::NotFound`] when demo mode is off; [`Error::InvalidRequest`] for a bad mail
    /// address; [`Error::DemoIdsTaken`] as [`Bank::rearm_demo`]; storage failures.
    pub async fn apply_demo(
        &self,
        mail: &str,
        password: &ActivationPassword,
        now: u64,
    ) -> Result<Status> {
        let mail = checked_mail(mail)?;
        // The visitor chooses the password on the bank's page as a customer would: the same
        // refusal of easy guesses as at a real issue.
        self.check_demo_password(password)?;
        let r = self.replace_demo(&mail, password, now).await?;
        Ok(self.status_of(&r, now))
    }

    /// Step 3 on the demo bank pages: the rule [`Bank::apply_demo`] applies to the visitor's
    /// activation password, asked on the page where it is chosen, before step 4.
    ///
    /// # Errors
    /// [`Error::NotFound`] when demo mode is off; [`Error::WeakActivationPassword`] with the
    /// reason.
    pub fn check_demo_password(&self, password: &ActivationPassword) -> Result<()> {
        self.demo_settings()?;
        match super::weakness(password) {
            Some(why) => Err(Error::WeakActivationPassword(why)),
            None => Ok(()),
        }
    }

    /// True in demo mode.
    pub fn demo_on(&self) -> bool {
        self.demo.is_some()
    }

    /// The demo's settings, or [`Error::NotFound`] out of demo mode: the bank's one guard of
    /// every demo operation, so that the demo routes need not be the only thing that stops them.
    fn demo_settings(&self) -> Result<&Demo> {
        self.demo.as_ref().ok_or(Error::NotFound)
    }

    async fn replace_demo(
        &self,
        mail: &str,
        password: &ActivationPassword,
        now: u64,
    ) -> Result<Registration> {
        let (service, user) = Self::demo_ids()?;
        let rearmed = self
            .retry_on_conflict(
                || async { self.storage.registration(&service, &user, Freshness::Cached).await },
                |old| {
                    if old.as_ref().is_some_and(|o| !o.demo && o.state != RegistrationState::Ended)
                    {
                        return Err(Error::DemoIdsTaken);
                    }
                    let who = Applicant {
                        service_id: service.clone(),
                        user_id: user.clone(),
                        mail: mail.to_owned(),
                    };
                    let fresh = self.new_registration(
                        who,
                        password,
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
                                moved: None,
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
                    .registration(&service, &user, Freshness::Cached)
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
