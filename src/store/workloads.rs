//! Workloads (containers, jobs, image commits): what the user wants of each
//! and what the cluster was last seen doing, with the indexes the use cases
//! and the reconcile loop read — by project, by name inside the project, and
//! the due list of work still to apply (so a pass never scans everything).
//!
//! The records hold the cluster layer's plain data types (`Observed`,
//! `WorkloadEvent`) as they are, never a driver.

use jiff::Timestamp;
use redb::{ReadTransaction, ReadableMultimapTable, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{StoreError, codec, due, holds, runs, tables};
use crate::cluster::{Observed, WorkloadEvent, WorkloadKind};
use crate::domain::ids::{HoldId, ProjectId, UserId};
use crate::domain::workload::{
    ContainerSpec, FailureReason, ImageCommitSpec, JobSpec, VolumeMount, WorkloadId, WorkloadStatus,
};

/// How many events a workload keeps (the newest).
pub const EVENTS_KEPT: usize = 100;

/// What is run: a container, a job or an image commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "spec", rename_all = "snake_case")]
pub enum WorkloadSpec {
    Container(ContainerSpec),
    Job(JobSpec),
    ImageCommit(ImageCommitSpec),
}

impl WorkloadSpec {
    pub fn id(&self) -> WorkloadId {
        match self {
            WorkloadSpec::Container(s) => s.meta.id,
            WorkloadSpec::Job(s) => s.meta.id,
            WorkloadSpec::ImageCommit(s) => s.id,
        }
    }

    pub fn project(&self) -> ProjectId {
        match self {
            WorkloadSpec::Container(s) => s.meta.project,
            WorkloadSpec::Job(s) => s.meta.project,
            WorkloadSpec::ImageCommit(s) => s.project,
        }
    }

    pub fn owner(&self) -> UserId {
        match self {
            WorkloadSpec::Container(s) => s.meta.owner,
            WorkloadSpec::Job(s) => s.meta.owner,
            WorkloadSpec::ImageCommit(s) => s.owner,
        }
    }

    /// The name unique in the project (image commits have none).
    pub fn name(&self) -> Option<&str> {
        match self {
            WorkloadSpec::Container(s) => Some(&s.meta.name),
            WorkloadSpec::Job(s) => Some(&s.meta.name),
            WorkloadSpec::ImageCommit(_) => None,
        }
    }

    pub fn kind(&self) -> WorkloadKind {
        match self {
            WorkloadSpec::Container(_) => WorkloadKind::Container,
            WorkloadSpec::Job(_) => WorkloadKind::Job,
            WorkloadSpec::ImageCommit(_) => WorkloadKind::ImageCommit,
        }
    }

    /// The project's volumes it mounts.
    pub fn volumes(&self) -> &[VolumeMount] {
        match self {
            WorkloadSpec::Container(s) => &s.volumes,
            WorkloadSpec::Job(s) => &s.volumes,
            WorkloadSpec::ImageCommit(_) => &[],
        }
    }

    /// The project's volumes it mounts, to change how they are mounted.
    pub fn volumes_mut(&mut self) -> &mut [VolumeMount] {
        match self {
            WorkloadSpec::Container(s) => &mut s.volumes,
            WorkloadSpec::Job(s) => &mut s.volumes,
            WorkloadSpec::ImageCommit(_) => &mut [],
        }
    }
}

/// What the user wants of a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Desired {
    /// A container: running. A job or an image commit: run (once).
    Running,
    /// A container: stopped. A job: cancelled.
    Stopped,
    /// Removed from the cluster, then from the store.
    Deleted,
}

/// The last thing that went wrong applying a workload or volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastError {
    pub at: Timestamp,
    /// A short CamelCase reason (`NotEnoughGpus`, `Unreachable`, `Timeout`).
    pub reason: String,
    pub message: String,
    /// Failed attempts in a row.
    pub attempts: u32,
    /// When it is tried again; None: not before the desired state changes.
    pub retry_at: Option<Timestamp>,
}

/// A stored workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadRecord {
    pub spec: WorkloadSpec,
    pub desired: Desired,
    /// Counts changes of the desired state; a result of the reconcile loop
    /// settles the work only for the generation it was made for.
    pub generation: u64,
    /// What the cluster was last seen doing (None: nothing yet).
    #[serde(default)]
    pub observed: Option<Observed>,
    #[serde(default)]
    pub error: Option<LastError>,
    /// Status changes and errors, oldest first, at most [`EVENTS_KEPT`].
    #[serde(default)]
    pub events: Vec<WorkloadEvent>,
    /// When the reconcile loop works on it next (None: nothing to do); a
    /// container scheduled to start later is due at its start time.
    /// `DUE_WORKLOAD_IDS` holds the earlier of this and the container's end
    /// time ([`WorkloadRecord::due_entry`]).
    #[serde(default)]
    pub due_at: Option<Timestamp>,
    /// What it holds of its project's quota while it is to run (None: a
    /// stopped container, an ended job, an image commit, a queued job).
    #[serde(default)]
    pub hold: Option<HoldId>,
    /// A job waiting in its project's queue (listed in
    /// `PROJECT_ID_TO_QUEUED_JOB_IDS`): it holds nothing and is not due.
    #[serde(default)]
    pub queued: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl WorkloadRecord {
    pub fn id(&self) -> WorkloadId {
        self.spec.id()
    }

    /// The status to show: what the cluster reports; before that Creating,
    /// or Failed with the error when it will not be retried by itself.
    /// Scheduled while a container waits for its start time.
    pub fn status(&self) -> WorkloadStatus {
        match (&self.observed, &self.error) {
            (Some(observed), _) => observed.status.clone(),
            (None, Some(error)) if error.retry_at.is_none() => {
                WorkloadStatus::failed(FailureReason::Other(error.message.clone()))
            }
            (None, None) if self.queued => WorkloadStatus::Queued,
            (None, None) if self.waits_for_start() => WorkloadStatus::Scheduled,
            (None, _) => WorkloadStatus::Creating,
        }
    }

    /// Whether it is a container to run that was never applied and is due
    /// at its start time.
    fn waits_for_start(&self) -> bool {
        match &self.spec {
            WorkloadSpec::Container(spec) => {
                self.desired == Desired::Running
                    && spec.start_at.is_some()
                    && self.due_at == spec.start_at
            }
            _ => false,
        }
    }

    /// When it is to be deleted by its schedule: a container's end time,
    /// unless it is being deleted already.
    pub fn end_at(&self) -> Option<Timestamp> {
        match &self.spec {
            WorkloadSpec::Container(spec) if self.desired != Desired::Deleted => spec.end_at,
            _ => None,
        }
    }

    /// Whether its end time has come at `now` (and it is not being deleted
    /// yet).
    pub fn has_ended(&self, now: Timestamp) -> bool {
        self.end_at().is_some_and(|end| end <= now)
    }

    /// Its entry in the due list: the earlier of [`WorkloadRecord::due_at`]
    /// and [`WorkloadRecord::end_at`], so that the reconcile loop wakes for
    /// the end of a container too, after a restart as well.
    pub fn due_entry(&self) -> Option<Timestamp> {
        match (self.due_at, self.end_at()) {
            (Some(due), Some(end)) => Some(due.min(end)),
            (due, end) => due.or(end),
        }
    }

    /// Adds an event, dropping the oldest beyond [`EVENTS_KEPT`].
    pub fn push_event(&mut self, event: WorkloadEvent) {
        self.events.push(event);
        if self.events.len() > EVENTS_KEPT {
            let extra = self.events.len() - EVENTS_KEPT;
            self.events.drain(..extra);
        }
    }
}

pub fn get_tx(tx: &WriteTransaction, id: WorkloadId) -> Result<Option<WorkloadRecord>, StoreError> {
    codec::decode_one(
        &tx.open_table(tables::WORKLOAD_ID_TO_WORKLOAD)?,
        id.as_u128(),
    )
}

pub fn get_read_tx(
    tx: &ReadTransaction,
    id: WorkloadId,
) -> Result<Option<WorkloadRecord>, StoreError> {
    codec::decode_one(
        &tx.open_table(tables::WORKLOAD_ID_TO_WORKLOAD)?,
        id.as_u128(),
    )
}

/// Keeps the run intervals of a container or job in step with its status
/// at `at` (`runs::sync_tx`).
fn sync_runs_tx(
    tx: &WriteTransaction,
    record: &WorkloadRecord,
    at: Timestamp,
) -> Result<(), StoreError> {
    match record.spec.kind() {
        WorkloadKind::Container | WorkloadKind::Job => runs::sync_tx(
            tx,
            record.id(),
            record.status() == WorkloadStatus::Running,
            at,
        ),
        WorkloadKind::ImageCommit => Ok(()),
    }
}

/// Writes `record` over `previous`, moving its due entry along.
fn write_tx(
    tx: &WriteTransaction,
    previous: Option<&WorkloadRecord>,
    record: &WorkloadRecord,
) -> Result<(), StoreError> {
    let id = record.id().as_u128();
    due::move_tx(
        tx,
        tables::DUE_WORKLOAD_IDS,
        id,
        previous.and_then(WorkloadRecord::due_entry),
        record.due_entry(),
    )?;
    if previous.is_some_and(|p| p.queued) != record.queued {
        let mut queue = tx.open_multimap_table(tables::PROJECT_ID_TO_QUEUED_JOB_IDS)?;
        let project = record.spec.project().as_u128();
        if record.queued {
            queue.insert(project, id)?;
        } else {
            queue.remove(project, id)?;
        }
    }
    tx.open_table(tables::WORKLOAD_ID_TO_WORKLOAD)?
        .insert(id, codec::encode(record)?.as_slice())?;
    Ok(())
}

/// Whether project `project` has a workload named `name`.
pub fn name_taken_tx(
    tx: &WriteTransaction,
    project: ProjectId,
    name: &str,
) -> Result<bool, StoreError> {
    let names = tx.open_table(tables::PROJECT_WORKLOAD_NAME_TO_ID)?;
    Ok(names.get((project.as_u128(), name))?.is_some())
}

/// Stores a new workload with its indexes; refuses a name the project
/// already has (`StoreError::Conflict`).
pub fn insert_tx(tx: &WriteTransaction, record: &WorkloadRecord) -> Result<(), StoreError> {
    let id = record.id().as_u128();
    let project = record.spec.project().as_u128();
    if let Some(name) = record.spec.name() {
        let mut names = tx.open_table(tables::PROJECT_WORKLOAD_NAME_TO_ID)?;
        if names.get((project, name))?.is_some() {
            return Err(StoreError::Conflict("a workload of this name"));
        }
        names.insert((project, name), id)?;
    }
    tx.open_multimap_table(tables::PROJECT_ID_TO_WORKLOAD_IDS)?
        .insert(project, id)?;
    index_container_tx(tx, record)?;
    index_job_tx(tx, record)?;
    sync_runs_tx(tx, record, record.created_at)?;
    write_tx(tx, None, record)
}

/// Adds a container to the list's index (other workloads are not listed
/// there); whether it was one.
pub(super) fn index_container_tx(
    tx: &WriteTransaction,
    record: &WorkloadRecord,
) -> Result<bool, StoreError> {
    let WorkloadSpec::Container(spec) = &record.spec else {
        return Ok(false);
    };
    tx.open_table(tables::PROJECT_CONTAINER_ID_TO_OWNER_NAME)?
        .insert(
            (spec.meta.project.as_u128(), spec.meta.id.as_u128()),
            (spec.meta.owner.as_u128(), spec.meta.name.as_str()),
        )?;
    Ok(true)
}

/// Records a job in the job list's index (false: not a job).
pub(super) fn index_job_tx(
    tx: &WriteTransaction,
    record: &WorkloadRecord,
) -> Result<bool, StoreError> {
    let WorkloadSpec::Job(spec) = &record.spec else {
        return Ok(false);
    };
    tx.open_table(tables::PROJECT_JOB_ID_TO_OWNER_NAME)?
        .insert(
            (spec.meta.project.as_u128(), spec.meta.id.as_u128()),
            (spec.meta.owner.as_u128(), spec.meta.name.as_str()),
        )?;
    Ok(true)
}

/// A container or job as its list's index has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: WorkloadId,
    pub owner: UserId,
    pub name: String,
}

/// `project`'s containers or jobs (`kind`; other kinds have no list),
/// newest first, read from the list's index: no record is decoded.
pub fn listed_read_tx(
    tx: &ReadTransaction,
    kind: WorkloadKind,
    project: ProjectId,
) -> Result<Vec<Listed>, StoreError> {
    let index = match kind {
        WorkloadKind::Container => tables::PROJECT_CONTAINER_ID_TO_OWNER_NAME,
        WorkloadKind::Job => tables::PROJECT_JOB_ID_TO_OWNER_NAME,
        _ => return Ok(Vec::new()),
    };
    let table = tx.open_table(index)?;
    let p = project.as_u128();
    let mut listed = Vec::new();
    for entry in table.range((p, 0)..=(p, u128::MAX))?.rev() {
        let (key, value) = entry?;
        let (owner, name) = value.value();
        listed.push(Listed {
            id: WorkloadId::from_u128(key.value().1),
            owner: UserId::from_u128(owner),
            name: name.to_owned(),
        });
    }
    Ok(listed)
}

/// Changes a workload with `change` and writes it back, with `updated_at`
/// set to `now`, when anything changed (an unchanged record is not
/// rewritten). Its run intervals follow its status at `now` either way.
/// None when it does not exist.
pub fn update_tx<R>(
    tx: &WriteTransaction,
    id: WorkloadId,
    now: Timestamp,
    change: impl FnOnce(&mut WorkloadRecord) -> R,
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
    sync_runs_tx(tx, &record, now)?;
    Ok(Some(result))
}

/// Removes a workload, its index entries and its hold, and ends its open
/// run interval at `now`; returns what was removed.
pub fn remove_tx(
    tx: &WriteTransaction,
    id: WorkloadId,
    now: Timestamp,
) -> Result<Option<WorkloadRecord>, StoreError> {
    let removed: Option<WorkloadRecord> = tx
        .open_table(tables::WORKLOAD_ID_TO_WORKLOAD)?
        .remove(id.as_u128())?
        .map(|b| codec::decode(b.value()))
        .transpose()?;
    if let Some(record) = &removed {
        let project = record.spec.project().as_u128();
        if let Some(name) = record.spec.name() {
            tx.open_table(tables::PROJECT_WORKLOAD_NAME_TO_ID)?
                .remove((project, name))?;
        }
        tx.open_multimap_table(tables::PROJECT_ID_TO_WORKLOAD_IDS)?
            .remove(project, id.as_u128())?;
        tx.open_table(tables::PROJECT_CONTAINER_ID_TO_OWNER_NAME)?
            .remove((project, id.as_u128()))?;
        tx.open_table(tables::PROJECT_JOB_ID_TO_OWNER_NAME)?
            .remove((project, id.as_u128()))?;
        if record.queued {
            tx.open_multimap_table(tables::PROJECT_ID_TO_QUEUED_JOB_IDS)?
                .remove(project, id.as_u128())?;
        }
        due::move_tx(
            tx,
            tables::DUE_WORKLOAD_IDS,
            id.as_u128(),
            record.due_entry(),
            None,
        )?;
        if let Some(hold) = record.hold {
            holds::delete_tx(tx, hold)?;
        }
        runs::sync_tx(tx, id, false, now)?;
    }
    Ok(removed)
}

/// The workloads of `project`, oldest first.
pub fn of_project_read_tx(
    tx: &ReadTransaction,
    project: ProjectId,
) -> Result<Vec<WorkloadRecord>, StoreError> {
    codec::decode_indexed(
        &tx.open_multimap_table(tables::PROJECT_ID_TO_WORKLOAD_IDS)?,
        &tx.open_table(tables::WORKLOAD_ID_TO_WORKLOAD)?,
        project.as_u128(),
    )
}

/// The workloads of `project`, oldest first, in a write transaction.
pub fn of_project_tx(
    tx: &WriteTransaction,
    project: ProjectId,
) -> Result<Vec<WorkloadRecord>, StoreError> {
    codec::decode_indexed(
        &tx.open_multimap_table(tables::PROJECT_ID_TO_WORKLOAD_IDS)?,
        &tx.open_table(tables::WORKLOAD_ID_TO_WORKLOAD)?,
        project.as_u128(),
    )
}

/// The ids of the jobs queued in `project`, first in first: ids are
/// time-ordered (UUIDv7), so the index's order is the order of creation.
pub fn queued_ids_tx(
    tx: &WriteTransaction,
    project: ProjectId,
) -> Result<Vec<WorkloadId>, StoreError> {
    tx.open_multimap_table(tables::PROJECT_ID_TO_QUEUED_JOB_IDS)?
        .get(project.as_u128())?
        .map(|id| id.map(|v| WorkloadId::from_u128(v.value())))
        .collect::<Result<_, _>>()
        .map_err(StoreError::from)
}

/// The ids of the jobs queued in `project`, first in first, in a read
/// transaction.
pub fn queued_ids_read_tx(
    tx: &ReadTransaction,
    project: ProjectId,
) -> Result<Vec<WorkloadId>, StoreError> {
    tx.open_multimap_table(tables::PROJECT_ID_TO_QUEUED_JOB_IDS)?
        .get(project.as_u128())?
        .map(|id| id.map(|v| WorkloadId::from_u128(v.value())))
        .collect::<Result<_, _>>()
        .map_err(StoreError::from)
}

/// Every workload, oldest first.
pub fn all_read_tx(tx: &ReadTransaction) -> Result<Vec<WorkloadRecord>, StoreError> {
    codec::decode_all(&tx.open_table(tables::WORKLOAD_ID_TO_WORKLOAD)?)
}

/// At most `limit` workloads due at `now` or before (their work, or a
/// container's end time), the longest waiting first.
pub fn due_read_tx(
    tx: &ReadTransaction,
    now: Timestamp,
    limit: usize,
) -> Result<Vec<WorkloadRecord>, StoreError> {
    due::records_read_tx(
        tx,
        tables::DUE_WORKLOAD_IDS,
        tables::WORKLOAD_ID_TO_WORKLOAD,
        now,
        limit,
    )
}

/// When the next workload falls due, if any does.
pub fn next_due_read_tx(tx: &ReadTransaction) -> Result<Option<Timestamp>, StoreError> {
    due::next_read_tx(tx, tables::DUE_WORKLOAD_IDS)
}

/// Ids of every workload with a due entry (waiting for a retry or for work).
pub fn due_ids_tx(tx: &WriteTransaction) -> Result<Vec<WorkloadId>, StoreError> {
    Ok(due::ids_tx(tx, tables::DUE_WORKLOAD_IDS)?
        .into_iter()
        .map(WorkloadId::from_u128)
        .collect())
}

/// A job for tests: wanted running, generation 1, nothing observed, failed
/// or due, created at `at`, with ids of its own.
#[cfg(test)]
pub(crate) fn test_job(at: Timestamp) -> WorkloadRecord {
    use crate::domain::workload::{ImageRef, Resources, WorkloadMeta};
    WorkloadRecord {
        spec: WorkloadSpec::Job(JobSpec {
            meta: WorkloadMeta {
                id: WorkloadId::generate(),
                project: ProjectId::generate(),
                owner: UserId::generate(),
                name: "train".into(),
            },
            image: ImageRef {
                name: "ubuntu".into(),
                tag: "24.04".into(),
            },
            command: "true".into(),
            env: std::collections::BTreeMap::new(),
            resources: Resources::default(),
            volumes: Vec::new(),
            time_limit_secs: None,
            origin: crate::domain::workload::JobOrigin::Immediately,
        }),
        desired: Desired::Running,
        generation: 1,
        observed: None,
        error: None,
        events: Vec::new(),
        due_at: None,
        hold: None,
        queued: false,
        created_at: at,
        updated_at: at,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::cluster::Endpoint;
    use crate::domain::catalog::{Protocol, ServiceKind};
    use crate::domain::workload::{
        ImageRef, Resources, ServiceSpec, SshAccess, WorkloadMeta, WorkloadStatus,
    };

    fn record() -> WorkloadRecord {
        let at: Timestamp = "2026-11-29T08:00:00Z".parse().expect("time");
        let id = WorkloadId::from_u128(7);
        WorkloadRecord {
            spec: WorkloadSpec::Container(ContainerSpec {
                meta: WorkloadMeta {
                    id,
                    project: ProjectId::from_u128(1),
                    owner: UserId::from_u128(2),
                    name: "web".into(),
                },
                image: ImageRef {
                    name: "ubuntu".into(),
                    tag: "24.04".into(),
                },
                command: None,
                env: BTreeMap::new(),
                resources: Resources::default(),
                volumes: Vec::new(),
                services: vec![ServiceSpec {
                    name: "http".into(),
                    kind: ServiceKind::Custom,
                    port: 8000,
                    protocol: Protocol::Http,
                    local_command: Some("python3 -m http.server $PORT".into()),
                }],
                ssh: SshAccess::from_password("a secret password", "storetest").expect("a hash"),
                start_at: None,
                end_at: None,
            }),
            desired: Desired::Running,
            generation: 3,
            observed: Some(Observed {
                id,
                status: WorkloadStatus::Running,
                endpoints: vec![Endpoint {
                    service: "http".into(),
                    host: "127.0.0.1".into(),
                    port: 40000,
                    url: "http://127.0.0.1:40000/".into(),
                    login: None,
                }],
                gpus: vec![0],
                started_at: Some(at),
                finished_at: None,
            }),
            error: Some(LastError {
                at,
                reason: "NotEnoughGpus".into(),
                message: "not enough free GPUs".into(),
                attempts: 2,
                retry_at: Some(at),
            }),
            events: vec![WorkloadEvent {
                at,
                warning: false,
                reason: "Started".into(),
                message: "every service listens".into(),
            }],
            due_at: Some(at),
            hold: Some(HoldId::from_u128(9)),
            queued: false,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn records_round_trip_through_the_codec() {
        let record = record();
        let bytes = codec::encode(&record).expect("encode");
        let back: WorkloadRecord = codec::decode(&bytes).expect("decode");
        assert_eq!(back, record);
        let json = String::from_utf8_lossy(&bytes[1..]).into_owned();
        assert!(json.contains(r#""kind":"container""#), "{json}");
        assert!(json.contains(r#""desired":"running""#), "{json}");
    }

    #[test]
    fn a_minimal_record_of_this_version_still_reads() {
        // The fields a first version wrote; later fields default.
        let json = r#"{"spec":{"kind":"job","spec":{"meta":{"id":"0191c0b4-7b64-7e1c-9d2a-3f4b5c6d7e8f","project":"0191c0b4-7b64-7e1c-9d2a-3f4b5c6d7e80","owner":"0191c0b4-7b64-7e1c-9d2a-3f4b5c6d7e81","name":"train"},"image":{"name":"ubuntu","tag":"24.04"},"command":"echo hi","resources":{"cpu_milli":1000,"ram_mib":1024}}},"desired":"stopped","generation":1,"created_at":"2026-11-29T08:00:00Z","updated_at":"2026-11-29T08:00:00Z"}"#;
        let mut bytes = vec![1u8];
        bytes.extend_from_slice(json.as_bytes());
        let record: WorkloadRecord = codec::decode(&bytes).expect("decode");
        assert_eq!(record.desired, Desired::Stopped);
        assert_eq!(record.spec.kind(), WorkloadKind::Job);
        assert_eq!(record.spec.name(), Some("train"));
        assert_eq!(record.status(), WorkloadStatus::Creating);
        assert!(record.events.is_empty() && record.due_at.is_none() && record.hold.is_none());
    }

    #[test]
    fn a_scheduled_container_waits_and_its_end_is_in_the_due_list() {
        let dir = tempfile::tempdir().expect("dir");
        let store = super::super::Store::open_in(dir.path()).expect("store");
        let at = |text: &str| -> Timestamp { text.parse().expect("time") };
        let (start, end) = (at("2026-11-29T10:00:00Z"), at("2026-11-29T12:00:00Z"));
        let mut record = record();
        record.observed = None;
        record.error = None;
        record.due_at = Some(start);
        if let WorkloadSpec::Container(spec) = &mut record.spec {
            spec.start_at = Some(start);
            spec.end_at = Some(end);
        }
        assert_eq!(record.status(), WorkloadStatus::Scheduled);
        assert_eq!(record.due_entry(), Some(start));
        let id = record.id();
        store.write(|tx| insert_tx(tx, &record)).expect("insert");
        let due = |now: &str| {
            store
                .read(|tx| due_read_tx(tx, at(now), 10))
                .expect("read")
                .len()
        };
        assert_eq!(due("2026-11-29T09:59:59Z"), 0);
        assert_eq!(due("2026-11-29T10:00:00Z"), 1);

        // Applied: nothing more to do but the end stays in the list.
        let applied = at("2026-11-29T10:00:01Z");
        store
            .write(|tx| {
                update_tx(tx, id, applied, |r| {
                    r.due_at = None;
                    r.observed = super::tests::record().observed;
                })
            })
            .expect("update");
        assert_eq!(due("2026-11-29T11:59:59Z"), 0);
        assert_eq!(due("2026-11-29T12:00:00Z"), 1);
        let stored = store.read(|tx| get_read_tx(tx, id)).expect("read");
        assert_eq!(stored.map(|r| r.status()), Some(WorkloadStatus::Running));

        // Being deleted: due now, whatever the end time.
        store
            .write(|tx| {
                update_tx(tx, id, applied, |r| {
                    r.desired = Desired::Deleted;
                    r.due_at = Some(applied);
                })
            })
            .expect("update");
        assert_eq!(due("2026-11-29T10:00:01Z"), 1);
        store
            .write(|tx| remove_tx(tx, id, applied))
            .expect("remove");
        assert_eq!(due("2030-01-01T00:00:00Z"), 0, "its entry went with it");
    }

    #[test]
    fn run_intervals_follow_the_status_and_outlive_the_record() {
        use crate::domain::cost::RunInterval;
        let dir = tempfile::tempdir().expect("dir");
        let store = super::super::Store::open_in(dir.path()).expect("store");
        let at = |text: &str| -> Timestamp { text.parse().expect("time") };
        let running = record().observed;
        let mut created = record();
        created.observed = None;
        created.error = None;
        let id = created.id();
        store.write(|tx| insert_tx(tx, &created)).expect("insert");
        let set = |now: &str, observed: Option<Observed>| {
            store
                .write(|tx| update_tx(tx, id, at(now), |r| r.observed = observed))
                .expect("update");
        };
        let stopped = running.clone().map(|mut o| {
            o.status = WorkloadStatus::Stopped;
            o
        });
        set("2026-11-29T09:00:00Z", running.clone());
        // The same observation again (a resync): the interval goes on.
        set("2026-11-29T09:30:00Z", running.clone());
        set("2026-11-29T10:00:00Z", stopped);
        set("2026-11-29T11:00:00Z", running.clone());
        store
            .write(|tx| remove_tx(tx, id, at("2026-11-29T11:15:00Z")))
            .expect("remove");
        let intervals = store
            .read(|tx| super::super::runs::of_workload_read_tx(tx, id))
            .expect("read");
        assert_eq!(
            intervals,
            [
                RunInterval {
                    start: at("2026-11-29T09:00:00Z"),
                    end: Some(at("2026-11-29T10:00:00Z")),
                },
                RunInterval {
                    start: at("2026-11-29T11:00:00Z"),
                    end: Some(at("2026-11-29T11:15:00Z")),
                },
            ]
        );
    }

    #[test]
    fn statuses_and_events() {
        let mut record = record();
        assert_eq!(record.status(), WorkloadStatus::Running);
        record.observed = None;
        assert_eq!(record.status(), WorkloadStatus::Creating, "retried later");
        if let Some(error) = &mut record.error {
            error.retry_at = None;
        }
        assert_eq!(
            record.status(),
            WorkloadStatus::failed(FailureReason::Other("not enough free GPUs".into()))
        );
        let event = record.events[0].clone();
        for n in 0..EVENTS_KEPT + 5 {
            record.push_event(WorkloadEvent {
                message: n.to_string(),
                ..event.clone()
            });
        }
        assert_eq!(record.events.len(), EVENTS_KEPT);
        assert_eq!(record.events[0].message, "5", "the oldest go first");
        assert_eq!(
            record.events.last().map(|e| e.message.as_str()),
            Some("104")
        );
    }
}
