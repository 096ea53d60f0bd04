//! Copying a code to the system clipboard, and clearing it again shortly after.
//!
//! Our own command instead of a clipboard plugin: the web view gets no clipboard permission at
//! all, and the code is computed here, so it never travels from the web view back to Rust.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use zeroize::Zeroizing;

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
        let mine = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let generation = Arc::clone(&self.generation);
        let inner = Arc::clone(&self.inner);
        // One sleeping thread per copy: no timer ticks while nothing is copied.
        let spawned = std::thread::Builder::new().name("clipboard-clear".into()).spawn(move || {
            std::thread::sleep(clear_after);
            if generation.load(Ordering::SeqCst) != mine {
                return;
            }
            let mut guard = inner.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(board) = guard.as_mut() {
                // Only our own code is removed: if the customer copied something else since,
                // it stays.
                let still_ours =
                    board.get_text().map(|t| Zeroizing::new(t) == text).unwrap_or(false);
                if still_ours {
                    let _ = board.clear();
                }
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
