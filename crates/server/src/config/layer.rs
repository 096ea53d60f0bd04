//! How the layers of one setting combine: a leaf of the configuration, below every room that
//! reads a setting.

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
