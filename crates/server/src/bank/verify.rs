//! Verifying one-time codes (steps 12–13, then every login and transfer): ±1 step around the
//! bank's clock plus the token's tracked drift, each step accepted at most once, the first
//! acceptance starts use; and the bank's resync from two consecutive codes (RFC 6238 §6), for a
//! phone whose clock moved further than that.

use softtoken_core::ids::{ServiceId, UserId};
use softtoken_core::totp::{ClockOffset, Totp};
use subtle::ConstantTimeEq;

use super::{Bank, Decision, Rejection, ResyncOutcome, VerifyOutcome};
use crate::error::{Error, Result};
use crate::storage::{Change, Freshness, Registration, RegistrationState};

/// How far a resync looks either side of the bank's clock: a day. Two consecutive codes of a
/// 6-digit token match by chance somewhere in that window with odds of about 3 in 10⁹ (2,881
/// positions at 60 s), and a phone further off than a day has a wrong date, not a drifting
/// clock (the app refuses to set up with one).
pub const RESYNC_WINDOW_SECS: u64 = 86_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Match {
    Fresh(u64),
    Replayed,
    None,
}

impl Bank {
    /// Checks a one-time code (steps 12–13, then every login and transfer): ±1 step around
    /// `now` and around `now` shifted by the token's drift, each step accepted at most once, the
    /// first acceptance starts use. An accepted code moves the drift to its step, so a clock that wanders slowly
    /// is followed.
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
        check_code_shape(code)?;
        // Verify is the hot path: it decides first on the copy this instance last saw, so that
        // in the common case a code costs one write and no read (see `retry_from`).
        let hint = self.storage.registration(service, user, Freshness::Hint).await?;
        self.retry_on_pair(hint, service, user, |r| self.decide_verify(r, code, now)).await
    }

    fn decide_verify(
        &self,
        r: Registration,
        code: &str,
        now: u64,
    ) -> Result<Decision<'_, VerifyOutcome>> {
        check_delivered(&r)?;
        if r.verify_locked {
            return Err(Error::Locked("too many wrong one-time codes: the token is locked"));
        }
        let matched = self.match_code(&r, code, now)?;
        let bank_step = now / u64::from(r.params.period.max(1));
        let first_use =
            matches!(matched, Match::Fresh(_)) && r.state == RegistrationState::Delivered;
        let mut next = r;
        match matched {
            Match::Fresh(step) => {
                next.last_step = Some(step);
                next.drift_steps = steps_between(bank_step, step);
                next.verify_failures = 0;
                if first_use {
                    next.state = RegistrationState::InUse;
                    next.in_use_at = Some(now);
                }
            }
            Match::Replayed | Match::None => {
                next.verify_failures = next.verify_failures.saturating_add(1);
                next.verify_locked = next.verify_failures >= self.policy.verify_max_failures;
            }
        }
        let then = move |saved: Registration| {
            if first_use {
                tracing::info!(event = "token_in_use", service_id = %saved.service_id,
                    user_id = %saved.user_id, "first code accepted: token in use");
            }
            match matched {
                Match::Fresh(_) => Ok(VerifyOutcome {
                    accepted: true,
                    reason: None,
                    first_use,
                    state: saved.state,
                    failures_left: None,
                }),
                _ if saved.verify_locked => {
                    tracing::warn!(event = "token_locked", service_id = %saved.service_id,
                        user_id = %saved.user_id, "too many wrong codes: token locked");
                    Err(Error::Locked("too many wrong one-time codes: the token is now locked"))
                }
                _ => Ok(VerifyOutcome {
                    accepted: false,
                    reason: Some(if matched == Match::Replayed {
                        Rejection::Replayed
                    } else {
                        Rejection::WrongCode
                    }),
                    first_use: false,
                    state: saved.state,
                    failures_left: Some(
                        self.policy.verify_max_failures.saturating_sub(saved.verify_failures),
                    ),
                }),
            }
        };
        Ok(Decision::Write(Box::new(Change::registration(next)), Box::new(then)))
    }

    /// Resyncs a token from two consecutive codes the customer reads off the app (RFC 6238
    /// §6): the step where `first` and then `second` match, within [`RESYNC_WINDOW_SECS`] of
    /// `now` and after the last accepted step, becomes the token's drift and its last accepted
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
        codes.iter().try_for_each(|c| check_code_shape(c))?;
        self.retry_on_pair(None, service, user, |r| self.decide_resync(r, codes, now)).await
    }

    fn decide_resync(
        &self,
        r: Registration,
        [first, second]: [&str; 2],
        now: u64,
    ) -> Result<Decision<'_, ResyncOutcome>> {
        check_delivered(&r)?;
        let period = u64::from(r.params.period.max(1));
        let bank_step = now / period;
        let unchanged = ResyncOutcome {
            resynced: false,
            drift_steps: r.drift_steps,
            drift_secs: r.drift_steps.saturating_mul(i64::from(r.params.period)),
        };
        let digits = usize::from(r.params.digits);
        if first.len() != digits || second.len() != digits {
            return Ok(Decision::Answer(unchanged));
        }
        let seed = self.open_seed(&r)?;
        let totp = Totp::new(r.params, &seed, ClockOffset(0))?;
        let reach = RESYNC_WINDOW_SECS / period;
        let lowest = bank_step.saturating_sub(reach).max(r.last_step.map_or(0, |l| l + 1));
        let found = (lowest..=bank_step + reach).find(|&s| {
            let a: bool = totp
                .code_at_bank_time(s * period)
                .as_str()
                .as_bytes()
                .ct_eq(first.as_bytes())
                .into();
            a && bool::from(
                totp.code_at_bank_time((s + 1) * period)
                    .as_str()
                    .as_bytes()
                    .ct_eq(second.as_bytes()),
            )
        });
        let Some(s) = found else { return Ok(Decision::Answer(unchanged)) };
        let mut next = r;
        next.last_step = Some(s + 1);
        next.drift_steps = steps_between(bank_step, s + 1);
        next.verify_failures = 0;
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

    /// Compares the code with those of steps −1, 0, +1 around the bank's step and around the
    /// bank's step plus the token's drift, all of them always, in constant time.
    fn match_code(&self, r: &Registration, code: &str, now: u64) -> Result<Match> {
        if code.len() != usize::from(r.params.digits) {
            return Ok(Match::None);
        }
        let seed = self.open_seed(r)?;
        let totp = Totp::new(r.params, &seed, ClockOffset(0))?;
        let period = u64::from(r.params.period.max(1));
        let own = now / period;
        let drifted = own.saturating_add_signed(r.drift_steps);
        // The bank's own step ±1 always (a phone's drift learnt from one code is not trusted to
        // exclude the bank's clock), and the drifted step ±1: at most six candidates, ascending.
        let mut steps: Vec<u64> = [own, drifted]
            .iter()
            .flat_map(|&c| [c.saturating_sub(1), c, c.saturating_add(1)])
            .collect();
        steps.sort_unstable();
        steps.dedup();
        let mut fresh = None;
        let mut replayed = false;
        for s in steps {
            let candidate = totp.code_at_bank_time(s * period);
            let same: bool = candidate.as_str().as_bytes().ct_eq(code.as_bytes()).into();
            if same {
                if r.last_step.is_none_or(|last| s > last) {
                    // The latest matching step wins, so a code can never re-open an older one.
                    fresh = Some(s);
                } else {
                    replayed = true;
                }
            }
        }
        Ok(match (fresh, replayed) {
            (Some(s), _) => Match::Fresh(s),
            (None, true) => Match::Replayed,
            (None, false) => Match::None,
        })
    }
}

/// `to − from` in steps, saturating (steps are Unix seconds divided by the period, far below
/// 2^63).
fn steps_between(from: u64, to: u64) -> i64 {
    i64::try_from(i128::from(to) - i128::from(from)).unwrap_or(if to > from {
        i64::MAX
    } else {
        i64::MIN
    })
}

/// Codes are 6–8 ASCII digits (after the HTTP layer removed spaces and hyphens).
pub(crate) fn check_code_shape(code: &str) -> Result<()> {
    if !(6..=8).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::InvalidRequest("the code must be 6 to 8 ASCII digits".into()));
    }
    Ok(())
}

/// Only a token the app holds has codes to check.
fn check_delivered(r: &Registration) -> Result<()> {
    match r.state {
        RegistrationState::Ended => Err(Error::Ended),
        RegistrationState::Issued | RegistrationState::Confirmed => Err(Error::NotDelivered),
        RegistrationState::Delivered | RegistrationState::InUse => Ok(()),
    }
}
