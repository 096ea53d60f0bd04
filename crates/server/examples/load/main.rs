//! A bounded load benchmark of the reference server on loopback: verify throughput with
//! durable replay state, and provisioning round-trip latency with the app's real client.
//!
//! ```sh
//! cargo run --release -p softtoken-server --example load
//! cargo run --release -p softtoken-server --example load -- --synchronous normal
//! cargo run --release -p softtoken-server --example load -- --postgres --instances 2
//! cargo run --release -p softtoken-server --example load -- --only-confirmations
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
//!
//! Then (`confirm.rs`) it runs `--confirmations` full transaction confirmations over HTTP
//! (create, fetch, answer, status) from `--confirm-concurrency` connections, and times
//! `--wakes` long-poll wake-ups; `--only-confirmations` runs that phase alone.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod confirm;
mod driver;
mod measure;
mod provisioning;
mod servers;
mod verify;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use softtoken_server::clock::ManualClock;

use crate::servers::{DatabaseArgs, Servers};

// The binary's allocator (src/main.rs), so the figure is the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    #[command(flatten)]
    database: DatabaseArgs,
    /// Full confirmations (create + fetch + answer + status) timed over HTTP.
    #[arg(long, default_value_t = 4_000)]
    confirmations: usize,
    /// Connections (each its own customer) sending confirmations at once.
    #[arg(long, default_value_t = 32)]
    confirm_concurrency: usize,
    /// What sends the confirmations: `raw` (HTTP/1.1 written by hand, the app's crypto) or
    /// `reqwest`.
    #[arg(long, default_value = "raw", value_parser = ["raw", "reqwest"])]
    confirm_client: String,
    /// Long-poll wake-ups timed one after another.
    #[arg(long, default_value_t = 200)]
    wakes: usize,
    /// Run only the confirmation phase (no verify, no provisioning round trips).
    #[arg(long)]
    only_confirmations: bool,
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

fn main() {
    let args = Args::parse();
    if let Some(jobs) = &args.drive {
        // The load generator: one thread, so it takes as little of the machine as it can.
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(driver::drive(jobs, &args.targets, args.concurrency, args.max_seconds));
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(bench(args));
}

/// The benchmark's phases in order: start the banks, provision the tokens (not timed), verify
/// over HTTP, verify in process, time provisioning round trips over HTTP, time confirmations
/// and long-poll wake-ups over HTTP, close.
async fn bench(args: Args) {
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
    // A step boundary plus 30 s, so the steps −1, 0, +1 are unambiguous.
    let t0 = softtoken_core::totp::unix_now() / 60 * 60 + 30;
    // The in-process run, ten minutes of bank time later.
    let later = t0 + 600;
    let servers = Servers::start(&args.database, args.concurrency, ManualClock::new(t0)).await;
    println!(
        "softtoken-server load benchmark: {} registrations, {} connections, {}, {} CPUs",
        args.registrations,
        args.concurrency,
        servers.describe(&args.database),
        std::thread::available_parallelism().map(usize::from).unwrap_or(1)
    );
    let bank = servers.first_bank();
    if !args.only_confirmations {
        let tokens = provisioning::provision_in_process(&bank, args.registrations, t0).await;
        let tokens = verify::leave_out_repeating(tokens, [t0, later]);
        verify::over_http(&servers.instances, &tokens, t0, args.concurrency, deadline).await;
        verify::in_process(&servers.instances, &tokens, later, args.concurrency, deadline).await;
        let url = &servers.instances[0].url;
        provisioning::round_trips(&bank, url, args.provisions, t0, deadline).await;
    }
    let (total, wakes, with_reqwest) =
        (args.confirmations, args.wakes, args.confirm_client == "reqwest");
    let concurrency = args.confirm_concurrency;
    confirm::run(&servers.instances, total, concurrency, wakes, with_reqwest, t0, deadline).await;
    servers.close().await;
}
