//! Master-key rotation: every sealed activation password, seed and attempt state re-sealed
//! under the current key, while the server serves.
//!
//! The walk goes through registrations, then attempts, in id order, a batch at a time. Each
//! batch is one transaction of conditional writes ([`Storage::reseal`]: a registration only at
//! the revision it was read at, an attempt only while it holds the bytes that were read), so
//! a verify or a confirm that changes a row meanwhile wins, and the row is simply read again
//! on the next pass. Nothing is written that was not first opened and re-sealed, so a
//! rotation killed at any point loses nothing: values already re-sealed are skipped by the
//! next run, which finishes the rest.
//!
//! A rotation has two phases (docs/server.md, "Rotating the master key"): the new key is first
//! deployed to every instance as a previous key, which only opens, and only then made current,
//! so no instance ever meets a value sealed under a key it lacks. [`Bank::check_master_keys`]
//! holds an instance to that at start-up: it refuses a key set that cannot open what the
//! database holds.

use serde::Serialize;

use super::Bank;
use crate::error::{Error, Result};
use crate::sealed::{key_id_of, KeyId, Purpose};
use crate::storage::{Attempt, Registration, Reseal};

/// Where a rotation walk is: which table, and the last id seen.
#[derive(Debug, Clone, Default)]
pub struct RotationCursor {
    attempts: bool,
    after: String,
    done: bool,
}

impl RotationCursor {
    /// Moves past a page whose last id was `last` (`None`: that table is finished).
    fn advance(&mut self, last: Option<String>) {
        match last {
            Some(id) => self.after = id,
            None if self.attempts => self.done = true,
            None => {
                self.attempts = true;
                self.after.clear();
            }
        }
    }

    /// True once the walk has seen every row.
    pub fn done(&self) -> bool {
        self.done
    }
}

/// What one batch found and did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RotationBatch {
    /// Rows read.
    pub rows: u64,
    /// Rows holding a value sealed under an older key.
    pub stale: u64,
    /// Of those, rows re-sealed under the current key (the rest changed meanwhile).
    pub resealed: u64,
}

/// Rows of each table whose sealed values [`Bank::check_master_keys`] looks at when an instance
/// starts: the first in id order. Registration and attempt ids are random, so these are a
/// uniform sample of each table, and a key that sealed even 1 % of the rows is missed with a
/// chance of 0.99^1000 (under 1 in 20,000); the mistakes this is for seal far more than that
/// (a previous key dropped while rows still need it, a backup from before a rotation, every
/// attempt since another instance made a key current). A sample keeps the start a few
/// milliseconds on any database; `rotate-key --check` is the full walk.
pub const KEY_CHECK_SAMPLE: u32 = 1000;

impl Bank {
    /// Checks that this bank's keys open the sealed values of the first `sample` registrations
    /// and attempts: a value naming its key needs that key among the current and previous
    /// ones; a value of the first release (no key id) must open under one of them.
    ///
    /// # Errors
    /// [`Error::Config`] naming each missing key id (or the rows of the first release no key
    /// opens); storage failures.
    pub async fn check_master_keys(&self, sample: u32) -> Result<()> {
        let registrations = self.storage.registrations_after("", sample).await?;
        let attempts = self.storage.sealed_attempts_after("", sample).await?;
        let mut missing: Vec<KeyId> = Vec::new();
        let mut unnamed_unopened = 0u32;
        let mut look = |purpose, row: &[&str], sealed: &[u8]| {
            if sealed.is_empty() {
                return;
            }
            match key_id_of(sealed) {
                Some(id) if !self.sealer.holds(id) && !missing.contains(&id) => missing.push(id),
                Some(_) => {}
                None if self.sealer.open(purpose, row, sealed).is_err() => unnamed_unopened += 1,
                None => {}
            }
        };
        for r in &registrations {
            let row = Self::row(r);
            look(Purpose::ActivationPassword, &row, &r.sealed_password);
            if let Some(seed) = &r.sealed_seed {
                look(Purpose::Seed, &row, seed);
            }
        }
        for a in &attempts {
            if let Some(sealed) = &a.sealed {
                look(Purpose::Attempt, &[a.id.as_str(), a.registration_id.as_str()], sealed);
            }
        }
        if missing.is_empty() && unnamed_unopened == 0 {
            return Ok(());
        }
        let ids: Vec<String> = missing.iter().map(KeyId::to_string).collect();
        let what = if ids.is_empty() {
            format!(
                "{unnamed_unopened} secrets of the first release (which name no key) that none \
                 of the configured master keys opens"
            )
        } else {
            format!("secrets sealed under master key id {}", ids.join(", "))
        };
        Err(Error::Config(format!(
            "refusing to start: the database holds {what}, and that key is neither \
             master_key_file (id {current}) nor in previous_master_key_files. Add the key file to \
             previous_master_key_files; during a rotation, deploy a new key to every instance as \
             a previous key before any instance makes it current (server.md, \"Rotating the \
             master key\")",
            current = self.sealer.current_key(),
        )))
    }

    /// Reads the next `limit` rows after `cursor` and, with `write`, re-seals those that hold
    /// a value under an older key; advances `cursor`.
    ///
    /// # Errors
    /// [`Error::SealedDataInvalid`] when a value opens under none of the configured keys
    /// (the key it was sealed under is missing from `previous_master_key_files`); storage
    /// failures.
    pub async fn rotate_batch(
        &self,
        cursor: &mut RotationCursor,
        limit: u32,
        write: bool,
    ) -> Result<RotationBatch> {
        let limit = limit.max(1);
        let mut batch = RotationBatch::default();
        let (reseals, last) = if cursor.attempts {
            let rows = self.storage.sealed_attempts_after(&cursor.after, limit).await?;
            batch.rows = rows.len() as u64;
            let reseals =
                rows.iter().map(|a| self.reseal_attempt(a)).collect::<Result<Vec<_>>>()?;
            (reseals, rows.last().map(|a| a.id.clone()))
        } else {
            let rows = self.storage.registrations_after(&cursor.after, limit).await?;
            batch.rows = rows.len() as u64;
            let reseals =
                rows.iter().map(|r| self.reseal_registration(r)).collect::<Result<Vec<_>>>()?;
            (reseals, rows.last().map(|r| r.id.clone()))
        };
        cursor.advance(last.filter(|_| batch.rows == u64::from(limit)));
        let reseals: Vec<Reseal> = reseals.into_iter().flatten().collect();
        batch.stale = reseals.len() as u64;
        if write && !reseals.is_empty() {
            batch.resealed = self.storage.reseal(reseals).await?;
        }
        Ok(batch)
    }

    fn reseal_registration(&self, r: &Registration) -> Result<Option<Reseal>> {
        let row = Self::row(r);
        let stale = |v: &[u8]| !v.is_empty() && !self.sealer.is_current(v);
        let seed_stale = r.sealed_seed.as_deref().is_some_and(stale);
        if !stale(&r.sealed_password) && !seed_stale {
            return Ok(None);
        }
        let again = |purpose, sealed: &[u8]| -> Result<Vec<u8>> {
            if sealed.is_empty() || self.sealer.is_current(sealed) {
                return Ok(sealed.to_vec());
            }
            let plain = self.sealer.open(purpose, &row, sealed).map_err(|e| unopened(e, &r.id))?;
            self.sealer.seal(purpose, &row, &plain)
        };
        Ok(Some(Reseal::Registration {
            id: r.id.clone(),
            rev: r.rev,
            sealed_password: again(Purpose::ActivationPassword, &r.sealed_password)?,
            sealed_seed: r.sealed_seed.as_deref().map(|s| again(Purpose::Seed, s)).transpose()?,
        }))
    }

    fn reseal_attempt(&self, a: &Attempt) -> Result<Option<Reseal>> {
        let Some(sealed) = &a.sealed else { return Ok(None) };
        if self.sealer.is_current(sealed) {
            return Ok(None);
        }
        let row = [a.id.as_str(), a.registration_id.as_str()];
        let plain =
            self.sealer.open(Purpose::Attempt, &row, sealed).map_err(|e| unopened(e, &a.id))?;
        Ok(Some(Reseal::Attempt {
            id: a.id.clone(),
            old: sealed.clone(),
            new: self.sealer.seal(Purpose::Attempt, &row, &plain)?,
        }))
    }
}

/// A value no configured key opens: the rotation stops before writing anything of its batch.
fn unopened(e: Error, row: &str) -> Error {
    tracing::error!(event = "rotation_unopened", row, error = %e,
        "a sealed value opens under none of the configured master keys; add the key it was \
         sealed under to previous_master_key_files");
    e
}
