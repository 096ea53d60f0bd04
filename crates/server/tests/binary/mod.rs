//! The real `softtoken-server` binary as a child process, for the tests that are about the
//! process or the network edge: spawned on 127.0.0.1:0 over a fresh directory, killed and
//! reaped when dropped.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

use serde_json::Value;
use softtoken_core::client::ProvisioningClient;
use softtoken_core::ids::{ActivationPassword, ServiceId, TokenId, UserId};
use softtoken_core::protocol::NewToken;
use softtoken_core::totp::unix_now;

pub const BIN: &str = env!("CARGO_BIN_EXE_softtoken-server");
pub const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
pub const ADMIN: &str = "process-test-admin-token-42";
pub const SERVICE: &str = "10112231";
/// The activation password of the tokens these tests set up.
pub const PIN: &str = "4821";

pub struct Proc {
    pub child: Child,
    /// The app-facing listener.
    pub url: String,
    /// The admin listener.
    pub admin_url: String,
    _stdout: BufReader<ChildStdout>,
}

/// A bearer token file as the bank keeps one: its owner's alone (bearer tokens come from
/// files only).
pub fn token_file(dir: &Path, name: &str, token: &str) -> PathBuf {
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = dir.join(name);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut f, token.as_bytes()).unwrap();
    path
}

pub fn command(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.env("SOFTTOKEN_MASTER_KEY", KEY)
        .env("SOFTTOKEN_ADMIN_TOKEN_FILE", token_file(dir, "admin.token", ADMIN))
        .env("RUST_LOG", "warn")
        .arg("--database")
        .arg(dir.join("bank.db"))
        .arg("--outbox-dir")
        .arg(dir.join("outbox"));
    c
}

pub fn spawn(dir: &Path, extra: &[&str]) -> Proc {
    spawn_command(command(dir), extra)
}

/// Serves with `command` (from [`command`], with more environment) and `extra` flags.
pub fn spawn_command(mut command: Command, extra: &[&str]) -> Proc {
    let mut child = command
        .args(["serve", "--bind", "127.0.0.1:0", "--admin-bind", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    // Owned by `Proc` from here, whose drop kills and reaps the child if an assert fails.
    let mut proc = Proc { child, url: String::new(), admin_url: String::new(), _stdout: stdout };
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            proc._stdout.read_line(&mut line).unwrap() > 0,
            "the server exited before listening"
        );
        if let Some(url) = line.trim().strip_prefix("softtoken-server listening on ") {
            proc.url = url.to_owned();
        }
        if let Some(url) = line.trim().strip_prefix("softtoken-server admin API listening on ") {
            proc.admin_url = url.to_owned();
            return proc;
        }
    }
}

impl Proc {
    pub fn kill9(mut self) {
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

pub async fn post(url: &str, path: &str, body: &Value, admin: bool) -> (u16, Value) {
    softtoken_core::client::install_tls_provider();
    let mut req = reqwest::Client::new().post(format!("{url}{path}")).json(body);
    if admin {
        req = req.bearer_auth(ADMIN);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Setup through the real core client, keeping the token (its codes are verified later).
pub async fn provisioned(url: &str, user: &str) -> NewToken {
    let client = ProvisioningClient::new(url).unwrap();
    let confirmed = client
        .handshake(
            &ServiceId::new(SERVICE).unwrap(),
            &UserId::new(user).unwrap(),
            &ActivationPassword::new(PIN).unwrap(),
            unix_now(),
        )
        .await
        .unwrap();
    assert!(client.ack(confirmed.ack.stored(TokenId::random().unwrap())).await.is_delivered());
    confirmed.token
}
