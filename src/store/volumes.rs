//! Storage volumes of projects: present or being deleted, whether the
//! cluster has them ready, with indexes by project, by name inside the
//! project, and the due list of the reconcile loop.

use jiff::Timestamp;
use redb::{ReadTransaction, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::workloads::LastError;
use super::{StoreError, codec, due, holds, tables};
use crate::domain::ids::{HoldId, ProjectId, StorageTypeId, VolumeId};
use crate::domain::storage::StoragePermission;
use crate::domain::workload::VolumeSpec;

/// Whether the user wants a volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VolumeDesired {
    Present,
    /// Removed with its data from the cluster, then from the store.
    Deleted,
}

/// A stored volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeRecord {
    pub id: VolumeId,
    pub spec: VolumeSpec,
    pub desired: VolumeDesired,
    /// Counts changes of the desired state (see `WorkloadRecord`).
    pub generation: u64,
    /// The cluster has it and workloads can mount it.
    #[serde(default)]
    pub ready: bool,
    #[serde(default)]
    pub error: Option<LastError>,
    /// When the reconcile loop works on it next; mirrored by `DUE_VOLUME_IDS`.
    #[serde(default)]
    pub due_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Who may read and write it (volumes from before Storage Management
    /// are personal).
    #[serde(default)]
    pub permission: StoragePermission,
    /// The catalog storage type it was created of (none before Storage
    /// Management).
    #[serde(default)]
    pub storage_type: Option<StorageTypeId>,
    /// A clone being copied: the percent of its source copied so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_percent: Option<u8>,
    /// Its size held against the project's storage quota, released when
    /// the record is removed (its data deleted). Schema 16 gave the volumes
    /// from before a hold each.
    #[serde(default)]
    pub hold: Option<HoldId>,
}

pub fn get_tx(tx: &WriteTransaction, id: VolumeId) -> Result<Option<VolumeRecord>, StoreError> {
    codec::decode_one(&tx.open_table(tables::VOLUME_ID_TO_VOLUME)?, id.as_u128())
}

pub fn get_read_tx(tx: &ReadTransaction, id: VolumeId) -> Result<Option<VolumeRecord>, StoreError> {
    codec::decode_one(&tx.open_table(tables::VOLUME_ID_TO_VOLUME)?, id.as_u128())
}

/// The volume named `name` in `project`.
pub fn by_name_tx(
    tx: &WriteTransaction,
    project: ProjectId,
    name: &str,
) -> Result<Option<VolumeRecord>, StoreError> {
    let id = tx
        .open_table(tables::PROJECT_VOLUME_NAME_TO_ID)?
        .get((project.as_u128(), name))?
        .map(|v| v.value());
    match id {
        Some(id) => get_tx(tx, VolumeId::from_u128(id)),
        None => Ok(None),
    }
}

/// Writes `record` over `previous`, moving its due entry along.
fn write_tx(
    tx: &WriteTransaction,
    previous: Option<&VolumeRecord>,
    record: &VolumeRecord,
) -> Result<(), StoreError> {
    let id = record.id.as_u128();
    due::move_tx(
        tx,
        tables::DUE_VOLUME_IDS,
        id,
        previous.and_then(|p| p.due_at),
        record.due_at,
    )?;
    tx.open_table(tables::VOLUME_ID_TO_VOLUME)?
        .insert(id, codec::encode(record)?.as_slice())?;
    Ok(())
}

/// Stores a new volume with its indexes; refuses a name the project already
/// has (`StoreError::Conflict`).
pub fn insert_tx(tx: &WriteTransaction, record: &VolumeRecord) -> Result<(), StoreError> {
    let id = record.id.as_u128();
    let project = record.spec.project.as_u128();
    let mut names = tx.open_table(tables::PROJECT_VOLUME_NAME_TO_ID)?;
    if names.get((project, record.spec.name.as_str()))?.is_some() {
        return Err(StoreError::Conflict("a volume of this name"));
    }
    names.insert((project, record.spec.name.as_str()), id)?;
    tx.open_multimap_table(tables::PROJECT_ID_TO_VOLUME_IDS)?
        .insert(project, id)?;
    write_tx(tx, None, record)
}

/// Changes a volume with `change` and writes it back, with `updated_at`
/// set to `now`, when anything changed (an unchanged record is not
/// rewritten). None when it does not exist.
pub fn update_tx<R>(
    tx: &WriteTransaction,
    id: VolumeId,
    now: Timestamp,
    change: impl FnOnce(&mut VolumeRecord) -> R,
) -> Result<Option<R>, StoreError> {
    let Some(previous) = get_tx(tx, id)? else {
        return Ok(None);
    };
    let mut record = previous.clone();
    let result = change(&mut record);
    if record != previous {
        record.updated_at = now;
        write_tx(tx, Some(&previous), &record)?;
    }
    Ok(Some(result))
}

/// Removes a volume, its index entries and its hold on the project's
/// storage quota; returns what was removed.
pub fn remove_tx(tx: &WriteTransaction, id: VolumeId) -> Result<Option<VolumeRecord>, StoreError> {
    let removed: Option<VolumeRecord> = tx
        .open_table(tables::VOLUME_ID_TO_VOLUME)?
        .remove(id.as_u128())?
        .map(|b| codec::decode(b.value()))
        .transpose()?;
    if let Some(record) = &removed {
        let project = record.spec.project.as_u128();
        tx.open_table(tables::PROJECT_VOLUME_NAME_TO_ID)?
            .remove((project, record.spec.name.as_str()))?;
        tx.open_multimap_table(tables::PROJECT_ID_TO_VOLUME_IDS)?
            .remove(project, id.as_u128())?;
        due::move_tx(
            tx,
            tables::DUE_VOLUME_IDS,
            id.as_u128(),
            record.due_at,
            None,
        )?;
        if let Some(hold) = record.hold {
            holds::delete_tx(tx, hold)?;
        }
    }
    Ok(removed)
}

/// The volumes of `project`, oldest first.
pub fn of_project_read_tx(
    tx: &ReadTransaction,
    project: ProjectId,
) -> Result<Vec<VolumeRecord>, StoreError> {
    codec::decode_indexed(
        &tx.open_multimap_table(tables::PROJECT_ID_TO_VOLUME_IDS)?,
        &tx.open_table(tables::VOLUME_ID_TO_VOLUME)?,
        project.as_u128(),
    )
}

/// The volumes of `project`, oldest first, in a write transaction.
pub fn of_project_tx(
    tx: &WriteTransaction,
    project: ProjectId,
) -> Result<Vec<VolumeRecord>, StoreError> {
    codec::decode_indexed(
        &tx.open_multimap_table(tables::PROJECT_ID_TO_VOLUME_IDS)?,
        &tx.open_table(tables::VOLUME_ID_TO_VOLUME)?,
        project.as_u128(),
    )
}

/// Every volume, oldest first, in a write transaction.
pub fn all_tx(tx: &WriteTransaction) -> Result<Vec<VolumeRecord>, StoreError> {
    codec::decode_all(&tx.open_table(tables::VOLUME_ID_TO_VOLUME)?)
}

/// Every volume, oldest first.
pub fn all_read_tx(tx: &ReadTransaction) -> Result<Vec<VolumeRecord>, StoreError> {
    codec::decode_all(&tx.open_table(tables::VOLUME_ID_TO_VOLUME)?)
}

/// At most `limit` volumes due at `now` or before.
pub fn due_read_tx(
    tx: &ReadTransaction,
    now: Timestamp,
    limit: usize,
) -> Result<Vec<VolumeRecord>, StoreError> {
    due::records_read_tx(
        tx,
        tables::DUE_VOLUME_IDS,
        tables::VOLUME_ID_TO_VOLUME,
        now,
        limit,
    )
}

/// When the next volume falls due, if any does.
pub fn next_due_read_tx(tx: &ReadTransaction) -> Result<Option<Timestamp>, StoreError> {
    due::next_read_tx(tx, tables::DUE_VOLUME_IDS)
}
