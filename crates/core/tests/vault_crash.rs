//! A vault that is being saved when the process is killed (SIGKILL, power-cut style) always
//! reopens to exactly the content before the save or after it, and loses no token.
//!
//! The test re-runs its own binary as a child (the ignored test `crash_child_writer`) that saves
//! in a loop, kills it at a random instant, and checks what is on disk, a few hundred times.
//! The key is handed to the child in an environment variable: the keychain is not what this
//! test is about (`vault_keychain.rs` is).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand_core::{OsRng, RngCore};
use softtoken_core::ids::{DisplayName, ServiceId, UserId};
use softtoken_core::token::Delivery;
use softtoken_core::totp::{ClockOffset, Seed, Totp, TotpParams};
use softtoken_core::vault::{IssuedToken, KeyStore, MemoryKeyStore, NewToken, Vault};
use zeroize::Zeroizing;

const KEY: &str = "crash-test-key";
const ENV_DIR: &str = "SOFTTOKEN_CRASH_CHILD_DIR";
const ENV_KEY: &str = "SOFTTOKEN_CRASH_CHILD_KEY";
const ENV_START: &str = "SOFTTOKEN_CRASH_CHILD_START";
const ENV_PROGRESS: &str = "SOFTTOKEN_CRASH_CHILD_PROGRESS";
/// Kills to survive; every one must leave the old or the new vault.
const ITERATIONS: u32 = 250;
/// The longest a child runs before it is killed.
const MAX_KILL_DELAY_MS: u64 = 30;
/// Tokens kept at most, so saves stay of a realistic size.
const MAX_TOKENS: usize = 20;
const CODE_TIME: u64 = 1_700_000_000;

/// The change that takes the vault from generation `k - 1` to `k`: always exactly one save.
#[derive(Debug, PartialEq)]
enum Step {
    Add,
    RenameLast,
    RemoveFirst,
    Reverse,
}

fn step_kind(k: u64, len: usize) -> Step {
    if k % 8 == 6 && len > 1 {
        Step::Reverse
    } else if k % 4 == 3 && len > 0 {
        Step::RenameLast
    } else if len >= MAX_TOKENS {
        Step::RemoveFirst
    } else {
        Step::Add
    }
}

/// What generation `k` holds: (user number, display name) in order.
fn expected(k: u64) -> Vec<(u64, String)> {
    let mut tokens: Vec<(u64, String)> = Vec::new();
    for j in 1..=k {
        match step_kind(j, tokens.len()) {
            Step::Add => tokens.push((j, format!("token {j}"))),
            Step::RenameLast => tokens.last_mut().unwrap().1 = format!("renamed {j}"),
            Step::RemoveFirst => {
                tokens.remove(0);
            }
            Step::Reverse => tokens.reverse(),
        }
    }
    tokens
}

fn user(j: u64) -> UserId {
    UserId::new(&format!("{:012}", 999_800_000_000 + j)).unwrap()
}

fn seed(j: u64) -> Seed {
    Seed::new(Zeroizing::new(format!("crash-seed-{j:09}").into_bytes())).unwrap()
}

fn apply(v: &mut Vault, k: u64) {
    let tokens = v.tokens();
    match step_kind(k, tokens.len()) {
        Step::Add => {
            let t = NewToken {
                issued: IssuedToken {
                    service_id: ServiceId::new("10112231").unwrap(),
                    user_id: user(k),
                    display_name: DisplayName::new(&format!("token {k}"), "").unwrap(),
                    issuer: "Example Credit Union".into(),
                    params: TotpParams::default(),
                    offset: ClockOffset(0),
                },
                seed: seed(k),
                delivery: Delivery::ACKNOWLEDGED,
            };
            v.add(t, k).unwrap();
        }
        Step::RenameLast => {
            let name = DisplayName::new(&format!("renamed {k}"), "").unwrap();
            v.rename(&tokens.last().unwrap().id, name).unwrap();
        }
        Step::RemoveFirst => v.remove(&tokens[0].id).unwrap(),
        Step::Reverse => {
            let ids: Vec<_> = tokens.iter().rev().map(|t| t.id.clone()).collect();
            v.reorder(&ids).unwrap();
        }
    }
}

fn keys_with(key: &[u8]) -> Arc<MemoryKeyStore> {
    let keys = Arc::new(MemoryKeyStore::new());
    keys.set(KEY, key).unwrap();
    keys
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// The generation the vault on disk holds, checking names, order and every seed; `None` if it
/// matches neither candidate.
fn generation_on_disk(path: &Path, key: &[u8], candidates: [u64; 2]) -> Option<u64> {
    let v = Vault::open(path, keys_with(key), KEY)
        .unwrap_or_else(|e| panic!("the vault does not open after a kill: {e}"));
    let found: Vec<(u64, String)> = v
        .tokens()
        .iter()
        .map(|t| {
            let j: u64 = t.issued.user_id.as_str().parse::<u64>().unwrap() - 999_800_000_000;
            let code = v.totp(&t.id).unwrap().code_at(CODE_TIME);
            let want = Totp::new(TotpParams::default(), &seed(j), ClockOffset(0)).unwrap();
            assert_eq!(code, want.code_at(CODE_TIME), "token {j} has the wrong seed");
            (j, t.issued.display_name.to_string())
        })
        .collect();
    let hit = candidates.into_iter().find(|&k| expected(k) == found);
    if hit.is_none() {
        let near: Vec<_> = (candidates[0].saturating_sub(3)..candidates[0] + 4)
            .filter(|&k| expected(k) == found)
            .collect();
        println!("on disk: {found:?}; matches generations {near:?}");
    }
    hit
}

/// The last generation the child reported as saved. A report is one unbuffered `write` to a
/// file, so it survives the kill: the kernel has it as soon as the call returns.
fn last_saved(progress: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(progress).unwrap_or_default();
    text.lines().filter_map(|l| l.strip_prefix("saved ")).filter_map(|n| n.parse().ok()).next_back()
}

#[test]
fn a_vault_killed_mid_save_always_reopens_to_the_old_or_the_new_content() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.vault");
    let mut key = [0u8; 32];
    OsRng.fill_bytes(&mut key);
    let exe = std::env::current_exe().unwrap();
    let progress_dir = tempfile::tempdir().unwrap();
    let progress = progress_dir.path().join("progress");

    let mut k = 0u64;
    let (mut newer_than_reported, mut litter_seen, mut saves) = (0u32, 0u32, 0u64);
    for iteration in 0..ITERATIONS {
        let _ = std::fs::remove_file(&progress);
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child_writer", "--ignored", "--nocapture"])
            .args(["--test-threads", "1"])
            .env(ENV_DIR, dir.path())
            .env(ENV_KEY, hex(&key))
            .env(ENV_START, k.to_string())
            .env(ENV_PROGRESS, &progress)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(OsRng.next_u64() % (MAX_KILL_DELAY_MS * 1000)));
        // SIGKILL on unix: no destructor, no flush, like a crash or a pulled battery.
        let _ = child.kill();
        child.wait().unwrap();

        let reported = last_saved(&progress).unwrap_or(k);
        assert!(reported >= k, "iteration {iteration}: child went back from {k} to {reported}");
        saves += reported - k;
        if path.with_file_name(".tokens.vault.tmp").exists() {
            litter_seen += 1;
        }
        // The save in flight when the kill came may have completed unreported.
        let found = generation_on_disk(&path, &key, [reported, reported + 1]);
        let Some(found) = found else {
            panic!("iteration {iteration}: vault is neither generation {reported} nor the next")
        };
        newer_than_reported += u32::from(found > reported);
        k = found;
    }
    println!(
        "{ITERATIONS} kills, {saves} saves, reached generation {k}; {newer_than_reported} kills \
         right after a rename, {litter_seen} left a temporary file"
    );
    assert!(k > 0, "the child never completed a save: the test exercised nothing");

    // Litter never accumulates and never stops the next save.
    let mut v = Vault::open(&path, keys_with(&key), KEY).unwrap();
    apply(&mut v, k + 1);
    let names: Vec<PathBuf> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(names, vec![path.clone()], "only the vault is left");
    assert_eq!(generation_on_disk(&path, &key, [k + 1, k + 1]), Some(k + 1));
}

/// The child side of the crash test: saves generation after generation until killed. Runs only
/// when the test above starts it.
#[test]
#[ignore = "the child process of the crash test; started by it"]
fn crash_child_writer() {
    let (Some(dir), Some(key), Some(start), Some(progress)) = (
        std::env::var_os(ENV_DIR),
        std::env::var(ENV_KEY).ok(),
        std::env::var(ENV_START).ok(),
        std::env::var_os(ENV_PROGRESS),
    ) else {
        println!("not started by the crash test; nothing to do");
        return;
    };
    let path = PathBuf::from(dir).join("tokens.vault");
    let mut v = Vault::open(&path, keys_with(&unhex(&key)), KEY).unwrap();
    let start: u64 = start.parse().unwrap();
    let mut progress =
        std::fs::OpenOptions::new().create(true).append(true).open(progress).unwrap();
    // Bounded, in case the parent dies before it kills us.
    let deadline = Instant::now() + Duration::from_secs(10);
    for k in start + 1..start + 10_000 {
        apply(&mut v, k);
        progress.write_all(format!("saved {k}\n").as_bytes()).unwrap();
        if Instant::now() > deadline {
            break;
        }
    }
}
