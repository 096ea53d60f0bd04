//! A bank that upgrades the server keeps its database: a SQLite file written by an earlier
//! server (`fixtures/storage-d584b9b.db`, see `fixtures/README.md`) and a PostgreSQL database
//! built by that server's migrations open with today's code, every field of every
//! registration read back as it was written, and take writes again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::backends;
use softtoken_core::totp::{Algorithm, TotpParams};
use softtoken_server::storage::postgres::PostgresStorage;
use softtoken_server::storage::sqlite::{SqliteOptions, SqliteStorage};
use softtoken_server::storage::{
    AttemptStatus, AuditQuery, Change, Freshness, Registration, RegistrationState, Storage, Updated,
};

/// The registrations the fixture holds, as the earlier server wrote (and printed) them.
fn written_before() -> [Registration; 4] {
    let mut a = Registration::sample("999800000001");
    a.id = "0123456789abcdef0123456789abcdef".into();
    a.mail = "hanako@example.jp".into();
    a.state = RegistrationState::InUse;
    a.params = TotpParams { algorithm: Algorithm::Sha256, digits: 8, period: 30 };
    (a.failed_tries, a.verify_failures) = (2, 3);
    (a.last_step, a.drift_steps) = (Some(1_234_567), -2);
    a.sealed_password = Vec::new();
    a.sealed_seed = Some(vec![1, 2, 3, 4, 5, 6, 7, 8, 9]);
    a.confirmed_attempt = Some("YXR0ZW1wdC0x".into());
    a.expires_at = 86_500;
    (a.confirmed_at, a.delivered_at, a.in_use_at) = (Some(150), Some(160), Some(170));
    a.rev = 2;

    let mut b = Registration::sample("999800000002");
    b.id = "11111111111111111111111111111111".into();
    b.state = RegistrationState::Ended;
    b.ended_at = Some(300);
    b.rev = 4;

    let mut c = Registration::sample("999800000002");
    c.id = "22222222222222222222222222222222".into();
    c.params = TotpParams { algorithm: Algorithm::Sha512, digits: 6, period: 60 };
    (c.failed_tries, c.provision_locked, c.verify_failures, c.verify_locked) = (5, true, 10, true);
    c.drift_steps = 4;
    (c.issued_at, c.expires_at) = (400, 500);
    c.rev = 5;

    let mut d = Registration::sample("999900000000");
    d.id = "33333333333333333333333333333333".into();
    d.demo = true;
    d.rev = 6;
    [a, b, c, d]
}

/// Every registration reads back equal, by pair at each freshness and by id, and a write
/// applies on top of what was read.
async fn reads_back_everything(s: &dyn Storage) {
    let [a, b, c, d] = written_before();
    for r in [&a, &b, &c, &d] {
        assert_eq!(s.registration_by_id(&r.id).await.unwrap().as_ref(), Some(r));
    }
    for r in [&a, &c, &d] {
        for freshness in [Freshness::Database, Freshness::Cached, Freshness::Hint] {
            let newest = s.registration(&r.service_id, &r.user_id, freshness).await.unwrap();
            assert_eq!(newest.as_ref(), Some(r), "{freshness:?}");
        }
    }
    assert_eq!(s.registrations_after("", 10).await.unwrap(), vec![a.clone(), b, c, d]);
    let attempt = s.attempt("YXR0ZW1wdC0x").await.unwrap().unwrap();
    assert_eq!(
        (attempt.registration_id.as_str(), attempt.status),
        (a.id.as_str(), AttemptStatus::Confirmed)
    );
    let pending = s.sealed_attempts_after("", 10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!((pending[0].created_at, pending[0].sealed.as_deref()), (410, Some(&[7; 16][..])));
    let mail = s.outbox(10).await.unwrap();
    assert_eq!((mail.len(), mail[0].to.as_str()), (1, "hanako@example.jp"));
    let audit = s.audit(AuditQuery { limit: 10, ..AuditQuery::default() }).await.unwrap();
    assert_eq!(
        (audit.len(), audit[0].action.as_str(), audit[0].outcome.as_str()),
        (1, "end", "ok")
    );

    let mut next = a.clone();
    next.last_step = Some(1_234_568);
    let Updated::Applied(saved) = s.update(Change::registration(next)).await.unwrap() else {
        panic!("a write on a registration of the earlier server must apply")
    };
    assert!(saved.rev > a.rev);
    let stored = s.registration(&a.service_id, &a.user_id, Freshness::Database).await.unwrap();
    assert_eq!(stored.unwrap(), Registration { last_step: Some(1_234_568), rev: saved.rev, ..a });
}

#[tokio::test]
async fn a_sqlite_database_written_by_the_earlier_server_opens_with_every_field_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bank.db");
    std::fs::write(&path, include_bytes!("fixtures/storage-d584b9b.db")).unwrap();
    let s = SqliteStorage::open(SqliteOptions::new(&path)).unwrap();
    reads_back_everything(&s).await;
    s.close().await;
}

/// PostgreSQL's migrations as the earlier server shipped them (`postgres/schema.rs` at
/// d584b9b), and its record of them, copied here unchanged.
const SCHEMA_D584B9B: &str = r#"
CREATE TABLE softtoken_schema (version BIGINT PRIMARY KEY);
CREATE TABLE registrations (
    seq               BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    id                TEXT PRIMARY KEY,
    service_id        TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    mail              TEXT NOT NULL,
    state             TEXT NOT NULL
                      CHECK (state IN ('issued', 'confirmed', 'delivered', 'in_use', 'ended')),
    algorithm         TEXT NOT NULL,
    digits            BIGINT NOT NULL,
    period            BIGINT NOT NULL,
    failed_tries      BIGINT NOT NULL,
    provision_locked  BOOLEAN NOT NULL,
    verify_failures   BIGINT NOT NULL,
    verify_locked     BOOLEAN NOT NULL,
    last_step         BIGINT,
    sealed_password   BYTEA NOT NULL,
    sealed_seed       BYTEA,
    confirmed_attempt TEXT,
    issued_at         BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL,
    confirmed_at      BIGINT,
    delivered_at      BIGINT,
    in_use_at         BIGINT,
    ended_at          BIGINT,
    demo              BOOLEAN NOT NULL,
    rev               BIGINT NOT NULL,
    -- Each token's clock drift in time steps, learnt from accepted codes and set by a resync.
    drift_steps       BIGINT NOT NULL DEFAULT 0
);
CREATE SEQUENCE registration_rev;
CREATE UNIQUE INDEX registrations_active ON registrations (service_id, user_id)
    WHERE state <> 'ended';
CREATE INDEX registrations_pair ON registrations (service_id, user_id, seq);

CREATE TABLE attempts (
    id              TEXT PRIMARY KEY,
    registration_id TEXT NOT NULL REFERENCES registrations (id),
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'spent', 'confirmed')),
    sealed          BYTEA
);
CREATE INDEX attempts_registration ON attempts (registration_id);
CREATE INDEX attempts_expiry ON attempts (expires_at) WHERE status <> 'confirmed';

CREATE TABLE outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    registration_id TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
INSERT INTO softtoken_schema (version) VALUES (1);

CREATE TABLE audit (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    origin     TEXT NOT NULL,
    action     TEXT NOT NULL,
    service_id TEXT,
    user_id    TEXT,
    outcome    TEXT NOT NULL
);
CREATE INDEX audit_pair ON audit (service_id, user_id, id);
INSERT INTO softtoken_schema (version) VALUES (2);
"#;

/// The fixture's rows, as the earlier server's statements stored them.
const ROWS_D584B9B: &str = r#"
INSERT INTO registrations (id, service_id, user_id, mail, state, algorithm, digits, period,
    failed_tries, provision_locked, verify_failures, verify_locked, last_step, sealed_password,
    sealed_seed, confirmed_attempt, issued_at, expires_at, confirmed_at, delivered_at,
    in_use_at, ended_at, demo, rev, drift_steps) VALUES
('0123456789abcdef0123456789abcdef', '10112231', '999800000001', 'hanako@example.jp',
    'in_use', 'SHA256', 8, 30, 2, false, 3, false, 1234567, '\x', '\x010203040506070809',
    'YXR0ZW1wdC0x', 100, 86500, 150, 160, 170, NULL, false, 2, -2),
('11111111111111111111111111111111', '10112231', '999800000002', 'taro@example.jp',
    'ended', 'SHA1', 6, 60, 0, false, 0, false, NULL, '\x010203', NULL, NULL, 100, 200, NULL,
    NULL, NULL, 300, false, 4, 0),
('22222222222222222222222222222222', '10112231', '999800000002', 'taro@example.jp',
    'issued', 'SHA512', 6, 60, 5, true, 10, true, NULL, '\x010203', NULL, NULL, 400, 500,
    NULL, NULL, NULL, NULL, false, 5, 4),
('33333333333333333333333333333333', '10112231', '999900000000', 'taro@example.jp',
    'issued', 'SHA1', 6, 60, 0, false, 0, false, NULL, '\x010203', NULL, NULL, 100, 200, NULL,
    NULL, NULL, NULL, true, 6, 0);
SELECT setval('registration_rev', 6);
INSERT INTO attempts (id, registration_id, created_at, expires_at, status, sealed) VALUES
('YXR0ZW1wdC0x', '0123456789abcdef0123456789abcdef', 140, 440, 'confirmed', NULL),
('YXR0ZW1wdC0y', '22222222222222222222222222222222', 410, 710, 'pending',
    '\x07070707070707070707070707070707');
INSERT INTO outbox (registration_id, recipient, subject, body, created_at) VALUES
('0123456789abcdef0123456789abcdef', 'hanako@example.jp', 'Your token',
    'service 10112231, user 999800000001', 100);
INSERT INTO audit (at, actor, origin, action, service_id, user_id, outcome) VALUES
(290, 'cli', 'uid 0 (root)', 'end', '10112231', '999800000002', 'ok');
"#;

#[tokio::test]
async fn a_postgres_database_migrated_by_the_earlier_server_opens_with_every_field_as_written() {
    let Some(db) = backends::cluster() else { return };
    db.psql(SCHEMA_D584B9B).unwrap();
    db.psql(ROWS_D584B9B).unwrap();
    // It lacks the confirmations, the credentials, the day's failure window and the audit
    // chain (steps 3–6): an
    // instance that does not migrate refuses it and changes nothing; migrating adds the steps
    // and keeps every field as written.
    let refused = PostgresStorage::open(db.options(), false).await.unwrap_err();
    assert!(refused.to_string().contains("older than this server"), "{refused}");
    assert_eq!(db.psql("SELECT count(*), max(version) FROM softtoken_schema").unwrap(), "2|2");
    let s = PostgresStorage::open(db.options(), true).await.unwrap();
    reads_back_everything(&s).await;
    s.close().await;
    assert_eq!(db.psql("SELECT count(*), max(version) FROM softtoken_schema").unwrap(), "7|7");
}
