//! Issue 11's "Done when", its storage part, as a browser journey on the
//! local driver (real sandboxed processes): bob creates a project-readable
//! storage on Storage Management, mounts it in a container through the
//! wizard and writes to it from the web terminal; carol, his teammate,
//! mounts it in hers, where the wizard says it is read-only, reads bob's
//! file and cannot write (the shell's own error); the storage's detail
//! names both containers.

use mlstack::domain::workload::WorkloadId;
use mlstack::store::workloads::WorkloadSpec;

use crate::common::browser::{Browser, ENTER};
use crate::container_wizard::{Wizard, wait_running, wizard};

async fn container_named(w: &Wizard, name: &str) -> WorkloadId {
    w.containers()
        .await
        .iter()
        .find(|r| r.spec.name() == Some(name))
        .map(|r| r.id())
        .unwrap_or_else(|| panic!("no container {name}"))
}

/// Creates the container `name` of the wizard's CPU spec and image with
/// the storage `storage` mounted; its id once Running.
async fn container_with(
    w: &Wizard,
    b: &Browser,
    user: &str,
    name: &str,
    storage: &str,
) -> WorkloadId {
    b.goto("/containers/new").await;
    if b.exists("#f-accept_terms").await {
        b.click("#f-accept_terms").await;
    }
    b.submit("form.wizard button[value='next']", "step 2").await;
    b.fill("f-name", name).await;
    b.click(&format!("#f-spec-{}", w.cpu_spec)).await;
    b.set_value("#f-image", &w.image).await;
    b.set_value("#f-version", "24.04").await;
    b.submit("form.wizard button[value='next']", "step 3").await;
    b.click(&format!("input[name='mount'][value='{storage}']"))
        .await;
    b.submit("form.wizard button[value='next']", "step 4").await;
    let overview = b.text_of("#wizard-step-4").await;
    assert!(
        overview.contains(&format!("/workspace/{storage}")),
        "{overview}"
    );
    b.submit("form.wizard button[value='create']", "the container list")
        .await;
    b.wait_for_path("/containers").await;
    let id = container_named(w, name).await;
    wait_running(&w.services, w.user(user), id).await;
    id
}

/// Types `command` into the container's web terminal and waits for
/// `expect` in its output.
async fn in_terminal(b: &Browser, id: WorkloadId, command: &str, expect: &str) {
    b.goto(&format!("/containers/{id}/terminal")).await;
    b.wait_until(
        "the terminal to connect",
        "return document.getElementById('terminal-status').textContent \
           === document.getElementById('terminal').dataset.connected;",
        vec![],
    )
    .await;
    b.fill_in(".xterm-helper-textarea", command).await;
    b.press(ENTER).await;
    b.wait_until(
        &format!("{expect:?} in the terminal"),
        "return document.querySelector('.xterm-rows').textContent.indexOf(arguments[0]) >= 0;",
        vec![serde_json::json!(expect)],
    )
    .await;
}

#[tokio::test]
async fn done_when_a_project_readable_storage_is_read_only_for_a_teammate() {
    let w = wizard().await;
    let storage_type = w
        .services
        .create_storage_type(&mlstack::domain::catalog::StorageTypeRequest {
            name: "NFS".into(),
            storage_class: "nfs".into(),
            min_gib: "1".into(),
            max_gib: "50".into(),
        })
        .await
        .expect("a storage type");

    // Bob: the storage, then a container that mounts it and writes to it.
    let bob = Browser::start(&w.app.url).await;
    bob.log_in("bob", &w.passwords.0).await;
    bob.goto(&format!("/storage?project={}", w.project)).await;
    bob.click("details.storage-create > summary").await;
    bob.fill("f-name", "results").await;
    bob.set_value("#f-storage_type", &storage_type.id.to_string())
        .await;
    bob.click("input[name='permission'][value='project_read_only']")
        .await;
    bob.submit("form.storage-form button[type='submit']", "the list")
        .await;
    bob.wait_until(
        "the storage Available in its row",
        "return document.querySelector('tbody[data-poll]').textContent.includes('Available');",
        vec![],
    )
    .await;
    let writer = container_with(&w, &bob, "bob", "writer", "results").await;
    in_terminal(
        &bob,
        writer,
        "echo from-bob-$((6*7)) > /workspace/results/bob.txt && echo written-$((1+1))",
        "written-2",
    )
    .await;

    // Carol: her container mounts it read-only; she reads, cannot write.
    let carol = Browser::start(&w.app.url).await;
    carol.log_in("carol", &w.passwords.1).await;
    let reader = container_with(&w, &carol, "carol", "reader", "results").await;
    let record = w
        .services
        .workload(w.user("carol"), reader)
        .await
        .expect("her container");
    let WorkloadSpec::Container(spec) = &record.spec else {
        panic!("a container");
    };
    assert!(spec.volumes[0].read_only, "stored read-only");
    in_terminal(
        &carol,
        reader,
        "cat /workspace/results/bob.txt",
        "from-bob-42",
    )
    .await;
    in_terminal(
        &carol,
        reader,
        "touch /workspace/results/carol.txt || echo refused-$((2+3))",
        "refused-5",
    )
    .await;
    let rows = carol.text_of(".xterm-rows").await;
    assert!(rows.contains("Read-only file system"), "{rows}");
    in_terminal(
        &bob,
        writer,
        "test ! -e /workspace/results/carol.txt && echo absent-$((3+4))",
        "absent-7",
    )
    .await;

    // The storage's detail names both containers; it is In use.
    let id = w
        .services
        .project_volumes(w.user("bob"), w.project)
        .await
        .expect("the storages")
        .into_iter()
        .find(|v| v.spec.name == "results")
        .expect("results")
        .id;
    bob.goto(&format!("/storage?project={}&selected={id}", w.project))
        .await;
    let detail = bob.text_of("#detail").await;
    assert!(
        detail.contains("writer") && detail.contains("reader") && detail.contains("In use"),
        "{detail}"
    );
    bob.close().await;
    carol.close().await;
}
