//! The `mlstack` executable: parse the command line, run it, map the outcome
//! to an exit code (0 ok, 1 failure, 2 bad configuration or arguments).

use std::process::ExitCode;

/// musl's allocator is slow under threads, so the static (musl) build uses
/// mimalloc. Elsewhere glibc's allocator is fast enough and returns freed
/// memory to the system sooner (mimalloc keeps its arenas committed), which
/// keeps the idle footprint small.
#[cfg(target_env = "musl")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match mlstack::cli::run(std::env::args_os()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mlstack: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
