//! The demo bank's transfer and phishing-relay pages' actions, on a real server on loopback
//! with the demo registration in use: a transfer the app approves, a relayed one the app shows
//! changed and the customer denies, the offline code, and bad input. The page can create, read
//! and withdraw a request; only the app's answer (the token's key) approves one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Server, Setup};
use serde_json::{json, Value};
use softtoken_core::confirm::{
    offline, AccountNumber, Amount, ConfirmationKeys, Decision, FetchRequest, MatchNumber, Request,
};
use softtoken_core::ids::{ActivationPassword, ServiceId, UserId};
use softtoken_core::protocol::NewToken;
use softtoken_server::bank::{Actor, Demo, DEMO_SERVICE_ID, DEMO_USER_ID};

const PASSWORD: &str = "3718";

fn ids() -> (ServiceId, UserId) {
    (ServiceId::new(DEMO_SERVICE_ID).unwrap(), UserId::new(DEMO_USER_ID).unwrap())
}

fn demo() -> Setup {
    Setup {
        demo: Some(Demo { password: ActivationPassword::new(PASSWORD).unwrap() }),
        ..Setup::default()
    }
}

/// Steps 1–13 as a visitor makes them: the demo token set up in the app and in use.
async fn demo_in_use() -> (Server, NewToken) {
    let server = Server::start_with(demo()).await;
    server.state.bank().arm_demo(server.now()).await.unwrap();
    let (token, _) = server.provision(DEMO_USER_ID, PASSWORD).await.unwrap();
    let (status, body) =
        server.post("/demo/api/start-use", json!({ "code": server.code(&token) })).await;
    assert_eq!((status, &body["accepted"]), (200, &json!(true)), "{body}");
    (server, token)
}

fn payee() -> Value {
    json!({
        "bank": "みらい信用金庫",
        "branch": "本店営業部",
        "account_type": "ordinary",
        "account_number": "1234567",
        "holder": "ヤマダ　タロウ",
    })
}

async fn get(server: &Server, path: &str) -> (u16, Value) {
    let resp = server.http.get(format!("{}{path}", server.url)).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// What the app does: fetch its pending requests, check the bank's MAC, and answer the first.
async fn app_answers(
    server: &Server,
    token: &NewToken,
    decision: Decision,
    typed: Option<&str>,
) -> Request {
    let keys = ConfirmationKeys::derive(&token.seed);
    let (service, user) = ids();
    let now = server.now();
    let fetch = FetchRequest::new(&keys, service.clone(), user.clone(), now);
    let fetched = server.state.bank().fetch_confirmations(&fetch, now).await.unwrap();
    let signed = fetched.requests.into_iter().next().expect("the app sees the request");
    let request = signed.open(&keys, &service, &user).unwrap();
    let answer =
        request.answer(&keys, decision, typed.map(|n| MatchNumber::new(n).unwrap())).unwrap();
    server.state.bank().answer_confirmation(&Actor::Token(None), &answer, now).await.unwrap();
    request
}

#[tokio::test(flavor = "multi_thread")]
async fn customer_approves_a_transfer_in_the_app_with_the_pages_number_and_it_is_accepted() {
    let (server, token) = demo_in_use().await;
    let (status, created) =
        server.post("/demo/api/transfer", json!({ "payee": payee(), "amount_yen": 50000 })).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["state"], "pending");
    assert_eq!(created["match_required"], true);
    let number = created["match_number"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();

    let (status, body) = get(&server, &format!("/demo/api/transfer/{id}")).await;
    assert_eq!((status, body["state"].as_str()), (200, Some("pending")), "{body}");

    let shown = app_answers(&server, &token, Decision::Approve, Some(&number)).await;
    let shown = serde_json::to_value(shown.details()).unwrap();
    assert_eq!(shown["amount_yen"], 50000, "the app shows the amount the customer typed");
    assert_eq!(shown["payee"], payee());

    let (status, body) = get(&server, &format!("/demo/api/transfer/{id}?wait=5")).await;
    assert_eq!((status, body["state"].as_str()), (200, Some("approved")), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transfer_approved_with_another_number_or_denied_does_not_run() {
    let (server, token) = demo_in_use().await;
    for (decision, typed, state) in
        [(Decision::Approve, Some("wrong"), "wrong_number"), (Decision::Deny, None, "denied")]
    {
        let (_, created) = server
            .post("/demo/api/transfer", json!({ "payee": payee(), "amount_yen": 1200 }))
            .await;
        let id = created["id"].as_str().unwrap();
        let number = created["match_number"].as_str().unwrap();
        let other = format!("{:02}", (number.parse::<u32>().unwrap() + 1) % 100);
        let typed = typed.map(|_| other.as_str());
        app_answers(&server, &token, decision, typed).await;
        let (_, body) = get(&server, &format!("/demo/api/transfer/{id}?wait=5")).await;
        assert_eq!(body["state"], state, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_relay_that_changes_the_amount_shows_the_changed_amount_in_the_app_and_the_denial_stops_it(
) {
    let (server, token) = demo_in_use().await;
    let (status, relayed) = server
        .post(
            "/demo/api/relay",
            json!({ "payee": payee(), "amount_yen": 30000, "change": "amount" }),
        )
        .await;
    assert_eq!(status, 201, "{relayed}");
    assert_eq!(relayed["entered"]["amount_yen"], 30000);
    assert_eq!(relayed["sent"]["amount_yen"], 300_000);
    let id = relayed["confirmation"]["id"].as_str().unwrap().to_owned();

    let shown = app_answers(&server, &token, Decision::Deny, None).await;
    assert_eq!(
        serde_json::to_value(shown.details()).unwrap()["amount_yen"],
        300_000,
        "the app shows what the bank received, not what the fake site showed"
    );
    let (_, body) = get(&server, &format!("/demo/api/transfer/{id}?wait=5")).await;
    assert_eq!(body["state"], "denied", "{body}");
    assert_eq!(body["details"]["amount_yen"], 300_000);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_relay_that_changes_the_payee_shows_the_attackers_account_in_the_app() {
    let (server, token) = demo_in_use().await;
    let (status, relayed) = server
        .post(
            "/demo/api/relay",
            json!({ "payee": payee(), "amount_yen": 30000, "change": "payee" }),
        )
        .await;
    assert_eq!(status, 201, "{relayed}");
    assert_eq!(relayed["entered"]["payee"], payee());
    assert_ne!(relayed["sent"]["payee"]["account_number"], "1234567");
    let shown = app_answers(&server, &token, Decision::Deny, None).await;
    let shown = serde_json::to_value(shown.details()).unwrap();
    assert_eq!(shown["payee"], relayed["sent"]["payee"]);
    assert_eq!(shown["amount_yen"], 30000);
}

#[tokio::test(flavor = "multi_thread")]
async fn customer_without_network_proves_the_transfer_with_the_offline_code_once() {
    let (server, token) = demo_in_use().await;
    let (_, created) =
        server.post("/demo/api/transfer", json!({ "payee": payee(), "amount_yen": 50000 })).await;
    let id = created["id"].as_str().unwrap();
    let (status, body) = server.post(&format!("/demo/api/transfer/{id}/cancel"), json!({})).await;
    assert_eq!((status, body["state"].as_str()), (200, Some("cancelled")), "{body}");

    let keys = ConfirmationKeys::derive(&token.seed);
    let code = offline::code(
        &keys,
        &AccountNumber::new("1234567").unwrap(),
        Amount::new(50000).unwrap(),
        server.now(),
    )
    .unwrap();
    let check = json!({ "account_number": "1234567", "amount_yen": 50000, "code": code });
    let (status, body) = server.post("/demo/api/transfer/offline", check.clone()).await;
    assert_eq!((status, &body["valid"]), (200, &json!(true)), "{body}");
    let (_, body) = server.post("/demo/api/transfer/offline", check).await;
    assert_eq!(body["valid"], false, "a code works once");
    let other = json!({ "account_number": "1234567", "amount_yen": 50001, "code": code });
    let (_, body) = server.post("/demo/api/transfer/offline", other).await;
    assert_eq!(body["valid"], false, "the code is for that amount only");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_transfers_get_a_clear_refusal_and_nothing_on_the_page_can_approve() {
    let (server, _token) = demo_in_use().await;
    let mut half_width = payee();
    half_width["holder"] = json!("ﾔﾏﾀﾞ ﾀﾛｳ");
    let mut short = payee();
    short["account_number"] = json!("123456");
    for body in [
        json!({ "payee": payee(), "amount_yen": 0 }),
        json!({ "payee": payee(), "amount_yen": 1.5 }),
        json!({ "payee": payee(), "amount_yen": 10_000_000_000_u64 }),
        json!({ "payee": half_width, "amount_yen": 100 }),
        json!({ "payee": short, "amount_yen": 100 }),
        json!({ "payee": payee(), "amount_yen": 100, "match_required": false }),
        json!({ "payee": payee(), "amount_yen": 100, "approved": true }),
    ] {
        let (status, answer) = server.post("/demo/api/transfer", body.clone()).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (400, Some("invalid_request")),
            "{body}: {answer}"
        );
    }
    let (status, answer) = server
        .post("/demo/api/relay", json!({ "payee": payee(), "amount_yen": 100, "change": "holder" }))
        .await;
    assert_eq!(status, 400, "{answer}");

    let (_, created) =
        server.post("/demo/api/transfer", json!({ "payee": payee(), "amount_yen": 100 })).await;
    let id = created["id"].as_str().unwrap();
    for path in ["/demo/api/transfer/not-an-id", &format!("/demo/api/transfer/{id}?wait=31")] {
        assert_eq!(get(&server, path).await.0, 400, "{path}");
    }
    let (status, answer) = get(&server, "/demo/api/transfer/AAECAwQFBgcICQoLDA0ODw").await;
    assert_eq!((status, answer["code"].as_str()), (404, Some("unknown_confirmation")));
    for path in [format!("/demo/api/transfer/{id}/approve"), format!("/demo/api/transfer/{id}")] {
        let (status, _) = server.post(&path, json!({ "decision": "approve" })).await;
        assert!(status == 404 || status == 405, "{path}: {status}");
    }
    let (_, body) = get(&server, &format!("/demo/api/transfer/{id}")).await;
    assert_eq!(body["state"], "pending", "still waiting for the app");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transfer_before_one_time_passwords_are_in_use_is_refused() {
    let server = Server::start_with(demo()).await;
    server.state.bank().arm_demo(server.now()).await.unwrap();
    let (status, answer) =
        server.post("/demo/api/transfer", json!({ "payee": payee(), "amount_yen": 100 })).await;
    assert_eq!((status, answer["code"].as_str()), (409, Some("not_delivered")), "{answer}");
}

#[tokio::test]
async fn the_transfer_and_relay_pages_load_every_script_and_style_they_name() {
    let server = Server::start_with(demo()).await;
    for page in ["/demo/transfer/", "/demo/relay/"] {
        let resp = server.http.get(format!("{}{page}", server.url)).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{page}");
        let html = resp.text().await.unwrap();
        let named: Vec<&str> = html
            .split(['"', '\''])
            .filter(|s| s.starts_with("/demo/") && (s.ends_with(".js") || s.ends_with(".css")))
            .collect();
        assert!(named.contains(&"/demo/pay-text.js") && named.contains(&"/demo/pay.js"), "{page}");
        for asset in named {
            let resp = server.http.get(format!("{}{asset}", server.url)).send().await.unwrap();
            assert_eq!(resp.status().as_u16(), 200, "{page} names {asset}");
            assert!(!resp.text().await.unwrap().is_empty(), "{asset}");
        }
    }
}
