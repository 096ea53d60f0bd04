//! The `softtoken-server` binary; everything lives in the library.

// glibc's malloc spent about a fifth of the verify path's CPU (malloc_consolidate and its
// neighbours, for hyper's buffers and the boxed handler futures); mimalloc took 15 % off the
// server's CPU per verification (docs/PERFORMANCE.md). The load benchmark declares the same.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    softtoken_server::cli::main()
}
