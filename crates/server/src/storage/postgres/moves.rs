//! The moves table in PostgreSQL (`storage/moves.rs`): its writes inside a registration
//! change's transaction, its reads straight from the database.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::rows::{db_error, insert_mail, to_i64, u64_of, WriteFailed};
use super::PostgresStorage;
use crate::error::Result;
use crate::storage::moves::{lookup_params, lookup_sql, state_of};
use crate::storage::{MoveLookup, MoveStorage, MoveWrite, StoredMove};

/// Applies one write; false when it does not apply as described (the change then conflicts;
/// a second pending move is a unique violation, which the caller takes for a conflict too).
pub(super) async fn write(
    client: &impl GenericClient,
    write: &MoveWrite,
) -> std::result::Result<bool, WriteFailed> {
    match write {
        MoveWrite::Start { stored: m, mail } => {
            client
                .execute(
                    "INSERT INTO moves (id, service_id, old_registration_id, old_user_id, \
                     new_registration_id, new_user_id, state, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8)",
                    &[
                        &m.id,
                        &m.service_id,
                        &m.old_registration_id,
                        &m.old_user_id,
                        &m.new_registration_id,
                        &m.new_user_id,
                        &to_i64(m.created_at),
                        &to_i64(m.expires_at),
                    ],
                )
                .await?;
            insert_mail(client, mail).await?;
            Ok(true)
        }
        MoveWrite::Settle { id, to, at, receipt_mac } => {
            let n = client
                .execute(
                    "UPDATE moves SET state = $2, settled_at = $3, receipt_mac = $4 \
                     WHERE id = $1 AND state = 'pending'",
                    &[id, &to.as_str(), &to_i64(*at), receipt_mac],
                )
                .await?;
            Ok(n == 1)
        }
    }
}

fn from_row(row: &Row) -> Result<StoredMove> {
    let state: String = row.try_get(6).map_err(db_error)?;
    let settled_at: Option<i64> = row.try_get(9).map_err(db_error)?;
    Ok(StoredMove {
        id: row.try_get(0).map_err(db_error)?,
        service_id: row.try_get(1).map_err(db_error)?,
        old_registration_id: row.try_get(2).map_err(db_error)?,
        old_user_id: row.try_get(3).map_err(db_error)?,
        new_registration_id: row.try_get(4).map_err(db_error)?,
        new_user_id: row.try_get(5).map_err(db_error)?,
        state: state_of(&state)?,
        created_at: u64_of(row.try_get(7).map_err(db_error)?, "move time")?,
        expires_at: u64_of(row.try_get(8).map_err(db_error)?, "move expiry")?,
        settled_at: settled_at.map(|t| u64_of(t, "move settle time")).transpose()?,
        receipt_mac: row.try_get(10).map_err(db_error)?,
    })
}

#[async_trait]
impl MoveStorage for PostgresStorage {
    async fn moves(&self, lookup: MoveLookup, limit: u32) -> Result<Vec<StoredMove>> {
        let (a, b) = lookup_params(&lookup);
        let limit = i64::from(limit);
        let client = self.client().await?;
        let rows = match lookup {
            MoveLookup::ByCustomer(..) => {
                let sql = lookup_sql(&lookup, "$1", "$2", "$3");
                client.query(&sql, &[&a, &b, &limit]).await
            }
            _ => {
                let sql = lookup_sql(&lookup, "$1", "$1", "$2");
                client.query(&sql, &[&a, &limit]).await
            }
        }
        .map_err(db_error)?;
        rows.iter().map(from_row).collect()
    }
}
