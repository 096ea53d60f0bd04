//! Confirmation requests and offline steps to and from SQLite's rows. Writes run on the writer
//! thread inside its batch transaction (`BEGIN IMMEDIATE`, so no other process writes
//! between the count and the insert); reads on the reader pool.

use rusqlite::{params, Connection, OptionalExtension, Row};
use softtoken_core::confirm::ConfirmationState;
use softtoken_core::ids::{ServiceId, UserId};

use super::rows::{get_u64, to_i64};
use crate::error::{Error, Result};
use crate::storage::{ConfirmationWrite, StoredConfirmation};

const SELECT: &str = "SELECT id, registration_id, service_id, user_id, kind, details, created_at, \
     expires_at, match_required, match_number, state, answered_at FROM confirmations";

/// Applies `write` on the writer's connection; true when it took effect.
pub(super) fn write(conn: &Connection, write: &ConfirmationWrite) -> Result<bool> {
    match write {
        ConfirmationWrite::Insert { confirmation: c, max_pending, now } => {
            let pending: i64 = conn
                .prepare_cached(
                    "SELECT count(*) FROM confirmations WHERE registration_id = ?1 \
                     AND state = 'pending' AND expires_at > ?2",
                )?
                .query_row(params![c.registration_id, to_i64(*now)], |r| r.get(0))?;
            if pending >= i64::from(*max_pending) {
                return Ok(false);
            }
            conn.prepare_cached(
                "INSERT INTO confirmations (id, registration_id, service_id, user_id, kind, \
                 details, created_at, expires_at, match_required, match_number, state, \
                 answered_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?
            .execute(params![
                c.id,
                c.registration_id,
                c.service_id.as_str(),
                c.user_id.as_str(),
                c.kind,
                c.details,
                to_i64(c.created_at),
                to_i64(c.expires_at),
                c.match_required,
                c.match_number,
                c.state.as_str(),
                c.answered_at.map(to_i64),
            ])?;
            Ok(true)
        }
        ConfirmationWrite::Finish { id, to, answered_at } => {
            let n = conn
                .prepare_cached(
                    "UPDATE confirmations SET state = ?1, answered_at = ?2 \
                     WHERE id = ?3 AND state = 'pending'",
                )?
                .execute(params![to.as_str(), answered_at.map(to_i64), id])?;
            Ok(n == 1)
        }
        ConfirmationWrite::OfflineStep { registration_id, step } => {
            let n = conn
                .prepare_cached(
                    "INSERT INTO offline_steps (registration_id, step) VALUES (?1, ?2) \
                     ON CONFLICT (registration_id) DO UPDATE SET step = excluded.step \
                     WHERE offline_steps.step < excluded.step",
                )?
                .execute(params![registration_id, to_i64(*step)])?;
            Ok(n == 1)
        }
    }
}

/// A request by ID.
pub(super) fn by_id(conn: &Connection, id: &str) -> Result<Option<StoredConfirmation>> {
    let row = conn
        .prepare_cached(&format!("{SELECT} WHERE id = ?1"))?
        .query_row([id], |r| Ok(from_row(r)))
        .optional()?;
    row.transpose()
}

/// A registration's answerable requests, oldest first.
pub(super) fn pending(
    conn: &Connection,
    registration_id: &str,
    now: u64,
    limit: u32,
) -> Result<Vec<StoredConfirmation>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT} WHERE registration_id = ?1 AND state = 'pending' AND expires_at > ?2 \
         ORDER BY created_at, id LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![registration_id, to_i64(now), limit], |r| Ok(from_row(r)))?;
    rows.map(|r| r.map_err(Error::from)?).collect()
}

fn from_row(row: &Row<'_>) -> Result<StoredConfirmation> {
    let bad = |what: &str| Error::Storage(format!("a stored confirmation has a bad {what}"));
    let service: String = row.get(2)?;
    let user: String = row.get(3)?;
    let state: String = row.get(10)?;
    Ok(StoredConfirmation {
        id: row.get(0)?,
        registration_id: row.get(1)?,
        service_id: ServiceId::new(&service).map_err(|_| bad("service ID"))?,
        user_id: UserId::new(&user).map_err(|_| bad("user ID"))?,
        kind: row.get(4)?,
        details: row.get(5)?,
        created_at: get_u64(row, 6)?,
        expires_at: get_u64(row, 7)?,
        match_required: row.get(8)?,
        match_number: row.get(9)?,
        state: ConfirmationState::parse(&state).ok_or_else(|| bad("state"))?,
        answered_at: row.get::<_, Option<i64>>(11)?.map(|t| u64::try_from(t).unwrap_or(0)),
    })
}
