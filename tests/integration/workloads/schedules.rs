//! Containers with a start and an end time, under the manual clock: a
//! scheduled container is Scheduled, holds its share of the quota and has
//! nothing in the cluster until its start time; at its end time it is
//! deleted and its hold released; a start or an end that fell due while the
//! server was down happens at start-up. On the local driver (real sandboxed
//! processes) and on the fake Kubernetes API server.

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::apps::v1::Deployment;
use mlstack::clock::Clock;
use mlstack::domain::quota::Resources as Quota;

use super::*;

fn hours(h: i64) -> SignedDuration {
    SignedDuration::from_hours(h)
}

/// A container of `lab`'s project that starts and ends `start` and `end`
/// after the clock's now (None: at once, and no end).
fn scheduled(
    lab: &Lab,
    name: &str,
    start: Option<SignedDuration>,
    end: Option<SignedDuration>,
) -> ContainerSpec {
    let now: Timestamp = lab.app.clock.now();
    let mut spec = container(lab.project, name);
    spec.start_at = start.map(|d| now + d);
    spec.end_at = end.map(|d| now + d);
    spec
}

/// What one container of [`resources`] holds.
const ONE: Quota = Quota {
    gpu_milli: 0,
    cpu_milli: 1000,
    ram_mib: 2048,
    storage_gib: 0,
};

#[tokio::test]
async fn a_scheduled_container_runs_from_its_start_and_is_deleted_at_its_end() {
    let lab = lab().await;
    let (services, bob) = (&lab.services, &lab.bob);
    let spec = scheduled(&lab, "later", Some(hours(1)), Some(hours(3)));
    let id = services.create_container(bob, spec).await.expect("created");

    let record = services.workload(bob, id).await.expect("stored");
    assert_eq!(record.status(), WorkloadStatus::Scheduled);
    assert_eq!(lab.used().await, ONE, "held from the creation");
    // A pass before the start time leaves it alone: no processes.
    lab.app.reconciler().step().await.expect("a pass");
    let record = services.workload(bob, id).await.expect("stored");
    assert_eq!(record.status(), WorkloadStatus::Scheduled);
    assert_eq!(local(services).process_group(id), None);
    assert!(matches!(
        local(services).status(id).await,
        Err(DriverError::NotFound { .. })
    ));

    lab.app.advance(hours(1));
    let port = wait_running(services, bob, id).await;
    assert!(http_get(port).contains("200 OK"), "its service answers");
    let pgid = local(services).process_group(id).expect("a process group");
    assert_eq!(lab.used().await, ONE);

    // Just before the end nothing changes; at the end it goes.
    lab.app.advance(hours(2) - SignedDuration::from_secs(1));
    lab.app.reconciler().step().await.expect("a pass");
    assert_eq!(local(services).process_group(id), Some(pgid));
    lab.app.advance(SignedDuration::from_secs(1));
    wait_gone(services, bob, id).await;
    wait_group_gone(pgid).await;
    assert_eq!(lab.used().await, Quota::ZERO, "its hold went with it");
    assert!(
        services
            .project_workloads(bob, lab.project)
            .await
            .expect("list")
            .is_empty()
    );
}

#[tokio::test]
async fn a_start_and_an_end_that_fell_due_while_the_server_was_down_happen_at_start_up() {
    let lab = lab().await;
    let bob = lab.bob.clone();
    let later = lab
        .services
        .create_container(&bob, scheduled(&lab, "later", Some(hours(1)), None))
        .await
        .expect("created");
    let ending = lab
        .services
        .create_container(&bob, scheduled(&lab, "ending", None, Some(hours(2))))
        .await
        .expect("created");
    wait_running(&lab.services, &bob, ending).await;
    let pgid = local(&lab.services)
        .process_group(ending)
        .expect("a process group");
    assert_eq!(
        lab.services
            .workload(&bob, later)
            .await
            .expect("stored")
            .status(),
        WorkloadStatus::Scheduled
    );
    let two = Quota {
        cpu_milli: 2 * ONE.cpu_milli,
        ram_mib: 2 * ONE.ram_mib,
        ..ONE
    };
    assert_eq!(lab.used().await, two, "the scheduled one holds already");

    // Down for three hours: both times pass while nothing runs.
    let Lab {
        app,
        services,
        project,
        ..
    } = lab;
    drop(services);
    let app = app.restart_after(hours(3));
    let services = app.services();
    let port = wait_running(&services, &bob, later).await;
    assert!(http_get(port).contains("200 OK"), "started at start-up");
    wait_gone(&services, &bob, ending).await;
    wait_group_gone(pgid).await;
    let project = services.project(&bob, project).await.expect("project");
    assert_eq!(project.used, ONE, "only the started one holds");
}

#[tokio::test]
async fn a_schedule_in_the_past_or_too_far_ahead_is_refused_and_nothing_is_held() {
    let lab = lab().await;
    let (services, bob) = (&lab.services, &lab.bob);
    let cases = [
        (Some(hours(-1)), None, "start", "workload.error.start_past"),
        (
            Some(hours(365 * 24 + 1)),
            None,
            "start",
            "workload.error.start_too_far",
        ),
        (None, Some(hours(-1)), "end", "workload.error.end_past"),
        (
            Some(hours(2)),
            Some(hours(1)),
            "end",
            "workload.error.end_before_start",
        ),
    ];
    for (start, end, field, key) in cases {
        let refused = services
            .create_container(bob, scheduled(&lab, "web", start, end))
            .await;
        match refused {
            Err(ServiceError::Invalid(errors)) => {
                assert_eq!(errors.get(field), Some(key), "{start:?} {end:?}");
            }
            other => panic!("{start:?} {end:?}: {other:?}"),
        }
    }
    assert!(
        services
            .project_workloads(bob, lab.project)
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(lab.used().await, Quota::ZERO);
    // The farthest start allowed is accepted.
    services
        .create_container(bob, scheduled(&lab, "web", Some(hours(365 * 24)), None))
        .await
        .expect("a year ahead");
}

#[tokio::test]
async fn on_a_kubernetes_cluster_the_objects_appear_at_the_start_and_go_at_the_end() {
    let ClusterLab { lab, fake, _dir } = cluster_lab(|_| {}).await;
    let (services, bob) = (&lab.services, &lab.bob);
    let namespace = manifests::namespace_name(lab.project);
    let spec = scheduled(&lab, "later", Some(hours(1)), Some(hours(2)));
    let id = services.create_container(bob, spec).await.expect("created");

    lab.app.reconciler().step().await.expect("a pass");
    lab.app.reconciler().resync().await.expect("a resync");
    let record = services.workload(bob, id).await.expect("stored");
    assert_eq!(record.status(), WorkloadStatus::Scheduled);
    assert!(fake.get::<Deployment>(&namespace, "later").is_none());

    lab.app.advance(hours(1));
    wait_status(services, bob, id, WorkloadStatus::Running).await;
    let deployment: Deployment = fake.get(&namespace, "later").expect("a Deployment");
    assert_eq!(deployment.spec.expect("spec").replicas, Some(1));

    lab.app.advance(hours(1));
    wait_gone(services, bob, id).await;
    assert!(fake.get::<Deployment>(&namespace, "later").is_none());
    assert_eq!(lab.used().await, Quota::ZERO);
}

#[tokio::test]
async fn a_scheduled_container_stopped_before_its_start_gives_its_hold_back() {
    let lab = lab().await;
    let (services, bob) = (&lab.services, &lab.bob);
    let spec = scheduled(&lab, "later", Some(hours(1)), None);
    let id = services.create_container(bob, spec).await.expect("created");
    // Starting what is scheduled changes nothing: it waits for its time.
    services.start_container(bob, id).await.expect("start");
    let record = services.workload(bob, id).await.expect("stored");
    assert_eq!(record.status(), WorkloadStatus::Scheduled);

    services.stop_container(bob, id).await.expect("stop");
    wait_status(services, bob, id, WorkloadStatus::Stopped).await;
    assert_eq!(lab.used().await, Quota::ZERO);
    // Past its start time a stopped container stays stopped...
    lab.app.advance(hours(2));
    lab.app.reconciler().step().await.expect("a pass");
    assert_eq!(local(services).process_group(id), None);
    // ...until it is started, at once.
    services.start_container(bob, id).await.expect("start");
    wait_running(services, bob, id).await;
    assert_eq!(lab.used().await, ONE);
}
