//! What a user asks to run, as the drivers receive it: container, job and
//! volume specs, and the statuses a workload goes through. Pure types and
//! rules; the `cluster` drivers turn them into processes or Kubernetes
//! objects. Validation messages are translation keys (`workload.error.*`).

use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::catalog::{Protocol, ServiceKind, is_image_name, is_tag};
use super::ids::{JobScheduleId, ProjectId, UserId};
use super::validation::FieldErrors;

/// Longest workload or volume name (a DNS-1123 label).
pub const NAME_MAX: usize = 63;
/// Longest command of a container or a service's local command.
pub const COMMAND_MAX: usize = 8192;
/// Longest command of a job (a multi-line shell script): 64 KiB.
pub const JOB_COMMAND_MAX: usize = 64 * 1024;
/// Most environment variables, volumes or services of one workload.
pub const ITEMS_MAX: usize = 64;
/// Longest mount path.
pub const MOUNT_PATH_MAX: usize = 256;
/// The environment variable naming a container's Jupyter working directory
/// (the mount path of the volume marked as such): the host environment's
/// JupyterLab serves it (its root directory), and a Kubernetes container
/// starts in it (its working directory).
pub const JUPYTER_WORKDIR_ENV: &str = "JUPYTER_WORKDIR";
/// Longest service name (a Kubernetes port name, an IANA service name).
pub const PORT_NAME_MAX: usize = 15;
/// How far ahead a container's start may be scheduled, in days.
pub const START_AHEAD_MAX_DAYS: i64 = 365;

pub use super::ids::WorkloadId;

/// Who and what a workload is: the labels every driver object carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadMeta {
    pub id: WorkloadId,
    pub project: ProjectId,
    pub owner: UserId,
    /// A DNS-1123 label, unique in the project.
    pub name: String,
}

/// An image reference: catalog name and tag (`pytorch/pytorch` + `2.4`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRef {
    pub name: String,
    pub tag: String,
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, self.tag)
    }
}

/// GPUs a workload asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuRequest {
    /// The extended resource name of the GPU type (`nvidia.com/gpu`, a MIG
    /// or shared resource); the local driver matches it against its
    /// inventory's type names too.
    pub resource_name: String,
    /// The GPU type's display name (`A100 80GB`), the local inventory key.
    pub type_name: String,
    /// Node labels the GPU type requires.
    #[serde(default)]
    pub node_selector: BTreeMap<String, String>,
    /// How many of the resource (GPUs, MIG instances, or GB of a shared GPU).
    pub count: u32,
    /// GPU units in thousandths, as counted against the quota.
    pub units_milli: u64,
}

/// Compute resources of a workload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    pub cpu_milli: u64,
    /// Memory limit in MiB (shared memory is carved out of it).
    pub ram_mib: u64,
    /// Size of /dev/shm in MiB (0: the runtime's default).
    #[serde(default)]
    pub shm_mib: u64,
    #[serde(default)]
    pub gpu: Option<GpuRequest>,
}

/// One volume of the project mounted into a workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeMount {
    /// The volume's name in the project.
    pub volume: String,
    /// Absolute path inside the workload (`/workspace/data`).
    pub mount_path: String,
    #[serde(default)]
    pub read_only: bool,
}

impl VolumeMount {
    /// The name the local driver exposes the volume under: the mount path's
    /// last component (`/workspace/data` -> `data`).
    pub fn local_name(&self) -> &str {
        self.mount_path
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or("")
    }

    /// The environment variable naming the volume's directory for the local
    /// driver: `MLSTACK_VOLUME_` + the local name in upper case, with
    /// anything but letters and digits as `_`.
    pub fn env_name(&self) -> String {
        let name: String = self
            .local_name()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        format!("MLSTACK_VOLUME_{name}")
    }
}

/// One service a container exposes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSpec {
    /// A DNS-1123 label unique in the container (`jupyter`, `ssh`).
    pub name: String,
    pub kind: ServiceKind,
    /// The port inside the container.
    pub port: u16,
    pub protocol: Protocol,
    /// What the local driver runs to start it; it reads its port from
    /// `$PORT`. None: the local driver cannot start this service.
    #[serde(default)]
    pub local_command: Option<String>,
}

/// How a user logs in over SSH.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SshAccess {
    #[default]
    None,
    /// By password, kept only as its SHA-512 crypt hash
    /// (`$6$<salt>$<hash>`), which the image sets with `chpasswd -e`; the
    /// password itself is never stored. Made by [`SshAccess::from_password`].
    PasswordHash(String),
    Keys(Vec<String>),
}

impl fmt::Debug for SshAccess {
    // Never print a password hash.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SshAccess::None => f.write_str("None"),
            SshAccess::PasswordHash(_) => f.write_str("PasswordHash(..)"),
            SshAccess::Keys(keys) => write!(f, "Keys({} keys)", keys.len()),
        }
    }
}

/// Shortest and longest SSH password, in characters.
pub const SSH_PASSWORD_MIN: usize = 8;
pub const SSH_PASSWORD_MAX: usize = 128;
/// The characters of a crypt salt; a salt has 1 to 16 of them.
pub const CRYPT_SALT_CHARS: &[u8; 64] =
    b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const CRYPT_SALT_MAX: usize = 16;
/// Length of the hash part of a SHA-512 crypt string.
const SHA512_CRYPT_HASH_LEN: usize = 86;

impl SshAccess {
    /// SSH by password: the password's SHA-512 crypt hash with the default
    /// 5,000 rounds (`$6$<salt>$<hash>`), what sshd and `chpasswd -e` read.
    /// `salt` is 16 random characters of [`CRYPT_SALT_CHARS`], chosen by
    /// the caller. Err holds the translation key of what is wrong.
    pub fn from_password(password: &str, salt: &str) -> Result<SshAccess, &'static str> {
        let length = password.chars().count();
        if !(SSH_PASSWORD_MIN..=SSH_PASSWORD_MAX).contains(&length)
            || password.chars().any(char::is_control)
        {
            return Err("workload.error.ssh_password");
        }
        if !is_crypt_salt(salt) {
            return Err("workload.error.ssh_password_hash");
        }
        let params = sha_crypt::Sha512Params::new(sha_crypt::ROUNDS_DEFAULT)
            .map_err(|_| "workload.error.ssh_password_hash")?;
        let hash = sha_crypt::sha512_crypt_b64(password.as_bytes(), salt.as_bytes(), &params)
            .map_err(|_| "workload.error.ssh_password_hash")?;
        Ok(SshAccess::PasswordHash(format!("$6${salt}${hash}")))
    }
}

fn is_crypt_salt(salt: &str) -> bool {
    (1..=CRYPT_SALT_MAX).contains(&salt.len())
        && salt.bytes().all(|b| CRYPT_SALT_CHARS.contains(&b))
}

/// Whether `hash` is a SHA-512 crypt string: `$6$`, optionally
/// `rounds=<n>$`, a salt, `$` and 86 characters of the crypt alphabet.
pub fn is_sha512_crypt(hash: &str) -> bool {
    let Some(rest) = hash.strip_prefix("$6$") else {
        return false;
    };
    let rest = match rest.strip_prefix("rounds=") {
        Some(after) => match after.split_once('$') {
            Some((rounds, tail))
                if !rounds.is_empty() && rounds.bytes().all(|b| b.is_ascii_digit()) =>
            {
                tail
            }
            _ => return false,
        },
        None => rest,
    };
    rest.split_once('$').is_some_and(|(salt, hash)| {
        is_crypt_salt(salt)
            && hash.len() == SHA512_CRYPT_HASH_LEN
            && hash.bytes().all(|b| CRYPT_SALT_CHARS.contains(&b))
    })
}

/// A long-running container with services.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerSpec {
    pub meta: WorkloadMeta,
    pub image: ImageRef,
    /// Replaces the image's entrypoint; the local driver runs it beside the
    /// services when present.
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub resources: Resources,
    #[serde(default)]
    pub volumes: Vec<VolumeMount>,
    #[serde(default)]
    pub services: Vec<ServiceSpec>,
    #[serde(default)]
    pub ssh: SshAccess,
    /// When it should start (None: now) and end (None: until stopped).
    #[serde(default)]
    pub start_at: Option<Timestamp>,
    #[serde(default)]
    pub end_at: Option<Timestamp>,
}

/// A batch job: one command that runs to its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    pub meta: WorkloadMeta,
    pub image: ImageRef,
    /// Run by `sh -c`.
    pub command: String,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub resources: Resources,
    #[serde(default)]
    pub volumes: Vec<VolumeMount>,
    /// Longest run in seconds before it is stopped as Failed(TimeLimit).
    #[serde(default)]
    pub time_limit_secs: Option<u64>,
    /// How it was created: the job list's create type.
    #[serde(default)]
    pub origin: JobOrigin,
}

/// How a job was created (the manual's create type).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JobOrigin {
    /// Created by a user, to run at once (or when the queue lets it).
    #[default]
    Immediately,
    /// A run of a job schedule: its id and its name when the run was made.
    Schedule {
        schedule: JobScheduleId,
        name: String,
    },
}

impl JobOrigin {
    /// Translation key of the create type (`job.origin.*`).
    pub fn label_key(&self) -> &'static str {
        match self {
            JobOrigin::Immediately => "job.origin.immediately",
            JobOrigin::Schedule { .. } => "job.origin.schedule",
        }
    }
}

/// A persistent volume of a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeSpec {
    pub project: ProjectId,
    pub owner: UserId,
    /// A DNS-1123 label unique in the project; mounts refer to it.
    pub name: String,
    /// The storage type's storage class (kube); ignored by the local driver.
    pub storage_class: String,
    pub size_gib: u64,
    /// A clone's source: the name of a volume of the same project whose data
    /// the new volume starts with (kube: a PVC with the source as its
    /// `dataSource`; local: a copy of its directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clone_of: Option<String>,
}

/// Saving a container's filesystem as a new image of the project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageCommitSpec {
    /// The commit's own id (it runs as a workload of its own).
    pub id: WorkloadId,
    pub project: ProjectId,
    pub owner: UserId,
    /// The container whose filesystem is saved.
    pub container: WorkloadId,
    /// Repository and tag to push to (under the configured registry).
    pub target: ImageRef,
}

impl ImageCommitSpec {
    /// Checks every field; messages are translation keys.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::new();
        check_image(&self.target, &mut errors);
        errors.into_result(())
    }
}

/// Why a workload failed, in terms a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum FailureReason {
    /// The image could not be pulled (wrong name or tag, registry down).
    ImagePull,
    /// Not enough GPUs (or other resources) anywhere to place it.
    Unschedulable,
    /// Killed for using more memory than its limit.
    OutOfMemory,
    /// The command ended with this exit code.
    ExitCode(i32),
    /// A program the workload needs is not installed (`jupyter`).
    MissingProgram(String),
    /// It ran longer than its time limit.
    TimeLimit,
    /// The driver lost track of it (the process or pod disappeared).
    Lost,
    /// The local driver cannot make a sandbox (bubblewrap missing, user
    /// namespaces off) and unsandboxed workloads are not allowed.
    SandboxUnavailable,
    Other(String),
}

impl FailureReason {
    /// Translation key of the sentence shown to the user.
    pub fn message_key(&self) -> &'static str {
        match self {
            FailureReason::ImagePull => "workload.failure.image_pull",
            FailureReason::Unschedulable => "workload.failure.unschedulable",
            FailureReason::OutOfMemory => "workload.failure.out_of_memory",
            FailureReason::ExitCode(_) => "workload.failure.exit_code",
            FailureReason::MissingProgram(_) => "workload.failure.missing_program",
            FailureReason::TimeLimit => "workload.failure.time_limit",
            FailureReason::Lost => "workload.failure.lost",
            FailureReason::SandboxUnavailable => "workload.failure.sandbox_unavailable",
            FailureReason::Other(_) => "workload.failure.other",
        }
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureReason::ImagePull => f.write_str("the image could not be pulled"),
            FailureReason::Unschedulable => f.write_str("not enough GPUs or resources free"),
            FailureReason::OutOfMemory => f.write_str("out of memory"),
            FailureReason::ExitCode(code) => write!(f, "the command exited with code {code}"),
            FailureReason::MissingProgram(program) => {
                write!(f, "the program {program} is not installed")
            }
            FailureReason::TimeLimit => f.write_str("the time limit was reached"),
            FailureReason::Lost => f.write_str("the workload was lost"),
            FailureReason::SandboxUnavailable => f.write_str(
                "the local driver cannot make a sandbox on this host (see mlstack check-config)",
            ),
            FailureReason::Other(message) => f.write_str(message),
        }
    }
}

/// The product's status of a container or job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum WorkloadStatus {
    /// A container waiting for its start time: nothing is in the cluster
    /// yet, its share of the quota is already held.
    Scheduled,
    /// A job waiting in its project's queue: nothing is in the cluster and
    /// nothing is held yet.
    Queued,
    Creating,
    Running,
    Stopping,
    /// Stopped by the user (a container, or a cancelled job).
    Stopped,
    Succeeded,
    Failed {
        reason: FailureReason,
    },
}

impl WorkloadStatus {
    /// Whether nothing more will happen without a new apply.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            WorkloadStatus::Stopped | WorkloadStatus::Succeeded | WorkloadStatus::Failed { .. }
        )
    }

    pub fn failed(reason: FailureReason) -> Self {
        WorkloadStatus::Failed { reason }
    }

    /// The word used in the UI and the store.
    pub fn code(&self) -> &'static str {
        match self {
            WorkloadStatus::Scheduled => "scheduled",
            WorkloadStatus::Queued => "queued",
            WorkloadStatus::Creating => "creating",
            WorkloadStatus::Running => "running",
            WorkloadStatus::Stopping => "stopping",
            WorkloadStatus::Stopped => "stopped",
            WorkloadStatus::Succeeded => "succeeded",
            WorkloadStatus::Failed { .. } => "failed",
        }
    }
}

impl fmt::Display for WorkloadStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkloadStatus::Failed { reason } => write!(f, "failed: {reason}"),
            other => f.write_str(other.code()),
        }
    }
}

impl WorkloadStatus {
    /// Translation key of the status's label (`workload.status.*`).
    pub fn label_key(&self) -> &'static str {
        match self {
            WorkloadStatus::Scheduled => "workload.status.scheduled",
            WorkloadStatus::Queued => "workload.status.queued",
            WorkloadStatus::Creating => "workload.status.creating",
            WorkloadStatus::Running => "workload.status.running",
            WorkloadStatus::Stopping => "workload.status.stopping",
            WorkloadStatus::Stopped => "workload.status.stopped",
            WorkloadStatus::Succeeded => "workload.status.succeeded",
            WorkloadStatus::Failed { .. } => "workload.status.failed",
        }
    }
}

// ---------------------------------------------------------------------------
// Rules

/// A DNS-1123 label: 1 to 63 lowercase letters, digits and '-', starting
/// with a letter and ending with a letter or digit (Kubernetes object and
/// service names; safe as a directory name).
pub fn is_workload_name(name: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    (1..=NAME_MAX).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.ends_with(alnum)
        && name.chars().all(|c| alnum(c) || c == '-')
}

/// An environment variable name: a letter or '_', then letters, digits and
/// '_'; at most 128 characters; not one the drivers set themselves.
pub fn is_env_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Variables the drivers set and a spec may not override.
pub const RESERVED_ENV: [&str; 5] = [
    "PORT",
    "CUDA_VISIBLE_DEVICES",
    "NVIDIA_VISIBLE_DEVICES",
    "SERVICE_TOKEN",
    "BASE_URL",
];

/// System directories a volume may not be mounted over (nor under).
const SYSTEM_DIRS: [&str; 13] = [
    "/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/root", "/run", "/sbin", "/sys",
    "/usr", "/var/run",
];

/// Why a mount path is refused (a translation key), or None when it is fine:
/// absolute, no `.`/`..`/empty components, printable, not `/`, not under
/// /dev (so never /dev/shm, which shared memory uses) nor another system
/// directory.
pub fn mount_path_problem(path: &str) -> Option<&'static str> {
    if path.is_empty() || path.len() > MOUNT_PATH_MAX {
        return Some("workload.error.mount_path_length");
    }
    if !path.starts_with('/') {
        return Some("workload.error.mount_path_relative");
    }
    if path
        .chars()
        .any(|c| c.is_control() || c == '\\' || c == ':' || c == '"')
    {
        return Some("workload.error.mount_path_chars");
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return Some("workload.error.mount_path_root");
    }
    if trimmed[1..]
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Some("workload.error.mount_path_dots");
    }
    if SYSTEM_DIRS
        .iter()
        .any(|dir| trimmed == *dir || trimmed.starts_with(&format!("{dir}/")))
    {
        return Some("workload.error.mount_path_system");
    }
    None
}

fn check_meta(meta: &WorkloadMeta, errors: &mut FieldErrors) {
    if !is_workload_name(&meta.name) {
        errors.add("name", "workload.error.name");
    }
}

fn check_image(image: &ImageRef, errors: &mut FieldErrors) {
    if !is_image_name(&image.name) {
        errors.add("image", "workload.error.image");
    }
    if !is_tag(&image.tag) {
        errors.add("tag", "workload.error.tag");
    }
}

fn check_command(command: &str, field: &'static str, errors: &mut FieldErrors) {
    if command.trim().is_empty() || command.len() > COMMAND_MAX || command.contains('\0') {
        errors.add(field, "workload.error.command");
    }
}

fn check_job_command(command: &str, errors: &mut FieldErrors) {
    if command.trim().is_empty() || command.contains('\0') {
        errors.add("command", "workload.error.command");
    } else if command.len() > JOB_COMMAND_MAX {
        errors.add("command", "job.error.command_too_long");
    }
}

fn check_env(env: &BTreeMap<String, String>, errors: &mut FieldErrors) {
    if env.len() > ITEMS_MAX {
        errors.add("env", "workload.error.too_many");
    }
    for (name, value) in env {
        if !is_env_name(name) || name.starts_with("MLSTACK_") {
            errors.add("env", "workload.error.env_name");
            return;
        }
        if RESERVED_ENV.contains(&name.as_str()) {
            errors.add("env", "workload.error.env_reserved");
            return;
        }
        if value.contains('\0') {
            errors.add("env", "workload.error.env_value");
            return;
        }
    }
}

/// An IANA service name, as Kubernetes requires of container port names:
/// 1 to 15 lowercase letters, digits and '-', at least one letter, not
/// starting or ending with '-', no "--".
pub fn is_port_name(name: &str) -> bool {
    (1..=PORT_NAME_MAX).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.chars().any(|c| c.is_ascii_lowercase())
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}

fn check_resources(resources: &Resources, errors: &mut FieldErrors) {
    // A pod without CPU or memory requests is refused in a namespace whose
    // quota limits them, and would be unbounded anywhere else.
    if resources.cpu_milli == 0 {
        errors.add("cpu", "workload.error.cpu_required");
    }
    if resources.ram_mib == 0 {
        errors.add("ram", "workload.error.ram_required");
    }
    if resources.shm_mib > 0 && resources.ram_mib > 0 && resources.shm_mib >= resources.ram_mib {
        errors.add("shm", "workload.error.shm_over_ram");
    }
    if let Some(gpu) = &resources.gpu
        && (gpu.count == 0 || gpu.type_name.trim().is_empty() || gpu.resource_name.is_empty())
    {
        errors.add("gpu", "workload.error.gpu");
    }
}

fn check_volumes(volumes: &[VolumeMount], errors: &mut FieldErrors) {
    if volumes.len() > ITEMS_MAX {
        errors.add("volumes", "workload.error.too_many");
    }
    let mut paths = Vec::new();
    let mut names = Vec::new();
    for mount in volumes {
        if !is_workload_name(&mount.volume) {
            errors.add("volumes", "workload.error.volume_name");
            return;
        }
        if let Some(problem) = mount_path_problem(&mount.mount_path) {
            errors.add("volumes", problem);
            return;
        }
        let path = mount.mount_path.trim_end_matches('/');
        // One mount inside another, or two with the same local name, would
        // hide each other.
        if paths.iter().any(|p: &&str| {
            *p == path || p.starts_with(&format!("{path}/")) || path.starts_with(&format!("{p}/"))
        }) || names.contains(&mount.local_name())
        {
            errors.add("volumes", "workload.error.mount_path_overlap");
            return;
        }
        paths.push(path);
        names.push(mount.local_name());
    }
}

fn check_services(services: &[ServiceSpec], errors: &mut FieldErrors) {
    if services.len() > ITEMS_MAX {
        errors.add("services", "workload.error.too_many");
    }
    for (n, service) in services.iter().enumerate() {
        if !is_port_name(&service.name) {
            errors.add("services", "workload.error.service_name");
            return;
        }
        if service.port == 0 {
            errors.add("services", "workload.error.service_port");
            return;
        }
        if let Some(command) = &service.local_command {
            check_command(command, "services", errors);
        }
        if services[..n]
            .iter()
            .any(|s| s.name == service.name || s.port == service.port)
        {
            errors.add("services", "workload.error.service_duplicate");
            return;
        }
    }
}

impl ContainerSpec {
    /// Checks every field; messages are translation keys.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::new();
        self.check(&mut errors);
        errors.into_result(())
    }

    /// Checks a new container at `now`: every field, and a schedule that
    /// starts neither in the past nor more than [`START_AHEAD_MAX_DAYS`]
    /// ahead and ends in the future.
    pub fn validate_new(&self, now: Timestamp) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::new();
        self.check(&mut errors);
        if let Some(start) = self.start_at {
            let latest = now
                .checked_add(jiff::SignedDuration::from_hours(START_AHEAD_MAX_DAYS * 24))
                .unwrap_or(Timestamp::MAX);
            if start < now {
                errors.add("start", "workload.error.start_past");
            } else if start > latest {
                errors.add("start", "workload.error.start_too_far");
            }
        }
        if self.has_ended(now) {
            errors.add("end", "workload.error.end_past");
        }
        errors.into_result(())
    }

    /// Whether the container is to be gone at `now` (its end time passed).
    pub fn has_ended(&self, now: Timestamp) -> bool {
        self.end_at.is_some_and(|end| end <= now)
    }

    fn check(&self, errors: &mut FieldErrors) {
        check_meta(&self.meta, errors);
        check_image(&self.image, errors);
        if let Some(command) = &self.command {
            check_command(command, "command", errors);
        }
        check_env(&self.env, errors);
        check_resources(&self.resources, errors);
        check_volumes(&self.volumes, errors);
        check_services(&self.services, errors);
        match &self.ssh {
            SshAccess::PasswordHash(hash) if !is_sha512_crypt(hash) => {
                errors.add("ssh", "workload.error.ssh_password_hash");
            }
            SshAccess::Keys(keys)
                if keys.is_empty()
                    || keys.iter().any(|k| k.trim().is_empty() || k.contains('\n')) =>
            {
                errors.add("ssh", "workload.error.ssh_keys");
            }
            _ => {}
        }
        if let (Some(start), Some(end)) = (self.start_at, self.end_at)
            && end <= start
        {
            errors.add("end", "workload.error.end_before_start");
        }
    }
}

impl JobSpec {
    /// Checks every field; messages are translation keys.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::new();
        check_meta(&self.meta, &mut errors);
        check_image(&self.image, &mut errors);
        check_job_command(&self.command, &mut errors);
        check_env(&self.env, &mut errors);
        check_resources(&self.resources, &mut errors);
        check_volumes(&self.volumes, &mut errors);
        if self.time_limit_secs == Some(0) {
            errors.add("time_limit", "workload.error.time_limit");
        }
        errors.into_result(())
    }
}

impl VolumeSpec {
    /// Checks every field; messages are translation keys.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::new();
        if !is_workload_name(&self.name) {
            errors.add("name", "workload.error.volume_name");
        }
        if self.size_gib == 0 {
            errors.add("size", "workload.error.volume_size");
        }
        if let Some(source) = &self.clone_of
            && (!is_workload_name(source) || *source == self.name)
        {
            errors.add("clone_of", "workload.error.volume_name");
        }
        errors.into_result(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn meta(name: &str) -> WorkloadMeta {
        WorkloadMeta {
            id: WorkloadId::generate(),
            project: ProjectId::generate(),
            owner: UserId::generate(),
            name: name.to_owned(),
        }
    }

    fn job(command: &str) -> JobSpec {
        JobSpec {
            meta: meta("train-1"),
            image: ImageRef {
                name: "pytorch/pytorch".into(),
                tag: "2.4".into(),
            },
            command: command.into(),
            env: BTreeMap::new(),
            resources: Resources {
                cpu_milli: 1000,
                ram_mib: 1024,
                shm_mib: 0,
                gpu: None,
            },
            volumes: Vec::new(),
            time_limit_secs: None,
            origin: JobOrigin::Immediately,
        }
    }

    fn container() -> ContainerSpec {
        ContainerSpec {
            meta: meta("notebook"),
            image: ImageRef {
                name: "jupyter/base".into(),
                tag: "latest".into(),
            },
            command: None,
            env: BTreeMap::new(),
            resources: Resources {
                cpu_milli: 2000,
                ram_mib: 4096,
                shm_mib: 1024,
                gpu: None,
            },
            volumes: Vec::new(),
            services: vec![ServiceSpec {
                name: "jupyter".into(),
                kind: ServiceKind::Jupyter,
                port: 8888,
                protocol: Protocol::Http,
                local_command: Some("jupyter lab --port $PORT".into()),
            }],
            ssh: SshAccess::None,
            start_at: None,
            end_at: None,
        }
    }

    #[test]
    fn names_are_dns_labels() {
        for good in ["a", "train-1", "x9", &"a".repeat(63)] {
            assert!(is_workload_name(good), "{good}");
        }
        for bad in [
            "",
            "1abc",
            "-a",
            "a-",
            "Abc",
            "a_b",
            "a.b",
            &"a".repeat(64),
            "ä",
        ] {
            assert!(!is_workload_name(bad), "{bad}");
        }
    }

    #[test]
    fn port_names_are_iana_service_names() {
        for good in ["ssh", "jupyter", "a-b", "x1", "web-8080", &"a".repeat(15)] {
            assert!(is_port_name(good), "{good}");
        }
        for bad in [
            "",
            "a--b",
            "-a",
            "a-",
            "8080",
            "Web",
            "a_b",
            &"a".repeat(16),
        ] {
            assert!(!is_port_name(bad), "{bad}");
        }
        let mut spec = container();
        spec.services[0].name = "my--port".into();
        assert_eq!(
            spec.validate().unwrap_err().get("services"),
            Some("workload.error.service_name")
        );
    }

    #[test]
    fn cpu_and_memory_are_required() {
        let mut spec = job("true");
        spec.resources.cpu_milli = 0;
        assert_eq!(
            spec.validate().unwrap_err().get("cpu"),
            Some("workload.error.cpu_required")
        );
        let mut spec = container();
        spec.resources.ram_mib = 0;
        spec.resources.shm_mib = 0;
        assert_eq!(
            spec.validate().unwrap_err().get("ram"),
            Some("workload.error.ram_required")
        );
    }

    #[test]
    fn mount_paths() {
        for good in [
            "/data",
            "/workspace/data",
            "/home/user/x/",
            "/devices",
            "/mnt/a b",
        ] {
            assert_eq!(mount_path_problem(good), None, "{good}");
        }
        let cases = [
            ("", "workload.error.mount_path_length"),
            ("data", "workload.error.mount_path_relative"),
            ("/", "workload.error.mount_path_root"),
            ("//", "workload.error.mount_path_root"),
            ("/a/../etc", "workload.error.mount_path_dots"),
            ("/a/./b", "workload.error.mount_path_dots"),
            ("/a//b", "workload.error.mount_path_dots"),
            ("/..", "workload.error.mount_path_dots"),
            ("/dev/shm", "workload.error.mount_path_system"),
            ("/dev/shm/", "workload.error.mount_path_system"),
            ("/etc", "workload.error.mount_path_system"),
            ("/usr/local/x", "workload.error.mount_path_system"),
            ("/proc", "workload.error.mount_path_system"),
            ("/root/x", "workload.error.mount_path_system"),
            ("/a\nb", "workload.error.mount_path_chars"),
        ];
        for (path, key) in cases {
            assert_eq!(mount_path_problem(path), Some(key), "{path:?}");
        }
    }

    #[test]
    fn env_names() {
        for good in ["A", "_x", "HF_HOME", "a1"] {
            assert!(is_env_name(good), "{good}");
        }
        for bad in ["", "1A", "A-B", "A B", "A=B"] {
            assert!(!is_env_name(bad), "{bad}");
        }
        let mut spec = job("true");
        spec.env.insert("PORT".into(), "1".into());
        assert_eq!(
            spec.validate().unwrap_err().get("env"),
            Some("workload.error.env_reserved")
        );
        spec.env.clear();
        spec.env.insert("MLSTACK_X".into(), "1".into());
        assert_eq!(
            spec.validate().unwrap_err().get("env"),
            Some("workload.error.env_name")
        );
    }

    #[test]
    fn job_rules() {
        assert_eq!(job("echo hi").validate(), Ok(()));
        assert_eq!(
            job("  ").validate().unwrap_err().get("command"),
            Some("workload.error.command")
        );
        let mut spec = job("true");
        spec.time_limit_secs = Some(0);
        spec.meta.name = "Bad".into();
        spec.image.tag = "-x".into();
        let errors = spec.validate().unwrap_err();
        assert_eq!(errors.get("time_limit"), Some("workload.error.time_limit"));
        assert_eq!(errors.get("name"), Some("workload.error.name"));
        assert_eq!(errors.get("tag"), Some("workload.error.tag"));
    }

    #[test]
    fn container_rules() {
        assert_eq!(container().validate(), Ok(()));

        let mut spec = container();
        spec.resources.shm_mib = 4096;
        assert_eq!(
            spec.validate().unwrap_err().get("shm"),
            Some("workload.error.shm_over_ram")
        );

        let mut spec = container();
        let mut second = spec.services[0].clone();
        second.name = "other".into();
        spec.services.push(second);
        assert_eq!(
            spec.validate().unwrap_err().get("services"),
            Some("workload.error.service_duplicate")
        );

        let mut spec = container();
        spec.services[0].name = "a-very-long-service-name".into();
        assert_eq!(
            spec.validate().unwrap_err().get("services"),
            Some("workload.error.service_name")
        );

        let mut spec = container();
        spec.ssh = SshAccess::Keys(vec![]);
        assert_eq!(
            spec.validate().unwrap_err().get("ssh"),
            Some("workload.error.ssh_keys")
        );

        let mut spec = container();
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        spec.start_at = Some(now);
        spec.end_at = Some(now);
        assert_eq!(
            spec.validate().unwrap_err().get("end"),
            Some("workload.error.end_before_start")
        );

        let mut spec = container();
        spec.resources.gpu = Some(GpuRequest {
            resource_name: "nvidia.com/gpu".into(),
            type_name: "A100".into(),
            node_selector: BTreeMap::new(),
            count: 0,
            units_milli: 0,
        });
        assert_eq!(
            spec.validate().unwrap_err().get("gpu"),
            Some("workload.error.gpu")
        );
    }

    #[test]
    fn a_schedule_starts_within_a_year_and_ends_in_the_future() {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let hours = |h: i64| now + jiff::SignedDuration::from_hours(h);
        let schedule = |start: Option<Timestamp>, end: Option<Timestamp>| {
            let mut spec = container();
            spec.start_at = start;
            spec.end_at = end;
            spec.validate_new(now)
        };
        assert_eq!(schedule(None, None), Ok(()));
        assert_eq!(schedule(Some(now), Some(hours(1))), Ok(()));
        assert_eq!(schedule(Some(hours(365 * 24)), None), Ok(()));
        assert_eq!(schedule(None, Some(hours(24 * 800))), Ok(()));
        let error = |start, end, field| schedule(start, end).unwrap_err().get(field);
        assert_eq!(
            error(Some(hours(-1)), None, "start"),
            Some("workload.error.start_past")
        );
        assert_eq!(
            error(Some(hours(365 * 24 + 1)), None, "start"),
            Some("workload.error.start_too_far")
        );
        assert_eq!(
            error(None, Some(now), "end"),
            Some("workload.error.end_past")
        );
        assert_eq!(
            error(None, Some(hours(-2)), "end"),
            Some("workload.error.end_past")
        );

        let mut spec = container();
        spec.end_at = Some(hours(2));
        assert!(!spec.has_ended(hours(1)));
        assert!(spec.has_ended(hours(2)));
        spec.end_at = None;
        assert!(!spec.has_ended(hours(100_000)));
    }

    #[test]
    fn volume_mounts() {
        let mount = |volume: &str, path: &str| VolumeMount {
            volume: volume.into(),
            mount_path: path.into(),
            read_only: false,
        };
        let data = mount("data", "/workspace/my-data/");
        assert_eq!(data.local_name(), "my-data");
        assert_eq!(data.env_name(), "MLSTACK_VOLUME_MY_DATA");

        let mut spec = job("true");
        spec.volumes = vec![mount("a", "/workspace"), mount("b", "/workspace/b")];
        assert_eq!(
            spec.validate().unwrap_err().get("volumes"),
            Some("workload.error.mount_path_overlap")
        );
        spec.volumes = vec![mount("a", "/x/data"), mount("b", "/y/data")];
        assert_eq!(
            spec.validate().unwrap_err().get("volumes"),
            Some("workload.error.mount_path_overlap")
        );
        spec.volumes = vec![mount("a", "/x/data"), mount("b", "/y/other")];
        assert_eq!(spec.validate(), Ok(()));
        spec.volumes = vec![mount("a", "/dev/shm")];
        assert_eq!(
            spec.validate().unwrap_err().get("volumes"),
            Some("workload.error.mount_path_system")
        );
    }

    #[test]
    fn statuses_round_trip_and_say_what_to_do() {
        let statuses = [
            WorkloadStatus::Scheduled,
            WorkloadStatus::Creating,
            WorkloadStatus::Running,
            WorkloadStatus::Stopped,
            WorkloadStatus::failed(FailureReason::ExitCode(3)),
            WorkloadStatus::failed(FailureReason::MissingProgram("jupyter".into())),
            WorkloadStatus::failed(FailureReason::Unschedulable),
        ];
        for status in statuses {
            let json = serde_json::to_string(&status).unwrap();
            let back: WorkloadStatus = serde_json::from_str(&json).unwrap();
            assert_eq!(back, status, "{json}");
        }
        assert!(WorkloadStatus::Succeeded.is_terminal());
        assert!(!WorkloadStatus::Scheduled.is_terminal());
        assert_eq!(WorkloadStatus::Scheduled.code(), "scheduled");
        assert_eq!(
            WorkloadStatus::Scheduled.label_key(),
            "workload.status.scheduled"
        );
        assert!(!WorkloadStatus::Stopping.is_terminal());
        assert_eq!(
            WorkloadStatus::failed(FailureReason::ExitCode(3)).to_string(),
            "failed: the command exited with code 3"
        );
        assert_eq!(
            FailureReason::TimeLimit.message_key(),
            "workload.failure.time_limit"
        );
    }

    #[test]
    fn ssh_passwords_are_kept_as_sha512_crypt_hashes() {
        // The test vector of the SHA-crypt specification; `openssl passwd
        // -6 -salt saltstring 'Hello world!'` gives the same.
        let access = SshAccess::from_password("Hello world!", "saltstring").unwrap();
        let expected = "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1";
        assert_eq!(access, SshAccess::PasswordHash(expected.into()));
        assert!(is_sha512_crypt(expected));
        assert!(!format!("{access:?}").contains("saltstring"));
        let json = serde_json::to_string(&access).unwrap();
        assert!(!json.contains("Hello world"), "{json}");

        assert_eq!(
            SshAccess::from_password("short", "saltstring"),
            Err("workload.error.ssh_password")
        );
        assert_eq!(
            SshAccess::from_password("long enough\n", "saltstring"),
            Err("workload.error.ssh_password")
        );
        assert_eq!(
            SshAccess::from_password("long enough", "bad salt"),
            Err("workload.error.ssh_password_hash")
        );

        let mut spec = container();
        spec.ssh = SshAccess::PasswordHash("hunter22".into());
        assert_eq!(
            spec.validate().unwrap_err().get("ssh"),
            Some("workload.error.ssh_password_hash")
        );
        spec.ssh = access;
        assert_eq!(spec.validate(), Ok(()));
        for bad in [
            "$5$salt$abc",
            "$6$$abc",
            "$6$rounds=x$salt$abc",
            &format!("$6$salt${}", "a".repeat(85)),
        ] {
            assert!(!is_sha512_crypt(bad), "{bad}");
        }
        assert!(is_sha512_crypt(&format!(
            "$6$rounds=10000$salt${}",
            "a".repeat(86)
        )));
    }
}
