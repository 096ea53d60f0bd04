//! The real `softtoken-server` binary: killed with SIGKILL mid-provisioning and restarted on
//! the same database, driven by its admin CLI while it runs, stopped with SIGTERM, serving TLS.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use softtoken_core::client::{ClientOptions, ProvisionedToken, ProvisioningClient};
use softtoken_core::ids::{ActivationPassword, ServiceId, TokenId, UserId};
use softtoken_core::protocol::wire::{ConfirmResponse, StartResponse};
use softtoken_core::protocol::ClientHandshake;
use softtoken_core::protocol::NewToken;
use softtoken_core::totp::{unix_now, Totp};

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_softtoken-server");
const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const ADMIN: &str = "process-test-admin-token-42";
const SERVICE: &str = "10112231";

struct Proc {
    child: Child,
    url: String,
    _stdout: BufReader<ChildStdout>,
}

fn command(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.env("SOFTTOKEN_MASTER_KEY", KEY)
        .env("SOFTTOKEN_ADMIN_TOKEN", ADMIN)
        .env("RUST_LOG", "warn")
        .arg("--database")
        .arg(dir.join("bank.db"))
        .arg("--outbox-dir")
        .arg(dir.join("outbox"));
    c
}

fn spawn(dir: &Path, extra: &[&str]) -> Proc {
    let mut child = command(dir)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    // Owned by `Proc` from here, whose drop kills and reaps the child if an assert fails.
    let mut proc = Proc { child, url: String::new(), _stdout: stdout };
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            proc._stdout.read_line(&mut line).unwrap() > 0,
            "the server exited before listening"
        );
        if let Some(url) = line.trim().strip_prefix("softtoken-server listening on ") {
            proc.url = url.to_owned();
            return proc;
        }
    }
}

impl Proc {
    fn kill9(mut self) {
        // std's kill is SIGKILL on Unix: no shutdown code runs.
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn post(url: &str, path: &str, body: &Value, admin: bool) -> (u16, Value) {
    softtoken_core::client::install_tls_provider();
    let mut req = reqwest::Client::new().post(format!("{url}{path}")).json(body);
    if admin {
        req = req.bearer_auth(ADMIN);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn issue(url: &str, password: &str) -> String {
    let (status, body) = post(
        url,
        "/v1/admin/registrations",
        &json!({"service_id": SERVICE, "mail": "taro@example.jp", "activation_password": password}),
        true,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["user_id"].as_str().unwrap().to_owned()
}

async fn status_of(url: &str, user: &str) -> Value {
    softtoken_core::client::install_tls_provider();
    let resp = reqwest::Client::new()
        .get(format!("{url}/v1/admin/registrations/{SERVICE}/{user}"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    resp.json().await.unwrap()
}

/// Step 7 with the real core client, for tests that only need the bank's answer: the token
/// is not kept.
async fn fetch(
    client: &ProvisioningClient,
    user: &str,
    password: &str,
) -> softtoken_core::Result<ProvisionedToken> {
    let confirmed = client
        .handshake(
            &ServiceId::new(SERVICE)?,
            &UserId::new(user)?,
            &ActivationPassword::new(password)?,
            unix_now(),
        )
        .await?;
    Ok(client.ack(confirmed.ack.stored(TokenId::random()?)).await)
}

fn code(token: &NewToken) -> String {
    Totp::new(token.params, &token.seed, token.offset).unwrap().code_now().as_str().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn server_killed_mid_provisioning_loses_nothing_and_a_retry_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let first = spawn(dir.path(), &[]);
    let user = issue(&first.url, "4821").await;
    let (app, start) = ClientHandshake::start(
        &ServiceId::new(SERVICE).unwrap(),
        &UserId::new(&user).unwrap(),
        &ActivationPassword::new("4821").unwrap(),
    )
    .unwrap();
    let (status, started) =
        post(&first.url, "/v1/provision/start", &serde_json::to_value(&start).unwrap(), false)
            .await;
    assert_eq!(status, 200, "{started}");
    first.kill9();

    // The attempt was stored (encrypted) before the answer: the confirm works after a crash.
    let second = spawn(dir.path(), &[]);
    let started: StartResponse = serde_json::from_value(started).unwrap();
    let (app, confirm) = app.confirm(&started).unwrap();
    let (status, confirmed) =
        post(&second.url, "/v1/provision/confirm", &serde_json::to_value(&confirm).unwrap(), false)
            .await;
    assert_eq!(status, 200, "{confirmed}");
    second.kill9();

    let third = spawn(dir.path(), &[]);
    assert_eq!(status_of(&third.url, &user).await["state"], "confirmed");
    let confirmed: ConfirmResponse = serde_json::from_value(confirmed).unwrap();
    let (token, ack) = app.finish(&confirmed, unix_now()).unwrap();
    let (status, acked) =
        post(&third.url, "/v1/provision/ack", &serde_json::to_value(&ack).unwrap(), false).await;
    assert_eq!(status, 200, "{acked}");
    let code = code(&token);
    let verify = json!({"service_id": SERVICE, "user_id": user, "code": code});
    let (_, accepted) = post(&third.url, "/v1/admin/verify", &verify, true).await;
    assert_eq!(accepted["accepted"], true, "{accepted}");
    third.kill9();

    // The accepted step was on disk before the answer: replaying it after a crash fails.
    let fourth = spawn(dir.path(), &[]);
    let (_, replay) = post(&fourth.url, "/v1/admin/verify", &verify, true).await;
    assert_eq!(
        (replay["accepted"].as_bool(), replay["reason"].as_str()),
        (Some(false), Some("replayed"))
    );
    let status = status_of(&fourth.url, &user).await;
    assert_eq!(status["state"], "in_use");
    // Nothing duplicated: one registration, delivered once.
    let again = ProvisioningClient::new(&fourth.url).unwrap();
    let refused = fetch(&again, &user, "4821").await;
    assert!(matches!(refused, Err(softtoken_core::Error::AlreadyDelivered)), "{refused:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_password_count_survives_a_crash_of_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = spawn(dir.path(), &[]);
    let user = issue(&server.url, "4821").await;
    for left in (1..=4).rev() {
        let client = ProvisioningClient::new(&server.url).unwrap();
        let outcome = fetch(&client, &user, "0000").await;
        assert!(
            matches!(outcome, Err(softtoken_core::Error::WrongActivationPassword { tries_left }) if tries_left == left),
            "{outcome:?}"
        );
        server.kill9();
        server = spawn(dir.path(), &[]);
    }
    assert_eq!(status_of(&server.url, &user).await["failed_tries"], 4);
}

fn cli(dir: &Path, args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = command(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn bank_clerk_issues_and_ends_use_from_the_cli_while_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn(dir.path(), &[]);
    let (ok, out, err) = cli(
        dir.path(),
        &["issue", "--service-id", SERVICE, "--mail", "hanako@example.jp"],
        "2580\n",
    );
    assert!(ok, "{err}");
    let issued: Value = serde_json::from_str(&out).unwrap();
    let user = issued["user_id"].as_str().unwrap().to_owned();
    assert_eq!(issued["state"], "issued");
    assert!(!out.contains("2580") && !err.contains("2580"));
    let mails: Vec<PathBuf> =
        std::fs::read_dir(dir.path().join("outbox")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(mails.len(), 1);
    assert!(std::fs::read_to_string(&mails[0]).unwrap().contains(&user));

    let client = ProvisioningClient::new(&server.url).unwrap();
    let confirmed = client
        .handshake(
            &ServiceId::new(SERVICE).unwrap(),
            &UserId::new(&user).unwrap(),
            &ActivationPassword::new("2580").unwrap(),
            unix_now(),
        )
        .await
        .unwrap();
    let token = confirmed.token;
    let outcome = client.ack(confirmed.ack.stored(TokenId::random().unwrap())).await;
    assert!(outcome.is_delivered());
    let (ok, out, _) =
        cli(dir.path(), &["status", "--service-id", SERVICE, "--user-id", &user], "");
    assert!(ok);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["state"], "delivered");

    // The server has this registration cached; the CLI's revoke must still stop its codes.
    let (ok, _, err) =
        cli(dir.path(), &["revoke", "--service-id", SERVICE, "--user-id", &user], "");
    assert!(ok, "{err}");
    let verify = json!({"service_id": SERVICE, "user_id": user, "code": code(&token)});
    let (status, body) = post(&server.url, "/v1/admin/verify", &verify, true).await;
    assert_eq!((status, body["code"].as_str()), (410, Some("ended")), "{body}");
    let (ok, _, err) = cli(dir.path(), &["status", "--service-id", SERVICE, "--user-id", "12"], "");
    assert!(!ok && err.contains("user ID"), "{err}");
}

#[test]
fn server_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = spawn(dir.path(), &[]);
    // The shell's builtin `kill`, so no procps package is needed.
    let killed = Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", server.child.id())])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the server did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn plain_http_on_a_public_address_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = command(dir.path()).args(["serve", "--bind", "0.0.0.0:0"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing plain HTTP"));
}

#[tokio::test(flavor = "multi_thread")]
async fn app_provisions_over_https_served_by_the_server_itself() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let dir = tempfile::tempdir().unwrap();
    let server = spawn(
        dir.path(),
        &[
            "--tls-cert",
            fixtures.join("server-cert.pem").to_str().unwrap(),
            "--tls-key",
            fixtures.join("server-key.pem").to_str().unwrap(),
        ],
    );
    let https = server.url.replace("127.0.0.1", "localhost");
    assert!(https.starts_with("https://"), "{https}");
    let options = ClientOptions {
        extra_root_pem: Some(std::fs::read(fixtures.join("test-ca.pem")).unwrap()),
        ..ClientOptions::default()
    };
    softtoken_core::client::install_tls_provider();
    let admin = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(fixtures.join("test-ca.pem")).unwrap())
                .unwrap(),
        )
        .build()
        .unwrap();
    let resp = admin
        .post(format!("{https}/v1/admin/registrations"))
        .bearer_auth(ADMIN)
        .json(&json!({"service_id": SERVICE, "mail": "taro@example.jp", "activation_password": "4821"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let user = resp.json::<Value>().await.unwrap()["user_id"].as_str().unwrap().to_owned();
    let client = ProvisioningClient::with_options(&https, options).unwrap();
    let outcome = fetch(&client, &user, "4821").await.unwrap();
    assert!(outcome.is_delivered());
    // Without the test CA the app refuses the connection.
    let untrusted = ProvisioningClient::new(&https).unwrap();
    let refused = fetch(&untrusted, &user, "4821").await;
    assert!(matches!(refused, Err(softtoken_core::Error::Tls(_))), "{refused:?}");
}

/// Setup through the real core client, keeping the token (its codes are verified later).
async fn provisioned(url: &str, user: &str) -> NewToken {
    let client = ProvisioningClient::new(url).unwrap();
    let confirmed = client
        .handshake(
            &ServiceId::new(SERVICE).unwrap(),
            &UserId::new(user).unwrap(),
            &ActivationPassword::new("4821").unwrap(),
            unix_now(),
        )
        .await
        .unwrap();
    assert!(client.ack(confirmed.ack.stored(TokenId::random().unwrap())).await.is_delivered());
    confirmed.token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_instance_killed_mid_verify_loses_no_accepted_code_and_accepts_none_twice() {
    let Some(db) = common::backends::cluster() else { return };
    let dir = tempfile::tempdir().unwrap();
    let on_db = ["--database-url", &db.url(), "--migrate-on-start"];
    let doomed = spawn(dir.path(), &on_db);
    let survivor = spawn(dir.path(), &on_db);
    let mut tokens = Vec::new();
    for _ in 0..12 {
        let user = issue(&survivor.url, "4821").await;
        let token = provisioned(&doomed.url, &user).await;
        tokens.push((user, code(&token)));
    }
    // Every code at once, three times each, to the instance about to die, which is killed as
    // soon as the first answer comes back.
    let (first_answer, mut answered) = tokio::sync::mpsc::unbounded_channel::<()>();
    let sent = tokens.iter().cycle().take(tokens.len() * 3).map(|(user, code)| {
        let body = json!({"service_id": SERVICE, "user_id": user, "code": code});
        let url = doomed.url.clone();
        let first_answer = first_answer.clone();
        tokio::spawn(async move {
            let resp = reqwest::Client::new()
                .post(format!("{url}/v1/admin/verify"))
                .bearer_auth(ADMIN)
                .json(&body)
                .send()
                .await
                .ok()?;
            let answer = resp.json::<Value>().await.ok();
            let _ = first_answer.send(());
            answer
        })
    });
    let sent: Vec<_> = sent.collect();
    answered.recv().await;
    let pid = doomed.child.id();
    doomed.kill9();
    let mut answers = Vec::new();
    for s in sent {
        answers.push(s.await.unwrap());
    }
    // The kill really came mid-verify: the process is gone, and verifies were cut.
    assert!(!Path::new(&format!("/proc/{pid}")).exists());
    let unanswered = answers.iter().filter(|a| a.is_none()).count();
    assert!(unanswered > 0, "every verify was answered before the kill: {answers:?}");
    for (i, (user, code)) in tokens.iter().enumerate() {
        let accepted_by_doomed = answers
            .iter()
            .skip(i)
            .step_by(tokens.len())
            .filter(|a| a.as_ref().is_some_and(|a| a["accepted"] == true))
            .count();
        assert!(accepted_by_doomed <= 1, "{user}: {answers:?}");
        let verify = json!({"service_id": SERVICE, "user_id": user, "code": code});
        let (status, again) = post(&survivor.url, "/v1/admin/verify", &verify, true).await;
        assert_eq!(status, 200, "{again}");
        if accepted_by_doomed == 1 {
            // Answered "accepted", so on disk: the survivor never accepts it again.
            assert_eq!(again["reason"], "replayed", "{user}: {again}");
        }
        let accepted_in_all = accepted_by_doomed + usize::from(again["accepted"] == true);
        assert!(accepted_in_all <= 1, "{user}: accepted twice");
        // Accepted by someone (an answer lost with the process still counts once).
        assert_eq!(status_of(&survivor.url, user).await["state"], "in_use", "{user}");
    }
}

#[test]
fn an_instance_refuses_an_unmigrated_database_until_the_operator_runs_migrate() {
    let Some(db) = common::backends::cluster() else { return };
    let dir = tempfile::tempdir().unwrap();
    let url = db.url();
    let refused = command(dir.path())
        .args(["--database-url", &url, "serve", "--bind", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("softtoken-server migrate"), "{err}");
    // `migrate` needs no master key: a deployment job runs it before any instance starts.
    let migrated = Command::new(BIN).args(["--database-url", &url, "migrate"]).output().unwrap();
    assert!(migrated.status.success(), "{}", String::from_utf8_lossy(&migrated.stderr));
    assert_eq!(db.psql("SELECT max(version) FROM softtoken_schema").unwrap(), "1");
    let again = Command::new(BIN).args(["--database-url", &url, "migrate"]).output().unwrap();
    assert!(again.status.success());
    drop(spawn(dir.path(), &["--database-url", &url]));
}
