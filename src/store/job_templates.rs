//! Job templates (manual §8.2): what a job runs, by catalog ids, kept in a
//! project for "Run job" and for schedules. Indexes by project and unique
//! (project, name).

use std::collections::BTreeMap;

use jiff::Timestamp;
use redb::{ReadTransaction, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{StoreError, codec, tables};
use crate::domain::ids::{GpuTypeId, HardwareSpecId, ImageId, JobTemplateId, ProjectId, UserId};

/// A stored job template. The catalog items are kept by id, so a run
/// finds out when one was retired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobTemplateRecord {
    pub id: JobTemplateId,
    pub project: ProjectId,
    pub owner: UserId,
    /// Lowercase letters and digits, unique in the project.
    pub name: String,
    /// None: CPU only.
    pub gpu_type: Option<GpuTypeId>,
    pub gpu_count: u32,
    pub spec: HardwareSpecId,
    pub image: ImageId,
    /// The image's tag (the operation environment's version).
    pub version: String,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Run by `sh -c`.
    pub command: String,
    /// Size of /dev/shm in MiB (0: the runtime's default).
    #[serde(default)]
    pub shm_mib: u64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What [`insert_tx`] and [`update_tx`] name in `StoreError::Conflict` when
/// the project already has a template of this name.
pub const NAME_TAKEN: &str = "a job template of this name";

/// Stores a new template with its indexes.
pub fn insert_tx(tx: &WriteTransaction, record: &JobTemplateRecord) -> Result<(), StoreError> {
    let id = record.id.as_u128();
    let project = record.project.as_u128();
    let mut names = tx.open_table(tables::PROJECT_JOB_TEMPLATE_NAME_TO_ID)?;
    if names.get((project, record.name.as_str()))?.is_some() {
        return Err(StoreError::Conflict(NAME_TAKEN));
    }
    names.insert((project, record.name.as_str()), id)?;
    tx.open_multimap_table(tables::PROJECT_ID_TO_JOB_TEMPLATE_IDS)?
        .insert(project, id)?;
    tx.open_table(tables::JOB_TEMPLATE_ID_TO_TEMPLATE)?
        .insert(id, codec::encode(record)?.as_slice())?;
    Ok(())
}

/// Replaces a template (same id and project), moving its name index.
pub fn update_tx(tx: &WriteTransaction, record: &JobTemplateRecord) -> Result<(), StoreError> {
    let id = record.id.as_u128();
    let project = record.project.as_u128();
    let old: JobTemplateRecord = get_tx(tx, record.id)?
        .ok_or_else(|| StoreError::Corrupt(format!("job template {} is gone", record.id)))?;
    if old.name != record.name {
        let mut names = tx.open_table(tables::PROJECT_JOB_TEMPLATE_NAME_TO_ID)?;
        if names.get((project, record.name.as_str()))?.is_some() {
            return Err(StoreError::Conflict(NAME_TAKEN));
        }
        names.remove((project, old.name.as_str()))?;
        names.insert((project, record.name.as_str()), id)?;
    }
    tx.open_table(tables::JOB_TEMPLATE_ID_TO_TEMPLATE)?
        .insert(id, codec::encode(record)?.as_slice())?;
    Ok(())
}

pub fn get_tx(
    tx: &WriteTransaction,
    id: JobTemplateId,
) -> Result<Option<JobTemplateRecord>, StoreError> {
    codec::decode_one(
        &tx.open_table(tables::JOB_TEMPLATE_ID_TO_TEMPLATE)?,
        id.as_u128(),
    )
}

pub fn get_read_tx(
    tx: &ReadTransaction,
    id: JobTemplateId,
) -> Result<Option<JobTemplateRecord>, StoreError> {
    codec::decode_one(
        &tx.open_table(tables::JOB_TEMPLATE_ID_TO_TEMPLATE)?,
        id.as_u128(),
    )
}

/// Removes a template and its index entries; returns what was removed.
pub fn remove_tx(
    tx: &WriteTransaction,
    id: JobTemplateId,
) -> Result<Option<JobTemplateRecord>, StoreError> {
    let removed: Option<JobTemplateRecord> = tx
        .open_table(tables::JOB_TEMPLATE_ID_TO_TEMPLATE)?
        .remove(id.as_u128())?
        .map(|b| codec::decode(b.value()))
        .transpose()?;
    if let Some(record) = &removed {
        let project = record.project.as_u128();
        tx.open_table(tables::PROJECT_JOB_TEMPLATE_NAME_TO_ID)?
            .remove((project, record.name.as_str()))?;
        tx.open_multimap_table(tables::PROJECT_ID_TO_JOB_TEMPLATE_IDS)?
            .remove(project, id.as_u128())?;
    }
    Ok(removed)
}

/// The templates of `project`, oldest first.
pub fn of_project_read_tx(
    tx: &ReadTransaction,
    project: ProjectId,
) -> Result<Vec<JobTemplateRecord>, StoreError> {
    codec::decode_indexed(
        &tx.open_multimap_table(tables::PROJECT_ID_TO_JOB_TEMPLATE_IDS)?,
        &tx.open_table(tables::JOB_TEMPLATE_ID_TO_TEMPLATE)?,
        project.as_u128(),
    )
}
