//! The app's state: the configuration, the bank's client, the clipboard, the vault slot
//! every command works through ([`AppState::with_vault`]), with this run's hold on the data
//! directory, the lock's background clock, and the confirmation requests the screens are
//! showing.
//!
//! Locking is dropping the open vault (its key leaves memory with it): with a PIN set, the next
//! open fails with `pin_needed` until `unlock` opens it with the PIN. The slot is where that is
//! decided, once, so no command can compute a code on a locked app.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use softtoken_core::client::{ClientOptions, ProvisioningClient};
use softtoken_core::confirm::Request;
use softtoken_core::error::ErrorKind;
use softtoken_core::ids::TokenId;
use softtoken_core::totp::ClockOffset;
use softtoken_core::vault::{KeyStore, PinCost, Vault};
use softtoken_core::Error;
use tokio::sync::Mutex;

use super::lock_clock::LockClock;
use crate::biometric::{BiometricStore, NoBiometrics};
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
    /// How long the app has been in the background, and whether that locks it.
    pub(super) clock: Arc<std::sync::Mutex<LockClock>>,
    pub(super) client: Result<ProvisioningClient, CommandError>,
    /// The Argon2 cost of new PINs when a debug build's test asked for a small one
    /// ([`test_pin_cost`]); `None`: core's own.
    pub(super) pin_cost: Option<PinCost>,
    pub(super) clipboard: Clipboard,
    /// The confirmation requests whose bank MAC was verified and that the web view was shown,
    /// by their id: an answer is computed over the request held here, never over anything the
    /// web view sends back.
    pub(super) shown: std::sync::Mutex<HashMap<String, ShownRequest>>,
    /// The phone's store for biometric unlock ([`crate::biometric`]); none on a desktop.
    pub(super) biometric: Arc<dyn BiometricStore>,
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

/// The Argon2 cost of new PINs that the window tests ask a debug build for
/// (`SOFTTOKEN_TEST_PIN_COST=small`), so a test sets and checks a PIN in milliseconds rather
/// than seconds. Not compiled into optimised builds (customers' and QA's): there every PIN is
/// derived at core's [`PinCost::APP`], whatever the environment says. A file always opens at
/// the cost its header names.
#[cfg(debug_assertions)]
fn test_pin_cost() -> Option<PinCost> {
    let small = PinCost { memory_kib: 8, passes: 1, lanes: 1 };
    (std::env::var("SOFTTOKEN_TEST_PIN_COST").as_deref() == Ok("small")).then_some(small)
}

/// Optimised builds derive every PIN at core's cost.
#[cfg(not(debug_assertions))]
fn test_pin_cost() -> Option<PinCost> {
    None
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
        let clock = LockClock::new(super::lock_clock::saved_lock_after(&config.data_dir));
        Self {
            config,
            keys,
            vault: Arc::new(Mutex::new(None)),
            instance: Arc::new(std::sync::Mutex::new(None)),
            clock: Arc::new(std::sync::Mutex::new(clock)),
            client,
            pin_cost: test_pin_cost(),
            clipboard: Clipboard::default(),
            shown: std::sync::Mutex::new(HashMap::new()),
            biometric: Arc::new(NoBiometrics),
        }
    }

    /// The same state, with the phone's biometric store (set up once the app exists).
    pub fn with_biometric_store(mut self, store: Arc<dyn BiometricStore>) -> Self {
        self.biometric = store;
        self
    }

    /// The settings this state was made with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The app left the foreground (suspended, or its window lost the focus). A kiosk never
    /// locks.
    pub fn went_away_now(&self) {
        if let (false, Ok(mut clock)) = (self.config.kiosk, self.clock.lock()) {
            clock.went_away(Instant::now());
        }
    }

    /// The app is in the foreground again; it locks at its next vault access if it was away
    /// longer than the customer's time.
    pub fn came_back_now(&self) {
        if let (false, Ok(mut clock)) = (self.config.kiosk, self.clock.lock()) {
            clock.came_back(Instant::now());
        }
    }

    /// Runs `f` on the vault slot on a blocking thread (opening the vault may ask the OS
    /// keychain, which blocks), after this run's hold on the data directory is taken and after
    /// the lock clock had its say. The vault in the slot, if any, is the unlocked one.
    pub(super) async fn with_slot<R, F>(&self, f: F) -> CommandResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Slot<'_>) -> CommandResult<R> + Send + 'static,
    {
        let vault = Arc::clone(&self.vault);
        let instance = Arc::clone(&self.instance);
        let clock = Arc::clone(&self.clock);
        let path = self.config.vault_path();
        let dir = self.config.data_dir.clone();
        let keys = Arc::clone(&self.keys);
        let key_name = self.config.key_name.clone();
        tauri::async_runtime::spawn_blocking(move || {
            let mut guard = vault.blocking_lock();
            hold_data_dir(&instance, &dir)?;
            let due = clock.lock().map_err(|_| internal())?.take_due(Instant::now());
            if due && guard.as_ref().is_some_and(Vault::has_pin) {
                *guard = None;
            }
            // Something else wrote the file (a backup restored, a sync tool): work on what is
            // there now, not on the copy in memory, which could only end in `vault_changed`.
            if guard.as_ref().map(Vault::changed_on_disk).transpose()? == Some(true) {
                *guard = None;
            }
            let mut slot = Slot {
                vault: &mut guard,
                path: &path,
                dir: &dir,
                keys: &keys,
                key_name: &key_name,
            };
            let result = f(&mut slot);
            // Another program changed the file: read it afresh next time, as core asks.
            if matches!(&result, Err(e) if e.kind == ErrorKind::VaultChanged.as_str()) {
                *guard = None;
            }
            result
        })
        .await
        .map_err(|_| internal())?
    }

    /// Runs `f` on the open vault, opening it first if needed: `pin_needed` while the app is
    /// locked, and `pin_required` while a bank's build that requires a PIN has none yet.
    pub(super) async fn with_vault<R, F>(&self, f: F) -> CommandResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Vault) -> CommandResult<R> + Send + 'static,
    {
        let pin_required = self.config.pin_required && !self.config.kiosk;
        self.with_slot(move |slot| {
            let vault = slot.open()?;
            if pin_required && !vault.has_pin() {
                return Err(CommandError::app(
                    AppErrorKind::PinRequired,
                    "Choose a PIN first: this app shows no code without one.",
                ));
            }
            f(vault)
        })
        .await
    }
}

/// The vault slot as [`AppState::with_slot`] hands it out, with what opening the vault needs.
pub(super) struct Slot<'a> {
    /// The unlocked vault, or `None` while closed (not opened yet, or locked).
    pub(super) vault: &'a mut Option<Vault>,
    pub(super) path: &'a Path,
    pub(super) dir: &'a Path,
    pub(super) keys: &'a Arc<dyn KeyStore>,
    pub(super) key_name: &'a str,
}

impl Slot<'_> {
    /// The open vault, opened with the keychain's key if it is closed (`pin_needed` when it
    /// has a PIN).
    pub(super) fn open(&mut self) -> CommandResult<&mut Vault> {
        if self.vault.is_none() {
            create_private_dir(self.dir).map_err(Error::Io)?;
            let opened = Vault::open(self.path, Arc::clone(self.keys), self.key_name)?;
            *self.vault = Some(opened);
        }
        self.vault.as_mut().ok_or_else(internal)
    }

    /// Makes sure the data directory exists, for an open that is not [`Slot::open`].
    pub(super) fn make_dir(&self) -> CommandResult<()> {
        Ok(create_private_dir(self.dir).map_err(Error::Io)?)
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
