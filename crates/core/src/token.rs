//! A token's fields, written once in [`IssuedToken`]: whose token it is, what it is called and
//! how its codes are made, as provisioning settled them. What provisioning hands the app
//! ([`NewToken`]) is that with the seed; what a store on the device shows of a token it keeps
//! ([`TokenSummary`]) is that with the store's id and the time it was added.
//! [`NewToken::into_summary`] turns the one into the other and hands back the seed for the store
//! to seal.
//!
//! `pending_delivery` is not the token's but its delivery's (acknowledged or not), and it sits
//! last in the vault's records; so it is declared once in [`Delivery`], which each of the two
//! carries after the issued fields (flat and last in the JSON).
//!
//! The vault's file records are a [`TokenSummary`] beside the sealed seed (`vault/format.rs`),
//! so a field changed here changes the vault format: its fixture test says whether customers'
//! existing vaults still open. The summary's JSON object is flat (`id`, the issued fields in
//! their order, `created_at`, `pending_delivery`), as it always was.

use serde::{Deserialize, Serialize};

use crate::ids::{AttemptId, DisplayName, ServiceId, TokenId, UserId};
use crate::totp::{ClockOffset, Seed, TotpParams};

/// A token as provisioning settled it: everything the app shows and uses but the seed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedToken {
    /// The bank's service ID.
    pub service_id: ServiceId,
    /// The customer's user ID.
    pub user_id: UserId,
    /// The name the customer sees.
    pub display_name: DisplayName,
    /// The bank's name for itself, from the server.
    pub issuer: String,
    /// How codes are made.
    pub params: TotpParams,
    /// Seconds to add to the device clock to get the bank's.
    pub offset: ClockOffset,
}

/// Whether the bank has acknowledged a token's delivery: what provisioning hands over and what a
/// store keeps share it. In JSON it is the one key `pending_delivery`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// `Some` until the bank has acknowledged delivery: the attempt to acknowledge.
    #[serde(rename = "pending_delivery")]
    pub pending: Option<AttemptId>,
}

impl Delivery {
    /// A delivery the bank has acknowledged (or that needs no acknowledgement).
    pub const ACKNOWLEDGED: Self = Self { pending: None };
}

/// A token as provisioning produces it, for the app to store (the vault's input). Its
/// delivery names the attempt to acknowledge once it is stored.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// The token's fields.
    pub issued: IssuedToken,
    /// The shared secret (its `Debug` prints `<redacted>`).
    pub seed: Seed,
    /// The attempt to acknowledge, until the bank has.
    pub delivery: Delivery,
}

/// What the app may show about a stored token: everything but the seed. Unknown fields are
/// refused here, for the vault's records (serde refuses them only at the innermost map of nested
/// `flatten`s).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSummary {
    /// The store's id for the token.
    pub id: TokenId,
    /// The token's fields, flat in the vault's records.
    #[serde(flatten)]
    pub issued: IssuedToken,
    /// When the token was added (Unix seconds, device clock).
    pub created_at: u64,
    /// The attempt to acknowledge, while the bank has not; flat in the vault's records.
    #[serde(flatten)]
    pub delivery: Delivery,
    /// The move to a new phone this token started and the bank has not yet said is over
    /// (`docs/protocol.md` §4.5). Absent from the records of tokens without one, so files
    /// written before the move existed open unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_move: Option<PendingMove>,
}

/// A move to a new phone the bank prepared for a token: kept with the token so that an app
/// restarted while the customer sets up the new phone still asks the bank how it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingMove {
    /// The bank's opaque id of the move.
    pub move_id: String,
    /// The user ID the bank issued for the new phone.
    pub new_user_id: UserId,
    /// When the bank lets the prepared registration expire (Unix seconds, bank clock).
    pub expires_at: u64,
}

impl NewToken {
    /// The token as a store keeps it under `id`, added at `created_at`, and its seed, which the
    /// store seals apart.
    pub fn into_summary(self, id: TokenId, created_at: u64) -> (TokenSummary, Seed) {
        let NewToken { issued, seed, delivery } = self;
        (TokenSummary { id, issued, created_at, delivery, pending_move: None }, seed)
    }
}
