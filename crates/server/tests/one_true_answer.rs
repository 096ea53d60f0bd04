//! One true answer on SQLite (issue 16): a server keeps registrations in a cache, yet another
//! process writing the same file (the clerk's CLI, a second server) never makes it refuse a code
//! the database would accept, nor accept one the database would refuse. Real server binaries,
//! a real SQLite file, the CLI as its own process, each step sent right after the other
//! process's commit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod binary;
mod common;

use std::path::Path;

use serde_json::{json, Value};
use softtoken_core::client::ProvisioningClient;
use softtoken_core::ids::{ActivationPassword, ServiceId, TokenId, UserId};
use softtoken_core::protocol::NewToken;
use softtoken_core::totp::{unix_now, Totp};

use binary::{command, post, provisioned, spawn, SERVICE};

async fn issue(admin_url: &str) -> String {
    let body =
        json!({"service_id": SERVICE, "mail": "taro@example.jp", "activation_password": "4821"});
    let (status, body) = post(admin_url, "/v1/admin/registrations", &body, true).await;
    assert_eq!(status, 201, "{body}");
    body["user_id"].as_str().unwrap().to_owned()
}

fn code_at(token: &NewToken, t: u64) -> String {
    Totp::new(token.issued.params, &token.seed, token.issued.offset)
        .unwrap()
        .code_at_bank_time(t)
        .as_str()
        .to_owned()
}

async fn verify(admin_url: &str, user: &str, code: &str) -> (u16, Value) {
    let body = json!({"service_id": SERVICE, "user_id": user, "code": code});
    post(admin_url, "/v1/admin/verify", &body, true).await
}

fn cli(dir: &Path, args: &[&str]) {
    let mut c = command(dir);
    c.args(args);
    let (ok, _, err) = common::run_with_stdin(c, "");
    assert!(ok, "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_code_is_accepted_by_one_server_right_after_the_app_set_up_through_another_on_the_same_file(
) {
    let dir = tempfile::tempdir().unwrap();
    let first = spawn(dir.path(), &[]);
    let second = spawn(dir.path(), &[]);
    let pair = |user: &str| (ServiceId::new(SERVICE).unwrap(), UserId::new(user).unwrap());
    for _ in 0..3 {
        let user = issue(&first.admin_url).await;
        let (service, user_id) = pair(&user);
        let app = ProvisioningClient::new(&second.url).unwrap();
        let pin = ActivationPassword::new("4821").unwrap();
        let confirmed = app.handshake(&service, &user_id, &pin, unix_now()).await.unwrap();
        // A wrong activation password through the first server: it writes the registration,
        // and so holds it as "confirmed" in its cache, just before the app's ack through the
        // second server delivers it.
        let guess = ActivationPassword::new("5628").unwrap();
        let through_first = ProvisioningClient::new(&first.url).unwrap();
        assert!(through_first.handshake(&service, &user_id, &guess, unix_now()).await.is_err());
        let token = confirmed.token.clone();
        assert!(app.ack(confirmed.ack.stored(TokenId::random().unwrap())).await.is_delivered());
        let (status, answer) = verify(&first.admin_url, &user, &code_at(&token, unix_now())).await;
        assert_eq!((status, &answer["accepted"]), (200, &json!(true)), "{answer}");
        // Ended through the first server: the second, which delivered it, refuses at once.
        let path = format!("/v1/admin/registrations/{SERVICE}/{user}/revoke");
        assert_eq!(post(&first.admin_url, &path, &json!({}), true).await.0, 200);
        let (status, answer) =
            verify(&second.admin_url, &user, &code_at(&token, unix_now() + 60)).await;
        assert_eq!((status, answer["code"].as_str()), (410, Some("ended")), "{answer}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clerk_unlocking_or_ending_from_the_cli_is_followed_by_the_running_server_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn(dir.path(), &[]);
    let user = issue(&server.admin_url).await;
    let token = provisioned(&server.url, &user).await;
    let now = unix_now();
    // Ten wrong codes lock the token; the server caches it locked.
    let right = code_at(&token, now);
    let wrong: String = right.bytes().map(|b| char::from(b'0' + (b - b'0' + 5) % 10)).collect();
    assert!((now / 60 - 2..=now / 60 + 3).all(|s| code_at(&token, s * 60) != wrong));
    for _ in 0..10 {
        verify(&server.admin_url, &user, &wrong).await;
    }
    let (status, answer) = verify(&server.admin_url, &user, &right).await;
    assert_eq!((status, answer["code"].as_str()), (423, Some("locked")), "{answer}");

    cli(dir.path(), &["unlock", "--service-id", SERVICE, "--user-id", &user]);
    let (status, answer) = verify(&server.admin_url, &user, &right).await;
    assert_eq!((status, &answer["accepted"]), (200, &json!(true)), "{answer}");

    cli(dir.path(), &["revoke", "--service-id", SERVICE, "--user-id", &user]);
    let (status, answer) =
        verify(&server.admin_url, &user, &code_at(&token, unix_now() + 60)).await;
    assert_eq!((status, answer["code"].as_str()), (410, Some("ended")), "{answer}");
}
