//! A token's end of use asked for by the app itself (`docs/protocol.md` §4.4): when the customer
//! deletes a token, the app can end its registration at the bank too, proving with the app's
//! confirmation key (confirmation.md §3.1) that the request comes from the token, not from
//! someone who knows the customer's IDs.
//!
//! The proof covers the registration and a time, like a fetch's, under its own label. A captured
//! request cannot do harm: it is refused outside its 300-second window, and within it, it can
//! only end the registration whose token made it, which ends once (a repeat is `410 ended`); a
//! later registration of the same pair has another seed, so other keys.

use serde::{Deserialize, Serialize};

use super::keys::ConfirmationKeys;
use crate::ids::{ServiceId, UserId};
use crate::protocol::wire::Mac;

/// Path where the app ends its registration.
pub const PATH_END: &str = "/v1/registrations/end";
/// How far an end request's time may be from the bank's clock (seconds, either way).
pub const END_WINDOW_SECS: u64 = 300;

/// The app's request to end its registration (§4.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EndRequest {
    /// The registration.
    pub service_id: ServiceId,
    /// The registration.
    pub user_id: UserId,
    /// The bank time the app believes it is (its clock plus the offset learnt at activation).
    pub time: u64,
    /// `HMAC-SHA256(k_app, …)` over the three under the end label.
    pub proof: Mac,
}

impl EndRequest {
    /// The app's request at bank time `time`.
    pub fn new(keys: &ConfirmationKeys, service_id: ServiceId, user_id: UserId, time: u64) -> Self {
        let proof = keys.end_proof(&service_id, &user_id, time);
        Self { service_id, user_id, time, proof }
    }

    /// Whether the proof is the token's, whatever the time.
    pub fn is_the_tokens(&self, keys: &ConfirmationKeys) -> bool {
        keys.end_proof(&self.service_id, &self.user_id, self.time) == self.proof
    }

    /// Whether its time is within [`END_WINDOW_SECS`] of the bank's `now`.
    pub fn is_fresh_at(&self, now: u64) -> bool {
        self.time.abs_diff(now) <= END_WINDOW_SECS
    }
}

/// The bank's answer: the registration has ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Ended {
    /// The registration.
    pub service_id: ServiceId,
    /// The registration.
    pub user_id: UserId,
    /// Bank time when it ended (now).
    pub ended_at: u64,
}
