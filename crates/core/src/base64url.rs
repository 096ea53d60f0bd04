//! base64url without padding, the encoding of every binary field on the wire and of attempt
//! IDs. Strict on input: canonical, and exactly the expected length.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::error::{Error, Result};

/// Encodes bytes as base64url without padding, the encoding of every binary field.
pub fn b64_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes a base64url field (no padding, canonical) of exactly `N` bytes.
///
/// # Errors
/// [`Error::ProtocolViolation`] for other characters, padding, non-canonical trailing bits or
/// a length other than `N`.
pub fn b64_decode<const N: usize>(s: &str) -> Result<[u8; N]> {
    // A correct field is exactly ceil(4N/3) characters; refusing longer input first keeps an
    // oversized field from being decoded at all.
    if s.len() != (4 * N).div_ceil(3) {
        return Err(Error::ProtocolViolation("a binary field has the wrong length"));
    }
    let v = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| Error::ProtocolViolation("a binary field is not base64url without padding"))?;
    v.try_into().map_err(|_| Error::ProtocolViolation("a binary field has the wrong length"))
}

/// Decodes a base64url field (no padding, canonical) of `min..=max` bytes.
///
/// # Errors
/// [`Error::ProtocolViolation`] for other characters, padding, non-canonical trailing bits or
/// a length outside the range.
pub fn b64_decode_between(s: &str, min: usize, max: usize) -> Result<Vec<u8>> {
    if s.len() > (4 * max).div_ceil(3) {
        return Err(Error::ProtocolViolation("a binary field has the wrong length"));
    }
    let v = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| Error::ProtocolViolation("a binary field is not base64url without padding"))?;
    if v.len() < min || v.len() > max {
        return Err(Error::ProtocolViolation("a binary field has the wrong length"));
    }
    Ok(v)
}
