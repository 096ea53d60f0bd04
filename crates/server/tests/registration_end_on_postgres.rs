//! The token's own end of use (`registration_end.rs`), unchanged, on a real PostgreSQL
//! instead of SQLite (`common::on_postgres`).

#[path = "registration_end.rs"]
mod cases;
