//! The SQLite backend's own cases: its cache, its WAL, its file and its schema history.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::Path;

use super::*;
use crate::storage::{Freshness, RegistrationState};

fn open(dir: &Path) -> SqliteStorage {
    let mut opts = SqliteOptions::new(dir.join("s.db"));
    opts.audit_key = Some(crate::testing::test_audit_key());
    SqliteStorage::open(opts).unwrap()
}

async fn insert(s: &SqliteStorage, r: Registration) -> Registration {
    match s.insert_registration(r, None, false).await.unwrap() {
        Inserted::Applied(r) => *r,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_database_written_before_drift_tracking_opens_with_its_tokens_undrifted() {
    let dir = tempfile::tempdir().unwrap();
    {
        // The schema as the first release shipped it, with one token in use.
        let conn = rusqlite::Connection::open(dir.path().join("s.db")).unwrap();
        conn.execute_batch(schema::MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO registrations VALUES ('id-1', '10112231', '999800000001', \
             'taro@example.jp', 'in_use', 'SHA1', 6, 60, 0, 0, 0, 0, 42, X'', X'0102', \
             NULL, 100, 200, NULL, NULL, NULL, NULL, 0, 3)",
            [],
        )
        .unwrap();
    }
    let s = open(dir.path());
    let r = s.registration_by_id("id-1").await.unwrap().unwrap();
    assert_eq!((r.last_step, r.drift_steps, r.rev), (Some(42), 0, 3));
    let mut moved = r.clone();
    moved.drift_steps = -7;
    let Updated::Applied(saved) = s.update(Change::registration(moved)).await.unwrap() else {
        panic!("the write must apply")
    };
    assert_eq!(s.registration_by_id("id-1").await.unwrap().unwrap().drift_steps, -7);
    assert_eq!(saved.drift_steps, -7);
}

#[tokio::test]
async fn a_second_process_writing_the_file_makes_stale_writes_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let server = open(dir.path());
    let cli = open(dir.path());
    let r = insert(&server, Registration::sample("999800000001")).await;
    // The server has `r` cached; the CLI ends it behind its back.
    let seen_by_cli =
        cli.registration(&r.service_id, &r.user_id, Freshness::Cached).await.unwrap().unwrap();
    let mut ended = seen_by_cli.clone();
    ended.state = RegistrationState::Ended;
    assert!(matches!(cli.update(Change::registration(ended)).await.unwrap(), Updated::Applied(_)));
    // The cached copy may still say "issued"; the database's answer is the truth, and
    // reading it drops the stale copy.
    let truth = server.registration(&r.service_id, &r.user_id, Freshness::Database).await.unwrap();
    assert_eq!(truth.unwrap().state, RegistrationState::Ended);
    let after =
        server.registration(&r.service_id, &r.user_id, Freshness::Cached).await.unwrap().unwrap();
    assert_eq!(after.state, RegistrationState::Ended);
    let mut stale = r.clone();
    stale.last_step = Some(1);
    assert_eq!(server.update(Change::registration(stale)).await.unwrap(), Updated::Conflict);
    let fresh =
        server.registration(&r.service_id, &r.user_id, Freshness::Cached).await.unwrap().unwrap();
    assert_eq!(fresh.state, RegistrationState::Ended);
    cli.close().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cache_far_smaller_than_the_customers_evicts_without_losing_an_accepted_step() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = SqliteOptions::new(dir.path().join("s.db"));
    opts.cache_capacity = 4;
    let s = Arc::new(SqliteStorage::open(opts).unwrap());
    let mut pairs = Vec::new();
    for i in 0..40 {
        let r = insert(&s, Registration::sample(&format!("9998{i:08}"))).await;
        pairs.push((r.service_id, r.user_id));
    }
    // Three verifiers per customer race through steps 1..=15, each a read and a
    // compare-and-swap as the bank does; every win is recorded.
    let mut tasks = Vec::new();
    for (service, user) in pairs.iter().cloned().flat_map(|p| [p.clone(), p.clone(), p]) {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut won = Vec::new();
            for step in 1..=15u64 {
                loop {
                    let r =
                        s.registration(&service, &user, Freshness::Cached).await.unwrap().unwrap();
                    if r.last_step.is_some_and(|l| l >= step) {
                        break;
                    }
                    let mut next = r;
                    next.last_step = Some(step);
                    if let Updated::Applied(_) = s.update(Change::registration(next)).await.unwrap()
                    {
                        // Answered only after its commit: the file has it already.
                        let disk = s.registration(&service, &user, Freshness::Database).await;
                        assert!(disk.unwrap().unwrap().last_step >= Some(step));
                        won.push(step);
                        break;
                    }
                }
            }
            (user, won)
        }));
    }
    let mut wins: HashMap<String, Vec<u64>> = HashMap::new();
    for t in tasks {
        let (user, won) = t.await.unwrap();
        wins.entry(user.as_str().to_owned()).or_default().extend(won);
    }
    s.close().await;
    let reopened = open(dir.path());
    for (service, user) in &pairs {
        let mut won = wins.remove(user.as_str()).unwrap();
        won.sort_unstable();
        // Each step accepted exactly once, and the last one is on disk.
        assert_eq!(won, (1..=15).collect::<Vec<_>>(), "{user}");
        let on_disk =
            reopened.registration(service, user, Freshness::Cached).await.unwrap().unwrap();
        assert_eq!(on_disk.last_step, Some(15), "{user}");
    }
    reopened.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_wal_stays_bounded_while_verifications_never_pause() {
    use std::sync::atomic::{AtomicBool, Ordering};

    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(open(dir.path()));
    // Rows of about a kilobyte, so most updates dirty a page of their own: with SQLite's
    // checkpoints turned off, the 24,000 updates below grow the WAL to about 62 MB.
    let customers: Vec<Registration> = (0..4_000)
        .map(|i| {
            let mut r = Registration::sample(&format!("9998{i:08}"));
            r.id = format!("id-{i}");
            r.mail = format!("{}@example.jp", "t".repeat(900));
            r
        })
        .collect();
    let pairs: Vec<_> =
        customers.iter().map(|r| (r.service_id.clone(), r.user_id.clone())).collect();
    assert_eq!(s.insert_bulk(customers).await.unwrap(), 4_000);
    let wal = dir.path().join("s.db-wal");
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut largest = 0;
            while !stop.load(Ordering::Relaxed) {
                largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            largest
        })
    };
    let mut tasks = Vec::new();
    for t in 0..64usize {
        let (s, pairs) = (s.clone(), pairs.clone());
        tasks.push(tokio::spawn(async move {
            for k in 0..375usize {
                let (service, user) = &pairs[(t * 7_919 + k * 104_729) % pairs.len()];
                let mut next =
                    s.registration(service, user, Freshness::Cached).await.unwrap().unwrap();
                next.last_step = Some(next.last_step.unwrap_or(0) + 1);
                // A lost race with another task is fine: both wrote a page.
                s.update(Change::registration(next)).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let largest = watcher.join().unwrap();
    // SQLite checkpoints every 1,000 pages and then reuses the WAL from its beginning, up
    // to `journal_size_limit` (16 MiB); the bound leaves room for a batch in flight.
    assert!(largest <= 32 << 20, "the WAL grew to {} MB", largest >> 20);
    s.close().await;
}

#[tokio::test]
async fn reopening_keeps_everything_and_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    let r = insert(&s, Registration::sample("999800000001")).await;
    s.close().await;
    let s = open(dir.path());
    assert_eq!(
        s.registration(&r.service_id, &r.user_id, Freshness::Cached).await.unwrap(),
        Some(r)
    );
    s.close().await;
    let conn = Connection::open(dir.path().join("s.db")).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = SqliteStorage::open(SqliteOptions::new(dir.path().join("s.db"))).unwrap_err();
    assert!(err.to_string().contains("newer"), "{err}");
    let after_close = open(dir.path().join("other").as_path());
    after_close.close().await;
    assert!(matches!(
        after_close.insert_registration(Registration::sample("999800000002"), None, false).await,
        Err(Error::Unavailable)
    ));
}

#[test]
fn the_declared_columns_are_the_migrated_table_s() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(dir.path().join("s.db")).unwrap();
    schema::migrate(&mut conn).unwrap();
    let mut stmt = conn
        .prepare("SELECT name, type, \"notnull\" FROM pragma_table_info('registrations')")
        .unwrap();
    let mut table: Vec<(String, String, bool)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let mut declared: Vec<(String, String, bool)> = crate::storage::columns::COLUMNS
        .iter()
        .map(|c| {
            use crate::storage::columns::Kind;
            let nullable = matches!(c.kind, Kind::OptText | Kind::OptInt | Kind::OptBlob);
            (c.name.to_owned(), c.sqlite.to_owned(), !nullable)
        })
        .collect();
    table.sort();
    declared.sort();
    assert_eq!(declared, table);
}
