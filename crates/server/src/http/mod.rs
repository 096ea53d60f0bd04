//! The HTTP shell: routes, extractors and the mapping of [`Bank`](crate::bank::Bank) results
//! to responses. The top of the server: nothing below imports it.
//!
//! Two routers for two listeners. [`public_app`], on the address the apps reach, has only the
//! app-facing endpoints (`/v1/provision/*`, `/v1/confirmations/*`, `/v1/demo/reset`,
//! `/healthz` (readiness), `/livez` (liveness)), which carry no admin power. [`admin_app`], on an address of the bank's own network (loopback by default),
//! has `/healthz`, `/livez`, `/metrics` and every `/v1/admin/*` endpoint, each but the health
//! checks behind a
//! named credential whose scope grants it (`crate::credential::Scope`): a stolen web tier
//! credential (scope `verify` or `transactions`) can check codes or run confirmations but never
//! revoke or re-issue. A valid credential is checked first and never throttled; wrong bearers
//! are throttled per socket address and per claimed name (`extract.rs`). Every refusal is an error body with a stable `code` (see
//! [`crate::error`]); malformed input is a 4xx, never a 500.
//!
//! One room each: the state every handler shares (`state.rs`), the extractors of bodies,
//! callers and bearers (`extract.rs`), the provisioning endpoints (`public.rs`), the admin
//! endpoints (`admin.rs`), the confirmation endpoints of both listeners (`confirm.rs`), and
//! the demo bank's pages and reset (`demo/`).

mod admin;
mod confirm;
pub(crate) mod demo;
pub(crate) mod extract;
mod moves;
mod public;
mod state;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::error::Error;

pub use crate::config::HttpOptions;
pub use crate::credential::{AdminToken, ADMIN_TOKEN_MIN_LEN};
#[cfg(feature = "fuzzing")]
pub(crate) use admin::{ids, IssueBody, OutboxQuery, ResyncBody, VerifyBody};
pub use extract::{
    client_address, Admin, ApiJson, Caller, Clerk, ClientIp, Confirmer, MetricsReader, Verifier,
};
pub use state::AppState;

/// The app-facing API, for the public listener. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()` so the rate limiter and the demo
/// reset see the caller's address.
pub fn public_app(state: AppState) -> Router {
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/livez", get(livez))
        .merge(public::routes())
        .merge(confirm::public_routes())
        .merge(moves::public_routes())
        // The demo reset and the demo bank's pages, on the address the visitor's browser and
        // app use; the pages only when the server runs in demo mode.
        .merge(demo::routes(&state));
    finish(router, state)
}

/// The bank's own API, for the admin listener: `/metrics` and `/v1/admin/*`. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()` so failed bearers are throttled per
/// address.
pub fn admin_app(state: AppState) -> Router {
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/livez", get(livez))
        .merge(admin::routes())
        .merge(confirm::admin_routes())
        .merge(moves::admin_routes());
    finish(router, state)
}

/// What both routers share: JSON errors for unknown paths and methods, the body limit and the
/// request deadline.
fn finish(router: Router<AppState>, state: AppState) -> Router {
    let body_limit = state.opts().body_limit;
    router
        .fallback(|| async { Error::NotFound })
        .method_not_allowed_fallback(|| async { Error::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(state.clone(), request_deadline))
        .with_state(state)
}

/// Answers `408 request_timeout` when reading the body and answering take longer than
/// [`crate::edge::EdgeLimits::request_timeout`] (a slow POST holds nothing longer than that).
async fn request_deadline(
    State(s): State<AppState>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    match tokio::time::timeout(s.opts().edge.request_timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::info!(event = "request_timeout", "request took too long; closing");
            Error::RequestTimeout.into_response()
        }
    }
}

/// Readiness: `200` while the storage answers, `503 unavailable` (with `Retry-After`) while it
/// does not, so a load balancer stops sending customers to an instance that could only refuse
/// them. A storage failure of any kind is "not ready", never a 500.
async fn healthz(State(s): State<AppState>) -> Result<Json<serde_json::Value>, Error> {
    match s.bank().ready().await {
        Ok(()) => Ok(Json(serde_json::json!({ "status": "ok" }))),
        Err(e) => {
            tracing::warn!(event = "not_ready", error = %e, "the storage does not answer");
            Err(Error::Unavailable)
        }
    }
}

/// Liveness: `200` while the process serves HTTP at all, whatever the storage does, so an
/// orchestrator restarts only an instance that is stuck, not every instance when the database
/// is down.
async fn livez() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "alive" }))
}
