//! The offline code (`docs/confirmation.md` §6): when the phone cannot reach the bank, the
//! customer types the payee's account number and the amount into the app, and the app shows an
//! RFC 6287 OCRA response over them and the current minute. The bank's page asks for that code;
//! a code for another payee or another amount is refused, so a relay cannot reuse it.
//!
//! The suite is [`OFFLINE_SUITE`]; the question is the seven-digit account number followed by
//! the amount in yen as ten digits, seventeen digits in all, so that every (account, amount) pair
//! has its own question. The key is `k_offline` (§3.1).

use crate::error::Result;
use crate::ocra::{OcraInput, OcraSuite};

use super::details::{AccountNumber, Amount};
use super::keys::ConfirmationKeys;

/// The OCRA suite of the offline code: HMAC-SHA256, 8 digits, a numeric question of 17 digits,
/// the time in minutes.
pub const OFFLINE_SUITE: &str = "OCRA-1:HOTP-SHA256-8:QN17-T1M";
/// The time step of the suite, in seconds.
pub const OFFLINE_STEP_SECS: u64 = 60;
/// How many steps before the current one the bank still accepts: one, so a code read out at the
/// end of a minute still works while it is typed.
pub const OFFLINE_STEPS_BACK: u64 = 1;

/// The 17-digit question: account number, then the amount as ten digits.
pub fn question(account: &AccountNumber, amount: Amount) -> String {
    format!("{}{:010}", account.as_str(), amount.yen())
}

/// The offline code for a transfer of `amount` to `account` at bank time `bank_time`.
///
/// # Errors
/// None in practice: the suite is fixed and the question always has its 17 digits; an
/// [`crate::Error::TotpParameters`] would mean this module is wrong.
pub fn code(
    keys: &ConfirmationKeys,
    account: &AccountNumber,
    amount: Amount,
    bank_time: u64,
) -> Result<String> {
    let suite = OcraSuite::parse(OFFLINE_SUITE)?;
    let q = question(account, amount);
    suite.respond(
        keys.offline.expose(),
        &OcraInput { question: &q, unix_time: Some(bank_time), ..Default::default() },
    )
}

/// The bank's check of a typed offline code at bank time `now`: the step it was made for, if
/// it matches the current step or the one before. The caller refuses a step at or before the
/// last one it accepted for this registration (a code works once).
///
/// # Errors
/// As [`code`].
pub fn accepted_step(
    keys: &ConfirmationKeys,
    account: &AccountNumber,
    amount: Amount,
    typed: &str,
    now: u64,
) -> Result<Option<u64>> {
    use subtle::ConstantTimeEq as _;
    let current = now / OFFLINE_STEP_SECS;
    for back in 0..=OFFLINE_STEPS_BACK {
        let Some(step) = current.checked_sub(back) else { break };
        let expected = code(keys, account, amount, step * OFFLINE_STEP_SECS)?;
        if bool::from(expected.as_bytes().ct_eq(typed.as_bytes())) {
            return Ok(Some(step));
        }
    }
    Ok(None)
}
