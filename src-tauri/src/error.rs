//! The one error type the web view sees: `{kind, message}` plus the few numbers a screen needs.
//!
//! It is built only from core's [`Error::kind`] and fixed texts, never from an OS or library
//! message, so it cannot carry a secret, a file path or SQL. The web view translates `kind`.

use serde::Serialize;
use softtoken_core::error::{Field, Invalid};
use softtoken_core::Error;

/// What a command reports when it fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(rename_all = "camelCase")]
#[error("{kind}: {message}")]
pub struct CommandError {
    /// Stable code (core's [`Error::kind`] or one of this crate's), translated by the web view.
    pub kind: &'static str,
    /// English fallback text, safe to show and to log (a fixed sentence per kind).
    pub message: &'static str,
    /// For `invalid_input`: the field that was wrong (`service_id`, `user_id`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'static str>,
    /// For `invalid_input`: why (`empty`, `not_digits`, `wrong_length`, `too_long`, `control`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// For `invalid_input`: the shortest accepted length.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<u32>,
    /// For `invalid_input`: the longest accepted length.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
    /// For `invalid_input`: how many digits or characters were typed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found: Option<u32>,
    /// For a wrong activation password: guesses left before the registration locks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tries_left: Option<u32>,
    /// For `rate_limited`: seconds to wait.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

/// Result of a command.
pub type CommandResult<T> = Result<T, CommandError>;

impl CommandError {
    /// An error of this crate (not from core).
    pub fn app(kind: &'static str, message: &'static str) -> Self {
        Self {
            kind,
            message,
            field: None,
            reason: None,
            min: None,
            max: None,
            found: None,
            tries_left: None,
            retry_after: None,
        }
    }
}

/// A length for the screen; lengths of typed text always fit.
fn small(n: usize) -> Option<u32> {
    u32::try_from(n).ok()
}

fn field_code(f: Field) -> &'static str {
    f.code()
}

fn reason_code(r: &Invalid) -> &'static str {
    match r {
        Invalid::Empty => "empty",
        Invalid::NotDigits => "not_digits",
        Invalid::WrongLength { .. } => "wrong_length",
        Invalid::TooLong { .. } => "too_long",
        Invalid::ControlCharacter => "control",
    }
}

/// A fixed English sentence per kind: core's own messages for some kinds include OS text
/// (keychain, I/O) that might name a path, so none of them is passed through.
fn fallback_message(kind: &str) -> &'static str {
    match kind {
        "wrong_activation_password" => "The activation password is wrong.",
        "registration_locked" => "Too many wrong passwords: ask the bank to issue the token again.",
        "registration_expired" => {
            "The registration has expired: ask the bank to issue the token again."
        }
        "already_delivered" => "This token was already set up on a device.",
        "attempt_expired" => "The setup took too long; start again.",
        "registration_ended" => "Use of this token was ended at the bank.",
        "unknown_registration" => "The service ID or user ID is not known to the bank.",
        "superseded" => "The token was set up again on another attempt.",
        "rate_limited" => "Too many attempts: wait and try again.",
        "bank_not_authenticated" => "The server could not prove it is the bank.",
        "server_unreachable" => "The bank's server cannot be reached.",
        "tls" => "A secure connection to the bank could not be made.",
        "server_error" => "The bank's server had a problem.",
        "protocol_violation" => "The bank's server answered unexpectedly.",
        "insecure_server_url" => "The server address is not allowed.",
        "duplicate_token" => "This token is already on this device.",
        "token_not_found" => "The token is no longer on this device.",
        "vault_corrupted" => "The token store is damaged.",
        "vault_changed" => "The token store was changed by another program; nothing was saved.",
        "vault_too_new" => "The token store was written by a newer app: update the app.",
        "vault_key_missing" => "The key of the token store is missing from the keychain.",
        "keychain_unavailable" => "The system keychain is locked or unavailable.",
        "storage_io" => "The token store could not be read or written.",
        "unsupported_parameters" => "The bank sent settings this app does not support.",
        "crypto" => "A cryptographic check failed.",
        "invalid_input" => "A value typed is not valid: see the field and reason.",
        _ => "Something went wrong.",
    }
}

impl From<Error> for CommandError {
    fn from(e: Error) -> Self {
        let kind = e.kind();
        let mut out = CommandError::app(kind, fallback_message(kind));
        match &e {
            Error::Invalid { field, reason } => {
                out.field = Some(field_code(*field));
                out.reason = Some(reason_code(reason));
                match reason {
                    Invalid::WrongLength { min, max, found } => {
                        (out.min, out.max, out.found) = (small(*min), small(*max), small(*found));
                    }
                    Invalid::TooLong { max } => out.max = small(*max),
                    _ => {}
                }
            }
            Error::WrongActivationPassword { tries_left } => out.tries_left = Some(*tries_left),
            Error::RateLimited { retry_after } => out.retry_after = *retry_after,
            _ => {}
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_and_library_text_never_reaches_the_web_view() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "/home/taro/.local/x");
        let keychain =
            Error::KeychainUnavailable("org.freedesktop.secrets at /run/user/1000".into());
        let offline = Error::ServerUnreachable("tcp connect to 10.0.0.1 failed".into());
        for e in [Error::Io(io), keychain, offline] {
            let kind = e.kind();
            let json = serde_json::to_string(&CommandError::from(e)).unwrap();
            assert!(!json.contains('/') && !json.contains("10.0.0.1"), "{json}");
            assert!(json.contains(kind), "{json}");
        }
    }

    #[test]
    fn wrong_password_carries_tries_left_and_invalid_input_names_the_field() {
        let e = CommandError::from(Error::WrongActivationPassword { tries_left: 3 });
        assert_eq!((e.kind, e.tries_left), ("wrong_activation_password", Some(3)));
        let e = CommandError::from(softtoken_core::ids::UserId::new("12").unwrap_err());
        assert_eq!(
            (e.kind, e.field, e.reason),
            ("invalid_input", Some("user_id"), Some("wrong_length"))
        );
        assert_eq!((e.min, e.max, e.found), (Some(12), Some(12), Some(2)));
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["field"], "user_id");
        assert_eq!(json["found"], 2);
        assert!(json.get("triesLeft").is_none());
    }
}
