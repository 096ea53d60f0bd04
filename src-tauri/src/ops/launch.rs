//! `ui_ready`: the launch-time measurement for scripts/app-perf.sh.

use std::sync::{Once, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// When the app began, for [`ui_ready`]'s report.
static STARTED: OnceLock<Instant> = OnceLock::new();

/// Notes when the app began; `run` calls it first.
pub fn note_start() {
    let _ = STARTED.set(Instant::now());
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
