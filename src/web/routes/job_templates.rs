//! Advanced Settings › Job Templates (manual §8.2): the templates of the
//! current project (search, paging), a template's page ("Run job" opens the
//! job wizard filled from it, "Run job with schedule" the schedule form with
//! it chosen), the create form (`?job=` fills it from a job: "Save as
//! template"), edit, and delete after confirmation (refused, naming it,
//! while a schedule runs the template).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::containers_new::Pairs;
use super::jobs_new::{empty_form, job_form};
use super::{
    ConfirmForm, Paged, Requires, RouteDef, WORKSPACE, found_by_name, html, name_search_error, ok,
    paged, route,
};
use crate::domain::authz::WorkloadAction;
use crate::domain::ids::{JobTemplateId, ProjectId};
use crate::domain::validation::FieldErrors;
use crate::domain::workload::WorkloadId;
use crate::service::ServiceError;
use crate::service::containers::WizardForm;
use crate::service::job_wizard::JobForm;
use crate::service::schedules::JobTemplateForm;
use crate::store::job_templates::JobTemplateRecord;
use crate::web::error::WebError;
use crate::web::extract::CurrentUser;
use crate::web::middleware::see_other;
use crate::web::paths;
use crate::web::views::job_templates::{
    self as views, TemplateDetailView, TemplateListView, TemplateRow,
};
use crate::web::views::jobs_new::template_form;

/// Templates on one page of the list.
const PAGE_SIZE: usize = 10;

/// A template is seen and changed as a workload of its owner is.
const VIEW: Requires = Requires::Workload(WorkloadAction::View);
const OPERATE: Requires = Requires::Workload(WorkloadAction::Operate);

pub fn routes() -> Vec<RouteDef> {
    vec![
        route!(Get paths::JOB_TEMPLATES, WORKSPACE => get_list),
        route!(Get paths::JOB_TEMPLATE_NEW, WORKSPACE => get_new),
        route!(Post paths::JOB_TEMPLATE_NEW, WORKSPACE => post_new),
        route!(Get "/advanced/job-templates/{id}", VIEW => get_detail),
        route!(Get "/advanced/job-templates/{id}/edit", OPERATE => get_edit),
        route!(Post "/advanced/job-templates/{id}/edit", OPERATE => post_edit),
        route!(Post "/advanced/job-templates/{id}/delete", OPERATE => post_delete),
    ]
}

fn template_id(path: &str) -> Result<JobTemplateId, WebError> {
    path.parse().map_err(|_| WebError::NotFound)
}

/// `image:version` of a template, "--" where the catalog lost the image.
fn environment(t: &JobTemplateRecord, images: &[crate::store::catalog::ImageRecord]) -> String {
    images
        .iter()
        .find(|i| i.id == t.image)
        .map_or_else(|| "--".to_owned(), |i| format!("{}:{}", i.name, t.version))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ListQuery {
    q: String,
    page: String,
}

async fn get_list(
    user: CurrentUser,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, WebError> {
    let services = &user.page.state.services;
    let tr = user.page.tr();
    let zone = services.time_zone().await?;
    let Some(project) = user.session.current_project() else {
        let view = TemplateListView {
            project: None,
            rows: &[],
            query: "",
            query_error: None,
            page: 1,
            pages: 1,
            page_size: PAGE_SIZE,
            total: 0,
            zone: &zone,
        };
        return Ok(ok(views::list(&user.page.shell(), &view)));
    };
    let viewer = &user.session.user;
    let typed = query.q.trim();
    let query_error = name_search_error(&tr, typed);
    let templates = if query_error.is_some() {
        Vec::new()
    } else {
        found_by_name(
            services.job_templates(viewer, project.id).await?,
            typed,
            |t| &t.name,
        )
    };
    let Paged {
        items: shown,
        page,
        pages,
        total,
    } = paged(templates, &query.page, PAGE_SIZE);
    let names = services.usernames().await?;
    let images = services.list_images(true).await?;
    let rows: Vec<TemplateRow> = shown
        .iter()
        .map(|record| TemplateRow {
            record,
            owner: names
                .iter()
                .find(|(id, _, _)| *id == record.owner)
                .map_or("--", |(_, name, _)| name.as_str()),
            environment: environment(record, &images),
        })
        .collect();
    let view = TemplateListView {
        project: Some(&project.name),
        rows: &rows,
        query: typed,
        query_error,
        page,
        pages,
        page_size: PAGE_SIZE,
        total,
        zone: &zone,
    };
    Ok(ok(views::list(&user.page.shell(), &view)))
}

async fn get_detail(user: CurrentUser, path: web::Path<String>) -> Result<HttpResponse, WebError> {
    let services = &user.page.state.services;
    let viewer = &user.session.user;
    let record = services.job_template(viewer, template_id(&path)?).await?;
    let may_change = match services.may_change_job_template(viewer, record.id).await {
        Ok(()) => true,
        Err(ServiceError::Forbidden) => false,
        Err(e) => return Err(e.into()),
    };
    let zone = services.time_zone().await?;
    let names = services.usernames().await?;
    let images = services.list_images(true).await?;
    let specs = services.list_hardware_specs(true).await?;
    let gpu_types = services.list_gpu_types(true).await?;
    let view = TemplateDetailView {
        record: &record,
        owner: names
            .iter()
            .find(|(id, _, _)| *id == record.owner)
            .map_or("--", |(_, name, _)| name.as_str()),
        environment: environment(&record, &images),
        gpu: record.gpu_type.map(|id| {
            let name = gpu_types
                .iter()
                .find(|g| g.id == id)
                .map_or("--", |g| g.name.as_str());
            format!("{name} × {}", record.gpu_count)
        }),
        spec: specs
            .iter()
            .find(|s| s.id == record.spec)
            .map(|s| (s.name.clone(), s.cpu_milli, s.ram_mib)),
        may_change,
        zone: &zone,
    };
    Ok(ok(views::detail(&user.page.shell(), &view)))
}

/// The template form's fields as the job form carries them (a template
/// always runs a public image).
fn as_job_form(t: &JobTemplateForm) -> JobForm {
    let shm = !t.shm_mb.trim().is_empty();
    JobForm {
        wizard: WizardForm {
            name: t.name.clone(),
            gpu_type: t.gpu_type.clone(),
            gpu_count: t.gpu_count.clone(),
            spec: t.spec.clone(),
            image: t.image.clone(),
            version: t.version.clone(),
            shm,
            shm_mb: if shm { t.shm_mb.clone() } else { "64".into() },
            ..WizardForm::default()
        },
        command: t.command.clone(),
        env: t.env.clone(),
        time_limit: String::new(),
    }
}

/// The template form of a posted body: a custom image is never chosen.
fn posted(pairs: &[(String, String)]) -> (JobForm, Result<JobTemplateForm, FieldErrors>) {
    let mut form = job_form(pairs);
    form.wizard.image_source = "public".into();
    let template = form.template_form();
    (form, template)
}

async fn render_form(
    user: &CurrentUser,
    project: ProjectId,
    form: &JobForm,
    errors: &FieldErrors,
    editing: Option<&JobTemplateRecord>,
    status: StatusCode,
) -> Result<HttpResponse, WebError> {
    let ctx = user
        .page
        .state
        .services
        .template_context(&user.session.user, project)
        .await?;
    let href = editing.map(|t| (t.name.as_str(), paths::job_template(t.id)));
    Ok(html(
        status,
        template_form(
            &user.page.shell(),
            &ctx,
            form,
            errors,
            href.as_ref().map(|(n, h)| (*n, h.as_str())),
        ),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NewQuery {
    job: String,
}

async fn get_new(user: CurrentUser, query: web::Query<NewQuery>) -> Result<HttpResponse, WebError> {
    let Some(project) = user.session.current_project().map(|p| p.id) else {
        return Ok(see_other(paths::JOB_TEMPLATES));
    };
    let form = match query.job.trim() {
        "" => empty_form(),
        id => {
            let id: WorkloadId = id.parse().map_err(|_| WebError::NotFound)?;
            let services = &user.page.state.services;
            as_job_form(
                &services
                    .template_form_of_job(&user.session.user, id)
                    .await?,
            )
        }
    };
    render_form(
        &user,
        project,
        &form,
        &FieldErrors::new(),
        None,
        StatusCode::OK,
    )
    .await
}

async fn post_new(user: CurrentUser, pairs: Pairs) -> Result<HttpResponse, WebError> {
    let Some(project) = user.session.current_project().map(|p| p.id) else {
        return Ok(see_other(paths::JOB_TEMPLATES));
    };
    let (form, template) = posted(&pairs);
    let saved = match template {
        Ok(t) => {
            user.page
                .state
                .services
                .create_job_template(&user.session.user, project, t)
                .await
        }
        Err(errors) => Err(ServiceError::Invalid(errors)),
    };
    match saved {
        Ok(id) => Ok(see_other(&paths::job_template(id))),
        Err(ServiceError::Invalid(errors)) => {
            render_form(
                &user,
                project,
                &form,
                &errors,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// The template `path` names, if the viewer may change it.
async fn editable(user: &CurrentUser, path: &str) -> Result<JobTemplateRecord, WebError> {
    let services = &user.page.state.services;
    let viewer = &user.session.user;
    let id = template_id(path)?;
    let record = services.job_template(viewer, id).await?;
    services.may_change_job_template(viewer, id).await?;
    Ok(record)
}

async fn get_edit(user: CurrentUser, path: web::Path<String>) -> Result<HttpResponse, WebError> {
    let record = editable(&user, &path).await?;
    let form = JobForm::from_template(&record, record.name.clone());
    render_form(
        &user,
        record.project,
        &form,
        &FieldErrors::new(),
        Some(&record),
        StatusCode::OK,
    )
    .await
}

async fn post_edit(
    user: CurrentUser,
    path: web::Path<String>,
    pairs: Pairs,
) -> Result<HttpResponse, WebError> {
    let record = editable(&user, &path).await?;
    let (form, template) = posted(&pairs);
    let saved = match template {
        Ok(t) => {
            user.page
                .state
                .services
                .update_job_template(&user.session.user, record.id, t)
                .await
        }
        Err(errors) => Err(ServiceError::Invalid(errors)),
    };
    match saved {
        Ok(()) => Ok(see_other(&paths::job_template(record.id))),
        Err(ServiceError::Invalid(errors)) => {
            render_form(
                &user,
                record.project,
                &form,
                &errors,
                Some(&record),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

async fn post_delete(
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<ConfirmForm>,
) -> Result<HttpResponse, WebError> {
    let record = editable(&user, &path).await?;
    if form.confirm != "yes" {
        return Err(WebError::Refused("template.error.confirm_delete"));
    }
    user.page
        .state
        .services
        .delete_job_template(&user.session.user, record.id)
        .await?;
    Ok(see_other(paths::JOB_TEMPLATES))
}
