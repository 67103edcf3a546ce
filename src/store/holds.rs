//! Resource holds: what each workload holds inside its project. A hold is
//! written in the same transaction that checks the quota, so parallel
//! requests can never hold more than the quota together.

use jiff::Timestamp;
use redb::{ReadTransaction, ReadableMultimapTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{StoreError, codec, tables};
use crate::domain::ids::{HoldId, ProjectId, UserId};
use crate::domain::quota::Resources;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldRecord {
    pub id: HoldId,
    pub project: ProjectId,
    pub owner: UserId,
    pub resources: Resources,
    /// What holds it, for people reading the records (e.g. a container's name).
    pub label: String,
    pub created_at: Timestamp,
}

fn ids_tx(tx: &WriteTransaction, project: ProjectId) -> Result<Vec<u128>, StoreError> {
    tx.open_multimap_table(tables::PROJECT_ID_TO_HOLD_IDS)?
        .get(project.as_u128())?
        .map(|id| id.map(|v| v.value()))
        .collect::<Result<_, _>>()
        .map_err(StoreError::from)
}

/// Every hold inside `project`.
pub fn of_project_tx(
    tx: &WriteTransaction,
    project: ProjectId,
) -> Result<Vec<HoldRecord>, StoreError> {
    codec::decode_indexed(
        &tx.open_multimap_table(tables::PROJECT_ID_TO_HOLD_IDS)?,
        &tx.open_table(tables::HOLD_ID_TO_HOLD)?,
        project.as_u128(),
    )
}

/// Every hold inside `project`, in a read transaction.
pub fn of_project_read_tx(
    tx: &ReadTransaction,
    project: ProjectId,
) -> Result<Vec<HoldRecord>, StoreError> {
    codec::decode_indexed(
        &tx.open_multimap_table(tables::PROJECT_ID_TO_HOLD_IDS)?,
        &tx.open_table(tables::HOLD_ID_TO_HOLD)?,
        project.as_u128(),
    )
}

/// The total of `holds`, and of the ones owned by `owner`.
pub fn totals(holds: &[HoldRecord], owner: Option<UserId>) -> (Resources, Resources) {
    let mut all = Resources::ZERO;
    let mut mine = Resources::ZERO;
    for h in holds {
        all = all.checked_add(h.resources).unwrap_or(all);
        if Some(h.owner) == owner {
            mine = mine.checked_add(h.resources).unwrap_or(mine);
        }
    }
    (all, mine)
}

pub fn put_tx(tx: &WriteTransaction, hold: &HoldRecord) -> Result<(), StoreError> {
    tx.open_table(tables::HOLD_ID_TO_HOLD)?
        .insert(hold.id.as_u128(), codec::encode(hold)?.as_slice())?;
    tx.open_multimap_table(tables::PROJECT_ID_TO_HOLD_IDS)?
        .insert(hold.project.as_u128(), hold.id.as_u128())?;
    Ok(())
}

/// Removes one hold; returns whether it existed.
pub fn delete_tx(tx: &WriteTransaction, id: HoldId) -> Result<bool, StoreError> {
    let removed: Option<HoldRecord> = tx
        .open_table(tables::HOLD_ID_TO_HOLD)?
        .remove(id.as_u128())?
        .map(|b| codec::decode(b.value()))
        .transpose()?;
    if let Some(hold) = &removed {
        tx.open_multimap_table(tables::PROJECT_ID_TO_HOLD_IDS)?
            .remove(hold.project.as_u128(), id.as_u128())?;
    }
    Ok(removed.is_some())
}

/// Removes every hold inside `project`; returns how many.
pub fn delete_project_tx(tx: &WriteTransaction, project: ProjectId) -> Result<usize, StoreError> {
    let ids = ids_tx(tx, project)?;
    for id in &ids {
        delete_tx(tx, HoldId::from_u128(*id))?;
    }
    Ok(ids.len())
}
