//! The commands the web view may call, named once. `build.rs` compiles this file too (a build
//! script cannot link its own crate), so it holds the list and nothing that needs Tauri:
//! [`NAMES`] is build.rs's permission manifest (an `allow-<name>` permission each), and
//! `invoke_handler!` is lib.rs's handler over the same functions, so those two cannot drift.
//!
//! Three more lists must follow this one, because Tauri and the web view read them as they
//! are: the window's capability (`capabilities/main-window.json`), the web view's api module
//! (`ui/api.js`), and the seed-leak test, which asks every command. `tests/command_list.rs`
//! checks the first two and the leak test checks itself against [`NAMES`].

/// Defines [`NAMES`] and `invoke_handler!` from one list of the command functions.
macro_rules! softtoken_commands {
    ($($command:ident),* $(,)?) => {
        /// Every command the web view may call, by the name it calls it.
        pub const NAMES: &[&str] = &[$(stringify!($command)),*];

        /// Tauri's invoke handler over these commands, the functions of the crate's root.
        // Unused where build.rs compiles this file: it builds no handler.
        #[allow(unused_macros)]
        macro_rules! invoke_handler {
            () => {
                tauri::generate_handler![$($command),*]
            };
        }
    };
}

softtoken_commands![
    app_info,
    list_tokens,
    activate,
    rename_token,
    delete_token,
    reorder_tokens,
    copy_code,
    kiosk_reset,
    resume_pending,
    start_new_vault,
    save_language,
    ui_ready,
    list_confirmations,
    answer_confirmation,
    offline_code,
    lock_status,
    unlock,
    set_app_pin,
    change_app_pin,
    remove_app_pin,
    lock_now,
    set_lock_timeout,
    forgot_app_pin,
    turn_on_biometric,
    turn_off_biometric,
    unlock_with_biometric,
    start_move,
    move_status,
    cancel_move,
    check_moves,
];
