//! The move to a new phone (機種変更, `docs/protocol.md` §4.5), on the old phone: `start_move`
//! asks the bank, with the token's key and after the app lock, to prepare a registration for
//! the new phone with the activation password the customer chose here; `move_status` and
//! `cancel_move` ask and withdraw. The pending move is kept with the token in the vault, so an
//! app restarted meanwhile asks again ([`check_moves`], at every start and return to the
//! foreground); the token is removed only on the bank's receipt, which a relay cannot forge.
//!
//! The web view is given the service ID and the new user ID in full (the customer types them
//! on the new phone; the bank mails them too), never the password, which leaves this crate
//! only sealed under the token's key.

use serde::Serialize;
use softtoken_core::client::move_phone::{MoveStatus, PreparedMove};
use softtoken_core::error::ErrorKind;
use softtoken_core::ids::{ActivationPassword, TokenId, UserId};
use softtoken_core::vault::PendingMove;
use softtoken_core::weak_number::weakness;
use softtoken_core::Error;
use zeroize::Zeroizing;

use super::activation::Notice;
use super::state::{internal, AppState};
use super::tokens::{token_keys, TokenKeys};
use crate::error::{AppErrorKind, CommandError, CommandResult, LastDigits};

/// What became of a token's move, as the screens show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MoveView {
    /// `pending` (waits for the new phone), `moved` (the token was removed from this device),
    /// `expired`, `cancelled` or `none` (this token keeps working).
    pub state: &'static str,
    /// The service ID, the same on the new phone.
    pub service_id: String,
    /// While pending: the new user ID in full, for the new phone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_user_id: Option<String>,
    /// Once moved: the new user ID's last four digits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_user_id_last: Option<LastDigits>,
    /// While pending: the device's Unix second at which the prepared registration lapses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// The token's display name (kept for the "moved" screen after the token is gone).
    pub name: String,
}

/// The password chosen for the new phone: the same digits twice, 4–8 of them, and none of the
/// easy guesses the bank refuses (checked here first, so a customer offline learns it too).
fn chosen_password(
    password: &Zeroizing<String>,
    again: &Zeroizing<String>,
) -> CommandResult<ActivationPassword> {
    let pw = ActivationPassword::new(password)?;
    if ActivationPassword::new(again).ok().as_ref() != Some(&pw) {
        return Err(CommandError::app(
            AppErrorKind::PasswordsDiffer,
            "The two passwords differ: type the same digits twice.",
        ));
    }
    if let Some(why) = weakness(pw.expose()) {
        return Err(Error::WeakActivationPassword(why).into());
    }
    Ok(pw)
}

struct Owner {
    t: TokenKeys,
    name: String,
}

async fn owner(state: &AppState, id: &TokenId) -> CommandResult<Owner> {
    let t = token_keys(state, id.clone()).await?;
    let find = id.clone();
    let name = state
        .with_vault(move |v| Ok(super::tokens::find(v, &find)?.issued.display_name.to_string()))
        .await?;
    Ok(Owner { t, name })
}

impl Owner {
    fn view(&self, state: &'static str) -> MoveView {
        MoveView {
            state,
            service_id: self.t.service.as_str().to_owned(),
            new_user_id: None,
            new_user_id_last: None,
            expires_at: None,
            name: self.name.clone(),
        }
    }

    /// Keeps the pending move with the token and shows it, its expiry on the device's clock.
    async fn pending(&self, state: &AppState, p: PreparedMove) -> CommandResult<MoveView> {
        let device_expiry = p.expires_at.saturating_add_signed(-self.t.offset.0);
        let mut view = self.view("pending");
        view.new_user_id = Some(p.new_user_id.as_str().to_owned());
        view.expires_at = Some(device_expiry);
        let kept = PendingMove {
            move_id: p.move_id,
            new_user_id: p.new_user_id,
            expires_at: p.expires_at,
        };
        let id = self.t.id.clone();
        state.with_vault(move |v| Ok(v.set_pending_move(&id, Some(kept))?)).await?;
        Ok(view)
    }

    /// The move is over without moving: the token keeps working here.
    async fn stays(&self, state: &AppState, what: &'static str) -> CommandResult<MoveView> {
        let id = self.t.id.clone();
        state.with_vault(move |v| Ok(v.set_pending_move(&id, None)?)).await?;
        Ok(self.view(what))
    }

    /// The bank's receipt says the token lives on the new phone now: it leaves this one, with
    /// anything of it the screens were shown.
    async fn moved(&self, state: &AppState, new_user_id: &UserId) -> CommandResult<MoveView> {
        let id = self.t.id.clone();
        state
            .with_vault(move |v| match v.remove(&id) {
                Err(Error::TokenNotFound) => Ok(()),
                other => Ok(other?),
            })
            .await?;
        let token = self.t.id.clone();
        state.shown.lock().map_err(|_| internal())?.retain(|_, s| s.token != token);
        let mut view = self.view("moved");
        view.new_user_id_last = Some(LastDigits::of(new_user_id));
        Ok(view)
    }

    /// Acts on the bank's answer about the move.
    async fn follow(&self, state: &AppState, status: MoveStatus) -> CommandResult<MoveView> {
        match status {
            MoveStatus::Pending(p) => self.pending(state, p).await,
            MoveStatus::Moved { new_user_id, .. } => self.moved(state, &new_user_id).await,
            MoveStatus::Expired => self.stays(state, "expired").await,
            MoveStatus::Cancelled => self.stays(state, "cancelled").await,
            MoveStatus::None => self.stays(state, "none").await,
        }
    }

    fn bank_time(&self, device_now: u64) -> u64 {
        self.t.offset.apply(device_now)
    }
}

/// `start_move`: after the app lock's PIN (when one is set, typed for this, as an approval),
/// asks the bank to prepare the move of the token to a new phone, activated there with
/// `password`; keeps the pending move with the token. Starting again replaces the pending move
/// (a fresh new user ID).
///
/// # Errors
/// `invalid_input` on `activation_password` (or `activation_password_again` when the two
/// differ), `weak_activation_password`; the PIN's (`invalid_input` on `app_pin`, `wrong_pin`,
/// `pin_back_off`); `moves_not_offered` (the manual path); `registration_moved` (the token was
/// removed: it moved already); the client's (`server_unreachable`, ...): then nothing changed.
pub async fn start_move(
    state: &AppState,
    token_id: &str,
    password: Zeroizing<String>,
    password_again: Zeroizing<String>,
    pin: Option<Zeroizing<String>>,
    device_now: u64,
) -> CommandResult<MoveView> {
    let id = TokenId::new(token_id)?;
    let pw = chosen_password(&password, &password_again)?;
    drop((password, password_again));
    // A phone left unlocked, or stolen unlocked, does not hand its token to another phone.
    super::lock::check_pin_for_approval(state, pin, device_now).await?;
    let o = owner(state, &id).await?;
    let client = state.client.as_ref().map_err(Clone::clone)?;
    let bank_time = o.bank_time(device_now);
    let started = client.start_move(&o.t.keys, &o.t.service, &o.t.user, &pw, bank_time, device_now);
    match started.await {
        Ok(prepared) => o.pending(state, prepared).await,
        Err(Error::RegistrationMoved { new_user_id, .. }) => {
            let new_user_id = UserId::new(&new_user_id)?;
            o.moved(state, &new_user_id).await?;
            Err(moved_error(LastDigits::of(&new_user_id)))
        }
        Err(e) => Err(e.into()),
    }
}

/// `move_status`: what became of the token's move; acts on it (a moved token is removed, a
/// lapsed or cancelled move forgotten).
///
/// # Errors
/// `token_not_found`, vault errors, the client's (`server_unreachable`: the pending move is
/// kept, to ask again).
pub async fn move_status(
    state: &AppState,
    token_id: &str,
    device_now: u64,
) -> CommandResult<MoveView> {
    let o = owner(state, &TokenId::new(token_id)?).await?;
    let client = state.client.as_ref().map_err(Clone::clone)?;
    let bank_time = o.bank_time(device_now);
    let status = client.move_status(&o.t.keys, &o.t.service, &o.t.user, bank_time, device_now);
    o.follow(state, status.await?).await
}

/// `cancel_move`: withdraws the token's pending move; the token keeps working. When the move
/// was over meanwhile, says what became of it instead (moved: the token is removed).
///
/// # Errors
/// As [`move_status`].
pub async fn cancel_move(
    state: &AppState,
    token_id: &str,
    device_now: u64,
) -> CommandResult<MoveView> {
    let o = owner(state, &TokenId::new(token_id)?).await?;
    let client = state.client.as_ref().map_err(Clone::clone)?;
    let bank_time = o.bank_time(device_now);
    match client.cancel_move(&o.t.keys, &o.t.service, &o.t.user, bank_time, device_now).await {
        Ok(()) => o.stays(state, "cancelled").await,
        Err(Error::RegistrationMoved { new_user_id, .. }) => {
            o.moved(state, &UserId::new(&new_user_id)?).await
        }
        Err(Error::NoPendingMove) => {
            let status =
                client.move_status(&o.t.keys, &o.t.service, &o.t.user, bank_time, device_now);
            o.follow(state, status.await?).await
        }
        Err(e) => Err(e.into()),
    }
}

/// Asks the bank about every token with a pending move (at start and on coming back to the
/// foreground): notices for the moves that ended, `moved` (the token was removed),
/// `move_expired` or `move_cancelled` (it keeps working). A token whose bank cannot be reached
/// keeps its pending move for the next look.
///
/// # Errors
/// Vault errors; the bank's are handled per token.
pub async fn check_moves(state: &AppState, device_now: u64) -> CommandResult<Vec<Notice>> {
    let moving: Vec<TokenId> = state
        .with_vault(|v| {
            Ok(v.tokens().into_iter().filter(|t| t.pending_move.is_some()).map(|t| t.id).collect())
        })
        .await?;
    let mut notices = Vec::new();
    for id in moving {
        let Ok(view) = move_status(state, id.as_str(), device_now).await else { continue };
        let kind = match view.state {
            "moved" => "moved",
            "expired" => "move_expired",
            "cancelled" | "none" => "move_cancelled",
            _ => continue,
        };
        notices.push(Notice { kind, name: view.name, user_id_last: view.new_user_id_last });
    }
    Ok(notices)
}

/// The error a call on a token that moved answers with, after the token was removed.
pub(super) fn moved_error(user_id_last: LastDigits) -> CommandError {
    let mut e = CommandError::of_core_kind(ErrorKind::RegistrationMoved);
    e.user_id_last = Some(user_id_last);
    e
}
