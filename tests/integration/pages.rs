//! What a new user met on the project pages (issue 8 §6), over HTTP with
//! cookies: formats, the pager, HEAD, refused forms and where they leave the
//! address bar, the selector, the admin's limits and the Chinese wording.

use reqwest::StatusCode;

use crate::common::TestApp;
use crate::projects::{active_project, application_id_in, apply, day};

fn slashed(date: &str) -> String {
    date.replace('-', "/")
}

#[tokio::test]
async fn head_answers_like_get_on_every_page() {
    let app = TestApp::start();
    let (alice, _) = app.member("alice").await;
    let anonymous = app.client();
    for (client, path) in [
        (&anonymous, "/login"),
        (&alice, "/projects"),
        (&alice, "/projects/reviews"),
        (&alice, "/account/profile"),
    ] {
        let get = client.get(path).await;
        let head = client
            .http
            .head(client.url(path))
            .send()
            .await
            .expect("HEAD");
        assert_eq!(head.status(), get.status, "HEAD {path}");
        assert_eq!(
            head.headers().get("content-type"),
            get.headers.get("content-type"),
            "HEAD {path}"
        );
        assert!(
            head.text().await.expect("body").is_empty(),
            "HEAD {path} has no body"
        );
    }
    let head = anonymous
        .http
        .head(anonymous.url("/projects"))
        .send()
        .await
        .expect("HEAD");
    assert_eq!(head.status(), StatusCode::SEE_OTHER, "anonymous: to login");
}

#[tokio::test]
async fn dates_times_and_ram_read_the_same_everywhere() {
    let app = TestApp::start();
    let (alice, _) = app.member("alice").await;
    let id = active_project(&app, &alice, "Formats", &["alice"], &day(30)).await;

    let list = alice.get("/projects").await;
    assert!(
        list.body
            .contains(&format!("{} – {}", slashed(&day(0)), slashed(&day(30)))),
        "dates are YYYY/MM/DD"
    );
    assert!(list.body.contains("1 - 1 of 1"), "the pager's range");
    assert!(list.body.contains("Previous") && list.body.contains("Next"));

    let detail = alice.get(&format!("/projects/{id}")).await;
    assert!(
        detail.body.contains("64.0 GB"),
        "RAM in GB: {}",
        detail.body
    );
    assert!(!detail.body.contains(&day(30)), "no YYYY-MM-DD date shown");

    let reviews = alice.get("/projects/reviews").await;
    assert!(
        reviews.body.contains("(Asia/Taipei)"),
        "times name the zone"
    );
    assert!(!reviews.body.contains("UTC"));

    alice.post_form("/advanced/cloud-provisioning", &[]).await;
    let provisioning = alice.get("/advanced/cloud-provisioning").await;
    // The test clock starts at 2026-11-29 08:00 UTC: 16:00 in Taipei.
    assert!(
        provisioning.body.contains("2026/11/29 16:00 (Asia/Taipei)"),
        "{}",
        provisioning.body
    );
}

#[tokio::test]
async fn a_refused_cap_names_the_member_marks_the_field_and_keeps_the_value() {
    let app = TestApp::start();
    let (alice, _) = app.member("alice").await;
    let (_bob, _) = app.member("bob").await;
    let id = active_project(&app, &alice, "Capped", &["alice", "bob"], &day(30)).await;
    let detail = alice.get(&format!("/projects/{id}")).await;
    let marker = "/caps/";
    let bob_id = detail
        .body
        .match_indices(marker)
        .map(|(i, _)| detail.body[i + marker.len()..i + marker.len() + 36].to_owned())
        .last()
        .expect("cap forms");
    let over = alice
        .post_form(
            &format!("/projects/{id}/caps/{bob_id}"),
            &[("gpu", "9"), ("cpu", ""), ("ram", "")],
        )
        .await;
    assert_eq!(over.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        over.body
            .contains("bob: A GPU cap can be at most the project&#39;s quota, 3.")
            || over
                .body
                .contains("bob: A GPU cap can be at most the project's quota, 3."),
        "{}",
        over.body
    );
    assert!(over.body.contains("value=\"9\""), "the typed value stays");
    assert!(over.body.contains("aria-invalid=\"true\""));
    let page = alice.get(&format!("/projects/{id}")).await;
    assert!(
        page.body.contains("No limit"),
        "no cap reads No limit, not 0"
    );

    // The address bar holds the POST address: its GET leads back.
    let reload = alice.get(&format!("/projects/{id}/caps/{bob_id}")).await;
    assert_eq!(reload.status, StatusCode::SEE_OTHER);
    assert_eq!(
        reload.location(),
        Some(format!("/projects/{id}#members").as_str())
    );
    for form in ["extension", "quota", "delete"] {
        let reload = alice.get(&format!("/projects/{id}/{form}")).await;
        assert_eq!(
            reload.location(),
            Some(format!("/projects/{id}").as_str()),
            "{form}"
        );
    }
}

#[tokio::test]
async fn a_wrong_deletion_code_reopens_the_dialog_with_the_error() {
    let app = TestApp::start();
    let (alice, _) = app.member("alice").await;
    let id = active_project(&app, &alice, "Doomed", &["alice"], &day(30)).await;
    let wrong = alice
        .post_form(&format!("/projects/{id}/delete"), &[("code", "000000")])
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    let dialog_at = wrong
        .body
        .find("<dialog id=\"delete-project\"")
        .expect("the dialog");
    let dialog = &wrong.body[dialog_at..];
    let dialog = &dialog[..dialog.find("</dialog>").expect("end of dialog")];
    assert!(dialog.contains(" open"), "rendered open: {dialog}");
    assert!(
        dialog.contains("Type the verification code exactly as shown."),
        "the error is inside the dialog"
    );
}

#[tokio::test]
async fn the_selector_offers_running_projects_and_follows_the_viewed_one() {
    let app = TestApp::start();
    let (alice, _) = app.member("alice").await;
    let first = active_project(&app, &alice, "First", &["alice"], &day(30)).await;
    let reviewing = apply(&alice, "Waiting", &["alice"], &[], &day(0), &day(5)).await;
    assert_eq!(reviewing.status, StatusCode::SEE_OTHER);
    let page = alice.get(&format!("/projects/{first}")).await;
    let selector_at = page.body.find("id=\"project-select\"").expect("selector");
    let selector = &page.body[selector_at..];
    let selector = &selector[..selector.find("</select>").expect("end")];
    assert!(selector.contains("First"));
    assert!(
        !selector.contains("Waiting"),
        "a project in review is not offered"
    );
    assert!(
        selector.contains(&format!("value=\"{first}\" selected")),
        "Project Detail of First selects First"
    );
    assert_eq!(
        alice.get("/projects/detail").await.location(),
        Some(format!("/projects/{first}").as_str()),
        "and the choice is remembered"
    );
}

#[tokio::test]
async fn dates_use_the_pages_format_and_admin_revisions_follow_the_rules() {
    let app = TestApp::start();
    let (alice, _) = app.member("alice").await;
    let bad = apply(&alice, "Dated", &["alice"], &[], "tomorrow", &day(5)).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("Enter a date as YYYY/MM/DD"));
    let slashes = apply(
        &alice,
        "Slashed",
        &["alice"],
        &[],
        &slashed(&day(0)),
        &slashed(&day(5)),
    )
    .await;
    assert_eq!(slashes.status, StatusCode::SEE_OTHER, "{}", slashes.body);

    let admin = app.admin().await;
    let queue = admin.get("/admin/reviews").await;
    let application = application_id_in(&queue.body);
    let gpu_blank = admin
        .post_form(
            &format!("/admin/reviews/{application}/approve"),
            &[("gpu", ""), ("cpu", "4"), ("ram", "1"), ("remark", "")],
        )
        .await;
    assert_eq!(gpu_blank.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(gpu_blank.body.contains("Enter an amount: 0 means none"));
    let declined = admin
        .post_form(
            &format!("/admin/reviews/{application}/decline"),
            &[("remark", "not now")],
        )
        .await;
    assert_eq!(declined.status, StatusCode::SEE_OTHER);

    let id = active_project(&app, &alice, "Revised", &["alice"], &day(30)).await;
    let (d0, d9) = (day(0), day(9));
    let (d0, d9) = (d0.as_str(), d9.as_str());
    for (fields, message) in [
        (
            [
                ("gpu", ""),
                ("cpu", "1"),
                ("ram", "1"),
                ("storage", "100"),
                ("start", d0),
                ("end", d9),
            ],
            "Enter an amount: 0 means none",
        ),
        (
            [
                ("gpu", "1"),
                ("cpu", "1"),
                ("ram", "1"),
                ("storage", "100"),
                ("start", "2020-01-01"),
                ("end", d9),
            ],
            "at most five years",
        ),
        (
            [
                ("gpu", "1"),
                ("cpu", "1"),
                ("ram", "1"),
                ("storage", "100"),
                ("start", d0),
                ("end", "9999-12-31"),
            ],
            "at most five years",
        ),
        (
            [
                ("gpu", "1"),
                ("cpu", "1"),
                ("ram", "16384.1"),
                ("storage", "100"),
                ("start", d0),
                ("end", d9),
            ],
            "Enter RAM in GB from 0 to 16,384, with at most one decimal",
        ),
    ] {
        let refused = admin
            .post_form(&format!("/admin/projects/{id}/revise"), &fields)
            .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{message}: {}",
            refused.body
        );
        assert!(
            refused.body.contains(message),
            "{message}: {}",
            refused.body
        );
        for (name, typed) in fields {
            let kind = if name == "start" || name == "end" {
                "date"
            } else {
                "text"
            };
            assert!(
                refused.body.contains(&format!(
                    "name=\"{name}\" type=\"{kind}\" value=\"{typed}\""
                )),
                "{name} keeps {typed:?}"
            );
        }
        let reload = admin.get(&format!("/admin/projects/{id}/revise")).await;
        assert_eq!(reload.location(), Some("/admin/projects"));
    }
    let unchanged = alice.get(&format!("/projects/{id}")).await;
    assert!(
        unchanged.body.contains(&slashed(&day(30))),
        "nothing changed"
    );
    assert!(unchanged.body.contains("64.0 GB"));
}

#[tokio::test]
async fn chinese_pages_use_one_word_for_decline_and_name_family_first() {
    let app = TestApp::start();
    let (alice, _) = app.member("alice").await;
    let admin = app.admin().await;
    admin
        .post_form("/account/language", &[("language", "zh-TW"), ("next", "/")])
        .await;
    apply(&alice, "Chinese", &["alice"], &[], &day(0), &day(5)).await;
    let queue = admin.get("/admin/reviews").await;
    assert!(queue.body.contains("駁回"));
    assert!(!queue.body.contains("不核准") && !queue.body.contains("未核准"));
    let application = application_id_in(&queue.body);
    let declined = admin
        .post_form(
            &format!("/admin/reviews/{application}/decline"),
            &[("remark", "not now")],
        )
        .await;
    let queue = admin
        .get(declined.location().expect("back to the queue"))
        .await;
    assert!(queue.body.contains("申請已駁回"));
    let profile = admin.get("/account/profile").await;
    let family = profile
        .body
        .find("name=\"last_name\"")
        .expect("family name");
    let given = profile
        .body
        .find("name=\"first_name\"")
        .expect("given name");
    assert!(family < given, "family name first in Chinese");
    let outbox = admin.get("/admin/outbox").await;
    assert!(outbox.body.contains("建立時間"));
}

#[tokio::test]
async fn reviews_show_managed_projects_searchable_with_the_period_applied_for() {
    let app = TestApp::start();
    let (alice, _) = app.member("alice").await;
    let (bob, _) = app.member("bob").await;
    let form = alice.get("/projects/new").await;
    assert!(
        form.body
            .contains("※ If the project duration was not extended after the buffering period"),
        "the manual's warning on the application form"
    );
    let id = active_project(&app, &alice, "Periodic", &["alice", "bob"], &day(30)).await;
    // Bob becomes a manager: he reviews what alice applied for.
    let edited = alice
        .post_form(
            &format!("/projects/{id}/edit"),
            &[
                ("name", "Periodic"),
                ("manager", "alice"),
                ("manager", "bob"),
            ],
        )
        .await;
    assert_eq!(edited.status, StatusCode::SEE_OTHER);
    let table = bob.get("/projects?view=table").await;
    assert!(table.body.contains(">Actions<"));
    assert!(
        table
            .body
            .contains(&format!("href=\"/projects/{id}/edit\""))
    );

    let applied = alice
        .post_form(
            &format!("/projects/{id}/extension"),
            &[("days", "7"), ("reason", "more time")],
        )
        .await;
    assert_eq!(applied.status, StatusCode::SEE_OTHER);
    let detail = bob.get(&format!("/projects/{id}")).await;
    assert!(detail.body.contains("Pending applications"));
    assert!(
        detail.body.contains(&format!(
            "Period extension of 7 days, to {}",
            slashed(&day(37))
        )),
        "{}",
        detail.body
    );

    let admin = app.admin().await;
    let application = application_id_in(&admin.get("/admin/reviews").await.body);
    admin
        .post_form(&format!("/admin/reviews/{application}/approve"), &[])
        .await;

    let reviews = bob.get("/projects/reviews").await;
    assert!(reviews.body.contains("name=\"q\""), "a search box");
    assert!(
        reviews.body.contains(">alice<"),
        "alice's applications for bob's project: {}",
        reviews.body
    );
    let marker = "href=\"/projects/reviews?id=";
    let project_application = reviews
        .body
        .match_indices(marker)
        .map(|(i, _)| reviews.body[i + marker.len()..i + marker.len() + 36].to_owned())
        .last()
        .expect("the project application");
    let pane = bob
        .get(&format!("/projects/reviews?id={project_application}"))
        .await;
    assert!(
        pane.body
            .contains(&format!("{} 23:59 (Asia/Taipei)", slashed(&day(30)))),
        "the end as applied for, not the extended one: {}",
        pane.body
    );
    let quota = alice
        .post_form(
            &format!("/projects/{id}/quota"),
            &[("gpu", "1"), ("reason", "a bigger model")],
        )
        .await;
    assert_eq!(quota.status, StatusCode::SEE_OTHER, "{}", quota.body);
    let newest = |body: &str| {
        let at = body.find(marker).expect("an application") + marker.len();
        body[at..at + 36].to_owned()
    };
    let pending = newest(&bob.get("/projects/reviews").await.body);
    let for_bob = bob.get(&format!("/projects/reviews?id={pending}")).await;
    assert!(
        !for_bob.body.contains("Revoke Application"),
        "only the applicant revokes"
    );
    let for_alice = alice.get(&format!("/projects/reviews?id={pending}")).await;
    assert!(for_alice.body.contains("Revoke Application"));
    let none = bob.get("/projects/reviews?q=nothing-like-this").await;
    assert!(none.body.contains("No application matches the search."));
    let found = bob.get("/projects/reviews?q=period").await;
    assert!(found.body.contains("Periodic"));
}
