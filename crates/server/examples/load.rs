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
//! (`fsync` and `synchronous_commit` on), and `--instances` banks, each with its own pool of
//! `--pool-size` connections, share it; the verifying connections are spread over them as a
//! load balancer would.
//!
//! It creates a fresh SQLite database in a temporary directory, provisions `--registrations`
//! tokens through the bank's own protocol code, then sends every token's codes for the steps
//! before, at and after the server's clock (three accepted verifications each, every one
//! committed before its answer) and one wrong code each (a rejected verification, also
//! committed), from `--concurrency` keep-alive connections. The server's clock is pinned, so
//! every run does the same work whatever the wall clock does. Then it provisions
//! `--provisions` more tokens one after another over HTTP with the core client and reports the
//! latency percentiles. Everything stops by itself; nothing leaves 127.0.0.1.
//!
//! The server is served as the binary serves it (`serve::listen`: axum-server with the edge's
//! timeouts and connection caps; the per-address cap is raised to `--concurrency`, since the
//! bank web tier's connections all come from 127.0.0.1 here). The verifications are sent by a
//! second process (this example started again with `--drive`), so that the figure is the
//! server's and the load generator costs as little as it can: one thread, the requests built
//! as bytes before the clock starts, written and read on raw HTTP/1.1 keep-alive connections.
//! Its CPU time and the server's are both printed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
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
use softtoken_server::edge::EdgeLimits;
use softtoken_server::http::{AdminToken, HttpOptions};
use softtoken_server::ratelimit::RateLimits;
use softtoken_server::storage::postgres::PostgresStorage;
use softtoken_server::storage::sqlite::Synchronous;
use softtoken_server::testing::postgres::PgCluster;
use softtoken_server::testing::{BankOptions, TestBank};
use tokio::net::TcpStream;

// The binary's allocator (src/main.rs), so the figure is the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ADMIN: &str = "load-benchmark-admin-token";
/// The bank web tier's verify-only credential, as a bank's web servers would present it.
const VERIFIER: &str = "load-benchmark-verify-token";
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
    /// Connections in each instance's PostgreSQL pool (with --postgres).
    #[arg(long)]
    pool_size: Option<usize>,
    /// PostgreSQL's `commit_delay` in microseconds (with --postgres): how long a commit waits
    /// for others to share its WAL flush.
    #[arg(long)]
    commit_delay: Option<u32>,
    /// Give up after this many seconds in total.
    #[arg(long, default_value_t = 300)]
    max_seconds: u64,
    /// Internal: be the load-generating process, sending the requests of this file.
    #[arg(long, hide = true)]
    drive: Option<PathBuf>,
    /// Internal (with --drive): the servers' addresses, comma-separated.
    #[arg(long, hide = true, default_value = "")]
    targets: String,
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

/// User and system CPU seconds of this process so far (`/proc/self/stat`, in clock ticks of
/// 1/100 s).
fn cpu_secs() -> f64 {
    stat_cpu_secs(&std::fs::read_to_string("/proc/self/stat").unwrap_or_default())
}

/// User and system CPU seconds in a `stat` line of `/proc`.
fn stat_cpu_secs(stat: &str) -> f64 {
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    (tick(11) + tick(12)) / 100.0
}

/// CPU seconds of this process's threads so far, summed by thread name (the runtime's workers,
/// the SQLite writer and syncer, …), so that a run shows where the server's time went.
fn cpu_secs_by_thread() -> BTreeMap<String, f64> {
    let mut by_name = BTreeMap::new();
    for task in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        *by_name.entry(name.trim().to_owned()).or_insert(0.0) += stat_cpu_secs(&stat);
    }
    by_name
}

fn main() {
    let args = Args::parse();
    if let Some(jobs) = &args.drive {
        // The load generator: one thread, so it takes as little of the machine as it can.
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(drive(jobs, &args));
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(bench(args));
}

/// One running instance: its bank and the addresses of its two listeners.
struct Instance {
    bank: TestBank,
    url: String,
    admin: SocketAddr,
}

async fn serve(bank: TestBank, edge: EdgeLimits) -> Instance {
    let bind = || {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        l
    };
    let (public, admin) = (bind(), bind());
    let (url, admin_addr) =
        (format!("http://{}", public.local_addr().unwrap()), admin.local_addr().unwrap());
    for (listener, router) in [(public, bank.router()), (admin, bank.admin_router())] {
        tokio::spawn(async move {
            let handle = axum_server::Handle::new();
            softtoken_server::serve::listen(listener, handle, router, None, edge, &[])
                .await
                .unwrap();
        });
    }
    Instance { bank, url, admin: admin_addr }
}

async fn bench(args: Args) {
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
    // A step boundary plus 30 s, so the steps −1, 0, +1 are unambiguous.
    let t0 = softtoken_core::totp::unix_now() / 60 * 60 + 30;
    let clock = ManualClock::new(t0);
    let edge = EdgeLimits {
        max_connections_per_address: args.concurrency.max(32),
        max_connections: EdgeLimits::default().max_connections.max(args.concurrency + 64),
        ..EdgeLimits::default()
    };
    let options = || BankOptions {
        http: HttpOptions {
            admin_token: Some(AdminToken::new(ADMIN).unwrap()),
            verify_token: Some(AdminToken::new(VERIFIER).unwrap()),
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
            edge,
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
        if let Some(us) = args.commit_delay {
            db.psql(&format!("ALTER SYSTEM SET commit_delay = {us}")).unwrap();
            db.psql("SELECT pg_reload_conf()").unwrap();
        }
        for _ in 0..args.instances.max(1) {
            let mut pg = db.options();
            if let Some(n) = args.pool_size {
                pg.pool_size = n;
            }
            let storage = PostgresStorage::open(pg, true).await.unwrap();
            let bank = TestBank::on(options(), Arc::new(storage), tempfile::tempdir().unwrap());
            instances.push(serve(bank.unwrap(), edge).await);
        }
        cluster = Some(db);
    } else {
        instances.push(serve(TestBank::open(options()).unwrap(), edge).await);
    }
    let first = &instances[0];
    let (bank, url) = (first.bank.bank().clone(), first.url.clone());
    println!(
        "softtoken-server load benchmark: {} registrations, {} connections, {}, {} CPUs",
        args.registrations,
        args.concurrency,
        if args.postgres {
            format!(
                "PostgreSQL (synchronous_commit=on, commit_delay={} µs), {} instance(s), pool of {} each",
                args.commit_delay.unwrap_or(0),
                instances.len(),
                args.pool_size.unwrap_or(cluster.as_ref().unwrap().options().pool_size)
            )
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

    // The verifications, one a line ("1 body" expects acceptance, "0 body" a rejection), for
    // the load-generating process.
    let rounds = [t0 - 60, t0, t0 + 60];
    // The in-process run below, ten minutes of bank time later.
    let later = t0 + 600;
    // Once a code is accepted the bank also looks ±1 step around the token's learnt drift, so a
    // verify may compare codes up to two steps either side of the bank's time. A token whose
    // code repeats within those five steps (about 1 in 100,000 each time) would see a code
    // accepted for a later step and its own later codes refused as replays, rightly: such tokens
    // are left out, and counted.
    let window = |at: u64| [at - 120, at - 60, at, at + 60, at + 120];
    let distinct = |totp: &Totp| {
        [t0, later].iter().all(|&at| {
            let codes = window(at).map(|s| totp.code_at_bank_time(s));
            codes.iter().enumerate().all(|(i, c)| !codes[i + 1..].contains(c))
        })
    };
    let (tokens, repeating): (Vec<_>, Vec<_>) =
        tokens.into_iter().partition(|(_, totp)| distinct(totp));
    if !repeating.is_empty() {
        println!("  {} token(s) left out: a code repeats within five steps", repeating.len());
    }
    let mut jobs = String::new();
    for at in rounds {
        for (user, totp) in &tokens {
            let code = totp.code_at_bank_time(at);
            jobs.push_str(&format!(
                "1 {{\"service_id\":\"{SERVICE}\",\"user_id\":\"{user}\",\"code\":\"{code}\"}}\n"
            ));
        }
    }
    for (user, totp) in &tokens {
        // Shifting every digit gives a code that is surely not one of the window's.
        let right = totp.code_at_bank_time(t0 + 60);
        let wrong: String =
            right.as_str().bytes().map(|b| char::from(b'0' + (b - b'0' + 5) % 10)).collect();
        let collides = window(t0).iter().any(|t| totp.code_at_bank_time(*t).as_str() == wrong);
        if !collides {
            jobs.push_str(&format!(
                "0 {{\"service_id\":\"{SERVICE}\",\"user_id\":\"{user}\",\"code\":\"{wrong}\"}}\n"
            ));
        }
    }
    let mut jobs_file = tempfile::NamedTempFile::new().unwrap();
    jobs_file.write_all(jobs.as_bytes()).unwrap();
    let targets: Vec<String> = instances.iter().map(|i| i.admin.to_string()).collect();
    let server_cpu = cpu_secs();
    let threads_cpu = cpu_secs_by_thread();
    let driver = tokio::process::Command::from({
        let mut c = Command::new(std::env::current_exe().unwrap());
        c.arg("--drive")
            .arg(jobs_file.path())
            .args(["--targets", &targets.join(",")])
            .args(["--concurrency", &args.concurrency.to_string()])
            .args([
                "--max-seconds",
                &deadline.saturating_duration_since(Instant::now()).as_secs().to_string(),
            ])
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit());
        c
    })
    .status()
    .await
    .unwrap();
    assert!(driver.success(), "the load generator failed: {driver}");
    println!(
        "  server process CPU during the verifications: {:.2} s (user + system, all threads)",
        cpu_secs() - server_cpu
    );
    // Threads that ended meanwhile (the provisioning clients') are left out; none of the
    // server's ends during the run.
    let by_thread: Vec<String> = cpu_secs_by_thread()
        .into_iter()
        .map(|(name, secs)| (secs - threads_cpu.get(&name).copied().unwrap_or(0.0), name))
        .filter(|(secs, _)| *secs >= 0.01)
        .map(|(secs, name)| format!("{name} {secs:.2} s"))
        .collect();
    println!("    by thread: {}", by_thread.join(", "));
    let metrics: String = instances.iter().map(|i| i.bank.state.metrics().render()).collect();
    for line in metrics.lines().filter(|l| l.starts_with("softtoken_verify_total")) {
        println!("  {line}");
    }

    // The same work straight into the bank (no HTTP), to show what the storage layer takes.
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
    let refused_direct = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..args.concurrency {
        let bank = instances[worker % instances.len()].bank.bank().clone();
        let (direct, next, acc) = (direct.clone(), next.clone(), accepted_direct.clone());
        let refused = refused_direct.clone();
        workers.push(tokio::spawn(async move {
            let service = ServiceId::new(SERVICE).unwrap();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((user, code)) = direct.get(i) else { break };
                if Instant::now() > deadline {
                    break;
                }
                let outcome = bank.verify(&service, user, code, later).await.unwrap();
                if outcome.accepted {
                    acc.fetch_add(1, Ordering::Relaxed);
                } else if refused.fetch_add(1, Ordering::Relaxed) < 5 {
                    // Every code here is expected to pass: the first refusals are shown with why.
                    eprintln!("in-process: {user} {code} refused: {:?}", outcome.reason);
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
    softtoken_core::client::install_tls_provider();
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
        i.bank.storage.close().await;
    }
    drop(instances);
    drop(cluster);
}

/// One verification as the bytes sent, and the answer expected.
struct Job {
    request: Vec<u8>,
    accept: bool,
}

/// The load-generating process: connects `--concurrency` keep-alive connections, spread over
/// the targets, then sends every job of the file once, each connection one request at a time,
/// and prints the throughput and latencies it saw.
async fn drive(jobs_file: &PathBuf, args: &Args) {
    let text = std::fs::read_to_string(jobs_file).unwrap();
    let jobs: Vec<Job> = text
        .lines()
        .map(|line| {
            let (accept, body) = line.split_once(' ').unwrap();
            let request = format!(
                "POST /v1/admin/verify HTTP/1.1\r\nhost: 127.0.0.1\r\n\
                 authorization: Bearer {VERIFIER}\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\n\r\n{body}",
                body.len()
            );
            Job { request: request.into_bytes(), accept: accept == "1" }
        })
        .collect();
    let targets: Vec<&str> = args.targets.split(',').collect();
    let mut connections = Vec::with_capacity(args.concurrency);
    for i in 0..args.concurrency {
        let stream = TcpStream::connect(targets[i % targets.len()]).await.unwrap();
        stream.set_nodelay(true).unwrap();
        connections.push(stream);
    }
    let jobs = Arc::new(jobs);
    let next = Arc::new(AtomicUsize::new(0));
    let mismatches = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
    let cpu = cpu_secs();
    let started = Instant::now();
    let mut workers = Vec::new();
    for stream in connections {
        let (jobs, next, mismatches) = (jobs.clone(), next.clone(), mismatches.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut buf = Vec::with_capacity(1024);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                if Instant::now() > deadline {
                    break;
                }
                let begin = Instant::now();
                let answer = exchange(&stream, &job.request, &mut buf).await;
                latencies.push(begin.elapsed());
                match answer {
                    Ok((status, body)) => {
                        let accepted = body.windows(15).any(|w| w == br#""accepted":true"#);
                        if status != 200 || accepted != job.accept {
                            // The first few are shown, so that a mismatch can be explained.
                            if mismatches.fetch_add(1, Ordering::Relaxed) < 5 {
                                let tail = job.request.len().saturating_sub(80);
                                eprintln!(
                                    "load generator: unexpected answer {status} {} to {}",
                                    String::from_utf8_lossy(&body),
                                    String::from_utf8_lossy(&job.request[tail..]).escape_debug()
                                );
                            }
                        }
                    }
                    Err(e) => {
                        eprintln!("load generator: connection failed: {e}");
                        mismatches.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for w in workers {
        latencies.extend(w.await.unwrap());
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let done = latencies.len();
    println!(
        "verify over HTTP: {done} verifications ({} expected accepted) in {:.2} s = {:.0} verifications/s; {} unexpected answers",
        jobs.iter().filter(|j| j.accept).count(),
        elapsed.as_secs_f64(),
        done as f64 / elapsed.as_secs_f64(),
        mismatches.load(Ordering::Relaxed)
    );
    if !latencies.is_empty() {
        println!(
            "  verify latency: p50 {}, p99 {}, max {}",
            ms(percentile(&latencies, 0.50)),
            ms(percentile(&latencies, 0.99)),
            ms(*latencies.last().unwrap())
        );
    }
    println!("  load generator CPU: {:.2} s (one thread)", cpu_secs() - cpu);
}

/// Writes one request and reads its response on a keep-alive connection: the status code and
/// the body (the server always sends `content-length`).
async fn exchange(
    stream: &TcpStream,
    request: &[u8],
    buf: &mut Vec<u8>,
) -> std::io::Result<(u16, Vec<u8>)> {
    let mut written = 0;
    while written < request.len() {
        stream.writable().await?;
        match stream.try_write(&request[written..]) {
            Ok(n) => written += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).map_err(std::io::Error::other)?;
            let status: u16 =
                head.get(9..12).and_then(|s| s.parse().ok()).ok_or_else(|| bad("status line"))?;
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .ok_or_else(|| bad("content-length"))?;
            let total = end + 4 + length;
            if buf.len() >= total {
                let body = buf[end + 4..total].to_vec();
                buf.drain(..total);
                return Ok((status, body));
            }
        }
        stream.readable().await?;
        match stream.try_read(&mut chunk) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::other(format!("the server's answer has no valid {what}"))
}
