//! Metrics benchmark (run by tests/bench/metrics.sh), on a fresh store with
//! the use cases (no HTTP, no cluster):
//!
//! 1. Ingest: one scrape of 100 nodes × 8 GPUs in the DCGM exporter's
//!    default metric set (the 1 × L4 scrape of
//!    tests/fixtures/dcgm/kops-aws-l4-gpu-operator.txt repeated per GPU,
//!    with Kubernetes pod labels), 800 Running containers to map them to:
//!    parse, map and store (one durable transaction).
//! 2. Chart: a container with 24 hours of minutes; its Monitor tab's data
//!    read and both charts rendered.
//! 3. Report: a project with 200 containers, each with 30 days of hourly
//!    rollups; the GPU Utilization Rate report over 30 days.
//!
//! Each is run 20 times after one warm-up; prints the median and the most
//! as `key=value` lines, in milliseconds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use mlstack::clock::{ManualClock, SharedClock};
use mlstack::cluster::Observed;
use mlstack::cluster::metrics::{dcgm, namespace_name};
use mlstack::domain::ids::{ProjectId, UserId};
use mlstack::domain::metrics::{MinuteSample, minute_of_ms};
use mlstack::domain::project::ProjectForm;
use mlstack::domain::quota::Resources as Quota;
use mlstack::domain::workload::{
    ContainerSpec, ImageRef, Resources, SshAccess, WorkloadId, WorkloadMeta, WorkloadStatus,
};
use mlstack::i18n::Catalog;
use mlstack::service::Services;
use mlstack::store::Store;
use mlstack::store::workloads::{Desired, WorkloadRecord, WorkloadSpec};

const RUNS: usize = 20;
const FIXTURE: &str = include_str!("../fixtures/dcgm/kops-aws-l4-gpu-operator.txt");

fn record(project: ProjectId, owner: UserId, name: String, now: Timestamp) -> WorkloadRecord {
    let id = WorkloadId::generate();
    WorkloadRecord {
        spec: WorkloadSpec::Container(ContainerSpec {
            meta: WorkloadMeta {
                id,
                project,
                owner,
                name,
            },
            image: ImageRef {
                name: "pytorch/pytorch".into(),
                tag: "2.4".into(),
            },
            command: None,
            env: Default::default(),
            resources: Resources {
                cpu_milli: 4000,
                ram_mib: 16_384,
                shm_mib: 0,
                gpu: None,
            },
            volumes: Vec::new(),
            services: Vec::new(),
            ssh: SshAccess::None,
            start_at: None,
            end_at: None,
        }),
        desired: Desired::Running,
        generation: 1,
        observed: Some(Observed {
            id,
            status: WorkloadStatus::Running,
            endpoints: Vec::new(),
            gpus: Vec::new(),
            started_at: Some(now),
            finished_at: None,
        }),
        error: None,
        events: Vec::new(),
        due_at: None,
        hold: None,
        queued: false,
        created_at: now,
        updated_at: now,
    }
}

/// The fixture's one GPU as GPU `index` of `node`, held by `pod`.
fn scrape_text(nodes: usize, namespace: &str) -> String {
    let mut text = String::new();
    for node in 0..nodes {
        for gpu in 0..8 {
            let pod = format!("c{:04}-5d8f7c9b6-x2k4q", node * 8 + gpu);
            for line in FIXTURE.lines() {
                if line.starts_with('#') {
                    if node == 0 && gpu == 0 {
                        text.push_str(line);
                        text.push('\n');
                    }
                    continue;
                }
                let line = line
                    .replace("gpu=\"0\"", &format!("gpu=\"{gpu}\""))
                    .replace(
                        "GPU-c2f76b33-7953-256e-8f33-1343419b1a1c",
                        &format!("GPU-{node:04}-{gpu}"),
                    )
                    .replace("i-030791dc5a37cd257", &format!("node-{node:03}"))
                    .replace(
                        "} ",
                        &format!(",container=\"main\",namespace=\"{namespace}\",pod=\"{pod}\"}} "),
                    );
                text.push_str(&line);
                text.push('\n');
            }
        }
    }
    text
}

fn summary(name: &str, mut times: Vec<Duration>) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("{name}_median_ms={:.2}", ms(times[times.len() / 2]));
    println!("{name}_max_ms={:.2}", ms(times[times.len() - 1]));
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(Store::open_in(dir.path())?);
    let start = Timestamp::now();
    let manual = Arc::new(ManualClock::new(start));
    let clock: SharedClock = manual.clone();
    let catalog = Arc::new(Catalog::load().map_err(anyhow::Error::msg)?);
    let services = Services::new(
        store.clone(),
        clock,
        jiff::SignedDuration::from_hours(1),
        dir.path(),
        catalog,
    );

    // A project managed by `bench`, approved by an admin.
    services.create_user("boss", true).await?;
    services.create_user("bench", false).await?;
    let users = services.list_users().await?;
    let find = |name: &str| {
        users
            .iter()
            .find(|u| u.username.as_str() == name)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no user {name}"))
    };
    let (admin, bench) = (find("boss")?, find("bench")?);
    let today = start
        .to_zoned(jiff::tz::TimeZone::get("Asia/Taipei")?)
        .date();
    let mut projects = Vec::new();
    for name in ["Ingest", "Report"] {
        let form = ProjectForm {
            name: name.into(),
            start: today.to_string(),
            end: today.checked_add(jiff::Span::new().days(60))?.to_string(),
            purpose: String::new(),
            description: "metrics benchmark".into(),
            managers: vec!["bench".into()],
            members: Vec::new(),
        };
        projects.push(services.apply_project(&bench, &form).await?);
        let application = services
            .reviewing_applications(&admin)
            .await?
            .first()
            .map(|a| a.application.id)
            .ok_or_else(|| anyhow::anyhow!("no application"))?;
        services
            .decide_application(&admin, application, true, "", Some(Quota::default()))
            .await?;
    }
    let (project, report_project) = (projects[0], projects[1]);

    // 1. Ingest: 800 Running containers, one scrape of 100 × 8 GPUs.
    let records: Vec<WorkloadRecord> = (0..800)
        .map(|n| record(project, bench.id, format!("c{n:04}"), start))
        .collect();
    store.write(|tx| {
        records
            .iter()
            .try_for_each(|r| mlstack::store::workloads::insert_tx(tx, r))
    })?;
    let text = scrape_text(100, &namespace_name(project));
    println!("scrape_bytes={}", text.len());
    println!("scrape_lines={}", text.lines().count());
    let mut ingest = Vec::new();
    for run in 0..=RUNS {
        let began = Instant::now();
        let parsed = dcgm::parse(&text);
        anyhow::ensure!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        let report = services.ingest_gpu_readings(parsed.gpus).await?;
        anyhow::ensure!(report.mapped_gpus == 800, "mapped {}", report.mapped_gpus);
        if run > 0 {
            ingest.push(began.elapsed());
        }
    }
    summary("ingest_800_gpus", ingest);

    // 2. A 24-hour chart of one container.
    let watched = records[0].id();
    let now_minute = minute_of_ms(start.as_millisecond());
    store.write(|tx| {
        for minute in now_minute - 24 * 60..=now_minute {
            let sample = MinuteSample {
                scrapes: 4,
                gpus: 2,
                gpu_util_pct: (minute % 100) as f32,
                gpu_mem_mib: 20_000.0,
            };
            mlstack::store::metrics::record_scrape_tx(tx, minute, &[(watched, sample)])?;
        }
        Ok::<_, mlstack::store::StoreError>(())
    })?;
    let tr = Catalog::load().map_err(anyhow::Error::msg)?;
    let mut chart = Vec::new();
    for run in 0..=RUNS {
        let began = Instant::now();
        let data = services.monitor_columns(watched, 24).await?;
        let view = mlstack::web::views::monitor::MonitorView {
            hours: 24,
            hours_error: None,
            start: data.start,
            end: data.end,
            columns: data.columns,
            cpu_cores: data.cpu_cores,
            memory_mib: data.memory_mib,
            rx_bytes_per_s: data.rx_bytes_per_s,
            tx_bytes_per_s: data.tx_bytes_per_s,
        };
        let html = mlstack::web::views::monitor::tab(
            tr.tr(mlstack::domain::user::Lang::En),
            watched,
            &view,
            &jiff::tz::TimeZone::UTC,
        )
        .into_string();
        anyhow::ensure!(html.contains("<svg"), "no chart");
        if run > 0 {
            chart.push(began.elapsed());
        }
    }
    summary("chart_24h", chart);

    // 3. The report: a project of 200 containers with 30 days of hourly
    // rollups (one measured minute an hour writes each hour's rollup).
    let reported: Vec<WorkloadRecord> = (0..200)
        .map(|n| record(report_project, bench.id, format!("r{n:03}"), start))
        .collect();
    store.write(|tx| {
        reported
            .iter()
            .try_for_each(|r| mlstack::store::workloads::insert_tx(tx, r))
    })?;
    let hours = 30 * 24;
    for chunk in reported.chunks(20) {
        store.write(|tx| {
            for r in chunk {
                for hour in 0..hours {
                    let minute = now_minute - hour * 60;
                    let sample = MinuteSample {
                        scrapes: 1,
                        gpus: 1,
                        gpu_util_pct: 34.0,
                        gpu_mem_mib: 1000.0,
                    };
                    mlstack::store::metrics::record_scrape_tx(tx, minute, &[(r.id(), sample)])?;
                }
            }
            Ok::<_, mlstack::store::StoreError>(())
        })?;
    }
    let mut report = Vec::new();
    for run in 0..=RUNS {
        let began = Instant::now();
        let rows = services
            .gpu_utilization(&bench, report_project, 30)
            .await?
            .rows;
        anyhow::ensure!(rows.len() == 200, "rows {}", rows.len());
        anyhow::ensure!(
            rows.iter()
                .all(|r| (r.usage.container_hours - 12.0).abs() < 1e-9),
            "720 measured minutes each"
        );
        if run > 0 {
            report.push(began.elapsed());
        }
    }
    summary("report_200_containers_30_days", report);
    Ok(())
}
