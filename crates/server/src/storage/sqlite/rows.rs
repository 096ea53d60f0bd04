//! Registrations and attempts to and from table rows.

use rusqlite::{params, Connection, OptionalExtension, Row};
use softtoken_core::ids::{ServiceId, UserId};
use softtoken_core::totp::{Algorithm, TotpParams};

use crate::error::{Error, Result};
use crate::storage::{Registration, RegistrationState};

pub(super) const REGISTRATION_COLUMNS: &str =
    "id, service_id, user_id, mail, state, algorithm, digits, \
    period, failed_tries, provision_locked, verify_failures, verify_locked, last_step, \
    sealed_password, sealed_seed, confirmed_attempt, issued_at, expires_at, confirmed_at, \
    delivered_at, in_use_at, ended_at, demo, rev, drift_steps";

pub(super) fn get_u64(row: &Row<'_>, i: usize) -> rusqlite::Result<u64> {
    let v: i64 = row.get(i)?;
    u64::try_from(v).map_err(|_| bad_column(i, "negative number"))
}

pub(super) fn get_opt_u64(row: &Row<'_>, i: usize) -> rusqlite::Result<Option<u64>> {
    let v: Option<i64> = row.get(i)?;
    v.map(|v| u64::try_from(v).map_err(|_| bad_column(i, "negative number"))).transpose()
}

pub(super) fn bad_column(i: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        i,
        rusqlite::types::Type::Text,
        format!("invalid {what} in the database").into(),
    )
}

pub(in crate::storage) fn to_i64(v: u64) -> i64 {
    // Times, steps and revisions stay far below 2^63; saturate rather than wrap if a bug
    // ever produced one.
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(in crate::storage) fn algorithm_name(a: Algorithm) -> &'static str {
    match a {
        Algorithm::Sha1 => "SHA1",
        Algorithm::Sha256 => "SHA256",
        Algorithm::Sha512 => "SHA512",
    }
}

pub(in crate::storage) fn parse_algorithm(s: &str) -> Option<Algorithm> {
    match s {
        "SHA1" => Some(Algorithm::Sha1),
        "SHA256" => Some(Algorithm::Sha256),
        "SHA512" => Some(Algorithm::Sha512),
        _ => None,
    }
}

pub(super) fn registration_from_row(row: &Row<'_>) -> rusqlite::Result<Registration> {
    let service: String = row.get(1)?;
    let user: String = row.get(2)?;
    Ok(Registration {
        id: row.get(0)?,
        service_id: ServiceId::new(&service).map_err(|_| bad_column(1, "service ID"))?,
        user_id: UserId::new(&user).map_err(|_| bad_column(2, "user ID"))?,
        mail: row.get(3)?,
        state: RegistrationState::parse(&row.get::<_, String>(4)?)
            .ok_or_else(|| bad_column(4, "state"))?,
        params: TotpParams {
            algorithm: parse_algorithm(&row.get::<_, String>(5)?)
                .ok_or_else(|| bad_column(5, "algorithm"))?,
            digits: u8::try_from(row.get::<_, i64>(6)?).map_err(|_| bad_column(6, "digits"))?,
            period: u32::try_from(row.get::<_, i64>(7)?).map_err(|_| bad_column(7, "period"))?,
        },
        failed_tries: u32::try_from(row.get::<_, i64>(8)?).map_err(|_| bad_column(8, "count"))?,
        provision_locked: row.get(9)?,
        verify_failures: u32::try_from(row.get::<_, i64>(10)?)
            .map_err(|_| bad_column(10, "count"))?,
        verify_locked: row.get(11)?,
        last_step: get_opt_u64(row, 12)?,
        sealed_password: row.get(13)?,
        sealed_seed: row.get(14)?,
        confirmed_attempt: row.get(15)?,
        issued_at: get_u64(row, 16)?,
        expires_at: get_u64(row, 17)?,
        confirmed_at: get_opt_u64(row, 18)?,
        delivered_at: get_opt_u64(row, 19)?,
        in_use_at: get_opt_u64(row, 20)?,
        ended_at: get_opt_u64(row, 21)?,
        demo: row.get(22)?,
        rev: get_u64(row, 23)?,
        drift_steps: row.get(24)?,
    })
}

pub(super) fn newest_registration(
    conn: &Connection,
    service: &str,
    user: &str,
) -> Result<Option<Registration>> {
    let sql = format!(
        "SELECT {REGISTRATION_COLUMNS} FROM registrations \
         WHERE service_id = ?1 AND user_id = ?2 ORDER BY rowid DESC LIMIT 1"
    );
    conn.prepare_cached(&sql)?
        .query_row([service, user], registration_from_row)
        .optional()
        .map_err(Error::from)
}

pub(super) fn insert_registration_row(
    conn: &Connection,
    r: &Registration,
) -> rusqlite::Result<usize> {
    let sql = format!(
        "INSERT INTO registrations ({REGISTRATION_COLUMNS}) VALUES \
         (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, \
          ?20, ?21, ?22, ?23, ?24, ?25)"
    );
    conn.prepare_cached(&sql)?.execute(params![
        r.id,
        r.service_id.as_str(),
        r.user_id.as_str(),
        r.mail,
        r.state.as_str(),
        algorithm_name(r.params.algorithm),
        r.params.digits,
        r.params.period,
        r.failed_tries,
        r.provision_locked,
        r.verify_failures,
        r.verify_locked,
        r.last_step.map(to_i64),
        r.sealed_password,
        r.sealed_seed,
        r.confirmed_attempt,
        to_i64(r.issued_at),
        to_i64(r.expires_at),
        r.confirmed_at.map(to_i64),
        r.delivered_at.map(to_i64),
        r.in_use_at.map(to_i64),
        r.ended_at.map(to_i64),
        r.demo,
        to_i64(r.rev),
        r.drift_steps,
    ])
}

/// Writes the mutable columns if the row still has `expected` revision (the activation
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
    // Every column the two statements write but `state`, written once for both.
    macro_rules! set_all_but_state {
        () => {
            "failed_tries = ?3, provision_locked = ?4, verify_failures = ?5, \
             verify_locked = ?6, last_step = ?7, sealed_seed = ?8, confirmed_attempt = ?9, \
             expires_at = ?10, confirmed_at = ?11, delivered_at = ?12, in_use_at = ?13, \
             ended_at = ?14, rev = ?15, drift_steps = ?18, \
             sealed_password = CASE WHEN length(?17) = 0 THEN X'' ELSE sealed_password END"
        };
    }
    const SAME_STATE: &str = concat!(
        "UPDATE registrations SET ",
        set_all_but_state!(),
        " WHERE id = ?1 AND rev = ?16 AND state = ?2"
    );
    const NEW_STATE: &str = concat!(
        "UPDATE registrations SET state = ?2, ",
        set_all_but_state!(),
        " WHERE id = ?1 AND rev = ?16"
    );
    let values = params![
        r.id,
        r.state.as_str(),
        r.failed_tries,
        r.provision_locked,
        r.verify_failures,
        r.verify_locked,
        r.last_step.map(to_i64),
        r.sealed_seed,
        r.confirmed_attempt,
        to_i64(r.expires_at),
        r.confirmed_at.map(to_i64),
        r.delivered_at.map(to_i64),
        r.in_use_at.map(to_i64),
        r.ended_at.map(to_i64),
        to_i64(r.rev),
        to_i64(expected),
        // An update only ever clears the activation password, never writes one back.
        r.sealed_password,
        r.drift_steps,
    ];
    match conn.prepare_cached(SAME_STATE)?.execute(values)? {
        0 => conn.prepare_cached(NEW_STATE)?.execute(values),
        n => Ok(n),
    }
}

pub(super) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation
    )
}
