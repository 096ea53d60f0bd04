//! A token's fields, written once: what provisioning makes ([`NewToken`], seed included) and
//! what a store on the device shows of a token it keeps ([`TokenSummary`]: everything but the
//! seed, plus the store's id and the time it was added). [`NewToken::into_summary`] turns the
//! one into the other and hands back the seed for the store to seal.
//!
//! The vault's file records are a [`TokenSummary`] beside the sealed seed (`vault/format.rs`),
//! so a field changed here changes the vault format: its fixture test says whether customers'
//! existing vaults still open.

use serde::{Deserialize, Serialize};

use crate::ids::{AttemptId, DisplayName, ServiceId, TokenId, UserId};
use crate::totp::{ClockOffset, Seed, TotpParams};

/// A token as provisioning produces it, for the app to store (the vault's input). Its
/// `pending_delivery` names the attempt to acknowledge once it is stored.
#[derive(Debug, Clone)]
pub struct NewToken {
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
    /// The shared secret (its `Debug` prints `<redacted>`).
    pub seed: Seed,
    /// `Some` until the bank has acknowledged delivery: the attempt to acknowledge.
    pub pending_delivery: Option<AttemptId>,
}

/// What the app may show about a stored token: everything but the seed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSummary {
    /// The store's id for the token.
    pub id: TokenId,
    /// The bank's service ID.
    pub service_id: ServiceId,
    /// The customer's user ID.
    pub user_id: UserId,
    /// The name the customer sees.
    pub display_name: DisplayName,
    /// The bank's name for itself.
    pub issuer: String,
    /// How codes are made.
    pub params: TotpParams,
    /// The device clock's correction.
    pub offset: ClockOffset,
    /// When the token was added (Unix seconds, device clock).
    pub created_at: u64,
    /// `Some` while the bank has not acknowledged delivery.
    pub pending_delivery: Option<AttemptId>,
}

impl NewToken {
    /// The token as a store keeps it under `id`, added at `created_at`, and its seed, which the
    /// store seals apart.
    pub fn into_summary(self, id: TokenId, created_at: u64) -> (TokenSummary, Seed) {
        let NewToken {
            service_id,
            user_id,
            display_name,
            issuer,
            params,
            offset,
            seed,
            pending_delivery,
        } = self;
        let summary = TokenSummary {
            id,
            service_id,
            user_id,
            display_name,
            issuer,
            params,
            offset,
            created_at,
            pending_delivery,
        };
        (summary, seed)
    }
}
