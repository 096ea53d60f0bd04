//! The app lock's commands: `lock_status`, `unlock`, `set_app_pin`, `change_app_pin`,
//! `remove_app_pin`, `lock_now` and `set_lock_timeout` (biometric unlock's in
//! [`super::biometric`]), each answering the lock as it stands
//! afterwards ([`LockView`]); and the PIN an approval needs ([`check_pin_for_approval`]).
//!
//! Core keeps the rules (the PIN's format and weakness, the wrap of the vault key, the tries and
//! the back-off in the keychain); this module decides when the app is locked: at start, after
//! `lock_now`, and after the background time ([`super::lock_clock`]). The branch kiosk never
//! locks, and a bank's build may require the PIN ([`crate::config::Config::pin_required`]).

use serde::Serialize;
use softtoken_core::ids::AppPin;
use softtoken_core::vault::{PinCost, Vault};
use zeroize::Zeroizing;

use super::lock_clock::{LOCK_AFTER_CHOICES, LOCK_AFTER_FILE};
use super::settings::keep_setting;
use super::state::{internal, AppState, Slot};
use crate::biometric::{self, BiometricStore};
use crate::config::Config;
use crate::error::{AppErrorKind, CommandError, CommandResult};

/// The app lock as the screens are told it: no PIN, no key, nothing of a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LockView {
    /// The vault is locked with a PIN.
    pub pin_set: bool,
    /// The PIN must be entered before any code is shown.
    pub locked: bool,
    /// The bank's build requires a PIN: it cannot be removed, and one is chosen first.
    pub pin_required: bool,
    /// Wrong PINs still free before each further try waits.
    pub tries_left_before_wait: u32,
    /// Seconds before the next PIN is checked; 0 when a try is allowed now.
    pub wait_secs: u64,
    /// Seconds in the background before the app locks.
    pub lock_after_secs: u32,
    /// The branch kiosk, which never locks.
    pub kiosk: bool,
    /// This phone can keep the unlock behind the customer's fingerprint or face.
    pub biometric_available: bool,
    /// Biometric unlock is on: the lock screen offers it before the PIN.
    pub biometric_on: bool,
}

/// The open vault, with the test cost applied where a debug build was asked for it.
fn open_for_new_pin<'s>(
    slot: &'s mut Slot<'_>,
    cost: Option<PinCost>,
) -> CommandResult<&'s mut Vault> {
    let vault = slot.open()?;
    if let Some(cost) = cost {
        vault.use_pin_cost_for_tests(cost);
    }
    Ok(vault)
}

fn kiosk_has_no_lock() -> CommandError {
    CommandError::app(AppErrorKind::KioskHasNoLock, "A kiosk never locks.")
}

fn pin_required() -> CommandError {
    CommandError::app(AppErrorKind::PinRequired, "This app's lock cannot be turned off.")
}

/// The lock as it stands, read under the slot's lock.
fn view(
    config: &Config,
    lock_after_secs: u32,
    biometric: &dyn BiometricStore,
    slot: &Slot<'_>,
    now: u64,
) -> CommandResult<LockView> {
    let mut out = LockView {
        pin_set: false,
        locked: false,
        pin_required: config.pin_required && !config.kiosk,
        tries_left_before_wait: 0,
        wait_secs: 0,
        lock_after_secs,
        kiosk: config.kiosk,
        biometric_available: false,
        biometric_on: false,
    };
    if config.kiosk {
        return Ok(out);
    }
    slot.make_dir()?;
    let status = Vault::lock_status(slot.path, slot.keys.as_ref(), slot.key_name, now)?;
    out.pin_set = status.pin_set;
    out.locked = status.pin_set && slot.vault.is_none();
    out.tries_left_before_wait = status.tries_left_before_wait;
    out.wait_secs = status.wait_until_unix.map_or(0, |until| until.saturating_sub(now));
    // Biometrics stand in for a PIN, so they are offered only once there is one.
    out.biometric_available = status.pin_set && biometric.available();
    out.biometric_on = out.biometric_available && biometric::is_on(slot.dir);
    Ok(out)
}

/// Runs `f` on the slot, then answers the lock as it stands.
async fn then_view<F>(state: &AppState, now: u64, f: F) -> CommandResult<LockView>
where
    F: FnOnce(&mut Slot<'_>) -> CommandResult<()> + Send + 'static,
{
    let answered = state.with_slot(move |slot| f(slot)).await;
    answered?;
    lock_status(state, now).await
}

fn not_in_kiosk(state: &AppState) -> CommandResult<()> {
    if state.config().kiosk {
        return Err(kiosk_has_no_lock());
    }
    Ok(())
}

/// `lock_status`: whether a PIN is set, whether it must be entered now, the tries and the wait.
///
/// # Errors
/// Keychain and vault errors (a damaged or rolled-back vault, `already_running`).
pub async fn lock_status(state: &AppState, now: u64) -> CommandResult<LockView> {
    let config = state.config().clone();
    let after = state.clock.lock().map_err(|_| internal())?.after_secs();
    let store = std::sync::Arc::clone(&state.biometric);
    state.with_slot(move |slot| view(&config, after, &*store, slot, now)).await
}

/// `unlock`: opens the vault with the PIN; the codes can be listed again.
///
/// # Errors
/// `invalid_input` (not six digits), `wrong_pin` with the tries left and any wait,
/// `pin_back_off` while a wait runs (no try is counted), vault errors.
pub async fn unlock(state: &AppState, pin: Zeroizing<String>, now: u64) -> CommandResult<LockView> {
    let clock = std::sync::Arc::clone(&state.clock);
    then_view(state, now, move |slot| {
        let pin = current_pin(&pin)?;
        slot.make_dir()?;
        let vault = Vault::open_with_pin(
            slot.path,
            std::sync::Arc::clone(slot.keys),
            slot.key_name,
            &pin,
            now,
        )?;
        *slot.vault = Some(vault);
        clock.lock().map_err(|_| internal())?.unlocked();
        Ok(())
    })
    .await
}

/// `set_app_pin`: locks the vault with a first PIN (the vault must be open: unlocked, or
/// without a PIN).
///
/// # Errors
/// `invalid_input`, `weak_pin` (with the reason), `pin_already_set`, `kiosk_has_no_lock`,
/// vault errors.
pub async fn set_app_pin(
    state: &AppState,
    pin: Zeroizing<String>,
    now: u64,
) -> CommandResult<LockView> {
    not_in_kiosk(state)?;
    let pin = AppPin::new(&pin)?;
    let cost = state.pin_cost;
    then_view(state, now, move |slot| Ok(open_for_new_pin(slot, cost)?.set_pin(&pin)?)).await
}

/// `change_app_pin`: the current PIN and a new one; the vault key is wrapped again.
///
/// # Errors
/// `wrong_pin`/`pin_back_off` for the current PIN, `invalid_input`/`weak_pin` for the new,
/// `pin_not_set`, vault errors.
pub async fn change_app_pin(
    state: &AppState,
    old: Zeroizing<String>,
    new: Zeroizing<String>,
    now: u64,
) -> CommandResult<LockView> {
    not_in_kiosk(state)?;
    let new = AppPin::new(&new)?;
    let old = current_pin(&old)?;
    let cost = state.pin_cost;
    let store = std::sync::Arc::clone(&state.biometric);
    then_view(state, now, move |slot| {
        open_for_new_pin(slot, cost)?.change_pin(&old, &new, now)?;
        // What the phone keeps opens the old PIN's lock only: the customer turns it on again.
        biometric::turn_off(&*store, slot.dir);
        Ok(())
    })
    .await
}

/// `remove_app_pin`: turns the lock off with the current PIN; refused when the bank's build
/// requires one.
///
/// # Errors
/// `pin_required`, `wrong_pin`/`pin_back_off`, `pin_not_set`, vault errors.
pub async fn remove_app_pin(
    state: &AppState,
    pin: Zeroizing<String>,
    now: u64,
) -> CommandResult<LockView> {
    not_in_kiosk(state)?;
    if state.config().pin_required {
        return Err(pin_required());
    }
    let pin = current_pin(&pin)?;
    let store = std::sync::Arc::clone(&state.biometric);
    then_view(state, now, move |slot| {
        slot.open()?.remove_pin(&pin, now)?;
        biometric::turn_off(&*store, slot.dir);
        Ok(())
    })
    .await
}

/// The PIN typed as the current one.
fn current_pin(typed: &str) -> CommandResult<AppPin> {
    Ok(AppPin::new(typed)?)
}

/// `lock_now`: drops the open vault, so the PIN is needed again. Without a PIN there is
/// nothing to lock, and the app stays as it is.
///
/// # Errors
/// `kiosk_has_no_lock`, keychain errors.
pub async fn lock_now(state: &AppState, now: u64) -> CommandResult<LockView> {
    not_in_kiosk(state)?;
    then_view(state, now, |slot| {
        if slot.vault.as_ref().is_some_and(Vault::has_pin) {
            *slot.vault = None;
        }
        Ok(())
    })
    .await
}

/// `set_lock_timeout`: the background time, one of [`LOCK_AFTER_CHOICES`], kept for the next
/// start.
///
/// # Errors
/// `internal` for another number, `kiosk_has_no_lock`, `internal` when it cannot be kept.
pub async fn set_lock_timeout(state: &AppState, secs: u32, now: u64) -> CommandResult<LockView> {
    not_in_kiosk(state)?;
    if !LOCK_AFTER_CHOICES.contains(&secs) {
        // The screen offers these choices only; another number is a bug of the page.
        return Err(CommandError::app(
            AppErrorKind::Internal,
            "The lock time is one of 0, 30, 60, 300 or 900 seconds.",
        ));
    }
    keep_setting(&state.config().data_dir, LOCK_AFTER_FILE, &secs.to_string())?;
    state.clock.lock().map_err(|_| internal())?.set_after(secs);
    lock_status(state, now).await
}

/// The PIN an approval needs when the lock is on: typed for this approval, checked by opening
/// the vault with it (a wrong one counts as a try, as at the unlock). Without a PIN set, none
/// is asked.
///
/// # Errors
/// `invalid_input` (empty or not six digits), `wrong_pin`, `pin_back_off`, vault errors.
pub(super) async fn check_pin_for_approval(
    state: &AppState,
    typed: Option<Zeroizing<String>>,
    now: u64,
) -> CommandResult<()> {
    state
        .with_slot(move |slot| {
            if !slot.open()?.has_pin() {
                return Ok(());
            }
            let pin = current_pin(typed.as_deref().map_or("", |s| s.as_str()))?;
            let vault = Vault::open_with_pin(
                slot.path,
                std::sync::Arc::clone(slot.keys),
                slot.key_name,
                &pin,
                now,
            )?;
            *slot.vault = Some(vault);
            Ok(())
        })
        .await
}
