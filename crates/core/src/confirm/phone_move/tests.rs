use zeroize::Zeroizing;

use super::*;
use crate::totp::Seed;

const NOW: u64 = 1_760_000_000;

fn keys(byte: u8) -> ConfirmationKeys {
    ConfirmationKeys::derive(&Seed::new(Zeroizing::new(vec![byte; 32])).unwrap())
}

fn service() -> ServiceId {
    ServiceId::new("10112231").unwrap()
}

fn old_user() -> UserId {
    UserId::new("999800000001").unwrap()
}

fn new_user() -> UserId {
    UserId::new("999800000002").unwrap()
}

fn start(keys: &ConfirmationKeys, password: &str) -> StartMoveRequest {
    let password = ActivationPassword::new(password).unwrap();
    StartMoveRequest::new(keys, service(), old_user(), &password, NOW).unwrap()
}

#[test]
fn the_bank_opens_the_password_the_customer_chose_on_the_old_phone() {
    let k = keys(1);
    let request = start(&k, "48213579");
    assert!(request.is_the_tokens(&k));
    assert_eq!(request.open_password(&k).unwrap(), ActivationPassword::new("48213579").unwrap());
    // The digits never appear on the wire.
    let json = serde_json::to_string(&request).unwrap();
    assert!(!json.contains("48213579"), "{json}");
    let back: StartMoveRequest = serde_json::from_str(&json).unwrap();
    assert_eq!(back, request);
}

#[test]
fn another_tokens_key_can_neither_prove_a_start_nor_open_its_password() {
    let request = start(&keys(1), "4821");
    let other = keys(2);
    assert!(!request.is_the_tokens(&other));
    assert!(matches!(request.open_password(&other), Err(Error::Crypto)));
}

#[test]
fn a_sealed_password_moved_to_another_time_or_registration_does_not_open() {
    let k = keys(1);
    let request = start(&k, "4821");
    let mut later = request.clone();
    later.time += 1;
    assert!(matches!(later.open_password(&k), Err(Error::Crypto)));
    assert!(!later.is_the_tokens(&k));
    let mut elsewhere = request.clone();
    elsewhere.user_id = new_user();
    assert!(matches!(elsewhere.open_password(&k), Err(Error::Crypto)));
    let mut flipped = request;
    let mut bytes = flipped.sealed_password.as_bytes().to_vec();
    bytes[0] ^= 1;
    flipped.sealed_password = SealedPassword::from_bytes(bytes).unwrap();
    assert!(matches!(flipped.open_password(&k), Err(Error::Crypto)));
    assert!(!flipped.is_the_tokens(&k));
}

#[test]
fn two_starts_of_the_same_password_look_unrelated_on_the_wire() {
    let k = keys(1);
    let (a, b) = (start(&k, "4821"), start(&k, "4821"));
    assert_ne!(a.nonce, b.nonce);
    assert_ne!(a.sealed_password, b.sealed_password);
}

#[test]
fn a_sealed_password_of_a_length_no_password_seals_to_is_refused() {
    assert!(SealedPassword::from_bytes(vec![0; 19]).is_err());
    assert!(SealedPassword::from_bytes(vec![0; 25]).is_err());
    assert!(SealedPassword::from_bytes(vec![0; 20]).is_ok());
    let k = keys(1);
    let json = serde_json::to_string(&start(&k, "4821")).unwrap();
    let long = json.replace("\"proof\"", "\"x\"");
    assert!(serde_json::from_str::<StartMoveRequest>(&long).is_err());
}

#[test]
fn a_status_proof_is_not_a_cancel_proof_nor_an_end_proof() {
    let k = keys(1);
    let status = MoveQuery::new(&k, MoveQueryKind::Status, service(), old_user(), NOW);
    assert!(status.is_the_tokens(&k, MoveQueryKind::Status));
    assert!(!status.is_the_tokens(&k, MoveQueryKind::Cancel));
    assert_ne!(status.proof, k.end_proof(&service(), &old_user(), NOW));
    assert!(!status.is_the_tokens(&keys(2), MoveQueryKind::Status));
    assert!(status.is_fresh_at(NOW + MOVE_WINDOW_SECS));
    assert!(!status.is_fresh_at(NOW - MOVE_WINDOW_SECS - 1));
}

#[test]
fn the_old_phone_accepts_only_a_receipt_made_with_its_own_key() {
    let k = keys(1);
    let receipt = MoveReceipt::new(&k, &service(), &old_user(), new_user(), NOW);
    assert!(receipt.is_for(&k, &service(), &old_user()));
    assert!(!receipt.is_for(&keys(2), &service(), &old_user()));
    assert!(!receipt.is_for(&k, &service(), &new_user()));
    let mut elsewhere = receipt.clone();
    elsewhere.new_user_id = UserId::new("999800000003").unwrap();
    assert!(!elsewhere.is_for(&k, &service(), &old_user()));
    let mut later = receipt;
    later.completed_at += 1;
    assert!(!later.is_for(&k, &service(), &old_user()));
}

#[test]
fn move_states_keep_their_stored_names() {
    for s in [
        MoveState::None,
        MoveState::Pending,
        MoveState::Completed,
        MoveState::Expired,
        MoveState::Cancelled,
    ] {
        assert_eq!(MoveState::parse(s.as_str()), Some(s));
        assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{}\"", s.as_str()));
    }
    assert_eq!(MoveState::parse("moved"), None);
}
