//! Counters for operators, served at `/metrics` in the OpenMetrics text format (which
//! Prometheus scrapes) by `prometheus-client`, the Prometheus project's own Rust client. Counts
//! only: no ID, no address, no secret.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// Why a provisioning request failed (a label of `softtoken_provision_failures_total`).
pub const FAILURE_REASONS: &[&str] = &[
    "wrong_activation_password",
    "locked",
    "unknown_registration",
    "unknown_attempt",
    "attempt_expired",
    "expired",
    "already_delivered",
    "ended",
    "superseded",
    "invalid_request",
    "body_too_large",
    "internal",
    "other",
];

/// The label of each family.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StepLabel {
    step: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScopeLabel {
    scope: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

/// The server's counters.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    success: Family<StepLabel, Counter>,
    failures: Family<Reason, Counter>,
    limited: Family<ScopeLabel, Counter>,
    verify: Family<ResultLabel, Counter>,
    issued: Counter,
    ended: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let success = Family::<StepLabel, Counter>::default();
        let failures = Family::<Reason, Counter>::default();
        let limited = Family::<ScopeLabel, Counter>::default();
        let verify = Family::<ResultLabel, Counter>::default();
        // Every label value is listed from the start (at 0), so a dashboard sees each series
        // before its first event.
        for step in ["start", "confirm", "ack"] {
            let _ = success.get_or_create(&StepLabel { step });
        }
        for &reason in FAILURE_REASONS {
            let _ = failures.get_or_create(&Reason { reason });
        }
        for scope in [crate::ratelimit::Scope::Address, crate::ratelimit::Scope::Total] {
            let _ = limited.get_or_create(&ScopeLabel { scope: scope.as_str() });
        }
        for result in ["accepted", "rejected", "refused"] {
            let _ = verify.get_or_create(&ResultLabel { result });
        }
        let (issued, ended) = (Counter::default(), Counter::default());
        // Counter names get their `_total` suffix from the format.
        let mut registry = Registry::default();
        registry.register(
            "softtoken_provision_success",
            "Provisioning steps that succeeded.",
            success.clone(),
        );
        registry.register(
            "softtoken_provision_failures",
            "Failed provisioning requests.",
            failures.clone(),
        );
        registry.register(
            "softtoken_provision_rate_limited",
            "Provisioning requests refused by the failure rate limit (alarm on this).",
            limited.clone(),
        );
        registry.register("softtoken_verify", "One-time code verifications.", verify.clone());
        registry.register(
            "softtoken_registrations_issued",
            "Registrations issued.",
            issued.clone(),
        );
        registry.register("softtoken_registrations_ended", "Registrations ended.", ended.clone());
        Self { registry, success, failures, limited, verify, issued, ended }
    }
}

/// The content type of [`Metrics::render`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A provisioning step that succeeded.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    /// start answered.
    Started,
    /// confirm answered with the bank's proof.
    Confirmed,
    /// ack recorded the delivery.
    Delivered,
}

/// What a verify ended with.
#[derive(Debug, Clone, Copy)]
pub enum VerifyResult {
    /// Code accepted.
    Accepted,
    /// Code rejected (wrong or replayed).
    Rejected,
    /// Refused before comparing (locked, ended, unknown, not delivered, bad input).
    Refused,
}

impl Metrics {
    /// Counts a successful provisioning step.
    pub fn provision_ok(&self, step: Step) {
        let step = match step {
            Step::Started => "start",
            Step::Confirmed => "confirm",
            Step::Delivered => "ack",
        };
        self.success.get_or_create(&StepLabel { step }).inc();
    }

    /// Counts a failed provisioning request by its error code.
    pub fn provision_failed(&self, code: &str) {
        let reason = FAILURE_REASONS.iter().find(|r| **r == code).copied().unwrap_or("other");
        self.failures.get_or_create(&Reason { reason }).inc();
    }

    /// Counts a provisioning request refused by the rate limiter.
    pub fn rate_limited(&self, scope: crate::ratelimit::Scope) {
        self.limited.get_or_create(&ScopeLabel { scope: scope.as_str() }).inc();
    }

    /// Counts a verify.
    pub fn verified(&self, result: VerifyResult) {
        let result = match result {
            VerifyResult::Accepted => "accepted",
            VerifyResult::Rejected => "rejected",
            VerifyResult::Refused => "refused",
        };
        self.verify.get_or_create(&ResultLabel { result }).inc();
    }

    /// Counts an issued registration.
    pub fn issued(&self) {
        self.issued.inc();
    }

    /// Counts an ended registration.
    pub fn ended(&self) {
        self.ended.inc();
    }

    /// The exposition, of type [`CONTENT_TYPE`].
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_is_listed_from_the_start_and_counts_under_its_documented_name() {
        let m = Metrics::default();
        m.provision_failed("unknown_registration");
        m.provision_failed("something_new");
        m.rate_limited(crate::ratelimit::Scope::Address);
        m.issued();
        let text = m.render();
        for line in [
            "softtoken_provision_success_total{step=\"ack\"} 0",
            "softtoken_provision_failures_total{reason=\"unknown_registration\"} 1",
            "softtoken_provision_failures_total{reason=\"other\"} 1",
            "softtoken_provision_rate_limited_total{scope=\"address\"} 1",
            "softtoken_provision_rate_limited_total{scope=\"total\"} 0",
            "softtoken_verify_total{result=\"refused\"} 0",
            "softtoken_registrations_issued_total 1",
            "softtoken_registrations_ended_total 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing from\n{text}");
        }
    }
}
