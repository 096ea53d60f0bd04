//! The `registrations` table's columns, declared once for both backends.
//!
//! Each column is one line of `registration_columns!` below: its name, the value it holds as
//! both databases store it ([`Kind`]), how writes treat it ([`Write`]), its type in each
//! dialect, how a [`Registration`] gives its value and how a stored value becomes the field
//! again. Every select list, row reader, insert and update (SQLite's statements in
//! `sqlite/rows.rs`, PostgreSQL's arrays in `postgres/rows.rs`) is built from [`COLUMNS`] and
//! [`read`], so adding a field means adding its line here (and its migration, which history
//! keeps as it shipped; a test checks the declared types against the migrated tables).
//!
//! Rows are read by column name: [`Positions::resolve`] finds each declared column among a
//! statement's columns once per statement, and [`read`] then takes each field from its own
//! column, whatever the order of the select list.

use softtoken_core::ids::{ServiceId, UserId};
use softtoken_core::totp::{Algorithm, TotpParams};

use super::{Registration, RegistrationState};
use crate::error::{Error, Result};

/// A value as both databases store it. Each variant is one SQL type per dialect (SQLite's
/// `TEXT`/`INTEGER`/`BLOB`, PostgreSQL's `TEXT`/`BIGINT`/`BOOLEAN`/`BYTEA`), nullable or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::storage) enum Kind {
    Text,
    OptText,
    Int,
    OptInt,
    Bool,
    Blob,
    OptBlob,
}

/// A column's value taken from a registration, borrowed from it.
#[derive(Debug, Clone, Copy)]
pub(in crate::storage) enum Value<'a> {
    Text(&'a str),
    OptText(Option<&'a str>),
    Int(i64),
    OptInt(Option<i64>),
    Bool(bool),
    Blob(&'a [u8]),
    OptBlob(Option<&'a [u8]>),
}

/// One column's values of many registrations: PostgreSQL's `unnest` arrays.
#[derive(Debug)]
pub(in crate::storage) enum Array<'a> {
    Text(Vec<&'a str>),
    OptText(Vec<Option<&'a str>>),
    Int(Vec<i64>),
    OptInt(Vec<Option<i64>>),
    Bool(Vec<bool>),
    Blob(Vec<&'a [u8]>),
    OptBlob(Vec<Option<&'a [u8]>>),
}

impl<'a> Array<'a> {
    /// An empty array of `kind`'s values, with room for `rows`.
    pub(in crate::storage) fn new(kind: Kind, rows: usize) -> Self {
        match kind {
            Kind::Text => Array::Text(Vec::with_capacity(rows)),
            Kind::OptText => Array::OptText(Vec::with_capacity(rows)),
            Kind::Int => Array::Int(Vec::with_capacity(rows)),
            Kind::OptInt => Array::OptInt(Vec::with_capacity(rows)),
            Kind::Bool => Array::Bool(Vec::with_capacity(rows)),
            Kind::Blob => Array::Blob(Vec::with_capacity(rows)),
            Kind::OptBlob => Array::OptBlob(Vec::with_capacity(rows)),
        }
    }

    /// Appends a value of the array's kind.
    ///
    /// # Errors
    /// [`Error::Internal`] for a value of another kind (a column built from another one's
    /// declaration).
    pub(in crate::storage) fn push(&mut self, v: Value<'a>) -> Result<()> {
        match (self, v) {
            (Array::Text(a), Value::Text(v)) => a.push(v),
            (Array::OptText(a), Value::OptText(v)) => a.push(v),
            (Array::Int(a), Value::Int(v)) => a.push(v),
            (Array::OptInt(a), Value::OptInt(v)) => a.push(v),
            (Array::Bool(a), Value::Bool(v)) => a.push(v),
            (Array::Blob(a), Value::Blob(v)) => a.push(v),
            (Array::OptBlob(a), Value::OptBlob(v)) => a.push(v),
            _ => return Err(Error::Internal("a column's value is not of its declared kind")),
        }
        Ok(())
    }
}

/// How writes treat a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::storage) enum Write {
    /// The row's key: inserted, and what an update finds the row by.
    Key,
    /// Set at issue, never changed.
    Fixed,
    /// Changed over the registration's life: every update writes it.
    Life,
    /// As [`Write::Life`], and named in the `WHERE` of the partial index
    /// `registrations_active`: SQLite rewrites that index entry whenever a statement assigns
    /// the column, so its update assigns it only when it changed (`sqlite/rows.rs`).
    LifeIndexed,
    /// Written at insert; an update only ever clears it (an empty value), never writes one
    /// back.
    ClearOnly,
    /// The compare-and-swap revision ([`Registration::rev`]): storage assigns it on every
    /// write, and an update applies only where the row still has the expected one.
    Revision,
}

/// One column of `registrations`.
#[derive(Debug, Clone, Copy)]
pub(in crate::storage) struct Column {
    /// The column's name in both dialects.
    pub name: &'static str,
    /// What it holds.
    pub kind: Kind,
    /// How writes treat it.
    pub write: Write,
    /// Its type in SQLite's `STRICT` table. SQLite binds by value, so only the test that
    /// checks the declaration against the migrated table reads it.
    #[cfg_attr(not(test), allow(dead_code))]
    pub sqlite: &'static str,
    /// Its type in PostgreSQL (also the element type of its `unnest` array).
    pub postgres: &'static str,
    /// Its value in a registration.
    pub value: for<'a> fn(&'a Registration) -> Value<'a>,
}

/// A value read from a column of `kind` (the reader's side of [`Value`]): a type both
/// drivers convert from their column types.
pub(in crate::storage) trait Stored:
    rusqlite::types::FromSql + for<'a> tokio_postgres::types::FromSql<'a>
{
}
impl Stored for String {}
impl Stored for Option<String> {}
impl Stored for i64 {}
impl Stored for Option<i64> {}
impl Stored for bool {}
impl Stored for Vec<u8> {}
impl Stored for Option<Vec<u8>> {}

/// A result row of either driver.
pub(in crate::storage) trait Cells {
    /// The value in the row's column `at`.
    ///
    /// # Errors
    /// [`Error::Storage`] when the column does not hold a `T`.
    fn cell<T: Stored>(&self, at: usize) -> Result<T>;
}

/// Where each declared column is among a statement's result columns.
#[derive(Debug, Clone, Copy)]
pub(in crate::storage) struct Positions([usize; COLUMNS.len()]);

impl Positions {
    /// Finds every declared column among a statement's `count` result columns, named by
    /// `name_at`. Statements built from [`COLUMNS`] list them in its order, which is tried
    /// first.
    ///
    /// # Errors
    /// [`Error::Internal`] when a declared column is missing from the statement.
    pub(in crate::storage) fn resolve<'n>(
        count: usize,
        name_at: impl Fn(usize) -> Option<&'n str>,
    ) -> Result<Self> {
        let mut at = [0; COLUMNS.len()];
        for (i, column) in COLUMNS.iter().enumerate() {
            at[i] = if name_at(i) == Some(column.name) {
                i
            } else {
                (0..count)
                    .find(|&j| name_at(j) == Some(column.name))
                    .ok_or(Error::Internal("a registration query lacks a declared column"))?
            };
        }
        Ok(Self(at))
    }
}

fn invalid(what: &str) -> Error {
    Error::Storage(format!("invalid {what} in the database"))
}

/// The stored name of a code algorithm.
pub(in crate::storage) fn algorithm_name(a: Algorithm) -> &'static str {
    match a {
        Algorithm::Sha1 => "SHA1",
        Algorithm::Sha256 => "SHA256",
        Algorithm::Sha512 => "SHA512",
    }
}

/// Parses [`algorithm_name`].
pub(in crate::storage) fn parse_algorithm(s: &str) -> Option<Algorithm> {
    match s {
        "SHA1" => Some(Algorithm::Sha1),
        "SHA256" => Some(Algorithm::Sha256),
        "SHA512" => Some(Algorithm::Sha512),
        _ => None,
    }
}

/// A time, step, count or revision as stored (both databases have signed 64-bit integers).
pub(in crate::storage) fn to_i64(v: u64) -> i64 {
    // Times, steps and revisions stay far below 2^63; saturate rather than wrap if a bug
    // ever produced one.
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> std::result::Result<u64, ()> {
    u64::try_from(v).map_err(drop)
}

/// The type a column of each [`Kind`] is read as.
macro_rules! stored {
    (Text) => { String };
    (OptText) => { Option<String> };
    (Int) => { i64 };
    (OptInt) => { Option<i64> };
    (Bool) => { bool };
    (Blob) => { Vec<u8> };
    (OptBlob) => { Option<Vec<u8>> };
}

/// Declares the columns: [`COLUMNS`] in order, and [`read`], which builds a [`Registration`]
/// (its own fields first, then its [`TotpParams`]) from a row by name. A field left out of
/// the declaration is a compile error in `read`.
macro_rules! registration_columns {
    (
        Registration { $( $field:ident: $kind:ident, $write:ident, $sqlite:literal,
            $postgres:literal, |$r:ident| $value:expr, |$v:ident| $read:expr; )* }
        TotpParams { $( $pfield:ident: $pkind:ident, $pwrite:ident, $psqlite:literal,
            $ppostgres:literal, |$pr:ident| $pvalue:expr, |$pv:ident| $pread:expr; )* }
    ) => {
        /// Each declared column's place in [`COLUMNS`].
        #[allow(non_camel_case_types, clippy::enum_variant_names)]
        #[derive(Clone, Copy)]
        enum Col { $( $field, )* $( $pfield, )* }

        /// Every column of `registrations`, in declaration order.
        pub(in crate::storage) const COLUMNS: [Column; [$( stringify!($field), )* $(
            stringify!($pfield), )*].len()] = [
            $( Column {
                name: stringify!($field),
                kind: Kind::$kind,
                write: Write::$write,
                sqlite: $sqlite,
                postgres: $postgres,
                value: {
                    fn value($r: &Registration) -> Value<'_> {
                        Value::$kind($value)
                    }
                    value
                },
            }, )*
            $( Column {
                name: stringify!($pfield),
                kind: Kind::$pkind,
                write: Write::$pwrite,
                sqlite: $psqlite,
                postgres: $ppostgres,
                value: {
                    fn value($pr: &Registration) -> Value<'_> {
                        Value::$pkind($pvalue)
                    }
                    value
                },
            }, )*
        ];

        /// The registration in `row`, its columns found at `at`.
        ///
        /// # Errors
        /// [`Error::Storage`] when a column does not hold a valid value of its field.
        pub(in crate::storage) fn read(row: &impl Cells, at: &Positions) -> Result<Registration> {
            Ok(Registration {
                $( $field: {
                    let $v: stored!($kind) = row.cell(at.0[Col::$field as usize])?;
                    let field: std::result::Result<_, &str> = $read;
                    field.map_err(invalid)?
                }, )*
                params: TotpParams { $( $pfield: {
                    let $pv: stored!($pkind) = row.cell(at.0[Col::$pfield as usize])?;
                    let field: std::result::Result<_, &str> = $pread;
                    field.map_err(invalid)?
                }, )* },
            })
        }
    };
}

registration_columns! {
    Registration {
        id: Text, Key, "TEXT", "TEXT",
            |r| &r.id, |v| Ok(v);
        service_id: Text, Fixed, "TEXT", "TEXT",
            |r| r.service_id.as_str(), |v| ServiceId::new(&v).map_err(|_| "service ID");
        user_id: Text, Fixed, "TEXT", "TEXT",
            |r| r.user_id.as_str(), |v| UserId::new(&v).map_err(|_| "user ID");
        mail: Text, Fixed, "TEXT", "TEXT",
            |r| &r.mail, |v| Ok(v);
        state: Text, LifeIndexed, "TEXT", "TEXT",
            |r| r.state.as_str(), |v| RegistrationState::parse(&v).ok_or("state");
        failed_tries: Int, Life, "INTEGER", "BIGINT",
            |r| r.failed_tries.into(), |v| u32::try_from(v).map_err(|_| "count");
        provision_locked: Bool, Life, "INTEGER", "BOOLEAN",
            |r| r.provision_locked, |v| Ok(v);
        verify_failures: Int, Life, "INTEGER", "BIGINT",
            |r| r.verify_failures.into(), |v| u32::try_from(v).map_err(|_| "count");
        verify_locked: Bool, Life, "INTEGER", "BOOLEAN",
            |r| r.verify_locked, |v| Ok(v);
        last_step: OptInt, Life, "INTEGER", "BIGINT",
            |r| r.last_step.map(to_i64),
            |v| v.map(to_u64).transpose().map_err(|()| "step");
        sealed_password: Blob, ClearOnly, "BLOB", "BYTEA",
            |r| &r.sealed_password, |v| Ok(v);
        sealed_seed: OptBlob, Life, "BLOB", "BYTEA",
            |r| r.sealed_seed.as_deref(), |v| Ok(v);
        confirmed_attempt: OptText, Life, "TEXT", "TEXT",
            |r| r.confirmed_attempt.as_deref(), |v| Ok(v);
        issued_at: Int, Fixed, "INTEGER", "BIGINT",
            |r| to_i64(r.issued_at), |v| to_u64(v).map_err(|()| "time");
        expires_at: Int, Life, "INTEGER", "BIGINT",
            |r| to_i64(r.expires_at), |v| to_u64(v).map_err(|()| "time");
        confirmed_at: OptInt, Life, "INTEGER", "BIGINT",
            |r| r.confirmed_at.map(to_i64),
            |v| v.map(to_u64).transpose().map_err(|()| "time");
        delivered_at: OptInt, Life, "INTEGER", "BIGINT",
            |r| r.delivered_at.map(to_i64),
            |v| v.map(to_u64).transpose().map_err(|()| "time");
        in_use_at: OptInt, Life, "INTEGER", "BIGINT",
            |r| r.in_use_at.map(to_i64),
            |v| v.map(to_u64).transpose().map_err(|()| "time");
        ended_at: OptInt, Life, "INTEGER", "BIGINT",
            |r| r.ended_at.map(to_i64),
            |v| v.map(to_u64).transpose().map_err(|()| "time");
        demo: Bool, Fixed, "INTEGER", "BOOLEAN",
            |r| r.demo, |v| Ok(v);
        rev: Int, Revision, "INTEGER", "BIGINT",
            |r| to_i64(r.rev), |v| to_u64(v).map_err(|()| "revision");
        drift_steps: Int, Life, "INTEGER", "BIGINT",
            |r| r.drift_steps, |v| Ok(v);
        verify_window_failures: Int, Life, "INTEGER", "BIGINT",
            |r| r.verify_window_failures.into(), |v| u32::try_from(v).map_err(|_| "count");
        verify_window_start: OptInt, Life, "INTEGER", "BIGINT",
            |r| r.verify_window_start.map(to_i64),
            |v| v.map(to_u64).transpose().map_err(|()| "time");
    }
    TotpParams {
        algorithm: Text, Fixed, "TEXT", "TEXT",
            |r| algorithm_name(r.params.algorithm), |v| parse_algorithm(&v).ok_or("algorithm");
        digits: Int, Fixed, "INTEGER", "BIGINT",
            |r| r.params.digits.into(), |v| u8::try_from(v).map_err(|_| "digits");
        period: Int, Fixed, "INTEGER", "BIGINT",
            |r| r.params.period.into(), |v| u32::try_from(v).map_err(|_| "period");
    }
}

/// The declared columns' names, comma-separated in declaration order (a select list).
pub(in crate::storage) fn names() -> String {
    names_where(|_| true)
}

/// The names of the declared columns that `keep` keeps, comma-separated in order.
pub(in crate::storage) fn names_where(keep: impl Fn(&Column) -> bool) -> String {
    COLUMNS.iter().filter(|c| keep(c)).map(|c| c.name).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A row of the declared columns, in declaration order, from a registration's own values.
    struct Echo(Vec<Value<'static>>);

    impl Cells for Echo {
        fn cell<T: Stored>(&self, at: usize) -> Result<T> {
            // Through SQLite's own conversion, so the test needs no second reader.
            let value = match self.0[at] {
                Value::Text(v) => rusqlite::types::Value::Text(v.into()),
                Value::OptText(v) => v.map_or(rusqlite::types::Value::Null, |v| {
                    rusqlite::types::Value::Text(v.into())
                }),
                Value::Int(v) => rusqlite::types::Value::Integer(v),
                Value::OptInt(v) => {
                    v.map_or(rusqlite::types::Value::Null, rusqlite::types::Value::Integer)
                }
                Value::Bool(v) => rusqlite::types::Value::Integer(v.into()),
                Value::Blob(v) => rusqlite::types::Value::Blob(v.into()),
                Value::OptBlob(v) => v.map_or(rusqlite::types::Value::Null, |v| {
                    rusqlite::types::Value::Blob(v.into())
                }),
            };
            let value = rusqlite::types::ValueRef::from(&value);
            T::column_result(value).map_err(|e| Error::Storage(e.to_string()))
        }
    }

    #[test]
    fn every_field_of_a_registration_comes_back_from_its_own_column() {
        let mut r = Registration::sample("999800000001");
        r.state = RegistrationState::InUse;
        r.params = TotpParams { algorithm: Algorithm::Sha512, digits: 8, period: 30 };
        (r.failed_tries, r.verify_failures, r.provision_locked, r.verify_locked) =
            (2, 3, true, true);
        (r.last_step, r.drift_steps, r.rev) = (Some(77), -4, 9);
        (r.verify_window_failures, r.verify_window_start) = (6, Some(5));
        r.sealed_seed = Some(vec![4, 5]);
        r.confirmed_attempt = Some("att".into());
        (r.confirmed_at, r.delivered_at, r.in_use_at, r.ended_at) =
            (Some(1), Some(2), Some(3), Some(4));
        r.demo = true;
        let r: &'static Registration = Box::leak(Box::new(r));
        // Reversed, so that each column is found by its name and not by its place.
        let row = Echo(COLUMNS.iter().rev().map(|c| (c.value)(r)).collect());
        let names: Vec<&str> = COLUMNS.iter().rev().map(|c| c.name).collect();
        let at = Positions::resolve(names.len(), |i| names.get(i).copied()).unwrap();
        assert_eq!(&read(&row, &at).unwrap(), r);
    }

    #[test]
    fn a_query_without_a_declared_column_is_refused() {
        let names = ["id", "service_id"];
        assert!(Positions::resolve(names.len(), |i| names.get(i).copied()).is_err());
    }
}
