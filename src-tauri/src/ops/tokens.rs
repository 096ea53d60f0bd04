//! The commands on the tokens already in the vault: list, rename, delete, reorder, copy a
//! code, and the kiosk's wipe; and [`TokenView`], how every command shows a token.

use std::time::Duration;

use serde::Serialize;
use softtoken_core::confirm::ConfirmationKeys;
use softtoken_core::ids::{DisplayName, ServiceId, TokenId, UserId};
use softtoken_core::totp::ClockOffset;
use softtoken_core::vault::{TokenSummary, Vault};
use softtoken_core::Error;
use zeroize::Zeroizing;

use super::state::{internal, AppState};
use crate::clipboard::CLEAR_AFTER_SECS;
use crate::error::{AppErrorKind, CommandError, CommandResult};

/// One token as the screens show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    /// The vault's id of the token (random, not a bank ID).
    pub id: String,
    /// The whole display name.
    pub name: String,
    /// The base of the display name.
    pub base_name: String,
    /// The added wording, possibly empty.
    pub added_wording: String,
    /// The bank's name.
    pub issuer: String,
    /// The service ID (not secret: printed in the bank's mail and screens).
    pub service_id: String,
    /// The user ID with all but the last four digits hidden.
    pub user_id_masked: String,
    /// The bank has not yet acknowledged that this token arrived.
    pub pending_delivery: bool,
    /// The current code.
    pub code: String,
    /// The code of the next period, shown in the last seconds of this one.
    pub next_code: String,
    /// Seconds until `code` expires.
    pub seconds_left: u32,
    /// The device's Unix second at which `code` expires (already corrected for the bank's
    /// clock), so the screen counts down from one timer.
    pub expires_at: u64,
    /// The code period in seconds.
    pub period: u32,
    /// While the token's move to a new phone waits for the new phone: the device's Unix second
    /// at which it lapses.
    pub moving_until: Option<u64>,
}

/// The answer to a copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Copied {
    /// Seconds until the clipboard is cleared.
    pub clear_after_secs: u32,
}

pub(super) fn token_view(t: &TokenSummary, vault: &Vault, now: u64) -> CommandResult<TokenView> {
    let view = vault.totp(&t.id)?.view(now);
    Ok(TokenView {
        id: t.id.as_str().to_owned(),
        name: t.issued.display_name.to_string(),
        base_name: t.issued.display_name.base().to_owned(),
        added_wording: t.issued.display_name.added().to_owned(),
        issuer: t.issued.issuer.clone(),
        service_id: t.issued.service_id.as_str().to_owned(),
        user_id_masked: t.issued.user_id.masked(),
        pending_delivery: t.delivery.pending.is_some(),
        code: view.code.as_str().to_owned(),
        next_code: view.next.as_str().to_owned(),
        seconds_left: view.seconds_left,
        expires_at: now + u64::from(view.seconds_left),
        period: view.period,
        moving_until: t
            .pending_move
            .as_ref()
            .map(|m| m.expires_at.saturating_add_signed(-t.issued.offset.0)),
    })
}

pub(super) fn find(vault: &Vault, id: &TokenId) -> CommandResult<TokenSummary> {
    vault.tokens().into_iter().find(|t| &t.id == id).ok_or_else(|| Error::TokenNotFound.into())
}

fn parse_id(id: &str) -> CommandResult<TokenId> {
    Ok(TokenId::new(id)?)
}

/// `list_tokens`: every token in the customer's order with its code at `now`.
///
/// # Errors
/// Vault errors (keychain locked, vault damaged, ...).
pub async fn list_tokens(state: &AppState, now: u64) -> CommandResult<Vec<TokenView>> {
    state.with_vault(move |v| v.tokens().iter().map(|t| token_view(t, v, now)).collect()).await
}

/// `rename_token` (step 9 and rename): sets the display name.
///
/// # Errors
/// `invalid_input` for a bad name, `token_not_found`, vault errors.
pub async fn rename_token(
    state: &AppState,
    id: &str,
    base: &str,
    added: &str,
    now: u64,
) -> CommandResult<TokenView> {
    let id = parse_id(id)?;
    let name = DisplayName::new(base, added)?;
    state
        .with_vault(move |v| {
            v.rename(&id, name)?;
            let t = find(v, &id)?;
            token_view(&t, v, now)
        })
        .await
}

/// What a delete did at the bank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deleted {
    /// `not_asked` (removed from this device only), `ended` (the bank ended the token's use
    /// now) or `already_ended` (it had ended before: by the bank, an earlier try whose answer
    /// was lost, or a move to a new phone).
    pub at_bank: &'static str,
}

/// `delete_token`: removes a token from this device; with `end_at_bank`, first ends its use at
/// the bank with the token's key (利用終了, `docs/protocol.md` §4.4), and removes it only once
/// the bank has it ended, so a customer whose phone was offline still holds the token to try
/// again.
///
/// # Errors
/// `token_not_found`, vault errors; with `end_at_bank`, the client's (`server_unreachable`,
/// `confirmation_not_accepted`, `device_clock_wrong`, ...): then nothing was removed.
pub async fn delete_token(
    state: &AppState,
    id: &str,
    end_at_bank: bool,
    device_now: u64,
) -> CommandResult<Deleted> {
    let id = parse_id(id)?;
    let at_bank =
        if end_at_bank { end_use_at_bank(state, &id, device_now).await? } else { "not_asked" };
    let token = id.clone();
    state.with_vault(move |v| Ok(v.remove(&id)?)).await?;
    // Its confirmation requests can no longer be answered from this device.
    state.shown.lock().map_err(|_| internal())?.retain(|_, s| s.token != token);
    Ok(Deleted { at_bank })
}

async fn end_use_at_bank(
    state: &AppState,
    id: &TokenId,
    device_now: u64,
) -> CommandResult<&'static str> {
    let t = token_keys(state, id.clone()).await?;
    let client = state.client.as_ref().map_err(Clone::clone)?;
    let bank_time = t.offset.apply(device_now);
    match client.end_at_bank(&t.keys, &t.service, &t.user, bank_time, device_now).await {
        Ok(_) => Ok("ended"),
        Err(Error::RegistrationEnded) => Ok("already_ended"),
        Err(e) => Err(e.into()),
    }
}

/// `reorder_tokens`: the customer's new order.
///
/// # Errors
/// `invalid_input` for a malformed id, vault errors for ids that are not all the tokens.
pub async fn reorder_tokens(state: &AppState, ids: &[String]) -> CommandResult<()> {
    let ids = ids.iter().map(|s| parse_id(s)).collect::<CommandResult<Vec<_>>>()?;
    state.with_vault(move |v| Ok(v.reorder(&ids)?)).await
}

/// `copy_code`: puts the current code on the clipboard and clears it after
/// [`CLEAR_AFTER_SECS`].
///
/// # Errors
/// `token_not_found`, `clipboard_unavailable`, vault errors.
pub async fn copy_code(state: &AppState, id: &str, now: u64) -> CommandResult<Copied> {
    let id = parse_id(id)?;
    let code = state
        .with_vault(move |v| Ok(Zeroizing::new(v.totp(&id)?.code_at(now).as_str().to_owned())))
        .await?;
    state.clipboard.copy_then_clear(code, Duration::from_secs(CLEAR_AFTER_SECS.into()))?;
    Ok(Copied { clear_after_secs: CLEAR_AFTER_SECS })
}

/// `kiosk_reset`: wipes every token; refused unless the app runs as a kiosk.
///
/// # Errors
/// `not_kiosk` outside kiosk mode, vault errors.
pub async fn kiosk_reset(state: &AppState) -> CommandResult<()> {
    if !state.config().kiosk {
        return Err(CommandError::app(AppErrorKind::NotKiosk, "Only a kiosk wipes its tokens."));
    }
    state.with_vault(|v| Ok(v.clear()?)).await?;
    // Nothing the last visitor was shown stays answerable.
    state.shown.lock().map_err(|_| internal())?.clear();
    Ok(())
}

/// What a token's calls to the bank with its key need from the vault: its keys, registration
/// and clock offset (confirmations, its end, its move).
pub(super) struct TokenKeys {
    pub(super) id: TokenId,
    pub(super) keys: ConfirmationKeys,
    pub(super) service: ServiceId,
    pub(super) user: UserId,
    pub(super) offset: ClockOffset,
    pub(super) delivered: bool,
    /// The token started a move to a new phone that the bank has not yet said is over.
    pub(super) moving: bool,
}

pub(super) async fn token_keys(state: &AppState, id: TokenId) -> CommandResult<TokenKeys> {
    state
        .with_vault(move |v| {
            let t = find(v, &id)?;
            let keys = v.confirmation_keys(&id)?;
            Ok(TokenKeys {
                id,
                keys,
                service: t.issued.service_id,
                user: t.issued.user_id,
                offset: t.issued.offset,
                delivered: t.delivery.pending.is_none(),
                moving: t.pending_move.is_some(),
            })
        })
        .await
}
