//! Queue benchmark (run by tests/bench/queue.sh): ten thousand jobs queued
//! in one project, how soon freeing resources starts the next one, and the
//! job list that the script then loads with wrk.
//!
//! An appliance on a fresh data directory (local driver) gets the user
//! `bench` managing an approved project whose quota is BLOCKERS CPU cores
//! (default 20). BLOCKERS containers of one core, scheduled to start a day
//! later, hold all of it (a scheduled container holds its share from its
//! creation; no sandbox is launched for it). Then JOBS jobs of one core
//! (default 10,000; `sleep 600`) are created through the use case the job
//! wizard uses (`Services::create_job`): every one waits in the queue.
//!
//! Then, signed in over HTTP with cookies, the blockers are deleted one at
//! a time (`POST /containers/{id}/delete`, confirmed): each deletion frees
//! one core, and the first job of the queue must start — its hold taken in
//! the deletion's own transaction. For each, the time from sending the
//! deletion to the moment that job is seen out of the queue is measured
//! (its record read right after the answer; polled every millisecond if it
//! were not yet). The job that starts must be the oldest still queued.
//!
//! Prints `key=value` lines: the figures, then `jobs_url=`,
//! `containers_url=`, `cookie=` and `ready=1`; it then serves until its
//! standard input closes.

#[path = "appliance.rs"]
mod appliance;
#[path = "http.rs"]
mod http;
#[path = "seed.rs"]
mod seed;

use std::io::BufRead;
use std::time::{Duration, Instant};

use mlstack::domain::ids::ProjectId;
use mlstack::domain::quota::Resources;
use mlstack::domain::workload::{
    ContainerSpec, ImageRef, JobOrigin, JobSpec, Resources as Asked, SshAccess, WorkloadId,
    WorkloadMeta,
};

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn meta(
    project: ProjectId,
    owner: &mlstack::store::users::UserRecord,
    name: String,
) -> WorkloadMeta {
    WorkloadMeta {
        id: WorkloadId::generate(),
        project,
        owner: owner.id,
        name,
    }
}

fn ubuntu() -> ImageRef {
    ImageRef {
        name: "ubuntu".into(),
        tag: "24.04".into(),
    }
}

/// One core and 1 GiB.
fn one_core() -> Asked {
    Asked {
        cpu_milli: 1000,
        ram_mib: 1024,
        shm_mib: 0,
        gpu: None,
    }
}

/// The median and the most of `samples`, in milliseconds.
fn median_and_most(samples: &mut [Duration]) -> (f64, f64) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = samples.get(samples.len() / 2).copied().map_or(f64::NAN, ms);
    let most = samples.last().copied().map_or(f64::NAN, ms);
    (median, most)
}

fn main() -> anyhow::Result<()> {
    let blockers = setting("BLOCKERS", 20).max(1);
    let jobs = setting("JOBS", 10_000).max(blockers);
    let dir = tempfile::tempdir()?;
    let (runtime, running) = appliance::start(dir.path())?;
    let base = format!("http://{}", running.addr);
    let services = running.services.clone();
    let result = runtime.block_on(async move {
        let cores = u64::try_from(blockers)?;
        let (project, bench, password) = seed::bench_project(
            &services,
            "Queue",
            Resources {
                gpu_milli: 0,
                cpu_milli: 1000 * cores,
                ram_mib: 1024 * cores,
                storage_gib: 0,
            },
        )
        .await?;
        let tomorrow = jiff::Timestamp::now().checked_add(jiff::SignedDuration::from_hours(24))?;
        let mut blocking = Vec::with_capacity(blockers);
        for n in 0..blockers {
            let spec = ContainerSpec {
                meta: meta(project, &bench, format!("blocker{n}")),
                image: ubuntu(),
                command: None,
                env: Default::default(),
                resources: one_core(),
                volumes: Vec::new(),
                services: Vec::new(),
                ssh: SshAccess::None,
                start_at: Some(tomorrow),
                end_at: None,
            };
            blocking.push(services.create_container(&bench, spec).await?);
        }
        let seeding = Instant::now();
        let mut queued = Vec::with_capacity(jobs);
        for n in 0..jobs {
            let spec = JobSpec {
                meta: meta(project, &bench, format!("queued{n}")),
                image: ubuntu(),
                command: "exec sleep 600".into(),
                env: Default::default(),
                resources: one_core(),
                volumes: Vec::new(),
                time_limit_secs: None,
                origin: JobOrigin::Immediately,
            };
            queued.push(services.create_job(&bench, spec).await?);
        }
        let seed_seconds = seeding.elapsed().as_secs_f64();
        let last = queued[jobs - 1];
        let places = services
            .queue_places(&bench, project, &[queued[0], last])
            .await?;
        anyhow::ensure!(
            places.get(&last).map(|p| p.position) == Some(jobs),
            "the last job is not #{jobs} in the queue: {places:?}"
        );

        let (client, cookie) = http::sign_in(&base, &password).await?;
        let page = client.get(format!("{base}/projects")).send().await?;
        let csrf = http::csrf_in(&page.text().await?)?;
        let selected = client
            .post(format!("{base}/projects/select"))
            .form(&[
                ("project", project.to_string().as_str()),
                ("next", "/jobs"),
                ("csrf", &csrf),
            ])
            .send()
            .await?;
        anyhow::ensure!(selected.status().as_u16() == 303, "selecting the project");

        let mut waits = Vec::with_capacity(blockers);
        for (n, blocker) in blocking.iter().enumerate() {
            let next = queued[n];
            let sent = Instant::now();
            let answer = client
                .post(format!("{base}/containers/{blocker}/delete"))
                .form(&[("confirm", "yes"), ("csrf", csrf.as_str())])
                .send()
                .await?;
            anyhow::ensure!(
                answer.status().as_u16() == 303,
                "deleting a blocker answered {}",
                answer.status()
            );
            let deadline = sent + Duration::from_secs(10);
            while services.workload(&bench, next).await?.queued {
                anyhow::ensure!(Instant::now() < deadline, "job {n} did not start");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            waits.push(sent.elapsed());
            if let Some(after) = queued.get(n + 1) {
                anyhow::ensure!(
                    services.workload(&bench, *after).await?.queued,
                    "a job started out of order"
                );
            }
        }
        let (median, most) = median_and_most(&mut waits);
        println!("jobs={jobs}");
        println!("blockers={blockers}");
        println!("seed_seconds={seed_seconds:.3}");
        println!("start_median_ms={median:.2}");
        println!("start_most_ms={most:.2}");

        let list = client.get(format!("{base}/jobs")).send().await?;
        anyhow::ensure!(list.status().as_u16() == 200, "GET /jobs");
        let body = list.text().await?;
        let range = format!("of {jobs}");
        anyhow::ensure!(
            body.contains(&range),
            "the job list does not say \"{range}\""
        );
        println!("list_bytes={}", body.len());
        println!("jobs_url={base}/jobs");
        println!("containers_url={base}/containers");
        println!("cookie={cookie}");
        println!("ready=1");
        // Serve until the script closes our standard input.
        tokio::task::spawn_blocking(|| for _ in std::io::stdin().lock().lines() {}).await?;
        anyhow::Ok(())
    });
    running.stop()?;
    result
}
