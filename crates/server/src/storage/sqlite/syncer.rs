//! With `synchronous = full`, the thread that makes each committed batch durable before its
//! callers hear of it, while the writer goes on with the next batch.
//!
//! The writer's connection commits with SQLite's `synchronous = NORMAL`: the batch's frames are
//! in the WAL file, not yet on the disk. The batch's answers come here; this thread syncs the
//! WAL file and only then answers. One sync covers every batch committed before it started, so
//! a slow disk makes batches wait together instead of one after another. Until then other
//! requests may already see the batch (the writer's cache, a reader): a refusal decided on a
//! write that a power cut then loses is a refusal of something the bank was never told had
//! happened, which its caller may simply try again.
//!
//! A failed sync means the disk may have dropped the written pages (Linux marks them clean and
//! a later sync succeeds without them), so nothing after it can be promised either: the callers
//! waiting are told so, and the writer refuses every later write until the server is restarted.

use std::fs::File;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use super::ops::Pending;
use crate::error::{Error, Result};

/// Makes what was written to the WAL durable.
type SyncFn = Box<dyn FnMut() -> std::io::Result<()> + Send>;

/// Answers of committed batches waiting for the WAL to reach the disk.
pub(super) struct Syncer {
    batches: Option<std_mpsc::Sender<Vec<Pending>>>,
    thread: Option<JoinHandle<()>>,
    failed: Arc<AtomicBool>,
}

impl Syncer {
    /// Syncs `wal` (the open WAL file of the database) for every batch handed over. Syncs its
    /// directory once first: a WAL created by this process is not durable until its name is.
    /// The handle stays valid: SQLite deletes a WAL only when its last connection closes (the
    /// writer's stays open until the syncer is gone) and otherwise empties it in place.
    pub(super) fn for_wal(wal: &std::path::Path) -> Result<Self> {
        let file = File::options().write(true).open(wal)?;
        if let Some(dir) = wal.parent() {
            sync_dir(dir)?;
        }
        Self::spawn(Box::new(move || file.sync_data()))
    }

    fn spawn(mut sync: SyncFn) -> Result<Self> {
        let (tx, rx) = std_mpsc::channel::<Vec<Pending>>();
        let failed = Arc::new(AtomicBool::new(false));
        let flag = failed.clone();
        let thread =
            std::thread::Builder::new().name("softtoken-db-sync".into()).spawn(move || {
                while let Ok(mut waiting) = rx.recv() {
                    while let Ok(more) = rx.try_recv() {
                        waiting.extend(more);
                    }
                    let synced = if flag.load(Ordering::Acquire) {
                        Err(std::io::Error::other("an earlier sync failed"))
                    } else {
                        sync()
                    };
                    match synced {
                        Ok(()) => waiting.into_iter().for_each(Pending::answer),
                        Err(e) => {
                            flag.store(true, Ordering::Release);
                            tracing::error!(event = "storage_error", error = %e,
                                "syncing the WAL failed: refusing every write until restarted");
                            let e = sync_failure();
                            waiting.into_iter().for_each(|p| p.fail(&e));
                        }
                    }
                }
            })?;
        Ok(Self { batches: Some(tx), thread: Some(thread), failed })
    }

    /// Hands a committed batch's answers over; they go out once the WAL is on the disk.
    pub(super) fn after_sync(&self, answers: Vec<Pending>) {
        let unsent = match &self.batches {
            Some(tx) => tx.send(answers).err().map(|e| e.0),
            None => Some(answers),
        };
        if let Some(answers) = unsent {
            let e = Error::Internal("the WAL sync thread has stopped");
            answers.into_iter().for_each(|p| p.fail(&e));
        }
    }

    /// Set once a sync failed: no later commit may be acknowledged.
    pub(super) fn failed(&self) -> Option<Error> {
        self.failed.load(Ordering::Acquire).then(sync_failure)
    }
}

impl Drop for Syncer {
    /// Answers everything handed over before the writer stops.
    fn drop(&mut self) {
        drop(self.batches.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn sync_failure() -> Error {
    Error::Storage(
        "the disk did not confirm a write of the database, so nothing more is written; \
         check the disk and restart the server"
            .into(),
    )
}

#[cfg(unix)]
fn sync_dir(dir: &std::path::Path) -> Result<()> {
    File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(not(unix))]
fn sync_dir(_dir: &std::path::Path) -> Result<()> {
    // Windows has no directory handle to sync; NTFS journals the file's creation itself.
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::time::Duration;

    use tokio::sync::oneshot;

    use super::*;

    fn waiting_caller() -> (Pending, oneshot::Receiver<Result<()>>) {
        let (tx, rx) = oneshot::channel();
        (Pending::Unit(tx, Ok(())), rx)
    }

    #[test]
    fn a_customer_hears_of_a_committed_write_only_after_the_disk_confirmed_it() {
        // The disk holds its first sync until the test opens it.
        let (open, gate) = std::sync::mpsc::channel::<()>();
        let mut opened = false;
        let syncer = Syncer::spawn(Box::new(move || {
            if !opened {
                gate.recv().expect("the test opens the gate");
                opened = true;
            }
            Ok(())
        }))
        .unwrap();
        let (first, mut first_answer) = waiting_caller();
        let (second, mut second_answer) = waiting_caller();
        syncer.after_sync(vec![first]);
        syncer.after_sync(vec![second]);
        std::thread::sleep(Duration::from_millis(100));
        assert!(first_answer.try_recv().is_err(), "answered before the sync");
        assert!(second_answer.try_recv().is_err(), "answered before the sync");
        open.send(()).unwrap();
        drop(syncer);
        assert!(first_answer.try_recv().unwrap().is_ok());
        assert!(second_answer.try_recv().unwrap().is_ok());
    }

    #[test]
    fn after_a_failed_sync_the_bank_refuses_every_later_write() {
        let syncs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = syncs.clone();
        let syncer = Syncer::spawn(Box::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            Err(std::io::Error::other("EIO"))
        }))
        .unwrap();
        assert!(syncer.failed().is_none());
        let (first, mut first_answer) = waiting_caller();
        syncer.after_sync(vec![first]);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while syncer.failed().is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let refusal = syncer.failed().expect("the failure is remembered").to_string();
        assert!(refusal.contains("restart the server"), "{refusal}");

        // A batch the writer committed before it saw the failure is not synced again, and
        // fails too: a later sync could succeed without the pages the failed one lost.
        let (late, mut late_answer) = waiting_caller();
        syncer.after_sync(vec![late]);
        drop(syncer);
        assert!(first_answer.try_recv().unwrap().is_err());
        assert!(late_answer.try_recv().unwrap().is_err());
        assert_eq!(syncs.load(Ordering::SeqCst), 1);
    }
}
