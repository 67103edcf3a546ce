//! The `mlstack` executable: parse the command line, run it, map the outcome
//! to an exit code (0 ok, 1 failure, 2 bad configuration or arguments).

use std::process::ExitCode;

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
