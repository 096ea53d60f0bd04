//! The audit log's MAC chain: each entry carries an HMAC-SHA256, under an audit key the
//! database never sees, over its own fields and the MAC of the entry before it. Whoever can
//! write the database (its owner role, a restored dump, an attacker with the runtime role's
//! password) can still change, delete or insert rows, but cannot make the chain add up again:
//! `softtoken-server audit verify` names the first entry where it breaks.
//!
//! Entries are numbered without gaps (`id` is the previous entry's plus one, taken under a lock
//! of the whole log), so a deleted entry in the middle shows as a missing link even before its
//! neighbour's MAC is checked. A cut-off tail does not break a chain; the stream of entries kept
//! outside the database (`audit_stream_file`, the bank's SIEM) is what shows one.

use hmac::Mac as _;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use super::AuditEntry;
use crate::error::Error;
use crate::sealed::{MasterKey, MASTER_KEY_LEN};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// What the audit key is derived for, so that it never equals a key used elsewhere.
const AUDIT_KEY_LABEL: &[u8] = b"softtoken-server audit chain key v1";
/// Domain of every link's MAC.
const LINK_LABEL: &[u8] = b"softtoken-server audit link v1";

/// The key of the audit log's MAC chain. Never printed; zeroized on drop.
pub struct AuditKey {
    key: Zeroizing<[u8; MASTER_KEY_LEN]>,
    id: String,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuditKey({}, <redacted>)", self.id)
    }
}

impl AuditKey {
    /// The audit key of a key file's key: its own `audit_key_file`'s or, without one, the
    /// master key's (see docs/server.md, the audit log, for why a bank gives it a file).
    pub fn of(key: &MasterKey) -> Self {
        let key = key.derive(AUDIT_KEY_LABEL);
        let mut mac = mac_of(&key);
        mac.update(b"id");
        let id = hex(&mac.finalize().into_bytes()[..8]);
        Self { key, id }
    }

    /// The key's public name, stored with every entry it chained (16 hex digits).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The MAC of `entry` (its `id` and `key_id` already set) after the entry whose MAC is
    /// `previous` (`None` for the first entry of a chain).
    pub fn link(&self, previous: Option<&str>, entry: &AuditEntry) -> String {
        let mut mac = mac_of(&self.key);
        mac.update(LINK_LABEL);
        field(&mut mac, previous.map(str::as_bytes));
        mac.update(&entry.id.to_be_bytes());
        mac.update(&entry.at.to_be_bytes());
        for text in [&entry.actor, &entry.origin, &entry.action, &entry.outcome] {
            field(&mut mac, Some(text.as_bytes()));
        }
        field(&mut mac, entry.service_id.as_deref().map(str::as_bytes));
        field(&mut mac, entry.user_id.as_deref().map(str::as_bytes));
        field(&mut mac, entry.refers_to.map(u64::to_be_bytes).as_ref().map(|b| &b[..]));
        field(&mut mac, entry.key_id.as_deref().map(str::as_bytes));
        hex(&mac.finalize().into_bytes())
    }

    /// `entry` numbered after the last entry (`last`: its id and MAC), its MAC set.
    pub fn chained(
        &self,
        last: Option<(u64, Option<String>)>,
        mut entry: AuditEntry,
    ) -> AuditEntry {
        let (id, previous) = match last {
            Some((id, mac)) => (id + 1, mac),
            None => (1, None),
        };
        entry.id = id;
        entry.key_id = Some(self.id.clone());
        entry.mac = Some(self.link(previous.as_deref(), &entry));
        entry
    }
}

/// The error of a storage that was given no audit key: it writes no entry it could not chain.
pub(super) fn no_key() -> Error {
    Error::Storage("the storage was opened without an audit key; it writes no audit entry".into())
}

fn mac_of(key: &[u8; MASTER_KEY_LEN]) -> HmacSha256 {
    crate::sealed::hmac_sha256(key)
}

/// A field that may be absent, written so that no two different entries read alike.
fn field(mac: &mut HmacSha256, value: Option<&[u8]>) {
    match value {
        None => mac.update(&[0]),
        Some(bytes) => {
            mac.update(&[1]);
            mac.update(&(bytes.len() as u64).to_be_bytes());
            mac.update(bytes);
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(2 * bytes.len()), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Where a chain stops adding up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainBreak {
    /// Entries are missing between these two ids.
    Missing {
        /// The last entry before the hole.
        after: u64,
        /// The entry after it.
        next: u64,
    },
    /// An entry without a MAC after chained ones: written around the server.
    Unchained(u64),
    /// An entry chained under an audit key that was not given.
    UnknownKey {
        /// The entry.
        id: u64,
        /// Its key's name.
        key_id: String,
    },
    /// An entry whose MAC does not match its fields and its predecessor: changed, inserted,
    /// or its predecessor was.
    Altered(u64),
}

impl std::fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainBreak::Missing { after, next } => {
                write!(f, "entries missing between id {after} and id {next}")
            }
            ChainBreak::Unchained(id) => {
                write!(f, "entry {id} has no MAC (written around the server)")
            }
            ChainBreak::UnknownKey { id, key_id } => {
                write!(f, "entry {id} is chained under audit key {key_id}, which was not given")
            }
            ChainBreak::Altered(id) => {
                write!(
                    f,
                    "entry {id} does not match its MAC: it, or the link before it, was changed"
                )
            }
        }
    }
}

/// Checks a log entry by entry, oldest first.
pub struct ChainCheck<'k> {
    keys: &'k [AuditKey],
    last: Option<(u64, Option<String>)>,
    /// Entries from before the chain (written by a server without it), all at the start.
    pub unchained: u64,
    /// Entries whose MAC was checked.
    pub chained: u64,
}

impl<'k> ChainCheck<'k> {
    /// A check with the audit keys that may have chained the log.
    pub fn new(keys: &'k [AuditKey]) -> Self {
        Self { keys, last: None, unchained: 0, chained: 0 }
    }

    /// The last entry seen's id.
    pub fn last_id(&self) -> Option<u64> {
        self.last.as_ref().map(|(id, _)| *id)
    }

    /// Takes the next entry.
    ///
    /// # Errors
    /// The first [`ChainBreak`]; the check is then over.
    pub fn push(&mut self, e: &AuditEntry) -> Result<(), ChainBreak> {
        if let Some((last, _)) = &self.last {
            if e.id != last + 1 {
                return Err(ChainBreak::Missing { after: *last, next: e.id });
            }
        }
        let (Some(mac), Some(key_id)) = (&e.mac, &e.key_id) else {
            if self.chained > 0 {
                return Err(ChainBreak::Unchained(e.id));
            }
            self.unchained += 1;
            self.last = Some((e.id, None));
            return Ok(());
        };
        let Some(key) = self.keys.iter().find(|k| &k.id == key_id) else {
            return Err(ChainBreak::UnknownKey { id: e.id, key_id: key_id.clone() });
        };
        let previous = self.last.as_ref().and_then(|(_, mac)| mac.as_deref());
        let expected = key.link(previous, e);
        if !bool::from(expected.as_bytes().ct_eq(mac.as_bytes())) {
            return Err(ChainBreak::Altered(e.id));
        }
        self.chained += 1;
        self.last = Some((e.id, Some(mac.clone())));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: &str) -> AuditKey {
        AuditKey::of(&MasterKey::parse(&byte.repeat(32)).unwrap())
    }

    fn entry(outcome: &str) -> AuditEntry {
        AuditEntry {
            id: 0,
            at: 1_700_000_000,
            actor: "credential:clerk-sato".into(),
            origin: "127.0.0.1".into(),
            action: "end".into(),
            service_id: Some("10112231".into()),
            user_id: Some("999800000001".into()),
            outcome: outcome.into(),
            refers_to: None,
            key_id: None,
            mac: None,
        }
    }

    fn log(key: &AuditKey, n: usize) -> Vec<AuditEntry> {
        let mut out: Vec<AuditEntry> = Vec::new();
        for i in 0..n {
            let last = out.last().map(|e| (e.id, e.mac.clone()));
            out.push(key.chained(last, entry(if i % 2 == 0 { "pending" } else { "ok" })));
        }
        out
    }

    fn check(keys: &[AuditKey], log: &[AuditEntry]) -> Result<u64, ChainBreak> {
        let mut c = ChainCheck::new(keys);
        log.iter().try_for_each(|e| c.push(e))?;
        Ok(c.chained)
    }

    #[test]
    fn an_untouched_log_verifies() {
        let k = key("ab");
        assert_eq!(check(&[key("ab")], &log(&k, 5)), Ok(5));
    }

    #[test]
    fn an_outcome_rewritten_in_the_database_is_named() {
        let mut l = log(&key("ab"), 5);
        l[2].outcome = "ok".into();
        assert_eq!(check(&[key("ab")], &l), Err(ChainBreak::Altered(3)));
    }

    #[test]
    fn a_deleted_entry_is_a_missing_link() {
        let mut l = log(&key("ab"), 5);
        l.remove(1);
        assert_eq!(check(&[key("ab")], &l), Err(ChainBreak::Missing { after: 1, next: 3 }));
    }

    #[test]
    fn a_renumbered_log_after_a_deletion_still_breaks() {
        let mut l = log(&key("ab"), 5);
        l.remove(1);
        for (i, e) in l.iter_mut().enumerate() {
            e.id = i as u64 + 1;
        }
        assert_eq!(check(&[key("ab")], &l), Err(ChainBreak::Altered(2)));
    }

    #[test]
    fn an_entry_chained_under_another_key_is_refused() {
        let mut l = log(&key("ab"), 3);
        let forged = key("cd").chained(Some((3, l[2].mac.clone())), entry("ok"));
        l.push(forged);
        let other = key("cd").id().to_owned();
        assert_eq!(check(&[key("ab")], &l), Err(ChainBreak::UnknownKey { id: 4, key_id: other }));
    }

    #[test]
    fn an_entry_inserted_without_a_mac_is_refused() {
        let mut l = log(&key("ab"), 2);
        l.push(AuditEntry { id: 3, ..entry("ok") });
        assert_eq!(check(&[key("ab")], &l), Err(ChainBreak::Unchained(3)));
    }
}
