//! What the API server does with a request once routed: create, read,
//! update, patch and delete with the real server's checks (names,
//! validation, optimistic concurrency, quotas, namespaces that exist),
//! server-assigned fields (uid, timestamps, cluster IPs, node ports), and
//! deletion with grace periods, finalizers and propagation to dependents.
//! The controllers write through the same functions.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use rand::Rng;
use serde_json::{Value, json};

use super::patch;
use super::quota;
use super::resources::{self, ResourceInfo};
use super::selectors::{FieldSelector, LabelSelector};
use super::store::{Key, Store, key_of, meta};
use super::validate::{self, Cause};

/// An error the API answers with, as a `Status` object.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: u16,
    pub reason: String,
    pub message: String,
    pub details: Value,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

/// The `reason` the real server gives for a status code.
pub fn reason_for(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        410 => "Expired",
        415 => "UnsupportedMediaType",
        422 => "Invalid",
        429 => "TooManyRequests",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "InternalError",
    }
}

impl ApiError {
    pub fn new(code: u16, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason: reason_for(code).to_owned(),
            message: message.into(),
            details: json!({}),
        }
    }

    fn with_details(mut self, resource: &ResourceInfo, name: &str) -> ApiError {
        let mut details = json!({"name": name, "kind": resource.plural});
        if !resource.group.is_empty() {
            details["group"] = json!(resource.group);
        }
        self.details = details;
        self
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, message)
    }

    pub fn not_found(resource: &ResourceInfo, name: &str) -> ApiError {
        ApiError::new(
            404,
            format!("{} \"{name}\" not found", resource.group_resource()),
        )
        .with_details(resource, name)
    }

    pub fn forbidden(resource: &ResourceInfo, name: &str, why: &str) -> ApiError {
        ApiError::new(
            403,
            format!(
                "{} \"{name}\" is forbidden: {why}",
                resource.group_resource()
            ),
        )
        .with_details(resource, name)
    }

    fn already_exists(resource: &ResourceInfo, name: &str) -> ApiError {
        let mut error = ApiError::new(
            409,
            format!("{} \"{name}\" already exists", resource.group_resource()),
        )
        .with_details(resource, name);
        error.reason = "AlreadyExists".into();
        error
    }

    fn conflict(resource: &ResourceInfo, name: &str, why: &str) -> ApiError {
        ApiError::new(
            409,
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                resource.group_resource()
            ),
        )
        .with_details(resource, name)
    }

    fn stale(resource: &ResourceInfo, name: &str) -> ApiError {
        ApiError::conflict(
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    fn invalid(resource: &ResourceInfo, name: &str, causes: Vec<Cause>) -> ApiError {
        let lines: Vec<String> = causes
            .iter()
            .map(|c| {
                if c.field.is_empty() {
                    c.message.clone()
                } else {
                    format!("{}: {}", c.field, c.message)
                }
            })
            .collect();
        let summary = if lines.len() == 1 {
            lines[0].clone()
        } else {
            format!("[{}]", lines.join(", "))
        };
        let mut error = ApiError::new(
            422,
            format!("{} \"{name}\" is invalid: {summary}", resource.group_kind()),
        );
        let causes: Vec<Value> = causes
            .iter()
            .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
            .collect();
        error.details = json!({"name": name, "kind": resource.kind, "causes": causes});
        if !resource.group.is_empty() {
            error.details["group"] = json!(resource.group);
        }
        error
    }

    /// The `Status` body.
    pub fn status(&self) -> Value {
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details,
            "code": self.code,
        })
    }
}

/// Now, to the second, as Kubernetes writes times.
pub fn timestamp() -> String {
    jiff::Timestamp::from_second(jiff::Timestamp::now().as_second())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_string()
}

/// Five random lowercase letters and digits (generated name suffixes).
pub fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Which part of an object a write may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Everything but the status (for kinds with a status subresource).
    Main,
    /// Only the status.
    Status,
}

/// How a patch body is to be read, from its content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

impl PatchType {
    pub fn from_content_type(content_type: &str) -> Option<PatchType> {
        match content_type.split(';').next().unwrap_or("").trim() {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+json" => {
                Some(PatchType::Apply)
            }
            _ => None,
        }
    }
}

/// What happens to an object's dependents when it is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Background,
    Foreground,
    Orphan,
}

/// The options of a deletion (query parameters or a DeleteOptions body).
#[derive(Debug, Clone)]
pub struct DeleteOptions {
    pub propagation: Propagation,
    pub grace_period: Option<i64>,
    pub uid: Option<String>,
    pub resource_version: Option<String>,
}

impl Default for DeleteOptions {
    fn default() -> Self {
        DeleteOptions {
            propagation: Propagation::Background,
            grace_period: None,
            uid: None,
            resource_version: None,
        }
    }
}

impl DeleteOptions {
    /// Reads a DeleteOptions body, then lets query parameters override it.
    pub fn read(body: &Value, query: &[(String, String)]) -> Result<DeleteOptions, ApiError> {
        let mut options = DeleteOptions::default();
        let mut policy = body
            .get("propagationPolicy")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if body.get("orphanDependents").and_then(Value::as_bool) == Some(true) {
            policy = Some("Orphan".into());
        }
        options.grace_period = body.get("gracePeriodSeconds").and_then(Value::as_i64);
        options.uid = body
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_owned);
        options.resource_version = body
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_owned);
        for (key, value) in query {
            match key.as_str() {
                "propagationPolicy" => policy = Some(value.clone()),
                "gracePeriodSeconds" => {
                    options.grace_period = Some(value.parse().map_err(|_| {
                        ApiError::bad_request(format!(
                            "gracePeriodSeconds {value:?} is not a number"
                        ))
                    })?)
                }
                _ => {}
            }
        }
        options.propagation = match policy.as_deref() {
            None | Some("Background") => Propagation::Background,
            Some("Foreground") => Propagation::Foreground,
            Some("Orphan") => Propagation::Orphan,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "propagationPolicy {other:?} is not one of Background, Foreground, Orphan"
                )));
            }
        };
        Ok(options)
    }
}

/// The log lines of one container.
#[derive(Debug, Default, Clone)]
pub struct ContainerLog {
    pub lines: Vec<String>,
    pub started: bool,
    pub finished: bool,
}

/// The logs of the pods' containers, and a counter bumped on every change
/// that `follow` readers wait on.
pub struct Logs {
    pods: HashMap<Key, (String, BTreeMap<String, ContainerLog>)>,
    pub changed: tokio::sync::watch::Sender<u64>,
}

impl Logs {
    fn new() -> Logs {
        Logs {
            pods: HashMap::new(),
            changed: tokio::sync::watch::Sender::new(0),
        }
    }

    fn bump(&self) {
        self.changed.send_modify(|n| *n += 1);
    }

    /// The log of a pod's container, if the pod (by uid) has one.
    pub fn container(&self, pod: &Key, uid: &str, container: &str) -> Option<&ContainerLog> {
        self.pods
            .get(pod)
            .filter(|(owner, _)| owner == uid)
            .and_then(|(_, containers)| containers.get(container))
    }

    fn entry(&mut self, pod: &Key, uid: &str, container: &str) -> &mut ContainerLog {
        let (owner, containers) = self
            .pods
            .entry(pod.clone())
            .or_insert_with(|| (uid.to_owned(), BTreeMap::new()));
        if owner != uid {
            *owner = uid.to_owned();
            containers.clear();
        }
        containers.entry(container.to_owned()).or_default()
    }

    /// A container (re)started.
    pub fn start(&mut self, pod: &Key, uid: &str, container: &str) {
        let log = self.entry(pod, uid, container);
        log.started = true;
        log.finished = false;
        self.bump();
    }

    pub fn append(&mut self, pod: &Key, uid: &str, container: &str, lines: Vec<String>) {
        if lines.is_empty() {
            return;
        }
        self.entry(pod, uid, container).lines.extend(lines);
        self.bump();
    }

    /// A container ended (for good or until its restart).
    pub fn finish(&mut self, pod: &Key, uid: &str, container: &str) {
        self.entry(pod, uid, container).finished = true;
        self.bump();
    }

    fn remove(&mut self, pod: &Key) {
        if self.pods.remove(pod).is_some() {
            self.bump();
        }
    }
}

/// Everything behind the API: the objects, the logs, the allocators.
pub struct State {
    pub store: Store,
    pub logs: Logs,
    next_cluster_ip: u32,
    next_pod_ip: u32,
    /// Where the search for a free node port starts.
    next_node_port: i64,
    /// Recorded events by (object uid, reason, message), so a repeat
    /// counts up instead of adding an event.
    events: HashMap<(String, String, String), Key>,
}

fn check_type(resource: &ResourceInfo, object: &Value) -> Result<(), ApiError> {
    if !object.is_object() {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    }
    let kind = object.get("kind").and_then(Value::as_str);
    let api_version = object.get("apiVersion").and_then(Value::as_str);
    if kind.is_some_and(|k| k != resource.kind)
        || api_version.is_some_and(|v| v != resource.api_version())
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({}) does not match the expected API version ({}), or the kind ({}) does not match {}",
            api_version.unwrap_or(""),
            resource.api_version(),
            kind.unwrap_or(""),
            resource.kind
        )));
    }
    Ok(())
}

fn has_generation(resource: &ResourceInfo) -> bool {
    matches!(resource.plural, "deployments" | "jobs")
}

/// The fields of metadata only the server sets.
const SYSTEM_METADATA: [&str; 6] = [
    "uid",
    "creationTimestamp",
    "generation",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "resourceVersion",
];

/// The QoS class Kubernetes gives a pod for its requests and limits.
fn qos_class(pod: &Value) -> &'static str {
    let containers: Vec<&Value> = super::quantity::containers(pod).collect();
    let set = |c: &Value, part: &str| {
        c.pointer(&format!("/resources/{part}"))
            .and_then(Value::as_object)
            .is_some_and(|m| !m.is_empty())
    };
    if containers
        .iter()
        .all(|c| !set(c, "requests") && !set(c, "limits"))
    {
        return "BestEffort";
    }
    let guaranteed = containers.iter().all(|c| {
        ["cpu", "memory"].iter().all(|r| {
            let limit = c.pointer(&format!("/resources/limits/{r}"));
            let request = c.pointer(&format!("/resources/requests/{r}"));
            limit.is_some() && (request.is_none() || request == limit)
        })
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

impl State {
    pub fn new(history_limit: usize) -> State {
        State {
            store: Store::new(history_limit),
            logs: Logs::new(),
            next_cluster_ip: 10,
            next_pod_ip: 10,
            next_node_port: 30000,
            events: HashMap::new(),
        }
    }

    /// The next pod IP (10.244.0.0/16).
    pub fn pod_ip(&mut self) -> String {
        self.next_pod_ip += 1;
        format!(
            "10.244.{}.{}",
            self.next_pod_ip / 250,
            self.next_pod_ip % 250 + 2
        )
    }

    pub fn get(
        &self,
        resource: &ResourceInfo,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<Value>, ApiError> {
        self.store
            .get(resource, namespace, name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(resource, name))
    }

    /// The objects matching the selectors, and the version they are at.
    pub fn list(
        &self,
        resource: &ResourceInfo,
        namespace: Option<&str>,
        labels: &LabelSelector,
        fields: &FieldSelector,
    ) -> (Vec<Arc<Value>>, u64) {
        let items = self
            .store
            .list(resource, namespace)
            .filter(|o| labels.matches(o) && fields.matches(o))
            .cloned()
            .collect();
        (items, self.store.rv())
    }

    fn check_namespace(
        &self,
        resource: &ResourceInfo,
        namespace: &str,
        name: &str,
    ) -> Result<(), ApiError> {
        let namespaces = resources::by_plural("namespaces").expect("namespaces are served");
        let Some(ns) = self.store.get(namespaces, "", namespace) else {
            return Err(ApiError::not_found(namespaces, namespace));
        };
        if !meta(ns, "deletionTimestamp").is_empty() {
            return Err(ApiError::forbidden(
                resource,
                name,
                &format!(
                    "unable to create new content in namespace {namespace} because it is being terminated"
                ),
            ));
        }
        Ok(())
    }

    fn admit_quota(
        &self,
        resource: &ResourceInfo,
        old: Option<&Value>,
        new: &Value,
    ) -> Result<(), ApiError> {
        if !resource.namespaced {
            return Ok(());
        }
        let namespace = meta(new, "namespace");
        let quotas_kind = resources::by_plural("resourcequotas").expect("quotas are served");
        let quotas: Vec<&Value> = self
            .store
            .list(quotas_kind, Some(namespace))
            .map(|q| &**q)
            .collect();
        if quotas.is_empty() {
            return Ok(());
        }
        let none = super::quantity::Amounts::new();
        let used = self.store.usage(namespace).unwrap_or(&none);
        quota::admit(resource, &quotas, used, old, new)
            .map_err(|why| ApiError::forbidden(resource, meta(new, "name"), &why))
    }

    /// Creates an object in `namespace` (ignored for cluster-scoped
    /// kinds), as `POST` does.
    pub fn create(
        &mut self,
        resource: &'static ResourceInfo,
        namespace: &str,
        mut object: Value,
    ) -> Result<Arc<Value>, ApiError> {
        check_type(resource, &object)?;
        object["kind"] = json!(resource.kind);
        object["apiVersion"] = json!(resource.api_version());
        if !object.get("metadata").is_some_and(Value::is_object) {
            object["metadata"] = json!({});
        }
        if !meta(&object, "resourceVersion").is_empty() {
            return Err(ApiError::bad_request(
                "resourceVersion should not be set on objects to be created",
            ));
        }
        if meta(&object, "name").is_empty() && !meta(&object, "generateName").is_empty() {
            let name = format!("{}{}", meta(&object, "generateName"), random_suffix());
            object["metadata"]["name"] = json!(name);
        }
        let name = meta(&object, "name").to_owned();
        if resource.namespaced {
            let given = meta(&object, "namespace");
            if !given.is_empty() && given != namespace {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            object["metadata"]["namespace"] = json!(namespace);
            self.check_namespace(resource, namespace, &name)?;
        } else if let Some(meta) = object["metadata"].as_object_mut() {
            meta.remove("namespace");
        }
        if let Some(meta) = object["metadata"].as_object_mut() {
            for field in SYSTEM_METADATA {
                meta.remove(field);
            }
            meta.remove("managedFields");
            meta.insert("uid".into(), json!(uuid::Uuid::now_v7().to_string()));
            meta.insert("creationTimestamp".into(), json!(timestamp()));
            if has_generation(resource) {
                meta.insert("generation".into(), json!(1));
            }
        }
        validate::default(resource, &mut object);
        match resource.plural {
            "pods" => {
                let qos = qos_class(&object);
                object["status"] = json!({"phase": "Pending", "qosClass": qos});
            }
            "namespaces" => object["status"] = json!({"phase": "Active"}),
            // Nodes register themselves with their status.
            "nodes" => {}
            _ if resource.has_status() => {
                if let Some(map) = object.as_object_mut() {
                    map.remove("status");
                }
            }
            _ => {}
        }
        match resource.plural {
            "jobs" => generate_job_selector(resource, &mut object)?,
            "services" => self.allocate_service(resource, &mut object, None)?,
            _ => {}
        }
        let object = validate::validate(resource, &object, None)
            .map_err(|causes| ApiError::invalid(resource, &name, causes))?;
        if self
            .store
            .get(resource, meta(&object, "namespace"), &name)
            .is_some()
        {
            return Err(ApiError::already_exists(resource, &name));
        }
        self.admit_quota(resource, None, &object)?;
        Ok(self.store.put(resource, object))
    }

    /// Replaces an object as `PUT` does: the stored version must match when
    /// the body names one, and only `part` of the object changes.
    pub fn update(
        &mut self,
        resource: &'static ResourceInfo,
        namespace: &str,
        name: &str,
        body: Value,
        part: Part,
    ) -> Result<Arc<Value>, ApiError> {
        check_type(resource, &body)?;
        let old = self.get(resource, namespace, name)?;
        let given = meta(&body, "name");
        if !given.is_empty() && given != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({given}) does not match the name on the URL ({name})"
            )));
        }
        let version = meta(&body, "resourceVersion");
        if !version.is_empty() && version != meta(&old, "resourceVersion") {
            return Err(ApiError::stale(resource, name));
        }
        self.write(resource, &old, body, part)
    }

    /// Stores `candidate` as the new state of `old`, keeping what `part`
    /// may not change and what only the server sets.
    fn write(
        &mut self,
        resource: &'static ResourceInfo,
        old: &Arc<Value>,
        candidate: Value,
        part: Part,
    ) -> Result<Arc<Value>, ApiError> {
        let name = meta(old, "name").to_owned();
        let mut new = match part {
            Part::Status => {
                let mut new = (**old).clone();
                new["status"] = candidate.get("status").cloned().unwrap_or(json!({}));
                new
            }
            Part::Main => {
                let mut new = candidate;
                if !new.get("metadata").is_some_and(Value::is_object) {
                    new["metadata"] = json!({});
                }
                for field in SYSTEM_METADATA {
                    match old["metadata"].get(field) {
                        Some(value) => new["metadata"][field] = value.clone(),
                        None => {
                            if let Some(meta) = new["metadata"].as_object_mut() {
                                meta.remove(field);
                            }
                        }
                    }
                }
                new["metadata"]["name"] = json!(name);
                if resource.namespaced {
                    new["metadata"]["namespace"] = old["metadata"]["namespace"].clone();
                }
                if let Some(meta) = new["metadata"].as_object_mut() {
                    meta.remove("managedFields");
                }
                if resource.has_status() {
                    match old.get("status") {
                        Some(status) => new["status"] = status.clone(),
                        None => {
                            if let Some(map) = new.as_object_mut() {
                                map.remove("status");
                            }
                        }
                    }
                }
                validate::default(resource, &mut new);
                if resource.plural == "services" {
                    self.allocate_service(resource, &mut new, Some(old))?;
                }
                new
            }
        };
        new["kind"] = json!(resource.kind);
        new["apiVersion"] = json!(resource.api_version());
        let mut new = validate::validate(resource, &new, Some(old))
            .map_err(|causes| ApiError::invalid(resource, &name, causes))?;
        self.admit_quota(resource, Some(old), &new)?;
        if has_generation(resource) && new.get("spec") != old.get("spec") {
            let generation = old["metadata"]["generation"].as_i64().unwrap_or(1) + 1;
            new["metadata"]["generation"] = json!(generation);
        }
        if new == **old {
            return Ok(old.clone());
        }
        let stored = self.store.put(resource, new);
        // A namespace goes once emptied, which the controllers see to.
        if resource.plural != "namespaces" && self.deletion_complete(&stored) {
            self.remove_now(resource, &key_of(&stored));
        }
        Ok(stored)
    }

    /// Whether an object marked for deletion may go: no finalizers left
    /// and no grace period running.
    fn deletion_complete(&self, object: &Value) -> bool {
        !meta(object, "deletionTimestamp").is_empty()
            && object
                .pointer("/metadata/finalizers")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty)
            && object
                .pointer("/metadata/deletionGracePeriodSeconds")
                .and_then(Value::as_i64)
                .is_none_or(|grace| grace == 0)
    }

    /// Patches an object; an apply patch creates it when missing.
    pub fn patch(
        &mut self,
        resource: &'static ResourceInfo,
        namespace: &str,
        name: &str,
        kind: PatchType,
        body: &Value,
        part: Part,
    ) -> Result<Arc<Value>, ApiError> {
        let old = match self.store.get(resource, namespace, name) {
            Some(old) => old.clone(),
            None if kind == PatchType::Apply && part == Part::Main => {
                let given = meta(body, "name");
                if given != name {
                    return Err(ApiError::bad_request(format!(
                        "the name of the object ({given}) does not match the name on the URL ({name})"
                    )));
                }
                return self.create(resource, namespace, body.clone());
            }
            None => return Err(ApiError::not_found(resource, name)),
        };
        let patched = match kind {
            PatchType::Apply => {
                check_type(resource, body)?;
                let mut merged = (*old).clone();
                patch::apply(&mut merged, body);
                merged
            }
            PatchType::Merge => {
                let mut merged = (*old).clone();
                patch::merge_patch(&mut merged, body);
                merged
            }
            PatchType::Strategic => {
                let mut merged = (*old).clone();
                patch::strategic_merge(&mut merged, body);
                merged
            }
            PatchType::Json => patch::json_patch(&old, body)
                .map_err(|e| ApiError::new(422, format!("the JSON patch does not apply: {e}")))?,
        };
        if meta(&patched, "resourceVersion") != meta(&old, "resourceVersion") {
            return Err(ApiError::stale(resource, name));
        }
        if meta(&patched, "name") != name {
            return Err(ApiError::bad_request("metadata.name may not change"));
        }
        self.write(resource, &old, patched, part)
    }

    /// Deletes an object as `DELETE` does; the answer is the object gone,
    /// or only marked (a grace period, finalizers, a namespace emptying,
    /// dependents going first).
    pub fn delete(
        &mut self,
        resource: &'static ResourceInfo,
        namespace: &str,
        name: &str,
        options: &DeleteOptions,
    ) -> Result<Arc<Value>, ApiError> {
        let object = self.get(resource, namespace, name)?;
        if options
            .uid
            .as_deref()
            .is_some_and(|uid| uid != meta(&object, "uid"))
        {
            return Err(ApiError::conflict(
                resource,
                name,
                &format!(
                    "Precondition failed: UID in precondition: {}, UID in object meta: {}",
                    options.uid.as_deref().unwrap_or(""),
                    meta(&object, "uid")
                ),
            ));
        }
        if options
            .resource_version
            .as_deref()
            .is_some_and(|rv| rv != meta(&object, "resourceVersion"))
        {
            return Err(ApiError::stale(resource, name));
        }
        let key = key_of(&object);
        let uid = meta(&object, "uid").to_owned();
        let marked = !meta(&object, "deletionTimestamp").is_empty();
        if resource.plural == "namespaces" {
            if marked {
                return Ok(object);
            }
            let mut terminating = (*object).clone();
            terminating["metadata"]["deletionTimestamp"] = json!(timestamp());
            terminating["status"]["phase"] = json!("Terminating");
            return Ok(self.store.put(resource, terminating));
        }
        if options.propagation == Propagation::Orphan {
            self.orphan_dependents(&uid);
        }
        if resource.plural == "pods" {
            let grace = options.grace_period.unwrap_or_else(|| {
                object
                    .pointer("/spec/terminationGracePeriodSeconds")
                    .and_then(Value::as_i64)
                    .unwrap_or(30)
            });
            let bound = !object
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty();
            let terminal = matches!(
                object.pointer("/status/phase").and_then(Value::as_str),
                Some("Succeeded" | "Failed")
            );
            if bound && !terminal && grace > 0 {
                if marked {
                    return Ok(object);
                }
                // The kubelet stops the containers and removes the pod.
                let mut pod = (*object).clone();
                pod["metadata"]["deletionTimestamp"] = json!(timestamp());
                pod["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
                return Ok(self.store.put(resource, pod));
            }
        }
        let finalizers: Vec<Value> = object
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let foreground = options.propagation == Propagation::Foreground
            && !self.store.dependents(&uid).is_empty();
        if finalizers.is_empty() && !foreground {
            return self
                .remove_now(resource, &key)
                .ok_or_else(|| ApiError::not_found(resource, name));
        }
        let mut marked_object = (*object).clone();
        if !marked {
            marked_object["metadata"]["deletionTimestamp"] = json!(timestamp());
            marked_object["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        }
        if foreground && !finalizers.contains(&json!("foregroundDeletion")) {
            let mut finalizers = finalizers;
            finalizers.push(json!("foregroundDeletion"));
            marked_object["metadata"]["finalizers"] = json!(finalizers);
        }
        let stored = self.store.put(resource, marked_object);
        if foreground {
            // The owner goes once these are gone (the controllers check).
            for (dependent, (ns, dependent_name)) in self.store.dependents(&uid) {
                // A dependent deleted meanwhile is nothing to worry about.
                let _ = self.delete(dependent, &ns, &dependent_name, &DeleteOptions::default());
            }
        }
        Ok(stored)
    }

    /// Removes the owner's references from its dependents.
    fn orphan_dependents(&mut self, uid: &str) {
        for (resource, (namespace, name)) in self.store.dependents(uid) {
            let Some(dependent) = self.store.get(resource, &namespace, &name) else {
                continue;
            };
            let mut dependent = (**dependent).clone();
            if let Some(references) = dependent
                .pointer_mut("/metadata/ownerReferences")
                .and_then(Value::as_array_mut)
            {
                references.retain(|r| r.get("uid").and_then(Value::as_str) != Some(uid));
            }
            self.store.put(resource, dependent);
        }
    }

    /// Removes an object at once, with its logs (the controllers delete
    /// its dependents when they see it go).
    pub fn remove_now(&mut self, resource: &'static ResourceInfo, key: &Key) -> Option<Arc<Value>> {
        if resource.plural == "pods" {
            self.logs.remove(key);
        }
        self.store.remove(resource, &key.0, &key.1)
    }

    /// Finishes a deletion the server was waiting on (a grace period, a
    /// finalizer taken off): the object goes unless finalizers remain.
    pub fn finish_deletion(&mut self, resource: &'static ResourceInfo, key: &Key) {
        let Some(object) = self.store.get(resource, &key.0, &key.1) else {
            return;
        };
        let mut object = (**object).clone();
        if let Some(meta) = object["metadata"].as_object_mut() {
            meta.insert("deletionGracePeriodSeconds".into(), json!(0));
        }
        if self.deletion_complete(&object) {
            self.remove_now(resource, key);
        } else {
            self.store.put(resource, object);
        }
    }

    fn allocate_service(
        &mut self,
        resource: &ResourceInfo,
        service: &mut Value,
        old: Option<&Value>,
    ) -> Result<(), ApiError> {
        let name = meta(service, "name").to_owned();
        let kind = service
            .pointer("/spec/type")
            .and_then(Value::as_str)
            .unwrap_or("ClusterIP")
            .to_owned();
        if kind == "ExternalName" {
            return Ok(());
        }
        let old_ip = old.and_then(|o| o.pointer("/spec/clusterIP")).cloned();
        if service
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            let ip = match old_ip {
                Some(ip) => ip,
                None => {
                    self.next_cluster_ip += 1;
                    json!(format!(
                        "10.96.{}.{}",
                        self.next_cluster_ip / 250,
                        self.next_cluster_ip % 250 + 1
                    ))
                }
            };
            service["spec"]["clusterIP"] = ip.clone();
            service["spec"]["clusterIPs"] = json!([ip]);
        }
        if kind != "NodePort" && kind != "LoadBalancer" {
            return Ok(());
        }
        let this = key_of(service);
        let store = &self.store;
        let taken = |port: i64| store.node_port_holder(port).is_some_and(|k| *k != this);
        let old_ports: Vec<Value> = old
            .and_then(|o| o.pointer("/spec/ports"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut causes = Vec::new();
        let mut assigned: BTreeSet<i64> = BTreeSet::new();
        let mut next_cursor = self.next_node_port;
        let Some(ports) = service
            .pointer_mut("/spec/ports")
            .and_then(Value::as_array_mut)
        else {
            return Ok(());
        };
        for (i, port) in ports.iter_mut().enumerate() {
            if let Some(given) = port.get("nodePort").and_then(Value::as_i64) {
                if taken(given) || assigned.contains(&given) {
                    causes.push(Cause {
                        reason: "FieldValueInvalid",
                        field: format!("spec.ports[{i}].nodePort"),
                        message: format!(
                            "Invalid value: {given}: provided port is already allocated"
                        ),
                    });
                }
                assigned.insert(given);
                continue;
            }
            let same = old_ports.iter().find(|o| {
                o.get("port") == port.get("port") && o.get("protocol") == port.get("protocol")
            });
            let kept = same
                .and_then(|o| o.get("nodePort"))
                .and_then(Value::as_i64)
                .filter(|p| !taken(*p) && !assigned.contains(p));
            // Search on from the last port handed out, as a cursor.
            let free = |p: &i64| !taken(*p) && !assigned.contains(p);
            let start = self.next_node_port;
            let chosen = kept.or_else(|| (start..=32767).chain(30000..start).find(free));
            match chosen {
                Some(node_port) => {
                    port["nodePort"] = json!(node_port);
                    assigned.insert(node_port);
                    if kept.is_none() {
                        next_cursor = if node_port >= 32767 {
                            30000
                        } else {
                            node_port + 1
                        };
                    }
                }
                None => causes.push(Cause {
                    reason: "FieldValueInvalid",
                    field: format!("spec.ports[{i}].nodePort"),
                    message: "Invalid value: 0: range is full".into(),
                }),
            }
        }
        if causes.is_empty() {
            self.next_node_port = next_cursor;
            Ok(())
        } else {
            Err(ApiError::invalid(resource, &name, causes))
        }
    }

    /// Records an event about `object` (or counts up the same one).
    pub fn record_event(
        &mut self,
        resource: &ResourceInfo,
        object: &Value,
        kind: &str,
        reason: &str,
        message: &str,
        component: &str,
    ) {
        let events = resources::by_plural("events").expect("events are served");
        let uid = meta(object, "uid").to_owned();
        let dedup = (uid.clone(), reason.to_owned(), message.to_owned());
        let now = timestamp();
        if let Some((namespace, name)) = self.events.get(&dedup)
            && let Some(existing) = self.store.get(events, namespace, name)
        {
            let mut event = (**existing).clone();
            event["count"] = json!(event["count"].as_i64().unwrap_or(1) + 1);
            event["lastTimestamp"] = json!(now);
            self.store.put(events, event);
            return;
        }
        let namespace = match meta(object, "namespace") {
            "" => "default".to_owned(),
            ns => ns.to_owned(),
        };
        let name = format!(
            "{}.{:016x}",
            meta(object, "name"),
            rand::rng().random::<u64>()
        );
        let mut involved = json!({
            "apiVersion": resource.api_version(),
            "kind": resource.kind,
            "name": meta(object, "name"),
            "uid": uid,
            "resourceVersion": meta(object, "resourceVersion"),
        });
        if resource.namespaced {
            involved["namespace"] = json!(meta(object, "namespace"));
        }
        let event = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": uuid::Uuid::now_v7().to_string(),
                "creationTimestamp": now,
            },
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "type": kind,
            "source": {"component": component},
            "reportingComponent": component,
            "reportingInstance": "",
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        });
        // Well-formed by construction, so stored without the checks a
        // client's event gets; one for a namespace being deleted is
        // dropped, as the real server refuses it.
        if self.check_namespace(events, &namespace, &name).is_ok() {
            self.store.put(events, event);
            self.events.insert(dedup, (namespace, name));
        }
    }
}

/// A Job's selector is generated from its uid, and its pod template gets
/// the labels that match it, unless the Job asks for a manual selector.
fn generate_job_selector(resource: &ResourceInfo, job: &mut Value) -> Result<(), ApiError> {
    if job.pointer("/spec/manualSelector").and_then(Value::as_bool) == Some(true) {
        return Ok(());
    }
    let name = meta(job, "name").to_owned();
    let uid = meta(job, "uid").to_owned();
    if let Some(selector) = job.pointer("/spec/selector") {
        return Err(ApiError::invalid(
            resource,
            &name,
            vec![Cause {
                reason: "FieldValueInvalid",
                field: "spec.selector".into(),
                message: format!("Invalid value: {selector}: `selector` not auto-generated"),
            }],
        ));
    }
    if !job.get("spec").is_some_and(Value::is_object) {
        return Ok(());
    }
    job["spec"]["selector"] = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
    if !job["spec"]["template"]["metadata"].is_object() {
        job["spec"]["template"]["metadata"] = json!({});
    }
    let labels = &mut job["spec"]["template"]["metadata"]["labels"];
    for (key, value) in [
        ("batch.kubernetes.io/controller-uid", &uid),
        ("batch.kubernetes.io/job-name", &name),
        ("controller-uid", &uid),
        ("job-name", &name),
    ] {
        labels[key] = json!(value);
    }
    Ok(())
}
