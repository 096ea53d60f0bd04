//! `softtoken-server confirm …`: transaction confirmation from the command line, on the
//! database directly, as the web tier does it over the admin API. Each prints JSON; see
//! docs/server.md for the exit codes.

use std::sync::Arc;
use std::time::Duration;

use softtoken_core::confirm::{ConfirmationId, Details};

use super::{pair, print_json};
use crate::bank::{Actor, Bank, NewConfirmation, OfflineCheck};
use crate::clock::{Clock as _, SystemClock};
use crate::config::ConfirmCommand;
use crate::error::{Error, Result};

fn id(text: &str) -> Result<ConfirmationId> {
    ConfirmationId::parse(text).map_err(|_| {
        Error::InvalidRequest("a confirmation ID is 16 bytes in base64url (22 characters)".into())
    })
}

/// Runs one `confirm` subcommand as `actor` (the user running it).
///
/// # Errors
/// The bank's refusals, as the admin API answers them.
pub(super) async fn run(bank: &Arc<Bank>, actor: &Actor, command: ConfirmCommand) -> Result<()> {
    match command {
        ConfirmCommand::Create(a) => {
            let (service_id, user_id) = pair(&a.pair.service_id, &a.pair.user_id)?;
            let details: Details = crate::http::extract::parse_body(a.details.as_bytes())?;
            let new = NewConfirmation {
                service_id,
                user_id,
                details,
                lifetime_secs: a.lifetime_secs,
                match_required: a.match_required,
            };
            print_json(&bank.create_confirmation(actor, new, SystemClock.now()).await?)
        }
        ConfirmCommand::Status(a) => {
            let wait = Duration::from_secs(a.wait);
            print_json(&bank.confirmation_status(&id(&a.id.id)?, &SystemClock, wait).await?)
        }
        ConfirmCommand::Cancel(a) => {
            print_json(&bank.cancel_confirmation(actor, &id(&a.id)?, SystemClock.now()).await?)
        }
        ConfirmCommand::Offline(a) => {
            let (service_id, user_id) = pair(&a.pair.service_id, &a.pair.user_id)?;
            let check = OfflineCheck {
                service_id,
                user_id,
                account_number: a.account_number,
                amount_yen: a.amount_yen,
                code: a.code,
            };
            print_json(&bank.check_offline_code(&check, SystemClock.now()).await?)
        }
    }
}
