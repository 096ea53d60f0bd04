//! The two storage backends, for tests that must hold on both: a SQLite file in a temporary
//! directory, and a private PostgreSQL cluster (`softtoken_server::testing::postgres`).

use std::future::Future;
use std::sync::Arc;

use softtoken_server::storage::postgres::{PostgresOptions, PostgresStorage};
use softtoken_server::storage::sqlite::{SqliteOptions, SqliteStorage};
use softtoken_server::storage::Storage;
use softtoken_server::testing::postgres::PgCluster;
use tempfile::TempDir;

#[path = "../../../../tests/skip.rs"]
mod skip;

/// What keeps a backend's database alive; dropped after the storage.
pub enum Keep {
    Dir(TempDir),
    Cluster(PgCluster),
}

/// A private PostgreSQL cluster, or `None` after saying the test was skipped (the test
/// command sets `SOFTTOKEN_POSTGRES=1`, and then a missing PostgreSQL fails the test).
pub fn cluster() -> Option<PgCluster> {
    match PgCluster::start() {
        Ok(c) => Some(c),
        Err(softtoken_server::Error::Unavailable) => {
            skip::missing(
                Some("SOFTTOKEN_POSTGRES"),
                "PostgreSQL is not installed (apt-get install postgresql)",
            );
            None
        }
        Err(e) => panic!("the test PostgreSQL did not start: {e}"),
    }
}

/// PostgreSQL storage on `cluster`, migrated.
pub async fn postgres_on(opts: PostgresOptions) -> Arc<PostgresStorage> {
    Arc::new(PostgresStorage::open(opts, true).await.unwrap())
}

/// SQLite storage in a fresh directory.
pub fn sqlite() -> (Arc<dyn Storage>, Keep) {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = SqliteOptions::new(dir.path().join("s.db"));
    opts.audit_key = Some(softtoken_server::testing::test_audit_key());
    let s = SqliteStorage::open(opts).unwrap();
    (Arc::new(s), Keep::Dir(dir))
}

/// PostgreSQL storage on a fresh cluster, or `None` when skipped.
pub async fn postgres() -> Option<(Arc<dyn Storage>, Keep)> {
    let cluster = cluster()?;
    let s = postgres_on(cluster.options()).await;
    Some((s, Keep::Cluster(cluster)))
}

/// Runs `case` on SQLite, then on PostgreSQL.
pub async fn on_both<F, Fut>(case: F)
where
    F: Fn(Arc<dyn Storage>) -> Fut,
    Fut: Future<Output = ()>,
{
    let (sqlite, keep) = sqlite();
    case(sqlite.clone()).await;
    sqlite.close().await;
    drop(keep);
    let Some((pg, keep)) = postgres().await else { return };
    case(pg.clone()).await;
    pg.close().await;
    drop::<Keep>(keep);
}
