//! The Done-when's job and template part in headless Chromium with the
//! local driver (real processes): a member creates a job that runs
//! `echo "Hello World"` through the job wizard (/jobs/new), reads "Hello
//! World" in its log, saves it as a job template from the job's page, opens
//! "Run job with schedule" from the template, schedules it every day at
//! 20:00 Asia/Taipei between two dates and reads the 10-trigger preview;
//! "Run job" fills the wizard with the template and a serial name; and a job
//! submitted past the project's quota shows its place and reason on the job
//! list (at 400 px) and starts by itself once the member deletes the
//! container holding the quota; the pages in Traditional Chinese.

use mlstack::domain::catalog::{HardwareSpecRequest, ImageRequest};

use super::*;
use crate::common::browser::Browser;

/// Opens `path` until its text holds `text` (the reconcile loop runs on
/// its own).
async fn until_text(b: &Browser, path: &str, text: &str) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        b.goto(path).await;
        if b.text().await.contains(text) {
            return;
        }
        if std::time::Instant::now() > deadline {
            b.fail(&format!("{path} never showed {text:?}")).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Fills the wizard's first step: `name`, CPU only with `spec`, the public
/// image, `command`.
async fn fill_job(b: &Browser, name: &str, spec: &str, image: &str, command: &str) {
    b.fill("f-name", name).await;
    b.click(&format!("#f-spec-{spec}")).await;
    b.set_value("#f-image", image).await;
    b.set_value("#f-version", "24.04").await;
    b.fill("f-command", command).await;
}

#[tokio::test]
async fn a_member_runs_hello_world_through_the_wizard_saves_it_as_a_template_and_schedules_it() {
    let lab = lab().await;
    let services = &lab.services;
    let project = lab.project.to_string();
    let small = services
        .create_hardware_spec(&HardwareSpecRequest {
            name: "c1".into(),
            cpu_cores: "0.5".into(),
            ram_gb: "1".into(),
            gpu_type: String::new(),
            price: "2".into(),
        })
        .await
        .expect("a spec");
    let large = services
        .create_hardware_spec(&HardwareSpecRequest {
            name: "c2".into(),
            cpu_cores: "2".into(),
            ram_gb: "1".into(),
            gpu_type: String::new(),
            price: "5".into(),
        })
        .await
        .expect("a spec");
    let image = services
        .create_image(&ImageRequest {
            name: "ubuntu".into(),
            versions: "24.04".into(),
            ssh_login: "password".into(),
            services: String::new(),
            local_commands: String::new(),
        })
        .await
        .expect("an image");
    let (small, large, image) = (
        small.id.to_string(),
        large.id.to_string(),
        image.id.to_string(),
    );

    let b = Browser::start(&lab.app.url).await;
    b.log_in("bob", &lab.passwords["bob"]).await;
    b.goto(&format!("/projects/{project}")).await;
    b.goto("/jobs").await;
    b.follow("+ Create job").await;
    b.wait_for_path("/jobs/new").await;

    // Create Job: a bad name and an empty command stay on the step.
    b.fill("f-name", "Hello World").await;
    b.submit("button[value='next']", "the first step again")
        .await;
    b.wait_for_text("Please correct the fields marked below.")
        .await;
    fill_job(&b, "hello", &small, &image, "echo \"Hello World\"").await;
    b.wait_until(
        "the hourly cost of the chosen spec",
        "return document.getElementById('wizard-cost-value').textContent.indexOf(' 2') >= 0;",
        vec![],
    )
    .await;
    b.check_accessibility().await;
    b.submit("button[value='next']", "Advanced Settings").await;
    b.wait_for_text("Time limit (minutes)").await;
    b.fill("f-time_limit", "30").await;
    b.submit("button[value='next']", "the Schedule step").await;
    b.wait_for_text("30 minutes").await;
    assert!(b.text().await.contains("echo \"Hello World\""));
    b.check_accessibility().await;
    b.submit("button[value='create']", "the job list").await;
    b.wait_for_path("/jobs").await;
    b.wait_for_text("hello").await;

    // Its log says Hello World.
    b.follow("hello").await;
    let job = b.path().await;
    assert!(job.starts_with("/jobs/"), "{job}");
    until_text(&b, &format!("{job}?tab=log"), "Hello World").await;

    // Save as template, from the job's page: the form is filled from it.
    b.goto(&job).await;
    b.follow("Save as template").await;
    assert_eq!(b.value_of("#f-name").await, "hello");
    assert_eq!(b.value_of("#f-command").await, "echo \"Hello World\"");
    b.check_accessibility().await;
    b.submit("form.wizard button.primary", "the template's page")
        .await;
    b.wait_for_text("Template Detail").await;
    let template = b.path().await;
    let template_id = template
        .trim_start_matches("/advanced/job-templates/")
        .to_owned();
    b.wait_for_text("ubuntu:24.04").await;
    b.goto("/advanced/job-templates").await;
    b.wait_for_text("hello").await;
    b.wait_for_text("ubuntu:24.04").await;

    // Run job: the wizard filled from the template, a serial name.
    b.goto(&template).await;
    b.follow("Run job").await;
    assert_eq!(b.value_of("#f-name").await, "hello1");
    assert_eq!(b.value_of("#f-command").await, "echo \"Hello World\"");

    // Run job with schedule: the schedule form with the template chosen.
    b.goto(&template).await;
    b.follow("Run job with schedule").await;
    assert_eq!(b.value_of("#f-template").await, template_id);
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
        "the 10 trigger times",
        "var items = document.querySelectorAll('#schedule-preview li'); \
         return items.length === 10 && items[9].textContent === arguments[0];",
        vec![serde_json::json!(expected[9])],
    )
    .await;
    b.submit("button[value='save']", "the saved schedule").await;
    b.wait_for_text("Every day at 20:00").await;

    // The schedule uses the template: deleting it is refused, naming it.
    let bob = lab.client("bob").await;
    let refused = bob
        .post_form(&format!("{template}/delete"), &[("confirm", "yes")])
        .await;
    assert!(
        refused.body.contains("used by the job schedule nightly"),
        "{}: {}",
        refused.status,
        refused.body
    );
    b.goto("/advanced/job-templates").await;
    b.wait_for_text("hello").await;

    // Past the quota: the job waits with its place and reason, then starts
    // by itself when the container holding the cores is deleted.
    let mut big = container(lab.project, "big");
    big.resources = Resources {
        cpu_milli: 15_000,
        ram_mib: 1024,
        shm_mib: 0,
        gpu: None,
    };
    let big = services
        .create_container(&lab.bob, big)
        .await
        .expect("container");
    b.goto("/jobs/new").await;
    fill_job(&b, "later", &large, &image, "echo queued").await;
    b.submit("button[value='next']", "Advanced Settings").await;
    b.submit("button[value='next']", "the Schedule step").await;
    b.submit("button[value='create']", "the job list").await;
    b.wait_for_path("/jobs").await;
    b.wait_for_text("Queued").await;
    b.wait_for_text("#1 in the queue").await;
    b.wait_for_text("needs 2 CPU cores").await;
    b.resize(400, 900).await;
    b.check_accessibility().await;
    // The member deletes the container on its confirmation page.
    b.goto(&format!("/containers/{big}/delete")).await;
    b.click("#delete-form input[name='confirm']").await;
    b.submit("button[form='delete-form']", "the container list")
        .await;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        b.goto("/jobs").await;
        if !b.text().await.contains("#1 in the queue") {
            break;
        }
        if std::time::Instant::now() > deadline {
            b.fail("the queued job never started").await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // The wizard and the templates in Traditional Chinese.
    b.user_menu("繁體中文").await;
    b.goto("/jobs/new").await;
    b.wait_for_text("一行或多行 shell 指令，最多 64 KiB").await;
    b.check_accessibility().await;
    b.goto(&template).await;
    b.wait_for_text("範本詳細資料").await;
    b.wait_for_text("以排程執行工作").await;
    b.close().await;
}
