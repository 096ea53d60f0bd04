//! One-time codes (RFC 6238) as pure functions of time.
//!
//! Every function takes the Unix time in seconds; the `_now` variants read the wall clock and are
//! one line each. A device whose clock is wrong is corrected by a [`ClockOffset`] learnt from the
//! bank's server at provisioning. Which code the bank accepts when is [`crate::verify`]'s.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The bank's code period in seconds (the manual: "a code that changes every 60 seconds").
pub const DEFAULT_PERIOD_SECS: u32 = 60;
/// Shortest seed accepted, in bytes (128 bits, RFC 4226's minimum).
pub const MIN_SEED_BYTES: usize = 16;
/// Longest seed accepted, in bytes.
pub const MAX_SEED_BYTES: usize = 64;
/// Longest period accepted, in seconds.
pub const MAX_PERIOD_SECS: u32 = 300;

/// The HMAC hash of the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "UPPERCASE")]
pub enum Algorithm {
    /// HMAC-SHA1, RFC 6238's default and what most banks issue.
    #[default]
    Sha1,
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA512.
    Sha512,
}

impl Algorithm {
    /// The name on the wire and in `server_confirm`'s token block: `SHA1`, `SHA256`, `SHA512`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }
}

impl From<Algorithm> for totp_rs::Algorithm {
    fn from(a: Algorithm) -> Self {
        match a {
            Algorithm::Sha1 => totp_rs::Algorithm::SHA1,
            Algorithm::Sha256 => totp_rs::Algorithm::SHA256,
            Algorithm::Sha512 => totp_rs::Algorithm::SHA512,
        }
    }
}

/// How a token's codes are made: algorithm, number of digits and period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TotpParams {
    /// The HMAC hash.
    pub algorithm: Algorithm,
    /// Digits in a code: 6 or 8.
    pub digits: u8,
    /// Seconds a code is valid.
    pub period: u32,
}

impl Default for TotpParams {
    fn default() -> Self {
        Self { algorithm: Algorithm::Sha1, digits: 6, period: DEFAULT_PERIOD_SECS }
    }
}

impl TotpParams {
    /// Checks parameters that came from a server or a file.
    ///
    /// # Errors
    /// [`Error::TotpParameters`] unless digits is 6 or 8 and the period is 1–300 seconds.
    pub fn validate(self) -> Result<Self> {
        if !matches!(self.digits, 6 | 8) {
            return Err(Error::TotpParameters("digits must be 6 or 8"));
        }
        if self.period == 0 || self.period > MAX_PERIOD_SECS {
            return Err(Error::TotpParameters("period must be 1 to 300 seconds"));
        }
        Ok(self)
    }

    /// The time step a Unix time falls in (RFC 6238's T).
    pub fn step_at(&self, unix: u64) -> u64 {
        unix / u64::from(self.period.max(1))
    }

    /// Seconds until the code at `unix` is replaced, from `period` down to 1.
    pub fn seconds_left(&self, unix: u64) -> u32 {
        let period = u64::from(self.period.max(1));
        // The remainder is below `period`, which fits in u32.
        (period - unix % period) as u32
    }
}

/// A token's shared secret. Zeroized on drop, never printed, never serialized.
#[derive(Clone)]
pub struct Seed(Zeroizing<Vec<u8>>);

impl Seed {
    /// Takes ownership of seed bytes.
    ///
    /// # Errors
    /// [`Error::TotpParameters`] unless the seed is 16–64 bytes.
    pub fn new(bytes: Zeroizing<Vec<u8>>) -> Result<Self> {
        if !(MIN_SEED_BYTES..=MAX_SEED_BYTES).contains(&bytes.len()) {
            return Err(Error::TotpParameters("seed must be 16 to 64 bytes"));
        }
        Ok(Self(bytes))
    }

    /// The raw bytes, for the vault's encryption and the code engine only.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Seed(<redacted>)")
    }
}

impl PartialEq for Seed {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.0.as_slice().ct_eq(other.0.as_slice()).into()
    }
}
impl Eq for Seed {}

/// Largest clock offset the app accepts at provisioning: a day. A phone more than a day off
/// has a clock set by hand wrongly (or a wrong date), not drift; storing such an offset would
/// keep the token's codes wrong once the customer corrects the clock.
pub const MAX_CLOCK_OFFSET_SECS: i64 = 86_400;

/// Seconds to add to the device clock to get the bank's clock, learnt at provisioning and again
/// from the bank's authenticated time in every answer to a confirmation fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClockOffset(pub i64);

impl ClockOffset {
    /// The offset that makes a device reading `device_unix` agree with a server reading
    /// `server_unix` at the same instant.
    pub fn between(device_unix: u64, server_unix: u64) -> Self {
        Self(
            i128::from(server_unix)
                .saturating_sub(i128::from(device_unix))
                .clamp(i64::MIN.into(), i64::MAX.into()) as i64,
        )
    }

    /// The offset between a device and the bank, refused beyond [`MAX_CLOCK_OFFSET_SECS`] either
    /// way.
    ///
    /// # Errors
    /// [`Error::DeviceClockWrong`]: the customer should set the clock automatically.
    pub fn bounded_between(device_unix: u64, server_unix: u64) -> Result<Self> {
        let offset = Self::between(device_unix, server_unix);
        if offset.0.unsigned_abs() > MAX_CLOCK_OFFSET_SECS.unsigned_abs() {
            return Err(Error::DeviceClockWrong { offset_secs: offset.0 });
        }
        Ok(offset)
    }

    /// The bank's time for a device time.
    pub fn apply(self, device_unix: u64) -> u64 {
        device_unix.saturating_add_signed(self.0)
    }
}

/// A one-time code: the digits as the bank expects them.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Code(String);

impl Code {
    /// The digits, e.g. `"123456"`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits grouped for reading aloud and typing: `123 456`, `1234 5678`.
    pub fn grouped(&self) -> String {
        let half = self.0.len() / 2;
        format!("{} {}", &self.0[..half], &self.0[half..])
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A code is short-lived but still a credential for its minute.
        f.write_str("Code(<redacted>)")
    }
}

/// What a screen shows for one token at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeView {
    /// The current code.
    pub code: Code,
    /// Seconds until it changes.
    pub seconds_left: u32,
    /// The code of the next step, for the last seconds of a step.
    pub next: Code,
    /// The period, so a countdown can be drawn.
    pub period: u32,
}

/// A token's code generator: parameters, seed and clock offset.
pub struct Totp {
    params: TotpParams,
    offset: ClockOffset,
    inner: totp_rs::TOTP,
}

impl fmt::Debug for Totp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Totp")
            .field("params", &self.params)
            .field("offset", &self.offset)
            .field("seed", &"<redacted>")
            .finish()
    }
}

impl Totp {
    /// A generator for `seed` under `params`, correcting the device clock by `offset`.
    ///
    /// # Errors
    /// [`Error::TotpParameters`] for parameters outside [`TotpParams::validate`].
    pub fn new(params: TotpParams, seed: &Seed, offset: ClockOffset) -> Result<Self> {
        let params = params.validate()?;
        // totp-rs keeps its own copy; its `zeroize` feature wipes it on drop.
        let inner = totp_rs::TOTP::new(
            params.algorithm.into(),
            usize::from(params.digits),
            0,
            u64::from(params.period),
            seed.expose().to_vec(),
        )
        .map_err(|_| Error::TotpParameters("seed or digits rejected by the TOTP engine"))?;
        Ok(Self { params, offset, inner })
    }

    /// The parameters.
    pub fn params(&self) -> TotpParams {
        self.params
    }

    /// The code at a bank time (no clock offset applied).
    pub fn code_at_bank_time(&self, bank_unix: u64) -> Code {
        Code(self.inner.generate(bank_unix))
    }

    /// The code a device reading `device_unix` shows (clock offset applied).
    pub fn code_at(&self, device_unix: u64) -> Code {
        self.code_at_bank_time(self.offset.apply(device_unix))
    }

    /// Seconds left in the step at `device_unix` (clock offset applied).
    pub fn seconds_left(&self, device_unix: u64) -> u32 {
        self.params.seconds_left(self.offset.apply(device_unix))
    }

    /// The code of the step after the one at `device_unix`.
    pub fn next_code(&self, device_unix: u64) -> Code {
        let bank = self.offset.apply(device_unix);
        let next_step_start = (self.params.step_at(bank) + 1) * u64::from(self.params.period);
        self.code_at_bank_time(next_step_start)
    }

    /// Everything a screen shows at `device_unix`.
    pub fn view(&self, device_unix: u64) -> CodeView {
        CodeView {
            code: self.code_at(device_unix),
            seconds_left: self.seconds_left(device_unix),
            next: self.next_code(device_unix),
            period: self.params.period,
        }
    }

    /// [`Totp::view`] at the wall clock.
    pub fn view_now(&self) -> CodeView {
        self.view(unix_now())
    }

    /// [`Totp::code_at`] at the wall clock.
    pub fn code_now(&self) -> Code {
        self.code_at(unix_now())
    }
}

/// The wall clock as Unix seconds (0 if the clock is before 1970).
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(bytes: &[u8]) -> Seed {
        Seed::new(Zeroizing::new(bytes.to_vec())).unwrap()
    }

    // RFC 6238 Appendix B: the ASCII seeds "12345678901234567890" repeated to 20/32/64 bytes.
    const SHA1_SEED: &[u8] = b"12345678901234567890";
    const SHA256_SEED: &[u8] = b"12345678901234567890123456789012";
    const SHA512_SEED: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

    #[test]
    fn rfc6238_appendix_b_vectors() {
        let cases: [(u64, &str, &str, &str); 6] = [
            (59, "94287082", "46119246", "90693936"),
            (1111111109, "07081804", "68084774", "25091201"),
            (1111111111, "14050471", "67062674", "99943326"),
            (1234567890, "89005924", "91819424", "93441116"),
            (2000000000, "69279037", "90698825", "38618901"),
            (20000000000, "65353130", "77737706", "47863826"),
        ];
        for (alg, key, idx) in [
            (Algorithm::Sha1, SHA1_SEED, 1),
            (Algorithm::Sha256, SHA256_SEED, 2),
            (Algorithm::Sha512, SHA512_SEED, 3),
        ] {
            let totp = Totp::new(
                TotpParams { algorithm: alg, digits: 8, period: 30 },
                &seed(key),
                ClockOffset(0),
            )
            .unwrap();
            for case in cases {
                let want = [case.1, case.2, case.3][idx - 1];
                assert_eq!(totp.code_at(case.0).as_str(), want, "{alg:?} at {}", case.0);
            }
        }
    }

    #[test]
    fn bank_default_is_six_digits_every_sixty_seconds() {
        let p = TotpParams::default();
        assert_eq!((p.digits, p.period, p.algorithm), (6, 60, Algorithm::Sha1));
        let totp = Totp::new(p, &seed(SHA1_SEED), ClockOffset(0)).unwrap();
        // The same code for the whole minute, a different one after it.
        assert_eq!(totp.code_at(120), totp.code_at(179));
        assert_ne!(totp.code_at(179), totp.code_at(180));
        assert_eq!(totp.code_at(120).as_str().len(), 6);
    }

    #[test]
    fn seconds_left_counts_down_from_the_period_to_one() {
        let p = TotpParams::default();
        assert_eq!(p.seconds_left(120), 60);
        assert_eq!(p.seconds_left(121), 59);
        assert_eq!(p.seconds_left(179), 1);
    }

    #[test]
    fn next_code_is_the_code_of_the_following_step() {
        let totp = Totp::new(TotpParams::default(), &seed(SHA1_SEED), ClockOffset(0)).unwrap();
        assert_eq!(totp.next_code(150), totp.code_at(180));
        let view = totp.view(175);
        assert_eq!((view.seconds_left, view.period), (5, 60));
        assert_eq!(view.next, totp.code_at(185));
    }

    #[test]
    fn device_with_a_slow_clock_shows_the_banks_code() {
        // The device is 90 s behind the bank.
        let offset = ClockOffset::between(1_000_000, 1_000_090);
        assert_eq!(offset, ClockOffset(90));
        let fixed = Totp::new(TotpParams::default(), &seed(SHA1_SEED), offset).unwrap();
        let plain = Totp::new(TotpParams::default(), &seed(SHA1_SEED), ClockOffset(0)).unwrap();
        assert_eq!(fixed.code_at(1_000_000), plain.code_at(1_000_090));
        assert_eq!(fixed.seconds_left(1_000_000), plain.seconds_left(1_000_090));
        assert_eq!(ClockOffset(-10).apply(5), 0);
    }

    #[test]
    fn unsupported_parameters_are_refused() {
        let s = seed(SHA1_SEED);
        for p in [
            TotpParams { digits: 7, ..TotpParams::default() },
            TotpParams { digits: 4, ..TotpParams::default() },
            TotpParams { period: 0, ..TotpParams::default() },
            TotpParams { period: 301, ..TotpParams::default() },
        ] {
            assert!(
                matches!(Totp::new(p, &s, ClockOffset(0)), Err(Error::TotpParameters(_))),
                "{p:?}"
            );
        }
        assert!(Seed::new(Zeroizing::new(vec![0; 15])).is_err());
        assert!(Seed::new(Zeroizing::new(vec![0; 65])).is_err());
    }

    #[test]
    fn codes_are_grouped_for_reading() {
        let totp = Totp::new(TotpParams::default(), &seed(SHA1_SEED), ClockOffset(0)).unwrap();
        let code = totp.code_at(59);
        let g = code.grouped();
        assert_eq!(g.len(), 7);
        assert_eq!(g.replace(' ', ""), code.as_str());
        assert_eq!(Code("12345678".into()).grouped(), "1234 5678");
    }

    #[test]
    fn secrets_do_not_print() {
        let s = seed(SHA1_SEED);
        let totp = Totp::new(TotpParams::default(), &s, ClockOffset(0)).unwrap();
        let code = totp.code_at(59);
        let all = format!("{s:?} {totp:?} {code:?}");
        assert!(!all.contains("1234567890"), "{all}");
        assert!(!all.contains(code.as_str()), "{all}");
    }

    #[test]
    fn params_serialize_with_readable_algorithm_names() {
        let json = serde_json::to_string(&TotpParams::default()).unwrap();
        assert_eq!(json, r#"{"algorithm":"SHA1","digits":6,"period":60}"#);
    }
}
