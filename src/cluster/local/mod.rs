//! The local driver: workloads as sandboxed process groups on this host
//! (the default when no cluster is configured; for a single server and for
//! trying the product). The image is not used: commands run with the
//! host's system directories, read-only.
//!
//! Layout under the driver's folder (`[local] dir`, by default
//! `<data dir>/local`); every file 0600, every folder 0700, except that
//! when the server switches users without being root (`identity.rs`) the
//! folders on the way to a workload's own (the driver's folder,
//! `workloads/`, `workloads/<id>/`, `projects/`, `projects/<project>/`,
//! `volumes/`) are 0711: its user's bwrap passes through them, and no one
//! but the server may list them:
//! ```text
//! workloads/<id>/state.json   what the driver knows (rediscovery after a restart)
//! workloads/<id>/output.log   stdout and stderr of every process
//! workloads/<id>/exit_code    a job's exit code, written by its wrapper shell
//! workloads/<id>/env          its environment (the workload's user's, read by its shell only)
//! workloads/<id>/work/        the working directory, /workspace in the sandbox (the workload's user's)
//! workloads/<id>/ssh/         a container's SSH server: host key, sshd_config, authorized_keys or shadow, passwd, group (`ssh.rs`; the workload's user's)
//! workloads/<id>/saved.tar    an image commit's saved working directory
//! projects/<project>/uid      the project's user, when workloads get users of their own
//! projects/<project>/volumes/<name>/   a volume (the project's user's)
//! projects/<project>/images/<sha256>   the commit that saved a custom image
//! ```
//!
//! - Every workload process runs in a bubblewrap sandbox (`sandbox.rs`):
//!   its own PID, IPC and mount namespaces, the system read-only, its
//!   working directory and volumes only (read-only ones really read-only),
//!   its GPU device nodes only, an environment of its own and nothing of
//!   the server's, no capability; as its project's own user when the
//!   server is root or holds CAP_SETUID/CAP_SETGID (`identity.rs`). If
//!   no sandbox can be made, workloads fail with `SandboxUnavailable`
//!   unless `allow_unsandboxed`.
//! - A job is `sh -c COMMAND` in a sandbox under a wrapper shell outside it
//!   that records the exit code (so a job that ends while the appliance is
//!   down still gets its status), in its own process group; cancel and the
//!   time limit signal the whole group (TERM, then KILL after a grace
//!   period), and killing the sandbox's first process ends everything in
//!   it (`processes.rs`).
//! - A container is a process group led by a placeholder `sleep` (where
//!   bwrap runs unprivileged, in a user namespace of its own that it holds
//!   for the sandbox: `sandbox::holder_command`) and one sandbox, whose own
//!   placeholder `sleep` the container's processes join (`nsenter`,
//!   `sandbox::join_command`): each service's local command on a free
//!   local port (`$PORT`; the network is the host's), the command, and each
//!   web terminal (`terminal.rs`). They share its processes, `/tmp` and
//!   mounts, as a pod's do. It is Running once every port accepts
//!   connections. HTTP services are reached only through
//!   mlstack's proxy (`Driver::proxy`): each start gives the container a new
//!   random secret (`$SERVICE_TOKEN`, in its environment file, never on a
//!   command line) that the proxy sends as `Authorization: token <secret>`,
//!   and the path they serve under (`$BASE_URL`), so another workload on
//!   the host cannot use them. A service that exits fails the container
//!   with the reason (exit code 127, or a program not found on the
//!   sandbox's PATH before starting: MissingProgram). An SSH service
//!   without a local command is OpenSSH's server run as the container's
//!   user in its sandbox (`ssh.rs`), on a port at `ssh_address`, never
//!   through the proxy.
//! - GPUs come from nvidia-smi or the configured list (`gpu.rs`) and are
//!   handed out as whole devices, never twice: their `/dev/nvidiaN` nodes
//!   in the sandbox, CUDA_VISIBLE_DEVICES by UUID when known, and
//!   CUDA_DEVICE_ORDER=PCI_BUS_ID.
//! - Volumes are directories (`volumes.rs`) mounted at their mount paths,
//!   also named by `$MLSTACK_VOLUME_<NAME>`.
//! - Memory: a cgroup v2 child of the server's delegated cgroup, joined by
//!   the wrapper shell outside the sandbox (the sandbox shows no
//!   `/sys/fs/cgroup`), else `ulimit -v` (RLIMIT_AS) for workloads without
//!   GPUs (`cgroup.rs`).
//! - A custom image (`commit.rs`) is a container's working directory saved
//!   as a tarball; a container of that image starts from a copy of it.
//! - After a restart, `open` finds the processes again by pid plus start
//!   time (/proc) and watches them by polling, or marks them Lost.

mod cgroup;
mod commit;
mod gpu;
mod identity;
mod launch;
mod logs;
mod processes;
mod procfs;
mod sandbox;
mod ssh;
mod terminal;
mod volumes;

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::ops::RangeInclusive;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use jiff::Timestamp;
use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};
use tokio::process::Command;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

pub use gpu::{LocalGpu, parse_nvidia_smi};
pub use procfs::group_members;
pub use terminal::Pty;

use launch::{Place, WorkloadEnv};
use logs::{follow, tail};
use processes::{
    JOB_WRAPPER, SERVICE_LAUNCHER, first_program, missing_program_in_log, program_exists,
    spawn_recorded, status_from_code, terminate_group, watch_adopted, watch_container, watch_job,
};
use volumes::{
    CopyProgress, copy_volume, folder, give_to, list_volumes, private_dir, write_private,
};

use super::proxy::{Forwarder, service_base_path};
use super::{
    Capacity, Driver, DriverError, DriverEvent, Endpoint, GpuCapacity, Health, LogStream,
    NodeCapacity, Observed, ProjectSpec, ProxyRequest, ProxyResponse, TerminalSession,
    TerminalSize, VolumeState, WorkloadEvent, WorkloadKind,
};
use crate::domain::catalog::{Protocol, ServiceKind};
use crate::domain::ids::{ProjectId, UserId};
use crate::domain::image::is_custom_target;
use crate::domain::metrics::ResourceReading;
use crate::domain::workload::{
    ContainerSpec, FailureReason, GpuRequest, ImageCommitSpec, JobSpec, ServiceSpec, SshAccess,
    VolumeMount, VolumeSpec, WorkloadId, WorkloadStatus, is_workload_name,
};
use cgroup::Cgroups;
use gpu::GpuBook;
use identity::{Switch, Users};
use sandbox::{Hidden, Mount, RunAs, SystemDir};

/// Where the GPU inventory comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GpuSource {
    /// nvidia-smi when it answers, else this list.
    Detect { fallback: Vec<LocalGpu> },
    /// Exactly this list (tests, or hosts where nvidia-smi lies).
    Fixed(Vec<LocalGpu>),
}

/// Where the local driver creates workload cgroups for memory limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupSource {
    /// This process's own cgroup v2, when it is delegated to us.
    Detect,
    /// Children of this cgroup v2 directory.
    At(PathBuf),
    /// None: memory limits through RLIMIT_AS only.
    Off,
}

/// Settings of the local driver.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// The driver's own directory (`[local] dir`, by default `<data
    /// dir>/local`). When workloads switch users without root, every folder
    /// above it must let other users pass (`o+x`).
    pub data_dir: PathBuf,
    pub gpus: GpuSource,
    /// The host name put in service links.
    pub advertise_host: String,
    /// Where containers' SSH servers listen (`ssh.rs`).
    pub ssh_address: IpAddr,
    /// How long a stopped process group gets between TERM and KILL.
    pub stop_grace: Duration,
    /// How long a container's services get to listen on their ports.
    pub ready_timeout: Duration,
    /// Whether to limit memory to the spec's RAM: through cgroup v2 where
    /// mlstack may create cgroups, else RLIMIT_AS (workloads without GPUs:
    /// CUDA reserves more address space than memory).
    pub memory_limit: bool,
    /// Where workload cgroups go.
    pub cgroups: CgroupSource,
    /// The bubblewrap program sandboxes are made with.
    pub bwrap: PathBuf,
    /// Run workloads without a sandbox when none can be made (a
    /// single-user machine); otherwise they are refused.
    pub allow_unsandboxed: bool,
    /// The server's own files a sandbox must never show, wherever they are
    /// (its data directory, configuration, TLS key).
    pub hidden: Vec<PathBuf>,
    /// Users for projects' workloads when the server runs as root or holds
    /// CAP_SETUID/CAP_SETGID, one per project.
    pub workload_uids: RangeInclusive<u32>,
}

impl LocalConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            gpus: GpuSource::Detect {
                fallback: Vec::new(),
            },
            advertise_host: "127.0.0.1".to_owned(),
            ssh_address: IpAddr::from(Ipv4Addr::LOCALHOST),
            stop_grace: Duration::from_secs(5),
            ready_timeout: Duration::from_secs(60),
            memory_limit: true,
            cgroups: CgroupSource::Detect,
            bwrap: PathBuf::from("/usr/bin/bwrap"),
            allow_unsandboxed: false,
            hidden: Vec::new(),
            workload_uids: 200_000..=299_999,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Job,
    Container,
    /// A custom image: the working directory of a container saved
    /// (`commit.rs`).
    ImageCommit,
}

/// One process of a workload: its identity survives a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ProcRecord {
    /// `job`, `keeper`, `command` or `service:<name>`.
    role: String,
    pid: i32,
    start_ticks: u64,
    /// The program the command starts, when it can be told.
    program: Option<String>,
}

/// What the driver keeps about a workload (state.json).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    id: WorkloadId,
    kind: Kind,
    project: ProjectId,
    name: String,
    status: WorkloadStatus,
    stop_requested: bool,
    /// The first is the process group leader.
    procs: Vec<ProcRecord>,
    gpus: Vec<u32>,
    endpoints: Vec<Endpoint>,
    volumes: Vec<String>,
    time_limit_secs: Option<u64>,
    started_at: Option<Timestamp>,
    finished_at: Option<Timestamp>,
    /// Status changes, oldest first (at most `EVENTS_KEPT`).
    #[serde(default)]
    events: Vec<WorkloadEvent>,
    /// The secret a container's HTTP services require from the proxy (a
    /// new one each start).
    #[serde(default)]
    service_token: ServiceToken,
}

/// A container's service secret; never shown by `Debug` (logs).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
struct ServiceToken(String);

impl std::fmt::Debug for ServiceToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServiceToken(..)")
    }
}

impl ServiceToken {
    /// 256 random bits, URL-safe.
    fn generate() -> ServiceToken {
        use base64::Engine;
        ServiceToken(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>()),
        )
    }
}

/// How many events a local workload keeps.
const EVENTS_KEPT: usize = 100;

impl Record {
    fn pgid(&self) -> Option<i32> {
        self.procs.first().map(|p| p.pid)
    }

    fn observed(&self) -> Observed {
        Observed {
            id: self.id,
            status: self.status.clone(),
            endpoints: if self.status == WorkloadStatus::Running {
                self.endpoints.clone()
            } else {
                Vec::new()
            },
            gpus: self.gpus.clone(),
            started_at: self.started_at,
            finished_at: self.finished_at,
        }
    }
}

struct Entry {
    record: Record,
    monitor: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct State {
    workloads: HashMap<WorkloadId, Entry>,
    gpus: GpuBook,
    /// Ports handed to running services.
    ports: BTreeSet<u16>,
}

/// How workloads are kept apart from the host, decided when the driver
/// opens (by making a sandbox once).
#[derive(Debug)]
enum Isolation {
    /// Each workload in a bubblewrap sandbox, as `users` says.
    Sandbox {
        system: Vec<SystemDir>,
        hidden: Vec<Hidden>,
        users: Users,
    },
    /// No sandbox could be made and `allow_unsandboxed` says run anyway:
    /// why none could be made.
    Unsandboxed(String),
    /// No sandbox could be made: no workload starts. Why.
    Refused(String),
}

struct Inner {
    config: LocalConfig,
    isolation: Isolation,
    /// The server holds ambient capabilities: they are cleared before any
    /// workload runs (`setpriv`).
    drop_capabilities: bool,
    /// Held while a project's user is chosen.
    uids: Mutex<()>,
    /// Where memory limits go when cgroup v2 is usable.
    cgroups: Option<Cgroups>,
    /// The GPU inventory came from nvidia-smi (not a configured list).
    gpus_detected: bool,
    /// Containers' SSH services are served: workloads are sandboxed and
    /// OpenSSH's server is installed.
    ssh: bool,
    state: Mutex<State>,
    /// Clones being copied, by project and volume name (not kept over a
    /// restart: a partial copy is started again).
    copies: Mutex<HashMap<(ProjectId, String), Arc<CopyProgress>>>,
    events: broadcast::Sender<DriverEvent>,
    /// Sends proxied requests to services' loopback ports.
    forwarder: Forwarder,
}

/// The local driver; cheap to clone (one shared state).
#[derive(Clone)]
pub struct LocalDriver {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for LocalDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalDriver")
            .field("data_dir", &self.inner.config.data_dir)
            .finish_non_exhaustive()
    }
}

const KEEPER_SECONDS: &str = "2147483647";

/// The role of the process in a container's sandbox that others join
/// (its placeholder `sleep`, inside).
const SANDBOX_KEEPER: &str = "sandbox keeper";

/// Whether process `pid` is a placeholder `sleep` (it has run every
/// program before it: the sandbox or the user namespace is then made).
fn is_placeholder(pid: i32) -> bool {
    let args = procfs::cmdline(pid);
    args.len() == 2
        && args[1] == KEEPER_SECONDS
        && Path::new(&args[0]).file_name() == Some("sleep".as_ref())
}

/// The first of `candidates()` that is a placeholder, once one is;
/// None when process `started` ended or `wait` passed first.
async fn placeholder(
    started: i32,
    candidates: impl Fn() -> Vec<i32>,
    wait: Duration,
) -> Option<i32> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if let Some(pid) = candidates().into_iter().find(|pid| is_placeholder(*pid)) {
            return Some(pid);
        }
        let alive = procfs::stat(started).is_some_and(|s| s.is_live());
        if !alive || tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The placeholder inside the sandbox started as process `sandbox`, once
/// it runs (the sandbox is then made); None when the sandbox ended or
/// `wait` passed first.
async fn sandbox_keeper(sandbox: i32, wait: Duration) -> Option<ProcRecord> {
    let pid = placeholder(sandbox, || procfs::descendants(sandbox), wait).await?;
    Some(ProcRecord {
        role: SANDBOX_KEEPER.to_owned(),
        pid,
        start_ticks: procfs::stat(pid)?.start_ticks,
        program: None,
    })
}

impl LocalDriver {
    /// Opens the driver on its directory: reads the GPU inventory and finds
    /// the processes of workloads that were running before a restart.
    pub async fn open(config: LocalConfig) -> Result<Self, DriverError> {
        let driver = Self::build(config, true).await?;
        driver.rediscover();
        Ok(driver)
    }

    /// Opens the driver to look, not to run: no processes are taken over
    /// and no workload state is written (`check-config` next to a running
    /// server). Its health and GPU inventory are those of `open`.
    pub async fn inspect(config: LocalConfig) -> Result<Self, DriverError> {
        Self::build(config, false).await
    }

    async fn build(config: LocalConfig, run: bool) -> Result<Self, DriverError> {
        let credentials = identity::current();
        let drop_capabilities = credentials.is_some_and(|c| c.ambient != 0);
        let mut users = identity::users(credentials);
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| DriverError::io(format!("creating {}", config.data_dir.display()), e))?;
        let absolute = config
            .data_dir
            .canonicalize()
            .map_err(|e| DriverError::io(format!("finding {}", config.data_dir.display()), e))?;
        if users == Users::PerProject(Switch::BeforeSandbox)
            && let Some(closed) = identity::closed_ancestor(&absolute)
        {
            users = Users::Server(Some(format!(
                "the driver's folder {} is inside {}, which other users cannot enter: set [local] dir to a folder outside the data directory",
                config.data_dir.display(),
                closed.display()
            )));
        }
        // Inspecting (check-config, perhaps as another user than the
        // server's) makes what is missing but changes nothing that exists.
        let make_folders = |users: &Users| -> Result<(), DriverError> {
            let mode = folder_mode(users);
            for dir in ["", "workloads", "projects"] {
                let path = config.data_dir.join(dir);
                if run || !path.exists() {
                    folder(&path, mode)?;
                }
            }
            Ok(())
        };
        make_folders(&users)?;
        let system = sandbox::system_dirs();
        let probe = |users: Users| {
            let run_as = match users {
                Users::PerProject(switch) => Some(RunAs {
                    uid: *config.workload_uids.start(),
                    switch,
                }),
                Users::Server(_) => None,
            };
            // Any folder every user may enter: the driver's own are made
            // so when it runs, and those above were checked.
            let work = std::env::temp_dir();
            let system = &system;
            let bwrap = &config.bwrap;
            async move { sandbox::probe(bwrap, system, run_as, drop_capabilities, &work).await }
        };
        let mut probed = probe(users.clone()).await;
        if let (Err(why), Users::PerProject(Switch::BeforeSandbox)) = (&probed, &users) {
            // Not as a project's user; perhaps as the server's.
            users = Users::Server(Some(format!(
                "no sandbox can be made as a project's user: {why}"
            )));
            make_folders(&users)?;
            probed = probe(users.clone()).await;
        }
        let isolation = match probed {
            Ok(()) => {
                let mut hidden = config.hidden.clone();
                if users == Users::PerProject(Switch::BeforeSandbox) {
                    // bwrap, as the workload's user, cannot cover what it
                    // cannot reach (nor can the workload read it).
                    hidden.retain(|path| identity::closed_ancestor(path).is_none());
                }
                Isolation::Sandbox {
                    hidden: sandbox::hidden_paths(&hidden, &system),
                    system,
                    users,
                }
            }
            Err(why) if config.allow_unsandboxed => {
                tracing::warn!(%why, "workloads run WITHOUT a sandbox ([local] allow_unsandboxed)");
                Isolation::Unsandboxed(why)
            }
            Err(why) => {
                tracing::error!(%why, "no sandbox can be made: local workloads are refused");
                Isolation::Refused(why)
            }
        };
        let detected = match &config.gpus {
            GpuSource::Fixed(_) => None,
            GpuSource::Detect { .. } => gpu::detect(Duration::from_secs(10))
                .await
                .filter(|found| !found.is_empty()),
        };
        let gpus_detected = detected.is_some();
        let gpus = match (&config.gpus, detected) {
            (_, Some(found)) => found,
            (GpuSource::Fixed(list), None) | (GpuSource::Detect { fallback: list }, None) => {
                list.clone()
            }
        };
        let cgroups = match &config.cgroups {
            _ if !config.memory_limit || !run => None,
            CgroupSource::Off => None,
            CgroupSource::At(parent) => Cgroups::at(parent),
            CgroupSource::Detect => {
                let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
                Cgroups::detect(Path::new(cgroup::CGROUP_ROOT), &own)
            }
        };
        let ssh = matches!(isolation, Isolation::Sandbox { .. }) && ssh::installed();
        let (events, _) = broadcast::channel(1024);
        let driver = LocalDriver {
            inner: Arc::new(Inner {
                config,
                isolation,
                drop_capabilities,
                uids: Mutex::new(()),
                cgroups,
                gpus_detected,
                ssh,
                state: Mutex::new(State {
                    gpus: GpuBook::new(gpus),
                    ..State::default()
                }),
                copies: Mutex::new(HashMap::new()),
                events,
                forwarder: Forwarder::new(),
            }),
        };
        Ok(driver)
    }

    /// Why workloads run without a sandbox, when `allow_unsandboxed` let
    /// them (a warning for admins); None when they are sandboxed or refused.
    pub fn unsandboxed_warning(&self) -> Option<String> {
        match &self.inner.isolation {
            Isolation::Unsandboxed(why) => Some(why.clone()),
            Isolation::Sandbox { .. } | Isolation::Refused(_) => None,
        }
    }

    /// The GPU inventory.
    pub fn gpus(&self) -> Vec<LocalGpu> {
        self.inner.lock().gpus.gpus.clone()
    }

    /// Whether nvidia-smi found the GPUs (rather than the configured list
    /// standing in): then it can also read their utilization.
    pub fn gpus_detected(&self) -> bool {
        self.inner.gpus_detected
    }

    /// Whether an image's SSH service is served (by OpenSSH's server in the
    /// container's sandbox): workloads are sandboxed and `/usr/sbin/sshd`
    /// is installed.
    pub fn offers_ssh(&self) -> bool {
        self.inner.ssh
    }

    /// Makes the SSH server's folder for this start of container `id` and
    /// picks its port at `[local] ssh_address`: the port, and what its
    /// sandbox mounts. Never for root.
    async fn prepare_ssh(
        &self,
        id: WorkloadId,
        uid: Option<u32>,
        env: &WorkloadEnv<'_>,
        access: &SshAccess,
    ) -> Result<(u16, Vec<Mount>), DriverError> {
        let (run_uid, run_gid) = match uid {
            Some(uid) => (uid, uid),
            None => (
                nix::unistd::getuid().as_raw(),
                nix::unistd::getgid().as_raw(),
            ),
        };
        if run_uid == 0 {
            return Err(DriverError::Conflict(
                "a container's SSH server never runs as root".to_owned(),
            ));
        }
        let listen = self.inner.config.ssh_address;
        let port = self.free_port(listen, &[])?;
        let vars = self.workload_vars(env);
        let server = ssh::Server {
            listen,
            port,
            access,
            env: &vars,
        };
        let dir = self.inner.workload_dir(id).join("ssh");
        let mounts = ssh::prepare(&dir, uid, run_uid, run_gid, &server).await?;
        Ok((port, mounts))
    }

    /// Whether a workload's command can start `program`: it is on the PATH
    /// workloads get.
    pub fn can_run(&self, program: &str) -> bool {
        processes::program_exists(program)
    }

    /// The process group of a workload (tests check that it is gone).
    pub fn process_group(&self, id: WorkloadId) -> Option<i32> {
        self.inner
            .lock()
            .workloads
            .get(&id)
            .and_then(|e| e.record.pgid())
    }

    /// What a workload's processes use now, for the metrics collector:
    /// CPU seconds and memory from its cgroup v2 where the driver made one
    /// (`cpu.stat`, `memory.current`), else added up over the live members
    /// of its process group (`/proc/PID/schedstat`, `VmRSS`) — there a
    /// process that ended takes its CPU time along, which reads as a
    /// counter reset (no rate that scrape). No network: workloads share the
    /// host's network namespace, so their traffic is not told apart from
    /// the host's. None for a workload without processes.
    pub fn resource_reading(&self, id: WorkloadId) -> Option<ResourceReading> {
        let pgid = self.process_group(id)?;
        let from_cgroup = self.inner.cgroups.as_ref().map(|c| c.usage(id));
        let (cpu_seconds, memory_bytes) = match from_cgroup {
            Some((Some(cpu), memory)) => (Some(cpu), memory),
            _ => {
                let (cpu, rss) = procfs::group_usage(pgid)?;
                (Some(cpu), Some(rss))
            }
        };
        Some(ResourceReading {
            cpu_seconds,
            memory_bytes,
            rx_bytes: None,
            tx_bytes: None,
        })
    }

    /// Stops watching without touching any process, as if the appliance
    /// had crashed: a driver opened later on the same directory takes over.
    pub fn detach(&self) {
        let mut state = self.inner.lock();
        for entry in state.workloads.values_mut() {
            if let Some(monitor) = entry.monitor.take() {
                monitor.abort();
            }
        }
        state.workloads.clear();
    }

    fn rediscover(&self) {
        let dir = self.inner.config.data_dir.join("workloads");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        let mut records = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path().join("state.json");
            match std::fs::read(&path).map(|bytes| serde_json::from_slice::<Record>(&bytes)) {
                Ok(Ok(record)) => records.push(record),
                Ok(Err(e)) => {
                    tracing::warn!(path = %path.display(), error = %e, "unreadable workload state")
                }
                Err(_) => {}
            }
        }
        let mut state = self.inner.lock();
        for record in records {
            let id = record.id;
            let terminal = record.status.is_terminal();
            let live = !terminal
                && !record.procs.is_empty()
                && record
                    .procs
                    .iter()
                    .all(|p| procfs::is_same_live_process(p.pid, p.start_ticks));
            let leader_live = record
                .procs
                .first()
                .is_some_and(|p| procfs::is_same_live_process(p.pid, p.start_ticks));
            let kind = record.kind;
            let pgid = record.pgid();
            let gpus = record.gpus.clone();
            let ports: Vec<u16> = record.endpoints.iter().map(|e| e.port).collect();
            let stop_requested = record.stop_requested;
            let exit_code = self.read_exit_code(id);
            let remaining = record.time_limit_secs.map(|limit| {
                let ran = record
                    .started_at
                    .map(|s| Timestamp::now().duration_since(s).as_secs().max(0) as u64)
                    .unwrap_or(0);
                Duration::from_secs(limit.saturating_sub(ran))
            });
            state.workloads.insert(
                id,
                Entry {
                    record,
                    monitor: None,
                },
            );
            if terminal {
                continue;
            }
            if live {
                // Job: the wrapper still runs. Container: every process
                // still runs. Take them over.
                if !state.gpus.rebook(id, &gpus) {
                    tracing::warn!(%id, ?gpus, "GPUs of a rediscovered workload are not free");
                }
                state.ports.extend(ports);
                let inner = self.inner.clone();
                let monitor = tokio::spawn(watch_adopted(inner, id, remaining));
                if let Some(entry) = state.workloads.get_mut(&id) {
                    entry.monitor = Some(monitor);
                }
                continue;
            }
            if leader_live {
                // A container lost one of its processes while we were down.
                if let Some(pgid) = pgid {
                    let _ = procfs::signal_group(pgid, Signal::SIGKILL);
                }
            }
            let status = match (kind, exit_code) {
                (Kind::Job, Some(code)) => status_from_code(code, None),
                _ if stop_requested => WorkloadStatus::Stopped,
                _ => WorkloadStatus::failed(FailureReason::Lost),
            };
            self.inner
                .transition(&mut state, id, status, "found after a restart".to_owned());
        }
    }

    fn read_exit_code(&self, id: WorkloadId) -> Option<i32> {
        std::fs::read_to_string(self.inner.workload_dir(id).join("exit_code"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Reserves the id (Creating) and books GPUs; None when the workload
    /// exists and is not terminal (then its observation is returned).
    fn reserve(&self, ask: Reservation<'_>) -> Result<Result<Vec<u32>, Observed>, DriverError> {
        let Reservation {
            id,
            kind,
            project,
            name,
            gpu,
            volumes,
            time_limit_secs,
        } = ask;
        let mut state = self.inner.lock();
        if let Some(entry) = state.workloads.get(&id) {
            if entry.record.kind != kind {
                return Err(DriverError::Conflict(format!(
                    "{id} exists as another kind of workload"
                )));
            }
            // A job runs once; a running container stays as it is.
            if kind == Kind::Job || !entry.record.status.is_terminal() {
                return Ok(Err(entry.record.observed()));
            }
        }
        let gpus = match gpu {
            Some(request) => {
                state
                    .gpus
                    .book(id, request)
                    .map_err(|free| DriverError::NotEnoughGpus {
                        gpu_type: request.type_name.clone(),
                        requested: gpu::devices_needed(request),
                        free,
                    })?
            }
            None => Vec::new(),
        };
        let record = Record {
            id,
            kind,
            project,
            name: name.to_owned(),
            status: WorkloadStatus::Creating,
            stop_requested: false,
            procs: Vec::new(),
            gpus: gpus.clone(),
            endpoints: Vec::new(),
            volumes: volumes.iter().map(|m| m.volume.clone()).collect(),
            time_limit_secs,
            started_at: None,
            finished_at: None,
            events: Vec::new(),
            service_token: ServiceToken::default(),
        };
        if let Some(old) = state.workloads.insert(
            id,
            Entry {
                record,
                monitor: None,
            },
        ) && let Some(monitor) = old.monitor
        {
            monitor.abort();
        }
        self.inner.persist(&state, id);
        Ok(Ok(gpus))
    }

    /// Ends a workload before it ran (spawn failure, missing program).
    fn fail_early(&self, id: WorkloadId, reason: FailureReason) -> Observed {
        let mut state = self.inner.lock();
        let message = reason.to_string();
        self.inner
            .transition(&mut state, id, WorkloadStatus::failed(reason), message);
        state
            .workloads
            .get(&id)
            .map(|e| e.record.observed())
            .unwrap_or_else(|| Observed {
                id,
                status: WorkloadStatus::failed(FailureReason::Lost),
                endpoints: Vec::new(),
                gpus: Vec::new(),
                started_at: None,
                finished_at: None,
            })
    }

    /// What a workload needs before its processes start: its project's
    /// user and its prepared folder and log; or, when it cannot start (no
    /// sandbox, no user left), the observation of its early failure.
    #[allow(clippy::type_complexity)]
    fn ready_to_start(
        &self,
        id: WorkloadId,
        project: ProjectId,
        volumes: &[(VolumeMount, PathBuf)],
    ) -> Result<Result<(Option<u32>, PathBuf, std::fs::File), Observed>, DriverError> {
        if let Some(refused) = self.refuse_unsandboxed(id) {
            return Ok(Err(refused));
        }
        let uid = match self.project_uid(project) {
            Ok(uid) => uid,
            Err(e) => return Ok(Err(self.fail_early(id, FailureReason::Other(e.to_string())))),
        };
        let (work, log) = self.prepare(id, volumes, uid).inspect_err(|e| {
            self.fail_early(id, FailureReason::Other(e.to_string()));
        })?;
        Ok(Ok((uid, work, log)))
    }

    /// Ends a reserved workload at once when no sandbox can be made and
    /// unsandboxed workloads are not allowed.
    fn refuse_unsandboxed(&self, id: WorkloadId) -> Option<Observed> {
        match &self.inner.isolation {
            Isolation::Refused(why) => {
                tracing::warn!(%id, %why, "a workload is refused: no sandbox");
                Some(self.fail_early(id, FailureReason::SandboxUnavailable))
            }
            Isolation::Sandbox { .. } | Isolation::Unsandboxed(_) => None,
        }
    }

    /// Marks the workload's processes started. A stop (or delete) that came
    /// while they were starting ends them at once; the monitor then records
    /// the end.
    fn started(
        &self,
        id: WorkloadId,
        procs: Vec<ProcRecord>,
        endpoints: Vec<Endpoint>,
        service_token: ServiceToken,
    ) {
        let pgid = procs.first().map(|p| p.pid);
        let mut state = self.inner.lock();
        let stop = match state.workloads.get_mut(&id) {
            Some(entry) => {
                entry.record.procs = procs;
                entry.record.endpoints = endpoints.clone();
                entry.record.service_token = service_token;
                entry.record.started_at = Some(Timestamp::now());
                entry.record.stop_requested || entry.record.status.is_terminal()
            }
            None => true,
        };
        if stop {
            if let Some(pgid) = pgid {
                let _ = procfs::signal_group(pgid, Signal::SIGKILL);
            }
        } else {
            state.ports.extend(endpoints.iter().map(|e| e.port));
        }
        self.inner.persist(&state, id);
    }

    fn set_monitor(&self, id: WorkloadId, monitor: JoinHandle<()>) {
        let mut state = self.inner.lock();
        match state.workloads.get_mut(&id) {
            Some(entry) => entry.monitor = Some(monitor),
            None => monitor.abort(),
        }
    }

    /// A free port at `address` not handed to another service.
    fn free_port(&self, address: IpAddr, taken: &[u16]) -> Result<u16, DriverError> {
        for _ in 0..64 {
            let listener = TcpListener::bind((address, 0))
                .map_err(|e| DriverError::io("finding a free port", e))?;
            let port = listener
                .local_addr()
                .map_err(|e| DriverError::io("finding a free port", e))?
                .port();
            if !taken.contains(&port) && !self.inner.lock().ports.contains(&port) {
                return Ok(port);
            }
        }
        Err(DriverError::Conflict("no free local port".to_owned()))
    }

    /// Signals the group to stop and waits (TERM, grace, KILL) until no
    /// member is left.
    async fn stop_workload(&self, id: WorkloadId, kind: Kind) -> Result<(), DriverError> {
        let pgid = {
            let mut state = self.inner.lock();
            let Some(entry) = state.workloads.get_mut(&id) else {
                return Err(DriverError::NotFound {
                    what: format!("workload {id}"),
                });
            };
            if entry.record.kind != kind {
                return Err(DriverError::NotFound {
                    what: format!("workload {id}"),
                });
            }
            if entry.record.status.is_terminal() {
                return Ok(());
            }
            entry.record.stop_requested = true;
            let pgid = entry.record.pgid();
            if pgid.is_some() {
                self.inner.transition(
                    &mut state,
                    id,
                    WorkloadStatus::Stopping,
                    "stop requested".to_owned(),
                );
            } else {
                self.inner.transition(
                    &mut state,
                    id,
                    WorkloadStatus::Stopped,
                    "stopped before it started".to_owned(),
                );
            }
            pgid
        };
        if let Some(pgid) = pgid {
            terminate_group(pgid, self.inner.config.stop_grace).await;
        }
        Ok(())
    }

    async fn delete_workload(&self, id: WorkloadId, kind: Kind) -> Result<(), DriverError> {
        match self.stop_workload(id, kind).await {
            Ok(()) => {}
            Err(DriverError::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(e),
        }
        {
            let mut state = self.inner.lock();
            if let Some(entry) = state.workloads.remove(&id) {
                if let Some(monitor) = entry.monitor {
                    monitor.abort();
                }
                let ports: Vec<u16> = entry.record.endpoints.iter().map(|e| e.port).collect();
                for port in ports {
                    state.ports.remove(&port);
                }
                state.gpus.release(id);
            }
        }
        let dir = self.inner.workload_dir(id);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(DriverError::io(format!("removing {}", dir.display()), e)),
        }
    }
}

/// What `reserve` books.
struct Reservation<'a> {
    id: WorkloadId,
    kind: Kind,
    project: ProjectId,
    name: &'a str,
    gpu: Option<&'a GpuRequest>,
    volumes: &'a [VolumeMount],
    time_limit_secs: Option<u64>,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn copies(&self) -> MutexGuard<'_, HashMap<(ProjectId, String), Arc<CopyProgress>>> {
        self.copies.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sandboxed(&self) -> bool {
        matches!(self.isolation, Isolation::Sandbox { .. })
    }

    /// Whether bwrap makes a user namespace for a sandbox: sandboxed and
    /// not root (`sandbox::holder_command`).
    fn own_userns(&self) -> bool {
        self.sandboxed() && self.switch() != Some(Switch::InSandbox)
    }

    /// The mode of the folders on the way to a workload's own.
    fn folder_mode(&self) -> u32 {
        match &self.isolation {
            Isolation::Sandbox { users, .. } => folder_mode(users),
            Isolation::Unsandboxed(_) | Isolation::Refused(_) => 0o700,
        }
    }

    /// How a project's workloads become its user, when they do.
    fn switch(&self) -> Option<Switch> {
        match &self.isolation {
            Isolation::Sandbox {
                users: Users::PerProject(switch),
                ..
            } => Some(*switch),
            _ => None,
        }
    }

    /// Makes `projects/<project>/` (and `projects/<project>/<sub>`, when
    /// given) and returns it.
    fn project_folder(
        &self,
        project: ProjectId,
        sub: Option<&str>,
    ) -> Result<PathBuf, DriverError> {
        let mode = self.folder_mode();
        let projects = self.config.data_dir.join("projects");
        folder(&projects, mode)?;
        let mut dir = projects.join(project.to_string());
        folder(&dir, mode)?;
        if let Some(sub) = sub {
            dir = dir.join(sub);
            folder(&dir, mode)?;
        }
        Ok(dir)
    }

    fn workload_dir(&self, id: WorkloadId) -> PathBuf {
        self.config.data_dir.join("workloads").join(id.to_string())
    }

    fn volume_dir(&self, project: ProjectId, name: &str) -> PathBuf {
        self.config
            .data_dir
            .join("projects")
            .join(project.to_string())
            .join("volumes")
            .join(name)
    }

    /// Writes the record to state.json (write, then rename).
    fn persist(&self, state: &State, id: WorkloadId) {
        let Some(entry) = state.workloads.get(&id) else {
            return;
        };
        let dir = self.workload_dir(id);
        let result = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(self.folder_mode())
            .create(&dir)
            .and_then(|()| {
                let bytes =
                    serde_json::to_vec_pretty(&entry.record).map_err(std::io::Error::other)?;
                let tmp = dir.join("state.json.tmp");
                write_private(&tmp, &bytes)?;
                std::fs::rename(&tmp, dir.join("state.json"))
            });
        if let Err(error) = result {
            tracing::warn!(%id, %error, "could not save the workload state");
        }
    }

    /// Sets a workload's status, saves it and tells subscribers; a terminal
    /// status frees its GPUs and ports.
    fn transition(
        &self,
        state: &mut State,
        id: WorkloadId,
        status: WorkloadStatus,
        message: String,
    ) {
        let Some(entry) = state.workloads.get_mut(&id) else {
            return;
        };
        if entry.record.status == status {
            return;
        }
        entry.record.status = status.clone();
        let now = Timestamp::now();
        let mut ports = Vec::new();
        if status.is_terminal() {
            entry.record.finished_at = Some(now);
            ports = entry.record.endpoints.iter().map(|e| e.port).collect();
        }
        if status.is_terminal() {
            state.gpus.release(id);
            for port in ports {
                state.ports.remove(&port);
            }
        }
        if entry.record.events.len() >= EVENTS_KEPT {
            entry.record.events.remove(0);
        }
        entry.record.events.push(WorkloadEvent {
            at: now,
            warning: matches!(status, WorkloadStatus::Failed { .. }),
            reason: status_reason(&status).to_owned(),
            message: message.clone(),
        });
        self.persist(state, id);
        tracing::info!(%id, %status, %message, "workload status");
        let _ = self.events.send(DriverEvent {
            workload: id,
            status,
            at: now,
            message,
        });
    }

    /// The final status of a workload whose processes ended.
    fn finish(&self, id: WorkloadId, status: WorkloadStatus, message: String) {
        let mut state = self.lock();
        let stop_requested = state
            .workloads
            .get(&id)
            .is_some_and(|e| e.record.stop_requested);
        let status = if stop_requested
            && !matches!(
                status,
                WorkloadStatus::Failed {
                    reason: FailureReason::TimeLimit
                }
            ) {
            WorkloadStatus::Stopped
        } else {
            status
        };
        if let Some(entry) = state.workloads.get_mut(&id) {
            entry.monitor = None;
        }
        // The shell names the program it did not find in the log.
        let (status, message) = match status {
            WorkloadStatus::Failed {
                reason: FailureReason::MissingProgram(guess),
            } => {
                let program = tail(&self.workload_dir(id).join("output.log"), 50)
                    .ok()
                    .and_then(|log| missing_program_in_log(&log))
                    .unwrap_or(guess);
                let status = WorkloadStatus::failed(FailureReason::MissingProgram(program));
                let message = status.to_string();
                (status, message)
            }
            // The kernel's OOM killer leaves a signal or an exit code; the
            // cgroup says why.
            WorkloadStatus::Failed { .. }
                if self.cgroups.as_ref().is_some_and(|c| c.oom_killed(id)) =>
            {
                let status = WorkloadStatus::failed(FailureReason::OutOfMemory);
                let message = status.to_string();
                (status, message)
            }
            other => (other, message),
        };
        if let Some(cgroups) = &self.cgroups {
            cgroups.remove(id);
        }
        self.transition(&mut state, id, status, message);
    }
}

impl Driver for LocalDriver {
    fn name(&self) -> &'static str {
        "local"
    }

    async fn health(&self) -> Result<Health, DriverError> {
        let probe = self.inner.config.data_dir.join(".health");
        let writable = std::fs::write(&probe, b"ok").and_then(|()| std::fs::remove_file(&probe));
        let shell = Path::new("/bin/sh").exists();
        let (ok, message) = match (writable, shell) {
            (Ok(()), true) => {
                let base = format!(
                    "{} is writable; {} GPUs",
                    self.inner.config.data_dir.display(),
                    self.inner.lock().gpus.gpus.len()
                );
                match &self.inner.isolation {
                    Isolation::Sandbox {
                        users: Users::PerProject(switch),
                        ..
                    } => {
                        let because = match switch {
                            Switch::InSandbox => "the server runs as root",
                            Switch::BeforeSandbox => "the server holds CAP_SETUID and CAP_SETGID",
                        };
                        (
                            true,
                            format!(
                                "{base}; workloads run in bubblewrap sandboxes, each project's as a user of its own ({because})"
                            ),
                        )
                    }
                    Isolation::Sandbox {
                        users: Users::Server(why),
                        ..
                    } => {
                        let why = why.clone().unwrap_or_else(|| {
                            format!(
                                "run the server as root, or grant it {}, for a user per project",
                                identity::NEEDED
                            )
                        });
                        (
                            true,
                            format!(
                                "{base}; workloads run in bubblewrap sandboxes as the server's user: {why}"
                            ),
                        )
                    }
                    Isolation::Unsandboxed(why) => (
                        true,
                        format!(
                            "{base}; WARNING: workloads run WITHOUT a sandbox ([local] allow_unsandboxed = true): {why}"
                        ),
                    ),
                    Isolation::Refused(why) => (
                        false,
                        format!(
                            "workloads cannot start: {why}; install bubblewrap and allow user namespaces, or set [local] allow_unsandboxed = true on a single-user machine"
                        ),
                    ),
                }
            }
            (Err(e), _) => (
                false,
                format!(
                    "{} is not writable: {e}",
                    self.inner.config.data_dir.display()
                ),
            ),
            (Ok(()), false) => (false, "/bin/sh is missing".to_owned()),
        };
        Ok(Health {
            driver: "local",
            ok,
            message,
        })
    }

    async fn capacity(&self) -> Result<Capacity, DriverError> {
        let cpu_milli = std::thread::available_parallelism()
            .map(|n| n.get() as u64 * 1000)
            .unwrap_or(1000);
        let ram_mib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kb| kb.parse::<u64>().ok())
            })
            .map(|kb| kb / 1024)
            .unwrap_or(0);
        let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "localhost".to_owned());
        let state = self.inner.lock();
        let mut gpus: Vec<GpuCapacity> = Vec::new();
        for device in &state.gpus.gpus {
            let free = u32::from(!state.gpus.is_held(device.index));
            match gpus.iter_mut().find(|g| g.type_name == device.name) {
                Some(entry) => {
                    entry.total += 1;
                    entry.free += free;
                }
                None => gpus.push(GpuCapacity {
                    type_name: device.name.clone(),
                    resource_name: "nvidia.com/gpu".to_owned(),
                    total: 1,
                    free,
                }),
            }
        }
        Ok(Capacity {
            nodes: vec![NodeCapacity {
                name,
                cpu_milli,
                ram_mib,
            }],
            gpus,
        })
    }

    async fn provision_project(&self, project: &ProjectSpec) -> Result<(), DriverError> {
        self.inner
            .project_folder(project.id, Some("volumes"))
            .map(drop)
    }

    async fn provision_member(
        &self,
        project: &ProjectSpec,
        user: UserId,
    ) -> Result<(), DriverError> {
        let dir = self
            .inner
            .project_folder(project.id, Some("home"))?
            .join(user.to_string());
        private_dir(&dir)
    }

    async fn release_project(&self, project: ProjectId) -> Result<(), DriverError> {
        let dir = self
            .inner
            .config
            .data_dir
            .join("projects")
            .join(project.to_string());
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(DriverError::io(format!("removing {}", dir.display()), e))
            }
            _ => Ok(()),
        }
    }

    async fn apply_container(&self, spec: &ContainerSpec) -> Result<Observed, DriverError> {
        spec.validate().map_err(DriverError::Invalid)?;
        let id = spec.meta.id;
        let volumes = self.volume_dirs(spec.meta.project, &spec.volumes)?;
        // Services the local driver can start, and whether their programs
        // are installed (checked before anything is booked).
        // An SSH service without a local command is OpenSSH's server
        // (`ssh.rs`), when it is installed and someone may log in; one per
        // container.
        let mut services: Vec<(&ServiceSpec, String, bool)> = Vec::new();
        for service in &spec.services {
            match &service.local_command {
                Some(command) => services.push((service, command.clone(), false)),
                None if service.kind == ServiceKind::Ssh
                    && self.inner.ssh
                    && spec.ssh != SshAccess::None
                    && !services.iter().any(|(_, _, sshd)| *sshd) =>
                {
                    services.push((service, ssh::command(), true));
                }
                None => {}
            }
        }
        let missing = services
            .iter()
            .map(|(_, c, _)| c.as_str())
            .chain(spec.command.as_deref())
            .filter_map(first_program)
            .find(|p| !program_exists(p));
        let gpus = match self.reserve(Reservation {
            id,
            kind: Kind::Container,
            project: spec.meta.project,
            name: &spec.meta.name,
            gpu: spec.resources.gpu.as_ref(),
            volumes: &spec.volumes,
            time_limit_secs: None,
        })? {
            Ok(gpus) => gpus,
            Err(observed) => return Ok(observed),
        };
        if let Some(program) = missing {
            return Ok(self.fail_early(id, FailureReason::MissingProgram(program)));
        }
        // A container of a custom image starts from a copy of the saved
        // working directory (its first start only: its files stay after).
        let fresh = !self.inner.workload_dir(id).join("work").exists();
        let (uid, work, log) = match self.ready_to_start(id, spec.meta.project, &volumes)? {
            Ok(ready) => ready,
            Err(observed) => return Ok(observed),
        };
        if fresh
            && is_custom_target(&spec.image)
            && let Some(failed) = self
                .start_from_image(id, spec.meta.project, &spec.image, &work, uid)
                .await
        {
            return Ok(failed);
        }
        let service_token = ServiceToken::generate();
        let env = WorkloadEnv {
            id,
            name: &spec.meta.name,
            gpus: &gpus,
            volumes: &volumes,
            vars: &spec.env,
            work: &work,
            uid,
            service_token: Some(&service_token.0),
        };
        // The SSH server's port and folder, before any process starts.
        let ssh_listen = self.inner.config.ssh_address;
        let ssh_start = match services.iter().any(|(_, _, sshd)| *sshd) {
            false => None,
            true => match self.prepare_ssh(id, uid, &env, &spec.ssh).await {
                Ok(ready) => Some(ready),
                Err(e) => return Ok(self.fail_early(id, FailureReason::Other(e.to_string()))),
            },
        };
        let limit = self.limit_prefix(id, &spec.resources, &gpus);
        let host = &self.inner.config.advertise_host;
        let mut group = None;
        // First the group's leader and the container's one sandbox, which
        // every service, the command and each web terminal join.
        let made = (|| -> Result<_, DriverError> {
            // The group's leader: a placeholder of ours, not workload code;
            // where bwrap runs unprivileged, it holds the user namespace
            // the sandbox is made in (`sandbox::holder_command`).
            let holder = self.inner.own_userns();
            let words = if holder {
                sandbox::holder_command(self.run_as(uid), self.inner.drop_capabilities)
            } else {
                Vec::new()
            };
            let mut keeper = match words.split_first() {
                Some((program, args)) => {
                    let mut keeper = Command::new(program);
                    keeper.args(args).arg("sleep");
                    keeper
                }
                None => Command::new("sleep"),
            };
            keeper
                .arg(KEEPER_SECONDS)
                .env_clear()
                .env("PATH", sandbox::PATH)
                .current_dir(&work)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(false)
                .process_group(0);
            let (child, record) = spawn_recorded(&mut keeper, "keeper".to_owned(), None)?;
            group = Some(record.pid);
            Ok((holder, record.pid, vec![(child, record)]))
        })();
        // The sandbox is made in the holder's user namespace once it has one.
        let made = match made {
            Ok((true, pgid, children)) => {
                match placeholder(pgid, || vec![pgid], self.inner.config.ready_timeout).await {
                    Some(_) => Ok((true, pgid, children)),
                    None => Err(DriverError::Conflict(
                        "the container's placeholder did not start".to_owned(),
                    )),
                }
            }
            other => other,
        };
        let made = made.and_then(|(holder, pgid, mut children)| {
            let mut sandbox = None;
            if self.inner.sandboxed() {
                let userns = holder.then(|| PathBuf::from(format!("/proc/{pgid}/ns/user")));
                let mut command = self.workload_command(
                    &format!("{limit}{SERVICE_LAUNCHER}"),
                    "mlstack-sandbox",
                    &[],
                    &format!("exec /bin/sleep {KEEPER_SECONDS}"),
                    "",
                    // The SSH server's folder and files are mounted in the
                    // container's one sandbox, which the server joins.
                    ssh_start
                        .as_ref()
                        .map_or(&[][..], |(_, mounts)| mounts.as_slice()),
                    &env,
                    &log,
                    Place::Own {
                        userns: userns.as_deref(),
                    },
                )?;
                command.process_group(pgid);
                let (child, record) = spawn_recorded(&mut command, "sandbox".to_owned(), None)?;
                sandbox = Some(record.pid);
                children.push((child, record));
            }
            Ok((pgid, children, sandbox))
        });
        let made = match made {
            Ok((pgid, children, Some(sandbox))) => {
                match sandbox_keeper(sandbox, self.inner.config.ready_timeout).await {
                    Some(inside) => Ok((pgid, children, Some(inside))),
                    None => {
                        let _ = procfs::signal_group(pgid, Signal::SIGKILL);
                        return Ok(self.fail_early(
                            id,
                            FailureReason::Other(
                                "the container's sandbox did not start (its log says why)"
                                    .to_owned(),
                            ),
                        ));
                    }
                }
            }
            other => other.map(|(pgid, children, _)| (pgid, children, None)),
        };
        let started = made.and_then(|(pgid, mut children, inside)| {
            let place = match &inside {
                Some(record) => Place::Join(record.pid),
                None => Place::Own { userns: None },
            };
            let mut endpoints = Vec::new();
            let mut probes = Vec::new();
            let mut taken: Vec<u16> = ssh_start.iter().map(|(port, _)| *port).collect();
            for (service, local_command, sshd) in &services {
                let (port, extra) = match (&ssh_start, sshd) {
                    (Some((port, mounts)), true) => (*port, mounts.as_slice()),
                    _ => (self.free_port(Ipv4Addr::LOCALHOST.into(), &taken)?, &[][..]),
                };
                taken.push(port);
                let mut command = self.workload_command(
                    &format!("{limit}{SERVICE_LAUNCHER}"),
                    "mlstack-service",
                    &[],
                    local_command,
                    &format!(
                        "export PORT={port}\nexport BASE_URL={}\n",
                        cgroup::shell_quote(&service_base_path(id, &service.name))
                    ),
                    extra,
                    &env,
                    &log,
                    place,
                )?;
                command.process_group(pgid);
                children.push(spawn_recorded(
                    &mut command,
                    format!("service:{}", service.name),
                    first_program(local_command),
                )?);
                if *sshd {
                    let shown = ssh::shown_host(ssh_listen, host);
                    let bracketed = if shown.contains(':') {
                        format!("[{shown}]")
                    } else {
                        shown.clone()
                    };
                    probes.push((
                        service.name.clone(),
                        SocketAddr::new(ssh::probe_address(ssh_listen), port),
                    ));
                    endpoints.push(Endpoint {
                        service: service.name.clone(),
                        host: shown,
                        port,
                        url: format!("ssh://{}@{bracketed}:{port}", ssh::LOGIN),
                        login: Some(ssh::LOGIN.to_owned()),
                    });
                    continue;
                }
                probes.push((
                    service.name.clone(),
                    SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                ));
                let scheme = match (service.kind, service.protocol) {
                    (ServiceKind::Ssh, _) => "ssh",
                    (_, Protocol::Http) => "http",
                    (_, Protocol::Https) => "https",
                    (_, Protocol::Tcp) => "tcp",
                };
                let url = if matches!(service.protocol, Protocol::Http | Protocol::Https)
                    && service.kind != ServiceKind::Ssh
                {
                    format!("{scheme}://{host}:{port}/")
                } else {
                    format!("{scheme}://{host}:{port}")
                };
                endpoints.push(Endpoint {
                    service: service.name.clone(),
                    host: host.clone(),
                    port,
                    url,
                    login: None,
                });
            }
            if let Some(main) = &spec.command {
                let mut command = self.workload_command(
                    &format!("{limit}{SERVICE_LAUNCHER}"),
                    "mlstack-command",
                    &[],
                    main,
                    "",
                    &[],
                    &env,
                    &log,
                    place,
                )?;
                command.process_group(pgid);
                children.push(spawn_recorded(
                    &mut command,
                    "command".to_owned(),
                    first_program(main),
                )?);
            }
            Ok((pgid, children, endpoints, probes, inside))
        });
        let (pgid, children, endpoints, probes, inside) = match started {
            Ok(started) => started,
            Err(e) => {
                // Whatever started goes again.
                if let Some(pgid) = group {
                    let _ = procfs::signal_group(pgid, Signal::SIGKILL);
                }
                return Ok(self.fail_early(id, FailureReason::Other(e.to_string())));
            }
        };
        let procs = children
            .iter()
            .map(|(_, r)| r.clone())
            .chain(inside)
            .collect();
        self.started(id, procs, endpoints, service_token);
        let monitor = tokio::spawn(watch_container(
            self.inner.clone(),
            id,
            pgid,
            children,
            probes,
        ));
        self.set_monitor(id, monitor);
        self.status(id).await
    }

    async fn stop_container(&self, id: WorkloadId) -> Result<(), DriverError> {
        self.stop_workload(id, Kind::Container).await
    }

    async fn delete_container(&self, id: WorkloadId) -> Result<(), DriverError> {
        self.delete_workload(id, Kind::Container).await
    }

    async fn apply_job(&self, spec: &JobSpec) -> Result<Observed, DriverError> {
        spec.validate().map_err(DriverError::Invalid)?;
        let id = spec.meta.id;
        let volumes = self.volume_dirs(spec.meta.project, &spec.volumes)?;
        let gpus = match self.reserve(Reservation {
            id,
            kind: Kind::Job,
            project: spec.meta.project,
            name: &spec.meta.name,
            gpu: spec.resources.gpu.as_ref(),
            volumes: &spec.volumes,
            time_limit_secs: spec.time_limit_secs,
        })? {
            Ok(gpus) => gpus,
            Err(observed) => return Ok(observed),
        };
        let (uid, work, log) = match self.ready_to_start(id, spec.meta.project, &volumes)? {
            Ok(ready) => ready,
            Err(observed) => return Ok(observed),
        };
        let env = WorkloadEnv {
            id,
            name: &spec.meta.name,
            gpus: &gpus,
            volumes: &volumes,
            vars: &spec.env,
            work: &work,
            uid,
            service_token: None,
        };
        let exit_file = self.inner.workload_dir(id).join("exit_code");
        let program = first_program(&spec.command);
        let spawned = self
            .workload_command(
                &format!(
                    "{}{JOB_WRAPPER}",
                    self.limit_prefix(id, &spec.resources, &gpus)
                ),
                "mlstack-job",
                &[exit_file.into_os_string()],
                &spec.command,
                "",
                &[],
                &env,
                &log,
                Place::Own { userns: None },
            )
            .and_then(|mut command| {
                command.process_group(0);
                spawn_recorded(&mut command, "job".to_owned(), program.clone())
            });
        let (child, record) = match spawned {
            Ok(spawned) => spawned,
            Err(e) => return Ok(self.fail_early(id, FailureReason::Other(e.to_string()))),
        };
        let pgid = record.pid;
        self.started(id, vec![record], Vec::new(), ServiceToken::default());
        {
            let mut state = self.inner.lock();
            self.inner.transition(
                &mut state,
                id,
                WorkloadStatus::Running,
                "the job started".to_owned(),
            );
        }
        let monitor = tokio::spawn(watch_job(
            self.inner.clone(),
            id,
            child,
            pgid,
            program,
            spec.time_limit_secs.map(Duration::from_secs),
        ));
        self.set_monitor(id, monitor);
        self.status(id).await
    }

    async fn cancel_job(&self, id: WorkloadId) -> Result<(), DriverError> {
        match self.commit_of(id) {
            Some(_) => self.stop_workload(id, Kind::ImageCommit).await,
            None => self.stop_workload(id, Kind::Job).await,
        }
    }

    async fn delete_job(&self, id: WorkloadId) -> Result<(), DriverError> {
        match self.commit_of(id) {
            Some((project, target)) => {
                self.delete_workload(id, Kind::ImageCommit).await?;
                self.inner.forget_image(id, project, &target);
                Ok(())
            }
            None => self.delete_workload(id, Kind::Job).await,
        }
    }

    async fn logs(&self, id: WorkloadId, tail_lines: usize) -> Result<String, DriverError> {
        if !self.inner.lock().workloads.contains_key(&id) {
            return Err(DriverError::NotFound {
                what: format!("workload {id}"),
            });
        }
        let path = self.inner.workload_dir(id).join("output.log");
        tokio::task::spawn_blocking(move || tail(&path, tail_lines))
            .await
            .map_err(|e| DriverError::io("reading the log", std::io::Error::other(e)))?
    }

    async fn follow_logs(&self, id: WorkloadId) -> Result<LogStream, DriverError> {
        if !self.inner.lock().workloads.contains_key(&id) {
            return Err(DriverError::NotFound {
                what: format!("workload {id}"),
            });
        }
        let path = self.inner.workload_dir(id).join("output.log");
        Ok(follow(self.inner.clone(), id, path))
    }

    async fn events(&self, id: WorkloadId) -> Result<Vec<WorkloadEvent>, DriverError> {
        self.inner
            .lock()
            .workloads
            .get(&id)
            .map(|e| e.record.events.clone())
            .ok_or_else(|| DriverError::NotFound {
                what: format!("workload {id}"),
            })
    }

    async fn workloads(&self) -> Result<Vec<(WorkloadId, WorkloadKind)>, DriverError> {
        Ok(self
            .inner
            .lock()
            .workloads
            .values()
            .map(|e| {
                let kind = match e.record.kind {
                    Kind::Job => WorkloadKind::Job,
                    Kind::Container => WorkloadKind::Container,
                    Kind::ImageCommit => WorkloadKind::ImageCommit,
                };
                (e.record.id, kind)
            })
            .collect())
    }

    async fn volumes(&self) -> Result<Vec<(ProjectId, String)>, DriverError> {
        let root = self.inner.config.data_dir.join("projects");
        tokio::task::spawn_blocking(move || list_volumes(&root))
            .await
            .map_err(|e| DriverError::io("listing volumes", std::io::Error::other(e)))?
    }

    /// A clone is copied on a thread of its own (`volumes::copy_volume`):
    /// `Copying` with the share copied until its folder exists whole.
    async fn ensure_volume(&self, spec: &VolumeSpec) -> Result<VolumeState, DriverError> {
        spec.validate().map_err(DriverError::Invalid)?;
        self.inner.project_folder(spec.project, Some("volumes"))?;
        let dir = self.inner.volume_dir(spec.project, &spec.name);
        let uid = self.project_uid(spec.project)?;
        if let Some(source) = &spec.clone_of {
            let key = (spec.project, spec.name.clone());
            let mut copies = self.inner.copies();
            if let Some(progress) = copies.get(&key).cloned() {
                match progress.outcome() {
                    None => {
                        return Ok(VolumeState::Copying {
                            percent: Some(progress.percent()),
                        });
                    }
                    Some(outcome) => {
                        copies.remove(&key);
                        outcome?;
                    }
                }
            } else if !dir.exists() {
                let progress = Arc::new(CopyProgress::default());
                copies.insert(key, Arc::clone(&progress));
                let from = self.inner.volume_dir(spec.project, source);
                let to = dir.clone();
                tokio::task::spawn_blocking(move || copy_volume(&from, &to, uid, &progress));
                return Ok(VolumeState::Copying { percent: Some(0) });
            }
        }
        private_dir(&dir)?;
        give_to(&dir, uid)?;
        Ok(VolumeState::Ready)
    }

    async fn delete_volume(&self, project: ProjectId, name: &str) -> Result<(), DriverError> {
        if !is_workload_name(name) {
            // Never a path: "../x" must not reach remove_dir_all.
            return Err(DriverError::NotFound {
                what: format!("volume {name:?}"),
            });
        }
        {
            let mut copies = self.inner.copies();
            let key = (project, name.to_owned());
            if copies.get(&key).is_some_and(|p| p.outcome().is_none()) {
                return Err(DriverError::Conflict(format!(
                    "the volume {name} is still being copied"
                )));
            }
            copies.remove(&key);
        }
        {
            let state = self.inner.lock();
            if let Some(user) = state.workloads.values().find(|e| {
                e.record.project == project
                    && !e.record.status.is_terminal()
                    && e.record.volumes.iter().any(|v| v == name)
            }) {
                return Err(DriverError::Conflict(format!(
                    "the volume {name} is used by {}",
                    user.record.name
                )));
            }
        }
        let dir = self.inner.volume_dir(project, name);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(DriverError::io(format!("removing {}", dir.display()), e)),
        }
    }

    async fn commit_image(&self, spec: &ImageCommitSpec) -> Result<Observed, DriverError> {
        self.commit(spec).await
    }

    async fn open_terminal(
        &self,
        spec: &ContainerSpec,
        size: TerminalSize,
    ) -> Result<TerminalSession, DriverError> {
        self.terminal(spec, size).await
    }

    async fn status(&self, id: WorkloadId) -> Result<Observed, DriverError> {
        self.inner
            .lock()
            .workloads
            .get(&id)
            .map(|e| e.record.observed())
            .ok_or_else(|| DriverError::NotFound {
                what: format!("workload {id}"),
            })
    }

    async fn proxy(
        &self,
        id: WorkloadId,
        service: &str,
        mut request: ProxyRequest,
    ) -> Result<ProxyResponse, DriverError> {
        let not_found = || DriverError::NotFound {
            what: format!("service {service} of a running container {id}"),
        };
        let (port, token) = {
            let state = self.inner.lock();
            let record = &state.workloads.get(&id).ok_or_else(not_found)?.record;
            if record.kind != Kind::Container || record.status != WorkloadStatus::Running {
                return Err(not_found());
            }
            let endpoint = record
                .endpoints
                .iter()
                .find(|e| e.service == service)
                .ok_or_else(not_found)?;
            (endpoint.port, record.service_token.0.clone())
        };
        let secret = http::HeaderValue::try_from(format!("token {token}"))
            .map_err(|e| DriverError::Rejected(format!("the service secret: {e}")))?;
        request.headers.insert(http::header::AUTHORIZATION, secret);
        self.inner
            .forwarder
            .send((Ipv4Addr::LOCALHOST, port).into(), request)
            .await
    }

    fn subscribe(&self) -> broadcast::Receiver<DriverEvent> {
        self.inner.events.subscribe()
    }
}

/// The mode of the folders on the way to a workload's own: 0711 when its
/// user's bwrap must pass through them, else 0700.
fn folder_mode(users: &Users) -> u32 {
    match users {
        Users::PerProject(Switch::BeforeSandbox) => 0o711,
        Users::PerProject(Switch::InSandbox) | Users::Server(_) => 0o700,
    }
}

/// The word of a local status change in a workload's events.
fn status_reason(status: &WorkloadStatus) -> &'static str {
    match status {
        WorkloadStatus::Scheduled => "Scheduled",
        WorkloadStatus::Queued => "Queued",
        WorkloadStatus::Creating => "Creating",
        WorkloadStatus::Running => "Started",
        WorkloadStatus::Stopping => "Stopping",
        WorkloadStatus::Stopped => "Stopped",
        WorkloadStatus::Succeeded => "Completed",
        WorkloadStatus::Failed { .. } => "Failed",
    }
}
