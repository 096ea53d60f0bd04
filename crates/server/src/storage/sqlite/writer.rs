//! The writer thread: the only writing connection, group commit, and the cache it keeps.

use std::path::Path;
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

use super::ops::{key_of, Cache, CacheAction, Key, Op, Pending};
use super::options::Synchronous;
use super::rows::{
    insert_mail, insert_registration_row, is_unique_violation, to_i64, update_registration_row,
};
use super::schema::BUSY_TIMEOUT;
use super::syncer::Syncer;
use crate::error::{Error, Result};
use crate::storage::{
    Attempt, AuditEntry, AuditKey, Change, Inserted, OutboxMail, Registration, RegistrationState,
    Reseal, Updated,
};

/// How long the writer waits for work before it looks after the file (foreign commits, the WAL).
const IDLE: Duration = Duration::from_millis(200);
/// How long emptying the WAL when idle waits for readers: new work must not queue behind it.
const IDLE_CHECKPOINT_WAIT: Duration = Duration::from_millis(20);

pub(super) struct Writer {
    /// With `synchronous = full`: answers wait for it to sync the WAL. First, so that it is
    /// dropped (every answer given) before the connection closes.
    syncer: Option<Syncer>,
    conn: Connection,
    cache: Cache,
    max_batch: usize,
    next_rev: u64,
    data_version: i64,
    /// Something was committed since the WAL was last emptied.
    wal_dirty: bool,
    /// The audit log's chain key; without it no audit entry is written.
    pub(super) audit_key: Option<Arc<AuditKey>>,
}

impl Writer {
    /// The writer of `conn`, which commits at SQLite's `synchronous = NORMAL`; with
    /// `synchronous = full`, its answers wait for a [`Syncer`] of the WAL.
    pub(super) fn new(
        conn: Connection,
        cache: Cache,
        max_batch: usize,
        synchronous: Synchronous,
    ) -> Result<Self> {
        let mut w = Self {
            conn,
            cache,
            max_batch: max_batch.max(1),
            next_rev: 1,
            data_version: 0,
            wal_dirty: true,
            syncer: None,
            audit_key: None,
        };
        // Reading opens (and if need be creates) the WAL file the syncer holds.
        w.resync()?;
        if synchronous == Synchronous::Full {
            let db = w.conn.path().ok_or(Error::Internal("the writer's database has no path"))?;
            w.syncer = Some(Syncer::for_wal(Path::new(&format!("{db}-wal")))?);
        }
        Ok(w)
    }

    /// Re-reads what another process may have changed: the highest revision, and the data
    /// version that tells us next time whether someone else committed.
    fn resync(&mut self) -> Result<()> {
        let max: i64 =
            self.conn
                .query_row("SELECT coalesce(max(rev), 0) FROM registrations", [], |r| r.get(0))?;
        self.next_rev = self.next_rev.max(u64::try_from(max).unwrap_or(0) + 1);
        self.data_version = self.conn.query_row("PRAGMA data_version", [], |r| r.get(0))?;
        Ok(())
    }

    fn check_foreign_commits(&mut self) -> Result<()> {
        let v: i64 = self.conn.query_row("PRAGMA data_version", [], |r| r.get(0))?;
        if v != self.data_version {
            tracing::debug!("another process wrote the database; dropping the registration cache");
            self.cache.clear();
            self.wal_dirty = true;
            self.resync()?;
        }
        Ok(())
    }

    fn take_rev(&mut self, at_least_above: u64) -> u64 {
        let rev = self.next_rev.max(at_least_above.saturating_add(1));
        self.next_rev = rev + 1;
        rev
    }

    pub(super) fn run(&mut self, rx: &std_mpsc::Receiver<Op>) {
        let mut batch = Vec::with_capacity(self.max_batch);
        loop {
            // Idle: look now and then whether the admin CLI changed the file, so cached
            // registrations never stay stale for long, and empty the WAL of what was written.
            let first = match rx.recv_timeout(IDLE) {
                Ok(op) => op,
                Err(std_mpsc::RecvTimeoutError::Timeout) => {
                    if let Err(e) = self.check_foreign_commits() {
                        tracing::error!(event = "storage_error", error = %e, "checking the database");
                    }
                    if self.wal_dirty {
                        self.truncate_wal(IDLE_CHECKPOINT_WAIT);
                    }
                    continue;
                }
                Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
            };
            batch.push(first);
            while batch.len() < self.max_batch {
                match rx.try_recv() {
                    Ok(op) => batch.push(op),
                    Err(_) => break,
                }
            }
            let maintenance = batch.iter().any(|op| matches!(op, Op::ForgetPasswords { .. }));
            let closing = self.process(&mut batch);
            if maintenance || closing {
                self.truncate_wal(BUSY_TIMEOUT);
            }
            if closing {
                return;
            }
        }
    }

    /// Copies the WAL into the database and empties it, so page images holding wiped
    /// passwords and seeds do not outlive a quiet moment, the maintenance tick or the process.
    /// It waits at most `wait` for readers to leave the WAL; if they do not, the WAL stays
    /// marked and the next idle moment tries again.
    fn truncate_wal(&mut self, wait: Duration) {
        let emptied = self
            .conn
            .busy_timeout(wait)
            .and_then(|()| {
                self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get::<_, i64>(0))
            })
            .map(|busy| busy == 0);
        if let Err(e) = self.conn.busy_timeout(BUSY_TIMEOUT) {
            tracing::warn!(event = "storage_warning", error = %e, "restoring the busy timeout");
        }
        match emptied {
            Ok(done) => self.wal_dirty = !done,
            Err(e) => tracing::warn!(event = "storage_warning", error = %e, "emptying the WAL"),
        }
    }

    /// Applies one batch in one transaction. Returns true when asked to close.
    fn process(&mut self, batch: &mut Vec<Op>) -> bool {
        let mut pending = Vec::with_capacity(batch.len());
        let mut cache_actions = Vec::with_capacity(batch.len());
        let mut close = None;
        let begun = match self.syncer.as_ref().and_then(Syncer::failed) {
            Some(e) => Err(e),
            None => self
                .conn
                .execute_batch("BEGIN IMMEDIATE")
                .map_err(Error::from)
                .and_then(|()| self.check_foreign_commits()),
        };
        if let Err(e) = begun {
            tracing::error!(event = "storage_error", error = %e, "starting a write transaction");
            let _ = self.conn.execute_batch("ROLLBACK");
            for op in batch.drain(..) {
                match op {
                    Op::Insert { reply, .. } => {
                        Pending::Insert(reply, Ok(Inserted::ActiveExists)).fail(&e)
                    }
                    Op::Update { reply, .. } => {
                        Pending::Update(reply, Ok(Updated::Conflict)).fail(&e)
                    }
                    Op::InsertAttempt { reply, .. } => Pending::Unit(reply, Ok(())).fail(&e),
                    Op::Purge { reply, .. }
                    | Op::ForgetPasswords { reply, .. }
                    | Op::Reseal { reply, .. }
                    | Op::Bulk { reply, .. }
                    | Op::Confirmation { reply, .. }
                    | Op::AppendAudit { reply, .. } => Pending::Count(reply, Ok(0)).fail(&e),
                    Op::Close { reply } => close = Some(reply),
                }
            }
            if let Some(reply) = close {
                let _ = reply.send(());
                return true;
            }
            return false;
        }
        for op in batch.drain(..) {
            match op {
                Op::Insert { registration, mail, user_id_must_be_new, reply } => {
                    let (result, action) = self.insert(registration, mail, user_id_must_be_new);
                    cache_actions.push(action);
                    pending.push(Pending::Insert(reply, result));
                }
                Op::Update { change, reply } => {
                    let (result, actions) = self.update(*change);
                    cache_actions.extend(actions);
                    pending.push(Pending::Update(reply, result));
                }
                Op::InsertAttempt { attempt, open_cap, reply } => {
                    pending.push(Pending::Unit(reply, self.insert_attempt(&attempt, open_cap)));
                }
                Op::Purge { before, reply } => {
                    let n = self
                        .conn
                        .prepare_cached(
                            "DELETE FROM attempts WHERE expires_at < ?1 AND status <> 'confirmed'",
                        )
                        .and_then(|mut s| s.execute([to_i64(before)]))
                        .map(|n| n as u64)
                        .map_err(Error::from);
                    pending.push(Pending::Count(reply, n));
                }
                Op::ForgetPasswords { now, reply } => {
                    let (n, evict) = self.forget_expired_passwords(now);
                    cache_actions.extend(evict);
                    pending.push(Pending::Count(reply, n));
                }
                Op::Reseal { batch, reply } => {
                    let (n, evict) = self.reseal(&batch);
                    cache_actions.extend(evict);
                    pending.push(Pending::Count(reply, n));
                }
                Op::AppendAudit { entry, reply } => {
                    pending.push(Pending::Count(reply, self.append_audit(&entry)));
                }
                Op::Bulk { registrations, reply } => {
                    // A pair cached with an ended registration now has a newer one.
                    let keys: Vec<Key> = registrations.iter().map(key_of).collect();
                    let written = self.insert_bulk(registrations);
                    if written.is_ok() {
                        cache_actions.extend(keys.into_iter().map(CacheAction::Evict));
                    }
                    pending.push(Pending::Count(reply, written));
                }
                Op::Confirmation { write, audit: None, reply } => {
                    let done = super::confirm::write(&self.conn, &write).map(u64::from);
                    pending.push(Pending::Count(reply, done));
                }
                Op::Confirmation { write, audit: Some(entry), reply } => {
                    // Under a savepoint: the entry fails, the write goes too.
                    let key = self.audit_key.clone();
                    let done = self.savepoint(|conn| {
                        let took = super::confirm::write(conn, &write)?;
                        if took {
                            super::audit::insert(conn, key.as_deref(), &entry)?;
                        }
                        Ok(Some(u64::from(took)))
                    });
                    pending.push(Pending::Count(reply, done.map(Option::unwrap_or_default)));
                }
                Op::Close { reply } => close = Some(reply),
            }
        }
        match self.conn.execute_batch("COMMIT") {
            Ok(()) => {
                self.wal_dirty = true;
                self.apply_cache(cache_actions);
                match &self.syncer {
                    Some(syncer) => syncer.after_sync(pending),
                    None => pending.into_iter().for_each(Pending::answer),
                }
            }
            Err(e) => {
                let e = Error::from(e);
                tracing::error!(event = "storage_error", error = %e, "commit failed");
                let _ = self.conn.execute_batch("ROLLBACK");
                // Nothing of this batch is on disk; forget what the cache may believe.
                self.cache.clear();
                for p in pending {
                    p.fail(&e);
                }
            }
        }
        if let Some(reply) = close {
            let _ = reply.send(());
            return true;
        }
        false
    }

    fn apply_cache(&mut self, actions: Vec<CacheAction>) {
        let cache = &self.cache;
        for action in actions {
            match action {
                CacheAction::Put(r) => {
                    let key = key_of(&r);
                    // An update of an ended registration may be of one that is no longer the
                    // pair's newest: cache it only in place of itself, so it never hides a
                    // newer one that was evicted (the next read goes to the file). Only this
                    // thread writes the cache, so the look and the insert are not split.
                    let older = r.state == RegistrationState::Ended
                        && cache.peek(&key).is_none_or(|c| c.id != r.id);
                    if !older {
                        cache.insert(key, Arc::from(r));
                    }
                }
                CacheAction::Evict(key) => {
                    cache.remove(&key);
                }
                CacheAction::Nothing => {}
            }
        }
    }

    fn savepoint<T>(&self, f: impl FnOnce(&Connection) -> Result<Option<T>>) -> Result<Option<T>> {
        self.conn.execute_batch("SAVEPOINT op")?;
        match f(&self.conn) {
            Ok(Some(v)) => {
                self.conn.execute_batch("RELEASE op")?;
                Ok(Some(v))
            }
            other => {
                self.conn.execute_batch("ROLLBACK TO op; RELEASE op")?;
                other
            }
        }
    }

    fn insert(
        &mut self,
        mut registration: Box<Registration>,
        mail: Option<OutboxMail>,
        user_id_must_be_new: bool,
    ) -> (Result<Inserted>, CacheAction) {
        registration.rev = self.take_rev(0);
        let outcome = self.savepoint(|conn| {
            if user_id_must_be_new {
                let taken: Option<i64> = conn
                    .prepare_cached(
                        "SELECT 1 FROM registrations WHERE service_id = ?1 AND user_id = ?2 LIMIT 1",
                    )?
                    .query_row(
                        [registration.service_id.as_str(), registration.user_id.as_str()],
                        |r| r.get(0),
                    )
                    .optional()?;
                if taken.is_some() {
                    return Ok(Some(Inserted::UserIdTaken));
                }
            }
            match insert_registration_row(conn, &registration) {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => return Ok(Some(Inserted::ActiveExists)),
                Err(e) => return Err(e.into()),
            }
            if let Some(m) = &mail {
                insert_mail(conn, m)?;
            }
            Ok(Some(Inserted::Applied(registration.clone())))
        });
        match outcome {
            // The savepoint keeps refusals: nothing was written for them.
            Ok(Some(Inserted::Applied(r))) => {
                (Ok(Inserted::Applied(r.clone())), CacheAction::Put(r))
            }
            Ok(Some(other)) => (Ok(other), CacheAction::Nothing),
            Ok(None) => (Err(Error::Internal("insert produced no outcome")), CacheAction::Nothing),
            Err(e) => (Err(e), CacheAction::Nothing),
        }
    }

    fn update(&mut self, change: Change) -> (Result<Updated>, Vec<CacheAction>) {
        let Change {
            registration: mut updated,
            attempt,
            wipe_other_attempts,
            insert: mut inserted,
            moved,
        } = change;
        let expected = updated.rev;
        updated.rev = self.take_rev(expected);
        if let Some(new) = inserted.as_mut() {
            new.rev = self.take_rev(updated.rev);
        }
        let mut moved = moved.map(|m| *m).unwrap_or_default();
        let also_expected = moved.also.as_ref().map(|r| r.rev);
        if let Some(also) = moved.also.as_mut() {
            also.rev = self.take_rev(updated.rev.max(also.rev));
        }
        // A move's other registration leaves the cache either way: the next read goes to the file.
        let also_key = moved.also.as_ref().map(key_of);
        let simple = attempt.is_none()
            && !wipe_other_attempts
            && inserted.is_none()
            && moved.also.is_none()
            && moved.writes.is_empty();
        let apply = |conn: &Connection| -> Result<Option<()>> {
            if update_registration_row(conn, &updated, expected)? != 1 {
                return Ok(None);
            }
            if let Some(a) = &attempt {
                let n = conn
                    .prepare_cached(
                        "UPDATE attempts SET status = ?3, \
                         sealed = CASE WHEN ?4 THEN NULL ELSE sealed END \
                         WHERE id = ?1 AND registration_id = ?2 AND status = ?5",
                    )?
                    .execute(params![a.id, updated.id, a.to.as_str(), a.wipe, a.from.as_str()])?;
                if n != 1 {
                    return Ok(None);
                }
                if let Some(m) = &a.notice {
                    insert_mail(conn, m)?;
                }
            }
            if wipe_other_attempts {
                conn.prepare_cached(
                    "UPDATE attempts SET sealed = NULL WHERE registration_id = ?1 AND id IS NOT ?2",
                )?
                .execute(params![updated.id, updated.confirmed_attempt])?;
            }
            if let Some(new) = &inserted {
                match insert_registration_row(conn, new) {
                    Ok(_) => {}
                    Err(e) if is_unique_violation(&e) => return Ok(None),
                    Err(e) => return Err(e.into()),
                }
            }
            if let (Some(also), Some(rev)) = (&moved.also, also_expected) {
                if update_registration_row(conn, also, rev)? != 1 {
                    return Ok(None);
                }
            }
            for write in &moved.writes {
                if !super::moves::write(conn, write)? {
                    return Ok(None);
                }
            }
            Ok(Some(()))
        };
        let outcome = if simple {
            // One statement is atomic by itself; no savepoint needed on the hot path.
            apply(&self.conn)
        } else {
            self.savepoint(apply)
        };
        let mut actions: Vec<CacheAction> = also_key.into_iter().map(CacheAction::Evict).collect();
        let result = match outcome {
            Ok(Some(())) => {
                actions.push(match inserted {
                    Some(new) => CacheAction::Put(Box::new(new)),
                    None => CacheAction::Put(Box::new(updated.clone())),
                });
                Ok(Updated::Applied(Box::new(updated)))
            }
            Ok(None) => {
                actions.push(CacheAction::Evict(key_of(&updated)));
                Ok(Updated::Conflict)
            }
            Err(e) => {
                actions.push(CacheAction::Evict(key_of(&updated)));
                Err(e)
            }
        };
        (result, actions)
    }

    /// Clears the passwords of expired, undelivered registrations with a fresh revision, and
    /// evicts them from the cache so no stale copy writes a password back.
    fn forget_expired_passwords(&mut self, now: u64) -> (Result<u64>, Vec<CacheAction>) {
        let rev = self.take_rev(0);
        let cleared = self
            .conn
            .prepare_cached(
                "UPDATE registrations SET sealed_password = X'', rev = ?2 \
                 WHERE state IN ('issued', 'confirmed') AND expires_at <= ?1 \
                 AND length(sealed_password) > 0 RETURNING service_id, user_id",
            )
            .and_then(|mut s| {
                s.query_map(params![to_i64(now), to_i64(rev)], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })?
                .collect::<rusqlite::Result<Vec<Key>>>()
            });
        match cleared {
            Ok(keys) => (Ok(keys.len() as u64), keys.into_iter().map(CacheAction::Evict).collect()),
            Err(e) => (Err(e.into()), Vec::new()),
        }
    }

    fn append_audit(&self, e: &AuditEntry) -> Result<u64> {
        super::audit::insert(&self.conn, self.audit_key.as_deref(), e)
    }

    /// Writes each re-sealed row whose revision (or sealed attempt) is unchanged, all or
    /// nothing under one savepoint; the registrations written leave the cache.
    fn reseal(&mut self, batch: &[Reseal]) -> (Result<u64>, Vec<CacheAction>) {
        let mut revs = Vec::with_capacity(batch.len());
        for r in batch {
            revs.push(match r {
                Reseal::Registration { rev, .. } => self.take_rev(*rev),
                Reseal::Attempt { .. } => 0,
            });
        }
        let mut evict = Vec::new();
        let outcome = self.savepoint(|conn| {
            let mut written = 0;
            for (r, new_rev) in batch.iter().zip(&revs) {
                match r {
                    Reseal::Registration { id, rev, sealed_password, sealed_seed } => {
                        let key = conn
                            .prepare_cached(
                                "UPDATE registrations SET sealed_password = ?3, \
                                 sealed_seed = ?4, rev = ?5 WHERE id = ?1 AND rev = ?2 \
                                 RETURNING service_id, user_id",
                            )?
                            .query_row(
                                params![
                                    id,
                                    to_i64(*rev),
                                    sealed_password,
                                    sealed_seed,
                                    to_i64(*new_rev)
                                ],
                                |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)),
                            )
                            .optional()?;
                        if let Some(key) = key {
                            evict.push(CacheAction::Evict(key));
                            written += 1;
                        }
                    }
                    Reseal::Attempt { id, old, new } => {
                        written +=
                            conn.prepare_cached(
                                "UPDATE attempts SET sealed = ?3 WHERE id = ?1 AND sealed = ?2",
                            )?
                            .execute(params![id, old, new])? as u64;
                    }
                }
            }
            Ok(Some(written))
        });
        match outcome {
            Ok(n) => (Ok(n.unwrap_or(0)), evict),
            Err(e) => (Err(e), Vec::new()),
        }
    }

    /// Inserts every registration under one savepoint with the one prepared statement; the
    /// batch's commit makes them durable together. Nothing is cached: none is active yet.
    fn insert_bulk(&mut self, mut registrations: Vec<Registration>) -> Result<u64> {
        for r in &mut registrations {
            r.rev = self.take_rev(0);
        }
        let written = self.savepoint(|conn| {
            for r in &registrations {
                insert_registration_row(conn, r)?;
            }
            Ok(Some(registrations.len() as u64))
        })?;
        written.ok_or(Error::Internal("bulk insert produced no outcome"))
    }

    fn insert_attempt(&mut self, a: &Attempt, open_cap: u32) -> Result<()> {
        // Keep the newest `open_cap - 1` pending attempts of the registration, then add this.
        self.conn
            .prepare_cached(
                "DELETE FROM attempts WHERE id IN (SELECT id FROM attempts \
                 WHERE registration_id = ?1 AND status = 'pending' \
                 ORDER BY created_at DESC, rowid DESC LIMIT -1 OFFSET ?2)",
            )?
            .execute(params![a.registration_id, open_cap.saturating_sub(1)])?;
        self.conn
            .prepare_cached(
                "INSERT INTO attempts (id, registration_id, created_at, expires_at, status, sealed) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                a.id,
                a.registration_id,
                to_i64(a.created_at),
                to_i64(a.expires_at),
                a.status.as_str(),
                a.sealed
            ])?;
        Ok(())
    }
}
