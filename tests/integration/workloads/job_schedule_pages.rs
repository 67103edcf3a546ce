//! The job schedule pages over HTTP (real cookies and CSRF): the form's
//! server-side preview with exact trigger times, bad input beside its
//! field with nothing saved, create, list (search), detail with the run
//! history once a trigger fired, edit, who may see and change a schedule,
//! both languages, and delete after confirmation.

use jiff::SignedDuration;
use mlstack::clock::Clock;
use mlstack::domain::ids::JobScheduleId;

use super::*;

/// The schedule form as `bob` would fill it: every day at 20:00 in
/// Asia/Taipei through December 2026.
fn nightly<'a>(template: &'a str, go: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("name", "nightly"),
        ("description", "Hello every evening"),
        ("template", template),
        ("month", "*"),
        ("switch", "day"),
        ("days", "*"),
        ("hour", "20"),
        ("minute", "0"),
        ("cron", ""),
        ("zone", "Asia/Taipei"),
        ("start", "2026-12-01T00:00"),
        ("end", "2026-12-31T23:59"),
        ("concurrency", "single"),
        ("go", go),
    ]
}

/// `form` with `field` set to `value`.
fn with<'a>(
    mut form: Vec<(&'static str, &'a str)>,
    field: &str,
    value: &'a str,
) -> Vec<(&'static str, &'a str)> {
    for pair in &mut form {
        if pair.0 == field {
            pair.1 = value;
        }
    }
    form
}

#[tokio::test]
async fn a_member_schedules_a_template_through_the_pages_and_sees_its_runs() {
    let lab = lab().await;
    let project = lab.project.to_string();
    let template = crate::authz::sample_template(&lab.app, "bob", &project, "echo \"Hello World\"")
        .await
        .to_string();
    let bob = lab.client("bob").await;
    bob.get(&format!("/projects/{project}")).await;

    let list = bob.get("/jobs/schedules").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.contains("No job schedules yet."), "{}", list.body);
    let new = bob.get("/jobs/schedules/new").await;
    assert_eq!(new.status, 200, "{}", new.body);
    let option = format!("<option value=\"{template}\">hello</option>");
    for words in [
        option.as_str(),
        "<option value=\"Asia/Taipei\"",
        "schedule-form.js",
        "data-preview=\"/jobs/schedules/preview\"",
    ] {
        assert!(new.body.contains(words), "{words}: {}", new.body);
    }

    // "Show trigger times" without JS: the next 10, exactly, nothing saved.
    let preview = bob
        .post_form("/jobs/schedules/new", &nightly(&template, "preview"))
        .await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    for day in 1..=10 {
        let time = format!("<li>2026/12/{day:02} 20:00 (Asia/Taipei)</li>");
        assert!(preview.body.contains(&time), "{time}: {}", preview.body);
    }
    assert!(!preview.body.contains("2026/12/11 20:00"), "only 10");
    // A window without a trigger says so.
    let empty = bob
        .post_form(
            "/jobs/schedules/new",
            &with(
                with(nightly(&template, "preview"), "start", "2026-12-01T20:01"),
                "end",
                "2026-12-02T19:59",
            ),
        )
        .await;
    assert!(
        empty.body.contains("The window holds no trigger time"),
        "{}",
        empty.body
    );

    // Bad input: the real limit beside the field, nothing saved.
    for (field, value, message) in [
        ("minute", "61", "Enter a minute from 0 to 59."),
        ("hour", "24", "Choose hours from 0 to 23, or every hour."),
        (
            "days",
            "32",
            "Choose days of the month from 1 to 31, or every day.",
        ),
        ("zone", "Mars/Olympus", "Not a known time zone"),
        (
            "end",
            "2026-11-30T00:00",
            "The end time must not be before the start time.",
        ),
        (
            "cron",
            "0 20 * *",
            "A cron expression has exactly five fields",
        ),
        ("name", "Nightly Run", "wizard"),
    ] {
        let refused = bob
            .post_form(
                "/jobs/schedules/new",
                &with(nightly(&template, "save"), field, value),
            )
            .await;
        assert_eq!(refused.status, 422, "{field}: {}", refused.body);
        if field != "name" {
            assert!(refused.body.contains(message), "{field}: {}", refused.body);
        }
        assert!(refused.body.contains("field-error"), "{field}");
    }
    let list = bob.get("/jobs/schedules").await;
    assert!(list.body.contains("No job schedules yet."), "nothing saved");

    // Saved: its page, then the list.
    let saved = bob
        .post_form("/jobs/schedules/new", &nightly(&template, "save"))
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let at = saved.location().expect("to the schedule").to_owned();
    let id: JobScheduleId = at
        .trim_start_matches("/jobs/schedules/")
        .parse()
        .expect("a schedule id");
    let detail = bob.get(&at).await;
    assert_eq!(detail.status, 200, "{}", detail.body);
    for words in [
        "Every day at 20:00",
        "0 20 * * *",
        "2026/12/01 20:00 (Asia/Taipei)",
        "Single thread",
        "hello",
        "No trigger has come yet.",
    ] {
        assert!(detail.body.contains(words), "{words}: {}", detail.body);
    }
    let list = bob.get("/jobs/schedules").await;
    for words in [
        "nightly",
        "hello",
        "Every day at 20:00",
        "2026/12/01 20:00 (Asia/Taipei)",
    ] {
        assert!(list.body.contains(words), "{words}: {}", list.body);
    }
    // The job list shows the next run, linked to its schedule.
    let jobs = bob.get("/jobs").await;
    for words in [
        "Upcoming scheduled runs",
        &format!("href=\"{at}\">nightly</a> · 2026/12/01 20:00 (Asia/Taipei)"),
    ] {
        assert!(jobs.body.contains(words), "{words}: {}", jobs.body);
    }
    let found = bob.get("/jobs/schedules?q=night").await;
    assert!(found.body.contains(&at), "{}", found.body);
    let missed = bob.get("/jobs/schedules?q=zzz").await;
    assert!(
        missed.body.contains("No job schedule matches the search."),
        "{}",
        missed.body
    );

    // Another member sees it and may not change it; a non-member does not
    // see it.
    let carol = lab.client("carol").await;
    assert_eq!(carol.get(&at).await.status, 200);
    assert_eq!(carol.get(&format!("{at}/edit")).await.status, 403);
    let dave = lab.client("dave").await;
    assert_eq!(dave.get(&at).await.status, 404);

    // The trigger comes: the history links its job.
    let first = "2026-12-01T12:00:00Z"
        .parse::<jiff::Timestamp>()
        .expect("time");
    lab.app
        .advance(first.duration_since(lab.app.clock.now()) + SignedDuration::from_secs(5));
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let record = lab.services.job_schedule(&lab.bob, id).await.expect("it");
        if !record.history.is_empty() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the trigger fired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let bob = lab.client("bob").await;
    bob.get(&format!("/projects/{project}")).await;
    let detail = bob.get(&at).await;
    for words in [
        "data-outcome=\"started\"",
        "2026/12/01 20:00 (Asia/Taipei)",
        "href=\"/jobs/",
        "2026/12/02 20:00 (Asia/Taipei)",
    ] {
        assert!(detail.body.contains(words), "{words}: {}", detail.body);
    }

    // The run is on the job list, linked back to its schedule.
    let jobs = bob.get("/jobs").await;
    for words in [
        "nightly-1",
        &format!("Schedule · <a href=\"{at}\">nightly</a>"),
        "nightly</a> · 2026/12/02 20:00 (Asia/Taipei)",
    ] {
        assert!(jobs.body.contains(words), "{words}: {}", jobs.body);
    }

    // Edit: the fields come back; a cron expression replaces them.
    let edit = bob.get(&format!("{at}/edit")).await;
    assert_eq!(edit.status, 200, "{}", edit.body);
    assert!(
        edit.body
            .contains("name=\"hour\" type=\"text\" value=\"20\""),
        "{}",
        edit.body
    );
    let changed = bob
        .post_form(
            &format!("{at}/edit"),
            &with(nightly(&template, "save"), "cron", "30 9 * * 1,5"),
        )
        .await;
    assert_eq!(changed.status, 303, "{}", changed.body);
    let detail = bob.get(&at).await;
    assert!(
        detail.body.contains("Monday, Friday at 09:30"),
        "{}",
        detail.body
    );

    // In Traditional Chinese.
    let zh = bob
        .post_form("/account/language", &[("language", "zh-TW")])
        .await;
    assert!(zh.status.is_redirection(), "{}", zh.body);
    let list = bob.get("/jobs/schedules").await;
    assert!(list.body.contains("星期一、星期五 09:30"), "{}", list.body);
    assert!(list.body.contains("單執行緒"), "{}", list.body);

    // Delete: only confirmed; its job stays.
    let unconfirmed = bob.post_form(&format!("{at}/delete"), &[]).await;
    assert_eq!(unconfirmed.status, 409);
    let deleted = bob
        .post_form(&format!("{at}/delete"), &[("confirm", "yes")])
        .await;
    assert_eq!(deleted.status, 303);
    assert_eq!(bob.get(&at).await.status, 404);
    let jobs = bob.get("/jobs").await;
    assert!(jobs.body.contains("nightly-1"), "{}", jobs.body);
    assert!(!jobs.body.contains("upcoming-title"), "{}", jobs.body);
}
