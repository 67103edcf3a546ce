//! Workload metrics: a GPU sample per workload and minute, and the hourly
//! rollups the reports read, written together so they always agree; minutes
//! older than the retention are pruned, rollups are kept. A container's CPU,
//! memory and network per minute sit beside them (other sources, other
//! scrapes), pruned with them.

use std::ops::RangeInclusive;

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::{StoreError, codec, tables};
use crate::domain::metrics::{HourRollup, MinuteSample, ResourceSample, hour_of_minute};
use crate::domain::workload::WorkloadId;

/// Folds one scrape's sample into each workload's minute (and that minute's
/// hour).
pub fn record_scrape_tx(
    tx: &WriteTransaction,
    minute: u64,
    samples: &[(WorkloadId, MinuteSample)],
) -> Result<(), StoreError> {
    let mut minutes = tx.open_table(tables::WORKLOAD_MINUTE_TO_SAMPLE)?;
    let mut hours = tx.open_table(tables::WORKLOAD_HOUR_TO_ROLLUP)?;
    let hour = hour_of_minute(minute);
    for (id, scrape) in samples {
        let key = (id.as_u128(), minute);
        let old = minutes
            .get(key)?
            .map(|v| codec::decode_minute(v.value()))
            .transpose()?;
        let new = old.unwrap_or_default().merged(*scrape);
        minutes.insert(key, codec::encode_minute(&new).as_slice())?;
        let hour_key = (id.as_u128(), hour);
        let rollup = hours
            .get(hour_key)?
            .map(|v| codec::decode_hour(v.value()))
            .transpose()?
            .unwrap_or_default()
            .with_minute(old, new);
        hours.insert(hour_key, codec::encode_hour(&rollup).as_slice())?;
    }
    Ok(())
}

/// A workload's minutes in `minutes` (inclusive), oldest first.
pub fn minutes_read_tx(
    tx: &ReadTransaction,
    id: WorkloadId,
    minutes: RangeInclusive<u64>,
) -> Result<Vec<(u64, MinuteSample)>, StoreError> {
    let table = tx.open_table(tables::WORKLOAD_MINUTE_TO_SAMPLE)?;
    let range = (id.as_u128(), *minutes.start())..=(id.as_u128(), *minutes.end());
    table
        .range(range)?
        .map(|row| {
            let (key, value) = row?;
            Ok((key.value().1, codec::decode_minute(value.value())?))
        })
        .collect()
}

/// A workload's hour rollups in `hours` (inclusive), oldest first.
pub fn hours_read_tx(
    tx: &ReadTransaction,
    id: WorkloadId,
    hours: RangeInclusive<u64>,
) -> Result<Vec<(u64, HourRollup)>, StoreError> {
    let table = tx.open_table(tables::WORKLOAD_HOUR_TO_ROLLUP)?;
    let range = (id.as_u128(), *hours.start())..=(id.as_u128(), *hours.end());
    table
        .range(range)?
        .map(|row| {
            let (key, value) = row?;
            Ok((key.value().1, codec::decode_hour(value.value())?))
        })
        .collect()
}

/// Folds one scrape's CPU, memory and network sample into each workload's
/// minute.
pub fn record_usage_tx(
    tx: &WriteTransaction,
    minute: u64,
    samples: &[(WorkloadId, ResourceSample)],
) -> Result<(), StoreError> {
    let mut table = tx.open_table(tables::WORKLOAD_MINUTE_TO_USAGE)?;
    for (id, scrape) in samples {
        let key = (id.as_u128(), minute);
        let old = table
            .get(key)?
            .map(|v| codec::decode_usage(v.value()))
            .transpose()?
            .unwrap_or_default();
        table.insert(key, codec::encode_usage(&old.merged(*scrape)).as_slice())?;
    }
    Ok(())
}

/// A workload's minutes of CPU, memory and network in `minutes`
/// (inclusive), oldest first.
pub fn usage_read_tx(
    tx: &ReadTransaction,
    id: WorkloadId,
    minutes: RangeInclusive<u64>,
) -> Result<Vec<(u64, ResourceSample)>, StoreError> {
    let table = tx.open_table(tables::WORKLOAD_MINUTE_TO_USAGE)?;
    let range = (id.as_u128(), *minutes.start())..=(id.as_u128(), *minutes.end());
    table
        .range(range)?
        .map(|row| {
            let (key, value) = row?;
            Ok((key.value().1, codec::decode_usage(value.value())?))
        })
        .collect()
}

/// Deletes every minute before `before` (of every workload, deleted ones
/// too), GPU samples and usage alike: one range per workload, jumping from
/// workload to workload. Returns how many rows went.
pub fn prune_minutes_tx(tx: &WriteTransaction, before: u64) -> Result<u64, StoreError> {
    let mut removed = 0u64;
    for definition in [
        tables::WORKLOAD_MINUTE_TO_SAMPLE,
        tables::WORKLOAD_MINUTE_TO_USAGE,
    ] {
        let mut table = tx.open_table(definition)?;
        let mut next = Some(0u128);
        while let Some(from) = next {
            let first = table
                .range((from, 0u64)..)?
                .next()
                .transpose()?
                .map(|(key, _)| key.value().0);
            let Some(workload) = first else { break };
            table.retain_in((workload, 0u64)..(workload, before), |_, _| {
                removed += 1;
                false
            })?;
            next = workload.checked_add(1);
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn sample(util: f32) -> MinuteSample {
        MinuteSample {
            scrapes: 1,
            gpus: 1,
            gpu_util_pct: util,
            gpu_mem_mib: 100.0,
        }
    }

    #[test]
    fn scrapes_fold_into_minutes_and_hours_and_old_minutes_go() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open_in(dir.path()).expect("store");
        let (a, b) = (WorkloadId::generate(), WorkloadId::generate());
        // Minute 120 (hour 2) gets two scrapes for a; 121 one each.
        store
            .write(|tx| {
                record_scrape_tx(tx, 120, &[(a, sample(20.0))])?;
                record_scrape_tx(tx, 120, &[(a, sample(60.0))])?;
                record_scrape_tx(tx, 121, &[(a, sample(100.0)), (b, sample(10.0))])
            })
            .expect("written");
        let minutes = store
            .read(|tx| minutes_read_tx(tx, a, 0..=u64::MAX))
            .expect("read");
        assert_eq!(minutes.len(), 2);
        assert_eq!(minutes[0].0, 120);
        assert_eq!(minutes[0].1.scrapes, 2);
        assert_eq!(minutes[0].1.gpu_util_pct, 40.0);
        let hours = store
            .read(|tx| hours_read_tx(tx, a, 0..=u64::MAX))
            .expect("read");
        assert_eq!(hours.len(), 1);
        assert_eq!(hours[0].0, 2);
        assert_eq!(hours[0].1.minutes, 2);
        assert!((hours[0].1.busy_gpu_minutes - 1.4).abs() < 1e-6);

        let removed = store.write(|tx| prune_minutes_tx(tx, 121)).expect("pruned");
        assert_eq!(removed, 1);
        let left_a = store
            .read(|tx| minutes_read_tx(tx, a, 0..=u64::MAX))
            .expect("read");
        assert_eq!(left_a.iter().map(|m| m.0).collect::<Vec<_>>(), vec![121]);
        let left_b = store
            .read(|tx| minutes_read_tx(tx, b, 0..=u64::MAX))
            .expect("read");
        assert_eq!(left_b.len(), 1);
        let hours = store
            .read(|tx| hours_read_tx(tx, a, 0..=u64::MAX))
            .expect("read");
        assert_eq!(hours[0].1.minutes, 2, "rollups are kept");
    }

    #[test]
    fn usage_folds_into_minutes_and_is_pruned_with_them() {
        use crate::domain::metrics::ResourceReading;
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open_in(dir.path()).expect("store");
        let a = WorkloadId::generate();
        let at = |mib: f64| {
            ResourceSample::of_readings(
                None,
                &ResourceReading {
                    memory_bytes: Some(mib * 1_048_576.0),
                    ..ResourceReading::default()
                },
            )
        };
        store
            .write(|tx| {
                record_usage_tx(tx, 120, &[(a, at(100.0))])?;
                record_usage_tx(tx, 120, &[(a, at(300.0))])?;
                record_usage_tx(tx, 121, &[(a, at(50.0))])
            })
            .expect("written");
        let minutes = store
            .read(|tx| usage_read_tx(tx, a, 0..=u64::MAX))
            .expect("read");
        assert_eq!(minutes.len(), 2);
        assert_eq!(minutes[0].1.memory_mib.get(), Some(200.0));
        assert_eq!(minutes[0].1.memory_mib.n, 2);
        assert_eq!(minutes[0].1.cpu_cores.get(), None);
        let removed = store.write(|tx| prune_minutes_tx(tx, 121)).expect("pruned");
        assert_eq!(removed, 1);
        let left = store
            .read(|tx| usage_read_tx(tx, a, 0..=u64::MAX))
            .expect("read");
        assert_eq!(left.iter().map(|m| m.0).collect::<Vec<_>>(), vec![121]);
    }
}
