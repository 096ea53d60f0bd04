//! softtoken-app: the customer's software token, a thin Tauri 2 shell over `softtoken-core`.
//!
//! The web view (`ui/`) draws the screens and calls the commands below; each takes the shared
//! [`ops::AppState`], calls core through [`ops`], and maps core's error to
//! [`error::CommandError`] (`{kind, message}`). Commands return names, codes and seconds, never
//! a seed. The capability file grants the window these commands and nothing else; all are
//! named once, in [`commands`].

pub mod biometric;
pub mod built_server;
pub mod clipboard;
#[macro_use]
pub mod commands;
pub mod config;
pub mod error;
pub mod ops;
pub mod webkit;

use std::process::ExitCode;
use std::sync::Arc;

use softtoken_core::totp::unix_now;
use softtoken_core::vault::OsKeyStore;
#[cfg(desktop)]
use tauri::{plugin::TauriPlugin, Wry};
use tauri::{Manager, State};
use zeroize::Zeroizing;

use crate::config::{Config, Inputs, KioskArea, KEYCHAIN_SERVICE, OVERRIDES_ALLOWED};
use crate::error::CommandResult;
use crate::ops::{
    Answered, AppInfo, AppState, Copied, Deleted, KeptAside, LockView, MoveView, Notice,
    OfflineCode, Pending, TokenView,
};

#[tauri::command]
fn app_info(state: State<'_, AppState>) -> AppInfo {
    ops::app_info(&state)
}

#[tauri::command]
fn save_language(state: State<'_, AppState>, language: ops::Language) -> CommandResult<()> {
    ops::save_language(&state, language)
}

#[tauri::command]
async fn list_tokens(state: State<'_, AppState>) -> CommandResult<Vec<TokenView>> {
    ops::list_tokens(&state, unix_now()).await
}

#[tauri::command]
async fn activate(
    state: State<'_, AppState>,
    service_id: String,
    user_id: String,
    password: Zeroizing<String>,
) -> CommandResult<TokenView> {
    ops::activate(&state, &service_id, &user_id, password, unix_now()).await
}

#[tauri::command]
async fn rename_token(
    state: State<'_, AppState>,
    id: String,
    base: String,
    added: String,
) -> CommandResult<TokenView> {
    ops::rename_token(&state, &id, &base, &added, unix_now()).await
}

#[tauri::command]
async fn delete_token(
    state: State<'_, AppState>,
    id: String,
    end_at_bank: bool,
) -> CommandResult<Deleted> {
    ops::delete_token(&state, &id, end_at_bank, unix_now()).await
}

#[tauri::command]
async fn reorder_tokens(state: State<'_, AppState>, ids: Vec<String>) -> CommandResult<()> {
    ops::reorder_tokens(&state, &ids).await
}

#[tauri::command]
async fn copy_code(state: State<'_, AppState>, id: String) -> CommandResult<Copied> {
    ops::copy_code(&state, &id, unix_now()).await
}

#[tauri::command]
async fn kiosk_reset(state: State<'_, AppState>) -> CommandResult<()> {
    ops::kiosk_reset(&state).await
}

#[tauri::command]
fn ui_ready() {
    ops::ui_ready();
}

#[tauri::command]
async fn start_new_vault(state: State<'_, AppState>) -> CommandResult<Option<KeptAside>> {
    ops::start_new_vault(&state, unix_now()).await
}

#[tauri::command]
async fn resume_pending(state: State<'_, AppState>) -> CommandResult<Vec<Notice>> {
    ops::resume_pending(&state).await
}

#[tauri::command]
async fn list_confirmations(state: State<'_, AppState>, id: String) -> CommandResult<Pending> {
    ops::list_confirmations(&state, &id, unix_now()).await
}

#[tauri::command]
async fn answer_confirmation(
    state: State<'_, AppState>,
    id: String,
    decision: softtoken_core::confirm::Decision,
    typed_number: Option<String>,
    pin: Option<Zeroizing<String>>,
) -> CommandResult<Answered> {
    ops::answer_confirmation(&state, &id, decision, typed_number.as_deref(), pin, unix_now()).await
}

#[tauri::command]
async fn offline_code(
    state: State<'_, AppState>,
    id: String,
    account_number: String,
    amount: String,
) -> CommandResult<OfflineCode> {
    ops::offline_code(&state, &id, &account_number, &amount, unix_now()).await
}

#[tauri::command]
async fn lock_status(state: State<'_, AppState>) -> CommandResult<LockView> {
    ops::lock_status(&state, unix_now()).await
}

#[tauri::command]
async fn unlock(state: State<'_, AppState>, pin: Zeroizing<String>) -> CommandResult<LockView> {
    ops::unlock(&state, pin, unix_now()).await
}

#[tauri::command]
async fn set_app_pin(
    state: State<'_, AppState>,
    pin: Zeroizing<String>,
) -> CommandResult<LockView> {
    ops::set_app_pin(&state, pin, unix_now()).await
}

#[tauri::command]
async fn change_app_pin(
    state: State<'_, AppState>,
    old: Zeroizing<String>,
    new: Zeroizing<String>,
) -> CommandResult<LockView> {
    ops::change_app_pin(&state, old, new, unix_now()).await
}

#[tauri::command]
async fn remove_app_pin(
    state: State<'_, AppState>,
    pin: Zeroizing<String>,
) -> CommandResult<LockView> {
    ops::remove_app_pin(&state, pin, unix_now()).await
}

#[tauri::command]
async fn lock_now(state: State<'_, AppState>) -> CommandResult<LockView> {
    ops::lock_now(&state, unix_now()).await
}

#[tauri::command]
async fn set_lock_timeout(state: State<'_, AppState>, secs: u32) -> CommandResult<LockView> {
    ops::set_lock_timeout(&state, secs, unix_now()).await
}

#[tauri::command]
async fn forgot_app_pin(state: State<'_, AppState>) -> CommandResult<Option<KeptAside>> {
    ops::forgot_app_pin(&state, unix_now()).await
}

#[tauri::command]
async fn turn_on_biometric(
    state: State<'_, AppState>,
    pin: Zeroizing<String>,
    lang: String,
) -> CommandResult<LockView> {
    ops::turn_on_biometric(&state, pin, lang, unix_now()).await
}

#[tauri::command]
async fn turn_off_biometric(state: State<'_, AppState>) -> CommandResult<LockView> {
    ops::turn_off_biometric(&state, unix_now()).await
}

#[tauri::command]
async fn unlock_with_biometric(
    state: State<'_, AppState>,
    lang: String,
) -> CommandResult<LockView> {
    ops::unlock_with_biometric(&state, lang, unix_now()).await
}

#[tauri::command]
async fn start_move(
    state: State<'_, AppState>,
    id: String,
    password: Zeroizing<String>,
    password_again: Zeroizing<String>,
    pin: Option<Zeroizing<String>>,
) -> CommandResult<MoveView> {
    ops::start_move(&state, &id, password, password_again, pin, unix_now()).await
}

#[tauri::command]
async fn move_status(state: State<'_, AppState>, id: String) -> CommandResult<MoveView> {
    ops::move_status(&state, &id, unix_now()).await
}

#[tauri::command]
async fn cancel_move(state: State<'_, AppState>, id: String) -> CommandResult<MoveView> {
    ops::cancel_move(&state, &id, unix_now()).await
}

#[tauri::command]
async fn check_moves(state: State<'_, AppState>) -> CommandResult<Vec<Notice>> {
    ops::check_moves(&state, unix_now()).await
}

/// The lock's background clock follows the window: on a phone the app is suspended and
/// resumed; on the desktop its window loses and regains the focus (a minimised or hidden window
/// has lost it too).
fn follow_window(window: &tauri::Window, event: &tauri::WindowEvent) {
    let state = window.state::<AppState>();
    match event {
        tauri::WindowEvent::Focused(false) => state.went_away_now(),
        tauri::WindowEvent::Focused(true) => state.came_back_now(),
        #[cfg(mobile)]
        tauri::WindowEvent::Suspended => state.went_away_now(),
        #[cfg(mobile)]
        tauri::WindowEvent::Resumed => state.came_back_now(),
        _ => {}
    }
}

/// The kiosk's window: fullscreen, covering its monitor; or exactly `area` of the screen when
/// the kiosk shows the bank's pages beside it (scripts/demo.sh --kiosk).
#[cfg(desktop)]
fn fill_screen(window: &tauri::WebviewWindow, area: Option<KioskArea>) -> tauri::Result<()> {
    if let Some(a) = area {
        window.set_decorations(false)?;
        window.set_position(tauri::PhysicalPosition::new(a.x, a.y))?;
        return window.set_size(tauri::PhysicalSize::new(a.width, a.height));
    }
    window.set_fullscreen(true)?;
    // Fullscreen is a request to the window manager; a kiosk session may have none, so the
    // window also covers its monitor by itself.
    if let Some(monitor) = window.current_monitor()? {
        window.set_position(*monitor.position())?;
        window.set_size(*monitor.size())?;
    }
    Ok(())
}

/// On a phone the app's only window always fills the screen (Tauri has no window placement
/// there).
#[cfg(mobile)]
fn fill_screen(_window: &tauri::WebviewWindow, _area: Option<KioskArea>) -> tauri::Result<()> {
    Ok(())
}

/// Opens the Android Keystore store in the background as the app starts, so that its one-time
/// setup (a Keystore key, a SharedPreferences file) is not paid by the customer's first tap.
/// It needs the app's JavaVM and `Context`, which Tauri's Android runtime has handed to
/// `ndk-context` before `setup` runs (see `softtoken_core::vault::PlatformKeychain`). A failure is not
/// final: the first vault call opens the store again and shows the customer the error.
#[cfg(target_os = "android")]
fn open_android_keystore(keys: Arc<OsKeyStore>) {
    tauri::async_runtime::spawn_blocking(move || {
        let _ = keys.connect();
    });
}

/// One run per data directory (per vault): a second start on the same directory brings the
/// first run's window forward and ends before it opens a window of its own (the plugin runs as
/// the app is built, before any window); a start on another directory runs beside it. The vault
/// keeps its own lock file ([`ops::INSTANCE_LOCK_FILE`]) for whatever gets past this (no
/// session bus, a start racing the first run's end). On Linux the plugin's D-Bus name is the
/// data directory's ([`ops::instance_name`]), found the way Tauri finds it.
#[cfg(target_os = "linux")]
fn one_run_per_vault(identifier: &str, inputs: &Inputs) -> Option<TauriPlugin<Wry>> {
    let platform_dir = dirs::data_dir()?.join(identifier);
    let data_dir = Config::resolve(inputs.clone(), &platform_dir, OVERRIDES_ALLOWED).data_dir;
    let name = ops::instance_name(identifier, &data_dir);
    Some(tauri_plugin_single_instance::Builder::new().dbus_id(name).callback(bring_forward).build())
}

/// Windows and macOS: the plugin's name is the app's identifier alone, so a run with a data
/// directory of its own (a QA or test run) goes without it and relies on the vault's lock.
#[cfg(all(desktop, not(target_os = "linux")))]
fn one_run_per_vault(_identifier: &str, inputs: &Inputs) -> Option<TauriPlugin<Wry>> {
    let own_dir = OVERRIDES_ALLOWED && inputs.data_dir.is_some();
    (!own_dir).then(|| tauri_plugin_single_instance::init(bring_forward))
}

/// The first run's answer to a second start: its window, shown, restored and focused.
#[cfg(desktop)]
fn bring_forward(app: &tauri::AppHandle, _args: Vec<String>, _cwd: String) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

/// Where iOS and Android start the app: `tauri::mobile_entry_point` generates the symbols their
/// native code calls by name (`start_app`, the JNI functions). In a private module, because
/// they are exported for that native code, not part of this crate's API (nor documented).
#[cfg(mobile)]
mod mobile_entry {
    #[tauri::mobile_entry_point]
    fn start() -> std::process::ExitCode {
        super::run()
    }
}

/// Starts the app; returns when its window is closed.
pub fn run() -> ExitCode {
    ops::note_start();
    webkit::tune_environment();
    let inputs = Inputs::from_env();
    let context = tauri::generate_context!("../tauri.conf.json");
    let builder = tauri::Builder::default();
    // First of the plugins: a second start must end before anything else is set up.
    #[cfg(desktop)]
    let builder = match one_run_per_vault(&context.config().identifier, &inputs) {
        Some(plugin) => builder.plugin(plugin),
        None => builder,
    };
    // Used from Rust only (clipboard.rs): the capability grants the web view none of it.
    #[cfg(mobile)]
    let builder = builder.plugin(tauri_plugin_clipboard_manager::init());
    // Used from Rust only (biometric.rs), like the clipboard's.
    #[cfg(target_os = "android")]
    let builder = builder.plugin(tauri_plugin_biometric::init());
    let result = builder
        .setup(move |app| {
            let platform_dir = app.path().app_data_dir()?;
            let config = Config::resolve(inputs, &platform_dir, OVERRIDES_ALLOWED);
            let kiosk = config.kiosk;
            let kiosk_area = config.kiosk_area;
            let keys = Arc::new(OsKeyStore::with_service(KEYCHAIN_SERVICE));
            #[cfg(target_os = "android")]
            open_android_keystore(Arc::clone(&keys));
            #[cfg(target_os = "android")]
            let biometric: Arc<dyn biometric::BiometricStore> =
                Arc::from(biometric::platform_store(app.handle(), config.data_dir.clone()));
            #[cfg(target_os = "ios")]
            let biometric: Arc<dyn biometric::BiometricStore> =
                Arc::from(biometric::platform_store(KEYCHAIN_SERVICE, &config.key_name));
            #[cfg(not(mobile))]
            let biometric: Arc<dyn biometric::BiometricStore> = Arc::new(biometric::NoBiometrics);
            app.manage(AppState::new(config, keys).with_biometric_store(biometric));
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                ops::open_vault_early(&handle.state::<AppState>()).await;
            });
            #[cfg(mobile)]
            clipboard::attach_phone_app(app.handle());
            if let Some(window) = app.get_webview_window("main") {
                webkit::tune(&window);
                if kiosk {
                    fill_screen(&window, kiosk_area)?;
                }
            }
            Ok(())
        })
        .on_window_event(follow_window)
        .invoke_handler(invoke_handler!())
        .run(context);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("softtoken could not start: {e}");
            ExitCode::FAILURE
        }
    }
}
