//! Job Management › Job Scheduling (manual §5.5.2): the schedules of the
//! current project (search, paging), the create and edit form with the
//! next 10 trigger times (shown after a submit, and updated live by
//! `schedule-form.js` from the JSON preview), a schedule's page with its
//! run history, and delete after confirmation.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::{
    ConfirmForm, Paged, Requires, RouteDef, WORKSPACE, found_by_name, html, name_search_error, ok,
    paged, route,
};
use crate::domain::authz::WorkloadAction;
use crate::domain::ids::JobScheduleId;
use crate::domain::schedule::TriggerFields;
use crate::domain::validation::FieldErrors;
use crate::service::ServiceError;
use crate::service::schedules::JobScheduleForm;
use crate::store::job_schedules::JobScheduleRecord;
use crate::web::error::WebError;
use crate::web::extract::CurrentUser;
use crate::web::middleware::see_other;
use crate::web::paths;
use crate::web::views::format;
use crate::web::views::job_schedules::{
    self as views, PreviewShown, ScheduleDetailView, ScheduleFormValues, ScheduleFormView,
    ScheduleListView, ScheduleRow,
};

/// Schedules on one page of the list.
const PAGE_SIZE: usize = 10;

/// A schedule is seen and changed as a workload of its owner is.
const VIEW: Requires = Requires::Workload(WorkloadAction::View);
const OPERATE: Requires = Requires::Workload(WorkloadAction::Operate);

/// How long a new schedule's window is at first: 30 days.
const NEW_WINDOW_DAYS: i64 = 30;

pub fn routes() -> Vec<RouteDef> {
    vec![
        route!(Get paths::JOB_SCHEDULE_PREVIEW, WORKSPACE => get_preview),
        route!(Get paths::JOB_SCHEDULES, WORKSPACE => get_list),
        route!(Get paths::JOB_SCHEDULE_NEW, WORKSPACE => get_new),
        route!(Post paths::JOB_SCHEDULE_NEW, WORKSPACE => post_new),
        route!(Get "/jobs/schedules/{id}", VIEW => get_detail),
        route!(Get "/jobs/schedules/{id}/edit", OPERATE => get_edit),
        route!(Post "/jobs/schedules/{id}/edit", OPERATE => post_edit),
        route!(Post "/jobs/schedules/{id}/delete", OPERATE => post_delete),
    ]
}

fn schedule_id(path: &str) -> Result<JobScheduleId, WebError> {
    path.parse().map_err(|_| WebError::NotFound)
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
    let Some(project) = user.session.current_project() else {
        let view = ScheduleListView {
            project: None,
            rows: &[],
            query: "",
            query_error: None,
            page: 1,
            pages: 1,
            page_size: PAGE_SIZE,
            total: 0,
        };
        return Ok(ok(views::list(&user.page.shell(), &view)));
    };
    let viewer = &user.session.user;
    let typed = query.q.trim();
    let query_error = name_search_error(&tr, typed);
    let schedules = if query_error.is_some() {
        Vec::new()
    } else {
        found_by_name(
            services.job_schedules(viewer, project.id).await?,
            typed,
            |s| &s.name,
        )
    };
    let Paged {
        items: shown,
        page,
        pages,
        total,
    } = paged(schedules, &query.page, PAGE_SIZE);
    let templates = services.job_templates(viewer, project.id).await?;
    let rows: Vec<ScheduleRow> = shown
        .iter()
        .map(|record| ScheduleRow {
            record,
            template: templates
                .iter()
                .find(|t| t.id == record.template)
                .map_or("--", |t| t.name.as_str()),
        })
        .collect();
    let view = ScheduleListView {
        project: Some(&project.name),
        rows: &rows,
        query: typed,
        query_error,
        page,
        pages,
        page_size: PAGE_SIZE,
        total,
    };
    Ok(ok(views::list(&user.page.shell(), &view)))
}

/// Renders the form with `values`; the preview is computed from them
/// when they hold no error.
async fn render_form(
    user: &CurrentUser,
    editing: Option<&JobScheduleRecord>,
    project: crate::domain::ids::ProjectId,
    values: &ScheduleFormValues,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, WebError> {
    let services = &user.page.state.services;
    let templates: Vec<(String, String)> = services
        .job_templates(&user.session.user, project)
        .await?
        .into_iter()
        .map(|t| (t.id.to_string(), t.name))
        .collect();
    let mut errors = errors;
    let preview = match values.to_cron() {
        Err(e) => {
            if errors.is_empty() {
                errors = e;
            }
            PreviewShown::None
        }
        Ok(cron) => {
            match services.schedule_preview(&cron, &values.zone, &values.start, &values.end) {
                Ok(preview) => PreviewShown::Times(
                    preview
                        .times
                        .iter()
                        .map(|z| format::date_time(z.timestamp(), z.time_zone()))
                        .collect(),
                ),
                Err(e) => {
                    if errors.is_empty() {
                        errors = e;
                    }
                    PreviewShown::None
                }
            }
        }
    };
    let errors = views::form_errors(&errors);
    let zones = views::zone_names();
    let view = ScheduleFormView {
        editing,
        values,
        templates: &templates,
        zones: &zones,
        errors: &errors,
        preview,
    };
    Ok(html(status, views::form(&user.page.shell(), &view)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NewQuery {
    /// "Run job with schedule": the template chosen.
    template: String,
}

async fn get_new(user: CurrentUser, query: web::Query<NewQuery>) -> Result<HttpResponse, WebError> {
    let Some(project) = user.session.current_project() else {
        return Ok(see_other(paths::JOB_SCHEDULES));
    };
    let services = &user.page.state.services;
    let zone_name = services.default_schedule_zone().await?;
    let zone = jiff::tz::TimeZone::get(&zone_name).unwrap_or(jiff::tz::TimeZone::UTC);
    let now = services.schedule_now().to_zoned(zone);
    let local = |z: &jiff::Zoned| z.strftime("%Y-%m-%dT%H:%M").to_string();
    let end = now
        .checked_add(jiff::Span::new().days(NEW_WINDOW_DAYS))
        .map_err(|e| WebError::BadRequest(e.to_string()))?;
    let mut values = ScheduleFormValues::new_in(&zone_name, local(&now), local(&end));
    values.template = query.template.trim().to_owned();
    render_form(
        &user,
        None,
        project.id,
        &values,
        FieldErrors::new(),
        StatusCode::OK,
    )
    .await
}

/// The service's form from the page's: the cron box, else the fields.
fn service_form(values: &ScheduleFormValues) -> Result<JobScheduleForm, FieldErrors> {
    Ok(JobScheduleForm {
        name: values.name.clone(),
        description: values.description.clone(),
        template: values.template.clone(),
        zone: values.zone.clone(),
        start: values.start.clone(),
        end: values.end.clone(),
        cron: values.to_cron()?,
        concurrency: values.concurrency.clone(),
    })
}

async fn post_new(
    user: CurrentUser,
    form: web::Form<ScheduleFormValues>,
) -> Result<HttpResponse, WebError> {
    let Some(project) = user.session.current_project() else {
        return Ok(see_other(paths::JOB_SCHEDULES));
    };
    let values = form.into_inner();
    if values.go == "preview" {
        return render_form(
            &user,
            None,
            project.id,
            &values,
            FieldErrors::new(),
            StatusCode::OK,
        )
        .await;
    }
    let services = &user.page.state.services;
    let errors = match service_form(&values) {
        Ok(form) => match services
            .create_job_schedule(&user.session.user, project.id, form)
            .await
        {
            Ok(id) => return Ok(see_other(&paths::job_schedule(id))),
            Err(ServiceError::Invalid(errors)) => errors,
            Err(e) => return Err(e.into()),
        },
        Err(errors) => errors,
    };
    render_form(
        &user,
        None,
        project.id,
        &values,
        errors,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

async fn get_detail(user: CurrentUser, path: web::Path<String>) -> Result<HttpResponse, WebError> {
    let services = &user.page.state.services;
    let viewer = &user.session.user;
    let record = services.job_schedule(viewer, schedule_id(&path)?).await?;
    let templates = services.job_templates(viewer, record.project).await?;
    let template = templates
        .iter()
        .find(|t| t.id == record.template)
        .map_or("--", |t| t.name.as_str());
    let owner = services
        .usernames()
        .await?
        .into_iter()
        .find(|(id, _, _)| *id == record.owner)
        .map(|(_, name, _)| name)
        .unwrap_or_default();
    let view = ScheduleDetailView {
        record: &record,
        template,
        owner: &owner,
    };
    Ok(ok(views::detail(&user.page.shell(), &view)))
}

/// The schedule `id` if `user` may change it.
async fn editable(user: &CurrentUser, id: &str) -> Result<JobScheduleRecord, WebError> {
    let services = &user.page.state.services;
    let record = services
        .job_schedule(&user.session.user, schedule_id(id)?)
        .await?;
    services
        .may_change_job_schedule(&user.session.user, record.id)
        .await?;
    Ok(record)
}

async fn get_edit(user: CurrentUser, path: web::Path<String>) -> Result<HttpResponse, WebError> {
    let record = editable(&user, &path).await?;
    let values = ScheduleFormValues::of(&record);
    render_form(
        &user,
        Some(&record),
        record.project,
        &values,
        FieldErrors::new(),
        StatusCode::OK,
    )
    .await
}

async fn post_edit(
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<ScheduleFormValues>,
) -> Result<HttpResponse, WebError> {
    let record = editable(&user, &path).await?;
    let values = form.into_inner();
    if values.go == "preview" {
        return render_form(
            &user,
            Some(&record),
            record.project,
            &values,
            FieldErrors::new(),
            StatusCode::OK,
        )
        .await;
    }
    let services = &user.page.state.services;
    let errors = match service_form(&values) {
        Ok(form) => match services
            .update_job_schedule(&user.session.user, record.id, form)
            .await
        {
            Ok(()) => return Ok(see_other(&paths::job_schedule(record.id))),
            Err(ServiceError::Invalid(errors)) => errors,
            Err(e) => return Err(e.into()),
        },
        Err(errors) => errors,
    };
    render_form(
        &user,
        Some(&record),
        record.project,
        &values,
        errors,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// Deletes the schedule once its dialog confirmed it: it never fires
/// again; the jobs it made stay.
async fn post_delete(
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<ConfirmForm>,
) -> Result<HttpResponse, WebError> {
    let record = editable(&user, &path).await?;
    if form.confirm != "yes" {
        return Err(WebError::Refused("schedule.error.confirm_delete"));
    }
    user.page
        .state
        .services
        .delete_job_schedule(&user.session.user, record.id)
        .await?;
    Ok(see_other(paths::JOB_SCHEDULES))
}

/// The preview's question: a cron expression, or (when it is empty) the
/// form's trigger fields; the zone and the window as typed.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PreviewQuery {
    cron: String,
    month: String,
    /// `day` (days of the month) or `weekday`.
    switch: String,
    days: String,
    hour: String,
    minute: String,
    zone: String,
    /// `YYYY-MM-DDTHH:MM` in the zone.
    start: String,
    end: String,
}

/// `{"cron", "times": [{"local", "offset", "utc"}], "empty"}` where
/// `empty` carries the sentence to show when the window holds no trigger;
/// 422 with `{"errors": {field: message}}` for bad input.
async fn get_preview(
    user: CurrentUser,
    query: web::Query<PreviewQuery>,
) -> Result<HttpResponse, WebError> {
    let tr = user.page.tr();
    let invalid = |errors: FieldErrors| {
        let errors: serde_json::Map<String, serde_json::Value> = errors
            .iter()
            .map(|e| (e.field.to_owned(), tr.t(e.message).into()))
            .collect();
        HttpResponse::UnprocessableEntity().json(serde_json::json!({ "errors": errors }))
    };
    let cron = if query.cron.trim().is_empty() {
        match TriggerFields::from_form(
            &query.month,
            &query.switch,
            &query.days,
            &query.hour,
            &query.minute,
        ) {
            Ok(fields) => fields.to_cron(),
            Err(errors) => return Ok(invalid(errors)),
        }
    } else {
        query.cron.clone()
    };
    let services = &user.page.state.services;
    let preview = match services.schedule_preview(&cron, &query.zone, &query.start, &query.end) {
        Ok(preview) => preview,
        Err(errors) => return Ok(invalid(errors)),
    };
    let times: Vec<serde_json::Value> = preview
        .times
        .iter()
        .map(|z| {
            serde_json::json!({
                "local": format::date_time(z.timestamp(), z.time_zone()),
                "offset": z.offset().to_string(),
                "utc": z.timestamp().to_string(),
            })
        })
        .collect();
    let empty = times
        .is_empty()
        .then(|| tr.t("schedule.preview.empty").to_owned());
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "cron": preview.cron,
        "times": times,
        "empty": empty,
    })))
}
