//! The Done-when's schedule part in headless Chromium, in both languages:
//! with a template that prints "Hello World" (made through the use case;
//! its job then sleeps, so that the next day's run overlaps it), a member
//! schedules it every day at 20:00 Asia/Taipei between two dates, reads the
//! 10-trigger preview that `schedule-form.js` asks for as the fields
//! change, saves, and with the manual clock advanced watches the first run
//! appear on the job list, linked to its schedule, and the next trigger
//! skipped by single thread in the history.

use jiff::{SignedDuration, Timestamp};
use mlstack::clock::Clock;

use super::*;
use crate::common::browser::Browser;

/// Opens `path`, signing in again when the session ended while the clock
/// moved on.
async fn visit(b: &Browser, lab: &Lab, path: &str) {
    b.goto(path).await;
    if b.exists("#f-username").await {
        b.log_in("bob", &lab.passwords["bob"]).await;
        b.goto(path).await;
    }
}

/// Moves the manual clock to `at` (plus a few seconds).
fn advance_to(lab: &Lab, at: &str) {
    let at: Timestamp = at.parse().expect("a time");
    lab.app
        .advance(at.duration_since(lab.app.clock.now()) + SignedDuration::from_secs(5));
}

/// Opens `path` until its text holds `text` (the schedule loop runs on its
/// own tick).
async fn until_text(b: &Browser, lab: &Lab, path: &str, text: &str) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        visit(b, lab, path).await;
        if b.text().await.contains(text) {
            return;
        }
        if std::time::Instant::now() > deadline {
            b.fail(&format!("{path} never showed {text:?}")).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_member_schedules_hello_world_every_evening_in_taipei_and_watches_its_runs() {
    let lab = lab().await;
    let project = lab.project.to_string();
    crate::authz::sample_template(&lab.app, "bob", &project, "echo \"Hello World\"; sleep 600")
        .await;
    let b = Browser::start(&lab.app.url).await;
    b.log_in("bob", &lab.passwords["bob"]).await;
    visit(&b, &lab, &format!("/projects/{project}")).await;
    visit(&b, &lab, "/jobs/schedules").await;
    b.wait_for_text("No job schedules yet.").await;
    b.follow("+ Create schedule").await;

    // The trigger fields, the zone and the window; the preview follows.
    b.fill("f-name", "nightly").await;
    b.set_value("#f-hour", "20").await;
    b.set_value("#f-minute", "0").await;
    b.set_value("#f-zone", "Asia/Taipei").await;
    b.set_value("#f-start", "2026-12-01T00:00").await;
    b.set_value("#f-end", "2026-12-31T23:59").await;
    let expected: Vec<String> = (1..=10)
        .map(|day| format!("2026/12/{day:02} 20:00 (Asia/Taipei)"))
        .collect();
    b.wait_until(
        "the live preview of the 10 trigger times",
        "var items = document.querySelectorAll('#schedule-preview li'); \
         return items.length === 10 && items[0].textContent === arguments[0];",
        vec![serde_json::json!(expected[0])],
    )
    .await;
    let shown = b
        .execute(
            "return Array.from(document.querySelectorAll('#schedule-preview li')).map(function (li) { return li.textContent; });",
            vec![],
        )
        .await;
    assert_eq!(shown, serde_json::json!(expected));
    // A bad minute: the preview says why, from the endpoint.
    b.set_value("#f-minute", "61").await;
    b.wait_until(
        "the preview's message for a bad minute",
        "return document.getElementById('schedule-preview').textContent.indexOf('Enter a minute from 0 to 59.') >= 0;",
        vec![],
    )
    .await;
    b.set_value("#f-minute", "0").await;
    b.check_accessibility().await;
    b.submit("button[value='save']", "the saved schedule").await;
    b.wait_for_text("Every day at 20:00").await;
    let schedule = b.path().await;
    assert!(schedule.starts_with("/jobs/schedules/"), "{schedule}");
    b.wait_for_text("2026/12/01 20:00 (Asia/Taipei)").await;

    // The job list shows the upcoming run.
    visit(&b, &lab, "/jobs").await;
    b.wait_for_text("Upcoming scheduled runs").await;
    b.wait_for_text("nightly · 2026/12/01 20:00 (Asia/Taipei)")
        .await;

    // 20:00 in Taipei on 1 December: the first run, on the job list,
    // linked to its schedule.
    advance_to(&lab, "2026-12-01T12:00:00Z");
    until_text(&b, &lab, "/jobs", "nightly-1").await;
    b.wait_for_text("Schedule · nightly").await;
    b.follow("nightly").await;
    assert_eq!(b.path().await, schedule);

    // The next evening the first run still sleeps: single thread skips.
    advance_to(&lab, "2026-12-02T12:00:00Z");
    until_text(
        &b,
        &lab,
        &schedule,
        "Skipped: the previous run was still queued or running",
    )
    .await;
    b.wait_for_text("2026/12/02 20:00 (Asia/Taipei)").await;
    b.wait_for_text("2026/12/03 20:00 (Asia/Taipei)").await;
    b.check_accessibility().await;

    // The same in Traditional Chinese.
    b.user_menu("繁體中文").await;
    visit(&b, &lab, &schedule).await;
    b.wait_for_text("已略過：前一次執行仍在排隊或執行中").await;
    b.wait_for_text("每天 20:00").await;
    visit(&b, &lab, &format!("{schedule}/edit")).await;
    b.set_value("#f-hour", "21").await;
    b.wait_until(
        "the preview in Chinese at 21:00",
        "return document.getElementById('schedule-preview').textContent.indexOf('2026/12/03 21:00 (Asia/Taipei)') >= 0;",
        vec![],
    )
    .await;
    b.wait_for_text("接下來 10 次觸發時間").await;
    b.close().await;
}
