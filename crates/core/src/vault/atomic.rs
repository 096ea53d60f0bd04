//! Crash-safe replacement of the vault file.
//!
//! A save writes the whole new file beside the old one, flushes it to the disk, renames it over
//! the old one (atomic on every platform softtoken runs on) and flushes the directory, so that a
//! crash or power cut at any instant leaves either the old file or the new one, never a mix.
//! The temporary file has one fixed name, so a crash leaves at most one stray file, which the
//! next save replaces and which [`read_if_exists`] never looks at.

use std::fs::{self, OpenOptions};
use std::io::{self, ErrorKind, Write};
use std::path::{Path, PathBuf};

/// The vault file's bytes, or `None` if there is no vault file yet.
///
/// # Errors
/// Any I/O error other than "not found".
pub fn read_if_exists(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The temporary file a save of `path` writes first: hidden, beside it, so the rename stays on
/// one file system.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp"))
}

/// Replaces `path` with `bytes` atomically and durably; on unix the file is readable by its
/// owner only (0600). Creates the parent directory (0700 on unix) if needed.
///
/// # Errors
/// Any I/O error; the old file is then unchanged and the temporary file removed.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = parent_dir(path);
    create_private_dir(&dir)?;
    let tmp = temp_path(path);
    // A stray file from a crashed save is ours; start afresh rather than trust its mode or
    // whether it is a symlink.
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let result = write_new(&tmp, bytes).and_then(|()| fs::rename(&tmp, path));
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(&dir)
}

/// Deletes `path` durably; a missing file is not an error.
///
/// # Errors
/// Any I/O error other than "not found".
pub fn remove(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    let _ = fs::remove_file(temp_path(path));
    sync_dir(&parent_dir(path))
}

/// Renames `from` to `to` durably (the caller makes sure `to` does not exist).
///
/// # Errors
/// Any I/O error; `from` is then where it was.
pub fn rename(from: &Path, to: &Path) -> io::Result<()> {
    fs::rename(from, to)?;
    sync_dir(&parent_dir(to))
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn write_new(tmp: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(tmp)?;
    file.write_all(bytes)?;
    // The data must be on disk before the rename makes it the vault, or a power cut could leave
    // a renamed but empty file.
    file.sync_all()
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Makes the rename itself durable: the new directory entry is on disk.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// Windows cannot open a directory as a file; NTFS journals the rename's metadata itself.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_replaces_the_whole_file_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.bin");
        write(&path, b"first version, rather long").unwrap();
        write(&path, b"second").unwrap();
        assert_eq!(read_if_exists(&path).unwrap().unwrap(), b"second");
        assert!(!temp_path(&path).exists());
        let names: Vec<_> =
            fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("vault.bin")]);
    }

    #[test]
    fn a_stray_temporary_file_from_a_crash_does_not_stop_the_next_save() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.bin");
        fs::write(temp_path(&path), b"torn half of a crashed save").unwrap();
        assert!(read_if_exists(&path).unwrap().is_none());
        write(&path, b"whole").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"whole");
        assert!(!temp_path(&path).exists());
    }

    #[test]
    fn a_failed_save_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.bin");
        write(&path, b"old").unwrap();
        // A directory where the temporary file must go makes the save fail before the rename.
        fs::create_dir(temp_path(&path)).unwrap();
        assert!(write(&path, b"new").is_err());
        assert_eq!(fs::read(&path).unwrap(), b"old");
    }

    #[test]
    fn missing_parent_directories_are_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a").join("b").join("vault.bin");
        write(&path, b"x").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"x");
        remove(&path).unwrap();
        remove(&path).unwrap();
        assert!(!path.exists());
    }

    #[cfg(unix)]
    #[test]
    fn only_the_owner_can_read_the_vault() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("private").join("vault.bin");
        write(&path, b"x").unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let parent = fs::metadata(path.parent().unwrap()).unwrap().permissions().mode();
        assert_eq!(parent & 0o777, 0o700);
    }
}
