//! Transaction confirmation (取引認証): the customer sees a transfer's payee and amount in the app
//! and approves or denies exactly that, so a phishing relay that changes either cannot move money
//! with what the customer approved. `docs/confirmation.md` is the normative description.
//!
//! - [`details`]: what is approved, by kind, each field validated once and never rewritten.
//! - [`keys`]: the keys both ends derive from the token's seed, and the bytes they authenticate.
//! - [`offline`]: the offline code (RFC 6287 OCRA) over the payee's account number and amount,
//!   for a phone without network.
//! - [`end`]: the token's own request to end its registration, proven with the same keys.
//! - [`phone_move`]: the token's hand-over to a new phone (機種変更), proven with the same keys.
//!
//! Both ends use this module: the bank makes a [`Request`] and sends it as a [`SignedRequest`];
//! the app checks it with [`SignedRequest::open`] and answers with [`Request::answer`]; the bank
//! judges the answer with [`Request::judge`]. The state of a request (pending, answered, expired)
//! is the bank's to keep; the rules here are pure functions of the request, the keys and the time.

pub mod details;
pub mod end;
pub mod keys;
pub mod offline;
pub mod phone_move;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use details::{AccountNumber, AccountType, Amount, Details, Payee};
pub use keys::ConfirmationKeys;

use crate::base64url::{b64_decode, b64_encode};
use crate::error::{Error, Result};
use crate::ids::{ServiceId, UserId};
use crate::protocol::wire::{Bytes, MAC_LEN};
use keys::RequestFields;

/// Path where the app fetches its pending requests.
pub const PATH_PENDING: &str = "/v1/confirmations/pending";
/// Path where the app answers one.
pub const PATH_ANSWER: &str = "/v1/confirmations/answer";
/// How long a request stays answerable unless the bank says otherwise (seconds).
pub const DEFAULT_LIFETIME_SECS: u64 = 120;
/// The longest lifetime a bank may give a request.
pub const MAX_LIFETIME_SECS: u64 = 300;
/// The shortest: less would leave a customer no time to read.
pub const MIN_LIFETIME_SECS: u64 = 30;
/// How far a fetch's time may be from the bank's clock (seconds, either way).
pub const FETCH_WINDOW_SECS: u64 = 300;
/// Bytes in a request ID.
pub const CONFIRMATION_ID_LEN: usize = 16;

/// A request's ID: 16 random bytes chosen by the bank, base64url on the wire (22 characters).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ConfirmationId([u8; CONFIRMATION_ID_LEN]);

impl ConfirmationId {
    /// A fresh random ID.
    ///
    /// # Errors
    /// [`Error::Crypto`] if the OS random generator fails.
    pub fn random() -> Result<Self> {
        use rand_core::{OsRng, RngCore};
        let mut b = [0u8; CONFIRMATION_ID_LEN];
        OsRng.try_fill_bytes(&mut b).map_err(|_| Error::Crypto)?;
        Ok(Self(b))
    }

    /// An ID from its bytes (test vectors, storage).
    pub fn from_bytes(bytes: [u8; CONFIRMATION_ID_LEN]) -> Self {
        Self(bytes)
    }

    /// The 16 bytes, as they enter the digest and the answer.
    pub fn as_bytes(&self) -> &[u8; CONFIRMATION_ID_LEN] {
        &self.0
    }

    /// Parses the base64url form.
    ///
    /// # Errors
    /// [`Error::ProtocolViolation`] unless it is exactly 16 bytes in base64url without padding.
    pub fn parse(s: &str) -> Result<Self> {
        b64_decode::<CONFIRMATION_ID_LEN>(s).map(Self)
    }
}

impl fmt::Display for ConfirmationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&b64_encode(&self.0))
    }
}

impl fmt::Debug for ConfirmationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConfirmationId({self})")
    }
}

impl Serialize for ConfirmationId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for ConfirmationId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&s).map_err(|_| {
            serde::de::Error::custom(
                "expected 16 bytes as base64url without padding (22 characters)",
            )
        })
    }
}

/// The customer's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// 承認: do it.
    Approve,
    /// 拒否: do not; "I did not ask for this" is a denial too.
    Deny,
}

impl Decision {
    /// The name on the wire and in the answer's MAC.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Deny => "deny",
        }
    }
}

/// The two-digit number the bank's page shows and the customer types into the app when the
/// request asks for it, so an approval is tied to the page the customer is looking at.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct MatchNumber(String);

impl MatchNumber {
    /// Checks the form: exactly two ASCII digits (full-width digits typed in the app are mapped
    /// before this).
    ///
    /// # Errors
    /// [`Error::ProtocolViolation`] for anything else.
    pub fn new(s: &str) -> Result<Self> {
        if s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::ProtocolViolation("the number to match is not two digits"))
        }
    }

    /// A fresh random number 00–99, uniformly (the bank's).
    ///
    /// # Errors
    /// [`Error::Crypto`] if the OS random generator fails.
    pub fn random() -> Result<Self> {
        use rand_core::{OsRng, RngCore};
        loop {
            let mut b = [0u8; 1];
            OsRng.try_fill_bytes(&mut b).map_err(|_| Error::Crypto)?;
            // 200 of the 256 byte values map evenly onto 0–99.
            if b[0] < 200 {
                return Self::new(&format!("{:02}", b[0] % 100));
            }
        }
    }

    /// The two digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for MatchNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MatchNumber({})", self.0)
    }
}

impl<'de> Deserialize<'de> for MatchNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::new(&s).map_err(serde::de::Error::custom)
    }
}

/// A confirmation request as the bank made it, for one registration in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    id: ConfirmationId,
    service_id: ServiceId,
    user_id: UserId,
    details: Details,
    created_at: u64,
    expires_at: u64,
    match_required: bool,
}

impl Request {
    /// A request created at `now` (bank time) that stays answerable for `lifetime_secs`.
    ///
    /// # Errors
    /// [`Error::Invalid`] from [`Details::validate`]; [`Error::ProtocolViolation`] for a lifetime
    /// outside [`MIN_LIFETIME_SECS`]..=[`MAX_LIFETIME_SECS`].
    pub fn new(
        id: ConfirmationId,
        service_id: ServiceId,
        user_id: UserId,
        details: Details,
        now: u64,
        lifetime_secs: u64,
        match_required: bool,
    ) -> Result<Self> {
        if !(MIN_LIFETIME_SECS..=MAX_LIFETIME_SECS).contains(&lifetime_secs) {
            return Err(Error::ProtocolViolation("a confirmation lives 30 to 300 seconds"));
        }
        let details = details.validate()?;
        let expires_at = now.saturating_add(lifetime_secs);
        Ok(Self { id, service_id, user_id, details, created_at: now, expires_at, match_required })
    }

    fn fields(&self) -> RequestFields<'_> {
        RequestFields {
            id: &self.id,
            service_id: &self.service_id,
            user_id: &self.user_id,
            details: &self.details,
            created_at: self.created_at,
            expires_at: self.expires_at,
            match_required: self.match_required,
        }
    }

    /// The digest of exactly the fields shown (§3.2).
    pub fn digest(&self) -> [u8; 32] {
        self.fields().digest()
    }

    /// The request as sent to the app, with the bank's MAC.
    pub fn sign(&self, keys: &ConfirmationKeys) -> SignedRequest {
        SignedRequest {
            id: self.id.clone(),
            details: self.details.clone(),
            created_at: self.created_at,
            expires_at: self.expires_at,
            match_required: self.match_required,
            mac: keys.request_mac(&self.digest()),
        }
    }

    /// The app's answer to this request.
    ///
    /// # Errors
    /// [`Error::ProtocolViolation`] for an approval without the number the request asks for, or
    /// a number given where none is asked or with a denial.
    pub fn answer(
        &self,
        keys: &ConfirmationKeys,
        decision: Decision,
        typed: Option<MatchNumber>,
    ) -> Result<AnswerRequest> {
        let wants_number = self.match_required && decision == Decision::Approve;
        if wants_number != typed.is_some() {
            return Err(Error::ProtocolViolation(
                "an approval carries the number to match exactly when the request asks for it",
            ));
        }
        let mac = keys.answer_mac(&self.id, &self.digest(), decision, typed.as_ref());
        Ok(AnswerRequest {
            service_id: self.service_id.clone(),
            user_id: self.user_id.clone(),
            id: self.id.clone(),
            decision,
            typed_number: typed,
            mac,
        })
    }

    /// The bank's judgement of an answer at bank time `now` (§5): the MAC first, so nothing is
    /// learnt from an answer nobody with the token made; then the time; then the number.
    pub fn judge(
        &self,
        keys: &ConfirmationKeys,
        answer: &AnswerRequest,
        expected: Option<&MatchNumber>,
        now: u64,
    ) -> Verdict {
        let same_request = answer.id == self.id
            && answer.service_id == self.service_id
            && answer.user_id == self.user_id;
        let mac = keys.answer_mac(
            &self.id,
            &self.digest(),
            answer.decision,
            answer.typed_number.as_ref(),
        );
        if !same_request || mac != answer.mac {
            return Verdict::NotAuthenticated;
        }
        if now >= self.expires_at {
            return Verdict::Late;
        }
        match answer.decision {
            Decision::Deny => Verdict::Denied,
            Decision::Approve => match (self.match_required, expected, &answer.typed_number) {
                (false, _, None) => Verdict::Approved,
                (true, Some(want), Some(got)) if want == got => Verdict::Approved,
                (true, _, _) => Verdict::WrongNumber,
                // A number where none was shown: an honest app never sends it.
                (false, _, Some(_)) => Verdict::NotAuthenticated,
            },
        }
    }

    /// The request's ID.
    pub fn id(&self) -> &ConfirmationId {
        &self.id
    }

    /// What is to be approved.
    pub fn details(&self) -> &Details {
        &self.details
    }

    /// When it was created (bank time).
    pub fn created_at(&self) -> u64 {
        self.created_at
    }

    /// When it stops being answerable (bank time): at and after this second it is late.
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// Whether an approval must carry the number shown on the bank's page.
    pub fn match_required(&self) -> bool {
        self.match_required
    }

    /// The registration's service ID.
    pub fn service_id(&self) -> &ServiceId {
        &self.service_id
    }

    /// The registration's user ID.
    pub fn user_id(&self) -> &UserId {
        &self.user_id
    }

    /// Seconds left to answer at bank time `now` (0 once late).
    pub fn seconds_left(&self, now: u64) -> u64 {
        self.expires_at.saturating_sub(now)
    }
}

/// What the bank makes of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Authenticated, in time, approved (with the right number if one was asked for).
    Approved,
    /// Authenticated, in time, denied.
    Denied,
    /// Authenticated approval whose typed number is not the one the page showed: the request is
    /// refused (the customer may be looking at a page that is not the bank's).
    WrongNumber,
    /// Authenticated, but at or after the expiry.
    Late,
    /// Not made by the holder of this token for exactly these fields.
    NotAuthenticated,
}

/// A request on the wire (§4.1), as the app receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedRequest {
    /// The request's ID.
    pub id: ConfirmationId,
    /// What is to be approved.
    pub details: Details,
    /// Creation time (bank time, Unix seconds).
    pub created_at: u64,
    /// Expiry (bank time).
    pub expires_at: u64,
    /// Whether an approval must carry the number shown on the bank's page.
    pub match_required: bool,
    /// `HMAC-SHA256(k_bank, digest)`.
    pub mac: Bytes<MAC_LEN>,
}

impl SignedRequest {
    /// The app's check of a request for its token: the bank's MAC over exactly these fields.
    ///
    /// # Errors
    /// [`Error::BankNotAuthenticated`] when the MAC does not match (the request was changed on
    /// the way or not made by this token's bank): show nothing of it, say it was refused;
    /// [`Error::Invalid`] for a sign-in without its note.
    pub fn open(
        self,
        keys: &ConfirmationKeys,
        service_id: &ServiceId,
        user_id: &UserId,
    ) -> Result<Request> {
        let details = self.details.validate()?;
        let request = Request {
            id: self.id,
            service_id: service_id.clone(),
            user_id: user_id.clone(),
            details,
            created_at: self.created_at,
            expires_at: self.expires_at,
            match_required: self.match_required,
        };
        if keys.request_mac(&request.digest()) != self.mac {
            return Err(Error::BankNotAuthenticated);
        }
        Ok(request)
    }
}

/// The app's fetch of its pending requests (§4.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchRequest {
    /// The registration.
    pub service_id: ServiceId,
    /// The registration.
    pub user_id: UserId,
    /// The bank time the app believes it is (its clock plus the offset learnt at activation).
    pub time: u64,
    /// `HMAC-SHA256(k_app, …)` over the three (§3.4).
    pub proof: Bytes<MAC_LEN>,
}

impl FetchRequest {
    /// The app's fetch at bank time `time`.
    pub fn new(keys: &ConfirmationKeys, service_id: ServiceId, user_id: UserId, time: u64) -> Self {
        let proof = keys.fetch_proof(&service_id, &user_id, time);
        Self { service_id, user_id, time, proof }
    }

    /// The bank's check at `now`: the proof, and a time within [`FETCH_WINDOW_SECS`].
    pub fn is_authentic(&self, keys: &ConfirmationKeys, now: u64) -> bool {
        let proof = keys.fetch_proof(&self.service_id, &self.user_id, self.time);
        proof == self.proof && self.time.abs_diff(now) <= FETCH_WINDOW_SECS
    }
}

/// The bank's answer to a fetch: the pending requests, oldest first, and the bank's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchResponse {
    /// The requests still answerable.
    pub requests: Vec<SignedRequest>,
    /// The bank's clock when it answered (Unix seconds), with `time_mac`. A bank before this
    /// field sends neither, and the app keeps the offset it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_time: Option<u64>,
    /// `HMAC-SHA256(k_bank, …)` over the fetch's proof and `server_time` (§3.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_mac: Option<Bytes<MAC_LEN>>,
}

impl FetchResponse {
    /// The bank's answer at `now` to `fetch`: `requests` and its clock, authenticated for that
    /// fetch.
    pub fn new(
        keys: &ConfirmationKeys,
        fetch: &FetchRequest,
        requests: Vec<SignedRequest>,
        now: u64,
    ) -> Self {
        let time_mac = keys.time_mac(&fetch.proof, now);
        Self { requests, server_time: Some(now), time_mac: Some(time_mac) }
    }

    /// The bank's clock as this answer to `fetch` states it, when it does (`None` from a bank
    /// that sends no time).
    ///
    /// # Errors
    /// [`Error::ProtocolViolation`] when the time comes without its MAC or the MAC is not the
    /// bank's for this fetch: the answer was changed on the way, or belongs to another fetch.
    pub fn authentic_server_time(
        &self,
        keys: &ConfirmationKeys,
        fetch: &FetchRequest,
    ) -> Result<Option<u64>> {
        match (self.server_time, &self.time_mac) {
            (None, None) => Ok(None),
            (Some(time), Some(mac)) if *mac == keys.time_mac(&fetch.proof, time) => Ok(Some(time)),
            (Some(_), Some(_)) => {
                Err(Error::ProtocolViolation("the bank's time is not authenticated"))
            }
            _ => Err(Error::ProtocolViolation("server_time and time_mac come together")),
        }
    }
}

/// The app's answer (§4.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerRequest {
    /// The registration.
    pub service_id: ServiceId,
    /// The registration.
    pub user_id: UserId,
    /// The request answered.
    pub id: ConfirmationId,
    /// Approve or deny.
    pub decision: Decision,
    /// The number the customer typed, with an approval of a request that asks for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typed_number: Option<MatchNumber>,
    /// `HMAC-SHA256(k_app, …)` (§3.3).
    pub mac: Bytes<MAC_LEN>,
}

/// What became of a request: the bank's answer to an answer and to a status read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfirmationState {
    /// Not answered yet and not expired.
    Pending,
    /// The customer approved it.
    Approved,
    /// The customer denied it.
    Denied,
    /// The customer approved with a number that was not the page's: refused.
    WrongNumber,
    /// Nobody answered in time.
    Expired,
    /// The bank withdrew it (the customer left the page, or the web tier cancelled it).
    Cancelled,
}

impl ConfirmationState {
    /// The name on the wire and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::WrongNumber => "wrong_number",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
        }
    }

    /// The state for a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Approved,
            Self::Denied,
            Self::WrongNumber,
            Self::Expired,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    /// True once nothing can change it any more.
    pub fn is_final(self) -> bool {
        self != Self::Pending
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod vectors;
