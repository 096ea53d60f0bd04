//! The bank's confirmation tests (`confirmation.rs`), unchanged, on a real PostgreSQL instead
//! of SQLite (`common::on_postgres`).

#[path = "confirmation.rs"]
mod cases;
