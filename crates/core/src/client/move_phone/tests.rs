use reqwest::StatusCode;
use zeroize::Zeroizing;

use super::super::RawAnswer;
use super::*;
use crate::protocol::wire::{ErrorBody, ErrorCode, MoveReceipt};
use crate::totp::Seed;

fn keys(byte: u8) -> ConfirmationKeys {
    ConfirmationKeys::derive(&Seed::new(Zeroizing::new(vec![byte; 32])).unwrap())
}

fn service() -> ServiceId {
    ServiceId::new("10112231").unwrap()
}

fn old_user() -> UserId {
    UserId::new("999800000001").unwrap()
}

fn ended_with(receipt: Option<MoveReceipt>) -> RawAnswer {
    let mut body = ErrorBody::new(ErrorCode::Ended, "ended");
    body.move_receipt = receipt;
    RawAnswer {
        status: StatusCode::GONE,
        bytes: serde_json::to_vec(&body).unwrap(),
        retry_header: None,
    }
}

fn read(raw: &RawAnswer, k: &ConfirmationKeys) -> Error {
    let (service, user) = (service(), old_user());
    let owner = Owner { keys: k, service: &service, user: &user };
    match read_confirmation_answer::<MoveStatusResponse>(raw, 0, Some(owner)) {
        Err(e) => e,
        Ok(r) => panic!("read as a success: {r:?}"),
    }
}

#[test]
fn an_old_phone_told_its_token_moved_by_the_banks_receipt_learns_where_it_went() {
    let k = keys(1);
    let new_user = UserId::new("999800000002").unwrap();
    let receipt = MoveReceipt::new(&k, &service(), &old_user(), new_user.clone(), 1_760_000_000);
    match read(&ended_with(Some(receipt)), &k) {
        Error::RegistrationMoved { new_user_id, completed_at } => {
            assert_eq!((new_user_id.as_str(), completed_at), (new_user.as_str(), 1_760_000_000));
        }
        e => panic!("not moved: {e:?}"),
    }
}

#[test]
fn a_receipt_a_relay_made_up_leaves_the_token_merely_ended() {
    let k = keys(1);
    let new_user = UserId::new("999800000002").unwrap();
    let forged = MoveReceipt::new(&keys(9), &service(), &old_user(), new_user, 1_760_000_000);
    assert!(matches!(read(&ended_with(Some(forged)), &k), Error::RegistrationEnded));
    assert!(matches!(read(&ended_with(None), &k), Error::RegistrationEnded));
}

#[test]
fn the_banks_refusals_of_a_move_become_their_own_errors() {
    let k = keys(1);
    let raw = |status: u16, body: ErrorBody| RawAnswer {
        status: StatusCode::from_u16(status).unwrap(),
        bytes: serde_json::to_vec(&body).unwrap(),
        retry_header: None,
    };
    let off = ErrorBody::new(ErrorCode::MovesNotOffered, "off");
    assert!(matches!(read(&raw(403, off), &k), Error::MovesNotOffered));
    let none = ErrorBody::new(ErrorCode::NoPendingMove, "none");
    assert!(matches!(read(&raw(409, none), &k), Error::NoPendingMove));
    let mut weak = ErrorBody::new(ErrorCode::WeakActivationPassword, "weak");
    weak.reason = Some("year".into());
    assert!(matches!(
        read(&raw(400, weak.clone()), &k),
        Error::WeakActivationPassword(crate::weak_number::Weakness::Year)
    ));
    weak.reason = None;
    assert!(matches!(read(&raw(400, weak), &k), Error::ProtocolViolation(_)));
}
