//! The limits: the bank's policy, the rate limits, the body limit and the network edge, from
//! flag (or environment), file and default, each checked once.

use std::time::Duration;

use ipnet::IpNet;
use softtoken_core::totp::TotpParams;

use super::args::{CommonArgs, ServeArgs};
use super::defaults::{
    CONFIRM_REGISTRATION_LIMITS, DEFAULT_BODY_LIMIT, EDGE_LIMITS, PROVISION_FAILURE_LIMITS,
    PROVISION_START_LIMITS, WRONG_BEARER_LIMITS,
};
use super::file::{FileConfig, FileLimits};
use super::layer::layered;
use crate::bank::Policy;
use crate::credential::AdminToken;
use crate::edge::EdgeLimits;
use crate::error::{Error, Result};
use crate::ratelimit::RateLimits;

/// HTTP-level settings.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// The admin credential; `None` disables the admin API.
    pub admin_token: Option<AdminToken>,
    /// The web tier's credential: `/v1/admin/verify` only.
    pub verify_token: Option<AdminToken>,
    /// The web tier's confirmation credential: `/v1/admin/confirmations*` only.
    pub confirm_token: Option<AdminToken>,
    /// How many wrong bearers an address (and everyone) may present on the admin listener.
    pub bearer_limits: RateLimits,
    /// How many provisioning starts an address may make, right or wrong: each costs the bank
    /// a SPAKE2 computation and a stored attempt.
    pub start_limits: RateLimits,
    /// Failure rate limits of provisioning, and per address of the app's confirmation
    /// fetches and answers (each endpoint family its own buckets).
    pub rate_limits: RateLimits,
    /// Failure limits of one registration's confirmation fetches and answers.
    pub registration_limits: RateLimits,
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
            confirm_token: None,
            bearer_limits: WRONG_BEARER_LIMITS,
            rate_limits: PROVISION_FAILURE_LIMITS,
            start_limits: PROVISION_START_LIMITS,
            registration_limits: CONFIRM_REGISTRATION_LIMITS,
            trusted_proxies: Vec::new(),
            body_limit: DEFAULT_BODY_LIMIT,
            edge: EDGE_LIMITS,
        }
    }
}

/// The check of a count: at least 1.
pub(super) fn positive(v: u32, what: &str) -> Result<u32> {
    if v == 0 {
        return Err(Error::Config(format!("{what} must be at least 1")));
    }
    Ok(v)
}

/// A count from its layers, checked.
fn count(flag: Option<u32>, file: Option<u32>, default: u32, what: &str) -> Result<u32> {
    positive(layered(flag, file, default), what)
}

/// The bank's policy: its limits from the layers over [`Policy::default`], and the names it
/// sends to the app.
pub(super) fn policy(common: &CommonArgs, file: &FileConfig) -> Result<Policy> {
    let lim = &file.limits;
    let mut policy = Policy::default();
    policy.provision_max_tries = count(
        common.provision_max_tries,
        lim.provision_max_tries,
        policy.provision_max_tries,
        "provision_max_tries",
    )?;
    policy.verify_max_failures = count(
        common.verify_max_failures,
        lim.verify_max_failures,
        policy.verify_max_failures,
        "verify_max_failures",
    )?;
    policy.reissue_wait_secs =
        layered(common.reissue_wait_secs, lim.reissue_wait_secs, policy.reissue_wait_secs);
    if let Some(days) = common.expiry_days.or(lim.expiry_days) {
        policy.default_expiry_secs = u64::from(positive(days, "expiry_days")?) * 24 * 3600;
    }
    policy.attempt_ttl_secs =
        layered(common.attempt_ttl_secs, lim.attempt_ttl_secs, policy.attempt_ttl_secs);
    if policy.attempt_ttl_secs == 0 {
        return Err(Error::Config("attempt_ttl_secs must be at least 1".into()));
    }
    policy.issuer = layered(common.issuer.clone(), file.issuer.clone(), policy.issuer);
    policy.display_name =
        layered(common.display_name.clone(), file.display_name.clone(), policy.display_name);
    policy.download_url =
        layered(common.download_url.clone(), file.download_url.clone(), policy.download_url);
    let issuer_len = policy.issuer.chars().count();
    let name_len = policy.display_name.chars().count();
    if !(1..=64).contains(&issuer_len) || !(1..=32).contains(&name_len) {
        return Err(Error::Config(
            "the issuer must be 1–64 characters and the display name 1–32".into(),
        ));
    }
    policy.params = TotpParams::default();
    Ok(policy)
}

/// The limits of the HTTP shell: failures and starts of provisioning, the body limit.
pub(super) struct RequestLimits {
    pub(super) rate_limits: RateLimits,
    pub(super) start_limits: RateLimits,
    pub(super) body_limit: usize,
}

/// The request limits, and the attempts a registration keeps open (a file-only setting of the
/// bank's policy, checked between them as it always was).
pub(super) fn request_limits(
    serve: &ServeArgs,
    lim: &FileLimits,
    policy: &mut Policy,
) -> Result<RequestLimits> {
    let d = PROVISION_FAILURE_LIMITS;
    let rate_limits = RateLimits {
        per_address_burst: count(
            serve.rate_per_address_burst,
            lim.rate_per_address_burst,
            d.per_address_burst,
            "rate_per_address_burst",
        )?,
        per_address_per_minute: count(
            serve.rate_per_address_per_minute,
            lim.rate_per_address_per_minute,
            d.per_address_per_minute,
            "rate_per_address_per_minute",
        )?,
        total_burst: count(
            serve.rate_total_burst,
            lim.rate_total_burst,
            d.total_burst,
            "rate_total_burst",
        )?,
        total_per_minute: count(
            serve.rate_total_per_minute,
            lim.rate_total_per_minute,
            d.total_per_minute,
            "rate_total_per_minute",
        )?,
    };
    let d = PROVISION_START_LIMITS;
    let start_limits = RateLimits {
        per_address_burst: count(
            serve.rate_starts_per_address_burst,
            lim.rate_starts_per_address_burst,
            d.per_address_burst,
            "rate_starts_per_address_burst",
        )?,
        per_address_per_minute: count(
            serve.rate_starts_per_address_per_minute,
            lim.rate_starts_per_address_per_minute,
            d.per_address_per_minute,
            "rate_starts_per_address_per_minute",
        )?,
        ..d
    };
    policy.max_open_attempts =
        positive(lim.max_open_attempts.unwrap_or(policy.max_open_attempts), "max_open_attempts")?;
    let body_limit = layered(serve.body_limit, lim.body_limit, DEFAULT_BODY_LIMIT);
    if !(1024..=1024 * 1024).contains(&body_limit) {
        return Err(Error::Config("body_limit must be 1 KiB to 1 MiB".into()));
    }
    Ok(RequestLimits { rate_limits, start_limits, body_limit })
}

/// The timeouts and connection caps of the listeners.
pub(super) fn edge_limits(serve: &ServeArgs, lim: &FileLimits) -> Result<EdgeLimits> {
    let d = EDGE_LIMITS;
    // A timeout given is checked; the default needs no check.
    let secs = |v: Option<u64>, default: Duration, what: &str| -> Result<Duration> {
        match v {
            None => Ok(default),
            Some(s) if (1..=3600).contains(&s) => Ok(Duration::from_secs(s)),
            Some(_) => Err(Error::Config(format!("{what} must be 1 to 3600 seconds"))),
        }
    };
    let connections =
        |flag: Option<usize>, file: Option<usize>, default: usize, what: &str| match layered(
            flag, file, default,
        ) {
            0 => Err(Error::Config(format!("{what} must be at least 1"))),
            n => Ok(n),
        };
    Ok(EdgeLimits {
        header_read_timeout: secs(
            serve.header_read_timeout_secs.or(lim.header_read_timeout_secs),
            d.header_read_timeout,
            "header_read_timeout_secs",
        )?,
        request_timeout: secs(
            serve.request_timeout_secs.or(lim.request_timeout_secs),
            d.request_timeout,
            "request_timeout_secs",
        )?,
        max_connections: connections(
            serve.max_connections,
            lim.max_connections,
            d.max_connections,
            "max_connections",
        )?,
        max_connections_per_address: connections(
            serve.max_connections_per_address,
            lim.max_connections_per_address,
            d.max_connections_per_address,
            "max_connections_per_address",
        )?,
    })
}
