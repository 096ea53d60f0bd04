//! The credentials table on SQLite, written on a connection of its own in `BEGIN IMMEDIATE`
//! (see `storage/credentials.rs`), read through the reader pool.

use std::path::Path;

use rusqlite::{params, Connection};

use super::schema::BUSY_TIMEOUT;
use crate::error::Result;
use crate::storage::columns::to_i64;
use crate::storage::credentials::{may_add, CredentialAdded, StoredCredential};

/// Runs `f` in a write transaction on a connection of its own.
fn write_aside<T>(path: &Path, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch("BEGIN IMMEDIATE")?;
    match f(&conn) {
        Ok(out) => {
            conn.execute_batch("COMMIT")?;
            Ok(out)
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

pub(super) fn add(path: &Path, c: &StoredCredential, most_valid: usize) -> Result<CredentialAdded> {
    write_aside(path, |conn| {
        let mut stmt =
            conn.prepare("SELECT scope FROM credentials WHERE name = ?1 AND revoked_at IS NULL")?;
        let scopes = stmt
            .query_map([&c.name], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let verdict = may_add(&scopes, &c.scope, most_valid);
        if verdict == CredentialAdded::Added {
            conn.execute(
                "INSERT INTO credentials (id, name, scope, hash, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![c.id, c.name, c.scope, c.hash, to_i64(c.created_at)],
            )?;
        }
        Ok(verdict)
    })
}

pub(super) fn revoke(path: &Path, name: &str, id: Option<&str>, now: u64) -> Result<u64> {
    write_aside(path, |conn| {
        let n = conn.execute(
            "UPDATE credentials SET revoked_at = ?1 \
             WHERE name = ?2 AND (?3 IS NULL OR id = ?3) AND revoked_at IS NULL",
            params![to_i64(now), name, id],
        )?;
        Ok(n as u64)
    })
}

pub(super) fn list(conn: &Connection) -> Result<Vec<StoredCredential>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, scope, hash, created_at, revoked_at FROM credentials \
         ORDER BY name, created_at, id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(StoredCredential {
            id: r.get(0)?,
            name: r.get(1)?,
            scope: r.get(2)?,
            hash: r.get(3)?,
            created_at: r.get(4)?,
            revoked_at: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}
