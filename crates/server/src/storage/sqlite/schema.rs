//! The schema, its migrations, and how connections are opened.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags};

use super::options::SqliteOptions;
use crate::error::{Error, Result};
use crate::files;
use crate::storage::migrate::{self, Ledger};

/// Schema migrations, applied in order at open by the shared runner (`storage/migrate.rs`);
/// `PRAGMA user_version` counts those applied. Never edit one that has shipped: add the next.
pub(super) const MIGRATIONS: &[&str] = &[
    r#"
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
"#,
    // 2: each token's clock drift in time steps, learnt from accepted codes and set by a resync.
    // Rows written before it start at no drift, which is what the bank assumed for them.
    r#"
ALTER TABLE registrations ADD COLUMN drift_steps INTEGER NOT NULL DEFAULT 0;
"#,
    // 3: the audit log of admin actions (who, what, when, outcome; never a secret).
    r#"
CREATE TABLE audit (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    origin     TEXT NOT NULL,
    action     TEXT NOT NULL,
    service_id TEXT,
    user_id    TEXT,
    outcome    TEXT NOT NULL
) STRICT;
CREATE INDEX audit_pair ON audit (service_id, user_id, id);
"#,
    // 4: transaction confirmations (docs/confirmation.md) and each registration's last
    // accepted offline-code minute. Databases written before it simply have none.
    r#"
CREATE TABLE confirmations (
    id              TEXT PRIMARY KEY,
    registration_id TEXT NOT NULL,
    service_id      TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    kind            TEXT NOT NULL
                    CHECK (kind IN ('transfer', 'new_payee', 'limit_change', 'sign_in')),
    details         TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    match_required  INTEGER NOT NULL,
    match_number    TEXT,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'denied',
                                                   'wrong_number', 'expired', 'cancelled')),
    answered_at     INTEGER
) STRICT;
CREATE INDEX confirmations_registration ON confirmations (registration_id, state, created_at);

CREATE TABLE offline_steps (
    registration_id TEXT PRIMARY KEY,
    step            INTEGER NOT NULL
) STRICT;
"#,
    // 5: the admin listener's named credentials (storage/credentials.rs): hashes only.
    r#"
CREATE TABLE credentials (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    scope      TEXT NOT NULL
               CHECK (scope IN ('verify', 'transactions', 'clerk', 'metrics', 'admin')),
    hash       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;
CREATE INDEX credentials_name ON credentials (name, revoked_at);
"#,
    // 6: the rejected codes of a day, counted across accepted ones (a guess between each of
    // the customer's logins no longer escapes the failure limit). Rows start with none.
    r#"
ALTER TABLE registrations ADD COLUMN verify_window_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE registrations ADD COLUMN verify_window_start INTEGER;
"#,
    // 7: the phone moves (storage/moves.rs). One pending move per old registration.
    r#"
CREATE TABLE moves (
    id                  TEXT PRIMARY KEY,
    service_id          TEXT NOT NULL,
    old_registration_id TEXT NOT NULL,
    old_user_id         TEXT NOT NULL,
    new_registration_id TEXT NOT NULL UNIQUE,
    new_user_id         TEXT NOT NULL,
    state               TEXT NOT NULL
                        CHECK (state IN ('pending', 'completed', 'expired', 'cancelled')),
    created_at          INTEGER NOT NULL,
    expires_at          INTEGER NOT NULL,
    settled_at          INTEGER,
    receipt_mac         BLOB
) STRICT;
CREATE UNIQUE INDEX moves_one_pending ON moves (old_registration_id) WHERE state = 'pending';
CREATE INDEX moves_customer ON moves (service_id, old_user_id);
"#,
    // 8: the audit log appended only: an outcome is a second entry naming the first, every
    // entry a link of a MAC chain under a key kept outside the database (storage/chain.rs).
    // SQLite has no roles to refuse a change; its triggers stop a slip, the chain shows the
    // rest. Entries from before it stay unchained, at the start of the log.
    r#"
ALTER TABLE audit ADD COLUMN refers_to INTEGER;
ALTER TABLE audit ADD COLUMN key_id TEXT;
ALTER TABLE audit ADD COLUMN mac TEXT;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"#,
];

/// Bytes of WAL kept for reuse after a checkpoint: a few checkpoints' worth at the default of
/// 1,000 pages, so steady load never shrinks and regrows it.
const WAL_SIZE_LIMIT: u64 = 16 << 20;

/// How long a connection waits for another's lock (the admin CLI's, a checkpoint's).
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) fn open_reader(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

pub(super) fn open_writer(opts: &SqliteOptions) -> Result<Connection> {
    // SQLite creates the WAL and the shared-memory file with the database file's mode, so a
    // database created 0600 keeps all three private whatever the umask.
    if let Some(dir) = opts.path.parent() {
        files::create_private_dir(dir)?;
    }
    if opts.path.exists() {
        for suffix in ["", "-wal", "-shm"] {
            files::make_private(Path::new(&format!("{}{suffix}", opts.path.display())))?;
        }
    } else {
        files::create_private_file(&opts.path, true)?;
    }
    let mut conn = Connection::open(&opts.path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Storage(format!("the database refused WAL mode ({mode})")));
    }
    // A wiped seed or password is overwritten with zeros, not left in a free page. Old page
    // images in the WAL go when the writer empties it (idle, maintenance, shutdown; see
    // `Writer::truncate_wal`). Under load the WAL is reused in place: cutting it to nothing
    // at every checkpoint made each commit's sync also sync the file's growth, and cost a
    // third of the verify throughput. The limit only bounds what a burst leaves behind.
    conn.execute_batch(&format!(
        "PRAGMA secure_delete = ON; PRAGMA journal_size_limit = {WAL_SIZE_LIMIT};"
    ))?;
    // `full` is kept by the writer's syncer, not by SQLite: SQLite would sync inside COMMIT,
    // and the writer could do nothing else meanwhile (syncer.rs).
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
    migrate(&mut conn)?;
    Ok(conn)
}

/// The writing connection inside its `BEGIN IMMEDIATE`, as the migration runner's ledger.
struct UserVersion<'c>(&'c mut Connection);

#[async_trait]
impl Ledger for UserVersion<'_> {
    async fn applied(&mut self) -> Result<usize> {
        let applied: i64 = self.0.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        Ok(usize::try_from(applied).unwrap_or(0))
    }

    async fn apply(&mut self, step: &str, version: usize) -> Result<()> {
        self.0.execute_batch(step)?;
        self.0.pragma_update(None, "user_version", i64::try_from(version).unwrap_or(i64::MAX))?;
        Ok(())
    }
}

pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let migrated = migrate::without_waiting(migrate::migrate(&mut UserVersion(conn), MIGRATIONS));
    match migrated {
        Ok(()) => Ok(conn.execute_batch("COMMIT")?),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}
