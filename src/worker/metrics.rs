//! The metrics collector: every tick, each DCGM exporter (and the Prometheus
//! server, when one is configured) is asked at once — each bounded by the
//! scrape timeout and size limit, so one source that is down or slow never
//! holds up the others —, its answer parsed, mapped to workloads and stored;
//! each source's outcome goes to the admin status page.

use std::time::Duration;

use futures_util::future::join_all;

use crate::cluster::metrics::dcgm::{self, DcgmScrape, FB_USED, GPU_UTIL};
use crate::cluster::metrics::prometheus;
use crate::cluster::metrics::scrape::Scraper;
use crate::config::MetricsConfig;
use crate::service::{ServiceError, Services};

/// How often minutes past the retention are pruned.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

#[derive(Clone)]
pub struct MetricsCollector {
    services: Services,
    scraper: Scraper,
    endpoints: Vec<String>,
    prometheus: Option<String>,
}

impl MetricsCollector {
    pub fn new(services: Services, config: &MetricsConfig) -> MetricsCollector {
        MetricsCollector {
            services,
            scraper: Scraper::new(
                config.scrape_timeout,
                usize::try_from(config.max_response_bytes).unwrap_or(usize::MAX),
            ),
            endpoints: config.dcgm_endpoints.clone(),
            prometheus: config.prometheus_url.clone(),
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
        let (outcomes, server) = futures_util::future::join(exporters, server).await;
        outcomes.into_iter().collect::<Result<Vec<()>, _>>()?;
        server?;
        self.services.mail_idle_gpus().await?;
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

    /// Asks the Prometheus server at `base` for the GPU fields.
    async fn query_prometheus(&self, base: &str) -> Result<(), ServiceError> {
        let started = self.services.clock.now();
        let (util, mem) = futures_util::future::join(
            self.scraper.fetch(&prometheus::query_url(base, GPU_UTIL)),
            self.scraper.fetch(&prometheus::query_url(base, FB_USED)),
        )
        .await;
        let (util, mem) = match (util, mem) {
            (Ok(util), Ok(mem)) => (util, mem),
            (Err(e), _) | (_, Err(e)) => return self.failed(base, started, e.to_string()),
        };
        match prometheus::readings(&util, &mem) {
            Ok(parsed) => self.ingest(base, started, parsed).await,
            Err(problem) => self.failed(base, started, problem),
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

/// Starts the collector (when a source is configured) and the hourly
/// pruning of minutes past the retention.
pub fn spawn(services: &Services, config: &MetricsConfig) -> Vec<tokio::task::JoinHandle<()>> {
    let mut handles = Vec::new();
    if !config.dcgm_endpoints.is_empty() || config.prometheus_url.is_some() {
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
