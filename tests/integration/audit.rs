//! Admin › Audit Log over HTTP: the events that sign-ins, account changes,
//! catalog changes and deletions write (with the client's address), the
//! page's filter and paging, the CSV and JSON lines exports, and the
//! retention pruned by the janitor.

use jiff::SignedDuration;
use reqwest::StatusCode;

use crate::common::TestApp;

/// The id in the action URLs of `username`'s row on the users page.
fn user_id(body: &str, username: &str) -> String {
    let row_start = body.find(&format!("<td>{username}")).expect("row");
    let row = &body[row_start..];
    let marker = "/admin/users/";
    let start = row.find(marker).expect("an action") + marker.len();
    row[start..start + 36].to_owned()
}

/// The JSON lines export with `query`, one value per event.
async fn exported(admin: &crate::common::Client, query: &str) -> Vec<serde_json::Value> {
    let page = admin
        .get(&format!("/admin/audit/export.jsonl?{query}"))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    page.body
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

#[tokio::test]
async fn sign_ins_account_and_catalog_changes_are_recorded_with_the_client_address() {
    let app = TestApp::start();
    let wrong = app.client().login("admin", "not-the-password").await;
    assert_ne!(wrong.status, StatusCode::SEE_OTHER);
    let admin = app.admin().await;
    let (carol, _) = app.member("carol").await;

    let id = user_id(&admin.get("/admin/users").await.body, "carol");
    let done = admin
        .post_form(&format!("/admin/users/{id}/grant-admin"), &[])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let gpu = admin
        .post_form(
            "/admin/catalog/gpu-types",
            &[
                ("name", "Tesla P4"),
                ("resource_name", "nvidia.com/gpu"),
                ("sharing", "whole"),
                ("memory_gb", "8"),
                ("allowed_counts", "1"),
                ("price", "0.5"),
            ],
        )
        .await;
    assert_eq!(gpu.status, StatusCode::OK, "{}", gpu.body);
    let settings = admin
        .post_form(
            "/admin/settings",
            &[
                ("buffer_days", "10"),
                ("reminder_days", "7, 1"),
                ("currency", "TWD"),
                ("time_zone", "Asia/Taipei"),
                ("usage_terms", "Lab rules"),
            ],
        )
        .await;
    assert_eq!(settings.status, StatusCode::SEE_OTHER, "{}", settings.body);
    // A deletion: carol's key pair (its name and fingerprint, never a key).
    let generated = carol
        .post_form("/advanced/key-pairs/generate", &[("name", "laptop")])
        .await;
    assert_eq!(generated.status, StatusCode::OK, "{}", generated.body);
    let list = carol.get("/advanced/key-pairs").await.body;
    let marker = "action=\"/advanced/key-pairs/";
    let key_pair = list
        .match_indices(marker)
        .map(|(at, _)| list[at + marker.len()..at + marker.len() + 36].to_owned())
        .find(|id| id.parse::<uuid::Uuid>().is_ok())
        .expect("the key pair's delete form");
    let deleted = carol
        .post_form(&format!("/advanced/key-pairs/{key_pair}/delete"), &[])
        .await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    carol.post_form("/logout", &[]).await;

    let events = exported(&admin, "").await;
    let find = |action: &str, actor: &str| {
        events
            .iter()
            .filter(|e| e["action"] == action && e["actor"] == actor)
            .cloned()
            .collect::<Vec<_>>()
    };
    let failed = find("login", "admin");
    assert!(
        failed
            .iter()
            .any(|e| e["outcome"] == "bad_credentials" && e["client"] == "127.0.0.1"),
        "{events:?}"
    );
    assert!(failed.iter().any(|e| e["outcome"] == "succeeded"));
    assert_eq!(find("user_created", "admin")[0]["target"], "carol");
    assert_eq!(find("admin_granted", "admin")[0]["target"], "carol");
    assert_eq!(
        find("catalog_saved", "admin")[0]["target"],
        "gpu_type:Tesla P4"
    );
    assert_eq!(find("logout", "carol").len(), 1);
    let changed = find("settings_changed", "admin");
    assert!(
        changed[0]["target"]
            .as_str()
            .is_some_and(|t| t.starts_with("buffer 10 days, reminders [7, 1]")),
        "{changed:?}"
    );
    let key_deleted = find("key_pair_deleted", "carol");
    let target = key_deleted[0]["target"].as_str().expect("a target");
    assert!(target.starts_with("laptop (SHA256:"), "{target}");
    assert!(
        events
            .iter()
            .all(|e| !e.to_string().contains("PRIVATE KEY")
                && !e.to_string().contains("ssh-ed25519")),
        "no key material"
    );
    assert!(
        events
            .iter()
            .all(|e| !e.to_string().contains("not-the-password")),
        "a typed password is never recorded"
    );

    // The page filters by actor and action, names the zone, and is the
    // admins' only.
    let page = admin.get("/admin/audit?actor=carol&action=logout").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Sign out"));
    assert!(page.body.contains("(Asia/Taipei)"));
    assert!(page.body.contains("1 - 1 of 1"));
    assert!(page.body.contains("<td>Sign out</td>"));
    assert!(!page.body.contains("<td>Account created</td>"));
    admin
        .post_form("/account/language", &[("language", "zh-TW")])
        .await;
    let zh = admin.get("/admin/audit?action=user_created").await;
    assert!(zh.body.contains("<td>建立帳號</td>"));
    assert!(zh.body.contains("<td>carol</td>") || zh.body.contains(">carol<"));
    let (member, _) = app.member("dave").await;
    let refused = member.get("/admin/audit").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let export = member.get("/admin/audit/export.csv").await;
    assert_eq!(export.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_filter_refuses_bad_dates_and_exports_follow_it() {
    let app = TestApp::start();
    let admin = app.admin().await;
    let bad = admin.get("/admin/audit?from=yesterday").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("Enter a date as YYYY-MM-DD."));
    let reversed = admin
        .get("/admin/audit?from=2026-12-02&to=2026-12-01")
        .await;
    assert_eq!(reversed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        reversed
            .body
            .contains("The end date must not be before the start date.")
    );
    let unknown = admin.get("/admin/audit?action=reboot").await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    let bad_export = admin.get("/admin/audit/export.csv?from=x").await;
    assert!(bad_export.status.is_client_error());

    // The test clock starts on a known day: today's events are in a range
    // of today, none in a range of the day before.
    let today = app.services().today().await.expect("today").to_string();
    let yesterday = app
        .services()
        .today()
        .await
        .expect("today")
        .yesterday()
        .expect("day")
        .to_string();
    let csv = admin
        .get(&format!(
            "/admin/audit/export.csv?from={today}&to={today}&action=login"
        ))
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.header("content-type")
            .is_some_and(|t| t.starts_with("text/csv"))
    );
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines[0], "\u{feff}time,actor,client,action,target,outcome");
    assert!(lines.len() >= 2, "{}", csv.body);
    assert!(lines[1..].iter().all(|l| l.contains(",login,")));
    let none = exported(&admin, &format!("to={yesterday}")).await;
    assert!(none.is_empty());
}

#[tokio::test]
async fn the_page_pages_and_the_export_streams_more_than_one_chunk() {
    let app = TestApp::start();
    let admin = app.admin().await;
    // 600 failed logins of an unknown name: more than a page and than an
    // export chunk (500). After five wrong passwords the name is throttled,
    // so the rest are refused (and recorded) without hashing.
    let services = app.services();
    for _ in 0..600 {
        let refused = services.login("ghost", "wrong", &Default::default()).await;
        assert!(refused.is_err());
    }
    let first = admin.get("/admin/audit?action=login&actor=").await;
    assert!(first.body.contains("1 - 50 of"), "{}", first.body);
    let second = admin.get("/admin/audit?action=login&page=2").await;
    assert!(second.body.contains("51 - 100 of"));
    let events = exported(&admin, "action=login").await;
    assert!(events.len() >= 601, "{}", events.len());
    let ghosts = events.iter().filter(|e| e["actor"] == "ghost").count();
    assert_eq!(ghosts, 600, "every event once");
    assert_eq!(
        events
            .iter()
            .filter(|e| e["outcome"] == "throttled")
            .count(),
        595
    );
}

#[tokio::test]
async fn the_retention_is_checked_saved_and_applied_by_the_janitor() {
    let app = TestApp::start();
    let admin = app.admin().await;
    for bad in ["0", "3651", "ten", ""] {
        let page = admin
            .post_form("/admin/audit/retention", &[("retention_days", bad)])
            .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(
            page.body
                .contains("Enter a whole number of days from 1 to 3650.")
        );
    }
    assert_eq!(
        app.services().audit_retention_days().await.expect("days"),
        365,
        "nothing changed"
    );
    let saved = admin
        .post_form("/admin/audit/retention", &[("retention_days", "2")])
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let page = admin.get(saved.location().expect("redirect")).await;
    assert!(page.body.contains("Retention saved."));
    assert!(page.body.contains("value=\"2\""));
    let before = exported(&admin, "").await;
    assert!(before.iter().any(|e| e["action"] == "retention_changed"));

    app.advance(SignedDuration::from_hours(24 * 3));
    let fresh = app.admin().await;
    let janitor = mlstack::worker::janitor::Janitor::new(app.services());
    janitor.step().await.expect("step");
    let after = exported(&fresh, "").await;
    assert_eq!(after.len(), 1, "only the new sign-in is left: {after:?}");
    assert_eq!(after[0]["action"], "login");
}

#[tokio::test]
async fn stops_starts_cancels_and_an_early_release_are_recorded() {
    use mlstack::domain::workload::{JobOrigin, JobSpec, WorkloadMeta};

    let app = TestApp::start();
    let admin = app.admin().await;
    let (manny, _) = app.member("manny").await;
    let (mia, _) = app.member("mia").await;
    let project = crate::projects::active_project(
        &app,
        &manny,
        "Vision",
        &["manny", "mia"],
        &crate::projects::day(30),
    )
    .await;
    let mia_user = crate::containers::activated(&app, "mia").await;
    let spec = crate::containers::web_container(&project, "web");
    let container = crate::containers::create(&app, &mia_user, spec.clone()).await;
    crate::containers::wait_state(&mia, &container, "running").await;

    let stop = mia
        .post_form(
            &format!("/containers/{container}/stop"),
            &[("next", "detail")],
        )
        .await;
    assert_eq!(stop.status, StatusCode::SEE_OTHER, "{}", stop.body);
    crate::containers::wait_state(&mia, &container, "stopped").await;
    let start = mia
        .post_form(
            &format!("/containers/{container}/start"),
            &[("next", "detail")],
        )
        .await;
    assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.body);

    let job = JobSpec {
        meta: WorkloadMeta {
            name: "sleepy".into(),
            ..spec.meta.clone()
        },
        image: spec.image.clone(),
        command: "exec sleep 600".into(),
        env: Default::default(),
        resources: spec.resources.clone(),
        volumes: Vec::new(),
        time_limit_secs: None,
        origin: JobOrigin::Immediately,
    };
    let job = app
        .services()
        .create_job(&mia_user, job)
        .await
        .expect("a job");
    let cancel = mia.post_form(&format!("/jobs/{job}/cancel"), &[]).await;
    assert_eq!(cancel.status, StatusCode::SEE_OTHER, "{}", cancel.body);
    // Cancelling again changes nothing and records nothing more.
    mia.post_form(&format!("/jobs/{job}/cancel"), &[]).await;

    let release = admin
        .post_form(&format!("/admin/projects/{project}/release"), &[])
        .await;
    assert_eq!(release.status, StatusCode::SEE_OTHER, "{}", release.body);

    let events = exported(&admin, "").await;
    let of = |action: &str| {
        events
            .iter()
            .filter(|e| e["action"] == action)
            .map(|e| (e["actor"].clone(), e["target"].clone()))
            .collect::<Vec<_>>()
    };
    let mia_on = |target: &str| vec![("mia".into(), target.into())];
    assert_eq!(of("container_stopped"), mia_on("Vision/web"), "{events:?}");
    assert_eq!(of("container_started"), mia_on("Vision/web"));
    assert_eq!(of("job_cancelled"), mia_on("Vision/sleepy"));
    assert_eq!(
        of("project_released"),
        vec![("admin".into(), "Vision".into())]
    );
}
