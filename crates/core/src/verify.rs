//! The bank's acceptance rule for a one-time code (steps 12–13, then every login and transfer),
//! as pure functions of the bank's clock and what it remembers of the token's clock: totp-rs's
//! `check` (a window of steps around the clock) with the replay guard it lacks (a step at or
//! before the last accepted one is never accepted again), the drift of the phone's clock learnt
//! from each accepted code, and the resync from two consecutive codes (RFC 6238 §6) for a clock
//! that moved further. The shape of a code to check ([`EnteredCode`]) is here too.
//!
//! The bank's shell keeps the state machine (locks, failure counts, storage): it hands in the
//! token's [`TokenClock`] and stores the [`Accepted`] step and drift that come out.

use std::fmt;

use subtle::ConstantTimeEq;

use crate::totp::{Code, Totp, TotpParams};

/// Steps either side of the token's expected step that verify also accepts: a code typed in the
/// last seconds of its minute, or read off a clock a little off, still counts. One window of
/// three steps, never more.
pub const ACCEPT_WINDOW_STEPS: u64 = 1;

/// How far accepted codes alone may move a token's drift from the bank's clock: two steps. A
/// phone further off needs a clerk's resync (two consecutive codes), which may set any drift
/// within [`RESYNC_WINDOW_SECS`]; codes may bring such a drift back, never push it further out.
/// So no run of accepted codes walks the window away from the bank's clock.
pub const MAX_LEARNT_DRIFT_STEPS: i64 = 2;

/// How far a resync looks either side of the bank's clock: a day. Two consecutive codes of a
/// 6-digit token match by chance somewhere in that window with odds of about 3 in 10⁹ (2,881
/// positions at 60 s), and a phone further off than a day has a wrong date, not a drifting
/// clock (the app refuses to set up with one).
pub const RESYNC_WINDOW_SECS: u64 = 86_400;

/// Shortest code the bank takes to check.
pub const ENTERED_CODE_MIN_DIGITS: usize = 6;
/// Longest code the bank takes to check.
pub const ENTERED_CODE_MAX_DIGITS: usize = 8;

/// A code as someone entered it for the bank to check: 6 to 8 ASCII digits. Whether it has as
/// many digits as the token's codes is [`accept`]'s business (a wrong count is a wrong code, not
/// a malformed request).
#[derive(Clone, PartialEq, Eq)]
pub struct EnteredCode(String);

/// Why a text is not an [`EnteredCode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MalformedCode;

impl fmt::Display for MalformedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the code must be 6 to 8 ASCII digits")
    }
}

impl EnteredCode {
    /// The code in `digits`, which must already be plain digits.
    ///
    /// # Errors
    /// [`MalformedCode`] unless `digits` is 6 to 8 ASCII digits.
    pub fn new(digits: &str) -> Result<Self, MalformedCode> {
        let length_ok = (ENTERED_CODE_MIN_DIGITS..=ENTERED_CODE_MAX_DIGITS).contains(&digits.len());
        if !length_ok || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MalformedCode);
        }
        Ok(Self(digits.to_owned()))
    }

    /// The code a customer copied in the grouped form the app shows (`123 456`, `1234-5678`):
    /// its spaces and hyphens dropped, then as [`EnteredCode::new`].
    ///
    /// # Errors
    /// [`MalformedCode`] unless what is left is 6 to 8 ASCII digits.
    pub fn typed(text: &str) -> Result<Self, MalformedCode> {
        Self::new(&Self::without_separators(text))
    }

    /// `text` without the spaces and hyphens of the grouped form.
    pub fn without_separators(text: &str) -> String {
        text.chars().filter(|c| !matches!(c, ' ' | '-')).collect()
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True if this code has as many digits as `params`' codes. Only such a code can match, so
    /// a shell may leave the seed sealed for any other.
    pub fn fits(&self, params: TotpParams) -> bool {
        self.0.len() == usize::from(params.digits)
    }

    /// Constant-time comparison with a code the token made.
    fn is(&self, code: &Code) -> bool {
        code.as_str().as_bytes().ct_eq(self.0.as_bytes()).into()
    }
}

impl fmt::Debug for EnteredCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A code is a credential for its minute.
        f.write_str("EnteredCode(<redacted>)")
    }
}

/// What the bank remembers of a token's clock between codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenClock {
    /// The step of the last accepted code; no code of it or of an earlier step is accepted.
    pub last_step: Option<u64>,
    /// How many steps the phone's clock is ahead of the bank's (negative: behind), learnt
    /// from the last accepted code.
    pub drift_steps: i64,
}

/// A code the bank accepted, and the token's clock from now on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// The step of the accepted code (of the later code, for a resync): the new last step.
    pub step: u64,
    /// The accepted step's distance from the bank's step: the new drift.
    pub drift_steps: i64,
}

impl Accepted {
    fn at(step: u64, bank_step: u64) -> Self {
        Self { step, drift_steps: steps_between(bank_step, step) }
    }

    /// A code accepted at `step` by a token whose drift was `before`: the drift follows the
    /// code within [`MAX_LEARNT_DRIFT_STEPS`], or towards the bank's clock, and stays otherwise.
    fn learnt(step: u64, bank_step: u64, before: i64) -> Self {
        let seen = steps_between(bank_step, step);
        let further_out = seen.unsigned_abs() > before.unsigned_abs();
        let drift_steps =
            if seen.unsigned_abs() > MAX_LEARNT_DRIFT_STEPS.unsigned_abs() && further_out {
                before
            } else {
                seen
            };
        Self { step, drift_steps }
    }

    /// The token's clock after this acceptance.
    pub fn clock(self) -> TokenClock {
        TokenClock { last_step: Some(self.step), drift_steps: self.drift_steps }
    }
}

/// Why [`accept`] refused a well-formed code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No candidate step has this code (or it has the wrong number of digits).
    WrongCode,
    /// The code is that of a step already accepted, or of one before it.
    Replayed,
}

/// Checks `code` at the bank's time `bank_now` against the token's `clock`: the candidates are
/// the step the token is expected at (the bank's step shifted by the token's drift)
/// ±[`ACCEPT_WINDOW_STEPS`], three steps, every one computed and compared in constant time. Of
/// the matching steps after the last accepted one the latest wins, so a code can never re-open
/// an older step. The accepted step's distance from the bank's becomes the drift, within
/// [`MAX_LEARNT_DRIFT_STEPS`] (see there).
///
/// `totp` makes the codes at bank time (its clock offset is not used).
///
/// # Errors
/// [`Refusal::Replayed`] if the code matches only steps at or before the last accepted one;
/// [`Refusal::WrongCode`] if it matches none, or has another number of digits than the token's
/// codes (then nothing is computed).
pub fn accept(
    totp: &Totp,
    code: &EnteredCode,
    bank_now: u64,
    clock: TokenClock,
) -> Result<Accepted, Refusal> {
    let params = totp.params();
    if !code.fits(params) {
        return Err(Refusal::WrongCode);
    }
    let period = u64::from(params.period.max(1));
    let own = params.step_at(bank_now);
    let expected = own.saturating_add_signed(clock.drift_steps);
    let w = ACCEPT_WINDOW_STEPS;
    let mut steps = vec![expected.saturating_sub(w), expected, expected.saturating_add(w)];
    steps.dedup();
    let mut fresh = None;
    let mut replayed = false;
    for s in steps {
        if code.is(&totp.code_at_bank_time(s * period)) {
            if clock.last_step.is_none_or(|last| s > last) {
                fresh = Some(s);
            } else {
                replayed = true;
            }
        }
    }
    match (fresh, replayed) {
        (Some(s), _) => Ok(Accepted::learnt(s, own, clock.drift_steps)),
        (None, true) => Err(Refusal::Replayed),
        (None, false) => Err(Refusal::WrongCode),
    }
}

/// Resyncs from two consecutive codes a customer reads off the app: the first step `s`, within
/// [`RESYNC_WINDOW_SECS`] of `bank_now` and after the last accepted step, whose code is `first`
/// and whose next step's code is `second`. The later step is accepted: it becomes the last
/// step (so neither code is accepted again) and sets the drift.
///
/// `None` if no such step exists, or if either code has another number of digits than the
/// token's codes (then nothing is computed).
pub fn resync(
    totp: &Totp,
    [first, second]: [&EnteredCode; 2],
    bank_now: u64,
    clock: TokenClock,
) -> Option<Accepted> {
    let params = totp.params();
    if !first.fits(params) || !second.fits(params) {
        return None;
    }
    let period = u64::from(params.period.max(1));
    let own = params.step_at(bank_now);
    let reach = RESYNC_WINDOW_SECS / period;
    let lowest = own.saturating_sub(reach).max(clock.last_step.map_or(0, |l| l + 1));
    let found = (lowest..=own + reach).find(|&s| {
        first.is(&totp.code_at_bank_time(s * period))
            && second.is(&totp.code_at_bank_time((s + 1) * period))
    })?;
    Some(Accepted::at(found + 1, own))
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

#[cfg(test)]
mod tests;
