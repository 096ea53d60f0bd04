//! What both ends of the handshake compute alike: the SPAKE2 identities and the guard on the
//! peer's point, the transcript hash, the key schedule, the bank's confirmation MAC over the
//! token block, and the delivery ack. Each derivation is written once, so the two ends cannot
//! compute it differently.

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::ids::{AttemptId, ServiceId, UserId};
use crate::protocol::wire::{AckRequest, Bytes, TokenInfo, MAC_LEN, NONCE_LEN, PAKE_MSG_LEN};
use crate::totp::Seed;

/// First field of the transcript: names the protocol and its version.
pub const TRANSCRIPT_LABEL: &[u8] = b"softtoken-provision-v1";
/// HKDF info of the TOTP seed.
pub const SEED_INFO: &[u8] = b"softtoken v1 totp seed";
/// HKDF info of the app's confirmation key.
pub const CLIENT_CONFIRM_INFO: &[u8] = b"softtoken v1 client confirm";
/// HKDF info of the bank's confirmation key.
pub const SERVER_CONFIRM_INFO: &[u8] = b"softtoken v1 server confirm";
/// First field of the token block that `server_confirm` covers after th.
pub const TOKEN_LABEL: &[u8] = b"softtoken v1 token";
/// Prefix of the delivery ack's HMAC input.
pub const ACK_LABEL: &[u8] = b"softtoken v1 delivery ack";
/// Bytes in a derived seed (256 bits).
pub const SEED_LEN: usize = 32;
/// Random bytes a side draws for its SPAKE2 scalar (reduced modulo the group order).
pub const SCALAR_ENTROPY_LEN: usize = 64;

type HmacSha256 = Hmac<Sha256>;

/// SPAKE2 identity of the app (side A): `softtoken/app/<service_id>/<user_id>`.
pub fn identity_a(service: &ServiceId, user: &UserId) -> String {
    format!("softtoken/app/{service}/{user}")
}

/// SPAKE2 identity of the bank (side B): `softtoken/bank/<service_id>`.
pub fn identity_b(service: &ServiceId) -> String {
    format!("softtoken/bank/{service}")
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; MAC_LEN] {
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        // HMAC hashes long keys and pads short ones: no key length is refused.
        Err(_) => unreachable!("HMAC-SHA256 accepts keys of any length"),
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// The ack that tells the bank this app stored the seed of `attempt`:
/// HMAC-SHA256(key = seed, "softtoken v1 delivery ack" || attempt_id bytes).
///
/// Depends only on what a stored token keeps (its seed and `pending_delivery`), so a pending
/// token can re-ack after a restart.
pub fn ack_for(seed: &Seed, attempt: &AttemptId) -> AckRequest {
    AckRequest {
        attempt_id: attempt.clone(),
        ack: Bytes(hmac_sha256(seed.expose(), &[ACK_LABEL, attempt.as_bytes()])),
    }
}

/// The public inputs of the transcript hash, in order.
pub(in crate::protocol) struct Transcript<'a> {
    pub(in crate::protocol) service: &'a ServiceId,
    pub(in crate::protocol) user: &'a UserId,
    pub(in crate::protocol) client_nonce: &'a [u8; NONCE_LEN],
    pub(in crate::protocol) pake_a: &'a [u8; PAKE_MSG_LEN],
    pub(in crate::protocol) attempt: &'a AttemptId,
    pub(in crate::protocol) server_nonce: &'a [u8; NONCE_LEN],
    pub(in crate::protocol) pake_b: &'a [u8; PAKE_MSG_LEN],
}

impl Transcript<'_> {
    /// th = SHA-256 over each field as a 4-byte big-endian length followed by the bytes.
    pub(in crate::protocol) fn hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        for field in [
            TRANSCRIPT_LABEL,
            self.service.as_str().as_bytes(),
            self.user.as_str().as_bytes(),
            self.client_nonce,
            self.pake_a,
            self.attempt.as_bytes(),
            self.server_nonce,
            self.pake_b,
        ] {
            // Every field is at most 33 bytes, so the length always fits.
            h.update((field.len() as u32).to_be_bytes());
            h.update(field);
        }
        h.finalize().into()
    }
}

/// server_confirm = HMAC(ks, th || tp), where tp lists the token parameters, the names and the
/// bank's clock as length-prefixed fields (as th does): a man in the middle who cannot forge
/// the MAC cannot change the period, digits, algorithm or `server_time` the app stores.
pub(super) fn server_confirm_mac(
    ks: &[u8],
    th: &[u8; 32],
    token: &TokenInfo,
    server_time: u64,
) -> [u8; MAC_LEN] {
    let digits = token.digits.to_be_bytes();
    let period = token.period.to_be_bytes();
    let time = server_time.to_be_bytes();
    let fields: [&[u8]; 7] = [
        TOKEN_LABEL,
        token.algorithm.as_str().as_bytes(),
        &digits,
        &period,
        token.issuer.as_bytes(),
        token.display_name.as_bytes(),
        &time,
    ];
    let mut parts: Vec<&[u8]> = vec![th];
    let lens: Vec<[u8; 4]> =
        fields.iter().map(|f| u32::try_from(f.len()).unwrap_or(u32::MAX).to_be_bytes()).collect();
    for (len, field) in lens.iter().zip(fields) {
        parts.push(len);
        parts.push(field);
    }
    hmac_sha256(ks, &parts)
}

/// What both sides derive from K and th. The bank's confirmation is made only when the token
/// parameters are known, so its key is kept instead.
pub(super) struct Keys {
    pub(super) seed: Zeroizing<[u8; SEED_LEN]>,
    pub(super) client_confirm: Zeroizing<[u8; MAC_LEN]>,
    pub(super) ks: Zeroizing<[u8; MAC_LEN]>,
    pub(super) th: [u8; 32],
}

/// prk = HKDF-Extract(salt = th, ikm = K); seed, kc, ks = HKDF-Expand(prk, info, 32);
/// client_confirm = HMAC(kc, th).
pub(super) fn derive_keys(k: &[u8], th: &[u8; 32]) -> Result<Keys> {
    let hk = Hkdf::<Sha256>::new(Some(th), k);
    let mut seed = Zeroizing::new([0u8; SEED_LEN]);
    let mut kc = Zeroizing::new([0u8; 32]);
    let mut ks = Zeroizing::new([0u8; 32]);
    hk.expand(SEED_INFO, seed.as_mut_slice()).map_err(|_| Error::Crypto)?;
    hk.expand(CLIENT_CONFIRM_INFO, kc.as_mut_slice()).map_err(|_| Error::Crypto)?;
    hk.expand(SERVER_CONFIRM_INFO, ks.as_mut_slice()).map_err(|_| Error::Crypto)?;
    Ok(Keys {
        seed,
        client_confirm: Zeroizing::new(hmac_sha256(kc.as_slice(), &[th])),
        ks,
        th: *th,
    })
}

/// Hands spake2 exactly the 64 bytes drawn for its scalar, so the same code path serves the OS
/// generator and the test vectors (spake2 0.4 draws a scalar as 64 bytes reduced mod ℓ).
pub(super) struct ScalarEntropy {
    bytes: Zeroizing<[u8; SCALAR_ENTROPY_LEN]>,
    used: usize,
    overrun: bool,
}

impl ScalarEntropy {
    pub(super) fn draw(rng: &mut (impl RngCore + CryptoRng)) -> Result<Self> {
        let mut bytes = Zeroizing::new([0u8; SCALAR_ENTROPY_LEN]);
        rng.try_fill_bytes(bytes.as_mut_slice()).map_err(|_| Error::Crypto)?;
        Ok(Self { bytes, used: 0, overrun: false })
    }

    /// Fails unless spake2 consumed exactly the drawn bytes: anything else would mean a scalar
    /// not fully random, or vectors that no longer describe the code.
    pub(super) fn check_consumed(&self) -> Result<()> {
        if self.overrun || self.used != SCALAR_ENTROPY_LEN {
            return Err(Error::Crypto);
        }
        Ok(())
    }
}

impl RngCore for ScalarEntropy {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }
    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for b in dest {
            if let Some(&v) = self.bytes.get(self.used) {
                *b = v;
                self.used += 1;
            } else {
                *b = 0;
                self.overrun = true;
            }
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

// The bytes come from the caller's CryptoRng (the OS generator outside tests).
impl CryptoRng for ScalarEntropy {}

pub(super) fn draw_nonce(rng: &mut (impl RngCore + CryptoRng)) -> Result<[u8; NONCE_LEN]> {
    let mut n = [0u8; NONCE_LEN];
    rng.try_fill_bytes(&mut n).map_err(|_| Error::Crypto)?;
    Ok(n)
}

pub(super) fn pake_msg(v: Vec<u8>) -> Result<[u8; PAKE_MSG_LEN]> {
    v.try_into().map_err(|_| Error::Crypto)
}

/// Refuses the peer's SPAKE2 point unless it lies in the prime-order subgroup and is not the
/// identity (`ℓ·P = O`, `P ≠ O`). spake2 0.4 checks only that the bytes decode to a point; a
/// point of small order, or one with a torsion component, would let the peer learn bits of the
/// shared element beyond the protocol's and confine it to a few values.
pub(crate) fn check_peer_point(msg: &[u8; PAKE_MSG_LEN], whose: &'static str) -> Result<()> {
    use curve25519_dalek::edwards::CompressedEdwardsY;
    use curve25519_dalek::traits::IsIdentity as _;
    let point = CompressedEdwardsY::from_slice(&msg[1..])
        .ok()
        .and_then(|c| c.decompress())
        .ok_or(Error::ProtocolViolation(whose))?;
    if point.is_identity() || !point.is_torsion_free() {
        return Err(Error::ProtocolViolation(whose));
    }
    Ok(())
}
