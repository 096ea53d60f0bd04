//! The admin listener's credential tests (`admin_credentials.rs`), unchanged, on a real
//! PostgreSQL instead of SQLite (`common::on_postgres`).

#[path = "admin_credentials.rs"]
mod cases;
