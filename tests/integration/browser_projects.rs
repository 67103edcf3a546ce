//! The projects journey in headless Chromium, in English and again in
//! Traditional Chinese: a member applies for a project, the admin approves
//! it with a quota, the member selects it in the header, applies for a
//! period extension and for more quota, and the admin approves both.
//! Needs the Debian packages `chromium` and `chromium-driver` (the tests
//! fail without them).

use jiff::civil::Date;
use serde_json::json;

use crate::common::TestApp;
use crate::common::browser::{Browser, ESCAPE, TAB};

/// Every label the journey reads or clicks, in one language.
struct Labels {
    /// The user-menu entry that switches to this language (None: English,
    /// the browser's own language, needs no switch).
    switch_to: Option<&'static str>,
    html_lang: &'static str,
    project_name: &'static str,
    description: &'static str,
    nav_projects: &'static str,
    nav_reviews: &'static str,
    nav_detail: &'static str,
    nav_queue: &'static str,
    nav_outbox: &'static str,
    create: &'static str,
    submit: &'static str,
    applied: &'static str,
    reviewing: &'static str,
    active: &'static str,
    kind_project: &'static str,
    kind_extension: &'static str,
    kind_quota: &'static str,
    detail: &'static str,
    approve: &'static str,
    approved: &'static str,
    queue_empty: &'static str,
    switch: &'static str,
    extension_applied: &'static str,
    quota_applied: &'static str,
    extended: &'static str,
    next_start: &'static str,
    next_end: &'static str,
    approved_status: &'static str,
    reason: &'static str,
    buffer: &'static str,
    released: &'static str,
}

const ENGLISH: Labels = Labels {
    switch_to: None,
    html_lang: "en",
    project_name: "Vision Lab",
    description: "Image models for the robotics course.",
    nav_projects: "Project List",
    nav_reviews: "Project Review List",
    nav_detail: "Project Detail",
    nav_queue: "Review Queue",
    nav_outbox: "Mail Outbox",
    create: "+ Create project",
    submit: "Submit application",
    applied: "Your application was submitted.",
    reviewing: "Reviewing",
    active: "Active",
    kind_project: "Project Application",
    kind_extension: "Period Extension",
    kind_quota: "GPU Quota Application",
    detail: "Detail",
    approve: "Approve",
    approved: "The application was approved and the applicant notified.",
    queue_empty: "No application is waiting for review.",
    switch: "Switch",
    extension_applied: "Your period extension application was submitted.",
    quota_applied: "Your quota application was submitted.",
    extended: "Extended",
    next_start: "Next Start Time",
    next_end: "Next End Time",
    approved_status: "Approved",
    reason: "more students",
    buffer: "Buffer Period",
    released: "Released",
};

const CHINESE: Labels = Labels {
    switch_to: Some("繁體中文"),
    html_lang: "zh-TW",
    project_name: "視覺實驗室",
    description: "機器人課程的影像模型。",
    nav_projects: "專案列表",
    nav_reviews: "專案審核列表",
    nav_detail: "專案詳情",
    nav_queue: "審核佇列",
    nav_outbox: "郵件寄件匣",
    create: "+ 建立專案",
    submit: "送出申請",
    applied: "申請已送出",
    reviewing: "審核中",
    active: "進行中",
    kind_project: "專案申請",
    kind_extension: "期限延長",
    kind_quota: "GPU 配額申請",
    detail: "詳細資料",
    approve: "核准",
    approved: "申請已核准，並已通知申請人。",
    queue_empty: "目前沒有待審核的申請。",
    switch: "切換",
    extension_applied: "期限延長申請已送出。",
    quota_applied: "配額申請已送出。",
    extended: "已延長",
    next_start: "下期開始時間",
    next_end: "下期結束時間",
    approved_status: "已核准",
    reason: "學生變多",
    buffer: "緩衝期",
    released: "已釋放",
};

fn date(text: &str) -> Date {
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("not a date: {text:?} ({e})"))
}

fn days(d: Date, n: i64) -> Date {
    d.checked_add(jiff::Span::new().days(n))
        .expect("date in range")
}

/// Logs in and, for Chinese, switches the account's language in the user
/// menu.
async fn log_in(b: &Browser, username: &str, password: &str, l: &Labels) {
    b.log_in(username, password).await;
    // A member whose Cloud Provisioning has not passed lands there.
    let landed = b.path().await;
    assert!(
        landed == "/" || landed == "/advanced/cloud-provisioning",
        "{username} is logged in: {landed}"
    );
    if let Some(label) = l.switch_to {
        b.user_menu(label).await;
    }
    assert_eq!(b.html_attr("lang").await.as_deref(), Some(l.html_lang));
}

/// The admin approves the only application waiting in the review queue
/// (filling the project quota when the form asks for it).
async fn approve_the_only_application(m: &Browser, l: &Labels, kind: &str, quota: bool) {
    m.follow(l.nav_queue).await;
    assert_eq!(m.path().await, "/admin/reviews");
    let reviews = m
        .execute(
            "return document.querySelectorAll('article.review').length;",
            vec![],
        )
        .await;
    assert_eq!(reviews, json!(1), "one application waits");
    let heading = m.text_of("article.review h2").await;
    assert!(
        heading.contains(kind),
        "the queue names the kind {kind:?}: {heading}"
    );
    if quota {
        m.fill_in("form[action$='/approve'] input[name='gpu']", "3")
            .await;
        m.fill_in("form[action$='/approve'] input[name='cpu']", "16")
            .await;
        m.fill_in("form[action$='/approve'] input[name='ram']", "64")
            .await;
        m.fill_in("form[action$='/approve'] input[name='storage']", "500")
            .await;
    } else {
        assert!(
            !m.exists("form[action$='/approve'] input[name='gpu']").await,
            "only a project application asks for a quota"
        );
    }
    let approve = m.find_text("button", l.approve).await;
    m.click_and_wait(&approve, "the queue after approving")
        .await;
    assert_eq!(m.path().await, "/admin/reviews?done=approve");
    let text = m.text().await;
    assert!(text.contains(l.approved), "approved notice: {text}");
    assert!(text.contains(l.queue_empty), "the queue is empty: {text}");
    assert!(!m.exists("article.review").await);
}

/// The text of the project card's fact labelled `label`.
async fn card_fact(b: &Browser, label: &str) -> String {
    b.execute(
        "var want = arguments[0]; \
         var dts = Array.from(document.querySelectorAll('.project-card .facts dt')); \
         var dt = dts.find(function (d) { return d.textContent.trim() === want; }); \
         return dt ? dt.nextElementSibling.innerText.trim() : null;",
        vec![json!(label)],
    )
    .await
    .as_str()
    .map(str::to_owned)
    .unwrap_or_else(|| panic!("no fact {label:?} on the card"))
}

/// The Resource Quota table's row for GPU units: [in use, quota, available].
async fn gpu_quota_row(b: &Browser) -> Vec<String> {
    let cells = b
        .execute(
            "var row = document.querySelector('section[aria-labelledby=\"quota\"] tbody tr'); \
             return row ? Array.from(row.cells).map(function (c) { return c.textContent.trim(); }) : [];",
            vec![],
        )
        .await;
    cells
        .as_array()
        .map(|a| {
            a.iter()
                .skip(1)
                .map(|v| v.as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The text of the detail pane's value labelled `label`.
async fn pane_fact(b: &Browser, label: &str) -> Option<String> {
    b.execute(
        "var want = arguments[0]; \
         var pane = document.getElementById('detail-title'); \
         if (!pane) { return null; } \
         var dts = Array.from(pane.parentElement.querySelectorAll('dt')); \
         var dt = dts.find(function (d) { return d.textContent.trim() === want; }); \
         return dt ? dt.nextElementSibling.textContent.trim() : null;",
        vec![json!(label)],
    )
    .await
    .as_str()
    .map(str::to_owned)
}

async fn journey(l: &Labels) {
    let app = TestApp::start();
    let (_alice_http, alice_password) = app.member("alice").await;
    let (_bob_http, _) = app.member("bob").await;

    // 1. Alice applies for a project with bob as a member.
    let a = Browser::start(&app.url).await;
    log_in(&a, "alice", &alice_password, l).await;
    a.follow(l.nav_projects).await;
    assert_eq!(a.path().await, "/projects");
    a.follow(l.create).await;
    assert_eq!(a.path().await, "/projects/new");
    let start = date(&a.value_of("#f-start").await);
    let end = days(start, 30);
    a.fill("f-name", l.project_name).await;
    a.set_value("#f-end", &end.to_string()).await;
    a.fill("f-description", l.description).await;
    assert_eq!(
        a.value_of("#f-manager").await,
        "alice",
        "the applicant is filled in as a manager"
    );
    // Typing two letters of a name brings suggestions from the user search.
    a.fill("f-member", "bo").await;
    a.wait_until(
        "bob among the suggestions",
        "return Array.from(document.querySelectorAll('#user-matches option')).some(function (o) { return o.value === 'bob'; });",
        vec![],
    )
    .await;
    a.fill("f-member", "bob").await;
    let submit = a.find_text("button", l.submit).await;
    a.click_and_wait(&submit, "the Project List after applying")
        .await;
    assert_eq!(a.path().await, "/projects?applied=1");
    let text = a.text().await;
    assert!(text.contains(l.applied), "submitted notice: {text}");
    let card = a.text_of(".project-card").await;
    assert!(card.contains(l.project_name), "{card}");
    assert_eq!(
        a.text_of(".project-card .card-head .badge").await,
        l.reviewing
    );
    let project_path = a
        .execute(
            "return document.querySelector('.project-card h2 a').getAttribute('href');",
            vec![],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(project_path.starts_with("/projects/"), "{project_path}");

    // 2. The Project Review List shows the application and its detail.
    a.follow(l.nav_reviews).await;
    assert_eq!(a.path().await, "/projects/reviews");
    let rows = a.text_of("table.selectable tbody").await;
    assert!(
        rows.contains(l.project_name) && rows.contains(l.kind_project),
        "{rows}"
    );
    assert_eq!(a.text_of("#detail-title").await, l.detail);
    assert_eq!(
        a.text_of("table.selectable tbody tr[aria-selected='true'] .badge")
            .await,
        l.reviewing
    );
    let pane = a.text_of("section[aria-labelledby='detail-title']").await;
    assert!(
        pane.contains(l.project_name) && pane.contains("alice"),
        "{pane}"
    );

    // 3. The admin approves it with a quota; alice gets a mail.
    let m = Browser::start(&app.url).await;
    log_in(&m, "admin", &app.admin_password, l).await;
    approve_the_only_application(&m, l, l.kind_project, true).await;
    m.follow(l.nav_outbox).await;
    assert_eq!(m.path().await, "/admin/outbox");
    let to = m
        .execute(
            "return Array.from(document.querySelectorAll('table tbody tr')).map(function (r) { return r.cells[1].textContent.trim(); });",
            vec![],
        )
        .await;
    assert_eq!(to, json!(["alice"]), "one mail, to alice");

    // 4. Alice sees it Active with its quota and selects it in the header.
    a.follow(l.nav_projects).await;
    assert_eq!(a.text_of(".project-card .card-head .badge").await, l.active);
    let gpu_label = a.text_of(".project-card .facts dt:nth-of-type(5)").await;
    assert_eq!(card_fact(&a, &gpu_label).await, "0 / 3");
    assert!(
        a.exists("form.project-selector select[name='project']")
            .await
    );
    let option = format!(
        "form.project-selector option[value='{}']",
        &project_path["/projects/".len()..]
    );
    if l.switch_to.is_none() {
        // With script: choosing the project submits the form.
        let choice = a.find(&option).await;
        a.click_and_wait(&choice, "the page after choosing a project")
            .await;
    } else {
        // Without relying on script: choose, then press Switch.
        a.execute(
            "var o = document.querySelector(arguments[0]); o.selected = true; return true;",
            vec![json!(option)],
        )
        .await;
        let switch = a.find_text("button", l.switch).await;
        a.click_and_wait(&switch, "the page after Switch").await;
    }
    assert_eq!(
        a.path().await,
        "/projects",
        "the selector returns to the page"
    );
    assert_eq!(
        a.value_of("form.project-selector select[name='project']")
            .await,
        project_path["/projects/".len()..],
        "the header shows the chosen project"
    );
    a.follow(l.nav_detail).await;
    assert_eq!(a.path().await, project_path);
    assert_eq!(a.text_of("main h1").await, l.project_name);

    // 5. A period extension of 7 days, approved: the end moves and is marked.
    let old_end = end;
    a.fill_in("form[action$='/extension'] input[name='days']", "7")
        .await;
    a.submit(
        "form[action$='/extension'] button[type='submit']",
        "Project Detail after applying for an extension",
    )
    .await;
    assert_eq!(a.path().await, format!("{project_path}?done=extension"));
    assert!(a.text().await.contains(l.extension_applied));
    approve_the_only_application(&m, l, l.kind_extension, false).await;
    a.follow(l.nav_detail).await;
    let new_end = days(old_end, 7);
    let general = a.text_of("section[aria-labelledby='general'] .facts").await;
    assert!(
        general.contains(&new_end.strftime("%Y/%m/%d").to_string()),
        "the new end {new_end} is shown: {general}"
    );
    assert!(
        !general.contains(&old_end.strftime("%Y/%m/%d").to_string()),
        "{general}"
    );
    assert_eq!(a.text_of(".facts .extended-mark").await, l.extended);
    a.follow(l.nav_reviews).await;
    let link = a
        .execute(
            "var want = arguments[0]; \
             var rows = Array.from(document.querySelectorAll('table.selectable tbody tr')); \
             var r = rows.find(function (r) { return r.cells[3].textContent.trim() === want; }); \
             return r ? r.querySelector('a').getAttribute('href') : null;",
            vec![json!(l.kind_extension)],
        )
        .await;
    let link = link.as_str().expect("a row for the extension").to_owned();
    // A click anywhere on the row (here its Type cell) selects it.
    let cell = a.find_text("td", l.kind_extension).await;
    a.click_and_wait(&cell, "the review list with the extension selected")
        .await;
    assert_eq!(a.path().await, link);
    assert_eq!(
        pane_fact(&a, l.next_start).await.as_deref(),
        Some(
            format!(
                "{} 00:00 (Asia/Taipei)",
                days(old_end, 1).strftime("%Y/%m/%d")
            )
            .as_str()
        )
    );
    assert_eq!(
        pane_fact(&a, l.next_end).await.as_deref(),
        Some(format!("{} 23:59 (Asia/Taipei)", new_end.strftime("%Y/%m/%d")).as_str())
    );
    let status = a
        .text_of("section[aria-labelledby='detail-title'] .badge")
        .await;
    assert_eq!(status, l.approved_status);

    // 6. More quota: 0.5 GPU, approved: 3.5 in all.
    a.goto(&project_path).await;
    a.fill_in("form[action$='/quota'] input[name='gpu']", "0.5")
        .await;
    a.fill_in("form[action$='/quota'] input[name='reason']", l.reason)
        .await;
    a.submit(
        "form[action$='/quota'] button[type='submit']",
        "Project Detail after applying for quota",
    )
    .await;
    assert_eq!(a.path().await, format!("{project_path}?done=quota"));
    assert!(a.text().await.contains(l.quota_applied));
    approve_the_only_application(&m, l, l.kind_quota, false).await;
    a.follow(l.nav_detail).await;
    assert_eq!(gpu_quota_row(&a).await, ["0", "3.5", "3.5"]);
    a.follow(l.nav_projects).await;
    assert_eq!(card_fact(&a, &gpu_label).await, "0 / 3.5");

    // 7. Time passes: past the (extended) end the project is in its buffer
    // period, and when the buffer ends it is released. The lifecycle sweep
    // runs as the worker would; sessions idle out over the days, so alice
    // logs in again.
    app.advance(jiff::SignedDuration::from_hours(24 * 38));
    app.services().sweep_lifecycle().await.expect("sweep");
    log_in(&a, "alice", &alice_password, l).await;
    a.follow(l.nav_projects).await;
    assert_eq!(a.text_of(".project-card .card-head .badge").await, l.buffer);
    assert!(
        a.exists(".project-card .warning-mark").await,
        "the buffer period is marked"
    );
    app.advance(jiff::SignedDuration::from_hours(24 * 15));
    app.services().sweep_lifecycle().await.expect("sweep");
    log_in(&a, "alice", &alice_password, l).await;
    a.follow(l.nav_projects).await;
    assert_eq!(
        a.text_of(".project-card .card-head .badge").await,
        l.released
    );

    m.close().await;
    a.close().await;
}

#[tokio::test]
async fn a_project_is_applied_for_approved_selected_extended_and_given_more_quota() {
    journey(&ENGLISH).await;
}

#[tokio::test]
async fn the_project_journey_in_traditional_chinese() {
    journey(&CHINESE).await;
}

// ---------------------------------------------------------------------------
// Screenshots of the project and administration pages, for a person to look
// at (not a check): run with
// `cargo test --test integration browser_projects::screenshots -- --ignored`;
// the PNGs go to `$MLSTACK_SHOTS` (default `/tmp/shots-projects`).

/// Today on the platform's calendar at the test clock's start (2026-11-29
/// 08:00 UTC is the afternoon of the same day in Asia/Taipei).
fn today() -> Date {
    jiff::civil::date(2026, 11, 29)
}

fn day(offset: i64) -> String {
    days(today(), offset).to_string()
}

/// Every 36-character id that follows `before` in `body`.
fn ids_after(body: &str, before: &str) -> Vec<String> {
    body.match_indices(before)
        .filter_map(|(at, _)| body.get(at + before.len()..at + before.len() + 36))
        .filter(|id| id.as_bytes().get(8) == Some(&b'-'))
        .map(str::to_owned)
        .collect()
}

async fn apply_http(client: &crate::common::Client, name: &str, start: &str, end: &str) {
    let page = client
        .post_form(
            "/projects/new",
            &[
                ("name", name),
                ("start", start),
                ("end", end),
                ("description", "A study of how far a small model can go."),
                ("manager", "alice"),
                ("member", "bob"),
                ("member", "carol"),
            ],
        )
        .await;
    assert_eq!(page.status, reqwest::StatusCode::SEE_OTHER, "{}", page.body);
}

/// The id of the queued application for project `name`.
async fn queued(admin: &crate::common::Client, name: &str) -> String {
    let page = admin.get("/admin/reviews").await;
    let at = page
        .body
        .find(&format!(">{name} · "))
        .unwrap_or_else(|| panic!("{name} is in the queue"));
    ids_after(&page.body[at..], "action=\"/admin/reviews/")
        .into_iter()
        .next()
        .expect("an application id")
}

async fn decide(admin: &crate::common::Client, id: &str, decision: &str, fields: &[(&str, &str)]) {
    let page = admin
        .post_form(&format!("/admin/reviews/{id}/{decision}"), fields)
        .await;
    assert_eq!(page.status, reqwest::StatusCode::SEE_OTHER, "{}", page.body);
}

/// Projects in every status, pending applications of every kind, mails and
/// a small catalog.
async fn seed(app: &TestApp) -> String {
    let (alice, alice_password) = app.member("alice").await;
    app.member("bob").await;
    app.member("carol").await;
    let admin = app.admin().await;

    apply_http(&alice, "Vision Lab", &day(0), &day(60)).await;
    let id = queued(&admin, "Vision Lab").await;
    decide(
        &admin,
        &id,
        "approve",
        &[
            ("gpu", "3"),
            ("cpu", "16"),
            ("ram", "64"),
            ("storage", "500"),
        ],
    )
    .await;
    apply_http(&alice, "Robot Arm Control", &day(0), &day(20)).await;
    let id = queued(&admin, "Robot Arm Control").await;
    decide(
        &admin,
        &id,
        "approve",
        &[
            ("gpu", "1.5"),
            ("cpu", "8"),
            ("ram", "32"),
            ("storage", "100"),
        ],
    )
    .await;
    apply_http(&alice, "Old Survey", &day(1), &day(9)).await;
    let id = queued(&admin, "Old Survey").await;
    decide(
        &admin,
        &id,
        "decline",
        &[("remark", "Please apply with a clearer plan.")],
    )
    .await;
    apply_http(
        &alice,
        "Speech Corpus with a rather long project name",
        &day(2),
        &day(90),
    )
    .await;

    // Robot Arm Control: ended yesterday, so in its buffer period.
    let all = admin.get("/admin/projects").await;
    let at = all
        .body
        .find(">Robot Arm Control<")
        .expect("Robot Arm Control");
    let robot = ids_after(&all.body[at..], "action=\"/admin/projects/")[0].clone();
    let page = admin
        .post_form(
            &format!("/admin/projects/{robot}/revise"),
            &[
                ("gpu", "1.5"),
                ("cpu", "8"),
                ("ram", "32"),
                ("storage", "100"),
                ("start", &day(-30)),
                ("end", &day(-1)),
            ],
        )
        .await;
    assert_eq!(page.status, reqwest::StatusCode::SEE_OTHER, "{}", page.body);

    // Vision Lab: extended once, then an extension and a quota application
    // waiting.
    let list = alice.get("/projects").await;
    let at = list.body.find(">Vision Lab<").expect("Vision Lab");
    let vision = ids_after(&list.body[..at], "href=\"/projects/")
        .pop()
        .expect("Vision Lab's id");
    let page = alice
        .post_form(
            &format!("/projects/{vision}/extension"),
            &[("days", "7"), ("reason", "Exams moved.")],
        )
        .await;
    assert_eq!(page.status, reqwest::StatusCode::SEE_OTHER, "{}", page.body);
    let id = queued(&admin, "Vision Lab").await;
    decide(&admin, &id, "approve", &[("remark", "Fine.")]).await;
    let page = alice
        .post_form(
            &format!("/projects/{vision}/extension"),
            &[
                ("days", "14"),
                ("reason", "The course runs two weeks longer."),
            ],
        )
        .await;
    assert_eq!(page.status, reqwest::StatusCode::SEE_OTHER, "{}", page.body);
    let page = alice
        .post_form(
            &format!("/projects/{vision}/quota"),
            &[
                ("gpu", "0.5"),
                ("cpu", "4"),
                ("ram", "8"),
                ("reason", "more students"),
            ],
        )
        .await;
    assert_eq!(page.status, reqwest::StatusCode::SEE_OTHER, "{}", page.body);
    let page = alice
        .post_form(&format!("/projects/{vision}/select"), &[])
        .await;
    let _ = page;
    let page = alice
        .post_form(
            "/projects/select",
            &[("project", &vision), ("next", "/projects")],
        )
        .await;
    assert_eq!(page.status, reqwest::StatusCode::SEE_OTHER, "{}", page.body);

    // The catalog: a GPU type, two specs, an image, a storage type, a purpose.
    let gpu = "/admin/catalog/gpu-types";
    admin
        .post_form(
            gpu,
            &[
                ("name", "Tesla P4"),
                ("resource_name", "nvidia.com/gpu.shared"),
                ("sharing", "time_sliced"),
                ("node_selector", "nvidia.com/gpu.product=Tesla-P4"),
                ("memory_gb", "8"),
                ("allowed_counts", "1,2,4,8"),
                ("price", "0.5"),
            ],
        )
        .await;
    admin
        .post_form(
            gpu,
            &[
                ("name", "A100 80GB"),
                ("resource_name", "nvidia.com/gpu"),
                ("sharing", "whole"),
                ("memory_gb", "80"),
                ("allowed_counts", "1,2,4"),
                ("price", "12"),
            ],
        )
        .await;
    let page = admin.get(gpu).await;
    let at = page.body.find(">Tesla P4</a>").expect("Tesla P4 row");
    let p4 = page.body[..at]
        .rsplit("/admin/catalog/gpu-types/")
        .next()
        .and_then(|rest| rest.split('"').next())
        .expect("the P4 id")
        .to_owned();
    let specs = "/admin/catalog/hardware-specs";
    for (name, cpu, ram, gpu_type, price) in [
        ("p4.small.2g", "2", "4", p4.as_str(), "1.25"),
        ("cpu.medium", "4", "8", "", "0.8"),
    ] {
        admin
            .post_form(
                specs,
                &[
                    ("name", name),
                    ("cpu_cores", cpu),
                    ("ram_gb", ram),
                    ("gpu_type", gpu_type),
                    ("price", price),
                ],
            )
            .await;
    }
    admin
        .post_form(
            "/admin/catalog/images",
            &[
                ("name", "pytorch/pytorch"),
                ("versions", "2.4.0-cuda12.1\nlatest"),
                ("ssh_login", "key_pair"),
                (
                    "services",
                    "jupyterlab 8888 http JupyterLab\nssh 22 tcp\nwebterminal 7681 http",
                ),
                ("local_commands", "jupyterlab: jupyter lab --port=8888"),
            ],
        )
        .await;
    admin
        .post_form(
            "/admin/catalog/storage-types",
            &[
                ("name", "NFS"),
                ("storage_class", "nfs-client"),
                ("min_gib", "1"),
                ("max_gib", "500"),
            ],
        )
        .await;
    admin
        .post_form(
            "/admin/catalog/purposes",
            &[
                ("name", "Teaching"),
                ("description", "Courses: small shared GPUs."),
                ("allowed_gpu_types", &p4),
            ],
        )
        .await;
    admin
        .post_form(
            "/admin/catalog/purposes",
            &[
                ("name", "Research"),
                ("description", "Any GPU type or spec."),
            ],
        )
        .await;
    alice_password
}

/// Sets language and theme for the browser's user from the Settings page.
async fn look(b: &Browser, lang: &str, theme: &str) {
    b.goto("/account/settings").await;
    b.set_value("#f-language", lang).await;
    let radio = b
        .find(&format!(
            "input[type='radio'][name='theme'][value='{theme}']"
        ))
        .await;
    b.click_element(&radio).await;
    b.submit(
        "form[action='/account/settings'] button[type='submit']",
        "settings saved",
    )
    .await;
}

#[tokio::test]
#[ignore = "writes screenshots for visual review"]
async fn screenshots() {
    let dir = std::path::PathBuf::from(
        std::env::var("MLSTACK_SHOTS").unwrap_or_else(|_| "/tmp/shots-projects".into()),
    );
    let app = TestApp::start();
    let alice_password = seed(&app).await;
    let a = Browser::start(&app.url).await;
    a.log_in("alice", &alice_password).await;
    let m = Browser::start(&app.url).await;
    m.log_in("admin", &app.admin_password).await;
    let (w, h) = (1280, 900);
    let vision = {
        a.goto("/projects/detail").await;
        a.path().await
    };

    for lang in ["en", "zh-TW"] {
        for theme in ["light", "dark"] {
            let name = |page: &str| dir.join(format!("{page}-{lang}-{theme}.png"));
            look(&a, lang, theme).await;
            look(&m, lang, theme).await;

            a.goto("/projects").await;
            a.screenshot_page(&name("projects-cards"), w, h).await;
            a.goto("/projects?view=table").await;
            a.screenshot_page(&name("projects-table"), w, h).await;
            a.goto("/projects/new").await;
            a.fill("f-name", "").await;
            a.set_value("#f-end", &day(-3)).await;
            a.submit(
                "form[action='/projects/new'] button[type='submit']",
                "the refused form",
            )
            .await;
            a.screenshot_page(&name("project-form-errors"), w, h).await;
            a.goto(&vision).await;
            a.screenshot_page(&name("project-detail"), w, h).await;
            a.fill_in("form[action$='/extension'] input[name='days']", "999")
                .await;
            a.submit(
                "form[action$='/extension'] button[type='submit']",
                "the refused extension",
            )
            .await;
            a.screenshot_page(&name("project-detail-error"), w, h).await;
            a.goto(&vision).await;
            a.click("button[data-dialog='delete-project']").await;
            a.wait_until(
                "the delete dialog",
                "return document.querySelector('dialog[open]') !== null;",
                vec![],
            )
            .await;
            a.screenshot(&name("project-delete-dialog")).await;
            a.press(ESCAPE).await;
            a.goto("/projects/reviews").await;
            a.screenshot_page(&name("reviews"), w, h).await;
            a.goto("/advanced/cloud-provisioning").await;
            a.screenshot_page(&name("provisioning"), w, h).await;
            a.goto("/projects").await;
            a.press(TAB).await;
            a.execute(
                "document.querySelector('.toolbar a.btn.small').focus(); return true;",
                vec![],
            )
            .await;
            a.screenshot(&name("focus")).await;

            m.goto("/admin/reviews").await;
            m.screenshot_page(&name("admin-reviews"), w, h).await;
            m.goto("/admin/projects").await;
            m.screenshot_page(&name("admin-projects"), w, h).await;
            m.goto("/admin/settings").await;
            m.screenshot_page(&name("admin-settings"), w, h).await;
            m.goto("/admin/outbox").await;
            m.click("table tbody tr details summary").await;
            m.screenshot_page(&name("admin-outbox"), w, h).await;
            m.goto("/admin/catalog").await;
            m.screenshot_page(&name("catalog"), w, h).await;
            for kind in [
                "gpu-types",
                "hardware-specs",
                "images",
                "storage-types",
                "purposes",
            ] {
                m.goto(&format!("/admin/catalog/{kind}")).await;
                m.screenshot_page(&name(&format!("catalog-{kind}")), w, h)
                    .await;
            }
            m.goto("/admin/catalog/gpu-types").await;
            m.submit(
                "form[action='/admin/catalog/gpu-types'] button[type='submit']",
                "the refused GPU type",
            )
            .await;
            m.screenshot_page(&name("catalog-gpu-types-errors"), w, h)
                .await;
            m.goto("/admin/catalog/gpu-types").await;
            m.follow("Tesla P4").await;
            m.screenshot_page(&name("catalog-edit"), w, h).await;
        }
    }

    // A tablet, 820 px wide.
    look(&a, "en", "light").await;
    look(&m, "en", "light").await;
    let (w, h) = (820, 1100);
    a.resize(w, h).await;
    m.resize(w, h).await;
    for (b, page, slug) in [
        (&a, "/projects", "projects-cards"),
        (&a, "/projects?view=table", "projects-table"),
        (&a, vision.as_str(), "project-detail"),
        (&a, "/projects/reviews", "reviews"),
        (&m, "/admin/reviews", "admin-reviews"),
        (&m, "/admin/projects", "admin-projects"),
        (&m, "/admin/catalog/gpu-types", "catalog-gpu-types"),
        (&m, "/admin/outbox", "admin-outbox"),
    ] {
        b.goto(page).await;
        b.screenshot_page(&dir.join(format!("tablet-{slug}.png")), w, h)
            .await;
    }
    a.close().await;
    m.close().await;
}
