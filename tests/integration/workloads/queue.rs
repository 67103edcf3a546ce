//! The job queue on the local driver (real sandboxed processes): a job that
//! does not fit the project's free quota waits in the project's queue,
//! first in, first out, with its place and the reason in numbers; it starts
//! by itself when a container is deleted; a queued job can be cancelled
//! or deleted and holds nothing meanwhile.

use mlstack::domain::queue::{Short, Wait};
use mlstack::domain::quota::Resources as Quota;

use super::*;

/// `cores` CPU cores and 1 GiB.
fn cores(cores: u64) -> Resources {
    Resources {
        cpu_milli: cores * 1000,
        ram_mib: 1024,
        shm_mib: 0,
        gpu: None,
    }
}

#[tokio::test]
async fn a_job_past_the_quota_waits_in_order_and_starts_when_a_container_is_deleted() {
    let lab = lab().await;
    let (services, bob) = (&lab.services, &lab.bob);
    // The project has 16 cores: a container takes 15 of them.
    let mut big = container(lab.project, "big");
    big.resources = cores(15);
    let big = services
        .create_container(bob, big)
        .await
        .expect("container");

    let mut first = job(lab.project, "first", "echo \"Hello World\"");
    first.resources = cores(2);
    let first = services
        .create_job(bob, first)
        .await
        .expect("queued, not refused");
    // One core would fit, but a job never overtakes the ones ahead of it.
    let mut second = job(lab.project, "second", "echo second");
    second.resources = cores(1);
    let second = services.create_job(bob, second).await.expect("queued");
    for id in [first, second] {
        let record = services.workload(bob, id).await.expect("job");
        assert_eq!(record.status(), WorkloadStatus::Queued);
        assert!(record.hold.is_none() && record.due_at.is_none());
    }
    assert_eq!(
        lab.used().await,
        Quota {
            gpu_milli: 0,
            cpu_milli: 15_000,
            ram_mib: 1024,
            storage_gib: 0,
        },
        "queued jobs hold nothing"
    );
    let places = services
        .queue_places(bob, lab.project, &[first, second])
        .await
        .expect("places");
    let head = places[&first];
    assert_eq!((head.position, head.ahead), (1, 0));
    assert_eq!(
        head.wait,
        Wait::Project {
            short: Short::Cpu,
            needs: 2000,
            free: 1000
        }
    );
    let behind = places[&second];
    assert_eq!((behind.position, behind.ahead), (2, 1));
    assert_eq!(behind.wait, Wait::Turn, "it fits; it waits for its turn");

    // The job list says it in words, to its owner and to a manager; another
    // member does not see them.
    for name in ["bob", "alice"] {
        let client = lab.client(name).await;
        client.get(&format!("/projects/{}", lab.project)).await;
        let page = client.get("/jobs").await;
        assert_eq!(page.status, 200, "{}", page.body);
        for words in [
            "Queued",
            "#1 in the queue · needs 2 CPU cores; the project has 1 free; first in line",
            "#2 in the queue · 1 job ahead",
            "Immediately",
        ] {
            assert!(page.body.contains(words), "{words}: {}", page.body);
        }
        let rows = client.get("/jobs?part=rows").await;
        assert!(rows.body.contains("first in line") && !rows.body.contains("<html"));
    }
    let carol = lab.client("carol").await;
    carol.get(&format!("/projects/{}", lab.project)).await;
    let page = carol.get("/jobs").await;
    assert!(!page.body.contains("first in line"), "{}", page.body);

    // Deleting the container frees the cores: both start by themselves.
    services.delete_workload(bob, big).await.expect("delete");
    wait_status(services, bob, first, WorkloadStatus::Succeeded).await;
    wait_status(services, bob, second, WorkloadStatus::Succeeded).await;
    let record = services.workload(bob, first).await.expect("job");
    assert!(
        record.events.iter().any(|e| e.reason == "Dequeued"),
        "{:?}",
        record.events
    );
    let log = services.workload_logs(bob, first, 100).await.expect("log");
    assert!(log.contains("Hello World"), "{log}");
    // The job's page: its facts, its log (also as a download), its events.
    let client = lab.client("bob").await;
    let page = client.get(&format!("/jobs/{first}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for words in ["Succeeded", "Immediately", "Hello World", "Exit code"] {
        assert!(page.body.contains(words), "{words}: {}", page.body);
    }
    let tab = client.get(&format!("/jobs/{first}?tab=log")).await;
    assert!(tab.body.contains("Hello World"), "{}", tab.body);
    let download = client.get(&format!("/jobs/{first}/log")).await;
    assert_eq!(download.status, 200);
    assert!(download.body.contains("Hello World"));
    let events = client.get(&format!("/jobs/{first}?tab=events")).await;
    assert!(events.body.contains("Dequeued"), "{}", events.body);
    // Carol, another member, is told it does not exist.
    let carol = lab.client("carol").await;
    assert_eq!(carol.get(&format!("/jobs/{first}")).await.status, 404);

    // mlstack keeps the log once the job ended, and drops it with the job.
    let archive = lab
        .app
        .data_dir()
        .join("job-logs")
        .join(format!("{first}.log"));
    let deadline = tokio::time::Instant::now() + WAIT;
    while !archive.exists() {
        assert!(tokio::time::Instant::now() < deadline, "no archived log");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let kept = services
        .archived_job_log(bob, first)
        .await
        .expect("archive")
        .expect("kept");
    assert!(kept.contains("Hello World"), "{kept}");
    // Delete needs its box ticked.
    let refused = client
        .post_form(&format!("/jobs/{first}/delete"), &[])
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    let deleted = client
        .post_form(&format!("/jobs/{first}/delete"), &[("confirm", "yes")])
        .await;
    assert_eq!(deleted.status, 303, "{}", deleted.body);
    wait_gone(services, bob, first).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while archive.exists() {
        assert!(tokio::time::Instant::now() < deadline, "the log stayed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        services
            .queue_places(bob, lab.project, &[first, second])
            .await
            .expect("places")
            .is_empty()
    );
    assert_eq!(lab.used().await, Quota::ZERO, "ended jobs gave back");
}

#[tokio::test]
async fn a_queued_job_is_cancelled_or_deleted_and_the_next_one_moves_up() {
    let lab = lab().await;
    let (services, bob, alice) = (&lab.services, &lab.bob, &lab.alice);
    let mut sleeper = job(lab.project, "sleeper", "sleep 300");
    sleeper.resources = cores(15);
    let sleeper = services.create_job(bob, sleeper).await.expect("job");
    wait_status(services, bob, sleeper, WorkloadStatus::Running).await;

    let mut waiting = Vec::new();
    for name in ["one", "two", "three"] {
        let mut spec = job(lab.project, name, "echo done");
        spec.resources = cores(4);
        waiting.push(services.create_job(bob, spec).await.expect("queued"));
    }
    // Cancelled while queued: Stopped at once, nothing was in the cluster.
    services.cancel_job(bob, waiting[0]).await.expect("cancel");
    let cancelled = services.workload(bob, waiting[0]).await.expect("job");
    assert_eq!(cancelled.status(), WorkloadStatus::Stopped);
    assert!(cancelled.hold.is_none() && !cancelled.queued);
    // Deleted while queued (by a manager): the record goes at once.
    services
        .delete_workload(alice, waiting[1])
        .await
        .expect("delete");
    assert!(matches!(
        services.workload(bob, waiting[1]).await,
        Err(ServiceError::NotFound)
    ));
    let places = services
        .queue_places(bob, lab.project, &waiting)
        .await
        .expect("places");
    assert_eq!(places.len(), 1);
    let last = places[&waiting[2]];
    assert_eq!((last.position, last.ahead), (1, 0), "it moved up");
    assert_eq!(
        last.wait,
        Wait::Project {
            short: Short::Cpu,
            needs: 4000,
            free: 1000
        }
    );
    // The running job cancelled: the last one starts.
    services.cancel_job(bob, sleeper).await.expect("cancel");
    wait_status(services, bob, waiting[2], WorkloadStatus::Succeeded).await;
    assert_eq!(lab.used().await, Quota::ZERO);
}

#[tokio::test]
async fn the_admins_cap_of_queued_jobs_per_member_refuses_one_more_and_changes_nothing() {
    use mlstack::service::projects::PlatformSettingsForm;
    let lab = lab().await;
    let (services, bob) = (&lab.services, &lab.bob);
    let mut form =
        PlatformSettingsForm::from_record(&services.platform_settings().await.expect("settings"));
    form.queued_jobs_per_member = "0".into();
    assert!(matches!(
        services.update_platform_settings(&form).await,
        Err(ServiceError::Invalid(_))
    ));
    form.queued_jobs_per_member = "1".into();
    services
        .update_platform_settings(&form)
        .await
        .expect("saved");

    // More than the quota (16 cores): each job waits; bob may have one.
    let mut first = job(lab.project, "first", "true");
    first.resources.cpu_milli = 17_000;
    services.create_job(bob, first).await.expect("queued");
    let mut second = job(lab.project, "second", "true");
    second.resources.cpu_milli = 17_000;
    match services.create_job(bob, second).await {
        Err(ServiceError::QueueFull { limit: 1 }) => {}
        other => panic!("unexpected {other:?}"),
    }
    let jobs = services
        .project_workloads(bob, lab.project)
        .await
        .expect("jobs");
    assert_eq!(jobs.len(), 1, "nothing written for the refused one");
}
