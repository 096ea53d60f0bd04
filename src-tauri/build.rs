//! Reads the app's configuration from the repository root (`../tauri.conf.json`), where the
//! layout keeps it, and generates the permission files for our commands.

fn main() {
    let attrs = tauri_build::Attributes::new()
        .config_path("../tauri.conf.json")
        // The icon is beside the config at the root, not in src-tauri/ where tauri looks.
        .windows_attributes(
            tauri_build::WindowsAttributes::new().window_icon_path("../icons/icon.ico"),
        )
        .app_manifest(tauri_build::AppManifest::new().commands(softtoken_commands()));
    if let Err(e) = tauri_build::try_build(attrs) {
        // A build script reports failure by panicking; the message names what is wrong.
        #[allow(clippy::panic)]
        {
            panic!("tauri build step failed: {e:#}");
        }
    }
}

/// The commands the web view may call; each gets an `allow-<name>` permission.
fn softtoken_commands() -> &'static [&'static str] {
    &[
        "app_info",
        "list_tokens",
        "activate",
        "rename_token",
        "delete_token",
        "reorder_tokens",
        "copy_code",
        "kiosk_reset",
        "resume_pending",
        "start_new_vault",
        "ui_ready",
    ]
}
