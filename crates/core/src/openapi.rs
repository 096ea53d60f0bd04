//! The OpenAPI schemas of the wire's string and number newtypes (feature `openapi`), for the
//! server's generated document. The structs derive theirs beside their serde derive; these types
//! serialize by hand, so their schema is written here, from the same constants their `new`
//! checks, and says the form the server accepts.

use std::borrow::Cow;

use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::RefOr;

use crate::confirm::details::{
    AccountNumber, Amount, BankName, BranchName, HolderName, Note, ACCOUNT_NUMBER_DIGITS,
    MAX_AMOUNT_YEN, MAX_BANK_NAME_CHARS, MAX_HOLDER_CHARS, MAX_NOTE_CHARS,
};
use crate::confirm::phone_move::SealedPassword;
use crate::confirm::{ConfirmationId, MatchNumber, CONFIRMATION_ID_LEN};
use crate::ids::{AttemptId, ServiceId, UserId, ATTEMPT_ID_LEN};
use crate::protocol::wire::Bytes;

/// Characters of `n` bytes in base64url without padding.
const fn b64_chars(n: usize) -> usize {
    (4 * n).div_ceil(3)
}

fn text(pattern: Option<String>, min: usize, max: usize, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .pattern(pattern)
        .min_length(Some(min))
        .max_length(Some(max))
        .description(Some(description))
        .into()
}

fn base64url(bytes: usize, description: &str) -> RefOr<Schema> {
    let n = b64_chars(bytes);
    text(Some(format!("^[A-Za-z0-9_-]{{{n}}}$")), n, n, description)
}

fn digits(n: usize, description: &str) -> RefOr<Schema> {
    text(Some(format!("^[0-9]{{{n}}}$")), n, n, description)
}

macro_rules! schema {
    ($ty:ty, $schema:expr) => {
        impl utoipa::PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                $schema
            }
        }
        impl utoipa::ToSchema for $ty {}
    };
}

schema!(ServiceId, digits(8, "The bank's service ID: exactly 8 ASCII digits."));
schema!(UserId, digits(12, "A registration's user ID: exactly 12 ASCII digits."));
schema!(
    AttemptId,
    base64url(ATTEMPT_ID_LEN, "A provisioning attempt: 16 bytes, base64url without padding.")
);
schema!(
    ConfirmationId,
    base64url(CONFIRMATION_ID_LEN, "A confirmation request: 16 bytes, base64url without padding.")
);
schema!(
    MatchNumber,
    digits(2, "The two digits the customer compares on the web page and in the app.")
);
schema!(AccountNumber, digits(ACCOUNT_NUMBER_DIGITS, "An account number (口座番号)."));
schema!(
    BankName,
    text(None, 1, MAX_BANK_NAME_CHARS, "The payee's bank (振込先金融機関), exactly as shown.")
);
schema!(
    BranchName,
    text(None, 1, MAX_BANK_NAME_CHARS, "The payee's branch (支店), exactly as shown.")
);
schema!(
    HolderName,
    text(
        None,
        1,
        MAX_HOLDER_CHARS,
        "The account holder (受取人名): full-width katakana, capitals and digits, the ideographic \
         space and （）．－／."
    )
);
schema!(Note, text(None, 0, MAX_NOTE_CHARS, "A short free text the bank adds; may be empty."));
schema!(
    Amount,
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::Integer))
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::Int64
        )))
        .minimum(Some(1))
        .maximum(Some(MAX_AMOUNT_YEN))
        .description(Some("An amount in yen."))
        .into()
);

schema!(
    SealedPassword,
    text(
        Some("^[A-Za-z0-9_-]{27,32}$".into()),
        27,
        32,
        "The new registration's activation password, AES-256-GCM sealed under the token's key \
         (protocol.md §4.5): 20 to 24 bytes, base64url without padding."
    )
);

impl<const N: usize> utoipa::PartialSchema for Bytes<N> {
    fn schema() -> RefOr<Schema> {
        base64url(N, &format!("{N} bytes, base64url without padding."))
    }
}

impl<const N: usize> utoipa::ToSchema for Bytes<N> {
    // One component per length: a 32-byte MAC and a 33-byte SPAKE2 message differ in form.
    fn name() -> Cow<'static, str> {
        Cow::Owned(format!("Bytes{N}"))
    }
}
