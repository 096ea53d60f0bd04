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
//! the demo bank's pages and reset (`demo/`), the OpenAPI document both listeners serve at
//! `/openapi.json` (`openapi.rs`).

mod admin;
mod confirm;
pub(crate) mod demo;
pub(crate) mod extract;
mod moves;
pub mod openapi;
mod public;
pub mod refusals;
mod state;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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
    let (router, doc) = public_api().split_for_parts();
    // The demo reset and the demo bank's pages, on the address the visitor's browser and app
    // use; the pages only when the server runs in demo mode. A demo's, not a bank's API: not in
    // the document.
    let router = router.merge(demo::routes(&state));
    finish(served(router, &openapi::complete(doc)), state)
}

/// The public listener's documented routes.
fn public_api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(healthz))
        .routes(routes!(livez))
        .merge(public::routes())
        .merge(confirm::public_routes())
        .merge(moves::public_routes())
}

/// The bank's own API, for the admin listener: `/metrics` and `/v1/admin/*`. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()` so failed bearers are throttled per
/// address.
pub fn admin_app(state: AppState) -> Router {
    let (router, _) = admin_api().split_for_parts();
    finish(served(router, &openapi_document()), state)
}

/// Every documented route: the admin listener's and the app's. The admin listener serves the
/// whole document, so the bank's developers read one document for both.
fn admin_api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(healthz))
        .routes(routes!(livez))
        .merge(admin::routes())
        .merge(confirm::admin_routes())
        .merge(moves::admin_routes())
}

/// The whole OpenAPI document, as the admin listener serves it at `/openapi.json` and
/// `docs/openapi.json` holds it.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let mut whole = admin_api().into_openapi();
    whole.merge(public_api().into_openapi());
    openapi::complete(whole)
}

/// Adds `GET /openapi.json`, serving `doc`.
fn served(router: Router<AppState>, doc: &utoipa::openapi::OpenApi) -> Router<AppState> {
    let text: Option<std::sync::Arc<str>> = openapi::render(doc).ok().map(Into::into);
    router.route(
        "/openapi.json",
        get(move || async move {
            match text {
                Some(t) => ([(CONTENT_TYPE, "application/json")], t.to_string()).into_response(),
                None => Error::Internal("the OpenAPI document does not serialize").into_response(),
            }
        }),
    )
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

/// The answer of the health checks.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Health {
    /// `ok` (readiness) or `alive` (liveness).
    status: &'static str,
}

/// Readiness: `200` while the storage answers, `503 unavailable` (with `Retry-After`) while it
/// does not, so a load balancer stops sending customers to an instance that could only refuse
/// them. A storage failure of any kind is "not ready", never a 500.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "The storage answers.", body = Health)))]
async fn healthz(State(s): State<AppState>) -> Result<Json<Health>, Error> {
    match s.bank().ready().await {
        Ok(()) => Ok(Json(Health { status: "ok" })),
        Err(e) => {
            tracing::warn!(event = "not_ready", error = %e, "the storage does not answer");
            Err(Error::Unavailable)
        }
    }
}

/// Liveness: `200` while the process serves HTTP at all, whatever the storage does, so an
/// orchestrator restarts only an instance that is stuck, not every instance when the database
/// is down.
#[utoipa::path(get, path = "/livez", tag = "health",
    responses((status = 200, description = "The process serves HTTP.", body = Health)))]
async fn livez() -> Json<Health> {
    Json(Health { status: "alive" })
}
