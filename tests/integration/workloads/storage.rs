//! Storage Management (manual §5.7) over HTTP with cookies and CSRF, and
//! mounts that honour a storage's permission in real sandboxed processes of
//! the local driver: a project-read-only storage is written by its owner
//! and only read by a teammate; a personal one is mounted by no one else;
//! a permission change or a deletion that would break a mount is refused
//! with the containers named.

use mlstack::domain::catalog::StorageTypeRequest;
use mlstack::domain::storage::StoragePermission;
use mlstack::service::storage::CreateStorageRequest;
use mlstack::store::volumes::VolumeDesired;
use reqwest::StatusCode;

use super::*;
use crate::common::Client;

/// `name` signed in over HTTP.
async fn signed_in(lab: &Lab, name: &str) -> Client {
    let client = lab.app.client();
    client.login_ok(name, &lab.passwords[name]).await;
    client
}

/// The admin's storage type "NFS" of 1 to 50 GB; its id.
async fn nfs(lab: &Lab) -> String {
    lab.services
        .create_storage_type(&StorageTypeRequest {
            name: "NFS".into(),
            storage_class: "nfs".into(),
            min_gib: "1".into(),
            max_gib: "50".into(),
        })
        .await
        .expect("a storage type")
        .id
        .to_string()
}

/// The id in the `selected=` of a redirect after a creation.
fn selected_in(location: &str) -> VolumeId {
    let at = location
        .find("selected=")
        .expect("the new storage selected")
        + "selected=".len();
    location[at..at + 36].parse().expect("a storage id")
}

async fn create(lab: &Lab, client: &Client, fields: &[(&str, &str)]) -> crate::common::Page {
    let project = lab.project.to_string();
    let mut form = vec![("project", project.as_str())];
    form.extend_from_slice(fields);
    client.post_form(paths_storage(), &form).await
}

fn paths_storage() -> &'static str {
    mlstack::web::paths::STORAGE
}

/// Polls until the storage is ready in the cluster.
async fn wait_ready(services: &Services, viewer: &UserRecord, id: VolumeId) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let volume = services.volume(viewer, id).await.expect("the storage");
        if volume.ready {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not ready in time: {volume:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls until a clone is copied: the reconcile loop asks the driver again
/// a second later on the appliance's (manual) clock, so the clock moves on
/// and a pass runs.
async fn wait_copied(lab: &Lab, viewer: &UserRecord, id: VolumeId) {
    let deadline = tokio::time::Instant::now() + WAIT;
    let reconciler = lab.app.reconciler();
    loop {
        let volume = lab.services.volume(viewer, id).await.expect("the clone");
        if volume.ready {
            assert_eq!(volume.copy_percent, None, "no progress once copied");
            break;
        }
        assert!(volume.error.is_none(), "{volume:?}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "not copied in time: {volume:?}"
        );
        lab.app.advance(jiff::SignedDuration::from_secs(1));
        reconciler.step().await.expect("a pass");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn storage_is_created_listed_and_shared_as_its_permission_says() {
    let lab = lab().await;
    let nfs = nfs(&lab).await;
    let bob = signed_in(&lab, "bob").await;
    let carol = signed_in(&lab, "carol").await;
    let list = format!("/storage?project={}", lab.project);

    let empty = bob.get(&list).await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.body);
    assert!(empty.body.contains("No storage yet"));
    assert!(empty.body.contains("NFS (1–50 GB)"));

    // Bad input: every field named, nothing created.
    let refused = create(
        &lab,
        &bob,
        &[
            ("name", "Shared Data"),
            ("storage_type", &nfs),
            ("size", "51"),
            ("permission", "everyone"),
        ],
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    for message in [
        "Use 1 to 40 lowercase letters and digits",
        "Enter a whole number of GB",
        "Choose one of the three permissions.",
    ] {
        assert!(
            refused.body.contains(message),
            "{message}: {}",
            refused.body
        );
    }
    assert!(
        refused.body.contains("value=\"Shared Data\""),
        "the input kept"
    );
    let unknown_type = create(
        &lab,
        &bob,
        &[
            ("name", "data"),
            ("storage_type", "nope"),
            ("permission", "personal"),
        ],
    )
    .await;
    assert_eq!(unknown_type.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        unknown_type
            .body
            .contains("Choose one of the storage types.")
    );
    let none = lab.services.project_volumes(&lab.alice, lab.project).await;
    assert!(none.expect("list").is_empty(), "nothing was created");

    // A project-read-only storage of the type's default size, and a
    // personal one.
    let created = create(
        &lab,
        &bob,
        &[
            ("name", "shared"),
            ("storage_type", &nfs),
            ("size", ""),
            ("permission", "project_read_only"),
        ],
    )
    .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let shared = selected_in(created.location().expect("a redirect"));
    let record = lab.services.volume(&lab.bob, shared).await.expect("stored");
    assert_eq!(record.spec.size_gib, 1, "the type's default");
    assert_eq!(record.spec.storage_class, "nfs");
    assert_eq!(record.permission, StoragePermission::ProjectReadOnly);
    let mine = create(
        &lab,
        &bob,
        &[
            ("name", "mine"),
            ("storage_type", &nfs),
            ("size", "5"),
            ("permission", "personal"),
        ],
    )
    .await;
    assert_eq!(mine.status, StatusCode::SEE_OTHER, "{}", mine.body);
    let mine = selected_in(mine.location().expect("a redirect"));
    let taken = create(
        &lab,
        &bob,
        &[
            ("name", "shared"),
            ("storage_type", &nfs),
            ("permission", "personal"),
        ],
    )
    .await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Bob sees both with his delete; carol sees the shared one only, may
    // not change it, and is told her containers mount it read-only.
    let bobs = bob.get(&format!("{list}&selected={shared}")).await.body;
    assert!(bobs.contains(">shared<") && bobs.contains(">mine<"));
    assert!(bobs.contains("Readable by project") && bobs.contains("5 GB"));
    assert!(bobs.contains(&format!("/storage/{shared}/delete")));
    let carols = carol.get(&format!("{list}&selected={shared}")).await.body;
    assert!(carols.contains(">shared<") && !carols.contains(">mine<"));
    assert!(carols.contains("mount this storage read-only"));
    assert!(!carols.contains(&format!("/storage/{shared}/delete")));
    let yes = [("confirm", "yes")];
    let carol_delete = carol
        .post_form(&format!("/storage/{shared}/delete"), &yes)
        .await;
    assert_eq!(carol_delete.status, StatusCode::FORBIDDEN);
    let carol_change = carol
        .post_form(
            &format!("/storage/{shared}/permission"),
            &[("permission", "personal")],
        )
        .await;
    assert_eq!(carol_change.status, StatusCode::FORBIDDEN);
    let hidden = carol
        .post_form(&format!("/storage/{mine}/delete"), &yes)
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    let dave = signed_in(&lab, "dave").await;
    assert_eq!(dave.get(&list).await.status, StatusCode::NOT_FOUND);
    let record = lab.services.volume(&lab.bob, shared).await.expect("kept");
    assert_eq!(record.permission, StoragePermission::ProjectReadOnly);

    // A deletion needs the dialog's confirmation; then it is Deleting.
    let unconfirmed = bob.post_form(&format!("/storage/{mine}/delete"), &[]).await;
    assert_eq!(unconfirmed.status, StatusCode::UNPROCESSABLE_ENTITY);
    let deleted = bob
        .post_form(&format!("/storage/{mine}/delete"), &yes)
        .await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER, "{}", deleted.body);
    if let Ok(record) = lab.services.volume(&lab.bob, mine).await {
        assert_eq!(record.desired, VolumeDesired::Deleted);
    }

    // The admin cannot delete a storage type that storages are of, and is
    // told which.
    let admin = lab.app.admin().await;
    let refused = admin
        .post_form(&format!("/admin/catalog/storage-types/{nfs}/delete"), &[])
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(
        refused
            .body
            .contains("NFS cannot be deleted because it is used by the storages "),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("/shared"), "{}", refused.body);
    assert!(
        lab.services
            .storage_type(nfs.parse().expect("an id"))
            .await
            .is_ok(),
        "the type remains"
    );
}

#[tokio::test]
async fn mounts_honour_the_permission_in_the_sandbox() {
    let lab = lab().await;
    activate(&lab.services, &lab.carol).await;
    let services = &lab.services;
    let nfs = nfs(&lab).await;
    let request = |name: &str, permission: &str| CreateStorageRequest {
        name: name.into(),
        storage_type: nfs.clone(),
        size: String::new(),
        permission: permission.into(),
    };
    let shared = services
        .create_storage(
            &lab.bob,
            lab.project,
            &request("shared", "project_read_only"),
        )
        .await
        .expect("created");
    services
        .create_storage(&lab.bob, lab.project, &request("mine", "personal"))
        .await
        .expect("created");
    wait_ready(services, &lab.bob, shared).await;

    // The owner writes.
    let mut write = job(
        lab.project,
        "write",
        "echo owner > /workspace/shared/owner.txt",
    );
    write.volumes = vec![mount("shared", "/workspace/shared")];
    let write = services.create_job(&lab.bob, write).await.expect("a job");
    let written = wait_status(services, &lab.bob, write, WorkloadStatus::Succeeded).await;
    assert!(!written.spec.volumes()[0].read_only);

    // A teammate reads, and cannot write: the mount is read-only.
    let mut read = job(
        lab.project,
        "read",
        "test \"$(cat /workspace/shared/owner.txt)\" = owner && ! touch /workspace/shared/carol.txt",
    );
    read.volumes = vec![mount("shared", "/workspace/shared")];
    let read = services.create_job(&lab.carol, read).await.expect("a job");
    let record = wait_status(services, &lab.carol, read, WorkloadStatus::Succeeded).await;
    assert!(record.spec.volumes()[0].read_only, "stored read-only");
    let mut check = job(
        lab.project,
        "check",
        "test ! -e /workspace/shared/carol.txt",
    );
    check.volumes = vec![mount("shared", "/workspace/shared")];
    let check = services.create_job(&lab.bob, check).await.expect("a job");
    wait_status(services, &lab.bob, check, WorkloadStatus::Succeeded).await;

    // Another member's personal storage: refused like an unknown one.
    let mut tampered = job(lab.project, "steal", "true");
    tampered.volumes = vec![mount("mine", "/workspace/mine")];
    match services.create_job(&lab.carol, tampered).await {
        Err(ServiceError::Invalid(errors)) => {
            assert_eq!(errors.get("volumes"), Some("workload.error.volume_unknown"));
        }
        other => panic!("expected a refusal, got {other:?}"),
    }

    // Carol's container mounts it: a change to personal would break that
    // mount, and a deletion too; both are refused naming the container.
    let mut reader = container(lab.project, "reader");
    reader.volumes = vec![mount("shared", "/workspace/shared")];
    let reader = services
        .create_container(&lab.carol, reader)
        .await
        .expect("a container");
    let bob = signed_in(&lab, "bob").await;
    let to_personal = bob
        .post_form(
            &format!("/storage/{shared}/permission"),
            &[("permission", "personal")],
        )
        .await;
    assert_eq!(to_personal.status, StatusCode::CONFLICT);
    assert!(to_personal.body.contains("reader"), "{}", to_personal.body);
    let deleting = bob
        .post_form(&format!("/storage/{shared}/delete"), &[("confirm", "yes")])
        .await;
    assert_eq!(deleting.status, StatusCode::CONFLICT);
    assert!(deleting.body.contains("reader"), "{}", deleting.body);
    let listed = bob
        .get(&format!(
            "/storage?project={}&selected={shared}",
            lab.project
        ))
        .await
        .body;
    assert!(listed.contains(">In use<"), "{listed}");
    // Read-write for the project keeps carol's read-only mount working.
    let to_read_write = bob
        .post_form(
            &format!("/storage/{shared}/permission"),
            &[("permission", "project_read_write")],
        )
        .await;
    assert_eq!(
        to_read_write.status,
        StatusCode::SEE_OTHER,
        "{}",
        to_read_write.body
    );
    let record = services.volume(&lab.bob, shared).await.expect("stored");
    assert_eq!(record.permission, StoragePermission::ProjectReadWrite);

    // Once the container is deleted, so may the storage be.
    services
        .delete_workload(&lab.carol, reader)
        .await
        .expect("deleted");
    wait_gone(services, &lab.carol, reader).await;
    let deleted = bob
        .post_form(&format!("/storage/{shared}/delete"), &[("confirm", "yes")])
        .await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER, "{}", deleted.body);
}

/// On the kube driver (fake API server): a storage created over HTTP is a
/// PVC of its type's class and size, and a teammate's container mounts a
/// project-readable one with `readOnly` while the owner's mounts it
/// read-write.
#[tokio::test]
async fn on_a_kubernetes_cluster_a_teammates_mount_is_read_only() {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::PersistentVolumeClaim;

    let ClusterLab { lab, fake, _dir } = cluster_lab(|_| {}).await;
    activate(&lab.services, &lab.carol).await;
    let services = &lab.services;
    let nfs = nfs(&lab).await;
    let bob = signed_in(&lab, "bob").await;
    let created = create(
        &lab,
        &bob,
        &[
            ("name", "shared"),
            ("storage_type", &nfs),
            ("size", "20"),
            ("permission", "project_read_only"),
        ],
    )
    .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let shared = selected_in(created.location().expect("a redirect"));
    wait_volume(services, &lab.bob, shared, |ready| ready == Some(true)).await;
    let namespace = manifests::namespace_name(lab.project);
    let claim: PersistentVolumeClaim = fake.get(&namespace, "shared").expect("a PVC");
    let claim = claim.spec.expect("spec");
    assert_eq!(claim.storage_class_name.as_deref(), Some("nfs"));
    let requested = claim
        .resources
        .and_then(|r| r.requests)
        .and_then(|r| r.get("storage").cloned())
        .expect("a size");
    assert_eq!(requested.0, "20Gi");

    for (user, name, read_only) in [
        (&lab.bob, "writer", None),
        (&lab.carol, "reader", Some(true)),
    ] {
        let mut spec = container(lab.project, name);
        spec.volumes = vec![mount("shared", "/workspace/shared")];
        let id = services
            .create_container(user, spec)
            .await
            .expect("a container");
        wait_status(services, user, id, WorkloadStatus::Running).await;
        let deployment: Deployment = fake.get(&namespace, name).expect("a Deployment");
        let pod = deployment.spec.expect("spec").template.spec.expect("pod");
        let mounts = pod.containers[0].volume_mounts.clone().unwrap_or_default();
        let mounted = mounts
            .iter()
            .find(|m| m.mount_path == "/workspace/shared")
            .expect("the storage is mounted");
        assert_eq!(mounted.read_only, read_only, "{name}");
    }

    // A clone is a claim of the same class and size with the source as its
    // data source (the CSI driver copies it).
    let carol = signed_in(&lab, "carol").await;
    let cloned = carol
        .post_form(
            &format!("/storage/{shared}/clone"),
            &[("name", "copy"), ("permission", "personal")],
        )
        .await;
    assert_eq!(cloned.status, StatusCode::SEE_OTHER, "{}", cloned.body);
    let copy = selected_in(cloned.location().expect("a redirect"));
    wait_volume(services, &lab.carol, copy, |ready| ready == Some(true)).await;
    let claim: PersistentVolumeClaim = fake.get(&namespace, "copy").expect("a PVC");
    let claim = claim.spec.expect("spec");
    assert_eq!(claim.storage_class_name.as_deref(), Some("nfs"));
    let source = claim.data_source.expect("a data source");
    assert_eq!(
        (source.kind.as_str(), source.name.as_str()),
        ("PersistentVolumeClaim", "shared")
    );
}

/// A clone over HTTP on the local driver: a teammate clones a
/// project-readable storage into a personal one of theirs, which is
/// Creating until the copy is whole and then Available with the source's
/// data (files, folders, links), written by real sandboxed processes; it
/// is theirs to write, while the source stays as it was. Bad names are
/// refused beside the field, and a storage one may not see is not found.
#[tokio::test]
async fn a_storage_is_cloned_with_its_data() {
    let lab = lab().await;
    activate(&lab.services, &lab.carol).await;
    let services = &lab.services;
    let nfs = nfs(&lab).await;
    let bob = signed_in(&lab, "bob").await;
    let carol = signed_in(&lab, "carol").await;
    let created = create(
        &lab,
        &bob,
        &[
            ("name", "shared"),
            ("storage_type", &nfs),
            ("size", "3"),
            ("permission", "project_read_only"),
        ],
    )
    .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let shared = selected_in(created.location().expect("a redirect"));
    let mine = create(
        &lab,
        &bob,
        &[
            ("name", "mine"),
            ("storage_type", &nfs),
            ("permission", "personal"),
        ],
    )
    .await;
    let mine = selected_in(mine.location().expect("a redirect"));
    wait_ready(services, &lab.bob, shared).await;
    let mut write = job(
        lab.project,
        "fill",
        "mkdir -p /workspace/shared/sub && echo owner > /workspace/shared/sub/data.txt \
         && ln -s sub/data.txt /workspace/shared/link",
    );
    write.volumes = vec![mount("shared", "/workspace/shared")];
    let write = services.create_job(&lab.bob, write).await.expect("a job");
    wait_status(services, &lab.bob, write, WorkloadStatus::Succeeded).await;

    // Carol sees the clone form of the shared one.
    let listed = carol
        .get(&format!(
            "/storage?project={}&selected={shared}",
            lab.project
        ))
        .await
        .body;
    assert!(
        listed.contains(&format!("/storage/{shared}/clone")),
        "{listed}"
    );

    // Bad input: refused beside the field, nothing created.
    let clone = format!("/storage/{shared}/clone");
    let refused = carol
        .post_form(&clone, &[("name", "Bad Name"), ("permission", "everyone")])
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("Use 1 to 40 lowercase letters"));
    assert!(
        refused
            .body
            .contains("Choose one of the three permissions.")
    );
    assert!(
        refused.body.contains("value=\"Bad Name\""),
        "the input kept"
    );
    let taken = carol
        .post_form(&clone, &[("name", "mine"), ("permission", "personal")])
        .await;
    assert_eq!(
        taken.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        taken.body
    );
    let hidden = carol
        .post_form(
            &format!("/storage/{mine}/clone"),
            &[("name", "stolen"), ("permission", "personal")],
        )
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    let dave = signed_in(&lab, "dave").await;
    let outsider = dave
        .post_form(&clone, &[("name", "theirs"), ("permission", "personal")])
        .await;
    assert_eq!(outsider.status, StatusCode::NOT_FOUND);
    assert_eq!(
        services
            .project_volumes(&lab.alice, lab.project)
            .await
            .expect("list")
            .len(),
        2,
        "nothing was created"
    );

    // The clone: carol's, of the source's type and size.
    let cloned = carol
        .post_form(&clone, &[("name", "copy"), ("permission", "personal")])
        .await;
    assert_eq!(cloned.status, StatusCode::SEE_OTHER, "{}", cloned.body);
    let location = cloned.location().expect("a redirect").to_owned();
    assert!(location.contains("done=cloned"), "{location}");
    let copy = selected_in(&location);
    let record = services.volume(&lab.carol, copy).await.expect("stored");
    assert_eq!(record.spec.owner, lab.carol.id);
    assert_eq!(record.spec.size_gib, 3);
    assert_eq!(record.spec.clone_of.as_deref(), Some("shared"));
    assert_eq!(record.permission, StoragePermission::Personal);
    // The list polls its rows: the clone's status changes without a reload.
    let page = carol
        .get(&format!("/storage?project={}&selected={copy}", lab.project))
        .await
        .body;
    let rows_path = format!(
        "/storage?project={}&amp;selected={copy}&amp;part=rows",
        lab.project
    );
    assert!(
        page.contains(&format!("data-poll=\"{rows_path}\"")),
        "{page}"
    );
    assert!(page.contains("containers.js"));
    let rows_path = rows_path.replace("&amp;", "&");
    let rows = carol.get(&rows_path).await;
    assert_eq!(rows.status, StatusCode::OK);
    assert!(rows.body.trim_start().starts_with("<tr"), "{}", rows.body);
    assert!(rows.body.contains(">copy<") && !rows.body.contains(">mine<"));
    assert!(!rows.body.contains("<html"), "only the rows");
    wait_copied(&lab, &lab.carol, copy).await;
    let rows = carol.get(&rows_path).await.body;
    assert!(rows.contains(">Available<"), "{rows}");
    let outsider_rows = dave
        .get(&format!("/storage?project={}&part=rows", lab.project))
        .await;
    assert_eq!(outsider_rows.status, StatusCode::NOT_FOUND);
    let listed = carol
        .get(&format!("/storage?project={}&selected={copy}", lab.project))
        .await
        .body;
    assert!(
        listed.contains(">Available<") && listed.contains("Cloned from"),
        "{listed}"
    );

    // Carol's container reads the copied data and writes to her clone.
    let mut use_copy = job(
        lab.project,
        "use-copy",
        "test \"$(cat /workspace/copy/sub/data.txt)\" = owner \
         && test \"$(readlink /workspace/copy/link)\" = sub/data.txt \
         && echo carol > /workspace/copy/sub/data.txt",
    );
    use_copy.volumes = vec![mount("copy", "/workspace/copy")];
    let use_copy = services
        .create_job(&lab.carol, use_copy)
        .await
        .expect("a job");
    wait_status(services, &lab.carol, use_copy, WorkloadStatus::Succeeded).await;
    let mut check = job(
        lab.project,
        "check",
        "test \"$(cat /workspace/shared/sub/data.txt)\" = owner",
    );
    check.volumes = vec![mount("shared", "/workspace/shared")];
    let check = services.create_job(&lab.bob, check).await.expect("a job");
    wait_status(services, &lab.bob, check, WorkloadStatus::Succeeded).await;
}

/// Waits until the reconcile loop has deleted `id`'s data and removed its
/// record (then its hold is given back).
async fn wait_removed(lab: &Lab, viewer: &UserRecord, id: VolumeId) {
    let deadline = tokio::time::Instant::now() + WAIT;
    let reconciler = lab.app.reconciler();
    while lab.services.volume(viewer, id).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not removed in time"
        );
        reconciler.step().await.expect("a pass");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn storage_counts_against_the_project_quota_in_gb() {
    let lab = lab().await;
    let nfs = nfs(&lab).await;
    let bob = signed_in(&lab, "bob").await;
    let carol = signed_in(&lab, "carol").await;
    let list = format!("/storage?project={}", lab.project);
    let detail = mlstack::web::paths::project(lab.project);

    // The admin revises the project's storage quota to 60 GB over HTTP.
    let admin = lab.app.admin().await;
    let revise = format!("/admin/projects/{}/revise", lab.project);
    let dates = [("start", "2026-11-29"), ("end", "2027-01-31")];
    let mut fields = vec![("gpu", "4"), ("cpu", "16"), ("ram", "64")];
    fields.extend_from_slice(&dates);
    let missing = admin.post_form(&revise, &fields).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    fields.push(("storage", "60"));
    let revised = admin.post_form(&revise, &fields).await;
    assert_eq!(revised.status, StatusCode::SEE_OTHER, "{}", revised.body);

    let empty = bob.get(&list).await.body;
    assert!(
        empty.contains("0 GB of 60 GB in use, 60 GB left"),
        "{empty}"
    );
    let first = create(
        &lab,
        &bob,
        &[
            ("name", "first"),
            ("storage_type", &nfs),
            ("size", "50"),
            ("permission", "project_read_write"),
        ],
    )
    .await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
    let first = selected_in(first.location().expect("a redirect"));

    // Carol's 11 GB do not fit the 10 left: refused beside the size, with
    // the quota's real figures on the page, nothing created.
    let over = create(
        &lab,
        &carol,
        &[
            ("name", "second"),
            ("storage_type", &nfs),
            ("size", "11"),
            ("permission", "personal"),
        ],
    )
    .await;
    assert_eq!(over.status, StatusCode::CONFLICT, "{}", over.body);
    assert!(
        over.body
            .contains("Larger than what is left of the project's storage quota"),
        "{}",
        over.body
    );
    assert!(over.body.contains("50 GB of 60 GB in use, 10 GB left"));
    assert!(over.body.contains("value=\"second\""), "the input kept");
    let listed = lab
        .services
        .storage_overview(&lab.bob, lab.project)
        .await
        .expect("the list");
    assert_eq!(listed.items.len(), 1, "nothing created");
    let switched = carol
        .post_form("/account/language", &[("language", "zh-TW"), ("next", "/")])
        .await;
    assert_eq!(switched.status, StatusCode::SEE_OTHER);
    let over_zh = create(
        &lab,
        &carol,
        &[
            ("name", "second"),
            ("storage_type", &nfs),
            ("size", "11"),
            ("permission", "personal"),
        ],
    )
    .await;
    assert_eq!(over_zh.status, StatusCode::CONFLICT);
    assert!(
        over_zh.body.contains("超過專案儲存空間配額的剩餘量")
            && over_zh.body.contains("剩餘 10 GB"),
        "{}",
        over_zh.body
    );

    // Exactly what is left fits.
    let exact = create(
        &lab,
        &carol,
        &[
            ("name", "second"),
            ("storage_type", &nfs),
            ("size", "10"),
            ("permission", "personal"),
        ],
    )
    .await;
    assert_eq!(exact.status, StatusCode::SEE_OTHER, "{}", exact.body);

    // Project Detail shows the storage row: used, quota, left.
    let page = bob.get(&detail).await.body;
    assert!(
        page.contains("<th scope=\"row\">Storage</th><td>60 GB</td><td>60 GB</td><td>0 GB</td>"),
        "{page}"
    );

    // A clone of the 50 GB storage does not fit either.
    wait_ready(&lab.services, &lab.bob, first).await;
    let clone = bob
        .post_form(
            &format!("/storage/{first}/clone"),
            &[("name", "copy"), ("permission", "personal")],
        )
        .await;
    assert_eq!(clone.status, StatusCode::CONFLICT, "{}", clone.body);
    assert!(clone.body.contains("A clone is as large as its source"));

    // Deleting gives the 50 GB back once the data is gone.
    let deleted = bob
        .post_form(&format!("/storage/{first}/delete"), &[("confirm", "yes")])
        .await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER, "{}", deleted.body);
    wait_removed(&lab, &lab.bob, first).await;
    let freed = bob.get(&list).await.body;
    assert!(
        freed.contains("10 GB of 60 GB in use, 50 GB left"),
        "{freed}"
    );
    let again = create(
        &lab,
        &bob,
        &[
            ("name", "third"),
            ("storage_type", &nfs),
            ("size", "50"),
            ("permission", "personal"),
        ],
    )
    .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);
}

#[tokio::test]
async fn an_upgrade_to_schema_16_holds_the_storages_that_exist() {
    use mlstack::store::{holds, projects, tables, volumes};
    let lab = lab().await;
    let nfs = nfs(&lab).await;
    let bob = signed_in(&lab, "bob").await;
    for (name, size) in [("small", "5"), ("large", "20")] {
        let created = create(
            &lab,
            &bob,
            &[
                ("name", name),
                ("storage_type", &nfs),
                ("size", size),
                ("permission", "personal"),
            ],
        )
        .await;
        assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    }
    let project = lab.project;
    let Lab {
        app,
        services,
        bob: bob_record,
        ..
    } = lab;
    // The store closes once nothing holds it.
    drop(services);

    // Set the store back to schema 15: no storage quota, no holds of
    // storages.
    let app = app.restart_editing(|dir| {
        let db = redb::Database::open(dir.join(mlstack::store::FILE_NAME)).expect("open");
        let tx = db.begin_write().expect("write");
        for volume in volumes::all_tx(&tx).expect("volumes") {
            let hold = volume.hold.expect("a schema 16 storage holds its size");
            assert!(holds::delete_tx(&tx, hold).expect("hold removed"));
            volumes::update_tx(&tx, volume.id, volume.updated_at, |v| v.hold = None)
                .expect("volume");
        }
        let mut record = projects::get_tx(&tx, project)
            .expect("read")
            .expect("project");
        record.quota.storage_gib = 0;
        projects::put_tx(&tx, &record).expect("project");
        tx.open_table(tables::META)
            .expect("meta")
            .insert("schema_version", 15u64)
            .expect("version");
        tx.commit().expect("commit");
    });

    let services = app.services();
    let shown = services
        .project(&bob_record, project)
        .await
        .expect("the project");
    assert_eq!(
        shown.project.quota.storage_gib, 25,
        "raised to what is used"
    );
    assert_eq!(
        shown.used.storage_gib, 25,
        "each storage holds its size again"
    );
    let overview = services
        .storage_overview(&bob_record, project)
        .await
        .expect("the list");
    assert!(overview.items.iter().all(|i| i.record.hold.is_some()));
    assert_eq!((overview.quota_gib, overview.used_gib), (25, 25));
    // Full: the next storage waits for an administrator's raise.
    let refused = services
        .create_storage(
            &bob_record,
            project,
            &CreateStorageRequest {
                name: "more".into(),
                storage_type: nfs.clone(),
                size: "1".into(),
                permission: "personal".into(),
            },
        )
        .await;
    assert!(
        matches!(refused, Err(ServiceError::OverQuota { left, .. }) if left.storage_gib == 0),
        "{refused:?}"
    );
}
