//! The real `softtoken-server` binary: killed with SIGKILL mid-provisioning and restarted on
//! the same database, driven by its admin CLI while it runs, stopped with SIGTERM, serving TLS.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use softtoken_core::client::{ClientOptions, ProvisionedToken, ProvisioningClient};
use softtoken_core::ids::{ActivationPassword, ServiceId, TokenId, UserId};
use softtoken_core::protocol::wire::{ConfirmResponse, StartResponse};
use softtoken_core::protocol::ClientHandshake;
use softtoken_core::protocol::NewToken;
use softtoken_core::totp::{unix_now, Totp};

mod binary;

use binary::{command, post, provisioned, spawn, ADMIN, SERVICE};

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
    Totp::new(token.issued.params, &token.seed, token.issued.offset)
        .unwrap()
        .code_now()
        .as_str()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn server_killed_mid_provisioning_loses_nothing_and_a_retry_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let first = spawn(dir.path(), &[]);
    let user = issue(&first.admin_url, "4821").await;
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
    assert_eq!(status_of(&third.admin_url, &user).await["state"], "confirmed");
    let confirmed: ConfirmResponse = serde_json::from_value(confirmed).unwrap();
    let (token, ack) = app.finish(&confirmed, unix_now()).unwrap();
    let (status, acked) =
        post(&third.url, "/v1/provision/ack", &serde_json::to_value(&ack).unwrap(), false).await;
    assert_eq!(status, 200, "{acked}");
    let code = code(&token);
    let verify = json!({"service_id": SERVICE, "user_id": user, "code": code});
    let (_, accepted) = post(&third.admin_url, "/v1/admin/verify", &verify, true).await;
    assert_eq!(accepted["accepted"], true, "{accepted}");
    third.kill9();

    // The accepted step was on disk before the answer: replaying it after a crash fails.
    let fourth = spawn(dir.path(), &[]);
    let (_, replay) = post(&fourth.admin_url, "/v1/admin/verify", &verify, true).await;
    assert_eq!(
        (replay["accepted"].as_bool(), replay["reason"].as_str()),
        (Some(false), Some("replayed"))
    );
    let status = status_of(&fourth.admin_url, &user).await;
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
    let user = issue(&server.admin_url, "4821").await;
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
    assert_eq!(status_of(&server.admin_url, &user).await["failed_tries"], 4);
}

fn cli(dir: &Path, args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut c = command(dir);
    c.args(args);
    common::run_with_stdin(c, stdin)
}

#[tokio::test(flavor = "multi_thread")]
async fn bank_clerk_issues_and_ends_use_from_the_cli_while_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn(dir.path(), &[]);
    let issue = ["issue", "--service-id", SERVICE, "--mail", "hanako@example.jp"];
    // A PIN a guesser tries first is refused at the counter too.
    let (ok, _, err) = cli(dir.path(), &issue, "2580\n");
    assert!(!ok && err.contains("choose another"), "{err}");
    let (ok, out, err) = cli(dir.path(), &issue, "2583\n");
    assert!(ok, "{err}");
    let issued: Value = serde_json::from_str(&out).unwrap();
    let user = issued["user_id"].as_str().unwrap().to_owned();
    assert_eq!(issued["state"], "issued");
    assert!(!common::shows_number(&out, "2583") && !common::shows_number(&err, "2583"));
    let mails: Vec<PathBuf> =
        std::fs::read_dir(dir.path().join("outbox")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(mails.len(), 1);
    assert!(std::fs::read_to_string(&mails[0]).unwrap().contains(&user));

    let client = ProvisioningClient::new(&server.url).unwrap();
    let confirmed = client
        .handshake(
            &ServiceId::new(SERVICE).unwrap(),
            &UserId::new(&user).unwrap(),
            &ActivationPassword::new("2583").unwrap(),
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

    // The phone's clock was moved ten minutes ahead after setup: the clerk resyncs it from two
    // consecutive codes on the command line, and the running server follows.
    let ahead = |t: u64| {
        Totp::new(token.issued.params, &token.seed, token.issued.offset)
            .unwrap()
            .code_at_bank_time(t)
            .as_str()
            .to_owned()
    };
    let t = unix_now() + 600;
    let (code1, code2) = (ahead(t), ahead(t + 60));
    let resync = ["resync", "--service-id", SERVICE, "--user-id", &user, "--code1", &code1];
    let (ok, out, err) = cli(dir.path(), &[&resync[..], &["--code2", &code2]].concat(), "");
    assert!(ok, "{err}");
    let resynced: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(resynced["resynced"], true, "{out}");
    assert!((10..=11).contains(&resynced["drift_steps"].as_i64().unwrap()), "{out}");
    let verify = json!({"service_id": SERVICE, "user_id": user, "code": ahead(t + 120)});
    let (status, body) = post(&server.admin_url, "/v1/admin/verify", &verify, true).await;
    assert_eq!((status, body["accepted"].as_bool()), (200, Some(true)), "{body}");
    // Codes that do not follow each other: exit 0, nothing changed.
    let (ok, out, err) =
        cli(dir.path(), &[&resync[..], &["--code2", &ahead(t + 600)]].concat(), "");
    assert!(ok, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["resynced"], false, "{out}");

    // The server has this registration cached; the CLI's revoke must still stop its codes.
    let (ok, _, err) =
        cli(dir.path(), &["revoke", "--service-id", SERVICE, "--user-id", &user], "");
    assert!(ok, "{err}");
    let verify = json!({"service_id": SERVICE, "user_id": user, "code": code(&token)});
    let (status, body) = post(&server.admin_url, "/v1/admin/verify", &verify, true).await;
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
fn a_connection_cap_above_the_open_file_limit_is_warned_about_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let start = |limit: &str| {
        // A shell sets the child's limits, as a service manager would.
        let script = format!("ulimit {limit} && exec \"$0\" \"$@\"");
        let server = command(dir.path());
        let mut c = std::process::Command::new("sh");
        c.arg("-c").arg(script).arg(server.get_program()).args(server.get_args());
        c.envs(server.get_envs().filter_map(|(k, v)| Some((k, v?))));
        c.args(["serve", "--bind", "127.0.0.1:0", "--admin-bind", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while !line.contains("admin API listening") {
            line.clear();
            let read = std::io::BufRead::read_line(&mut out, &mut line).unwrap();
            assert!(read > 0, "the server exited before listening");
        }
        child.kill().unwrap();
        let output = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    // 900 connections on each of two listeners cannot fit in 256 descriptors.
    let warned = start("-n 256");
    assert!(warned.contains("file_limit_low"), "{warned}");
    assert!(warned.contains("max_connections"), "{warned}");
    assert!(!start("-n 4096").contains("file_limit_low"));
    // A low soft limit under a high enough hard one is raised by the server itself.
    assert!(!start("-Sn 256 && ulimit -Hn 4096").contains("file_limit_low"));
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
        .post(format!("{}/v1/admin/registrations", server.admin_url.replace("127.0.0.1", "localhost")))
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

#[tokio::test(flavor = "multi_thread")]
async fn the_bank_keeps_its_files_to_itself_and_refuses_a_master_key_others_can_read() {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("master.key");
    std::fs::write(&key, format!("{}\n", binary::KEY)).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let data = dir.path().join("var/softtoken");
    let serve = |key: &Path| {
        let mut c = Command::new(binary::BIN);
        c.env("SOFTTOKEN_ADMIN_TOKEN_FILE", binary::token_file(dir.path(), "admin.token", ADMIN))
            .env("RUST_LOG", "warn")
            .arg("--master-key-file")
            .arg(key)
            .arg("--database")
            .arg(data.join("bank.db"))
            .arg("--outbox-dir")
            .arg(data.join("outbox"));
        c
    };
    // A key others could read may be copied already: the bank refuses to start with it.
    let out = serve(&key).args(["serve", "--bind", "127.0.0.1:0"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("can be read by others"), "{err}");
    assert!(!data.exists(), "nothing is created before the key is accepted");

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let server = binary::spawn_command(serve(&key), &[]);
    issue(&server.admin_url, "4821").await;
    for dir in [data.clone(), data.join("outbox")] {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    }
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(data.join("outbox")).unwrap().map(|e| e.unwrap().path()).collect();
    files.extend(["bank.db", "bank.db-wal", "bank.db-shm"].map(|f| data.join(f)));
    assert_eq!(files.len(), 4);
    for file in files {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
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
        let user = issue(&survivor.admin_url, "4821").await;
        let token = provisioned(&doomed.url, &user).await;
        tokens.push((user, code(&token)));
    }
    // Every code at once, three times each, to the instance about to die, which is killed as
    // soon as the first answer comes back.
    let (first_answer, mut answered) = tokio::sync::mpsc::unbounded_channel::<()>();
    let sent = tokens.iter().cycle().take(tokens.len() * 3).map(|(user, code)| {
        let body = json!({"service_id": SERVICE, "user_id": user, "code": code});
        let url = doomed.admin_url.clone();
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
        let (status, again) = post(&survivor.admin_url, "/v1/admin/verify", &verify, true).await;
        assert_eq!(status, 200, "{again}");
        if accepted_by_doomed == 1 {
            // Answered "accepted", so on disk: the survivor never accepts it again.
            assert_eq!(again["reason"], "replayed", "{user}: {again}");
        }
        let accepted_in_all = accepted_by_doomed + usize::from(again["accepted"] == true);
        assert!(accepted_in_all <= 1, "{user}: accepted twice");
        // Accepted by someone (an answer lost with the process still counts once).
        assert_eq!(status_of(&survivor.admin_url, user).await["state"], "in_use", "{user}");
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
    let migrated =
        Command::new(binary::BIN).args(["--database-url", &url, "migrate"]).output().unwrap();
    assert!(migrated.status.success(), "{}", String::from_utf8_lossy(&migrated.stderr));
    assert_eq!(db.psql("SELECT max(version) FROM softtoken_schema").unwrap(), "7");
    let again =
        Command::new(binary::BIN).args(["--database-url", &url, "migrate"]).output().unwrap();
    assert!(again.status.success());
    drop(spawn(dir.path(), &["--database-url", &url]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clerks_credential_comes_from_the_cli_once_and_stops_working_when_revoked() {
    softtoken_core::client::install_tls_provider();
    let dir = tempfile::tempdir().unwrap();
    let server = spawn(dir.path(), &[]);
    let add = ["credential", "add", "--name", "clerk-tanaka", "--scope", "clerk"];
    let (ok, token, err) = cli(dir.path(), &add, "");
    assert!(ok, "{err}");
    // Standard output is the token alone, for the holder's file; the rest is said on stderr.
    let token = token.trim().to_owned();
    assert!(token.starts_with("clerk-tanaka.") && !token.contains(char::is_whitespace), "{token}");
    assert!(err.contains("shown this once") && !err.contains(&token), "{err}");
    let issue = |bearer: String| {
        let body = json!({"service_id": SERVICE, "mail": "hanako@example.jp",
                          "activation_password": "2583"});
        let url = format!("{}/v1/admin/registrations", server.admin_url);
        async move {
            let req = reqwest::Client::new().post(url).bearer_auth(bearer).json(&body);
            req.send().await.unwrap().status().as_u16()
        }
    };
    assert_eq!(issue(token.clone()).await, 201, "the running server takes the new credential");
    let (ok, listed, _) = cli(dir.path(), &["credential", "list"], "");
    assert!(ok);
    let rows: Vec<Value> = listed.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(
        (rows.len(), rows[0]["name"].as_str(), rows[0]["scope"].as_str()),
        (1, Some("clerk-tanaka"), Some("clerk"))
    );
    assert!(!listed.contains(&token) && rows[0]["revoked_at"].is_null(), "{listed}");
    let (ok, _, err) = cli(dir.path(), &["credential", "revoke", "--name", "clerk-tanaka"], "");
    assert!(ok && err.contains("revoked 1"), "{err}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while issue(token.clone()).await != 401 {
        assert!(Instant::now() < deadline, "the revoked credential still issues");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (ok, _, err) = cli(dir.path(), &["credential", "revoke", "--name", "clerk-tanaka"], "");
    assert!(!ok && err.contains("no valid credential"), "{err}");
    // Each add and revoke is in the audit log under the operating-system user who ran it,
    // naming the credential (never its token); the refused revoke too.
    let (ok, log, err) = cli(dir.path(), &["audit", "--limit", "50"], "");
    assert!(ok, "{err}");
    assert!(!log.contains(&token), "a token in the audit log: {log}");
    let outcomes: Vec<(String, String)> = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| !e["refers_to"].is_null() && e["action"] != "issue")
        .inspect(|e| assert_eq!(e["actor"], "cli", "{e}"))
        .map(|e| (e["action"].as_str().unwrap().into(), e["outcome"].as_str().unwrap().into()))
        .collect();
    let id = rows[0]["id"].as_str().unwrap();
    let expected = [
        ("credential_revoke", "invalid_request".to_owned()),
        ("credential_revoke", "ok: clerk-tanaka, 1 revoked".to_owned()),
        ("credential_add", format!("ok: clerk-tanaka (clerk, ID {id})")),
    ];
    let expected: Vec<(String, String)> =
        expected.into_iter().map(|(a, o)| (a.to_owned(), o)).collect();
    assert_eq!(outcomes, expected, "newest first");
}

#[test]
fn a_bearer_token_in_an_environment_variable_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = command(dir.path())
        .env("SOFTTOKEN_VERIFY_TOKEN", "web-tier-verify-only-token-77")
        .args(["serve", "--bind", "127.0.0.1:0", "--admin-bind", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("SOFTTOKEN_VERIFY_TOKEN is no longer read"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_phone_move_completed_just_before_a_crash_stays_completed() {
    use softtoken_core::client::move_phone::MoveStatus;
    use softtoken_core::confirm::ConfirmationKeys;
    let dir = tempfile::tempdir().unwrap();
    let mut server = spawn(dir.path(), &[]);
    let old_user = issue(&server.admin_url, binary::PIN).await;
    let old_token = provisioned(&server.url, &old_user).await;
    let keys = ConfirmationKeys::derive(&old_token.seed);
    let (service, old) = (ServiceId::new(SERVICE).unwrap(), UserId::new(&old_user).unwrap());
    let client = ProvisioningClient::new(&server.url).unwrap();
    let password = ActivationPassword::new("7305").unwrap();
    let now = unix_now();
    let prepared = client.start_move(&keys, &service, &old, &password, now, now).await.unwrap();
    // The bank's clerk sees it from the command line while the server runs.
    let list = ["move", "list", "--service-id", SERVICE, "--user-id", old_user.as_str()];
    let (ok, out, err) = cli(dir.path(), &list, "");
    assert!(ok && out.contains("\"pending\"") && out.contains(prepared.move_id.as_str()), "{err}");
    // The new phone's ack, then the server dies before the old phone reads the status.
    let new_user = prepared.new_user_id.as_str().to_owned();
    let delivered = fetch(&ProvisioningClient::new(&server.url).unwrap(), &new_user, "7305").await;
    assert!(delivered.unwrap().is_delivered());
    server.kill9();
    server = spawn(dir.path(), &[]);
    let client = ProvisioningClient::new(&server.url).unwrap();
    let now = unix_now();
    let status = client.move_status(&keys, &service, &old, now, now).await.unwrap();
    assert!(
        matches!(&status, MoveStatus::Moved { new_user_id, .. } if new_user_id == &prepared.new_user_id),
        "{status:?}"
    );
    assert_eq!(status_of(&server.admin_url, &old_user).await["state"], "ended");
    assert_eq!(status_of(&server.admin_url, &new_user).await["state"], "delivered");
    // Nothing is left to cancel.
    let cancel = ["move", "cancel", "--move-id", prepared.move_id.as_str()];
    let (ok, _, err) = cli(dir.path(), &cancel, "");
    assert!(!ok && err.contains("no move"), "{err}");
}
