//! The demo bank's web pages (`serve --demo` on loopback only): steps 1–6 and 11–13 of the
//! manual, and the end of use, for a visitor at a kiosk or a QA tester without a terminal; and
//! `/v1/demo/reset`, which re-arms the demo registration for the next visitor.
//!
//! The pages are static files compiled into the binary, in Japanese and English, with a strict
//! CSP and nothing remote. They call `/demo/api/*`, which act on the demo registration only,
//! with the server's own authority: the browser never holds an admin credential. Every route
//! here answers only a caller on this computer, addressed by a loopback host name (so a page of
//! another site cannot reach it by DNS rebinding), and every action is a JSON POST, which a
//! browser preflights and this server never allows cross-origin. Who counts as "this computer"
//! is one rule, [`on_this_computer`], for the pages and the reset alike. The transfer and
//! phishing-relay pages and their actions are in `pay`.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use softtoken_core::ids::{ActivationPassword, ServiceId, UserId};
use softtoken_core::verify::EnteredCode;

use super::extract::{ApiJson, ClientIp, SecretString};
use super::state::AppState;
use crate::bank::{Status, VerifyOutcome, DEMO_SERVICE_ID, DEMO_USER_ID};
use crate::error::{Error, Result};

mod pay;

const PAGE: &str = include_str!("bank.html");
const TRANSFER_PAGE: &str = include_str!("transfer.html");
const RELAY_PAGE: &str = include_str!("relay.html");
const PAY_SCRIPT: &str = include_str!("pay.js");
const PAY_TEXT: &str = include_str!("pay-text.js");
const RELAY_STYLE: &str = include_str!("relay.css");
const SCRIPT: &str = include_str!("bank.js");
const COMMON_SCRIPT: &str = include_str!("common.js");
const STYLE: &str = include_str!("bank.css");

/// Nothing but this server's own files; no inline script or style, no frames.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// The demo reset, and the demo bank pages unless the server is not in demo mode (demo mode
/// is refused off loopback at start, see `config::resolve`). The reset is routed in every
/// mode: out of demo mode the bank answers it `404 not_found`.
pub fn routes(state: &AppState) -> Router<AppState> {
    let reset = Router::new().route("/v1/demo/reset", post(reset));
    if !state.bank().demo_on() {
        return reset;
    }
    let pages = Router::new()
        .route("/demo", get(|| async { Redirect::to("/demo/") }))
        .route("/demo/", get(|headers| page(headers, PAGE)))
        .route("/demo/transfer/", get(|headers| page(headers, TRANSFER_PAGE)))
        .route("/demo/relay/", get(|headers| page(headers, RELAY_PAGE)))
        .route(
            "/demo/pay.js",
            get(|| async { asset("text/javascript; charset=utf-8", PAY_SCRIPT) }),
        )
        .route(
            "/demo/pay-text.js",
            get(|| async { asset("text/javascript; charset=utf-8", PAY_TEXT) }),
        )
        .route("/demo/relay.css", get(|| async { asset("text/css; charset=utf-8", RELAY_STYLE) }))
        .route("/demo/bank.js", get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }))
        .route(
            "/demo/common.js",
            get(|| async { asset("text/javascript; charset=utf-8", COMMON_SCRIPT) }),
        )
        .route("/demo/bank.css", get(|| async { asset("text/css; charset=utf-8", STYLE) }))
        .route("/demo/api/status", get(status))
        .route("/demo/api/check-password", post(check_password))
        .route("/demo/api/apply", post(apply))
        .route("/demo/api/start-use", post(start_use))
        .route("/demo/api/end-use", post(end_use))
        .merge(pay::routes())
        .layer(middleware::from_fn(this_computer_only));
    reset.merge(pages)
}

/// A caller on this computer: a loopback address, IPv4-mapped IPv6 (`::ffff:127.0.0.1`)
/// included. The one rule of who may use the demo bank's pages and reset it.
pub(crate) fn on_this_computer(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// Refuses callers from other computers, and requests whose Host is not a loopback name.
async fn this_computer_only(
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    if !on_this_computer(peer.ip()) || !loopback_host(host) {
        return Error::Forbidden("the demo bank is served to this computer only").into_response();
    }
    let mut resp = next.run(req).await;
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// The page, in the visitor's language from `Accept-Language` (Japanese when it comes first
/// among ja and en, else English); the page's switch changes it.
async fn page(headers: HeaderMap, page: &'static str) -> Response {
    let accept =
        headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let lang = preferred_language(accept);
    let body = page.replacen("<html lang=\"en\">", &format!("<html lang=\"{lang}\">"), 1);
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

fn preferred_language(accept: &str) -> &'static str {
    let mut best = ("en", -1.0_f32);
    for part in accept.split(',') {
        let mut fields = part.split(';');
        let tag = fields.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = fields
            .find_map(|f| f.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()))
            .unwrap_or(1.0);
        let lang = if tag == "ja" || tag.starts_with("ja-") {
            "ja"
        } else if tag == "en" || tag.starts_with("en-") {
            "en"
        } else {
            continue;
        };
        if q > best.1 {
            best = (lang, q);
        }
    }
    best.0
}

/// What the pages show: the registration and the step-6 mail's facts. No secret.
#[derive(Serialize)]
struct View {
    status: Status,
    download_url: String,
    issuer: String,
}

fn ids() -> Result<(ServiceId, UserId)> {
    Ok((
        ServiceId::new(DEMO_SERVICE_ID).map_err(|_| Error::Internal("demo service ID"))?,
        UserId::new(DEMO_USER_ID).map_err(|_| Error::Internal("demo user ID"))?,
    ))
}

fn view(s: &AppState, status: Status) -> Json<View> {
    let policy = s.bank().policy();
    Json(View { status, download_url: policy.download_url.clone(), issuer: policy.issuer.clone() })
}

/// Step 1: the registration's status.
async fn status(State(s): State<AppState>) -> Result<Json<View>> {
    let (service, user) = ids()?;
    Ok(view(&s, s.bank().status(&service, &user, s.now()).await?))
}

/// Steps 3–5: the application (mail twice and the password twice are checked by the page;
/// the bank checks the shape again).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Apply {
    mail: String,
    activation_password: SecretString,
}

async fn apply(
    State(s): State<AppState>,
    body: Result<ApiJson<Apply>, Error>,
) -> Result<Json<View>> {
    let ApiJson(req) = body?;
    let password = ActivationPassword::new(&req.activation_password.0)?;
    let st = s.bank().apply_demo(&req.mail, &password, s.now()).await?;
    Ok(view(&s, st))
}

/// Step 3: the activation password the visitor chose, checked before step 4 asks for the
/// confirmation password (the rule of the application itself).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckPassword {
    activation_password: SecretString,
}

#[derive(Serialize)]
struct Accepted {
    accepted: bool,
}

async fn check_password(
    State(s): State<AppState>,
    body: Result<ApiJson<CheckPassword>, Error>,
) -> Result<Json<Accepted>> {
    let ApiJson(req) = body?;
    let password = ActivationPassword::new(&req.activation_password.0)?;
    s.bank().check_demo_password(&password)?;
    Ok(Json(Accepted { accepted: true }))
}

/// Steps 11–13: the code the app shows starts use.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartUse {
    code: String,
}

async fn start_use(
    State(s): State<AppState>,
    body: Result<ApiJson<StartUse>, Error>,
) -> Result<Json<VerifyOutcome>> {
    let ApiJson(req) = body?;
    let code = EnteredCode::without_separators(&req.code);
    let (service, user) = ids()?;
    Ok(Json(s.bank().verify(&service, &user, &code, s.now()).await?))
}

/// The demo reset's body, `{}` sent as `application/json`. Requiring it makes the reset a
/// request that browsers preflight, and this server answers no preflight: a web page open in a
/// kiosk's browser cannot reset the demo cross-origin (a form or `no-cors` fetch is refused).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DemoResetRequest {}

/// The reset checks `Host` as the pages do: a page of another site that a kiosk's browser
/// opened could otherwise rebind its own name to 127.0.0.1 (DNS rebinding) and post the reset
/// as a same-origin request, which no preflight stops.
async fn reset(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Result<ApiJson<DemoResetRequest>, Error>,
) -> Result<Json<Status>> {
    if !ip.is_some_and(on_this_computer) {
        return Err(Error::Forbidden("the demo reset is accepted from this computer only"));
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    if !loopback_host(host) {
        return Err(Error::Forbidden(
            "the demo reset is accepted for localhost or a loopback address only",
        ));
    }
    let ApiJson(DemoResetRequest {}) = body?;
    let fresh = s.bank().rearm_demo(s.now()).await?;
    let status = s.bank().status(&fresh.service_id, &fresh.user_id, s.now()).await?;
    Ok(Json(status))
}

/// 利用終了: the bank ends use of the demo token.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EndUse {}

async fn end_use(
    State(s): State<AppState>,
    body: Result<ApiJson<EndUse>, Error>,
) -> Result<Json<View>> {
    let ApiJson(EndUse {}) = body?;
    let (service, user) = ids()?;
    let st = s.bank().revoke(&service, &user, s.now()).await?;
    Ok(view(&s, st))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_page_speaks_the_first_of_japanese_and_english_the_browser_asks_for() {
        assert_eq!(preferred_language("ja,en-US;q=0.9"), "ja");
        assert_eq!(preferred_language("en-GB,ja;q=0.5"), "en");
        assert_eq!(preferred_language("fr-FR,ja;q=0.8,en;q=0.7"), "ja");
        assert_eq!(preferred_language("de"), "en");
        assert_eq!(preferred_language(""), "en");
    }

    #[test]
    fn this_computer_is_a_loopback_address_in_either_form() {
        for ok in ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"] {
            assert!(on_this_computer(ok.parse().unwrap()), "{ok}");
        }
        for bad in ["192.0.2.1", "::ffff:192.0.2.1", "2001:db8::1", "0.0.0.0", "::"] {
            assert!(!on_this_computer(bad.parse().unwrap()), "{bad}");
        }
    }

    #[test]
    fn only_loopback_host_names_are_served() {
        for ok in ["127.0.0.1:8080", "localhost:8080", "[::1]:8080", "LOCALHOST", "127.0.0.1"] {
            assert!(loopback_host(ok), "{ok}");
        }
        for bad in ["evil.example:8080", "192.0.2.1:8080", "", "localhost.evil.example"] {
            assert!(!loopback_host(bad), "{bad}");
        }
    }
}
