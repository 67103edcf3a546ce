//! The `mlstack` executable: parse the command line, run it, map the outcome
//! to an exit code (0 ok, 1 failure, 2 bad configuration or arguments).

use std::process::ExitCode;

/// jemalloc on every target, with its background threads on (built in, no
/// environment variable): they hand freed pages back to the system within
/// seconds even when the threads that freed them are idle, so the footprint
/// falls back after load (password hashes take 7 MiB each; glibc kept them
/// in its pools, and musl's allocator is slow under threads).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    match mlstack::cli::run(std::env::args_os()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mlstack: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
