//! The keys of transaction confirmation and the bytes they authenticate (`docs/confirmation.md`
//! §3): derived from the token's seed, which the app and the bank already share and which never
//! crosses the wire, so every token issued since version 1 of the provisioning protocol has them
//! without being set up again.

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::details::Details;
use super::{ConfirmationId, Decision, MatchNumber};
use crate::ids::{ServiceId, UserId};
use crate::protocol::wire::{Bytes, MAC_LEN};
use crate::totp::Seed;

/// HKDF's salt: names the purpose, so these keys are independent of any other use of the seed.
pub const KEYS_SALT: &[u8] = b"softtoken v1 confirmation";
/// HKDF info of the key the bank authenticates requests with.
pub const BANK_KEY_INFO: &[u8] = b"softtoken v1 bank key";
/// HKDF info of the key the app authenticates its fetches and answers with.
pub const APP_KEY_INFO: &[u8] = b"softtoken v1 app key";
/// HKDF info of the OCRA key of the offline code.
pub const OFFLINE_KEY_INFO: &[u8] = b"softtoken v1 offline key";
/// First field of a request's canonical encoding.
pub const REQUEST_LABEL: &str = "softtoken-confirmation-v1";
/// First field of an answer's.
pub const ANSWER_LABEL: &str = "softtoken-confirmation-answer-v1";
/// First field of a fetch's.
pub const FETCH_LABEL: &str = "softtoken-confirmation-fetch-v1";
/// First field of a token's end of use (`docs/protocol.md` §4.4).
pub const END_LABEL: &str = "softtoken-registration-end-v1";
/// First field of the bank's time in its answer to a fetch.
pub const TIME_LABEL: &str = "softtoken-confirmation-time-v1";

/// A 32-byte key that never prints.
#[derive(Clone)]
pub struct Key(Zeroizing<[u8; 32]>);

impl Key {
    /// The bytes, for HMAC and OCRA.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    pub(super) fn mac(&self, message: &[u8]) -> Bytes<MAC_LEN> {
        // HMAC takes a key of any length: `new_from_slice` cannot fail with 32 bytes.
        let mut m = match <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_slice()) {
            Ok(m) => m,
            Err(_) => return Bytes([0; MAC_LEN]),
        };
        m.update(message);
        Bytes(m.finalize().into_bytes().into())
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

/// The three keys of one token.
#[derive(Clone, Debug)]
pub struct ConfirmationKeys {
    /// `k_bank`: the bank's MAC over each request it sends to the app.
    pub bank: Key,
    /// `k_app`: the app's MAC over its fetches and answers.
    pub app: Key,
    /// `k_offline`: the OCRA key of the offline code.
    pub offline: Key,
}

impl ConfirmationKeys {
    /// Derives the keys from the token's seed (HKDF-SHA256, §3.1).
    pub fn derive(seed: &Seed) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(KEYS_SALT), seed.expose());
        let expand = |info: &[u8]| {
            let mut k = Zeroizing::new([0u8; 32]);
            // 32 bytes is far below HKDF-SHA256's limit of 8160: `expand` cannot fail.
            if hk.expand(info, k.as_mut_slice()).is_err() {
                k.fill(0);
            }
            Key(k)
        };
        Self {
            bank: expand(BANK_KEY_INFO),
            app: expand(APP_KEY_INFO),
            offline: expand(OFFLINE_KEY_INFO),
        }
    }
}

/// `len32(f1) || f1 || len32(f2) || f2 || …`, the framing of every encoding here.
#[derive(Default)]
pub(crate) struct Frames(Vec<u8>);

impl Frames {
    pub(crate) fn field(mut self, f: &[u8]) -> Self {
        // Every field is far below 4 GiB: the request body is limited to 16 KiB.
        self.0.extend_from_slice(&(f.len() as u32).to_be_bytes());
        self.0.extend_from_slice(f);
        self
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

/// The fields of a request that its digest covers: everything the app shows or acts on.
#[derive(Debug, Clone, Copy)]
pub struct RequestFields<'a> {
    /// The request's ID.
    pub id: &'a ConfirmationId,
    /// The registration it is for.
    pub service_id: &'a ServiceId,
    /// The registration it is for.
    pub user_id: &'a UserId,
    /// What is to be approved.
    pub details: &'a Details,
    /// When the bank created it (Unix seconds, bank time).
    pub created_at: u64,
    /// When it stops being answerable.
    pub expires_at: u64,
    /// Whether the approval must carry the number shown on the bank's page.
    pub match_required: bool,
}

impl RequestFields<'_> {
    /// The canonical encoding (§3.2): fifteen framed fields in a fixed order; a field a kind
    /// does not have is empty.
    pub fn encode(&self) -> Vec<u8> {
        let d = self.details;
        let payee = d.payee();
        let amount = d.amount().map(|a| a.yen().to_be_bytes());
        Frames::default()
            .field(REQUEST_LABEL.as_bytes())
            .field(self.id.as_bytes())
            .field(self.service_id.as_str().as_bytes())
            .field(self.user_id.as_str().as_bytes())
            .field(d.kind().as_bytes())
            .field(amount.as_ref().map_or(&[][..], |a| &a[..]))
            .field(payee.map_or(&b""[..], |p| p.bank.as_str().as_bytes()))
            .field(payee.map_or(&b""[..], |p| p.branch.as_str().as_bytes()))
            .field(payee.map_or(&b""[..], |p| p.account_type.as_str().as_bytes()))
            .field(payee.map_or(&b""[..], |p| p.account_number.as_str().as_bytes()))
            .field(payee.map_or(&b""[..], |p| p.holder.as_str().as_bytes()))
            .field(d.note().as_str().as_bytes())
            .field(&self.created_at.to_be_bytes())
            .field(&self.expires_at.to_be_bytes())
            .field(&[u8::from(self.match_required)])
            .into_bytes()
    }

    /// `digest = SHA-256(encoding)`: what the answer binds.
    pub fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.encode()).into()
    }
}

impl ConfirmationKeys {
    /// `request_mac = HMAC-SHA256(k_bank, digest)`: the bank's proof that it made the request.
    pub fn request_mac(&self, digest: &[u8; 32]) -> Bytes<MAC_LEN> {
        self.bank.mac(digest)
    }

    /// The answer's MAC (§3.3) over the request's ID, its digest, the decision and the number
    /// the customer typed (empty when none).
    pub fn answer_mac(
        &self,
        id: &ConfirmationId,
        digest: &[u8; 32],
        decision: Decision,
        typed: Option<&MatchNumber>,
    ) -> Bytes<MAC_LEN> {
        let bytes = Frames::default()
            .field(ANSWER_LABEL.as_bytes())
            .field(id.as_bytes())
            .field(digest)
            .field(decision.as_str().as_bytes())
            .field(typed.map_or(&b""[..], |n| n.as_str().as_bytes()))
            .into_bytes();
        self.app.mac(&bytes)
    }

    /// The fetch's proof (§3.4): the registration and the bank time the app believes it is.
    pub fn fetch_proof(&self, service: &ServiceId, user: &UserId, time: u64) -> Bytes<MAC_LEN> {
        let bytes = Frames::default()
            .field(FETCH_LABEL.as_bytes())
            .field(service.as_str().as_bytes())
            .field(user.as_str().as_bytes())
            .field(&time.to_be_bytes())
            .into_bytes();
        self.app.mac(&bytes)
    }

    /// The proof of a token's end of use (`docs/protocol.md` §4.4): the registration and the
    /// bank time the app believes it is, under a label of its own, so neither a fetch proof
    /// nor an answer can be taken for it.
    pub fn end_proof(&self, service: &ServiceId, user: &UserId, time: u64) -> Bytes<MAC_LEN> {
        let bytes = Frames::default()
            .field(END_LABEL.as_bytes())
            .field(service.as_str().as_bytes())
            .field(user.as_str().as_bytes())
            .field(&time.to_be_bytes())
            .into_bytes();
        self.app.mac(&bytes)
    }

    /// The bank's MAC over its clock in the answer to one fetch (§3.5): bound to that fetch's
    /// proof, so an answer recorded once cannot set the time of a later fetch.
    pub fn time_mac(&self, fetch_proof: &Bytes<MAC_LEN>, server_time: u64) -> Bytes<MAC_LEN> {
        let bytes = Frames::default()
            .field(TIME_LABEL.as_bytes())
            .field(fetch_proof.as_bytes())
            .field(&server_time.to_be_bytes())
            .into_bytes();
        self.bank.mac(&bytes)
    }
}
