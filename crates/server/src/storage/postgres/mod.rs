//! The PostgreSQL backend: several server instances on one database.
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
//! ([`Storage::registration_hint`], a bounded quick_cache map like SQLite's), which makes an
//! accepted or rejected code one conditional `UPDATE`, shared with the other verifications
//! that write at the same moment ([`batch`]: one statement and one commit for all of them, as
//! SQLite's writer thread does); when another instance wrote the row meanwhile, the `UPDATE`
//! finds another revision and changes nothing, and the bank decides again on a fresh read, as
//! it does before any answer that writes nothing.
//!
//! A database that cannot be reached (stopped, failed over, every pooled connection busy for
//! longer than the pool's wait) is [`Error::Unavailable`]: `503` with `Retry-After`, never a
//! hang; the pool reconnects by itself once the database is back.

mod batch;
mod schema;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use softtoken_core::ids::{ServiceId, UserId};
use softtoken_core::totp::TotpParams;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::sqlite::rows::{algorithm_name, parse_algorithm, to_i64};
use super::{
    Attempt, AttemptStatus, AuditEntry, AuditQuery, Change, Inserted, OutboxMail, Registration,
    RegistrationState, Reseal, Storage, Updated,
};
use crate::error::{Error, Result};

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

/// A database failure: unreachable or shutting down is [`Error::Unavailable`] (the caller may
/// retry, here or on another instance); anything else is [`Error::Storage`].
pub(super) fn db_error(e: tokio_postgres::Error) -> Error {
    let unreachable = e.is_closed()
        || e.code().is_some_and(|c| {
            let c = c.code();
            // Class 08: connection exceptions; 57P0x: shutdown, cannot connect now.
            c.starts_with("08") || c.starts_with("57P")
        })
        || (e.code().is_none()
            && std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>()));
    if unreachable {
        tracing::warn!(event = "database_unreachable", error = %e, "PostgreSQL cannot be reached");
        Error::Unavailable
    } else {
        Error::Storage(e.to_string())
    }
}

fn pool_error(e: PoolError) -> Error {
    match e {
        PoolError::Backend(e) => db_error(e),
        PoolError::Timeout(_) | PoolError::Closed | PoolError::NoRuntimeSpecified => {
            tracing::warn!(event = "database_unavailable", error = %e, "no database connection");
            Error::Unavailable
        }
        PoolError::PostCreateHook(e) => Error::Storage(e.to_string()),
    }
}

fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

const REGISTRATION_COLUMNS: &str = "id, service_id, user_id, mail, state, algorithm, digits, \
    period, failed_tries, provision_locked, verify_failures, verify_locked, last_step, \
    sealed_password, sealed_seed, confirmed_attempt, issued_at, expires_at, confirmed_at, \
    delivered_at, in_use_at, ended_at, demo, rev, drift_steps";

fn bad(what: &str) -> Error {
    Error::Storage(format!("invalid {what} in the database"))
}

fn u64_of(v: i64, what: &str) -> Result<u64> {
    u64::try_from(v).map_err(|_| bad(what))
}

fn opt_u64(v: Option<i64>, what: &str) -> Result<Option<u64>> {
    v.map(|v| u64_of(v, what)).transpose()
}

fn registration_from_row(row: &Row) -> Result<Registration> {
    let count = |i: usize| -> Result<u32> {
        u32::try_from(row.try_get::<_, i64>(i).map_err(db_error)?).map_err(|_| bad("count"))
    };
    let get_i64 = |i: usize| row.try_get::<_, i64>(i).map_err(db_error);
    let get_opt = |i: usize| row.try_get::<_, Option<i64>>(i).map_err(db_error);
    let text = |i: usize| row.try_get::<_, String>(i).map_err(db_error);
    Ok(Registration {
        id: text(0)?,
        service_id: ServiceId::new(&text(1)?).map_err(|_| bad("service ID"))?,
        user_id: UserId::new(&text(2)?).map_err(|_| bad("user ID"))?,
        mail: text(3)?,
        state: RegistrationState::parse(&text(4)?).ok_or_else(|| bad("state"))?,
        params: TotpParams {
            algorithm: parse_algorithm(&text(5)?).ok_or_else(|| bad("algorithm"))?,
            digits: u8::try_from(get_i64(6)?).map_err(|_| bad("digits"))?,
            period: u32::try_from(get_i64(7)?).map_err(|_| bad("period"))?,
        },
        failed_tries: count(8)?,
        provision_locked: row.try_get(9).map_err(db_error)?,
        verify_failures: count(10)?,
        verify_locked: row.try_get(11).map_err(db_error)?,
        last_step: opt_u64(get_opt(12)?, "step")?,
        sealed_password: row.try_get(13).map_err(db_error)?,
        sealed_seed: row.try_get(14).map_err(db_error)?,
        confirmed_attempt: row.try_get(15).map_err(db_error)?,
        issued_at: u64_of(get_i64(16)?, "time")?,
        expires_at: u64_of(get_i64(17)?, "time")?,
        confirmed_at: opt_u64(get_opt(18)?, "time")?,
        delivered_at: opt_u64(get_opt(19)?, "time")?,
        in_use_at: opt_u64(get_opt(20)?, "time")?,
        ended_at: opt_u64(get_opt(21)?, "time")?,
        demo: row.try_get(22).map_err(db_error)?,
        rev: u64_of(get_i64(23)?, "revision")?,
        drift_steps: get_i64(24)?,
    })
}

fn attempt_from_row(row: &Row) -> Result<Attempt> {
    Ok(Attempt {
        id: row.try_get(0).map_err(db_error)?,
        registration_id: row.try_get(1).map_err(db_error)?,
        created_at: u64_of(row.try_get(2).map_err(db_error)?, "time")?,
        expires_at: u64_of(row.try_get(3).map_err(db_error)?, "time")?,
        status: AttemptStatus::parse(&row.try_get::<_, String>(4).map_err(db_error)?)
            .ok_or_else(|| bad("attempt status"))?,
        sealed: row.try_get(5).map_err(db_error)?,
    })
}

/// Inserts a registration row with a fresh revision; its revision.
async fn insert_registration_row(
    client: &impl GenericClient,
    r: &Registration,
) -> std::result::Result<u64, tokio_postgres::Error> {
    let sql = format!(
        "INSERT INTO registrations ({REGISTRATION_COLUMNS}) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, \
          $20, $21, $22, $23, nextval('registration_rev'), $24) RETURNING rev"
    );
    let stmt = client.prepare_cached(&sql).await?;
    let params: [&(dyn ToSql + Sync); 24] = [
        &r.id,
        &r.service_id.as_str(),
        &r.user_id.as_str(),
        &r.mail,
        &r.state.as_str(),
        &algorithm_name(r.params.algorithm),
        &i64::from(r.params.digits),
        &i64::from(r.params.period),
        &i64::from(r.failed_tries),
        &r.provision_locked,
        &i64::from(r.verify_failures),
        &r.verify_locked,
        &r.last_step.map(to_i64),
        &r.sealed_password,
        &r.sealed_seed,
        &r.confirmed_attempt,
        &to_i64(r.issued_at),
        &to_i64(r.expires_at),
        &r.confirmed_at.map(to_i64),
        &r.delivered_at.map(to_i64),
        &r.in_use_at.map(to_i64),
        &r.ended_at.map(to_i64),
        &r.demo,
        &r.drift_steps,
    ];
    let rev: i64 = client.query_one(&stmt, &params).await?.get(0);
    Ok(u64::try_from(rev).unwrap_or(0))
}

/// Adds a mail to the outbox, in the caller's transaction.
async fn insert_mail(
    client: &impl GenericClient,
    m: &OutboxMail,
) -> std::result::Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO outbox (registration_id, recipient, subject, body, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
            &[&m.registration_id, &m.to, &m.subject, &m.body, &to_i64(m.created_at)],
        )
        .await?;
    Ok(())
}

/// The statement that writes the mutable columns of every row that still has its expected
/// revision, and returns each written row's id and new revision. One statement for one row
/// (inside a change of several parts) and for many (verify's group commit, [`batch`]).
///
/// The rows are locked in id order before they are written: two instances writing
/// overlapping batches at once then wait for each other instead of deadlocking.
const UPDATE_REGISTRATIONS: &str = "\
WITH u AS (
    SELECT * FROM unnest($1::text[], $2::int8[], $3::text[], $4::int8[], $5::bool[],
                         $6::int8[], $7::bool[], $8::int8[], $9::bytea[], $10::text[],
                         $11::int8[], $12::int8[], $13::int8[], $14::int8[], $15::int8[],
                         $16::int8[], $17::bool[])
        AS u(id, expected, state, failed_tries, provision_locked, verify_failures,
             verify_locked, last_step, sealed_seed, confirmed_attempt, expires_at,
             confirmed_at, delivered_at, in_use_at, ended_at, drift_steps, clear_password)
), locked AS (
    SELECT r.id FROM registrations r JOIN u ON u.id = r.id AND r.rev = u.expected
    ORDER BY r.id FOR UPDATE OF r
)
UPDATE registrations r SET state = u.state, failed_tries = u.failed_tries,
    provision_locked = u.provision_locked, verify_failures = u.verify_failures,
    verify_locked = u.verify_locked, last_step = u.last_step, sealed_seed = u.sealed_seed,
    confirmed_attempt = u.confirmed_attempt, expires_at = u.expires_at,
    confirmed_at = u.confirmed_at, delivered_at = u.delivered_at, in_use_at = u.in_use_at,
    ended_at = u.ended_at, rev = nextval('registration_rev'), drift_steps = u.drift_steps,
    sealed_password = CASE WHEN u.clear_password THEN '\\x'::bytea ELSE r.sealed_password END
FROM u JOIN locked ON locked.id = u.id
WHERE r.id = u.id AND r.rev = u.expected
RETURNING r.id, r.rev";

/// Writes each registration whose row still has the paired expected revision; the id and
/// new revision of each row written (a row another writer changed meanwhile is left out).
/// No id may appear twice.
async fn update_registration_rows(
    client: &impl GenericClient,
    rows: &[(&Registration, u64)],
) -> std::result::Result<Vec<(String, u64)>, tokio_postgres::Error> {
    let mut c = UpdateColumns::default();
    for (r, expected) in rows {
        c.push(r, *expected);
    }
    let stmt = client.prepare_cached(UPDATE_REGISTRATIONS).await?;
    let params: [&(dyn ToSql + Sync); 17] = [
        &c.id,
        &c.expected,
        &c.m.state,
        &c.m.failed_tries,
        &c.m.provision_locked,
        &c.m.verify_failures,
        &c.m.verify_locked,
        &c.m.last_step,
        &c.m.sealed_seed,
        &c.m.confirmed_attempt,
        &c.m.expires_at,
        &c.m.confirmed_at,
        &c.m.delivered_at,
        &c.m.in_use_at,
        &c.m.ended_at,
        &c.m.drift_steps,
        &c.clear_password,
    ];
    let written = client.query(&stmt, &params).await?;
    Ok(written
        .iter()
        .map(|row| (row.get::<_, String>(0), u64::try_from(row.get::<_, i64>(1)).unwrap_or(0)))
        .collect())
}

/// Writes one registration if its row still has `expected` revision; the new revision.
async fn update_registration_row(
    client: &impl GenericClient,
    r: &Registration,
    expected: u64,
) -> std::result::Result<Option<u64>, tokio_postgres::Error> {
    let written = update_registration_rows(client, &[(r, expected)]).await?;
    Ok(written.first().map(|(_, rev)| *rev))
}

/// The columns a registration's life changes, one array per column: what an update writes,
/// and part of what a bulk insert writes.
#[derive(Default)]
struct MutableColumns<'a> {
    state: Vec<&'static str>,
    failed_tries: Vec<i64>,
    provision_locked: Vec<bool>,
    verify_failures: Vec<i64>,
    verify_locked: Vec<bool>,
    last_step: Vec<Option<i64>>,
    sealed_seed: Vec<Option<&'a [u8]>>,
    confirmed_attempt: Vec<Option<&'a str>>,
    expires_at: Vec<i64>,
    confirmed_at: Vec<Option<i64>>,
    delivered_at: Vec<Option<i64>>,
    in_use_at: Vec<Option<i64>>,
    ended_at: Vec<Option<i64>>,
    drift_steps: Vec<i64>,
}

impl<'a> MutableColumns<'a> {
    fn push(&mut self, r: &'a Registration) {
        self.state.push(r.state.as_str());
        self.failed_tries.push(i64::from(r.failed_tries));
        self.provision_locked.push(r.provision_locked);
        self.verify_failures.push(i64::from(r.verify_failures));
        self.verify_locked.push(r.verify_locked);
        self.last_step.push(r.last_step.map(to_i64));
        self.sealed_seed.push(r.sealed_seed.as_deref());
        self.confirmed_attempt.push(r.confirmed_attempt.as_deref());
        self.expires_at.push(to_i64(r.expires_at));
        self.confirmed_at.push(r.confirmed_at.map(to_i64));
        self.delivered_at.push(r.delivered_at.map(to_i64));
        self.in_use_at.push(r.in_use_at.map(to_i64));
        self.ended_at.push(r.ended_at.map(to_i64));
        self.drift_steps.push(r.drift_steps);
    }
}

/// Registrations being updated, one array per column.
#[derive(Default)]
struct UpdateColumns<'a> {
    id: Vec<&'a str>,
    expected: Vec<i64>,
    clear_password: Vec<bool>,
    m: MutableColumns<'a>,
}

impl<'a> UpdateColumns<'a> {
    fn push(&mut self, r: &'a Registration, expected: u64) {
        self.id.push(&r.id);
        self.expected.push(to_i64(expected));
        // An update only ever clears the activation password, never writes one back.
        self.clear_password.push(r.sealed_password.is_empty());
        self.m.push(r);
    }
}

type Key = (String, String);

/// The PostgreSQL [`Storage`].
pub struct PostgresStorage {
    pool: Pool,
    /// The copy of each registration this instance last read or wrote: verify's hint only.
    seen: quick_cache::sync::Cache<Key, Arc<Registration>>,
    /// Verify's writes, committed together ([`batch`]).
    batcher: batch::Batcher,
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

fn tls(ca_file: Option<&PathBuf>) -> Result<tokio_postgres_rustls::MakeRustlsConnect> {
    use rustls_pki_types::pem::PemObject as _;
    use rustls_pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
                .map_err(|e| {
                    Error::Config(format!(
                        "cannot read the database CA file {}: {e}",
                        path.display()
                    ))
                })?;
            for cert in certs {
                roots.add(cert).map_err(|e| {
                    Error::Config(format!("a bad certificate in {}: {e}", path.display()))
                })?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                // A system root rustls cannot use is skipped, as browsers do.
                let _ = roots.add(cert);
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("TLS to the database: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

impl PostgresStorage {
    /// Connects (lazily: the first request opens the first connection) and checks that the
    /// schema is this server's, migrating first with `migrate`.
    ///
    /// # Errors
    /// [`Error::Config`] for a URL or CA file that cannot be used; [`Error::Unavailable`]
    /// when the database cannot be reached; [`Error::Storage`] for a schema that is older
    /// (without `migrate`) or newer than this server.
    pub async fn open(opts: PostgresOptions, migrate: bool) -> Result<Self> {
        let config: tokio_postgres::Config = opts
            .url
            .parse()
            .map_err(|e| Error::Config(format!("the database URL does not parse: {e}")))?;
        let manager_config = ManagerConfig { recycling_method: RecyclingMethod::Fast };
        let manager = if config.get_ssl_mode() == tokio_postgres::config::SslMode::Disable {
            Manager::from_config(config, tokio_postgres::NoTls, manager_config)
        } else {
            Manager::from_config(config, tls(opts.ca_file.as_ref())?, manager_config)
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

/// Where an insert stopped.
enum InsertRefused {
    Database(tokio_postgres::Error),
    Outcome(Inserted),
}

impl From<tokio_postgres::Error> for InsertRefused {
    fn from(e: tokio_postgres::Error) -> Self {
        if is_unique_violation(&e) {
            InsertRefused::Outcome(Inserted::ActiveExists)
        } else {
            InsertRefused::Database(e)
        }
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
                    return Err(InsertRefused::Outcome(Inserted::UserIdTaken));
                }
            }
            registration.rev = insert_registration_row(&tx, &registration).await?;
            if let Some(m) = &mail {
                insert_mail(&tx, m).await?;
            }
            Ok(())
        }
        .await;
        match attempt {
            Ok(()) => {
                tx.commit().await.map_err(db_error)?;
                self.saw(&registration);
                Ok(Inserted::Applied(Box::new(registration)))
            }
            // A racing insert of the same pair won: for a user ID that had to be new, that
            // is the user ID taken.
            Err(InsertRefused::Outcome(Inserted::ActiveExists)) if user_id_must_be_new => {
                Ok(Inserted::UserIdTaken)
            }
            Err(InsertRefused::Outcome(outcome)) => Ok(outcome),
            Err(InsertRefused::Database(e)) => Err(db_error(e)),
        }
    }

    async fn registration(
        &self,
        service: &ServiceId,
        user: &UserId,
    ) -> Result<Option<Registration>> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {REGISTRATION_COLUMNS} FROM registrations \
             WHERE service_id = $1 AND user_id = $2 ORDER BY seq DESC LIMIT 1"
        );
        let stmt = client.prepare_cached(&sql).await.map_err(db_error)?;
        let row = client
            .query_opt(&stmt, &[&service.as_str(), &user.as_str()])
            .await
            .map_err(db_error)?;
        let found = row.as_ref().map(registration_from_row).transpose()?;
        match &found {
            Some(r) => self.saw(r),
            None => {
                self.seen.remove(&key_of(service.as_str(), user.as_str()));
            }
        }
        Ok(found)
    }

    async fn registration_hint(
        &self,
        service: &ServiceId,
        user: &UserId,
    ) -> Result<Option<Registration>> {
        if let Some(seen) = self.seen.get(&key_of(service.as_str(), user.as_str())) {
            return Ok(Some((*seen).clone()));
        }
        self.registration(service, user).await
    }

    async fn registration_by_id(&self, id: &str) -> Result<Option<Registration>> {
        let client = self.client().await?;
        let sql = format!("SELECT {REGISTRATION_COLUMNS} FROM registrations WHERE id = $1");
        let stmt = client.prepare_cached(&sql).await.map_err(db_error)?;
        let row = client.query_opt(&stmt, &[&id]).await.map_err(db_error)?;
        row.as_ref().map(registration_from_row).transpose()
    }

    async fn update(&self, change: Change) -> Result<Updated> {
        let Change { registration: mut updated, attempt, wipe_other_attempts, insert } = change;
        let expected = updated.rev;
        let simple = attempt.is_none() && !wipe_other_attempts && insert.is_none();
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
        // A change of several parts (provisioning, the demo re-arm): the next read refreshes.
        self.seen.remove(&key);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let applied: std::result::Result<bool, tokio_postgres::Error> = async {
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
            Err(e) if is_unique_violation(&e) => Ok(Updated::Conflict),
            Err(e) => Err(db_error(e)),
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
            .prepare_cached(
                "SELECT id, registration_id, created_at, expires_at, status, sealed \
                 FROM attempts WHERE id = $1",
            )
            .await
            .map_err(db_error)?;
        let row = client.query_opt(&stmt, &[&id]).await.map_err(db_error)?;
        row.as_ref().map(attempt_from_row).transpose()
    }

    async fn registrations_after(&self, after: &str, limit: u32) -> Result<Vec<Registration>> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {REGISTRATION_COLUMNS} FROM registrations WHERE id > $1 \
             ORDER BY id LIMIT $2"
        );
        let rows = client.query(&sql, &[&after, &i64::from(limit)]).await.map_err(db_error)?;
        rows.iter().map(registration_from_row).collect()
    }

    async fn sealed_attempts_after(&self, after: &str, limit: u32) -> Result<Vec<Attempt>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, registration_id, created_at, expires_at, status, sealed \
                 FROM attempts WHERE id > $1 AND sealed IS NOT NULL \
                 ORDER BY id LIMIT $2",
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

    async fn append_audit(&self, e: AuditEntry) -> Result<u64> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "INSERT INTO audit (at, actor, origin, action, service_id, user_id, outcome) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                &[
                    &to_i64(e.at),
                    &e.actor,
                    &e.origin,
                    &e.action,
                    &e.service_id,
                    &e.user_id,
                    &e.outcome,
                ],
            )
            .await
            .map_err(db_error)?;
        u64_of(row.try_get(0).map_err(db_error)?, "audit id")
    }

    async fn finish_audit(&self, id: u64, outcome: &str, user_id: Option<String>) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE audit SET outcome = $1, user_id = coalesce(user_id, $2) \
                 WHERE id = $3 AND outcome = 'pending'",
                &[&outcome, &user_id, &to_i64(id)],
            )
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn audit(&self, q: AuditQuery) -> Result<Vec<AuditEntry>> {
        let client = self.client().await?;
        let before = q.before_id.map_or(i64::MAX, to_i64);
        let rows = client
            .query(
                "SELECT id, at, actor, origin, action, service_id, user_id, outcome FROM audit \
                 WHERE id < $1 AND ($2::text IS NULL OR service_id = $2) \
                 AND ($3::text IS NULL OR user_id = $3) ORDER BY id DESC LIMIT $4",
                &[&before, &q.service_id, &q.user_id, &i64::from(q.limit)],
            )
            .await
            .map_err(db_error)?;
        rows.iter()
            .map(|row| {
                Ok(AuditEntry {
                    id: u64_of(row.try_get(0).map_err(db_error)?, "audit id")?,
                    at: u64_of(row.try_get(1).map_err(db_error)?, "time")?,
                    actor: row.try_get(2).map_err(db_error)?,
                    origin: row.try_get(3).map_err(db_error)?,
                    action: row.try_get(4).map_err(db_error)?,
                    service_id: row.try_get(5).map_err(db_error)?,
                    user_id: row.try_get(6).map_err(db_error)?,
                    outcome: row.try_get(7).map_err(db_error)?,
                })
            })
            .collect()
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

    async fn registration_from_database(
        &self,
        service: &ServiceId,
        user: &UserId,
    ) -> Result<Option<Registration>> {
        // No cache here: every read is already the database's answer.
        self.registration(service, user).await
    }

    async fn insert_bulk(&self, registrations: Vec<Registration>) -> Result<u64> {
        // One multi-row INSERT from arrays (a column per parameter): one statement, so all or
        // none, and one round trip for the whole batch; each row still draws its revision.
        let mut columns = BulkColumns::default();
        for r in &registrations {
            columns.push(r);
        }
        let client = self.client().await?;
        let sql = "INSERT INTO registrations (id, service_id, user_id, mail, state, algorithm, \
             digits, period, failed_tries, provision_locked, verify_failures, verify_locked, \
             last_step, sealed_password, sealed_seed, confirmed_attempt, issued_at, expires_at, \
             confirmed_at, delivered_at, in_use_at, ended_at, demo, drift_steps, rev) \
             SELECT u.*, nextval('registration_rev') FROM unnest($1::text[], $2::text[], \
             $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], \
             $9::bigint[], $10::boolean[], $11::bigint[], $12::boolean[], $13::bigint[], \
             $14::bytea[], $15::bytea[], $16::text[], $17::bigint[], $18::bigint[], \
             $19::bigint[], $20::bigint[], $21::bigint[], $22::bigint[], $23::boolean[], \
             $24::bigint[]) AS u";
        let c = &columns;
        let params: [&(dyn ToSql + Sync); 24] = [
            &c.id,
            &c.service_id,
            &c.user_id,
            &c.mail,
            &c.m.state,
            &c.algorithm,
            &c.digits,
            &c.period,
            &c.m.failed_tries,
            &c.m.provision_locked,
            &c.m.verify_failures,
            &c.m.verify_locked,
            &c.m.last_step,
            &c.sealed_password,
            &c.m.sealed_seed,
            &c.m.confirmed_attempt,
            &c.issued_at,
            &c.m.expires_at,
            &c.m.confirmed_at,
            &c.m.delivered_at,
            &c.m.in_use_at,
            &c.m.ended_at,
            &c.demo,
            &c.m.drift_steps,
        ];
        client.execute(sql, &params).await.map_err(db_error)
    }

    async fn close(&self) {
        // Every write was committed before its call returned; closing only ends the
        // connections, and later calls fail with `Unavailable`.
        self.pool.close();
    }
}

/// Registrations as one array per column, for [`Storage::insert_bulk`].
#[derive(Default)]
struct BulkColumns<'a> {
    id: Vec<&'a str>,
    service_id: Vec<&'a str>,
    user_id: Vec<&'a str>,
    mail: Vec<&'a str>,
    algorithm: Vec<&'static str>,
    digits: Vec<i64>,
    period: Vec<i64>,
    sealed_password: Vec<&'a [u8]>,
    issued_at: Vec<i64>,
    demo: Vec<bool>,
    m: MutableColumns<'a>,
}

impl<'a> BulkColumns<'a> {
    fn push(&mut self, r: &'a Registration) {
        self.id.push(&r.id);
        self.service_id.push(r.service_id.as_str());
        self.user_id.push(r.user_id.as_str());
        self.mail.push(&r.mail);
        self.algorithm.push(algorithm_name(r.params.algorithm));
        self.digits.push(i64::from(r.params.digits));
        self.period.push(i64::from(r.params.period));
        self.sealed_password.push(&r.sealed_password);
        self.issued_at.push(to_i64(r.issued_at));
        self.demo.push(r.demo);
        self.m.push(r);
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
