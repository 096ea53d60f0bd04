//! The database: the SQLite file and its durability, or PostgreSQL when a URL is given.

use std::path::PathBuf;

use clap::Args;
use serde::Deserialize;

use super::defaults::{DEFAULT_DATABASE, DEFAULT_SYNCHRONOUS};
use super::layer::{concern, positive};
use crate::error::{Error, Result};
use crate::storage::postgres::{is_postgres_url, PostgresOptions};
use crate::storage::sqlite::Synchronous;

concern! {
    /// Where the registrations are kept: top-level keys of the file.
    #[derive(Debug, Args, Default, Deserialize)]
    #[serde(default)]
    pub struct DatabaseArgs {
        /// SQLite database file (created if absent) [default: softtoken-server.db].
        #[arg(long, env = "SOFTTOKEN_DATABASE", global = true)]
        pub database: Option<PathBuf>,
        /// PostgreSQL instead of SQLite: `postgres://user@host:port/database?sslmode=require`.
        /// Give a password in SOFTTOKEN_DATABASE_URL or the configuration file, not as a flag (it
        /// would show in `ps`).
        #[arg(long, env = "SOFTTOKEN_DATABASE_URL", global = true, hide_env_values = true)]
        pub database_url: Option<String>,
        /// PEM file of the certificate authorities trusted for TLS to PostgreSQL [default: the
        /// system's roots].
        #[arg(long, env = "SOFTTOKEN_DATABASE_CA_FILE", global = true)]
        pub database_ca_file: Option<PathBuf>,
        /// Apply PostgreSQL schema migrations when the server starts (otherwise run
        /// `softtoken-server migrate` first; SQLite always migrates at open).
        #[arg(long, env = "SOFTTOKEN_MIGRATE_ON_START", global = true)]
        pub migrate_on_start: bool,
    }
}

/// The database's file-only keys of `[limits]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DatabaseLimits {
    pub(super) cache_capacity: Option<usize>,
    pub(super) database_pool_size: Option<usize>,
    pub(super) database_wait_ms: Option<u64>,
}

/// The PostgreSQL settings of the layered database settings and the file's `[limits]`, when
/// `database_url` is set.
///
/// # Errors
/// [`Error::Config`] for a URL that is not `postgres://` or `postgresql://`, or a pool of 0.
pub(super) fn postgres_options(
    database: &DatabaseArgs,
    limits: &DatabaseLimits,
) -> Result<Option<PostgresOptions>> {
    let Some(url) = database.database_url.clone() else {
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
    opts.ca_file = database.database_ca_file.clone();
    if let Some(n) = limits.database_pool_size {
        opts.pool_size =
            usize::try_from(positive(u32::try_from(n).unwrap_or(u32::MAX), "database_pool_size")?)
                .unwrap_or(usize::MAX);
    }
    if let Some(ms) = limits.database_wait_ms {
        opts.wait = std::time::Duration::from_millis(ms.max(1));
    }
    if let Some(n) = limits.cache_capacity {
        opts.cache_capacity = n.max(1);
    }
    Ok(Some(opts))
}

/// The SQLite file of the layered database settings.
pub(super) fn database_path(database: &DatabaseArgs) -> PathBuf {
    database.database.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_DATABASE))
}

/// The SQLite file's commit durability, as layered.
pub(super) fn synchronous(name: Option<&str>) -> Result<Synchronous> {
    match name {
        None => Ok(DEFAULT_SYNCHRONOUS),
        Some(name) => Synchronous::parse(name).ok_or_else(|| {
            Error::Config(format!("synchronous must be \"normal\" or \"full\", not {name:?}"))
        }),
    }
}
