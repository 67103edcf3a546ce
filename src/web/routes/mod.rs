//! One module per area; each lists its routes in `routes()` (the route
//! table, see [`RouteDef`]) and has `get_*`/`post_*` handlers that extract,
//! call a service and render a view.

mod account;
mod admin;
mod areas;
mod audit;
mod auth;
mod catalog;
mod containers;
mod containers_new;
mod cost;
mod emails;
mod images;
mod job_schedules;
mod job_templates;
mod jobs;
mod jobs_new;
mod key_pairs;
mod metrics;
mod ops;
mod projects;
mod proxy;
mod storage;
mod terminal;

use actix_web::{HttpResponse, web};
use maud::Markup;

use super::error::WebError;
use crate::domain::authz::{Action, ProjectAction, WorkloadAction};
use crate::domain::workload::NAME_MAX;
use crate::i18n::Tr;

/// The HTTP method a route answers (HEAD is answered like GET by the
/// `head_as_get` middleware).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    /// Every method (the service proxy).
    Any,
}

/// What the permission table (`domain::authz`) must allow for a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requires {
    /// A platform action, checked by the handler's extractor.
    Platform(Action),
    /// An action on the project named in the path, checked by the use case
    /// (the platform part by the extractor).
    Project(ProjectAction),
    /// An action on the workload (container or job) named in the path,
    /// checked by the use case (the platform part by the extractor):
    /// someone who may not see the workload is told it does not exist.
    Workload(WorkloadAction),
}

/// One row of the route table: the routes are mounted from these rows, and
/// the authorization test walks the same rows, so a route cannot exist
/// without saying what it requires.
pub struct RouteDef {
    pub verb: Verb,
    /// The actix path pattern, e.g. `/projects/{id}/edit`.
    pub path: &'static str,
    pub requires: Requires,
    handler: fn() -> actix_web::Route,
}

/// A [`RouteDef`]: `route!(Get paths::PROFILE, WORKSPACE => get_profile)`.
macro_rules! route {
    ($verb:ident $path:expr, $requires:expr => $handler:expr) => {
        $crate::web::routes::RouteDef::new(
            $crate::web::routes::Verb::$verb,
            $path,
            $requires,
            || $crate::web::routes::Verb::$verb.route().to($handler),
        )
    };
}
use route;

impl Verb {
    /// The method a request for the route is made with (GET stands for
    /// `Any`).
    pub fn method(self) -> actix_web::http::Method {
        match self {
            Verb::Get | Verb::Any => actix_web::http::Method::GET,
            Verb::Post => actix_web::http::Method::POST,
        }
    }

    fn route(self) -> actix_web::Route {
        match self {
            Verb::Any => actix_web::web::route(),
            verb => actix_web::web::method(verb.method()),
        }
    }
}

impl RouteDef {
    pub const fn new(
        verb: Verb,
        path: &'static str,
        requires: Requires,
        handler: fn() -> actix_web::Route,
    ) -> RouteDef {
        RouteDef {
            verb,
            path,
            requires,
            handler,
        }
    }
}

/// Anyone: the login page, health checks, assets.
const PUBLIC: Requires = Requires::Platform(Action::UsePublicPages);
/// A signed-in user.
const WORKSPACE: Requires = Requires::Platform(Action::UseWorkspace);
/// A platform admin.
const ADMIN: Requires = Requires::Platform(Action::Administer);

/// Every route, in the order it is mounted (a fixed path before a pattern
/// that would also match it).
pub fn table() -> Vec<RouteDef> {
    [
        ops::routes(),
        auth::routes(),
        account::routes(),
        admin::routes(),
        projects::routes(),
        catalog::routes(),
        // `/containers/new` before `/containers/{id}`.
        containers_new::routes(),
        containers::routes(),
        key_pairs::routes(),
        terminal::routes(),
        images::routes(),
        proxy::routes(),
        storage::routes(),
        cost::routes(),
        // `/jobs/new` and `/jobs/schedules/...` before `/jobs/{id}`.
        jobs_new::routes(),
        job_schedules::routes(),
        job_templates::routes(),
        areas::routes(),
        jobs::routes(),
        metrics::routes(),
        emails::routes(),
        audit::routes(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    for route in table() {
        cfg.route(route.path, (route.handler)());
    }
}

/// Every unknown route.
pub async fn not_found() -> Result<HttpResponse, WebError> {
    Err(WebError::NotFound)
}

/// A delete form: its dialog's `confirm=yes`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct ConfirmForm {
    confirm: String,
}

/// One page of a list whose items are all read: the page asked for
/// (1-based, as typed; clamped into range), the page count and the total.
struct Paged<T> {
    items: Vec<T>,
    page: usize,
    pages: usize,
    total: usize,
}

fn paged<T>(items: Vec<T>, asked: &str, size: usize) -> Paged<T> {
    let total = items.len();
    let pages = total.div_ceil(size).max(1);
    let page = asked.parse::<usize>().unwrap_or(1).clamp(1, pages);
    let items = items
        .into_iter()
        .skip((page - 1) * size)
        .take(size)
        .collect();
    Paged {
        items,
        page,
        pages,
        total,
    }
}

/// The message for a list's name search longer than a name may be: such a
/// search is not run and finds nothing.
fn name_search_error(tr: &Tr<'_>, typed: &str) -> Option<String> {
    (typed.chars().count() > NAME_MAX)
        .then(|| tr.f("job.search_too_long", &[("max", &NAME_MAX.to_string())]))
}

/// The items whose name contains the search (names are lowercase), by name.
fn found_by_name<T>(mut items: Vec<T>, typed: &str, name: impl Fn(&T) -> &str) -> Vec<T> {
    let needle = typed.to_lowercase();
    items.retain(|item| name(item).contains(&needle));
    items.sort_by(|a, b| name(a).cmp(name(b)));
    items
}

/// An HTML page with the given status.
fn html(status: actix_web::http::StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(markup.into_string())
}

fn ok(markup: Markup) -> HttpResponse {
    html(actix_web::http::StatusCode::OK, markup)
}

/// A form re-rendered because its input was refused.
fn unprocessable(markup: Markup) -> HttpResponse {
    html(actix_web::http::StatusCode::UNPROCESSABLE_ENTITY, markup)
}
