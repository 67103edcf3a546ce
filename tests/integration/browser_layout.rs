//! Every page at 400 px wide in headless Chromium: nothing scrolls sideways,
//! and a table wider than the screen scrolls inside its card. The pages
//! come from the router's table (every GET route that renders a page), so a
//! new page is checked too. An admin sees them in English and the light
//! theme, a project manager in Traditional Chinese and the dark theme; axe-
//! core checks each page as the browser harness opens it.
//!
//! `LAYOUT_SHOTS=<folder>` also saves a screenshot of each page.

use std::path::PathBuf;

use mlstack::domain::authz::{Role, permits, permits_project, permits_workload};
use mlstack::domain::project::ProjectRole;
use mlstack::web::routes::{Requires, Verb};
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::browser::Browser;
use crate::common::{Client, TestApp};
use crate::projects::{active_project, apply, day};

pub(crate) const WIDTH: u32 = 400;
pub(crate) const HEIGHT: u32 = 860;

/// Routes that answer something other than a page.
/// GET routes that are no page: probes, assets, the user search and the
/// schedule preview (JSON), and the GETs of POST-only addresses (each leads
/// back to its page).
const NOT_PAGES: &[&str] = &[
    // Prometheus text for scrapers, not a page.
    "/metrics",
    "/healthz",
    "/readyz",
    "/assets/{path:.*}",
    "/users/search",
    "/projects/{id}/extension",
    "/projects/{id}/quota",
    "/projects/{id}/delete",
    "/projects/{id}/caps/{user}",
    "/projects/reviews/{id}/revoke",
    "/admin/reviews/{id}/{decision}",
    "/admin/projects/{id}/{action}",
    "/admin/catalog/{kind}/{id}/{action}",
    "/containers/{id}/status",
    "/containers/{id}/stop",
    "/containers/{id}/start",
    "/advanced/key-pairs/generate",
    "/advanced/key-pairs/import",
    "/containers/{id}/terminal/ws",
    // A job's log as a text download.
    "/jobs/{id}/log",
    "/jobs/schedules/preview",
    // The audit log's exports: downloads, not pages.
    "/admin/audit/export.csv",
    "/admin/audit/export.jsonl",
];

const CATALOG_KINDS: &[&str] = &[
    "gpu-types",
    "hardware-specs",
    "images",
    "storage-types",
    "purposes",
];

/// What the page shows that does not fit: the document's overflow, and each
/// table that is wider than the viewport without a scrolling container.
pub(crate) const OVERFLOW: &str = "\
    var problems = []; \
    var doc = document.documentElement; \
    function scrolled(e) { \
      for (e = e.parentElement; e && e !== document.body; e = e.parentElement) { \
        var o = getComputedStyle(e).overflowX; \
        if (o === 'auto' || o === 'scroll' || o === 'hidden') { return true; } \
      } \
      return false; \
    } \
    if (doc.scrollWidth > window.innerWidth) { \
      var wide = Array.prototype.filter.call(document.body.querySelectorAll('*'), function (e) { \
        return e.getBoundingClientRect().right > window.innerWidth \
          && (!scrolled(e) || getComputedStyle(e).position === 'absolute'); \
      }).slice(0, 3).map(function (e) { \
        return e.tagName.toLowerCase() + (e.className ? '.' + String(e.className).split(' ').join('.') : '') \
          + ' (right edge at ' + Math.round(e.getBoundingClientRect().right) + ')'; \
      }); \
      problems.push('the page is ' + doc.scrollWidth + ' px wide in a ' + window.innerWidth \
        + ' px window; past the edge: ' + wide.join(', ')); \
    } \
    document.querySelectorAll('table').forEach(function (t, i) { \
      if (t.getBoundingClientRect().right <= window.innerWidth) { return; } \
      for (var e = t.parentElement; e && e !== document.body; e = e.parentElement) { \
        var o = getComputedStyle(e).overflowX; \
        if (o === 'auto' || o === 'scroll') { return; } \
      } \
      problems.push('table ' + i + ' (' + t.className + ') runs past the window without scrolling in its card'); \
    }); \
    return problems;";

/// The concrete pages of every GET route `role` may open, the project
/// routes as `membership` of `project`.
#[expect(
    clippy::too_many_arguments,
    reason = "one concrete id for each kind of page with a parameter"
)]
pub(crate) fn pages(
    role: Role,
    membership: Option<ProjectRole>,
    project: &str,
    purpose: &str,
    container: &str,
    order: &str,
    job: &str,
    schedule: &str,
    template: &str,
) -> Vec<String> {
    let mut pages = Vec::new();
    for route in mlstack::web::route_table() {
        if route.verb != Verb::Get || NOT_PAGES.contains(&route.path) || route.path == "/login" {
            continue;
        }
        let allowed = match route.requires {
            Requires::Platform(action) => permits(role, action),
            Requires::Project(action) => permits_project(role, membership, action),
            // The workloads these pages show are the visitor's own.
            Requires::Workload(action) => permits_workload(role, membership, true, action),
        };
        if !allowed {
            continue;
        }
        match route.path {
            "/projects/{id}" | "/projects/{id}/edit" => {
                pages.push(route.path.replace("{id}", project));
            }
            "/admin/catalog/{kind}" => pages.extend(
                CATALOG_KINDS
                    .iter()
                    .map(|kind| format!("/admin/catalog/{kind}")),
            ),
            "/containers/{id}" => pages.extend(
                ["detail", "services", "monitor", "events"]
                    .iter()
                    .map(|tab| format!("/containers/{container}?tab={tab}")),
            ),
            "/containers/{id}/delete" => pages.push(format!("/containers/{container}/delete")),
            "/containers/{id}/terminal" => pages.push(route.path.replace("{id}", container)),
            "/admin/catalog/{kind}/{id}" => {
                pages.push(format!("/admin/catalog/purposes/{purpose}"))
            }
            "/containers/{id}/image" => pages.push(format!("/containers/{container}/image")),
            "/account/orders/{id}" => pages.push(format!("/account/orders/{order}")),
            "/jobs/{id}" => pages.extend(
                ["detail", "log", "events"]
                    .iter()
                    .map(|tab| format!("/jobs/{job}?tab={tab}")),
            ),
            "/jobs/schedules/{id}" | "/jobs/schedules/{id}/edit" => {
                pages.push(route.path.replace("{id}", schedule));
            }
            "/advanced/job-templates/{id}" | "/advanced/job-templates/{id}/edit" => {
                pages.push(route.path.replace("{id}", template));
            }
            path if path.contains('{') => panic!(
                "tests/integration/browser_layout.rs: give the page {path} a concrete address in `pages`"
            ),
            path => pages.push(path.to_owned()),
        }
    }
    pages
}

/// Opens every page in `pages` (axe-core checks each) and returns what does
/// not fit in 400 px.
async fn visit(b: &Browser, who: &str, pages: &[String]) -> Vec<String> {
    let shots = std::env::var_os("LAYOUT_SHOTS").map(PathBuf::from);
    let mut problems = Vec::new();
    for path in pages {
        b.goto(path).await;
        let found = b.execute(OVERFLOW, vec![]).await;
        problems.extend(
            found
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|p| format!("{who} {path}: {p}")),
        );
        if let Some(dir) = &shots {
            let name = format!("{who}{}.png", path.replace('/', "_"));
            b.screenshot_page(&dir.join(name), WIDTH, HEIGHT).await;
        }
    }
    problems
}

/// A catalog with one item of each kind the pages list, so their tables
/// have rows.
async fn catalog(admin: &Client) -> String {
    let purpose = admin
        .post_form(
            "/admin/catalog/purposes",
            &[
                ("name", "Teaching and coursework for large classes"),
                ("description", "Courses, labs and student projects"),
            ],
        )
        .await;
    assert_eq!(purpose.status, StatusCode::OK, "{}", purpose.body);
    let marker = "/admin/catalog/purposes/";
    let at = purpose.body.find(marker).expect("the purpose's edit link") + marker.len();
    purpose.body[at..at + 36].to_owned()
}

#[tokio::test]
async fn every_page_fits_400_pixels_in_both_themes_and_languages() {
    let app = TestApp::start();
    let admin = app.admin().await;
    let (manager, password) = app.member("mona").await;
    app.member("mia").await;
    let project = active_project(
        &app,
        &manager,
        "Vision and language models for robotics",
        &["mona", "mia"],
        &day(30),
    )
    .await;
    let pending = apply(
        &manager,
        "Speech recognition for lecture recordings",
        &["mona"],
        &[],
        &day(0),
        &day(60),
    )
    .await;
    assert_eq!(pending.status, StatusCode::SEE_OTHER, "{}", pending.body);
    let purpose = catalog(&admin).await;
    // A Running container of mia's, saved as a custom image (the custom
    // image list has a row; its Create a Custom Image form is a page).
    let (container, _) = crate::authz::sample_container_and_image(&app, "mia", &project).await;
    let job = crate::authz::sample_job(&app, "mia", &project).await;
    let schedule = crate::authz::sample_schedule(&app, "mia", &project).await;
    let template = crate::authz::first_template(&app, "mia", &project).await;

    // A key pair each, so the Key Pairs table has a row in both themes.
    for client in [&admin, &manager] {
        let generated = client
            .post_form(
                "/advanced/key-pairs/generate",
                &[("name", "workstation-in-the-lab")],
            )
            .await;
        assert_eq!(generated.status, StatusCode::OK, "{}", generated.body);
    }

    // An order of mona's (a volume: it needs no process), for the order
    // detail page; the admin is told it does not exist (that page fits too).
    let services = app.services();
    let mona = services
        .list_users()
        .await
        .expect("users")
        .into_iter()
        .find(|u| u.username.as_str() == "mona")
        .expect("mona");
    let order = services
        .create_volume(
            &mona,
            mlstack::domain::workload::VolumeSpec {
                project: project.parse().expect("project id"),
                owner: mona.id,
                name: "datasets-for-the-robotics-lab".into(),
                storage_class: "standard".into(),
                size_gib: 20,
                clone_of: None,
            },
        )
        .await
        .expect("a volume")
        .to_string();
    drop(services);

    // The container wizard shows the project chosen in the selector.
    let select = manager
        .post_form(
            "/projects/select",
            &[("project", project.as_str()), ("next", "/projects")],
        )
        .await;
    assert_eq!(select.status, StatusCode::SEE_OTHER, "{}", select.body);

    let b = Browser::start(&app.url).await;
    b.resize(WIDTH, HEIGHT).await;
    let mut problems = visit(&b, "anonymous", &["/login".to_owned()]).await;

    b.log_in("admin", &app.admin_password).await;
    b.user_menu("Light").await;
    let admin_pages = pages(
        Role::Admin,
        None,
        &project,
        &purpose,
        &container,
        &order,
        &job,
        &schedule,
        &template,
    );
    problems.extend(visit(&b, "admin-en-light", &admin_pages).await);
    b.user_menu("Log out").await;

    b.log_in("mona", &password).await;
    b.user_menu("Dark").await;
    b.user_menu("繁體中文").await;
    assert_eq!(b.html_attr("lang").await.as_deref(), Some("zh-TW"));
    assert_eq!(b.html_attr("data-theme").await.as_deref(), Some("dark"));
    let manager_pages = pages(
        Role::Member,
        Some(ProjectRole::Manager),
        &project,
        &purpose,
        &container,
        &order,
        &job,
        &schedule,
        &template,
    );
    assert!(manager_pages.len() > 15, "{manager_pages:?}");
    problems.extend(visit(&b, "manager-zh-dark", &manager_pages).await);

    // The user menu, open, stays inside the window too.
    b.open_user_menu().await;
    let menu = b
        .execute(
            "var r = document.querySelector('details.user-menu .menu').getBoundingClientRect(); \
             return [r.left, r.right, window.innerWidth];",
            vec![],
        )
        .await;
    assert_eq!(menu.as_array().map(Vec::len), Some(3), "{menu}");
    assert!(
        menu[0].as_f64() >= Some(0.0) && menu[1].as_f64() <= menu[2].as_f64(),
        "the open user menu leaves the window: {menu}"
    );
    assert!(
        problems.is_empty(),
        "pages wider than {WIDTH} px: {problems:#?}"
    );
}
