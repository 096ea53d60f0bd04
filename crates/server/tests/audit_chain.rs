//! The audit log on PostgreSQL as a bank runs it: the server's runtime role may read and append
//! to the log but neither change nor delete an entry, and instances appending at once keep one
//! chain that `audit verify`'s check walks unbroken.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use softtoken_server::storage::postgres::{runtime_role_grants, PostgresOptions, PostgresStorage};
use softtoken_server::storage::{AuditEntry, ChainCheck, Storage};

fn entry(user: &str) -> AuditEntry {
    AuditEntry {
        id: 0,
        at: 1_800_000_000,
        actor: "credential:clerk-sato".into(),
        origin: "10.0.0.7".into(),
        action: "unlock".into(),
        service_id: Some("10112231".into()),
        user_id: Some(user.into()),
        outcome: "pending".into(),
        refers_to: None,
        key_id: None,
        mac: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_servers_own_database_role_can_append_to_the_audit_log_but_never_change_it() {
    let Some(db) = common::backends::cluster() else { return };
    // The owner (the cluster's superuser here) migrates and gives the runtime role its rights.
    PostgresStorage::open(db.options(), true).await.unwrap().close().await;
    db.psql("CREATE ROLE softtoken_app LOGIN").unwrap();
    db.psql(&runtime_role_grants("softtoken_app")).unwrap();

    let url = db.url().replace("softtoken@", "softtoken_app@");
    let runtime =
        PostgresStorage::open(PostgresOptions { url: url.clone(), ..db.options() }, false)
            .await
            .unwrap();
    let id = runtime.append_audit(entry("999800000001")).await.unwrap();
    assert_eq!(runtime.audit_after(0, 10).await.unwrap().len(), 1);

    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    for sql in [
        format!("UPDATE audit SET outcome = 'ok' WHERE id = {id}"),
        format!("DELETE FROM audit WHERE id = {id}"),
        "TRUNCATE audit".to_owned(),
        "ALTER TABLE audit DISABLE TRIGGER audit_append_only".to_owned(),
    ] {
        let err = client.batch_execute(&sql).await.unwrap_err();
        let state = err.code().map(|c| c.code().to_owned());
        assert!(state.as_deref() == Some("42501"), "{sql}: refused for want of rights, not {err}");
    }
    // The rest of the bank's tables stay writable for it.
    client.batch_execute("DELETE FROM outbox WHERE id < 0").await.unwrap();
    runtime.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_appending_at_once_keep_one_unbroken_chain() {
    let Some(db) = common::backends::cluster() else { return };
    let a = common::backends::postgres_on(db.options()).await;
    let b = common::backends::postgres_on(db.options()).await;
    let mut writers = Vec::new();
    for (n, s) in [a.clone(), b.clone(), a.clone(), b.clone()].into_iter().enumerate() {
        let s: Arc<dyn Storage> = s;
        writers.push(tokio::spawn(async move {
            for i in 0..25 {
                s.append_audit(entry(&format!("9998{n:04}{i:04}"))).await.unwrap();
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let walked = a.audit_after(0, 1000).await.unwrap();
    assert_eq!(walked.len(), 100);
    let key = softtoken_server::testing::test_audit_key();
    let mut check = ChainCheck::new(std::slice::from_ref(&*key));
    for e in &walked {
        check.push(e).unwrap();
    }
    assert_eq!(check.chained, 100);
}
