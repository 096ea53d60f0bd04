//! What the keychain keeps beside the vault key: the vault's generation and the wrong app PINs.
//!
//! Both must outlive the vault file and must not come back with an older copy of it, so they
//! live in the keychain entry `<key name>.state`, not in the file:
//!
//! - the **generation** counts saves. A save writes the file with the next generation first, then
//!   the keychain; a crash between the two leaves a file one ahead, which is accepted and the
//!   keychain caught up. A file behind the keychain is an older copy put back (a backup, a sync
//!   tool) and is refused ([`Error::VaultRolledBack`]).
//! - the **wrong PINs**: how many in a row and when the last was. Five are free; after that each
//!   further try waits, 30 seconds doubling up to an hour ([`wait_after`]). A try is counted
//!   before the PIN is checked, so ending the app in the middle of a check cannot win a free one;
//!   a right PIN sets the count back to zero. Nothing is ever wiped.
//!
//! The entry is small JSON (`{"generation":7,"failed_pins":0,"last_failed_at":0}`); an absent
//! entry is generation 0 and no wrong PIN, as for a vault from before the lock existed.

use serde::{Deserialize, Serialize};

use super::KeyStore;
use crate::error::{Error, Result};

/// Wrong app PINs allowed in a row before each further try waits.
pub const FREE_PIN_TRIES: u32 = 5;
/// The wait after the first wrong PIN beyond the free ones; it doubles with each further one.
pub const FIRST_WAIT_SECS: u64 = 30;
/// The longest wait between two tries.
pub const LONGEST_WAIT_SECS: u64 = 3_600;

/// The vault's generation and wrong-PIN count, as the keychain keeps them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct KeychainState {
    /// The generation of the newest file this device saved.
    pub generation: u64,
    /// Wrong app PINs in a row (a try under way counts as wrong until it is found right).
    pub failed_pins: u32,
    /// When the last of them was tried, in Unix seconds.
    pub last_failed_at: u64,
}

/// The seconds to wait before the try that follows `failed` wrong PINs in a row.
pub fn wait_after(failed: u32) -> u64 {
    if failed < FREE_PIN_TRIES {
        return 0;
    }
    // 30 s << 7 is already past the hour; the shift never overflows.
    let doublings = (failed - FREE_PIN_TRIES).min(7);
    (FIRST_WAIT_SECS << doublings).min(LONGEST_WAIT_SECS)
}

impl KeychainState {
    /// Seconds from `now` before a PIN may be tried. A clock set back never makes the wait
    /// longer than one step of the schedule.
    pub fn wait_secs(&self, now: u64) -> u64 {
        let step = wait_after(self.failed_pins);
        self.last_failed_at.saturating_add(step).saturating_sub(now).min(step)
    }

    /// Wrong PINs still free of a wait.
    pub fn tries_left_before_wait(&self) -> u32 {
        FREE_PIN_TRIES.saturating_sub(self.failed_pins)
    }
}

fn entry_name(key_name: &str) -> String {
    format!("{key_name}.state")
}

/// The state kept beside the vault key `key_name`.
///
/// # Errors
/// [`Error::KeychainUnavailable`] if the keychain cannot be read or holds something else there.
pub(super) fn load(keys: &dyn KeyStore, key_name: &str) -> Result<KeychainState> {
    match keys.get(&entry_name(key_name))? {
        None => Ok(KeychainState::default()),
        Some(bytes) => serde_json::from_slice(&bytes).map_err(|_| {
            Error::KeychainUnavailable(format!(
                "the keychain entry {key_name}.state is not in softtoken's format"
            ))
        }),
    }
}

/// Stores the state beside the vault key `key_name`.
///
/// # Errors
/// [`Error::KeychainUnavailable`] if the keychain refuses it.
pub(super) fn store(keys: &dyn KeyStore, key_name: &str, state: &KeychainState) -> Result<()> {
    let bytes = serde_json::to_vec(state).map_err(|_| Error::Crypto)?;
    keys.set(&entry_name(key_name), &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::MemoryKeyStore;

    #[test]
    fn five_wrong_pins_are_free_then_the_wait_doubles_from_thirty_seconds_to_an_hour() {
        let waits: Vec<u64> = (0..=14).map(wait_after).collect();
        assert_eq!(
            waits,
            [0, 0, 0, 0, 0, 30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600],
            "after n wrong PINs"
        );
        assert_eq!(wait_after(u32::MAX), LONGEST_WAIT_SECS);
    }

    #[test]
    fn the_wait_runs_from_the_last_wrong_pin_and_a_clock_set_back_does_not_stretch_it() {
        let s = KeychainState { generation: 3, failed_pins: 6, last_failed_at: 1_000 };
        assert_eq!(s.wait_secs(1_000), 60);
        assert_eq!(s.wait_secs(1_045), 15);
        assert_eq!(s.wait_secs(1_060), 0);
        assert_eq!(s.wait_secs(10), 60, "clock set back");
        assert_eq!(s.tries_left_before_wait(), 0);
        let fresh = KeychainState::default();
        assert_eq!((fresh.wait_secs(0), fresh.tries_left_before_wait()), (0, FREE_PIN_TRIES));
    }

    #[test]
    fn the_state_round_trips_through_the_keychain_and_starts_at_zero() {
        let keys = MemoryKeyStore::new();
        assert_eq!(load(&keys, "vault-key").unwrap(), KeychainState::default());
        let s = KeychainState { generation: 9, failed_pins: 2, last_failed_at: 77 };
        store(&keys, "vault-key", &s).unwrap();
        assert_eq!(load(&keys, "vault-key").unwrap(), s);
        assert!(keys.get("vault-key").unwrap().is_none(), "beside the key, not in its entry");
        keys.set("vault-key.state", b"not json").unwrap();
        assert!(matches!(load(&keys, "vault-key"), Err(Error::KeychainUnavailable(_))));
    }
}
