//! Demo mode through the real binary and the README's demo script: the printed activation
//! password is always the one the bank holds, and demo mode stays on one machine and never
//! touches a customer's registration.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

use softtoken_core::client::ProvisioningClient;
use softtoken_core::totp::unix_now;

const BIN: &str = env!("CARGO_BIN_EXE_softtoken-server");
const DEMO_USER: &str = "999800000001";

/// A running process whose stdout is read line by line; killed and reaped on drop.
struct Running {
    child: Child,
    stdout: BufReader<ChildStdout>,
}

impl Running {
    fn spawn(mut command: Command) -> Self {
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Self { child, stdout }
    }

    /// Lines up to and including the first one that starts with `last`; `None` when the
    /// process closed its output first (it exited).
    fn read_until(&mut self, last: &str) -> Option<Vec<String>> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            if self.stdout.read_line(&mut line).unwrap() == 0 {
                return None;
            }
            let done = line.trim_start().starts_with(last);
            lines.push(line.trim_end().to_owned());
            if done {
                return Some(lines);
            }
        }
    }

    /// Waits for the exit (after the output closed) and returns stderr.
    fn stderr_after_exit(mut self) -> (bool, String) {
        let mut err = String::new();
        std::io::Read::read_to_string(self.child.stderr.as_mut().unwrap(), &mut err).unwrap();
        (self.child.wait().unwrap().success(), err)
    }

    /// SIGTERM, as ctrl-c or a service manager stops it, then waits.
    fn terminate(mut self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        self.child.wait().unwrap();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.env_remove("SOFTTOKEN_DEMO_ACTIVATION_PASSWORD")
        .env("RUST_LOG", "warn")
        .arg("--database")
        .arg(dir.join("bank.db"))
        .arg("--master-key-file")
        .arg(dir.join("master.key"));
    c
}

fn demo_server(dir: &Path, password: &str, extra: &[&str]) -> Running {
    let mut c = server(dir);
    c.env("SOFTTOKEN_DEMO_ACTIVATION_PASSWORD", password)
        .args(["serve", "--demo", "--bind"])
        .args(if extra.is_empty() { &["127.0.0.1:0"][..] } else { extra });
    Running::spawn(c)
}

fn url_of(lines: &[String]) -> String {
    lines
        .iter()
        .find_map(|l| l.trim().strip_prefix("softtoken-server listening on "))
        .unwrap()
        .to_owned()
}

/// Step 7 as the app does it; true when the bank delivered the token.
async fn activate(url: &str, password: &str) -> bool {
    softtoken_core::client::install_tls_provider();
    let client = ProvisioningClient::new(url).unwrap();
    common::provision_with(&client, DEMO_USER, password, unix_now())
        .await
        .is_ok_and(|(_, delivery)| delivery.is_delivered())
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_restarted_with_another_password_holds_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = demo_server(dir.path(), "5816", &[]);
    first.read_until("softtoken-server listening on").unwrap();
    first.terminate();

    let mut second = demo_server(dir.path(), "9340", &[]);
    let lines = second.read_until("softtoken-server listening on").unwrap();
    assert!(lines[0].ends_with("activation password 9340"), "{lines:?}");
    assert!(activate(&url_of(&lines), "9340").await, "the printed password was refused");
}

#[tokio::test(flavor = "multi_thread")]
async fn visitor_activates_with_the_password_the_demo_script_prints_every_run() {
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/demo.sh");
    for run in 1..=2 {
        let mut c = Command::new("bash");
        c.arg(&script)
            .arg("--bank-only")
            .env_remove("SOFTTOKEN_DEMO_ACTIVATION_PASSWORD")
            .env("SOFTTOKEN_DEMO_SERVER", BIN)
            .env("SOFTTOKEN_DEMO_PORT", "0")
            .env("SOFTTOKEN_DEMO_DIR", dir.path());
        let mut demo = Running::spawn(c);
        let Some(lines) = demo.read_until("Press ctrl-c") else {
            let (_, err) = demo.stderr_after_exit();
            panic!("demo.sh run {run} stopped: {err}");
        };
        let field = |name: &str| {
            lines.iter().find_map(|l| l.trim().strip_prefix(name)).unwrap().trim().to_owned()
        };
        let url = field("The bank:").split_whitespace().next().unwrap().to_owned();
        let password = field("activation password");
        assert_eq!(password, "3718", "the README's password");
        assert!(activate(&url, &password).await, "run {run}: the printed password was refused");
        demo.terminate();
    }
}

/// Starts `serve` and expects it to refuse: its stderr.
fn refused(mut running: Running) -> String {
    if let Some(lines) = running.read_until("softtoken-server listening on") {
        panic!("the server started: {lines:?}");
    }
    let (ok, err) = running.stderr_after_exit();
    assert!(!ok, "{err}");
    err
}

#[test]
fn demo_mode_is_refused_on_a_public_address_and_behind_a_proxy() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["0.0.0.0:0", "--behind-tls-proxy"][..],
        &["127.0.0.1:0", "--behind-tls-proxy"][..],
        &["127.0.0.1:0", "--trusted-proxies", "10.0.0.0/8"][..],
    ] {
        let err = refused(demo_server(dir.path(), "3718", args));
        assert!(err.contains("refusing demo mode"), "{args:?}: {err}");
    }
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let cert = fixtures.join("server-cert.pem");
    let key = fixtures.join("server-key.pem");
    let tls =
        ["0.0.0.0:0", "--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()];
    let err = refused(demo_server(dir.path(), "3718", &tls));
    assert!(err.contains("refusing demo mode"), "{err}");
}

#[test]
fn demo_mode_refuses_to_start_over_a_customers_registration_with_the_demo_ids() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("master.key");
    std::fs::write(&key, format!("{}\n", "3c".repeat(32))).unwrap();
    // The bank refuses a master key others can read.
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let cli = |args: &[&str], stdin: &str| {
        let mut c = server(dir.path());
        c.args(args);
        let (ok, out, err) = common::run_with_stdin(c, stdin);
        assert!(ok, "{err}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap()
    };
    let ids = ["--service-id", common::SERVICE, "--user-id", DEMO_USER];
    cli(&[&["issue"][..], &ids, &["--mail", "taro@example.invalid"]].concat(), "73914826\n");

    let err = refused(demo_server(dir.path(), "3718", &[]));
    assert!(err.contains("demo IDs belong to a registration that is not the demo's"), "{err}");
    let status = cli(&[&["status"][..], &ids].concat(), "");
    assert_eq!(status["state"], "issued", "{status}");
    assert_eq!(status["demo"], false, "{status}");
}

fn check_keyring(wrapper: &[&str], bus: Option<&Path>) -> (bool, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/demo.sh");
    let mut c = Command::new("bash");
    c.args(wrapper)
        .arg(&script)
        .arg("--check-keyring")
        .env_remove("SOFTTOKEN_DEMO_PRIVATE_KEYRING");
    if let Some(bus) = bus {
        c.env("DBUS_SESSION_BUS_ADDRESS", format!("unix:path={}", bus.display()));
    }
    let out = c.output().unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[test]
fn demo_on_a_machine_without_a_secret_service_keeps_tokens_in_a_private_keyring() {
    // A bare X session or a kiosk: no session bus answers at all.
    let dir = tempfile::tempdir().unwrap();
    let (ok, text) = check_keyring(&[], Some(&dir.path().join("no-bus")));
    assert!(ok, "{text}");
    assert!(text.contains("no Secret Service answers here"), "the demo did not say so: {text}");
    assert!(text.contains("keyring: private Secret Service ready"), "{text}");
}

#[test]
fn demo_on_a_desktop_with_an_unlocked_keyring_uses_it() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/with-secret-service.sh");
    let (ok, text) = check_keyring(&[script.to_str().unwrap(), "bash"], None);
    assert!(ok, "{text}");
    assert!(text.contains("keyring: Secret Service ready"), "{text}");
    assert!(!text.contains("private"), "{text}");
}
