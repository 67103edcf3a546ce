//! Job schedules (manual §5.5.2): a template of the project run by a cron
//! trigger in a zone within a window, with the next run time kept in the
//! due list `DUE_JOB_SCHEDULE_IDS` and the newest runs, skips and failures
//! kept on the record. Indexes by project, by template and unique
//! (project, name).

use jiff::Timestamp;
use redb::{ReadTransaction, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{StoreError, codec, due, tables};
use crate::domain::ids::{JobScheduleId, JobTemplateId, ProjectId, UserId, WorkloadId};
use crate::domain::schedule::Concurrency;

/// How many entries of a schedule's history are kept.
pub const HISTORY_KEPT: usize = 100;

/// What became of one trigger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum RunOutcome {
    /// A job was created; `late`: it fell due while the server was down.
    Started { job: WorkloadId, late: bool },
    /// Single thread: the previous run was still queued or running.
    Skipped { previous: WorkloadId },
    /// The project is in its buffer period.
    Paused,
    /// No job could be created; a translation key says why.
    Failed { reason: String },
}

/// One entry of a schedule's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleRun {
    /// The trigger time.
    pub scheduled: Timestamp,
    /// When the loop handled it.
    pub at: Timestamp,
    pub outcome: RunOutcome,
}

/// A stored job schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobScheduleRecord {
    pub id: JobScheduleId,
    pub project: ProjectId,
    /// Whose jobs its runs are.
    pub owner: UserId,
    /// Lowercase letters and digits, unique in the project.
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub template: JobTemplateId,
    /// The 5-field cron expression, normalised.
    pub cron: String,
    /// IANA zone name.
    pub zone: String,
    pub start: Timestamp,
    pub end: Timestamp,
    pub concurrency: Concurrency,
    /// The next trigger time (None: none left in the window).
    #[serde(default)]
    pub next_run: Option<Timestamp>,
    /// Runs started so far; the serial of the next run's job name.
    #[serde(default)]
    pub runs: u64,
    /// The job of the latest run, which single thread waits for.
    #[serde(default)]
    pub last_job: Option<WorkloadId>,
    /// Oldest first, at most [`HISTORY_KEPT`].
    #[serde(default)]
    pub history: Vec<ScheduleRun>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl JobScheduleRecord {
    /// Adds a history entry, dropping the oldest beyond [`HISTORY_KEPT`].
    pub fn push_history(&mut self, run: ScheduleRun) {
        self.history.push(run);
        if self.history.len() > HISTORY_KEPT {
            let extra = self.history.len() - HISTORY_KEPT;
            self.history.drain(..extra);
        }
    }
}

/// What [`insert_tx`] and [`update_tx`] name in `StoreError::Conflict` when
/// the project already has a schedule of this name.
pub const NAME_TAKEN: &str = "a job schedule of this name";

/// Stores a new schedule with its indexes and due entry.
pub fn insert_tx(tx: &WriteTransaction, record: &JobScheduleRecord) -> Result<(), StoreError> {
    let id = record.id.as_u128();
    let project = record.project.as_u128();
    let mut names = tx.open_table(tables::PROJECT_JOB_SCHEDULE_NAME_TO_ID)?;
    if names.get((project, record.name.as_str()))?.is_some() {
        return Err(StoreError::Conflict(NAME_TAKEN));
    }
    names.insert((project, record.name.as_str()), id)?;
    tx.open_multimap_table(tables::PROJECT_ID_TO_JOB_SCHEDULE_IDS)?
        .insert(project, id)?;
    tx.open_multimap_table(tables::JOB_TEMPLATE_ID_TO_SCHEDULE_IDS)?
        .insert(record.template.as_u128(), id)?;
    due::move_tx(tx, tables::DUE_JOB_SCHEDULE_IDS, id, None, record.next_run)?;
    tx.open_table(tables::JOB_SCHEDULE_ID_TO_SCHEDULE)?
        .insert(id, codec::encode(record)?.as_slice())?;
    Ok(())
}

/// Replaces a schedule (same id and project), moving its indexes and due
/// entry.
pub fn update_tx(tx: &WriteTransaction, record: &JobScheduleRecord) -> Result<(), StoreError> {
    let id = record.id.as_u128();
    let project = record.project.as_u128();
    let old: JobScheduleRecord = get_tx(tx, record.id)?
        .ok_or_else(|| StoreError::Corrupt(format!("job schedule {} is gone", record.id)))?;
    if old.name != record.name {
        let mut names = tx.open_table(tables::PROJECT_JOB_SCHEDULE_NAME_TO_ID)?;
        if names.get((project, record.name.as_str()))?.is_some() {
            return Err(StoreError::Conflict(NAME_TAKEN));
        }
        names.remove((project, old.name.as_str()))?;
        names.insert((project, record.name.as_str()), id)?;
    }
    if old.template != record.template {
        let mut by_template = tx.open_multimap_table(tables::JOB_TEMPLATE_ID_TO_SCHEDULE_IDS)?;
        by_template.remove(old.template.as_u128(), id)?;
        by_template.insert(record.template.as_u128(), id)?;
    }
    due::move_tx(
        tx,
        tables::DUE_JOB_SCHEDULE_IDS,
        id,
        old.next_run,
        record.next_run,
    )?;
    tx.open_table(tables::JOB_SCHEDULE_ID_TO_SCHEDULE)?
        .insert(id, codec::encode(record)?.as_slice())?;
    Ok(())
}

pub fn get_tx(
    tx: &WriteTransaction,
    id: JobScheduleId,
) -> Result<Option<JobScheduleRecord>, StoreError> {
    codec::decode_one(
        &tx.open_table(tables::JOB_SCHEDULE_ID_TO_SCHEDULE)?,
        id.as_u128(),
    )
}

pub fn get_read_tx(
    tx: &ReadTransaction,
    id: JobScheduleId,
) -> Result<Option<JobScheduleRecord>, StoreError> {
    codec::decode_one(
        &tx.open_table(tables::JOB_SCHEDULE_ID_TO_SCHEDULE)?,
        id.as_u128(),
    )
}

/// Removes a schedule, its index entries and its due entry: it never
/// fires again. Returns what was removed.
pub fn remove_tx(
    tx: &WriteTransaction,
    id: JobScheduleId,
) -> Result<Option<JobScheduleRecord>, StoreError> {
    let removed: Option<JobScheduleRecord> = tx
        .open_table(tables::JOB_SCHEDULE_ID_TO_SCHEDULE)?
        .remove(id.as_u128())?
        .map(|b| codec::decode(b.value()))
        .transpose()?;
    if let Some(record) = &removed {
        let project = record.project.as_u128();
        tx.open_table(tables::PROJECT_JOB_SCHEDULE_NAME_TO_ID)?
            .remove((project, record.name.as_str()))?;
        tx.open_multimap_table(tables::PROJECT_ID_TO_JOB_SCHEDULE_IDS)?
            .remove(project, id.as_u128())?;
        tx.open_multimap_table(tables::JOB_TEMPLATE_ID_TO_SCHEDULE_IDS)?
            .remove(record.template.as_u128(), id.as_u128())?;
        due::move_tx(
            tx,
            tables::DUE_JOB_SCHEDULE_IDS,
            id.as_u128(),
            record.next_run,
            None,
        )?;
    }
    Ok(removed)
}

/// The schedules of `project`, oldest first.
pub fn of_project_read_tx(
    tx: &ReadTransaction,
    project: ProjectId,
) -> Result<Vec<JobScheduleRecord>, StoreError> {
    codec::decode_indexed(
        &tx.open_multimap_table(tables::PROJECT_ID_TO_JOB_SCHEDULE_IDS)?,
        &tx.open_table(tables::JOB_SCHEDULE_ID_TO_SCHEDULE)?,
        project.as_u128(),
    )
}

/// The schedules that run `template`, oldest first.
pub fn of_template_tx(
    tx: &WriteTransaction,
    template: JobTemplateId,
) -> Result<Vec<JobScheduleRecord>, StoreError> {
    codec::decode_indexed(
        &tx.open_multimap_table(tables::JOB_TEMPLATE_ID_TO_SCHEDULE_IDS)?,
        &tx.open_table(tables::JOB_SCHEDULE_ID_TO_SCHEDULE)?,
        template.as_u128(),
    )
}

/// At most `limit` schedules whose next run is at `now` or before, the
/// longest waiting first.
pub fn due_read_tx(
    tx: &ReadTransaction,
    now: Timestamp,
    limit: usize,
) -> Result<Vec<JobScheduleRecord>, StoreError> {
    due::records_read_tx(
        tx,
        tables::DUE_JOB_SCHEDULE_IDS,
        tables::JOB_SCHEDULE_ID_TO_SCHEDULE,
        now,
        limit,
    )
}

/// The earliest next run of any schedule.
pub fn next_due_read_tx(tx: &ReadTransaction) -> Result<Option<Timestamp>, StoreError> {
    due::next_read_tx(tx, tables::DUE_JOB_SCHEDULE_IDS)
}

/// Every schedule, for the loop's rebuild at start.
pub fn all_tx(tx: &WriteTransaction) -> Result<Vec<JobScheduleRecord>, StoreError> {
    codec::decode_all(&tx.open_table(tables::JOB_SCHEDULE_ID_TO_SCHEDULE)?)
}

/// Empties the due list; the loop's rebuild at start then lists every
/// schedule again with [`set_due_tx`].
pub fn clear_due_tx(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(tables::DUE_JOB_SCHEDULE_IDS)?
        .retain(|_, ()| false)?;
    Ok(())
}

/// Writes a schedule as it is and lists it at its next run; the rebuild's
/// step after [`clear_due_tx`].
pub fn set_due_tx(tx: &WriteTransaction, record: &JobScheduleRecord) -> Result<(), StoreError> {
    let id = record.id.as_u128();
    due::move_tx(tx, tables::DUE_JOB_SCHEDULE_IDS, id, None, record.next_run)?;
    tx.open_table(tables::JOB_SCHEDULE_ID_TO_SCHEDULE)?
        .insert(id, codec::encode(record)?.as_slice())?;
    Ok(())
}
