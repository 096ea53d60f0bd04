//! Reads the app's configuration from the repository root (`../tauri.conf.json`), where the
//! layout keeps it, generates the permission files for our commands (named in src/commands.rs), and refuses a customer
//! build without the bank's server (src/built_server.rs).

#[path = "src/built_server.rs"]
mod built_server;
#[path = "src/commands.rs"]
mod commands;

fn main() {
    println!("cargo:rerun-if-env-changed=SOFTTOKEN_SERVER_URL");
    println!("cargo:rerun-if-env-changed=SOFTTOKEN_PIN_REQUIRED");
    // Optimised and without the QA feature: what customers get (release, app-dist, phones).
    let customer_build = std::env::var_os("CARGO_CFG_DEBUG_ASSERTIONS").is_none()
        && std::env::var_os("CARGO_FEATURE_QA").is_none();
    let url = std::env::var("SOFTTOKEN_SERVER_URL").ok();
    if let Err(e) = built_server::check_built_server_url(url.as_deref(), customer_build) {
        // A build script reports failure by panicking; the message says what to set.
        #[allow(clippy::panic)]
        {
            panic!("{e}");
        }
    }
    let attrs = tauri_build::Attributes::new()
        .config_path("../tauri.conf.json")
        // The icon is beside the config at the root, not in src-tauri/ where tauri looks.
        .windows_attributes(
            tauri_build::WindowsAttributes::new().window_icon_path("../icons/icon.ico"),
        )
        .app_manifest(tauri_build::AppManifest::new().commands(commands::NAMES));
    if let Err(e) = tauri_build::try_build(attrs) {
        // A build script reports failure by panicking; the message names what is wrong.
        #[allow(clippy::panic)]
        {
            panic!("tauri build step failed: {e:#}");
        }
    }
}
