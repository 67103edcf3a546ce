//! Administration › Catalog: GPU types, hardware specs, images, storage
//! types and project purposes, over HTTP.

use reqwest::StatusCode;

use crate::common::{Client, Page, TestApp};

const GPU_TYPES: &str = "/admin/catalog/gpu-types";
const SPECS: &str = "/admin/catalog/hardware-specs";
const IMAGES: &str = "/admin/catalog/images";
const STORAGE_TYPES: &str = "/admin/catalog/storage-types";
const PURPOSES: &str = "/admin/catalog/purposes";

fn p4<'a>() -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", "Tesla P4"),
        ("resource_name", "nvidia.com/gpu.shared"),
        ("sharing", "time_sliced"),
        ("node_selector", "nvidia.com/gpu.product=Tesla-P4"),
        ("memory_gb", "8"),
        ("allowed_counts", "1,2,4,8"),
        ("price", "0.5"),
    ]
}

fn spec<'a>(name: &'a str, gpu: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("cpu_cores", "0.5"),
        ("ram_gb", "0.5"),
        ("gpu_type", gpu),
        ("price", "1.25"),
    ]
}

fn image<'a>() -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", "pytorch/pytorch"),
        ("versions", "2.4.0-cuda12.1\nlatest"),
        ("ssh_login", "key_pair"),
        (
            "services",
            "jupyterlab 8888 http JupyterLab\nssh 22 tcp\nwebterminal 7681 http",
        ),
        ("local_commands", "jupyterlab: jupyter lab --port=8888"),
    ]
}

fn storage<'a>() -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", "NFS"),
        ("storage_class", "nfs-client"),
        ("min_gib", "1"),
        ("max_gib", "500"),
    ]
}

/// Replaces (or adds) one field of a form.
fn with<'a>(
    mut form: Vec<(&'a str, &'a str)>,
    key: &'a str,
    value: &'a str,
) -> Vec<(&'a str, &'a str)> {
    form.retain(|(k, _)| *k != key);
    form.push((key, value));
    form
}

/// The id in the edit link of the row named `name` on a kind's page.
fn id_of(body: &str, kind_path: &str, name: &str) -> String {
    let link_end = body
        .find(&format!("\">{name}</a>"))
        .unwrap_or_else(|| panic!("a row for {name}"));
    let prefix = format!("{kind_path}/");
    let start = body[..link_end].rfind(&prefix).expect("an edit link") + prefix.len();
    body[start..link_end].to_owned()
}

async fn create(admin: &Client, path: &str, form: &[(&str, &str)]) -> Page {
    let page = admin.post_form(path, form).await;
    assert_eq!(
        page.status,
        StatusCode::OK,
        "create at {path}: {}",
        page.body
    );
    page
}

#[tokio::test]
async fn admins_create_edit_and_list_every_kind() {
    let app = TestApp::start();
    let admin = app.admin().await;

    let page = create(&admin, GPU_TYPES, &p4()).await;
    assert!(page.body.contains("Tesla P4 was added."));
    let listed = admin.get(GPU_TYPES).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert!(listed.body.contains("nvidia.com/gpu.shared"));
    assert!(listed.body.contains("Time-sliced"));
    assert!(
        listed.body.contains("1, 2, 4, 8 GB"),
        "shared counts are GB"
    );
    let gpu = id_of(&listed.body, GPU_TYPES, "Tesla P4");

    let page = create(&admin, SPECS, &spec("p4.tiny.1g", &gpu)).await;
    assert!(page.body.contains("p4.tiny.1g was added."));
    let spec_id = id_of(&page.body, SPECS, "p4.tiny.1g");
    assert!(
        page.body.contains("<td>Tesla P4</td>"),
        "the spec names its GPU type"
    );
    let cpu_only = create(
        &admin,
        SPECS,
        &with(spec("cpu.small", ""), "cpu_cores", "2"),
    )
    .await;
    assert!(cpu_only.body.contains("CPU only (no GPU)"));

    let page = create(&admin, IMAGES, &image()).await;
    assert!(page.body.contains("pytorch/pytorch was added."));
    assert!(
        page.body
            .contains("JupyterLab:8888, SSH:22, WebTerminal:7681")
    );
    assert!(page.body.contains("By key pair"));

    let page = create(&admin, STORAGE_TYPES, &storage()).await;
    assert!(page.body.contains("NFS was added."));
    assert!(page.body.contains("1–500 GiB"));

    let page = create(
        &admin,
        PURPOSES,
        &[
            ("name", "Teaching"),
            ("description", "Courses and labs"),
            ("allowed_gpu_types", &gpu),
            ("allowed_specs", &spec_id),
        ],
    )
    .await;
    assert!(page.body.contains("Teaching was added."));
    assert!(page.body.contains("<td>Tesla P4</td><td>p4.tiny.1g</td>"));
    let purpose = id_of(&page.body, PURPOSES, "Teaching");
    let edit = admin.get(&format!("{PURPOSES}/{purpose}")).await;
    assert!(edit.body.contains(&format!("value=\"{gpu}\" checked")));
    assert!(edit.body.contains(&format!("value=\"{spec_id}\" checked")));

    // Edit: the form shows the stored values; saving changes the item.
    let edit = admin.get(&format!("{GPU_TYPES}/{gpu}")).await;
    assert_eq!(edit.status, StatusCode::OK);
    assert!(edit.body.contains("value=\"nvidia.com/gpu.shared\""));
    assert!(edit.body.contains("value=\"1,2,4,8\""));
    assert!(
        edit.body
            .contains(">nvidia.com/gpu.product=Tesla-P4</textarea>")
    );
    assert!(
        edit.body
            .contains("<option value=\"time_sliced\" selected>")
    );
    let saved = admin
        .post_form(
            &format!("{GPU_TYPES}/{gpu}"),
            &with(with(p4(), "name", "Tesla P4 shared"), "memory_gb", "16"),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    assert!(saved.body.contains("Tesla P4 shared was saved."));
    assert!(saved.body.contains("16 GB"));
    assert_eq!(id_of(&saved.body, GPU_TYPES, "Tesla P4 shared"), gpu);

    let edit = admin
        .get(&format!(
            "{IMAGES}/{}",
            id_of(&page_of(&admin, IMAGES).await, IMAGES, "pytorch/pytorch")
        ))
        .await;
    assert!(
        edit.body
            .contains("jupyterlab 8888 http JupyterLab\nssh 22 tcp\nwebterminal 7681 http")
    );
    assert!(
        edit.body
            .contains(">jupyterlab: jupyter lab --port=8888</textarea>")
    );

    let overview = admin.get("/admin/catalog").await;
    assert_eq!(overview.status, StatusCode::OK);
    assert!(
        overview.body.contains("2 offered, 0 retired"),
        "two hardware specs"
    );
    for path in [GPU_TYPES, SPECS, IMAGES, STORAGE_TYPES, PURPOSES] {
        assert!(
            overview.body.contains(&format!("href=\"{path}\"")),
            "{path}"
        );
    }

    assert_eq!(
        admin.get("/admin/catalog/gpus").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        admin.get(&format!("{GPU_TYPES}/not-an-id")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        admin.get(&format!("{SPECS}/{gpu}")).await.status,
        StatusCode::NOT_FOUND,
        "a GPU type's id is not a spec"
    );
}

async fn page_of(client: &Client, path: &str) -> String {
    client.get(path).await.body
}

#[tokio::test]
async fn duplicate_names_are_refused_beside_the_field() {
    let app = TestApp::start();
    let admin = app.admin().await;
    create(&admin, GPU_TYPES, &p4()).await;
    let twin = admin
        .post_form(GPU_TYPES, &with(p4(), "name", "tesla p4"))
        .await;
    assert_eq!(twin.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(twin.body.contains("id=\"name-error\""));
    assert!(
        twin.body
            .contains("This name is already used by another item of this kind.")
    );
    assert!(
        twin.body.contains("value=\"tesla p4\""),
        "the input is kept"
    );
    assert_eq!(
        twin.body.matches("nvidia.com/gpu.shared</td>").count(),
        1,
        "nothing added"
    );

    let other = create(&admin, GPU_TYPES, &with(p4(), "name", "A100")).await;
    let a100 = id_of(&other.body, GPU_TYPES, "A100");
    let clash = admin
        .post_form(
            &format!("{GPU_TYPES}/{a100}"),
            &with(with(p4(), "name", "TESLA P4"), "memory_gb", "80"),
        )
        .await;
    assert_eq!(clash.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(clash.body.contains("id=\"name-error\""));
    assert!(
        clash.body.contains("Edit A100"),
        "the page names the stored item"
    );
    let list = admin.get(GPU_TYPES).await;
    assert!(list.body.contains(">A100</a>"), "nothing changed");
    assert!(!list.body.contains("80 GB"));

    // Names are unique per kind: a storage type may share a GPU type's name.
    create(&admin, STORAGE_TYPES, &with(storage(), "name", "A100")).await;
    create(&admin, STORAGE_TYPES, &storage()).await;
    let twin = admin
        .post_form(STORAGE_TYPES, &with(storage(), "name", "nfs"))
        .await;
    assert_eq!(twin.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(twin.body.contains("id=\"name-error\""));
}

#[tokio::test]
async fn invalid_inputs_are_refused_with_the_field_named() {
    let app = TestApp::start();
    let admin = app.admin().await;
    let cases: Vec<(&str, Vec<(&str, &str)>, &str, &str)> = vec![
        (
            GPU_TYPES,
            with(p4(), "resource_name", "nvidia.com/gpu shared"),
            "resource_name",
            "Not a Kubernetes resource name",
        ),
        (
            GPU_TYPES,
            with(p4(), "node_selector", "zone"),
            "node_selector",
            "Write each label as key=value.",
        ),
        (
            GPU_TYPES,
            with(p4(), "memory_gb", "0"),
            "memory_gb",
            "Enter a whole number of GB from 1 to 4096.",
        ),
        (
            GPU_TYPES,
            with(p4(), "allowed_counts", "1,16"),
            "allowed_counts",
            "none can exceed the memory per GPU",
        ),
        (
            GPU_TYPES,
            with(p4(), "price", "-1"),
            "price",
            "Enter a price",
        ),
        (
            GPU_TYPES,
            with(p4(), "price", "1000000"),
            "price",
            "Enter a price from 0 to 100,000 per hour",
        ),
        (SPECS, spec("p4 tiny", ""), "name", "Use letters, digits, "),
        (
            SPECS,
            with(spec("p4.tiny", ""), "cpu_cores", "0"),
            "cpu_cores",
            "Enter a number of cores above 0",
        ),
        (
            SPECS,
            with(spec("p4.tiny", ""), "ram_gb", "1.25"),
            "ram_gb",
            "Enter RAM in GB from 0.1 to 16,384, with at most one decimal",
        ),
        (
            SPECS,
            with(spec("p4.tiny", ""), "ram_gb", "16384.1"),
            "ram_gb",
            "Enter RAM in GB from 0.1 to 16,384, with at most one decimal",
        ),
        (
            SPECS,
            spec("p4.tiny", "0190a5a0-0000-7000-8000-000000000000"),
            "gpu_type",
            "One of the chosen items no longer exists.",
        ),
        (
            IMAGES,
            with(image(), "name", "PyTorch"),
            "name",
            "Use 2–128 lowercase letters",
        ),
        (
            IMAGES,
            with(image(), "versions", "-rc1"),
            "versions",
            "does not start with",
        ),
        (
            IMAGES,
            with(image(), "services", "ssh 70000 tcp"),
            "services",
            "A port is a whole number from 1 to 65535.",
        ),
        (
            IMAGES,
            with(image(), "services", "ftp 21 tcp"),
            "services",
            "The kind is one of ssh",
        ),
        (
            IMAGES,
            with(image(), "local_commands", "tensorboard: tensorboard"),
            "local_commands",
            "A command names a service kind the image does not have.",
        ),
        (
            STORAGE_TYPES,
            with(storage(), "storage_class", "NFS_Client"),
            "storage_class",
            "Not a storage class name",
        ),
        (
            STORAGE_TYPES,
            with(with(storage(), "min_gib", "100"), "max_gib", "10"),
            "max_gib",
            "The maximum must be at least the minimum.",
        ),
        (
            STORAGE_TYPES,
            with(storage(), "max_gib", "65537"),
            "max_gib",
            "Enter a whole number of GiB from 1 to 65536.",
        ),
        (
            PURPOSES,
            vec![("name", ""), ("description", "x")],
            "name",
            "Enter a name.",
        ),
        (
            PURPOSES,
            vec![("name", "Research"), ("allowed_gpu_types", "nope")],
            "allowed_gpu_types",
            "Choose items from the list.",
        ),
    ];
    for (path, form, field, message) in cases {
        let page = admin.post_form(path, &form).await;
        assert_eq!(
            page.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path} {field}: {}",
            page.body
        );
        assert!(
            page.body.contains(&format!("id=\"{field}-error\"")),
            "{path}: the message is beside {field}"
        );
        assert!(page.body.contains(message), "{path} {field}: {message}");
        assert!(
            page.body
                .contains("Please correct the fields marked below."),
            "{path}"
        );
    }
    for (path, empty) in [
        (GPU_TYPES, "No GPU types yet."),
        (SPECS, "No hardware specs yet."),
        (IMAGES, "No images yet."),
        (STORAGE_TYPES, "No storage types yet."),
        (PURPOSES, "No purposes yet."),
    ] {
        assert!(
            admin.get(path).await.body.contains(empty),
            "nothing stored at {path}"
        );
    }

    // A field sent twice is a malformed form, not a crash.
    let mut doubled = storage();
    doubled.push(("name", "Other"));
    let page = admin.post_form(STORAGE_TYPES, &doubled).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);

    // An edit refused keeps the input and changes nothing.
    let page = create(&admin, STORAGE_TYPES, &storage()).await;
    let nfs = id_of(&page.body, STORAGE_TYPES, "NFS");
    let refused = admin
        .post_form(
            &format!("{STORAGE_TYPES}/{nfs}"),
            &with(storage(), "storage_class", "Bad Class"),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("value=\"Bad Class\""));
    assert!(refused.body.contains("id=\"storage_class-error\""));
    assert!(
        admin
            .get(STORAGE_TYPES)
            .await
            .body
            .contains("<td>nfs-client</td>")
    );
}

#[tokio::test]
async fn retired_items_leave_new_choices_but_stay_listed() {
    let app = TestApp::start();
    let admin = app.admin().await;
    let page = create(&admin, GPU_TYPES, &p4()).await;
    let gpu = id_of(&page.body, GPU_TYPES, "Tesla P4");
    assert!(
        admin
            .get(SPECS)
            .await
            .body
            .contains(&format!("value=\"{gpu}\""))
    );

    let retired = admin
        .post_form(&format!("{GPU_TYPES}/{gpu}/retire"), &[])
        .await;
    assert_eq!(retired.status, StatusCode::OK, "{}", retired.body);
    assert!(retired.body.contains("Tesla P4 is retired."));
    assert!(retired.body.contains("<tr class=\"muted\">"));
    assert!(retired.body.contains(">Retired</span>"));
    assert!(
        retired
            .body
            .contains(&format!("{GPU_TYPES}/{gpu}/unretire"))
    );

    let specs = admin.get(SPECS).await;
    assert!(
        !specs.body.contains(&format!("value=\"{gpu}\"")),
        "a retired GPU type is not offered to new specs"
    );
    assert!(
        !admin
            .get(PURPOSES)
            .await
            .body
            .contains(&format!("value=\"{gpu}\""))
    );
    let refused = admin.post_form(SPECS, &spec("p4.tiny.1g", &gpu)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("is retired and cannot be chosen"));
    let edit = admin.get(&format!("{GPU_TYPES}/{gpu}")).await;
    assert!(edit.body.contains("This item is retired"));

    let overview = admin.get("/admin/catalog").await;
    assert!(overview.body.contains("0 offered, 1 retired"));

    let back = admin
        .post_form(&format!("{GPU_TYPES}/{gpu}/unretire"), &[])
        .await;
    assert_eq!(back.status, StatusCode::OK);
    assert!(back.body.contains("Tesla P4 is offered again."));
    assert!(!back.body.contains("<tr class=\"muted\">"));
    create(&admin, SPECS, &spec("p4.tiny.1g", &gpu)).await;
}

#[tokio::test]
async fn used_items_cannot_be_deleted_and_unused_ones_can() {
    let app = TestApp::start();
    let admin = app.admin().await;
    let page = create(&admin, STORAGE_TYPES, &storage()).await;
    let nfs = id_of(&page.body, STORAGE_TYPES, "NFS");
    let deleted = admin
        .post_form(&format!("{STORAGE_TYPES}/{nfs}/delete"), &[])
        .await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert!(deleted.body.contains("NFS was deleted."));
    assert!(deleted.body.contains("No storage types yet."));
    assert_eq!(
        admin.get(&format!("{STORAGE_TYPES}/{nfs}")).await.status,
        StatusCode::NOT_FOUND
    );

    let page = create(&admin, GPU_TYPES, &p4()).await;
    let gpu = id_of(&page.body, GPU_TYPES, "Tesla P4");
    let page = create(&admin, SPECS, &spec("p4.tiny.1g", &gpu)).await;
    let spec_id = id_of(&page.body, SPECS, "p4.tiny.1g");
    let refused = admin
        .post_form(&format!("{GPU_TYPES}/{gpu}/delete"), &[])
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(
        refused.body.contains(
            "Tesla P4 cannot be deleted because it is used by the hardware specs p4.tiny.1g."
        ),
        "{}",
        refused.body
    );
    assert!(refused.body.contains(">Tesla P4</a>"), "the item remains");
    assert_eq!(
        admin.get(&format!("{GPU_TYPES}/{gpu}")).await.status,
        StatusCode::OK
    );

    // A purpose that allows the spec keeps the spec.
    create(
        &admin,
        PURPOSES,
        &[("name", "Teaching"), ("allowed_specs", &spec_id)],
    )
    .await;
    let refused = admin
        .post_form(&format!("{SPECS}/{spec_id}/delete"), &[])
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.body.contains("used by the purposes Teaching"));

    // Once nothing uses them, they go.
    let purposes = admin.get(PURPOSES).await;
    let teaching = id_of(&purposes.body, PURPOSES, "Teaching");
    for path in [
        format!("{PURPOSES}/{teaching}/delete"),
        format!("{SPECS}/{spec_id}/delete"),
        format!("{GPU_TYPES}/{gpu}/delete"),
    ] {
        let page = admin.post_form(&path, &[]).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
    }
    assert!(
        admin
            .get(GPU_TYPES)
            .await
            .body
            .contains("No GPU types yet.")
    );
    assert_eq!(
        admin
            .post_form(&format!("{GPU_TYPES}/{gpu}/delete"), &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        admin
            .post_form(&format!("{GPU_TYPES}/{gpu}/explode"), &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn only_admins_reach_the_catalog() {
    let app = TestApp::start();
    let admin = app.admin().await;
    let (member, _) = app.member("mona").await;
    let anonymous = app.client();

    let mut items = Vec::new();
    let gpu_page = create(&admin, GPU_TYPES, &p4()).await;
    let gpu = id_of(&gpu_page.body, GPU_TYPES, "Tesla P4");
    items.push((GPU_TYPES, gpu.clone(), p4()));
    let page = create(&admin, SPECS, &spec("p4.tiny.1g", &gpu)).await;
    items.push((SPECS, id_of(&page.body, SPECS, "p4.tiny.1g"), spec("x", "")));
    let page = create(&admin, IMAGES, &image()).await;
    items.push((
        IMAGES,
        id_of(&page.body, IMAGES, "pytorch/pytorch"),
        image(),
    ));
    let page = create(&admin, STORAGE_TYPES, &storage()).await;
    items.push((
        STORAGE_TYPES,
        id_of(&page.body, STORAGE_TYPES, "NFS"),
        storage(),
    ));
    let page = create(&admin, PURPOSES, &[("name", "Teaching")]).await;
    items.push((
        PURPOSES,
        id_of(&page.body, PURPOSES, "Teaching"),
        vec![("name", "Hacked")],
    ));

    let mut gets = vec!["/admin/catalog".to_owned()];
    let mut posts: Vec<(String, Vec<(&str, &str)>)> = Vec::new();
    for (path, id, form) in &items {
        gets.push((*path).to_owned());
        gets.push(format!("{path}/{id}"));
        posts.push(((*path).to_owned(), with(form.clone(), "name", "intruder")));
        posts.push((
            format!("{path}/{id}"),
            with(form.clone(), "name", "intruder"),
        ));
        for action in ["retire", "unretire", "delete"] {
            posts.push((format!("{path}/{id}/{action}"), Vec::new()));
        }
    }
    for path in &gets {
        let page = anonymous.get(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "anonymous GET {path}");
        assert!(
            page.location().is_some_and(|l| l.starts_with("/login")),
            "anonymous GET {path}"
        );
        assert_eq!(
            member.get(path).await.status,
            StatusCode::FORBIDDEN,
            "member GET {path}"
        );
        assert_eq!(
            admin.get(path).await.status,
            StatusCode::OK,
            "admin GET {path}"
        );
    }
    for (path, form) in &posts {
        let page = anonymous.post_form(path, form).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "anonymous POST {path}");
        assert!(
            page.location().is_some_and(|l| l.starts_with("/login")),
            "anonymous POST {path}"
        );
        assert_eq!(
            member.post_form(path, form).await.status,
            StatusCode::FORBIDDEN,
            "member POST {path}"
        );
    }
    for (path, _, _) in &items {
        let page = admin.get(path).await;
        assert!(
            !page.body.contains("intruder"),
            "nothing created or renamed at {path}"
        );
        assert!(!page.body.contains("Hacked"));
        assert!(
            !page.body.contains("<tr class=\"muted\">"),
            "nothing retired at {path}"
        );
        assert!(page.body.contains("/delete\""), "nothing deleted at {path}");
    }
}
