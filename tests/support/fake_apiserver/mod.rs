//! A stateful fake Kubernetes API server for tests: plain HTTP on
//! 127.0.0.1, the REST protocol real clients speak (kube-rs, including its
//! watcher, and kubectl), and a loop that plays the cluster's controllers
//! and kubelet, so the kube driver's production code path runs without a
//! cluster.
//!
//! ```ignore
//! let fake = FakeApiServer::start();               // random port
//! fake.write_kubeconfig(&path)?;                   // or fake.client().await
//! // … drive the code under test …
//! let deployment: Option<Deployment> = fake.get("project-a", "web");
//! let pods: Vec<Pod> = fake.list(Some("project-a"), "app=web");
//! ```
//!
//! The test-facing API: [`FakeApiServer::builder`] (nodes, tick, token,
//! port, watch history, anonymous access), `url`, `port`, `token`,
//! `write_kubeconfig` / `kubeconfig_yaml` / `client` (a kube-rs client
//! made from that kubeconfig), typed and raw reads of what the fake holds
//! (`get`, `list`, `get_raw`, `list_raw`), `create` and `add_node` to set a
//! scene, the request log (`requests`), faults (`fail_next` with a
//! [`Fault`], `set_latency`, `forbid`, `clear_faults`, `cut_watches`,
//! `stop`, `start_again`), `shutdown` (or drop), and [`wait_for`] to poll
//! a condition for up to 20 s. Everything is thread-safe and usable while
//! the fake runs.
//!
//! The default node takes 110 pods, as a real one does: a test that runs
//! more adds nodes (`FakeNode::new("big").resource("pods", "2000")`).
//!
//! What it serves (`/api/v1` and `/apis/{apps,batch,authorization.k8s.io}/v1`):
//! namespaces, nodes, pods (and `pods/{name}/log`; `pods/{name}/exec` over
//! WebSocket with a TTY, backed by a real process under a pty: `exec.rs`),
//! services (and `services/{name}:{port}/proxy/…`, forwarded to one local
//! process: `route_services_to`), secrets,
//! configmaps, serviceaccounts, persistentvolumeclaims, events,
//! resourcequotas, deployments (and `/scale`), jobs; namespaces, nodes,
//! pods, services, PVCs, quotas, deployments and jobs also have `/status`.
//! Self-subject access and rules reviews are answered from
//! [`FakeApiServer::forbid`]. `/version` says v1.33.0; `/openapi/v3` only
//! tells kubectl that writes take `fieldValidation` (then `Strict` refuses
//! unknown fields with 400, as the real server does).
//!
//! Verbs: create, get, list (one namespace or all), update (409 on a stale
//! `resourceVersion`), patch (JSON patch; merge patch; strategic merge,
//! merging lists such as containers by their usual keys; server-side
//! apply, which creates what is missing and merges maps, replaces lists and
//! leaves the status alone; no managed fields are kept, so an apply never
//! conflicts), delete (with `propagationPolicy`, grace periods for bound pods,
//! finalizers, garbage collection by owner uid), deletecollection, and
//! watch (`resourceVersion`, bookmarks about every second, `timeoutSeconds`,
//! `sendInitialEvents`, 410 Gone once a version fell out of the history).
//! `labelSelector` and `fieldSelector` filter lists and watches;
//! `limit`/`continue` are ignored (the whole list comes at once, which the
//! protocol allows). `dryRun` is refused with 400. Bodies must be JSON
//! or the protobuf
//! `kubectl create namespace` sends; other protobuf bodies, such as
//! `kubectl create job`'s, get 415 (`kubectl run` and `kubectl apply` send
//! JSON). Answers are JSON, or
//! `Table`/`PartialObjectMetadata` when the `Accept` header asks.
//!
//! Requests need the kubeconfig's bearer token (401 otherwise), unless the
//! fake serves anonymous requests ([`Builder::anonymous`], for kubectl).
//! What the fake stores is what the k8s-openapi type reads and writes back
//! (unknown fields dropped, numbers given for quantities made strings), so
//! every object it holds decodes in a client.
//!
//! Validation follows the real server where that catches client bugs:
//! bodies must decode into the k8s-openapi type; names (DNS-1123
//! subdomains; labels for namespaces; DNS-1035 labels for services, as the
//! real server has it), label keys and values, required fields, immutable
//! fields (Deployment and Job selectors, Job templates, a Service's
//! cluster IP, PVC specs but for storage growth, data of immutable Secrets
//! and ConfigMaps), equal requests and limits for extended resources; 404
//! for a missing namespace, 403 in a terminating one, 403 over quota. A Job
//! gets its selector generated from its uid (a selector without
//! `manualSelector: true` is refused, as the real server does).
//!
//! The controllers tick every 50 ms by default and keep running while the
//! listener is stopped (a cluster does not stop when its API is
//! unreachable):
//! - Deployments keep `spec.replicas` pods (owned by the Deployment,
//!   labelled with the template's labels plus `pod-template-hash`; no
//!   ReplicaSets); a template change replaces them; status and the
//!   `Available`/`Progressing`/`ReplicaFailure` conditions follow.
//! - Jobs run one pod at a time until `completions` succeeded or
//!   `backoffLimit` is exceeded; `activeDeadlineSeconds`, `suspend` and
//!   `ttlSecondsAfterFinished` work as in Kubernetes.
//! - The scheduler binds a pod to the first node whose labels match its
//!   `nodeSelector` and whose allocatable resources (CPU, memory, pods,
//!   any extended resource) fit its requests (limits where no request is
//!   given); otherwise the pod stays Pending, Unschedulable, with a
//!   `FailedScheduling` event like "0/1 nodes are available: 1 Insufficient
//!   nvidia.com/gpu.".
//! - The kubelet takes a bound pod to Running a tick later, with the usual
//!   events. An image whose name contains `no-such-image` fails to pull
//!   (`ErrImagePull`, then `ImagePullBackOff`). A container whose command
//!   ends in `sh -c SCRIPT` runs the script's `echo TEXT` (a log line),
//!   `sleep S`, `exit N` and `fake-oom` (OOMKilled, exit 137) statements in
//!   real time and exits 0 at its end; any other container runs until
//!   deleted. Ended containers follow `restartPolicy`: Never ends the pod
//!   Succeeded or Failed; Always (and OnFailure after a failure) shows
//!   `CrashLoopBackOff` and runs the script again a few ticks later.
//! - Services get a cluster IP, and node ports (30000–32767, kept across
//!   updates) when of type NodePort; PVCs bind at once; quotas' status
//!   shows their use; namespaces being deleted are emptied, then removed;
//!   new namespaces get a `default` service account.

mod api;
mod controllers;
mod exec;
mod http;
mod patch;
mod protobuf;
mod quantity;
mod quota;
mod rbac;
mod resources;
mod script;
mod selectors;
mod service_proxy;
mod store;
mod tables;
mod validate;

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};
use k8s_openapi::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

pub use api::ApiError;

use api::State;
use controllers::Controllers;
pub use rbac::Policy;
use resources::ResourceInfo;
use selectors::LabelSelector;

/// The user the fake's token stands for (in 403 messages).
const USER: &str = "fake-user";

/// A request as the fake received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The raw query string.
    pub query: String,
    pub content_type: String,
    pub accept: String,
}

/// An injected failure: the next `times` requests that match answer
/// `status` with a proper `Status` body.
#[derive(Debug, Clone)]
pub struct Fault {
    status: u16,
    times: usize,
    path_contains: Option<String>,
    method: Option<String>,
}

impl Fault {
    /// Answers the next request with `status` (401, 403, 409, 500, 503…).
    pub fn status(status: u16) -> Fault {
        Fault {
            status,
            times: 1,
            path_contains: None,
            method: None,
        }
    }

    /// For the next `times` matching requests instead of one.
    pub fn times(mut self, times: usize) -> Fault {
        self.times = times;
        self
    }

    /// Only requests whose path contains `part`.
    pub fn on_path(mut self, part: &str) -> Fault {
        self.path_contains = Some(part.to_owned());
        self
    }

    /// Only requests with this method (`GET`, `PATCH`, …).
    pub fn on_method(mut self, method: &str) -> Fault {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.times > 0
            && self.method.as_deref().is_none_or(|m| m == method)
            && self
                .path_contains
                .as_deref()
                .is_none_or(|p| path.contains(p))
    }
}

#[derive(Debug, Default)]
struct Faults {
    queue: Vec<Fault>,
    latency: Duration,
    forbidden: Vec<(String, String)>,
}

/// What the HTTP handlers, the controllers and the test-facing API share.
struct Shared {
    state: Mutex<State>,
    faults: Mutex<Faults>,
    requests: Mutex<Vec<RecordedRequest>>,
    token: String,
    /// What the token may do; None: everything.
    rbac: Option<Policy>,
    /// Whether a request without credentials is served (kubectl sends no
    /// token over plain HTTP).
    anonymous: bool,
    /// Bumped to end every open watch and followed log.
    cut: tokio::sync::watch::Sender<u64>,
    port: AtomicU16,
    /// The local process every Service's proxy subresource reaches.
    service_backend: Mutex<Option<SocketAddr>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere leaves the objects as they were; go on.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn record(&self, request: RecordedRequest) {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(request);
    }

    /// The status code of the first injected fault matching the request
    /// (used up by it), if any.
    fn take_fault(&self, method: &str, path: &str) -> Option<u16> {
        let mut faults = self.faults();
        let index = faults.queue.iter().position(|f| f.matches(method, path))?;
        let fault = &mut faults.queue[index];
        fault.times -= 1;
        let status = fault.status;
        if fault.times == 0 {
            faults.queue.remove(index);
        }
        Some(status)
    }

    /// Whether the test forbade `verb` on `resource` (`pods/log` for a
    /// subresource), or the RBAC policy does not grant it.
    fn is_forbidden(&self, verb: &str, group: &str, resource: &str) -> bool {
        self.rbac
            .as_ref()
            .is_some_and(|policy| !policy.allows(verb, group, resource))
            || self
                .faults()
                .forbidden
                .iter()
                .any(|(v, r)| (v == verb || v == "*") && r == resource)
    }

    fn port(&self) -> u16 {
        self.port.load(Ordering::Relaxed)
    }

    fn cut_streams(&self) {
        self.cut.send_modify(|n| *n += 1);
    }
}

/// A node the fake starts with or adds.
#[derive(Debug, Clone)]
pub struct FakeNode {
    name: String,
    labels: BTreeMap<String, String>,
    allocatable: BTreeMap<String, String>,
}

impl FakeNode {
    /// A node with 32 CPUs, 256Gi of memory, room for 110 pods, no GPUs.
    pub fn new(name: &str) -> FakeNode {
        FakeNode {
            name: name.to_owned(),
            labels: BTreeMap::from([("kubernetes.io/hostname".to_owned(), name.to_owned())]),
            allocatable: BTreeMap::from([
                ("cpu".to_owned(), "32".to_owned()),
                ("memory".to_owned(), "256Gi".to_owned()),
                ("pods".to_owned(), "110".to_owned()),
                ("ephemeral-storage".to_owned(), "1Ti".to_owned()),
            ]),
        }
    }

    /// A node with `count` whole GPUs (`nvidia.com/gpu`) of `product`,
    /// labelled as NVIDIA's GPU feature discovery labels them.
    pub fn gpu(name: &str, product: &str, count: u32) -> FakeNode {
        FakeNode::new(name)
            .resource("nvidia.com/gpu", &count.to_string())
            .label("nvidia.com/gpu.product", product)
            .label("nvidia.com/gpu.count", &count.to_string())
    }

    /// Sets an allocatable resource (`nvidia.com/mig-1g.10gb`: "7").
    pub fn resource(mut self, name: &str, amount: &str) -> FakeNode {
        self.allocatable.insert(name.to_owned(), amount.to_owned());
        self
    }

    pub fn label(mut self, key: &str, value: &str) -> FakeNode {
        self.labels.insert(key.to_owned(), value.to_owned());
        self
    }

    fn object(&self) -> Value {
        let now = api::timestamp();
        json!({
            "metadata": {"name": self.name, "labels": self.labels},
            "spec": {},
            "status": {
                "capacity": self.allocatable,
                "allocatable": self.allocatable,
                "conditions": [{
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": now,
                }],
                "addresses": [
                    {"type": "InternalIP", "address": "127.0.0.1"},
                    {"type": "Hostname", "address": self.name},
                ],
                "nodeInfo": {
                    "architecture": "amd64",
                    "bootID": "",
                    "containerRuntimeVersion": "containerd://1.7.27",
                    "kernelVersion": "6.1.0",
                    "kubeProxyVersion": "v1.33.0",
                    "kubeletVersion": "v1.33.0",
                    "machineID": "",
                    "operatingSystem": "linux",
                    "osImage": "Debian GNU/Linux 12 (bookworm)",
                    "systemUUID": "",
                },
            },
        })
    }
}

/// How to start a fake (see [`FakeApiServer::builder`]).
#[derive(Debug, Clone)]
pub struct Builder {
    nodes: Vec<FakeNode>,
    tick: Duration,
    token: String,
    anonymous: bool,
    port: u16,
    history_limit: usize,
    back_off_ticks: u64,
    rbac: Option<Policy>,
}

impl Builder {
    /// Grants the token only what `policy` allows (everything by default),
    /// with the real authorizer's 403s and access reviews.
    pub fn rbac(mut self, policy: Policy) -> Builder {
        self.rbac = Some(policy);
        self
    }

    /// The nodes to start with, instead of the one default GPU node.
    pub fn nodes(mut self, nodes: Vec<FakeNode>) -> Builder {
        self.nodes = nodes;
        self
    }

    /// How often the controllers run (50 ms by default).
    pub fn tick(mut self, tick: Duration) -> Builder {
        self.tick = tick;
        self
    }

    /// The bearer token clients must send.
    pub fn token(mut self, token: &str) -> Builder {
        self.token = token.to_owned();
        self
    }

    /// Serves requests that carry no credentials at all, as a cluster
    /// that lets anonymous users do anything would (a wrong token still
    /// gets 401). kubectl needs it: it sends its kubeconfig's token only
    /// over TLS.
    pub fn anonymous(mut self, allowed: bool) -> Builder {
        self.anonymous = allowed;
        self
    }

    /// The port to listen on (0, the default, picks a free one).
    pub fn port(mut self, port: u16) -> Builder {
        self.port = port;
        self
    }

    /// How many changes per kind the watch history keeps (5,000 by
    /// default); a watch from an older version gets 410 Gone.
    pub fn history_limit(mut self, changes: usize) -> Builder {
        self.history_limit = changes;
        self
    }

    /// Starts the fake; it listens when this returns.
    pub fn try_start(self) -> io::Result<FakeApiServer> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(self.history_limit)),
            faults: Mutex::new(Faults::default()),
            requests: Mutex::new(Vec::new()),
            token: self.token.clone(),
            rbac: self.rbac.clone(),
            anonymous: self.anonymous,
            cut: tokio::sync::watch::Sender::new(0),
            port: AtomicU16::new(self.port),
            service_backend: Mutex::new(None),
        });
        {
            let mut state = shared.lock();
            let namespaces = resources::by_plural("namespaces").expect("namespaces are served");
            for namespace in ["default", "kube-system", "kube-public", "kube-node-lease"] {
                state
                    .create(namespaces, "", json!({"metadata": {"name": namespace}}))
                    .map_err(io::Error::other)?;
            }
            let nodes = resources::by_plural("nodes").expect("nodes are served");
            for node in &self.nodes {
                state
                    .create(nodes, "", node.object())
                    .map_err(io::Error::other)?;
            }
        }
        let (commands, receiver) = unbounded_channel();
        let (ready, started) = std::sync::mpsc::channel();
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("fake-apiserver".into())
            .spawn(move || serve(thread_shared, self, receiver, ready))?;
        match started.recv() {
            Ok(Ok(port)) => Ok(FakeApiServer {
                shared,
                commands,
                thread: Some(thread),
                port,
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(io::Error::other("the fake API server thread ended early"))
            }
        }
    }
}

enum Command {
    Stop(std::sync::mpsc::Sender<()>),
    Start(std::sync::mpsc::Sender<io::Result<()>>),
}

/// Binds and runs an HTTP server on the fake's state.
fn listen(shared: &Arc<Shared>, port: u16) -> io::Result<ServerHandle> {
    let data = web::Data::new(shared.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(16 << 20))
            .route(
                "/api/v1/namespaces/{namespace}/pods/{name}/exec",
                web::get().to(exec::handle),
            )
            .route(
                "/api/v1/namespaces/{namespace}/services/{name}/proxy/{tail:.*}",
                web::route().to(service_proxy::handle),
            )
            .default_service(web::to(http::handle))
    })
    .workers(2)
    .disable_signals()
    .shutdown_timeout(1)
    .bind(SocketAddr::from(([127, 0, 0, 1], port)))?;
    let port = server
        .addrs()
        .first()
        .map(SocketAddr::port)
        .ok_or_else(|| io::Error::other("the server has no address"))?;
    shared.port.store(port, Ordering::Relaxed);
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    Ok(handle)
}

/// The fake's thread: the controllers and the HTTP server on one actix
/// system, and the commands that stop and start the listener.
fn serve(
    shared: Arc<Shared>,
    builder: Builder,
    mut commands: tokio::sync::mpsc::UnboundedReceiver<Command>,
    ready: std::sync::mpsc::Sender<io::Result<u16>>,
) {
    let system = actix_web::rt::System::new();
    system.block_on(async move {
        let mut server = match listen(&shared, builder.port) {
            Ok(handle) => {
                let _ = ready.send(Ok(shared.port()));
                Some(handle)
            }
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let controllers = Controllers::new(shared.clone(), builder.back_off_ticks);
        let controllers = actix_web::rt::spawn(controllers.run(builder.tick));
        while let Some(command) = commands.recv().await {
            match command {
                Command::Stop(done) => {
                    if let Some(handle) = server.take() {
                        shared.cut_streams();
                        // Graceful, so it waits for the workers: they close
                        // idle keep-alive connections after the shutdown
                        // timeout, and a forced stop returns before they do.
                        handle.stop(true).await;
                    }
                    let _ = done.send(());
                }
                Command::Start(done) => {
                    let mut outcome = Ok(());
                    if server.is_none() {
                        // The port may linger a moment after the stop.
                        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
                        loop {
                            match listen(&shared, shared.port()) {
                                Ok(handle) => {
                                    server = Some(handle);
                                    break;
                                }
                                Err(e) if tokio::time::Instant::now() >= deadline => {
                                    outcome = Err(e);
                                    break;
                                }
                                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                            }
                        }
                    }
                    let _ = done.send(outcome);
                }
            }
        }
        if let Some(handle) = server.take() {
            shared.cut_streams();
            handle.stop(false).await;
        }
        controllers.abort();
    });
}

/// A running fake Kubernetes API server. Dropping it stops it.
pub struct FakeApiServer {
    shared: Arc<Shared>,
    commands: UnboundedSender<Command>,
    thread: Option<JoinHandle<()>>,
    port: u16,
}

fn resource_of<K: Resource>() -> &'static ResourceInfo {
    resources::find(K::GROUP, K::VERSION, K::URL_PATH_SEGMENT)
        .unwrap_or_else(|| panic!("the fake API server does not serve {}", K::KIND))
}

fn resource_named(plural: &str) -> &'static ResourceInfo {
    resources::by_plural(plural)
        .unwrap_or_else(|| panic!("the fake API server does not serve {plural}"))
}

fn typed<K: DeserializeOwned>(object: &Value) -> K {
    serde_json::from_value(object.clone())
        .unwrap_or_else(|e| panic!("a stored object does not decode as its kind: {e}: {object}"))
}

impl FakeApiServer {
    /// Answers every Service's proxy subresource (`services/<name>:<port>/proxy/…`)
    /// from the process listening at `backend` (a test's echo service),
    /// as the real server reaches a Service's endpoints.
    pub fn route_services_to(&self, backend: SocketAddr) {
        *self
            .shared
            .service_backend
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(backend);
    }

    /// Starts a fake with the default settings on a free port.
    pub fn start() -> FakeApiServer {
        FakeApiServer::builder()
            .try_start()
            .expect("the fake API server starts")
    }

    /// Settings: one node `gpu-node-1` (32 CPUs, 256Gi, 4 × NVIDIA-H200
    /// as `nvidia.com/gpu`), controllers every 50 ms, a fixed token.
    pub fn builder() -> Builder {
        Builder {
            nodes: vec![FakeNode::gpu("gpu-node-1", "NVIDIA-H200", 4)],
            tick: Duration::from_millis(50),
            token: "fake-apiserver-token".into(),
            anonymous: false,
            port: 0,
            history_limit: 5000,
            back_off_ticks: 4,
            rbac: None,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The bearer token clients must send.
    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// A kubeconfig for the fake: one cluster, one token user, one
    /// context (namespace `default`), current.
    pub fn kubeconfig_yaml(&self) -> String {
        format!(
            "apiVersion: v1\n\
             kind: Config\n\
             clusters:\n\
             - name: fake\n  cluster:\n    server: {url}\n\
             users:\n\
             - name: {USER}\n  user:\n    token: {token}\n\
             contexts:\n\
             - name: fake\n  context:\n    cluster: fake\n    user: {USER}\n    namespace: default\n\
             current-context: fake\n",
            url = self.url(),
            token = self.token(),
        )
    }

    pub fn write_kubeconfig(&self, path: &Path) -> io::Result<()> {
        std::fs::write(path, self.kubeconfig_yaml())
    }

    /// A kube-rs client configured from the fake's kubeconfig.
    pub async fn client(&self) -> kube::Client {
        let kubeconfig = kube::config::Kubeconfig::from_yaml(&self.kubeconfig_yaml())
            .expect("the fake's kubeconfig parses");
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .expect("kube-rs accepts the fake's kubeconfig");
        kube::Client::try_from(config).expect("a kube-rs client for the fake")
    }

    /// The stored object, typed (`namespace` "" for cluster-scoped kinds).
    pub fn get<K: Resource + DeserializeOwned>(&self, namespace: &str, name: &str) -> Option<K> {
        self.get_raw(resource_of::<K>().plural, namespace, name)
            .map(|o| typed(&o))
    }

    /// The stored objects of a kind matching a label selector ("" for
    /// all), in one namespace or all.
    pub fn list<K: Resource + DeserializeOwned>(
        &self,
        namespace: Option<&str>,
        label_selector: &str,
    ) -> Vec<K> {
        self.list_raw(resource_of::<K>().plural, namespace, label_selector)
            .iter()
            .map(typed)
            .collect()
    }

    /// The stored object as JSON, by the kind's plural (`"deployments"`).
    pub fn get_raw(&self, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        let resource = resource_named(plural);
        self.shared
            .lock()
            .store
            .get(resource, namespace, name)
            .map(|o| (**o).clone())
    }

    /// The stored objects as JSON, by the kind's plural.
    pub fn list_raw(
        &self,
        plural: &str,
        namespace: Option<&str>,
        label_selector: &str,
    ) -> Vec<Value> {
        let resource = resource_named(plural);
        let selector = LabelSelector::parse(label_selector).expect("a valid label selector");
        self.shared
            .lock()
            .store
            .list(resource, namespace)
            .filter(|o| selector.matches(o))
            .map(|o| (**o).clone())
            .collect()
    }

    /// Creates an object as a client's POST would (validation, quotas and
    /// all), to set a scene without going through HTTP.
    pub fn create<K: Resource + Serialize + DeserializeOwned>(
        &self,
        namespace: &str,
        object: &K,
    ) -> Result<K, ApiError> {
        let body = serde_json::to_value(object).expect("a k8s-openapi object serializes");
        let stored = self
            .shared
            .lock()
            .create(resource_of::<K>(), namespace, body)?;
        Ok(typed(&stored))
    }

    /// Adds a node while the fake runs.
    pub fn add_node(&self, node: FakeNode) {
        self.shared
            .lock()
            .create(resource_named("nodes"), "", node.object())
            .expect("the node is valid and new");
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Queues an injected failure (see [`Fault`]).
    pub fn fail_next(&self, fault: Fault) {
        self.shared.faults().queue.push(fault);
    }

    /// Delays every answer by `latency` (zero to stop).
    pub fn set_latency(&self, latency: Duration) {
        self.shared.faults().latency = latency;
    }

    /// Refuses `verb` (`create`, `list`, …, or `*`) on `resource` (a
    /// plural, or `pods/log`) with 403, and says so in access reviews.
    pub fn forbid(&self, verb: &str, resource: &str) {
        self.shared
            .faults()
            .forbidden
            .push((verb.to_owned(), resource.to_owned()));
    }

    /// Drops queued faults, latency and forbidden verbs.
    pub fn clear_faults(&self) {
        *self.shared.faults() = Faults::default();
    }

    /// Ends every open watch stream (and followed log) at once.
    pub fn cut_watches(&self) {
        self.shared.cut_streams();
    }

    /// Closes the listener and every open connection; the objects stay
    /// and the controllers keep running.
    pub fn stop(&self) {
        let (done, wait) = std::sync::mpsc::channel();
        if self.commands.send(Command::Stop(done)).is_ok() {
            let _ = wait.recv();
        }
    }

    /// Listens again on the same port, with the same objects.
    pub fn start_again(&self) {
        let (done, wait) = std::sync::mpsc::channel();
        self.commands
            .send(Command::Start(done))
            .expect("the fake API server thread runs");
        wait.recv()
            .expect("the fake API server thread answers")
            .expect("the fake API server listens on its port again");
    }

    /// Stops the fake and waits for its thread.
    pub fn shutdown(mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        let (closed, _) = unbounded_channel();
        // Dropping the sender ends the thread's command loop.
        drop(std::mem::replace(&mut self.commands, closed));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Polls `check` every 50 ms until it gives a value, for at most 20 s;
/// panics naming `what` when it never does.
pub async fn wait_for<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited 20 s for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
