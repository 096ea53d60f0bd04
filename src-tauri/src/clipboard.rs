//! Copying a code to the system clipboard, and clearing it again shortly after.
//!
//! Our own command instead of a clipboard plugin: the web view gets no clipboard permission at
//! all, and the code is computed here, so it never travels from the web view back to Rust.

use std::sync::atomic::AtomicU64;
#[cfg(not(any(target_os = "android", target_os = "ios")))]
use std::sync::atomic::Ordering;
use std::sync::Arc;
#[cfg(not(any(target_os = "android", target_os = "ios")))]
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use zeroize::Zeroizing;

#[cfg(not(any(target_os = "android", target_os = "ios")))]
use self::clear::CopiedCode;
use crate::error::{AppErrorKind, CommandError, CommandResult};

/// Seconds a copied code stays on the clipboard. A code lives at most 60 s; half of that is
/// enough to paste it and short enough that it is not pasted by accident much later.
pub const CLEAR_AFTER_SECS: u32 = 30;

/// The clipboard, opened on first use. On Linux the copied text is served by this process, so
/// the handle is kept for the app's lifetime.
#[derive(Default)]
pub struct Clipboard {
    #[cfg(not(any(target_os = "android", target_os = "ios")))]
    inner: Arc<Mutex<Option<arboard::Clipboard>>>,
    /// Bumped by every copy, so a clear scheduled by an older copy leaves a newer one alone.
    generation: Arc<AtomicU64>,
}

fn unavailable() -> CommandError {
    CommandError::app(AppErrorKind::ClipboardUnavailable, "The clipboard is not available.")
}

impl Clipboard {
    /// Puts `text` on the clipboard and clears it after `clear_after`, unless something else
    /// was copied meanwhile.
    ///
    /// # Errors
    /// `clipboard_unavailable` when there is no clipboard (no display, or a mobile build).
    #[cfg(not(any(target_os = "android", target_os = "ios")))]
    pub fn copy_then_clear(
        &self,
        text: Zeroizing<String>,
        clear_after: Duration,
    ) -> CommandResult<()> {
        {
            let mut guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            if guard.is_none() {
                *guard = Some(arboard::Clipboard::new().map_err(|_| unavailable())?);
            }
            let board = guard.as_mut().ok_or_else(unavailable)?;
            board.set_text(text.as_str()).map_err(|_| unavailable())?;
        }
        let copied = CopiedCode {
            code: text,
            copy: self.generation.fetch_add(1, Ordering::SeqCst) + 1,
            due: std::time::Instant::now() + clear_after,
        };
        let generation = Arc::clone(&self.generation);
        let inner = Arc::clone(&self.inner);
        // One sleeping thread per copy: no timer ticks while nothing is copied.
        let spawned = std::thread::Builder::new().name("clipboard-clear".into()).spawn(move || {
            std::thread::sleep(copied.due.saturating_duration_since(std::time::Instant::now()));
            let mut guard = inner.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(board) = guard.as_mut() {
                let latest = generation.load(Ordering::SeqCst);
                copied.clear_if_still_ours(std::time::Instant::now(), latest, board);
            }
        });
        spawned.map(|_| ()).map_err(|_| unavailable())
    }

    /// Mobile builds have no clipboard support yet.
    ///
    /// # Errors
    /// Always `clipboard_unavailable`.
    #[cfg(any(target_os = "android", target_os = "ios"))]
    pub fn copy_then_clear(
        &self,
        _text: Zeroizing<String>,
        _clear_after: Duration,
    ) -> CommandResult<()> {
        let _ = &self.generation;
        Err(unavailable())
    }
}

/// When a copied code comes off the clipboard: the decision, apart from arboard, so tests drive
/// it with their own time and clipboard.
#[cfg(not(any(target_os = "android", target_os = "ios")))]
mod clear {
    use std::time::Instant;

    use zeroize::Zeroizing;

    /// The clipboard as the clear needs it: arboard's in the app, a fake in tests.
    pub(super) trait Board {
        /// The text on the clipboard; `None` when it holds none or cannot be read.
        fn text(&mut self) -> Option<Zeroizing<String>>;
        /// Empties the clipboard (a failure leaves the code there until something else is
        /// copied; nothing more can be done about it).
        fn clear(&mut self);
    }

    impl Board for arboard::Clipboard {
        fn text(&mut self) -> Option<Zeroizing<String>> {
            self.get_text().ok().map(Zeroizing::new)
        }

        fn clear(&mut self) {
            let _ = arboard::Clipboard::clear(self);
        }
    }

    /// A code put on the clipboard, and when it is to be taken off again.
    pub(super) struct CopiedCode {
        pub(super) code: Zeroizing<String>,
        /// The clipboard's copy counter after this copy.
        pub(super) copy: u64,
        pub(super) due: Instant,
    }

    impl CopiedCode {
        /// Clears `board` when, at `now`, the code's time is up, no later copy (`latest`) has
        /// replaced it, and the clipboard still holds this code: whatever the customer copied
        /// since stays. Returns whether it cleared. The clipboard is not even read before the time
        /// is up or after a later copy: what else is on it is none of our business.
        pub(super) fn clear_if_still_ours(
            &self,
            now: Instant,
            latest: u64,
            board: &mut impl Board,
        ) -> bool {
            if now < self.due || latest != self.copy {
                return false;
            }
            let still_ours = board.text().is_some_and(|text| text == self.code);
            if still_ours {
                board.clear();
            }
            still_ours
        }
    }

    #[cfg(test)]
    mod tests {
        use std::time::Duration;

        use super::*;
        use crate::clipboard::CLEAR_AFTER_SECS;

        /// A clipboard in memory that counts how often it was read.
        struct FakeBoard {
            text: Option<&'static str>,
            reads: u32,
        }

        impl Board for FakeBoard {
            fn text(&mut self) -> Option<Zeroizing<String>> {
                self.reads += 1;
                self.text.map(|t| Zeroizing::new(t.to_owned()))
            }

            fn clear(&mut self) {
                self.text = None;
            }
        }

        /// The customer's `copy`-th copy of `code`, at `at`; the clipboard holds it.
        fn copy(code: &'static str, copy: u64, at: Instant) -> (CopiedCode, FakeBoard) {
            let due = at + Duration::from_secs(CLEAR_AFTER_SECS.into());
            let copied = CopiedCode { code: Zeroizing::new(code.to_owned()), copy, due };
            (copied, FakeBoard { text: Some(code), reads: 0 })
        }

        #[test]
        fn a_copied_code_stays_for_30_seconds_and_is_then_cleared() {
            let at = Instant::now();
            let (copied, mut board) = copy("123456", 1, at);
            assert!(!copied.clear_if_still_ours(at + Duration::from_millis(29_999), 1, &mut board));
            assert_eq!((board.text, board.reads), (Some("123456"), 0), "untouched, not even read");
            assert!(copied.clear_if_still_ours(at + Duration::from_secs(30), 1, &mut board));
            assert_eq!(board.text, None);
        }

        #[test]
        fn what_the_customer_copied_after_the_code_stays_on_the_clipboard() {
            let at = Instant::now();
            let (copied, mut board) = copy("123456", 1, at);
            board.text = Some("an account number pasted from the bank's mail");
            assert!(!copied.clear_if_still_ours(at + Duration::from_secs(31), 1, &mut board));
            assert_eq!(board.text, Some("an account number pasted from the bank's mail"));
        }

        #[test]
        fn copying_the_same_code_again_gives_it_a_full_30_seconds_once_more() {
            let at = Instant::now();
            let (first, _) = copy("123456", 1, at);
            let (second, mut board) = copy("123456", 2, at + Duration::from_secs(20));
            // The first copy's clear leaves the second one alone, and does not even look.
            assert!(!first.clear_if_still_ours(at + Duration::from_secs(30), 2, &mut board));
            assert_eq!((board.text, board.reads), (Some("123456"), 0));
            assert!(!second.clear_if_still_ours(at + Duration::from_secs(49), 2, &mut board));
            assert!(second.clear_if_still_ours(at + Duration::from_secs(50), 2, &mut board));
            assert_eq!(board.text, None);
        }
    }
}
