//! The local GPU inventory: what nvidia-smi reports, else the configured
//! list; and which workload holds which device, so none is handed out twice.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::domain::workload::{GpuRequest, WorkloadId};

/// One GPU of this host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalGpu {
    /// The CUDA device index (what CUDA_VISIBLE_DEVICES names).
    pub index: u32,
    /// The model as nvidia-smi names it (`NVIDIA H200`).
    pub name: String,
    pub memory_mib: u64,
    /// The device's UUID (`GPU-…`), when known: what CUDA_VISIBLE_DEVICES
    /// names, so an index never means another card to CUDA.
    #[serde(default)]
    pub uuid: Option<String>,
    /// The minor number of its device node `/dev/nvidiaN`, when it is not
    /// the index.
    #[serde(default)]
    pub minor: Option<u32>,
}

impl LocalGpu {
    /// The number of its device node `/dev/nvidiaN`.
    pub fn device_minor(&self) -> u32 {
        self.minor.unwrap_or(self.index)
    }
}

/// Parses `nvidia-smi --query-gpu=index,name,memory.total,uuid,pci.bus_id
/// --format=csv,noheader` output (`0, NVIDIA H200, 143771 MiB, GPU-…,
/// 00000000:19:00.0`), with or without `nounits` and the last two columns.
/// Lines that do not parse are skipped. The minor number comes from
/// `minor_of` given the PCI bus id.
pub fn parse_nvidia_smi(text: &str, minor_of: &dyn Fn(&str) -> Option<u32>) -> Vec<LocalGpu> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.split(',').map(str::trim);
            let index = parts.next()?.parse().ok()?;
            let name = parts.next()?.to_owned();
            let memory = parts.next()?;
            let memory_mib = memory.trim_end_matches("MiB").trim().parse().unwrap_or(0);
            let uuid = parts
                .next()
                .filter(|u| u.starts_with("GPU-") || u.starts_with("MIG-"))
                .map(str::to_owned);
            let minor = parts.next().and_then(minor_of);
            (!name.is_empty()).then_some(LocalGpu {
                index,
                name,
                memory_mib,
                uuid,
                minor,
            })
        })
        .collect()
}

/// The minor number of a GPU's device node from the driver's
/// `/proc/driver/nvidia/gpus/<bus id>/information` (`Device Minor: 3`);
/// nvidia-smi writes the bus id with an 8-digit domain, the driver with 4.
fn minor_from_proc(bus_id: &str) -> Option<u32> {
    let bus = bus_id.to_lowercase();
    let short = match bus.split_once(':') {
        Some((domain, rest)) if domain.len() > 4 => {
            format!("{}:{rest}", &domain[domain.len() - 4..])
        }
        _ => bus.clone(),
    };
    let text =
        std::fs::read_to_string(format!("/proc/driver/nvidia/gpus/{short}/information")).ok()?;
    device_minor_line(&text)
}

fn device_minor_line(text: &str) -> Option<u32> {
    text.lines()
        .find_map(|line| line.strip_prefix("Device Minor:"))?
        .trim()
        .parse()
        .ok()
}

/// Asks nvidia-smi for the GPUs; None when it is absent, fails, or takes
/// longer than `timeout`.
pub async fn detect(timeout: Duration) -> Option<Vec<LocalGpu>> {
    let run = tokio::process::Command::new("nvidia-smi")
        .args([
            "--query-gpu=index,name,memory.total,uuid,pci.bus_id",
            "--format=csv,noheader",
        ])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(timeout, run).await.ok()?.ok()?;
    if !output.status.success() {
        return None;
    }
    Some(parse_nvidia_smi(
        &String::from_utf8_lossy(&output.stdout),
        &minor_from_proc,
    ))
}

/// CUDA_VISIBLE_DEVICES for the devices `indices` of `inventory`: their
/// UUIDs when every one is known (an index could mean another card to
/// CUDA than to nvidia-smi), else their indices (with
/// CUDA_DEVICE_ORDER=PCI_BUS_ID, nvidia-smi's order); empty for none.
pub fn cuda_visible_devices(inventory: &[LocalGpu], indices: &[u32]) -> String {
    let uuids: Option<Vec<&str>> = indices
        .iter()
        .map(|index| {
            inventory
                .iter()
                .find(|g| g.index == *index)
                .and_then(|g| g.uuid.as_deref())
        })
        .collect();
    match uuids {
        Some(uuids) => uuids.join(","),
        None => indices
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(","),
    }
}

/// Whether an inventory GPU is of the requested type: its name equals the
/// type's name, or ends with it as a word (`NVIDIA H200` is an `H200`),
/// ignoring case.
pub fn matches(gpu: &LocalGpu, request: &GpuRequest) -> bool {
    let name = gpu.name.to_lowercase();
    let wanted = request.type_name.trim().to_lowercase();
    !wanted.is_empty() && (name == wanted || name.ends_with(&format!(" {wanted}")))
}

/// Whole devices a request needs: its GPU units rounded up (the local
/// driver does not slice a GPU; a share gets a whole device), at least one.
pub fn devices_needed(request: &GpuRequest) -> u32 {
    if request.units_milli > 0 {
        u32::try_from(request.units_milli.div_ceil(1000)).unwrap_or(u32::MAX)
    } else {
        request.count.max(1)
    }
}

/// The inventory and who holds each device.
#[derive(Debug, Default)]
pub struct GpuBook {
    pub gpus: Vec<LocalGpu>,
    holders: BTreeMap<u32, WorkloadId>,
}

impl GpuBook {
    pub fn new(gpus: Vec<LocalGpu>) -> Self {
        Self {
            gpus,
            holders: BTreeMap::new(),
        }
    }

    /// Free devices of the requested type.
    pub fn free_of(&self, request: &GpuRequest) -> Vec<u32> {
        self.gpus
            .iter()
            .filter(|g| matches(g, request) && !self.holders.contains_key(&g.index))
            .map(|g| g.index)
            .collect()
    }

    /// Books devices for `holder`, or says how many were free.
    pub fn book(&mut self, holder: WorkloadId, request: &GpuRequest) -> Result<Vec<u32>, u32> {
        let needed = devices_needed(request);
        let free = self.free_of(request);
        if (free.len() as u64) < u64::from(needed) {
            return Err(free.len() as u32);
        }
        let taken: Vec<u32> = free.into_iter().take(needed as usize).collect();
        for index in &taken {
            self.holders.insert(*index, holder);
        }
        Ok(taken)
    }

    /// Books exactly these devices again (after a restart); false if one is
    /// held by another workload or unknown.
    pub fn rebook(&mut self, holder: WorkloadId, indices: &[u32]) -> bool {
        let usable = indices.iter().all(|i| {
            self.gpus.iter().any(|g| g.index == *i)
                && self.holders.get(i).is_none_or(|h| *h == holder)
        });
        if usable {
            for index in indices {
                self.holders.insert(*index, holder);
            }
        }
        usable
    }

    pub fn release(&mut self, holder: WorkloadId) {
        self.holders.retain(|_, h| *h != holder);
    }

    pub fn is_held(&self, index: u32) -> bool {
        self.holders.contains_key(&index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(type_name: &str, count: u32, units_milli: u64) -> GpuRequest {
        GpuRequest {
            resource_name: "nvidia.com/gpu".into(),
            type_name: type_name.into(),
            node_selector: BTreeMap::new(),
            count,
            units_milli,
        }
    }

    #[test]
    fn parses_nvidia_smi() {
        let text = "0, NVIDIA H200, 143771 MiB, GPU-5a1c, 00000000:19:00.0\n\
                    1, NVIDIA H200, 143771\nnot a gpu\n";
        let minor_of = |bus: &str| (bus == "00000000:19:00.0").then_some(3);
        let gpus = parse_nvidia_smi(text, &minor_of);
        assert_eq!(gpus.len(), 2);
        assert_eq!(gpus[0].name, "NVIDIA H200");
        assert_eq!(gpus[0].uuid.as_deref(), Some("GPU-5a1c"));
        assert_eq!(gpus[0].device_minor(), 3);
        assert_eq!(gpus[1].memory_mib, 143_771);
        assert_eq!((gpus[1].uuid.clone(), gpus[1].device_minor()), (None, 1));
        assert_eq!(
            device_minor_line("Model: \t NVIDIA H200\nDevice Minor: \t 5\n"),
            Some(5)
        );
        assert_eq!(device_minor_line("Model: x\n"), None);
    }

    #[test]
    fn cuda_names_devices_by_uuid_when_known() {
        let gpu = |index, uuid: Option<&str>| LocalGpu {
            index,
            name: "NVIDIA H200".into(),
            memory_mib: 1,
            uuid: uuid.map(str::to_owned),
            minor: None,
        };
        let known = [gpu(0, Some("GPU-a")), gpu(1, Some("GPU-b"))];
        assert_eq!(cuda_visible_devices(&known, &[1, 0]), "GPU-b,GPU-a");
        assert_eq!(cuda_visible_devices(&known, &[]), "");
        let partly = [gpu(0, Some("GPU-a")), gpu(1, None)];
        assert_eq!(cuda_visible_devices(&partly, &[0, 1]), "0,1");
    }

    #[test]
    fn books_without_double_booking() {
        let gpu = |index, name: &str| LocalGpu {
            index,
            name: name.into(),
            memory_mib: 1000,
            uuid: None,
            minor: None,
        };
        let mut book = GpuBook::new(vec![
            gpu(0, "NVIDIA H200"),
            gpu(1, "NVIDIA H200"),
            gpu(2, "T4"),
        ]);
        let (a, b, c) = (
            WorkloadId::generate(),
            WorkloadId::generate(),
            WorkloadId::generate(),
        );
        assert_eq!(book.book(a, &request("h200", 1, 1000)), Ok(vec![0]));
        assert_eq!(book.book(b, &request("H200", 2, 2000)), Err(1));
        assert_eq!(book.book(b, &request("H200", 1, 1000)), Ok(vec![1]));
        assert_eq!(book.book(c, &request("H200", 1, 125)), Err(0));
        assert_eq!(book.book(c, &request("A100", 1, 1000)), Err(0));
        assert!(!book.rebook(c, &[1]));
        book.release(a);
        assert!(!book.is_held(0));
        assert_eq!(book.book(c, &request("H200", 1, 125)), Ok(vec![0]));
        assert_eq!(devices_needed(&request("x", 3, 0)), 3);
    }
}
