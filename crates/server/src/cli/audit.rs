//! `softtoken-server audit verify`: walks the audit log oldest first and checks every link
//! of its MAC chain (`storage/chain.rs`), with the keys the settings give.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::storage::{AuditKey, ChainCheck, Storage};

/// Entries read per page.
const PAGE: u32 = 1000;

/// What `audit verify` prints.
#[derive(Serialize)]
struct ChainReport {
    /// Entries whose MAC was checked.
    chained: u64,
    /// Entries written before the chain (by a server without it), all at the start.
    unchained: u64,
    /// The newest entry checked.
    last_id: Option<u64>,
    /// The first break, when there is one.
    broken: Option<String>,
}

/// Checks the whole log and prints a report.
///
/// # Errors
/// [`Error::AuditChainBroken`] at the first broken or missing link (after printing the
/// report); the database's failure.
pub(super) async fn verify(storage: &dyn Storage, keys: &[AuditKey]) -> Result<()> {
    let mut check = ChainCheck::new(keys);
    let mut broken = None;
    'walk: loop {
        let page = storage.audit_after(check.last_id().unwrap_or(0), PAGE).await?;
        if page.is_empty() {
            break;
        }
        for e in &page {
            if let Err(b) = check.push(e) {
                broken = Some(b.to_string());
                break 'walk;
            }
        }
    }
    let report = ChainReport {
        chained: check.chained,
        unchained: check.unchained,
        last_id: check.last_id(),
        broken: broken.clone(),
    };
    println!("{}", serde_json::to_string(&report).map_err(|_| Error::Internal("audit report"))?);
    match broken {
        Some(b) => Err(Error::AuditChainBroken(b)),
        None => Ok(()),
    }
}
