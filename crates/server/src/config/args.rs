//! The command line: every command and its flags, each flag with its environment variable
//! (clap puts a flag over its variable). The `[default: …]` of a help text is checked against
//! the default the server uses (`config/tests.rs`), so the two cannot drift.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::storage::sqlite::Synchronous;

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
    /// File holding the web tier's confirm-only bearer token (or give the token in
    /// SOFTTOKEN_CONFIRM_TOKEN): the /v1/admin/confirmations endpoints and nothing else.
    #[arg(long, env = "SOFTTOKEN_CONFIRM_TOKEN_FILE")]
    pub confirm_token_file: Option<PathBuf>,
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
