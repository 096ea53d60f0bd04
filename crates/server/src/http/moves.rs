//! The phone move's endpoints (`docs/protocol.md` §4.5): the old phone's start, status and
//! cancel on the public listener, authenticated by the token's key and throttled as the
//! confirmation endpoints are (same buckets); the bank's list and cancel on the admin listener,
//! behind a clerk's credential.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use softtoken_core::confirm::phone_move::{
    MoveQuery, StartMoveRequest, PATH_MOVE_CANCEL, PATH_MOVE_START, PATH_MOVE_STATUS,
};

use softtoken_core::confirm::phone_move::{MoveStarted, MoveStatusResponse};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::admin::ids;
use super::confirm::throttled;
use super::extract::{ApiJson, Clerk, ClientIp};
use super::state::AppState;
use crate::bank::Actor;
use crate::error::{ApiErrorBody, Error, Result};
use crate::storage::StoredMove;

/// The old phone's routes, for the public listener.
pub(super) fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(move_start))
        .routes(routes!(move_status))
        .routes(routes!(move_cancel))
}

/// The bank's routes, for the admin listener.
pub(super) fn admin_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(admin_moves)).routes(routes!(admin_cancel))
}

#[utoipa::path(post, path = PATH_MOVE_START, tag = "registrations", request_body = StartMoveRequest,
    responses(
        (status = 200, description = "The move is prepared: the new registration's user ID.", body = MoveStarted),
        (status = 400, description = "`invalid_request`, `clock_skew` (with `server_time`) or `weak_activation_password` (with `reason`).", body = ApiErrorBody),
        (status = 401, description = "`not_authenticated`.", body = ApiErrorBody),
        (status = 403, description = "`moves_not_offered`: the bank turned the fast path off.", body = ApiErrorBody),
        (status = 410, description = "`ended`; with `move_receipt` when it ended by a move.", body = ApiErrorBody),
        (status = 429, description = "`rate_limited`; `retry_after`.", body = ApiErrorBody),
    ))]
async fn move_start(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Result<ApiJson<StartMoveRequest>, Error>,
) -> Result<impl IntoResponse> {
    let actor = Actor::Token(ip);
    let started = throttled(
        &s,
        ip,
        body,
        |b| (&b.service_id, &b.user_id),
        |b| {
            let s = s.clone();
            async move { s.bank().start_move(&actor, &b, s.now()).await }
        },
    )
    .await?;
    Ok(Json(started))
}

#[utoipa::path(post, path = PATH_MOVE_STATUS, tag = "registrations", request_body = MoveQuery,
    responses(
        (status = 200, description = "The latest move's state.", body = MoveStatusResponse),
        (status = 400, description = "`invalid_request` or `clock_skew` (with `server_time`).", body = ApiErrorBody),
        (status = 401, description = "`not_authenticated`.", body = ApiErrorBody),
        (status = 410, description = "`ended`; with `move_receipt` when it ended by a move.", body = ApiErrorBody),
        (status = 429, description = "`rate_limited`; `retry_after`.", body = ApiErrorBody),
    ))]
async fn move_status(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Result<ApiJson<MoveQuery>, Error>,
) -> Result<impl IntoResponse> {
    let status = throttled(
        &s,
        ip,
        body,
        |b| (&b.service_id, &b.user_id),
        |b| {
            let s = s.clone();
            async move { s.bank().move_status(&b, s.now()).await }
        },
    )
    .await?;
    Ok(Json(status))
}

#[utoipa::path(post, path = PATH_MOVE_CANCEL, tag = "registrations", request_body = MoveQuery,
    responses(
        (status = 200, description = "Cancelled: the old token keeps working.", body = MoveStatusResponse),
        (status = 400, description = "`invalid_request` or `clock_skew` (with `server_time`).", body = ApiErrorBody),
        (status = 401, description = "`not_authenticated`.", body = ApiErrorBody),
        (status = 409, description = "`no_pending_move`.", body = ApiErrorBody),
        (status = 410, description = "`ended`; with `move_receipt` when it ended by a move.", body = ApiErrorBody),
        (status = 429, description = "`rate_limited`; `retry_after`.", body = ApiErrorBody),
    ))]
async fn move_cancel(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Result<ApiJson<MoveQuery>, Error>,
) -> Result<impl IntoResponse> {
    let actor = Actor::Token(ip);
    let cancelled = throttled(
        &s,
        ip,
        body,
        |b| (&b.service_id, &b.user_id),
        |b| {
            let s = s.clone();
            async move { s.bank().cancel_move_by_token(&actor, &b, s.now()).await }
        },
    )
    .await?;
    Ok(Json(cancelled))
}

/// `?service_id=&user_id=`: the customer whose moves to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Customer {
    service_id: String,
    user_id: String,
}

/// The admin list's answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Moves {
    moves: Vec<StoredMove>,
}

#[utoipa::path(get, operation_id = "moves_list", path = "/v1/admin/moves", tag = "moves", security(("bearer" = [])),
    params(Customer),
    responses(
        (status = 200, description = "The customer's moves, newest first.", body = Moves),
        (status = 400, description = "`invalid_request`: the customer's IDs are missing or malformed.", body = ApiErrorBody),
    ))]
async fn admin_moves(
    State(s): State<AppState>,
    _clerk: Clerk,
    query: Result<Query<Customer>, QueryRejection>,
) -> Result<impl IntoResponse> {
    let Query(c) = query.map_err(|_| {
        Error::InvalidRequest("name the customer with ?service_id=…&user_id=…".into())
    })?;
    let (service, user) = ids(&c.service_id, &c.user_id)?;
    let moves = s.bank().moves_of(&service, &user, s.now()).await?;
    Ok(Json(Moves { moves }))
}

#[utoipa::path(post, operation_id = "move_cancel_by_bank", path = "/v1/admin/moves/{move_id}/cancel", tag = "moves", security(("bearer" = [])),
    params(("move_id" = String, Path, description = "The move, as `move list` or the list shows it.")),
    responses(
        (status = 200, description = "Cancelled: the prepared registration ended, the old token keeps working.", body = MoveStatusResponse),
        (status = 404, description = "`not_found`: no such move.", body = ApiErrorBody),
        (status = 409, description = "`no_pending_move`: it is no longer pending.", body = ApiErrorBody),
    ))]
async fn admin_cancel(
    State(s): State<AppState>,
    clerk: Clerk,
    path: Result<Path<String>, PathRejection>,
) -> Result<impl IntoResponse> {
    let Path(id) = path.map_err(|_| Error::InvalidRequest("the path must name a move".into()))?;
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::InvalidRequest("a move ID is 32 hex digits".into()));
    }
    let cancelled = s.bank().cancel_move_by_bank(&clerk.actor(), &id, s.now()).await?;
    Ok(Json(cancelled))
}
