//! Token buckets that make guessing activation passwords expensive.
//!
//! With 4-digit passwords and 5 tries, one registration falls to a guesser 1 time in 2,000; a
//! guesser therefore probes many registrations. Each failed provisioning request (wrong
//! password, unknown registration or attempt, malformed body) takes a token from the caller's
//! bucket and from the bucket shared by everyone; a provisioning request is refused while either
//! is empty. Buckets refill continuously. IPv6 callers are grouped by /64, the block one
//! customer line usually gets, so a guesser cannot rotate through its own addresses.
//!
//! A request takes its token *before* the work ([`RateLimiter::reserve`]) and gives it back
//! when it did not fail ([`Reservation`] is dropped), so N concurrent guesses cannot all pass
//! on the last token: at most the burst ever reaches the bank.
//!
//! Why not `governor`, the crate the field uses for keyed limits: its GCRA cells cannot be
//! given back, and this limit counts failures only. A customer's successful start, confirm
//! and ack must cost nothing (the total bucket is sized for guessers, not for the bank's
//! customers), which needs exactly this take-then-refund; with governor every request would
//! count.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

/// Bucket sizes and refill rates. The server's three sets (provisioning failures and starts,
/// wrong bearers) are in `config/defaults.rs` with every other default.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimits {
    /// Failures one address may have in a burst.
    pub per_address_burst: u32,
    /// Failures one address regains per minute.
    pub per_address_per_minute: u32,
    /// Failures all callers together may have in a burst.
    pub total_burst: u32,
    /// Failures all callers together regain per minute.
    pub total_per_minute: u32,
}

/// Which bucket refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The caller's address.
    Address,
    /// Everyone together.
    Total,
}

impl Scope {
    /// The log and metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Address => "address",
            Scope::Total => "total",
        }
    }
}

/// A refusal: which bucket, and seconds until it has a token again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// The empty bucket.
    pub scope: Scope,
    /// Whole seconds to wait (at least 1).
    pub retry_after: u64,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(capacity: f64, now: Instant) -> Self {
        Self { tokens: capacity, at: now }
    }

    fn refill(&mut self, capacity: f64, per_sec: f64, now: Instant) {
        // Never backwards: a refund stamped with its request's start must not re-add time.
        if now > self.at {
            let dt = now.duration_since(self.at).as_secs_f64();
            self.tokens = (self.tokens + dt * per_sec).min(capacity);
            self.at = now;
        }
    }

    fn wait_secs(&self, per_sec: f64) -> u64 {
        if self.tokens >= 1.0 || per_sec <= 0.0 {
            return if self.tokens >= 1.0 { 0 } else { u64::MAX / 2 };
        }
        (((1.0 - self.tokens) / per_sec).ceil() as u64).max(1)
    }
}

/// Per-address and total failure buckets.
#[derive(Debug)]
pub struct RateLimiter {
    limits: RateLimits,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    total: Bucket,
    by_address: HashMap<Key, Bucket>,
}

/// Whose bucket: a caller's address, or something the request names (a confirmation's
/// registration, whose failures are limited wherever they come from).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Address(IpAddr),
    Named(String),
}

/// Addresses tracked before full buckets (indistinguishable from untracked) are dropped.
const PRUNE_AT: usize = 100_000;

/// The key of an address: itself for IPv4, its /64 for IPv6.
pub(crate) fn bucket_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// A token taken for one provisioning request. Dropping it gives the token back (the request
/// did not fail, or never finished); [`Reservation::failed`] keeps it spent.
#[derive(Debug)]
#[must_use = "dropping a reservation gives its token back at once"]
pub struct Reservation<'a> {
    limiter: &'a RateLimiter,
    key: Key,
    at: Instant,
    spent: bool,
}

impl Reservation<'_> {
    /// Counts the request as a failure: its token stays spent.
    pub fn failed(mut self) {
        self.spent = true;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.spent {
            self.limiter.refund(&self.key, self.at);
        }
    }
}

impl RateLimiter {
    /// Buckets with these limits, all full.
    pub fn new(limits: RateLimits, now: Instant) -> Self {
        Self {
            limits,
            state: Mutex::new(State {
                total: Bucket::full(f64::from(limits.total_burst), now),
                by_address: HashMap::new(),
            }),
        }
    }

    fn rates(&self) -> (f64, f64, f64, f64) {
        (
            f64::from(self.limits.per_address_burst),
            f64::from(self.limits.per_address_per_minute) / 60.0,
            f64::from(self.limits.total_burst),
            f64::from(self.limits.total_per_minute) / 60.0,
        )
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means another request panicked mid-update; the buckets are
        // still plain numbers.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a token from `ip`'s bucket and from the total one for a provisioning request;
    /// keep it with [`Reservation::failed`] when the request fails.
    ///
    /// # Errors
    /// [`Limited`] naming the empty bucket and the wait; nothing was taken.
    pub fn reserve(&self, ip: IpAddr, now: Instant) -> Result<Reservation<'_>, Limited> {
        self.reserve_key(Key::Address(bucket_key(ip)), now)
    }

    /// As [`RateLimiter::reserve`], with the bucket of `name` in place of an address's (its
    /// refusals say [`Scope::Address`], the caller's own bucket).
    ///
    /// # Errors
    /// [`Limited`] naming the empty bucket and the wait; nothing was taken.
    pub fn reserve_for(&self, name: &str, now: Instant) -> Result<Reservation<'_>, Limited> {
        self.reserve_key(Key::Named(name.to_owned()), now)
    }

    fn reserve_key(&self, key: Key, now: Instant) -> Result<Reservation<'_>, Limited> {
        let (cap_a, rate_a, cap_t, rate_t) = self.rates();
        let mut st = self.state();
        if let Some(b) = st.by_address.get_mut(&key) {
            b.refill(cap_a, rate_a, now);
            if b.tokens < 1.0 {
                return Err(Limited { scope: Scope::Address, retry_after: b.wait_secs(rate_a) });
            }
        }
        st.total.refill(cap_t, rate_t, now);
        if st.total.tokens < 1.0 {
            return Err(Limited { scope: Scope::Total, retry_after: st.total.wait_secs(rate_t) });
        }
        st.total.tokens -= 1.0;
        if st.by_address.len() >= PRUNE_AT {
            st.by_address.retain(|_, b| {
                b.refill(cap_a, rate_a, now);
                b.tokens < cap_a
            });
        }
        let b = st.by_address.entry(key.clone()).or_insert_with(|| Bucket::full(cap_a, now));
        b.tokens -= 1.0;
        Ok(Reservation { limiter: self, key, at: now, spent: false })
    }

    fn refund(&self, key: &Key, at: Instant) {
        let (cap_a, rate_a, cap_t, rate_t) = self.rates();
        let mut st = self.state();
        st.total.refill(cap_t, rate_t, at);
        st.total.tokens = (st.total.tokens + 1.0).min(cap_t);
        if let Some(b) = st.by_address.get_mut(key) {
            b.refill(cap_a, rate_a, at);
            b.tokens = (b.tokens + 1.0).min(cap_a);
            if b.tokens >= cap_a {
                // Full again: the same as an address never seen.
                st.by_address.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn limits() -> RateLimits {
        RateLimits {
            per_address_burst: 3,
            per_address_per_minute: 6,
            total_burst: 5,
            total_per_minute: 60,
        }
    }

    #[test]
    fn an_address_with_too_many_failures_waits_until_its_bucket_refills() {
        let t0 = Instant::now();
        let rl = RateLimiter::new(limits(), t0);
        let guesser: IpAddr = "192.0.2.7".parse().unwrap();
        let customer: IpAddr = "198.51.100.1".parse().unwrap();
        for _ in 0..3 {
            rl.reserve(guesser, t0).unwrap().failed();
        }
        let refused = rl.reserve(guesser, t0).unwrap_err();
        assert_eq!(refused.scope, Scope::Address);
        assert_eq!(refused.retry_after, 10);
        assert!(rl.reserve(customer, t0).is_ok());
        assert!(rl.reserve(guesser, t0 + Duration::from_secs(10)).is_ok());
    }

    #[test]
    fn failures_from_many_addresses_exhaust_the_total_bucket() {
        let t0 = Instant::now();
        let rl = RateLimiter::new(limits(), t0);
        for i in 0..5u8 {
            rl.reserve(IpAddr::from([203, 0, 113, i]), t0).unwrap().failed();
        }
        let refused = rl.reserve("203.0.113.200".parse().unwrap(), t0).unwrap_err();
        assert_eq!((refused.scope, refused.retry_after), (Scope::Total, 1));
    }

    #[test]
    fn ipv6_addresses_of_one_slash_64_share_a_bucket() {
        let t0 = Instant::now();
        let rl = RateLimiter::new(limits(), t0);
        for i in 1..=3u16 {
            rl.reserve(IpAddr::from([0x2001, 0xdb8, 0, 1, 0, 0, 0, i]), t0).unwrap().failed();
        }
        let other_host: IpAddr = "2001:db8:0:1::99".parse().unwrap();
        assert_eq!(rl.reserve(other_host, t0).unwrap_err().scope, Scope::Address);
        assert!(rl.reserve("2001:db8:0:2::1".parse().unwrap(), t0).is_ok());
    }

    #[test]
    fn a_registration_s_bucket_counts_failures_from_every_address_apart_from_theirs() {
        let t0 = Instant::now();
        let rl = RateLimiter::new(limits(), t0);
        for _ in 0..3 {
            rl.reserve_for("10112231/999800000001", t0).unwrap().failed();
        }
        assert_eq!(rl.reserve_for("10112231/999800000001", t0).unwrap_err().scope, Scope::Address);
        assert!(rl.reserve_for("10112231/999800000002", t0).is_ok());
    }

    #[test]
    fn requests_that_do_not_fail_cost_nothing_but_hold_a_token_while_they_run() {
        let t0 = Instant::now();
        let rl = RateLimiter::new(limits(), t0);
        let customer: IpAddr = "198.51.100.1".parse().unwrap();
        for _ in 0..100 {
            drop(rl.reserve(customer, t0).unwrap());
        }
        let running: Vec<_> = (0..3).map(|_| rl.reserve(customer, t0).unwrap()).collect();
        assert_eq!(rl.reserve(customer, t0).unwrap_err().scope, Scope::Address);
        drop(running);
        assert!(rl.state().by_address.is_empty());
        assert!(rl.reserve(customer, t0).is_ok());
    }
}
