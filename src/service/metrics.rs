//! Collecting metrics: one scrape's GPU readings mapped to the workloads
//! holding those GPUs and folded into their minute; the health of every
//! source, for the admin status page; pruning after the retention; a
//! container's minutes for its Monitor tab. Containers' CPU, memory and
//! network (cAdvisor, or the local driver's reading of its processes) are
//! mapped the same way, by pod or by the workload's own cgroup.
//!
//! Mapping: a reading with a pod (DCGM's Kubernetes pod mapping) belongs to
//! the Running container or job of that pod (the namespace names the
//! project, the pod name the workload); one without belongs to the Running
//! local workload holding that GPU (by its UUID in the local driver's
//! inventory, else its index). Everything else is idle capacity.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use jiff::Timestamp;

use super::projects::enqueue_tx;
use super::workloads::stop_idle_container_tx;
use super::{ServiceError, Services};
use crate::cluster::WorkloadKind;
use crate::cluster::any::AnyDriver;
use crate::cluster::metrics::cadvisor::ContainerOf;
use crate::cluster::metrics::{project_of_namespace, workload_names_of_pod};
use crate::domain::ids::{ProjectId, UserId};
use crate::domain::mail::MailKind;
use crate::domain::metrics::{
    Column, GpuReading, IdleRule, MINUTE_MS, MinuteSample, ResourceReading, ResourceSample, Usage,
    columns, hour_of_minute, minute_of_ms, series,
};
use crate::domain::workload::{WorkloadId, WorkloadStatus};
use crate::notify;
use crate::store::users::UserRecord;
use crate::store::workloads::{Desired, WorkloadRecord};
use crate::store::{StoreError, metrics as metric_rows, projects, workloads};

/// What one scrape brought.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IngestReport {
    /// GPUs in the scrape.
    pub gpus: usize,
    /// GPUs held by a Running workload.
    pub mapped_gpus: usize,
    /// Workloads that got a sample.
    pub workloads: usize,
}

impl IngestReport {
    /// GPUs no workload holds: idle capacity.
    pub fn idle_gpus(&self) -> usize {
        self.gpus - self.mapped_gpus
    }
}

/// A workload's chart columns from `start` to `end`.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorColumns {
    pub start: Timestamp,
    pub end: Timestamp,
    pub columns: Vec<Option<Column>>,
    /// CPU in cores, per column.
    pub cpu_cores: Vec<Option<f64>>,
    /// Memory in use in MiB, per column.
    pub memory_mib: Vec<Option<f64>>,
    /// Bytes received and sent per second, per column.
    pub rx_bytes_per_s: Vec<Option<f64>>,
    pub tx_bytes_per_s: Vec<Option<f64>>,
}

/// One container's row of the GPU Utilization Rate page.
#[derive(Debug, Clone, PartialEq)]
pub struct UtilizationRow {
    pub id: WorkloadId,
    pub name: String,
    pub owner: UserId,
    pub usage: Usage,
    /// Running with idle GPUs ([`IdleRule`]).
    pub idle: bool,
}

/// The GPU Utilization Rate report of a project over a period.
#[derive(Debug, Clone, PartialEq)]
pub struct UtilizationReport {
    pub start: Timestamp,
    pub end: Timestamp,
    pub rows: Vec<UtilizationRow>,
}

/// A source's state after its last scrape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceStatus {
    /// The exporter's address.
    pub source: String,
    pub healthy: bool,
    /// Why it is unhealthy (what failed, or what was wrong in its answer).
    pub problem: Option<String>,
    pub last_scrape: Timestamp,
    /// When it last answered well.
    pub last_success: Option<Timestamp>,
    pub report: IngestReport,
}

/// Every source's last state, shared by the collector and the admin page.
#[derive(Debug, Clone, Default)]
pub struct SourceHealth(Arc<Mutex<BTreeMap<String, SourceStatus>>>);

impl SourceHealth {
    /// Records the outcome of a scrape of `source` at `at`.
    pub fn record(
        &self,
        source: &str,
        at: Timestamp,
        outcome: Result<(IngestReport, Option<String>), String>,
    ) {
        let mut all = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let last_success = all.get(source).and_then(|s| s.last_success);
        let status = match outcome {
            Ok((report, problem)) => SourceStatus {
                source: source.to_owned(),
                healthy: problem.is_none(),
                problem,
                last_scrape: at,
                last_success: Some(at),
                report,
            },
            Err(problem) => SourceStatus {
                source: source.to_owned(),
                healthy: false,
                problem: Some(problem),
                last_scrape: at,
                last_success,
                report: IngestReport::default(),
            },
        };
        all.insert(source.to_owned(), status);
    }

    /// Every source, by address.
    pub fn all(&self) -> Vec<SourceStatus> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }
}

/// Requests answered, by status class (1xx … 5xx), for `/metrics`.
#[derive(Debug, Default)]
pub struct RequestCounters([AtomicU64; 5]);

impl RequestCounters {
    pub fn count(&self, status: u16) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.0[class].fetch_add(1, Ordering::Relaxed);
    }

    fn by_class(&self) -> [(String, u64); 5] {
        std::array::from_fn(|i| (format!("{}xx", i + 1), self.0[i].load(Ordering::Relaxed)))
    }
}

/// A label value in the exposition format: `\`, `"` and line breaks
/// escaped.
fn label_value(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// One metric family in the Prometheus text format.
fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, f64)]) {
    out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
    for (labels, value) in samples {
        if labels.is_empty() {
            out.push_str(&format!("{name} {value}\n"));
        } else {
            out.push_str(&format!("{name}{{{labels}}} {value}\n"));
        }
    }
}

/// Who holds which GPU now: the Running workloads' pods and local devices.
#[derive(Debug, Default)]
struct Holders {
    by_name: BTreeMap<(ProjectId, String), (WorkloadId, WorkloadKind)>,
    by_index: BTreeMap<u32, WorkloadId>,
    running: std::collections::BTreeSet<WorkloadId>,
}

impl Holders {
    fn of(records: &[WorkloadRecord]) -> Holders {
        let mut holders = Holders::default();
        for record in records
            .iter()
            .filter(|r| r.status() == WorkloadStatus::Running)
        {
            holders.running.insert(record.id());
            if let Some(name) = record.spec.name() {
                holders.by_name.insert(
                    (record.spec.project(), name.to_owned()),
                    (record.id(), record.spec.kind()),
                );
            }
            for index in record.observed.iter().flat_map(|o| &o.gpus) {
                holders.by_index.insert(*index, record.id());
            }
        }
        holders
    }

    fn holder_of(&self, reading: &GpuReading) -> Option<WorkloadId> {
        match &reading.pod {
            Some((namespace, pod)) => self.pod_holder(namespace, pod),
            None => self.by_index.get(&reading.index).copied(),
        }
    }

    /// The Running container or job of a pod of the kube driver.
    fn pod_holder(&self, namespace: &str, pod: &str) -> Option<WorkloadId> {
        let project = project_of_namespace(namespace)?;
        let (container, job) = workload_names_of_pod(pod);
        let find = |name: Option<&str>, kind: WorkloadKind| {
            name.and_then(|n| self.by_name.get(&(project, n.to_owned())))
                .filter(|(_, k)| *k == kind)
                .map(|(id, _)| *id)
        };
        find(container, WorkloadKind::Container).or_else(|| find(job, WorkloadKind::Job))
    }

    /// The Running workload a container of cAdvisor's belongs to.
    fn container_holder(&self, of: &ContainerOf) -> Option<WorkloadId> {
        match of {
            ContainerOf::Pod(namespace, pod) => self.pod_holder(namespace, pod),
            ContainerOf::Workload(id) => self.running.contains(id).then_some(*id),
        }
    }
}

/// Each workload's sample of one scrape, and how many GPUs were mapped.
fn samples_of(
    records: &[WorkloadRecord],
    readings: &[GpuReading],
) -> (Vec<(WorkloadId, MinuteSample)>, usize) {
    let holders = Holders::of(records);
    let mut held: BTreeMap<WorkloadId, Vec<&GpuReading>> = BTreeMap::new();
    let mut mapped = 0;
    for reading in readings {
        if let Some(id) = holders.holder_of(reading) {
            held.entry(id).or_default().push(reading);
            mapped += 1;
        }
    }
    let samples = held
        .into_iter()
        .filter_map(|(id, readings)| MinuteSample::of_readings(&readings).map(|s| (id, s)))
        .collect();
    (samples, mapped)
}

impl Services {
    /// The health of every metrics source, shared with the collector.
    pub fn metrics_sources(&self) -> &SourceHealth {
        &self.metrics_sources
    }

    /// Maps one scrape's readings to workloads and folds them into the
    /// current minute, in one transaction.
    pub async fn ingest_gpu_readings(
        &self,
        mut readings: Vec<GpuReading>,
    ) -> Result<IngestReport, ServiceError> {
        let minute = minute_of_ms(self.clock.now().as_millisecond());
        // On the local driver a GPU is known by its UUID first: an index
        // could name another card after the driver renumbered them.
        if let Some(AnyDriver::Local(local)) = self.driver().map(|d| &**d) {
            let inventory = local.gpus();
            for reading in readings.iter_mut().filter(|r| r.pod.is_none()) {
                if let Some(gpu) = inventory
                    .iter()
                    .find(|g| g.uuid.as_deref() == Some(reading.uuid.as_str()))
                {
                    reading.index = gpu.index;
                }
            }
        }
        self.blocking(move |store| {
            let records = store.read(workloads::all_read_tx)?;
            let (samples, mapped_gpus) = samples_of(&records, &readings);
            store.write(|tx| metric_rows::record_scrape_tx(tx, minute, &samples))?;
            Ok(IngestReport {
                gpus: readings.len(),
                mapped_gpus,
                workloads: samples.len(),
            })
        })
        .await
    }

    /// Maps one scrape's container samples (CPU, memory, network) to the
    /// Running workloads they belong to and folds them into the current
    /// minute, in one transaction. Returns how many workloads got one.
    pub async fn ingest_usage(
        &self,
        samples: Vec<(ContainerOf, ResourceSample)>,
    ) -> Result<usize, ServiceError> {
        let minute = minute_of_ms(self.clock.now().as_millisecond());
        self.blocking(move |store| {
            let records = store.read(workloads::all_read_tx)?;
            let holders = Holders::of(&records);
            let mut by_workload: BTreeMap<WorkloadId, ResourceSample> = BTreeMap::new();
            for (of, sample) in samples.iter().filter(|(_, s)| !s.is_empty()) {
                if let Some(id) = holders.container_holder(of) {
                    let merged = by_workload.entry(id).or_default();
                    *merged = merged.merged(*sample);
                }
            }
            let rows: Vec<(WorkloadId, ResourceSample)> = by_workload.into_iter().collect();
            store.write(|tx| metric_rows::record_usage_tx(tx, minute, &rows))?;
            Ok(rows.len())
        })
        .await
    }

    /// What the local driver reads of each Running workload's processes
    /// (nothing on another driver).
    pub async fn local_resource_readings(
        &self,
    ) -> Result<Vec<(ContainerOf, ResourceReading)>, ServiceError> {
        let Some(AnyDriver::Local(local)) = self.driver().map(|d| &**d) else {
            return Ok(Vec::new());
        };
        let local = local.clone();
        self.blocking(move |store| {
            let records = store.read(workloads::all_read_tx)?;
            Ok(records
                .iter()
                .filter(|r| r.status() == WorkloadStatus::Running)
                .filter_map(|r| {
                    let reading = local.resource_reading(r.id())?;
                    Some((ContainerOf::Workload(r.id()), reading))
                })
                .collect())
        })
        .await
    }

    /// A workload's minutes over the last `hours` (the caller checked the
    /// permission to view it), in chart columns.
    pub async fn monitor_columns(
        &self,
        id: WorkloadId,
        hours: u32,
    ) -> Result<MonitorColumns, ServiceError> {
        let now = self.clock.now();
        let to = minute_of_ms(now.as_millisecond()) + 1;
        let from = to.saturating_sub(u64::from(hours) * 60);
        let (minutes, usage) = self
            .blocking(move |store| {
                Ok(store.read(|tx| {
                    Ok::<_, StoreError>((
                        metric_rows::minutes_read_tx(tx, id, from..=to)?,
                        metric_rows::usage_read_tx(tx, id, from..=to)?,
                    ))
                })?)
            })
            .await?;
        let at = |minute: u64| {
            Timestamp::from_millisecond(
                i64::try_from(minute).unwrap_or(0).saturating_mul(MINUTE_MS),
            )
            .unwrap_or(now)
        };
        Ok(MonitorColumns {
            start: at(from),
            end: at(to),
            columns: columns(&minutes, from, to),
            cpu_cores: series(&usage, from, to, |s| s.cpu_cores.get()),
            memory_mib: series(&usage, from, to, |s| s.memory_mib.get()),
            rx_bytes_per_s: series(&usage, from, to, |s| s.rx_bytes_per_s.get()),
            tx_bytes_per_s: series(&usage, from, to, |s| s.tx_bytes_per_s.get()),
        })
    }

    /// The GPU Utilization Rate report of `project` over the last `days`
    /// (whole hours, the current one included): each container `viewer`
    /// may see (members their own, managers and admins all), newest first.
    pub async fn gpu_utilization(
        &self,
        viewer: &UserRecord,
        project: ProjectId,
        days: u32,
    ) -> Result<UtilizationReport, ServiceError> {
        let records = self.project_workloads(viewer, project).await?;
        let now = self.clock.now();
        let to_hour = hour_of_minute(minute_of_ms(now.as_millisecond()));
        let from_hour = (to_hour + 1).saturating_sub(u64::from(days) * 24);
        let containers: Vec<(WorkloadId, String, UserId, bool)> = records
            .iter()
            .filter(|r| r.spec.kind() == WorkloadKind::Container)
            .filter_map(|r| {
                let running = r.status() == WorkloadStatus::Running;
                Some((r.id(), r.spec.name()?.to_owned(), r.spec.owner(), running))
            })
            .collect();
        let rule = self.idle_rule;
        let now_minute = minute_of_ms(now.as_millisecond());
        let window = now_minute.saturating_sub(rule.window_minutes)..=now_minute;
        let rows = self
            .blocking(move |store| {
                Ok(store.read(|tx| {
                    containers
                        .iter()
                        .cloned()
                        .map(|(id, name, owner, running)| {
                            let hours = metric_rows::hours_read_tx(tx, id, from_hour..=to_hour)?;
                            let idle = running && {
                                let recent = metric_rows::minutes_read_tx(tx, id, window.clone())?;
                                rule.is_idle(&recent, now_minute)
                            };
                            Ok(UtilizationRow {
                                id,
                                name,
                                owner,
                                usage: Usage::of_rollups(hours.iter().map(|(_, h)| h)),
                                idle,
                            })
                        })
                        .collect::<Result<Vec<_>, StoreError>>()
                })?)
            })
            .await?;
        let at = |hour: u64| {
            Timestamp::from_millisecond(
                i64::try_from(hour * 60)
                    .unwrap_or(0)
                    .saturating_mul(MINUTE_MS),
            )
            .unwrap_or(now)
        };
        Ok(UtilizationReport {
            start: at(from_hour),
            end: now,
            rows,
        })
    }

    /// Sets when a container's GPUs count as idle (`[metrics]`).
    pub fn with_idle_rule(mut self, rule: IdleRule) -> Self {
        self.idle_rule = rule;
        self
    }

    /// When a container's GPUs count as idle.
    pub fn idle_rule(&self) -> IdleRule {
        self.idle_rule
    }

    /// Requests answered, counted by the request log.
    pub fn request_counters(&self) -> &RequestCounters {
        &self.request_counters
    }

    /// mlstack's own metrics in the Prometheus text format (for `/metrics`):
    /// HTTP requests, the store's size, the reconcile loop's backlog, each
    /// metrics source's health and the workloads by kind and status.
    pub async fn prometheus_text(&self) -> Result<String, ServiceError> {
        let now = self.clock.now();
        let (by_status, due, store_bytes) = self
            .blocking(move |store| {
                let (records, due) = store.read(|tx| {
                    Ok::<_, StoreError>((
                        workloads::all_read_tx(tx)?,
                        workloads::due_read_tx(tx, now, usize::MAX)?.len(),
                    ))
                })?;
                let mut by_status: BTreeMap<(&'static str, &'static str), u64> = BTreeMap::new();
                for record in &records {
                    let kind = match record.spec.kind() {
                        WorkloadKind::Container => "container",
                        WorkloadKind::Job => "job",
                        WorkloadKind::ImageCommit => "image_commit",
                    };
                    *by_status.entry((kind, record.status().code())).or_default() += 1;
                }
                let store_bytes = std::fs::metadata(store.path()).map_or(0, |m| m.len());
                Ok((by_status, due, store_bytes))
            })
            .await?;
        let mut out = String::new();
        let requests: Vec<(String, f64)> = self
            .request_counters
            .by_class()
            .into_iter()
            .map(|(class, n)| (format!("class=\"{class}\""), n as f64))
            .collect();
        family(
            &mut out,
            "mlstack_http_requests_total",
            "counter",
            "HTTP requests answered, by status class.",
            &requests,
        );
        family(
            &mut out,
            "mlstack_store_size_bytes",
            "gauge",
            "Size of the store file.",
            &[(String::new(), store_bytes as f64)],
        );
        family(
            &mut out,
            "mlstack_reconcile_due_workloads",
            "gauge",
            "Workloads whose desired state the reconcile loop has yet to apply.",
            &[(String::new(), due as f64)],
        );
        let sources = self.metrics_sources.all();
        let up: Vec<(String, f64)> = sources
            .iter()
            .map(|s| {
                (
                    format!("source=\"{}\"", label_value(&s.source)),
                    if s.healthy { 1.0 } else { 0.0 },
                )
            })
            .collect();
        family(
            &mut out,
            "mlstack_metrics_source_up",
            "gauge",
            "Whether the metrics source's last scrape was healthy.",
            &up,
        );
        let idle: Vec<(String, f64)> = sources
            .iter()
            .map(|s| {
                (
                    format!("source=\"{}\"", label_value(&s.source)),
                    s.report.idle_gpus() as f64,
                )
            })
            .collect();
        family(
            &mut out,
            "mlstack_metrics_source_idle_gpus",
            "gauge",
            "GPUs of the source's last scrape that no workload holds.",
            &idle,
        );
        let workloads: Vec<(String, f64)> = by_status
            .into_iter()
            .map(|((kind, status), n)| (format!("kind=\"{kind}\",status=\"{status}\""), n as f64))
            .collect();
        family(
            &mut out,
            "mlstack_workloads",
            "gauge",
            "Workloads by kind and status.",
            &workloads,
        );
        Ok(out)
    }

    /// Mails the owner of each Running container whose GPUs became idle
    /// ([`IdleRule`]), once per idle spell: again only after they were busy
    /// (the spells are remembered by this process; a restart may mail once
    /// more). Returns how many mails were queued.
    pub async fn mail_idle_gpus(&self) -> Result<usize, ServiceError> {
        let rule = self.idle_rule;
        let now = self.clock.now();
        let now_minute = minute_of_ms(now.as_millisecond());
        let window = now_minute.saturating_sub(rule.window_minutes)..=now_minute;
        let catalog = self.catalog.clone();
        let mailed = self.idle_mailed.clone();
        self.blocking(move |store| {
            let idle: Vec<WorkloadRecord> = store.read(|tx| {
                let mut idle = Vec::new();
                for record in workloads::all_read_tx(tx)? {
                    if record.spec.kind() != WorkloadKind::Container
                        || record.status() != WorkloadStatus::Running
                    {
                        continue;
                    }
                    let recent = metric_rows::minutes_read_tx(tx, record.id(), window.clone())?;
                    if rule.is_idle(&recent, now_minute) {
                        idle.push(record);
                    }
                }
                Ok::<_, StoreError>(idle)
            })?;
            let mut mailed = mailed.lock().unwrap_or_else(PoisonError::into_inner);
            mailed.retain(|id| idle.iter().any(|r| r.id() == *id));
            let fresh: Vec<&WorkloadRecord> =
                idle.iter().filter(|r| !mailed.contains(&r.id())).collect();
            if fresh.is_empty() {
                return Ok(0);
            }
            let threshold = format!("{}", rule.threshold_pct);
            let minutes = rule.window_minutes.to_string();
            store.write(|tx| {
                for record in &fresh {
                    let project = projects::get_tx(tx, record.spec.project())?
                        .map(|p| p.name)
                        .unwrap_or_default();
                    let name = record.spec.name().unwrap_or_default().to_owned();
                    enqueue_tx(
                        tx,
                        &catalog,
                        record.spec.owner(),
                        MailKind::GpusIdle,
                        now,
                        |tr| notify::gpus_idle(tr, &name, &project, &threshold, &minutes),
                    )?;
                }
                Ok::<_, StoreError>(())
            })?;
            mailed.extend(fresh.iter().map(|r| r.id()));
            Ok(fresh.len())
        })
        .await
    }

    /// Stops the Running containers whose GPUs stayed idle for their
    /// project's automatic stop (an admin's setting, off by default): every
    /// measured minute of the last that many hours below the idle threshold
    /// ([`IdleRule`]). Each goes through the normal stop (its quota given
    /// back, an `IdleStopped` event) and its owner is mailed, in one
    /// transaction per container. Returns how many were stopped.
    pub async fn stop_idle_containers(&self) -> Result<usize, ServiceError> {
        let threshold = self.idle_rule.threshold_pct;
        let now = self.clock.now();
        let now_minute = minute_of_ms(now.as_millisecond());
        let catalog = self.catalog.clone();
        let stopped = self
            .blocking(move |store| {
                let idle: Vec<(WorkloadRecord, String, u32)> = store.read(|tx| {
                    let mut idle = Vec::new();
                    for project in projects::all_read_tx(tx)? {
                        let Some(hours) = project.auto_stop_idle_hours else {
                            continue;
                        };
                        let rule = IdleRule {
                            threshold_pct: threshold,
                            window_minutes: u64::from(hours) * 60,
                        };
                        let window = now_minute.saturating_sub(rule.window_minutes)..=now_minute;
                        for record in workloads::of_project_read_tx(tx, project.id)? {
                            if record.spec.kind() != WorkloadKind::Container
                                || record.status() != WorkloadStatus::Running
                                || record.desired != Desired::Running
                            {
                                continue;
                            }
                            let recent =
                                metric_rows::minutes_read_tx(tx, record.id(), window.clone())?;
                            if rule.is_idle(&recent, now_minute) {
                                idle.push((record, project.name.clone(), hours));
                            }
                        }
                    }
                    Ok::<_, StoreError>(idle)
                })?;
                let mut stopped = 0;
                for (record, project, hours) in idle {
                    let name = record.spec.name().unwrap_or_default().to_owned();
                    let message = format!(
                        "stopped automatically: its GPUs stayed below {threshold}% for {hours} h"
                    );
                    let changed = store.write(|tx| {
                        if !stop_idle_container_tx(tx, record.id(), now, message)? {
                            return Ok::<_, StoreError>(false);
                        }
                        enqueue_tx(
                            tx,
                            &catalog,
                            record.spec.owner(),
                            MailKind::GpusIdle,
                            now,
                            |tr| {
                                notify::idle_container_stopped(
                                    tr,
                                    &name,
                                    &project,
                                    &threshold.to_string(),
                                    &hours.to_string(),
                                )
                            },
                        )?;
                        Ok(true)
                    })?;
                    stopped += usize::from(changed);
                }
                Ok(stopped)
            })
            .await?;
        if stopped > 0 {
            self.wake_reconciler();
        }
        Ok(stopped)
    }

    /// Deletes the minutes older than `retention_days`; hourly rollups stay.
    pub async fn prune_metrics(&self, retention_days: u64) -> Result<u64, ServiceError> {
        let now = self.clock.now().as_millisecond();
        let keep_ms = i64::try_from(retention_days)
            .unwrap_or(i64::MAX / MINUTE_MS)
            .saturating_mul(24 * 60 * MINUTE_MS);
        let before = minute_of_ms(now.saturating_sub(keep_ms));
        self.blocking(move |store| Ok(store.write(|tx| metric_rows::prune_minutes_tx(tx, before))?))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::Observed;
    use crate::cluster::metrics::namespace_name;
    use crate::domain::workload::{
        ContainerSpec, ImageRef, JobSpec, Resources, SshAccess, WorkloadMeta,
    };
    use crate::store::workloads::{Desired, WorkloadSpec};

    fn record(
        kind: WorkloadKind,
        project: ProjectId,
        name: &str,
        gpus: Vec<u32>,
        status: WorkloadStatus,
    ) -> WorkloadRecord {
        let id = WorkloadId::generate();
        let meta = WorkloadMeta {
            id,
            project,
            owner: UserId::generate(),
            name: name.to_owned(),
        };
        let image = ImageRef {
            name: "cuda".into(),
            tag: "12".into(),
        };
        let resources = Resources {
            cpu_milli: 1000,
            ram_mib: 1024,
            shm_mib: 0,
            gpu: None,
        };
        let spec = match kind {
            WorkloadKind::Job => WorkloadSpec::Job(JobSpec {
                meta,
                image,
                command: "train".into(),
                env: BTreeMap::new(),
                resources,
                volumes: Vec::new(),
                time_limit_secs: None,
                origin: Default::default(),
            }),
            _ => WorkloadSpec::Container(ContainerSpec {
                meta,
                image,
                command: None,
                env: BTreeMap::new(),
                resources,
                volumes: Vec::new(),
                services: Vec::new(),
                ssh: SshAccess::None,
                start_at: None,
                end_at: None,
            }),
        };
        let now = Timestamp::UNIX_EPOCH;
        WorkloadRecord {
            spec,
            desired: Desired::Running,
            generation: 1,
            observed: Some(Observed {
                id,
                status,
                endpoints: Vec::new(),
                gpus,
                started_at: None,
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

    fn reading(index: u32, pod: Option<(&str, &str)>, util: f64) -> GpuReading {
        GpuReading {
            host: "node".into(),
            uuid: format!("GPU-{index}"),
            index,
            pod: pod.map(|(n, p)| (n.to_owned(), p.to_owned())),
            util_pct: Some(util),
            mem_used_mib: Some(1000.0),
        }
    }

    #[test]
    fn kube_pods_map_to_their_container_or_job() {
        let project = ProjectId::generate();
        let ns = namespace_name(project);
        let train = record(
            WorkloadKind::Container,
            project,
            "train",
            vec![],
            WorkloadStatus::Running,
        );
        let eval = record(
            WorkloadKind::Job,
            project,
            "eval",
            vec![],
            WorkloadStatus::Running,
        );
        let stopped = record(
            WorkloadKind::Container,
            project,
            "old",
            vec![],
            WorkloadStatus::Stopped,
        );
        let records = vec![train.clone(), eval.clone(), stopped];
        let readings = vec![
            reading(0, Some((&ns, "train-7d9f8c6b5-x2k4q")), 80.0),
            reading(1, Some((&ns, "train-7d9f8c6b5-x2k4q")), 40.0),
            reading(2, Some((&ns, "eval-abcde")), 10.0),
            // A stopped container's pod, another project's, a foreign
            // namespace and no pod at all: idle capacity.
            reading(3, Some((&ns, "old-7d9f8c6b5-x2k4q")), 99.0),
            reading(
                4,
                Some((
                    &namespace_name(ProjectId::generate()),
                    "train-7d9f8c6b5-x2k4q",
                )),
                99.0,
            ),
            reading(5, Some(("kube-system", "train-7d9f8c6b5-x2k4q")), 99.0),
            reading(6, None, 0.0),
        ];
        let (samples, mapped) = samples_of(&records, &readings);
        assert_eq!(mapped, 3);
        let by_id: BTreeMap<_, _> = samples.into_iter().collect();
        assert_eq!(by_id.len(), 2);
        assert_eq!(by_id[&train.id()].gpus, 2);
        assert_eq!(by_id[&train.id()].gpu_util_pct, 60.0);
        assert_eq!(by_id[&train.id()].gpu_mem_mib, 2000.0);
        assert_eq!(by_id[&eval.id()].gpu_util_pct, 10.0);
    }

    #[test]
    fn local_gpus_map_by_index_to_the_workload_holding_them() {
        let project = ProjectId::generate();
        let a = record(
            WorkloadKind::Container,
            project,
            "a",
            vec![0, 2],
            WorkloadStatus::Running,
        );
        let b = record(
            WorkloadKind::Job,
            project,
            "b",
            vec![1],
            WorkloadStatus::Running,
        );
        let ended = record(
            WorkloadKind::Job,
            project,
            "c",
            vec![3],
            WorkloadStatus::Succeeded,
        );
        let readings: Vec<GpuReading> = (0..4)
            .map(|i| reading(i, None, f64::from(i) * 10.0))
            .collect();
        let (samples, mapped) = samples_of(&[a.clone(), b.clone(), ended], &readings);
        assert_eq!(mapped, 3, "GPU 3 is idle: its job ended");
        let by_id: BTreeMap<_, _> = samples.into_iter().collect();
        assert_eq!(by_id[&a.id()].gpus, 2);
        assert_eq!(by_id[&a.id()].gpu_util_pct, 10.0);
        assert_eq!(by_id[&b.id()].gpu_util_pct, 10.0);
    }

    #[test]
    fn a_source_keeps_its_last_success_when_it_fails() {
        let health = SourceHealth::default();
        let t1 = Timestamp::from_second(100).expect("time");
        let t2 = Timestamp::from_second(115).expect("time");
        health.record("http://a/metrics", t1, Ok((IngestReport::default(), None)));
        health.record("http://a/metrics", t2, Err("no answer within 5s".into()));
        let all = health.all();
        assert_eq!(all.len(), 1);
        assert!(!all[0].healthy);
        assert_eq!(all[0].last_success, Some(t1));
        assert_eq!(all[0].problem.as_deref(), Some("no answer within 5s"));
    }

    #[test]
    fn label_values_are_escaped_and_requests_counted_by_class() {
        assert_eq!(label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        let counters = RequestCounters::default();
        for status in [200, 204, 302, 404, 500, 999] {
            counters.count(status);
        }
        let classes = counters.by_class();
        assert_eq!(classes[1], ("2xx".to_owned(), 2));
        assert_eq!(classes[3], ("4xx".to_owned(), 1));
        assert_eq!(classes[4], ("5xx".to_owned(), 2));
    }
}
