//! The phone move's endpoints (`docs/protocol.md` §4.5): the old phone's start, status and
//! cancel on the public listener, authenticated by the token's key and throttled as the
//! confirmation endpoints are (same buckets); the bank's list and cancel on the admin listener,
//! behind a clerk's credential.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use softtoken_core::confirm::phone_move::{
    MoveQuery, StartMoveRequest, PATH_MOVE_CANCEL, PATH_MOVE_START, PATH_MOVE_STATUS,
};

use super::admin::ids;
use super::confirm::throttled;
use super::extract::{ApiJson, Clerk, ClientIp};
use super::state::AppState;
use crate::bank::Actor;
use crate::error::{Error, Result};
use crate::storage::StoredMove;

/// The old phone's routes, for the public listener.
pub(super) fn public_routes() -> Router<AppState> {
    Router::new()
        .route(PATH_MOVE_START, post(move_start))
        .route(PATH_MOVE_STATUS, post(move_status))
        .route(PATH_MOVE_CANCEL, post(move_cancel))
}

/// The bank's routes, for the admin listener.
pub(super) fn admin_routes() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/moves", get(admin_moves))
        .route("/v1/admin/moves/{move_id}/cancel", post(admin_cancel))
}

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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Customer {
    service_id: String,
    user_id: String,
}

/// The admin list's answer.
#[derive(Debug, Serialize)]
struct Moves {
    moves: Vec<StoredMove>,
}

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
