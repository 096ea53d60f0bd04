//! The limits: the bank's policy, the rate limits, the body limit and the network edge, from
//! flag (or environment), file and default, each checked once.

use std::time::Duration;

use clap::Args;
use ipnet::IpNet;
use serde::Deserialize;
use softtoken_core::totp::TotpParams;

use super::defaults::{
    CONFIRM_REGISTRATION_LIMITS, DEFAULT_BODY_LIMIT, EDGE_LIMITS, PROVISION_FAILURE_LIMITS,
    PROVISION_START_LIMITS, WRONG_BEARER_LIMITS,
};
use super::layer::{concern, positive};
use crate::bank::Policy;
use crate::credential::AdminToken;
use crate::edge::EdgeLimits;
use crate::error::{Error, Result};
use crate::ratelimit::RateLimits;

concern! {
    /// The bank's names sent to the app: top-level keys of the file.
    #[derive(Debug, Clone, Args, Default, Deserialize)]
    #[serde(default)]
    pub struct BankNames {
        /// The bank's name sent to the app.
        #[arg(long, env = "SOFTTOKEN_ISSUER", global = true)]
        pub issuer: Option<String>,
        /// The token's default display name sent to the app.
        #[arg(long, env = "SOFTTOKEN_DISPLAY_NAME", global = true)]
        pub display_name: Option<String>,
        /// The app's download URL, written in the step-6 mail.
        #[arg(long, env = "SOFTTOKEN_DOWNLOAD_URL", global = true)]
        pub download_url: Option<String>,
    }
}

concern! {
    /// The bank's limits: keys of `[limits]`.
    #[derive(Debug, Args, Default, Deserialize)]
    #[serde(default)]
    pub struct PolicyLimits {
        /// Wrong activation passwords before a registration is locked [default: 5].
        #[arg(long, env = "SOFTTOKEN_PROVISION_MAX_TRIES", global = true)]
        pub provision_max_tries: Option<u32>,
        /// Consecutive wrong codes before a token is locked [default: 10].
        #[arg(long, env = "SOFTTOKEN_VERIFY_MAX_FAILURES", global = true)]
        pub verify_max_failures: Option<u32>,
        /// Seconds after the end of use before the same user may be issued again [default: 86400].
        #[arg(long, env = "SOFTTOKEN_REISSUE_WAIT_SECS", global = true)]
        pub reissue_wait_secs: Option<u64>,
        /// Days a new registration may be fetched by the app [default: 7].
        #[arg(long, env = "SOFTTOKEN_EXPIRY_DAYS", global = true)]
        pub expiry_days: Option<u32>,
        /// Seconds a provisioning attempt waits for its confirm [default: 300].
        #[arg(long, env = "SOFTTOKEN_ATTEMPT_TTL_SECS", global = true)]
        pub attempt_ttl_secs: Option<u64>,
        /// Provisioning attempts a registration keeps open at once (file only).
        #[arg(skip)]
        pub max_open_attempts: Option<u32>,
        /// Turn off the phone move's fast path: the old phone cannot prepare a new
        /// registration, and the customer ends the use and issues a new token instead.
        #[arg(long, env = "SOFTTOKEN_MOVES_DISABLED", global = true)]
        pub moves_disabled: bool,
        /// Seconds a prepared phone move waits for the new phone [default: 86400].
        #[arg(long, env = "SOFTTOKEN_MOVE_EXPIRY_SECS", global = true)]
        pub move_expiry_secs: Option<u64>,
    }
}

concern! {
    /// The rate and body limits of requests: keys of `[limits]`.
    #[derive(Debug, Args, Default, Deserialize)]
    #[serde(default)]
    pub struct RequestArgs {
        /// Failed provisioning requests one address may make in a burst [default: 10].
        #[arg(long, env = "SOFTTOKEN_RATE_PER_ADDRESS_BURST")]
        pub rate_per_address_burst: Option<u32>,
        /// Failed provisioning requests one address regains per minute [default: 5].
        #[arg(long, env = "SOFTTOKEN_RATE_PER_ADDRESS_PER_MINUTE")]
        pub rate_per_address_per_minute: Option<u32>,
        /// Failed provisioning requests all callers together may make in a burst [default: 300].
        #[arg(long, env = "SOFTTOKEN_RATE_TOTAL_BURST")]
        pub rate_total_burst: Option<u32>,
        /// Failed provisioning requests all callers together regain per minute [default: 300].
        #[arg(long, env = "SOFTTOKEN_RATE_TOTAL_PER_MINUTE")]
        pub rate_total_per_minute: Option<u32>,
        /// Provisioning starts (right or wrong) one address may make in a burst [default: 20].
        #[arg(long, env = "SOFTTOKEN_RATE_STARTS_PER_ADDRESS_BURST")]
        pub rate_starts_per_address_burst: Option<u32>,
        /// Provisioning starts one address regains per minute [default: 10].
        #[arg(long, env = "SOFTTOKEN_RATE_STARTS_PER_ADDRESS_PER_MINUTE")]
        pub rate_starts_per_address_per_minute: Option<u32>,
        /// Largest request body in bytes [default: 16384].
        #[arg(long, env = "SOFTTOKEN_BODY_LIMIT")]
        pub body_limit: Option<usize>,
    }
}

concern! {
    /// The timeouts and connection caps of the listeners: keys of `[limits]`.
    #[derive(Debug, Args, Default, Deserialize)]
    #[serde(default)]
    pub struct EdgeArgs {
        /// Seconds for a TLS handshake and for a request's whole header, also the longest idle
        /// wait between requests on one connection [default: 10].
        #[arg(long, env = "SOFTTOKEN_HEADER_READ_TIMEOUT_SECS")]
        pub header_read_timeout_secs: Option<u64>,
        /// Seconds to read a request's body and answer it [default: 30].
        #[arg(long, env = "SOFTTOKEN_REQUEST_TIMEOUT_SECS")]
        pub request_timeout_secs: Option<u64>,
        /// Connections held at once; keep it below the process's open-file limit [default: 900].
        #[arg(long, env = "SOFTTOKEN_MAX_CONNECTIONS")]
        pub max_connections: Option<usize>,
        /// Connections held at once from one address, trusted proxies excepted [default: 32].
        #[arg(long, env = "SOFTTOKEN_MAX_CONNECTIONS_PER_ADDRESS")]
        pub max_connections_per_address: Option<usize>,
    }
}

/// HTTP-level settings.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// The admin token file's token: the credential `legacy-admin`, scope admin.
    pub admin_token: Option<AdminToken>,
    /// The verify token file's: `legacy-verify`, scope verify (`/v1/admin/verify` only).
    pub verify_token: Option<AdminToken>,
    /// The confirm token file's: `legacy-confirm`, scope transactions.
    pub confirm_token: Option<AdminToken>,
    /// How many wrong bearers an address, a claimed credential name (and everyone) may
    /// present on the admin listener.
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

/// A count, layered, over its default, checked.
fn count(v: Option<u32>, default: u32, what: &str) -> Result<u32> {
    positive(v.unwrap_or(default), what)
}

/// The bank's policy: its limits, layered, over [`Policy::default`], and the names it sends
/// to the app.
pub(super) fn policy(limits: &PolicyLimits, names: &BankNames) -> Result<Policy> {
    let mut policy = Policy::default();
    policy.provision_max_tries =
        count(limits.provision_max_tries, policy.provision_max_tries, "provision_max_tries")?;
    policy.verify_max_failures =
        count(limits.verify_max_failures, policy.verify_max_failures, "verify_max_failures")?;
    policy.reissue_wait_secs = limits.reissue_wait_secs.unwrap_or(policy.reissue_wait_secs);
    if let Some(days) = limits.expiry_days {
        policy.default_expiry_secs = u64::from(positive(days, "expiry_days")?) * 24 * 3600;
    }
    policy.attempt_ttl_secs = limits.attempt_ttl_secs.unwrap_or(policy.attempt_ttl_secs);
    if policy.attempt_ttl_secs == 0 {
        return Err(Error::Config("attempt_ttl_secs must be at least 1".into()));
    }
    policy.moves_enabled = !limits.moves_disabled;
    policy.move_expiry_secs = limits.move_expiry_secs.unwrap_or(policy.move_expiry_secs);
    if policy.move_expiry_secs == 0 || policy.move_expiry_secs > 7 * 24 * 3600 {
        return Err(Error::Config("move_expiry_secs must be 1 second to 7 days".into()));
    }
    let BankNames { issuer, display_name, download_url } = names.clone();
    policy.issuer = issuer.unwrap_or(policy.issuer);
    policy.display_name = display_name.unwrap_or(policy.display_name);
    policy.download_url = download_url.unwrap_or(policy.download_url);
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

/// The request limits, layered, and the attempts a registration keeps open (a file-only
/// setting of the bank's policy, `policy_limits`' `max_open_attempts`, checked between them as
/// it always was).
pub(super) fn request_limits(
    requests: &RequestArgs,
    policy_limits: &PolicyLimits,
    policy: &mut Policy,
) -> Result<RequestLimits> {
    let r = requests;
    let d = PROVISION_FAILURE_LIMITS;
    let rate_limits = RateLimits {
        per_address_burst: count(
            r.rate_per_address_burst,
            d.per_address_burst,
            "rate_per_address_burst",
        )?,
        per_address_per_minute: count(
            r.rate_per_address_per_minute,
            d.per_address_per_minute,
            "rate_per_address_per_minute",
        )?,
        total_burst: count(r.rate_total_burst, d.total_burst, "rate_total_burst")?,
        total_per_minute: count(
            r.rate_total_per_minute,
            d.total_per_minute,
            "rate_total_per_minute",
        )?,
    };
    let d = PROVISION_START_LIMITS;
    let start_limits = RateLimits {
        per_address_burst: count(
            r.rate_starts_per_address_burst,
            d.per_address_burst,
            "rate_starts_per_address_burst",
        )?,
        per_address_per_minute: count(
            r.rate_starts_per_address_per_minute,
            d.per_address_per_minute,
            "rate_starts_per_address_per_minute",
        )?,
        ..d
    };
    policy.max_open_attempts = positive(
        policy_limits.max_open_attempts.unwrap_or(policy.max_open_attempts),
        "max_open_attempts",
    )?;
    let body_limit = r.body_limit.unwrap_or(DEFAULT_BODY_LIMIT);
    if !(1024..=1024 * 1024).contains(&body_limit) {
        return Err(Error::Config("body_limit must be 1 KiB to 1 MiB".into()));
    }
    Ok(RequestLimits { rate_limits, start_limits, body_limit })
}

/// The timeouts and connection caps of the listeners, layered.
pub(super) fn edge_limits(edge: &EdgeArgs) -> Result<EdgeLimits> {
    let d = EDGE_LIMITS;
    // A timeout given is checked; the default needs no check.
    let secs = |v: Option<u64>, default: Duration, what: &str| -> Result<Duration> {
        match v {
            None => Ok(default),
            Some(s) if (1..=3600).contains(&s) => Ok(Duration::from_secs(s)),
            Some(_) => Err(Error::Config(format!("{what} must be 1 to 3600 seconds"))),
        }
    };
    let connections = |v: Option<usize>, default: usize, what: &str| match v.unwrap_or(default) {
        0 => Err(Error::Config(format!("{what} must be at least 1"))),
        n => Ok(n),
    };
    Ok(EdgeLimits {
        header_read_timeout: secs(
            edge.header_read_timeout_secs,
            d.header_read_timeout,
            "header_read_timeout_secs",
        )?,
        request_timeout: secs(
            edge.request_timeout_secs,
            d.request_timeout,
            "request_timeout_secs",
        )?,
        max_connections: connections(edge.max_connections, d.max_connections, "max_connections")?,
        max_connections_per_address: connections(
            edge.max_connections_per_address,
            d.max_connections_per_address,
            "max_connections_per_address",
        )?,
    })
}
