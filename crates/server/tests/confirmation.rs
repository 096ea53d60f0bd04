//! Transaction confirmation through the bank's HTTP API (`docs/confirmation.md` §9), with the
//! app's side played by core exactly as the app plays it: the web tier creates a request, the
//! app fetches it with its proof, checks the bank's MAC, answers, and the web tier reads the
//! outcome. Bad input at every endpoint gets its documented code and changes nothing stored.
//! `confirmation_on_postgres.rs` runs these same tests on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Server, Setup, ADMIN_TOKEN, SERVICE};
use serde_json::{json, Value};
use softtoken_core::confirm::{
    AnswerRequest, ConfirmationKeys, Decision, FetchRequest, FetchResponse, MatchNumber, Request,
    PATH_ANSWER, PATH_PENDING,
};
use softtoken_core::ids::{ServiceId, UserId};
use softtoken_server::http::{AdminToken, HttpOptions};

const CONFIRM_TOKEN: &str = "test-confirm-token-0123456789";
const VERIFY_TOKEN: &str = "test-verify-token-0123456789";

fn setup() -> Setup {
    Setup {
        http: HttpOptions {
            admin_token: Some(AdminToken::new(ADMIN_TOKEN).unwrap()),
            verify_token: Some(AdminToken::new(VERIFY_TOKEN).unwrap()),
            confirm_token: Some(AdminToken::new(CONFIRM_TOKEN).unwrap()),
            ..HttpOptions::default()
        },
        ..Setup::default()
    }
}

/// A customer whose token is in use: issued, set up in the app, first code accepted.
struct Customer {
    user: String,
    keys: ConfirmationKeys,
}

impl Customer {
    fn service(&self) -> ServiceId {
        ServiceId::new(SERVICE).unwrap()
    }

    fn user_id(&self) -> UserId {
        UserId::new(&self.user).unwrap()
    }
}

async fn customer_in_use(server: &Server) -> Customer {
    let user = server.issue(None, "4821").await;
    let (token, _) = server.provision(&user, "4821").await.unwrap();
    let (status, body) = server.verify(&user, &server.code(&token)).await;
    assert_eq!((status, &body["state"]), (200, &json!("in_use")), "{body}");
    Customer { user, keys: ConfirmationKeys::derive(&token.seed) }
}

fn transfer(amount: Value) -> Value {
    json!({
        "kind": "transfer",
        "amount_yen": amount,
        "payee": {
            "bank": "みらい信用金庫",
            "branch": "本店営業部",
            "account_type": "ordinary",
            "account_number": "1234567",
            "holder": "ヤマダ　タロウ"
        },
        "note": "家賃 12月分"
    })
}

async fn create(server: &Server, c: &Customer, extra: Value) -> (u16, Value) {
    let mut body =
        json!({ "service_id": SERVICE, "user_id": c.user, "details": transfer(json!(50000)) });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    server.admin_post("/v1/admin/confirmations", body).await
}

/// The app's fetch at the server's time, checked as the app checks it.
async fn fetch(server: &Server, c: &Customer) -> Vec<Request> {
    let req = FetchRequest::new(&c.keys, c.service(), c.user_id(), server.now());
    let (status, body) = server.post(PATH_PENDING, serde_json::to_value(&req).unwrap()).await;
    assert_eq!(status, 200, "{body}");
    let fetched: FetchResponse = serde_json::from_value(body).unwrap();
    fetched
        .requests
        .into_iter()
        .map(|r| r.open(&c.keys, &c.service(), &c.user_id()).unwrap())
        .collect()
}

async fn answer(server: &Server, a: &AnswerRequest) -> (u16, Value) {
    server.post(PATH_ANSWER, serde_json::to_value(a).unwrap()).await
}

async fn status(server: &Server, id: &str) -> (u16, Value) {
    server.admin_get(&format!("/v1/admin/confirmations/{id}")).await
}

fn stored(server: &Server) -> (i64, i64) {
    (
        server.count("SELECT count(*) FROM confirmations"),
        server.count("SELECT count(*) FROM confirmations WHERE state <> 'pending'"),
    )
}

#[tokio::test]
async fn a_customer_approves_the_transfer_with_the_page_s_number_and_the_web_tier_sees_it() {
    let server = Server::start_with(setup()).await;
    let c = customer_in_use(&server).await;
    let (code, created) = create(&server, &c, json!({ "match_required": true })).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["state"], "pending");
    assert_eq!(created["expires_at"].as_u64().unwrap(), server.now() + 120);
    let number = MatchNumber::new(created["match_number"].as_str().unwrap()).unwrap();
    let id = created["id"].as_str().unwrap();

    let requests = fetch(&server, &c).await;
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].id().to_string(), id);
    assert_eq!(requests[0].details().amount().unwrap().yen(), 50_000);
    let (_, before) = status(&server, id).await;
    assert_eq!(before["state"], "pending");
    assert!(before.get("match_number").is_none(), "{before}");

    let approval = requests[0].answer(&c.keys, Decision::Approve, Some(number)).unwrap();
    let (code, answered) = answer(&server, &approval).await;
    assert_eq!((code, &answered), (200, &json!({ "id": id, "state": "approved" })));
    let (code, after) = status(&server, id).await;
    assert_eq!((code, &after["state"]), (200, &json!("approved")), "{after}");
    assert_eq!(after["answered_at"].as_u64(), Some(server.now()));
    assert_eq!(after["details"], transfer(json!(50000)));
    // Answered again (a replay, or a denial after the approval): the state stands.
    let denial = requests[0].answer(&c.keys, Decision::Deny, None).unwrap();
    for again in [&approval, &denial] {
        let (code, body) = answer(&server, again).await;
        assert_eq!((code, &body["state"]), (200, &json!("approved")), "{body}");
    }
    assert!(fetch(&server, &c).await.is_empty());
    assert_eq!(
        server.count(
            "SELECT count(*) FROM audit WHERE action = 'confirm_outcome' AND outcome = 'approved'"
        ),
        1
    );
    let (_, metrics) = server.admin_get("/metrics").await;
    let metrics = metrics.as_str().unwrap();
    for line in [
        "softtoken_confirmations_created_total 1",
        "softtoken_confirmations_final_total{state=\"approved\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} missing from\n{metrics}");
    }
}

#[tokio::test]
async fn a_wrong_number_a_denial_and_a_late_answer_each_end_the_request_as_the_rules_say() {
    let server = Server::start_with(setup()).await;
    let c = customer_in_use(&server).await;
    let (_, a) = create(&server, &c, json!({ "match_required": true })).await;
    let (_, b) = create(&server, &c, json!({})).await;
    let (_, late) = create(&server, &c, json!({ "lifetime_secs": 30 })).await;
    let mut requests = fetch(&server, &c).await;
    assert_eq!(requests.len(), 3);
    // Created in the same second, they come ordered by ID; the test takes them in its order.
    let order = [&a, &b, &late].map(|x| x["id"].as_str().unwrap().to_owned());
    requests.sort_by_key(|r| order.iter().position(|id| *id == r.id().to_string()));
    let shown = a["match_number"].as_str().unwrap();
    let other = format!("{:02}", (shown.parse::<u8>().unwrap() + 1) % 100);
    let wrong = requests[0]
        .answer(&c.keys, Decision::Approve, Some(MatchNumber::new(&other).unwrap()))
        .unwrap();
    assert_eq!(answer(&server, &wrong).await.1["state"], "wrong_number");
    let deny = requests[1].answer(&c.keys, Decision::Deny, None).unwrap();
    assert_eq!(answer(&server, &deny).await.1["state"], "denied");
    server.clock.advance(30);
    let too_late = requests[2].answer(&c.keys, Decision::Approve, None).unwrap();
    let (code, body) = answer(&server, &too_late).await;
    assert_eq!((code, &body["state"]), (200, &json!("expired")), "{body}");
    for (id, state) in [(&a["id"], "wrong_number"), (&b["id"], "denied"), (&late["id"], "expired")]
    {
        assert_eq!(status(&server, id.as_str().unwrap()).await.1["state"], state);
    }
}

#[tokio::test]
async fn a_request_nobody_answers_reads_expired_and_a_cancelled_one_cannot_be_approved() {
    let server = Server::start_with(setup()).await;
    let c = customer_in_use(&server).await;
    let (_, unanswered) = create(&server, &c, json!({ "lifetime_secs": 30 })).await;
    let (_, cancelled) = create(&server, &c, json!({})).await;
    let cancel_id = cancelled["id"].as_str().unwrap();
    let requests = fetch(&server, &c).await;
    let to_cancel = requests.iter().find(|r| r.id().to_string() == cancel_id).unwrap();
    let (code, body) =
        server.admin_post(&format!("/v1/admin/confirmations/{cancel_id}/cancel"), json!({})).await;
    assert_eq!((code, &body["state"]), (200, &json!("cancelled")), "{body}");
    let approval = to_cancel.answer(&c.keys, Decision::Approve, None).unwrap();
    assert_eq!(answer(&server, &approval).await.1["state"], "cancelled");
    server.clock.advance(30);
    let id = unanswered["id"].as_str().unwrap();
    assert_eq!(status(&server, id).await.1["state"], "expired");
    assert_eq!(server.count("SELECT count(*) FROM confirmations WHERE state = 'expired'"), 1);
    // Cancelling a final request leaves it as it is.
    let (code, body) =
        server.admin_post(&format!("/v1/admin/confirmations/{id}/cancel"), json!({})).await;
    assert_eq!((code, &body["state"]), (200, &json!("expired")), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_tier_waiting_for_the_outcome_gets_it_when_the_customer_answers() {
    let server = Server::start_with(setup()).await;
    let c = customer_in_use(&server).await;
    let (_, created) = create(&server, &c, json!({})).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/admin/confirmations/{id}?wait=25");
    let waiting = server.admin_get(&path);
    let answering = async {
        let requests = fetch(&server, &c).await;
        let deny = requests[0].answer(&c.keys, Decision::Deny, None).unwrap();
        answer(&server, &deny).await
    };
    let ((code, waited), (_, answered)) = tokio::join!(waiting, answering);
    assert_eq!(answered["state"], "denied");
    assert_eq!((code, &waited["state"]), (200, &json!("denied")), "{waited}");
    // A wait with nothing to wait for answers `pending` when it is over.
    let (_, other) = create(&server, &c, json!({})).await;
    let other = other["id"].as_str().unwrap();
    let (code, body) = server.admin_get(&format!("/v1/admin/confirmations/{other}?wait=1")).await;
    assert_eq!((code, &body["state"]), (200, &json!("pending")), "{body}");
}

#[tokio::test]
async fn the_web_tier_s_bad_requests_get_their_codes_and_store_nothing() {
    let server = Server::start_with(setup()).await;
    let c = customer_in_use(&server).await;
    let long = "あ".repeat(31);
    let mut over_long = transfer(json!(50000));
    over_long["payee"]["bank"] = json!(long);
    let mut half_width = transfer(json!(50000));
    half_width["payee"]["holder"] = json!("ﾔﾏﾀﾞ ﾀﾛｳ");
    let mut amount_and_payee = json!({ "kind": "new_payee", "amount_yen": 1 });
    amount_and_payee["payee"] = transfer(json!(1))["payee"].clone();
    let invalid = [
        json!({ "details": transfer(json!(0)) }),
        json!({ "details": transfer(json!(-5)) }),
        json!({ "details": transfer(json!(1.5)) }),
        json!({ "details": transfer(json!("50000")) }),
        json!({ "details": transfer(json!(10_000_000_000u64)) }),
        json!({ "details": over_long }),
        json!({ "details": half_width }),
        json!({ "details": amount_and_payee }),
        json!({ "details": { "kind": "sign_in", "note": "" } }),
        json!({ "lifetime_secs": 29 }),
        json!({ "lifetime_secs": 301 }),
        json!({ "colour": "red" }),
    ];
    for extra in invalid {
        let (code, body) = create(&server, &c, extra.clone()).await;
        assert_eq!((code, &body["code"]), (400, &json!("invalid_request")), "{extra}: {body}");
    }
    let unknown = Customer { user: "999812345678".into(), keys: c.keys.clone() };
    let (code, body) = create(&server, &unknown, json!({})).await;
    assert_eq!((code, &body["code"]), (404, &json!("unknown_registration")), "{body}");
    let issued = Customer { user: server.issue(None, "4821").await, keys: c.keys.clone() };
    let (code, body) = create(&server, &issued, json!({})).await;
    assert_eq!((code, &body["code"]), (409, &json!("not_delivered")), "{body}");
    let ended = customer_in_use(&server).await;
    let (code, _) = server
        .admin_post(&format!("/v1/admin/registrations/{SERVICE}/{}/revoke", ended.user), json!({}))
        .await;
    assert_eq!(code, 200);
    let (code, body) = create(&server, &ended, json!({})).await;
    assert_eq!((code, &body["code"]), (410, &json!("ended")), "{body}");
    assert_eq!(stored(&server), (0, 0));

    for _ in 0..5 {
        assert_eq!(create(&server, &c, json!({})).await.0, 201);
    }
    let (code, body) = create(&server, &c, json!({})).await;
    assert_eq!((code, &body["code"]), (409, &json!("too_many_pending")), "{body}");
    assert_eq!(stored(&server), (5, 0));

    for (path, code, want) in [
        ("/v1/admin/confirmations/not-an-id", 400, "invalid_request"),
        ("/v1/admin/confirmations/AAAAAAAAAAAAAAAAAAAAAA?wait=31", 400, "invalid_request"),
        ("/v1/admin/confirmations/AAAAAAAAAAAAAAAAAAAAAA?wait=-1", 400, "invalid_request"),
        ("/v1/admin/confirmations/AAAAAAAAAAAAAAAAAAAAAA?hold=1", 400, "invalid_request"),
        ("/v1/admin/confirmations/AAAAAAAAAAAAAAAAAAAAAA", 404, "unknown_confirmation"),
    ] {
        let (got, body) = server.admin_get(path).await;
        assert_eq!((got, &body["code"]), (code, &json!(want)), "{path}: {body}");
    }
    let (code, body) =
        server.admin_post("/v1/admin/confirmations/AAAAAAAAAAAAAAAAAAAAAA/cancel", json!({})).await;
    assert_eq!((code, &body["code"]), (404, &json!("unknown_confirmation")), "{body}");
    assert_eq!(stored(&server), (5, 0));
}

#[tokio::test]
async fn only_the_admin_and_confirm_tokens_reach_the_confirmations_and_the_confirm_token_nothing_else(
) {
    let server = Server::start_with(setup()).await;
    let c = customer_in_use(&server).await;
    let body = json!({ "service_id": SERVICE, "user_id": c.user, "details": transfer(json!(1)) });
    let post = |token: &'static str, path: &'static str, body: Value| {
        let req = server.http.post(format!("{}{path}", server.admin_url)).bearer_auth(token);
        async move { req.json(&body).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(post(VERIFY_TOKEN, "/v1/admin/confirmations", body.clone()).await, 401);
    assert_eq!(
        post("no-such-token-0123456789", "/v1/admin/confirmations", body.clone()).await,
        401
    );
    assert_eq!(stored(&server), (0, 0));
    assert_eq!(post(CONFIRM_TOKEN, "/v1/admin/confirmations", body.clone()).await, 201);
    let issue =
        json!({ "service_id": SERVICE, "mail": "a@example.jp", "activation_password": "4821" });
    assert_eq!(post(CONFIRM_TOKEN, "/v1/admin/registrations", issue).await, 401);
    let verify = json!({ "service_id": SERVICE, "user_id": c.user, "code": "123456" });
    assert_eq!(post(CONFIRM_TOKEN, "/v1/admin/verify", verify).await, 401);
    assert_eq!(
        server.count("SELECT count(*) FROM audit WHERE action = 'confirm_create' AND actor = 'credential:legacy-confirm'"),
        1
    );
}

#[tokio::test]
async fn the_app_s_bad_fetches_and_answers_are_refused_and_change_nothing() {
    let mut lenient = setup();
    lenient.http.rate_limits.per_address_burst = 100;
    lenient.http.registration_limits.per_address_burst = 100;
    let server = Server::start_with(lenient).await;
    let c = customer_in_use(&server).await;
    let (_, created) = create(&server, &c, json!({ "match_required": true })).await;
    let number = MatchNumber::new(created["match_number"].as_str().unwrap()).unwrap();
    let request = fetch(&server, &c).await.remove(0);
    let now = server.now();

    // Fetch: a wrong key, an unknown registration, one not in use: the same 401.
    let stranger = ConfirmationKeys::derive(
        &softtoken_core::totp::Seed::new(zeroize::Zeroizing::new(vec![7; 32])).unwrap(),
    );
    let issued = server.issue(None, "4821").await;
    for (keys, user) in
        [(&stranger, c.user.as_str()), (&c.keys, "999812345678"), (&c.keys, issued.as_str())]
    {
        let req = FetchRequest::new(keys, c.service(), UserId::new(user).unwrap(), now);
        let (code, body) = server.post(PATH_PENDING, serde_json::to_value(&req).unwrap()).await;
        assert_eq!((code, &body["code"]), (401, &json!("not_authenticated")), "{body}");
    }
    // A right proof with a clock far off: told the bank's time.
    let skewed = FetchRequest::new(&c.keys, c.service(), c.user_id(), now - 301);
    let (code, body) = server.post(PATH_PENDING, serde_json::to_value(&skewed).unwrap()).await;
    assert_eq!((code, &body["code"]), (400, &json!("clock_skew")), "{body}");
    assert_eq!(body["server_time"].as_u64(), Some(now));
    let (code, body) = server.post(PATH_PENDING, json!({ "service_id": SERVICE })).await;
    assert_eq!((code, &body["code"]), (400, &json!("invalid_request")), "{body}");

    // Answer: a flipped decision, another token's MAC, a number the app never typed.
    let approval = request.answer(&c.keys, Decision::Approve, Some(number.clone())).unwrap();
    let mut flipped = approval.clone();
    flipped.decision = Decision::Deny;
    flipped.typed_number = None;
    let mut tampered = approval.clone();
    tampered.mac.0[0] ^= 1;
    let mut other_number = approval.clone();
    other_number.typed_number = Some(MatchNumber::new("00").unwrap());
    let mut other_user = approval.clone();
    other_user.user_id = UserId::new(&issued).unwrap();
    for bad in [&flipped, &tampered, &other_number, &other_user] {
        let (code, body) = answer(&server, bad).await;
        assert_eq!((code, &body["code"]), (401, &json!("not_authenticated")), "{body}");
    }
    let mut unknown_id = approval.clone();
    unknown_id.id = softtoken_core::confirm::ConfirmationId::from_bytes([9; 16]);
    let (code, body) = answer(&server, &unknown_id).await;
    assert_eq!((code, &body["code"]), (404, &json!("unknown_confirmation")), "{body}");
    let mut body = serde_json::to_value(&approval).unwrap();
    body["id"] = json!("x".repeat(5000));
    let (code, refused) = server.post(PATH_ANSWER, body).await;
    assert_eq!((code, &refused["code"]), (400, &json!("invalid_request")), "{refused}");
    let (code, refused) = server.post(PATH_ANSWER, json!({ "pad": "x".repeat(20_000) })).await;
    assert_eq!((code, &refused["code"]), (413, &json!("body_too_large")), "{refused}");
    assert_eq!(stored(&server), (1, 0));
    assert_eq!(status(&server, created["id"].as_str().unwrap()).await.1["state"], "pending");
    // The real answer still works.
    assert_eq!(answer(&server, &approval).await.1["state"], "approved");
}

#[tokio::test]
async fn the_offline_code_for_the_payee_and_amount_works_once() {
    let server = Server::start_with(setup()).await;
    let c = customer_in_use(&server).await;
    let account = softtoken_core::confirm::AccountNumber::new("1234567").unwrap();
    let amount = softtoken_core::confirm::Amount::new(50_000).unwrap();
    let code =
        softtoken_core::confirm::offline::code(&c.keys, &account, amount, server.now()).unwrap();
    let check = |amount: u64, code: &str| {
        json!({ "service_id": SERVICE, "user_id": c.user, "account_number": "1234567",
                "amount_yen": amount, "code": code })
    };
    let path = "/v1/admin/confirmations/offline";
    assert_eq!(server.admin_post(path, check(50_001, &code)).await.1, json!({ "valid": false }));
    assert_eq!(server.admin_post(path, check(50_000, &code)).await.1, json!({ "valid": true }));
    assert_eq!(server.admin_post(path, check(50_000, &code)).await.1, json!({ "valid": false }));
    for bad in [check(0, &code), check(50_000, "1234")] {
        let (status, body) = server.admin_post(path, bad).await;
        assert_eq!((status, &body["code"]), (400, &json!("invalid_request")), "{body}");
    }
}

#[tokio::test]
async fn a_prober_is_throttled_per_address_and_a_registration_s_failures_per_registration() {
    let mut s = setup();
    s.http.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    let server = Server::start_with(s).await;
    let c = customer_in_use(&server).await;
    let other = customer_in_use(&server).await;
    let stranger = ConfirmationKeys::derive(
        &softtoken_core::totp::Seed::new(zeroize::Zeroizing::new(vec![7; 32])).unwrap(),
    );
    let from = |client: String, keys: &ConfirmationKeys, user: &Customer| {
        let req = FetchRequest::new(keys, user.service(), user.user_id(), server.now());
        let call = server
            .http
            .post(format!("{}{PATH_PENDING}", server.url))
            .header("x-forwarded-for", client)
            .json(&req);
        async move {
            let resp = call.send().await.unwrap();
            let code = resp.status().as_u16();
            (code, resp.json::<Value>().await.unwrap())
        }
    };
    // One registration probed from ten addresses: its bucket empties, the others' do not.
    for i in 0..10u8 {
        assert_eq!(from(format!("198.51.100.{i}"), &stranger, &c).await.0, 401);
    }
    let (code, body) = from("198.51.100.77".into(), &stranger, &c).await;
    assert_eq!((code, &body["code"]), (429, &json!("rate_limited")), "{body}");
    assert!(body["retry_after"].as_u64().unwrap() >= 1);
    assert_eq!(from("198.51.100.78".into(), &other.keys, &other).await.0, 200);
    // One address probing many registrations: its own bucket empties.
    for _ in 0..10 {
        assert_eq!(from("203.0.113.9".into(), &stranger, &other).await.0 / 100, 4);
    }
    let (code, body) = from("203.0.113.9".into(), &other.keys, &other).await;
    assert_eq!((code, &body["code"]), (429, &json!("rate_limited")), "{body}");
    let (_, metrics) = server.admin_get("/metrics").await;
    assert!(metrics
        .as_str()
        .unwrap()
        .contains("softtoken_confirmation_refused_total{reason=\"rate_limited\"} "));
}
