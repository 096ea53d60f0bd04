//! The one error type of softtoken-server, and how each variant is answered over HTTP.
//!
//! 4xx variants say exactly what was wrong with the request, in a body with a stable `code`.
//! 5xx variants are logged with their detail and answered with a generic body, so nothing about
//! the database, paths or keys leaks to a caller. No variant ever carries a secret.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use softtoken_core::protocol::wire::ErrorCode;

/// Result with softtoken-server's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request is malformed (JSON, types, unknown fields, IDs, lengths). The caller fixes
    /// the request; nothing was changed.
    #[error("{0}")]
    InvalidRequest(String),

    /// The body is larger than the configured limit. The caller sends a smaller body.
    #[error("the request body is larger than {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },

    /// No registration for this service ID and user ID. The app lets the customer check both.
    #[error("no registration for this service ID and user ID")]
    UnknownRegistration,

    /// The attempt ID was never issued (or was purged). The app starts again.
    #[error("unknown provisioning attempt; start again")]
    UnknownAttempt,

    /// The attempt timed out or was already used (one guess per attempt). The app starts
    /// again; no try was counted for this refusal.
    #[error("{0}")]
    AttemptExpired(&'static str),

    /// Wrong activation password; the registration is locked after `tries_left` more.
    #[error("the activation password is wrong; {tries_left} tries left")]
    WrongActivationPassword {
        /// Wrong passwords still accepted before the lock.
        tries_left: u32,
    },

    /// Too many wrong activation passwords or one-time codes. The bank must unlock or
    /// re-issue; retrying cannot help.
    #[error("{0}")]
    Locked(&'static str),

    /// The registration expired before the app fetched it. The customer issues a new token.
    #[error("the registration expired before the token was set up; issue a new token")]
    Expired,

    /// The token was already delivered to an app. To move it, end use and re-issue.
    #[error("the token of this registration was already delivered to an app")]
    AlreadyDelivered,

    /// The bank ended the use of this registration. The customer can issue a new token.
    #[error("the use of this registration has ended")]
    Ended,

    /// The registration ended because its token moved to a new phone: `410 ended` with the
    /// bank's receipt, which the old app checks with its own key and then removes the token.
    #[error("the use of this registration has ended: its token moved to a new phone")]
    EndedByMove(Box<softtoken_core::protocol::wire::MoveReceipt>),

    /// The bank has the phone move's fast path off (`[moves] enabled = false`): the app
    /// explains the manual path. Nothing was stored.
    #[error("this bank does not offer moving a token to a new phone; end its use on the bank's web site and issue a new one")]
    MovesNotOffered,

    /// A move cancel while no move is pending. Nothing changed.
    #[error("no move of this registration is pending")]
    NoPendingMove,

    /// The ack names an attempt that is not the latest confirmed one: the app deletes its
    /// pending token.
    #[error("a newer setup of this registration replaced this one; delete the pending token")]
    Superseded,

    /// Too many failures from this address or in total. Wait `retry_after` seconds.
    #[error("too many failed attempts; try again in {retry_after} seconds")]
    RateLimited {
        /// Seconds to wait.
        retry_after: u64,
    },

    /// An admin endpoint was called without the right bearer token. Configure the token.
    #[error("this endpoint needs the bank's admin credential (Authorization: Bearer ...)")]
    Unauthorized,

    /// The endpoint is reserved to loopback callers (demo reset). Call it from the server
    /// host.
    #[error("{0}")]
    Forbidden(&'static str),

    /// No such endpoint (or demo mode is off).
    #[error("no such endpoint")]
    NotFound,

    /// The endpoint exists with another method.
    #[error("this endpoint does not accept this method")]
    MethodNotAllowed,

    /// Issue refused: the pair already has a registration that has not ended. End it first
    /// or use it.
    #[error("this service ID and user ID already have a registration in state {state}")]
    RegistrationExists {
        /// The state of the existing registration.
        state: &'static str,
    },

    /// The request took longer than the server allows (a body trickling in). The client
    /// sends the request again, at once and whole.
    #[error("the request took too long to arrive; send it again")]
    RequestTimeout,

    /// Issue refused: the activation password the customer chose is on the bank's list of
    /// passwords a guesser tries first (`docs/server.md`). The bank web asks the customer to
    /// choose another; nothing was stored.
    #[error("this activation password is too easy to guess ({}); choose another", .0.explain())]
    WeakActivationPassword(crate::weakness::Weakness),

    /// Issue refused: the previous registration ended too recently. Try again after
    /// `retry_after` seconds (the manual's "from the next day").
    #[error("use ended recently; a new token can be issued in {retry_after} seconds")]
    ReissueTooSoon {
        /// Seconds until re-issue is allowed.
        retry_after: u64,
    },

    /// Demo mode refused: a customer's registration uses the demo's service ID and user ID,
    /// and the demo never ends a customer's token. Run the demo on a database of its own.
    #[error(
        "the demo IDs belong to a registration that is not the demo's; demo mode never ends \
         it: run the demo on a database of its own"
    )]
    DemoIdsTaken,

    /// A confirmation fetch or answer that the token's key did not make, or for a registration
    /// that is unknown or not in use: one answer for all, so a prober learns nothing. The app
    /// shows that the bank refused it; nothing changed.
    #[error("not authenticated by this registration's token")]
    NotAuthenticated,

    /// A confirmation fetch whose proof is right but whose time is more than 300 s from the
    /// bank's clock. The app corrects its offset from `server_time` and fetches again.
    #[error("the token's clock is too far from the bank's; correct it and fetch again")]
    ClockSkew {
        /// The bank's time, Unix seconds.
        server_time: u64,
    },

    /// No confirmation request with this ID (for this registration).
    #[error("no confirmation request with this ID")]
    UnknownConfirmation,

    /// Creating a confirmation refused: the registration already has the most requests
    /// pending that it may have. Wait for them to be answered, cancel or expire.
    #[error("this registration already has {max} confirmation requests pending")]
    TooManyPending {
        /// The limit.
        max: u32,
    },

    /// Verify refused: the token has not reached the app yet. The customer finishes the
    /// setup in the app first.
    #[error("the token has not been delivered to an app yet")]
    NotDelivered,

    /// A configuration value is missing or wrong. Fix the file, environment or flags; the
    /// server did not start.
    #[error("configuration: {0}")]
    Config(String),

    /// A sealed secret did not open: wrong master key, or the database was altered. Restore
    /// the right key or the database; the row is unusable until then.
    #[error("a stored secret could not be decrypted (wrong master key or altered database)")]
    SealedDataInvalid,

    /// `rotate-key` (or `rotate-key --check`) found rows still holding secrets sealed under an
    /// older master key. Run `softtoken-server rotate-key` (again); keep the previous keys
    /// configured until it reports none.
    #[error(
        "{remaining} rows still hold secrets sealed under an older master key; run \
         `softtoken-server rotate-key` (again) and keep the previous keys configured until it \
         reports none"
    )]
    KeyRotationIncomplete {
        /// Rows left.
        remaining: u64,
    },

    /// The database failed. See the log; retry later.
    #[error("storage: {0}")]
    Storage(String),

    /// `audit verify` found the audit log's MAC chain broken: entries were changed, deleted
    /// or inserted around the server. Investigate from the entry named; compare with the
    /// stream kept outside the database.
    #[error("the audit log's chain is broken: {0}")]
    AuditChainBroken(String),

    /// Reading or writing a file (outbox, key) failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),

    /// The server is shutting down or its storage stopped. Retry on another instance or
    /// later.
    #[error("the server is shutting down")]
    Unavailable,

    /// A bug or an OS failure (random generator). See the log.
    #[error("internal error: {0}")]
    Internal(&'static str),

    /// Core failed on the server's side (the random generator, a stored attempt that does not
    /// parse): a failure of ours, answered as a generic 500 and logged with its cause.
    #[error("core: {0}")]
    Core(#[source] softtoken_core::Error),
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Storage(e.to_string())
    }
}

impl From<softtoken_core::Error> for Error {
    fn from(e: softtoken_core::Error) -> Self {
        use softtoken_core::Error as Core;
        match e {
            Core::ProtocolViolation(why) => Error::InvalidRequest(format!("protocol: {why}")),
            invalid @ Core::Invalid { .. } => Error::InvalidRequest(invalid.to_string()),
            Core::TotpParameters(why) => Error::InvalidRequest(why.to_owned()),
            // Everything else from core on the server side is a failure of ours (random
            // generator, a stored attempt that does not parse); the log keeps its cause.
            other => Error::Core(other),
        }
    }
}

impl Error {
    /// The stable code in the body: the protocol's [`ErrorCode`] for everything the app can
    /// meet, and server-only codes for the admin API.
    pub fn code(&self) -> &'static str {
        match self.wire_code() {
            Some(c) => c.as_str(),
            None => match self {
                Error::RegistrationExists { .. } => "registration_exists",
                Error::ReissueTooSoon { .. } => "reissue_too_soon",
                Error::WeakActivationPassword(_) => "weak_activation_password",
                Error::RequestTimeout => "request_timeout",
                Error::NotDelivered => "not_delivered",
                Error::TooManyPending { .. } => "too_many_pending",
                Error::DemoIdsTaken => "demo_ids_taken",
                Error::Forbidden(_) => "forbidden",
                _ => ErrorCode::Internal.as_str(),
            },
        }
    }

    fn wire_code(&self) -> Option<ErrorCode> {
        Some(match self {
            Error::InvalidRequest(_) => ErrorCode::InvalidRequest,
            Error::BodyTooLarge { .. } => ErrorCode::BodyTooLarge,
            Error::UnknownRegistration => ErrorCode::UnknownRegistration,
            Error::UnknownAttempt => ErrorCode::UnknownAttempt,
            Error::AttemptExpired(_) => ErrorCode::AttemptExpired,
            Error::WrongActivationPassword { .. } => ErrorCode::WrongActivationPassword,
            Error::Locked(_) => ErrorCode::Locked,
            Error::Expired => ErrorCode::Expired,
            Error::AlreadyDelivered => ErrorCode::AlreadyDelivered,
            Error::Ended | Error::EndedByMove(_) => ErrorCode::Ended,
            Error::MovesNotOffered => ErrorCode::MovesNotOffered,
            Error::NoPendingMove => ErrorCode::NoPendingMove,
            Error::Superseded => ErrorCode::Superseded,
            Error::RateLimited { .. } => ErrorCode::RateLimited,
            Error::Unauthorized => ErrorCode::Unauthorized,
            Error::NotFound => ErrorCode::NotFound,
            Error::MethodNotAllowed => ErrorCode::MethodNotAllowed,
            Error::Unavailable => ErrorCode::Unavailable,
            Error::NotAuthenticated => ErrorCode::NotAuthenticated,
            Error::ClockSkew { .. } => ErrorCode::ClockSkew,
            Error::UnknownConfirmation => ErrorCode::UnknownConfirmation,
            Error::Config(_)
            | Error::SealedDataInvalid
            | Error::KeyRotationIncomplete { .. }
            | Error::Storage(_)
            | Error::AuditChainBroken(_)
            | Error::Io(_)
            | Error::Internal(_)
            | Error::Core(_) => ErrorCode::Internal,
            Error::RegistrationExists { .. }
            | Error::ReissueTooSoon { .. }
            | Error::WeakActivationPassword(_)
            | Error::RequestTimeout
            | Error::NotDelivered
            | Error::TooManyPending { .. }
            | Error::DemoIdsTaken
            | Error::Forbidden(_) => return None,
        })
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        let code = match self {
            Error::RegistrationExists { .. }
            | Error::ReissueTooSoon { .. }
            | Error::NotDelivered
            | Error::TooManyPending { .. }
            | Error::DemoIdsTaken => 409,
            Error::Forbidden(_) => 403,
            Error::WeakActivationPassword(_) => 400,
            Error::RequestTimeout => 408,
            _ => self.wire_code().map_or(500, ErrorCode::http_status),
        };
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// The `Retry-After` of a `503`.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 2;

/// The body of every non-2xx answer: the shape of the protocol's `ErrorBody`, with the admin
/// API's extra codes as plain strings.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = ErrorBody)]
pub struct ApiErrorBody {
    /// Stable machine-readable code.
    pub code: &'static str,
    /// What went wrong, for people; never a secret.
    pub message: String,
    /// With `wrong_activation_password`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tries_left: Option<u32>,
    /// With `rate_limited` and `reissue_too_soon`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// With `weak_activation_password`: which rule refused it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<crate::weakness::Weakness>,
    /// With `clock_skew`: the bank's time, Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_time: Option<u64>,
    /// With `ended` when the registration ended by a phone move: the bank's receipt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub move_receipt: Option<softtoken_core::protocol::wire::MoveReceipt>,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = if status.is_server_error() {
            if status == StatusCode::SERVICE_UNAVAILABLE {
                tracing::warn!(event = "unavailable", error = %self, "request refused");
                "the server is unavailable; try again later".to_owned()
            } else {
                tracing::error!(event = "internal_error", error = %self, "request failed");
                "the server failed; the bank has the details in its log".to_owned()
            }
        } else {
            self.to_string()
        };
        let (tries_left, retry_after) = match &self {
            Error::WrongActivationPassword { tries_left } => (Some(*tries_left), None),
            Error::RateLimited { retry_after } | Error::ReissueTooSoon { retry_after } => {
                (None, Some(*retry_after))
            }
            _ => (None, None),
        };
        let reason = match &self {
            Error::WeakActivationPassword(why) => Some(*why),
            _ => None,
        };
        // A database that is down or a pool that is exhausted passes within seconds (a
        // restart, a failover, a burst): tell clients and load balancers when to come back.
        let retry_after = match &self {
            Error::Unavailable => Some(UNAVAILABLE_RETRY_AFTER_SECS),
            _ => retry_after,
        };
        let server_time = match &self {
            Error::ClockSkew { server_time } => Some(*server_time),
            _ => None,
        };
        let move_receipt = match &self {
            Error::EndedByMove(receipt) => Some((**receipt).clone()),
            _ => None,
        };
        let body = ApiErrorBody {
            code: self.code(),
            message,
            tries_left,
            retry_after,
            reason,
            server_time,
            move_receipt,
        };
        let mut response = (status, axum::Json(body)).into_response();
        if matches!(self, Error::RequestTimeout) {
            // The rest of a trickling body is not waited for.
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        if let Some(secs) = retry_after {
            if let Ok(v) = axum::http::HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Logs(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Logs {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_wrong_password_is_answered_exactly_as_protocol_md_shows_it() {
        const DOC: &str = include_str!("../../../docs/protocol.md");
        let block = DOC
            .split("<!-- vector-json:error_wrong_password -->")
            .nth(1)
            .and_then(|rest| rest.split("<!-- /vector-json -->").next())
            .unwrap();
        let documented: serde_json::Value = serde_json::from_str(
            block.trim().trim_start_matches("```json").trim_end_matches("```"),
        )
        .unwrap();
        let response = Error::WrongActivationPassword { tries_left: 4 }.into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        let sent: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(sent, documented);
    }

    #[test]
    fn a_core_failure_answers_a_generic_500_and_logs_its_real_cause() {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).finish();
        let error = Error::from(softtoken_core::Error::Crypto);
        assert_eq!(error.code(), "internal");
        let response = tracing::subscriber::with_default(subscriber, || error.into_response());
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let log = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
        assert!(log.contains("internal_error"), "{log}");
        assert!(log.contains("a cryptographic operation failed"), "{log}");
        assert!(!log.contains("core operation failed"), "{log}");
    }
}
