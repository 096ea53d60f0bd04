//! What each command does, as plain async functions over [`AppState`], so tests call them
//! without a window. The Tauri commands in `lib.rs` only forward to these.
//!
//! Every response is one of the types below: names, IDs a customer already knows (the user ID
//! masked), codes and seconds. No seed, key or activation password is ever in one.
//!
//! One file per concern: [`state`] holds the vault and the bank's client that the others work
//! through; `tokens` the tokens already stored, `activation` getting one from the bank,
//! `settings` what the screens are told, `damaged_vault` the way out of a vault that cannot be
//! opened, `launch` the start (the vault opened early, one run per data directory, the
//! launch-time measurement), `confirm` transaction confirmation and the offline code, `lock`
//! the app lock's commands over `lock_clock`, the rule of when it locks by itself, and
//! `biometric` the fingerprint or face unlock over the platform's store, `move_phone` the
//! move of a token to a new phone.

mod activation;
mod biometric;
mod confirm;
mod damaged_vault;
mod launch;
mod lock;
mod lock_clock;
mod move_phone;
mod settings;
mod state;
mod tokens;

pub use activation::{activate, resume_pending, Notice};
pub use biometric::{turn_off_biometric, turn_on_biometric, unlock_with_biometric};
pub use confirm::{
    answer_confirmation, list_confirmations, offline_code, Answered, ConfirmationView, OfflineCode,
    PayeeView, Pending,
};
pub use damaged_vault::{forgot_app_pin, start_new_vault, KeptAside};
pub use launch::{instance_name, note_start, open_vault_early, ui_ready};
pub use lock::{
    change_app_pin, lock_now, lock_status, remove_app_pin, set_app_pin, set_lock_timeout, unlock,
    LockView,
};
pub use lock_clock::{LockClock, DEFAULT_LOCK_AFTER_SECS, LOCK_AFTER_CHOICES, LOCK_AFTER_FILE};
pub use move_phone::{cancel_move, check_moves, move_status, start_move, MoveView};
pub use settings::{app_info, save_language, AppInfo, Language, LANGUAGE_FILE};
pub use state::{AppState, INSTANCE_LOCK_FILE};
pub use tokens::{
    copy_code, delete_token, kiosk_reset, list_tokens, rename_token, reorder_tokens, Copied,
    Deleted, TokenView,
};

#[cfg(test)]
mod tests;
