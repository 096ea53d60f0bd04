//! softtoken-server: the bank side of softtoken, a thin HTTP and storage shell over
//! softtoken-core.
//!
//! It plays the bank of `../shared/FLOW.md`: **issue** a registration (steps 3–5, admin API or
//! CLI), let the app **provision** it with the PAKE protocol of `docs/protocol.md` (step 7),
//! **verify** one-time codes for the bank web (steps 11–13 and every login), **end use** and
//! re-issue, and show a registration's **status** (step 1). `docs/server.md` explains how to run
//! and configure it.
//!
//! Modules from the top down; each imports only those below it:
//! - [`cli`], [`serve`]: the command line and running the two listeners.
//! - [`http`]: the routes; [`public_app`] and [`admin_app`] build the routers of the public and
//!   the admin listener, so tests can call them without a socket. The demo bank's pages and
//!   reset live there too (`http/demo/`).
//! - [`config`]: the configuration file, environment variables and flags, checked once into
//!   [`config::Settings`].
//! - [`bank`]: the rules, independent of HTTP and of the database.
//! - [`storage`]: the [`storage::Storage`] trait and its SQLite and PostgreSQL implementations.
//! - [`sealed`]: secrets at rest (AES-256-GCM under the master key, bound to their row);
//!   [`files`]: the server's files are its own (0600/0700; a readable key is refused).
//! - [`ratelimit`], [`edge`], [`metrics`]: what makes guessing expensive and visible, and the
//!   timeouts and connection caps against slow and greedy clients.
//! - [`error`], [`clock`], and the leaf types [`credential`] (the bearer tokens) and
//!   [`weakness`] (why an activation password is refused): the bottom.
//! - `testing` (feature `test-support`): an in-process bank for tests and benchmarks.
//! - `fuzzing` (feature `fuzzing`): the fuzz targets' bodies over the request bodies and the
//!   configuration file (`fuzz/`, `docs/FUZZING.md`).
//!
//! ```
//! use std::sync::Arc;
//! use softtoken_server::{bank::{Bank, OutboxDir, Policy}, clock::ManualClock, http::{public_app, AppState, HttpOptions}};
//! use softtoken_server::sealed::{MasterKey, Sealer};
//! use softtoken_server::storage::sqlite::{SqliteOptions, SqliteStorage};
//!
//! let dir = tempfile::tempdir()?;
//! let storage = Arc::new(SqliteStorage::open(SqliteOptions::new(dir.path().join("bank.db")))?);
//! let bank = Bank::new(storage, Sealer::new(&MasterKey::generate()?), Policy::default(),
//!                      OutboxDir::default(), None);
//! let router = public_app(AppState::new(Arc::new(bank), Arc::new(ManualClock::new(1_700_000_000)),
//!                                HttpOptions::default()));
//! # drop(router);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod bank;
pub mod cli;
pub mod clock;
pub mod config;
pub mod credential;
pub mod edge;
pub mod error;
pub mod files;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod http;
pub mod metrics;
pub mod ratelimit;
pub mod sealed;
pub mod serve;
pub mod storage;
#[cfg(feature = "test-support")]
pub mod testing;
pub mod weakness;

pub use error::{Error, Result};
pub use http::{admin_app, public_app, AppState};
