//! Getting a token from the bank: `activate` (the provisioning handshake, then the delivery
//! ack), and `resume_pending`, which sends the acks the bank has not yet received.

use serde::Serialize;
use softtoken_core::client::Confirmed;
use softtoken_core::ids::{ActivationPassword, ServiceId, TokenId, UserId};
use softtoken_core::protocol::wire::AckRequest;
use softtoken_core::vault::Vault;
use softtoken_core::Error;
use zeroize::Zeroizing;

use super::state::AppState;
use super::tokens::{find, token_view, TokenView};
use crate::error::{AppErrorKind, CommandError, CommandResult};

/// Something the customer should be told after start-up work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Notice {
    /// `superseded`: a pending token was replaced by a newer setup and was removed; `moved`: a
    /// token moved to a new phone and was removed; `move_expired`, `move_cancelled`: a token's
    /// move is over and it keeps working here.
    pub kind: &'static str,
    /// The token's display name.
    pub name: String,
    /// For `moved`: the last four digits of the user ID it moved to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id_last: Option<crate::error::LastDigits>,
}

/// `activate` (step 7): validates what was typed, runs the provisioning handshake with the
/// bank, stores the token pending delivery, then sends the delivery ack and records the bank's
/// answer. The password is dropped (zeroized) once the handshake is done.
///
/// Data flows one way: core hands back a [`Confirmed`] token and this function stores it; the
/// ack can only be sent once the vault has given the token its id (`docs/protocol.md` §9).
///
/// # Errors
/// `invalid_input` naming the field, or the client's errors (wrong password with tries left,
/// locked, expired, already delivered, unknown IDs, offline, TLS, server problems); vault
/// errors storing the token (then nothing is acknowledged); `superseded` or
/// `registration_ended` if the bank refused the ack (the token was removed again).
pub async fn activate(
    state: &AppState,
    service_id: &str,
    user_id: &str,
    password: Zeroizing<String>,
    now: u64,
) -> CommandResult<TokenView> {
    let service = ServiceId::new(service_id)?;
    let user = UserId::new(user_id)?;
    let pw = ActivationPassword::new(&password)?;
    drop(password);
    let client = state.client.as_ref().map_err(Clone::clone)?;
    // Open the vault before talking to the bank: a locked keychain should stop us before the
    // bank counts an attempt, not after it delivered the token.
    state.with_vault(|_| Ok(())).await?;
    let handshake = client.handshake(&service, &user, &pw, now).await;
    drop(pw);
    let Confirmed { token, ack } = match handshake {
        Ok(confirmed) => confirmed,
        Err(Error::AlreadyDelivered) => {
            return Err(already_delivered_to(state, service, user).await?);
        }
        Err(e) => return Err(e.into()),
    };
    let id = state.with_vault(move |v| Ok(v.add(token, now)?)).await?;
    let provisioned = client.ack(ack.stored(id)).await;
    state
        .with_vault(move |v| {
            let id = provisioned.id;
            // Not delivered and not refused: stays pending, shown as such, and acknowledged by
            // the web view's next try (`resume_pending`).
            if let Some(refusal) = record_delivery(v, &id, provisioned.delivery)? {
                return Err(refusal.into());
            }
            let t = find(v, &id)?;
            token_view(&t, v, now)
        })
        .await
}

/// The bank's "already set up on a device", told apart: when this device holds the token, it is
/// no one else's doing and the customer only needs to find it in the list.
async fn already_delivered_to(
    state: &AppState,
    service: ServiceId,
    user: UserId,
) -> CommandResult<CommandError> {
    let here = state
        .with_vault(move |v| {
            Ok(v.tokens()
                .iter()
                .any(|t| t.issued.service_id == service && t.issued.user_id == user))
        })
        .await?;
    Ok(if here {
        CommandError::app(
            AppErrorKind::AlreadyOnThisDevice,
            "This token is already on this device: it is in the token list.",
        )
    } else {
        Error::AlreadyDelivered.into()
    })
}

/// Records the bank's answer to a stored token's delivery ack: delivered; or removed, when the
/// bank will never accept the token (a newer setup superseded it, or its use ended), returning
/// that refusal; any other failure leaves it pending for the next try.
fn record_delivery(
    v: &mut Vault,
    id: &TokenId,
    delivery: softtoken_core::Result<()>,
) -> CommandResult<Option<Error>> {
    match delivery {
        Ok(()) => {
            v.mark_delivered(id)?;
            Ok(None)
        }
        Err(refusal @ (Error::Superseded | Error::RegistrationEnded)) => {
            v.remove(id)?;
            Ok(Some(refusal))
        }
        Err(_) => Ok(None),
    }
}

/// `resume_pending`: sends the delivery acknowledgement the bank has not yet received for
/// each pending token. A token the bank superseded (or whose use it ended) is removed and
/// reported; any other failure leaves it pending for the next try, which the web view makes
/// while the app runs (`ui/acks.js`: backoff, on coming back online or to the foreground).
///
/// # Errors
/// Vault errors; the bank's are handled per token.
pub async fn resume_pending(state: &AppState) -> CommandResult<Vec<Notice>> {
    // The acks are computed under the lock, then sent without it: the network may be slow.
    let owed: Vec<(TokenId, String, AckRequest)> = state
        .with_vault(|v| {
            let mut owed = Vec::new();
            for t in v.tokens() {
                if let Some(ack) = v.pending_ack(&t.id)? {
                    owed.push((t.id.clone(), t.issued.display_name.to_string(), ack));
                }
            }
            Ok(owed)
        })
        .await?;
    let Ok(client) = state.client.as_ref() else { return Ok(Vec::new()) };
    let mut notices = Vec::new();
    for (id, name, ack) in owed {
        let delivery = client.send_ack(&ack).await;
        if state.with_vault(move |v| record_delivery(v, &id, delivery)).await?.is_some() {
            notices.push(Notice { kind: "superseded", name, user_id_last: None });
        }
    }
    Ok(notices)
}
