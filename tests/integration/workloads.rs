//! Containers, jobs and volumes end to end through the use cases of a
//! running appliance with the local driver (real processes; one GPU in a
//! fixed inventory), and the same journey with the kube driver against the
//! fake API server: the use cases write desired state, the reconcile loop
//! applies it and writes back status and events. Every wait polls with a
//! generous deadline; nothing asserts a timing.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use futures_util::StreamExt;

use mlstack::cluster::kube::manifests;
use mlstack::cluster::local::{LocalDriver, LocalGpu, group_members};
use mlstack::cluster::{AnyDriver, Driver, DriverError};
use mlstack::config::DriverChoice;
use mlstack::domain::catalog::{Protocol, ServiceKind};
use mlstack::domain::ids::{ProjectId, UserId, VolumeId};
use mlstack::domain::project::ProjectForm;
use mlstack::domain::workload::{
    ContainerSpec, FailureReason, GpuRequest, ImageRef, JobSpec, Resources, ServiceSpec, SshAccess,
    VolumeMount, VolumeSpec, WorkloadId, WorkloadMeta, WorkloadStatus,
};
use mlstack::service::{ServiceError, Services};
use mlstack::store::users::UserRecord;
use mlstack::store::workloads::{Desired, WorkloadRecord};

use crate::common::fake_apiserver::FakeApiServer;
use crate::common::{TestApp, activate, approve_first_application};

// Scheduled start and end, with the helpers of this module.
mod cost;
mod schedules;
// Storage Management and mounts that honour a storage's permission.
mod storage;
// The job queue.
mod queue;
// Job templates and job schedules firing under the manual clock.
mod job_schedules;
// Mail about failed and finished workloads.
mod mail;
// The job schedule pages over HTTP.
mod job_schedule_pages;
// The job schedule journey in headless Chromium.
mod browser_job_schedules;
// The job wizard and job templates in headless Chromium.
mod browser_job_wizard;
// The job wizard and job template pages over HTTP.
mod job_wizard_pages;

const WAIT: Duration = Duration::from_secs(30);
const HTTP_SERVER: &str = "exec python3 -m http.server $PORT --bind 127.0.0.1";

/// A running appliance with one active project: alice manages it, bob and
/// carol are members, dave is not in it. (The services come first: fields
/// drop in order, and the appliance closes its store once nothing else
/// holds it.)
struct Lab {
    services: Services,
    admin: UserRecord,
    alice: UserRecord,
    bob: UserRecord,
    carol: UserRecord,
    dave: UserRecord,
    project: ProjectId,
    /// The generated password of each user but the admin.
    passwords: BTreeMap<String, String>,
    app: TestApp,
}

async fn lab() -> Lab {
    lab_with(|config| {
        config.local.detect_gpus = false;
        config.local.gpus = vec![LocalGpu {
            index: 0,
            name: "NVIDIA T4".into(),
            memory_mib: 15_360,
            uuid: None,
            minor: None,
        }];
    })
    .await
}

async fn lab_with(configure: impl FnOnce(&mut mlstack::config::Config)) -> Lab {
    let app = TestApp::start_configured(configure);
    let services = app.services();
    let mut passwords = BTreeMap::new();
    for name in ["alice", "bob", "carol", "dave"] {
        let created = services.create_user(name, false).await.expect("user");
        // A generated password is changed at the first login.
        let client = app.client();
        client.login_ok(name, &created.password).await;
        let own = client.choose_password(&created.password).await;
        passwords.insert(name.to_owned(), own);
    }
    let users = services.list_users().await.expect("users");
    let user = |name: &str| {
        users
            .iter()
            .find(|u| u.username.as_str() == name)
            .cloned()
            .expect("user")
    };
    let (admin, alice) = (user("admin"), user("alice"));
    let form = ProjectForm {
        name: "Vision".into(),
        start: "2026-11-29".into(),
        end: "2027-01-31".into(),
        purpose: String::new(),
        description: "a study".into(),
        managers: vec!["alice".into()],
        members: vec!["bob".into(), "carol".into()],
    };
    let project = services.apply_project(&alice, &form).await.expect("apply");
    let quota = mlstack::domain::quota::Resources {
        gpu_milli: 4000,
        cpu_milli: 16_000,
        ram_mib: 65_536,
        storage_gib: 200,
    };
    approve_first_application(&services, &admin, quota).await;
    // Alice and bob run workloads: their activation passes first (carol's
    // waits for the tests that look at it).
    for user in [&alice, &user("bob")] {
        activate(&services, user).await;
    }
    Lab {
        services,
        admin,
        alice,
        bob: user("bob"),
        carol: user("carol"),
        dave: user("dave"),
        project,
        passwords,
        app,
    }
}

/// The meta of a new workload (the use case sets id and owner).
fn meta(project: ProjectId, name: &str) -> WorkloadMeta {
    WorkloadMeta {
        id: WorkloadId::generate(),
        project,
        owner: UserId::generate(),
        name: name.into(),
    }
}

fn image() -> ImageRef {
    ImageRef {
        name: "ubuntu".into(),
        tag: "24.04".into(),
    }
}

fn resources() -> Resources {
    Resources {
        cpu_milli: 1000,
        ram_mib: 2048,
        shm_mib: 0,
        gpu: None,
    }
}

fn t4() -> GpuRequest {
    GpuRequest {
        resource_name: "nvidia.com/gpu".into(),
        type_name: "T4".into(),
        node_selector: BTreeMap::new(),
        count: 1,
        units_milli: 1000,
    }
}

fn container(project: ProjectId, name: &str) -> ContainerSpec {
    ContainerSpec {
        meta: meta(project, name),
        image: image(),
        command: None,
        env: BTreeMap::new(),
        resources: resources(),
        volumes: Vec::new(),
        services: vec![ServiceSpec {
            name: "http".into(),
            kind: ServiceKind::Custom,
            port: 8000,
            protocol: Protocol::Http,
            local_command: Some(HTTP_SERVER.into()),
        }],
        ssh: SshAccess::None,
        start_at: None,
        end_at: None,
    }
}

fn job(project: ProjectId, name: &str, command: &str) -> JobSpec {
    JobSpec {
        meta: meta(project, name),
        image: image(),
        command: command.into(),
        env: BTreeMap::new(),
        resources: resources(),
        volumes: Vec::new(),
        time_limit_secs: None,
        origin: mlstack::domain::workload::JobOrigin::Immediately,
    }
}

fn mount(volume: &str, path: &str) -> VolumeMount {
    VolumeMount {
        volume: volume.into(),
        mount_path: path.into(),
        read_only: false,
    }
}

/// The local driver the appliance runs.
fn local(services: &Services) -> &LocalDriver {
    #[allow(irrefutable_let_patterns)]
    let AnyDriver::Local(local) = &**services.driver().expect("a driver") else {
        panic!("these tests run the local driver");
    };
    local
}

/// Polls the stored workload until `want` holds, at most `WAIT`.
async fn wait_for(
    services: &Services,
    viewer: &UserRecord,
    id: WorkloadId,
    what: &str,
    want: impl Fn(&WorkloadRecord) -> bool,
) -> WorkloadRecord {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let record = services.workload(viewer, id).await.expect("the workload");
        if want(&record) {
            return record;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not {what} after {WAIT:?}: {:?} {:?} {:?}",
            record.status(),
            record.error,
            record.events
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_status(
    services: &Services,
    viewer: &UserRecord,
    id: WorkloadId,
    status: WorkloadStatus,
) -> WorkloadRecord {
    let what = status.to_string();
    wait_for(services, viewer, id, &what, |r| r.status() == status).await
}

/// Running with its service's link.
async fn wait_running(services: &Services, viewer: &UserRecord, id: WorkloadId) -> u16 {
    let record = wait_for(services, viewer, id, "running with a link", |r| {
        r.status() == WorkloadStatus::Running
            && r.observed.as_ref().is_some_and(|o| !o.endpoints.is_empty())
    })
    .await;
    record
        .observed
        .and_then(|o| o.endpoints.first().map(|e| e.port))
        .expect("an endpoint")
}

/// Polls until the stored workload is gone (the driver confirmed).
async fn wait_gone(services: &Services, viewer: &UserRecord, id: WorkloadId) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match services.workload(viewer, id).await {
            Err(ServiceError::NotFound) => return,
            Ok(record) => assert!(
                tokio::time::Instant::now() < deadline,
                "still stored after {WAIT:?}: {:?}",
                record.events
            ),
            Err(other) => panic!("unexpected {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_group_gone(pgid: i32) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !group_members(pgid).is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "process group {pgid} still has {:?}",
            group_members(pgid)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_volume(
    services: &Services,
    viewer: &UserRecord,
    id: VolumeId,
    want: impl Fn(Option<bool>) -> bool,
) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let ready = match services.volume(viewer, id).await {
            Ok(volume) => Some(volume.ready),
            Err(ServiceError::NotFound) => None,
            Err(other) => panic!("unexpected {other:?}"),
        };
        if want(ready) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "volume still {ready:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A plain HTTP GET on the loopback port; the whole answer.
fn http_get(port: u16) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("a timeout");
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .expect("sends");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

fn volume_dir(lab: &Lab, name: &str) -> PathBuf {
    lab.app
        .data_dir()
        .join("local/projects")
        .join(lab.project.to_string())
        .join("volumes")
        .join(name)
}

#[tokio::test]
async fn a_container_runs_answers_stops_starts_again_and_is_deleted() {
    let lab = lab().await;
    let (services, bob) = (&lab.services, &lab.bob);
    let id = services
        .create_container(bob, container(lab.project, "web"))
        .await
        .expect("created");
    // The answer came after the commit: the record is there, wanted running.
    let record = services.workload(bob, id).await.expect("stored");
    assert_eq!(record.desired, Desired::Running);
    assert_eq!(record.spec.owner(), bob.id);

    let port = wait_running(services, bob, id).await;
    assert!(http_get(port).contains("200 OK"), "the service answers");
    let first = local(services).process_group(id).expect("a process group");

    services.stop_container(bob, id).await.expect("stop");
    wait_status(services, bob, id, WorkloadStatus::Stopped).await;
    wait_group_gone(first).await;

    services.start_container(bob, id).await.expect("start");
    let port = wait_running(services, bob, id).await;
    assert!(http_get(port).contains("200 OK"), "it answers again");
    let second = local(services).process_group(id).expect("a process group");
    assert_ne!(second, first, "started again as new processes");

    let events = services.workload_events(bob, id).await.expect("events");
    let reasons: Vec<&str> = events.iter().map(|e| e.reason.as_str()).collect();
    for reason in [
        "Created",
        "Running",
        "StopRequested",
        "Stopped",
        "StartRequested",
    ] {
        assert!(reasons.contains(&reason), "{reason} in {reasons:?}");
    }

    services.delete_workload(bob, id).await.expect("delete");
    wait_gone(services, bob, id).await;
    wait_group_gone(second).await;
    assert!(matches!(
        local(services).status(id).await,
        Err(DriverError::NotFound { .. })
    ));
    assert!(
        services
            .project_workloads(bob, lab.project)
            .await
            .expect("list")
            .is_empty()
    );
}

#[tokio::test]
async fn jobs_print_fail_and_are_cancelled() {
    let lab = lab().await;
    let (services, bob) = (&lab.services, &lab.bob);
    let hello = services
        .create_job(
            bob,
            job(
                lab.project,
                "hello",
                "echo hello-from-job; echo second line",
            ),
        )
        .await
        .expect("created");
    let failing = services
        .create_job(
            bob,
            job(lab.project, "failing", "echo about to fail; exit 3"),
        )
        .await
        .expect("created");
    let sleeper = services
        .create_job(bob, job(lab.project, "sleeper", "sleep 300"))
        .await
        .expect("created");

    wait_status(services, bob, hello, WorkloadStatus::Succeeded).await;
    let log = services.workload_logs(bob, hello, 100).await.expect("log");
    assert!(
        log.contains("hello-from-job") && log.contains("second line"),
        "{log}"
    );
    let last = services.workload_logs(bob, hello, 1).await.expect("log");
    assert_eq!(last.trim(), "second line");
    let events = services.workload_events(bob, hello).await.expect("events");
    assert!(events.iter().any(|e| e.reason == "Succeeded"), "{events:?}");
    assert!(
        events.iter().any(|e| e.message == "the job started"),
        "the driver's own events are merged in: {events:?}"
    );
    let followed: Vec<String> = services
        .follow_workload_logs(bob, hello)
        .await
        .expect("a stream")
        .map(|chunk| chunk.expect("a chunk"))
        .collect()
        .await;
    assert!(followed.concat().contains("hello-from-job"), "{followed:?}");

    let failed = wait_status(
        services,
        bob,
        failing,
        WorkloadStatus::failed(FailureReason::ExitCode(3)),
    )
    .await;
    assert!(
        failed
            .events
            .iter()
            .any(|e| e.warning && e.reason == "Failed")
    );

    wait_status(services, bob, sleeper, WorkloadStatus::Running).await;
    let pgid = local(services).process_group(sleeper).expect("a group");
    services.cancel_job(bob, sleeper).await.expect("cancel");
    let cancelled = wait_status(services, bob, sleeper, WorkloadStatus::Stopped).await;
    assert_eq!(cancelled.desired, Desired::Stopped);
    wait_group_gone(pgid).await;
    // Cancelling what has ended changes nothing.
    services
        .cancel_job(bob, hello)
        .await
        .expect("nothing to cancel");
    let record = services.workload(bob, hello).await.expect("stored");
    assert_eq!(record.desired, Desired::Running);
    assert_eq!(record.status(), WorkloadStatus::Succeeded);
}

#[tokio::test]
async fn a_volume_is_written_by_a_job_and_deleted_once_no_container_mounts_it() {
    let lab = lab().await;
    let (services, bob) = (&lab.services, &lab.bob);
    let volume = services
        .create_volume(
            bob,
            VolumeSpec {
                project: lab.project,
                owner: UserId::generate(),
                name: "data".into(),
                storage_class: "standard".into(),
                size_gib: 1,
                clone_of: None,
            },
        )
        .await
        .expect("created");
    wait_volume(services, bob, volume, |ready| ready == Some(true)).await;

    let mut writer = job(
        lab.project,
        "writer",
        "echo written > \"$MLSTACK_VOLUME_DATA/out.txt\"",
    );
    writer.volumes = vec![mount("data", "/workspace/data")];
    let writer = services.create_job(bob, writer).await.expect("created");
    wait_status(services, bob, writer, WorkloadStatus::Succeeded).await;
    let written =
        std::fs::read_to_string(volume_dir(&lab, "data").join("out.txt")).expect("the file");
    assert_eq!(written.trim(), "written");

    let mut reader = container(lab.project, "reader");
    reader.volumes = vec![mount("data", "/workspace/data")];
    let reader = services
        .create_container(bob, reader)
        .await
        .expect("created");
    wait_running(services, bob, reader).await;
    assert!(matches!(
        services.delete_volume(bob, volume).await,
        Err(ServiceError::Refused("error.volume.in_use"))
    ));
    // The ended job does not hold it; the container does until it is gone.
    services.delete_workload(bob, reader).await.expect("delete");
    wait_gone(services, bob, reader).await;
    services
        .delete_volume(bob, volume)
        .await
        .expect("deletable now");
    wait_volume(services, bob, volume, |ready| ready.is_none()).await;
    assert!(!volume_dir(&lab, "data").exists(), "its data went with it");
}

#[tokio::test]
async fn a_container_waits_for_the_only_gpu_and_runs_once_it_is_free() {
    let lab = lab().await;
    let (services, bob) = (&lab.services, &lab.bob);
    let mut first = container(lab.project, "first");
    first.resources.gpu = Some(t4());
    let first = services
        .create_container(bob, first)
        .await
        .expect("created");
    wait_running(services, bob, first).await;
    let held = services.workload(bob, first).await.expect("stored");
    assert_eq!(held.observed.map(|o| o.gpus), Some(vec![0]));

    let mut second = container(lab.project, "second");
    second.resources.gpu = Some(t4());
    let second = services
        .create_container(bob, second)
        .await
        .expect("created");
    let waiting = wait_for(services, bob, second, "waiting for a GPU", |r| {
        r.error
            .as_ref()
            .is_some_and(|e| e.reason == "NotEnoughGpus")
    })
    .await;
    let error = waiting.error.clone().expect("an error");
    assert!(error.attempts >= 1);
    assert!(
        error.retry_at.is_some_and(|at| at > error.at),
        "retried later: {error:?}"
    );
    assert_eq!(waiting.due_at, error.retry_at);
    assert_eq!(waiting.status(), WorkloadStatus::Creating);
    assert!(
        waiting
            .events
            .iter()
            .any(|e| e.warning && e.reason == "NotEnoughGpus"),
        "the user sees why: {:?}",
        waiting.events
    );

    services.delete_workload(bob, first).await.expect("delete");
    wait_gone(services, bob, first).await;
    wait_running(services, bob, second).await;
    let running = services.workload(bob, second).await.expect("stored");
    assert_eq!(running.error, None);
    assert_eq!(running.observed.map(|o| o.gpus), Some(vec![0]));
    let pgid = local(services).process_group(second).expect("a group");
    services.delete_workload(bob, second).await.expect("delete");
    wait_gone(services, bob, second).await;
    wait_group_gone(pgid).await;
}

#[tokio::test]
async fn desired_state_survives_a_restart_and_the_running_container_is_found_again() {
    let lab = lab().await;
    let bob = lab.bob.clone();
    let web = lab
        .services
        .create_container(&bob, container(lab.project, "web"))
        .await
        .expect("created");
    let once = lab
        .services
        .create_job(&bob, job(lab.project, "once", "echo ran-once"))
        .await
        .expect("created");
    let port = wait_running(&lab.services, &bob, web).await;
    wait_status(&lab.services, &bob, once, WorkloadStatus::Succeeded).await;
    let pgid = local(&lab.services).process_group(web).expect("a group");

    // Our copy of the services holds the store: let it go first.
    let Lab { app, services, .. } = lab;
    drop(services);
    let app = app.restart();
    let services = app.services();
    let record = services.workload(&bob, web).await.expect("still stored");
    assert_eq!(record.desired, Desired::Running);
    let again = wait_running(&services, &bob, web).await;
    assert_eq!(again, port, "the same service");
    assert_eq!(
        local(&services).process_group(web),
        Some(pgid),
        "found again, not started twice"
    );
    assert!(http_get(port).contains("200 OK"));
    // A resync leaves both as they are; the job does not run again.
    app.reconciler().resync().await.expect("resync");
    assert_eq!(local(&services).process_group(web), Some(pgid));
    let log = services.workload_logs(&bob, once, 100).await.expect("log");
    assert_eq!(log.matches("ran-once").count(), 1, "{log}");
    let job = services.workload(&bob, once).await.expect("stored");
    assert_eq!(job.status(), WorkloadStatus::Succeeded);

    // And the loop goes on working after the restart.
    services.stop_container(&bob, web).await.expect("stop");
    wait_status(&services, &bob, web, WorkloadStatus::Stopped).await;
    wait_group_gone(pgid).await;
}

#[tokio::test]
async fn a_resync_deletes_orphans_and_a_release_deletes_everything() {
    let lab = lab().await;
    let (services, bob) = (&lab.services, &lab.bob);
    let kept = services
        .create_job(bob, job(lab.project, "kept", "sleep 300"))
        .await
        .expect("created");
    wait_status(services, bob, kept, WorkloadStatus::Running).await;

    // A job the driver runs and the store does not know.
    let orphan = job(lab.project, "orphan", "sleep 300");
    let driver = services.driver().expect("a driver");
    driver.apply_job(&orphan).await.expect("applied");
    let pgid = local(services)
        .process_group(orphan.meta.id)
        .expect("a group");
    let report = lab.app.reconciler().resync().await.expect("resync");
    assert!(report.orphans_deleted >= 1, "{report:?}");
    assert!(matches!(
        driver.status(orphan.meta.id).await,
        Err(DriverError::NotFound { .. })
    ));
    wait_group_gone(pgid).await;
    let still = services.workload(bob, kept).await.expect("stored");
    assert_eq!(
        still.status(),
        WorkloadStatus::Running,
        "what is wanted stays"
    );

    // Releasing the project deletes its workloads and volumes.
    let volume = services
        .create_volume(
            bob,
            VolumeSpec {
                project: lab.project,
                owner: UserId::generate(),
                name: "scratch".into(),
                storage_class: "standard".into(),
                size_gib: 1,
                clone_of: None,
            },
        )
        .await
        .expect("created");
    wait_volume(services, bob, volume, |ready| ready == Some(true)).await;
    let kept_group = local(services).process_group(kept).expect("a group");
    services
        .force_release(&lab.admin, lab.project)
        .await
        .expect("release");
    wait_gone(services, bob, kept).await;
    wait_group_gone(kept_group).await;
    wait_volume(services, bob, volume, |ready| ready.is_none()).await;
    assert!(!volume_dir(&lab, "scratch").exists());
    // Once empty, the released project's own folder goes too.
    let project_dir = lab
        .app
        .data_dir()
        .join("local/projects")
        .join(lab.project.to_string());
    let deadline = tokio::time::Instant::now() + WAIT;
    while project_dir.exists() {
        assert!(tokio::time::Instant::now() < deadline, "the folder stays");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Lab {
    /// A browser session of `name` (not the admin).
    async fn client(&self, name: &str) -> crate::common::Client {
        let client = self.app.client();
        client.login_ok(name, &self.passwords[name]).await;
        client
    }

    /// What the project's workloads hold now.
    async fn used(&self) -> mlstack::domain::quota::Resources {
        self.services
            .project(&self.alice, self.project)
            .await
            .expect("project")
            .used
    }
}

/// A workload holds its share of the quota from its creation while it is to
/// run: a job until it ends, a container until it is stopped or deleted;
/// the pages count them; more than the quota is refused with what is left.
#[tokio::test]
async fn holds_follow_each_workload_and_the_pages_count_them() {
    use mlstack::domain::quota::Resources as Quota;
    let lab = lab().await;
    let (services, bob) = (&lab.services, &lab.bob);
    let one_core = Quota {
        gpu_milli: 0,
        cpu_milli: 1000,
        ram_mib: 2048,
        storage_gib: 0,
    };
    assert_eq!(lab.used().await, Quota::ZERO);

    let short = services
        .create_job(bob, job(lab.project, "short", "sleep 1; exit 0"))
        .await
        .expect("job");
    assert_eq!(lab.used().await, one_core, "held from the creation");
    wait_status(services, bob, short, WorkloadStatus::Succeeded).await;
    assert_eq!(lab.used().await, Quota::ZERO, "given back when it ended");

    let web = services
        .create_container(bob, container(lab.project, "web"))
        .await
        .expect("container");
    let long = services
        .create_job(bob, job(lab.project, "long", "sleep 300"))
        .await
        .expect("job");
    wait_status(services, bob, long, WorkloadStatus::Running).await;
    let both = one_core.checked_add(one_core).expect("sum");
    assert_eq!(lab.used().await, both);

    // Project List and Project Detail count them.
    let alice = lab.client("alice").await;
    let list = alice.get("/projects").await;
    assert!(
        list.body.contains("Containers</dt><dd>1</dd>")
            && list.body.contains("Jobs</dt><dd>2</dd>"),
        "1 container, 2 jobs (an ended one counts): {}",
        list.body
    );
    let detail = alice.get(&format!("/projects/{}", lab.project)).await;
    let containers = detail.body.find("Containers</dt><dd>1</dd>");
    let jobs = detail.body.find("Jobs</dt><dd>2</dd>");
    assert!(
        containers.is_some() && jobs.is_some(),
        "1 container, 2 jobs: {}",
        detail.body
    );

    // Past the quota (16 cores): a job waits in the queue, holding nothing;
    // cancelled there, it never held anything.
    let mut greedy = job(lab.project, "greedy", "true");
    greedy.resources.cpu_milli = 15_000;
    let greedy = services.create_job(bob, greedy).await.expect("queued");
    assert_eq!(
        services.workload(bob, greedy).await.expect("job").status(),
        WorkloadStatus::Queued
    );
    assert_eq!(lab.used().await, both);
    services.cancel_job(bob, greedy).await.expect("cancel");
    assert_eq!(
        services.workload(bob, greedy).await.expect("job").status(),
        WorkloadStatus::Stopped
    );

    // Cancel, stop and delete give back what they held.
    services.cancel_job(bob, long).await.expect("cancel");
    assert_eq!(lab.used().await, one_core);
    services.stop_container(bob, web).await.expect("stop");
    assert_eq!(lab.used().await, Quota::ZERO);
    services.start_container(bob, web).await.expect("start");
    assert_eq!(lab.used().await, one_core, "held again to run again");
    services.delete_workload(bob, web).await.expect("delete");
    wait_gone(services, bob, web).await;
    assert_eq!(lab.used().await, Quota::ZERO, "given back with the record");
    let detail = alice.get(&format!("/projects/{}", lab.project)).await;
    assert!(detail.body.contains("Containers</dt><dd>0</dd>"));
}

#[tokio::test]
async fn members_act_on_their_own_workloads_and_managers_on_all() {
    let lab = lab().await;
    let services = &lab.services;
    let (alice, bob, carol, dave) = (&lab.alice, &lab.bob, &lab.carol, &lab.dave);
    let id = services
        .create_container(bob, container(lab.project, "mine"))
        .await
        .expect("created");
    let volume = services
        .create_volume(
            bob,
            VolumeSpec {
                project: lab.project,
                owner: UserId::generate(),
                name: "bobs".into(),
                storage_class: "standard".into(),
                size_gib: 1,
                clone_of: None,
            },
        )
        .await
        .expect("created");

    // Another member, like someone outside the project: not found (a
    // teammate's workload is not shown to exist).
    assert!(matches!(
        services.stop_container(carol, id).await,
        Err(ServiceError::NotFound)
    ));
    assert!(matches!(
        services.delete_workload(carol, id).await,
        Err(ServiceError::NotFound)
    ));
    assert!(matches!(
        services.workload_logs(carol, id, 10).await,
        Err(ServiceError::NotFound)
    ));
    assert!(matches!(
        services.delete_volume(carol, volume).await,
        Err(ServiceError::NotFound)
    ));
    let carols = services
        .project_workloads(carol, lab.project)
        .await
        .expect("list");
    assert!(carols.is_empty(), "members see their own");
    for outcome in [
        services.stop_container(dave, id).await,
        services.delete_workload(dave, id).await,
        services.workload(dave, id).await.map(|_| ()),
        services
            .project_workloads(dave, lab.project)
            .await
            .map(|_| ()),
        services
            .create_container(dave, container(lab.project, "intruder"))
            .await
            .map(|_| ()),
    ] {
        assert!(
            matches!(outcome, Err(ServiceError::NotFound)),
            "{outcome:?}"
        );
    }
    // A platform admin sees it; the owner and the manager see it listed.
    services.workload(&lab.admin, id).await.expect("admin sees");
    for viewer in [bob, alice] {
        let list = services
            .project_workloads(viewer, lab.project)
            .await
            .expect("list");
        assert_eq!(list.iter().map(|r| r.id()).collect::<Vec<_>>(), [id]);
    }

    wait_running(services, bob, id).await;
    services
        .stop_container(alice, id)
        .await
        .expect("a manager may");
    let stopped = wait_status(services, bob, id, WorkloadStatus::Stopped).await;
    assert!(
        stopped
            .events
            .iter()
            .any(|e| e.message == "stop requested by alice"),
        "{:?}",
        stopped.events
    );
    services
        .delete_workload(bob, id)
        .await
        .expect("the owner may");
    services
        .delete_volume(alice, volume)
        .await
        .expect("a manager may");
    wait_gone(services, bob, id).await;
}

#[tokio::test]
async fn bad_input_changes_nothing() {
    let lab = lab().await;
    let (services, bob) = (&lab.services, &lab.bob);
    let invalid = |outcome: Result<WorkloadId, ServiceError>, field: &str, key: &str| match outcome
    {
        Err(ServiceError::Invalid(errors)) => assert_eq!(errors.get(field), Some(key)),
        other => panic!("expected {field}: {key}, got {other:?}"),
    };
    invalid(
        services
            .create_container(bob, container(lab.project, "Bad_Name"))
            .await,
        "name",
        "workload.error.name",
    );
    invalid(
        services
            .create_job(bob, job(lab.project, "empty", "  "))
            .await,
        "command",
        "workload.error.command",
    );
    let mut unknown_volume = job(lab.project, "reads", "true");
    unknown_volume.volumes = vec![mount("nothing", "/data")];
    invalid(
        services.create_job(bob, unknown_volume).await,
        "volumes",
        "workload.error.volume_unknown",
    );
    let mut system = job(lab.project, "system", "true");
    system.volumes = vec![mount("data", "/etc")];
    invalid(
        services.create_job(bob, system).await,
        "volumes",
        "workload.error.mount_path_system",
    );
    assert!(matches!(
        services
            .create_container(bob, container(ProjectId::generate(), "web"))
            .await,
        Err(ServiceError::NotFound)
    ));
    assert!(matches!(
        services.stop_container(bob, WorkloadId::generate()).await,
        Err(ServiceError::NotFound)
    ));

    let first = services
        .create_job(bob, job(lab.project, "dup", "true"))
        .await
        .expect("created");
    invalid(
        services
            .create_container(bob, container(lab.project, "dup"))
            .await,
        "name",
        "workload.error.name_taken",
    );
    // A job is not stopped or started like a container.
    assert!(matches!(
        services.stop_container(bob, first).await,
        Err(ServiceError::NotFound)
    ));
    let stored = services
        .project_workloads(bob, lab.project)
        .await
        .expect("list");
    assert_eq!(stored.iter().map(|r| r.id()).collect::<Vec<_>>(), [first]);
    wait_status(services, bob, first, WorkloadStatus::Succeeded).await;
    let driver = services.driver().expect("a driver");
    let known: Vec<WorkloadId> = driver
        .workloads()
        .await
        .expect("list")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(known, [first], "nothing refused reached the driver");
}

/// A lab whose appliance runs the kube driver against a fake API server
/// (fields drop in order: the appliance stops before the fake).
struct ClusterLab {
    lab: Lab,
    fake: FakeApiServer,
    _dir: tempfile::TempDir,
}

async fn cluster_lab(tune: impl FnOnce(&mut mlstack::config::ClusterConfig)) -> ClusterLab {
    let fake = FakeApiServer::start();
    let dir = tempfile::tempdir().expect("dir");
    let kubeconfig = dir.path().join("kubeconfig");
    fake.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let lab = lab_with(|config| {
        config.cluster.driver = DriverChoice::Kube;
        config.cluster.kubeconfig = Some(kubeconfig);
        tune(&mut config.cluster);
    })
    .await;
    ClusterLab {
        lab,
        fake,
        _dir: dir,
    }
}

/// The journey of the tests above with `driver = "kube"` and a kubeconfig
/// pointing at the fake API server: the appliance's own reconcile loop
/// creates, observes and deletes the Kubernetes objects.
#[tokio::test]
async fn containers_jobs_and_volumes_run_on_a_kubernetes_cluster() {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::batch::v1::Job;
    use k8s_openapi::api::core::v1::{Namespace, PersistentVolumeClaim, Service};

    let ClusterLab { lab, fake, _dir } = cluster_lab(|_| {}).await;
    let (services, bob) = (&lab.services, &lab.bob);
    assert_eq!(services.driver().expect("a driver").name(), "kube");
    let namespace = manifests::namespace_name(lab.project);

    let volume = services
        .create_volume(
            bob,
            VolumeSpec {
                project: lab.project,
                owner: bob.id,
                name: "data".into(),
                storage_class: "standard".into(),
                size_gib: 10,
                clone_of: None,
            },
        )
        .await
        .expect("volume");
    wait_volume(services, bob, volume, |ready| ready == Some(true)).await;
    assert!(
        fake.get::<PersistentVolumeClaim>(&namespace, "data")
            .is_some()
    );
    assert!(fake.get::<Namespace>("", &namespace).is_some());

    let mut spec = container(lab.project, "web");
    spec.resources.gpu = Some(GpuRequest {
        resource_name: "nvidia.com/gpu".into(),
        type_name: "NVIDIA H200".into(),
        node_selector: BTreeMap::from([("nvidia.com/gpu.product".into(), "NVIDIA-H200".into())]),
        count: 1,
        units_milli: 1000,
    });
    spec.volumes = vec![mount("data", "/workspace/data")];
    let web = services.create_container(bob, spec).await.expect("created");
    let running = wait_for(services, bob, web, "running with links", |r| {
        r.status() == WorkloadStatus::Running
            && r.observed.as_ref().is_some_and(|o| !o.endpoints.is_empty())
    })
    .await;
    let link = &running.observed.expect("observed").endpoints[0];
    assert!(
        link.url.starts_with("http://127.0.0.1:3"),
        "a NodePort link: {link:?}"
    );
    let deployment: Deployment = fake.get(&namespace, "web").expect("a Deployment");
    assert_eq!(deployment.spec.expect("spec").replicas, Some(1));
    assert!(fake.get::<Service>(&namespace, "web").is_some());

    // A member's activation passes once the reconcile loop made the
    // service account their pods run as in each of their projects.
    let before: Option<k8s_openapi::api::core::v1::ServiceAccount> =
        fake.get(&namespace, &manifests::member_account_name(lab.carol.id));
    assert!(before.is_none(), "carol is not activated yet");
    activate(services, &lab.carol).await;
    let account: Option<k8s_openapi::api::core::v1::ServiceAccount> =
        fake.get(&namespace, &manifests::member_account_name(lab.carol.id));
    assert!(account.is_some(), "carol's service account");

    services.stop_container(bob, web).await.expect("stop");
    wait_status(services, bob, web, WorkloadStatus::Stopped).await;
    services.start_container(bob, web).await.expect("start");
    wait_status(services, bob, web, WorkloadStatus::Running).await;

    let hello = services
        .create_job(
            bob,
            job(lab.project, "hello", "echo hello from the cluster; exit 0"),
        )
        .await
        .expect("job");
    let failing = services
        .create_job(bob, job(lab.project, "failing", "exit 4"))
        .await
        .expect("job");
    wait_status(services, bob, hello, WorkloadStatus::Succeeded).await;
    assert_eq!(
        services.workload_logs(bob, hello, 10).await.expect("log"),
        "hello from the cluster\n"
    );
    wait_status(
        services,
        bob,
        failing,
        WorkloadStatus::failed(FailureReason::ExitCode(4)),
    )
    .await;
    let events = services.workload_events(bob, hello).await.expect("events");
    assert!(
        events.iter().any(|e| e.reason == "Started"),
        "the pod's events: {events:?}"
    );

    // The volume is mounted by the running container.
    assert!(services.delete_volume(bob, volume).await.is_err());
    for id in [web, hello, failing] {
        services.delete_workload(bob, id).await.expect("delete");
        wait_gone(services, bob, id).await;
    }
    assert!(fake.get::<Deployment>(&namespace, "web").is_none());
    assert!(fake.get::<Job>(&namespace, "hello").is_none());
    services
        .delete_volume(bob, volume)
        .await
        .expect("delete the volume");
    wait_volume(services, bob, volume, |ready| ready.is_none()).await;
    assert!(
        fake.get::<PersistentVolumeClaim>(&namespace, "data")
            .is_none()
    );
}

/// A cluster outage while the appliance runs: the workload shows why it is
/// not running yet (an error and a warning event, retried with back-off),
/// and runs by itself once the cluster is back. Refused credentials are a
/// recorded error too, not retried until something changes.
#[tokio::test]
async fn a_cluster_outage_is_shown_on_the_workload_and_recovered_from() {
    let ClusterLab { lab, fake, _dir } = cluster_lab(|cluster| {
        cluster.request_timeout = Duration::from_secs(2);
    })
    .await;
    let (services, bob) = (&lab.services, &lab.bob);
    let first = services
        .create_job(bob, job(lab.project, "before", "echo fine"))
        .await
        .expect("job");
    wait_status(services, bob, first, WorkloadStatus::Succeeded).await;
    // mlstack archives the log of the job that ended.
    let deadline = tokio::time::Instant::now() + WAIT;
    while services
        .archived_job_log(bob, first)
        .await
        .expect("archive")
        .is_none()
    {
        assert!(tokio::time::Instant::now() < deadline, "no archived log");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    fake.stop();
    let web = services
        .create_container(bob, container(lab.project, "web"))
        .await
        .expect("desired state is written while the cluster is away");
    let waiting = wait_for(services, bob, web, "an error recorded", |r| {
        r.error.as_ref().is_some_and(|e| e.retry_at.is_some())
    })
    .await;
    let error = waiting.error.expect("an error");
    assert!(
        matches!(error.reason.as_str(), "Unreachable" | "Timeout"),
        "{error:?}"
    );
    assert!(
        waiting.events.iter().any(|e| e.warning),
        "a warning event tells the user: {:?}",
        waiting.events
    );
    // A finished job's log is mlstack's own copy: it reads with the
    // cluster away.
    let log = services
        .workload_logs(bob, first, 10)
        .await
        .expect("the archived log");
    assert!(log.contains("fine"), "{log}");
    // What only the cluster has is a clear error within the request
    // timeout, not a hung request.
    let started = tokio::time::Instant::now();
    assert!(services.workload_logs(bob, web, 10).await.is_err());
    assert!(started.elapsed() < Duration::from_secs(20));

    fake.start_again();
    // The retry comes due on the appliance's clock.
    lab.app.advance(jiff::SignedDuration::from_secs(600));
    let reconciler = lab.app.reconciler();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        reconciler.step().await.expect("a pass");
        let record = services.workload(bob, web).await.expect("stored");
        if record.status() == WorkloadStatus::Running {
            assert!(
                record.error.is_none(),
                "the error is cleared: {:?}",
                record.error
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{:?}", record.error);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Credentials refused: recorded, not retried on its own.
    fake.forbid("patch", "jobs");
    let refused = services
        .create_job(bob, job(lab.project, "refused", "echo no"))
        .await
        .expect("job");
    let record = wait_for(services, bob, refused, "a refusal recorded", |r| {
        r.error.is_some()
    })
    .await;
    let error = record.error.expect("an error");
    assert_eq!(error.reason, "Forbidden", "{error:?}");
    assert!(error.retry_at.is_none());
}

/// The periodic resync on a cluster: a Deployment someone deleted behind
/// mlstack's back is made again, and an object labelled as mlstack's that
/// no workload in the store wants is deleted.
#[tokio::test]
async fn a_resync_on_a_cluster_recreates_what_is_missing_and_deletes_orphans() {
    use k8s_openapi::api::apps::v1::Deployment;

    let ClusterLab { lab, fake, _dir } = cluster_lab(|_| {}).await;
    let (services, bob) = (&lab.services, &lab.bob);
    let namespace = manifests::namespace_name(lab.project);
    let web = services
        .create_container(bob, container(lab.project, "web"))
        .await
        .expect("created");
    wait_status(services, bob, web, WorkloadStatus::Running).await;

    // An orphan: a container mlstack made once, which the store no longer has.
    let orphan = container(lab.project, "orphan");
    let AnyDriver::Kube(kube) = &**services.driver().expect("a driver") else {
        panic!("this test runs the kube driver");
    };
    kube.apply_container(&orphan)
        .await
        .expect("applied directly");
    assert!(fake.get::<Deployment>(&namespace, "orphan").is_some());

    let client = fake.client().await;
    let api: kube::Api<Deployment> = kube::Api::namespaced(client, &namespace);
    api.delete("web", &Default::default())
        .await
        .expect("deleted behind mlstack's back");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        lab.app.reconciler().resync().await.expect("a resync");
        let back = fake.get::<Deployment>(&namespace, "web").is_some();
        let orphan_gone = fake.get::<Deployment>(&namespace, "orphan").is_none();
        if back && orphan_gone {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "web back: {back}, orphan gone: {orphan_gone}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    wait_status(services, bob, web, WorkloadStatus::Running).await;
}

/// On a cluster, Cloud Provisioning passes only once the driver made the
/// member's service account in each of their projects: Provisioning until
/// then, Failed with the reason when the cluster refuses; a released
/// project's namespace (with its service accounts) is deleted.
#[tokio::test]
async fn activation_waits_for_the_cluster_and_a_release_deletes_the_namespace() {
    use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
    use mlstack::store::activations::ActivationStatus;

    let ClusterLab { lab, fake, _dir } = cluster_lab(|_| {}).await;
    let services = &lab.services;
    let namespace = manifests::namespace_name(lab.project);
    let account = manifests::member_account_name(lab.carol.id);
    let carol = lab.client("carol").await;

    // The cluster refuses service accounts: the activation fails, and the
    // page says why.
    fake.forbid("patch", "serviceaccounts");
    let asked = carol.post_form("/advanced/cloud-provisioning", &[]).await;
    assert_eq!(asked.status, reqwest::StatusCode::SEE_OTHER);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let page = carol.get("/advanced/cloud-provisioning").await;
        if page.body.contains("Failed") {
            assert!(page.body.contains("could not prepare your resources"));
            assert!(page.body.contains("forbidden"), "{}", page.body);
            break;
        }
        assert!(
            page.body.contains("Provisioning") && !page.body.contains("Passed"),
            "{}",
            page.body
        );
        assert!(tokio::time::Instant::now() < deadline, "no failure shown");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(fake.get::<ServiceAccount>(&namespace, &account).is_none());

    // Slow but willing: Provisioning until the account exists, then Passed.
    fake.clear_faults();
    fake.set_latency(Duration::from_millis(300));
    let asked = carol.post_form("/advanced/cloud-provisioning", &[]).await;
    assert_eq!(asked.status, reqwest::StatusCode::SEE_OTHER);
    let status = services
        .activation(lab.carol.id)
        .await
        .expect("activation")
        .map(|a| a.status);
    assert_eq!(status, Some(ActivationStatus::Provisioning));
    let page = carol.get("/advanced/cloud-provisioning").await;
    assert!(page.body.contains("being prepared"), "{}", page.body);
    activate(services, &lab.carol).await;
    assert!(
        fake.get::<ServiceAccount>(&namespace, &account).is_some(),
        "passed only with carol's service account"
    );
    fake.set_latency(Duration::ZERO);

    // A released project loses its namespace once it is empty.
    let job = services
        .create_job(&lab.bob, job(lab.project, "brief", "echo hi"))
        .await
        .expect("job");
    wait_status(services, &lab.bob, job, WorkloadStatus::Succeeded).await;
    services
        .force_release(&lab.admin, lab.project)
        .await
        .expect("release");
    let deadline = tokio::time::Instant::now() + WAIT;
    while fake.get::<Namespace>("", &namespace).is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the namespace stays"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(fake.get::<ServiceAccount>(&namespace, &account).is_none());
}

/// Issue 8: a member's job runs in a sandbox: it cannot read the store or
/// the initial admin password, cannot see the server among its processes
/// nor signal it; and the store and data directory are the server's only.
#[tokio::test]
async fn a_job_cannot_read_the_store_or_see_the_server() {
    use std::os::unix::fs::PermissionsExt;

    let lab = lab().await;
    let (services, bob) = (&lab.services, &lab.bob);
    let data = lab.app.data_dir().to_owned();
    let store = data.join("mlstack.redb");
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .expect("exists")
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(&store), 0o600, "the store file is the server's only");
    assert_eq!(
        mode(&data),
        0o700,
        "the data directory is the server's only"
    );

    let server = std::process::id();
    let command = format!(
        "head -c 16 {store} && echo READ-STORE; \
         ls {data} && echo LISTED-DATA; \
         kill -0 {server} && echo SIGNALLED-SERVER; \
         echo \"pids: $(ls /proc | tr -cs '0-9' ' ')\"",
        store = store.display(),
        data = data.display(),
    );
    let id = services
        .create_job(bob, job(lab.project, "snoop", &command))
        .await
        .expect("created");
    wait_status(services, bob, id, WorkloadStatus::Succeeded).await;
    let log = services.workload_logs(bob, id, 100).await.expect("log");
    for leak in ["READ-STORE", "LISTED-DATA", "SIGNALLED-SERVER"] {
        assert!(!log.contains(leak), "{leak}: {log}");
    }
    let pids: Vec<u32> = log
        .lines()
        .find_map(|l| l.strip_prefix("pids:"))
        .expect("the job listed /proc")
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    assert!(!pids.is_empty() && !pids.contains(&server), "{pids:?}");
    assert!(
        pids.iter().all(|p| *p < 100),
        "its own PID namespace: {pids:?}"
    );
}

/// Issue 8: when workloads are allowed to run without a sandbox, admins are
/// warned on every page, members are not; without the setting they are
/// refused with the reason on the workload.
#[tokio::test]
async fn unsandboxed_workloads_warn_admins_and_are_refused_unless_allowed() {
    let app = TestApp::start_configured(|config| {
        config.local.bwrap = "/nonexistent-mlstack/bwrap".into();
        config.local.allow_unsandboxed = true;
    });
    let warning = "run WITHOUT a sandbox";
    let admin = app.admin().await;
    let home = admin.get("/").await;
    assert!(home.body.contains(warning), "{}", home.body);
    let (member, _) = app.member("erin").await;
    let home = member.get("/").await;
    assert!(!home.body.contains(warning), "{}", home.body);
    drop(app);

    let lab = lab_with(|config| config.local.bwrap = "/nonexistent-mlstack/bwrap".into()).await;
    let (services, bob) = (&lab.services, &lab.bob);
    let id = services
        .create_job(bob, job(lab.project, "refused", "echo RAN"))
        .await
        .expect("created");
    wait_status(
        services,
        bob,
        id,
        WorkloadStatus::failed(FailureReason::SandboxUnavailable),
    )
    .await;
    let admin = lab.app.admin().await;
    assert!(!admin.get("/").await.body.contains(warning));
}

/// Disabling an account stops its running workloads in every project and
/// gives back what they held; the workloads stay, stopped.
#[tokio::test]
async fn disabling_an_account_stops_its_workloads() {
    let lab = lab().await;
    let (services, bob) = (&lab.services, &lab.bob);
    let long = services
        .create_job(bob, job(lab.project, "long", "sleep 300"))
        .await
        .expect("job");
    let web = services
        .create_container(bob, container(lab.project, "web"))
        .await
        .expect("container");
    wait_status(services, bob, long, WorkloadStatus::Running).await;
    assert_ne!(lab.used().await, mlstack::domain::quota::Resources::ZERO);

    let admin = lab.app.admin().await;
    let done = admin
        .post_form(&format!("/admin/users/{}/disable", bob.id), &[])
        .await;
    let page = admin.get(done.location().expect("redirect")).await;
    assert!(page.body.contains("bob is disabled."), "{}", page.body);

    for id in [long, web] {
        let stopped = wait_status(services, &lab.admin, id, WorkloadStatus::Stopped).await;
        assert_eq!(stopped.desired, Desired::Stopped);
    }
    assert_eq!(lab.used().await, mlstack::domain::quota::Resources::ZERO);
}
