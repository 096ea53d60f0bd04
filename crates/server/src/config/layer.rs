//! How the layers of one setting combine, and the check of a count: a leaf of the
//! configuration, below every room that reads a setting.

use crate::error::{Error, Result};

/// One setting from its layers: the flag (clap has already put its environment variable under
/// it), else the file, else the default.
pub(super) fn layered<T>(flag: Option<T>, file: Option<T>, default: T) -> T {
    flag.or(file).unwrap_or(default)
}

/// A switch from its layers: on when the flag (or its environment variable) or the file turns
/// it on; a flag cannot turn off what the file turns on.
pub(super) fn switch(flag: bool, file: bool) -> bool {
    flag || file
}

/// The check of a count: at least 1.
pub(super) fn positive(v: u32, what: &str) -> Result<u32> {
    if v == 0 {
        return Err(Error::Config(format!("{what} must be at least 1")));
    }
    Ok(v)
}
