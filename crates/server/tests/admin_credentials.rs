//! The admin listener's named credentials over a real loopback server: wrong bearers from a
//! dozen addresses never lock out the web tier's right one, forged `X-Forwarded-For` moves
//! nothing, each scope reaches only its endpoints, a name rotates with two valid credentials
//! and a revoke closes the door, and the audit log names the credential.
//!
//! Linux routes all of 127.0.0.0/8 to the loopback interface, so a client socket bound to
//! 127.0.0.2 … 127.0.0.40 is a caller from another address of this machine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use common::{Server, Setup, ADMIN_TOKEN, SERVICE};
use serde_json::{json, Value};
use softtoken_server::credential::{CredentialName, Scope};
use softtoken_server::http::HttpOptions;

/// A client whose sockets leave from `127.0.0.<last>`.
fn client_from(last: u8) -> reqwest::Client {
    let address = IpAddr::V4(Ipv4Addr::new(127, 0, 0, last));
    reqwest::Client::builder().local_address(address).build().unwrap()
}

async fn verify_as(
    http: &reqwest::Client,
    server: &Server,
    bearer: &str,
    body: &Value,
) -> (u16, Value) {
    let resp = http
        .post(format!("{}/v1/admin/verify", server.admin_url))
        .bearer_auth(bearer)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// A status past the credential check: the endpoint's own answer (a registration nobody issued
/// is `404 unknown_registration`), not `401` or `429`.
fn past_the_door(status: u16) -> bool {
    status != 401 && status != 429
}

/// A credential issued as `credential add` issues it; its token.
async fn add(server: &Server, name: &str, scope: Scope) -> String {
    let name = CredentialName::new(name).unwrap();
    let added = server.state.bank().add_credential(&name, scope, server.now()).await.unwrap();
    added.token.expose().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_bearers_from_a_dozen_addresses_never_lock_out_the_web_tiers_right_credential() {
    let server = Server::start().await;
    let web_tier = add(&server, "web-1", Scope::Verify).await;
    let user = server.issue(None, "4821").await;
    let (token, _) = server.provision(&user, "4821").await.unwrap();
    let wrong = json!({"service_id": SERVICE, "user_id": user, "code": "000000"});
    // Every address of 127.0.0.2–13 sends wrong bearers until it is throttled.
    for last in 2..=13 {
        let http = client_from(last);
        let mut refused = 0;
        loop {
            match verify_as(&http, &server, "a-guess-at-the-bank-token", &wrong).await.0 {
                401 => refused += 1,
                429 => break,
                other => panic!("127.0.0.{last}: {other}"),
            }
            assert!(refused <= 10, "127.0.0.{last} was never throttled");
        }
    }
    // Together they are far past any shared bucket; the web tier's login check still answers,
    // from its own address and from one of the throttled ones.
    let code = json!({"service_id": SERVICE, "user_id": user, "code": server.code(&token)});
    let (status, answer) = verify_as(&client_from(1), &server, &web_tier, &code).await;
    assert_eq!((status, answer["accepted"].as_bool()), (200, Some(true)), "{answer}");
    let (status, answer) = verify_as(&client_from(7), &server, &web_tier, &wrong).await;
    assert_eq!((status, answer["accepted"].as_bool()), (200, Some(false)), "{answer}");
    let (status, _) = verify_as(&client_from(7), &server, ADMIN_TOKEN, &wrong).await;
    assert_eq!(status, 200, "the legacy admin token file's credential passes too");
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_secrets_for_one_name_are_throttled_from_any_address_and_its_holder_still_passes() {
    let server = Server::start().await;
    let web_tier = add(&server, "web-1", Scope::Verify).await;
    let body = json!({"service_id": SERVICE, "user_id": "999800000001", "code": "000000"});
    let guess = format!("web-1.{}", "A".repeat(43));
    // One guess from each of many addresses: no address's bucket empties, the name's does.
    let mut statuses = Vec::new();
    for last in 20..=40 {
        statuses.push(verify_as(&client_from(last), &server, &guess, &body).await.0);
    }
    assert_eq!(statuses[..10], [401; 10]);
    assert!(statuses[10..].iter().all(|s| *s == 429), "{statuses:?}");
    // Another name's guesses are not held up by web-1's, and web-1 itself passes.
    let other = format!("web-2.{}", "A".repeat(43));
    assert_eq!(verify_as(&client_from(41), &server, &other, &body).await.0, 401);
    assert!(past_the_door(verify_as(&client_from(41), &server, &web_tier, &body).await.0));
}

#[tokio::test(flavor = "multi_thread")]
async fn every_429_of_the_admin_listener_says_when_to_come_back_in_header_and_body() {
    // The admin listener's only `429`s are the two buckets of wrong bearers (the socket's
    // address, the name a wrong `NAME.SECRET` claims); every endpoint behind a bearer shares them.
    let server = Server::start().await;
    let guess_for_name = format!("web-1.{}", "A".repeat(43));
    let endpoints = ["/v1/admin/outbox", "/v1/admin/audit", "/metrics"];
    for (bucket, bearer) in [("address", "a-guess-at-the-bank-token"), ("name", &*guess_for_name)] {
        let mut limited = 0;
        for round in 0..12u8 {
            // One address for the address's bucket; a new one each time for the name's.
            let http = client_from(if bucket == "address" { 50 } else { 60 + round });
            for path in endpoints {
                let resp = http
                    .get(format!("{}{path}", server.admin_url))
                    .bearer_auth(bearer)
                    .send()
                    .await
                    .unwrap();
                if resp.status().as_u16() != 429 {
                    assert_eq!(resp.status().as_u16(), 401, "{bucket} {path}");
                    continue;
                }
                limited += 1;
                let header: u64 = resp
                    .headers()
                    .get("retry-after")
                    .unwrap_or_else(|| panic!("{bucket} {path}: a 429 without Retry-After"))
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                let body: Value = resp.json().await.unwrap();
                assert_eq!(body["code"], "rate_limited");
                assert_eq!(body["retry_after"].as_u64(), Some(header), "{bucket} {path}");
                assert!((1..=60).contains(&header), "{bucket} {path}: {header}");
            }
        }
        assert!(limited > 10, "the {bucket} bucket was never reached ({limited})");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forged_forwarded_for_neither_spreads_failures_nor_names_the_actor() {
    // Even with loopback trusted as a proxy (as `--behind-tls-proxy` does), the admin listener
    // reads the socket.
    let http = HttpOptions {
        trusted_proxies: vec!["127.0.0.0/8".parse().unwrap()],
        ..Setup::default().http
    };
    let server = Server::start_with(Setup { http, ..Setup::default() }).await;
    let clerk = add(&server, "clerk-tanaka", Scope::Clerk).await;
    let client = client_from(3);
    let body = json!({"service_id": SERVICE, "user_id": "999800000001", "code": "000000"});
    let (mut statuses, mut retry_after) = (Vec::new(), None);
    for i in 0..11 {
        let resp = client
            .post(format!("{}/v1/admin/verify", server.admin_url))
            .bearer_auth("a-guess-at-the-bank-token")
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        statuses.push(resp.status().as_u16());
        retry_after = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    }
    assert_eq!(statuses[..10], [401; 10]);
    assert_eq!(statuses[10], 429, "one socket address, one bucket, whatever the header says");
    let wait: u64 = retry_after.expect("a 429 says when to come back").parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // The clerk's action is logged under the clerk's name and socket address.
    let resp = client
        .post(format!("{}/v1/admin/registrations", server.admin_url))
        .bearer_auth(&clerk)
        .header("x-forwarded-for", "203.0.113.66")
        .json(&json!({"service_id": SERVICE, "mail": "taro@example.jp",
                      "activation_password": "4821"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let (status, page) = server.admin_get("/v1/admin/audit").await;
    assert_eq!(status, 200, "{page}");
    let entry = &page["entries"][0];
    assert_eq!(
        (entry["actor"].as_str(), entry["origin"].as_str()),
        (Some("credential:clerk-tanaka"), Some("127.0.0.3")),
        "{entry}"
    );
    assert!(!page.to_string().contains(&clerk), "a token in the audit log");
}

#[tokio::test(flavor = "multi_thread")]
async fn each_scope_reaches_its_own_endpoints_and_nothing_else() {
    let server = Server::start().await;
    let http = reqwest::Client::new();
    let call = |bearer: String, method: &'static str, path: &'static str| {
        let req = match method {
            "GET" => http.get(format!("{}{path}", server.admin_url)),
            _ => http.post(format!("{}{path}", server.admin_url)).json(&json!({
                "service_id": SERVICE, "user_id": "999800000001", "code": "000000",
                "mail": "taro@example.jp", "activation_password": "4821"})),
        };
        async move { req.bearer_auth(bearer).send().await.unwrap().status().as_u16() }
    };
    let verify = add(&server, "web-verify", Scope::Verify).await;
    let transactions = add(&server, "web-confirm", Scope::Transactions).await;
    let clerk = add(&server, "clerk-sato", Scope::Clerk).await;
    let metrics = add(&server, "prometheus", Scope::Metrics).await;
    let admin = add(&server, "ops-admin", Scope::Admin).await;
    let status_path = "/v1/admin/registrations/10112231/999800000001";
    for (who, token, verifies, clerks, audits, reads_metrics) in [
        ("verify", &verify, true, false, false, false),
        ("transactions", &transactions, false, false, false, false),
        ("clerk", &clerk, true, true, false, false),
        ("metrics", &metrics, false, false, false, true),
        ("admin", &admin, true, true, true, true),
    ] {
        let verified = call(token.clone(), "POST", "/v1/admin/verify").await;
        assert_eq!(past_the_door(verified), verifies, "{who} verify: {verified}");
        let status = call(token.clone(), "GET", status_path).await;
        assert_eq!(past_the_door(status), clerks, "{who} status: {status}");
        let audit = call(token.clone(), "GET", "/v1/admin/audit").await;
        assert_eq!(past_the_door(audit), audits, "{who} audit: {audit}");
        let read = call(token.clone(), "GET", "/metrics").await;
        assert_eq!(past_the_door(read), reads_metrics, "{who} metrics: {read}");
    }
    assert_eq!(call(String::new(), "GET", "/metrics").await, 401, "metrics need a credential");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_name_rotates_with_two_valid_credentials_and_a_revoked_one_stops_opening_the_door() {
    let server = Server::start().await;
    let bank = server.state.bank();
    let name = CredentialName::new("web-1").unwrap();
    let first = bank.add_credential(&name, Scope::Verify, server.now()).await.unwrap();
    let (old, old_id) = (first.token.expose().to_owned(), first.id);
    let new = add(&server, "web-1", Scope::Verify).await;
    let third = bank.add_credential(&name, Scope::Verify, server.now()).await.unwrap_err();
    assert!(third.to_string().contains("already has 2 valid credentials"), "{third}");
    let other_scope = CredentialName::new("clerk-1").unwrap();
    add(&server, "clerk-1", Scope::Clerk).await;
    let mixed = bank.add_credential(&other_scope, Scope::Admin, server.now()).await.unwrap_err();
    assert!(mixed.to_string().contains("another scope"), "{mixed}");
    let body = json!({"service_id": SERVICE, "user_id": "999800000001", "code": "000000"});
    let http = reqwest::Client::new();
    assert!(past_the_door(verify_as(&http, &server, &old, &body).await.0));
    assert!(past_the_door(verify_as(&http, &server, &new, &body).await.0));
    // The old one is revoked by its ID; the new one goes on working.
    assert_eq!(bank.revoke_credential(&name, Some(&old_id), server.now()).await.unwrap(), 1);
    let deadline = Instant::now() + Duration::from_secs(30);
    while verify_as(&http, &server, &old, &body).await.0 != 401 {
        assert!(Instant::now() < deadline, "the revoked credential still opens the door");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(past_the_door(verify_as(&http, &server, &new, &body).await.0));
    // The list keeps what was issued and when it stopped, and never a token or its hash.
    let listed = bank.credentials().await.unwrap();
    let revoked: Vec<_> = listed.iter().filter(|c| c.revoked_at.is_some()).collect();
    assert_eq!((revoked.len(), revoked[0].id.as_str()), (1, old_id.as_str()));
    let printed = serde_json::to_string(&listed).unwrap();
    assert!(!printed.contains(&old) && !printed.contains(&listed[0].hash), "{printed}");
    // Now there is room for a successor again.
    add(&server, "web-1", Scope::Verify).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clerks_reads_of_the_outbox_and_of_a_status_are_in_the_audit_log_under_their_name() {
    let server = Server::start().await;
    let clerk = add(&server, "clerk-sato", Scope::Clerk).await;
    let user = server.issue(None, "4821").await;
    let http = client_from(5);
    let get = |path: String| {
        let req = http.get(format!("{}{path}", server.admin_url)).bearer_auth(&clerk);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(get(format!("/v1/admin/registrations/{SERVICE}/{user}")).await, 200);
    assert_eq!(get("/v1/admin/outbox?limit=5".to_owned()).await, 200);
    let page: Value = reqwest::Client::new()
        .get(format!("{}/v1/admin/audit", server.admin_url))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let read: Vec<(&str, &str, &str, &str, &str)> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e["refers_to"].is_null())
        .filter(|e| e["action"].as_str().unwrap().starts_with("read_"))
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or("-");
            (s("actor"), s("origin"), s("action"), s("user_id"), s("outcome"))
        })
        .collect();
    assert_eq!(
        read,
        [
            ("credential:clerk-sato", "127.0.0.5", "read_outbox", "-", "ok: 1 mails"),
            ("credential:clerk-sato", "127.0.0.5", "read_status", user.as_str(), "ok"),
        ],
        "newest first: {page}"
    );
    assert!(!page.to_string().contains('@'), "a mail address in the audit log: {page}");
}
