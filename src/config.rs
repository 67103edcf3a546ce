//! Configuration: defaults < config file < `MLSTACK_*` environment < command
//! line, resolved by one pure function and validated before anything starts.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use jiff::SignedDuration;
use serde::Deserialize;

use crate::cluster::KubeConfig;
pub use crate::cluster::ServiceAccess;
use crate::cluster::local::LocalGpu;
use crate::mail::{MailSettings, Secret, Security};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Serving HTTPS directly (otherwise plain HTTP, e.g. behind a proxy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// Whether the local GPUs' utilization and memory are read with
/// nvidia-smi every scrape interval (`[metrics] nvidia_smi`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NvidiaSmiSampling {
    /// On the local driver when its GPUs came from nvidia-smi and no DCGM
    /// exporter or Prometheus server is configured.
    Auto,
    /// Always on the local driver.
    On,
    Off,
}

/// The `[limits]` section: what one client may ask of the HTTP server, so
/// that slow or greedy clients cannot exhaust it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitsConfig {
    /// The largest request body accepted (413 beyond; a container's service
    /// streams without this limit).
    pub max_body_bytes: u64,
    /// The largest request head, request line and headers together (431
    /// beyond).
    pub max_header_bytes: u64,
    /// Open connections at most, all workers together; further clients wait
    /// in the listen queue until one closes.
    pub max_connections: u64,
    /// How long an idle keep-alive connection stays open (zero: closed after
    /// each answer).
    pub keep_alive: Duration,
    /// How long a client may take to send a request's head (408 beyond).
    pub client_request_timeout: Duration,
    /// How long a closing connection waits for the client to go.
    pub client_disconnect_timeout: Duration,
}

/// Which driver runs the workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverChoice {
    /// Processes on this host.
    Local,
    /// A Kubernetes cluster.
    Kube,
}

/// The `[cluster]` section: which driver, and how the appliance talks to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    pub driver: DriverChoice,
    /// The longest any single call to the cluster may take (an HTTP request
    /// never waits on the cluster longer).
    pub request_timeout: Duration,
    /// How often the reconcile loop compares everything with the cluster.
    pub resync_interval: Duration,
    /// None: in-cluster configuration (with driver kube).
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    /// How long finished Kubernetes Jobs are kept.
    pub job_ttl: Duration,
    /// The image that commits containers to images; None: commits refused.
    pub committer_image: Option<String>,
    /// Where committed images are pushed; None: commits refused.
    pub registry: Option<String>,
    /// The commit job's CPU in thousandths and memory in MiB.
    pub committer_cpu_milli: u64,
    pub committer_memory_mib: u64,
    /// The host put in NodePort links; None: the node's InternalIP.
    pub node_host: Option<String>,
    /// How the service proxy reaches containers' services on kube.
    pub service_access: ServiceAccess,
}

impl ClusterConfig {
    /// What the kube driver connects with.
    pub fn kube_settings(&self) -> KubeConfig {
        KubeConfig {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            request_timeout: self.request_timeout,
            job_ttl: self.job_ttl,
            committer_image: self.committer_image.clone(),
            registry: self.registry.clone(),
            committer_cpu_milli: self.committer_cpu_milli,
            committer_ram_mib: self.committer_memory_mib,
            node_host: self.node_host.clone(),
            service_access: self.service_access,
        }
    }
}

/// The `[local]` section: the local driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSettings {
    /// The driver's folder: workloads' folders, logs and volumes (by
    /// default `<data_dir>/local`).
    pub dir: PathBuf,
    /// Ask nvidia-smi for the GPUs (the list below is the fallback); false:
    /// exactly the list below.
    pub detect_gpus: bool,
    pub gpus: Vec<LocalGpu>,
    /// The host name put in service links.
    pub advertise_host: String,
    /// The address containers' SSH servers listen on: loopback by default;
    /// the server's LAN address (or 0.0.0.0, then shown as
    /// `advertise_host`) lets other machines log in.
    pub ssh_address: std::net::IpAddr,
    /// Limit a workload's memory to its spec's RAM.
    pub memory_limit: bool,
    /// The bubblewrap program every workload's sandbox is made with.
    pub bwrap: PathBuf,
    /// Run workloads without a sandbox when bubblewrap cannot make one
    /// (a single-user machine only); admins are warned.
    pub allow_unsandboxed: bool,
    /// The user ids (and group ids) projects' workloads run as when the
    /// server runs as root or holds CAP_SETUID/CAP_SETGID: one per project,
    /// from this range.
    pub workload_uids: std::ops::RangeInclusive<u32>,
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub workers: usize,
    pub session_idle_timeout: SignedDuration,
    /// A session ends this long after login, however active.
    pub session_lifetime: SignedDuration,
    /// How many password checks may wait or run at once; more get 429.
    pub login_queue: usize,
    /// Reverse proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are
    /// believed.
    pub trusted_proxies: Vec<IpNet>,
    pub tls: Option<TlsConfig>,
    pub limits: LimitsConfig,
    pub log_level: String,
    pub log_format: LogFormat,
    pub cluster: ClusterConfig,
    pub local: LocalSettings,
    /// Whether the first start of a new store fills its empty catalog with
    /// a default one (a CPU spec, the host's GPUs, a host environment image).
    pub seed_catalog: bool,
    pub metrics: MetricsConfig,
    /// The `[mail]` section; None when no SMTP relay is configured (mail
    /// then stays in the outbox).
    pub mail: Option<MailSettings>,
}

/// The `[metrics]` section: where GPU metrics are collected from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// DCGM exporter `/metrics` addresses (`http://node:9400/metrics`),
    /// each scraped every `scrape_interval`.
    pub dcgm_endpoints: Vec<String>,
    /// A Prometheus server (`http://prometheus:9090`) asked through its
    /// query API for the DCGM fields, every `scrape_interval`.
    pub prometheus_url: Option<String>,
    /// cAdvisor `/metrics` addresses (cAdvisor itself, or a kubelet's
    /// `/metrics/cadvisor`), scraped every `scrape_interval` for each
    /// container's CPU, memory and network.
    pub cadvisor_endpoints: Vec<String>,
    /// The local GPUs read with nvidia-smi.
    pub nvidia_smi: NvidiaSmiSampling,
    pub scrape_interval: Duration,
    /// One scrape's limit: connecting, the answer and its body together.
    pub scrape_timeout: Duration,
    /// The largest answer read; a larger one marks the source unhealthy.
    pub max_response_bytes: u64,
    /// How long per-minute samples are kept (hourly rollups stay).
    pub retention_days: u64,
    /// A bearer token that lets a Prometheus scraper read `/metrics`
    /// without a session (None: admins only).
    pub scrape_token: Option<String>,
    /// A Running container's GPUs are idle when every measured minute of
    /// the last `idle_after` stayed below `idle_threshold_pct`.
    pub idle_threshold_pct: u64,
    pub idle_after: Duration,
}

/// A configuration problem, naming the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {key}: {problem}")]
pub struct ConfigError {
    pub key: String,
    pub problem: String,
}

impl ConfigError {
    fn new(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

/// Values given on the command line.
#[derive(Debug, Clone, Default)]
pub struct CliOverrides {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    data_dir: Option<String>,
    workers: Option<u32>,
    trusted_proxies: Option<Vec<String>>,
    seed_catalog: Option<bool>,
    #[serde(default)]
    session: FileSession,
    #[serde(default)]
    metrics: FileMetrics,
    #[serde(default)]
    tls: FileTls,
    #[serde(default)]
    limits: FileLimits,
    #[serde(default)]
    log: FileLog,
    #[serde(default)]
    cluster: FileCluster,
    #[serde(default)]
    local: FileLocal,
    #[serde(default)]
    mail: FileMail,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileMail {
    host: Option<String>,
    port: Option<u16>,
    security: Option<String>,
    username: Option<String>,
    password: Option<String>,
    from_address: Option<String>,
    from_name: Option<String>,
    connections: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSession {
    idle_timeout: Option<String>,
    lifetime: Option<String>,
    login_queue: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTls {
    cert_file: Option<String>,
    key_file: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLimits {
    max_body_bytes: Option<u64>,
    max_header_bytes: Option<u64>,
    max_connections: Option<u64>,
    keep_alive: Option<String>,
    client_request_timeout: Option<String>,
    client_disconnect_timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLog {
    level: Option<String>,
    format: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCluster {
    driver: Option<String>,
    kubeconfig: Option<String>,
    context: Option<String>,
    request_timeout: Option<String>,
    resync_interval: Option<String>,
    job_ttl: Option<String>,
    committer_image: Option<String>,
    registry: Option<String>,
    committer_cpu_milli: Option<u64>,
    committer_memory_mib: Option<u64>,
    node_host: Option<String>,
    service_access: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLocal {
    dir: Option<String>,
    detect_gpus: Option<bool>,
    gpus: Option<Vec<FileGpu>>,
    advertise_host: Option<String>,
    ssh_address: Option<String>,
    memory_limit: Option<bool>,
    bwrap: Option<String>,
    allow_unsandboxed: Option<bool>,
    first_workload_uid: Option<u32>,
    workload_uid_count: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileMetrics {
    dcgm_endpoints: Option<Vec<String>>,
    prometheus_url: Option<String>,
    cadvisor_endpoints: Option<Vec<String>>,
    nvidia_smi: Option<String>,
    scrape_interval: Option<String>,
    scrape_timeout: Option<String>,
    max_response_bytes: Option<u64>,
    retention_days: Option<u64>,
    scrape_token: Option<String>,
    idle_threshold_pct: Option<u64>,
    idle_after: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileGpu {
    index: u32,
    name: String,
    memory_mib: u64,
    uuid: Option<String>,
    minor: Option<u32>,
}

/// Environment variables and the key each one sets.
pub const ENV_KEYS: [(&str, &str); 50] = [
    ("MLSTACK_LISTEN", "listen"),
    ("MLSTACK_DATA_DIR", "data_dir"),
    ("MLSTACK_WORKERS", "workers"),
    ("MLSTACK_SEED_CATALOG", "seed_catalog"),
    ("MLSTACK_TRUSTED_PROXIES", "trusted_proxies"),
    ("MLSTACK_SESSION_IDLE_TIMEOUT", "session.idle_timeout"),
    ("MLSTACK_SESSION_LIFETIME", "session.lifetime"),
    ("MLSTACK_SESSION_LOGIN_QUEUE", "session.login_queue"),
    ("MLSTACK_TLS_CERT_FILE", "tls.cert_file"),
    ("MLSTACK_TLS_KEY_FILE", "tls.key_file"),
    ("MLSTACK_LIMITS_MAX_BODY_BYTES", "limits.max_body_bytes"),
    ("MLSTACK_LIMITS_MAX_HEADER_BYTES", "limits.max_header_bytes"),
    ("MLSTACK_LIMITS_MAX_CONNECTIONS", "limits.max_connections"),
    ("MLSTACK_LIMITS_KEEP_ALIVE", "limits.keep_alive"),
    (
        "MLSTACK_LIMITS_CLIENT_REQUEST_TIMEOUT",
        "limits.client_request_timeout",
    ),
    (
        "MLSTACK_LIMITS_CLIENT_DISCONNECT_TIMEOUT",
        "limits.client_disconnect_timeout",
    ),
    ("MLSTACK_LOG_LEVEL", "log.level"),
    ("MLSTACK_LOG_FORMAT", "log.format"),
    ("MLSTACK_CLUSTER_DRIVER", "cluster.driver"),
    ("MLSTACK_CLUSTER_KUBECONFIG", "cluster.kubeconfig"),
    ("MLSTACK_CLUSTER_CONTEXT", "cluster.context"),
    ("MLSTACK_CLUSTER_REQUEST_TIMEOUT", "cluster.request_timeout"),
    ("MLSTACK_CLUSTER_RESYNC_INTERVAL", "cluster.resync_interval"),
    ("MLSTACK_CLUSTER_JOB_TTL", "cluster.job_ttl"),
    ("MLSTACK_CLUSTER_COMMITTER_IMAGE", "cluster.committer_image"),
    ("MLSTACK_CLUSTER_REGISTRY", "cluster.registry"),
    (
        "MLSTACK_CLUSTER_COMMITTER_CPU_MILLI",
        "cluster.committer_cpu_milli",
    ),
    (
        "MLSTACK_CLUSTER_COMMITTER_MEMORY_MIB",
        "cluster.committer_memory_mib",
    ),
    ("MLSTACK_CLUSTER_NODE_HOST", "cluster.node_host"),
    ("MLSTACK_CLUSTER_SERVICE_ACCESS", "cluster.service_access"),
    ("MLSTACK_LOCAL_DIR", "local.dir"),
    ("MLSTACK_LOCAL_DETECT_GPUS", "local.detect_gpus"),
    ("MLSTACK_LOCAL_ADVERTISE_HOST", "local.advertise_host"),
    ("MLSTACK_LOCAL_SSH_ADDRESS", "local.ssh_address"),
    ("MLSTACK_LOCAL_MEMORY_LIMIT", "local.memory_limit"),
    ("MLSTACK_LOCAL_BWRAP", "local.bwrap"),
    ("MLSTACK_LOCAL_ALLOW_UNSANDBOXED", "local.allow_unsandboxed"),
    ("MLSTACK_METRICS_DCGM_ENDPOINTS", "metrics.dcgm_endpoints"),
    ("MLSTACK_METRICS_SCRAPE_INTERVAL", "metrics.scrape_interval"),
    ("MLSTACK_METRICS_SCRAPE_TOKEN", "metrics.scrape_token"),
    ("MLSTACK_METRICS_PROMETHEUS_URL", "metrics.prometheus_url"),
    ("MLSTACK_METRICS_NVIDIA_SMI", "metrics.nvidia_smi"),
    ("MLSTACK_MAIL_HOST", "mail.host"),
    ("MLSTACK_MAIL_PORT", "mail.port"),
    ("MLSTACK_MAIL_SECURITY", "mail.security"),
    ("MLSTACK_MAIL_USERNAME", "mail.username"),
    ("MLSTACK_MAIL_PASSWORD", "mail.password"),
    ("MLSTACK_MAIL_FROM_ADDRESS", "mail.from_address"),
    ("MLSTACK_MAIL_FROM_NAME", "mail.from_name"),
    ("MLSTACK_MAIL_CONNECTIONS", "mail.connections"),
];

/// `MLSTACK_CONFIG` names the config file; it is not a key.
pub const ENV_CONFIG_FILE: &str = "MLSTACK_CONFIG";

/// The config file to read: the `--config` argument, else `MLSTACK_CONFIG`,
/// else `./mlstack.toml` when it exists.
pub fn config_path(cli: Option<&Path>, env: &BTreeMap<String, String>) -> Option<PathBuf> {
    cli.map(Path::to_owned)
        .or_else(|| env.get(ENV_CONFIG_FILE).map(PathBuf::from))
        .or_else(|| {
            let local = PathBuf::from("mlstack.toml");
            local.is_file().then_some(local)
        })
}

/// Resolves the configuration from the file's text (if any), the process
/// environment and the command line.
pub fn resolve(
    file_text: Option<&str>,
    env: &BTreeMap<String, String>,
    cli: &CliOverrides,
) -> Result<Config, ConfigError> {
    let file: FileConfig = match file_text {
        Some(text) => toml::from_str(text).map_err(|e| {
            let key = e
                .message()
                .split('`')
                .nth(1)
                .unwrap_or("config file")
                .to_owned();
            ConfigError::new(key, e.to_string().trim().to_owned())
        })?,
        None => FileConfig::default(),
    };

    for name in env.keys().filter(|k| k.starts_with("MLSTACK_")) {
        if name != ENV_CONFIG_FILE && !ENV_KEYS.iter().any(|(var, _)| var == name) {
            return Err(ConfigError::new(
                name.clone(),
                "unknown environment variable (see config.example.toml for the MLSTACK_* names)",
            ));
        }
    }
    let env_value = |key: &str| {
        ENV_KEYS
            .iter()
            .find(|(_, k)| *k == key)
            .and_then(|(var, _)| env.get(*var).cloned())
    };
    let pick = |key: &str, from_file: Option<String>| env_value(key).or(from_file);

    let listen_text = cli
        .listen
        .clone()
        .or_else(|| pick("listen", file.listen))
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let listen = listen_text.trim().parse::<SocketAddr>().map_err(|_| {
        ConfigError::new(
            "listen",
            format!(
                "{listen_text:?} is not an address and port such as 127.0.0.1:8080 or [::]:8080"
            ),
        )
    })?;

    let data_dir = cli
        .data_dir
        .clone()
        .or_else(|| pick("data_dir", file.data_dir).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("./data"));
    if data_dir.as_os_str().is_empty() {
        return Err(ConfigError::new("data_dir", "must not be empty"));
    }

    let workers = match env_value("workers") {
        Some(text) => text
            .trim()
            .parse::<u32>()
            .map_err(|_| ConfigError::new("workers", format!("{text:?} is not a whole number")))?,
        None => file.workers.unwrap_or(0),
    };
    if workers > 256 {
        return Err(ConfigError::new(
            "workers",
            "must be between 0 (one per core) and 256",
        ));
    }

    let session_idle_timeout = session_duration_key(
        "session.idle_timeout",
        pick("session.idle_timeout", file.session.idle_timeout),
        "12h",
        "\"12h\" or \"30m\"",
    )?;
    let session_lifetime = session_duration_key(
        "session.lifetime",
        pick("session.lifetime", file.session.lifetime),
        "168h",
        "\"168h\" or \"24h\"",
    )?;
    let login_queue = match env_value("session.login_queue") {
        Some(text) => text.trim().parse::<u32>().map_err(|_| {
            ConfigError::new(
                "session.login_queue",
                format!("{text:?} is not a whole number"),
            )
        })?,
        None => file.session.login_queue.unwrap_or(32),
    };
    if !(1..=10_000).contains(&login_queue) {
        return Err(ConfigError::new(
            "session.login_queue",
            "must be between 1 and 10000",
        ));
    }
    let trusted_proxies = match env_value("trusted_proxies") {
        Some(text) => text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        None => file.trusted_proxies.unwrap_or_default(),
    }
    .iter()
    .map(|text| parse_proxy(text))
    .collect::<Result<Vec<_>, _>>()?;

    let non_empty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let cert = non_empty(pick("tls.cert_file", file.tls.cert_file));
    let key = non_empty(pick("tls.key_file", file.tls.key_file));
    let tls = match (cert, key) {
        (Some(cert), Some(key)) => Some(TlsConfig {
            cert_file: PathBuf::from(cert),
            key_file: PathBuf::from(key),
        }),
        (None, None) => None,
        (Some(_), None) => {
            return Err(ConfigError::new(
                "tls.key_file",
                "is required when tls.cert_file is set",
            ));
        }
        (None, Some(_)) => {
            return Err(ConfigError::new(
                "tls.cert_file",
                "is required when tls.key_file is set",
            ));
        }
    };

    let limits = resolve_limits(file.limits, &pick)?;

    let log_level = pick("log.level", file.log.level).unwrap_or_else(|| "info".into());
    if tracing_subscriber::EnvFilter::try_new(&log_level).is_err() {
        return Err(ConfigError::new(
            "log.level",
            format!(
                "{log_level:?} is not a level (error, warn, info, debug, trace) or filter directive"
            ),
        ));
    }
    let format_text = pick("log.format", file.log.format).unwrap_or_else(|| "text".into());
    let log_format = match format_text.trim() {
        "text" => LogFormat::Text,
        "json" => LogFormat::Json,
        other => {
            return Err(ConfigError::new(
                "log.format",
                format!("{other:?} is not one of \"text\", \"json\""),
            ));
        }
    };

    let seed_catalog = bool_key(
        "seed_catalog",
        env_value("seed_catalog"),
        file.seed_catalog,
        true,
    )?;
    let cluster = resolve_cluster(file.cluster, &pick)?;
    let local = resolve_local(file.local, &pick, &data_dir)?;
    let metrics = resolve_metrics(file.metrics, &pick)?;
    let mail = resolve_mail(file.mail, &pick)?;

    Ok(Config {
        listen,
        data_dir,
        workers: workers as usize,
        session_idle_timeout,
        session_lifetime,
        login_queue: login_queue as usize,
        trusted_proxies,
        tls,
        limits,
        log_level,
        log_format,
        cluster,
        local,
        seed_catalog,
        metrics,
        mail,
    })
}

/// The largest request head actix-web reads before it answers 431 by itself
/// (with no page); `limits.max_header_bytes` stays below it so that our own
/// page answers.
const HEADER_BYTES_CEILING: u64 = 64 * 1024;

fn resolve_limits(
    file: FileLimits,
    pick: &dyn Fn(&str, Option<String>) -> Option<String>,
) -> Result<LimitsConfig, ConfigError> {
    let number = |key: &str, from_file: Option<u64>, default: u64, range: (u64, u64)| {
        u64_key(key, pick(key, None), from_file, default, range)
    };
    Ok(LimitsConfig {
        max_body_bytes: number(
            "limits.max_body_bytes",
            file.max_body_bytes,
            1024 * 1024,
            (1024, 1024 * 1024 * 1024),
        )?,
        max_header_bytes: number(
            "limits.max_header_bytes",
            file.max_header_bytes,
            32 * 1024,
            (1024, HEADER_BYTES_CEILING),
        )?,
        max_connections: number(
            "limits.max_connections",
            file.max_connections,
            25_000,
            (1, 1_000_000),
        )?,
        keep_alive: duration_key(
            "limits.keep_alive",
            pick("limits.keep_alive", file.keep_alive),
            "5s",
            Duration::ZERO,
            Duration::from_secs(3600),
        )?,
        client_request_timeout: duration_key(
            "limits.client_request_timeout",
            pick("limits.client_request_timeout", file.client_request_timeout),
            "5s",
            Duration::from_millis(500),
            Duration::from_secs(300),
        )?,
        client_disconnect_timeout: duration_key(
            "limits.client_disconnect_timeout",
            pick(
                "limits.client_disconnect_timeout",
                file.client_disconnect_timeout,
            ),
            "1s",
            Duration::ZERO,
            Duration::from_secs(60),
        )?,
    })
}

fn resolve_metrics(
    file: FileMetrics,
    pick: &dyn Fn(&str, Option<String>) -> Option<String>,
) -> Result<MetricsConfig, ConfigError> {
    let dcgm_endpoints: Vec<String> = match pick("metrics.dcgm_endpoints", None) {
        Some(text) => text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        None => file.dcgm_endpoints.unwrap_or_default(),
    };
    for endpoint in &dcgm_endpoints {
        let valid = endpoint
            .parse::<http::Uri>()
            .is_ok_and(|u| u.scheme_str() == Some("http") && u.host().is_some());
        if !valid {
            return Err(ConfigError::new(
                "metrics.dcgm_endpoints",
                format!(
                    "{endpoint:?} is not an address such as \"http://gpu-node-1:9400/metrics\""
                ),
            ));
        }
    }
    let cadvisor_endpoints = file.cadvisor_endpoints.unwrap_or_default();
    for endpoint in &cadvisor_endpoints {
        let valid = endpoint
            .parse::<http::Uri>()
            .is_ok_and(|u| u.scheme_str() == Some("http") && u.host().is_some());
        if !valid {
            return Err(ConfigError::new(
                "metrics.cadvisor_endpoints",
                format!("{endpoint:?} is not an address such as \"http://node-1:8080/metrics\""),
            ));
        }
    }
    let prometheus_url = pick("metrics.prometheus_url", file.prometheus_url)
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty());
    if let Some(url) = &prometheus_url {
        let valid = url
            .parse::<http::Uri>()
            .is_ok_and(|u| u.scheme_str() == Some("http") && u.host().is_some());
        if !valid {
            return Err(ConfigError::new(
                "metrics.prometheus_url",
                format!("{url:?} is not an address such as \"http://prometheus:9090\""),
            ));
        }
    }
    let nvidia_smi = match pick("metrics.nvidia_smi", file.nvidia_smi)
        .as_deref()
        .map(str::trim)
    {
        None | Some("auto") => NvidiaSmiSampling::Auto,
        Some("on") => NvidiaSmiSampling::On,
        Some("off") => NvidiaSmiSampling::Off,
        Some(other) => {
            return Err(ConfigError::new(
                "metrics.nvidia_smi",
                format!("{other:?} is not one of \"auto\", \"on\", \"off\""),
            ));
        }
    };
    let scrape_interval = duration_key(
        "metrics.scrape_interval",
        pick("metrics.scrape_interval", file.scrape_interval),
        "15s",
        Duration::from_secs(1),
        Duration::from_secs(3600),
    )?;
    let scrape_timeout = duration_key(
        "metrics.scrape_timeout",
        pick("metrics.scrape_timeout", file.scrape_timeout),
        "5s",
        Duration::from_millis(100),
        Duration::from_secs(60),
    )?;
    let max_response_bytes = u64_key(
        "metrics.max_response_bytes",
        None,
        file.max_response_bytes,
        16 * 1024 * 1024,
        (1024, 1024 * 1024 * 1024),
    )?;
    let retention_days = u64_key(
        "metrics.retention_days",
        None,
        file.retention_days,
        30,
        (1, 3650),
    )?;
    let scrape_token = pick("metrics.scrape_token", file.scrape_token)
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty());
    if scrape_token.as_ref().is_some_and(|t| t.len() < 24) {
        return Err(ConfigError::new(
            "metrics.scrape_token",
            "must be at least 24 characters (a random string, such as from `openssl rand -hex 16`)",
        ));
    }
    let idle_threshold_pct = u64_key(
        "metrics.idle_threshold_pct",
        None,
        file.idle_threshold_pct,
        5,
        (1, 100),
    )?;
    let idle_after = duration_key(
        "metrics.idle_after",
        file.idle_after,
        "2h",
        Duration::from_secs(600),
        Duration::from_secs(7 * 24 * 3600),
    )?;
    Ok(MetricsConfig {
        dcgm_endpoints,
        prometheus_url,
        cadvisor_endpoints,
        nvidia_smi,
        scrape_interval,
        scrape_timeout,
        max_response_bytes,
        retention_days,
        scrape_token,
        idle_threshold_pct,
        idle_after,
    })
}

/// One entry of `trusted_proxies`: an address (a network of one) or a
/// network in CIDR notation.
fn parse_proxy(text: &str) -> Result<IpNet, ConfigError> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| {
            ConfigError::new(
                "trusted_proxies",
                format!(
                    "{text:?} is not an address or network such as \"10.0.0.2\" or \"10.0.0.0/24\""
                ),
            )
        })
}

/// A session duration key: parsed (`examples` in the message) and between
/// 1 minute and 90 days.
fn session_duration_key(
    key: &str,
    text: Option<String>,
    default: &str,
    examples: &str,
) -> Result<SignedDuration, ConfigError> {
    let text = text.unwrap_or_else(|| default.to_owned());
    let parsed = text.trim().parse::<SignedDuration>().map_err(|_| {
        ConfigError::new(
            key,
            format!("{text:?} is not a duration such as {examples}"),
        )
    })?;
    if parsed < SignedDuration::from_mins(1) || parsed > SignedDuration::from_hours(24 * 90) {
        return Err(ConfigError::new(
            key,
            "must be between 1 minute and 90 days",
        ));
    }
    Ok(parsed)
}

/// A duration key: parsed (`"10s"`, `"1h"`) and within `min..=max`.
fn duration_key(
    key: &str,
    text: Option<String>,
    default: &str,
    min: Duration,
    max: Duration,
) -> Result<Duration, ConfigError> {
    let text = text.unwrap_or_else(|| default.to_owned());
    let parsed = text
        .trim()
        .parse::<SignedDuration>()
        .ok()
        .and_then(|d| Duration::try_from(d).ok())
        .ok_or_else(|| {
            ConfigError::new(
                key,
                format!("{text:?} is not a duration such as \"10s\" or \"1h\""),
            )
        })?;
    if parsed < min || parsed > max {
        return Err(ConfigError::new(
            key,
            format!(
                "must be between {:#} and {:#}",
                SignedDuration::try_from(min).unwrap_or_default(),
                SignedDuration::try_from(max).unwrap_or_default()
            ),
        ));
    }
    Ok(parsed)
}

/// A whole-number key from the environment or the file, within
/// `min..=max`.
fn u64_key(
    key: &str,
    env_text: Option<String>,
    from_file: Option<u64>,
    default: u64,
    (min, max): (u64, u64),
) -> Result<u64, ConfigError> {
    let value = match env_text {
        Some(text) => text
            .trim()
            .parse::<u64>()
            .map_err(|_| ConfigError::new(key, format!("{text:?} is not a whole number")))?,
        None => from_file.unwrap_or(default),
    };
    if !(min..=max).contains(&value) {
        return Err(ConfigError::new(
            key,
            format!("must be between {min} and {max}"),
        ));
    }
    Ok(value)
}

/// A boolean key from the environment (`true`/`false`) or the file.
fn bool_key(
    key: &str,
    env_text: Option<String>,
    from_file: Option<bool>,
    default: bool,
) -> Result<bool, ConfigError> {
    match env_text {
        Some(text) => match text.trim() {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(ConfigError::new(
                key,
                format!("{other:?} is not one of \"true\", \"false\""),
            )),
        },
        None => Ok(from_file.unwrap_or(default)),
    }
}

fn resolve_cluster(
    file: FileCluster,
    pick: &dyn Fn(&str, Option<String>) -> Option<String>,
) -> Result<ClusterConfig, ConfigError> {
    let optional = |key: &str, from_file: Option<String>| {
        pick(key, from_file)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let driver = match optional("cluster.driver", file.driver).as_deref() {
        None | Some("local") => DriverChoice::Local,
        Some("kube") => DriverChoice::Kube,
        Some(other) => {
            return Err(ConfigError::new(
                "cluster.driver",
                format!("{other:?} is not one of \"local\", \"kube\""),
            ));
        }
    };
    let service_access = match optional("cluster.service_access", file.service_access).as_deref() {
        None | Some("api-server") => ServiceAccess::ApiServer,
        Some("cluster-address") => ServiceAccess::ClusterAddress,
        Some(other) => {
            return Err(ConfigError::new(
                "cluster.service_access",
                format!("{other:?} is not one of \"api-server\", \"cluster-address\""),
            ));
        }
    };
    let request_timeout = duration_key(
        "cluster.request_timeout",
        pick("cluster.request_timeout", file.request_timeout),
        "10s",
        Duration::from_secs(1),
        Duration::from_secs(300),
    )?;
    let resync_interval = duration_key(
        "cluster.resync_interval",
        pick("cluster.resync_interval", file.resync_interval),
        "60s",
        Duration::from_secs(1),
        Duration::from_secs(24 * 3600),
    )?;
    let job_ttl = duration_key(
        "cluster.job_ttl",
        pick("cluster.job_ttl", file.job_ttl),
        "1h",
        Duration::ZERO,
        Duration::from_secs(30 * 24 * 3600),
    )?;
    let committer_cpu_milli = u64_key(
        "cluster.committer_cpu_milli",
        pick("cluster.committer_cpu_milli", None),
        file.committer_cpu_milli,
        1000,
        (1, 64_000),
    )?;
    let committer_memory_mib = u64_key(
        "cluster.committer_memory_mib",
        pick("cluster.committer_memory_mib", None),
        file.committer_memory_mib,
        2048,
        (64, 262_144),
    )?;
    Ok(ClusterConfig {
        driver,
        request_timeout,
        resync_interval,
        kubeconfig: optional("cluster.kubeconfig", file.kubeconfig).map(PathBuf::from),
        context: optional("cluster.context", file.context),
        job_ttl,
        committer_image: optional("cluster.committer_image", file.committer_image),
        registry: optional("cluster.registry", file.registry),
        committer_cpu_milli,
        committer_memory_mib,
        node_host: optional("cluster.node_host", file.node_host),
        service_access,
    })
}

/// The `[mail]` section: None without a host (mail stays in the outbox).
fn resolve_mail(
    file: FileMail,
    pick: &dyn Fn(&str, Option<String>) -> Option<String>,
) -> Result<Option<MailSettings>, ConfigError> {
    let optional = |key: &str, from_file: Option<String>| {
        pick(key, from_file)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let Some(host) = optional("mail.host", file.host) else {
        return Ok(None);
    };
    if host
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "/?#@:".contains(c))
    {
        return Err(ConfigError::new(
            "mail.host",
            format!("{host:?} is not a host name or address"),
        ));
    }
    let security = match optional("mail.security", file.security).as_deref() {
        None | Some("starttls") => Security::StartTls,
        Some("tls") => Security::Tls,
        Some("none") => Security::None,
        Some(other) => {
            return Err(ConfigError::new(
                "mail.security",
                format!("{other:?} is not one of \"starttls\", \"tls\", \"none\""),
            ));
        }
    };
    let default_port: u16 = match security {
        Security::StartTls => 587,
        Security::Tls => 465,
        Security::None => 25,
    };
    let port = u64_key(
        "mail.port",
        pick("mail.port", None),
        file.port.map(u64::from),
        u64::from(default_port),
        (1, 65_535),
    )?;
    let username = optional("mail.username", file.username);
    // A password may begin or end with spaces: only an empty one is none.
    let password = pick("mail.password", file.password)
        .filter(|p| !p.is_empty())
        .map(Secret);
    if username.is_some() != password.is_some() {
        return Err(ConfigError::new(
            "mail.username",
            "mail.username and mail.password are set together or not at all",
        ));
    }
    let from_text = optional("mail.from_address", file.from_address).ok_or_else(|| {
        ConfigError::new("mail.from_address", "is required when mail.host is set")
    })?;
    let from_address = from_text.parse::<lettre::Address>().map_err(|_| {
        ConfigError::new(
            "mail.from_address",
            format!("{from_text:?} is not an e-mail address such as mlstack@lab.example"),
        )
    })?;
    let from_name = optional("mail.from_name", file.from_name).unwrap_or_else(|| "mlstack".into());
    if from_name.chars().any(char::is_control) {
        return Err(ConfigError::new(
            "mail.from_name",
            "must not contain control characters",
        ));
    }
    let connections = u64_key(
        "mail.connections",
        pick("mail.connections", None),
        file.connections,
        4,
        (1, 64),
    )?;
    Ok(Some(MailSettings {
        host,
        port: u16::try_from(port).unwrap_or(default_port),
        security,
        username,
        password,
        from_address,
        from_name,
        connections: u32::try_from(connections).unwrap_or(4),
    }))
}

/// Workloads' users when the server runs as root: one per project from
/// 200000 on, far above the host's own users (and below the ranges
/// systemd's DynamicUser and containers use).
const DEFAULT_FIRST_WORKLOAD_UID: u32 = 200_000;
const DEFAULT_WORKLOAD_UID_COUNT: u32 = 100_000;
/// The lowest first uid accepted: host users and system accounts stay
/// below it.
const MIN_WORKLOAD_UID: u32 = 65_536;

fn resolve_local(
    file: FileLocal,
    pick: &dyn Fn(&str, Option<String>) -> Option<String>,
    data_dir: &Path,
) -> Result<LocalSettings, ConfigError> {
    let dir = pick("local.dir", file.dir)
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty())
        .map_or_else(|| data_dir.join("local"), PathBuf::from);
    let detect_gpus = bool_key(
        "local.detect_gpus",
        pick("local.detect_gpus", None),
        file.detect_gpus,
        true,
    )?;
    let memory_limit = bool_key(
        "local.memory_limit",
        pick("local.memory_limit", None),
        file.memory_limit,
        true,
    )?;
    let advertise_host = pick("local.advertise_host", file.advertise_host)
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|| "127.0.0.1".into());
    if advertise_host.is_empty()
        || advertise_host
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "/?#@".contains(c))
    {
        return Err(ConfigError::new(
            "local.advertise_host",
            format!("{advertise_host:?} is not a host name or address"),
        ));
    }
    let ssh_address = match pick("local.ssh_address", file.ssh_address) {
        None => std::net::IpAddr::from(std::net::Ipv4Addr::LOCALHOST),
        Some(text) => text.trim().parse().map_err(|_| {
            ConfigError::new(
                "local.ssh_address",
                format!("{text:?} is not an IP address (e.g. 127.0.0.1, 10.0.0.5 or 0.0.0.0)"),
            )
        })?,
    };
    let mut gpus: Vec<LocalGpu> = Vec::new();
    for gpu in file.gpus.unwrap_or_default() {
        if gpu.name.trim().is_empty() {
            return Err(ConfigError::new("local.gpus", "every GPU needs a name"));
        }
        if gpus.iter().any(|g| g.index == gpu.index) {
            return Err(ConfigError::new(
                "local.gpus",
                format!("the index {} is listed twice", gpu.index),
            ));
        }
        gpus.push(LocalGpu {
            index: gpu.index,
            name: gpu.name.trim().to_owned(),
            memory_mib: gpu.memory_mib,
            uuid: gpu
                .uuid
                .map(|u| u.trim().to_owned())
                .filter(|u| !u.is_empty()),
            minor: gpu.minor,
        });
    }
    let bwrap = pick("local.bwrap", file.bwrap)
        .map(|b| b.trim().to_owned())
        .unwrap_or_else(|| "/usr/bin/bwrap".into());
    if !bwrap.starts_with('/') {
        return Err(ConfigError::new(
            "local.bwrap",
            format!("{bwrap:?} is not an absolute path"),
        ));
    }
    let allow_unsandboxed = bool_key(
        "local.allow_unsandboxed",
        pick("local.allow_unsandboxed", None),
        file.allow_unsandboxed,
        false,
    )?;
    let first = file
        .first_workload_uid
        .unwrap_or(DEFAULT_FIRST_WORKLOAD_UID);
    if first < MIN_WORKLOAD_UID {
        return Err(ConfigError::new(
            "local.first_workload_uid",
            format!("must be at least {MIN_WORKLOAD_UID}, above the host's own users"),
        ));
    }
    let count = file
        .workload_uid_count
        .unwrap_or(DEFAULT_WORKLOAD_UID_COUNT);
    let last = first
        .checked_add(count.saturating_sub(1))
        .filter(|last| count > 0 && *last < u32::MAX)
        .ok_or_else(|| {
            ConfigError::new(
                "local.workload_uid_count",
                format!(
                    "must be from 1 to {} with the first uid {first}",
                    u32::MAX - 1 - first
                ),
            )
        })?;
    Ok(LocalSettings {
        dir,
        detect_gpus,
        gpus,
        advertise_host,
        ssh_address,
        memory_limit,
        bwrap: PathBuf::from(bwrap),
        allow_unsandboxed,
        workload_uids: first..=last,
    })
}

/// Checks what the configuration names on disk (run at start-up and by
/// `check-config`; `resolve` itself reads no file): the kubeconfig of the
/// kube driver must exist.
pub fn check_files(config: &Config) -> Result<(), ConfigError> {
    if config.cluster.driver == DriverChoice::Kube
        && let Some(path) = &config.cluster.kubeconfig
        && !path.is_file()
    {
        return Err(ConfigError::new(
            "cluster.kubeconfig",
            format!("{} is not a readable file", path.display()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults() {
        let config = resolve(None, &env(&[]), &CliOverrides::default());
        let config = config.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.data_dir, PathBuf::from("./data"));
        assert_eq!(config.session_idle_timeout, SignedDuration::from_hours(12));
        assert_eq!(config.session_lifetime, SignedDuration::from_hours(24 * 7));
        assert_eq!(config.login_queue, 32);
        assert!(config.trusted_proxies.is_empty());
        assert_eq!(config.tls, None);
        assert_eq!(config.log_format, LogFormat::Text);
        assert_eq!(config.cluster.driver, DriverChoice::Local);
        assert_eq!(config.cluster.request_timeout, Duration::from_secs(10));
        assert_eq!(config.cluster.resync_interval, Duration::from_secs(60));
        assert_eq!(config.cluster.job_ttl, Duration::from_secs(3600));
        assert_eq!(config.cluster.kubeconfig, None);
        assert_eq!(config.cluster.committer_image, None);
        assert_eq!(config.cluster.registry, None);
        assert_eq!(config.cluster.committer_cpu_milli, 1000);
        assert_eq!(config.cluster.committer_memory_mib, 2048);
        assert!(config.local.detect_gpus && config.local.memory_limit);
        assert!(config.local.gpus.is_empty());
        assert_eq!(config.local.advertise_host, "127.0.0.1");
        assert_eq!(config.local.ssh_address.to_string(), "127.0.0.1");
        assert_eq!(config.local.bwrap, PathBuf::from("/usr/bin/bwrap"));
        assert!(!config.local.allow_unsandboxed, "a sandbox unless allowed");
        assert_eq!(config.local.workload_uids, 200_000..=299_999);
        assert_eq!(config.local.dir, PathBuf::from("./data/local"));
        // Empty: the default, beside whichever data directory.
        let config = resolve(
            Some("data_dir = \"/srv/m\"\n[local]\ndir = \" \"\n"),
            &env(&[]),
            &CliOverrides::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.local.dir, PathBuf::from("/srv/m/local"));
    }

    #[test]
    fn cluster_and_local_sections() {
        let file = r#"
[cluster]
driver = "kube"
kubeconfig = "/etc/mlstack/kubeconfig"
context = "lab"
request_timeout = "5s"
resync_interval = "2m"
job_ttl = "0s"
committer_image = "registry.lab/committer:1"
registry = "registry.lab/mlstack"
committer_cpu_milli = 500
committer_memory_mib = 1024
node_host = "gpu.lab"
service_access = "cluster-address"

[local]
detect_gpus = false
gpus = [{ index = 0, name = "NVIDIA T4", memory_mib = 15360, uuid = "GPU-1b2c" }]
advertise_host = "10.0.0.5"
ssh_address = "10.0.0.5"
memory_limit = false
bwrap = "/usr/local/bin/bwrap"
allow_unsandboxed = false
first_workload_uid = 300000
workload_uid_count = 100
"#;
        let e = env(&[
            ("MLSTACK_CLUSTER_REQUEST_TIMEOUT", "7s"),
            ("MLSTACK_LOCAL_MEMORY_LIMIT", "true"),
            ("MLSTACK_LOCAL_BWRAP", "/opt/bwrap"),
            ("MLSTACK_LOCAL_ALLOW_UNSANDBOXED", "true"),
            ("MLSTACK_LOCAL_DIR", "/var/lib/mlstack-local"),
        ]);
        let config =
            resolve(Some(file), &e, &CliOverrides::default()).unwrap_or_else(|e| panic!("{e}"));
        let kube = config.cluster.kube_settings();
        assert_eq!(config.cluster.driver, DriverChoice::Kube);
        assert_eq!(
            kube,
            KubeConfig {
                kubeconfig: Some(PathBuf::from("/etc/mlstack/kubeconfig")),
                context: Some("lab".into()),
                request_timeout: Duration::from_secs(7),
                job_ttl: Duration::ZERO,
                committer_image: Some("registry.lab/committer:1".into()),
                registry: Some("registry.lab/mlstack".into()),
                committer_cpu_milli: 500,
                committer_ram_mib: 1024,
                node_host: Some("gpu.lab".into()),
                service_access: ServiceAccess::ClusterAddress,
            }
        );
        assert_eq!(config.cluster.resync_interval, Duration::from_secs(120));
        assert_eq!(
            config.local,
            LocalSettings {
                dir: PathBuf::from("/var/lib/mlstack-local"),
                detect_gpus: false,
                gpus: vec![LocalGpu {
                    index: 0,
                    name: "NVIDIA T4".into(),
                    memory_mib: 15360,
                    uuid: Some("GPU-1b2c".into()),
                    minor: None,
                }],
                advertise_host: "10.0.0.5".into(),
                ssh_address: "10.0.0.5".parse().unwrap_or_else(|e| panic!("{e}")),
                memory_limit: true,
                bwrap: PathBuf::from("/opt/bwrap"),
                allow_unsandboxed: true,
                workload_uids: 300_000..=300_099,
            }
        );
        assert_eq!(
            check_files(&config).map_err(|e| e.key),
            Err("cluster.kubeconfig".to_owned()),
            "a kubeconfig that does not exist is refused at start"
        );
        let local =
            resolve(None, &env(&[]), &CliOverrides::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(check_files(&local), Ok(()));
    }

    #[test]
    fn layers_override_in_order() {
        let file = "listen = \"127.0.0.1:9000\"\ndata_dir = \"/srv/a\"\n[session]\nidle_timeout = \"2h\"\n";
        let e = env(&[
            ("MLSTACK_DATA_DIR", "/srv/b"),
            ("MLSTACK_SESSION_IDLE_TIMEOUT", "30m"),
        ]);
        let cli = CliOverrides {
            listen: Some("0.0.0.0:7000".into()),
            data_dir: None,
        };
        let config = resolve(Some(file), &e, &cli).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.listen.to_string(), "0.0.0.0:7000");
        assert_eq!(config.data_dir, PathBuf::from("/srv/b"));
        assert_eq!(config.session_idle_timeout, SignedDuration::from_mins(30));
    }

    #[test]
    fn errors_name_the_key() {
        type Case<'a> = (Option<&'a str>, &'a [(&'a str, &'a str)], &'a str);
        let cases: [Case; 45] = [
            (Some("listen = \"nowhere\""), &[], "listen"),
            (
                Some("[limits]\nmax_header_bytes = 1048576"),
                &[],
                "limits.max_header_bytes",
            ),
            (
                None,
                &[("MLSTACK_LIMITS_MAX_CONNECTIONS", "0")],
                "limits.max_connections",
            ),
            (
                Some("[limits]\nclient_request_timeout = \"forever\""),
                &[],
                "limits.client_request_timeout",
            ),
            (Some("[limits]\nmax_body = 5"), &[], "max_body"),
            (
                Some("[session]\nidle_timeout = \"soon\""),
                &[],
                "session.idle_timeout",
            ),
            (
                Some("[session]\nidle_timeout = \"5s\""),
                &[],
                "session.idle_timeout",
            ),
            (Some("[tls]\ncert_file = \"/c.pem\""), &[], "tls.key_file"),
            (Some("[log]\nformat = \"xml\""), &[], "log.format"),
            (Some("colour = \"blue\""), &[], "colour"),
            (None, &[("MLSTACK_LISTNE", "x")], "MLSTACK_LISTNE"),
            (None, &[("MLSTACK_WORKERS", "many")], "workers"),
            (Some("[cluster]\ndriver = \"k8s\""), &[], "cluster.driver"),
            (
                Some("[cluster]\nrequest_timeout = \"soon\""),
                &[],
                "cluster.request_timeout",
            ),
            (
                Some("[cluster]\nrequest_timeout = \"1h\""),
                &[],
                "cluster.request_timeout",
            ),
            (
                None,
                &[("MLSTACK_CLUSTER_RESYNC_INTERVAL", "0s")],
                "cluster.resync_interval",
            ),
            (Some("[cluster]\njob_ttl = \"-1h\""), &[], "cluster.job_ttl"),
            (
                Some("[cluster]\ncommitter_memory_mib = 0"),
                &[],
                "cluster.committer_memory_mib",
            ),
            (
                None,
                &[("MLSTACK_CLUSTER_COMMITTER_CPU_MILLI", "one")],
                "cluster.committer_cpu_milli",
            ),
            (
                None,
                &[("MLSTACK_LOCAL_MEMORY_LIMIT", "yes")],
                "local.memory_limit",
            ),
            (
                Some("[local]\nadvertise_host = \"a b\""),
                &[],
                "local.advertise_host",
            ),
            (
                None,
                &[("MLSTACK_LOCAL_SSH_ADDRESS", "lab.example")],
                "local.ssh_address",
            ),
            (
                Some(
                    "[local]\ngpus = [{ index = 0, name = \"A\", memory_mib = 1 }, { index = 0, name = \"B\", memory_mib = 1 }]",
                ),
                &[],
                "local.gpus",
            ),
            (Some("[local]\ngpu = []"), &[], "gpu"),
            (Some("[local]\nbwrap = \"bwrap\""), &[], "local.bwrap"),
            (
                None,
                &[("MLSTACK_LOCAL_ALLOW_UNSANDBOXED", "maybe")],
                "local.allow_unsandboxed",
            ),
            (
                Some("[local]\nfirst_workload_uid = 1000"),
                &[],
                "local.first_workload_uid",
            ),
            (
                Some("[local]\nworkload_uid_count = 0"),
                &[],
                "local.workload_uid_count",
            ),
            (
                Some("[metrics]\ndcgm_endpoints = [\"https://n:9400/metrics\"]"),
                &[],
                "metrics.dcgm_endpoints",
            ),
            (
                None,
                &[(
                    "MLSTACK_METRICS_DCGM_ENDPOINTS",
                    "http://a:9400/metrics, not an address",
                )],
                "metrics.dcgm_endpoints",
            ),
            (
                None,
                &[("MLSTACK_METRICS_SCRAPE_INTERVAL", "0s")],
                "metrics.scrape_interval",
            ),
            (
                Some("[metrics]\nscrape_timeout = \"5m\""),
                &[],
                "metrics.scrape_timeout",
            ),
            (
                Some("[metrics]\nmax_response_bytes = 10"),
                &[],
                "metrics.max_response_bytes",
            ),
            (
                Some("[metrics]\nretention_days = 0"),
                &[],
                "metrics.retention_days",
            ),
            (
                None,
                &[("MLSTACK_METRICS_SCRAPE_TOKEN", "short")],
                "metrics.scrape_token",
            ),
            (
                Some("[metrics]\nidle_threshold_pct = 101"),
                &[],
                "metrics.idle_threshold_pct",
            ),
            (
                Some("[metrics]\nidle_after = \"1m\""),
                &[],
                "metrics.idle_after",
            ),
            (
                None,
                &[("MLSTACK_METRICS_PROMETHEUS_URL", "prometheus:9090")],
                "metrics.prometheus_url",
            ),
            (
                Some("[metrics]\nnvidia_smi = \"yes\""),
                &[],
                "metrics.nvidia_smi",
            ),
            (
                None,
                &[("MLSTACK_METRICS_NVIDIA_SMI", "true")],
                "metrics.nvidia_smi",
            ),
            (
                Some("[mail]\nhost = \"smtp.lab\""),
                &[],
                "mail.from_address",
            ),
            (
                Some("[mail]\nhost = \"smtp.lab\"\nfrom_address = \"nope\""),
                &[],
                "mail.from_address",
            ),
            (
                Some(
                    "[mail]\nhost = \"smtp.lab\"\nfrom_address = \"a@b.example\"\nsecurity = \"ssl\"",
                ),
                &[],
                "mail.security",
            ),
            (
                Some(
                    "[mail]\nhost = \"smtp.lab\"\nfrom_address = \"a@b.example\"\nusername = \"u\"",
                ),
                &[],
                "mail.username",
            ),
            (
                Some("[mail]\nfrom_address = \"a@b.example\""),
                &[
                    ("MLSTACK_MAIL_HOST", "smtp.lab"),
                    ("MLSTACK_MAIL_PORT", "0"),
                ],
                "mail.port",
            ),
        ];
        for (file, vars, key) in cases {
            let err = resolve(file, &env(vars), &CliOverrides::default()).err();
            assert_eq!(
                err.map(|e| e.key),
                Some(key.to_owned()),
                "{file:?} {vars:?}"
            );
        }
    }

    #[test]
    fn trusted_proxies_are_addresses_or_networks() {
        let file = "trusted_proxies = [\"10.0.0.2\", \"192.168.0.0/24\", \"::1\"]\n";
        let config = resolve(Some(file), &env(&[]), &CliOverrides::default())
            .unwrap_or_else(|e| panic!("{e}"));
        let shown: Vec<String> = config
            .trusted_proxies
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(shown, ["10.0.0.2/32", "192.168.0.0/24", "::1/128"]);
        let from_env = resolve(
            Some(file),
            &env(&[("MLSTACK_TRUSTED_PROXIES", "127.0.0.1, 10.1.0.0/16")]),
            &CliOverrides::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(from_env.trusted_proxies.len(), 2);
        for (file, key) in [
            ("trusted_proxies = [\"proxy.lab\"]", "trusted_proxies"),
            ("[session]\nlifetime = \"30s\"", "session.lifetime"),
            ("[session]\nlogin_queue = 0", "session.login_queue"),
        ] {
            let err = resolve(Some(file), &env(&[]), &CliOverrides::default()).err();
            assert_eq!(err.map(|e| e.key), Some(key.to_owned()), "{file}");
        }
    }

    #[test]
    fn mail_comes_from_the_file_and_the_environment() {
        let file =
            "[mail]\nhost = \"smtp.lab\"\nfrom_address = \"lab@lab.example\"\nsecurity = \"tls\"\n";
        let config = resolve(Some(file), &env(&[]), &CliOverrides::default())
            .unwrap_or_else(|e| panic!("{e}"));
        let mail = config.mail.unwrap_or_else(|| panic!("mail is configured"));
        assert_eq!((mail.port, mail.security), (465, Security::Tls));
        assert_eq!(mail.from_name, "mlstack");
        let config = resolve(
            Some(file),
            &env(&[
                ("MLSTACK_MAIL_SECURITY", "none"),
                ("MLSTACK_MAIL_USERNAME", "relay"),
                ("MLSTACK_MAIL_PASSWORD", " s3cret "),
            ]),
            &CliOverrides::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mail = config.mail.unwrap_or_else(|| panic!("mail is configured"));
        assert_eq!((mail.port, mail.security), (25, Security::None));
        assert_eq!(mail.password, Some(Secret(" s3cret ".into())));
        let none =
            resolve(None, &env(&[]), &CliOverrides::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(none.mail, None, "no host: mail stays in the outbox");
    }

    #[test]
    fn the_example_config_is_valid_and_complete() {
        let text = include_str!("../config.example.toml");
        let config = resolve(Some(text), &env(&[]), &CliOverrides::default());
        let defaults = resolve(None, &env(&[]), &CliOverrides::default());
        assert_eq!(
            config.ok(),
            defaults.ok(),
            "the example documents the defaults"
        );
        for (var, key) in ENV_KEYS {
            let leaf = key.rsplit('.').next().unwrap_or(key);
            assert!(text.contains(leaf), "config.example.toml lacks {key}");
            assert!(text.contains(var), "config.example.toml lacks {var}");
        }
    }
}
