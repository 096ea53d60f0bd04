//! `softtoken-server credential …`: the admin listener's named credentials, on the database
//! directly. `add` prints the token once, on standard output, and nothing else there, so it can
//! be piped into the holder's token file; `list` prints one JSON object per credential.

use std::sync::Arc;

use crate::bank::{Bank, CREDENTIALS_TTL};
use crate::config::CredentialCommand;
use crate::credential::{CredentialName, Scope};
use crate::error::{Error, Result};

/// Runs one `credential` subcommand.
///
/// # Errors
/// A name or scope that is not one, a name already holding two valid credentials (or ones of
/// another scope), nothing to revoke, or the database's failure.
pub(super) async fn run(bank: &Arc<Bank>, command: CredentialCommand, now: u64) -> Result<()> {
    match command {
        CredentialCommand::Add(a) => {
            let name = CredentialName::new(&a.name)?;
            let scope = Scope::parse(&a.scope)
                .ok_or_else(|| Error::InvalidRequest(format!("no scope {:?}", a.scope)))?;
            let added = bank.add_credential(&name, scope, now).await?;
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
            let n = bank.revoke_credential(&name, a.id.as_deref(), now).await?;
            eprintln!(
                "softtoken-server: revoked {n} credential(s) of {name}; every instance refuses \
                 them within {} s.",
                CREDENTIALS_TTL.as_secs()
            );
            Ok(())
        }
    }
}
