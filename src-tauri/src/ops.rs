//! What each command does, as plain async functions over [`AppState`], so tests call them
//! without a window. The Tauri commands in `lib.rs` only forward to these.
//!
//! Every response is one of the types below: names, IDs a customer already knows (the user ID
//! masked), codes and seconds. No seed, key or activation password is ever in one.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use softtoken_core::client::{ClientOptions, Confirmed, ProvisioningClient};
use softtoken_core::error::ErrorKind;
use softtoken_core::ids::{ActivationPassword, DisplayName, ServiceId, TokenId, UserId};
use softtoken_core::protocol::wire::AckRequest;
use softtoken_core::vault::{KeyStore, TokenSummary, Vault};
use softtoken_core::Error;
use tokio::sync::Mutex;
use zeroize::Zeroizing;

use crate::clipboard::{Clipboard, CLEAR_AFTER_SECS};
use crate::config::Config;
use crate::error::{AppErrorKind, CommandError, CommandResult};

/// The app's state, shared by all commands.
pub struct AppState {
    config: Config,
    keys: Arc<dyn KeyStore>,
    /// Opened on first use (and again after a failure, e.g. a keychain unlocked meanwhile).
    /// Locked only by [`AppState::with_vault`], on a blocking thread, for one vault operation:
    /// never across a network call, and never handed to core.
    vault: Arc<Mutex<Option<Vault>>>,
    /// This run's hold on the data directory ([`INSTANCE_LOCK_FILE`]), taken before the vault is
    /// first opened and kept until the app ends.
    instance: Arc<std::sync::Mutex<Option<std::fs::File>>>,
    client: Result<ProvisioningClient, CommandError>,
    clipboard: Clipboard,
}

/// One token as the screens show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    /// The vault's id of the token (random, not a bank ID).
    pub id: String,
    /// The whole display name.
    pub name: String,
    /// The base of the display name.
    pub base_name: String,
    /// The added wording, possibly empty.
    pub added_wording: String,
    /// The bank's name.
    pub issuer: String,
    /// The service ID (not secret: printed in the bank's mail and screens).
    pub service_id: String,
    /// The user ID with all but the last four digits hidden.
    pub user_id_masked: String,
    /// The bank has not yet acknowledged that this token arrived.
    pub pending_delivery: bool,
    /// The current code.
    pub code: String,
    /// The code of the next period, shown in the last seconds of this one.
    pub next_code: String,
    /// Seconds until `code` expires.
    pub seconds_left: u32,
    /// The device's Unix second at which `code` expires (already corrected for the bank's
    /// clock), so the screen counts down from one timer.
    pub expires_at: u64,
    /// The code period in seconds.
    pub period: u32,
}

/// What the web view needs to know about this run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    /// The app's version.
    pub version: &'static str,
    /// Kiosk mode: tokens are wiped after `kiosk_idle_secs` without input.
    pub kiosk: bool,
    /// Idle seconds before a kiosk wipes its tokens.
    pub kiosk_idle_secs: u32,
    /// Seconds a copied code stays on the clipboard.
    pub clipboard_clear_secs: u32,
    /// The session's language from the environment (Linux), e.g. `ja-JP`; the screens fall
    /// back to `navigator.language` without it.
    pub locale: Option<String>,
    /// A QA build (`--features qa`): every screen shows the "QA" badge.
    pub qa: bool,
    /// The language the customer chose with the switch ([`save_language`]), if any.
    pub language: Option<Language>,
}

/// A language of the screens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// 日本語.
    Ja,
    /// English.
    En,
}

impl Language {
    /// The name kept in [`LANGUAGE_FILE`], as the web view names it.
    fn as_str(self) -> &'static str {
        match self {
            Language::Ja => "ja",
            Language::En => "en",
        }
    }
}

/// File in the data directory that keeps the customer's choice of language.
pub const LANGUAGE_FILE: &str = "language";

/// The answer to a copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Copied {
    /// Seconds until the clipboard is cleared.
    pub clear_after_secs: u32,
}

/// Something the customer should be told after start-up work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Notice {
    /// `superseded`: a pending token was replaced by a newer setup and was removed.
    pub kind: &'static str,
    /// The removed token's display name.
    pub name: String,
}

fn token_view(t: &TokenSummary, vault: &Vault, now: u64) -> CommandResult<TokenView> {
    let view = vault.totp(&t.id)?.view(now);
    Ok(TokenView {
        id: t.id.as_str().to_owned(),
        name: t.display_name.to_string(),
        base_name: t.display_name.base().to_owned(),
        added_wording: t.display_name.added().to_owned(),
        issuer: t.issuer.clone(),
        service_id: t.service_id.as_str().to_owned(),
        user_id_masked: t.user_id.masked(),
        pending_delivery: t.pending_delivery.is_some(),
        code: view.code.as_str().to_owned(),
        next_code: view.next.as_str().to_owned(),
        seconds_left: view.seconds_left,
        expires_at: now + u64::from(view.seconds_left),
        period: view.period,
    })
}

fn find(vault: &Vault, id: &TokenId) -> CommandResult<TokenSummary> {
    vault.tokens().into_iter().find(|t| &t.id == id).ok_or_else(|| Error::TokenNotFound.into())
}

fn parse_id(id: &str) -> CommandResult<TokenId> {
    Ok(TokenId::new(id)?)
}

fn internal() -> CommandError {
    CommandError::app(AppErrorKind::Internal, "Something went wrong.")
}

/// The client for the configured server. A QA certificate authority that cannot be used leaves
/// the app running: activation then reports [`AppErrorKind::QaCaUnusable`].
fn provisioning_client(config: &Config) -> CommandResult<ProvisioningClient> {
    let trust = &config.server_trust;
    let mut options = ClientOptions { plain_http: trust.plain_http, ..ClientOptions::default() };
    let Some(ca) = &trust.qa_ca else {
        return ProvisioningClient::with_options(&config.server_url, options)
            .map_err(CommandError::from);
    };
    let unusable = || {
        CommandError::app(
            AppErrorKind::QaCaUnusable,
            "SOFTTOKEN_QA_CA is not a readable PEM certificate: fix or unset it, then restart.",
        )
    };
    options.extra_root_pem = Some(std::fs::read(ca).map_err(|_| unusable())?);
    ProvisioningClient::with_options(&config.server_url, options).map_err(|e| match e {
        Error::Tls(_) => unusable(),
        other => CommandError::from(other),
    })
}

impl AppState {
    /// State for `config`, keeping the vault key in `keys`. Nothing is opened yet.
    pub fn new(config: Config, keys: Arc<dyn KeyStore>) -> Self {
        let client = provisioning_client(&config);
        Self {
            config,
            keys,
            vault: Arc::new(Mutex::new(None)),
            instance: Arc::new(std::sync::Mutex::new(None)),
            client,
            clipboard: Clipboard::default(),
        }
    }

    /// The settings this state was made with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Runs `f` on the vault on a blocking thread (opening the vault may ask the OS keychain,
    /// which blocks), opening it first if needed.
    async fn with_vault<R, F>(&self, f: F) -> CommandResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Vault) -> CommandResult<R> + Send + 'static,
    {
        let slot = Arc::clone(&self.vault);
        let instance = Arc::clone(&self.instance);
        let path = self.config.vault_path();
        let dir = self.config.data_dir.clone();
        let keys = Arc::clone(&self.keys);
        let key_name = self.config.key_name.clone();
        tauri::async_runtime::spawn_blocking(move || {
            let mut guard = slot.blocking_lock();
            hold_data_dir(&instance, &dir)?;
            // Something else wrote the file (a backup restored, a sync tool): work on what is
            // there now, not on the copy in memory, which could only end in `vault_changed`.
            if guard.as_ref().map(Vault::changed_on_disk).transpose()? == Some(true) {
                *guard = None;
            }
            if guard.is_none() {
                *guard = Some(open_vault(&dir, path, keys, &key_name)?);
            }
            let result = match guard.as_mut() {
                Some(vault) => f(vault),
                None => Err(internal()),
            };
            // Another program changed the file: read it afresh next time, as core asks.
            if matches!(&result, Err(e) if e.kind == ErrorKind::VaultChanged.as_str()) {
                *guard = None;
            }
            result
        })
        .await
        .map_err(|_| internal())?
    }
}

/// The lock file in the data directory that one run of the app holds.
pub const INSTANCE_LOCK_FILE: &str = "softtoken.lock";

/// Takes this run's lock on the data directory, once: two copies of the app on one vault would
/// each keep a copy in memory and undo each other's changes.
fn hold_data_dir(
    held: &std::sync::Mutex<Option<std::fs::File>>,
    dir: &std::path::Path,
) -> CommandResult<()> {
    let mut held = held.lock().map_err(|_| internal())?;
    if held.is_some() {
        return Ok(());
    }
    create_private_dir(dir).map_err(Error::Io)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(INSTANCE_LOCK_FILE))
        .map_err(Error::Io)?;
    match file.try_lock() {
        Ok(()) => {
            *held = Some(file);
            Ok(())
        }
        Err(std::fs::TryLockError::WouldBlock) => Err(CommandError::app(
            AppErrorKind::AlreadyRunning,
            "The app is already open in another window.",
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::Io(e).into()),
    }
}

fn open_vault(
    dir: &std::path::Path,
    path: PathBuf,
    keys: Arc<dyn KeyStore>,
    key_name: &str,
) -> CommandResult<Vault> {
    create_private_dir(dir).map_err(Error::Io)?;
    Ok(Vault::open(&path, keys, key_name)?)
}

/// The data directory, readable by the customer's account only.
fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// `app_info`: settings the screens need.
pub fn app_info(state: &AppState) -> AppInfo {
    AppInfo {
        version: env!("CARGO_PKG_VERSION"),
        kiosk: state.config.kiosk,
        kiosk_idle_secs: state.config.kiosk_idle_secs,
        clipboard_clear_secs: CLEAR_AFTER_SECS,
        locale: if cfg!(target_os = "linux") {
            crate::config::env_language(|k| std::env::var(k).ok())
        } else {
            None
        },
        qa: crate::config::QA_BUILD,
        language: saved_language(state),
    }
}

fn saved_language(state: &AppState) -> Option<Language> {
    let text = std::fs::read_to_string(state.config.data_dir.join(LANGUAGE_FILE)).ok()?;
    [Language::Ja, Language::En].into_iter().find(|l| l.as_str() == text.trim())
}

/// Keeps the customer's choice of language for the next start. Kept by the app rather than in
/// the web view's storage, which WebKit writes to disk some time later: an app closed right
/// after the switch came back in the other language. A kiosk keeps nothing: the next visitor
/// starts in the machine's language.
///
/// # Errors
/// [`AppErrorKind::Internal`] when the file cannot be written; the choice then lasts for this
/// run only.
pub fn save_language(state: &AppState, language: Language) -> CommandResult<()> {
    if state.config.kiosk {
        return Ok(());
    }
    let dir = &state.config.data_dir;
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        // Written aside and renamed, so a crash leaves the old choice or the new, never half.
        let partial = dir.join(format!("{LANGUAGE_FILE}.partial"));
        std::fs::write(&partial, language.as_str())?;
        std::fs::rename(&partial, dir.join(LANGUAGE_FILE))
    };
    write().map_err(|_| internal())
}

/// What `start_new_vault` kept aside: the file's name (not its folder), for the customer to
/// tell support.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeptAside {
    /// The damaged vault's new file name, `tokens.vault.damaged-<unix seconds>`.
    pub file_name: String,
}

/// `start_new_vault`: the way out of a damaged vault or a lost key. The vault file is renamed
/// aside (never deleted) with its key moved to a matching keychain entry, and the next command
/// opens an empty vault. A vault that opens is left alone (`None`).
///
/// # Errors
/// Whatever else stops the vault from opening (keychain locked, newer app, I/O): nothing is
/// moved then.
pub async fn start_new_vault(state: &AppState, now: u64) -> CommandResult<Option<KeptAside>> {
    let slot = Arc::clone(&state.vault);
    let path = state.config.vault_path();
    let keys = Arc::clone(&state.keys);
    let key_name = state.config.key_name.clone();
    tauri::async_runtime::spawn_blocking(move || {
        let mut guard = slot.blocking_lock();
        let kept = Vault::set_aside(&path, keys, &key_name, now)?;
        // Opened afresh by the next command: empty if the file was put aside.
        *guard = None;
        Ok(kept.map(|k| KeptAside {
            file_name: k
                .file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        }))
    })
    .await
    .map_err(|_| internal())?
}

/// `list_tokens`: every token in the customer's order with its code at `now`.
///
/// # Errors
/// Vault errors (keychain locked, vault damaged, ...).
pub async fn list_tokens(state: &AppState, now: u64) -> CommandResult<Vec<TokenView>> {
    state.with_vault(move |v| v.tokens().iter().map(|t| token_view(t, v, now)).collect()).await
}

/// `activate` (step 7): validates what was typed, runs the provisioning handshake with the
/// bank, stores the token pending delivery, then sends the delivery ack and records the bank's
/// answer. The password is dropped (zeroized) once the handshake is done.
///
/// Data flows one way: core hands back a [`Confirmed`] token and this function stores it; the
/// ack can only be sent once the vault has given the token its id (`docs/protocol.md` §9).
///
/// # Errors
/// `invalid_input` naming the field, or the client's errors (wrong password with tries left,
/// locked, expired, already delivered, unknown IDs, offline, TLS, server problems); vault
/// errors storing the token (then nothing is acknowledged); `superseded` or
/// `registration_ended` if the bank refused the ack (the token was removed again).
pub async fn activate(
    state: &AppState,
    service_id: &str,
    user_id: &str,
    password: Zeroizing<String>,
    now: u64,
) -> CommandResult<TokenView> {
    let service = ServiceId::new(service_id)?;
    let user = UserId::new(user_id)?;
    let pw = ActivationPassword::new(&password)?;
    drop(password);
    let client = state.client.as_ref().map_err(Clone::clone)?;
    // Open the vault before talking to the bank: a locked keychain should stop us before the
    // bank counts an attempt, not after it delivered the token.
    state.with_vault(|_| Ok(())).await?;
    let handshake = client.handshake(&service, &user, &pw, now).await;
    drop(pw);
    let Confirmed { token, ack } = match handshake {
        Ok(confirmed) => confirmed,
        Err(Error::AlreadyDelivered) => {
            return Err(already_delivered_to(state, service, user).await?);
        }
        Err(e) => return Err(e.into()),
    };
    let id = state.with_vault(move |v| Ok(v.add(token, now)?)).await?;
    let provisioned = client.ack(ack.stored(id)).await;
    state
        .with_vault(move |v| {
            let id = provisioned.id;
            // Not delivered and not refused: stays pending, shown as such, and acknowledged by
            // the web view's next try (`resume_pending`).
            if let Some(refusal) = record_delivery(v, &id, provisioned.delivery)? {
                return Err(refusal.into());
            }
            let t = find(v, &id)?;
            token_view(&t, v, now)
        })
        .await
}

/// The bank's "already set up on a device", told apart: when this device holds the token, it is
/// no one else's doing and the customer only needs to find it in the list.
async fn already_delivered_to(
    state: &AppState,
    service: ServiceId,
    user: UserId,
) -> CommandResult<CommandError> {
    let here = state
        .with_vault(move |v| {
            Ok(v.tokens().iter().any(|t| t.service_id == service && t.user_id == user))
        })
        .await?;
    Ok(if here {
        CommandError::app(
            AppErrorKind::AlreadyOnThisDevice,
            "This token is already on this device: it is in the token list.",
        )
    } else {
        Error::AlreadyDelivered.into()
    })
}

/// Records the bank's answer to a stored token's delivery ack: delivered; or removed, when the
/// bank will never accept the token (a newer setup superseded it, or its use ended), returning
/// that refusal; any other failure leaves it pending for the next try.
fn record_delivery(
    v: &mut Vault,
    id: &TokenId,
    delivery: softtoken_core::Result<()>,
) -> CommandResult<Option<Error>> {
    match delivery {
        Ok(()) => {
            v.mark_delivered(id)?;
            Ok(None)
        }
        Err(refusal @ (Error::Superseded | Error::RegistrationEnded)) => {
            v.remove(id)?;
            Ok(Some(refusal))
        }
        Err(_) => Ok(None),
    }
}

/// `rename_token` (step 9 and rename): sets the display name.
///
/// # Errors
/// `invalid_input` for a bad name, `token_not_found`, vault errors.
pub async fn rename_token(
    state: &AppState,
    id: &str,
    base: &str,
    added: &str,
    now: u64,
) -> CommandResult<TokenView> {
    let id = parse_id(id)?;
    let name = DisplayName::new(base, added)?;
    state
        .with_vault(move |v| {
            v.rename(&id, name)?;
            let t = find(v, &id)?;
            token_view(&t, v, now)
        })
        .await
}

/// `delete_token`: removes a token from this device (ending use at the bank is separate).
///
/// # Errors
/// `token_not_found`, vault errors.
pub async fn delete_token(state: &AppState, id: &str) -> CommandResult<()> {
    let id = parse_id(id)?;
    state.with_vault(move |v| Ok(v.remove(&id)?)).await
}

/// `reorder_tokens`: the customer's new order.
///
/// # Errors
/// `invalid_input` for a malformed id, vault errors for ids that are not all the tokens.
pub async fn reorder_tokens(state: &AppState, ids: &[String]) -> CommandResult<()> {
    let ids = ids.iter().map(|s| parse_id(s)).collect::<CommandResult<Vec<_>>>()?;
    state.with_vault(move |v| Ok(v.reorder(&ids)?)).await
}

/// `copy_code`: puts the current code on the clipboard and clears it after
/// [`CLEAR_AFTER_SECS`].
///
/// # Errors
/// `token_not_found`, `clipboard_unavailable`, vault errors.
pub async fn copy_code(state: &AppState, id: &str, now: u64) -> CommandResult<Copied> {
    let id = parse_id(id)?;
    let code = state
        .with_vault(move |v| Ok(Zeroizing::new(v.totp(&id)?.code_at(now).as_str().to_owned())))
        .await?;
    state.clipboard.copy_then_clear(code, Duration::from_secs(CLEAR_AFTER_SECS.into()))?;
    Ok(Copied { clear_after_secs: CLEAR_AFTER_SECS })
}

/// `kiosk_reset`: wipes every token; refused unless the app runs as a kiosk.
///
/// # Errors
/// `not_kiosk` outside kiosk mode, vault errors.
pub async fn kiosk_reset(state: &AppState) -> CommandResult<()> {
    if !state.config.kiosk {
        return Err(CommandError::app(AppErrorKind::NotKiosk, "Only a kiosk wipes its tokens."));
    }
    state.with_vault(|v| Ok(v.clear()?)).await
}

/// `resume_pending`: sends the delivery acknowledgement the bank has not yet received for
/// each pending token. A token the bank superseded (or whose use it ended) is removed and
/// reported; any other failure leaves it pending for the next try, which the web view makes
/// while the app runs (`ui/acks.js`: backoff, on coming back online or to the foreground).
///
/// # Errors
/// Vault errors; the bank's are handled per token.
pub async fn resume_pending(state: &AppState) -> CommandResult<Vec<Notice>> {
    // The acks are computed under the lock, then sent without it: the network may be slow.
    let owed: Vec<(TokenId, String, AckRequest)> = state
        .with_vault(|v| {
            let mut owed = Vec::new();
            for t in v.tokens() {
                if let Some(ack) = v.pending_ack(&t.id)? {
                    owed.push((t.id.clone(), t.display_name.to_string(), ack));
                }
            }
            Ok(owed)
        })
        .await?;
    let Ok(client) = state.client.as_ref() else { return Ok(Vec::new()) };
    let mut notices = Vec::new();
    for (id, name, ack) in owed {
        let delivery = client.send_ack(&ack).await;
        if state.with_vault(move |v| record_delivery(v, &id, delivery)).await?.is_some() {
            notices.push(Notice { kind: "superseded", name });
        }
    }
    Ok(notices)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use softtoken_core::ids::{DisplayName, ServiceId, UserId};
    use softtoken_core::totp::{ClockOffset, Seed, TotpParams};
    use softtoken_core::vault::{MemoryKeyStore, NewToken};

    use super::*;

    const NOW: u64 = 1_700_000_000;

    /// The app's state over a vault in `dir` that holds one token.
    fn app_with_a_token(dir: &std::path::Path, kiosk: bool) -> AppState {
        let config = Config {
            // Nothing listens on the discard port: no command here talks to a bank.
            server_url: "http://127.0.0.1:9".into(),
            data_dir: dir.to_path_buf(),
            key_name: "vault-key".into(),
            kiosk,
            kiosk_idle_secs: 180,
            kiosk_area: None,
            server_trust: crate::config::ServerTrust::default(),
        };
        let keys = Arc::new(MemoryKeyStore::new());
        let mut vault = Vault::open(&config.vault_path(), keys.clone(), &config.key_name).unwrap();
        let token = NewToken {
            service_id: ServiceId::new("10112231").unwrap(),
            user_id: UserId::new("999800000001").unwrap(),
            display_name: DisplayName::new("しんきん", "").unwrap(),
            issuer: "Example Credit Union".into(),
            params: TotpParams::default(),
            offset: ClockOffset(0),
            seed: Seed::new(Zeroizing::new(b"12345678901234567890".to_vec())).unwrap(),
            pending_delivery: None,
        };
        vault.add(token, NOW).unwrap();
        AppState::new(config, keys)
    }

    #[tokio::test]
    async fn a_customers_app_refuses_the_kiosk_wipe_and_keeps_its_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let app = app_with_a_token(dir.path(), false);
        let refused = kiosk_reset(&app).await.unwrap_err();
        assert_eq!(refused.kind, "not_kiosk");
        assert_eq!(list_tokens(&app, NOW).await.unwrap().len(), 1);

        // A kiosk with the same token is wiped: the refusal above came from the mode alone.
        let kiosk_dir = tempfile::tempdir().unwrap();
        let kiosk = app_with_a_token(kiosk_dir.path(), true);
        kiosk_reset(&kiosk).await.unwrap();
        assert!(list_tokens(&kiosk, NOW).await.unwrap().is_empty());
    }

    /// Debug builds included: the badge follows the `qa` feature alone.
    #[test]
    fn only_a_qa_build_tells_the_screens_to_show_the_qa_badge() {
        let dir = tempfile::tempdir().unwrap();
        let info = app_info(&app_with_a_token(dir.path(), false));
        // Without the feature (a customer build, or this debug test build): no badge.
        assert_eq!(info.qa, cfg!(feature = "qa"));
    }
}
