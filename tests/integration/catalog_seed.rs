//! The default catalog of a new store: seeded at the first start (a CPU
//! spec, the local GPUs' types and specs, the host environment image),
//! shown with a "Seeded" badge on the admin's catalog pages, and never added
//! again once decided: items an admin retired or deleted stay so across a
//! restart, and a store whose catalog was defined before is left alone.

use mlstack::cluster::AnyDriver;
use mlstack::cluster::local::LocalGpu;
use mlstack::config::{Config, DriverChoice};
use reqwest::StatusCode;

use crate::common::fake_apiserver::FakeApiServer;
use crate::common::{Client, TestApp};

const GPU_TYPES: &str = "/admin/catalog/gpu-types";
const SPECS: &str = "/admin/catalog/hardware-specs";
const IMAGES: &str = "/admin/catalog/images";
const BADGE: &str = "<span class=\"badge blue\">Seeded</span>";

fn gpu(index: u32, name: &str, memory_mib: u64) -> LocalGpu {
    LocalGpu {
        index,
        name: name.into(),
        memory_mib,
        uuid: None,
        minor: None,
    }
}

/// The shipped setting (seeding on) with a fixed GPU inventory.
fn seeding(gpus: Vec<LocalGpu>) -> impl FnOnce(&mut Config) {
    move |config| {
        config.seed_catalog = true;
        config.local.detect_gpus = false;
        config.local.gpus = gpus;
    }
}

/// The id in the edit link of the row named `name`.
fn id_of(body: &str, kind_path: &str, name: &str) -> String {
    let link_end = body
        .find(&format!("\">{name}</a>"))
        .unwrap_or_else(|| panic!("a row for {name}: {body}"));
    let prefix = format!("{kind_path}/");
    let start = body[..link_end].rfind(&prefix).expect("an edit link") + prefix.len();
    body[start..link_end].to_owned()
}

/// The table row of the item named `name`.
fn row_of<'a>(body: &'a str, name: &str) -> &'a str {
    let at = body
        .find(&format!("\">{name}</a>"))
        .unwrap_or_else(|| panic!("a row for {name}"));
    let start = body[..at].rfind("<tr").expect("a row");
    let end = at + body[at..].find("</tr>").expect("its end");
    &body[start..end]
}

async fn page(admin: &Client, path: &str) -> String {
    let page = admin.get(path).await;
    assert_eq!(page.status, StatusCode::OK, "{path}");
    page.body
}

#[tokio::test]
async fn a_new_store_offers_a_seeded_catalog_that_an_admin_can_retire_for_good() {
    let app = TestApp::start_configured(seeding(vec![
        gpu(0, "NVIDIA T4", 15_360),
        gpu(1, "NVIDIA T4", 15_360),
    ]));
    let admin = app.admin().await;

    let specs = page(&admin, SPECS).await;
    let cpu = row_of(&specs, "cpu.2c.4g");
    assert!(cpu.contains(BADGE), "{cpu}");
    assert!(cpu.contains("CPU only"), "{cpu}");
    let t4_spec = row_of(&specs, "nvidia-t4.4c.16g");
    assert!(t4_spec.contains(BADGE) && t4_spec.contains("NVIDIA T4"));

    let gpus = page(&admin, GPU_TYPES).await;
    let t4 = row_of(&gpus, "NVIDIA T4");
    assert!(t4.contains(BADGE), "{t4}");
    assert!(
        t4.contains("nvidia.com/gpu") && t4.contains("15 GB"),
        "{t4}"
    );
    assert!(t4.contains("1, 2"), "one or both cards: {t4}");

    let images = page(&admin, IMAGES).await;
    let host = row_of(&images, "host-environment");
    assert!(host.contains(BADGE), "{host}");
    assert!(host.contains("WebTerminal:7681"), "{host}");
    // JupyterLab is offered exactly when the host has it.
    let services = app.services();
    let AnyDriver::Local(local) = &**services.driver().expect("a driver") else {
        panic!("the local driver");
    };
    assert_eq!(
        host.contains("JupyterLab:8888"),
        local.can_run("jupyter"),
        "{host}"
    );
    // SSH exactly when the driver serves it (sshd installed, sandboxed).
    assert_eq!(host.contains("SSH:22"), local.offers_ssh(), "{host}");
    assert_eq!(
        local.offers_ssh(),
        std::path::Path::new("/usr/sbin/sshd").is_file(),
        "the tests run sandboxed"
    );
    drop(services);

    // In Chinese too.
    admin
        .post_form(
            "/account/language",
            &[("language", "zh-TW"), ("next", SPECS)],
        )
        .await;
    let zh = page(&admin, SPECS).await;
    assert!(zh.contains("<span class=\"badge blue\">系統預設</span>"));
    admin
        .post_form("/account/language", &[("language", "en"), ("next", SPECS)])
        .await;

    // The admin retires the CPU spec and deletes the image...
    let cpu_id = id_of(&specs, SPECS, "cpu.2c.4g");
    let retired = admin
        .post_form(&format!("{SPECS}/{cpu_id}/retire"), &[])
        .await;
    assert_eq!(retired.status, StatusCode::OK, "{}", retired.body);
    let image_id = id_of(&images, IMAGES, "host-environment");
    let deleted = admin
        .post_form(&format!("{IMAGES}/{image_id}/delete"), &[])
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);

    // ...and a restart brings nothing back.
    let app = app.restart();
    let admin = app.admin().await;
    let specs = page(&admin, SPECS).await;
    assert_eq!(
        specs.matches("cpu.2c.4g</a>").count(),
        1,
        "not seeded twice"
    );
    assert!(row_of(&specs, "cpu.2c.4g").contains("Retired"));
    let images = page(&admin, IMAGES).await;
    assert!(images.contains("No images yet."), "{images}");
    assert_eq!(
        page(&admin, GPU_TYPES)
            .await
            .matches("NVIDIA T4</a>")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_store_whose_catalog_was_defined_before_is_left_alone() {
    // Started once without seeding, the admin defines an image...
    let app = TestApp::start_configured(|config| config.local.detect_gpus = false);
    let admin = app.admin().await;
    let created = admin
        .post_form(
            IMAGES,
            &[
                ("name", "ubuntu"),
                ("versions", "24.04"),
                ("ssh_login", "password"),
                ("services", ""),
                ("local_commands", ""),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    // ...then seeding is turned on: the next start does not add anything.
    let mut app = app;
    app.config.seed_catalog = true;
    let app = app.restart();
    let admin = app.admin().await;
    assert!(page(&admin, SPECS).await.contains("No hardware specs yet."));
    let images = page(&admin, IMAGES).await;
    assert!(!images.contains("host-environment") && !images.contains(BADGE));
}

#[tokio::test]
async fn a_cluster_gets_the_cpu_spec_only() {
    let fake = FakeApiServer::start();
    let dir = tempfile::tempdir().expect("dir");
    let kubeconfig = dir.path().join("kubeconfig");
    fake.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let app = TestApp::start_configured(|config| {
        config.seed_catalog = true;
        config.cluster.driver = DriverChoice::Kube;
        config.cluster.kubeconfig = Some(kubeconfig);
    });
    let admin = app.admin().await;
    assert!(row_of(&page(&admin, SPECS).await, "cpu.2c.4g").contains(BADGE));
    assert!(page(&admin, GPU_TYPES).await.contains("No GPU types yet."));
    assert!(page(&admin, IMAGES).await.contains("No images yet."));
}
