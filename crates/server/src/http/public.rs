//! The app's provisioning endpoints (`/v1/provision/*`), each throttled per address: every
//! failure a guesser produces takes a token, and so does every start.

use std::net::IpAddr;
use std::time::Instant;

use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use softtoken_core::protocol::wire::{
    AckRequest, AckResponse, ConfirmRequest, ConfirmResponse, StartRequest, StartResponse,
    PATH_ACK, PATH_CONFIRM, PATH_START,
};

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiJson, ClientIp};
use super::state::AppState;
use crate::error::{ApiErrorBody, Error, Result};
use crate::metrics::Step;

/// The provisioning routes.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(provision_start))
        .routes(routes!(provision_confirm))
        .routes(routes!(provision_ack))
}

/// Failures that count against the rate limit: everything a guesser produces.
fn counts_as_failure(e: &Error) -> bool {
    matches!(
        e,
        Error::WrongActivationPassword { .. }
            | Error::Locked(_)
            | Error::UnknownRegistration
            | Error::UnknownAttempt
            | Error::InvalidRequest(_)
            | Error::BodyTooLarge { .. }
    )
}

async fn provision<T: Serialize>(
    s: &AppState,
    ip: Option<IpAddr>,
    step: Step,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<Json<T>> {
    let now = Instant::now();
    // Callers without a known address share one bucket (unspecified address).
    let ip = ip.unwrap_or(IpAddr::from([0, 0, 0, 0]));
    // The token is taken before the work, so concurrent guesses cannot share the last one.
    let reservation = match s.limiter().reserve(ip, now) {
        Ok(reservation) => reservation,
        Err(limited) => {
            s.metrics().rate_limited(limited.scope);
            if s.log_refusal("provision_rate_limited") {
                tracing::warn!(
                    event = "provision_rate_limited",
                    scope = limited.scope.as_str(),
                    client = %ip,
                    retry_after = limited.retry_after,
                    "provisioning refused: too many failures"
                );
            }
            return Err(Error::RateLimited { retry_after: limited.retry_after });
        }
    };
    match work.await {
        Ok(v) => {
            s.metrics().provision_ok(step);
            Ok(Json(v))
        }
        Err(e) => {
            s.metrics().provision_failed(e.code());
            if counts_as_failure(&e) {
                reservation.failed();
                tracing::info!(event = "provision_failed", reason = e.code(), client = %ip,
                    "provisioning request failed");
            }
            Err(e)
        }
    }
}

/// Step 1 of the app's fetch: the SPAKE2 exchange starts (protocol.md §3.2).
#[utoipa::path(post, path = PATH_START, tag = "provisioning", request_body = StartRequest,
    responses(
        (status = 200, description = "The attempt, the bank's nonce and SPAKE2 message.", body = StartResponse),
        (status = 404, description = "`unknown_registration`.", body = ApiErrorBody),
        (status = 409, description = "`already_delivered`: the token is already in an app.", body = ApiErrorBody),
        (status = 410, description = "`expired` or `ended`: the bank must issue again.", body = ApiErrorBody),
        (status = 423, description = "`locked`: too many wrong activation passwords.", body = ApiErrorBody),
        (status = 429, description = "`rate_limited`: too many starts or failures from this address; `retry_after`.", body = ApiErrorBody),
    ))]
async fn provision_start(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Result<ApiJson<StartRequest>, Error>,
) -> Result<impl IntoResponse> {
    // Every start counts, right or wrong: a customer needs a few, a flood needs thousands.
    let caller = ip.unwrap_or(IpAddr::from([0, 0, 0, 0]));
    match s.start_limiter().reserve(caller, Instant::now()) {
        Ok(start) => start.failed(),
        Err(limited) => {
            s.metrics().rate_limited(limited.scope);
            if s.log_refusal("provision_rate_limited") {
                tracing::warn!(event = "provision_rate_limited", scope = "starts",
                    client = %caller, retry_after = limited.retry_after,
                    "provisioning refused: too many starts");
            }
            return Err(Error::RateLimited { retry_after: limited.retry_after });
        }
    }
    provision(&s, ip, Step::Started, async {
        let ApiJson(req) = body?;
        s.bank().start(&req, s.now()).await
    })
    .await
}

/// Step 2: the app proves it knows the activation password; the bank answers with the token.
#[utoipa::path(post, path = PATH_CONFIRM, tag = "provisioning", request_body = ConfirmRequest,
    responses(
        (status = 200, description = "The bank's proof, the token's parameters and the bank's clock.", body = ConfirmResponse),
        (status = 401, description = "`wrong_activation_password`; `tries_left`.", body = ApiErrorBody),
        (status = 404, description = "`unknown_attempt` or `unknown_registration`.", body = ApiErrorBody),
        (status = 409, description = "`already_delivered`.", body = ApiErrorBody),
        (status = 410, description = "`attempt_expired`, `expired` or `ended`.", body = ApiErrorBody),
        (status = 423, description = "`locked`.", body = ApiErrorBody),
        (status = 429, description = "`rate_limited`; `retry_after`.", body = ApiErrorBody),
    ))]
async fn provision_confirm(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Result<ApiJson<ConfirmRequest>, Error>,
) -> Result<impl IntoResponse> {
    provision(&s, ip, Step::Confirmed, async {
        let ApiJson(req) = body?;
        s.bank().confirm(&req, s.now()).await
    })
    .await
}

/// Step 3: the app says it stored the token (the registration becomes delivered).
#[utoipa::path(post, path = PATH_ACK, tag = "provisioning", request_body = AckRequest,
    responses(
        (status = 200, description = "The bank recorded the delivery.", body = AckResponse),
        (status = 404, description = "`unknown_attempt` or `unknown_registration`.", body = ApiErrorBody),
        (status = 409, description = "`superseded` or `already_delivered`.", body = ApiErrorBody),
        (status = 410, description = "`attempt_expired`, `expired` or `ended`.", body = ApiErrorBody),
        (status = 429, description = "`rate_limited`; `retry_after`.", body = ApiErrorBody),
    ))]
async fn provision_ack(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Result<ApiJson<AckRequest>, Error>,
) -> Result<impl IntoResponse> {
    provision(&s, ip, Step::Delivered, async {
        let ApiJson(req) = body?;
        s.bank().ack(&req, s.now()).await
    })
    .await
}
