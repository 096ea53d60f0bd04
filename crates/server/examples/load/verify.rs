//! The verifications: every token's codes for the steps before, at and after the bank's time
//! and one wrong code each, sent over HTTP by the load-generating process (`driver.rs`); then
//! the same accepted work straight into the bank, to show what the storage layer takes.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use softtoken_core::ids::{ServiceId, UserId};
use softtoken_core::totp::Totp;

use crate::measure::{cpu_secs, cpu_secs_by_thread};
use crate::servers::{Instance, SERVICE};

/// The steps a verify at `at` may compare codes with. Once a code is accepted the bank also
/// looks ±1 step around the token's learnt drift, so a verify may compare codes up to two steps
/// either side of the bank's time.
fn window(at: u64) -> [u64; 5] {
    [at - 120, at - 60, at, at + 60, at + 120]
}

/// Leaves out the tokens whose code repeats within the [`window`] of any time in `times`, and
/// says how many. Such a token (about 1 in 100,000 each time) would see a code accepted for a
/// later step and its own later codes refused as replays, rightly.
pub fn leave_out_repeating(tokens: Vec<(String, Totp)>, times: [u64; 2]) -> Vec<(String, Totp)> {
    let distinct = |totp: &Totp| {
        times.iter().all(|&at| {
            let codes = window(at).map(|s| totp.code_at_bank_time(s));
            codes.iter().enumerate().all(|(i, c)| !codes[i + 1..].contains(c))
        })
    };
    let (tokens, repeating): (Vec<_>, Vec<_>) =
        tokens.into_iter().partition(|(_, totp)| distinct(totp));
    if !repeating.is_empty() {
        println!("  {} token(s) left out: a code repeats within five steps", repeating.len());
    }
    tokens
}

/// The verifications, one a line ("1 body" expects acceptance, "0 body" a rejection), for the
/// load-generating process: each token's codes for the steps around `t0`, then a wrong code.
fn jobs(tokens: &[(String, Totp)], t0: u64) -> String {
    let rounds = [t0 - 60, t0, t0 + 60];
    let mut jobs = String::new();
    for at in rounds {
        for (user, totp) in tokens {
            let code = totp.code_at_bank_time(at);
            jobs.push_str(&format!(
                "1 {{\"service_id\":\"{SERVICE}\",\"user_id\":\"{user}\",\"code\":\"{code}\"}}\n"
            ));
        }
    }
    for (user, totp) in tokens {
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
    jobs
}

/// Has the load-generating process (this example again, with `--drive`) send the [`jobs`] to
/// the instances' admin listeners over `concurrency` connections, then prints this process's
/// CPU time meanwhile, by thread, and the banks' verify counters.
pub async fn over_http(
    instances: &[Instance],
    tokens: &[(String, Totp)],
    t0: u64,
    concurrency: usize,
    deadline: Instant,
) {
    let mut jobs_file = tempfile::NamedTempFile::new().unwrap();
    jobs_file.write_all(jobs(tokens, t0).as_bytes()).unwrap();
    let targets: Vec<String> = instances.iter().map(|i| i.admin.to_string()).collect();
    let server_cpu = cpu_secs();
    let threads_cpu = cpu_secs_by_thread();
    let driver = tokio::process::Command::from({
        let mut c = Command::new(std::env::current_exe().unwrap());
        c.arg("--drive")
            .arg(jobs_file.path())
            .args(["--targets", &targets.join(",")])
            .args(["--concurrency", &concurrency.to_string()])
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
}

/// Verifies each token's codes for the steps around `later` with `Bank::verify` (no HTTP) from
/// `concurrency` tasks spread over the instances, and prints the throughput.
pub async fn in_process(
    instances: &[Instance],
    tokens: &[(String, Totp)],
    later: u64,
    concurrency: usize,
    deadline: Instant,
) {
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
    for worker in 0..concurrency {
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
}
