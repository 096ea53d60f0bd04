//! The provisioning protocol: how the app gets a token seed from the bank without the seed or
//! the activation password ever crossing the wire.
//!
//! Three JSON requests over HTTPS (`docs/protocol.md` is the normative spec, with test vectors):
//!
//! 1. **start**: the app sends its nonce and SPAKE2 message A; the bank answers with an attempt
//!    ID, its nonce and SPAKE2 message B. Both now hold the SPAKE2 key K, equal only if both
//!    used the same activation password.
//! 2. **confirm**: the app proves it derived the same keys (HMAC over the whole transcript);
//!    the bank checks it (a wrong password counts a try) and answers with its own proof, the
//!    token parameters and its clock. Both derive the seed from K and the transcript (HKDF).
//! 3. **ack**: after storing the token the app proves it holds the seed; only then does the bank
//!    mark the registration delivered.
//!
//! The types here are used by both ends, so the app and the reference server cannot drift:
//! [`ClientHandshake`]/[`ClientConfirmed`] on the app's side, [`ServerHandshake`]/
//! [`ServerAttempt`] on the bank's, [`wire`] for the bodies. The protocol knows nothing of
//! storage: the app's side ends with a [`NewToken`] for the app to store and the ack to send
//! once it has, so the server links no vault or keychain.
//!
//! ```
//! use softtoken_core::ids::{ActivationPassword, ServiceId, UserId};
//! use softtoken_core::protocol::wire::TokenInfo;
//! use softtoken_core::protocol::{ack_for, AttemptId, ClientHandshake, ServerHandshake};
//! use softtoken_core::totp::Algorithm;
//!
//! let service = ServiceId::new("10112231")?;
//! let user = UserId::new("999800000001")?;
//! let pw = ActivationPassword::new("4321")?;
//!
//! let (app, start) = ClientHandshake::start(&service, &user, &pw)?;
//! let (bank, started) = ServerHandshake::respond(&start, &pw, AttemptId::random()?)?;
//! let (app, confirm) = app.confirm(&started)?;
//! assert!(bank.check_client_confirm(&confirm));
//! let token = TokenInfo {
//!     algorithm: Algorithm::Sha1,
//!     digits: 6,
//!     period: 60,
//!     issuer: "Example Bank".into(),
//!     display_name: "Example Bank".into(),
//! };
//! let (seed, attempt) = app.verify_bank(&bank.confirm_response(token, 1_700_000_000))?;
//! assert_eq!(&seed, bank.seed());
//! assert!(bank.check_ack(&ack_for(&seed, &attempt)));
//! # Ok::<(), softtoken_core::Error>(())
//! ```

pub(crate) mod handshake;
pub mod wire;

#[cfg(test)]
mod vectors;

pub use crate::ids::AttemptId;
pub use crate::token::{IssuedToken, NewToken};
pub use handshake::{
    ack_for, identity_a, identity_b, ClientConfirmed, ClientHandshake, ServerAttempt,
    ServerHandshake, ACK_LABEL, CLIENT_CONFIRM_INFO, DEFAULT_ATTEMPT_LIFETIME_SECS,
    MAX_ISSUER_CHARS, SCALAR_ENTROPY_LEN, SEED_INFO, SEED_LEN, SERVER_CONFIRM_INFO,
    TRANSCRIPT_LABEL,
};
