//! The secrets: the master keys and the demo password from environment variables or files, the
//! bearer tokens from files only; never from flags (they would show in `ps`). Read last, so that a
//! configuration refused for anything else reads no secret and writes no demo key.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Deserialize;
use softtoken_core::ids::ActivationPassword;
use zeroize::Zeroizing;

use super::defaults::DEFAULT_DEMO_PASSWORD;
use super::layer::concern;
use crate::bank::Demo;
use crate::credential::AdminToken;
use crate::error::{Error, Result};
use crate::sealed::MasterKey;

concern! {
    /// The master key files: top-level keys of the file.
    #[derive(Debug, Args, Default, Deserialize)]
    #[serde(default)]
    pub struct KeyFiles {
        /// File holding the 32-byte master key (64 hex digits or base64). The key itself may
        /// instead be given in SOFTTOKEN_MASTER_KEY.
        #[arg(long, env = "SOFTTOKEN_MASTER_KEY_FILE", global = true)]
        pub master_key_file: Option<PathBuf>,
        /// Key files of earlier master keys, still needed to open secrets not yet re-sealed under
        /// the current key (during a key rotation; see `rotate-key`). Repeat the flag, or separate
        /// the files with commas in the environment variable.
        #[arg(
            long = "previous-master-key-file",
            env = "SOFTTOKEN_PREVIOUS_MASTER_KEY_FILES",
            global = true,
            value_delimiter = ','
        )]
        pub previous_master_key_files: Vec<PathBuf>,
        /// File holding the audit log's chain key (32 bytes as 64 hex digits or base64), kept
        /// apart from the master key so that rotating that never touches the chain; without
        /// it the chain key is derived from the master key (docs/server.md, the audit log).
        #[arg(long, env = "SOFTTOKEN_AUDIT_KEY_FILE", global = true)]
        pub audit_key_file: Option<PathBuf>,
    }
}

concern! {
    /// The bearer tokens' files, one field per token: top-level keys of the file. Each file is a
    /// named credential of the admin listener (`legacy-admin`, `legacy-verify`,
    /// `legacy-confirm`), the way to it from before `softtoken-server credential`.
    #[derive(Debug, Args, Default, Deserialize)]
    #[serde(default)]
    pub struct TokenFiles {
        /// File holding the admin bearer token: the credential legacy-admin, scope admin.
        #[arg(long, env = "SOFTTOKEN_ADMIN_TOKEN_FILE")]
        pub admin_token_file: Option<PathBuf>,
        /// File holding the web tier's verify-only bearer token: the credential legacy-verify,
        /// scope verify (/v1/admin/verify and nothing else).
        #[arg(long, env = "SOFTTOKEN_VERIFY_TOKEN_FILE")]
        pub verify_token_file: Option<PathBuf>,
        /// File holding the web tier's confirm-only bearer token: the credential
        /// legacy-confirm, scope transactions (the /v1/admin/confirmations endpoints).
        #[arg(long, env = "SOFTTOKEN_CONFIRM_TOKEN_FILE")]
        pub confirm_token_file: Option<PathBuf>,
    }
}

concern! {
    /// Demo mode: top-level keys of the file.
    #[derive(Debug, Args, Default, Deserialize)]
    #[serde(default)]
    pub struct DemoArgs {
        /// Demo mode: keep the demo registration (service ID 10112231, user ID 999800000001)
        /// armed. Its activation password is SOFTTOKEN_DEMO_ACTIVATION_PASSWORD [default: 3718].
        #[arg(long, env = "SOFTTOKEN_DEMO")]
        pub demo: bool,
        /// The demo registration's activation password (file only; or
        /// SOFTTOKEN_DEMO_ACTIVATION_PASSWORD).
        #[arg(skip)]
        pub demo_activation_password: Option<String>,
    }
}

/// The secrets of the settings.
pub(super) struct Secrets {
    pub(super) master_key: MasterKey,
    pub(super) previous_master_keys: Vec<MasterKey>,
    pub(super) audit_key: Option<MasterKey>,
    pub(super) admin_token: Option<AdminToken>,
    pub(super) verify_token: Option<AdminToken>,
    pub(super) confirm_token: Option<AdminToken>,
}

/// Where `resolve_with` gets the secrets from: the environment and files ([`read_secrets`]),
/// or a fixed set for the fuzz target, which must not open the paths a fuzzer writes.
pub(super) type SecretSource = fn(&KeyFiles, &TokenFiles, bool, &Path) -> Result<Secrets>;

/// The fixed secrets of the fuzz target: a key, no tokens.
#[cfg(feature = "fuzzing")]
pub(super) fn fixed_secrets(_: &KeyFiles, _: &TokenFiles, _: bool, _: &Path) -> Result<Secrets> {
    Ok(Secrets {
        master_key: MasterKey::parse(&"5a".repeat(32))?,
        previous_master_keys: Vec::new(),
        audit_key: None,
        admin_token: None,
        verify_token: None,
        confirm_token: None,
    })
}

impl std::fmt::Debug for Demo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Demo { password: <redacted> }")
    }
}

/// The demo registration of demo mode: its password from the environment, else the file, else
/// the printed default.
///
/// # Errors
/// As [`ActivationPassword::new`], for a password that is not one.
pub(super) fn demo(file: &DemoArgs) -> Result<Demo> {
    let text = env_secret("SOFTTOKEN_DEMO_ACTIVATION_PASSWORD")
        .or(file.demo_activation_password.clone().map(Zeroizing::new))
        .unwrap_or_else(|| Zeroizing::new(DEFAULT_DEMO_PASSWORD.to_owned()));
    Ok(Demo { password: ActivationPassword::new(&text)? })
}

fn env_secret(name: &str) -> Option<Zeroizing<String>> {
    std::env::var(name).ok().map(Zeroizing::new).filter(|s| !s.trim().is_empty())
}

fn read_secret_file(path: &Path, what: &str) -> Result<Zeroizing<String>> {
    crate::files::read_secret(path, what)
}

/// The master key and the bearer tokens from the environment or their files (as layered); in
/// demo mode a missing key file is made.
pub(super) fn read_secrets(
    keys: &KeyFiles,
    tokens: &TokenFiles,
    demo_on: bool,
    database: &Path,
) -> Result<Secrets> {
    let master_key = if let Some(text) = env_secret("SOFTTOKEN_MASTER_KEY") {
        MasterKey::parse(&text)?
    } else if let Some(path) = keys.master_key_file.clone() {
        if demo_on && !path.exists() {
            create_demo_key(&path)?;
        }
        MasterKey::from_file(&path)?
    } else if demo_on {
        // A kiosk should start with one command; its key lives beside its database.
        let path = PathBuf::from(format!("{}.key", database.display()));
        if !path.exists() {
            create_demo_key(&path)?;
        }
        MasterKey::from_file(&path)?
    } else {
        return Err(Error::Config(
            "no master key: set SOFTTOKEN_MASTER_KEY or --master-key-file \
             (make one with `softtoken-server gen-key > master.key`)"
                .into(),
        ));
    };

    let previous_files = &keys.previous_master_key_files;
    let mut previous_master_keys = Vec::with_capacity(previous_files.len());
    for path in previous_files {
        let key = MasterKey::from_file(path)?;
        if key.id() == master_key.id() {
            return Err(Error::Config(format!(
                "the previous master key file {} holds the current master key; list only \
                 earlier keys there",
                path.display()
            )));
        }
        previous_master_keys.push(key);
    }

    let audit_key = keys.audit_key_file.as_deref().map(MasterKey::from_file).transpose()?;

    let admin_token =
        bearer("SOFTTOKEN_ADMIN_TOKEN", tokens.admin_token_file.as_ref(), "admin token")?;
    let verify_token =
        bearer("SOFTTOKEN_VERIFY_TOKEN", tokens.verify_token_file.as_ref(), "verify token")?;
    if let (Some(a), Some(v)) = (&admin_token, &verify_token) {
        if a == v {
            return Err(Error::Config(
                "the verify token must differ from the admin token: it is given to the web tier"
                    .into(),
            ));
        }
    }

    let confirm_token =
        bearer("SOFTTOKEN_CONFIRM_TOKEN", tokens.confirm_token_file.as_ref(), "confirm token")?;
    if let Some(c) = &confirm_token {
        if admin_token.as_ref() == Some(c) || verify_token.as_ref() == Some(c) {
            return Err(Error::Config(
                "the confirm token must differ from the admin and verify tokens: each grants \
                 something else"
                    .into(),
            ));
        }
    }

    Ok(Secrets {
        master_key,
        previous_master_keys,
        audit_key,
        admin_token,
        verify_token,
        confirm_token,
    })
}

/// A bearer token from its file. Its old environment variable is refused, not ignored: a
/// variable is inherited by every child process and shown by `ps e` and in crash reports, and
/// a server that silently dropped it would come up with its admin API closed.
fn bearer(variable: &str, file: Option<&PathBuf>, what: &str) -> Result<Option<AdminToken>> {
    if env_secret(variable).is_some() {
        return Err(Error::Config(format!(
            "{variable} is no longer read: put the {what} in a file (chmod 600) and name it with \
             {variable}_FILE or its flag, or issue a named credential with `softtoken-server \
             credential add`"
        )));
    }
    file.map(|path| AdminToken::new(&read_secret_file(path, what)?)).transpose()
}

fn create_demo_key(path: &Path) -> Result<()> {
    let key = MasterKey::generate()?;
    write_private(path, format!("{}\n", key.to_hex().as_str()).as_bytes())?;
    eprintln!("softtoken-server: created demo master key file {}", path.display());
    Ok(())
}

/// Writes a new file readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let mut f = crate::files::create_private_file(path, true)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}
