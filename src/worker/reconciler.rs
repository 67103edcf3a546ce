//! The reconcile loop: drives the cluster toward the desired state in the
//! store and writes back what the driver observes.
//!
//! A pass (`step`) takes the volumes and workloads that are due, provisions
//! their projects (once per project and process, again at every resync),
//! calls the driver for each — up to [`IN_FLIGHT`] calls at a time, each
//! bounded by the request timeout — and records the results in batched
//! write transactions while the other calls go on. Volumes are ensured
//! before workloads (which mount them) and deleted after (once their
//! workloads are gone). Status changes the driver reports (`subscribe`) are
//! picked up at the next pass, which asks the driver for the whole
//! observation (endpoints, GPUs).
//!
//! A failure that may pass (`DriverError::is_transient`, a timeout, a
//! missing volume or namespace while applying) is retried with exponential
//! backoff, [`backoff`]; the others wait until the user changes the desired
//! state. Either way the error is on the workload with an event.
//!
//! A resync (every `resync_interval`, and at start-up) lists what the
//! driver has: it deletes what the store does not want (orphans), applies
//! again what is missing, marks jobs the driver lost, and refreshes the
//! status of the rest, writing only what changed.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use jiff::Timestamp;
use tokio::sync::broadcast::{self, error::TryRecvError};
use tokio::sync::mpsc;

use crate::cluster::{
    AnyDriver, Driver, DriverError, DriverEvent, Observed, ProjectSpec, VolumeState, WorkloadKind,
};
use crate::domain::ids::{ProjectId, UserId};
use crate::domain::workload::{WorkloadId, WorkloadStatus};
use crate::service::workloads::{Snapshot, VolumeOutcome, WorkloadOutcome};
use crate::service::{ServiceError, Services};
use crate::store::volumes::{VolumeDesired, VolumeRecord};
use crate::store::workloads::{Desired, LastError, WorkloadRecord, WorkloadSpec};

/// Driver calls in flight at once.
pub const IN_FLIGHT: usize = 64;
/// Most volumes and most workloads taken in one pass.
const PASS_LIMIT: usize = 4096;
/// Most results written in one transaction.
const WRITE_BATCH: usize = 512;
/// The first retry's delay; it doubles with each failure...
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
/// ...up to this.
const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// The longest the loop sleeps before it looks at the store's due list
/// again (the clock may have moved).
const POLL_MAX: Duration = Duration::from_secs(1);
/// How long the loop gathers driver events before a pass.
const EVENT_GATHER: Duration = Duration::from_millis(20);
/// The error reason of a workload waiting for GPUs.
const NOT_ENOUGH_GPUS: &str = "NotEnoughGpus";

/// The delay before retry number `attempts` (1 for the first retry): 1 s
/// doubling up to 5 min, spread by `jitter` (0..1) over ±10 %, never over
/// the maximum.
pub fn backoff(attempts: u32, jitter: f64) -> Duration {
    let doublings = attempts.saturating_sub(1).min(16);
    let base = BACKOFF_FIRST
        .saturating_mul(1u32 << doublings)
        .min(BACKOFF_MAX);
    let factor = 0.9 + 0.2 * jitter.clamp(0.0, 1.0);
    base.mul_f64(factor).min(BACKOFF_MAX)
}

/// The CamelCase name of a driver error, kept as the error's reason.
pub fn error_reason(error: &DriverError) -> &'static str {
    match error {
        DriverError::Invalid(_) => "Invalid",
        DriverError::NotFound { .. } => "NotFound",
        DriverError::Conflict(_) => "Conflict",
        DriverError::Rejected(_) => "Rejected",
        DriverError::NotEnoughGpus { .. } => NOT_ENOUGH_GPUS,
        DriverError::Unreachable(_) => "Unreachable",
        DriverError::Forbidden(_) => "Forbidden",
        DriverError::Timeout => "Timeout",
        DriverError::Unsupported { .. } => "Unsupported",
        DriverError::Io { .. } => "Io",
    }
}

/// What a driver call was for, to judge whether its failure may pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    /// Creating or starting something: a missing volume or namespace may
    /// appear (it is being created).
    Apply,
    /// Deleting a volume: a workload still using it is on its way out.
    DeleteVolume,
    Other,
}

fn is_retried(call: Call, error: &DriverError) -> bool {
    error.is_transient()
        || matches!(
            (call, error),
            (Call::Apply, DriverError::NotFound { .. })
                | (Call::DeleteVolume, DriverError::Conflict(_))
        )
}

/// What a resync does about a workload the driver does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Missing {
    /// Apply it again (it was applied and is wanted).
    Apply,
    /// Record that it is over with this status.
    Ended(WorkloadStatus),
    Nothing,
}

/// Decides what to do about a stored workload the driver does not list.
fn missing(record: &WorkloadRecord) -> Missing {
    let kind = record.spec.kind();
    let running = record
        .observed
        .as_ref()
        .is_some_and(|o| !o.status.is_terminal());
    match (kind, record.desired) {
        (_, Desired::Deleted) => Missing::Nothing,
        // A queued job is not in the cluster yet: it waits for its turn.
        _ if record.queued => Missing::Nothing,
        (WorkloadKind::Container, Desired::Running) if record.error.is_none() => Missing::Apply,
        (WorkloadKind::Container, Desired::Stopped) if running => {
            Missing::Ended(WorkloadStatus::Stopped)
        }
        // A job runs once: one that was seen running and is gone was lost
        // (an ended one may have been cleaned up by the cluster).
        (WorkloadKind::Job | WorkloadKind::ImageCommit, _) if running => Missing::Ended(
            WorkloadStatus::failed(crate::domain::workload::FailureReason::Lost),
        ),
        (WorkloadKind::Job | WorkloadKind::ImageCommit, Desired::Running)
            if record.observed.is_none() && record.error.is_none() =>
        {
            Missing::Apply
        }
        _ => Missing::Nothing,
    }
}

/// The observation of a workload the driver no longer has.
fn ended(record: &WorkloadRecord, status: WorkloadStatus, now: Timestamp) -> Observed {
    Observed {
        id: record.id(),
        status,
        endpoints: Vec::new(),
        gpus: Vec::new(),
        started_at: record.observed.as_ref().and_then(|o| o.started_at),
        finished_at: Some(now),
    }
}

/// Settings of the loop.
#[derive(Debug, Clone, Copy)]
pub struct ReconcilerSettings {
    /// The longest a single driver call may take.
    pub request_timeout: Duration,
    /// How often everything is compared with the driver.
    pub resync_interval: Duration,
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepReport {
    /// Desired states carried out (applied, stopped, deleted...).
    pub applied: usize,
    /// Driver calls that failed.
    pub failed: usize,
    /// Observations refreshed (driver events, resync).
    pub refreshed: usize,
    /// Workloads and volumes the driver had and the store did not want.
    pub orphans_deleted: usize,
    /// More is due at once (GPUs were freed for workloads waiting on them).
    pub again: bool,
    /// The driver's events overflowed: a resync should follow.
    pub resync_wanted: bool,
}

/// What one pass does beside the due work: found by a resync.
#[derive(Default)]
struct Extra {
    /// Workloads to ask the driver about, with what the store has seen.
    refresh: Vec<(WorkloadId, Option<Observed>)>,
    /// Workloads to apply again (missing from the driver).
    reapply: Vec<WorkloadRecord>,
    /// Observations to record without asking (lost, stopped).
    ended: Vec<WorkloadOutcome>,
    orphans: Vec<(WorkloadId, WorkloadKind)>,
    /// Volumes to ensure again, or to mark ready.
    volumes: Vec<VolumeRecord>,
    ready: Vec<VolumeOutcome>,
    orphan_volumes: Vec<(ProjectId, String)>,
    /// Projects provisioned again (their quota may have changed).
    projects: BTreeSet<ProjectId>,
}

/// One unit of driver work in a pass.
enum Task {
    /// Carry out the workload's desired state.
    Reconcile(Box<WorkloadRecord>),
    /// Ask what the driver observes now; the store's last observation, when
    /// known, spares writing what did not change.
    Refresh(WorkloadId, Option<Observed>),
    /// Delete what nobody wants.
    Orphan(WorkloadId, WorkloadKind),
}

struct Inner {
    services: Services,
    driver: Arc<AnyDriver>,
    settings: ReconcilerSettings,
    /// Status changes since the last pass.
    events: Mutex<broadcast::Receiver<DriverEvent>>,
    /// One pass at a time; the projects provisioned by this process.
    pass: tokio::sync::Mutex<BTreeSet<ProjectId>>,
}

/// The reconcile loop; cheap to clone (one shared state).
#[derive(Clone)]
pub struct Reconciler {
    inner: Arc<Inner>,
}

impl Reconciler {
    pub fn new(services: Services, driver: Arc<AnyDriver>, settings: ReconcilerSettings) -> Self {
        let events = Mutex::new(driver.subscribe());
        Self {
            inner: Arc::new(Inner {
                services,
                driver,
                settings,
                events,
                pass: tokio::sync::Mutex::new(BTreeSet::new()),
            }),
        }
    }

    /// One driver call, bounded by the request timeout.
    async fn call<T>(
        &self,
        call: impl Future<Output = Result<T, DriverError>>,
    ) -> Result<T, DriverError> {
        tokio::time::timeout(self.inner.settings.request_timeout, call)
            .await
            .unwrap_or(Err(DriverError::Timeout))
    }

    /// The error to record for a failed attempt number `attempts`.
    fn last_error(&self, call: Call, error: &DriverError, attempts: u32) -> LastError {
        let now = self.inner.services.now();
        let retry_at = is_retried(call, error).then(|| {
            let delay = backoff(attempts, rand::random::<f64>());
            now.checked_add(delay).unwrap_or(now)
        });
        LastError {
            at: now,
            reason: error_reason(error).to_owned(),
            message: error.to_string(),
            attempts,
            retry_at,
        }
    }

    /// The driver's status changes since the last pass, by workload; sets
    /// `lagged` when some were missed.
    fn drain_events(&self, lagged: &mut bool) -> HashMap<WorkloadId, Vec<DriverEvent>> {
        let mut receiver = self.inner.events.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: HashMap<WorkloadId, Vec<DriverEvent>> = HashMap::new();
        loop {
            match receiver.try_recv() {
                Ok(event) => out.entry(event.workload).or_default().push(event),
                Err(TryRecvError::Lagged(_)) => *lagged = true,
                Err(TryRecvError::Empty | TryRecvError::Closed) => return out,
            }
        }
    }

    /// One pass over what is due (and what the driver reported since the
    /// last pass).
    pub async fn step(&self) -> Result<StepReport, ServiceError> {
        let mut provisioned = self.inner.pass.lock().await;
        self.pass(&mut provisioned, Extra::default()).await
    }

    /// Compares everything with the driver (see the module doc), then runs a
    /// pass with what it found.
    pub async fn resync(&self) -> Result<StepReport, ServiceError> {
        let mut provisioned = self.inner.pass.lock().await;
        let extra = self.plan_resync().await?;
        // Provisioning again picks up quota changes.
        for project in &extra.projects {
            provisioned.remove(project);
        }
        self.pass(&mut provisioned, extra).await
    }

    async fn plan_resync(&self) -> Result<Extra, ServiceError> {
        let driver = &self.inner.driver;
        // The driver's lists first: whatever the store holds afterwards was
        // there when the lists were made, or is new (and due).
        let listed = self.call(driver.workloads()).await;
        let listed_volumes = self.call(driver.volumes()).await;
        let Snapshot { workloads, volumes } = self.inner.services.snapshot().await?;
        let now = self.inner.services.now();
        let mut extra = Extra::default();
        match listed {
            Ok(listed) => {
                let listed: HashMap<WorkloadId, WorkloadKind> = listed.into_iter().collect();
                let stored: HashSet<WorkloadId> = workloads.iter().map(|w| w.id()).collect();
                for record in workloads {
                    if record.desired != Desired::Deleted {
                        extra.projects.insert(record.spec.project());
                    }
                    if record.due_at.is_some() {
                        // Work (or a retry) is pending; it sees to it.
                        continue;
                    }
                    if listed.contains_key(&record.id()) {
                        extra.refresh.push((record.id(), record.observed));
                        continue;
                    }
                    match missing(&record) {
                        Missing::Apply => extra.reapply.push(record),
                        Missing::Ended(status) => extra.ended.push(WorkloadOutcome::Observed {
                            id: record.id(),
                            observed: ended(&record, status, now),
                            events: Vec::new(),
                        }),
                        Missing::Nothing => {}
                    }
                }
                extra.orphans = listed
                    .into_iter()
                    .filter(|(id, _)| !stored.contains(id))
                    .collect();
            }
            Err(error) => {
                tracing::warn!(%error, "resync: the driver could not list its workloads");
            }
        }
        match listed_volumes {
            Ok(listed) => {
                let listed: HashSet<(ProjectId, String)> = listed.into_iter().collect();
                let stored: HashSet<(ProjectId, String)> = volumes
                    .iter()
                    .map(|v| (v.spec.project, v.spec.name.clone()))
                    .collect();
                for volume in volumes {
                    if volume.due_at.is_some() || volume.desired == VolumeDesired::Deleted {
                        continue;
                    }
                    extra.projects.insert(volume.spec.project);
                    let has = listed.contains(&(volume.spec.project, volume.spec.name.clone()));
                    match (has, volume.ready) {
                        (true, false) => extra.ready.push(VolumeOutcome::Ready {
                            id: volume.id,
                            generation: volume.generation,
                        }),
                        (false, true) => extra.volumes.push(volume),
                        _ => {}
                    }
                }
                extra.orphan_volumes = listed
                    .into_iter()
                    .filter(|key| !stored.contains(key))
                    .collect();
            }
            Err(error) => {
                tracing::warn!(%error, "resync: the driver could not list its volumes");
            }
        }
        Ok(extra)
    }

    async fn pass(
        &self,
        provisioned: &mut BTreeSet<ProjectId>,
        extra: Extra,
    ) -> Result<StepReport, ServiceError> {
        let services = &self.inner.services;
        let mut report = StepReport::default();
        let mut events = self.drain_events(&mut report.resync_wanted);
        let (due_volumes, due_workloads) = services.due_work(PASS_LIMIT).await?;

        // Projects first: what runs in them needs them.
        let mut wanted: BTreeSet<ProjectId> = extra.projects.clone();
        wanted.extend(
            due_volumes
                .iter()
                .chain(&extra.volumes)
                .filter(|v| v.desired == VolumeDesired::Present)
                .map(|v| v.spec.project),
        );
        wanted.extend(
            due_workloads
                .iter()
                .chain(&extra.reapply)
                .filter(|w| w.desired == Desired::Running)
                .map(|w| w.spec.project()),
        );
        let unprovisioned = self
            .provision(provisioned, wanted.into_iter().collect())
            .await?;

        // Volumes to create, before the workloads that mount them.
        let (ensure, delete): (Vec<VolumeRecord>, Vec<VolumeRecord>) = due_volumes
            .into_iter()
            .chain(extra.volumes)
            .partition(|v| v.desired == VolumeDesired::Present);
        let mut outcomes = extra.ready;
        outcomes.extend(
            stream::iter(ensure)
                .map(|volume| self.ensure_volume(volume, &unprovisioned))
                .buffer_unordered(IN_FLIGHT)
                .collect::<Vec<_>>()
                .await,
        );
        count_volumes(&outcomes, &mut report);
        services.record_volume_outcomes(outcomes).await?;

        // Workloads: due work, what the resync found, what the driver
        // reported; one task per workload.
        let mut tasks: Vec<Task> = Vec::new();
        let mut seen: HashSet<WorkloadId> = HashSet::new();
        for record in due_workloads.into_iter().chain(extra.reapply) {
            if seen.insert(record.id()) {
                tasks.push(Task::Reconcile(Box::new(record)));
            }
        }
        let ended_ids: HashSet<WorkloadId> = extra
            .ended
            .iter()
            .filter_map(|o| match o {
                WorkloadOutcome::Observed { id, .. } => Some(*id),
                _ => None,
            })
            .collect();
        let mut refresh: BTreeMap<WorkloadId, Option<Observed>> =
            extra.refresh.into_iter().collect();
        for id in events.keys() {
            // Whatever the store had, the driver reported a change.
            refresh.insert(*id, None);
        }
        for (id, known) in refresh {
            if !ended_ids.contains(&id) && seen.insert(id) {
                tasks.push(Task::Refresh(id, known));
            }
        }
        tasks.extend(
            extra
                .orphans
                .into_iter()
                .map(|(id, kind)| Task::Orphan(id, kind)),
        );
        let freed_by_events = events.values().flatten().any(|e| e.status.is_terminal());

        let (sender, mut receiver) = mpsc::channel::<WorkloadOutcome>(WRITE_BATCH * 2);
        let writer_services = services.clone();
        let writer = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(WRITE_BATCH);
            while receiver.recv_many(&mut batch, WRITE_BATCH).await > 0 {
                writer_services
                    .record_workload_outcomes(std::mem::take(&mut batch))
                    .await?;
            }
            Ok::<(), ServiceError>(())
        });
        let mut tally = Tally::default();
        for outcome in extra.ended {
            tally.refreshed += 1;
            if sender.send(outcome).await.is_err() {
                break;
            }
        }
        let tally = Mutex::new(tally);
        stream::iter(tasks)
            .for_each_concurrent(IN_FLIGHT, |task| {
                let sender = sender.clone();
                let events = task_events(&task, &mut events);
                let unprovisioned = &unprovisioned;
                let tally = &tally;
                async move {
                    let (outcome, counted) = self.run(task, events, unprovisioned).await;
                    tally.lock().unwrap_or_else(|e| e.into_inner()).add(counted);
                    if let Some(outcome) = outcome {
                        // The writer only stops on a store error, reported below.
                        let _ = sender.send(outcome).await;
                    }
                }
            })
            .await;
        drop(sender);
        writer
            .await
            .map_err(|e| ServiceError::Internal(format!("the reconcile writer failed: {e}")))??;
        let tally = tally.into_inner().unwrap_or_else(|e| e.into_inner());
        report.applied += tally.applied;
        report.failed += tally.failed;
        report.refreshed += tally.refreshed;
        report.orphans_deleted += tally.orphans;

        // Volumes to delete, now that workloads deleted in this pass are gone.
        let outcomes: Vec<VolumeOutcome> = stream::iter(delete)
            .map(|volume| self.delete_volume(volume))
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        count_volumes(&outcomes, &mut report);
        services.record_volume_outcomes(outcomes).await?;
        for (project, name) in extra.orphan_volumes {
            match self
                .call(self.inner.driver.delete_volume(project, &name))
                .await
            {
                Ok(()) => {
                    tracing::info!(%project, volume = %name, "deleted a volume nobody wants");
                    report.orphans_deleted += 1;
                }
                Err(error) => {
                    tracing::warn!(%project, volume = %name, %error, "could not delete an orphan volume");
                }
            }
        }

        self.activate_members(&mut report).await?;
        self.release_projects(provisioned, &mut report).await?;

        if tally.freed || freed_by_events {
            report.again = services.retry_gpu_waiters(NOT_ENOUGH_GPUS).await? > 0;
        }
        if report != StepReport::default() {
            tracing::debug!(?report, "reconcile pass");
        }
        Ok(report)
    }

    /// Carries out the activations waiting for the driver (Cloud
    /// Provisioning): each user is provisioned in every open project of
    /// theirs, then their activation passes, or fails with the driver's
    /// reason.
    async fn activate_members(&self, report: &mut StepReport) -> Result<(), ServiceError> {
        let services = &self.inner.services;
        for (user, projects) in services.pending_activations().await? {
            let mut result = Ok(());
            for spec in &projects {
                result = self
                    .provision_with_members(spec, std::slice::from_ref(&user))
                    .await;
                if result.is_err() {
                    break;
                }
            }
            match &result {
                Ok(()) => report.applied += 1,
                Err(error) => {
                    tracing::warn!(%user, %error, "could not provision a member");
                    report.failed += 1;
                }
            }
            services
                .record_activation(user, result.map_err(|e| e.to_string()))
                .await?;
        }
        Ok(())
    }

    /// Removes the cluster side of released projects once their workloads
    /// and volumes are gone (kube: the namespace with its service accounts).
    async fn release_projects(
        &self,
        provisioned: &mut BTreeSet<ProjectId>,
        report: &mut StepReport,
    ) -> Result<(), ServiceError> {
        let services = &self.inner.services;
        for project in services.projects_to_release().await? {
            match self.call(self.inner.driver.release_project(project)).await {
                Ok(()) => {
                    provisioned.remove(&project);
                    services.record_project_released(project).await?;
                    report.applied += 1;
                }
                Err(error) => {
                    tracing::warn!(%project, %error, "could not release a project in the cluster");
                    report.failed += 1;
                }
            }
        }
        Ok(())
    }

    /// A project, then what each of its activated members needs in it.
    async fn provision_with_members(
        &self,
        spec: &ProjectSpec,
        members: &[UserId],
    ) -> Result<(), DriverError> {
        self.call(self.inner.driver.provision_project(spec)).await?;
        for member in members {
            self.call(self.inner.driver.provision_member(spec, *member))
                .await?;
        }
        Ok(())
    }

    /// Provisions the projects not yet provisioned by this process; returns
    /// those that failed, with the error (their workloads wait).
    async fn provision(
        &self,
        provisioned: &mut BTreeSet<ProjectId>,
        wanted: Vec<ProjectId>,
    ) -> Result<BTreeMap<ProjectId, DriverError>, ServiceError> {
        let todo: Vec<ProjectId> = wanted
            .into_iter()
            .filter(|p| !provisioned.contains(p))
            .collect();
        if todo.is_empty() {
            return Ok(BTreeMap::new());
        }
        let specs = self.inner.services.project_specs(todo).await?;
        let results: Vec<(ProjectId, Result<(), DriverError>)> = stream::iter(specs)
            .map(|(id, spec)| async move {
                let result = match spec {
                    Some((spec, members)) => self.provision_with_members(&spec, &members).await,
                    None => Err(DriverError::NotFound {
                        what: format!("project {id}"),
                    }),
                };
                (id, result)
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        let mut failed = BTreeMap::new();
        for (id, result) in results {
            match result {
                Ok(()) => {
                    provisioned.insert(id);
                }
                Err(error) => {
                    tracing::warn!(project = %id, %error, "could not provision a project");
                    failed.insert(id, error);
                }
            }
        }
        Ok(failed)
    }

    async fn ensure_volume(
        &self,
        volume: VolumeRecord,
        unprovisioned: &BTreeMap<ProjectId, DriverError>,
    ) -> VolumeOutcome {
        let attempts = next_attempt(volume.error.as_ref());
        let result = match unprovisioned.get(&volume.spec.project) {
            Some(error) => Err(error.clone()),
            None => {
                self.call(self.inner.driver.ensure_volume(&volume.spec))
                    .await
            }
        };
        match result {
            Ok(VolumeState::Ready) => VolumeOutcome::Ready {
                id: volume.id,
                generation: volume.generation,
            },
            Ok(VolumeState::Copying { percent }) => VolumeOutcome::Copying {
                id: volume.id,
                generation: volume.generation,
                percent,
            },
            Err(error) => {
                tracing::info!(volume = %volume.spec.name, %error, "could not create a volume");
                VolumeOutcome::Failed {
                    id: volume.id,
                    generation: volume.generation,
                    error: self.last_error(Call::Apply, &error, attempts),
                }
            }
        }
    }

    async fn delete_volume(&self, volume: VolumeRecord) -> VolumeOutcome {
        let attempts = next_attempt(volume.error.as_ref());
        let call = self
            .inner
            .driver
            .delete_volume(volume.spec.project, &volume.spec.name);
        match self.call(call).await {
            Ok(()) | Err(DriverError::NotFound { .. }) => VolumeOutcome::Deleted {
                id: volume.id,
                generation: volume.generation,
            },
            Err(error) => {
                tracing::info!(volume = %volume.spec.name, %error, "could not delete a volume");
                VolumeOutcome::Failed {
                    id: volume.id,
                    generation: volume.generation,
                    error: self.last_error(Call::DeleteVolume, &error, attempts),
                }
            }
        }
    }

    /// Runs one task; returns what to record and what to count.
    async fn run(
        &self,
        task: Task,
        events: Vec<DriverEvent>,
        unprovisioned: &BTreeMap<ProjectId, DriverError>,
    ) -> (Option<WorkloadOutcome>, Counted) {
        let driver = &self.inner.driver;
        match task {
            Task::Refresh(id, known) => match self.call(driver.status(id)).await {
                Ok(observed) if known.as_ref() == Some(&observed) => (None, Counted::Refreshed),
                Ok(observed) => (
                    Some(WorkloadOutcome::Observed {
                        id,
                        observed,
                        events,
                    }),
                    Counted::Refreshed,
                ),
                // Gone (deleted meanwhile) or not answering: the next
                // resync looks again.
                Err(_) => (None, Counted::Nothing),
            },
            Task::Orphan(id, kind) => match self.delete_workload(id, kind).await {
                Ok(()) => {
                    tracing::info!(%id, ?kind, "deleted a workload nobody wants");
                    (None, Counted::Orphan)
                }
                Err(error) => {
                    tracing::warn!(%id, ?kind, %error, "could not delete an orphan workload");
                    (None, Counted::Nothing)
                }
            },
            Task::Reconcile(record) => {
                let id = record.id();
                let generation = record.generation;
                let attempts = next_attempt(record.error.as_ref());
                let blocked = (record.desired == Desired::Running)
                    .then(|| unprovisioned.get(&record.spec.project()))
                    .flatten();
                let result = match blocked {
                    Some(error) => Err((Call::Apply, error.clone())),
                    None => self.reconcile(&record).await,
                };
                match result {
                    Ok(Done::Observed(observed)) => {
                        let freed = record.desired == Desired::Stopped;
                        (
                            Some(WorkloadOutcome::Applied {
                                id,
                                generation,
                                observed,
                                events,
                            }),
                            Counted::Applied { freed },
                        )
                    }
                    Ok(Done::Deleted) => (
                        Some(WorkloadOutcome::Deleted { id, generation }),
                        Counted::Applied { freed: true },
                    ),
                    Err((call, error)) => {
                        let error = self.last_error(call, &error, attempts);
                        if error.retry_at.is_some() {
                            tracing::info!(%id, reason = %error.reason, message = %error.message, "workload not applied yet; retrying");
                        } else {
                            tracing::warn!(%id, reason = %error.reason, message = %error.message, "workload could not be applied");
                        }
                        (
                            Some(WorkloadOutcome::Failed {
                                id,
                                generation,
                                error,
                            }),
                            Counted::Failed,
                        )
                    }
                }
            }
        }
    }

    /// Deletes a workload from the cluster, the driver's way for its kind.
    async fn delete_workload(&self, id: WorkloadId, kind: WorkloadKind) -> Result<(), DriverError> {
        let driver = &self.inner.driver;
        match kind {
            WorkloadKind::Container => self.call(driver.delete_container(id)).await,
            WorkloadKind::Job | WorkloadKind::ImageCommit => self.call(driver.delete_job(id)).await,
        }
    }

    /// Carries out one workload's desired state.
    async fn reconcile(&self, record: &WorkloadRecord) -> Result<Done, (Call, DriverError)> {
        let driver = &self.inner.driver;
        let id = record.id();
        let apply = |e| (Call::Apply, e);
        let other = |e| (Call::Other, e);
        match (&record.spec, record.desired) {
            (WorkloadSpec::Container(spec), Desired::Running) => self
                .call(driver.apply_container(spec))
                .await
                .map(|o| Done::Observed(Some(o)))
                .map_err(apply),
            (WorkloadSpec::Job(spec), Desired::Running) => self
                .call(driver.apply_job(spec))
                .await
                .map(|o| Done::Observed(Some(o)))
                .map_err(apply),
            (WorkloadSpec::ImageCommit(spec), Desired::Running) => self
                .call(driver.commit_image(spec))
                .await
                .map(|o| Done::Observed(Some(o)))
                .map_err(apply),
            (spec, Desired::Stopped) => {
                let stopped = match spec {
                    WorkloadSpec::Container(_) => self.call(driver.stop_container(id)).await,
                    WorkloadSpec::Job(_) | WorkloadSpec::ImageCommit(_) => {
                        self.call(driver.cancel_job(id)).await
                    }
                };
                match stopped {
                    // Never started: it is stopped.
                    Err(DriverError::NotFound { .. }) => Ok(Done::Observed(Some(ended(
                        record,
                        WorkloadStatus::Stopped,
                        self.inner.services.now(),
                    )))),
                    Err(e) => Err(other(e)),
                    Ok(()) => Ok(Done::Observed(self.call(driver.status(id)).await.ok())),
                }
            }
            (spec, Desired::Deleted) => match self.delete_workload(id, spec.kind()).await {
                Ok(()) | Err(DriverError::NotFound { .. }) => Ok(Done::Deleted),
                Err(e) => Err(other(e)),
            },
        }
    }

    /// Runs passes until aborted: at start-up and every resync interval a
    /// resync; otherwise a pass when a use case changed something, when the
    /// driver reports a change, and when a retry falls due.
    pub async fn run_loop(self) {
        let services = self.inner.services.clone();
        let wake = services.reconcile_signal();
        let mut wakeups = Some(self.inner.driver.subscribe());
        let mut resync = tokio::time::interval(self.inner.settings.resync_interval);
        resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut resync_due = false;
        loop {
            let pause = match services.next_due().await {
                Ok(Some(at)) => {
                    let left = at.duration_since(services.now());
                    Duration::try_from(left)
                        .unwrap_or(Duration::ZERO)
                        .min(POLL_MAX)
                }
                Ok(None) => self.inner.settings.resync_interval,
                Err(error) => {
                    tracing::warn!(%error, "reconciler: cannot read the due list");
                    POLL_MAX
                }
            };
            tokio::select! {
                _ = resync.tick() => resync_due = true,
                () = wake.notified() => {}
                received = next_event(&mut wakeups) => {
                    if received {
                        tokio::time::sleep(EVENT_GATHER).await;
                    } else {
                        wakeups = None;
                    }
                }
                () = tokio::time::sleep(pause) => {}
            }
            if resync_due {
                resync_due = false;
                if let Err(error) = self.resync().await {
                    tracing::warn!(%error, "reconciler: resync failed");
                }
            }
            loop {
                match self.step().await {
                    Ok(report) => {
                        resync_due |= report.resync_wanted;
                        if !report.again {
                            break;
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "reconciler: pass failed; retrying shortly");
                        tokio::time::sleep(POLL_MAX).await;
                        break;
                    }
                }
            }
        }
    }
}

/// Waits for the driver's next event: true when one came (or some were
/// missed), false when the driver has closed its events.
async fn next_event(receiver: &mut Option<broadcast::Receiver<DriverEvent>>) -> bool {
    match receiver {
        Some(receiver) => !matches!(
            receiver.recv().await,
            Err(broadcast::error::RecvError::Closed)
        ),
        None => std::future::pending().await,
    }
}

/// The driver events that go with a task (taken out of the pass's map).
fn task_events(
    task: &Task,
    events: &mut HashMap<WorkloadId, Vec<DriverEvent>>,
) -> Vec<DriverEvent> {
    match task {
        Task::Reconcile(record) => events.remove(&record.id()).unwrap_or_default(),
        Task::Refresh(id, _) => events.remove(id).unwrap_or_default(),
        Task::Orphan(..) => Vec::new(),
    }
}

/// The number of the attempt after the failures recorded in `error`.
fn next_attempt(error: Option<&LastError>) -> u32 {
    error.map_or(0, |e| e.attempts) + 1
}

/// What carrying out a desired state ended in.
enum Done {
    Observed(Option<Observed>),
    Deleted,
}

/// What a task counts for in the report.
enum Counted {
    Applied { freed: bool },
    Failed,
    Refreshed,
    Orphan,
    Nothing,
}

#[derive(Default)]
struct Tally {
    applied: usize,
    failed: usize,
    refreshed: usize,
    orphans: usize,
    /// Something stopped or went: GPUs may be free.
    freed: bool,
}

impl Tally {
    fn add(&mut self, counted: Counted) {
        match counted {
            Counted::Applied { freed } => {
                self.applied += 1;
                self.freed |= freed;
            }
            Counted::Failed => self.failed += 1,
            Counted::Refreshed => self.refreshed += 1,
            Counted::Orphan => self.orphans += 1,
            Counted::Nothing => {}
        }
    }
}

fn count_volumes(outcomes: &[VolumeOutcome], report: &mut StepReport) {
    for outcome in outcomes {
        match outcome {
            VolumeOutcome::Ready { .. } | VolumeOutcome::Deleted { .. } => report.applied += 1,
            VolumeOutcome::Copying { .. } => {}
            VolumeOutcome::Failed { .. } => report.failed += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap as Map;

    use super::*;
    use crate::domain::workload::{FailureReason, Resources};

    #[test]
    fn backoff_doubles_from_one_second_to_five_minutes() {
        let middle = |attempts| backoff(attempts, 0.5);
        assert_eq!(middle(0), Duration::from_secs(1));
        assert_eq!(middle(1), Duration::from_secs(1));
        assert_eq!(middle(2), Duration::from_secs(2));
        assert_eq!(middle(3), Duration::from_secs(4));
        assert_eq!(middle(9), Duration::from_secs(256));
        assert_eq!(middle(10), Duration::from_secs(300));
        assert_eq!(middle(u32::MAX), Duration::from_secs(300));
        // Jitter spreads by ±10 % and never passes the maximum.
        assert_eq!(backoff(1, 0.0), Duration::from_millis(900));
        assert_eq!(backoff(1, 1.0), Duration::from_millis(1100));
        assert_eq!(backoff(4, 1.0), Duration::from_millis(8800));
        assert_eq!(
            backoff(9, 1.0),
            Duration::from_secs(281) + Duration::from_millis(600)
        );
        assert_eq!(backoff(10, 1.0), Duration::from_secs(300));
        assert_eq!(backoff(10, 0.0), Duration::from_secs(270));
        assert_eq!(backoff(2, 7.0), backoff(2, 1.0), "jitter is clamped");
    }

    #[test]
    fn which_failures_are_retried() {
        let gpus = DriverError::NotEnoughGpus {
            gpu_type: "T4".into(),
            requested: 1,
            free: 0,
        };
        let missing = DriverError::NotFound {
            what: "volume data".into(),
        };
        let conflict = DriverError::Conflict("in use".into());
        let unsupported = DriverError::Unsupported {
            driver: "local",
            what: "commits",
        };
        assert!(is_retried(Call::Other, &gpus));
        assert!(is_retried(Call::Other, &DriverError::Timeout));
        assert!(is_retried(Call::Apply, &missing));
        assert!(!is_retried(Call::Other, &missing));
        assert!(is_retried(Call::DeleteVolume, &conflict));
        assert!(!is_retried(Call::Apply, &conflict));
        assert!(!is_retried(Call::Apply, &unsupported));
        assert!(!is_retried(
            Call::Apply,
            &DriverError::Forbidden("no".into())
        ));
        assert_eq!(error_reason(&gpus), NOT_ENOUGH_GPUS);
        assert_eq!(error_reason(&missing.clone()), "NotFound");
        let io = DriverError::io("x", std::io::Error::other("disk"));
        assert_eq!(io.clone().to_string(), io.to_string());
    }

    fn job_record(desired: Desired, status: Option<WorkloadStatus>) -> WorkloadRecord {
        let at: Timestamp = "2026-11-29T08:00:00Z".parse().expect("time");
        let mut record = crate::store::workloads::test_job(at);
        let id = record.id();
        record.desired = desired;
        record.observed = status.map(|status| Observed {
            id,
            status,
            endpoints: Vec::new(),
            gpus: Vec::new(),
            started_at: Some(at),
            finished_at: None,
        });
        record
    }

    #[test]
    fn what_a_resync_does_about_missing_workloads() {
        let lost = Missing::Ended(WorkloadStatus::failed(FailureReason::Lost));
        // A job runs once: an ended one stays ended, a running one was lost.
        let done = job_record(Desired::Running, Some(WorkloadStatus::Succeeded));
        assert_eq!(missing(&done), Missing::Nothing);
        let running = job_record(Desired::Running, Some(WorkloadStatus::Running));
        assert_eq!(missing(&running), lost);
        let never = job_record(Desired::Running, None);
        assert_eq!(missing(&never), Missing::Apply);
        let queued = WorkloadRecord {
            queued: true,
            due_at: None,
            hold: None,
            ..never.clone()
        };
        assert_eq!(missing(&queued), Missing::Nothing, "it waits for its turn");
        let deleted = job_record(Desired::Deleted, Some(WorkloadStatus::Running));
        assert_eq!(missing(&deleted), Missing::Nothing);

        let container = |desired, status| {
            let mut record = job_record(desired, status);
            if let WorkloadSpec::Job(job) = &record.spec {
                record.spec = WorkloadSpec::Container(crate::domain::workload::ContainerSpec {
                    meta: job.meta.clone(),
                    image: job.image.clone(),
                    command: None,
                    env: Map::new(),
                    resources: Resources::default(),
                    volumes: Vec::new(),
                    services: Vec::new(),
                    ssh: Default::default(),
                    start_at: None,
                    end_at: None,
                });
            }
            record
        };
        let wanted = container(Desired::Running, Some(WorkloadStatus::Running));
        assert_eq!(missing(&wanted), Missing::Apply);
        let mut failing = wanted.clone();
        failing.error = Some(LastError {
            at: failing.created_at,
            reason: "Invalid".into(),
            message: "bad".into(),
            attempts: 1,
            retry_at: None,
        });
        assert_eq!(missing(&failing), Missing::Nothing, "not again and again");
        let stopping = container(Desired::Stopped, Some(WorkloadStatus::Running));
        assert_eq!(missing(&stopping), Missing::Ended(WorkloadStatus::Stopped));
        let stopped = container(Desired::Stopped, Some(WorkloadStatus::Stopped));
        assert_eq!(missing(&stopped), Missing::Nothing);
    }
}
