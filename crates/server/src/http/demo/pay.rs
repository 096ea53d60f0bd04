//! The demo bank's transfer (振込) page and the phishing-relay page: a transfer the customer
//! approves in the app (transaction confirmation, `docs/confirmation.md`), and the same
//! transfer sent through a fake bank site that changes it on the way, which the customer sees
//! in the app and denies.
//!
//! Served only with the other demo pages (demo mode, this computer, loopback host names; see
//! the parent module), and only for the demo registration. Nothing here can approve: the
//! routes create, read and withdraw a request through the bank's confirmation methods, and
//! only an answer carrying the token's key (the app) moves one to `approved`.

use std::time::Duration;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use softtoken_core::confirm::details::Note;
use softtoken_core::confirm::{Amount, Details, Payee};

use super::super::confirm::{confirmation_id, counted, waited_status, WaitQuery};
use super::super::extract::ApiJson;
use super::super::state::AppState;
use super::ids;
use crate::bank::{
    Actor, ConfirmationStatus, CreatedConfirmation, NewConfirmation, OfflineCheck, OfflineOutcome,
};
use crate::error::{Error, Result};

/// The routes of the two pages' actions (the pages themselves are routed by the parent).
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/demo/api/transfer", post(transfer))
        .route("/demo/api/transfer/offline", post(offline))
        .route("/demo/api/transfer/{id}", get(status))
        .route("/demo/api/transfer/{id}/cancel", post(cancel))
        .route("/demo/api/relay", post(relay))
}

/// What the customer typed on a transfer page.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Transfer {
    payee: Payee,
    amount_yen: Amount,
}

/// A transfer of `amount_yen` to `payee`, as the page takes it (no note).
fn transfer_of(payee: Payee, amount_yen: Amount) -> Details {
    Details::Transfer { amount_yen, payee, note: Note::empty() }
}

/// The request as created, and what the customer sees beside it (the number to type in the
/// app).
async fn create(s: &AppState, details: Details) -> Result<CreatedConfirmation> {
    let (service_id, user_id) = ids()?;
    let new =
        NewConfirmation { service_id, user_id, details, lifetime_secs: None, match_required: true };
    // The demo page stands in for the bank's web tier, which is the bank itself.
    s.bank().create_confirmation(&Actor::Bank, new, s.now()).await
}

async fn transfer(
    State(s): State<AppState>,
    body: Result<ApiJson<Transfer>, Error>,
) -> Result<(StatusCode, Json<CreatedConfirmation>)> {
    let ApiJson(req) = body?;
    Ok((StatusCode::CREATED, Json(create(&s, transfer_of(req.payee, req.amount_yen)).await?)))
}

/// What a relay does to the transfer in front of the bank.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum Change {
    /// Ten times the amount.
    Amount,
    /// The relay's own account instead of the customer's payee.
    Payee,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Relay {
    payee: Payee,
    amount_yen: Amount,
    change: Change,
}

/// What the fake site typed into the bank, beside what the customer typed into the fake site.
#[derive(Debug, Serialize)]
struct Relayed {
    change: Change,
    entered: Details,
    sent: Details,
    confirmation: CreatedConfirmation,
}

/// The account a relay sends the money to instead.
fn mule() -> Result<Payee> {
    serde_json::from_value(serde_json::json!({
        "bank": "さくらネット銀行",
        "branch": "第一営業部",
        "account_type": "ordinary",
        "account_number": "7654321",
        "holder": "ミライ　トレーディング",
    }))
    .map_err(|_| Error::Internal("the relay's payee"))
}

async fn relay(
    State(s): State<AppState>,
    body: Result<ApiJson<Relay>, Error>,
) -> Result<(StatusCode, Json<Relayed>)> {
    let ApiJson(req) = body?;
    let (payee, amount) = match req.change {
        Change::Amount => {
            let more = req.amount_yen.yen().saturating_mul(10);
            (req.payee.clone(), Amount::new(more)?)
        }
        Change::Payee => (mule()?, req.amount_yen),
    };
    let entered = transfer_of(req.payee, req.amount_yen);
    let sent = transfer_of(payee, amount);
    let confirmation = create(&s, sent.clone()).await?;
    Ok((StatusCode::CREATED, Json(Relayed { change: req.change, entered, sent, confirmation })))
}

/// A request of the demo registration; any other one is unknown to the demo pages.
fn of_the_demo(status: ConfirmationStatus) -> Result<ConfirmationStatus> {
    let (service, user) = ids()?;
    if status.service_id != service || status.user_id != user {
        return Err(Error::UnknownConfirmation);
    }
    Ok(status)
}

async fn status(
    State(s): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<WaitQuery>, QueryRejection>,
) -> Result<Json<ConfirmationStatus>> {
    let id = confirmation_id(path)?;
    Ok(Json(of_the_demo(waited_status(&s, &id, query).await?)?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cancel {}

/// The customer chose the offline code instead, or gave up: the request is withdrawn, so the
/// app no longer offers it.
async fn cancel(
    State(s): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<ApiJson<Cancel>, Error>,
) -> Result<Json<ConfirmationStatus>> {
    let ApiJson(Cancel {}) = body?;
    let id = confirmation_id(path)?;
    // Read first: only the demo registration's requests are the demo pages' to withdraw.
    let status = s.bank().confirmation_status(&id, s.clock(), Duration::ZERO).await?;
    of_the_demo(counted(&s, status))?;
    let cancelled = s.bank().cancel_confirmation(&Actor::Bank, &id, s.now()).await?;
    Ok(Json(counted(&s, cancelled)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Offline {
    account_number: String,
    amount_yen: u64,
    code: String,
}

/// The offline code the customer typed, for the transfer on the page.
async fn offline(
    State(s): State<AppState>,
    body: Result<ApiJson<Offline>, Error>,
) -> Result<Json<OfflineOutcome>> {
    let ApiJson(req) = body?;
    let (service_id, user_id) = ids()?;
    let check = OfflineCheck {
        service_id,
        user_id,
        account_number: req.account_number,
        amount_yen: req.amount_yen,
        code: req.code,
    };
    Ok(Json(s.bank().check_offline_code(&check, s.now()).await?))
}
