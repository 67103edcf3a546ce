//! The fake Kubernetes API server on its own, to point kubectl or the
//! appliance at by hand:
//!
//! ```text
//! cargo run --example fake-apiserver -- --port 6443 --kubeconfig /tmp/fake.kubeconfig
//! kubectl --kubeconfig /tmp/fake.kubeconfig get nodes
//! ```
//!
//! It writes the kubeconfig once it listens, prints its URL on a line of
//! its own, and runs until SIGINT or SIGTERM. Requests without credentials
//! are served (kubectl sends its token only over TLS); a wrong token gets
//! 401.

// The example only runs the server; the test-facing API goes unused here.
#[allow(dead_code)]
#[path = "fake_apiserver/mod.rs"]
mod fake_apiserver;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tokio::signal::unix::{SignalKind, signal};

/// A stateful fake Kubernetes API server on 127.0.0.1.
#[derive(Parser)]
struct Args {
    /// The port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Where to write a kubeconfig for the fake.
    #[arg(long)]
    kubeconfig: PathBuf,
    /// CPU-only nodes (32 CPUs, 256Gi, 110 pods each) beside the GPU node
    /// `gpu-node-1` (4 × NVIDIA-H200), for workloads of many pods.
    #[arg(long, default_value_t = 0)]
    nodes: u32,
}

fn main() -> ExitCode {
    let args = Args::parse();
    // kubectl sends no token over plain HTTP: let it in without one.
    let mut nodes = vec![fake_apiserver::FakeNode::gpu(
        "gpu-node-1",
        "NVIDIA-H200",
        4,
    )];
    nodes.extend((1..=args.nodes).map(|n| fake_apiserver::FakeNode::new(&format!("node-{n}"))));
    let server = match fake_apiserver::FakeApiServer::builder()
        .nodes(nodes)
        .port(args.port)
        .anonymous(true)
        .try_start()
    {
        Ok(server) => server,
        Err(e) => {
            eprintln!("fake-apiserver: cannot listen on port {}: {e}", args.port);
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = server.write_kubeconfig(&args.kubeconfig) {
        eprintln!(
            "fake-apiserver: cannot write {}: {e}",
            args.kubeconfig.display()
        );
        return ExitCode::FAILURE;
    }
    println!("{}", server.url());
    // The reader may be a pipe waiting for this line.
    let _ = std::io::stdout().flush();
    let waited = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .and_then(|runtime| {
            runtime.block_on(async {
                let mut terminate = signal(SignalKind::terminate())?;
                tokio::select! {
                    interrupted = tokio::signal::ctrl_c() => interrupted,
                    _ = terminate.recv() => Ok(()),
                }
            })
        });
    server.shutdown();
    match waited {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fake-apiserver: cannot wait for signals: {e}");
            ExitCode::FAILURE
        }
    }
}
