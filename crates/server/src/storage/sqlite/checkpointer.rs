//! The thread that copies the WAL back into the database file while the writer goes on.
//!
//! SQLite's own checkpoint runs inside the commit that crossed its threshold, on the writer's
//! thread: it syncs the WAL, copies a thousand pages into the database file and syncs that
//! file. Under load that held the writer for 15–20 ms several times a second, with every
//! waiting verification queued behind it and the machine's cores idle (docs/PERFORMANCE.md).
//!
//! Here the writer only notes how long its WAL is (a WAL hook, which also turns SQLite's
//! automatic checkpoint off for its connection) and nudges this thread every
//! [`NUDGE_FRAMES`] frames. This thread checkpoints with its own connection in `PASSIVE` mode,
//! which takes no lock a writer or reader needs. A `PASSIVE` checkpoint never restarts the
//! WAL, and under steady load this thread never catches up with the last frame, so at
//! [`RESTART_FRAMES`] the writer checkpoints itself: by then almost everything is copied, and
//! only the tail is left to do on its thread. Once everything is copied, SQLite's next write
//! starts the WAL again from its beginning.
//!
//! Durability is SQLite's: a checkpoint syncs the WAL before it writes pages into the database
//! file and syncs that file before the WAL may be reused, whichever connection runs it.

use std::cell::Cell;
use std::os::raw::c_int;
use std::path::Path;
use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;

use rusqlite::Connection;

use crate::error::Result;

/// New WAL frames (pages) after which the writer asks for a checkpoint: SQLite's own default.
pub(super) const NUDGE_FRAMES: u32 = 1_000;

/// WAL frames at which the writer checkpoints itself, so that the WAL starts again from its
/// beginning. Below `journal_size_limit` (16 MiB, about 4,000 frames), so that reuse never
/// cuts the file back and regrows it.
pub(super) const RESTART_FRAMES: u32 = 3_000;

thread_local! {
    /// Frames in the WAL of the writer on this thread, as of its last commit.
    static WAL_FRAMES: Cell<u32> = const { Cell::new(0) };
}

/// Makes `conn` (the writer's) report its WAL's length to [`wal_frames`] instead of
/// checkpointing inside its commits. Call on the thread that commits with it.
pub(super) fn watch_wal(conn: &Connection) {
    fn note(_: &rusqlite::hooks::Wal, frames: c_int) -> rusqlite::Result<()> {
        WAL_FRAMES.set(u32::try_from(frames).unwrap_or(0));
        Ok(())
    }
    conn.wal_hook(Some(note));
}

/// Frames in the WAL after the last commit on this thread.
pub(super) fn wal_frames() -> u32 {
    WAL_FRAMES.get()
}

/// The background checkpoint thread; stops (after its current checkpoint) when dropped.
pub(super) struct Checkpointer {
    nudges: Option<std_mpsc::SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path` on a connection of its own.
    pub(super) fn start(path: &Path) -> Result<Self> {
        let conn = Connection::open(path)?;
        // A checkpoint syncs as this connection's `synchronous` says; NORMAL syncs the WAL
        // before copying and the database file after, which is all a checkpoint needs.
        conn.execute_batch("PRAGMA synchronous = NORMAL")?;
        // One nudge waiting is enough: a checkpoint copies everything there is.
        let (tx, rx) = std_mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new().name("softtoken-db-checkpoint".into()).spawn(
            move || {
                while rx.recv().is_ok() {
                    let done = conn
                        .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0));
                    // Busy only means another checkpoint is running (the writer's, the idle
                    // emptying, the CLI's); a failure is retried at the next nudge and the
                    // writer's own checkpoint still bounds the WAL.
                    if let Err(e) = done {
                        tracing::warn!(event = "storage_warning", error = %e,
                            "checkpointing the WAL");
                    }
                }
            },
        )?;
        Ok(Self { nudges: Some(tx), thread: Some(thread) })
    }

    /// Asks for a checkpoint; returns at once.
    pub(super) fn nudge(&self) {
        if let Some(tx) = &self.nudges {
            // Full: a nudge is already waiting, and it covers this one.
            let _ = tx.try_send(());
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.nudges.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
