//! Projects over HTTP: applications and review, manager actions, the
//! permission matrix, the lifecycle under an injected clock, Cloud
//! Provisioning and the project selector.

use jiff::SignedDuration;
use jiff::civil::Date;
use reqwest::StatusCode;

use crate::common::{Client, Page, TestApp};

/// Today on the platform's calendar (Asia/Taipei by default) at the test
/// clock's start, 2026-11-29 08:00 UTC.
fn today() -> Date {
    jiff::civil::date(2026, 11, 29)
}

pub(crate) fn day(offset: i64) -> String {
    today()
        .checked_add(jiff::Span::new().days(offset))
        .expect("date")
        .to_string()
}

/// The id in the first `/projects/<id>` link of a page.
pub(crate) fn project_id_in(body: &str) -> String {
    let marker = "href=\"/projects/";
    body.match_indices(marker)
        .map(|(at, _)| &body[at + marker.len()..])
        .find(|rest| rest.len() > 36 && rest.as_bytes()[8] == b'-')
        .map(|rest| rest[..36].to_owned())
        .expect("a project link")
}

/// The id in the first admin review action of the queue.
pub(crate) fn application_id_in(body: &str) -> String {
    let marker = "action=\"/admin/reviews/";
    let at = body.find(marker).expect("an application in the queue") + marker.len();
    body[at..at + 36].to_owned()
}

pub(crate) async fn apply(
    client: &Client,
    name: &str,
    managers: &[&str],
    members: &[&str],
    start: &str,
    end: &str,
) -> Page {
    let mut fields: Vec<(&str, &str)> = vec![
        ("name", name),
        ("start", start),
        ("end", end),
        ("description", "a study"),
    ];
    fields.extend(managers.iter().map(|m| ("manager", *m)));
    fields.extend(members.iter().map(|m| ("member", *m)));
    client.post_form("/projects/new", &fields).await
}

/// Applies as `client` and approves as `admin` with GPU 3 / CPU 16 / 64 GiB.
pub(crate) async fn active_project(
    app: &TestApp,
    client: &Client,
    name: &str,
    members: &[&str],
    end: &str,
) -> String {
    let page = apply(client, name, &[members[0]], &members[1..], &day(0), end).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let admin = app.admin().await;
    let queue = admin.get("/admin/reviews").await;
    let application = application_id_in(&queue.body);
    let done = admin
        .post_form(
            &format!("/admin/reviews/{application}/approve"),
            &[
                ("gpu", "3"),
                ("cpu", "16"),
                ("ram", "64"),
                ("storage", "100"),
                ("remark", "welcome"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    project_id_in(&client.get("/projects").await.body)
}

#[tokio::test]
async fn an_application_is_reviewed_approved_and_becomes_active_with_its_quota() {
    let app = TestApp::start();
    let (alice, _) = app.member("alice").await;
    app.member("bob").await;
    let page = apply(
        &alice,
        "Iris Model Service",
        &["alice"],
        &["bob"],
        &day(1),
        &day(60),
    )
    .await;
    assert_eq!(page.location(), Some("/projects?applied=1"));
    let list = alice.get("/projects?applied=1").await;
    assert!(list.body.contains("Iris Model Service"));
    assert!(list.body.contains("Reviewing"));
    assert!(list.body.contains("2 (1 as manager)"));
    assert!(list.body.contains("---"), "no GPU quota while reviewing");
    let reviews = alice.get("/projects/reviews").await;
    assert!(reviews.body.contains("Project Application") && reviews.body.contains("Reviewing"));
    assert!(reviews.body.contains("Project Code"));

    let admin = app.admin().await;
    let queue = admin.get("/admin/reviews").await;
    let application = application_id_in(&queue.body);
    let no_quota = admin
        .post_form(
            &format!("/admin/reviews/{application}/approve"),
            &[("remark", "")],
        )
        .await;
    assert_eq!(no_quota.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        no_quota
            .body
            .contains("Set the project&#39;s quota to approve it.")
            || no_quota.body.contains("quota to approve it")
    );
    let done = admin
        .post_form(
            &format!("/admin/reviews/{application}/approve"),
            &[
                ("gpu", "3"),
                ("cpu", "16"),
                ("ram", "64"),
                ("storage", "100"),
                ("remark", "welcome"),
            ],
        )
        .await;
    assert_eq!(done.location(), Some("/admin/reviews?done=approve"));
    assert!(
        admin
            .get("/admin/reviews")
            .await
            .body
            .contains("No application is waiting")
    );
    let again = admin
        .post_form(
            &format!("/admin/reviews/{application}/decline"),
            &[("remark", "late")],
        )
        .await;
    assert_eq!(
        again.status,
        StatusCode::CONFLICT,
        "a decided application stays decided"
    );

    let list = alice.get("/projects").await;
    assert!(list.body.contains("Active"));
    assert!(list.body.contains("0 / 3"));
    let outbox = admin.get("/admin/outbox").await;
    assert!(
        outbox
            .body
            .contains("Approved: Project Application for Iris Model Service")
    );
}

#[tokio::test]
async fn bad_applications_are_refused_with_messages_and_create_nothing() {
    let app = TestApp::start();
    let (alice, _) = app.member("alice").await;
    let cases: [(&str, &[&str], &[&str], String, String, &str); 5] = [
        (
            "P1",
            &["alice"],
            &[],
            day(10),
            day(5),
            "The end date cannot be before the start date.",
        ),
        (
            "P2",
            &["alice"],
            &[],
            day(-1),
            day(5),
            "The start date cannot be in the past.",
        ),
        (
            "P3",
            &[],
            &[],
            day(1),
            day(5),
            "Choose at least one member.",
        ),
        (
            "P4",
            &[],
            &["alice"],
            day(1),
            day(5),
            "Choose at least one manager.",
        ),
        ("", &["alice"], &[], day(1), day(5), "Enter a project name."),
    ];
    for (name, managers, members, start, end, message) in cases {
        let page = apply(&alice, name, managers, members, &start, &end).await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{message}");
        assert!(page.body.contains(message), "{message}");
        assert!(
            page.body.contains(&format!("value=\"{name}\"")),
            "input kept"
        );
    }
    assert!(
        alice
            .get("/projects")
            .await
            .body
            .contains("No projects yet")
    );

    let unknown = apply(&alice, "P5", &["alice", "ghost"], &[], &day(1), &day(5)).await;
    assert!(unknown.body.contains("does not exist"));
    let first = apply(&alice, "Same Name", &["alice"], &[], &day(1), &day(5)).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    let second = apply(&alice, "same name", &["alice"], &[], &day(1), &day(5)).await;
    assert_eq!(second.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        second
            .body
            .contains("already has an open project with this name")
    );
}

#[tokio::test]
async fn revoking_and_declining() {
    let app = TestApp::start();
    let (alice, _) = app.member("alice").await;
    let (bob, _) = app.member("bob").await;
    apply(&alice, "Revocable", &["alice"], &[], &day(1), &day(5)).await;
    let admin = app.admin().await;
    let application = application_id_in(&admin.get("/admin/reviews").await.body);

    let someone_else = bob
        .post_form(&format!("/projects/reviews/{application}/revoke"), &[])
        .await;
    assert_eq!(someone_else.status, StatusCode::NOT_FOUND);
    let revoked = alice
        .post_form(&format!("/projects/reviews/{application}/revoke"), &[])
        .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    assert!(alice.get("/projects").await.body.contains("Revoked"));
    let twice = alice
        .post_form(&format!("/projects/reviews/{application}/revoke"), &[])
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);

    apply(&alice, "Declinable", &["alice"], &[], &day(1), &day(5)).await;
    let application = application_id_in(&admin.get("/admin/reviews").await.body);
    let no_reason = admin
        .post_form(
            &format!("/admin/reviews/{application}/decline"),
            &[("remark", " ")],
        )
        .await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no_reason.body.contains("Give a reason for declining."));
    let by_member = alice
        .post_form(
            &format!("/admin/reviews/{application}/approve"),
            &[("gpu", "1")],
        )
        .await;
    assert_eq!(by_member.status, StatusCode::FORBIDDEN);
    admin
        .post_form(
            &format!("/admin/reviews/{application}/decline"),
            &[("remark", "no GPUs left this term")],
        )
        .await;
    let list = alice.get("/projects").await;
    assert!(list.body.contains("Declined"));
    let reviews = alice.get("/projects/reviews").await;
    assert!(reviews.body.contains("no GPUs left this term"));
}

#[tokio::test]
async fn extension_and_quota_applications_move_the_end_and_raise_the_quota() {
    let app = TestApp::start();
    let (alice, _) = app.member("alice").await;
    let (bob, _) = app.member("bob").await;
    let id = active_project(&app, &alice, "Grow", &["alice", "bob"], &day(30)).await;

    for bad in ["0", "366", "soon"] {
        let page = alice
            .post_form(&format!("/projects/{id}/extension"), &[("days", bad)])
            .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(page.body.contains("Enter a number of days from 1 to 365."));
    }
    let by_member = bob
        .post_form(&format!("/projects/{id}/extension"), &[("days", "7")])
        .await;
    assert_eq!(by_member.status, StatusCode::FORBIDDEN);
    let applied = alice
        .post_form(
            &format!("/projects/{id}/extension"),
            &[("days", "7"), ("reason", "thesis")],
        )
        .await;
    assert_eq!(applied.status, StatusCode::SEE_OTHER);
    let pending = alice
        .post_form(&format!("/projects/{id}/extension"), &[("days", "3")])
        .await;
    assert_eq!(
        pending.status,
        StatusCode::CONFLICT,
        "one pending extension at a time"
    );

    let reviews = alice.get("/projects/reviews").await;
    assert!(
        reviews.body.contains(&format!(
            "{} 00:00 (Asia/Taipei)",
            day(31).replace('-', "/")
        )),
        "next start"
    );
    assert!(
        reviews.body.contains(&format!(
            "{} 23:59 (Asia/Taipei)",
            day(37).replace('-', "/")
        )),
        "next end"
    );

    let absurd = alice
        .post_form(
            &format!("/projects/{id}/quota"),
            &[("gpu", "-2"), ("reason", "x")],
        )
        .await;
    assert_eq!(absurd.status, StatusCode::UNPROCESSABLE_ENTITY);
    let quota = alice
        .post_form(
            &format!("/projects/{id}/quota"),
            &[("gpu", "0.5"), ("reason", "more students")],
        )
        .await;
    assert_eq!(quota.status, StatusCode::SEE_OTHER);

    let admin = app.admin().await;
    for _ in 0..2 {
        let application = application_id_in(&admin.get("/admin/reviews").await.body);
        let done = admin
            .post_form(&format!("/admin/reviews/{application}/approve"), &[])
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    }
    let detail = alice.get(&format!("/projects/{id}")).await;
    assert!(
        detail.body.contains(&day(37).replace('-', "/")),
        "the end moved by 7 days"
    );
    assert!(detail.body.contains("Extended"));
    assert!(detail.body.contains("<td>3.5</td>"), "quota raised to 3.5");
    assert!(alice.get("/projects").await.body.contains("0 / 3.5"));
}

#[tokio::test]
async fn managers_edit_set_caps_and_delete_with_the_code() {
    let app = TestApp::start();
    let (alice, _) = app.member("alice").await;
    let (bob, _) = app.member("bob").await;
    let (carol, _) = app.member("carol").await;
    let id = active_project(&app, &alice, "Editable", &["alice", "bob"], &day(30)).await;

    let by_member = bob
        .post_form(
            &format!("/projects/{id}/edit"),
            &[("name", "Mine"), ("manager", "bob")],
        )
        .await;
    assert_eq!(by_member.status, StatusCode::FORBIDDEN);
    let by_stranger = carol.get(&format!("/projects/{id}")).await;
    assert_eq!(by_stranger.status, StatusCode::NOT_FOUND);
    let no_manager = alice
        .post_form(
            &format!("/projects/{id}/edit"),
            &[("name", "Edited"), ("member", "alice")],
        )
        .await;
    assert_eq!(no_manager.status, StatusCode::UNPROCESSABLE_ENTITY);
    let edited = alice
        .post_form(
            &format!("/projects/{id}/edit"),
            &[
                ("name", "Edited"),
                ("description", "new"),
                ("manager", "alice"),
                ("manager", "bob"),
                ("member", "carol"),
            ],
        )
        .await;
    assert_eq!(edited.status, StatusCode::SEE_OTHER);
    let detail = carol.get(&format!("/projects/{id}")).await;
    assert_eq!(detail.status, StatusCode::OK, "carol is now a member");
    assert!(detail.body.contains("Edited"));

    let bob_detail = bob.get(&format!("/projects/{id}")).await;
    let carol_id = {
        let marker = "/caps/";
        let starts: Vec<usize> = bob_detail
            .body
            .match_indices(marker)
            .map(|(i, _)| i + marker.len())
            .collect();
        starts
            .iter()
            .map(|&s| bob_detail.body[s..s + 36].to_owned())
            .next_back()
            .expect("cap forms")
    };
    let bad_cap = bob
        .post_form(
            &format!("/projects/{id}/caps/{carol_id}"),
            &[("gpu", "lots")],
        )
        .await;
    assert_eq!(bad_cap.status, StatusCode::UNPROCESSABLE_ENTITY);
    let cap = bob
        .post_form(
            &format!("/projects/{id}/caps/{carol_id}"),
            &[("gpu", "2"), ("cpu", ""), ("ram", "")],
        )
        .await;
    assert_eq!(cap.status, StatusCode::SEE_OTHER);
    let member_cap = carol
        .post_form(&format!("/projects/{id}/caps/{carol_id}"), &[("gpu", "9")])
        .await;
    assert_eq!(member_cap.status, StatusCode::FORBIDDEN);

    let wrong = alice
        .post_form(&format!("/projects/{id}/delete"), &[("code", "000000")])
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        wrong
            .body
            .contains("Type the verification code exactly as shown.")
    );
    let page = alice.get(&format!("/projects/{id}")).await;
    let marker = "Type the verification code ";
    let at = page.body.find(marker).expect("code shown") + marker.len();
    let code = page.body[at..at + 6].to_owned();
    let by_member = carol
        .post_form(&format!("/projects/{id}/delete"), &[("code", &code)])
        .await;
    assert!(by_member.status.is_client_error());
    let deleted = alice
        .post_form(&format!("/projects/{id}/delete"), &[("code", &code)])
        .await;
    assert_eq!(deleted.location(), Some("/projects?deleted=1"));
    assert!(!alice.get("/projects").await.body.contains("Edited"));
    assert_eq!(
        alice.get(&format!("/projects/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_lifecycle_follows_the_clock_across_a_restart() {
    let app = TestApp::start();
    let (alice, password) = app.member("alice").await;
    let id = active_project(&app, &alice, "Mortal", &["alice"], &day(10)).await;
    let services = app.services();
    let report = services.sweep_lifecycle().await.expect("sweep");
    assert_eq!(
        (report.reminders, report.to_buffer, report.released),
        (0, 0, 0)
    );

    app.advance(SignedDuration::from_hours(24 * 3));
    let report = services.sweep_lifecycle().await.expect("sweep");
    assert_eq!(report.reminders, 1, "7 days before the end");
    assert_eq!(
        services.sweep_lifecycle().await.expect("sweep").reminders,
        0,
        "once"
    );

    // Down for a while: the 3- and 1-day reminders collapse into one, and
    // the server catches up at start. (Our handle on the services holds the
    // store; a restart needs it back.)
    drop(services);
    let app = app.restart();
    app.advance(SignedDuration::from_hours(24 * 6));
    let services = app.services();
    assert_eq!(
        services.sweep_lifecycle().await.expect("sweep").reminders,
        1
    );

    app.advance(SignedDuration::from_hours(24 * 2));
    let report = services.sweep_lifecycle().await.expect("sweep");
    assert_eq!(report.to_buffer, 1);
    // Days have passed: sessions idled out, so log in again.
    let alice = app.client();
    alice.login_ok("alice", &password).await;
    let detail = alice.get(&format!("/projects/{id}")).await;
    assert!(detail.body.contains("Buffer Period"));
    assert!(detail.body.contains("nothing in it can be used or created"));
    let quota = alice
        .post_form(&format!("/projects/{id}/extension"), &[("days", "5")])
        .await;
    assert_eq!(
        quota.status,
        StatusCode::SEE_OTHER,
        "a buffered project may still ask for an extension"
    );

    app.advance(SignedDuration::from_hours(24 * 14));
    drop(services);
    let app = app.restart();
    // The start-up sweep catches up by itself (no manual sweep here).
    let alice = app.client();
    alice.login_ok("alice", &password).await;
    let mut released = false;
    for _ in 0..200 {
        if alice.get("/projects").await.body.contains("Released") {
            released = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(
        released,
        "released at start-up after the buffer ended while down"
    );
    let report = app.services().sweep_lifecycle().await.expect("sweep");
    assert_eq!(
        (report.reminders, report.to_buffer, report.released),
        (0, 0, 0),
        "running again changes nothing"
    );
    let outbox = app.admin().await.get("/admin/outbox").await;
    assert!(outbox.body.contains("Mortal ends in"));
    assert!(outbox.body.contains("Mortal has ended: buffer period"));
    assert!(outbox.body.contains("Mortal was released"));
}

#[tokio::test]
async fn the_selector_remembers_the_project_and_provisioning_activates() {
    let app = TestApp::start();
    let (alice, _) = app.member("alice").await;
    let (bob, _) = app.member("bob").await;
    let id = active_project(&app, &alice, "Chosen", &["alice"], &day(30)).await;
    assert_eq!(
        alice.get("/projects/detail").await.location(),
        Some("/projects")
    );
    let select = alice
        .post_form(
            "/projects/select",
            &[("project", &id), ("next", "/account/profile")],
        )
        .await;
    assert_eq!(select.location(), Some("/account/profile"));
    assert_eq!(
        alice.get("/projects/detail").await.location(),
        Some(format!("/projects/{id}").as_str())
    );
    let page = alice.get("/account/profile").await;
    assert!(page.body.contains(&format!("value=\"{id}\" selected")));
    let not_mine = bob
        .post_form("/projects/select", &[("project", &id), ("next", "/")])
        .await;
    assert_eq!(not_mine.status, StatusCode::NOT_FOUND);

    let page = alice.get("/advanced/cloud-provisioning").await;
    assert!(page.body.contains("Not Activated"));
    // Passed once the reconcile loop had the driver provision alice.
    activate(&alice).await;
    let page = alice.get("/advanced/cloud-provisioning").await;
    assert!(page.body.contains("Passed") && page.body.contains("Request Time"));
}

#[tokio::test]
async fn admins_revise_release_and_keep_platform_settings() {
    let app = TestApp::start();
    let (alice, _) = app.member("alice").await;
    let id = active_project(&app, &alice, "Revised", &["alice"], &day(30)).await;
    let admin = app.admin().await;
    let bad = admin
        .post_form(
            &format!("/admin/projects/{id}/revise"),
            &[
                ("gpu", "x"),
                ("cpu", "1"),
                ("ram", "1"),
                ("storage", "100"),
                ("start", &day(0)),
                ("end", &day(10)),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let ok = admin
        .post_form(
            &format!("/admin/projects/{id}/revise"),
            &[
                ("gpu", "1.25"),
                ("cpu", "4"),
                ("ram", "8"),
                ("storage", "100"),
                ("start", &day(0)),
                ("end", &day(10)),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert!(alice.get("/projects").await.body.contains("0 / 1.25"));
    let by_member = alice
        .post_form(&format!("/admin/projects/{id}/release"), &[])
        .await;
    assert_eq!(by_member.status, StatusCode::FORBIDDEN);
    admin
        .post_form(&format!("/admin/projects/{id}/release"), &[])
        .await;
    assert!(alice.get("/projects").await.body.contains("Released"));

    let settings = admin.get("/admin/settings").await;
    assert!(settings.body.contains("value=\"14\"") && settings.body.contains("value=\"7, 3, 1\""));
    let bad = admin
        .post_form(
            "/admin/settings",
            &[
                ("buffer_days", "-1"),
                ("reminder_days", "7, x"),
                ("currency", "dollars"),
                ("time_zone", "Mars/Olympus"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    for message in [
        "from 0 to 365",
        "separated by commas",
        "three-letter",
        "IANA time zone",
    ] {
        assert!(bad.body.contains(message), "{message}");
    }
    let saved = admin
        .post_form(
            "/admin/settings",
            &[
                ("buffer_days", "7"),
                ("reminder_days", "1, 14"),
                ("currency", "usd"),
                ("time_zone", "Europe/Berlin"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let page = admin.get("/admin/settings").await;
    assert!(page.body.contains("value=\"14, 1\"") && page.body.contains("value=\"USD\""));
}

/// What an actor gets for an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Reached the use case (here: refused input, 422, so nothing changes).
    Allowed,
    Forbidden,
    /// Not a member: the project is not even shown to exist.
    Hidden,
    Login,
}

fn outcome_of(page: &Page) -> Outcome {
    match page.status {
        StatusCode::FORBIDDEN => Outcome::Forbidden,
        StatusCode::NOT_FOUND => Outcome::Hidden,
        StatusCode::SEE_OTHER if page.location().is_some_and(|l| l.starts_with("/login")) => {
            Outcome::Login
        }
        StatusCode::OK | StatusCode::UNPROCESSABLE_ENTITY => Outcome::Allowed,
        other => panic!("unexpected {other}: {}", page.body),
    }
}

#[tokio::test]
async fn the_project_permission_matrix() {
    use Outcome::*;
    let app = TestApp::start();
    let (manager, _) = app.member("manny").await;
    let (member, _) = app.member("mia").await;
    let (stranger, _) = app.member("sam").await;
    let id = active_project(&app, &manager, "Matrix", &["manny", "mia"], &day(30)).await;
    let admin = app.admin().await;
    let anonymous = app.client();
    let mia = {
        let page = manager.get(&format!("/projects/{id}")).await;
        let marker = "/caps/";
        let at = page.body.rfind(marker).expect("cap form") + marker.len();
        page.body[at..at + 36].to_owned()
    };
    let edit = format!("/projects/{id}/edit");
    let extension = format!("/projects/{id}/extension");
    let quota = format!("/projects/{id}/quota");
    let cap = format!("/projects/{id}/caps/{mia}");
    let delete = format!("/projects/{id}/delete");
    let revise = format!("/admin/projects/{id}/revise");
    // (method, path, invalid form that changes nothing) and the outcome for
    // admin (not a member), manager, member, stranger, anonymous.
    let rows: Vec<(&str, String, Vec<(&str, &str)>, [Outcome; 5])> = vec![
        (
            "GET",
            format!("/projects/{id}"),
            vec![],
            [Allowed, Allowed, Allowed, Hidden, Login],
        ),
        (
            "GET",
            edit.clone(),
            vec![],
            [Forbidden, Allowed, Forbidden, Hidden, Login],
        ),
        (
            "POST",
            edit,
            vec![("name", "")],
            [Forbidden, Allowed, Forbidden, Hidden, Login],
        ),
        (
            "POST",
            extension,
            vec![("days", "0")],
            [Forbidden, Allowed, Forbidden, Hidden, Login],
        ),
        (
            "POST",
            quota,
            vec![("gpu", "-1")],
            [Forbidden, Allowed, Forbidden, Hidden, Login],
        ),
        (
            "POST",
            cap,
            vec![("gpu", "lots")],
            [Forbidden, Allowed, Forbidden, Hidden, Login],
        ),
        (
            "POST",
            delete,
            vec![("code", "wrong")],
            [Forbidden, Allowed, Forbidden, Hidden, Login],
        ),
        (
            "POST",
            revise,
            vec![("gpu", "x")],
            [Allowed, Forbidden, Forbidden, Forbidden, Login],
        ),
        (
            "GET",
            "/admin/reviews".into(),
            vec![],
            [Allowed, Forbidden, Forbidden, Forbidden, Login],
        ),
        (
            "GET",
            "/admin/projects".into(),
            vec![],
            [Allowed, Forbidden, Forbidden, Forbidden, Login],
        ),
    ];
    let actors = [
        ("admin", &admin),
        ("manager", &manager),
        ("member", &member),
        ("stranger", &stranger),
        ("anonymous", &anonymous),
    ];
    for (method, path, form, expected) in &rows {
        for ((who, client), want) in actors.iter().zip(expected) {
            let page = if *method == "GET" {
                client.get(path).await
            } else {
                client.post_form(path, form).await
            };
            assert_eq!(outcome_of(&page), *want, "{who} {method} {path}");
        }
    }
    let detail = manager.get(&format!("/projects/{id}")).await;
    assert!(
        detail.body.contains("Matrix") && detail.body.contains("<td>3</td>"),
        "nothing changed"
    );
}

/// A job asking for `gpu_milli` GPU units of a type no GPU of the test
/// appliance has (so it waits for one and never ends by itself).
fn gpu_job(project: &str, name: &str, gpu_milli: u64) -> mlstack::domain::workload::JobSpec {
    use mlstack::domain::workload::{
        GpuRequest, ImageRef, JobSpec, Resources, WorkloadId, WorkloadMeta,
    };
    JobSpec {
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
        command: "true".into(),
        env: std::collections::BTreeMap::new(),
        resources: Resources {
            cpu_milli: 100,
            ram_mib: 64,
            shm_mib: 0,
            gpu: Some(GpuRequest {
                resource_name: "nvidia.com/gpu".into(),
                type_name: "T4".into(),
                node_selector: std::collections::BTreeMap::new(),
                count: 1,
                units_milli: gpu_milli,
            }),
        },
        volumes: Vec::new(),
        time_limit_secs: None,
        origin: mlstack::domain::workload::JobOrigin::Immediately,
    }
}

/// An appliance whose local driver has no GPU: GPU jobs wait and hold.
fn gpuless_app() -> TestApp {
    TestApp::start_configured(|config| {
        config.local.detect_gpus = false;
        config.local.gpus = Vec::new();
    })
}

/// The user record of `name`.
async fn record_of(app: &TestApp, name: &str) -> mlstack::store::users::UserRecord {
    app.services()
        .list_users()
        .await
        .expect("users")
        .into_iter()
        .find(|u| u.username.as_str() == name)
        .expect("user")
}

/// Activates `client`'s user through Cloud Provisioning and waits until the
/// driver provisioned them.
async fn activate(client: &Client) {
    let asked = client.post_form("/advanced/cloud-provisioning", &[]).await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER);
    for _ in 0..400 {
        if client
            .get("/advanced/cloud-provisioning")
            .await
            .body
            .contains("Passed")
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the activation did not pass");
}

#[tokio::test]
async fn parallel_workloads_never_overshoot_the_quota_or_a_member_cap() {
    use mlstack::domain::quota::Resources;
    use mlstack::service::ServiceError;

    let app = gpuless_app();
    let (alice, _) = app.member("alice").await;
    let (bob, _) = app.member("bob").await;
    let id = active_project(&app, &alice, "Contended", &["alice", "bob"], &day(30)).await;
    let services = app.services();
    let (alice_record, bob_record) = (record_of(&app, "alice").await, record_of(&app, "bob").await);

    // Not activated: no workload, nothing held.
    let refused = services
        .create_job(&bob_record, gpu_job(&id, "early", 1000))
        .await;
    assert!(
        matches!(
            refused,
            Err(ServiceError::Refused("error.workload.not_activated"))
        ),
        "{refused:?}"
    );
    activate(&alice).await;
    activate(&bob).await;

    // The quota is 3 GPUs: 2.5 held, then 20 requests race for the last 0.5.
    services
        .create_job(&alice_record, gpu_job(&id, "big", 2500))
        .await
        .expect("fits");
    let racers: Vec<_> = (0..20)
        .map(|i| {
            let services = services.clone();
            let owner = if i % 2 == 0 {
                alice_record.clone()
            } else {
                bob_record.clone()
            };
            let spec = gpu_job(&id, &format!("racer-{i}"), 500);
            tokio::spawn(async move { services.create_job(&owner, spec).await })
        })
        .collect();
    // Jobs are never refused for quota: the others wait in the queue.
    for racer in racers {
        racer.await.expect("task").expect("created or queued");
    }
    let project: mlstack::domain::ids::ProjectId = id.parse().expect("id");
    let jobs = services
        .project_workloads(&alice_record, project)
        .await
        .expect("workloads");
    assert_eq!(jobs.len(), 21);
    let queued = jobs.iter().filter(|j| j.queued).count();
    assert_eq!(queued, 19, "exactly one request got the last half GPU");
    let detail = alice.get(&format!("/projects/{id}")).await;
    assert!(alice.get("/projects").await.body.contains("3 / 3"));
    assert!(
        detail.body.contains("<td>3</td><td>3</td><td>0</td>"),
        "used, quota, available"
    );

    // A cap of 1.5 GPU for bob inside a project with room to spare.
    let capped = active_project(&app, &alice, "Capped", &["alice", "bob"], &day(30)).await;
    let bob_id = bob_record.id.to_string();
    let cap = alice
        .post_form(
            &format!("/projects/{capped}/caps/{bob_id}"),
            &[("gpu", "1.5")],
        )
        .await;
    assert_eq!(cap.status, StatusCode::SEE_OTHER);
    let racers: Vec<_> = (0..10)
        .map(|i| {
            let services = services.clone();
            let owner = bob_record.clone();
            let spec = gpu_job(&capped, &format!("small-{i}"), 250);
            tokio::spawn(async move { services.create_job(&owner, spec).await })
        })
        .collect();
    for racer in racers {
        racer.await.expect("task").expect("created or queued");
    }
    let capped_id: mlstack::domain::ids::ProjectId = capped.parse().expect("id");
    let jobs = services
        .project_workloads(&bob_record, capped_id)
        .await
        .expect("workloads");
    let holding = jobs.iter().filter(|j| j.hold.is_some()).count();
    assert_eq!(holding, 6, "bob holds exactly his cap of 1.5 GPU");
    assert_eq!(jobs.iter().filter(|j| j.queued).count(), 4);
    services
        .create_job(&alice_record, gpu_job(&capped, "uncapped", 1500))
        .await
        .expect("alice is not capped");

    // Released projects give everything back.
    let admin = app.admin().await;
    let released = admin
        .post_form(&format!("/admin/projects/{id}/release"), &[])
        .await;
    assert_eq!(released.status, StatusCode::SEE_OTHER, "{}", released.body);
    let after = services
        .project(&alice_record, project)
        .await
        .expect("project");
    assert_eq!(after.used, Resources::ZERO);
    let late = services
        .create_job(&alice_record, gpu_job(&id, "late", 1))
        .await;
    assert!(matches!(
        late,
        Err(ServiceError::Refused("error.workload.project_not_active"))
    ));
}

/// The desired state of each of `owner`'s workloads in the project.
async fn desired_of(
    app: &TestApp,
    viewer: &mlstack::store::users::UserRecord,
    project: &str,
) -> Vec<(String, mlstack::store::workloads::Desired)> {
    app.services()
        .project_workloads(viewer, project.parse().expect("id"))
        .await
        .expect("workloads")
        .into_iter()
        .map(|w| (w.spec.name().unwrap_or_default().to_owned(), w.desired))
        .collect()
}

/// What the project's workloads hold, in GPU thousandths.
async fn gpu_used(app: &TestApp, viewer: &mlstack::store::users::UserRecord, project: &str) -> u64 {
    app.services()
        .project(viewer, project.parse().expect("id"))
        .await
        .expect("project")
        .used
        .gpu_milli
}

async fn revise_dates(admin: &Client, id: &str, start: &str, end: &str) {
    let revised = admin
        .post_form(
            &format!("/admin/projects/{id}/revise"),
            &[
                ("gpu", "3"),
                ("cpu", "16"),
                ("ram", "64"),
                ("storage", "100"),
                ("start", start),
                ("end", end),
            ],
        )
        .await;
    assert_eq!(revised.status, StatusCode::SEE_OTHER, "{}", revised.body);
}

/// Every status change goes through the sweep's transitions: a member who
/// leaves stops running; an admin's end date in the past starts the buffer
/// period (workloads stopped, mail); release now then releases it
/// (workloads deleted, mail, pending applications closed); an end date past
/// the buffer releases at once with the same effects.
#[tokio::test]
async fn admin_date_changes_and_removals_take_the_lifecycle_transitions() {
    use mlstack::domain::project::ApplicationStatus;
    use mlstack::store::workloads::Desired;

    let app = gpuless_app();
    let (alice, _) = app.member("alice").await;
    let (bob, _) = app.member("bob").await;
    let id = active_project(&app, &alice, "Timed", &["alice", "bob"], &day(30)).await;
    activate(&alice).await;
    activate(&bob).await;
    let services = app.services();
    let (alice_record, bob_record) = (record_of(&app, "alice").await, record_of(&app, "bob").await);
    services
        .create_job(&alice_record, gpu_job(&id, "mine", 1000))
        .await
        .expect("job");
    services
        .create_job(&bob_record, gpu_job(&id, "his", 500))
        .await
        .expect("job");
    assert_eq!(gpu_used(&app, &alice_record, &id).await, 1500);
    let extension = alice
        .post_form(&format!("/projects/{id}/extension"), &[("days", "5")])
        .await;
    assert_eq!(extension.status, StatusCode::SEE_OTHER);

    // Bob leaves: his job stops and gives back its half GPU.
    let edited = alice
        .post_form(
            &format!("/projects/{id}/edit"),
            &[("name", "Timed"), ("manager", "alice")],
        )
        .await;
    assert_eq!(edited.status, StatusCode::SEE_OTHER, "{}", edited.body);
    assert_eq!(
        desired_of(&app, &alice_record, &id).await,
        [
            ("mine".to_owned(), Desired::Running),
            ("his".to_owned(), Desired::Stopped)
        ]
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
    );
    assert_eq!(gpu_used(&app, &alice_record, &id).await, 1000);

    // The end moved into the past: Buffer Period, the job stopped, mail.
    let admin = app.admin().await;
    revise_dates(&admin, &id, &day(-10), &day(-1)).await;
    let detail = alice.get(&format!("/projects/{id}")).await;
    assert!(detail.body.contains("Buffer Period"), "{}", detail.body);
    assert!(
        desired_of(&app, &alice_record, &id)
            .await
            .iter()
            .all(|(_, d)| *d == Desired::Stopped)
    );
    assert_eq!(gpu_used(&app, &alice_record, &id).await, 0);
    let outbox = admin.get("/admin/outbox").await;
    assert!(outbox.body.contains("Timed has ended: buffer period"));

    // Release now works from the buffer period, with its effects.
    let released = admin
        .post_form(&format!("/admin/projects/{id}/release"), &[])
        .await;
    assert_eq!(released.status, StatusCode::SEE_OTHER, "{}", released.body);
    assert!(alice.get("/projects").await.body.contains("Released"));
    assert!(
        desired_of(&app, &alice_record, &id)
            .await
            .iter()
            .all(|(_, d)| *d == Desired::Deleted)
    );
    assert!(
        admin
            .get("/admin/outbox")
            .await
            .body
            .contains("Timed was released")
    );
    let applications = services
        .my_applications(alice_record.id)
        .await
        .expect("applications");
    let closed = applications
        .iter()
        .find(|a| a.project_name == "Timed" && a.application.kind.code() == "extension")
        .expect("the extension application");
    assert_eq!(closed.application.status, ApplicationStatus::Declined);
    assert!(
        closed
            .application
            .remark
            .contains("the project was released")
    );

    // An end past the buffer period releases at once, not skipping it.
    let other = active_project(&app, &alice, "Skipped", &["alice"], &day(30)).await;
    services
        .create_job(&alice_record, gpu_job(&other, "work", 1000))
        .await
        .expect("job");
    revise_dates(&admin, &other, &day(-60), &day(-40)).await;
    let list = alice.get("/projects").await;
    assert!(list.body.contains("Released"));
    // (Deleted, or already gone once the driver confirmed.)
    assert!(
        desired_of(&app, &alice_record, &other)
            .await
            .iter()
            .all(|(_, d)| *d == Desired::Deleted)
    );
    assert_eq!(gpu_used(&app, &alice_record, &other).await, 0);
    let outbox = admin.get("/admin/outbox").await;
    assert!(outbox.body.contains("Skipped has ended: buffer period"));
    assert!(outbox.body.contains("Skipped was released"));
}

#[tokio::test]
async fn ram_is_typed_in_gb_stored_in_mib_and_shown_in_gb() {
    let app = TestApp::start();
    let (alice, _) = app.member("alice").await;
    let (bob, _) = app.member("bob").await;
    // Approved with 64 GB of RAM.
    let id = active_project(&app, &alice, "Gigabytes", &["alice", "bob"], &day(30)).await;
    let alice_record = record_of(&app, "alice").await;
    let bob_id = record_of(&app, "bob").await.id;
    let stored = || async {
        app.services()
            .project(&alice_record, id.parse().expect("project id"))
            .await
            .expect("project")
            .project
    };
    let bob_cap = |p: &mlstack::store::projects::ProjectRecord| {
        p.members
            .iter()
            .find(|m| m.user == bob_id)
            .expect("bob")
            .cap
            .ram_mib
    };
    assert_eq!(stored().await.quota.ram_mib, 64 * 1024);

    let caps = format!("/projects/{id}/caps/{bob_id}");
    let cap = alice
        .post_form(&caps, &[("gpu", ""), ("cpu", ""), ("ram", "1.5")])
        .await;
    assert_eq!(cap.status, StatusCode::SEE_OTHER, "{}", cap.body);
    assert_eq!(bob_cap(&stored().await), Some(1536), "1.5 GB is 1536 MiB");
    let detail = alice.get(&format!("/projects/{id}")).await;
    assert!(
        detail.body.contains(r#"name="ram" size="7" value="1.5""#),
        "the cap field is prefilled in GB: {}",
        detail.body
    );
    assert!(detail.body.contains("(GB)") && !detail.body.contains("MiB"));
    assert!(
        bob.get(&format!("/projects/{id}"))
            .await
            .body
            .contains("1.5 GB")
    );

    for (ram, message) in [
        (
            "1.25",
            "Enter RAM in GB from 0 to 16,384, with at most one decimal",
        ),
        ("1536", "quota, 64.0 GB."),
    ] {
        let refused = alice
            .post_form(&caps, &[("gpu", ""), ("cpu", ""), ("ram", ram)])
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{ram}");
        assert!(
            refused.body.contains(message),
            "{message}: {}",
            refused.body
        );
    }
    assert_eq!(bob_cap(&stored().await), Some(1536), "nothing changed");

    let applied = alice
        .post_form(
            &format!("/projects/{id}/quota"),
            &[("ram", "2.5"), ("reason", "bigger models")],
        )
        .await;
    assert_eq!(applied.status, StatusCode::SEE_OTHER, "{}", applied.body);
    assert!(
        alice
            .get(&format!("/projects/{id}"))
            .await
            .body
            .contains("2.5 GB"),
        "the pending application reads in GB"
    );
    let admin = app.admin().await;
    let application = application_id_in(&admin.get("/admin/reviews").await.body);
    let done = admin
        .post_form(&format!("/admin/reviews/{application}/approve"), &[])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(stored().await.quota.ram_mib, 64 * 1024 + 2560);
    let all = admin.get("/admin/projects").await;
    assert!(
        all.body.contains(r#"name="ram" type="text" value="66.5""#),
        "the revise form is prefilled in GB: {}",
        all.body
    );

    let over = admin
        .post_form(
            &format!("/admin/projects/{id}/revise"),
            &[
                ("gpu", "3"),
                ("cpu", "16"),
                ("ram", "16384.1"),
                ("storage", "100"),
                ("start", &day(0)),
                ("end", &day(30)),
            ],
        )
        .await;
    assert_eq!(over.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(over.body.contains("from 0 to 16,384"), "{}", over.body);
    assert_eq!(stored().await.quota.ram_mib, 64 * 1024 + 2560);
}
