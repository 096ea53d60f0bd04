//! What storage keeps of transaction confirmations (`docs/confirmation.md`): each request the
//! bank made, its state, and each registration's last accepted offline-code minute.
//!
//! A request's state moves from `pending` exactly once: every change is written as
//! `UPDATE … WHERE id = ? AND state = 'pending'`, a compare-and-set in the database itself, so
//! two answers at the same moment (through one instance or two) cannot both win, and the
//! loser reads the winner's state. The offline step is written the same way: only a step
//! above the stored one is taken.

use softtoken_core::confirm::ConfirmationState;
use softtoken_core::ids::{ServiceId, UserId};

/// One confirmation request as stored. The number to match is kept here and never sent to
/// the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredConfirmation {
    /// The request's ID, base64url (22 characters).
    pub id: String,
    /// The registration it was made for ([`super::Registration::id`]): a later registration
    /// of the same pair never sees it.
    pub registration_id: String,
    /// The registration's service ID.
    pub service_id: ServiceId,
    /// The registration's user ID.
    pub user_id: UserId,
    /// `transfer`, `new_payee`, `limit_change` or `sign_in` (also inside `details`; a column
    /// of its own so an operator can count by kind).
    pub kind: String,
    /// The details as core validated and serialised them (JSON), exactly what the digest is
    /// computed over once parsed again.
    pub details: String,
    /// Bank time, Unix seconds.
    pub created_at: u64,
    /// Bank time at and after which an answer is late.
    pub expires_at: u64,
    /// Whether an approval must carry the number shown on the bank's page.
    pub match_required: bool,
    /// That number ("00"–"99"), with `match_required`.
    pub match_number: Option<String>,
    /// Where the request is.
    pub state: ConfirmationState,
    /// When an answer made it final (bank time); none for a cancel or an expiry nobody
    /// answered.
    pub answered_at: Option<u64>,
}

/// A write to the confirmations, each atomic on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfirmationWrite {
    /// Stores a new request unless its registration already has `max_pending` requests that
    /// are `pending` and not past their expiry at `now`. True when stored.
    Insert {
        /// The request, in state `pending`.
        confirmation: Box<StoredConfirmation>,
        /// Pending requests a registration may have.
        max_pending: u32,
        /// Bank time, to tell pending from expired.
        now: u64,
    },
    /// Moves a `pending` request to the final `to`. True when it moved; false when it was
    /// final already (nothing is written) or does not exist.
    Finish {
        /// The request's ID.
        id: String,
        /// Its final state.
        to: ConfirmationState,
        /// When an answer made it final.
        answered_at: Option<u64>,
    },
    /// Records that the offline code of minute `step` was accepted for the registration,
    /// unless that step or a later one already was. True when recorded (the code is good).
    OfflineStep {
        /// [`super::Registration::id`].
        registration_id: String,
        /// The minute step (`bank time / 60`).
        step: u64,
    },
}
