//! The command line: every command and its flags, each flag with its environment variable
//! (clap puts a flag over its variable). The settings are the concern structs of the rooms
//! beside this one, flattened here in the order `--help` has always listed them. The `[default: …]` of a help text is checked against
//! the default the server uses (`config/tests.rs`), so the two cannot drift.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use serde::Deserialize;

use super::database::DatabaseArgs;
use super::layer::concern;
use super::limits::{BankNames, EdgeArgs, PolicyLimits, RequestArgs};
use super::listen::{Addresses, Front};
use super::secrets::{DemoArgs, KeyFiles, TokenFiles};
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

/// Settings shared by every command, one struct per concern (each also read from the file).
#[derive(Debug, Args, Default)]
pub struct CommonArgs {
    /// TOML configuration file.
    #[arg(long, short = 'c', env = "SOFTTOKEN_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Where the registrations are kept.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The master key files.
    #[command(flatten)]
    pub keys: KeyFiles,
    /// What the server writes besides its database.
    #[command(flatten)]
    pub output: Output,
    /// The bank's names sent to the app.
    #[command(flatten)]
    pub names: BankNames,
    /// The bank's limits.
    #[command(flatten)]
    pub policy: PolicyLimits,
}

concern! {
    /// What the server writes besides its database, and how each commit is made durable. Top-level
    /// keys of the file.
    #[derive(Debug, Args, Default, Deserialize)]
    #[serde(default)]
    pub struct Output {
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
    }
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
    /// Print the OpenAPI 3.1 document of the whole HTTP API (docs/openapi.json is its output).
    Openapi,
    /// Apply the database's schema migrations and exit (needs no master key).
    Migrate,
    /// Re-seal every stored secret under the current master key (`master_key_file`), opening
    /// what older keys sealed with `previous_master_key_files`. Safe while the server runs,
    /// and to run again after an interruption.
    RotateKey(RotateKeyArgs),
    /// Print the audit log of admin actions, newest first, one JSON object per line; `audit
    /// verify` checks its MAC chain.
    Audit(AuditArgs),
    /// Copy the SQLite database to a new file (0600), consistent while the server writes; needs
    /// no master key. PostgreSQL is backed up with its own tools (see docs/server.md).
    Backup(BackupArgs),
    /// Transaction confirmation, as the bank's web tier does it: create a request, read or
    /// wait for its outcome, cancel it, check an offline code.
    #[command(subcommand)]
    Confirm(ConfirmCommand),
    /// The admin listener's named credentials: issue one (its token is printed once), list
    /// them, revoke them. Every instance sees a change within two seconds.
    #[command(subcommand)]
    Credential(CredentialCommand),
    /// Phone moves (機種変更): list a customer's, or cancel a pending one.
    #[command(subcommand)]
    Move(MoveCommand),
}

/// `move` subcommands.
#[derive(Debug, Subcommand)]
pub enum MoveCommand {
    /// List a customer's moves (from or to this user ID), newest first, one JSON object per line.
    List(PairArgs),
    /// Cancel a pending move: its prepared registration ends, the old token keeps working.
    Cancel(MoveCancelArgs),
}

/// `move cancel` flags.
#[derive(Debug, Args)]
pub struct MoveCancelArgs {
    /// The move's ID (32 hex digits, from `move list`).
    #[arg(long)]
    pub move_id: String,
}

/// `credential` subcommands.
#[derive(Debug, Subcommand)]
pub enum CredentialCommand {
    /// Issue a credential and print its token, once: the database keeps only its hash. A name
    /// holds at most two valid credentials, so that a rotation can overlap.
    Add(CredentialAddArgs),
    /// List every credential issued (names, IDs, scopes, when issued and revoked; no token).
    List,
    /// Revoke a name's valid credentials, or only the one with `--id`.
    Revoke(CredentialRevokeArgs),
}

/// `credential add` flags.
#[derive(Debug, Args)]
pub struct CredentialAddArgs {
    /// Whose it is: a clerk or a system (a-z, 0-9, -, _), as the audit log will name it.
    #[arg(long)]
    pub name: String,
    /// What it may do: verify, transactions, clerk, metrics or admin.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(
        ["verify", "transactions", "clerk", "metrics", "admin"]))]
    pub scope: String,
}

/// `credential revoke` flags.
#[derive(Debug, Args)]
pub struct CredentialRevokeArgs {
    /// The credential's name.
    #[arg(long)]
    pub name: String,
    /// Only the credential with this ID (from `credential list`); all of the name's otherwise.
    #[arg(long)]
    pub id: Option<String>,
}

/// `confirm` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfirmCommand {
    /// Ask the customer to confirm a transaction; prints the request (with the number to
    /// match, when asked for).
    Create(ConfirmCreateArgs),
    /// Print a request's status, waiting up to `--wait` seconds for a final state.
    Status(ConfirmStatusArgs),
    /// Withdraw a pending request.
    Cancel(ConfirmIdArgs),
    /// Check an offline code the customer typed.
    Offline(ConfirmOfflineArgs),
}

/// `confirm create` flags.
#[derive(Debug, Args)]
pub struct ConfirmCreateArgs {
    /// The registration.
    #[command(flatten)]
    pub pair: PairArgs,
    /// What is to be approved, as JSON exactly as in a signed request
    /// (`{"kind":"transfer","amount_yen":50000,"payee":{...}}`).
    #[arg(long)]
    pub details: String,
    /// Seconds the request stays answerable (30 to 300) [default: 120].
    #[arg(long)]
    pub lifetime_secs: Option<u64>,
    /// An approval must carry the two-digit number printed here (and shown on the page).
    #[arg(long)]
    pub match_required: bool,
}

/// A confirmation request's ID.
#[derive(Debug, Args)]
pub struct ConfirmIdArgs {
    /// The request's ID (22 base64url characters).
    pub id: String,
}

/// `confirm status` flags.
#[derive(Debug, Args)]
pub struct ConfirmStatusArgs {
    /// The request.
    #[command(flatten)]
    pub id: ConfirmIdArgs,
    /// Seconds to wait for a final state (0 to 30).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=30))]
    pub wait: u64,
}

/// `confirm offline` flags.
#[derive(Debug, Args)]
pub struct ConfirmOfflineArgs {
    /// The registration.
    #[command(flatten)]
    pub pair: PairArgs,
    /// The payee's account number (7 digits).
    #[arg(long)]
    pub account_number: String,
    /// The amount in yen.
    #[arg(long)]
    pub amount_yen: u64,
    /// The code the customer typed (8 digits).
    #[arg(long)]
    pub code: String,
}

/// `audit` flags.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// `verify`: walk the whole log, oldest first, and report the first broken or missing link
    /// of its MAC chain (the exit code is non-zero then).
    #[command(subcommand)]
    pub check: Option<AuditCommand>,
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

/// `audit` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the MAC chain of every entry under the audit keys given (`audit_key_file`, the
    /// current and previous master keys); print a JSON report.
    Verify,
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

/// `serve` flags, one struct per concern (each also read from the file).
#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// The two listen addresses.
    #[command(flatten)]
    pub addresses: Addresses,
    /// The bearer token files.
    #[command(flatten)]
    pub tokens: TokenFiles,
    /// TLS and the proxies in front.
    #[command(flatten)]
    pub front: Front,
    /// Demo mode.
    #[command(flatten)]
    pub demo: DemoArgs,
    /// The rate and body limits of requests.
    #[command(flatten)]
    pub requests: RequestArgs,
    /// The timeouts and connection caps.
    #[command(flatten)]
    pub edge: EdgeArgs,
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
