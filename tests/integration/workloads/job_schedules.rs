//! Job templates and job schedules through the use cases of a running
//! appliance (local driver, real sandboxed processes) under the manual
//! clock: templates' bad inputs, "Run job", a template in use, the preview,
//! schedules firing (single thread skips an overlapping run, multi thread
//! overlaps), a run missed while the server was down firing once, late, at
//! start, and a deleted schedule firing no more. The schedule loop's step
//! is called at chosen moments; the server's own loop may run it too, and
//! either way a trigger fires once.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use mlstack::clock::Clock;
use mlstack::domain::catalog::{HardwareSpecRequest, ImageRequest};
use mlstack::domain::ids::{JobScheduleId, JobTemplateId};
use mlstack::service::schedules::{JobScheduleForm, JobTemplateForm};
use mlstack::store::job_schedules::{JobScheduleRecord, RunOutcome};
use mlstack::worker::schedules::ScheduleLoop;

use super::*;

fn minutes(m: i64) -> SignedDuration {
    SignedDuration::from_mins(m)
}

/// `t` as the forms type it: `YYYY-MM-DDTHH:MM` in Asia/Taipei.
fn taipei(t: Timestamp) -> String {
    t.to_zoned(TimeZone::get("Asia/Taipei").expect("zone"))
        .strftime("%Y-%m-%dT%H:%M")
        .to_string()
}

/// The catalog a template names: a CPU-only spec and an image.
struct Items {
    spec: String,
    image: String,
}

async fn items(lab: &Lab) -> Items {
    let services = &lab.services;
    let spec = services
        .create_hardware_spec(&HardwareSpecRequest {
            name: "c1".into(),
            cpu_cores: "0.5".into(),
            ram_gb: "1".into(),
            gpu_type: String::new(),
            price: "2".into(),
        })
        .await
        .expect("spec");
    let image = services
        .create_image(&ImageRequest {
            name: "ubuntu".into(),
            versions: "24.04".into(),
            ssh_login: "password".into(),
            services: String::new(),
            local_commands: String::new(),
        })
        .await
        .expect("image");
    Items {
        spec: spec.id.to_string(),
        image: image.id.to_string(),
    }
}

fn template_form(items: &Items, name: &str, command: &str) -> JobTemplateForm {
    JobTemplateForm {
        name: name.into(),
        gpu_type: String::new(),
        gpu_count: String::new(),
        spec: items.spec.clone(),
        image: items.image.clone(),
        version: "24.04".into(),
        env: "GREETING=Hello World".into(),
        command: command.into(),
        shm_mb: String::new(),
    }
}

/// A schedule of `template` firing every minute from an hour ago to a day
/// ahead.
fn schedule_form(lab: &Lab, name: &str, template: JobTemplateId, mode: &str) -> JobScheduleForm {
    let now = lab.app.clock.now();
    JobScheduleForm {
        name: name.into(),
        description: "every minute".into(),
        template: template.to_string(),
        zone: "Asia/Taipei".into(),
        start: taipei(now - SignedDuration::from_hours(1)),
        end: taipei(now + SignedDuration::from_hours(24)),
        cron: "* * * * *".into(),
        concurrency: mode.into(),
    }
}

fn field_error(result: Result<impl std::fmt::Debug, ServiceError>, field: &str) -> &'static str {
    match result {
        Err(ServiceError::Invalid(errors)) => errors
            .get(field)
            .unwrap_or_else(|| panic!("no error for {field}: {errors:?}")),
        other => panic!("expected an invalid form, got {other:?}"),
    }
}

async fn schedule(lab: &Lab, id: JobScheduleId) -> JobScheduleRecord {
    lab.services
        .job_schedule(&lab.bob, id)
        .await
        .expect("schedule")
}

/// The schedule once `runs` triggers are recorded in its history (the
/// server's own loop may be the one that fired them).
async fn settled(lab: &Lab, id: JobScheduleId, runs: usize) -> JobScheduleRecord {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let record = schedule(lab, id).await;
        if record.history.len() >= runs {
            assert_eq!(record.history.len(), runs, "{:?}", record.history);
            return record;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {runs} runs recorded",
            record.history.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The project's jobs that `schedule` started.
async fn jobs_of(lab: &Lab, schedule: JobScheduleId) -> Vec<WorkloadRecord> {
    lab.services
        .project_workloads(&lab.alice, lab.project)
        .await
        .expect("workloads")
        .into_iter()
        .filter(|w| matches!(&w.spec, mlstack::store::workloads::WorkloadSpec::Job(j) if matches!(&j.origin, mlstack::domain::workload::JobOrigin::Schedule { schedule: s, .. } if *s == schedule)))
        .collect()
}

#[tokio::test]
async fn a_template_is_checked_run_as_a_job_and_kept_while_a_schedule_uses_it() {
    let lab = lab().await;
    let items = items(&lab).await;
    let (services, bob) = (&lab.services, &lab.bob);

    // Bad inputs: nothing is stored.
    let long = format!("echo {}", "x".repeat(64 * 1024));
    let bad = [
        (template_form(&items, "Hello_1", "echo hi"), "name"),
        (template_form(&items, "hello", &long), "command"),
        (template_form(&items, "hello", "  "), "command"),
        (
            JobTemplateForm {
                version: "99".into(),
                ..template_form(&items, "hello", "echo hi")
            },
            "version",
        ),
        (
            JobTemplateForm {
                spec: JobTemplateId::generate().to_string(),
                ..template_form(&items, "hello", "echo hi")
            },
            "spec",
        ),
        (
            JobTemplateForm {
                env: "1BAD=x".into(),
                ..template_form(&items, "hello", "echo hi")
            },
            "env",
        ),
    ];
    for (form, field) in bad {
        let result = services.create_job_template(bob, lab.project, form).await;
        field_error(result, field);
    }
    assert!(
        services
            .job_templates(bob, lab.project)
            .await
            .expect("list")
            .is_empty()
    );

    // A command of exactly 64 KiB is accepted.
    let exact = format!("echo {}", "x".repeat(64 * 1024 - 5));
    assert_eq!(exact.len(), 64 * 1024);
    let big = services
        .create_job_template(bob, lab.project, template_form(&items, "big", &exact))
        .await
        .expect("64 KiB command");
    let hello = services
        .create_job_template(
            bob,
            lab.project,
            template_form(&items, "hello", "echo \"$GREETING\""),
        )
        .await
        .expect("template");
    field_error(
        services
            .create_job_template(bob, lab.project, template_form(&items, "hello", "true"))
            .await,
        "name",
    );
    let listed = services
        .job_templates(&lab.carol, lab.project)
        .await
        .expect("list");
    assert_eq!(
        listed.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["big", "hello"],
        "members see the project's templates"
    );
    assert!(matches!(
        services.job_templates(&lab.dave, lab.project).await,
        Err(ServiceError::NotFound)
    ));
    // Carol may not edit or delete bob's template; alice (manager) may.
    assert!(matches!(
        services.delete_job_template(&lab.carol, big).await,
        Err(ServiceError::Forbidden)
    ));
    services
        .update_job_template(&lab.alice, big, template_form(&items, "bigger", "echo big"))
        .await
        .expect("edit");
    assert_eq!(
        services
            .job_template(bob, big)
            .await
            .expect("template")
            .name,
        "bigger"
    );

    // Run job: named after the template with a serial (letters and
    // digits, the job name rule).
    let name = services.next_run_name(bob, hello).await.expect("name");
    assert_eq!(name, "hello1");
    let job = services
        .run_job_template(bob, hello, &name)
        .await
        .expect("run");
    assert_eq!(
        services.next_run_name(bob, hello).await.expect("name"),
        "hello2"
    );
    let record = services.workload(bob, job).await.expect("job");
    match &record.spec {
        mlstack::store::workloads::WorkloadSpec::Job(spec) => {
            assert_eq!(spec.command, "echo \"$GREETING\"");
            assert_eq!(
                spec.env.get("GREETING").map(String::as_str),
                Some("Hello World")
            );
            assert_eq!(spec.resources.cpu_milli, 500);
            assert_eq!(spec.image.to_string(), "ubuntu:24.04");
            assert_eq!(
                spec.origin,
                mlstack::domain::workload::JobOrigin::Immediately
            );
        }
        other => panic!("not a job: {other:?}"),
    }

    // In use by a schedule: the refusal names it.
    let form = schedule_form(&lab, "nightly", hello, "single");
    let nightly = services
        .create_job_schedule(bob, lab.project, form)
        .await
        .expect("schedule");
    match services.delete_job_template(bob, hello).await {
        Err(ServiceError::InUse { name, .. }) => assert_eq!(name, "nightly"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    services
        .delete_job_schedule(bob, nightly)
        .await
        .expect("delete schedule");
    services
        .delete_job_template(bob, hello)
        .await
        .expect("delete template");
    assert!(matches!(
        services.job_template(bob, hello).await,
        Err(ServiceError::NotFound)
    ));
}

#[tokio::test]
async fn bad_schedules_are_refused_beside_their_field_and_an_empty_window_is_saved() {
    let lab = lab().await;
    let items = items(&lab).await;
    let (services, bob) = (&lab.services, &lab.bob);
    let template = services
        .create_job_template(bob, lab.project, template_form(&items, "hello", "true"))
        .await
        .expect("template");
    let good = schedule_form(&lab, "nightly", template, "single");
    let bad = [
        (
            JobScheduleForm {
                cron: "0 25 * * *".into(),
                ..good.clone()
            },
            "cron",
        ),
        (
            JobScheduleForm {
                cron: "0 20 * *".into(),
                ..good.clone()
            },
            "cron",
        ),
        (
            JobScheduleForm {
                zone: "Mars/Olympus".into(),
                ..good.clone()
            },
            "zone",
        ),
        (
            JobScheduleForm {
                end: good.start.clone(),
                start: good.end.clone(),
                ..good.clone()
            },
            "end",
        ),
        (
            JobScheduleForm {
                start: "tomorrow".into(),
                ..good.clone()
            },
            "start",
        ),
        (
            JobScheduleForm {
                template: JobTemplateId::generate().to_string(),
                ..good.clone()
            },
            "template",
        ),
        (
            JobScheduleForm {
                concurrency: "both".into(),
                ..good.clone()
            },
            "concurrency",
        ),
        (
            JobScheduleForm {
                name: "Nightly!".into(),
                ..good.clone()
            },
            "name",
        ),
    ];
    for (form, field) in bad {
        field_error(
            services.create_job_schedule(bob, lab.project, form).await,
            field,
        );
    }

    // A template of another project is not a target.
    let other = mlstack::domain::project::ProjectForm {
        name: "Other".into(),
        start: "2026-11-29".into(),
        end: "2027-01-31".into(),
        purpose: String::new(),
        description: "another study".into(),
        managers: vec!["alice".into()],
        members: vec!["bob".into()],
    };
    let other = services
        .apply_project(&lab.alice, &other)
        .await
        .expect("apply");
    let quota = mlstack::domain::quota::Resources {
        gpu_milli: 0,
        cpu_milli: 4000,
        ram_mib: 8192,
        storage_gib: 0,
    };
    crate::common::approve_first_application(services, &lab.admin, quota).await;
    let foreign = services
        .create_job_template(bob, other, template_form(&items, "foreign", "true"))
        .await
        .expect("template of the other project");
    field_error(
        services
            .create_job_schedule(
                bob,
                lab.project,
                JobScheduleForm {
                    template: foreign.to_string(),
                    ..good.clone()
                },
            )
            .await,
        "template",
    );
    assert!(
        services
            .job_schedules(bob, lab.project)
            .await
            .expect("list")
            .is_empty()
    );

    // The 30th of February: no trigger; the preview says so and it saves.
    let never = JobScheduleForm {
        cron: "0 20 30 2 *".into(),
        ..good.clone()
    };
    let preview = services
        .schedule_preview(&never.cron, &never.zone, &never.start, &never.end)
        .expect("preview");
    assert!(preview.times.is_empty());
    let id = services
        .create_job_schedule(bob, lab.project, never)
        .await
        .expect("saved");
    assert_eq!(schedule(&lab, id).await.next_run, None);

    // The preview of the manual's example: every day at 20:00 Taipei.
    let now = lab.app.clock.now();
    let preview = services
        .schedule_preview(
            "0 20 * * *",
            "Asia/Taipei",
            &taipei(now),
            &taipei(now + SignedDuration::from_hours(24 * 30)),
        )
        .expect("preview");
    assert_eq!(preview.times.len(), 10);
    // The clock starts at 16:00 in Taipei: the first is today at 20:00.
    assert_eq!(
        preview.times[0].strftime("%Y-%m-%d %H:%M %Z").to_string(),
        "2026-11-29 20:00 CST"
    );
    assert!(
        services
            .schedule_preview("0 20 * * *", "Nowhere/City", "", "")
            .is_err()
    );
}

#[tokio::test]
async fn single_thread_skips_a_trigger_while_its_run_goes_on_and_multi_thread_overlaps() {
    let lab = lab().await;
    let items = items(&lab).await;
    let (services, bob) = (&lab.services, &lab.bob);
    let template = services
        .create_job_template(
            bob,
            lab.project,
            template_form(&items, "sleepy", "sleep 600"),
        )
        .await
        .expect("template");
    // Half a minute past: a trigger time is never "now" itself.
    lab.app.advance(SignedDuration::from_secs(30));
    let single = services
        .create_job_schedule(
            bob,
            lab.project,
            schedule_form(&lab, "single", template, "single"),
        )
        .await
        .expect("single");
    let multi = services
        .create_job_schedule(
            bob,
            lab.project,
            schedule_form(&lab, "multi", template, "multi"),
        )
        .await
        .expect("multi");
    let now = lab.app.clock.now();
    let next = schedule(&lab, single).await.next_run.expect("a next run");
    assert!(next >= now && next < now + minutes(1), "{next}");
    let step = ScheduleLoop::new(services.clone());

    // The first trigger: one job each, named after the schedule.
    lab.app.advance(minutes(1));
    step.step().await.expect("step");
    settled(&lab, single, 1).await;
    settled(&lab, multi, 1).await;
    let first = jobs_of(&lab, single).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].spec.name(), Some("single-1"));
    assert_eq!(first[0].spec.owner(), bob.id);
    assert_eq!(jobs_of(&lab, multi).await.len(), 1);

    // The next trigger: single thread skips (its job still sleeps), multi
    // thread starts a second.
    lab.app.advance(minutes(1));
    step.step().await.expect("step");
    let history = settled(&lab, single, 2).await.history;
    settled(&lab, multi, 2).await;
    step.step().await.expect("a second step finds nothing due");
    assert_eq!(jobs_of(&lab, single).await.len(), 1);
    assert_eq!(jobs_of(&lab, multi).await.len(), 2);
    assert!(matches!(
        history[0].outcome,
        RunOutcome::Started { late: false, .. }
    ));
    assert_eq!(
        history[1].outcome,
        RunOutcome::Skipped {
            previous: first[0].id()
        }
    );
    assert!(
        schedule(&lab, multi)
            .await
            .history
            .iter()
            .all(|run| matches!(run.outcome, RunOutcome::Started { .. }))
    );

    // Once the run has ended, single thread starts the next.
    services
        .cancel_job(bob, first[0].id())
        .await
        .expect("cancel");
    let deadline = std::time::Instant::now() + WAIT;
    while !services
        .workload(bob, first[0].id())
        .await
        .expect("job")
        .status()
        .is_terminal()
    {
        assert!(std::time::Instant::now() < deadline, "the job never ended");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    lab.app.advance(minutes(1));
    step.step().await.expect("step");
    settled(&lab, single, 3).await;
    settled(&lab, multi, 3).await;
    assert_eq!(jobs_of(&lab, single).await.len(), 2);
    assert_eq!(jobs_of(&lab, multi).await.len(), 3);

    // A deleted schedule fires no more.
    services
        .delete_job_schedule(bob, multi)
        .await
        .expect("delete");
    lab.app.advance(minutes(1));
    step.step().await.expect("step");
    settled(&lab, single, 4).await;
    assert_eq!(jobs_of(&lab, multi).await.len(), 3, "no new job");
}

#[tokio::test]
async fn runs_missed_while_the_server_was_down_fire_once_late_at_start() {
    let lab = lab().await;
    let items = items(&lab).await;
    let bob = lab.bob.clone();
    let template = lab
        .services
        .create_job_template(&bob, lab.project, template_form(&items, "quick", "true"))
        .await
        .expect("template");
    lab.app.advance(SignedDuration::from_secs(30));
    let id = lab
        .services
        .create_job_schedule(
            &bob,
            lab.project,
            schedule_form(&lab, "every", template, "multi"),
        )
        .await
        .expect("schedule");

    // Down for three hours: 180 triggers pass while nothing runs.
    let Lab { app, services, .. } = lab;
    drop(services);
    let app = app.restart_after(SignedDuration::from_hours(3));
    let services = app.services();
    let deadline = std::time::Instant::now() + WAIT;
    let record = loop {
        let record = services.job_schedule(&bob, id).await.expect("schedule");
        if !record.history.is_empty() {
            break record;
        }
        assert!(std::time::Instant::now() < deadline, "no run at start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(record.history.len(), 1, "{:?}", record.history);
    assert!(matches!(
        record.history[0].outcome,
        RunOutcome::Started { late: true, .. }
    ));
    let now = app.clock.now();
    assert!(record.next_run.is_some_and(|next| next > now));
    // More steps at the same moment fire nothing more.
    let step = ScheduleLoop::new(services.clone());
    step.step().await.expect("step");
    let record = services.job_schedule(&bob, id).await.expect("schedule");
    assert_eq!(record.history.len(), 1);
    assert_eq!(record.runs, 1);
}

#[tokio::test]
async fn the_preview_answers_json_for_the_fields_or_a_cron_expression() {
    let lab = lab().await;
    let client = lab.app.client();
    client.login_ok("bob", &lab.passwords["bob"]).await;
    let window = "zone=Asia%2FTaipei&start=2026-11-29T00%3A00&end=2027-01-31T00%3A00";
    let json = |body: &str| -> serde_json::Value { serde_json::from_str(body).expect("JSON") };

    // Every day at 20:00, from the form's fields.
    let page = client
        .get(&format!(
            "/jobs/schedules/preview?month=*&switch=day&days=*&hour=20&minute=0&{window}"
        ))
        .await;
    assert_eq!(page.status, reqwest::StatusCode::OK, "{}", page.body);
    let answer = json(&page.body);
    assert_eq!(answer["cron"], "0 20 * * *");
    let times = answer["times"].as_array().expect("times");
    assert_eq!(times.len(), 10);
    assert_eq!(times[0]["local"], "2026/11/29 20:00 (Asia/Taipei)");
    assert_eq!(times[0]["offset"], "+08");
    assert_eq!(times[0]["utc"], "2026-11-29T12:00:00Z");
    assert_eq!(times[9]["local"], "2026/12/08 20:00 (Asia/Taipei)");
    assert!(answer["empty"].is_null());

    // A cron expression takes the place of the fields.
    let page = client
        .get(&format!("/jobs/schedules/preview?cron=0+9+*+*+1&{window}"))
        .await;
    let answer = json(&page.body);
    assert_eq!(
        answer["times"][0]["local"],
        "2026/11/30 09:00 (Asia/Taipei)"
    );

    // No trigger in the window: said in words.
    let page = client
        .get(&format!("/jobs/schedules/preview?cron=0+0+30+2+*&{window}"))
        .await;
    assert_eq!(page.status, reqwest::StatusCode::OK);
    let answer = json(&page.body);
    assert_eq!(answer["times"].as_array().map(Vec::len), Some(0));
    assert!(
        answer["empty"]
            .as_str()
            .is_some_and(|s| s.contains("no trigger"))
    );

    // Bad input: 422 naming each field, nothing else.
    for (query, field) in [
        (format!("cron=0+25+*+*+*&{window}"), "cron"),
        (
            format!("month=13&switch=day&days=*&hour=1&minute=0&{window}"),
            "month",
        ),
        (
            "cron=0+1+*+*+*&zone=Nowhere&start=2026-11-29T00%3A00&end=2027-01-31T00%3A00"
                .to_owned(),
            "zone",
        ),
        (
            "cron=0+1+*+*+*&zone=UTC&start=2027-01-31T00%3A00&end=2026-11-29T00%3A00".to_owned(),
            "end",
        ),
    ] {
        let page = client
            .get(&format!("/jobs/schedules/preview?{query}"))
            .await;
        assert_eq!(
            page.status,
            reqwest::StatusCode::UNPROCESSABLE_ENTITY,
            "{query}"
        );
        let answer = json(&page.body);
        assert!(
            answer["errors"][field].is_string(),
            "{query}: {}",
            page.body
        );
    }

    // Signed out: no answer.
    let page = lab
        .app
        .client()
        .get(&format!("/jobs/schedules/preview?cron=0+9+*+*+1&{window}"))
        .await;
    assert_ne!(page.status, reqwest::StatusCode::OK);
}

#[tokio::test]
async fn a_run_that_cannot_start_is_recorded_and_mailed_to_the_schedules_owner() {
    let lab = lab().await;
    let items = items(&lab).await;
    let (services, bob) = (&lab.services, &lab.bob);
    let template = services
        .create_job_template(bob, lab.project, template_form(&items, "hello", "echo hi"))
        .await
        .expect("template");
    lab.app.advance(SignedDuration::from_secs(30));
    let nightly = services
        .create_job_schedule(
            bob,
            lab.project,
            schedule_form(&lab, "nightly", template, "single"),
        )
        .await
        .expect("schedule");
    // The admin retires the template's hardware spec: the next run fails.
    let spec = items.spec.parse().expect("spec id");
    services
        .set_hardware_spec_retired(spec, true)
        .await
        .expect("retire");
    lab.app.advance(minutes(1));
    ScheduleLoop::new(services.clone())
        .step()
        .await
        .expect("step");
    let history = settled(&lab, nightly, 1).await.history;
    assert_eq!(
        history[0].outcome,
        RunOutcome::Failed {
            reason: "schedule.run.catalog_retired".into()
        }
    );
    assert!(jobs_of(&lab, nightly).await.is_empty());
    let mails: Vec<_> = services
        .outbox_page(1, usize::MAX)
        .await
        .map(|page| page.mails)
        .expect("outbox")
        .into_iter()
        .filter(|m| m.to_user == bob.id && m.subject.contains("nightly"))
        .collect();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(
        mails[0]
            .body
            .contains("The template's hardware spec, GPU type or image is no longer offered."),
        "{}",
        mails[0].body
    );
}

#[tokio::test]
async fn schedules_due_together_fire_in_one_step_and_one_refused_run_leaves_the_others() {
    let lab = lab().await;
    let items = items(&lab).await;
    let (services, bob) = (&lab.services, &lab.bob);
    let template = services
        .create_job_template(bob, lab.project, template_form(&items, "hello", "echo hi"))
        .await
        .expect("template");
    lab.app.advance(SignedDuration::from_secs(30));
    let mut schedules = Vec::new();
    for name in ["nightly", "weekly", "daily"] {
        let id = services
            .create_job_schedule(
                bob,
                lab.project,
                schedule_form(&lab, name, template, "multi"),
            )
            .await
            .expect("schedule");
        schedules.push(id);
    }
    // A job already has the name nightly's first run would take.
    let first = services
        .run_job_template(bob, template, "hello1")
        .await
        .expect("a job");
    let mlstack::store::workloads::WorkloadSpec::Job(mut taken) =
        services.workload(bob, first).await.expect("job").spec
    else {
        panic!("a job");
    };
    taken.meta.name = "nightly-1".into();
    services.create_job(bob, taken).await.expect("nightly-1");

    lab.app.advance(minutes(1));
    let report = ScheduleLoop::new(services.clone())
        .step()
        .await
        .expect("step");
    assert_eq!((report.started, report.failed), (2, 1), "{report:?}");
    let nightly = settled(&lab, schedules[0], 1).await;
    assert_eq!(
        nightly.history[0].outcome,
        RunOutcome::Failed {
            reason: "workload.error.name_taken".into()
        }
    );
    assert!(jobs_of(&lab, schedules[0]).await.is_empty());
    for (id, name) in [(schedules[1], "weekly-1"), (schedules[2], "daily-1")] {
        let record = settled(&lab, id, 1).await;
        assert!(
            matches!(record.history[0].outcome, RunOutcome::Started { .. }),
            "{:?}",
            record.history
        );
        let jobs = jobs_of(&lab, id).await;
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].spec.name(), Some(name));
    }
}
