//! The phone move (機種変更, `docs/protocol.md` §4.5) over HTTP, with the app's own client: the
//! old token prepares a new registration, the new phone activates it as at issue, and its ack
//! ends the old one in the same write, so the two tokens' codes are never both accepted.
//! `moves_on_postgres.rs` runs these same tests on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Server, Setup, SERVICE};
use serde_json::{json, Value};
use softtoken_core::client::move_phone::MoveStatus;
use softtoken_core::confirm::phone_move::{
    MoveQuery, MoveQueryKind, StartMoveRequest, PATH_MOVE_CANCEL, PATH_MOVE_START, PATH_MOVE_STATUS,
};
use softtoken_core::confirm::ConfirmationKeys;
use softtoken_core::ids::{ActivationPassword, ServiceId, UserId};
use softtoken_core::protocol::NewToken;
use softtoken_core::Error;
use softtoken_server::bank::Policy;

/// A customer whose old phone's token is in use.
async fn customer(server: &Server) -> (UserId, NewToken, ConfirmationKeys) {
    let user = server.issue(None, "4821").await;
    let (token, _) = server.provision(&user, "4821").await.unwrap();
    let (status, body) = server.verify(&user, &server.code(&token)).await;
    assert_eq!((status, &body["state"]), (200, &json!("in_use")), "{body}");
    let keys = ConfirmationKeys::derive(&token.seed);
    (UserId::new(&user).unwrap(), token, keys)
}

fn service() -> ServiceId {
    ServiceId::new(SERVICE).unwrap()
}

fn password(p: &str) -> ActivationPassword {
    ActivationPassword::new(p).unwrap()
}

fn accepted(answer: &(u16, Value)) -> bool {
    answer.0 == 200 && answer.1["accepted"] == json!(true)
}

async fn start(
    server: &Server,
    keys: &ConfirmationKeys,
    user: &UserId,
    p: &str,
) -> softtoken_core::Result<softtoken_core::client::move_phone::PreparedMove> {
    let now = server.now();
    server.client().start_move(keys, &service(), user, &password(p), now, now).await
}

async fn status(server: &Server, keys: &ConfirmationKeys, user: &UserId) -> MoveStatus {
    let now = server.now();
    server.client().move_status(keys, &service(), user, now, now).await.unwrap()
}

fn moves_in_state(server: &Server, state: &str) -> i64 {
    server.count(&format!("SELECT count(*) FROM moves WHERE state = '{state}'"))
}

fn audited(server: &Server, action: &str) -> i64 {
    server.count(&format!(
        "SELECT count(*) FROM audit WHERE action = '{action}' AND outcome <> 'pending'"
    ))
}

#[tokio::test]
async fn customer_moves_the_token_to_a_new_phone_and_only_one_phone_s_codes_ever_count() {
    let server = Server::start().await;
    let (old_user, old_token, old_keys) = customer(&server).await;
    let prepared = start(&server, &old_keys, &old_user, "7305").await.unwrap();
    assert_ne!(prepared.new_user_id, old_user);
    assert_eq!(prepared.expires_at, server.now() + 86_400);
    assert_eq!(status(&server, &old_keys, &old_user).await, MoveStatus::Pending(prepared.clone()));
    // The IDs are mailed as at issue; the password is not.
    let mail = server.admin_get("/v1/admin/outbox").await.1.to_string();
    assert!(mail.contains(prepared.new_user_id.as_str()), "{mail}");
    assert!(!mail.contains("7305"));
    // Until the new phone's ack, the old token works and the new one does not exist.
    let new_user = prepared.new_user_id.as_str().to_owned();
    assert_eq!(server.status(&new_user).await["state"], "issued");
    server.clock.advance(30);
    assert!(accepted(&server.verify(old_user.as_str(), &server.code(&old_token)).await));

    // The new phone activates as at issue, with the password chosen on the old one.
    let (new_token, provisioned) = server.provision(&new_user, "7305").await.unwrap();
    assert!(provisioned.is_delivered(), "{:?}", provisioned.delivery);
    // The ack ended the old registration: its codes are refused, the new one's accepted.
    assert_eq!(server.status(old_user.as_str()).await["state"], "ended");
    server.clock.advance(30);
    let (code, answer) = server.verify(old_user.as_str(), &server.code(&old_token)).await;
    assert_eq!((code, answer["code"].as_str()), (410, Some("ended")), "{answer}");
    assert!(accepted(&server.verify(&new_user, &server.code(&new_token)).await));

    // The old phone is told, in a receipt only the bank could make for its key.
    match status(&server, &old_keys, &old_user).await {
        MoveStatus::Moved { new_user_id, completed_at } => {
            assert_eq!(new_user_id, prepared.new_user_id);
            assert!(completed_at <= server.now());
        }
        other => panic!("not moved: {other:?}"),
    }
    assert_eq!(moves_in_state(&server, "completed"), 1);
    for action in ["move_started", "move_completed"] {
        assert_eq!(audited(&server, action), 1, "{action}");
    }
    // The old seed is gone from the bank.
    let seeds = server.count(&format!(
        "SELECT count(*) FROM registrations WHERE user_id = '{old_user}' AND sealed_seed IS NOT NULL"
    ));
    assert_eq!(seeds, 0);
}

#[tokio::test]
async fn the_old_phone_s_end_after_the_move_carries_the_receipt_too() {
    let server = Server::start().await;
    let (old_user, _, old_keys) = customer(&server).await;
    let prepared = start(&server, &old_keys, &old_user, "7305").await.unwrap();
    server.provision(prepared.new_user_id.as_str(), "7305").await.unwrap();
    let now = server.now();
    let ended = server.client().end_at_bank(&old_keys, &service(), &old_user, now, now).await;
    assert!(matches!(ended, Err(Error::RegistrationMoved { .. })), "{ended:?}");
    let again = start(&server, &old_keys, &old_user, "7305").await;
    assert!(matches!(again, Err(Error::RegistrationMoved { .. })), "{again:?}");
}

#[tokio::test]
async fn starting_again_replaces_the_pending_move_and_its_registration() {
    let server = Server::start().await;
    let (old_user, _, old_keys) = customer(&server).await;
    let first = start(&server, &old_keys, &old_user, "7305").await.unwrap();
    let second = start(&server, &old_keys, &old_user, "9164").await.unwrap();
    assert_ne!(first.new_user_id, second.new_user_id);
    assert_eq!(server.status(first.new_user_id.as_str()).await["state"], "ended");
    assert_eq!(moves_in_state(&server, "pending"), 1);
    assert_eq!(moves_in_state(&server, "cancelled"), 1);
    // The first prepared registration can no longer be activated.
    let refused = server.provision(first.new_user_id.as_str(), "7305").await;
    assert!(matches!(refused, Err(Error::RegistrationEnded)), "{refused:?}");
    assert_eq!(audited(&server, "move_replaced"), 1);
    assert_eq!(status(&server, &old_keys, &old_user).await, MoveStatus::Pending(second));
}

#[tokio::test]
async fn customer_cancelling_the_move_keeps_the_old_token() {
    let server = Server::start().await;
    let (old_user, old_token, old_keys) = customer(&server).await;
    let prepared = start(&server, &old_keys, &old_user, "7305").await.unwrap();
    let now = server.now();
    server.client().cancel_move(&old_keys, &service(), &old_user, now, now).await.unwrap();
    assert_eq!(status(&server, &old_keys, &old_user).await, MoveStatus::Cancelled);
    assert_eq!(server.status(prepared.new_user_id.as_str()).await["state"], "ended");
    let again = server.client().cancel_move(&old_keys, &service(), &old_user, now, now).await;
    assert!(matches!(again, Err(Error::NoPendingMove)), "{again:?}");
    server.clock.advance(30);
    assert!(accepted(&server.verify(old_user.as_str(), &server.code(&old_token)).await));
    assert_eq!(audited(&server, "move_cancelled_by_customer"), 1);
}

#[tokio::test]
async fn a_move_left_for_a_day_expires_and_the_old_token_keeps_working() {
    let server = Server::start().await;
    let (old_user, old_token, old_keys) = customer(&server).await;
    let prepared = start(&server, &old_keys, &old_user, "7305").await.unwrap();
    server.clock.advance(86_400);
    assert_eq!(status(&server, &old_keys, &old_user).await, MoveStatus::Expired);
    assert_eq!(server.status(prepared.new_user_id.as_str()).await["state"], "ended");
    let late = server.provision(prepared.new_user_id.as_str(), "7305").await;
    assert!(late.is_err(), "{late:?}");
    assert!(accepted(&server.verify(old_user.as_str(), &server.code(&old_token)).await));
    assert_eq!(audited(&server, "move_expired"), 1);
}

#[tokio::test]
async fn a_bank_with_the_fast_path_off_sends_the_customer_the_manual_way() {
    let policy = Policy { moves_enabled: false, ..Policy::default() };
    let server = Server::start_with(Setup { policy, ..Setup::default() }).await;
    let (old_user, _, old_keys) = customer(&server).await;
    let refused = start(&server, &old_keys, &old_user, "7305").await;
    assert!(matches!(refused, Err(Error::MovesNotOffered)), "{refused:?}");
    let now = server.now();
    let req =
        StartMoveRequest::new(&old_keys, service(), old_user, &password("7305"), now).unwrap();
    let (code, body) = server.post(PATH_MOVE_START, serde_json::to_value(req).unwrap()).await;
    assert_eq!((code, body["code"].as_str()), (403, Some("moves_not_offered")), "{body}");
    assert_eq!(server.count("SELECT count(*) FROM moves"), 0);
}

#[tokio::test]
async fn bad_proofs_weak_passwords_skewed_clocks_and_bad_bodies_store_nothing() {
    let server = Server::start().await;
    let (user, _, keys) = customer(&server).await;
    let (other_user, _, other_keys) = customer(&server).await;
    let now = server.now();
    let start_body = |k: &ConfirmationKeys, u: &UserId, p: &str, t: u64| {
        serde_json::to_value(
            StartMoveRequest::new(k, service(), u.clone(), &password(p), t).unwrap(),
        )
        .unwrap()
    };
    let query = |kind, k: &ConfirmationKeys, u: &UserId, t| {
        serde_json::to_value(MoveQuery::new(k, kind, service(), u.clone(), t)).unwrap()
    };
    let cases = [
        (PATH_MOVE_START, start_body(&other_keys, &user, "7305", now), 401, "not_authenticated"),
        (PATH_MOVE_START, start_body(&keys, &user, "7305", now - 301), 400, "clock_skew"),
        (PATH_MOVE_START, start_body(&keys, &user, "1234", now), 400, "weak_activation_password"),
        (PATH_MOVE_START, json!({ "service_id": SERVICE }), 400, "invalid_request"),
        (
            PATH_MOVE_STATUS,
            query(MoveQueryKind::Cancel, &keys, &user, now),
            401,
            "not_authenticated",
        ),
        (
            PATH_MOVE_STATUS,
            query(MoveQueryKind::Status, &keys, &user, now + 301),
            400,
            "clock_skew",
        ),
        (PATH_MOVE_STATUS, json!([]), 400, "invalid_request"),
        (
            PATH_MOVE_CANCEL,
            query(MoveQueryKind::Status, &keys, &user, now),
            401,
            "not_authenticated",
        ),
        (PATH_MOVE_CANCEL, query(MoveQueryKind::Cancel, &keys, &user, now), 409, "no_pending_move"),
        (
            PATH_MOVE_CANCEL,
            query(MoveQueryKind::Cancel, &other_keys, &user, now),
            401,
            "not_authenticated",
        ),
    ];
    for (path, body, code, name) in cases {
        let (status, answer) = server.post(path, body.clone()).await;
        assert_eq!((status, answer["code"].as_str()), (code, Some(name)), "{path} {body}");
    }
    let (_, weak) = server.post(PATH_MOVE_START, start_body(&keys, &user, "1234", now)).await;
    assert_eq!(weak["reason"], "sequence");
    assert_eq!(server.count("SELECT count(*) FROM moves"), 0);
    assert_eq!(server.count("SELECT count(*) FROM audit WHERE action LIKE 'move%'"), 0);
    for u in [&user, &other_user] {
        assert_eq!(server.status(u.as_str()).await["state"], "in_use");
    }
}

#[tokio::test]
async fn the_bank_lists_and_cancels_a_customer_s_pending_move() {
    let server = Server::start().await;
    let (old_user, _, old_keys) = customer(&server).await;
    let prepared = start(&server, &old_keys, &old_user, "7305").await.unwrap();
    for user in [old_user.as_str(), prepared.new_user_id.as_str()] {
        let path = format!("/v1/admin/moves?service_id={SERVICE}&user_id={user}");
        let (code, body) = server.admin_get(&path).await;
        assert_eq!(code, 200, "{body}");
        assert_eq!(body["moves"][0]["state"], "pending", "{body}");
        assert_eq!(body["moves"][0]["new_user_id"], prepared.new_user_id.as_str());
    }
    let path = format!("/v1/admin/moves/{}/cancel", prepared.move_id);
    let (code, body) = server.admin_post(&path, json!({})).await;
    assert_eq!((code, &body["state"]), (200, &json!("cancelled")), "{body}");
    assert_eq!(server.admin_post(&path, json!({})).await.0, 409);
    assert_eq!(status(&server, &old_keys, &old_user).await, MoveStatus::Cancelled);
    assert_eq!(audited(&server, "move_cancelled_by_bank"), 1);
}
