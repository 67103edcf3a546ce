//! The metrics collector: every tick, each DCGM exporter (and the Prometheus
//! server, when one is configured: for GPUs and for containers) is asked at
//! once — each bounded by the
//! scrape timeout and size limit, so one source that is down or slow never
//! holds up the others —, its answer parsed, mapped to workloads and stored;
//! each source's outcome goes to the admin status page. cAdvisor endpoints
//! (and, on the local driver, the workloads' own processes) give each
//! container's CPU, memory and network: their counters become rates
//! against the same container's reading of the previous scrape. On the
//! local driver, nvidia-smi is run for the GPUs' utilization and memory
//! (`[metrics] nvidia_smi`), a source like the others.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::future::join_all;

use crate::cluster::any::AnyDriver;
use crate::cluster::metrics::cadvisor::{self, ContainerOf};
use crate::cluster::metrics::dcgm::{self, DcgmScrape, FB_USED, GPU_UTIL};
use crate::cluster::metrics::scrape::Scraper;
use crate::cluster::metrics::{nvidia_smi, prometheus};
use crate::config::{MetricsConfig, NvidiaSmiSampling};
use crate::domain::metrics::{ResourceReading, ResourceSample};
use crate::service::{ServiceError, Services};

/// How often minutes past the retention are pruned.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

#[derive(Clone)]
pub struct MetricsCollector {
    services: Services,
    scraper: Scraper,
    endpoints: Vec<String>,
    prometheus: Option<String>,
    cadvisor: Vec<String>,
    /// The nvidia-smi run for the local GPUs, when it is.
    nvidia_smi: Option<PathBuf>,
    timeout: Duration,
    max_bytes: usize,
    /// Each container's last reading per source.
    previous: Arc<Mutex<Previous>>,
    /// The containers the Prometheus server measured in its last answer:
    /// the local driver's own reading leaves them to it.
    measured_by_prometheus: Arc<Mutex<BTreeSet<ContainerOf>>>,
}

/// Each container's last reading per source, with its time (ms).
pub type Previous = BTreeMap<(String, ContainerOf), (i64, ResourceReading)>;

/// The source name of the local driver's own readings.
const LOCAL_SOURCE: &str = "local";

/// One scrape's readings as samples, counters turned into rates against
/// `previous` (the same source's last scrape); `previous` then holds this
/// scrape's readings (containers gone from the source are forgotten).
pub fn rates(
    previous: &mut Previous,
    source: &str,
    now_ms: i64,
    readings: Vec<(ContainerOf, ResourceReading)>,
) -> Vec<(ContainerOf, ResourceSample)> {
    previous.retain(|(s, of), _| s != source || readings.iter().any(|(o, _)| o == of));
    readings
        .into_iter()
        .map(|(of, reading)| {
            let key = (source.to_owned(), of.clone());
            let before = previous
                .get(&key)
                .map(|(at, r)| (r, (now_ms - at) as f64 / 1000.0));
            let sample = ResourceSample::of_readings(before, &reading);
            previous.insert(key, (now_ms, reading));
            (of, sample)
        })
        .collect()
}

impl MetricsCollector {
    pub fn new(services: Services, config: &MetricsConfig) -> MetricsCollector {
        let max_bytes = usize::try_from(config.max_response_bytes).unwrap_or(usize::MAX);
        MetricsCollector {
            scraper: Scraper::new(config.scrape_timeout, max_bytes),
            endpoints: config.dcgm_endpoints.clone(),
            prometheus: config.prometheus_url.clone(),
            cadvisor: config.cadvisor_endpoints.clone(),
            nvidia_smi: samples_nvidia_smi(&services, config).then(|| PathBuf::from("nvidia-smi")),
            timeout: config.scrape_timeout,
            max_bytes,
            services,
            previous: Arc::default(),
            measured_by_prometheus: Arc::default(),
        }
    }

    /// Scrapes every source once, at the same time, and records each
    /// outcome; then mails the owners of containers whose GPUs became idle.
    /// A store failure is returned (after every source was tried).
    pub async fn step(&self) -> Result<(), ServiceError> {
        let exporters = join_all(self.endpoints.iter().map(|url| self.scrape_one(url)));
        let server = async {
            match &self.prometheus {
                Some(base) => self.query_prometheus(base).await,
                None => Ok(()),
            }
        };
        let containers = join_all(self.cadvisor.iter().map(|url| self.scrape_cadvisor(url)));
        let (outcomes, server, containers, gpus) =
            futures_util::future::join4(exporters, server, containers, self.sample_local_gpus())
                .await;
        // After the Prometheus server's answer: the containers it measured
        // are left to it.
        let local = self.read_local().await;
        outcomes.into_iter().collect::<Result<Vec<()>, _>>()?;
        containers.into_iter().collect::<Result<Vec<()>, _>>()?;
        server?;
        local?;
        gpus?;
        self.services.mail_idle_gpus().await?;
        self.services.stop_idle_containers().await?;
        Ok(())
    }

    async fn scrape_one(&self, url: &str) -> Result<(), ServiceError> {
        let started = self.services.clock.now();
        let text = match self.scraper.fetch(url).await {
            Ok(text) => text,
            Err(e) => return self.failed(url, started, e.to_string()),
        };
        let parsed = tokio::task::spawn_blocking(move || dcgm::parse(&text))
            .await
            .map_err(|e| ServiceError::Internal(format!("parsing task failed: {e}")))?;
        self.ingest(url, started, parsed).await
    }

    /// Scrapes one cAdvisor endpoint for the containers' CPU, memory and
    /// network.
    async fn scrape_cadvisor(&self, url: &str) -> Result<(), ServiceError> {
        let started = self.services.clock.now();
        let text = match self.scraper.fetch(url).await {
            Ok(text) => text,
            Err(e) => return self.failed(url, started, e.to_string()),
        };
        let parsed = tokio::task::spawn_blocking(move || cadvisor::parse(&text))
            .await
            .map_err(|e| ServiceError::Internal(format!("parsing task failed: {e}")))?;
        let problem = parsed.problem_summary();
        let samples = self.rates(url, started, parsed.containers);
        let health = self.services.metrics_sources();
        match self.services.ingest_usage(samples).await {
            Ok(workloads) => {
                let report = crate::service::metrics::IngestReport {
                    workloads,
                    ..Default::default()
                };
                health.record(url, started, Ok((report, problem)));
                Ok(())
            }
            Err(e) => {
                health.record(url, started, Err(format!("storing the scrape failed: {e}")));
                Err(e)
            }
        }
    }

    /// The local driver's reading of its workloads' processes, where no
    /// cAdvisor endpoint is configured and the Prometheus server did not
    /// measure the container (they measure the same containers better:
    /// with their network).
    async fn read_local(&self) -> Result<(), ServiceError> {
        if !self.cadvisor.is_empty() {
            return Ok(());
        }
        let mut readings = self.services.local_resource_readings().await?;
        let measured = self
            .measured_by_prometheus
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        readings.retain(|(of, _)| !measured.contains(of));
        if readings.is_empty() {
            return Ok(());
        }
        let now = self.services.clock.now();
        let samples = self.rates(LOCAL_SOURCE, now, readings);
        self.services.ingest_usage(samples).await.map(|_| ())
    }

    /// Runs nvidia-smi for the local GPUs' utilization and memory, when it
    /// is enabled; its readings map to workloads by GPU (UUID, else index)
    /// like a DCGM exporter's on the local driver.
    async fn sample_local_gpus(&self) -> Result<(), ServiceError> {
        let Some(program) = &self.nvidia_smi else {
            return Ok(());
        };
        let started = self.services.clock.now();
        match nvidia_smi::sample(program, self.timeout, self.max_bytes).await {
            Ok(parsed) => self.ingest(nvidia_smi::SOURCE, started, parsed).await,
            Err(problem) => self.failed(nvidia_smi::SOURCE, started, problem),
        }
    }

    fn rates(
        &self,
        source: &str,
        at: jiff::Timestamp,
        readings: Vec<(ContainerOf, ResourceReading)>,
    ) -> Vec<(ContainerOf, ResourceSample)> {
        let mut previous = self.previous.lock().unwrap_or_else(PoisonError::into_inner);
        rates(&mut previous, source, at.as_millisecond(), readings)
    }

    /// Asks the Prometheus server at `base` for the GPU fields and the
    /// containers' CPU, memory and network, all at once; one failed query
    /// marks the source unhealthy with its reason.
    async fn query_prometheus(&self, base: &str) -> Result<(), ServiceError> {
        let started = self.services.clock.now();
        let mut measured = BTreeSet::new();
        let outcome = self.ask_prometheus(base, started, &mut measured).await;
        *self
            .measured_by_prometheus
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = measured;
        outcome
    }

    /// [`Self::query_prometheus`]'s work; `measured` gets the containers
    /// the answer measured.
    async fn ask_prometheus(
        &self,
        base: &str,
        started: jiff::Timestamp,
        measured: &mut BTreeSet<ContainerOf>,
    ) -> Result<(), ServiceError> {
        let container_queries = prometheus::container_queries();
        let urls: Vec<String> = container_queries
            .iter()
            .map(|(_, query)| prometheus::query_url(base, query))
            .collect();
        let (util, mem, containers) = futures_util::future::join3(
            self.scraper.fetch(&prometheus::query_url(base, GPU_UTIL)),
            self.scraper.fetch(&prometheus::query_url(base, FB_USED)),
            join_all(urls.iter().map(|url| self.scraper.fetch(url))),
        )
        .await;
        let (util, mem) = match (util, mem) {
            (Ok(util), Ok(mem)) => (util, mem),
            (Err(e), _) | (_, Err(e)) => return self.failed(base, started, e.to_string()),
        };
        let mut answers = Vec::new();
        for ((metric, _), answer) in container_queries.iter().zip(containers) {
            match answer {
                Ok(text) => answers.push((*metric, text)),
                Err(e) => return self.failed(base, started, format!("{metric}: {e}")),
            }
        }
        let answers: Vec<(&'static str, &str)> =
            answers.iter().map(|(m, t)| (*m, t.as_str())).collect();
        let (mut parsed, (samples, problems)) = match (
            prometheus::readings(&util, &mem),
            prometheus::container_samples(&answers),
        ) {
            (Ok(gpus), Ok(containers)) => (gpus, containers),
            (Err(problem), _) | (_, Err(problem)) => return self.failed(base, started, problem),
        };
        for problem in problems {
            parsed.note(problem);
        }
        measured.extend(samples.iter().map(|(of, _)| of.clone()));
        let health = self.services.metrics_sources();
        let problem = parsed.problem_summary();
        let stored = async {
            let mut report = self.services.ingest_gpu_readings(parsed.gpus).await?;
            let containers = self.services.ingest_usage(samples).await?;
            report.workloads = report.workloads.max(containers);
            Ok::<_, ServiceError>(report)
        };
        match stored.await {
            Ok(report) => {
                health.record(base, started, Ok((report, problem)));
                Ok(())
            }
            Err(e) => {
                health.record(
                    base,
                    started,
                    Err(format!("storing the scrape failed: {e}")),
                );
                Err(e)
            }
        }
    }

    fn failed(
        &self,
        source: &str,
        at: jiff::Timestamp,
        problem: String,
    ) -> Result<(), ServiceError> {
        tracing::info!(source, error = %problem, "metrics source failed");
        self.services
            .metrics_sources()
            .record(source, at, Err(problem));
        Ok(())
    }

    async fn ingest(
        &self,
        url: &str,
        started: jiff::Timestamp,
        parsed: DcgmScrape,
    ) -> Result<(), ServiceError> {
        let health = self.services.metrics_sources();
        let problem = parsed.problem_summary();
        match self.services.ingest_gpu_readings(parsed.gpus).await {
            Ok(report) => {
                health.record(url, started, Ok((report, problem)));
                Ok(())
            }
            Err(e) => {
                health.record(url, started, Err(format!("storing the scrape failed: {e}")));
                Err(e)
            }
        }
    }
}

/// Whether nvidia-smi is run for the local GPUs: `on` on the local driver;
/// `auto` there too when nvidia-smi found its GPUs and neither a DCGM
/// exporter nor a Prometheus server measures them already.
fn samples_nvidia_smi(services: &Services, config: &MetricsConfig) -> bool {
    let Some(AnyDriver::Local(local)) = services.driver().map(|d| &**d) else {
        return false;
    };
    match config.nvidia_smi {
        NvidiaSmiSampling::On => true,
        NvidiaSmiSampling::Off => false,
        NvidiaSmiSampling::Auto => {
            local.gpus_detected()
                && config.dcgm_endpoints.is_empty()
                && config.prometheus_url.is_none()
        }
    }
}

/// Starts the collector (when a source is configured) and the hourly
/// pruning of minutes past the retention.
pub fn spawn(services: &Services, config: &MetricsConfig) -> Vec<tokio::task::JoinHandle<()>> {
    let mut handles = Vec::new();
    let local = matches!(services.driver().map(|d| &**d), Some(AnyDriver::Local(_)));
    if !config.dcgm_endpoints.is_empty()
        || config.prometheus_url.is_some()
        || !config.cadvisor_endpoints.is_empty()
        || local
    {
        let collector = MetricsCollector::new(services.clone(), config);
        handles.push(super::supervise(
            "metrics",
            config.scrape_interval,
            move || {
                let collector = collector.clone();
                async move { collector.step().await }
            },
        ));
    }
    let pruner = services.clone();
    let retention_days = config.retention_days;
    handles.push(super::supervise(
        "metrics-retention",
        PRUNE_EVERY,
        move || {
            let services = pruner.clone();
            async move { services.prune_metrics(retention_days).await.map(|_| ()) }
        },
    ));
    handles
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rates per source and container: a first reading has none, the
    /// next one is the counter's growth over the seconds between; a
    /// container gone from its source is forgotten, another source's kept.
    #[test]
    fn counters_become_rates_per_source_and_container() {
        let mut previous = BTreeMap::new();
        let a = ContainerOf::Pod("ns".into(), "a".into());
        let cpu = |s: f64| ResourceReading {
            cpu_seconds: Some(s),
            ..ResourceReading::default()
        };
        let first = rates(&mut previous, "x", 0, vec![(a.clone(), cpu(10.0))]);
        assert_eq!(first[0].1.cpu_cores.get(), None);
        rates(&mut previous, "y", 0, vec![(a.clone(), cpu(99.0))]);
        let second = rates(&mut previous, "x", 20_000, vec![(a.clone(), cpu(15.0))]);
        assert_eq!(second[0].1.cpu_cores.get(), Some(0.25));
        rates(&mut previous, "x", 40_000, Vec::new());
        assert_eq!(previous.len(), 1, "only source y's reading is left");
    }
}
