//! Storage Management (manual §5.7): a project's storages as the list shows
//! them (owner, type, permission, status, what mounts them), creating one of
//! an admin's storage types, changing its permission without breaking a
//! mount, and deleting one nothing mounts. Volumes are written through the
//! use cases of `workloads.rs`; projects → storage → workloads.

use serde::Deserialize;

use super::containers::is_wizard_name;
use super::guards::{live_project_read_tx, live_project_tx, role_of};
use super::workloads::{blocks_volume_deletion, request_volume_deletion, require_volume};
use super::{ServiceError, Services};
use crate::domain::audit::AuditAction;
use crate::domain::authz::{
    ProjectAction, WorkloadAction, permits_project, permits_workload, storage_mount,
};
use crate::domain::ids::{ProjectId, StorageTypeId, VolumeId};
use crate::domain::storage::{
    MountAccess, StoragePermission, StorageStatus, breaks_mount, parse_size,
};
use crate::domain::validation::FieldErrors;
use crate::domain::workload::VolumeSpec;
use crate::store::catalog::{self, StorageTypeRecord};
use crate::store::holds;
use crate::store::users::{self, UserRecord};
use crate::store::volumes::{self, VolumeDesired, VolumeRecord};
use crate::store::workloads::{self, WorkloadRecord};

/// The create form as posted: every field a string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct CreateStorageRequest {
    pub name: String,
    /// A storage type's id.
    pub storage_type: String,
    /// GiB; empty: the type's default (its minimum).
    pub size: String,
    /// A [`StoragePermission`] code.
    pub permission: String,
}

/// The clone form as posted: the new storage's name and permission (its
/// type and size are the source's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct CloneStorageRequest {
    pub name: String,
    /// A [`StoragePermission`] code.
    pub permission: String,
}

/// One storage as the list shows it.
#[derive(Debug, Clone)]
pub struct StorageItem {
    pub record: VolumeRecord,
    pub owner_name: String,
    /// The storage type's name (its storage class for volumes made before
    /// Storage Management).
    pub type_name: String,
    pub status: StorageStatus,
    /// The containers and jobs that mount it and still may run.
    pub mounted_by: Vec<String>,
    /// The viewer may change its permission and delete it.
    pub may_manage: bool,
    /// The viewer's own workloads would mount it read-only.
    pub read_only_for_viewer: bool,
    /// The viewer may clone it into a storage of theirs (a member of the
    /// project who sees it).
    pub may_clone: bool,
}

/// What Storage Management shows of a project.
#[derive(Debug, Clone)]
pub struct StorageOverview {
    /// Newest first.
    pub items: Vec<StorageItem>,
    /// The storage types a new storage may be of (not retired), by name.
    pub types: Vec<StorageTypeRecord>,
    /// The project's storage quota in GB, and what its storages hold of it
    /// (every storage of the project, also those the viewer does not see).
    pub quota_gib: u64,
    pub used_gib: u64,
}

/// The result of a change a running mount may refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageOutcome {
    Done,
    /// Refused: these containers or jobs mount it in a way the change would
    /// break (for a deletion: any that mounts it).
    MountedBy(Vec<String>),
    /// A deletion refused: these clones are still being copied from it.
    CloningInto(Vec<String>),
}

/// The workloads of a project that mount `volume` and may still run.
fn mounting<'a>(
    workloads: &'a [WorkloadRecord],
    volume: &'a VolumeRecord,
) -> impl Iterator<Item = (&'a WorkloadRecord, bool)> + 'a {
    workloads
        .iter()
        .filter(|w| blocks_volume_deletion(w))
        .filter_map(move |w| {
            w.spec
                .volumes()
                .iter()
                .find(|m| m.volume == volume.spec.name)
                .map(|m| (w, m.read_only))
        })
}

/// Whether `volume` is a clone of the storage `source` still being copied.
fn is_copying_from(volume: &VolumeRecord, source: &str) -> bool {
    volume.desired == VolumeDesired::Present
        && !volume.ready
        && volume.spec.clone_of.as_deref() == Some(source)
}

fn workload_name(w: &WorkloadRecord) -> String {
    w.spec.name().unwrap_or_default().to_owned()
}

impl Services {
    /// The storages of `project` that `viewer` may see, and the storage
    /// types a new one may be of.
    pub async fn storage_overview(
        &self,
        viewer: &UserRecord,
        project: ProjectId,
    ) -> Result<StorageOverview, ServiceError> {
        let viewer = viewer.clone();
        self.blocking(move |store| {
            let mut types: Vec<StorageTypeRecord> = catalog::list(store)?;
            let (items, quota_gib, used_gib) = store.read(|tx| {
                let p = live_project_read_tx(tx, project)?;
                let role = role_of(&viewer);
                let membership = p.role_of(viewer.id);
                if !permits_project(role, membership, ProjectAction::View) {
                    return Err(ServiceError::NotFound);
                }
                let workloads = workloads::of_project_read_tx(tx, project)?;
                let mut items = Vec::new();
                for record in volumes::of_project_read_tx(tx, project)? {
                    if require_volume(&viewer, &p, &record, WorkloadAction::View).is_err() {
                        continue;
                    }
                    let owner = record.spec.owner == viewer.id;
                    let owner_name = users::get_read_tx(tx, record.spec.owner)?
                        .map(|u| u.username.as_str().to_owned())
                        .unwrap_or_default();
                    let type_name = types
                        .iter()
                        .find(|t| Some(t.id) == record.storage_type)
                        .map_or_else(|| record.spec.storage_class.clone(), |t| t.name.clone());
                    let mounted_by: Vec<String> = mounting(&workloads, &record)
                        .map(|(w, _)| workload_name(w))
                        .collect();
                    let status = StorageStatus::of(
                        record.desired == VolumeDesired::Deleted,
                        record.ready,
                        record.error.is_some(),
                        !mounted_by.is_empty(),
                    );
                    items.push(StorageItem {
                        may_manage: permits_workload(
                            role,
                            membership,
                            owner,
                            WorkloadAction::Operate,
                        ),
                        read_only_for_viewer: storage_mount(membership, owner, record.permission)
                            == Some(MountAccess::ReadOnly),
                        may_clone: permits_workload(
                            role,
                            membership,
                            owner,
                            WorkloadAction::Create,
                        ),
                        record,
                        owner_name,
                        type_name,
                        status,
                        mounted_by,
                    });
                }
                items.reverse();
                let (used, _) = holds::totals(&holds::of_project_read_tx(tx, project)?, None);
                Ok((items, p.quota.storage_gib, used.storage_gib))
            })?;
            types.retain(|t| !t.retired);
            types.sort_by_cached_key(|t| t.name.to_lowercase());
            Ok(StorageOverview {
                items,
                types,
                quota_gib,
                used_gib,
            })
        })
        .await
    }

    /// Creates a storage in `project` owned by `actor`: a name by the
    /// container naming rule, one of the admin's storage types, a size
    /// within its limits, and a permission.
    pub async fn create_storage(
        &self,
        actor: &UserRecord,
        project: ProjectId,
        request: &CreateStorageRequest,
    ) -> Result<VolumeId, ServiceError> {
        let mut errors = FieldErrors::new();
        let name = request.name.trim().to_owned();
        if !is_wizard_name(&name) {
            errors.add("name", "storage.error.name");
        }
        let storage_type = match request.storage_type.trim().parse::<StorageTypeId>() {
            Ok(id) => match self.storage_type(id).await {
                Ok(t) if !t.retired => Some(t),
                Ok(_) | Err(ServiceError::NotFound) => None,
                Err(e) => return Err(e),
            },
            Err(_) => None,
        };
        let size_gib = match &storage_type {
            Some(t) => parse_size(&request.size, t.min_gib, t.max_gib, &mut errors),
            None => {
                errors.add("storage_type", "storage.error.storage_type");
                0
            }
        };
        let permission = StoragePermission::parse(&request.permission).unwrap_or_else(|| {
            errors.add("permission", "storage.error.permission");
            StoragePermission::Personal
        });
        let Some(storage_type) = storage_type.filter(|_| errors.is_empty()) else {
            return Err(ServiceError::Invalid(errors));
        };
        let spec = VolumeSpec {
            project,
            owner: actor.id,
            name,
            storage_class: storage_type.storage_class.clone(),
            size_gib,
            clone_of: None,
        };
        self.insert_volume(actor, spec, permission, Some(storage_type.id))
            .await
    }

    /// Clones a storage `actor` may see into a new one of theirs of the same
    /// type and size, which starts with a copy of its data (Creating while
    /// the driver copies). The source must be Available or In use; it is
    /// not deleted while the copy runs.
    pub async fn clone_storage(
        &self,
        actor: &UserRecord,
        source: VolumeId,
        request: &CloneStorageRequest,
    ) -> Result<VolumeId, ServiceError> {
        let source = self.volume(actor, source).await?;
        let mut errors = FieldErrors::new();
        let name = request.name.trim().to_owned();
        if !is_wizard_name(&name) {
            errors.add("name", "storage.error.name");
        }
        let permission = StoragePermission::parse(&request.permission).unwrap_or_else(|| {
            errors.add("permission", "storage.error.permission");
            StoragePermission::Personal
        });
        if !errors.is_empty() {
            return Err(ServiceError::Invalid(errors));
        }
        let spec = VolumeSpec {
            project: source.spec.project,
            owner: actor.id,
            name,
            storage_class: source.spec.storage_class.clone(),
            size_gib: source.spec.size_gib,
            clone_of: Some(source.spec.name.clone()),
        };
        self.insert_volume(actor, spec, permission, source.storage_type)
            .await
    }

    /// Changes who may read and write a storage; refused, naming them, when
    /// a container or job of someone else mounts it in a way the new
    /// permission would not allow.
    pub async fn set_storage_permission(
        &self,
        actor: &UserRecord,
        id: VolumeId,
        permission: &str,
    ) -> Result<StorageOutcome, ServiceError> {
        let actor = actor.clone();
        let permission = StoragePermission::parse(permission);
        let now = self.clock.now();
        self.blocking(move |store| {
            store.write(|tx| {
                let volume = volumes::get_tx(tx, id)?.ok_or(ServiceError::NotFound)?;
                let p = live_project_tx(tx, volume.spec.project)?;
                require_volume(&actor, &p, &volume, WorkloadAction::Operate)?;
                let Some(permission) = permission else {
                    return Err(ServiceError::Invalid(FieldErrors::single(
                        "permission",
                        "storage.error.permission",
                    )));
                };
                if volume.desired == VolumeDesired::Deleted {
                    return Err(ServiceError::Refused("storage.error.deleting"));
                }
                let workloads = workloads::of_project_tx(tx, p.id)?;
                let broken: Vec<String> = mounting(&workloads, &volume)
                    .filter(|(w, read_only)| {
                        breaks_mount(permission, w.spec.owner() == volume.spec.owner, *read_only)
                    })
                    .map(|(w, _)| workload_name(w))
                    .collect();
                if !broken.is_empty() {
                    return Ok(StorageOutcome::MountedBy(broken));
                }
                volumes::update_tx(tx, id, now, |v| v.permission = permission)?;
                Ok(StorageOutcome::Done)
            })
        })
        .await
    }

    /// Whether `actor` may change or delete the storage (Forbidden for a
    /// teammate who only sees it, NotFound for one who does not).
    pub async fn may_manage_storage(
        &self,
        actor: &UserRecord,
        id: VolumeId,
    ) -> Result<(), ServiceError> {
        let actor = actor.clone();
        self.blocking(move |store| {
            store.read(|tx| {
                let volume = volumes::get_read_tx(tx, id)?.ok_or(ServiceError::NotFound)?;
                let p = live_project_read_tx(tx, volume.spec.project)?;
                require_volume(&actor, &p, &volume, WorkloadAction::Operate)
            })
        })
        .await
    }

    /// Deletes a storage and its data; refused, naming them, while a
    /// container (even a stopped one: it can start again) or a job that has
    /// not ended mounts it.
    pub async fn delete_storage(
        &self,
        actor: &UserRecord,
        id: VolumeId,
    ) -> Result<StorageOutcome, ServiceError> {
        let actor = actor.clone();
        let now = self.clock.now();
        let stamp = self.audit_stamp();
        let outcome = self
            .blocking(move |store| {
                store.write(|tx| {
                    let volume = volumes::get_tx(tx, id)?.ok_or(ServiceError::NotFound)?;
                    let p = live_project_tx(tx, volume.spec.project)?;
                    require_volume(&actor, &p, &volume, WorkloadAction::Operate)?;
                    if volume.desired == VolumeDesired::Deleted {
                        return Ok(None);
                    }
                    let workloads = workloads::of_project_tx(tx, p.id)?;
                    let mounted_by: Vec<String> = mounting(&workloads, &volume)
                        .map(|(w, _)| workload_name(w))
                        .collect();
                    if !mounted_by.is_empty() {
                        return Ok(Some(StorageOutcome::MountedBy(mounted_by)));
                    }
                    let cloning: Vec<String> = volumes::of_project_tx(tx, p.id)?
                        .into_iter()
                        .filter(|v| is_copying_from(v, &volume.spec.name))
                        .map(|v| v.spec.name)
                        .collect();
                    if !cloning.is_empty() {
                        return Ok(Some(StorageOutcome::CloningInto(cloning)));
                    }
                    volumes::update_tx(tx, id, now, |v| request_volume_deletion(v, now))?;
                    let target = format!("{}/{}", p.name, volume.spec.name);
                    stamp.record_tx(tx, AuditAction::StorageDeleted, target)?;
                    Ok(Some(StorageOutcome::Done))
                })
            })
            .await?;
        match outcome {
            Some(StorageOutcome::Done) => {
                self.wake_reconciler();
                Ok(StorageOutcome::Done)
            }
            Some(refused) => Ok(refused),
            None => Ok(StorageOutcome::Done),
        }
    }
}
