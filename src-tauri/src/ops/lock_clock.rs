//! When the app locks by itself: after it was in the background longer than the time the
//! customer chose (on a phone, suspended; on the desktop, its window without the focus). Pure:
//! the caller passes the monotonic clock's `Instant`, so the rule is tested without waiting,
//! and setting the wall clock back cannot keep the app open. The customer's choice is kept in
//! [`LOCK_AFTER_FILE`].

use std::time::{Duration, Instant};

/// Seconds in the background before the app locks, unless the customer chose otherwise.
pub const DEFAULT_LOCK_AFTER_SECS: u32 = 60;

/// The times the settings screen offers; anything else is refused. 0 locks as soon as the app
/// leaves the foreground.
pub const LOCK_AFTER_CHOICES: [u32; 5] = [0, 30, 60, 300, 900];

/// File in the data directory that keeps the customer's background time, in seconds.
pub const LOCK_AFTER_FILE: &str = "lock-after";

/// The background time kept in `dir`, or the default.
pub fn saved_lock_after(dir: &std::path::Path) -> u32 {
    std::fs::read_to_string(dir.join(LOCK_AFTER_FILE))
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .filter(|secs| LOCK_AFTER_CHOICES.contains(secs))
        .unwrap_or(DEFAULT_LOCK_AFTER_SECS)
}

/// The background time of this run.
#[derive(Debug, Clone)]
pub struct LockClock {
    after: Duration,
    /// When the app last left the foreground, while it is away.
    away_since: Option<Instant>,
    /// It came back after too long: the next vault access locks.
    due: bool,
}

impl LockClock {
    /// A clock that locks after `after_secs` in the background.
    pub fn new(after_secs: u32) -> Self {
        Self { after: Duration::from_secs(after_secs.into()), away_since: None, due: false }
    }

    /// The chosen time, in seconds.
    pub fn after_secs(&self) -> u32 {
        u32::try_from(self.after.as_secs()).unwrap_or(u32::MAX)
    }

    /// A new choice, counted from when the app left (if it is away now).
    pub fn set_after(&mut self, secs: u32) {
        self.after = Duration::from_secs(secs.into());
    }

    /// The app left the foreground at `now`; a second call while away keeps the first time.
    pub fn went_away(&mut self, now: Instant) {
        self.away_since.get_or_insert(now);
    }

    /// The app is back at `now`: if it was away too long, the next vault access locks.
    pub fn came_back(&mut self, now: Instant) {
        self.due |= self.away_too_long(now);
        self.away_since = None;
    }

    /// Whether to lock now, and forgets that it was due: true once the app came back after too
    /// long, and on every call while it is still away after too long (the ticking list of a
    /// desktop window left open beside another window).
    pub fn take_due(&mut self, now: Instant) -> bool {
        let due = self.due || self.away_too_long(now);
        self.due = false;
        due
    }

    /// The PIN was just entered: the time away starts again from nothing.
    pub fn unlocked(&mut self) {
        self.due = false;
        self.away_since = None;
    }

    fn away_too_long(&self, now: Instant) -> bool {
        self.away_since.is_some_and(|since| now.saturating_duration_since(since) >= self.after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn a_customer_back_within_the_minute_finds_the_app_open() {
        let start = Instant::now();
        let mut clock = LockClock::new(DEFAULT_LOCK_AFTER_SECS);
        clock.went_away(start);
        clock.came_back(start + 59 * SECOND);
        assert!(!clock.take_due(start + 59 * SECOND));
        assert!(!clock.take_due(start + 3600 * SECOND), "the time away ended when they came back");
    }

    #[test]
    fn a_customer_back_after_the_minute_finds_the_app_locked_once() {
        let start = Instant::now();
        let mut clock = LockClock::new(DEFAULT_LOCK_AFTER_SECS);
        clock.went_away(start);
        // Leaving again while away (a second event) does not restart the count.
        clock.went_away(start + 30 * SECOND);
        clock.came_back(start + 61 * SECOND);
        assert!(clock.take_due(start + 61 * SECOND));
        assert!(!clock.take_due(start + 62 * SECOND), "locked once; the unlock is not undone");
    }

    #[test]
    fn a_window_left_unfocused_locks_while_still_away_until_unlocked() {
        let start = Instant::now();
        let mut clock = LockClock::new(30);
        clock.went_away(start);
        assert!(!clock.take_due(start + 29 * SECOND));
        assert!(clock.take_due(start + 30 * SECOND));
        assert!(clock.take_due(start + 31 * SECOND), "still away: still locked");
        clock.unlocked();
        assert!(!clock.take_due(start + 32 * SECOND));
    }

    #[test]
    fn lock_at_once_locks_as_soon_as_the_app_has_left() {
        let start = Instant::now();
        let mut clock = LockClock::new(0);
        assert!(!clock.take_due(start), "in the foreground it never locks by itself");
        clock.went_away(start);
        clock.came_back(start);
        assert!(clock.take_due(start));
        assert_eq!(clock.after_secs(), 0);
    }
}
