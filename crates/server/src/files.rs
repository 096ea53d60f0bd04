//! Files the server keeps to itself: the database (and its WAL), the outbox, the keys.
//!
//! Whatever the umask, the server creates its directories `0700` and its files `0600`, and it
//! refuses to read a master key or a token from a file that others can read: such a key may
//! already be copied, and the bank must know before it trusts it.

use std::path::Path;

use crate::error::{Error, Result};

/// Creates `dir` and its missing parents, readable by the owner only.
///
/// # Errors
/// [`Error::Io`] when the directory cannot be created.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)?;
    Ok(())
}

/// Opens `path` for writing, created readable by the owner only (`create_new`: it must not
/// exist; otherwise truncating).
///
/// # Errors
/// [`Error::Io`] when it cannot be created (or, with `create_new`, exists).
pub fn create_private_file(path: &Path, create_new: bool) -> Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true);
    if create_new {
        opts.create_new(true);
    } else {
        opts.create(true).truncate(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    Ok(opts.open(path)?)
}

/// Takes group and other permissions away from an existing file (a database created by an
/// older version under a lax umask). A missing file is fine.
///
/// # Errors
/// [`Error::Io`] when the permissions cannot be changed.
pub fn make_private(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let Ok(meta) = std::fs::metadata(path) else { return Ok(()) };
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
            tracing::warn!(event = "file_made_private", path = %path.display(),
                was = format!("{:o}", mode & 0o777), "others could read this file; now 0600");
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Reads a secret (master key, token) from `path`, refusing a file others can read.
///
/// # Errors
/// [`Error::Config`] when the file cannot be read or is readable by group or others.
pub fn read_secret(path: &Path, what: &str) -> Result<zeroize::Zeroizing<String>> {
    let cannot = |e: std::io::Error| {
        Error::Config(format!("cannot read the {what} file {}: {e}", path.display()))
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path).map_err(cannot)?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(Error::Config(format!(
                "the {what} file {} can be read by others (mode {:o}); it may already be \
                 copied: make a new one if in doubt, then `chmod 600 {}`",
                path.display(),
                mode & 0o777,
                path.display()
            )));
        }
    }
    std::fs::read_to_string(path).map(zeroize::Zeroizing::new).map_err(cannot)
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_and_directories_are_the_owners_alone_and_a_readable_secret_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a/b/secret");
        std::io::Write::write_all(&mut create_private_file(&file, true).unwrap(), b"k").unwrap();
        assert_eq!((mode(&dir.path().join("a")), mode(&file)), (0o700, 0o600));
        assert_eq!(read_secret(&file, "master key").unwrap().as_str(), "k");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_secret(&file, "master key").unwrap_err().to_string();
        assert!(err.contains("can be read by others") && err.contains("chmod 600"), "{err}");
        make_private(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
    }
}
