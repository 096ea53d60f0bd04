//! The `softtoken-server` command line: `serve` and the admin commands.
//!
//! Admin commands work on the database directly (the server may be running: SQLite
//! serializes writers, and a running server drops its cache when another process writes).
//! The `confirm` commands are in `cli/confirm.rs`, the `credential` commands in
//! `cli/credential.rs`.

mod audit;
mod confirm;
mod credential;

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser as _;
use serde::Serialize;
use softtoken_core::ids::{ActivationPassword, ServiceId, UserId};
use tracing_subscriber::EnvFilter;
use zeroize::Zeroizing;

use crate::bank::{audit_query, Actor, AdminAction, Bank, IssueRequest, Subject};
use crate::clock::{Clock, SystemClock};
use crate::config::{resolve, AuditCommand, Cli, Command, MoveCommand, Settings};
use crate::error::{Error, Result};
use crate::sealed::MasterKey;
use crate::serve;
use crate::storage::Storage as _;

/// Runs the command line; the process's exit code.
pub fn main() -> ExitCode {
    let mut cli = Cli::parse();
    if cli.command.is_none() {
        // Bare `softtoken-server` serves; parse again so `serve`'s environment variables apply.
        cli = Cli::parse_from(std::env::args_os().chain(["serve".into()]));
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("softtoken-server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

fn init_logging(settings: &Settings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.log))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    // Another subscriber may exist already (tests); logging then goes there.
    let _ = if settings.log_json { builder.json().try_init() } else { builder.try_init() };
}

fn run(cli: Cli) -> Result<()> {
    let Some(command) = cli.command else { return Err(Error::Internal("no command")) };
    if let Command::GenKey = command {
        let key = MasterKey::generate()?;
        println!("{}", key.to_hex().as_str());
        return Ok(());
    }
    if let Command::Openapi = command {
        print!("{}", crate::http::openapi::render(&crate::http::openapi_document())?);
        return Ok(());
    }
    if let Command::Migrate = command {
        return runtime()?.block_on(migrate(&cli.common));
    }
    if let Command::Backup(a) = &command {
        return backup(&cli.common, &a.to);
    }
    let serve_args = match &command {
        Command::Serve(a) => Some(a.as_ref()),
        _ => None,
    };
    let settings = resolve(&cli.common, serve_args)?;
    init_logging(&settings);
    let rt = runtime()?;
    if let Command::Serve(_) = command {
        return rt.block_on(serve::run(settings));
    }
    rt.block_on(async {
        let storage = serve::open_storage(&settings).await?;
        if let Command::Audit(crate::config::AuditArgs {
            check: Some(AuditCommand::Verify), ..
        }) = command
        {
            let result = audit::verify(storage.as_ref(), &settings.audit_keys()).await;
            storage.close().await;
            return result;
        }
        let bank = serve::bank(&settings, storage.clone());
        let result = admin(&bank, command, SystemClock.now()).await;
        storage.close().await;
        result
    })
}

/// `migrate`: brings the schema up to this server's and says where it stands. Needs no master
/// key, so a deployment job can run it before any instance starts.
async fn migrate(common: &crate::config::CommonArgs) -> Result<()> {
    let file = crate::config::file_of(common)?;
    if let Some(pg) = crate::config::postgres_options(common, &file)? {
        crate::storage::postgres::migrate(pg).await?;
        println!("PostgreSQL schema is up to date");
        return Ok(());
    }
    let path = crate::config::database_path(common, &file);
    // SQLite migrates whenever it opens.
    crate::storage::sqlite::SqliteStorage::open(crate::storage::sqlite::SqliteOptions::new(&path))?
        .close()
        .await;
    println!("SQLite schema of {} is up to date", path.display());
    Ok(())
}

/// Passes over the whole database before `rotate-key` gives up on rows that the server keeps
/// changing under it (each lost race means the server wrote that row meanwhile).
const ROTATION_PASSES: u32 = 5;

/// What `rotate-key` prints when it ends.
#[derive(Serialize)]
struct RotationReport {
    key_id: String,
    resealed: u64,
    remaining: u64,
    passes: u32,
}

/// `rotate-key`: walks the database a batch at a time, re-sealing what an older key sealed,
/// and walks again while rows were changed under it; prints the report and fails while rows
/// remain.
async fn rotate_key(bank: &Arc<Bank>, batch_size: u32, check: bool) -> Result<()> {
    let mut report = RotationReport {
        key_id: bank.current_key().to_string(),
        resealed: 0,
        remaining: 0,
        passes: 0,
    };
    while report.passes < ROTATION_PASSES {
        report.passes += 1;
        let mut cursor = crate::bank::RotationCursor::default();
        let (mut stale, mut resealed) = (0, 0);
        while !cursor.done() {
            let batch = bank.rotate_batch(&mut cursor, batch_size, !check).await?;
            stale += batch.stale;
            resealed += batch.resealed;
            if batch.resealed > 0 {
                eprintln!(
                    "rotate-key: re-sealed {} rows ({} so far in pass {})",
                    batch.resealed, resealed, report.passes
                );
            }
        }
        report.resealed += resealed;
        report.remaining = stale.saturating_sub(resealed);
        if check || report.remaining == 0 {
            break;
        }
    }
    print_json(&report)?;
    match report.remaining {
        0 => Ok(()),
        remaining => Err(Error::KeyRotationIncomplete { remaining }),
    }
}

/// `backup --to FILE`: an online copy of the SQLite database. Needs no master key (the copy
/// holds only sealed secrets).
fn backup(common: &crate::config::CommonArgs, to: &std::path::Path) -> Result<()> {
    let file = crate::config::file_of(common)?;
    if crate::config::postgres_options(common, &file)?.is_some() {
        return Err(Error::Config(
            "backup copies a SQLite database; back PostgreSQL up with pg_basebackup and WAL \
             archiving (docs/server.md, \"Backup and restore\")"
                .into(),
        ));
    }
    let path = crate::config::database_path(common, &file);
    crate::storage::sqlite::backup(&path, to)?;
    println!("backed up {} to {}", path.display(), to.display());
    Ok(())
}

pub(crate) fn print_json(v: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(v).map_err(|_| Error::Internal("printing JSON"))?;
    println!("{text}");
    Ok(())
}

pub(crate) fn pair(service: &str, user: &str) -> Result<(ServiceId, UserId)> {
    Ok((ServiceId::new(service)?, UserId::new(user)?))
}

fn read_password() -> Result<ActivationPassword> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("activation password (4–8 digits), then Enter: ");
        let _ = std::io::stderr().flush();
    }
    let mut line = Zeroizing::new(String::new());
    stdin.lock().read_line(&mut line)?;
    Ok(ActivationPassword::new(&line)?)
}

async fn admin(bank: &Arc<Bank>, command: Command, now: u64) -> Result<()> {
    let actor = Actor::this_process();
    match command {
        Command::Issue(a) => {
            let password = read_password()?;
            let req = IssueRequest {
                service_id: ServiceId::new(&a.service_id)?,
                user_id: a.user_id.as_deref().map(UserId::new).transpose()?,
                mail: a.mail,
                password,
                expires_in_secs: a.expires_in_days.map(|d| u64::from(d) * 24 * 3600),
            };
            let subject =
                Subject { service_id: Some(req.service_id.clone()), user_id: req.user_id.clone() };
            let work = bank.issue(req, now);
            let st = bank
                .audited(&actor, AdminAction::Issue, subject, now, work, |st| {
                    Some(st.user_id.clone())
                })
                .await?;
            print_json(&st)
        }
        Command::Status(p) => {
            let (s, u) = pair(&p.service_id, &p.user_id)?;
            print_json(&bank.status(&s, &u, now).await?)
        }
        Command::Revoke(p) => {
            let (s, u) = pair(&p.service_id, &p.user_id)?;
            let work = bank.revoke(&s, &u, now);
            let subject = Subject::pair(&s, &u);
            print_json(&bank.audited(&actor, AdminAction::End, subject, now, work, |_| None).await?)
        }
        Command::Unlock(p) => {
            let (s, u) = pair(&p.service_id, &p.user_id)?;
            let work = bank.unlock(&s, &u, now);
            let subject = Subject::pair(&s, &u);
            print_json(
                &bank.audited(&actor, AdminAction::Unlock, subject, now, work, |_| None).await?,
            )
        }
        Command::Verify(v) => {
            let (s, u) = pair(&v.pair.service_id, &v.pair.user_id)?;
            print_json(&bank.verify(&s, &u, v.code.trim(), now).await?)
        }
        Command::Resync(r) => {
            let (s, u) = pair(&r.pair.service_id, &r.pair.user_id)?;
            let work = bank.resync(&s, &u, [r.code1.trim(), r.code2.trim()], now);
            let subject = Subject::pair(&s, &u);
            print_json(
                &bank.audited(&actor, AdminAction::Resync, subject, now, work, |_| None).await?,
            )
        }
        // Counting (`--check`) changes nothing and is not an action.
        Command::RotateKey(a) if a.check => rotate_key(bank, a.batch_size, true).await,
        Command::RotateKey(a) => {
            let work = rotate_key(bank, a.batch_size, false);
            bank.audited(&actor, AdminAction::RotateKey, Subject::default(), now, work, |_| None)
                .await
        }
        Command::Audit(a) => {
            let query =
                audit_query(a.before_id, a.service_id.as_deref(), a.user_id.as_deref(), a.limit)?;
            for entry in bank.audit_log(query).await? {
                println!(
                    "{}",
                    serde_json::to_string(&entry).map_err(|_| Error::Internal("audit entry"))?
                );
            }
            Ok(())
        }
        Command::Confirm(c) => confirm::run(bank, &actor, c).await,
        Command::Credential(c) => credential::run(bank, c, now).await,
        Command::Move(MoveCommand::List(p)) => {
            let (s, u) = pair(&p.service_id, &p.user_id)?;
            for m in bank.moves_of(&s, &u, now).await? {
                println!("{}", serde_json::to_string(&m).map_err(|_| Error::Internal("a move"))?);
            }
            Ok(())
        }
        Command::Move(MoveCommand::Cancel(a)) => {
            print_json(&bank.cancel_move_by_bank(&actor, a.move_id.trim(), now).await?)
        }
        Command::Serve(_)
        | Command::GenKey
        | Command::Openapi
        | Command::Migrate
        | Command::Backup(_) => Err(Error::Internal("not an admin command")),
    }
}
