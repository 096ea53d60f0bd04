//! Provisions a token into the app's vault without the window, exactly as the activation
//! screen does (the same `ops::activate`, the OS keychain): for scripts that need the app to
//! start with a token, such as scripts/app-perf.sh.
//!
//! ```sh
//! echo 1234 | cargo run --release -p softtoken-app --example provision -- \
//!     http://127.0.0.1:8080 ~/.local/share/jp.softtoken.app 10112231 999800000001
//! ```
//! The activation password is read from standard input. Prints the token as the screens get
//! it (name, code, seconds left), never a seed.

use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use softtoken_app::config::{Config, ServerTrust, DEFAULT_KIOSK_IDLE_SECS, VAULT_KEY_NAME};
use softtoken_app::ops::{self, AppState};
use softtoken_core::totp::unix_now;
use softtoken_core::vault::OsKeyStore;
use zeroize::Zeroizing;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, dir, service, user] = args.as_slice() else {
        eprintln!("usage: provision SERVER_URL DATA_DIR SERVICE_ID USER_ID  (password on stdin)");
        return ExitCode::from(2);
    };
    let mut password = Zeroizing::new(String::new());
    if std::io::stdin().lock().read_line(&mut password).is_err() {
        eprintln!("provision: could not read the activation password from standard input");
        return ExitCode::FAILURE;
    }
    let config = Config {
        server_url: url.clone(),
        data_dir: PathBuf::from(dir),
        // The entry a customer build uses for its platform data directory.
        key_name: VAULT_KEY_NAME.to_owned(),
        kiosk: false,
        kiosk_idle_secs: DEFAULT_KIOSK_IDLE_SECS,
        kiosk_area: None,
        server_trust: ServerTrust::default(),
        pin_required: false,
    };
    let state = AppState::new(config, Arc::new(OsKeyStore::new()));
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("provision: no async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let trimmed = Zeroizing::new(password.trim().to_owned());
    match runtime.block_on(ops::activate(&state, service, user, trimmed, unix_now())) {
        Ok(token) => match serde_json::to_string(&token) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(_) => ExitCode::FAILURE,
        },
        Err(e) => {
            eprintln!("provision: {} ({})", e.message, e.kind);
            ExitCode::FAILURE
        }
    }
}
