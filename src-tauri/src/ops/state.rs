//! The app's state: the configuration, the bank's client, the clipboard, the vault slot
//! every command works through ([`AppState::with_vault`]), with this run's hold on the data
//! directory, and the confirmation requests the screens are showing.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use softtoken_core::client::{ClientOptions, ProvisioningClient};
use softtoken_core::confirm::Request;
use softtoken_core::error::ErrorKind;
use softtoken_core::ids::TokenId;
use softtoken_core::totp::ClockOffset;
use softtoken_core::vault::{KeyStore, Vault};
use softtoken_core::Error;
use tokio::sync::Mutex;

use crate::clipboard::Clipboard;
use crate::config::Config;
use crate::error::{AppErrorKind, CommandError, CommandResult};

/// The app's state, shared by all commands.
pub struct AppState {
    config: Config,
    pub(super) keys: Arc<dyn KeyStore>,
    /// Opened on first use (and again after a failure, e.g. a keychain unlocked meanwhile).
    /// Locked only by [`AppState::with_vault`], on a blocking thread, for one vault operation:
    /// never across a network call, and never handed to core.
    pub(super) vault: Arc<Mutex<Option<Vault>>>,
    /// This run's hold on the data directory ([`INSTANCE_LOCK_FILE`]), taken before the vault is
    /// first opened and kept until the app ends.
    instance: Arc<std::sync::Mutex<Option<std::fs::File>>>,
    pub(super) client: Result<ProvisioningClient, CommandError>,
    pub(super) clipboard: Clipboard,
    /// The confirmation requests whose bank MAC was verified and that the web view was shown,
    /// by their id: an answer is computed over the request held here, never over anything the
    /// web view sends back.
    pub(super) shown: std::sync::Mutex<HashMap<String, ShownRequest>>,
}

/// A verified confirmation request, with the token it is for.
pub(super) struct ShownRequest {
    pub(super) token: TokenId,
    pub(super) request: Request,
    pub(super) offset: ClockOffset,
}

/// The answer to a bug or a failed background task, which the customer cannot fix.
pub(super) fn internal() -> CommandError {
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
            shown: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The settings this state was made with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Runs `f` on the vault on a blocking thread (opening the vault may ask the OS keychain,
    /// which blocks), opening it first if needed.
    pub(super) async fn with_vault<R, F>(&self, f: F) -> CommandResult<R>
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
