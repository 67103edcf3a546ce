//! When each container and job ran: one row per interval, (workload id,
//! start) -> end, written from the statuses the reconcile loop records
//! (`workloads::update_tx`), kept after the workload is gone so that its
//! cost stays exact.

use jiff::Timestamp;
use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::{StoreError, tables};
use crate::domain::cost::RunInterval;
use crate::domain::workload::WorkloadId;

/// The end of an interval that is still open.
const OPEN: i64 = i64::MAX;

fn timestamp(ms: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millisecond(ms)
        .map_err(|e| StoreError::Corrupt(format!("a run interval's time: {e}")))
}

/// The start (Unix ms) of the open interval of `id`, if it has one.
fn open_start_tx(tx: &WriteTransaction, id: u128) -> Result<Option<i64>, StoreError> {
    let table = tx.open_table(tables::WORKLOAD_RUN_INTERVALS)?;
    let last = table.range((id, i64::MIN)..=(id, i64::MAX))?.next_back();
    match last {
        Some(entry) => {
            let (key, end) = entry?;
            Ok((end.value() == OPEN).then_some(key.value().1))
        }
        None => Ok(None),
    }
}

/// Brings the intervals of `id` in step with whether it runs at `at`:
/// opens one when it runs and none is open, closes the open one at `at`
/// when it does not run. Writing the same state again changes nothing, so
/// an interval open across a restart continues while the observation after
/// the restart still says running, and ends at that observation otherwise.
pub fn sync_tx(
    tx: &WriteTransaction,
    id: WorkloadId,
    running: bool,
    at: Timestamp,
) -> Result<(), StoreError> {
    let key = id.as_u128();
    let open = open_start_tx(tx, key)?;
    let at_ms = at.as_millisecond();
    let mut table = tx.open_table(tables::WORKLOAD_RUN_INTERVALS)?;
    match (running, open) {
        (true, None) => {
            table.insert((key, at_ms), OPEN)?;
        }
        (false, Some(start)) => {
            table.insert((key, start), at_ms.max(start))?;
        }
        (true, Some(_)) | (false, None) => {}
    }
    Ok(())
}

/// The intervals of `id`, oldest first.
pub fn of_workload_read_tx(
    tx: &ReadTransaction,
    id: WorkloadId,
) -> Result<Vec<RunInterval>, StoreError> {
    let key = id.as_u128();
    let table = tx.open_table(tables::WORKLOAD_RUN_INTERVALS)?;
    let mut out = Vec::new();
    for entry in table.range((key, i64::MIN)..=(key, i64::MAX))? {
        let (k, end) = entry?;
        let end = end.value();
        out.push(RunInterval {
            start: timestamp(k.value().1)?,
            end: if end == OPEN {
                None
            } else {
                Some(timestamp(end)?)
            },
        });
    }
    Ok(out)
}
