//! A real server on 127.0.0.1:0 over a real SQLite file (`softtoken_server::testing`), driven
//! by the real core client.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{json, Value};
use softtoken_core::client::ProvisioningClient;
use softtoken_core::ids::{ActivationPassword, ServiceId, TokenId, UserId};
use softtoken_core::protocol::NewToken;
use softtoken_core::totp::Totp;
use softtoken_server::bank::{Demo, Policy};
use softtoken_server::clock::{Clock, ManualClock};
use softtoken_server::http::{AdminToken, AppState, HttpOptions};
use softtoken_server::sealed::MasterKey;
use softtoken_server::storage::postgres::PostgresOptions;
use softtoken_server::storage::Storage;
use softtoken_server::testing::postgres::PgCluster;
use softtoken_server::testing::{BankOptions, ServedBank, TestBank};

pub mod backends;

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";
pub const SERVICE: &str = "10112231";

/// Options of a test server.
pub struct Setup {
    pub policy: Policy,
    pub http: HttpOptions,
    pub demo: Option<Demo>,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            policy: Policy::default(),
            http: HttpOptions {
                admin_token: Some(AdminToken::new(ADMIN_TOKEN).unwrap()),
                ..HttpOptions::default()
            },
            demo: None,
        }
    }
}

pub struct Server {
    pub url: String,
    pub admin_url: String,
    pub clock: ManualClock,
    pub state: AppState,
    pub storage: Arc<dyn Storage>,
    pub http: reqwest::Client,
    pub dir: PathBuf,
    _bank: ServedBank,
    /// The PostgreSQL cluster of a bank on PostgreSQL; dropped after the bank.
    _db: Option<PgCluster>,
}

/// True in a test binary that runs the bank's tests on PostgreSQL instead of SQLite: one whose
/// name ends in `_on_postgres` and that includes the SQLite binary's file unchanged
/// (`#[path = "provisioning.rs"] mod cases;`).
pub fn on_postgres() -> bool {
    env!("CARGO_CRATE_NAME").ends_with("_on_postgres")
}

/// The wall clock at a step boundary plus 30 s, so ±1 step is never ambiguous in a test.
pub fn test_epoch() -> u64 {
    let now = softtoken_core::totp::unix_now();
    now - now % 60 + 30
}

impl Server {
    pub async fn start() -> Server {
        Self::start_with(Setup::default()).await
    }

    pub async fn start_with(setup: Setup) -> Server {
        let clock = ManualClock::new(test_epoch());
        softtoken_core::client::install_tls_provider();
        let opts = BankOptions {
            policy: setup.policy,
            http: setup.http,
            demo: setup.demo,
            clock: Arc::new(clock.clone()),
            outbox_files: true,
            ..BankOptions::default()
        };
        if !on_postgres() {
            return Self::serving(TestBank::open(opts).unwrap(), clock, None).await;
        }
        let Some(cluster) = backends::cluster() else {
            // The SKIPPED line is written; this binary's tests cannot run without PostgreSQL.
            panic!("skipped: this test runs the bank on PostgreSQL, which is not installed");
        };
        let storage = backends::postgres_on(cluster.options()).await;
        let bank = TestBank::on(opts, storage, tempfile::tempdir().unwrap()).unwrap();
        Self::serving(bank, clock, Some(cluster)).await
    }

    /// `n` instances of the bank on one PostgreSQL database, each with its own pool, sharing
    /// the master key and the clock, as several machines behind a load balancer; `None` when
    /// PostgreSQL is missing (the test was reported skipped).
    pub async fn instances(
        setup: impl Fn() -> Setup,
        pool: impl Fn(&mut PostgresOptions),
        n: usize,
    ) -> Option<(PgCluster, Vec<Server>)> {
        let cluster = backends::cluster()?;
        let clock = ManualClock::new(test_epoch());
        let key = MasterKey::generate().unwrap().to_hex().to_string();
        softtoken_core::client::install_tls_provider();
        let mut servers = Vec::new();
        for _ in 0..n {
            let setup = setup();
            let mut opts = cluster.options();
            pool(&mut opts);
            let storage = backends::postgres_on(opts).await;
            let bank = TestBank::on(
                BankOptions {
                    policy: setup.policy,
                    http: setup.http,
                    demo: setup.demo,
                    clock: Arc::new(clock.clone()),
                    master_key: Some(key.clone()),
                    ..BankOptions::default()
                },
                storage,
                tempfile::tempdir().unwrap(),
            )
            .unwrap();
            servers.push(Self::serving(bank, clock.clone(), None).await);
        }
        Some((cluster, servers))
    }

    /// One instance on `cluster`'s database with the master key `key` (hex) and the keys that
    /// only open, `previous`, started as `serve` starts one: refused (with the message) when
    /// its keys cannot open what the database holds.
    pub async fn instance(
        cluster: &PgCluster,
        clock: &ManualClock,
        key: &str,
        previous: &[&String],
    ) -> Result<Server, String> {
        softtoken_core::client::install_tls_provider();
        let setup = Setup::default();
        let storage = backends::postgres_on(cluster.options()).await;
        let bank = TestBank::on(
            BankOptions {
                policy: setup.policy,
                http: setup.http,
                clock: Arc::new(clock.clone()),
                master_key: Some(key.to_owned()),
                previous_master_keys: previous.iter().map(|k| k.to_string()).collect(),
                ..BankOptions::default()
            },
            storage,
            tempfile::tempdir().unwrap(),
        )
        .unwrap();
        let checked = bank.bank().check_master_keys(softtoken_server::bank::KEY_CHECK_SAMPLE);
        checked.await.map_err(|e| e.to_string())?;
        Ok(Self::serving(bank, clock.clone(), None).await)
    }

    async fn serving(bank: TestBank, clock: ManualClock, db: Option<PgCluster>) -> Server {
        let bank = bank.serve().await.unwrap();
        Server {
            url: bank.url.clone(),
            admin_url: bank.admin_url.clone(),
            clock,
            state: bank.state.clone(),
            storage: bank.storage.clone(),
            http: reqwest::Client::new(),
            dir: bank.dir.path().to_owned(),
            _bank: bank,
            _db: db,
        }
    }

    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    pub fn client(&self) -> ProvisioningClient {
        ProvisioningClient::new(&self.url).unwrap()
    }

    async fn call(&self, req: reqwest::RequestBuilder) -> (u16, Value) {
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }

    pub async fn admin_post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(
            self.http
                .post(format!("{}{path}", self.admin_url))
                .bearer_auth(ADMIN_TOKEN)
                .json(&body),
        )
        .await
    }

    pub async fn admin_get(&self, path: &str) -> (u16, Value) {
        self.call(self.http.get(format!("{}{path}", self.admin_url)).bearer_auth(ADMIN_TOKEN)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(self.http.post(format!("{}{path}", self.url)).json(&body)).await
    }

    /// Issues a registration on the admin API; returns its user ID.
    pub async fn issue(&self, user: Option<&str>, password: &str) -> String {
        let mut body = json!({
            "service_id": SERVICE,
            "mail": "taro@example.jp",
            "activation_password": password,
        });
        if let Some(u) = user {
            body["user_id"] = json!(u);
        }
        let (status, answer) = self.admin_post("/v1/admin/registrations", body).await;
        assert_eq!(status, 201, "{answer}");
        answer["user_id"].as_str().unwrap().to_owned()
    }

    pub async fn status(&self, user: &str) -> Value {
        let (status, body) =
            self.admin_get(&format!("/v1/admin/registrations/{SERVICE}/{user}")).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    pub async fn verify(&self, user: &str, code: &str) -> (u16, Value) {
        self.admin_post(
            "/v1/admin/verify",
            json!({ "service_id": SERVICE, "user_id": user, "code": code }),
        )
        .await
    }

    /// Provisions with the core client as the app does, on a phone whose clock agrees with the
    /// bank's (test) clock; returns what the app stored.
    pub async fn provision(
        &self,
        user: &str,
        password: &str,
    ) -> softtoken_core::Result<(NewToken, softtoken_core::client::ProvisionedToken)> {
        provision_with(&self.client(), user, password, self.now()).await
    }

    /// The code the app shows for `token` at the server's current time.
    pub fn code(&self, token: &NewToken) -> String {
        code_at(token, self.now())
    }
}

pub fn code_at(token: &NewToken, bank_time: u64) -> String {
    Totp::new(token.issued.params, &token.seed, token.issued.offset)
        .unwrap()
        .code_at_bank_time(bank_time)
        .as_str()
        .to_owned()
}

pub async fn provision_with(
    client: &ProvisioningClient,
    user: &str,
    password: &str,
    device_now: u64,
) -> softtoken_core::Result<(NewToken, softtoken_core::client::ProvisionedToken)> {
    let confirmed = client
        .handshake(
            &ServiceId::new(SERVICE).unwrap(),
            &UserId::new(user).unwrap(),
            &ActivationPassword::new(password).unwrap(),
            device_now,
        )
        .await?;
    // The app would store the token here; the test keeps it and names it.
    let outcome = client.ack(confirmed.ack.stored(TokenId::random()?)).await;
    Ok((confirmed.token, outcome))
}

impl Server {
    /// A `SELECT count(*) …` straight from the database, whichever backend the bank runs on.
    pub fn count(&self, sql: &str) -> i64 {
        match &self._db {
            Some(db) => db.psql(sql).unwrap().trim().parse().unwrap(),
            None => rusqlite::Connection::open(self.dir.join("bank.db"))
                .unwrap()
                .query_row(sql, [], |r| r.get(0))
                .unwrap(),
        }
    }
}

/// Closes the storage so the database file is complete (for tests that reopen it).
pub async fn close(server: &Server) {
    server.storage.close().await;
}

/// Runs a command to its end with `stdin` as its input (an admin CLI call): whether it
/// succeeded, its stdout and its stderr.
pub fn run_with_stdin(mut command: std::process::Command, stdin: &str) -> (bool, String, String) {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut child = command
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

/// True when `text` shows `password` as a number of its own. A plain `contains` also finds a
/// PIN inside a random 12-digit user ID (for four PINs about one run in 300), and so fails by
/// chance, as `every_wrong_activation_password_is_mailed…` once did on user 648210823214.
pub fn shows_number(text: &str, password: &str) -> bool {
    text.split(|c: char| !c.is_ascii_digit()).any(|run| run == password)
}

/// Runs futures concurrently on this task (no extra dependency for `join_all`).
pub async fn join_all<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in set.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(|o| o.unwrap()).collect()
}
