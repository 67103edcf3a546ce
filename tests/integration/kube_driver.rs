//! The kube driver's production code path against the fake API server
//! (tests/support), reached through an ordinary kubeconfig file. Each test
//! names a product action and asserts the Kubernetes objects the fake
//! received for it; the fake's controllers play the cluster, so statuses,
//! logs and events come back the way they would from a real one.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    Namespace, PersistentVolumeClaim, Pod, ResourceQuota, Secret, Service, ServiceAccount,
};
use mlstack::cluster::kube::manifests::{self, MANAGED_SELECTOR};
use mlstack::cluster::kube::{KubeConfig, KubeDriver};
use mlstack::cluster::{Driver, DriverError, Observed, ProjectSpec, WorkloadKind};
use mlstack::domain::catalog::{Protocol, ServiceKind};
use mlstack::domain::ids::{ProjectId, UserId};
use mlstack::domain::workload::{
    ContainerSpec, FailureReason, GpuRequest, ImageCommitSpec, ImageRef, JobSpec, Resources,
    ServiceSpec, SshAccess, VolumeMount, VolumeSpec, WorkloadId, WorkloadMeta, WorkloadStatus,
};

use crate::common::fake_apiserver::{Builder, FakeApiServer, FakeNode, Fault, Policy};

const WAIT: Duration = Duration::from_secs(30);

struct Cluster {
    fake: FakeApiServer,
    driver: KubeDriver,
    _dir: tempfile::TempDir,
}

fn settings(kubeconfig: std::path::PathBuf) -> KubeConfig {
    KubeConfig {
        kubeconfig: Some(kubeconfig),
        context: None,
        request_timeout: Duration::from_secs(5),
        job_ttl: Duration::from_secs(3600),
        committer_image: Some("registry.lab/tools/committer:1".into()),
        registry: Some("registry.lab/mlstack".into()),
        committer_cpu_milli: 500,
        committer_ram_mib: 1024,
        node_host: None,
        service_access: Default::default(),
    }
}

async fn cluster_from(builder: Builder, tune: impl FnOnce(&mut KubeConfig)) -> Cluster {
    let fake = builder.try_start().expect("the fake starts");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("kubeconfig");
    fake.write_kubeconfig(&path).expect("writes the kubeconfig");
    let mut config = settings(path);
    tune(&mut config);
    let driver = KubeDriver::connect(config)
        .await
        .expect("the driver connects");
    eventually("the watches list the cluster", || async {
        driver.is_synced().then_some(())
    })
    .await;
    Cluster {
        fake,
        driver,
        _dir: dir,
    }
}

async fn cluster() -> Cluster {
    cluster_from(FakeApiServer::builder(), |_| {}).await
}

/// Polls `check` until it gives a value, at most `WAIT`.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_status(
    driver: &KubeDriver,
    id: WorkloadId,
    want: impl Fn(&WorkloadStatus) -> bool,
) -> Observed {
    let mut last = None;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Ok(observed) = driver.status(id).await {
            if want(&observed.status) {
                return observed;
            }
            last = Some(observed.status);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "status still {last:?} after {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn project() -> ProjectSpec {
    ProjectSpec {
        id: ProjectId::generate(),
        name: "vision-lab".into(),
        gpu_units_milli: Some(2500),
        cpu_milli: Some(64_000),
        ram_mib: Some(262_144),
        storage_gib: Some(1000),
    }
}

fn meta(project: ProjectId, name: &str) -> WorkloadMeta {
    WorkloadMeta {
        id: WorkloadId::generate(),
        project,
        owner: UserId::generate(),
        name: name.into(),
    }
}

fn image(name: &str) -> ImageRef {
    ImageRef {
        name: name.into(),
        tag: "2.4".into(),
    }
}

fn h200(count: u32) -> GpuRequest {
    GpuRequest {
        resource_name: "nvidia.com/gpu".into(),
        type_name: "NVIDIA H200".into(),
        node_selector: BTreeMap::from([("nvidia.com/gpu.product".into(), "NVIDIA-H200".into())]),
        count,
        units_milli: u64::from(count) * 1000,
    }
}

fn container(project: ProjectId, name: &str) -> ContainerSpec {
    ContainerSpec {
        meta: meta(project, name),
        image: image("pytorch/pytorch"),
        command: None,
        env: BTreeMap::from([("EPOCHS".into(), "3".into())]),
        resources: Resources {
            cpu_milli: 4000,
            ram_mib: 16_384,
            shm_mib: 1024,
            gpu: Some(h200(1)),
        },
        volumes: Vec::new(),
        services: vec![
            ServiceSpec {
                name: "ssh".into(),
                kind: ServiceKind::Ssh,
                port: 22,
                protocol: Protocol::Tcp,
                local_command: None,
            },
            ServiceSpec {
                name: "jupyter".into(),
                kind: ServiceKind::JupyterLab,
                port: 8888,
                protocol: Protocol::Http,
                local_command: None,
            },
        ],
        ssh: SshAccess::Keys(vec![
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey me@lab".into(),
        ]),
        start_at: None,
        end_at: None,
    }
}

/// A commit of `source` into `target`.
fn commit_of(source: &ContainerSpec, target: ImageRef) -> ImageCommitSpec {
    ImageCommitSpec {
        id: WorkloadId::generate(),
        project: source.meta.project,
        owner: source.meta.owner,
        container: source.meta.id,
        target,
    }
}

fn job(project: ProjectId, name: &str, script: &str) -> JobSpec {
    JobSpec {
        meta: meta(project, name),
        image: image("pytorch/pytorch"),
        command: script.into(),
        env: BTreeMap::new(),
        resources: Resources {
            cpu_milli: 1000,
            ram_mib: 2048,
            shm_mib: 0,
            gpu: None,
        },
        volumes: Vec::new(),
        time_limit_secs: None,
        origin: mlstack::domain::workload::JobOrigin::Immediately,
    }
}

fn ns(project: ProjectId) -> String {
    manifests::namespace_name(project)
}

fn label<'a>(
    meta: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    key: &str,
) -> Option<&'a str> {
    meta.labels.as_ref()?.get(key).map(String::as_str)
}

#[tokio::test]
async fn a_project_is_a_namespace_with_a_resource_quota() {
    let c = cluster().await;
    let spec = project();
    c.driver.provision_project(&spec).await.unwrap();
    let namespace: Namespace = c.fake.get("", &ns(spec.id)).expect("the namespace");
    assert_eq!(
        label(&namespace.metadata, "app.kubernetes.io/managed-by"),
        Some("mlstack")
    );
    assert_eq!(
        label(&namespace.metadata, "mlstack.io/project"),
        Some(spec.id.to_string().as_str())
    );
    let quota: ResourceQuota = c
        .fake
        .get(&ns(spec.id), "mlstack-quota")
        .expect("the quota");
    let hard = quota.spec.unwrap().hard.unwrap();
    assert_eq!(
        hard["requests.nvidia.com/gpu"].0, "2",
        "whole GPUs of 2.5 units"
    );
    assert_eq!(hard["limits.cpu"].0, "64000m");
    assert_eq!(hard["limits.memory"].0, "262144Mi");
    assert_eq!(hard["requests.storage"].0, "1000Gi");

    // A member's activation: the service account their pods run as.
    let user = UserId::generate();
    c.driver.provision_member(&spec, user).await.unwrap();
    let account: Option<ServiceAccount> = c
        .fake
        .get(&ns(spec.id), &manifests::member_account_name(user));
    assert!(account.is_some());

    // Provisioning again changes nothing and succeeds.
    c.driver.provision_project(&spec).await.unwrap();
}

#[tokio::test]
async fn a_container_is_a_deployment_a_nodeport_service_and_a_secret() {
    let c = cluster().await;
    let p = project();
    c.driver.provision_project(&p).await.unwrap();
    c.driver
        .ensure_volume(&VolumeSpec {
            project: p.id,
            owner: UserId::generate(),
            name: "datasets".into(),
            storage_class: "nfs-client".into(),
            size_gib: 100,
            clone_of: None,
        })
        .await
        .unwrap();
    let mut spec = container(p.id, "notebook");
    spec.volumes = vec![VolumeMount {
        volume: "datasets".into(),
        mount_path: "/workspace/data".into(),
        read_only: false,
    }];
    let id = spec.meta.id;
    let mut events = c.driver.subscribe();
    c.driver.apply_container(&spec).await.unwrap();

    let deployment: Deployment = c.fake.get(&ns(p.id), "notebook").expect("a Deployment");
    assert_eq!(
        label(&deployment.metadata, "mlstack.io/workload"),
        Some(id.to_string().as_str())
    );
    assert_eq!(
        label(&deployment.metadata, "mlstack.io/owner"),
        Some(spec.meta.owner.to_string().as_str())
    );
    let dspec = deployment.spec.clone().unwrap();
    assert_eq!(dspec.replicas, Some(1));
    let pod = dspec.template.spec.unwrap();
    let main = &pod.containers[0];
    let limits = main.resources.as_ref().unwrap().limits.as_ref().unwrap();
    assert_eq!(limits["nvidia.com/gpu"].0, "1");
    assert_eq!(
        pod.node_selector.as_ref().unwrap()["nvidia.com/gpu.product"],
        "NVIDIA-H200"
    );
    let shm = pod
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == "shm")
        .expect("shm volume");
    let empty_dir = shm.empty_dir.as_ref().unwrap();
    assert_eq!(empty_dir.medium.as_deref(), Some("Memory"));
    assert_eq!(empty_dir.size_limit.as_ref().unwrap().0, "1024Mi");
    let mounts = main.volume_mounts.as_ref().unwrap();
    assert!(
        mounts
            .iter()
            .any(|m| m.name == "shm" && m.mount_path == "/dev/shm")
    );
    let data = pod
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == "vol-datasets")
        .unwrap();
    assert_eq!(
        data.persistent_volume_claim.as_ref().unwrap().claim_name,
        "datasets"
    );
    assert!(mounts.iter().any(|m| m.mount_path == "/workspace/data"));

    let uid = deployment.metadata.uid.clone().unwrap();
    let service: Service = c.fake.get(&ns(p.id), "notebook").expect("a Service");
    assert_eq!(
        service.metadata.owner_references.as_ref().unwrap()[0].uid,
        uid
    );
    let sspec = service.spec.unwrap();
    assert_eq!(sspec.type_.as_deref(), Some("NodePort"));
    let ports = sspec.ports.unwrap();
    assert_eq!(ports.len(), 2);
    assert!(
        ports
            .iter()
            .all(|p| p.node_port.is_some_and(|n| (30000..=32767).contains(&n)))
    );
    let secret: Secret = c.fake.get(&ns(p.id), "notebook-ssh").expect("a Secret");
    assert_eq!(
        secret.metadata.owner_references.as_ref().unwrap()[0].uid,
        uid
    );
    let keys = String::from_utf8(secret.data.unwrap()["authorized_keys"].0.clone()).unwrap();
    assert!(keys.starts_with("ssh-ed25519 "));

    let running = wait_status(&c.driver, id, |s| *s == WorkloadStatus::Running).await;
    assert_eq!(running.endpoints.len(), 2);
    let jupyter = running
        .endpoints
        .iter()
        .find(|e| e.service == "jupyter")
        .unwrap();
    assert!(
        jupyter.url.starts_with("http://") && jupyter.url.ends_with('/'),
        "{jupyter:?}"
    );
    let ssh = running
        .endpoints
        .iter()
        .find(|e| e.service == "ssh")
        .unwrap();
    assert!(ssh.url.starts_with("ssh://"), "{ssh:?}");
    let event = tokio::time::timeout(WAIT, async {
        loop {
            match events.recv().await {
                Ok(e) if e.workload == id && e.status == WorkloadStatus::Running => return e,
                Ok(_) => continue,
                Err(e) => panic!("the event stream ended: {e}"),
            }
        }
    })
    .await
    .expect("a Running event");
    assert_eq!(event.message, "running");

    // Applying the same spec again costs no request.
    let before = c.fake.requests().len();
    c.driver.apply_container(&spec).await.unwrap();
    let writes = c.fake.requests()[before..]
        .iter()
        .filter(|r| r.method != "GET")
        .count();
    assert_eq!(writes, 0, "{:?}", &c.fake.requests()[before..]);

    // The volume is in use: it cannot be deleted.
    assert!(matches!(
        c.driver.delete_volume(p.id, "datasets").await,
        Err(DriverError::Conflict(_))
    ));

    // Stop: no pod, the Service and Secret stay.
    c.driver.stop_container(id).await.unwrap();
    wait_status(&c.driver, id, |s| *s == WorkloadStatus::Stopped).await;
    let stopped: Deployment = c.fake.get(&ns(p.id), "notebook").unwrap();
    assert_eq!(stopped.spec.unwrap().replicas, Some(0));
    assert!(c.fake.get::<Service>(&ns(p.id), "notebook").is_some());

    // Start again.
    c.driver.apply_container(&spec).await.unwrap();
    wait_status(&c.driver, id, |s| *s == WorkloadStatus::Running).await;

    // Delete: the Deployment goes, and its children with it.
    c.driver.delete_container(id).await.unwrap();
    eventually("the container's objects to go", || async {
        let gone = c.fake.get::<Deployment>(&ns(p.id), "notebook").is_none()
            && c.fake.get::<Service>(&ns(p.id), "notebook").is_none()
            && c.fake.get::<Secret>(&ns(p.id), "notebook-ssh").is_none()
            && c.fake
                .list::<Pod>(Some(&ns(p.id)), &format!("mlstack.io/workload={id}"))
                .is_empty();
        gone.then_some(())
    })
    .await;
    eventually("the driver to forget it", || async {
        matches!(c.driver.status(id).await, Err(DriverError::NotFound { .. })).then_some(())
    })
    .await;
    c.driver.delete_volume(p.id, "datasets").await.unwrap();
    assert!(
        c.fake
            .get::<PersistentVolumeClaim>(&ns(p.id), "datasets")
            .is_none()
    );
    // Deleting what is gone succeeds.
    c.driver.delete_container(id).await.unwrap();
}

#[tokio::test]
async fn a_volume_is_a_claim_of_its_storage_class() {
    let c = cluster().await;
    let p = project();
    let spec = VolumeSpec {
        project: p.id,
        owner: UserId::generate(),
        name: "checkpoints".into(),
        storage_class: "fast-ssd".into(),
        size_gib: 50,
        clone_of: None,
    };
    c.driver.ensure_volume(&spec).await.unwrap();
    c.driver.ensure_volume(&spec).await.unwrap();
    let claim: PersistentVolumeClaim = c.fake.get(&ns(p.id), "checkpoints").expect("a PVC");
    let cspec = claim.spec.unwrap();
    assert_eq!(cspec.storage_class_name.as_deref(), Some("fast-ssd"));
    assert_eq!(
        cspec.resources.unwrap().requests.unwrap()["storage"].0,
        "50Gi"
    );
    assert_eq!(
        c.driver.volumes().await.unwrap(),
        vec![(p.id, "checkpoints".to_owned())]
    );
    c.driver.delete_volume(p.id, "checkpoints").await.unwrap();
    assert!(c.driver.volumes().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_job_is_a_batch_job_whose_logs_come_from_its_pod() {
    let c = cluster().await;
    let p = project();
    let mut spec = job(p.id, "train", "echo epoch 1; sleep 0.3; echo epoch 2");
    spec.time_limit_secs = Some(600);
    let id = spec.meta.id;
    c.driver.apply_job(&spec).await.unwrap();
    let kube_job: Job = c.fake.get(&ns(p.id), "train").expect("a Job");
    let jspec = kube_job.spec.unwrap();
    assert_eq!(jspec.backoff_limit, Some(0));
    assert_eq!(jspec.ttl_seconds_after_finished, Some(3600));
    assert_eq!(jspec.active_deadline_seconds, Some(600));
    let pod = jspec.template.spec.unwrap();
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    assert_eq!(
        pod.containers[0].command.as_ref().unwrap(),
        &vec![
            "/bin/sh".to_owned(),
            "-c".to_owned(),
            "echo epoch 1; sleep 0.3; echo epoch 2".to_owned()
        ]
    );

    let done = wait_status(&c.driver, id, WorkloadStatus::is_terminal).await;
    assert_eq!(done.status, WorkloadStatus::Succeeded);
    assert!(done.started_at.is_some() && done.finished_at.is_some());
    let log = c.driver.logs(id, 100).await.unwrap();
    assert_eq!(log, "epoch 1\nepoch 2\n");
    assert_eq!(c.driver.logs(id, 1).await.unwrap(), "epoch 2\n");
    let events = c.driver.events(id).await.unwrap();
    assert!(events.iter().any(|e| e.reason == "Started"), "{events:?}");
    assert!(
        c.driver
            .workloads()
            .await
            .unwrap()
            .contains(&(id, WorkloadKind::Job))
    );

    // Applying a job again does not run it twice.
    c.driver.apply_job(&spec).await.unwrap();
    assert_eq!(
        c.fake
            .list::<Pod>(Some(&ns(p.id)), &format!("mlstack.io/workload={id}"))
            .len(),
        1
    );

    c.driver.delete_job(id).await.unwrap();
    eventually("the Job and its pod to go", || async {
        (c.fake.get::<Job>(&ns(p.id), "train").is_none()
            && c.fake
                .list::<Pod>(Some(&ns(p.id)), &format!("mlstack.io/workload={id}"))
                .is_empty())
        .then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_followed_log_streams_until_the_job_ends() {
    let c = cluster().await;
    let p = project();
    let spec = job(
        p.id,
        "stream",
        "echo one; sleep 0.5; echo two; sleep 0.5; echo three",
    );
    c.driver.apply_job(&spec).await.unwrap();
    wait_status(&c.driver, spec.meta.id, |s| *s == WorkloadStatus::Running).await;
    let mut stream = c.driver.follow_logs(spec.meta.id).await.unwrap();
    let mut text = String::new();
    tokio::time::timeout(WAIT, async {
        while let Some(chunk) = stream.next().await {
            text.push_str(&chunk.unwrap());
        }
    })
    .await
    .expect("the stream ends with the job");
    assert_eq!(text, "one\ntwo\nthree\n");
}

#[tokio::test]
async fn failures_carry_the_reason_a_user_can_act_on() {
    let c = cluster().await;
    let p = project();
    let failed = |reason: FailureReason| WorkloadStatus::failed(reason);

    let exits = job(p.id, "exits", "echo bad input; exit 3");
    c.driver.apply_job(&exits).await.unwrap();
    let oom = job(p.id, "oom", "fake-oom");
    c.driver.apply_job(&oom).await.unwrap();
    let mut late = job(p.id, "late", "sleep 60");
    late.time_limit_secs = Some(1);
    c.driver.apply_job(&late).await.unwrap();
    let mut pull = container(p.id, "pull");
    pull.image = image("lab/no-such-image");
    c.driver.apply_container(&pull).await.unwrap();
    let mut greedy = container(p.id, "greedy");
    greedy.resources.gpu = Some(h200(8));
    c.driver.apply_container(&greedy).await.unwrap();
    let mut crashing = container(p.id, "crashing");
    crashing.command = Some("echo starting; exit 2".into());
    c.driver.apply_container(&crashing).await.unwrap();

    let terminal_or_failed =
        |s: &WorkloadStatus| matches!(s, WorkloadStatus::Failed { .. }) || s.is_terminal();
    assert_eq!(
        wait_status(&c.driver, exits.meta.id, terminal_or_failed)
            .await
            .status,
        failed(FailureReason::ExitCode(3))
    );
    assert_eq!(
        wait_status(&c.driver, oom.meta.id, terminal_or_failed)
            .await
            .status,
        failed(FailureReason::OutOfMemory)
    );
    assert_eq!(
        wait_status(&c.driver, late.meta.id, terminal_or_failed)
            .await
            .status,
        failed(FailureReason::TimeLimit)
    );
    assert_eq!(
        wait_status(&c.driver, pull.meta.id, terminal_or_failed)
            .await
            .status,
        failed(FailureReason::ImagePull)
    );
    assert_eq!(
        wait_status(&c.driver, greedy.meta.id, terminal_or_failed)
            .await
            .status,
        failed(FailureReason::Unschedulable)
    );
    assert_eq!(
        wait_status(&c.driver, crashing.meta.id, terminal_or_failed)
            .await
            .status,
        failed(FailureReason::ExitCode(2))
    );
    let events = c.driver.events(greedy.meta.id).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.warning && e.reason == "FailedScheduling"),
        "{events:?}"
    );
}

#[tokio::test]
async fn cancelling_a_job_stops_it() {
    let c = cluster().await;
    let p = project();
    let spec = job(p.id, "long", "sleep 120");
    c.driver.apply_job(&spec).await.unwrap();
    wait_status(&c.driver, spec.meta.id, |s| *s == WorkloadStatus::Running).await;
    c.driver.cancel_job(spec.meta.id).await.unwrap();
    wait_status(&c.driver, spec.meta.id, |s| *s == WorkloadStatus::Stopped).await;
    let suspended: Job = c.fake.get(&ns(p.id), "long").unwrap();
    assert_eq!(suspended.spec.unwrap().suspend, Some(true));
    // Cancelling what has ended changes nothing.
    c.driver.cancel_job(spec.meta.id).await.unwrap();
}

#[tokio::test]
async fn capacity_comes_from_nodes_minus_what_pods_request() {
    let c = cluster_from(
        FakeApiServer::builder().nodes(vec![
            FakeNode::gpu("gpu-node-1", "NVIDIA-H200", 4),
            FakeNode::new("mig-node")
                .resource("nvidia.com/mig-1g.18gb", "7")
                .label("nvidia.com/gpu.product", "NVIDIA-H200-MIG-1g.18gb"),
        ]),
        |_| {},
    )
    .await;
    let p = project();
    let mut two = container(p.id, "two");
    two.resources.gpu = Some(h200(2));
    c.driver.apply_container(&two).await.unwrap();
    wait_status(&c.driver, two.meta.id, |s| *s == WorkloadStatus::Running).await;
    let capacity = c.driver.capacity().await.unwrap();
    assert_eq!(capacity.nodes.len(), 2);
    assert!(
        capacity
            .nodes
            .iter()
            .all(|n| n.cpu_milli == 32_000 && n.ram_mib == 262_144)
    );
    let whole = capacity
        .gpus
        .iter()
        .find(|g| g.resource_name == "nvidia.com/gpu")
        .unwrap();
    assert_eq!(
        (whole.type_name.as_str(), whole.total, whole.free),
        ("NVIDIA-H200", 4, 2)
    );
    let mig = capacity
        .gpus
        .iter()
        .find(|g| g.resource_name == "nvidia.com/mig-1g.18gb")
        .unwrap();
    assert_eq!((mig.total, mig.free), (7, 7));
}

#[tokio::test]
async fn health_tells_what_the_credentials_may_not_do() {
    let c = cluster().await;
    let health = c.driver.health().await.unwrap();
    assert!(health.ok, "{health:?}");
    c.fake.forbid("create", "jobs");
    let health = c.driver.health().await.unwrap();
    assert!(!health.ok);
    assert!(health.message.contains("create jobs"), "{}", health.message);
}

#[tokio::test]
async fn an_image_commit_is_a_job_pinned_to_the_containers_node() {
    let c = cluster().await;
    let p = project();
    let source = container(p.id, "dev");
    c.driver.apply_container(&source).await.unwrap();
    wait_status(&c.driver, source.meta.id, |s| *s == WorkloadStatus::Running).await;
    let spec = commit_of(
        &source,
        ImageRef {
            name: "vision/dev".into(),
            tag: "v1".into(),
        },
    );
    c.driver.commit_image(&spec).await.unwrap();
    let commit: Job = c
        .fake
        .get(&ns(p.id), &manifests::commit_job_name(spec.id))
        .expect("a commit Job");
    let pod = commit.spec.unwrap().template.spec.unwrap();
    assert_eq!(pod.node_name.as_deref(), Some("gpu-node-1"));
    let env: BTreeMap<_, _> = pod.containers[0]
        .env
        .iter()
        .flatten()
        .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        env["MLSTACK_TARGET_IMAGE"],
        "registry.lab/mlstack/vision/dev:v1"
    );
    assert!(!env["MLSTACK_CONTAINER_ID"].is_empty());
    // The fake's committer runs no script: it is Running like any pod.
    wait_status(&c.driver, spec.id, |s| *s == WorkloadStatus::Running).await;

    let off = cluster_from(FakeApiServer::builder(), |config| config.registry = None).await;
    off.driver.apply_container(&source).await.unwrap();
    wait_status(&off.driver, source.meta.id, |s| {
        *s == WorkloadStatus::Running
    })
    .await;
    assert!(matches!(
        off.driver.commit_image(&spec).await,
        Err(DriverError::Unsupported { .. })
    ));
}

#[tokio::test]
async fn everything_carries_our_labels_and_the_inventory_finds_it() {
    let c = cluster().await;
    let p = project();
    let a = container(p.id, "a");
    let b = job(p.id, "b", "sleep 30");
    c.driver.apply_container(&a).await.unwrap();
    c.driver.apply_job(&b).await.unwrap();
    for plural in ["deployments", "jobs", "services", "secrets"] {
        let ours = c.fake.list_raw(plural, Some(&ns(p.id)), MANAGED_SELECTOR);
        let all = c.fake.list_raw(plural, Some(&ns(p.id)), "");
        assert_eq!(
            ours.len(),
            all.len(),
            "{plural}: every object is labelled as ours"
        );
    }
    let mut inventory = c.driver.workloads().await.unwrap();
    inventory.sort_by_key(|(id, _)| *id);
    let mut expected = vec![
        (a.meta.id, WorkloadKind::Container),
        (b.meta.id, WorkloadKind::Job),
    ];
    expected.sort_by_key(|(id, _)| *id);
    assert_eq!(inventory, expected);
}

// ---------------------------------------------------------------------------
// Faults

#[tokio::test]
async fn an_unreachable_cluster_is_a_clear_error_and_recovery_is_automatic() {
    let c = cluster_from(FakeApiServer::builder(), |config| {
        config.request_timeout = Duration::from_secs(2);
    })
    .await;
    let p = project();
    let spec = container(p.id, "web");
    c.driver.apply_container(&spec).await.unwrap();
    wait_status(&c.driver, spec.meta.id, |s| *s == WorkloadStatus::Running).await;

    c.fake.stop();
    let started = tokio::time::Instant::now();
    let other = job(p.id, "while-down", "echo hi");
    let error = c
        .driver
        .apply_job(&other)
        .await
        .expect_err("the cluster is down");
    assert!(error.is_transient(), "{error:?}");
    assert!(
        matches!(error, DriverError::Unreachable(_) | DriverError::Timeout),
        "{error:?}"
    );
    // Bounded by the request timeout (with room for a loaded machine).
    assert!(started.elapsed() < Duration::from_secs(20));
    let health = c.driver.health().await.unwrap();
    assert!(!health.ok);

    // The controllers go on while the API is away; the watches catch up.
    c.fake.start_again();
    c.driver.apply_job(&other).await.unwrap();
    let done = wait_status(&c.driver, other.meta.id, WorkloadStatus::is_terminal).await;
    assert_eq!(done.status, WorkloadStatus::Succeeded);
    c.driver.stop_container(spec.meta.id).await.unwrap();
    wait_status(&c.driver, spec.meta.id, |s| *s == WorkloadStatus::Stopped).await;
}

#[tokio::test]
async fn refused_credentials_conflicts_and_invalid_objects_are_told_apart() {
    let c = cluster().await;
    let p = project();
    c.driver.provision_project(&p).await.unwrap();

    c.fake.fail_next(Fault::status(401).on_method("PATCH"));
    let error = c
        .driver
        .apply_job(&job(p.id, "a", "echo"))
        .await
        .unwrap_err();
    assert!(matches!(error, DriverError::Forbidden(_)), "{error:?}");
    assert!(!error.is_transient());

    c.fake.fail_next(Fault::status(403).on_method("PATCH"));
    let error = c
        .driver
        .apply_job(&job(p.id, "b", "echo"))
        .await
        .unwrap_err();
    assert!(matches!(error, DriverError::Forbidden(_)), "{error:?}");

    c.fake.fail_next(Fault::status(409).on_method("PATCH"));
    let error = c
        .driver
        .apply_job(&job(p.id, "c", "echo"))
        .await
        .unwrap_err();
    assert!(matches!(error, DriverError::Conflict(_)), "{error:?}");

    c.fake.fail_next(Fault::status(422).on_method("PATCH"));
    let error = c
        .driver
        .apply_job(&job(p.id, "d", "echo"))
        .await
        .unwrap_err();
    assert!(matches!(error, DriverError::Rejected(_)), "{error:?}");

    c.fake
        .fail_next(Fault::status(500).on_method("PATCH").times(10));
    let error = c
        .driver
        .apply_job(&job(p.id, "e", "echo"))
        .await
        .unwrap_err();
    assert!(error.is_transient(), "{error:?}");
    c.fake.clear_faults();

    // Nothing half-made stays behind, and the next try works.
    let ok = job(p.id, "f", "echo fine");
    c.driver.apply_job(&ok).await.unwrap();
    assert_eq!(
        wait_status(&c.driver, ok.meta.id, WorkloadStatus::is_terminal)
            .await
            .status,
        WorkloadStatus::Succeeded
    );
}

#[tokio::test]
async fn slow_answers_time_out_instead_of_hanging() {
    let c = cluster_from(FakeApiServer::builder(), |config| {
        config.request_timeout = Duration::from_millis(500);
    })
    .await;
    let p = project();
    c.fake.set_latency(Duration::from_secs(3));
    let started = tokio::time::Instant::now();
    let error = c.driver.provision_project(&p).await.unwrap_err();
    assert!(matches!(error, DriverError::Timeout), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    c.fake.set_latency(Duration::ZERO);
    c.driver.provision_project(&p).await.unwrap();
}

#[tokio::test]
async fn cut_watches_resume_and_status_stays_current() {
    let c = cluster().await;
    let p = project();
    let spec = job(p.id, "after-cut", "sleep 1; echo done");
    c.driver.apply_job(&spec).await.unwrap();
    wait_status(&c.driver, spec.meta.id, |s| *s == WorkloadStatus::Running).await;
    c.fake.cut_watches();
    let done = wait_status(&c.driver, spec.meta.id, WorkloadStatus::is_terminal).await;
    assert_eq!(done.status, WorkloadStatus::Succeeded);
    // A Deployment deleted behind the driver's back is noticed (a resync
    // then recreates it).
    let web = container(p.id, "web");
    c.driver.apply_container(&web).await.unwrap();
    c.fake.cut_watches();
    let client = c.fake.client().await;
    let api: kube::Api<Deployment> = kube::Api::namespaced(client, &ns(p.id));
    api.delete("web", &Default::default()).await.unwrap();
    eventually("the driver to see the deletion", || async {
        (!c.driver
            .workloads()
            .await
            .unwrap_or_default()
            .iter()
            .any(|(id, _)| *id == web.meta.id))
        .then_some(())
    })
    .await;
    c.driver.apply_container(&web).await.unwrap();
    assert!(c.fake.get::<Deployment>(&ns(p.id), "web").is_some());
}

/// The pod a workload's controller made, as the fake holds it.
fn pod_of(c: &Cluster, namespace: &str, id: WorkloadId) -> Option<Pod> {
    c.fake
        .list::<Pod>(Some(namespace), &format!("mlstack.io/workload={id}"))
        .into_iter()
        .next()
}

#[tokio::test]
async fn every_kind_runs_in_a_namespace_with_the_project_quota() {
    let c = cluster().await;
    let p = project();
    c.driver.provision_project(&p).await.unwrap();
    let namespace = ns(p.id);
    let quota: ResourceQuota = c.fake.get(&namespace, "mlstack-quota").expect("the quota");
    let hard = quota.spec.unwrap().hard.unwrap();
    assert!(hard.contains_key("limits.cpu") && hard.contains_key("requests.memory"));

    let source = container(p.id, "dev");
    c.driver.apply_container(&source).await.unwrap();
    wait_status(&c.driver, source.meta.id, |s| *s == WorkloadStatus::Running).await;

    let batch = job(p.id, "train", "echo done");
    c.driver.apply_job(&batch).await.unwrap();
    assert_eq!(
        wait_status(&c.driver, batch.meta.id, WorkloadStatus::is_terminal)
            .await
            .status,
        WorkloadStatus::Succeeded
    );

    // The commit job declares the configured committer resources; without
    // them the quota refuses its pod and the commit never starts.
    let commit = commit_of(&source, image("vision/dev"));
    c.driver.commit_image(&commit).await.unwrap();
    wait_status(&c.driver, commit.id, |s| *s == WorkloadStatus::Running).await;
    let pod = pod_of(&c, &namespace, commit.id).expect("the commit pod");
    let resources = pod.spec.unwrap().containers[0].resources.clone().unwrap();
    assert_eq!(resources.limits.as_ref().unwrap()["cpu"].0, "500m");
    assert_eq!(resources.requests.as_ref().unwrap()["memory"].0, "1024Mi");

    // Every workload pod runs confined: RuntimeDefault seccomp, no
    // privilege escalation, every capability dropped; the container that
    // serves SSH gets back only what sshd needs.
    for (id, ssh) in [(source.meta.id, true), (batch.meta.id, false)] {
        let pod = pod_of(&c, &namespace, id).expect("a pod").spec.unwrap();
        let seccomp = pod.security_context.unwrap().seccomp_profile.unwrap();
        assert_eq!(seccomp.type_, "RuntimeDefault");
        let main = pod.containers[0].security_context.clone().unwrap();
        assert_eq!(main.allow_privilege_escalation, Some(false));
        let capabilities = main.capabilities.unwrap();
        assert_eq!(capabilities.drop, Some(vec!["ALL".to_owned()]));
        let added = capabilities.add.unwrap_or_default();
        assert_eq!(added.is_empty(), !ssh, "{added:?}");
        assert!(
            added
                .iter()
                .all(|c| manifests::SSH_CAPABILITIES.contains(&c.as_str()))
        );
    }
}

#[tokio::test]
async fn a_workload_without_cpu_or_memory_is_refused_before_the_cluster() {
    let c = cluster().await;
    let p = project();
    c.driver.provision_project(&p).await.unwrap();
    let mut no_cpu = job(p.id, "no-cpu", "echo");
    no_cpu.resources.cpu_milli = 0;
    let error = c.driver.apply_job(&no_cpu).await.unwrap_err();
    let DriverError::Invalid(errors) = error else {
        panic!("{error:?}");
    };
    assert_eq!(errors.get("cpu"), Some("workload.error.cpu_required"));
    let mut no_memory = container(p.id, "no-memory");
    no_memory.resources.ram_mib = 0;
    no_memory.resources.shm_mib = 0;
    let error = c.driver.apply_container(&no_memory).await.unwrap_err();
    let DriverError::Invalid(errors) = error else {
        panic!("{error:?}");
    };
    assert_eq!(errors.get("ram"), Some("workload.error.ram_required"));
    assert!(c.fake.get::<Job>(&ns(p.id), "no-cpu").is_none());
    assert!(c.fake.get::<Deployment>(&ns(p.id), "no-memory").is_none());
}

#[tokio::test]
async fn generated_names_fit_what_the_api_server_accepts() {
    let c = cluster().await;
    let p = project();
    c.driver.provision_project(&p).await.unwrap();
    // Two volumes with the longest names, equal in their first 60
    // characters: their pod volume names stay labels and stay apart.
    let long = |end: &str| format!("{}{end}", "v".repeat(63 - end.len()));
    let mut spec = container(p.id, &"c".repeat(63));
    spec.volumes = Vec::new();
    for (end, path) in [("aaa", "/data/a"), ("bbb", "/data/b")] {
        c.driver
            .ensure_volume(&VolumeSpec {
                project: p.id,
                owner: spec.meta.owner,
                name: long(end),
                storage_class: "nfs-client".into(),
                size_gib: 1,
                clone_of: None,
            })
            .await
            .unwrap();
        spec.volumes.push(VolumeMount {
            volume: long(end),
            mount_path: path.into(),
            read_only: false,
        });
    }
    c.driver.apply_container(&spec).await.unwrap();
    wait_status(&c.driver, spec.meta.id, |s| *s == WorkloadStatus::Running).await;
    let deployment: Deployment = c
        .fake
        .get(&ns(p.id), &spec.meta.name)
        .expect("a Deployment");
    let names: Vec<String> = deployment
        .spec
        .unwrap()
        .template
        .spec
        .unwrap()
        .volumes
        .unwrap()
        .into_iter()
        .map(|v| v.name)
        .filter(|n| n.starts_with("vol-"))
        .collect();
    assert_eq!(names.len(), 2);
    assert_ne!(names[0], names[1]);
    assert!(names.iter().all(|n| n.len() <= 63), "{names:?}");

    // A port name the API server refuses ("--") is refused by validation,
    // with the rule, before anything is sent.
    let mut bad_port = container(p.id, "ports");
    bad_port.services[1].name = "jupyter--lab".into();
    let error = c.driver.apply_container(&bad_port).await.unwrap_err();
    let DriverError::Invalid(errors) = error else {
        panic!("{error:?}");
    };
    assert_eq!(errors.get("services"), Some("workload.error.service_name"));
    assert!(c.fake.get::<Deployment>(&ns(p.id), "ports").is_none());
}

#[tokio::test]
async fn the_quota_limits_node_ports_and_object_counts() {
    let c = cluster().await;
    let small = ProjectSpec {
        cpu_milli: Some(1000),
        storage_gib: Some(2),
        ..project()
    };
    c.driver.provision_project(&small).await.unwrap();
    let quota: ResourceQuota = c
        .fake
        .get(&ns(small.id), "mlstack-quota")
        .expect("the quota");
    let hard = quota.spec.unwrap().hard.unwrap();
    for (key, count) in manifests::object_counts(&small) {
        assert_eq!(hard[key].0, count.to_string(), "{key}");
    }
    assert_eq!(hard["services.nodeports"].0, "10");
    assert_eq!(hard["persistentvolumeclaims"].0, "2");
    // A third claim is refused by the API server's quota.
    for (n, name) in ["one", "two", "three"].into_iter().enumerate() {
        let result = c
            .driver
            .ensure_volume(&VolumeSpec {
                project: small.id,
                owner: UserId::generate(),
                name: name.into(),
                storage_class: "nfs-client".into(),
                size_gib: 1,
                clone_of: None,
            })
            .await;
        assert_eq!(result.is_ok(), n < 2, "{name}: {result:?}");
    }
}

const RBAC_MANIFEST: &str = include_str!("../../packaging/kubernetes/rbac.yaml");

#[tokio::test]
async fn the_driver_works_with_exactly_the_packaged_rbac() {
    let policy = Policy::from_manifest(RBAC_MANIFEST, "mlstack-driver").unwrap();
    let c = cluster_from(FakeApiServer::builder().rbac(policy), |_| {}).await;
    let health = c.driver.health().await.unwrap();
    assert!(health.ok, "{}", health.message);

    // Every product action, as the reconcile loop makes them.
    let p = project();
    c.driver.provision_project(&p).await.unwrap();
    let mut source = container(p.id, "dev");
    c.driver
        .provision_member(&p, source.meta.owner)
        .await
        .unwrap();
    let volume = VolumeSpec {
        project: p.id,
        owner: source.meta.owner,
        name: "data".into(),
        storage_class: "nfs-client".into(),
        size_gib: 10,
        clone_of: None,
    };
    c.driver.ensure_volume(&volume).await.unwrap();
    source.volumes = vec![VolumeMount {
        volume: "data".into(),
        mount_path: "/workspace/data".into(),
        read_only: false,
    }];
    c.driver.apply_container(&source).await.unwrap();
    wait_status(&c.driver, source.meta.id, |s| *s == WorkloadStatus::Running).await;
    c.driver.events(source.meta.id).await.unwrap();
    // The web terminal: an exec into the pod (pods/exec).
    let size = mlstack::cluster::TerminalSize { cols: 80, rows: 24 };
    let mut terminal = c.driver.open_terminal(&source, size).await.unwrap();
    let typed = b"echo rbac-$((1+1))\r".to_vec();
    terminal
        .input
        .send(mlstack::cluster::TerminalInput::Data(typed))
        .await
        .unwrap();
    let mut seen = String::new();
    while !seen.contains("rbac-2") {
        let chunk =
            tokio::time::timeout(std::time::Duration::from_secs(30), terminal.output.recv())
                .await
                .expect("the terminal's output in time")
                .expect("the terminal is open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    drop(terminal);
    let commit = commit_of(&source, image("vision/dev"));
    c.driver.commit_image(&commit).await.unwrap();
    wait_status(&c.driver, commit.id, |s| *s == WorkloadStatus::Running).await;
    c.driver.stop_container(source.meta.id).await.unwrap();
    c.driver.delete_container(source.meta.id).await.unwrap();

    let batch = job(p.id, "train", "echo trained");
    c.driver.apply_job(&batch).await.unwrap();
    wait_status(&c.driver, batch.meta.id, WorkloadStatus::is_terminal).await;
    assert!(
        c.driver
            .logs(batch.meta.id, 10)
            .await
            .unwrap()
            .contains("trained")
    );
    let long = job(p.id, "long", "sleep 600");
    c.driver.apply_job(&long).await.unwrap();
    wait_status(&c.driver, long.meta.id, |s| *s == WorkloadStatus::Running).await;
    c.driver.cancel_job(long.meta.id).await.unwrap();
    c.driver.delete_job(long.meta.id).await.unwrap();
    c.driver.delete_job(batch.meta.id).await.unwrap();
    c.driver.capacity().await.unwrap();
    c.driver.workloads().await.unwrap();
    assert_eq!(
        c.driver.volumes().await.unwrap(),
        vec![(p.id, "data".to_owned())]
    );
    c.driver.delete_volume(p.id, "data").await.unwrap();

    // Nothing was refused, and Secrets were only ever read as metadata,
    // with our label.
    let requests = c.fake.requests();
    let secrets: Vec<_> = requests
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/secrets"))
        .collect();
    assert!(!secrets.is_empty());
    for request in secrets {
        assert!(
            request.accept.contains("as=PartialObjectMetadata"),
            "{request:?}"
        );
        assert!(
            request.query.contains("managed-by%3Dmlstack")
                || request.query.contains("managed-by=mlstack"),
            "{request:?}"
        );
    }

    // The policy is enforced: without the rule for nodes, health names it.
    let narrower = RBAC_MANIFEST.replace("resources: [\"nodes\"]", "resources: [\"none\"]");
    let policy = Policy::from_manifest(&narrower, "mlstack-driver").unwrap();
    let d = cluster_from(FakeApiServer::builder().rbac(policy), |_| {}).await;
    let health = d.driver.health().await.unwrap();
    assert!(!health.ok);
    assert!(health.message.contains("list nodes"), "{}", health.message);
    assert!(matches!(
        d.driver.capacity().await,
        Err(DriverError::Forbidden(_))
    ));
}

#[tokio::test]
async fn an_ssh_password_reaches_the_cluster_only_as_a_hash() {
    let c = cluster().await;
    let p = project();
    let mut spec = container(p.id, "pw");
    spec.ssh = SshAccess::from_password("correct horse battery", "a1b2c3d4e5f6g7h8").unwrap();
    c.driver.apply_container(&spec).await.unwrap();
    let secret: Secret = c
        .fake
        .get(&ns(p.id), &manifests::ssh_secret_name("pw"))
        .expect("the SSH Secret");
    let data = secret.data.unwrap();
    assert_eq!(data.keys().collect::<Vec<_>>(), ["password-hash"]);
    let hash = String::from_utf8(data["password-hash"].0.clone()).unwrap();
    assert!(hash.starts_with("$6$a1b2c3d4e5f6g7h8$"), "{hash}");
    assert!(!hash.contains("correct horse"));
    let stored = serde_json::to_string(&spec).unwrap();
    assert!(!stored.contains("correct horse"), "{stored}");
}
