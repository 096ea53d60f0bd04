//! Counters for operators, served as Prometheus text at `/metrics`. Counts only: no ID, no
//! address, no secret.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

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

/// The server's counters.
#[derive(Debug)]
pub struct Metrics {
    started: AtomicU64,
    confirmed: AtomicU64,
    delivered: AtomicU64,
    failures: Vec<AtomicU64>,
    limited_address: AtomicU64,
    limited_total: AtomicU64,
    verify_accepted: AtomicU64,
    verify_rejected: AtomicU64,
    verify_refused: AtomicU64,
    issued: AtomicU64,
    ended: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            started: AtomicU64::new(0),
            confirmed: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            failures: FAILURE_REASONS.iter().map(|_| AtomicU64::new(0)).collect(),
            limited_address: AtomicU64::new(0),
            limited_total: AtomicU64::new(0),
            verify_accepted: AtomicU64::new(0),
            verify_rejected: AtomicU64::new(0),
            verify_refused: AtomicU64::new(0),
            issued: AtomicU64::new(0),
            ended: AtomicU64::new(0),
        }
    }
}

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

fn inc(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl Metrics {
    /// Counts a successful provisioning step.
    pub fn provision_ok(&self, step: Step) {
        inc(match step {
            Step::Started => &self.started,
            Step::Confirmed => &self.confirmed,
            Step::Delivered => &self.delivered,
        });
    }

    /// Counts a failed provisioning request by its error code.
    pub fn provision_failed(&self, code: &str) {
        let i =
            FAILURE_REASONS.iter().position(|r| *r == code).unwrap_or(FAILURE_REASONS.len() - 1);
        if let Some(c) = self.failures.get(i) {
            inc(c);
        }
    }

    /// Counts a provisioning request refused by the rate limiter.
    pub fn rate_limited(&self, scope: crate::ratelimit::Scope) {
        inc(match scope {
            crate::ratelimit::Scope::Address => &self.limited_address,
            crate::ratelimit::Scope::Total => &self.limited_total,
        });
    }

    /// Counts a verify.
    pub fn verified(&self, result: VerifyResult) {
        inc(match result {
            VerifyResult::Accepted => &self.verify_accepted,
            VerifyResult::Rejected => &self.verify_rejected,
            VerifyResult::Refused => &self.verify_refused,
        });
    }

    /// Counts an issued registration.
    pub fn issued(&self) {
        inc(&self.issued);
    }

    /// Counts an ended registration.
    pub fn ended(&self) {
        inc(&self.ended);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::with_capacity(2048);
        let mut family = |name: &str, help: &str, rows: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (labels, v) in rows {
                if labels.is_empty() {
                    let _ = writeln!(out, "{name} {v}");
                } else {
                    let _ = writeln!(out, "{name}{{{labels}}} {v}");
                }
            }
        };
        family(
            "softtoken_provision_success_total",
            "Provisioning steps that succeeded.",
            &[
                ("step=\"start\"", get(&self.started)),
                ("step=\"confirm\"", get(&self.confirmed)),
                ("step=\"ack\"", get(&self.delivered)),
            ],
        );
        let labels: Vec<String> =
            FAILURE_REASONS.iter().map(|r| format!("reason=\"{r}\"")).collect();
        let rows: Vec<(&str, u64)> =
            labels.iter().zip(&self.failures).map(|(l, c)| (l.as_str(), get(c))).collect();
        family("softtoken_provision_failures_total", "Failed provisioning requests.", &rows);
        family(
            "softtoken_provision_rate_limited_total",
            "Provisioning requests refused by the failure rate limit (alarm on this).",
            &[
                ("scope=\"address\"", get(&self.limited_address)),
                ("scope=\"total\"", get(&self.limited_total)),
            ],
        );
        family(
            "softtoken_verify_total",
            "One-time code verifications.",
            &[
                ("result=\"accepted\"", get(&self.verify_accepted)),
                ("result=\"rejected\"", get(&self.verify_rejected)),
                ("result=\"refused\"", get(&self.verify_refused)),
            ],
        );
        family(
            "softtoken_registrations_issued_total",
            "Registrations issued.",
            &[("", get(&self.issued))],
        );
        family(
            "softtoken_registrations_ended_total",
            "Registrations ended.",
            &[("", get(&self.ended))],
        );
        out
    }
}
