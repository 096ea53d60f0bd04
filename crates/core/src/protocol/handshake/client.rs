//! The app's side of the handshake: start, confirm, and the checks on the bank's answer that
//! turn it into a [`NewToken`] to store and the ack to send once it is stored.

use std::fmt;

use rand_core::{CryptoRng, OsRng, RngCore};
use spake2::{Ed25519Group, Identity, Password, Spake2};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::schedule::{
    ack_for, check_peer_point, derive_keys, draw_nonce, identity_a, identity_b, pake_msg,
    server_confirm_mac, Keys, ScalarEntropy, Transcript,
};
use crate::error::{Error, Result};
use crate::ids::{ActivationPassword, AttemptId, DisplayName, ServiceId, UserId};
use crate::protocol::wire::{
    AckRequest, Bytes, ConfirmRequest, ConfirmResponse, StartRequest, StartResponse, NONCE_LEN,
    PAKE_MSG_LEN,
};
use crate::token::Delivery;
use crate::token::{IssuedToken, NewToken};
use crate::totp::{ClockOffset, Seed};

/// Longest issuer name accepted from the bank, in characters.
pub const MAX_ISSUER_CHARS: usize = 64;

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
    /// answers a repeated correct confirm with the same token, its current clock and a
    /// `server_confirm` over that clock).
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
            issued: IssuedToken {
                service_id,
                user_id,
                display_name,
                issuer: issuer.to_owned(),
                params,
                offset,
            },
            seed,
            delivery: Delivery { pending: Some(attempt) },
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
) -> Result<(ClientConfirmed, impl Fn(&crate::protocol::wire::TokenInfo, u64) -> [u8; 32])> {
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
    let mac = move |token: &crate::protocol::wire::TokenInfo, time: u64| {
        server_confirm_mac(&*ks, &th, token, time)
    };
    Ok((confirmed, mac))
}
