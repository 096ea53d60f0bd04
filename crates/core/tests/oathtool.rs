//! Cross-checks our TOTP engine against Debian's `oathtool`, an implementation nobody on this
//! team wrote: the same seed and time must give the same code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use rand_core::{OsRng, RngCore};
use softtoken_core::totp::{Algorithm, ClockOffset, Seed, Totp, TotpParams};
use zeroize::Zeroizing;

/// Times that exercise the step boundaries, the RFC's own instants, and far-future dates.
const TIMES: [u64; 8] = [
    59,
    60,
    1_111_111_109,
    1_234_567_890,
    1_700_000_000,
    1_764_028_799,
    2_000_000_000,
    4_102_444_800,
];

fn oathtool(alg: Algorithm, digits: u8, seed: &[u8], unix: u64) -> String {
    let mode = match alg {
        Algorithm::Sha1 => "--totp=sha1",
        Algorithm::Sha256 => "--totp=sha256",
        Algorithm::Sha512 => "--totp=sha512",
    };
    let out = Command::new("oathtool")
        .args([mode, "-b", "-s", "60", "-d", &digits.to_string(), "--now", &format!("@{unix}")])
        .arg(data_encoding::BASE32_NOPAD.encode(seed))
        .output()
        .unwrap_or_else(|e| {
            panic!("oathtool could not run ({e}); install it: apt-get install oathtool (scripts/test.sh does)")
        });
    assert!(out.status.success(), "oathtool failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn check(alg: Algorithm, digits: u8, seed: &[u8]) {
    let params = TotpParams { algorithm: alg, digits, period: 60 };
    let totp =
        Totp::new(params, &Seed::new(Zeroizing::new(seed.to_vec())).unwrap(), ClockOffset(0))
            .unwrap();
    for t in TIMES {
        assert_eq!(
            totp.code_at(t).as_str(),
            oathtool(alg, digits, seed, t),
            "{alg:?} {digits} digits at {t}"
        );
    }
}

#[test]
fn bank_codes_every_sixty_seconds_match_oathtool_for_six_and_eight_digits() {
    for digits in [6, 8] {
        check(Algorithm::Sha1, digits, b"12345678901234567890");
    }
}

#[test]
fn random_seeds_of_every_length_and_algorithm_match_oathtool() {
    for (alg, len) in [
        (Algorithm::Sha1, 20),
        (Algorithm::Sha1, 32),
        (Algorithm::Sha256, 32),
        (Algorithm::Sha512, 64),
        (Algorithm::Sha1, 16),
    ] {
        let mut seed = vec![0u8; len];
        OsRng.fill_bytes(&mut seed);
        for digits in [6, 8] {
            check(alg, digits, &seed);
        }
    }
}
