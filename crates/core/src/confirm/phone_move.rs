//! The phone move (機種変更, `docs/protocol.md` §4.5): the old phone's token hands over to a new
//! registration for the same customer, which the new phone activates as at issue; the bank ends
//! the old registration when it records the new one's ack, so the two are never alive together.
//!
//! Every request is proven with the old token's app key `k_app` (confirmation.md §3.1), as the
//! token's own end of use is (§4.4). The activation password the customer chose on the old
//! phone travels only sealed (AES-256-GCM) under a key derived from `k_app`, which never crosses
//! the wire: a recorded request gives no offline test of a guess, because opening the seal needs
//! the seed. The bank's receipt of a completed move is MAC'd with the same key, so a relay cannot
//! make an old phone drop a token that did not move.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

use super::keys::{ConfirmationKeys, Frames};
use crate::base64url::{b64_decode_between, b64_encode};
use crate::error::{Error, Result};
use crate::ids::{
    ActivationPassword, ServiceId, UserId, ACTIVATION_PASSWORD_MAX_DIGITS,
    ACTIVATION_PASSWORD_MIN_DIGITS,
};
use crate::protocol::wire::{Bytes, MoveReceipt, MAC_LEN};

/// Path where the old phone starts (or restarts) a move.
pub const PATH_MOVE_START: &str = "/v1/registrations/move/start";
/// Path where the old phone asks what became of its move.
pub const PATH_MOVE_STATUS: &str = "/v1/registrations/move/status";
/// Path where the old phone withdraws its pending move.
pub const PATH_MOVE_CANCEL: &str = "/v1/registrations/move/cancel";
/// First field of a start's proof and of the seal's associated data.
pub const START_LABEL: &str = "softtoken-move-start-v1";
/// First field of a status request's proof.
pub const STATUS_LABEL: &str = "softtoken-move-status-v1";
/// First field of a cancel request's proof.
pub const CANCEL_LABEL: &str = "softtoken-move-cancel-v1";
/// First field of the bank's receipt of a completed move.
pub const RECEIPT_LABEL: &str = "softtoken-move-receipt-v1";
/// First field of the derivation of the password's sealing key.
pub const SEAL_KEY_LABEL: &str = "softtoken-move-password-v1";
/// How far a move request's time may be from the bank's clock (seconds, either way).
pub const MOVE_WINDOW_SECS: u64 = 300;
/// Bytes in the seal's nonce.
pub const SEAL_NONCE_LEN: usize = 12;
/// Bytes of AES-GCM's tag at the end of the sealed password.
const TAG_LEN: usize = 16;
/// A move the bank prepares lasts this long unless it says otherwise (24 hours).
pub const DEFAULT_MOVE_EXPIRY_SECS: u64 = 86_400;

/// The activation password as AES-256-GCM sealed it: the digits' ciphertext and the tag,
/// base64url on the wire, 20 to 24 bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedPassword(Vec<u8>);

impl SealedPassword {
    /// The sealed bytes, as they enter the proof.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Sealed bytes from storage or a test vector.
    ///
    /// # Errors
    /// [`Error::ProtocolViolation`] for a length no 4–8 digit password seals to.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        let range =
            ACTIVATION_PASSWORD_MIN_DIGITS + TAG_LEN..=ACTIVATION_PASSWORD_MAX_DIGITS + TAG_LEN;
        if !range.contains(&bytes.len()) {
            return Err(Error::ProtocolViolation("a sealed password has the wrong length"));
        }
        Ok(Self(bytes))
    }
}

impl std::fmt::Debug for SealedPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealedPassword({} bytes)", self.0.len())
    }
}

impl Serialize for SealedPassword {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&b64_encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for SealedPassword {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let bytes = b64_decode_between(
            &s,
            ACTIVATION_PASSWORD_MIN_DIGITS + TAG_LEN,
            ACTIVATION_PASSWORD_MAX_DIGITS + TAG_LEN,
        )
        .map_err(serde::de::Error::custom)?;
        Ok(Self(bytes))
    }
}

/// The old phone's request to prepare a move (§4.5.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartMoveRequest {
    /// The old registration.
    pub service_id: ServiceId,
    /// The old registration.
    pub user_id: UserId,
    /// The bank time the app believes it is.
    pub time: u64,
    /// The seal's nonce, fresh for every start.
    pub nonce: Bytes<SEAL_NONCE_LEN>,
    /// The new registration's activation password, sealed under `k_seal`.
    pub sealed_password: SealedPassword,
    /// `HMAC-SHA256(k_app, …)` over all of the above under the start label.
    pub proof: Bytes<MAC_LEN>,
}

impl StartMoveRequest {
    /// The old phone's start at bank time `time`, with a fresh random nonce.
    ///
    /// # Errors
    /// [`Error::Crypto`] if the OS random generator fails.
    pub fn new(
        keys: &ConfirmationKeys,
        service_id: ServiceId,
        user_id: UserId,
        password: &ActivationPassword,
        time: u64,
    ) -> Result<Self> {
        use rand_core::{OsRng, RngCore};
        let mut nonce = [0u8; SEAL_NONCE_LEN];
        OsRng.try_fill_bytes(&mut nonce).map_err(|_| Error::Crypto)?;
        Self::with_nonce(keys, service_id, user_id, password, time, nonce)
    }

    /// The start with a given nonce (test vectors; [`StartMoveRequest::new`] otherwise).
    ///
    /// # Errors
    /// [`Error::Crypto`] if AES-GCM refuses (it cannot for a password of 4–8 digits).
    pub fn with_nonce(
        keys: &ConfirmationKeys,
        service_id: ServiceId,
        user_id: UserId,
        password: &ActivationPassword,
        time: u64,
        nonce: [u8; SEAL_NONCE_LEN],
    ) -> Result<Self> {
        let aad = start_aad(&service_id, &user_id, time);
        let sealed = seal_cipher(keys, &service_id, &user_id)?
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: password.expose(), aad: &aad })
            .map_err(|_| Error::Crypto)?;
        let sealed_password = SealedPassword::from_bytes(sealed)?;
        let nonce = Bytes(nonce);
        let proof = start_proof(keys, &service_id, &user_id, time, &nonce, &sealed_password);
        Ok(Self { service_id, user_id, time, nonce, sealed_password, proof })
    }

    /// Whether the proof is the token's, whatever the time.
    pub fn is_the_tokens(&self, keys: &ConfirmationKeys) -> bool {
        let proof = start_proof(
            keys,
            &self.service_id,
            &self.user_id,
            self.time,
            &self.nonce,
            &self.sealed_password,
        );
        proof == self.proof
    }

    /// Whether its time is within [`MOVE_WINDOW_SECS`] of the bank's `now`.
    pub fn is_fresh_at(&self, now: u64) -> bool {
        self.time.abs_diff(now) <= MOVE_WINDOW_SECS
    }

    /// The bank's opening of the sealed activation password.
    ///
    /// # Errors
    /// [`Error::Crypto`] when the seal does not open with these keys (another token, or bytes
    /// changed on the way); [`Error::Invalid`] when it opens to something that is not 4–8
    /// digits (only a token that sealed such bytes on purpose).
    pub fn open_password(&self, keys: &ConfirmationKeys) -> Result<ActivationPassword> {
        let aad = start_aad(&self.service_id, &self.user_id, self.time);
        let digits = Zeroizing::new(
            seal_cipher(keys, &self.service_id, &self.user_id)?
                .decrypt(
                    Nonce::from_slice(self.nonce.as_bytes()),
                    Payload { msg: self.sealed_password.as_bytes(), aad: &aad },
                )
                .map_err(|_| Error::Crypto)?,
        );
        let text = std::str::from_utf8(&digits).map_err(|_| Error::Crypto)?;
        ActivationPassword::new(text)
    }
}

/// What a status or cancel request asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveQueryKind {
    /// What became of the move.
    Status,
    /// Withdraw the pending move.
    Cancel,
}

impl MoveQueryKind {
    fn label(self) -> &'static str {
        match self {
            MoveQueryKind::Status => STATUS_LABEL,
            MoveQueryKind::Cancel => CANCEL_LABEL,
        }
    }
}

/// The old phone's status or cancel request (§4.5.2, §4.5.3): the body of both, each proven
/// under its own label so one cannot be taken for the other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoveQuery {
    /// The old registration.
    pub service_id: ServiceId,
    /// The old registration.
    pub user_id: UserId,
    /// The bank time the app believes it is.
    pub time: u64,
    /// `HMAC-SHA256(k_app, …)` over the three under the kind's label.
    pub proof: Bytes<MAC_LEN>,
}

impl MoveQuery {
    /// The old phone's request of `kind` at bank time `time`.
    pub fn new(
        keys: &ConfirmationKeys,
        kind: MoveQueryKind,
        service_id: ServiceId,
        user_id: UserId,
        time: u64,
    ) -> Self {
        let proof = query_proof(keys, kind, &service_id, &user_id, time);
        Self { service_id, user_id, time, proof }
    }

    /// Whether the proof is the token's for `kind`, whatever the time.
    pub fn is_the_tokens(&self, keys: &ConfirmationKeys, kind: MoveQueryKind) -> bool {
        query_proof(keys, kind, &self.service_id, &self.user_id, self.time) == self.proof
    }

    /// Whether its time is within [`MOVE_WINDOW_SECS`] of the bank's `now`.
    pub fn is_fresh_at(&self, now: u64) -> bool {
        self.time.abs_diff(now) <= MOVE_WINDOW_SECS
    }
}

/// The bank's answer to a start: the prepared registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoveStarted {
    /// The move's opaque ID.
    pub move_id: String,
    /// The customer's service ID, the same for both registrations.
    pub service_id: ServiceId,
    /// The old registration's user ID (the one that asked).
    pub old_user_id: UserId,
    /// The new registration's user ID, for the new phone.
    pub new_user_id: UserId,
    /// Bank time when the prepared registration ends unless the new phone activates it.
    pub expires_at: u64,
}

/// The state of a move as the bank tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MoveState {
    /// No move was ever started for this registration (or only long ago).
    None,
    /// A move is prepared and waits for the new phone.
    Pending,
    /// The new phone activated: the old registration ended.
    Completed,
    /// The prepared registration expired unused; the old token keeps working.
    Expired,
    /// The move was withdrawn (by the customer or the bank); the old token keeps working.
    Cancelled,
}

impl MoveState {
    /// The snake_case name, as on the wire and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            MoveState::None => "none",
            MoveState::Pending => "pending",
            MoveState::Completed => "completed",
            MoveState::Expired => "expired",
            MoveState::Cancelled => "cancelled",
        }
    }

    /// The state a stored name stands for.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::None, Self::Pending, Self::Completed, Self::Expired, Self::Cancelled]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

/// The bank's answer to a status or a cancel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoveStatusResponse {
    /// What became of the latest move.
    pub state: MoveState,
    /// The move's ID, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub move_id: Option<String>,
    /// With `pending`: the new registration's user ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_user_id: Option<UserId>,
    /// With `pending`: when it expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
}

impl MoveReceipt {
    /// The bank's receipt that the move from `old_user` to `new_user` completed at
    /// `completed_at`, MAC'd with the old token's `k_app` before its seed is wiped.
    pub fn new(
        keys: &ConfirmationKeys,
        service: &ServiceId,
        old_user: &UserId,
        new_user: UserId,
        completed_at: u64,
    ) -> Self {
        let mac = receipt_mac(keys, service, old_user, &new_user, completed_at);
        Self { new_user_id: new_user, completed_at, mac }
    }

    /// Whether the bank made this receipt for the token whose `keys` these are: only then may
    /// the old phone drop the token as moved.
    pub fn is_for(&self, keys: &ConfirmationKeys, service: &ServiceId, old_user: &UserId) -> bool {
        receipt_mac(keys, service, old_user, &self.new_user_id, self.completed_at) == self.mac
    }
}

/// `k_seal`, the password's sealing key, as an AES-256-GCM cipher.
fn seal_cipher(keys: &ConfirmationKeys, service: &ServiceId, user: &UserId) -> Result<Aes256Gcm> {
    let bytes = Frames::default()
        .field(SEAL_KEY_LABEL.as_bytes())
        .field(service.as_str().as_bytes())
        .field(user.as_str().as_bytes())
        .into_bytes();
    let k_seal = Zeroizing::new(keys.app.mac(&bytes).0);
    Aes256Gcm::new_from_slice(k_seal.as_slice()).map_err(|_| Error::Crypto)
}

/// The seal's associated data: the start's fields e1..e4.
fn start_aad(service: &ServiceId, user: &UserId, time: u64) -> Vec<u8> {
    Frames::default()
        .field(START_LABEL.as_bytes())
        .field(service.as_str().as_bytes())
        .field(user.as_str().as_bytes())
        .field(&time.to_be_bytes())
        .into_bytes()
}

fn start_proof(
    keys: &ConfirmationKeys,
    service: &ServiceId,
    user: &UserId,
    time: u64,
    nonce: &Bytes<SEAL_NONCE_LEN>,
    sealed: &SealedPassword,
) -> Bytes<MAC_LEN> {
    let mut frames = Frames::default();
    for field in [
        START_LABEL.as_bytes(),
        service.as_str().as_bytes(),
        user.as_str().as_bytes(),
        &time.to_be_bytes(),
        nonce.as_bytes(),
        sealed.as_bytes(),
    ] {
        frames = frames.field(field);
    }
    keys.app.mac(&frames.into_bytes())
}

fn query_proof(
    keys: &ConfirmationKeys,
    kind: MoveQueryKind,
    service: &ServiceId,
    user: &UserId,
    time: u64,
) -> Bytes<MAC_LEN> {
    let bytes = Frames::default()
        .field(kind.label().as_bytes())
        .field(service.as_str().as_bytes())
        .field(user.as_str().as_bytes())
        .field(&time.to_be_bytes())
        .into_bytes();
    keys.app.mac(&bytes)
}

fn receipt_mac(
    keys: &ConfirmationKeys,
    service: &ServiceId,
    old_user: &UserId,
    new_user: &UserId,
    completed_at: u64,
) -> Bytes<MAC_LEN> {
    let bytes = Frames::default()
        .field(RECEIPT_LABEL.as_bytes())
        .field(service.as_str().as_bytes())
        .field(old_user.as_str().as_bytes())
        .field(new_user.as_str().as_bytes())
        .field(&completed_at.to_be_bytes())
        .into_bytes();
    keys.app.mac(&bytes)
}

#[cfg(test)]
mod tests;
