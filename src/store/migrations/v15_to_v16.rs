//! Schema 15 → 16: storage becomes part of the project quota.
//!
//! From schema 16 every volume holds its size against its project's storage
//! quota (`VolumeRecord::hold`), and a project's quota has a storage amount
//! in GB. This step gives each volume from before a hold of its size, and
//! raises each project's storage quota to what its volumes already use, so
//! nothing that exists is over quota; more storage needs an administrator
//! to raise it (or a quota application), as for the other resources.

use std::collections::HashMap;

use jiff::Timestamp;
use redb::WriteTransaction;

use crate::domain::ids::{HoldId, ProjectId};
use crate::domain::quota::Resources;
use crate::store::holds::{self, HoldRecord};
use crate::store::{StoreError, projects, volumes};

pub(super) fn run_tx(tx: &WriteTransaction) -> Result<(), StoreError> {
    let now = Timestamp::now();
    let mut used: HashMap<ProjectId, u64> = HashMap::new();
    let mut held = 0usize;
    for volume in volumes::all_tx(tx)? {
        if volume.hold.is_some() {
            continue;
        }
        let hold = HoldRecord {
            id: HoldId::generate(),
            project: volume.spec.project,
            owner: volume.spec.owner,
            resources: Resources::storage(volume.spec.size_gib),
            label: volume.spec.name.clone(),
            created_at: now,
        };
        holds::put_tx(tx, &hold)?;
        volumes::update_tx(tx, volume.id, volume.updated_at, |v| v.hold = Some(hold.id))?;
        let total = used.entry(volume.spec.project).or_default();
        *total = total.saturating_add(volume.spec.size_gib);
        held += 1;
    }
    for mut project in projects::all_tx(tx)? {
        let in_use = used.get(&project.id).copied().unwrap_or(0);
        if project.quota.storage_gib < in_use {
            project.quota.storage_gib = in_use;
            projects::put_tx(tx, &project)?;
        }
    }
    tracing::info!(
        volumes = held,
        "held the volumes' sizes against their projects' storage quotas"
    );
    Ok(())
}
