//! Reconcile benchmark (run by tests/bench/reconcile.sh): 1,000 desired
//! containers against the fake Kubernetes API server, from cold.
//!
//! 1. With the fake running in another process (its kubeconfig is the
//!    first argument), an appliance on a fresh data directory gets one
//!    project, and stops; then 1,000 containers are written through the use
//!    cases on the store alone, with no appliance (and no reconcile loop)
//!    running.
//! 2. The appliance starts again on that store: the clock runs from its
//!    start until every container is applied (the cluster has its
//!    Deployment), and until every one is observed Running.
//! 3. Steady state: the process's CPU time (user + system, from
//!    /proc/self/stat) of a full resync of the 1,000 running containers:
//!    the first after start-up on its own, then the median and the most
//!    of the five after it.
//!
//! Prints one `key=value` line per figure.

#[path = "seed.rs"]
mod seed;

use std::sync::Arc;
use std::time::{Duration, Instant};

use mlstack::app::{self, Options};
use mlstack::clock::SystemClock;
use mlstack::config::{self, CliOverrides, Config, DriverChoice};
use mlstack::domain::catalog::{Protocol, ServiceKind};
use mlstack::domain::ids::{ProjectId, UserId};
use mlstack::domain::workload::{
    ContainerSpec, ImageRef, Resources, ServiceSpec, SshAccess, WorkloadId, WorkloadMeta,
    WorkloadStatus,
};
use mlstack::store::users::UserRecord;

const CONTAINERS: usize = 1000;

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

fn container(project: ProjectId, n: usize) -> ContainerSpec {
    ContainerSpec {
        meta: WorkloadMeta {
            id: WorkloadId::generate(),
            project,
            owner: UserId::generate(),
            name: format!("c{n:04}"),
        },
        image: ImageRef {
            name: "jupyter/base-notebook".into(),
            tag: "2024-10-07".into(),
        },
        command: None,
        env: Default::default(),
        resources: Resources {
            cpu_milli: 100,
            ram_mib: 128,
            shm_mib: 0,
            gpu: None,
        },
        volumes: Vec::new(),
        services: vec![ServiceSpec {
            name: "jupyter".into(),
            kind: ServiceKind::JupyterLab,
            port: 8888,
            protocol: Protocol::Http,
            local_command: None,
        }],
        // `openssl passwd -6 -salt saltstring 'Hello world!'`
        ssh: SshAccess::PasswordHash(
            "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"
                .into(),
        ),
        start_at: None,
        end_at: None,
    }
}

/// User plus system CPU time of this process.
fn cpu_time() -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the command name (which may hold spaces) in parentheses.
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

/// The appliance on the system clock, without signal handling.
fn start(config: Config) -> anyhow::Result<app::Running> {
    app::start(
        config,
        Arc::new(SystemClock),
        Options {
            handle_signals: false,
        },
    )
}

async fn seed(config: Config) -> anyhow::Result<(ProjectId, UserRecord)> {
    let running = start(config)?;
    let services = running.services.clone();
    let quota = mlstack::domain::quota::Resources {
        gpu_milli: 0,
        cpu_milli: 1_000_000,
        ram_mib: 4_194_304,
        storage_gib: 0,
    };
    let (project, bench, _) = seed::bench_project(&services, "Reconcile", quota).await?;
    running.stop()?;
    Ok((project, bench))
}

fn main() -> anyhow::Result<()> {
    let kubeconfig = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: bench-reconcile KUBECONFIG"))?;
    let kubeconfig = std::path::PathBuf::from(kubeconfig);
    let dir = tempfile::tempdir()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let config = config(dir.path(), &kubeconfig)?;
    runtime.block_on(async move {
        let (project, bench) = seed(config.clone()).await?;

        // The containers go into the store with the appliance stopped: the
        // measurement starts with 1,000 desired containers and an empty
        // cluster.
        {
            let store = Arc::new(mlstack::store::Store::open_in(&config.data_dir)?);
            let catalog = Arc::new(mlstack::i18n::Catalog::load().map_err(anyhow::Error::msg)?);
            let services = mlstack::service::Services::new(
                store,
                Arc::new(SystemClock),
                config.session_idle_timeout,
                &config.data_dir,
                catalog,
            );
            for n in 0..CONTAINERS {
                services
                    .create_container(&bench, container(project, n))
                    .await?;
            }
        }

        let started = Instant::now();
        let running = start(config)?;
        let services = running.services.clone();
        let mut applied_at = None;
        let running_at = loop {
            let records = services.project_workloads(&bench, project).await?;
            let applied = records.iter().filter(|r| r.observed.is_some()).count();
            let up = records
                .iter()
                .filter(|r| r.status() == WorkloadStatus::Running)
                .count();
            if applied_at.is_none() && applied == CONTAINERS {
                applied_at = Some(started.elapsed());
            }
            if up == CONTAINERS {
                break started.elapsed();
            }
            if started.elapsed() > Duration::from_secs(300) {
                anyhow::bail!("after 300 s: {applied} applied, {up} running");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let applied_at = applied_at.unwrap_or(running_at);
        println!("containers={CONTAINERS}");
        println!("applied_s={:.2}", applied_at.as_secs_f64());
        println!("running_s={:.2}", running_at.as_secs_f64());

        // Let the last watch events settle, then time resyncs.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let reconciler = running.reconciler.clone();
        // The first resync after start-up records what the loop has not
        // yet (start times of the last pods); the five after it are the
        // steady state.
        let mut costs = Vec::new();
        for _ in 0..6 {
            let before = cpu_time()?;
            let wall = Instant::now();
            let report = reconciler.resync().await?;
            let cost = cpu_time()?.saturating_sub(before);
            costs.push((cost, wall.elapsed(), report.applied));
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let (first, _, _) = costs.remove(0);
        println!("resync_first_cpu_ms={}", first.as_millis());
        costs.sort();
        let (cpu, wall, applied) = costs[costs.len() / 2];
        let most = costs.last().map_or(cpu, |(cpu, _, _)| *cpu);
        println!("resync_cpu_ms={}", cpu.as_millis());
        println!("resync_cpu_max_ms={}", most.as_millis());
        println!("resync_wall_ms={}", wall.as_millis());
        println!("resync_applied={applied}");
        running.stop()?;
        Ok(())
    })
}
