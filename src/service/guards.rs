//! Checks the project and workload use cases share: the live project, the
//! platform role, and the resource hold a running workload or a storage
//! takes. Both
//! `projects.rs` and `workloads.rs` use them, so neither imports the other
//! for them and the use cases form a tree (projects → workloads → guards).

use jiff::Timestamp;

use super::ServiceError;
use crate::domain::authz::Role;
use crate::domain::ids::{HoldId, ProjectId, UserId};
use crate::domain::image::{ImageStatus, ImageType, is_custom_target};
use crate::domain::quota::{MemberCap, QuotaRefusal, Resources, check_fits};
use crate::domain::validation::FieldErrors;
use crate::domain::workload::ImageRef;
use crate::store::activations::{self, ActivationStatus};
use crate::store::custom_images::{self, CustomImageRecord};
use crate::store::holds::{self, HoldRecord};
use crate::store::projects::{self, ProjectRecord};
use crate::store::users::UserRecord;
use crate::store::workloads::{self, WorkloadSpec};
use crate::store::{ReadTx, StoreError, WriteTx};

pub(crate) fn role_of(user: &UserRecord) -> Role {
    if user.is_admin {
        Role::Admin
    } else {
        Role::Member
    }
}

/// A project that was not deleted, in a write transaction.
pub(crate) fn live_project_tx(tx: &WriteTx, id: ProjectId) -> Result<ProjectRecord, ServiceError> {
    projects::get_tx(tx, id)?
        .filter(|p| !p.deleted)
        .ok_or(ServiceError::NotFound)
}

/// A project that was not deleted, in a read transaction.
pub(crate) fn live_project_read_tx(
    tx: &ReadTx,
    id: ProjectId,
) -> Result<ProjectRecord, ServiceError> {
    projects::get_read_tx(tx, id)?
        .filter(|p| !p.deleted)
        .ok_or(ServiceError::NotFound)
}

/// What a workload counts against its project's quota and its owner's cap.
pub(crate) fn requested(spec: &WorkloadSpec) -> Resources {
    let resources = match spec {
        WorkloadSpec::Container(s) => &s.resources,
        WorkloadSpec::Job(s) => &s.resources,
        WorkloadSpec::ImageCommit(_) => return Resources::ZERO,
    };
    Resources {
        gpu_milli: resources.gpu.as_ref().map_or(0, |g| g.units_milli),
        cpu_milli: resources.cpu_milli,
        ram_mib: resources.ram_mib,
        storage_gib: 0,
    }
}

/// Why a hold was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HoldRefusal {
    /// The owner's Cloud Provisioning has not passed.
    NotActivated,
    /// The owner is not a member of the project.
    NotMember,
    /// The project is not usable (buffer period, released).
    ProjectNotActive,
    /// The project's quota or the owner's cap is short.
    Quota(QuotaRefusal),
}

/// Holds what `spec` requests inside `project` for its owner, in the
/// caller's transaction, when the owner's activation (Cloud Provisioning),
/// the project's status, the membership, the project's quota and the
/// owner's cap allow it; else says which refused (nothing written). The
/// check and the hold are one write transaction, so parallel requests can
/// never overshoot a quota.
pub(crate) fn try_hold_tx(
    tx: &WriteTx,
    project: &ProjectRecord,
    spec: &WorkloadSpec,
    now: Timestamp,
) -> Result<Result<HoldId, HoldRefusal>, StoreError> {
    let owner = spec.owner();
    let activated =
        activations::get_tx(tx, owner)?.is_some_and(|a| a.status == ActivationStatus::Passed);
    if !activated {
        return Ok(Err(HoldRefusal::NotActivated));
    }
    let Some(membership) = project.members.iter().find(|m| m.user == owner) else {
        return Ok(Err(HoldRefusal::NotMember));
    };
    if !project.status.is_usable() {
        return Ok(Err(HoldRefusal::ProjectNotActive));
    }
    let label = spec.name().unwrap_or_default().to_owned();
    Ok(take_hold_tx(
        tx,
        project,
        membership.cap,
        owner,
        requested(spec),
        label,
        now,
    )?
    .map_err(HoldRefusal::Quota))
}

/// Holds `request` inside `project` for `owner` (whose cap is `cap`) when
/// the project's quota and the cap allow it; else says what is left
/// (nothing written).
fn take_hold_tx(
    tx: &WriteTx,
    project: &ProjectRecord,
    cap: MemberCap,
    owner: UserId,
    request: Resources,
    label: String,
    now: Timestamp,
) -> Result<Result<HoldId, QuotaRefusal>, StoreError> {
    let held = holds::of_project_tx(tx, project.id)?;
    let (project_use, member_use) = holds::totals(&held, Some(owner));
    if let Err(refusal) = check_fits(project.quota, project_use, cap, member_use, request) {
        return Ok(Err(refusal));
    }
    let hold = HoldRecord {
        id: HoldId::generate(),
        project: project.id,
        owner,
        resources: request,
        label,
        created_at: now,
    };
    holds::put_tx(tx, &hold)?;
    Ok(Ok(hold.id))
}

/// Holds a storage of `size_gib` GB named `name` inside `project` for
/// `owner`, against the project's storage quota (storage has no member
/// cap), or answers what is left.
pub(crate) fn hold_storage_tx(
    tx: &WriteTx,
    project: &ProjectRecord,
    owner: UserId,
    name: &str,
    size_gib: u64,
    now: Timestamp,
) -> Result<HoldId, ServiceError> {
    take_hold_tx(
        tx,
        project,
        MemberCap::default(),
        owner,
        Resources::storage(size_gib),
        name.to_owned(),
        now,
    )?
    .map_err(|refusal| refusal_error(HoldRefusal::Quota(refusal), project))
}

/// The error a use case answers for `refusal` in `project`.
pub(crate) fn refusal_error(refusal: HoldRefusal, project: &ProjectRecord) -> ServiceError {
    match refusal {
        HoldRefusal::NotActivated => ServiceError::Refused("error.workload.not_activated"),
        HoldRefusal::NotMember => ServiceError::NotFound,
        HoldRefusal::ProjectNotActive => ServiceError::Refused("error.workload.project_not_active"),
        HoldRefusal::Quota(refusal) => {
            let (left, member) = match refusal {
                QuotaRefusal::Project { left } => (left, false),
                QuotaRefusal::Member { left } => (left, true),
            };
            ServiceError::OverQuota {
                left,
                member,
                project: project.name.clone(),
            }
        }
    }
}

/// Holds what `spec` requests inside `project` for its owner (see
/// [`try_hold_tx`]), or answers why not.
pub(crate) fn hold_tx(
    tx: &WriteTx,
    project: &ProjectRecord,
    spec: &WorkloadSpec,
    now: Timestamp,
) -> Result<HoldId, ServiceError> {
    try_hold_tx(tx, project, spec, now)?.map_err(|refusal| refusal_error(refusal, project))
}

/// Whether `user` may start containers from the custom image `record` now:
/// it is Ready (its commit succeeded) and theirs, or a Project image of a
/// project they belong to.
pub(crate) fn custom_image_usable_tx(
    tx: &WriteTx,
    user: &UserRecord,
    project: &ProjectRecord,
    record: &CustomImageRecord,
) -> Result<bool, ServiceError> {
    let ready = workloads::get_tx(tx, record.id)?
        .is_some_and(|w| ImageStatus::of_commit(&w.status()) == ImageStatus::Ready);
    Ok(ready && may_use_custom_image(user, project, record))
}

/// Whether `user` may see and use the custom image `record` whatever its
/// status: its owner while a member, or any member for a Project image.
pub(crate) fn may_use_custom_image(
    user: &UserRecord,
    project: &ProjectRecord,
    record: &CustomImageRecord,
) -> bool {
    record.project == project.id
        && project.role_of(user.id).is_some()
        && (record.owner == user.id || record.image_type == ImageType::Project)
}

/// Refuses a container image that is a custom image `user` may not use in
/// `project` (a tampered form, an image still building or deleted).
pub(crate) fn check_container_image_tx(
    tx: &WriteTx,
    user: &UserRecord,
    project: &ProjectRecord,
    image: &ImageRef,
) -> Result<(), ServiceError> {
    if !is_custom_target(image) {
        return Ok(());
    }
    for record in custom_images::of_project_tx(tx, project.id)? {
        if record.target == *image && custom_image_usable_tx(tx, user, project, &record)? {
            return Ok(());
        }
    }
    Err(ServiceError::Invalid(FieldErrors::single(
        "image",
        "image.error.not_usable",
    )))
}
