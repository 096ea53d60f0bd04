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
//! [`Freshness::Database`], which skips the cache (and drops a copy that
//! differs).
//!
//! Reads that miss the cache use a small pool of read-only connections on tokio's blocking
//! threads; WAL lets them run beside the writer.
//!
//! Here: the [`Storage`] handle and its readers. `options.rs` the settings, `schema.rs` the
//! migrations and connections, `rows.rs` the statements (built from `storage/columns.rs`),
//! `ops.rs` what the handle queues for the writer, `writer.rs` the writer thread,
//! `syncer.rs` its durability thread, `confirm.rs` the confirmation requests' rows. Imports run one way: the handle to the writer, the
//! writer to the syncer, and each of them to the leaves (`ops`, `options`, `rows`, `schema`).

mod audit;
mod confirm;
mod credentials;
mod moves;
mod ops;
mod options;
mod rows;
mod schema;
mod syncer;
#[cfg(test)]
mod tests;
mod writer;

use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use async_trait::async_trait;
use rusqlite::Connection;
use softtoken_core::ids::{ServiceId, UserId};
use tokio::sync::oneshot;

use self::ops::{Cache, Op};
pub use self::options::{SqliteOptions, Synchronous, DEFAULT_CACHE_CAPACITY};
use self::rows::{attempt_from_row, get_u64, select_attempts};
use self::schema::{open_reader, open_writer};
use self::writer::Writer;
use super::{
    Attempt, AuditEntry, AuditQuery, Change, ConfirmationWrite, CredentialAdded, Freshness,
    Inserted, OutboxMail, Registration, Reseal, Storage, StoredConfirmation, StoredCredential,
    Updated,
};
use crate::error::{Error, Result};

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
        writer.audit_key = opts.audit_key;
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

/// Runs a write of its own connection on tokio's blocking threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| Error::Internal("database writer task failed"))?
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
        freshness: Freshness,
    ) -> Result<Option<Registration>> {
        let key = (service.as_str().to_owned(), user.as_str().to_owned());
        if freshness != Freshness::Database {
            // The cache is never ahead of the file nor behind this process's commits.
            if let Some(hit) = self.cache.get(&key) {
                return Ok(Some((*hit).clone()));
            }
            return self.read(move |conn| rows::newest_registration(conn, &key.0, &key.1)).await;
        }
        let read_key = key.clone();
        let fresh = self
            .read(move |conn| rows::newest_registration(conn, &read_key.0, &read_key.1))
            .await?;
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
        self.read(move |conn| rows::registration_by_id(conn, &id)).await
    }

    async fn update(&self, change: Change) -> Result<Updated> {
        self.send(|reply| Op::Update { change: Box::new(change), reply }).await
    }

    async fn insert_attempt(&self, attempt: Attempt, open_cap: u32) -> Result<()> {
        self.send(|reply| Op::InsertAttempt { attempt, open_cap, reply }).await
    }

    async fn attempt(&self, id: &str) -> Result<Option<Attempt>> {
        let id = id.to_owned();
        self.read(move |conn| rows::attempt(conn, &id)).await
    }

    async fn registrations_after(&self, after: &str, limit: u32) -> Result<Vec<Registration>> {
        let after = after.to_owned();
        self.read(move |conn| rows::registrations_after(conn, &after, limit)).await
    }

    async fn sealed_attempts_after(&self, after: &str, limit: u32) -> Result<Vec<Attempt>> {
        let after = after.to_owned();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(concat!(
                select_attempts!(),
                " WHERE id > ?1 AND sealed IS NOT NULL ORDER BY id LIMIT ?2"
            ))?;
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

    async fn audit_after(&self, after_id: u64, limit: u32) -> Result<Vec<AuditEntry>> {
        self.read(move |conn| audit::after(conn, after_id, limit)).await
    }

    async fn add_credential(
        &self,
        credential: StoredCredential,
        most_valid: usize,
    ) -> Result<CredentialAdded> {
        let path = self.readers.path.clone();
        blocking(move || credentials::add(&path, &credential, most_valid)).await
    }

    async fn credentials(&self) -> Result<Vec<StoredCredential>> {
        self.read(credentials::list).await
    }

    async fn revoke_credential(&self, name: &str, id: Option<String>, now: u64) -> Result<u64> {
        let (path, name) = (self.readers.path.clone(), name.to_owned());
        blocking(move || credentials::revoke(&path, &name, id.as_deref(), now)).await
    }

    async fn audit(&self, q: AuditQuery) -> Result<Vec<AuditEntry>> {
        self.read(move |conn| audit::list(conn, &q)).await
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

    async fn write_confirmation(&self, write: ConfirmationWrite) -> Result<bool> {
        let write = Box::new(write);
        Ok(self.send(|reply| Op::Confirmation { write, audit: None, reply }).await? == 1)
    }

    async fn write_confirmation_audited(
        &self,
        write: ConfirmationWrite,
        entry: AuditEntry,
    ) -> Result<bool> {
        let (write, audit) = (Box::new(write), Some(Box::new(entry)));
        Ok(self.send(|reply| Op::Confirmation { write, audit, reply }).await? == 1)
    }

    async fn confirmation(&self, id: &str) -> Result<Option<StoredConfirmation>> {
        let id = id.to_owned();
        self.read(move |conn| confirm::by_id(conn, &id)).await
    }

    async fn pending_confirmations(
        &self,
        registration_id: &str,
        now: u64,
        limit: u32,
    ) -> Result<Vec<StoredConfirmation>> {
        let id = registration_id.to_owned();
        self.read(move |conn| confirm::pending(conn, &id, now, limit)).await
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

impl Drop for SqliteStorage {
    fn drop(&mut self) {
        // Dropping the sender ends the writer after its current batch; it is not joined here
        // because drop may run on an async thread.
        if let Ok(mut ops) = self.ops.lock() {
            ops.take();
        }
    }
}
