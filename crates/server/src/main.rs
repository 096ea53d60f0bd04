//! The `softtoken-server` binary; everything lives in the library.

fn main() -> std::process::ExitCode {
    softtoken_server::cli::main()
}
