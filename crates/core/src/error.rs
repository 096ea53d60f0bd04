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

    /// The vault file changed on disk since this app last read or wrote it (a second copy of
    /// the app, a restore from backup). Nothing was written, so neither side's tokens are lost:
    /// open the vault again and redo the change.
    #[error("the token vault was changed by another program; nothing was written, open it again")]
    VaultChanged,

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

    // Provisioning (protocol/ and client.rs). None of these carries a secret or a URL path
    // beyond the server's base address.
    /// The bank says the activation password was wrong. Let the customer type it again;
    /// after `tries_left` more wrong ones the registration is locked. Nothing was stored.
    #[error("the activation password is wrong ({tries_left} tries left before the registration is locked)")]
    WrongActivationPassword {
        /// Wrong passwords the bank still accepts before it locks the registration.
        tries_left: u32,
    },

    /// Too many wrong activation passwords: the bank locked the registration. The customer must
    /// ask the bank to unlock it or issue a new token; retrying in the app cannot help.
    #[error("the registration is locked after too many wrong activation passwords; ask the bank to issue a new token")]
    RegistrationLocked,

    /// The registration expired before the app fetched the token. The customer must issue a
    /// new token on the bank's web site.
    #[error("the registration has expired; issue a new token on the bank's web site")]
    RegistrationExpired,

    /// The token of this registration was already delivered to an app (this or another
    /// device). If the customer no longer has it, they must end its use and issue a new one.
    #[error("this token was already set up in an app; to move it, end its use on the bank's web site and issue a new one")]
    AlreadyDelivered,

    /// The bank ended the use of this registration (利用終了). Any token of it in the vault is
    /// useless: remove it; the customer can issue a new one.
    #[error("the bank has ended the use of this token")]
    RegistrationEnded,

    /// The bank knows no registration for this service ID and user ID. Let the customer check
    /// both against the bank's mail.
    #[error("the bank knows no token registration for this service ID and user ID; check both against the bank's mail")]
    UnknownRegistration,

    /// A newer provisioning of the same registration (on this or another device) replaced the
    /// pending token this ack was for. Remove that pending token from the vault: the bank will
    /// never accept its codes.
    #[error("this token was replaced by a newer setup of the same registration; remove it")]
    Superseded,

    /// The provisioning attempt was not completed in time (or the server forgot it). Start
    /// provisioning again; no try was counted.
    #[error("the setup took too long; start again")]
    AttemptExpired,

    /// The bank asks the app to slow down. Wait `retry_after` seconds (a minute if unknown)
    /// before trying again.
    #[error("too many attempts; try again later")]
    RateLimited {
        /// Seconds to wait, when the bank said.
        retry_after: Option<u64>,
    },

    /// The server's key confirmation was wrong: it does not hold this registration's activation
    /// password, so it is not the bank (or the traffic was tampered with). Nothing was stored;
    /// tell the customer not to continue and to check the app's server address.
    #[error("the server could not prove it is the bank; nothing was stored")]
    BankNotAuthenticated,

    /// The bank's server could not be reached or did not answer in time. Check the network and
    /// try again; a step that did not complete is safe to repeat.
    #[error("the bank's server could not be reached: {0}")]
    ServerUnreachable(String),

    /// The TLS connection to the bank failed (certificate not trusted, wrong host name,
    /// handshake failure). Do not continue on this network; nothing was sent.
    #[error("the secure connection to the bank's server failed: {0}")]
    Tls(String),

    /// The bank's server failed or answered something unexpected with this HTTP status. Try
    /// again later; contact the bank if it persists.
    #[error("the bank's server answered with an error (HTTP {status}); try again later")]
    ServerError {
        /// The HTTP status.
        status: u16,
    },

    /// A message broke the provisioning protocol (malformed body, wrong length, invalid point).
    /// In the app: the server is not a compatible softtoken server, report it to the bank. In
    /// the server: the request is refused with 400 `invalid_request`.
    #[error("the provisioning protocol was violated: {0}")]
    ProtocolViolation(&'static str),

    /// The server address is not `https://` (only loopback may use `http://`), or is not a
    /// plain base URL. Fix the configuration; nothing was sent.
    #[error("the server address must be an https:// URL (http:// only for this computer): {0}")]
    InsecureServerUrl(String),
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
            Error::VaultChanged => "vault_changed",
            Error::Io(_) => "storage_io",
            Error::TokenNotFound => "token_not_found",
            Error::DuplicateToken => "duplicate_token",
            Error::Crypto => "crypto",
            Error::WrongActivationPassword { .. } => "wrong_activation_password",
            Error::RegistrationLocked => "registration_locked",
            Error::RegistrationExpired => "registration_expired",
            Error::AlreadyDelivered => "already_delivered",
            Error::RegistrationEnded => "registration_ended",
            Error::UnknownRegistration => "unknown_registration",
            Error::Superseded => "superseded",
            Error::AttemptExpired => "attempt_expired",
            Error::RateLimited { .. } => "rate_limited",
            Error::BankNotAuthenticated => "bank_not_authenticated",
            Error::ServerUnreachable(_) => "server_unreachable",
            Error::Tls(_) => "tls",
            Error::ServerError { .. } => "server_error",
            Error::ProtocolViolation(_) => "protocol_violation",
            Error::InsecureServerUrl(_) => "insecure_server_url",
        }
    }

    pub(crate) fn invalid(field: Field, reason: Invalid) -> Self {
        Error::Invalid { field, reason }
    }
}
