//! The composition root: open the store, make sure an admin exists, start the
//! workers and the HTTP server, and shut down gracefully.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;

use actix_web::HttpServer;
use actix_web::dev::ServerHandle;
use anyhow::Context;

use crate::clock::SharedClock;
use crate::cluster::kube::KubeDriver;
use crate::cluster::local::{GpuSource, LocalConfig, LocalDriver};
use crate::cluster::{AnyDriver, Driver};
use crate::config::{Config, DriverChoice};
use crate::i18n::Catalog;
use crate::mail::SmtpSender;
use crate::service::Services;
use crate::service::auth::FormKey;
use crate::service::users::GeneratedPassword;
use crate::store::Store;
use crate::tls::ReloadableCert;
use crate::web::{self, AppState};
use crate::worker::mailer::Mailer;
use crate::worker::reconciler::{Reconciler, ReconcilerSettings};

/// How the server is started.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Stop gracefully on SIGINT and SIGTERM (off in tests, where many
    /// servers share one process).
    pub handle_signals: bool,
}

/// A server running on its own thread.
pub struct Running {
    /// The address it listens on (the real port when 0 was asked for).
    pub addr: SocketAddr,
    /// The use cases the server runs on (the same store), for the command
    /// line and for tests that run a worker step at a chosen moment.
    pub services: Services,
    /// The first-run admin password, when this start created the admin.
    pub initial_password: Option<GeneratedPassword>,
    /// The reconcile loop (already running), for tests that run a pass or a
    /// resync at a chosen moment.
    pub reconciler: Reconciler,
    handle: ServerHandle,
    thread: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Stops gracefully (in-flight requests finish) and waits until the
    /// store is closed.
    pub fn stop(self) -> anyhow::Result<()> {
        let handle = self.handle.clone();
        // The stop future needs a runtime; a thread of its own keeps this
        // callable from inside another runtime (tests) as well as outside.
        std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                runtime.block_on(handle.stop(true));
            }
        })
        .join()
        .map_err(|_| anyhow::anyhow!("the stopping thread panicked"))?;
        self.wait()
    }

    /// Waits until the server stops by itself (a signal).
    pub fn wait(self) -> anyhow::Result<()> {
        let Running {
            thread,
            services,
            reconciler,
            ..
        } = self;
        // Our copies of the services hold the store too; let them go so the
        // server thread can close the store.
        drop(services);
        drop(reconciler);
        thread
            .join()
            .map_err(|_| anyhow::anyhow!("the server thread panicked"))?
    }
}

/// What a driver is opened for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverPurpose {
    /// To run workloads: the local driver takes over its processes.
    Run,
    /// To report on it (`check-config`), beside a server that may be
    /// running: nothing is taken over or written.
    Inspect,
}

/// Opens the driver the configuration chose (the local driver in `[local]
/// dir`, by default `<data dir>/local`).
pub async fn open_driver(config: &Config, purpose: DriverPurpose) -> anyhow::Result<AnyDriver> {
    match config.cluster.driver {
        DriverChoice::Local => {
            let settings = &config.local;
            let mut local = LocalConfig::new(settings.dir.clone());
            local.gpus = if settings.detect_gpus {
                GpuSource::Detect {
                    fallback: settings.gpus.clone(),
                }
            } else {
                GpuSource::Fixed(settings.gpus.clone())
            };
            local.advertise_host = settings.advertise_host.clone();
            local.ssh_address = settings.ssh_address;
            local.memory_limit = settings.memory_limit;
            local.bwrap = settings.bwrap.clone();
            local.allow_unsandboxed = settings.allow_unsandboxed;
            local.workload_uids = settings.workload_uids.clone();
            // What no sandbox may show, wherever it is: the data directory
            // (store, initial password), the driver's folder, the packaged
            // configuration, TLS.
            local.hidden = [
                config.data_dir.clone(),
                settings.dir.clone(),
                PathBuf::from("/etc/mlstack"),
            ]
            .into_iter()
            .chain(
                config
                    .tls
                    .iter()
                    .flat_map(|tls| [tls.cert_file.clone(), tls.key_file.clone()]),
            )
            .collect();
            let driver = match purpose {
                DriverPurpose::Run => LocalDriver::open(local).await,
                DriverPurpose::Inspect => LocalDriver::inspect(local).await,
            }
            .context("cannot open the local driver")?;
            Ok(AnyDriver::Local(driver))
        }
        DriverChoice::Kube => {
            let driver = KubeDriver::connect(config.cluster.kube_settings())
                .await
                .context("cannot use the cluster")?;
            Ok(AnyDriver::Kube(driver))
        }
    }
}

/// Starts the appliance on a new thread and returns once it listens.
pub fn start(config: Config, clock: SharedClock, options: Options) -> anyhow::Result<Running> {
    let (ready_tx, ready_rx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("mlstack-server".into())
        .spawn(move || {
            let system = actix_web::rt::System::new();
            let outcome = system.block_on(run(config, clock, options, ready_tx));
            // Dropping the runtime drops every task and worker that still
            // holds the application state, and with it the store.
            drop(system);
            let store = outcome?;
            close(store);
            tracing::info!("stopped");
            Ok(())
        })
        .context("cannot start the server thread")?;
    match ready_rx.recv() {
        Ok((addr, initial_password, handle, services, reconciler)) => Ok(Running {
            addr,
            services,
            initial_password,
            reconciler,
            handle,
            thread,
        }),
        Err(_) => Err(thread
            .join()
            .map_err(|_| anyhow::anyhow!("the server thread panicked"))?
            .err()
            .unwrap_or_else(|| anyhow::anyhow!("the server stopped before it was ready"))),
    }
}

type Ready = (
    SocketAddr,
    Option<GeneratedPassword>,
    ServerHandle,
    Services,
    Reconciler,
);

async fn run(
    config: Config,
    clock: SharedClock,
    options: Options,
    ready: mpsc::Sender<Ready>,
) -> anyhow::Result<Arc<Store>> {
    let tls = config.tls.as_ref().map(ReloadableCert::load).transpose()?;
    let data_dir = config.data_dir.clone();
    let store = tokio::task::spawn_blocking(move || Store::open_in(&data_dir))
        .await
        .context("store task failed")??;
    tracing::info!(path = %store.path().display(), "store open");
    let store = Arc::new(store);
    let catalog = Arc::new(Catalog::load().map_err(anyhow::Error::msg)?);
    let driver = Arc::new(open_driver(&config, DriverPurpose::Run).await?);
    tracing::info!(driver = driver.name(), "cluster driver open");
    let services = Services::new(
        store.clone(),
        clock,
        config.session_idle_timeout,
        &config.data_dir,
        catalog,
    )
    .with_login_limits(config.session_lifetime, config.login_queue)
    .with_cluster(driver.clone(), config.cluster.request_timeout)
    .with_idle_rule(crate::domain::metrics::IdleRule {
        threshold_pct: config.metrics.idle_threshold_pct as f64,
        window_minutes: config.metrics.idle_after.as_secs() / 60,
    })
    .with_mail_delivery(config.mail.is_some());
    let mailer = config
        .mail
        .as_ref()
        .map(|settings| {
            SmtpSender::new(settings)
                .map(|sender| Mailer::new(services.clone(), sender, settings.connections as usize))
        })
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let reconciler = Reconciler::new(
        services.clone(),
        driver,
        ReconcilerSettings {
            request_timeout: config.cluster.request_timeout,
            resync_interval: config.cluster.resync_interval,
        },
    );
    let initial_password = services.ensure_initial_admin().await?;
    if config.seed_catalog {
        services.seed_catalog().await?;
    }
    let form_key = FormKey::load_or_create(&config.data_dir)?;
    let state = actix_web::web::Data::new(AppState {
        services: services.clone(),
        secure_cookies: tls.is_some(),
        trusted_proxies: config.trusted_proxies.clone(),
        form_key,
        metrics_token: config.metrics.scrape_token.clone(),
        max_body_bytes: config.limits.max_body_bytes,
        max_header_bytes: config.limits.max_header_bytes,
    });

    let app_state = state.clone();
    // TCP_NODELAY: the service proxy writes a head, then body pieces and
    // WebSocket frames as they come; with Nagle's algorithm each small
    // write after the first waits for the client's delayed ACK (40 ms).
    let limits = &config.limits;
    let workers = match config.workers {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    };
    // actix counts connections per worker; the configured cap is for all
    // of them together.
    let per_worker = usize::try_from(limits.max_connections.div_ceil(workers as u64))
        .unwrap_or(usize::MAX)
        .max(1);
    let keep_alive = if limits.keep_alive.is_zero() {
        actix_web::http::KeepAlive::Disabled
    } else {
        actix_web::http::KeepAlive::Timeout(limits.keep_alive)
    };
    let server = HttpServer::new(move || web::app(app_state.clone()))
        .shutdown_timeout(30)
        .tcp_nodelay(true)
        .workers(workers)
        .max_connections(per_worker)
        .keep_alive(keep_alive)
        .client_request_timeout(limits.client_request_timeout)
        .client_disconnect_timeout(limits.client_disconnect_timeout);
    let server = if options.handle_signals {
        server
    } else {
        server.disable_signals()
    };
    let server = match &tls {
        Some(cert) => server.bind_rustls_0_23(config.listen, cert.server_config()?),
        None => server.bind(config.listen),
    }
    .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = server
        .addrs()
        .first()
        .copied()
        .context("the server has no address")?;
    let server = server.run();
    let scheme = if state.secure_cookies {
        "https"
    } else {
        "http"
    };
    tracing::info!(url = %format!("{scheme}://{addr}/"), "listening");

    let mut workers = crate::worker::spawn_all(&services);
    workers.push(crate::control::listen(&config.data_dir, services.clone())?);
    if options.handle_signals {
        workers.push(tokio::spawn(reload_on_hangup(tls)));
    }
    workers.extend(crate::worker::metrics::spawn(&services, &config.metrics));
    // Aborting it mid-pass is safe: every driver call is idempotent and
    // whatever was not recorded is due again at the next start.
    workers.push(tokio::spawn(reconciler.clone().run_loop()));
    match mailer {
        Some(mailer) => workers.push(tokio::spawn(mailer.run_loop())),
        None => tracing::info!("no [mail] host configured: mail stays in the outbox"),
    }
    // The receiver is gone only if the starter gave up; serve anyway.
    let _ = ready.send((
        addr,
        initial_password,
        server.handle(),
        services.clone(),
        reconciler,
    ));

    let result = server.await;
    for worker in workers {
        worker.abort();
        // A cancelled task reports that it was cancelled; nothing to handle.
        let _ = worker.await;
    }
    let _ = std::fs::remove_file(config.data_dir.join(crate::control::SOCKET_FILE));
    result.context("the HTTP server failed")?;
    Ok(store)
}

/// Reads the TLS certificate and key again at each SIGHUP (what `systemctl
/// reload` sends); without TLS there is nothing to read, and the signal is
/// only logged (it would otherwise end the process).
async fn reload_on_hangup(tls: Option<Arc<ReloadableCert>>) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(hangups) => hangups,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP: no certificate reload");
            return;
        }
    };
    while hangups.recv().await.is_some() {
        match &tls {
            Some(cert) => match cert.reload() {
                Ok(()) => tracing::info!("SIGHUP: TLS certificate reloaded"),
                Err(e) => tracing::warn!(
                    error = %e,
                    "SIGHUP: TLS certificate not reloaded; new connections keep the current one"
                ),
            },
            None => tracing::info!("SIGHUP: no TLS configured, nothing to reload"),
        }
    }
}

/// Closes the store once nothing else holds it. The HTTP workers run on
/// threads of their own and drop their copy of the state as they end, which
/// can be a moment after the server reported that it stopped.
fn close(mut store: Arc<Store>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match Arc::try_unwrap(store) {
            Ok(store) => {
                drop(store);
                tracing::info!("store closed");
                return;
            }
            Err(shared) if std::time::Instant::now() < deadline => {
                store = shared;
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(_) => {
                tracing::warn!("store still in use at shutdown; it closes with the process");
                return;
            }
        }
    }
}
