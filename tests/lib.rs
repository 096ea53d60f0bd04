//! End-to-end tests across softtoken's crates live in `tests/tests/`; this library holds the
//! helpers they share.

pub mod skip;
