//! Group commit for verify's writes.
//!
//! Each verification ends in one conditional write of its registration. Written one
//! statement and one commit each, PostgreSQL spent most of the machine on parsing, planning
//! and committing statements of one row (docs/PERFORMANCE.md). Here the writes that arrive
//! while one batch is in the database wait together and go as the next batch: one statement,
//! one commit, one WAL flush for all of them. A lone verification is not delayed: when
//! nothing is in flight its write goes at once, as a batch of one.
//!
//! Nothing of a rule moves here: each row is still written only if it has the revision its
//! verification decided on, and each caller is answered only after the commit that holds its
//! row (or with the error that stopped it).

use std::collections::{HashSet, VecDeque};

use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot};

use super::rows::{pool_error, update_registration_rows};
use crate::error::{Error, Result};
use crate::storage::Registration;

/// Rows in one statement at most: large enough that a full queue of a busy web tier goes in a
/// few batches, small enough that one batch stays a few milliseconds of the database's time.
const MAX_BATCH: usize = 512;

/// Writes waiting for the batch task; beyond this, callers wait to queue.
const QUEUE: usize = 4096;

struct Pending {
    row: Registration,
    expected: u64,
    /// The row handed back (the caller keeps no copy) with its new revision, if written.
    reply: oneshot::Sender<Result<(Registration, Option<u64>)>>,
}

/// The queue in front of the task that writes verify's changes in batches.
pub(super) struct Batcher {
    queue: mpsc::Sender<Pending>,
}

impl Batcher {
    /// Starts the batch task on the current Tokio runtime; it ends when the batcher is
    /// dropped.
    pub(super) fn start(pool: Pool) -> Self {
        let (queue, incoming) = mpsc::channel(QUEUE);
        tokio::spawn(run(pool, incoming));
        Self { queue }
    }

    /// Writes `row` if its row still has revision `expected`; hands `row` back with the new
    /// revision, or with `None` when another writer changed the row first.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the database cannot be reached or the batch task is gone;
    /// [`Error::Storage`] for any other failure of the batch's statement.
    pub(super) async fn update(
        &self,
        row: Registration,
        expected: u64,
    ) -> Result<(Registration, Option<u64>)> {
        let (reply, answer) = oneshot::channel();
        self.queue.send(Pending { row, expected, reply }).await.map_err(|_| Error::Unavailable)?;
        answer.await.map_err(|_| Error::Unavailable)?
    }
}

async fn run(pool: Pool, mut incoming: mpsc::Receiver<Pending>) {
    // A second write of one registration waits for the next batch, where it finds the
    // revision the first one wrote (one statement cannot tell which of two was applied).
    let mut deferred: VecDeque<Pending> = VecDeque::new();
    loop {
        let mut batch = Vec::new();
        let mut ids = HashSet::new();
        for p in std::mem::take(&mut deferred) {
            take(p, &mut batch, &mut ids, &mut deferred);
        }
        if batch.is_empty() {
            match incoming.recv().await {
                Some(p) => take(p, &mut batch, &mut ids, &mut deferred),
                None => return,
            }
        }
        while batch.len() < MAX_BATCH {
            match incoming.try_recv() {
                Ok(p) => take(p, &mut batch, &mut ids, &mut deferred),
                Err(_) => break,
            }
        }
        write(&pool, batch).await;
    }
}

fn take(
    p: Pending,
    batch: &mut Vec<Pending>,
    ids: &mut HashSet<String>,
    deferred: &mut VecDeque<Pending>,
) {
    if batch.len() < MAX_BATCH && ids.insert(p.row.id.clone()) {
        batch.push(p);
    } else {
        deferred.push_back(p);
    }
}

async fn write(pool: &Pool, batch: Vec<Pending>) {
    let written = async {
        let client = pool.get().await.map_err(pool_error)?;
        let rows: Vec<(&Registration, u64)> = batch.iter().map(|p| (&p.row, p.expected)).collect();
        update_registration_rows(&client, &rows).await.map_err(super::rows::WriteFailed::into_error)
    }
    .await;
    match written {
        Ok(written) => {
            let revs: std::collections::HashMap<String, u64> = written.into_iter().collect();
            for p in batch {
                let rev = revs.get(&p.row.id).copied();
                // A caller that went away (its request was cancelled) needs no answer.
                let _ = p.reply.send(Ok((p.row, rev)));
            }
        }
        Err(e) => {
            for p in batch {
                let _ = p.reply.send(Err(again(&e)));
            }
        }
    }
}

/// The batch's error, for each of its callers.
fn again(e: &Error) -> Error {
    match e {
        Error::Storage(what) => Error::Storage(what.clone()),
        Error::Unavailable => Error::Unavailable,
        other => Error::Storage(other.to_string()),
    }
}
