//! Metrics sources outside mlstack: DCGM exporters scraped over HTTP
//! (`scrape.rs`, bounded in time and size) and read into GPU readings
//! (`dcgm.rs`), or a Prometheus server asked through its query API
//! (`prometheus.rs`); cAdvisor endpoints read into each container's CPU,
//! memory and network (`cadvisor.rs`); the local GPUs through nvidia-smi
//! run as a process (`nvidia_smi.rs`).

pub mod cadvisor;
pub mod dcgm;
pub mod nvidia_smi;
pub mod prometheus;
pub mod scrape;

/// DCGM's pod mapping names the kube driver's pods: the namespace leads to
/// the project, the pod's name to its container or job.
pub use super::kube::manifests::{namespace_name, project_of_namespace, workload_names_of_pod};
