//! Projects, their membership index and the applications about them.

use jiff::Timestamp;
use jiff::civil::Date;
use redb::{ReadTransaction, ReadableMultimapTable, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{StoreError, codec, tables};
use crate::domain::ids::{ApplicationId, ProjectId, PurposeId, UserId};
use crate::domain::project::{
    ApplicationKind, ApplicationStatus, Membership, ProjectRole, ProjectStatus,
};
use crate::domain::quota::Resources;

/// A stored project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectRecord {
    pub id: ProjectId,
    /// Shown as "Project Code" (e.g. `project1701234567890`).
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub purpose: Option<PurposeId>,
    pub start: Date,
    /// The last usable day.
    pub end: Date,
    pub members: Vec<Membership>,
    #[serde(default)]
    pub quota: Resources,
    pub status: ProjectStatus,
    pub applicant: UserId,
    pub created_at: Timestamp,
    /// Reminder days already mailed for the current end date.
    #[serde(default)]
    pub reminders_sent: Vec<u32>,
    /// Deleted by a manager: kept for cost history, hidden from lists.
    #[serde(default)]
    pub deleted: bool,
    #[serde(default)]
    pub released_at: Option<Timestamp>,
    /// A released project's cluster side (kube: its namespace and service
    /// accounts) was removed by the driver.
    #[serde(default)]
    pub released_in_cluster: bool,
    /// An admin's automatic stop: Running containers whose GPUs stayed
    /// idle this many hours are stopped (None: never; absent in older
    /// records).
    #[serde(default)]
    pub auto_stop_idle_hours: Option<u32>,
}

impl ProjectRecord {
    pub fn role_of(&self, user: UserId) -> Option<ProjectRole> {
        self.members.iter().find(|m| m.user == user).map(|m| m.role)
    }

    pub fn managers(&self) -> impl Iterator<Item = UserId> + '_ {
        self.members
            .iter()
            .filter(|m| m.role == ProjectRole::Manager)
            .map(|m| m.user)
    }
}

/// A stored application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationRecord {
    pub id: ApplicationId,
    pub project: ProjectId,
    pub applicant: UserId,
    pub kind: ApplicationKind,
    pub status: ApplicationStatus,
    pub created_at: Timestamp,
    #[serde(default)]
    pub reason: String,
    /// The admin's remark when deciding.
    #[serde(default)]
    pub remark: String,
    #[serde(default)]
    pub decided_by: Option<UserId>,
    #[serde(default)]
    pub decided_at: Option<Timestamp>,
    /// The project's period (start, end) when the application was made;
    /// records written before this field show the project's current one.
    #[serde(default)]
    pub period: Option<(Date, Date)>,
}

/// Whether any project (in any status) was created for `purpose`.
pub fn uses_purpose_tx(tx: &WriteTransaction, purpose: PurposeId) -> Result<bool, StoreError> {
    Ok(all_tx(tx)?.iter().any(|p| p.purpose == Some(purpose)))
}

pub fn get_read_tx(
    tx: &ReadTransaction,
    id: ProjectId,
) -> Result<Option<ProjectRecord>, StoreError> {
    codec::decode_one(&tx.open_table(tables::PROJECT_ID_TO_PROJECT)?, id.as_u128())
}

pub fn get_tx(tx: &WriteTransaction, id: ProjectId) -> Result<Option<ProjectRecord>, StoreError> {
    codec::decode_one(&tx.open_table(tables::PROJECT_ID_TO_PROJECT)?, id.as_u128())
}

/// Every project, oldest first.
pub fn all_read_tx(tx: &ReadTransaction) -> Result<Vec<ProjectRecord>, StoreError> {
    codec::decode_all(&tx.open_table(tables::PROJECT_ID_TO_PROJECT)?)
}

pub fn all_tx(tx: &WriteTransaction) -> Result<Vec<ProjectRecord>, StoreError> {
    codec::decode_all(&tx.open_table(tables::PROJECT_ID_TO_PROJECT)?)
}

/// The projects `user` belongs to, oldest first.
pub fn of_user_read_tx(
    tx: &ReadTransaction,
    user: UserId,
) -> Result<Vec<ProjectRecord>, StoreError> {
    let index = tx.open_multimap_table(tables::USER_ID_TO_PROJECT_IDS)?;
    let mut projects = Vec::new();
    for id in index.get(user.as_u128())? {
        if let Some(project) = get_read_tx(tx, ProjectId::from_u128(id?.value()))? {
            projects.push(project);
        }
    }
    Ok(projects)
}

/// The ids of the projects `user` belongs to, in a write transaction.
pub fn ids_of_user_tx(tx: &WriteTransaction, user: UserId) -> Result<Vec<ProjectId>, StoreError> {
    let index = tx.open_multimap_table(tables::USER_ID_TO_PROJECT_IDS)?;
    index
        .get(user.as_u128())?
        .map(|id| Ok(ProjectId::from_u128(id?.value())))
        .collect()
}

/// Writes a project and keeps the membership index in step with its members.
pub fn put_tx(tx: &WriteTransaction, project: &ProjectRecord) -> Result<(), StoreError> {
    let previous = get_tx(tx, project.id)?;
    let mut index = tx.open_multimap_table(tables::USER_ID_TO_PROJECT_IDS)?;
    if let Some(previous) = previous {
        for m in &previous.members {
            index.remove(m.user.as_u128(), project.id.as_u128())?;
        }
    }
    for m in &project.members {
        index.insert(m.user.as_u128(), project.id.as_u128())?;
    }
    tx.open_table(tables::PROJECT_ID_TO_PROJECT)?
        .insert(project.id.as_u128(), codec::encode(project)?.as_slice())?;
    Ok(())
}

pub fn application_read_tx(
    tx: &ReadTransaction,
    id: ApplicationId,
) -> Result<Option<ApplicationRecord>, StoreError> {
    codec::decode_one(
        &tx.open_table(tables::APPLICATION_ID_TO_APPLICATION)?,
        id.as_u128(),
    )
}

pub fn application_tx(
    tx: &WriteTransaction,
    id: ApplicationId,
) -> Result<Option<ApplicationRecord>, StoreError> {
    codec::decode_one(
        &tx.open_table(tables::APPLICATION_ID_TO_APPLICATION)?,
        id.as_u128(),
    )
}

/// Writes an application and keeps the applicant, project and
/// waiting-for-review indexes in step.
pub fn put_application_tx(
    tx: &WriteTransaction,
    application: &ApplicationRecord,
) -> Result<(), StoreError> {
    let id = application.id.as_u128();
    tx.open_multimap_table(tables::USER_ID_TO_APPLICATION_IDS)?
        .insert(application.applicant.as_u128(), id)?;
    tx.open_multimap_table(tables::PROJECT_ID_TO_APPLICATION_IDS)?
        .insert(application.project.as_u128(), id)?;
    let mut reviewing = tx.open_table(tables::REVIEWING_APPLICATION_IDS)?;
    if application.status == ApplicationStatus::Reviewing {
        reviewing.insert(id, ())?;
    } else {
        reviewing.remove(id)?;
    }
    tx.open_table(tables::APPLICATION_ID_TO_APPLICATION)?
        .insert(id, codec::encode(application)?.as_slice())?;
    Ok(())
}

/// The applications `user` made, newest first.
pub fn applications_of_user_read_tx(
    tx: &ReadTransaction,
    user: UserId,
) -> Result<Vec<ApplicationRecord>, StoreError> {
    let index = tx.open_multimap_table(tables::USER_ID_TO_APPLICATION_IDS)?;
    let mut out = Vec::new();
    for id in index.get(user.as_u128())? {
        if let Some(a) = application_read_tx(tx, ApplicationId::from_u128(id?.value()))? {
            out.push(a);
        }
    }
    out.reverse();
    Ok(out)
}

/// The applications about `project`, newest first, in a read transaction.
pub fn applications_of_project_read_tx(
    tx: &ReadTransaction,
    project: ProjectId,
) -> Result<Vec<ApplicationRecord>, StoreError> {
    let index = tx.open_multimap_table(tables::PROJECT_ID_TO_APPLICATION_IDS)?;
    newest_first(&index, project, |id| application_read_tx(tx, id))
}

/// The applications about `project`, newest first.
pub fn applications_of_project_tx(
    tx: &WriteTransaction,
    project: ProjectId,
) -> Result<Vec<ApplicationRecord>, StoreError> {
    let index = tx.open_multimap_table(tables::PROJECT_ID_TO_APPLICATION_IDS)?;
    newest_first(&index, project, |id| application_tx(tx, id))
}

/// The applications `index` lists for `project`, newest first, each read
/// by `read` (in a read or a write transaction).
fn newest_first(
    index: &impl ReadableMultimapTable<u128, u128>,
    project: ProjectId,
    read: impl Fn(ApplicationId) -> Result<Option<ApplicationRecord>, StoreError>,
) -> Result<Vec<ApplicationRecord>, StoreError> {
    let ids: Vec<u128> = index
        .get(project.as_u128())?
        .map(|id| id.map(|v| v.value()))
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for id in ids.into_iter().rev() {
        if let Some(a) = read(ApplicationId::from_u128(id))? {
            out.push(a);
        }
    }
    Ok(out)
}

/// The applications waiting for an admin, oldest first.
pub fn reviewing_read_tx(tx: &ReadTransaction) -> Result<Vec<ApplicationRecord>, StoreError> {
    let index = tx.open_table(tables::REVIEWING_APPLICATION_IDS)?;
    let mut out = Vec::new();
    for entry in index.iter()? {
        let (id, _) = entry?;
        if let Some(a) = application_read_tx(tx, ApplicationId::from_u128(id.value()))? {
            out.push(a);
        }
    }
    Ok(out)
}

/// Whether an extension of `project` was ever approved (the Project List's
/// "extended" mark).
pub fn has_approved_extension_read_tx(
    tx: &ReadTransaction,
    project: ProjectId,
) -> Result<bool, StoreError> {
    let index = tx.open_multimap_table(tables::PROJECT_ID_TO_APPLICATION_IDS)?;
    for id in index.get(project.as_u128())? {
        if let Some(a) = application_read_tx(tx, ApplicationId::from_u128(id?.value()))?
            && a.status == ApplicationStatus::Approved
            && matches!(a.kind, ApplicationKind::Extension { .. })
        {
            return Ok(true);
        }
    }
    Ok(false)
}
