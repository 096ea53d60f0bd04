//! The bank's provisioning and verification tests (`provisioning.rs`), unchanged, on a real
//! PostgreSQL instead of SQLite: `common::Server` sees this binary's name
//! (`common::on_postgres`) and puts each test's bank on a private cluster.

#[path = "provisioning.rs"]
mod cases;
