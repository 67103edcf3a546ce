//! Pure builders: a domain spec in, the Kubernetes objects that carry it
//! out. Nothing here talks to a cluster. The snapshot tests at the end (and
//! the JSON files under `snapshots/`) show exactly which objects each
//! product action creates.
//!
//! Names: a project is the namespace `mlstack-<project id as 32 hex>`; a
//! container is a Deployment, a NodePort Service and an SSH Secret named
//! after the container (`<name>`, `<name>`, `<name>-ssh`); a job is a Job
//! named after the job; a volume is a PersistentVolumeClaim named after the
//! volume; an image commit is the Job `commit-<id as 32 hex>`; a member is
//! the ServiceAccount `member-<user id as 32 hex>` their pods run as.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::batch::v1::{Job, JobSpec as KubeJobSpec};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, HostPathVolumeSource,
    Namespace, PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource,
    PodSecurityContext, PodSpec, PodTemplateSpec, ResourceQuota, ResourceQuotaSpec,
    ResourceRequirements, SeccompProfile, SecretVolumeSource, SecurityContext, Service,
    ServiceAccount, ServicePort, ServiceSpec as KubeServiceSpec, TypedLocalObjectReference, Volume,
    VolumeMount as KubeVolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::{ByteString, Metadata, Resource};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::cluster::ProjectSpec;
use crate::domain::catalog::{Protocol, ServiceKind};
use crate::domain::ids::{ProjectId, UserId};
use crate::domain::workload::{
    ContainerSpec, ImageCommitSpec, ImageRef, JUPYTER_WORKDIR_ENV, JobSpec, Resources, SshAccess,
    VolumeMount, VolumeSpec, WorkloadId, WorkloadMeta,
};

/// Marks every object as ours; the watches select on it.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "mlstack";
/// The label selector of everything mlstack made.
pub const MANAGED_SELECTOR: &str = "app.kubernetes.io/managed-by=mlstack";
pub const PROJECT_LABEL: &str = "mlstack.io/project";
pub const OWNER_LABEL: &str = "mlstack.io/owner";
pub const WORKLOAD_LABEL: &str = "mlstack.io/workload";
/// `container`, `job`, `image-commit`, `volume`, `project` or `member`.
pub const KIND_LABEL: &str = "mlstack.io/kind";
/// The product's name of the workload or volume.
pub const NAME_LABEL: &str = "app.kubernetes.io/name";
/// A digest of the object as built, so an unchanged spec costs no request.
pub const SPEC_HASH_ANNOTATION: &str = "mlstack.io/spec-hash";
/// The project's name, for people reading the cluster.
pub const PROJECT_NAME_ANNOTATION: &str = "mlstack.io/project-name";
/// The one container of every pod we make.
pub const MAIN_CONTAINER: &str = "main";
/// Where the SSH Secret is mounted: `authorized_keys`, or `password-hash`
/// (a SHA-512 crypt hash for `chpasswd -e`; the password is never stored).
pub const SSH_MOUNT_PATH: &str = "/etc/mlstack/ssh";
/// The quota object of a project namespace.
pub const QUOTA_NAME: &str = "mlstack-quota";
/// The GPU resource a project quota limits in whole devices.
pub const WHOLE_GPU_RESOURCE: &str = "nvidia.com/gpu";

/// Settings the builders need from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildSettings {
    /// How long a finished Job stays before Kubernetes deletes it.
    pub job_ttl_secs: i32,
    /// The image that commits a container and pushes it (see `commit_job`).
    pub committer_image: Option<String>,
    /// Where committed images are pushed (`registry.lab:5000/mlstack`).
    pub registry: Option<String>,
    /// The commit job's CPU request and limit, in thousandths of a CPU.
    pub committer_cpu_milli: u64,
    /// The commit job's memory request and limit, in MiB.
    pub committer_ram_mib: u64,
}

pub fn namespace_name(project: ProjectId) -> String {
    format!("mlstack-{:032x}", project.as_u128())
}

/// The project whose namespace this is ([`namespace_name`]), if any.
pub fn project_of_namespace(namespace: &str) -> Option<ProjectId> {
    let hex = namespace.strip_prefix("mlstack-")?;
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(hex, 16).ok().map(ProjectId::from_u128)
}

/// The names a pod's workload may have: a container's pod is named
/// `<Deployment>-<ReplicaSet hash>-<suffix>`, a job's `<Job>-<suffix>`
/// (Kubernetes' generated names); in that order.
pub fn workload_names_of_pod(pod: &str) -> (Option<&str>, Option<&str>) {
    let job = pod.rsplit_once('-').map(|(name, _)| name);
    let container = job.and_then(|j| j.rsplit_once('-')).map(|(name, _)| name);
    (container, job)
}

pub fn member_account_name(user: UserId) -> String {
    format!("member-{:032x}", user.as_u128())
}

pub fn ssh_secret_name(container: &str) -> String {
    format!("{container}-ssh")
}

pub fn commit_job_name(id: WorkloadId) -> String {
    format!("commit-{:032x}", id.as_u128())
}

/// The image reference a pod pulls.
pub fn image_reference(image: &ImageRef) -> String {
    image.to_string()
}

/// Where a commit is pushed.
pub fn commit_target(registry: &str, target: &ImageRef) -> String {
    format!("{}/{target}", registry.trim_end_matches('/'))
}

fn labels(kind: &str, project: ProjectId) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY_LABEL.to_owned(), MANAGED_BY.to_owned()),
        (KIND_LABEL.to_owned(), kind.to_owned()),
        (PROJECT_LABEL.to_owned(), project.to_string()),
    ])
}

fn workload_labels(kind: &str, meta: &WorkloadMeta) -> BTreeMap<String, String> {
    let mut labels = labels(kind, meta.project);
    labels.insert(OWNER_LABEL.to_owned(), meta.owner.to_string());
    labels.insert(WORKLOAD_LABEL.to_owned(), meta.id.to_string());
    labels.insert(NAME_LABEL.to_owned(), meta.name.clone());
    labels
}

fn object_meta(
    name: String,
    namespace: Option<String>,
    labels: BTreeMap<String, String>,
) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace,
        labels: Some(labels),
        ..ObjectMeta::default()
    }
}

/// Sets the spec-hash annotation from the object as built (without it).
fn hashed<K: Serialize + Metadata<Ty = ObjectMeta>>(mut object: K) -> K {
    let digest = serde_json::to_vec(&object)
        .map(Sha256::digest)
        .map(|d| {
            d.iter()
                .take(12)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        })
        .unwrap_or_default();
    object
        .metadata_mut()
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(SPEC_HASH_ANNOTATION.to_owned(), digest);
    object
}

/// The spec hash an object carries, if any.
pub fn spec_hash(meta: &ObjectMeta) -> Option<&str> {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(SPEC_HASH_ANNOTATION))
        .map(String::as_str)
}

/// A reference from a child to the object that owns it, so deleting the
/// owner deletes the child.
pub fn owner_reference<K: Resource>(meta: &ObjectMeta) -> Option<OwnerReference> {
    Some(OwnerReference {
        api_version: K::API_VERSION.to_owned(),
        kind: K::KIND.to_owned(),
        name: meta.name.clone()?,
        uid: meta.uid.clone()?,
        controller: Some(true),
        block_owner_deletion: Some(true),
    })
}

// ---------------------------------------------------------------------------
// Projects and members

/// The namespace of a project; its name (the project code) is an
/// annotation when known.
pub fn namespace(project: ProjectId, name: Option<&str>) -> Namespace {
    let mut meta = object_meta(namespace_name(project), None, labels("project", project));
    meta.annotations =
        name.map(|name| BTreeMap::from([(PROJECT_NAME_ANNOTATION.to_owned(), name.to_owned())]));
    hashed(Namespace {
        metadata: meta,
        ..Namespace::default()
    })
}

/// Object counts of a project quota, derived from its CPU (C whole CPUs;
/// 64 when CPU is unlimited) and storage (S GiB; 100 when unlimited):
/// pods (finished Job pods count until the Job's TTL) 10 per CPU, at least
/// 10 and at most 1000; Services (one per container with services) and
/// Secrets (one per container with SSH) 2 per CPU, at least 5 and at most
/// 200; node ports, a scarce resource of the whole cluster, 4 per CPU, at
/// least 10 and at most 400 (a container usually exposes 2 or 3);
/// PersistentVolumeClaims one per GiB (a volume is at least 1 GiB), at
/// least 1 and at most 100.
pub fn object_counts(project: &ProjectSpec) -> [(&'static str, u64); 5] {
    let cpus = project.cpu_milli.map_or(64, |milli| milli / 1000);
    let storage = project.storage_gib.unwrap_or(100);
    [
        ("count/pods", (cpus * 10).clamp(10, 1000)),
        ("count/services", (cpus * 2).clamp(5, 200)),
        ("secrets", (cpus * 2).clamp(5, 200)),
        ("services.nodeports", (cpus * 4).clamp(10, 400)),
        ("persistentvolumeclaims", storage.clamp(1, 100)),
    ]
}

/// The project quota as a ResourceQuota: CPU and memory requests and
/// limits, storage requests, whole GPUs (the floor of the GPU units:
/// fractions of a GPU run on shared or MIG resources, which mlstack counts
/// itself), and the object counts of [`object_counts`]. Every project has
/// one, since the object counts always apply.
pub fn resource_quota(project: &ProjectSpec) -> ResourceQuota {
    let mut hard: BTreeMap<String, Quantity> = object_counts(project)
        .into_iter()
        .map(|(key, count)| (key.to_owned(), Quantity(count.to_string())))
        .collect();
    if let Some(cpu) = project.cpu_milli {
        hard.insert("limits.cpu".to_owned(), Quantity(format!("{cpu}m")));
        hard.insert("requests.cpu".to_owned(), Quantity(format!("{cpu}m")));
    }
    if let Some(ram) = project.ram_mib {
        hard.insert("limits.memory".to_owned(), Quantity(format!("{ram}Mi")));
        hard.insert("requests.memory".to_owned(), Quantity(format!("{ram}Mi")));
    }
    if let Some(storage) = project.storage_gib {
        hard.insert(
            "requests.storage".to_owned(),
            Quantity(format!("{storage}Gi")),
        );
    }
    if let Some(units) = project.gpu_units_milli {
        hard.insert(
            format!("requests.{WHOLE_GPU_RESOURCE}"),
            Quantity((units / 1000).to_string()),
        );
    }
    hashed(ResourceQuota {
        metadata: object_meta(
            QUOTA_NAME.to_owned(),
            Some(namespace_name(project.id)),
            labels("project", project.id),
        ),
        spec: Some(ResourceQuotaSpec {
            hard: Some(hard),
            ..ResourceQuotaSpec::default()
        }),
        ..ResourceQuota::default()
    })
}

/// The service account a member's pods run as (made at activation).
pub fn member_account(project: ProjectId, user: UserId) -> ServiceAccount {
    let mut labels = labels("member", project);
    labels.insert(OWNER_LABEL.to_owned(), user.to_string());
    hashed(ServiceAccount {
        metadata: object_meta(
            member_account_name(user),
            Some(namespace_name(project)),
            labels,
        ),
        automount_service_account_token: Some(false),
        ..ServiceAccount::default()
    })
}

// ---------------------------------------------------------------------------
// Pods

/// Limits and equal requests (a Guaranteed pod: what a user asked for is
/// what they get), plus the GPU resource. CPU and memory are always
/// declared (validation refuses 0): a namespace whose quota limits them
/// refuses a pod that does not.
fn resource_requirements(resources: &Resources) -> ResourceRequirements {
    let mut amounts = BTreeMap::from([
        (
            "cpu".to_owned(),
            Quantity(format!("{}m", resources.cpu_milli)),
        ),
        (
            "memory".to_owned(),
            Quantity(format!("{}Mi", resources.ram_mib)),
        ),
    ]);
    if let Some(gpu) = &resources.gpu {
        amounts.insert(gpu.resource_name.clone(), Quantity(gpu.count.to_string()));
    }
    ResourceRequirements {
        limits: Some(amounts.clone()),
        requests: Some(amounts),
        ..ResourceRequirements::default()
    }
}

fn env_vars(env: &BTreeMap<String, String>, resources: &Resources) -> Vec<EnvVar> {
    let mut vars: Vec<EnvVar> = env
        .iter()
        .map(|(name, value)| EnvVar {
            name: name.clone(),
            value: Some(value.clone()),
            ..EnvVar::default()
        })
        .collect();
    if resources.gpu.is_none() {
        // Where the NVIDIA runtime is the node's default, a pod without a
        // GPU limit would otherwise see every GPU of the node.
        vars.push(EnvVar {
            name: "NVIDIA_VISIBLE_DEVICES".to_owned(),
            value: Some("void".to_owned()),
            ..EnvVar::default()
        });
    }
    vars
}

/// The pod's name of a project volume: `vol-<volume>`, a DNS-1123 label
/// of at most 63 characters; a volume name too long for that keeps its
/// first 50 characters and gets a digest of the whole name, so two long
/// names never meet.
pub fn volume_name(volume: &str) -> String {
    const PREFIX: &str = "vol-";
    if PREFIX.len() + volume.len() <= 63 {
        return format!("{PREFIX}{volume}");
    }
    let digest: String = Sha256::digest(volume.as_bytes())
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect();
    let head = volume.get(..50).unwrap_or(volume).trim_end_matches('-');
    format!("{PREFIX}{head}-{digest}")
}

/// Capabilities an image's SSH service needs, on top of none: `SETUID`
/// and `SETGID` (sshd becomes the user who logs in), `SYS_CHROOT` (its
/// privilege-separated child chroots into an empty directory), `CHOWN` and
/// `FOWNER` (it gives the login's pseudo-terminal to the user and sets its
/// mode), `DAC_OVERRIDE` (as root it reads the user's files and the keys
/// whatever their modes), `NET_BIND_SERVICE` (it listens on port 22),
/// `KILL` (its monitor signals the user's session processes) and
/// `AUDIT_WRITE` (PAM and sshd write login records to the audit log, and
/// a refused write fails the login).
pub const SSH_CAPABILITIES: [&str; 9] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "KILL",
    "NET_BIND_SERVICE",
    "SETGID",
    "SETUID",
    "SYS_CHROOT",
];

/// The pod's security context: the runtime's default seccomp profile.
fn pod_security_context() -> PodSecurityContext {
    PodSecurityContext {
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_owned(),
            localhost_profile: None,
        }),
        ..PodSecurityContext::default()
    }
}

/// The main container's security context: no privilege escalation (no
/// setuid binaries), every capability dropped, and only what sshd needs
/// added back when the container serves SSH.
fn container_security_context(ssh: bool) -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_owned()]),
            add: ssh.then(|| SSH_CAPABILITIES.iter().map(|c| (*c).to_owned()).collect()),
        }),
        ..SecurityContext::default()
    }
}

/// Volumes and mounts: the project volumes (PVCs), shared memory, and the
/// SSH secret.
fn pod_storage(
    mounts: &[VolumeMount],
    resources: &Resources,
    ssh_secret: Option<&str>,
) -> (Vec<Volume>, Vec<KubeVolumeMount>) {
    let mut volumes: Vec<Volume> = Vec::new();
    let mut volume_mounts = Vec::new();
    for mount in mounts {
        let name = volume_name(&mount.volume);
        if !volumes.iter().any(|v| v.name == name) {
            volumes.push(Volume {
                name: name.clone(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: mount.volume.clone(),
                    read_only: None,
                }),
                ..Volume::default()
            });
        }
        volume_mounts.push(KubeVolumeMount {
            name,
            mount_path: mount.mount_path.clone(),
            read_only: mount.read_only.then_some(true),
            ..KubeVolumeMount::default()
        });
    }
    if resources.shm_mib > 0 {
        // Shared memory counts against the memory limit, so it always has
        // a size limit.
        volumes.push(Volume {
            name: "shm".to_owned(),
            empty_dir: Some(EmptyDirVolumeSource {
                medium: Some("Memory".to_owned()),
                size_limit: Some(Quantity(format!("{}Mi", resources.shm_mib))),
            }),
            ..Volume::default()
        });
        volume_mounts.push(KubeVolumeMount {
            name: "shm".to_owned(),
            mount_path: "/dev/shm".to_owned(),
            ..KubeVolumeMount::default()
        });
    }
    if let Some(secret) = ssh_secret {
        volumes.push(Volume {
            name: "ssh".to_owned(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(secret.to_owned()),
                default_mode: Some(0o400),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
        volume_mounts.push(KubeVolumeMount {
            name: "ssh".to_owned(),
            mount_path: SSH_MOUNT_PATH.to_owned(),
            read_only: Some(true),
            ..KubeVolumeMount::default()
        });
    }
    (volumes, volume_mounts)
}

struct PodParts<'a> {
    meta: &'a WorkloadMeta,
    image: &'a ImageRef,
    command: Option<&'a str>,
    env: &'a BTreeMap<String, String>,
    resources: &'a Resources,
    mounts: &'a [VolumeMount],
    ports: Vec<ContainerPort>,
    ssh_secret: Option<String>,
    /// Whether the image runs an SSH service (it gets sshd's capabilities).
    serves_ssh: bool,
    restart_policy: &'static str,
}

fn pod_template(kind: &str, parts: PodParts<'_>) -> PodTemplateSpec {
    let (volumes, volume_mounts) =
        pod_storage(parts.mounts, parts.resources, parts.ssh_secret.as_deref());
    let node_selector = parts
        .resources
        .gpu
        .as_ref()
        .filter(|gpu| !gpu.node_selector.is_empty())
        .map(|gpu| gpu.node_selector.clone());
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(workload_labels(kind, parts.meta)),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: MAIN_CONTAINER.to_owned(),
                image: Some(image_reference(parts.image)),
                command: parts
                    .command
                    .map(|c| vec!["/bin/sh".to_owned(), "-c".to_owned(), c.to_owned()]),
                env: Some(env_vars(parts.env, parts.resources)).filter(|v| !v.is_empty()),
                ports: Some(parts.ports).filter(|p| !p.is_empty()),
                resources: Some(resource_requirements(parts.resources)),
                security_context: Some(container_security_context(parts.serves_ssh)),
                volume_mounts: Some(volume_mounts).filter(|m| !m.is_empty()),
                // The Jupyter working directory the wizard set: Jupyter
                // serves the directory it starts in.
                working_dir: parts.env.get(JUPYTER_WORKDIR_ENV).cloned(),
                ..Container::default()
            }],
            security_context: Some(pod_security_context()),
            volumes: Some(volumes).filter(|v| !v.is_empty()),
            node_selector,
            restart_policy: Some(parts.restart_policy.to_owned()),
            service_account_name: Some(member_account_name(parts.meta.owner)),
            automount_service_account_token: Some(false),
            enable_service_links: Some(false),
            ..PodSpec::default()
        }),
    }
}

// ---------------------------------------------------------------------------
// Containers

/// The Deployment of a container: one replica while it should run, none
/// when stopped (its Service, Secret and volumes stay).
pub fn deployment(spec: &ContainerSpec, running: bool) -> Deployment {
    let selector = BTreeMap::from([(WORKLOAD_LABEL.to_owned(), spec.meta.id.to_string())]);
    let ports = spec
        .services
        .iter()
        .map(|s| ContainerPort {
            name: Some(s.name.clone()),
            container_port: i32::from(s.port),
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        })
        .collect();
    // Where mlstack's proxy serves the services (the path is kept on the
    // way through the API server): service `name` serves under
    // `$MLSTACK_SERVICES_PATH<name>/`.
    let mut env = spec.env.clone();
    env.insert(
        "MLSTACK_SERVICES_PATH".to_owned(),
        format!("/containers/{}/services/", spec.meta.id),
    );
    let template = pod_template(
        "container",
        PodParts {
            meta: &spec.meta,
            image: &spec.image,
            command: spec.command.as_deref(),
            env: &env,
            resources: &spec.resources,
            mounts: &spec.volumes,
            ports,
            ssh_secret: ssh_secret_data(&spec.ssh).map(|_| ssh_secret_name(&spec.meta.name)),
            serves_ssh: spec.services.iter().any(|s| s.kind == ServiceKind::Ssh),
            restart_policy: "Always",
        },
    );
    hashed(Deployment {
        metadata: object_meta(
            spec.meta.name.clone(),
            Some(namespace_name(spec.meta.project)),
            workload_labels("container", &spec.meta),
        ),
        spec: Some(DeploymentSpec {
            replicas: Some(i32::from(running)),
            selector: LabelSelector {
                match_labels: Some(selector),
                ..LabelSelector::default()
            },
            // A GPU cannot be held by the old and the new pod at once.
            strategy: Some(DeploymentStrategy {
                type_: Some("Recreate".to_owned()),
                ..DeploymentStrategy::default()
            }),
            revision_history_limit: Some(1),
            template,
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    })
}

/// The protocol a Service port announces (`appProtocol`), from which the
/// driver builds the link.
pub fn app_protocol(kind: ServiceKind, protocol: Protocol) -> &'static str {
    match (kind, protocol) {
        (ServiceKind::Ssh, _) => "ssh",
        (_, Protocol::Http) => "http",
        (_, Protocol::Https) => "https",
        (_, Protocol::Tcp) => "tcp",
    }
}

/// The NodePort Service for a container's service ports; None without any.
pub fn container_service(spec: &ContainerSpec) -> Option<Service> {
    if spec.services.is_empty() {
        return None;
    }
    let metadata = object_meta(
        spec.meta.name.clone(),
        Some(namespace_name(spec.meta.project)),
        workload_labels("container", &spec.meta),
    );
    let service = hashed(Service {
        metadata,
        spec: Some(KubeServiceSpec {
            type_: Some("NodePort".to_owned()),
            selector: Some(BTreeMap::from([(
                WORKLOAD_LABEL.to_owned(),
                spec.meta.id.to_string(),
            )])),
            ports: Some(
                spec.services
                    .iter()
                    .map(|s| ServicePort {
                        name: Some(s.name.clone()),
                        port: i32::from(s.port),
                        target_port: Some(IntOrString::Int(i32::from(s.port))),
                        protocol: Some("TCP".to_owned()),
                        app_protocol: Some(app_protocol(s.kind, s.protocol).to_owned()),
                        ..ServicePort::default()
                    })
                    .collect(),
            ),
            ..KubeServiceSpec::default()
        }),
        ..Service::default()
    });
    Some(service)
}

/// A child with its owner: deleting the owner deletes it. The reference
/// is added after the spec hash was taken, since the owner's uid is the
/// cluster's, not part of what we build.
pub fn owned_by<K: Metadata<Ty = ObjectMeta>>(mut object: K, owner: Option<OwnerReference>) -> K {
    object.metadata_mut().owner_references = owner.map(|o| vec![o]);
    object
}

fn ssh_secret_data(ssh: &SshAccess) -> Option<(&'static str, String)> {
    match ssh {
        SshAccess::None => None,
        SshAccess::PasswordHash(hash) => Some(("password-hash", hash.clone() + "\n")),
        SshAccess::Keys(keys) => Some(("authorized_keys", keys.join("\n") + "\n")),
    }
}

/// The Secret with a container's SSH keys or password; None without SSH
/// access. Its hash annotation covers the content, never shown elsewhere.
pub fn ssh_secret(spec: &ContainerSpec) -> Option<Secret> {
    let (key, value) = ssh_secret_data(&spec.ssh)?;
    let metadata = object_meta(
        ssh_secret_name(&spec.meta.name),
        Some(namespace_name(spec.meta.project)),
        workload_labels("container", &spec.meta),
    );
    let secret = hashed(Secret {
        metadata,
        type_: Some("Opaque".to_owned()),
        data: Some(BTreeMap::from([(
            key.to_owned(),
            ByteString(value.into_bytes()),
        )])),
        ..Secret::default()
    });
    Some(secret)
}

// ---------------------------------------------------------------------------
// Jobs, volumes, image commits

/// The Job of a job: one pod, never retried (a failed run is the user's to
/// see), deleted `job_ttl_secs` after it finished, stopped at its time limit.
pub fn job(spec: &JobSpec, settings: &BuildSettings) -> Job {
    let template = pod_template(
        "job",
        PodParts {
            meta: &spec.meta,
            image: &spec.image,
            command: Some(&spec.command),
            env: &spec.env,
            resources: &spec.resources,
            mounts: &spec.volumes,
            ports: Vec::new(),
            ssh_secret: None,
            serves_ssh: false,
            restart_policy: "Never",
        },
    );
    hashed(Job {
        metadata: object_meta(
            spec.meta.name.clone(),
            Some(namespace_name(spec.meta.project)),
            workload_labels("job", &spec.meta),
        ),
        spec: Some(KubeJobSpec {
            backoff_limit: Some(0),
            completions: Some(1),
            parallelism: Some(1),
            ttl_seconds_after_finished: Some(settings.job_ttl_secs),
            active_deadline_seconds: spec
                .time_limit_secs
                .map(|s| i64::try_from(s).unwrap_or(i64::MAX)),
            template,
            ..KubeJobSpec::default()
        }),
        ..Job::default()
    })
}

/// The PersistentVolumeClaim of a volume, of its storage type's class.
/// ReadWriteOnce works with every provisioner; pods of a project on one
/// node share it.
pub fn persistent_volume_claim(spec: &VolumeSpec) -> PersistentVolumeClaim {
    let mut labels = labels("volume", spec.project);
    labels.insert(OWNER_LABEL.to_owned(), spec.owner.to_string());
    labels.insert(NAME_LABEL.to_owned(), spec.name.clone());
    hashed(PersistentVolumeClaim {
        metadata: object_meta(
            spec.name.clone(),
            Some(namespace_name(spec.project)),
            labels,
        ),
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
            storage_class_name: Some(spec.storage_class.clone()).filter(|c| !c.is_empty()),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_owned(),
                    Quantity(format!("{}Gi", spec.size_gib)),
                )])),
                ..VolumeResourceRequirements::default()
            }),
            // A clone: the storage class's CSI driver copies the source.
            data_source: spec
                .clone_of
                .as_ref()
                .map(|source| TypedLocalObjectReference {
                    api_group: None,
                    kind: "PersistentVolumeClaim".to_owned(),
                    name: source.clone(),
                }),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    })
}

/// Where the container to commit runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitSource {
    pub node: String,
    /// The container runtime's id of the container (`containerd://…`).
    pub container_id: String,
}

/// The Job that commits a container and pushes the image: pinned to the
/// container's node, with the containerd socket, and the configured CPU
/// and memory as requests and limits. It alone is privileged, so it has no
/// seccomp profile, capability list or privilege-escalation setting (the
/// API server refuses `allowPrivilegeEscalation: false` beside
/// `privileged: true`): it reads the filesystem of another user's
/// container through containerd, which owns every container of the node,
/// and the socket is root's. That is why an admin must name the committer
/// image before any commit runs. The committer
/// image's entrypoint does the work and reads `MLSTACK_CONTAINER_ID` (the
/// containerd id), `MLSTACK_TARGET_IMAGE` (where to push),
/// `MLSTACK_CONTAINERD_ADDRESS` and `MLSTACK_CONTAINERD_NAMESPACE`.
/// None unless an admin configured a committer image and a registry.
pub fn commit_job(
    spec: &ImageCommitSpec,
    source: &CommitSource,
    settings: &BuildSettings,
) -> Option<Job> {
    const SOCKET: &str = "/run/containerd/containerd.sock";
    let image = settings.committer_image.as_ref()?;
    let registry = settings.registry.as_ref()?;
    let meta = WorkloadMeta {
        id: spec.id,
        project: spec.project,
        owner: spec.owner,
        name: commit_job_name(spec.id),
    };
    let container_id = source
        .container_id
        .split_once("://")
        .map_or(source.container_id.as_str(), |(_, id)| id);
    let env = [
        ("MLSTACK_CONTAINER_ID", container_id.to_owned()),
        (
            "MLSTACK_TARGET_IMAGE",
            commit_target(registry, &spec.target),
        ),
        ("MLSTACK_CONTAINERD_ADDRESS", SOCKET.to_owned()),
        ("MLSTACK_CONTAINERD_NAMESPACE", "k8s.io".to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| EnvVar {
        name: name.to_owned(),
        value: Some(value),
        ..EnvVar::default()
    })
    .collect();
    let mut labels = workload_labels("image-commit", &meta);
    labels.insert(
        format!("{WORKLOAD_LABEL}-source"),
        spec.container.to_string(),
    );
    let template = PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(workload_labels("image-commit", &meta)),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            node_name: Some(source.node.clone()),
            restart_policy: Some("Never".to_owned()),
            automount_service_account_token: Some(false),
            enable_service_links: Some(false),
            containers: vec![Container {
                name: MAIN_CONTAINER.to_owned(),
                image: Some(image.clone()),
                env: Some(env),
                resources: Some(resource_requirements(&Resources {
                    cpu_milli: settings.committer_cpu_milli,
                    ram_mib: settings.committer_ram_mib,
                    shm_mib: 0,
                    gpu: None,
                })),
                security_context: Some(SecurityContext {
                    privileged: Some(true),
                    ..SecurityContext::default()
                }),
                volume_mounts: Some(vec![KubeVolumeMount {
                    name: "containerd".to_owned(),
                    mount_path: SOCKET.to_owned(),
                    ..KubeVolumeMount::default()
                }]),
                ..Container::default()
            }],
            volumes: Some(vec![Volume {
                name: "containerd".to_owned(),
                host_path: Some(HostPathVolumeSource {
                    path: SOCKET.to_owned(),
                    type_: Some("Socket".to_owned()),
                }),
                ..Volume::default()
            }]),
            ..PodSpec::default()
        }),
    };
    Some(hashed(Job {
        metadata: object_meta(
            meta.name.clone(),
            Some(namespace_name(spec.project)),
            labels,
        ),
        spec: Some(KubeJobSpec {
            backoff_limit: Some(0),
            ttl_seconds_after_finished: Some(settings.job_ttl_secs),
            template,
            ..KubeJobSpec::default()
        }),
        ..Job::default()
    }))
}

/// Snapshots: each product action's objects, as JSON a reader can check
/// against the Kubernetes documentation. A changed builder fails here;
/// `MLSTACK_UPDATE_SNAPSHOTS=1 cargo test --lib snapshots` rewrites the
/// files, and the diff goes into review with the change.
#[cfg(test)]
mod snapshots {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::path::PathBuf;

    use super::*;
    use crate::domain::workload::{GpuRequest, ServiceSpec};

    fn check(name: &str, value: &impl Serialize) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("src/cluster/kube/snapshots")
            .join(format!("{name}.json"));
        let actual = serde_json::to_string_pretty(value).unwrap() + "\n";
        if std::env::var_os("MLSTACK_UPDATE_SNAPSHOTS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &actual).unwrap();
            return;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run with MLSTACK_UPDATE_SNAPSHOTS=1)",
                path.display()
            )
        });
        assert_eq!(actual, expected, "{name} differs from {}", path.display());
    }

    fn project() -> ProjectSpec {
        ProjectSpec {
            id: ProjectId::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0001),
            name: "vision-lab".to_owned(),
            gpu_units_milli: Some(2500),
            cpu_milli: Some(16_000),
            ram_mib: Some(65_536),
            storage_gib: Some(500),
        }
    }

    fn meta(name: &str) -> WorkloadMeta {
        WorkloadMeta {
            id: WorkloadId::from_u128(0x0193_0000_0000_7000_8000_0000_0000_00a1),
            project: project().id,
            owner: UserId::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0b0b),
            name: name.to_owned(),
        }
    }

    fn gpu_resources() -> Resources {
        Resources {
            cpu_milli: 4000,
            ram_mib: 16_384,
            shm_mib: 2048,
            gpu: Some(GpuRequest {
                resource_name: "nvidia.com/gpu".to_owned(),
                type_name: "NVIDIA H200".to_owned(),
                node_selector: BTreeMap::from([(
                    "nvidia.com/gpu.product".to_owned(),
                    "NVIDIA-H200".to_owned(),
                )]),
                count: 1,
                units_milli: 1000,
            }),
        }
    }

    fn container() -> ContainerSpec {
        ContainerSpec {
            meta: meta("notebook"),
            image: ImageRef {
                name: "pytorch/pytorch".to_owned(),
                tag: "2.4.0-cuda12.1-cudnn9-runtime".to_owned(),
            },
            command: None,
            env: BTreeMap::from([("HF_HOME".to_owned(), "/workspace/data/hf".to_owned())]),
            resources: gpu_resources(),
            volumes: vec![VolumeMount {
                volume: "datasets".to_owned(),
                mount_path: "/workspace/data".to_owned(),
                read_only: false,
            }],
            services: vec![
                ServiceSpec {
                    name: "ssh".to_owned(),
                    kind: ServiceKind::Ssh,
                    port: 22,
                    protocol: Protocol::Tcp,
                    local_command: None,
                },
                ServiceSpec {
                    name: "jupyter".to_owned(),
                    kind: ServiceKind::JupyterLab,
                    port: 8888,
                    protocol: Protocol::Http,
                    local_command: None,
                },
            ],
            ssh: SshAccess::Keys(vec![
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey lab@example".to_owned(),
            ]),
            start_at: None,
            end_at: None,
        }
    }

    fn settings() -> BuildSettings {
        BuildSettings {
            job_ttl_secs: 3600,
            committer_image: Some("registry.lab:5000/tools/committer:1.0".to_owned()),
            registry: Some("registry.lab:5000/mlstack".to_owned()),
            committer_cpu_milli: 1000,
            committer_ram_mib: 2048,
        }
    }

    fn deployment_owner() -> OwnerReference {
        let mut deployment = deployment(&container(), true);
        deployment.metadata.uid = Some("6c1f7e0a-0000-4000-8000-00000000d001".to_owned());
        owner_reference::<Deployment>(&deployment.metadata).unwrap()
    }

    #[test]
    fn project_is_a_namespace_with_a_quota() {
        check(
            "project-namespace",
            &namespace(project().id, Some(&project().name)),
        );
        check("project-resourcequota", &resource_quota(&project()));
        let unlimited = ProjectSpec {
            gpu_units_milli: None,
            cpu_milli: None,
            ram_mib: None,
            storage_gib: None,
            ..project()
        };
        let hard = resource_quota(&unlimited).spec.unwrap().hard.unwrap();
        let keys: Vec<&str> = hard.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "count/pods",
                "count/services",
                "persistentvolumeclaims",
                "secrets",
                "services.nodeports"
            ]
        );
    }

    #[test]
    fn activation_is_a_service_account() {
        check(
            "member-serviceaccount",
            &member_account(project().id, meta("x").owner),
        );
    }

    #[test]
    fn container_is_a_deployment_a_service_and_a_secret() {
        let spec = container();
        check("container-deployment", &deployment(&spec, true));
        check(
            "container-service",
            &owned_by(container_service(&spec).unwrap(), Some(deployment_owner())),
        );
        check(
            "container-secret",
            &owned_by(ssh_secret(&spec).unwrap(), Some(deployment_owner())),
        );
    }

    #[test]
    fn a_jupyter_working_directory_is_where_the_container_starts() {
        let pod = |spec: &ContainerSpec| {
            deployment(spec, true)
                .spec
                .unwrap()
                .template
                .spec
                .unwrap()
                .containers[0]
                .working_dir
                .clone()
        };
        assert_eq!(pod(&container()), None);
        let mut spec = container();
        spec.env
            .insert(JUPYTER_WORKDIR_ENV.to_owned(), "/workspace/data".to_owned());
        assert_eq!(pod(&spec), Some("/workspace/data".to_owned()));
    }

    #[test]
    fn stopping_a_container_scales_it_to_zero() {
        let running = deployment(&container(), true);
        let stopped = deployment(&container(), false);
        assert_eq!(running.spec.as_ref().unwrap().replicas, Some(1));
        assert_eq!(stopped.spec.as_ref().unwrap().replicas, Some(0));
        assert_ne!(spec_hash(&running.metadata), spec_hash(&stopped.metadata));
    }

    #[test]
    fn container_without_services_or_ssh_has_neither() {
        let spec = ContainerSpec {
            services: Vec::new(),
            ssh: SshAccess::None,
            resources: Resources {
                cpu_milli: 1000,
                ram_mib: 2048,
                shm_mib: 0,
                gpu: None,
            },
            volumes: Vec::new(),
            ..container()
        };
        assert!(container_service(&spec).is_none());
        assert!(ssh_secret(&spec).is_none());
        check("container-cpu-only-deployment", &deployment(&spec, true));
    }

    #[test]
    fn job_is_a_batch_job() {
        let spec = JobSpec {
            meta: meta("train"),
            image: container().image,
            command: "python train.py --epochs 10".to_owned(),
            env: BTreeMap::new(),
            resources: gpu_resources(),
            volumes: container().volumes,
            time_limit_secs: Some(7200),
            origin: crate::domain::workload::JobOrigin::Immediately,
        };
        check("job", &job(&spec, &settings()));
    }

    #[test]
    fn volume_is_a_claim_of_its_storage_class() {
        let spec = VolumeSpec {
            project: project().id,
            owner: meta("x").owner,
            name: "datasets".to_owned(),
            storage_class: "nfs-client".to_owned(),
            size_gib: 200,
            clone_of: None,
        };
        check(
            "volume-persistentvolumeclaim",
            &persistent_volume_claim(&spec),
        );
    }

    #[test]
    fn a_clone_is_a_claim_with_its_source_as_data_source() {
        let spec = VolumeSpec {
            project: project().id,
            owner: meta("x").owner,
            name: "datasets-copy".to_owned(),
            storage_class: "nfs-client".to_owned(),
            size_gib: 200,
            clone_of: Some("datasets".to_owned()),
        };
        let claim = persistent_volume_claim(&spec);
        let source = claim
            .spec
            .and_then(|s| s.data_source)
            .expect("a data source");
        assert_eq!(source.kind, "PersistentVolumeClaim");
        assert_eq!(source.name, "datasets");
        assert_eq!(source.api_group, None);
    }

    #[test]
    fn image_commit_is_a_pinned_job() {
        let spec = ImageCommitSpec {
            id: WorkloadId::from_u128(0x0193_0000_0000_7000_8000_0000_0000_00c1),
            project: project().id,
            owner: meta("x").owner,
            container: meta("x").id,
            target: ImageRef {
                name: "vision-lab/notebook".to_owned(),
                tag: "v1".to_owned(),
            },
        };
        let source = CommitSource {
            node: "gpu-node-1".to_owned(),
            container_id: "containerd://4f2a9c".to_owned(),
        };
        check(
            "image-commit-job",
            &commit_job(&spec, &source, &settings()).unwrap(),
        );
        let off = BuildSettings {
            committer_image: None,
            ..settings()
        };
        assert!(commit_job(&spec, &source, &off).is_none());
    }

    #[test]
    fn a_read_only_mount_is_read_only_in_the_pod() {
        let mut spec = container();
        spec.volumes.push(VolumeMount {
            volume: "reference".to_owned(),
            mount_path: "/workspace/reference".to_owned(),
            read_only: true,
        });
        let deployment = deployment(&spec, true);
        let pod = deployment.spec.unwrap().template.spec.unwrap();
        let mounts = pod.containers[0].volume_mounts.clone().unwrap_or_default();
        let read_only = |path: &str| {
            mounts
                .iter()
                .find(|m| m.mount_path == path)
                .map(|m| m.read_only)
        };
        assert_eq!(read_only("/workspace/reference"), Some(Some(true)));
        assert_eq!(read_only("/workspace/data"), Some(None), "read-write");
    }

    #[test]
    fn pods_and_namespaces_lead_back_to_workloads() {
        let project = ProjectId::generate();
        assert_eq!(
            project_of_namespace(&namespace_name(project)),
            Some(project)
        );
        assert_eq!(project_of_namespace("kube-system"), None);
        assert_eq!(project_of_namespace("mlstack-xyz"), None);
        assert_eq!(
            workload_names_of_pod("train-a-7d9f8c6b5-x2k4q"),
            (Some("train-a"), Some("train-a-7d9f8c6b5"))
        );
        assert_eq!(workload_names_of_pod("eval-x2k4q"), (None, Some("eval")));
        assert_eq!(workload_names_of_pod("single"), (None, None));
    }
}
