//! One code generation: the work the app does for every token every second it is on screen.
//!
//! `cargo bench -p softtoken-core --bench totp`
#![allow(missing_docs)] // criterion_group! generates an undocumented public function.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use softtoken_core::totp::{ClockOffset, Seed, Totp, TotpParams};
use zeroize::Zeroizing;

fn code_generation(c: &mut Criterion) {
    let seed = Seed::new(Zeroizing::new(b"12345678901234567890".to_vec())).unwrap();
    let totp = Totp::new(TotpParams::default(), &seed, ClockOffset(0)).unwrap();
    let mut t = 1_700_000_000u64;
    c.bench_function("totp/code_at (SHA1, 6 digits, 60 s)", |b| {
        b.iter(|| {
            // A different step each time, so no cache could flatter the figure.
            t += 60;
            black_box(totp.code_at(black_box(t)))
        })
    });
}

criterion_group!(benches, code_generation);
criterion_main!(benches);
