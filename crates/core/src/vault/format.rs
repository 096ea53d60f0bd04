//! The vault file format: bytes in, typed records out.
//!
//! ```text
//! offset  size  field                        (version 2, which this build writes)
//!      0     8  magic b"SOFTTOKV"
//!      8     4  format version, big-endian
//!     12    12  nonce of the envelope
//!     24     8  generation, big-endian: one more at every save (vault/state.rs)
//!     32     2  length L of the lock section, big-endian: 0 (no app PIN) or LOCK_BYTES
//!     34     L  lock section: the vault key wrapped under the app PIN (vault/lock.rs)
//!   34+L     n  body, AES-256-GCM encrypted under the file key, associated data = bytes 0..34+L
//! 34+L+n    16  GCM tag
//! ```
//!
//! Version 1 (still read, never written) had only the first 24 bytes as header (no generation,
//! no lock) and the same body after them. From version 2 on the envelope (this header, AES-256-GCM
//! over the rest, the key derivation) is frozen; a later version changes only the body inside
//! it. That is what lets a tampered version field be told from a genuinely newer file: a newer
//! file still authenticates and gives [`Error::VaultTooNew`], a tampered one does not and gives
//! [`Error::VaultCorrupted`]. (A version-1 build reads a version-2 file as damaged: its
//! envelope was the 24-byte one; its way out, the set-aside, keeps the file.)
//!
//! The whole header is authenticated as associated data of the body, so the generation and the
//! lock section cannot be changed without the vault key; the lock section also carries its own
//! MAC under the device secret, checked before any PIN is (vault/lock.rs).
//!
//! Body, versions 1 and 2: UTF-8 JSON `{"tokens": [record, ...]}` in the customer's order, each
//! record with its fields in the clear *inside* the envelope and its seed sealed a second time,
//! separately: base64 of `nonce (12) || AES-256-GCM(seed key, seed) || tag (16)` with associated
//! data `"softtoken vault seed" || 1 || id || service ID || user ID` (each length-prefixed; the
//! `1` is the sealing's version, unchanged in version 2), so a seed copied into another record
//! does not open.
//!
//! Both keys come from the one 256-bit vault key through HKDF-SHA256 with distinct labels, so
//! the two layers never share a key. The vault key is the OS keychain's entry, or, with an app
//! PIN, the one unwrapped from the lock section.

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
/// The newest version this build reads, and the one it writes.
pub const CURRENT_VERSION: u32 = 2;
/// Length of a lock section (an app PIN's wrapped key, `vault/lock.rs`) in a version-2 header.
pub const LOCK_BYTES: usize = 120;
/// Length of the vault key in bytes (AES-256).
pub const KEY_BYTES: usize = 32;

const NONCE_BYTES: usize = 12;
const TAG_BYTES: usize = 16;
/// The header of a version-1 file, and the part every version starts with.
const HEADER_BYTES: usize = MAGIC.len() + 4 + NONCE_BYTES;
/// The header of a version-2 file without its lock section.
const HEADER_V2_BYTES: usize = HEADER_BYTES + 8 + 2;
/// The version of the seed sealing's associated data: version 1's, kept by version 2, so a
/// record read from a version-1 file is written back as it was.
const SEAL_VERSION: u32 = 1;

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
        let aad = seed_aad(SEAL_VERSION, id, service, user);
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
        let sealed = &self.seed.0;
        let (nonce, rest) = sealed.split_at(NONCE_BYTES);
        let (ct, tag) = rest.split_at(rest.len() - TAG_BYTES);
        let s = &self.summary;
        let aad = seed_aad(SEAL_VERSION, &s.id, &s.issued.service_id, &s.issued.user_id);
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

/// The body of versions 1 and 2.
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

/// What a file's header says, as claimed: trusted only once [`decode`] authenticated the file
/// (or, for the lock section, once `vault/lock.rs` checked its MAC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The format version.
    pub version: u32,
    /// The save count of the vault this file is (0 for a version-1 file, which had none).
    pub generation: u64,
    /// The lock section, when the vault has an app PIN.
    pub lock: Option<[u8; LOCK_BYTES]>,
}

/// Reads the header of a file without authenticating it. A version newer than this build is
/// read with version 2's layout, frozen from then on.
///
/// # Errors
/// [`Error::VaultCorrupted`] if the file is too short, not a vault file, or its header is not
/// one any version writes.
pub fn read_header(bytes: &[u8]) -> Result<Header> {
    let version = claimed_version(bytes)?;
    let (header, lock) = match version {
        0 => return Err(Error::VaultCorrupted),
        1 => return Ok(Header { version, generation: 0, lock: None }),
        _ => split_v2(bytes)?,
    };
    let mut generation = [0u8; 8];
    generation.copy_from_slice(&header[HEADER_BYTES..HEADER_BYTES + 8]);
    let lock = match lock {
        [] => None,
        section => Some(section.try_into().map_err(|_| Error::VaultCorrupted)?),
    };
    Ok(Header { version, generation: u64::from_be_bytes(generation), lock })
}

/// A version-2 file's header (all of it, lock section included) and its lock section.
fn split_v2(bytes: &[u8]) -> Result<(&[u8], &[u8])> {
    if bytes.len() < HEADER_V2_BYTES + TAG_BYTES {
        return Err(Error::VaultCorrupted);
    }
    let lock_len =
        usize::from(u16::from_be_bytes([bytes[HEADER_V2_BYTES - 2], bytes[HEADER_V2_BYTES - 1]]));
    let end = HEADER_V2_BYTES + lock_len;
    if (lock_len != 0 && lock_len != LOCK_BYTES) || bytes.len() < end + TAG_BYTES {
        return Err(Error::VaultCorrupted);
    }
    Ok((&bytes[..end], &bytes[HEADER_V2_BYTES..end]))
}

/// The length of a file's header: what the envelope authenticates as associated data.
fn header_len(bytes: &[u8], version: u32) -> Result<usize> {
    match version {
        1 => Ok(HEADER_BYTES),
        _ => split_v2(bytes).map(|(header, _)| header.len()),
    }
}

/// Encrypts records into the bytes of a vault file of the current version, as save number
/// `generation`, with the lock section of an app PIN if there is one.
///
/// # Errors
/// [`Error::Crypto`] if the random generator or the cipher fails.
pub fn encode(
    records: &[Record],
    ciphers: &Ciphers,
    generation: u64,
    lock: Option<&[u8; LOCK_BYTES]>,
) -> Result<Vec<u8>> {
    let nonce = random_nonce()?;
    let mut out = header(CURRENT_VERSION, nonce, generation, lock, 400 * records.len() + 64);
    let header_len = out.len();
    serde_json::to_writer(&mut out, &BodyOut { tokens: records }).map_err(|_| Error::Crypto)?;
    seal(out, header_len, nonce, ciphers)
}

/// The header of a file of `version` (version 1's for 1, version 2's otherwise), with room for a
/// body of about `body_len` bytes and the tag.
fn header(
    version: u32,
    nonce: [u8; NONCE_BYTES],
    generation: u64,
    lock: Option<&[u8; LOCK_BYTES]>,
    body_len: usize,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_V2_BYTES + LOCK_BYTES + body_len + TAG_BYTES);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&nonce);
    if version != 1 {
        out.extend_from_slice(&generation.to_be_bytes());
        let section: &[u8] = lock.map_or(&[], |l| l.as_slice());
        // LOCK_BYTES fits the two-byte length.
        out.extend_from_slice(&(section.len() as u16).to_be_bytes());
        out.extend_from_slice(section);
    }
    out
}

/// Encrypts the body after the header in place and appends the tag.
fn seal(
    mut out: Vec<u8>,
    header_len: usize,
    nonce: [u8; NONCE_BYTES],
    ciphers: &Ciphers,
) -> Result<Vec<u8>> {
    let (header, body) = out.split_at_mut(header_len);
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
    if version == 0 {
        // Version 0 was never written.
        return Err(Error::VaultCorrupted);
    }
    let header_len = header_len(&bytes, version)?;
    let tag_at = bytes.len() - TAG_BYTES;
    let tag = *Tag::from_slice(&bytes[tag_at..]);
    bytes.truncate(tag_at);
    let mut bytes = Zeroizing::new(bytes);
    let (header, body) = bytes.split_at_mut(header_len);
    let nonce = *Nonce::from_slice(&header[MAGIC.len() + 4..HEADER_BYTES]);
    ciphers
        .file
        .decrypt_in_place_detached(&nonce, header, body, &tag)
        .map_err(|_| Error::VaultCorrupted)?;
    if version > CURRENT_VERSION {
        return Err(Error::VaultTooNew { found: version, supported: CURRENT_VERSION });
    }
    decode_body(body, ciphers)
}

/// The body of versions 1 and 2.
fn decode_body(body: &[u8], ciphers: &Ciphers) -> Result<Vec<Record>> {
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
        record.open_seed(ciphers)?;
    }
    Ok(parsed.tokens)
}

/// Seals `body` as a file of `version` (generation 0, no lock) under `nonce`, as only someone
/// holding the key could:
/// files no release writes (other versions, hand-made bodies), for this crate's tests and the
/// fuzz target that reaches past the envelope.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn seal_body(
    version: u32,
    body: &[u8],
    nonce: [u8; NONCE_BYTES],
    ciphers: &Ciphers,
) -> Result<Vec<u8>> {
    let mut out = header(version, nonce, 0, None, body.len());
    let header_len = out.len();
    out.extend_from_slice(body);
    seal(out, header_len, nonce, ciphers)
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
