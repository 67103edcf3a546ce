//! The container create wizard (`/containers/new`, manual §5.4) over HTTP
//! with cookies and CSRF, on the local driver (real sandboxed processes):
//! the usage terms accepted once per version, a container created with
//! shared memory and a mounted volume whose stored spec is what the catalog
//! says, the steps, every refused input (nothing created), and a manager's
//! batch (all or nothing).

use std::time::Duration;

use reqwest::StatusCode;

use mlstack::cluster::local::LocalGpu;
use mlstack::domain::catalog::{GpuTypeRequest, HardwareSpecRequest, ImageRequest, ServiceKind};
use mlstack::domain::ids::ProjectId;
use mlstack::domain::workload::{SshAccess, VolumeSpec, WorkloadStatus};
use mlstack::service::Services;
use mlstack::service::containers::terms_sha256;
use mlstack::store::platform::DEFAULT_USAGE_TERMS;
use mlstack::store::users::UserRecord;
use mlstack::store::workloads::{WorkloadRecord, WorkloadSpec};

use crate::common::{Client, Page, TestApp, start_time};
use crate::projects::{active_project, application_id_in, apply, day};

const WAIT: Duration = Duration::from_secs(30);
const WIZARD: &str = "/containers/new";

/// A running appliance with one active project "Vision" (alice manages it;
/// bob and carol are members, all activated and with Vision selected), a
/// catalog (a T4 GPU type, a CPU-only and a T4 spec, a retired spec, a
/// shared GPU type, an image serving HTTP), and bob's volume `data`.
pub(crate) struct Wizard {
    pub(crate) services: Services,
    pub(crate) alice: Client,
    pub(crate) bob: Client,
    pub(crate) carol: Client,
    /// The passwords bob and carol chose.
    pub(crate) passwords: (String, String),
    /// The password alice (the manager) chose.
    pub(crate) manager_password: String,
    users: Vec<UserRecord>,
    pub(crate) project: ProjectId,
    pub(crate) t4: String,
    shared: String,
    pub(crate) cpu_spec: String,
    gpu_spec: String,
    shared_spec: String,
    retired_spec: String,
    pub(crate) image: String,
    /// An image whose SSH logs in by password, and one by key.
    pub(crate) ssh_password_image: String,
    pub(crate) ssh_key_image: String,
    pub(crate) app: TestApp,
}

impl Wizard {
    pub(crate) fn user(&self, name: &str) -> &UserRecord {
        self.users
            .iter()
            .find(|u| u.username.as_str() == name)
            .expect("user")
    }

    /// The containers of the project, as its manager sees them.
    pub(crate) async fn containers(&self) -> Vec<WorkloadRecord> {
        self.services
            .project_workloads(self.user("alice"), self.project)
            .await
            .expect("workloads")
    }
}

pub(crate) async fn wizard() -> Wizard {
    let app = TestApp::start_configured(|config| {
        config.local.detect_gpus = false;
        config.local.gpus = vec![LocalGpu {
            index: 0,
            name: "NVIDIA T4".into(),
            memory_mib: 15_360,
            uuid: None,
            minor: None,
        }];
    });
    let (alice, manager_password) = app.member("alice").await;
    let (bob, bob_password) = app.member("bob").await;
    let (carol, carol_password) = app.member("carol").await;
    let project =
        active_project(&app, &alice, "Vision", &["alice", "bob", "carol"], &day(60)).await;
    let services = app.services();
    for client in [&alice, &bob, &carol] {
        let select = client
            .post_form(
                "/projects/select",
                &[("project", project.as_str()), ("next", "/projects")],
            )
            .await;
        assert_eq!(select.status, StatusCode::SEE_OTHER, "{}", select.body);
        let activate = client.post_form("/advanced/cloud-provisioning", &[]).await;
        assert_eq!(activate.status, StatusCode::SEE_OTHER, "{}", activate.body);
    }
    let users = services.list_users().await.expect("users");
    for user in users.iter().filter(|u| !u.is_admin) {
        wait_activated(&services, user).await;
    }
    let t4 = services
        .create_gpu_type(&GpuTypeRequest {
            name: "NVIDIA T4".into(),
            resource_name: "nvidia.com/gpu".into(),
            sharing: "whole".into(),
            memory_gb: "16".into(),
            allowed_counts: "1, 2".into(),
            price: "10".into(),
            ..GpuTypeRequest::default()
        })
        .await
        .expect("gpu type");
    let shared = services
        .create_gpu_type(&GpuTypeRequest {
            name: "T4 shared".into(),
            resource_name: "nvidia.com/gpu-shared".into(),
            sharing: "memory_sliced".into(),
            memory_gb: "16".into(),
            allowed_counts: "8, 16".into(),
            price: "10".into(),
            ..GpuTypeRequest::default()
        })
        .await
        .expect("shared gpu type");
    let spec = |name: &str, cpu: &str, ram: &str, gpu: String, price: &str| HardwareSpecRequest {
        name: name.into(),
        cpu_cores: cpu.into(),
        ram_gb: ram.into(),
        gpu_type: gpu,
        price: price.into(),
    };
    let cpu_spec = services
        .create_hardware_spec(&spec("c1", "0.5", "1", String::new(), "2"))
        .await
        .expect("spec");
    let gpu_spec = services
        .create_hardware_spec(&spec("g1", "0.5", "1", t4.id.to_string(), "5"))
        .await
        .expect("spec");
    let shared_spec = services
        .create_hardware_spec(&spec("s1", "0.1", "0.5", shared.id.to_string(), "1"))
        .await
        .expect("spec");
    let retired_spec = services
        .create_hardware_spec(&spec("old", "0.5", "1", String::new(), "1"))
        .await
        .expect("spec");
    services
        .set_hardware_spec_retired(retired_spec.id, true)
        .await
        .expect("retire");
    let image = services
        .create_image(&ImageRequest {
            name: "ubuntu".into(),
            versions: "24.04\n22.04".into(),
            ssh_login: "password".into(),
            services: "custom 8000 http a web server".into(),
            local_commands: "custom: exec python3 -m http.server $PORT --bind 127.0.0.1".into(),
        })
        .await
        .expect("image");
    let ssh_image = |name: &str, login: &str| ImageRequest {
        name: name.into(),
        versions: "1".into(),
        ssh_login: login.into(),
        services: "ssh 22 tcp".into(),
        local_commands: String::new(),
    };
    let ssh_password_image = services
        .create_image(&ssh_image("sshpw", "password"))
        .await
        .expect("image");
    let ssh_key_image = services
        .create_image(&ssh_image("sshkey", "key_pair"))
        .await
        .expect("image");
    let bob_record = users
        .iter()
        .find(|u| u.username.as_str() == "bob")
        .cloned()
        .expect("bob");
    services
        .create_volume(
            &bob_record,
            VolumeSpec {
                project: project.parse().expect("project id"),
                owner: bob_record.id,
                name: "data".into(),
                storage_class: String::new(),
                size_gib: 1,
                clone_of: None,
            },
        )
        .await
        .expect("volume");
    Wizard {
        services,
        alice,
        bob,
        carol,
        passwords: (bob_password, carol_password),
        manager_password,
        users,
        project: project.parse().expect("project id"),
        t4: t4.id.to_string(),
        shared: shared.id.to_string(),
        cpu_spec: cpu_spec.id.to_string(),
        gpu_spec: gpu_spec.id.to_string(),
        shared_spec: shared_spec.id.to_string(),
        retired_spec: retired_spec.id.to_string(),
        image: image.id.to_string(),
        ssh_password_image: ssh_password_image.id.to_string(),
        ssh_key_image: ssh_key_image.id.to_string(),
        app,
    }
}

async fn wait_activated(services: &Services, user: &UserRecord) {
    use mlstack::store::activations::ActivationStatus;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let status = services
            .activation(user.id)
            .await
            .expect("activation")
            .map(|a| a.status);
        if status == Some(ActivationStatus::Passed) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} not activated: {status:?}",
            user.username.as_str()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The fields of a valid CPU-only container named `name`.
pub(crate) fn fields(w: &Wizard, name: &str) -> Vec<(&'static str, String)> {
    vec![
        ("step", "4".into()),
        ("go", "create".into()),
        ("name", name.into()),
        ("start_mode", "now".into()),
        ("end_mode", "none".into()),
        ("gpu_type", String::new()),
        ("spec", w.cpu_spec.clone()),
        ("image", w.image.clone()),
        ("version", "24.04".into()),
        ("ssh_password", "correct horse".into()),
    ]
}

/// `fields` with `changes` replacing (or adding) some.
pub(crate) fn with(
    mut base: Vec<(&'static str, String)>,
    changes: &[(&'static str, &str)],
) -> Vec<(&'static str, String)> {
    for (key, value) in changes {
        base.retain(|(k, _)| k != key);
        base.push((key, (*value).to_owned()));
    }
    base
}

/// Posts the wizard's form with the client's CSRF token.
pub(crate) async fn post(client: &Client, fields: &[(&'static str, String)]) -> Page {
    let mut all = fields.to_vec();
    all.push(("csrf", client.csrf().await));
    client.send_form(WIZARD, &all).await
}

/// `YYYY-MM-DDTHH:MM` in the platform's zone, `hours` after the test clock's start.
fn local_time(hours: i64) -> String {
    let zone = jiff::tz::TimeZone::get("Asia/Taipei").expect("zone");
    start_time()
        .checked_add(jiff::SignedDuration::from_hours(hours))
        .expect("time")
        .to_zoned(zone)
        .strftime("%Y-%m-%dT%H:%M")
        .to_string()
}

pub(crate) async fn wait_running(
    services: &Services,
    viewer: &UserRecord,
    id: mlstack::domain::workload::WorkloadId,
) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let record = services.workload(viewer, id).await.expect("the workload");
        let running = record.status() == WorkloadStatus::Running
            && record
                .observed
                .as_ref()
                .is_some_and(|o| !o.endpoints.is_empty());
        if running {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not running: {:?} {:?}",
            record.status(),
            record.events
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_member_accepts_the_terms_once_and_creates_a_container_exactly_as_the_catalog_says() {
    let w = wizard().await;
    let page = w.bob.get(WIZARD).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Sign the terms"));
    assert!(
        page.body.contains("Use the platform&#39;s resources")
            || page.body.contains("Use the platform's resources")
    );
    assert!(page.body.contains("name=\"accept_terms\""));
    assert!(page.body.contains("Hourly cost"));

    // Next without accepting stays on the terms.
    let refused = post(&w.bob, &[("step", "1".into()), ("go", "next".into())]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .body
            .contains("Accept the usage terms to create a container.")
    );
    // Accepted: Next shows Create resource with the availability panel.
    let next = post(
        &w.bob,
        &[
            ("step", "1".into()),
            ("go", "next".into()),
            ("accept_terms", accepted().into()),
        ],
    )
    .await;
    assert_eq!(next.status, StatusCode::OK, "{}", next.body);
    assert!(
        next.body
            .contains("id=\"wizard-step-1\" class=\"wizard-step\" hidden")
    );
    assert!(
        next.body.contains("Left in the project&#39;s quota")
            || next.body.contains("Left in the project's quota")
    );
    assert!(
        next.body.contains("3 GPU units, 16 CPU cores, 64.0 GB"),
        "the project's quota is all left"
    );
    assert!(
        next.body.contains("∞ GPU units, ∞ CPU cores, ∞"),
        "bob has no cap"
    );
    assert!(next.body.contains("NVIDIA T4: 1 of 1 GPUs free"));
    // Next on Create resource checks its fields.
    let missing = post(
        &w.bob,
        &[
            ("step", "2".into()),
            ("go", "next".into()),
            ("accept_terms", accepted().into()),
        ],
    )
    .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        missing
            .body
            .contains("Use 1 to 40 lowercase letters and digits")
    );
    // The overview shows every choice and the cost: spec 2 per hour.
    let overview = post(
        &w.bob,
        &with(
            fields(&w, "nb1"),
            &[
                ("step", "3"),
                ("go", "next"),
                ("accept_terms", accepted()),
                ("shm", "on"),
                ("shm_mb", "256"),
                ("mount", "data"),
                ("path_data", "/workspace/data"),
                ("workdir", "data"),
            ],
        ),
    )
    .await;
    assert_eq!(overview.status, StatusCode::OK, "{}", overview.body);
    assert!(overview.body.contains("id=\"wizard-overview\""));
    assert!(overview.body.contains("TWD 2"));
    assert!(
        overview
            .body
            .contains("256 MB — 25% shared memory | 75% system memory")
    );
    assert!(overview.body.contains("data → /workspace/data"));
    assert!(overview.body.contains("value=\"create\""));

    // Create: the list, and the spec built from the catalog.
    let created = post(
        &w.bob,
        &with(
            fields(&w, "nb1"),
            &[
                ("accept_terms", accepted()),
                ("shm", "on"),
                ("shm_mb", "256"),
                ("mount", "data"),
                ("path_data", "/workspace/data/"),
                ("workdir", "data"),
            ],
        ),
    )
    .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    assert_eq!(created.location(), Some("/containers"));
    let list = w.containers().await;
    assert_eq!(list.len(), 1);
    let record = &list[0];
    // Its order (manual §6.2): the configuration and hourly price then.
    let order = w.bob.get(&format!("/account/orders/{}", record.id())).await;
    assert_eq!(order.status, StatusCode::OK, "{}", order.body);
    for text in ["nb1", "c1", "TWD 2", "ubuntu:24.04", "data:/workspace/data"] {
        assert!(order.body.contains(text), "{text}: {}", order.body);
    }
    assert!(w.bob.get("/account/orders").await.body.contains("nb1"));
    let WorkloadSpec::Container(spec) = &record.spec else {
        panic!("a container");
    };
    assert_eq!(spec.meta.name, "nb1");
    assert_eq!(spec.meta.owner, w.user("bob").id);
    assert_eq!(spec.image.to_string(), "ubuntu:24.04");
    assert_eq!(spec.resources.cpu_milli, 500);
    assert_eq!(spec.resources.ram_mib, 1024);
    assert_eq!(spec.resources.shm_mib, 256);
    assert_eq!(spec.resources.gpu, None);
    assert_eq!(spec.volumes.len(), 1);
    assert_eq!(spec.volumes[0].volume, "data");
    assert_eq!(spec.volumes[0].mount_path, "/workspace/data");
    assert_eq!(
        spec.env.get("JUPYTER_WORKDIR").map(String::as_str),
        Some("/workspace/data")
    );
    assert_eq!(spec.services.len(), 1);
    assert_eq!(spec.services[0].name, "custom-8000");
    assert_eq!(spec.services[0].kind, ServiceKind::Custom);
    assert_eq!(spec.services[0].port, 8000);
    // The image has no SSH service: no login is kept.
    assert_eq!(spec.ssh, SshAccess::None);
    assert_eq!((spec.start_at, spec.end_at), (None, None));
    // It runs: real processes in the sandbox serve HTTP.
    wait_running(&w.services, w.user("bob"), record.id()).await;

    // Accepted once: the terms show when, and no box to tick.
    let again = w.bob.get(WIZARD).await;
    assert!(!again.body.contains("name=\"accept_terms\""));
    assert!(again.body.contains("You accepted these terms on"));
    // Previous goes back a step, Clear empties the form.
    let back = post(
        &w.bob,
        &with(fields(&w, "nb2"), &[("step", "3"), ("go", "previous")]),
    )
    .await;
    assert_eq!(back.status, StatusCode::OK);
    assert!(
        back.body
            .contains("id=\"wizard-step-3\" class=\"wizard-step\" hidden")
    );
    assert!(
        !back
            .body
            .contains("id=\"wizard-step-2\" class=\"wizard-step\" hidden")
    );
    assert!(back.body.contains("value=\"nb2\""));
    let cleared = post(
        &w.bob,
        &with(fields(&w, "nb2"), &[("step", "3"), ("go", "clear")]),
    )
    .await;
    assert_eq!(cleared.status, StatusCode::OK);
    assert!(!cleared.body.contains("value=\"nb2\""));
    // A scheduled start (in the platform's zone) and an end after hours.
    let scheduled = post(
        &w.bob,
        &with(
            fields(&w, "nb2"),
            &[
                ("start_mode", "at"),
                ("start_at", &local_time(3)),
                ("end_mode", "after"),
                ("end_after_hours", "2"),
            ],
        ),
    )
    .await;
    assert_eq!(
        scheduled.status,
        StatusCode::SEE_OTHER,
        "{}",
        scheduled.body
    );
    let list = w.containers().await;
    let WorkloadSpec::Container(spec) = &list
        .iter()
        .find(|r| r.spec.name() == Some("nb2"))
        .expect("nb2")
        .spec
    else {
        panic!("a container");
    };
    let minute = |hours: i64| {
        let t = start_time()
            .checked_add(jiff::SignedDuration::from_hours(hours))
            .expect("time");
        t.checked_sub(jiff::SignedDuration::from_secs(t.as_second() % 60))
            .expect("time")
    };
    assert_eq!(spec.start_at, Some(minute(3)));
    assert_eq!(spec.end_at, Some(minute(5)));

    // An admin changes the terms: they show, and are accepted again.
    let admin = w.app.admin().await;
    let saved = admin
        .post_form(
            "/admin/settings",
            &[
                ("buffer_days", "14"),
                ("reminder_days", "7, 3, 1"),
                ("currency", "TWD"),
                ("time_zone", "Asia/Taipei"),
                ("usage_terms", "Lab rules 2027: book GPUs in the calendar."),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let settings = admin.get("/admin/settings").await;
    assert!(
        settings
            .body
            .contains("Lab rules 2027: book GPUs in the calendar.")
    );
    let changed = w.bob.get(WIZARD).await;
    assert!(
        changed
            .body
            .contains("Lab rules 2027: book GPUs in the calendar.")
    );
    assert!(changed.body.contains("name=\"accept_terms\""));
    let refused = post(&w.bob, &fields(&w, "nb3")).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .body
            .contains("Accept the usage terms to create a container.")
    );
    // Ticked under the old terms (a page opened before the change): the
    // new terms are read first.
    let stale = post(
        &w.bob,
        &with(fields(&w, "nb3"), &[("accept_terms", accepted())]),
    )
    .await;
    assert_eq!(stale.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        stale
            .body
            .contains("The usage terms changed while you were reading them")
    );
    let new_terms = terms_sha256("Lab rules 2027: book GPUs in the calendar.");
    assert!(changed.body.contains(&format!("value=\"{new_terms}\"")));
    let accepted_again = post(
        &w.bob,
        &with(fields(&w, "nb3"), &[("accept_terms", &new_terms)]),
    )
    .await;
    assert_eq!(
        accepted_again.status,
        StatusCode::SEE_OTHER,
        "{}",
        accepted_again.body
    );
    assert_eq!(w.containers().await.len(), 3);
}

#[tokio::test]
async fn every_bad_input_is_refused_beside_its_field_and_nothing_is_created() {
    let w = wizard().await;
    // Bob is in a second project, with a volume there.
    let audio = apply(&w.alice, "Audio", &["alice"], &["bob"], &day(0), &day(30)).await;
    assert_eq!(audio.status, StatusCode::SEE_OTHER, "{}", audio.body);
    let admin = w.app.admin().await;
    let queue = admin.get("/admin/reviews").await;
    let approved = admin
        .post_form(
            &format!("/admin/reviews/{}/approve", application_id_in(&queue.body)),
            &[
                ("gpu", "1"),
                ("cpu", "4"),
                ("ram", "8"),
                ("storage", "100"),
                ("remark", "ok"),
            ],
        )
        .await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER, "{}", approved.body);
    let audio = w
        .services
        .list_projects(w.user("bob"), false)
        .await
        .expect("projects")
        .into_iter()
        .find(|p| p.project.name == "Audio")
        .expect("Audio")
        .project
        .id;
    w.services
        .create_volume(
            w.user("bob"),
            VolumeSpec {
                project: audio,
                owner: w.user("bob").id,
                name: "recordings".into(),
                storage_class: String::new(),
                size_gib: 1,
                clone_of: None,
            },
        )
        .await
        .expect("a volume in the other project");
    let first = post(
        &w.bob,
        &with(fields(&w, "first"), &[("accept_terms", accepted())]),
    )
    .await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
    let long = "a".repeat(41);
    let random = "0191f7a0-0000-7000-8000-000000000000";
    let carol = w.user("carol").id.to_string();
    let start = local_time(2);
    let earlier = local_time(1);
    let past = local_time(-1);
    let cases: Vec<(&str, Vec<(&'static str, String)>, &str)> = vec![
        (
            "bad name",
            with(fields(&w, "Bad_Name"), &[]),
            "Use 1 to 40 lowercase letters and digits, starting with a letter.",
        ),
        (
            "long name",
            with(fields(&w, &long), &[]),
            "Use 1 to 40 lowercase letters and digits, starting with a letter.",
        ),
        (
            "duplicate",
            with(fields(&w, "first"), &[]),
            "The project already has a container or job of this name.",
        ),
        (
            "unknown GPU type",
            with(
                fields(&w, "x1"),
                &[("gpu_type", random), ("gpu_count", "1")],
            ),
            "this one does not exist or is no longer offered",
        ),
        (
            "GPU count not allowed",
            with(
                fields(&w, "x1"),
                &[
                    ("gpu_type", &w.t4),
                    ("gpu_count", "3"),
                    ("spec", &w.gpu_spec),
                ],
            ),
            "Choose a GPU count the GPU type allows.",
        ),
        (
            "retired spec",
            with(fields(&w, "x1"), &[("spec", &w.retired_spec)]),
            "Choose a hardware spec from the list",
        ),
        (
            "spec of another GPU type",
            with(
                fields(&w, "x1"),
                &[
                    ("gpu_type", &w.t4),
                    ("gpu_count", "1"),
                    ("spec", &w.cpu_spec),
                ],
            ),
            "This hardware spec does not go with the chosen GPU type",
        ),
        (
            "unknown image",
            with(fields(&w, "x1"), &[("image", random)]),
            "Choose an image from the list",
        ),
        (
            "unknown version",
            with(fields(&w, "x1"), &[("version", "9.9")]),
            "Choose a version of the image.",
        ),
        (
            "shared memory too small",
            with(fields(&w, "x1"), &[("shm", "on"), ("shm_mb", "32")]),
            "Shared memory is at least 64 MB and at most 70%",
        ),
        (
            "shared memory over 70%",
            with(fields(&w, "x1"), &[("shm", "on"), ("shm_mb", "717")]),
            "Shared memory is at least 64 MB and at most 70%",
        ),
        (
            "relative mount path",
            with(
                fields(&w, "x1"),
                &[("mount", "data"), ("path_data", "data")],
            ),
            "A mount path must start with",
        ),
        (
            "mount path with ..",
            with(
                fields(&w, "x1"),
                &[("mount", "data"), ("path_data", "/a/../b")],
            ),
            "A mount path cannot contain",
        ),
        (
            "system mount path",
            with(
                fields(&w, "x1"),
                &[("mount", "data"), ("path_data", "/etc/data")],
            ),
            "This folder belongs to the system",
        ),
        (
            "mount under /root",
            with(
                fields(&w, "x1"),
                &[("mount", "data"), ("path_data", "/root")],
            ),
            "This folder belongs to the system",
        ),
        (
            "mount at /",
            with(fields(&w, "x1"), &[("mount", "data"), ("path_data", "/")]),
            "A volume cannot be mounted at",
        ),
        (
            "another project's volume",
            with(
                fields(&w, "x1"),
                &[("mount", "recordings"), ("path_recordings", "/workspace/x")],
            ),
            "Choose a storage volume of this project that you may use.",
        ),
        (
            "Jupyter folder not mounted",
            with(fields(&w, "x1"), &[("workdir", "data")]),
            "The Jupyter working directory must be one of the mounted volumes.",
        ),
        (
            "end before start",
            with(
                fields(&w, "x1"),
                &[
                    ("start_mode", "at"),
                    ("start_at", &start),
                    ("end_mode", "at"),
                    ("end_at", &earlier),
                ],
            ),
            "The end time must be after the start time.",
        ),
        (
            "start in the past",
            with(
                fields(&w, "x1"),
                &[("start_mode", "at"), ("start_at", &past)],
            ),
            "The start time has passed",
        ),
        (
            "end after zero hours",
            with(
                fields(&w, "x1"),
                &[("end_mode", "after"), ("end_after_hours", "0")],
            ),
            "Enter a whole number of hours from 1 to 8760.",
        ),
        (
            "short SSH password",
            with(
                fields(&w, "x1"),
                &[
                    ("image", &w.ssh_password_image),
                    ("version", "1"),
                    ("ssh_password", "short"),
                ],
            ),
            "An SSH password has 8 to 128 characters",
        ),
        (
            "batch by a member",
            with(fields(&w, "x1"), &[(leak(format!("batch_{carol}")), "1")]),
            "Only the project's managers create containers for other members.",
        ),
        (
            "over capacity",
            with(
                fields(&w, "x1"),
                &[
                    ("gpu_type", &w.t4),
                    ("gpu_count", "2"),
                    ("spec", &w.gpu_spec),
                ],
            ),
            "it needs 2 GPUs of type NVIDIA T4 and 1 are free",
        ),
    ];
    for (what, case, message) in &cases {
        let page = post(&w.bob, case).await;
        assert_eq!(
            page.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{what}: {}",
            page.body
        );
        let escaped = message.replace('\'', "&#39;");
        assert!(
            page.body.contains(message) || page.body.contains(&escaped),
            "{what}: {message} not in the page"
        );
        assert!(
            page.body.contains("value=\"x1\"") || what.contains("name") || *what == "duplicate",
            "{what}: the input is kept"
        );
    }
    let bad_key = with(
        fields(&w, "x1"),
        &[
            ("image", &w.ssh_key_image),
            ("version", "1"),
            ("ssh_key", "ssh-rsa not a key"),
        ],
    );
    let page = post(&w.bob, &bad_key).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("Paste one OpenSSH public key"));
    assert_eq!(w.containers().await.len(), 1, "nothing more was created");

    // SSH by password keeps only a SHA-512 crypt hash with a random salt;
    // by key, the pasted key.
    let password = with(
        fields(&w, "pw"),
        &[
            ("accept_terms", accepted()),
            ("image", &w.ssh_password_image),
            ("version", "1"),
            ("ssh_password", "correct horse battery"),
        ],
    );
    // Next: the password never comes back to the browser, its hash does.
    let next = post(
        &w.alice,
        &with(password.clone(), &[("step", "2"), ("go", "next")]),
    )
    .await;
    assert_eq!(next.status, StatusCode::OK, "{}", next.body);
    assert!(!next.body.contains("correct horse"));
    let marker = "name=\"ssh_password_hash\" value=\"";
    let at = next.body.find(marker).expect("the carried hash") + marker.len();
    let carried = next.body[at..]
        .split('"')
        .next()
        .expect("a hash")
        .to_owned();
    assert!(carried.starts_with("$6$"), "{carried}");
    let create = with(
        password,
        &[("ssh_password", ""), ("ssh_password_hash", &carried)],
    );
    assert_eq!(post(&w.alice, &create).await.status, StatusCode::SEE_OTHER);
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBx2mGHcWwGm7M9T1O6kq2s3HJr0pU0PzGzS0qA4n6Ck alice@lab";
    let by_key = with(
        fields(&w, "key"),
        &[
            ("image", &w.ssh_key_image),
            ("version", "1"),
            ("ssh_key", key),
        ],
    );
    assert_eq!(post(&w.alice, &by_key).await.status, StatusCode::SEE_OTHER);
    let list = w.containers().await;
    let ssh_of = |name: &str| match &list
        .iter()
        .find(|r| r.spec.name() == Some(name))
        .expect(name)
        .spec
    {
        WorkloadSpec::Container(c) => c.ssh.clone(),
        _ => panic!("a container"),
    };
    let SshAccess::PasswordHash(hash) = ssh_of("pw") else {
        panic!("a password hash");
    };
    assert!(mlstack::domain::workload::is_sha512_crypt(&hash), "{hash}");
    assert_eq!(
        hash.split('$').nth(2).map(str::len),
        Some(16),
        "a 16-character salt"
    );
    assert!(!hash.contains("correct horse"));
    assert_eq!(hash, carried, "the hash carried from the step before");
    assert_eq!(ssh_of("key"), SshAccess::Keys(vec![key.to_owned()]));

    // Over the member's cap: what is left is said.
    let bob = w.user("bob").id;
    let cap = w
        .alice
        .post_form(
            &format!("/projects/{}/caps/{bob}", w.project),
            &[("gpu", ""), ("cpu", "0.6"), ("ram", "")],
        )
        .await;
    assert_eq!(cap.status, StatusCode::SEE_OTHER, "{}", cap.body);
    let over = post(&w.bob, &fields(&w, "x2")).await;
    assert_eq!(
        over.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        over.body
    );
    assert!(
        over.body
            .contains("This does not fit your cap in project Vision: 3 GPU, 0.1 CPU cores"),
        "{}",
        over.body
    );
    // Over the project's quota: 3 GPU units, each 16 GB share is one.
    let shared = |name: &str| {
        with(
            fields(&w, name),
            &[
                ("gpu_type", &w.shared),
                ("gpu_count", "16"),
                ("spec", &w.shared_spec),
            ],
        )
    };
    for name in ["s1", "s2", "s3"] {
        let page = post(
            &w.alice,
            &with(shared(name), &[("accept_terms", accepted())]),
        )
        .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{name}: {}", page.body);
    }
    let over = post(&w.alice, &shared("s4")).await;
    assert_eq!(over.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        over.body
            .contains("This does not fit the quota of project Vision: 0 GPU"),
        "{}",
        over.body
    );
    assert_eq!(w.containers().await.len(), 6);
}

/// The accept box of the default usage terms, ticked.
pub(crate) fn accepted() -> &'static str {
    leak(terms_sha256(DEFAULT_USAGE_TERMS))
}

/// A field name made at run time, kept for the test's lifetime.
fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

#[tokio::test]
async fn a_manager_creates_a_batch_for_two_members_in_one_step_all_or_nothing() {
    let w = wizard().await;
    let bob = w.user("bob").id.to_string();
    let carol = w.user("carol").id.to_string();
    // The batch section is offered to the manager only.
    let page = w.alice.get(WIZARD).await;
    assert!(page.body.contains("Batch creation"));
    assert!(page.body.contains(&format!("name=\"batch_{carol}\"")));
    let as_member = w.carol.get(WIZARD).await;
    assert_eq!(as_member.status, StatusCode::OK);
    assert!(!as_member.body.contains("Batch creation"));

    // Does not fit: 2 + 2 shares of a whole GPU unit each, 3 units of quota.
    let too_much = with(
        fields(&w, "team"),
        &[
            ("accept_terms", accepted()),
            ("gpu_type", &w.shared),
            ("gpu_count", "16"),
            ("spec", &w.shared_spec),
            (leak(format!("batch_{bob}")), "2"),
            (leak(format!("batch_{carol}")), "2"),
        ],
    );
    let refused = post(&w.alice, &too_much).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("This does not fit"),
        "{}",
        refused.body
    );
    assert!(w.containers().await.is_empty(), "all or nothing");

    // Over one member's cap: the refusal names whose.
    let cap = w
        .alice
        .post_form(
            &format!("/projects/{}/caps/{carol}", w.project),
            &[("gpu", ""), ("cpu", "0.5"), ("ram", "")],
        )
        .await;
    assert_eq!(cap.status, StatusCode::SEE_OTHER, "{}", cap.body);
    let over_cap = with(
        fields(&w, "team"),
        &[
            ("accept_terms", accepted()),
            (leak(format!("batch_{bob}")), "1"),
            (leak(format!("batch_{carol}")), "2"),
        ],
    );
    let refused = post(&w.alice, &over_cap).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains(
            "This batch does not fit the cap of carol in project Vision: 3 GPU, 0.5 CPU cores"
        ),
        "{}",
        refused.body
    );
    assert!(w.containers().await.is_empty(), "all or nothing");

    // Fits: one CPU container for each.
    let batch = with(
        fields(&w, "team"),
        &[
            ("accept_terms", accepted()),
            (leak(format!("batch_{bob}")), "1"),
            (leak(format!("batch_{carol}")), "1"),
        ],
    );
    let created = post(&w.alice, &batch).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let mut list: Vec<(String, String)> = w
        .containers()
        .await
        .iter()
        .map(|r| {
            let owner = w
                .users
                .iter()
                .find(|u| u.id == r.spec.owner())
                .map(|u| u.username.as_str().to_owned())
                .unwrap_or_default();
            (r.spec.name().unwrap_or_default().to_owned(), owner)
        })
        .collect();
    list.sort();
    assert_eq!(
        list,
        vec![
            ("team-1".to_owned(), "bob".to_owned()),
            ("team-2".to_owned(), "carol".to_owned())
        ]
    );
    // The manager placed both orders; each member owns theirs.
    let placed = w.alice.get("/account/orders").await.body;
    assert!(
        placed.contains("team-1") && placed.contains("team-2"),
        "{placed}"
    );
    let owned = w.bob.get("/account/orders").await.body;
    assert!(
        owned.contains("team-1") && !owned.contains("team-2"),
        "{owned}"
    );
    // Each member sees their own.
    let carols = w
        .services
        .project_workloads(w.user("carol"), w.project)
        .await
        .expect("workloads");
    assert_eq!(carols.len(), 1);
}

/// Polls until `user` may use `count` Ready custom images in the project.
async fn wait_usable(
    w: &Wizard,
    user: &str,
    count: usize,
) -> Vec<mlstack::store::custom_images::CustomImageRecord> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let usable = w
            .services
            .usable_custom_images(w.user(user), w.project)
            .await
            .expect("usable images");
        if usable.len() == count {
            return usable;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{user} has {} usable custom images, not {count}",
            usable.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn container_of(record: &WorkloadRecord) -> &mlstack::domain::workload::ContainerSpec {
    match &record.spec {
        WorkloadSpec::Container(c) => c,
        _ => panic!("a container"),
    }
}

#[tokio::test]
async fn custom_images_and_key_pairs_are_offered_to_whom_they_belong_and_tampered_choices_refused()
{
    let w = wizard().await;
    // No custom image yet: the wizard offers the public catalog only.
    let page = w.carol.get(WIZARD).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("name=\"image_source\""));

    // Bob's container, saved as a Project image and as a Private one.
    let source = with(fields(&w, "src"), &[("accept_terms", accepted())]);
    assert_eq!(post(&w.bob, &source).await.status, StatusCode::SEE_OTHER);
    let source = w.containers().await[0].id();
    wait_running(&w.services, w.user("bob"), source).await;
    let save = |name: &'static str, image_type: &'static str| {
        [
            ("name", name),
            ("description", "saved from src"),
            ("image_name", name),
            ("tag", "v1"),
            ("image_type", image_type),
        ]
    };
    let form_path = format!("/containers/{source}/image");
    let saved = w
        .bob
        .post_form(&form_path, &save("shared", "project"))
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    wait_usable(&w, "bob", 1).await;
    let saved = w.bob.post_form(&form_path, &save("mine", "private")).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let bobs = wait_usable(&w, "bob", 2).await;
    let private = bobs
        .iter()
        .find(|i| i.image.name == "mine")
        .expect("the private image")
        .clone();
    let shared = bobs
        .iter()
        .find(|i| i.image.name == "shared")
        .expect("the project image")
        .clone();

    // Carol is offered the project image only: its name, tag, type and services.
    let page = w.carol.get(WIZARD).await;
    assert!(page.body.contains("name=\"image_source\""), "{}", page.body);
    assert!(page.body.contains(&format!("value=\"{}\"", shared.id)));
    assert!(page.body.contains("shared:v1") && page.body.contains("Custom:8000"));
    assert!(!page.body.contains(&private.id.to_string()));
    let page = w.bob.get(WIZARD).await;
    assert!(page.body.contains(&private.id.to_string()) && page.body.contains("Private"));

    // Tampered choices: bob's Private image, an image that is no custom
    // image of this project (another project's, one being built or
    // failed: none is in the list), or a batch of a Private image.
    let before = w.containers().await.len();
    let custom = |name: &str, id: &str| {
        with(
            fields(&w, name),
            &[
                ("accept_terms", accepted()),
                ("image_source", "custom"),
                ("image", ""),
                ("version", ""),
                ("custom_image", id),
            ],
        )
    };
    for (who, id) in [
        (&w.carol, private.id.to_string()),
        (
            &w.carol,
            mlstack::domain::workload::WorkloadId::generate().to_string(),
        ),
        (&w.carol, "not-an-id".to_owned()),
    ] {
        let page = post(who, &custom("tampered", &id)).await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{id}");
        assert!(
            page.body
                .contains("Choose a custom image from the list: this one is not Ready"),
            "{}",
            page.body
        );
    }
    let carol = w.user("carol").id.to_string();
    let page = post(
        &w.bob,
        &with(
            custom("team", &private.id.to_string()),
            &[(leak(format!("batch_{carol}")), "1")],
        ),
    )
    .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(w.containers().await.len(), before, "nothing was created");

    // Carol creates from the project image: its reference and services;
    // the overview names it and the cost is the spec's.
    let overview = post(
        &w.carol,
        &with(
            custom("fromimg", &shared.id.to_string()),
            &[("go", "next"), ("step", "3")],
        ),
    )
    .await;
    assert_eq!(overview.status, StatusCode::OK, "{}", overview.body);
    assert!(overview.body.contains("id=\"wizard-overview\""));
    assert!(overview.body.contains("shared:v1") && overview.body.contains("TWD 2"));
    let created = post(&w.carol, &custom("fromimg", &shared.id.to_string())).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let list = w.containers().await;
    let made = list
        .iter()
        .find(|r| r.spec.name() == Some("fromimg"))
        .expect("the container");
    assert_eq!(container_of(made).image, shared.target);
    assert_eq!(container_of(made).services, shared.services);

    // A manager's batch of the project image.
    let bob = w.user("bob").id.to_string();
    let batch = post(
        &w.alice,
        &with(
            custom("team", &shared.id.to_string()),
            &[
                (leak(format!("batch_{bob}")), "1"),
                (leak(format!("batch_{carol}")), "1"),
            ],
        ),
    )
    .await;
    assert_eq!(batch.status, StatusCode::SEE_OTHER, "{}", batch.body);
    let list = w.containers().await;
    let team: Vec<_> = list
        .iter()
        .filter(|r| r.spec.name().is_some_and(|n| n.starts_with("team-")))
        .collect();
    assert_eq!(team.len(), 2);
    assert!(team.iter().all(|r| container_of(r).image == shared.target));

    // Login by key pair: the user's own key pairs are offered; without
    // any, pasting a key and a link to the Key Pairs page.
    let by_key = |name: &str| {
        with(
            fields(&w, name),
            &[
                ("accept_terms", accepted()),
                ("image", &w.ssh_key_image),
                ("version", "1"),
            ],
        )
    };
    let page = w.bob.get(WIZARD).await;
    assert!(page.body.contains("href=\"/advanced/key-pairs\""));
    assert!(!page.body.contains("name=\"key_pair\""));
    let pair = w
        .services
        .generate_key_pair(w.user("carol").id, "laptop")
        .await
        .expect("a key pair")
        .record;
    let page = w.carol.get(WIZARD).await;
    assert!(page.body.contains("name=\"key_pair\""));
    assert!(page.body.contains(&pair.fingerprint));
    // Another user's key pair is refused, nothing created.
    let count = w.containers().await.len();
    let refused = post(
        &w.bob,
        &with(by_key("stolen"), &[("key_pair", &pair.id.to_string())]),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .body
            .contains("Choose one of your own key pairs from the list"),
        "{}",
        refused.body
    );
    assert_eq!(w.containers().await.len(), count);
    let created = post(
        &w.carol,
        &with(by_key("withkey"), &[("key_pair", &pair.id.to_string())]),
    )
    .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let list = w.containers().await;
    let made = list
        .iter()
        .find(|r| r.spec.name() == Some("withkey"))
        .expect("the container");
    assert_eq!(
        container_of(made).ssh,
        SshAccess::Keys(vec![pair.public_key.clone()])
    );
}
