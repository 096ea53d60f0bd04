//! The one error type of softtoken-core.
//!
//! Every variant says what the caller should do. None carries a secret: no seed, key or
//! activation password ever reaches a message, so an error can be logged or shown as it is.
//! Shells map [`Error::kind`] to a message in the customer's language.
//!
//! Kept whole at about 600 lines on purpose: it is the crate's one error enum (house rule), and
//! each variant sits beside its kind and its message; its tests live in `error/tests.rs`.

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
    /// An amount in yen (金額): of a transfer, or a new limit.
    Amount,
    /// The payee's bank (振込先金融機関).
    PayeeBank,
    /// The payee's branch (支店).
    PayeeBranch,
    /// The payee's account number (口座番号).
    PayeeAccount,
    /// The payee's name (受取人名).
    PayeeHolder,
    /// The free text of a confirmation request.
    Note,
    /// The two-digit number the bank's page shows, typed to approve a confirmation (照合番号).
    MatchNumber,
    /// The customer's own PIN that unlocks the app (アプリのPIN), six digits.
    AppPin,
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
            Field::Amount => "amount",
            Field::PayeeBank => "payee_bank",
            Field::PayeeBranch => "payee_branch",
            Field::PayeeAccount => "payee_account",
            Field::PayeeHolder => "payee_holder",
            Field::Note => "note",
            Field::MatchNumber => "match_number",
            Field::AppPin => "app_pin",
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
            Field::Amount => "amount",
            Field::PayeeBank => "payee's bank",
            Field::PayeeBranch => "payee's branch",
            Field::PayeeAccount => "payee's account number",
            Field::PayeeHolder => "payee's name",
            Field::Note => "note",
            Field::MatchNumber => "match_number",
            Field::AppPin => "app PIN",
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

impl Invalid {
    /// The stable names of the reasons, in the order of the variants: what the app's
    /// `invalid_input` errors carry as `reason`, and what the web view's own checks report.
    pub const CODES: [&'static str; 5] =
        ["empty", "not_digits", "wrong_length", "control", "too_long"];

    /// The stable name of this reason, one of [`Invalid::CODES`].
    pub fn code(&self) -> &'static str {
        match self {
            Invalid::Empty => Self::CODES[0],
            Invalid::NotDigits => Self::CODES[1],
            Invalid::WrongLength { .. } => Self::CODES[2],
            Invalid::ControlCharacter => Self::CODES[3],
            Invalid::TooLong { .. } => Self::CODES[4],
        }
    }
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

/// The stable, machine-readable kind of an [`Error`]: what the shells report (`{kind, message}`
/// in the app) and translate. One variant per [`Error`] variant; the snake_case names
/// ([`ErrorKind::as_str`], also the serde form) never change once shipped. The web view's list of
/// kinds (`ui/rules.js`) is generated from [`ErrorKind::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Kind of [`Error::Invalid`]: a typed value has the wrong shape.
    InvalidInput,
    /// Kind of [`Error::TotpParameters`].
    UnsupportedParameters,
    /// Kind of [`Error::VaultCorrupted`].
    VaultCorrupted,
    /// Kind of [`Error::VaultTooNew`].
    VaultTooNew,
    /// Kind of [`Error::VaultKeyMissing`].
    VaultKeyMissing,
    /// Kind of [`Error::KeychainUnavailable`].
    KeychainUnavailable,
    /// Kind of [`Error::VaultChanged`].
    VaultChanged,
    /// Kind of [`Error::Io`].
    StorageIo,
    /// Kind of [`Error::TokenNotFound`].
    TokenNotFound,
    /// Kind of [`Error::DuplicateToken`].
    DuplicateToken,
    /// Kind of [`Error::Crypto`].
    Crypto,
    /// Kind of [`Error::WrongActivationPassword`].
    WrongActivationPassword,
    /// Kind of [`Error::RegistrationLocked`].
    RegistrationLocked,
    /// Kind of [`Error::RegistrationExpired`].
    RegistrationExpired,
    /// Kind of [`Error::AlreadyDelivered`].
    AlreadyDelivered,
    /// Kind of [`Error::RegistrationEnded`].
    RegistrationEnded,
    /// Kind of [`Error::UnknownRegistration`].
    UnknownRegistration,
    /// Kind of [`Error::Superseded`].
    Superseded,
    /// Kind of [`Error::AttemptExpired`].
    AttemptExpired,
    /// Kind of [`Error::RateLimited`].
    RateLimited,
    /// Kind of [`Error::BankNotAuthenticated`].
    BankNotAuthenticated,
    /// Kind of [`Error::ServerUnreachable`].
    ServerUnreachable,
    /// Kind of [`Error::Tls`].
    Tls,
    /// Kind of [`Error::ServerError`].
    ServerError,
    /// Kind of [`Error::ProtocolViolation`].
    ProtocolViolation,
    /// Kind of [`Error::InsecureServerUrl`].
    InsecureServerUrl,
    /// Kind of [`Error::DeviceClockWrong`].
    DeviceClockWrong,
    /// Kind of [`Error::ConfirmationNotAccepted`].
    ConfirmationNotAccepted,
    /// Kind of [`Error::UnknownConfirmation`].
    UnknownConfirmation,
    /// Kind of [`Error::WeakPin`].
    WeakPin,
    /// Kind of [`Error::PinNeeded`].
    PinNeeded,
    /// Kind of [`Error::WrongPin`].
    WrongPin,
    /// Kind of [`Error::PinBackOff`].
    PinBackOff,
    /// Kind of [`Error::PinAlreadySet`].
    PinAlreadySet,
    /// Kind of [`Error::PinNotSet`].
    PinNotSet,
    /// Kind of [`Error::BiometricStale`].
    BiometricStale,
    /// Kind of [`Error::VaultRolledBack`].
    VaultRolledBack,
    /// Kind of [`Error::MovesNotOffered`].
    MovesNotOffered,
    /// Kind of [`Error::NoPendingMove`].
    NoPendingMove,
    /// Kind of [`Error::WeakActivationPassword`].
    WeakActivationPassword,
    /// Kind of [`Error::RegistrationMoved`].
    RegistrationMoved,
}

impl ErrorKind {
    /// Every kind, in the order of [`Error`]'s variants.
    pub const ALL: [ErrorKind; 41] = [
        ErrorKind::InvalidInput,
        ErrorKind::UnsupportedParameters,
        ErrorKind::VaultCorrupted,
        ErrorKind::VaultTooNew,
        ErrorKind::VaultKeyMissing,
        ErrorKind::KeychainUnavailable,
        ErrorKind::VaultChanged,
        ErrorKind::StorageIo,
        ErrorKind::TokenNotFound,
        ErrorKind::DuplicateToken,
        ErrorKind::Crypto,
        ErrorKind::WrongActivationPassword,
        ErrorKind::RegistrationLocked,
        ErrorKind::RegistrationExpired,
        ErrorKind::AlreadyDelivered,
        ErrorKind::RegistrationEnded,
        ErrorKind::UnknownRegistration,
        ErrorKind::Superseded,
        ErrorKind::AttemptExpired,
        ErrorKind::RateLimited,
        ErrorKind::BankNotAuthenticated,
        ErrorKind::ServerUnreachable,
        ErrorKind::Tls,
        ErrorKind::ServerError,
        ErrorKind::ProtocolViolation,
        ErrorKind::InsecureServerUrl,
        ErrorKind::DeviceClockWrong,
        ErrorKind::ConfirmationNotAccepted,
        ErrorKind::UnknownConfirmation,
        ErrorKind::WeakPin,
        ErrorKind::PinNeeded,
        ErrorKind::WrongPin,
        ErrorKind::PinBackOff,
        ErrorKind::PinAlreadySet,
        ErrorKind::PinNotSet,
        ErrorKind::VaultRolledBack,
        ErrorKind::BiometricStale,
        ErrorKind::MovesNotOffered,
        ErrorKind::NoPendingMove,
        ErrorKind::WeakActivationPassword,
        ErrorKind::RegistrationMoved,
    ];

    /// The stable snake_case name, e.g. `wrong_activation_password`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::UnsupportedParameters => "unsupported_parameters",
            ErrorKind::VaultCorrupted => "vault_corrupted",
            ErrorKind::VaultTooNew => "vault_too_new",
            ErrorKind::VaultKeyMissing => "vault_key_missing",
            ErrorKind::KeychainUnavailable => "keychain_unavailable",
            ErrorKind::VaultChanged => "vault_changed",
            ErrorKind::StorageIo => "storage_io",
            ErrorKind::TokenNotFound => "token_not_found",
            ErrorKind::DuplicateToken => "duplicate_token",
            ErrorKind::Crypto => "crypto",
            ErrorKind::WrongActivationPassword => "wrong_activation_password",
            ErrorKind::RegistrationLocked => "registration_locked",
            ErrorKind::RegistrationExpired => "registration_expired",
            ErrorKind::AlreadyDelivered => "already_delivered",
            ErrorKind::RegistrationEnded => "registration_ended",
            ErrorKind::UnknownRegistration => "unknown_registration",
            ErrorKind::Superseded => "superseded",
            ErrorKind::AttemptExpired => "attempt_expired",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::BankNotAuthenticated => "bank_not_authenticated",
            ErrorKind::ServerUnreachable => "server_unreachable",
            ErrorKind::Tls => "tls",
            ErrorKind::ServerError => "server_error",
            ErrorKind::ProtocolViolation => "protocol_violation",
            ErrorKind::InsecureServerUrl => "insecure_server_url",
            ErrorKind::DeviceClockWrong => "device_clock_wrong",
            ErrorKind::ConfirmationNotAccepted => "confirmation_not_accepted",
            ErrorKind::UnknownConfirmation => "unknown_confirmation",
            ErrorKind::WeakPin => "weak_pin",
            ErrorKind::PinNeeded => "pin_needed",
            ErrorKind::WrongPin => "wrong_pin",
            ErrorKind::PinBackOff => "pin_back_off",
            ErrorKind::PinAlreadySet => "pin_already_set",
            ErrorKind::PinNotSet => "pin_not_set",
            ErrorKind::VaultRolledBack => "vault_rolled_back",
            ErrorKind::BiometricStale => "biometric_stale",
            ErrorKind::MovesNotOffered => "moves_not_offered",
            ErrorKind::NoPendingMove => "no_pending_move",
            ErrorKind::WeakActivationPassword => "weak_activation_password",
            ErrorKind::RegistrationMoved => "registration_moved",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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

    /// The device's clock differs from the bank's by more than a day
    /// ([`crate::totp::MAX_CLOCK_OFFSET_SECS`]): codes made from it would be guesses about the
    /// time. The customer should set the device's clock (and time zone) automatically and set
    /// up again; nothing was stored and no ack was sent, so the bank still waits for the token.
    #[error("this device's clock is {offset_secs} seconds away from the bank's; set the clock automatically from the network and try again")]
    DeviceClockWrong {
        /// The bank's clock minus the device's, in seconds.
        offset_secs: i64,
    },

    // Transaction confirmation (confirm/ and client/confirm.rs).
    /// The bank did not accept this token's fetch or answer of confirmation requests (no such
    /// registration in use, or the token's proof is not the one the bank expects: another
    /// token, or a registration ended). Nothing was approved; the customer should call the bank.
    #[error("the bank did not accept this token for transaction confirmations; call the bank")]
    ConfirmationNotAccepted,

    /// The confirmation request is no longer at the bank (withdrawn, or never made for this
    /// token), or the app no longer holds it. Nothing was approved; the customer starts the
    /// transaction again on the bank's page if they still want it.
    #[error("this confirmation request is no longer at the bank")]
    UnknownConfirmation,

    // The app lock (ids::AppPin, vault/lock.rs) and the vault's generation (vault/state.rs).
    /// The app PIN the customer chose is too easy to guess (the bank's rule for activation
    /// passwords, [`crate::weak_number`]): let them choose another; nothing was changed.
    #[error("this PIN is too easy to guess ({}); choose another", .0.explain())]
    WeakPin(crate::weak_number::Weakness),

    /// The vault is locked with an app PIN: ask the customer for it and open the vault with
    /// [`crate::vault::Vault::open_with_pin`]. Nothing was read or changed.
    #[error("the tokens are locked; enter the app PIN")]
    PinNeeded,

    /// The app PIN was wrong. Let the customer try again: `tries_left_before_wait` more tries
    /// are free, then each further one waits (`wait_secs` is the wait before the next, 0 while
    /// tries are free). The tokens are never wiped; a forgotten PIN is set aside.
    #[error("the PIN is wrong ({tries_left_before_wait} tries left before a wait)")]
    WrongPin {
        /// Wrong PINs still allowed before each further try must wait.
        tries_left_before_wait: u32,
        /// Seconds before the next try is allowed; 0 while tries are free.
        wait_secs: u64,
    },

    /// Too many wrong app PINs: no PIN is checked for `wait_secs` more seconds (the wait doubles
    /// with each further wrong one, up to an hour). Show the wait; no try was counted.
    #[error("too many wrong PINs; try again in {wait_secs} seconds")]
    PinBackOff {
        /// Seconds before a PIN is checked again.
        wait_secs: u64,
    },

    /// A PIN was to be set on a vault that has one already: change it instead (the screen is
    /// stale). Nothing was changed.
    #[error("an app PIN is already set; change it instead")]
    PinAlreadySet,

    /// A PIN was to be changed or removed on a vault that has none (the screen is stale).
    /// Nothing was changed.
    #[error("no app PIN is set")]
    PinNotSet,

    /// The vault file is older than the one this device last saved (a backup or a sync tool put
    /// an old copy back): a token deleted since could come back and still make codes the bank
    /// accepts. It is refused and left unchanged; the way out is
    /// [`crate::vault::Vault::set_aside`], which keeps the file, as for a damaged vault.
    #[error("the token vault is an older copy than the one last saved on this device; it was left unchanged")]
    VaultRolledBack,

    /// The secret the phone's biometrics released no longer opens the vault (the app PIN was
    /// changed since biometric unlock was turned on). Ask for the PIN and offer to turn it on
    /// again; no PIN try was counted and nothing was changed.
    #[error("fingerprint or face unlock no longer opens the tokens; enter the app PIN")]
    BiometricStale,
    // The phone move (confirm/phone_move.rs and client/move_phone.rs).
    /// The bank does not offer the move to a new phone. Explain the manual path: end the use
    /// on the bank's web site (利用解除), then issue a new token there from the next day. The
    /// old token keeps working.
    #[error("the bank does not offer moving a token to a new phone; end its use on the bank's web site and issue a new one from the next day")]
    MovesNotOffered,

    /// There is no pending move to cancel (it completed, expired or was cancelled meanwhile).
    /// Ask the move's status to learn which.
    #[error("there is no pending move of this token")]
    NoPendingMove,

    /// The bank refused the activation password chosen for the new phone as too easy to guess
    /// (its rule, [`crate::weak_number`]). Let the customer choose another; nothing was stored.
    #[error("this activation password is too easy to guess ({}); choose another", .0.explain())]
    WeakActivationPassword(crate::weak_number::Weakness),

    /// The token's registration ended because it moved to a new phone (`new_user_id`, at
    /// `completed_at`), proven by the bank's receipt under this token's own key. Remove the
    /// token and tell the customer it now lives on the new phone.
    #[error("this token moved to a new phone")]
    RegistrationMoved {
        /// The user ID (12 digits, checked) of the registration the token moved to; a plain
        /// string so that this leaf of the crate depends on no other module.
        new_user_id: String,
        /// Bank time when the move completed.
        completed_at: u64,
    },
}

impl Error {
    /// The stable machine-readable kind, for the shells (`{kind, message}` in the app).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Invalid { .. } => ErrorKind::InvalidInput,
            Error::TotpParameters(_) => ErrorKind::UnsupportedParameters,
            Error::VaultCorrupted => ErrorKind::VaultCorrupted,
            Error::VaultTooNew { .. } => ErrorKind::VaultTooNew,
            Error::VaultKeyMissing => ErrorKind::VaultKeyMissing,
            Error::KeychainUnavailable(_) => ErrorKind::KeychainUnavailable,
            Error::VaultChanged => ErrorKind::VaultChanged,
            Error::Io(_) => ErrorKind::StorageIo,
            Error::TokenNotFound => ErrorKind::TokenNotFound,
            Error::DuplicateToken => ErrorKind::DuplicateToken,
            Error::Crypto => ErrorKind::Crypto,
            Error::WrongActivationPassword { .. } => ErrorKind::WrongActivationPassword,
            Error::RegistrationLocked => ErrorKind::RegistrationLocked,
            Error::RegistrationExpired => ErrorKind::RegistrationExpired,
            Error::AlreadyDelivered => ErrorKind::AlreadyDelivered,
            Error::RegistrationEnded => ErrorKind::RegistrationEnded,
            Error::UnknownRegistration => ErrorKind::UnknownRegistration,
            Error::Superseded => ErrorKind::Superseded,
            Error::AttemptExpired => ErrorKind::AttemptExpired,
            Error::RateLimited { .. } => ErrorKind::RateLimited,
            Error::BankNotAuthenticated => ErrorKind::BankNotAuthenticated,
            Error::ServerUnreachable(_) => ErrorKind::ServerUnreachable,
            Error::Tls(_) => ErrorKind::Tls,
            Error::ServerError { .. } => ErrorKind::ServerError,
            Error::ProtocolViolation(_) => ErrorKind::ProtocolViolation,
            Error::InsecureServerUrl(_) => ErrorKind::InsecureServerUrl,
            Error::DeviceClockWrong { .. } => ErrorKind::DeviceClockWrong,
            Error::ConfirmationNotAccepted => ErrorKind::ConfirmationNotAccepted,
            Error::UnknownConfirmation => ErrorKind::UnknownConfirmation,
            Error::WeakPin(_) => ErrorKind::WeakPin,
            Error::PinNeeded => ErrorKind::PinNeeded,
            Error::WrongPin { .. } => ErrorKind::WrongPin,
            Error::PinBackOff { .. } => ErrorKind::PinBackOff,
            Error::PinAlreadySet => ErrorKind::PinAlreadySet,
            Error::PinNotSet => ErrorKind::PinNotSet,
            Error::VaultRolledBack => ErrorKind::VaultRolledBack,
            Error::BiometricStale => ErrorKind::BiometricStale,
            Error::MovesNotOffered => ErrorKind::MovesNotOffered,
            Error::NoPendingMove => ErrorKind::NoPendingMove,
            Error::WeakActivationPassword(_) => ErrorKind::WeakActivationPassword,
            Error::RegistrationMoved { .. } => ErrorKind::RegistrationMoved,
        }
    }

    pub(crate) fn invalid(field: Field, reason: Invalid) -> Self {
        Error::Invalid { field, reason }
    }
}

#[cfg(test)]
mod tests;
