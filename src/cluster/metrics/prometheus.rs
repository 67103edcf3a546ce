//! A Prometheus server as a metrics source: its query API
//! (`/api/v1/query`) asked for the DCGM fields, the instant vectors read into
//! GPU readings.
//!
//! Prometheus adds the scrape target's own labels; when the exporter's pod
//! mapping labels collide with them they arrive as `exported_pod` and
//! `exported_namespace`, which are preferred.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::dcgm::{DcgmScrape, FB_USED, GPU_UTIL};
use crate::domain::metrics::GpuReading;

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

/// The query address of `field` on the server at `base`
/// (`http://prometheus:9090`).
pub fn query_url(base: &str, field: &str) -> String {
    format!("{}/api/v1/query?query={field}", base.trim_end_matches('/'))
}

/// Reads the answers to the queries of [`GPU_UTIL`] and [`FB_USED`] into one
/// reading per GPU; an answer that is not a successful instant vector is an
/// error, a bad value a problem.
pub fn readings(util_answer: &str, mem_answer: &str) -> Result<DcgmScrape, String> {
    let mut scrape = DcgmScrape::default();
    let mut gpus: BTreeMap<(String, String), GpuReading> = BTreeMap::new();
    for (field, text) in [(GPU_UTIL, util_answer), (FB_USED, mem_answer)] {
        let answer: Answer = serde_json::from_str(text)
            .map_err(|e| format!("the answer to {field} is not the query API's JSON: {e}"))?;
        if answer.status != "success" {
            return Err(format!(
                "the query of {field} failed: {}",
                answer.error.unwrap_or(answer.status)
            ));
        }
        let data = answer
            .data
            .filter(|d| d.result_type == "vector")
            .ok_or_else(|| format!("the answer to {field} is not an instant vector"))?;
        for series in data.result {
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
