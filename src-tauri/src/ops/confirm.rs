//! Transaction confirmation (`docs/confirmation.md` §5 "The app", §10): `list_confirmations`
//! fetches a token's pending requests, checks each one's bank MAC and keeps the verified
//! request here; `answer_confirmation` answers one of those with the customer's decision;
//! `offline_code` makes the offline code for a payee's account number and an amount.
//!
//! The web view gets display fields only (kind, amount, payee, note, seconds left, whether a
//! number is asked), never a key, a MAC or a seed; and it names a request only by its id, so
//! what is signed is always the request as the bank's MAC vouched for it.

use serde::Serialize;
use softtoken_core::confirm::{
    offline, AccountNumber, Amount, Decision, Details, MatchNumber, Request,
};
use softtoken_core::error::{Field, Invalid};
use softtoken_core::ids::{TokenId, UserId};
use softtoken_core::Error;
use zeroize::Zeroizing;

use super::state::{internal, AppState, ShownRequest};
use super::tokens::token_keys;
use crate::error::CommandResult;

/// Seconds a verified request is kept after its expiry, so an answer given in its last second
/// still finds it (the bank then says `expired`).
const KEEP_AFTER_EXPIRY_SECS: u64 = 60;

/// How far an offset learnt from the bank's time may be from the one kept before it replaces
/// it (seconds): whole-second clocks and the network's delay make each fetch's reading differ
/// by a second or two, and codes change once a minute, so the vault is not rewritten for that.
const RELEARN_AFTER_SECS: u64 = 5;

/// How far the phone's clock may be from the bank's before the customer is told (seconds):
/// a code period. The codes follow the bank's clock either way.
pub const CLOCK_NOTICE_SECS: u64 = 60;

/// A token's pending requests as the screens show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pending {
    /// The verified requests, oldest first.
    pub requests: Vec<ConfirmationView>,
    /// Requests refused because their bank MAC did not match (changed on the way): none of
    /// their fields is shown.
    pub refused: u32,
    /// How far the phone's clock is from the bank's (seconds, bank minus phone), by the bank's
    /// authenticated time, when it is [`CLOCK_NOTICE_SECS`] or more.
    pub clock_off_secs: Option<i64>,
}

/// One verified request, display fields only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfirmationView {
    /// The request's id, by which the web view answers it.
    pub id: String,
    /// `transfer`, `new_payee`, `limit_change` or `sign_in`.
    pub kind: &'static str,
    /// The amount in yen, for a transfer or a limit change.
    pub amount_yen: Option<u64>,
    /// The amount as shown: `¥50,000`.
    pub amount: Option<String>,
    /// The payee, for a transfer or a new payee.
    pub payee: Option<PayeeView>,
    /// The bank's note (may be empty).
    pub note: String,
    /// Seconds left to answer.
    pub seconds_left: u64,
    /// The device's Unix second at which it can no longer be answered.
    pub expires_at: u64,
    /// Whether an approval needs the two digits the bank's page shows.
    pub match_required: bool,
}

/// A payee's fields, exactly as the bank sent them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PayeeView {
    /// 金融機関名.
    pub bank: String,
    /// 支店名.
    pub branch: String,
    /// `ordinary`, `current` or `savings`.
    pub account_type: &'static str,
    /// Seven digits.
    pub account_number: String,
    /// 受取人名 (katakana).
    pub holder: String,
}

/// The bank's answer to the customer's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Answered {
    /// `approved`, `denied`, `wrong_number`, `expired` or `cancelled`.
    pub state: &'static str,
}

/// An offline code and how long it is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OfflineCode {
    /// Eight digits.
    pub code: String,
    /// Seconds left in the minute the code is for.
    pub seconds_left: u64,
    /// The account number as used (seven digits), to show beside the code.
    pub account_number: String,
    /// The amount as used: `¥50,000`.
    pub amount: String,
}

fn view(r: &Request, bank_now: u64, device_now: u64) -> ConfirmationView {
    let d = r.details();
    let seconds_left = r.seconds_left(bank_now);
    let payee = match d {
        Details::Transfer { payee, .. } | Details::NewPayee { payee, .. } => Some(PayeeView {
            bank: payee.bank.as_str().to_owned(),
            branch: payee.branch.as_str().to_owned(),
            account_type: payee.account_type.as_str(),
            account_number: payee.account_number.as_str().to_owned(),
            holder: payee.holder.as_str().to_owned(),
        }),
        _ => None,
    };
    ConfirmationView {
        id: r.id().to_string(),
        kind: d.kind(),
        amount_yen: d.amount().map(Amount::yen),
        amount: d.amount().map(Amount::grouped),
        payee,
        note: d.note().as_str().to_owned(),
        seconds_left,
        expires_at: device_now.saturating_add(seconds_left),
        match_required: r.match_required(),
    }
}

/// `list_confirmations`: the token's pending requests at the bank, each checked with the
/// token's bank key; a request that fails the check is counted in [`Pending::refused`] and
/// nothing of it is shown or kept. A token the bank has not yet acknowledged has none (the
/// bank would not accept it), so the bank is not asked.
///
/// # Errors
/// `token_not_found`, vault errors; the client's (`confirmation_not_accepted`,
/// `device_clock_wrong`, `server_unreachable`, ...).
pub async fn list_confirmations(
    state: &AppState,
    token_id: &str,
    device_now: u64,
) -> CommandResult<Pending> {
    let t = token_keys(state, TokenId::new(token_id)?).await?;
    if !t.delivered {
        return Ok(Pending { requests: Vec::new(), refused: 0, clock_off_secs: None });
    }
    let client = state.client.as_ref().map_err(Clone::clone)?;
    let fetched = client
        .pending_confirmations(&t.keys, &t.service, &t.user, t.offset.apply(device_now), device_now)
        .await;
    let fetched = match fetched {
        Err(Error::RegistrationMoved { new_user_id, .. }) => {
            let last = crate::error::LastDigits::of(&UserId::new(&new_user_id)?);
            super::move_phone::move_status(state, token_id, device_now).await?;
            return Err(super::move_phone::moved_error(last));
        }
        other => other?,
    };
    // A token moving to a new phone learns at this look too that the move is over.
    if t.moving {
        let view = super::move_phone::move_status(state, token_id, device_now).await;
        if let Ok(super::move_phone::MoveView { new_user_id_last: Some(last), .. }) = view {
            return Err(super::move_phone::moved_error(last));
        }
    }
    // The bank's authenticated clock: kept with the token, so its codes follow it from now on.
    let offset = match fetched.offset {
        Some(learnt) if learnt.0.abs_diff(t.offset.0) >= RELEARN_AFTER_SECS => {
            let id = t.id.clone();
            state.with_vault(move |v| Ok(v.set_offset(&id, learnt)?)).await?;
            learnt
        }
        _ => t.offset,
    };
    let bank_now = offset.apply(device_now);
    let signed = fetched.requests;
    let mut requests = Vec::new();
    let mut refused = 0;
    let mut shown = state.shown.lock().map_err(|_| internal())?;
    shown.retain(|_, s| {
        s.request.expires_at().saturating_add(KEEP_AFTER_EXPIRY_SECS) > s.offset.apply(device_now)
    });
    for s in signed {
        match s.open(&t.keys, &t.service, &t.user) {
            Ok(request) => {
                requests.push(view(&request, bank_now, device_now));
                let held = ShownRequest { token: t.id.clone(), request, offset };
                shown.insert(held.request.id().to_string(), held);
            }
            // A changed MAC, or details no honest bank sends (a sign-in without its note):
            // either way nothing of it can be trusted enough to show.
            Err(_) => refused += 1,
        }
    }
    let clock_off_secs = (offset.0.unsigned_abs() >= CLOCK_NOTICE_SECS).then_some(offset.0);
    Ok(Pending { requests, refused, clock_off_secs })
}

/// The number the customer typed, as two ASCII digits: full-width digits and spaces are what
/// a Japanese keyboard may give.
fn typed_number(typed: Option<&str>) -> CommandResult<MatchNumber> {
    let invalid = |reason| Error::Invalid { field: Field::MatchNumber, reason };
    let mut digits = String::new();
    for c in typed.unwrap_or_default().chars() {
        match c {
            '0'..='9' => digits.push(c),
            '０'..='９' => digits.extend(char::from_digit(u32::from(c) - u32::from('０'), 10)),
            ' ' | '\u{3000}' => {}
            _ => return Err(invalid(Invalid::NotDigits).into()),
        }
    }
    if digits.is_empty() {
        return Err(invalid(Invalid::Empty).into());
    }
    if digits.len() != 2 {
        return Err(invalid(Invalid::WrongLength { min: 2, max: 2, found: digits.len() }).into());
    }
    Ok(MatchNumber::new(&digits)?)
}

/// `answer_confirmation`: the customer's decision on a request `list_confirmations` showed,
/// with the number they typed when the request asks for one (ignored with a denial). The answer
/// is computed over the verified request held by the app.
///
/// # Errors
/// `unknown_confirmation` for a request the app does not hold (never shown, or already
/// answered) or the bank no longer has; `invalid_input` on `match_number` for an approval
/// without two digits; with the lock on, an approval's PIN refused (`invalid_input` on
/// `app_pin`, `wrong_pin`, `pin_back_off`); the client's errors (then the request stays, to answer again).
pub async fn answer_confirmation(
    state: &AppState,
    id: &str,
    decision: Decision,
    typed: Option<&str>,
    pin: Option<Zeroizing<String>>,
    device_now: u64,
) -> CommandResult<Answered> {
    let (token, request) = {
        let shown = state.shown.lock().map_err(|_| internal())?;
        let held = shown.get(id).ok_or(Error::UnknownConfirmation)?;
        (held.token.clone(), held.request.clone())
    };
    let number = match decision {
        Decision::Approve if request.match_required() => Some(typed_number(typed)?),
        _ => None,
    };
    // An unlocked phone handed to someone else does not approve a transfer: with the lock on,
    // every approval takes the PIN, typed for it. A denial never needs one.
    if decision == Decision::Approve {
        super::lock::check_pin_for_approval(state, pin, device_now).await?;
    }
    let client = state.client.as_ref().map_err(Clone::clone)?;
    let keys = token_keys(state, token).await?.keys;
    let answer = request.answer(&keys, decision, number)?;
    let outcome = client.answer_confirmation(&answer, device_now).await;
    if matches!(&outcome, Ok(_) | Err(Error::UnknownConfirmation)) {
        state.shown.lock().map_err(|_| internal())?.remove(id);
    }
    Ok(Answered { state: outcome?.state.as_str() })
}

/// `offline_code`: the offline code (`docs/confirmation.md` §6) of a token for the payee's
/// account number and the amount the customer typed, at the bank's current minute.
///
/// # Errors
/// `invalid_input` on `payee_account` or `amount`; `token_not_found`, vault errors.
pub async fn offline_code(
    state: &AppState,
    token_id: &str,
    account_number: &str,
    amount: &str,
    device_now: u64,
) -> CommandResult<OfflineCode> {
    let account = AccountNumber::parse_typed(account_number)?;
    let amount = Amount::parse_typed(amount)?;
    let t = token_keys(state, TokenId::new(token_id)?).await?;
    let bank_now = t.offset.apply(device_now);
    let code = offline::code(&t.keys, &account, amount, bank_now)?;
    Ok(OfflineCode {
        code,
        seconds_left: offline::OFFLINE_STEP_SECS - bank_now % offline::OFFLINE_STEP_SECS,
        account_number: account.as_str().to_owned(),
        amount: amount.grouped(),
    })
}
