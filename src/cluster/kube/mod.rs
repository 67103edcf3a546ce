//! The Kubernetes driver (kube-rs over rustls). Objects come from the pure
//! builders in `manifests`; statuses from the pure mapping in `status`.
//!
//! Watches (kube's runtime watcher, with its back-off) keep an in-memory
//! picture of everything labelled as ours: Deployments, Jobs, pods,
//! Services, and the metadata of Secrets (never their data), indexed by
//! workload id. Only objects with our label are asked for; the RBAC the
//! driver needs is `packaging/kubernetes/rbac.yaml`. Status, the workload
//! inventory and "is this already applied?" read that picture, so a resync
//! of unchanged workloads costs no request; status changes are broadcast to
//! subscribers as the watch events arrive. Every request to the API server
//! is bounded by the configured request timeout.

pub mod manifests;
pub mod status;
mod terminal;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Debug;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::{AsyncBufReadExt, StreamExt, TryStreamExt};
use jiff::Timestamp;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    Event as KubeEvent, Namespace, Node, PersistentVolumeClaim, Pod, Secret, Service,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::api::{DeleteParams, ListParams, LogParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::{PartialObjectMeta, PartialObjectMetaExt};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use self::manifests::{
    BuildSettings, CommitSource, KIND_LABEL, MAIN_CONTAINER, MANAGED_SELECTOR, PROJECT_LABEL,
    WORKLOAD_LABEL,
};
use super::proxy::{Forwarder, proxy_response};
use super::{
    Capacity, Driver, DriverError, DriverEvent, Endpoint, GpuCapacity, Health, LogStream,
    NodeCapacity, Observed, ProjectSpec, ProxyRequest, ProxyResponse, TerminalSession,
    TerminalSize, VolumeState, WorkloadEvent, WorkloadKind,
};
use crate::domain::ids::{ProjectId, UserId};
use crate::domain::image::is_custom_target;
use crate::domain::workload::{
    ContainerSpec, ImageCommitSpec, JobSpec, VolumeSpec, WorkloadId, WorkloadStatus,
    is_workload_name,
};

/// Settings of the kube driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeConfig {
    /// A kubeconfig file; None: the in-cluster service account.
    pub kubeconfig: Option<PathBuf>,
    /// A context of the kubeconfig other than its current one.
    pub context: Option<String>,
    /// The longest any request to the API server may take.
    pub request_timeout: Duration,
    /// How long finished Jobs stay before Kubernetes deletes them.
    pub job_ttl: Duration,
    /// The image that commits containers (None: commits are off).
    pub committer_image: Option<String>,
    /// Where committed images are pushed (None: commits are off).
    pub registry: Option<String>,
    /// The commit job's CPU (thousandths) and memory (MiB), requested and
    /// limited: a project quota refuses a pod that does not declare them.
    pub committer_cpu_milli: u64,
    pub committer_ram_mib: u64,
    /// The host put in service links (None: the node's InternalIP).
    pub node_host: Option<String>,
    /// How mlstack's proxy reaches containers' HTTP services.
    pub service_access: ServiceAccess,
}

/// How the service proxy reaches a container's HTTP service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ServiceAccess {
    /// Through the API server's Service proxy subresource, with the
    /// driver's credentials (works from anywhere the API server is).
    #[default]
    ApiServer,
    /// Straight to the Service's cluster IP and port (mlstack runs inside
    /// the cluster): no API server on the way, bodies stream both ways.
    ClusterAddress,
}

/// The field manager of our server-side applies.
const FIELD_MANAGER: &str = "mlstack";

/// What a user may need the driver to do, checked by `health`.
const NEEDED_PERMISSIONS: [(&str, &str, &str); 10] = [
    ("create", "", "namespaces"),
    ("create", "", "resourcequotas"),
    ("create", "apps", "deployments"),
    ("create", "batch", "jobs"),
    ("create", "", "services"),
    ("create", "", "secrets"),
    ("create", "", "persistentvolumeclaims"),
    ("create", "", "serviceaccounts"),
    ("watch", "", "pods"),
    ("list", "", "nodes"),
];

/// The kube driver; cheap to clone.
#[derive(Clone)]
pub struct KubeDriver {
    inner: Arc<Inner>,
}

impl Debug for KubeDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeDriver")
            .field("cluster", &self.inner.cluster_url)
            .finish_non_exhaustive()
    }
}

struct Inner {
    client: Client,
    cluster_url: String,
    config: KubeConfig,
    build: BuildSettings,
    cache: Mutex<Cache>,
    events: broadcast::Sender<DriverEvent>,
    /// Namespaces and service accounts applied by this process.
    provisioned: Mutex<HashSet<String>>,
    watches: Mutex<Vec<JoinHandle<()>>>,
    /// Sends proxied requests to Services' cluster addresses.
    forwarder: Forwarder,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for watch in self
            .watches
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            watch.abort();
        }
    }
}

/// Our objects of one workload, as the watches last saw them.
#[derive(Default)]
struct Objects {
    namespace: String,
    deployment: Option<Arc<Deployment>>,
    job: Option<Arc<Job>>,
    pods: BTreeMap<String, Arc<Pod>>,
    service: Option<Arc<Service>>,
    /// The SSH Secret's metadata: its spec hash is all the driver reads.
    secret: Option<Arc<PartialObjectMeta<Secret>>>,
}

impl Objects {
    fn is_empty(&self) -> bool {
        self.deployment.is_none()
            && self.job.is_none()
            && self.pods.is_empty()
            && self.service.is_none()
            && self.secret.is_none()
    }

    fn kind(&self) -> Option<WorkloadKind> {
        if self.deployment.is_some() {
            return Some(WorkloadKind::Container);
        }
        self.job.as_ref().map(|job| job_kind(&job.metadata))
    }

    fn status(&self) -> Option<WorkloadStatus> {
        let pods = self.pods.values().map(Arc::as_ref);
        if let Some(deployment) = &self.deployment {
            return Some(status::container_status(deployment, pods));
        }
        self.job.as_ref().map(|job| status::job_status(job, pods))
    }
}

/// The kinds the watches follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Watched {
    Deployment,
    Job,
    Pod,
    Service,
    Secret,
}

#[derive(Default)]
struct Cache {
    workloads: HashMap<WorkloadId, Objects>,
    /// Kinds whose first full list has arrived.
    synced: HashSet<Watched>,
    /// The status last told to subscribers.
    told: HashMap<WorkloadId, WorkloadStatus>,
}

/// An object the watches keep in the cache.
trait Tracked:
    Resource<Scope = NamespaceResourceScope, DynamicType = ()>
    + Clone
    + Debug
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    const WATCHED: Watched;
    fn slot(objects: &mut Objects, name: &str, value: Option<Arc<Self>>);
}

macro_rules! tracked_single {
    ($kind:ty, $watched:ident, $field:ident) => {
        impl Tracked for $kind {
            const WATCHED: Watched = Watched::$watched;
            fn slot(objects: &mut Objects, _name: &str, value: Option<Arc<Self>>) {
                objects.$field = value;
            }
        }
    };
}

tracked_single!(Deployment, Deployment, deployment);
tracked_single!(Job, Job, job);
tracked_single!(Service, Service, service);
tracked_single!(PartialObjectMeta<Secret>, Secret, secret);

impl Tracked for Pod {
    const WATCHED: Watched = Watched::Pod;
    fn slot(objects: &mut Objects, name: &str, value: Option<Arc<Self>>) {
        match value {
            Some(pod) => {
                objects.pods.insert(name.to_owned(), pod);
            }
            None => {
                objects.pods.remove(name);
            }
        }
    }
}

/// A Job is a job's, or an image commit's (by its kind label).
fn job_kind(meta: &ObjectMeta) -> WorkloadKind {
    let label = meta.labels.as_ref().and_then(|l| l.get(KIND_LABEL));
    if label.map(String::as_str) == Some("image-commit") {
        WorkloadKind::ImageCommit
    } else {
        WorkloadKind::Job
    }
}

fn workload_of(meta: &ObjectMeta) -> Option<WorkloadId> {
    meta.labels.as_ref()?.get(WORKLOAD_LABEL)?.parse().ok()
}

/// What a kube-rs error means for the product.
fn driver_error(error: kube::Error) -> DriverError {
    match error {
        kube::Error::Api(status) => match status.code {
            401 => {
                DriverError::Forbidden(format!("the credentials were refused: {}", status.message))
            }
            403 => DriverError::Forbidden(status.message),
            404 => DriverError::NotFound {
                what: status.message,
            },
            409 => DriverError::Conflict(status.message),
            400 | 422 => DriverError::Rejected(status.message),
            code => DriverError::Unreachable(format!(
                "the API server answered {code}: {}",
                status.message
            )),
        },
        kube::Error::SerdeError(e) => {
            DriverError::Rejected(format!("an answer could not be read: {e}"))
        }
        other => DriverError::Unreachable(other.to_string()),
    }
}

impl KubeDriver {
    /// A container of a custom image (`custom/<code>/<name>`) pulls it from
    /// the registry its commit pushed it to: the spec with the registry in
    /// front of its image name (None: any other image, as it is).
    fn pulled_from_registry(
        &self,
        spec: &ContainerSpec,
    ) -> Result<Option<ContainerSpec>, DriverError> {
        if !is_custom_target(&spec.image) {
            return Ok(None);
        }
        let Some(registry) = &self.inner.build.registry else {
            return Err(DriverError::Unsupported {
                driver: "kube",
                what: "custom images without a registry configured",
            });
        };
        let mut pulled = spec.clone();
        pulled.image.name = format!("{}/{}", registry.trim_end_matches('/'), spec.image.name);
        Ok(Some(pulled))
    }

    /// Connects through the configured kubeconfig (or in-cluster config)
    /// and starts the watches. Answers even when the cluster is down: the
    /// watches keep trying, and `health` tells what is wrong.
    pub async fn connect(config: KubeConfig) -> Result<Self, DriverError> {
        let mut client_config = match &config.kubeconfig {
            Some(path) => {
                let kubeconfig = Kubeconfig::read_from(path).map_err(|e| {
                    DriverError::Unreachable(format!("reading {}: {e}", path.display()))
                })?;
                let options = KubeConfigOptions {
                    context: config.context.clone(),
                    ..KubeConfigOptions::default()
                };
                kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                    .await
                    .map_err(|e| {
                        DriverError::Unreachable(format!("using {}: {e}", path.display()))
                    })?
            }
            None => kube::Config::incluster()
                .map_err(|e| DriverError::Unreachable(format!("in-cluster configuration: {e}")))?,
        };
        client_config.connect_timeout = Some(config.request_timeout);
        let cluster_url = client_config.cluster_url.to_string();
        let client = Client::try_from(client_config)
            .map_err(|e| DriverError::Unreachable(format!("building the client: {e}")))?;
        let build = BuildSettings {
            job_ttl_secs: i32::try_from(config.job_ttl.as_secs()).unwrap_or(i32::MAX),
            committer_image: config.committer_image.clone(),
            registry: config.registry.clone(),
            committer_cpu_milli: config.committer_cpu_milli,
            committer_ram_mib: config.committer_ram_mib,
        };
        let (events, _) = broadcast::channel(4096);
        let driver = KubeDriver {
            inner: Arc::new(Inner {
                client,
                cluster_url,
                config,
                build,
                cache: Mutex::new(Cache::default()),
                events,
                provisioned: Mutex::new(HashSet::new()),
                watches: Mutex::new(Vec::new()),
                forwarder: Forwarder::new(),
            }),
        };
        let watches = vec![
            driver.watch::<Deployment>(),
            driver.watch::<Job>(),
            driver.watch::<Pod>(),
            driver.watch::<Service>(),
            driver.watch::<PartialObjectMeta<Secret>>(),
        ];
        *driver
            .inner
            .watches
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = watches;
        Ok(driver)
    }

    /// Whether every watch has its first full list (tests wait for it).
    pub fn is_synced(&self) -> bool {
        self.inner.cache().synced.len() == 5
    }

    /// Follows our objects of one kind across all namespaces; the watcher
    /// re-lists after a cut stream or an outage, with back-off.
    /// A `PartialObjectMeta<K>` kind is watched as metadata only (kube-rs
    /// asks for `PartialObjectMetadata`).
    fn watch<K: Tracked>(&self) -> JoinHandle<()> {
        let weak = Arc::downgrade(&self.inner);
        let api: Api<K> = Api::all(self.inner.client.clone());
        let config = watcher::Config::default().labels(MANAGED_SELECTOR);
        tokio::spawn(async move {
            let mut stream = watcher(api, config).default_backoff().boxed();
            let mut buffer: Vec<K> = Vec::new();
            while let Some(event) = stream.next().await {
                let Some(inner) = weak.upgrade() else {
                    return;
                };
                match event {
                    Ok(watcher::Event::Apply(object)) => inner.track(object, false),
                    Ok(watcher::Event::Delete(object)) => inner.track(object, true),
                    Ok(watcher::Event::Init) => buffer.clear(),
                    Ok(watcher::Event::InitApply(object)) => buffer.push(object),
                    Ok(watcher::Event::InitDone) => inner.replace_all(std::mem::take(&mut buffer)),
                    Err(error) => {
                        tracing::warn!(kind = %K::kind(&()), %error, "watch failed; retrying")
                    }
                }
            }
        })
    }

    /// Calls the API server, bounded by the request timeout; the API
    /// server's own answer is left to the caller.
    async fn bounded<T>(
        &self,
        request: impl Future<Output = Result<T, kube::Error>>,
    ) -> Result<Result<T, kube::Error>, DriverError> {
        tokio::time::timeout(self.inner.config.request_timeout, request)
            .await
            .map_err(|_| DriverError::Timeout)
    }

    /// Calls the API server, bounded by the request timeout.
    async fn call<T>(
        &self,
        request: impl Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, DriverError> {
        self.bounded(request).await?.map_err(driver_error)
    }

    fn api<K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>>(
        &self,
        namespace: &str,
    ) -> Api<K> {
        Api::namespaced(self.inner.client.clone(), namespace)
    }

    /// Server-side apply of a namespaced object we built.
    async fn apply<K>(&self, object: &K) -> Result<K, DriverError>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
        K: Clone + Debug + Serialize + DeserializeOwned,
    {
        let meta = object.meta();
        let (Some(namespace), Some(name)) = (meta.namespace.clone(), meta.name.clone()) else {
            return Err(DriverError::Rejected(format!(
                "a {} without a name",
                K::kind(&())
            )));
        };
        let params = PatchParams::apply(FIELD_MANAGER).force();
        self.call(
            self.api::<K>(&namespace)
                .patch(&name, &params, &Patch::Apply(object)),
        )
        .await
    }

    async fn delete<K>(&self, namespace: &str, name: &str) -> Result<(), DriverError>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
        K: Clone + Debug + DeserializeOwned,
    {
        let api = self.api::<K>(namespace);
        match self
            .bounded(api.delete(name, &DeleteParams::background()))
            .await?
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(e) => Err(driver_error(e)),
        }
    }

    /// Creates the project's namespace if it is missing, once per process;
    /// `provision_project` applies it with its name and quota. A create, not
    /// an apply: an apply without the annotation would take it away.
    async fn ensure_namespace(&self, project: ProjectId) -> Result<(), DriverError> {
        let name = manifests::namespace_name(project);
        if self.inner.is_provisioned(&name) {
            return Ok(());
        }
        let api: Api<Namespace> = Api::all(self.inner.client.clone());
        let namespace = manifests::namespace(project, None);
        match self
            .bounded(api.create(&PostParams::default(), &namespace))
            .await?
        {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(e) => return Err(driver_error(e)),
        }
        self.inner.mark_provisioned(name);
        Ok(())
    }

    /// The project's namespace with its name, by server-side apply.
    async fn apply_namespace(&self, project: &ProjectSpec) -> Result<(), DriverError> {
        let namespace = manifests::namespace(project.id, Some(&project.name));
        let api: Api<Namespace> = Api::all(self.inner.client.clone());
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let name = manifests::namespace_name(project.id);
        self.call(api.patch(&name, &params, &Patch::Apply(&namespace)))
            .await
            .map(|_| ())
    }

    async fn ensure_member(&self, project: ProjectId, user: UserId) -> Result<(), DriverError> {
        let key = format!(
            "{}/{}",
            manifests::namespace_name(project),
            manifests::member_account_name(user)
        );
        if self.inner.is_provisioned(&key) {
            return Ok(());
        }
        self.ensure_namespace(project).await?;
        self.apply(&manifests::member_account(project, user))
            .await?;
        self.inner.mark_provisioned(key);
        Ok(())
    }

    /// Where a workload's objects live, from the cache or (before the
    /// watches caught up) from the API server.
    async fn locate(
        &self,
        id: WorkloadId,
    ) -> Result<Option<(String, WorkloadKind, String)>, DriverError> {
        if let Some(found) = self.inner.cache().locate(id) {
            return Ok(Some(found));
        }
        let selector = format!("{WORKLOAD_LABEL}={id}");
        let params = ListParams::default().labels(&selector);
        let deployments = self
            .call(Api::<Deployment>::all(self.inner.client.clone()).list(&params))
            .await?;
        if let Some(d) = deployments.items.first() {
            return Ok(Some((
                d.metadata.namespace.clone().unwrap_or_default(),
                WorkloadKind::Container,
                d.metadata.name.clone().unwrap_or_default(),
            )));
        }
        let jobs = self
            .call(Api::<Job>::all(self.inner.client.clone()).list(&params))
            .await?;
        Ok(jobs.items.into_iter().next().map(|j| {
            (
                j.metadata.namespace.clone().unwrap_or_default(),
                job_kind(&j.metadata),
                j.metadata.name.unwrap_or_default(),
            )
        }))
    }

    fn observed(&self, id: WorkloadId) -> Option<Observed> {
        let cache = self.inner.cache();
        let objects = cache.workloads.get(&id)?;
        let status = objects.status()?;
        let pod = status::current_pod(objects.pods.values().map(Arc::as_ref));
        let endpoints = if status == WorkloadStatus::Running {
            self.endpoints(objects, pod)
        } else {
            Vec::new()
        };
        let (started_at, finished_at) = match &objects.job {
            Some(job) => status::job_times(job),
            None => (pod.and_then(status::pod_started), None),
        };
        Some(Observed {
            id,
            status,
            endpoints,
            gpus: Vec::new(),
            started_at,
            finished_at,
        })
    }

    /// Links to a running container's services: the node's address and the
    /// NodePort of each port.
    fn endpoints(&self, objects: &Objects, pod: Option<&Pod>) -> Vec<Endpoint> {
        let Some(service) = &objects.service else {
            return Vec::new();
        };
        let host = self.inner.config.node_host.clone().or_else(|| {
            pod.and_then(|p| p.status.as_ref())
                .and_then(|s| s.host_ip.clone())
        });
        let Some(host) = host else {
            return Vec::new();
        };
        service
            .spec
            .iter()
            .flat_map(|s| s.ports.iter().flatten())
            .filter_map(|port| {
                let node_port = u16::try_from(port.node_port?).ok()?;
                let scheme = port.app_protocol.as_deref().unwrap_or("tcp");
                let url = match scheme {
                    "http" | "https" => format!("{scheme}://{host}:{node_port}/"),
                    other => format!("{other}://{host}:{node_port}"),
                };
                Some(Endpoint {
                    service: port.name.clone().unwrap_or_default(),
                    host: host.clone(),
                    port: node_port,
                    url,
                    login: None,
                })
            })
            .collect()
    }

    fn observed_or_creating(&self, id: WorkloadId) -> Observed {
        self.observed(id).unwrap_or(Observed {
            id,
            status: WorkloadStatus::Creating,
            endpoints: Vec::new(),
            gpus: Vec::new(),
            started_at: None,
            finished_at: None,
        })
    }

    /// The pod whose log is the workload's.
    async fn log_pod(&self, id: WorkloadId) -> Result<Option<(String, String)>, DriverError> {
        if self.locate(id).await?.is_none() {
            return Err(DriverError::NotFound {
                what: format!("workload {id}"),
            });
        }
        let cache = self.inner.cache();
        Ok(cache.workloads.get(&id).and_then(|objects| {
            let pod = objects
                .pods
                .values()
                .max_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0))?;
            Some((objects.namespace.clone(), pod.metadata.name.clone()?))
        }))
    }
}

impl Inner {
    fn cache(&self) -> MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn is_provisioned(&self, key: &str) -> bool {
        self.provisioned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(key)
    }

    fn mark_provisioned(&self, key: String) {
        self.provisioned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key);
    }

    /// Takes one watched (or just applied) object into the cache.
    fn track<K: Tracked>(&self, object: K, deleted: bool) {
        let Some(id) = workload_of(object.meta()) else {
            return;
        };
        let name = object.meta().name.clone().unwrap_or_default();
        let namespace = object.meta().namespace.clone().unwrap_or_default();
        let mut cache = self.cache();
        let objects = cache.workloads.entry(id).or_default();
        objects.namespace = namespace;
        K::slot(objects, &name, (!deleted).then(|| Arc::new(object)));
        self.tell(&mut cache, id);
    }

    /// Replaces every object of one kind after a full list: whatever is not
    /// in it was deleted while the watch was away.
    fn replace_all<K: Tracked>(&self, objects: Vec<K>) {
        let mut cache = self.cache();
        let mut touched: HashSet<WorkloadId> = HashSet::new();
        for (id, entry) in cache.workloads.iter_mut() {
            let names: Vec<String> = match K::WATCHED {
                Watched::Pod => entry.pods.keys().cloned().collect(),
                _ => vec![String::new()],
            };
            for name in names {
                K::slot(entry, &name, None);
            }
            touched.insert(*id);
        }
        for object in objects {
            let Some(id) = workload_of(object.meta()) else {
                continue;
            };
            let name = object.meta().name.clone().unwrap_or_default();
            let entry = cache.workloads.entry(id).or_default();
            entry.namespace = object.meta().namespace.clone().unwrap_or_default();
            K::slot(entry, &name, Some(Arc::new(object)));
            touched.insert(id);
        }
        cache.synced.insert(K::WATCHED);
        for id in touched {
            self.tell(&mut cache, id);
        }
    }

    /// Tells subscribers when a workload's status changed; forgets
    /// workloads with nothing left.
    fn tell(&self, cache: &mut Cache, id: WorkloadId) {
        let Some(objects) = cache.workloads.get(&id) else {
            return;
        };
        if objects.is_empty() {
            cache.workloads.remove(&id);
            cache.told.remove(&id);
            return;
        }
        let Some(status) = objects.status() else {
            return;
        };
        if cache.told.get(&id) == Some(&status) {
            return;
        }
        cache.told.insert(id, status.clone());
        let message = match &status {
            WorkloadStatus::Failed { reason } => reason.to_string(),
            other => other.code().to_owned(),
        };
        let _ = self.events.send(DriverEvent {
            workload: id,
            status,
            at: Timestamp::now(),
            message,
        });
    }
}

impl Cache {
    fn locate(&self, id: WorkloadId) -> Option<(String, WorkloadKind, String)> {
        let objects = self.workloads.get(&id)?;
        let kind = objects.kind()?;
        let name = match kind {
            WorkloadKind::Container => objects.deployment.as_ref()?.metadata.name.clone()?,
            _ => objects.job.as_ref()?.metadata.name.clone()?,
        };
        Some((objects.namespace.clone(), kind, name))
    }
}

/// Whether the cache holds an object with this spec hash.
fn same_hash(cached: Option<&Arc<impl Tracked>>, built: &ObjectMeta) -> bool {
    match (cached, manifests::spec_hash(built)) {
        (Some(cached), Some(hash)) => manifests::spec_hash(cached.meta()) == Some(hash),
        _ => false,
    }
}

impl Driver for KubeDriver {
    fn name(&self) -> &'static str {
        "kube"
    }

    async fn health(&self) -> Result<Health, DriverError> {
        let version = match self.call(self.inner.client.apiserver_version()).await {
            Ok(version) => version,
            Err(e) => {
                return Ok(Health {
                    driver: "kube",
                    ok: false,
                    message: format!("{} does not answer: {e}", self.inner.cluster_url),
                });
            }
        };
        let api: Api<SelfSubjectAccessReview> = Api::all(self.inner.client.clone());
        let mut missing = Vec::new();
        for (verb, group, resource) in NEEDED_PERMISSIONS {
            let review = SelfSubjectAccessReview {
                spec: SelfSubjectAccessReviewSpec {
                    resource_attributes: Some(ResourceAttributes {
                        verb: Some(verb.to_owned()),
                        group: Some(group.to_owned()),
                        resource: Some(resource.to_owned()),
                        ..ResourceAttributes::default()
                    }),
                    ..SelfSubjectAccessReviewSpec::default()
                },
                ..SelfSubjectAccessReview::default()
            };
            let answer = self
                .call(api.create(&PostParams::default(), &review))
                .await?;
            if !answer.status.is_some_and(|s| s.allowed) {
                missing.push(format!("{verb} {resource}"));
            }
        }
        let ok = missing.is_empty();
        let message = if ok {
            format!(
                "Kubernetes {}.{} at {} answers; the credentials may do everything mlstack needs",
                version.major, version.minor, self.inner.cluster_url
            )
        } else {
            format!(
                "Kubernetes {}.{} at {} answers, but the credentials may not: {}",
                version.major,
                version.minor,
                self.inner.cluster_url,
                missing.join(", ")
            )
        };
        Ok(Health {
            driver: "kube",
            ok,
            message,
        })
    }

    async fn capacity(&self) -> Result<Capacity, DriverError> {
        let nodes = self
            .call(Api::<Node>::all(self.inner.client.clone()).list(&ListParams::default()))
            .await?;
        let pods = self
            .call(Api::<Pod>::all(self.inner.client.clone()).list(&ListParams::default()))
            .await?;
        Ok(capacity_of(&nodes.items, &pods.items))
    }

    async fn provision_project(&self, project: &ProjectSpec) -> Result<(), DriverError> {
        self.apply_namespace(project).await?;
        let namespace = manifests::namespace_name(project.id);
        self.apply(&manifests::resource_quota(project)).await?;
        self.inner.mark_provisioned(namespace);
        Ok(())
    }

    async fn provision_member(
        &self,
        project: &ProjectSpec,
        user: UserId,
    ) -> Result<(), DriverError> {
        self.ensure_member(project.id, user).await
    }

    async fn release_project(&self, project: ProjectId) -> Result<(), DriverError> {
        let name = manifests::namespace_name(project);
        let api: Api<Namespace> = Api::all(self.inner.client.clone());
        match self
            .bounded(api.delete(&name, &DeleteParams::background()))
            .await?
        {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(e) => return Err(driver_error(e)),
        }
        // The namespace and its service accounts are provisioned again if
        // ever needed.
        self.inner
            .provisioned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|key| key != &name && !key.starts_with(&format!("{name}/")));
        Ok(())
    }

    async fn apply_container(&self, spec: &ContainerSpec) -> Result<Observed, DriverError> {
        spec.validate().map_err(DriverError::Invalid)?;
        let id = spec.meta.id;
        let pulled = self.pulled_from_registry(spec)?;
        let deployment = manifests::deployment(pulled.as_ref().unwrap_or(spec), true);
        let service = manifests::container_service(spec);
        let secret = manifests::ssh_secret(spec);
        // What already stands as built costs no request.
        let (deployment_ok, service_ok, secret_ok, stale_service, stale_secret) = {
            let cache = self.inner.cache();
            let objects = cache.workloads.get(&id);
            let deployment_ok = objects.is_some_and(|o| {
                same_hash(o.deployment.as_ref(), &deployment.metadata)
                    && o.deployment
                        .as_ref()
                        .and_then(|d| d.spec.as_ref())
                        .and_then(|s| s.replicas)
                        == Some(1)
            });
            let cached_service = objects.and_then(|o| o.service.as_ref());
            let cached_secret = objects.and_then(|o| o.secret.as_ref());
            (
                deployment_ok,
                service
                    .as_ref()
                    .is_none_or(|s| same_hash(cached_service, &s.metadata)),
                secret
                    .as_ref()
                    .is_none_or(|s| same_hash(cached_secret, &s.metadata)),
                service.is_none() && cached_service.is_some(),
                secret.is_none() && cached_secret.is_some(),
            )
        };
        if deployment_ok && service_ok && secret_ok && !stale_service && !stale_secret {
            return Ok(self.observed_or_creating(id));
        }
        self.ensure_member(spec.meta.project, spec.meta.owner)
            .await?;
        let namespace = manifests::namespace_name(spec.meta.project);
        let applied = self.apply(&deployment).await?;
        let owner = manifests::owner_reference::<Deployment>(&applied.metadata);
        self.inner.track(applied, false);
        if !secret_ok && let Some(secret) = secret {
            let applied = self
                .apply(&manifests::owned_by(secret, owner.clone()))
                .await?;
            self.inner
                .track(applied.metadata.into_response_partial::<Secret>(), false);
        }
        if stale_secret {
            self.delete::<Secret>(&namespace, &manifests::ssh_secret_name(&spec.meta.name))
                .await?;
        }
        if !service_ok && let Some(service) = service {
            let applied = self.apply(&manifests::owned_by(service, owner)).await?;
            self.inner.track(applied, false);
        }
        if stale_service {
            self.delete::<Service>(&namespace, &spec.meta.name).await?;
        }
        Ok(self.observed_or_creating(id))
    }

    async fn stop_container(&self, id: WorkloadId) -> Result<(), DriverError> {
        let Some((namespace, WorkloadKind::Container, name)) = self.locate(id).await? else {
            return Err(DriverError::NotFound {
                what: format!("container {id}"),
            });
        };
        let patch = serde_json::json!({"spec": {"replicas": 0}});
        let stopped = self
            .call(self.api::<Deployment>(&namespace).patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(&patch),
            ))
            .await?;
        self.inner.track(stopped, false);
        Ok(())
    }

    async fn delete_container(&self, id: WorkloadId) -> Result<(), DriverError> {
        // Its Service, Secret and pods go with it (owner references).
        match self.locate(id).await? {
            Some((namespace, WorkloadKind::Container, name)) => {
                self.delete::<Deployment>(&namespace, &name).await
            }
            _ => Ok(()),
        }
    }

    async fn apply_job(&self, spec: &JobSpec) -> Result<Observed, DriverError> {
        spec.validate().map_err(DriverError::Invalid)?;
        let id = spec.meta.id;
        if self.locate(id).await?.is_some() {
            return Ok(self.observed_or_creating(id));
        }
        self.ensure_member(spec.meta.project, spec.meta.owner)
            .await?;
        let applied = self.apply(&manifests::job(spec, &self.inner.build)).await?;
        self.inner.track(applied, false);
        Ok(self.observed_or_creating(id))
    }

    async fn cancel_job(&self, id: WorkloadId) -> Result<(), DriverError> {
        let Some((namespace, WorkloadKind::Job | WorkloadKind::ImageCommit, name)) =
            self.locate(id).await?
        else {
            return Err(DriverError::NotFound {
                what: format!("job {id}"),
            });
        };
        if self.observed(id).is_some_and(|o| o.status.is_terminal()) {
            return Ok(());
        }
        // A suspended Job's pods are deleted; the Job (and what it
        // observed) stays until it is deleted.
        let patch = serde_json::json!({"spec": {"suspend": true}});
        let suspended = self
            .call(self.api::<Job>(&namespace).patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(&patch),
            ))
            .await?;
        self.inner.track(suspended, false);
        Ok(())
    }

    async fn delete_job(&self, id: WorkloadId) -> Result<(), DriverError> {
        match self.locate(id).await? {
            Some((namespace, WorkloadKind::Job | WorkloadKind::ImageCommit, name)) => {
                self.delete::<Job>(&namespace, &name).await
            }
            _ => Ok(()),
        }
    }

    async fn logs(&self, id: WorkloadId, tail_lines: usize) -> Result<String, DriverError> {
        let Some((namespace, pod)) = self.log_pod(id).await? else {
            return Ok(String::new());
        };
        let params = LogParams {
            container: Some(MAIN_CONTAINER.to_owned()),
            tail_lines: Some(i64::try_from(tail_lines).unwrap_or(i64::MAX)),
            ..LogParams::default()
        };
        match self
            .bounded(self.api::<Pod>(&namespace).logs(&pod, &params))
            .await?
        {
            Ok(text) => Ok(text),
            // A pod still pulling its image has no log yet.
            Err(kube::Error::Api(status)) if status.code == 400 => Ok(String::new()),
            Err(e) => Err(driver_error(e)),
        }
    }

    async fn follow_logs(&self, id: WorkloadId) -> Result<LogStream, DriverError> {
        let Some((namespace, pod)) = self.log_pod(id).await? else {
            return Ok(Box::pin(futures_util::stream::empty()));
        };
        let params = LogParams {
            container: Some(MAIN_CONTAINER.to_owned()),
            follow: true,
            ..LogParams::default()
        };
        let reader = self
            .call(self.api::<Pod>(&namespace).log_stream(&pod, &params))
            .await?;
        Ok(Box::pin(reader.lines().map_ok(|line| line + "\n").map_err(
            |e| DriverError::Unreachable(format!("reading the log: {e}")),
        )))
    }

    async fn events(&self, id: WorkloadId) -> Result<Vec<WorkloadEvent>, DriverError> {
        let Some((namespace, _, _)) = self.locate(id).await? else {
            return Err(DriverError::NotFound {
                what: format!("workload {id}"),
            });
        };
        let uids: HashSet<String> = {
            let cache = self.inner.cache();
            cache
                .workloads
                .get(&id)
                .map(|o| {
                    let metas = o
                        .deployment
                        .iter()
                        .map(|d| &d.metadata)
                        .chain(o.job.iter().map(|j| &j.metadata))
                        .chain(o.service.iter().map(|s| &s.metadata))
                        .chain(o.pods.values().map(|p| &p.metadata));
                    metas.filter_map(|m| m.uid.clone()).collect()
                })
                .unwrap_or_default()
        };
        let list = self
            .call(
                self.api::<KubeEvent>(&namespace)
                    .list(&ListParams::default()),
            )
            .await?;
        let mut events: Vec<WorkloadEvent> = list
            .items
            .into_iter()
            .filter(|e| {
                e.involved_object
                    .uid
                    .as_ref()
                    .is_some_and(|u| uids.contains(u))
            })
            .map(|e| WorkloadEvent {
                at: e
                    .last_timestamp
                    .as_ref()
                    .or(e.first_timestamp.as_ref())
                    .map(|t| t.0)
                    .or(e.event_time.as_ref().map(|t| t.0))
                    .or(e.metadata.creation_timestamp.as_ref().map(|t| t.0))
                    .unwrap_or(Timestamp::UNIX_EPOCH),
                warning: e.type_.as_deref() == Some("Warning"),
                reason: e.reason.unwrap_or_default(),
                message: e.message.unwrap_or_default(),
            })
            .collect();
        events.sort_by_key(|e| e.at);
        Ok(events)
    }

    async fn workloads(&self) -> Result<Vec<(WorkloadId, WorkloadKind)>, DriverError> {
        let cache = self.inner.cache();
        if !cache.synced.contains(&Watched::Deployment) || !cache.synced.contains(&Watched::Job) {
            return Err(DriverError::Unreachable(
                "the watches have not listed the cluster yet".to_owned(),
            ));
        }
        Ok(cache
            .workloads
            .iter()
            .filter_map(|(id, objects)| objects.kind().map(|kind| (*id, kind)))
            .collect())
    }

    async fn volumes(&self) -> Result<Vec<(ProjectId, String)>, DriverError> {
        let params =
            ListParams::default().labels(&format!("{MANAGED_SELECTOR},{KIND_LABEL}=volume"));
        let claims = self
            .call(Api::<PersistentVolumeClaim>::all(self.inner.client.clone()).list(&params))
            .await?;
        Ok(claims
            .items
            .into_iter()
            .filter_map(|claim| {
                let project = claim
                    .metadata
                    .labels
                    .as_ref()?
                    .get(PROJECT_LABEL)?
                    .parse()
                    .ok()?;
                Some((project, claim.metadata.name?))
            })
            .collect())
    }

    /// Ready once applied: a clone's copy is the CSI driver's, and a pod
    /// that mounts it waits until the claim is bound.
    async fn ensure_volume(&self, spec: &VolumeSpec) -> Result<VolumeState, DriverError> {
        spec.validate().map_err(DriverError::Invalid)?;
        self.ensure_namespace(spec.project).await?;
        self.apply(&manifests::persistent_volume_claim(spec))
            .await
            .map(|_| VolumeState::Ready)
    }

    async fn delete_volume(&self, project: ProjectId, name: &str) -> Result<(), DriverError> {
        if !is_workload_name(name) {
            return Err(DriverError::NotFound {
                what: format!("volume {name:?}"),
            });
        }
        let namespace = manifests::namespace_name(project);
        let user = {
            let cache = self.inner.cache();
            cache
                .workloads
                .values()
                .filter(|o| o.namespace == namespace)
                .find(|o| {
                    o.pods.values().any(|pod| {
                        let live = !matches!(
                            pod.status.as_ref().and_then(|s| s.phase.as_deref()),
                            Some("Succeeded" | "Failed")
                        );
                        live && pod
                            .spec
                            .iter()
                            .flat_map(|s| s.volumes.iter().flatten())
                            .any(|v| {
                                v.persistent_volume_claim
                                    .as_ref()
                                    .is_some_and(|c| c.claim_name == name)
                            })
                    })
                })
                .and_then(|o| {
                    o.deployment
                        .as_ref()
                        .map(|d| &d.metadata)
                        .or(o.job.as_ref().map(|j| &j.metadata))
                        .and_then(|m| m.name.clone())
                })
        };
        if let Some(user) = user {
            return Err(DriverError::Conflict(format!(
                "the volume {name} is used by {user}"
            )));
        }
        self.delete::<PersistentVolumeClaim>(&namespace, name).await
    }

    async fn commit_image(&self, spec: &ImageCommitSpec) -> Result<Observed, DriverError> {
        spec.validate().map_err(DriverError::Invalid)?;
        if self.locate(spec.id).await?.is_some() {
            return Ok(self.observed_or_creating(spec.id));
        }
        let source = {
            let cache = self.inner.cache();
            cache.workloads.get(&spec.container).and_then(|objects| {
                let pod = status::current_pod(objects.pods.values().map(Arc::as_ref))?;
                let node = pod.spec.as_ref()?.node_name.clone()?;
                let container_id = pod
                    .status
                    .as_ref()?
                    .container_statuses
                    .iter()
                    .flatten()
                    .find(|c| c.name == MAIN_CONTAINER)?
                    .container_id
                    .clone()?;
                Some(CommitSource { node, container_id })
            })
        };
        let Some(source) = source else {
            return Err(DriverError::Conflict(format!(
                "the container {} is not running",
                spec.container
            )));
        };
        let Some(job) = manifests::commit_job(spec, &source, &self.inner.build) else {
            return Err(DriverError::Unsupported {
                driver: "kube",
                what: "committing images without a committer image and a registry configured",
            });
        };
        self.ensure_namespace(spec.project).await?;
        let applied = self.apply(&job).await?;
        self.inner.track(applied, false);
        Ok(self.observed_or_creating(spec.id))
    }

    async fn open_terminal(
        &self,
        spec: &ContainerSpec,
        size: TerminalSize,
    ) -> Result<TerminalSession, DriverError> {
        self.terminal(spec, size).await
    }

    async fn status(&self, id: WorkloadId) -> Result<Observed, DriverError> {
        if let Some(observed) = self.observed(id) {
            return Ok(observed);
        }
        match self.locate(id).await? {
            Some(_) => Ok(self.observed_or_creating(id)),
            None => Err(DriverError::NotFound {
                what: format!("workload {id}"),
            }),
        }
    }

    /// Through the API server's proxy subresource of the container's
    /// Service (`services/<name>:<port name>/proxy/...`, RBAC
    /// `services/proxy`), with the driver's own credentials. kube-rs sends
    /// only whole request bodies, so a request body is read first (at most
    /// [`PROXY_BODY_MAX`]); the answer streams.
    async fn proxy(
        &self,
        id: WorkloadId,
        service: &str,
        request: ProxyRequest,
    ) -> Result<ProxyResponse, DriverError> {
        let not_found = || DriverError::NotFound {
            what: format!("service {service} of a running container {id}"),
        };
        let (namespace, service_name) = {
            let cache = self.inner.cache();
            let objects = cache.workloads.get(&id).ok_or_else(not_found)?;
            let running =
                objects.deployment.is_some() && objects.status() == Some(WorkloadStatus::Running);
            let svc = objects
                .service
                .as_ref()
                .filter(|_| running)
                .ok_or_else(not_found)?;
            let has_port = svc
                .spec
                .iter()
                .flat_map(|s| s.ports.iter().flatten())
                .any(|port| port.name.as_deref() == Some(service));
            if !has_port {
                return Err(not_found());
            }
            (
                objects.namespace.clone(),
                svc.metadata.name.clone().ok_or_else(not_found)?,
            )
        };
        if self.inner.config.service_access == ServiceAccess::ClusterAddress {
            let addr = self.cluster_address(id, service).ok_or_else(not_found)?;
            return self.inner.forwarder.send(addr, request).await;
        }
        let mut body = Vec::new();
        let mut pieces = request
            .body
            .unwrap_or_else(|| futures_util::stream::empty().boxed());
        while let Some(piece) = pieces.next().await {
            let piece = piece.map_err(|e| DriverError::io("reading the request body", e))?;
            if body.len() + piece.len() > PROXY_BODY_MAX {
                return Err(DriverError::Unsupported {
                    driver: "kube",
                    what: "request bodies over 16 MiB through the API server's proxy",
                });
            }
            body.extend_from_slice(&piece);
        }
        let uri = format!(
            "/api/v1/namespaces/{namespace}/services/{service_name}:{service}/proxy{}",
            request.path_and_query
        );
        let mut outgoing = http::Request::builder()
            .method(request.method)
            .uri(uri)
            .body(kube::client::Body::from(body))
            .map_err(|e| DriverError::Rejected(format!("a proxied request: {e}")))?;
        *outgoing.headers_mut() = request.headers;
        // The API server's own host and credentials are the client's.
        outgoing.headers_mut().remove(http::header::HOST);
        outgoing.headers_mut().remove(http::header::AUTHORIZATION);
        let response = self
            .inner
            .client
            .send(outgoing)
            .await
            .map_err(driver_error)?;
        proxy_response(response).await
    }

    fn subscribe(&self) -> broadcast::Receiver<DriverEvent> {
        self.inner.events.subscribe()
    }
}

impl KubeDriver {
    /// The cluster IP and port of a container's service `service`.
    fn cluster_address(&self, id: WorkloadId, service: &str) -> Option<std::net::SocketAddr> {
        let cache = self.inner.cache();
        let svc = cache.workloads.get(&id)?.service.clone()?;
        let spec = svc.spec.as_ref()?;
        let ip: std::net::IpAddr = spec.cluster_ip.as_deref()?.parse().ok()?;
        let port = spec
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some(service))?;
        Some((ip, u16::try_from(port.port).ok()?).into())
    }
}

/// The largest request body sent through the API server's proxy.
const PROXY_BODY_MAX: usize = 16 * 1024 * 1024;

/// Resources of nodes that are not GPUs.
fn is_gpu_resource(name: &str) -> bool {
    !matches!(name, "cpu" | "memory" | "pods" | "ephemeral-storage")
        && !name.starts_with("hugepages-")
        && !name.starts_with("attachable-volumes-")
}

/// A quantity as a number of milli-units (CPU) or bytes (memory) or units.
fn parse_quantity(quantity: &str, milli: bool) -> u64 {
    const SUFFIXES: [(&str, f64); 12] = [
        ("Ki", 1024.0),
        ("Mi", 1048576.0),
        ("Gi", 1073741824.0),
        ("Ti", 1099511627776.0),
        ("Pi", 1125899906842624.0),
        ("m", 0.001),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    let (number, factor) = SUFFIXES
        .iter()
        .find_map(|(suffix, factor)| quantity.strip_suffix(suffix).map(|n| (n, *factor)))
        .unwrap_or((quantity, 1.0));
    let value = number.trim().parse::<f64>().unwrap_or(0.0) * factor;
    let value = if milli { value * 1000.0 } else { value };
    value.max(0.0).round() as u64
}

/// Nodes' allocatable CPU and memory, and GPUs by type, minus what the
/// pods that hold them request.
pub fn capacity_of(nodes: &[Node], pods: &[Pod]) -> Capacity {
    let mut used: HashMap<(String, String), u64> = HashMap::new();
    for pod in pods {
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        if matches!(phase, Some("Succeeded" | "Failed")) {
            continue;
        }
        let Some(spec) = &pod.spec else { continue };
        let Some(node) = &spec.node_name else {
            continue;
        };
        for container in &spec.containers {
            let resources = container.resources.as_ref();
            let amounts = resources
                .and_then(|r| r.requests.as_ref())
                .or(resources.and_then(|r| r.limits.as_ref()));
            for (name, quantity) in amounts.into_iter().flatten() {
                if is_gpu_resource(name) {
                    *used.entry((node.clone(), name.clone())).or_default() +=
                        parse_quantity(&quantity.0, false);
                }
            }
        }
    }
    let mut capacity = Capacity::default();
    for node in nodes {
        let name = node.metadata.name.clone().unwrap_or_default();
        let allocatable = node.status.as_ref().and_then(|s| s.allocatable.as_ref());
        let get = |key: &str| allocatable.and_then(|a| a.get(key)).map(|q| q.0.as_str());
        capacity.nodes.push(NodeCapacity {
            name: name.clone(),
            cpu_milli: get("cpu").map_or(0, |q| parse_quantity(q, true)),
            ram_mib: get("memory").map_or(0, |q| parse_quantity(q, false) / 1048576),
        });
        let product = node
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("nvidia.com/gpu.product"))
            .cloned();
        for (resource, quantity) in allocatable.into_iter().flatten() {
            if !is_gpu_resource(resource) {
                continue;
            }
            let total = u32::try_from(parse_quantity(&quantity.0, false)).unwrap_or(u32::MAX);
            if total == 0 {
                continue;
            }
            let taken = used
                .get(&(name.clone(), resource.clone()))
                .copied()
                .unwrap_or(0);
            let free = total.saturating_sub(u32::try_from(taken).unwrap_or(u32::MAX));
            let type_name = product.clone().unwrap_or_else(|| resource.clone());
            match capacity
                .gpus
                .iter_mut()
                .find(|g| g.type_name == type_name && &g.resource_name == resource)
            {
                Some(entry) => {
                    entry.total += total;
                    entry.free += free;
                }
                None => capacity.gpus.push(GpuCapacity {
                    type_name,
                    resource_name: resource.clone(),
                    total,
                    free,
                }),
            }
        }
    }
    capacity
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("32", true), 32_000);
        assert_eq!(parse_quantity("500m", true), 500);
        assert_eq!(parse_quantity("256Gi", false) / 1048576, 262_144);
        assert_eq!(parse_quantity("4", false), 4);
        assert_eq!(parse_quantity("1e3", false), 1000);
    }

    #[test]
    fn gpu_resources() {
        assert!(is_gpu_resource("nvidia.com/gpu"));
        assert!(is_gpu_resource("nvidia.com/mig-1g.10gb"));
        assert!(!is_gpu_resource("cpu"));
        assert!(!is_gpu_resource("hugepages-2Mi"));
    }
}
