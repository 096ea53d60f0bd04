//! One conformance suite, two backends: every case runs on a SQLite file and on a real
//! PostgreSQL (a private cluster from the system's package; see
//! `softtoken_server::testing::postgres`). The bank's rules rest on these guarantees, so a
//! backend that passes them keeps each code accepted once and each attempt evaluated once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::backends::on_both;
use softtoken_server::storage::{
    Attempt, AttemptChange, AttemptStatus, Change, Freshness, Inserted, OutboxMail, Registration,
    RegistrationState, Reseal, Storage, Updated,
};

async fn insert(s: &dyn Storage, r: Registration) -> Registration {
    match s.insert_registration(r, None, false).await.unwrap() {
        Inserted::Applied(r) => *r,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_write_based_on_a_stale_revision_conflicts_and_writes_nothing() {
    on_both(|s| async move {
        let r = insert(&*s, Registration::sample("999800000001")).await;
        let mut a = r.clone();
        a.last_step = Some(10);
        let Updated::Applied(saved) = s.update(Change::registration(a)).await.unwrap() else {
            panic!("first write must apply")
        };
        assert!(saved.rev > r.rev);
        let mut b = r.clone();
        b.last_step = Some(9);
        assert_eq!(s.update(Change::registration(b)).await.unwrap(), Updated::Conflict);
        let now =
            s.registration(&r.service_id, &r.user_id, Freshness::Cached).await.unwrap().unwrap();
        assert_eq!((now.last_step, now.rev), (Some(10), saved.rev));
    })
    .await;
}

#[tokio::test]
async fn a_pair_has_at_most_one_registration_that_has_not_ended() {
    on_both(|s| async move {
        let first = insert(&*s, Registration::sample("999800000001")).await;
        let mut again = Registration::sample("999800000001");
        again.id = "id-second".into();
        assert_eq!(
            s.insert_registration(again.clone(), None, false).await.unwrap(),
            Inserted::ActiveExists
        );
        assert_eq!(
            s.insert_registration(again.clone(), None, true).await.unwrap(),
            Inserted::UserIdTaken
        );
        let mut ended = first.clone();
        ended.state = RegistrationState::Ended;
        assert!(matches!(
            s.update(Change::registration(ended)).await.unwrap(),
            Updated::Applied(_)
        ));
        let second = insert(&*s, again).await;
        // The newest registration of the pair is the one seen.
        let seen = s
            .registration(&second.service_id, &second.user_id, Freshness::Cached)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(seen.id, "id-second");
        assert_eq!(
            s.registration_by_id(&first.id).await.unwrap().unwrap().state,
            RegistrationState::Ended
        );
    })
    .await;
}

#[tokio::test]
async fn an_attempt_is_evaluated_once_even_by_two_racing_writers() {
    on_both(|s| async move {
        let r = insert(&*s, Registration::sample("999800000001")).await;
        s.insert_attempt(
            Attempt {
                id: "att".into(),
                registration_id: r.id.clone(),
                created_at: 1,
                expires_at: 2,
                status: AttemptStatus::Pending,
                sealed: Some(vec![9]),
            },
            5,
        )
        .await
        .unwrap();
        let change = |rev_from: &Registration| Change {
            registration: rev_from.clone(),
            attempt: Some(AttemptChange {
                id: "att".into(),
                from: AttemptStatus::Pending,
                to: AttemptStatus::Spent,
                wipe: true,
                notice: None,
            }),
            wipe_other_attempts: false,
            insert: None,
            moved: None,
        };
        let Updated::Applied(after) = s.update(change(&r)).await.unwrap() else { panic!() };
        // Even with the fresh revision, the attempt is no longer pending.
        assert_eq!(s.update(change(&after)).await.unwrap(), Updated::Conflict);
        let a = s.attempt("att").await.unwrap().unwrap();
        assert_eq!((a.status, a.sealed), (AttemptStatus::Spent, None));
        let unchanged = s.registration_by_id(&r.id).await.unwrap().unwrap();
        assert_eq!(unchanged.rev, after.rev);
    })
    .await;
}

#[tokio::test]
async fn the_same_step_written_by_many_at_once_is_accepted_by_exactly_one() {
    on_both(|s| async move {
        let r = insert(&*s, Registration::sample("999800000001")).await;
        let writes = (0..24).map(|_| {
            let s = s.clone();
            let mut w = r.clone();
            w.last_step = Some(42);
            tokio::spawn(async move { s.update(Change::registration(w)).await.unwrap() })
        });
        let mut applied = 0;
        for w in writes {
            if matches!(w.await.unwrap(), Updated::Applied(_)) {
                applied += 1;
            }
        }
        assert_eq!(applied, 1);
    })
    .await;
}

/// Verifications of many customers at one moment: on PostgreSQL their writes share one
/// statement and one commit, which must still apply each row as if written alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_customers_verifying_at_once_each_get_exactly_their_own_write() {
    on_both(|s| async move {
        let mut rows = Vec::new();
        for i in 0..60u64 {
            rows.push(insert(&*s, Registration::sample(&format!("9998{i:08}"))).await);
        }
        // Two writes per customer from the same revision (two codes sent at once), with
        // nullable columns both set and unset: exactly one of each pair applies, in full.
        let writes: Vec<_> = rows
            .iter()
            .enumerate()
            .flat_map(|(i, r)| {
                (0..2u64).map(move |k| {
                    let mut w = r.clone();
                    w.state = RegistrationState::InUse;
                    w.last_step = Some(1000 + 10 * i as u64 + k);
                    w.verify_failures = u32::try_from(k).unwrap();
                    w.drift_steps = -(i as i64);
                    w.sealed_seed = (i % 2 == 0).then(|| vec![7; 40]);
                    w.confirmed_attempt = (i % 3 == 0).then(|| format!("attempt-{i}"));
                    w.in_use_at = Some(300 + i as u64);
                    w.sealed_password =
                        if i % 2 == 0 { Vec::new() } else { r.sealed_password.clone() };
                    w
                })
            })
            .map(|w| {
                let s = s.clone();
                tokio::spawn(async move {
                    (w.clone(), s.update(Change::registration(w)).await.unwrap())
                })
            })
            .collect();
        let mut applied = std::collections::HashMap::new();
        for w in writes {
            let (wrote, outcome) = w.await.unwrap();
            if let Updated::Applied(saved) = outcome {
                assert!(
                    applied.insert(wrote.id.clone(), (wrote, saved)).is_none(),
                    "two of a pair applied"
                );
            }
        }
        assert_eq!(applied.len(), rows.len(), "one write of every pair applies");
        for r in &rows {
            let (wrote, saved) = &applied[&r.id];
            let stored = s
                .registration(&r.service_id, &r.user_id, Freshness::Cached)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(&stored, &**saved);
            assert!(stored.rev > r.rev);
            let expected = Registration { rev: stored.rev, ..wrote.clone() };
            assert_eq!(stored, expected);
        }
    })
    .await;
}

#[tokio::test]
async fn delivery_wipes_every_other_candidate_seed_and_the_mail_lands_in_the_outbox() {
    on_both(|s| async move {
        let mut r = Registration::sample("999800000001");
        let mail = OutboxMail {
            registration_id: r.id.clone(),
            to: "taro@example.jp".into(),
            subject: "token".into(),
            body: "service ID 10112231".into(),
            created_at: 100,
        };
        r = match s.insert_registration(r, Some(mail.clone()), true).await.unwrap() {
            Inserted::Applied(r) => *r,
            other => panic!("{other:?}"),
        };
        assert_eq!(s.outbox(10).await.unwrap(), vec![mail]);
        for id in ["a1", "a2"] {
            s.insert_attempt(
                Attempt {
                    id: id.into(),
                    registration_id: r.id.clone(),
                    created_at: 1,
                    expires_at: 2,
                    status: AttemptStatus::Confirmed,
                    sealed: Some(vec![7]),
                },
                5,
            )
            .await
            .unwrap();
        }
        let mut delivered = r.clone();
        delivered.state = RegistrationState::Delivered;
        delivered.confirmed_attempt = Some("a2".into());
        let change = Change {
            registration: delivered,
            attempt: None,
            wipe_other_attempts: true,
            insert: None,
            moved: None,
        };
        assert!(matches!(s.update(change).await.unwrap(), Updated::Applied(_)));
        assert_eq!(s.attempt("a1").await.unwrap().unwrap().sealed, None);
        assert_eq!(s.attempt("a2").await.unwrap().unwrap().sealed, Some(vec![7]));
        // Purging never deletes a confirmed attempt.
        assert_eq!(s.purge_attempts(1000).await.unwrap(), 0);
    })
    .await;
}

#[tokio::test]
async fn calls_after_close_are_refused_as_unavailable() {
    on_both(|s| async move {
        s.close().await;
        assert!(matches!(
            s.insert_registration(Registration::sample("999800000002"), None, false).await,
            Err(softtoken_server::Error::Unavailable)
        ));
    })
    .await;
}

#[tokio::test]
async fn a_flood_of_starts_keeps_few_attempts_a_wrong_password_is_mailed_and_expiry_forgets_the_password(
) {
    on_both(|s| async move {
        let r = insert(&*s, Registration::sample("999800000001")).await;
        // Ten starts with a cap of three: the newest three stay pending.
        for i in 0..10u64 {
            let attempt = Attempt {
                id: format!("att-{i:02}"),
                registration_id: r.id.clone(),
                created_at: 100 + i,
                expires_at: 1_000,
                status: AttemptStatus::Pending,
                sealed: Some(vec![1]),
            };
            s.insert_attempt(attempt, 3).await.unwrap();
        }
        for i in 0..10u64 {
            let kept = s.attempt(&format!("att-{i:02}")).await.unwrap().is_some();
            assert_eq!(kept, i >= 7, "attempt {i}");
        }
        // A wrong password spends its attempt and mails the customer in the same write.
        let notice = OutboxMail {
            registration_id: r.id.clone(),
            to: "taro@example.jp".into(),
            subject: "wrong activation password".into(),
            body: "someone entered a wrong activation password".into(),
            created_at: 120,
        };
        let spend = Change {
            registration: r.clone(),
            attempt: Some(AttemptChange {
                id: "att-09".into(),
                from: AttemptStatus::Pending,
                to: AttemptStatus::Spent,
                wipe: true,
                notice: Some(notice.clone()),
            }),
            wipe_other_attempts: false,
            insert: None,
            moved: None,
        };
        let Updated::Applied(after) = s.update(spend).await.unwrap() else { panic!() };
        assert_eq!(s.outbox(10).await.unwrap(), vec![notice]);
        // An update never writes a password back; expiry clears it for good.
        assert!(!after.sealed_password.is_empty());
        assert_eq!(s.forget_expired_passwords(after.expires_at - 1).await.unwrap(), 0);
        assert_eq!(s.forget_expired_passwords(after.expires_at).await.unwrap(), 1);
        let forgotten = s.registration_by_id(&r.id).await.unwrap().unwrap();
        assert!(forgotten.sealed_password.is_empty());
        assert!(forgotten.rev > after.rev, "a cleared row has a new revision");
    })
    .await;
}

#[tokio::test]
async fn key_rotation_walks_every_row_and_rewrites_only_rows_nobody_changed_meanwhile() {
    on_both(|s| async move {
        let mut regs = Vec::new();
        for user in ["999800000003", "999800000001", "999800000002"] {
            regs.push(insert(&*s, Registration::sample(user)).await);
        }
        for (id, sealed) in [("b", Some(vec![2])), ("a", Some(vec![1])), ("c", None)] {
            let attempt = Attempt {
                id: id.into(),
                registration_id: regs[0].id.clone(),
                created_at: 1,
                expires_at: 2,
                status: AttemptStatus::Pending,
                sealed,
            };
            s.insert_attempt(attempt, 5).await.unwrap();
        }
        // Pages in id order, each after the last id of the one before; attempts without
        // sealed state are not listed.
        let first = s.registrations_after("", 2).await.unwrap();
        let ids: Vec<&str> = first.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["id-999800000001", "id-999800000002"]);
        let rest = s.registrations_after(&first[1].id, 2).await.unwrap();
        assert_eq!(rest.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["id-999800000003"]);
        let attempts = s.sealed_attempts_after("", 10).await.unwrap();
        assert_eq!(attempts.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert!(s.sealed_attempts_after("b", 10).await.unwrap().is_empty());

        // A verify writes the first registration after the rotation read it.
        let read = first[0].clone();
        let mut verified = read.clone();
        verified.last_step = Some(5);
        let Updated::Applied(verified) = s.update(Change::registration(verified)).await.unwrap()
        else {
            panic!("the verify must apply")
        };
        let batch = vec![
            Reseal::Registration {
                id: read.id.clone(),
                rev: read.rev,
                sealed_password: vec![9, 9],
                sealed_seed: Some(vec![9]),
            },
            Reseal::Registration {
                id: first[1].id.clone(),
                rev: first[1].rev,
                sealed_password: vec![8, 8],
                sealed_seed: None,
            },
            Reseal::Attempt { id: "a".into(), old: vec![1], new: vec![11] },
            Reseal::Attempt { id: "b".into(), old: vec![7], new: vec![12] },
        ];
        assert_eq!(s.reseal(batch).await.unwrap(), 2);
        // The verify's row is untouched (its step kept, nothing re-sealed over it)...
        let kept = s.registration_by_id(&read.id).await.unwrap().unwrap();
        assert_eq!(kept, *verified);
        // ...the unchanged one is re-sealed with a new revision that a stale write cannot pass.
        let resealed = s
            .registration(&first[1].service_id, &first[1].user_id, Freshness::Cached)
            .await
            .unwrap();
        let resealed = resealed.unwrap();
        assert_eq!(resealed.sealed_password, vec![8, 8]);
        assert!(resealed.rev > first[1].rev);
        let mut stale = first[1].clone();
        stale.last_step = Some(1);
        assert_eq!(s.update(Change::registration(stale)).await.unwrap(), Updated::Conflict);
        assert_eq!(s.attempt("a").await.unwrap().unwrap().sealed, Some(vec![11]));
        assert_eq!(s.attempt("b").await.unwrap().unwrap().sealed, Some(vec![2]));
    })
    .await;
}

#[tokio::test]
async fn audit_entries_are_appended_to_one_unbroken_chain_and_an_outcome_is_a_second_entry() {
    use softtoken_server::storage::{AuditEntry, AuditQuery, ChainCheck};
    on_both(|s| async move {
        let entry = |user: &str, outcome: &str, refers_to| AuditEntry {
            id: 0,
            at: 1_800_000_000,
            actor: "credential:clerk-sato".into(),
            origin: "10.0.0.7".into(),
            action: "end".into(),
            service_id: Some("10112231".into()),
            user_id: Some(user.into()),
            outcome: outcome.into(),
            refers_to,
            key_id: None,
            mac: None,
        };
        let first = s.append_audit(entry("999800000001", "pending", None)).await.unwrap();
        let second = s.append_audit(entry("999800000002", "pending", None)).await.unwrap();
        assert_eq!(second, first + 1, "entries are numbered without gaps");
        let ended = s.append_audit(entry("999800000001", "ok", Some(first))).await.unwrap();
        let all = |before_id| AuditQuery { before_id, limit: 10, ..AuditQuery::default() };
        let listed = s.audit(all(None)).await.unwrap();
        assert_eq!(listed.iter().map(|e| e.id).collect::<Vec<_>>(), [ended, second, first]);
        assert_eq!(listed[2].outcome, "pending", "the first entry is never rewritten");
        assert_eq!((listed[0].outcome.as_str(), listed[0].refers_to), ("ok", Some(first)));
        assert_eq!(listed[1].outcome, "pending", "a process that died leaves no outcome");
        assert_eq!(s.audit(all(Some(second))).await.unwrap().len(), 1);
        let mine = AuditQuery {
            service_id: Some("10112231".into()),
            user_id: Some("999800000002".into()),
            limit: 10,
            ..AuditQuery::default()
        };
        assert_eq!(s.audit(mine).await.unwrap().iter().map(|e| e.id).collect::<Vec<_>>(), [second]);

        let walked = s.audit_after(0, 10).await.unwrap();
        assert_eq!(walked.iter().map(|e| e.id).collect::<Vec<_>>(), [first, second, ended]);
        let key = softtoken_server::testing::test_audit_key();
        let mut check = ChainCheck::new(std::slice::from_ref(&*key));
        for e in &walked {
            check.push(e).unwrap();
        }
        assert_eq!(check.chained, 3);
        assert_eq!(s.audit_after(first, 1).await.unwrap()[0].id, second);
    })
    .await;
}

#[tokio::test]
async fn a_bulk_seed_writes_every_registration_with_its_own_revision_or_none_of_them() {
    on_both(|s| async move {
        let batch: Vec<Registration> =
            (0..500).map(|i| Registration::sample(&format!("9997{i:08}"))).collect();
        assert_eq!(s.insert_bulk(batch.clone()).await.unwrap(), 500);
        let mut revs = std::collections::HashSet::new();
        for r in [&batch[0], &batch[250], &batch[499]] {
            let stored =
                s.registration(&r.service_id, &r.user_id, Freshness::Database).await.unwrap();
            let stored = stored.unwrap();
            assert_eq!((&stored.id, stored.state), (&r.id, RegistrationState::Issued));
            assert!(revs.insert(stored.rev) && stored.rev > 0);
        }
        // A batch with one pair that already has an active registration writes nothing.
        let mut clash: Vec<Registration> =
            (500..600).map(|i| Registration::sample(&format!("9997{i:08}"))).collect();
        clash.push(Registration { id: "id-again".into(), ..batch[7].clone() });
        assert!(s.insert_bulk(clash.clone()).await.is_err());
        let first = &clash[0];
        assert_eq!(
            s.registration(&first.service_id, &first.user_id, Freshness::Cached).await.unwrap(),
            None
        );
        // The store still takes ordinary writes after the refused batch.
        insert(&*s, Registration::sample("999612345678")).await;
    })
    .await;
}
