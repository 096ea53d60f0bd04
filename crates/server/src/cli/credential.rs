//! `softtoken-server credential …`: the admin listener's named credentials, on the database
//! directly. `add` prints the token once, on standard output, and nothing else there, so it can
//! be piped into the holder's token file; `list` prints one JSON object per credential.

use std::sync::Arc;

use crate::bank::{Actor, AdminAction, Bank, Subject, CREDENTIALS_TTL};
use crate::config::CredentialCommand;
use crate::credential::{CredentialName, Scope};
use crate::error::{Error, Result};

/// Runs one `credential` subcommand.
///
/// # Errors
/// A name or scope that is not one, a name already holding two valid credentials (or ones of
/// another scope), nothing to revoke, or the database's failure.
pub(super) async fn run(bank: &Arc<Bank>, command: CredentialCommand, now: u64) -> Result<()> {
    let actor = Actor::this_process();
    match command {
        CredentialCommand::Add(a) => {
            let name = CredentialName::new(&a.name)?;
            let scope = Scope::parse(&a.scope)
                .ok_or_else(|| Error::InvalidRequest(format!("no scope {:?}", a.scope)))?;
            let work = bank.add_credential(&name, scope, now);
            let added = bank
                .audited_as(
                    &actor,
                    AdminAction::CredentialAdd,
                    Subject::default(),
                    now,
                    work,
                    |added| (format!("ok: {name} ({}, ID {})", scope.as_str(), added.id), None),
                )
                .await?;
            eprintln!(
                "softtoken-server: issued credential {name} (ID {}, scope {}); its token follows, \
                 shown this once. Every instance accepts it within {} s.",
                added.id,
                scope.as_str(),
                CREDENTIALS_TTL.as_secs()
            );
            println!("{}", added.token.expose());
            Ok(())
        }
        CredentialCommand::List => {
            for c in bank.credentials().await? {
                println!(
                    "{}",
                    serde_json::to_string(&c).map_err(|_| Error::Internal("a credential"))?
                );
            }
            Ok(())
        }
        CredentialCommand::Revoke(a) => {
            let name = CredentialName::new(&a.name)?;
            let work = bank.revoke_credential(&name, a.id.as_deref(), now);
            let which = a.id.as_deref().map(|id| format!(", ID {id}")).unwrap_or_default();
            let n = bank
                .audited_as(
                    &actor,
                    AdminAction::CredentialRevoke,
                    Subject::default(),
                    now,
                    work,
                    |n| (format!("ok: {name}{which}, {n} revoked"), None),
                )
                .await?;
            eprintln!(
                "softtoken-server: revoked {n} credential(s) of {name}; every instance refuses \
                 them within {} s.",
                CREDENTIALS_TTL.as_secs()
            );
            Ok(())
        }
    }
}
