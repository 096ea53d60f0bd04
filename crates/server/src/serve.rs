//! Running the server: storage, bank, demo registration, HTTP or HTTPS, graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::bank::{Bank, OutboxDir, DEMO_SERVICE_ID, DEMO_USER_ID, KEY_CHECK_SAMPLE};
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::edge::{ConnectionCaps, EdgeLimits};
use crate::error::{Error, Result};
use crate::http::{admin_app, public_app, AppState};
use crate::sealed::Sealer;
use crate::storage::postgres::{PostgresOptions, PostgresStorage};
use crate::storage::sqlite::{SqliteOptions, SqliteStorage};
use crate::storage::Storage;

/// How long open connections may finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// How often expired, unconfirmed attempts are deleted and the activation passwords of expired
/// registrations cleared.
const PURGE_EVERY: Duration = Duration::from_secs(600);

/// File descriptors a server needs besides its connections: the database's files (or its
/// pool's sockets, counted apart), the listeners, the runtime's own, the outbox's files.
const FILES_BESIDES_CONNECTIONS: u64 = 64;

/// The descriptors the caps of `settings` may hold open at once: each listener's connection cap
/// (both listeners share the same [`EdgeLimits`]), the database pool, and the rest.
fn files_needed(settings: &Settings) -> u64 {
    let connections = 2 * settings.http.edge.max_connections as u64;
    let pool = settings.postgres.as_ref().map_or(0, |pg| pg.pool_size as u64);
    connections + pool + FILES_BESIDES_CONNECTIONS
}

/// Raises the soft open-file limit towards what the caps need (up to the hard limit, as an
/// unprivileged process may), and warns when even that is short: past the limit `accept`
/// fails and a health check is refused long before `max_connections` is reached, which no
/// operator would guess from the configuration.
#[cfg(unix)]
fn check_file_limit(settings: &Settings) {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let needed = files_needed(settings);
    let mut limit = getrlimit(Resource::Nofile);
    let short = |l: &rustix::process::Rlimit| l.current.is_some_and(|c| c < needed);
    if short(&limit) {
        let raised = limit.maximum.map_or(needed, |hard| hard.min(needed));
        let wanted = rustix::process::Rlimit { current: Some(raised), maximum: limit.maximum };
        if setrlimit(Resource::Nofile, wanted).is_ok() {
            limit = getrlimit(Resource::Nofile);
        }
    }
    if short(&limit) {
        tracing::warn!(
            event = "file_limit_low",
            limit = limit.current,
            needed,
            max_connections = settings.http.edge.max_connections,
            "the open-file limit is below what max_connections on both listeners and the \
             database pool can open; connections past it are refused before any cap applies. \
             Raise it (systemd: LimitNOFILE=; a shell: ulimit -n) or lower max_connections"
        );
    }
}

#[cfg(not(unix))]
fn check_file_limit(_: &Settings) {}

/// Opens the storage of `settings`: PostgreSQL when a database URL is set, else the SQLite
/// file.
///
/// # Errors
/// As [`SqliteStorage::open`] and [`PostgresStorage::open`].
pub async fn open_storage(settings: &Settings) -> Result<Arc<dyn Storage>> {
    let audit_key = Some(Arc::new(settings.audit_key()));
    if let Some(pg) = &settings.postgres {
        let pg = PostgresOptions { audit_key, ..pg.clone() };
        return Ok(Arc::new(PostgresStorage::open(pg, settings.migrate_on_start).await?));
    }
    let mut opts = SqliteOptions::new(&settings.database);
    opts.audit_key = audit_key;
    opts.synchronous = settings.synchronous;
    opts.cache_capacity = settings.cache_capacity;
    Ok(Arc::new(SqliteStorage::open(opts)?))
}

/// The bank of `settings` over `storage`.
pub fn bank(settings: &Settings, storage: Arc<dyn Storage>) -> Arc<Bank> {
    Arc::new(Bank::new(
        storage,
        Sealer::with_previous(&settings.master_key, &settings.previous_master_keys),
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

/// The timeouts of [`EdgeLimits`] on every connection: a header (and the first request, and
/// the idle wait between requests) within `header_read_timeout`; HTTP/2 clients that stop
/// answering pings are dropped, and may open only a few streams at once.
fn with_edge_limits<A>(
    mut server: axum_server::Server<SocketAddr, A>,
    edge: EdgeLimits,
) -> axum_server::Server<SocketAddr, A> {
    let builder = server.http_builder();
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(edge.header_read_timeout);
    builder
        .http2()
        .timer(hyper_util::rt::TokioTimer::new())
        .keep_alive_interval(edge.header_read_timeout)
        .keep_alive_timeout(edge.header_read_timeout)
        .max_concurrent_streams(16);
    server.first_request_timeout(edge.header_read_timeout)
}

fn bind(address: SocketAddr) -> Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(address)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Serves `router` on `listener` (HTTPS with `tls`) under the caps and timeouts of `edge` until
/// `handle` shuts it down: the listener of [`run`], public so that the load benchmark
/// (`examples/load/`) measures the server's own edge rather than a test server.
///
/// # Errors
/// [`std::io::Error`] when the listener fails.
pub async fn listen(
    listener: std::net::TcpListener,
    handle: axum_server::Handle<SocketAddr>,
    router: axum::Router,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    edge: EdgeLimits,
    trusted_proxies: &[ipnet::IpNet],
) -> std::io::Result<()> {
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    let caps = ConnectionCaps::new(edge, trusted_proxies.to_vec());
    let server = axum_server::from_tcp(listener)?.handle(handle);
    match tls {
        None => with_edge_limits(server.acceptor(caps), edge).serve(service).await,
        Some(config) => {
            // Caps first, so a refused connection costs no handshake.
            let tls = axum_server::tls_rustls::RustlsAcceptor::new(config)
                .handshake_timeout(edge.header_read_timeout)
                .acceptor(caps);
            with_edge_limits(server.acceptor(tls), edge).serve(service).await
        }
    }
}

/// Serves until ctrl-c or SIGTERM, then lets open requests finish (up to 10 s) and flushes the
/// database.
///
/// The first line on standard output is `softtoken-server listening on <url>`, for scripts
/// that start the server on port 0.
///
/// # Errors
/// [`Error::Config`] for TLS files that cannot be loaded, or master keys that cannot open what
/// the database holds ([`Bank::check_master_keys`]); [`Error::Io`] when the address cannot be
/// bound; storage errors at open.
pub async fn run(settings: Settings) -> Result<()> {
    check_file_limit(&settings);
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
    // An instance whose keys cannot open what the others sealed would answer 500 to those
    // customers; it must not join them. A demo kiosk re-arms its one registration instead.
    match bank.check_master_keys(KEY_CHECK_SAMPLE).await {
        Err(Error::Config(message)) if settings.demo.is_some() => {
            tracing::warn!(event = "master_key_missing", "{message}");
        }
        checked => checked?,
    }
    if settings.http.admin_token.is_none() {
        tracing::info!(
            event = "admin_token_file_unset",
            "no admin token file: only named credentials (`softtoken-server credential`) open \
             the admin API"
        );
    }
    tracing::info!(event = "master_keys", current = %bank.current_key(),
        previous = settings.previous_master_keys.len(),
        "sealing under the current master key; previous keys only open");
    let state = AppState::new(bank.clone(), clock.clone(), settings.http.clone());

    let tls = match &settings.tls {
        None => None,
        Some(files) => {
            // One crypto provider for the process, ring, as the app's client uses
            // (docs/PLATFORMS.md); a second install attempt just fails harmlessly.
            let _ = rustls::crypto::ring::default_provider().install_default();
            Some(
                axum_server::tls_rustls::RustlsConfig::from_pem_file(&files.cert, &files.key)
                    .await
                    .map_err(|e| {
                        Error::Config(format!("cannot load the TLS certificate or key: {e}"))
                    })?,
            )
        }
    };
    let shutdown = ShutdownSignal::install()?;
    let listener = bind(settings.bind)?;
    let admin_listener = bind(settings.admin_bind)?;
    let scheme = if settings.tls.is_some() { "https" } else { "http" };
    let (local, admin_local) = (listener.local_addr()?, admin_listener.local_addr()?);
    println!("softtoken-server listening on {scheme}://{local}");
    println!("softtoken-server admin API listening on {scheme}://{admin_local}");
    tracing::info!(event = "listening", address = %local, admin_address = %admin_local,
        tls = settings.tls.is_some(), "serving");

    // The refusal log's summaries are written within a minute of a flood's end.
    tokio::spawn({
        let state = state.clone();
        async move {
            let mut tick =
                tokio::time::interval(Duration::from_secs(crate::http::refusals::WINDOW_SECS));
            loop {
                tick.tick().await;
                state.close_refusal_windows();
            }
        }
    });

    let purge = tokio::spawn({
        let storage = storage.clone();
        let clock = clock.clone();
        async move {
            let mut tick = tokio::time::interval(PURGE_EVERY);
            loop {
                tick.tick().await;
                match storage.forget_expired_passwords(clock.now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(
                        event = "passwords_forgotten",
                        count = n,
                        "activation passwords of expired registrations cleared"
                    ),
                    Err(e) => {
                        tracing::error!(event = "storage_error", error = %e, "clearing passwords")
                    }
                }
                // Expired attempts can never be confirmed: a flood of starts leaves nothing.
                match storage.purge_attempts(clock.now()).await {
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

    let (public_handle, admin_handle) = (axum_server::Handle::new(), axum_server::Handle::new());
    tokio::spawn({
        let handles = [public_handle.clone(), admin_handle.clone()];
        async move {
            shutdown.wait().await;
            for handle in handles {
                handle.graceful_shutdown(Some(SHUTDOWN_GRACE));
            }
        }
    });
    let edge = settings.http.edge;
    let trusted = &settings.http.trusted_proxies;
    let served = tokio::try_join!(
        listen(listener, public_handle, public_app(state.clone()), tls.clone(), edge, trusted),
        listen(admin_listener, admin_handle, admin_app(state), tls, edge, trusted),
    );
    purge.abort();
    storage.close().await;
    served?;
    tracing::info!(event = "stopped", "stopped; database flushed");
    Ok(())
}
