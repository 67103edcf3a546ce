//! Container Management: the container list of the current project, a
//! container's detail and tabs, the status fragment its page polls, stop,
//! start and delete (with its confirmation). The create wizard, the
//! service proxy and the web terminal live in their own modules.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::{Requires, RouteDef, WORKSPACE, html, ok, route};
use crate::domain::authz::WorkloadAction;
use crate::domain::ids::UserId;
use crate::domain::metrics::{MONITOR_DEFAULT_HOURS, MONITOR_HOURS};
use crate::domain::workload::{NAME_MAX, WorkloadId};
use crate::i18n::Tr;
use crate::service::ServiceError;
use crate::store::workloads::WorkloadRecord;
use crate::web::error::WebError;
use crate::web::extract::CurrentUser;
use crate::web::middleware::see_other;
use crate::web::paths;
use crate::web::views::containers::{self as views, ContainerRow, Tab};
use crate::web::views::monitor::MonitorView;

/// Containers on one page of the list.
const PAGE_SIZE: usize = 10;

const VIEW: Requires = Requires::Workload(WorkloadAction::View);
const OPERATE: Requires = Requires::Workload(WorkloadAction::Operate);

pub fn routes() -> Vec<RouteDef> {
    vec![
        route!(Get paths::CONTAINERS, WORKSPACE => get_list),
        route!(Get "/containers/{id}", VIEW => get_detail),
        route!(Get "/containers/{id}/status", VIEW => get_status),
        route!(Post "/containers/{id}/stop", OPERATE => post_stop),
        route!(Post "/containers/{id}/start", OPERATE => post_start),
        route!(Get "/containers/{id}/stop", VIEW => get_back_to_detail),
        route!(Get "/containers/{id}/start", VIEW => get_back_to_detail),
        route!(Get "/containers/{id}/delete", OPERATE => get_delete),
        route!(Post "/containers/{id}/delete", OPERATE => post_delete),
    ]
}

fn container_id(text: &str) -> Result<WorkloadId, WebError> {
    text.parse().map_err(|_| WebError::NotFound)
}

/// Usernames by id, for the Owner column.
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

/// The container `id` if `user` may do `action` to it; a job (or anything
/// but a container) is not found here.
async fn container(
    user: &CurrentUser,
    id: &str,
    action: WorkloadAction,
) -> Result<WorkloadRecord, WebError> {
    let id = container_id(id)?;
    let record = user
        .page
        .state
        .services
        .workload_for(&user.session.user, id, action)
        .await?;
    match record.spec {
        crate::store::workloads::WorkloadSpec::Container(_) => Ok(record),
        _ => Err(WebError::NotFound),
    }
}

fn owner_name<'a>(names: &'a HashMap<UserId, String>, record: &WorkloadRecord) -> &'a str {
    names.get(&record.spec.owner()).map_or("", String::as_str)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ListQuery {
    q: String,
    page: String,
    /// `rows`: only the table's rows (what the page polls).
    part: String,
    done: String,
}

async fn get_list(
    user: CurrentUser,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, WebError> {
    let services = &user.page.state.services;
    let tr = user.page.tr();
    let Some(project) = user.session.current_project() else {
        let zone = services.time_zone().await?;
        let view = views::ContainerListView {
            project: None,
            rows: &[],
            query: "",
            query_error: None,
            page: 1,
            pages: 1,
            page_size: PAGE_SIZE,
            total: 0,
            notice: None,
            zone: &zone,
        };
        return Ok(ok(views::list(&user.page.shell(), &view)));
    };
    let typed = query.q.trim();
    let too_long = typed.chars().count() > NAME_MAX;
    let query_error = too_long.then(|| {
        tr.f(
            "container.search_too_long",
            &[("max", &NAME_MAX.to_string())],
        )
    });
    let asked = query.page.parse::<usize>().unwrap_or(1);
    let found = if too_long {
        None
    } else {
        Some(
            services
                .project_containers(&user.session.user, project.id, typed, asked, PAGE_SIZE)
                .await?,
        )
    };
    let total = found.as_ref().map_or(0, |f| f.total);
    let page = found.as_ref().map_or(1, |f| f.page);
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let now = services.now();
    let (records, names, zone) = match found {
        Some(f) => (f.items, f.owners, f.zone),
        None => (Vec::new(), HashMap::new(), services.time_zone().await?),
    };
    let rows: Vec<ContainerRow> = records
        .iter()
        .filter_map(|r| ContainerRow::of(r, owner_name(&names, r), now))
        .collect();
    let shell = user.page.shell();
    if query.part == "rows" {
        return Ok(ok(views::rows(&shell, &rows, &zone, true)));
    }
    let notice = match query.done.as_str() {
        "stop" => Some(tr.t("container.stop_requested").to_owned()),
        "start" => Some(tr.t("container.start_requested").to_owned()),
        "deleted" => Some(tr.t("container.deleted").to_owned()),
        _ => None,
    };
    let view = views::ContainerListView {
        project: Some(&project.name),
        rows: &rows,
        query: typed,
        query_error,
        page,
        pages,
        page_size: PAGE_SIZE,
        total,
        notice,
        zone: &zone,
    };
    Ok(ok(views::list(&shell, &view)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DetailQuery {
    tab: String,
    done: String,
    /// The Monitor tab's interval in hours.
    hours: String,
}

async fn get_detail(
    user: CurrentUser,
    path: web::Path<String>,
    query: web::Query<DetailQuery>,
) -> Result<HttpResponse, WebError> {
    let record = container(&user, &path, WorkloadAction::View).await?;
    let services = &user.page.state.services;
    let tab = Tab::from_slug(&query.tab).unwrap_or(Tab::Detail);
    let (mut events, events_partial) = if tab == Tab::Events {
        match services
            .workload_events(&user.session.user, record.id())
            .await
        {
            Ok(events) => (events, false),
            // The driver did not answer: what mlstack kept.
            Err(ServiceError::ClusterTimeout | ServiceError::Cluster(_)) => {
                (record.events.clone(), true)
            }
            Err(e) => return Err(e.into()),
        }
    } else {
        (Vec::new(), false)
    };
    events.reverse();
    let names = usernames(&user).await?;
    let zone = services.time_zone().await?;
    let tr = user.page.tr();
    let notice = match query.done.as_str() {
        "stop" => Some(tr.t("container.stop_requested").to_owned()),
        "start" => Some(tr.t("container.start_requested").to_owned()),
        _ => None,
    };
    let row = ContainerRow::of(&record, owner_name(&names, &record), services.now())
        .ok_or(WebError::NotFound)?;
    let monitor = match tab {
        Tab::Monitor => {
            let (hours, hours_error) = monitor_hours(&query.hours, tr);
            let data = services.monitor_columns(record.id(), hours).await?;
            Some(MonitorView {
                hours,
                hours_error,
                start: data.start,
                end: data.end,
                columns: data.columns,
                cpu_cores: data.cpu_cores,
                memory_mib: data.memory_mib,
                rx_bytes_per_s: data.rx_bytes_per_s,
                tx_bytes_per_s: data.tx_bytes_per_s,
            })
        }
        _ => None,
    };
    let view = views::ContainerDetailView {
        row,
        tab,
        events: &events,
        events_partial,
        notice,
        zone: &zone,
        monitor: monitor.as_ref(),
    };
    Ok(ok(views::detail(&user.page.shell(), &view)))
}

/// The Monitor tab's interval: the asked hours when within the slider's
/// range, else the default with a message naming the range.
fn monitor_hours(text: &str, tr: Tr) -> (u32, Option<String>) {
    let text = text.trim();
    if text.is_empty() {
        return (MONITOR_DEFAULT_HOURS, None);
    }
    match text.parse::<u32>() {
        Ok(hours) if MONITOR_HOURS.contains(&hours) => (hours, None),
        _ => (
            MONITOR_DEFAULT_HOURS,
            Some(tr.f(
                "monitor.interval_invalid",
                &[("hours", &MONITOR_DEFAULT_HOURS.to_string())],
            )),
        ),
    }
}

async fn get_status(user: CurrentUser, path: web::Path<String>) -> Result<HttpResponse, WebError> {
    let record = container(&user, &path, WorkloadAction::View).await?;
    let services = &user.page.state.services;
    let row = ContainerRow::of(&record, "", services.now()).ok_or(WebError::NotFound)?;
    Ok(ok(views::status_fragment(user.page.tr(), &row)))
}

/// A refused stop or start is answered on its POST address; a GET of it
/// (a reload, the address bar) leads back to the container.
async fn get_back_to_detail(
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let record = container(&user, &path, WorkloadAction::View).await?;
    Ok(see_other(&paths::container(record.id())))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ActionForm {
    /// Where to go back to: `list` or the detail page.
    next: String,
}

fn back(id: WorkloadId, next: &str, done: &str) -> HttpResponse {
    if next == "list" {
        see_other(&format!("{}?done={done}", paths::CONTAINERS))
    } else {
        see_other(&format!("{}?done={done}", paths::container(id)))
    }
}

async fn post_stop(
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<ActionForm>,
) -> Result<HttpResponse, WebError> {
    let id = container(&user, &path, WorkloadAction::Operate).await?.id();
    user.page
        .state
        .services
        .stop_container(&user.session.user, id)
        .await?;
    Ok(back(id, &form.next, "stop"))
}

async fn post_start(
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<ActionForm>,
) -> Result<HttpResponse, WebError> {
    let id = container(&user, &path, WorkloadAction::Operate).await?.id();
    // Refused over the quota or a member cap: the error page says what
    // is left.
    user.page
        .state
        .services
        .start_container(&user.session.user, id)
        .await?;
    Ok(back(id, &form.next, "start"))
}

async fn render_delete(
    user: &CurrentUser,
    record: &WorkloadRecord,
    refused: bool,
) -> Result<HttpResponse, WebError> {
    let services = &user.page.state.services;
    let names = usernames(user).await?;
    let row = ContainerRow::of(record, owner_name(&names, record), services.now())
        .ok_or(WebError::NotFound)?;
    let status = if refused {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(html(
        status,
        views::delete_confirm(&user.page.shell(), &row, refused),
    ))
}

async fn get_delete(user: CurrentUser, path: web::Path<String>) -> Result<HttpResponse, WebError> {
    let record = container(&user, &path, WorkloadAction::Operate).await?;
    render_delete(&user, &record, false).await
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
    let record = container(&user, &path, WorkloadAction::Operate).await?;
    if form.confirm != "yes" {
        return render_delete(&user, &record, true).await;
    }
    user.page
        .state
        .services
        .delete_workload(&user.session.user, record.id())
        .await?;
    Ok(see_other(&format!("{}?done=deleted", paths::CONTAINERS)))
}
