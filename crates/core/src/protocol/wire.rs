//! The JSON bodies of the provisioning protocol, shared by the app's client and the bank's server.
//!
//! Every body rejects unknown fields, every binary field is base64url without padding and must
//! decode to exactly its length, and the IDs must be sent in canonical form (ASCII digits only):
//! a peer that sends anything else gets a clear refusal, never a guess. `docs/protocol.md` is the
//! normative description; this module is its implementation.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use subtle::ConstantTimeEq;

pub use crate::base64url::{b64_decode, b64_encode};
pub use crate::ids::{AttemptId, ATTEMPT_ID_LEN};
use crate::ids::{ServiceId, UserId};
use crate::totp::{Algorithm, TotpParams};

/// Path of step 1: the app's SPAKE2 message, answered with the bank's.
pub const PATH_START: &str = "/v1/provision/start";
/// Path of step 2: the app's key confirmation, answered with the bank's and the token parameters.
pub const PATH_CONFIRM: &str = "/v1/provision/confirm";
/// Path of step 3: the app says it has stored the token.
pub const PATH_ACK: &str = "/v1/provision/ack";

/// Bytes in a nonce.
pub const NONCE_LEN: usize = 32;
/// Bytes in a SPAKE2 message (side byte + compressed Edwards point).
pub const PAKE_MSG_LEN: usize = 33;
/// Bytes in a MAC (HMAC-SHA256).
pub const MAC_LEN: usize = 32;

/// A fixed-length binary field, carried as base64url without padding.
///
/// Equality is constant-time, so comparing MACs with `==` is safe.
#[derive(Clone, Copy)]
pub struct Bytes<const N: usize>(pub [u8; N]);

impl<const N: usize> Bytes<N> {
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; N] {
        &self.0
    }
}

impl<const N: usize> PartialEq for Bytes<N> {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}
impl<const N: usize> Eq for Bytes<N> {}

impl<const N: usize> fmt::Debug for Bytes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only public values (nonces, PAKE messages, MACs already on the wire) use this type.
        f.write_str(&b64_encode(&self.0))
    }
}

impl<const N: usize> Serialize for Bytes<N> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&b64_encode(&self.0))
    }
}

impl<'de, const N: usize> Deserialize<'de> for Bytes<N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        b64_decode::<N>(&s).map(Bytes).map_err(|_| {
            serde::de::Error::custom(format_args!(
                "expected {N} bytes as base64url without padding ({} characters)",
                (4 * N).div_ceil(3)
            ))
        })
    }
}

/// IDs on the wire must already be canonical (exactly the ASCII digits): the transcript hashes
/// the string as sent, so a lenient parse here would let two peers hash different bytes.
fn canonical_service_id<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<ServiceId, D::Error> {
    let s = String::deserialize(d)?;
    match ServiceId::new(&s) {
        Ok(id) if id.as_str() == s => Ok(id),
        _ => Err(serde::de::Error::custom("service_id must be exactly 8 ASCII digits")),
    }
}

fn canonical_user_id<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<UserId, D::Error> {
    let s = String::deserialize(d)?;
    match UserId::new(&s) {
        Ok(id) if id.as_str() == s => Ok(id),
        _ => Err(serde::de::Error::custom("user_id must be exactly 12 ASCII digits")),
    }
}

/// `POST /v1/provision/start` body: who the app claims to be, its nonce and SPAKE2 message A.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// The bank's service ID, 8 ASCII digits.
    #[serde(deserialize_with = "canonical_service_id")]
    pub service_id: ServiceId,
    /// The registration's user ID, 12 ASCII digits.
    #[serde(deserialize_with = "canonical_user_id")]
    pub user_id: UserId,
    /// 32 fresh random bytes from the app.
    pub client_nonce: Bytes<NONCE_LEN>,
    /// SPAKE2 message of side A: `0x41` followed by a compressed Edwards25519 point.
    pub pake: Bytes<PAKE_MSG_LEN>,
}

/// `200` answer to start: the attempt, the bank's nonce and SPAKE2 message B.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartResponse {
    /// Names this attempt in confirm and ack.
    pub attempt_id: AttemptId,
    /// 32 fresh random bytes from the bank.
    pub server_nonce: Bytes<NONCE_LEN>,
    /// SPAKE2 message of side B: `0x42` followed by a compressed Edwards25519 point.
    pub pake: Bytes<PAKE_MSG_LEN>,
    /// Seconds the bank waits for the confirm of this attempt.
    pub attempt_expires_in: u64,
}

/// `POST /v1/provision/confirm` body: the app's proof that it knows the activation password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    /// From [`StartResponse::attempt_id`].
    pub attempt_id: AttemptId,
    /// HMAC-SHA256(kc, th).
    pub client_confirm: Bytes<MAC_LEN>,
}

/// The token's parameters as the bank sends them after a successful confirm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenInfo {
    /// `"SHA1"`, `"SHA256"` or `"SHA512"`.
    pub algorithm: Algorithm,
    /// 6 or 8.
    pub digits: u8,
    /// Seconds per code (the bank's is 60).
    pub period: u32,
    /// The bank's name, shown with the token (1–64 characters).
    pub issuer: String,
    /// The default display name the customer may change (1–32 characters).
    pub display_name: String,
}

impl TokenInfo {
    /// The code parameters.
    pub fn params(&self) -> TotpParams {
        TotpParams { algorithm: self.algorithm, digits: self.digits, period: self.period }
    }
}

/// `200` answer to confirm: the bank's proof, the token parameters and the bank's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmResponse {
    /// HMAC-SHA256(ks, th || tp): tp holds `token` and `server_time` (protocol.md §3.4).
    pub server_confirm: Bytes<MAC_LEN>,
    /// What the app stores with the seed.
    pub token: TokenInfo,
    /// The bank's clock, Unix seconds, when it answered.
    pub server_time: u64,
}

/// `POST /v1/provision/ack` body: the app has stored the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckRequest {
    /// The confirmed attempt whose seed the app stored.
    pub attempt_id: AttemptId,
    /// HMAC-SHA256(seed, "softtoken v1 delivery ack" || attempt_id bytes).
    pub ack: Bytes<MAC_LEN>,
}

/// What the bank recorded after an ack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// The bank knows the app holds the seed; verify will accept its codes.
    Delivered,
}

/// `200` answer to ack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckResponse {
    /// Always [`DeliveryState::Delivered`].
    pub state: DeliveryState,
}

/// The stable machine-readable code of every error body. New codes may be added; a peer that
/// does not know a code reads it as [`ErrorCode::Unknown`] and goes by the HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// 400: malformed JSON, wrong types, unknown fields, bad lengths or IDs.
    InvalidRequest,
    /// 413: the body is larger than the server accepts.
    BodyTooLarge,
    /// 404: no registration for this service ID and user ID.
    UnknownRegistration,
    /// 404: the attempt ID is not known (never issued, or forgotten after it expired).
    UnknownAttempt,
    /// 410: the attempt was not confirmed in time; start a new one.
    AttemptExpired,
    /// 401: the key confirmation failed: wrong activation password; body has `tries_left`.
    WrongActivationPassword,
    /// 423: too many wrong activation passwords; the bank must re-issue or unlock.
    Locked,
    /// 410: the registration expired before the app fetched it.
    Expired,
    /// 409: the token of this registration was already delivered to an app.
    AlreadyDelivered,
    /// 410: the bank ended the use of this registration.
    Ended,
    /// 409: the ack names an attempt that is not the latest confirmed one.
    Superseded,
    /// 429: too many requests or failures; body has `retry_after` seconds.
    RateLimited,
    /// 401: an endpoint that needs the bank's credential was called without a valid one.
    Unauthorized,
    /// 404: no such endpoint.
    NotFound,
    /// 405: the endpoint exists but not with this method.
    MethodNotAllowed,
    /// 500: the server failed; details are in its log, not in the body.
    Internal,
    /// 503: the server is starting, stopping or overloaded; try again later.
    Unavailable,
    /// 401: a confirmation fetch or answer whose token MAC the bank could not check: no such
    /// registration, a registration not in use, or a proof made with another key. The three are
    /// one answer on purpose, so the endpoint tells a prober nothing (confirmation.md §9).
    NotAuthenticated,
    /// 400: a confirmation fetch with a valid proof but a `time` more than 300 s from the bank's
    /// clock; body has `server_time`.
    ClockSkew,
    /// 404: no confirmation request with this id for this registration.
    UnknownConfirmation,
    /// 403: the bank does not offer the phone move; the customer takes the manual path (end of
    /// use on the bank web, a new issue from the next day).
    MovesNotOffered,
    /// 409: a move cancel when no move is pending.
    NoPendingMove,
    /// 400: the activation password chosen is too easy to guess; body has `reason`.
    WeakActivationPassword,
    /// A code this build does not know.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The HTTP status that goes with the code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidRequest
            | ErrorCode::ClockSkew
            | ErrorCode::WeakActivationPassword => 400,
            ErrorCode::MovesNotOffered => 403,
            ErrorCode::BodyTooLarge => 413,
            ErrorCode::UnknownRegistration
            | ErrorCode::UnknownAttempt
            | ErrorCode::UnknownConfirmation
            | ErrorCode::NotFound => 404,
            ErrorCode::AttemptExpired | ErrorCode::Expired | ErrorCode::Ended => 410,
            ErrorCode::WrongActivationPassword
            | ErrorCode::Unauthorized
            | ErrorCode::NotAuthenticated => 401,
            ErrorCode::Locked => 423,
            ErrorCode::AlreadyDelivered | ErrorCode::Superseded | ErrorCode::NoPendingMove => 409,
            ErrorCode::RateLimited => 429,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::Internal | ErrorCode::Unknown => 500,
            ErrorCode::Unavailable => 503,
        }
    }

    /// The snake_case string on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::BodyTooLarge => "body_too_large",
            ErrorCode::UnknownRegistration => "unknown_registration",
            ErrorCode::UnknownAttempt => "unknown_attempt",
            ErrorCode::AttemptExpired => "attempt_expired",
            ErrorCode::WrongActivationPassword => "wrong_activation_password",
            ErrorCode::Locked => "locked",
            ErrorCode::Expired => "expired",
            ErrorCode::AlreadyDelivered => "already_delivered",
            ErrorCode::Ended => "ended",
            ErrorCode::Superseded => "superseded",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::Internal => "internal",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::NotAuthenticated => "not_authenticated",
            ErrorCode::ClockSkew => "clock_skew",
            ErrorCode::UnknownConfirmation => "unknown_confirmation",
            ErrorCode::MovesNotOffered => "moves_not_offered",
            ErrorCode::NoPendingMove => "no_pending_move",
            ErrorCode::WeakActivationPassword => "weak_activation_password",
            ErrorCode::Unknown => "unknown",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of every non-2xx answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// What went wrong, for programs.
    pub code: ErrorCode,
    /// What went wrong, for people (English; never a secret).
    pub message: String,
    /// With `wrong_activation_password`: wrong passwords the registration still accepts before
    /// it is locked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tries_left: Option<u32>,
    /// With `rate_limited`: seconds to wait before trying again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// With `clock_skew`: the bank's clock, Unix seconds, so the app can tell the customer by
    /// how much the phone's clock is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_time: Option<u64>,
    /// With `weak_activation_password`: why ([`crate::weak_number::Weakness::code`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// With `ended`, when the registration ended by a completed phone move: the bank's receipt,
    /// which the old token checks with its own key (§4.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub move_receipt: Option<MoveReceipt>,
}

/// The bank's receipt that a phone move completed: the old registration ended because the new
/// one, `new_user_id`, was activated at `completed_at`. `mac` is made with the old token's
/// `k_app` (`crate::confirm::phone_move`), so only the bank could have made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoveReceipt {
    /// The registration the token moved to.
    pub new_user_id: UserId,
    /// Bank time of the new phone's ack, when the old registration ended.
    pub completed_at: u64,
    /// `HMAC-SHA256(k_app_old, …)` over the move (§4.5.4).
    pub mac: Bytes<MAC_LEN>,
}

impl ErrorBody {
    /// A body with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            tries_left: None,
            retry_after: None,
            server_time: None,
            reason: None,
            move_receipt: None,
        }
    }

    /// Adds `tries_left`.
    #[must_use]
    pub fn with_tries_left(mut self, tries_left: u32) -> Self {
        self.tries_left = Some(tries_left);
        self
    }

    /// Adds `retry_after`.
    #[must_use]
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// Adds `server_time`.
    #[must_use]
    pub fn with_server_time(mut self, unix_secs: u64) -> Self {
        self.server_time = Some(unix_secs);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start_json(service: &str, user: &str, nonce: &str, pake: &str) -> String {
        format!(
            r#"{{"service_id":"{service}","user_id":"{user}","client_nonce":"{nonce}","pake":"{pake}"}}"#
        )
    }

    #[test]
    fn binary_fields_are_base64url_without_padding_and_exact_length() {
        let nonce = b64_encode(&[0xfb; 32]);
        assert_eq!(nonce.len(), 43);
        assert!(!nonce.contains('=') && !nonce.contains('+') && !nonce.contains('/'));
        let pake = b64_encode(&[0x41; 33]);
        let ok = start_json("10112231", "999800000001", &nonce, &pake);
        let req: StartRequest = serde_json::from_str(&ok).unwrap();
        assert_eq!(req.client_nonce.0, [0xfb; 32]);
        assert_eq!(serde_json::to_string(&req).unwrap(), ok);

        for (bad_nonce, why) in [
            (b64_encode(&[0; 31]), "short"),
            (b64_encode(&[0; 33]), "long"),
            (format!("{nonce}="), "padded"),
            (nonce.replace('_', "/").replace('-', "+"), "standard alphabet"),
            (format!("{}B", &nonce[..42]), "non-canonical trailing bits"),
            (String::new(), "empty"),
        ] {
            if bad_nonce == nonce {
                continue;
            }
            let json = start_json("10112231", "999800000001", &bad_nonce, &pake);
            assert!(serde_json::from_str::<StartRequest>(&json).is_err(), "{why}: {bad_nonce}");
        }
    }

    #[test]
    fn ids_on_the_wire_must_be_canonical_digits() {
        let nonce = b64_encode(&[1; 32]);
        let pake = b64_encode(&[0x41; 33]);
        for (service, user) in [
            ("1011-2231", "999800000001"),
            ("１０１１２２３１", "999800000001"),
            ("10112231", "9998 0000 0001"),
            ("1011223", "999800000001"),
        ] {
            let json = start_json(service, user, &nonce, &pake);
            assert!(serde_json::from_str::<StartRequest>(&json).is_err(), "{service} {user}");
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        let json = r#"{"attempt_id":"AAAAAAAAAAAAAAAAAAAAAA","client_confirm":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","extra":1}"#;
        assert!(serde_json::from_str::<ConfirmRequest>(json).is_err());
        let ok = json.replace(r#","extra":1"#, "");
        assert!(serde_json::from_str::<ConfirmRequest>(&ok).is_ok());
        assert!(serde_json::from_str::<AckResponse>(r#"{"state":"delivered","x":0}"#).is_err());
    }

    #[test]
    fn error_bodies_carry_stable_codes_and_optional_counters() {
        let body = ErrorBody::new(ErrorCode::WrongActivationPassword, "wrong").with_tries_left(3);
        let json = serde_json::to_string(&body).unwrap();
        assert_eq!(
            json,
            r#"{"code":"wrong_activation_password","message":"wrong","tries_left":3}"#
        );
        assert_eq!(serde_json::from_str::<ErrorBody>(&json).unwrap(), body);
        let future: ErrorBody =
            serde_json::from_str(r#"{"code":"some_new_code","message":"m"}"#).unwrap();
        assert_eq!(future.code, ErrorCode::Unknown);
        for code in [
            ErrorCode::InvalidRequest,
            ErrorCode::UnknownRegistration,
            ErrorCode::Locked,
            ErrorCode::Expired,
            ErrorCode::AlreadyDelivered,
            ErrorCode::Ended,
            ErrorCode::Superseded,
            ErrorCode::RateLimited,
            ErrorCode::AttemptExpired,
        ] {
            let s = serde_json::to_string(&code).unwrap();
            assert_eq!(s, format!("\"{}\"", code.as_str()));
        }
        assert_eq!(ErrorCode::Locked.http_status(), 423);
        assert_eq!(ErrorCode::RateLimited.http_status(), 429);
    }

    #[test]
    fn token_info_reads_the_banks_parameters() {
        let json = r#"{"algorithm":"SHA1","digits":6,"period":60,"issuer":"Bank","display_name":"Bank OTP"}"#;
        let info: TokenInfo = serde_json::from_str(json).unwrap();
        assert_eq!(info.params(), TotpParams::default());
        assert!(serde_json::from_str::<TokenInfo>(&json.replace("SHA1", "MD5")).is_err());
    }
}
