//! Several instances of the bank on one PostgreSQL database, as behind a load balancer: every
//! rule that protects customers holds across them, and a database that is down or busy gets
//! a clear `503` with `Retry-After`, never a hang, and recovery without a restart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{code_at, provision_with, Server, Setup, SERVICE};
use serde_json::json;
use softtoken_core::ids::{ActivationPassword, ServiceId, TokenId, UserId};
use softtoken_server::bank::{Policy, RotationCursor};
use softtoken_server::clock::ManualClock;
use softtoken_server::sealed::MasterKey;

async fn three() -> Option<(softtoken_server::testing::postgres::PgCluster, Vec<Server>)> {
    Server::instances(Setup::default, |_| {}, 3).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_code_sent_to_three_instances_at_once_is_accepted_exactly_once() {
    let Some((_db, servers)) = three().await else { return };
    for round in 0..4 {
        let user = servers[0].issue(None, "4821").await;
        let (token, _) =
            provision_with(&servers[1].client(), &user, "4821", servers[1].now()).await.unwrap();
        let code = servers[2].code(&token);
        // Two each: a replay counts as a wrong code, and ten of those would lock the token.
        let calls = (0..6).map(|i| {
            let server = &servers[i % 3];
            server.verify(&user, &code)
        });
        let answers = common::join_all(calls).await;
        let accepted = answers.iter().filter(|(_, a)| a["accepted"] == true).count();
        assert_eq!(accepted, 1, "round {round}: {answers:?}");
        assert!(answers.iter().all(|(s, _)| *s == 200), "{answers:?}");
        // Every instance now sees the step as used.
        for server in &servers {
            let (_, again) = server.verify(&user, &code).await;
            assert_eq!(again["accepted"], false, "{again}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_passwords_sent_through_different_instances_at_once_are_each_counted() {
    let setup = || Setup {
        // Room for all nine starts at once: the cap on open attempts would otherwise drop the
        // oldest before their confirms arrive.
        policy: Policy { provision_max_tries: 10, max_open_attempts: 10, ..Policy::default() },
        ..Setup::default()
    };
    let Some((_db, servers)) = Server::instances(setup, |_| {}, 3).await else { return };
    let user = servers[0].issue(None, "4821").await;
    let wrong = (0..9).map(|i| {
        let server = &servers[i % 3];
        let user = &user;
        async move { provision_with(&server.client(), user, "0000", server.now()).await }
    });
    let outcomes = common::join_all(wrong).await;
    assert!(outcomes.iter().all(|o| o.is_err()), "{outcomes:?}");
    for server in &servers {
        let status = server.status(&user).await;
        assert_eq!(
            (status["failed_tries"].as_u64(), status["provision_locked"].as_bool()),
            (Some(9), Some(false)),
            "{status}"
        );
    }
    // The tenth, through any instance, locks the registration for all of them.
    assert!(provision_with(&servers[2].client(), &user, "0000", servers[2].now()).await.is_err());
    for server in &servers {
        assert_eq!(server.status(&user).await["provision_locked"], true);
    }
    assert!(provision_with(&servers[0].client(), &user, "4821", servers[0].now()).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn setup_confirmed_through_one_instance_acked_through_another_and_used_through_a_third() {
    let Some((_db, servers)) = three().await else { return };
    for _ in 0..3 {
        let user = servers[0].issue(None, "4821").await;
        let confirmed = servers[0]
            .client()
            .handshake(
                &ServiceId::new(SERVICE).unwrap(),
                &UserId::new(&user).unwrap(),
                &ActivationPassword::new("4821").unwrap(),
                servers[0].now(),
            )
            .await
            .unwrap();
        let acked = servers[1].client().ack(confirmed.ack.stored(TokenId::random().unwrap())).await;
        assert!(acked.is_delivered(), "{:?}", acked.delivery);
        // Right after delivery, through the instance that took no part: the code is accepted,
        // never refused as "not delivered" from a stale copy.
        let (status, answer) = servers[2].verify(&user, &servers[2].code(&confirmed.token)).await;
        assert_eq!((status, &answer["accepted"]), (200, &serde_json::json!(true)), "{answer}");
        assert_eq!(servers[0].status(&user).await["state"], "in_use");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_instance_that_last_saw_a_token_follows_what_another_instance_did_to_it_since() {
    let Some((_db, servers)) = Server::instances(Setup::default, |_| {}, 2).await else { return };
    let (a, b) = (&servers[0], &servers[1]);
    let user = a.issue(None, "4821").await;
    let (token, _) = a.provision(&user, "4821").await.unwrap();
    let now = a.now();
    let accepted =
        |answer: &(u16, serde_json::Value)| answer.0 == 200 && answer.1["accepted"] == true;
    // A accepts a code and keeps its copy; B accepts the next step's code behind A's back.
    assert!(accepted(&a.verify(&user, &code_at(&token, now)).await));
    assert!(accepted(&b.verify(&user, &code_at(&token, now + 60)).await));
    // A's copy still has the older step: the code B accepted is a replay all the same.
    let replay = a.verify(&user, &code_at(&token, now + 60)).await;
    assert_eq!((replay.0, &replay.1["reason"]), (200, &json!("replayed")), "{replay:?}");
    // Locked through A, unlocked through B: A accepts the next code at once, never refusing it
    // as locked from its copy.
    let right = code_at(&token, now + 120);
    let wrong: String = right.bytes().map(|b| char::from(b'0' + (b - b'0' + 5) % 10)).collect();
    let mut last = (0, json!(null));
    for _ in 0..10 {
        last = a.verify(&user, &wrong).await;
    }
    assert_eq!(last.1["code"], "locked", "{last:?}");
    let (unlocked, body) =
        b.admin_post(&format!("/v1/admin/registrations/{SERVICE}/{user}/unlock"), json!({})).await;
    assert_eq!(unlocked, 200, "{body}");
    assert!(accepted(&a.verify(&user, &right).await));
    // Ended through B: A refuses the next code, though its copy says the token is in use.
    let (ended, body) =
        b.admin_post(&format!("/v1/admin/registrations/{SERVICE}/{user}/revoke"), json!({})).await;
    assert_eq!(ended, 200, "{body}");
    let after = a.verify(&user, &code_at(&token, now + 180)).await;
    assert_eq!(after.1["code"], "ended", "{after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopped_database_gets_503_with_retry_after_and_the_instance_recovers_when_it_is_back() {
    let Some((mut db, servers)) =
        Server::instances(Setup::default, |o| o.wait = Duration::from_millis(500), 1).await
    else {
        return;
    };
    let server = &servers[0];
    let user = server.issue(None, "4821").await;
    let (token, _) = server.provision(&user, "4821").await.unwrap();
    let health = |base: &str, path: &str| {
        let request = server.http.get(format!("{base}{path}")).send();
        async move { tokio::time::timeout(Duration::from_secs(20), request).await }
    };
    for base in [&server.url, &server.admin_url] {
        assert_eq!(health(base, "/healthz").await.unwrap().unwrap().status(), 200);
    }
    tokio::task::block_in_place(|| db.stop());
    // The load balancer's readiness check says so (and sends customers elsewhere); liveness
    // does not, so nothing restarts an instance that only waits for its database.
    for base in [&server.url, &server.admin_url] {
        let ready = health(base, "/healthz").await.expect("a readiness check is answered").unwrap();
        assert_eq!(ready.status(), 503, "{base}");
        assert!(ready.headers().contains_key("retry-after"));
        assert_eq!(health(base, "/livez").await.unwrap().unwrap().status(), 200, "{base}");
    }
    let answer = tokio::time::timeout(
        Duration::from_secs(20),
        server
            .http
            .post(format!("{}/v1/admin/verify", server.admin_url))
            .bearer_auth(common::ADMIN_TOKEN)
            .json(&serde_json::json!({ "service_id": SERVICE, "user_id": user, "code": server.code(&token) }))
            .send(),
    )
    .await
    .expect("a request while the database is down is answered, not left hanging")
    .unwrap();
    assert_eq!(answer.status(), 503);
    assert_eq!(answer.headers()["retry-after"], "2");
    assert_eq!(answer.json::<serde_json::Value>().await.unwrap()["code"], "unavailable");
    tokio::task::block_in_place(|| db.run()).unwrap();
    assert_eq!(health(&server.url, "/healthz").await.unwrap().unwrap().status(), 200);
    // The same instance, not restarted, serves again; the refused code was never accepted.
    let (status, answer) = server.verify(&user, &server.code(&token)).await;
    assert_eq!((status, &answer["accepted"]), (200, &serde_json::json!(true)), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_exhausted_pool_gets_503_with_retry_after_instead_of_a_hang() {
    let pool = |o: &mut softtoken_server::storage::postgres::PostgresOptions| {
        o.pool_size = 1;
        o.wait = Duration::from_millis(300);
    };
    let Some((db, servers)) = Server::instances(Setup::default, pool, 1).await else { return };
    let server = &servers[0];
    let user = server.issue(None, "4821").await;
    // Another client holds the table: the instance's only connection waits on it.
    let (locker, connection) =
        tokio_postgres::connect(&db.url(), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    locker.batch_execute("BEGIN; LOCK TABLE registrations IN ACCESS EXCLUSIVE MODE").await.unwrap();
    let first = tokio::spawn({
        let http = server.http.clone();
        let url = format!("{}/v1/admin/registrations/{SERVICE}/{user}", server.admin_url);
        async move { http.get(url).bearer_auth(common::ADMIN_TOKEN).send().await.unwrap().status() }
    });
    // Wait until the first request holds the only connection.
    while db.psql("SELECT count(*) FROM pg_locks WHERE NOT granted").unwrap() == "0" {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let second = tokio::time::timeout(
        Duration::from_secs(10),
        server
            .http
            .get(format!("{}/v1/admin/registrations/{SERVICE}/{user}", server.admin_url))
            .bearer_auth(common::ADMIN_TOKEN)
            .send(),
    )
    .await
    .expect("a request finding no free connection is answered, not left hanging")
    .unwrap();
    assert_eq!(second.status(), 503);
    assert_eq!(second.headers()["retry-after"], "2");
    locker.batch_execute("COMMIT").await.unwrap();
    assert_eq!(first.await.unwrap(), 200);
    assert_eq!(server.status(&user).await["state"], "issued");
}

/// Two instances whose batches of verify writes cover the same customers in opposite order:
/// neither waits on the other for ever (PostgreSQL would break such a deadlock after a second
/// by failing one batch), and each customer's code is still taken once. The batch locks its
/// rows in id order whatever plan PostgreSQL picks; with today's plan the rows happen to be
/// taken in order even without it, so this guards the property rather than that clause.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_writing_the_same_customers_at_once_neither_deadlock_nor_both_apply() {
    use softtoken_server::storage::{Change, Inserted, Registration, Storage, Updated};
    let Some(db) = common::backends::cluster() else { return };
    let a = common::backends::postgres_on(db.options()).await;
    let b = common::backends::postgres_on(db.options()).await;
    let mut rows = Vec::new();
    for i in 0..80u64 {
        let r = Registration::sample(&format!("9997{i:08}"));
        match a.insert_registration(r, None, false).await.unwrap() {
            Inserted::Applied(r) => rows.push(*r),
            other => panic!("{other:?}"),
        }
    }
    for round in 0..5u64 {
        let write = |s: std::sync::Arc<softtoken_server::storage::postgres::PostgresStorage>,
                     r: &Registration| {
            let mut w = r.clone();
            w.last_step = Some(100 + round);
            tokio::spawn(async move { (w.id.clone(), s.update(Change::registration(w)).await) })
        };
        // One instance in the customers' order, the other in reverse, all at once.
        let mut writes: Vec<_> = rows.iter().map(|r| write(a.clone(), r)).collect();
        writes.extend(rows.iter().rev().map(|r| write(b.clone(), r)));
        let mut applied = std::collections::HashSet::new();
        for w in writes {
            let (id, outcome) = w.await.unwrap();
            match outcome.expect("no batch fails (a deadlock would fail one)") {
                Updated::Applied(_) => {
                    assert!(applied.insert(id), "applied twice in round {round}")
                }
                Updated::Conflict => {}
            }
        }
        assert_eq!(applied.len(), rows.len(), "round {round}");
        for r in &mut rows {
            *r = a
                .registration(
                    &r.service_id,
                    &r.user_id,
                    softtoken_server::storage::Freshness::Cached,
                )
                .await
                .unwrap()
                .unwrap();
            assert_eq!(r.last_step, Some(100 + round));
        }
    }
}

/// Every instance takes part in a setup begun through another and accepts every customer's
/// code: a registration issued through each instance, confirmed through the next and acked
/// through the first, then each customer's next code through every instance in turn.
async fn every_instance_serves_every_customer(
    servers: &[Server],
    customers: &mut Vec<(String, softtoken_core::protocol::NewToken)>,
    clock: &ManualClock,
) {
    let n = servers.len();
    for i in 0..n {
        let (a, b) = (&servers[i], &servers[(i + 1) % n]);
        let user = a.issue(None, "4821").await;
        let confirmed = b
            .client()
            .handshake(
                &ServiceId::new(SERVICE).unwrap(),
                &UserId::new(&user).unwrap(),
                &ActivationPassword::new("4821").unwrap(),
                b.now(),
            )
            .await
            .unwrap();
        let acked = a.client().ack(confirmed.ack.stored(TokenId::random().unwrap())).await;
        assert!(acked.is_delivered(), "{:?}", acked.delivery);
        customers.push((user, confirmed.token));
    }
    for server in servers {
        clock.advance(60); // the next step: each code once
        for (user, token) in customers.iter() {
            let (status, answer) = server.verify(user, &code_at(token, server.now())).await;
            assert_eq!((status, &answer["accepted"]), (200, &json!(true)), "{answer}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_master_key_rotated_in_the_documented_order_never_answers_a_customer_with_a_500() {
    let Some(cluster) = common::backends::cluster() else { return };
    let clock = ManualClock::new(common::test_epoch());
    let hex = || MasterKey::generate().unwrap().to_hex().to_string();
    let (old, new) = (hex(), hex());
    let new_id = MasterKey::parse(&new).unwrap().id().to_string();
    let start = |key: &String, previous: &[&String]| {
        let (cluster, clock) = (&cluster, &clock);
        let (key, previous) =
            (key.clone(), previous.iter().map(|k| (*k).clone()).collect::<Vec<_>>());
        async move {
            let previous: Vec<&String> = previous.iter().collect();
            Server::instance(cluster, clock, &key, &previous).await
        }
    };
    let mut servers = vec![start(&old, &[]).await.unwrap(), start(&old, &[]).await.unwrap()];
    let mut customers = Vec::new();
    every_instance_serves_every_customer(&servers, &mut customers, &clock).await;

    // 1. The new key deployed as a previous key, one instance restarted after the other.
    for i in 0..2 {
        servers[i] = start(&old, &[&new]).await.unwrap();
        every_instance_serves_every_customer(&servers, &mut customers, &clock).await;
    }
    // 2. Made current, one instance after the other; the other still seals under the old key.
    servers[0] = start(&new, &[&old]).await.unwrap();
    every_instance_serves_every_customer(&servers, &mut customers, &clock).await;
    // An instance started without the new key (the order this replaces) is refused, and says
    // which key it lacks, rather than answer 500 to the customers sealed under it.
    let refused = start(&old, &[]).await.err().expect("an instance lacking the new key started");
    assert!(refused.contains(&format!("master key id {new_id}")), "{refused}");
    assert!(refused.contains("previous_master_key_files"), "{refused}");
    servers[1] = start(&new, &[&old]).await.unwrap();
    every_instance_serves_every_customer(&servers, &mut customers, &clock).await;

    // 3. `rotate-key` while both serve, then 4. the old key dropped, one instance after the other.
    let bank = servers[0].state.bank().clone();
    let mut cursor = RotationCursor::default();
    while !cursor.done() {
        bank.rotate_batch(&mut cursor, 3, true).await.unwrap();
    }
    let mut check = RotationCursor::default();
    while !check.done() {
        let batch = bank.rotate_batch(&mut check, 100, false).await.unwrap();
        assert_eq!(batch.stale, 0, "{batch:?}");
    }
    for i in 0..2 {
        servers[i] = start(&new, &[]).await.unwrap();
        every_instance_serves_every_customer(&servers, &mut customers, &clock).await;
    }
    // A bank still on the old key alone (a forgotten machine, a backup's key) is refused.
    let refused = start(&old, &[]).await.err().expect("an instance on the retired key started");
    assert!(refused.contains(&format!("master key id {new_id}")), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_phone_move_started_twice_at_once_on_two_instances_leaves_one_pending_move() {
    let Some((db, servers)) = Server::instances(Setup::default, |_| {}, 2).await else { return };
    // The instances share this database; neither holds it, so it is counted here.
    let count = |sql: &str| -> i64 { db.psql(sql).unwrap().trim().parse().unwrap() };
    let user = servers[0].issue(None, "4821").await;
    let (token, _) =
        provision_with(&servers[1].client(), &user, "4821", servers[1].now()).await.unwrap();
    let keys = softtoken_core::confirm::ConfirmationKeys::derive(&token.seed);
    let (service, user) = (ServiceId::new(SERVICE).unwrap(), UserId::new(&user).unwrap());
    let password = ActivationPassword::new("7305").unwrap();
    for round in 0..3 {
        let starts = servers.iter().map(|server| {
            let (keys, service, user, password) = (&keys, &service, &user, &password);
            async move {
                let now = server.now();
                server.client().start_move(keys, service, user, password, now, now).await
            }
        });
        let answers = common::join_all(starts).await;
        assert!(answers.iter().all(Result::is_ok), "round {round}: {answers:?}");
        let pending = count("SELECT count(*) FROM moves WHERE state = 'pending'");
        assert_eq!(pending, 1, "round {round}");
        let live = count(
            "SELECT count(*) FROM registrations r JOIN moves m ON m.new_registration_id = r.id \
             WHERE r.state <> 'ended'",
        );
        assert_eq!(live, 1, "round {round}: one prepared registration alive");
    }
}
