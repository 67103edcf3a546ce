//! Job Management: the job list of the current project, with each queued
//! job's place and reason (its rows are what the page polls); a job's page
//! with its tabs (Job Detail, Log, Events), the log's download, cancel and
//! delete.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::{Requires, RouteDef, WORKSPACE, name_search_error, ok, route};
use crate::domain::authz::WorkloadAction;
use crate::domain::ids::UserId;
use crate::domain::workload::WorkloadId;
use crate::service::ServiceError;
use crate::service::workloads::LOG_LINES_MAX;
use crate::store::workloads::{WorkloadRecord, WorkloadSpec};
use crate::web::error::WebError;
use crate::web::extract::CurrentUser;
use crate::web::middleware::see_other;
use crate::web::paths;
use crate::web::views::jobs::{self as views, JobRow};

/// Jobs on one page of the list.
const PAGE_SIZE: usize = 10;

const VIEW: Requires = Requires::Workload(WorkloadAction::View);
const OPERATE: Requires = Requires::Workload(WorkloadAction::Operate);

pub fn routes() -> Vec<RouteDef> {
    vec![
        route!(Get paths::JOBS, WORKSPACE => get_list),
        route!(Get "/jobs/{id}", VIEW => get_detail),
        route!(Get "/jobs/{id}/log", VIEW => get_log),
        route!(Post "/jobs/{id}/cancel", OPERATE => post_cancel),
        route!(Post "/jobs/{id}/delete", OPERATE => post_delete),
    ]
}

/// The job `id` if `user` may do `action` to it; anything but a job is not
/// found here.
async fn job(
    user: &CurrentUser,
    id: &str,
    action: WorkloadAction,
) -> Result<WorkloadRecord, WebError> {
    let id: WorkloadId = id.parse().map_err(|_| WebError::NotFound)?;
    let record = user
        .page
        .state
        .services
        .workload_for(&user.session.user, id, action)
        .await?;
    match record.spec {
        WorkloadSpec::Job(_) => Ok(record),
        _ => Err(WebError::NotFound),
    }
}

async fn usernames(user: &CurrentUser) -> Result<HashMap<UserId, String>, WebError> {
    Ok(user
        .page
        .state
        .services
        .usernames()
        .await?
        .into_iter()
        .map(|(id, name, _)| (id, name))
        .collect())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DetailQuery {
    tab: String,
}

async fn get_detail(
    user: CurrentUser,
    path: web::Path<String>,
    query: web::Query<DetailQuery>,
) -> Result<HttpResponse, WebError> {
    let record = job(&user, &path, WorkloadAction::View).await?;
    let services = &user.page.state.services;
    let viewer = &user.session.user;
    let tab = views::Tab::from_slug(&query.tab).unwrap_or(views::Tab::Detail);
    let place = if record.queued {
        services
            .queue_places(viewer, record.spec.project(), &[record.id()])
            .await?
            .get(&record.id())
            .copied()
    } else {
        None
    };
    // The driver may not answer: the page says so rather than failing.
    let (log, events) = match tab {
        views::Tab::Log => match services
            .workload_logs(viewer, record.id(), LOG_LINES_MAX)
            .await
        {
            Ok(text) => (Some(text), Vec::new()),
            Err(ServiceError::ClusterTimeout | ServiceError::Cluster(_)) => (None, Vec::new()),
            Err(e) => return Err(e.into()),
        },
        views::Tab::Events => match services.workload_events(viewer, record.id()).await {
            Ok(events) => (None, events),
            Err(ServiceError::ClusterTimeout | ServiceError::Cluster(_)) => {
                (None, record.events.clone())
            }
            Err(e) => return Err(e.into()),
        },
        views::Tab::Detail => (None, Vec::new()),
    };
    let mut events = events;
    events.reverse();
    let names = usernames(&user).await?;
    let owner = names.get(&record.spec.owner()).map_or("", String::as_str);
    let Some(row) = JobRow::of(&record, owner, place) else {
        return Err(WebError::NotFound);
    };
    let zone = services.time_zone().await?;
    let view = views::JobDetailView {
        row: &row,
        tab,
        log: log.as_deref(),
        events: &events,
        zone: &zone,
    };
    Ok(ok(views::detail(&user.page.shell(), &view)))
}

/// The job's log as a text file: the archive once it ended, else what the
/// driver has.
async fn get_log(user: CurrentUser, path: web::Path<String>) -> Result<HttpResponse, WebError> {
    let record = job(&user, &path, WorkloadAction::View).await?;
    let services = &user.page.state.services;
    let text = services
        .workload_logs(&user.session.user, record.id(), LOG_LINES_MAX)
        .await?;
    let name = record.spec.name().unwrap_or("job");
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}.log\""),
        ))
        .body(text))
}

async fn post_cancel(user: CurrentUser, path: web::Path<String>) -> Result<HttpResponse, WebError> {
    let record = job(&user, &path, WorkloadAction::Operate).await?;
    user.page
        .state
        .services
        .cancel_job(&user.session.user, record.id())
        .await?;
    Ok(see_other(&paths::job(record.id())))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DeleteForm {
    confirm: String,
}

/// Deletes a finished (or queued) job with its log, once "confirm" is
/// ticked; a job still running is refused (cancel it first).
async fn post_delete(
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<DeleteForm>,
) -> Result<HttpResponse, WebError> {
    let record = job(&user, &path, WorkloadAction::Operate).await?;
    if form.confirm != "yes" {
        return Err(WebError::Refused("job.error.confirm_delete"));
    }
    if !record.queued && !record.status().is_terminal() {
        return Err(WebError::Refused("job.error.delete_running"));
    }
    user.page
        .state
        .services
        .delete_workload(&user.session.user, record.id())
        .await?;
    Ok(see_other(paths::JOBS))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ListQuery {
    q: String,
    page: String,
    /// `rows`: only the table's rows (what the page polls).
    part: String,
}

async fn get_list(
    user: CurrentUser,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, WebError> {
    let services = &user.page.state.services;
    let tr = user.page.tr();
    let zone = services.time_zone().await?;
    let Some(project) = user.session.current_project() else {
        let view = views::JobListView {
            project: None,
            rows: &[],
            query: "",
            query_error: None,
            page: 1,
            pages: 1,
            page_size: PAGE_SIZE,
            total: 0,
            zone: &zone,
            upcoming: &[],
        };
        return Ok(ok(views::list(&user.page.shell(), &view)));
    };
    let typed = query.q.trim();
    let query_error = name_search_error(&tr, typed);
    let asked = query.page.parse::<usize>().unwrap_or(1);
    let viewer = &user.session.user;
    let found = if query_error.is_some() {
        None
    } else {
        Some(
            services
                .project_jobs(viewer, project.id, typed, asked, PAGE_SIZE)
                .await?,
        )
    };
    let queued: Vec<WorkloadId> = found
        .iter()
        .flat_map(|f| f.items.iter().filter(|r| r.queued).map(|r| r.id()))
        .collect();
    let places = if queued.is_empty() {
        BTreeMap::new()
    } else {
        services.queue_places(viewer, project.id, &queued).await?
    };
    let total = found.as_ref().map_or(0, |f| f.total);
    let page = found.as_ref().map_or(1, |f| f.page);
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let (records, names): (Vec<Arc<WorkloadRecord>>, HashMap<UserId, String>) =
        found.map(|f| (f.items, f.owners)).unwrap_or_default();
    let rows: Vec<JobRow> = records
        .iter()
        .filter_map(|r| {
            let owner = names.get(&r.spec.owner()).map_or("", String::as_str);
            JobRow::of(r, owner, places.get(&r.id()).copied())
        })
        .collect();
    if query.part == "rows" {
        return Ok(ok(views::rows(tr, &rows, &zone)));
    }
    let mut upcoming = services.job_schedules(viewer, project.id).await?;
    upcoming.retain(|s| s.next_run.is_some());
    upcoming.sort_by_key(|s| s.next_run);
    let view = views::JobListView {
        project: Some(&project.name),
        rows: &rows,
        query: typed,
        query_error,
        page,
        pages,
        page_size: PAGE_SIZE,
        total,
        zone: &zone,
        upcoming: &upcoming,
    };
    Ok(ok(views::list(&user.page.shell(), &view)))
}
