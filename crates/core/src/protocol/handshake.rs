//! Both ends of the provisioning handshake: SPAKE2, the transcript hash, the key schedule, key
//! confirmation and the delivery ack. No I/O here: the client and the server move the bytes.
//!
//! Longer than our ~600-line mark only by its inline tests (the last third): they drive both ends
//! through private steps of the key schedule, which a separate test file could not reach, and
//! the two ends stay in one file so a reader checks each derivation against its counterpart.

use std::fmt;

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand_core::{CryptoRng, OsRng, RngCore};
use sha2::{Digest, Sha256};
use spake2::{Ed25519Group, Identity, Password, Spake2};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::wire::{
    AckRequest, AttemptId, Bytes, ConfirmRequest, ConfirmResponse, StartRequest, StartResponse,
    TokenInfo, ATTEMPT_ID_LEN, MAC_LEN, NONCE_LEN, PAKE_MSG_LEN,
};
use crate::error::{Error, Result};
use crate::ids::{ActivationPassword, DisplayName, ServiceId, UserId};
use crate::token::NewToken;
use crate::totp::{ClockOffset, Seed};

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
/// Longest issuer name accepted from the bank, in characters.
pub const MAX_ISSUER_CHARS: usize = 64;
/// Seconds a started attempt waits for its confirm, unless the server sets another value.
pub const DEFAULT_ATTEMPT_LIFETIME_SECS: u64 = 300;

/// Version byte of [`ServerAttempt::to_bytes`]. Version 1 held the finished `server_confirm`
/// instead of its key, from which the token block cannot be bound: such an attempt is refused
/// (it lived at most minutes; the customer starts again).
const ATTEMPT_FORMAT_V2: u8 = 2;
const ATTEMPT_FORMAT_V1: u8 = 1;
const ATTEMPT_BYTES_V1: usize = 1 + ATTEMPT_ID_LEN + MAC_LEN + MAC_LEN + SEED_LEN;
const ATTEMPT_BYTES_V2: usize = 1 + ATTEMPT_ID_LEN + MAC_LEN + MAC_LEN + 32 + SEED_LEN;

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
pub(super) struct Transcript<'a> {
    pub(super) service: &'a ServiceId,
    pub(super) user: &'a UserId,
    pub(super) client_nonce: &'a [u8; NONCE_LEN],
    pub(super) pake_a: &'a [u8; PAKE_MSG_LEN],
    pub(super) attempt: &'a AttemptId,
    pub(super) server_nonce: &'a [u8; NONCE_LEN],
    pub(super) pake_b: &'a [u8; PAKE_MSG_LEN],
}

impl Transcript<'_> {
    /// th = SHA-256 over each field as a 4-byte big-endian length followed by the bytes.
    pub(super) fn hash(&self) -> [u8; 32] {
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
fn server_confirm_mac(
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
struct Keys {
    seed: Zeroizing<[u8; SEED_LEN]>,
    client_confirm: Zeroizing<[u8; MAC_LEN]>,
    ks: Zeroizing<[u8; MAC_LEN]>,
    th: [u8; 32],
}

/// prk = HKDF-Extract(salt = th, ikm = K); seed, kc, ks = HKDF-Expand(prk, info, 32);
/// client_confirm = HMAC(kc, th).
fn derive_keys(k: &[u8], th: &[u8; 32]) -> Result<Keys> {
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
struct ScalarEntropy {
    bytes: Zeroizing<[u8; SCALAR_ENTROPY_LEN]>,
    used: usize,
    overrun: bool,
}

impl ScalarEntropy {
    fn draw(rng: &mut (impl RngCore + CryptoRng)) -> Result<Self> {
        let mut bytes = Zeroizing::new([0u8; SCALAR_ENTROPY_LEN]);
        rng.try_fill_bytes(bytes.as_mut_slice()).map_err(|_| Error::Crypto)?;
        Ok(Self { bytes, used: 0, overrun: false })
    }

    /// Fails unless spake2 consumed exactly the drawn bytes: anything else would mean a scalar
    /// not fully random, or vectors that no longer describe the code.
    fn check_consumed(&self) -> Result<()> {
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

fn draw_nonce(rng: &mut (impl RngCore + CryptoRng)) -> Result<[u8; NONCE_LEN]> {
    let mut n = [0u8; NONCE_LEN];
    rng.try_fill_bytes(&mut n).map_err(|_| Error::Crypto)?;
    Ok(n)
}

fn pake_msg(v: Vec<u8>) -> Result<[u8; PAKE_MSG_LEN]> {
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

/// The app's side of the handshake between start and confirm.
///
/// Holds the SPAKE2 state. spake2 0.4 keeps its own copy of the password and scalar, which it
/// does not wipe on drop; this value lives only for the few seconds of one round trip.
pub struct ClientHandshake {
    spake: Spake2<Ed25519Group>,
    service: ServiceId,
    user: UserId,
    client_nonce: [u8; NONCE_LEN],
    pake_a: [u8; PAKE_MSG_LEN],
}

impl fmt::Debug for ClientHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientHandshake")
            .field("service", &self.service)
            .field("user", &self.user)
            .field("secrets", &"<redacted>")
            .finish()
    }
}

impl ClientHandshake {
    /// Starts provisioning: a fresh nonce and SPAKE2 message A for `POST /v1/provision/start`.
    ///
    /// # Errors
    /// [`Error::Crypto`] if the OS random generator fails.
    pub fn start(
        service: &ServiceId,
        user: &UserId,
        pw: &ActivationPassword,
    ) -> Result<(Self, StartRequest)> {
        Self::start_with_rng(service, user, pw, &mut OsRng)
    }

    /// [`ClientHandshake::start`] drawing from `rng`: first the 32-byte client nonce, then the
    /// 64 bytes of the SPAKE2 scalar. Only test vectors pass anything but the OS generator.
    ///
    /// # Errors
    /// [`Error::Crypto`] if `rng` fails.
    pub fn start_with_rng(
        service: &ServiceId,
        user: &UserId,
        pw: &ActivationPassword,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<(Self, StartRequest)> {
        let client_nonce = draw_nonce(rng)?;
        let mut entropy = ScalarEntropy::draw(rng)?;
        let id_a = identity_a(service, user);
        let id_b = identity_b(service);
        let (spake, msg) = Spake2::<Ed25519Group>::start_a_with_rng(
            &Password::new(pw.expose()),
            &Identity::new(id_a.as_bytes()),
            &Identity::new(id_b.as_bytes()),
            &mut entropy,
        );
        entropy.check_consumed()?;
        let pake_a = pake_msg(msg)?;
        let req = StartRequest {
            service_id: service.clone(),
            user_id: user.clone(),
            client_nonce: Bytes(client_nonce),
            pake: Bytes(pake_a),
        };
        Ok((
            Self { spake, service: service.clone(), user: user.clone(), client_nonce, pake_a },
            req,
        ))
    }

    /// Finishes SPAKE2 with the bank's answer and makes the key confirmation for
    /// `POST /v1/provision/confirm`. The app proves first: the bank reveals its own proof only to
    /// an app that knows the password.
    ///
    /// # Errors
    /// [`Error::ProtocolViolation`] if the bank's SPAKE2 message is not a side-B message with a
    /// valid point; [`Error::Crypto`] if key derivation fails.
    pub fn confirm(self, resp: &StartResponse) -> Result<(ClientConfirmed, ConfirmRequest)> {
        check_peer_point(&resp.pake.0, "the bank's SPAKE2 message is not a valid point")?;
        let k = Zeroizing::new(
            self.spake
                .finish(&resp.pake.0)
                .map_err(|_| Error::ProtocolViolation("the bank's SPAKE2 message is not valid"))?,
        );
        let th = Transcript {
            service: &self.service,
            user: &self.user,
            client_nonce: &self.client_nonce,
            pake_a: &self.pake_a,
            attempt: &resp.attempt_id,
            server_nonce: &resp.server_nonce.0,
            pake_b: &resp.pake.0,
        }
        .hash();
        let keys = derive_keys(&k, &th)?;
        let confirmed = ClientConfirmed {
            service: self.service,
            user: self.user,
            attempt_id: resp.attempt_id.clone(),
            keys,
        };
        let req = confirmed.request();
        Ok((confirmed, req))
    }
}

/// The app's side after it sent its key confirmation: waits for the bank's.
pub struct ClientConfirmed {
    service: ServiceId,
    user: UserId,
    attempt_id: AttemptId,
    keys: Keys,
}

impl fmt::Debug for ClientConfirmed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfirmed")
            .field("service", &self.service)
            .field("user", &self.user)
            .field("attempt_id", &self.attempt_id)
            .field("secrets", &"<redacted>")
            .finish()
    }
}

impl ClientConfirmed {
    /// The confirm request again, byte for byte, for resending after a lost answer (the bank
    /// answers a repeated correct confirm as it did the first).
    pub fn request(&self) -> ConfirmRequest {
        ConfirmRequest {
            attempt_id: self.attempt_id.clone(),
            client_confirm: Bytes(*self.keys.client_confirm),
        }
    }

    /// The attempt this confirmation belongs to.
    pub fn attempt_id(&self) -> &AttemptId {
        &self.attempt_id
    }

    /// The service ID of the registration.
    pub fn service_id(&self) -> &ServiceId {
        &self.service
    }

    /// The user ID of the registration.
    pub fn user_id(&self) -> &UserId {
        &self.user
    }

    /// Checks the bank's key confirmation and the token parameters, and returns what the vault
    /// stores (pending delivery of this attempt) with the ack to send after storing it.
    /// `device_now` is the device clock when the answer arrived; the difference to
    /// `server_time` becomes the token's clock offset.
    ///
    /// # Errors
    /// [`Error::BankNotAuthenticated`] if `server_confirm` is wrong (store nothing);
    /// [`Error::TotpParameters`] or [`Error::ProtocolViolation`] if the bank sent parameters,
    /// an issuer or a display name this app cannot use; [`Error::DeviceClockWrong`] if the
    /// device's clock is more than a day from the bank's.
    pub fn finish(self, resp: &ConfirmResponse, device_now: u64) -> Result<(NewToken, AckRequest)> {
        let service_id = self.service.clone();
        let user_id = self.user.clone();
        let (seed, attempt) = self.verify_bank(resp)?;
        let params = resp.token.params().validate()?;
        let issuer = resp.token.issuer.trim();
        if issuer.is_empty()
            || issuer.chars().count() > MAX_ISSUER_CHARS
            || issuer.chars().any(char::is_control)
        {
            return Err(Error::ProtocolViolation("the bank's issuer name is empty or too long"));
        }
        let display_name = DisplayName::new(&resp.token.display_name, "").map_err(|_| {
            Error::ProtocolViolation("the bank's default display name is empty or too long")
        })?;
        let offset = ClockOffset::bounded_between(device_now, resp.server_time)?;
        let ack = ack_for(&seed, &attempt);
        let token = NewToken {
            service_id,
            user_id,
            display_name,
            issuer: issuer.to_owned(),
            params,
            offset,
            seed,
            pending_delivery: Some(attempt),
        };
        Ok((token, ack))
    }

    /// Checks the bank's key confirmation, which covers the token block and `server_time`, in
    /// constant time and, if it holds, hands out the seed
    /// with the attempt ID for the ack. [`ClientConfirmed::finish`] does this and more.
    ///
    /// # Errors
    /// [`Error::BankNotAuthenticated`] if `server_confirm` is wrong: the peer does not hold
    /// the activation password. Nothing may be stored then.
    pub fn verify_bank(self, resp: &ConfirmResponse) -> Result<(Seed, AttemptId)> {
        let expected =
            server_confirm_mac(&*self.keys.ks, &self.keys.th, &resp.token, resp.server_time);
        let ok: bool = resp.server_confirm.0.ct_eq(&expected).into();
        if !ok {
            return Err(Error::BankNotAuthenticated);
        }
        let seed = Seed::new(Zeroizing::new(self.keys.seed.to_vec()))?;
        Ok((seed, self.attempt_id))
    }
}

/// What the fuzz targets need of the app's side after confirm without running SPAKE2 per input:
/// a [`ClientConfirmed`] whose keys come from a fixed K, and the `server_confirm` a bank holding
/// the same keys would send, so a target reaches the checks behind the MAC.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzzing_confirmed(
    service: &ServiceId,
    user: &UserId,
    attempt: &AttemptId,
) -> Result<(ClientConfirmed, impl Fn(&TokenInfo, u64) -> [u8; MAC_LEN])> {
    let th = Transcript {
        service,
        user,
        client_nonce: &[1; NONCE_LEN],
        pake_a: &[0x41; PAKE_MSG_LEN],
        attempt,
        server_nonce: &[2; NONCE_LEN],
        pake_b: &[0x42; PAKE_MSG_LEN],
    }
    .hash();
    let keys = derive_keys(&[7; 32], &th)?;
    let (ks, th) = (keys.ks.clone(), keys.th);
    let confirmed = ClientConfirmed {
        service: service.clone(),
        user: user.clone(),
        attempt_id: attempt.clone(),
        keys,
    };
    Ok((confirmed, move |token: &TokenInfo, time: u64| server_confirm_mac(&*ks, &th, token, time)))
}

/// The bank's side of the handshake. SPAKE2 side B finishes as soon as the app's message
/// arrives, so everything the later steps need fits in a [`ServerAttempt`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerHandshake;

impl ServerHandshake {
    /// Answers `POST /v1/provision/start` for a registration whose activation password is `pw`.
    /// The answer's `attempt_expires_in` is [`DEFAULT_ATTEMPT_LIFETIME_SECS`]; a server with
    /// another limit overwrites the field.
    ///
    /// # Errors
    /// [`Error::ProtocolViolation`] (answer 400 `invalid_request`) if the app's SPAKE2 message is
    /// not a side-A message with a valid point; [`Error::Crypto`] if the OS generator fails.
    pub fn respond(
        req: &StartRequest,
        pw: &ActivationPassword,
        attempt_id: AttemptId,
    ) -> Result<(ServerAttempt, StartResponse)> {
        Self::respond_with_rng(req, pw, attempt_id, &mut OsRng)
    }

    /// [`ServerHandshake::respond`] drawing from `rng`: first the 32-byte server nonce, then the
    /// 64 bytes of the SPAKE2 scalar.
    ///
    /// # Errors
    /// As [`ServerHandshake::respond`].
    pub fn respond_with_rng(
        req: &StartRequest,
        pw: &ActivationPassword,
        attempt_id: AttemptId,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<(ServerAttempt, StartResponse)> {
        check_peer_point(&req.pake.0, "the app's SPAKE2 message is not a valid point")?;
        let server_nonce = draw_nonce(rng)?;
        let mut entropy = ScalarEntropy::draw(rng)?;
        let id_a = identity_a(&req.service_id, &req.user_id);
        let id_b = identity_b(&req.service_id);
        let (spake, msg) = Spake2::<Ed25519Group>::start_b_with_rng(
            &Password::new(pw.expose()),
            &Identity::new(id_a.as_bytes()),
            &Identity::new(id_b.as_bytes()),
            &mut entropy,
        );
        entropy.check_consumed()?;
        let pake_b = pake_msg(msg)?;
        let k = Zeroizing::new(
            spake
                .finish(&req.pake.0)
                .map_err(|_| Error::ProtocolViolation("the app's SPAKE2 message is not valid"))?,
        );
        let th = Transcript {
            service: &req.service_id,
            user: &req.user_id,
            client_nonce: &req.client_nonce.0,
            pake_a: &req.pake.0,
            attempt: &attempt_id,
            server_nonce: &server_nonce,
            pake_b: &pake_b,
        }
        .hash();
        let keys = derive_keys(&k, &th)?;
        let attempt = ServerAttempt {
            attempt_id: attempt_id.clone(),
            client_confirm: keys.client_confirm,
            ks: keys.ks,
            th: keys.th,
            seed: Seed::new(Zeroizing::new(keys.seed.to_vec()))?,
        };
        let resp = StartResponse {
            attempt_id,
            server_nonce: Bytes(server_nonce),
            pake: Bytes(pake_b),
            attempt_expires_in: DEFAULT_ATTEMPT_LIFETIME_SECS,
        };
        Ok((attempt, resp))
    }
}

/// What the bank keeps of one attempt: the expected client confirmation, the key and transcript
/// hash of its own confirmation, and the seed. Serialize with [`ServerAttempt::to_bytes`] and
/// encrypt before storing.
pub struct ServerAttempt {
    attempt_id: AttemptId,
    client_confirm: Zeroizing<[u8; MAC_LEN]>,
    ks: Zeroizing<[u8; MAC_LEN]>,
    th: [u8; 32],
    seed: Seed,
}

impl fmt::Debug for ServerAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerAttempt")
            .field("attempt_id", &self.attempt_id)
            .field("secrets", &"<redacted>")
            .finish()
    }
}

impl ServerAttempt {
    /// The attempt's ID.
    pub fn attempt_id(&self) -> &AttemptId {
        &self.attempt_id
    }

    /// True if the app's key confirmation is right for this attempt (constant time). False means
    /// a wrong activation password (or a tampered request): count a failed try.
    pub fn check_client_confirm(&self, c: &ConfirmRequest) -> bool {
        let same_attempt = c.attempt_id == self.attempt_id;
        let mac_ok: bool = c.client_confirm.0.ct_eq(&*self.client_confirm).into();
        same_attempt & mac_ok
    }

    /// The bank's key confirmation over the token block and its clock, sent only after
    /// [`ServerAttempt::check_client_confirm`].
    pub fn server_confirm(&self, token: &TokenInfo, server_time: u64) -> [u8; MAC_LEN] {
        server_confirm_mac(&*self.ks, &self.th, token, server_time)
    }

    /// The `200` answer to a correct confirm.
    pub fn confirm_response(&self, token: TokenInfo, server_time: u64) -> ConfirmResponse {
        ConfirmResponse {
            server_confirm: Bytes(self.server_confirm(&token, server_time)),
            token,
            server_time,
        }
    }

    /// The token seed the app derived too.
    pub fn seed(&self) -> &Seed {
        &self.seed
    }

    /// True if `a` proves the app stored this attempt's seed (constant time).
    pub fn check_ack(&self, a: &AckRequest) -> bool {
        let expected = ack_for(&self.seed, &self.attempt_id);
        let same_attempt = a.attempt_id == self.attempt_id;
        let mac_ok: bool = a.ack.0.ct_eq(&expected.ack.0).into();
        same_attempt & mac_ok
    }

    /// Serializes for encrypted storage: version 2 is `0x02 || attempt_id (16) ||
    /// client_confirm (32) || ks (32) || th (32) || seed (32)`.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(ATTEMPT_BYTES_V2));
        out.push(ATTEMPT_FORMAT_V2);
        out.extend_from_slice(self.attempt_id.as_bytes());
        out.extend_from_slice(&*self.client_confirm);
        out.extend_from_slice(&*self.ks);
        out.extend_from_slice(&self.th);
        out.extend_from_slice(self.seed.expose());
        out
    }

    /// True if `b` is an attempt stored by a bank from before `server_confirm` covered the
    /// token block (format 1). Such an attempt cannot be answered any more: the bank asks the
    /// customer to start again rather than report a damaged store.
    pub fn was_stored_before_the_token_block(b: &[u8]) -> bool {
        b.first() == Some(&ATTEMPT_FORMAT_V1) && b.len() == ATTEMPT_BYTES_V1
    }

    /// Restores what [`ServerAttempt::to_bytes`] wrote.
    ///
    /// # Errors
    /// [`Error::Crypto`] for an unknown version or a wrong length (opaque on purpose: the bytes
    /// came out of the server's encrypted store).
    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        if b.len() != ATTEMPT_BYTES_V2 || b.first() != Some(&ATTEMPT_FORMAT_V2) {
            return Err(Error::Crypto);
        }
        let (id, rest) = b[1..].split_at(ATTEMPT_ID_LEN);
        let (cc, rest) = rest.split_at(MAC_LEN);
        let (key, rest) = rest.split_at(MAC_LEN);
        let (th_bytes, seed) = rest.split_at(32);
        let mut client_confirm = Zeroizing::new([0u8; MAC_LEN]);
        client_confirm.copy_from_slice(cc);
        let mut ks = Zeroizing::new([0u8; MAC_LEN]);
        ks.copy_from_slice(key);
        let mut th = [0u8; 32];
        th.copy_from_slice(th_bytes);
        let mut id_bytes = [0u8; ATTEMPT_ID_LEN];
        id_bytes.copy_from_slice(id);
        Ok(Self {
            attempt_id: AttemptId::from_bytes(id_bytes),
            client_confirm,
            ks,
            th,
            seed: Seed::new(Zeroizing::new(seed.to_vec()))?,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn ids() -> (ServiceId, UserId) {
        (ServiceId::new("10112231").unwrap(), UserId::new("999800000001").unwrap())
    }

    fn pw(s: &str) -> ActivationPassword {
        ActivationPassword::new(s).unwrap()
    }

    /// One full exchange; returns the app's confirmed state, the bank's attempt and the
    /// messages.
    fn exchange(
        app_pw: &str,
        bank_pw: &str,
    ) -> (ClientConfirmed, ConfirmRequest, ServerAttempt, StartResponse) {
        let (service, user) = ids();
        let (client, start) = ClientHandshake::start(&service, &user, &pw(app_pw)).unwrap();
        let (attempt, resp) =
            ServerHandshake::respond(&start, &pw(bank_pw), AttemptId::random().unwrap()).unwrap();
        let (confirmed, confirm) = client.confirm(&resp).unwrap();
        (confirmed, confirm, attempt, resp)
    }

    fn token_info() -> TokenInfo {
        TokenInfo {
            algorithm: crate::totp::Algorithm::Sha1,
            digits: 6,
            period: 60,
            issuer: "Bank".into(),
            display_name: "Bank OTP".into(),
        }
    }

    #[test]
    fn app_and_bank_with_the_same_password_derive_the_same_seed() {
        let (confirmed, confirm, attempt, _) = exchange("4321", "4321");
        assert!(attempt.check_client_confirm(&confirm));
        let resp = attempt.confirm_response(token_info(), 1_700_000_000);
        let (seed, attempt_id) = confirmed.verify_bank(&resp).unwrap();
        assert_eq!(&seed, attempt.seed());
        assert_eq!(seed.expose().len(), SEED_LEN);
        assert_eq!(&attempt_id, attempt.attempt_id());
        assert!(attempt.check_ack(&ack_for(&seed, &attempt_id)));
    }

    #[test]
    fn wrong_activation_password_fails_the_banks_check_and_never_yields_a_seed() {
        let (confirmed, confirm, attempt, _) = exchange("4321", "4322");
        assert!(!attempt.check_client_confirm(&confirm));
        // Even if a bank answered anyway, the app would refuse its confirmation.
        let resp = attempt.confirm_response(token_info(), 0);
        assert!(matches!(confirmed.verify_bank(&resp), Err(Error::BankNotAuthenticated)));
    }

    #[test]
    fn app_refuses_a_server_whose_confirmation_is_wrong() {
        let (confirmed, _, attempt, _) = exchange("4321", "4321");
        let mut resp = attempt.confirm_response(token_info(), 0);
        resp.server_confirm.0[31] ^= 1;
        assert!(matches!(confirmed.verify_bank(&resp), Err(Error::BankNotAuthenticated)));
    }

    #[test]
    fn app_refuses_a_confirm_answer_whose_token_or_clock_was_changed_on_the_way() {
        type Tamper = fn(&mut ConfirmResponse);
        let tampers: [(&str, Tamper); 7] = [
            ("period", |r| r.token.period = 30),
            ("digits", |r| r.token.digits = 8),
            ("algorithm", |r| r.token.algorithm = crate::totp::Algorithm::Sha256),
            ("server_time", |r| r.server_time += 86_400),
            ("server_time by one second", |r| r.server_time -= 1),
            ("issuer", |r| r.token.issuer = "Other Bank".into()),
            ("display_name", |r| r.token.display_name = "Other OTP".into()),
        ];
        for (what, tamper) in tampers {
            let (confirmed, confirm, attempt, _) = exchange("4321", "4321");
            assert!(attempt.check_client_confirm(&confirm));
            let mut resp = attempt.confirm_response(token_info(), 1_700_000_000);
            tamper(&mut resp);
            let r = confirmed.finish(&resp, 1_700_000_000);
            assert!(matches!(r, Err(Error::BankNotAuthenticated)), "{what}: {r:?}");
        }
        // Untouched, the same answer is accepted.
        let (confirmed, _, attempt, _) = exchange("4321", "4321");
        let resp = attempt.confirm_response(token_info(), 1_700_000_000);
        assert!(confirmed.finish(&resp, 1_700_000_000).is_ok());
    }

    #[test]
    fn every_tampered_start_field_breaks_the_confirmation() {
        let (service, user) = ids();
        let other_user = UserId::new("999800000002").unwrap();
        let attempt_id = AttemptId::from_bytes([7; 16]);
        type Tamper = fn(&mut StartRequest, &UserId);
        let tampers: [(&str, Tamper); 3] = [
            ("user id", |r, u| r.user_id = u.clone()),
            ("client nonce", |r, _| r.client_nonce.0[0] ^= 1),
            ("pake", |r, _| {
                // Another valid side-A message, from another run.
                let (service, user) = ids();
                let (_, other) = ClientHandshake::start(&service, &user, &pw("4321")).unwrap();
                r.pake = other.pake;
            }),
        ];
        for (what, tamper) in tampers {
            let (client, mut start) = ClientHandshake::start(&service, &user, &pw("4321")).unwrap();
            tamper(&mut start, &other_user);
            let (attempt, resp) =
                ServerHandshake::respond(&start, &pw("4321"), attempt_id.clone()).unwrap();
            let (_, confirm) = client.confirm(&resp).unwrap();
            assert!(!attempt.check_client_confirm(&confirm), "{what}");
        }
        // Tampering with the bank's answer.
        type TamperResp = fn(&mut StartResponse);
        let tampers: [(&str, TamperResp); 2] = [
            ("server nonce", |r| r.server_nonce.0[5] ^= 0x80),
            ("attempt id", |r| r.attempt_id = AttemptId::from_bytes([8; 16])),
        ];
        for (what, tamper) in tampers {
            let (client, start) = ClientHandshake::start(&service, &user, &pw("4321")).unwrap();
            let (attempt, mut resp) =
                ServerHandshake::respond(&start, &pw("4321"), attempt_id.clone()).unwrap();
            tamper(&mut resp);
            let (_, mut confirm) = client.confirm(&resp).unwrap();
            confirm.attempt_id = attempt_id.clone();
            assert!(!attempt.check_client_confirm(&confirm), "{what}");
        }
    }

    #[test]
    fn invalid_spake2_messages_are_protocol_violations() {
        let (service, user) = ids();
        let (_, good) = ClientHandshake::start(&service, &user, &pw("4321")).unwrap();
        // Wrong side byte: a side-B message sent as the app's.
        let mut wrong_side = good.clone();
        wrong_side.pake.0[0] = 0x42;
        // Not a point: y = 2 has no x on Edwards25519.
        let mut not_a_point = good.clone();
        not_a_point.pake.0[1..].copy_from_slice(&{
            let mut y = [0u8; 32];
            y[0] = 2;
            y
        });
        for bad in [wrong_side, not_a_point] {
            let r = ServerHandshake::respond(&bad, &pw("4321"), AttemptId::from_bytes([1; 16]));
            assert!(matches!(r, Err(Error::ProtocolViolation(_))), "{r:?}");
        }
        let (client, start) = ClientHandshake::start(&service, &user, &pw("4321")).unwrap();
        let (_, mut resp) =
            ServerHandshake::respond(&start, &pw("4321"), AttemptId::from_bytes([1; 16])).unwrap();
        resp.pake.0[0] = 0x41;
        assert!(matches!(client.confirm(&resp), Err(Error::ProtocolViolation(_))));
    }

    #[test]
    fn a_confirm_or_ack_for_another_attempt_is_refused() {
        let (confirmed, confirm, attempt, _) = exchange("4321", "4321");
        let mut moved = confirm.clone();
        moved.attempt_id = AttemptId::from_bytes([9; 16]);
        assert!(!attempt.check_client_confirm(&moved));
        let (seed, id) = confirmed.verify_bank(&attempt.confirm_response(token_info(), 0)).unwrap();
        let mut ack = ack_for(&seed, &id);
        ack.attempt_id = AttemptId::from_bytes([9; 16]);
        assert!(!attempt.check_ack(&ack));
        let mut ack = ack_for(&seed, &id);
        ack.ack.0[0] ^= 1;
        assert!(!attempt.check_ack(&ack));
    }

    #[test]
    fn bank_restores_an_attempt_from_its_bytes() {
        let (confirmed, confirm, attempt, _) = exchange("13579", "13579");
        let bytes = attempt.to_bytes();
        assert_eq!(bytes.len(), ATTEMPT_BYTES_V2);
        let restored = ServerAttempt::from_bytes(&bytes).unwrap();
        assert!(restored.check_client_confirm(&confirm));
        assert_eq!(
            restored.server_confirm(&token_info(), 5),
            attempt.server_confirm(&token_info(), 5)
        );
        let (seed, id) =
            confirmed.verify_bank(&restored.confirm_response(token_info(), 0)).unwrap();
        assert!(restored.check_ack(&ack_for(&seed, &id)));

        let mut newer = bytes.to_vec();
        newer[0] = 3;
        assert!(ServerAttempt::from_bytes(&newer).is_err());
        assert!(ServerAttempt::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        assert!(ServerAttempt::from_bytes(&[]).is_err());
    }

    #[test]
    fn handshake_states_do_not_print_secrets() {
        let (service, user) = ids();
        let (client, _) = ClientHandshake::start(&service, &user, &pw("86420")).unwrap();
        let (confirmed, _, attempt, _) = exchange("86420", "86420");
        let seed_b64 = super::super::wire::b64_encode(attempt.seed().expose());
        let all = format!("{client:?} {confirmed:?} {attempt:?}");
        assert!(!all.contains("86420"), "{all}");
        assert!(!all.contains(&seed_b64), "{all}");
        assert!(all.contains("<redacted>"));
    }

    #[test]
    fn app_finishes_with_a_pending_token_and_the_matching_ack() {
        let (confirmed, _, attempt, _) = exchange("4321", "4321");
        // The device clock is 90 s behind the bank's.
        let resp = attempt.confirm_response(token_info(), 1_700_000_090);
        let (token, ack) = confirmed.finish(&resp, 1_700_000_000).unwrap();
        assert_eq!(token.offset, ClockOffset(90));
        assert_eq!(&token.seed, attempt.seed());
        assert_eq!(token.pending_delivery.as_ref(), Some(attempt.attempt_id()));
        assert_eq!(token.display_name.to_string(), "Bank OTP");
        assert_eq!(token.issuer, "Bank");
        assert_eq!((token.service_id, token.user_id), ids());
        assert!(attempt.check_ack(&ack));
    }

    #[test]
    fn a_phone_whose_clock_is_more_than_a_day_off_is_told_to_set_it_and_stores_nothing() {
        let bank_now = 1_700_000_000;
        for device_now in [bank_now - 86_401, bank_now + 86_401, 0] {
            let (confirmed, _, attempt, _) = exchange("4321", "4321");
            let r = confirmed.finish(&attempt.confirm_response(token_info(), bank_now), device_now);
            assert!(matches!(r, Err(Error::DeviceClockWrong { .. })), "{device_now}: {r:?}");
        }
        // A day exactly, either way, is still a phone set to another time zone by hand.
        for device_now in [bank_now - 86_400, bank_now + 86_400] {
            let (confirmed, _, attempt, _) = exchange("4321", "4321");
            let (token, _) = confirmed
                .finish(&attempt.confirm_response(token_info(), bank_now), device_now)
                .unwrap();
            assert_eq!(token.offset.0.abs(), 86_400);
        }
    }

    #[test]
    fn app_refuses_parameters_it_cannot_use() {
        type Spoil = fn(&mut TokenInfo);
        let spoils: [Spoil; 5] = [
            |t| t.digits = 7,
            |t| t.period = 0,
            |t| t.issuer = String::new(),
            |t| t.issuer = "B".repeat(65),
            |t| t.display_name = "line\nbreak".into(),
        ];
        for spoil in spoils {
            let (confirmed, _, attempt, _) = exchange("4321", "4321");
            let mut info = token_info();
            spoil(&mut info);
            let r = confirmed.finish(&attempt.confirm_response(info.clone(), 0), 0);
            assert!(
                matches!(r, Err(Error::TotpParameters(_) | Error::ProtocolViolation(_))),
                "{info:?}"
            );
        }
    }

    #[test]
    fn two_attempts_give_different_seeds() {
        let (_, _, a, _) = exchange("4321", "4321");
        let (_, _, b, _) = exchange("4321", "4321");
        assert_ne!(a.seed(), b.seed());
    }
}
