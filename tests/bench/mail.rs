//! Mail benchmark (run by tests/bench/mail.sh, issue 11): a backlog of
//! 1,000 mails delivered to a local SMTP server (aiosmtpd, writing a
//! Maildir) over the mail sender's pooled, reused connections, and My
//! Profile's latency while the backlog drains against its latency without
//! one.
//!
//! 1. An appliance on a fresh data directory, with `[mail]` pointing at
//!    aiosmtpd on 127.0.0.1, gets the user `bench`, who signs in over HTTP;
//!    `GET /account/profile` is asked PROFILE_REQUESTS times, one every
//!    PACE_MS (a user clicking, not a flood that would take the CPU from
//!    the mail sender), with the session cookie: the p50 and p99 without a
//!    backlog.
//! 2. The appliance stops; 1,000 Pending mails (the project-ending
//!    reminder, both parts) are written into its store's outbox as the
//!    lifecycle sweep writes them, and it starts again on the same store.
//! 3. From that start, the time until the 1,000th message is in the
//!    Maildir; meanwhile My Profile is asked the same way, and its p50 and
//!    p99 are taken over the requests answered while the backlog drained.
//!
//! Prints `key=value` lines. Environment: MAILS (default 1000),
//! PROFILE_REQUESTS (default 1000), PACE_MS (default 5), CONNECTIONS (the `[mail]` pool,
//! default 4, the default of config.toml), AIOSMTPD_PYTHON (default
//! /tmp/mlstack-aiosmtpd/bin/python, the venv `.ci/run` makes).

#[path = "http.rs"]
mod http;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mlstack::app::{self, Options};
use mlstack::clock::SystemClock;
use mlstack::config::{self, CliOverrides, Config};
use mlstack::domain::ids::MailId;
use mlstack::domain::user::Lang;
use mlstack::i18n::Catalog;
use mlstack::mail::{MailSettings, Security};
use mlstack::store::Store;
use mlstack::store::outbox::{self, MailRecord, MailStatus};

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// aiosmtpd on a free port of 127.0.0.1, killed when dropped.
struct Sink {
    child: Child,
    maildir: PathBuf,
    port: u16,
}

impl Sink {
    fn start(dir: &Path) -> anyhow::Result<Sink> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let python = std::env::var_os("AIOSMTPD_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/tmp/mlstack-aiosmtpd/bin/python"));
        let maildir = dir.join("maildir");
        let child = Command::new(&python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot start aiosmtpd with {}: {e}", python.display()))?;
        let sink = Sink {
            child,
            maildir,
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            anyhow::ensure!(Instant::now() < deadline, "aiosmtpd did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(sink)
    }

    /// Messages received so far.
    fn received(&self) -> usize {
        std::fs::read_dir(self.maildir.join("new")).map_or(0, |d| d.count())
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(data_dir: &Path, port: u16, connections: u32) -> anyhow::Result<Config> {
    let overrides = CliOverrides {
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(data_dir.to_owned()),
    };
    let mut config = config::resolve(None, &Default::default(), &overrides)?;
    config.log_level = "warn".into();
    config.local.detect_gpus = false;
    config.mail = Some(MailSettings {
        host: "127.0.0.1".into(),
        port,
        security: Security::None,
        username: None,
        password: None,
        from_address: "mlstack@lab.example".parse()?,
        from_name: "mlstack".into(),
        connections,
    });
    Ok(config)
}

/// One `GET /account/profile`; its latency. Then waits out the rest of
/// `pace`.
async fn profile(client: &reqwest::Client, base: &str, pace: Duration) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let answer = client.get(format!("{base}/account/profile")).send().await?;
    anyhow::ensure!(
        answer.status().is_success(),
        "My Profile answered {}",
        answer.status()
    );
    answer.bytes().await?;
    let took = started.elapsed();
    tokio::time::sleep(pace.saturating_sub(took)).await;
    Ok(took)
}

/// (p50, p99) in milliseconds.
fn percentiles(mut latencies: Vec<Duration>) -> (f64, f64) {
    latencies.sort();
    let at = |q: f64| {
        let last = latencies.len().saturating_sub(1);
        // Nearest rank.
        let rank = ((q * latencies.len() as f64).ceil() as usize).clamp(1, last + 1) - 1;
        latencies
            .get(rank)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    (at(0.50), at(0.99))
}

/// `count` Pending reminders to `bench` at bench@lab.example, written as the
/// lifecycle sweep writes them (one transaction).
fn write_backlog(data_dir: &Path, count: usize) -> anyhow::Result<()> {
    let store = Store::open_in(data_dir)?;
    let catalog = Catalog::load().map_err(anyhow::Error::msg)?;
    let tr = catalog.tr(Lang::En);
    let now = jiff::Timestamp::now();
    store.write(|tx| {
        let bench = mlstack::store::users::get_by_username_tx(tx, "bench")?
            .ok_or(mlstack::store::StoreError::Corrupt("no bench user".into()))?;
        for n in 0..count {
            let mail = mlstack::notify::reminder(tr, &format!("Bench {n}"), 7, "2027-01-31");
            outbox::put_tx(
                tx,
                &MailRecord {
                    id: MailId::generate(),
                    to_user: bench.id,
                    to_address: "bench@lab.example".into(),
                    to_name: "Bench".into(),
                    subject: mail.subject,
                    body: mail.body,
                    html: mail.html,
                    created_at: now,
                    status: MailStatus::Pending,
                    attempts: 0,
                    last_error: None,
                    next_try: None,
                    sent_at: None,
                },
            )?;
        }
        Ok::<_, mlstack::store::StoreError>(())
    })?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    // reqwest is built without a TLS provider of its own.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mails = setting("MAILS", 1000);
    let requests = setting("PROFILE_REQUESTS", 1000);
    let pace = Duration::from_millis(u64::try_from(setting("PACE_MS", 5))?);
    let connections = u32::try_from(setting("CONNECTIONS", 4))?;
    let dir = tempfile::tempdir()?;
    let data_dir = dir.path().join("data");
    let sink = Sink::start(dir.path())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;

    // 1. No backlog.
    let running = app::start(
        config(&data_dir, sink.port, connections)?,
        Arc::new(SystemClock),
        Options {
            handle_signals: false,
        },
    )?;
    let base = format!("http://{}", running.addr);
    let services = running.services.clone();
    let (client, baseline) = runtime.block_on(async {
        let created = services.create_user("bench", false).await?;
        let (client, _) = http::sign_in(&base, &created.password).await?;
        let mut latencies = Vec::with_capacity(requests);
        for _ in 0..requests {
            latencies.push(profile(&client, &base, pace).await?);
        }
        anyhow::Ok((client, percentiles(latencies)))
    })?;
    drop(services);
    running.stop()?;

    // 2. The backlog, written while the appliance is down.
    write_backlog(&data_dir, mails)?;

    // 3. Start again: the mail sender drains it while My Profile is asked.
    let started = Instant::now();
    let running = app::start(
        config(&data_dir, sink.port, connections)?,
        Arc::new(SystemClock),
        Options {
            handle_signals: false,
        },
    )?;
    let base = format!("http://{}", running.addr);
    let (drained, during, asked) = runtime.block_on(async {
        let mut latencies = Vec::new();
        let deadline = started + Duration::from_secs(300);
        while sink.received() < mails {
            anyhow::ensure!(
                Instant::now() < deadline,
                "only {} of {mails} mails arrived in 300 s",
                sink.received()
            );
            latencies.push(profile(&client, &base, pace).await?);
        }
        let drained = started.elapsed();
        let asked = latencies.len();
        anyhow::Ok((drained, percentiles(latencies), asked))
    })?;
    let sent = runtime.block_on(async {
        // The outcomes are written just after the server took each mail.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let outbox = running
                .services
                .outbox_page(1, usize::MAX)
                .await
                .map(|page| page.mails)?;
            let sent = outbox
                .iter()
                .filter(|m| m.status == MailStatus::Sent)
                .count();
            if sent >= mails || Instant::now() > deadline {
                return anyhow::Ok(sent);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })?;
    running.stop()?;

    println!("mails={mails}");
    println!("connections={connections}");
    println!("received={}", sink.received());
    println!("recorded_sent={sent}");
    println!("drain_s={:.2}", drained.as_secs_f64());
    println!("pace_ms={}", pace.as_millis());
    println!("profile_requests_baseline={requests}");
    println!("profile_p50_baseline_ms={:.2}", baseline.0);
    println!("profile_p99_baseline_ms={:.2}", baseline.1);
    println!("profile_requests_draining={asked}");
    println!("profile_p50_draining_ms={:.2}", during.0);
    println!("profile_p99_draining_ms={:.2}", during.1);
    Ok(())
}
