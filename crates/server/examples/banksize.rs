//! The bank-size benchmark (issue 16): millions of registrations in the database, the real
//! `softtoken-server serve` binary in its own process, and this process as the bank's web tier.
//!
//! ```sh
//! cargo build --release -p softtoken-server --bin softtoken-server --example banksize
//! target/release/examples/banksize run --backend sqlite --registrations 1000000
//! target/release/examples/banksize run --backend postgres --registrations 1000000
//! target/release/examples/banksize seed --database bank.db --registrations 20000
//! ```
//!
//! `seed` writes N delivered or in-use tokens straight into the database through
//! [`Storage::insert_bulk`] and the server's sealer (not through the protocol, so ten million
//! take minutes). Token `i` has user ID `7` followed by `i` in 11 digits and a seed derived
//! from `i` alone, so the load side computes any token's codes without keeping ten million
//! seeds. The master key is `SOFTTOKEN_MASTER_KEY` (hex), or a fixed benchmark key.
//!
//! `run` seeds a fresh database in a temporary directory (SQLite, or a private PostgreSQL
//! cluster with durable commits), starts the server binary on it with the default cache,
//! then verifies over HTTP a random sample of `--sample` tokens (the customers active now)
//! from `--concurrency` keep-alive connections: per token, the code of the current step
//! (accepted), of the next step (accepted, or a replay when the two codes are equal or the
//! first code also matched a later step: both right), and a code that matches no step the
//! server can look at (rejected). Any other answer is counted as a fault. Then it provisions
//! `--provisions` fresh registrations one after another with the app's client over HTTP.
//! It reports verify throughput and percentiles, provisioning percentiles, the server
//! process's peak RSS (`VmHWM`) and the database's size on disk, and deletes the database.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};
use sha2::{Digest, Sha256};
use softtoken_core::client::ProvisioningClient;
use softtoken_core::ids::{ActivationPassword, ServiceId, TokenId, UserId};
use softtoken_core::totp::{unix_now, ClockOffset, Seed, Totp, TotpParams};
use softtoken_server::sealed::{MasterKey, Purpose, Sealer};
use softtoken_server::storage::postgres::PostgresStorage;
use softtoken_server::storage::sqlite::{SqliteOptions, SqliteStorage};
use softtoken_server::storage::{Registration, RegistrationState, Storage};
use softtoken_server::testing::postgres::PgCluster;
use zeroize::Zeroizing;

const ADMIN: &str = "bank-size-benchmark-admin-token";
const SERVICE: &str = "10112231";
/// The key seeded tokens are sealed under when `SOFTTOKEN_MASTER_KEY` is not set; a
/// benchmark's key protects nothing.
const BENCH_KEY: &str = "6b616e6b2d73697a652062656e63686d61726b206b6579206f6e6c7921212121";
/// Registrations per bulk write (one transaction each).
const CHUNK: usize = 50_000;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Writes N seeded tokens into a database.
    Seed {
        /// SQLite database file.
        #[arg(long, conflicts_with = "database_url")]
        database: Option<PathBuf>,
        /// PostgreSQL URL.
        #[arg(long)]
        database_url: Option<String>,
        #[arg(long)]
        registrations: usize,
    },
    /// Seeds a fresh database, serves it with the real binary, measures, deletes it.
    Run {
        #[arg(long, value_enum)]
        backend: Backend,
        #[arg(long)]
        registrations: usize,
        /// Distinct tokens verified (each gets three verifications).
        #[arg(long, default_value_t = 200_000)]
        sample: usize,
        /// Keep-alive connections sending verifications.
        #[arg(long, default_value_t = 256)]
        concurrency: usize,
        /// Fresh registrations provisioned one after another through the protocol.
        #[arg(long, default_value_t = 300)]
        provisions: usize,
        /// The server binary [default: softtoken-server beside this example's directory].
        #[arg(long)]
        server_bin: Option<PathBuf>,
        /// Where the SQLite database goes [default: a temporary directory].
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Backend {
    Sqlite,
    Postgres,
}

fn master_key() -> MasterKey {
    let hex = std::env::var("SOFTTOKEN_MASTER_KEY").unwrap_or_else(|_| BENCH_KEY.into());
    MasterKey::parse(&hex).expect("SOFTTOKEN_MASTER_KEY must be 64 hex digits")
}

fn user_of(i: usize) -> String {
    format!("7{i:011}")
}

/// Token `i`'s seed: derived from `i` alone, so both sides know it without storing it.
fn seed_of(i: usize) -> Seed {
    let digest = Sha256::new()
        .chain_update(b"softtoken bank-size benchmark seed")
        .chain_update((i as u64).to_be_bytes())
        .finalize();
    Seed::new(Zeroizing::new(digest[..20].to_vec())).unwrap()
}

fn totp_of(i: usize) -> Totp {
    Totp::new(TotpParams::default(), &seed_of(i), ClockOffset(0)).unwrap()
}

/// Token `i` as the bank holds it: even ones in use for a while, odd ones delivered and
/// waiting for their first code.
fn registration_of(sealer: &Sealer, i: usize, now: u64) -> Registration {
    let id = format!("{i:032x}");
    let user = user_of(i);
    let params = TotpParams::default();
    let step = now / u64::from(params.period);
    let in_use = i.is_multiple_of(2);
    let sealed_seed =
        sealer.seal(Purpose::Seed, &[id.as_str(), SERVICE, user.as_str()], seed_of(i).expose());
    Registration {
        id,
        service_id: ServiceId::new(SERVICE).unwrap(),
        user_id: UserId::new(&user).unwrap(),
        mail: "bank-size@example.jp".into(),
        state: if in_use { RegistrationState::InUse } else { RegistrationState::Delivered },
        params,
        failed_tries: 0,
        provision_locked: false,
        verify_failures: 0,
        verify_window_failures: 0,
        verify_window_start: None,
        verify_locked: false,
        last_step: in_use.then(|| step - 1440),
        drift_steps: 0,
        sealed_password: Vec::new(),
        sealed_seed: Some(sealed_seed.unwrap()),
        confirmed_attempt: None,
        issued_at: now - 3 * 86_400,
        expires_at: now + 4 * 86_400,
        confirmed_at: Some(now - 2 * 86_400),
        delivered_at: Some(now - 2 * 86_400),
        in_use_at: in_use.then(|| now - 86_400),
        ended_at: None,
        demo: false,
        rev: 0,
    }
}

/// Writes tokens `0..n` in chunks, sealing the next chunk on a blocking thread while the
/// database writes the current one.
async fn seed(storage: &dyn Storage, n: usize) -> Duration {
    let sealer = Arc::new(Sealer::new(&master_key()));
    let now = unix_now();
    let started = Instant::now();
    let build = |from: usize| {
        let sealer = sealer.clone();
        tokio::task::spawn_blocking(move || {
            (from..(from + CHUNK).min(n)).map(|i| registration_of(&sealer, i, now)).collect()
        })
    };
    let mut next = (n > 0).then(|| build(0));
    let mut from = 0;
    while let Some(chunk) = next.take() {
        let chunk: Vec<Registration> = chunk.await.unwrap();
        from += chunk.len();
        if from < n {
            next = Some(build(from));
        }
        let written = storage.insert_bulk(chunk).await.unwrap();
        assert!(written > 0);
        if from.is_multiple_of(1_000_000) || from == n {
            eprintln!("  seeded {from} in {:.0} s", started.elapsed().as_secs_f64());
        }
    }
    started.elapsed()
}

struct Server {
    child: Child,
    url: String,
    admin_url: String,
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The admin token's file beside the binary's build (bearer tokens come from files only).
fn admin_token_file(bin: &Path) -> PathBuf {
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = bin.with_file_name("banksize-admin.token");
    let _ = std::fs::remove_file(&path);
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path);
    let written = f.as_mut().map(|f| std::io::Write::write_all(f, ADMIN.as_bytes()));
    assert!(matches!(written, Ok(Ok(()))), "cannot write {}", path.display());
    path
}

fn spawn_server(bin: &Path, database: &[&str]) -> Server {
    let mut child = Command::new(bin)
        .env("SOFTTOKEN_MASTER_KEY", master_key().to_hex().as_str())
        .env("SOFTTOKEN_ADMIN_TOKEN_FILE", admin_token_file(bin))
        .env("RUST_LOG", "warn")
        .args(database)
        .args(["serve", "--bind", "127.0.0.1:0", "--admin-bind", "127.0.0.1:0"])
        .args(["--max-connections", "2000", "--max-connections-per-address", "2000"])
        .args(["--rate-starts-per-address-burst", "1000000"])
        .args(["--rate-starts-per-address-per-minute", "1000000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the server binary (cargo build --release -p softtoken-server)");
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut server =
        Server { child, url: String::new(), admin_url: String::new(), _stdout: stdout };
    let mut line = String::new();
    loop {
        line.clear();
        assert!(server._stdout.read_line(&mut line).unwrap() > 0, "the server exited");
        if let Some(url) = line.trim().strip_prefix("softtoken-server listening on ") {
            server.url = url.to_owned();
        }
        if let Some(url) = line.trim().strip_prefix("softtoken-server admin API listening on ") {
            server.admin_url = url.to_owned();
            return server;
        }
    }
}

/// A line of `/proc/<pid>/status` in kB.
fn proc_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// `count` distinct token indices below `n`, drawn at random.
fn sample(n: usize, count: usize) -> Vec<usize> {
    let mut state = u64::from(std::process::id()) ^ (unix_now() << 20) | 1;
    let mut picked = HashSet::with_capacity(count.min(n));
    let mut out = Vec::with_capacity(count.min(n));
    while out.len() < count.min(n) {
        // xorshift64*: plenty for choosing customers.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let i = (state.wrapping_mul(0x2545_f491_4f6c_dd1d) % n as u64) as usize;
        if picked.insert(i) {
            out.push(i);
        }
    }
    out
}

#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    requests: usize,
    faults: usize,
    equal_codes: usize,
}

/// What a verify answered: accepted, or the reason of the rejection.
async fn verify(client: &reqwest::Client, url: &str, user: &str, code: &str) -> Option<String> {
    let body = format!(r#"{{"service_id":"{SERVICE}","user_id":"{user}","code":"{code}"}}"#);
    let resp = client
        .post(url)
        .bearer_auth(ADMIN)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .ok()?;
    if !resp.status().is_success() {
        return Some(format!("HTTP {}", resp.status()));
    }
    let v: serde_json::Value = resp.json().await.ok()?;
    Some(if v["accepted"] == true {
        "accepted".into()
    } else {
        v["reason"].as_str().unwrap_or("?").to_owned()
    })
}

/// Three verifications of one token, each checked against what the server must answer.
async fn verify_token(client: &reqwest::Client, url: &str, i: usize, tally: &mut Tally) {
    let totp = totp_of(i);
    let user = user_of(i);
    let step = unix_now() / 60;
    // The server's step is this one or the next (a request takes far less than a minute), so
    // it looks at steps s−2 … s+3 at most (±1 around its own step and around the drift the
    // first code sets).
    let code = |s: u64| totp.code_at_bank_time(s * 60).as_str().to_owned();
    let now_code = code(step);
    let next_code = code(step + 1);
    let mut timed = async |c: &str| {
        let begin = Instant::now();
        let answer = verify(client, url, &user, c).await;
        tally.latencies.push(begin.elapsed());
        tally.requests += 1;
        answer
    };
    let first = timed(&now_code).await;
    // The first code may have been accepted at a later step whose code is the same; then the
    // next step's code is a replay, rightly.
    let equal = (step + 1..=step + 3).any(|s| code(s) == now_code);
    let second = timed(&next_code).await;
    let wrong: String = next_code.bytes().map(|b| char::from(b'0' + (b - b'0' + 5) % 10)).collect();
    let collides = (step.saturating_sub(3)..=step + 4).any(|s| code(s) == wrong);
    let third = if collides { None } else { Some(timed(&wrong).await) };
    let mut faults = usize::from(first.as_deref() != Some("accepted"));
    faults += usize::from(match second.as_deref() {
        Some("accepted") => false,
        Some("replayed") => !equal,
        _ => true,
    });
    if let Some(third) = &third {
        faults += usize::from(third.as_deref() != Some("wrong_code"));
    }
    if faults > 0 {
        eprintln!("  fault: token {i}: {first:?} {second:?} {third:?} (equal codes: {equal})");
    }
    tally.faults += faults;
    tally.equal_codes += usize::from(equal);
}

async fn load(server: &Server, n: usize, sample_size: usize, concurrency: usize) -> Tally {
    let picked = Arc::new(sample(n, sample_size));
    let next = Arc::new(AtomicUsize::new(0));
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build().unwrap();
    let url = format!("{}/v1/admin/verify", server.admin_url);
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (picked, next, client, url) =
                (picked.clone(), next.clone(), client.clone(), url.clone());
            tokio::spawn(async move {
                let mut tally = Tally::default();
                while let Some(&i) = picked.get(next.fetch_add(1, Ordering::Relaxed)) {
                    verify_token(&client, &url, i, &mut tally).await;
                }
                tally
            })
        })
        .collect();
    let mut total = Tally::default();
    for w in workers {
        let t = w.await.unwrap();
        total.latencies.extend(t.latencies);
        total.requests += t.requests;
        total.faults += t.faults;
        total.equal_codes += t.equal_codes;
    }
    let elapsed = started.elapsed();
    total.latencies.sort();
    println!(
        "verify over HTTP: {} verifications of {} tokens in {:.1} s = {:.0} /s; p50 {}, p99 {}, \
         max {}; {} faults; {} tokens with equal codes at adjacent steps (replay rightly)",
        total.requests,
        picked.len(),
        elapsed.as_secs_f64(),
        total.requests as f64 / elapsed.as_secs_f64(),
        ms(percentile(&total.latencies, 0.50)),
        ms(percentile(&total.latencies, 0.99)),
        ms(*total.latencies.last().unwrap()),
        total.faults,
        total.equal_codes,
    );
    total
}

async fn provision(server: &Server, count: usize) {
    let app = ProvisioningClient::new(&server.url).unwrap();
    let client = reqwest::Client::new();
    let service = ServiceId::new(SERVICE).unwrap();
    let pw = || ActivationPassword::new("4821").unwrap();
    let mut latencies = Vec::with_capacity(count);
    for _ in 0..count {
        let issued: serde_json::Value = client
            .post(format!("{}/v1/admin/registrations", server.admin_url))
            .bearer_auth(ADMIN)
            .json(&serde_json::json!({
                "service_id": SERVICE, "mail": "fresh@example.jp", "activation_password": "4821"
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let user = UserId::new(issued["user_id"].as_str().unwrap()).unwrap();
        let begin = Instant::now();
        let confirmed = app.handshake(&service, &user, &pw(), unix_now()).await.unwrap();
        let outcome = app.ack(confirmed.ack.stored(TokenId::random().unwrap())).await;
        latencies.push(begin.elapsed());
        assert!(outcome.is_delivered());
    }
    latencies.sort();
    println!(
        "provisioning (start + confirm + ack over HTTP, {count} fresh registrations): p50 {}, \
         p99 {}, max {}",
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.99)),
        ms(*latencies.last().unwrap())
    );
}

fn dir_size(path: &Path) -> u64 {
    let meta = std::fs::symlink_metadata(path).map(|m| (m.is_dir(), m.len()));
    match meta {
        Ok((true, _)) => std::fs::read_dir(path)
            .map(|d| d.flatten().map(|e| dir_size(&e.path())).sum())
            .unwrap_or(0),
        Ok((false, len)) => len,
        Err(_) => 0,
    }
}

#[tokio::main]
async fn main() {
    softtoken_core::client::install_tls_provider();
    match Cli::parse().mode {
        Mode::Seed { database, database_url, registrations } => {
            let storage: Box<dyn Storage> = match (database, database_url) {
                (_, Some(url)) => Box::new(
                    PostgresStorage::open(
                        softtoken_server::storage::postgres::PostgresOptions::new(url),
                        true,
                    )
                    .await
                    .unwrap(),
                ),
                (Some(path), None) => {
                    Box::new(SqliteStorage::open(SqliteOptions::new(path)).unwrap())
                }
                (None, None) => panic!("--database or --database-url"),
            };
            let took = seed(storage.as_ref(), registrations).await;
            storage.close().await;
            println!("seeded {registrations} registrations in {:.1} s", took.as_secs_f64());
        }
        Mode::Run { backend, registrations, sample, concurrency, provisions, server_bin, dir } => {
            let bin = server_bin.unwrap_or_else(|| {
                let exe = std::env::current_exe().unwrap();
                exe.parent().unwrap().parent().unwrap().join("softtoken-server")
            });
            let temp = tempfile::tempdir_in(dir.unwrap_or_else(std::env::temp_dir)).unwrap();
            let cluster = matches!(backend, Backend::Postgres)
                .then(|| PgCluster::start_with(true).expect("PostgreSQL installed"));
            let db_path = temp.path().join("bank.db");
            let storage: Box<dyn Storage> = match &cluster {
                Some(c) => Box::new(PostgresStorage::open(c.options(), true).await.unwrap()),
                None => Box::new(SqliteStorage::open(SqliteOptions::new(&db_path)).unwrap()),
            };
            println!(
                "bank-size benchmark: {registrations} registrations on {}, sample {sample}, \
                 {concurrency} connections",
                if cluster.is_some() {
                    "PostgreSQL (fsync, synchronous_commit on)"
                } else {
                    "SQLite (synchronous = full)"
                }
            );
            let took = seed(storage.as_ref(), registrations).await;
            storage.close().await;
            drop(storage);
            println!(
                "seeded {registrations} in {:.1} s ({:.0} /s)",
                took.as_secs_f64(),
                registrations as f64 / took.as_secs_f64()
            );
            let url_arg;
            let db_arg: Vec<&str> = match &cluster {
                Some(c) => {
                    url_arg = c.url();
                    vec!["--database-url", &url_arg]
                }
                None => vec!["--database", db_path.to_str().unwrap()],
            };
            let server = spawn_server(&bin, &db_arg);
            let pid = server.child.id();
            let tally = load(&server, registrations, sample, concurrency).await;
            provision(&server, provisions).await;
            let size = match &cluster {
                Some(c) => c
                    .psql("SELECT pg_database_size('postgres')")
                    .unwrap()
                    .trim()
                    .parse::<u64>()
                    .unwrap_or(0),
                None => dir_size(temp.path()),
            };
            println!(
                "server process: peak RSS (VmHWM) {:.1} MB, RSS now {:.1} MB; database on disk \
                 {:.2} GB",
                proc_kb(pid, "VmHWM:") as f64 / 1024.0,
                proc_kb(pid, "VmRSS:") as f64 / 1024.0,
                size as f64 / 1e9
            );
            drop(server);
            drop(cluster);
            assert_eq!(tally.faults, 0, "every answer must be the expected one");
        }
    }
}
