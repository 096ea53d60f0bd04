//! The bearer credentials of the admin listener, as configuration reads them, the command line
//! issues them and the HTTP shell checks them: a leaf, so that configuration need not import
//! the HTTP shell.
//!
//! A credential is a name (a clerk, a web-tier instance), a [`Scope`] and a secret. What the
//! database keeps is the SHA-256 of the whole token, never the token. A plain hash and not a
//! slow one (argon2, scrypt): a slow hash protects secrets people choose, whose few bits a
//! stolen hash lets an attacker search. An issued token carries 256 random bits, so its hash
//! cannot be searched at any speed, while a slow hash would spend milliseconds of CPU on every
//! verify of the web tier, and hand whoever sends wrong bearers a lever on the bank's CPU.
//!
//! An issued token reads `NAME.SECRET` (43 base64url characters of secret): the name travels
//! in the token so that wrong secrets presented for one name are throttled per name as well as
//! per address; the name is no secret (it is in the audit log).

use std::sync::Arc;

use base64::Engine as _;
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// What a credential may do. Each endpoint of the admin listener needs one [`Need`]; a scope
/// grants the needs listed in [`Scope::grants`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The web tier's login check: `/v1/admin/verify` only.
    Verify,
    /// The web tier's transaction confirmations: `/v1/admin/confirmations*` only.
    Transactions,
    /// A clerk: issue, status, end, unlock, resync, the outbox, and verify.
    Clerk,
    /// The monitoring system: `/metrics` only.
    Metrics,
    /// Everything, the audit log included.
    Admin,
}

/// What an endpoint of the admin listener needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Checking a one-time code.
    Verify,
    /// Creating, reading and cancelling confirmation requests.
    Transactions,
    /// Acting on a registration, or reading the outbox.
    Clerk,
    /// Reading the counters.
    Metrics,
    /// Reading the audit log.
    Admin,
}

impl Scope {
    /// Every scope, in the order the manual lists them.
    pub const ALL: [Scope; 5] =
        [Scope::Verify, Scope::Transactions, Scope::Clerk, Scope::Metrics, Scope::Admin];

    /// The name on the command line and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Verify => "verify",
            Scope::Transactions => "transactions",
            Scope::Clerk => "clerk",
            Scope::Metrics => "metrics",
            Scope::Admin => "admin",
        }
    }

    /// The scope of a name from [`Scope::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == s)
    }

    /// Whether this scope lets its holder do what `need` names. A clerk may verify (a clerk
    /// checks a code with the customer on the phone); the web tier's two scopes grant one
    /// thing each, so a stolen web-tier credential can neither end nor re-issue a token.
    pub fn grants(self, need: Need) -> bool {
        match self {
            Scope::Admin => true,
            Scope::Clerk => matches!(need, Need::Clerk | Need::Verify),
            Scope::Verify => need == Need::Verify,
            Scope::Transactions => need == Need::Transactions,
            Scope::Metrics => need == Need::Metrics,
        }
    }
}

/// A credential's name: 1–40 of `a-z`, `0-9`, `-`, `_`, starting with a letter or digit. It
/// names a person or a system in the audit log, so it is checked like every other ID.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CredentialName(String);

impl CredentialName {
    /// A name from the command line or a token.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for a name that is empty, too long or has other characters.
    pub fn new(name: &str) -> Result<Self> {
        let ok_char =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
        let first_ok = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
        if name.len() > 40 || !first_ok || !name.chars().all(ok_char) {
            return Err(Error::InvalidRequest(format!(
                "a credential name is 1 to 40 of a-z, 0-9, - and _ (starting with a letter or \
                 digit), not {name:?}"
            )));
        }
        Ok(Self(name.to_owned()))
    }

    /// A name the server gives itself (the legacy token files'), known to be valid.
    pub(crate) fn fixed(name: &'static str) -> Self {
        Self(name.to_owned())
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CredentialName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A freshly issued token: shown once to whoever ran `credential add`, never stored or logged.
pub struct IssuedToken(Zeroizing<String>);

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IssuedToken(<redacted>)")
    }
}

impl IssuedToken {
    /// A new token for `name`: the name, a dot, and 256 random bits in base64url.
    ///
    /// # Errors
    /// [`Error::Internal`] if the operating system's random generator fails.
    pub fn generate(name: &CredentialName) -> Result<Self> {
        let mut secret = Zeroizing::new([0u8; 32]);
        OsRng
            .try_fill_bytes(secret.as_mut())
            .map_err(|_| Error::Internal("OS random generator"))?;
        let encoded =
            Zeroizing::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(*secret));
        Ok(Self(Zeroizing::new(format!("{name}.{}", encoded.as_str()))))
    }

    /// The token, to print once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the database keeps of it.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

/// The SHA-256 of a bearer token: what the database keeps and what a presented bearer is
/// looked up by.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

impl TokenHash {
    /// The hash of a presented or issued token.
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    /// Lower-case hex, as stored.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// From its stored hex.
    ///
    /// # Errors
    /// [`Error::Storage`] for text that is not 64 hex digits.
    pub fn from_hex(hex: &str) -> Result<Self> {
        let bad = || Error::Storage("a credential's hash is not 64 hex digits".into());
        if hex.len() != 64 || !hex.is_ascii() {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(Self(out))
    }

    /// Compared in constant time, so that comparing against a known hash leaks nothing.
    pub fn matches(&self, other: &TokenHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

/// The name a presented token claims (`NAME.SECRET`), for throttling wrong secrets per name.
/// `None` for a token of another shape (a legacy token file's, garbage).
pub fn claimed_name(token: &str) -> Option<CredentialName> {
    let (name, secret) = token.rsplit_once('.')?;
    (secret.len() == 43).then(|| CredentialName::new(name).ok()).flatten()
}

/// A bearer credential of a token file (`admin_token_file`, `verify_token_file`,
/// `confirm_token_file`): the way the admin listener was opened before named credentials, kept
/// as the credentials `legacy-admin`, `legacy-verify` and `legacy-confirm`. Compared in
/// constant time (as SHA-256 digests, so not even its length leaks); never printed.
#[derive(Clone)]
pub struct AdminToken(Arc<[u8; 32]>);

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

impl PartialEq for AdminToken {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&*other.0).into()
    }
}

/// Shortest admin token accepted, in characters.
pub const ADMIN_TOKEN_MIN_LEN: usize = 16;

/// Fewest bits a token file's token must carry by [`estimated_bits`]. An estimate from the
/// text alone cannot prove randomness; it refuses the mistakes (`aaaaaaaaaaaaaaaa`, a word
/// repeated) while `openssl rand -hex 16` and longer pass.
pub const ADMIN_TOKEN_MIN_BITS: f64 = 64.0;

/// The bits a token's text could carry at most, by the spread of its characters: its length
/// times the Shannon entropy of its character counts. Sixteen equal characters carry 0.
pub fn estimated_bits(token: &str) -> f64 {
    let mut counts = std::collections::HashMap::<char, usize>::new();
    for c in token.chars() {
        *counts.entry(c).or_default() += 1;
    }
    let n = token.chars().count() as f64;
    let per_char: f64 = counts
        .values()
        .map(|&k| {
            let p = k as f64 / n;
            -p * p.log2()
        })
        .sum();
    per_char * n
}

impl AdminToken {
    /// A token from a token file.
    ///
    /// # Errors
    /// [`Error::Config`] when it is shorter than [`ADMIN_TOKEN_MIN_LEN`], has whitespace, or
    /// carries fewer than [`ADMIN_TOKEN_MIN_BITS`] by [`estimated_bits`].
    pub fn new(token: &str) -> Result<Self> {
        let token = token.trim();
        if token.len() < ADMIN_TOKEN_MIN_LEN || token.chars().any(char::is_whitespace) {
            return Err(Error::Config(format!(
                "the admin token must be at least {ADMIN_TOKEN_MIN_LEN} characters without spaces"
            )));
        }
        if estimated_bits(token) < ADMIN_TOKEN_MIN_BITS {
            return Err(Error::Config(
                "the admin token is too easy to guess (too few different characters); make one \
                 with `head -c 32 /dev/urandom | base64`, or use `softtoken-server credential add`"
                    .into(),
            ));
        }
        Ok(Self(Arc::new(Sha256::digest(token.as_bytes()).into())))
    }

    /// Whether a presented token's hash is this token's.
    pub(crate) fn matches_hash(&self, presented: &TokenHash) -> bool {
        presented.0.ct_eq(&*self.0).into()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_token_file_of_sixteen_equal_characters_or_a_repeated_word_is_refused() {
        for weak in ["aaaaaaaaaaaaaaaa", "abababababababababababab", "passwordpassword"] {
            let err = AdminToken::new(weak).unwrap_err().to_string();
            assert!(err.contains("too easy to guess"), "{weak}: {err}");
        }
        // What the manual and the tests use passes.
        AdminToken::new("3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxg=").unwrap();
        AdminToken::new("test-admin-token-0123456789").unwrap();
        AdminToken::new("0123456789abcdef0123456789abcdef").unwrap();
    }

    #[test]
    fn an_issued_token_names_its_holder_carries_256_bits_and_only_its_hash_is_kept() {
        let name = CredentialName::new("web-1").unwrap();
        let token = IssuedToken::generate(&name).unwrap();
        assert_eq!(claimed_name(token.expose()), Some(name.clone()));
        assert_eq!(token.expose().len(), "web-1.".len() + 43);
        let hash = token.hash();
        assert!(hash.matches(&TokenHash::from_hex(&hash.to_hex()).unwrap()));
        assert!(!hash.matches(&IssuedToken::generate(&name).unwrap().hash()));
        assert!(!format!("{token:?}{hash:?}").contains(token.expose()));
    }

    #[test]
    fn each_scope_grants_what_the_manual_says_and_nothing_more() {
        use Need::*;
        let granted = |s: Scope| {
            [Verify, Transactions, Clerk, Metrics, Admin]
                .into_iter()
                .filter(|n| s.grants(*n))
                .collect::<Vec<_>>()
        };
        assert_eq!(granted(Scope::Verify), [Verify]);
        assert_eq!(granted(Scope::Transactions), [Transactions]);
        assert_eq!(granted(Scope::Clerk), [Verify, Clerk]);
        assert_eq!(granted(Scope::Metrics), [Metrics]);
        assert_eq!(granted(Scope::Admin), [Verify, Transactions, Clerk, Metrics, Admin]);
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn a_name_is_checked_like_an_id() {
        for bad in ["", "Web1", "-web", "web 1", "web.1", &"a".repeat(41)] {
            assert!(CredentialName::new(bad).is_err(), "{bad:?}");
        }
        CredentialName::new("clerk-tanaka_2").unwrap();
    }
}
