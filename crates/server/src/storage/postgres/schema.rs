//! The PostgreSQL schema and its migrations: the same tables as SQLite's (`sqlite/schema.rs`),
//! in PostgreSQL's types, counted in `softtoken_schema` instead of `PRAGMA user_version`.

use deadpool_postgres::GenericClient;

use super::db_error;
use crate::error::{Error, Result};

/// Schema migrations, applied in order by `softtoken-server migrate` (or at start with
/// `migrate_on_start`). Never edit one that has shipped: add the next.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE registrations (
    seq               BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    id                TEXT PRIMARY KEY,
    service_id        TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    mail              TEXT NOT NULL,
    state             TEXT NOT NULL
                      CHECK (state IN ('issued', 'confirmed', 'delivered', 'in_use', 'ended')),
    algorithm         TEXT NOT NULL,
    digits            BIGINT NOT NULL,
    period            BIGINT NOT NULL,
    failed_tries      BIGINT NOT NULL,
    provision_locked  BOOLEAN NOT NULL,
    verify_failures   BIGINT NOT NULL,
    verify_locked     BOOLEAN NOT NULL,
    last_step         BIGINT,
    sealed_password   BYTEA NOT NULL,
    sealed_seed       BYTEA,
    confirmed_attempt TEXT,
    issued_at         BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL,
    confirmed_at      BIGINT,
    delivered_at      BIGINT,
    in_use_at         BIGINT,
    ended_at          BIGINT,
    demo              BOOLEAN NOT NULL,
    rev               BIGINT NOT NULL,
    -- Each token's clock drift in time steps, learnt from accepted codes and set by a resync.
    drift_steps       BIGINT NOT NULL DEFAULT 0
);
-- Revisions come from one sequence, so every instance writing this database draws distinct,
-- growing ones.
CREATE SEQUENCE registration_rev;
-- At most one registration of a pair is not ended: a re-issue needs the old one ended.
CREATE UNIQUE INDEX registrations_active ON registrations (service_id, user_id)
    WHERE state <> 'ended';
CREATE INDEX registrations_pair ON registrations (service_id, user_id, seq);

CREATE TABLE attempts (
    id              TEXT PRIMARY KEY,
    registration_id TEXT NOT NULL REFERENCES registrations (id),
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'spent', 'confirmed')),
    sealed          BYTEA
);
CREATE INDEX attempts_registration ON attempts (registration_id);
CREATE INDEX attempts_expiry ON attempts (expires_at) WHERE status <> 'confirmed';

CREATE TABLE outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    registration_id TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
"#,
    // 2: the audit log of admin actions (who, what, when, outcome; never a secret).
    r#"
CREATE TABLE audit (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    origin     TEXT NOT NULL,
    action     TEXT NOT NULL,
    service_id TEXT,
    user_id    TEXT,
    outcome    TEXT NOT NULL
);
CREATE INDEX audit_pair ON audit (service_id, user_id, id);
"#,
];

/// Any number; the advisory lock that lets only one instance migrate at a time.
const MIGRATION_LOCK: i64 = 0x736f_6674_746f_6b65;

async fn applied(client: &impl GenericClient) -> Result<usize> {
    let exists: bool = client
        .query_one("SELECT to_regclass('softtoken_schema') IS NOT NULL", &[])
        .await
        .map_err(db_error)?
        .get(0);
    if !exists {
        return Ok(0);
    }
    let v: i64 = client
        .query_one("SELECT coalesce(max(version), 0) FROM softtoken_schema", &[])
        .await
        .map_err(db_error)?
        .get(0);
    Ok(usize::try_from(v).unwrap_or(0))
}

fn newer(applied: usize) -> Error {
    Error::Storage(format!(
        "the database has schema version {applied}, newer than this server ({}); \
         run a newer softtoken-server",
        MIGRATIONS.len()
    ))
}

/// Applies the migrations not yet applied, under an advisory lock so instances started
/// together migrate once.
pub(super) async fn migrate(client: &mut deadpool_postgres::Object) -> Result<()> {
    let tx = client.transaction().await.map_err(db_error)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(db_error)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS softtoken_schema (version BIGINT PRIMARY KEY)")
        .await
        .map_err(db_error)?;
    let done = applied(&tx).await?;
    if done > MIGRATIONS.len() {
        return Err(newer(done));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(done) {
        tx.batch_execute(sql).await.map_err(db_error)?;
        let version = i64::try_from(i + 1).unwrap_or(i64::MAX);
        tx.execute("INSERT INTO softtoken_schema (version) VALUES ($1)", &[&version])
            .await
            .map_err(db_error)?;
        tracing::info!(event = "migration_applied", version = i + 1, "database schema migrated");
    }
    tx.commit().await.map_err(db_error)
}

/// Refuses a database whose schema is not exactly this server's: an older one needs
/// `softtoken-server migrate`, a newer one a newer server.
pub(super) async fn check(client: &deadpool_postgres::Object) -> Result<()> {
    let done = applied(client).await?;
    if done > MIGRATIONS.len() {
        return Err(newer(done));
    }
    if done < MIGRATIONS.len() {
        return Err(Error::Storage(format!(
            "the database has schema version {done}, older than this server ({}); \
             run `softtoken-server migrate` (or set migrate_on_start = true)",
            MIGRATIONS.len()
        )));
    }
    Ok(())
}
