//! Unit tests of the vault over an in-memory key store and a real temporary directory.

use std::fs;

use zeroize::Zeroizing;

use super::*;
use crate::ids::{ActivationPassword, AttemptId, ServiceId, UserId};
use crate::token::Delivery;
use crate::totp::{ClockOffset, Seed, TotpParams};

pub(super) const KEY: &str = "vault-key";

struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
    keys: Arc<MemoryKeyStore>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.vault");
    Fixture { _dir: dir, path, keys: Arc::new(MemoryKeyStore::new()) }
}

impl Fixture {
    fn open(&self) -> Result<Vault> {
        Vault::open(&self.path, self.keys.clone(), KEY)
    }

    fn bytes(&self) -> Vec<u8> {
        fs::read(&self.path).unwrap()
    }

    fn ciphers(&self) -> Ciphers {
        Ciphers::new(&VaultKey::from_bytes(&self.keys.get(KEY).unwrap().unwrap()).unwrap())
    }
}

fn seed_bytes(n: u32) -> Vec<u8> {
    format!("seed-of-token-{n:06}").into_bytes()
}

pub(super) fn token(n: u32) -> NewToken {
    NewToken {
        issued: IssuedToken {
            service_id: ServiceId::new("10112231").unwrap(),
            user_id: UserId::new(&format!("{:012}", 999_800_000_000u64 + u64::from(n))).unwrap(),
            display_name: DisplayName::new(&format!("しんきん {n}"), "").unwrap(),
            issuer: "Example Credit Union".into(),
            params: TotpParams::default(),
            offset: ClockOffset(i64::from(n)),
        },
        seed: Seed::new(Zeroizing::new(seed_bytes(n))).unwrap(),
        delivery: Delivery::ACKNOWLEDGED,
    }
}

fn expected_code(n: u32, at: u64) -> String {
    let seed = Seed::new(Zeroizing::new(seed_bytes(n))).unwrap();
    Totp::new(TotpParams::default(), &seed, ClockOffset(i64::from(n)))
        .unwrap()
        .code_at(at)
        .to_string()
}

fn vault_with(f: &Fixture, n: u32) -> (Vault, Vec<TokenId>) {
    let mut v = f.open().unwrap();
    let ids = (1..=n).map(|i| v.add(token(i), 1_700_000_000 + u64::from(i)).unwrap()).collect();
    (v, ids)
}

#[test]
fn customer_adds_tokens_and_finds_them_again_after_a_restart() {
    let f = fixture();
    let (mut v, ids) = vault_with(&f, 3);
    v.rename(&ids[1], DisplayName::new("給与口座", "家族用").unwrap()).unwrap();
    v.reorder(&[ids[2].clone(), ids[0].clone(), ids[1].clone()]).unwrap();
    let before = v.tokens();
    drop(v);

    let v = f.open().unwrap();
    assert_eq!(v.tokens(), before);
    let names: Vec<String> = v.tokens().iter().map(|t| t.issued.display_name.to_string()).collect();
    assert_eq!(names, ["しんきん 3", "しんきん 1", "給与口座 家族用"]);
    assert_eq!(v.tokens()[1].created_at, 1_700_000_001);
    for (n, id) in (1..=3).zip(&ids) {
        assert_eq!(
            v.totp(id).unwrap().code_at(1_700_000_000).to_string(),
            expected_code(n, 1_700_000_000)
        );
        assert_eq!(v.seed(id).unwrap().expose(), seed_bytes(n).as_slice());
    }
}

#[test]
fn opening_where_no_vault_exists_gives_an_empty_vault_without_touching_the_keychain() {
    let f = fixture();
    f.keys.set_locked(true);
    let v = f.open().unwrap();
    assert!(v.tokens().is_empty());
    assert!(!f.path.exists());
    f.keys.set_locked(false);
    assert!(!f.keys.contains(KEY));
}

#[test]
fn the_first_token_creates_a_256_bit_key_in_the_keychain() {
    let f = fixture();
    let (_v, _) = vault_with(&f, 1);
    assert_eq!(f.keys.get(KEY).unwrap().unwrap().len(), 32);
    let other = fixture();
    vault_with(&other, 1);
    assert_ne!(f.keys.get(KEY).unwrap(), other.keys.get(KEY).unwrap());
}

#[test]
fn a_vault_whose_key_left_the_keychain_is_refused_and_left_as_it_was() {
    let f = fixture();
    vault_with(&f, 2);
    let before = f.bytes();
    f.keys.delete(KEY).unwrap();
    assert!(matches!(f.open(), Err(Error::VaultKeyMissing)));
    assert_eq!(f.bytes(), before);
    // No new key was made: it would orphan the two tokens for good.
    assert!(!f.keys.contains(KEY));
    // A keychain entry that is not a 256-bit key is just as missing.
    f.keys.set(KEY, b"short").unwrap();
    assert!(matches!(f.open(), Err(Error::VaultKeyMissing)));
    assert_eq!(f.bytes(), before);
}

#[test]
fn a_locked_keychain_is_reported_and_nothing_changes() {
    let f = fixture();
    vault_with(&f, 1);
    let before = f.bytes();
    f.keys.set_locked(true);
    assert!(matches!(f.open(), Err(Error::KeychainUnavailable(_))));
    assert_eq!(f.bytes(), before);

    // First token on a device whose keychain is locked: no file, no key, nothing in memory.
    let g = fixture();
    let mut v = g.open().unwrap();
    g.keys.set_locked(true);
    assert!(matches!(v.add(token(1), 0), Err(Error::KeychainUnavailable(_))));
    assert!(v.tokens().is_empty());
    assert!(!g.path.exists());
    g.keys.set_locked(false);
    v.add(token(1), 0).unwrap();
    assert_eq!(g.open().unwrap().tokens().len(), 1);
}

#[test]
fn changing_any_single_byte_of_the_file_is_detected_and_the_file_is_left_as_it_was() {
    let f = fixture();
    let (mut v, ids) = vault_with(&f, 2);
    v.mark_delivered(&ids[0]).unwrap();
    let good = f.bytes();
    // Every byte: header (magic, version, nonce), the encrypted body, and the tag.
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x01;
        fs::write(&f.path, &bad).unwrap();
        let result = f.open();
        assert!(matches!(result, Err(Error::VaultCorrupted)), "byte {i}: {result:?}");
        assert_eq!(f.bytes(), bad, "byte {i}: file changed");
    }
    for bad in [good[..good.len() - 1].to_vec(), [good.as_slice(), b"x"].concat(), Vec::new()] {
        fs::write(&f.path, &bad).unwrap();
        assert!(matches!(f.open(), Err(Error::VaultCorrupted)));
        assert_eq!(f.bytes(), bad);
    }
    fs::write(&f.path, &good).unwrap();
    assert_eq!(f.open().unwrap().tokens(), v.tokens());
}

#[test]
fn a_seed_swapped_into_another_record_is_detected_even_under_a_valid_envelope() {
    let f = fixture();
    vault_with(&f, 2);
    let ciphers = f.ciphers();
    let mut records = format::decode(f.bytes(), &ciphers).unwrap();
    let first = records[0].seed.clone();
    records[0].seed = records[1].seed.clone();
    records[1].seed = first;
    // Whoever could do this holds the key; even so the seeds stay bound to their records.
    let swapped = format::encode(&records, &ciphers, 1, None).unwrap();
    fs::write(&f.path, &swapped).unwrap();
    assert!(matches!(f.open(), Err(Error::VaultCorrupted)));
    assert_eq!(f.bytes(), swapped);
}

#[test]
fn records_moved_around_inside_the_file_are_detected() {
    let f = fixture();
    vault_with(&f, 2);
    let good = f.bytes();
    // Swapping the encrypted halves of the body moves whole records without the key.
    let (head, rest) = good.split_at(24);
    let (body, tag) = rest.split_at(rest.len() - 16);
    let (a, b) = body.split_at(body.len() / 2);
    let moved = [head, b, a, tag].concat();
    fs::write(&f.path, &moved).unwrap();
    assert!(matches!(f.open(), Err(Error::VaultCorrupted)));
    assert_eq!(f.bytes(), moved);
}

#[test]
fn a_vault_from_a_newer_app_is_refused_and_left_as_it_was() {
    let f = fixture();
    vault_with(&f, 1);
    let newer = format::tests_support::seal_raw(3, br#"{"tokens":[]}"#, &f.ciphers());
    fs::write(&f.path, &newer).unwrap();
    assert!(matches!(f.open(), Err(Error::VaultTooNew { found: 3, supported: 2 })));
    assert_eq!(f.bytes(), newer);
}

#[test]
fn the_same_registration_cannot_be_added_twice() {
    let f = fixture();
    let (mut v, _) = vault_with(&f, 1);
    let before = f.bytes();
    let mut again = token(1);
    again.issued.display_name = DisplayName::new("another name", "").unwrap();
    assert!(matches!(v.add(again, 5), Err(Error::DuplicateToken)));
    assert_eq!(v.tokens().len(), 1);
    assert_eq!(f.bytes(), before);
    // Another user ID of the same service is another token.
    v.add(token(2), 5).unwrap();
    assert_eq!(v.tokens().len(), 2);
}

#[test]
fn unsupported_parameters_are_refused_before_anything_is_stored() {
    let f = fixture();
    let mut v = f.open().unwrap();
    let mut t = token(1);
    t.issued.params.digits = 7;
    assert!(matches!(v.add(t, 0), Err(Error::TotpParameters(_))));
    assert!(v.tokens().is_empty());
    assert!(!f.path.exists());
}

#[test]
fn when_a_save_fails_the_vault_in_memory_and_on_disk_stays_as_it_was() {
    let f = fixture();
    let (mut v, ids) = vault_with(&f, 2);
    let mut pending = token(3);
    pending.delivery.pending = Some(AttemptId::parse("AAECAwQFBgcICQoLDA0ODw").unwrap());
    let pending_id = v.add(pending, 3).unwrap();
    let before_tokens = v.tokens();
    let before_bytes = f.bytes();
    // A directory where the temporary file must go makes every save fail with an I/O error.
    fs::create_dir(atomic::temp_path(&f.path)).unwrap();

    let name = || DisplayName::new("new name", "").unwrap();
    let attempts: Vec<(&str, Result<()>)> = vec![
        ("add", v.add(token(9), 9).map(|_| ())),
        ("rename", v.rename(&ids[0], name())),
        ("remove", v.remove(&ids[0])),
        ("reorder", v.reorder(&[pending_id.clone(), ids[1].clone(), ids[0].clone()])),
        ("mark_delivered", v.mark_delivered(&pending_id)),
    ];
    for (what, result) in attempts {
        assert!(matches!(result, Err(Error::Io(_))), "{what}: {result:?}");
        assert_eq!(v.tokens(), before_tokens, "{what} changed memory");
        assert_eq!(f.bytes(), before_bytes, "{what} changed the file");
    }

    fs::remove_dir(atomic::temp_path(&f.path)).unwrap();
    v.rename(&ids[0], name()).unwrap();
    assert_eq!(f.open().unwrap().tokens()[0].issued.display_name, name());
}

#[test]
fn a_file_changed_by_another_program_is_never_written_over() {
    let f = fixture();
    let (mut v, ids) = vault_with(&f, 1);
    // Another copy of the app adds a token meanwhile.
    let mut other = f.open().unwrap();
    other.add(token(2), 2).unwrap();
    let theirs = f.bytes();

    let before = v.tokens();
    assert!(matches!(v.remove(&ids[0]), Err(Error::VaultChanged)));
    assert_eq!(v.tokens(), before);
    assert_eq!(f.bytes(), theirs);
    // Reopened, both tokens are there.
    assert_eq!(f.open().unwrap().tokens().len(), 2);

    // A vault file that appears where there was none is not replaced either, nor its key.
    let g = fixture();
    let mut empty = g.open().unwrap();
    vault_with(&g, 1);
    let key = g.keys.get(KEY).unwrap();
    g.keys.delete(KEY).unwrap();
    let file = g.bytes();
    assert!(matches!(empty.add(token(5), 5), Err(Error::VaultChanged)));
    assert_eq!(g.bytes(), file);
    assert!(!g.keys.contains(KEY));
    drop(key);
}

#[test]
fn reorder_with_a_stale_list_changes_nothing() {
    let f = fixture();
    let (mut v, ids) = vault_with(&f, 3);
    let before = v.tokens();
    let unknown = TokenId::random().unwrap();
    for stale in [
        vec![ids[0].clone(), ids[1].clone()],
        vec![ids[0].clone(), ids[1].clone(), ids[1].clone()],
        vec![ids[0].clone(), ids[1].clone(), unknown],
    ] {
        assert!(matches!(v.reorder(&stale), Err(Error::TokenNotFound)));
        assert_eq!(v.tokens(), before);
    }
}

#[test]
fn a_token_that_is_not_there_is_reported_as_not_found() {
    let f = fixture();
    let (mut v, _) = vault_with(&f, 1);
    let gone = TokenId::random().unwrap();
    assert!(matches!(
        v.rename(&gone, DisplayName::new("x", "").unwrap()),
        Err(Error::TokenNotFound)
    ));
    assert!(matches!(v.remove(&gone), Err(Error::TokenNotFound)));
    assert!(matches!(v.mark_delivered(&gone), Err(Error::TokenNotFound)));
    assert!(matches!(v.totp(&gone), Err(Error::TokenNotFound)));
    assert!(matches!(v.seed(&gone), Err(Error::TokenNotFound)));
}

#[test]
fn delivery_is_pending_until_the_bank_acknowledges_it() {
    let f = fixture();
    let mut v = f.open().unwrap();
    let attempt = AttemptId::parse("AAECAwQFBgcICQoLDA0ODw").unwrap();
    let mut t = token(1);
    t.delivery.pending = Some(attempt.clone());
    let id = v.add(t, 0).unwrap();
    assert_eq!(f.open().unwrap().tokens()[0].delivery.pending, Some(attempt));
    v.mark_delivered(&id).unwrap();
    let before = f.bytes();
    v.mark_delivered(&id).unwrap();
    assert_eq!(f.bytes(), before, "a second ack needs no save");
    assert_eq!(f.open().unwrap().tokens()[0].delivery.pending, None);
}

#[test]
fn removing_a_token_deletes_it_from_the_file() {
    let f = fixture();
    let (mut v, ids) = vault_with(&f, 2);
    v.remove(&ids[0]).unwrap();
    let left = f.open().unwrap().tokens();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, ids[1]);
}

#[test]
fn a_kiosk_wipe_deletes_the_file_and_the_key_and_the_vault_starts_afresh() {
    let f = fixture();
    let (mut v, _) = vault_with(&f, 2);
    let old = f.bytes();
    let old_key = f.keys.get(KEY).unwrap().unwrap();
    v.clear().unwrap();
    assert!(v.tokens().is_empty());
    assert!(!f.path.exists());
    assert!(!f.keys.contains(KEY));
    assert!(f.open().unwrap().tokens().is_empty());

    v.add(token(1), 1).unwrap();
    assert_ne!(f.keys.get(KEY).unwrap().unwrap(), old_key);
    // The old file cannot be opened with what the keychain now holds.
    fs::write(&f.path, &old).unwrap();
    assert!(matches!(f.open(), Err(Error::VaultCorrupted)));
}

#[test]
fn a_stray_temporary_file_from_a_crash_is_ignored() {
    let f = fixture();
    let (mut v, ids) = vault_with(&f, 1);
    fs::write(atomic::temp_path(&f.path), b"half a vault").unwrap();
    assert_eq!(f.open().unwrap().tokens().len(), 1);
    v.rename(&ids[0], DisplayName::new("after crash", "").unwrap()).unwrap();
    assert!(!atomic::temp_path(&f.path).exists());
}

#[cfg(unix)]
#[test]
fn the_vault_file_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let f = fixture();
    vault_with(&f, 1);
    assert_eq!(fs::metadata(&f.path).unwrap().permissions().mode() & 0o777, 0o600);
}

#[test]
fn no_secret_type_prints_its_secret() {
    let f = fixture();
    let (v, ids) = vault_with(&f, 1);
    let seed_text = String::from_utf8(seed_bytes(1)).unwrap();
    let key = f.keys.get(KEY).unwrap().unwrap();
    let vault_key = VaultKey::from_bytes(&key).unwrap();
    let totp = v.totp(&ids[0]).unwrap();
    let code = totp.code_at(1_700_000_000);
    let password = ActivationPassword::new("48213579").unwrap();
    let shown = [
        format!("{:?}", token(1)),
        format!("{:?}", token(1).seed),
        format!("{v:?}"),
        format!("{vault_key:?}"),
        format!("{:?}", f.ciphers()),
        format!("{:?}", f.keys),
        format!("{totp:?}"),
        format!("{code:?}"),
        format!("{password:?}"),
        // These two hold no secret, but sit next to them.
        format!("{:?}", OsKeyStore::new()),
        format!("{:?}", v.tokens()),
    ];
    let key_hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let key_dec = format!("{:?}", key.as_slice());
    for s in &shown {
        for secret in [seed_text.as_str(), &key_hex, &key_dec, code.as_str(), "48213579"] {
            assert!(!s.contains(secret), "{s} shows a secret");
        }
    }
    for s in &shown[..9] {
        assert!(s.contains("<redacted>"), "{s}");
    }
}

#[test]
fn a_thousand_tokens_round_trip() {
    let f = fixture();
    let mut v = f.open().unwrap();
    // One save for all: a thousand separate saves would test the disk, not the format.
    let records: Vec<Record> = (1..=1000u32)
        .map(|n| {
            let (summary, seed) = token(n).into_summary(TokenId::random().unwrap(), u64::from(n));
            let s = &summary;
            let seed = Record::seal_seed(
                v.ciphers().unwrap(),
                &s.id,
                &s.issued.service_id,
                &s.issued.user_id,
                &seed,
            )
            .unwrap();
            Record { summary, seed }
        })
        .collect();
    v.commit(records).unwrap();
    let back = f.open().unwrap();
    assert_eq!(back.tokens(), v.tokens());
    for (n, t) in (1..=1000u32).zip(back.tokens()) {
        assert_eq!(back.totp(&t.id).unwrap().code_at(0).to_string(), expected_code(n, 0));
    }
}

#[test]
fn a_vault_notices_when_another_program_changed_its_file() {
    let f = fixture();
    let (mut v, ids) = vault_with(&f, 1);
    assert!(!v.changed_on_disk().unwrap());
    let before = f.bytes();
    v.rename(&ids[0], DisplayName::new("new", "").unwrap()).unwrap();
    assert!(!v.changed_on_disk().unwrap(), "its own write is not a change");
    fs::write(&f.path, &before).unwrap();
    assert!(v.changed_on_disk().unwrap(), "a restored copy is");
    fs::remove_file(&f.path).unwrap();
    assert!(v.changed_on_disk().unwrap(), "a removed file is");
}

#[test]
fn an_offset_relearnt_from_the_banks_time_is_kept_and_every_later_code_uses_it() {
    let f = fixture();
    let (mut v, ids) = vault_with(&f, 2);
    let device_now = 1_767_225_600;
    // The phone's clock was corrected an hour back since activation: the bank's time is now an
    // hour behind what the token's offset of 1 s would say.
    v.set_offset(&ids[0], ClockOffset(-3600)).unwrap();

    let back = f.open().unwrap();
    assert_eq!(back.tokens()[0].issued.offset, ClockOffset(-3600));
    assert_eq!(back.tokens()[1].issued.offset, ClockOffset(2), "the other token keeps its own");
    let seed = Seed::new(Zeroizing::new(seed_bytes(1))).unwrap();
    let at_bank = Totp::new(TotpParams::default(), &seed, ClockOffset(0)).unwrap();
    assert_eq!(
        back.totp(&ids[0]).unwrap().code_at(device_now).to_string(),
        at_bank.code_at(device_now - 3600).to_string()
    );
    // The same offset again writes nothing.
    let bytes = f.bytes();
    v.set_offset(&ids[0], ClockOffset(-3600)).unwrap();
    assert_eq!(f.bytes(), bytes);
}

#[test]
fn a_move_to_a_new_phone_started_on_this_device_is_still_known_after_a_restart() {
    let f = fixture();
    let (mut v, ids) = vault_with(&f, 2);
    let pending = PendingMove {
        move_id: "mv-1".into(),
        new_user_id: UserId::new("999800000777").unwrap(),
        expires_at: 1_700_086_400,
    };
    v.set_pending_move(&ids[1], Some(pending.clone())).unwrap();
    let reopened = f.open().unwrap();
    let moves: Vec<_> = reopened.tokens().into_iter().map(|t| t.pending_move).collect();
    assert_eq!(moves, [None, Some(pending)]);
    let mut v = reopened;
    v.set_pending_move(&ids[1], None).unwrap();
    assert!(f.open().unwrap().tokens().iter().all(|t| t.pending_move.is_none()));
    // A token without a move is written as before, so an older app still opens the file.
    let record = serde_json::to_string(&f.open().unwrap().tokens()[0]).unwrap();
    assert!(!record.contains("pending_move"), "{record}");
}
