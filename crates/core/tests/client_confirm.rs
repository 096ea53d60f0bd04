//! Transaction confirmation's client against a small bank on 127.0.0.1 (axum): the bank side
//! runs core's rules (`FetchRequest::is_authentic`, `Request::judge`) over requests it holds,
//! so the fetch, the app's check of each request and the answer meet a real HTTP exchange. The
//! reference server and the app window run the same walk in the workspace's end-to-end tests.
#![cfg(feature = "client")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use softtoken_core::client::confirm::Fetched;
use softtoken_core::client::{ClientOptions, PlainHttp, ProvisioningClient};
use softtoken_core::confirm::{
    AnswerRequest, ConfirmationId, ConfirmationKeys, ConfirmationState, Decision, Details,
    FetchRequest, FetchResponse, MatchNumber, Request, SignedRequest, Verdict, PATH_ANSWER,
    PATH_PENDING,
};
use softtoken_core::ids::{ServiceId, UserId};
use softtoken_core::protocol::wire::{ErrorBody, ErrorCode};
use softtoken_core::totp::{ClockOffset, Seed};
use softtoken_core::Error;
use zeroize::Zeroizing;

const BANK_TIME: u64 = 1_767_225_600;

struct Bank {
    keys: ConfirmationKeys,
    now: u64,
    /// Requests with the number the bank's page shows, and their state.
    requests: Vec<(Request, Option<MatchNumber>, ConfirmationState)>,
    /// Flip a bit of the payee's account number on the way to the app (a relay).
    tamper: bool,
    /// What the answer to a fetch says of the bank's clock.
    clock: Clock,
    /// The `server_time` a `clock_skew` refusal names (the bank's clock unless it lies).
    skew_says: Option<u64>,
}

/// The bank's time in its answer to a fetch.
#[derive(Clone, Copy)]
enum Clock {
    /// Its clock, with the MAC for this fetch.
    Authenticated,
    /// None (a bank from before the time was sent).
    Absent,
    /// Changed on the way to this value, the MAC left as it was.
    ChangedTo(u64),
    /// With the MAC the bank made for another fetch (a recorded answer).
    MacOfAnotherFetch,
}

type Shared = Arc<Mutex<Bank>>;

fn refusal(body: ErrorBody) -> Response {
    (StatusCode::from_u16(body.code.http_status()).unwrap(), Json(body)).into_response()
}

async fn pending(State(bank): State<Shared>, Json(fetch): Json<FetchRequest>) -> Response {
    let bank = bank.lock().unwrap();
    if !fetch.is_authentic(&bank.keys, fetch.time) {
        return refusal(ErrorBody::new(ErrorCode::NotAuthenticated, "not authenticated"));
    }
    if !fetch.is_authentic(&bank.keys, bank.now) {
        let said = bank.skew_says.unwrap_or(bank.now);
        return refusal(ErrorBody::new(ErrorCode::ClockSkew, "clock").with_server_time(said));
    }
    let mut requests: Vec<SignedRequest> = bank
        .requests
        .iter()
        .filter(|(_, _, s)| *s == ConfirmationState::Pending)
        .map(|(r, _, _)| r.sign(&bank.keys))
        .collect();
    if bank.tamper {
        let mut json = serde_json::to_string(&requests).unwrap();
        json = json.replace("1234567", "7654321");
        requests = serde_json::from_str(&json).unwrap();
    }
    let mut response = FetchResponse::new(&bank.keys, &fetch, requests, bank.now);
    match bank.clock {
        Clock::Authenticated => {}
        Clock::Absent => (response.server_time, response.time_mac) = (None, None),
        Clock::ChangedTo(time) => response.server_time = Some(time),
        Clock::MacOfAnotherFetch => {
            let other =
                FetchRequest::new(&bank.keys, fetch.service_id, fetch.user_id, fetch.time - 1);
            response.time_mac = Some(bank.keys.time_mac(&other.proof, bank.now));
        }
    }
    Json(response).into_response()
}

async fn answer(State(bank): State<Shared>, Json(a): Json<AnswerRequest>) -> Response {
    let mut bank = bank.lock().unwrap();
    let (keys, now) = (bank.keys.clone(), bank.now);
    let Some((request, number, state)) = bank.requests.iter_mut().find(|(r, _, _)| *r.id() == a.id)
    else {
        return refusal(ErrorBody::new(ErrorCode::UnknownConfirmation, "unknown"));
    };
    if *state == ConfirmationState::Pending {
        *state = match request.judge(&keys, &a, number.as_ref(), now) {
            Verdict::NotAuthenticated => {
                return refusal(ErrorBody::new(ErrorCode::NotAuthenticated, "not authenticated"))
            }
            Verdict::Approved => ConfirmationState::Approved,
            Verdict::Denied => ConfirmationState::Denied,
            Verdict::WrongNumber => ConfirmationState::WrongNumber,
            Verdict::Late => ConfirmationState::Expired,
        };
    }
    Json(serde_json::json!({ "id": a.id, "state": state })).into_response()
}

fn ids() -> (ServiceId, UserId) {
    (ServiceId::new("10112231").unwrap(), UserId::new("999800000001").unwrap())
}

fn keys_of(seed: &[u8; 32]) -> ConfirmationKeys {
    ConfirmationKeys::derive(&Seed::new(Zeroizing::new(seed.to_vec())).unwrap())
}

fn transfer(match_required: bool) -> Request {
    let details: Details = serde_json::from_value(serde_json::json!({
        "kind": "transfer",
        "amount_yen": 50000,
        "payee": {
            "bank": "みらい信用金庫", "branch": "本店営業部", "account_type": "ordinary",
            "account_number": "1234567", "holder": "ヤマダ　タロウ"
        },
        "note": "家賃 12月分"
    }))
    .unwrap();
    let (s, u) = ids();
    Request::new(ConfirmationId::random().unwrap(), s, u, details, BANK_TIME, 120, match_required)
        .unwrap()
}

struct Lab {
    bank: Shared,
    client: ProvisioningClient,
    keys: ConfirmationKeys,
}

async fn lab(requests: Vec<(Request, Option<&str>)>) -> Lab {
    let keys = keys_of(&[7; 32]);
    let requests = requests
        .into_iter()
        .map(|(r, n)| (r, n.map(|n| MatchNumber::new(n).unwrap()), ConfirmationState::Pending))
        .collect();
    let bank = Arc::new(Mutex::new(Bank {
        keys: keys.clone(),
        now: BANK_TIME,
        requests,
        tamper: false,
        clock: Clock::Authenticated,
        skew_says: None,
    }));
    let app = Router::new()
        .route(PATH_PENDING, post(pending))
        .route(PATH_ANSWER, post(answer))
        .with_state(bank.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let options = ClientOptions {
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(10),
        plain_http: PlainHttp::LoopbackOnly,
        ..ClientOptions::default()
    };
    let client = ProvisioningClient::with_options(&format!("http://{addr}"), options).unwrap();
    Lab { bank, client, keys }
}

impl Lab {
    async fn fetch(
        &self,
        keys: &ConfirmationKeys,
        bank_time: u64,
    ) -> softtoken_core::Result<Vec<SignedRequest>> {
        let (s, u) = ids();
        Ok(self.client.pending_confirmations(keys, &s, &u, bank_time, bank_time).await?.requests)
    }

    /// A fetch by a phone whose clock reads `device_now` and whose token has `offset`.
    async fn fetch_with_offset(
        &self,
        device_now: u64,
        offset: i64,
    ) -> softtoken_core::Result<Fetched> {
        let (s, u) = ids();
        let bank_time = ClockOffset(offset).apply(device_now);
        self.client.pending_confirmations(&self.keys, &s, &u, bank_time, device_now).await
    }

    fn state(&self, i: usize) -> ConfirmationState {
        self.bank.lock().unwrap().requests[i].2
    }
}

#[tokio::test]
async fn customer_sees_the_transfer_the_bank_sent_and_approves_it_with_the_pages_number() {
    let lab = lab(vec![(transfer(true), Some("42"))]).await;
    let (s, u) = ids();
    let signed = lab.fetch(&lab.keys, BANK_TIME + 5).await.unwrap();
    assert_eq!(signed.len(), 1);
    let request = signed.into_iter().next().unwrap().open(&lab.keys, &s, &u).unwrap();
    assert_eq!(request.details().amount().unwrap().grouped(), "¥50,000");
    let answer = request
        .answer(&lab.keys, Decision::Approve, Some(MatchNumber::new("42").unwrap()))
        .unwrap();
    let outcome = lab.client.answer_confirmation(&answer, BANK_TIME + 10).await.unwrap();
    assert_eq!(outcome.state, ConfirmationState::Approved);
    assert_eq!(lab.state(0), ConfirmationState::Approved);
    // The same answer again changes nothing and says what became of it.
    let again = lab.client.answer_confirmation(&answer, BANK_TIME + 11).await.unwrap();
    assert_eq!(again.state, ConfirmationState::Approved);
    assert!(lab.fetch(&lab.keys, BANK_TIME + 12).await.unwrap().is_empty(), "no longer pending");
}

#[tokio::test]
async fn customer_who_types_another_number_gets_the_transfer_refused() {
    let lab = lab(vec![(transfer(true), Some("42"))]).await;
    let (s, u) = ids();
    let signed = lab.fetch(&lab.keys, BANK_TIME).await.unwrap().remove(0);
    let request = signed.open(&lab.keys, &s, &u).unwrap();
    let answer = request
        .answer(&lab.keys, Decision::Approve, Some(MatchNumber::new("24").unwrap()))
        .unwrap();
    let outcome = lab.client.answer_confirmation(&answer, BANK_TIME).await.unwrap();
    assert_eq!(outcome.state, ConfirmationState::WrongNumber);
}

#[tokio::test]
async fn a_request_changed_on_the_way_fails_the_apps_check_and_is_never_answered() {
    let lab = lab(vec![(transfer(false), None)]).await;
    lab.bank.lock().unwrap().tamper = true;
    let (s, u) = ids();
    let signed = lab.fetch(&lab.keys, BANK_TIME).await.unwrap().remove(0);
    assert_eq!(signed.details.payee().unwrap().account_number.as_str(), "7654321");
    assert!(matches!(signed.open(&lab.keys, &s, &u), Err(Error::BankNotAuthenticated)));
    assert_eq!(lab.state(0), ConfirmationState::Pending);
}

#[tokio::test]
async fn an_approval_of_other_fields_than_the_bank_holds_changes_nothing_at_the_bank() {
    let lab = lab(vec![(transfer(false), None)]).await;
    // The app approves a request with the same id but another amount: its digest differs.
    let held = lab.bank.lock().unwrap().requests[0].0.clone();
    let mut json = serde_json::to_value(held.sign(&lab.keys)).unwrap();
    json["details"]["amount_yen"] = 5.into();
    let changed: SignedRequest = serde_json::from_value(json).unwrap();
    let (s, u) = ids();
    let forged = Request::new(
        changed.id.clone(),
        s,
        u,
        changed.details.clone(),
        changed.created_at,
        changed.expires_at - changed.created_at,
        false,
    )
    .unwrap();
    let answer = forged.answer(&lab.keys, Decision::Approve, None).unwrap();
    let refused = lab.client.answer_confirmation(&answer, BANK_TIME).await.unwrap_err();
    assert!(matches!(refused, Error::ConfirmationNotAccepted), "{refused:?}");
    assert_eq!(lab.state(0), ConfirmationState::Pending);
}

#[tokio::test]
async fn another_tokens_fetch_is_not_accepted() {
    let lab = lab(vec![(transfer(false), None)]).await;
    let other = keys_of(&[8; 32]);
    assert!(matches!(lab.fetch(&other, BANK_TIME).await, Err(Error::ConfirmationNotAccepted)));
}

#[tokio::test]
async fn each_fetch_tells_the_phone_how_far_its_clock_is_from_the_banks() {
    let lab = lab(Vec::new()).await;
    // The phone runs 90 s behind the bank, within the fetch window: its offset of 0 is
    // accepted, and the bank's time in the answer gives the offset that makes codes right.
    let fetched = lab.fetch_with_offset(BANK_TIME - 90, 0).await.unwrap();
    assert_eq!(fetched.offset, Some(ClockOffset(90)));
    // A later fetch from a phone now 30 s ahead learns that too.
    let later = lab.fetch_with_offset(BANK_TIME + 30, 90).await.unwrap();
    assert_eq!(later.offset, Some(ClockOffset(-30)));
}

#[tokio::test]
async fn a_phone_whose_clock_was_corrected_since_activation_relearns_the_banks_time() {
    let lab = lab(vec![(transfer(false), None)]).await;
    // Activated when the phone was 10 minutes behind (offset +600); its clock has since been
    // set right, so the offset puts the fetch 10 minutes ahead and the bank refuses the time.
    // The refusal only says which time to try; the accepted fetch's authenticated time moves
    // the offset.
    let fetched = lab.fetch_with_offset(BANK_TIME, 600).await.unwrap();
    assert_eq!(fetched.offset, Some(ClockOffset(0)));
    assert_eq!(fetched.requests.len(), 1);
}

#[tokio::test]
async fn a_clock_skew_refusal_that_lies_about_the_time_moves_no_offset() {
    let lab = lab(Vec::new()).await;
    // Whoever answers claims the bank's clock is far ahead. The fetch at that time is refused
    // again by the bank's real clock; nothing is learnt, the customer hears the clock is off.
    lab.bank.lock().unwrap().skew_says = Some(BANK_TIME + 5000);
    let r = lab.fetch_with_offset(BANK_TIME - 600, 0).await;
    assert!(matches!(r, Err(Error::DeviceClockWrong { .. })), "{r:?}");
}

#[tokio::test]
async fn a_bank_time_changed_on_the_way_or_recorded_for_another_fetch_is_refused() {
    let lab = lab(Vec::new()).await;
    lab.bank.lock().unwrap().clock = Clock::ChangedTo(BANK_TIME + 3600);
    let changed = lab.fetch_with_offset(BANK_TIME, 0).await;
    assert!(matches!(changed, Err(Error::ProtocolViolation(_))), "{changed:?}");
    lab.bank.lock().unwrap().clock = Clock::MacOfAnotherFetch;
    let replayed = lab.fetch_with_offset(BANK_TIME, 0).await;
    assert!(matches!(replayed, Err(Error::ProtocolViolation(_))), "{replayed:?}");
}

#[tokio::test]
async fn a_bank_that_sends_no_time_leaves_the_offset_as_it_is() {
    let lab = lab(vec![(transfer(false), None)]).await;
    lab.bank.lock().unwrap().clock = Clock::Absent;
    let fetched = lab.fetch_with_offset(BANK_TIME - 90, 0).await.unwrap();
    assert_eq!(fetched.offset, None);
    assert_eq!(fetched.requests.len(), 1);
}

#[tokio::test]
async fn an_answer_to_a_request_the_bank_does_not_have_is_unknown() {
    let lab = lab(Vec::new()).await;
    let answer = transfer(false).answer(&lab.keys, Decision::Deny, None).unwrap();
    let r = lab.client.answer_confirmation(&answer, BANK_TIME).await;
    assert!(matches!(r, Err(Error::UnknownConfirmation)), "{r:?}");
}
