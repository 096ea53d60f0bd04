//! Biometric unlock's commands: `turn_on_biometric`, `turn_off_biometric` and
//! `unlock_with_biometric`, each answering the lock as it stands afterwards.
//!
//! Biometrics stand in for the app PIN, never replace it: they can be turned on only with a PIN
//! set (and typed), the PIN always opens the app as well, and whatever makes the platform's key
//! unusable (a new fingerprint or face, the screen lock removed, the PIN changed) turns biometric
//! unlock off and leaves the PIN. The system prompt runs on a blocking thread of its own, outside
//! the vault's lock, so nothing else waits on the customer's finger. Approving a transaction
//! still takes the PIN typed for it.

use std::sync::Arc;

use softtoken_core::ids::AppPin;
use softtoken_core::vault::Vault;
use softtoken_core::Error;
use zeroize::Zeroizing;

use super::lock::{lock_status, LockView};
use super::settings::keep_setting;
use super::state::{internal, AppState};
use crate::biometric::{is_on, turn_off, BiometricFailure, Prompt, BIOMETRIC_ON_FILE};
use crate::error::{AppErrorKind, CommandError, CommandResult};

fn failed(why: BiometricFailure) -> CommandError {
    match why {
        BiometricFailure::Cancelled => CommandError::app(
            AppErrorKind::BiometricCancelled,
            "The fingerprint or face check was cancelled.",
        ),
        BiometricFailure::Invalidated => invalidated(),
        BiometricFailure::Unavailable => unavailable(),
    }
}

fn invalidated() -> CommandError {
    CommandError::app(
        AppErrorKind::BiometricInvalidated,
        "Fingerprint or face unlock was turned off; enter the PIN.",
    )
}

fn unavailable() -> CommandError {
    CommandError::app(
        AppErrorKind::BiometricUnavailable,
        "Fingerprint or face unlock cannot be used on this device now.",
    )
}

/// Runs a platform call that shows the system prompt, on a blocking thread.
async fn prompted<R, F>(f: F) -> CommandResult<R>
where
    R: Send + 'static,
    F: FnOnce() -> CommandResult<R> + Send + 'static,
{
    tauri::async_runtime::spawn_blocking(f).await.map_err(|_| internal())?
}

/// `turn_on_biometric`: with the vault open and its PIN typed, keeps the secret that opens it
/// behind the customer's biometrics.
///
/// # Errors
/// `kiosk_has_no_lock`; `biometric_unavailable` where the device has none; `pin_not_set`
/// without a PIN; `wrong_pin`/`pin_back_off` (the try counts); `pin_needed` while locked;
/// `biometric_cancelled`; vault errors. Nothing changes on any of them.
pub async fn turn_on_biometric(
    state: &AppState,
    pin: Zeroizing<String>,
    lang: String,
    now: u64,
) -> CommandResult<LockView> {
    if state.config().kiosk {
        return Err(CommandError::app(AppErrorKind::KioskHasNoLock, "A kiosk never locks."));
    }
    let store = Arc::clone(&state.biometric);
    let available = Arc::clone(&store);
    if !prompted(move || Ok(available.available())).await? {
        return Err(unavailable());
    }
    let pin = AppPin::new(&pin)?;
    let secret = state
        .with_slot(move |slot| {
            let vault = slot.vault.as_ref().ok_or(Error::PinNeeded)?;
            Ok(vault.biometric_secret(&pin, now)?)
        })
        .await?;
    let dir = state.config().data_dir.clone();
    prompted(move || {
        store.keep(&secret, &Prompt::for_language(&lang)).map_err(failed)?;
        keep_setting(&dir, BIOMETRIC_ON_FILE, "1")
    })
    .await?;
    lock_status(state, now).await
}

/// `turn_off_biometric`: the PIN alone opens the app again.
///
/// # Errors
/// Keychain and vault errors of the lock's status.
pub async fn turn_off_biometric(state: &AppState, now: u64) -> CommandResult<LockView> {
    let store = Arc::clone(&state.biometric);
    let dir = state.config().data_dir.clone();
    prompted(move || {
        turn_off(&*store, &dir);
        Ok(())
    })
    .await?;
    lock_status(state, now).await
}

/// `unlock_with_biometric`: the platform's prompt, then the vault opened with the secret it
/// released.
///
/// # Errors
/// `biometric_unavailable` when biometric unlock is off or cannot be used now;
/// `biometric_cancelled` (still locked, still on); `biometric_invalidated` when the platform's
/// key is gone or the PIN changed since (turned off; the PIN opens); vault errors.
pub async fn unlock_with_biometric(
    state: &AppState,
    lang: String,
    now: u64,
) -> CommandResult<LockView> {
    let dir = state.config().data_dir.clone();
    if state.config().kiosk || !is_on(&dir) {
        return Err(unavailable());
    }
    let store = Arc::clone(&state.biometric);
    let releasing = Arc::clone(&store);
    let off_dir = dir.clone();
    let released = prompted(move || match releasing.release(&Prompt::for_language(&lang)) {
        Ok(secret) => Ok(secret),
        Err(BiometricFailure::Invalidated) => {
            turn_off(&*releasing, &off_dir);
            Err(invalidated())
        }
        Err(why) => Err(failed(why)),
    })
    .await?;
    let clock = Arc::clone(&state.clock);
    state
        .with_slot(move |slot| {
            slot.make_dir()?;
            let opened = Vault::open_with_biometric_secret(
                slot.path,
                Arc::clone(slot.keys),
                slot.key_name,
                &released,
            );
            match opened {
                Ok(vault) => {
                    *slot.vault = Some(vault);
                    clock.lock().map_err(|_| internal())?.unlocked();
                    Ok(())
                }
                Err(Error::BiometricStale) => {
                    turn_off(&*store, &dir);
                    Err(invalidated())
                }
                Err(e) => Err(e.into()),
            }
        })
        .await?;
    lock_status(state, now).await
}
