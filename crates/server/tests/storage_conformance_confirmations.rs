//! The confirmation rows on both backends: a request moves from `pending` to a final state
//! exactly once, also when two writers race, a registration never holds more pending requests
//! than allowed, and an offline-code minute is taken once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::backends::on_both;
use softtoken_core::confirm::ConfirmationState;
use softtoken_core::ids::{ServiceId, UserId};
use softtoken_server::storage::{ConfirmationWrite, Storage, StoredConfirmation};

const DETAILS: &str = r#"{"kind":"sign_in","note":"Pixel 8, 東京"}"#;

fn request(id: &str, registration: &str, created_at: u64) -> StoredConfirmation {
    StoredConfirmation {
        id: id.to_owned(),
        registration_id: registration.to_owned(),
        service_id: ServiceId::new("10112231").unwrap(),
        user_id: UserId::new("999800000001").unwrap(),
        kind: "sign_in".into(),
        details: DETAILS.into(),
        created_at,
        expires_at: created_at + 120,
        match_required: true,
        match_number: Some("42".into()),
        state: ConfirmationState::Pending,
        answered_at: None,
    }
}

async fn create(s: &dyn Storage, c: StoredConfirmation, now: u64) -> bool {
    let write = ConfirmationWrite::Insert { confirmation: Box::new(c), max_pending: 5, now };
    s.write_confirmation(write).await.unwrap()
}

async fn finish(s: &dyn Storage, id: &str, to: ConfirmationState, at: Option<u64>) -> bool {
    let write = ConfirmationWrite::Finish { id: id.to_owned(), to, answered_at: at };
    s.write_confirmation(write).await.unwrap()
}

#[tokio::test]
async fn a_request_is_created_fetched_answered_once_and_reads_its_answer() {
    on_both(|s| async move {
        assert!(create(&*s, request("AAAAAAAAAAAAAAAAAAAAAA", "reg-1", 1000), 1000).await);
        let pending = s.pending_confirmations("reg-1", 1010, 16).await.unwrap();
        assert_eq!(pending, vec![request("AAAAAAAAAAAAAAAAAAAAAA", "reg-1", 1000)]);
        assert!(s.pending_confirmations("reg-2", 1010, 16).await.unwrap().is_empty());
        assert!(
            finish(&*s, "AAAAAAAAAAAAAAAAAAAAAA", ConfirmationState::Approved, Some(1020)).await
        );
        // Answered twice: the second changes nothing.
        assert!(
            !finish(&*s, "AAAAAAAAAAAAAAAAAAAAAA", ConfirmationState::Denied, Some(1021)).await
        );
        let c = s.confirmation("AAAAAAAAAAAAAAAAAAAAAA").await.unwrap().unwrap();
        assert_eq!((c.state, c.answered_at), (ConfirmationState::Approved, Some(1020)));
        assert_eq!(c.match_number.as_deref(), Some("42"));
        assert!(s.pending_confirmations("reg-1", 1030, 16).await.unwrap().is_empty());
        assert!(s.confirmation("BBBBBBBBBBBBBBBBBBBBBB").await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn a_late_or_cancelled_request_stays_expired_or_cancelled_and_is_no_longer_fetched() {
    on_both(|s| async move {
        assert!(create(&*s, request("AAAAAAAAAAAAAAAAAAAAAA", "reg-1", 1000), 1000).await);
        assert!(create(&*s, request("BBBBBBBBBBBBBBBBBBBBBB", "reg-1", 1001), 1001).await);
        // Past its expiry a request is not fetched, even before anyone marked it.
        assert_eq!(s.pending_confirmations("reg-1", 1120, 16).await.unwrap().len(), 1);
        assert!(
            finish(&*s, "AAAAAAAAAAAAAAAAAAAAAA", ConfirmationState::Expired, Some(1130)).await
        );
        assert!(finish(&*s, "BBBBBBBBBBBBBBBBBBBBBB", ConfirmationState::Cancelled, None).await);
        assert!(!finish(&*s, "BBBBBBBBBBBBBBBBBBBBBB", ConfirmationState::Approved, Some(1)).await);
        let a = s.confirmation("AAAAAAAAAAAAAAAAAAAAAA").await.unwrap().unwrap();
        let b = s.confirmation("BBBBBBBBBBBBBBBBBBBBBB").await.unwrap().unwrap();
        assert_eq!(a.state, ConfirmationState::Expired);
        assert_eq!((b.state, b.answered_at), (ConfirmationState::Cancelled, None));
        assert!(s.pending_confirmations("reg-1", 1010, 16).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn two_answers_at_the_same_moment_move_the_request_exactly_once() {
    on_both(|s| async move {
        for round in 0..10u64 {
            let id = format!("{round:0>22}");
            assert!(create(&*s, request(&id, &format!("reg-{round}"), 1000), 1000).await);
            let answers = [ConfirmationState::Approved, ConfirmationState::Denied].map(|to| {
                let (s, id) = (Arc::clone(&s), id.clone());
                tokio::spawn(async move { (to, finish(&*s, &id, to, Some(1001)).await) })
            });
            let mut won = Vec::new();
            for a in answers {
                let (to, moved) = a.await.unwrap();
                if moved {
                    won.push(to);
                }
            }
            assert_eq!(won.len(), 1, "exactly one answer wins");
            assert_eq!(s.confirmation(&id).await.unwrap().unwrap().state, won[0]);
        }
    })
    .await;
}

#[tokio::test]
async fn a_registration_holds_at_most_five_pending_requests_and_expired_ones_do_not_count() {
    on_both(|s| async move {
        for i in 0..5u64 {
            assert!(create(&*s, request(&format!("{i:0>22}"), "reg-1", 1000 + i), 1000 + i).await);
        }
        assert!(!create(&*s, request("AAAAAAAAAAAAAAAAAAAAAA", "reg-1", 1010), 1010).await);
        assert!(s.confirmation("AAAAAAAAAAAAAAAAAAAAAA").await.unwrap().is_none());
        // Another registration has its own count; answered or expired ones make room.
        assert!(create(&*s, request("BBBBBBBBBBBBBBBBBBBBBB", "reg-2", 1010), 1010).await);
        assert!(finish(&*s, &format!("{:0>22}", 0), ConfirmationState::Denied, Some(1011)).await);
        assert!(create(&*s, request("AAAAAAAAAAAAAAAAAAAAAA", "reg-1", 1012), 1012).await);
        assert!(create(&*s, request("CCCCCCCCCCCCCCCCCCCCCC", "reg-1", 1200), 1200).await);
        let fetched = s.pending_confirmations("reg-1", 1200, 16).await.unwrap();
        assert_eq!(
            fetched.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            ["CCCCCCCCCCCCCCCCCCCCCC"]
        );
    })
    .await;
}

#[tokio::test]
async fn an_offline_code_s_minute_is_accepted_once_and_never_an_earlier_one() {
    on_both(|s| async move {
        let step = |registration: &str, step| ConfirmationWrite::OfflineStep {
            registration_id: registration.to_owned(),
            step,
        };
        assert!(s.write_confirmation(step("reg-1", 100)).await.unwrap());
        assert!(!s.write_confirmation(step("reg-1", 100)).await.unwrap());
        assert!(!s.write_confirmation(step("reg-1", 99)).await.unwrap());
        assert!(s.write_confirmation(step("reg-2", 99)).await.unwrap());
        assert!(s.write_confirmation(step("reg-1", 101)).await.unwrap());
        // Many at once for one new minute: one wins.
        let tries: Vec<_> = (0..8)
            .map(|_| {
                let s = Arc::clone(&s);
                tokio::spawn(async move {
                    s.write_confirmation(ConfirmationWrite::OfflineStep {
                        registration_id: "reg-1".into(),
                        step: 102,
                    })
                    .await
                    .unwrap()
                })
            })
            .collect();
        let mut accepted = 0;
        for t in tries {
            accepted += usize::from(t.await.unwrap());
        }
        assert_eq!(accepted, 1);
    })
    .await;
}
