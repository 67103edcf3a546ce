//! Container Management over HTTP with cookies: the list of the current
//! project (visibility by role, search, paging), a container's tabs, its
//! live status fragment, stop, start (refused over the quota), delete with
//! its confirmation, and the 404 a teammate gets on every container route.
//! Containers are created through the use case (the create wizard is its
//! own page) and run as real sandboxed processes on the local driver.

use std::collections::BTreeMap;
use std::time::Duration;

use mlstack::domain::catalog::{Protocol, ServiceKind};
use mlstack::domain::workload::{
    ContainerSpec, ImageRef, Resources, ServiceSpec, SshAccess, WorkloadId, WorkloadMeta,
};
use mlstack::store::users::UserRecord;
use reqwest::StatusCode;

use crate::common::{Client, TestApp};
use crate::projects::{active_project, day};

const WAIT: Duration = Duration::from_secs(30);

/// The user record of `name`.
pub(crate) async fn user_record(app: &TestApp, name: &str) -> UserRecord {
    app.services()
        .list_users()
        .await
        .expect("users")
        .into_iter()
        .find(|u| u.username.as_str() == name)
        .expect("user")
}

/// `name`'s record once Cloud Provisioning has activated them (workloads
/// need it).
pub(crate) async fn activated(app: &TestApp, name: &str) -> UserRecord {
    let user = user_record(app, name).await;
    crate::common::activate(&app.services(), &user).await;
    user
}

/// A container of `project` named `name`: 1 CPU, 2 GB, with a small HTTP
/// service on loopback.
pub(crate) fn web_container(project: &str, name: &str) -> ContainerSpec {
    let mut spec = sleeper(project, name);
    spec.command = None;
    spec.resources.cpu_milli = 1000;
    spec.resources.ram_mib = 2048;
    spec.services = vec![ServiceSpec {
        name: "http".into(),
        kind: ServiceKind::Custom,
        port: 8000,
        protocol: Protocol::Http,
        local_command: Some("exec python3 -m http.server $PORT --bind 127.0.0.1".into()),
    }];
    spec
}

/// A small container that only sleeps: 0.1 CPU, 64 MB, no services.
fn sleeper(project: &str, name: &str) -> ContainerSpec {
    ContainerSpec {
        meta: WorkloadMeta {
            id: WorkloadId::generate(),
            project: project.parse().expect("project id"),
            owner: mlstack::domain::ids::UserId::generate(),
            name: name.into(),
        },
        image: ImageRef {
            name: "ubuntu".into(),
            tag: "24.04".into(),
        },
        command: Some("exec sleep 600".into()),
        env: BTreeMap::new(),
        resources: Resources {
            cpu_milli: 100,
            ram_mib: 64,
            shm_mib: 0,
            gpu: None,
        },
        volumes: Vec::new(),
        services: Vec::new(),
        ssh: SshAccess::None,
        start_at: None,
        end_at: None,
    }
}

/// Creates `spec` as `owner` through the use case; its id.
pub(crate) async fn create(app: &TestApp, owner: &UserRecord, spec: ContainerSpec) -> String {
    app.services()
        .create_container(owner, spec)
        .await
        .expect("created")
        .to_string()
}

/// The `data-state` of the status fragment.
fn state_in(fragment: &str) -> String {
    let marker = "data-state=\"";
    let at = fragment.find(marker).expect("a state") + marker.len();
    fragment[at..].split('"').next().unwrap_or("").to_owned()
}

/// Polls the status fragment until it says `want`; every state seen.
pub(crate) async fn wait_state(client: &Client, id: &str, want: &str) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut seen: Vec<String> = Vec::new();
    loop {
        let page = client.get(&format!("/containers/{id}/status")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(!page.body.contains("<html"), "a fragment, not a page");
        let state = state_in(&page.body);
        if seen.last() != Some(&state) {
            seen.push(state.clone());
        }
        if state == want {
            return seen;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not {want} in time: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The "Used" figure of a resource row in Project Detail's quota table.
pub(crate) fn used(detail: &str, resource: &str) -> String {
    let row = format!("<th scope=\"row\">{resource}</th><td>");
    let at = detail.find(&row).expect("the quota row") + row.len();
    detail[at..].split('<').next().unwrap_or("").to_owned()
}

/// How many rows the container table shows.
fn row_count(body: &str) -> usize {
    body.matches("<tr class=\"inactive\" data-state=").count()
        + body.matches("<tr data-state=").count()
}

#[tokio::test]
async fn members_see_their_own_managers_all_with_search_and_paging() {
    let app = TestApp::start();
    let (manny, _) = app.member("manny").await;
    let (mia, _) = app.member("mia").await;
    let (max, _) = app.member("max").await;
    let project = active_project(&app, &manny, "Vision", &["manny", "mia", "max"], &day(30)).await;
    let mia_user = activated(&app, "mia").await;
    let max_user = activated(&app, "max").await;

    // No project chosen yet: the page says how to choose one.
    let none = mia.get("/containers").await;
    assert_eq!(none.status, StatusCode::OK);
    assert!(none.body.contains("Choose a project"), "{}", none.body);

    for n in 1..=11 {
        create(&app, &mia_user, sleeper(&project, &format!("train{n:02}"))).await;
    }
    create(&app, &mia_user, sleeper(&project, "notebook")).await;
    create(&app, &max_user, sleeper(&project, "maxbox")).await;
    for client in [&manny, &mia, &max] {
        let detail = client.get(&format!("/projects/{project}")).await;
        assert_eq!(detail.status, StatusCode::OK);
    }

    // mia: her 12, ten on the first page, newest first.
    let first = mia.get("/containers").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert!(first.body.contains("1 - 10 of 12"), "{}", first.body);
    assert_eq!(row_count(&first.body), 10);
    assert!(first.body.contains(">notebook</a>"), "newest first");
    assert!(!first.body.contains(">train01</a>"));
    assert!(!first.body.contains("maxbox"), "not another member's");
    for column in [
        "Name",
        "Specification",
        "Operation environment",
        "Created on",
        "Owner",
        "Status",
    ] {
        assert!(first.body.contains(column), "{column}");
    }
    assert!(first.body.contains("CPU only") && first.body.contains("ubuntu:24.04"));
    assert!(
        first.body.contains("2026/11/29 16:00 (Asia/Taipei)"),
        "created on, with the zone"
    );
    assert!(first.body.contains("href=\"/containers/new\""), "Create");
    let second = mia.get("/containers?page=2").await;
    assert!(second.body.contains("11 - 12 of 12"), "{}", second.body);
    assert_eq!(row_count(&second.body), 2);
    assert!(second.body.contains(">train01</a>"));
    let past = mia.get("/containers?page=99").await;
    assert!(
        past.body.contains("11 - 12 of 12"),
        "a page past the end shows the last"
    );
    let bad_page = mia.get("/containers?page=abc").await;
    assert!(bad_page.body.contains("1 - 10 of 12"));

    // Search by name, with real counts.
    let found = mia.get("/containers?q=train0").await;
    assert!(found.body.contains("1 - 9 of 9"), "{}", found.body);
    let upper = mia.get("/containers?q=NOTE").await;
    assert!(upper.body.contains("1 - 1 of 1") && upper.body.contains(">notebook</a>"));
    let nothing = mia.get("/containers?q=zzz").await;
    assert!(
        nothing
            .body
            .contains("No container's name contains this text.")
    );
    let long = mia.get(&format!("/containers?q={}", "a".repeat(64))).await;
    assert_eq!(long.status, StatusCode::OK);
    assert!(long.body.contains("at most 63 characters"), "{}", long.body);

    // The rows alone, as the page polls them.
    let rows = mia.get("/containers?part=rows&page=2").await;
    assert!(!rows.body.contains("<html"), "{}", rows.body);
    assert_eq!(row_count(&rows.body), 2);

    // max: his own only; manny, the manager: all 13.
    let maxs = max.get("/containers").await;
    assert!(maxs.body.contains("1 - 1 of 1") && maxs.body.contains(">maxbox</a>"));
    assert!(!maxs.body.contains("notebook"));
    let all = manny.get("/containers?page=2").await;
    assert!(all.body.contains("11 - 13 of 13"), "{}", all.body);
    let all = manny.get("/containers").await;
    assert!(all.body.contains(">maxbox</a>") && all.body.contains("<td>max</td>"));

    // Project Detail lists the containers the viewer may see; the counts
    // are the project's.
    let detail = manny.get(&format!("/projects/{project}")).await;
    assert!(
        detail.body.contains("The newest 10 of 13"),
        "{}",
        detail.body
    );
    assert!(
        detail.body.contains("Containers</dt><dd>13</dd>"),
        "{}",
        detail.body
    );
    assert!(detail.body.contains(">maxbox</a>") && !detail.body.contains(">train01</a>"));
    let detail = max.get(&format!("/projects/{project}")).await;
    assert!(detail.body.contains(">maxbox</a>") && !detail.body.contains(">train01</a>"));
}

#[tokio::test]
async fn a_container_goes_live_stops_starts_and_is_deleted() {
    let app = TestApp::start();
    let (manny, _) = app.member("manny").await;
    let (mia, _) = app.member("mia").await;
    let project = active_project(&app, &manny, "Vision", &["manny", "mia"], &day(30)).await;
    let mia_user = activated(&app, "mia").await;
    assert_eq!(
        mia.get(&format!("/projects/{project}")).await.status,
        StatusCode::OK
    );
    let id = create(&app, &mia_user, web_container(&project, "web")).await;

    // The status fragment follows it from Creating to Running.
    let seen = wait_state(&mia, &id, "running").await;
    assert_eq!(
        seen.first().map(String::as_str),
        Some("creating"),
        "{seen:?}"
    );
    let list = mia.get("/containers").await;
    assert!(
        list.body.contains("<tr data-state=\"running\">"),
        "{}",
        list.body
    );
    assert!(list.body.contains("/containers.js"), "the page polls");

    // Deployment Detail.
    let detail = mia.get(&format!("/containers/{id}")).await;
    assert_eq!(detail.status, StatusCode::OK);
    for text in [
        "Deployment Detail",
        "Deployment ID",
        &id,
        "ubuntu:24.04",
        "1 CPU + 2.0 GB RAM",
        "Not set (the runtime",
        "None (runs until stopped or deleted)",
        "only through mlstack",
        "2026/11/29 16:00 (Asia/Taipei)",
        "data-poll-status=\"/containers/",
    ] {
        assert!(detail.body.contains(text), "{text}: {}", detail.body);
    }
    // Services: the HTTP service through mlstack, the web terminal.
    let services = mia.get(&format!("/containers/{id}?tab=services")).await;
    assert!(
        services
            .body
            .contains(&format!("href=\"/containers/{id}/services/http/\"")),
        "{}",
        services.body
    );
    assert!(
        services
            .body
            .contains(&format!("href=\"/containers/{id}/terminal\""))
    );
    // Monitor: no invented data (nothing was measured: empty charts).
    let monitor = mia.get(&format!("/containers/{id}?tab=monitor")).await;
    assert!(monitor.body.contains("Nothing measured in this interval"));
    assert!(!monitor.body.contains("chart-line"));

    let vision = format!("/projects/{project}");
    assert_eq!(used(&manny.get(&vision).await.body, "CPU cores"), "1");

    // Stop: Stopped, the hold released, the services gone from the tab.
    let stop = mia
        .post_form(&format!("/containers/{id}/stop"), &[("next", "detail")])
        .await;
    assert_eq!(stop.status, StatusCode::SEE_OTHER, "{}", stop.body);
    assert_eq!(
        stop.location(),
        Some(format!("/containers/{id}?done=stop").as_str())
    );
    assert_eq!(used(&manny.get(&vision).await.body, "CPU cores"), "0");
    wait_state(&mia, &id, "stopped").await;
    let services = mia.get(&format!("/containers/{id}?tab=services")).await;
    assert!(!services.body.contains("/services/http/"));
    assert!(services.body.contains("while the container is Running"));
    let list = mia.get("/containers").await;
    assert!(
        list.body
            .contains("<tr class=\"inactive\" data-state=\"stopped\">"),
        "greyed: {}",
        list.body
    );
    assert!(
        list.body.contains("aria-disabled=\"true\">Services"),
        "disabled"
    );

    // Events, newest first, translated in both languages.
    let events = mia.get(&format!("/containers/{id}?tab=events")).await;
    let stop_at = events.body.find("Stop requested").expect("the stop");
    let created_at = events.body.find("Created").expect("the creation");
    assert!(stop_at < created_at, "newest first");
    assert!(!events.body.contains("requested by mia"), "not raw English");
    let switched = mia
        .post_form("/account/language", &[("language", "zh-TW"), ("next", "/")])
        .await;
    assert_eq!(switched.status, StatusCode::SEE_OTHER);
    let events = mia.get(&format!("/containers/{id}?tab=events")).await;
    for text in ["已要求停止", "已建立", "已停止", "事件"] {
        assert!(events.body.contains(text), "{text}: {}", events.body);
    }
    let list = mia.get("/containers").await;
    assert!(list.body.contains("已停止") && list.body.contains("僅 CPU"));
    mia.post_form("/account/language", &[("language", "en"), ("next", "/")])
        .await;

    // A bigger container takes most of the quota; starting web again is
    // refused with what is left, and changes nothing.
    let mut big = web_container(&project, "big");
    big.resources.cpu_milli = 15_500;
    big.services.clear();
    big.command = Some("exec sleep 600".into());
    let big = create(&app, &mia_user, big).await;
    let refused = mia
        .post_form(&format!("/containers/{id}/start"), &[("next", "list")])
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(
        refused.body.contains("0.5 CPU cores"),
        "what is left: {}",
        refused.body
    );
    assert_eq!(
        state_in(&mia.get(&format!("/containers/{id}/status")).await.body),
        "stopped"
    );
    // A reload of the refused address leads back to the container.
    let reload = mia.get(&format!("/containers/{id}/start")).await;
    assert_eq!(
        reload.location(),
        Some(format!("/containers/{id}").as_str())
    );

    // Deleting big: the confirmation warns, a POST without the box ticked
    // changes nothing, with it the quota is released at once.
    let confirm = mia.get(&format!("/containers/{big}/delete")).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(
        confirm.body.contains("outside mounted volumes is lost"),
        "{}",
        confirm.body
    );
    let unticked = mia
        .post_form(&format!("/containers/{big}/delete"), &[])
        .await;
    assert_eq!(unticked.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unticked.body.contains("Tick the box"));
    assert_eq!(used(&manny.get(&vision).await.body, "CPU cores"), "15.5");
    let deleted = mia
        .post_form(&format!("/containers/{big}/delete"), &[("confirm", "yes")])
        .await;
    assert_eq!(deleted.location(), Some("/containers?done=deleted"));
    assert_eq!(used(&manny.get(&vision).await.body, "CPU cores"), "0");
    let deadline = tokio::time::Instant::now() + WAIT;
    while mia.get(&format!("/containers/{big}")).await.status != StatusCode::NOT_FOUND {
        assert!(tokio::time::Instant::now() < deadline, "big is still there");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Now web starts again, from the list.
    let start = mia
        .post_form(&format!("/containers/{id}/start"), &[("next", "list")])
        .await;
    assert_eq!(start.location(), Some("/containers?done=start"));
    assert_eq!(used(&manny.get(&vision).await.body, "CPU cores"), "1");
    wait_state(&mia, &id, "running").await;

    // The manager may stop and delete a member's container too.
    let stop = manny
        .post_form(&format!("/containers/{id}/stop"), &[("next", "list")])
        .await;
    assert_eq!(stop.location(), Some("/containers?done=stop"));
    let deleted = manny
        .post_form(&format!("/containers/{id}/delete"), &[("confirm", "yes")])
        .await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    let status = mia.get(&format!("/containers/{id}/status")).await;
    if status.status == StatusCode::OK {
        assert_eq!(state_in(&status.body), "deleting");
    }
}

#[tokio::test]
async fn another_member_gets_404_on_every_container_route_and_failures_say_why() {
    let app = TestApp::start();
    let (manny, _) = app.member("manny").await;
    let (mia, _) = app.member("mia").await;
    let (max, _) = app.member("max").await;
    let project = active_project(&app, &manny, "Vision", &["manny", "mia", "max"], &day(30)).await;
    let mia_user = activated(&app, "mia").await;
    let id = create(&app, &mia_user, sleeper(&project, "private")).await;
    wait_state(&mia, &id, "running").await;
    let anonymous = app.client();

    for path in [
        format!("/containers/{id}"),
        format!("/containers/{id}?tab=events"),
        format!("/containers/{id}/status"),
        format!("/containers/{id}/delete"),
        format!("/containers/{id}/stop"),
        format!("/containers/{id}/start"),
    ] {
        assert_eq!(max.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
        let login = anonymous.get(&path).await;
        assert_eq!(login.status, StatusCode::SEE_OTHER, "{path}");
        assert!(
            login
                .location()
                .is_some_and(|l| l.starts_with("/login?next="))
        );
    }
    for (action, form) in [
        ("stop", vec![]),
        ("start", vec![]),
        ("delete", vec![("confirm", "yes")]),
    ] {
        let path = format!("/containers/{id}/{action}");
        let page = max.post_form(&path, &form).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
    }
    // Not a container id at all, or a job's: not found either.
    assert_eq!(
        mia.get("/containers/nope").await.status,
        StatusCode::NOT_FOUND
    );
    let job = mlstack::domain::workload::JobSpec {
        meta: sleeper(&project, "ajob").meta,
        image: ImageRef {
            name: "ubuntu".into(),
            tag: "24.04".into(),
        },
        command: "sleep 60".into(),
        env: BTreeMap::new(),
        resources: sleeper(&project, "x").resources,
        volumes: Vec::new(),
        time_limit_secs: None,
        origin: mlstack::domain::workload::JobOrigin::Immediately,
    };
    let job = app
        .services()
        .create_job(&mia_user, job)
        .await
        .expect("job");
    assert_eq!(
        mia.get(&format!("/containers/{job}")).await.status,
        StatusCode::NOT_FOUND
    );
    // A container whose command fails says why, in each language.
    let mut failing = sleeper(&project, "failing");
    failing.command = Some("exit 3".into());
    let failing = create(&app, &mia_user, failing).await;
    wait_state(&mia, &failing, "failed").await;
    let page = mia.get(&format!("/containers/{failing}")).await;
    assert!(
        page.body.contains("Its command ended with exit code 3"),
        "{}",
        page.body
    );
    mia.post_form("/account/language", &[("language", "zh-TW"), ("next", "/")])
        .await;
    let page = mia.get(&format!("/containers/{failing}/status")).await;
    assert!(
        page.body.contains("失敗") && page.body.contains("結束代碼 3"),
        "{}",
        page.body
    );
    // Nothing changed: still running, still mia's.
    assert_eq!(
        state_in(&mia.get(&format!("/containers/{id}/status")).await.body),
        "running"
    );
    let list = max.get("/containers").await;
    assert!(!list.body.contains("private"));
}

#[tokio::test]
async fn the_pages_follow_the_status_without_a_reload_and_delete_asks_first() {
    use crate::common::browser::Browser;
    let app = TestApp::start();
    let (manny, _) = app.member("manny").await;
    let (mia, password) = app.member("mia").await;
    let project = active_project(&app, &manny, "Vision", &["manny", "mia"], &day(30)).await;
    let mia_user = activated(&app, "mia").await;
    let id = create(&app, &mia_user, web_container(&project, "web")).await;
    wait_state(&mia, &id, "running").await;
    let services = app.services();
    let workload: WorkloadId = id.parse().expect("id");

    let b = Browser::start(&app.url).await;
    b.log_in("mia", &password).await;
    b.goto(&format!("/projects/{project}")).await;
    b.goto("/containers").await;
    b.wait_for_text("Running").await;
    b.mark_page().await;
    services
        .stop_container(&mia_user, workload)
        .await
        .expect("stop");
    b.wait_until(
        "the row greyed as Stopped",
        "return document.querySelector('tr.inactive[data-state=\"stopped\"]') !== null;",
        vec![],
    )
    .await;
    assert_eq!(
        b.execute("return window.__mlstackOldPage === true;", vec![])
            .await,
        serde_json::json!(true),
        "the same page, not reloaded"
    );

    b.goto(&format!("/containers/{id}?tab=services")).await;
    b.wait_for_text("Services can be opened while the container is Running.")
        .await;
    b.mark_page().await;
    services
        .start_container(&mia_user, workload)
        .await
        .expect("start");
    b.wait_until(
        "the status Running and the service's link",
        "return document.querySelector('[data-poll-status][data-state=\"running\"]') !== null \
         && document.querySelector('a[href$=\"/services/http/\"]') !== null;",
        vec![],
    )
    .await;
    assert_eq!(
        b.execute("return window.__mlstackOldPage === true;", vec![])
            .await,
        serde_json::json!(true),
        "the same page, not reloaded"
    );

    // Delete on the container's page: a dialog asks first (the link's
    // confirmation page is the way without a script).
    b.goto(&format!("/containers/{id}")).await;
    b.mark_page().await;
    b.click("a[data-dialog]").await;
    b.wait_until(
        "the delete dialog",
        "return document.querySelector('dialog#delete-dialog[open]') !== null;",
        vec![],
    )
    .await;
    assert_eq!(
        b.execute("return window.__mlstackOldPage === true;", vec![])
            .await,
        serde_json::json!(true),
        "a dialog, not the confirmation page"
    );
    b.check_accessibility().await;
    // Unticked, the browser refuses to send it.
    b.click("dialog#delete-dialog button.primary.danger").await;
    assert!(b.exists("dialog#delete-dialog[open]").await);
    b.click("dialog#delete-dialog input[name=confirm]").await;
    b.submit(
        "dialog#delete-dialog button.primary.danger",
        "the list after deleting",
    )
    .await;
    b.wait_for_text("Deletion requested").await;
    b.close().await;
}

#[tokio::test]
async fn a_container_waiting_for_gpus_says_which_are_missing() {
    use mlstack::domain::workload::GpuRequest;
    // No GPU on this server: a GPU container waits for one.
    let app = TestApp::start_configured(|config| {
        config.local.detect_gpus = false;
        config.local.gpus = Vec::new();
    });
    let (manny, _) = app.member("manny").await;
    let (mia, _) = app.member("mia").await;
    let project = active_project(&app, &manny, "Vision", &["manny", "mia"], &day(30)).await;
    let mia_user = activated(&app, "mia").await;
    let mut spec = sleeper(&project, "gpu");
    spec.resources.gpu = Some(GpuRequest {
        resource_name: "nvidia.com/gpu".into(),
        type_name: "T4".into(),
        node_selector: BTreeMap::new(),
        count: 2,
        units_milli: 2000,
    });
    let id = create(&app, &mia_user, spec).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let status = mia.get(&format!("/containers/{id}/status")).await;
        assert_eq!(state_in(&status.body), "creating");
        if status.body.contains("Waiting for 2 × T4") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no waiting reason: {}",
            status.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    mia.post_form("/account/language", &[("language", "zh-TW"), ("next", "/")])
        .await;
    let list = mia.get(&format!("/projects/{project}")).await;
    assert!(list.body.contains("正在等待 2 × T4"), "{}", list.body);
    let events = mia.get(&format!("/containers/{id}?tab=events")).await;
    assert!(events.body.contains("資源不足"), "{}", events.body);
}
