//! Verifying one-time codes (steps 12–13, then every login and transfer): ±1 step around the
//! bank's clock, each step accepted at most once, the first acceptance starts use.

use softtoken_core::ids::{ServiceId, UserId};
use softtoken_core::totp::{ClockOffset, Totp};
use subtle::ConstantTimeEq;

use super::{Bank, Decision, Rejection, VerifyOutcome};
use crate::error::{Error, Result};
use crate::storage::{Change, Registration, RegistrationState};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Match {
    Fresh(u64),
    Replayed,
    None,
}

impl Bank {
    /// Checks a one-time code (steps 12–13, then every login and transfer): ±1 step around
    /// `now`, each step accepted at most once, the first acceptance starts use.
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
        if !(6..=8).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::InvalidRequest("the code must be 6 to 8 ASCII digits".into()));
        }
        self.retry_on_conflict(
            || self.registration(service, user),
            |r| self.decide_verify(r, code, now),
        )
        .await
    }

    fn decide_verify(
        &self,
        r: Registration,
        code: &str,
        now: u64,
    ) -> Result<Decision<'_, VerifyOutcome>> {
        match r.state {
            RegistrationState::Ended => return Err(Error::Ended),
            RegistrationState::Issued | RegistrationState::Confirmed => {
                return Err(Error::NotDelivered)
            }
            RegistrationState::Delivered | RegistrationState::InUse => {}
        }
        if r.verify_locked {
            return Err(Error::Locked("too many wrong one-time codes: the token is locked"));
        }
        let matched = self.match_code(&r, code, now)?;
        let first_use =
            matches!(matched, Match::Fresh(_)) && r.state == RegistrationState::Delivered;
        let mut next = r;
        match matched {
            Match::Fresh(step) => {
                next.last_step = Some(step);
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

    /// Compares the code with those of steps −1, 0, +1, all three always, in constant time.
    fn match_code(&self, r: &Registration, code: &str, now: u64) -> Result<Match> {
        if code.len() != usize::from(r.params.digits) {
            return Ok(Match::None);
        }
        let seed = self.open_seed(r)?;
        let totp = Totp::new(r.params, &seed, ClockOffset(0))?;
        let period = u64::from(r.params.period.max(1));
        let step = now / period;
        let mut fresh = None;
        let mut replayed = false;
        for s in [step.saturating_sub(1), step, step + 1] {
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
