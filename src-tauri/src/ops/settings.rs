//! `app_info` and `save_language`: what the screens need to know about this run, and the
//! customer's choice of language kept for the next.

use serde::Serialize;

use super::state::{internal, AppState};
use crate::clipboard::CLEAR_AFTER_SECS;
use crate::error::CommandResult;

/// What the web view needs to know about this run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    /// The app's version.
    pub version: &'static str,
    /// Kiosk mode: tokens are wiped after `kiosk_idle_secs` without input.
    pub kiosk: bool,
    /// Idle seconds before a kiosk wipes its tokens.
    pub kiosk_idle_secs: u32,
    /// Seconds a copied code stays on the clipboard.
    pub clipboard_clear_secs: u32,
    /// The session's language from the environment (Linux), e.g. `ja-JP`; the screens fall
    /// back to `navigator.language` without it.
    pub locale: Option<String>,
    /// A QA build (`--features qa`): every screen shows the "QA" badge.
    pub qa: bool,
    /// The language the customer chose with the switch ([`save_language`]), if any.
    pub language: Option<Language>,
}

/// A language of the screens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// 日本語.
    Ja,
    /// English.
    En,
}

impl Language {
    /// The name kept in [`LANGUAGE_FILE`], as the web view names it.
    fn as_str(self) -> &'static str {
        match self {
            Language::Ja => "ja",
            Language::En => "en",
        }
    }
}

/// File in the data directory that keeps the customer's choice of language.
pub const LANGUAGE_FILE: &str = "language";

/// `app_info`: settings the screens need.
pub fn app_info(state: &AppState) -> AppInfo {
    AppInfo {
        version: env!("CARGO_PKG_VERSION"),
        kiosk: state.config().kiosk,
        kiosk_idle_secs: state.config().kiosk_idle_secs,
        clipboard_clear_secs: CLEAR_AFTER_SECS,
        locale: if cfg!(target_os = "linux") {
            crate::config::env_language(|k| std::env::var(k).ok())
        } else {
            None
        },
        qa: crate::config::QA_BUILD,
        language: saved_language(state),
    }
}

fn saved_language(state: &AppState) -> Option<Language> {
    let text = std::fs::read_to_string(state.config().data_dir.join(LANGUAGE_FILE)).ok()?;
    [Language::Ja, Language::En].into_iter().find(|l| l.as_str() == text.trim())
}

/// Keeps the customer's choice of language for the next start. Kept by the app rather than in
/// the web view's storage, which WebKit writes to disk some time later: an app closed right
/// after the switch came back in the other language. A kiosk keeps nothing: the next visitor
/// starts in the machine's language.
///
/// # Errors
/// [`AppErrorKind::Internal`] when the file cannot be written; the choice then lasts for this
/// run only.
pub fn save_language(state: &AppState, language: Language) -> CommandResult<()> {
    if state.config().kiosk {
        return Ok(());
    }
    keep_setting(&state.config().data_dir, LANGUAGE_FILE, language.as_str())
}

/// Keeps one of the customer's choices in file `name` of the data directory `dir`.
///
/// # Errors
/// [`AppErrorKind::Internal`] when the file cannot be written.
pub(super) fn keep_setting(dir: &std::path::Path, name: &str, text: &str) -> CommandResult<()> {
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        // Written aside and renamed, so a crash leaves the old choice or the new, never half.
        let partial = dir.join(format!("{name}.partial"));
        std::fs::write(&partial, text)?;
        std::fs::rename(&partial, dir.join(name))
    };
    write().map_err(|_| internal())
}
