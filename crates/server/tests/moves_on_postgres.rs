//! The phone move (`moves.rs`), unchanged, on a real PostgreSQL instead of SQLite
//! (`common::on_postgres`).

#[path = "moves.rs"]
mod cases;
