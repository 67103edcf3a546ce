//! Storage Management: the list of the current project's storages with the
//! selected one's detail, creating one, changing its permission, deleting
//! it.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::{RouteDef, WORKSPACE, html, ok, route, unprocessable};
use crate::domain::authz::WorkloadAction;
use crate::domain::ids::{ProjectId, VolumeId};
use crate::domain::validation::FieldErrors;
use crate::service::ServiceError;
use crate::service::storage::{
    CloneStorageRequest, CreateStorageRequest, StorageOutcome, StorageOverview,
};
use crate::web::error::WebError;
use crate::web::extract::CurrentUser;
use crate::web::middleware::see_other;
use crate::web::paths;
use crate::web::routes::Requires;
use crate::web::views::storage::{self, ListView, StorageNotice};

const OPERATE: Requires = Requires::Workload(WorkloadAction::Operate);
/// Cloning reads the source; the new storage is the actor's own, so the
/// use case also asks for Create in the project.
const VIEW: Requires = Requires::Workload(WorkloadAction::View);

pub fn routes() -> Vec<RouteDef> {
    vec![
        route!(Get paths::STORAGE, WORKSPACE => get_list),
        route!(Post paths::STORAGE, WORKSPACE => post_create),
        route!(Post "/storage/{id}/permission", OPERATE => post_permission),
        route!(Post "/storage/{id}/delete", OPERATE => post_delete),
        route!(Post "/storage/{id}/clone", VIEW => post_clone),
    ]
}

/// A storage id from the path; anything else is not found.
fn volume_id(path: &str) -> Result<VolumeId, WebError> {
    path.parse().map_err(|_| WebError::NotFound)
}

/// A project id from a query or form; empty: none.
fn project_id(value: &str) -> Result<Option<ProjectId>, WebError> {
    match value {
        "" => Ok(None),
        id => id.parse().map(Some).map_err(|_| WebError::NotFound),
    }
}

/// What the list page is rendered with besides the project.
#[derive(Default)]
struct PageState {
    selected: Option<VolumeId>,
    notice: Option<StorageNotice>,
    form: CreateStorageRequest,
    form_errors: FieldErrors,
    clone_form: CloneStorageRequest,
    clone_errors: FieldErrors,
}

/// The list page of `project` (else the current project).
async fn list_page(
    user: &CurrentUser,
    project: Option<ProjectId>,
    state: PageState,
) -> Result<maud::Markup, WebError> {
    let services = &user.page.state.services;
    let viewer = &user.session.user;
    let chosen = project.or_else(|| user.session.current_project().map(|p| p.id));
    let zone = services.time_zone().await?;
    let (project, overview) = match chosen {
        Some(id) => {
            let overview = services.storage_overview(viewer, id).await?;
            let name = user
                .session
                .projects
                .iter()
                .find(|p| p.id == id)
                .map_or_else(|| id.to_string(), |p| p.name.clone());
            (Some((id, name)), overview)
        }
        None => (
            None,
            StorageOverview {
                items: Vec::new(),
                types: Vec::new(),
                quota_gib: 0,
                used_gib: 0,
            },
        ),
    };
    let mut form = state.form;
    if form.permission.is_empty() {
        form.permission = "personal".to_owned();
    }
    Ok(storage::list(
        &user.page.shell(),
        &ListView {
            project: project.as_ref().map(|(id, name)| (*id, name.as_str())),
            overview: &overview,
            selected: state.selected,
            zone: &zone,
            notice: state.notice,
            form: &form,
            form_errors: &state.form_errors,
            clone_form: &state.clone_form,
            clone_errors: &state.clone_errors,
        },
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ListQuery {
    /// The project to list (default: the session's current one).
    project: String,
    /// The storage shown in the detail pane.
    selected: String,
    done: String,
    /// `rows`: only the table's rows (what the page polls).
    part: String,
}

async fn get_list(
    user: CurrentUser,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, WebError> {
    let notice = match query.done.as_str() {
        "created" => Some(StorageNotice::Created),
        "cloned" => Some(StorageNotice::Cloned),
        "deleted" => Some(StorageNotice::Deleted),
        "permission" => Some(StorageNotice::PermissionChanged),
        _ => None,
    };
    let selected = query.selected.parse().ok();
    if query.part == "rows" {
        let project = project_id(&query.project)?
            .or_else(|| user.session.current_project().map(|p| p.id))
            .ok_or(WebError::NotFound)?;
        let overview = user
            .page
            .state
            .services
            .storage_overview(&user.session.user, project)
            .await?;
        let rows = storage::rows(user.page.tr(), project, &overview.items, selected);
        return Ok(ok(rows));
    }
    let state = PageState {
        selected,
        notice,
        ..PageState::default()
    };
    Ok(ok(
        list_page(&user, project_id(&query.project)?, state).await?
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CreateForm {
    project: String,
    #[serde(flatten)]
    request: CreateStorageRequest,
}

async fn post_create(
    user: CurrentUser,
    form: web::Form<CreateForm>,
) -> Result<HttpResponse, WebError> {
    let form = form.into_inner();
    let project = project_id(&form.project)?
        .or_else(|| user.session.current_project().map(|p| p.id))
        .ok_or(WebError::NotFound)?;
    let services = &user.page.state.services;
    match services
        .create_storage(&user.session.user, project, &form.request)
        .await
    {
        Ok(id) => Ok(see_other(&format!(
            "{}?project={project}&selected={id}&done=created",
            paths::STORAGE
        ))),
        Err(ServiceError::Invalid(errors)) => {
            let state = PageState {
                form: form.request,
                form_errors: errors,
                ..PageState::default()
            };
            Ok(unprocessable(list_page(&user, Some(project), state).await?))
        }
        Err(ServiceError::OverQuota { .. }) => {
            let state = PageState {
                form: form.request,
                form_errors: FieldErrors::single("size", "storage.error.over_quota"),
                ..PageState::default()
            };
            Ok(html(
                actix_web::http::StatusCode::CONFLICT,
                list_page(&user, Some(project), state).await?,
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// The list page with `id` selected and `notice`, answered with `status`.
async fn refused_page(
    user: &CurrentUser,
    id: VolumeId,
    notice: StorageNotice,
    status: actix_web::http::StatusCode,
) -> Result<HttpResponse, WebError> {
    let state = PageState {
        notice: Some(notice),
        ..PageState::default()
    };
    page_with(user, id, state, status).await
}

/// The list page with `id` selected, rendered with `state`.
async fn page_with(
    user: &CurrentUser,
    id: VolumeId,
    state: PageState,
    status: actix_web::http::StatusCode,
) -> Result<HttpResponse, WebError> {
    let volume = user
        .page
        .state
        .services
        .volume(&user.session.user, id)
        .await?;
    let state = PageState {
        selected: Some(id),
        ..state
    };
    let page = list_page(user, Some(volume.spec.project), state).await?;
    Ok(html(status, page))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PermissionForm {
    permission: String,
}

async fn post_permission(
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<PermissionForm>,
) -> Result<HttpResponse, WebError> {
    use actix_web::http::StatusCode;
    let id = volume_id(&path)?;
    let services = &user.page.state.services;
    match services
        .set_storage_permission(&user.session.user, id, &form.permission)
        .await
    {
        Ok(StorageOutcome::Done) => {
            let volume = services.volume(&user.session.user, id).await?;
            Ok(see_other(&format!(
                "{}?project={}&selected={id}&done=permission",
                paths::STORAGE,
                volume.spec.project
            )))
        }
        Ok(StorageOutcome::MountedBy(names) | StorageOutcome::CloningInto(names)) => {
            let notice = StorageNotice::MountedBy {
                key: "storage.error.permission_breaks_mount",
                names,
            };
            refused_page(&user, id, notice, StatusCode::CONFLICT).await
        }
        Err(ServiceError::Invalid(errors)) => {
            let key = errors
                .get("permission")
                .unwrap_or("storage.error.permission");
            let notice = StorageNotice::Refused(key);
            refused_page(&user, id, notice, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(ServiceError::Refused(key)) => {
            refused_page(&user, id, StorageNotice::Refused(key), StatusCode::CONFLICT).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DeleteForm {
    confirm: String,
}

async fn post_delete(
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<DeleteForm>,
) -> Result<HttpResponse, WebError> {
    use actix_web::http::StatusCode;
    let id = volume_id(&path)?;
    let services = &user.page.state.services;
    // Asked first, so that someone who may not delete it learns nothing more.
    let volume = services.volume(&user.session.user, id).await?;
    if form.confirm != "yes" {
        services.may_manage_storage(&user.session.user, id).await?;
        let notice = StorageNotice::Refused("storage.confirm_delete");
        return refused_page(&user, id, notice, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    match services.delete_storage(&user.session.user, id).await? {
        StorageOutcome::Done => Ok(see_other(&format!(
            "{}?project={}&done=deleted",
            paths::STORAGE,
            volume.spec.project
        ))),
        StorageOutcome::MountedBy(names) => {
            let notice = StorageNotice::MountedBy {
                key: "storage.error.in_use",
                names,
            };
            refused_page(&user, id, notice, StatusCode::CONFLICT).await
        }
        StorageOutcome::CloningInto(names) => {
            let notice = StorageNotice::MountedBy {
                key: "storage.error.cloning",
                names,
            };
            refused_page(&user, id, notice, StatusCode::CONFLICT).await
        }
    }
}

async fn post_clone(
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<CloneStorageRequest>,
) -> Result<HttpResponse, WebError> {
    use actix_web::http::StatusCode;
    let id = volume_id(&path)?;
    let form = form.into_inner();
    let services = &user.page.state.services;
    match services.clone_storage(&user.session.user, id, &form).await {
        Ok(clone) => {
            let volume = services.volume(&user.session.user, clone).await?;
            Ok(see_other(&format!(
                "{}?project={}&selected={clone}&done=cloned",
                paths::STORAGE,
                volume.spec.project
            )))
        }
        Err(ServiceError::Invalid(errors)) => {
            let state = PageState {
                clone_form: form,
                clone_errors: errors,
                ..PageState::default()
            };
            page_with(&user, id, state, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(ServiceError::Refused(key)) => {
            refused_page(&user, id, StorageNotice::Refused(key), StatusCode::CONFLICT).await
        }
        Err(ServiceError::OverQuota { .. }) => {
            let notice = StorageNotice::Refused("storage.error.clone_over_quota");
            refused_page(&user, id, notice, StatusCode::CONFLICT).await
        }
        Err(e) => Err(e.into()),
    }
}
