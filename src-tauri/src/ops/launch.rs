//! The app's start: the vault opened beside the web view's start ([`open_vault_early`]), the
//! name one run holds for its data directory ([`instance_name`]), and `ui_ready`, the
//! launch-time measurement for scripts/app-perf.sh.

use std::path::Path;
use std::sync::{Once, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::AppState;

/// When the app began, for [`ui_ready`]'s report.
static STARTED: OnceLock<Instant> = OnceLock::new();

/// Notes when the app began; `run` calls it first.
pub fn note_start() {
    let _ = STARTED.set(Instant::now());
}

/// Opens the vault (a keychain lookup over D-Bus, the file's decryption) while WebKit starts
/// its processes and loads the page, so the first screen's commands find it open instead of
/// waiting for it. The first of them takes the vault slot's lock after this one and finds the
/// vault open. A failure is not kept: that command opens the vault again and shows the customer
/// the error (a locked app's `pin_needed` among them).
pub async fn open_vault_early(state: &AppState) {
    let _ = state.with_slot(|slot| slot.open().map(|_| ())).await;
}

/// The name under which one run of the app answers for `data_dir` (on Linux a D-Bus name
/// under `identifier`): a second start on the same directory hands over to the run that holds
/// it and ends; a start on another directory (another vault: the old and the new phone on one
/// test machine) runs beside it. The directory is hashed to fit a D-Bus name's element (letters,
/// digits, `_`, at most 255 bytes in all, not starting with a digit), with FNV-1a, which every
/// build of the app computes alike.
pub fn instance_name(identifier: &str, data_dir: &Path) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in data_dir.as_os_str().as_encoded_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{identifier}.vault_{hash:016x}")
}

/// The web view calls this once, after the first codes are painted. With `SOFTTOKEN_PERF=1` the
/// time since start is printed for scripts/app-perf.sh; otherwise it does nothing.
pub fn ui_ready() {
    static REPORTED: Once = Once::new();
    if std::env::var("SOFTTOKEN_PERF").as_deref() == Ok("1") {
        REPORTED.call_once(|| {
            let since_start = STARTED.get().map(|t| t.elapsed().as_millis()).unwrap_or(0);
            let unix_ms =
                SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
            eprintln!(
                "softtoken-perf first-code-visible ms_since_start={since_start} unix_ms={unix_ms}"
            );
        });
    }
}

#[cfg(test)]
mod tests {
    use super::instance_name;
    use std::path::Path;

    #[test]
    fn a_second_start_on_the_same_data_directory_finds_the_first_by_name() {
        let dir = Path::new("/home/a/.local/share/jp.softtoken.app");
        assert_eq!(instance_name("jp.softtoken.app", dir), instance_name("jp.softtoken.app", dir));
    }

    #[test]
    fn the_old_and_the_new_phone_on_one_machine_run_side_by_side() {
        let old = instance_name("jp.softtoken.app", Path::new("/tmp/t/old-phone"));
        let new = instance_name("jp.softtoken.app", Path::new("/tmp/t/new-phone"));
        assert_ne!(old, new);
    }

    #[test]
    fn the_name_is_a_valid_dbus_name_whatever_the_directory() {
        let name = instance_name("jp.softtoken.app", Path::new("/home/ユーザー/1 dir.with-dots"));
        assert!(name.len() < 200, "{name}");
        for element in name.split('.') {
            assert!(!element.is_empty() && !element.starts_with(|c: char| c.is_ascii_digit()));
            assert!(element.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{name}");
        }
    }
}
