//! The bank's operations on the real `softtoken-server` binary: rotating the master key while
//! instances serve (and after a rotation was killed halfway), on SQLite and on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod binary;
mod common;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use binary::{command, post, provisioned, spawn_command, Proc, KEY, PIN, SERVICE};
use serde_json::{json, Value};

use softtoken_core::ids::{ActivationPassword, ServiceId, UserId};
use softtoken_core::protocol::wire::StartResponse;
use softtoken_core::protocol::{ClientHandshake, NewToken};
use softtoken_core::totp::{unix_now, Totp};

/// The key the bank rotates to.
const NEW_KEY: &str = "f0e1d2c3b4a5968778695a4b3c2d1e0f0f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// A key file as the bank keeps it: its owner's alone.
fn key_file(dir: &Path, name: &str, key: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join(name);
    std::fs::write(&path, format!("{key}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// The bank's database (SQLite in `dir`, or PostgreSQL) and its key files.
struct Bank {
    dir: PathBuf,
    database: Vec<String>,
    old_key: PathBuf,
    new_key: PathBuf,
}

impl Bank {
    fn new(dir: &Path, database: &[String]) -> Self {
        Self {
            dir: dir.to_owned(),
            database: database.to_vec(),
            old_key: key_file(dir, "old.key", KEY),
            new_key: key_file(dir, "new.key", NEW_KEY),
        }
    }

    /// The binary under `current` with `previous` keys configured.
    fn command(&self, current: &Path, previous: &[&Path]) -> Command {
        let mut c = command(&self.dir);
        c.env_remove("SOFTTOKEN_MASTER_KEY")
            .args(&self.database)
            .arg("--master-key-file")
            .arg(current);
        for p in previous {
            c.arg("--previous-master-key-file").arg(p);
        }
        c
    }

    fn serve(&self, current: &Path, previous: &[&Path]) -> Proc {
        let migrate: &[&str] = if self.database.is_empty() { &[] } else { &["--migrate-on-start"] };
        spawn_command(self.command(current, previous), migrate)
    }

    /// `rotate-key` (with `args`) under the new key with the old one still configured, or under
    /// the new key alone: success and the report.
    fn rotate(&self, keep_old: bool, args: &[&str]) -> (bool, Value) {
        let previous: &[&Path] = if keep_old { &[&self.old_key] } else { &[] };
        let out =
            self.command(&self.new_key, previous).arg("rotate-key").args(args).output().unwrap();
        let report = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
        (out.status.success(), report)
    }
}

async fn issue(admin_url: &str) -> String {
    let body =
        json!({"service_id": SERVICE, "mail": "taro@example.jp", "activation_password": PIN});
    let (status, body) = post(admin_url, "/v1/admin/registrations", &body, true).await;
    assert_eq!(status, 201, "{body}");
    body["user_id"].as_str().unwrap().to_owned()
}

fn code(token: &NewToken) -> String {
    Totp::new(token.issued.params, &token.seed, token.issued.offset)
        .unwrap()
        .code_now()
        .as_str()
        .to_owned()
}

async fn verify(admin_url: &str, user: &str, code: &str) -> Value {
    let body = json!({"service_id": SERVICE, "user_id": user, "code": code});
    let (status, answer) = post(admin_url, "/v1/admin/verify", &body, true).await;
    // 200 either way: the seed opened (a seed no key opens is a 500).
    assert_eq!(status, 200, "{user}: {answer}");
    answer
}

/// The whole rotation as the operations team runs it (docs/server.md, "Rotating the master
/// key"), with a rotation killed halfway and one run while the bank serves.
async fn rotation(database: &[String]) {
    let dir = tempfile::tempdir().unwrap();
    let bank = Bank::new(dir.path(), database);

    // Before: customers under the old key. Four in use, four set up, four only issued, and one
    // setup started on the app and not yet confirmed.
    let old = bank.serve(&bank.old_key, &[]);
    let mut used = Vec::new();
    let mut delivered = Vec::new();
    let mut issued = Vec::new();
    for i in 0..12 {
        let user = issue(&old.admin_url).await;
        match i % 3 {
            0 => {
                let token = provisioned(&old.url, &user).await;
                let accepted = code(&token);
                assert_eq!(verify(&old.admin_url, &user, &accepted).await["accepted"], true);
                used.push((user, token, accepted));
            }
            1 => delivered.push((user.clone(), provisioned(&old.url, &user).await)),
            _ => issued.push(user),
        }
    }
    let pending_user = issue(&old.admin_url).await;
    let (app, start) = ClientHandshake::start(
        &ServiceId::new(SERVICE).unwrap(),
        &UserId::new(&pending_user).unwrap(),
        &ActivationPassword::new(PIN).unwrap(),
    )
    .unwrap();
    let (status, started) =
        post(&old.url, "/v1/provision/start", &serde_json::to_value(&start).unwrap(), false).await;
    assert_eq!(status, 200, "{started}");
    let started: StartResponse = serde_json::from_value(started).unwrap();
    drop(old);

    // Step 1: every instance restarts under the new key with the old one as previous.
    let serving = bank.serve(&bank.new_key, &[&bank.old_key]);
    let (done, before) = bank.rotate(true, &["--check"]);
    assert!(!done);
    let stale = before["remaining"].as_u64().unwrap();
    // 13 registrations, the pending attempt and the attempts that set up the 8 tokens.
    assert_eq!(stale, 22, "{before}");

    // Step 2, interrupted: a rotation one row per transaction, killed at its first batch.
    let mut killed = bank
        .command(&bank.new_key, &[&bank.old_key])
        .args(["rotate-key", "--batch-size", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut progress = BufReader::new(killed.stderr.take().unwrap());
    let mut line = String::new();
    while !line.starts_with("rotate-key: re-sealed") {
        line.clear();
        assert!(progress.read_line(&mut line).unwrap() > 0, "rotate-key ended without progress");
    }
    killed.kill().unwrap();
    let status = killed.wait().unwrap();
    // It really died halfway: killed, with some rows re-sealed and some not.
    assert!(!status.success());
    let (done, halfway) = bank.rotate(true, &["--check"]);
    let left = halfway["remaining"].as_u64().unwrap();
    assert!(!done && 0 < left && left < stale, "{halfway}");

    // Step 2 again, while customers verify codes and set up tokens on the serving instance.
    let rerun = {
        let cmd = bank.command(&bank.new_key, &[&bank.old_key]);
        tokio::task::spawn_blocking(move || {
            let mut cmd = cmd;
            cmd.args(["rotate-key", "--batch-size", "2"]).output().unwrap()
        })
    };
    for (user, token) in &delivered {
        assert_eq!(verify(&serving.admin_url, user, &code(token)).await["accepted"], true);
    }
    let mut set_up_during = Vec::new();
    for user in issued.drain(..2) {
        set_up_during.push((user.clone(), provisioned(&serving.url, &user).await));
    }
    let rerun = rerun.await.unwrap();
    assert!(rerun.status.success(), "{}", String::from_utf8_lossy(&rerun.stderr));
    let report: Value = serde_json::from_slice(&rerun.stdout).unwrap();
    assert_eq!(report["remaining"], 0, "{report}");
    assert!(report["resealed"].as_u64().unwrap() >= 1, "{report}");
    drop(serving);

    // Step 3: the old key is removed from the configuration; nothing needs it any more.
    let (done, after) = bank.rotate(false, &["--check"]);
    assert!(done, "{after}");
    assert_eq!(after["remaining"], 0);
    std::fs::remove_file(&bank.old_key).unwrap();
    let new = bank.serve(&bank.new_key, &[]);
    for (user, token, accepted) in &used {
        // A code accepted before the rotation is never accepted again; the seed still opens.
        let again = verify(&new.admin_url, user, accepted).await;
        assert_eq!(again["accepted"], false, "{user}: {again}");
        let now = verify(&new.admin_url, user, &code(token)).await;
        assert!(now["accepted"] == true || now["reason"] == "replayed", "{user}: {now}");
    }
    for (user, token) in delivered.iter().chain(&set_up_during) {
        let now = verify(&new.admin_url, user, &code(token)).await;
        assert!(now["accepted"] == true || now["reason"] == "replayed", "{user}: {now}");
    }
    // Activation passwords re-sealed: the customers not yet set up still can be.
    for user in &issued {
        let token = provisioned(&new.url, user).await;
        assert_eq!(verify(&new.admin_url, user, &code(&token)).await["accepted"], true);
    }
    // The setup started before the rotation finishes after it: its attempt was re-sealed.
    let (app, confirm) = app.confirm(&started).unwrap();
    let (status, confirmed) =
        post(&new.url, "/v1/provision/confirm", &serde_json::to_value(&confirm).unwrap(), false)
            .await;
    assert_eq!(status, 200, "{confirmed}");
    let (token, ack) = app.finish(&serde_json::from_value(confirmed).unwrap(), unix_now()).unwrap();
    let (status, acked) =
        post(&new.url, "/v1/provision/ack", &serde_json::to_value(&ack).unwrap(), false).await;
    assert_eq!(status, 200, "{acked}");
    assert_eq!(verify(&new.admin_url, &pending_user, &code(&token)).await["accepted"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn bank_rotates_its_master_key_on_sqlite_while_serving_even_after_a_killed_rotation() {
    rotation(&[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bank_rotates_its_master_key_on_postgres_while_serving_even_after_a_killed_rotation() {
    let Some(db) = common::backends::cluster() else { return };
    rotation(&["--database-url".to_owned(), db.url()]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_taken_while_the_bank_serves_restores_with_no_accepted_code_accepted_again() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_command(command(dir.path()), &[]);
    let mut tokens = Vec::new();
    for _ in 0..6 {
        let user = issue(&server.admin_url).await;
        let token = provisioned(&server.url, &user).await;
        let accepted = code(&token);
        assert_eq!(verify(&server.admin_url, &user, &accepted).await["accepted"], true);
        tokens.push((user, token, accepted));
    }
    // The backup runs while customers keep setting up tokens and sending codes.
    let backup = dir.path().join("backups/bank-1.db");
    let copy = {
        let mut cmd = command(dir.path());
        cmd.env_remove("SOFTTOKEN_MASTER_KEY").arg("backup").arg("--to").arg(&backup);
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
    };
    for (user, _, accepted) in &tokens {
        assert_eq!(verify(&server.admin_url, user, accepted).await["reason"], "replayed");
        let _ = issue(&server.admin_url).await;
    }
    let copy = copy.await.unwrap();
    assert!(copy.status.success(), "{}", String::from_utf8_lossy(&copy.stderr));
    let mode = std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let conn = rusqlite::Connection::open(&backup).unwrap();
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    drop(conn);
    // A second backup never overwrites the first.
    let again = command(dir.path()).arg("backup").arg("--to").arg(&backup).output().unwrap();
    assert!(!again.status.success());
    // A customer set up after the backup: the restore will not know them.
    let later = issue(&server.admin_url).await;
    drop(server);

    // Restore: the server is stopped, the copy goes in place of the database and its WAL.
    let db = dir.path().join("bank.db");
    for stale in ["bank.db-wal", "bank.db-shm"] {
        let _ = std::fs::remove_file(dir.path().join(stale));
    }
    std::fs::rename(&backup, &db).unwrap();
    let restored = spawn_command(command(dir.path()), &[]);
    let (status, _) = post(
        &restored.admin_url,
        &format!("/v1/admin/registrations/{SERVICE}/{later}/unlock"),
        &json!({}),
        true,
    )
    .await;
    assert_eq!(status, 404, "the customer issued after the backup is not in the restored copy");
    for (user, token, accepted) in &tokens {
        // The step accepted before the backup is still the last accepted one: no replay.
        let replay = verify(&restored.admin_url, user, accepted).await;
        assert_eq!(replay["accepted"], false, "{user}: {replay}");
        // The master key still opens the seed.
        let now = verify(&restored.admin_url, user, &code(token)).await;
        assert!(now["accepted"] == true || now["reason"] == "replayed", "{user}: {now}");
    }
}

/// One page of `GET /v1/admin/audit` with `query`.
async fn audit_page(admin_url: &str, query: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .get(format!("{admin_url}/v1/admin/audit{query}"))
        .bearer_auth(binary::ADMIN)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// The audit trail as an auditor reads it: every admin action through the API and the command
/// line, with who, from where, what, on whom and how it ended — and no secret anywhere.
async fn audit_trail(database: &[String]) {
    let dir = tempfile::tempdir().unwrap();
    let cli = || {
        let mut c = command(dir.path());
        c.args(database);
        c
    };
    let server =
        spawn_command(cli(), if database.is_empty() { &[] } else { &["--migrate-on-start"] });
    let admin = &server.admin_url;

    // Through the API: an issue that draws the user ID, a setup and a code, an unlock, a resync
    // with codes that do not follow each other, an end, and an end of nobody.
    let user = issue(admin).await;
    let token = provisioned(&server.url, &user).await;
    let accepted = code(&token);
    assert_eq!(verify(admin, &user, &accepted).await["accepted"], true);
    let at = |action: &str| format!("/v1/admin/registrations/{SERVICE}/{user}/{action}");
    assert_eq!(post(admin, &at("unlock"), &json!({}), true).await.0, 200);
    let resync = json!({"code1": "000000", "code2": "000000"});
    let (status, answer) = post(admin, &at("resync"), &resync, true).await;
    assert_eq!((status, &answer["resynced"]), (200, &json!(false)), "{answer}");
    assert_eq!(post(admin, &at("revoke"), &json!({}), true).await.0, 200);
    let nobody = format!("/v1/admin/registrations/{SERVICE}/999800000777/revoke");
    assert_eq!(post(admin, &nobody, &json!({}), true).await.0, 404);

    // Through the command line, while the server runs: an issue with a chosen ID, and its end.
    let mut issue_cli = cli()
        .args(["issue", "--service-id", SERVICE, "--user-id", "999800000555"])
        .args(["--mail", "hanako@example.jp"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    writeln!(issue_cli.stdin.take().unwrap(), "{PIN}").unwrap();
    assert!(issue_cli.wait_with_output().unwrap().status.success());
    let end = cli().args(["revoke", "--service-id", SERVICE, "--user-id", "999800000555"]).output();
    assert!(end.unwrap().status.success());

    let (status, page) = audit_page(admin, "").await;
    assert_eq!(status, 200, "{page}");
    let entries = page["entries"].as_array().unwrap();
    // Each action is two entries: `pending` before it ran, its outcome after, naming the first.
    let outcomes: Vec<&Value> = entries.iter().filter(|e| !e["refers_to"].is_null()).collect();
    for ended in &outcomes {
        let first = entries.iter().find(|e| e["id"] == ended["refers_to"]).unwrap();
        assert_eq!((&first["outcome"], &first["action"]), (&json!("pending"), &ended["action"]));
    }
    assert_eq!(entries.len(), 2 * outcomes.len(), "{page}");
    let seen: Vec<(&str, &str, &str, &str)> = outcomes
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or("-");
            (s("actor"), s("action"), s("user_id"), s("outcome"))
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("cli", "end", "999800000555", "ok"),
            ("cli", "issue", "999800000555", "ok"),
            ("credential:legacy-admin", "end", "999800000777", "unknown_registration"),
            ("credential:legacy-admin", "end", user.as_str(), "ok"),
            ("credential:legacy-admin", "resync", user.as_str(), "ok"),
            ("credential:legacy-admin", "unlock", user.as_str(), "ok"),
            ("credential:legacy-admin", "issue", user.as_str(), "ok"),
        ],
        "newest first; verifies and setups are not admin actions"
    );
    assert!(page["next_before_id"].is_null(), "{page}");
    let now = unix_now();
    for e in entries {
        assert_eq!(e["service_id"], SERVICE);
        assert!(e["at"].as_u64().unwrap().abs_diff(now) < 600, "{e}");
        match e["actor"].as_str().unwrap() {
            "credential:legacy-admin" => assert_eq!(e["origin"], "127.0.0.1"),
            _ => assert!(e["origin"].as_str().unwrap().starts_with("uid "), "{e}"),
        }
    }
    let everything = page.to_string();
    for secret in [binary::ADMIN, binary::KEY] {
        assert!(!everything.contains(secret), "a secret in the audit log: {everything}");
    }
    for secret in [PIN, accepted.as_str()] {
        assert!(
            !common::shows_number(&everything, secret),
            "a secret in the audit log: {everything}"
        );
    }

    // Paging and the filter by customer.
    let (_, first) = audit_page(admin, "?limit=4").await;
    assert_eq!(first["entries"].as_array().unwrap().len(), 4);
    let cursor = first["next_before_id"].as_u64().unwrap();
    let (_, second) = audit_page(admin, &format!("?limit=4&before_id={cursor}")).await;
    assert_eq!(second["entries"][0]["action"], "end");
    assert_eq!(second["entries"][0]["user_id"], "999800000777");
    let (_, one) = audit_page(admin, &format!("?service_id={SERVICE}&user_id={user}")).await;
    // Four actions, two entries each, but the issue's first entry was written before it drew
    // the user ID: its outcome names it.
    assert_eq!(one["entries"].as_array().unwrap().len(), 7);
    assert_eq!(audit_page(admin, "?user_id=12x").await.0, 400);
    assert_eq!(audit_page(admin, "?limit=0").await.0, 400);
    let stranger = reqwest::Client::new().get(format!("{admin}/v1/admin/audit")).send().await;
    assert_eq!(stranger.unwrap().status().as_u16(), 401);

    // The command line reads the same log.
    let out = cli().args(["audit", "--limit", "3"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0], entries[0]);

    // The chain verifies; an outcome rewritten in the database, around the server (its
    // append-only trigger dropped first), is named by `audit verify`, which exits non-zero.
    let verify_chain = || {
        let out = cli().args(["audit", "verify"]).output().unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (out.status.success(), report)
    };
    let (ok, report) = verify_chain();
    assert!(ok, "{report}");
    assert_eq!(report["chained"].as_u64(), Some(entries.len() as u64), "{report}");
    let forged = outcomes.iter().find(|e| e["outcome"] == "unknown_registration").unwrap();
    let id = forged["id"].as_i64().unwrap();
    rewrite_outcome(database, dir.path(), id).await;
    let (ok, report) = verify_chain();
    assert!(!ok, "a rewritten entry passed: {report}");
    assert_eq!(report["last_id"].as_i64(), Some(id - 1), "{report}");
    assert!(report["broken"].as_str().unwrap().contains(&format!("entry {id} ")), "{report}");
}

/// What someone with the database's own rights does to hide a refusal: rewrites an entry's
/// outcome to `ok`.
async fn rewrite_outcome(database: &[String], dir: &Path, id: i64) {
    if let Some(url) = database.get(1) {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        client
            .batch_execute(&format!(
                "ALTER TABLE audit DISABLE TRIGGER audit_append_only; \
                 UPDATE audit SET outcome = 'ok' WHERE id = {id}"
            ))
            .await
            .unwrap();
        return;
    }
    let db = rusqlite::Connection::open(dir.join("bank.db")).unwrap();
    db.execute_batch(&format!(
        "DROP TRIGGER audit_no_update; UPDATE audit SET outcome = 'ok' WHERE id = {id}"
    ))
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn every_admin_action_is_in_the_audit_log_with_who_what_when_and_no_secret_on_sqlite() {
    audit_trail(&[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_admin_action_is_in_the_audit_log_with_who_what_when_and_no_secret_on_postgres() {
    let Some(db) = common::backends::cluster() else { return };
    audit_trail(&["--database-url".to_owned(), db.url()]).await;
}
