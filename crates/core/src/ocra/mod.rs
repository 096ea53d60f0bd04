//! OCRA, the OATH challenge-response algorithm (RFC 6287), for the offline transfer code.
//!
//! When the phone has no network, the bank's page cannot reach the app with a confirmation
//! request. Instead the customer types the payee's account number and the amount into the app,
//! and the app computes an OCRA response over them (`docs/confirmation.md`, "The offline
//! code"). A code computed for one payee or amount is worthless for another, which is what makes
//! a relayed code useless to a phishing site.
//!
//! This module is the general algorithm: a suite string parsed once into an [`OcraSuite`], and
//! [`OcraSuite::respond`] over the data inputs the suite names. It implements every data input
//! of RFC 6287 §5 (counter, question in the `A`, `N` and `H` formats, hashed PIN, session
//! information, time step) except the untruncated form (`HOTP-SHAx-0`), which this product never
//! shows a customer: such a suite is refused with a typed error. Appendix C's test vectors run in
//! this module's tests.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Longest question length a suite can name (RFC 6287 §6.3: `xx` is 04–64).
pub const MAX_QUESTION_LEN: usize = 64;
/// Shortest question length a suite can name.
pub const MIN_QUESTION_LEN: usize = 4;
/// The question block is always 128 bytes in the message, zero-filled on the right (§5.1).
const QUESTION_BLOCK: usize = 128;

/// The HMAC of the suite (`HOTP-SHA1`, `HOTP-SHA256`, `HOTP-SHA512`), also used for the hashed
/// PIN (`PSHA1` …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OcraHash {
    /// SHA-1 (20-byte output).
    Sha1,
    /// SHA-256 (32-byte output).
    Sha256,
    /// SHA-512 (64-byte output).
    Sha512,
}

impl OcraHash {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "SHA1" => Some(Self::Sha1),
            "SHA256" => Some(Self::Sha256),
            "SHA512" => Some(Self::Sha512),
            _ => None,
        }
    }

    /// The output length in bytes: the length a hashed PIN must have.
    pub fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }

    fn hmac(self, key: &[u8], message: &[u8]) -> Zeroizing<Vec<u8>> {
        fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8]) -> Zeroizing<Vec<u8>> {
            // HMAC takes keys of any length, so `new_from_slice` cannot fail here.
            match <M as hmac::digest::KeyInit>::new_from_slice(key) {
                Ok(mut mac) => {
                    mac.update(message);
                    Zeroizing::new(mac.finalize().into_bytes().to_vec())
                }
                Err(_) => Zeroizing::new(Vec::new()),
            }
        }
        match self {
            Self::Sha1 => run::<Hmac<Sha1>>(key, message),
            Self::Sha256 => run::<Hmac<Sha256>>(key, message),
            Self::Sha512 => run::<Hmac<Sha512>>(key, message),
        }
    }
}

/// The format of the question (challenge): `A` alphanumeric, `N` numeric, `H` hexadecimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuestionFormat {
    /// Printable ASCII letters and digits, sent as their bytes.
    Alphanumeric,
    /// Decimal digits, sent as the number's hexadecimal digits.
    Numeric,
    /// Hexadecimal digits, sent as they are.
    Hex,
}

/// A parsed OCRA suite such as `OCRA-1:HOTP-SHA256-8:QN17-T1M`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcraSuite {
    text: String,
    hash: OcraHash,
    digits: u32,
    counter: bool,
    question_format: QuestionFormat,
    question_len: usize,
    pin_hash: Option<OcraHash>,
    session_len: Option<usize>,
    time_step_secs: Option<u64>,
}

/// The data inputs of one response; a suite says which it needs.
#[derive(Debug, Clone, Copy, Default)]
pub struct OcraInput<'a> {
    /// The counter `C`, when the suite has `C`.
    pub counter: Option<u64>,
    /// The question `Q` as the customer typed it (in the suite's format; always required).
    pub question: &'a str,
    /// The hashed PIN `P` (the hash's full output), when the suite has `PSHAx`.
    pub pin_hash: Option<&'a [u8]>,
    /// The session information `S` (at most the suite's `nnn` bytes, zero-filled on the left),
    /// when the suite has `Snnn`.
    pub session: Option<&'a [u8]>,
    /// The Unix time in seconds, when the suite has `T`.
    pub unix_time: Option<u64>,
}

fn bad_suite() -> Error {
    Error::TotpParameters("an OCRA suite this app does not compute")
}

/// Which data input of a response was missing, not expected, or of the wrong shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Input {
    Counter,
    Question,
    Pin,
    Session,
    Time,
}

fn bad_input(input: Input) -> Error {
    Error::TotpParameters(match input {
        Input::Counter => "the OCRA counter is missing or not expected",
        Input::Question => "the OCRA question is not of the suite's format or length",
        Input::Pin => "the OCRA PIN hash is missing, not expected or of the wrong length",
        Input::Session => "the OCRA session information is missing, not expected or too long",
        Input::Time => "the OCRA time is missing or not expected",
    })
}

impl OcraSuite {
    /// Parses a suite string (RFC 6287 §6).
    ///
    /// # Errors
    /// [`Error::TotpParameters`] for anything that is not a suite this implementation computes,
    /// including the untruncated `HOTP-SHAx-0`.
    pub fn parse(text: &str) -> Result<Self> {
        let mut parts = text.split(':');
        let (Some(version), Some(function), Some(data), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad_suite());
        };
        if version != "OCRA-1" {
            return Err(bad_suite());
        }
        let mut f = function.split('-');
        let (Some("HOTP"), Some(hash), Some(digits), None) =
            (f.next(), f.next(), f.next(), f.next())
        else {
            return Err(bad_suite());
        };
        let hash = OcraHash::parse(hash).ok_or_else(bad_suite)?;
        let digits = two_digit_number(digits, 4, 10).ok_or_else(bad_suite)?;

        let mut inputs = data.split('-').peekable();
        let counter = inputs.next_if_eq(&"C").is_some();
        let question = inputs.next().ok_or_else(bad_suite)?;
        let (question_format, question_len) = parse_question(question).ok_or_else(bad_suite)?;
        let pin_hash = match inputs.next_if(|p| p.starts_with('P')) {
            Some(p) => Some(OcraHash::parse(&p[1..]).ok_or_else(bad_suite)?),
            None => None,
        };
        let session_len = match inputs.next_if(|s| s.starts_with('S')) {
            Some(s) => Some(parse_session(&s[1..]).ok_or_else(bad_suite)?),
            None => None,
        };
        let time_step_secs = match inputs.next_if(|t| t.starts_with('T')) {
            Some(t) => Some(parse_time_step(&t[1..]).ok_or_else(bad_suite)?),
            None => None,
        };
        if inputs.next().is_some() {
            return Err(bad_suite());
        }
        Ok(Self {
            text: text.to_owned(),
            hash,
            digits,
            counter,
            question_format,
            question_len,
            pin_hash,
            session_len,
            time_step_secs,
        })
    }

    /// The suite as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The number of digits of a response.
    pub fn digits(&self) -> u32 {
        self.digits
    }

    /// The question length the suite names (`xx`; see [`question_block`] for why it is not
    /// enforced here).
    pub fn question_len(&self) -> usize {
        self.question_len
    }

    /// The time step in seconds, when the suite has `T`.
    pub fn time_step_secs(&self) -> Option<u64> {
        self.time_step_secs
    }

    /// The response to `input` under `key`, as the customer reads it (leading zeros kept).
    ///
    /// # Errors
    /// [`Error::TotpParameters`] naming the data input that the suite needs and is missing, that
    /// is given though the suite has no place for it, or that has the wrong shape.
    pub fn respond(&self, key: &[u8], input: &OcraInput<'_>) -> Result<String> {
        let message = self.message(input)?;
        let mac = self.hash.hmac(key, &message);
        Ok(truncate(&mac, self.digits))
    }

    /// The message that is MACed (RFC 6287 §5.1): the suite, a zero byte, then each data input
    /// the suite names, in its order.
    fn message(&self, input: &OcraInput<'_>) -> Result<Zeroizing<Vec<u8>>> {
        let mut m =
            Zeroizing::new(Vec::with_capacity(self.text.len() + 1 + 8 + QUESTION_BLOCK + 64 + 8));
        m.extend_from_slice(self.text.as_bytes());
        m.push(0);
        match (self.counter, input.counter) {
            (true, Some(c)) => m.extend_from_slice(&c.to_be_bytes()),
            (false, None) => {}
            _ => return Err(bad_input(Input::Counter)),
        }
        m.extend_from_slice(&question_block(self.question_format, input.question)?);
        match (self.pin_hash, input.pin_hash) {
            (Some(h), Some(p)) if p.len() == h.output_len() => m.extend_from_slice(p),
            (None, None) => {}
            _ => return Err(bad_input(Input::Pin)),
        }
        match (self.session_len, input.session) {
            (Some(n), Some(s)) if s.len() <= n => {
                let filled = m.len() + (n - s.len());
                m.resize(filled, 0);
                m.extend_from_slice(s);
            }
            (None, None) => {}
            _ => return Err(bad_input(Input::Session)),
        }
        match (self.time_step_secs, input.unix_time) {
            (Some(step), Some(t)) => m.extend_from_slice(&(t / step).to_be_bytes()),
            (None, None) => {}
            _ => return Err(bad_input(Input::Time)),
        }
        Ok(m)
    }

    /// The hashed PIN input for `pin`, with the suite's PIN hash (`PSHAx`).
    ///
    /// # Errors
    /// [`Error::TotpParameters`] when the suite takes no PIN.
    pub fn hash_pin(&self, pin: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        use sha2::Digest as _;
        let Some(h) = self.pin_hash else { return Err(bad_input(Input::Pin)) };
        Ok(Zeroizing::new(match h {
            OcraHash::Sha1 => Sha1::digest(pin).to_vec(),
            OcraHash::Sha256 => Sha256::digest(pin).to_vec(),
            OcraHash::Sha512 => Sha512::digest(pin).to_vec(),
        }))
    }

    /// The hash the suite's HMAC uses.
    pub fn hash(&self) -> OcraHash {
        self.hash
    }
}

impl std::fmt::Display for OcraSuite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// A decimal number of one or two ASCII digits within `min..=max`, written as the suite writes
/// it (no sign, no leading `+`).
fn two_digit_number(s: &str, min: u32, max: u32) -> Option<u32> {
    if s.is_empty() || s.len() > 2 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u32 = s.parse().ok()?;
    (min..=max).contains(&n).then_some(n)
}

fn parse_question(q: &str) -> Option<(QuestionFormat, usize)> {
    let rest = q.strip_prefix('Q')?;
    let format = match rest.as_bytes().first()? {
        b'A' => QuestionFormat::Alphanumeric,
        b'N' => QuestionFormat::Numeric,
        b'H' => QuestionFormat::Hex,
        _ => return None,
    };
    let len = &rest[1..];
    // Always two digits in the suite (`QN08`, not `QN8`).
    if len.len() != 2 {
        return None;
    }
    let n = two_digit_number(len, MIN_QUESTION_LEN as u32, MAX_QUESTION_LEN as u32)?;
    Some((format, n as usize))
}

fn parse_session(s: &str) -> Option<usize> {
    if s.len() != 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: usize = s.parse().ok()?;
    (n > 0).then_some(n)
}

fn parse_time_step(t: &str) -> Option<u64> {
    let (number, unit) = t.split_at(t.len().checked_sub(1)?);
    let (max, secs) = match unit {
        "S" => (59, 1),
        "M" => (59, 60),
        "H" => (48, 3600),
        _ => return None,
    };
    Some(u64::from(two_digit_number(number, 1, max)?) * secs)
}

/// The 128-byte question block: the question's bytes (alphanumeric) or hexadecimal digits
/// (numeric: the number in base 16; hexadecimal: as typed), zero-filled on the right — at the
/// level of hexadecimal digits, as RFC 6287's reference code does, so an odd number of
/// hexadecimal digits leaves the last one in the high half of its byte.
///
/// The suite's `xx` is not enforced as a maximum: RFC 6287's own Appendix C computes `QA08`
/// suites over 16-character questions, so, like its reference code, this takes any question that
/// fits the block (128 characters, 256 hexadecimal digits, or a number of up to 300 decimal
/// digits). A caller with a fixed question length (the offline transfer code) checks it itself.
fn question_block(format: QuestionFormat, q: &str) -> Result<Zeroizing<Vec<u8>>> {
    let err = || bad_input(Input::Question);
    let longest = match format {
        QuestionFormat::Alphanumeric => QUESTION_BLOCK,
        QuestionFormat::Hex => 2 * QUESTION_BLOCK,
        // 10^300 < 16^250: its hexadecimal digits fit the block's 256.
        QuestionFormat::Numeric => 300,
    };
    if q.is_empty() || q.len() > longest {
        return Err(err());
    }
    let mut block = Zeroizing::new(vec![0u8; QUESTION_BLOCK]);
    let nibbles: Zeroizing<Vec<u8>> = match format {
        QuestionFormat::Alphanumeric => {
            if !q.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(err());
            }
            block[..q.len()].copy_from_slice(q.as_bytes());
            return Ok(block);
        }
        QuestionFormat::Hex => Zeroizing::new(
            q.bytes()
                .map(|b| (b as char).to_digit(16).map(|d| d as u8))
                .collect::<Option<Vec<u8>>>()
                .ok_or_else(err)?,
        ),
        QuestionFormat::Numeric => {
            if !q.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err());
            }
            decimal_to_hex_digits(q)
        }
    };
    for (i, n) in nibbles.iter().enumerate() {
        block[i / 2] |= if i % 2 == 0 { n << 4 } else { *n };
    }
    Ok(block)
}

/// The base-16 digits of a decimal number of up to 64 digits, most significant first, without
/// leading zeros (the number zero is one digit, 0).
fn decimal_to_hex_digits(decimal: &str) -> Zeroizing<Vec<u8>> {
    // Long division by 16 of the decimal digits, repeated; 64 decimal digits are at most 54
    // hexadecimal ones, so this is a few thousand steps at most.
    let mut digits: Zeroizing<Vec<u8>> =
        Zeroizing::new(decimal.bytes().map(|b| b - b'0').collect());
    let mut out = Zeroizing::new(Vec::new());
    loop {
        let first_nonzero = digits.iter().position(|&d| d != 0);
        let Some(start) = first_nonzero else { break };
        let mut remainder = 0u32;
        for d in digits[start..].iter_mut() {
            let v = remainder * 10 + u32::from(*d);
            *d = (v / 16) as u8;
            remainder = v % 16;
        }
        out.push(remainder as u8);
    }
    if out.is_empty() {
        out.push(0);
    }
    out.reverse();
    out
}

/// RFC 4226's dynamic truncation, as `digits` decimal digits with leading zeros.
fn truncate(mac: &[u8], digits: u32) -> String {
    let Some(&last) = mac.last() else { return String::new() };
    let offset = usize::from(last & 0x0f);
    let word = mac
        .get(offset..offset + 4)
        .map(|b| u32::from_be_bytes([b[0] & 0x7f, b[1], b[2], b[3]]))
        .unwrap_or(0);
    let code = u64::from(word) % 10u64.pow(digits);
    format!("{code:0width$}", width = digits as usize)
}

#[cfg(test)]
mod tests;
