//! Custom images (manual §4.4, §8.1): a Running container saved as an image
//! through an image commit workload (the reconcile loop has the driver
//! commit it: kube a Job that pushes to the registry, local a tarball of
//! the working directory), listed to whom its type allows, offered to the
//! container wizard when Ready, deletable by whom may operate it, and gone
//! with its project.
//!
//! A custom image's id is its commit workload's id; its status is that
//! workload's (`ImageStatus::of_commit`), so it follows the reconcile loop
//! with nothing more to write. A container runs a custom image when its
//! `image` is the image's `target` (`custom/<project code>/<name>:<tag>`)
//! and its services are the image's: take both from
//! [`Services::usable_custom_images`]; `create_container` refuses a custom
//! target the user may not use.

use jiff::Timestamp;

use super::guards::{live_project_read_tx, live_project_tx, may_use_custom_image, role_of};
use super::{ServiceError, Services};
use crate::cluster::WorkloadEvent;
use crate::domain::audit::AuditAction;
use crate::domain::authz::{ProjectAction, WorkloadAction, permits_project, permits_workload};
use crate::domain::ids::ProjectId;
use crate::domain::image::{CustomImageForm, ImageStatus, ImageType, commit_target};
use crate::domain::validation::FieldErrors;
use crate::domain::workload::{FailureReason, ImageCommitSpec, WorkloadId, WorkloadStatus};
use crate::store::custom_images::{self, CustomImageRecord};
use crate::store::projects::ProjectRecord;
use crate::store::users::UserRecord;
use crate::store::workloads::{self, Desired, WorkloadRecord, WorkloadSpec};
use crate::store::{ReadTx, StoreError, WriteTx};

/// A custom image as the pages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomImage {
    pub record: CustomImageRecord,
    pub status: ImageStatus,
    /// Why saving it failed, when it did.
    pub failure: Option<FailureReason>,
    /// Whether the viewer may delete it.
    pub may_delete: bool,
}

/// A Running container the user may save as a custom image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveableContainer {
    pub id: WorkloadId,
    pub name: String,
    /// The image it runs.
    pub image: String,
}

fn event(at: Timestamp, reason: &str, message: String) -> WorkloadEvent {
    WorkloadEvent {
        at,
        warning: false,
        reason: reason.to_owned(),
        message,
    }
}

/// Whether `user` may operate (save, delete) something of `owner` in
/// `project`; NotFound for who may not even see it, Forbidden for who sees
/// it (`visible`) but may not.
fn require_operate(
    user: &UserRecord,
    project: &ProjectRecord,
    owner: crate::domain::ids::UserId,
    visible: bool,
) -> Result<(), ServiceError> {
    let role = role_of(user);
    let membership = project.role_of(user.id);
    let owns = owner == user.id;
    if permits_workload(role, membership, owns, WorkloadAction::Operate) {
        Ok(())
    } else if visible || permits_workload(role, membership, owns, WorkloadAction::View) {
        Err(ServiceError::Forbidden)
    } else {
        Err(ServiceError::NotFound)
    }
}

/// Whether `viewer` sees `record` in the list: their own, and the Project
/// images of a project they may see.
fn visible(viewer: &UserRecord, project: &ProjectRecord, record: &CustomImageRecord) -> bool {
    record.owner == viewer.id
        || record.image_type == ImageType::Project
            && permits_project(
                role_of(viewer),
                project.role_of(viewer.id),
                ProjectAction::View,
            )
}

/// The image's status and failure from its commit workload (gone: failed).
fn status_of(commit: Option<&WorkloadRecord>) -> (ImageStatus, Option<FailureReason>) {
    match commit.map(WorkloadRecord::status) {
        Some(WorkloadStatus::Failed { reason }) => (ImageStatus::Failed, Some(reason)),
        Some(status) => (ImageStatus::of_commit(&status), None),
        None => (ImageStatus::Failed, Some(FailureReason::Lost)),
    }
}

fn view_read_tx(
    tx: &ReadTx,
    viewer: &UserRecord,
    project: &ProjectRecord,
    record: CustomImageRecord,
) -> Result<CustomImage, ServiceError> {
    let commit = workloads::get_read_tx(tx, record.id)?;
    let (status, failure) = status_of(commit.as_ref());
    let may_delete = require_operate(viewer, project, record.owner, true).is_ok();
    Ok(CustomImage {
        record,
        status,
        failure,
        may_delete,
    })
}

/// The container `id` if `actor` may save it (operate it); Refused unless
/// it is a container that is Running and meant to.
fn saveable_container(
    actor: &UserRecord,
    project: &ProjectRecord,
    record: &WorkloadRecord,
) -> Result<(), ServiceError> {
    require_operate(actor, project, record.spec.owner(), false)?;
    if record.spec.kind() != crate::cluster::WorkloadKind::Container {
        return Err(ServiceError::NotFound);
    }
    if record.desired != Desired::Running || record.status() != WorkloadStatus::Running {
        return Err(ServiceError::Refused("error.image.not_running"));
    }
    Ok(())
}

impl Services {
    /// The container to save as a custom image, if `actor` may operate it;
    /// Refused (with the reason) unless it is Running.
    pub async fn container_to_save(
        &self,
        actor: &UserRecord,
        container: WorkloadId,
    ) -> Result<WorkloadRecord, ServiceError> {
        let actor = actor.clone();
        self.blocking(move |store| {
            store.read(|tx| {
                let record =
                    workloads::get_read_tx(tx, container)?.ok_or(ServiceError::NotFound)?;
                let p = live_project_read_tx(tx, record.spec.project())?;
                saveable_container(&actor, &p, &record)?;
                Ok(record)
            })
        })
        .await
    }

    /// The Running containers of `project` that `user` may save (their own;
    /// a manager's: all), for the list page's "+".
    pub async fn saveable_containers(
        &self,
        user: &UserRecord,
        project: ProjectId,
    ) -> Result<Vec<SaveableContainer>, ServiceError> {
        let user = user.clone();
        self.blocking(move |store| {
            store.read(|tx| {
                let p = live_project_read_tx(tx, project)?;
                Ok(workloads::of_project_read_tx(tx, project)?
                    .into_iter()
                    .filter(|r| saveable_container(&user, &p, r).is_ok())
                    .filter_map(|r| match r.spec {
                        WorkloadSpec::Container(spec) => Some(SaveableContainer {
                            id: spec.meta.id,
                            name: spec.meta.name,
                            image: spec.image.to_string(),
                        }),
                        _ => None,
                    })
                    .collect())
            })
        })
        .await
    }

    /// Saves the Running container `container` as a custom image of its
    /// project, owned by `actor`: the image (Building) and its commit
    /// workload in one transaction, then the reconcile loop is woken.
    pub async fn create_custom_image(
        &self,
        actor: &UserRecord,
        container: WorkloadId,
        form: &CustomImageForm,
    ) -> Result<WorkloadId, ServiceError> {
        // Who may not save it learns nothing from the form's messages.
        self.container_to_save(actor, container).await?;
        let request = form.validate().map_err(ServiceError::Invalid)?;
        let actor = actor.clone();
        let now = self.clock.now();
        let id = WorkloadId::generate();
        let stamp = self.audit_stamp();
        self.blocking(move |store| {
            store.write(|tx| {
                let source = workloads::get_tx(tx, container)?.ok_or(ServiceError::NotFound)?;
                let p = live_project_tx(tx, source.spec.project())?;
                saveable_container(&actor, &p, &source)?;
                if !p.status.is_usable() {
                    return Err(ServiceError::Refused("error.workload.project_not_active"));
                }
                let WorkloadSpec::Container(source_spec) = &source.spec else {
                    return Err(ServiceError::NotFound);
                };
                let target = commit_target(&p.code, &request.image);
                let commit = ImageCommitSpec {
                    id,
                    project: p.id,
                    owner: actor.id,
                    container,
                    target: target.clone(),
                };
                // The project's prefix makes the reference longer than the
                // name the user typed.
                commit.validate().map_err(|_| {
                    ServiceError::Invalid(FieldErrors::single(
                        "image_name",
                        "image.error.image_name_prefixed",
                    ))
                })?;
                let image = CustomImageRecord {
                    id,
                    project: p.id,
                    owner: actor.id,
                    name: request.name,
                    description: request.description,
                    image: request.image,
                    target,
                    image_type: request.image_type,
                    services: source_spec.services.clone(),
                    source: container,
                    source_name: source_spec.meta.name.clone(),
                    created_at: now,
                };
                custom_images::insert_tx(tx, &image).map_err(|e| match e {
                    StoreError::Conflict(_) => ServiceError::Invalid(FieldErrors::single(
                        "image_name",
                        "image.error.taken",
                    )),
                    other => other.into(),
                })?;
                let type_key = match image.image_type {
                    ImageType::Private => "image.type.private",
                    ImageType::Project => "image.type.project",
                };
                super::cost::record_image_order_tx(tx, &actor, &p, &image, type_key)?;
                stamp.record_tx(
                    tx,
                    AuditAction::ImageCreated,
                    format!("{}/{}", p.name, image.image),
                )?;
                let record = WorkloadRecord {
                    spec: WorkloadSpec::ImageCommit(commit),
                    desired: Desired::Running,
                    generation: 1,
                    observed: None,
                    error: None,
                    events: vec![event(
                        now,
                        "Created",
                        format!(
                            "saving {} as {} requested by {}",
                            image.source_name,
                            image.image,
                            actor.username.as_str()
                        ),
                    )],
                    due_at: Some(now),
                    hold: None,
                    queued: false,
                    created_at: now,
                    updated_at: now,
                };
                workloads::insert_tx(tx, &record)?;
                Ok(())
            })
        })
        .await?;
        self.wake_reconciler();
        Ok(id)
    }

    /// The custom images of `project` that `viewer` sees (their own and the
    /// project's Project images), newest first.
    pub async fn custom_images(
        &self,
        viewer: &UserRecord,
        project: ProjectId,
    ) -> Result<Vec<CustomImage>, ServiceError> {
        let viewer = viewer.clone();
        self.blocking(move |store| {
            store.read(|tx| {
                let p = live_project_read_tx(tx, project)?;
                if !permits_project(role_of(&viewer), p.role_of(viewer.id), ProjectAction::View) {
                    return Err(ServiceError::NotFound);
                }
                let mut list = Vec::new();
                for record in custom_images::of_project_read_tx(tx, project)? {
                    if visible(&viewer, &p, &record) {
                        list.push(view_read_tx(tx, &viewer, &p, record)?);
                    }
                }
                list.reverse();
                Ok(list)
            })
        })
        .await
    }

    /// The Ready custom images `user` may start containers from in
    /// `project` (their Private ones and the project's Project ones),
    /// newest first: what the container wizard offers. A container runs one
    /// with `image` = the record's `target` and its `services`.
    pub async fn usable_custom_images(
        &self,
        user: &UserRecord,
        project: ProjectId,
    ) -> Result<Vec<CustomImageRecord>, ServiceError> {
        let user = user.clone();
        self.blocking(move |store| {
            store.read(|tx| {
                let p = live_project_read_tx(tx, project)?;
                if p.role_of(user.id).is_none() {
                    return Err(ServiceError::NotFound);
                }
                let mut usable = Vec::new();
                let own = custom_images::of_owner_read_tx(tx, user.id)?
                    .into_iter()
                    .filter(|r| r.project == project && r.image_type == ImageType::Private);
                let shared = custom_images::of_project_read_tx(tx, project)?
                    .into_iter()
                    .filter(|r| r.image_type == ImageType::Project);
                for record in own.chain(shared) {
                    let ready = workloads::get_read_tx(tx, record.id)?
                        .is_some_and(|w| ImageStatus::of_commit(&w.status()) == ImageStatus::Ready);
                    if ready && may_use_custom_image(&user, &p, &record) {
                        usable.push(record);
                    }
                }
                usable.sort_by_key(|r| std::cmp::Reverse(r.id));
                Ok(usable)
            })
        })
        .await
    }

    /// One custom image, if `actor` may delete it (the delete page).
    pub async fn custom_image_to_delete(
        &self,
        actor: &UserRecord,
        id: WorkloadId,
    ) -> Result<CustomImage, ServiceError> {
        let actor = actor.clone();
        self.blocking(move |store| {
            store.read(|tx| {
                let record = custom_images::get_read_tx(tx, id)?.ok_or(ServiceError::NotFound)?;
                let p = live_project_read_tx(tx, record.project)?;
                require_operate(&actor, &p, record.owner, visible(&actor, &p, &record))?;
                view_read_tx(tx, &actor, &p, record)
            })
        })
        .await
    }

    /// Deletes a custom image: the record goes at once and its commit
    /// workload is deleted by the reconcile loop (kube: the Job; local: the
    /// saved tarball). Refused while a container of the project runs it.
    pub async fn delete_custom_image(
        &self,
        actor: &UserRecord,
        id: WorkloadId,
    ) -> Result<(), ServiceError> {
        let actor = actor.clone();
        let now = self.clock.now();
        let stamp = self.audit_stamp();
        self.blocking(move |store| {
            store.write(|tx| {
                let record = custom_images::get_tx(tx, id)?.ok_or(ServiceError::NotFound)?;
                let p = live_project_tx(tx, record.project)?;
                require_operate(&actor, &p, record.owner, visible(&actor, &p, &record))?;
                let in_use = workloads::of_project_tx(tx, p.id)?.iter().any(|w| {
                    w.desired != Desired::Deleted
                        && matches!(&w.spec, WorkloadSpec::Container(c) if c.image == record.target)
                });
                if in_use {
                    return Err(ServiceError::Refused("error.image.in_use"));
                }
                custom_images::remove_tx(tx, id)?;
                let target = format!("{}/{}", p.name, record.image);
                stamp.record_tx(tx, AuditAction::ImageDeleted, target)?;
                let message = format!("deleted by {}", actor.username.as_str());
                delete_commit_tx(tx, id, now, message)?;
                Ok(())
            })
        })
        .await?;
        self.wake_reconciler();
        Ok(())
    }
}

/// Makes deletion the desired state of an image's commit workload.
fn delete_commit_tx(
    tx: &WriteTx,
    id: WorkloadId,
    now: Timestamp,
    message: String,
) -> Result<(), StoreError> {
    workloads::update_tx(tx, id, now, |r| {
        if r.desired != Desired::Deleted {
            r.desired = Desired::Deleted;
            r.generation += 1;
            r.error = None;
            r.due_at = Some(now);
            r.push_event(event(now, "DeleteRequested", message));
        }
    })?;
    Ok(())
}

/// Removes the custom images of a released project, in the caller's
/// transaction (their commit workloads are deleted with the project's
/// other workloads).
pub(crate) fn remove_project_images_tx(
    tx: &WriteTx,
    project: ProjectId,
) -> Result<bool, StoreError> {
    let mut changed = false;
    for record in custom_images::of_project_tx(tx, project)? {
        custom_images::remove_tx(tx, record.id)?;
        changed = true;
    }
    Ok(changed)
}
