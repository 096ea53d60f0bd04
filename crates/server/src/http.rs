//! The HTTP shell: routes, extractors and the mapping of [`Bank`] results to responses.
//!
//! Two routers for two listeners. [`public_app`], on the address the apps reach, has only the
//! app-facing endpoints (`/v1/provision/*`, `/v1/demo/reset`, `/healthz`), which carry no
//! admin power. [`admin_app`], on an address of the bank's own network (loopback by default),
//! has `/metrics` and every `/v1/admin/*` endpoint: all need the bank's admin token, except
//! `/v1/admin/verify`, which the web tier may call with its verify-only token, so a stolen web
//! tier credential can check codes but never revoke or re-issue. Failed bearers are
//! throttled per address. Every refusal is an error body with a stable `code` (see
//! [`crate::error`]); malformed input is a 4xx, never a 500.

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
use ipnet::IpNet;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use softtoken_core::ids::{ActivationPassword, ServiceId, UserId};
use softtoken_core::protocol::wire::{
    AckRequest, ConfirmRequest, StartRequest, PATH_ACK, PATH_CONFIRM, PATH_START,
};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::bank::{audit_query, Actor, AdminAction, Bank, IssueRequest, Subject, MAX_AUDIT_PAGE};
use crate::clock::Clock;
use crate::edge::EdgeLimits;
use crate::error::{Error, Result};
use crate::metrics::{Metrics, Step, VerifyResult};
use crate::ratelimit::{RateLimiter, RateLimits};
use crate::storage::AuditEntry;

/// A bearer credential of the admin listener (the admin token, or the web tier's verify-only
/// token). Compared in constant time (as SHA-256 digests, so not even
/// its length leaks); never printed.
#[derive(Clone)]
pub struct AdminToken(Arc<[u8; 32]>);

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

impl PartialEq for AdminToken {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&*other.0).into()
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

    pub(crate) fn matches(&self, presented: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        digest.ct_eq(&*self.0).into()
    }
}

/// HTTP-level settings.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// The admin credential; `None` disables the admin API.
    pub admin_token: Option<AdminToken>,
    /// The web tier's credential: `/v1/admin/verify` only.
    pub verify_token: Option<AdminToken>,
    /// How many wrong bearers an address (and everyone) may present on the admin listener.
    pub bearer_limits: RateLimits,
    /// How many provisioning starts an address may make, right or wrong: each costs the bank
    /// a SPAKE2 computation and a stored attempt.
    pub start_limits: RateLimits,
    /// Failure rate limits of provisioning.
    pub rate_limits: RateLimits,
    /// Networks of the proxies whose `X-Forwarded-For` is believed. Empty: the header is
    /// ignored and the socket peer is the client.
    pub trusted_proxies: Vec<IpNet>,
    /// Largest accepted body, in bytes.
    pub body_limit: usize,
    /// Timeouts and connection caps of the listener.
    pub edge: EdgeLimits,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            admin_token: None,
            verify_token: None,
            bearer_limits: RateLimits {
                per_address_burst: 10,
                per_address_per_minute: 5,
                total_burst: 100,
                total_per_minute: 60,
            },
            rate_limits: RateLimits::default(),
            start_limits: RateLimits {
                per_address_burst: 20,
                per_address_per_minute: 10,
                total_burst: 100_000,
                total_per_minute: 100_000,
            },
            trusted_proxies: Vec::new(),
            body_limit: 16 * 1024,
            edge: EdgeLimits::default(),
        }
    }
}

struct Shared {
    bank: Arc<Bank>,
    clock: Arc<dyn Clock>,
    opts: HttpOptions,
    limiter: RateLimiter,
    bearer_limiter: RateLimiter,
    start_limiter: RateLimiter,
    metrics: Metrics,
}

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// State over a bank and a clock.
    pub fn new(bank: Arc<Bank>, clock: Arc<dyn Clock>, opts: HttpOptions) -> Self {
        let limiter = RateLimiter::new(opts.rate_limits, Instant::now());
        let bearer_limiter = RateLimiter::new(opts.bearer_limits, Instant::now());
        let start_limiter = RateLimiter::new(opts.start_limits, Instant::now());
        let metrics = Metrics::default();
        Self(Arc::new(Shared {
            bank,
            clock,
            opts,
            limiter,
            bearer_limiter,
            start_limiter,
            metrics,
        }))
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

/// The app-facing API, for the public listener. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()` so the rate limiter and the demo
/// reset see the caller's address.
pub fn public_app(state: AppState) -> Router {
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route(PATH_START, post(provision_start))
        .route(PATH_CONFIRM, post(provision_confirm))
        .route(PATH_ACK, post(provision_ack))
        .route("/v1/demo/reset", post(demo_reset))
        // The demo bank's pages, on the address the visitor's browser and app use; empty
        // unless the server runs in demo mode.
        .merge(crate::demo_web::routes(&state));
    finish(router, state)
}

/// The bank's own API, for the admin listener: `/metrics` and `/v1/admin/*`. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()` so failed bearers are throttled per
/// address.
pub fn admin_app(state: AppState) -> Router {
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/v1/admin/registrations", post(admin_issue))
        .route("/v1/admin/registrations/{service_id}/{user_id}", get(admin_status))
        .route("/v1/admin/registrations/{service_id}/{user_id}/revoke", post(admin_revoke))
        .route("/v1/admin/registrations/{service_id}/{user_id}/unlock", post(admin_unlock))
        .route("/v1/admin/verify", post(admin_verify))
        .route("/v1/admin/registrations/{service_id}/{user_id}/resync", post(admin_resync))
        .route("/v1/admin/outbox", get(admin_outbox))
        .route("/v1/admin/audit", get(admin_audit));
    finish(router, state)
}

/// What both routers share: JSON errors for unknown paths and methods, the body limit and the
/// request deadline.
fn finish(router: Router<AppState>, state: AppState) -> Router {
    let body_limit = state.0.opts.body_limit;
    router
        .fallback(|| async { Error::NotFound })
        .method_not_allowed_fallback(|| async { Error::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(state.clone(), request_deadline))
        .with_state(state)
}

/// Answers `408 request_timeout` when reading the body and answering take longer than
/// [`EdgeLimits::request_timeout`] (a slow POST holds nothing longer than that).
async fn request_deadline(
    State(s): State<AppState>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    match tokio::time::timeout(s.0.opts.edge.request_timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::info!(event = "request_timeout", "request took too long; closing");
            Error::RequestTimeout.into_response()
        }
    }
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
        parse_body(&bytes).map(ApiJson)
    }
}

/// A request body's bytes as the typed body `T`, or the 400 that says what is wrong: the one
/// path from a client's bytes to a body, for every endpoint and for the fuzz targets.
///
/// # Errors
/// [`Error::InvalidRequest`] for bytes that are not JSON or not a `T`.
pub(crate) fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| {
        Error::InvalidRequest(match e.classify() {
            serde_json::error::Category::Data => safe_json_message(&e),
            _ => format!("the body is not valid JSON (line {} column {})", e.line(), e.column()),
        })
    })
}

/// The caller's address: the socket peer, or, when the peer is a trusted proxy, the address
/// the nearest trusted proxy saw (see [`client_address`]). `None` when unknown (a router
/// called without connect info).
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let peer = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
            .await
            .ok()
            .map(|ConnectInfo(a)| a.ip());
        let trusted = &state.0.opts.trusted_proxies;
        Ok(Self(peer.map(|peer| client_address(peer, &parts.headers, trusted))))
    }
}

/// The client behind a chain of proxies. Each proxy appends the address it saw to
/// `X-Forwarded-For`, so the entries are read from the right, starting at the socket peer:
/// while the current hop is a trusted proxy, the entry it appended is the next hop. The first
/// hop that is not a trusted proxy is the client; what it wrote itself further left is its
/// own word and never read. An entry that is not an address (`unknown`, garbage) stops the
/// walk at the trusted proxy that wrote it.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: IpAddr| {
        let ip = canonical(ip);
        trusted.iter().any(|net| net.contains(&ip))
    };
    if !is_trusted(peer) {
        return peer;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let mut hop = peer;
    for entry in entries.iter().rev() {
        if !is_trusted(hop) {
            break;
        }
        match forwarded_ip(entry) {
            Some(ip) => hop = canonical(ip),
            None => break,
        }
    }
    hop
}

/// One `X-Forwarded-For` entry: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1` or
/// `[2001:db8::1]:4711` (proxies differ on ports).
fn forwarded_ip(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    entry.parse::<SocketAddr>().ok().map(|a| a.ip())
}

/// IPv4-mapped IPv6 addresses as IPv4, so one rule covers both forms of one client.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// Proof that the caller holds the bank's admin token: every admin endpoint.
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        authorize(parts, state, &[state.0.opts.admin_token.as_ref()]).await.map(|()| Admin)
    }
}

/// Proof that the caller holds the admin token or the web tier's verify-only token:
/// `/v1/admin/verify` and nothing else.
pub struct Verifier;

impl FromRequestParts<AppState> for Verifier {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let tokens = [state.0.opts.admin_token.as_ref(), state.0.opts.verify_token.as_ref()];
        authorize(parts, state, &tokens).await.map(|()| Verifier)
    }
}

/// Checks the bearer against `accepted`. Each refusal takes a token from the caller's bearer
/// bucket, so guessing a credential is throttled like guessing a password; a right bearer
/// costs nothing.
async fn authorize(
    parts: &mut Parts,
    state: &AppState,
    accepted: &[Option<&AdminToken>],
) -> Result<(), Error> {
    let ClientIp(ip) = ClientIp::from_request_parts(parts, state).await?;
    let ip = ip.unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let reservation = state.0.bearer_limiter.reserve(ip, Instant::now()).map_err(|limited| {
        tracing::warn!(event = "admin_rate_limited", client = %ip,
            retry_after = limited.retry_after, "admin API refused: too many wrong bearers");
        Error::RateLimited { retry_after: limited.retry_after }
    })?;
    let presented = bearer(&parts.headers);
    let right = presented.is_some_and(|p| accepted.iter().flatten().any(|t| t.matches(p)));
    if right {
        drop(reservation);
        Ok(())
    } else {
        reservation.failed();
        tracing::warn!(event = "admin_unauthorized", path = %parts.uri.path(), client = %ip,
            "missing or wrong bearer token");
        Err(Error::Unauthorized)
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
    // Every start counts, right or wrong: a customer needs a few, a flood needs thousands.
    let caller = ip.unwrap_or(IpAddr::from([0, 0, 0, 0]));
    match s.0.start_limiter.reserve(caller, Instant::now()) {
        Ok(start) => start.failed(),
        Err(limited) => {
            s.metrics().rate_limited(limited.scope);
            tracing::warn!(event = "provision_rate_limited", scope = "starts", client = %caller,
                retry_after = limited.retry_after, "provisioning refused: too many starts");
            return Err(Error::RateLimited { retry_after: limited.retry_after });
        }
    }
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
pub(crate) struct DemoResetRequest {}

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
pub(crate) struct IssueBody {
    service_id: String,
    #[serde(default)]
    user_id: Option<String>,
    mail: String,
    activation_password: SecretString,
    #[serde(default)]
    expires_in_days: Option<u32>,
}

impl IssueBody {
    /// The typed request the bank issues from.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an ID or activation password that is not one.
    pub(crate) fn into_request(self) -> Result<IssueRequest> {
        Ok(IssueRequest {
            password: ActivationPassword::new(&self.activation_password.0)?,
            service_id: ServiceId::new(&self.service_id)?,
            user_id: self.user_id.as_deref().map(UserId::new).transpose()?,
            mail: self.mail,
            expires_in_secs: self.expires_in_days.map(|d| u64::from(d) * 24 * 3600),
        })
    }
}

pub(crate) fn ids(service: &str, user: &str) -> Result<(ServiceId, UserId)> {
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
    ClientIp(ip): ClientIp,
    body: Result<ApiJson<IssueBody>, Error>,
) -> Result<impl IntoResponse> {
    let ApiJson(body) = body?;
    let req = body.into_request()?;
    let subject =
        Subject { service_id: Some(req.service_id.clone()), user_id: req.user_id.clone() };
    let bank = s.bank();
    let work = bank.issue(req, s.now());
    let status = bank
        .audited(&Actor::AdminToken(ip), AdminAction::Issue, subject, s.now(), work, |st| {
            Some(st.user_id.clone())
        })
        .await?;
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
    ClientIp(ip): ClientIp,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<impl IntoResponse> {
    let (service, user) = pair(path)?;
    let work = s.bank().revoke(&service, &user, s.now());
    let status = s
        .bank()
        .audited(
            &Actor::AdminToken(ip),
            AdminAction::End,
            Subject::pair(&service, &user),
            s.now(),
            work,
            |_| None,
        )
        .await?;
    s.metrics().ended();
    Ok(Json(status))
}

async fn admin_unlock(
    State(s): State<AppState>,
    _admin: Admin,
    ClientIp(ip): ClientIp,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<impl IntoResponse> {
    let (service, user) = pair(path)?;
    let work = s.bank().unlock(&service, &user, s.now());
    let subject = Subject::pair(&service, &user);
    let actor = Actor::AdminToken(ip);
    Ok(Json(s.bank().audited(&actor, AdminAction::Unlock, subject, s.now(), work, |_| None).await?))
}

/// `POST /v1/admin/verify`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VerifyBody {
    pub(crate) service_id: String,
    pub(crate) user_id: String,
    pub(crate) code: String,
}

/// A code as the customer copied it, without the spaces and hyphens of the grouped form
/// ("123 456") the app shows.
pub(crate) fn plain_code(code: &str) -> String {
    code.chars().filter(|c| *c != ' ' && *c != '-').collect()
}

async fn admin_verify(
    State(s): State<AppState>,
    _verifier: Verifier,
    body: Result<ApiJson<VerifyBody>, Error>,
) -> Result<impl IntoResponse> {
    let result = async {
        let ApiJson(body) = body?;
        let (service, user) = ids(&body.service_id, &body.user_id)?;
        let code = plain_code(&body.code);
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

/// `POST /v1/admin/registrations/{service_id}/{user_id}/resync`: two consecutive codes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResyncBody {
    pub(crate) code1: String,
    pub(crate) code2: String,
}

async fn admin_resync(
    State(s): State<AppState>,
    _admin: Admin,
    ClientIp(ip): ClientIp,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<ApiJson<ResyncBody>, Error>,
) -> Result<impl IntoResponse> {
    let (service, user) = pair(path)?;
    let ApiJson(body) = body?;
    let (code1, code2) = (plain_code(&body.code1), plain_code(&body.code2));
    let work = s.bank().resync(&service, &user, [&code1, &code2], s.now());
    let subject = Subject::pair(&service, &user);
    let actor = Actor::AdminToken(ip);
    Ok(Json(s.bank().audited(&actor, AdminAction::Resync, subject, s.now(), work, |_| None).await?))
}

/// `GET /v1/admin/audit`: one page of the audit log, newest first.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditParams {
    #[serde(default)]
    before_id: Option<u64>,
    #[serde(default)]
    service_id: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

/// The answer: the entries and the cursor of the next (older) page, `null` at the end.
#[derive(Debug, Serialize)]
struct AuditPage {
    entries: Vec<AuditEntry>,
    next_before_id: Option<u64>,
}

async fn admin_audit(
    State(s): State<AppState>,
    _admin: Admin,
    query: Result<Query<AuditParams>, axum::extract::rejection::QueryRejection>,
) -> Result<impl IntoResponse> {
    let Query(q) = query.map_err(|e| Error::InvalidRequest(e.body_text()))?;
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_AUDIT_PAGE {
        return Err(Error::InvalidRequest(format!("limit must be 1 to {MAX_AUDIT_PAGE}")));
    }
    let query = audit_query(q.before_id, q.service_id.as_deref(), q.user_id.as_deref(), limit)?;
    let entries = s.bank().audit_log(query).await?;
    let next_before_id =
        if entries.len() == limit as usize { entries.last().map(|e| e.id) } else { None };
    Ok(Json(AuditPage { entries, next_before_id }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutboxQuery {
    #[serde(default)]
    pub(crate) limit: Option<u32>,
}

async fn admin_outbox(
    State(s): State<AppState>,
    _admin: Admin,
    query: Result<Query<OutboxQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<impl IntoResponse> {
    let Query(q) = query.map_err(|e| Error::InvalidRequest(e.body_text()))?;
    Ok(Json(s.bank().outbox(q.limit.unwrap_or(20).min(1000)).await?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn from(peer: &str, xff: &[&str], trusted: &[&str]) -> String {
        let mut headers = HeaderMap::new();
        for v in xff {
            headers.append("x-forwarded-for", v.parse().unwrap());
        }
        let trusted: Vec<IpNet> = trusted.iter().map(|t| t.parse().unwrap()).collect();
        client_address(peer.parse().unwrap(), &headers, &trusted).to_string()
    }

    #[test]
    fn the_client_is_the_first_hop_from_the_right_that_is_not_a_trusted_proxy() {
        let lb = &["127.0.0.0/8"];
        let two = &["127.0.0.0/8", "10.0.0.0/8"];
        // Not a proxy: its header is its own word.
        assert_eq!(from("203.0.113.9", &["198.51.100.1"], lb), "203.0.113.9");
        assert_eq!(from("127.0.0.1", &["198.51.100.1"], &[]), "127.0.0.1");
        // One proxy; what the client wrote to the left is never read.
        assert_eq!(from("127.0.0.1", &["1.2.3.4, 198.51.100.1"], lb), "198.51.100.1");
        assert_eq!(from("127.0.0.1", &["1.2.3.4", "198.51.100.1:443"], lb), "198.51.100.1");
        assert_eq!(from("127.0.0.1", &["[2001:db8::1]:443"], lb), "2001:db8::1");
        // Two proxies in a chain.
        assert_eq!(from("127.0.0.1", &["1.2.3.4, 198.51.100.1, 10.1.1.1"], two), "198.51.100.1");
        // A trusted proxy with nothing to say, or garbage where its client should be.
        assert_eq!(from("127.0.0.1", &[], lb), "127.0.0.1");
        assert_eq!(from("127.0.0.1", &["unknown"], lb), "127.0.0.1");
        // IPv4-mapped peers match IPv4 networks.
        assert_eq!(from("::ffff:127.0.0.1", &["198.51.100.1"], lb), "198.51.100.1");
    }
}
