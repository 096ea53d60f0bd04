//! The credentials table on PostgreSQL (see `storage/credentials.rs`).

use super::rows::{db_error, to_i64, u64_of};
use crate::error::Result;
use crate::storage::credentials::{may_add, CredentialAdded, StoredCredential};

pub(super) async fn add(
    client: &mut deadpool_postgres::Object,
    c: &StoredCredential,
    most_valid: usize,
) -> Result<CredentialAdded> {
    let tx = client.transaction().await.map_err(db_error)?;
    // Two `credential add`s of one name at once must not both see room for one more.
    tx.execute("LOCK TABLE credentials IN SHARE ROW EXCLUSIVE MODE", &[])
        .await
        .map_err(db_error)?;
    let scopes: Vec<String> = tx
        .query("SELECT scope FROM credentials WHERE name = $1 AND revoked_at IS NULL", &[&c.name])
        .await
        .map_err(db_error)?
        .iter()
        .map(|r| r.try_get(0).map_err(db_error))
        .collect::<Result<_>>()?;
    let verdict = may_add(&scopes, &c.scope, most_valid);
    if verdict == CredentialAdded::Added {
        tx.execute(
            "INSERT INTO credentials (id, name, scope, hash, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
            &[&c.id, &c.name, &c.scope, &c.hash, &to_i64(c.created_at)],
        )
        .await
        .map_err(db_error)?;
    }
    tx.commit().await.map_err(db_error)?;
    Ok(verdict)
}

pub(super) async fn revoke(
    client: &deadpool_postgres::Object,
    name: &str,
    id: Option<&str>,
    now: u64,
) -> Result<u64> {
    client
        .execute(
            "UPDATE credentials SET revoked_at = $1 \
             WHERE name = $2 AND ($3::TEXT IS NULL OR id = $3) AND revoked_at IS NULL",
            &[&to_i64(now), &name, &id],
        )
        .await
        .map_err(db_error)
}

pub(super) async fn list(client: &deadpool_postgres::Object) -> Result<Vec<StoredCredential>> {
    let rows = client
        .query(
            "SELECT id, name, scope, hash, created_at, revoked_at FROM credentials \
             ORDER BY name, created_at, id",
            &[],
        )
        .await
        .map_err(db_error)?;
    rows.iter()
        .map(|r| {
            let revoked: Option<i64> = r.try_get(5).map_err(db_error)?;
            Ok(StoredCredential {
                id: r.try_get(0).map_err(db_error)?,
                name: r.try_get(1).map_err(db_error)?,
                scope: r.try_get(2).map_err(db_error)?,
                hash: r.try_get(3).map_err(db_error)?,
                created_at: u64_of(r.try_get(4).map_err(db_error)?, "time")?,
                revoked_at: revoked.map(|t| u64_of(t, "time")).transpose()?,
            })
        })
        .collect()
}
