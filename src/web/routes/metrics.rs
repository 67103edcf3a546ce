//! Metrics: the GPU Utilization Rate page (with its CSV) and the admin's
//! status page of the metrics sources.

use std::collections::HashMap;

use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::{ADMIN, RouteDef, WORKSPACE, ok, route};
use crate::domain::metrics::REPORT_PERIOD_DAYS;
use crate::web::AppState;
use crate::web::error::WebError;
use crate::web::extract::{CurrentUser, RequireAdmin};
use crate::web::paths;
use crate::web::views::metrics::{self as views, UtilizationRowView, UtilizationView};

pub fn routes() -> Vec<RouteDef> {
    vec![
        route!(Get paths::GPU_UTILIZATION, WORKSPACE => get_gpu_utilization),
        route!(Get paths::ADMIN_METRICS, ADMIN => get_sources),
        route!(Get paths::PROMETHEUS, ADMIN => get_prometheus),
    ]
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct UtilizationQuery {
    /// One of `REPORT_PERIOD_DAYS`.
    days: String,
    /// `csv`: the report as a download.
    format: String,
}

async fn get_gpu_utilization(
    user: CurrentUser,
    query: web::Query<UtilizationQuery>,
) -> Result<HttpResponse, WebError> {
    let services = &user.page.state.services;
    let tr = user.page.tr();
    let zone = services.time_zone().await?;
    let default_days = REPORT_PERIOD_DAYS[0];
    let (days, period_error) = match query.days.trim() {
        "" => (default_days, None),
        text => match text.parse::<u32>() {
            Ok(days) if REPORT_PERIOD_DAYS.contains(&days) => (days, None),
            _ => (
                default_days,
                Some(tr.t("utilization.period_invalid").to_owned()),
            ),
        },
    };
    let Some(project) = user.session.current_project() else {
        let view = UtilizationView {
            project: None,
            days,
            period_error,
            start: services.now(),
            end: services.now(),
            rows: Vec::new(),
            idle_rule: services.idle_rule(),
        };
        return Ok(ok(views::utilization(&user.page.shell(), &view, &zone)));
    };
    let report = services
        .gpu_utilization(&user.session.user, project.id, days)
        .await?;
    let names: HashMap<_, _> = services
        .usernames()
        .await?
        .into_iter()
        .map(|(id, name, _)| (id, name))
        .collect();
    let rows: Vec<UtilizationRowView> = report
        .rows
        .into_iter()
        .map(|row| UtilizationRowView {
            href: paths::container_tab(row.id, "monitor"),
            owner: names.get(&row.owner).cloned().unwrap_or_default(),
            name: row.name,
            usage: row.usage,
            idle: row.idle,
        })
        .collect();
    if query.format == "csv" {
        return Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                actix_web::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"gpu-utilization-{days}d.csv\""),
            ))
            .body(views::utilization_csv(tr, &rows)));
    }
    let view = UtilizationView {
        project: Some(&project.name),
        days,
        period_error,
        start: report.start,
        end: report.end,
        rows,
        idle_rule: services.idle_rule(),
    };
    Ok(ok(views::utilization(&user.page.shell(), &view, &zone)))
}

async fn get_sources(admin: RequireAdmin) -> Result<HttpResponse, WebError> {
    let services = &admin.page.state.services;
    let zone = services.time_zone().await?;
    let all = services.metrics_sources().all();
    Ok(ok(views::sources(&admin.page.shell(), &all, &zone)))
}

/// mlstack's own metrics for Prometheus: for admins, or for a scraper that
/// sends the configured `metrics.scrape_token` as a bearer token.
async fn get_prometheus(req: HttpRequest) -> Result<HttpResponse, WebError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| WebError::Internal("no application state".into()))?;
    let given = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let scraper = match (state.metrics_token.as_deref(), given) {
        (Some(token), Some(given)) => bool::from(token.as_bytes().ct_eq(given.as_bytes())),
        _ => false,
    };
    if !scraper {
        RequireAdmin::extract(&req).await?;
    }
    let text = state.services.prometheus_text().await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}
