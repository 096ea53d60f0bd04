//! Secrets at rest: activation passwords, seeds and provisioning attempts are stored only as
//! AES-256-GCM ciphertexts under the server's master key.
//!
//! The associated data names what the secret is and the row it belongs to, so a ciphertext
//! copied into another row (or another column) no longer opens: an attacker with write access
//! to the database cannot move a known seed onto a victim's registration.
//!
//! Each value names the key it was sealed under (a [`KeyId`], derived from the key), so the
//! master key can be rotated while the server serves: the server seals under its current key
//! and opens under the current or any previous key it is given, and `softtoken-server
//! rotate-key` re-seals whatever is still under an older key. Values written before key ids
//! (format 1) are opened by trying each configured key.

use std::fmt;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Bytes in the master key (AES-256).
pub const MASTER_KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
/// First byte of a sealed value of the first release: no key id.
const FORMAT_V1: u8 = 1;
/// First byte of a sealed value that names its key: `2 | key id (8) | nonce (12) | ct+tag`.
const FORMAT_V2: u8 = 2;
/// Bytes of a [`KeyId`].
const KEY_ID_LEN: usize = 8;

/// The server's master key. Never printed; zeroized on drop.
pub struct MasterKey(Zeroizing<[u8; MASTER_KEY_LEN]>);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// Parses a key written as 64 hex digits or as base64 (standard or url-safe, padded or not).
    ///
    /// # Errors
    /// [`Error::Config`] when the text is neither, or does not hold exactly 32 bytes. The
    /// message never repeats the text.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let mut key = Zeroizing::new([0u8; MASTER_KEY_LEN]);
        if text.len() == 2 * MASTER_KEY_LEN && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            for (i, pair) in text.as_bytes().chunks(2).enumerate() {
                let hi = hex_value(pair[0]);
                let lo = hex_value(pair[1]);
                key[i] = hi << 4 | lo;
            }
            return Ok(Self(key));
        }
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            if let Ok(bytes) = engine.decode(text) {
                let bytes = Zeroizing::new(bytes);
                if bytes.len() == MASTER_KEY_LEN {
                    key.copy_from_slice(&bytes);
                    return Ok(Self(key));
                }
            }
        }
        Err(Error::Config(
            "the master key must be 32 bytes written as 64 hex digits or as base64".into(),
        ))
    }

    /// Reads a key file holding the key as text (see [`MasterKey::parse`]).
    ///
    /// # Errors
    /// [`Error::Config`] when the file cannot be read or does not hold a valid key.
    pub fn from_file(path: &Path) -> Result<Self> {
        Self::parse(&crate::files::read_secret(path, "master key")?)
    }

    /// A fresh random key (for `softtoken-server gen-key` and tests).
    ///
    /// # Errors
    /// [`Error::Internal`] if the OS random generator fails.
    pub fn generate() -> Result<Self> {
        let mut key = Zeroizing::new([0u8; MASTER_KEY_LEN]);
        OsRng.try_fill_bytes(key.as_mut()).map_err(|_| Error::Internal("OS random generator"))?;
        Ok(Self(key))
    }

    /// A key of these bytes.
    pub fn from_bytes(bytes: [u8; MASTER_KEY_LEN]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The key's public name: the first 8 bytes of SHA-256 over a label and the key. It tells
    /// which key sealed a value and says nothing useful about the key itself.
    pub fn id(&self) -> KeyId {
        use sha2::Digest as _;
        let digest = sha2::Sha256::new()
            .chain_update(b"softtoken-server master key id v1")
            .chain_update(self.0.as_ref())
            .finalize();
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        KeyId(id)
    }

    /// A key of its own for `label`, derived from this one (HMAC-SHA256), so that one key
    /// file can serve a second purpose (the audit log's MAC chain) without the two uses ever
    /// sharing a key.
    pub fn derive(&self, label: &[u8]) -> Zeroizing<[u8; MASTER_KEY_LEN]> {
        use hmac::Mac as _;
        let mut out = Zeroizing::new([0u8; MASTER_KEY_LEN]);
        out.copy_from_slice(&hmac_sha256(&self.0).chain_update(label).finalize().into_bytes());
        out
    }

    /// The key as 64 lowercase hex digits, for writing a new key file.
    pub fn to_hex(&self) -> Zeroizing<String> {
        let mut s = Zeroizing::new(String::with_capacity(2 * MASTER_KEY_LEN));
        for b in self.0.iter() {
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        s
    }
}

/// HMAC-SHA256 under a 32-byte key. HMAC pads a key shorter than the hash's block with zeros,
/// so padding it here gives the same MAC through the constructor that cannot fail.
pub(crate) fn hmac_sha256(key: &[u8; MASTER_KEY_LEN]) -> hmac::Hmac<sha2::Sha256> {
    use hmac::digest::KeyInit as _;
    use zeroize::Zeroize as _;
    let mut block = hmac::digest::Key::<hmac::Hmac<sha2::Sha256>>::default();
    block[..MASTER_KEY_LEN].copy_from_slice(key);
    let mac = hmac::Hmac::<sha2::Sha256>::new(&block);
    block.as_mut_slice().zeroize();
    mac
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex_value(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

/// The public name of a master key, stored with every value sealed under it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId([u8; KEY_ID_LEN]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// The id of the key `sealed` names; `None` for a value of the first release (which names
/// none) or bytes that are no sealed value.
pub fn key_id_of(sealed: &[u8]) -> Option<KeyId> {
    let id = sealed.get(1..=KEY_ID_LEN).filter(|_| sealed.len() >= 1 + KEY_ID_LEN + NONCE_LEN)?;
    let mut out = [0u8; KEY_ID_LEN];
    out.copy_from_slice(id);
    (sealed[0] == FORMAT_V2).then_some(KeyId(out))
}

/// What a sealed value is; part of the associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A registration's activation password.
    ActivationPassword,
    /// A registration's TOTP seed.
    Seed,
    /// A provisioning attempt's server state (expected MACs and the candidate seed).
    Attempt,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::ActivationPassword => b"softtoken-server v1 activation password",
            Purpose::Seed => b"softtoken-server v1 seed",
            Purpose::Attempt => b"softtoken-server v1 attempt",
        }
    }
}

/// Encrypts and decrypts secrets bound to their rows: seals under the current key, opens
/// under the current or a previous one.
pub struct Sealer {
    current: (KeyId, Aes256Gcm),
    previous: Vec<(KeyId, Aes256Gcm)>,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer(<redacted>)")
    }
}

impl Sealer {
    /// A sealer under `key` alone.
    pub fn new(key: &MasterKey) -> Self {
        Self::with_previous(key, &[])
    }

    /// A sealer that seals under `current` and still opens what `previous` keys sealed (during
    /// a key rotation). A previous key equal to the current one is ignored.
    pub fn with_previous(current: &MasterKey, previous: &[MasterKey]) -> Self {
        let cipher = |k: &MasterKey| (k.id(), Aes256Gcm::new(k.0.as_ref().into()));
        let current = cipher(current);
        let previous = previous.iter().map(cipher).filter(|(id, _)| *id != current.0).collect();
        Self { current, previous }
    }

    /// The id of the key new values are sealed under.
    pub fn current_key(&self) -> KeyId {
        self.current.0
    }

    /// True when this sealer holds the key named `id`, as current or previous key.
    pub fn holds(&self, id: KeyId) -> bool {
        std::iter::once(&self.current).chain(&self.previous).any(|(k, _)| *k == id)
    }

    /// True when `sealed` was sealed under the current key (key rotation skips it).
    pub fn is_current(&self, sealed: &[u8]) -> bool {
        sealed.len() > 1 + KEY_ID_LEN
            && sealed[0] == FORMAT_V2
            && sealed[1..=KEY_ID_LEN] == self.current.0 .0
    }

    /// The associated data: purpose label, then each row field length-prefixed so that
    /// `("ab","c")` and `("a","bc")` differ.
    fn aad(purpose: Purpose, row: &[&str]) -> Vec<u8> {
        let mut aad = Vec::with_capacity(64);
        aad.extend_from_slice(purpose.label());
        for field in row {
            aad.extend_from_slice(&(field.len() as u64).to_be_bytes());
            aad.extend_from_slice(field.as_bytes());
        }
        aad
    }

    /// Encrypts `secret` for the row named by `row` (e.g. registration id, service ID, user ID)
    /// under the current key.
    ///
    /// # Errors
    /// [`Error::Internal`] if the OS random generator or the cipher fails.
    pub fn seal(&self, purpose: Purpose, row: &[&str], secret: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.try_fill_bytes(&mut nonce).map_err(|_| Error::Internal("OS random generator"))?;
        let aad = Self::aad(purpose, row);
        let (id, cipher) = &self.current;
        let ct = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: secret, aad: &aad })
            .map_err(|_| Error::Internal("sealing a secret"))?;
        let mut out = Vec::with_capacity(1 + KEY_ID_LEN + NONCE_LEN + ct.len());
        out.push(FORMAT_V2);
        out.extend_from_slice(&id.0);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Decrypts a value sealed for the same purpose and row, under the current or a previous
    /// key.
    ///
    /// # Errors
    /// [`Error::SealedDataInvalid`] when the value was sealed under a key this sealer does not
    /// have, for another row or purpose, or was altered.
    pub fn open(
        &self,
        purpose: Purpose,
        row: &[&str],
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let aad = Self::aad(purpose, row);
        let decrypt = |cipher: &Aes256Gcm, body: &[u8]| {
            let (nonce, ct) = body.split_at(NONCE_LEN);
            cipher.decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: &aad }).ok()
        };
        let keys = || std::iter::once(&self.current).chain(&self.previous);
        let opened = match sealed.first() {
            Some(&FORMAT_V2) if sealed.len() >= 1 + KEY_ID_LEN + NONCE_LEN => {
                let (id, body) = sealed[1..].split_at(KEY_ID_LEN);
                keys().find(|(k, _)| k.0 == id).and_then(|(_, cipher)| decrypt(cipher, body))
            }
            // The first release named no key: each one is tried.
            Some(&FORMAT_V1) if sealed.len() > NONCE_LEN => {
                keys().find_map(|(_, cipher)| decrypt(cipher, &sealed[1..]))
            }
            _ => None,
        };
        opened.map(Zeroizing::new).ok_or(Error::SealedDataInvalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer() -> Sealer {
        Sealer::new(&MasterKey::parse(&"ab".repeat(32)).unwrap())
    }

    #[test]
    fn sealed_secret_opens_only_for_its_own_row_and_purpose() {
        let s = sealer();
        let sealed = s.seal(Purpose::Seed, &["reg1", "10112231", "999800000001"], b"seed").unwrap();
        assert_eq!(
            s.open(Purpose::Seed, &["reg1", "10112231", "999800000001"], &sealed)
                .unwrap()
                .as_slice(),
            b"seed"
        );
        assert!(s.open(Purpose::Seed, &["reg2", "10112231", "999800000001"], &sealed).is_err());
        assert!(s.open(Purpose::Attempt, &["reg1", "10112231", "999800000001"], &sealed).is_err());
        assert!(s.open(Purpose::Seed, &["reg11", "0112231", "999800000001"], &sealed).is_err());
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(s.open(Purpose::Seed, &["reg1", "10112231", "999800000001"], &tampered).is_err());
        let other = Sealer::new(&MasterKey::generate().unwrap());
        assert!(other.open(Purpose::Seed, &["reg1", "10112231", "999800000001"], &sealed).is_err());
    }

    /// A value as the first release sealed it: no key id.
    fn seal_v1(key: &MasterKey, purpose: Purpose, row: &[&str], secret: &[u8]) -> Vec<u8> {
        let cipher = Aes256Gcm::new(key.0.as_ref().into());
        let nonce = [7u8; NONCE_LEN];
        let aad = Sealer::aad(purpose, row);
        let ct =
            cipher.encrypt(Nonce::from_slice(&nonce), Payload { msg: secret, aad: &aad }).unwrap();
        [&[FORMAT_V1][..], &nonce, &ct].concat()
    }

    #[test]
    fn during_a_rotation_old_values_open_new_ones_use_the_new_key_and_a_dropped_key_opens_nothing()
    {
        let (old, new) = (MasterKey::generate().unwrap(), MasterKey::generate().unwrap());
        let row = ["reg1", "10112231", "999800000001"];
        let before = Sealer::new(&old);
        let sealed_old = before.seal(Purpose::Seed, &row, b"seed").unwrap();
        let sealed_v1 = seal_v1(&old, Purpose::Seed, &row, b"first");
        assert!(before.is_current(&sealed_old) && !before.is_current(&sealed_v1));

        let rotating = Sealer::with_previous(&new, &[MasterKey::parse(&old.to_hex()).unwrap()]);
        assert_eq!(rotating.current_key(), new.id());
        assert_ne!(new.id(), old.id());
        assert!(!rotating.is_current(&sealed_old));
        assert_eq!(&*rotating.open(Purpose::Seed, &row, &sealed_old).unwrap(), b"seed");
        assert_eq!(&*rotating.open(Purpose::Seed, &row, &sealed_v1).unwrap(), b"first");
        let resealed = rotating.seal(Purpose::Seed, &row, b"seed").unwrap();
        assert!(rotating.is_current(&resealed));
        assert_eq!(key_id_of(&resealed), Some(new.id()));
        assert_eq!(key_id_of(&sealed_old), Some(old.id()));
        assert_eq!(key_id_of(&sealed_v1), None);
        assert!(rotating.holds(old.id()) && rotating.holds(new.id()) && !before.holds(new.id()));

        let after = Sealer::new(&new);
        assert_eq!(&*after.open(Purpose::Seed, &row, &resealed).unwrap(), b"seed");
        assert!(after.open(Purpose::Seed, &row, &sealed_old).is_err());
        assert!(after.open(Purpose::Seed, &row, &sealed_v1).is_err());
        // The key id is public; the key is not in it.
        assert!(!new.to_hex().contains(&new.id().to_string()));
    }

    #[test]
    fn master_key_reads_hex_and_base64_and_never_prints() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        let a = MasterKey::parse(hex).unwrap();
        assert_eq!(a.to_hex().as_str(), hex.to_lowercase());
        let b64 = STANDARD.encode(*a.0);
        let b = MasterKey::parse(&format!("{b64}\n")).unwrap();
        assert_eq!(*a.0, *b.0);
        assert_eq!(*MasterKey::parse(&URL_SAFE_NO_PAD.encode(*a.0)).unwrap().0, *a.0);
        assert!(MasterKey::parse("abcd").is_err());
        assert!(MasterKey::parse(&STANDARD.encode([0u8; 31])).is_err());
        let msg = MasterKey::parse(&"zz".repeat(32)).unwrap_err().to_string();
        assert!(!msg.contains("zz"), "{msg}");
        assert!(!format!("{a:?}").contains("0011"));
    }
}
