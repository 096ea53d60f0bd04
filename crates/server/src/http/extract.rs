//! The extractors: JSON bodies, the caller's address, the admin, verify-only and confirm-only
//! bearers.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use ipnet::IpNet;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::state::AppState;
use crate::credential::AdminToken;
use crate::error::{Error, Result};

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
        let limit = state.opts().body_limit;
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
        let trusted = &state.opts().trusted_proxies;
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
        authorize(parts, state, &[state.opts().admin_token.as_ref()]).await.map(|()| Admin)
    }
}

/// Proof that the caller holds the admin token or the web tier's verify-only token:
/// `/v1/admin/verify` and nothing else.
pub struct Verifier;

impl FromRequestParts<AppState> for Verifier {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let tokens = [state.opts().admin_token.as_ref(), state.opts().verify_token.as_ref()];
        authorize(parts, state, &tokens).await.map(|()| Verifier)
    }
}

/// Proof that the caller holds the admin token or the web tier's confirm-only token: the
/// `/v1/admin/confirmations` endpoints and nothing else. Which one it was names the actor in
/// the audit log.
pub struct Confirmer {
    /// True for the confirm-only token, false for the admin token.
    pub confirm_token: bool,
}

impl FromRequestParts<AppState> for Confirmer {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let tokens = [state.opts().admin_token.as_ref(), state.opts().confirm_token.as_ref()];
        authorize(parts, state, &tokens).await?;
        let confirm_token = bearer(&parts.headers)
            .zip(state.opts().confirm_token.as_ref())
            .is_some_and(|(p, t)| t.matches(p));
        Ok(Confirmer { confirm_token })
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
    let reservation = state.bearer_limiter().reserve(ip, Instant::now()).map_err(|limited| {
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
