//! The embedded SQLite backend: one file, WAL, migrations at open.
//!
//! All writes go through one writer thread that owns the only writing connection. It takes
//! every queued write, applies them in one transaction (each a compare-and-swap on the row's
//! revision, under its own savepoint where it has several statements), commits once, and only
//! then answers the callers (group commit). So a verify answered "accepted" has its time step
//! on disk, yet thousands of verifies per second cost only a few hundred commits.
//!
//! Registrations written by this process are cached in memory after each commit, so the hot
//! path (verify) reads no database. The cache is bounded (`cache_capacity` registrations) and
//! evicts with quick_cache's S3-FIFO policy, which keeps the customers active now and lets a
//! one-off read pass through; it is filled only after a commit (write-through), so evicting an
//! entry never loses a write: the next read goes to the file. Why quick_cache rather than
//! moka: the writer thread is its only writer and needs no expiry, listeners or async API,
//! and quick_cache is a small lock-striped map with no background threads. The cache is never ahead of the database and is dropped
//! whenever another process (the admin CLI, a second server on the same file) commits to the
//! file, at the writer's next batch or idle tick; until then an entry may be stale. A stale
//! entry cannot make an acceptance wrong: every write is a compare-and-swap on the file's row,
//! a failed one evicts the entry, so the caller's retry reads the database. Nor can it make a
//! refusal wrong: the bank gives a refusal only after reading the row again with
//! [`Storage::registration_from_database`], which skips the cache (and drops a copy that
//! differs).
//!
//! Reads that miss the cache use a small pool of read-only connections on tokio's blocking
//! threads; WAL lets them run beside the writer.

pub(super) mod rows;
mod schema;
mod syncer;
mod writer;

use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension};
use softtoken_core::ids::{ServiceId, UserId};
use tokio::sync::oneshot;

use self::rows::*;
use self::schema::{open_reader, open_writer};
use self::writer::Writer;
use super::{
    Attempt, AttemptStatus, AuditEntry, AuditQuery, Change, Inserted, OutboxMail, Registration,
    Reseal, Storage, Updated,
};
use crate::error::{Error, Result};

/// How hard SQLite works to keep a commit through a power cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    /// WAL with `synchronous=NORMAL`: a commit survives a crash of the server process; the
    /// last commits before a power cut may be lost (the WAL is synced at checkpoints).
    Normal,
    /// Every commit is synced to disk before its callers are answered. The sync runs on a
    /// thread of its own while the writer goes on with the next batch (`syncer.rs`).
    Full,
}

impl Synchronous {
    /// Every value, by the name configuration uses for it.
    pub const NAMES: [&'static str; 2] = ["normal", "full"];

    /// The name in configuration (`synchronous = "normal"`, `--synchronous full`).
    pub fn as_str(self) -> &'static str {
        match self {
            Synchronous::Normal => "normal",
            Synchronous::Full => "full",
        }
    }

    /// Parses [`Synchronous::as_str`]; the command line and the configuration file call this
    /// at their edge.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "normal" => Some(Synchronous::Normal),
            "full" => Some(Synchronous::Full),
            _ => None,
        }
    }
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
            cache_capacity: DEFAULT_CACHE_CAPACITY,
            max_batch: 1024,
            readers: 4,
        }
    }
}

/// Registrations kept in memory by default: the customers active now at a large bank, in
/// tens of megabytes, whatever the number of registrations on disk.
pub const DEFAULT_CACHE_CAPACITY: usize = 100_000;

type Key = (String, String);
type Cache = Arc<quick_cache::sync::Cache<Key, Arc<Registration>>>;

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
        open_cap: u32,
        reply: oneshot::Sender<Result<()>>,
    },
    Purge {
        before: u64,
        reply: oneshot::Sender<Result<u64>>,
    },
    ForgetPasswords {
        now: u64,
        reply: oneshot::Sender<Result<u64>>,
    },
    Reseal {
        batch: Vec<Reseal>,
        reply: oneshot::Sender<Result<u64>>,
    },
    AppendAudit {
        entry: Box<AuditEntry>,
        reply: oneshot::Sender<Result<u64>>,
    },
    FinishAudit {
        id: u64,
        outcome: String,
        user_id: Option<String>,
        reply: oneshot::Sender<Result<()>>,
    },
    Bulk {
        registrations: Vec<Registration>,
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

impl SqliteStorage {
    /// Opens (creating if needed) the database, applies migrations and starts the writer.
    ///
    /// # Errors
    /// [`Error::Storage`] when the file cannot be opened, is not a database, refuses WAL or has
    /// a newer schema; [`Error::Io`] when its directory cannot be created.
    pub fn open(opts: SqliteOptions) -> Result<Self> {
        let conn = open_writer(&opts)?;
        let cache: Cache = Arc::new(quick_cache::sync::Cache::new(opts.cache_capacity.max(1)));
        let (tx, rx) = std_mpsc::channel();
        let mut writer = Writer::new(conn, cache.clone(), opts.max_batch, opts.synchronous)?;
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
        if let Some(hit) = self.cache.get(&key) {
            return Ok(Some((*hit).clone()));
        }
        self.read(move |conn| newest_registration(conn, &key.0, &key.1)).await
    }

    async fn registration_from_database(
        &self,
        service: &ServiceId,
        user: &UserId,
    ) -> Result<Option<Registration>> {
        let key = (service.as_str().to_owned(), user.as_str().to_owned());
        let read_key = key.clone();
        let fresh =
            self.read(move |conn| newest_registration(conn, &read_key.0, &read_key.1)).await?;
        // A cached copy that differs is stale (another process wrote the file): drop it so the
        // hot path reads the file too until the writer caches the next commit. Removing races
        // harmlessly with the writer: at worst a newer entry goes and is read from the file.
        if self.cache.peek(&key).is_some_and(|c| fresh.as_ref().is_none_or(|f| f.rev != c.rev)) {
            self.cache.remove(&key);
        }
        Ok(fresh)
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

    async fn insert_attempt(&self, attempt: Attempt, open_cap: u32) -> Result<()> {
        self.send(|reply| Op::InsertAttempt { attempt, open_cap, reply }).await
    }

    async fn attempt(&self, id: &str) -> Result<Option<Attempt>> {
        let id = id.to_owned();
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT id, registration_id, created_at, expires_at, status, sealed \
                 FROM attempts WHERE id = ?1",
            )?
            .query_row([&id], attempt_from_row)
            .optional()
            .map_err(Error::from)
        })
        .await
    }

    async fn registrations_after(&self, after: &str, limit: u32) -> Result<Vec<Registration>> {
        let after = after.to_owned();
        self.read(move |conn| {
            let sql = format!(
                "SELECT {REGISTRATION_COLUMNS} FROM registrations WHERE id > ?1 \
                 ORDER BY id LIMIT ?2"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(rusqlite::params![after, limit], registration_from_row)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(Error::from)
        })
        .await
    }

    async fn sealed_attempts_after(&self, after: &str, limit: u32) -> Result<Vec<Attempt>> {
        let after = after.to_owned();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, registration_id, created_at, expires_at, status, sealed \
                 FROM attempts WHERE id > ?1 AND sealed IS NOT NULL ORDER BY id LIMIT ?2",
            )?;
            let rows = stmt.query_map(rusqlite::params![after, limit], attempt_from_row)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(Error::from)
        })
        .await
    }

    async fn reseal(&self, batch: Vec<Reseal>) -> Result<u64> {
        self.send(|reply| Op::Reseal { batch, reply }).await
    }

    async fn append_audit(&self, entry: AuditEntry) -> Result<u64> {
        self.send(|reply| Op::AppendAudit { entry: Box::new(entry), reply }).await
    }

    async fn finish_audit(&self, id: u64, outcome: &str, user_id: Option<String>) -> Result<()> {
        let outcome = outcome.to_owned();
        self.send(|reply| Op::FinishAudit { id, outcome, user_id, reply }).await
    }

    async fn audit(&self, q: AuditQuery) -> Result<Vec<AuditEntry>> {
        self.read(move |conn| {
            let before = q.before_id.map_or(i64::MAX, |b| i64::try_from(b).unwrap_or(i64::MAX));
            let mut stmt = conn.prepare_cached(
                "SELECT id, at, actor, origin, action, service_id, user_id, outcome FROM audit \
                 WHERE id < ?1 AND (?2 IS NULL OR service_id = ?2) \
                 AND (?3 IS NULL OR user_id = ?3) ORDER BY id DESC LIMIT ?4",
            )?;
            let rows = stmt.query_map(
                rusqlite::params![before, q.service_id, q.user_id, q.limit],
                |row| {
                    Ok(AuditEntry {
                        id: row.get(0)?,
                        at: row.get(1)?,
                        actor: row.get(2)?,
                        origin: row.get(3)?,
                        action: row.get(4)?,
                        service_id: row.get(5)?,
                        user_id: row.get(6)?,
                        outcome: row.get(7)?,
                    })
                },
            )?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
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

    async fn forget_expired_passwords(&self, now: u64) -> Result<u64> {
        self.send(|reply| Op::ForgetPasswords { now, reply }).await
    }

    async fn purge_attempts(&self, before: u64) -> Result<u64> {
        self.send(|reply| Op::Purge { before, reply }).await
    }

    async fn insert_bulk(&self, registrations: Vec<Registration>) -> Result<u64> {
        self.send(|reply| Op::Bulk { registrations, reply }).await
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

/// Copies the database at `path` into the new file `to`, created `0600`, with `VACUUM INTO`:
/// one read transaction, so the copy is consistent while the server keeps writing (WAL lets
/// both run at once), and compacted, so values wiped in the live file are not in free pages of
/// the copy. The copy is synced before this returns.
///
/// # Errors
/// [`Error::Io`] when `to` exists or cannot be created; [`Error::Storage`] when the database
/// cannot be read. A failed copy is removed.
pub fn backup(path: &std::path::Path, to: &std::path::Path) -> Result<()> {
    if !path.exists() {
        return Err(Error::Config(format!("no database at {}", path.display())));
    }
    // Created here first so that it is the owner's alone; SQLite fills an empty file.
    drop(crate::files::create_private_file(to, true)?);
    let copied = open_reader(path).and_then(|conn| {
        let target = to.to_str().ok_or(Error::Config("the backup path must be UTF-8".into()))?;
        conn.execute("VACUUM INTO ?1", [target])?;
        std::fs::File::open(to)?.sync_all()?;
        if let Some(dir) = to.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    });
    if copied.is_err() {
        let _ = std::fs::remove_file(to);
    }
    copied
}

fn attempt_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Attempt> {
    Ok(Attempt {
        id: row.get(0)?,
        registration_id: row.get(1)?,
        created_at: get_u64(row, 2)?,
        expires_at: get_u64(row, 3)?,
        status: AttemptStatus::parse(&row.get::<_, String>(4)?)
            .ok_or_else(|| bad_column(4, "attempt status"))?,
        sealed: row.get(5)?,
    })
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::Path;

    use super::*;
    use crate::storage::RegistrationState;

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
    async fn a_database_written_before_drift_tracking_opens_with_its_tokens_undrifted() {
        let dir = tempfile::tempdir().unwrap();
        {
            // The schema as the first release shipped it, with one token in use.
            let conn = rusqlite::Connection::open(dir.path().join("s.db")).unwrap();
            conn.execute_batch(schema::MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute(
                "INSERT INTO registrations VALUES ('id-1', '10112231', '999800000001', \
                 'taro@example.jp', 'in_use', 'SHA1', 6, 60, 0, 0, 0, 0, 42, X'', X'0102', \
                 NULL, 100, 200, NULL, NULL, NULL, NULL, 0, 3)",
                [],
            )
            .unwrap();
        }
        let s = open(dir.path());
        let r = s.registration_by_id("id-1").await.unwrap().unwrap();
        assert_eq!((r.last_step, r.drift_steps, r.rev), (Some(42), 0, 3));
        let mut moved = r.clone();
        moved.drift_steps = -7;
        let Updated::Applied(saved) = s.update(Change::registration(moved)).await.unwrap() else {
            panic!("the write must apply")
        };
        assert_eq!(s.registration_by_id("id-1").await.unwrap().unwrap().drift_steps, -7);
        assert_eq!(saved.drift_steps, -7);
    }

    #[tokio::test]
    async fn a_second_process_writing_the_file_makes_stale_writes_conflict() {
        let dir = tempfile::tempdir().unwrap();
        let server = open(dir.path());
        let cli = open(dir.path());
        let r = insert(&server, Registration::sample("999800000001")).await;
        // The server has `r` cached; the CLI ends it behind its back.
        let seen_by_cli = cli.registration(&r.service_id, &r.user_id).await.unwrap().unwrap();
        let mut ended = seen_by_cli.clone();
        ended.state = RegistrationState::Ended;
        assert!(matches!(
            cli.update(Change::registration(ended)).await.unwrap(),
            Updated::Applied(_)
        ));
        // The cached copy may still say "issued"; the database's answer is the truth, and
        // reading it drops the stale copy.
        let truth = server.registration_from_database(&r.service_id, &r.user_id).await.unwrap();
        assert_eq!(truth.unwrap().state, RegistrationState::Ended);
        let after = server.registration(&r.service_id, &r.user_id).await.unwrap().unwrap();
        assert_eq!(after.state, RegistrationState::Ended);
        let mut stale = r.clone();
        stale.last_step = Some(1);
        assert_eq!(server.update(Change::registration(stale)).await.unwrap(), Updated::Conflict);
        let fresh = server.registration(&r.service_id, &r.user_id).await.unwrap().unwrap();
        assert_eq!(fresh.state, RegistrationState::Ended);
        cli.close().await;
        server.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_cache_far_smaller_than_the_customers_evicts_without_losing_an_accepted_step() {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = SqliteOptions::new(dir.path().join("s.db"));
        opts.cache_capacity = 4;
        let s = Arc::new(SqliteStorage::open(opts).unwrap());
        let mut pairs = Vec::new();
        for i in 0..40 {
            let r = insert(&s, Registration::sample(&format!("9998{i:08}"))).await;
            pairs.push((r.service_id, r.user_id));
        }
        // Three verifiers per customer race through steps 1..=15, each a read and a
        // compare-and-swap as the bank does; every win is recorded.
        let mut tasks = Vec::new();
        for (service, user) in pairs.iter().cloned().flat_map(|p| [p.clone(), p.clone(), p]) {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                let mut won = Vec::new();
                for step in 1..=15u64 {
                    loop {
                        let r = s.registration(&service, &user).await.unwrap().unwrap();
                        if r.last_step.is_some_and(|l| l >= step) {
                            break;
                        }
                        let mut next = r;
                        next.last_step = Some(step);
                        if let Updated::Applied(_) =
                            s.update(Change::registration(next)).await.unwrap()
                        {
                            // Answered only after its commit: the file has it already.
                            let disk = s.registration_from_database(&service, &user).await;
                            assert!(disk.unwrap().unwrap().last_step >= Some(step));
                            won.push(step);
                            break;
                        }
                    }
                }
                (user, won)
            }));
        }
        let mut wins: HashMap<String, Vec<u64>> = HashMap::new();
        for t in tasks {
            let (user, won) = t.await.unwrap();
            wins.entry(user.as_str().to_owned()).or_default().extend(won);
        }
        s.close().await;
        let reopened = open(dir.path());
        for (service, user) in &pairs {
            let mut won = wins.remove(user.as_str()).unwrap();
            won.sort_unstable();
            // Each step accepted exactly once, and the last one is on disk.
            assert_eq!(won, (1..=15).collect::<Vec<_>>(), "{user}");
            let on_disk = reopened.registration(service, user).await.unwrap().unwrap();
            assert_eq!(on_disk.last_step, Some(15), "{user}");
        }
        reopened.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn the_wal_stays_bounded_while_verifications_never_pause() {
        use std::sync::atomic::{AtomicBool, Ordering};

        let dir = tempfile::tempdir().unwrap();
        let s = Arc::new(open(dir.path()));
        // Rows of about a kilobyte, so most updates dirty a page of their own: with SQLite's
        // checkpoints turned off, the 24,000 updates below grow the WAL to about 62 MB.
        let customers: Vec<Registration> = (0..4_000)
            .map(|i| {
                let mut r = Registration::sample(&format!("9998{i:08}"));
                r.id = format!("id-{i}");
                r.mail = format!("{}@example.jp", "t".repeat(900));
                r
            })
            .collect();
        let pairs: Vec<_> =
            customers.iter().map(|r| (r.service_id.clone(), r.user_id.clone())).collect();
        assert_eq!(s.insert_bulk(customers).await.unwrap(), 4_000);
        let wal = dir.path().join("s.db-wal");
        let stop = Arc::new(AtomicBool::new(false));
        let watcher = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut largest = 0;
                while !stop.load(Ordering::Relaxed) {
                    largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                largest
            })
        };
        let mut tasks = Vec::new();
        for t in 0..64usize {
            let (s, pairs) = (s.clone(), pairs.clone());
            tasks.push(tokio::spawn(async move {
                for k in 0..375usize {
                    let (service, user) = &pairs[(t * 7_919 + k * 104_729) % pairs.len()];
                    let mut next = s.registration(service, user).await.unwrap().unwrap();
                    next.last_step = Some(next.last_step.unwrap_or(0) + 1);
                    // A lost race with another task is fine: both wrote a page.
                    s.update(Change::registration(next)).await.unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        let largest = watcher.join().unwrap();
        // SQLite checkpoints every 1,000 pages and then reuses the WAL from its beginning, up
        // to `journal_size_limit` (16 MiB); the bound leaves room for a batch in flight.
        assert!(largest <= 32 << 20, "the WAL grew to {} MB", largest >> 20);
        s.close().await;
    }

    #[tokio::test]
    async fn reopening_keeps_everything_and_a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path());
        let r = insert(&s, Registration::sample("999800000001")).await;
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
            after_close
                .insert_registration(Registration::sample("999800000002"), None, false)
                .await,
            Err(Error::Unavailable)
        ));
    }
}
