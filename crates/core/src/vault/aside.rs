//! The way out of a vault that cannot be opened: it is put aside, never deleted, so the customer
//! can start a new vault and add the tokens the bank issues again.
//!
//! A damaged file (or one whose key is gone from the keychain), an older copy put back in place
//! of the current one, and a vault whose app PIN the customer forgot can hold nothing the app
//! can use, but they are the customer's data and support may want them: the file is renamed
//! `<name>.<why>-<unix seconds>` beside itself (`why` is `damaged`, `older` or `locked`), and
//! its key (or, with a PIN, its device secret), if the keychain still has one, is moved to the
//! entry `<key name>.<why>-<same seconds>`, so the two stay a pair. A locked vault set aside
//! still opens with its PIN, by anyone who has both. The wrong-PIN count and the generation
//! stay with the keychain entry `<key name>.state`: the new vault counts on from there, so the
//! older copy stays refused.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{atomic, KeyStore, Vault};
use crate::error::{Error, Result};

/// Where a vault that could not be opened was put.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetAside {
    /// The renamed vault file.
    pub file: PathBuf,
    /// The keychain entry its key was moved to; `None` when the key was already missing.
    pub key_name: Option<String>,
}

impl Vault {
    /// Puts the vault at `path` aside if, and only if, it cannot be opened because it is damaged
    /// ([`Error::VaultCorrupted`]), its key is gone ([`Error::VaultKeyMissing`]), it is an older
    /// copy ([`Error::VaultRolledBack`]) or it is locked with an app PIN ([`Error::PinNeeded`]:
    /// the way out of a forgotten PIN, which the app offers only when the customer asks).
    /// Afterwards [`Vault::open`] gives an empty vault, which makes a new key on its first save.
    ///
    /// Returns `None`, changing nothing, when the vault opens (or there is none).
    ///
    /// # Errors
    /// Any other failure to open (a locked keychain, a vault from a newer app, I/O) is returned
    /// as it is and nothing is moved: those have other ways out. [`Error::Io`] or
    /// [`Error::KeychainUnavailable`] while moving: the file is still where it was, or already
    /// aside with its key saved under the new name.
    pub fn set_aside(
        path: &Path,
        keys: Arc<dyn KeyStore>,
        key_name: &str,
        now_unix: u64,
    ) -> Result<Option<SetAside>> {
        let why = match Vault::open(path, Arc::clone(&keys), key_name) {
            Ok(_) => return Ok(None),
            Err(Error::VaultCorrupted | Error::VaultKeyMissing) => "damaged",
            Err(Error::VaultRolledBack) => "older",
            Err(Error::PinNeeded) => "locked",
            Err(other) => return Err(other),
        };
        let (file, suffix) = free_name(path, why, now_unix);
        let old_key = keys.get(key_name)?;
        let moved_key = match &old_key {
            Some(key) => {
                let aside = format!("{key_name}.{suffix}");
                keys.set(&aside, key)?;
                // Read back before the original goes: a keychain that dropped it loses the pair.
                if keys.get(&aside)?.as_deref().map(Vec::as_slice) != Some(key.as_slice()) {
                    return Err(Error::KeychainUnavailable(
                        "the keychain did not keep the key".into(),
                    ));
                }
                Some(aside)
            }
            None => None,
        };
        atomic::rename(path, &file)?;
        if moved_key.is_some() {
            keys.delete(key_name)?;
        }
        Ok(Some(SetAside { file, key_name: moved_key }))
    }
}

/// `<path>.<why>-<now>`, or with `-2`, `-3`... if that exists already, and its suffix.
fn free_name(path: &Path, why: &str, now_unix: u64) -> (PathBuf, String) {
    let mut n = 1u32;
    loop {
        let suffix =
            if n == 1 { format!("{why}-{now_unix}") } else { format!("{why}-{now_unix}-{n}") };
        let mut name = path.as_os_str().to_owned();
        name.push(".");
        name.push(&suffix);
        let candidate = PathBuf::from(name);
        if !candidate.exists() {
            return (candidate, suffix);
        }
        n += 1;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::fs;

    use super::*;
    use crate::vault::tests::{token, KEY};
    use crate::vault::MemoryKeyStore;

    const NOW: u64 = 1_764_600_000;

    /// A vault with one token in a fresh directory, then `damage` done to it.
    fn damaged(
        damage: impl Fn(&Path, &MemoryKeyStore),
    ) -> (tempfile::TempDir, PathBuf, Arc<MemoryKeyStore>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.vault");
        let keys = Arc::new(MemoryKeyStore::new());
        let mut v = Vault::open(&path, keys.clone(), KEY).unwrap();
        v.add(token(1), NOW).unwrap();
        damage(&path, &keys);
        (dir, path, keys)
    }

    #[test]
    fn customer_with_a_damaged_vault_keeps_it_aside_with_its_key_and_starts_a_new_one() {
        let flip = |p: &Path| {
            let mut b = fs::read(p).unwrap();
            let i = b.len() / 2;
            b[i] ^= 1;
            fs::write(p, b).unwrap();
        };
        let truncate = |p: &Path| {
            let b = fs::read(p).unwrap();
            fs::write(p, &b[..b.len() / 2]).unwrap();
        };
        let empty = |p: &Path| fs::write(p, b"").unwrap();
        let replace = |p: &Path| fs::write(p, b"holiday photo").unwrap();
        let damages: [&dyn Fn(&Path); 4] = [&flip, &truncate, &empty, &replace];
        for damage in damages {
            let (_dir, path, keys) = damaged(|p, _| damage(p));
            let bytes = fs::read(&path).unwrap();
            let key = keys.get(KEY).unwrap().unwrap();
            assert!(Vault::open(&path, keys.clone(), KEY).is_err());

            let aside = Vault::set_aside(&path, keys.clone(), KEY, NOW).unwrap().unwrap();
            assert_eq!(aside.file.file_name().unwrap(), "tokens.vault.damaged-1764600000");
            assert_eq!(fs::read(&aside.file).unwrap(), bytes, "kept as it was");
            let key_name = aside.key_name.unwrap();
            assert_eq!(key_name, format!("{KEY}.damaged-1764600000"));
            assert_eq!(keys.get(&key_name).unwrap().unwrap(), key, "its key kept beside it");
            assert!(keys.get(KEY).unwrap().is_none());

            let mut fresh = Vault::open(&path, keys.clone(), KEY).unwrap();
            assert!(fresh.tokens().is_empty());
            fresh.add(token(1), NOW).unwrap();
            assert_ne!(keys.get(KEY).unwrap().unwrap(), key, "a new key for the new vault");
            assert_eq!(Vault::open(&path, keys.clone(), KEY).unwrap().tokens().len(), 1);
        }
    }

    #[test]
    fn customer_whose_vault_key_is_gone_sets_the_file_aside_twice_in_one_second() {
        let (_dir, path, keys) = damaged(|_, k| k.delete(KEY).unwrap());
        let first = Vault::set_aside(&path, keys.clone(), KEY, NOW).unwrap().unwrap();
        assert_eq!(first.key_name, None);
        // The new vault is lost the same way within the same second: nothing is overwritten.
        let mut v = Vault::open(&path, keys.clone(), KEY).unwrap();
        v.add(token(2), NOW).unwrap();
        keys.delete(KEY).unwrap();
        let second = Vault::set_aside(&path, keys.clone(), KEY, NOW).unwrap().unwrap();
        assert_eq!(second.file.file_name().unwrap(), "tokens.vault.damaged-1764600000-2");
        assert!(first.file.exists() && second.file.exists());
    }

    #[test]
    fn a_vault_that_opens_or_a_locked_keychain_is_never_set_aside() {
        let (_dir, path, keys) = damaged(|_, _| {});
        assert_eq!(Vault::set_aside(&path, keys.clone(), KEY, NOW).unwrap(), None);
        keys.set_locked(true);
        assert!(matches!(
            Vault::set_aside(&path, keys.clone(), KEY, NOW),
            Err(Error::KeychainUnavailable(_))
        ));
        keys.set_locked(false);
        assert_eq!(Vault::open(&path, keys, KEY).unwrap().tokens().len(), 1);
    }
}
