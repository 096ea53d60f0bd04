//! Copying a code to the system clipboard, and clearing it again shortly after.
//!
//! Our own command instead of the web view calling a clipboard plugin: the web view gets no
//! clipboard permission at all, and the code is computed here, so it never travels from the web
//! view back to Rust. The desktop uses arboard; phones use the official clipboard plugin, called
//! from here only (its default permission set is empty and the capability grants none of it).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
#[cfg(not(any(target_os = "android", target_os = "ios")))]
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

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

/// The app, for the clipboard plugin on phones. Set once in `setup`: the plugin lives in the
/// app, which does not exist yet when the app's state is made.
#[cfg(any(target_os = "android", target_os = "ios"))]
static PHONE_APP: std::sync::OnceLock<tauri::AppHandle> = std::sync::OnceLock::new();

/// Hands the app (and with it the clipboard plugin) to [`Clipboard`] on phones.
#[cfg(any(target_os = "android", target_os = "ios"))]
pub fn attach_phone_app(app: &tauri::AppHandle) {
    let _ = PHONE_APP.set(app.clone());
}

fn unavailable() -> CommandError {
    CommandError::app(AppErrorKind::ClipboardUnavailable, "The clipboard is not available.")
}

impl Clipboard {
    /// Puts `text` on the clipboard and clears it after `clear_after`, unless something else
    /// was copied meanwhile (on phones: unless we copied again; see [`clear::Unreadable`]).
    ///
    /// # Errors
    /// `clipboard_unavailable` when there is no clipboard (no display, or the phone's clipboard
    /// refused the text).
    pub fn copy_then_clear(
        &self,
        text: Zeroizing<String>,
        clear_after: Duration,
    ) -> CommandResult<()> {
        self.put(&text)?;
        let copied = CopiedCode {
            code: text,
            copy: self.generation.fetch_add(1, Ordering::SeqCst) + 1,
            due: Instant::now() + clear_after,
        };
        let generation = Arc::clone(&self.generation);
        let clear = self.clearer();
        // One sleeping thread per copy: no timer ticks while nothing is copied.
        let spawned = std::thread::Builder::new().name("clipboard-clear".into()).spawn(move || {
            std::thread::sleep(copied.due.saturating_duration_since(Instant::now()));
            clear(&copied, generation.load(Ordering::SeqCst));
        });
        spawned.map(|_| ()).map_err(|_| unavailable())
    }

    #[cfg(not(any(target_os = "android", target_os = "ios")))]
    fn put(&self, text: &str) -> CommandResult<()> {
        let mut guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if guard.is_none() {
            *guard = Some(arboard::Clipboard::new().map_err(|_| unavailable())?);
        }
        let board = guard.as_mut().ok_or_else(unavailable)?;
        board.set_text(text).map_err(|_| unavailable())
    }

    /// What the clear thread runs: reads the clipboard back and clears it if it still holds
    /// the code.
    #[cfg(not(any(target_os = "android", target_os = "ios")))]
    fn clearer(&self) -> impl FnOnce(&CopiedCode, u64) + Send + 'static {
        let inner = Arc::clone(&self.inner);
        move |copied, latest| {
            let mut guard = inner.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(board) = guard.as_mut() {
                copied.clear_if_still_ours(Instant::now(), latest, board);
            }
        }
    }

    /// Written as a secret: Android 13+ hides it from the clipboard preview, iOS keeps it off
    /// Universal Clipboard (other devices of the same Apple ID).
    #[cfg(any(target_os = "android", target_os = "ios"))]
    fn put(&self, text: &str) -> CommandResult<()> {
        use tauri_plugin_clipboard_manager::ClipboardExt;
        let app = PHONE_APP.get().ok_or_else(unavailable)?;
        app.clipboard().write_secret(text).map_err(|_| unavailable())
    }

    /// What the clear thread runs: clears without reading back (see [`clear::Unreadable`]).
    #[cfg(any(target_os = "android", target_os = "ios"))]
    fn clearer(&self) -> impl FnOnce(&CopiedCode, u64) + Send + 'static {
        use tauri_plugin_clipboard_manager::ClipboardExt;
        let app = PHONE_APP.get().cloned();
        move |copied, latest| {
            if let Some(app) = app {
                let mut board = clear::Unreadable(|| {
                    // A failure leaves the code there until something else is copied.
                    let _ = app.clipboard().clear();
                });
                copied.clear_if_still_ours(Instant::now(), latest, &mut board);
            }
        }
    }
}

/// When a copied code comes off the clipboard: the decision, apart from arboard and the plugin,
/// so tests drive it with their own time and clipboard.
mod clear {
    use std::time::Instant;

    use zeroize::Zeroizing;

    /// The clipboard as the clear needs it: arboard's on the desktop, the plugin's on phones,
    /// a fake in tests.
    pub(super) trait Board {
        /// Whether the clipboard still holds `code`; `false` when it cannot be read.
        fn holds(&mut self, code: &str) -> bool;
        /// Empties the clipboard (a failure leaves the code there until something else is
        /// copied; nothing more can be done about it).
        fn clear(&mut self);
    }

    #[cfg(not(any(target_os = "android", target_os = "ios")))]
    impl Board for arboard::Clipboard {
        fn holds(&mut self, code: &str) -> bool {
            self.get_text().ok().map(Zeroizing::new).is_some_and(|text| text.as_str() == code)
        }

        fn clear(&mut self) {
            let _ = arboard::Clipboard::clear(self);
        }
    }

    /// A phone's clipboard, which the app cannot read back without the platform objecting:
    /// iOS 16+ asks the customer to allow the paste, and Android 10+ gives an app in the
    /// background (where it is when the customer pastes elsewhere) nothing. So it is taken to
    /// still hold the code: after 30 s it is cleared unless we copied again, even when the
    /// customer copied something else meanwhile. Clearing needs no read and no prompt.
    #[cfg(any(target_os = "android", target_os = "ios", test))]
    pub(super) struct Unreadable<F: FnMut()>(pub(super) F);

    #[cfg(any(target_os = "android", target_os = "ios", test))]
    impl<F: FnMut()> Board for Unreadable<F> {
        fn holds(&mut self, _code: &str) -> bool {
            true
        }

        fn clear(&mut self) {
            (self.0)();
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
            let still_ours = board.holds(&self.code);
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
            fn holds(&mut self, code: &str) -> bool {
                self.reads += 1;
                self.text == Some(code)
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

        #[test]
        fn on_a_phone_the_code_is_cleared_after_30_seconds_without_reading_the_clipboard() {
            let at = Instant::now();
            let (copied, _) = copy("123456", 1, at);
            let mut clears = 0;
            let mut phone = Unreadable(|| clears += 1);
            assert!(!copied.clear_if_still_ours(at + Duration::from_millis(29_999), 1, &mut phone));
            assert!(copied.clear_if_still_ours(at + Duration::from_secs(30), 1, &mut phone));
            assert_eq!(clears, 1);
        }

        #[test]
        fn on_a_phone_copying_again_gives_the_new_code_its_own_30_seconds() {
            let at = Instant::now();
            let (first, _) = copy("123456", 1, at);
            let (second, _) = copy("654321", 2, at + Duration::from_secs(20));
            let mut clears = 0;
            let mut phone = Unreadable(|| clears += 1);
            assert!(!first.clear_if_still_ours(at + Duration::from_secs(30), 2, &mut phone));
            assert!(second.clear_if_still_ours(at + Duration::from_secs(50), 2, &mut phone));
            assert_eq!(clears, 1);
        }
    }
}
