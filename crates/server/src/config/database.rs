//! The database: the SQLite file and its durability, or PostgreSQL when a URL is given.

use std::path::PathBuf;

use super::args::CommonArgs;
use super::defaults::{DEFAULT_DATABASE, DEFAULT_SYNCHRONOUS};
use super::file::FileConfig;
use super::layer::layered;
use super::limits::positive;
use crate::error::{Error, Result};
use crate::storage::postgres::{is_postgres_url, PostgresOptions};
use crate::storage::sqlite::Synchronous;

/// The PostgreSQL settings of file, environment and flags, when `database_url` is set.
///
/// # Errors
/// [`Error::Config`] for a URL that is not `postgres://` or `postgresql://`, or a pool of 0.
pub fn postgres_options(common: &CommonArgs, file: &FileConfig) -> Result<Option<PostgresOptions>> {
    let Some(url) = common.database_url.clone().or(file.database_url.clone()) else {
        return Ok(None);
    };
    if !is_postgres_url(&url) {
        return Err(Error::Config(
            "database_url must start with postgres:// or postgresql:// (a SQLite file is given \
             with database = \"path\")"
                .into(),
        ));
    }
    let mut opts = PostgresOptions::new(url);
    opts.ca_file = common.database_ca_file.clone().or(file.database_ca_file.clone());
    if let Some(n) = file.limits.database_pool_size {
        opts.pool_size =
            usize::try_from(positive(u32::try_from(n).unwrap_or(u32::MAX), "database_pool_size")?)
                .unwrap_or(usize::MAX);
    }
    if let Some(ms) = file.limits.database_wait_ms {
        opts.wait = std::time::Duration::from_millis(ms.max(1));
    }
    if let Some(n) = file.limits.cache_capacity {
        opts.cache_capacity = n.max(1);
    }
    Ok(Some(opts))
}

/// The SQLite file of file, environment and flags.
pub fn database_path(common: &CommonArgs, file: &FileConfig) -> PathBuf {
    layered(common.database.clone(), file.database.clone(), PathBuf::from(DEFAULT_DATABASE))
}

/// The SQLite file's commit durability of file, environment and flags.
pub(super) fn synchronous(common: &CommonArgs, file: &FileConfig) -> Result<Synchronous> {
    match common.synchronous.as_deref().or(file.synchronous.as_deref()) {
        None => Ok(DEFAULT_SYNCHRONOUS),
        Some(name) => Synchronous::parse(name).ok_or_else(|| {
            Error::Config(format!("synchronous must be \"normal\" or \"full\", not {name:?}"))
        }),
    }
}
