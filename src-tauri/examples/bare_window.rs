//! A bare Tauri 2 window, the floor scripts/app-perf.sh measures the app against: the same Tauri
//! and WebKit build and settings ([`softtoken_app::webkit`]), one local page with a code and a
//! one-second countdown (examples/bare-window/page), and none of the app's work (no vault, no
//! keychain, no bank's client, no single-instance name). Reports its first paint as the app
//! does (`ui_ready`, with `SOFTTOKEN_PERF=1`).
//!
//! `cargo build --profile app-dist -p softtoken-app --example bare_window`

use softtoken_app::{ops, webkit};
use tauri::Manager;

#[tauri::command]
fn ui_ready() {
    ops::ui_ready();
}

fn main() -> std::process::ExitCode {
    ops::note_start();
    webkit::tune_environment();
    let result = tauri::Builder::default()
        .setup(|app| {
            if let Some(window) = app.get_webview_window("main") {
                webkit::tune(&window);
            }
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![ui_ready])
        .run(tauri::generate_context!("examples/bare-window/tauri.conf.json"));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bare-window could not start: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
