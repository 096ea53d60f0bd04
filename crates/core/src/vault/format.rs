//! The vault file format: bytes in, typed records out.
//!
//! ```text
//! offset  size  field
//!      0     8  magic b"SOFTTOKV"
//!      8     4  format version, big-endian (this build writes and reads 1)
//!     12    12  nonce of the envelope
//!     24     n  body, AES-256-GCM encrypted under the file key, associated data = bytes 0..24
//!   24+n    16  GCM tag
//! ```
//!
//! The envelope (the 24-byte header, AES-256-GCM over the rest, the key derivation) is frozen
//! across versions; a later version changes only the body inside it. That is what lets a
//! tampered version field be told from a genuinely newer file: a newer file still authenticates
//! and gives [`Error::VaultTooNew`], a tampered one does not and gives [`Error::VaultCorrupted`].
//!
//! Body, version 1: UTF-8 JSON `{"tokens": [record, ...]}` in the customer's order, each record
//! with its fields in the clear *inside* the envelope and its seed sealed a second time,
//! separately: base64 of `nonce (12) || AES-256-GCM(seed key, seed) || tag (16)` with associated
//! data `"softtoken vault seed" || version || id || service ID || user ID` (each length-prefixed),
//! so a seed copied into another record does not open.
//!
//! Both keys come from the one 256-bit vault key in the OS keychain through HKDF-SHA256 with
//! distinct labels, so the two layers never share a key.

use std::fmt;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::ids::{ServiceId, TokenId, UserId};
use crate::token::TokenSummary;
use crate::totp::Seed;

/// The first bytes of every vault file.
pub const MAGIC: [u8; 8] = *b"SOFTTOKV";
/// The newest body version this build reads, and the one it writes.
pub const CURRENT_VERSION: u32 = 1;
/// Length of the vault key in bytes (AES-256).
pub const KEY_BYTES: usize = 32;

const NONCE_BYTES: usize = 12;
const TAG_BYTES: usize = 16;
const HEADER_BYTES: usize = MAGIC.len() + 4 + NONCE_BYTES;

const FILE_KEY_LABEL: &[u8] = b"softtoken vault file key";
const SEED_KEY_LABEL: &[u8] = b"softtoken vault seed key";
const SEED_AAD_LABEL: &[u8] = b"softtoken vault seed";

/// The 256-bit vault key, as kept in the OS keychain. Zeroized on drop, never printed.
pub struct VaultKey(Zeroizing<[u8; KEY_BYTES]>);

impl VaultKey {
    /// A fresh key from the OS random generator.
    ///
    /// # Errors
    /// [`Error::Crypto`] if the OS random generator fails.
    pub fn generate() -> Result<Self> {
        let mut key = Zeroizing::new([0u8; KEY_BYTES]);
        OsRng.try_fill_bytes(key.as_mut()).map_err(|_| Error::Crypto)?;
        Ok(Self(key))
    }

    /// The key from keychain bytes, or `None` if they are not a key of the right length.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let mut key = Zeroizing::new([0u8; KEY_BYTES]);
        if bytes.len() != KEY_BYTES {
            return None;
        }
        key.copy_from_slice(bytes);
        Some(Self(key))
    }

    /// The raw bytes, for the keychain only.
    pub fn expose(&self) -> &[u8] {
        self.0.as_ref()
    }
}

impl fmt::Debug for VaultKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VaultKey(<redacted>)")
    }
}

/// The two AES-256-GCM ciphers derived from a vault key, set up once per vault rather than
/// once per record. Their key schedules are zeroized on drop (the `zeroize` features of `aes`
/// and `ghash`).
pub struct Ciphers {
    file: Aes256Gcm,
    seed: Aes256Gcm,
}

impl fmt::Debug for Ciphers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ciphers(<redacted>)")
    }
}

impl Ciphers {
    /// Derives the file and seed keys from the vault key.
    pub fn new(key: &VaultKey) -> Self {
        let hk = hkdf::Hkdf::<sha2::Sha256>::new(None, key.expose());
        let derive = |label: &[u8]| {
            let mut k = Zeroizing::new([0u8; KEY_BYTES]);
            // 32 bytes is far below HKDF-SHA256's limit of 255 * 32, so expand cannot fail.
            let _ = hk.expand(label, k.as_mut());
            Aes256Gcm::new(k.as_ref().into())
        };
        Self { file: derive(FILE_KEY_LABEL), seed: derive(SEED_KEY_LABEL) }
    }
}

fn random_nonce() -> Result<[u8; NONCE_BYTES]> {
    let mut nonce = [0u8; NONCE_BYTES];
    OsRng.try_fill_bytes(&mut nonce).map_err(|_| Error::Crypto)?;
    Ok(nonce)
}

/// A seed sealed to its record: nonce, ciphertext and tag. Not secret; stored as base64.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSeed(Vec<u8>);

impl fmt::Debug for SealedSeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedSeed({} bytes)", self.0.len())
    }
}

impl Serialize for SealedSeed {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use base64::Engine as _;
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for SealedSeed {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use base64::Engine as _;
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)?;
        if bytes.len() < NONCE_BYTES + TAG_BYTES {
            return Err(serde::de::Error::custom("sealed seed too short"));
        }
        Ok(Self(bytes))
    }
}

/// What a sealed seed is bound to: its record's identity under a format version.
fn seed_aad(version: u32, id: &TokenId, service: &ServiceId, user: &UserId) -> Vec<u8> {
    let mut aad = Vec::with_capacity(SEED_AAD_LABEL.len() + 4 + 3 * 4 + 64);
    aad.extend_from_slice(SEED_AAD_LABEL);
    aad.extend_from_slice(&version.to_be_bytes());
    for field in [id.as_str(), service.as_str(), user.as_str()] {
        // The fields are short ASCII; the length prefix keeps their boundaries unambiguous.
        aad.extend_from_slice(&(field.len() as u32).to_be_bytes());
        aad.extend_from_slice(field.as_bytes());
    }
    aad
}

/// One token as stored in a version-1 body, and as the vault holds it in memory: its summary's
/// fields in order (`id` … `pending_delivery`, one JSON object with the seed), then the sealed
/// seed. The fields are [`TokenSummary`]'s, so a change there is a change of this format.
// Unknown fields are refused by `TokenSummary`, which receives every field but the seed: serde
// refuses them only at the innermost map of nested `flatten`s.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// Everything but the seed.
    #[serde(flatten)]
    pub summary: TokenSummary,
    /// The seed, sealed to the record's identity.
    pub seed: SealedSeed,
}

impl Record {
    /// Seals `seed` to this record's identity (a fresh nonce every time).
    ///
    /// # Errors
    /// [`Error::Crypto`] if the random generator or the cipher fails.
    pub fn seal_seed(
        ciphers: &Ciphers,
        id: &TokenId,
        service: &ServiceId,
        user: &UserId,
        seed: &Seed,
    ) -> Result<SealedSeed> {
        let nonce = random_nonce()?;
        let aad = seed_aad(CURRENT_VERSION, id, service, user);
        let plain = seed.expose();
        // Room for the tag up front: the buffer never reallocates, so no stray copy of the
        // seed is left behind.
        let mut buf = Zeroizing::new(Vec::with_capacity(NONCE_BYTES + plain.len() + TAG_BYTES));
        buf.extend_from_slice(&nonce);
        buf.extend_from_slice(plain);
        let tag = ciphers
            .seed
            .encrypt_in_place_detached(Nonce::from_slice(&nonce), &aad, &mut buf[NONCE_BYTES..])
            .map_err(|_| Error::Crypto)?;
        buf.extend_from_slice(&tag);
        Ok(SealedSeed(std::mem::take(&mut *buf)))
    }

    /// The seed, if the sealed bytes authenticate for this record.
    ///
    /// # Errors
    /// [`Error::VaultCorrupted`] if they do not (changed, or moved from another record).
    pub fn open_seed(&self, ciphers: &Ciphers) -> Result<Seed> {
        self.open_seed_as(ciphers, CURRENT_VERSION)
    }

    fn open_seed_as(&self, ciphers: &Ciphers, version: u32) -> Result<Seed> {
        let sealed = &self.seed.0;
        let (nonce, rest) = sealed.split_at(NONCE_BYTES);
        let (ct, tag) = rest.split_at(rest.len() - TAG_BYTES);
        let s = &self.summary;
        let aad = seed_aad(version, &s.id, &s.issued.service_id, &s.issued.user_id);
        let mut plain = Zeroizing::new(ct.to_vec());
        ciphers
            .seed
            .decrypt_in_place_detached(
                Nonce::from_slice(nonce),
                &aad,
                &mut plain,
                Tag::from_slice(tag),
            )
            .map_err(|_| Error::VaultCorrupted)?;
        Seed::new(plain).map_err(|_| Error::VaultCorrupted)
    }
}

#[derive(Serialize)]
struct BodyOut<'a> {
    tokens: &'a [Record],
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BodyV1 {
    tokens: Vec<Record>,
}

/// The format version a file claims, before anything is authenticated. Only the shape is
/// checked here; the claim is trusted only after [`decode`] authenticates the header.
///
/// # Errors
/// [`Error::VaultCorrupted`] if the file is too short or not a vault file.
pub fn claimed_version(bytes: &[u8]) -> Result<u32> {
    if bytes.len() < HEADER_BYTES + TAG_BYTES || bytes[..MAGIC.len()] != MAGIC {
        return Err(Error::VaultCorrupted);
    }
    let mut version = [0u8; 4];
    version.copy_from_slice(&bytes[MAGIC.len()..MAGIC.len() + 4]);
    Ok(u32::from_be_bytes(version))
}

/// Encrypts records into the bytes of a vault file of the current version.
///
/// # Errors
/// [`Error::Crypto`] if the random generator or the cipher fails.
pub fn encode(records: &[Record], ciphers: &Ciphers) -> Result<Vec<u8>> {
    let nonce = random_nonce()?;
    let mut out = header(CURRENT_VERSION, nonce, 400 * records.len() + 64);
    serde_json::to_writer(&mut out, &BodyOut { tokens: records }).map_err(|_| Error::Crypto)?;
    seal(out, nonce, ciphers)
}

/// The 24-byte header of a file, with room for a body of about `body_len` bytes and the tag.
fn header(version: u32, nonce: [u8; NONCE_BYTES], body_len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_BYTES + body_len + TAG_BYTES);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&nonce);
    out
}

/// Encrypts the body after the header in place and appends the tag.
fn seal(mut out: Vec<u8>, nonce: [u8; NONCE_BYTES], ciphers: &Ciphers) -> Result<Vec<u8>> {
    let (header, body) = out.split_at_mut(HEADER_BYTES);
    let tag = ciphers
        .file
        .encrypt_in_place_detached(Nonce::from_slice(&nonce), header, body)
        .map_err(|_| Error::Crypto)?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Authenticates and decrypts a vault file into its records, checking every seed.
///
/// # Errors
/// - [`Error::VaultCorrupted`] if any byte was changed, a seed was moved between records, or
///   the records contradict each other (two with one id, or one service and user ID).
/// - [`Error::VaultTooNew`] if the file authenticates but has a newer version than this build.
pub fn decode(mut bytes: Vec<u8>, ciphers: &Ciphers) -> Result<Vec<Record>> {
    let version = claimed_version(&bytes)?;
    let tag_at = bytes.len() - TAG_BYTES;
    let tag = *Tag::from_slice(&bytes[tag_at..]);
    bytes.truncate(tag_at);
    let mut bytes = Zeroizing::new(bytes);
    let (header, body) = bytes.split_at_mut(HEADER_BYTES);
    let nonce = *Nonce::from_slice(&header[MAGIC.len() + 4..]);
    ciphers
        .file
        .decrypt_in_place_detached(&nonce, header, body, &tag)
        .map_err(|_| Error::VaultCorrupted)?;
    let records = match version {
        1 => decode_v1(body, ciphers)?,
        v if v > CURRENT_VERSION => {
            return Err(Error::VaultTooNew { found: v, supported: CURRENT_VERSION });
        }
        // Version 0 was never written.
        _ => return Err(Error::VaultCorrupted),
    };
    Ok(records)
}

fn decode_v1(body: &[u8], ciphers: &Ciphers) -> Result<Vec<Record>> {
    let parsed: BodyV1 = serde_json::from_slice(body).map_err(|_| Error::VaultCorrupted)?;
    let mut ids = std::collections::HashSet::with_capacity(parsed.tokens.len());
    let mut owners = std::collections::HashSet::with_capacity(parsed.tokens.len());
    for record in &parsed.tokens {
        let s = &record.summary;
        let unique = ids.insert(&s.id) && owners.insert((&s.issued.service_id, &s.issued.user_id));
        if !unique || s.issued.params.validate().is_err() {
            return Err(Error::VaultCorrupted);
        }
        // Opened once here so damage shows now, not when the customer next needs a code.
        record.open_seed_as(ciphers, 1)?;
    }
    Ok(parsed.tokens)
}

/// Seals `body` as a file of `version` under `nonce`, as only someone holding the key could:
/// files no release writes (other versions, hand-made bodies), for this crate's tests and the
/// fuzz target that reaches past the envelope.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn seal_body(
    version: u32,
    body: &[u8],
    nonce: [u8; NONCE_BYTES],
    ciphers: &Ciphers,
) -> Result<Vec<u8>> {
    let mut out = header(version, nonce, body.len());
    out.extend_from_slice(body);
    seal(out, nonce, ciphers)
}

/// Builds files no release writes, for tests of this crate.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    /// Seals `body` as a file of `version` under a fresh nonce.
    pub fn seal_raw(version: u32, body: &[u8], ciphers: &Ciphers) -> Vec<u8> {
        seal_body(version, body, random_nonce().unwrap(), ciphers).unwrap()
    }
}

#[cfg(test)]
mod tests;
