//! Projects: Project List, applications, Project Detail and its manager
//! actions, the Project Review List, the project selector and Cloud
//! Provisioning; for admins the review queue, all projects, platform
//! settings and the mail outbox.

use super::{ADMIN, Requires, RouteDef, WORKSPACE, route};
use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::html;
use crate::domain::authz::ProjectAction;
use crate::domain::ids::{ApplicationId, ProjectId, UserId};
use crate::domain::project::{self, ProjectForm, ProjectRole};
use crate::domain::validation::FieldErrors;
use crate::service::ServiceError;
use crate::service::projects::PlatformSettingsForm;
use crate::web::error::WebError;
use crate::web::extract::{CurrentUser, RequireAdmin};
use crate::web::middleware::see_other;
use crate::web::paths;
use crate::web::views::components::Tone;
use crate::web::views::containers::ContainerRow;
use crate::web::views::{platform, projects as views, reviews};

const PAGE_SIZE: usize = 12;

const VIEW: Requires = Requires::Project(ProjectAction::View);
const MANAGE: Requires = Requires::Project(ProjectAction::Manage);
const APPLY: Requires = Requires::Project(ProjectAction::Apply);
const DELETE: Requires = Requires::Project(ProjectAction::Delete);
const REVISE: Requires = Requires::Project(ProjectAction::Revise);

pub fn routes() -> Vec<RouteDef> {
    vec![
        route!(Get paths::PROJECTS, WORKSPACE => get_list),
        route!(Get paths::PROJECT_NEW, WORKSPACE => get_new),
        route!(Post paths::PROJECT_NEW, WORKSPACE => post_new),
        route!(Get paths::PROJECT_DETAIL, WORKSPACE => get_current_detail),
        route!(Post paths::PROJECT_SELECT, WORKSPACE => post_select),
        route!(Get paths::PROJECT_REVIEWS, WORKSPACE => get_reviews),
        route!(Post "/projects/reviews/{id}/revoke", WORKSPACE => post_revoke),
        route!(Get "/projects/{id}", VIEW => get_detail),
        route!(Get "/projects/{id}/edit", MANAGE => get_edit),
        route!(Post "/projects/{id}/edit", MANAGE => post_edit),
        route!(Post "/projects/{id}/extension", APPLY => post_extension),
        route!(Post "/projects/{id}/quota", APPLY => post_quota),
        route!(Post "/projects/{id}/delete", DELETE => post_delete),
        route!(Post "/projects/{id}/caps/{user}", MANAGE => post_cap),
        route!(Get "/projects/{id}/extension", WORKSPACE => get_back_to_detail),
        route!(Get "/projects/{id}/quota", WORKSPACE => get_back_to_detail),
        route!(Get "/projects/{id}/delete", WORKSPACE => get_back_to_detail),
        route!(Get "/projects/{id}/caps/{user}", WORKSPACE => get_back_to_members),
        route!(Get "/projects/reviews/{id}/revoke", WORKSPACE => get_back_to_review),
        route!(Get "/admin/reviews/{id}/{decision}", ADMIN => get_back_to_queue),
        route!(Get "/admin/projects/{id}/{action}", ADMIN => get_back_to_all_projects),
        route!(Get paths::CLOUD_PROVISIONING, WORKSPACE => get_provisioning),
        route!(Post paths::CLOUD_PROVISIONING, WORKSPACE => post_provisioning),
        route!(Get paths::ADMIN_REVIEWS, ADMIN => get_queue),
        route!(Post "/admin/reviews/{id}/{decision}", ADMIN => post_decision),
        route!(Get paths::ADMIN_PROJECTS, ADMIN => get_all_projects),
        route!(Post "/admin/projects/{id}/{action}", REVISE => post_admin_project),
        route!(Get paths::ADMIN_SETTINGS, ADMIN => get_settings),
        route!(Post paths::ADMIN_SETTINGS, ADMIN => post_settings),
        route!(Get paths::ADMIN_OUTBOX, ADMIN => get_outbox),
        route!(Post "/admin/outbox/{id}/resend", ADMIN => post_resend_mail),
    ]
}

// A refused form is answered on its POST address; these GETs of those
// addresses (a reload, a bookmark, the address bar) lead back to the page
// the form is on.

async fn get_back_to_detail(
    _user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    Ok(see_other(&paths::project(project_id(&path)?)))
}

async fn get_back_to_members(
    _user: CurrentUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let id = project_id(&path.0)?;
    Ok(see_other(&format!("{}#members", paths::project(id))))
}

async fn get_back_to_review(
    _user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    Ok(see_other(&paths::review(application_id(&path)?)))
}

async fn get_back_to_queue(_admin: RequireAdmin) -> HttpResponse {
    see_other(paths::ADMIN_REVIEWS)
}

async fn get_back_to_all_projects(_admin: RequireAdmin) -> HttpResponse {
    see_other(paths::ADMIN_PROJECTS)
}

/// Usernames by id, for showing members and mail recipients.
async fn username_map(
    services: &crate::service::Services,
) -> Result<HashMap<UserId, String>, WebError> {
    Ok(services
        .usernames()
        .await?
        .into_iter()
        .map(|(id, name, _)| (id, name))
        .collect())
}

fn project_id(text: &str) -> Result<ProjectId, WebError> {
    text.parse().map_err(|_| WebError::NotFound)
}

fn application_id(text: &str) -> Result<ApplicationId, WebError> {
    text.parse().map_err(|_| WebError::NotFound)
}

/// Form bodies with repeated keys (member checkboxes) as ordered pairs.
type Pairs = web::Form<Vec<(String, String)>>;

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// The amounts of a quota form (approval, revision, quota application).
fn amount_fields(pairs: &[(String, String)]) -> project::AmountFields<'_> {
    project::AmountFields {
        gpu: field(pairs, "gpu"),
        cpu: field(pairs, "cpu"),
        ram: field(pairs, "ram"),
        storage: field(pairs, "storage"),
    }
}

fn project_form(pairs: &[(String, String)]) -> ProjectForm {
    // A field may name several people, separated by commas or spaces.
    let all = |name: &str| -> Vec<String> {
        pairs
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(|c: char| c == ',' || c.is_whitespace()))
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect()
    };
    ProjectForm {
        name: field(pairs, "name").to_owned(),
        start: field(pairs, "start").to_owned(),
        end: field(pairs, "end").to_owned(),
        purpose: field(pairs, "purpose").to_owned(),
        description: field(pairs, "description").to_owned(),
        managers: all("manager"),
        members: all("member"),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ListQuery {
    q: String,
    page: usize,
    view: String,
    applied: Option<String>,
    deleted: Option<String>,
}

async fn get_list(
    user: CurrentUser,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, WebError> {
    let services = &user.page.state.services;
    let all = services.list_projects(&user.session.user, false).await?;
    let needle = query.q.trim().to_lowercase();
    let matching: Vec<_> = all
        .into_iter()
        .filter(|p| {
            needle.is_empty()
                || p.project.name.to_lowercase().contains(&needle)
                || p.project.code.contains(&needle)
        })
        .collect();
    let pages = matching.len().div_ceil(PAGE_SIZE);
    let page = query.page.clamp(1, pages.max(1));
    let items: Vec<_> = matching
        .iter()
        .skip((page - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .cloned()
        .collect();
    let tr = user.page.tr();
    let notice = if query.applied.is_some() {
        Some(tr.t("project.applied").to_owned())
    } else if query.deleted.is_some() {
        Some(tr.t("project.deleted").to_owned())
    } else {
        None
    };
    let view = views::ProjectListView {
        items: &items,
        query: query.q.trim(),
        page,
        pages,
        page_size: PAGE_SIZE,
        total: matching.len(),
        table: query.view == "table",
        notice,
    };
    Ok(html(StatusCode::OK, views::list(&user.page.shell(), &view)))
}

/// Everything the application form needs besides what was typed.
async fn render_form(
    user: &CurrentUser,
    editing: Option<ProjectId>,
    form: &ProjectForm,
    errors: &FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, WebError> {
    let services = &user.page.state.services;
    let purposes: Vec<(String, String, String)> = if editing.is_none() {
        services
            .list_purposes(false)
            .await?
            .into_iter()
            .map(|p| (p.id.to_string(), p.name, p.description))
            .collect()
    } else {
        Vec::new()
    };
    let managers = form.managers.join(", ");
    let members = form.members.join(", ");
    let view = views::ProjectFormView {
        editing,
        name: &form.name,
        start: &form.start,
        end: &form.end,
        purpose: &form.purpose,
        description: &form.description,
        purposes: &purposes,
        managers: &managers,
        members: &members,
        errors,
    };
    Ok(html(status, views::form(&user.page.shell(), &view)))
}

async fn get_new(user: CurrentUser) -> Result<HttpResponse, WebError> {
    let today = user.page.state.services.today().await?;
    let form = ProjectForm {
        start: today.to_string(),
        end: today
            .checked_add(jiff::Span::new().days(13))
            .unwrap_or(today)
            .to_string(),
        managers: vec![user.session.user.username.to_string()],
        ..ProjectForm::default()
    };
    render_form(&user, None, &form, &FieldErrors::new(), StatusCode::OK).await
}

async fn post_new(user: CurrentUser, pairs: Pairs) -> Result<HttpResponse, WebError> {
    let form = project_form(&pairs);
    match user
        .page
        .state
        .services
        .apply_project(&user.session.user, &form)
        .await
    {
        Ok(_) => Ok(see_other(&format!("{}?applied=1", paths::PROJECTS))),
        Err(ServiceError::Invalid(errors)) => {
            render_form(
                &user,
                None,
                &form,
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

async fn get_current_detail(user: CurrentUser) -> HttpResponse {
    match user.session.current_project() {
        Some(p) => see_other(&paths::project(p.id)),
        None => see_other(paths::PROJECTS),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DetailQuery {
    done: String,
}

struct DetailState<'a> {
    errors: FieldErrors,
    cap_member: Option<UserId>,
    errors_for: &'a str,
    typed: Vec<(String, String)>,
    notice: Option<String>,
    status: StatusCode,
}

async fn render_detail(
    user: &CurrentUser,
    id: ProjectId,
    state: DetailState<'_>,
) -> Result<HttpResponse, WebError> {
    let services = &user.page.state.services;
    let summary = services.project(&user.session.user, id).await?;
    let names = username_map(services).await?;
    let members: Vec<views::MemberView> = summary
        .project
        .members
        .iter()
        .map(|m| views::MemberView {
            user: m.user,
            username: names.get(&m.user).cloned().unwrap_or_default(),
            role: m.role,
            cap: m.cap,
        })
        .collect();
    let code = project::deletion_code(format!("{id}{}", user.session.csrf_token).as_bytes());
    let pending = services
        .pending_applications(&user.session.user, id)
        .await?;
    let zone = services.time_zone().await?;
    let workloads = services.project_workloads(&user.session.user, id).await?;
    let now = services.now();
    let containers: Vec<ContainerRow> = workloads
        .iter()
        .filter_map(|r| {
            let owner = names.get(&r.spec.owner()).map_or("", String::as_str);
            ContainerRow::of(r, owner, now)
        })
        .collect();
    let storage = services
        .storage_overview(&user.session.user, id)
        .await?
        .items;
    let mut shell = user.page.shell();
    // The selector follows the project being viewed.
    if shell.projects.iter().any(|c| c.id == id) {
        shell.current_project = Some(id);
    }
    let view = views::DetailView {
        project: &summary,
        members: &members,
        used: summary.used,
        deletion_code: &code,
        errors: &state.errors,
        errors_for: state.errors_for,
        notice: state.notice,
        typed: &state.typed,
        cap_member: state.cap_member,
        pending: &pending,
        zone: &zone,
        containers: &containers,
        storage: &storage,
    };
    Ok(html(state.status, views::detail(&shell, &view)))
}

async fn get_detail(
    user: CurrentUser,
    path: web::Path<String>,
    query: web::Query<DetailQuery>,
) -> Result<HttpResponse, WebError> {
    let id = project_id(&path)?;
    let selectable = user.session.projects.iter().any(|c| c.id == id);
    if selectable && user.session.current_project().map(|c| c.id) != Some(id) {
        user.page
            .state
            .services
            .select_project(&user.session.user, id)
            .await?;
    }
    let key = match query.done.as_str() {
        "edited" => Some("project.edited"),
        "extension" => Some("project.extension_applied"),
        "quota" => Some("project.quota_applied"),
        "cap" => Some("project.cap_saved"),
        _ => None,
    };
    let notice = key.map(|k| user.page.tr().t(k).to_owned());
    render_detail(
        &user,
        id,
        DetailState {
            errors: FieldErrors::new(),
            cap_member: None,
            errors_for: "",
            typed: Vec::new(),
            notice,
            status: StatusCode::OK,
        },
    )
    .await
}

async fn get_edit(user: CurrentUser, path: web::Path<String>) -> Result<HttpResponse, WebError> {
    let id = project_id(&path)?;
    let services = &user.page.state.services;
    let summary = services.project(&user.session.user, id).await?;
    if summary.role != Some(ProjectRole::Manager) {
        return Err(WebError::Forbidden);
    }
    let names = username_map(services).await?;
    let with_role = |role: ProjectRole| -> Vec<String> {
        summary
            .project
            .members
            .iter()
            .filter(|m| m.role == role)
            .filter_map(|m| names.get(&m.user).cloned())
            .collect()
    };
    let form = ProjectForm {
        name: summary.project.name.clone(),
        description: summary.project.description.clone(),
        managers: with_role(ProjectRole::Manager),
        members: with_role(ProjectRole::Member),
        ..ProjectForm::default()
    };
    render_form(&user, Some(id), &form, &FieldErrors::new(), StatusCode::OK).await
}

async fn post_edit(
    user: CurrentUser,
    path: web::Path<String>,
    pairs: Pairs,
) -> Result<HttpResponse, WebError> {
    let id = project_id(&path)?;
    let form = project_form(&pairs);
    match user
        .page
        .state
        .services
        .edit_project(&user.session.user, id, &form)
        .await
    {
        Ok(()) => Ok(see_other(&format!("{}?done=edited", paths::project(id)))),
        Err(ServiceError::Invalid(errors)) => {
            render_form(
                &user,
                Some(id),
                &form,
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// Re-renders Project Detail with a refused manager form, or redirects.
async fn after_manager_action(
    user: &CurrentUser,
    id: ProjectId,
    form: &'static str,
    pairs: &[(String, String)],
    result: Result<(), ServiceError>,
    done: &str,
    cap_member: Option<UserId>,
) -> Result<HttpResponse, WebError> {
    let (errors, status) = match result {
        Ok(()) => return Ok(see_other(&format!("{}?done={done}", paths::project(id)))),
        Err(ServiceError::Invalid(errors)) => (errors, StatusCode::UNPROCESSABLE_ENTITY),
        Err(ServiceError::Refused(key)) => (
            FieldErrors::single(refused_field(form), key),
            StatusCode::CONFLICT,
        ),
        Err(e) => return Err(e.into()),
    };
    render_detail(
        user,
        id,
        DetailState {
            errors,
            cap_member,
            errors_for: form,
            typed: pairs.to_vec(),
            notice: None,
            status,
        },
    )
    .await
}

/// The field a refusal is shown beside, per form.
fn refused_field(form: &str) -> &'static str {
    match form {
        "extension" => "days",
        "quota" => "gpu",
        "delete" => "code",
        _ => "caps",
    }
}

async fn post_extension(
    user: CurrentUser,
    path: web::Path<String>,
    pairs: Pairs,
) -> Result<HttpResponse, WebError> {
    post_application(user, &path, pairs, "extension").await
}

async fn post_quota(
    user: CurrentUser,
    path: web::Path<String>,
    pairs: Pairs,
) -> Result<HttpResponse, WebError> {
    post_application(user, &path, pairs, "quota").await
}

/// A manager's extension or quota application (`form`), from Project Detail.
async fn post_application(
    user: CurrentUser,
    path: &str,
    pairs: Pairs,
    form: &'static str,
) -> Result<HttpResponse, WebError> {
    let id = project_id(path)?;
    let services = &user.page.state.services;
    let me = &user.session.user;
    let applied = if form == "extension" {
        services
            .apply_extension(me, id, field(&pairs, "days"), field(&pairs, "reason"))
            .await
    } else {
        services
            .apply_quota(me, id, amount_fields(&pairs), field(&pairs, "reason"))
            .await
    };
    after_manager_action(&user, id, form, &pairs, applied.map(|_| ()), form, None).await
}

async fn post_delete(
    user: CurrentUser,
    path: web::Path<String>,
    pairs: Pairs,
) -> Result<HttpResponse, WebError> {
    let id = project_id(&path)?;
    let expected = project::deletion_code(format!("{id}{}", user.session.csrf_token).as_bytes());
    let result = user
        .page
        .state
        .services
        .delete_project(&user.session.user, id, &expected, field(&pairs, "code"))
        .await;
    match result {
        Ok(()) => Ok(see_other(&format!("{}?deleted=1", paths::PROJECTS))),
        other => after_manager_action(&user, id, "delete", &[], other, "", None).await,
    }
}

async fn post_cap(
    user: CurrentUser,
    path: web::Path<(String, String)>,
    pairs: Pairs,
) -> Result<HttpResponse, WebError> {
    let (id, member) = path.into_inner();
    let id = project_id(&id)?;
    let member: UserId = member.parse().map_err(|_| WebError::NotFound)?;
    let cap = (
        field(&pairs, "gpu"),
        field(&pairs, "cpu"),
        field(&pairs, "ram"),
    );
    let result = user
        .page
        .state
        .services
        .set_member_cap(&user.session.user, id, member, cap)
        .await;
    after_manager_action(&user, id, "caps", &pairs, result, "cap", Some(member)).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SelectForm {
    project: String,
    next: String,
}

async fn post_select(
    user: CurrentUser,
    form: web::Form<SelectForm>,
) -> Result<HttpResponse, WebError> {
    let id = project_id(&form.project)?;
    user.page
        .state
        .services
        .select_project(&user.session.user, id)
        .await?;
    let back = if paths::is_local(&form.next) {
        form.next.as_str()
    } else {
        paths::PROJECTS
    };
    Ok(see_other(back))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ReviewQuery {
    id: String,
    q: String,
    revoked: Option<String>,
}

/// The applications whose project name, code or applicant contains `query`.
fn matching_applications(
    list: Vec<crate::service::projects::ApplicationView>,
    query: &str,
) -> Vec<crate::service::projects::ApplicationView> {
    let needle = query.trim().to_lowercase();
    list.into_iter()
        .filter(|a| {
            needle.is_empty()
                || a.project_name.to_lowercase().contains(&needle)
                || a.project_code.contains(&needle)
                || a.applicant.contains(&needle)
        })
        .collect()
}

async fn get_reviews(
    user: CurrentUser,
    query: web::Query<ReviewQuery>,
) -> Result<HttpResponse, WebError> {
    let list = user
        .page
        .state
        .services
        .my_applications(user.session.user.id)
        .await?;
    let zone = user.page.state.services.time_zone().await?;
    let selected = query.id.parse::<ApplicationId>().ok();
    let message = query.revoked.as_ref().map(|_| {
        (
            Tone::Success,
            user.page.tr().t("application.revoked").to_owned(),
        )
    });
    Ok(html(
        StatusCode::OK,
        reviews::my_list(
            &user.page.shell(),
            &matching_applications(list, &query.q),
            query.q.trim(),
            selected,
            message,
            &zone,
        ),
    ))
}

async fn post_revoke(user: CurrentUser, path: web::Path<String>) -> Result<HttpResponse, WebError> {
    let id = application_id(&path)?;
    match user
        .page
        .state
        .services
        .revoke_application(user.session.user.id, id)
        .await
    {
        Ok(()) => Ok(see_other(&format!("{}&revoked=1", paths::review(id)))),
        Err(ServiceError::Refused(key)) => {
            let list = user
                .page
                .state
                .services
                .my_applications(user.session.user.id)
                .await?;
            let message = Some((Tone::Error, user.page.tr().t(key).to_owned()));
            let zone = user.page.state.services.time_zone().await?;
            Ok(html(
                StatusCode::CONFLICT,
                reviews::my_list(&user.page.shell(), &list, "", Some(id), message, &zone),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

async fn get_provisioning(user: CurrentUser) -> Result<HttpResponse, WebError> {
    let record = user
        .page
        .state
        .services
        .activation(user.session.user.id)
        .await?;
    let zone = user.page.state.services.time_zone().await?;
    Ok(html(
        StatusCode::OK,
        platform::provisioning(
            &user.page.shell(),
            user.session.user.username.as_str(),
            record.as_ref(),
            &zone,
        ),
    ))
}

async fn post_provisioning(user: CurrentUser) -> Result<HttpResponse, WebError> {
    user.page
        .state
        .services
        .activate(user.session.user.id)
        .await?;
    Ok(see_other(paths::CLOUD_PROVISIONING))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct QueueQuery {
    done: String,
}

async fn get_queue(
    admin: RequireAdmin,
    query: web::Query<QueueQuery>,
) -> Result<HttpResponse, WebError> {
    let list = admin
        .page
        .state
        .services
        .reviewing_applications(&admin.session.user)
        .await?;
    let zone = admin.page.state.services.time_zone().await?;
    let key = match query.done.as_str() {
        "approve" => Some("review.approved"),
        "decline" => Some("review.declined"),
        _ => None,
    };
    let message = key.map(|k| (Tone::Success, admin.page.tr().t(k).to_owned()));
    Ok(html(
        StatusCode::OK,
        reviews::queue(&admin.page.shell(), &list, None, message, &zone),
    ))
}

async fn post_decision(
    admin: RequireAdmin,
    path: web::Path<(String, String)>,
    pairs: Pairs,
) -> Result<HttpResponse, WebError> {
    let (id, decision) = path.into_inner();
    let id = application_id(&id)?;
    let approve = match decision.as_str() {
        "approve" => true,
        "decline" => false,
        _ => return Err(WebError::NotFound),
    };
    let services = &admin.page.state.services;
    let typed_quota = ["gpu", "cpu", "ram", "storage"]
        .iter()
        .any(|name| !field(&pairs, name).trim().is_empty());
    let quota = if approve && typed_quota {
        match project::parse_quota(amount_fields(&pairs)) {
            Ok(q) => Some(q),
            Err(errors) => {
                return render_queue_error(&admin, id, approve, errors).await;
            }
        }
    } else {
        None
    };
    match services
        .decide_application(
            &admin.session.user,
            id,
            approve,
            field(&pairs, "remark"),
            quota,
        )
        .await
    {
        Ok(()) => Ok(see_other(&format!(
            "{}?done={decision}",
            paths::ADMIN_REVIEWS
        ))),
        Err(ServiceError::Invalid(errors)) => render_queue_error(&admin, id, approve, errors).await,
        Err(ServiceError::Refused(key)) => {
            let list = services.reviewing_applications(&admin.session.user).await?;
            let zone = services.time_zone().await?;
            let message = Some((Tone::Error, admin.page.tr().t(key).to_owned()));
            Ok(html(
                StatusCode::CONFLICT,
                reviews::queue(&admin.page.shell(), &list, None, message, &zone),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

async fn render_queue_error(
    admin: &RequireAdmin,
    id: ApplicationId,
    approve: bool,
    errors: FieldErrors,
) -> Result<HttpResponse, WebError> {
    let list = admin
        .page
        .state
        .services
        .reviewing_applications(&admin.session.user)
        .await?;
    let zone = admin.page.state.services.time_zone().await?;
    let mut shell = admin.page.shell();
    shell.path = paths::ADMIN_REVIEWS;
    Ok(html(
        StatusCode::UNPROCESSABLE_ENTITY,
        reviews::queue(&shell, &list, Some((id, approve, &errors)), None, &zone),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AdminProjectsQuery {
    done: String,
}

async fn get_all_projects(
    admin: RequireAdmin,
    query: web::Query<AdminProjectsQuery>,
) -> Result<HttpResponse, WebError> {
    let list = admin
        .page
        .state
        .services
        .list_projects(&admin.session.user, true)
        .await?;
    let key = match query.done.as_str() {
        "revise" => Some("project.revised"),
        "release" => Some("project.released_now"),
        "auto-stop" => Some("auto_stop.saved"),
        _ => None,
    };
    let message = key.map(|k| (Tone::Success, admin.page.tr().t(k).to_owned()));
    Ok(html(
        StatusCode::OK,
        platform::all_projects(&admin.page.shell(), &list, None, message),
    ))
}

async fn post_admin_project(
    admin: RequireAdmin,
    path: web::Path<(String, String)>,
    pairs: Pairs,
) -> Result<HttpResponse, WebError> {
    let (id, action) = path.into_inner();
    let id = project_id(&id)?;
    let services = &admin.page.state.services;
    let result = match action.as_str() {
        "revise" => match project::parse_quota(amount_fields(&pairs)) {
            Ok(quota) => {
                services
                    .revise_project(
                        &admin.session.user,
                        id,
                        quota,
                        field(&pairs, "start"),
                        field(&pairs, "end"),
                    )
                    .await
            }
            Err(errors) => Err(ServiceError::Invalid(errors)),
        },
        "release" => services.force_release(&admin.session.user, id).await,
        "auto-stop" => {
            services
                .set_auto_stop(&admin.session.user, id, field(&pairs, "auto_stop_hours"))
                .await
        }
        _ => return Err(WebError::NotFound),
    };
    let (errors, status) = match result {
        Ok(()) => {
            return Ok(see_other(&format!(
                "{}?done={action}",
                paths::ADMIN_PROJECTS
            )));
        }
        Err(ServiceError::Invalid(errors)) => (errors, StatusCode::UNPROCESSABLE_ENTITY),
        Err(ServiceError::Refused(key)) => (FieldErrors::single("gpu", key), StatusCode::CONFLICT),
        Err(e) => return Err(e.into()),
    };
    let list = services.list_projects(&admin.session.user, true).await?;
    let mut shell = admin.page.shell();
    shell.path = paths::ADMIN_PROJECTS;
    Ok(html(
        status,
        platform::all_projects(&shell, &list, Some((id, &errors, &pairs)), None),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SavedQuery {
    saved: Option<String>,
}

async fn get_settings(
    admin: RequireAdmin,
    query: web::Query<SavedQuery>,
) -> Result<HttpResponse, WebError> {
    let record = admin.page.state.services.platform_settings().await?;
    let form = PlatformSettingsForm::from_record(&record);
    Ok(html(
        StatusCode::OK,
        platform::settings(
            &admin.page.shell(),
            &form,
            &FieldErrors::new(),
            query.saved.is_some(),
        ),
    ))
}

async fn post_settings(
    admin: RequireAdmin,
    form: web::Form<PlatformSettingsForm>,
) -> Result<HttpResponse, WebError> {
    match admin
        .page
        .state
        .services
        .update_platform_settings(&form)
        .await
    {
        Ok(()) => Ok(see_other(&format!("{}?saved=1", paths::ADMIN_SETTINGS))),
        Err(ServiceError::Invalid(errors)) => Ok(html(
            StatusCode::UNPROCESSABLE_ENTITY,
            platform::settings(&admin.page.shell(), &form, &errors, false),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Mails on one page of the outbox.
const OUTBOX_PAGE_SIZE: usize = 50;

#[derive(Deserialize)]
struct OutboxQuery {
    #[serde(default)]
    page: String,
}

async fn get_outbox(
    admin: RequireAdmin,
    query: web::Query<OutboxQuery>,
) -> Result<HttpResponse, WebError> {
    let services = &admin.page.state.services;
    let asked = query.page.parse::<usize>().unwrap_or(1);
    let outbox = services.outbox_page(asked, OUTBOX_PAGE_SIZE).await?;
    let zone = services.time_zone().await?;
    let names = username_map(services).await?;
    let name = |id: UserId| names.get(&id).cloned().unwrap_or_default();
    Ok(html(
        StatusCode::OK,
        platform::outbox(
            &admin.page.shell(),
            &platform::OutboxView {
                outbox: &outbox,
                page_size: OUTBOX_PAGE_SIZE,
                names: &name,
                zone: &zone,
                delivering: services.mail_delivery_configured(),
            },
        ),
    ))
}

/// Queues a mail of the outbox again, whatever became of it.
async fn post_resend_mail(
    admin: RequireAdmin,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let id = path.parse().map_err(|_| WebError::NotFound)?;
    admin.page.state.services.resend_mail(id).await?;
    Ok(see_other(paths::ADMIN_OUTBOX))
}
