//! Registrations, attempts and mail to and from PostgreSQL's rows, and what its errors mean.
//! The registration statements are built once from the declared columns
//! (`storage/columns.rs`); every registration write binds one array per column (`unnest`), so
//! one statement writes one row or a whole batch, and rows are read by column name.

use std::sync::LazyLock;

use deadpool_postgres::{GenericClient, PoolError};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Row, Statement};

use crate::error::{Error, Result};
use crate::storage::columns::{
    self, Array, Cells, Column, Positions, Stored, Value, Write, COLUMNS,
};
use crate::storage::{Attempt, AttemptStatus, OutboxMail, Registration};

pub(super) use crate::storage::columns::to_i64;

/// A database failure: unreachable or shutting down is [`Error::Unavailable`] (the caller may
/// retry, here or on another instance); anything else is [`Error::Storage`].
pub(super) fn db_error(e: tokio_postgres::Error) -> Error {
    let unreachable = e.is_closed()
        || e.code().is_some_and(|c| {
            let c = c.code();
            // Class 08: connection exceptions; 57P0x: shutdown, cannot connect now.
            c.starts_with("08") || c.starts_with("57P")
        })
        || (e.code().is_none()
            && std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>()));
    if unreachable {
        tracing::warn!(event = "database_unreachable", error = %e, "PostgreSQL cannot be reached");
        Error::Unavailable
    } else {
        Error::Storage(e.to_string())
    }
}

pub(super) fn pool_error(e: PoolError) -> Error {
    match e {
        PoolError::Backend(e) => db_error(e),
        PoolError::Timeout(_) | PoolError::Closed | PoolError::NoRuntimeSpecified => {
            tracing::warn!(event = "database_unavailable", error = %e, "no database connection");
            Error::Unavailable
        }
        PoolError::PostCreateHook(e) => Error::Storage(e.to_string()),
    }
}

pub(super) fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

fn bad(what: &str) -> Error {
    Error::Storage(format!("invalid {what} in the database"))
}

pub(super) fn u64_of(v: i64, what: &str) -> Result<u64> {
    u64::try_from(v).map_err(|_| bad(what))
}

/// The registration statements.
struct Statements {
    by_pair: String,
    by_id: String,
    after: String,
    /// Inserts rows from one array per column but the revision, which each row draws.
    insert: String,
    /// As `insert`, returning each row's revision.
    insert_returning: String,
    /// The declared columns `insert` binds, in placeholder order.
    insert_binds: Vec<usize>,
    update: String,
    /// The changing columns `update` binds after the key and the expected revision, and
    /// before the clear-password flags.
    update_binds: Vec<usize>,
}

fn array_type(c: &Column) -> String {
    format!("{}[]", c.postgres)
}

fn one_of(write: Write) -> Option<&'static Column> {
    COLUMNS.iter().find(|c| c.write == write)
}

static SQL: LazyLock<Statements> = LazyLock::new(|| {
    let select = format!("SELECT {} FROM registrations", columns::names());
    let insert_binds: Vec<usize> =
        (0..COLUMNS.len()).filter(|&i| COLUMNS[i].write != Write::Revision).collect();
    let arrays: Vec<String> = insert_binds
        .iter()
        .enumerate()
        .map(|(k, &i)| format!("${}::{}", k + 1, array_type(&COLUMNS[i])))
        .collect();
    let rev = one_of(Write::Revision).map_or("rev", |c| c.name);
    let insert = format!(
        "INSERT INTO registrations ({}, {rev}) SELECT u.*, nextval('registration_rev') \
         FROM unnest({}) AS u",
        columns::names_where(|c| c.write != Write::Revision),
        arrays.join(", ")
    );
    let insert_returning = format!("{insert} RETURNING {rev}");

    // The key, the expected revision, the changing columns, then one clear flag per column
    // an update only clears.
    let key = one_of(Write::Key).map_or("id", |c| c.name);
    let key_type = one_of(Write::Key).map_or_else(|| "TEXT[]".into(), array_type);
    let update_binds: Vec<usize> = (0..COLUMNS.len())
        .filter(|&i| matches!(COLUMNS[i].write, Write::Life | Write::LifeIndexed))
        .collect();
    let cleared: Vec<&Column> = COLUMNS.iter().filter(|c| c.write == Write::ClearOnly).collect();
    let mut arrays = vec![format!("$1::{key_type}"), "$2::BIGINT[]".to_owned()];
    let mut names = vec![key.to_owned(), "expected".to_owned()];
    for &i in &update_binds {
        arrays.push(format!("${}::{}", arrays.len() + 1, array_type(&COLUMNS[i])));
        names.push(COLUMNS[i].name.to_owned());
    }
    for c in &cleared {
        arrays.push(format!("${}::BOOLEAN[]", arrays.len() + 1));
        names.push(format!("clear_{}", c.name));
    }
    let mut set: Vec<String> =
        update_binds.iter().map(|&i| format!("{0} = u.{0}", COLUMNS[i].name)).collect();
    set.push(format!("{rev} = nextval('registration_rev')"));
    set.extend(
        cleared.iter().map(|c| {
            format!("{0} = CASE WHEN u.clear_{0} THEN '\\x'::bytea ELSE r.{0} END", c.name)
        }),
    );
    // The rows are locked in key order before they are written: two instances writing
    // overlapping batches at once then wait for each other instead of deadlocking.
    let update = format!(
        "WITH u AS (
    SELECT * FROM unnest({}) AS u({})
), locked AS (
    SELECT r.{key} FROM registrations r JOIN u ON u.{key} = r.{key} AND r.{rev} = u.expected
    ORDER BY r.{key} FOR UPDATE OF r
)
UPDATE registrations r SET {}
FROM u JOIN locked ON locked.{key} = u.{key}
WHERE r.{key} = u.{key} AND r.{rev} = u.expected
RETURNING r.{key}, r.{rev}",
        arrays.join(", "),
        names.join(", "),
        set.join(", ")
    );
    Statements {
        by_pair: format!(
            "{select} WHERE service_id = $1 AND user_id = $2 ORDER BY seq DESC LIMIT 1"
        ),
        by_id: format!("{select} WHERE id = $1"),
        after: format!("{select} WHERE id > $1 ORDER BY id LIMIT $2"),
        insert,
        insert_returning,
        insert_binds,
        update,
        update_binds,
    }
});

fn param<'a>(a: &'a Array<'_>) -> &'a (dyn ToSql + Sync) {
    match a {
        Array::Text(a) => a,
        Array::OptText(a) => a,
        Array::Int(a) => a,
        Array::OptInt(a) => a,
        Array::Bool(a) => a,
        Array::Blob(a) => a,
        Array::OptBlob(a) => a,
    }
}

/// One array per declared column in `binds`, each holding the column's value of every row.
fn arrays<'a>(
    binds: &[usize],
    rows: impl ExactSizeIterator<Item = &'a Registration> + Clone,
) -> Result<Vec<Array<'a>>> {
    let mut out = Vec::with_capacity(binds.len());
    for &i in binds {
        let column = &COLUMNS[i];
        let mut array = Array::new(column.kind, rows.len());
        for r in rows.clone() {
            array.push((column.value)(r))?;
        }
        out.push(array);
    }
    Ok(out)
}

impl Cells for Row {
    fn cell<T: Stored>(&self, at: usize) -> Result<T> {
        self.try_get(at).map_err(db_error)
    }
}

fn positions(stmt: &Statement) -> Result<Positions> {
    let columns = stmt.columns();
    Positions::resolve(columns.len(), |i| columns.get(i).map(|c| c.name()))
}

/// Every registration `sql` finds with `params`.
async fn registrations(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Registration>> {
    let stmt = client.prepare_cached(sql).await.map_err(db_error)?;
    let at = positions(&stmt)?;
    let rows = client.query(&stmt, params).await.map_err(db_error)?;
    rows.iter().map(|row| columns::read(row, &at)).collect()
}

pub(super) async fn newest_registration(
    client: &impl GenericClient,
    service: &str,
    user: &str,
) -> Result<Option<Registration>> {
    Ok(registrations(client, &SQL.by_pair, &[&service, &user]).await?.pop())
}

pub(super) async fn registration_by_id(
    client: &impl GenericClient,
    id: &str,
) -> Result<Option<Registration>> {
    Ok(registrations(client, &SQL.by_id, &[&id]).await?.pop())
}

pub(super) async fn registrations_after(
    client: &impl GenericClient,
    after: &str,
    limit: u32,
) -> Result<Vec<Registration>> {
    registrations(client, &SQL.after, &[&after, &i64::from(limit)]).await
}

/// Why a registration write stopped: the database's error as it came (a caller tells a
/// unique violation from other failures), or a fault of this server.
pub(super) enum WriteFailed {
    Database(tokio_postgres::Error),
    Here(Error),
}

impl From<tokio_postgres::Error> for WriteFailed {
    fn from(e: tokio_postgres::Error) -> Self {
        WriteFailed::Database(e)
    }
}

impl WriteFailed {
    /// The database refused a row for a unique index (an active pair, an ID used twice).
    pub(super) fn is_unique_violation(&self) -> bool {
        matches!(self, WriteFailed::Database(e) if is_unique_violation(e))
    }

    /// As the crate's error.
    pub(super) fn into_error(self) -> Error {
        match self {
            WriteFailed::Database(e) => db_error(e),
            WriteFailed::Here(e) => e,
        }
    }
}

fn insert_params<'a>(
    rows: &'a [&'a Registration],
) -> std::result::Result<Vec<Array<'a>>, WriteFailed> {
    arrays(&SQL.insert_binds, rows.iter().copied()).map_err(WriteFailed::Here)
}

/// Inserts registrations, each with a fresh revision, in one statement (all or none); how many.
pub(super) async fn insert_registration_rows(
    client: &impl GenericClient,
    rows: &[&Registration],
) -> std::result::Result<u64, WriteFailed> {
    let arrays = insert_params(rows)?;
    let params: Vec<&(dyn ToSql + Sync)> = arrays.iter().map(param).collect();
    Ok(client.execute(SQL.insert.as_str(), &params).await?)
}

/// Inserts a registration row with a fresh revision; its revision.
pub(super) async fn insert_registration_row(
    client: &impl GenericClient,
    r: &Registration,
) -> std::result::Result<u64, WriteFailed> {
    let rows = [r];
    let arrays = insert_params(&rows)?;
    let params: Vec<&(dyn ToSql + Sync)> = arrays.iter().map(param).collect();
    let stmt = client.prepare_cached(&SQL.insert_returning).await?;
    let rev: i64 = client.query_one(&stmt, &params).await?.try_get(0)?;
    Ok(u64::try_from(rev).unwrap_or(0))
}

/// Writes each registration whose row still has the paired expected revision; the id and
/// new revision of each row written (a row another writer changed meanwhile is left out).
/// One statement for one row (inside a change of several parts) and for many (verify's group
/// commit, `batch.rs`). No id may appear twice.
pub(super) async fn update_registration_rows(
    client: &impl GenericClient,
    rows: &[(&Registration, u64)],
) -> std::result::Result<Vec<(String, u64)>, WriteFailed> {
    let regs = rows.iter().map(|(r, _)| *r);
    let key = COLUMNS.iter().position(|c| c.write == Write::Key);
    let mut arrays = arrays(key.as_slice(), regs.clone()).map_err(WriteFailed::Here)?;
    arrays.push(Array::Int(rows.iter().map(|(_, expected)| to_i64(*expected)).collect()));
    arrays.extend(arrays_of_update(regs.clone())?);
    for c in COLUMNS.iter().filter(|c| c.write == Write::ClearOnly) {
        // An update only ever clears the value, never writes one back.
        let cleared = regs.clone().map(|r| match (c.value)(r) {
            Value::Blob(v) => v.is_empty(),
            Value::Text(v) => v.is_empty(),
            _ => false,
        });
        arrays.push(Array::Bool(cleared.collect()));
    }
    let params: Vec<&(dyn ToSql + Sync)> = arrays.iter().map(param).collect();
    let stmt = client.prepare_cached(&SQL.update).await?;
    let written = client.query(&stmt, &params).await?;
    written
        .iter()
        .map(|row| {
            let id: String = row.try_get(0)?;
            let rev: i64 = row.try_get(1)?;
            Ok((id, u64::try_from(rev).unwrap_or(0)))
        })
        .collect()
}

fn arrays_of_update<'a>(
    regs: impl ExactSizeIterator<Item = &'a Registration> + Clone,
) -> std::result::Result<Vec<Array<'a>>, WriteFailed> {
    arrays(&SQL.update_binds, regs).map_err(WriteFailed::Here)
}

/// Writes one registration if its row still has `expected` revision; the new revision.
pub(super) async fn update_registration_row(
    client: &impl GenericClient,
    r: &Registration,
    expected: u64,
) -> std::result::Result<Option<u64>, WriteFailed> {
    let written = update_registration_rows(client, &[(r, expected)]).await?;
    Ok(written.first().map(|(_, rev)| *rev))
}

/// The columns [`attempt_from_row`] reads, in its order.
pub(super) const SELECT_ATTEMPTS: &str =
    "SELECT id, registration_id, created_at, expires_at, status, sealed FROM attempts";

pub(super) fn attempt_from_row(row: &Row) -> Result<Attempt> {
    Ok(Attempt {
        id: row.try_get(0).map_err(db_error)?,
        registration_id: row.try_get(1).map_err(db_error)?,
        created_at: u64_of(row.try_get(2).map_err(db_error)?, "time")?,
        expires_at: u64_of(row.try_get(3).map_err(db_error)?, "time")?,
        status: AttemptStatus::parse(&row.try_get::<_, String>(4).map_err(db_error)?)
            .ok_or_else(|| bad("attempt status"))?,
        sealed: row.try_get(5).map_err(db_error)?,
    })
}

/// Adds a mail to the outbox, in the caller's transaction.
pub(super) async fn insert_mail(
    client: &impl GenericClient,
    m: &OutboxMail,
) -> std::result::Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO outbox (registration_id, recipient, subject, body, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
            &[&m.registration_id, &m.to, &m.subject, &m.body, &to_i64(m.created_at)],
        )
        .await?;
    Ok(())
}
