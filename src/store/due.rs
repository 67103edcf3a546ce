//! The reconcile loop's due lists (`DUE_WORKLOAD_IDS`, `DUE_VOLUME_IDS`):
//! one entry (due time in Unix milliseconds, id) per record whose `due_at`
//! is set, kept in step by the record's module through these functions.

use jiff::Timestamp;
use redb::{ReadTransaction, ReadableTable, TableDefinition, WriteTransaction};
use serde::de::DeserializeOwned;

use super::{StoreError, codec};

/// A due list.
pub(super) type DueTable = TableDefinition<'static, (i64, u128), ()>;
/// The records a due list points into.
pub(super) type RecordTable = TableDefinition<'static, u128, &'static [u8]>;

/// The key of a due entry.
fn key(at: Timestamp, id: u128) -> (i64, u128) {
    (at.as_millisecond(), id)
}

/// Moves the due entry of `id` from `old` to `new` (None: no entry).
pub(super) fn move_tx(
    tx: &WriteTransaction,
    due: DueTable,
    id: u128,
    old: Option<Timestamp>,
    new: Option<Timestamp>,
) -> Result<(), StoreError> {
    if old == new {
        return Ok(());
    }
    let mut table = tx.open_table(due)?;
    if let Some(at) = old {
        table.remove(key(at, id))?;
    }
    if let Some(at) = new {
        table.insert(key(at, id), ())?;
    }
    Ok(())
}

/// At most `limit` records due at `now` or before, the longest waiting
/// first.
pub(super) fn records_read_tx<T: DeserializeOwned>(
    tx: &ReadTransaction,
    due: DueTable,
    records: RecordTable,
    now: Timestamp,
    limit: usize,
) -> Result<Vec<T>, StoreError> {
    let due = tx.open_table(due)?;
    let table = tx.open_table(records)?;
    let mut out = Vec::new();
    for entry in due.range(..=key(now, u128::MAX))?.take(limit) {
        let (key, _) = entry?;
        if let Some(record) = codec::decode_one(&table, key.value().1)? {
            out.push(record);
        }
    }
    Ok(out)
}

/// When the next record falls due, if any does.
pub(super) fn next_read_tx(
    tx: &ReadTransaction,
    due: DueTable,
) -> Result<Option<Timestamp>, StoreError> {
    Ok(tx.open_table(due)?.first()?.map(|(key, _)| {
        Timestamp::from_millisecond(key.value().0).unwrap_or(Timestamp::UNIX_EPOCH)
    }))
}

/// Ids of every record with a due entry.
pub(super) fn ids_tx(tx: &WriteTransaction, due: DueTable) -> Result<Vec<u128>, StoreError> {
    tx.open_table(due)?
        .iter()?
        .map(|entry| {
            let (key, _) = entry?;
            Ok(key.value().1)
        })
        .collect()
}
