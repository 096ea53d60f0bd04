//! The softtoken desktop binary; everything lives in the library so mobile targets share it.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    softtoken_app::run()
}
