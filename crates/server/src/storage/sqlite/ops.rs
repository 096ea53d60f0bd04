//! What the storage handle queues for the writer thread, and what the writer hands on: the
//! answers waiting for their commit (to the syncer with `synchronous = full`) and the cache
//! they fill. A leaf, so that the handle, the writer and the syncer each import it and none
//! of them the others' back.

use std::sync::Arc;

use tokio::sync::oneshot;

use crate::error::{Error, Result};
use crate::storage::{
    Attempt, AuditEntry, Change, ConfirmationWrite, Inserted, OutboxMail, Registration, Reseal,
    Updated,
};

/// The registration cache's key: a (service ID, user ID) pair.
pub(super) type Key = (String, String);
/// Registrations as last committed by this process, filled only by the writer.
pub(super) type Cache = Arc<quick_cache::sync::Cache<Key, Arc<Registration>>>;

/// The cache key of a registration's pair.
pub(super) fn key_of(r: &Registration) -> Key {
    (r.service_id.as_str().to_owned(), r.user_id.as_str().to_owned())
}

/// A write for the writer thread, with where its answer goes.
pub(super) enum Op {
    Insert {
        registration: Box<Registration>,
        mail: Option<OutboxMail>,
        user_id_must_be_new: bool,
        reply: oneshot::Sender<Result<Inserted>>,
    },
    Update {
        change: Box<Change>,
        reply: oneshot::Sender<Result<Updated>>,
    },
    InsertAttempt {
        attempt: Attempt,
        open_cap: u32,
        reply: oneshot::Sender<Result<()>>,
    },
    Purge {
        before: u64,
        reply: oneshot::Sender<Result<u64>>,
    },
    ForgetPasswords {
        now: u64,
        reply: oneshot::Sender<Result<u64>>,
    },
    Reseal {
        batch: Vec<Reseal>,
        reply: oneshot::Sender<Result<u64>>,
    },
    AppendAudit {
        entry: Box<AuditEntry>,
        reply: oneshot::Sender<Result<u64>>,
    },
    Bulk {
        registrations: Vec<Registration>,
        reply: oneshot::Sender<Result<u64>>,
    },
    Confirmation {
        write: Box<ConfirmationWrite>,
        /// Appended with the write when it takes effect.
        audit: Option<Box<AuditEntry>>,
        reply: oneshot::Sender<Result<u64>>,
    },
    Close {
        reply: oneshot::Sender<()>,
    },
}

/// What to do with the cache once the batch is committed.
pub(super) enum CacheAction {
    Put(Box<Registration>),
    Evict(Key),
    Nothing,
}

/// An answer waiting for the commit of its batch.
pub(super) enum Pending {
    Insert(oneshot::Sender<Result<Inserted>>, Result<Inserted>),
    Update(oneshot::Sender<Result<Updated>>, Result<Updated>),
    Unit(oneshot::Sender<Result<()>>, Result<()>),
    Count(oneshot::Sender<Result<u64>>, Result<u64>),
}

impl Pending {
    pub(super) fn fail(self, e: &Error) {
        let err = || Error::Storage(format!("commit failed: {e}"));
        // A caller that gave up (timeout, client gone) no longer listens; that is fine.
        let _ = match self {
            Pending::Insert(tx, _) => tx.send(Err(err())).map_err(drop),
            Pending::Update(tx, _) => tx.send(Err(err())).map_err(drop),
            Pending::Unit(tx, _) => tx.send(Err(err())).map_err(drop),
            Pending::Count(tx, _) => tx.send(Err(err())).map_err(drop),
        };
    }

    pub(super) fn answer(self) {
        let _ = match self {
            Pending::Insert(tx, r) => tx.send(r).map_err(drop),
            Pending::Update(tx, r) => tx.send(r).map_err(drop),
            Pending::Unit(tx, r) => tx.send(r).map_err(drop),
            Pending::Count(tx, r) => tx.send(r).map_err(drop),
        };
    }
}
