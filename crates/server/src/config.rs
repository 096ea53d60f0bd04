//! Configuration: a TOML file, overridden by `SOFTTOKEN_*` environment variables, overridden by
//! command-line flags. Secrets (master key, admin token, demo password) come from files or
//! environment variables, never from flags, so they do not show in `ps`.
//!
//! The layers come from crates: clap reads each flag and its environment variable (flag over
//! environment, the `env =` of each argument), serde and `toml` read the file (unknown keys
//! refused). What is written here is `flag_or_env.or(file).unwrap_or(default)` per setting and
//! the checks after it. Why not `figment`: clap already owns the flag and environment layers
//! (and their `--help`), so figment would add a second reader of the same `SOFTTOKEN_*`
//! variables that must be kept in step with clap's, plus a key mapping for the file's
//! `[limits]` table, whose keys are flat flags and variables; it would save one `.or()` per
//! setting and none of the checks.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use ipnet::IpNet;
use serde::Deserialize;
use softtoken_core::ids::ActivationPassword;
use softtoken_core::totp::TotpParams;
use zeroize::Zeroizing;

use crate::bank::{Demo, Policy};
use crate::credential::AdminToken;
use crate::edge::EdgeLimits;
use crate::error::{Error, Result};
use crate::ratelimit::RateLimits;
use crate::sealed::MasterKey;
use crate::storage::postgres::{is_postgres_url, PostgresOptions};
use crate::storage::sqlite::Synchronous;

/// HTTP-level settings.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// The admin credential; `None` disables the admin API.
    pub admin_token: Option<AdminToken>,
    /// The web tier's credential: `/v1/admin/verify` only.
    pub verify_token: Option<AdminToken>,
    /// How many wrong bearers an address (and everyone) may present on the admin listener.
    pub bearer_limits: RateLimits,
    /// How many provisioning starts an address may make, right or wrong: each costs the bank
    /// a SPAKE2 computation and a stored attempt.
    pub start_limits: RateLimits,
    /// Failure rate limits of provisioning.
    pub rate_limits: RateLimits,
    /// Networks of the proxies whose `X-Forwarded-For` is believed. Empty: the header is
    /// ignored and the socket peer is the client.
    pub trusted_proxies: Vec<IpNet>,
    /// Largest accepted body, in bytes.
    pub body_limit: usize,
    /// Timeouts and connection caps of the listener.
    pub edge: EdgeLimits,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            admin_token: None,
            verify_token: None,
            bearer_limits: RateLimits {
                per_address_burst: 10,
                per_address_per_minute: 5,
                total_burst: 100,
                total_per_minute: 60,
            },
            rate_limits: RateLimits::default(),
            start_limits: RateLimits {
                per_address_burst: 20,
                per_address_per_minute: 10,
                total_burst: 100_000,
                total_per_minute: 100_000,
            },
            trusted_proxies: Vec::new(),
            body_limit: 16 * 1024,
            edge: EdgeLimits::default(),
        }
    }
}

/// The demo registration's activation password when none is configured: fixed, so the README,
/// a kiosk's card and every run of the demo agree; and not a weak one (no repeat, sequence,
/// common PIN or year) so that it passes the bank's own rules for customers.
pub const DEFAULT_DEMO_PASSWORD: &str = "3718";
/// The SQLite file when none is configured.
pub const DEFAULT_DATABASE: &str = "softtoken-server.db";
/// Where the server listens by default (plain HTTP, so loopback only).
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
/// Where the admin API listens by default: this host only.
pub const DEFAULT_ADMIN_BIND: &str = "127.0.0.1:8081";

/// softtoken-server: the bank side of softtoken.
#[derive(Debug, Parser)]
#[command(name = "softtoken-server", version, about, long_about = None)]
pub struct Cli {
    /// Settings shared by every command.
    #[command(flatten)]
    pub common: CommonArgs,
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Settings shared by every command.
#[derive(Debug, Args, Default)]
pub struct CommonArgs {
    /// TOML configuration file.
    #[arg(long, short = 'c', env = "SOFTTOKEN_CONFIG", global = true)]
    pub config: Option<PathBuf>,
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
    /// File holding the 32-byte master key (64 hex digits or base64). The key itself may
    /// instead be given in SOFTTOKEN_MASTER_KEY.
    #[arg(long, env = "SOFTTOKEN_MASTER_KEY_FILE", global = true)]
    pub master_key_file: Option<PathBuf>,
    /// Key files of earlier master keys, still needed to open secrets not yet re-sealed under
    /// the current key (during a key rotation; see `rotate-key`). Repeat the flag, or separate
    /// the files with commas in the environment variable.
    #[arg(
        long = "previous-master-key-file",
        env = "SOFTTOKEN_PREVIOUS_MASTER_KEY_FILES",
        global = true,
        value_delimiter = ','
    )]
    pub previous_master_key_files: Vec<PathBuf>,
    /// Directory where step-6 mails are written as files (they always go to the outbox table).
    #[arg(long, env = "SOFTTOKEN_OUTBOX_DIR", global = true)]
    pub outbox_dir: Option<PathBuf>,
    /// Durability of each commit [default: full].
    #[arg(long, env = "SOFTTOKEN_SYNCHRONOUS", global = true,
          value_parser = clap::builder::PossibleValuesParser::new(Synchronous::NAMES))]
    pub synchronous: Option<String>,
    /// Log as JSON lines.
    #[arg(long, env = "SOFTTOKEN_LOG_JSON", global = true)]
    pub log_json: bool,
    /// Log filter (tracing EnvFilter syntax; RUST_LOG wins) [default: info].
    #[arg(long, env = "SOFTTOKEN_LOG", global = true)]
    pub log: Option<String>,
    /// The bank's name sent to the app.
    #[arg(long, env = "SOFTTOKEN_ISSUER", global = true)]
    pub issuer: Option<String>,
    /// The token's default display name sent to the app.
    #[arg(long, env = "SOFTTOKEN_DISPLAY_NAME", global = true)]
    pub display_name: Option<String>,
    /// The app's download URL, written in the step-6 mail.
    #[arg(long, env = "SOFTTOKEN_DOWNLOAD_URL", global = true)]
    pub download_url: Option<String>,
    /// Wrong activation passwords before a registration is locked [default: 5].
    #[arg(long, env = "SOFTTOKEN_PROVISION_MAX_TRIES", global = true)]
    pub provision_max_tries: Option<u32>,
    /// Consecutive wrong codes before a token is locked [default: 10].
    #[arg(long, env = "SOFTTOKEN_VERIFY_MAX_FAILURES", global = true)]
    pub verify_max_failures: Option<u32>,
    /// Seconds after the end of use before the same user may be issued again [default: 86400].
    #[arg(long, env = "SOFTTOKEN_REISSUE_WAIT_SECS", global = true)]
    pub reissue_wait_secs: Option<u64>,
    /// Days a new registration may be fetched by the app [default: 7].
    #[arg(long, env = "SOFTTOKEN_EXPIRY_DAYS", global = true)]
    pub expiry_days: Option<u32>,
    /// Seconds a provisioning attempt waits for its confirm [default: 300].
    #[arg(long, env = "SOFTTOKEN_ATTEMPT_TTL_SECS", global = true)]
    pub attempt_ttl_secs: Option<u64>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (the default).
    Serve(Box<ServeArgs>),
    /// Issue a registration (steps 3–5). Reads the activation password from standard input
    /// and writes the step-6 mail to the outbox.
    Issue(IssueArgs),
    /// Show a registration's status (step 1).
    Status(PairArgs),
    /// End the use of a registration (利用終了): its codes stop at once.
    Revoke(PairArgs),
    /// Clear the locks and failure counters of a registration.
    Unlock(PairArgs),
    /// Check a one-time code, as the bank web does.
    Verify(VerifyArgs),
    /// Resync a token's clock from two consecutive codes the customer reads off the app.
    Resync(ResyncArgs),
    /// Print a fresh random master key (64 hex digits) for a key file.
    GenKey,
    /// Apply the database's schema migrations and exit (needs no master key).
    Migrate,
    /// Re-seal every stored secret under the current master key (`master_key_file`), opening
    /// what older keys sealed with `previous_master_key_files`. Safe while the server runs,
    /// and to run again after an interruption.
    RotateKey(RotateKeyArgs),
    /// Print the audit log of admin actions, newest first, one JSON object per line.
    Audit(AuditArgs),
    /// Copy the SQLite database to a new file (0600), consistent while the server writes; needs
    /// no master key. PostgreSQL is backed up with its own tools (see docs/server.md).
    Backup(BackupArgs),
}

/// `audit` flags.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Entries to print (1 to 1000).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: u32,
    /// Only entries older than this id (the last id of the previous page).
    #[arg(long)]
    pub before_id: Option<u64>,
    /// Only this service ID's entries.
    #[arg(long)]
    pub service_id: Option<String>,
    /// Only this user ID's entries.
    #[arg(long)]
    pub user_id: Option<String>,
}

/// `backup` flags.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The copy to write; it must not exist yet.
    #[arg(long)]
    pub to: PathBuf,
}

/// `rotate-key` flags.
#[derive(Debug, Args)]
pub struct RotateKeyArgs {
    /// Rows read and re-sealed per transaction.
    #[arg(long, default_value_t = 500)]
    pub batch_size: u32,
    /// Only count the rows still holding a secret under an older key; write nothing. Exits
    /// with failure while any remain.
    #[arg(long)]
    pub check: bool,
}

/// `serve` flags.
#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "SOFTTOKEN_BIND")]
    pub bind: Option<SocketAddr>,
    /// Address of the admin API and /metrics, for the bank's own network only
    /// [default: 127.0.0.1:8081].
    #[arg(long, env = "SOFTTOKEN_ADMIN_BIND")]
    pub admin_bind: Option<SocketAddr>,
    /// File holding the admin bearer token (or give the token in SOFTTOKEN_ADMIN_TOKEN).
    #[arg(long, env = "SOFTTOKEN_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// File holding the web tier's verify-only bearer token (or give the token in
    /// SOFTTOKEN_VERIFY_TOKEN): /v1/admin/verify and nothing else.
    #[arg(long, env = "SOFTTOKEN_VERIFY_TOKEN_FILE")]
    pub verify_token_file: Option<PathBuf>,
    /// TLS certificate chain (PEM); serves HTTPS with rustls.
    #[arg(long, env = "SOFTTOKEN_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, env = "SOFTTOKEN_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP on a non-loopback address because a TLS-terminating proxy is in front;
    /// the client address is then taken from the proxy's X-Forwarded-For.
    #[arg(long, env = "SOFTTOKEN_BEHIND_TLS_PROXY")]
    pub behind_tls_proxy: bool,
    /// Networks (CIDRs, comma-separated) of the proxies whose X-Forwarded-For is believed
    /// [default: none; with --behind-tls-proxy, loopback: 127.0.0.0/8,::1/128].
    #[arg(long, env = "SOFTTOKEN_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,
    /// Demo mode: keep the demo registration (service ID 10112231, user ID 999800000001)
    /// armed. Its activation password is SOFTTOKEN_DEMO_ACTIVATION_PASSWORD [default: 3718].
    #[arg(long, env = "SOFTTOKEN_DEMO")]
    pub demo: bool,
    /// Failed provisioning requests one address may make in a burst [default: 10].
    #[arg(long, env = "SOFTTOKEN_RATE_PER_ADDRESS_BURST")]
    pub rate_per_address_burst: Option<u32>,
    /// Failed provisioning requests one address regains per minute [default: 5].
    #[arg(long, env = "SOFTTOKEN_RATE_PER_ADDRESS_PER_MINUTE")]
    pub rate_per_address_per_minute: Option<u32>,
    /// Failed provisioning requests all callers together may make in a burst [default: 300].
    #[arg(long, env = "SOFTTOKEN_RATE_TOTAL_BURST")]
    pub rate_total_burst: Option<u32>,
    /// Failed provisioning requests all callers together regain per minute [default: 300].
    #[arg(long, env = "SOFTTOKEN_RATE_TOTAL_PER_MINUTE")]
    pub rate_total_per_minute: Option<u32>,
    /// Provisioning starts (right or wrong) one address may make in a burst [default: 20].
    #[arg(long, env = "SOFTTOKEN_RATE_STARTS_PER_ADDRESS_BURST")]
    pub rate_starts_per_address_burst: Option<u32>,
    /// Provisioning starts one address regains per minute [default: 10].
    #[arg(long, env = "SOFTTOKEN_RATE_STARTS_PER_ADDRESS_PER_MINUTE")]
    pub rate_starts_per_address_per_minute: Option<u32>,
    /// Largest request body in bytes [default: 16384].
    #[arg(long, env = "SOFTTOKEN_BODY_LIMIT")]
    pub body_limit: Option<usize>,
    /// Seconds for a TLS handshake and for a request's whole header, also the longest idle
    /// wait between requests on one connection [default: 10].
    #[arg(long, env = "SOFTTOKEN_HEADER_READ_TIMEOUT_SECS")]
    pub header_read_timeout_secs: Option<u64>,
    /// Seconds to read a request's body and answer it [default: 30].
    #[arg(long, env = "SOFTTOKEN_REQUEST_TIMEOUT_SECS")]
    pub request_timeout_secs: Option<u64>,
    /// Connections held at once; keep it below the process's open-file limit [default: 900].
    #[arg(long, env = "SOFTTOKEN_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Connections held at once from one address, trusted proxies excepted [default: 32].
    #[arg(long, env = "SOFTTOKEN_MAX_CONNECTIONS_PER_ADDRESS")]
    pub max_connections_per_address: Option<usize>,
}

/// `issue` flags.
#[derive(Debug, Args)]
pub struct IssueArgs {
    /// The bank's service ID (8 digits).
    #[arg(long)]
    pub service_id: String,
    /// The customer's user ID (12 digits); a random unused one if absent.
    #[arg(long)]
    pub user_id: Option<String>,
    /// The customer's mail address.
    #[arg(long)]
    pub mail: String,
    /// Days the app may fetch the token [default: the configured expiry].
    #[arg(long)]
    pub expires_in_days: Option<u32>,
}

/// A registration's service ID and user ID.
#[derive(Debug, Args)]
pub struct PairArgs {
    /// The bank's service ID (8 digits).
    #[arg(long)]
    pub service_id: String,
    /// The customer's user ID (12 digits).
    #[arg(long)]
    pub user_id: String,
}

/// `verify` flags.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The registration.
    #[command(flatten)]
    pub pair: PairArgs,
    /// The one-time code the customer typed.
    #[arg(long)]
    pub code: String,
}

/// `resync` flags.
#[derive(Debug, Args)]
pub struct ResyncArgs {
    /// The registration.
    #[command(flatten)]
    pub pair: PairArgs,
    /// A code the app shows.
    #[arg(long)]
    pub code1: String,
    /// The next code the app shows after it.
    #[arg(long)]
    pub code2: String,
}

/// The TOML file. Every key is optional; unknown keys are refused so a typo is noticed.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    bind: Option<SocketAddr>,
    admin_bind: Option<SocketAddr>,
    database: Option<PathBuf>,
    database_url: Option<String>,
    database_ca_file: Option<PathBuf>,
    migrate_on_start: Option<bool>,
    synchronous: Option<String>,
    master_key_file: Option<PathBuf>,
    previous_master_key_files: Option<Vec<PathBuf>>,
    admin_token_file: Option<PathBuf>,
    verify_token_file: Option<PathBuf>,
    outbox_dir: Option<PathBuf>,
    download_url: Option<String>,
    issuer: Option<String>,
    display_name: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    behind_tls_proxy: Option<bool>,
    trusted_proxies: Option<Vec<String>>,
    demo: Option<bool>,
    demo_activation_password: Option<String>,
    log_json: Option<bool>,
    log: Option<String>,
    #[serde(default)]
    limits: FileLimits,
}

/// `[limits]` in the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLimits {
    provision_max_tries: Option<u32>,
    verify_max_failures: Option<u32>,
    reissue_wait_secs: Option<u64>,
    expiry_days: Option<u32>,
    attempt_ttl_secs: Option<u64>,
    body_limit: Option<usize>,
    cache_capacity: Option<usize>,
    database_pool_size: Option<usize>,
    database_wait_ms: Option<u64>,
    rate_per_address_burst: Option<u32>,
    rate_per_address_per_minute: Option<u32>,
    rate_total_burst: Option<u32>,
    rate_total_per_minute: Option<u32>,
    header_read_timeout_secs: Option<u64>,
    request_timeout_secs: Option<u64>,
    max_connections: Option<usize>,
    max_connections_per_address: Option<usize>,
    rate_starts_per_address_burst: Option<u32>,
    rate_starts_per_address_per_minute: Option<u32>,
    max_open_attempts: Option<u32>,
}

/// TLS certificate and key files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain, PEM.
    pub cert: PathBuf,
    /// Private key, PEM.
    pub key: PathBuf,
}

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

impl std::fmt::Debug for Demo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Demo { password: <redacted> }")
    }
}

fn env_secret(name: &str) -> Option<Zeroizing<String>> {
    std::env::var(name).ok().map(Zeroizing::new).filter(|s| !s.trim().is_empty())
}

fn read_secret_file(path: &Path, what: &str) -> Result<Zeroizing<String>> {
    crate::files::read_secret(path, what)
}

/// Reads the TOML file.
///
/// # Errors
/// [`Error::Config`] when it cannot be read or parsed (with the line of the mistake).
pub fn read_file(path: &Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
    parse_file(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
}

/// The TOML text of a configuration file (unknown keys refused).
///
/// # Errors
/// The parser's message, with the line of the mistake.
pub fn parse_file(text: &str) -> std::result::Result<FileConfig, toml::de::Error> {
    toml::from_str(text)
}

/// A count from the flag (or environment), else the file, else `default`; at least 1.
fn setting(flag: Option<u32>, file: Option<u32>, default: u32, what: &str) -> Result<u32> {
    positive(flag.or(file).unwrap_or(default), what)
}

fn positive(v: u32, what: &str) -> Result<u32> {
    if v == 0 {
        return Err(Error::Config(format!("{what} must be at least 1")));
    }
    Ok(v)
}

/// The master key and the bearer tokens from the environment or their files; in demo mode a
/// missing key file is made.
fn read_secrets(
    common: &CommonArgs,
    serve_args: &ServeArgs,
    file: &FileConfig,
    demo_on: bool,
    database: &Path,
) -> Result<Secrets> {
    let master_key = if let Some(text) = env_secret("SOFTTOKEN_MASTER_KEY") {
        MasterKey::parse(&text)?
    } else if let Some(path) = common.master_key_file.clone().or(file.master_key_file.clone()) {
        if demo_on && !path.exists() {
            create_demo_key(&path)?;
        }
        MasterKey::from_file(&path)?
    } else if demo_on {
        // A kiosk should start with one command; its key lives beside its database.
        let path = PathBuf::from(format!("{}.key", database.display()));
        if !path.exists() {
            create_demo_key(&path)?;
        }
        MasterKey::from_file(&path)?
    } else {
        return Err(Error::Config(
            "no master key: set SOFTTOKEN_MASTER_KEY or --master-key-file \
             (make one with `softtoken-server gen-key > master.key`)"
                .into(),
        ));
    };

    let previous_files = if common.previous_master_key_files.is_empty() {
        file.previous_master_key_files.clone().unwrap_or_default()
    } else {
        common.previous_master_key_files.clone()
    };
    let mut previous_master_keys = Vec::with_capacity(previous_files.len());
    for path in &previous_files {
        let key = MasterKey::from_file(path)?;
        if key.id() == master_key.id() {
            return Err(Error::Config(format!(
                "the previous master key file {} holds the current master key; list only \
                 earlier keys there",
                path.display()
            )));
        }
        previous_master_keys.push(key);
    }

    let admin_token = if let Some(t) = env_secret("SOFTTOKEN_ADMIN_TOKEN") {
        Some(AdminToken::new(&t)?)
    } else if let Some(path) = serve_args.admin_token_file.clone().or(file.admin_token_file.clone())
    {
        Some(AdminToken::new(&read_secret_file(&path, "admin token")?)?)
    } else {
        None
    };

    let verify_token = if let Some(t) = env_secret("SOFTTOKEN_VERIFY_TOKEN") {
        Some(AdminToken::new(&t)?)
    } else if let Some(path) =
        serve_args.verify_token_file.clone().or(file.verify_token_file.clone())
    {
        Some(AdminToken::new(&read_secret_file(&path, "verify token")?)?)
    } else {
        None
    };
    if let (Some(a), Some(v)) = (&admin_token, &verify_token) {
        if a == v {
            return Err(Error::Config(
                "the verify token must differ from the admin token: it is given to the web tier"
                    .into(),
            ));
        }
    }

    Ok(Secrets { master_key, previous_master_keys, admin_token, verify_token })
}

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
    common
        .database
        .clone()
        .or(file.database.clone())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATABASE))
}

/// Reads the file of `common` (or nothing).
///
/// # Errors
/// As [`read_file`].
pub fn file_of(common: &CommonArgs) -> Result<FileConfig> {
    match &common.config {
        Some(p) => read_file(p),
        None => Ok(FileConfig::default()),
    }
}

/// Merges file, environment and flags for `serve` (with `serve`) or the admin commands.
///
/// # Errors
/// [`Error::Config`] for a missing master key, a bad key or token, TLS half-configured, plain
/// HTTP on a non-loopback address without `--behind-tls-proxy`, or limits of 0.
pub fn resolve(common: &CommonArgs, serve: Option<&ServeArgs>) -> Result<Settings> {
    resolve_with(common, serve, file_of(common)?, read_secrets)
}

/// The text of a configuration file through every check of `serve` with no flag or
/// environment variable set; the secrets are a fixed key and no tokens, since a fuzzed file's
/// paths must not be opened. For the fuzz target only.
///
/// # Errors
/// As [`resolve`].
#[cfg(feature = "fuzzing")]
pub(crate) fn resolve_text(text: &str) -> Result<Settings> {
    let file = parse_file(text).map_err(|e| Error::Config(e.to_string()))?;
    let fixed: SecretSource = |_, _, _, _, _| {
        Ok(Secrets {
            master_key: MasterKey::parse(&"5a".repeat(32))?,
            previous_master_keys: Vec::new(),
            admin_token: None,
            verify_token: None,
        })
    };
    resolve_with(&CommonArgs::default(), Some(&ServeArgs::default()), file, fixed)
}

/// The secrets of the settings, read last so that a configuration refused for anything else
/// reads no secret and writes no demo key.
struct Secrets {
    master_key: MasterKey,
    previous_master_keys: Vec<MasterKey>,
    admin_token: Option<AdminToken>,
    verify_token: Option<AdminToken>,
}

/// Where [`resolve_with`] gets the secrets from: the environment and files ([`read_secrets`]),
/// or a fixed set for the fuzz target, which must not open the paths a fuzzer writes.
type SecretSource = fn(&CommonArgs, &ServeArgs, &FileConfig, bool, &Path) -> Result<Secrets>;

/// [`resolve`] with the file already read and the secrets from `secrets`.
fn resolve_with(
    common: &CommonArgs,
    serve: Option<&ServeArgs>,
    file: FileConfig,
    secrets: SecretSource,
) -> Result<Settings> {
    let default_serve = ServeArgs::default();
    let serve_args = serve.unwrap_or(&default_serve);
    let lim = &file.limits;

    let database = database_path(common, &file);
    let demo_on = serve.is_some() && (serve_args.demo || file.demo.unwrap_or(false));

    let mut policy = Policy::default();
    policy.provision_max_tries = setting(
        common.provision_max_tries,
        lim.provision_max_tries,
        policy.provision_max_tries,
        "provision_max_tries",
    )?;
    policy.verify_max_failures = setting(
        common.verify_max_failures,
        lim.verify_max_failures,
        policy.verify_max_failures,
        "verify_max_failures",
    )?;
    policy.reissue_wait_secs =
        common.reissue_wait_secs.or(lim.reissue_wait_secs).unwrap_or(policy.reissue_wait_secs);
    if let Some(days) = common.expiry_days.or(lim.expiry_days) {
        policy.default_expiry_secs = u64::from(positive(days, "expiry_days")?) * 24 * 3600;
    }
    policy.attempt_ttl_secs =
        common.attempt_ttl_secs.or(lim.attempt_ttl_secs).unwrap_or(policy.attempt_ttl_secs);
    if policy.attempt_ttl_secs == 0 {
        return Err(Error::Config("attempt_ttl_secs must be at least 1".into()));
    }
    if let Some(v) = common.issuer.clone().or(file.issuer.clone()) {
        policy.issuer = v;
    }
    if let Some(v) = common.display_name.clone().or(file.display_name.clone()) {
        policy.display_name = v;
    }
    if let Some(v) = common.download_url.clone().or(file.download_url.clone()) {
        policy.download_url = v;
    }
    let issuer_len = policy.issuer.chars().count();
    let name_len = policy.display_name.chars().count();
    if !(1..=64).contains(&issuer_len) || !(1..=32).contains(&name_len) {
        return Err(Error::Config(
            "the issuer must be 1–64 characters and the display name 1–32".into(),
        ));
    }
    policy.params = TotpParams::default();

    let defaults = RateLimits::default();
    let rate_limits = RateLimits {
        per_address_burst: setting(
            serve_args.rate_per_address_burst,
            lim.rate_per_address_burst,
            defaults.per_address_burst,
            "rate_per_address_burst",
        )?,
        per_address_per_minute: setting(
            serve_args.rate_per_address_per_minute,
            lim.rate_per_address_per_minute,
            defaults.per_address_per_minute,
            "rate_per_address_per_minute",
        )?,
        total_burst: setting(
            serve_args.rate_total_burst,
            lim.rate_total_burst,
            defaults.total_burst,
            "rate_total_burst",
        )?,
        total_per_minute: setting(
            serve_args.rate_total_per_minute,
            lim.rate_total_per_minute,
            defaults.total_per_minute,
            "rate_total_per_minute",
        )?,
    };
    let mut start_limits = HttpOptions::default().start_limits;
    start_limits.per_address_burst = setting(
        serve_args.rate_starts_per_address_burst,
        lim.rate_starts_per_address_burst,
        start_limits.per_address_burst,
        "rate_starts_per_address_burst",
    )?;
    start_limits.per_address_per_minute = setting(
        serve_args.rate_starts_per_address_per_minute,
        lim.rate_starts_per_address_per_minute,
        start_limits.per_address_per_minute,
        "rate_starts_per_address_per_minute",
    )?;
    policy.max_open_attempts =
        positive(lim.max_open_attempts.unwrap_or(policy.max_open_attempts), "max_open_attempts")?;
    let body_limit = serve_args.body_limit.or(lim.body_limit).unwrap_or(16 * 1024);
    if !(1024..=1024 * 1024).contains(&body_limit) {
        return Err(Error::Config("body_limit must be 1 KiB to 1 MiB".into()));
    }

    let edge = edge_limits(serve_args, lim)?;

    let bind = match serve_args.bind.or(file.bind) {
        Some(b) => b,
        None => DEFAULT_BIND.parse().map_err(|_| Error::Internal("default bind address"))?,
    };
    let admin_bind = match serve_args.admin_bind.or(file.admin_bind) {
        Some(b) => b,
        None => DEFAULT_ADMIN_BIND.parse().map_err(|_| Error::Internal("default admin address"))?,
    };
    let tls = match (
        serve_args.tls_cert.clone().or(file.tls_cert.clone()),
        serve_args.tls_key.clone().or(file.tls_key.clone()),
    ) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        (None, None) => None,
        _ => return Err(Error::Config("give both tls_cert and tls_key, or neither".into())),
    };
    let behind_tls_proxy = serve_args.behind_tls_proxy || file.behind_tls_proxy.unwrap_or(false);
    if serve.is_some() && tls.is_none() && !behind_tls_proxy && !bind.ip().is_loopback() {
        return Err(Error::Config(format!(
            "refusing plain HTTP on {bind}: it is not a loopback address. Give --tls-cert and \
             --tls-key, or --behind-tls-proxy when a TLS-terminating proxy is in front"
        )));
    }
    if serve.is_some() && tls.is_none() && !behind_tls_proxy && !admin_bind.ip().is_loopback() {
        return Err(Error::Config(format!(
            "refusing plain HTTP for the admin API on {admin_bind}: it is not a loopback address. \
             Give --tls-cert and --tls-key, or --behind-tls-proxy"
        )));
    }
    if serve.is_some() && admin_bind == bind && bind.port() != 0 {
        return Err(Error::Config(format!(
            "the admin API needs an address of its own, not {bind}: set admin_bind"
        )));
    }

    let trusted_proxies = trusted_proxies(
        if serve_args.trusted_proxies.is_empty() {
            file.trusted_proxies.as_deref().unwrap_or_default()
        } else {
            &serve_args.trusted_proxies
        },
        behind_tls_proxy,
    )?;

    // Demo mode hands out a public password and re-arms without a credential; it is for one
    // machine (a kiosk, a laptop), never for a network or a proxy in front of one. This checks
    // the listener's own address, not a caller's: who may call the demo routes is
    // `http::demo::on_this_computer`, applied to each request.
    let behind_proxy = behind_tls_proxy || !trusted_proxies.is_empty();
    if demo_on && (!bind.ip().is_loopback() || behind_proxy) {
        return Err(Error::Config(format!(
            "refusing demo mode on {bind}{}: the demo is served on a loopback address only \
             (127.0.0.1 or ::1) and never behind a proxy",
            if behind_proxy { " behind a proxy" } else { "" }
        )));
    }
    let demo = if demo_on {
        let text = env_secret("SOFTTOKEN_DEMO_ACTIVATION_PASSWORD")
            .or(file.demo_activation_password.clone().map(Zeroizing::new))
            .unwrap_or_else(|| Zeroizing::new(DEFAULT_DEMO_PASSWORD.to_owned()));
        Some(Demo { password: ActivationPassword::new(&text)? })
    } else {
        None
    };

    let synchronous = match common.synchronous.as_deref().or(file.synchronous.as_deref()) {
        None => Synchronous::Full,
        Some(name) => Synchronous::parse(name).ok_or_else(|| {
            Error::Config(format!("synchronous must be \"normal\" or \"full\", not {name:?}"))
        })?,
    };

    let Secrets { master_key, previous_master_keys, admin_token, verify_token } =
        secrets(common, serve_args, &file, demo_on, &database)?;

    Ok(Settings {
        bind,
        admin_bind,
        database,
        synchronous,
        cache_capacity: lim
            .cache_capacity
            .unwrap_or(crate::storage::sqlite::DEFAULT_CACHE_CAPACITY)
            .max(1),
        postgres: postgres_options(common, &file)?,
        migrate_on_start: common.migrate_on_start || file.migrate_on_start.unwrap_or(false),
        master_key,
        previous_master_keys,
        outbox_dir: common.outbox_dir.clone().or(file.outbox_dir.clone()),
        policy,
        http: HttpOptions {
            admin_token,
            verify_token,
            rate_limits,
            start_limits,
            trusted_proxies,
            body_limit,
            edge,
            ..HttpOptions::default()
        },
        tls,
        demo,
        log_json: common.log_json || file.log_json.unwrap_or(false),
        log: common.log.clone().or(file.log.clone()).unwrap_or_else(|| "info".into()),
    })
}

fn edge_limits(serve_args: &ServeArgs, lim: &FileLimits) -> Result<EdgeLimits> {
    let defaults = EdgeLimits::default();
    let secs = |v: Option<u64>, default: Duration, what: &str| -> Result<Duration> {
        match v {
            None => Ok(default),
            Some(s) if (1..=3600).contains(&s) => Ok(Duration::from_secs(s)),
            Some(_) => Err(Error::Config(format!("{what} must be 1 to 3600 seconds"))),
        }
    };
    let count = |v: Option<usize>, default: usize, what: &str| -> Result<usize> {
        match v.unwrap_or(default) {
            0 => Err(Error::Config(format!("{what} must be at least 1"))),
            n => Ok(n),
        }
    };
    Ok(EdgeLimits {
        header_read_timeout: secs(
            serve_args.header_read_timeout_secs.or(lim.header_read_timeout_secs),
            defaults.header_read_timeout,
            "header_read_timeout_secs",
        )?,
        request_timeout: secs(
            serve_args.request_timeout_secs.or(lim.request_timeout_secs),
            defaults.request_timeout,
            "request_timeout_secs",
        )?,
        max_connections: count(
            serve_args.max_connections.or(lim.max_connections),
            defaults.max_connections,
            "max_connections",
        )?,
        max_connections_per_address: count(
            serve_args.max_connections_per_address.or(lim.max_connections_per_address),
            defaults.max_connections_per_address,
            "max_connections_per_address",
        )?,
    })
}

/// The proxies whose `X-Forwarded-For` is believed. A proxy in front (`behind_tls_proxy`)
/// with none named is taken to be on this host: loopback.
fn trusted_proxies(given: &[String], behind_tls_proxy: bool) -> Result<Vec<IpNet>> {
    const LOOPBACK: &[&str] = &["127.0.0.0/8", "::1/128"];
    let mut given: Vec<&str> = given.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect();
    if given.is_empty() && behind_tls_proxy {
        given = LOOPBACK.to_vec();
    }
    given
        .iter()
        .map(|s| {
            s.parse::<IpNet>().or_else(|_| s.parse::<IpAddr>().map(IpNet::from)).map_err(|_| {
                Error::Config(format!(
                    "trusted_proxies: {s:?} is not a network (10.0.0.0/8, 2001:db8::/32) or an address"
                ))
            })
        })
        .collect()
}

fn create_demo_key(path: &Path) -> Result<()> {
    let key = MasterKey::generate()?;
    write_private(path, format!("{}\n", key.to_hex().as_str()).as_bytes())?;
    eprintln!("softtoken-server: created demo master key file {}", path.display());
    Ok(())
}

/// Writes a new file readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let mut f = crate::files::create_private_file(path, true)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A master key file as the bank keeps it: its owner's alone.
    fn key_file(path: &Path, byte: &str) {
        let mut f = crate::files::create_private_file(path, false).unwrap();
        std::io::Write::write_all(&mut f, byte.repeat(32).as_bytes()).unwrap();
    }

    fn common() -> CommonArgs {
        Cli::parse_from(["softtoken-server"]).common
    }

    #[test]
    fn file_config_refuses_unknown_keys() {
        assert!(toml::from_str::<FileConfig>("bind = \"127.0.0.1:1\"\ntypo = 1").is_err());
        let ok: FileConfig =
            toml::from_str("bind = \"127.0.0.1:1\"\n[limits]\nprovision_max_tries = 3").unwrap();
        assert_eq!(ok.limits.provision_max_tries, Some(3));
    }

    #[test]
    fn plain_http_on_a_public_address_is_refused_unless_behind_a_proxy() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k");
        key_file(&key, "11");
        let mut c = common();
        c.master_key_file = Some(key);
        let mut s =
            ServeArgs { bind: Some("0.0.0.0:8443".parse().unwrap()), ..ServeArgs::default() };
        let err = resolve(&c, Some(&s)).unwrap_err().to_string();
        assert!(err.contains("refusing plain HTTP"), "{err}");
        s.behind_tls_proxy = true;
        let settings = resolve(&c, Some(&s)).unwrap();
        // The proxy is on this host unless networks are named.
        assert_eq!(
            settings.http.trusted_proxies,
            ["127.0.0.0/8".parse::<IpNet>().unwrap(), "::1/128".parse().unwrap()]
        );
        s.trusted_proxies = vec!["10.1.0.0/16".into(), "192.0.2.9".into()];
        let settings = resolve(&c, Some(&s)).unwrap();
        assert_eq!(
            settings.http.trusted_proxies,
            ["10.1.0.0/16".parse::<IpNet>().unwrap(), "192.0.2.9/32".parse().unwrap()]
        );
        s.trusted_proxies = vec!["10.1.0.0/33".into()];
        let err = resolve(&c, Some(&s)).unwrap_err().to_string();
        assert!(err.contains("trusted_proxies"), "{err}");
        s.trusted_proxies.clear();
        s.behind_tls_proxy = false;
        s.bind = Some("127.0.0.1:0".parse().unwrap());
        assert!(resolve(&c, Some(&s)).is_ok());
    }

    #[test]
    fn a_database_url_chooses_postgresql_and_anything_but_postgres_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("server.toml");
        std::fs::write(
            &cfg,
            "database_url = \"postgres://softtoken@db.example:5432/bank\"\nmigrate_on_start = true\n\
             [limits]\ndatabase_pool_size = 4\n",
        )
        .unwrap();
        let mut c = common();
        c.config = Some(cfg);
        let file = file_of(&c).unwrap();
        let pg = postgres_options(&c, &file).unwrap().unwrap();
        assert_eq!(
            (pg.url.as_str(), pg.pool_size),
            ("postgres://softtoken@db.example:5432/bank", 4)
        );
        assert!(file.migrate_on_start.unwrap());
        // The URL may carry a password: never in a Debug print.
        assert!(!format!("{pg:?}").contains("db.example"));
        c.database_url = Some("sqlite:///var/lib/bank.db".into());
        let err = postgres_options(&c, &file).unwrap_err().to_string();
        assert!(err.contains("postgres://"), "{err}");
    }

    #[test]
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("server.toml");
        std::fs::write(
            &cfg,
            format!(
                "master_key_file = \"{}\"\nissuer = \"File Bank\"\n[limits]\nprovision_max_tries = 3\nverify_max_failures = 4\n",
                dir.path().join("k").display()
            ),
        )
        .unwrap();
        key_file(&dir.path().join("k"), "22");
        let mut c = common();
        c.config = Some(cfg);
        c.verify_max_failures = Some(7);
        let s = resolve(&c, None).unwrap();
        assert_eq!(s.policy.provision_max_tries, 3);
        assert_eq!(s.policy.verify_max_failures, 7);
        assert_eq!(s.policy.issuer, "File Bank");
    }
}
