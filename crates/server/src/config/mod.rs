//! Configuration: a TOML file, overridden by `SOFTTOKEN_*` environment variables, overridden by
//! command-line flags. Secrets come from files (bearer tokens only from files) or environment
//! variables (master key, demo password), never from flags, so they do not show in `ps`.
//!
//! The layers come from crates: clap reads each flag and its environment variable (flag over
//! environment, the `env =` of each argument), serde and `toml` read the file (unknown keys
//! refused). What is written here is one generic merge, `layer::Layer` (flag or environment,
//! else file), which each concern struct gets by being declared through `layer::concern!`, and
//! one check per concern, where each setting's default is applied. Why not `figment`: clap already owns the flag and
//! environment layers (and their `--help`), so figment would add a second reader of the same
//! `SOFTTOKEN_*` variables that must be kept in step with clap's, plus a key mapping for the
//! file's `[limits]` table, whose keys are flat flags and variables; it would save one `.or()`
//! per setting and none of the checks.
//!
//! One struct per concern holds each setting once, deriving clap's `Args` (flag, variable,
//! help) and serde's `Deserialize` (the file's key): the listen addresses and the proxies in
//! front (`listen.rs`), the database (`database.rs`), the key and token files and demo mode
//! (`secrets.rs`), the bank's names and the limits (`limits.rs`), the output (`args.rs`). The
//! command line flattens them; the file's sections feed them (`file.rs`). A file-only key is a
//! field with `#[arg(skip)]`. What one setting owns in one place beside its field is its default
//! (`defaults.rs`, or `bank::Policy::default`), which a test holds the help text to.
//!
//! One room per concern: the commands (`args.rs`), reading the file (`file.rs`), the defaults
//! (`defaults.rs`), how the layers of a setting combine (`layer.rs`), the limits
//! (`limits.rs`), the listeners and proxies (`listen.rs`), the database (`database.rs`), the
//! secrets (`secrets.rs`). The concern rooms are leaves: each resolves from its own structs, the
//! flags' and the file's, and only this file, which holds the whole command line and file,
//! hands each room its pieces.

mod args;
mod database;
mod defaults;
mod file;
mod layer;
mod limits;
mod listen;
mod secrets;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::PathBuf;

use layer::Layer as _;

use crate::bank::{Demo, Policy};
use crate::error::Result;
use crate::sealed::MasterKey;
use crate::storage::postgres::PostgresOptions;
use crate::storage::sqlite::Synchronous;
use crate::storage::AuditKey;

pub use args::{
    AuditArgs, AuditCommand, BackupArgs, Cli, Command, CommonArgs, ConfirmCommand,
    ConfirmCreateArgs, ConfirmIdArgs, ConfirmOfflineArgs, ConfirmStatusArgs, CredentialAddArgs,
    CredentialCommand, CredentialRevokeArgs, IssueArgs, MoveCancelArgs, MoveCommand, Output,
    PairArgs, ResyncArgs, RotateKeyArgs, ServeArgs, VerifyArgs,
};
pub use database::DatabaseArgs;
pub use defaults::{DEFAULT_ADMIN_BIND, DEFAULT_BIND, DEFAULT_DATABASE, DEFAULT_DEMO_PASSWORD};
pub use file::{file_of, parse_file, read_file, FileConfig};
pub use limits::HttpOptions;
pub use limits::{BankNames, EdgeArgs, PolicyLimits, RequestArgs};
pub use listen::TlsFiles;
pub use listen::{Addresses, Front};
pub use secrets::{DemoArgs, KeyFiles, TokenFiles};

/// Everything resolved, validated and ready.
#[derive(Debug)]
pub struct Settings {
    /// Listen address of the app-facing API.
    pub bind: SocketAddr,
    /// Listen address of the admin API and /metrics.
    pub admin_bind: SocketAddr,
    /// Database file.
    pub database: PathBuf,
    /// Commit durability.
    pub synchronous: Synchronous,
    /// Registrations kept in memory.
    pub cache_capacity: usize,
    /// PostgreSQL instead of the SQLite file, when `database_url` is set.
    pub postgres: Option<PostgresOptions>,
    /// Apply PostgreSQL migrations at start.
    pub migrate_on_start: bool,
    /// The master key.
    pub master_key: MasterKey,
    /// Earlier master keys, to open secrets not yet re-sealed under the current one.
    pub previous_master_keys: Vec<MasterKey>,
    /// The key of `audit_key_file`, when given.
    pub audit_key_file_key: Option<MasterKey>,
    /// Outbox directory.
    pub outbox_dir: Option<PathBuf>,
    /// Limits and token parameters.
    pub policy: Policy,
    /// HTTP settings (admin token, rate limits, body limit, proxy trust).
    pub http: HttpOptions,
    /// HTTPS, when configured.
    pub tls: Option<TlsFiles>,
    /// The demo registration, in demo mode.
    pub demo: Option<Demo>,
    /// JSON logs.
    pub log_json: bool,
    /// Log filter.
    pub log: String,
}

impl Settings {
    /// The key this process chains audit entries under: `audit_key_file`'s, else the master
    /// key's.
    pub fn audit_key(&self) -> AuditKey {
        AuditKey::of(self.audit_key_file_key.as_ref().unwrap_or(&self.master_key))
    }

    /// Every key an entry of this bank's log may be chained under: the audit key file's and
    /// the current and previous master keys' (a log begun before the audit key file, or
    /// across a master-key rotation).
    pub fn audit_keys(&self) -> Vec<AuditKey> {
        let file = self.audit_key_file_key.iter();
        file.chain([&self.master_key]).chain(&self.previous_master_keys).map(AuditKey::of).collect()
    }
}

/// The PostgreSQL settings of file, environment and flags, when `database_url` is set.
///
/// # Errors
/// [`Error::Config`](crate::Error::Config) for a URL that is not `postgres://` or
/// `postgresql://`, or a pool of 0.
pub fn postgres_options(common: &CommonArgs, file: &FileConfig) -> Result<Option<PostgresOptions>> {
    database::postgres_options(&common.database.over(&file.database), &file.limits.database)
}

/// The SQLite file of file, environment and flags.
pub fn database_path(common: &CommonArgs, file: &FileConfig) -> PathBuf {
    database::database_path(&common.database.over(&file.database))
}

/// Merges file, environment and flags for `serve` (with `serve`) or the admin commands.
///
/// # Errors
/// [`Error::Config`](crate::Error::Config) for a missing master key, a bad key or token, TLS
/// half-configured, plain HTTP on a non-loopback address without `--behind-tls-proxy`, or
/// limits of 0.
pub fn resolve(common: &CommonArgs, serve: Option<&ServeArgs>) -> Result<Settings> {
    resolve_with(common, serve, file_of(common)?, secrets::read_secrets)
}

/// The text of a configuration file through every check of `serve` with no flag or
/// environment variable set; the secrets are a fixed key and no tokens, since a fuzzed file's
/// paths must not be opened. For the fuzz target only.
///
/// # Errors
/// As [`resolve`].
#[cfg(feature = "fuzzing")]
pub(crate) fn resolve_text(text: &str) -> Result<Settings> {
    let file = parse_file(text).map_err(|e| crate::Error::Config(e.to_string()))?;
    let serve = ServeArgs::default();
    resolve_with(&CommonArgs::default(), Some(&serve), file, secrets::fixed_secrets)
}

/// [`resolve`] with the file already read and the secrets from `read_secrets`. The checks run in
/// this order, so that a file with several mistakes is always refused for the same one.
fn resolve_with(
    common: &CommonArgs,
    serve: Option<&ServeArgs>,
    file: FileConfig,
    read_secrets: secrets::SecretSource,
) -> Result<Settings> {
    let default_serve = ServeArgs::default();
    let serve_args = serve.unwrap_or(&default_serve);
    let lim = &file.limits;
    // Each concern's flags (over their environment variables) over the file's, merged once.
    let db = common.database.over(&file.database);
    let keys = common.keys.over(&file.keys);
    let output = common.output.over(&file.output);
    let names = common.names.over(&file.names);
    let policy_limits = common.policy.over(&lim.policy);
    let addresses = serve_args.addresses.over(&file.addresses);
    let tokens = serve_args.tokens.over(&file.tokens);
    let front = serve_args.front.over(&file.front);
    let demo_args = serve_args.demo.over(&file.demo);
    let requests = serve_args.requests.over(&lim.requests);
    let edge = serve_args.edge.over(&lim.edge);

    let database = database::database_path(&db);
    let demo_on = serve.is_some() && demo_args.demo;

    let mut policy = limits::policy(&policy_limits, &names)?;
    let requests = limits::request_limits(&requests, &policy_limits, &mut policy)?;
    let edge = limits::edge_limits(&edge)?;
    let listeners = listen::listeners(&addresses, &front, serve.is_some(), demo_on)?;
    let demo = if demo_on { Some(secrets::demo(&demo_args)?) } else { None };
    let synchronous = database::synchronous(output.synchronous.as_deref())?;

    let secrets::Secrets {
        master_key,
        previous_master_keys,
        audit_key,
        admin_token,
        verify_token,
        confirm_token,
    } = read_secrets(&keys, &tokens, demo_on, &database)?;

    Ok(Settings {
        bind: listeners.bind,
        admin_bind: listeners.admin_bind,
        database,
        synchronous,
        cache_capacity: lim
            .database
            .cache_capacity
            .unwrap_or(crate::storage::sqlite::DEFAULT_CACHE_CAPACITY)
            .max(1),
        postgres: database::postgres_options(&db, &lim.database)?,
        migrate_on_start: db.migrate_on_start,
        master_key,
        previous_master_keys,
        audit_key_file_key: audit_key,
        outbox_dir: output.outbox_dir,
        policy,
        http: HttpOptions {
            admin_token,
            verify_token,
            confirm_token,
            rate_limits: requests.rate_limits,
            start_limits: requests.start_limits,
            trusted_proxies: listeners.trusted_proxies,
            body_limit: requests.body_limit,
            edge,
            ..HttpOptions::default()
        },
        tls: listeners.tls,
        demo,
        log_json: output.log_json,
        log: output.log.unwrap_or_else(|| defaults::DEFAULT_LOG.into()),
    })
}
