//! The local driver with real processes: jobs that print, fail, are
//! cancelled or hit their time limit; a container whose service answers
//! HTTP on its port; a missing program; GPUs never booked twice; and a
//! driver opened again on the same directory finding its processes; a
//! server that is not root but holds CAP_SETUID/CAP_SETGID running
//! workloads as users of their own; the web terminal of a container, a
//! shell inside its one sandbox.
//! Every wait is bounded.

use std::collections::BTreeMap;
use std::fs::Permissions;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use futures_util::StreamExt;
use mlstack::cluster::local::{
    CgroupSource, GpuSource, LocalConfig, LocalDriver, LocalGpu, group_members,
};
use mlstack::cluster::{
    Driver, DriverError, Observed, ProjectSpec, TerminalInput, TerminalSession, TerminalSize,
};
use mlstack::domain::catalog::{Protocol, ServiceKind};
use mlstack::domain::ids::{ProjectId, UserId};
use mlstack::domain::workload::{
    ContainerSpec, FailureReason, GpuRequest, ImageCommitSpec, ImageRef, JobSpec, Resources,
    ServiceSpec, SshAccess, VolumeMount, VolumeSpec, WorkloadId, WorkloadMeta, WorkloadStatus,
};

const WAIT: Duration = Duration::from_secs(20);

fn gpus(n: u32) -> Vec<LocalGpu> {
    (0..n)
        .map(|index| LocalGpu {
            index,
            name: "NVIDIA T4".into(),
            memory_mib: 15_360,
            uuid: Some(format!("GPU-mlstack-{index}")),
            minor: None,
        })
        .collect()
}

fn config(dir: &std::path::Path) -> LocalConfig {
    let mut config = LocalConfig::new(dir);
    config.gpus = GpuSource::Fixed(gpus(2));
    config.stop_grace = Duration::from_secs(2);
    config.ready_timeout = Duration::from_secs(15);
    // RLIMIT_AS, whatever the host's cgroups (one test below uses a cgroup).
    config.cgroups = CgroupSource::Off;
    config
}

async fn driver(dir: &std::path::Path) -> LocalDriver {
    LocalDriver::open(config(dir)).await.expect("driver opens")
}

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

fn job(project: ProjectId, command: &str) -> JobSpec {
    JobSpec {
        meta: meta(project, "job"),
        image: image(),
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
        origin: mlstack::domain::workload::JobOrigin::Immediately,
    }
}

fn t4(count: u32) -> GpuRequest {
    GpuRequest {
        resource_name: "nvidia.com/gpu".into(),
        type_name: "T4".into(),
        node_selector: BTreeMap::new(),
        count,
        units_milli: u64::from(count) * 1000,
    }
}

fn container(project: ProjectId, service_command: &str) -> ContainerSpec {
    ContainerSpec {
        meta: meta(project, "web"),
        image: image(),
        command: None,
        env: BTreeMap::new(),
        resources: Resources {
            cpu_milli: 1000,
            ram_mib: 2048,
            shm_mib: 0,
            gpu: None,
        },
        volumes: Vec::new(),
        services: vec![ServiceSpec {
            name: "http".into(),
            kind: ServiceKind::Custom,
            port: 8000,
            protocol: Protocol::Http,
            local_command: Some(service_command.into()),
        }],
        ssh: SshAccess::None,
        start_at: None,
        end_at: None,
    }
}

/// Polls until the status is terminal (or `want` holds), at most `WAIT`.
async fn wait_until(
    driver: &LocalDriver,
    id: WorkloadId,
    want: impl Fn(&WorkloadStatus) -> bool,
) -> Observed {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let observed = driver.status(id).await.expect("status");
        if want(&observed.status) {
            return observed;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {:?} after {WAIT:?}",
            observed.status
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_end(driver: &LocalDriver, id: WorkloadId) -> Observed {
    wait_until(driver, id, WorkloadStatus::is_terminal).await
}

/// Polls until the process group has no live member.
async fn wait_group_gone(pgid: i32) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !group_members(pgid).is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "process group {pgid} still has {:?}",
            group_members(pgid)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn http_get(port: u16) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("sets a timeout");
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .expect("sends the request");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

#[tokio::test]
async fn a_job_that_prints_succeeds_and_keeps_its_log() {
    let dir = tempfile::tempdir().unwrap();
    let driver = driver(dir.path()).await;
    let health = driver.health().await.unwrap();
    assert!(health.ok, "{health:?}");
    assert_eq!(driver.name(), "local");
    let project = ProjectId::generate();
    let mut spec = job(
        project,
        "echo hello from $MLSTACK_WORKLOAD_NAME; echo oops >&2; pwd; echo \"limit=$(ulimit -v)\"",
    );
    spec.env.insert("GREETING".into(), "hi".into());
    let mut events = driver.subscribe();

    let first = driver.apply_job(&spec).await.unwrap();
    assert!(matches!(
        first.status,
        WorkloadStatus::Running | WorkloadStatus::Succeeded
    ));
    let done = wait_end(&driver, spec.meta.id).await;
    assert_eq!(done.status, WorkloadStatus::Succeeded);
    assert!(done.finished_at.is_some());

    let log = driver.logs(spec.meta.id, 100).await.unwrap();
    assert!(log.contains("hello from job"), "{log}");
    assert!(log.contains("oops"), "stderr goes to the log too: {log}");
    assert!(
        log.contains("\n/workspace\n"),
        "its own working directory: {log}"
    );
    // RAM 1024 MiB as RLIMIT_AS, in KiB.
    assert!(log.contains("limit=1048576"), "{log}");
    assert_eq!(
        driver.logs(spec.meta.id, 1).await.unwrap().lines().count(),
        1
    );

    // Applying it again does not run it again.
    let again = driver.apply_job(&spec).await.unwrap();
    assert_eq!(again.status, WorkloadStatus::Succeeded);

    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        seen.push(event.status);
    }
    assert_eq!(seen, [WorkloadStatus::Running, WorkloadStatus::Succeeded]);

    // Only a Running container can be saved as an image, never a job.
    assert!(matches!(
        driver
            .commit_image(&ImageCommitSpec {
                id: WorkloadId::generate(),
                project,
                owner: UserId::generate(),
                container: spec.meta.id,
                target: image(),
            })
            .await,
        Err(DriverError::Conflict(_))
    ));

    driver.delete_job(spec.meta.id).await.unwrap();
    assert!(matches!(
        driver.status(spec.meta.id).await,
        Err(DriverError::NotFound { .. })
    ));
    assert!(
        !dir.path()
            .join(format!("workloads/{}", spec.meta.id))
            .exists()
    );
    // Deleting what is gone succeeds.
    driver.delete_job(spec.meta.id).await.unwrap();
}

#[tokio::test]
async fn a_failing_job_reports_its_exit_code_and_a_missing_program() {
    let dir = tempfile::tempdir().unwrap();
    let driver = driver(dir.path()).await;
    let project = ProjectId::generate();

    let failing = job(project, "echo about to fail; exit 3");
    driver.apply_job(&failing).await.unwrap();
    let done = wait_end(&driver, failing.meta.id).await;
    assert_eq!(
        done.status,
        WorkloadStatus::failed(FailureReason::ExitCode(3))
    );

    let missing = job(project, "no-such-program-mlstack --flag");
    driver.apply_job(&missing).await.unwrap();
    let done = wait_end(&driver, missing.meta.id).await;
    assert_eq!(
        done.status,
        WorkloadStatus::failed(FailureReason::MissingProgram(
            "no-such-program-mlstack".into()
        ))
    );
}

#[tokio::test]
async fn cancelling_a_job_kills_its_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let driver = driver(dir.path()).await;
    let spec = job(ProjectId::generate(), "sleep 30 & sleep 30; echo never");
    driver.apply_job(&spec).await.unwrap();
    let pgid = driver.process_group(spec.meta.id).expect("a process group");
    // The wrapper, the command's shell and both sleeps.
    let deadline = tokio::time::Instant::now() + WAIT;
    while group_members(pgid).len() < 3 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let started = std::time::Instant::now();
    driver.cancel_job(spec.meta.id).await.unwrap();
    let done = wait_end(&driver, spec.meta.id).await;
    assert_eq!(done.status, WorkloadStatus::Stopped);
    wait_group_gone(pgid).await;
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        !driver
            .logs(spec.meta.id, 10)
            .await
            .unwrap()
            .contains("never")
    );
    // Cancelling an ended job does nothing.
    driver.cancel_job(spec.meta.id).await.unwrap();
}

#[tokio::test]
async fn a_job_over_its_time_limit_fails_with_time_limit() {
    let dir = tempfile::tempdir().unwrap();
    let driver = driver(dir.path()).await;
    let mut spec = job(ProjectId::generate(), "trap '' TERM; sleep 30");
    spec.time_limit_secs = Some(1);
    driver.apply_job(&spec).await.unwrap();
    let pgid = driver.process_group(spec.meta.id).unwrap();
    let done = wait_end(&driver, spec.meta.id).await;
    assert_eq!(
        done.status,
        WorkloadStatus::failed(FailureReason::TimeLimit)
    );
    // It ignored TERM, so KILL after the grace period took the group.
    wait_group_gone(pgid).await;
}

#[tokio::test]
async fn a_container_serves_http_on_its_port_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let driver = driver(dir.path()).await;
    let project = ProjectId::generate();
    driver
        .provision_project(&ProjectSpec {
            id: project,
            name: "lab".into(),
            gpu_units_milli: None,
            cpu_milli: None,
            ram_mib: None,
            storage_gib: None,
        })
        .await
        .unwrap();
    driver
        .ensure_volume(&VolumeSpec {
            project,
            owner: UserId::generate(),
            name: "data".into(),
            storage_class: "local".into(),
            size_gib: 1,
            clone_of: None,
        })
        .await
        .unwrap();
    let volume_dir = dir.path().join(format!("projects/{project}/volumes/data"));
    std::fs::write(volume_dir.join("hello.txt"), "from the volume").unwrap();

    let mut spec = container(
        project,
        "cat \"$MLSTACK_VOLUME_DATASET/hello.txt\" > served.txt && exec python3 -m http.server --bind 127.0.0.1 \"$PORT\"",
    );
    spec.volumes = vec![VolumeMount {
        volume: "data".into(),
        mount_path: "/workspace/dataset".into(),
        read_only: false,
    }];
    driver.apply_container(&spec).await.unwrap();
    let running = wait_until(&driver, spec.meta.id, |s| {
        *s == WorkloadStatus::Running || s.is_terminal()
    })
    .await;
    assert_eq!(running.status, WorkloadStatus::Running, "{running:?}");
    let endpoint = &running.endpoints[0];
    assert_eq!(endpoint.service, "http");
    assert_eq!(endpoint.url, format!("http://127.0.0.1:{}/", endpoint.port));

    let port = endpoint.port;
    let listing = tokio::task::spawn_blocking(move || http_get(port))
        .await
        .unwrap();
    assert!(listing.starts_with("HTTP/1.0 200"), "{listing}");
    assert!(listing.contains("served.txt"), "{listing}");
    assert!(
        listing.contains("dataset"),
        "the volume link is in the working directory: {listing}"
    );
    let served = std::fs::read_to_string(
        dir.path()
            .join(format!("workloads/{}/work/served.txt", spec.meta.id)),
    )
    .unwrap();
    assert_eq!(served, "from the volume");

    // The volume is in use.
    assert!(matches!(
        driver.delete_volume(project, "data").await,
        Err(DriverError::Conflict(_))
    ));

    let pgid = driver.process_group(spec.meta.id).unwrap();
    driver.stop_container(spec.meta.id).await.unwrap();
    let stopped = wait_end(&driver, spec.meta.id).await;
    assert_eq!(stopped.status, WorkloadStatus::Stopped);
    assert!(stopped.endpoints.is_empty());
    wait_group_gone(pgid).await;

    // Applying a stopped container starts it again.
    driver.apply_container(&spec).await.unwrap();
    let again = wait_until(&driver, spec.meta.id, |s| {
        *s == WorkloadStatus::Running || s.is_terminal()
    })
    .await;
    assert_eq!(again.status, WorkloadStatus::Running);
    let pgid = driver.process_group(spec.meta.id).unwrap();
    driver.delete_container(spec.meta.id).await.unwrap();
    wait_group_gone(pgid).await;
    driver.delete_volume(project, "data").await.unwrap();
    assert!(!volume_dir.exists());
    // A volume name is never a path.
    assert!(matches!(
        driver.delete_volume(project, "../volumes").await,
        Err(DriverError::NotFound { .. })
    ));
    assert!(
        dir.path()
            .join(format!("projects/{project}/volumes"))
            .is_dir()
    );
}

#[tokio::test]
async fn a_container_with_a_missing_program_fails_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let driver = driver(dir.path()).await;
    let project = ProjectId::generate();

    // Found missing before it starts.
    let spec = container(project, "jupyter-mlstack-missing lab --port $PORT");
    let observed = driver.apply_container(&spec).await.unwrap();
    assert_eq!(
        observed.status,
        WorkloadStatus::failed(FailureReason::MissingProgram(
            "jupyter-mlstack-missing".into()
        ))
    );

    // Hidden behind shell syntax: the shell's 127 tells it.
    let spec = container(project, "cd . && jupyter-mlstack-missing lab --port $PORT");
    driver.apply_container(&spec).await.unwrap();
    let done = wait_end(&driver, spec.meta.id).await;
    assert_eq!(
        done.status,
        WorkloadStatus::failed(FailureReason::MissingProgram(
            "jupyter-mlstack-missing".into()
        ))
    );
}

#[tokio::test]
async fn gpus_are_never_booked_twice() {
    let dir = tempfile::tempdir().unwrap();
    let driver = driver(dir.path()).await;
    let project = ProjectId::generate();
    let capacity = driver.capacity().await.unwrap();
    assert_eq!(capacity.gpus[0].total, 2);
    assert_eq!(capacity.gpus[0].free, 2);

    let mut first = job(project, "echo \"gpus=[$CUDA_VISIBLE_DEVICES]\"; sleep 30");
    first.resources.gpu = Some(t4(1));
    let mut second = job(project, "echo \"gpus=[$CUDA_VISIBLE_DEVICES]\"; sleep 30");
    second.resources.gpu = Some(t4(1));
    let mut third = job(project, "true");
    third.resources.gpu = Some(t4(1));
    let plain = job(project, "echo \"gpus=[$CUDA_VISIBLE_DEVICES]\"");

    let a = driver.apply_job(&first).await.unwrap();
    let b = driver.apply_job(&second).await.unwrap();
    assert_eq!(a.gpus.len(), 1);
    assert_eq!(b.gpus.len(), 1);
    assert_ne!(a.gpus, b.gpus);
    assert_eq!(driver.capacity().await.unwrap().gpus[0].free, 0);
    match driver.apply_job(&third).await {
        Err(DriverError::NotEnoughGpus {
            requested, free, ..
        }) => assert_eq!((requested, free), (1, 0)),
        other => panic!("expected NotEnoughGpus, got {other:?}"),
    }

    driver.apply_job(&plain).await.unwrap();
    wait_end(&driver, plain.meta.id).await;
    assert!(
        driver
            .logs(plain.meta.id, 5)
            .await
            .unwrap()
            .contains("gpus=[]")
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    while !driver
        .logs(first.meta.id, 5)
        .await
        .unwrap()
        .contains("gpus=[")
    {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let log = driver.logs(first.meta.id, 5).await.unwrap();
    // By UUID, so an index cannot mean another card to CUDA.
    assert!(
        log.contains(&format!("gpus=[GPU-mlstack-{}]", a.gpus[0])),
        "{log}"
    );

    // Freed when a holder ends, then handed out again.
    driver.cancel_job(first.meta.id).await.unwrap();
    wait_end(&driver, first.meta.id).await;
    let c = driver.apply_job(&third).await.unwrap();
    assert_eq!(c.gpus, a.gpus);
    wait_end(&driver, third.meta.id).await;
    driver.cancel_job(second.meta.id).await.unwrap();
    wait_end(&driver, second.meta.id).await;
    assert_eq!(driver.capacity().await.unwrap().gpus[0].free, 2);
}

#[tokio::test]
async fn a_new_driver_finds_running_processes_or_marks_them_lost() {
    let dir = tempfile::tempdir().unwrap();
    let project = ProjectId::generate();
    let first = driver(dir.path()).await;

    let mut finishing = job(project, "sleep 3; echo finished; exit 4");
    finishing.resources.gpu = Some(t4(1));
    let killed = job(project, "sleep 30");
    let web = container(
        project,
        "exec python3 -m http.server --bind 127.0.0.1 \"$PORT\"",
    );
    let held = first.apply_job(&finishing).await.unwrap().gpus;
    first.apply_job(&killed).await.unwrap();
    first.apply_container(&web).await.unwrap();
    let running = wait_until(&first, web.meta.id, |s| {
        *s == WorkloadStatus::Running || s.is_terminal()
    })
    .await;
    assert_eq!(running.status, WorkloadStatus::Running);
    let killed_group = first.process_group(killed.meta.id).unwrap();
    let web_group = first.process_group(web.meta.id).unwrap();

    // "Crash": stop watching, leave the processes; one dies meanwhile.
    first.detach();
    std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{killed_group}")])
        .status()
        .unwrap();
    wait_group_gone(killed_group).await;

    let second = driver(dir.path()).await;
    assert_eq!(
        second.status(killed.meta.id).await.unwrap().status,
        WorkloadStatus::failed(FailureReason::Lost)
    );
    let web_now = second.status(web.meta.id).await.unwrap();
    assert_eq!(web_now.status, WorkloadStatus::Running);
    let port = web_now.endpoints[0].port;
    let answer = tokio::task::spawn_blocking(move || http_get(port))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
    // Its web terminal joins the sandbox it was found in: the service is
    // among the processes there.
    let mut shell = terminal(&second, &web).await;
    let listed = in_terminal(&mut shell, "cat /proc/[0-9]*/cmdline | tr '\\0' ' '").await;
    assert!(listed.contains("python3 -m http.server"), "{listed}");
    drop(shell);
    // The GPU stays booked by the job it was given to.
    let mut other = job(project, "true");
    other.resources.gpu = Some(t4(2));
    assert!(matches!(
        second.apply_job(&other).await,
        Err(DriverError::NotEnoughGpus { free: 1, .. })
    ));

    // The job ends under the new driver with its real exit code.
    let done = wait_end(&second, finishing.meta.id).await;
    assert_eq!(
        done.status,
        WorkloadStatus::failed(FailureReason::ExitCode(4))
    );
    assert_eq!(done.gpus, held);
    assert!(
        second
            .logs(finishing.meta.id, 5)
            .await
            .unwrap()
            .contains("finished")
    );
    assert_eq!(second.capacity().await.unwrap().gpus[0].free, 2);

    second.stop_container(web.meta.id).await.unwrap();
    assert_eq!(
        wait_end(&second, web.meta.id).await.status,
        WorkloadStatus::Stopped
    );
    wait_group_gone(web_group).await;
}

#[tokio::test]
async fn memory_limits_go_to_a_cgroup_where_one_is_delegated() {
    // A directory laid out like a delegated cgroup v2 (this machine's
    // kernel may not offer one): the driver writes the limit and the
    // job's shell moves itself in before the command runs.
    let dir = tempfile::tempdir().unwrap();
    let cgroups = tempfile::tempdir().unwrap();
    std::fs::write(
        cgroups.path().join("cgroup.subtree_control"),
        "memory pids\n",
    )
    .unwrap();
    let mut config = config(dir.path());
    config.cgroups = CgroupSource::At(cgroups.path().to_owned());
    let driver = LocalDriver::open(config).await.unwrap();
    let mut spec = job(ProjectId::generate(), "echo \"pid=$$ limit=$(ulimit -v)\"");
    spec.resources.ram_mib = 256;
    driver.apply_job(&spec).await.unwrap();
    assert_eq!(
        wait_end(&driver, spec.meta.id).await.status,
        WorkloadStatus::Succeeded
    );
    let cgroup = cgroups.path().join(format!("mlstack-{}", spec.meta.id));
    assert_eq!(
        std::fs::read_to_string(cgroup.join("memory.max")).unwrap(),
        (256u64 * 1024 * 1024).to_string()
    );
    let joined = std::fs::read_to_string(cgroup.join("cgroup.procs")).unwrap();
    assert!(joined.trim().parse::<u32>().is_ok(), "{joined:?}");
    let log = driver.logs(spec.meta.id, 10).await.unwrap();
    assert!(
        log.contains("limit=unlimited"),
        "no RLIMIT_AS with a cgroup: {log}"
    );
}

#[tokio::test]
async fn logs_can_be_followed_and_events_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let driver = driver(dir.path()).await;
    let project = ProjectId::generate();
    let spec = job(project, "echo one; sleep 1; echo two; sleep 1; echo three");
    driver.apply_job(&spec).await.unwrap();
    let mut stream = driver.follow_logs(spec.meta.id).await.unwrap();
    let mut text = String::new();
    let read = tokio::time::timeout(WAIT, async {
        while let Some(chunk) = stream.next().await {
            text.push_str(&chunk.unwrap());
        }
    })
    .await;
    assert!(read.is_ok(), "the stream ends with the job; got {text:?}");
    assert_eq!(text, "one\ntwo\nthree\n");

    let events = driver.events(spec.meta.id).await.unwrap();
    let reasons: Vec<&str> = events.iter().map(|e| e.reason.as_str()).collect();
    assert_eq!(reasons.last(), Some(&"Completed"), "{events:?}");
    assert!(reasons.contains(&"Started"), "{events:?}");
    assert!(events.windows(2).all(|w| w[0].at <= w[1].at));

    let listed = driver.workloads().await.unwrap();
    assert!(listed.iter().any(|(id, _)| *id == spec.meta.id));
    driver
        .ensure_volume(&VolumeSpec {
            project,
            owner: spec.meta.owner,
            name: "data".into(),
            storage_class: String::new(),
            size_gib: 1,
            clone_of: None,
        })
        .await
        .unwrap();
    assert_eq!(
        driver.volumes().await.unwrap(),
        vec![(project, "data".to_owned())]
    );
    assert!(matches!(
        driver.follow_logs(WorkloadId::generate()).await,
        Err(DriverError::NotFound { .. })
    ));
}

#[tokio::test]
async fn inspecting_beside_a_running_driver_takes_nothing_over() {
    let dir = tempfile::tempdir().unwrap();
    let driver = driver(dir.path()).await;
    let spec = job(ProjectId::generate(), "sleep 30");
    driver.apply_job(&spec).await.unwrap();
    wait_until(&driver, spec.meta.id, |s| *s == WorkloadStatus::Running).await;
    let state = dir
        .path()
        .join("workloads")
        .join(spec.meta.id.to_string())
        .join("state.json");
    let before = std::fs::read(&state).unwrap();

    // What `mlstack check-config` does while the server runs.
    let inspector = LocalDriver::inspect(config(dir.path())).await.unwrap();
    assert!(inspector.health().await.unwrap().ok);
    assert!(inspector.workloads().await.unwrap().is_empty());
    drop(inspector);

    assert_eq!(std::fs::read(&state).unwrap(), before);
    assert_eq!(
        driver.status(spec.meta.id).await.unwrap().status,
        WorkloadStatus::Running
    );
    driver.cancel_job(spec.meta.id).await.unwrap();
    wait_end(&driver, spec.meta.id).await;
}

/// Runs a job to its end and returns its status and log.
/// Opens a web terminal of the running container `spec`.
async fn terminal(driver: &LocalDriver, spec: &ContainerSpec) -> TerminalSession {
    driver
        .open_terminal(
            spec,
            TerminalSize {
                cols: 200,
                rows: 50,
            },
        )
        .await
        .expect("the terminal opens")
}

/// Types `command` into the terminal and returns what it printed between
/// two markers (so the echo of the typed line does not count).
async fn in_terminal(session: &mut TerminalSession, command: &str) -> String {
    let line = format!("echo BEGIN-$((1+1)); {command}; echo END-$((2+2))\r");
    session
        .input
        .send(TerminalInput::Data(line.into_bytes()))
        .await
        .expect("typed");
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let text = String::from_utf8_lossy(&seen).into_owned();
        if let Some(end) = text.rfind("END-4")
            && let Some(start) = text[..end].rfind("BEGIN-2")
        {
            return text[start + "BEGIN-2".len()..end].trim().to_owned();
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, session.output.recv()).await {
            Ok(Some(bytes)) => seen.extend_from_slice(&bytes),
            other => panic!("no answer to {command:?} ({other:?}): {text:?}"),
        }
    }
}

async fn run_to_end(driver: &LocalDriver, spec: &JobSpec) -> (WorkloadStatus, String) {
    driver.apply_job(spec).await.expect("applied");
    let done = wait_end(driver, spec.meta.id).await;
    let log = driver.logs(spec.meta.id, 500).await.expect("a log");
    (done.status, log)
}

/// Pids of live processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
                && std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| !s.contains(") Z "))
        })
        .collect()
}

#[tokio::test]
async fn a_job_cannot_reach_another_workloads_directory_or_the_servers_files() {
    let root = tempfile::tempdir().unwrap();
    // As in the appliance: the store beside the driver's directory.
    let store = root.path().join("mlstack.redb");
    std::fs::write(&store, "store-secret").unwrap();
    let driver = driver(&root.path().join("local")).await;
    let other = job(
        ProjectId::generate(),
        "echo other-secret > secret.txt; echo \"uid=$(id -u)\"",
    );
    let (status, other_log) = run_to_end(&driver, &other).await;
    assert_eq!(status, WorkloadStatus::Succeeded, "{other_log}");
    let other_dir = root
        .path()
        .join(format!("local/workloads/{}/work", other.meta.id));
    assert!(other_dir.join("secret.txt").is_file());

    let spec = job(
        ProjectId::generate(),
        &format!(
            "cat {store}; cat {other}/secret.txt; ls {root}; ls /sys/fs/cgroup; \
             echo \"uid=$(id -u)\"; echo done",
            store = store.display(),
            other = other_dir.display(),
            root = root.path().display()
        ),
    );
    let (status, log) = run_to_end(&driver, &spec).await;
    assert_eq!(status, WorkloadStatus::Succeeded, "{log}");
    assert!(log.contains("done"), "{log}");
    // A server running as root runs each project's workloads as a user of
    // its own.
    let uid = |log: &str| {
        log.lines()
            .find_map(|l| l.strip_prefix("uid="))
            .and_then(|u| u.trim().parse::<u32>().ok())
            .expect("the job printed its uid")
    };
    let server_is_root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        .unwrap();
    if server_is_root {
        let (mine, theirs) = (uid(&log), uid(&other_log));
        assert!(mine >= 200_000 && theirs >= 200_000, "{mine} {theirs}");
        assert_ne!(mine, theirs, "one user per project");
    }
    for leak in ["store-secret", "other-secret", "cgroup.procs"] {
        assert!(!log.contains(leak), "{leak} leaked: {log}");
    }
}

#[tokio::test]
async fn a_job_gets_nothing_of_the_servers_environment_and_a_minimal_dev() {
    let dir = tempfile::tempdir().unwrap();
    let driver = driver(dir.path()).await;
    let mut spec = job(ProjectId::generate(), "env; echo END-ENV; ls /dev");
    spec.env.insert("GIVEN".into(), "it's given".into());
    let (status, log) = run_to_end(&driver, &spec).await;
    assert_eq!(status, WorkloadStatus::Succeeded, "{log}");
    let (env, dev) = log.split_once("END-ENV\n").expect("both parts");
    assert!(env.contains("GIVEN=it's given"), "{env}");
    assert!(env.contains("CUDA_DEVICE_ORDER=PCI_BUS_ID"), "{env}");
    // Whatever this (server) process has, the job has not, unless the
    // driver sets it itself.
    let set_by_driver = ["PATH", "HOME", "LANG", "PWD", "SHLVL", "_", "OLDPWD"];
    for (name, value) in std::env::vars() {
        if set_by_driver.contains(&name.as_str()) || value.len() < 3 {
            continue;
        }
        assert!(
            !env.contains(&format!("{name}={value}")),
            "{name} was inherited: {env}"
        );
    }
    // /dev holds the basic nodes only: no disks, no GPUs not assigned.
    let allowed = [
        "core", "fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout",
        "tty", "urandom", "zero",
    ];
    let nodes: Vec<&str> = dev.split_whitespace().collect();
    assert!(nodes.contains(&"null"), "{nodes:?}");
    for node in &nodes {
        assert!(allowed.contains(node), "/dev/{node} is visible: {nodes:?}");
    }
}

#[tokio::test]
async fn a_read_only_volume_cannot_be_written() {
    let dir = tempfile::tempdir().unwrap();
    let driver = driver(dir.path()).await;
    let project = ProjectId::generate();
    for name in ["ro", "rw"] {
        driver
            .ensure_volume(&VolumeSpec {
                project,
                owner: UserId::generate(),
                name: name.into(),
                storage_class: "local".into(),
                size_gib: 1,
                clone_of: None,
            })
            .await
            .unwrap();
    }
    let mut spec = job(
        project,
        "echo x > \"$MLSTACK_VOLUME_SETS/new.txt\" && echo WROTE-RO; \
         echo y > /workspace/out/new.txt && echo WROTE-RW",
    );
    spec.volumes = vec![
        VolumeMount {
            volume: "ro".into(),
            mount_path: "/data/sets".into(),
            read_only: true,
        },
        VolumeMount {
            volume: "rw".into(),
            mount_path: "/workspace/out".into(),
            read_only: false,
        },
    ];
    let (status, log) = run_to_end(&driver, &spec).await;
    assert_eq!(status, WorkloadStatus::Succeeded, "{log}");
    assert!(!log.contains("WROTE-RO"), "{log}");
    assert!(log.contains("WROTE-RW"), "{log}");
    let volumes = dir.path().join(format!("projects/{project}/volumes"));
    assert!(!volumes.join("ro/new.txt").exists());
    assert_eq!(
        std::fs::read_to_string(volumes.join("rw/new.txt")).unwrap(),
        "y\n"
    );
}

#[tokio::test]
async fn cancel_ends_processes_that_left_the_group_with_setsid() {
    let dir = tempfile::tempdir().unwrap();
    let driver = driver(dir.path()).await;
    // A duration no other process uses: its mark in /proc.
    let marker = "3141.5926";
    let spec = job(
        ProjectId::generate(),
        &format!("setsid sleep {marker} & echo escaped; sleep 300"),
    );
    driver.apply_job(&spec).await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while processes_with(marker).is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    driver.cancel_job(spec.meta.id).await.unwrap();
    assert_eq!(
        wait_end(&driver, spec.meta.id).await.status,
        WorkloadStatus::Stopped
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    while !processes_with(marker).is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the setsid process outlived the cancel: {:?}",
            processes_with(marker)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn without_bubblewrap_workloads_are_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let mut refusing = config(dir.path());
    refusing.bwrap = "/nonexistent-mlstack/bwrap".into();
    let driver = LocalDriver::open(refusing.clone()).await.unwrap();
    let health = driver.health().await.unwrap();
    assert!(!health.ok, "{health:?}");
    assert!(health.message.contains("is not installed"), "{health:?}");
    assert!(health.message.contains("allow_unsandboxed"), "{health:?}");
    assert_eq!(driver.unsandboxed_warning(), None);
    let spec = job(ProjectId::generate(), "echo RAN");
    let observed = driver.apply_job(&spec).await.unwrap();
    assert_eq!(
        observed.status,
        WorkloadStatus::failed(FailureReason::SandboxUnavailable)
    );
    assert!(!driver.logs(spec.meta.id, 10).await.unwrap().contains("RAN"));
    let web = container(ProjectId::generate(), "sleep 30");
    assert_eq!(
        driver.apply_container(&web).await.unwrap().status,
        WorkloadStatus::failed(FailureReason::SandboxUnavailable)
    );
    drop(driver);

    // Allowed on a single-user machine: it runs, with a warning.
    let mut allowing = refusing;
    allowing.allow_unsandboxed = true;
    let driver = LocalDriver::open(allowing).await.unwrap();
    let health = driver.health().await.unwrap();
    assert!(
        health.ok && health.message.contains("WITHOUT a sandbox"),
        "{health:?}"
    );
    assert!(driver.unsandboxed_warning().is_some());
    let spec = job(ProjectId::generate(), "echo RAN");
    let (status, log) = run_to_end(&driver, &spec).await;
    assert_eq!(status, WorkloadStatus::Succeeded);
    assert!(log.contains("RAN"), "{log}");
}

/// The capabilities `packaging/mlstack.service` grants a server that is
/// not root, as `setpriv` names them.
const SERVER_CAPABILITIES: &str = "+setuid,+setgid,+chown,+kill,+fowner,+dac_override";

/// The unprivileged user the server runs as in the tests below (nobody).
const SERVER_UID: u32 = 65_534;

/// Set in the copy of this test binary that plays the server: the folder
/// its files are in.
const CAPABLE_SERVER_ROOT: &str = "LOCAL_DRIVER_CAPABLE_SERVER_ROOT";

/// `setpriv`'s words that start a program as [`SERVER_UID`] holding
/// [`SERVER_CAPABILITIES`] as ambient capabilities and no others, with
/// no new privileges, as the packaged unit's `User=`,
/// `AmbientCapabilities=`, `CapabilityBoundingSet=` and
/// `NoNewPrivileges=` do.
fn as_capable_server() -> Command {
    let id = SERVER_UID.to_string();
    let mut command = Command::new("/usr/bin/setpriv");
    command.args([
        "--reuid",
        &id,
        "--regid",
        &id,
        "--clear-groups",
        &format!("--inh-caps={SERVER_CAPABILITIES}"),
        &format!("--ambient-caps={SERVER_CAPABILITIES}"),
        &format!("--bounding-set=-all,{SERVER_CAPABILITIES}"),
        "--no-new-privs",
        "--",
    ]);
    command
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .expect("/proc/self/status")
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        .expect("a Uid line")
}

/// The server's folders for the tests below: `root` (0755, root's),
/// `root/data` (the data directory: the server's, 0700, with the store)
/// and `root/local` (the driver's folder outside it, the server's).
fn capable_server_folders() -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("a temporary folder");
    std::fs::set_permissions(root.path(), Permissions::from_mode(0o755)).expect("set the mode");
    for (dir, mode) in [("data", 0o700), ("local", 0o700)] {
        let path = root.path().join(dir);
        std::fs::create_dir(&path).expect("create the folder");
        std::fs::set_permissions(&path, Permissions::from_mode(mode)).expect("set the mode");
        std::os::unix::fs::chown(&path, Some(SERVER_UID), Some(SERVER_UID)).expect("chown");
    }
    let store = root.path().join("data/mlstack.redb");
    std::fs::write(&store, "store-secret").expect("write the store");
    std::fs::set_permissions(&store, Permissions::from_mode(0o600)).expect("set the mode");
    std::os::unix::fs::chown(&store, Some(SERVER_UID), Some(SERVER_UID)).expect("chown");
    root
}

#[tokio::test]
async fn a_server_with_setuid_capabilities_runs_workloads_as_users_of_their_own() {
    if let Ok(root) = std::env::var(CAPABLE_SERVER_ROOT) {
        return capable_server(Path::new(&root)).await;
    }
    assert!(
        is_root(),
        "this test starts a server as another user with capabilities: run it as root (as .ci/run does)"
    );
    let root = capable_server_folders();
    // This very test, run again by an unprivileged user holding the
    // capabilities the packaged unit grants: it drives the local driver
    // as that server would.
    let out = as_capable_server()
        .arg(std::env::current_exe().expect("the test binary"))
        .args([
            "local_driver::a_server_with_setuid_capabilities_runs_workloads_as_users_of_their_own",
            "--exact",
            "--nocapture",
        ])
        .env(CAPABLE_SERVER_ROOT, root.path())
        .output()
        .expect("runs");
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the capable server failed:\n{output}");
    // The copy really ran the test (a filter that matched nothing passes).
    assert!(output.contains("1 passed"), "{output}");
}

/// The server's half of the test above: as [`SERVER_UID`] with the
/// packaged unit's capabilities.
async fn capable_server(root: &Path) {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    assert!(
        status.contains(&format!("Uid:\t{SERVER_UID}\t")),
        "{status}"
    );
    let data = root.join("data");
    let local = root.join("local");
    let mut settings = config(&local);
    settings.hidden = vec![data.clone()];
    let driver = LocalDriver::open(settings).await.expect("driver opens");
    let health = driver.health().await.expect("health");
    assert!(health.ok, "{health:?}");
    assert!(
        health.message.contains(
            "each project's as a user of its own (the server holds CAP_SETUID and CAP_SETGID)"
        ),
        "{health:?}"
    );

    let project = ProjectId::generate();
    driver
        .ensure_volume(&VolumeSpec {
            project,
            owner: UserId::generate(),
            name: "out".into(),
            storage_class: "local".into(),
            size_gib: 1,
            clone_of: None,
        })
        .await
        .expect("volume ensured");
    // A sticky folder and one nobody may enter: only the server's
    // CAP_FOWNER and CAP_DAC_OVERRIDE let it delete them.
    let mut first = job(
        project,
        &format!(
            "echo \"ids=$(id -u) $(id -g) $(id -G)\"; grep -E '^Cap(Inh|Prm|Eff|Amb)' /proc/self/status; \
             cat {store}; ls {data}; \
             mkdir sticky locked && chmod 1777 sticky && echo x > sticky/f && touch locked/f && chmod 000 locked; \
             echo y > /out/f && echo done",
            store = data.join("mlstack.redb").display(),
            data = data.display(),
        ),
    );
    first.volumes = vec![VolumeMount {
        volume: "out".into(),
        mount_path: "/out".into(),
        read_only: false,
    }];
    let (status, log) = run_to_end(&driver, &first).await;
    assert_eq!(status, WorkloadStatus::Succeeded, "{log}");
    assert!(log.contains("done"), "{log}");
    assert!(!log.contains("store-secret"), "{log}");
    let ids: Vec<u32> = log
        .lines()
        .find_map(|l| l.strip_prefix("ids="))
        .expect("the job printed its ids")
        .split_whitespace()
        .map(|id| id.parse().expect("a number"))
        .collect();
    let uid = ids[0];
    assert!((200_000..=299_999).contains(&uid), "{log}");
    assert_eq!(ids, [uid, uid, uid], "its own group and no other: {log}");
    for line in log.lines().filter(|l| l.starts_with("Cap")) {
        assert!(line.ends_with("0000000000000000"), "{line}");
    }

    // On the host, every process of a running job but the driver's wrapper
    // shell is the project's user, with no capability left; cancel ends
    // them all (CAP_KILL).
    let marker = format!("3141.{}", std::process::id());
    let second = job(project, &format!("sleep {marker}"));
    driver.apply_job(&second).await.expect("applied");
    let deadline = tokio::time::Instant::now() + WAIT;
    while !processes_with(&marker).iter().any(|pid| {
        std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.starts_with(b"sleep\0"))
    }) {
        assert!(tokio::time::Instant::now() < deadline, "never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut seen = Vec::new();
    for pid in processes_with(&marker) {
        let (Ok(status), Ok(cmdline)) = (
            std::fs::read_to_string(format!("/proc/{pid}/status")),
            std::fs::read(format!("/proc/{pid}/cmdline")),
        ) else {
            continue;
        };
        let program = String::from_utf8_lossy(&cmdline)
            .split('\0')
            .next()
            .unwrap_or_default()
            .to_owned();
        if String::from_utf8_lossy(&cmdline).contains("exit_file=") {
            // The job's wrapper: the server's shell, outside the sandbox.
            assert!(
                status.contains(&format!("Uid:\t{SERVER_UID}\t")),
                "{status}"
            );
            continue;
        }
        seen.push(program);
        let line = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .unwrap_or_default()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        let id = uid.to_string();
        let all = [id.as_str(); 4].join(" ");
        assert_eq!(line("Uid:"), all, "real, effective, saved, fs: {status}");
        assert_eq!(line("Gid:"), all, "{status}");
        for caps in ["CapPrm:", "CapEff:", "CapAmb:"] {
            assert_eq!(line(caps), "0000000000000000", "{caps} {status}");
        }
    }
    for program in ["/usr/bin/bwrap", "sleep"] {
        assert!(seen.iter().any(|p| p == program), "{program}: {seen:?}");
    }
    driver.cancel_job(second.meta.id).await.expect("cancelled");
    assert_eq!(
        wait_end(&driver, second.meta.id).await.status,
        WorkloadStatus::Stopped
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    while !processes_with(&marker).is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the job outlived its cancel"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Folders the project's user passes through (0711), files only their
    // owner reads (0600), and the workload's own things the user's.
    let mode_owner = |path: &Path| {
        let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        (meta.permissions().mode() & 0o7777, meta.uid())
    };
    let workload = local.join(format!("workloads/{}", first.meta.id));
    let project_dir = local.join(format!("projects/{project}"));
    let server = SERVER_UID;
    for (path, want) in [
        (local.clone(), (0o711, server)),
        (local.join("workloads"), (0o711, server)),
        (workload.clone(), (0o711, server)),
        (workload.join("state.json"), (0o600, server)),
        (workload.join("output.log"), (0o600, server)),
        (workload.join("exit_code"), (0o600, server)),
        (workload.join("env"), (0o600, uid)),
        (workload.join("work"), (0o700, uid)),
        (local.join("projects"), (0o711, server)),
        (project_dir.clone(), (0o711, server)),
        (project_dir.join("uid"), (0o600, server)),
        (project_dir.join("volumes"), (0o711, server)),
        (project_dir.join("volumes/out"), (0o700, uid)),
    ] {
        assert_eq!(mode_owner(&path), want, "{}", path.display());
    }
    assert_eq!(mode_owner(&project_dir.join("volumes/out/f")).1, uid);

    // A server restarted beside its running job finds it again and can
    // still end it.
    let marker = format!("2718.{}", std::process::id());
    let third = job(project, &format!("sleep {marker}"));
    driver.apply_job(&third).await.expect("applied");
    let deadline = tokio::time::Instant::now() + WAIT;
    while processes_with(&marker).len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    driver.detach();
    drop(driver);
    let mut settings = config(&local);
    settings.hidden = vec![data.clone()];
    let driver = LocalDriver::open(settings).await.expect("driver opens");
    assert_eq!(
        driver.status(third.meta.id).await.expect("found").status,
        WorkloadStatus::Running
    );
    driver.cancel_job(third.meta.id).await.expect("cancelled");
    assert_eq!(
        wait_end(&driver, third.meta.id).await.status,
        WorkloadStatus::Stopped
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    while !processes_with(&marker).is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the found job outlived its cancel"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Another project, another user.
    let (status, log) = run_to_end(
        &driver,
        &job(ProjectId::generate(), "echo \"uid=$(id -u)\""),
    )
    .await;
    assert_eq!(status, WorkloadStatus::Succeeded, "{log}");
    let other: u32 = log
        .lines()
        .find_map(|l| l.strip_prefix("uid="))
        .and_then(|u| u.trim().parse().ok())
        .expect("the job printed its uid");
    assert!(
        (200_000..=299_999).contains(&other) && other != uid,
        "{other} {uid}"
    );

    // Deleting removes everything the workload's user left.
    driver.delete_job(first.meta.id).await.expect("deleted");
    assert!(!workload.exists(), "{} is left", workload.display());

    // A container's service, as the project's user, answers on its port;
    // stop ends it.
    let web = container(
        project,
        "id -u > whoami.txt && echo only-here > /tmp/private.txt && exec python3 -m http.server --bind 127.0.0.1 \"$PORT\"",
    );
    driver.apply_container(&web).await.expect("applied");
    let running = wait_until(&driver, web.meta.id, |s| {
        *s == WorkloadStatus::Running || s.is_terminal()
    })
    .await;
    assert_eq!(running.status, WorkloadStatus::Running, "{running:?}");
    let port = running.endpoints[0].port;
    let listing = tokio::task::spawn_blocking(move || http_get(port))
        .await
        .expect("answered");
    assert!(listing.starts_with("HTTP/1.0 200"), "{listing}");
    assert!(listing.contains("whoami.txt"), "{listing}");
    let whoami = local.join(format!("workloads/{}/work/whoami.txt", web.meta.id));
    assert_eq!(
        std::fs::read_to_string(&whoami).expect("the service wrote it"),
        format!("{uid}\n")
    );
    // Its web terminal is a shell in the service's sandbox (bwrap,
    // unprivileged here, made it in the user namespace its placeholder
    // holds): the service's processes and private /tmp, its user, no
    // capability, no new privileges.
    let mut shell = terminal(&driver, &web).await;
    assert_eq!(
        in_terminal(&mut shell, "cat /tmp/private.txt").await,
        "only-here"
    );
    let listed = in_terminal(&mut shell, "cat /proc/[0-9]*/cmdline | tr '\\0' ' '").await;
    assert!(listed.contains("python3 -m http.server"), "{listed}");
    assert_eq!(
        in_terminal(&mut shell, "id -u; id -G").await,
        format!("{uid}\r\n{uid}")
    );
    let status = in_terminal(
        &mut shell,
        "grep -E '^(Cap(Inh|Prm|Eff|Amb)|NoNewPrivs)' /proc/self/status",
    )
    .await;
    assert_eq!(status.lines().count(), 5, "{status}");
    for line in status.lines() {
        let value = line.split_whitespace().nth(1).unwrap_or_default();
        let want = if line.starts_with("NoNewPrivs") {
            "1"
        } else {
            "0000000000000000"
        };
        assert_eq!(value, want, "{status}");
    }
    drop(shell);
    let pgid = driver.process_group(web.meta.id).expect("a group");
    driver.stop_container(web.meta.id).await.expect("stopped");
    assert_eq!(
        wait_end(&driver, web.meta.id).await.status,
        WorkloadStatus::Stopped
    );
    wait_group_gone(pgid).await;
    driver.delete_container(web.meta.id).await.expect("deleted");

    // The project's volume and folder go, whatever its user left in them.
    driver.delete_volume(project, "out").await.expect("deleted");
    assert!(!project_dir.join("volumes/out").exists());
    driver.release_project(project).await.expect("released");
    assert!(!project_dir.exists(), "{} is left", project_dir.display());

    // The driver's folder inside the 0700 data directory: the project's
    // user could not reach it, so workloads run as the server's user,
    // and check-config says why and what to do.
    let inside = LocalDriver::open(config(&data.join("local")))
        .await
        .expect("driver opens");
    let health = inside.health().await.expect("health");
    assert!(health.ok, "{health:?}");
    assert!(
        health.message.contains("as the server's user")
            && health.message.contains("other users cannot enter")
            && health.message.contains("set [local] dir"),
        "{health:?}"
    );
    let (status, log) = run_to_end(
        &inside,
        &job(
            ProjectId::generate(),
            "echo \"uid=$(id -u)\"; grep -E '^Cap(Eff|Amb)' /proc/self/status",
        ),
    )
    .await;
    assert_eq!(status, WorkloadStatus::Succeeded, "{log}");
    assert!(log.contains(&format!("uid={SERVER_UID}")), "{log}");
    for line in log.lines().filter(|l| l.starts_with("Cap")) {
        assert!(line.ends_with("0000000000000000"), "{line}");
    }

    // Without a sandbox (allowed): still none of the server's capabilities.
    let mut unsandboxed = config(&local.join("unsandboxed"));
    unsandboxed.bwrap = "/nonexistent-mlstack/bwrap".into();
    unsandboxed.allow_unsandboxed = true;
    let bare = LocalDriver::open(unsandboxed).await.expect("driver opens");
    assert!(bare.unsandboxed_warning().is_some());
    let (status, log) = run_to_end(
        &bare,
        &job(
            ProjectId::generate(),
            "grep -E '^Cap(Inh|Prm|Eff|Amb)' /proc/self/status",
        ),
    )
    .await;
    assert_eq!(status, WorkloadStatus::Succeeded, "{log}");
    assert_eq!(
        log.lines().filter(|l| l.starts_with("Cap")).count(),
        4,
        "{log}"
    );
    for line in log.lines().filter(|l| l.starts_with("Cap")) {
        assert!(line.ends_with("0000000000000000"), "{line}");
    }
}

#[test]
fn check_config_reports_whose_user_workloads_run_as() {
    assert!(
        is_root(),
        "this test starts the server as another user with capabilities: run it as root (as .ci/run does)"
    );
    let root = capable_server_folders();
    let check = |local: &Path| {
        let out = as_capable_server()
            .arg(env!("CARGO_BIN_EXE_mlstack"))
            .args(["check-config", "--data-dir"])
            .arg(root.path().join("data"))
            .current_dir(root.path())
            .env_remove("MLSTACK_CONFIG")
            .env("MLSTACK_LOCAL_DIR", local)
            .env("MLSTACK_LOCAL_DETECT_GPUS", "false")
            .output()
            .expect("runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{text}");
        text
    };
    let text = check(&root.path().join("local"));
    assert!(
        text.contains(
            "each project's as a user of its own (the server holds CAP_SETUID and CAP_SETGID)"
        ),
        "{text}"
    );
    // check-config run by root beside that server changes nothing of its
    // folders (which root would make 0700, its own mode): made 0711 by
    // the check above when missing, and by the server when it runs.
    let local = root.path().join("local");
    std::fs::set_permissions(&local, Permissions::from_mode(0o711)).expect("set the mode");
    let out = Command::new(env!("CARGO_BIN_EXE_mlstack"))
        .args(["check-config", "--data-dir"])
        .arg(root.path().join("data"))
        .current_dir(root.path())
        .env_remove("MLSTACK_CONFIG")
        .env("MLSTACK_LOCAL_DIR", &local)
        .env("MLSTACK_LOCAL_DETECT_GPUS", "false")
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("(the server runs as root)"), "{text}");
    for dir in ["", "workloads", "projects"] {
        let meta = std::fs::metadata(local.join(dir)).expect("made by the server");
        assert_eq!(
            (meta.permissions().mode() & 0o7777, meta.uid()),
            (0o711, SERVER_UID),
            "{dir}"
        );
    }
    let text = check(&root.path().join("data/local"));
    assert!(
        text.contains("as the server's user") && text.contains("set [local] dir"),
        "{text}"
    );
}

#[test]
fn the_packaged_unit_grants_what_the_capable_server_test_holds() {
    let unit = include_str!("../../packaging/mlstack.service");
    let value = |key: &str| {
        unit.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("the unit sets {key}"))
            .trim()
            .to_owned()
    };
    let mut tested: Vec<String> = SERVER_CAPABILITIES
        .split(',')
        .map(|c| format!("CAP_{}", c.trim_start_matches('+').to_uppercase()))
        .collect();
    tested.sort();
    for key in ["AmbientCapabilities", "CapabilityBoundingSet"] {
        let mut granted: Vec<String> = value(key).split_whitespace().map(str::to_owned).collect();
        granted.sort();
        assert_eq!(granted, tested, "{key}");
    }
    assert_eq!(value("NoNewPrivileges"), "true");
    // The driver's folder is outside the (0700) data directory, and
    // systemd makes both.
    let env: Vec<String> = unit
        .lines()
        .filter_map(|l| l.strip_prefix("Environment="))
        .map(str::to_owned)
        .collect();
    assert!(
        env.contains(&"MLSTACK_DATA_DIR=/var/lib/mlstack".to_owned()),
        "{env:?}"
    );
    assert!(
        env.contains(&"MLSTACK_LOCAL_DIR=/var/lib/mlstack-local".to_owned()),
        "{env:?}"
    );
    assert_eq!(value("StateDirectory"), "mlstack mlstack-local");
}

/// A clone is copied on a thread of its own: `Copying` until its folder
/// exists whole, then `Ready` with the source's files, folders, modes and
/// links (as links); a clone of a source that does not exist fails with
/// the reason, and is started again on the next try.
#[tokio::test]
async fn a_clone_copies_its_source_volume() {
    use mlstack::cluster::VolumeState;

    let dir = tempfile::tempdir().unwrap();
    let driver = driver(dir.path()).await;
    let project = ProjectId::generate();
    driver
        .provision_project(&ProjectSpec {
            id: project,
            name: "lab".into(),
            gpu_units_milli: None,
            cpu_milli: None,
            ram_mib: None,
            storage_gib: None,
        })
        .await
        .unwrap();
    let volume = |name: &str, clone_of: Option<&str>| VolumeSpec {
        project,
        owner: UserId::generate(),
        name: name.into(),
        storage_class: "local".into(),
        size_gib: 1,
        clone_of: clone_of.map(str::to_owned),
    };
    assert_eq!(
        driver.ensure_volume(&volume("data", None)).await.unwrap(),
        VolumeState::Ready
    );
    let volumes = dir.path().join(format!("projects/{project}/volumes"));
    let source = volumes.join("data");
    std::fs::create_dir(source.join("sub")).unwrap();
    std::fs::write(source.join("sub/weights.bin"), vec![7u8; 3 << 20]).unwrap();
    std::fs::write(source.join("run.sh"), "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(
        source.join("run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::os::unix::fs::symlink("/etc/passwd", source.join("outside")).unwrap();

    let clone = volume("copy", Some("data"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match driver.ensure_volume(&clone).await.unwrap() {
            VolumeState::Ready => break,
            VolumeState::Copying { percent } => {
                assert!(percent.is_some_and(|p| p <= 100), "{percent:?}");
                assert!(
                    !volumes.join("copy").exists(),
                    "the clone's folder exists only whole"
                );
            }
        }
        assert!(tokio::time::Instant::now() < deadline, "not copied in time");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let copy = volumes.join("copy");
    assert_eq!(
        std::fs::read(copy.join("sub/weights.bin")).unwrap(),
        vec![7u8; 3 << 20]
    );
    let mode = std::fs::metadata(copy.join("run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    assert_eq!(
        std::fs::read_link(copy.join("outside")).unwrap(),
        Path::new("/etc/passwd"),
        "a link is copied as a link, never followed"
    );
    assert!(!volumes.join(".clone-copy").exists());
    let mut listed = driver.volumes().await.unwrap();
    listed.sort();
    assert_eq!(
        listed,
        vec![(project, "copy".to_owned()), (project, "data".to_owned())]
    );

    // The source is gone: the clone fails, saying why.
    let orphan = volume("orphan", Some("missing"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let error = loop {
        match driver.ensure_volume(&orphan).await {
            Ok(VolumeState::Copying { .. }) => {}
            Ok(VolumeState::Ready) => panic!("a clone of nothing is not ready"),
            Err(error) => break error,
        }
        assert!(tokio::time::Instant::now() < deadline, "no failure in time");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(error.to_string().contains("missing"), "{error}");
    assert!(!volumes.join("orphan").exists());
}
