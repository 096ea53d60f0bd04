//! The identifiers a customer types, the name they give a token, and the identifiers the
//! protocol and the vault share (a token's id, a provisioning attempt's id).
//!
//! Each is a newtype whose constructor validates and normalises, so the rest of softtoken never
//! re-checks a string. Customers in Japan often type full-width digits (`１０１１２２３１`) or paste
//! with spaces and hyphens; those are normalised to ASCII digits. Anything else is refused with an
//! [`Error::Invalid`] naming the field and what is expected.
//!
//! Each rule is one constant (lengths, [`SEPARATORS`], [`FORBIDDEN_IN_NAME`]): a bank with other
//! lengths changes one line, and the web view's copy (`ui/rules.js`) is generated from them.

use std::fmt;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use unicode_segmentation::UnicodeSegmentation as _;
use zeroize::Zeroizing;

use crate::base64url::{b64_decode, b64_encode};
use crate::error::{Error, Field, Invalid, Result};

/// Digits in a service ID (the manual's `10112231`).
pub const SERVICE_ID_DIGITS: usize = 8;
/// Digits in a user ID (the manual's `999800000001`).
pub const USER_ID_DIGITS: usize = 12;
/// Shortest activation password the bank web accepts.
pub const ACTIVATION_PASSWORD_MIN_DIGITS: usize = 4;
/// Longest activation password the bank web accepts.
pub const ACTIVATION_PASSWORD_MAX_DIGITS: usize = 8;
/// Digits in the customer's app PIN (アプリのPIN).
pub const APP_PIN_DIGITS: usize = 6;
/// Longest base display name, in characters as the customer sees them (extended grapheme
/// clusters: 👨‍👩‍👧 or が counts once); fits one line on a 360-pixel-wide phone.
pub const DISPLAY_NAME_MAX_CHARS: usize = 32;
/// Longest added wording, in characters as the customer sees them.
pub const ADDED_WORDING_MAX_CHARS: usize = 32;
/// Most code points a name part may hold per character it may have: room for the longest emoji
/// sequences (👨‍👩‍👧‍👦 is seven), while one "character" stacked with hundreds of combining marks
/// is refused as too long.
pub const NAME_CODE_POINTS_PER_CHAR: usize = 8;
/// The zero width joiner, one of [`FORBIDDEN_IN_NAME`], is allowed where it joins two emoji
/// into one (👩‍💻, 👨‍👩‍👧): there it is part of a character the customer sees, not an invisible one.
pub const EMOJI_JOINER: char = '\u{200d}';

/// Characters dropped from typed digits: the spaces and hyphens people paste from mail. ASCII,
/// full-width and no-break space, ASCII, full-width and typographic hyphens and dashes, the
/// minus sign, and the katakana prolonged sound marks that a Japanese IME often produces for
/// "-".
pub const SEPARATORS: [char; 13] = [
    ' ', '\u{3000}', '\u{00a0}', '-', '\u{ff0d}', '\u{2010}', '\u{2011}', '\u{2012}', '\u{2013}',
    '\u{2014}', '\u{2212}', '\u{30fc}', '\u{ff70}',
];

/// Characters refused in a display name, as inclusive ranges: the control characters
/// (`char::is_control`: C0, DEL and C1), and the invisible formatting characters (zero-width
/// spaces and joiners, bidi marks, embeddings, overrides and isolates, word joiners, the byte
/// order mark, interlinear annotation marks) that could make one name look like another.
pub const FORBIDDEN_IN_NAME: [(char, char); 8] = [
    ('\u{0000}', '\u{001f}'),
    ('\u{007f}', '\u{009f}'),
    ('\u{200b}', '\u{200f}'),
    ('\u{202a}', '\u{202e}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{2069}'),
    ('\u{feff}', '\u{feff}'),
    ('\u{fff9}', '\u{fffb}'),
];

/// Maps a typed character to an ASCII digit, `None` for a separator to drop, or `Err` for
/// anything else.
fn digit_of(c: char) -> Result<Option<char>, ()> {
    match c {
        '0'..='9' => Ok(Some(c)),
        // Full-width digits U+FF10..U+FF19, as typed with a Japanese input method.
        '０'..='９' => {
            let ascii = u32::from('0') + (u32::from(c) - u32::from('０'));
            char::from_u32(ascii).map(Some).ok_or(())
        }
        _ if SEPARATORS.contains(&c) => Ok(None),
        _ => Err(()),
    }
}

/// Normalises typed digits into `out`, checking the count against `min..=max`.
pub(crate) fn normalise_digits(
    input: &str,
    field: Field,
    min: usize,
    max: usize,
    out: &mut String,
) -> Result<()> {
    for c in input.trim().chars() {
        match digit_of(c) {
            Ok(Some(d)) => out.push(d),
            Ok(None) => {}
            Err(()) => return Err(Error::invalid(field, Invalid::NotDigits)),
        }
    }
    let found = out.len();
    if found == 0 {
        return Err(Error::invalid(field, Invalid::Empty));
    }
    if !(min..=max).contains(&found) {
        return Err(Error::invalid(field, Invalid::WrongLength { min, max, found }));
    }
    Ok(())
}

macro_rules! digit_id {
    ($(#[$doc:meta])* $name:ident, $field:expr, $digits:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Validates and normalises what the customer typed.
            ///
            /// # Errors
            /// [`Error::Invalid`] when, after dropping spaces and hyphens and mapping full-width
            /// digits, the input is empty, has a non-digit, or has the wrong number of digits.
            pub fn new(input: &str) -> Result<Self> {
                let mut out = String::with_capacity($digits);
                normalise_digits(input, $field, $digits, $digits, &mut out)?;
                Ok(Self(out))
            }

            /// The normalised ASCII digits.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(&s).map_err(serde::de::Error::custom)
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                Self::new(s)
            }
        }
    };
}

digit_id!(
    /// The bank's service ID (サービスID): [`SERVICE_ID_DIGITS`] digits, names the token service.
    ServiceId,
    Field::ServiceId,
    SERVICE_ID_DIGITS
);

digit_id!(
    /// The customer's user ID (ユーザID): [`USER_ID_DIGITS`] digits, names one registration.
    UserId,
    Field::UserId,
    USER_ID_DIGITS
);

impl UserId {
    /// The user ID with all but the last four digits hidden, for screens others may see
    /// (`********0001`).
    pub fn masked(&self) -> String {
        let keep = 4.min(self.0.len());
        let hidden = self.0.len() - keep;
        let mut s = "*".repeat(hidden);
        s.push_str(&self.0[hidden..]);
        s
    }
}

/// The activation password (利用開始パスワード): 4–8 digits the customer chose on the bank web.
///
/// Kept in a zeroizing buffer, compared in constant time, and never printed: its `Debug` shows
/// `<redacted>` and it has no `Display` or `Serialize`.
#[derive(Clone)]
pub struct ActivationPassword(Zeroizing<String>);

impl ActivationPassword {
    /// Validates and normalises what the customer typed.
    ///
    /// # Errors
    /// [`Error::Invalid`] when, after dropping spaces and hyphens and mapping full-width digits,
    /// the input is empty, has a non-digit, or is not 4–8 digits long.
    pub fn new(input: &str) -> Result<Self> {
        let mut out = Zeroizing::new(String::with_capacity(ACTIVATION_PASSWORD_MAX_DIGITS));
        normalise_digits(
            input,
            Field::ActivationPassword,
            ACTIVATION_PASSWORD_MIN_DIGITS,
            ACTIVATION_PASSWORD_MAX_DIGITS,
            &mut out,
        )?;
        Ok(Self(out))
    }

    /// The normalised ASCII digits, for the PAKE and nothing else.
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl PartialEq for ActivationPassword {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}
impl Eq for ActivationPassword {}

impl fmt::Debug for ActivationPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ActivationPassword(<redacted>)")
    }
}

/// The customer's own PIN that unlocks the app: [`APP_PIN_DIGITS`] digits, not one a guesser
/// tries first ([`crate::weak_number`], the rule the bank uses for activation passwords).
///
/// Kept in a zeroizing buffer and never printed: its `Debug` shows `<redacted>` and it has no
/// `Display`, `Serialize` or `Clone`. Only the vault's key derivation reads it.
pub struct AppPin(Zeroizing<String>);

impl AppPin {
    /// Validates and normalises what the customer typed (full-width digits, spaces and
    /// hyphens as for every number here).
    ///
    /// # Errors
    /// - [`Error::Invalid`] with [`Field::AppPin`] when it is not six digits;
    /// - [`Error::WeakPin`] when it is too easy to guess (`123456`, `111111`, `147258`, ...).
    pub fn new(digits: &str) -> Result<Self> {
        let mut out = Zeroizing::new(String::with_capacity(APP_PIN_DIGITS));
        normalise_digits(digits, Field::AppPin, APP_PIN_DIGITS, APP_PIN_DIGITS, &mut out)?;
        if let Some(why) = crate::weak_number::weakness(out.as_bytes()) {
            return Err(Error::WeakPin(why));
        }
        Ok(Self(out))
    }

    /// The normalised ASCII digits, for the key derivation and nothing else.
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for AppPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AppPin(<redacted>)")
    }
}

/// True for characters that must not appear in a name ([`FORBIDDEN_IN_NAME`]).
fn is_forbidden_in_name(c: char) -> bool {
    FORBIDDEN_IN_NAME.iter().any(|&(first, last)| (first..=last).contains(&c))
}

fn clean_name(input: &str, field: Field, max: usize, allow_empty: bool) -> Result<String> {
    // Spaces at the ends (ASCII or full-width) are never intended.
    let s = input.trim_matches(|c: char| c.is_whitespace());
    if s.graphemes(true).any(has_forbidden_char) {
        return Err(Error::invalid(field, Invalid::ControlCharacter));
    }
    if s.is_empty() && !allow_empty {
        return Err(Error::invalid(field, Invalid::Empty));
    }
    if s.graphemes(true).count() > max || s.chars().count() > max * NAME_CODE_POINTS_PER_CHAR {
        return Err(Error::invalid(field, Invalid::TooLong { max }));
    }
    Ok(s.to_owned())
}

/// True if one character as the customer sees it (an extended grapheme cluster) holds a
/// forbidden character. An [`EMOJI_JOINER`] is allowed where an emoji follows it in the same
/// cluster: Unicode joins a cluster across a joiner only before an emoji (UAX #29, GB11) or
/// before a mark that would extend any character (GB9, GB9a), and a mark is told apart by its
/// joining a plain letter too.
fn has_forbidden_char(cluster: &str) -> bool {
    let mut chars = cluster.chars().peekable();
    while let Some(c) = chars.next() {
        if c == EMOJI_JOINER {
            match chars.peek() {
                Some(&next) if !extends_a_letter(next) => continue,
                _ => return true,
            }
        }
        if is_forbidden_in_name(c) {
            return true;
        }
    }
    false
}

fn extends_a_letter(c: char) -> bool {
    let mut pair = String::from("a");
    pair.push(c);
    pair.graphemes(true).count() == 1
}

/// The name a token is shown under (トークン表示名): a base name (from the bank, editable) plus an
/// optional added wording (変更後の追加文言) that may stay empty. Japanese text is welcome.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "DisplayNameParts", into = "DisplayNameParts")]
pub struct DisplayName {
    base: String,
    added: String,
}

#[derive(Serialize, Deserialize)]
struct DisplayNameParts {
    base: String,
    #[serde(default)]
    added: String,
}

impl TryFrom<DisplayNameParts> for DisplayName {
    type Error = Error;
    fn try_from(p: DisplayNameParts) -> Result<Self> {
        DisplayName::new(&p.base, &p.added)
    }
}

impl From<DisplayName> for DisplayNameParts {
    fn from(d: DisplayName) -> Self {
        DisplayNameParts { base: d.base, added: d.added }
    }
}

impl DisplayName {
    /// Validates a base name (1–[`DISPLAY_NAME_MAX_CHARS`] characters) and an added wording
    /// (0–[`ADDED_WORDING_MAX_CHARS`] characters); ends are trimmed.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an empty base, a part that is too long, or a control/invisible
    /// formatting character in either part.
    pub fn new(base: &str, added: &str) -> Result<Self> {
        Ok(Self {
            base: clean_name(base, Field::DisplayName, DISPLAY_NAME_MAX_CHARS, false)?,
            added: clean_name(added, Field::AddedWording, ADDED_WORDING_MAX_CHARS, true)?,
        })
    }

    /// The base name.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The added wording, possibly empty.
    pub fn added(&self) -> &str {
        &self.added
    }
}

impl fmt::Display for DisplayName {
    /// The whole name as shown: the base, then the added wording after a space if there is one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.added.is_empty() {
            f.write_str(&self.base)
        } else {
            write!(f, "{} {}", self.base, self.added)
        }
    }
}

impl fmt::Debug for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DisplayName({self})")
    }
}

/// Identifies a token inside the vault: 16 random bytes as 32 lowercase hex digits. Not a
/// secret, and unrelated to the bank's IDs, so it can be handed to the web view.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TokenId(String);

/// Hex digits in a [`TokenId`].
pub const TOKEN_ID_HEX_CHARS: usize = 32;

impl TokenId {
    /// A fresh random id.
    ///
    /// # Errors
    /// [`Error::Crypto`] if the OS random generator fails.
    pub fn random() -> Result<Self> {
        use rand_core::{OsRng, RngCore};
        let mut bytes = [0u8; TOKEN_ID_HEX_CHARS / 2];
        OsRng.try_fill_bytes(&mut bytes).map_err(|_| Error::Crypto)?;
        let mut s = String::with_capacity(TOKEN_ID_HEX_CHARS);
        for b in bytes {
            s.push_str(&format!("{b:02x}"));
        }
        Ok(Self(s))
    }

    /// Parses an id coming back from the web view.
    ///
    /// # Errors
    /// [`Error::Invalid`] unless it is exactly 32 lowercase hex digits.
    pub fn new(input: &str) -> Result<Self> {
        if input.len() != TOKEN_ID_HEX_CHARS {
            return Err(Error::invalid(
                Field::TokenId,
                Invalid::WrongLength {
                    min: TOKEN_ID_HEX_CHARS,
                    max: TOKEN_ID_HEX_CHARS,
                    found: input.chars().count(),
                },
            ));
        }
        if !input.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(Error::invalid(Field::TokenId, Invalid::NotDigits));
        }
        Ok(Self(input.to_owned()))
    }

    /// The 32 hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenId({})", self.0)
    }
}

impl<'de> Deserialize<'de> for TokenId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::new(&s).map_err(serde::de::Error::custom)
    }
}

/// Bytes in an attempt ID.
pub const ATTEMPT_ID_LEN: usize = 16;

/// Identifies one provisioning attempt: 16 random bytes chosen by the bank, base64url on the
/// wire (22 characters). Not a secret: it names the attempt in `confirm` and `ack`, and a
/// token stored pending delivery keeps it until the bank acknowledged the delivery.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AttemptId([u8; ATTEMPT_ID_LEN]);

impl AttemptId {
    /// A fresh random attempt ID.
    ///
    /// # Errors
    /// [`Error::Crypto`] if the OS random generator fails.
    pub fn random() -> Result<Self> {
        use rand_core::{OsRng, RngCore};
        let mut b = [0u8; ATTEMPT_ID_LEN];
        OsRng.try_fill_bytes(&mut b).map_err(|_| Error::Crypto)?;
        Ok(Self(b))
    }

    /// An attempt ID from its bytes (test vectors, storage).
    pub fn from_bytes(bytes: [u8; ATTEMPT_ID_LEN]) -> Self {
        Self(bytes)
    }

    /// The 16 bytes, as they enter the transcript and the ack.
    pub fn as_bytes(&self) -> &[u8; ATTEMPT_ID_LEN] {
        &self.0
    }

    /// Parses the base64url form.
    ///
    /// # Errors
    /// [`Error::ProtocolViolation`] unless it is exactly 16 bytes in base64url without padding.
    pub fn parse(s: &str) -> Result<Self> {
        b64_decode::<ATTEMPT_ID_LEN>(s).map(Self)
    }
}

impl fmt::Display for AttemptId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&b64_encode(&self.0))
    }
}

impl fmt::Debug for AttemptId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AttemptId({self})")
    }
}

impl std::str::FromStr for AttemptId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl Serialize for AttemptId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for AttemptId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&s).map_err(|_| {
            serde::de::Error::custom(format_args!(
                "expected {ATTEMPT_ID_LEN} bytes as base64url without padding ({} characters)",
                (4 * ATTEMPT_ID_LEN).div_ceil(3)
            ))
        })
    }
}

#[cfg(test)]
mod tests;
