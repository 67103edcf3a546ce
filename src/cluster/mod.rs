//! The way to the cluster: the `Driver` trait and its implementations.
//! The store holds desired state; the reconcile loop (`worker::reconciler`)
//! calls a driver to apply it and writes back what the driver observes.
//! Today there is the `local` driver (processes on this host); the `kube`
//! driver follows. `AnyDriver` is the one the configuration chose.
//!
//! The trait's methods return `impl Future + Send` rather than being plain
//! `async fn`: callers (the reconcile loop) spawn them on tokio's
//! multi-threaded runtime, which needs `Send` futures, and implementations
//! may still write `async fn`. Such a trait is not object-safe; the
//! composition root picks the driver once from the configuration, so an enum
//! over the implementations (static dispatch, no boxing, no extra crate)
//! will stand where `dyn Driver` would.

use std::future::Future;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};

use crate::domain::ids::{ProjectId, UserId};
use crate::domain::validation::FieldErrors;
use crate::domain::workload::{
    ContainerSpec, ImageCommitSpec, JobSpec, VolumeSpec, WorkloadId, WorkloadStatus,
};

pub mod any;
pub mod kube;
pub mod local;
pub mod metrics;
pub mod proxy;

pub use any::AnyDriver;
pub use kube::{KubeConfig, ServiceAccess};
pub use proxy::{ProxyRequest, ProxyResponse};

/// What `Driver::ensure_volume` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeState {
    /// Workloads can mount it.
    Ready,
    /// A clone whose data is still being copied from its source; how far,
    /// in percent of the source's bytes, when the driver knows.
    Copying { percent: Option<u8> },
}

/// What a driver could not do, in terms a user or an admin can act on.
/// Cloneable (an I/O error is shared), since one failure may stand for many
/// workloads, e.g. all those of a project that could not be provisioned.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DriverError {
    /// The spec breaks a rule (messages are translation keys).
    #[error("the workload spec is invalid: {0:?}")]
    Invalid(FieldErrors),
    /// No workload, volume or project with that name or id.
    #[error("{what} not found")]
    NotFound { what: String },
    /// The cluster refused an object or request as invalid.
    #[error("the cluster refused it: {0}")]
    Rejected(String),
    /// The request conflicts with what exists (a volume in use, a name taken).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Not enough free GPUs of the type right now; retry when some are free.
    #[error("not enough free GPUs of type {gpu_type}: {requested} requested, {free} free")]
    NotEnoughGpus {
        gpu_type: String,
        requested: u32,
        free: u32,
    },
    /// The cluster does not answer (network, API server down).
    #[error("the cluster is unreachable: {0}")]
    Unreachable(String),
    /// The credentials were refused or may not do this.
    #[error("the cluster refused the credentials: {0}")]
    Forbidden(String),
    /// The cluster did not answer within the configured time.
    #[error("the cluster did not answer in time")]
    Timeout,
    /// This driver cannot do it (e.g. custom images on kube without a
    /// registry configured).
    #[error("not supported by the {driver} driver: {what}")]
    Unsupported {
        driver: &'static str,
        what: &'static str,
    },
    /// A file or process operation on this host failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::sync::Arc<std::io::Error>,
    },
}

impl DriverError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        DriverError::Io {
            context: context.into(),
            source: std::sync::Arc::new(source),
        }
    }

    /// Whether trying again later may succeed (the reconcile loop backs off
    /// and retries these; the others need a change of spec or config).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            DriverError::NotEnoughGpus { .. }
                | DriverError::Unreachable(_)
                | DriverError::Timeout
                | DriverError::Io { .. }
        )
    }
}

/// A project as the driver provisions it (a namespace with a quota on kube,
/// a directory locally).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectSpec {
    pub id: ProjectId,
    /// A DNS-1123 label, used in the namespace name.
    pub name: String,
    /// Limits of the project quota; None: unlimited.
    pub gpu_units_milli: Option<u64>,
    pub cpu_milli: Option<u64>,
    pub ram_mib: Option<u64>,
    pub storage_gib: Option<u64>,
}

/// Where a service of a running container can be reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The service's name in the spec.
    pub service: String,
    pub host: String,
    pub port: u16,
    /// `http://host:port/` for HTTP(S) services, `tcp://host:port` else.
    pub url: String,
    /// The user an SSH service logs in as; None: `root` (as a cluster
    /// image runs).
    #[serde(default)]
    pub login: Option<String>,
}

/// What the driver sees of a workload now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    pub id: WorkloadId,
    pub status: WorkloadStatus,
    /// Reachable services (containers, once Running).
    pub endpoints: Vec<Endpoint>,
    /// GPUs held (device indices locally).
    pub gpus: Vec<u32>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}

/// A change of a workload's status, as the driver saw it happen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriverEvent {
    pub workload: WorkloadId,
    pub status: WorkloadStatus,
    pub at: Timestamp,
    /// One line for the workload's event list.
    pub message: String,
}

/// Something that happened to a workload: a Kubernetes Event of its
/// objects, or a status change the local driver saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadEvent {
    pub at: Timestamp,
    /// A warning (something went wrong) rather than normal progress.
    pub warning: bool,
    /// A short CamelCase reason (`Pulling`, `FailedScheduling`, `Started`).
    pub reason: String,
    pub message: String,
}

/// What kind of workload a driver object belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkloadKind {
    Container,
    Job,
    ImageCommit,
}

/// A workload's output as it is written, in chunks of text; it ends when
/// the workload has ended and everything was read.
pub type LogStream = futures_util::stream::BoxStream<'static, Result<String, DriverError>>;

/// A terminal's size in character cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalSize {
    pub cols: u16,
    pub rows: u16,
}

/// What is sent to a container's terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TerminalInput {
    /// Bytes typed (UTF-8 as the browser sends it, passed through as is).
    Data(Vec<u8>),
    /// The window changed size.
    Resize(TerminalSize),
}

/// An interactive shell in a running container, as plain channels (no
/// driver types reach the web layer). `output` carries what the terminal
/// writes and ends when the shell has ended; dropping the session (its
/// `input` sender) ends the shell and everything it started.
#[derive(Debug)]
pub struct TerminalSession {
    pub input: mpsc::Sender<TerminalInput>,
    pub output: mpsc::Receiver<Vec<u8>>,
}

/// The command a web terminal runs in the container: bash when the image
/// has it, else sh.
pub const TERMINAL_SHELL: &str = "if command -v bash >/dev/null 2>&1; then exec bash; fi; exec sh";

/// How many messages a terminal session buffers each way.
pub const TERMINAL_BUFFER: usize = 64;

/// GPUs of one type on the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuCapacity {
    /// The type's name (`NVIDIA H200`).
    pub type_name: String,
    /// The resource it is requested by (`nvidia.com/gpu`).
    pub resource_name: String,
    pub total: u32,
    pub free: u32,
}

/// One node's allocatable CPU and memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeCapacity {
    pub name: String,
    pub cpu_milli: u64,
    pub ram_mib: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity {
    pub nodes: Vec<NodeCapacity>,
    pub gpus: Vec<GpuCapacity>,
}

/// Whether the driver can work, for `check-config` and the admin page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub driver: &'static str,
    pub ok: bool,
    /// What was checked, or what is wrong.
    pub message: String,
}

/// The one way to the cluster. Every method is idempotent: applying what is
/// already applied, deleting what is gone, succeed.
pub trait Driver: Send + Sync + 'static {
    /// The driver's name (`local`, `kube`).
    fn name(&self) -> &'static str;

    /// Can the driver reach its cluster, with these credentials?
    fn health(&self) -> impl Future<Output = Result<Health, DriverError>> + Send;

    /// Nodes, GPU types and free GPUs.
    fn capacity(&self) -> impl Future<Output = Result<Capacity, DriverError>> + Send;

    /// Creates (or updates) what a project needs before its workloads run.
    fn provision_project(
        &self,
        project: &ProjectSpec,
    ) -> impl Future<Output = Result<(), DriverError>> + Send;

    /// Prepares what a member needs in a project once their activation
    /// passed (kube: a service account; local: a home directory).
    fn provision_member(
        &self,
        project: &ProjectSpec,
        user: UserId,
    ) -> impl Future<Output = Result<(), DriverError>> + Send;

    /// Removes what a released project had in the cluster once its
    /// workloads and volumes are gone (kube: its namespace, with the
    /// members' service accounts; local: its folder).
    fn release_project(
        &self,
        project: ProjectId,
    ) -> impl Future<Output = Result<(), DriverError>> + Send;

    /// Starts a container, or starts it again when stopped; a running one is
    /// left as it is. Returns what is observed right after.
    fn apply_container(
        &self,
        spec: &ContainerSpec,
    ) -> impl Future<Output = Result<Observed, DriverError>> + Send;

    /// Stops a container and frees its GPUs; its files and logs stay.
    fn stop_container(
        &self,
        id: WorkloadId,
    ) -> impl Future<Output = Result<(), DriverError>> + Send;

    /// Stops a container if needed and removes everything of it.
    fn delete_container(
        &self,
        id: WorkloadId,
    ) -> impl Future<Output = Result<(), DriverError>> + Send;

    /// Starts a job once; applying it again does nothing.
    fn apply_job(
        &self,
        spec: &JobSpec,
    ) -> impl Future<Output = Result<Observed, DriverError>> + Send;

    /// Stops a running job (status Stopped); nothing if it has ended.
    fn cancel_job(&self, id: WorkloadId) -> impl Future<Output = Result<(), DriverError>> + Send;

    /// Cancels a job if needed and removes everything of it.
    fn delete_job(&self, id: WorkloadId) -> impl Future<Output = Result<(), DriverError>> + Send;

    /// The last `tail_lines` lines of a workload's output.
    fn logs(
        &self,
        id: WorkloadId,
        tail_lines: usize,
    ) -> impl Future<Output = Result<String, DriverError>> + Send;

    /// A workload's output from its start, then as it is written, until the
    /// workload ends.
    fn follow_logs(
        &self,
        id: WorkloadId,
    ) -> impl Future<Output = Result<LogStream, DriverError>> + Send;

    /// What happened to a workload, oldest first.
    fn events(
        &self,
        id: WorkloadId,
    ) -> impl Future<Output = Result<Vec<WorkloadEvent>, DriverError>> + Send;

    /// Every workload the driver has objects or processes of (the reconcile
    /// loop deletes those nobody wants any more).
    fn workloads(
        &self,
    ) -> impl Future<Output = Result<Vec<(WorkloadId, WorkloadKind)>, DriverError>> + Send;

    /// Every volume the driver has, by project and name.
    fn volumes(&self)
    -> impl Future<Output = Result<Vec<(ProjectId, String)>, DriverError>> + Send;

    /// Creates a volume if it does not exist; a clone (`spec.clone_of`)
    /// starts with its source's data, and is `Copying` until it has it.
    fn ensure_volume(
        &self,
        spec: &VolumeSpec,
    ) -> impl Future<Output = Result<VolumeState, DriverError>> + Send;

    /// Deletes a volume and its data; refused while a workload uses it.
    fn delete_volume(
        &self,
        project: ProjectId,
        name: &str,
    ) -> impl Future<Output = Result<(), DriverError>> + Send;

    /// Saves a container's filesystem as an image and pushes it (kube: a
    /// Job on the container's node; local: a tarball of its working
    /// directory); observe it with `status(spec.id)`.
    fn commit_image(
        &self,
        spec: &ImageCommitSpec,
    ) -> impl Future<Output = Result<Observed, DriverError>> + Send;

    /// Opens an interactive shell with a terminal of `size` in a running
    /// container (kube: an exec into its pod; local: a shell under a
    /// pseudo-terminal in the container's sandbox).
    fn open_terminal(
        &self,
        spec: &ContainerSpec,
        size: TerminalSize,
    ) -> impl Future<Output = Result<TerminalSession, DriverError>> + Send;

    /// What the driver observes of a workload now.
    fn status(&self, id: WorkloadId) -> impl Future<Output = Result<Observed, DriverError>> + Send;

    /// Sends a request to the HTTP service `service` of a running
    /// container, at the address the driver knows (never one from the
    /// client), and answers as soon as the service's head arrives; bodies
    /// stream both ways, and after a 101 the connection is handed over
    /// (`ProxyResponse::upgraded`). NotFound: no such running container or
    /// service.
    fn proxy(
        &self,
        id: WorkloadId,
        service: &str,
        request: ProxyRequest,
    ) -> impl Future<Output = Result<ProxyResponse, DriverError>> + Send;

    /// Every status change from now on (a lagging receiver misses events and
    /// should call `status` for what it cares about).
    fn subscribe(&self) -> broadcast::Receiver<DriverEvent>;
}
