//! The fake Kubernetes API server's own behaviour, through plain HTTP and
//! through kube-rs: the protocol (discovery, auth, CRUD, selectors,
//! conflicts, validation, patches, deletion, watches), the controllers
//! (deployments, jobs, scheduling, the scripted kubelet, quotas, node
//! ports) and the fault injection. Every wait is bounded.

use std::pin::pin;
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    ConfigMap, Event, Node, PersistentVolumeClaim, Pod, ResourceQuota, Secret, Service,
    ServiceAccount,
};
use kube::api::{Api, DeleteParams, ListParams, LogParams, Patch, PatchParams, PostParams};
use kube::core::PartialObjectMeta;
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::{Value, json};

use crate::common::fake_apiserver::{FakeApiServer, FakeNode, Fault, wait_for};
use crate::common::install_crypto;

/// Plain HTTP to the fake, with its token unless told otherwise.
struct Http {
    client: reqwest::Client,
    url: String,
    token: Option<String>,
}

impl Http {
    fn new(fake: &FakeApiServer) -> Http {
        install_crypto();
        Http {
            client: reqwest::Client::new(),
            url: fake.url(),
            token: Some(fake.token().to_owned()),
        }
    }

    fn with_token(&self, token: Option<&str>) -> Http {
        Http {
            client: self.client.clone(),
            url: self.url.clone(),
            token: token.map(str::to_owned),
        }
    }

    fn request(&self, method: &str, path: &str) -> reqwest::RequestBuilder {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.client.request(method, format!("{}{path}", self.url));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        request
    }

    /// Sends a request and reads the answer as JSON (or as a JSON string
    /// when it is text).
    async fn send(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request
                .header("content-type", content_type)
                .body(body.to_string());
        }
        let response = request.send().await.expect("the fake answers");
        let status = response.status().as_u16();
        let text = response.text().await.expect("a body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send("GET", path, "", None).await
    }

    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send("POST", path, "application/json", Some(body))
            .await
    }

    async fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send("PUT", path, "application/json", Some(body)).await
    }

    async fn patch(&self, path: &str, content_type: &str, body: &Value) -> (u16, Value) {
        self.send("PATCH", path, content_type, Some(body)).await
    }

    async fn delete(&self, path: &str) -> (u16, Value) {
        self.send("DELETE", path, "", None).await
    }

    /// Opens a watch (or any streamed answer).
    async fn stream(&self, path: &str) -> Lines {
        let response = self
            .request("GET", path)
            .send()
            .await
            .expect("the fake answers");
        assert_eq!(response.status().as_u16(), 200, "{path}");
        Lines {
            response,
            buffer: Vec::new(),
        }
    }
}

/// The lines of a streamed answer.
struct Lines {
    response: reqwest::Response,
    buffer: Vec<u8>,
}

impl Lines {
    /// The next line, or `None` once the stream ends.
    async fn next_line(&mut self) -> Option<String> {
        loop {
            if let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                return Some(String::from_utf8_lossy(&line[..end]).into_owned());
            }
            let chunk = tokio::time::timeout(Duration::from_secs(20), self.response.chunk())
                .await
                .expect("the stream moves within 20 s")
                .expect("the stream reads");
            self.buffer.extend_from_slice(&chunk?);
        }
    }

    /// The next watch event.
    async fn next_event(&mut self) -> Option<Value> {
        let line = self.next_line().await?;
        Some(serde_json::from_str(&line).expect("a watch event is JSON"))
    }

    /// Reads events until one matches, skipping bookmarks unless asked.
    async fn event_where(&mut self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        loop {
            let event = self
                .next_event()
                .await
                .unwrap_or_else(|| panic!("the watch ended before {what}"));
            if matches(&event) {
                return event;
            }
        }
    }
}

fn name_of(object: &Value) -> &str {
    object["metadata"]["name"].as_str().unwrap_or("")
}

fn names(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list["items"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|i| name_of(i).to_owned())
        .collect();
    names.sort();
    names
}

fn pod(name: &str, labels: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "main", "image": "busybox"}]},
    })
}

fn config_map(name: &str) -> Value {
    json!({"metadata": {"name": name}, "data": {"key": "value"}})
}

/// A Deployment whose one container runs `script` (forever when `None`),
/// asking for `gpus` whole GPUs.
fn deployment(name: &str, replicas: i32, script: Option<&str>, gpus: u32) -> Value {
    let mut container = json!({"name": "main", "image": "pytorch/pytorch:2.5"});
    if let Some(script) = script {
        container["command"] = json!(["sh", "-c", script]);
    }
    if gpus > 0 {
        container["resources"] = json!({"limits": {"nvidia.com/gpu": gpus.to_string()}});
    }
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [container]},
            },
        },
    })
}

/// A Job (backoffLimit 0, restartPolicy Never) running `script`.
fn job(name: &str, script: &str) -> Value {
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "main", "image": "busybox", "command": ["/bin/sh", "-c", script]}],
            }},
        },
    })
}

fn typed<K: serde::de::DeserializeOwned>(value: Value) -> K {
    serde_json::from_value(value).expect("a valid object")
}

fn api_error(error: kube::Error) -> Box<kube::core::Status> {
    match error {
        kube::Error::Api(status) => status,
        other => panic!("expected an API error, got {other}"),
    }
}

/// The pods of an owner, by the app label the helpers put on them.
fn pods_of(fake: &FakeApiServer, namespace: &str, app: &str) -> Vec<Pod> {
    fake.list::<Pod>(Some(namespace), &format!("app={app}"))
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// The only container's status of a pod, once it has one.
fn container_state(pod: &Pod) -> Option<&k8s_openapi::api::core::v1::ContainerStatus> {
    pod.status.as_ref()?.container_statuses.as_ref()?.first()
}

/// Waits for the one pod of a job (or deployment) to match.
async fn wait_for_pod(
    fake: &FakeApiServer,
    namespace: &str,
    selector: &str,
    what: &str,
    check: impl Fn(&Pod) -> bool,
) -> Pod {
    wait_for(what, async || {
        fake.list::<Pod>(Some(namespace), selector)
            .into_iter()
            .find(|p| check(p))
    })
    .await
}

/// The events about an object, through the API's field selector.
async fn events_about(http: &Http, namespace: &str, name: &str) -> Vec<Value> {
    let (status, list) = http
        .get(&format!(
            "/api/v1/namespaces/{namespace}/events?fieldSelector=involvedObject.name%3D{name}"
        ))
        .await;
    assert_eq!(status, 200, "{list}");
    list["items"].as_array().cloned().unwrap_or_default()
}

fn has_event(events: &[Value], reason: &str) -> bool {
    events.iter().any(|e| e["reason"] == reason)
}

#[tokio::test]
async fn discovery_answers_and_the_token_is_checked() {
    let fake = FakeApiServer::start();
    let http = Http::new(&fake);

    let (status, version) = http.with_token(None).get("/version").await;
    assert_eq!(status, 200);
    assert_eq!(version["major"], "1");
    for token in [None, Some("wrong")] {
        let (status, body) = http.with_token(token).get("/api/v1/namespaces").await;
        assert_eq!(status, 401, "{token:?}");
        assert_eq!(body["kind"], "Status");
        assert_eq!(body["reason"], "Unauthorized");
        assert_eq!(body["code"], 401);
    }

    let (status, core) = http.get("/api").await;
    assert_eq!((status, core["versions"].clone()), (200, json!(["v1"])));
    let (_, groups) = http.get("/apis").await;
    let group_names: Vec<&str> = groups["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g["name"].as_str())
        .collect();
    assert_eq!(group_names, ["apps", "batch", "authorization.k8s.io"]);
    let (_, resources) = http.get("/api/v1").await;
    let pods = resources["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .find(|r| r["name"] == "pods")
        .expect("pods are listed");
    assert_eq!(pods["shortNames"], json!(["po"]));
    assert_eq!(pods["namespaced"], true);
    assert!(resources.to_string().contains("\"pods/log\""));
    let (_, apps) = http.get("/apis/apps/v1").await;
    assert!(apps.to_string().contains("\"deployments/scale\""));
    assert_eq!(http.get("/apis/example.com/v1").await.0, 404);
    let (status, openapi) = http.get("/openapi/v3").await;
    assert_eq!(status, 200);
    assert!(openapi["paths"]["apis/apps/v1"]["serverRelativeURL"].is_string());

    // The defaults: one GPU node and the usual namespaces.
    let nodes = fake.list::<Node>(None, "nvidia.com/gpu.product=NVIDIA-H200");
    assert_eq!(nodes.len(), 1);
    let allocatable = nodes[0]
        .status
        .as_ref()
        .and_then(|s| s.allocatable.as_ref())
        .expect("allocatable");
    assert_eq!(allocatable["nvidia.com/gpu"].0, "4");
    let accounts = wait_for("the default service account", async || {
        fake.get::<ServiceAccount>("default", "default")
    })
    .await;
    assert_eq!(accounts.metadata.name.as_deref(), Some("default"));
}

#[tokio::test]
async fn the_builder_sets_nodes_tick_token_and_port() {
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let fake = FakeApiServer::builder()
        .nodes(vec![
            FakeNode::gpu("a100-node", "NVIDIA-A100-SXM4-80GB", 2),
            FakeNode::new("cpu-node").label("pool", "cpu"),
        ])
        .tick(Duration::from_millis(20))
        .token("another-token")
        .port(free)
        .try_start()
        .expect("starts");
    assert_eq!(fake.port(), free);
    assert_eq!(fake.url(), format!("http://127.0.0.1:{free}"));
    let http = Http::new(&fake);
    assert_eq!(
        http.with_token(Some("fake-apiserver-token"))
            .get("/api/v1/nodes")
            .await
            .0,
        401
    );
    let (status, nodes) = http.get("/api/v1/nodes").await;
    assert_eq!(status, 200);
    assert_eq!(names(&nodes), ["a100-node", "cpu-node"]);
    let a100 = fake.get::<Node>("", "a100-node").expect("stored");
    let labels = a100.metadata.labels.expect("labels");
    assert_eq!(labels["nvidia.com/gpu.count"], "2");
    assert_eq!(labels["kubernetes.io/hostname"], "a100-node");
    assert_eq!(fake.list::<Node>(None, "pool=cpu").len(), 1);
    let url = fake.url();
    fake.shutdown();
    // A new client: actix stops its workers without waiting for them, so a
    // pooled keep-alive connection may be answered a moment longer, but the
    // listener is closed when `shutdown` returns.
    assert!(
        reqwest::Client::new()
            .get(format!("{url}/api/v1/nodes"))
            .send()
            .await
            .is_err(),
        "nothing listens after a shutdown"
    );
}

#[tokio::test]
async fn objects_are_created_read_listed_and_conflicts_refused() {
    let fake = FakeApiServer::start();
    let http = Http::new(&fake);
    for namespace in ["alpha", "beta"] {
        let (status, body) = http
            .post(
                "/api/v1/namespaces",
                &json!({"metadata": {"name": namespace}}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["status"]["phase"], "Active");
    }
    for (namespace, name, labels) in [
        ("alpha", "p1", json!({"app": "web", "tier": "gpu"})),
        ("alpha", "p2", json!({"app": "web", "tier": "cpu"})),
        ("alpha", "p3", json!({"app": "db"})),
        ("beta", "p4", json!({"app": "web"})),
    ] {
        let (status, created) = http
            .post(
                &format!("/api/v1/namespaces/{namespace}/pods"),
                &pod(name, labels),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        assert!(created["metadata"]["uid"].is_string());
        assert!(created["metadata"]["creationTimestamp"].is_string());
        assert_eq!(created["status"]["phase"], "Pending");
    }
    let (status, again) = http
        .post("/api/v1/namespaces/alpha/pods", &pod("p1", json!({})))
        .await;
    assert_eq!(status, 409);
    assert_eq!(again["reason"], "AlreadyExists");
    assert_eq!(again["message"], "pods \"p1\" already exists");

    let cases = [
        ("app=web", vec!["p1", "p2"]),
        ("app==web,tier=gpu", vec!["p1"]),
        ("app!=web", vec!["p3"]),
        ("tier in (cpu,tpu)", vec!["p2"]),
        ("tier notin (cpu)", vec!["p1", "p3"]),
        ("tier", vec!["p1", "p2"]),
        ("!tier", vec!["p3"]),
    ];
    for (selector, expected) in cases {
        let path = format!(
            "/api/v1/namespaces/alpha/pods?labelSelector={}",
            urlencode(selector)
        );
        let (status, list) = http.get(&path).await;
        assert_eq!(status, 200, "{selector}");
        assert_eq!(names(&list), expected, "{selector}");
    }
    let (_, all) = http.get("/api/v1/pods?labelSelector=app%3Dweb").await;
    assert_eq!(all["kind"], "PodList");
    assert_eq!(names(&all), ["p1", "p2", "p4"]);
    let list_version: u64 = all["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .expect("a list version");
    for item in all["items"].as_array().expect("items") {
        let version: u64 = item["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .expect("an object version");
        assert!(version <= list_version);
    }
    let (_, by_field) = http
        .get("/api/v1/pods?fieldSelector=metadata.namespace%3Dbeta,metadata.name%3Dp4")
        .await;
    assert_eq!(names(&by_field), ["p4"]);
    let (status, refused) = http.get("/api/v1/pods?fieldSelector=spec.image%3Dx").await;
    assert_eq!(status, 400, "{refused}");

    // Optimistic concurrency on update.
    let (status, created) = http
        .post(
            "/api/v1/namespaces/alpha/configmaps",
            &config_map("settings"),
        )
        .await;
    assert_eq!(status, 201);
    let mut changed = created.clone();
    changed["data"]["key"] = json!("new");
    let (status, updated) = http
        .put("/api/v1/namespaces/alpha/configmaps/settings", &changed)
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_ne!(
        updated["metadata"]["resourceVersion"],
        created["metadata"]["resourceVersion"]
    );
    let (status, stale) = http
        .put("/api/v1/namespaces/alpha/configmaps/settings", &changed)
        .await;
    assert_eq!(status, 409);
    assert_eq!(stale["reason"], "Conflict");
    assert!(
        stale["message"]
            .as_str()
            .is_some_and(|m| m.contains("the object has been modified")),
        "{stale}"
    );
    assert_eq!(
        fake.get::<ConfigMap>("alpha", "settings")
            .and_then(|c| c.data)
            .expect("data")["key"],
        "new"
    );

    // Deleting a collection takes only what the selector names.
    for (name, colour) in [("red-1", "red"), ("red-2", "red"), ("blue-1", "blue")] {
        let mut map = config_map(name);
        map["metadata"]["labels"] = json!({"colour": colour});
        assert_eq!(
            http.post("/api/v1/namespaces/alpha/configmaps", &map)
                .await
                .0,
            201
        );
    }
    let (status, deleted) = http
        .delete("/api/v1/namespaces/alpha/configmaps?labelSelector=colour%3Dred")
        .await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(names(&deleted), ["red-1", "red-2"]);
    assert_eq!(
        fake.list_raw("configmaps", Some("alpha"), "colour")
            .iter()
            .map(|c| name_of(c).to_owned())
            .collect::<Vec<_>>(),
        ["blue-1"]
    );

    let (status, missing) = http
        .get("/api/v1/namespaces/alpha/configmaps/nothing")
        .await;
    assert_eq!(
        (status, missing["reason"].clone()),
        (404, json!("NotFound"))
    );
    let (status, nowhere) = http
        .post("/api/v1/namespaces/nowhere/configmaps", &config_map("x"))
        .await;
    assert_eq!(status, 404);
    assert_eq!(nowhere["message"], "namespaces \"nowhere\" not found");
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn status_writes_metadata_reads_and_tables_take_their_part() {
    let fake = FakeApiServer::start();
    let http = Http::new(&fake);
    let jobs: Api<Job> = Api::default_namespaced(fake.client().await);
    let mut parked = job("parked", "sleep 600");
    parked["spec"]["suspend"] = json!(true);
    jobs.create(&PostParams::default(), &typed(parked))
        .await
        .expect("created");
    wait_for("the controller's status", async || {
        fake.get::<Job>("default", "parked")?.status?.conditions
    })
    .await;

    // Tables carry the object, its metadata, or nothing, as asked.
    let table = |include: &str| {
        let path = format!("/apis/batch/v1/namespaces/default/jobs?includeObject={include}");
        let request = http.request("GET", &path).header(
            "accept",
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
        );
        async move {
            let response = request.send().await.expect("answer");
            response.json::<Value>().await.expect("a table")
        }
    };
    let with_object = table("Object").await;
    assert_eq!(with_object["kind"], "Table");
    let columns: Vec<&str> = with_object["columnDefinitions"]
        .as_array()
        .expect("columns")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(columns, ["Name", "Status", "Completions", "Age"]);
    let row = &with_object["rows"][0];
    assert_eq!(row["cells"][0], "parked");
    assert_eq!(row["cells"][1], "Suspended");
    assert_eq!(row["object"]["kind"], "Job");
    assert_eq!(
        table("Metadata").await["rows"][0]["object"]["kind"],
        "PartialObjectMetadata"
    );
    assert!(table("None").await["rows"][0].get("object").is_none());

    // A status write changes only the status; a main write, all but it.
    let written = jobs
        .patch_status(
            "parked",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"labels": {"ignored": "yes"}}, "status": {"failed": 7}}),
            ),
        )
        .await
        .expect("status patch");
    assert_eq!(written.status.as_ref().and_then(|s| s.failed), Some(7));
    assert!(
        written
            .metadata
            .labels
            .as_ref()
            .is_none_or(|l| !l.contains_key("ignored"))
    );
    let mut replaced = jobs.get("parked").await.expect("get");
    replaced.metadata.labels = Some([("team".to_owned(), "vision".to_owned())].into());
    replaced.status.as_mut().expect("status").failed = Some(9);
    let replaced = jobs
        .replace("parked", &PostParams::default(), &replaced)
        .await
        .expect("replaced");
    assert_eq!(replaced.metadata.labels.expect("labels")["team"], "vision");
    assert_eq!(replaced.status.and_then(|s| s.failed), Some(7));
    let (status, _) = http
        .put(
            "/apis/batch/v1/namespaces/default/jobs/parked/status",
            &json!({"status": {"failed": 1}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        fake.get::<Job>("default", "parked")
            .and_then(|j| j.status?.failed),
        Some(1)
    );

    // Metadata-only reads, as kube-rs' metadata API asks for them.
    let metadata = jobs.get_metadata("parked").await.expect("metadata");
    assert_eq!(metadata.metadata.name.as_deref(), Some("parked"));
    let listed = jobs
        .list_metadata(&ListParams::default().labels("team=vision"))
        .await
        .expect("metadata list");
    assert_eq!(listed.items.len(), 1);
}

#[tokio::test]
async fn invalid_objects_are_refused_with_422_and_the_field() {
    let fake = FakeApiServer::start();
    let http = Http::new(&fake);
    let mut unmatched = deployment("web", 1, None, 0);
    unmatched["spec"]["template"]["metadata"]["labels"] = json!({"app": "other"});
    let mut no_image = deployment("web", 1, None, 0);
    no_image["spec"]["template"]["spec"]["containers"][0]
        .as_object_mut()
        .expect("container")
        .remove("image");
    let mut no_selector = deployment("web", 1, None, 0);
    no_selector["spec"]
        .as_object_mut()
        .expect("spec")
        .remove("selector");
    let mut words = deployment("web", 1, None, 0);
    words["spec"]["replicas"] = json!("two");
    let mut always = job("train", "echo");
    always["spec"]["template"]["spec"]["restartPolicy"] = json!("Always");
    let mut no_policy = job("train", "echo");
    no_policy["spec"]["template"]["spec"]
        .as_object_mut()
        .expect("spec")
        .remove("restartPolicy");
    let mut unequal = pod("gpu", json!({}));
    unequal["spec"]["containers"][0]["resources"] =
        json!({"requests": {"nvidia.com/gpu": "1"}, "limits": {"nvidia.com/gpu": "2"}});
    let cases = [
        (
            "/api/v1/namespaces/default/pods",
            pod("Bad_Name", json!({})),
            "metadata.name: Invalid value: \"Bad_Name\"",
        ),
        (
            "/api/v1/namespaces/default/pods",
            pod("labelled", json!({"owner": "a@b"})),
            "metadata.labels: Invalid value: \"a@b\"",
        ),
        (
            "/api/v1/namespaces/default/pods",
            unequal,
            "must be equal to nvidia.com/gpu limit of 2",
        ),
        (
            "/api/v1/namespaces",
            json!({"metadata": {"name": "a.b"}}),
            "metadata.name",
        ),
        (
            "/apis/apps/v1/namespaces/default/deployments",
            unmatched,
            "`selector` does not match template `labels`",
        ),
        (
            "/apis/apps/v1/namespaces/default/deployments",
            no_image,
            "spec.template.spec.containers[0].image: Required value",
        ),
        (
            "/apis/apps/v1/namespaces/default/deployments",
            no_selector,
            "selector",
        ),
        (
            "/apis/apps/v1/namespaces/default/deployments",
            words,
            "does not decode",
        ),
        (
            "/apis/batch/v1/namespaces/default/jobs",
            always,
            "spec.template.spec.restartPolicy: Unsupported value: \"Always\"",
        ),
        (
            "/apis/batch/v1/namespaces/default/jobs",
            no_policy,
            "spec.template.spec.restartPolicy: Required value",
        ),
        (
            "/api/v1/namespaces/default/services",
            json!({"metadata": {"name": "web"}, "spec": {}}),
            "spec.ports: Required value",
        ),
        (
            "/api/v1/namespaces/default/services",
            json!({"metadata": {"name": "1web"}, "spec": {"ports": [{"port": 80}]}}),
            "a DNS-1035 label",
        ),
        (
            "/api/v1/namespaces/default/persistentvolumeclaims",
            json!({"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}),
            "spec.resources[storage]: Required value",
        ),
    ];
    for (path, body, expected) in cases {
        let (status, answer) = http.post(path, &body).await;
        assert_eq!(status, 422, "{path} {answer}");
        assert_eq!(answer["reason"], "Invalid");
        let message = answer["message"].as_str().unwrap_or("");
        assert!(message.contains(expected), "{message} lacks {expected}");
        assert!(
            answer["details"]["causes"]
                .as_array()
                .is_some_and(|c| !c.is_empty())
        );
    }

    // Immutable fields, each on an object that was valid.
    let (status, _) = http
        .post(
            "/apis/apps/v1/namespaces/default/deployments",
            &deployment("web", 1, None, 0),
        )
        .await;
    assert_eq!(status, 201);
    let (status, answer) = http
        .patch(
            "/apis/apps/v1/namespaces/default/deployments/web",
            "application/merge-patch+json",
            &json!({"spec": {"selector": {"matchLabels": {"app": "web", "x": "y"}}}}),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|m| m.contains("spec.selector") && m.contains("field is immutable"))
    );

    let (_, service) = http
        .post(
            "/api/v1/namespaces/default/services",
            &json!({"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}),
        )
        .await;
    assert!(service["spec"]["clusterIP"].is_string(), "{service}");
    let (status, _) = http
        .patch(
            "/api/v1/namespaces/default/services/web",
            "application/merge-patch+json",
            &json!({"spec": {"clusterIP": "10.0.0.99"}}),
        )
        .await;
    assert_eq!(status, 422);

    let (status, _) = http
        .post(
            "/api/v1/namespaces/default/secrets",
            &json!({"metadata": {"name": "keys"}, "immutable": true, "stringData": {"password": "s3cret"}}),
        )
        .await;
    assert_eq!(status, 201);
    let secret = fake.get::<Secret>("default", "keys").expect("stored");
    assert_eq!(secret.data.expect("data")["password"].0, b"s3cret");
    let (status, answer) = http
        .patch(
            "/api/v1/namespaces/default/secrets/keys",
            "application/merge-patch+json",
            &json!({"stringData": {"password": "other"}}),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|m| m.contains("field is immutable when `immutable` is set"))
    );

    let claim = json!({"metadata": {"name": "data"}, "spec": {
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": "fast",
        "resources": {"requests": {"storage": "10Gi"}},
    }});
    assert_eq!(
        http.post("/api/v1/namespaces/default/persistentvolumeclaims", &claim)
            .await
            .0,
        201
    );
    let resize = |size: &str| json!({"spec": {"resources": {"requests": {"storage": size}}}});
    let path = "/api/v1/namespaces/default/persistentvolumeclaims/data";
    assert_eq!(
        http.patch(path, "application/merge-patch+json", &resize("5Gi"))
            .await
            .0,
        422
    );
    assert_eq!(
        http.patch(path, "application/merge-patch+json", &resize("20Gi"))
            .await
            .0,
        200
    );
    let (status, _) = http
        .patch(
            path,
            "application/merge-patch+json",
            &json!({"spec": {"storageClassName": "slow"}}),
        )
        .await;
    assert_eq!(status, 422);
    let bound = wait_for("the claim to bind", async || {
        fake.get::<PersistentVolumeClaim>("default", "data")
            .filter(|c| c.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound"))
    })
    .await;
    let capacity = bound.status.and_then(|s| s.capacity).expect("capacity");
    assert_eq!(capacity["storage"].0, "20Gi");

    // Unknown fields: dropped, or refused when the client asks for strict
    // validation (as kubectl does).
    let mut coloured = config_map("coloured");
    coloured["colour"] = json!("blue");
    let (status, answer) = http
        .post(
            "/api/v1/namespaces/default/configmaps?fieldValidation=Strict",
            &coloured,
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|m| m.contains("unknown field \"colour\""))
    );
    let (status, stored) = http
        .post("/api/v1/namespaces/default/configmaps", &coloured)
        .await;
    assert_eq!(status, 201);
    assert!(stored.get("colour").is_none());
}

#[tokio::test]
async fn server_side_apply_creates_then_merges_and_patches_apply() {
    let fake = FakeApiServer::start();
    let http = Http::new(&fake);
    let deployments: Api<Deployment> = Api::default_namespaced(fake.client().await);
    let apply = PatchParams::apply("mlstack").force();

    let mut first = deployment("web", 1, Some("sleep 600"), 0);
    first["metadata"]["labels"] = json!({"a": "1"});
    let created = deployments
        .patch("web", &apply, &Patch::Apply(&first))
        .await
        .expect("apply creates");
    let uid = created.metadata.uid.clone();
    assert_eq!(created.metadata.generation, Some(1));
    let twice = deployments
        .create(
            &PostParams::default(),
            &typed(deployment("web", 1, None, 0)),
        )
        .await
        .expect_err("a second create fails");
    let status = api_error(twice);
    assert_eq!(
        (status.code, status.reason.as_str()),
        (409, "AlreadyExists")
    );
    wait_for("the deployment to be ready", async || {
        fake.get::<Deployment>("default", "web")
            .filter(|d| d.status.as_ref().and_then(|s| s.ready_replicas) == Some(1))
    })
    .await;

    let mut second = deployment("web", 2, Some("sleep 600"), 0);
    second["metadata"]["labels"] = json!({"b": "2"});
    second["status"] = json!({"replicas": 99});
    let applied = deployments
        .patch("web", &apply, &Patch::Apply(&second))
        .await
        .expect("apply updates");
    assert_eq!(applied.metadata.uid, uid);
    assert_eq!(applied.metadata.generation, Some(2));
    let labels = applied.metadata.labels.clone().expect("labels");
    assert_eq!((labels["a"].as_str(), labels["b"].as_str()), ("1", "2"));
    assert_eq!(applied.spec.as_ref().and_then(|s| s.replicas), Some(2));
    assert_ne!(applied.status.as_ref().and_then(|s| s.replicas), Some(99));
    let request = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH")
        .expect("the apply was recorded");
    assert_eq!(request.content_type, "application/apply-patch+yaml");
    assert!(request.query.contains("fieldManager=mlstack") && request.query.contains("force=true"));

    let merged = deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"a": null}}})),
        )
        .await
        .expect("merge patch");
    assert!(!merged.metadata.labels.expect("labels").contains_key("a"));

    let path = "/apis/apps/v1/namespaces/default/deployments/web";
    let (status, patched) = http
        .patch(
            path,
            "application/strategic-merge-patch+json",
            &json!({"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "pytorch/pytorch:2.6"}]}}}}),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    let container = &patched["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "pytorch/pytorch:2.6");
    assert_eq!(
        container["command"],
        json!(["sh", "-c", "sleep 600"]),
        "merged by name"
    );

    let (status, patched) = http
        .patch(
            path,
            "application/json-patch+json",
            &json!([
                {"op": "test", "path": "/spec/replicas", "value": 2},
                {"op": "replace", "path": "/spec/replicas", "value": 3},
                {"op": "add", "path": "/metadata/labels/c", "value": "3"},
                {"op": "remove", "path": "/metadata/labels/b"}
            ]),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["spec"]["replicas"], 3);
    assert_eq!(patched["metadata"]["labels"], json!({"c": "3"}));
    let (status, _) = http
        .patch(
            path,
            "application/json-patch+json",
            &json!([{"op": "test", "path": "/spec/replicas", "value": 9}]),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = http.patch(path, "text/plain", &json!({})).await;
    assert_eq!(status, 415);
    let (status, refused) = http
        .send(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            "application/vnd.kubernetes.protobuf",
            Some(&config_map("binary")),
        )
        .await;
    assert_eq!(status, 415, "{refused}");

    // Applying a Job again unchanged passes: the selector and labels the
    // server generated stay, so the immutable template does not change.
    let jobs: Api<Job> = Api::default_namespaced(fake.client().await);
    let batch = job("batch", "sleep 600");
    let first = jobs
        .patch("batch", &apply, &Patch::Apply(&batch))
        .await
        .expect("apply creates the job");
    let again = jobs
        .patch("batch", &apply, &Patch::Apply(&batch))
        .await
        .expect("an unchanged apply passes");
    assert_eq!(
        again.spec.map(|s| s.template),
        first.spec.map(|s| s.template)
    );

    // The scale subresource moves the replicas.
    let scale = deployments
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 1}})),
        )
        .await
        .expect("scale");
    assert_eq!(scale.spec.and_then(|s| s.replicas), Some(1));
    wait_for("one replica", async || {
        (pods_of(&fake, "default", "web").len() == 1).then_some(())
    })
    .await;
}

#[tokio::test]
async fn deletion_propagates_to_dependents_as_asked() {
    let fake = FakeApiServer::start();
    let http = Http::new(&fake);
    let deployments: Api<Deployment> = Api::default_namespaced(fake.client().await);
    for name in ["bg", "fg", "orphan"] {
        deployments
            .create(&PostParams::default(), &typed(deployment(name, 2, None, 0)))
            .await
            .expect("created");
    }
    for name in ["bg", "fg", "orphan"] {
        wait_for("two running pods", async || {
            let pods = pods_of(&fake, "default", name);
            (pods.len() == 2 && pods.iter().all(|p| phase(p) == "Running")).then_some(())
        })
        .await;
    }

    deployments
        .delete("bg", &DeleteParams::background())
        .await
        .expect("deleted");
    assert!(deployments.get_opt("bg").await.expect("get").is_none());
    wait_for("the pods of bg to go", async || {
        pods_of(&fake, "default", "bg").is_empty().then_some(())
    })
    .await;

    deployments
        .delete("fg", &DeleteParams::foreground())
        .await
        .expect("deleted");
    let waiting = deployments
        .get("fg")
        .await
        .expect("still there while its pods go");
    assert!(waiting.metadata.deletion_timestamp.is_some());
    assert_eq!(
        waiting.metadata.finalizers,
        Some(vec!["foregroundDeletion".to_owned()])
    );
    wait_for("fg and its pods to go", async || {
        (fake.get::<Deployment>("default", "fg").is_none()
            && pods_of(&fake, "default", "fg").is_empty())
        .then_some(())
    })
    .await;

    deployments
        .delete("orphan", &DeleteParams::orphan())
        .await
        .expect("deleted");
    // Once a later deployment's pod runs, the controllers have had their
    // ticks: the orphans are still there, without an owner.
    deployments
        .create(
            &PostParams::default(),
            &typed(deployment("later", 1, None, 0)),
        )
        .await
        .expect("created");
    wait_for("the later pod to run", async || {
        pods_of(&fake, "default", "later")
            .iter()
            .any(|p| phase(p) == "Running")
            .then_some(())
    })
    .await;
    let orphans = pods_of(&fake, "default", "orphan");
    assert_eq!(orphans.len(), 2);
    assert!(orphans.iter().all(|p| {
        p.metadata
            .owner_references
            .as_ref()
            .is_none_or(Vec::is_empty)
    }));

    // A namespace takes everything in it along.
    assert_eq!(
        http.post(
            "/api/v1/namespaces",
            &json!({"metadata": {"name": "doomed"}})
        )
        .await
        .0,
        201
    );
    assert_eq!(
        http.post("/api/v1/namespaces/doomed/configmaps", &config_map("c"))
            .await
            .0,
        201
    );
    assert_eq!(
        http.post(
            "/apis/apps/v1/namespaces/doomed/deployments",
            &deployment("d", 1, None, 0)
        )
        .await
        .0,
        201
    );
    wait_for("the doomed pod", async || {
        (!pods_of(&fake, "doomed", "d").is_empty()).then_some(())
    })
    .await;
    let (status, terminating) = http.delete("/api/v1/namespaces/doomed").await;
    assert_eq!(status, 200);
    assert_eq!(terminating["status"]["phase"], "Terminating");
    wait_for("the namespace to go", async || {
        (fake.get_raw("namespaces", "", "doomed").is_none()
            && fake.list_raw("configmaps", Some("doomed"), "").is_empty()
            && fake.list_raw("pods", Some("doomed"), "").is_empty()
            && fake.list_raw("deployments", Some("doomed"), "").is_empty())
        .then_some(())
    })
    .await;
}

#[tokio::test]
async fn watches_replay_from_a_version_follow_selectors_and_bookmark() {
    let fake = FakeApiServer::start();
    let http = Http::new(&fake);
    let base = "/api/v1/namespaces/default/configmaps";
    let (_, a) = http.post(base, &config_map("a")).await;
    let since = a["metadata"]["resourceVersion"]
        .as_str()
        .expect("a version")
        .to_owned();
    let (_, b) = http.post(base, &config_map("b")).await;
    let mut changed = b.clone();
    changed["data"]["key"] = json!("changed");
    assert_eq!(http.put(&format!("{base}/b"), &changed).await.0, 200);
    assert_eq!(http.delete(&format!("{base}/a")).await.0, 200);

    let mut watch = http
        .stream(&format!(
            "{base}?watch=1&resourceVersion={since}&allowWatchBookmarks=true"
        ))
        .await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let event = watch.next_event().await.expect("an event");
        seen.push(format!(
            "{} {}",
            event["type"].as_str().unwrap_or(""),
            name_of(&event["object"])
        ));
    }
    assert_eq!(seen, ["ADDED b", "MODIFIED b", "DELETED a"]);
    let bookmark = watch
        .event_where("a bookmark", |e| e["type"] == "BOOKMARK")
        .await;
    assert_eq!(bookmark["object"]["kind"], "ConfigMap");
    assert!(bookmark["object"]["metadata"]["resourceVersion"].is_string());
    http.post(base, &config_map("c")).await;
    let added = watch
        .event_where("c added", |e| e["type"] != "BOOKMARK")
        .await;
    assert_eq!(
        (added["type"].as_str(), name_of(&added["object"])),
        (Some("ADDED"), "c")
    );

    // A selector watch sees objects enter and leave the selection.
    let (_, list) = http.get(base).await;
    let now = list["metadata"]["resourceVersion"]
        .as_str()
        .expect("version")
        .to_owned();
    let mut red = http
        .stream(&format!(
            "{base}?watch=true&resourceVersion={now}&labelSelector=colour%3Dred"
        ))
        .await;
    let label = |colour: &str| json!({"metadata": {"labels": {"colour": colour}}});
    let merge = "application/merge-patch+json";
    http.patch(&format!("{base}/c"), merge, &label("red")).await;
    http.patch(&format!("{base}/c"), merge, &label("blue"))
        .await;
    let entered = red.next_event().await.expect("an event");
    let left = red.next_event().await.expect("an event");
    assert_eq!(
        (entered["type"].as_str(), left["type"].as_str()),
        (Some("ADDED"), Some("DELETED"))
    );

    // Without a version a watch starts with the current objects; it ends
    // at its timeout.
    let mut fresh = http
        .stream(&format!("{base}?watch=true&timeoutSeconds=1"))
        .await;
    let mut initial = Vec::new();
    while let Some(event) = fresh.next_event().await {
        initial.push(format!(
            "{} {}",
            event["type"].as_str().unwrap_or(""),
            name_of(&event["object"])
        ));
    }
    assert_eq!(initial, ["ADDED b", "ADDED c"]);

    // A streaming list: the current objects, then a bookmark marking the
    // end of them.
    let mut streaming = http
        .stream(&format!(
            "{base}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"
        ))
        .await;
    let mut kinds = Vec::new();
    let end = loop {
        let event = streaming.next_event().await.expect("an event");
        if event["type"] == "BOOKMARK" {
            break event;
        }
        kinds.push(format!(
            "{} {}",
            event["type"].as_str().unwrap_or(""),
            name_of(&event["object"])
        ));
    };
    assert_eq!(kinds, ["ADDED b", "ADDED c"]);
    assert_eq!(
        end["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
}

#[tokio::test]
async fn a_watch_from_a_forgotten_version_gets_410_gone() {
    let fake = FakeApiServer::builder()
        .history_limit(3)
        .try_start()
        .expect("starts");
    let http = Http::new(&fake);
    let base = "/api/v1/namespaces/default/configmaps";
    let (_, first) = http.post(base, &config_map("c0")).await;
    let since = first["metadata"]["resourceVersion"]
        .as_str()
        .expect("version")
        .to_owned();
    for i in 1..6 {
        http.post(base, &config_map(&format!("c{i}"))).await;
    }
    let mut watch = http
        .stream(&format!("{base}?watch=true&resourceVersion={since}"))
        .await;
    let error = watch.next_event().await.expect("an error event");
    assert_eq!(error["type"], "ERROR");
    assert_eq!(error["object"]["code"], 410);
    assert_eq!(error["object"]["reason"], "Expired");
    assert!(watch.next_event().await.is_none(), "the stream ends");

    let config_maps: Api<ConfigMap> = Api::default_namespaced(fake.client().await);
    let mut events = config_maps
        .watch(&kube::api::WatchParams::default(), &since)
        .await
        .expect("watch")
        .boxed();
    match events.next().await {
        Some(Ok(kube::api::WatchEvent::Error(status))) => assert_eq!(status.code, 410),
        other => panic!("expected 410, got {other:?}"),
    }
}

#[tokio::test]
async fn a_deployment_pod_is_scheduled_and_runs() {
    let fake = FakeApiServer::start();
    let http = Http::new(&fake);
    let deployments: Api<Deployment> = Api::default_namespaced(fake.client().await);
    deployments
        .create(
            &PostParams::default(),
            &typed(deployment("web", 1, None, 1)),
        )
        .await
        .expect("created");
    let running = wait_for_pod(&fake, "default", "app=web", "a running pod", |p| {
        phase(p) == "Running"
    })
    .await;
    let deployment = fake.get::<Deployment>("default", "web").expect("stored");
    let name = running.metadata.name.clone().expect("name");
    assert!(name.starts_with("web-"));
    let labels = running.metadata.labels.clone().expect("labels");
    assert!(labels.contains_key("pod-template-hash"));
    let owner = &running.metadata.owner_references.clone().expect("owned")[0];
    assert_eq!(
        (owner.kind.as_str(), Some(owner.uid.clone())),
        ("Deployment", deployment.metadata.uid.clone())
    );
    assert_eq!(owner.controller, Some(true));
    let spec = running.spec.clone().expect("spec");
    assert_eq!(spec.node_name.as_deref(), Some("gpu-node-1"));
    let status = running.status.clone().expect("status");
    assert!(status.pod_ip.is_some() && status.start_time.is_some());
    assert_eq!(status.host_ip.as_deref(), Some("127.0.0.1"));
    let container = container_state(&running).expect("a container status");
    assert!(container.ready);
    assert!(
        container
            .state
            .as_ref()
            .and_then(|s| s.running.as_ref())
            .is_some()
    );
    let ready = status
        .conditions
        .expect("conditions")
        .into_iter()
        .find(|c| c.type_ == "Ready")
        .expect("a Ready condition");
    assert_eq!(ready.status, "True");

    let events = events_about(&http, "default", &name).await;
    for reason in ["Scheduled", "Pulling", "Pulled", "Created", "Started"] {
        assert!(has_event(&events, reason), "{reason} in {events:?}");
    }
    let typed_events = fake.list::<Event>(Some("default"), "");
    let scheduled = typed_events
        .iter()
        .find(|e| e.reason.as_deref() == Some("Scheduled"))
        .expect("a Scheduled event");
    assert_eq!(scheduled.involved_object.uid, running.metadata.uid);
    assert_eq!(
        scheduled.message.as_deref(),
        Some(format!("Successfully assigned default/{name} to gpu-node-1").as_str())
    );

    let deployment = wait_for("the deployment status", async || {
        fake.get::<Deployment>("default", "web")
            .filter(|d| d.status.as_ref().and_then(|s| s.available_replicas) == Some(1))
    })
    .await;
    let status = deployment.status.expect("status");
    assert_eq!(
        (
            status.replicas,
            status.updated_replicas,
            status.observed_generation
        ),
        (Some(1), Some(1), Some(1))
    );
    let available = status
        .conditions
        .expect("conditions")
        .into_iter()
        .find(|c| c.type_ == "Available")
        .expect("Available");
    assert_eq!(available.status, "True");

    // A changed template replaces the pod; zero replicas removes it.
    deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"spec": {"template": {"metadata": {"labels": {"app": "web", "v": "2"}}}}}),
            ),
        )
        .await
        .expect("patched");
    wait_for_pod(&fake, "default", "app=web,v=2", "the new pod", |p| {
        phase(p) == "Running"
    })
    .await;
    wait_for("the old pod to go", async || {
        (pods_of(&fake, "default", "web").len() == 1).then_some(())
    })
    .await;
    deployments
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 0}})),
        )
        .await
        .expect("scaled");
    wait_for("no pods", async || {
        pods_of(&fake, "default", "web").is_empty().then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_job_succeeds_and_its_pod_log_holds_the_echo_lines() {
    let fake = FakeApiServer::start();
    let http = Http::new(&fake);
    let client = fake.client().await;
    let jobs: Api<Job> = Api::default_namespaced(client.clone());
    let pods: Api<Pod> = Api::default_namespaced(client);
    jobs.create(
        &PostParams::default(),
        &typed(job(
            "train",
            "echo one; echo 'two  words' && sleep 0.2\necho three",
        )),
    )
    .await
    .expect("created");
    let train = wait_for("the job to complete", async || {
        fake.get::<Job>("default", "train").filter(|j| {
            j.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| {
                    c.iter()
                        .any(|c| c.type_ == "Complete" && c.status == "True")
                })
        })
    })
    .await;
    let status = train.status.clone().expect("status");
    assert_eq!((status.succeeded, status.active), (Some(1), Some(0)));
    assert!(status.start_time.is_some() && status.completion_time.is_some());
    let conditions: Vec<String> = status
        .conditions
        .expect("conditions")
        .into_iter()
        .map(|c| c.type_)
        .collect();
    assert_eq!(conditions, ["SuccessCriteriaMet", "Complete"]);

    let job_pod = fake
        .list::<Pod>(Some("default"), "job-name=train")
        .pop()
        .expect("the job's pod");
    let name = job_pod.metadata.name.clone().expect("name");
    assert!(
        name.starts_with("train-") && name.len() == "train-".len() + 5,
        "{name}"
    );
    let labels = job_pod.metadata.labels.clone().expect("labels");
    assert_eq!(labels["batch.kubernetes.io/job-name"], "train");
    assert_eq!(phase(&job_pod), "Succeeded");
    let terminated = container_state(&job_pod)
        .and_then(|c| c.state.as_ref())
        .and_then(|s| s.terminated.clone())
        .expect("terminated");
    assert_eq!(
        (terminated.exit_code, terminated.reason.as_deref()),
        (0, Some("Completed"))
    );

    let log = pods.logs(&name, &LogParams::default()).await.expect("log");
    assert_eq!(log, "one\ntwo  words\nthree\n");
    let tail = pods
        .logs(
            &name,
            &LogParams {
                tail_lines: Some(1),
                ..LogParams::default()
            },
        )
        .await
        .expect("log");
    assert_eq!(tail, "three\n");
    let events = events_about(&http, "default", "train").await;
    assert!(
        has_event(&events, "SuccessfulCreate") && has_event(&events, "Completed"),
        "{events:?}"
    );

    // A pod placed by its own spec, with two containers: logs need the
    // container's name.
    let mut pair = pod("pair", json!({}));
    pair["spec"]["nodeName"] = json!("gpu-node-1");
    pair["spec"]["containers"] = json!([
        {"name": "left", "image": "busybox", "command": ["sh", "-c", "echo from left; sleep 600"]},
        {"name": "right", "image": "busybox", "command": ["sh", "-c", "echo from right; sleep 600"]}
    ]);
    assert_eq!(
        http.post("/api/v1/namespaces/default/pods", &pair).await.0,
        201
    );
    wait_for("the pair to run", async || {
        fake.get::<Pod>("default", "pair")
            .filter(|p| phase(p) == "Running")
    })
    .await;
    assert!(!has_event(
        &events_about(&http, "default", "pair").await,
        "Scheduled"
    ));
    let (status, refused) = http.get("/api/v1/namespaces/default/pods/pair/log").await;
    assert_eq!(status, 400);
    assert_eq!(
        refused["message"],
        "a container name must be specified for pod pair, choose one of: [left right]"
    );
    let right = pods
        .logs(
            "pair",
            &LogParams {
                container: Some("right".into()),
                ..LogParams::default()
            },
        )
        .await
        .expect("log");
    assert_eq!(right, "from right\n");

    // A followed log streams lines as the script writes them and ends
    // with the container.
    jobs.create(
        &PostParams::default(),
        &typed(job("slow", "echo first; sleep 1; echo second")),
    )
    .await
    .expect("created");
    let running = wait_for_pod(
        &fake,
        "default",
        "job-name=slow",
        "the slow pod to run",
        |p| phase(p) == "Running",
    )
    .await;
    let name = running.metadata.name.expect("name");
    let mut follow = http
        .stream(&format!(
            "/api/v1/namespaces/default/pods/{name}/log?follow=true"
        ))
        .await;
    assert_eq!(follow.next_line().await.as_deref(), Some("first"));
    assert_eq!(follow.next_line().await.as_deref(), Some("second"));
    assert_eq!(follow.next_line().await, None);
}

#[tokio::test]
async fn failures_show_as_kubernetes_shows_them() {
    let fake = FakeApiServer::start();
    let http = Http::new(&fake);
    let jobs = "/apis/batch/v1/namespaces/default/jobs";
    assert_eq!(
        http.post(jobs, &job("fails", "echo trying; exit 3"))
            .await
            .0,
        201
    );
    assert_eq!(
        http.post(jobs, &job("oom", "echo loading; fake-oom"))
            .await
            .0,
        201
    );

    let failed = wait_for_pod(&fake, "default", "job-name=fails", "the failed pod", |p| {
        phase(p) == "Failed"
    })
    .await;
    let terminated = container_state(&failed)
        .and_then(|c| c.state.as_ref())
        .and_then(|s| s.terminated.clone())
        .expect("terminated");
    assert_eq!(
        (terminated.exit_code, terminated.reason.as_deref()),
        (3, Some("Error"))
    );
    let job = wait_for("the job to fail", async || {
        fake.get::<Job>("default", "fails").and_then(|j| {
            j.status?
                .conditions?
                .into_iter()
                .find(|c| c.type_ == "Failed" && c.status == "True")
        })
    })
    .await;
    assert_eq!(job.reason.as_deref(), Some("BackoffLimitExceeded"));
    assert_eq!(
        fake.get::<Job>("default", "fails")
            .and_then(|j| j.status?.failed),
        Some(1)
    );

    let oom = wait_for_pod(
        &fake,
        "default",
        "job-name=oom",
        "the OOM-killed pod",
        |p| phase(p) == "Failed",
    )
    .await;
    let terminated = container_state(&oom)
        .and_then(|c| c.state.as_ref())
        .and_then(|s| s.terminated.clone())
        .expect("terminated");
    assert_eq!(
        (terminated.exit_code, terminated.reason.as_deref()),
        (137, Some("OOMKilled"))
    );

    // An image that does not exist: ErrImagePull, then ImagePullBackOff.
    let mut missing = deployment("missing", 1, None, 0);
    missing["spec"]["template"]["spec"]["containers"][0]["image"] =
        json!("registry.example/no-such-image:1");
    assert_eq!(
        http.post("/apis/apps/v1/namespaces/default/deployments", &missing)
            .await
            .0,
        201
    );
    let pulling = wait_for_pod(
        &fake,
        "default",
        "app=missing",
        "the pull to back off",
        |p| {
            container_state(p)
                .and_then(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone())
                .is_some_and(|r| r == "ImagePullBackOff")
        },
    )
    .await;
    assert_eq!(phase(&pulling), "Pending");
    let name = pulling.metadata.name.expect("name");
    let events = events_about(&http, "default", &name).await;
    assert!(
        has_event(&events, "Failed") && has_event(&events, "BackOff"),
        "{events:?}"
    );
    assert!(events.iter().any(|e| e["message"] == "Error: ErrImagePull"));
    let (status, refused) = http
        .get(&format!("/api/v1/namespaces/default/pods/{name}/log"))
        .await;
    assert_eq!(status, 400);
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("is waiting to start"))
    );

    // A deployment's container that exits restarts after a back-off.
    assert_eq!(
        http.post(
            "/apis/apps/v1/namespaces/default/deployments",
            &deployment("crashy", 1, Some("echo hi; exit 2"), 0)
        )
        .await
        .0,
        201
    );
    let crashed = wait_for_pod(&fake, "default", "app=crashy", "a restart", |p| {
        container_state(p).is_some_and(|c| c.restart_count >= 1)
    })
    .await;
    let container = container_state(&crashed).expect("status");
    let last = container
        .last_state
        .as_ref()
        .and_then(|s| s.terminated.clone())
        .expect("the last run");
    assert_eq!((last.exit_code, last.reason.as_deref()), (2, Some("Error")));
    wait_for_pod(&fake, "default", "app=crashy", "CrashLoopBackOff", |p| {
        container_state(p)
            .and_then(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone())
            .is_some_and(|r| r == "CrashLoopBackOff")
    })
    .await;
}

#[tokio::test]
async fn pods_stay_pending_when_gpus_run_short() {
    let fake = FakeApiServer::start();
    let http = Http::new(&fake);
    assert_eq!(
        http.post(
            "/apis/apps/v1/namespaces/default/deployments",
            &deployment("big", 5, None, 1)
        )
        .await
        .0,
        201
    );
    let pending = wait_for("four running and one unschedulable", async || {
        let pods = pods_of(&fake, "default", "big");
        let running = pods.iter().filter(|p| phase(p) == "Running").count();
        let stuck = pods.iter().find(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| {
                    c.iter().any(|c| {
                        c.type_ == "PodScheduled" && c.reason.as_deref() == Some("Unschedulable")
                    })
                })
        });
        (running == 4).then_some(stuck.cloned()).flatten()
    })
    .await;
    assert_eq!(phase(&pending), "Pending");
    assert!(
        pending
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .is_none()
    );
    let name = pending.metadata.name.expect("name");
    let events = events_about(&http, "default", &name).await;
    let failed = events
        .iter()
        .find(|e| e["reason"] == "FailedScheduling")
        .expect("a FailedScheduling event");
    assert_eq!(failed["type"], "Warning");
    assert_eq!(
        failed["message"],
        "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."
    );

    // A MIG node with a label the pod selects.
    fake.add_node(
        FakeNode::new("mig-node")
            .resource("nvidia.com/mig-1g.10gb", "7")
            .label("nvidia.com/mig.config", "all-1g.10gb"),
    );
    let mut mig = deployment("mig", 1, None, 0);
    mig["spec"]["template"]["spec"]["containers"][0]["resources"] =
        json!({"limits": {"nvidia.com/mig-1g.10gb": "1"}});
    mig["spec"]["template"]["spec"]["nodeSelector"] =
        json!({"nvidia.com/mig.config": "all-1g.10gb"});
    assert_eq!(
        http.post("/apis/apps/v1/namespaces/default/deployments", &mig)
            .await
            .0,
        201
    );
    let placed = wait_for_pod(&fake, "default", "app=mig", "the MIG pod to run", |p| {
        phase(p) == "Running"
    })
    .await;
    assert_eq!(
        placed.spec.and_then(|s| s.node_name).as_deref(),
        Some("mig-node")
    );
    let message = wait_for("the message naming both nodes", async || {
        let pod = fake.get::<Pod>("default", &name)?;
        let condition = pod
            .status?
            .conditions?
            .into_iter()
            .find(|c| c.type_ == "PodScheduled")?;
        condition.message.filter(|m| m.starts_with("0/2"))
    })
    .await;
    assert_eq!(
        message,
        "0/2 nodes are available: 2 Insufficient nvidia.com/gpu."
    );
    let mut nowhere = pod("nowhere", json!({}));
    nowhere["spec"]["nodeSelector"] = json!({"pool": "tpu"});
    assert_eq!(
        http.post("/api/v1/namespaces/default/pods", &nowhere)
            .await
            .0,
        201
    );
    let message = wait_for("the selector to rule out both nodes", async || {
        let pod = fake.get::<Pod>("default", "nowhere")?;
        let condition = pod
            .status?
            .conditions?
            .into_iter()
            .find(|c| c.type_ == "PodScheduled")?;
        condition.message
    })
    .await;
    assert_eq!(
        message,
        "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."
    );
}

#[tokio::test]
async fn quotas_refuse_what_does_not_fit_and_report_use() {
    let fake = FakeApiServer::start();
    let http = Http::new(&fake);
    http.post("/api/v1/namespaces", &json!({"metadata": {"name": "lab"}}))
        .await;
    let quota: ResourceQuota = typed(json!({"metadata": {"name": "gpu-quota"}, "spec": {"hard": {
        "requests.nvidia.com/gpu": "1",
        "requests.storage": "10Gi",
        "count/deployments.apps": "5",
    }}}));
    let stored = fake.create("lab", &quota).expect("the quota is valid");
    assert!(stored.metadata.uid.is_some());
    let refused = fake
        .create("nowhere", &quota)
        .expect_err("no such namespace");
    assert_eq!((refused.code, refused.reason.as_str()), (404, "NotFound"));
    let mut gpu_pod = pod("first", json!({}));
    gpu_pod["spec"]["containers"][0]["resources"] = json!({"limits": {"nvidia.com/gpu": "1"}});
    assert_eq!(
        http.post("/api/v1/namespaces/lab/pods", &gpu_pod).await.0,
        201
    );
    gpu_pod["metadata"]["name"] = json!("second");
    let (status, refused) = http.post("/api/v1/namespaces/lab/pods", &gpu_pod).await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["reason"], "Forbidden");
    assert_eq!(
        refused["message"],
        "pods \"second\" is forbidden: exceeded quota: gpu-quota, requested: requests.nvidia.com/gpu=1, used: requests.nvidia.com/gpu=1, limited: requests.nvidia.com/gpu=1"
    );
    let claim = json!({"metadata": {"name": "big"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "20Gi"}}}});
    let (status, refused) = http
        .post("/api/v1/namespaces/lab/persistentvolumeclaims", &claim)
        .await;
    assert_eq!(status, 403);
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("requested: requests.storage=20Gi"))
    );

    // A controller that cannot create its pod says so on its owner.
    let mut gpu = deployment("trainer", 1, None, 1);
    gpu["metadata"]["namespace"] = json!("lab");
    assert_eq!(
        http.post("/apis/apps/v1/namespaces/lab/deployments", &gpu)
            .await
            .0,
        201
    );
    let events = wait_for("a FailedCreate event", async || {
        let events = events_about(&http, "lab", "trainer").await;
        has_event(&events, "FailedCreate").then_some(events)
    })
    .await;
    let failed = events
        .iter()
        .find(|e| e["reason"] == "FailedCreate")
        .expect("event");
    assert_eq!(failed["type"], "Warning");
    assert!(
        failed["message"]
            .as_str()
            .is_some_and(|m| m.contains("exceeded quota: gpu-quota"))
    );
    assert_eq!(failed["involvedObject"]["kind"], "Deployment");

    let used = wait_for("the quota's use", async || {
        let quota = fake.get::<ResourceQuota>("lab", "gpu-quota")?;
        let used = quota.status?.used?;
        (used.get("count/deployments.apps")?.0 == "1").then_some(used)
    })
    .await;
    assert_eq!(used["requests.nvidia.com/gpu"].0, "1");
    assert_eq!(used["requests.storage"].0, "0");

    // Freeing the GPU lets the deployment's pod in on a later tick.
    assert_eq!(
        http.send(
            "DELETE",
            "/api/v1/namespaces/lab/pods/first?gracePeriodSeconds=0",
            "",
            None
        )
        .await
        .0,
        200
    );
    wait_for_pod(&fake, "lab", "app=trainer", "the trainer to run", |p| {
        phase(p) == "Running"
    })
    .await;
}

#[tokio::test]
async fn node_ports_are_assigned_once_and_kept() {
    let fake = FakeApiServer::start();
    let http = Http::new(&fake);
    let services: Api<Service> = Api::default_namespaced(fake.client().await);
    let service = |name: &str, ports: Value| {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
               "spec": {"type": "NodePort", "selector": {"app": name}, "ports": ports}})
    };
    let apply = PatchParams::apply("mlstack").force();
    let ports = json!([{"name": "ssh", "port": 22}, {"name": "jupyter", "port": 8888}]);
    let created = services
        .patch("lab", &apply, &Patch::Apply(service("lab", ports.clone())))
        .await
        .expect("applied");
    let node_ports: Vec<i32> = created
        .spec
        .expect("spec")
        .ports
        .expect("ports")
        .iter()
        .filter_map(|p| p.node_port)
        .collect();
    assert_eq!(node_ports.len(), 2);
    assert!(node_ports.iter().all(|p| (30000..=32767).contains(p)));
    assert_ne!(node_ports[0], node_ports[1]);

    let again = services
        .patch("lab", &apply, &Patch::Apply(service("lab", ports)))
        .await
        .expect("applied again");
    let kept: Vec<i32> = again
        .spec
        .expect("spec")
        .ports
        .expect("ports")
        .iter()
        .filter_map(|p| p.node_port)
        .collect();
    assert_eq!(kept, node_ports);

    let chosen = http
        .post(
            "/api/v1/namespaces/default/services",
            &service("chosen", json!([{"port": 80, "nodePort": 31000}])),
        )
        .await;
    assert_eq!(chosen.0, 201);
    assert_eq!(chosen.1["spec"]["ports"][0]["nodePort"], 31000);
    let (status, taken) = http
        .post(
            "/api/v1/namespaces/default/services",
            &service("taken", json!([{"port": 80, "nodePort": 31000}])),
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        taken["message"]
            .as_str()
            .is_some_and(|m| m.contains("provided port is already allocated"))
    );
    let (status, _) = http
        .post(
            "/api/v1/namespaces/default/services",
            &service("outside", json!([{"port": 80, "nodePort": 80}])),
        )
        .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn faults_are_injected_and_a_restart_keeps_the_objects() {
    let fake = FakeApiServer::start();
    let http = Http::new(&fake);
    let base = "/api/v1/namespaces/default/configmaps";
    fake.fail_next(
        Fault::status(503)
            .times(2)
            .on_path("configmaps")
            .on_method("post"),
    );
    fake.fail_next(Fault::status(409).on_path("never-requested"));
    for _ in 0..2 {
        let (status, body) = http.post(base, &config_map("kept")).await;
        assert_eq!(status, 503);
        assert_eq!(
            (body["kind"].as_str(), body["reason"].as_str()),
            (Some("Status"), Some("ServiceUnavailable"))
        );
    }
    assert_eq!(http.get(base).await.0, 200, "only POSTs fail");
    assert_eq!(http.post(base, &config_map("kept")).await.0, 201);

    fake.forbid("create", "pods");
    let (status, forbidden) = http
        .post("/api/v1/namespaces/default/pods", &pod("p", json!({})))
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        forbidden["message"],
        "pods is forbidden: User \"fake-user\" cannot create resource \"pods\" in API group \"\" in the namespace \"default\""
    );
    let review = |verb: &str| {
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
               "spec": {"resourceAttributes": {"verb": verb, "resource": "pods", "namespace": "default"}}})
    };
    let reviews = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
    let (status, create) = http.post(reviews, &review("create")).await;
    assert_eq!(status, 201);
    assert_eq!(create["status"]["allowed"], false);
    assert_eq!(
        http.post(reviews, &review("list")).await.1["status"]["allowed"],
        true
    );
    let (_, rules) = http
        .post(
            "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
            &json!({"spec": {"namespace": "default"}}),
        )
        .await;
    let pod_rule = rules["status"]["resourceRules"]
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| r["resources"] == json!(["pods"]))
        .expect("a rule for pods");
    assert!(
        !pod_rule["verbs"]
            .as_array()
            .expect("verbs")
            .contains(&json!("create"))
    );
    fake.clear_faults();
    fake.set_latency(Duration::from_millis(100));
    assert_eq!(
        http.post("/api/v1/namespaces/default/pods", &pod("p", json!({})))
            .await
            .0,
        201
    );
    fake.set_latency(Duration::ZERO);

    // Stopped: nothing answers, a watch ends; started again: same port,
    // same objects.
    let mut watch = http
        .stream(&format!("{base}?watch=true&resourceVersion=1"))
        .await;
    fake.stop();
    while watch.next_line().await.is_some() {}
    let refused = http.request("GET", base).send().await;
    assert!(refused.is_err(), "nothing listens while stopped");
    fake.start_again();
    let (status, list) = http.get(base).await;
    assert_eq!(status, 200);
    assert_eq!(names(&list), ["kept"]);
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.method == "POST" && r.path == base)
    );
}

/// The next item a watcher reports.
async fn next<S, T>(seen: &mut S) -> T
where
    S: futures_util::Stream<Item = Result<T, watcher::Error>> + Unpin,
{
    tokio::time::timeout(Duration::from_secs(20), seen.next())
        .await
        .expect("the watcher moves within 20 s")
        .expect("the watcher runs")
        .expect("no watcher error")
}

/// The name of the next object a watcher reports.
async fn next_name<S>(seen: &mut S) -> String
where
    S: futures_util::Stream<Item = Result<ConfigMap, watcher::Error>> + Unpin,
{
    next(seen).await.metadata.name.expect("name")
}

#[tokio::test]
async fn a_kube_watcher_survives_cut_watches() {
    let fake = FakeApiServer::start();
    let client = fake.client().await;
    let config_maps: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let metadata_only: Api<PartialObjectMeta<ConfigMap>> = Api::default_namespaced(client);
    config_maps
        .create(&PostParams::default(), &typed(config_map("before")))
        .await
        .expect("created");
    let mut seen = pin!(
        watcher(config_maps.clone(), watcher::Config::default())
            .default_backoff()
            .applied_objects()
    );
    let mut streamed = pin!(
        watcher(
            config_maps.clone(),
            watcher::Config::default().streaming_lists()
        )
        .default_backoff()
        .applied_objects()
    );
    let mut metadata = pin!(
        watcher(metadata_only, watcher::Config::default())
            .default_backoff()
            .applied_objects()
            .map(|m| m.map(|m| m.metadata.name.unwrap_or_default()))
    );
    assert_eq!(next_name(&mut seen).await, "before");
    assert_eq!(next_name(&mut streamed).await, "before");
    assert_eq!(next(&mut metadata).await, "before");
    // Seen through the watches themselves: the streams are open from here.
    config_maps
        .create(&PostParams::default(), &typed(config_map("warm")))
        .await
        .expect("created");
    assert_eq!(next_name(&mut seen).await, "warm");
    assert_eq!(next_name(&mut streamed).await, "warm");
    assert_eq!(next(&mut metadata).await, "warm");
    for round in 0..2 {
        fake.cut_watches();
        let name = format!("after-{round}");
        config_maps
            .create(&PostParams::default(), &typed(config_map(&name)))
            .await
            .expect("created");
        assert_eq!(next_name(&mut seen).await, name);
        assert_eq!(next_name(&mut streamed).await, name);
        assert_eq!(next(&mut metadata).await, name);
    }
    let watches = fake
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/configmaps") && r.query.contains("watch=true"))
        .count();
    assert!(
        watches >= 9,
        "each watcher watched again after each cut ({watches})"
    );
}

#[tokio::test]
async fn job_deadlines_suspension_and_ttl_work() {
    let fake = FakeApiServer::start();
    let http = Http::new(&fake);
    let jobs = "/apis/batch/v1/namespaces/default/jobs";
    let mut slow = job("slow", "sleep 600");
    slow["spec"]["activeDeadlineSeconds"] = json!(1);
    assert_eq!(http.post(jobs, &slow).await.0, 201);
    let mut parked = job("parked", "sleep 600");
    parked["spec"]["suspend"] = json!(true);
    assert_eq!(http.post(jobs, &parked).await.0, 201);
    let mut brief = job("brief", "echo done");
    brief["spec"]["ttlSecondsAfterFinished"] = json!(0);
    let (_, created) = http.post(jobs, &brief).await;
    assert!(
        created["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"]
            .is_string()
    );

    let condition = |name: &str, kind: &str| {
        fake.get::<Job>("default", name).and_then(|j| {
            j.status?
                .conditions?
                .into_iter()
                .find(|c| c.type_ == kind && c.status == "True")
        })
    };
    let failed = wait_for("the deadline", async || condition("slow", "Failed")).await;
    assert_eq!(failed.reason.as_deref(), Some("DeadlineExceeded"));
    wait_for("the slow pod to go", async || {
        fake.list::<Pod>(Some("default"), "job-name=slow")
            .is_empty()
            .then_some(())
    })
    .await;

    let suspended = wait_for("the suspension", async || condition("parked", "Suspended")).await;
    assert_eq!(suspended.reason.as_deref(), Some("JobSuspended"));
    assert!(
        fake.list::<Pod>(Some("default"), "job-name=parked")
            .is_empty()
    );
    http.patch(
        &format!("{jobs}/parked"),
        "application/merge-patch+json",
        &json!({"spec": {"suspend": false}}),
    )
    .await;
    wait_for_pod(
        &fake,
        "default",
        "job-name=parked",
        "the resumed pod",
        |p| phase(p) == "Running",
    )
    .await;

    wait_for("the finished job to be removed", async || {
        (fake.get::<Job>("default", "brief").is_none()
            && fake
                .list::<Pod>(Some("default"), "job-name=brief")
                .is_empty())
        .then_some(())
    })
    .await;
}

/// The example binary, when the build made it (`cargo test` and `cargo
/// nextest run --all-targets` build examples; a run limited to the
/// integration test target does not).
fn example_binary() -> Option<std::path::PathBuf> {
    let test_binary = std::env::current_exe().ok()?;
    let profile_dir = test_binary.parent()?.parent()?;
    let binary = profile_dir.join("examples").join("fake-apiserver");
    binary.exists().then_some(binary)
}

#[tokio::test]
async fn the_example_binary_serves_until_sigterm() {
    let Some(binary) = example_binary() else {
        println!("skipped: the fake-apiserver example was not built (run with --all-targets)");
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    let kubeconfig = dir.path().join("kubeconfig");
    let mut child = std::process::Command::new(&binary)
        .args(["--port", "0", "--kubeconfig"])
        .arg(&kubeconfig)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the example starts");
    let stdout = child.stdout.take().expect("stdout");
    let url = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).map(|_| line)
    })
    .await
    .expect("read")
    .expect("the URL line");
    let url = url.trim().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let parsed =
        kube::config::Kubeconfig::read_from(&kubeconfig).expect("kube-rs reads the kubeconfig");
    assert_eq!(
        parsed.clusters[0]
            .cluster
            .as_ref()
            .and_then(|c| c.server.clone()),
        Some(url.clone())
    );
    let config = kube::Config::from_custom_kubeconfig(parsed, &Default::default())
        .await
        .expect("a kube-rs config");
    let client = kube::Client::try_from(config).expect("a client");
    let nodes: Api<Node> = Api::all(client);
    let listed = nodes
        .list(&ListParams::default())
        .await
        .expect("nodes over plain HTTP");
    assert_eq!(listed.items.len(), 1);

    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("signal");
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("wait")
        .expect("exit status");
    assert!(status.success(), "{status}");
}
