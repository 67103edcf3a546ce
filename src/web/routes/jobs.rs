//! Job Management: the job list of the current project, with each queued
//! job's place and reason; its rows are what the page polls.

use std::collections::{BTreeMap, HashMap};

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::{RouteDef, WORKSPACE, ok, route};
use crate::domain::ids::UserId;
use crate::domain::workload::NAME_MAX;
use crate::store::workloads::WorkloadRecord;
use crate::web::error::WebError;
use crate::web::extract::CurrentUser;
use crate::web::paths;
use crate::web::views::jobs::{self as views, JobRow};

/// Jobs on one page of the list.
const PAGE_SIZE: usize = 10;

pub fn routes() -> Vec<RouteDef> {
    vec![route!(Get paths::JOBS, WORKSPACE => get_list)]
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
        };
        return Ok(ok(views::list(&user.page.shell(), &view)));
    };
    let typed = query.q.trim();
    let too_long = typed.chars().count() > NAME_MAX;
    let query_error =
        too_long.then(|| tr.f("job.search_too_long", &[("max", &NAME_MAX.to_string())]));
    let asked = query.page.parse::<usize>().unwrap_or(1);
    let viewer = &user.session.user;
    let found = if too_long {
        None
    } else {
        Some(
            services
                .project_jobs(viewer, project.id, typed, asked, PAGE_SIZE)
                .await?,
        )
    };
    let places = if found
        .as_ref()
        .is_some_and(|f| f.items.iter().any(|r| r.queued))
    {
        services.queue_places(viewer, project.id).await?
    } else {
        BTreeMap::new()
    };
    let total = found.as_ref().map_or(0, |f| f.total);
    let page = found.as_ref().map_or(1, |f| f.page);
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let names: HashMap<UserId, String> = services
        .usernames()
        .await?
        .into_iter()
        .map(|(id, name, _)| (id, name))
        .collect();
    let records: Vec<WorkloadRecord> = found.map(|f| f.items).unwrap_or_default();
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
    };
    Ok(ok(views::list(&user.page.shell(), &view)))
}
