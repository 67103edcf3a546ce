//! Container benchmark (run by tests/bench/containers.sh): a project with
//! 500 containers whose list the script then loads with wrk, and the time
//! of 100 containers created by parallel requests of the wizard's form.
//!
//! An appliance on a fresh data directory (local driver) gets the user
//! `bench` managing an approved project, a CPU-only spec and an image in
//! its catalog. Then, signed in over HTTP with cookies, 100 wizard forms
//! are posted at once (`POST /containers/new`, CSRF and the accepted usage
//! terms included), each answered 303; the time from the first post to the
//! last answer is reported, and the project's use must be exactly 100
//! holds. The other 400 containers are created through the same use case
//! the API uses (`Services::create_container`), one after the other.
//!
//! Every container starts a day later (status Scheduled): its record and
//! quota hold are written at creation, as for one that starts at once, but
//! no sandbox is launched — 500 sandboxes would measure the 2 shared cores,
//! not the list.
//!
//! Prints `key=value` lines: the figures, then `url=`, `cookie=` and
//! `ready=1`; it then serves until its standard input closes. Environment:
//! CONTAINERS (default 500), PARALLEL (default 100).

#[path = "appliance.rs"]
mod appliance;
#[path = "http.rs"]
mod http;
#[path = "seed.rs"]
mod seed;

use std::io::BufRead;
use std::time::Instant;

use futures_util::future::join_all;
use mlstack::domain::catalog::{HardwareSpecRequest, ImageRequest};
use mlstack::domain::ids::ProjectId;
use mlstack::domain::quota::Resources;
use mlstack::domain::workload::{
    ContainerSpec, ImageRef, Resources as Asked, SshAccess, WorkloadId, WorkloadMeta,
};
use mlstack::service::containers::terms_sha256;
use mlstack::store::platform::DEFAULT_USAGE_TERMS;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Signs in (`http::sign_in`), selects
/// `project`, and returns the client, its session cookie and a CSRF token.
async fn sign_in(
    base: &str,
    password: &str,
    project: ProjectId,
) -> anyhow::Result<(reqwest::Client, String, String)> {
    let (client, cookie) = http::sign_in(base, password).await?;
    let page = client.get(format!("{base}/projects")).send().await?;
    let csrf = http::csrf_in(&page.text().await?)?;
    let project = project.to_string();
    let selected = client
        .post(format!("{base}/projects/select"))
        .form(&[
            ("project", project.as_str()),
            ("next", "/containers"),
            ("csrf", &csrf),
        ])
        .send()
        .await?;
    anyhow::ensure!(selected.status().as_u16() == 303, "selecting the project");
    Ok((client, cookie, csrf))
}

/// `YYYY-MM-DDTHH:MM` in the platform's zone a day from now.
fn tomorrow() -> anyhow::Result<String> {
    Ok(jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::get("Asia/Taipei")?)
        .checked_add(jiff::SignedDuration::from_hours(24))?
        .strftime("%Y-%m-%dT%H:%M")
        .to_string())
}

fn main() -> anyhow::Result<()> {
    let containers = setting("CONTAINERS", 500);
    let parallel = setting("PARALLEL", 100).min(containers);
    let dir = tempfile::tempdir()?;
    let (runtime, running) = appliance::start(dir.path())?;
    let base = format!("http://{}", running.addr);
    let services = running.services.clone();
    let result = runtime.block_on(async move {
        // Half a core and 1 GiB each: the quota fits every container.
        let count = u64::try_from(containers)?;
        let (project, bench, password) = seed::bench_project(
            &services,
            "Containers",
            Resources {
                gpu_milli: 0,
                cpu_milli: 500 * count,
                ram_mib: 1024 * count,
                storage_gib: 0,
            },
        )
        .await?;
        let spec = services
            .create_hardware_spec(&HardwareSpecRequest {
                name: "half".into(),
                cpu_cores: "0.5".into(),
                ram_gb: "1".into(),
                gpu_type: String::new(),
                price: "1".into(),
            })
            .await?;
        let image = services
            .create_image(&ImageRequest {
                name: "ubuntu".into(),
                versions: "24.04".into(),
                ssh_login: "password".into(),
                services: String::new(),
                local_commands: String::new(),
            })
            .await?;
        let (client, cookie, csrf) = sign_in(&base, &password, project).await?;

        // The wizard's form, posted `parallel` times at once.
        let start_at = tomorrow()?;
        let (spec_id, image_id) = (spec.id.to_string(), image.id.to_string());
        let form = |n: usize| {
            vec![
                ("step", "4".to_owned()),
                ("go", "create".to_owned()),
                ("accept_terms", terms_sha256(DEFAULT_USAGE_TERMS)),
                ("name", format!("wizard{n}")),
                ("start_mode", "at".to_owned()),
                ("start_at", start_at.clone()),
                ("end_mode", "none".to_owned()),
                ("gpu_type", String::new()),
                ("spec", spec_id.clone()),
                ("image", image_id.clone()),
                ("version", "24.04".to_owned()),
                ("ssh_password", "correct horse".to_owned()),
                ("csrf", csrf.clone()),
            ]
        };
        let forms: Vec<_> = (0..parallel).map(form).collect();
        let url = format!("{base}/containers/new");
        let started = Instant::now();
        let answers = join_all(forms.iter().map(|f| client.post(&url).form(f).send())).await;
        let took = started.elapsed();
        for answer in answers {
            let answer = answer?;
            let status = answer.status();
            anyhow::ensure!(
                status.as_u16() == 303,
                "a wizard post answered {status}: {}",
                answer.text().await?
            );
        }
        let used = services.project(&bench, project).await?.used;
        let one = Resources {
            gpu_milli: 0,
            cpu_milli: 500,
            ram_mib: 1024,
            storage_gib: 0,
        };
        let parallel_count = u64::try_from(parallel)?;
        anyhow::ensure!(
            used == Resources {
                gpu_milli: 0,
                cpu_milli: one.cpu_milli * parallel_count,
                ram_mib: one.ram_mib * parallel_count,
                storage_gib: 0,
            },
            "the project holds {used:?} after {parallel} creations"
        );
        println!("parallel={parallel}");
        println!("parallel_seconds={:.3}", took.as_secs_f64());

        // The rest through the use case, one after the other.
        let start = jiff::Timestamp::now().checked_add(jiff::SignedDuration::from_hours(24))?;
        let seeding = Instant::now();
        for n in parallel..containers {
            let spec = ContainerSpec {
                meta: WorkloadMeta {
                    id: WorkloadId::generate(),
                    project,
                    owner: bench.id,
                    name: format!("seeded{n}"),
                },
                image: ImageRef {
                    name: "ubuntu".into(),
                    tag: "24.04".into(),
                },
                command: None,
                env: Default::default(),
                resources: Asked {
                    cpu_milli: one.cpu_milli,
                    ram_mib: one.ram_mib,
                    shm_mib: 0,
                    gpu: None,
                },
                volumes: Vec::new(),
                services: Vec::new(),
                ssh: SshAccess::None,
                start_at: Some(start),
                end_at: None,
            };
            services.create_container(&bench, spec).await?;
        }
        println!("containers={containers}");
        println!(
            "seed_seconds={:.3}",
            seeding.elapsed().as_secs_f64() + took.as_secs_f64()
        );
        let list = client.get(format!("{base}/containers")).send().await?;
        anyhow::ensure!(list.status().as_u16() == 200, "GET /containers");
        let body = list.text().await?;
        let range = format!("of {containers}");
        anyhow::ensure!(body.contains(&range), "the list does not say \"{range}\"");
        println!("list_bytes={}", body.len());
        println!("url={base}/containers");
        println!("cookie={cookie}");
        println!("ready=1");
        // Serve until the script closes our standard input.
        tokio::task::spawn_blocking(|| for _ in std::io::stdin().lock().lines() {}).await?;
        anyhow::Ok(())
    });
    running.stop()?;
    result
}
