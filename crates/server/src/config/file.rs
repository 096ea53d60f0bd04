//! The TOML file: every key optional, unknown keys refused so that a typo is noticed. Its
//! top-level keys and its `[limits]` table are the flags' names with `_` for `-`
//! (`docs/server.md`, "Configuration").

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::args::CommonArgs;
use crate::error::{Error, Result};

/// The TOML file. Every key is optional; unknown keys are refused so a typo is noticed.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub(super) bind: Option<SocketAddr>,
    pub(super) admin_bind: Option<SocketAddr>,
    pub(super) database: Option<PathBuf>,
    pub(super) database_url: Option<String>,
    pub(super) database_ca_file: Option<PathBuf>,
    pub(super) migrate_on_start: Option<bool>,
    pub(super) synchronous: Option<String>,
    pub(super) master_key_file: Option<PathBuf>,
    pub(super) previous_master_key_files: Option<Vec<PathBuf>>,
    pub(super) admin_token_file: Option<PathBuf>,
    pub(super) verify_token_file: Option<PathBuf>,
    pub(super) confirm_token_file: Option<PathBuf>,
    pub(super) outbox_dir: Option<PathBuf>,
    pub(super) download_url: Option<String>,
    pub(super) issuer: Option<String>,
    pub(super) display_name: Option<String>,
    pub(super) tls_cert: Option<PathBuf>,
    pub(super) tls_key: Option<PathBuf>,
    pub(super) behind_tls_proxy: Option<bool>,
    pub(super) trusted_proxies: Option<Vec<String>>,
    pub(super) demo: Option<bool>,
    pub(super) demo_activation_password: Option<String>,
    pub(super) log_json: Option<bool>,
    pub(super) log: Option<String>,
    #[serde(default)]
    pub(super) limits: FileLimits,
}

/// `[limits]` in the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileLimits {
    pub(super) provision_max_tries: Option<u32>,
    pub(super) verify_max_failures: Option<u32>,
    pub(super) reissue_wait_secs: Option<u64>,
    pub(super) expiry_days: Option<u32>,
    pub(super) attempt_ttl_secs: Option<u64>,
    pub(super) body_limit: Option<usize>,
    pub(super) cache_capacity: Option<usize>,
    pub(super) database_pool_size: Option<usize>,
    pub(super) database_wait_ms: Option<u64>,
    pub(super) rate_per_address_burst: Option<u32>,
    pub(super) rate_per_address_per_minute: Option<u32>,
    pub(super) rate_total_burst: Option<u32>,
    pub(super) rate_total_per_minute: Option<u32>,
    pub(super) header_read_timeout_secs: Option<u64>,
    pub(super) request_timeout_secs: Option<u64>,
    pub(super) max_connections: Option<usize>,
    pub(super) max_connections_per_address: Option<usize>,
    pub(super) rate_starts_per_address_burst: Option<u32>,
    pub(super) rate_starts_per_address_per_minute: Option<u32>,
    pub(super) max_open_attempts: Option<u32>,
}

/// Reads the TOML file.
///
/// # Errors
/// [`Error::Config`] when it cannot be read or parsed (with the line of the mistake).
pub fn read_file(path: &Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
    parse_file(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
}

/// The TOML text of a configuration file (unknown keys refused).
///
/// # Errors
/// The parser's message, with the line of the mistake.
pub fn parse_file(text: &str) -> std::result::Result<FileConfig, toml::de::Error> {
    toml::from_str(text)
}

/// Reads the file of `common` (or nothing).
///
/// # Errors
/// As [`read_file`].
pub fn file_of(common: &CommonArgs) -> Result<FileConfig> {
    match &common.config {
        Some(p) => read_file(p),
        None => Ok(FileConfig::default()),
    }
}
