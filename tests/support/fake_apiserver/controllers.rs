//! The loop that plays the cluster: namespace cleanup, garbage collection,
//! the Deployment and Job controllers, the scheduler, the kubelet (scripted
//! containers), PVC binding and quota status. Each tick looks only at what
//! changed since the last one plus the few things waiting on time, so a
//! thousand idle Deployments cost nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::Shared;
use super::api::{DeleteOptions, State, random_suffix, timestamp};
use super::quantity::{self, Amounts};
use super::resources::{self, ResourceInfo};
use super::script::{self, Exit, Run, Step};
use super::store::{ChangeType, Key, controller_of, key_of, meta};

fn kind(plural: &str) -> &'static ResourceInfo {
    resources::by_plural(plural).expect("the controllers use served kinds")
}

/// A container as the kubelet runs it.
struct ContainerRun {
    name: String,
    image: String,
    id: String,
    script: Option<Vec<Step>>,
    run: Option<Run>,
    state: Value,
    last_state: Value,
    restarts: u32,
    /// The tick after which a crashed container starts again.
    back_off_until: Option<u64>,
    /// How it last ended: exit code, reason.
    ended: Option<(i32, &'static str)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Starting,
    PullFailed,
    PullBackOff,
    Running,
}

/// A pod as the kubelet runs it.
struct PodRun {
    stage: Stage,
    containers: Vec<ContainerRun>,
    start_time: String,
    pod_ip: String,
}

fn container_id() -> String {
    format!(
        "containerd://{:016x}{:016x}",
        rand::random::<u64>(),
        rand::random::<u64>()
    )
}

impl PodRun {
    fn new(pod: &Value) -> PodRun {
        let containers = quantity::containers(pod)
            .map(|c| ContainerRun {
                name: c
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                image: c
                    .get("image")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                id: container_id(),
                script: script::of_container(c),
                run: None,
                state: json!({"waiting": {"reason": "ContainerCreating"}}),
                last_state: json!({}),
                restarts: 0,
                back_off_until: None,
                ended: None,
            })
            .collect();
        PodRun {
            stage: Stage::Starting,
            containers,
            start_time: timestamp(),
            pod_ip: String::new(),
        }
    }

    /// Whether the kubelet must look at the pod again without a change.
    fn busy(&self) -> bool {
        match self.stage {
            Stage::Starting | Stage::PullFailed => true,
            Stage::PullBackOff => false,
            Stage::Running => self
                .containers
                .iter()
                .any(|c| c.back_off_until.is_some() || (c.run.is_some() && c.ended.is_none())),
        }
    }
}

/// What changed since the last tick, by what needs to look at it.
#[derive(Default)]
struct Dirty {
    deployments: BTreeSet<Key>,
    jobs: BTreeSet<Key>,
    pods: BTreeSet<Key>,
    claims: BTreeSet<Key>,
    quota_namespaces: BTreeSet<String>,
    new_namespaces: BTreeSet<String>,
    gone: Vec<String>,
}

/// The controllers' own memory between ticks.
pub struct Controllers {
    shared: Arc<Shared>,
    tick: u64,
    back_off_ticks: u64,
    pods: HashMap<String, PodRun>,
    /// New pods to schedule.
    unscheduled: BTreeSet<Key>,
    /// Pods that fit nowhere, tried again when capacity changes.
    waiting: BTreeSet<Key>,
    /// Whether nodes changed or a bound pod ended since the last tick.
    capacity_changed: bool,
    busy_pods: BTreeSet<Key>,
    retry_deployments: BTreeSet<Key>,
    retry_jobs: BTreeSet<Key>,
    timed_jobs: BTreeSet<Key>,
    foreground: BTreeSet<(&'static str, Key)>,
    terminating: BTreeSet<String>,
    /// The last pod creation failure per owner uid, so it is reported once.
    failed_create: HashMap<String, String>,
    /// When each Job (by uid) started and finished, on the fake's clock.
    job_started: HashMap<String, Instant>,
    job_finished: HashMap<String, Instant>,
    /// Each Deployment's (by uid) pod template hash, by generation.
    template_hashes: HashMap<String, (i64, String)>,
}

/// A condition as Kubernetes writes it, keeping the transition time of
/// the same condition in `old` when its status did not change.
fn condition(old: Option<&Value>, kind: &str, status: bool, reason: &str, message: &str) -> Value {
    let status = if status { "True" } else { "False" };
    let previous = old
        .and_then(|s| s.get("conditions"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind));
    let transition = previous
        .filter(|c| c.get("status").and_then(Value::as_str) == Some(status))
        .and_then(|c| c.get("lastTransitionTime").cloned())
        .unwrap_or_else(|| json!(timestamp()));
    let mut condition = json!({"type": kind, "status": status, "lastTransitionTime": transition});
    if !reason.is_empty() {
        condition["reason"] = json!(reason);
    }
    if !message.is_empty() {
        condition["message"] = json!(message);
    }
    condition
}

fn condition_is(status: Option<&Value>, kind: &str) -> bool {
    status
        .and_then(|s| s.get("conditions"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| {
            c.get("type").and_then(Value::as_str) == Some(kind)
                && c.get("status").and_then(Value::as_str) == Some("True")
        })
}

fn phase(pod: &Value) -> &str {
    pod.pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("Pending")
}

fn is_terminal(pod: &Value) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed")
}

fn is_terminating(object: &Value) -> bool {
    !meta(object, "deletionTimestamp").is_empty()
}

fn is_ready(pod: &Value) -> bool {
    condition_is(pod.get("status"), "Ready")
}

/// Sets an object's status when it differs; true when it did.
fn set_status(
    state: &mut State,
    resource: &'static ResourceInfo,
    key: &Key,
    status: Value,
) -> bool {
    let Some(object) = state.store.get(resource, &key.0, &key.1) else {
        return false;
    };
    if object.get("status") == Some(&status) {
        return false;
    }
    let mut object = (**object).clone();
    object["status"] = status;
    state.store.put(resource, object);
    true
}

/// The stable hash of a pod template, in the alphabet Kubernetes uses for
/// generated names (what the `pod-template-hash` label holds).
fn template_hash(template: &Value) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in template.to_string().bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (0..10)
        .map(|_| {
            let c = ALPHABET[(hash % ALPHABET.len() as u64) as usize] as char;
            hash /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

/// A pod for `owner` from its template, with extra labels.
fn pod_from_template(
    owner_kind: &ResourceInfo,
    owner: &Value,
    name: &str,
    labels: &[(&str, &str)],
) -> Value {
    let template = owner
        .pointer("/spec/template")
        .cloned()
        .unwrap_or(json!({}));
    let mut metadata = template.get("metadata").cloned().unwrap_or(json!({}));
    if !metadata.is_object() {
        metadata = json!({});
    }
    for (key, value) in labels {
        metadata["labels"][*key] = json!(value);
    }
    metadata["name"] = json!(name);
    metadata["ownerReferences"] = json!([{
        "apiVersion": owner_kind.api_version(),
        "kind": owner_kind.kind,
        "name": meta(owner, "name"),
        "uid": meta(owner, "uid"),
        "controller": true,
        "blockOwnerDeletion": true,
    }]);
    json!({"metadata": metadata, "spec": template.get("spec").cloned().unwrap_or(json!({}))})
}

/// The pods an owner (by uid) controls.
fn owned_pods(state: &State, uid: &str) -> Vec<Arc<Value>> {
    let pods = kind("pods");
    state
        .store
        .dependents(uid)
        .into_iter()
        .filter(|(resource, _)| resource.plural == "pods")
        .filter_map(|(_, (ns, name))| state.store.get(pods, &ns, &name).cloned())
        .filter(|pod| {
            controller_of(pod)
                .and_then(|r| r.get("uid"))
                .and_then(Value::as_str)
                == Some(uid)
        })
        .collect()
}

fn delete_pod(state: &mut State, pod: &Value) {
    // A pod deleted meanwhile needs nothing more.
    let _ = state.delete(
        kind("pods"),
        meta(pod, "namespace"),
        meta(pod, "name"),
        &DeleteOptions::default(),
    );
}

impl Controllers {
    pub fn new(shared: Arc<Shared>, back_off_ticks: u64) -> Controllers {
        Controllers {
            shared,
            tick: 0,
            back_off_ticks,
            pods: HashMap::new(),
            unscheduled: BTreeSet::new(),
            waiting: BTreeSet::new(),
            capacity_changed: false,
            busy_pods: BTreeSet::new(),
            retry_deployments: BTreeSet::new(),
            retry_jobs: BTreeSet::new(),
            timed_jobs: BTreeSet::new(),
            foreground: BTreeSet::new(),
            terminating: BTreeSet::new(),
            failed_create: HashMap::new(),
            job_started: HashMap::new(),
            job_finished: HashMap::new(),
            template_hashes: HashMap::new(),
        }
    }

    /// Ticks every `period` until the task is dropped.
    pub async fn run(mut self, period: Duration) {
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            self.step();
        }
    }

    /// One pass of every controller.
    pub fn step(&mut self) {
        let shared = self.shared.clone();
        let mut guard = shared.lock();
        let state = &mut *guard;
        self.tick += 1;
        let mut dirty = Dirty::default();
        for change in std::mem::take(&mut state.store.feed) {
            self.classify(&change, &mut dirty);
        }
        self.namespaces(state, &dirty);
        self.collect_garbage(state, &dirty.gone);
        self.finish_foreground(state);
        let deployments: BTreeSet<Key> = dirty
            .deployments
            .union(&self.retry_deployments)
            .cloned()
            .collect();
        for key in deployments {
            self.deployment(state, &key);
        }
        let jobs: BTreeSet<Key> = dirty
            .jobs
            .iter()
            .chain(&self.retry_jobs)
            .chain(&self.timed_jobs)
            .cloned()
            .collect();
        for key in jobs {
            self.job(state, &key);
        }
        let pods: BTreeSet<Key> = dirty.pods.union(&self.busy_pods).cloned().collect();
        for key in pods {
            self.kubelet(state, &key);
        }
        self.schedule(state);
        for key in &dirty.claims {
            bind_claim(state, key);
        }
        for namespace in &dirty.quota_namespaces {
            quota_status(state, namespace);
        }
    }

    fn classify(&mut self, change: &super::store::Change, dirty: &mut Dirty) {
        let object = &change.object;
        let key = key_of(object);
        let deleted = change.change == ChangeType::Deleted;
        if deleted {
            dirty.gone.push(meta(object, "uid").to_owned());
        } else if is_terminating(object)
            && object
                .pointer("/metadata/finalizers")
                .and_then(Value::as_array)
                .is_some_and(|f| f.contains(&json!("foregroundDeletion")))
        {
            self.foreground
                .insert((change.resource.plural, key.clone()));
        }
        if change.resource.namespaced {
            dirty.quota_namespaces.insert(key.0.clone());
        }
        match change.resource.plural {
            "namespaces" if is_terminating(object) && !deleted => {
                self.terminating.insert(key.1);
            }
            "namespaces" if change.change == ChangeType::Added => {
                dirty.new_namespaces.insert(key.1);
            }
            "deployments" if !deleted => {
                dirty.deployments.insert(key);
            }
            "jobs" if !deleted => {
                dirty.jobs.insert(key);
            }
            "jobs" => {
                let uid = meta(object, "uid");
                self.job_started.remove(uid);
                self.job_finished.remove(uid);
                self.failed_create.remove(uid);
            }
            "deployments" => {
                self.failed_create.remove(meta(object, "uid"));
                self.template_hashes.remove(meta(object, "uid"));
            }
            "pods" => {
                if let Some(owner) = controller_of(object) {
                    let owner_key = (
                        key.0.clone(),
                        owner["name"].as_str().unwrap_or("").to_owned(),
                    );
                    match owner.get("kind").and_then(Value::as_str) {
                        Some("Deployment") => {
                            dirty.deployments.insert(owner_key);
                        }
                        Some("Job") => {
                            dirty.jobs.insert(owner_key);
                        }
                        _ => {}
                    }
                }
                let bound = |pod: &Value| {
                    pod.pointer("/spec/nodeName")
                        .and_then(Value::as_str)
                        .is_some_and(|n| !n.is_empty())
                };
                let ended = change
                    .old
                    .as_deref()
                    .is_some_and(|old| !is_terminal(old) && is_terminal(object));
                if (deleted && bound(object)) || ended {
                    self.capacity_changed = true;
                }
                if deleted {
                    self.pods.remove(meta(object, "uid"));
                    self.unscheduled.remove(&key);
                    self.waiting.remove(&key);
                    self.busy_pods.remove(&key);
                } else {
                    if change.change == ChangeType::Added && !bound(object) {
                        self.unscheduled.insert(key.clone());
                    }
                    dirty.pods.insert(key);
                }
            }
            "persistentvolumeclaims" if !deleted => {
                dirty.claims.insert(key);
            }
            "nodes" => self.capacity_changed = true,
            _ => {}
        }
    }

    /// New namespaces get their default service account; terminating ones
    /// are emptied, then removed.
    fn namespaces(&mut self, state: &mut State, dirty: &Dirty) {
        let accounts = kind("serviceaccounts");
        for namespace in &dirty.new_namespaces {
            if state.store.get(accounts, namespace, "default").is_none() {
                // Fails only when the namespace is already going.
                let _ = state.create(
                    accounts,
                    namespace,
                    json!({"metadata": {"name": "default"}}),
                );
            }
        }
        for namespace in std::mem::take(&mut self.terminating) {
            for resource in resources::stored().filter(|r| r.namespaced) {
                let keys: Vec<Key> = state
                    .store
                    .list(resource, Some(&namespace))
                    .map(|o| key_of(o))
                    .collect();
                for key in keys {
                    state.remove_now(resource, &key);
                }
            }
            state.remove_now(kind("namespaces"), &(String::new(), namespace));
        }
    }

    /// Dependents of objects that went are deleted (or lose the
    /// reference, when another owner remains).
    fn collect_garbage(&mut self, state: &mut State, gone: &[String]) {
        let mut queue: Vec<String> = gone.to_vec();
        while let Some(uid) = queue.pop() {
            if state.store.by_uid(&uid).is_some() {
                continue;
            }
            for (resource, (namespace, name)) in state.store.dependents(&uid) {
                let Some(dependent) = state.store.get(resource, &namespace, &name).cloned() else {
                    continue;
                };
                let others_remain = super::store::owner_uids(&dependent)
                    .iter()
                    .any(|owner| *owner != uid && state.store.by_uid(owner).is_some());
                if others_remain {
                    let mut dependent = (*dependent).clone();
                    if let Some(references) = dependent
                        .pointer_mut("/metadata/ownerReferences")
                        .and_then(Value::as_array_mut)
                    {
                        references.retain(|r| r.get("uid").and_then(Value::as_str) != Some(&uid));
                    }
                    state.store.put(resource, dependent);
                } else if state
                    .delete(resource, &namespace, &name, &DeleteOptions::default())
                    .is_ok()
                    && state.store.get(resource, &namespace, &name).is_none()
                {
                    queue.push(meta(&dependent, "uid").to_owned());
                }
            }
        }
    }

    /// Owners deleted in the foreground go once their dependents are gone.
    fn finish_foreground(&mut self, state: &mut State) {
        for (plural, key) in std::mem::take(&mut self.foreground) {
            let resource = kind(plural);
            let Some(object) = state.store.get(resource, &key.0, &key.1).cloned() else {
                continue;
            };
            if !state.store.dependents(meta(&object, "uid")).is_empty() {
                self.foreground.insert((plural, key));
                continue;
            }
            let mut object = (*object).clone();
            if let Some(finalizers) = object
                .pointer_mut("/metadata/finalizers")
                .and_then(Value::as_array_mut)
            {
                finalizers.retain(|f| f != "foregroundDeletion");
            }
            state.store.put(resource, object);
            state.finish_deletion(resource, &key);
        }
    }

    /// Reports a failed pod creation on its owner, once per distinct
    /// reason.
    fn failed_to_create(
        &mut self,
        state: &mut State,
        owner_kind: &ResourceInfo,
        owner: &Value,
        error: &super::api::ApiError,
    ) {
        let why = error
            .message
            .split_once(" is forbidden: ")
            .map_or(error.message.as_str(), |(_, why)| why)
            .to_owned();
        let uid = meta(owner, "uid").to_owned();
        if self.failed_create.get(&uid) != Some(&why) {
            state.record_event(
                owner_kind,
                owner,
                "Warning",
                "FailedCreate",
                &format!("Error creating: {}", error.message),
                &format!("{}-controller", owner_kind.singular),
            );
            self.failed_create.insert(uid, why);
        }
    }

    fn deployment(&mut self, state: &mut State, key: &Key) {
        let deployments = kind("deployments");
        let Some(deployment) = state.store.get(deployments, &key.0, &key.1).cloned() else {
            self.retry_deployments.remove(key);
            return;
        };
        if is_terminating(&deployment) {
            self.retry_deployments.remove(key);
            return;
        }
        let uid = meta(&deployment, "uid").to_owned();
        let wanted = deployment
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1)
            .max(0) as usize;
        // The template changes only with the generation.
        let generation = deployment
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let hash = match self.template_hashes.get(&uid) {
            Some((seen, hash)) if *seen == generation => hash.clone(),
            _ => {
                let template = deployment.pointer("/spec/template").unwrap_or(&Value::Null);
                let hash = template_hash(template);
                self.template_hashes
                    .insert(uid.clone(), (generation, hash.clone()));
                hash
            }
        };
        let live: Vec<Arc<Value>> = owned_pods(state, &uid)
            .into_iter()
            .filter(|p| !is_terminating(p))
            .collect();
        let (mut current, old): (Vec<Arc<Value>>, Vec<Arc<Value>>) =
            live.into_iter().partition(|p| {
                p.pointer("/metadata/labels/pod-template-hash")
                    .and_then(Value::as_str)
                    == Some(&hash)
            });
        // A changed template replaces the pods.
        for pod in &old {
            delete_pod(state, pod);
        }
        current.sort_by(|a, b| meta(a, "name").cmp(meta(b, "name")));
        while current.len() > wanted {
            if let Some(pod) = current.pop() {
                delete_pod(state, &pod);
            }
        }
        let mut failure = None;
        while current.len() < wanted {
            let name = format!("{}-{hash}-{}", key.1, random_suffix());
            let pod = pod_from_template(
                deployments,
                &deployment,
                &name,
                &[("pod-template-hash", &hash)],
            );
            match state.create(kind("pods"), &key.0, pod) {
                Ok(pod) => current.push(pod),
                Err(error) => {
                    failure = Some(error);
                    break;
                }
            }
        }
        let old_status = deployment.get("status");
        let mut conditions = Vec::new();
        match &failure {
            Some(error) => {
                self.failed_to_create(state, deployments, &deployment, error);
                self.retry_deployments.insert(key.clone());
                conditions.push(condition(
                    old_status,
                    "ReplicaFailure",
                    true,
                    "FailedCreate",
                    &error.message,
                ));
            }
            None => {
                self.retry_deployments.remove(key);
                self.failed_create.remove(&uid);
            }
        }
        let ready = current.iter().filter(|p| is_ready(p)).count();
        let available = ready >= wanted;
        conditions.insert(
            0,
            condition(
                old_status,
                "Available",
                available,
                if available {
                    "MinimumReplicasAvailable"
                } else {
                    "MinimumReplicasUnavailable"
                },
                if available {
                    "Deployment has minimum availability."
                } else {
                    "Deployment does not have minimum availability."
                },
            ),
        );
        let progressed = ready == wanted && current.len() == wanted;
        conditions.insert(
            1,
            condition(
                old_status,
                "Progressing",
                true,
                if progressed {
                    "NewReplicaSetAvailable"
                } else {
                    "ReplicaSetUpdated"
                },
                &format!(
                    "ReplicaSet \"{}-{hash}\" {}.",
                    key.1,
                    if progressed {
                        "has successfully progressed"
                    } else {
                        "is progressing"
                    }
                ),
            ),
        );
        let mut status = json!({
            "observedGeneration": deployment.pointer("/metadata/generation").cloned().unwrap_or(json!(1)),
            "replicas": current.len(),
            "updatedReplicas": current.len(),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "conditions": conditions,
        });
        if wanted > ready {
            status["unavailableReplicas"] = json!(wanted - ready);
        }
        set_status(state, deployments, key, status);
    }

    fn job(&mut self, state: &mut State, key: &Key) {
        let jobs = kind("jobs");
        let Some(job) = state.store.get(jobs, &key.0, &key.1).cloned() else {
            self.timed_jobs.remove(key);
            self.retry_jobs.remove(key);
            return;
        };
        if is_terminating(&job) {
            self.timed_jobs.remove(key);
            self.retry_jobs.remove(key);
            return;
        }
        let uid = meta(&job, "uid").to_owned();
        let now = Instant::now();
        let old_status = job.get("status");
        let mut status = old_status.cloned().unwrap_or(json!({}));
        let finished = condition_is(old_status, "Complete") || condition_is(old_status, "Failed");
        let spec_int = |field: &str| {
            job.pointer(&format!("/spec/{field}"))
                .and_then(Value::as_i64)
        };
        if finished {
            self.retry_jobs.remove(key);
            let finished_at = *self.job_finished.entry(uid).or_insert(now);
            match spec_int("ttlSecondsAfterFinished") {
                Some(ttl) if now >= finished_at + Duration::from_secs(ttl.max(0) as u64) => {
                    self.timed_jobs.remove(key);
                    // Gone meanwhile is as good.
                    let _ = state.delete(jobs, &key.0, &key.1, &DeleteOptions::default());
                }
                Some(_) => {
                    self.timed_jobs.insert(key.clone());
                }
                None => {
                    self.timed_jobs.remove(key);
                }
            }
            return;
        }
        let pods = owned_pods(state, &uid);
        let mut active: Vec<Arc<Value>> = pods
            .iter()
            .filter(|p| !is_terminal(p) && !is_terminating(p))
            .cloned()
            .collect();
        let count = |wanted: &str| pods.iter().filter(|p| phase(p) == wanted).count() as i64;
        let succeeded = count("Succeeded").max(status["succeeded"].as_i64().unwrap_or(0));
        let failed = count("Failed").max(status["failed"].as_i64().unwrap_or(0));
        let mut conditions: Vec<Value> = Vec::new();
        let was_suspended = condition_is(old_status, "Suspended");
        if job.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true) {
            for pod in &active {
                delete_pod(state, pod);
            }
            if !was_suspended {
                state.record_event(
                    jobs,
                    &job,
                    "Normal",
                    "Suspended",
                    "Job suspended",
                    "job-controller",
                );
            }
            self.job_started.remove(&uid);
            self.timed_jobs.remove(key);
            self.retry_jobs.remove(key);
            status["active"] = json!(0);
            status["conditions"] = json!([condition(
                old_status,
                "Suspended",
                true,
                "JobSuspended",
                "Job suspended"
            )]);
            if let Some(map) = status.as_object_mut() {
                map.remove("startTime");
            }
            set_status(state, jobs, key, status);
            return;
        }
        if was_suspended {
            conditions.push(condition(
                old_status,
                "Suspended",
                false,
                "JobResumed",
                "Job resumed",
            ));
            state.record_event(
                jobs,
                &job,
                "Normal",
                "Resumed",
                "Job resumed",
                "job-controller",
            );
        }
        let started = *self.job_started.entry(uid.clone()).or_insert(now);
        if status.get("startTime").is_none() {
            status["startTime"] = json!(timestamp());
        }
        let completions = spec_int("completions").unwrap_or(1);
        let backoff_limit = spec_int("backoffLimit").unwrap_or(6);
        let deadline = spec_int("activeDeadlineSeconds")
            .map(|seconds| started + Duration::from_secs(seconds.max(0) as u64));
        let mut failure: Option<(&str, &str)> = None;
        let mut creation_error = None;
        if deadline.is_some_and(|d| now >= d) {
            failure = Some((
                "DeadlineExceeded",
                "Job was active longer than specified deadline",
            ));
        } else if succeeded >= completions {
            status["completionTime"] = json!(timestamp());
            conditions.push(condition(
                old_status,
                "SuccessCriteriaMet",
                true,
                "CompletionsReached",
                "Reached expected number of succeeded pods",
            ));
            conditions.push(condition(
                old_status,
                "Complete",
                true,
                "CompletionsReached",
                "Reached expected number of succeeded pods",
            ));
            state.record_event(
                jobs,
                &job,
                "Normal",
                "Completed",
                "Job completed",
                "job-controller",
            );
            self.job_finished.insert(uid.clone(), now);
        } else if failed > backoff_limit {
            failure = Some((
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
            ));
        } else if active.is_empty() {
            let name = format!("{}-{}", key.1, random_suffix());
            let pod = pod_from_template(
                jobs,
                &job,
                &name,
                &[
                    ("job-name", &key.1),
                    ("batch.kubernetes.io/job-name", &key.1),
                ],
            );
            match state.create(kind("pods"), &key.0, pod) {
                Ok(pod) => {
                    state.record_event(
                        jobs,
                        &job,
                        "Normal",
                        "SuccessfulCreate",
                        &format!("Created pod: {name}"),
                        "job-controller",
                    );
                    active.push(pod);
                    self.retry_jobs.remove(key);
                    self.failed_create.remove(&uid);
                }
                Err(error) => creation_error = Some(error),
            }
        }
        let mut failed_now = failed;
        if let Some((reason, message)) = failure {
            for pod in &active {
                delete_pod(state, pod);
            }
            if reason == "DeadlineExceeded" {
                failed_now += active.len() as i64;
            }
            active.clear();
            conditions.push(condition(
                old_status,
                "FailureTarget",
                true,
                reason,
                message,
            ));
            conditions.push(condition(old_status, "Failed", true, reason, message));
            state.record_event(jobs, &job, "Warning", reason, message, "job-controller");
            self.job_finished.insert(uid.clone(), now);
        }
        if let Some(error) = creation_error {
            self.failed_to_create(state, jobs, &job, &error);
            self.retry_jobs.insert(key.clone());
        }
        let finished_now = !conditions.is_empty()
            && conditions
                .iter()
                .any(|c| matches!(c["type"].as_str(), Some("Complete" | "Failed")));
        if finished_now && spec_int("ttlSecondsAfterFinished").is_some()
            || !finished_now && deadline.is_some()
        {
            self.timed_jobs.insert(key.clone());
        } else {
            self.timed_jobs.remove(key);
        }
        status["active"] = json!(active.len());
        status["ready"] = json!(active.iter().filter(|p| is_ready(p)).count());
        status["succeeded"] = json!(succeeded);
        status["failed"] = json!(failed_now);
        if !conditions.is_empty() {
            status["conditions"] = json!(conditions);
        } else if let Some(map) = status.as_object_mut() {
            map.remove("conditions");
        }
        set_status(state, jobs, key, status);
    }

    /// Binds new pods to the first node that fits them; pods that fit
    /// nowhere wait until a node changes or a pod ends.
    fn schedule(&mut self, state: &mut State) {
        if std::mem::take(&mut self.capacity_changed) {
            self.unscheduled.append(&mut self.waiting);
        }
        if self.unscheduled.is_empty() {
            return;
        }
        let pods = kind("pods");
        let nodes: Vec<Arc<Value>> = state.store.list(kind("nodes"), None).cloned().collect();
        for key in std::mem::take(&mut self.unscheduled) {
            let Some(pod) = state.store.get(pods, &key.0, &key.1).cloned() else {
                continue;
            };
            let bound = !pod
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty();
            if bound || is_terminating(&pod) {
                continue;
            }
            let footprint = quantity::pod_footprint(&pod);
            let selector = pod.pointer("/spec/nodeSelector").and_then(Value::as_object);
            let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
            let mut chosen = None;
            for node in &nodes {
                let labels = node.pointer("/metadata/labels").and_then(Value::as_object);
                let selected = selector
                    .into_iter()
                    .flatten()
                    .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v));
                if node.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
                    *reasons
                        .entry("node(s) were unschedulable".into())
                        .or_default() += 1;
                    continue;
                }
                if !selected {
                    *reasons
                        .entry("node(s) didn't match Pod's node affinity/selector".into())
                        .or_default() += 1;
                    continue;
                }
                let allocatable = quantity::amounts(node.pointer("/status/allocatable"));
                // The store counts each binding as it is written.
                let empty = Amounts::new();
                let counted = state.store.node_usage(meta(node, "name")).unwrap_or(&empty);
                let taken = |name: &String| counted.get(name).copied().unwrap_or(0);
                let short: Vec<&String> = footprint
                    .iter()
                    .filter(|(name, amount)| {
                        **amount > 0
                            && allocatable.get(*name).copied().unwrap_or(0) - taken(name) < **amount
                    })
                    .map(|(name, _)| name)
                    .collect();
                if short.is_empty() {
                    chosen = Some(node.clone());
                    break;
                }
                for name in short {
                    *reasons.entry(format!("Insufficient {name}")).or_default() += 1;
                }
            }
            if let Some(node) = chosen {
                let node_name = meta(&node, "name").to_owned();
                let mut bound = (*pod).clone();
                bound["spec"]["nodeName"] = json!(node_name);
                let old_status = pod.get("status");
                bound["status"]["conditions"] =
                    json!([condition(old_status, "PodScheduled", true, "", "")]);
                state.store.put(pods, bound);
                state.record_event(
                    pods,
                    &pod,
                    "Normal",
                    "Scheduled",
                    &format!("Successfully assigned {}/{} to {node_name}", key.0, key.1),
                    "default-scheduler",
                );
                self.busy_pods.insert(key);
                continue;
            }
            let message = if nodes.is_empty() {
                "no nodes available to schedule pods".to_owned()
            } else {
                let reasons: Vec<String> = reasons
                    .iter()
                    .map(|(reason, count)| format!("{count} {reason}"))
                    .collect();
                format!(
                    "0/{} nodes are available: {}.",
                    nodes.len(),
                    reasons.join(", ")
                )
            };
            let old_status = pod.get("status");
            let mut status = old_status.cloned().unwrap_or(json!({}));
            status["phase"] = json!("Pending");
            status["conditions"] = json!([condition(
                old_status,
                "PodScheduled",
                false,
                "Unschedulable",
                &message
            )]);
            if set_status(state, pods, &key, status) {
                state.record_event(
                    pods,
                    &pod,
                    "Warning",
                    "FailedScheduling",
                    &message,
                    "default-scheduler",
                );
            }
            self.waiting.insert(key);
        }
    }

    fn kubelet(&mut self, state: &mut State, key: &Key) {
        let pods = kind("pods");
        let Some(pod) = state.store.get(pods, &key.0, &key.1).cloned() else {
            self.busy_pods.remove(key);
            return;
        };
        let uid = meta(&pod, "uid").to_owned();
        if is_terminating(&pod) {
            if let Some(run) = self.pods.remove(&uid) {
                for container in run
                    .containers
                    .iter()
                    .filter(|c| c.state.get("running").is_some())
                {
                    state.record_event(
                        pods,
                        &pod,
                        "Normal",
                        "Killing",
                        &format!("Stopping container {}", container.name),
                        "kubelet",
                    );
                    state.logs.finish(key, &uid, &container.name);
                }
            }
            self.busy_pods.remove(key);
            state.finish_deletion(pods, key);
            return;
        }
        let node_name = pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        if node_name.is_empty() {
            return;
        }
        if is_terminal(&pod) {
            self.busy_pods.remove(key);
            self.pods.remove(&uid);
            return;
        }
        let restart_policy = pod
            .pointer("/spec/restartPolicy")
            .and_then(Value::as_str)
            .unwrap_or("Always")
            .to_owned();
        let run = self
            .pods
            .entry(uid.clone())
            .or_insert_with(|| PodRun::new(&pod));
        let now = Instant::now();
        let mut events: Vec<(&str, &str, String)> = Vec::new();
        match run.stage {
            Stage::Starting
                if run
                    .containers
                    .iter()
                    .any(|c| c.image.contains("no-such-image")) =>
            {
                for c in run
                    .containers
                    .iter_mut()
                    .filter(|c| c.image.contains("no-such-image"))
                {
                    let message =
                        format!("failed to pull and unpack image \"{}\": not found", c.image);
                    events.push((
                        "Normal",
                        "Pulling",
                        format!("Pulling image \"{}\"", c.image),
                    ));
                    events.push((
                        "Warning",
                        "Failed",
                        format!("Failed to pull image \"{}\": {message}", c.image),
                    ));
                    events.push(("Warning", "Failed", "Error: ErrImagePull".into()));
                    c.state = json!({"waiting": {"reason": "ErrImagePull", "message": message}});
                }
                run.stage = Stage::PullFailed;
            }
            Stage::PullFailed => {
                for c in run
                    .containers
                    .iter_mut()
                    .filter(|c| c.image.contains("no-such-image"))
                {
                    let message = format!("Back-off pulling image \"{}\"", c.image);
                    events.push(("Normal", "BackOff", message.clone()));
                    events.push(("Warning", "Failed", "Error: ImagePullBackOff".into()));
                    c.state =
                        json!({"waiting": {"reason": "ImagePullBackOff", "message": message}});
                }
                run.stage = Stage::PullBackOff;
            }
            Stage::PullBackOff => {}
            Stage::Starting => {
                run.pod_ip = state.pod_ip();
                run.start_time = timestamp();
                for c in &mut run.containers {
                    events.push((
                        "Normal",
                        "Pulling",
                        format!("Pulling image \"{}\"", c.image),
                    ));
                    events.push(("Normal", "Pulled", format!("Successfully pulled image \"{}\" in 0s (0s including waiting). Image size: 0 bytes.", c.image)));
                    events.push((
                        "Normal",
                        "Created",
                        format!("Created container: {}", c.name),
                    ));
                    events.push(("Normal", "Started", format!("Started container {}", c.name)));
                    start_container(state, key, &uid, c);
                }
                run.stage = Stage::Running;
            }
            Stage::Running => {}
        }
        if run.stage == Stage::Running {
            for c in &mut run.containers {
                if c.back_off_until.is_some_and(|until| self.tick >= until) {
                    c.back_off_until = None;
                    events.push(("Normal", "Started", format!("Started container {}", c.name)));
                    start_container(state, key, &uid, c);
                }
                let Some(script_run) = c.run.as_mut() else {
                    continue;
                };
                if c.ended.is_some() || c.back_off_until.is_some() {
                    continue;
                }
                let mut lines = Vec::new();
                let exit = script_run.advance(now, &mut lines);
                state.logs.append(key, &uid, &c.name, lines);
                let Some(exit) = exit else {
                    continue;
                };
                let (code, reason) = match exit {
                    Exit::Code(0) => (0, "Completed"),
                    Exit::Code(code) => (code, "Error"),
                    Exit::OutOfMemory => (137, "OOMKilled"),
                };
                state.logs.finish(key, &uid, &c.name);
                let started_at = c
                    .state
                    .pointer("/running/startedAt")
                    .cloned()
                    .unwrap_or(json!(timestamp()));
                let terminated = json!({"terminated": {
                    "exitCode": code,
                    "reason": reason,
                    "startedAt": started_at,
                    "finishedAt": timestamp(),
                    "containerID": c.id,
                }});
                let restart = match restart_policy.as_str() {
                    "Always" => true,
                    "OnFailure" => code != 0,
                    _ => false,
                };
                if restart {
                    c.restarts += 1;
                    c.last_state = terminated;
                    c.back_off_until = Some(self.tick + self.back_off_ticks);
                    c.run = None;
                    let message = format!(
                        "back-off 10s restarting failed container={} pod={}_{}({uid})",
                        c.name, key.1, key.0
                    );
                    c.state =
                        json!({"waiting": {"reason": "CrashLoopBackOff", "message": message}});
                    events.push((
                        "Warning",
                        "BackOff",
                        format!(
                            "Back-off restarting failed container {} in pod {}_{}({uid})",
                            c.name, key.1, key.0
                        ),
                    ));
                } else {
                    c.ended = Some((code, reason));
                    c.state = terminated;
                }
            }
        }
        let host_ip = host_ip(state, &node_name);
        let status = pod_status(&pod, run, &host_ip);
        let busy = run.busy();
        for (kind, reason, message) in events {
            state.record_event(pods, &pod, kind, reason, &message, "kubelet");
        }
        set_status(state, pods, key, status);
        if busy {
            self.busy_pods.insert(key.clone());
        } else {
            self.busy_pods.remove(key);
        }
    }
}

fn start_container(state: &mut State, key: &Key, uid: &str, c: &mut ContainerRun) {
    c.state = json!({"running": {"startedAt": timestamp()}});
    c.id = container_id();
    c.run = c.script.clone().map(Run::new);
    c.ended = None;
    state.logs.start(key, uid, &c.name);
}

fn host_ip(state: &State, node: &str) -> String {
    state
        .store
        .get(kind("nodes"), "", node)
        .and_then(|n| {
            n.pointer("/status/addresses")
                .and_then(Value::as_array)
                .cloned()
        })
        .into_iter()
        .flatten()
        .find(|a| a.get("type").and_then(Value::as_str) == Some("InternalIP"))
        .and_then(|a| a.get("address").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| "127.0.0.1".into())
}

/// The status the kubelet reports for a pod it runs.
fn pod_status(pod: &Value, run: &PodRun, host_ip: &str) -> Value {
    let old = pod.get("status");
    let statuses: Vec<Value> = run
        .containers
        .iter()
        .map(|c| {
            let running = c.state.get("running").is_some();
            json!({
                "name": c.name,
                "image": c.image,
                "imageID": format!("{}@sha256:{:064x}", c.image, 0),
                "containerID": c.id,
                "ready": running,
                "started": running,
                "restartCount": c.restarts,
                "state": c.state,
                "lastState": c.last_state,
            })
        })
        .collect();
    let all_ended = !run.containers.is_empty() && run.containers.iter().all(|c| c.ended.is_some());
    let phase = if all_ended {
        if run
            .containers
            .iter()
            .all(|c| c.ended.is_some_and(|(code, _)| code == 0))
        {
            "Succeeded"
        } else {
            "Failed"
        }
    } else if run.stage == Stage::Running {
        "Running"
    } else {
        "Pending"
    };
    let unready: Vec<&str> = run
        .containers
        .iter()
        .filter(|c| c.state.get("running").is_none())
        .map(|c| c.name.as_str())
        .collect();
    let ready = unready.is_empty();
    let (reason, message) = if all_ended {
        ("PodCompleted".to_owned(), String::new())
    } else if ready {
        (String::new(), String::new())
    } else {
        (
            "ContainersNotReady".to_owned(),
            format!("containers with unready status: [{}]", unready.join(" ")),
        )
    };
    let mut status = json!({
        "phase": phase,
        "conditions": [
            condition(old, "PodReadyToStartContainers", run.stage == Stage::Running, "", ""),
            condition(old, "Initialized", true, "", ""),
            condition(old, "Ready", ready, &reason, &message),
            condition(old, "ContainersReady", ready, &reason, &message),
            condition(old, "PodScheduled", true, "", ""),
        ],
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "startTime": run.start_time,
        "containerStatuses": statuses,
        "qosClass": old.and_then(|s| s.get("qosClass")).cloned().unwrap_or(json!("BestEffort")),
    });
    if !run.pod_ip.is_empty() {
        status["podIP"] = json!(run.pod_ip);
        status["podIPs"] = json!([{"ip": run.pod_ip}]);
    }
    status
}

/// Claims bind at once to a volume of the size they ask for.
fn bind_claim(state: &mut State, key: &Key) {
    let claims = kind("persistentvolumeclaims");
    let Some(claim) = state.store.get(claims, &key.0, &key.1).cloned() else {
        return;
    };
    if is_terminating(&claim) {
        return;
    }
    if claim.pointer("/spec/volumeName").is_none() {
        let mut bound = (*claim).clone();
        bound["spec"]["volumeName"] = json!(format!("pvc-{}", meta(&claim, "uid")));
        state.store.put(claims, bound);
    }
    let status = json!({
        "phase": "Bound",
        "accessModes": claim.pointer("/spec/accessModes").cloned().unwrap_or(json!([])),
        "capacity": {"storage": claim.pointer("/spec/resources/requests/storage").cloned().unwrap_or(json!("0"))},
    });
    set_status(state, claims, key, status);
}

/// A quota's status: its hard limits and the namespace's use of each.
fn quota_status(state: &mut State, namespace: &str) {
    let quotas = kind("resourcequotas");
    let keys: Vec<Key> = state
        .store
        .list(quotas, Some(namespace))
        .map(|q| key_of(q))
        .collect();
    if keys.is_empty() {
        return;
    }
    let used = state.store.usage(namespace).cloned().unwrap_or_default();
    for key in keys {
        let Some(quota) = state.store.get(quotas, &key.0, &key.1) else {
            continue;
        };
        let hard = quota.pointer("/spec/hard").cloned().unwrap_or(json!({}));
        let mut in_use = serde_json::Map::new();
        for name in hard.as_object().into_iter().flatten().map(|(k, _)| k) {
            let amount = used.get(name).copied().unwrap_or(0);
            in_use.insert(name.clone(), json!(quantity::format(amount)));
        }
        set_status(state, quotas, &key, json!({"hard": hard, "used": in_use}));
    }
}
