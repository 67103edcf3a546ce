//! The record codec. Every stored value is one format byte followed by the
//! record as JSON. JSON lets a record gain fields (with serde defaults)
//! without a migration, and keeps a store file inspectable; the format byte
//! leaves room for a denser encoding later.

use redb::{ReadableMultimapTable, ReadableTable};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;
use crate::domain::metrics::{HourRollup, Mean, MinuteSample, ResourceSample};

const FORMAT_JSON: u8 = 1;

pub fn encode<T: Serialize>(record: &T) -> Result<Vec<u8>, StoreError> {
    let mut bytes = vec![FORMAT_JSON];
    serde_json::to_writer(&mut bytes, record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(bytes)
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&FORMAT_JSON, json)) => {
            serde_json::from_slice(json).map_err(|e| StoreError::Corrupt(e.to_string()))
        }
        Some((format, _)) => Err(StoreError::Corrupt(format!(
            "unknown record format {format}"
        ))),
        None => Err(StoreError::Corrupt("empty record".into())),
    }
}

/// Metrics are stored densely (many rows per workload and day): one format
/// byte, then fixed-width little-endian fields.
const FORMAT_MINUTE_V1: u8 = 2;
const FORMAT_HOUR_V1: u8 = 3;
/// Bytes of a stored minute sample: format, scrapes, GPUs, utilization,
/// memory.
pub const MINUTE_LEN: usize = 1 + 2 + 2 + 4 + 4;
/// Bytes of a stored hour rollup: format, minutes, GPU-minutes, busy
/// GPU-minutes.
pub const HOUR_LEN: usize = 1 + 2 + 8 + 8;

pub fn encode_minute(sample: &MinuteSample) -> [u8; MINUTE_LEN] {
    let mut bytes = [0u8; MINUTE_LEN];
    bytes[0] = FORMAT_MINUTE_V1;
    bytes[1..3].copy_from_slice(&sample.scrapes.to_le_bytes());
    bytes[3..5].copy_from_slice(&sample.gpus.to_le_bytes());
    bytes[5..9].copy_from_slice(&sample.gpu_util_pct.to_le_bytes());
    bytes[9..13].copy_from_slice(&sample.gpu_mem_mib.to_le_bytes());
    bytes
}

pub fn decode_minute(bytes: &[u8]) -> Result<MinuteSample, StoreError> {
    let fixed: &[u8; MINUTE_LEN] = bytes
        .try_into()
        .ok()
        .filter(|b: &&[u8; MINUTE_LEN]| b[0] == FORMAT_MINUTE_V1)
        .ok_or_else(|| StoreError::Corrupt("a minute sample of unknown format".into()))?;
    Ok(MinuteSample {
        scrapes: u16::from_le_bytes([fixed[1], fixed[2]]),
        gpus: u16::from_le_bytes([fixed[3], fixed[4]]),
        gpu_util_pct: f32::from_le_bytes([fixed[5], fixed[6], fixed[7], fixed[8]]),
        gpu_mem_mib: f32::from_le_bytes([fixed[9], fixed[10], fixed[11], fixed[12]]),
    })
}

pub fn encode_hour(rollup: &HourRollup) -> [u8; HOUR_LEN] {
    let mut bytes = [0u8; HOUR_LEN];
    bytes[0] = FORMAT_HOUR_V1;
    bytes[1..3].copy_from_slice(&rollup.minutes.to_le_bytes());
    bytes[3..11].copy_from_slice(&rollup.gpu_minutes.to_le_bytes());
    bytes[11..19].copy_from_slice(&rollup.busy_gpu_minutes.to_le_bytes());
    bytes
}

pub fn decode_hour(bytes: &[u8]) -> Result<HourRollup, StoreError> {
    let fixed: &[u8; HOUR_LEN] = bytes
        .try_into()
        .ok()
        .filter(|b: &&[u8; HOUR_LEN]| b[0] == FORMAT_HOUR_V1)
        .ok_or_else(|| StoreError::Corrupt("an hour rollup of unknown format".into()))?;
    let f64_at = |at: usize| {
        let mut eight = [0u8; 8];
        eight.copy_from_slice(&fixed[at..at + 8]);
        f64::from_le_bytes(eight)
    };
    Ok(HourRollup {
        minutes: u16::from_le_bytes([fixed[1], fixed[2]]),
        gpu_minutes: f64_at(3),
        busy_gpu_minutes: f64_at(11),
    })
}

const FORMAT_USAGE_V1: u8 = 4;
/// Bytes of a stored minute of CPU, memory and network: format, then per
/// value (CPU cores, memory MiB, bytes received and sent per second) the
/// scrapes that measured it and their mean.
pub const USAGE_LEN: usize = 1 + 4 * (2 + 4);

pub fn encode_usage(sample: &ResourceSample) -> [u8; USAGE_LEN] {
    let mut bytes = [0u8; USAGE_LEN];
    bytes[0] = FORMAT_USAGE_V1;
    let means = [
        sample.cpu_cores,
        sample.memory_mib,
        sample.rx_bytes_per_s,
        sample.tx_bytes_per_s,
    ];
    for (i, mean) in means.iter().enumerate() {
        let at = 1 + i * 6;
        bytes[at..at + 2].copy_from_slice(&mean.n.to_le_bytes());
        bytes[at + 2..at + 6].copy_from_slice(&mean.value.to_le_bytes());
    }
    bytes
}

pub fn decode_usage(bytes: &[u8]) -> Result<ResourceSample, StoreError> {
    let fixed: &[u8; USAGE_LEN] = bytes
        .try_into()
        .ok()
        .filter(|b: &&[u8; USAGE_LEN]| b[0] == FORMAT_USAGE_V1)
        .ok_or_else(|| StoreError::Corrupt("a minute of usage of unknown format".into()))?;
    let mean = |i: usize| {
        let at = 1 + i * 6;
        Mean {
            n: u16::from_le_bytes([fixed[at], fixed[at + 1]]),
            value: f32::from_le_bytes([fixed[at + 2], fixed[at + 3], fixed[at + 4], fixed[at + 5]]),
        }
    };
    Ok(ResourceSample {
        cpu_cores: mean(0),
        memory_mib: mean(1),
        rx_bytes_per_s: mean(2),
        tx_bytes_per_s: mean(3),
    })
}

/// The record stored under `key`, if any.
pub fn decode_one<T: DeserializeOwned>(
    table: &impl ReadableTable<u128, &'static [u8]>,
    key: u128,
) -> Result<Option<T>, StoreError> {
    table.get(key)?.map(|b| decode(b.value())).transpose()
}

/// Every record of `table`, in key order (oldest first for id keys).
pub fn decode_all<T: DeserializeOwned>(
    table: &impl ReadableTable<u128, &'static [u8]>,
) -> Result<Vec<T>, StoreError> {
    table
        .iter()?
        .map(|entry| {
            let (_, bytes) = entry?;
            decode(bytes.value())
        })
        .collect()
}

/// The records of `table` that `index` lists under `key` (e.g. a project's
/// workloads), in id order; ids without a record are skipped.
pub fn decode_indexed<T: DeserializeOwned>(
    index: &impl ReadableMultimapTable<u128, u128>,
    table: &impl ReadableTable<u128, &'static [u8]>,
    key: u128,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    for id in index.get(key)? {
        if let Some(record) = decode_one(table, id?.value())? {
            out.push(record);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Old {
        name: String,
    }

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct New {
        name: String,
        #[serde(default)]
        added: u32,
    }

    #[test]
    fn records_gain_fields_without_migration() {
        let bytes = encode(&Old { name: "a".into() }).unwrap_or_default();
        let new: Result<New, _> = decode(&bytes);
        assert_eq!(
            new.ok(),
            Some(New {
                name: "a".into(),
                added: 0
            })
        );
    }

    #[test]
    fn unknown_formats_are_refused() {
        assert!(decode::<Old>(&[9, b'{', b'}']).is_err());
        assert!(decode::<Old>(&[]).is_err());
    }

    #[test]
    fn metrics_rows_round_trip_in_their_fixed_layout() {
        let minute = MinuteSample {
            scrapes: 4,
            gpus: 8,
            gpu_util_pct: 37.5,
            gpu_mem_mib: 81_920.0,
        };
        let bytes = encode_minute(&minute);
        assert_eq!(bytes.len(), MINUTE_LEN);
        assert_eq!(decode_minute(&bytes).expect("decoded"), minute);
        let hour = HourRollup {
            minutes: 60,
            gpu_minutes: 480.0,
            busy_gpu_minutes: 180.25,
        };
        assert_eq!(decode_hour(&encode_hour(&hour)).expect("decoded"), hour);
        assert!(decode_minute(&bytes[..5]).is_err());
        assert!(decode_hour(&encode_minute(&minute)).is_err());
        let mut json = encode(&"x").expect("json");
        json.resize(MINUTE_LEN, 0);
        assert!(decode_minute(&json).is_err());
    }

    #[test]
    fn usage_rows_round_trip_in_their_fixed_layout() {
        let sample = ResourceSample {
            cpu_cores: Mean { n: 4, value: 1.5 },
            memory_mib: Mean {
                n: 4,
                value: 2048.0,
            },
            rx_bytes_per_s: Mean { n: 3, value: 1e6 },
            tx_bytes_per_s: Mean::default(),
        };
        let bytes = encode_usage(&sample);
        assert_eq!(bytes.len(), USAGE_LEN);
        assert_eq!(decode_usage(&bytes).expect("decoded"), sample);
        assert!(decode_usage(&bytes[..7]).is_err());
        let mut other = bytes;
        other[0] = 2;
        assert!(decode_usage(&other).is_err());
    }
}
