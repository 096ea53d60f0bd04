//! The phone moves (機種変更, `docs/protocol.md` §4.5): one row per move, beside the two
//! registrations it joins. Each write of a move is part of a registration's [`super::Change`]
//! ([`MoveParts`]), so a move and the registrations it starts, replaces, ends or completes are
//! written in one transaction or not at all; the ack that completes a move ends the old
//! registration in the very transaction that records the new one's delivery.
//!
//! One pending move per old registration: a unique index on the pending rows makes a second
//! concurrent start (another instance on the same PostgreSQL) conflict, and it decides again.

use async_trait::async_trait;
use serde::Serialize;
use softtoken_core::confirm::phone_move::MoveState;

use super::{OutboxMail, Registration};
use crate::error::Result;

/// A move as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredMove {
    /// Opaque, 32 hex digits.
    pub id: String,
    /// The customer's service ID (both registrations').
    pub service_id: String,
    /// The registration that asked ([`Registration::id`]).
    #[serde(skip)]
    pub old_registration_id: String,
    /// Its user ID.
    pub old_user_id: String,
    /// The registration prepared for the new phone.
    #[serde(skip)]
    pub new_registration_id: String,
    /// Its user ID.
    pub new_user_id: String,
    /// Where the move is.
    #[serde(serialize_with = "state_name")]
    pub state: MoveState,
    /// Unix seconds of the start.
    pub created_at: u64,
    /// Unix seconds after which the prepared registration is no longer activated.
    pub expires_at: u64,
    /// Unix seconds of completion (the new phone's ack), cancel or expiry.
    pub settled_at: Option<u64>,
    /// With `completed`: the receipt's MAC under the old token's `k_app`, kept after the old
    /// seed is wiped so the old phone can still be told it moved.
    #[serde(skip)]
    pub receipt_mac: Option<Vec<u8>>,
}

fn state_name<S: serde::Serializer>(s: &MoveState, out: S) -> std::result::Result<S::Ok, S::Error> {
    out.serialize_str(s.as_str())
}

/// One write to the moves table, applied only as described (else the whole change conflicts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveWrite {
    /// A new pending move and the mail that announces its registration (refused, as a conflict,
    /// while the old registration has another pending move).
    Start {
        /// The move.
        stored: Box<StoredMove>,
        /// The step-6 mail of the new registration.
        mail: OutboxMail,
    },
    /// A pending move becomes `to` at `at` (with `receipt_mac` when completed); a move that is
    /// no longer pending makes the change conflict.
    Settle {
        /// [`StoredMove::id`].
        id: String,
        /// `completed`, `expired` or `cancelled`.
        to: MoveState,
        /// Unix seconds.
        at: u64,
        /// With `completed`.
        receipt_mac: Option<Vec<u8>>,
    },
}

/// What a change writes for a move besides its main registration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MoveParts {
    /// A second registration written by compare-and-swap on its `rev`, as the main one (the old
    /// registration ended by a completed move, or a replaced move's prepared one).
    pub also: Option<Registration>,
    /// The moves' writes, in order.
    pub writes: Vec<MoveWrite>,
}

/// Which moves to read, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveLookup {
    /// The moves an old registration started.
    ByOld(String),
    /// The move that prepared this registration.
    ByNew(String),
    /// One move by its ID.
    ById(String),
    /// A customer's moves from any of their registrations of `service_id` and `user_id` (old or
    /// new side).
    ByCustomer(String, String),
}

/// The moves' reads; their writes go through [`super::Storage::update`].
#[async_trait]
pub trait MoveStorage: Send + Sync {
    /// The moves `lookup` names, newest first, at most `limit`, straight from the database.
    ///
    /// # Errors
    /// [`crate::Error::Storage`] when the database fails.
    async fn moves(&self, lookup: MoveLookup, limit: u32) -> Result<Vec<StoredMove>>;
}

/// The SQL that selects a lookup's rows (`?1`, `?2` or `$1`, `$2` by `placeholder`).
pub(super) fn lookup_sql(lookup: &MoveLookup, p1: &str, p2: &str, p3: &str) -> String {
    let filter = match lookup {
        MoveLookup::ByOld(_) => format!("old_registration_id = {p1}"),
        MoveLookup::ByNew(_) => format!("new_registration_id = {p1}"),
        MoveLookup::ById(_) => format!("id = {p1}"),
        MoveLookup::ByCustomer(..) => {
            format!("service_id = {p1} AND (old_user_id = {p2} OR new_user_id = {p2})")
        }
    };
    format!(
        "SELECT id, service_id, old_registration_id, old_user_id, new_registration_id, \
         new_user_id, state, created_at, expires_at, settled_at, receipt_mac FROM moves \
         WHERE {filter} ORDER BY created_at DESC, id DESC LIMIT {p3}"
    )
}

/// The lookup's two parameters (the second empty when it has one).
pub(super) fn lookup_params(lookup: &MoveLookup) -> (String, String) {
    match lookup {
        MoveLookup::ByOld(id) | MoveLookup::ByNew(id) | MoveLookup::ById(id) => {
            (id.clone(), String::new())
        }
        MoveLookup::ByCustomer(s, u) => (s.clone(), u.clone()),
    }
}

/// The stored state name, read back.
pub(super) fn state_of(name: &str) -> Result<MoveState> {
    MoveState::parse(name)
        .ok_or_else(|| crate::error::Error::Storage(format!("a stored move has state {name:?}")))
}
