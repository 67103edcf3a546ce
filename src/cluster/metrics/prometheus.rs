//! A Prometheus server as a metrics source: its query API
//! (`/api/v1/query`) asked for the DCGM fields, the instant vectors read into
//! GPU readings; and for the containers' CPU, memory and network (the
//! cAdvisor series it scrapes from kubelets or cAdvisor), added up per
//! container as `cadvisor.rs` does.
//!
//! The counters are asked as rates (`irate` over [`RATE_WINDOW`]): the
//! last two samples Prometheus holds, with their own scrape times, and a
//! counter that went down (a restarted container) counted from zero — the
//! server knows when it scraped, mlstack only when it asked.
//!
//! Prometheus adds the scrape target's own labels; when the exporter's pod
//! mapping labels collide with them they arrive as `exported_pod` and
//! `exported_namespace`, which are preferred.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::cadvisor::{self, ContainerOf, Containers};
use super::dcgm::{DcgmScrape, FB_USED, GPU_UTIL};
use crate::domain::metrics::{GpuReading, Mean, ResourceSample};

#[derive(Debug, Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    error: Option<String>,
    data: Option<Data>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    result_type: String,
    result: Vec<Series>,
}

#[derive(Debug, Deserialize)]
struct Series {
    metric: BTreeMap<String, String>,
    /// `[timestamp, "value"]`.
    value: (serde_json::Value, String),
}

/// The query address of the PromQL expression `query` on the server at
/// `base` (`http://prometheus:9090`).
pub fn query_url(base: &str, query: &str) -> String {
    let encoded = serde_urlencoded::to_string([("query", query)]).unwrap_or_default();
    format!("{}/api/v1/query?{encoded}", base.trim_end_matches('/'))
}

/// The range the counters' rates look back over for their last two
/// samples: four scrapes at Prometheus' default interval of one minute.
pub const RATE_WINDOW: &str = "5m";

/// Series of mlstack's workloads only: a project's namespace (the kubelet's
/// labels, renamed by Prometheus, or cAdvisor's own), or a local
/// workload's cgroup.
const OURS: [&str; 4] = [
    r#"namespace=~"mlstack-.+""#,
    r#"exported_namespace=~"mlstack-.+""#,
    r#"container_label_io_kubernetes_pod_namespace=~"mlstack-.+""#,
    r#"id=~".*/mlstack-[^/]+""#,
];

/// The four container queries, with the metric each answers: the
/// counters' per-second rates and the working set as it is.
pub fn container_queries() -> [(&'static str, String); 4] {
    let query = |metric: &str, counter: bool| {
        OURS.iter()
            .map(|selector| {
                if counter {
                    format!("irate({metric}{{{selector}}}[{RATE_WINDOW}])")
                } else {
                    format!("{metric}{{{selector}}}")
                }
            })
            .collect::<Vec<_>>()
            .join(" or ")
    };
    [
        (cadvisor::CPU_SECONDS, query(cadvisor::CPU_SECONDS, true)),
        (cadvisor::WORKING_SET, query(cadvisor::WORKING_SET, false)),
        (cadvisor::RX_BYTES, query(cadvisor::RX_BYTES, true)),
        (cadvisor::TX_BYTES, query(cadvisor::TX_BYTES, true)),
    ]
}

/// How many problems are kept.
const PROBLEMS_KEPT: usize = 5;

/// One sample per container.
pub type ContainerSamples = Vec<(ContainerOf, ResourceSample)>;

/// The answers to [`container_queries`] (each with its metric) read into
/// one sample per container: CPU cores, memory, bytes received and sent
/// per second. An answer that is not a successful instant vector is an
/// error; a value that is not finite and non-negative is left out and
/// named among the problems.
pub fn container_samples(
    answers: &[(&'static str, &str)],
) -> Result<(ContainerSamples, Vec<String>), String> {
    let mut containers = Containers::default();
    let mut problems = Vec::new();
    for (metric, text) in answers {
        for series in instant_vector(metric, text)? {
            match series.value.1.trim().parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => containers.add(metric, &series.metric, v),
                _ if problems.len() < PROBLEMS_KEPT => problems.push(format!(
                    "{metric} of {:?} is {:?}, not a valid value",
                    series.metric.get("pod").or(series.metric.get("id")),
                    series.value.1
                )),
                _ => {}
            }
        }
    }
    let samples = containers
        .readings()
        .into_iter()
        .map(|(of, rates)| {
            let sample = ResourceSample {
                cpu_cores: Mean::default().with(rates.cpu_seconds),
                memory_mib: Mean::default().with(rates.memory_bytes.map(|b| b / 1_048_576.0)),
                rx_bytes_per_s: Mean::default().with(rates.rx_bytes),
                tx_bytes_per_s: Mean::default().with(rates.tx_bytes),
            };
            (of, sample)
        })
        .collect();
    Ok((samples, problems))
}

/// The series of a successful instant vector answer to the query of
/// `what`.
fn instant_vector(what: &str, text: &str) -> Result<Vec<Series>, String> {
    let answer: Answer = serde_json::from_str(text)
        .map_err(|e| format!("the answer to {what} is not the query API's JSON: {e}"))?;
    if answer.status != "success" {
        return Err(format!(
            "the query of {what} failed: {}",
            answer.error.unwrap_or(answer.status)
        ));
    }
    answer
        .data
        .filter(|d| d.result_type == "vector")
        .map(|d| d.result)
        .ok_or_else(|| format!("the answer to {what} is not an instant vector"))
}

/// Reads the answers to the queries of [`GPU_UTIL`] and [`FB_USED`] into one
/// reading per GPU; an answer that is not a successful instant vector is an
/// error, a bad value a problem.
pub fn readings(util_answer: &str, mem_answer: &str) -> Result<DcgmScrape, String> {
    let mut scrape = DcgmScrape::default();
    let mut gpus: BTreeMap<(String, String), GpuReading> = BTreeMap::new();
    for (field, text) in [(GPU_UTIL, util_answer), (FB_USED, mem_answer)] {
        for series in instant_vector(field, text)? {
            let labels = &series.metric;
            let Some(index) = labels.get("gpu").and_then(|g| g.parse::<u32>().ok()) else {
                continue;
            };
            let host = labels
                .get("Hostname")
                .or_else(|| labels.get("hostname"))
                .cloned()
                .unwrap_or_default();
            let uuid = labels
                .get("UUID")
                .cloned()
                .unwrap_or_else(|| index.to_string());
            let pod = match (
                labels.get("exported_namespace").or(labels.get("namespace")),
                labels.get("exported_pod").or(labels.get("pod")),
            ) {
                (Some(ns), Some(pod)) if !ns.is_empty() && !pod.is_empty() => {
                    Some((ns.clone(), pod.clone()))
                }
                _ => None,
            };
            let entry = gpus
                .entry((host.clone(), uuid.clone()))
                .or_insert_with(|| GpuReading {
                    host: host.clone(),
                    uuid: uuid.clone(),
                    index,
                    pod: pod.clone(),
                    util_pct: None,
                    mem_used_mib: None,
                });
            let value = series.value.1.trim().parse::<f64>().ok();
            let valid = match (field, value) {
                (GPU_UTIL, Some(v)) if v.is_finite() && (0.0..=100.0).contains(&v) => Some(v),
                (FB_USED, Some(v)) if v.is_finite() && v >= 0.0 => Some(v),
                _ => None,
            };
            let slot = if field == GPU_UTIL {
                &mut entry.util_pct
            } else {
                &mut entry.mem_used_mib
            };
            match (valid, slot.is_some()) {
                (_, true) => scrape.note(format!(
                    "{field} of GPU {uuid} on {host:?} answered twice; the first kept"
                )),
                (Some(v), false) => *slot = Some(v),
                (None, false) => scrape.note(format!(
                    "{field} of GPU {uuid} is {:?}, not a valid value",
                    series.value.1
                )),
            }
        }
    }
    scrape.gpus = gpus.into_values().collect();
    Ok(scrape)
}

#[cfg(test)]
mod tests {
    use super::*;

    const UPCLOUD: &str = include_str!(
        "../../../tests/fixtures/prometheus/upcloud-prometheus-query-vector-dcgm.json"
    );
    const ERICSSON: &str = include_str!(
        "../../../tests/fixtures/prometheus/ericsson-victoriametrics-query-vector-dcgm.json"
    );
    const RANGE: &str =
        include_str!("../../../tests/fixtures/prometheus/prometheus-docs-query-range-up.json");

    /// The real answers carry other fields (GPU temperature, PCIe replays);
    /// read as if they were the utilization, they show the shape is
    /// understood: labels, float and integer timestamps, extra fields.
    #[test]
    fn real_query_api_answers_are_read() {
        let empty = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        let scrape = readings(UPCLOUD, empty).expect("read");
        assert_eq!(scrape.gpus.len(), 1);
        let gpu = &scrape.gpus[0];
        assert_eq!(gpu.uuid, "GPU-5b4e07f6-3a86-4340-039d-25f2a83cdc43");
        assert_eq!(gpu.host, "gpu1-wl8sg");
        assert_eq!(gpu.util_pct, Some(32.0));
        // The exporter's own pod, which leads to no workload.
        assert_eq!(
            gpu.pod,
            Some(("default".to_owned(), "dcgm-exporter-zxgzh".to_owned()))
        );
        let scrape = readings(empty, ERICSSON).expect("read");
        assert_eq!(scrape.gpus[0].host, "cp-bm14r7");
        assert_eq!(scrape.gpus[0].mem_used_mib, Some(0.0));
        assert_eq!(scrape.gpus[0].pod, None);
    }

    #[test]
    fn a_range_answer_or_an_error_is_refused_with_the_reason() {
        let empty = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert!(readings(RANGE, empty).is_err_and(|e| e.contains("matrix")
            || e.contains("JSON")
            || e.contains("instant vector")));
        let failed = r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#;
        assert!(readings(failed, empty).is_err_and(|e| e.contains("parse error")));
        assert!(readings("<html>", empty).is_err());
    }

    const CONTAINERS: &str =
        include_str!("../../../tests/fixtures/prometheus/cadvisor-query-vectors-constructed.json");

    /// The answers of each container query in the constructed fixture,
    /// with its cgroup renamed by `rename`.
    fn container_answers(rename: &str) -> Vec<(&'static str, String)> {
        let all: BTreeMap<String, serde_json::Value> =
            serde_json::from_str(&CONTAINERS.replace("testcontainer", rename)).expect("JSON");
        container_queries()
            .iter()
            .map(|(metric, _)| (*metric, all[*metric].to_string()))
            .collect()
    }

    /// cAdvisor's series through the query API: a local workload's cgroup
    /// is its container; per-CPU rates are added up; a series of another
    /// container is left out.
    #[test]
    fn container_answers_are_read_per_container() {
        let texts = container_answers("testcontainer");
        let answers: Vec<(&'static str, &str)> =
            texts.iter().map(|(m, t)| (*m, t.as_str())).collect();
        let (samples, problems) = container_samples(&answers).expect("read");
        assert!(samples.is_empty() && problems.is_empty());
        let id = crate::domain::workload::WorkloadId::generate();
        let texts = container_answers(&format!("/system.slice/mlstack-{id}"));
        let answers: Vec<(&'static str, &str)> =
            texts.iter().map(|(m, t)| (*m, t.as_str())).collect();
        let (samples, problems) = container_samples(&answers).expect("read");
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(samples.len(), 1);
        let (of, sample) = &samples[0];
        assert_eq!(*of, ContainerOf::Workload(id));
        let cpu = sample.cpu_cores.get().expect("cpu");
        assert!((cpu - 1.4e-8).abs() < 1e-12, "2+3+4+5 ns a second: {cpu}");
        assert_eq!(sample.rx_bytes_per_s.get(), Some(14.0));
        assert_eq!(sample.tx_bytes_per_s.get(), Some(18.0));
        assert!(
            sample
                .memory_mib
                .get()
                .is_some_and(|m| (m - 9.0 / 1_048_576.0).abs() < 1e-9)
        );
    }

    /// The kubelet's series as Prometheus renames them (its target's own
    /// namespace kept as `namespace`): the pod's own cgroup is its total;
    /// bad values are named; an error answer fails the whole query.
    #[test]
    fn kubelet_series_renamed_by_prometheus() {
        let cpu = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"namespace":"kube-system","exported_namespace":"mlstack-p","exported_pod":"train-5d8f7c9b6-x2k4q","exported_container":"","cpu":"total"},"value":[1.5,"0.75"]},
            {"metric":{"namespace":"kube-system","exported_namespace":"mlstack-p","exported_pod":"train-5d8f7c9b6-x2k4q","exported_container":"main","cpu":"total"},"value":[1.5,"0.7"]},
            {"metric":{"namespace":"mlstack-p","pod":"eval-2","container":"POD"},"value":[1.5,"9"]}]}}"#;
        let rx = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"namespace":"mlstack-p","pod":"eval-2","interface":"eth0"},"value":[1.5,"NaN"]}]}}"#;
        let empty = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        let (samples, problems) = container_samples(&[
            (cadvisor::CPU_SECONDS, cpu),
            (cadvisor::WORKING_SET, empty),
            (cadvisor::RX_BYTES, rx),
            (cadvisor::TX_BYTES, empty),
        ])
        .expect("read");
        assert_eq!(samples.len(), 1, "{samples:?}");
        assert_eq!(
            samples[0].0,
            ContainerOf::Pod("mlstack-p".into(), "train-5d8f7c9b6-x2k4q".into())
        );
        assert_eq!(samples[0].1.cpu_cores.get(), Some(0.75));
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("NaN"), "{problems:?}");
        let failed = r#"{"status":"error","errorType":"bad_data","error":"1:1: parse error"}"#;
        assert!(
            container_samples(&[(cadvisor::CPU_SECONDS, failed)])
                .is_err_and(|e| e.contains("parse error"))
        );
    }

    #[test]
    fn queries_ask_only_for_our_series_and_are_encoded() {
        let [(metric, cpu), (_, memory), ..] = container_queries();
        assert_eq!(metric, cadvisor::CPU_SECONDS);
        assert!(cpu.starts_with(
            "irate(container_cpu_usage_seconds_total{namespace=~\"mlstack-.+\"}[5m]) or "
        ));
        assert!(!memory.contains("irate"));
        let url = query_url("http://p:9090/", &cpu);
        assert!(
            url.starts_with("http://p:9090/api/v1/query?query=irate%28"),
            "{url}"
        );
        assert!(!url.contains(' ') && !url.contains('"') && !url.contains('{'));
    }

    #[test]
    fn exported_pod_labels_win_and_bad_values_are_named() {
        let util = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"gpu":"0","UUID":"GPU-a","Hostname":"n","pod":"dcgm-x","namespace":"gpu-operator",
              "exported_pod":"train-5d8f7c9b6-x2k4q","exported_namespace":"mlstack-00000000000000000000000000000001"},
             "value":[1.5,"NaN"]},
            {"metric":{"gpu":"1","UUID":"GPU-b","Hostname":"n"},"value":[1.5,"+Inf"]}]}}"#;
        let empty = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        let scrape = readings(util, empty).expect("read");
        assert_eq!(
            scrape.gpus[0].pod.as_ref().map(|p| p.1.as_str()),
            Some("train-5d8f7c9b6-x2k4q")
        );
        assert!(scrape.gpus.iter().all(|g| g.util_pct.is_none()));
        assert_eq!(scrape.problems.len(), 2, "{:?}", scrape.problems);
    }
}
