//! cAdvisor output (the Prometheus text exposition format, from cAdvisor
//! itself or the kubelet's `/metrics/cadvisor`) read into one
//! [`ResourceReading`] per container: CPU seconds, memory working set,
//! network bytes received and sent.
//!
//! A container is named by its pod (`namespace` and `pod` labels, or
//! cAdvisor's own `container_label_io_kubernetes_pod_*`), else by its
//! cgroup (`id` label) when that is a local workload's `mlstack-<id>`.
//! A pod's own cgroup (`container=""`) is its total; without one, its
//! containers are added up, the `POD` sandbox left out. CPU is per CPU in
//! older cAdvisor (added up) or one `cpu="total"` series; network is per
//! interface (added up). Malformed lines, invalid values and duplicate
//! series are left out and named, which marks the source unhealthy. A
//! Prometheus server's answers (`prometheus.rs`) are added up the same way;
//! there the pod labels may arrive as `exported_namespace` and
//! `exported_pod` (Prometheus renames labels that collide with its
//! target's), which are preferred.

use std::collections::{BTreeMap, BTreeSet};

use prometheus_parse::LineInfo;

use super::dcgm::{label_text, parse_labels};
use crate::domain::metrics::ResourceReading;
use crate::domain::workload::WorkloadId;

pub const CPU_SECONDS: &str = "container_cpu_usage_seconds_total";
pub const WORKING_SET: &str = "container_memory_working_set_bytes";
pub const RX_BYTES: &str = "container_network_receive_bytes_total";
pub const TX_BYTES: &str = "container_network_transmit_bytes_total";

/// How many problems are kept (the rest are counted).
const PROBLEMS_KEPT: usize = 5;

/// Whose container a series is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ContainerOf {
    /// A Kubernetes pod: (namespace, pod name).
    Pod(String, String),
    /// A local workload's own cgroup.
    Workload(WorkloadId),
}

/// What one scrape said of each container, and what was wrong with it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CadvisorScrape {
    pub containers: Vec<(ContainerOf, ResourceReading)>,
    pub problems: Vec<String>,
    pub more_problems: usize,
}

impl CadvisorScrape {
    fn note(&mut self, text: String) {
        if self.problems.len() < PROBLEMS_KEPT {
            self.problems.push(text);
        } else {
            self.more_problems += 1;
        }
    }

    /// The problems in one line, for the source's status.
    pub fn problem_summary(&self) -> Option<String> {
        if self.problems.is_empty() {
            return None;
        }
        let mut text = self.problems.join("; ");
        if self.more_problems > 0 {
            text.push_str(&format!(" (and {} more)", self.more_problems));
        }
        Some(text)
    }
}

/// The container a series belongs to, from its labels.
fn container_of(labels: &BTreeMap<String, String>) -> Option<ContainerOf> {
    let pick = |a: &str, b: &str| {
        labels
            .get(a)
            .or_else(|| labels.get(b))
            .filter(|v| !v.is_empty())
    };
    let namespace = pick("exported_namespace", "namespace")
        .or_else(|| pick("container_label_io_kubernetes_pod_namespace", ""));
    let pod =
        pick("exported_pod", "pod").or_else(|| pick("container_label_io_kubernetes_pod_name", ""));
    if let (Some(ns), Some(pod)) = (namespace, pod) {
        return Some(ContainerOf::Pod(ns.clone(), pod.clone()));
    }
    let cgroup = labels.get("id")?.trim_end_matches('/');
    let last = cgroup.rsplit('/').next()?;
    let id = last.strip_prefix("mlstack-")?.trim_end_matches(".scope");
    id.parse().ok().map(ContainerOf::Workload)
}

/// The series of one or more scrapes added up per container: a pod's own
/// cgroup (`container=""`) is its total, else its containers are added
/// up (the `POD` sandbox left out); per-CPU and per-interface series are
/// added up. Shared by cAdvisor's text and a Prometheus server's answers.
#[derive(Debug, Default)]
pub(crate) struct Containers {
    /// (container, metric) -> sums of the series of each kind: [a pod's own
    /// cgroup with CPU total, the same per CPU, its containers with CPU
    /// total, the same per CPU] (a series without CPUs counts as a total).
    sums: BTreeMap<(ContainerOf, &'static str), [Option<f64>; 4]>,
}

impl Containers {
    /// Adds one series' value of `metric` (one of the four this module
    /// reads); a series of no workload of ours is left out.
    pub(crate) fn add(
        &mut self,
        metric: &'static str,
        labels: &BTreeMap<String, String>,
        value: f64,
    ) {
        let Some(container) = container_of(labels) else {
            return;
        };
        let inner = labels
            .get("exported_container")
            .or_else(|| labels.get("container"))
            .or_else(|| labels.get("container_label_io_kubernetes_container_name"));
        if inner.is_some_and(|c| c == "POD") {
            return;
        }
        let whole_pod =
            matches!(container, ContainerOf::Pod(..)) && inner.is_some_and(String::is_empty);
        let per_cpu = labels.get("cpu").is_some_and(|c| c != "total");
        let kind = usize::from(!whole_pod) * 2 + usize::from(per_cpu);
        let slot = &mut self.sums.entry((container, metric)).or_default()[kind];
        *slot = Some(slot.unwrap_or(0.0) + value);
    }

    /// One reading per container.
    pub(crate) fn readings(self) -> Vec<(ContainerOf, ResourceReading)> {
        let mut readings: BTreeMap<ContainerOf, ResourceReading> = BTreeMap::new();
        for ((container, metric), [pod, pod_cpus, parts, part_cpus]) in self.sums {
            let value = pod.or(pod_cpus).or(parts.or(part_cpus));
            let reading = readings.entry(container).or_default();
            match metric {
                CPU_SECONDS => reading.cpu_seconds = value,
                WORKING_SET => reading.memory_bytes = value,
                RX_BYTES => reading.rx_bytes = value,
                _ => reading.tx_bytes = value,
            }
        }
        readings.into_iter().collect()
    }
}

/// Which of the four metrics `name` is.
pub(crate) fn metric_named(name: &str) -> Option<&'static str> {
    [CPU_SECONDS, WORKING_SET, RX_BYTES, TX_BYTES]
        .into_iter()
        .find(|m| *m == name)
}

/// Reads a cAdvisor scrape.
pub fn parse(text: &str) -> CadvisorScrape {
    let mut scrape = CadvisorScrape::default();
    let mut containers = Containers::default();
    let mut seen: BTreeSet<(&'static str, String)> = BTreeSet::new();
    for (number, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (name, has_labels, value) = match LineInfo::parse(trimmed) {
            LineInfo::Sample {
                metric_name,
                labels,
                value,
                ..
            } => (metric_name, labels.is_some(), value),
            _ => {
                scrape.note(format!("line {}: not a sample", number + 1));
                continue;
            }
        };
        let Some(metric) = metric_named(name) else {
            continue;
        };
        let labels = if has_labels {
            match label_text(trimmed).and_then(parse_labels) {
                Ok(labels) => labels,
                Err(e) => {
                    scrape.note(format!("line {}: {e}", number + 1));
                    continue;
                }
            }
        } else {
            BTreeMap::new()
        };
        if container_of(&labels).is_none() {
            continue;
        }
        let series: String = labels.iter().map(|(k, v)| format!("{k}={v:?},")).collect();
        if !seen.insert((metric, series)) {
            scrape.note(format!(
                "line {}: a {metric} series reported twice; the first kept",
                number + 1
            ));
            continue;
        }
        let Some(value) = value
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
        else {
            scrape.note(format!(
                "line {}: {metric} is {value:?}, not a valid value",
                number + 1
            ));
            continue;
        };
        containers.add(metric, &labels, value);
    }
    scrape.containers = containers.readings();
    scrape
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str =
        include_str!("../../../tests/fixtures/cadvisor/cadvisor-testdata-prometheus_metrics.txt");

    /// cAdvisor's own golden output, as it is: its one container is not a
    /// workload of ours (its cgroup is `testcontainer`), so nothing maps;
    /// with its cgroup renamed to a local workload's, the per-CPU seconds
    /// add up, and memory and network are read.
    #[test]
    fn the_golden_output_is_read_per_container() {
        let scrape = parse(FIXTURE);
        assert_eq!(scrape.problems, Vec::<String>::new());
        assert!(scrape.containers.is_empty());
        let id = WorkloadId::generate();
        let text = FIXTURE.replace(
            "id=\"testcontainer\"",
            &format!("id=\"/system.slice/mlstack-{id}\""),
        );
        let scrape = parse(&text);
        assert_eq!(scrape.problems, Vec::<String>::new());
        assert_eq!(scrape.containers.len(), 1);
        let (of, reading) = &scrape.containers[0];
        assert_eq!(*of, ContainerOf::Workload(id));
        let cpu = reading.cpu_seconds.expect("cpu");
        assert!((cpu - 1.4e-8).abs() < 1e-15, "2+3+4+5 ns: {cpu}");
        assert_eq!(reading.memory_bytes, Some(9.0));
        assert_eq!(reading.rx_bytes, Some(14.0));
        assert_eq!(reading.tx_bytes, Some(18.0));
    }

    /// The kubelet's labels: a pod's own cgroup is its total (its
    /// containers and the POD sandbox are not added again); a pod without
    /// one adds its containers up. Bad values and duplicates are named.
    #[test]
    fn kubelet_pods_and_bad_lines() {
        let text = r#"
container_cpu_usage_seconds_total{container="",cpu="total",namespace="mlstack-p",pod="train-1"} 10 1700000000000
container_cpu_usage_seconds_total{container="main",cpu="total",namespace="mlstack-p",pod="train-1"} 9
container_cpu_usage_seconds_total{container="POD",cpu="total",namespace="mlstack-p",pod="train-1"} 1
container_memory_working_set_bytes{container="a",namespace="mlstack-p",pod="eval-2"} 100
container_memory_working_set_bytes{container="b",namespace="mlstack-p",pod="eval-2"} 50
container_memory_working_set_bytes{container="b",namespace="mlstack-p",pod="eval-2"} 70
container_network_receive_bytes_total{interface="eth0",namespace="mlstack-p",pod="eval-2"} NaN
container_network_transmit_bytes_total{interface="eth0",namespace="mlstack-p",pod="eval-2"} +Inf
container_network_transmit_bytes_total{interface="eth0",namespace="mlstack-p",pod="eval-2" 5
"#;
        let scrape = parse(text);
        let by: BTreeMap<_, _> = scrape.containers.iter().cloned().collect();
        let train = by[&ContainerOf::Pod("mlstack-p".into(), "train-1".into())];
        assert_eq!(train.cpu_seconds, Some(10.0));
        let eval = by[&ContainerOf::Pod("mlstack-p".into(), "eval-2".into())];
        assert_eq!(eval.memory_bytes, Some(150.0));
        assert_eq!(eval.rx_bytes, None);
        assert_eq!(scrape.problems.len(), 4, "{:?}", scrape.problems);
        assert!(scrape.problems[0].contains("reported twice"));
        assert!(scrape.problem_summary().is_some_and(|p| p.contains("NaN")));
    }
}
