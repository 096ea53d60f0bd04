//! The audit log in SQLite: entries appended under the writer's `BEGIN IMMEDIATE` (which
//! every process writing the file takes in turn), so each is numbered and chained after the
//! last one committed; listed newest first, or walked oldest first by `audit verify`.

use rusqlite::{params, Connection, OptionalExtension as _, Row};

use crate::error::Result;
use crate::storage::chain::no_key;
use crate::storage::{AuditEntry, AuditKey, AuditQuery};

const COLUMNS: &str =
    "id, at, actor, origin, action, service_id, user_id, outcome, refers_to, key_id, mac";

/// Appends `e` as the entry after the last one, chained under `key`; its id.
///
/// # Errors
/// [`Error::Storage`] when the database fails or the storage was opened without an audit key.
pub(super) fn insert(conn: &Connection, key: Option<&AuditKey>, e: &AuditEntry) -> Result<u64> {
    let key = key.ok_or_else(no_key)?;
    let last = conn
        .prepare_cached("SELECT id, mac FROM audit ORDER BY id DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get::<_, u64>(0)?, r.get::<_, Option<String>>(1)?)))
        .optional()?;
    let e = key.chained(last, e.clone());
    conn.prepare_cached(&format!(
        "INSERT INTO audit ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    ))?
    .execute(params![
        e.id,
        e.at,
        e.actor,
        e.origin,
        e.action,
        e.service_id,
        e.user_id,
        e.outcome,
        e.refers_to,
        e.key_id,
        e.mac
    ])?;
    Ok(e.id)
}

/// One page of the listing, newest first.
///
/// # Errors
/// [`Error::Storage`] when the database fails.
pub(super) fn list(conn: &Connection, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
    let before = q.before_id.map_or(i64::MAX, |b| i64::try_from(b).unwrap_or(i64::MAX));
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM audit WHERE id < ?1 AND (?2 IS NULL OR service_id = ?2) \
         AND (?3 IS NULL OR user_id = ?3) ORDER BY id DESC LIMIT ?4"
    ))?;
    let rows = stmt.query_map(params![before, q.service_id, q.user_id, q.limit], entry_of)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Up to `limit` entries after `after_id`, oldest first.
///
/// # Errors
/// [`Error::Storage`] when the database fails.
pub(super) fn after(conn: &Connection, after_id: u64, limit: u32) -> Result<Vec<AuditEntry>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM audit WHERE id > ?1 ORDER BY id LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![after_id, limit], entry_of)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

fn entry_of(row: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        id: row.get(0)?,
        at: row.get(1)?,
        actor: row.get(2)?,
        origin: row.get(3)?,
        action: row.get(4)?,
        service_id: row.get(5)?,
        user_id: row.get(6)?,
        outcome: row.get(7)?,
        refers_to: row.get(8)?,
        key_id: row.get(9)?,
        mac: row.get(10)?,
    })
}
