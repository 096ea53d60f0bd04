//! The token ends its own registration (`POST /v1/registrations/end`, `docs/protocol.md` §4.4):
//! a customer deleting the token in the app ends it at the bank as the bank's own end of use
//! does, proven with the token's key; every other request is refused with its documented code
//! and ends nothing. `registration_end_on_postgres.rs` runs these same tests on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Server, SERVICE};
use serde_json::{json, Value};
use softtoken_core::confirm::end::{EndRequest, PATH_END};
use softtoken_core::confirm::{ConfirmationKeys, FetchRequest};
use softtoken_core::ids::{ServiceId, UserId};
use softtoken_core::protocol::NewToken;
use softtoken_core::Error;

/// A customer whose token is delivered (and, with `first_code`, in use).
async fn customer(server: &Server, first_code: bool) -> (String, NewToken, ConfirmationKeys) {
    let user = server.issue(None, "4821").await;
    let (token, _) = server.provision(&user, "4821").await.unwrap();
    if first_code {
        let (status, body) = server.verify(&user, &server.code(&token)).await;
        assert_eq!((status, &body["state"]), (200, &json!("in_use")), "{body}");
    }
    let keys = ConfirmationKeys::derive(&token.seed);
    (user, token, keys)
}

fn end_request(keys: &ConfirmationKeys, user: &str, time: u64) -> Value {
    let req =
        EndRequest::new(keys, ServiceId::new(SERVICE).unwrap(), UserId::new(user).unwrap(), time);
    serde_json::to_value(req).unwrap()
}

fn ends_logged(server: &Server, user: &str) -> i64 {
    server.count(&format!(
        "SELECT count(*) FROM audit WHERE action = 'end' AND actor = 'token' \
         AND outcome = 'ok' AND user_id = '{user}'"
    ))
}

#[tokio::test]
async fn customer_deleting_the_token_ends_it_at_the_bank_and_its_codes_are_refused() {
    let server = Server::start().await;
    let (user, token, keys) = customer(&server, true).await;
    let (status, body) = server.post(PATH_END, end_request(&keys, &user, server.now())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({ "service_id": SERVICE, "user_id": user, "ended_at": server.now() }),
        "{body}"
    );
    assert_eq!(server.status(&user).await["state"], "ended");
    let (status, body) = server.verify(&user, &server.code(&token)).await;
    assert_eq!((status, body["code"].as_str()), (410, Some("ended")), "{body}");
    assert_eq!(ends_logged(&server, &user), 1, "recorded once, as the token's");
}

#[tokio::test]
async fn a_token_delivered_but_not_yet_used_can_end_itself_too() {
    let server = Server::start().await;
    let (user, _, keys) = customer(&server, false).await;
    let (status, body) = server.post(PATH_END, end_request(&keys, &user, server.now())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(server.status(&user).await["state"], "ended");
}

#[tokio::test]
async fn another_token_s_key_a_fetch_proof_or_unknown_ids_end_nothing() {
    let server = Server::start().await;
    let (user, _, keys) = customer(&server, true).await;
    let (other, _, other_keys) = customer(&server, true).await;
    let now = server.now();
    let fetch = FetchRequest::new(
        &keys,
        ServiceId::new(SERVICE).unwrap(),
        UserId::new(&user).unwrap(),
        now,
    );
    // The same four fields, the fetch's label: it must not pass for an end.
    let fetch_as_end = serde_json::to_value(fetch).unwrap();
    for body in [
        end_request(&other_keys, &user, now),
        fetch_as_end,
        end_request(&keys, "999800000009", now),
    ] {
        let (status, answer) = server.post(PATH_END, body.clone()).await;
        assert_eq!((status, answer["code"].as_str()), (401, Some("not_authenticated")), "{body}");
    }
    // An issued registration has no seed yet: nothing to prove it with.
    let issued = server.issue(None, "4821").await;
    let (status, answer) = server.post(PATH_END, end_request(&keys, &issued, now)).await;
    assert_eq!((status, answer["code"].as_str()), (401, Some("not_authenticated")));
    for u in [&user, &other] {
        assert_eq!(server.status(u).await["state"], "in_use");
    }
    assert_eq!(server.status(&issued).await["state"], "issued");
    assert_eq!(server.count("SELECT count(*) FROM audit WHERE action = 'end'"), 0);
}

#[tokio::test]
async fn a_request_replayed_after_the_end_or_held_back_past_its_window_is_refused() {
    let server = Server::start().await;
    let (user, _, keys) = customer(&server, true).await;
    let now = server.now();
    // Held back: the proof is right, the time is not; the answer gives the bank's clock.
    let (status, answer) = server.post(PATH_END, end_request(&keys, &user, now - 301)).await;
    assert_eq!((status, answer["code"].as_str()), (400, Some("clock_skew")), "{answer}");
    assert_eq!(answer["server_time"], json!(now));
    assert_eq!(server.status(&user).await["state"], "in_use");
    // At the window's edge it is taken; the same request again is answered `ended`.
    let request = end_request(&keys, &user, now - 300);
    assert_eq!(server.post(PATH_END, request.clone()).await.0, 200);
    let (status, answer) = server.post(PATH_END, request).await;
    assert_eq!((status, answer["code"].as_str()), (410, Some("ended")), "{answer}");
    assert_eq!(ends_logged(&server, &user), 1, "the replay ended nothing");
}

#[tokio::test]
async fn a_registration_the_bank_ended_answers_ended_and_a_new_one_is_not_ended_by_the_old_token() {
    let server = Server::start().await;
    let (user, _, old_keys) = customer(&server, true).await;
    let (status, _) = server
        .admin_post(&format!("/v1/admin/registrations/{SERVICE}/{user}/revoke"), json!({}))
        .await;
    assert_eq!(status, 200);
    let (status, answer) = server.post(PATH_END, end_request(&old_keys, &user, server.now())).await;
    assert_eq!((status, answer["code"].as_str()), (410, Some("ended")), "{answer}");
    // A day later (the bank's wait before a pair is issued again) the customer issues a new
    // token for the same user ID: the old one cannot end it.
    server.clock.advance(86_400);
    server.issue(Some(&user), "7315").await;
    let (token, _) = server.provision(&user, "7315").await.unwrap();
    let (status, answer) = server.post(PATH_END, end_request(&old_keys, &user, server.now())).await;
    assert_eq!((status, answer["code"].as_str()), (401, Some("not_authenticated")), "{answer}");
    assert_eq!(server.status(&user).await["state"], "delivered");
    let new_keys = ConfirmationKeys::derive(&token.seed);
    assert_eq!(server.post(PATH_END, end_request(&new_keys, &user, server.now())).await.0, 200);
}

#[tokio::test]
async fn malformed_ends_are_invalid_requests_and_a_prober_is_throttled() {
    let server = Server::start().await;
    let (user, _, keys) = customer(&server, true).await;
    let mut extra = end_request(&keys, &user, server.now());
    extra["reason"] = json!("lost phone");
    for body in [json!({}), extra, json!({ "service_id": SERVICE, "user_id": user })] {
        let (status, answer) = server.post(PATH_END, body.clone()).await;
        assert_eq!((status, answer["code"].as_str()), (400, Some("invalid_request")), "{body}");
    }
    let wrong = ConfirmationKeys::derive(
        &softtoken_core::totp::Seed::new(zeroize::Zeroizing::new(vec![7; 32])).unwrap(),
    );
    let mut last = 0;
    for _ in 0..12 {
        last = server.post(PATH_END, end_request(&wrong, &user, server.now())).await.0;
    }
    assert_eq!(last, 429, "failures are throttled like the confirmation answers'");
    assert_eq!(server.status(&user).await["state"], "in_use");
}

#[tokio::test]
async fn the_app_s_client_ends_the_token_and_tells_each_refusal_by_its_own_error() {
    let server = Server::start().await;
    let (user, _, keys) = customer(&server, true).await;
    let (service, user_id) = (ServiceId::new(SERVICE).unwrap(), UserId::new(&user).unwrap());
    let client = server.client();
    let now = server.now();
    // The phone's clock is ten minutes behind and it has not learnt that yet.
    let skewed = client.end_at_bank(&keys, &service, &user_id, now - 600, now - 600).await;
    assert!(matches!(skewed, Err(Error::DeviceClockWrong { offset_secs: 600 })), "{skewed:?}");
    let (other, _, other_keys) = customer(&server, true).await;
    let wrong = client.end_at_bank(&other_keys, &service, &user_id, now, now).await;
    assert!(matches!(wrong, Err(Error::ConfirmationNotAccepted)), "{wrong:?}");
    let ended = client.end_at_bank(&keys, &service, &user_id, now, now).await.unwrap();
    assert_eq!((ended.user_id, ended.ended_at), (user_id.clone(), now));
    let again = client.end_at_bank(&keys, &service, &user_id, now, now).await;
    assert!(matches!(again, Err(Error::RegistrationEnded)), "{again:?}");
    assert_eq!(server.status(&other).await["state"], "in_use");
}
