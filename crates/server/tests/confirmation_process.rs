//! Transaction confirmation across processes and instances: the real binary killed with
//! SIGKILL between the customer's answer and the web tier's status read keeps the answer; three
//! instances on one PostgreSQL (created through one, answered through another, waited for
//! through a third) agree; and an offline-code minute is spent for every instance and after a
//! restart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod binary;
mod common;

use binary::{post, provisioned, spawn, ADMIN, PIN, SERVICE};
use common::{Server, Setup};
use serde_json::{json, Value};
use softtoken_core::confirm::{
    AccountNumber, Amount, ConfirmationKeys, Decision, FetchRequest, FetchResponse, PATH_ANSWER,
    PATH_PENDING,
};
use softtoken_core::ids::{ServiceId, UserId};
use softtoken_core::totp::{unix_now, Totp};

fn sign_in() -> Value {
    json!({ "kind": "sign_in", "note": "Pixel 8, 東京" })
}

async fn get(url: &str, path: &str) -> (u16, Value) {
    let resp =
        reqwest::Client::new().get(format!("{url}{path}")).bearer_auth(ADMIN).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_survives_the_server_killed_before_the_web_tier_read_it() {
    let dir = tempfile::tempdir().unwrap();
    let first = spawn(dir.path(), &[]);
    let issue =
        json!({"service_id": SERVICE, "mail": "taro@example.jp", "activation_password": PIN});
    let (_, issued) = post(&first.admin_url, "/v1/admin/registrations", &issue, true).await;
    let user = issued["user_id"].as_str().unwrap().to_owned();
    let token = provisioned(&first.url, &user).await;
    let code = Totp::new(token.issued.params, &token.seed, token.issued.offset).unwrap().code_now();
    let verify = json!({"service_id": SERVICE, "user_id": user, "code": code.as_str()});
    let (_, verified) = post(&first.admin_url, "/v1/admin/verify", &verify, true).await;
    assert_eq!(verified["state"], "in_use", "{verified}");
    let keys = ConfirmationKeys::derive(&token.seed);
    let (service, user_id) = (ServiceId::new(SERVICE).unwrap(), UserId::new(&user).unwrap());

    let create = json!({"service_id": SERVICE, "user_id": user, "details": sign_in()});
    let (status, created) = post(&first.admin_url, "/v1/admin/confirmations", &create, true).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let fetch = FetchRequest::new(&keys, service.clone(), user_id.clone(), unix_now());
    let (_, fetched) =
        post(&first.url, PATH_PENDING, &serde_json::to_value(&fetch).unwrap(), false).await;
    let fetched: FetchResponse = serde_json::from_value(fetched).unwrap();
    let request = fetched.requests[0].clone().open(&keys, &service, &user_id).unwrap();
    let approval = request.answer(&keys, Decision::Approve, None).unwrap();
    let (status, answered) =
        post(&first.url, PATH_ANSWER, &serde_json::to_value(&approval).unwrap(), false).await;
    assert_eq!((status, &answered["state"]), (200, &json!("approved")), "{answered}");
    // The offline code of this minute, spent before the crash.
    let (account, amount) = (AccountNumber::new("1234567").unwrap(), Amount::new(8000).unwrap());
    let offline = softtoken_core::confirm::offline::code(&keys, &account, amount, unix_now());
    let check = json!({"service_id": SERVICE, "user_id": user, "account_number": "1234567",
                       "amount_yen": 8000, "code": offline.unwrap()});
    let path = "/v1/admin/confirmations/offline";
    let (_, valid) = post(&first.admin_url, path, &check, true).await;
    assert_eq!(valid, json!({ "valid": true }));
    first.kill9();

    let second = spawn(dir.path(), &[]);
    let (status, after) = get(&second.admin_url, &format!("/v1/admin/confirmations/{id}")).await;
    assert_eq!((status, &after["state"]), (200, &json!("approved")), "{after}");
    let (_, again) =
        post(&second.url, PATH_ANSWER, &serde_json::to_value(&approval).unwrap(), false).await;
    assert_eq!(again["state"], "approved");
    // Accepted before the crash: never again after it.
    let (_, replayed) = post(&second.admin_url, path, &check, true).await;
    assert_eq!(replayed, json!({ "valid": false }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn created_through_one_instance_answered_through_another_the_third_s_wait_ends_with_it() {
    let Some((db, servers)) = Server::instances(Setup::default, |_| {}, 3).await else { return };
    let user = servers[0].issue(None, "4821").await;
    let (token, _) = common::provision_with(&servers[1].client(), &user, "4821", servers[1].now())
        .await
        .unwrap();
    let (_, verified) = servers[2].verify(&user, &servers[2].code(&token)).await;
    assert_eq!(verified["state"], "in_use", "{verified}");
    let keys = ConfirmationKeys::derive(&token.seed);
    let (service, user_id) = (ServiceId::new(SERVICE).unwrap(), UserId::new(&user).unwrap());
    for decision in [Decision::Approve, Decision::Deny] {
        let create = json!({"service_id": SERVICE, "user_id": user, "details": sign_in()});
        let (status, created) = servers[0].admin_post("/v1/admin/confirmations", create).await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        let path = format!("/v1/admin/confirmations/{id}?wait=20");
        let waiting = servers[2].admin_get(&path);
        let answering = async {
            let fetch =
                FetchRequest::new(&keys, service.clone(), user_id.clone(), servers[1].now());
            let (_, fetched) =
                servers[1].post(PATH_PENDING, serde_json::to_value(&fetch).unwrap()).await;
            let fetched: FetchResponse = serde_json::from_value(fetched).unwrap();
            let request = fetched.requests[0].clone().open(&keys, &service, &user_id).unwrap();
            let answer = request.answer(&keys, decision, None).unwrap();
            // Through two instances at once: one answer wins, both report it.
            let both = tokio::join!(
                servers[1].post(PATH_ANSWER, serde_json::to_value(&answer).unwrap()),
                servers[0].post(PATH_ANSWER, serde_json::to_value(&answer).unwrap()),
            );
            [both.0, both.1]
        };
        let ((status, waited), answers) = tokio::join!(waiting, answering);
        let want = if decision == Decision::Approve { "approved" } else { "denied" };
        assert_eq!((status, &waited["state"]), (200, &json!(want)), "{waited}");
        for (status, answered) in answers {
            assert_eq!((status, &answered["state"]), (200, &json!(want)), "{answered}");
        }
        let outcomes = format!(
            "SELECT count(*) FROM audit WHERE action = 'confirm_outcome' AND outcome = '{want}'"
        );
        assert_eq!(db.psql(&outcomes).unwrap().trim(), "1");
    }
    // An offline-code minute spent through one instance is spent for the others.
    let (account, amount) = (AccountNumber::new("1234567").unwrap(), Amount::new(8000).unwrap());
    let code = softtoken_core::confirm::offline::code(&keys, &account, amount, servers[0].now());
    let check = json!({"service_id": SERVICE, "user_id": user, "account_number": "1234567",
                       "amount_yen": 8000, "code": code.unwrap()});
    let path = "/v1/admin/confirmations/offline";
    assert_eq!(servers[0].admin_post(path, check.clone()).await.1, json!({ "valid": true }));
    for server in &servers {
        assert_eq!(server.admin_post(path, check.clone()).await.1, json!({ "valid": false }));
    }
}

/// Runs `softtoken-server confirm …` on the database of `dir`: success, stdout, stderr.
fn confirm_cli(dir: &std::path::Path, args: &[&str]) -> (bool, Value, String) {
    let out = binary::command(dir).arg("confirm").args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (out.status.success(), json, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_command_line_creates_reads_cancels_and_checks_offline_codes_beside_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn(dir.path(), &[]);
    let issue =
        json!({"service_id": SERVICE, "mail": "taro@example.jp", "activation_password": PIN});
    let (_, issued) = post(&server.admin_url, "/v1/admin/registrations", &issue, true).await;
    let user = issued["user_id"].as_str().unwrap().to_owned();
    let token = provisioned(&server.url, &user).await;
    let code = Totp::new(token.issued.params, &token.seed, token.issued.offset).unwrap().code_now();
    let verify = json!({"service_id": SERVICE, "user_id": user, "code": code.as_str()});
    post(&server.admin_url, "/v1/admin/verify", &verify, true).await;
    let keys = ConfirmationKeys::derive(&token.seed);
    let (service, user_id) = (ServiceId::new(SERVICE).unwrap(), UserId::new(&user).unwrap());
    let pair = ["--service-id", SERVICE, "--user-id", &user];
    let details = sign_in().to_string();

    let (ok, created, err) = confirm_cli(
        dir.path(),
        &[&["create"], &pair[..], &["--details", &details, "--match-required"]].concat(),
    );
    assert!(ok, "{err}");
    assert_eq!(created["state"], "pending");
    assert_eq!(created["match_number"].as_str().unwrap().len(), 2);
    let id = created["id"].as_str().unwrap().to_owned();
    // The running server serves what the command line created; its answer is what the
    // command line then reads.
    let fetch = FetchRequest::new(&keys, service.clone(), user_id.clone(), unix_now());
    let (_, fetched) =
        post(&server.url, PATH_PENDING, &serde_json::to_value(&fetch).unwrap(), false).await;
    let fetched: FetchResponse = serde_json::from_value(fetched).unwrap();
    let request = fetched.requests[0].clone().open(&keys, &service, &user_id).unwrap();
    let deny = request.answer(&keys, Decision::Deny, None).unwrap();
    post(&server.url, PATH_ANSWER, &serde_json::to_value(&deny).unwrap(), false).await;
    let (ok, status, _) = confirm_cli(dir.path(), &["status", &id, "--wait", "5"]);
    assert!(ok);
    assert_eq!(status["state"], "denied");
    let (ok, cancelled, _) = confirm_cli(dir.path(), &["cancel", &id]);
    assert!(ok);
    assert_eq!(cancelled["state"], "denied", "a final request stays as it is");

    let (account, amount) = (AccountNumber::new("1234567").unwrap(), Amount::new(8000).unwrap());
    let offline = softtoken_core::confirm::offline::code(&keys, &account, amount, unix_now());
    let offline = offline.unwrap();
    let check = [&["offline"], &pair[..], &["--account-number", "1234567", "--amount-yen", "8000"]]
        .concat();
    let (ok, valid, _) = confirm_cli(dir.path(), &[&check[..], &["--code", &offline]].concat());
    assert_eq!((ok, valid), (true, json!({ "valid": true })));
    let (ok, again, _) = confirm_cli(dir.path(), &[&check[..], &["--code", &offline]].concat());
    assert_eq!((ok, again), (true, json!({ "valid": false })), "exit 0, read valid");

    // Refusals: exit 1, one line on standard error, nothing on standard output.
    for args in [
        vec!["status", "AAAAAAAAAAAAAAAAAAAAAA"],
        vec!["status", "not-an-id"],
        [&["create"], &pair[..], &["--details", r#"{"kind":"limit_change","amount_yen":0}"#]]
            .concat(),
        [&["create"], &pair[..], &["--details", &details, "--lifetime-secs", "301"]].concat(),
    ] {
        let (ok, out, err) = confirm_cli(dir.path(), &args);
        assert!(!ok && out.is_null(), "{args:?}: {out}");
        assert!(err.starts_with("softtoken-server: "), "{args:?}: {err}");
    }
    let audit = binary::command(dir.path()).args(["audit", "--limit", "10"]).output().unwrap();
    let audit = String::from_utf8_lossy(&audit.stdout);
    assert!(audit.contains(r#""action":"confirm_create","service_id":"10112231""#), "{audit}");
    assert!(audit.contains(r#""actor":"token""#), "{audit}");
}
