//! Malformed, mistyped, oversized and random input to every endpoint, through the routers
//! without a socket: always a 4xx with an error body, never a 5xx, never a panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Method, Request};
use axum::Router;
use serde_json::{json, Value};
use softtoken_core::ids::{ActivationPassword, ServiceId, UserId};
use softtoken_core::protocol::wire::StartResponse;
use softtoken_core::protocol::ClientHandshake;
use softtoken_server::bank::{Demo, DEMO_SERVICE_ID, DEMO_USER_ID};
use softtoken_server::clock::ManualClock;
use softtoken_server::http::{AdminToken, HttpOptions};
use softtoken_server::ratelimit::RateLimits;
use softtoken_server::testing::{BankOptions, TestBank};
use tower::ServiceExt as _;

const ADMIN: &str = "bad-input-admin-token-0000";

/// Limits the tests never reach, so every request reaches the handlers.
const UNLIMITED: RateLimits = RateLimits {
    per_address_burst: 1_000_000,
    per_address_per_minute: 1_000_000,
    total_burst: 1_000_000,
    total_per_minute: 1_000_000,
};

/// The public and the admin router, as the binary serves them on two listeners.
#[derive(Clone)]
struct Routers {
    public: Router,
    admin: Router,
}

async fn router(peer: [u8; 4]) -> (Routers, TestBank) {
    let bank = TestBank::open(BankOptions {
        demo: Some(Demo { password: ActivationPassword::new("1234").unwrap() }),
        clock: Arc::new(ManualClock::new(1_767_225_630)),
        http: HttpOptions {
            admin_token: Some(AdminToken::new(ADMIN).unwrap()),
            rate_limits: UNLIMITED,
            bearer_limits: UNLIMITED,
            start_limits: UNLIMITED,
            ..HttpOptions::default()
        },
        ..BankOptions::default()
    })
    .unwrap();
    bank.bank().arm_demo(1_767_225_630).await.unwrap();
    let peer = MockConnectInfo(SocketAddr::from((peer, 40000)));
    let r = Routers { public: bank.router().layer(peer), admin: bank.admin_router().layer(peer) };
    (r, bank)
}

async fn send(
    r: &Routers,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
    admin: bool,
) -> (u16, Value) {
    send_to_host(r, method, path, content_type, body, admin, "localhost:8080").await
}

/// As [`send`], naming `host` in the `Host` header as a browser does.
async fn send_to_host(
    r: &Routers,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
    admin: bool,
    host: &str,
) -> (u16, Value) {
    let mut req = Request::builder().method(method).uri(path).header("host", host);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    if admin {
        req = req.header("authorization", format!("Bearer {ADMIN}"));
    }
    let router = if path.starts_with("/v1/admin") || path.starts_with("/metrics") {
        r.admin.clone()
    } else {
        r.public.clone()
    };
    let resp = router.oneshot(req.body(Body::from(body)).unwrap()).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn post_json(r: &Routers, path: &str, body: &str, admin: bool) -> (u16, Value) {
    send(r, Method::POST, path, Some("application/json"), body.as_bytes().to_vec(), admin).await
}

fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or("<no error body>")
}

#[tokio::test]
async fn malformed_requests_get_a_clear_4xx_code() {
    let (r, _dir) = router([127, 0, 0, 1]).await;
    let start = "/v1/provision/start";
    let nonce = "A".repeat(43);
    let cases: Vec<(&str, String, u16, &str)> = vec![
        (start, "{".into(), 400, "invalid_request"),
        (start, "[]".into(), 400, "invalid_request"),
        (start, r#"{"service_id": 10112231}"#.into(), 400, "invalid_request"),
        (
            start,
            format!(
                r#"{{"service_id":"10112231","user_id":"999800000001","client_nonce":"{nonce}","pake":"x","extra":1}}"#
            ),
            400,
            "invalid_request",
        ),
        (
            start,
            format!(
                r#"{{"service_id":"1011223","user_id":"999800000001","client_nonce":"{nonce}","pake":"{}"}}"#,
                "Q".repeat(44)
            ),
            400,
            "invalid_request",
        ),
        (
            "/v1/provision/confirm",
            r#"{"attempt_id":"AAAAAAAAAAAAAAAAAAAAAA","client_confirm":"short"}"#.into(),
            400,
            "invalid_request",
        ),
        (
            "/v1/provision/ack",
            format!(r#"{{"attempt_id":"AAAAAAAAAAAAAAAAAAAAAA","ack":"{nonce}"}}"#),
            404,
            "unknown_attempt",
        ),
    ];
    for (path, body, status, want) in cases {
        let (got, answer) = post_json(&r, path, &body, false).await;
        assert_eq!((got, code(&answer)), (status, want), "{path} {body}: {answer}");
        assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()));
    }

    let (status, answer) = send(&r, Method::POST, start, None, b"{}".to_vec(), false).await;
    assert_eq!((status, code(&answer)), (400, "invalid_request"));
    let huge = format!(r#"{{"service_id":"{}"}}"#, "1".repeat(40_000));
    let (status, answer) = post_json(&r, start, &huge, false).await;
    assert_eq!((status, code(&answer)), (413, "body_too_large"), "{answer}");
    let (status, answer) = send(&r, Method::GET, "/v1/nowhere", None, vec![], false).await;
    assert_eq!((status, code(&answer)), (404, "not_found"));
    let (status, answer) = send(&r, Method::GET, start, None, vec![], false).await;
    assert_eq!((status, code(&answer)), (405, "method_not_allowed"));

    // Admin input: bad IDs, passwords and mail addresses say which field is wrong.
    let reg = "/v1/admin/registrations";
    for (body, field) in [
        (
            json!({"service_id": "1011", "mail": "a@b.jp", "activation_password": "1234"}),
            "service ID",
        ),
        (
            json!({"service_id": "10112231", "user_id": "12", "mail": "a@b.jp", "activation_password": "1234"}),
            "user ID",
        ),
        (
            json!({"service_id": "10112231", "mail": "a@b.jp", "activation_password": "12"}),
            "activation password",
        ),
        (
            json!({"service_id": "10112231", "mail": "nobody", "activation_password": "1234"}),
            "mail",
        ),
    ] {
        let (status, answer) = post_json(&r, reg, &body.to_string(), true).await;
        assert_eq!((status, code(&answer)), (400, "invalid_request"), "{body}");
        assert!(answer["message"].as_str().unwrap().contains(field), "{answer}");
    }
    // A password sent with the wrong type is refused without echoing it.
    let (status, answer) = post_json(
        &r,
        reg,
        r#"{"service_id":"10112231","mail":"a@b.jp","activation_password":73914826}"#,
        true,
    )
    .await;
    assert_eq!(status, 400);
    assert!(!answer.to_string().contains("73914826"), "{answer}");
    let (status, answer) =
        send(&r, Method::GET, "/v1/admin/registrations/abc/%FF", None, vec![], true).await;
    assert_eq!((status, code(&answer)), (400, "invalid_request"), "{answer}");
    let (status, answer) =
        send(&r, Method::GET, "/v1/admin/outbox?limit=x", None, vec![], true).await;
    assert_eq!((status, code(&answer)), (400, "invalid_request"));
    let (status, answer) = post_json(
        &r,
        "/v1/admin/verify",
        &json!({"service_id": DEMO_SERVICE_ID, "user_id": DEMO_USER_ID, "code": "12a456"})
            .to_string(),
        true,
    )
    .await;
    assert_eq!((status, code(&answer)), (400, "invalid_request"));
}

#[tokio::test]
async fn demo_reset_is_refused_to_other_computers() {
    let (r, _dir) = router([192, 0, 2, 10]).await;
    let (status, answer) = send(&r, Method::POST, "/v1/demo/reset", None, vec![], false).await;
    assert_eq!((status, code(&answer)), (403, "forbidden"));
    let (r, _dir) = router([127, 0, 0, 1]).await;
    let (status, _) = post_json(&r, "/v1/demo/reset", "{}", false).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_web_page_whose_name_was_rebound_to_loopback_cannot_reset_the_demo() {
    // DNS rebinding: the kiosk's browser sends the page's own name as Host, from 127.0.0.1.
    let (r, _dir) = router([127, 0, 0, 1]).await;
    let reset = |host: &'static str| {
        let body = b"{}".to_vec();
        let r = &r;
        async move {
            send_to_host(
                r,
                Method::POST,
                "/v1/demo/reset",
                Some("application/json"),
                body,
                false,
                host,
            )
            .await
        }
    };
    for host in ["attacker.example", "attacker.example:8080", "127.0.0.1.attacker.example", ""] {
        let (status, answer) = reset(host).await;
        assert_eq!((status, code(&answer)), (403, "forbidden"), "{host:?}");
    }
    for host in ["localhost:8080", "127.0.0.1:8080", "[::1]:8080"] {
        assert_eq!(reset(host).await.0, 200, "{host:?}");
    }
}

#[tokio::test]
async fn a_web_page_cannot_reset_the_demo_with_a_simple_request() {
    // What a form or a `no-cors` fetch from another page in the kiosk's browser can send: no
    // body, or a body as text/plain or form data. None of them may end the visitor's token.
    let (r, bank) = router([127, 0, 0, 1]).await;
    // Armed earlier than the router's clock, so a reset shows in `issued_at`.
    let earlier = 1_767_225_630 - 3600;
    bank.bank().rearm_demo(earlier).await.unwrap();
    for (ct, body) in [
        (None, ""),
        (Some("text/plain"), "{}"),
        (Some("application/x-www-form-urlencoded"), "a=b"),
        (Some("multipart/form-data; boundary=x"), "--x--"),
    ] {
        let (status, answer) =
            send(&r, Method::POST, "/v1/demo/reset", ct, body.as_bytes().to_vec(), false).await;
        assert_eq!((status, code(&answer)), (400, "invalid_request"), "{ct:?}");
    }
    assert_eq!(demo_issued_at(&bank).await, earlier, "a simple request re-armed the demo");
    let (status, _) = post_json(&r, "/v1/demo/reset", "{}", false).await;
    assert_eq!(status, 200);
    assert_eq!(demo_issued_at(&bank).await, 1_767_225_630);
}

async fn demo_issued_at(bank: &TestBank) -> u64 {
    let (service, user) =
        (ServiceId::new(DEMO_SERVICE_ID).unwrap(), UserId::new(DEMO_USER_ID).unwrap());
    bank.bank().status(&service, &user, 1_767_225_630).await.unwrap().issued_at
}

/// xorshift64*: a small deterministic generator, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max + 1);
        (0..n).map(|_| self.next() as u8).collect()
    }
    fn value(&mut self, depth: u32) -> Value {
        match self.below(if depth > 2 { 8 } else { 10 }) {
            0 => Value::Null,
            1 => json!(self.next() & 1 == 0),
            2 => json!(self.next() as i64),
            3 => json!(-(self.below(1000) as i64)),
            4 => json!(1e308 * (self.below(3) as f64)),
            5 => json!(String::from_utf8_lossy(&self.bytes(40)).into_owned()),
            6 => json!("9".repeat(self.below(30))),
            7 => json!("１０１１２２３１ー\u{202e}\u{0000}"),
            8 => Value::Array((0..self.below(4)).map(|_| self.value(depth + 1)).collect()),
            _ => {
                let mut m = serde_json::Map::new();
                for _ in 0..self.below(4) {
                    m.insert(format!("k{}", self.below(5)), self.value(depth + 1));
                }
                Value::Object(m)
            }
        }
    }
}

/// Percent-encodes everything but letters, digits and `/`, so any text makes a valid URI.
fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'/' {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn mutate(rng: &mut Rng, template: &Value) -> Vec<u8> {
    let mut v = template.clone();
    if let Value::Object(m) = &mut v {
        let keys: Vec<String> = m.keys().cloned().collect();
        match rng.below(5) {
            0 if !keys.is_empty() => {
                m.remove(&keys[rng.below(keys.len())]);
            }
            1 => {
                m.insert(format!("x{}", rng.below(9)), rng.value(0));
            }
            2 | 3 if !keys.is_empty() => {
                let k = keys[rng.below(keys.len())].clone();
                m.insert(k, rng.value(0));
            }
            _ => {}
        }
    }
    let mut text = v.to_string().into_bytes();
    match rng.below(6) {
        0 => text.truncate(rng.below(text.len() + 1)),
        1 if !text.is_empty() => {
            let i = rng.below(text.len());
            text[i] = rng.next() as u8;
        }
        _ => {}
    }
    text
}

#[tokio::test]
async fn random_bytes_and_mutated_json_to_every_endpoint_never_cause_a_5xx() {
    let (r, _dir) = router([127, 0, 0, 1]).await;
    // Real protocol messages, so mutations also reach the handshake and the attempt store.
    let (app_side, start) = ClientHandshake::start(
        &ServiceId::new(DEMO_SERVICE_ID).unwrap(),
        &UserId::new(DEMO_USER_ID).unwrap(),
        &ActivationPassword::new("1234").unwrap(),
    )
    .unwrap();
    let start_json = serde_json::to_value(&start).unwrap();
    let (status, started) =
        post_json(&r, "/v1/provision/start", &start_json.to_string(), false).await;
    assert_eq!(status, 200, "{started}");
    let started: StartResponse = serde_json::from_value(started).unwrap();
    let (_, confirm) = app_side.confirm(&started).unwrap();
    let confirm_json = serde_json::to_value(&confirm).unwrap();
    let ack_json = json!({"attempt_id": started.attempt_id.to_string(), "ack": "A".repeat(43)});

    let posts: Vec<(&str, Value)> = vec![
        ("/v1/provision/start", start_json),
        ("/v1/provision/confirm", confirm_json),
        ("/v1/provision/ack", ack_json),
        (
            "/v1/admin/registrations",
            json!({"service_id": "10112231", "mail": "a@b.jp", "activation_password": "4821", "expires_in_days": 3}),
        ),
        (
            "/v1/admin/verify",
            json!({"service_id": DEMO_SERVICE_ID, "user_id": DEMO_USER_ID, "code": "123456"}),
        ),
        ("/v1/demo/reset", json!({})),
    ];
    let gets = ["/healthz", "/metrics", "/v1/admin/outbox"];
    let paths = ["", "/revoke", "/unlock"];
    let mut rng = Rng(0x005e_ed0f_50f7_70c3);
    let mut seen = std::collections::BTreeMap::<u16, u32>::new();
    for i in 0..1500 {
        let admin = rng.below(4) != 0;
        let (status, answer) = match rng.below(10) {
            0..=5 => {
                let (path, template) = &posts[rng.below(posts.len())];
                let body =
                    if rng.below(4) == 0 { rng.bytes(300) } else { mutate(&mut rng, template) };
                let ct = ["application/json", "application/json; charset=utf-8", "text/plain"]
                    [rng.below(3)];
                send(&r, Method::POST, path, Some(ct), body, admin).await
            }
            6 | 7 => {
                let seg = |rng: &mut Rng| -> String {
                    rng.bytes(14).iter().map(|b| format!("%{b:02X}")).collect()
                };
                let service =
                    if rng.below(2) == 0 { DEMO_SERVICE_ID.to_owned() } else { seg(&mut rng) };
                let user = if rng.below(2) == 0 { DEMO_USER_ID.to_owned() } else { seg(&mut rng) };
                let path =
                    format!("/v1/admin/registrations/{service}/{user}{}", paths[rng.below(3)]);
                let method = if path.ends_with('e') || path.ends_with('k') {
                    Method::POST
                } else {
                    Method::GET
                };
                send(&r, method, &path, None, rng.bytes(20), admin).await
            }
            8 => {
                let path = format!(
                    "{}?limit={}",
                    gets[rng.below(gets.len())],
                    pct(&rng.value(0).to_string())
                );
                let method = [Method::GET, Method::DELETE, Method::PUT][rng.below(3)].clone();
                send(&r, method, &path, None, rng.bytes(50), admin).await
            }
            _ => {
                let path: String = (0..rng.below(30))
                    .map(|_| char::from(b'!' + (rng.next() % 94) as u8))
                    .collect();
                send(&r, Method::POST, &format!("/{}", pct(&path)), None, rng.bytes(40), admin)
                    .await
            }
        };
        *seen.entry(status).or_default() += 1;
        assert!(status < 500, "iteration {i}: {status} {answer}");
        if status >= 400 {
            assert!(
                answer["code"].is_string() && answer["message"].is_string(),
                "iteration {i}: {answer}"
            );
        }
    }
    eprintln!("statuses: {seen:?}");
    // The mix reached more than the parser: some requests succeeded, many were refused.
    assert!(seen.get(&200).copied().unwrap_or(0) > 10, "{seen:?}");
    assert!(seen.get(&400).copied().unwrap_or(0) > 100, "{seen:?}");
}

async fn get_page(r: &Router, path: &str, host: &str) -> axum::response::Response {
    let req = Request::builder().uri(path).header("host", host).body(Body::empty()).unwrap();
    r.clone().oneshot(req).await.unwrap()
}

#[tokio::test]
async fn demo_bank_pages_are_served_to_this_computer_only_with_a_strict_csp() {
    let (r, _bank) = router([127, 0, 0, 1]).await;
    let page = get_page(&r.public, "/demo/", "127.0.0.1:8080").await;
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert!(!csp.contains("unsafe"), "{csp}");
    // A page of another site that re-points its own name at 127.0.0.1 (DNS rebinding).
    assert_eq!(get_page(&r.public, "/demo/api/status", "evil.example:8080").await.status(), 403);
    let (r, _bank) = router([192, 0, 2, 10]).await;
    assert_eq!(get_page(&r.public, "/demo/", "127.0.0.1:8080").await.status(), 403);
}

#[tokio::test]
async fn without_demo_mode_there_are_no_bank_pages() {
    let bank = TestBank::open(BankOptions::default()).unwrap();
    let r = bank.router().layer(MockConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    assert_eq!(get_page(&r, "/demo/", "127.0.0.1:8080").await.status(), 404);
    assert_eq!(get_page(&r, "/demo/api/status", "127.0.0.1:8080").await.status(), 404);
}

#[tokio::test]
async fn a_web_page_cannot_end_the_demo_token_with_a_simple_request() {
    let (r, bank) = router([127, 0, 0, 1]).await;
    for ct in [None, Some("text/plain"), Some("application/x-www-form-urlencoded")] {
        let mut req = Request::builder().method(Method::POST).uri("/demo/api/end-use");
        req = req.header("host", "localhost:8080");
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        let resp = r.public.clone().oneshot(req.body(Body::from("{}")).unwrap()).await.unwrap();
        assert_eq!(resp.status(), 400, "{ct:?}");
    }
    let (service, user) =
        (ServiceId::new(DEMO_SERVICE_ID).unwrap(), UserId::new(DEMO_USER_ID).unwrap());
    let status = bank.bank().status(&service, &user, 1_767_225_630).await.unwrap();
    assert_eq!(status.state.as_str(), "issued");
}

#[tokio::test]
async fn visitor_choosing_an_easy_pin_on_the_demo_page_is_asked_to_choose_another() {
    let (r, _bank) = router([127, 0, 0, 1]).await;
    for (password, status) in [("1234", 400), ("1990", 400), ("3718", 200)] {
        let req = Request::builder()
            .method(Method::POST)
            .uri("/demo/api/apply")
            .header("host", "127.0.0.1:8080")
            .header("content-type", "application/json")
            .body(Body::from(
                json!({"mail": "taro@example.jp", "activation_password": password}).to_string(),
            ))
            .unwrap();
        let resp = r.public.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), status, "{password}");
        if status == 400 {
            let body = axum::body::to_bytes(resp.into_body(), 1 << 16).await.unwrap();
            let answer: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(answer["code"], "weak_activation_password", "{answer}");
        }
    }
    // Step 3 asks the same rule before step 4, and says which rule refused it.
    for (password, status, reason) in [
        ("1234", 400, "sequence"),
        ("1990", 400, "year"),
        ("0000", 400, "repeated"),
        ("3718", 200, ""),
    ] {
        let req = Request::builder()
            .method(Method::POST)
            .uri("/demo/api/check-password")
            .header("host", "127.0.0.1:8080")
            .header("content-type", "application/json")
            .body(Body::from(json!({"activation_password": password}).to_string()))
            .unwrap();
        let resp = r.public.clone().oneshot(req).await.unwrap();
        let got = resp.status().as_u16();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 16).await.unwrap();
        let answer: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(got, status, "{password}: {answer}");
        if status == 400 {
            assert_eq!(code(&answer), "weak_activation_password", "{answer}");
            assert_eq!(answer["reason"], reason, "{answer}");
        } else {
            assert_eq!(answer["accepted"], true, "{answer}");
        }
    }
}
