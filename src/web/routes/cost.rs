//! Advanced Settings › Cost Center (manual §5.9): a project's cost for a
//! month, and the same as CSV. Account Management › Order Record (manual
//! §6.2): one's orders in a period of purchase time, and an order's detail.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::{HttpResponse, web};
use jiff::civil::Date;
use serde::Deserialize;

use super::{RouteDef, WORKSPACE, html, ok, route};
use crate::domain::cost::Month;
use crate::domain::ids::{OrderId, ProjectId};
use crate::service::ServiceError;
use crate::web::error::WebError;
use crate::web::extract::CurrentUser;
use crate::web::paths;
use crate::web::views::cost::{self as views, CostView};
use crate::web::views::orders::{self as order_views, OrdersView};

pub fn routes() -> Vec<RouteDef> {
    vec![
        route!(Get paths::COST_CENTER, WORKSPACE => get_cost_center),
        route!(Get paths::COST_CENTER_CSV, WORKSPACE => get_cost_csv),
        route!(Get paths::ORDERS, WORKSPACE => get_orders),
        route!(Get paths::ORDER_DETAIL, WORKSPACE => get_order),
    ]
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CostQuery {
    project: String,
    month: String,
}

/// The project asked for, else the session's current one, else the first
/// the viewer may see; an id that does not read is not found.
fn chosen_project(
    user: &CurrentUser,
    query: &CostQuery,
    first: Option<ProjectId>,
) -> Result<Option<ProjectId>, WebError> {
    match query.project.trim() {
        "" => Ok(user.session.current_project().map(|p| p.id).or(first)),
        id => id.parse().map(Some).map_err(|_| WebError::NotFound),
    }
}

/// The month asked for (None: this month); Err: it does not read.
fn chosen_month(query: &CostQuery) -> Result<Option<Month>, ()> {
    match query.month.trim() {
        "" => Ok(None),
        text => Month::parse(text).map(Some).ok_or(()),
    }
}

async fn get_cost_center(
    user: CurrentUser,
    query: web::Query<CostQuery>,
) -> Result<HttpResponse, WebError> {
    let services = &user.page.state.services;
    let viewer = &user.session.user;
    let projects = services.cost_projects(viewer).await?;
    let project = chosen_project(&user, &query, projects.first().map(|p| p.id))?;
    let (month, month_error) = match chosen_month(&query) {
        Ok(month) => (month, None),
        Err(()) => (None, Some("cost.error.month")),
    };
    let report = match project {
        Some(id) => Some(services.cost_report(viewer, id, month).await?),
        None => None,
    };
    let month_input = match (&report, month_error) {
        (_, Some(_)) => query.month.clone(),
        (Some(r), None) => r.month.to_string(),
        (None, None) => String::new(),
    };
    let markup = views::page(
        &user.page.shell(),
        &CostView {
            projects: &projects,
            report: report.as_ref(),
            month_input: &month_input,
            month_error,
        },
    );
    Ok(match month_error {
        Some(_) => html(StatusCode::UNPROCESSABLE_ENTITY, markup),
        None => ok(markup),
    })
}

async fn get_cost_csv(
    user: CurrentUser,
    query: web::Query<CostQuery>,
) -> Result<HttpResponse, WebError> {
    let services = &user.page.state.services;
    let viewer = &user.session.user;
    let Some(project) = chosen_project(&user, &query, None)? else {
        return Err(WebError::Refused("cost.no_project"));
    };
    let month = chosen_month(&query).map_err(|()| WebError::Refused("cost.error.month"))?;
    let report = services.cost_report(viewer, project, month).await?;
    let file_name = format!("cost-{}-{}.csv", report.project, report.month);
    // A byte order mark, so that spreadsheets read the UTF-8 names.
    let body = format!("\u{feff}{}", views::csv(user.page.shell().tr, &report));
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(file_name)],
        })
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct OrdersQuery {
    from: String,
    to: String,
}

async fn get_orders(
    user: CurrentUser,
    query: web::Query<OrdersQuery>,
) -> Result<HttpResponse, WebError> {
    let services = &user.page.state.services;
    let read = |text: &str| match text.trim() {
        "" => Ok(None),
        text => text.parse::<Date>().map(Some).map_err(|_| ()),
    };
    let period = read(&query.from).and_then(|from| Ok((from, read(&query.to)?)));
    let (list, error) = match period {
        Err(()) => (None, Some("order.error.date")),
        Ok((from, to)) => match services.orders(&user.session.user, from, to).await {
            Ok(list) => (Some(list), None),
            Err(ServiceError::Invalid(errors)) => (None, errors.iter().next().map(|e| e.message)),
            Err(e) => return Err(e.into()),
        },
    };
    let zone = match &list {
        Some(list) => list.zone.clone(),
        None => services.time_zone().await?,
    };
    let (from, to) = match &list {
        Some(list) => (list.from.to_string(), list.to.to_string()),
        None => (query.from.trim().to_owned(), query.to.trim().to_owned()),
    };
    let markup = order_views::list(
        &user.page.shell(),
        &OrdersView {
            from: &from,
            to: &to,
            error,
            orders: list.as_ref().map_or(&[], |l| l.orders.as_slice()),
            zone: &zone,
        },
    );
    Ok(match error {
        Some(_) => html(StatusCode::UNPROCESSABLE_ENTITY, markup),
        None => ok(markup),
    })
}

async fn get_order(user: CurrentUser, path: web::Path<String>) -> Result<HttpResponse, WebError> {
    let id: OrderId = path.parse().map_err(|_| WebError::NotFound)?;
    let services = &user.page.state.services;
    let zone = services.time_zone().await?;
    let detail = services.order(&user.session.user, id).await?;
    Ok(ok(order_views::detail(&user.page.shell(), &detail, &zone)))
}
