//! The confirmation endpoints (`docs/confirmation.md` §9). The app's fetch and answer are on
//! the public listener with no bearer (the token's key authenticates them) and are throttled
//! per address and per registration, counting failures only; so is the token's own end of use
//! (`docs/protocol.md` §4.4), which the same key authenticates. The web tier's create, status,
//! cancel and offline check are on the admin listener, behind the admin token or the
//! confirm-only token.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use softtoken_core::confirm::end::{EndRequest, Ended, PATH_END};
use softtoken_core::confirm::{
    AnswerRequest, ConfirmationId, ConfirmationState, FetchRequest, FetchResponse, PATH_ANSWER,
    PATH_PENDING,
};
use softtoken_core::ids::{ServiceId, UserId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiJson, ClientIp, Confirmer};
use super::state::AppState;
use crate::bank::{
    Actor, AnswerOutcome, ConfirmationStatus, CreatedConfirmation, NewConfirmation, OfflineCheck,
    MAX_WAIT_SECS,
};
use crate::error::{ApiErrorBody, Error, Result};
use crate::ratelimit::Reservation;

/// The app's routes, for the public listener.
pub(super) fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(confirmations_pending))
        .routes(routes!(confirmations_answer))
        .routes(routes!(registrations_end))
}

/// The web tier's routes, for the admin listener.
pub(super) fn admin_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(admin_create))
        .routes(routes!(admin_offline))
        .routes(routes!(admin_status))
        .routes(routes!(admin_cancel))
}

/// The path of one confirmation request.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // Read by the OpenAPI derive only; `confirmation_id` parses the path.
struct Request {
    /// From the create's answer: 16 bytes, base64url (22 characters).
    id: ConfirmationId,
}

/// Failures that a prober produces, and that count against its buckets.
fn counts_as_failure(e: &Error) -> bool {
    matches!(
        e,
        Error::NotAuthenticated
            | Error::ClockSkew { .. }
            | Error::UnknownConfirmation
            | Error::InvalidRequest(_)
            | Error::BodyTooLarge { .. }
    )
}

fn limited(s: &AppState, scope: &str, ip: IpAddr, retry_after: u64) -> Error {
    s.metrics().confirmation_refused("rate_limited");
    if s.log_refusal("confirmation_rate_limited") {
        tracing::warn!(event = "confirmation_rate_limited", scope, client = %ip, retry_after,
            "confirmation request refused: too many failures");
    }
    Error::RateLimited { retry_after }
}

/// Runs the app's `work` on `body` between its two reservations: the caller's address first
/// (before the body is read, so a flood of bad bodies is throttled too), then the
/// registration the body names.
pub(super) async fn throttled<B, T, Fut>(
    s: &AppState,
    ip: Option<IpAddr>,
    body: Result<ApiJson<B>, Error>,
    pair: impl FnOnce(&B) -> (&ServiceId, &UserId),
    work: impl FnOnce(B) -> Fut,
) -> Result<T>
where
    Fut: std::future::Future<Output = Result<T>>,
{
    let now = Instant::now();
    let ip = ip.unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let by_address = s
        .confirm_limiter()
        .reserve(ip, now)
        .map_err(|l| limited(s, "address", ip, l.retry_after))?;
    let result = async {
        let ApiJson(body) = body?;
        let (service, user) = pair(&body);
        let key = format!("{service}/{user}");
        let by_registration: Reservation<'_> = s
            .registration_limiter()
            .reserve_for(&key, now)
            .map_err(|l| limited(s, "registration", ip, l.retry_after))?;
        let result = work(body).await;
        if result.as_ref().err().is_some_and(counts_as_failure) {
            by_registration.failed();
        }
        result
    }
    .await;
    if let Err(e) = &result {
        if counts_as_failure(e) {
            by_address.failed();
            s.metrics().confirmation_refused(e.code());
            if s.log_refusal("confirmation_refused") {
                tracing::info!(event = "confirmation_refused", reason = e.code(), client = %ip,
                    "confirmation request refused");
            }
        }
    }
    result
}

/// The app fetches the requests waiting for its registration, with a proof made with the
/// token's key (confirmation.md §9.1).
#[utoipa::path(post, path = PATH_PENDING, tag = "confirmations", request_body = FetchRequest,
    responses(
        (status = 200, description = "The pending requests, signed by the bank.", body = FetchResponse),
        (status = 400, description = "`invalid_request`, or `clock_skew` with the bank's `server_time`.", body = ApiErrorBody),
        (status = 401, description = "`not_authenticated`: the proof does not check (one answer for every cause).", body = ApiErrorBody),
        (status = 429, description = "`rate_limited`; `retry_after`.", body = ApiErrorBody),
    ))]
async fn confirmations_pending(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Result<ApiJson<FetchRequest>, Error>,
) -> Result<impl IntoResponse> {
    let fetched = throttled(
        &s,
        ip,
        body,
        |b| (&b.service_id, &b.user_id),
        |b| {
            let s = s.clone();
            async move { s.bank().fetch_confirmations(&b, s.now()).await }
        },
    )
    .await?;
    s.metrics().confirmation_fetched();
    Ok(Json(fetched))
}

/// The app answers a request: approve (with the number the customer picked) or deny.
#[utoipa::path(post, path = PATH_ANSWER, tag = "confirmations", request_body = AnswerRequest,
    responses(
        (status = 200, description = "The request's state after the answer.", body = AnswerOutcome),
        (status = 401, description = "`not_authenticated`.", body = ApiErrorBody),
        (status = 404, description = "`unknown_confirmation`.", body = ApiErrorBody),
        (status = 429, description = "`rate_limited`; `retry_after`.", body = ApiErrorBody),
    ))]
async fn confirmations_answer(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Result<ApiJson<AnswerRequest>, Error>,
) -> Result<impl IntoResponse> {
    let actor = Actor::Token(ip);
    let outcome = throttled(
        &s,
        ip,
        body,
        |b| (&b.service_id, &b.user_id),
        |b| {
            let s = s.clone();
            async move { s.bank().answer_confirmation(&actor, &b, s.now()).await }
        },
    )
    .await?;
    count_final(&s, outcome.changed, outcome.state);
    Ok(Json(outcome))
}

/// The token ends its own use (protocol.md §4.4), authenticated by its key.
#[utoipa::path(post, path = PATH_END, tag = "registrations", request_body = EndRequest,
    responses(
        (status = 200, description = "Ended.", body = Ended),
        (status = 401, description = "`not_authenticated`.", body = ApiErrorBody),
        (status = 410, description = "`ended`: already ended.", body = ApiErrorBody),
        (status = 429, description = "`rate_limited`; `retry_after`.", body = ApiErrorBody),
    ))]
async fn registrations_end(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Result<ApiJson<EndRequest>, Error>,
) -> Result<impl IntoResponse> {
    let actor = Actor::Token(ip);
    let ended = throttled(
        &s,
        ip,
        body,
        |b| (&b.service_id, &b.user_id),
        |b| {
            let s = s.clone();
            async move { s.bank().end_by_token(&actor, &b, s.now()).await }
        },
    )
    .await?;
    s.metrics().ended();
    Ok(Json(ended))
}

/// The credential's name and socket peer; the admin listener believes no forwarded address.
fn actor(c: &Confirmer, _forwarded: Option<IpAddr>) -> Actor {
    c.actor()
}

/// The web tier asks the customer's app to confirm a transfer or a sign-in.
#[utoipa::path(post, operation_id = "confirmation_create", path = "/v1/admin/confirmations", tag = "confirmations", security(("bearer" = [])),
    request_body = NewConfirmation,
    responses(
        (status = 201, description = "Created: its id and the number to show on the web page.", body = CreatedConfirmation),
        (status = 404, description = "`unknown_registration`.", body = ApiErrorBody),
        (status = 409, description = "`not_delivered` or `too_many_pending`.", body = ApiErrorBody),
        (status = 410, description = "`ended`.", body = ApiErrorBody),
    ))]
async fn admin_create(
    State(s): State<AppState>,
    confirmer: Confirmer,
    ClientIp(ip): ClientIp,
    body: Result<ApiJson<NewConfirmation>, Error>,
) -> Result<impl IntoResponse> {
    let ApiJson(new) = body?;
    let created = s.bank().create_confirmation(&actor(&confirmer, ip), new, s.now()).await?;
    s.metrics().confirmation_created();
    Ok((StatusCode::CREATED, Json(created)))
}

/// The request a path names (`…/{id}`).
pub(super) fn confirmation_id(path: Result<Path<String>, PathRejection>) -> Result<ConfirmationId> {
    let Path(id) =
        path.map_err(|_| Error::InvalidRequest("the path must name a request".into()))?;
    ConfirmationId::parse(&id).map_err(|_| {
        Error::InvalidRequest("a confirmation ID is 16 bytes in base64url (22 characters)".into())
    })
}

/// `?wait=S`: whole seconds to wait for a final state.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct WaitQuery {
    #[serde(default)]
    wait: Option<u64>,
}

/// The long-poll rule (`docs/confirmation.md` §9.2) for every status read: `wait` checked,
/// cut to end before the listener's own request deadline, and a request this read made final
/// (an expiry) counted.
pub(super) async fn waited_status(
    s: &AppState,
    id: &ConfirmationId,
    query: Result<Query<WaitQuery>, QueryRejection>,
) -> Result<ConfirmationStatus> {
    let out_of_range =
        || Error::InvalidRequest(format!("wait is whole seconds from 0 to {MAX_WAIT_SECS}"));
    let Query(q) = query.map_err(|_| out_of_range())?;
    let wait = q.wait.unwrap_or(0);
    if wait > MAX_WAIT_SECS {
        return Err(out_of_range());
    }
    // Answered before the listener's own request deadline cuts the wait off.
    let limit = s.opts().edge.request_timeout.saturating_sub(Duration::from_secs(1));
    let wait = Duration::from_secs(wait).min(limit);
    let status = s.bank().confirmation_status(id, s.clock(), wait).await?;
    Ok(counted(s, status))
}

/// Counts a request in the final states' metric when the call that gave `state` made it
/// final: the one place an answer, a status read's expiry or a cancel is counted.
fn count_final(s: &AppState, changed: bool, state: ConfirmationState) {
    if changed {
        s.metrics().confirmation_final(state);
    }
}

/// `status`, counted (see [`count_final`]).
pub(super) fn counted(s: &AppState, status: ConfirmationStatus) -> ConfirmationStatus {
    count_final(s, status.changed, status.state);
    status
}

/// A request's state; with `wait`, held until it changes or `wait` seconds pass (long poll).
#[utoipa::path(get, operation_id = "confirmation_status", path = "/v1/admin/confirmations/{id}", tag = "confirmations", security(("bearer" = [])),
    params(Request, WaitQuery),
    responses(
        (status = 200, description = "Its state.", body = ConfirmationStatus),
        (status = 404, description = "`unknown_confirmation`.", body = ApiErrorBody),
    ))]
async fn admin_status(
    State(s): State<AppState>,
    _confirmer: Confirmer,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<WaitQuery>, QueryRejection>,
) -> Result<impl IntoResponse> {
    let id = confirmation_id(path)?;
    Ok(Json(waited_status(&s, &id, query).await?))
}

/// Cancels a pending request (the customer left the page).
#[utoipa::path(post, operation_id = "confirmation_cancel", path = "/v1/admin/confirmations/{id}/cancel", tag = "confirmations", security(("bearer" = [])),
    params(Request),
    responses(
        (status = 200, description = "Its state after: `cancelled`, or the final state it had.", body = ConfirmationStatus),
        (status = 404, description = "`unknown_confirmation`.", body = ApiErrorBody),
    ))]
async fn admin_cancel(
    State(s): State<AppState>,
    confirmer: Confirmer,
    ClientIp(ip): ClientIp,
    path: Result<Path<String>, PathRejection>,
) -> Result<impl IntoResponse> {
    let id = confirmation_id(path)?;
    let status = s.bank().cancel_confirmation(&actor(&confirmer, ip), &id, s.now()).await?;
    Ok(Json(counted(&s, status)))
}

/// The answer of `POST /v1/admin/confirmations/offline`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct OfflineAnswer {
    valid: bool,
}

/// Checks the offline confirmation code the customer read off the app (confirmation.md §8).
#[utoipa::path(post, operation_id = "confirmation_offline", path = "/v1/admin/confirmations/offline", tag = "confirmations", security(("bearer" = [])),
    request_body = OfflineCheck,
    responses(
        (status = 200, description = "Whether the code is valid for these details.", body = OfflineAnswer),
        (status = 404, description = "`unknown_registration`.", body = ApiErrorBody),
        (status = 409, description = "`not_delivered`.", body = ApiErrorBody),
        (status = 410, description = "`ended`.", body = ApiErrorBody),
    ))]
async fn admin_offline(
    State(s): State<AppState>,
    _confirmer: Confirmer,
    body: Result<ApiJson<OfflineCheck>, Error>,
) -> Result<impl IntoResponse> {
    let ApiJson(check) = body?;
    let outcome = s.bank().check_offline_code(&check, s.now()).await?;
    Ok(Json(OfflineAnswer { valid: outcome.valid }))
}

#[cfg(test)]
mod tests {
    use softtoken_core::confirm::ConfirmationState;

    use crate::error::Error;

    const DOC: &str = include_str!("../../../../docs/confirmation.md");

    #[test]
    fn every_error_code_and_state_of_the_confirmation_endpoints_is_documented_with_its_status() {
        let table = DOC
            .split("<!-- confirm-codes:begin -->")
            .nth(1)
            .and_then(|rest| rest.split("<!-- confirm-codes:end -->").next())
            .unwrap_or_default();
        for e in [
            Error::InvalidRequest(String::new()),
            Error::ClockSkew { server_time: 0 },
            Error::NotAuthenticated,
            Error::Unauthorized,
            Error::UnknownRegistration,
            Error::UnknownConfirmation,
            Error::NotDelivered,
            Error::TooManyPending { max: 5 },
            Error::Ended,
            Error::BodyTooLarge { limit: 0 },
            Error::RateLimited { retry_after: 1 },
            Error::Internal(""),
            Error::Unavailable,
        ] {
            let row = format!("| `{}` | {} |", e.code(), e.status().as_u16());
            assert!(table.contains(&row), "confirmation.md §9.4 lacks the row starting {row}");
        }
        let section = DOC.split("## 9. Endpoints").nth(1).unwrap_or_default();
        for state in [
            ConfirmationState::Pending,
            ConfirmationState::Approved,
            ConfirmationState::Denied,
            ConfirmationState::WrongNumber,
            ConfirmationState::Expired,
            ConfirmationState::Cancelled,
        ] {
            let name = format!("`{}`", state.as_str());
            assert!(section.contains(&name), "confirmation.md §9 does not name the state {name}");
        }
    }
}
