//! The SQLite backend's settings.

use std::path::PathBuf;

/// How hard SQLite works to keep a commit through a power cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    /// WAL with `synchronous=NORMAL`: a commit survives a crash of the server process; the
    /// last commits before a power cut may be lost (the WAL is synced at checkpoints).
    Normal,
    /// Every commit is synced to disk before its callers are answered. The sync runs on a
    /// thread of its own while the writer goes on with the next batch (`syncer.rs`).
    Full,
}

impl Synchronous {
    /// Every value, by the name configuration uses for it.
    pub const NAMES: [&'static str; 2] = ["normal", "full"];

    /// The name in configuration (`synchronous = "normal"`, `--synchronous full`).
    pub fn as_str(self) -> &'static str {
        match self {
            Synchronous::Normal => "normal",
            Synchronous::Full => "full",
        }
    }

    /// Parses [`Synchronous::as_str`]; the command line and the configuration file call this
    /// at their edge.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "normal" => Some(Synchronous::Normal),
            "full" => Some(Synchronous::Full),
            _ => None,
        }
    }
}

/// Settings of the SQLite backend.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// The database file (created if absent).
    pub path: PathBuf,
    /// Durability of a commit.
    pub synchronous: Synchronous,
    /// Registrations kept in memory; beyond it, some are dropped (and read again on use).
    pub cache_capacity: usize,
    /// Most writes in one commit.
    pub max_batch: usize,
    /// Read-only connections kept open.
    pub readers: usize,
    /// The audit log's chain key; without it no audit entry is written.
    pub audit_key: Option<std::sync::Arc<crate::storage::AuditKey>>,
}

impl SqliteOptions {
    /// Defaults for a database file.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            synchronous: Synchronous::Full,
            cache_capacity: DEFAULT_CACHE_CAPACITY,
            max_batch: 1024,
            readers: 4,
            audit_key: None,
        }
    }
}

/// Registrations kept in memory by default: the customers active now at a large bank, in
/// tens of megabytes, whatever the number of registrations on disk.
pub const DEFAULT_CACHE_CAPACITY: usize = 100_000;
