//! softtoken-core: every rule of the softtoken domain.
//!
//! The app (`src-tauri`) and the reference server (`crates/server`) are thin shells over this
//! crate. It knows nothing of Tauri or axum: time, key stores and server addresses come in as
//! arguments or traits, so every rule here can be tested without clocks, keychains or sockets.
//!
//! - [`ids`]: the identifiers a customer types (service ID, user ID, activation password) and the
//!   display name they choose, validated once at the edge.
//! - [`totp`]: one-time codes (RFC 6238) as pure functions of time.
//! - [`verify`]: the bank's rule for accepting a code: the window, the replay guard, the drift
//!   it follows and the resync, as pure functions of its clock.
//! - [`weak_number`]: the one rule that refuses easy activation passwords and app PINs, with
//!   its common list as a data file.
//! - [`token`]: a token's fields, once: what provisioning makes and what the app shows.
//! - `vault` (feature `vault`, on by default): the customer's tokens on the device, encrypted
//!   under a key kept only in the OS keychain, saved atomically.
//! - [`protocol`]: provisioning over SPAKE2: the seed is derived on both ends, never sent.
//! - [`confirm`]: transaction confirmation: the bank's request for one transfer (or new payee,
//!   limit change, sign-in), authenticated both ways with keys derived from the seed, and the
//!   offline code over the payee and amount ([`ocra`], RFC 6287).
//! - `client` (feature `client`, on by default): the app's HTTPS client for that protocol.
//! - `fuzzing` (feature `fuzzing`): the fuzz targets' bodies over these parsers (`fuzz/`,
//!   `docs/FUZZING.md`).
//!
//! Dependencies point one way: `ids` and `totp` at the bottom, `token`, `verify` and `protocol`
//! on them, `vault` and `client` on top. The bank's server uses only the bottom, `verify` and
//! `protocol` (no default features), so it links neither the HTTP client nor any OS keychain.
//!
//! ```
//! use softtoken_core::ids::{ServiceId, UserId};
//!
//! // Full-width digits and hyphens, as a customer in Japan may type them, are normalised.
//! let service = ServiceId::new("１０１１-２２３１").unwrap();
//! assert_eq!(service.as_str(), "10112231");
//! assert!(UserId::new("9998").is_err());
//! ```

mod base64url;
#[cfg(feature = "client")]
pub mod client;
pub mod confirm;
pub mod error;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod ids;
pub mod ocra;
#[cfg(feature = "openapi")]
mod openapi;
pub mod protocol;
pub mod token;
pub mod totp;
#[cfg(feature = "vault")]
pub mod vault;
pub mod verify;
pub mod weak_number;

pub use error::{Error, Result};

// The workspace's one skip helper (the tests crate's; core cannot depend on that crate), for the
// unit tests that run a second implementation of the documented vectors.
#[cfg(test)]
mod python_check;
#[cfg(test)]
#[path = "../../../tests/skip.rs"]
mod skip;
