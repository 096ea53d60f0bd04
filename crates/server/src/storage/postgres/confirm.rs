//! Confirmation requests and offline steps in PostgreSQL. Every instance writes the same rows,
//! so each rule is kept by the database: the state moves with `… AND state = 'pending'`, the
//! offline step with an upsert that only raises it, and the pending count of a registration is
//! taken under a transaction-scoped advisory lock on the registration, so two instances
//! creating at once cannot both pass the limit.

use deadpool_postgres::GenericClient;
use softtoken_core::confirm::ConfirmationState;
use softtoken_core::ids::{ServiceId, UserId};
use tokio_postgres::Row;

use super::audit;
use super::rows::{db_error, to_i64, u64_of};
use crate::error::{Error, Result};
use crate::storage::{AuditEntry, AuditKey, ConfirmationWrite, StoredConfirmation};

const SELECT: &str = "SELECT id, registration_id, service_id, user_id, kind, details, created_at, \
     expires_at, match_required, match_number, state, answered_at FROM confirmations";

/// Applies `write`; true when it took effect. With `audit`, the entry is inserted in the same
/// transaction when it did.
pub(super) async fn write(
    client: &mut deadpool_postgres::Object,
    write: &ConfirmationWrite,
    audit: Option<(&AuditEntry, Option<&AuditKey>)>,
) -> Result<bool> {
    let Some((entry, key)) = audit else {
        return apply(client, write).await;
    };
    let mut tx = client.transaction().await.map_err(db_error)?;
    let took = apply(&mut tx, write).await?;
    if took {
        audit::insert(&tx, key, entry).await?;
    }
    tx.commit().await.map_err(db_error)?;
    Ok(took)
}

/// `write` on `client`, a connection or a transaction; the insert opens a transaction of its
/// own inside (a savepoint within one), for its lock and count.
async fn apply(client: &mut impl GenericClient, write: &ConfirmationWrite) -> Result<bool> {
    match write {
        ConfirmationWrite::Insert { confirmation: c, max_pending, now } => {
            let tx = client.transaction().await.map_err(db_error)?;
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 27))",
                &[&c.registration_id],
            )
            .await
            .map_err(db_error)?;
            let pending: i64 = tx
                .query_one(
                    "SELECT count(*) FROM confirmations WHERE registration_id = $1 \
                     AND state = 'pending' AND expires_at > $2",
                    &[&c.registration_id, &to_i64(*now)],
                )
                .await
                .map_err(db_error)?
                .try_get(0)
                .map_err(db_error)?;
            if pending >= i64::from(*max_pending) {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO confirmations (id, registration_id, service_id, user_id, kind, \
                 details, created_at, expires_at, match_required, match_number, state, \
                 answered_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                &[
                    &c.id,
                    &c.registration_id,
                    &c.service_id.as_str(),
                    &c.user_id.as_str(),
                    &c.kind,
                    &c.details,
                    &to_i64(c.created_at),
                    &to_i64(c.expires_at),
                    &c.match_required,
                    &c.match_number,
                    &c.state.as_str(),
                    &c.answered_at.map(to_i64),
                ],
            )
            .await
            .map_err(db_error)?;
            tx.commit().await.map_err(db_error)?;
            Ok(true)
        }
        ConfirmationWrite::Finish { id, to, answered_at } => {
            let n = client
                .execute(
                    "UPDATE confirmations SET state = $1, answered_at = $2 \
                     WHERE id = $3 AND state = 'pending'",
                    &[&to.as_str(), &answered_at.map(to_i64), id],
                )
                .await
                .map_err(db_error)?;
            Ok(n == 1)
        }
        ConfirmationWrite::OfflineStep { registration_id, step } => {
            let n = client
                .execute(
                    "INSERT INTO offline_steps (registration_id, step) VALUES ($1, $2) \
                     ON CONFLICT (registration_id) DO UPDATE SET step = excluded.step \
                     WHERE offline_steps.step < excluded.step",
                    &[registration_id, &to_i64(*step)],
                )
                .await
                .map_err(db_error)?;
            Ok(n == 1)
        }
    }
}

/// A request by ID.
pub(super) async fn by_id(
    client: &impl GenericClient,
    id: &str,
) -> Result<Option<StoredConfirmation>> {
    let row =
        client.query_opt(&format!("{SELECT} WHERE id = $1"), &[&id]).await.map_err(db_error)?;
    row.as_ref().map(from_row).transpose()
}

/// A registration's answerable requests, oldest first.
pub(super) async fn pending(
    client: &impl GenericClient,
    registration_id: &str,
    now: u64,
    limit: u32,
) -> Result<Vec<StoredConfirmation>> {
    let rows = client
        .query(
            &format!(
                "{SELECT} WHERE registration_id = $1 AND state = 'pending' AND expires_at > $2 \
                 ORDER BY created_at, id LIMIT $3"
            ),
            &[&registration_id, &to_i64(now), &i64::from(limit)],
        )
        .await
        .map_err(db_error)?;
    rows.iter().map(from_row).collect()
}

fn from_row(row: &Row) -> Result<StoredConfirmation> {
    let bad = |what: &str| Error::Storage(format!("a stored confirmation has a bad {what}"));
    let service: String = row.try_get(2).map_err(db_error)?;
    let user: String = row.try_get(3).map_err(db_error)?;
    let state: String = row.try_get(10).map_err(db_error)?;
    let answered_at: Option<i64> = row.try_get(11).map_err(db_error)?;
    Ok(StoredConfirmation {
        id: row.try_get(0).map_err(db_error)?,
        registration_id: row.try_get(1).map_err(db_error)?,
        service_id: ServiceId::new(&service).map_err(|_| bad("service ID"))?,
        user_id: UserId::new(&user).map_err(|_| bad("user ID"))?,
        kind: row.try_get(4).map_err(db_error)?,
        details: row.try_get(5).map_err(db_error)?,
        created_at: u64_of(row.try_get(6).map_err(db_error)?, "confirmation time")?,
        expires_at: u64_of(row.try_get(7).map_err(db_error)?, "confirmation expiry")?,
        match_required: row.try_get(8).map_err(db_error)?,
        match_number: row.try_get(9).map_err(db_error)?,
        state: ConfirmationState::parse(&state).ok_or_else(|| bad("state"))?,
        answered_at: answered_at.map(|t| u64_of(t, "answer time")).transpose()?,
    })
}
