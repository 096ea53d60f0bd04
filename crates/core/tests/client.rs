//! The provisioning client against a small bank on 127.0.0.1: a real HTTP server (axum) that
//! runs core's server side of the protocol, with scripted refusals to check that every answer
//! of a bank becomes the error the app shows. The full flow against the reference server is in
//! the workspace's end-to-end tests.
#![cfg(feature = "client")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use softtoken_core::client::{ClientOptions, PlainHttp, ProvisioningClient};
use softtoken_core::ids::{ActivationPassword, ServiceId, UserId};
use softtoken_core::protocol::wire::{
    AckRequest, AckResponse, ConfirmRequest, DeliveryState, ErrorBody, ErrorCode, StartRequest,
    TokenInfo, PATH_ACK, PATH_CONFIRM, PATH_START,
};
use softtoken_core::protocol::{AttemptId, ServerAttempt, ServerHandshake};
use softtoken_core::totp::{Algorithm, Totp};
use softtoken_core::vault::{MemoryKeyStore, Vault};
use softtoken_core::Error;

const PASSWORD: &str = "4321";
const BANK_TIME: u64 = 1_767_225_600;

/// A scripted answer: status, body, optional Retry-After header.
type Canned = (u16, String, Option<u64>);

#[derive(Default)]
struct Bank {
    attempts: HashMap<AttemptId, ServerAttempt>,
    winner: Option<AttemptId>,
    delivered: bool,
    tries_left: u32,
    /// Requests seen per path.
    seen: HashMap<&'static str, u32>,
    /// Answers to give instead of the real ones, per path, in order.
    canned: HashMap<&'static str, VecDeque<Canned>>,
    /// Flip a bit of server_confirm, as an impostor without the password would get it wrong.
    impostor: bool,
}

type Shared = Arc<Mutex<Bank>>;

fn error(code: ErrorCode, tries_left: Option<u32>) -> Canned {
    let mut body = ErrorBody::new(code, code.as_str());
    body.tries_left = tries_left;
    (code.http_status(), serde_json::to_string(&body).unwrap(), None)
}

fn reply((status, body, retry): Canned) -> Response {
    let mut r = (StatusCode::from_u16(status).unwrap(), body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
    if let Some(secs) = retry {
        r.headers_mut().insert(header::RETRY_AFTER, secs.to_string().parse().unwrap());
    }
    r
}

fn ok(body: &impl serde::Serialize) -> Response {
    reply((200, serde_json::to_string(body).unwrap(), None))
}

/// Counts the request and returns the canned answer for `path`, if one is queued.
fn canned(bank: &mut Bank, path: &'static str) -> Option<Response> {
    *bank.seen.entry(path).or_default() += 1;
    bank.canned.get_mut(path).and_then(VecDeque::pop_front).map(reply)
}

async fn start(State(bank): State<Shared>, body: String) -> Response {
    let mut bank = bank.lock().unwrap();
    if let Some(r) = canned(&mut bank, PATH_START) {
        return r;
    }
    let req: StartRequest = serde_json::from_str(&body).unwrap();
    let pw = ActivationPassword::new(PASSWORD).unwrap();
    let (attempt, resp) =
        ServerHandshake::respond(&req, &pw, AttemptId::random().unwrap()).unwrap();
    bank.attempts.insert(attempt.attempt_id().clone(), attempt);
    ok(&resp)
}

async fn confirm(State(bank): State<Shared>, body: String) -> Response {
    let mut bank = bank.lock().unwrap();
    if let Some(r) = canned(&mut bank, PATH_CONFIRM) {
        return r;
    }
    let req: ConfirmRequest = serde_json::from_str(&body).unwrap();
    let Some(attempt) = bank.attempts.get(&req.attempt_id) else {
        return reply(error(ErrorCode::UnknownAttempt, None));
    };
    if !attempt.check_client_confirm(&req) {
        bank.tries_left -= 1;
        return reply(error(ErrorCode::WrongActivationPassword, Some(bank.tries_left)));
    }
    let token = TokenInfo {
        algorithm: Algorithm::Sha1,
        digits: 6,
        period: 60,
        issuer: "Example Shinkin Bank".into(),
        display_name: "Example Shinkin OTP".into(),
    };
    let mut resp = attempt.confirm_response(token, BANK_TIME);
    if bank.impostor {
        resp.server_confirm.0[0] ^= 1;
    }
    bank.winner = Some(req.attempt_id);
    ok(&resp)
}

async fn ack(State(bank): State<Shared>, body: String) -> Response {
    let mut bank = bank.lock().unwrap();
    if let Some(r) = canned(&mut bank, PATH_ACK) {
        return r;
    }
    let req: AckRequest = serde_json::from_str(&body).unwrap();
    if bank.winner.as_ref() != Some(&req.attempt_id) {
        return reply(error(ErrorCode::Superseded, None));
    }
    assert!(bank.attempts[&req.attempt_id].check_ack(&req), "the app's ack must verify");
    bank.delivered = true;
    ok(&AckResponse { state: DeliveryState::Delivered })
}

struct Lab {
    bank: Shared,
    client: ProvisioningClient,
    vault: Vault,
    _dir: tempfile::TempDir,
}

async fn lab() -> Lab {
    let bank: Shared = Arc::new(Mutex::new(Bank { tries_left: 5, ..Bank::default() }));
    let app = Router::new()
        .route(PATH_START, post(start))
        .route(PATH_CONFIRM, post(confirm))
        .route(PATH_ACK, post(ack))
        .with_state(bank.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let options = ClientOptions {
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(10),
        ack_attempts: 3,
        ack_first_backoff: Duration::from_millis(1),
        extra_root_pem: None,
        plain_http: PlainHttp::LoopbackOnly,
    };
    let client = ProvisioningClient::with_options(&format!("http://{addr}"), options).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let vault =
        Vault::open(&dir.path().join("vault"), Arc::new(MemoryKeyStore::new()), "test").unwrap();
    Lab { bank, client, vault, _dir: dir }
}

fn ids() -> (ServiceId, UserId) {
    (ServiceId::new("10112231").unwrap(), UserId::new("999800000001").unwrap())
}

impl Lab {
    fn queue(&self, path: &'static str, answer: Canned) {
        self.bank.lock().unwrap().canned.entry(path).or_default().push_back(answer);
    }

    fn seen(&self, path: &'static str) -> u32 {
        self.bank.lock().unwrap().seen.get(path).copied().unwrap_or(0)
    }

    async fn provision(
        &mut self,
        pw: &str,
    ) -> softtoken_core::Result<softtoken_core::client::ProvisionedToken> {
        let (service, user) = ids();
        let pw = ActivationPassword::new(pw).unwrap();
        // The device clock is 30 s behind the bank's.
        let confirmed = self.client.handshake(&service, &user, &pw, BANK_TIME - 30).await?;
        let id = self.vault.add(confirmed.token, BANK_TIME)?;
        Ok(self.client.ack(confirmed.ack.stored(id)).await)
    }
}

#[tokio::test]
async fn customer_with_the_right_password_gets_a_token_the_bank_knows() {
    let mut lab = lab().await;
    let done = lab.provision(PASSWORD).await.unwrap();
    assert!(done.is_delivered(), "{:?}", done.delivery);
    assert!(lab.bank.lock().unwrap().delivered);
    lab.vault.mark_delivered(&done.id).unwrap();
    let summary = lab.vault.tokens().into_iter().find(|t| t.id == done.id).unwrap();
    assert_eq!(summary.delivery.pending, None);
    assert_eq!(summary.issued.offset.0, 30);
    assert_eq!(summary.issued.issuer, "Example Shinkin Bank");

    // The app's code is the bank's code for the bank's seed.
    let bank = lab.bank.lock().unwrap();
    let winner = bank.winner.clone().unwrap();
    let bank_totp =
        Totp::new(summary.issued.params, bank.attempts[&winner].seed(), Default::default())
            .unwrap();
    let app_totp = lab.vault.totp(&done.id).unwrap();
    assert_eq!(app_totp.code_at(BANK_TIME - 30), bank_totp.code_at_bank_time(BANK_TIME));
}

#[tokio::test]
async fn customer_with_a_wrong_password_is_told_the_tries_left_and_nothing_is_stored() {
    let mut lab = lab().await;
    let err = lab.provision("1234").await.unwrap_err();
    assert!(matches!(err, Error::WrongActivationPassword { tries_left: 4 }), "{err:?}");
    let err = lab.provision("9999").await.unwrap_err();
    assert!(matches!(err, Error::WrongActivationPassword { tries_left: 3 }), "{err:?}");
    assert!(lab.vault.tokens().is_empty());
    assert_eq!(lab.seen(PATH_ACK), 0);
}

#[tokio::test]
async fn a_server_that_cannot_prove_it_is_the_bank_gets_nothing_stored_and_no_ack() {
    let mut lab = lab().await;
    lab.bank.lock().unwrap().impostor = true;
    let err = lab.provision(PASSWORD).await.unwrap_err();
    assert!(matches!(err, Error::BankNotAuthenticated), "{err:?}");
    assert!(lab.vault.tokens().is_empty());
    assert_eq!(lab.seen(PATH_ACK), 0);
}

#[tokio::test]
async fn every_refusal_of_the_bank_becomes_the_error_the_app_shows() {
    type Case = (&'static str, Canned, fn(&Error) -> bool);
    let cases: Vec<Case> = vec![
        (PATH_START, error(ErrorCode::Locked, None), |e| matches!(e, Error::RegistrationLocked)),
        (PATH_START, error(ErrorCode::Expired, None), |e| matches!(e, Error::RegistrationExpired)),
        (PATH_START, error(ErrorCode::AlreadyDelivered, None), |e| {
            matches!(e, Error::AlreadyDelivered)
        }),
        (PATH_START, error(ErrorCode::Ended, None), |e| matches!(e, Error::RegistrationEnded)),
        (PATH_START, error(ErrorCode::UnknownRegistration, None), |e| {
            matches!(e, Error::UnknownRegistration)
        }),
        (PATH_CONFIRM, error(ErrorCode::Locked, None), |e| matches!(e, Error::RegistrationLocked)),
        (
            PATH_START,
            (429, r#"{"code":"rate_limited","message":"slow down","retry_after":42}"#.into(), None),
            |e| matches!(e, Error::RateLimited { retry_after: Some(42) }),
        ),
        (PATH_START, (429, "too many".into(), Some(7)), |e| {
            matches!(e, Error::RateLimited { retry_after: Some(7) })
        }),
        (PATH_START, (500, r#"{"code":"internal","message":"x"}"#.into(), None), |e| {
            matches!(e, Error::ServerError { status: 500 })
        }),
        (PATH_START, (404, "<html>not here</html>".into(), None), |e| {
            matches!(e, Error::ServerError { status: 404 })
        }),
        (PATH_START, error(ErrorCode::InvalidRequest, None), |e| {
            matches!(e, Error::ProtocolViolation(_))
        }),
        (PATH_START, (200, "{}".into(), None), |e| matches!(e, Error::ProtocolViolation(_))),
        (PATH_START, (200, r#"{"attempt_id":"AAAAAAAAAAAAAAAAAAAAAA","server_nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","pake":"QgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","attempt_expires_in":300,"debug":true}"#.into(), None), |e| {
            matches!(e, Error::ProtocolViolation(_))
        }),
    ];
    for (path, answer, expected) in cases {
        let mut lab = lab().await;
        let shown = format!("{path} {answer:?}");
        lab.queue(path, answer);
        let err = lab.provision(PASSWORD).await.unwrap_err();
        assert!(expected(&err), "{shown} gave {err:?}");
        assert!(lab.vault.tokens().is_empty(), "{shown}");
    }
}

#[tokio::test]
async fn an_attempt_the_bank_forgot_is_restarted_once_without_costing_a_try() {
    let mut lab = lab().await;
    lab.queue(PATH_CONFIRM, error(ErrorCode::AttemptExpired, None));
    let done = lab.provision(PASSWORD).await.unwrap();
    assert!(done.is_delivered());
    assert_eq!(lab.seen(PATH_START), 2);
    assert_eq!(lab.bank.lock().unwrap().tries_left, 5);

    // Twice in a row: the customer is told to start again.
    let mut lab = self::lab().await;
    lab.queue(PATH_CONFIRM, error(ErrorCode::UnknownAttempt, None));
    lab.queue(PATH_CONFIRM, error(ErrorCode::AttemptExpired, None));
    assert!(matches!(lab.provision(PASSWORD).await, Err(Error::AttemptExpired)));
}

#[tokio::test]
async fn a_flaky_ack_is_retried_until_the_bank_records_the_delivery() {
    let mut lab = lab().await;
    lab.queue(PATH_ACK, error(ErrorCode::Unavailable, None));
    lab.queue(PATH_ACK, (502, "bad gateway".into(), None));
    let done = lab.provision(PASSWORD).await.unwrap();
    assert!(done.is_delivered(), "{:?}", done.delivery);
    assert_eq!(lab.seen(PATH_ACK), 3);
}

#[tokio::test]
async fn token_stays_pending_when_the_ack_cannot_get_through_and_is_acknowledged_later() {
    let mut lab = lab().await;
    for _ in 0..3 {
        lab.queue(PATH_ACK, error(ErrorCode::Unavailable, None));
    }
    let done = lab.provision(PASSWORD).await.unwrap();
    assert!(matches!(done.delivery, Err(Error::ServerError { status: 503 })));
    assert!(!done.must_remove());
    assert!(!lab.bank.lock().unwrap().delivered);
    let pending = lab.vault.tokens()[0].delivery.pending.clone();
    assert_eq!(pending, lab.bank.lock().unwrap().winner);

    // The next start of the app: the ack goes through and the token is marked delivered.
    let owed = lab.vault.pending_ack(&done.id).unwrap().expect("the ack is still owed");
    lab.client.send_ack(&owed).await.unwrap();
    assert!(lab.bank.lock().unwrap().delivered);
    lab.vault.mark_delivered(&done.id).unwrap();
    assert_eq!(lab.vault.tokens()[0].delivery.pending, None);
    // Nothing owed any more.
    assert_eq!(lab.vault.pending_ack(&done.id).unwrap(), None);
}

#[tokio::test]
async fn a_token_replaced_by_a_newer_setup_must_be_removed() {
    let mut lab = lab().await;
    lab.queue(PATH_ACK, error(ErrorCode::Superseded, None));
    let done = lab.provision(PASSWORD).await.unwrap();
    assert!(matches!(done.delivery, Err(Error::Superseded)));
    assert!(done.must_remove());
    assert_eq!(lab.seen(PATH_ACK), 1, "a final refusal is not retried");
}

#[tokio::test]
async fn a_failing_store_sends_no_ack() {
    let mut lab = lab().await;
    let (service, user) = ids();
    let pw = ActivationPassword::new(PASSWORD).unwrap();
    let confirmed = lab.client.handshake(&service, &user, &pw, BANK_TIME).await.unwrap();
    // The same service ID and user ID are already on the device: storing fails.
    let mut twin = confirmed.token.clone();
    twin.delivery.pending = None;
    lab.vault.add(twin, BANK_TIME).unwrap();
    let err = lab.vault.add(confirmed.token, BANK_TIME).unwrap_err();
    assert!(matches!(err, Error::DuplicateToken));
    // With nothing stored there is no StoredToken, so the ack cannot be sent.
    drop(confirmed.ack);
    assert_eq!(lab.seen(PATH_ACK), 0);
    assert!(!lab.bank.lock().unwrap().delivered);
}

#[tokio::test]
async fn an_unreachable_bank_is_reported_as_unreachable() {
    // A port that was just free: nothing listens there.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client = ProvisioningClient::new(&format!("http://127.0.0.1:{port}")).unwrap();
    let (service, user) = ids();
    let pw = ActivationPassword::new(PASSWORD).unwrap();
    let err = client.handshake(&service, &user, &pw, 0).await.unwrap_err();
    assert!(matches!(err, Error::ServerUnreachable(_)), "{err:?}");
}

#[tokio::test]
async fn a_server_that_does_not_speak_tls_is_a_tls_failure() {
    // Plain HTTP on the port the app reaches with https://.
    let lab = lab().await;
    let http = lab.client.base_url().to_string();
    let https = http.replace("http://", "https://");
    let client = ProvisioningClient::new(&https).unwrap();
    let (service, user) = ids();
    let pw = ActivationPassword::new(PASSWORD).unwrap();
    let err = client.handshake(&service, &user, &pw, 0).await.unwrap_err();
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
    assert_eq!(err.kind().as_str(), "tls");
}

/// The app runs these futures on a multi-threaded runtime (Tauri commands): they must be Send.
#[allow(dead_code)]
fn provisioning_futures_are_send(
    client: &ProvisioningClient,
    stored: softtoken_core::client::StoredToken,
    ack: &AckRequest,
) {
    fn send<T: Send>(_: &T) {}
    let (service, user) = ids();
    let pw = ActivationPassword::new(PASSWORD).unwrap();
    send(&client.handshake(&service, &user, &pw, 0));
    send(&client.ack(stored));
    send(&client.send_ack(ack));
}
