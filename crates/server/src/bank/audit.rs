//! The audit log of admin actions: who asked for what, when, and how it ended.
//!
//! The entry is committed *before* the action runs, so a change is never made unrecorded: if
//! the log cannot be written the action is refused. Its outcome is a second entry naming the
//! first (`refers_to`), appended when the action ended: the log is only ever appended to, and
//! each entry is a link of a MAC chain (`storage/chain.rs`). A `pending` entry no outcome names
//! means the process stopped before it could say.

use std::future::Future;
use std::net::IpAddr;

use softtoken_core::ids::{ServiceId, UserId};

use super::Bank;
use crate::credential::CredentialName;
use crate::error::Result;
use crate::storage::{AuditEntry, AuditQuery};

/// Most entries one listing returns.
pub const MAX_AUDIT_PAGE: u32 = 1000;

/// Who acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A caller of the admin API holding this named credential, from this socket address
    /// (the admin listener believes no `X-Forwarded-For`, so no header can name the actor).
    Credential {
        /// The credential's name (`legacy-admin` and friends for the token files').
        name: CredentialName,
        /// The socket peer.
        ip: Option<IpAddr>,
    },
    /// The customer's token (the app), answering a confirmation request or ending its
    /// registration, from this address.
    Token(Option<IpAddr>),
    /// The bank itself: a confirmation request that expired unanswered, or the demo bank's
    /// transfer pages, which act for the web tier with the server's own authority.
    Bank,
    /// The admin command line, run by this operating-system user.
    Cli {
        /// The process's user ID.
        uid: u32,
        /// Its login name, if the environment gives one.
        name: Option<String>,
    },
}

impl Actor {
    /// The command line's actor: the user running this process.
    pub fn this_process() -> Self {
        use std::os::unix::fs::MetadataExt;
        let uid = std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(u32::MAX);
        let name = ["SUDO_USER", "USER", "LOGNAME"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|n| !n.is_empty()));
        Actor::Cli { uid, name }
    }

    /// The log's `actor`: `credential:NAME`, `token`, `bank` or `cli`.
    fn kind(&self) -> String {
        match self {
            Actor::Credential { name, .. } => format!("credential:{name}"),
            Actor::Token(_) => "token".into(),
            Actor::Bank => "bank".into(),
            Actor::Cli { .. } => "cli".into(),
        }
    }

    fn origin(&self) -> String {
        let address =
            |ip: &Option<IpAddr>| ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
        match self {
            Actor::Credential { ip, .. } | Actor::Token(ip) => address(ip),
            Actor::Bank => "bank".to_owned(),
            Actor::Cli { uid, name: Some(name) } => format!("uid {uid} ({name})"),
            Actor::Cli { uid, name: None } => format!("uid {uid}"),
        }
    }
}

/// What an admin did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminAction {
    /// Issued a registration (steps 3–5).
    Issue,
    /// Ended a registration's use (利用終了).
    End,
    /// Cleared a registration's locks.
    Unlock,
    /// Resynced a token's clock.
    Resync,
    /// Re-sealed the database under a new master key.
    RotateKey,
    /// Asked the customer to confirm a transaction (the outcome is the request's ID or the
    /// refusal's code).
    ConfirmCreate,
    /// Withdrew a pending confirmation request.
    ConfirmCancel,
    /// A confirmation request became final through an answer or the bank: the outcome is its
    /// state (`approved`, `denied`, `wrong_number`, `expired`, `cancelled`).
    ConfirmOutcome,
    /// The customer's old token prepared a phone move (機種変更).
    MoveStarted,
    /// A new start replaced a pending move (the outcome is the earlier move's ID).
    MoveReplaced,
    /// The customer withdrew a pending move from the old phone.
    MoveCancelledByCustomer,
    /// The bank withdrew a pending move (admin API or command line).
    MoveCancelledByBank,
    /// A pending move expired unused; the old token keeps working.
    MoveExpired,
    /// The new phone's ack completed a move: the old registration ended in the same write.
    MoveCompleted,
    /// Read the outbox: the customers' mail addresses and the mails' bodies.
    ReadOutbox,
    /// Read a registration's state through the admin API.
    ReadStatus,
    /// Issued a named credential of the admin listener (the subject is none; the outcome
    /// names it and its scope).
    CredentialAdd,
    /// Revoked named credentials (the outcome says which and how many).
    CredentialRevoke,
}

impl AdminAction {
    /// The name in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            AdminAction::Issue => "issue",
            AdminAction::End => "end",
            AdminAction::Unlock => "unlock",
            AdminAction::Resync => "resync",
            AdminAction::RotateKey => "rotate_key",
            AdminAction::ConfirmCreate => "confirm_create",
            AdminAction::ConfirmCancel => "confirm_cancel",
            AdminAction::ConfirmOutcome => "confirm_outcome",
            AdminAction::MoveStarted => "move_started",
            AdminAction::MoveReplaced => "move_replaced",
            AdminAction::MoveCancelledByCustomer => "move_cancelled_by_customer",
            AdminAction::MoveCancelledByBank => "move_cancelled_by_bank",
            AdminAction::MoveExpired => "move_expired",
            AdminAction::MoveCompleted => "move_completed",
            AdminAction::ReadOutbox => "read_outbox",
            AdminAction::ReadStatus => "read_status",
            AdminAction::CredentialAdd => "credential_add",
            AdminAction::CredentialRevoke => "credential_revoke",
        }
    }
}

/// Whom an action is about, as far as known before it runs.
#[derive(Debug, Clone, Default)]
pub struct Subject {
    /// The registration's service ID.
    pub service_id: Option<ServiceId>,
    /// The registration's user ID (`None` for an issue that draws one).
    pub user_id: Option<UserId>,
}

impl Subject {
    /// A registration named by its pair.
    pub fn pair(service: &ServiceId, user: &UserId) -> Self {
        Self { service_id: Some(service.clone()), user_id: Some(user.clone()) }
    }
}

/// The audit listing asked for by the API or the command line, with its IDs checked like
/// every other ID, so a typo is an error rather than an empty page.
///
/// # Errors
/// The core's ID errors for a malformed service or user ID.
pub fn audit_query(
    before_id: Option<u64>,
    service_id: Option<&str>,
    user_id: Option<&str>,
    limit: u32,
) -> Result<AuditQuery> {
    Ok(AuditQuery {
        before_id,
        service_id: service_id.map(ServiceId::new).transpose()?.map(|s| s.as_str().to_owned()),
        user_id: user_id.map(UserId::new).transpose()?.map(|u| u.as_str().to_owned()),
        limit,
    })
}

/// The entry for `action` by `actor` on `subject` at `now`, with its `outcome` so far.
pub(super) fn entry(
    actor: &Actor,
    action: AdminAction,
    subject: Subject,
    now: u64,
    outcome: &str,
) -> AuditEntry {
    AuditEntry {
        id: 0,
        at: now,
        actor: actor.kind(),
        origin: actor.origin(),
        action: action.as_str().to_owned(),
        service_id: subject.service_id.map(|s| s.as_str().to_owned()),
        user_id: subject.user_id.map(|u| u.as_str().to_owned()),
        outcome: outcome.to_owned(),
        refers_to: None,
        key_id: None,
        mac: None,
    }
}

impl Bank {
    /// Runs `action` recorded in the audit log: the entry first, then the work, then its
    /// outcome (`ok` or the error code the caller gets). `learned_user` names the user ID the
    /// work chose, for an issue that drew one.
    ///
    /// # Errors
    /// The storage's error when the entry cannot be written (the work is then not done);
    /// otherwise the work's own.
    pub async fn audited<T>(
        &self,
        actor: &Actor,
        action: AdminAction,
        subject: Subject,
        now: u64,
        work: impl Future<Output = Result<T>>,
        learned_user: impl FnOnce(&T) -> Option<String>,
    ) -> Result<T> {
        self.audited_as(actor, action, subject, now, work, |t| ("ok".to_owned(), learned_user(t)))
            .await
    }

    /// [`Bank::audited`] whose outcome on success is `describe`'s text (`ok: …`), for an
    /// action whose subject is not a registration (a credential's name and scope), and the
    /// user ID the work chose, if any.
    ///
    /// # Errors
    /// As [`Bank::audited`].
    pub async fn audited_as<T>(
        &self,
        actor: &Actor,
        action: AdminAction,
        subject: Subject,
        now: u64,
        work: impl Future<Output = Result<T>>,
        describe: impl FnOnce(&T) -> (String, Option<String>),
    ) -> Result<T> {
        let subject_again = subject.clone();
        let id = self.storage.append_audit(entry(actor, action, subject, now, "pending")).await?;
        let result = work.await;
        let (outcome, learned) = match &result {
            Ok(t) => describe(t),
            Err(e) => (e.code().to_owned(), None),
        };
        let mut ended = entry(actor, action, subject_again, now, &outcome);
        ended.refers_to = Some(id);
        ended.user_id = ended.user_id.or(learned);
        if let Err(e) = self.storage.append_audit(ended).await {
            // The action is done and stays done; no outcome names its `pending` entry.
            tracing::error!(event = "audit_error", id, error = %e, "recording an admin action's outcome");
        }
        result
    }

    /// Appends a finished entry at once: an event the bank only reports (a confirmation's
    /// outcome), with nothing left to run.
    ///
    /// # Errors
    /// [`crate::Error::Storage`] when the database fails.
    pub(super) async fn record(
        &self,
        actor: &Actor,
        action: AdminAction,
        subject: Subject,
        now: u64,
        outcome: &str,
    ) -> Result<()> {
        self.storage.append_audit(entry(actor, action, subject, now, outcome)).await.map(drop)
    }

    /// Audit entries, newest first.
    ///
    /// # Errors
    /// [`crate::Error::Storage`] when the database fails.
    pub async fn audit_log(&self, mut query: AuditQuery) -> Result<Vec<AuditEntry>> {
        query.limit = query.limit.clamp(1, MAX_AUDIT_PAGE);
        self.storage.audit(query).await
    }
}
