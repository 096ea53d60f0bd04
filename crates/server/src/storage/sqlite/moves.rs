//! The moves table in SQLite (`storage/moves.rs`): its writes inside the writer's transaction,
//! its reads on a reader connection.

use async_trait::async_trait;
use rusqlite::{params, Connection, Row};
use softtoken_core::confirm::phone_move::MoveState;

use super::rows::insert_mail;
use super::rows::{get_u64, is_unique_violation, to_i64};
use super::SqliteStorage;
use crate::error::Result;
use crate::storage::moves::{lookup_params, lookup_sql, state_of};
use crate::storage::{MoveLookup, MoveStorage, MoveWrite, StoredMove};

/// Applies one write; false when it does not apply as described (the change then conflicts).
pub(super) fn write(conn: &Connection, write: &MoveWrite) -> Result<bool> {
    match write {
        MoveWrite::Start { stored: m, mail } => {
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO moves (id, service_id, old_registration_id, old_user_id, \
                     new_registration_id, new_user_id, state, created_at, expires_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?8)",
                )?
                .execute(params![
                    m.id,
                    m.service_id,
                    m.old_registration_id,
                    m.old_user_id,
                    m.new_registration_id,
                    m.new_user_id,
                    to_i64(m.created_at),
                    to_i64(m.expires_at)
                ]);
            match inserted {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => return Ok(false),
                Err(e) => return Err(e.into()),
            }
            insert_mail(conn, mail)?;
            Ok(true)
        }
        MoveWrite::Settle { id, to, at, receipt_mac } => {
            let n = conn
                .prepare_cached(
                    "UPDATE moves SET state = ?2, settled_at = ?3, receipt_mac = ?4 \
                     WHERE id = ?1 AND state = 'pending'",
                )?
                .execute(params![id, to.as_str(), to_i64(*at), receipt_mac])?;
            Ok(n == 1)
        }
    }
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<(StoredMove, String)> {
    let state: String = row.get(6)?;
    let stored = StoredMove {
        id: row.get(0)?,
        service_id: row.get(1)?,
        old_registration_id: row.get(2)?,
        old_user_id: row.get(3)?,
        new_registration_id: row.get(4)?,
        new_user_id: row.get(5)?,
        state: MoveState::None,
        created_at: get_u64(row, 7)?,
        expires_at: get_u64(row, 8)?,
        settled_at: row.get::<_, Option<i64>>(9)?.map(|v| v.max(0) as u64),
        receipt_mac: row.get(10)?,
    };
    Ok((stored, state))
}

#[async_trait]
impl MoveStorage for SqliteStorage {
    async fn moves(&self, lookup: MoveLookup, limit: u32) -> Result<Vec<StoredMove>> {
        self.read(move |conn| {
            let (a, b) = lookup_params(&lookup);
            let sql = lookup_sql(&lookup, "?1", "?2", "?3");
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![a, b, i64::from(limit)], from_row)?;
            rows.map(|row| {
                let (mut stored, state) = row?;
                stored.state = state_of(&state)?;
                Ok(stored)
            })
            .collect()
        })
        .await
    }
}
