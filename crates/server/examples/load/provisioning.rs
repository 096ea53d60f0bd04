//! Getting tokens from the bank: the benchmark's own tokens, provisioned in process through the
//! bank's protocol code (not timed), and the timed provisioning round trips over HTTP with the
//! app's client.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use softtoken_core::client::ProvisioningClient;
use softtoken_core::ids::{ActivationPassword, ServiceId, TokenId, UserId};
use softtoken_core::protocol::{ClientHandshake, NewToken};
use softtoken_core::totp::{ClockOffset, Totp};
use softtoken_server::bank::{Bank, IssueRequest};

use crate::measure::{ms, percentile};
use crate::servers::SERVICE;

/// Setup: provisions `registrations` tokens through the bank's protocol code, eight at a time,
/// and returns each one's user ID and code generator.
pub async fn provision_in_process(
    bank: &Arc<Bank>,
    registrations: usize,
    t0: u64,
) -> Vec<(String, Totp)> {
    let setup = Instant::now();
    let tokens: Arc<Mutex<Vec<(String, Totp)>>> = Arc::default();
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (bank, tokens, next) = (bank.clone(), tokens.clone(), next.clone());
        let n = registrations;
        tasks.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < n {
                let (user, token) = provision_one(&bank, t0).await;
                let totp = Totp::new(token.issued.params, &token.seed, ClockOffset(0)).unwrap();
                tokens.lock().unwrap().push((user, totp));
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let tokens = Arc::try_unwrap(tokens).ok().unwrap().into_inner().unwrap();
    println!(
        "setup: {} tokens provisioned in {:.1} s (not timed)",
        tokens.len(),
        setup.elapsed().as_secs_f64()
    );
    tokens
}

/// One token through the bank's protocol code at bank time `t0`: its user ID and what the app
/// stored.
pub async fn provision_one(bank: &Bank, t0: u64) -> (String, NewToken) {
    let pw = ActivationPassword::new("4821").unwrap();
    let status = bank.issue(issue_request(pw.clone()), t0).await.unwrap();
    let user = UserId::new(&status.user_id).unwrap();
    let (app, start) =
        ClientHandshake::start(&ServiceId::new(SERVICE).unwrap(), &user, &pw).unwrap();
    let started = bank.start(&start, t0).await.unwrap();
    let (app, confirm) = app.confirm(&started).unwrap();
    let confirmed = bank.confirm(&confirm, t0).await.unwrap();
    let (token, ack) = app.finish(&confirmed, t0).unwrap();
    bank.ack(&ack, t0).await.unwrap();
    (status.user_id, token)
}

/// Provisioning round trips, one after another, with the app's client over HTTP to `url`
/// (issued by `bank`), until `provisions` are done or the deadline passes; prints the
/// latency percentiles.
pub async fn round_trips(bank: &Bank, url: &str, provisions: usize, t0: u64, deadline: Instant) {
    softtoken_core::client::install_tls_provider();
    let mut latencies = Vec::with_capacity(provisions);
    let app = ProvisioningClient::new(url).unwrap();
    for _ in 0..provisions {
        if Instant::now() > deadline {
            break;
        }
        let status =
            bank.issue(issue_request(ActivationPassword::new("4821").unwrap()), t0).await.unwrap();
        let user = UserId::new(&status.user_id).unwrap();
        let begin = Instant::now();
        let confirmed = app
            .handshake(
                &ServiceId::new(SERVICE).unwrap(),
                &user,
                &ActivationPassword::new("4821").unwrap(),
                t0,
            )
            .await
            .unwrap();
        let outcome = app.ack(confirmed.ack.stored(TokenId::random().unwrap())).await;
        latencies.push(begin.elapsed());
        assert!(outcome.is_delivered());
    }
    latencies.sort();
    if !latencies.is_empty() {
        println!(
            "provisioning round trip (start + confirm + ack over HTTP, {} runs): p50 {}, p95 {}, p99 {}, max {}",
            latencies.len(),
            ms(percentile(&latencies, 0.50)),
            ms(percentile(&latencies, 0.95)),
            ms(percentile(&latencies, 0.99)),
            ms(*latencies.last().unwrap())
        );
    }
}

/// A registration of the benchmark's service for `password`, with a user ID the bank draws.
fn issue_request(password: ActivationPassword) -> IssueRequest {
    IssueRequest {
        service_id: ServiceId::new(SERVICE).unwrap(),
        user_id: None,
        mail: "load@example.jp".into(),
        password,
        expires_in_secs: None,
    }
}
