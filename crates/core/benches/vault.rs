//! Opening and saving a 1,000-token vault, unlocking one with the app PIN, and the OS keychain
//! round trip, measured apart.
//!
//! `cargo bench -p softtoken-core --bench vault`
//! (inside `scripts/with-secret-service.sh` to include the keychain figures).
//!
//! The vault figures use the in-memory key store, so they exclude the keychain; the file is on
//! the real disk, so a save includes its two fsyncs.
#![allow(missing_docs)] // criterion_group! generates an undocumented public function.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use softtoken_core::ids::{AppPin, DisplayName, ServiceId, UserId};
use softtoken_core::token::Delivery;
use softtoken_core::totp::{ClockOffset, Seed, TotpParams};
use softtoken_core::vault::{
    IssuedToken, KeyStore, MemoryKeyStore, NewToken, OsKeyStore, PinCost, Vault,
};
use zeroize::Zeroizing;

// The workspace's one skip helper (the tests crate's; core cannot depend on that crate).
#[path = "../../../tests/skip.rs"]
mod skip;

const TOKENS: u32 = 1_000;
const KEY: &str = "bench-vault-key";

fn token(n: u32) -> NewToken {
    NewToken {
        issued: IssuedToken {
            service_id: ServiceId::new("10112231").unwrap(),
            user_id: UserId::new(&format!("{:012}", 999_800_000_000u64 + u64::from(n))).unwrap(),
            display_name: DisplayName::new(&format!("しんきん 普通預金 {n}"), "家族用").unwrap(),
            issuer: "Example Credit Union".into(),
            params: TotpParams::default(),
            offset: ClockOffset(0),
        },
        seed: Seed::new(Zeroizing::new(format!("bench-seed-{n:010}").into_bytes())).unwrap(),
        delivery: Delivery::ACKNOWLEDGED,
    }
}

fn open(path: &Path, keys: &Arc<MemoryKeyStore>) -> Vault {
    Vault::open(path, keys.clone(), KEY).expect("open")
}

fn vault(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tokens.vault");
    let keys = Arc::new(MemoryKeyStore::new());
    let mut v = open(&path, &keys);
    for n in 1..=TOKENS {
        v.add(token(n), 1_700_000_000).expect("add");
    }
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!("vault of {TOKENS} tokens: {size} bytes");
    let ids: Vec<_> = v.tokens().into_iter().map(|t| t.id).collect();

    let mut g = c.benchmark_group("vault");
    g.sample_size(30);
    g.bench_function("open 1000 tokens (no keychain)", |b| {
        b.iter(|| black_box(open(&path, &keys)))
    });
    let mut flip = false;
    g.bench_function("save 1000 tokens (rename one, fsync)", |b| {
        b.iter(|| {
            flip = !flip;
            let name = DisplayName::new(if flip { "A" } else { "B" }, "").expect("name");
            v.rename(&ids[500], name).expect("rename")
        })
    });
    g.bench_function("code of one token (unseal seed + TOTP)", |b| {
        b.iter(|| {
            let totp = v.totp(black_box(&ids[999])).expect("totp");
            black_box(totp.code_at(1_700_000_000))
        })
    });
    g.finish();
}

/// Unlocking a vault with the app PIN: almost all of it is Argon2id at the cost in the file's
/// header. `PinCost::APP` is what the app writes; the others are the costs it was chosen from.
fn app_pin(c: &mut Criterion) {
    let pin = AppPin::new("583920").expect("pin");
    let mut g = c.benchmark_group("app pin");
    g.sample_size(10);
    let costs = [
        ("APP", PinCost::APP),
        ("32 MiB t=3", PinCost { memory_kib: 32 * 1024, passes: 3, lanes: 1 }),
        ("128 MiB t=3", PinCost { memory_kib: 128 * 1024, passes: 3, lanes: 1 }),
    ];
    for (label, cost) in costs {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tokens.vault");
        let keys = Arc::new(MemoryKeyStore::new());
        let mut v = open(&path, &keys);
        v.add(token(1), 1_700_000_000).expect("add");
        if cost != PinCost::APP {
            v.use_pin_cost_for_tests(cost);
        }
        v.set_pin(&pin).expect("set pin");
        let name = format!(
            "unlock, Argon2id {label} ({} KiB, t={}, p={})",
            cost.memory_kib, cost.passes, cost.lanes
        );
        g.bench_function(name, |b| {
            b.iter(|| {
                let unlocked = Vault::open_with_pin(&path, keys.clone(), KEY, &pin, 1_700_000_000);
                black_box(unlocked.expect("unlock"))
            })
        });
    }
    g.finish();
}

/// The keychain part of an open (one `get`) and of a first save (one `set`), against the real
/// Secret Service when one answers.
fn keychain(c: &mut Criterion) {
    let keys = OsKeyStore::new();
    let name = format!("bench-{}", std::process::id());
    if let Err(e) = keys.get(&name) {
        let why = format!(
            "keychain benchmarks: no Secret Service answers ({e}); run them under \
             scripts/with-secret-service.sh"
        );
        skip::missing(Some("SOFTTOKEN_SECRET_SERVICE"), &why);
        return;
    }
    let key = [7u8; 32];
    keys.set(&name, &key).expect("keychain set");
    let mut g = c.benchmark_group("keychain");
    g.sample_size(20);
    g.bench_function("get vault key (OsKeyStore)", |b| {
        b.iter(|| black_box(keys.get(&name).expect("keychain get")))
    });
    g.bench_function("set vault key (OsKeyStore)", |b| {
        b.iter_batched(
            || key,
            |k| keys.set(&name, &k).expect("keychain set"),
            BatchSize::SmallInput,
        )
    });
    g.finish();
    let _ = keys.delete(&name);
}

criterion_group!(benches, vault, app_pin, keychain);
criterion_main!(benches);
