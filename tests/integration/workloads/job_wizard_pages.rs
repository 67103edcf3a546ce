//! The job wizard and the job template pages over HTTP (real cookies and
//! CSRF): bad input beside its field on its step with nothing created, a
//! job created from catalog ids only, "Save as template" refused for a
//! custom image choice and done for a public one, a template edited and
//! deleted only by those the policy allows, in both languages.

use super::*;

/// The wizard's form as `bob` would fill it on its last step.
fn job_form<'a>(spec: &'a str, image: &'a str, command: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("step", "3"),
        ("name", "hello"),
        ("gpu_type", ""),
        ("spec", spec),
        ("image_source", "public"),
        ("image", image),
        ("version", "24.04"),
        ("command", command),
        ("env", "GREETING=hi"),
        ("time_limit", ""),
        ("shm_mb", "64"),
        ("go", "create"),
    ]
}

fn with<'a>(
    mut form: Vec<(&'static str, &'a str)>,
    field: &'static str,
    value: &'a str,
) -> Vec<(&'static str, &'a str)> {
    match form.iter_mut().find(|pair| pair.0 == field) {
        Some(pair) => pair.1 = value,
        None => form.push((field, value)),
    }
    form
}

#[tokio::test]
async fn the_job_wizard_refuses_bad_input_creates_jobs_and_saves_templates() {
    let lab = lab().await;
    let project = lab.project.to_string();
    let hello = crate::authz::sample_template(&lab.app, "carol", &project, "echo hi").await;
    let template = lab
        .services
        .job_template(&lab.carol, hello)
        .await
        .expect("the template");
    let (spec, image) = (template.spec.to_string(), template.image.to_string());
    let bob = lab.client("bob").await;
    bob.get(&format!("/projects/{project}")).await;
    let jobs = || async {
        lab.services
            .project_workloads(&lab.bob, lab.project)
            .await
            .expect("workloads")
            .len()
    };
    let before = jobs().await;

    // Bad input: beside its field, on its step, nothing created.
    let long = "x".repeat(64 * 1024 + 1);
    for (field, value, step) in [
        ("name", "Hello", "1"),
        ("command", "   ", "1"),
        ("command", long.as_str(), "1"),
        ("time_limit", "0", "2"),
        ("time_limit", "ten", "2"),
        ("env", "no equals sign", "2"),
        ("spec", "not-a-spec", "1"),
    ] {
        let page = bob
            .post_form(
                "/jobs/new",
                &with(job_form(&spec, &image, "echo hi"), field, value),
            )
            .await;
        assert_eq!(page.status, 422, "{field}: {}", page.body);
        assert!(
            page.body
                .contains(&format!("name=\"step\" value=\"{step}\"")),
            "{field} on step {step}: {}",
            page.body
        );
        assert!(
            page.body.contains(&format!("id=\"{field}-error\"")),
            "{field}: {}",
            page.body
        );
    }
    assert_eq!(jobs().await, before, "nothing created");

    // Next checks only the steps so far.
    let next = bob
        .post_form(
            "/jobs/new",
            &with(
                with(job_form(&spec, &image, "echo hi"), "step", "1"),
                "go",
                "next",
            ),
        )
        .await;
    assert_eq!(next.status, 200, "{}", next.body);
    assert!(
        next.body.contains("name=\"step\" value=\"2\""),
        "{}",
        next.body
    );

    // Create: the job, on the job list.
    let created = bob
        .post_form(
            "/jobs/new",
            &job_form(&spec, &image, "echo \"Hello World\""),
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    assert_eq!(created.location(), Some("/jobs"));
    assert_eq!(jobs().await, before + 1);
    let list = bob.get("/jobs").await;
    assert!(list.body.contains("hello"), "{}", list.body);

    // Save as template: a custom image cannot be kept; a public one is.
    let custom = bob
        .post_form(
            "/jobs/new",
            &with(
                with(job_form(&spec, &image, "echo hi"), "image_source", "custom"),
                "go",
                "template",
            ),
        )
        .await;
    assert_eq!(custom.status, 422, "{}", custom.body);
    assert!(custom.body.contains("public image"), "{}", custom.body);
    let saved = bob
        .post_form(
            "/jobs/new",
            &with(
                with(job_form(&spec, &image, "echo hi"), "name", "nightly"),
                "go",
                "schedule",
            ),
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let to = saved.location().unwrap_or_default().to_owned();
    assert!(to.starts_with("/jobs/schedules/new?template="), "{to}");
    let schedule_form = bob.get(&to).await;
    let chosen = to.trim_start_matches("/jobs/schedules/new?template=");
    assert!(
        schedule_form.body.contains(&format!(
            "<option value=\"{chosen}\" selected>nightly</option>"
        )),
        "{}",
        schedule_form.body
    );
    assert_eq!(jobs().await, before + 1, "saving a template runs nothing");

    // The template list and page; carol's template: bob sees it, but may
    // neither edit nor delete it (no buttons, and 403).
    let list = bob.get("/advanced/job-templates").await;
    assert_eq!(list.status, 200, "{}", list.body);
    for words in ["nightly", "hello", "ubuntu:24.04", "carol", "bob"] {
        assert!(list.body.contains(words), "{words}: {}", list.body);
    }
    let carols = format!("/advanced/job-templates/{hello}");
    let page = bob.get(&carols).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("Run job with schedule") && !page.body.contains("/edit\""),
        "{}",
        page.body
    );
    assert_eq!(bob.get(&format!("{carols}/edit")).await.status, 403);
    let refused = bob
        .post_form(&format!("{carols}/delete"), &[("confirm", "yes")])
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);

    // Its owner edits it (bad input beside its field), then deletes it.
    let carol = lab.client("carol").await;
    carol.get(&format!("/projects/{project}")).await;
    let edit = carol.get(&format!("{carols}/edit")).await;
    assert_eq!(edit.status, 200, "{}", edit.body);
    let bad = carol
        .post_form(
            &format!("{carols}/edit"),
            &with(job_form(&spec, &image, "echo bye"), "name", "Bad Name"),
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    let good = carol
        .post_form(
            &format!("{carols}/edit"),
            &job_form(&spec, &image, "echo bye"),
        )
        .await;
    assert_eq!(good.status, 303, "{}", good.body);
    assert!(carol.get(&carols).await.body.contains("echo bye"));
    let deleted = carol
        .post_form(&format!("{carols}/delete"), &[("confirm", "yes")])
        .await;
    assert_eq!(deleted.status, 303, "{}", deleted.body);
    assert_eq!(carol.get(&carols).await.status, 404);

    // In Traditional Chinese.
    bob.post_form("/account/language", &[("language", "zh-TW")])
        .await;
    let zh = bob.get("/jobs/new").await;
    assert!(
        zh.body.contains("建立工作") && zh.body.contains("時間限制"),
        "{}",
        zh.body
    );
    let zh = bob.get("/advanced/job-templates").await;
    assert!(zh.body.contains("工作範本"), "{}", zh.body);
}
