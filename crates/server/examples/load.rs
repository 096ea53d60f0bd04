//! A bounded load benchmark of the reference server on loopback: verify throughput with
//! durable replay state, and provisioning round-trip latency with the app's real client.
//!
//! ```sh
//! cargo run --release -p softtoken-server --example load
//! cargo run --release -p softtoken-server --example load -- --synchronous normal
//! cargo run --release -p softtoken-server --example load -- --postgres --instances 2
//! ```
//!
//! With `--postgres` the database is a private PostgreSQL cluster from the system's package
//! (`fsync` and `synchronous_commit` on), and `--instances` banks, each with its own pool,
//! share it; the verifying connections are spread over them as a load balancer would.
//!
//! It creates a fresh SQLite database in a temporary directory, provisions `--registrations`
//! tokens through the bank's own protocol code, then sends every token's codes for the steps
//! before, at and after the server's clock (three accepted verifications each, every one
//! committed before its answer) and one wrong code each (a rejected verification, also
//! committed), from `--concurrency` keep-alive connections. The server's clock is pinned, so
//! every run does the same work whatever the wall clock does. Then it provisions
//! `--provisions` more tokens one after another over HTTP with the core client and reports the
//! latency percentiles. Everything stops by itself; nothing leaves 127.0.0.1.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use softtoken_core::client::ProvisioningClient;
use softtoken_core::ids::{ActivationPassword, ServiceId, TokenId, UserId};
use softtoken_core::protocol::ClientHandshake;
use softtoken_core::totp::{ClockOffset, Totp};
use softtoken_server::bank::IssueRequest;
use softtoken_server::clock::ManualClock;
use softtoken_server::http::{AdminToken, HttpOptions};
use softtoken_server::ratelimit::RateLimits;
use softtoken_server::storage::postgres::PostgresStorage;
use softtoken_server::storage::sqlite::Synchronous;
use softtoken_server::testing::postgres::PgCluster;
use softtoken_server::testing::{BankOptions, TestBank};

const ADMIN: &str = "load-benchmark-admin-token";
const SERVICE: &str = "10112231";

#[derive(Parser)]
struct Args {
    /// Tokens verified (each gets 4 verifications).
    #[arg(long, default_value_t = 20_000)]
    registrations: usize,
    /// Concurrent keep-alive connections sending verifications (a bank web tier has many).
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Provisionings timed one after another over HTTP.
    #[arg(long, default_value_t = 300)]
    provisions: usize,
    /// Commit durability of the database.
    #[arg(long, default_value = "full", value_parser = parse_synchronous)]
    synchronous: Synchronous,
    /// A private PostgreSQL (durable commits) instead of SQLite.
    #[arg(long)]
    postgres: bool,
    /// Server instances on the one PostgreSQL database (with --postgres).
    #[arg(long, default_value_t = 1)]
    instances: usize,
    /// Give up after this many seconds in total.
    #[arg(long, default_value_t = 300)]
    max_seconds: u64,
}

fn parse_synchronous(name: &str) -> Result<Synchronous, String> {
    Synchronous::parse(name).ok_or_else(|| format!("one of {:?}", Synchronous::NAMES))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
    // A step boundary plus 30 s, so the steps −1, 0, +1 are unambiguous.
    let t0 = softtoken_core::totp::unix_now() / 60 * 60 + 30;
    let clock = ManualClock::new(t0);
    let options = || BankOptions {
        http: HttpOptions {
            admin_token: Some(AdminToken::new(ADMIN).unwrap()),
            rate_limits: RateLimits {
                per_address_burst: 1_000,
                per_address_per_minute: 1_000,
                total_burst: 1_000,
                total_per_minute: 1_000,
            },
            // Every provisioning round trip comes from this one address.
            start_limits: RateLimits {
                per_address_burst: 1_000_000,
                per_address_per_minute: 1_000_000,
                total_burst: 1_000_000,
                total_per_minute: 1_000_000,
            },
            ..HttpOptions::default()
        },
        clock: Arc::new(clock.clone()),
        synchronous: args.synchronous,
        // Instances on one database share the key; a benchmark's key protects nothing.
        master_key: Some("42".repeat(32)),
        ..BankOptions::default()
    };
    let mut cluster = None;
    let mut instances = Vec::new();
    if args.postgres {
        let db = PgCluster::start_with(true).unwrap();
        for _ in 0..args.instances.max(1) {
            let storage = PostgresStorage::open(db.options(), true).await.unwrap();
            let bank = TestBank::on(options(), Arc::new(storage), tempfile::tempdir().unwrap());
            instances.push(bank.unwrap().serve().await.unwrap());
        }
        cluster = Some(db);
    } else {
        instances.push(TestBank::open(options()).unwrap().serve().await.unwrap());
    }
    let served = &instances[0];
    let (bank, state, url) = (served.bank().clone(), &served.state, served.url.clone());
    // Verifies go to the admin listeners (the bank's web tier), spread over the instances.
    let admin_urls: Vec<String> = instances.iter().map(|i| i.admin_url.clone()).collect();
    println!(
        "softtoken-server load benchmark: {} registrations, {} connections, {}, {} CPUs",
        args.registrations,
        args.concurrency,
        if args.postgres {
            format!("PostgreSQL (synchronous_commit=on), {} instance(s)", instances.len())
        } else {
            format!("SQLite synchronous={:?}", args.synchronous)
        },
        std::thread::available_parallelism().map(usize::from).unwrap_or(1)
    );

    // Setup: provision every token through the bank's protocol code (not timed).
    let setup = Instant::now();
    let tokens: Arc<Mutex<Vec<(String, Totp)>>> = Arc::default();
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (bank, tokens, next) = (bank.clone(), tokens.clone(), next.clone());
        let n = args.registrations;
        tasks.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < n {
                let pw = ActivationPassword::new("4821").unwrap();
                let status = bank
                    .issue(
                        IssueRequest {
                            service_id: ServiceId::new(SERVICE).unwrap(),
                            user_id: None,
                            mail: "load@example.jp".into(),
                            password: pw.clone(),
                            expires_in_secs: None,
                        },
                        t0,
                    )
                    .await
                    .unwrap();
                let user = UserId::new(&status.user_id).unwrap();
                let (app, start) =
                    ClientHandshake::start(&ServiceId::new(SERVICE).unwrap(), &user, &pw).unwrap();
                let started = bank.start(&start, t0).await.unwrap();
                let (app, confirm) = app.confirm(&started).unwrap();
                let confirmed = bank.confirm(&confirm, t0).await.unwrap();
                let (token, ack) = app.finish(&confirmed, t0).unwrap();
                bank.ack(&ack, t0).await.unwrap();
                let totp = Totp::new(token.params, &token.seed, ClockOffset(0)).unwrap();
                tokens.lock().unwrap().push((status.user_id, totp));
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

    // Bodies prepared before the clock starts, so the load generator does little work.
    let rounds = [t0 - 60, t0, t0 + 60];
    let mut jobs: Vec<(String, bool)> = Vec::with_capacity(tokens.len() * 4);
    for at in rounds {
        for (user, totp) in &tokens {
            let code = totp.code_at_bank_time(at);
            jobs.push((
                format!(r#"{{"service_id":"{SERVICE}","user_id":"{user}","code":"{code}"}}"#),
                true,
            ));
        }
    }
    for (user, totp) in &tokens {
        // Shifting every digit gives a code that is surely not one of the window's three.
        let right = totp.code_at_bank_time(t0 + 60);
        let wrong: String =
            right.as_str().bytes().map(|b| char::from(b'0' + (b - b'0' + 5) % 10)).collect();
        let collides =
            [t0 - 60, t0, t0 + 60].iter().any(|t| totp.code_at_bank_time(*t).as_str() == wrong);
        if !collides {
            jobs.push((
                format!(r#"{{"service_id":"{SERVICE}","user_id":"{user}","code":"{wrong}"}}"#),
                false,
            ));
        }
    }
    let jobs = Arc::new(jobs);
    let next = Arc::new(AtomicUsize::new(0));
    let mismatches = Arc::new(AtomicUsize::new(0));
    softtoken_core::client::install_tls_provider();
    let client =
        reqwest::Client::builder().pool_max_idle_per_host(args.concurrency).build().unwrap();
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..args.concurrency {
        let (jobs, next, mismatches, client) =
            (jobs.clone(), next.clone(), mismatches.clone(), client.clone());
        let verify_url = format!("{}/v1/admin/verify", admin_urls[worker % admin_urls.len()]);
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((body, expect)) = jobs.get(i) else { break };
                if Instant::now() > deadline {
                    break;
                }
                let begin = Instant::now();
                let resp = client
                    .post(&verify_url)
                    .bearer_auth(ADMIN)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                let ok = resp.status().is_success();
                let text = resp.text().await.unwrap();
                latencies.push(begin.elapsed());
                let accepted = text.contains(r#""accepted":true"#);
                if !ok || accepted != *expect {
                    mismatches.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies
        }));
    }
    let mut verify_latencies = Vec::new();
    for w in workers {
        verify_latencies.extend(w.await.unwrap());
    }
    verify_latencies.sort();
    let elapsed = started.elapsed();
    let done = next.load(Ordering::Relaxed).min(jobs.len());
    let accepted = state.metrics().render();
    println!(
        "verify over HTTP: {done} verifications ({} expected accepted) in {:.2} s = {:.0} verifications/s; {} unexpected answers",
        tokens.len() * 3,
        elapsed.as_secs_f64(),
        done as f64 / elapsed.as_secs_f64(),
        mismatches.load(Ordering::Relaxed)
    );
    if !verify_latencies.is_empty() {
        println!(
            "  verify latency: p50 {}, p99 {}, max {}",
            ms(percentile(&verify_latencies, 0.50)),
            ms(percentile(&verify_latencies, 0.99)),
            ms(*verify_latencies.last().unwrap())
        );
    }
    for line in accepted.lines().filter(|l| l.starts_with("softtoken_verify_total")) {
        println!("  {line}");
    }

    // The same work straight into the bank (no HTTP), to show what the storage layer takes.
    let later = t0 + 600;
    let direct: Vec<(UserId, String)> = [later - 60, later, later + 60]
        .iter()
        .flat_map(|at| {
            tokens.iter().map(move |(user, totp)| {
                (UserId::new(user).unwrap(), totp.code_at_bank_time(*at).as_str().to_owned())
            })
        })
        .collect();
    let direct = Arc::new(direct);
    let next = Arc::new(AtomicUsize::new(0));
    let accepted_direct = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let (direct, next, bank, acc) =
            (direct.clone(), next.clone(), bank.clone(), accepted_direct.clone());
        workers.push(tokio::spawn(async move {
            let service = ServiceId::new(SERVICE).unwrap();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((user, code)) = direct.get(i) else { break };
                if Instant::now() > deadline {
                    break;
                }
                if bank.verify(&service, user, code, later).await.unwrap().accepted {
                    acc.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let elapsed = started.elapsed();
    println!(
        "verify in-process (Bank::verify, no HTTP): {} accepted of {} in {:.2} s = {:.0} verifications/s",
        accepted_direct.load(Ordering::Relaxed),
        direct.len(),
        elapsed.as_secs_f64(),
        direct.len() as f64 / elapsed.as_secs_f64()
    );

    // Provisioning round trips, one after another, with the app's client over HTTP.
    let mut latencies = Vec::with_capacity(args.provisions);
    let app = ProvisioningClient::new(&url).unwrap();
    for _ in 0..args.provisions {
        if Instant::now() > deadline {
            break;
        }
        let status = bank
            .issue(
                IssueRequest {
                    service_id: ServiceId::new(SERVICE).unwrap(),
                    user_id: None,
                    mail: "load@example.jp".into(),
                    password: ActivationPassword::new("4821").unwrap(),
                    expires_in_secs: None,
                },
                t0,
            )
            .await
            .unwrap();
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
    for i in &instances {
        i.storage.close().await;
    }
    drop(instances);
    drop(cluster);
}
