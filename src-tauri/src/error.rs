//! The one error type the web view sees: `{kind, message}` plus the few numbers a screen needs.
//!
//! It is built only from core's [`Error::kind`] and fixed texts, never from an OS or library
//! message, so it cannot carry a secret, a file path or SQL. The web view translates `kind`.

use serde::Serialize;
use softtoken_core::error::{ErrorKind, Invalid};
use softtoken_core::Error;

/// The kinds of error this crate reports itself, beside core's [`ErrorKind`]s. Like those, their
/// names are stable and the web view's list of kinds (`ui/rules.js`) is generated from
/// [`AppErrorKind::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppErrorKind {
    /// The system clipboard could not be used; the customer can type the code instead.
    ClipboardUnavailable,
    /// A kiosk-only command outside kiosk mode.
    NotKiosk,
    /// A bug or a failed background task; nothing the customer can fix.
    Internal,
    /// A QA or debug build was given a certificate authority (`SOFTTOKEN_QA_CA`) that is not a
    /// readable PEM certificate: the tester fixes or unsets it and starts the app again.
    QaCaUnusable,
    /// The bank says the token was already set up, and it is this device that has it: the
    /// customer finds it in the list (no one else took it).
    AlreadyOnThisDevice,
    /// Another copy of the app has this device's tokens open: the customer uses that window,
    /// or closes it and tries again here.
    AlreadyRunning,
    /// The bank's build requires the app lock and no PIN is set yet: the customer chooses one
    /// (`set_app_pin`) before any code is shown; the lock cannot be turned off.
    PinRequired,
    /// A lock command in the branch kiosk, which never locks.
    KioskHasNoLock,
    /// The customer (or the system) cancelled the fingerprint or face prompt: the PIN still
    /// opens the app, and the button tries again.
    BiometricCancelled,
    /// The phone's biometric key is gone for good (a fingerprint or face was enrolled, or the
    /// screen lock removed), or the PIN changed since: biometric unlock was turned off; the PIN
    /// opens the app, and the security screen turns it on again.
    BiometricInvalidated,
    /// Biometrics cannot be used now (none enrolled, locked out, not on this device).
    BiometricUnavailable,
    /// The activation password chosen for the new phone was typed differently the second
    /// time: the customer types it again.
    PasswordsDiffer,
}

impl AppErrorKind {
    /// Every kind of this crate.
    pub const ALL: [AppErrorKind; 12] = [
        AppErrorKind::ClipboardUnavailable,
        AppErrorKind::NotKiosk,
        AppErrorKind::Internal,
        AppErrorKind::QaCaUnusable,
        AppErrorKind::AlreadyOnThisDevice,
        AppErrorKind::AlreadyRunning,
        AppErrorKind::PinRequired,
        AppErrorKind::KioskHasNoLock,
        AppErrorKind::BiometricCancelled,
        AppErrorKind::BiometricInvalidated,
        AppErrorKind::BiometricUnavailable,
        AppErrorKind::PasswordsDiffer,
    ];

    /// The stable snake_case name the web view receives as `kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            AppErrorKind::ClipboardUnavailable => "clipboard_unavailable",
            AppErrorKind::NotKiosk => "not_kiosk",
            AppErrorKind::Internal => "internal",
            AppErrorKind::QaCaUnusable => "qa_ca_unusable",
            AppErrorKind::AlreadyOnThisDevice => "already_on_this_device",
            AppErrorKind::AlreadyRunning => "already_running",
            AppErrorKind::PinRequired => "pin_required",
            AppErrorKind::KioskHasNoLock => "kiosk_has_no_lock",
            AppErrorKind::BiometricCancelled => "biometric_cancelled",
            AppErrorKind::BiometricInvalidated => "biometric_invalidated",
            AppErrorKind::BiometricUnavailable => "biometric_unavailable",
            AppErrorKind::PasswordsDiffer => "passwords_differ",
        }
    }
}

/// What a command reports when it fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(rename_all = "camelCase")]
#[error("{kind}: {message}")]
pub struct CommandError {
    /// Stable code (core's [`ErrorKind`] or an [`AppErrorKind`]), translated by the web view.
    pub kind: &'static str,
    /// English fallback text, safe to show and to log (a fixed sentence per kind).
    pub message: &'static str,
    /// For `invalid_input`: the field that was wrong (`service_id`, `user_id`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'static str>,
    /// For `invalid_input`: why (`empty`, `not_digits`, `wrong_length`, `too_long`, `control`);
    /// for `weak_pin` and `weak_activation_password`: core's weak-number rule (`repeated`, `sequence`, `year`, `common`).
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
    /// For a wrong activation password: guesses left before the registration locks; for a
    /// wrong PIN: tries left before each further one waits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tries_left: Option<u32>,
    /// For `rate_limited`, `pin_back_off`, and a `wrong_pin` that starts a wait: seconds to
    /// wait.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// For `registration_moved`: the last four digits of the user ID the token moved to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id_last: Option<LastDigits>,
}

/// The last four digits of a user ID: how the screens name a registration without showing it
/// (and small, so the error stays small).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastDigits([u8; 4]);

impl LastDigits {
    /// The last four digits of `user` (a user ID is twelve ASCII digits).
    pub fn of(user: &softtoken_core::ids::UserId) -> Self {
        let mut out = [b'0'; 4];
        let bytes = user.as_str().as_bytes();
        let tail = &bytes[bytes.len().saturating_sub(4)..];
        out[4 - tail.len()..].copy_from_slice(tail);
        Self(out)
    }

    /// The four digits.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl Serialize for LastDigits {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Result of a command.
pub type CommandResult<T> = Result<T, CommandError>;

impl CommandError {
    /// An error of this crate (not from core).
    pub fn app(kind: AppErrorKind, message: &'static str) -> Self {
        Self::new(kind.as_str(), message)
    }

    /// An error of one of core's kinds, with its fixed sentence, for a caller that has no
    /// [`Error`] value of it at hand.
    pub fn of_core_kind(kind: ErrorKind) -> Self {
        Self::new(kind.as_str(), fallback_message(kind))
    }

    fn new(kind: &'static str, message: &'static str) -> Self {
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
            user_id_last: None,
        }
    }
}

/// A length for the screen; lengths of typed text always fit.
fn small(n: usize) -> Option<u32> {
    u32::try_from(n).ok()
}

/// A fixed English sentence per kind: core's own messages for some kinds include OS text
/// (keychain, I/O) that might name a path, so none of them is passed through. The match has no
/// catch-all, so a new kind in core cannot reach the screens without a sentence.
fn fallback_message(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::WrongActivationPassword => "The activation password is wrong.",
        ErrorKind::RegistrationLocked => {
            "Too many wrong passwords: ask the bank to issue the token again."
        }
        ErrorKind::RegistrationExpired => {
            "The registration has expired: ask the bank to issue the token again."
        }
        ErrorKind::AlreadyDelivered => "This token was already set up on a device.",
        ErrorKind::AttemptExpired => "The setup took too long; start again.",
        ErrorKind::RegistrationEnded => "Use of this token was ended at the bank.",
        ErrorKind::UnknownRegistration => "The service ID or user ID is not known to the bank.",
        ErrorKind::Superseded => "The token was set up again on another attempt.",
        ErrorKind::RateLimited => "Too many attempts: wait and try again.",
        ErrorKind::BankNotAuthenticated => "The server could not prove it is the bank.",
        ErrorKind::ServerUnreachable => "The bank's server cannot be reached.",
        ErrorKind::Tls => "A secure connection to the bank could not be made.",
        ErrorKind::ServerError => "The bank's server had a problem.",
        ErrorKind::ProtocolViolation => "The bank's server answered unexpectedly.",
        ErrorKind::InsecureServerUrl => "The server address is not allowed.",
        ErrorKind::DeviceClockWrong => {
            "This device's clock is more than a day off: set it automatically and try again."
        }
        ErrorKind::ConfirmationNotAccepted => {
            "The bank did not accept this token for confirmations: call the bank."
        }
        ErrorKind::UnknownConfirmation => "This request is no longer waiting at the bank.",
        ErrorKind::DuplicateToken => "This token is already on this device.",
        ErrorKind::TokenNotFound => "The token is no longer on this device.",
        ErrorKind::VaultCorrupted => "The token store is damaged.",
        ErrorKind::VaultChanged => {
            "The token store was changed by another program; nothing was saved."
        }
        ErrorKind::VaultTooNew => "The token store was written by a newer app: update the app.",
        ErrorKind::VaultKeyMissing => "The key of the token store is missing from the keychain.",
        ErrorKind::KeychainUnavailable => "The system keychain is locked or unavailable.",
        ErrorKind::StorageIo => "The token store could not be read or written.",
        ErrorKind::UnsupportedParameters => "The bank sent settings this app does not support.",
        ErrorKind::Crypto => "A cryptographic check failed.",
        ErrorKind::InvalidInput => "A value typed is not valid: see the field and reason.",
        ErrorKind::WeakPin => "This PIN is too easy to guess: choose another.",
        ErrorKind::PinNeeded => "The app is locked: enter the PIN.",
        ErrorKind::WrongPin => "The PIN is wrong.",
        ErrorKind::PinBackOff => "Too many wrong PINs: wait and try again.",
        ErrorKind::PinAlreadySet => "A PIN is already set: change it instead.",
        ErrorKind::PinNotSet => "No PIN is set.",
        ErrorKind::BiometricStale => "Fingerprint or face unlock no longer opens the tokens.",
        ErrorKind::VaultRolledBack => {
            "The token store is an older copy than the one last saved here; it was not opened."
        }
        ErrorKind::MovesNotOffered => {
            "The bank does not offer moving in the app: end use on the bank's web site, then set up the new phone from the next day."
        }
        ErrorKind::NoPendingMove => "No move of this token is waiting at the bank.",
        ErrorKind::WeakActivationPassword => {
            "This activation password is too easy to guess: choose another."
        }
        ErrorKind::RegistrationMoved => "This token moved to a new phone.",
    }
}

impl From<Error> for CommandError {
    fn from(e: Error) -> Self {
        let kind = e.kind();
        let mut out = CommandError::new(kind.as_str(), fallback_message(kind));
        match &e {
            Error::Invalid { field, reason } => {
                out.field = Some(field.code());
                out.reason = Some(reason.code());
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
            Error::WrongPin { tries_left_before_wait, wait_secs } => {
                out.tries_left = Some(*tries_left_before_wait);
                out.retry_after = (*wait_secs > 0).then_some(*wait_secs);
            }
            Error::PinBackOff { wait_secs } => out.retry_after = Some(*wait_secs),
            Error::WeakPin(why) | Error::WeakActivationPassword(why) => {
                out.reason = Some(why.code());
            }
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
            let kind = e.kind().as_str();
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

    #[test]
    fn a_wrong_pin_says_the_tries_left_and_the_wait_and_a_weak_one_why() {
        let e = CommandError::from(Error::WrongPin { tries_left_before_wait: 2, wait_secs: 0 });
        assert_eq!((e.kind, e.tries_left, e.retry_after), ("wrong_pin", Some(2), None));
        let e = CommandError::from(Error::WrongPin { tries_left_before_wait: 0, wait_secs: 30 });
        assert_eq!((e.tries_left, e.retry_after), (Some(0), Some(30)));
        let e = CommandError::from(Error::PinBackOff { wait_secs: 60 });
        assert_eq!((e.kind, e.retry_after), ("pin_back_off", Some(60)));
        let weak = softtoken_core::ids::AppPin::new("123456").unwrap_err();
        let e = CommandError::from(weak);
        assert_eq!((e.kind, e.reason), ("weak_pin", Some("sequence")));
    }
}
