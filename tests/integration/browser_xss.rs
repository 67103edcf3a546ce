//! The XSS sweep in headless Chromium: every text field a user can set is
//! filled with script and markup payloads within the field's own rules
//! (where a name rule refuses markup, that refusal is the defence and is
//! asserted), then every page of the route table is opened as the admin,
//! the project's manager and its member. On each page: no alert opens (the
//! WebDriver session would fail), no element the payloads carry exists in
//! the document (inline scripts, `img src=x`, event handler attributes,
//! `javascript:` links, frames), and Chromium reported no Content Security
//! Policy violation; on the pages that show the payloads, their text
//! appears as text.

use reqwest::StatusCode;
use serde_json::{Value, json};

use mlstack::domain::authz::Role;
use mlstack::domain::project::ProjectRole;

use crate::browser_layout::pages;
use crate::common::TestApp;
use crate::common::browser::Browser;
use crate::projects::{application_id_in, day, project_id_in};

/// Script and markup in one line: an inline script, an attribute breakout
/// with an event handler, a textarea breakout with an SVG handler, a quote
/// breakout, a `javascript:` URL and a right-to-left override.
const PAYLOAD: &str = "x<script>alert(1)</script>\"><img src=x onerror=alert(2)>\
</textarea><svg onload=alert(3)>'-alert(4)-'javascript:alert(5)\u{202e}";
/// A payload within a 64-character name rule.
const SHORT: &str = "<xss-mark>n</xss-mark>\"><img src=x onerror=alert(6)>";

/// What each page must not have: what the payloads would have put there.
const INJECTED: &str = "\
    var problems = []; \
    var css = 'script:not([src]), img[src=\"x\"], svg[onload], [onerror], [onload], \
      a[href^=\"javascript:\" i], iframe, object, embed, xss-mark'; \
    document.querySelectorAll(css).forEach(function (e) { \
      problems.push('an element the payload carries: ' + e.outerHTML.slice(0, 120)); \
    }); \
    return problems;";

/// Content Security Policy violations Chromium reported for the page
/// (buffered: those from its loading too).
const CSP_REPORTS: &str = "\
    var done = arguments[arguments.length - 1]; \
    var seen = []; \
    var text = function (r) { return r.body.effectiveDirective + ' ' + r.body.blockedURL; }; \
    try { \
      var o = new ReportingObserver(function (rs) { seen = seen.concat(rs.map(text)); }, \
        { types: ['csp-violation'], buffered: true }); \
      o.observe(); \
      setTimeout(function () { done(seen.concat(o.takeRecords().map(text))); }, 100); \
    } catch (e) { done(['no ReportingObserver: ' + e]); }";

/// A violation that is none of the payloads' doing: xterm.js (the web
/// terminal page) adds `<style>` elements of its own, which the policy's
/// `style-src 'self'` blocks. Known and left to the terminal's owners; the
/// sweep still fails on any other report on that page.
fn known_violation(path: &str, report: &str) -> bool {
    path.ends_with("/terminal") && report == "style-src-elem inline"
}

/// Opens every page in `paths` and returns what is wrong on each.
async fn sweep(b: &Browser, who: &str, paths: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    for path in paths {
        b.goto(path).await;
        let mut found: Vec<Value> = Vec::new();
        found.extend(
            b.execute(INJECTED, vec![])
                .await
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
        let reports = b.execute_async(CSP_REPORTS, vec![]).await;
        found.extend(
            reports
                .as_array()
                .into_iter()
                .flatten()
                .filter(|r| !known_violation(path, r.as_str().unwrap_or_default()))
                .cloned(),
        );
        problems.extend(
            found
                .iter()
                .filter_map(Value::as_str)
                .map(|p| format!("{who} {path}: {p}")),
        );
    }
    problems
}

/// Whether the page at `path` shows `text` as text.
async fn shows(b: &Browser, path: &str, text: &str) -> bool {
    b.goto(path).await;
    b.execute(
        "return document.body.innerText.indexOf(arguments[0]) >= 0;",
        vec![json!(text)],
    )
    .await
        == json!(true)
}

async fn user(app: &TestApp, name: &str) -> mlstack::store::users::UserRecord {
    app.services()
        .list_users()
        .await
        .expect("users")
        .into_iter()
        .find(|u| u.username.as_str() == name)
        .expect("the user")
}

/// A refused form: 422 with `message`, and the page itself carries no
/// markup of the payload.
fn refused(page: &crate::common::Page, message: &str) {
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(page.body.contains(message), "{}", page.body);
    assert!(!page.body.contains("<img src=x"), "{}", page.body);
}

#[tokio::test]
async fn payloads_in_every_text_field_stay_text_on_every_page() {
    let app = TestApp::start();
    let admin = app.admin().await;
    let (mona, mona_password) = app.member("mona").await;
    let (mia, mia_password) = app.member("mia").await;

    // Profile: names and address take any text, and so does the e-mail
    // rule (an @ and a dotted domain, no spaces); the phone rule refuses
    // markup.
    let profile = |first: &'static str, email: &'static str, phone: &'static str| {
        vec![
            ("category", "personal"),
            ("first_name", first),
            ("last_name", SHORT),
            ("email", email),
            ("address", PAYLOAD),
            ("phone", phone),
        ]
    };
    refused(
        &mona
            .post_form("/account/profile", &profile(PAYLOAD, "", "<b>1</b>"))
            .await,
        "id=\"phone-error\"",
    );
    let saved = mona
        .post_form(
            "/account/profile",
            &profile(PAYLOAD, "<script>alert(9)</script>@x.example", "+886 2"),
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);

    // A project: its name and description take any text, and so do the
    // admin's remarks (one approved, one declined).
    let apply = |name: &'static str| {
        vec![
            ("name", name.to_owned()),
            ("start", day(0)),
            ("end", day(30)),
            ("description", PAYLOAD.to_owned()),
            ("manager", "mona".to_owned()),
            ("member", "mia".to_owned()),
        ]
    };
    let mut project = String::new();
    for name in [SHORT, "declined <xss-mark>one</xss-mark>"] {
        let mut form = apply(name);
        form.push(("csrf", mona.csrf().await));
        let page = mona.send_form("/projects/new", &form).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        let application = application_id_in(&admin.get("/admin/reviews").await.body);
        let decision = if name == SHORT { "approve" } else { "decline" };
        let done = admin
            .post_form(
                &format!("/admin/reviews/{application}/{decision}"),
                &[
                    ("gpu", "3"),
                    ("cpu", "16"),
                    ("ram", "64"),
                    ("storage", "100"),
                    ("remark", PAYLOAD),
                ],
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        if project.is_empty() {
            project = project_id_in(&mona.get("/projects").await.body);
        }
    }
    mona.post_form(
        "/projects/select",
        &[("project", project.as_str()), ("next", "/projects")],
    )
    .await;

    // The catalog: a purpose's name and description take any text.
    let purpose = admin
        .post_form(
            "/admin/catalog/purposes",
            &[("name", SHORT), ("description", PAYLOAD)],
        )
        .await;
    assert_eq!(purpose.status, StatusCode::OK, "{}", purpose.body);
    let marker = "/admin/catalog/purposes/";
    let at = purpose.body.find(marker).expect("the purpose's link") + marker.len();
    let purpose = purpose.body[at..at + 36].to_owned();

    // Names with a rule of their own refuse markup: key pairs, storage.
    refused(
        &mia.post_form("/advanced/key-pairs/generate", &[("name", SHORT)])
            .await,
        "id=\"f-generate-name\"",
    );
    let storage = mia
        .post_form(
            "/storage",
            &[("project", project.as_str()), ("name", SHORT)],
        )
        .await;
    assert!(
        storage.status.is_client_error() && !storage.body.contains("<img src=x"),
        "{}: {}",
        storage.status,
        storage.body
    );

    // Workloads: a running container saved as a custom image whose
    // description is a payload, and a job whose command prints payloads
    // (its log shows them too) with one in its environment.
    let (container, _) = crate::authz::sample_container_and_image(&app, "mia", &project).await;
    let services = app.services();
    let mia_user = user(&app, "mia").await;
    services
        .create_custom_image(
            &mia_user,
            container.parse().expect("container id"),
            &mlstack::domain::image::CustomImageForm {
                name: "Payload".into(),
                description: PAYLOAD.into(),
                image_name: "payload".into(),
                tag: "v1".into(),
                image_type: Some(mlstack::domain::image::ImageType::Project),
            },
        )
        .await
        .expect("a custom image with a payload description");
    let job = {
        use mlstack::domain::workload::{
            ImageRef, JobOrigin, JobSpec, Resources, WorkloadId, WorkloadMeta,
        };
        let command =
            "printf '%s\\n' '<script>alert(7)</script>' '\"><img src=x onerror=alert(8)>'";
        services
            .create_job(
                &mia_user,
                JobSpec {
                    meta: WorkloadMeta {
                        id: WorkloadId::generate(),
                        project: project.parse().expect("project id"),
                        owner: mia_user.id,
                        name: "payloads".into(),
                    },
                    image: ImageRef {
                        name: "ubuntu".into(),
                        tag: "24.04".into(),
                    },
                    command: command.into(),
                    env: [("NOTE".to_owned(), PAYLOAD.to_owned())].into(),
                    resources: Resources {
                        cpu_milli: 500,
                        ram_mib: 512,
                        shm_mib: 0,
                        gpu: None,
                    },
                    volumes: Vec::new(),
                    time_limit_secs: None,
                    origin: JobOrigin::Immediately,
                },
            )
            .await
            .expect("a job")
            .to_string()
    };
    drop(services);
    let schedule = crate::authz::sample_schedule(&app, "mia", &project).await;
    // A job template whose command and environment are payloads (its name
    // rule refuses markup).
    let template = {
        use mlstack::service::schedules::JobTemplateForm;
        let services = app.services();
        let mia_user = user(&app, "mia").await;
        let project_id = project.parse().expect("project id");
        let hello = services
            .job_templates(&mia_user, project_id)
            .await
            .expect("templates")
            .remove(0);
        let refused = services
            .create_job_template(
                &mia_user,
                project_id,
                JobTemplateForm {
                    name: SHORT.into(),
                    spec: hello.spec.to_string(),
                    image: hello.image.to_string(),
                    version: hello.version.clone(),
                    command: PAYLOAD.into(),
                    ..JobTemplateForm::default()
                },
            )
            .await;
        assert!(refused.is_err(), "a template name with markup is refused");
        services
            .create_job_template(
                &mia_user,
                project_id,
                JobTemplateForm {
                    name: "payload".into(),
                    spec: hello.spec.to_string(),
                    image: hello.image.to_string(),
                    version: hello.version.clone(),
                    command: PAYLOAD.into(),
                    env: format!("NOTE={PAYLOAD}"),
                    ..JobTemplateForm::default()
                },
            )
            .await
            .expect("a template with payloads")
            .to_string()
    };

    let b = Browser::start(&app.url).await;
    let mut problems = Vec::new();
    b.log_in("admin", &app.admin_password).await;
    let admin_pages = pages(
        Role::Admin,
        None,
        &project,
        &purpose,
        &container,
        &job,
        &job,
        &schedule,
        &template,
    );
    problems.extend(sweep(&b, "admin", &admin_pages).await);
    assert!(
        shows(&b, "/admin/projects", SHORT).await,
        "a project name as text"
    );
    assert!(
        shows(&b, "/admin/catalog/purposes", SHORT).await,
        "a purpose name as text"
    );
    assert!(
        shows(&b, "/admin/users", SHORT).await,
        "a profile name as text"
    );
    b.user_menu("Log out").await;

    b.log_in("mona", &mona_password).await;
    let manager_pages = pages(
        Role::Member,
        Some(ProjectRole::Manager),
        &project,
        &purpose,
        &container,
        &job,
        &job,
        &schedule,
        &template,
    );
    problems.extend(sweep(&b, "manager", &manager_pages).await);
    assert!(
        shows(
            &b,
            &format!("/projects/{project}"),
            "<script>alert(1)</script>"
        )
        .await,
        "a project description as text"
    );
    assert!(
        shows(&b, "/projects/reviews", "<img src=x onerror=alert(2)>").await,
        "the admin's remarks as text"
    );
    b.user_menu("Log out").await;

    b.log_in("mia", &mia_password).await;
    let member_pages = pages(
        Role::Member,
        Some(ProjectRole::Member),
        &project,
        &purpose,
        &container,
        &job,
        &job,
        &schedule,
        &template,
    );
    problems.extend(sweep(&b, "member", &member_pages).await);
    assert!(
        shows(
            &b,
            &format!("/jobs/{job}?tab=detail"),
            "<script>alert(7)</script>"
        )
        .await,
        "a job's command as text"
    );
    assert!(
        shows(
            &b,
            &format!("/advanced/job-templates/{template}"),
            "<script>alert(1)</script>"
        )
        .await,
        "a job template's command as text"
    );
    // "Run job" puts the template's command and environment into the form.
    problems.extend(sweep(&b, "member", &[format!("/jobs/new?template={template}")]).await);
    assert!(
        problems.is_empty(),
        "payloads that became markup or ran: {problems:#?}"
    );

    // The checks see what they look for: the payload inserted as markup on
    // purpose is found, and its blocked handler is reported.
    b.goto("/").await;
    b.execute(
        "document.body.insertAdjacentHTML('beforeend', arguments[0]);",
        vec![json!(PAYLOAD)],
    )
    .await;
    let found = b.execute(INJECTED, vec![]).await;
    assert!(
        found.as_array().is_some_and(|f| f.len() >= 2),
        "the markup check finds inserted markup: {found}"
    );
    let reports = b.execute_async(CSP_REPORTS, vec![]).await;
    assert!(
        reports.as_array().is_some_and(|r| !r.is_empty()),
        "the blocked handler is reported: {reports}"
    );
}
