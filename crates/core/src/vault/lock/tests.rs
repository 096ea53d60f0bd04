use super::*;

const SMALL: PinCost = PinCost { memory_kib: 64, passes: 1, lanes: 1 };

fn header_of(lock: &Lock, generation: u64) -> Header {
    Header {
        version: format::CURRENT_VERSION,
        generation,
        lock: Some(lock.section(format::CURRENT_VERSION, generation).unwrap()),
    }
}

fn locked() -> (VaultKey, Lock) {
    let key = VaultKey::generate().unwrap();
    let lock =
        Lock::new(&key, DeviceSecret::generate().unwrap(), &AppPin::new("583920").unwrap(), SMALL);
    (key, lock.unwrap())
}

#[test]
fn only_the_right_pin_unwraps_the_vault_key() {
    let (key, lock) = locked();
    let back = lock.unwrap(&AppPin::new("583920").unwrap()).unwrap().unwrap();
    assert_eq!(back.expose(), key.expose());
    assert!(lock.unwrap(&AppPin::new("583921").unwrap()).unwrap().is_none());
    // The section never holds the vault key in the clear.
    let section = lock.section(2, 1).unwrap();
    assert!(!section.windows(KEY_BYTES).any(|w| w == key.expose()));
}

#[test]
fn a_header_checked_with_another_device_secret_or_at_another_generation_is_corrupted() {
    let (_, lock) = locked();
    let header = header_of(&lock, 7);
    assert!(Lock::from_header(lock.secret.copy(), &header).is_ok());
    let stranger = DeviceSecret::generate().unwrap();
    assert!(matches!(Lock::from_header(stranger, &header), Err(Error::VaultCorrupted)));
    let older = Header { generation: 6, ..header };
    assert!(matches!(Lock::from_header(lock.secret.copy(), &older), Err(Error::VaultCorrupted)));
}

#[test]
fn a_cost_beyond_any_softtoken_writes_is_refused_before_argon2_runs_even_under_a_valid_mac() {
    let (_, lock) = locked();
    for (at, value) in [(0, MAX_MEMORY_KIB + 1), (4, MAX_PASSES + 1), (8, 0), (8, MAX_LANES + 1)] {
        let mut odd = lock.copy();
        odd.body[at..at + 4].copy_from_slice(&value.to_be_bytes());
        // Sealed as by the device itself, so only the limits can refuse it.
        let header = header_of(&odd, 1);
        assert!(matches!(
            Lock::from_header(odd.secret.copy(), &header),
            Err(Error::VaultCorrupted)
        ));
    }
}

#[test]
fn the_lock_and_its_secret_do_not_print() {
    let (_, lock) = locked();
    let shown = format!("{lock:?}");
    assert!(shown.contains("<redacted>"), "{shown}");
    assert!(shown.contains("memory_kib: 64"), "{shown}");
}
