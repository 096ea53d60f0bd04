//! Verifying one-time codes (steps 12–13, then every login and transfer) and the bank's resync
//! from two consecutive codes: the state machine around core's rule ([`softtoken_core::verify`]:
//! the window, the replay guard, the drift and the resync search). Here: which registrations
//! may be checked, the failure count and the lock, and the compare-and-swap of the result.

use softtoken_core::ids::{ServiceId, UserId};
use softtoken_core::totp::{ClockOffset, Totp};
use softtoken_core::verify::{self as rule, Accepted, EnteredCode, Refusal, TokenClock};

use super::{Bank, Decision, Rejection, ResyncOutcome, VerifyOutcome, VERIFY_FAILURE_WINDOW_SECS};
use crate::error::{Error, Result};
use crate::storage::{Change, Freshness, Registration, RegistrationState};

/// How far a resync looks either side of the bank's clock (core's rule).
pub use softtoken_core::verify::RESYNC_WINDOW_SECS;

impl Bank {
    /// Checks a one-time code (steps 12–13, then every login and transfer) by core's rule
    /// ([`rule::accept`]: ±1 step around `now` and around `now` shifted by the token's drift,
    /// each step accepted at most once). The first acceptance starts use; an accepted code moves
    /// the drift to its step, so a clock that wanders slowly is followed.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for a code that is not 6–8 ASCII digits;
    /// [`Error::UnknownRegistration`], [`Error::Ended`], [`Error::NotDelivered`],
    /// [`Error::Locked`] (before or because of this code).
    pub async fn verify(
        &self,
        service: &ServiceId,
        user: &UserId,
        code: &str,
        now: u64,
    ) -> Result<VerifyOutcome> {
        let code = check_code_shape(code)?;
        // Verify is the hot path: it decides first on the copy this instance last saw, so that
        // in the common case a code costs one write and no read (see `retry_from`).
        let hint = self.storage.registration(service, user, Freshness::Hint).await?;
        self.retry_on_pair(hint, service, user, |r| self.decide_verify(r, &code, now)).await
    }

    fn decide_verify(
        &self,
        r: Registration,
        code: &EnteredCode,
        now: u64,
    ) -> Result<Decision<'_, VerifyOutcome>> {
        check_delivered(&r)?;
        if r.verify_locked {
            return Err(Error::Locked("too many wrong one-time codes: the token is locked"));
        }
        // A code of another length cannot match: the seed stays sealed.
        let matched = if code.fits(r.params) {
            rule::accept(&self.code_maker(&r)?, code, now, clock(&r))
        } else {
            Err(Refusal::WrongCode)
        };
        let first_use = matched.is_ok() && r.state == RegistrationState::Delivered;
        let mut next = r;
        match matched {
            Ok(accepted) => {
                set_clock(&mut next, accepted);
                if first_use {
                    next.state = RegistrationState::InUse;
                    next.in_use_at = Some(now);
                }
            }
            Err(_) => {
                next.verify_failures = next.verify_failures.saturating_add(1);
                count_in_window(&mut next, now);
                next.verify_locked = next.verify_failures >= self.policy.verify_max_failures
                    || next.verify_window_failures >= self.policy.verify_window_max_failures;
            }
        }
        let then = move |saved: Registration| {
            if first_use {
                tracing::info!(event = "token_in_use", service_id = %saved.service_id,
                    user_id = %saved.user_id, "first code accepted: token in use");
            }
            match matched {
                Ok(_) => Ok(VerifyOutcome {
                    accepted: true,
                    reason: None,
                    first_use,
                    state: saved.state,
                    failures_left: None,
                }),
                Err(_) if saved.verify_locked => {
                    tracing::warn!(event = "token_locked", service_id = %saved.service_id,
                        user_id = %saved.user_id, "too many wrong codes: token locked");
                    Err(Error::Locked("too many wrong one-time codes: the token is now locked"))
                }
                Err(refusal) => Ok(VerifyOutcome {
                    accepted: false,
                    reason: Some(match refusal {
                        Refusal::Replayed => Rejection::Replayed,
                        Refusal::WrongCode => Rejection::WrongCode,
                    }),
                    first_use: false,
                    state: saved.state,
                    failures_left: Some(
                        self.policy.verify_max_failures.saturating_sub(saved.verify_failures).min(
                            self.policy
                                .verify_window_max_failures
                                .saturating_sub(saved.verify_window_failures),
                        ),
                    ),
                }),
            }
        };
        Ok(Decision::Write(Box::new(Change::registration(next)), Box::new(then)))
    }

    /// Resyncs a token from two consecutive codes the customer reads off the app, by core's
    /// rule ([`rule::resync`]: within [`RESYNC_WINDOW_SECS`] of `now` and after the last
    /// accepted step). The later code's step becomes the token's drift and its last accepted
    /// step (so neither code is accepted again). Locks are left to `unlock`: a resync proves the
    /// phone, not that the wrong codes before it were the customer's.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for codes that are not 6–8 ASCII digits;
    /// [`Error::UnknownRegistration`], [`Error::Ended`], [`Error::NotDelivered`].
    pub async fn resync(
        &self,
        service: &ServiceId,
        user: &UserId,
        codes: [&str; 2],
        now: u64,
    ) -> Result<ResyncOutcome> {
        let [first, second] = codes;
        let codes = [check_code_shape(first)?, check_code_shape(second)?];
        self.retry_on_pair(None, service, user, |r| self.decide_resync(r, &codes, now)).await
    }

    fn decide_resync(
        &self,
        r: Registration,
        [first, second]: &[EnteredCode; 2],
        now: u64,
    ) -> Result<Decision<'_, ResyncOutcome>> {
        check_delivered(&r)?;
        let unchanged = ResyncOutcome {
            resynced: false,
            drift_steps: r.drift_steps,
            drift_secs: r.drift_steps.saturating_mul(i64::from(r.params.period)),
        };
        // Codes of another length cannot match: the seed stays sealed.
        if !first.fits(r.params) || !second.fits(r.params) {
            return Ok(Decision::Answer(unchanged));
        }
        let found = rule::resync(&self.code_maker(&r)?, [first, second], now, clock(&r));
        let Some(accepted) = found else { return Ok(Decision::Answer(unchanged)) };
        let mut next = r;
        set_clock(&mut next, accepted);
        Ok(Decision::Write(
            Box::new(Change::registration(next)),
            Box::new(move |saved: Registration| {
                tracing::info!(event = "token_resynced", service_id = %saved.service_id,
                    user_id = %saved.user_id, drift_steps = saved.drift_steps,
                    "token clock resynced from two consecutive codes");
                Ok(ResyncOutcome {
                    resynced: true,
                    drift_steps: saved.drift_steps,
                    drift_secs: saved.drift_steps.saturating_mul(i64::from(saved.params.period)),
                })
            }),
        ))
    }

    /// The token's codes at bank time, from its opened seed.
    fn code_maker(&self, r: &Registration) -> Result<Totp> {
        Ok(Totp::new(r.params, &self.open_seed(r)?, ClockOffset(0))?)
    }
}

/// What the registration remembers of its token's clock.
fn clock(r: &Registration) -> TokenClock {
    TokenClock { last_step: r.last_step, drift_steps: r.drift_steps }
}

/// A rejected code counts in the day's window, which starts at the first rejection after the
/// last window ran out.
fn count_in_window(r: &mut Registration, now: u64) {
    let running = r
        .verify_window_start
        .is_some_and(|start| now.saturating_sub(start) < VERIFY_FAILURE_WINDOW_SECS);
    if running {
        r.verify_window_failures = r.verify_window_failures.saturating_add(1);
    } else {
        r.verify_window_start = Some(now);
        r.verify_window_failures = 1;
    }
}

/// An accepted code (or resync) moves the token's clock and clears its failures.
fn set_clock(r: &mut Registration, accepted: Accepted) {
    r.last_step = Some(accepted.step);
    r.drift_steps = accepted.drift_steps;
    r.verify_failures = 0;
}

/// Codes are 6–8 ASCII digits (after the HTTP layer removed spaces and hyphens): core's
/// [`EnteredCode`], refused as an invalid request.
pub(crate) fn check_code_shape(code: &str) -> Result<EnteredCode> {
    EnteredCode::new(code).map_err(|e| Error::InvalidRequest(e.to_string()))
}

/// Only a token the app holds has codes to check.
fn check_delivered(r: &Registration) -> Result<()> {
    match r.state {
        RegistrationState::Ended => Err(Error::Ended),
        RegistrationState::Issued | RegistrationState::Confirmed => Err(Error::NotDelivered),
        RegistrationState::Delivered | RegistrationState::InUse => Ok(()),
    }
}
