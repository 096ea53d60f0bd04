//! The PostgreSQL backend: several server instances on one database.
//!
//! Kept whole at about 600 lines: it is the one implementation of [`Storage`] for PostgreSQL,
//! method by method beside SQLite's; rows, schema, batch and TLS are already files of their own.
//!
//! Driver and pool: `tokio-postgres` with `deadpool-postgres`. Why not sqlx: the SQLite side
//! already writes its SQL by hand with rusqlite, so sqlx's query macros and its own pool would
//! buy little here and cost a much larger build (and its compile-time checks need a database at
//! build time); tokio-postgres is the driver sqlx's PostgreSQL support grew beside, is kept by
//! the rust-postgres project, and deadpool is the small, widely used async pool for it. TLS to
//! the database is rustls on ring (`tokio-postgres-rustls`), the same TLS stack the server
//! already serves HTTPS with.
//!
//! Every rule holds across instances because every decision is written with a compare-and-swap
//! in the database itself: `UPDATE ... WHERE id = $1 AND rev = $expected`, revisions drawn from
//! one sequence, attempts moved with `... AND status = $from`, all in one transaction when a
//! change has several parts. Every read ([`Storage::registration`] and the rest) goes to the
//! database, so no instance ever refuses a code, a confirm or an ack from a copy that another
//! instance has made stale (issue 16's "one true answer"). The one exception is the hot path:
//! verify decides first on the copy of the registration this instance last read or wrote
//! ([`Freshness::Hint`], a bounded quick_cache map like SQLite's), which makes an
//! accepted or rejected code one conditional `UPDATE`, shared with the other verifications
//! that write at the same moment ([`batch`]: one statement and one commit for all of them, as
//! SQLite's writer thread does); when another instance wrote the row meanwhile, the `UPDATE`
//! finds another revision and changes nothing, and the bank decides again on a fresh read, as
//! it does before any answer that writes nothing.
//!
//! A database that cannot be reached (stopped, failed over, every pooled connection busy for
//! longer than the pool's wait) is [`Error::Unavailable`]: `503` with `Retry-After`, never a
//! hang; the pool reconnects by itself once the database is back.
//!
//! Laid out as the SQLite backend: here the options and the [`Storage`] handle; `rows.rs` the
//! statements (built from `storage/columns.rs`), rows and errors, `schema.rs` the migrations,
//! `batch.rs` verify's group commit, `tls.rs` TLS to the database, `confirm.rs` the
//! confirmation requests.

mod audit;
mod batch;
mod confirm;
mod credentials;
mod moves;
mod rows;
mod schema;
mod tls;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use softtoken_core::ids::{ServiceId, UserId};

use self::rows::{
    attempt_from_row, db_error, insert_mail, insert_registration_row, insert_registration_rows,
    pool_error, to_i64, u64_of, update_registration_row, SELECT_ATTEMPTS,
};
use super::{
    Attempt, AuditEntry, AuditKey, AuditQuery, Change, ConfirmationWrite, CredentialAdded,
    Freshness, Inserted, OutboxMail, Registration, RegistrationState, Reseal, Storage,
    StoredConfirmation, StoredCredential, Updated,
};
use crate::error::{Error, Result};
pub use schema::runtime_role_grants;

/// Settings of the PostgreSQL backend.
#[derive(Clone)]
pub struct PostgresOptions {
    /// `postgres://user:password@host:port/database?sslmode=require` (or the key=value form).
    pub url: String,
    /// Connections this instance keeps at most.
    pub pool_size: usize,
    /// How long a request waits for a free connection (or a new one) before it is answered
    /// `503`.
    pub wait: Duration,
    /// PEM file of the certificate authorities trusted for TLS to the database; without it,
    /// the system's roots.
    pub ca_file: Option<PathBuf>,
    /// Registrations whose last seen copy is kept for verify's first decision.
    pub cache_capacity: usize,
    /// The audit log's chain key; without it no audit entry is written.
    pub audit_key: Option<Arc<AuditKey>>,
}

impl std::fmt::Debug for PostgresOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password.
        f.debug_struct("PostgresOptions")
            .field("pool_size", &self.pool_size)
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}

impl PostgresOptions {
    /// Defaults for a database URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            pool_size: DEFAULT_POOL_SIZE,
            wait: Duration::from_secs(2),
            ca_file: None,
            cache_capacity: super::sqlite::DEFAULT_CACHE_CAPACITY,
            audit_key: None,
        }
    }
}

/// Connections an instance keeps by default. Verify's writes take one of them at a time
/// ([`batch`]); the others serve reads, provisioning and the admin plane, where each commit
/// waits for PostgreSQL's WAL flush and commits that wait together share one flush
/// (docs/PERFORMANCE.md); the database's `max_connections` must cover every instance's pool.
pub const DEFAULT_POOL_SIZE: usize = 64;

/// True when `url` names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

type Key = (String, String);

/// The PostgreSQL [`Storage`].
pub struct PostgresStorage {
    pool: Pool,
    /// The copy of each registration this instance last read or wrote: verify's hint only.
    seen: quick_cache::sync::Cache<Key, Arc<Registration>>,
    /// Verify's writes, committed together ([`batch`]).
    batcher: batch::Batcher,
    audit_key: Option<Arc<AuditKey>>,
}

fn key_of(service: &str, user: &str) -> Key {
    (service.to_owned(), user.to_owned())
}

impl PostgresStorage {
    /// Remembers `r` as the pair's newest registration; an ended one is forgotten instead (it
    /// may be older than the pair's newest, and verify refuses it anyway).
    fn saw(&self, r: &Registration) {
        let key = key_of(r.service_id.as_str(), r.user_id.as_str());
        if r.state == RegistrationState::Ended {
            self.seen.remove(&key);
        } else {
            self.seen.insert(key, Arc::new(r.clone()));
        }
    }
}

impl std::fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStorage").field("status", &self.pool.status()).finish()
    }
}

impl PostgresStorage {
    /// Connects (lazily: the first request opens the first connection) and checks that the
    /// schema is this server's, migrating first with `migrate`.
    ///
    /// # Errors
    /// [`Error::Config`] for a URL or CA file that cannot be used, or a database off this
    /// machine without `sslmode=require` (refused before connecting); [`Error::Unavailable`]
    /// when the database cannot be reached; [`Error::Storage`] for a schema that is older
    /// (without `migrate`) or newer than this server.
    pub async fn open(opts: PostgresOptions, migrate: bool) -> Result<Self> {
        let config = tls::checked_config(&opts.url)?;
        let manager_config = ManagerConfig { recycling_method: RecyclingMethod::Fast };
        let manager = if config.get_ssl_mode() == tokio_postgres::config::SslMode::Disable {
            Manager::from_config(config, tokio_postgres::NoTls, manager_config)
        } else {
            Manager::from_config(config, tls::connector(opts.ca_file.as_ref())?, manager_config)
        };
        let timeouts = deadpool_postgres::Timeouts {
            wait: Some(opts.wait),
            create: Some(opts.wait),
            recycle: Some(opts.wait),
        };
        let pool = Pool::builder(manager)
            .max_size(opts.pool_size.max(1))
            .timeouts(timeouts)
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| Error::Config(format!("the database pool: {e}")))?;
        let storage = Self {
            batcher: batch::Batcher::start(pool.clone()),
            pool,
            seen: quick_cache::sync::Cache::new(opts.cache_capacity.max(1)),
            audit_key: opts.audit_key,
        };
        {
            let mut client = storage.client().await?;
            if migrate {
                schema::migrate(&mut client).await?;
            } else {
                schema::check(&client).await?;
            }
        }
        Ok(storage)
    }

    async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(pool_error)
    }

    /// The pool's connections: how many exist and how many are free (for tests and metrics).
    pub fn pool_status(&self) -> deadpool_postgres::Status {
        self.pool.status()
    }
}

#[async_trait]
impl Storage for PostgresStorage {
    async fn insert_registration(
        &self,
        mut registration: Registration,
        mail: Option<OutboxMail>,
        user_id_must_be_new: bool,
    ) -> Result<Inserted> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let attempt = async {
            if user_id_must_be_new {
                let taken = tx
                    .query_opt(
                        "SELECT 1 FROM registrations WHERE service_id = $1 AND user_id = $2 \
                         LIMIT 1",
                        &[&registration.service_id.as_str(), &registration.user_id.as_str()],
                    )
                    .await?;
                if taken.is_some() {
                    return Ok(Some(Inserted::UserIdTaken));
                }
            }
            match insert_registration_row(&tx, &registration).await {
                Ok(rev) => registration.rev = rev,
                Err(e) if e.is_unique_violation() => return Ok(Some(Inserted::ActiveExists)),
                Err(e) => return Err(e),
            }
            if let Some(m) = &mail {
                insert_mail(&tx, m).await?;
            }
            Ok(None)
        }
        .await;
        match attempt {
            Ok(None) => {
                tx.commit().await.map_err(db_error)?;
                self.saw(&registration);
                Ok(Inserted::Applied(Box::new(registration)))
            }
            // A racing insert of the same pair won: for a user ID that had to be new, that
            // is the user ID taken.
            Ok(Some(Inserted::ActiveExists)) if user_id_must_be_new => Ok(Inserted::UserIdTaken),
            Ok(Some(refused)) => Ok(refused),
            Err(e) => Err(e.into_error()),
        }
    }

    async fn registration(
        &self,
        service: &ServiceId,
        user: &UserId,
        freshness: Freshness,
    ) -> Result<Option<Registration>> {
        let key = key_of(service.as_str(), user.as_str());
        // Only a hint may come from this instance's copy: every other instance writes too.
        if freshness == Freshness::Hint {
            if let Some(seen) = self.seen.get(&key) {
                return Ok(Some((*seen).clone()));
            }
        }
        let client = self.client().await?;
        let found = rows::newest_registration(&client, service.as_str(), user.as_str()).await?;
        match &found {
            Some(r) => self.saw(r),
            None => {
                self.seen.remove(&key);
            }
        }
        Ok(found)
    }

    async fn registration_by_id(&self, id: &str) -> Result<Option<Registration>> {
        let client = self.client().await?;
        rows::registration_by_id(&client, id).await
    }

    async fn update(&self, change: Change) -> Result<Updated> {
        let Change { registration: mut updated, attempt, wipe_other_attempts, insert, moved } =
            change;
        let expected = updated.rev;
        let moved = moved.map(|m| *m).unwrap_or_default();
        let simple = attempt.is_none()
            && !wipe_other_attempts
            && insert.is_none()
            && moved.also.is_none()
            && moved.writes.is_empty();
        let key = key_of(updated.service_id.as_str(), updated.user_id.as_str());
        if simple {
            // One row is atomic by itself: the hot path (verify) is one statement, shared
            // with the other writes waiting at the same moment.
            let (mut updated, written) = self.batcher.update(updated, expected).await?;
            return Ok(match written {
                Some(rev) => {
                    updated.rev = rev;
                    self.saw(&updated);
                    Updated::Applied(Box::new(updated))
                }
                None => {
                    // Another instance wrote it: the copy here is stale.
                    self.seen.remove(&key);
                    Updated::Conflict
                }
            });
        }
        // A change of several parts (provisioning, the demo re-arm, a move): the next read
        // refreshes.
        self.seen.remove(&key);
        if let Some(also) = &moved.also {
            self.seen.remove(&key_of(also.service_id.as_str(), also.user_id.as_str()));
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let applied: std::result::Result<bool, rows::WriteFailed> = async {
            let Some(rev) = update_registration_row(&tx, &updated, expected).await? else {
                return Ok(false);
            };
            updated.rev = rev;
            if let Some(a) = &attempt {
                let n = tx
                    .execute(
                        "UPDATE attempts SET status = $3, \
                         sealed = CASE WHEN $4 THEN NULL ELSE sealed END \
                         WHERE id = $1 AND registration_id = $2 AND status = $5",
                        &[&a.id, &updated.id, &a.to.as_str(), &a.wipe, &a.from.as_str()],
                    )
                    .await?;
                if n != 1 {
                    return Ok(false);
                }
                if let Some(m) = &a.notice {
                    insert_mail(&tx, m).await?;
                }
            }
            if wipe_other_attempts {
                tx.execute(
                    "UPDATE attempts SET sealed = NULL \
                     WHERE registration_id = $1 AND id IS DISTINCT FROM $2",
                    &[&updated.id, &updated.confirmed_attempt],
                )
                .await?;
            }
            if let Some(new) = &insert {
                insert_registration_row(&tx, new).await?;
            }
            if let Some(also) = &moved.also {
                if update_registration_row(&tx, also, also.rev).await?.is_none() {
                    return Ok(false);
                }
            }
            for write in &moved.writes {
                if !moves::write(&tx, write).await? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        .await;
        match applied {
            Ok(true) => {
                tx.commit().await.map_err(db_error)?;
                Ok(Updated::Applied(Box::new(updated)))
            }
            // Rolled back when `tx` drops: nothing of the change was written.
            Ok(false) => Ok(Updated::Conflict),
            Err(e) if e.is_unique_violation() => Ok(Updated::Conflict),
            Err(e) => Err(e.into_error()),
        }
    }

    async fn insert_attempt(&self, a: Attempt, open_cap: u32) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        // Starts of one registration take their turn on its row: two that trimmed the same
        // attempts at once would deadlock, and each would keep the other's.
        tx.execute("SELECT 1 FROM registrations WHERE id = $1 FOR UPDATE", &[&a.registration_id])
            .await
            .map_err(db_error)?;
        // Keep the newest `open_cap - 1` pending attempts of the registration, then add this.
        tx.execute(
            "DELETE FROM attempts WHERE id IN (SELECT id FROM attempts \
             WHERE registration_id = $1 AND status = 'pending' \
             ORDER BY created_at DESC, id DESC OFFSET $2)",
            &[&a.registration_id, &i64::from(open_cap.saturating_sub(1))],
        )
        .await
        .map_err(db_error)?;
        let stmt = tx
            .prepare_cached(
                "INSERT INTO attempts (id, registration_id, created_at, expires_at, status, sealed) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .await
            .map_err(db_error)?;
        tx.execute(
            &stmt,
            &[
                &a.id,
                &a.registration_id,
                &to_i64(a.created_at),
                &to_i64(a.expires_at),
                &a.status.as_str(),
                &a.sealed,
            ],
        )
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)
    }

    async fn forget_expired_passwords(&self, now: u64) -> Result<u64> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE registrations SET sealed_password = '\\x'::bytea, \
                 rev = nextval('registration_rev') \
                 WHERE state IN ('issued', 'confirmed') AND expires_at <= $1 \
                 AND octet_length(sealed_password) > 0",
                &[&to_i64(now)],
            )
            .await
            .map_err(db_error)
    }

    async fn attempt(&self, id: &str) -> Result<Option<Attempt>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!("{SELECT_ATTEMPTS} WHERE id = $1"))
            .await
            .map_err(db_error)?;
        let row = client.query_opt(&stmt, &[&id]).await.map_err(db_error)?;
        row.as_ref().map(attempt_from_row).transpose()
    }

    async fn registrations_after(&self, after: &str, limit: u32) -> Result<Vec<Registration>> {
        let client = self.client().await?;
        rows::registrations_after(&client, after, limit).await
    }

    async fn sealed_attempts_after(&self, after: &str, limit: u32) -> Result<Vec<Attempt>> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "{SELECT_ATTEMPTS} WHERE id > $1 AND sealed IS NOT NULL ORDER BY id LIMIT $2"
                ),
                &[&after, &i64::from(limit)],
            )
            .await
            .map_err(db_error)?;
        rows.iter().map(attempt_from_row).collect()
    }

    async fn reseal(&self, batch: Vec<Reseal>) -> Result<u64> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let mut written = 0;
        for r in &batch {
            written += match r {
                Reseal::Registration { id, rev, sealed_password, sealed_seed } => tx
                    .execute(
                        "UPDATE registrations SET sealed_password = $3, sealed_seed = $4, \
                         rev = nextval('registration_rev') WHERE id = $1 AND rev = $2",
                        &[id, &to_i64(*rev), sealed_password, sealed_seed],
                    )
                    .await
                    .map_err(db_error)?,
                Reseal::Attempt { id, old, new } => tx
                    .execute(
                        "UPDATE attempts SET sealed = $3 WHERE id = $1 AND sealed = $2",
                        &[id, old, new],
                    )
                    .await
                    .map_err(db_error)?,
            };
        }
        tx.commit().await.map_err(db_error)?;
        Ok(written)
    }

    async fn outbox(&self, limit: u32) -> Result<Vec<OutboxMail>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT registration_id, recipient, subject, body, created_at FROM outbox \
                 ORDER BY id DESC LIMIT $1",
                &[&i64::from(limit)],
            )
            .await
            .map_err(db_error)?;
        rows.iter()
            .map(|row| {
                Ok(OutboxMail {
                    registration_id: row.try_get(0).map_err(db_error)?,
                    to: row.try_get(1).map_err(db_error)?,
                    subject: row.try_get(2).map_err(db_error)?,
                    body: row.try_get(3).map_err(db_error)?,
                    created_at: u64_of(row.try_get(4).map_err(db_error)?, "time")?,
                })
            })
            .collect()
    }

    async fn add_credential(
        &self,
        credential: StoredCredential,
        most_valid: usize,
    ) -> Result<CredentialAdded> {
        credentials::add(&mut self.client().await?, &credential, most_valid).await
    }

    async fn credentials(&self) -> Result<Vec<StoredCredential>> {
        credentials::list(&self.client().await?).await
    }

    async fn revoke_credential(&self, name: &str, id: Option<String>, now: u64) -> Result<u64> {
        credentials::revoke(&self.client().await?, name, id.as_deref(), now).await
    }

    async fn append_audit(&self, e: AuditEntry) -> Result<u64> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let id = audit::insert(&tx, self.audit_key.as_deref(), &e).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(id)
    }

    async fn audit_after(&self, after_id: u64, limit: u32) -> Result<Vec<AuditEntry>> {
        audit::after(&self.client().await?, after_id, limit).await
    }

    async fn audit(&self, q: AuditQuery) -> Result<Vec<AuditEntry>> {
        audit::list(&self.client().await?, &q).await
    }

    async fn purge_attempts(&self, before: u64) -> Result<u64> {
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM attempts WHERE expires_at < $1 AND status <> 'confirmed'",
                &[&to_i64(before)],
            )
            .await
            .map_err(db_error)
    }

    async fn insert_bulk(&self, registrations: Vec<Registration>) -> Result<u64> {
        // One multi-row INSERT from arrays (a column per parameter): one statement, so all or
        // none, and one round trip for the whole batch; each row still draws its revision.
        let client = self.client().await?;
        let rows: Vec<&Registration> = registrations.iter().collect();
        insert_registration_rows(&client, &rows).await.map_err(rows::WriteFailed::into_error)
    }

    async fn write_confirmation(&self, write: ConfirmationWrite) -> Result<bool> {
        confirm::write(&mut self.client().await?, &write, None).await
    }

    async fn write_confirmation_audited(
        &self,
        write: ConfirmationWrite,
        entry: AuditEntry,
    ) -> Result<bool> {
        let audit = Some((&entry, self.audit_key.as_deref()));
        confirm::write(&mut self.client().await?, &write, audit).await
    }

    async fn confirmation(&self, id: &str) -> Result<Option<StoredConfirmation>> {
        confirm::by_id(&self.client().await?, id).await
    }

    async fn pending_confirmations(
        &self,
        registration_id: &str,
        now: u64,
        limit: u32,
    ) -> Result<Vec<StoredConfirmation>> {
        confirm::pending(&self.client().await?, registration_id, now, limit).await
    }

    async fn close(&self) {
        // Every write was committed before its call returned; closing only ends the
        // connections, and later calls fail with `Unavailable`.
        self.pool.close();
    }
}

/// Applies the migrations not yet applied (`softtoken-server migrate`).
///
/// # Errors
/// As [`PostgresStorage::open`].
pub async fn migrate(opts: PostgresOptions) -> Result<()> {
    PostgresStorage::open(opts, true).await?.close().await;
    Ok(())
}
