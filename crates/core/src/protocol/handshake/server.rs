//! The bank's side of the handshake: its answer to start, and the attempt it keeps (sealed) to
//! check the app's confirmation and ack.

use std::fmt;

use rand_core::{CryptoRng, OsRng, RngCore};
use spake2::{Ed25519Group, Identity, Password, Spake2};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::schedule::{
    ack_for, check_peer_point, derive_keys, draw_nonce, identity_a, identity_b, pake_msg,
    server_confirm_mac, ScalarEntropy, Transcript, SEED_LEN,
};
use crate::error::{Error, Result};
use crate::ids::{ActivationPassword, AttemptId};
use crate::protocol::wire::{
    AckRequest, Bytes, ConfirmRequest, ConfirmResponse, StartRequest, StartResponse, TokenInfo,
    ATTEMPT_ID_LEN, MAC_LEN,
};
use crate::totp::Seed;

/// Seconds a started attempt waits for its confirm, unless the server sets another value.
pub const DEFAULT_ATTEMPT_LIFETIME_SECS: u64 = 300;

/// Version byte of [`ServerAttempt::to_bytes`]. Version 1 held the finished `server_confirm`
/// instead of its key, from which the token block cannot be bound: such an attempt is refused
/// (it lived at most minutes; the customer starts again).
const ATTEMPT_FORMAT_V2: u8 = 2;
const ATTEMPT_FORMAT_V1: u8 = 1;
const ATTEMPT_BYTES_V1: usize = 1 + ATTEMPT_ID_LEN + MAC_LEN + MAC_LEN + SEED_LEN;
pub(super) const ATTEMPT_BYTES_V2: usize = 1 + ATTEMPT_ID_LEN + MAC_LEN + MAC_LEN + 32 + SEED_LEN;

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
