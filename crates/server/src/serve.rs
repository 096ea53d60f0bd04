//! Running the server: storage, bank, demo registration, HTTP or HTTPS, graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::bank::{Bank, OutboxDir, DEMO_SERVICE_ID, DEMO_USER_ID};
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::http::{app, AppState};
use crate::sealed::Sealer;
use crate::storage::postgres::PostgresStorage;
use crate::storage::sqlite::{SqliteOptions, SqliteStorage};
use crate::storage::Storage;

/// How long open connections may finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// How often expired, unconfirmed attempts are deleted.
const PURGE_EVERY: Duration = Duration::from_secs(600);

/// Opens the storage of `settings`: PostgreSQL when a database URL is set, else the SQLite
/// file.
///
/// # Errors
/// As [`SqliteStorage::open`] and [`PostgresStorage::open`].
pub async fn open_storage(settings: &Settings) -> Result<Arc<dyn Storage>> {
    if let Some(pg) = &settings.postgres {
        return Ok(Arc::new(PostgresStorage::open(pg.clone(), settings.migrate_on_start).await?));
    }
    let mut opts = SqliteOptions::new(&settings.database);
    opts.synchronous = settings.synchronous;
    opts.cache_capacity = settings.cache_capacity;
    Ok(Arc::new(SqliteStorage::open(opts)?))
}

/// The bank of `settings` over `storage`.
pub fn bank(settings: &Settings, storage: Arc<dyn Storage>) -> Arc<Bank> {
    Arc::new(Bank::new(
        storage,
        Sealer::new(&settings.master_key),
        settings.policy.clone(),
        OutboxDir(settings.outbox_dir.clone()),
        settings.demo.clone(),
    ))
}

/// Ctrl-c and SIGTERM, listened to from the moment it is installed (a signal that comes
/// before the server is ready must not kill it uncleanly).
pub struct ShutdownSignal {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    /// Starts listening.
    ///
    /// # Errors
    /// [`Error::Io`] if the signal handlers cannot be installed.
    pub fn install() -> Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Self {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Resolves on the first signal.
    pub async fn wait(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => {},
            _ = self.int.recv() => {},
        }
        #[cfg(not(unix))]
        {
            let _ = &mut self;
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        tracing::info!(event = "shutdown", "shutting down: finishing open requests");
    }
}

/// Serves until ctrl-c or SIGTERM, then lets open requests finish and flushes the database.
///
/// The first line on standard output is `softtoken-server listening on <url>`, for scripts
/// that start the server on port 0.
///
/// # Errors
/// [`Error::Config`] for TLS files that cannot be loaded; [`Error::Io`] when the address cannot
/// be bound; storage errors at open.
pub async fn run(settings: Settings) -> Result<()> {
    let storage = open_storage(&settings).await?;
    let bank = bank(&settings, storage.clone());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    if settings.demo.is_some() {
        bank.arm_demo(clock.now()).await?;
        let password =
            settings.demo.as_ref().map(|d| d.password.expose().to_vec()).unwrap_or_default();
        // The demo password is public by design (kiosks, README); printing it is the point.
        println!(
            "demo registration: service ID {DEMO_SERVICE_ID}, user ID {DEMO_USER_ID}, activation password {}",
            String::from_utf8_lossy(&password)
        );
    }
    if settings.http.admin_token.is_none() {
        tracing::warn!(
            event = "admin_disabled",
            "no admin token configured: the admin API refuses every call"
        );
    }
    let state = AppState::new(bank.clone(), clock.clone(), settings.http.clone());
    let router = app(state);

    let shutdown = ShutdownSignal::install()?;
    let listener = std::net::TcpListener::bind(settings.bind)?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    let scheme = if settings.tls.is_some() { "https" } else { "http" };
    println!("softtoken-server listening on {scheme}://{local}");
    tracing::info!(event = "listening", address = %local, tls = settings.tls.is_some(), "serving");

    let purge = tokio::spawn({
        let storage = storage.clone();
        let clock = clock.clone();
        async move {
            let mut tick = tokio::time::interval(PURGE_EVERY);
            loop {
                tick.tick().await;
                // Keep a day of history for support questions.
                match storage.purge_attempts(clock.now().saturating_sub(24 * 3600)).await {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::info!(event = "attempts_purged", count = n, "old attempts deleted")
                    }
                    Err(e) => {
                        tracing::error!(event = "storage_error", error = %e, "purging attempts")
                    }
                }
            }
        }
    });

    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    let served = match &settings.tls {
        None => {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            axum::serve(listener, service).with_graceful_shutdown(shutdown.wait()).await
        }
        Some(files) => {
            // One crypto provider for the process, ring, as the app's client uses
            // (docs/PLATFORMS.md); a second install attempt just fails harmlessly.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let config =
                axum_server::tls_rustls::RustlsConfig::from_pem_file(&files.cert, &files.key)
                    .await
                    .map_err(|e| {
                        Error::Config(format!("cannot load the TLS certificate or key: {e}"))
                    })?;
            let handle = axum_server::Handle::new();
            tokio::spawn({
                let handle = handle.clone();
                async move {
                    shutdown.wait().await;
                    handle.graceful_shutdown(Some(SHUTDOWN_GRACE));
                }
            });
            axum_server::from_tcp_rustls(listener, config)?.handle(handle).serve(service).await
        }
    };
    purge.abort();
    storage.close().await;
    served?;
    tracing::info!(event = "stopped", "stopped; database flushed");
    Ok(())
}
