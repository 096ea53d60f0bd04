//! What the customer is asked to approve: the kind of request and the fields shown for it.
//!
//! Every field is validated once, here, and never changed afterwards: no trimming, no
//! normalisation. The app shows exactly the characters the bank sent, and the digest the answer
//! binds is over exactly those characters (`docs/confirmation.md` §2), so "what you see is what you
//! sign" holds to the byte. A value that would need cleaning up is refused instead.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Field, Invalid, Result};
use crate::ids::FORBIDDEN_IN_NAME;

/// Largest amount in yen: ten digits, the width the offline code's challenge gives it.
pub const MAX_AMOUNT_YEN: u64 = 9_999_999_999;
/// Longest bank or branch name, in characters (Unicode scalar values).
pub const MAX_BANK_NAME_CHARS: usize = 30;
/// Longest account holder name, in characters.
pub const MAX_HOLDER_CHARS: usize = 48;
/// Longest free text, in characters.
pub const MAX_NOTE_CHARS: usize = 60;
/// Digits of an account number (口座番号).
pub const ACCOUNT_NUMBER_DIGITS: usize = 7;

/// An amount in yen, 1 to [`MAX_AMOUNT_YEN`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Amount(u64);

impl Amount {
    /// Checks the range.
    ///
    /// # Errors
    /// [`Error::Invalid`] with [`Field::Amount`]: [`Invalid::Empty`] for zero,
    /// [`Invalid::TooLong`] above [`MAX_AMOUNT_YEN`] (more than ten digits).
    pub fn new(yen: u64) -> Result<Self> {
        match yen {
            0 => Err(Error::invalid(Field::Amount, Invalid::Empty)),
            y if y > MAX_AMOUNT_YEN => {
                Err(Error::invalid(Field::Amount, Invalid::TooLong { max: 10 }))
            }
            y => Ok(Self(y)),
        }
    }

    /// Parses an amount the customer typed (the offline screen): digits, with the separators
    /// people type (`,` and `，` as thousands separators, spaces), full-width digits allowed, and
    /// an optional trailing `円`.
    ///
    /// # Errors
    /// [`Error::Invalid`] with [`Field::Amount`] for anything else, for zero or for more than ten
    /// digits.
    pub fn parse_typed(typed: &str) -> Result<Self> {
        let t = typed.trim();
        let t = t.strip_suffix('円').unwrap_or(t).trim_end();
        let mut digits = String::new();
        for c in t.chars() {
            match c {
                '0'..='9' => digits.push(c),
                '０'..='９' => {
                    digits.push(char::from(b'0' + (u32::from(c) - u32::from('０')) as u8))
                }
                ',' | '，' | ' ' | '\u{3000}' => {}
                _ => return Err(Error::invalid(Field::Amount, Invalid::NotDigits)),
            }
        }
        if digits.is_empty() {
            return Err(Error::invalid(Field::Amount, Invalid::Empty));
        }
        let trimmed = digits.trim_start_matches('0');
        if trimmed.len() > 10 {
            return Err(Error::invalid(Field::Amount, Invalid::TooLong { max: 10 }));
        }
        Self::new(trimmed.parse().unwrap_or(0))
    }

    /// The amount in yen.
    pub fn yen(self) -> u64 {
        self.0
    }

    /// The amount as the app shows it: `¥1,234,567` (the same in both languages).
    pub fn grouped(self) -> String {
        let digits = self.0.to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
        out.push('¥');
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        // A JSON number that is negative, fractional or too large for u64 fails here already.
        let yen = u64::deserialize(d)?;
        Amount::new(yen).map_err(serde::de::Error::custom)
    }
}

/// Kinds of account (預金種目).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AccountType {
    /// 普通預金.
    Ordinary,
    /// 当座預金.
    Current,
    /// 貯蓄預金.
    Savings,
}

impl AccountType {
    /// The name on the wire and in the digest.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ordinary => "ordinary",
            Self::Current => "current",
            Self::Savings => "savings",
        }
    }
}

/// An account number: exactly seven ASCII digits on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct AccountNumber(String);

impl AccountNumber {
    /// Checks the canonical form, as the bank must send it.
    ///
    /// # Errors
    /// [`Error::Invalid`] with [`Field::PayeeAccount`] unless it is seven ASCII digits.
    pub fn new(s: &str) -> Result<Self> {
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::invalid(Field::PayeeAccount, Invalid::NotDigits));
        }
        if s.len() != ACCOUNT_NUMBER_DIGITS {
            return Err(Error::invalid(
                Field::PayeeAccount,
                Invalid::WrongLength { min: 7, max: 7, found: s.len() },
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// Parses what the customer typed on the offline screen: full-width digits and the usual
    /// spaces and hyphens allowed ([`crate::ids::SEPARATORS`]).
    ///
    /// # Errors
    /// [`Error::Invalid`] with [`Field::PayeeAccount`] unless seven digits remain.
    pub fn parse_typed(typed: &str) -> Result<Self> {
        // The same normalisation as the IDs the customer types (ids.rs), with its refusals.
        let mut digits = String::new();
        crate::ids::normalise_digits(
            typed,
            Field::PayeeAccount,
            ACCOUNT_NUMBER_DIGITS,
            ACCOUNT_NUMBER_DIGITS,
            &mut digits,
        )?;
        Ok(Self(digits))
    }

    /// The seven digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for AccountNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        AccountNumber::new(&s).map_err(serde::de::Error::custom)
    }
}

/// Characters allowed in an account holder name (口座名義): full-width katakana as the bank's
/// books print it (ァ–ヶ, the prolonged sound mark ー and the middle dot ・), full-width Latin
/// capitals and digits, the ideographic space, and the full-width （ ） ． － ／ that company
/// names use (カ）ソフトトークン becomes （カ）ソフトトークン). Half-width katakana are not accepted: the
/// bank's web tier converts its Zengin records before it sends them.
pub fn is_holder_char(c: char) -> bool {
    matches!(c,
        '\u{30a1}'..='\u{30f6}' | '\u{30fb}' | '\u{30fc}' | '\u{3000}'
        | '\u{ff21}'..='\u{ff3a}' | '\u{ff10}'..='\u{ff19}'
        | '\u{ff08}' | '\u{ff09}' | '\u{ff0e}' | '\u{ff0d}' | '\u{ff0f}')
}

/// True for characters no shown text may hold ([`FORBIDDEN_IN_NAME`]: control and invisible
/// formatting characters) and for the line and paragraph separators U+2028 and U+2029.
fn is_forbidden_in_text(c: char) -> bool {
    c == '\u{2028}'
        || c == '\u{2029}'
        || FORBIDDEN_IN_NAME.iter().any(|&(a, b)| (a..=b).contains(&c))
}

/// Checks a text shown to the customer, exactly as sent.
fn check_text(s: &str, field: Field, max: usize, allow_empty: bool) -> Result<()> {
    if s.is_empty() {
        return if allow_empty { Ok(()) } else { Err(Error::invalid(field, Invalid::Empty)) };
    }
    if s.chars().any(is_forbidden_in_text) {
        return Err(Error::invalid(field, Invalid::ControlCharacter));
    }
    // White space at either end would be invisible on the screen yet part of the digest.
    if s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return Err(Error::invalid(field, Invalid::ControlCharacter));
    }
    if s.chars().count() > max {
        return Err(Error::invalid(field, Invalid::TooLong { max }));
    }
    Ok(())
}

macro_rules! shown_text {
    ($(#[$doc:meta])* $name:ident, $field:expr, $max:expr, $allow_empty:expr, $extra:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Checks the text exactly as sent (nothing is trimmed or normalised).
            ///
            /// # Errors
            /// [`Error::Invalid`] naming the field: empty where a value is required, a control,
            /// formatting or line-separating character, white space at either end, a character
            /// outside the field's set ([`Error::ProtocolViolation`] saying which set), or longer
            /// than its limit.
            pub fn new(s: &str) -> Result<Self> {
                check_text(s, $field, $max, $allow_empty)?;
                let (allowed, refusal): (fn(char) -> bool, &'static str) = $extra;
                if !s.chars().all(allowed) {
                    return Err(Error::ProtocolViolation(refusal));
                }
                Ok(Self(s.to_owned()))
            }

            /// The text as sent.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                $name::new(&s).map_err(serde::de::Error::custom)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

shown_text!(
    /// The payee's bank (振込先金融機関), e.g. `みらい信用金庫`.
    BankName, Field::PayeeBank, MAX_BANK_NAME_CHARS, false, (|_| true, "")
);
shown_text!(
    /// The payee's branch (支店), e.g. `本店営業部`.
    BranchName, Field::PayeeBranch, MAX_BANK_NAME_CHARS, false, (|_| true, "")
);
shown_text!(
    /// The account holder's name in full-width katakana (受取人名), e.g. `ヤマダ　タロウ`.
    HolderName, Field::PayeeHolder, MAX_HOLDER_CHARS, false,
    (is_holder_char, "the payee's name takes full-width katakana, capitals and digits, the ideographic space and （）．－／ only")
);
shown_text!(
    /// A short free text the bank adds (a sign-in's device and place, a limit's period); may be
    /// empty except for a sign-in.
    Note, Field::Note, MAX_NOTE_CHARS, true, (|_| true, "")
);

/// The payee of a transfer, or a payee being registered.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Payee {
    /// 金融機関名.
    pub bank: BankName,
    /// 支店名.
    pub branch: BranchName,
    /// 預金種目.
    pub account_type: AccountType,
    /// 口座番号.
    pub account_number: AccountNumber,
    /// 受取人名.
    pub holder: HolderName,
}

/// What the customer approves, by kind: each kind carries exactly the fields it shows, so a
/// field that a kind does not have cannot be sent for it (unknown fields are refused).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Details {
    /// A transfer (振込): amount and payee.
    Transfer {
        /// The amount in yen.
        amount_yen: Amount,
        /// Where the money goes.
        payee: Payee,
        /// Optional free text.
        #[serde(default = "Note::empty")]
        note: Note,
    },
    /// Registering a new payee (振込先登録).
    NewPayee {
        /// The payee to register.
        payee: Payee,
        /// Optional free text.
        #[serde(default = "Note::empty")]
        note: Note,
    },
    /// Changing the transfer limit (限度額変更): the new limit in yen.
    LimitChange {
        /// The new limit.
        amount_yen: Amount,
        /// Optional free text (e.g. "1日あたり").
        #[serde(default = "Note::empty")]
        note: Note,
    },
    /// A sign-in from a device the bank has not seen (新しい端末からのログイン): the note says
    /// which device and where.
    SignIn {
        /// The device and place, required.
        note: Note,
    },
}

impl Note {
    /// The empty note.
    pub fn empty() -> Self {
        Self(String::new())
    }
}

impl Details {
    /// The kind's name on the wire and in the digest.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Transfer { .. } => "transfer",
            Self::NewPayee { .. } => "new_payee",
            Self::LimitChange { .. } => "limit_change",
            Self::SignIn { .. } => "sign_in",
        }
    }

    /// The amount, for the kinds that have one.
    pub fn amount(&self) -> Option<Amount> {
        match self {
            Self::Transfer { amount_yen, .. } | Self::LimitChange { amount_yen, .. } => {
                Some(*amount_yen)
            }
            _ => None,
        }
    }

    /// The payee, for the kinds that have one.
    pub fn payee(&self) -> Option<&Payee> {
        match self {
            Self::Transfer { payee, .. } | Self::NewPayee { payee, .. } => Some(payee),
            _ => None,
        }
    }

    /// The free text (empty when none).
    pub fn note(&self) -> &Note {
        match self {
            Self::Transfer { note, .. }
            | Self::NewPayee { note, .. }
            | Self::LimitChange { note, .. }
            | Self::SignIn { note } => note,
        }
    }

    /// Checks what serde cannot: a sign-in names its device.
    ///
    /// # Errors
    /// [`Error::Invalid`] with [`Field::Note`] for a sign-in with an empty note.
    pub fn validate(self) -> Result<Self> {
        if let Self::SignIn { note } = &self {
            if note.as_str().is_empty() {
                return Err(Error::invalid(Field::Note, Invalid::Empty));
            }
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(e: Error) -> (Field, Invalid) {
        match e {
            Error::Invalid { field, reason } => (field, reason),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn amounts_of_zero_or_eleven_digits_are_refused_and_typed_ones_are_read_as_people_write_them() {
        assert_eq!(field(Amount::new(0).unwrap_err()).1, Invalid::Empty);
        assert!(Amount::new(MAX_AMOUNT_YEN).is_ok());
        assert!(Amount::new(MAX_AMOUNT_YEN + 1).is_err());
        for (typed, yen) in
            [("50000", 50_000), ("50,000", 50_000), ("５０，０００円", 50_000), (" 1 円", 1)]
        {
            assert_eq!(Amount::parse_typed(typed).unwrap().yen(), yen, "{typed}");
        }
        for typed in ["", "円", "-5", "1.5", "1e3", "0", "00000000000", "12345678901"] {
            assert!(Amount::parse_typed(typed).is_err(), "{typed}");
        }
        assert_eq!(Amount::new(1_234_567).unwrap().grouped(), "¥1,234,567");
        assert_eq!(Amount::new(100).unwrap().grouped(), "¥100");
    }

    #[test]
    fn a_negative_fractional_or_string_amount_is_refused_on_the_wire() {
        for json in ["-1", "1.5", "\"100\"", "0", "10000000000", "null"] {
            assert!(serde_json::from_str::<Amount>(json).is_err(), "{json}");
        }
        assert_eq!(serde_json::from_str::<Amount>("100").unwrap().yen(), 100);
    }

    #[test]
    fn account_numbers_are_seven_digits_and_typed_ones_may_be_full_width() {
        assert!(AccountNumber::new("1234567").is_ok());
        assert!(AccountNumber::new("123456").is_err());
        assert!(AccountNumber::new("１２３４５６７").is_err());
        assert_eq!(AccountNumber::parse_typed("１２３-４５６７").unwrap().as_str(), "1234567");
        assert_eq!(field(AccountNumber::parse_typed("12345a7").unwrap_err()).1, Invalid::NotDigits);
    }

    #[test]
    fn shown_texts_are_refused_rather_than_cleaned() {
        assert!(BankName::new("みらい信用金庫").is_ok());
        for bad in [
            "",
            " みらい",
            "みらい ",
            "み\u{202e}らい",
            "み\nらい",
            "み\u{2028}らい",
            "み\u{200b}らい",
        ] {
            assert!(BankName::new(bad).is_err(), "{bad:?}");
        }
        assert!(BankName::new(&"あ".repeat(31)).is_err());
        assert!(HolderName::new("ヤマダ　タロウ").is_ok());
        assert!(HolderName::new("（カ）ソフトトークン").is_ok());
        for bad in ["ﾔﾏﾀﾞ", "山田太郎", "yamada", "ヤマダ タロウ"] {
            assert!(HolderName::new(bad).is_err(), "{bad:?}");
        }
        assert!(Note::new("").is_ok());
    }

    #[test]
    fn each_kind_carries_only_its_own_fields() {
        let payee = r#"{"bank":"みらい信用金庫","branch":"本店","account_type":"ordinary","account_number":"1234567","holder":"ヤマダ　タロウ"}"#;
        let ok = format!(r#"{{"kind":"transfer","amount_yen":50000,"payee":{payee}}}"#);
        let d: Details = serde_json::from_str(&ok).unwrap();
        assert_eq!((d.kind(), d.amount().map(Amount::yen)), ("transfer", Some(50_000)));
        for bad in [
            format!(r#"{{"kind":"new_payee","amount_yen":5,"payee":{payee}}}"#),
            format!(r#"{{"kind":"limit_change","amount_yen":5,"payee":{payee}}}"#),
            r#"{"kind":"transfer","amount_yen":5}"#.to_owned(),
            r#"{"kind":"sign_in","note":"x","amount_yen":5}"#.to_owned(),
            r#"{"kind":"wire","note":"x"}"#.to_owned(),
            format!(r#"{{"kind":"transfer","amount_yen":5,"payee":{payee},"extra":1}}"#),
        ] {
            assert!(serde_json::from_str::<Details>(&bad).is_err(), "{bad}");
        }
        let sign_in: Details = serde_json::from_str(r#"{"kind":"sign_in","note":""}"#).unwrap();
        assert_eq!(field(sign_in.validate().unwrap_err()).0, Field::Note);
    }
}
