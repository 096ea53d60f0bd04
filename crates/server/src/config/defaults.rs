//! Every default of the server's settings but the bank's own (`bank::Policy::default`): the
//! one place a default is written. The help texts of `args.rs` quote them, and a test
//! (`config/tests.rs`) holds each `[default: …]` there to the value here.

use std::time::Duration;

use crate::edge::EdgeLimits;
use crate::ratelimit::RateLimits;
use crate::storage::sqlite::Synchronous;

/// The demo registration's activation password when none is configured: fixed, so the README,
/// a kiosk's card and every run of the demo agree; and not a weak one (no repeat, sequence,
/// common PIN or year) so that it passes the bank's own rules for customers.
pub const DEFAULT_DEMO_PASSWORD: &str = "3718";
/// The SQLite file when none is configured.
pub const DEFAULT_DATABASE: &str = "softtoken-server.db";
/// Where the server listens by default (plain HTTP, so loopback only).
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
/// Where the admin API listens by default: this host only.
pub const DEFAULT_ADMIN_BIND: &str = "127.0.0.1:8081";
/// Commit durability when none is configured: a commit survives a power cut.
pub const DEFAULT_SYNCHRONOUS: Synchronous = Synchronous::Full;
/// The log filter when neither `RUST_LOG` nor `log` is set.
pub const DEFAULT_LOG: &str = "info";
/// The proxies trusted when a TLS-terminating proxy is in front and none is named: this host.
pub const DEFAULT_PROXIES_BEHIND_TLS: &[&str] = &["127.0.0.0/8", "::1/128"];

/// Failed provisioning requests (wrong password, unknown registration or attempt, malformed
/// body): sized for guessers, since a customer's successful requests cost nothing.
pub const PROVISION_FAILURE_LIMITS: RateLimits = RateLimits {
    per_address_burst: 10,
    per_address_per_minute: 5,
    total_burst: 300,
    total_per_minute: 300,
};
/// Provisioning starts, right or wrong: a customer needs a few, a flood needs thousands. The
/// totals are not configurable and high enough never to refuse a bank's customers.
pub const PROVISION_START_LIMITS: RateLimits = RateLimits {
    per_address_burst: 20,
    per_address_per_minute: 10,
    total_burst: 100_000,
    total_per_minute: 100_000,
};
/// Wrong bearers on the admin listener (not configurable): throttled like passwords.
pub const WRONG_BEARER_LIMITS: RateLimits = RateLimits {
    per_address_burst: 10,
    per_address_per_minute: 5,
    total_burst: 100,
    total_per_minute: 60,
};
/// Failed confirmation fetches and answers of one registration, from wherever they come (not
/// configurable): the customer's own app fails only with a wrong clock or a lost key, a
/// prober of one registration fails every time. The totals are for the per-address limit.
pub const CONFIRM_REGISTRATION_LIMITS: RateLimits = RateLimits {
    per_address_burst: 10,
    per_address_per_minute: 5,
    total_burst: 100_000,
    total_per_minute: 100_000,
};
/// Largest request body, in bytes.
pub const DEFAULT_BODY_LIMIT: usize = 16 * 1024;
/// Timeouts and connection caps of the listeners.
pub const EDGE_LIMITS: EdgeLimits = EdgeLimits {
    header_read_timeout: Duration::from_secs(10),
    request_timeout: Duration::from_secs(30),
    // Below the usual soft limit of 1,024 open files, with room for the database.
    max_connections: 900,
    max_connections_per_address: 32,
};

impl Default for EdgeLimits {
    fn default() -> Self {
        EDGE_LIMITS
    }
}
