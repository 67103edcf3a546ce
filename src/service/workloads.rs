//! Containers, jobs and volumes: the user's use cases write the desired
//! state and wake the reconcile loop (they never wait on the cluster to
//! change anything); logs and events ask the driver, bounded by the request
//! timeout. The second half serves the reconcile loop: its work list and
//! the recording of what the driver did, in batches.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::guards::{
    HoldRefusal, check_container_image_tx, hold_storage_tx, hold_tx, live_project_read_tx,
    live_project_tx, refusal_error, requested, role_of, try_hold_tx,
};
use super::storage::StorageOutcome;
use super::{ClusterAccess, ServiceError, Services};
use crate::cluster::{
    Driver, DriverError, DriverEvent, LogStream, Observed, ProjectSpec, ProxyRequest,
    ProxyResponse, WorkloadEvent, WorkloadKind,
};
use crate::domain::audit::AuditAction;
use crate::domain::authz::{
    ProjectAction, WorkloadAction, permits_project, permits_storage_view, permits_workload,
    storage_mount,
};
use crate::domain::catalog::{Protocol, ServiceKind};
use crate::domain::ids::{HoldId, ProjectId, StorageTypeId, UserId, VolumeId};
use crate::domain::mail::MailKind;
use crate::domain::queue::{QueuePlace, may_queue_another, wait_of};
use crate::domain::quota::QuotaRefusal;
use crate::domain::storage::{MountAccess, StoragePermission};
use crate::domain::validation::FieldErrors;
use crate::domain::workload::{
    ContainerSpec, JobSpec, ServiceSpec, VolumeSpec, WorkloadId, WorkloadStatus,
};
use crate::i18n::Catalog;
use crate::notify;
use crate::store::activations::{self, ActivationStatus};
use crate::store::projects::{self, ProjectRecord};
use crate::store::users::{self, UserRecord};
use crate::store::volumes::{self, VolumeDesired, VolumeRecord};
use crate::store::workloads::{self, Desired, LastError, Listed, WorkloadRecord, WorkloadSpec};
use crate::store::{StoreError, WriteTx};
use crate::store::{holds, platform};

/// The most log lines one request reads.
pub const LOG_LINES_MAX: usize = 10_000;

/// Checks the permission table for one workload or volume: someone who may
/// not even see it gets NotFound (a teammate's container is not shown to
/// exist, like a project to a non-member).
pub(super) fn require(
    user: &UserRecord,
    project: &ProjectRecord,
    owner: UserId,
    action: WorkloadAction,
) -> Result<(), ServiceError> {
    let role = role_of(user);
    let membership = project.role_of(user.id);
    let owner = owner == user.id;
    if permits_workload(role, membership, owner, action) {
        Ok(())
    } else if permits_workload(role, membership, owner, WorkloadAction::View) {
        Err(ServiceError::Forbidden)
    } else {
        Err(ServiceError::NotFound)
    }
}

/// Checks the permission table for a volume: like [`require`], but every
/// member of the project sees a volume its permission shares (and is told
/// Forbidden, not NotFound, for what they may not do to it).
pub(super) fn require_volume(
    user: &UserRecord,
    project: &ProjectRecord,
    volume: &VolumeRecord,
    action: WorkloadAction,
) -> Result<(), ServiceError> {
    let membership = project.role_of(user.id);
    let owner = volume.spec.owner == user.id;
    match require(user, project, volume.spec.owner, action) {
        Err(ServiceError::NotFound)
            if permits_storage_view(role_of(user), membership, owner, volume.permission) =>
        {
            if action == WorkloadAction::View {
                Ok(())
            } else {
                Err(ServiceError::Forbidden)
            }
        }
        other => other,
    }
}

/// The CamelCase word of a status in a workload's events.
fn status_reason(status: &WorkloadStatus) -> &'static str {
    match status {
        WorkloadStatus::Scheduled => "Scheduled",
        WorkloadStatus::Queued => "Queued",
        WorkloadStatus::Creating => "Creating",
        WorkloadStatus::Running => "Running",
        WorkloadStatus::Stopping => "Stopping",
        WorkloadStatus::Stopped => "Stopped",
        WorkloadStatus::Succeeded => "Succeeded",
        WorkloadStatus::Failed { .. } => "Failed",
    }
}

fn event(at: Timestamp, warning: bool, reason: &str, message: String) -> WorkloadEvent {
    WorkloadEvent {
        at,
        warning,
        reason: reason.to_owned(),
        message,
    }
}

/// Makes `desired` the new desired state of a workload, due at `now`, with
/// an event saying why; a new generation, so that results for the old one
/// settle nothing.
fn request(
    record: &mut WorkloadRecord,
    desired: Desired,
    now: Timestamp,
    reason: &str,
    message: String,
) {
    record.desired = desired;
    record.generation += 1;
    record.error = None;
    record.due_at = Some(now);
    record.push_event(event(now, false, reason, message));
}

/// Writes a new desired state of a workload (see [`request`]) with `hold`
/// as what it holds; a workload no longer to run (stopped, cancelled,
/// deleted) gives its hold back in the same transaction: a deletion
/// releases the quota at once, not when the driver has removed it.
fn request_tx(
    tx: &WriteTx,
    id: WorkloadId,
    desired: Desired,
    now: Timestamp,
    reason: &str,
    message: String,
    hold: Option<HoldId>,
) -> Result<(), StoreError> {
    let released = workloads::update_tx(tx, id, now, |r| {
        request(r, desired, now, reason, message);
        r.hold = hold;
        if desired != Desired::Running {
            r.hold.take().map(|h| (h, r.spec.project()))
        } else {
            None
        }
    })?
    .flatten();
    if let Some((hold, project)) = released {
        release_tx(tx, hold, project, now)?;
    }
    Ok(())
}

/// Gives back `hold` of a workload in `project` and starts the jobs of the
/// project's queue that fit now, in the caller's transaction.
fn release_tx(
    tx: &WriteTx,
    hold: HoldId,
    project: ProjectId,
    now: Timestamp,
) -> Result<(), StoreError> {
    holds::delete_tx(tx, hold)?;
    start_queued_tx(tx, project, now)?;
    Ok(())
}

/// Starts the jobs queued in `project` that fit now, first in first out,
/// in the caller's transaction: each takes its hold and becomes due in the
/// same write, so a queued job never starts past a quota. A job short of
/// the project's quota stops the pass (no job overtakes it); one short of
/// only its owner's cap lets the jobs behind it go first. Returns how many
/// started; the caller wakes the reconcile loop.
pub(crate) fn start_queued_tx(
    tx: &WriteTx,
    project: ProjectId,
    now: Timestamp,
) -> Result<usize, StoreError> {
    let ids = workloads::queued_ids_tx(tx, project)?;
    if ids.is_empty() {
        return Ok(0);
    }
    let Some(p) = projects::get_tx(tx, project)?.filter(|p| !p.deleted) else {
        return Ok(0);
    };
    let mut started = 0;
    for id in ids {
        let Some(record) = workloads::get_tx(tx, id)? else {
            continue;
        };
        match try_hold_tx(tx, &p, &record.spec, now)? {
            Ok(hold) => {
                workloads::update_tx(tx, id, now, |r| {
                    r.queued = false;
                    r.hold = Some(hold);
                    r.due_at = Some(now);
                    let message = "resources were freed: it leaves the queue".to_owned();
                    r.push_event(event(now, false, "Dequeued", message));
                })?;
                started += 1;
            }
            Err(HoldRefusal::Quota(QuotaRefusal::Project { .. }))
            | Err(HoldRefusal::ProjectNotActive) => break,
            Err(_) => continue,
        }
    }
    Ok(started)
}

/// Takes a queued job out of its project's queue, in the caller's
/// transaction: a cancellation ends it as Stopped (it never reached the
/// cluster), a deletion removes its record. The jobs behind it may start.
fn unqueue_tx(
    tx: &WriteTx,
    record: &WorkloadRecord,
    delete: bool,
    now: Timestamp,
    reason: &str,
    message: String,
) -> Result<(), StoreError> {
    let id = record.id();
    if delete {
        workloads::remove_tx(tx, id, now)?;
    } else {
        workloads::update_tx(tx, id, now, |r| {
            r.queued = false;
            r.desired = Desired::Stopped;
            r.generation += 1;
            r.due_at = None;
            r.observed = Some(Observed {
                id,
                status: WorkloadStatus::Stopped,
                endpoints: Vec::new(),
                gpus: Vec::new(),
                started_at: None,
                finished_at: Some(now),
            });
            r.push_event(event(now, false, reason, message));
        })?;
    }
    start_queued_tx(tx, record.spec.project(), now)?;
    Ok(())
}

/// The start time of a container scheduled to start after `now`.
fn scheduled_start(spec: &WorkloadSpec, now: Timestamp) -> Option<Timestamp> {
    match spec {
        WorkloadSpec::Container(container) => container.start_at.filter(|start| *start > now),
        WorkloadSpec::Job(_) | WorkloadSpec::ImageCommit(_) => None,
    }
}

/// Gives back the hold of a job (or image commit) that has ended: it runs
/// no more. Containers keep theirs while they are to run.
fn release_if_ended(record: &mut WorkloadRecord) -> Option<HoldId> {
    let ended = record.spec.kind() != WorkloadKind::Container && record.status().is_terminal();
    if ended { record.hold.take() } else { None }
}

/// Makes deletion the desired state of a volume, due at `now`.
pub(super) fn request_volume_deletion(volume: &mut VolumeRecord, now: Timestamp) {
    volume.desired = VolumeDesired::Deleted;
    volume.generation += 1;
    volume.error = None;
    volume.due_at = Some(now);
}

/// A workload blocks deleting the volumes it mounts while it may still run:
/// a container until it is gone (a stopped one can start again), a job
/// until it has ended.
pub(super) fn blocks_volume_deletion(record: &WorkloadRecord) -> bool {
    match record.spec.kind() {
        WorkloadKind::Container => true,
        WorkloadKind::Job | WorkloadKind::ImageCommit => !record.status().is_terminal(),
    }
}

/// Runs one driver call, never longer than the request timeout; None when
/// the driver does not know the workload (not applied yet).
pub(super) async fn bounded<T>(
    cluster: &ClusterAccess,
    call: impl Future<Output = Result<T, DriverError>>,
) -> Result<Option<T>, ServiceError> {
    match tokio::time::timeout(cluster.request_timeout, call).await {
        Ok(Ok(value)) => Ok(Some(value)),
        Ok(Err(DriverError::NotFound { .. })) => Ok(None),
        Ok(Err(DriverError::Timeout)) | Err(_) => Err(ServiceError::ClusterTimeout),
        Ok(Err(e)) => Err(ServiceError::Cluster(e.to_string())),
    }
}

/// Writes a new workload (desired: running) and the hold of what it
/// requests, in the caller's transaction; `actor` created it. The volumes
/// it mounts must be present volumes of the project that `actor` may see.
pub(super) fn insert_workload_tx(
    tx: &WriteTx,
    actor: &UserRecord,
    p: &ProjectRecord,
    mut spec: WorkloadSpec,
    now: Timestamp,
) -> Result<(), ServiceError> {
    if !p.status.is_usable() {
        return Err(ServiceError::Refused("error.workload.project_not_active"));
    }
    if let WorkloadSpec::Container(container) = &spec {
        check_container_image_tx(tx, actor, p, &container.image)?;
    }
    // Each volume mounts as its permission allows the workload's owner (a
    // project-read-only one read-only for all but its owner); one the owner
    // may not mount is refused like one that does not exist.
    let owner = spec.owner();
    for mount in spec.volumes_mut() {
        let access = volumes::by_name_tx(tx, p.id, &mount.volume)?
            .filter(|v| v.desired == VolumeDesired::Present)
            .and_then(|v| storage_mount(p.role_of(owner), v.spec.owner == owner, v.permission));
        match access {
            Some(MountAccess::ReadOnly) => mount.read_only = true,
            Some(MountAccess::ReadWrite) => {}
            None => {
                return Err(ServiceError::Invalid(FieldErrors::single(
                    "volumes",
                    "workload.error.volume_unknown",
                )));
            }
        }
    }
    // A scheduled container holds its share from now on, so that its start
    // cannot fail for quota later. A job that does not fit waits in the
    // queue instead (never refused for quota).
    let hold = match spec.kind() {
        WorkloadKind::Job => job_hold_tx(tx, p, &spec, now)?,
        _ => Some(hold_tx(tx, p, &spec, now)?),
    };
    super::cost::record_workload_order_tx(tx, actor, p, &spec, now)?;
    let start = scheduled_start(&spec, now);
    let mut message = format!("created by {}", actor.username.as_str());
    if let Some(start) = start {
        message.push_str(&format!(", to start at {start}"));
    }
    if hold.is_none() {
        message.push_str(", queued");
    }
    let record = WorkloadRecord {
        spec,
        desired: Desired::Running,
        generation: 1,
        observed: None,
        error: None,
        events: vec![event(now, false, "Created", message)],
        due_at: hold.map(|_| start.unwrap_or(now)),
        queued: hold.is_none(),
        hold,
        created_at: now,
        updated_at: now,
    };
    workloads::insert_tx(tx, &record).map_err(|e| match e {
        StoreError::Conflict(_) => {
            ServiceError::Invalid(FieldErrors::single("name", "workload.error.name_taken"))
        }
        other => other.into(),
    })?;
    if record.queued {
        // Only its owner's cap may be short while the one ahead waits for
        // the project: it may go first.
        start_queued_tx(tx, p.id, now)?;
    }
    Ok(())
}

/// A new job's hold, or None when it is to wait in its project's queue:
/// the project's quota or its owner's cap is short now, or jobs are queued
/// ahead of it (first in, first out). Refusals other than quota (activation,
/// project status, membership) are answered as errors.
fn job_hold_tx(
    tx: &WriteTx,
    p: &ProjectRecord,
    spec: &WorkloadSpec,
    now: Timestamp,
) -> Result<Option<HoldId>, ServiceError> {
    match try_hold_tx(tx, p, spec, now)? {
        Ok(hold) if workloads::queued_ids_tx(tx, p.id)?.is_empty() => Ok(Some(hold)),
        Ok(hold) => {
            holds::delete_tx(tx, hold)?;
            check_queue_cap_tx(tx, p.id, spec.owner())?;
            Ok(None)
        }
        Err(HoldRefusal::Quota(_)) => {
            check_queue_cap_tx(tx, p.id, spec.owner())?;
            Ok(None)
        }
        Err(other) => Err(refusal_error(other, p)),
    }
}

/// Refuses another queued job of `owner` in `project` when the platform's
/// cap of queued jobs per member is reached.
fn check_queue_cap_tx(tx: &WriteTx, project: ProjectId, owner: UserId) -> Result<(), ServiceError> {
    let Some(limit) = platform::get_tx(tx)?.queued_jobs_per_member else {
        return Ok(());
    };
    let mut waiting = 0;
    for id in workloads::queued_ids_tx(tx, project)? {
        if workloads::get_tx(tx, id)?.is_some_and(|r| r.spec.owner() == owner) {
            waiting += 1;
        }
    }
    if may_queue_another(waiting, Some(limit)) {
        Ok(())
    } else {
        Err(ServiceError::QueueFull { limit })
    }
}

/// A page of a project's containers (or jobs) and how many match in all.
#[derive(Debug, Clone)]
pub struct ContainerPage {
    /// Shared with the list's snapshot, which decoded them.
    pub items: Vec<Arc<WorkloadRecord>>,
    pub total: usize,
    /// The page shown (the last one when the one asked for is past it).
    pub page: usize,
    /// The usernames of the page's owners.
    pub owners: HashMap<UserId, String>,
    /// The platform's time zone, which the page shows times in.
    pub zone: TimeZone,
}

/// A change of desired state a user asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Stop,
    Start,
    Cancel,
    Delete,
}

impl Services {
    /// Reads the project and checks that `actor` may create workloads in it;
    /// done before the request is validated, so that someone who may not
    /// learns nothing from the validation messages.
    async fn authorize_create(
        &self,
        actor: &UserRecord,
        project: ProjectId,
    ) -> Result<(), ServiceError> {
        let actor = actor.clone();
        self.blocking(move |store| {
            store.read(|tx| {
                let p = live_project_read_tx(tx, project)?;
                require(&actor, &p, actor.id, WorkloadAction::Create)
            })
        })
        .await
    }

    /// Records a new workload (desired: running) with its hold on the
    /// project's quota, in one transaction, and wakes the reconcile loop;
    /// answers once the record is durably committed.
    async fn insert_workload(
        &self,
        actor: &UserRecord,
        spec: WorkloadSpec,
    ) -> Result<WorkloadId, ServiceError> {
        let actor = actor.clone();
        let now = self.clock.now();
        let id = spec.id();
        self.blocking(move |store| {
            store.write(|tx| {
                let p = live_project_tx(tx, spec.project())?;
                require(&actor, &p, actor.id, WorkloadAction::Create)?;
                insert_workload_tx(tx, &actor, &p, spec, now)
            })
        })
        .await?;
        self.wake_reconciler();
        Ok(id)
    }

    /// Creates a container in `spec.meta.project`, owned by `actor`, to run
    /// at once or at its start time, and to be deleted at its end time. The
    /// spec's id and owner are set here.
    pub async fn create_container(
        &self,
        actor: &UserRecord,
        mut spec: ContainerSpec,
    ) -> Result<WorkloadId, ServiceError> {
        self.authorize_create(actor, spec.meta.project).await?;
        spec.meta.id = WorkloadId::generate();
        spec.meta.owner = actor.id;
        spec.validate_new(self.clock.now())
            .map_err(ServiceError::Invalid)?;
        self.insert_workload(actor, WorkloadSpec::Container(spec))
            .await
    }

    /// Creates containers owned by members of one project (a manager's
    /// batch creation, manual §5.4), all or nothing: every container and its
    /// hold is written in one transaction, so the whole batch is one quota
    /// check and either all of them exist afterwards or none. Each spec's
    /// owner is the member it is for; ids are set here.
    pub async fn create_container_batch(
        &self,
        actor: &UserRecord,
        specs: Vec<ContainerSpec>,
    ) -> Result<Vec<WorkloadId>, ServiceError> {
        let Some(project) = specs.first().map(|s| s.meta.project) else {
            return Ok(Vec::new());
        };
        let actor = actor.clone();
        let now = self.clock.now();
        let mut checked = Vec::with_capacity(specs.len());
        for mut spec in specs {
            if spec.meta.project != project {
                return Err(ServiceError::NotFound);
            }
            spec.meta.id = WorkloadId::generate();
            spec.validate_new(now).map_err(ServiceError::Invalid)?;
            checked.push(WorkloadSpec::Container(spec));
        }
        let ids: Vec<WorkloadId> = checked.iter().map(WorkloadSpec::id).collect();
        self.blocking(move |store| {
            store.write(|tx| {
                let p = live_project_tx(tx, project)?;
                let role = role_of(&actor);
                if !permits_project(role, p.role_of(actor.id), ProjectAction::Manage) {
                    return Err(
                        if permits_project(role, p.role_of(actor.id), ProjectAction::View) {
                            ServiceError::Forbidden
                        } else {
                            ServiceError::NotFound
                        },
                    );
                }
                for spec in checked {
                    insert_workload_tx(tx, &actor, &p, spec, now)?;
                }
                Ok(())
            })
        })
        .await?;
        self.wake_reconciler();
        Ok(ids)
    }

    /// Creates a job in `spec.meta.project`, owned by `actor`, to run once.
    /// The spec's id and owner are set here.
    pub async fn create_job(
        &self,
        actor: &UserRecord,
        mut spec: JobSpec,
    ) -> Result<WorkloadId, ServiceError> {
        self.authorize_create(actor, spec.meta.project).await?;
        spec.meta.id = WorkloadId::generate();
        spec.meta.owner = actor.id;
        spec.validate().map_err(ServiceError::Invalid)?;
        self.insert_workload(actor, WorkloadSpec::Job(spec)).await
    }

    /// Stops a running container (its files stay; it can start again).
    pub async fn stop_container(
        &self,
        actor: &UserRecord,
        id: WorkloadId,
    ) -> Result<(), ServiceError> {
        self.change_workload(actor, id, Change::Stop).await
    }

    /// Starts a stopped (or failed) container again.
    pub async fn start_container(
        &self,
        actor: &UserRecord,
        id: WorkloadId,
    ) -> Result<(), ServiceError> {
        self.change_workload(actor, id, Change::Start).await
    }

    /// Cancels a job that has not ended.
    pub async fn cancel_job(&self, actor: &UserRecord, id: WorkloadId) -> Result<(), ServiceError> {
        self.change_workload(actor, id, Change::Cancel).await
    }

    /// Deletes a container or job: it is stopped and removed from the
    /// cluster, then its record goes.
    pub async fn delete_workload(
        &self,
        actor: &UserRecord,
        id: WorkloadId,
    ) -> Result<(), ServiceError> {
        self.change_workload(actor, id, Change::Delete).await
    }

    async fn change_workload(
        &self,
        actor: &UserRecord,
        id: WorkloadId,
        change: Change,
    ) -> Result<(), ServiceError> {
        let actor = actor.clone();
        let now = self.clock.now();
        let stamp = self.audit_stamp();
        let changed = self
            .blocking(move |store| {
                store.write(|tx| {
                    let record = workloads::get_tx(tx, id)?.ok_or(ServiceError::NotFound)?;
                    let p = live_project_tx(tx, record.spec.project())?;
                    require(&actor, &p, record.spec.owner(), WorkloadAction::Operate)?;
                    let deleting = change == Change::Delete
                        && record.spec.kind() != WorkloadKind::ImageCommit
                        && record.desired != Desired::Deleted;
                    let target = format!("{}/{}", p.name, record.spec.name().unwrap_or_default());
                    if deleting {
                        stamp.record_tx(tx, AuditAction::WorkloadDeleted, target.clone())?;
                    }
                    // Stops, starts and cancels are recorded when they change
                    // something (a delete is recorded above, even when it is
                    // already under way).
                    let audited = match change {
                        Change::Stop => Some(AuditAction::ContainerStopped),
                        Change::Start => Some(AuditAction::ContainerStarted),
                        Change::Cancel => Some(AuditAction::JobCancelled),
                        Change::Delete => None,
                    };
                    let kind = record.spec.kind();
                    let fits = match change {
                        Change::Stop | Change::Start => kind == WorkloadKind::Container,
                        Change::Cancel => kind == WorkloadKind::Job,
                        Change::Delete => kind != WorkloadKind::ImageCommit,
                    };
                    if !fits {
                        return Err(ServiceError::NotFound);
                    }
                    if record.desired == Desired::Deleted {
                        return Err(ServiceError::Refused("error.workload.deleting"));
                    }
                    if change == Change::Start && !p.status.is_usable() {
                        return Err(ServiceError::Refused("error.workload.project_not_active"));
                    }
                    if record.queued {
                        let delete = change == Change::Delete;
                        let word = if delete { "delete" } else { "cancel" };
                        let message = format!("{word} requested by {}", actor.username.as_str());
                        unqueue_tx(tx, &record, delete, now, "Cancelled", message)?;
                        if let Some(action) = audited {
                            stamp.record_tx(tx, action, target)?;
                        }
                        return Ok(true);
                    }
                    let ended = record.status().is_terminal();
                    let (desired, reason, word) = match change {
                        // Nothing to stop or cancel once it has ended.
                        Change::Stop if record.desired == Desired::Stopped => return Ok(false),
                        Change::Cancel if record.desired == Desired::Stopped || ended => {
                            return Ok(false);
                        }
                        // Running and not ended: nothing to start.
                        Change::Start if record.desired == Desired::Running && !ended => {
                            return Ok(false);
                        }
                        Change::Stop => (Desired::Stopped, "StopRequested", "stop"),
                        Change::Start => (Desired::Running, "StartRequested", "start"),
                        Change::Cancel => (Desired::Stopped, "CancelRequested", "cancel"),
                        Change::Delete => (Desired::Deleted, "DeleteRequested", "delete"),
                    };
                    // Running again takes its share of the quota again.
                    let hold = match (change, record.hold) {
                        (Change::Start, None) => Some(hold_tx(tx, &p, &record.spec, now)?),
                        (_, held) => held,
                    };
                    let message = format!("{word} requested by {}", actor.username.as_str());
                    request_tx(tx, id, desired, now, reason, message, hold)?;
                    if let Some(action) = audited {
                        stamp.record_tx(tx, action, target)?;
                    }
                    Ok(true)
                })
            })
            .await?;
        if changed {
            self.wake_reconciler();
        }
        Ok(())
    }

    /// One workload, if `viewer` may see it.
    pub async fn workload(
        &self,
        viewer: &UserRecord,
        id: WorkloadId,
    ) -> Result<WorkloadRecord, ServiceError> {
        self.workload_for(viewer, id, WorkloadAction::View).await
    }

    /// One workload, if `user` may do `action` to it (someone who may not
    /// see it gets NotFound).
    pub async fn workload_for(
        &self,
        user: &UserRecord,
        id: WorkloadId,
        action: WorkloadAction,
    ) -> Result<WorkloadRecord, ServiceError> {
        let viewer = user.clone();
        self.blocking(move |store| {
            store.read(|tx| {
                let record = workloads::get_read_tx(tx, id)?.ok_or(ServiceError::NotFound)?;
                let p = live_project_read_tx(tx, record.spec.project())?;
                require(&viewer, &p, record.spec.owner(), action)?;
                Ok(record)
            })
        })
        .await
    }

    /// The workloads of a project `viewer` may see (members their own,
    /// managers and admins all), newest first.
    pub async fn project_workloads(
        &self,
        viewer: &UserRecord,
        project: ProjectId,
    ) -> Result<Vec<WorkloadRecord>, ServiceError> {
        let viewer = viewer.clone();
        self.blocking(move |store| {
            store.read(|tx| {
                let p = live_project_read_tx(tx, project)?;
                if !permits_project(role_of(&viewer), p.role_of(viewer.id), ProjectAction::View) {
                    return Err(ServiceError::NotFound);
                }
                let mut list: Vec<WorkloadRecord> = workloads::of_project_read_tx(tx, project)?
                    .into_iter()
                    .filter(|r| require(&viewer, &p, r.spec.owner(), WorkloadAction::View).is_ok())
                    .collect();
                list.reverse();
                Ok(list)
            })
        })
        .await
    }

    /// Where each of the jobs `ids` of `project` that is queued stands,
    /// for someone who may see the project: its place (from 1), the jobs
    /// ahead of it and why it waits, with the numbers of the project's quota
    /// and its owner's cap as they are now. Only those jobs' records are
    /// read (a list asks for its page's: ten thousand may wait), once per
    /// list snapshot; inline, as the list's page is (see `listed_page`).
    pub async fn queue_places(
        &self,
        viewer: &UserRecord,
        project: ProjectId,
        ids: &[WorkloadId],
    ) -> Result<BTreeMap<WorkloadId, QueuePlace>, ServiceError> {
        let queue = self
            .lists
            .current(&self.store, project, WorkloadKind::Job)?;
        self.store.read(|tx| {
            let p = live_project_read_tx(tx, project)?;
            if !permits_project(role_of(viewer), p.role_of(viewer.id), ProjectAction::View) {
                return Err(ServiceError::NotFound);
            }
            let held = holds::of_project_read_tx(tx, project)?;
            let mut places = BTreeMap::new();
            for (id, ahead) in ids
                .iter()
                .filter_map(|id| queue.queue.get(id).map(|ahead| (*id, *ahead)))
            {
                let Some(record) = queue.record(tx, id)? else {
                    continue;
                };
                let owner = record.spec.owner();
                let (project_use, member_use) = holds::totals(&held, Some(owner));
                let cap = p
                    .members
                    .iter()
                    .find(|m| m.user == owner)
                    .map(|m| m.cap)
                    .unwrap_or_default();
                let wait = wait_of(
                    p.quota,
                    project_use,
                    cap,
                    member_use,
                    requested(&record.spec),
                );
                places.insert(
                    id,
                    QueuePlace {
                        position: ahead + 1,
                        ahead,
                        wait,
                    },
                );
            }
            Ok(places)
        })
    }

    /// Page `page` (from 1; past the end: the last) of `page_size`
    /// containers of a project that `viewer` may see (members their own,
    /// managers and admins all), newest first, whose name contains
    /// `name_part` (ignoring case); with the number of all that match.
    pub async fn project_containers(
        &self,
        viewer: &UserRecord,
        project: ProjectId,
        name_part: &str,
        page: usize,
        page_size: usize,
    ) -> Result<ContainerPage, ServiceError> {
        self.listed_page(
            viewer,
            WorkloadKind::Container,
            project,
            name_part,
            page,
            page_size,
        )
    }

    /// The same page of a project's jobs.
    pub async fn project_jobs(
        &self,
        viewer: &UserRecord,
        project: ProjectId,
        name_part: &str,
        page: usize,
        page_size: usize,
    ) -> Result<ContainerPage, ServiceError> {
        self.listed_page(
            viewer,
            WorkloadKind::Job,
            project,
            name_part,
            page,
            page_size,
        )
    }

    fn listed_page(
        &self,
        viewer: &UserRecord,
        kind: WorkloadKind,
        project: ProjectId,
        name_part: &str,
        page: usize,
        page_size: usize,
    ) -> Result<ContainerPage, ServiceError> {
        let needle = name_part.trim().to_lowercase();
        let page_size = page_size.max(1);
        // The lists and their status polling read this on every request:
        // like the session read, it runs right here (a read transaction
        // over the index and ten records), not through a hop to the
        // blocking pool, which cost more than the read. Counted and paged
        // on the list's snapshot, taken before the transaction (see
        // `lists`); only the page's records are read, once per snapshot.
        let snapshot = self.lists.current(&self.store, project, kind)?;
        self.store.read(|tx| {
            let p = live_project_read_tx(tx, project)?;
            let (role, membership) = (role_of(viewer), p.role_of(viewer.id));
            if !permits_project(role, membership, ProjectAction::View) {
                return Err(ServiceError::NotFound);
            }
            let sees_own = permits_workload(role, membership, true, WorkloadAction::View);
            let sees_others = permits_workload(role, membership, false, WorkloadAction::View);
            let everything = needle.is_empty() && sees_own && sees_others;
            let keep = |l: &&Listed| {
                everything
                    || (l.name.contains(needle.as_str())
                        && if l.owner == viewer.id {
                            sees_own
                        } else {
                            sees_others
                        })
            };
            let total = if everything {
                snapshot.listed.len()
            } else {
                snapshot.listed.iter().filter(keep).count()
            };
            let page = page.clamp(1, total.div_ceil(page_size).max(1));
            let shown = snapshot
                .listed
                .iter()
                .filter(keep)
                .skip((page - 1) * page_size)
                .take(page_size)
                .map(|l| l.id);
            let mut items = Vec::with_capacity(page_size);
            let mut owners = HashMap::new();
            for id in shown {
                let Some(record) = snapshot.record(tx, id)? else {
                    continue;
                };
                let owner = record.spec.owner();
                if let Entry::Vacant(entry) = owners.entry(owner)
                    && let Some(name) = snapshot.username(tx, owner)?
                {
                    entry.insert(name.to_string());
                }
                items.push(record);
            }
            let settings = platform::get_read_tx(tx)?;
            Ok(ContainerPage {
                items,
                total,
                page,
                owners,
                zone: TimeZone::get(&settings.time_zone).unwrap_or(TimeZone::UTC),
            })
        })
    }

    /// Creates a personal volume in `spec.project`, owned by `actor`.
    pub async fn create_volume(
        &self,
        actor: &UserRecord,
        spec: VolumeSpec,
    ) -> Result<VolumeId, ServiceError> {
        self.insert_volume(actor, spec, StoragePermission::Personal, None)
            .await
    }

    /// Stores a new volume owned by `actor` with its permission and storage
    /// type, due for the reconcile loop.
    pub(super) async fn insert_volume(
        &self,
        actor: &UserRecord,
        mut spec: VolumeSpec,
        permission: StoragePermission,
        storage_type: Option<StorageTypeId>,
    ) -> Result<VolumeId, ServiceError> {
        self.authorize_create(actor, spec.project).await?;
        spec.owner = actor.id;
        spec.validate().map_err(ServiceError::Invalid)?;
        let actor = actor.clone();
        let now = self.clock.now();
        let id = VolumeId::generate();
        self.blocking(move |store| {
            store.write(|tx| {
                let p = live_project_tx(tx, spec.project)?;
                require(&actor, &p, actor.id, WorkloadAction::Create)?;
                if !p.status.is_usable() {
                    return Err(ServiceError::Refused("error.workload.project_not_active"));
                }
                if let Some(source) = &spec.clone_of {
                    let ready = volumes::by_name_tx(tx, spec.project, source)?
                        .is_some_and(|v| v.desired == VolumeDesired::Present && v.ready);
                    if !ready {
                        return Err(ServiceError::Refused("storage.error.clone_not_ready"));
                    }
                }
                let hold = hold_storage_tx(tx, &p, actor.id, &spec.name, spec.size_gib, now)?;
                super::cost::record_volume_order_tx(tx, &actor, &p, id, &spec, now)?;
                let record = VolumeRecord {
                    id,
                    spec,
                    desired: VolumeDesired::Present,
                    generation: 1,
                    ready: false,
                    error: None,
                    due_at: Some(now),
                    created_at: now,
                    updated_at: now,
                    permission,
                    storage_type,
                    copy_percent: None,
                    hold: Some(hold),
                };
                volumes::insert_tx(tx, &record).map_err(|e| match e {
                    StoreError::Conflict(_) => ServiceError::Invalid(FieldErrors::single(
                        "name",
                        "workload.error.volume_name_taken",
                    )),
                    other => other.into(),
                })
            })
        })
        .await?;
        self.wake_reconciler();
        Ok(id)
    }

    /// Deletes a volume and its data; refused while a workload that may
    /// still run mounts it.
    pub async fn delete_volume(
        &self,
        actor: &UserRecord,
        id: VolumeId,
    ) -> Result<(), ServiceError> {
        match self.delete_storage(actor, id).await? {
            StorageOutcome::Done => Ok(()),
            StorageOutcome::MountedBy(_) | StorageOutcome::CloningInto(_) => {
                Err(ServiceError::Refused("error.volume.in_use"))
            }
        }
    }

    /// One volume, if `viewer` may see it.
    pub async fn volume(
        &self,
        viewer: &UserRecord,
        id: VolumeId,
    ) -> Result<VolumeRecord, ServiceError> {
        let viewer = viewer.clone();
        self.blocking(move |store| {
            store.read(|tx| {
                let volume = volumes::get_read_tx(tx, id)?.ok_or(ServiceError::NotFound)?;
                let p = live_project_read_tx(tx, volume.spec.project)?;
                require_volume(&viewer, &p, &volume, WorkloadAction::View)?;
                Ok(volume)
            })
        })
        .await
    }

    /// The volumes of a project `viewer` may see, newest first.
    pub async fn project_volumes(
        &self,
        viewer: &UserRecord,
        project: ProjectId,
    ) -> Result<Vec<VolumeRecord>, ServiceError> {
        let viewer = viewer.clone();
        self.blocking(move |store| {
            store.read(|tx| {
                let p = live_project_read_tx(tx, project)?;
                if !permits_project(role_of(&viewer), p.role_of(viewer.id), ProjectAction::View) {
                    return Err(ServiceError::NotFound);
                }
                let mut list: Vec<VolumeRecord> = volumes::of_project_read_tx(tx, project)?
                    .into_iter()
                    .filter(|v| require_volume(&viewer, &p, v, WorkloadAction::View).is_ok())
                    .collect();
                list.reverse();
                Ok(list)
            })
        })
        .await
    }

    /// The cluster driver, or why there is none.
    pub(super) fn cluster(&self) -> Result<&ClusterAccess, ServiceError> {
        self.cluster
            .as_ref()
            .ok_or_else(|| ServiceError::Cluster("no cluster driver in this process".into()))
    }

    /// The last `tail_lines` lines (at most [`LOG_LINES_MAX`]) of a
    /// workload's output; empty before it ran.
    pub async fn workload_logs(
        &self,
        viewer: &UserRecord,
        id: WorkloadId,
        tail_lines: usize,
    ) -> Result<String, ServiceError> {
        let record = self.workload(viewer, id).await?;
        let lines = tail_lines.clamp(1, LOG_LINES_MAX);
        // A finished job's log is read from mlstack's archive: the pod or
        // the process's folder may be gone.
        if record.spec.kind() == WorkloadKind::Job
            && record.status().is_terminal()
            && let Some(text) = self.archived_tail(viewer, id, lines).await?
        {
            return Ok(text);
        }
        let cluster = self.cluster()?;
        Ok(bounded(cluster, cluster.driver.logs(id, lines))
            .await?
            .unwrap_or_default())
    }

    /// A workload's output from its start and then as it is written, until
    /// it ends. Opening the stream is bounded by the request timeout;
    /// reading it is not (it lasts as long as the workload).
    pub async fn follow_workload_logs(
        &self,
        viewer: &UserRecord,
        id: WorkloadId,
    ) -> Result<LogStream, ServiceError> {
        self.workload(viewer, id).await?;
        let cluster = self.cluster()?;
        bounded(cluster, cluster.driver.follow_logs(id))
            .await?
            .ok_or(ServiceError::Refused("error.workload.not_started"))
    }

    /// What happened to a workload, oldest first: what mlstack recorded
    /// (requests, status changes, errors) and what the cluster reports
    /// (e.g. Kubernetes Events), merged.
    pub async fn workload_events(
        &self,
        viewer: &UserRecord,
        id: WorkloadId,
    ) -> Result<Vec<WorkloadEvent>, ServiceError> {
        let record = self.workload(viewer, id).await?;
        let mut all = record.events;
        let cluster = self.cluster()?;
        if let Some(theirs) = bounded(cluster, cluster.driver.events(id)).await? {
            all.extend(theirs);
        }
        all.sort_by_key(|e| e.at);
        all.dedup_by(|a, b| a.at == b.at && a.message == b.message);
        Ok(all)
    }

    /// Sends a request to the HTTP service `service` of container `id`, for
    /// someone who may operate it (opening a service runs code in the
    /// container: the owner, the project's managers, admins); others are
    /// told it does not exist, like a service the container does not have.
    /// Checked on every request. The driver is not bounded by the request
    /// timeout: it answers with the service's head, and a service may take
    /// its time.
    pub async fn proxy_service(
        &self,
        actor: &UserRecord,
        id: WorkloadId,
        service: &str,
        request: ProxyRequest,
    ) -> Result<ProxyResponse, ServiceError> {
        // Every request of a service's page (scripts, kernels' polls) comes
        // here: the read runs right here, like the session's, rather than
        // hopping to the blocking pool (microseconds over cached pages).
        let project = self.store.read(|tx| {
            let record = workloads::get_read_tx(tx, id)?.ok_or(ServiceError::NotFound)?;
            let p = live_project_read_tx(tx, record.spec.project())?;
            require(actor, &p, record.spec.owner(), WorkloadAction::Operate)?;
            let WorkloadSpec::Container(spec) = &record.spec else {
                return Err(ServiceError::NotFound);
            };
            let is_http = |s: &&ServiceSpec| {
                s.name == service && s.protocol == Protocol::Http && s.kind != ServiceKind::Ssh
            };
            if !spec.services.iter().any(|s| is_http(&s)) {
                return Err(ServiceError::NotFound);
            }
            if record.status() != WorkloadStatus::Running {
                return Err(ServiceError::Refused("error.proxy.not_running"));
            }
            Ok(format!("{}/{}", p.name, spec.meta.name))
        })?;
        // A session is opened by loading the service's first page (where
        // its Open link goes) or by a WebSocket; the requests of that page
        // are not events of their own.
        let path = request.path_and_query.split('?').next().unwrap_or_default();
        let opening = request.headers.contains_key(http::header::UPGRADE)
            || path == crate::cluster::proxy::service_base_path(id, service);
        if opening {
            let stamp = self.audit_stamp_for(Some(actor), "", None);
            let target = format!("{project} {service}");
            self.record_audit(stamp.event(
                AuditAction::ProxyOpened,
                target,
                crate::domain::audit::AuditOutcome::Succeeded,
            ))
            .await;
        }
        match self.cluster()?.driver.proxy(id, service, request).await {
            Ok(response) => Ok(response),
            // Stored as running, but the driver saw it end since.
            Err(DriverError::NotFound { .. }) => {
                Err(ServiceError::Refused("error.proxy.not_running"))
            }
            Err(DriverError::Timeout) => Err(ServiceError::ClusterTimeout),
            Err(e) => Err(ServiceError::Cluster(e.to_string())),
        }
    }
}

// ---------------------------------------------------------------------------
// For the reconcile loop

/// What the reconcile loop learned about one workload.
#[derive(Debug, Clone)]
pub(crate) enum WorkloadOutcome {
    /// The driver carried out the desired state of `generation`; what it
    /// observes now (None: it could not tell).
    Applied {
        id: WorkloadId,
        generation: u64,
        observed: Option<Observed>,
        events: Vec<DriverEvent>,
    },
    /// The driver confirmed the deletion: the record goes.
    Deleted { id: WorkloadId, generation: u64 },
    /// Carrying out `generation` failed.
    Failed {
        id: WorkloadId,
        generation: u64,
        error: LastError,
    },
    /// What the driver observes now, whatever the desired state.
    Observed {
        id: WorkloadId,
        observed: Observed,
        events: Vec<DriverEvent>,
    },
}

/// What the reconcile loop learned about one volume.
#[derive(Debug, Clone)]
pub(crate) enum VolumeOutcome {
    Ready {
        id: VolumeId,
        generation: u64,
    },
    Deleted {
        id: VolumeId,
        generation: u64,
    },
    /// A clone still being copied; asked again after `COPY_POLL`.
    Copying {
        id: VolumeId,
        generation: u64,
        percent: Option<u8>,
    },
    Failed {
        id: VolumeId,
        generation: u64,
        error: LastError,
    },
}

/// Records what the driver observes now, with an event when the status
/// changed: the driver's own message and time for that status when it
/// reported one (`events`, oldest first), else the status itself.
fn note_observed(
    record: &mut WorkloadRecord,
    observed: Option<Observed>,
    events: &[DriverEvent],
    now: Timestamp,
) {
    let Some(observed) = observed else {
        return;
    };
    let changed = record
        .observed
        .as_ref()
        .is_none_or(|o| o.status != observed.status);
    if changed {
        let failed = matches!(observed.status, WorkloadStatus::Failed { .. });
        let (at, message) = events
            .iter()
            .rev()
            .find(|e| e.status == observed.status)
            .map(|e| (e.at, e.message.clone()))
            .unwrap_or_else(|| (now, observed.status.to_string()));
        record.push_event(event(at, failed, status_reason(&observed.status), message));
    }
    record.observed = Some(observed);
}

/// Records a failed attempt: the error, an event when the message is new,
/// and when to try again.
fn note_error(record: &mut WorkloadRecord, error: LastError) {
    let repeated = record
        .error
        .as_ref()
        .is_some_and(|e| e.message == error.message);
    if !repeated {
        let message = match error.retry_at {
            Some(_) => format!("{} (retrying)", error.message),
            None => error.message.clone(),
        };
        record.push_event(event(error.at, true, &error.reason, message));
    }
    record.due_at = error.retry_at;
    record.error = Some(error);
}

/// A container or job whose status just became one its owner is mailed
/// about: failed, or (a job) succeeded.
struct Ended {
    owner: UserId,
    project: ProjectId,
    name: String,
    kind: WorkloadKind,
    status: WorkloadStatus,
}

/// Records the observation (`note_observed`) and says whether the record
/// just ended in a way its owner is mailed about.
fn note_observed_ending(
    record: &mut WorkloadRecord,
    observed: Option<Observed>,
    events: &[DriverEvent],
    now: Timestamp,
) -> Option<Ended> {
    let before = record.observed.as_ref().map(|o| o.status.clone());
    note_observed(record, observed, events, now);
    let status = record.observed.as_ref().map(|o| o.status.clone())?;
    let kind = record.spec.kind();
    let mailed = match &status {
        WorkloadStatus::Failed { .. } => kind != WorkloadKind::ImageCommit,
        WorkloadStatus::Succeeded => kind == WorkloadKind::Job,
        _ => false,
    };
    (mailed && before.as_ref() != Some(&status)).then(|| Ended {
        owner: record.spec.owner(),
        project: record.spec.project(),
        name: record.spec.name().unwrap_or_default().to_owned(),
        kind,
        status,
    })
}

/// Mails the owner of a workload that ended, in the same transaction, as
/// their switches say: a failure is "workload failed" (or, for a job whose
/// owner only wants job endings, "job finished"); a job that succeeded is
/// "job finished" (opt-in).
fn mail_ending_tx(
    tx: &WriteTx,
    catalog: &Catalog,
    ended: Ended,
    now: Timestamp,
) -> Result<(), StoreError> {
    let Some(owner) = users::get_tx(tx, ended.owner)? else {
        return Ok(());
    };
    let project = projects::get_tx(tx, ended.project)?
        .map(|p| p.name)
        .unwrap_or_default();
    let name = ended.name.as_str();
    match &ended.status {
        WorkloadStatus::Failed { reason } => {
            if owner.emails.prefs.wants(MailKind::WorkloadFailed) {
                super::mail::enqueue_tx(tx, catalog, &owner, MailKind::WorkloadFailed, now, |tr| {
                    notify::workload_failed(tr, &project, name, tr.t(reason.message_key()))
                })
            } else if ended.kind == WorkloadKind::Job {
                super::mail::enqueue_tx(tx, catalog, &owner, MailKind::JobFinished, now, |tr| {
                    notify::job_finished(tr, &project, name, false)
                })
            } else {
                Ok(())
            }
        }
        _ => super::mail::enqueue_tx(tx, catalog, &owner, MailKind::JobFinished, now, |tr| {
            notify::job_finished(tr, &project, name, true)
        }),
    }
}

fn apply_workload_outcome_tx(
    tx: &WriteTx,
    catalog: &Catalog,
    outcome: WorkloadOutcome,
    now: Timestamp,
) -> Result<(), StoreError> {
    let changed = match outcome {
        WorkloadOutcome::Applied {
            id,
            generation,
            observed,
            events,
        } => workloads::update_tx(tx, id, now, |r| {
            let ended = note_observed_ending(r, observed, &events, now);
            if r.generation == generation {
                r.error = None;
                r.due_at = None;
            }
            (release_if_ended(r).map(|h| (h, r.spec.project())), ended)
        })?,
        WorkloadOutcome::Deleted { id, generation } => {
            let confirmed = workloads::get_tx(tx, id)?
                .is_some_and(|r| r.generation == generation && r.desired == Desired::Deleted);
            if confirmed {
                workloads::remove_tx(tx, id, now)?;
            }
            None
        }
        WorkloadOutcome::Failed {
            id,
            generation,
            error,
        } => workloads::update_tx(tx, id, now, |r| {
            if r.generation == generation {
                note_error(r, error);
            }
            (release_if_ended(r).map(|h| (h, r.spec.project())), None)
        })?,
        WorkloadOutcome::Observed {
            id,
            observed,
            events,
        } => workloads::update_tx(tx, id, now, |r| {
            let ended = note_observed_ending(r, Some(observed), &events, now);
            (release_if_ended(r).map(|h| (h, r.spec.project())), ended)
        })?,
    };
    let (released, ended) = changed.unwrap_or((None, None));
    // A job that ended gives back what it held, in the same transaction,
    // and the queue moves.
    if let Some((hold, project)) = released {
        release_tx(tx, hold, project, now)?;
    }
    if let Some(ended) = ended {
        mail_ending_tx(tx, catalog, ended, now)?;
    }
    Ok(())
}

/// How often a clone's copy is asked how far it is.
const COPY_POLL: jiff::SignedDuration = jiff::SignedDuration::from_secs(1);

fn apply_volume_outcome_tx(
    tx: &WriteTx,
    outcome: VolumeOutcome,
    now: Timestamp,
) -> Result<(), StoreError> {
    match outcome {
        VolumeOutcome::Ready { id, generation } => {
            volumes::update_tx(tx, id, now, |v| {
                if v.generation == generation {
                    v.ready = true;
                    v.error = None;
                    v.due_at = None;
                    v.copy_percent = None;
                }
            })?;
        }
        VolumeOutcome::Copying {
            id,
            generation,
            percent,
        } => {
            volumes::update_tx(tx, id, now, |v| {
                if v.generation == generation {
                    v.error = None;
                    v.copy_percent = percent;
                    v.due_at = Some(now + COPY_POLL);
                }
            })?;
        }
        VolumeOutcome::Deleted { id, generation } => {
            let confirmed = volumes::get_tx(tx, id)?
                .is_some_and(|v| v.generation == generation && v.desired == VolumeDesired::Deleted);
            if confirmed {
                volumes::remove_tx(tx, id)?;
            }
        }
        VolumeOutcome::Failed {
            id,
            generation,
            error,
        } => {
            volumes::update_tx(tx, id, now, |v| {
                if v.generation == generation {
                    v.due_at = error.retry_at;
                    v.error = Some(error);
                }
            })?;
        }
    }
    Ok(())
}

/// A project as the driver provisions it.
pub(crate) fn project_spec(p: &ProjectRecord) -> ProjectSpec {
    ProjectSpec {
        id: p.id,
        // Codes are lowercase letters and digits: a DNS label.
        name: p.code.to_lowercase(),
        gpu_units_milli: Some(p.quota.gpu_milli),
        cpu_milli: Some(p.quota.cpu_milli),
        ram_mib: Some(p.quota.ram_mib),
        storage_gib: Some(p.quota.storage_gib),
    }
}

/// Everything the reconcile loop compares with the cluster in a resync.
pub(crate) struct Snapshot {
    pub(crate) workloads: Vec<WorkloadRecord>,
    pub(crate) volumes: Vec<VolumeRecord>,
}

impl Services {
    /// The clock's now, for the reconcile loop's retry times.
    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// At most `limit` volumes and workloads whose desired state is due.
    /// Containers whose end time came are first marked for deletion (see
    /// [`Services::end_containers`]), so they come back to be deleted.
    pub(crate) async fn due_work(
        &self,
        limit: usize,
    ) -> Result<(Vec<VolumeRecord>, Vec<WorkloadRecord>), ServiceError> {
        let now = self.clock.now();
        let read = move |store: &crate::store::Store| {
            store.read(|tx| {
                Ok((
                    volumes::due_read_tx(tx, now, limit)?,
                    workloads::due_read_tx(tx, now, limit)?,
                ))
            })
        };
        let (due_volumes, due_workloads) = self.blocking(read).await?;
        let ended: Vec<WorkloadId> = due_workloads
            .iter()
            .filter(|r| r.has_ended(now))
            .map(WorkloadRecord::id)
            .collect();
        if ended.is_empty() {
            return Ok((due_volumes, due_workloads));
        }
        self.end_containers(ended, now).await?;
        self.blocking(read).await
    }

    /// Deletes the containers among `ids` whose end time is `now` or before
    /// ("then it is deleted"): deletion becomes their desired state and
    /// their hold is given back at once, in one transaction.
    async fn end_containers(
        &self,
        ids: Vec<WorkloadId>,
        now: Timestamp,
    ) -> Result<(), ServiceError> {
        self.blocking(move |store| {
            store.write(|tx| {
                for id in ids {
                    let Some(record) = workloads::get_tx(tx, id)? else {
                        continue;
                    };
                    if !record.has_ended(now) {
                        continue;
                    }
                    let message = "the end time was reached".to_owned();
                    request_tx(tx, id, Desired::Deleted, now, "Ended", message, None)?;
                    if let Some(hold) = record.hold {
                        release_tx(tx, hold, record.spec.project(), now)?;
                    }
                }
                Ok(())
            })
        })
        .await
    }

    /// When the next volume or workload falls due.
    pub(crate) async fn next_due(&self) -> Result<Option<Timestamp>, ServiceError> {
        self.blocking(|store| {
            store.read(|tx| {
                let a = volumes::next_due_read_tx(tx)?;
                let b = workloads::next_due_read_tx(tx)?;
                Ok(a.into_iter().chain(b).min())
            })
        })
        .await
    }

    /// Every workload and volume (a resync).
    pub(crate) async fn snapshot(&self) -> Result<Snapshot, ServiceError> {
        self.blocking(|store| {
            store.read(|tx| {
                Ok(Snapshot {
                    workloads: workloads::all_read_tx(tx)?,
                    volumes: volumes::all_read_tx(tx)?,
                })
            })
        })
        .await
    }

    /// The projects as the driver provisions them (None: gone or deleted).
    pub(crate) async fn project_specs(
        &self,
        ids: Vec<ProjectId>,
    ) -> Result<BTreeMap<ProjectId, Option<(ProjectSpec, Vec<UserId>)>>, ServiceError> {
        self.blocking(move |store| {
            store.read(|tx| {
                let mut out = BTreeMap::new();
                for id in ids.iter().copied() {
                    let Some(p) = projects::get_read_tx(tx, id)?.filter(|p| !p.deleted) else {
                        out.insert(id, None);
                        continue;
                    };
                    // Members whose activation (Cloud Provisioning) passed.
                    let mut activated = Vec::new();
                    for member in &p.members {
                        let passed = activations::get_read_tx(tx, member.user)?
                            .is_some_and(|a| a.status == ActivationStatus::Passed);
                        if passed {
                            activated.push(member.user);
                        }
                    }
                    out.insert(id, Some((project_spec(&p), activated)));
                }
                Ok(out)
            })
        })
        .await
    }

    /// Writes what the driver did to many workloads in one transaction.
    /// Then the logs of jobs seen ending are archived, and those of
    /// deleted ones removed, off the loop (see `job_logs.rs`).
    pub(crate) async fn record_workload_outcomes(
        &self,
        outcomes: Vec<WorkloadOutcome>,
    ) -> Result<(), ServiceError> {
        let mut ended = Vec::new();
        let mut gone = Vec::new();
        for outcome in &outcomes {
            match outcome {
                WorkloadOutcome::Applied {
                    id,
                    observed: Some(observed),
                    ..
                }
                | WorkloadOutcome::Observed { id, observed, .. }
                    if observed.status.is_terminal() =>
                {
                    ended.push(*id);
                }
                WorkloadOutcome::Deleted { id, .. } => gone.push(*id),
                _ => {}
            }
        }
        let catalog = self.catalog.clone();
        self.record_outcomes(outcomes, move |tx, outcome, now| {
            apply_workload_outcome_tx(tx, &catalog, outcome, now)
        })
        .await?;
        if !ended.is_empty() || !gone.is_empty() {
            let services = self.clone();
            tokio::spawn(async move {
                services.archive_ended_job_logs(ended).await;
                services.forget_job_logs(gone).await;
            });
        }
        Ok(())
    }

    /// Writes what the driver did to many volumes in one transaction.
    pub(crate) async fn record_volume_outcomes(
        &self,
        outcomes: Vec<VolumeOutcome>,
    ) -> Result<(), ServiceError> {
        self.record_outcomes(outcomes, apply_volume_outcome_tx)
            .await
    }

    /// Applies `outcomes` with `apply` in one write transaction (none when
    /// there are none).
    async fn record_outcomes<O: Send + 'static>(
        &self,
        outcomes: Vec<O>,
        apply: impl Fn(&WriteTx, O, Timestamp) -> Result<(), StoreError> + Send + 'static,
    ) -> Result<(), ServiceError> {
        if outcomes.is_empty() {
            return Ok(());
        }
        let now = self.clock.now();
        self.blocking(move |store| {
            store.write(|tx| {
                for outcome in outcomes {
                    apply(tx, outcome, now)?;
                }
                Ok(())
            })
        })
        .await
    }

    /// Makes the workloads that wait for GPUs due now (some were freed);
    /// returns how many.
    pub(crate) async fn retry_gpu_waiters(
        &self,
        reason: &'static str,
    ) -> Result<usize, ServiceError> {
        let now = self.clock.now();
        self.blocking(move |store| {
            store.write(|tx| {
                let mut count = 0;
                for id in workloads::due_ids_tx(tx)? {
                    let moved = workloads::update_tx(tx, id, now, |r| {
                        let waiting = r.error.as_ref().is_some_and(|e| e.reason == reason)
                            && r.due_at.is_some_and(|at| at > now);
                        if waiting {
                            r.due_at = Some(now);
                        }
                        waiting
                    })?;
                    count += usize::from(moved == Some(true));
                }
                Ok(count)
            })
        })
        .await
    }
}

/// Sets the desired state of every workload of a project (stopped when it
/// enters its buffer period, deleted with its volumes when released), in
/// the caller's transaction; returns whether anything changed.
pub(crate) fn wind_down_project_tx(
    tx: &WriteTx,
    project: ProjectId,
    release: bool,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let (reason, message) = if release {
        ("Released", "the project was released")
    } else {
        ("BufferPeriod", "the project's period ended")
    };
    let mut changed = stop_workloads_tx(tx, project, None, release, now, reason, message)?;
    if release {
        for volume in volumes::of_project_tx(tx, project)? {
            if volume.desired == VolumeDesired::Deleted {
                continue;
            }
            volumes::update_tx(tx, volume.id, now, |v| request_volume_deletion(v, now))?;
            changed = true;
        }
    }
    Ok(changed)
}

/// Stops the running workloads `owner` has in `project` (they left it), in
/// the caller's transaction, giving back what they held; returns whether
/// anything changed.
pub(crate) fn stop_member_workloads_tx(
    tx: &WriteTx,
    project: ProjectId,
    owner: UserId,
    now: Timestamp,
) -> Result<bool, StoreError> {
    stop_workloads_tx(
        tx,
        project,
        Some(owner),
        false,
        now,
        "MemberRemoved",
        "the owner was removed from the project",
    )
}

/// Stops the running workloads `owner` has in any project (their account
/// was disabled), in the caller's transaction, giving back what they held;
/// returns whether anything changed.
pub(crate) fn stop_disabled_owner_workloads_tx(
    tx: &WriteTx,
    owner: UserId,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let mut changed = false;
    for project in projects::ids_of_user_tx(tx, owner)? {
        changed |= stop_workloads_tx(
            tx,
            project,
            Some(owner),
            false,
            now,
            "OwnerDisabled",
            "the owner's account was disabled",
        )?;
    }
    Ok(changed)
}

/// Stops a Running container whose GPUs stayed idle (its project's
/// automatic stop), in the caller's transaction: desired Stopped with an
/// `IdleStopped` event, its hold given back (queued jobs that now fit
/// start). Returns whether it changed (not when no longer running).
pub(crate) fn stop_idle_container_tx(
    tx: &WriteTx,
    id: WorkloadId,
    now: Timestamp,
    message: String,
) -> Result<bool, StoreError> {
    let Some(record) = workloads::get_tx(tx, id)? else {
        return Ok(false);
    };
    if record.spec.kind() != WorkloadKind::Container
        || record.desired != Desired::Running
        || record.queued
    {
        return Ok(false);
    }
    request_tx(
        tx,
        id,
        Desired::Stopped,
        now,
        "IdleStopped",
        message,
        record.hold,
    )?;
    Ok(true)
}

/// Stops (or, with `delete`, deletes) the workloads of `project` (of
/// `owner` only, when given).
fn stop_workloads_tx(
    tx: &WriteTx,
    project: ProjectId,
    owner: Option<UserId>,
    delete: bool,
    now: Timestamp,
    reason: &str,
    message: &str,
) -> Result<bool, StoreError> {
    let mut changed = false;
    for record in workloads::of_project_tx(tx, project)? {
        if owner.is_some_and(|o| o != record.spec.owner()) {
            continue;
        }
        let desired = match (delete, record.spec.kind()) {
            (true, _) => Desired::Deleted,
            (false, _) if record.desired != Desired::Running => continue,
            (false, WorkloadKind::Container | WorkloadKind::Job) => Desired::Stopped,
            (false, WorkloadKind::ImageCommit) => continue,
        };
        if record.desired == desired || record.desired == Desired::Deleted {
            continue;
        }
        if record.queued {
            unqueue_tx(tx, &record, delete, now, reason, message.into())?;
            changed = true;
            continue;
        }
        request_tx(
            tx,
            record.id(),
            desired,
            now,
            reason,
            message.into(),
            record.hold,
        )?;
        changed = true;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::workload::FailureReason;
    use crate::store::Store;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("time")
    }

    fn job_record(now: Timestamp) -> WorkloadRecord {
        WorkloadRecord {
            generation: 2,
            due_at: Some(now),
            ..workloads::test_job(now)
        }
    }

    fn observed(id: WorkloadId, status: WorkloadStatus) -> Observed {
        Observed {
            id,
            status,
            endpoints: Vec::new(),
            gpus: Vec::new(),
            started_at: None,
            finished_at: None,
        }
    }

    fn record_outcome(store: &Store, outcome: WorkloadOutcome, now: Timestamp) {
        store
            .write(|tx| {
                apply_workload_outcome_tx(
                    tx,
                    &crate::i18n::Catalog::load().expect("catalog"),
                    outcome,
                    now,
                )
            })
            .expect("write");
    }

    fn read(store: &Store, id: WorkloadId) -> Option<WorkloadRecord> {
        store
            .read(|tx| workloads::get_read_tx(tx, id))
            .expect("read")
    }

    fn due(store: &Store) -> Vec<WorkloadRecord> {
        store
            .read(|tx| workloads::due_read_tx(tx, at("2030-01-01T00:00:00Z"), 10))
            .expect("read")
    }

    #[test]
    fn outcomes_settle_only_their_generation_and_unchanged_records_are_not_rewritten() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open_in(dir.path()).expect("store");
        let start = at("2026-11-29T08:00:00Z");
        let record = job_record(start);
        let id = record.id();
        store
            .write(|tx| workloads::insert_tx(tx, &record))
            .expect("insert");
        assert_eq!(due(&store).len(), 1);

        // A result for an older generation records what was seen but leaves
        // the work due.
        let later = at("2026-11-29T08:01:00Z");
        let driver_event = DriverEvent {
            workload: id,
            status: WorkloadStatus::Running,
            at: at("2026-11-29T08:00:30Z"),
            message: "the job started".into(),
        };
        record_outcome(
            &store,
            WorkloadOutcome::Applied {
                id,
                generation: 1,
                observed: Some(observed(id, WorkloadStatus::Running)),
                events: vec![driver_event.clone()],
            },
            later,
        );
        let stored = read(&store, id).expect("stored");
        assert_eq!(stored.status(), WorkloadStatus::Running);
        assert_eq!(stored.due_at, Some(start), "still due");
        assert_eq!(stored.updated_at, later);
        assert_eq!(stored.events.len(), 1);
        assert_eq!(stored.events[0].message, "the job started");
        assert_eq!(stored.events[0].at, driver_event.at);

        // The same observation again changes nothing: no rewrite.
        record_outcome(
            &store,
            WorkloadOutcome::Observed {
                id,
                observed: observed(id, WorkloadStatus::Running),
                events: vec![driver_event],
            },
            at("2026-11-29T08:02:00Z"),
        );
        assert_eq!(read(&store, id).map(|r| r.updated_at), Some(later));

        // A transient failure of the current generation: error, one event
        // however often it repeats, and the retry time as the due time.
        let retry = at("2026-11-29T08:03:00Z");
        for attempts in 1..=3 {
            record_outcome(
                &store,
                WorkloadOutcome::Failed {
                    id,
                    generation: 2,
                    error: LastError {
                        at: later,
                        reason: "NotEnoughGpus".into(),
                        message: "not enough free GPUs".into(),
                        attempts,
                        retry_at: Some(retry),
                    },
                },
                later,
            );
        }
        let stored = read(&store, id).expect("stored");
        assert_eq!(stored.error.as_ref().map(|e| e.attempts), Some(3));
        assert_eq!(stored.due_at, Some(retry));
        let warnings: Vec<_> = stored.events.iter().filter(|e| e.warning).collect();
        assert_eq!(warnings.len(), 1, "{:?}", stored.events);
        assert_eq!(warnings[0].message, "not enough free GPUs (retrying)");
        assert_eq!(
            store
                .read(|tx| workloads::due_read_tx(tx, later, 10))
                .expect("read")
                .len(),
            0,
            "not due before the retry time"
        );

        // Done for the current generation: error cleared, nothing due.
        record_outcome(
            &store,
            WorkloadOutcome::Applied {
                id,
                generation: 2,
                observed: Some(observed(
                    id,
                    WorkloadStatus::failed(FailureReason::ExitCode(3)),
                )),
                events: Vec::new(),
            },
            later,
        );
        let stored = read(&store, id).expect("stored");
        assert_eq!(stored.error, None);
        assert_eq!(stored.due_at, None);
        assert!(due(&store).is_empty());
        let last = stored.events.last().expect("an event");
        assert!(last.warning && last.reason == "Failed");

        // A deletion counts only once it is the desired state.
        record_outcome(
            &store,
            WorkloadOutcome::Deleted { id, generation: 2 },
            later,
        );
        assert!(read(&store, id).is_some());
        store
            .write(|tx| {
                workloads::update_tx(tx, id, later, |r| {
                    r.desired = Desired::Deleted;
                    r.generation = 3;
                    r.due_at = Some(later);
                })
            })
            .expect("update");
        record_outcome(
            &store,
            WorkloadOutcome::Deleted { id, generation: 3 },
            later,
        );
        assert_eq!(read(&store, id), None);
        assert!(due(&store).is_empty(), "its due entry went with it");
        // The name is free again.
        store
            .write(|tx| workloads::insert_tx(tx, &job_record(later)))
            .expect("the name is free");
    }

    #[test]
    fn a_name_is_unique_in_its_project() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open_in(dir.path()).expect("store");
        let now = at("2026-11-29T08:00:00Z");
        let first = job_record(now);
        let mut second = job_record(now);
        if let (WorkloadSpec::Job(a), WorkloadSpec::Job(b)) = (&first.spec, &mut second.spec) {
            b.meta.project = a.meta.project;
        }
        store
            .write(|tx| workloads::insert_tx(tx, &first))
            .expect("insert");
        assert!(matches!(
            store.write(|tx| workloads::insert_tx(tx, &second)),
            Err(StoreError::Conflict(_))
        ));
        let other_project = job_record(now);
        store
            .write(|tx| workloads::insert_tx(tx, &other_project))
            .expect("another project may use the name");
    }
}
