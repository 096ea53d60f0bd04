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
    confirmations_created: Counter,
    confirmations_final: Family<StateLabel, Counter>,
    confirmation_fetches: Counter,
    confirmation_refused: Family<Reason, Counter>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

/// The final states of a confirmation request (a label of
/// `softtoken_confirmations_final_total`).
pub const CONFIRMATION_FINAL_STATES: &[&str] =
    &["approved", "denied", "wrong_number", "expired", "cancelled"];

/// Why an app's confirmation fetch or answer was refused (a label of
/// `softtoken_confirmation_refused_total`).
pub const CONFIRMATION_REFUSALS: &[&str] =
    &["not_authenticated", "clock_skew", "unknown_confirmation", "invalid_request", "rate_limited"];

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
        let confirmations_final = Family::<StateLabel, Counter>::default();
        for &state in CONFIRMATION_FINAL_STATES {
            let _ = confirmations_final.get_or_create(&StateLabel { state });
        }
        let confirmation_refused = Family::<Reason, Counter>::default();
        for &reason in CONFIRMATION_REFUSALS {
            let _ = confirmation_refused.get_or_create(&Reason { reason });
        }
        let (confirmations_created, confirmation_fetches) =
            (Counter::default(), Counter::default());
        registry.register(
            "softtoken_confirmations_created",
            "Confirmation requests created.",
            confirmations_created.clone(),
        );
        registry.register(
            "softtoken_confirmations_final",
            "Confirmation requests that became final, by state.",
            confirmations_final.clone(),
        );
        registry.register(
            "softtoken_confirmation_fetches",
            "Confirmation fetches answered to an authenticated app.",
            confirmation_fetches.clone(),
        );
        registry.register(
            "softtoken_confirmation_refused",
            "Confirmation fetches and answers refused (wrong proof or MAC, clock, bad input).",
            confirmation_refused.clone(),
        );
        Self {
            registry,
            success,
            failures,
            limited,
            verify,
            issued,
            ended,
            confirmations_created,
            confirmations_final,
            confirmation_fetches,
            confirmation_refused,
        }
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

    /// Counts a confirmation request created.
    pub fn confirmation_created(&self) {
        self.confirmations_created.inc();
    }

    /// Counts a confirmation request that became final in `state`.
    pub fn confirmation_final(&self, state: softtoken_core::confirm::ConfirmationState) {
        let name = state.as_str();
        if let Some(&state) = CONFIRMATION_FINAL_STATES.iter().find(|s| **s == name) {
            self.confirmations_final.get_or_create(&StateLabel { state }).inc();
        }
    }

    /// Counts a fetch answered to an authenticated app.
    pub fn confirmation_fetched(&self) {
        self.confirmation_fetches.inc();
    }

    /// Counts a refused confirmation fetch or answer by its error code.
    pub fn confirmation_refused(&self, code: &str) {
        if let Some(&reason) = CONFIRMATION_REFUSALS.iter().find(|r| **r == code) {
            self.confirmation_refused.get_or_create(&Reason { reason }).inc();
        }
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
