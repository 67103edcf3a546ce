//! The appliance the HTTP benchmarks start: the local driver on a fresh
//! data directory, on a free port, no GPUs looked for, warnings logged
//! only; with a runtime for the benchmark's own client. The benchmark
//! allocates with jemalloc, as the `mlstack` binary does (src/main.rs), so
//! its figures are those of what ships.

use std::path::Path;
use std::sync::Arc;

use mlstack::app::{self, Options, Running};
use mlstack::clock::SystemClock;
use mlstack::config::{self, CliOverrides};

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

pub fn start(data_dir: &Path) -> anyhow::Result<(tokio::runtime::Runtime, Running)> {
    // reqwest is built without a TLS provider of its own (it speaks plain
    // HTTP here, but its builder wants one).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let overrides = CliOverrides {
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(data_dir.to_owned()),
    };
    let mut config = config::resolve(None, &Default::default(), &overrides)?;
    config.log_level = "warn".into();
    config.local.detect_gpus = false;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let running = app::start(
        config,
        Arc::new(SystemClock),
        Options {
            handle_signals: false,
        },
    )?;
    Ok((runtime, running))
}
