//! `start_new_vault` and `forgot_app_pin`: the customer's way out of a vault that cannot be
//! opened, because it is damaged, an older copy, or locked with a PIN they forgot.

use std::sync::Arc;

use serde::Serialize;
use softtoken_core::vault::Vault;

use super::state::{internal, AppState};
use crate::error::{AppErrorKind, CommandError, CommandResult};

/// What `start_new_vault` kept aside: the file's name (not its folder), for the customer to
/// tell support.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeptAside {
    /// The damaged vault's new file name, `tokens.vault.damaged-<unix seconds>`.
    pub file_name: String,
}

/// `start_new_vault`: the way out of a damaged vault or a lost key. The vault file is renamed
/// aside (never deleted) with its key moved to a matching keychain entry, and the next command
/// opens an empty vault. A vault that opens is left alone (`None`).
///
/// # Errors
/// Whatever else stops the vault from opening (keychain locked, newer app, I/O): nothing is
/// moved then.
pub async fn start_new_vault(state: &AppState, now: u64) -> CommandResult<Option<KeptAside>> {
    set_aside(state, now).await
}

/// `forgot_app_pin`: the way out of a forgotten PIN, the same as for a damaged vault: no one
/// can look the PIN up, so the tokens are kept aside (renamed, with their keychain entries) and
/// the customer asks the bank to issue them again. Nothing is deleted.
///
/// # Errors
/// `kiosk_has_no_lock` in the kiosk; as [`start_new_vault`].
pub async fn forgot_app_pin(state: &AppState, now: u64) -> CommandResult<Option<KeptAside>> {
    if state.config().kiosk {
        return Err(CommandError::app(AppErrorKind::KioskHasNoLock, "A kiosk never locks."));
    }
    set_aside(state, now).await
}

async fn set_aside(state: &AppState, now: u64) -> CommandResult<Option<KeptAside>> {
    let slot = Arc::clone(&state.vault);
    let path = state.config().vault_path();
    let keys = Arc::clone(&state.keys);
    let key_name = state.config().key_name.clone();
    let biometric = Arc::clone(&state.biometric);
    let dir = state.config().data_dir.clone();
    tauri::async_runtime::spawn_blocking(move || {
        let mut guard = slot.blocking_lock();
        let kept = Vault::set_aside(&path, keys, &key_name, now)?;
        // The new vault has no PIN yet, so nothing for biometrics to stand in for.
        crate::biometric::turn_off(&*biometric, &dir);
        // Opened afresh by the next command: empty if the file was put aside.
        *guard = None;
        Ok(kept.map(|k| KeptAside {
            file_name: k
                .file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        }))
    })
    .await
    .map_err(|_| internal())?
}
