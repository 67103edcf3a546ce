//! Issue 9's "Done when" as a browser journey on the local driver (real
//! sandboxed processes), in English (bob, light theme) and in Traditional
//! Chinese (carol, dark theme): a member creates a container with shared
//! memory and a mounted volume through the wizard, types a command into its
//! web terminal and reads the output, opens its HTTP service through
//! mlstack's proxy, saves it as a project image, starts a second container
//! from that image through the wizard's Custom option (it serves the file
//! the first one wrote) and deletes both; the manager batch-creates
//! containers for two members in one step; the other member cannot open
//! any of them (404).

use std::time::Duration;

use reqwest::StatusCode;

use mlstack::domain::catalog::ImageRequest;
use mlstack::domain::ids::UserId;
use mlstack::domain::workload::{VolumeSpec, WorkloadId};
use mlstack::store::custom_images::CustomImageRecord;
use mlstack::store::workloads::WorkloadSpec;

use crate::common::Client;
use crate::common::browser::{Browser, ENTER};
use crate::container_wizard::{Wizard, wait_running, wizard};

const WAIT: Duration = Duration::from_secs(30);

/// A service answering every GET with a small page of the working
/// directory's `hello.txt` (or "no file yet"), under any path (the proxy
/// keeps its prefix).
const FILE_SERVICE: &str = "custom: exec python3 -c \"import http.server as s,os;H=type('H',(s.BaseHTTPRequestHandler,),{'do_GET':lambda h:(h.send_response(200),h.send_header('Content-Type','text/html; charset=utf-8'),h.end_headers(),h.wfile.write(b'<!doctype html><html lang=en><title>hello</title><main><p>'+(open('hello.txt','rb').read() if os.path.exists('hello.txt') else b'no file yet')+b'</p></main></html>'))});s.ThreadingHTTPServer(('127.0.0.1',int(os.environ['PORT'])),H).serve_forever()\"";

struct Labels {
    switch_to: Option<&'static str>,
    theme: &'static str,
    html_lang: &'static str,
    custom: &'static str,
    overview: &'static str,
}

const ENGLISH: Labels = Labels {
    switch_to: None,
    theme: "Light",
    html_lang: "en",
    custom: "Custom",
    overview: "Overview",
};

const CHINESE: Labels = Labels {
    switch_to: Some("繁體中文"),
    theme: "Dark",
    html_lang: "zh-TW",
    custom: "自訂",
    overview: "總覽",
};

/// A browser logged in as `user`, in the journey's theme and language.
async fn browser(w: &Wizard, l: &Labels, user: &str, password: &str) -> Browser {
    let b = Browser::start(&w.app.url).await;
    b.log_in(user, password).await;
    b.user_menu(l.theme).await;
    if let Some(label) = l.switch_to {
        b.user_menu(label).await;
    }
    b
}

/// Clicks the wizard's button `go` (next, create) and waits for the page.
async fn go(b: &Browser, go: &str) {
    b.submit(&format!("form.wizard button[value='{go}']"), go)
        .await;
    b.check_accessibility().await;
}

/// The id of the project's container called `name`.
async fn container_named(w: &Wizard, name: &str) -> WorkloadId {
    w.containers()
        .await
        .iter()
        .find(|r| r.spec.name() == Some(name))
        .map(|r| r.id())
        .unwrap_or_else(|| panic!("no container {name}"))
}

/// Polls until `user` may use the project image `name`.
async fn wait_image(w: &Wizard, user: &str, name: &str) -> CustomImageRecord {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let usable = w
            .services
            .usable_custom_images(w.user(user), w.project)
            .await
            .expect("usable images");
        if let Some(image) = usable.into_iter().find(|i| i.image.name == name) {
            return image;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} never became Ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls until the container is gone from the project.
async fn wait_gone(w: &Wizard, id: WorkloadId) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while w.containers().await.iter().any(|r| r.id() == id) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{id} was not deleted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Opens the container's service through mlstack's proxy until it shows `text`.
async fn wait_service_shows(b: &Browser, id: WorkloadId, text: &str) {
    let path = format!("/containers/{id}/services/custom-8000/");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        b.goto(&path).await;
        if b.text().await.contains(text) {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            b.fail(&format!("{path} never showed {text:?}")).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Deletes the container through its confirmation page.
async fn delete(b: &Browser, w: &Wizard, id: WorkloadId) {
    b.goto(&format!("/containers/{id}/delete")).await;
    b.click("#delete-form input[name=confirm]").await;
    b.submit("button[form=delete-form]", "the container list")
        .await;
    b.wait_for_path("/containers").await;
    wait_gone(w, id).await;
}

/// Everything `other` may not open of container `id`: all 404.
async fn refused_to(other: &Client, id: WorkloadId) {
    for path in [
        format!("/containers/{id}"),
        format!("/containers/{id}/terminal"),
        format!("/containers/{id}/services/custom-8000/"),
    ] {
        assert_eq!(
            other.get(&path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

async fn journey(l: &Labels, user: &str) {
    let w = wizard().await;
    let image = w
        .services
        .create_image(&ImageRequest {
            name: "files".into(),
            versions: "1".into(),
            ssh_login: "password".into(),
            services: "custom 8000 http the working directory's hello.txt".into(),
            local_commands: FILE_SERVICE.into(),
        })
        .await
        .expect("image");
    // The member's own volume (bob owns the fixture's `data`).
    let me = w.user(user).clone();
    if user != "bob" {
        w.services
            .create_volume(
                &me,
                VolumeSpec {
                    project: w.project,
                    owner: me.id,
                    name: "data2".into(),
                    storage_class: String::new(),
                    size_gib: 1,
                    clone_of: None,
                },
            )
            .await
            .expect("volume");
    }
    let (password, other_client) = match user {
        "bob" => (w.passwords.0.clone(), &w.carol),
        _ => (w.passwords.1.clone(), &w.bob),
    };
    let b = browser(&w, l, user, &password).await;

    // The wizard: shared memory and a mounted volume.
    b.goto("/containers/new").await;
    assert_eq!(b.html_attr("lang").await.as_deref(), Some(l.html_lang));
    b.click("#f-accept_terms").await;
    go(&b, "next").await;
    b.fill("f-name", "work").await;
    b.click(&format!("#f-spec-{}", w.cpu_spec)).await;
    b.set_value("#f-image", &image.id.to_string()).await;
    b.set_value("#f-version", "1").await;
    go(&b, "next").await;
    b.click("#f-shm").await;
    b.set_value("#f-shm_mb", "256").await;
    b.click("#f-mount-0").await;
    go(&b, "next").await;
    let overview = b.text_of("#wizard-step-4").await;
    assert!(overview.contains(l.overview), "{overview}");
    assert!(overview.contains("/workspace/data"), "{overview}");
    b.submit("form.wizard button[value='create']", "the container list")
        .await;
    b.wait_for_path("/containers").await;
    let first = container_named(&w, "work").await;
    wait_running(&w.services, &me, first).await;
    let record = w
        .services
        .workload(&me, first)
        .await
        .expect("the container");
    let WorkloadSpec::Container(spec) = &record.spec else {
        panic!("a container");
    };
    assert_eq!(spec.resources.shm_mib, 256);
    assert_eq!(spec.volumes.len(), 1);

    // The web terminal: a file written in the working directory.
    b.goto(&format!("/containers/{first}/terminal")).await;
    b.wait_until(
        "the terminal to connect",
        "return document.getElementById('terminal-status').textContent \
           === document.getElementById('terminal').dataset.connected;",
        vec![],
    )
    .await;
    b.fill_in(
        ".xterm-helper-textarea",
        "cd $MLSTACK_WORKDIR && echo done-when-$((6*7)) > hello.txt && cat hello.txt",
    )
    .await;
    b.press(ENTER).await;
    b.wait_until(
        "the command's output in the terminal",
        "return document.querySelector('.xterm-rows').textContent.indexOf('done-when-42') >= 0;",
        vec![],
    )
    .await;

    // Its HTTP service through mlstack's proxy.
    wait_service_shows(&b, first, "done-when-42").await;

    // Saved as a project image.
    b.goto(&format!("/containers/{first}/image")).await;
    b.check_accessibility().await;
    b.fill("f-name", "Done").await;
    b.fill("f-image_name", "done").await;
    b.fill("f-tag", "v1").await;
    b.click("input[name=image_type][value=project]").await;
    b.submit("form.image-form button[type=submit]", "the custom images")
        .await;
    let saved = wait_image(&w, user, "done").await;

    // A second container from it through the wizard's Custom option.
    b.goto("/containers/new").await;
    assert!(b.text().await.contains(l.custom));
    assert!(b.exists("#f-image_source-custom").await);
    b.fill("f-name", "again").await;
    b.click(&format!("#f-spec-{}", w.cpu_spec)).await;
    b.click("#f-image_source-custom").await;
    assert!(
        b.execute(
            "return document.querySelector('.wizard-source[data-source=public]').hidden;",
            vec![],
        )
        .await
        .as_bool()
            == Some(true),
        "the public images are hidden once Custom is chosen"
    );
    b.click(&format!("#f-custom_image-{}", saved.id)).await;
    go(&b, "next").await;
    go(&b, "next").await;
    let overview = b.text_of("#wizard-step-4").await;
    assert!(overview.contains("done:v1"), "{overview}");
    b.submit("form.wizard button[value='create']", "the container list")
        .await;
    b.wait_for_path("/containers").await;
    let second = container_named(&w, "again").await;
    wait_running(&w.services, &me, second).await;
    // It starts from the saved working directory.
    wait_service_shows(&b, second, "done-when-42").await;

    // The other member cannot open either.
    refused_to(other_client, first).await;
    refused_to(other_client, second).await;

    delete(&b, &w, second).await;
    delete(&b, &w, first).await;
    b.close().await;

    // The manager batch-creates one container for each member in one step.
    let b = browser(&w, l, "alice", &w.manager_password).await;
    b.goto("/containers/new").await;
    b.click("#f-accept_terms").await;
    go(&b, "next").await;
    b.fill("f-name", "team").await;
    b.click(&format!("#f-spec-{}", w.cpu_spec)).await;
    b.set_value("#f-image", &image.id.to_string()).await;
    b.set_value("#f-version", "1").await;
    go(&b, "next").await;
    let (bob, carol) = (w.user("bob").id, w.user("carol").id);
    b.fill(&format!("f-batch_{bob}"), "1").await;
    b.fill(&format!("f-batch_{carol}"), "1").await;
    go(&b, "next").await;
    b.submit("form.wizard button[value='create']", "the container list")
        .await;
    b.wait_for_path("/containers").await;
    b.close().await;
    // (The project's workloads also hold the saved image's commit.)
    let mut team = w.containers().await;
    team.retain(|r| matches!(r.spec, WorkloadSpec::Container(_)));
    assert_eq!(team.len(), 2, "one container for each member");
    assert!(
        team.iter()
            .all(|r| r.spec.name().is_some_and(|n| n.starts_with("team-")))
    );
    let owned_by = |owner: UserId| {
        team.iter()
            .find(|r| r.spec.owner() == owner)
            .map(|r| r.id())
            .expect("a container of each member")
    };
    let (bobs, carols) = (owned_by(bob), owned_by(carol));
    // Neither member opens the other's.
    refused_to(&w.carol, bobs).await;
    refused_to(&w.bob, carols).await;
}

#[tokio::test]
async fn done_when_a_member_journey_and_a_manager_batch_in_english() {
    journey(&ENGLISH, "bob").await;
}

#[tokio::test]
async fn done_when_a_member_journey_and_a_manager_batch_in_chinese() {
    journey(&CHINESE, "carol").await;
}
