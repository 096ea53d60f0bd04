//! Registrations and attempts to and from SQLite's rows. The registration statements are
//! built once from the declared columns (`storage/columns.rs`); values are bound by position
//! in the statement's own column list and rows read by column name.

use std::sync::LazyLock;

use rusqlite::{params, Connection, OptionalExtension, Row, Statement, ToSql};

use crate::error::{Error, Result};
use crate::storage::columns::{self, Cells, Column, Positions, Stored, Value, Write, COLUMNS};
use crate::storage::{Attempt, AttemptStatus, OutboxMail, Registration};

pub(super) use crate::storage::columns::to_i64;

/// The registration statements, and which declared columns each binds, in placeholder order.
struct Statements {
    by_pair: String,
    by_id: String,
    after: String,
    insert: String,
    /// Every declared column, `?1` onwards.
    insert_binds: Vec<usize>,
    same_state: String,
    new_state: String,
    /// The columns both updates bind, `?1` onwards; the expected revision comes after them.
    update_binds: Vec<usize>,
}

fn place(binds: &[usize], write: Write) -> impl Iterator<Item = (usize, &'static Column)> + '_ {
    binds
        .iter()
        .enumerate()
        .map(|(k, &i)| (k + 1, &COLUMNS[i]))
        .filter(move |(_, c)| c.write == write)
}

static SQL: LazyLock<Statements> =
    LazyLock::new(|| {
        let select = format!("SELECT {} FROM registrations", columns::names());
        let insert_binds: Vec<usize> = (0..COLUMNS.len()).collect();
        let placeholders: Vec<String> = (1..=COLUMNS.len()).map(|k| format!("?{k}")).collect();
        // Every column an update writes, then the key: all but the fixed ones.
        let update_binds: Vec<usize> =
            (0..COLUMNS.len()).filter(|&i| !matches!(COLUMNS[i].write, Write::Fixed)).collect();
        let expected = update_binds.len() + 1;
        let mut set: Vec<String> = Vec::new();
        for write in [Write::Life, Write::Revision] {
            set.extend(place(&update_binds, write).map(|(k, c)| format!("{} = ?{k}", c.name)));
        }
        // An update only ever clears the activation password, never writes one back.
        set.extend(place(&update_binds, Write::ClearOnly).map(|(k, c)| {
            format!("{0} = CASE WHEN length(?{k}) = 0 THEN X'' ELSE {0} END", c.name)
        }));
        let assigns = |cols: Vec<String>| cols.join(", ");
        let matching = |write: Write| -> Vec<String> {
            place(&update_binds, write).map(|(k, c)| format!("{} = ?{k}", c.name)).collect()
        };
        let key = matching(Write::Key).join(" AND ");
        let indexed = matching(Write::LifeIndexed);
        let revision: Vec<String> = place(&update_binds, Write::Revision)
            .map(|(_, c)| format!("{} = ?{expected}", c.name))
            .collect();
        let guard = [key].into_iter().chain(revision).collect::<Vec<_>>().join(" AND ");
        let same_state = format!(
            "UPDATE registrations SET {} WHERE {guard} AND {}",
            assigns(set.clone()),
            indexed.join(" AND ")
        );
        let new_state = format!(
            "UPDATE registrations SET {} WHERE {guard}",
            assigns(indexed.iter().cloned().chain(set).collect())
        );
        Statements {
            by_pair: format!(
                "{select} WHERE service_id = ?1 AND user_id = ?2 ORDER BY rowid DESC LIMIT 1"
            ),
            by_id: format!("{select} WHERE id = ?1"),
            after: format!("{select} WHERE id > ?1 ORDER BY id LIMIT ?2"),
            insert: format!(
                "INSERT INTO registrations ({}) VALUES ({})",
                columns::names(),
                placeholders.join(", ")
            ),
            insert_binds,
            same_state,
            new_state,
            update_binds,
        }
    });

fn sql_of<'v>(v: &'v Value<'_>) -> &'v dyn ToSql {
    match v {
        Value::Text(v) => v,
        Value::OptText(v) => v,
        Value::Int(v) => v,
        Value::OptInt(v) => v,
        Value::Bool(v) => v,
        Value::Blob(v) => v,
        Value::OptBlob(v) => v,
    }
}

/// Binds `r`'s values of the columns `binds` names to `?1` onwards.
fn bind(stmt: &mut Statement<'_>, binds: &[usize], r: &Registration) -> rusqlite::Result<()> {
    for (k, &i) in binds.iter().enumerate() {
        stmt.raw_bind_parameter(k + 1, sql_of(&(COLUMNS[i].value)(r)))?;
    }
    Ok(())
}

impl Cells for Row<'_> {
    fn cell<T: Stored>(&self, at: usize) -> Result<T> {
        Ok(self.get(at)?)
    }
}

fn positions(stmt: &Statement<'_>) -> Result<Positions> {
    Positions::resolve(stmt.column_count(), |i| stmt.column_name(i).ok())
}

/// Every registration the statement's query finds.
fn registrations(
    stmt: &mut Statement<'_>,
    params: impl rusqlite::Params,
) -> Result<Vec<Registration>> {
    let at = positions(stmt)?;
    let mut rows = stmt.query(params)?;
    let mut found = Vec::new();
    while let Some(row) = rows.next()? {
        found.push(columns::read(row, &at)?);
    }
    Ok(found)
}

/// The one registration the statement's query finds, if any.
fn registration(
    stmt: &mut Statement<'_>,
    params: impl rusqlite::Params,
) -> Result<Option<Registration>> {
    let at = positions(stmt)?;
    let mut rows = stmt.query(params)?;
    rows.next()?.map(|row| columns::read(row, &at)).transpose()
}

pub(super) fn newest_registration(
    conn: &Connection,
    service: &str,
    user: &str,
) -> Result<Option<Registration>> {
    registration(&mut *conn.prepare_cached(&SQL.by_pair)?, [service, user])
}

pub(super) fn registration_by_id(conn: &Connection, id: &str) -> Result<Option<Registration>> {
    registration(&mut *conn.prepare_cached(&SQL.by_id)?, [id])
}

pub(super) fn registrations_after(
    conn: &Connection,
    after: &str,
    limit: u32,
) -> Result<Vec<Registration>> {
    registrations(&mut *conn.prepare_cached(&SQL.after)?, rusqlite::params![after, limit])
}

pub(super) fn insert_registration_row(
    conn: &Connection,
    r: &Registration,
) -> rusqlite::Result<usize> {
    let mut stmt = conn.prepare_cached(&SQL.insert)?;
    bind(&mut stmt, &SQL.insert_binds, r)?;
    stmt.raw_execute()
}

/// Writes the changing columns if the row still has `expected` revision (the activation
/// password only to clear it).
///
/// Most writes (every verification) leave the state as it was. A statement that assigns
/// `state` makes SQLite rewrite the row's entry in `registrations_active`, whose `WHERE`
/// names it, even when the value is the same: one more page into the WAL, synced and later
/// checkpointed, per verification. So the write is first tried without `state`, on the
/// condition that the row already has the new state; only when it has another (or another
/// revision) is the full statement run. Both run on the writer's one connection inside its
/// transaction, so nothing comes between them.
pub(super) fn update_registration_row(
    conn: &Connection,
    r: &Registration,
    expected: u64,
) -> rusqlite::Result<usize> {
    let binds = &SQL.update_binds;
    for sql in [&SQL.same_state, &SQL.new_state] {
        let mut stmt = conn.prepare_cached(sql)?;
        bind(&mut stmt, binds, r)?;
        stmt.raw_bind_parameter(binds.len() + 1, to_i64(expected))?;
        match stmt.raw_execute()? {
            0 => continue,
            n => return Ok(n),
        }
    }
    Ok(0)
}

pub(super) fn get_u64(row: &Row<'_>, i: usize) -> rusqlite::Result<u64> {
    let v: i64 = row.get(i)?;
    u64::try_from(v).map_err(|_| bad_column(i, "negative number"))
}

pub(super) fn bad_column(i: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        i,
        rusqlite::types::Type::Text,
        format!("invalid {what} in the database").into(),
    )
}

/// The columns [`attempt_from_row`] reads, in its order.
macro_rules! select_attempts {
    () => {
        "SELECT id, registration_id, created_at, expires_at, status, sealed FROM attempts"
    };
}
pub(super) use select_attempts;

pub(super) fn attempt_from_row(row: &Row<'_>) -> rusqlite::Result<Attempt> {
    Ok(Attempt {
        id: row.get(0)?,
        registration_id: row.get(1)?,
        created_at: get_u64(row, 2)?,
        expires_at: get_u64(row, 3)?,
        status: AttemptStatus::parse(&row.get::<_, String>(4)?)
            .ok_or_else(|| bad_column(4, "attempt status"))?,
        sealed: row.get(5)?,
    })
}

pub(super) fn attempt(conn: &Connection, id: &str) -> Result<Option<Attempt>> {
    conn.prepare_cached(concat!(select_attempts!(), " WHERE id = ?1"))?
        .query_row([id], attempt_from_row)
        .optional()
        .map_err(Error::from)
}

pub(super) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation
    )
}

/// Queues a mail in the outbox (issue, re-issue, a phone move).
pub(super) fn insert_mail(conn: &Connection, m: &OutboxMail) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO outbox (registration_id, recipient, subject, body, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![m.registration_id, m.to, m.subject, m.body, to_i64(m.created_at)])?;
    Ok(())
}
