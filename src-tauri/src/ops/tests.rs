#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use softtoken_core::ids::{DisplayName, ServiceId, UserId};
use softtoken_core::token::Delivery;
use softtoken_core::totp::{ClockOffset, Seed, TotpParams};
use softtoken_core::vault::{IssuedToken, MemoryKeyStore, NewToken, Vault};
use zeroize::Zeroizing;

use super::{
    app_info, change_app_pin, forgot_app_pin, kiosk_reset, list_tokens, lock_now, lock_status,
    remove_app_pin, set_app_pin, set_lock_timeout, turn_off_biometric, turn_on_biometric, unlock,
    unlock_with_biometric, AppState,
};
use crate::biometric::{BiometricFailure, BiometricStore, Prompt};
use crate::config::Config;
use softtoken_core::vault::BiometricSecret;

const NOW: u64 = 1_700_000_000;

/// The app's state over a vault in `dir` that holds one token.
fn app_with_a_token(dir: &std::path::Path, kiosk: bool) -> AppState {
    app_built_with(dir, kiosk, false)
}

/// As [`app_with_a_token`], for a bank's build that may require a PIN; new PINs are derived at
/// a tiny cost, as the window tests ask a debug build.
fn app_built_with(dir: &std::path::Path, kiosk: bool, pin_required: bool) -> AppState {
    let config = Config {
        // Nothing listens on the discard port: no command here talks to a bank.
        server_url: "http://127.0.0.1:9".into(),
        data_dir: dir.to_path_buf(),
        key_name: "vault-key".into(),
        kiosk,
        kiosk_idle_secs: 180,
        kiosk_area: None,
        server_trust: crate::config::ServerTrust::default(),
        pin_required,
    };
    let keys = Arc::new(MemoryKeyStore::new());
    let mut vault = Vault::open(&config.vault_path(), keys.clone(), &config.key_name).unwrap();
    let token = NewToken {
        issued: IssuedToken {
            service_id: ServiceId::new("10112231").unwrap(),
            user_id: UserId::new("999800000001").unwrap(),
            display_name: DisplayName::new("しんきん", "").unwrap(),
            issuer: "Example Credit Union".into(),
            params: TotpParams::default(),
            offset: ClockOffset(0),
        },
        seed: Seed::new(Zeroizing::new(b"12345678901234567890".to_vec())).unwrap(),
        delivery: Delivery::ACKNOWLEDGED,
    };
    vault.add(token, NOW).unwrap();
    let mut state = AppState::new(config, keys);
    state.pin_cost = Some(softtoken_core::vault::PinCost { memory_kib: 8, passes: 1, lanes: 1 });
    state
}

fn pin(digits: &str) -> Zeroizing<String> {
    Zeroizing::new(digits.to_owned())
}

#[tokio::test]
async fn a_customer_who_sets_a_pin_sees_no_code_once_locked_until_the_pin_is_entered() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_a_token(dir.path(), false);
    assert!(!lock_status(&app, NOW).await.unwrap().pin_set);
    let weak = set_app_pin(&app, pin("123456"), NOW).await.unwrap_err();
    assert_eq!((weak.kind, weak.reason), ("weak_pin", Some("sequence")));
    let set = set_app_pin(&app, pin("274951"), NOW).await.unwrap();
    assert!(set.pin_set && !set.locked, "set while open: still open");
    assert_eq!(list_tokens(&app, NOW).await.unwrap().len(), 1);

    let locked = lock_now(&app, NOW).await.unwrap();
    assert!(locked.locked);
    assert_eq!(list_tokens(&app, NOW).await.unwrap_err().kind, "pin_needed");
    let wrong = unlock(&app, pin("274952"), NOW).await.unwrap_err();
    assert_eq!((wrong.kind, wrong.tries_left), ("wrong_pin", Some(4)));
    assert_eq!(lock_status(&app, NOW).await.unwrap().tries_left_before_wait, 4);
    assert!(!unlock(&app, pin("274951"), NOW).await.unwrap().locked);
    assert_eq!(list_tokens(&app, NOW).await.unwrap().len(), 1);

    // A restart is locked from the start. This run ends (its hold on the data directory with it), the next begins.
    let (config, keys) = (app.config().clone(), Arc::clone(&app.keys));
    drop(app);
    let again = AppState::new(config, keys);
    assert!(lock_status(&again, NOW).await.unwrap().locked);
    assert_eq!(list_tokens(&again, NOW).await.unwrap_err().kind, "pin_needed");
}

#[tokio::test]
async fn five_wrong_pins_make_the_customer_wait_and_the_wait_is_shown_not_counted() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_a_token(dir.path(), false);
    set_app_pin(&app, pin("274951"), NOW).await.unwrap();
    lock_now(&app, NOW).await.unwrap();
    for left in (0..5).rev() {
        let e = unlock(&app, pin("999990"), NOW).await.unwrap_err();
        assert_eq!((e.kind, e.tries_left), ("wrong_pin", Some(left)));
    }
    let status = lock_status(&app, NOW).await.unwrap();
    assert!(status.wait_secs > 0, "{status:?}");
    // Even the right PIN waits: no try is taken during a wait.
    let e = unlock(&app, pin("274951"), NOW).await.unwrap_err();
    assert_eq!(e.kind, "pin_back_off");
    assert_eq!(e.retry_after, Some(status.wait_secs));
    let later = NOW + status.wait_secs;
    assert!(!unlock(&app, pin("274951"), later).await.unwrap().locked);
}

#[tokio::test]
async fn a_customer_changes_then_removes_the_pin_with_the_current_one() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_a_token(dir.path(), false);
    set_app_pin(&app, pin("274951"), NOW).await.unwrap();
    let e = change_app_pin(&app, pin("111112"), pin("583920"), NOW).await.unwrap_err();
    assert_eq!(e.kind, "wrong_pin");
    change_app_pin(&app, pin("274951"), pin("583920"), NOW).await.unwrap();
    lock_now(&app, NOW).await.unwrap();
    assert_eq!(unlock(&app, pin("274951"), NOW).await.unwrap_err().kind, "wrong_pin");
    unlock(&app, pin("583920"), NOW).await.unwrap();
    let off = remove_app_pin(&app, pin("583920"), NOW).await.unwrap();
    assert!(!off.pin_set);
    assert!(!lock_now(&app, NOW).await.unwrap().locked, "nothing to lock without a PIN");
    assert_eq!(list_tokens(&app, NOW).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_forgotten_pin_keeps_the_tokens_aside_and_starts_an_empty_app() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_a_token(dir.path(), false);
    set_app_pin(&app, pin("274951"), NOW).await.unwrap();
    lock_now(&app, NOW).await.unwrap();
    let kept = forgot_app_pin(&app, NOW).await.unwrap().expect("set aside");
    assert!(dir.path().join(&kept.file_name).exists(), "{kept:?} is kept on disk");
    let status = lock_status(&app, NOW).await.unwrap();
    assert!(!status.pin_set && !status.locked);
    assert!(list_tokens(&app, NOW).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_banks_build_that_requires_a_pin_shows_no_code_before_one_and_keeps_it_on() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_built_with(dir.path(), false, true);
    assert!(lock_status(&app, NOW).await.unwrap().pin_required);
    assert_eq!(list_tokens(&app, NOW).await.unwrap_err().kind, "pin_required");
    set_app_pin(&app, pin("274951"), NOW).await.unwrap();
    assert_eq!(list_tokens(&app, NOW).await.unwrap().len(), 1);
    let e = remove_app_pin(&app, pin("274951"), NOW).await.unwrap_err();
    assert_eq!(e.kind, "pin_required");
}

#[tokio::test]
async fn the_branch_kiosk_never_locks() {
    let dir = tempfile::tempdir().unwrap();
    let kiosk = app_built_with(dir.path(), true, true);
    let status = lock_status(&kiosk, NOW).await.unwrap();
    assert!(status.kiosk && !status.locked && !status.pin_required);
    assert_eq!(
        set_app_pin(&kiosk, pin("274951"), NOW).await.unwrap_err().kind,
        "kiosk_has_no_lock"
    );
    assert_eq!(lock_now(&kiosk, NOW).await.unwrap_err().kind, "kiosk_has_no_lock");
    kiosk.went_away_now();
    assert_eq!(list_tokens(&kiosk, NOW).await.unwrap().len(), 1, "a required PIN is not asked");
}

#[tokio::test]
async fn the_background_time_is_one_of_the_choices_and_kept_for_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_a_token(dir.path(), false);
    assert_eq!(lock_status(&app, NOW).await.unwrap().lock_after_secs, 60);
    assert_eq!(set_lock_timeout(&app, 300, NOW).await.unwrap().lock_after_secs, 300);
    assert_eq!(set_lock_timeout(&app, 7, NOW).await.unwrap_err().kind, "internal");
    // A restart: this run ends (its hold on the data directory with it), the next begins.
    let (config, keys) = (app.config().clone(), Arc::clone(&app.keys));
    drop(app);
    let again = AppState::new(config, keys);
    assert_eq!(lock_status(&again, NOW).await.unwrap().lock_after_secs, 300);
}

#[tokio::test]
async fn with_lock_at_once_the_app_locks_as_soon_as_it_leaves_the_foreground() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_a_token(dir.path(), false);
    set_app_pin(&app, pin("274951"), NOW).await.unwrap();
    set_lock_timeout(&app, 0, NOW).await.unwrap();
    app.went_away_now();
    app.came_back_now();
    assert_eq!(list_tokens(&app, NOW).await.unwrap_err().kind, "pin_needed");
    unlock(&app, pin("274951"), NOW).await.unwrap();
    assert_eq!(list_tokens(&app, NOW).await.unwrap().len(), 1, "unlocked: no lock left due");
}

#[tokio::test]
async fn a_customers_app_refuses_the_kiosk_wipe_and_keeps_its_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_a_token(dir.path(), false);
    let refused = kiosk_reset(&app).await.unwrap_err();
    assert_eq!(refused.kind, "not_kiosk");
    assert_eq!(list_tokens(&app, NOW).await.unwrap().len(), 1);

    // A kiosk with the same token is wiped: the refusal above came from the mode alone.
    let kiosk_dir = tempfile::tempdir().unwrap();
    let kiosk = app_with_a_token(kiosk_dir.path(), true);
    kiosk_reset(&kiosk).await.unwrap();
    assert!(list_tokens(&kiosk, NOW).await.unwrap().is_empty());
}

/// Debug builds included: the badge follows the `qa` feature alone.
#[test]
fn only_a_qa_build_tells_the_screens_to_show_the_qa_badge() {
    let dir = tempfile::tempdir().unwrap();
    let info = app_info(&app_with_a_token(dir.path(), false));
    // Without the feature (a customer build, or this debug test build): no badge.
    assert_eq!(info.qa, cfg!(feature = "qa"));
}

/// A phone's biometric store in memory: what it keeps, and the failure its next prompt meets.
#[derive(Default)]
struct FakePhone {
    kept: std::sync::Mutex<Option<Vec<u8>>>,
    next_failure: std::sync::Mutex<Option<BiometricFailure>>,
}

impl FakePhone {
    fn fail_next(&self, why: BiometricFailure) {
        *self.next_failure.lock().unwrap() = Some(why);
    }
    fn holds_a_secret(&self) -> bool {
        self.kept.lock().unwrap().is_some()
    }
}

impl BiometricStore for FakePhone {
    fn available(&self) -> bool {
        true
    }
    fn keep(&self, secret: &BiometricSecret, _: &Prompt) -> Result<(), BiometricFailure> {
        if let Some(why) = self.next_failure.lock().unwrap().take() {
            return Err(why);
        }
        *self.kept.lock().unwrap() = Some(secret.expose().to_vec());
        Ok(())
    }
    fn release(&self, _: &Prompt) -> Result<BiometricSecret, BiometricFailure> {
        if let Some(why) = self.next_failure.lock().unwrap().take() {
            return Err(why);
        }
        let kept = self.kept.lock().unwrap();
        kept.as_deref().and_then(BiometricSecret::from_bytes).ok_or(BiometricFailure::Invalidated)
    }
    fn forget(&self) {
        *self.kept.lock().unwrap() = None;
    }
}

/// The app on a phone with biometrics, a token and the PIN 274951 set, unlocked.
async fn phone_with_a_pin(dir: &std::path::Path) -> (AppState, Arc<FakePhone>) {
    let phone = Arc::new(FakePhone::default());
    let app = app_with_a_token(dir, false).with_biometric_store(phone.clone());
    set_app_pin(&app, pin("274951"), NOW).await.unwrap();
    (app, phone)
}

#[tokio::test]
async fn a_customer_turns_fingerprint_unlock_on_with_the_pin_and_opens_the_app_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let (app, phone) = phone_with_a_pin(dir.path()).await;
    let before = lock_status(&app, NOW).await.unwrap();
    assert!(before.biometric_available && !before.biometric_on);
    let wrong = turn_on_biometric(&app, pin("274952"), "ja".into(), NOW).await.unwrap_err();
    assert_eq!((wrong.kind, wrong.tries_left), ("wrong_pin", Some(4)));
    assert!(!phone.holds_a_secret());
    let on = turn_on_biometric(&app, pin("274951"), "ja".into(), NOW).await.unwrap();
    assert!(on.biometric_on);
    assert_eq!(on.tries_left_before_wait, 5, "the right PIN cleared the wrong one");

    assert!(lock_now(&app, NOW).await.unwrap().locked);
    let open = unlock_with_biometric(&app, "ja".into(), NOW).await.unwrap();
    assert!(!open.locked);
    assert_eq!(list_tokens(&app, NOW).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_cancelled_fingerprint_leaves_the_app_locked_and_the_pin_still_opens_it() {
    let dir = tempfile::tempdir().unwrap();
    let (app, phone) = phone_with_a_pin(dir.path()).await;
    turn_on_biometric(&app, pin("274951"), "en".into(), NOW).await.unwrap();
    lock_now(&app, NOW).await.unwrap();
    phone.fail_next(BiometricFailure::Cancelled);
    let e = unlock_with_biometric(&app, "en".into(), NOW).await.unwrap_err();
    assert_eq!(e.kind, "biometric_cancelled");
    let still = lock_status(&app, NOW).await.unwrap();
    assert!(still.locked && still.biometric_on, "a cancel turns nothing off");
    assert_eq!(still.tries_left_before_wait, 5, "a cancel is no PIN try");
    assert!(!unlock(&app, pin("274951"), NOW).await.unwrap().locked);
}

#[tokio::test]
async fn a_newly_enrolled_fingerprint_turns_biometric_unlock_off_and_the_pin_opens() {
    let dir = tempfile::tempdir().unwrap();
    let (app, phone) = phone_with_a_pin(dir.path()).await;
    turn_on_biometric(&app, pin("274951"), "ja".into(), NOW).await.unwrap();
    lock_now(&app, NOW).await.unwrap();
    phone.fail_next(BiometricFailure::Invalidated);
    let e = unlock_with_biometric(&app, "ja".into(), NOW).await.unwrap_err();
    assert_eq!(e.kind, "biometric_invalidated");
    let after = lock_status(&app, NOW).await.unwrap();
    assert!(after.locked && !after.biometric_on && after.biometric_available);
    assert!(!phone.holds_a_secret());
    assert_eq!(
        unlock_with_biometric(&app, "ja".into(), NOW).await.unwrap_err().kind,
        "biometric_unavailable"
    );
    assert!(!unlock(&app, pin("274951"), NOW).await.unwrap().locked);
    // Offered again, and turned on again with the PIN, it works again.
    assert!(turn_on_biometric(&app, pin("274951"), "ja".into(), NOW).await.unwrap().biometric_on);
}

#[tokio::test]
async fn changing_or_removing_the_pin_turns_biometric_unlock_off() {
    let dir = tempfile::tempdir().unwrap();
    let (app, phone) = phone_with_a_pin(dir.path()).await;
    turn_on_biometric(&app, pin("274951"), "en".into(), NOW).await.unwrap();
    let changed = change_app_pin(&app, pin("274951"), pin("618204"), NOW).await.unwrap();
    assert!(!changed.biometric_on && !phone.holds_a_secret());
    turn_on_biometric(&app, pin("618204"), "en".into(), NOW).await.unwrap();
    let removed = remove_app_pin(&app, pin("618204"), NOW).await.unwrap();
    assert!(!removed.pin_set && !removed.biometric_on && !removed.biometric_available);
    assert!(!phone.holds_a_secret());
}

#[tokio::test]
async fn a_secret_kept_before_a_pin_change_elsewhere_is_refused_and_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let (app, phone) = phone_with_a_pin(dir.path()).await;
    turn_on_biometric(&app, pin("274951"), "en".into(), NOW).await.unwrap();
    let stale = phone.kept.lock().unwrap().clone();
    change_app_pin(&app, pin("274951"), pin("618204"), NOW).await.unwrap();
    // The phone's store still held the old one (say its forget failed), and the flag came back.
    *phone.kept.lock().unwrap() = stale;
    std::fs::write(dir.path().join(crate::biometric::BIOMETRIC_ON_FILE), "1").unwrap();
    lock_now(&app, NOW).await.unwrap();
    let e = unlock_with_biometric(&app, "en".into(), NOW).await.unwrap_err();
    assert_eq!(e.kind, "biometric_invalidated");
    assert!(!lock_status(&app, NOW).await.unwrap().biometric_on);
    assert!(!phone.holds_a_secret());
}

#[tokio::test]
async fn turning_biometric_unlock_off_leaves_the_pin() {
    let dir = tempfile::tempdir().unwrap();
    let (app, phone) = phone_with_a_pin(dir.path()).await;
    turn_on_biometric(&app, pin("274951"), "en".into(), NOW).await.unwrap();
    let off = turn_off_biometric(&app, NOW).await.unwrap();
    assert!(off.pin_set && !off.biometric_on && !phone.holds_a_secret());
}

#[tokio::test]
async fn a_desktop_or_the_kiosk_offers_no_biometric_unlock() {
    let dir = tempfile::tempdir().unwrap();
    let desktop = app_with_a_token(dir.path(), false);
    set_app_pin(&desktop, pin("274951"), NOW).await.unwrap();
    assert!(!lock_status(&desktop, NOW).await.unwrap().biometric_available);
    let e = turn_on_biometric(&desktop, pin("274951"), "en".into(), NOW).await.unwrap_err();
    assert_eq!(e.kind, "biometric_unavailable");
    let kiosk_dir = tempfile::tempdir().unwrap();
    let kiosk = app_with_a_token(kiosk_dir.path(), true)
        .with_biometric_store(Arc::new(FakePhone::default()));
    assert!(!lock_status(&kiosk, NOW).await.unwrap().biometric_available);
    let e = turn_on_biometric(&kiosk, pin("274951"), "en".into(), NOW).await.unwrap_err();
    assert_eq!(e.kind, "kiosk_has_no_lock");
}
