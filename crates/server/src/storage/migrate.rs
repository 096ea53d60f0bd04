//! One migration runner for both backends: each dialect's ordered list of steps, applied in
//! one transaction, the count of applied steps recorded as that backend always recorded it.
//!
//! A [`Ledger`] is one backend's open transaction and its record of the schema version:
//! SQLite's `PRAGMA user_version` (the number of steps applied), PostgreSQL's
//! `softtoken_schema` table (one row per step applied, the version its highest). Those records
//! are in every bank's database already, so they stay exactly as they were.
//!
//! The two lists count differently, and keep doing so: SQLite's steps are 1 the tables,
//! 2 `drift_steps`, 3 the audit log, 4 the confirmations, 5 the credentials; PostgreSQL's one
//! fewer (1 the tables with `drift_steps`, 2 the audit log, 3 the confirmations, 4 the
//! credentials), because the PostgreSQL backend shipped after drift tracking and its first
//! step already had the column. A version is a count of one dialect's own steps and is never
//! compared across dialects; renumbering either list (or giving PostgreSQL a no-op step)
//! would make databases written today read as a version they are not. A new step is appended
//! to each list, taking whatever number comes next there.

use async_trait::async_trait;

use crate::error::{Error, Result};

/// A backend's open migration transaction and its record of the applied steps.
#[async_trait]
pub(in crate::storage) trait Ledger: Send {
    /// How many steps of the list the database has applied.
    ///
    /// # Errors
    /// [`Error::Storage`] when the database fails.
    async fn applied(&mut self) -> Result<usize>;

    /// Runs `step` and records that the first `version` steps are applied.
    ///
    /// # Errors
    /// [`Error::Storage`] when the database refuses the step; the caller rolls back.
    async fn apply(&mut self, step: &str, version: usize) -> Result<()>;
}

/// Applies the steps of `steps` that the database has not applied, in order.
///
/// # Errors
/// [`Error::Storage`] when the database fails or its schema is newer than `steps`.
pub(in crate::storage) async fn migrate(ledger: &mut impl Ledger, steps: &[&str]) -> Result<()> {
    let done = ledger.applied().await?;
    refuse_newer(done, steps)?;
    for (i, step) in steps.iter().enumerate().skip(done) {
        ledger.apply(step, i + 1).await?;
        tracing::info!(event = "migration_applied", version = i + 1, "database schema migrated");
    }
    Ok(())
}

/// Refuses a database that has applied steps this server does not know.
///
/// # Errors
/// [`Error::Storage`] naming both versions.
pub(in crate::storage) fn refuse_newer(applied: usize, steps: &[&str]) -> Result<()> {
    if applied > steps.len() {
        return Err(Error::Storage(format!(
            "the database has schema version {applied}, newer than this server ({}); \
             run a newer softtoken-server",
            steps.len()
        )));
    }
    Ok(())
}

/// Runs a future that never waits to its end: a [`Ledger`] of a synchronous driver (SQLite's)
/// does all its work when polled, so migrating with it needs no runtime.
///
/// # Errors
/// [`Error::Internal`] if the future did wait after all.
pub(in crate::storage) fn without_waiting<T>(
    f: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => Err(Error::Internal("a synchronous migration waited")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[derive(Default)]
    struct Recorded {
        version: usize,
        ran: Vec<String>,
    }

    #[async_trait]
    impl Ledger for Recorded {
        async fn applied(&mut self) -> Result<usize> {
            Ok(self.version)
        }

        async fn apply(&mut self, step: &str, version: usize) -> Result<()> {
            self.ran.push(step.to_owned());
            self.version = version;
            Ok(())
        }
    }

    #[test]
    fn a_database_gets_only_the_steps_it_lacks_and_a_newer_one_is_refused() {
        let mut db = Recorded { version: 1, ran: Vec::new() };
        without_waiting(migrate(&mut db, &["one", "two", "three"])).unwrap();
        assert_eq!((db.version, db.ran), (3, vec!["two".to_owned(), "three".to_owned()]));
        let mut newer = Recorded { version: 4, ..Recorded::default() };
        let err = without_waiting(migrate(&mut newer, &["one"])).unwrap_err();
        assert!(err.to_string().contains("newer than this server (1)"), "{err}");
        assert!(newer.ran.is_empty());
    }
}
