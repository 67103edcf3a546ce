//! Schedules benchmark (run by tests/bench/schedules.sh): 1,000 active job
//! schedules firing every minute against the fake Kubernetes API server.
//!
//! 1. An appliance (kube driver; the fake runs in another process, its
//!    kubeconfig is the first argument) gets one project with room for
//!    thousands of small jobs, a CPU-only spec, an image, one job template
//!    and 1,000 schedules `* * * * *` (Asia/Taipei, multi thread, a window
//!    of an hour either side of now).
//! 2. For each of the next `TRIGGERS` minute boundaries: how long after the
//!    trigger time each of the 1,000 jobs was created (its record's
//!    creation time on the system clock), the median and the most, and
//!    the fewest jobs a trigger had made within 55 s.
//! 3. Between triggers: the process's CPU time (user + system, from
//!    /proc/self/stat) from 35 s after the last trigger (or 2 s after its
//!    last job, when later) to 58 s after it, as a share of one core — the
//!    schedule loop's idle ticks, with the reconcile loop settled; none
//!    when the trigger's jobs left no such window.
//!
//! Prints one `key=value` line per figure.

#[path = "seed.rs"]
mod seed;

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp, Unit};
use mlstack::app::{self, Options};
use mlstack::clock::SystemClock;
use mlstack::config::{self, CliOverrides, Config, DriverChoice};
use mlstack::domain::catalog::{HardwareSpecRequest, ImageRequest};
use mlstack::domain::workload::JobOrigin;
use mlstack::service::schedules::{JobScheduleForm, JobTemplateForm};
use mlstack::store::workloads::WorkloadSpec;

const SCHEDULES: usize = 1000;
const TRIGGERS: usize = 2;

fn config(data_dir: &std::path::Path, kubeconfig: &std::path::Path) -> anyhow::Result<Config> {
    let overrides = CliOverrides {
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(data_dir.to_owned()),
    };
    let mut config = config::resolve(None, &Default::default(), &overrides)?;
    config.cluster.driver = DriverChoice::Kube;
    config.cluster.kubeconfig = Some(kubeconfig.to_owned());
    config.log_level = "warn".into();
    Ok(config)
}

/// User plus system CPU time of this process.
fn cpu_time() -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| anyhow::anyhow!("unexpected /proc/self/stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields
        .get(11..13)
        .ok_or_else(|| anyhow::anyhow!("unexpected /proc/self/stat"))?
        .iter()
        .map(|f| f.parse::<u64>())
        .sum::<Result<u64, _>>()?;
    // USER_HZ is 100 on Linux.
    Ok(Duration::from_millis(ticks * 10))
}

/// `YYYY-MM-DDTHH:MM` in Asia/Taipei, as the schedule form takes it.
fn taipei(t: Timestamp) -> anyhow::Result<String> {
    Ok(t.to_zoned(jiff::tz::TimeZone::get("Asia/Taipei")?)
        .strftime("%Y-%m-%dT%H:%M")
        .to_string())
}

async fn sleep_until(t: Timestamp) {
    let left = t.duration_since(Timestamp::now());
    if left.is_positive() {
        tokio::time::sleep(left.unsigned_abs()).await;
    }
}

fn main() -> anyhow::Result<()> {
    let kubeconfig = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: bench-schedules KUBECONFIG"))?;
    let dir = tempfile::tempdir()?;
    let config = config(dir.path(), std::path::Path::new(&kubeconfig))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let running = app::start(
            config,
            Arc::new(SystemClock),
            Options {
                handle_signals: false,
            },
        )?;
        let services = running.services.clone();
        let quota = mlstack::domain::quota::Resources {
            gpu_milli: 0,
            cpu_milli: 100_000_000,
            ram_mib: 400_000_000,
            storage_gib: 0,
        };
        let (project, bench, _) = seed::bench_project(&services, "Schedules", quota).await?;
        let spec = services
            .create_hardware_spec(&HardwareSpecRequest {
                name: "tiny".into(),
                cpu_cores: "0.1".into(),
                ram_gb: "0.1".into(),
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
        let template = services
            .create_job_template(
                &bench,
                project,
                JobTemplateForm {
                    name: "hello".into(),
                    spec: spec.id.to_string(),
                    image: image.id.to_string(),
                    version: "24.04".into(),
                    command: "echo \"Hello World\"".into(),
                    ..JobTemplateForm::default()
                },
            )
            .await?;
        let now = Timestamp::now();
        for n in 0..SCHEDULES {
            services
                .create_job_schedule(
                    &bench,
                    project,
                    JobScheduleForm {
                        name: format!("s{n:04}"),
                        description: String::new(),
                        template: template.to_string(),
                        zone: "Asia/Taipei".into(),
                        start: taipei(now - SignedDuration::from_hours(1))?,
                        end: taipei(now + SignedDuration::from_hours(1))?,
                        cron: "* * * * *".into(),
                        concurrency: "multi".into(),
                    },
                )
                .await?;
        }
        println!("schedules={SCHEDULES}");

        let mut trigger = Timestamp::now().round(Unit::Minute)?;
        if trigger <= Timestamp::now() {
            trigger += SignedDuration::from_mins(1);
        }
        let mut worst = SignedDuration::ZERO;
        let mut lags = Vec::new();
        let mut created_least = SCHEDULES;
        let mut finished = Timestamp::now();
        for _ in 0..TRIGGERS {
            // Every 200 ms until the trigger's 1,000 jobs exist, or 55 s.
            sleep_until(trigger).await;
            let jobs = loop {
                let jobs: Vec<SignedDuration> = services
                    .project_workloads(&bench, project)
                    .await?
                    .into_iter()
                    .filter(|w| {
                        matches!(&w.spec, WorkloadSpec::Job(j) if matches!(j.origin, JobOrigin::Schedule { .. }))
                    })
                    .map(|w| w.created_at.duration_since(trigger))
                    .filter(|lag| !lag.is_negative() && *lag < SignedDuration::from_secs(60))
                    .collect();
                if jobs.len() >= SCHEDULES
                    || Timestamp::now() > trigger + SignedDuration::from_secs(55)
                {
                    break jobs;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            };
            created_least = created_least.min(jobs.len());
            finished = Timestamp::now();
            let most = jobs.iter().max().copied().unwrap_or_default();
            worst = worst.max(most);
            lags.extend(jobs);
            trigger += SignedDuration::from_mins(1);
        }
        lags.sort();
        let median = lags.get(lags.len() / 2).copied().unwrap_or_default();
        println!("triggers={TRIGGERS}");
        println!("created_least={created_least}");
        println!("lag_median_ms={}", median.as_millis());
        println!("lag_max_ms={}", worst.as_millis());

        // Between triggers: from 35 s after the last one (or 2 s after its
        // last job, when later) to 58 s after it.
        let last = trigger - SignedDuration::from_mins(1);
        let quiet_from = (last + SignedDuration::from_secs(35)).max(finished + SignedDuration::from_secs(2));
        let quiet_to = last + SignedDuration::from_secs(58);
        if quiet_to.duration_since(quiet_from) < SignedDuration::from_secs(5) {
            println!("idle_cpu_pct=none (the trigger's jobs took the whole minute)");
        } else {
            sleep_until(quiet_from).await;
            let before = cpu_time()?;
            let from = std::time::Instant::now();
            sleep_until(quiet_to).await;
            let cpu = cpu_time()?.saturating_sub(before);
            let wall = from.elapsed();
            println!(
                "idle_cpu_pct={:.1}",
                100.0 * cpu.as_secs_f64() / wall.as_secs_f64()
            );
        }
        running.stop()?;
        Ok(())
    })
}
