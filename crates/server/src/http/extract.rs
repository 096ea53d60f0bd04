//! The extractors: JSON bodies, the caller's address, and the credentials of the admin
//! listener, one extractor per need of an endpoint (`Clerk`, `Admin`, `Verifier`, `Confirmer`,
//! `MetricsReader`).

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
use crate::bank::{Actor, Authenticated};
use crate::credential::{claimed_name, CredentialName, Need, Scope, TokenHash};
use crate::error::{Error, Result};
use crate::ratelimit::Limited;

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

/// Who called the admin listener: a valid credential's name and the socket peer. The admin
/// listener believes no `X-Forwarded-For`: it is reached from the bank's own network, and a
/// header anyone can write must neither name the actor in the audit log nor move a caller's
/// failures to another address's bucket.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The credential's name.
    pub name: CredentialName,
    /// The socket peer; `None` for a router called without connect info.
    pub peer: Option<IpAddr>,
}

impl Caller {
    /// The audit log's actor.
    pub fn actor(&self) -> Actor {
        Actor::Credential { name: self.name.clone(), ip: self.peer }
    }
}

/// The endpoint's need, as an extractor: each proves a credential whose scope grants it.
macro_rules! needs {
    ($($(#[$doc:meta])* $name:ident => $need:expr;)*) => {$(
        $(#[$doc])*
        pub struct $name(pub Caller);

        impl $name {
            /// The audit log's actor.
            pub fn actor(&self) -> Actor {
                self.0.actor()
            }
        }

        impl FromRequestParts<AppState> for $name {
            type Rejection = Error;

            async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
                authorize(parts, state, $need).await.map($name)
            }
        }
    )*};
}

needs! {
    /// A clerk's credential (or an admin's): the registration and outbox endpoints.
    Clerk => Need::Clerk;
    /// An admin's credential: the audit log.
    Admin => Need::Admin;
    /// A credential that may verify (the web tier's verify scope, a clerk's, an admin's):
    /// `/v1/admin/verify`.
    Verifier => Need::Verify;
    /// A credential of the transactions scope (or an admin's): the `/v1/admin/confirmations`
    /// endpoints.
    Confirmer => Need::Transactions;
    /// The monitoring system's credential (or an admin's): `/metrics`.
    MetricsReader => Need::Metrics;
}

/// The credential of the token files, if `presented` is one of them: the migration path from
/// before named credentials, each file a credential with a fixed name.
fn legacy(state: &AppState, presented: &TokenHash) -> Option<Authenticated> {
    let opts = state.opts();
    [
        (&opts.admin_token, "legacy-admin", Scope::Admin),
        (&opts.verify_token, "legacy-verify", Scope::Verify),
        (&opts.confirm_token, "legacy-confirm", Scope::Transactions),
    ]
    .into_iter()
    .find(|(token, _, _)| token.as_ref().is_some_and(|t| t.matches_hash(presented)))
    .map(|(_, name, scope)| Authenticated { name: CredentialName::fixed(name), scope })
}

/// Checks the bearer: a valid credential is looked up first and passes whatever the failure
/// buckets hold, so wrong bearers from anywhere never lock out the web tier's right one. Only
/// a missing or wrong bearer is throttled: per socket address, and per the name it claims, so
/// guessing one credential's secret from many addresses is throttled too. A valid credential
/// whose scope does not grant `need` is refused, not throttled: it is no guess.
async fn authorize(parts: &mut Parts, state: &AppState, need: Need) -> Result<Caller, Error> {
    let peer = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
        .await
        .ok()
        .map(|ConnectInfo(a)| a.ip());
    let presented = bearer(&parts.headers);
    if let Some(token) = presented {
        let hash = TokenHash::of(token);
        let found = match legacy(state, &hash) {
            Some(found) => Some(found),
            None => state.bank().credential(&hash).await?,
        };
        if let Some(Authenticated { name, scope }) = found {
            if scope.grants(need) {
                return Ok(Caller { name, peer });
            }
            tracing::info!(event = "admin_scope_refused", credential = %name,
                scope = scope.as_str(), path = %parts.uri.path(),
                "a credential called an endpoint its scope does not grant");
            return Err(Error::Unauthorized);
        }
    }
    let now = Instant::now();
    let address = peer.unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let claimed = presented.and_then(claimed_name);
    let limited = |limited: Limited| {
        if state.log_refusal("admin_rate_limited") {
            tracing::warn!(event = "admin_rate_limited", client = %address,
                retry_after = limited.retry_after, "admin API refused: too many wrong bearers");
        }
        Error::RateLimited { retry_after: limited.retry_after }
    };
    let by_address = state.bearer_limiter().reserve(address, now).map_err(limited)?;
    let by_name = claimed
        .as_ref()
        .map(|name| state.bearer_name_limiter().reserve_for(name.as_str(), now))
        .transpose()
        .map_err(limited)?;
    by_address.failed();
    if let Some(by_name) = by_name {
        by_name.failed();
    }
    if state.log_refusal("admin_unauthorized") {
        tracing::warn!(event = "admin_unauthorized", path = %parts.uri.path(), client = %address,
            claimed = claimed.as_ref().map(CredentialName::as_str),
            "missing or wrong bearer token");
    }
    Err(Error::Unauthorized)
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
