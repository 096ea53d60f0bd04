//! The HTTP shell: routes, extractors and the mapping of [`Bank`] results to responses.
//!
//! App-facing endpoints (`/v1/provision/*`, `/v1/demo/reset`) carry no admin power; every
//! `/v1/admin/*` endpoint needs the bank's bearer token. Every refusal is an error body with a
//! stable `code` (see [`crate::error`]); malformed input is a 4xx, never a 500.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::PathRejection;
use axum::extract::{
    ConnectInfo, DefaultBodyLimit, FromRequest, FromRequestParts, Path, Query, Request, State,
};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use softtoken_core::ids::{ActivationPassword, ServiceId, UserId};
use softtoken_core::protocol::wire::{
    AckRequest, ConfirmRequest, StartRequest, PATH_ACK, PATH_CONFIRM, PATH_START,
};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::bank::{Bank, IssueRequest};
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::metrics::{Metrics, Step, VerifyResult};
use crate::ratelimit::{RateLimiter, RateLimits};

/// The bank's admin credential. Compared in constant time (as SHA-256 digests, so not even
/// its length leaks); never printed.
#[derive(Clone)]
pub struct AdminToken(Arc<[u8; 32]>);

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

/// Shortest admin token accepted, in characters.
pub const ADMIN_TOKEN_MIN_LEN: usize = 16;

impl AdminToken {
    /// A token from configuration.
    ///
    /// # Errors
    /// [`Error::Config`] when it is shorter than [`ADMIN_TOKEN_MIN_LEN`] or has whitespace.
    pub fn new(token: &str) -> Result<Self> {
        let token = token.trim();
        if token.len() < ADMIN_TOKEN_MIN_LEN || token.chars().any(char::is_whitespace) {
            return Err(Error::Config(format!(
                "the admin token must be at least {ADMIN_TOKEN_MIN_LEN} characters without spaces"
            )));
        }
        Ok(Self(Arc::new(Sha256::digest(token.as_bytes()).into())))
    }

    fn matches(&self, presented: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        digest.ct_eq(&*self.0).into()
    }
}

/// HTTP-level settings.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// The admin credential; `None` disables the admin API.
    pub admin_token: Option<AdminToken>,
    /// Failure rate limits of provisioning.
    pub rate_limits: RateLimits,
    /// Take the client address from the last `X-Forwarded-For` entry (only behind a
    /// TLS-terminating proxy that sets it).
    pub trust_forwarded_for: bool,
    /// Largest accepted body, in bytes.
    pub body_limit: usize,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            admin_token: None,
            rate_limits: RateLimits::default(),
            trust_forwarded_for: false,
            body_limit: 16 * 1024,
        }
    }
}

struct Shared {
    bank: Arc<Bank>,
    clock: Arc<dyn Clock>,
    opts: HttpOptions,
    limiter: RateLimiter,
    metrics: Metrics,
}

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// State over a bank and a clock.
    pub fn new(bank: Arc<Bank>, clock: Arc<dyn Clock>, opts: HttpOptions) -> Self {
        let limiter = RateLimiter::new(opts.rate_limits, Instant::now());
        Self(Arc::new(Shared { bank, clock, opts, limiter, metrics: Metrics::default() }))
    }

    /// The bank.
    pub fn bank(&self) -> &Arc<Bank> {
        &self.0.bank
    }

    /// The counters.
    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    pub(crate) fn now(&self) -> u64 {
        self.0.clock.now()
    }
}

/// The whole HTTP API. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()` so the rate limiter and the demo
/// reset see the caller's address.
pub fn app(state: AppState) -> Router {
    let body_limit = state.0.opts.body_limit;
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route(PATH_START, post(provision_start))
        .route(PATH_CONFIRM, post(provision_confirm))
        .route(PATH_ACK, post(provision_ack))
        .route("/v1/demo/reset", post(demo_reset))
        .route("/v1/admin/registrations", post(admin_issue))
        .route("/v1/admin/registrations/{service_id}/{user_id}", get(admin_status))
        .route("/v1/admin/registrations/{service_id}/{user_id}/revoke", post(admin_revoke))
        .route("/v1/admin/registrations/{service_id}/{user_id}/unlock", post(admin_unlock))
        .route("/v1/admin/verify", post(admin_verify))
        .route("/v1/admin/outbox", get(admin_outbox))
        .merge(crate::demo_web::routes(&state))
        .fallback(|| async { Error::NotFound })
        .method_not_allowed_fallback(|| async { Error::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// A JSON body whose every failure is an [`Error`] (400/413), never axum's plain-text
/// rejection.
pub struct ApiJson<T>(pub T);

/// Serde's own messages quote offending values in backticks; a value may be a secret (an
/// activation password sent as a number), so those messages are replaced.
fn safe_json_message(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    let keep = msg.starts_with("unknown field")
        || msg.starts_with("missing field")
        || msg.starts_with("duplicate field")
        || !msg.contains('`');
    if keep {
        msg
    } else {
        format!("a field has the wrong type or value at line {} column {}", e.line(), e.column())
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Err(Error::InvalidRequest(
                "send the body as Content-Type: application/json".into(),
            ));
        }
        let limit = state.0.opts.body_limit;
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Error::BodyTooLarge { limit }
            } else {
                Error::InvalidRequest("the request body could not be read".into())
            }
        })?;
        serde_json::from_slice(&bytes).map(ApiJson).map_err(|e| {
            Error::InvalidRequest(match e.classify() {
                serde_json::error::Category::Data => safe_json_message(&e),
                _ => {
                    format!("the body is not valid JSON (line {} column {})", e.line(), e.column())
                }
            })
        })
    }
}

/// The caller's address: the socket peer, or behind a trusted proxy the last
/// `X-Forwarded-For` entry. `None` when unknown (a router called without connect info).
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let peer = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
            .await
            .ok()
            .map(|ConnectInfo(a)| a.ip());
        if state.0.opts.trust_forwarded_for {
            // The proxy appends the address it saw; earlier entries are the client's word.
            let forwarded = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|s| s.trim().parse::<IpAddr>().ok())
                .next_back();
            if forwarded.is_some() {
                return Ok(Self(forwarded));
            }
        }
        Ok(Self(peer))
    }
}

/// Proof that the caller holds the bank's admin token.
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let Some(token) = &state.0.opts.admin_token else { return Err(Error::Unauthorized) };
        let presented = bearer(&parts.headers).ok_or(Error::Unauthorized)?;
        if token.matches(presented) {
            Ok(Admin)
        } else {
            tracing::warn!(event = "admin_unauthorized", path = %parts.uri.path(), "wrong admin token");
            Err(Error::Unauthorized)
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn metrics(State(s): State<AppState>) -> Response {
    ([(CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], s.metrics().render()).into_response()
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
    let reservation = match s.0.limiter.reserve(ip, now) {
        Ok(reservation) => reservation,
        Err(limited) => {
            s.metrics().rate_limited(limited.scope);
            tracing::warn!(
                event = "provision_rate_limited",
                scope = limited.scope.as_str(),
                client = %ip,
                retry_after = limited.retry_after,
                "provisioning refused: too many failures"
            );
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

async fn provision_start(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Result<ApiJson<StartRequest>, Error>,
) -> Result<impl IntoResponse> {
    provision(&s, ip, Step::Started, async {
        let ApiJson(req) = body?;
        s.bank().start(&req, s.now()).await
    })
    .await
}

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

/// The demo reset's body, `{}` sent as `application/json`. Requiring it makes the reset a
/// request that browsers preflight, and this server answers no preflight: a web page open in a
/// kiosk's browser cannot reset the demo cross-origin (a form or `no-cors` fetch is refused).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoResetRequest {}

async fn demo_reset(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Result<ApiJson<DemoResetRequest>, Error>,
) -> Result<impl IntoResponse> {
    if !ip.is_some_and(|ip| ip.is_loopback() || is_mapped_loopback(ip)) {
        return Err(Error::Forbidden("the demo reset is accepted from this computer only"));
    }
    let ApiJson(DemoResetRequest {}) = body?;
    let fresh = s.bank().rearm_demo(s.now()).await?;
    let status = s.bank().status(&fresh.service_id, &fresh.user_id, s.now()).await?;
    Ok(Json(status))
}

fn is_mapped_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        IpAddr::V4(_) => false,
    }
}

/// A secret string from JSON: zeroized on drop, never printed.
pub(crate) struct SecretString(pub(crate) Zeroizing<String>);

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(d).map(|s| SecretString(Zeroizing::new(s)))
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// `POST /v1/admin/registrations`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueBody {
    service_id: String,
    #[serde(default)]
    user_id: Option<String>,
    mail: String,
    activation_password: SecretString,
    #[serde(default)]
    expires_in_days: Option<u32>,
}

fn ids(service: &str, user: &str) -> Result<(ServiceId, UserId)> {
    Ok((ServiceId::new(service)?, UserId::new(user)?))
}

fn pair(path: Result<Path<(String, String)>, PathRejection>) -> Result<(ServiceId, UserId)> {
    let Path((service, user)) = path.map_err(|_| {
        Error::InvalidRequest("the path must name a service ID and a user ID".into())
    })?;
    ids(&service, &user)
}

async fn admin_issue(
    State(s): State<AppState>,
    _admin: Admin,
    body: Result<ApiJson<IssueBody>, Error>,
) -> Result<impl IntoResponse> {
    let ApiJson(body) = body?;
    let password = ActivationPassword::new(&body.activation_password.0)?;
    let req = IssueRequest {
        service_id: ServiceId::new(&body.service_id)?,
        user_id: body.user_id.as_deref().map(UserId::new).transpose()?,
        mail: body.mail,
        password,
        expires_in_secs: body.expires_in_days.map(|d| u64::from(d) * 24 * 3600),
    };
    let status = s.bank().issue(req, s.now()).await?;
    s.metrics().issued();
    Ok((StatusCode::CREATED, Json(status)))
}

async fn admin_status(
    State(s): State<AppState>,
    _admin: Admin,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<impl IntoResponse> {
    let (service, user) = pair(path)?;
    Ok(Json(s.bank().status(&service, &user, s.now()).await?))
}

async fn admin_revoke(
    State(s): State<AppState>,
    _admin: Admin,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<impl IntoResponse> {
    let (service, user) = pair(path)?;
    let status = s.bank().revoke(&service, &user, s.now()).await?;
    s.metrics().ended();
    Ok(Json(status))
}

async fn admin_unlock(
    State(s): State<AppState>,
    _admin: Admin,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<impl IntoResponse> {
    let (service, user) = pair(path)?;
    Ok(Json(s.bank().unlock(&service, &user, s.now()).await?))
}

/// `POST /v1/admin/verify`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyBody {
    service_id: String,
    user_id: String,
    code: String,
}

async fn admin_verify(
    State(s): State<AppState>,
    _admin: Admin,
    body: Result<ApiJson<VerifyBody>, Error>,
) -> Result<impl IntoResponse> {
    let result = async {
        let ApiJson(body) = body?;
        let (service, user) = ids(&body.service_id, &body.user_id)?;
        // Customers copy the grouped form ("123 456") the app shows.
        let code: String = body.code.chars().filter(|c| *c != ' ' && *c != '-').collect();
        s.bank().verify(&service, &user, &code, s.now()).await
    }
    .await;
    s.metrics().verified(match &result {
        Ok(o) if o.accepted => VerifyResult::Accepted,
        Ok(_) | Err(Error::Locked(_)) => VerifyResult::Rejected,
        Err(_) => VerifyResult::Refused,
    });
    result.map(Json)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutboxQuery {
    #[serde(default)]
    limit: Option<u32>,
}

async fn admin_outbox(
    State(s): State<AppState>,
    _admin: Admin,
    query: Result<Query<OutboxQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<impl IntoResponse> {
    let Query(q) = query.map_err(|e| Error::InvalidRequest(e.body_text()))?;
    Ok(Json(s.bank().outbox(q.limit.unwrap_or(20).min(1000)).await?))
}
