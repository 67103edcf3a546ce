//! The container and job lists' snapshots: a project's listed workloads
//! (id, owner, name; newest first) and, for jobs, the queue's order, read
//! once per change of the store instead of on every request. The lists and
//! their status polling are the most frequent pages, and a project may hold
//! ten thousand queued jobs: with a snapshot a page costs its own ten
//! records, not a walk over every job.
//!
//! A snapshot is taken with the store's commit count read before its read
//! transaction, so it is at least as new as that count; any later commit
//! makes it stale and the next request reads a new one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::cluster::WorkloadKind;
use crate::domain::ids::ProjectId;
use crate::domain::workload::WorkloadId;
use crate::store::workloads::{self, Listed};
use crate::store::{Store, StoreError};

/// One project's list of one kind, as of `commits`.
#[derive(Debug)]
pub(crate) struct ListSnapshot {
    commits: u64,
    /// Newest first.
    pub(crate) listed: Vec<Listed>,
    /// Each queued job's place, from 0 (jobs only).
    pub(crate) queue: HashMap<WorkloadId, usize>,
}

/// The latest snapshot of each (project, kind) asked for.
#[derive(Debug, Default)]
pub(crate) struct ListSnapshots {
    latest: Mutex<HashMap<(ProjectId, WorkloadKind), Arc<ListSnapshot>>>,
}

impl ListSnapshots {
    /// The current snapshot of `project`'s list of `kind`, read anew when
    /// the store changed since the last one.
    pub(crate) fn current(
        &self,
        store: &Store,
        project: ProjectId,
        kind: WorkloadKind,
    ) -> Result<Arc<ListSnapshot>, StoreError> {
        let commits = store.commits();
        let key = (project, kind);
        if let Some(snapshot) = self
            .latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .filter(|s| s.commits == commits)
        {
            return Ok(Arc::clone(snapshot));
        }
        let snapshot = Arc::new(store.read(|tx| {
            let listed = workloads::listed_read_tx(tx, kind, project)?;
            let queue = if kind == WorkloadKind::Job {
                workloads::queued_ids_read_tx(tx, project)?
                    .into_iter()
                    .enumerate()
                    .map(|(place, id)| (id, place))
                    .collect()
            } else {
                HashMap::new()
            };
            Ok::<_, StoreError>(ListSnapshot {
                commits,
                listed,
                queue,
            })
        })?);
        self.latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, Arc::clone(&snapshot));
        Ok(snapshot)
    }
}
