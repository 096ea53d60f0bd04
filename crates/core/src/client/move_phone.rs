//! The old phone's side of the phone move (機種変更, `docs/protocol.md` §4.5) over HTTP: start
//! (or restart) a move, ask what became of it, withdraw it.
//!
//! Every call is safe to repeat, so each is sent once more after a transport failure (a second
//! start replaces the first: the customer gets a fresh new user ID, and the mail says so). A
//! `clock_skew` refusal is tried once more at the bank time it names, as a fetch is
//! ([`ProvisioningClient::pending_confirmations`]): the refusal is not authenticated, and a lie
//! only earns a second refusal.

use super::confirm::{read_confirmation_answer, Owner};
use super::ProvisioningClient;
use crate::confirm::phone_move::{
    MoveQuery, MoveQueryKind, MoveStarted, MoveState, MoveStatusResponse, StartMoveRequest,
    PATH_MOVE_CANCEL, PATH_MOVE_START, PATH_MOVE_STATUS,
};
use crate::confirm::ConfirmationKeys;
use crate::error::{Error, Result};
use crate::ids::{ActivationPassword, ServiceId, UserId};
use crate::totp::ClockOffset;

/// A move the bank prepared: the new registration waits for the new phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedMove {
    /// The move's ID at the bank.
    pub move_id: String,
    /// The new registration's user ID (the service ID stays the same), for the new phone.
    pub new_user_id: UserId,
    /// Bank time when the prepared registration ends unless the new phone activates it.
    pub expires_at: u64,
}

/// What became of a token's move, as the bank tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveStatus {
    /// No move is known for this token.
    None,
    /// The move waits for the new phone.
    Pending(PreparedMove),
    /// The prepared registration expired unused; this token keeps working.
    Expired,
    /// The move was withdrawn (by the customer or the bank); this token keeps working.
    Cancelled,
    /// The new phone activated and this token's registration ended: remove the token. Only
    /// when the bank's receipt checks with this token's key.
    Moved {
        /// The registration the token moved to.
        new_user_id: UserId,
        /// Bank time when the move completed.
        completed_at: u64,
    },
}

impl ProvisioningClient {
    /// Asks the bank to prepare the move of the token whose `keys` these are to a new phone: a
    /// new registration for the same customer, activated on the new phone with `password`
    /// (which travels sealed under the token's key). Starting again replaces a pending move.
    /// `bank_time` is the device clock plus the token's offset; `device_now` the device clock.
    ///
    /// # Errors
    /// [`Error::MovesNotOffered`] when the bank has the fast path off (explain the manual
    /// path); [`Error::WeakActivationPassword`] for a password the bank finds too easy;
    /// [`Error::RegistrationMoved`] when this token already moved; [`Error::RegistrationEnded`]
    /// when its registration ended otherwise; [`Error::ConfirmationNotAccepted`] when the bank
    /// does not accept the token's proof; [`Error::DeviceClockWrong`] when the bank still
    /// refuses the time; [`Error::ProtocolViolation`] for an answer about another
    /// registration; [`Error::RateLimited`], [`Error::ServerUnreachable`], [`Error::Tls`],
    /// [`Error::ServerError`].
    pub async fn start_move(
        &self,
        keys: &ConfirmationKeys,
        service: &ServiceId,
        user: &UserId,
        password: &ActivationPassword,
        bank_time: u64,
        device_now: u64,
    ) -> Result<PreparedMove> {
        let owner = Owner { keys, service, user };
        let at = |time| StartMoveRequest::new(keys, service.clone(), user.clone(), password, time);
        let started: MoveStarted =
            match self.send_move(PATH_MOVE_START, &at(bank_time)?, owner, device_now).await {
                Err(Error::DeviceClockWrong { offset_secs }) => {
                    let hinted = ClockOffset(offset_secs).apply(device_now);
                    self.send_move(PATH_MOVE_START, &at(hinted)?, owner, device_now).await?
                }
                other => other?,
            };
        if started.service_id != *service || started.old_user_id != *user {
            return Err(Error::ProtocolViolation("the bank answered about another registration"));
        }
        Ok(PreparedMove {
            move_id: started.move_id,
            new_user_id: started.new_user_id,
            expires_at: started.expires_at,
        })
    }

    /// What became of the token's move. A token with a pending move asks this at every contact
    /// with the bank, and removes itself on [`MoveStatus::Moved`].
    ///
    /// # Errors
    /// [`Error::RegistrationEnded`] when the registration ended without a move receipt this
    /// token's key checks; as [`ProvisioningClient::start_move`] otherwise.
    pub async fn move_status(
        &self,
        keys: &ConfirmationKeys,
        service: &ServiceId,
        user: &UserId,
        bank_time: u64,
        device_now: u64,
    ) -> Result<MoveStatus> {
        let answer = self
            .query_move(MoveQueryKind::Status, keys, service, user, bank_time, device_now)
            .await;
        let response = match answer {
            Err(Error::RegistrationMoved { new_user_id, completed_at }) => {
                let new_user_id = UserId::new(&new_user_id)?;
                return Ok(MoveStatus::Moved { new_user_id, completed_at });
            }
            other => other?,
        };
        let pending = |r: MoveStatusResponse| match (r.move_id, r.new_user_id, r.expires_at) {
            (Some(move_id), Some(new_user_id), Some(expires_at)) => {
                Ok(MoveStatus::Pending(PreparedMove { move_id, new_user_id, expires_at }))
            }
            _ => Err(Error::ProtocolViolation("a pending move without its registration")),
        };
        match response.state {
            MoveState::None => Ok(MoveStatus::None),
            MoveState::Pending => pending(response),
            MoveState::Expired => Ok(MoveStatus::Expired),
            MoveState::Cancelled => Ok(MoveStatus::Cancelled),
            // A completed move ends the old registration: the bank says so with `410 ended`
            // and a receipt, never with a 200 that nothing authenticates.
            MoveState::Completed => {
                Err(Error::ProtocolViolation("a completed move without the bank's receipt"))
            }
        }
    }

    /// Withdraws the token's pending move: the prepared registration ends and this token keeps
    /// working.
    ///
    /// # Errors
    /// [`Error::NoPendingMove`] when none is pending; [`Error::RegistrationMoved`] when the
    /// move completed first; as [`ProvisioningClient::move_status`] otherwise.
    pub async fn cancel_move(
        &self,
        keys: &ConfirmationKeys,
        service: &ServiceId,
        user: &UserId,
        bank_time: u64,
        device_now: u64,
    ) -> Result<()> {
        let response = self
            .query_move(MoveQueryKind::Cancel, keys, service, user, bank_time, device_now)
            .await?;
        match response.state {
            MoveState::Cancelled => Ok(()),
            _ => Err(Error::ProtocolViolation("a cancel answered with another state")),
        }
    }

    async fn query_move(
        &self,
        kind: MoveQueryKind,
        keys: &ConfirmationKeys,
        service: &ServiceId,
        user: &UserId,
        bank_time: u64,
        device_now: u64,
    ) -> Result<MoveStatusResponse> {
        let path = match kind {
            MoveQueryKind::Status => PATH_MOVE_STATUS,
            MoveQueryKind::Cancel => PATH_MOVE_CANCEL,
        };
        let owner = Owner { keys, service, user };
        let at = |time| MoveQuery::new(keys, kind, service.clone(), user.clone(), time);
        match self.send_move(path, &at(bank_time), owner, device_now).await {
            Err(Error::DeviceClockWrong { offset_secs }) => {
                let hinted = ClockOffset(offset_secs).apply(device_now);
                self.send_move(path, &at(hinted), owner, device_now).await
            }
            other => other,
        }
    }

    async fn send_move<Req: serde::Serialize, Resp: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &Req,
        owner: Owner<'_>,
        device_now: u64,
    ) -> Result<Resp> {
        let raw = self.post_confirmation(path, body).await?;
        read_confirmation_answer(&raw, device_now, Some(owner))
    }
}

#[cfg(test)]
mod tests;
