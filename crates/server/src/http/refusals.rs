//! A bound on the log lines of refused requests. A flood of wrong bearers or rate-limited
//! starts would otherwise write one WARN line per request: the log's disk and the SIEM's
//! licence fill at the attacker's pace, and the lines an operator needs scroll away. Each kind
//! of refusal (its `event`) writes at most [`LINES_PER_WINDOW`] lines per [`WINDOW_SECS`];
//! the rest are counted, and the count is written as one `event="refusals_suppressed"` line
//! when the kind's next window opens (the next refusal of that kind after the window, or the
//! server's minute tick, whichever comes first). The counters in `/metrics` still count
//! every refusal.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Lines of one kind written one by one per window.
pub const LINES_PER_WINDOW: u32 = 20;
/// The window's length.
pub const WINDOW_SECS: u64 = 60;

#[derive(Debug, Clone, Copy)]
struct Window {
    opened: u64,
    written: u32,
    suppressed: u64,
}

/// Per kind of refusal, this window's lines.
#[derive(Debug, Default)]
pub struct RefusalLog {
    kinds: Mutex<HashMap<&'static str, Window>>,
}

impl RefusalLog {
    /// Whether this refusal of `kind` at `now` (Unix seconds) gets its own line; when not, it
    /// is counted for the summary.
    pub fn admit(&self, kind: &'static str, now: u64) -> bool {
        let mut kinds = self.kinds.lock().unwrap_or_else(PoisonError::into_inner);
        let window = kinds.entry(kind).or_insert(Window { opened: now, written: 0, suppressed: 0 });
        if now >= window.opened.saturating_add(WINDOW_SECS) {
            summarise(kind, window);
            *window = Window { opened: now, written: 0, suppressed: 0 };
        }
        if window.written < LINES_PER_WINDOW {
            window.written += 1;
            true
        } else {
            window.suppressed += 1;
            false
        }
    }

    /// Writes the summary of every window that has ended by `now`, so a flood that stopped is
    /// still counted without waiting for the next refusal.
    pub fn close_ended(&self, now: u64) {
        let mut kinds = self.kinds.lock().unwrap_or_else(PoisonError::into_inner);
        kinds.retain(|kind, window| {
            if now < window.opened.saturating_add(WINDOW_SECS) {
                return true;
            }
            summarise(kind, window);
            false
        });
    }
}

fn summarise(kind: &'static str, window: &Window) {
    if window.suppressed > 0 {
        tracing::warn!(
            event = "refusals_suppressed",
            kind,
            suppressed = window.suppressed,
            logged = window.written,
            window_secs = WINDOW_SECS,
            "more refusals of this kind than are logged one by one; this many were not"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_gets_its_first_lines_then_a_count_and_a_new_window_starts_again() {
        let log = RefusalLog::default();
        let written = (0..1000).filter(|_| log.admit("admin_unauthorized", 100)).count();
        assert_eq!(written, LINES_PER_WINDOW as usize);
        assert!(log.admit("provision_rate_limited", 100), "another kind has its own lines");
        assert!(!log.admit("admin_unauthorized", 100 + WINDOW_SECS - 1));
        assert!(log.admit("admin_unauthorized", 100 + WINDOW_SECS));
    }
}
