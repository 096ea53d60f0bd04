//! The one error type of softtoken-core.
//!
//! Every variant says what the caller should do. None carries a secret: no seed, key or
//! activation password ever reaches a message, so an error can be logged or shown as it is.
//! Shells map [`Error::kind`] to a message in the customer's language.

use std::fmt;

/// Result with softtoken-core's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which field a customer typed wrongly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// The bank's service ID (サービスID).
    ServiceId,
    /// The customer's user ID (ユーザID).
    UserId,
    /// The activation password (利用開始パスワード).
    ActivationPassword,
    /// The base of the token's display name (トークン表示名).
    DisplayName,
    /// The optional added wording of the display name (追加文言).
    AddedWording,
    /// A token's identifier inside the vault.
    TokenId,
}

impl Field {
    /// A stable machine-readable name, e.g. for the app's `{kind, field}` errors.
    pub fn code(self) -> &'static str {
        match self {
            Field::ServiceId => "service_id",
            Field::UserId => "user_id",
            Field::ActivationPassword => "activation_password",
            Field::DisplayName => "display_name",
            Field::AddedWording => "added_wording",
            Field::TokenId => "token_id",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::ServiceId => "service ID",
            Field::UserId => "user ID",
            Field::ActivationPassword => "activation password",
            Field::DisplayName => "display name",
            Field::AddedWording => "added wording",
            Field::TokenId => "token ID",
        })
    }
}

/// Why a typed value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// Nothing was typed.
    Empty,
    /// Something other than a digit (after removing spaces and hyphens).
    NotDigits,
    /// The digits were too few or too many.
    WrongLength {
        /// Shortest accepted length.
        min: usize,
        /// Longest accepted length.
        max: usize,
        /// What was typed, in digits or characters.
        found: usize,
    },
    /// Longer than the limit, in characters.
    TooLong {
        /// Longest accepted length in characters.
        max: usize,
    },
    /// Contains a control or formatting character (newline, tab, bidi override, ...).
    ControlCharacter,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Invalid::Empty => f.write_str("it is empty; type it as written in the bank's mail"),
            Invalid::NotDigits => f.write_str("use digits only (spaces and hyphens are ignored)"),
            Invalid::WrongLength { min, max, found } if min == max => {
                write!(f, "it must be {min} digits, not {found}")
            }
            Invalid::WrongLength { min, max, found } => {
                write!(f, "it must be {min} to {max} digits, not {found}")
            }
            Invalid::TooLong { max } => write!(f, "it must be at most {max} characters"),
            Invalid::ControlCharacter => {
                f.write_str("it contains a line break or invisible control character; remove it")
            }
        }
    }
}

/// Everything that can go wrong in softtoken-core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A typed value has the wrong shape. Show the customer which field and why, and let them
    /// correct it; nothing was stored.
    #[error("the {field} is not valid: {reason}")]
    Invalid {
        /// The field that was wrong.
        field: Field,
        /// Why it was refused.
        reason: Invalid,
    },

    /// TOTP parameters the engine cannot use (digits, period or seed length). The server sent
    /// something this app does not support: report it to the bank; nothing was stored.
    #[error("unsupported one-time password parameters: {0}")]
    TotpParameters(&'static str),

    /// The vault file is damaged or was changed by someone else. It is left exactly as found
    /// (never overwritten) so it can be restored from a backup or examined; the tokens in it
    /// cannot be opened until then.
    #[error("the token vault is damaged or was tampered with; it was left unchanged")]
    VaultCorrupted,

    /// The vault was written by a newer softtoken. Update the app; the file was left unchanged.
    #[error("the token vault has format version {found}, newer than this app supports ({supported}); update the app")]
    VaultTooNew {
        /// Version found in the file.
        found: u32,
        /// Newest version this build reads.
        supported: u32,
    },

    /// The vault exists but its key is no longer in the OS keychain (keychain reset, device
    /// restore). The tokens cannot be recovered: the customer must ask the bank to re-issue.
    /// The vault file is left unchanged.
    #[error(
        "the key of the token vault is missing from the OS keychain; the vault was left unchanged"
    )]
    VaultKeyMissing,

    /// The OS keychain is locked, absent or refused access. Unlock it (log in to the desktop
    /// session) and try again; nothing was changed.
    #[error("the OS keychain is locked or unavailable: {0}")]
    KeychainUnavailable(String),

    /// Reading or writing the vault file failed (disk full, permissions). Free space or fix
    /// permissions and try again; the previous vault is intact.
    #[error("could not read or write the token vault: {0}")]
    Io(#[from] std::io::Error),

    /// No token with that id is in the vault (deleted meanwhile). Refresh the list.
    #[error("no such token in the vault")]
    TokenNotFound,

    /// A token for this service ID and user ID is already in the vault. Use it, or delete it
    /// first.
    #[error("a token for this service ID and user ID is already on this device")]
    DuplicateToken,

    /// A cryptographic operation failed. Deliberately opaque (like `aead::Error`): say nothing
    /// an attacker could use.
    #[error("a cryptographic operation failed")]
    Crypto,
}

impl Error {
    /// A stable machine-readable code for the shells (`{kind, message}` in the app).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Invalid { .. } => "invalid_input",
            Error::TotpParameters(_) => "unsupported_parameters",
            Error::VaultCorrupted => "vault_corrupted",
            Error::VaultTooNew { .. } => "vault_too_new",
            Error::VaultKeyMissing => "vault_key_missing",
            Error::KeychainUnavailable(_) => "keychain_unavailable",
            Error::Io(_) => "storage_io",
            Error::TokenNotFound => "token_not_found",
            Error::DuplicateToken => "duplicate_token",
            Error::Crypto => "crypto",
        }
    }

    pub(crate) fn invalid(field: Field, reason: Invalid) -> Self {
        Error::Invalid { field, reason }
    }
}
