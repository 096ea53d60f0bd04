//! An in-process bank for tests and benchmarks (feature `test-support`, which the server
//! binary's normal build never enables): a SQLite file in a temporary directory, a fresh master
//! key, and the real routers, called directly or served on two `127.0.0.1:0` sockets (the
//! public one and the admin one, as the binary serves them).
//!
//! ```
//! # async fn demo() -> softtoken_server::Result<()> {
//! use softtoken_server::testing::{BankOptions, TestBank};
//!
//! let bank = TestBank::open(BankOptions::default().with_admin_token("an-admin-token-0123456")?)?;
//! let served = bank.serve().await?;
//! println!("the bank answers apps at {} and the bank web at {}", served.url, served.admin_url);
//! # Ok(()) }
//! ```

pub mod postgres;

use std::net::SocketAddr;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use tempfile::TempDir;

use crate::bank::{Bank, Demo, OutboxDir, Policy};
use crate::clock::{Clock, SystemClock};
use crate::error::Result;
use crate::http::{admin_app, public_app, AdminToken, AppState, HttpOptions};
use crate::sealed::{MasterKey, Sealer};
use crate::storage::sqlite::{SqliteOptions, SqliteStorage, Synchronous};
use crate::storage::Storage;

/// How the test bank is set up. `Default`: the default policy, no admin API, no demo, the
/// system clock, `synchronous = full`, mails in the outbox table only.
pub struct BankOptions {
    /// Limits and token parameters.
    pub policy: Policy,
    /// Admin token, rate limits, body limit.
    pub http: HttpOptions,
    /// The demo registration (armed on the first `start`, or call [`Bank::arm_demo`]).
    pub demo: Option<Demo>,
    /// The bank's clock; a [`crate::clock::ManualClock`] clone lets a test move it.
    pub clock: Arc<dyn Clock>,
    /// Commit durability of the database.
    pub synchronous: Synchronous,
    /// Also write step-6 mails as files in [`TestBank::outbox_dir`].
    pub outbox_files: bool,
    /// The master key in hex; a fresh one when absent. Banks that share a database (several
    /// instances) share it.
    pub master_key: Option<String>,
    /// Earlier (or not yet current) master keys in hex, which only open: a rotation's keys.
    pub previous_master_keys: Vec<String>,
}

impl Default for BankOptions {
    fn default() -> Self {
        Self {
            policy: Policy::default(),
            http: HttpOptions::default(),
            demo: None,
            clock: Arc::new(SystemClock),
            synchronous: Synchronous::Full,
            outbox_files: false,
            master_key: None,
            previous_master_keys: Vec::new(),
        }
    }
}

impl BankOptions {
    /// These options with the admin API open to `token`.
    ///
    /// # Errors
    /// [`crate::Error::Config`] for a token [`AdminToken::new`] refuses.
    pub fn with_admin_token(mut self, token: &str) -> Result<Self> {
        self.http.admin_token = Some(AdminToken::new(token)?);
        Ok(self)
    }
}

/// A bank over a fresh database in its own temporary directory (deleted on drop).
pub struct TestBank {
    /// What the handlers see: the bank, its clock, its counters.
    pub state: AppState,
    /// The database (close it before reopening the file).
    pub storage: Arc<dyn Storage>,
    /// The temporary directory: `bank.db`, and `outbox/` with [`BankOptions::outbox_files`].
    pub dir: TempDir,
}

/// The audit chain key of test storages: one fixed key, so that every instance a test opens
/// on one database appends to one chain, and `audit verify` in a test can check it.
pub fn test_audit_key() -> Arc<crate::storage::AuditKey> {
    Arc::new(crate::storage::AuditKey::of(&crate::sealed::MasterKey::from_bytes([0xa7; 32])))
}

impl TestBank {
    /// Creates the database and the bank.
    ///
    /// # Errors
    /// [`crate::Error::Io`] when no temporary directory can be made; the database's and the
    /// random generator's failures.
    pub fn open(opts: BankOptions) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let mut storage_opts = SqliteOptions::new(dir.path().join("bank.db"));
        storage_opts.synchronous = opts.synchronous;
        storage_opts.audit_key = Some(test_audit_key());
        let storage = Arc::new(SqliteStorage::open(storage_opts)?);
        Self::on(opts, storage, dir)
    }

    /// A bank over `storage` (PostgreSQL, or a database another bank also uses), with `dir`
    /// for its outbox files.
    ///
    /// # Errors
    /// The random generator's failures; [`crate::Error::Config`] for a bad master key.
    pub fn on(opts: BankOptions, storage: Arc<dyn Storage>, dir: TempDir) -> Result<Self> {
        let key = match &opts.master_key {
            Some(hex) => MasterKey::parse(hex)?,
            None => MasterKey::generate()?,
        };
        let outbox = OutboxDir(opts.outbox_files.then(|| dir.path().join("outbox")));
        let previous = opts
            .previous_master_keys
            .iter()
            .map(|hex| MasterKey::parse(hex))
            .collect::<Result<Vec<_>>>()?;
        let sealer = Sealer::with_previous(&key, &previous);
        let bank = Bank::new(storage.clone(), sealer, opts.policy, outbox, opts.demo);
        let state = AppState::new(Arc::new(bank), opts.clock, opts.http);
        Ok(Self { state, storage, dir })
    }

    /// The bank's rules, to call without HTTP.
    pub fn bank(&self) -> &Arc<Bank> {
        self.state.bank()
    }

    /// The app-facing API, to call without a socket (add `MockConnectInfo` for a peer).
    pub fn router(&self) -> Router {
        public_app(self.state.clone())
    }

    /// The admin API and `/metrics`, to call without a socket.
    pub fn admin_router(&self) -> Router {
        admin_app(self.state.clone())
    }

    /// Where step-6 mail files go with [`BankOptions::outbox_files`].
    pub fn outbox_dir(&self) -> PathBuf {
        self.dir.path().join("outbox")
    }

    /// Serves the app-facing API and the admin API on two `127.0.0.1:0` sockets until the
    /// [`ServedBank`] is dropped.
    ///
    /// # Errors
    /// [`crate::Error::Io`] when no loopback port can be bound.
    pub async fn serve(self) -> Result<ServedBank> {
        let (url, public) = serve_on_loopback(self.router()).await?;
        let (admin_url, admin) = serve_on_loopback(self.admin_router()).await?;
        Ok(ServedBank { url, admin_url, bank: self, tasks: [public, admin] })
    }
}

async fn serve_on_loopback(router: Router) -> Result<(String, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, service).await {
            tracing::error!(event = "test_bank_stopped", error = %e, "the test bank stopped");
        }
    });
    Ok((url, task))
}

/// A [`TestBank`] on a loopback socket; dereferences to it.
pub struct ServedBank {
    /// `http://127.0.0.1:<port>`, for the app's client.
    pub url: String,
    /// `http://127.0.0.1:<port>` of the admin API, for the bank web's calls.
    pub admin_url: String,
    bank: TestBank,
    tasks: [tokio::task::JoinHandle<()>; 2],
}

impl Deref for ServedBank {
    type Target = TestBank;

    fn deref(&self) -> &TestBank {
        &self.bank
    }
}

impl Drop for ServedBank {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
