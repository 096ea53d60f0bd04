//! The bearer credentials of the admin listener, as configuration reads them and the HTTP
//! shell checks them: a leaf, so that configuration need not import the HTTP shell.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};

/// A bearer credential of the admin listener (the admin token, or the web tier's verify-only
/// token). Compared in constant time (as SHA-256 digests, so not even
/// its length leaks); never printed.
#[derive(Clone)]
pub struct AdminToken(Arc<[u8; 32]>);

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

impl PartialEq for AdminToken {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&*other.0).into()
    }
}

/// Shortest admin token accepted, in characters.
pub const ADMIN_TOKEN_MIN_LEN: usize = 16;

impl AdminToken {
    /// A token from configuration.
    ///
    /// # Errors
    /// [`Error::Config`] when it is shorter than [`ADMIN_TOKEN_MIN_LEN`] or has whitespace.
    pub fn new(token: &str) -> Result<Self> {
        let token = token.trim();
        if token.len() < ADMIN_TOKEN_MIN_LEN || token.chars().any(char::is_whitespace) {
            return Err(Error::Config(format!(
                "the admin token must be at least {ADMIN_TOKEN_MIN_LEN} characters without spaces"
            )));
        }
        Ok(Self(Arc::new(Sha256::digest(token.as_bytes()).into())))
    }

    pub(crate) fn matches(&self, presented: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        digest.ct_eq(&*self.0).into()
    }
}
