//! A test that cannot run on this machine says so, so a green run cannot hide it.
//!
//! A test whose environment is missing (a Secret Service, the app window, python3) calls
//! [`missing`]. Inside the test command (scripts/test.sh), which sets the variable naming that
//! environment to `1`, a missing environment is a broken run and the test fails. In a
//! developer's plain `cargo test` the test prints `SKIPPED: <test>: <why, and how to run it>`
//! and returns; the test command collects those lines (`SOFTTOKEN_SKIPPED_LOG`) and fails
//! unless there are none.
//!
//! Core's tests use this same file by path: core cannot depend on this crate, which depends on
//! core.

use std::io::Write;

/// Whether the test command promised an environment: it sets `var` to `1`.
pub fn required(var: &str) -> bool {
    std::env::var(var).as_deref() == Ok("1")
}

/// Ends the running test, which cannot run here because of `why` (what is missing, and how to
/// run the test with it); the caller returns right after.
///
/// # Panics
/// When `required_by` names a variable set to `1`: the environment was promised and is
/// missing. Also when the skip cannot be written to `SOFTTOKEN_SKIPPED_LOG`, which would hide it.
pub fn missing(required_by: Option<&str>, why: &str) {
    if let Some(var) = required_by.filter(|var| required(var)) {
        panic!("{why}; {var}=1 says this must run here, so it fails instead of skipping");
    }
    // libtest runs each test on a thread named after it; a program without libtest (a
    // benchmark) runs on `main`, and its `why` names what it skips.
    let thread = std::thread::current();
    let line = match thread.name().filter(|name| *name != "main") {
        Some(test) => format!("SKIPPED: {test}: {why}\n"),
        None => format!("SKIPPED: {why}\n"),
    };
    // Straight to stderr: libtest captures only print!/eprint!, and a passing test's captured
    // output is never shown.
    let _ = std::io::stderr().write_all(line.as_bytes());
    if let Some(log) = std::env::var_os("SOFTTOKEN_SKIPPED_LOG") {
        // One write per line in append mode: tests running in parallel do not mix their lines.
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .and_then(|mut file| file.write_all(line.as_bytes()))
            .unwrap_or_else(|e| panic!("cannot record in {log:?} the line {line:?}: {e}"));
    }
}
