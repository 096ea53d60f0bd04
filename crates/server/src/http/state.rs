//! What every handler shares: the bank, the clock, the settings, the rate limiters and the
//! counters.

use std::sync::Arc;
use std::time::Instant;

use crate::bank::Bank;
use crate::clock::Clock;
use crate::config::HttpOptions;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;

use super::refusals::RefusalLog;

struct Shared {
    bank: Arc<Bank>,
    clock: Arc<dyn Clock>,
    opts: HttpOptions,
    limiter: RateLimiter,
    bearer_limiter: RateLimiter,
    bearer_name_limiter: RateLimiter,
    start_limiter: RateLimiter,
    confirm_limiter: RateLimiter,
    registration_limiter: RateLimiter,
    metrics: Metrics,
    refusals: RefusalLog,
}

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// State over a bank and a clock.
    pub fn new(bank: Arc<Bank>, clock: Arc<dyn Clock>, opts: HttpOptions) -> Self {
        let limiter = RateLimiter::new(opts.rate_limits, Instant::now());
        let bearer_limiter = RateLimiter::new(opts.bearer_limits, Instant::now());
        let bearer_name_limiter = RateLimiter::new(opts.bearer_limits, Instant::now());
        let start_limiter = RateLimiter::new(opts.start_limits, Instant::now());
        let confirm_limiter = RateLimiter::new(opts.rate_limits, Instant::now());
        let registration_limiter = RateLimiter::new(opts.registration_limits, Instant::now());
        let metrics = Metrics::default();
        Self(Arc::new(Shared {
            bank,
            clock,
            opts,
            limiter,
            bearer_limiter,
            bearer_name_limiter,
            start_limiter,
            confirm_limiter,
            registration_limiter,
            metrics,
            refusals: RefusalLog::default(),
        }))
    }

    /// Whether this refusal of `kind` gets its own log line (`refusals.rs`: a bounded number
    /// per minute, the rest counted in one summary line).
    pub(super) fn log_refusal(&self, kind: &'static str) -> bool {
        self.0.refusals.admit(kind, self.now())
    }

    /// Writes the summaries of the refusal log's ended windows (the server's minute tick).
    pub fn close_refusal_windows(&self) {
        self.0.refusals.close_ended(self.now());
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

    /// The clock, for a wait that reads the time again.
    pub(crate) fn clock(&self) -> &dyn Clock {
        &*self.0.clock
    }

    /// The settings.
    pub(crate) fn opts(&self) -> &HttpOptions {
        &self.0.opts
    }

    /// The failure limiter of provisioning.
    pub(super) fn limiter(&self) -> &RateLimiter {
        &self.0.limiter
    }

    /// The limiter of wrong bearers on the admin listener.
    pub(super) fn bearer_limiter(&self) -> &RateLimiter {
        &self.0.bearer_limiter
    }

    /// The limiter of wrong secrets presented for one credential name, from any address.
    pub(super) fn bearer_name_limiter(&self) -> &RateLimiter {
        &self.0.bearer_name_limiter
    }

    /// The failure limiter of the app's confirmation fetches and answers, per address.
    pub(super) fn confirm_limiter(&self) -> &RateLimiter {
        &self.0.confirm_limiter
    }

    /// The failure limiter of confirmation fetches and answers, per registration.
    pub(super) fn registration_limiter(&self) -> &RateLimiter {
        &self.0.registration_limiter
    }

    /// The limiter of provisioning starts, right or wrong.
    pub(super) fn start_limiter(&self) -> &RateLimiter {
        &self.0.start_limiter
    }
}
