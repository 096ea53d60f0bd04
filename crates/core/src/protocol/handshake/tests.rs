use super::server::ATTEMPT_BYTES_V2;
use super::*;
use crate::error::Error;
use crate::ids::{ActivationPassword, ServiceId, UserId};
use crate::protocol::wire::{
    ConfirmRequest, ConfirmResponse, StartRequest, StartResponse, TokenInfo,
};
use crate::protocol::AttemptId;
use crate::totp::ClockOffset;

fn ids() -> (ServiceId, UserId) {
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
    assert_eq!(restored.server_confirm(&token_info(), 5), attempt.server_confirm(&token_info(), 5));
    let (seed, id) = confirmed.verify_bank(&restored.confirm_response(token_info(), 0)).unwrap();
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
    let seed_b64 = crate::protocol::wire::b64_encode(attempt.seed().expose());
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
    assert_eq!(token.issued.offset, ClockOffset(90));
    assert_eq!(&token.seed, attempt.seed());
    assert_eq!(token.delivery.pending.as_ref(), Some(attempt.attempt_id()));
    assert_eq!(token.issued.display_name.to_string(), "Bank OTP");
    assert_eq!(token.issued.issuer, "Bank");
    assert_eq!((token.issued.service_id, token.issued.user_id), ids());
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
        assert_eq!(token.issued.offset.0.abs(), 86_400);
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
