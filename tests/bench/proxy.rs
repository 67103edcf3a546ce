//! Service proxy benchmark (run by tests/bench/proxy.sh): what mlstack's
//! proxy adds to a container's service on the local driver.
//!
//! An appliance on a fresh data directory runs one container whose HTTP
//! service is the echo service (tests/support/echo_service.py, in the
//! sandbox); a second echo process, started here without a secret, is the
//! same service reached directly. A signed-in client then measures, one
//! request at a time, the latency of a small GET directly and through
//! `/containers/{id}/services/echo/` (p50 and p99 of each, and the
//! difference), the throughput of a large download both ways, and opens
//! 200 WebSockets through the proxy at once, each echoing messages.
//!
//! Prints one `key=value` line per figure. Environment: REQUESTS (small
//! requests each way, default 2000), DOWNLOAD_MB (default 1024),
//! WEBSOCKETS (default 200), MESSAGES (per WebSocket, default 20).

#[path = "appliance.rs"]
mod appliance;
#[path = "http.rs"]
mod http;
#[path = "seed.rs"]
mod seed;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mlstack::domain::catalog::{Protocol, ServiceKind};
use mlstack::domain::ids::{ProjectId, UserId};
use mlstack::domain::workload::{
    ContainerSpec, ImageRef, Resources, ServiceSpec, SshAccess, WorkloadId, WorkloadMeta,
    WorkloadStatus,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ECHO_SERVICE: &str = include_str!("../support/echo_service.py");

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn echo_container(project: ProjectId) -> ContainerSpec {
    ContainerSpec {
        meta: WorkloadMeta {
            id: WorkloadId::generate(),
            project,
            owner: UserId::generate(),
            name: "echo".into(),
        },
        image: ImageRef {
            name: "ubuntu".into(),
            tag: "24.04".into(),
        },
        command: None,
        env: [("ECHO_SERVICE".to_owned(), ECHO_SERVICE.to_owned())].into(),
        resources: Resources {
            cpu_milli: 1000,
            ram_mib: 4096,
            shm_mib: 0,
            gpu: None,
        },
        volumes: Vec::new(),
        services: vec![ServiceSpec {
            name: "echo".into(),
            kind: ServiceKind::Custom,
            port: 8000,
            protocol: Protocol::Http,
            local_command: Some("exec python3 -c \"$ECHO_SERVICE\"".into()),
        }],
        ssh: SshAccess::None,
        start_at: None,
        end_at: None,
    }
}

/// p50 and p99 of `count` sequential GETs of `url`, in milliseconds.
async fn latency(client: &reqwest::Client, url: &str, count: usize) -> anyhow::Result<(f64, f64)> {
    for _ in 0..count / 10 {
        client.get(url).send().await?.bytes().await?;
    }
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        let response = client.get(url).send().await?;
        anyhow::ensure!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        response.bytes().await?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    Ok((at(0.50), at(0.99)))
}

/// MB/s of downloading `bytes` from `url`, read as it streams.
async fn throughput(client: &reqwest::Client, url: &str, bytes: usize) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut response = client.get(url).send().await?;
    let mut got = 0;
    while let Some(piece) = response.chunk().await? {
        got += piece.len();
    }
    anyhow::ensure!(got == bytes, "{got} of {bytes} bytes");
    Ok(bytes as f64 / 1e6 / started.elapsed().as_secs_f64())
}

/// One WebSocket through the proxy echoing `messages` messages; the
/// round trips' durations.
async fn websocket(
    addr: SocketAddr,
    path: String,
    cookie: String,
    messages: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut stream = TcpStream::connect(addr).await?;
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\nCookie: {cookie}\r\n\
         Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await?;
    let mut answer = Vec::new();
    while !answer.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        anyhow::ensure!(stream.read(&mut byte).await? == 1, "the answer ended");
        answer.push(byte[0]);
    }
    anyhow::ensure!(answer.starts_with(b"HTTP/1.1 101"), "no 101");
    let mut times = Vec::with_capacity(messages);
    for n in 0..messages {
        let text = format!("message {n:04}");
        let mut frame = vec![0x81, 0x80 | text.len() as u8, 1, 2, 3, 4];
        frame.extend(
            text.bytes()
                .enumerate()
                .map(|(i, b)| b ^ [1, 2, 3, 4][i % 4]),
        );
        let started = Instant::now();
        stream.write_all(&frame).await?;
        let mut back = vec![0u8; 2 + text.len()];
        stream.read_exact(&mut back).await?;
        anyhow::ensure!(&back[2..] == text.as_bytes(), "a wrong echo");
        times.push(started.elapsed());
    }
    Ok(times)
}

fn main() -> anyhow::Result<()> {
    let requests = setting("REQUESTS", 2000);
    let download = setting("DOWNLOAD_MB", 1024) * 1024 * 1024;
    let sockets = setting("WEBSOCKETS", 200);
    let messages = setting("MESSAGES", 20);
    let dir = tempfile::tempdir()?;
    let (runtime, running) = appliance::start(dir.path())?;
    let addr = running.addr;
    let base = format!("http://{addr}");
    let services = running.services.clone();
    let result = runtime.block_on(async move {
        let (project, bench, password) = seed::bench_project(
            &services,
            "Proxy",
            mlstack::domain::quota::Resources {
                gpu_milli: 0,
                cpu_milli: 64_000,
                ram_mib: 65_536,
                storage_gib: 0,
            },
        )
        .await?;
        let id = services
            .create_container(&bench, echo_container(project))
            .await?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while services.workload(&bench, id).await?.status() != WorkloadStatus::Running {
            anyhow::ensure!(Instant::now() < deadline, "the container did not run");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (client, cookie) = http::sign_in(&base, &password).await?;

        // The same service, reached directly.
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let _direct = tokio::process::Command::new("python3")
            .arg("-c")
            .arg(ECHO_SERVICE)
            .env("PORT", port.to_string())
            .kill_on_drop(true)
            .spawn()?;
        while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            anyhow::ensure!(Instant::now() < deadline, "the direct echo did not listen");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let path = format!("/containers/{id}/services/echo/");
        let direct_url = format!("http://127.0.0.1:{port}{path}");
        let proxied_url = format!("{base}{path}");

        let (direct_p50, direct_p99) = latency(&client, &direct_url, requests).await?;
        let (proxy_p50, proxy_p99) = latency(&client, &proxied_url, requests).await?;
        println!("requests={requests}");
        println!("direct_p50_ms={direct_p50:.3}");
        println!("direct_p99_ms={direct_p99:.3}");
        println!("proxy_p50_ms={proxy_p50:.3}");
        println!("proxy_p99_ms={proxy_p99:.3}");
        println!("added_p50_ms={:.3}", proxy_p50 - direct_p50);
        println!("added_p99_ms={:.3}", proxy_p99 - direct_p99);

        let query = format!("x?download={download}");
        let direct_mbs = throughput(&client, &format!("{direct_url}{query}"), download).await?;
        let proxy_mbs = throughput(&client, &format!("{proxied_url}{query}"), download).await?;
        println!("download_mb={}", download / (1024 * 1024));
        println!("direct_download_mb_per_s={direct_mbs:.0}");
        println!("proxy_download_mb_per_s={proxy_mbs:.0}");

        let started = Instant::now();
        let handles: Vec<_> = (0..sockets)
            .map(|n| {
                tokio::spawn(websocket(
                    addr,
                    format!("{path}ws/{n}"),
                    cookie.clone(),
                    messages,
                ))
            })
            .collect();
        let mut held = 0;
        let mut times = Vec::new();
        for handle in handles {
            if let Ok(Ok(round_trips)) = handle.await {
                held += 1;
                times.extend(round_trips);
            }
        }
        times.sort();
        let p99 = times
            .get(times.len().saturating_mul(99) / 100)
            .copied()
            .unwrap_or_default();
        println!("websockets={sockets}");
        println!("websockets_held={held}");
        println!("websocket_messages_each={messages}");
        println!(
            "websocket_round_trip_p99_ms={:.3}",
            p99.as_secs_f64() * 1000.0
        );
        println!("websockets_seconds={:.2}", started.elapsed().as_secs_f64());
        services.delete_workload(&bench, id).await?;
        anyhow::Ok(())
    });
    running.stop()?;
    result
}
