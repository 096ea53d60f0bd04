//! The embedded SQLite backend: one file, WAL, migrations at open.
//!
//! All writes go through one writer thread that owns the only writing connection. It takes
//! every queued write, applies them in one transaction (each a compare-and-swap on the row's
//! revision, under its own savepoint where it has several statements), commits once, and only
//! then answers the callers (group commit). So a verify answered "accepted" has its time step
//! on disk, yet thousands of verifies per second cost only a few hundred commits.
//!
//! Registrations written by this process are cached in memory after each commit, so the hot
//! path (verify) reads no database. The cache is never ahead of the database and is dropped
//! whenever another process (the admin CLI) commits to the file; a stale entry can only make a
//! compare-and-swap fail, and a failed one evicts the entry, so the caller's retry reads the
//! database.
//!
//! Reads that miss the cache use a small pool of read-only connections on tokio's blocking
//! threads; WAL lets them run beside the writer.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row};
use softtoken_core::ids::{ServiceId, UserId};
use softtoken_core::totp::{Algorithm, TotpParams};
use tokio::sync::oneshot;

use super::{
    Attempt, AttemptStatus, Change, Inserted, OutboxMail, Registration, RegistrationState, Storage,
    Updated,
};
use crate::error::{Error, Result};

/// How hard SQLite works to keep a commit through a power cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Synchronous {
    /// WAL with `synchronous=NORMAL`: a commit survives a crash of the server process; the
    /// last commits before a power cut may be lost (the WAL is synced at checkpoints).
    Normal,
    /// `synchronous=FULL`: every commit is synced to disk before callers are answered.
    Full,
}

/// Settings of the SQLite backend.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// The database file (created if absent).
    pub path: PathBuf,
    /// Durability of a commit.
    pub synchronous: Synchronous,
    /// Registrations kept in memory; beyond it, some are dropped (and read again on use).
    pub cache_capacity: usize,
    /// Most writes in one commit.
    pub max_batch: usize,
    /// Read-only connections kept open.
    pub readers: usize,
}

impl SqliteOptions {
    /// Defaults for a database file.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            synchronous: Synchronous::Full,
            cache_capacity: 1_000_000,
            max_batch: 1024,
            readers: 4,
        }
    }
}

/// Schema migrations, applied in order at open; `PRAGMA user_version` counts those applied.
/// Never edit one that has shipped: add the next.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE registrations (
    id                TEXT PRIMARY KEY,
    service_id        TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    mail              TEXT NOT NULL,
    state             TEXT NOT NULL
                      CHECK (state IN ('issued', 'confirmed', 'delivered', 'in_use', 'ended')),
    algorithm         TEXT NOT NULL,
    digits            INTEGER NOT NULL,
    period            INTEGER NOT NULL,
    failed_tries      INTEGER NOT NULL,
    provision_locked  INTEGER NOT NULL,
    verify_failures   INTEGER NOT NULL,
    verify_locked     INTEGER NOT NULL,
    last_step         INTEGER,
    sealed_password   BLOB NOT NULL,
    sealed_seed       BLOB,
    confirmed_attempt TEXT,
    issued_at         INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    confirmed_at      INTEGER,
    delivered_at      INTEGER,
    in_use_at         INTEGER,
    ended_at          INTEGER,
    demo              INTEGER NOT NULL,
    rev               INTEGER NOT NULL
) STRICT;
-- At most one registration of a pair is not ended: a re-issue needs the old one ended.
CREATE UNIQUE INDEX registrations_active ON registrations (service_id, user_id)
    WHERE state <> 'ended';
CREATE INDEX registrations_pair ON registrations (service_id, user_id);

CREATE TABLE attempts (
    id              TEXT PRIMARY KEY,
    registration_id TEXT NOT NULL REFERENCES registrations (id),
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'spent', 'confirmed')),
    sealed          BLOB
) STRICT;
CREATE INDEX attempts_registration ON attempts (registration_id);
CREATE INDEX attempts_expiry ON attempts (expires_at) WHERE status <> 'confirmed';

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    registration_id TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      INTEGER NOT NULL
) STRICT;
"#];

const REGISTRATION_COLUMNS: &str = "id, service_id, user_id, mail, state, algorithm, digits, \
    period, failed_tries, provision_locked, verify_failures, verify_locked, last_step, \
    sealed_password, sealed_seed, confirmed_attempt, issued_at, expires_at, confirmed_at, \
    delivered_at, in_use_at, ended_at, demo, rev";

type Key = (String, String);
type Cache = Arc<RwLock<HashMap<Key, Arc<Registration>>>>;

fn key_of(r: &Registration) -> Key {
    (r.service_id.as_str().to_owned(), r.user_id.as_str().to_owned())
}

enum Op {
    Insert {
        registration: Box<Registration>,
        mail: Option<OutboxMail>,
        user_id_must_be_new: bool,
        reply: oneshot::Sender<Result<Inserted>>,
    },
    Update {
        change: Box<Change>,
        reply: oneshot::Sender<Result<Updated>>,
    },
    InsertAttempt {
        attempt: Attempt,
        reply: oneshot::Sender<Result<()>>,
    },
    Purge {
        before: u64,
        reply: oneshot::Sender<Result<u64>>,
    },
    Close {
        reply: oneshot::Sender<()>,
    },
}

/// The SQLite [`Storage`].
pub struct SqliteStorage {
    ops: Mutex<Option<std_mpsc::Sender<Op>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    cache: Cache,
    readers: Arc<ReaderPool>,
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage").field("path", &self.readers.path).finish_non_exhaustive()
    }
}

struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    keep: usize,
}

impl ReaderPool {
    fn with<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.idle.lock().map_err(|_| Error::Internal("reader pool poisoned"))?.pop();
        let conn = match conn {
            Some(c) => c,
            None => open_reader(&self.path)?,
        };
        let out = f(&conn);
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < self.keep {
                idle.push(conn);
            }
        }
        out
    }
}

fn open_reader(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(conn)
}

fn open_writer(opts: &SqliteOptions) -> Result<Connection> {
    if let Some(dir) = opts.path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)?;
        }
    }
    let mut conn = Connection::open(&opts.path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Storage(format!("the database refused WAL mode ({mode})")));
    }
    conn.execute_batch(match opts.synchronous {
        Synchronous::Normal => "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        Synchronous::Full => "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
    })?;
    migrate(&mut conn)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let applied: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let applied = usize::try_from(applied).unwrap_or(0);
    if applied > MIGRATIONS.len() {
        return Err(Error::Storage(format!(
            "the database has schema version {applied}, newer than this server ({}); \
             run a newer softtoken-server",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tracing::info!(event = "migration_applied", version = i + 1, "database schema migrated");
    }
    tx.commit()?;
    Ok(())
}

impl SqliteStorage {
    /// Opens (creating if needed) the database, applies migrations and starts the writer.
    ///
    /// # Errors
    /// [`Error::Storage`] when the file cannot be opened, is not a database, refuses WAL or has
    /// a newer schema; [`Error::Io`] when its directory cannot be created.
    pub fn open(opts: SqliteOptions) -> Result<Self> {
        let conn = open_writer(&opts)?;
        let cache: Cache = Arc::new(RwLock::new(HashMap::new()));
        let (tx, rx) = std_mpsc::channel();
        let mut writer = Writer::new(conn, cache.clone(), opts.cache_capacity, opts.max_batch)?;
        let handle = std::thread::Builder::new()
            .name("softtoken-db-writer".into())
            .spawn(move || writer.run(&rx))?;
        Ok(Self {
            ops: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(handle)),
            cache,
            readers: Arc::new(ReaderPool {
                path: opts.path,
                idle: Mutex::new(Vec::new()),
                keep: opts.readers.max(1),
            }),
        })
    }

    async fn send<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T>>) -> Op) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        {
            let ops = self.ops.lock().map_err(|_| Error::Internal("writer queue poisoned"))?;
            let tx = ops.as_ref().ok_or(Error::Unavailable)?;
            tx.send(make(reply)).map_err(|_| Error::Unavailable)?;
        }
        answer.await.map_err(|_| Error::Unavailable)?
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || readers.with(f))
            .await
            .map_err(|_| Error::Internal("database reader task failed"))?
    }
}

#[async_trait]
impl Storage for SqliteStorage {
    async fn insert_registration(
        &self,
        registration: Registration,
        mail: Option<OutboxMail>,
        user_id_must_be_new: bool,
    ) -> Result<Inserted> {
        let registration = Box::new(registration);
        self.send(|reply| Op::Insert { registration, mail, user_id_must_be_new, reply }).await
    }

    async fn registration(
        &self,
        service: &ServiceId,
        user: &UserId,
    ) -> Result<Option<Registration>> {
        let key = (service.as_str().to_owned(), user.as_str().to_owned());
        if let Some(hit) = self.cache.read().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(Some((*hit).clone()));
        }
        self.read(move |conn| newest_registration(conn, &key.0, &key.1)).await
    }

    async fn registration_by_id(&self, id: &str) -> Result<Option<Registration>> {
        let id = id.to_owned();
        self.read(move |conn| {
            let sql = format!("SELECT {REGISTRATION_COLUMNS} FROM registrations WHERE id = ?1");
            conn.prepare_cached(&sql)?
                .query_row([&id], registration_from_row)
                .optional()
                .map_err(Error::from)
        })
        .await
    }

    async fn update(&self, change: Change) -> Result<Updated> {
        self.send(|reply| Op::Update { change: Box::new(change), reply }).await
    }

    async fn insert_attempt(&self, attempt: Attempt) -> Result<()> {
        self.send(|reply| Op::InsertAttempt { attempt, reply }).await
    }

    async fn attempt(&self, id: &str) -> Result<Option<Attempt>> {
        let id = id.to_owned();
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT id, registration_id, created_at, expires_at, status, sealed \
                 FROM attempts WHERE id = ?1",
            )?
            .query_row([&id], |row| {
                Ok(Attempt {
                    id: row.get(0)?,
                    registration_id: row.get(1)?,
                    created_at: get_u64(row, 2)?,
                    expires_at: get_u64(row, 3)?,
                    status: AttemptStatus::parse(&row.get::<_, String>(4)?)
                        .ok_or_else(|| bad_column(4, "attempt status"))?,
                    sealed: row.get(5)?,
                })
            })
            .optional()
            .map_err(Error::from)
        })
        .await
    }

    async fn outbox(&self, limit: u32) -> Result<Vec<OutboxMail>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT registration_id, recipient, subject, body, created_at FROM outbox \
                 ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = stmt.query_map([limit], |row| {
                Ok(OutboxMail {
                    registration_id: row.get(0)?,
                    to: row.get(1)?,
                    subject: row.get(2)?,
                    body: row.get(3)?,
                    created_at: get_u64(row, 4)?,
                })
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(Error::from)
        })
        .await
    }

    async fn purge_attempts(&self, before: u64) -> Result<u64> {
        self.send(|reply| Op::Purge { before, reply }).await
    }

    async fn close(&self) {
        let (reply, done) = oneshot::channel();
        let sent = match self.ops.lock() {
            Ok(mut ops) => ops.take().map(|tx| tx.send(Op::Close { reply }).is_ok()),
            Err(_) => None,
        };
        if sent == Some(true) {
            let _ = done.await;
        }
        let handle = self.writer.lock().ok().and_then(|mut h| h.take());
        if let Some(handle) = handle {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
    }
}

impl Drop for SqliteStorage {
    fn drop(&mut self) {
        // Dropping the sender ends the writer after its current batch; it is not joined here
        // because drop may run on an async thread.
        if let Ok(mut ops) = self.ops.lock() {
            ops.take();
        }
    }
}

fn get_u64(row: &Row<'_>, i: usize) -> rusqlite::Result<u64> {
    let v: i64 = row.get(i)?;
    u64::try_from(v).map_err(|_| bad_column(i, "negative number"))
}

fn get_opt_u64(row: &Row<'_>, i: usize) -> rusqlite::Result<Option<u64>> {
    let v: Option<i64> = row.get(i)?;
    v.map(|v| u64::try_from(v).map_err(|_| bad_column(i, "negative number"))).transpose()
}

fn bad_column(i: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        i,
        rusqlite::types::Type::Text,
        format!("invalid {what} in the database").into(),
    )
}

fn to_i64(v: u64) -> i64 {
    // Times, steps and revisions stay far below 2^63; saturate rather than wrap if a bug
    // ever produced one.
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn algorithm_name(a: Algorithm) -> &'static str {
    match a {
        Algorithm::Sha1 => "SHA1",
        Algorithm::Sha256 => "SHA256",
        Algorithm::Sha512 => "SHA512",
    }
}

fn parse_algorithm(s: &str) -> Option<Algorithm> {
    match s {
        "SHA1" => Some(Algorithm::Sha1),
        "SHA256" => Some(Algorithm::Sha256),
        "SHA512" => Some(Algorithm::Sha512),
        _ => None,
    }
}

fn registration_from_row(row: &Row<'_>) -> rusqlite::Result<Registration> {
    let service: String = row.get(1)?;
    let user: String = row.get(2)?;
    Ok(Registration {
        id: row.get(0)?,
        service_id: ServiceId::new(&service).map_err(|_| bad_column(1, "service ID"))?,
        user_id: UserId::new(&user).map_err(|_| bad_column(2, "user ID"))?,
        mail: row.get(3)?,
        state: RegistrationState::parse(&row.get::<_, String>(4)?)
            .ok_or_else(|| bad_column(4, "state"))?,
        params: TotpParams {
            algorithm: parse_algorithm(&row.get::<_, String>(5)?)
                .ok_or_else(|| bad_column(5, "algorithm"))?,
            digits: u8::try_from(row.get::<_, i64>(6)?).map_err(|_| bad_column(6, "digits"))?,
            period: u32::try_from(row.get::<_, i64>(7)?).map_err(|_| bad_column(7, "period"))?,
        },
        failed_tries: u32::try_from(row.get::<_, i64>(8)?).map_err(|_| bad_column(8, "count"))?,
        provision_locked: row.get(9)?,
        verify_failures: u32::try_from(row.get::<_, i64>(10)?)
            .map_err(|_| bad_column(10, "count"))?,
        verify_locked: row.get(11)?,
        last_step: get_opt_u64(row, 12)?,
        sealed_password: row.get(13)?,
        sealed_seed: row.get(14)?,
        confirmed_attempt: row.get(15)?,
        issued_at: get_u64(row, 16)?,
        expires_at: get_u64(row, 17)?,
        confirmed_at: get_opt_u64(row, 18)?,
        delivered_at: get_opt_u64(row, 19)?,
        in_use_at: get_opt_u64(row, 20)?,
        ended_at: get_opt_u64(row, 21)?,
        demo: row.get(22)?,
        rev: get_u64(row, 23)?,
    })
}

fn newest_registration(
    conn: &Connection,
    service: &str,
    user: &str,
) -> Result<Option<Registration>> {
    let sql = format!(
        "SELECT {REGISTRATION_COLUMNS} FROM registrations \
         WHERE service_id = ?1 AND user_id = ?2 ORDER BY rowid DESC LIMIT 1"
    );
    conn.prepare_cached(&sql)?
        .query_row([service, user], registration_from_row)
        .optional()
        .map_err(Error::from)
}

fn insert_registration_row(conn: &Connection, r: &Registration) -> rusqlite::Result<usize> {
    let sql = format!(
        "INSERT INTO registrations ({REGISTRATION_COLUMNS}) VALUES \
         (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, \
          ?20, ?21, ?22, ?23, ?24)"
    );
    conn.prepare_cached(&sql)?.execute(params![
        r.id,
        r.service_id.as_str(),
        r.user_id.as_str(),
        r.mail,
        r.state.as_str(),
        algorithm_name(r.params.algorithm),
        r.params.digits,
        r.params.period,
        r.failed_tries,
        r.provision_locked,
        r.verify_failures,
        r.verify_locked,
        r.last_step.map(to_i64),
        r.sealed_password,
        r.sealed_seed,
        r.confirmed_attempt,
        to_i64(r.issued_at),
        to_i64(r.expires_at),
        r.confirmed_at.map(to_i64),
        r.delivered_at.map(to_i64),
        r.in_use_at.map(to_i64),
        r.ended_at.map(to_i64),
        r.demo,
        to_i64(r.rev),
    ])
}

/// Writes the mutable columns if the row still has `expected` revision.
fn update_registration_row(
    conn: &Connection,
    r: &Registration,
    expected: u64,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "UPDATE registrations SET state = ?2, failed_tries = ?3, provision_locked = ?4, \
         verify_failures = ?5, verify_locked = ?6, last_step = ?7, sealed_seed = ?8, \
         confirmed_attempt = ?9, expires_at = ?10, confirmed_at = ?11, delivered_at = ?12, \
         in_use_at = ?13, ended_at = ?14, rev = ?15 WHERE id = ?1 AND rev = ?16",
    )?
    .execute(params![
        r.id,
        r.state.as_str(),
        r.failed_tries,
        r.provision_locked,
        r.verify_failures,
        r.verify_locked,
        r.last_step.map(to_i64),
        r.sealed_seed,
        r.confirmed_attempt,
        to_i64(r.expires_at),
        r.confirmed_at.map(to_i64),
        r.delivered_at.map(to_i64),
        r.in_use_at.map(to_i64),
        r.ended_at.map(to_i64),
        to_i64(r.rev),
        to_i64(expected),
    ])
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation
    )
}

/// What to do with the cache once the batch is committed.
enum CacheAction {
    Put(Box<Registration>),
    Evict(Key),
    Nothing,
}

/// An answer waiting for the commit of its batch.
enum Pending {
    Insert(oneshot::Sender<Result<Inserted>>, Result<Inserted>),
    Update(oneshot::Sender<Result<Updated>>, Result<Updated>),
    Unit(oneshot::Sender<Result<()>>, Result<()>),
    Count(oneshot::Sender<Result<u64>>, Result<u64>),
}

impl Pending {
    fn fail(self, e: &Error) {
        let err = || Error::Storage(format!("commit failed: {e}"));
        // A caller that gave up (timeout, client gone) no longer listens; that is fine.
        let _ = match self {
            Pending::Insert(tx, _) => tx.send(Err(err())).map_err(drop),
            Pending::Update(tx, _) => tx.send(Err(err())).map_err(drop),
            Pending::Unit(tx, _) => tx.send(Err(err())).map_err(drop),
            Pending::Count(tx, _) => tx.send(Err(err())).map_err(drop),
        };
    }

    fn answer(self) {
        let _ = match self {
            Pending::Insert(tx, r) => tx.send(r).map_err(drop),
            Pending::Update(tx, r) => tx.send(r).map_err(drop),
            Pending::Unit(tx, r) => tx.send(r).map_err(drop),
            Pending::Count(tx, r) => tx.send(r).map_err(drop),
        };
    }
}

struct Writer {
    conn: Connection,
    cache: Cache,
    capacity: usize,
    max_batch: usize,
    next_rev: u64,
    data_version: i64,
}

impl Writer {
    fn new(conn: Connection, cache: Cache, capacity: usize, max_batch: usize) -> Result<Self> {
        let mut w = Self {
            conn,
            cache,
            capacity,
            max_batch: max_batch.max(1),
            next_rev: 1,
            data_version: 0,
        };
        w.resync()?;
        Ok(w)
    }

    /// Re-reads what another process may have changed: the highest revision, and the data
    /// version that tells us next time whether someone else committed.
    fn resync(&mut self) -> Result<()> {
        let max: i64 =
            self.conn
                .query_row("SELECT coalesce(max(rev), 0) FROM registrations", [], |r| r.get(0))?;
        self.next_rev = self.next_rev.max(u64::try_from(max).unwrap_or(0) + 1);
        self.data_version = self.conn.query_row("PRAGMA data_version", [], |r| r.get(0))?;
        Ok(())
    }

    fn check_foreign_commits(&mut self) -> Result<()> {
        let v: i64 = self.conn.query_row("PRAGMA data_version", [], |r| r.get(0))?;
        if v != self.data_version {
            tracing::debug!("another process wrote the database; dropping the registration cache");
            if let Ok(mut c) = self.cache.write() {
                c.clear();
            }
            self.resync()?;
        }
        Ok(())
    }

    fn take_rev(&mut self, at_least_above: u64) -> u64 {
        let rev = self.next_rev.max(at_least_above.saturating_add(1));
        self.next_rev = rev + 1;
        rev
    }

    fn run(&mut self, rx: &std_mpsc::Receiver<Op>) {
        let mut batch = Vec::with_capacity(self.max_batch);
        loop {
            // Idle: look now and then whether the admin CLI changed the file, so cached
            // registrations never stay stale for long.
            let first = match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(op) => op,
                Err(std_mpsc::RecvTimeoutError::Timeout) => {
                    if let Err(e) = self.check_foreign_commits() {
                        tracing::error!(event = "storage_error", error = %e, "checking the database");
                    }
                    continue;
                }
                Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
            };
            batch.push(first);
            while batch.len() < self.max_batch {
                match rx.try_recv() {
                    Ok(op) => batch.push(op),
                    Err(_) => break,
                }
            }
            if self.process(&mut batch) {
                return;
            }
        }
    }

    /// Applies one batch in one transaction. Returns true when asked to close.
    fn process(&mut self, batch: &mut Vec<Op>) -> bool {
        let mut pending = Vec::with_capacity(batch.len());
        let mut cache_actions = Vec::with_capacity(batch.len());
        let mut close = None;
        let begun = self
            .conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(Error::from)
            .and_then(|()| self.check_foreign_commits());
        if let Err(e) = begun {
            tracing::error!(event = "storage_error", error = %e, "starting a write transaction");
            let _ = self.conn.execute_batch("ROLLBACK");
            for op in batch.drain(..) {
                match op {
                    Op::Insert { reply, .. } => {
                        Pending::Insert(reply, Ok(Inserted::ActiveExists)).fail(&e)
                    }
                    Op::Update { reply, .. } => {
                        Pending::Update(reply, Ok(Updated::Conflict)).fail(&e)
                    }
                    Op::InsertAttempt { reply, .. } => Pending::Unit(reply, Ok(())).fail(&e),
                    Op::Purge { reply, .. } => Pending::Count(reply, Ok(0)).fail(&e),
                    Op::Close { reply } => close = Some(reply),
                }
            }
            if let Some(reply) = close {
                let _ = reply.send(());
                return true;
            }
            return false;
        }
        for op in batch.drain(..) {
            match op {
                Op::Insert { registration, mail, user_id_must_be_new, reply } => {
                    let (result, action) = self.insert(registration, mail, user_id_must_be_new);
                    cache_actions.push(action);
                    pending.push(Pending::Insert(reply, result));
                }
                Op::Update { change, reply } => {
                    let (result, action) = self.update(*change);
                    cache_actions.push(action);
                    pending.push(Pending::Update(reply, result));
                }
                Op::InsertAttempt { attempt, reply } => {
                    pending.push(Pending::Unit(reply, self.insert_attempt(&attempt)));
                }
                Op::Purge { before, reply } => {
                    let n = self
                        .conn
                        .prepare_cached(
                            "DELETE FROM attempts WHERE expires_at < ?1 AND status <> 'confirmed'",
                        )
                        .and_then(|mut s| s.execute([to_i64(before)]))
                        .map(|n| n as u64)
                        .map_err(Error::from);
                    pending.push(Pending::Count(reply, n));
                }
                Op::Close { reply } => close = Some(reply),
            }
        }
        match self.conn.execute_batch("COMMIT") {
            Ok(()) => {
                self.apply_cache(cache_actions);
                for p in pending {
                    p.answer();
                }
            }
            Err(e) => {
                let e = Error::from(e);
                tracing::error!(event = "storage_error", error = %e, "commit failed");
                let _ = self.conn.execute_batch("ROLLBACK");
                // Nothing of this batch is on disk; forget what the cache may believe.
                if let Ok(mut c) = self.cache.write() {
                    c.clear();
                }
                for p in pending {
                    p.fail(&e);
                }
            }
        }
        if let Some(reply) = close {
            let _ = reply.send(());
            return true;
        }
        false
    }

    fn apply_cache(&mut self, actions: Vec<CacheAction>) {
        let Ok(mut cache) = self.cache.write() else { return };
        for action in actions {
            match action {
                CacheAction::Put(r) => {
                    let key = key_of(&r);
                    // An update of an ended registration that is no longer the pair's newest
                    // must not hide the newer one.
                    let older = r.state == RegistrationState::Ended
                        && cache.get(&key).is_some_and(|c| c.id != r.id);
                    if !older {
                        if cache.len() >= self.capacity && !cache.contains_key(&key) {
                            if let Some(victim) = cache.keys().next().cloned() {
                                cache.remove(&victim);
                            }
                        }
                        cache.insert(key, Arc::from(r));
                    }
                }
                CacheAction::Evict(key) => {
                    cache.remove(&key);
                }
                CacheAction::Nothing => {}
            }
        }
    }

    fn savepoint<T>(&self, f: impl FnOnce(&Connection) -> Result<Option<T>>) -> Result<Option<T>> {
        self.conn.execute_batch("SAVEPOINT op")?;
        match f(&self.conn) {
            Ok(Some(v)) => {
                self.conn.execute_batch("RELEASE op")?;
                Ok(Some(v))
            }
            other => {
                self.conn.execute_batch("ROLLBACK TO op; RELEASE op")?;
                other
            }
        }
    }

    fn insert(
        &mut self,
        mut registration: Box<Registration>,
        mail: Option<OutboxMail>,
        user_id_must_be_new: bool,
    ) -> (Result<Inserted>, CacheAction) {
        registration.rev = self.take_rev(0);
        let outcome = self.savepoint(|conn| {
            if user_id_must_be_new {
                let taken: Option<i64> = conn
                    .prepare_cached(
                        "SELECT 1 FROM registrations WHERE service_id = ?1 AND user_id = ?2 LIMIT 1",
                    )?
                    .query_row(
                        [registration.service_id.as_str(), registration.user_id.as_str()],
                        |r| r.get(0),
                    )
                    .optional()?;
                if taken.is_some() {
                    return Ok(Some(Inserted::UserIdTaken));
                }
            }
            match insert_registration_row(conn, &registration) {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => return Ok(Some(Inserted::ActiveExists)),
                Err(e) => return Err(e.into()),
            }
            if let Some(m) = &mail {
                conn.prepare_cached(
                    "INSERT INTO outbox (registration_id, recipient, subject, body, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![m.registration_id, m.to, m.subject, m.body, to_i64(m.created_at)])?;
            }
            Ok(Some(Inserted::Applied(registration.clone())))
        });
        match outcome {
            // The savepoint keeps refusals: nothing was written for them.
            Ok(Some(Inserted::Applied(r))) => {
                (Ok(Inserted::Applied(r.clone())), CacheAction::Put(r))
            }
            Ok(Some(other)) => (Ok(other), CacheAction::Nothing),
            Ok(None) => (Err(Error::Internal("insert produced no outcome")), CacheAction::Nothing),
            Err(e) => (Err(e), CacheAction::Nothing),
        }
    }

    fn update(&mut self, change: Change) -> (Result<Updated>, CacheAction) {
        let key = key_of(&change.registration);
        let expected = change.registration.rev;
        let mut updated = change.registration.clone();
        updated.rev = self.take_rev(expected);
        let mut inserted = change.insert.clone();
        if let Some(new) = inserted.as_mut() {
            new.rev = self.take_rev(updated.rev);
        }
        let simple = change.attempt.is_none() && !change.wipe_other_attempts && inserted.is_none();
        let apply = |conn: &Connection| -> Result<Option<()>> {
            if update_registration_row(conn, &updated, expected)? != 1 {
                return Ok(None);
            }
            if let Some(a) = &change.attempt {
                let n = conn
                    .prepare_cached(
                        "UPDATE attempts SET status = ?3, \
                         sealed = CASE WHEN ?4 THEN NULL ELSE sealed END \
                         WHERE id = ?1 AND registration_id = ?2 AND status = ?5",
                    )?
                    .execute(params![a.id, updated.id, a.to.as_str(), a.wipe, a.from.as_str()])?;
                if n != 1 {
                    return Ok(None);
                }
            }
            if change.wipe_other_attempts {
                conn.prepare_cached(
                    "UPDATE attempts SET sealed = NULL WHERE registration_id = ?1 AND id IS NOT ?2",
                )?
                .execute(params![updated.id, updated.confirmed_attempt])?;
            }
            if let Some(new) = &inserted {
                match insert_registration_row(conn, new) {
                    Ok(_) => {}
                    Err(e) if is_unique_violation(&e) => return Ok(None),
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(Some(()))
        };
        let outcome = if simple {
            // One statement is atomic by itself; no savepoint needed on the hot path.
            apply(&self.conn)
        } else {
            self.savepoint(apply)
        };
        match outcome {
            Ok(Some(())) => {
                let action = match inserted {
                    Some(new) => CacheAction::Put(Box::new(new)),
                    None => CacheAction::Put(Box::new(updated.clone())),
                };
                (Ok(Updated::Applied(Box::new(updated))), action)
            }
            Ok(None) => (Ok(Updated::Conflict), CacheAction::Evict(key)),
            Err(e) => (Err(e), CacheAction::Evict(key)),
        }
    }

    fn insert_attempt(&mut self, a: &Attempt) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO attempts (id, registration_id, created_at, expires_at, status, sealed) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                a.id,
                a.registration_id,
                to_i64(a.created_at),
                to_i64(a.expires_at),
                a.status.as_str(),
                a.sealed
            ])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registration(user: &str) -> Registration {
        Registration {
            id: format!("id-{user}"),
            service_id: ServiceId::new("10112231").unwrap(),
            user_id: UserId::new(user).unwrap(),
            mail: "taro@example.jp".into(),
            state: RegistrationState::Issued,
            params: TotpParams::default(),
            failed_tries: 0,
            provision_locked: false,
            verify_failures: 0,
            verify_locked: false,
            last_step: None,
            sealed_password: vec![1, 2, 3],
            sealed_seed: None,
            confirmed_attempt: None,
            issued_at: 100,
            expires_at: 200,
            confirmed_at: None,
            delivered_at: None,
            in_use_at: None,
            ended_at: None,
            demo: false,
            rev: 0,
        }
    }

    fn open(dir: &Path) -> SqliteStorage {
        SqliteStorage::open(SqliteOptions::new(dir.join("s.db"))).unwrap()
    }

    async fn insert(s: &SqliteStorage, r: Registration) -> Registration {
        match s.insert_registration(r, None, false).await.unwrap() {
            Inserted::Applied(r) => *r,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_write_based_on_a_stale_revision_conflicts_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path());
        let r = insert(&s, registration("999800000001")).await;
        let mut a = r.clone();
        a.last_step = Some(10);
        let Updated::Applied(saved) = s.update(Change::registration(a)).await.unwrap() else {
            panic!("first write must apply")
        };
        assert!(saved.rev > r.rev);
        let mut b = r.clone();
        b.last_step = Some(9);
        assert_eq!(s.update(Change::registration(b)).await.unwrap(), Updated::Conflict);
        let now = s.registration(&r.service_id, &r.user_id).await.unwrap().unwrap();
        assert_eq!((now.last_step, now.rev), (Some(10), saved.rev));
        s.close().await;
    }

    #[tokio::test]
    async fn a_pair_has_at_most_one_registration_that_has_not_ended() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path());
        let first = insert(&s, registration("999800000001")).await;
        let mut again = registration("999800000001");
        again.id = "id-second".into();
        assert_eq!(
            s.insert_registration(again.clone(), None, false).await.unwrap(),
            Inserted::ActiveExists
        );
        assert_eq!(
            s.insert_registration(again.clone(), None, true).await.unwrap(),
            Inserted::UserIdTaken
        );
        let mut ended = first.clone();
        ended.state = RegistrationState::Ended;
        assert!(matches!(
            s.update(Change::registration(ended)).await.unwrap(),
            Updated::Applied(_)
        ));
        let second = insert(&s, again).await;
        // The newest registration of the pair is the one seen.
        let seen = s.registration(&second.service_id, &second.user_id).await.unwrap().unwrap();
        assert_eq!(seen.id, "id-second");
        s.close().await;
    }

    #[tokio::test]
    async fn an_attempt_is_evaluated_once_even_by_two_racing_writers() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path());
        let r = insert(&s, registration("999800000001")).await;
        s.insert_attempt(Attempt {
            id: "att".into(),
            registration_id: r.id.clone(),
            created_at: 1,
            expires_at: 2,
            status: AttemptStatus::Pending,
            sealed: Some(vec![9]),
        })
        .await
        .unwrap();
        let change = |rev_from: &Registration| Change {
            registration: rev_from.clone(),
            attempt: Some(super::super::AttemptChange {
                id: "att".into(),
                from: AttemptStatus::Pending,
                to: AttemptStatus::Spent,
                wipe: true,
            }),
            wipe_other_attempts: false,
            insert: None,
        };
        let Updated::Applied(after) = s.update(change(&r)).await.unwrap() else { panic!() };
        // Even with the fresh revision, the attempt is no longer pending.
        assert_eq!(s.update(change(&after)).await.unwrap(), Updated::Conflict);
        let a = s.attempt("att").await.unwrap().unwrap();
        assert_eq!((a.status, a.sealed), (AttemptStatus::Spent, None));
        let unchanged = s.registration_by_id(&r.id).await.unwrap().unwrap();
        assert_eq!(unchanged.rev, after.rev);
        s.close().await;
    }

    #[tokio::test]
    async fn a_second_process_writing_the_file_makes_stale_writes_conflict() {
        let dir = tempfile::tempdir().unwrap();
        let server = open(dir.path());
        let cli = open(dir.path());
        let r = insert(&server, registration("999800000001")).await;
        // The server has `r` cached; the CLI ends it behind its back.
        let seen_by_cli = cli.registration(&r.service_id, &r.user_id).await.unwrap().unwrap();
        let mut ended = seen_by_cli.clone();
        ended.state = RegistrationState::Ended;
        assert!(matches!(
            cli.update(Change::registration(ended)).await.unwrap(),
            Updated::Applied(_)
        ));
        let mut stale = r.clone();
        stale.last_step = Some(1);
        assert_eq!(server.update(Change::registration(stale)).await.unwrap(), Updated::Conflict);
        let fresh = server.registration(&r.service_id, &r.user_id).await.unwrap().unwrap();
        assert_eq!(fresh.state, RegistrationState::Ended);
        cli.close().await;
        server.close().await;
    }

    #[tokio::test]
    async fn reopening_keeps_everything_and_a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path());
        let r = insert(&s, registration("999800000001")).await;
        s.close().await;
        let s = open(dir.path());
        assert_eq!(s.registration(&r.service_id, &r.user_id).await.unwrap(), Some(r));
        s.close().await;
        let conn = Connection::open(dir.path().join("s.db")).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let err = SqliteStorage::open(SqliteOptions::new(dir.path().join("s.db"))).unwrap_err();
        assert!(err.to_string().contains("newer"), "{err}");
        let after_close = open(dir.path().join("other").as_path());
        after_close.close().await;
        assert!(matches!(
            after_close.insert_registration(registration("999800000002"), None, false).await,
            Err(Error::Unavailable)
        ));
    }
}
