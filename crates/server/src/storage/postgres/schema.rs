//! The PostgreSQL schema and its migrations: the same tables as SQLite's (`sqlite/schema.rs`),
//! in PostgreSQL's types, counted in `softtoken_schema` instead of `PRAGMA user_version`
//! (and counted differently: `storage/migrate.rs` says why).

use async_trait::async_trait;
use deadpool_postgres::GenericClient;

use super::rows::db_error;
use crate::error::{Error, Result};
use crate::storage::migrate::{self, Ledger};

/// Schema migrations, applied in order by `softtoken-server migrate` (or at start with
/// `migrate_on_start`) through the shared runner (`storage/migrate.rs`). Never edit one that
/// has shipped: add the next.
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
    // 3: transaction confirmations (docs/confirmation.md) and each registration's last
    // accepted offline-code minute, as SQLite's step 4.
    r#"
CREATE TABLE confirmations (
    id              TEXT PRIMARY KEY,
    registration_id TEXT NOT NULL,
    service_id      TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    kind            TEXT NOT NULL
                    CHECK (kind IN ('transfer', 'new_payee', 'limit_change', 'sign_in')),
    details         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    match_required  BOOLEAN NOT NULL,
    match_number    TEXT,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'denied',
                                                   'wrong_number', 'expired', 'cancelled')),
    answered_at     BIGINT
);
CREATE INDEX confirmations_registration ON confirmations (registration_id, state, created_at);

CREATE TABLE offline_steps (
    registration_id TEXT PRIMARY KEY,
    step            BIGINT NOT NULL
);
"#,
    // 4: the admin listener's named credentials (storage/credentials.rs), as SQLite's step 5.
    r#"
CREATE TABLE credentials (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    scope      TEXT NOT NULL
               CHECK (scope IN ('verify', 'transactions', 'clerk', 'metrics', 'admin')),
    hash       TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX credentials_name ON credentials (name, revoked_at);
"#,
    // 5: the rejected codes of a day, counted across accepted ones (as SQLite's step 6).
    r#"
ALTER TABLE registrations ADD COLUMN verify_window_failures BIGINT NOT NULL DEFAULT 0;
ALTER TABLE registrations ADD COLUMN verify_window_start BIGINT;
"#,
    // 6: the phone moves (storage/moves.rs), as SQLite's step 7.
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
    created_at          BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL,
    settled_at          BIGINT,
    receipt_mac         BYTEA
);
CREATE UNIQUE INDEX moves_one_pending ON moves (old_registration_id) WHERE state = 'pending';
CREATE INDEX moves_customer ON moves (service_id, old_user_id);
"#,
    // 7: the audit log appended only, as SQLite's step 8: an outcome is a second entry, each
    // entry a link of a MAC chain. The trigger refuses a change even by the table's owner; the
    // runtime role is given no UPDATE, DELETE or TRUNCATE at all (`runtime_role_grants`).
    r#"
ALTER TABLE audit ADD COLUMN refers_to BIGINT;
ALTER TABLE audit ADD COLUMN key_id TEXT;
ALTER TABLE audit ADD COLUMN mac TEXT;
CREATE FUNCTION softtoken_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION softtoken_audit_append_only();
"#,
];

/// The rights of the role the server runs as, given by the owner of the tables (the role that
/// ran `softtoken-server migrate`) to `role`: every table read and written, except the audit
/// log, which it may only read and append to (docs/server.md, the database roles).
pub fn runtime_role_grants(role: &str) -> String {
    let role = format!("\"{}\"", role.replace('"', "\"\""));
    format!(
        "GRANT USAGE ON SCHEMA public TO {role};\n\
         GRANT SELECT, INSERT, UPDATE, DELETE ON registrations, attempts, outbox, confirmations, \
         offline_steps, credentials, moves TO {role};\n\
         GRANT SELECT ON softtoken_schema TO {role};\n\
         GRANT SELECT, INSERT ON audit TO {role};\n\
         REVOKE UPDATE, DELETE, TRUNCATE ON audit FROM {role};\n\
         GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role};\n"
    )
}

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

/// The migration transaction, recording each applied step as a row of `softtoken_schema`.
struct SchemaTable<'a, 't>(&'a deadpool_postgres::Transaction<'t>);

#[async_trait]
impl Ledger for SchemaTable<'_, '_> {
    async fn applied(&mut self) -> Result<usize> {
        applied(self.0).await
    }

    async fn apply(&mut self, step: &str, version: usize) -> Result<()> {
        self.0.batch_execute(step).await.map_err(db_error)?;
        let version = i64::try_from(version).unwrap_or(i64::MAX);
        self.0
            .execute("INSERT INTO softtoken_schema (version) VALUES ($1)", &[&version])
            .await
            .map_err(db_error)?;
        Ok(())
    }
}

/// Applies the migrations not yet applied, under an advisory lock so instances started
/// together migrate once.
pub(super) async fn migrate(client: &mut deadpool_postgres::Object) -> Result<()> {
    let tx = client.transaction().await.map_err(db_error)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(db_error)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS softtoken_schema (version BIGINT PRIMARY KEY)")
        .await
        .map_err(db_error)?;
    migrate::migrate(&mut SchemaTable(&tx), MIGRATIONS).await?;
    tx.commit().await.map_err(db_error)
}

/// Refuses a database whose schema is not exactly this server's: an older one needs
/// `softtoken-server migrate`, a newer one a newer server.
pub(super) async fn check(client: &deadpool_postgres::Object) -> Result<()> {
    let done = applied(client).await?;
    migrate::refuse_newer(done, MIGRATIONS)?;
    if done < MIGRATIONS.len() {
        return Err(Error::Storage(format!(
            "the database has schema version {done}, older than this server ({}); \
             run `softtoken-server migrate` (or set migrate_on_start = true)",
            MIGRATIONS.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::storage::columns::{Kind, COLUMNS};

    #[test]
    fn the_declared_columns_are_the_migrated_table_s() {
        // Every column of `registrations` as the migrations create it, but `seq` (which only
        // orders a pair's registrations): name, type, and whether it may be NULL.
        let table = super::MIGRATIONS[0]
            .split("CREATE TABLE registrations (")
            .nth(1)
            .and_then(|t| t.split("\n);").next())
            .unwrap_or_default();
        let mut created: Vec<(String, String, bool)> = table
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("--") && !l.starts_with("CHECK"))
            .filter_map(|l| {
                let mut words = l.split_whitespace();
                let (name, ty) = (words.next()?, words.next()?.trim_end_matches(','));
                let nullable = !l.contains("NOT NULL") && !l.contains("PRIMARY KEY");
                Some((name.to_owned(), ty.to_owned(), nullable))
            })
            .filter(|(name, _, _)| name != "seq")
            .collect();
        // Columns later steps add.
        for step in &super::MIGRATIONS[1..] {
            for l in
                step.lines().filter_map(|l| l.strip_prefix("ALTER TABLE registrations ADD COLUMN "))
            {
                let mut words = l.split_whitespace();
                if let (Some(name), Some(ty)) = (words.next(), words.next()) {
                    let ty = ty.trim_end_matches([',', ';']);
                    created.push((name.to_owned(), ty.to_owned(), !l.contains("NOT NULL")));
                }
            }
        }
        let mut declared: Vec<(String, String, bool)> = COLUMNS
            .iter()
            .map(|c| {
                let nullable = matches!(c.kind, Kind::OptText | Kind::OptInt | Kind::OptBlob);
                (c.name.to_owned(), c.postgres.to_owned(), nullable)
            })
            .collect();
        created.sort();
        declared.sort();
        assert_eq!(declared, created);
    }
}
