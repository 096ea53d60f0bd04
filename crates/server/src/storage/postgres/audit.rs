//! The audit log in PostgreSQL. Every instance appends to one chain: an entry is numbered and
//! chained after the last one under a transaction-scoped advisory lock of the log (which the
//! INSERT-only runtime role may take; `LOCK TABLE` would need UPDATE rights), so two instances
//! appending at once are put in turn and never fork it.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::rows::{db_error, to_i64, u64_of};
use crate::error::Result;
use crate::storage::chain::no_key;
use crate::storage::{AuditEntry, AuditKey, AuditQuery};

const COLUMNS: &str =
    "id, at, actor, origin, action, service_id, user_id, outcome, refers_to, key_id, mac";

/// Appends `e` as the entry after the last one, chained under `key`, inside `tx` (the lock is
/// held until it commits); its id.
///
/// # Errors
/// [`crate::Error::Storage`] when the database fails or the storage has no audit key.
pub(super) async fn insert(
    tx: &deadpool_postgres::Transaction<'_>,
    key: Option<&AuditKey>,
    e: &AuditEntry,
) -> Result<u64> {
    let key = key.ok_or_else(no_key)?;
    tx.execute("SELECT pg_advisory_xact_lock(hashtextextended('softtoken audit chain', 0))", &[])
        .await
        .map_err(db_error)?;
    let last = match tx
        .query_opt("SELECT id, mac FROM audit ORDER BY id DESC LIMIT 1", &[])
        .await
        .map_err(db_error)?
    {
        Some(row) => Some((
            u64_of(row.try_get(0).map_err(db_error)?, "audit id")?,
            row.try_get::<_, Option<String>>(1).map_err(db_error)?,
        )),
        None => None,
    };
    let e = key.chained(last, e.clone());
    tx.execute(
        &format!(
            "INSERT INTO audit ({COLUMNS}) OVERRIDING SYSTEM VALUE \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ),
        &[
            &to_i64(e.id),
            &to_i64(e.at),
            &e.actor,
            &e.origin,
            &e.action,
            &e.service_id,
            &e.user_id,
            &e.outcome,
            &e.refers_to.map(to_i64),
            &e.key_id,
            &e.mac,
        ],
    )
    .await
    .map_err(db_error)?;
    Ok(e.id)
}

/// One page of the listing, newest first.
///
/// # Errors
/// [`crate::Error::Storage`] when the database fails.
pub(super) async fn list(client: &impl GenericClient, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
    let before = q.before_id.map_or(i64::MAX, to_i64);
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM audit WHERE id < $1 \
                 AND ($2::text IS NULL OR service_id = $2) \
                 AND ($3::text IS NULL OR user_id = $3) ORDER BY id DESC LIMIT $4"
            ),
            &[&before, &q.service_id, &q.user_id, &i64::from(q.limit)],
        )
        .await
        .map_err(db_error)?;
    rows.iter().map(entry_of).collect()
}

/// Up to `limit` entries after `after_id`, oldest first.
///
/// # Errors
/// [`crate::Error::Storage`] when the database fails.
pub(super) async fn after(
    client: &impl GenericClient,
    after_id: u64,
    limit: u32,
) -> Result<Vec<AuditEntry>> {
    let rows = client
        .query(
            &format!("SELECT {COLUMNS} FROM audit WHERE id > $1 ORDER BY id LIMIT $2"),
            &[&to_i64(after_id), &i64::from(limit)],
        )
        .await
        .map_err(db_error)?;
    rows.iter().map(entry_of).collect()
}

fn entry_of(row: &Row) -> Result<AuditEntry> {
    let refers_to: Option<i64> = row.try_get(8).map_err(db_error)?;
    Ok(AuditEntry {
        id: u64_of(row.try_get(0).map_err(db_error)?, "audit id")?,
        at: u64_of(row.try_get(1).map_err(db_error)?, "time")?,
        actor: row.try_get(2).map_err(db_error)?,
        origin: row.try_get(3).map_err(db_error)?,
        action: row.try_get(4).map_err(db_error)?,
        service_id: row.try_get(5).map_err(db_error)?,
        user_id: row.try_get(6).map_err(db_error)?,
        outcome: row.try_get(7).map_err(db_error)?,
        refers_to: refers_to.map(|r| u64_of(r, "audit id")).transpose()?,
        key_id: row.try_get(9).map_err(db_error)?,
        mac: row.try_get(10).map_err(db_error)?,
    })
}
