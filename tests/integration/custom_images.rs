//! Custom images end to end: a member saves a Running container over HTTP
//! (Building → Ready through the reconcile loop and the local driver's
//! tarball of its working directory), a second container created from the
//! image sees its files, the list shows each image to whom its type allows,
//! deletion is refused to others and while a container uses the image, and
//! the kube driver's commit Job is what the image follows on the fake API
//! server. Real sandboxed processes; every wait polls with a deadline.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use mlstack::domain::catalog::{Protocol, ServiceKind};
use mlstack::domain::ids::{ProjectId, UserId};
use mlstack::domain::image::ImageStatus;
use mlstack::domain::workload::{
    ContainerSpec, ImageRef, Resources, ServiceSpec, SshAccess, WorkloadId, WorkloadMeta,
    WorkloadStatus,
};
use mlstack::service::{ServiceError, Services};
use mlstack::store::users::UserRecord;
use mlstack::store::workloads::WorkloadRecord;
use reqwest::StatusCode;

use crate::common::{Client, TestApp, activate};
use crate::projects::{active_project, day};

const WAIT: Duration = Duration::from_secs(30);
const HTTP_SERVER: &str = "exec python3 -m http.server $PORT --bind 127.0.0.1";

/// An appliance with the project Vision: manny manages it, mia and nora
/// are members (activated), sam is not in it.
struct Lab {
    services: Services,
    project: ProjectId,
    mia: UserRecord,
    nora: UserRecord,
    manny_web: Client,
    mia_web: Client,
    nora_web: Client,
    sam_web: Client,
    app: TestApp,
}

async fn lab(app: TestApp) -> Lab {
    let services = app.services();
    let (manny_web, _) = app.member("manny").await;
    let (mia_web, _) = app.member("mia").await;
    let (nora_web, _) = app.member("nora").await;
    let (sam_web, _) = app.member("sam").await;
    let project: ProjectId = active_project(
        &app,
        &manny_web,
        "Vision",
        &["manny", "mia", "nora"],
        &day(30),
    )
    .await
    .parse()
    .expect("a project id");
    let users = services.list_users().await.expect("users");
    let user = |name: &str| {
        users
            .iter()
            .find(|u| u.username.as_str() == name)
            .cloned()
            .expect("user")
    };
    let (mia, nora) = (user("mia"), user("nora"));
    for u in [&mia, &nora] {
        activate(&services, u).await;
    }
    // Their pages show the project chosen in the project selector.
    for client in [&mia_web, &nora_web] {
        let chosen = client
            .post_form(
                "/projects/select",
                &[("project", &project.to_string()), ("next", "/projects")],
            )
            .await;
        assert_eq!(chosen.status, StatusCode::SEE_OTHER, "{}", chosen.body);
    }
    Lab {
        services,
        project,
        mia,
        nora,
        manny_web,
        mia_web,
        nora_web,
        sam_web,
        app,
    }
}

/// A container serving its working directory over HTTP, running
/// `command` beside the server.
fn container(
    project: ProjectId,
    name: &str,
    image: ImageRef,
    command: Option<&str>,
) -> ContainerSpec {
    ContainerSpec {
        meta: WorkloadMeta {
            id: WorkloadId::generate(),
            project,
            owner: UserId::generate(),
            name: name.into(),
        },
        image,
        command: command.map(str::to_owned),
        env: BTreeMap::new(),
        resources: Resources {
            cpu_milli: 500,
            ram_mib: 1024,
            shm_mib: 0,
            gpu: None,
        },
        volumes: Vec::new(),
        services: vec![ServiceSpec {
            name: "files".into(),
            kind: ServiceKind::Custom,
            port: 8000,
            protocol: Protocol::Http,
            local_command: Some(HTTP_SERVER.into()),
        }],
        ssh: SshAccess::None,
        start_at: None,
        end_at: None,
    }
}

fn ubuntu() -> ImageRef {
    ImageRef {
        name: "ubuntu".into(),
        tag: "24.04".into(),
    }
}

async fn wait_for(
    services: &Services,
    viewer: &UserRecord,
    id: WorkloadId,
    want: impl Fn(&WorkloadRecord) -> bool,
) -> WorkloadRecord {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let record = services.workload(viewer, id).await.expect("the workload");
        if want(&record) {
            return record;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not there after {WAIT:?}: {:?} {:?}",
            record.status(),
            record.events
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the container runs and returns its service's port.
async fn wait_running(services: &Services, viewer: &UserRecord, id: WorkloadId) -> u16 {
    let record = wait_for(services, viewer, id, |r| {
        r.status() == WorkloadStatus::Running
            && r.observed.as_ref().is_some_and(|o| !o.endpoints.is_empty())
    })
    .await;
    record
        .observed
        .and_then(|o| o.endpoints.first().map(|e| e.port))
        .expect("an endpoint")
}

/// The body of `GET /path` on a loopback port, "" when nothing answers.
fn http_get(port: u16, path: &str) -> String {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let request = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return String::new();
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
}

/// Polls until `GET /path` answers a body containing `text`.
async fn wait_served(port: u16, path: &str, text: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let response = http_get(port, path);
        if response.starts_with("HTTP/1.0 200") && response.contains(text) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} never served {text:?}: {response}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls the custom images `viewer` sees until the one named `image`
/// (`name:tag`) has `status`.
async fn wait_image(lab: &Lab, viewer: &UserRecord, image: &str, status: ImageStatus) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let images = lab
            .services
            .custom_images(viewer, lab.project)
            .await
            .expect("images");
        let found = images
            .iter()
            .find(|i| i.record.image.to_string() == image)
            .map(|i| (i.status, i.failure.clone()));
        if found.as_ref().is_some_and(|(s, _)| *s == status) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{image} not {status:?}: {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn save_form<'a>(
    name: &'a str,
    image_name: &'a str,
    tag: &'a str,
    image_type: &'a str,
) -> Vec<(&'static str, &'a str)> {
    vec![
        ("name", name),
        ("description", "trained on iris"),
        ("image_name", image_name),
        ("tag", tag),
        ("image_type", image_type),
    ]
}

#[tokio::test]
async fn a_running_container_saved_as_a_project_image_starts_a_second_container_with_its_files() {
    let lab = lab(TestApp::start()).await;
    let services = &lab.services;
    let (mia, nora) = (&lab.mia, &lab.nora);

    // A container writes a file in its working directory.
    let source = services
        .create_container(
            mia,
            container(
                lab.project,
                "iris01",
                ubuntu(),
                Some("echo trained-weights > model.txt && exec sleep 3600"),
            ),
        )
        .await
        .expect("created");
    let port = wait_running(services, mia, source).await;
    wait_served(port, "/model.txt", "trained-weights").await;

    // The list's "+" offers it; its form shows the services carried over.
    let list = lab.mia_web.get("/advanced/custom-images").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let form_path = format!("/containers/{source}/image");
    assert!(list.body.contains(&form_path), "{}", list.body);
    let form = lab.mia_web.get(&form_path).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert!(form.body.contains("iris01") && form.body.contains("Custom:8000"));

    // Bad names and tags are refused with the real limits; nothing is made.
    for (image_name, tag, expected) in [
        ("A", "v1", "2 to 128 characters: lowercase"),
        (
            &"a".repeat(129) as &str,
            "v1",
            "2 to 128 characters: lowercase",
        ),
        (&"a".repeat(128), "v1", "longer than 128 characters"),
        ("iris", "-v1", "cannot start with a dash or a dot"),
        ("iris", "v", "2 to 128 characters: letters"),
    ] {
        let page = lab
            .mia_web
            .post_form(&form_path, &save_form("Iris", image_name, tag, "project"))
            .await;
        assert_eq!(
            page.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{image_name} {tag}"
        );
        assert!(page.body.contains(expected), "{expected}: {}", page.body);
    }
    let page = lab
        .mia_web
        .post_form(&form_path, &save_form("Iris", "iris", "v1", "public"))
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("Choose Private or Project."));
    assert!(
        services
            .custom_images(mia, lab.project)
            .await
            .expect("images")
            .is_empty()
    );

    // Saved as a project image over HTTP: Building, then Ready.
    let saved = lab
        .mia_web
        .post_form(
            &form_path,
            &save_form("Iris", "sklearn-svm-iris", "v1", "project"),
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let images = services
        .custom_images(mia, lab.project)
        .await
        .expect("images");
    assert_eq!(images.len(), 1);
    assert!(matches!(
        images[0].status,
        ImageStatus::Building | ImageStatus::Ready
    ));
    wait_image(&lab, mia, "sklearn-svm-iris:v1", ImageStatus::Ready).await;
    let list = lab
        .mia_web
        .get(saved.location().expect("back to the list"))
        .await;
    assert!(
        list.body.contains("sklearn-svm-iris:v1") && list.body.contains("Ready"),
        "{}",
        list.body
    );
    // The same name and tag again is refused.
    let again = lab
        .mia_web
        .post_form(
            &form_path,
            &save_form("Iris", "sklearn-svm-iris", "v1", "private"),
        )
        .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(again.body.contains("already has a custom image"));

    // Another member of the project sees the project image and may use it.
    let nora_list = lab.nora_web.get("/advanced/custom-images").await;
    assert!(nora_list.body.contains("sklearn-svm-iris:v1"));
    let usable = services
        .usable_custom_images(nora, lab.project)
        .await
        .expect("usable");
    assert_eq!(usable.len(), 1);
    let image = usable[0].clone();
    let target = image.target.to_string();
    assert!(
        target.starts_with("custom/project") && target.ends_with("/sklearn-svm-iris:v1"),
        "the project's code is in the reference: {target}"
    );
    assert_eq!(image.services.len(), 1);

    // A second container from the image (as the wizard makes it) starts
    // from the saved working directory.
    let mut second = container(lab.project, "iris02", image.target.clone(), None);
    second.services = image.services.clone();
    let copy = services
        .create_container(nora, second)
        .await
        .expect("created from the image");
    let copy_port = wait_running(services, nora, copy).await;
    wait_served(copy_port, "/model.txt", "trained-weights").await;

    // A private image is seen and offered to its owner only.
    let private = lab
        .mia_web
        .post_form(&form_path, &save_form("Mine", "mine", "v1", "private"))
        .await;
    assert_eq!(private.status, StatusCode::SEE_OTHER, "{}", private.body);
    wait_image(&lab, mia, "mine:v1", ImageStatus::Ready).await;
    let private_id = services
        .custom_images(mia, lab.project)
        .await
        .expect("images")
        .iter()
        .find(|i| i.record.image.name == "mine")
        .map(|i| i.record.id)
        .expect("the private image");
    assert!(
        !lab.nora_web
            .get("/advanced/custom-images")
            .await
            .body
            .contains("mine:v1")
    );
    assert_eq!(
        services
            .usable_custom_images(nora, lab.project)
            .await
            .expect("usable")
            .len(),
        1
    );
    let mias = services
        .usable_custom_images(mia, lab.project)
        .await
        .expect("usable");
    assert_eq!(mias.len(), 2);
    // Its reference in another member's container is refused.
    let mine = mias
        .iter()
        .find(|i| i.id == private_id)
        .map(|i| i.target.clone())
        .expect("the private image is mia's to use");
    let tampered = container(lab.project, "iris03", mine, None);
    assert!(matches!(
        services.create_container(nora, tampered).await,
        Err(ServiceError::Invalid(errors)) if errors.get("image") == Some("image.error.not_usable")
    ));

    // Deleting: not by another member (403 for the project image they see,
    // 404 for the private one they do not), not by a non-member (404).
    let project_image = format!("/advanced/custom-images/{}/delete", image.id);
    let private_image = format!("/advanced/custom-images/{private_id}/delete");
    let confirm = [("confirm", "yes")];
    assert_eq!(
        lab.nora_web
            .post_form(&project_image, &confirm)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        lab.nora_web
            .post_form(&private_image, &confirm)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        lab.sam_web.post_form(&project_image, &confirm).await.status,
        StatusCode::NOT_FOUND
    );
    // Not without the confirmation, nor while a container runs it.
    let unconfirmed = lab.mia_web.post_form(&project_image, &[]).await;
    assert_eq!(unconfirmed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unconfirmed.body.contains("Confirm the deletion"));
    let in_use = lab.mia_web.post_form(&project_image, &confirm).await;
    assert_eq!(in_use.status, StatusCode::CONFLICT);
    assert!(in_use.body.contains("Delete that container first"));

    // A stopped container cannot be saved, with a clear message.
    services.stop_container(mia, source).await.expect("stop");
    wait_for(services, mia, source, |r| {
        r.status() == WorkloadStatus::Stopped
    })
    .await;
    let stopped = lab.mia_web.get(&form_path).await;
    assert_eq!(stopped.status, StatusCode::CONFLICT);
    assert!(stopped.body.contains("Only a Running container"));
    let stopped = lab
        .mia_web
        .post_form(&form_path, &save_form("Late", "late", "v1", "private"))
        .await;
    assert_eq!(stopped.status, StatusCode::CONFLICT);

    // Once its container is gone, the owner deletes the image, and its
    // saved files go with its commit.
    services.delete_workload(nora, copy).await.expect("delete");
    let deadline = tokio::time::Instant::now() + WAIT;
    while services.workload(nora, copy).await.is_ok() {
        assert!(tokio::time::Instant::now() < deadline, "still there");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deleted = lab.mia_web.post_form(&project_image, &confirm).await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER, "{}", deleted.body);
    // Both ends of the image's life are in the audit log, with mia as actor.
    let admin = lab.app.admin().await;
    let log = admin.get("/admin/audit/export.jsonl").await.body;
    for action in ["image_created", "image_deleted"] {
        assert!(
            log.lines()
                .any(|l| l.contains(&format!("\"action\":\"{action}\""))
                    && l.contains("\"actor\":\"mia\"")
                    && l.contains("\"target\":\"Vision/")),
            "{action}: {log}"
        );
    }
    assert!(
        !lab.mia_web
            .get("/advanced/custom-images")
            .await
            .body
            .contains("sklearn-svm-iris:v1")
    );
    let saved_dir = |id: WorkloadId| {
        lab.app
            .data_dir()
            .join("local/workloads")
            .join(id.to_string())
    };
    wait_removed(&saved_dir(image.id)).await;

    // The private image is gone with its project: the manager deletes the
    // project and its saved working directory goes too.
    assert!(saved_dir(private_id).join("saved.tar").is_file());
    let project_page = lab
        .manny_web
        .get(&format!("/projects/{}", lab.project))
        .await;
    let marker = "Type the verification code ";
    let at = project_page.body.find(marker).expect("code shown") + marker.len();
    let code = project_page.body[at..at + 6].to_owned();
    let deleted = lab
        .manny_web
        .post_form(
            &format!("/projects/{}/delete", lab.project),
            &[("code", &code)],
        )
        .await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER, "{}", deleted.body);
    wait_removed(&saved_dir(private_id)).await;
    assert!(matches!(
        services.usable_custom_images(mia, lab.project).await,
        Err(ServiceError::NotFound)
    ));
}

async fn wait_removed(path: &std::path::Path) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while path.exists() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} is still there",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// On the kube driver (the fake API server, through a kubeconfig), saving
/// runs the commit Job pinned to the container's node, pushing to the
/// registry under the project's code; the image is Building while the Job
/// runs and Ready once it completed; a container of the image pulls it from
/// the registry.
#[tokio::test]
async fn on_kubernetes_the_image_follows_its_commit_job_and_is_pulled_from_the_registry() {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::batch::v1::Job;
    use k8s_openapi::api::core::v1::Pod;
    use mlstack::cluster::kube::manifests;
    use mlstack::config::DriverChoice;

    use crate::common::fake_apiserver::FakeApiServer;

    let fake = FakeApiServer::start();
    let dir = tempfile::tempdir().expect("dir");
    let kubeconfig = dir.path().join("kubeconfig");
    fake.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let app = TestApp::start_configured(|config| {
        config.cluster.driver = DriverChoice::Kube;
        config.cluster.kubeconfig = Some(kubeconfig);
        config.cluster.committer_image = Some("registry.lab/tools/committer:1".into());
        config.cluster.registry = Some("registry.lab/mlstack".into());
    });
    let lab = lab(app).await;
    let services = &lab.services;
    let mia = &lab.mia;
    let namespace = manifests::namespace_name(lab.project);

    let source = services
        .create_container(mia, container(lab.project, "iris01", ubuntu(), None))
        .await
        .expect("created");
    wait_running(services, mia, source).await;
    let saved = lab
        .mia_web
        .post_form(
            &format!("/containers/{source}/image"),
            &save_form("Iris", "sklearn-svm-iris", "v1", "project"),
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let image = services
        .custom_images(mia, lab.project)
        .await
        .expect("images")
        .pop()
        .expect("the image");
    assert_eq!(image.status, ImageStatus::Building);

    // The commit Job pushes to the registry, under the project's code.
    let job_name = manifests::commit_job_name(image.record.id);
    let deadline = tokio::time::Instant::now() + WAIT;
    let job: Job = loop {
        if let Some(job) = fake.get(&namespace, &job_name) {
            break job;
        }
        assert!(tokio::time::Instant::now() < deadline, "no commit Job");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let env = job
        .spec
        .and_then(|s| s.template.spec)
        .map(|p| p.containers[0].env.clone().unwrap_or_default())
        .unwrap_or_default();
    let target = env
        .iter()
        .find(|e| e.name == "MLSTACK_TARGET_IMAGE")
        .and_then(|e| e.value.clone())
        .expect("the target");
    assert_eq!(
        target,
        format!("registry.lab/mlstack/{}", image.record.target)
    );

    // While the committer runs, the image is Building; once its pod
    // succeeded (the fake runs no committer program: the test plays the
    // kubelet seeing it exit 0) the Job completes and the image is Ready.
    let deadline = tokio::time::Instant::now() + WAIT;
    let pod = loop {
        let pods = fake.list::<Pod>(
            Some(&namespace),
            &format!("mlstack.io/workload={}", image.record.id),
        );
        if let Some(pod) = pods
            .into_iter()
            .find(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        {
            break pod;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no running commit pod"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    wait_image(&lab, mia, "sklearn-svm-iris:v1", ImageStatus::Building).await;
    let pods: kube::Api<Pod> = kube::Api::namespaced(fake.client().await, &namespace);
    pods.patch_status(
        pod.metadata.name.as_deref().expect("a name"),
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(serde_json::json!({ "status": { "phase": "Succeeded" } })),
    )
    .await
    .expect("the committer exits");
    wait_image(&lab, mia, "sklearn-svm-iris:v1", ImageStatus::Ready).await;

    // A container of the image pulls what the commit pushed.
    let mut second = container(lab.project, "iris02", image.record.target.clone(), None);
    second.services = image.record.services.clone();
    services
        .create_container(mia, second)
        .await
        .expect("created from the image");
    let deadline = tokio::time::Instant::now() + WAIT;
    let deployment: Deployment = loop {
        if let Some(deployment) = fake.get(&namespace, "iris02") {
            break deployment;
        }
        assert!(tokio::time::Instant::now() < deadline, "no Deployment");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let pulled = deployment
        .spec
        .and_then(|s| s.template.spec)
        .and_then(|p| p.containers[0].image.clone());
    assert_eq!(pulled, Some(target));
    drop(lab);
}
