//! The bank side of the window tests: the reference server (`softtoken-server serve --demo`)
//! on 127.0.0.1, its admin commands (issue, status, verify) on the same database, as the
//! bank web would run them, and its admin API (with an admin token) for what the bank web tier
//! asks over HTTP (transaction confirmations).

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use super::terminate;

/// Wrong activation passwords before the server locks a registration.
pub const MAX_TRIES: u32 = 5;

pub struct Bank {
    child: Child,
    server: PathBuf,
    dir: tempfile::TempDir,
    master_key: String,
    /// Base URL the app is pointed at.
    pub url: String,
    /// The demo registration's activation password (random per run).
    pub demo_password: String,
    /// Base URL of the admin API.
    pub admin_url: String,
    /// The bearer token of the admin API.
    pub admin_token: String,
}

impl Bank {
    pub fn start(server: &Path) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(server).arg("gen-key").output().unwrap();
        assert!(out.status.success(), "gen-key failed");
        let master_key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        let demo_password = format!("{:06}", std::process::id() % 1_000_000);
        let admin_token = format!("admin-token-of-the-window-tests-{}", std::process::id());
        let token_file = dir.path().join("admin-token");
        std::fs::write(&token_file, &admin_token).unwrap();
        // The server refuses a token file others can read.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let mut child = Command::new("timeout")
            .args(["--signal=TERM", "900"])
            .arg(server)
            .args(["serve", "--bind", "127.0.0.1:0", "--admin-bind", "127.0.0.1:0", "--demo"])
            .envs(env(dir.path(), &master_key))
            .env("SOFTTOKEN_DEMO_ACTIVATION_PASSWORD", &demo_password)
            .env("SOFTTOKEN_ADMIN_TOKEN_FILE", &token_file)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        // The server prints its address (and, in demo mode, the demo registration) on stdout.
        let mut url = None;
        let mut seen = Vec::new();
        for _ in 0..20 {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 {
                break;
            }
            if let Some(u) = line.trim().strip_prefix("softtoken-server listening on ") {
                url = Some(u.to_owned());
                break;
            }
            seen.push(line);
        }
        let url = url.unwrap_or_else(|| panic!("the server printed no address: {seen:?}"));
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let admin_url = line
            .trim()
            .strip_prefix("softtoken-server admin API listening on ")
            .unwrap_or_else(|| panic!("the server printed no admin address: {line:?}"))
            .to_owned();
        // Keep reading, so a later line on stdout never meets a closed pipe.
        std::thread::spawn(move || reader.lines().map_while(Result::ok).for_each(drop));
        Self {
            child,
            server: server.to_path_buf(),
            dir,
            master_key,
            url,
            demo_password,
            admin_url,
            admin_token,
        }
    }

    fn admin(&self, args: &[&str], stdin: Option<&str>) -> Value {
        self.try_admin(args, stdin)
            .unwrap_or_else(|e| panic!("softtoken-server {args:?} failed: {e}"))
    }

    /// An admin command; `Err` holds what it printed on stderr when it failed.
    fn try_admin(&self, args: &[&str], stdin: Option<&str>) -> Result<Value, String> {
        let mut child = Command::new(&self.server)
            .args(args)
            .envs(env(self.dir.path(), &self.master_key))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(text) = stdin {
            child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().unwrap();
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(serde_json::from_slice(&out.stdout).unwrap())
    }

    /// Steps 3–5: a registration with this activation password.
    pub fn issue(&self, service: &str, user: &str, password: &str) {
        let args =
            ["issue", "--service-id", service, "--user-id", user, "--mail", "taro@example.invalid"];
        self.admin(&args, Some(&format!("{password}\n")));
    }

    /// Step 12: the bank checks a code; true if accepted.
    pub fn verify(&self, service: &str, user: &str, code: &str) -> bool {
        let v = self
            .admin(&["verify", "--service-id", service, "--user-id", user, "--code", code], None);
        v["accepted"].as_bool().unwrap()
    }

    /// Step 12 where the bank may refuse the registration itself: `Err` says why.
    pub fn try_verify(&self, service: &str, user: &str, code: &str) -> Result<bool, String> {
        let args = ["verify", "--service-id", service, "--user-id", user, "--code", code];
        self.try_admin(&args, None).map(|v| v["accepted"].as_bool().unwrap())
    }

    /// Wrong activation passwords the bank still accepts for this registration.
    pub fn tries_left(&self, service: &str, user: &str) -> u32 {
        let v = self.admin(&["status", "--service-id", service, "--user-id", user], None);
        MAX_TRIES.saturating_sub(u32::try_from(v["failed_tries"].as_u64().unwrap()).unwrap())
    }
}

fn env(dir: &Path, master_key: &str) -> Vec<(&'static str, String)> {
    vec![
        ("SOFTTOKEN_DATABASE", dir.join("bank.db").display().to_string()),
        ("SOFTTOKEN_MASTER_KEY", master_key.to_owned()),
        ("SOFTTOKEN_PROVISION_MAX_TRIES", MAX_TRIES.to_string()),
        ("SOFTTOKEN_ISSUER", "テスト信用組合".to_owned()),
        ("SOFTTOKEN_DISPLAY_NAME", "けんしん OTP".to_owned()),
        ("SOFTTOKEN_OUTBOX_DIR", dir.join("outbox").display().to_string()),
        ("RUST_LOG", "warn".to_owned()),
    ]
}

impl Drop for Bank {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}
