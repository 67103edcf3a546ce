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
//!
//! A snapshot also keeps the records and owners' usernames that pages of it
//! decoded, so that the same page asked again before the next commit (the
//! status polling of every open list, many members of one project) is not
//! decoded again. A reader asks for the snapshot before it opens its own
//! read transaction, so what it decodes is at least as new as the snapshot;
//! the snapshot is dropped at the next commit with what it kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::cluster::WorkloadKind;
use crate::domain::ids::{ProjectId, UserId};
use crate::domain::workload::WorkloadId;
use crate::store::workloads::{self, Listed, WorkloadRecord};
use crate::store::{ReadTx, Store, StoreError, users};

/// One project's list of one kind, as of `commits`.
#[derive(Debug)]
pub(crate) struct ListSnapshot {
    commits: u64,
    /// Newest first.
    pub(crate) listed: Vec<Listed>,
    /// Each queued job's place, from 0 (jobs only).
    pub(crate) queue: HashMap<WorkloadId, usize>,
    /// What pages of this snapshot decoded.
    decoded: Mutex<Decoded>,
}

#[derive(Debug, Default)]
struct Decoded {
    records: HashMap<WorkloadId, Arc<WorkloadRecord>>,
    usernames: HashMap<UserId, Option<Arc<str>>>,
}

impl ListSnapshot {
    fn decoded(&self) -> std::sync::MutexGuard<'_, Decoded> {
        self.decoded.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The record of `id`, decoded once per snapshot, in `tx` (opened after
    /// this snapshot was taken).
    pub(crate) fn record(
        &self,
        tx: &ReadTx,
        id: WorkloadId,
    ) -> Result<Option<Arc<WorkloadRecord>>, StoreError> {
        if let Some(record) = self.decoded().records.get(&id) {
            return Ok(Some(Arc::clone(record)));
        }
        let Some(record) = workloads::get_read_tx(tx, id)?.map(Arc::new) else {
            return Ok(None);
        };
        self.decoded().records.insert(id, Arc::clone(&record));
        Ok(Some(record))
    }

    /// The username of `user` (None: no such user), decoded once per
    /// snapshot, in `tx`.
    pub(crate) fn username(
        &self,
        tx: &ReadTx,
        user: UserId,
    ) -> Result<Option<Arc<str>>, StoreError> {
        if let Some(name) = self.decoded().usernames.get(&user) {
            return Ok(name.clone());
        }
        let name: Option<Arc<str>> =
            users::get_read_tx(tx, user)?.map(|u| Arc::from(u.username.as_str()));
        self.decoded().usernames.insert(user, name.clone());
        Ok(name)
    }
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
        // The lock is held while a stale snapshot is read again, so the
        // requests that find it stale at once wait for one read instead of
        // each making its own.
        let mut latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(snapshot) = latest.get(&key).filter(|s| s.commits == commits) {
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
                decoded: Mutex::default(),
            })
        })?);
        latest.insert(key, Arc::clone(&snapshot));
        Ok(snapshot)
    }
}
