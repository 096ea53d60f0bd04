//! Both ends of the provisioning handshake: SPAKE2, the transcript hash, the key schedule, key
//! confirmation and the delivery ack. No I/O here: the client and the server move the bytes.
//!
//! One file per concern: `schedule` holds what both ends derive alike (so each derivation is
//! read once, not checked against a counterpart), `client` the app's side, `server` the bank's,
//! and `tests` drives both ends against each other.

mod client;
mod schedule;
mod server;
#[cfg(test)]
mod tests;

#[cfg(feature = "fuzzing")]
pub(crate) use client::fuzzing_confirmed;
pub use client::{ClientConfirmed, ClientHandshake, MAX_ISSUER_CHARS};
#[cfg(feature = "fuzzing")]
pub(crate) use schedule::check_peer_point;
#[cfg(test)]
pub(in crate::protocol) use schedule::Transcript;
pub use schedule::{
    ack_for, identity_a, identity_b, ACK_LABEL, CLIENT_CONFIRM_INFO, SCALAR_ENTROPY_LEN, SEED_INFO,
    SEED_LEN, SERVER_CONFIRM_INFO, TRANSCRIPT_LABEL,
};
pub use server::{ServerAttempt, ServerHandshake, DEFAULT_ATTEMPT_LIFETIME_SECS};
