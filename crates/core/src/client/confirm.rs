//! The app's side of transaction confirmation over HTTP (`docs/confirmation.md` §4 and §9):
//! fetch the token's pending requests, and send the customer's answer to one of them; and the
//! token's own end of use (`docs/protocol.md` §4.4), proven with the same key.
//!
//! The client only carries bodies: it never opens a request (the app checks each one with
//! [`SignedRequest::open`] and answers with [`crate::confirm::Request::answer`]), so nothing
//! here decides what the customer sees or signs. Every call is safe to repeat (a fetch only
//! reads; a second answer gets the request's final state and changes nothing; a second end is
//! `410 ended`), so each is sent once more after a transport failure.

use serde::Deserialize;

use super::{answer_error, ProvisioningClient, RawAnswer};
use crate::confirm::end::{EndRequest, Ended, PATH_END};
use crate::confirm::{
    AnswerRequest, ConfirmationId, ConfirmationKeys, ConfirmationState, FetchRequest,
    FetchResponse, SignedRequest, PATH_ANSWER, PATH_PENDING,
};
use crate::error::{Error, Result};
use crate::ids::{ServiceId, UserId};
use crate::protocol::wire::{ErrorBody, ErrorCode};
use crate::totp::ClockOffset;

/// The bank's answer to an answer: the request's state afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerOutcome {
    /// The request answered.
    pub id: ConfirmationId,
    /// Its state now: `approved`, `denied`, `wrong_number`, `expired` or `cancelled` (never
    /// `pending` from an honest bank).
    pub state: ConfirmationState,
}

/// A fetch's result: the requests, and the clock offset the bank's authenticated time gives.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The pending requests as the bank sent them (oldest first), not yet checked.
    pub requests: Vec<SignedRequest>,
    /// `server_time − device_now` from the bank's time in this answer, MAC-checked with the
    /// token's bank key for this very fetch (docs/confirmation.md §3.5); `None` when the bank
    /// sent no time or the offset would be beyond [`crate::totp::MAX_CLOCK_OFFSET_SECS`].
    /// The caller keeps it with the token (`Vault::set_offset`).
    pub offset: Option<ClockOffset>,
}

impl ProvisioningClient {
    /// The pending confirmation requests of the token whose `keys` these are, and the bank's
    /// clock. `bank_time` is the device clock plus the token's offset; `device_now` the device
    /// clock alone, against which the bank's time gives the offset.
    ///
    /// When the bank refuses the time (`clock_skew`: the offset went stale, say the phone's
    /// clock was corrected since activation), the fetch is made once more at the bank time the
    /// refusal names. That refusal is not authenticated, so it moves nothing by itself: only
    /// the authenticated time of an accepted fetch becomes [`Fetched::offset`]; a refusal that
    /// lies only earns a second refusal.
    ///
    /// # Errors
    /// [`Error::ConfirmationNotAccepted`] when the bank does not accept the token's proof (no
    /// such registration in use, another token); [`Error::DeviceClockWrong`] when the bank
    /// still refuses the time; [`Error::ProtocolViolation`] for a time whose MAC is not the
    /// bank's; [`Error::RateLimited`], [`Error::ServerUnreachable`], [`Error::Tls`],
    /// [`Error::ServerError`].
    pub async fn pending_confirmations(
        &self,
        keys: &ConfirmationKeys,
        service: &ServiceId,
        user: &UserId,
        bank_time: u64,
        device_now: u64,
    ) -> Result<Fetched> {
        let fetch = FetchRequest::new(keys, service.clone(), user.clone(), bank_time);
        match self.fetch_at(keys, &fetch, device_now).await {
            Err(Error::DeviceClockWrong { offset_secs }) => {
                let hinted = ClockOffset(offset_secs).apply(device_now);
                let again = FetchRequest::new(keys, service.clone(), user.clone(), hinted);
                self.fetch_at(keys, &again, device_now).await
            }
            other => other,
        }
    }

    async fn fetch_at(
        &self,
        keys: &ConfirmationKeys,
        fetch: &FetchRequest,
        device_now: u64,
    ) -> Result<Fetched> {
        let raw = self.post_confirmation(PATH_PENDING, fetch).await?;
        let owner = Owner { keys, service: &fetch.service_id, user: &fetch.user_id };
        let response: FetchResponse = read_confirmation_answer(&raw, device_now, Some(owner))?;
        let time = response.authentic_server_time(keys, fetch)?;
        let offset = time.and_then(|t| ClockOffset::bounded_between(device_now, t).ok());
        Ok(Fetched { requests: response.requests, offset })
    }

    /// Sends the customer's answer; returns the request's state at the bank afterwards.
    ///
    /// # Errors
    /// [`Error::ConfirmationNotAccepted`] when the bank refuses the answer's MAC (nothing
    /// changed at the bank); [`Error::UnknownConfirmation`] when the bank has no such request
    /// for this token; [`Error::ProtocolViolation`] for an outcome about another request; as
    /// [`ProvisioningClient::pending_confirmations`] otherwise.
    pub async fn answer_confirmation(
        &self,
        answer: &AnswerRequest,
        device_now: u64,
    ) -> Result<AnswerOutcome> {
        let raw = self.post_confirmation(PATH_ANSWER, answer).await?;
        let outcome: AnswerOutcome = read_confirmation_answer(&raw, device_now, None)?;
        if outcome.id != answer.id {
            return Err(Error::ProtocolViolation("the bank answered about another request"));
        }
        Ok(outcome)
    }

    /// Ends the use of the token's registration at the bank (利用終了), as the bank's own end
    /// does: its codes are refused from now on and the bank wipes its seed. For when the
    /// customer deletes the token. `bank_time` and `device_now` as for
    /// [`ProvisioningClient::pending_confirmations`].
    ///
    /// # Errors
    /// [`Error::RegistrationEnded`] when it had ended already (by the bank, or by an earlier
    /// call whose answer was lost): the end the customer asked for is in place;
    /// [`Error::ConfirmationNotAccepted`] when the bank does not accept the token's proof (no
    /// such registration, one not delivered yet, another token): nothing ended, the customer
    /// should call the bank; [`Error::DeviceClockWrong`] when the bank refuses the time;
    /// [`Error::ProtocolViolation`] for an answer about another registration; as
    /// [`ProvisioningClient::pending_confirmations`] otherwise.
    pub async fn end_at_bank(
        &self,
        keys: &ConfirmationKeys,
        service: &ServiceId,
        user: &UserId,
        bank_time: u64,
        device_now: u64,
    ) -> Result<Ended> {
        let end = EndRequest::new(keys, service.clone(), user.clone(), bank_time);
        let raw = self.post_confirmation(PATH_END, &end).await?;
        let owner = Owner { keys, service, user };
        let ended: Ended = read_confirmation_answer(&raw, device_now, Some(owner))?;
        if ended.service_id != *service || ended.user_id != *user {
            return Err(Error::ProtocolViolation("the bank answered about another registration"));
        }
        Ok(ended)
    }

    pub(super) async fn post_confirmation<Req: serde::Serialize>(
        &self,
        path: &str,
        body: &Req,
    ) -> Result<RawAnswer> {
        match self.post_raw(path, body).await {
            Err(Error::ServerUnreachable(_)) => self.post_raw(path, body).await,
            other => other,
        }
    }
}

/// The token a request was made by, whose key checks a move receipt in a `410 ended`.
#[derive(Clone, Copy)]
pub(super) struct Owner<'a> {
    pub(super) keys: &'a ConfirmationKeys,
    pub(super) service: &'a ServiceId,
    pub(super) user: &'a UserId,
}

/// The provisioning client's reading of an answer, plus `clock_skew`, whose `server_time` tells
/// how far this device's clock is from the bank's, and a `410 ended` whose move receipt the
/// token's own key checks ([`Error::RegistrationMoved`]; one that does not check stays
/// [`Error::RegistrationEnded`]).
pub(super) fn read_confirmation_answer<Resp: serde::de::DeserializeOwned>(
    raw: &RawAnswer,
    device_now: u64,
    owner: Option<Owner<'_>>,
) -> Result<Resp> {
    if !raw.status.is_success() {
        let body: Option<ErrorBody> = serde_json::from_slice(&raw.bytes).ok();
        if let (
            Some(ErrorBody { code: ErrorCode::Ended, move_receipt: Some(receipt), .. }),
            Some(o),
        ) = (&body, owner)
        {
            if receipt.is_for(o.keys, o.service, o.user) {
                return Err(Error::RegistrationMoved {
                    new_user_id: receipt.new_user_id.as_str().to_owned(),
                    completed_at: receipt.completed_at,
                });
            }
        }
        if let Some(ErrorBody { code: ErrorCode::ClockSkew, server_time, .. }) = &body {
            let Some(server_time) = server_time else {
                return Err(Error::ProtocolViolation("clock_skew without server_time"));
            };
            let offset = ClockOffset::between(device_now, *server_time);
            return Err(Error::DeviceClockWrong { offset_secs: offset.0 });
        }
        return Err(answer_error(raw.status, body, raw.retry_header));
    }
    serde_json::from_slice(&raw.bytes)
        .map_err(|_| Error::ProtocolViolation("the bank's answer is not the expected JSON"))
}

#[cfg(test)]
mod tests {
    use reqwest::StatusCode;

    use super::*;

    fn raw(status: u16, body: &str) -> RawAnswer {
        RawAnswer {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT),
            bytes: body.as_bytes().to_vec(),
            retry_header: None,
        }
    }

    fn error_of(status: u16, body: &ErrorBody) -> Error {
        let body = serde_json::to_string(body).unwrap_or_default();
        match read_confirmation_answer::<FetchResponse>(&raw(status, &body), 1_000_000, None) {
            Err(e) => e,
            Ok(r) => panic!("read as a success: {r:?}"),
        }
    }

    #[test]
    fn a_bank_that_refuses_the_time_tells_the_customer_how_far_the_clock_is_off() {
        let body = ErrorBody::new(ErrorCode::ClockSkew, "clock").with_server_time(1_000_420);
        assert!(matches!(error_of(400, &body), Error::DeviceClockWrong { offset_secs: 420 }));
        let behind = ErrorBody::new(ErrorCode::ClockSkew, "clock").with_server_time(999_000);
        assert!(matches!(error_of(400, &behind), Error::DeviceClockWrong { offset_secs: -1000 }));
        let without = ErrorBody::new(ErrorCode::ClockSkew, "clock");
        assert!(matches!(error_of(400, &without), Error::ProtocolViolation(_)));
    }

    #[test]
    fn the_banks_refusals_of_a_confirmation_become_their_own_errors() {
        let not = ErrorBody::new(ErrorCode::NotAuthenticated, "no");
        assert!(matches!(error_of(401, &not), Error::ConfirmationNotAccepted));
        let gone = ErrorBody::new(ErrorCode::UnknownConfirmation, "gone");
        assert!(matches!(error_of(404, &gone), Error::UnknownConfirmation));
        let mut slow = ErrorBody::new(ErrorCode::RateLimited, "slow");
        slow.retry_after = Some(7);
        assert!(matches!(error_of(429, &slow), Error::RateLimited { retry_after: Some(7) }));
    }
}
