//! The permission policy on every route. The routes come from the router's
//! own table (`mlstack::web::route_table()`), so a route added without a row
//! in `SAMPLES` fails this test; each route is asked by an admin (not a
//! member of the project), a project manager, a project member, a member of
//! another project and an anonymous visitor, with real cookies and CSRF
//! tokens, and the answer must be what `domain::authz` says. The expected
//! answers are generated from the policy into a table (route × actor,
//! written to `authz-table.md` in the test's temporary directory), and the
//! test walks every cell of it.

use std::collections::BTreeSet;

use mlstack::domain::authz::{
    ProjectAction, Role, WorkloadAction, permits, permits_project, permits_workload,
};
use mlstack::domain::project::ProjectRole;
use mlstack::web::routes::{Requires, Verb};
use reqwest::StatusCode;

use crate::common::{Client, Page, TestApp, secret_in};
use crate::projects::{active_project, apply, day};

/// How a request was answered, as far as permissions go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Reached the use case: any answer but a refusal (a refused form, a
    /// redirect elsewhere, a conflict).
    Passed,
    /// 403.
    Forbidden,
    /// 404: the project is not even shown to exist.
    Hidden,
    /// Redirected to the login page.
    Login,
}

/// `page` answered a request for `path`. The login page is sent with the
/// address asked for in `next` (but for the home page); logging out also
/// ends on the login page, without it.
fn outcome_of(path: &str, page: &Page) -> Outcome {
    let to_login = page
        .location()
        .is_some_and(|l| l.starts_with("/login?next=") || path == "/" && l == "/login");
    match page.status {
        StatusCode::FORBIDDEN => Outcome::Forbidden,
        StatusCode::NOT_FOUND => Outcome::Hidden,
        StatusCode::SEE_OTHER if to_login => Outcome::Login,
        // A WebSocket upgrade without a session: told to sign in (401),
        // not redirected.
        StatusCode::UNAUTHORIZED => Outcome::Login,
        status if status.is_server_error() => panic!("{status}: {}", page.body),
        _ => Outcome::Passed,
    }
}

/// One of the five people who ask every route.
struct Actor<'a> {
    name: &'static str,
    role: Role,
    /// Their role in the project the samples name.
    membership: Option<ProjectRole>,
    /// They own the workloads the samples name.
    owner: bool,
    client: &'a Client,
}

/// What `domain::authz` says `actor` gets for a route that `requires` this.
fn expected(requires: Requires, actor: &Actor) -> Outcome {
    let (role, membership) = (actor.role, actor.membership);
    match requires {
        Requires::Platform(action) if permits(role, action) => Outcome::Passed,
        Requires::Project(action) if permits_project(role, membership, action) => Outcome::Passed,
        Requires::Workload(action) if permits_workload(role, membership, actor.owner, action) => {
            Outcome::Passed
        }
        _ if role == Role::Anonymous => Outcome::Login,
        Requires::Platform(_) => Outcome::Forbidden,
        // An action no membership would allow this role is refused before
        // the project is looked at; otherwise someone who may not see the
        // project is told it does not exist.
        Requires::Project(action)
            if !permits_project(role, Some(ProjectRole::Manager), action)
                || permits_project(role, membership, ProjectAction::View) =>
        {
            Outcome::Forbidden
        }
        Requires::Project(_) => Outcome::Hidden,
        Requires::Workload(_)
            if permits_workload(role, membership, actor.owner, WorkloadAction::View) =>
        {
            Outcome::Forbidden
        }
        Requires::Workload(_) => Outcome::Hidden,
    }
}

/// Ids the samples put into path patterns.
struct Ids {
    project: String,
    /// The project member's user id (member caps).
    member: String,
    /// A user who is none of the actors (admin actions on users).
    bystander: String,
    /// Applications still being reviewed: one to revoke, one to decide.
    to_revoke: String,
    to_decide: String,
    /// A catalog purpose.
    purpose: String,
    /// A running container of the project, created by the member (mia).
    container: String,
    /// A job of the project, created by the member (mia).
    job: String,
    /// A key pair of the member (mia).
    key_pair: String,
    /// A custom image the member saved from the container.
    custom_image: String,
    /// A personal storage of the member (mia).
    storage: String,
    /// A job schedule of the member (mia).
    schedule: String,
    /// The job template the schedule runs (mia's).
    template: String,
}

/// A request for a route: the path with its parameters filled in and a form
/// that changes nothing where the route allows that (refused input).
type Sample = (String, Vec<(&'static str, String)>);

/// The expectation table: concrete requests for every route of the route
/// table. A new route needs a row here (the test says which one is missing).
fn samples(verb: Verb, pattern: &str, ids: &Ids) -> Option<Vec<Sample>> {
    let Ids {
        project,
        member,
        bystander,
        to_revoke,
        to_decide,
        purpose,
        container,
        job,
        key_pair,
        custom_image,
        storage,
        schedule,
        template,
    } = ids;
    let get = |path: &str| Some(vec![(path.to_owned(), vec![])]);
    let post = |path: String, form: Vec<(&'static str, &str)>| {
        let form = form.into_iter().map(|(k, v)| (k, v.to_owned())).collect();
        Some(vec![(path, form)])
    };
    match (verb, pattern) {
        (Verb::Get, "/healthz" | "/readyz" | "/login" | "/") => get(pattern),
        (Verb::Get, "/assets/{path:.*}") => get("/assets/app.css"),
        (Verb::Post, "/login") => post(pattern.into(), vec![("username", "")]),
        (Verb::Post, "/logout") => post(pattern.into(), vec![]),
        (
            Verb::Get,
            "/account/profile" | "/account/password" | "/account/settings" | "/account/orders",
        ) => get(pattern),
        (Verb::Post, "/account/profile") => post(pattern.into(), vec![("phone", "call me")]),
        (Verb::Post, "/account/password") => post(pattern.into(), vec![("current", "wrong")]),
        (Verb::Post, "/account/settings") => post(pattern.into(), vec![("theme", "plaid")]),
        (Verb::Post, "/account/language") => post(pattern.into(), vec![("language", "en")]),
        (Verb::Post, "/account/theme") => post(pattern.into(), vec![("theme", "light")]),
        (
            Verb::Get,
            "/containers"
            | "/jobs"
            | "/jobs/schedules"
            | "/gpu-utilization"
            | "/storage"
            | "/advanced/custom-images"
            | "/advanced/job-templates"
            | "/advanced/key-pairs"
            | "/advanced/cost-center"
            | "/advanced/cloud-provisioning",
        ) => get(pattern),
        (Verb::Post, "/advanced/cloud-provisioning") => post(pattern.into(), vec![]),
        (
            Verb::Get,
            "/containers/{id}"
            | "/containers/{id}/status"
            | "/containers/{id}/delete"
            | "/containers/{id}/stop"
            | "/containers/{id}/start",
        ) => get(&pattern.replace("{id}", container)),
        // Stop, then start again: the container stays.
        (Verb::Post, "/containers/{id}/stop" | "/containers/{id}/start") => {
            post(pattern.replace("{id}", container), vec![("next", "detail")])
        }
        // Without the confirmation ticked: refused, nothing deleted.
        (Verb::Post, "/containers/{id}/delete") => {
            post(format!("/containers/{container}/delete"), vec![])
        }
        (Verb::Get, "/advanced/key-pairs/generate" | "/advanced/key-pairs/import") => get(pattern),
        (Verb::Post, "/advanced/key-pairs/generate" | "/advanced/key-pairs/import") => {
            post(pattern.into(), vec![("name", "")])
        }
        // Only the owner may delete it (others are told it does not exist).
        (Verb::Post, "/advanced/key-pairs/{id}/delete") => {
            post(format!("/advanced/key-pairs/{key_pair}/delete"), vec![])
        }
        (Verb::Get, "/projects" | "/projects/new" | "/projects/detail" | "/projects/reviews") => {
            get(pattern)
        }
        (Verb::Post, "/projects/new") => post(pattern.into(), vec![("name", "")]),
        (Verb::Get, "/containers/new") => get(pattern),
        (Verb::Post, "/containers/new") => {
            post(pattern.into(), vec![("step", "1"), ("go", "next")])
        }
        (Verb::Post, "/projects/select") => post(
            pattern.into(),
            vec![("project", project), ("next", "/projects")],
        ),
        (Verb::Post, "/projects/reviews/{id}/revoke") => {
            post(format!("/projects/reviews/{to_revoke}/revoke"), vec![])
        }
        (Verb::Get, "/users/search") => get("/users/search?q=ad"),
        (Verb::Get, "/jobs/new" | "/advanced/job-templates/new") => get(pattern),
        (Verb::Post, "/jobs/new") => post(pattern.into(), vec![("step", "1"), ("go", "next")]),
        (Verb::Post, "/advanced/job-templates/new") => post(pattern.into(), vec![("name", "")]),
        (Verb::Get, "/advanced/job-templates/{id}" | "/advanced/job-templates/{id}/edit") => {
            get(&pattern.replace("{id}", template))
        }
        (Verb::Post, "/advanced/job-templates/{id}/edit") => post(
            format!("/advanced/job-templates/{template}/edit"),
            vec![("name", "")],
        ),
        // Without `confirm`: refused after the permission check (and the
        // schedule still runs it).
        (Verb::Post, "/advanced/job-templates/{id}/delete") => {
            post(format!("/advanced/job-templates/{template}/delete"), vec![])
        }
        (Verb::Get, "/jobs/schedules/new") => get(pattern),
        (Verb::Post, "/jobs/schedules/new") => post(pattern.into(), vec![("name", "")]),
        (Verb::Get, "/jobs/schedules/{id}" | "/jobs/schedules/{id}/edit") => {
            get(&pattern.replace("{id}", schedule))
        }
        (Verb::Post, "/jobs/schedules/{id}/edit") => post(
            format!("/jobs/schedules/{schedule}/edit"),
            vec![("name", "")],
        ),
        // Without `confirm`: refused after the permission check.
        (Verb::Post, "/jobs/schedules/{id}/delete") => {
            post(format!("/jobs/schedules/{schedule}/delete"), vec![])
        }
        (Verb::Get, "/jobs/schedules/preview") => get(
            "/jobs/schedules/preview?cron=0+20+*+*+*&zone=Asia%2FTaipei&start=2026-11-29T00%3A00&end=2026-12-31T00%3A00",
        ),
        // The GETs of POST-only addresses (a reload after a refused form).
        (
            Verb::Get,
            "/projects/{id}/extension" | "/projects/{id}/quota" | "/projects/{id}/delete",
        ) => get(&pattern.replace("{id}", project)),
        (Verb::Get, "/projects/{id}/caps/{user}") => {
            get(&format!("/projects/{project}/caps/{member}"))
        }
        (Verb::Get, "/projects/reviews/{id}/revoke") => {
            get(&format!("/projects/reviews/{to_revoke}/revoke"))
        }
        (Verb::Get, "/admin/reviews/{id}/{decision}") => {
            get(&format!("/admin/reviews/{to_decide}/approve"))
        }
        (Verb::Get, "/admin/projects/{id}/{action}") => {
            get(&format!("/admin/projects/{project}/revise"))
        }
        (Verb::Get, "/admin/catalog/{kind}/{id}/{action}") => {
            get(&format!("/admin/catalog/purposes/{purpose}/retire"))
        }
        (Verb::Get, "/projects/{id}" | "/projects/{id}/edit") => {
            get(&pattern.replace("{id}", project))
        }
        (Verb::Post, "/projects/{id}/edit") => {
            post(format!("/projects/{project}/edit"), vec![("name", "")])
        }
        (Verb::Post, "/projects/{id}/extension") => post(
            format!("/projects/{project}/extension"),
            vec![("days", "0")],
        ),
        (Verb::Post, "/projects/{id}/quota") => {
            post(format!("/projects/{project}/quota"), vec![("gpu", "-1")])
        }
        (Verb::Post, "/projects/{id}/delete") => post(
            format!("/projects/{project}/delete"),
            vec![("code", "wrong")],
        ),
        (Verb::Post, "/projects/{id}/caps/{user}") => post(
            format!("/projects/{project}/caps/{member}"),
            vec![("gpu", "lots")],
        ),
        (
            Verb::Get,
            "/admin"
            | "/admin/users"
            | "/admin/reviews"
            | "/admin/projects"
            | "/admin/settings"
            | "/admin/outbox"
            | "/admin/catalog"
            | "/admin/metrics-sources"
            | "/metrics",
        ) => get(pattern),
        (Verb::Post, "/admin/users") => post(pattern.into(), vec![("username", "")]),
        (Verb::Post, "/admin/users/{id}/{action}") => Some(
            [
                "disable",
                "enable",
                "grant-admin",
                "revoke-admin",
                "reset-password",
            ]
            .into_iter()
            .map(|action| (format!("/admin/users/{bystander}/{action}"), vec![]))
            .collect(),
        ),
        (Verb::Post, "/admin/reviews/{id}/{decision}") => post(
            format!("/admin/reviews/{to_decide}/approve"),
            vec![("gpu", "x")],
        ),
        (Verb::Post, "/admin/projects/{id}/{action}") => post(
            format!("/admin/projects/{project}/revise"),
            vec![("gpu", "x")],
        ),
        (Verb::Post, "/admin/settings") => post(pattern.into(), vec![("buffer_days", "-1")]),
        // No such mail: an admin is answered 404, nothing is queued.
        (Verb::Post, "/admin/outbox/{id}/resend") => post(
            "/admin/outbox/0190a5a8-0000-7000-8000-000000000000/resend".into(),
            vec![],
        ),
        (Verb::Get, "/admin/catalog/{kind}") => get("/admin/catalog/purposes"),
        (Verb::Post, "/admin/catalog/{kind}") => {
            post("/admin/catalog/purposes".into(), vec![("name", "")])
        }
        (Verb::Get, "/admin/catalog/{kind}/{id}") => {
            get(&format!("/admin/catalog/purposes/{purpose}"))
        }
        (Verb::Post, "/admin/catalog/{kind}/{id}") => post(
            format!("/admin/catalog/purposes/{purpose}"),
            vec![("name", "")],
        ),
        (Verb::Post, "/admin/catalog/{kind}/{id}/{action}") => Some(
            ["retire", "unretire"]
                .into_iter()
                .map(|action| {
                    (
                        format!("/admin/catalog/purposes/{purpose}/{action}"),
                        vec![],
                    )
                })
                .collect(),
        ),
        (Verb::Get, "/containers/{id}/terminal" | "/containers/{id}/terminal/ws") => {
            get(&pattern.replace("{id}", container))
        }
        // The sample container's HTTP service.
        (Verb::Any, "/containers/{id}/services/{name}/{tail:.*}") => {
            get(&format!("/containers/{container}/services/echo/"))
        }
        (Verb::Get, "/jobs/{id}" | "/jobs/{id}/log") => get(&pattern.replace("{id}", job)),
        (Verb::Post, "/jobs/{id}/cancel") => post(pattern.replace("{id}", job), vec![]),
        // Without the confirmation ticked: refused, nothing deleted.
        (Verb::Post, "/jobs/{id}/delete") => post(pattern.replace("{id}", job), vec![]),
        (Verb::Get, "/containers/{id}/image") => get(&format!("/containers/{container}/image")),
        (Verb::Post, "/containers/{id}/image") => post(
            format!("/containers/{container}/image"),
            vec![("image_name", "")],
        ),
        // Without the dialog's confirmation: refused, nothing deleted.
        (Verb::Post, "/advanced/custom-images/{id}/delete") => post(
            format!("/advanced/custom-images/{custom_image}/delete"),
            vec![],
        ),
        (Verb::Post, "/storage") => post(pattern.into(), vec![("project", project), ("name", "")]),
        // A permission that does not exist: refused, nothing changed.
        (Verb::Post, "/storage/{id}/permission") => post(
            format!("/storage/{storage}/permission"),
            vec![("permission", "everyone")],
        ),
        // Without the dialog's confirmation: refused, nothing deleted.
        (Verb::Post, "/storage/{id}/delete") => post(format!("/storage/{storage}/delete"), vec![]),
        // Without a name: refused after the permission check.
        (Verb::Post, "/storage/{id}/clone") => post(
            format!("/storage/{storage}/clone"),
            vec![("name", ""), ("permission", "personal")],
        ),
        (Verb::Get, "/advanced/cost-center/csv") => get(pattern),
        (Verb::Get, "/admin/audit" | "/admin/audit/export.csv" | "/admin/audit/export.jsonl") => {
            get(pattern)
        }
        // Out of range: refused, nothing changed.
        (Verb::Post, "/admin/audit/retention") => {
            post(pattern.into(), vec![("retention_days", "0")])
        }
        // The sample container's order: the member's (others: not found).
        (Verb::Get, "/account/orders/{id}") => get(&format!("/account/orders/{container}")),
        (Verb::Get, "/account/emails") => get(pattern),
        // An unknown link: its page says so (404), nothing changes.
        (Verb::Get, "/account/emails/verify") => get("/account/emails/verify?token=unknown"),
        (Verb::Post, "/account/emails/verify") => post(pattern.into(), vec![("token", "unknown")]),
        (Verb::Post, "/account/emails/login") => {
            post(pattern.into(), vec![("address", "not mail")])
        }
        (Verb::Post, "/account/emails/backup") => {
            post(pattern.into(), vec![("backup", "not mail")])
        }
        (Verb::Post, "/account/emails/backup/delete") => post(pattern.into(), vec![]),
        // Nothing waits for confirmation: refused (409).
        (Verb::Post, "/account/emails/resend") => post(pattern.into(), vec![("slot", "login")]),
        // No address chosen: refused (422).
        (Verb::Post, "/account/emails/notifications") => post(pattern.into(), vec![]),
        _ => None,
    }
}

/// Writes the generated expectation table (Markdown: one row per route,
/// one column per actor) beside the test binary's other output, for a
/// reviewer to read; the test walks the same rows.
fn write_table(
    table: &[(&mlstack::web::routes::RouteDef, Vec<Sample>, Vec<Outcome>)],
    actors: &[Actor],
) {
    let word = |o: &Outcome| match o {
        Outcome::Passed => "passes",
        Outcome::Forbidden => "403",
        Outcome::Hidden => "404",
        Outcome::Login => "sign in",
    };
    let mut text = String::from("| route | requires |");
    for actor in actors {
        text.push_str(&format!(" {} |", actor.name));
    }
    text.push_str("\n|---|---|");
    text.push_str(&"---|".repeat(actors.len()));
    text.push('\n');
    for (route, _, answers) in table {
        text.push_str(&format!(
            "| {:?} `{}` | {:?} |",
            route.verb, route.path, route.requires
        ));
        for answer in answers {
            text.push_str(&format!(" {} |", word(answer)));
        }
        text.push('\n');
    }
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("authz-table.md");
    std::fs::write(&path, text).expect("the table is written");
    eprintln!("the expectation table: {}", path.display());
}

/// A personal storage of `owner` in `project`; its id.
async fn sample_storage(app: &TestApp, owner: &str, project: &str) -> String {
    use mlstack::domain::catalog::StorageTypeRequest;
    use mlstack::service::storage::CreateStorageRequest;
    let services = app.services();
    let user = services
        .list_users()
        .await
        .expect("users")
        .into_iter()
        .find(|u| u.username.as_str() == owner)
        .expect("the owner");
    let storage_type = services
        .create_storage_type(&StorageTypeRequest {
            name: "NFS".into(),
            storage_class: "nfs".into(),
            min_gib: "1".into(),
            max_gib: "10".into(),
        })
        .await
        .expect("a storage type");
    let request = CreateStorageRequest {
        name: "sample".into(),
        storage_type: storage_type.id.to_string(),
        size: String::new(),
        permission: "personal".into(),
    };
    services
        .create_storage(&user, project.parse().expect("project id"), &request)
        .await
        .expect("a storage")
        .to_string()
}

/// A Running container of `owner` in `project` (through the use case, as
/// the container form makes it) and a Project custom image saved from it;
/// their ids.
pub(crate) async fn sample_container_and_image(
    app: &TestApp,
    owner: &str,
    project: &str,
) -> (String, String) {
    use mlstack::domain::catalog::{Protocol, ServiceKind};
    use mlstack::domain::image::{CustomImageForm, ImageType};
    use mlstack::domain::workload::{
        ContainerSpec, ImageRef, Resources, ServiceSpec, SshAccess, WorkloadId, WorkloadMeta,
        WorkloadStatus,
    };
    let services = app.services();
    let user = services
        .list_users()
        .await
        .expect("users")
        .into_iter()
        .find(|u| u.username.as_str() == owner)
        .expect("the owner");
    crate::common::activate(&services, &user).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let wait = |what: &str| {
        assert!(tokio::time::Instant::now() < deadline, "not {what} in time");
        tokio::time::sleep(std::time::Duration::from_millis(50))
    };
    let spec = ContainerSpec {
        meta: WorkloadMeta {
            id: WorkloadId::generate(),
            project: project.parse().expect("project id"),
            owner: user.id,
            name: "sample".into(),
        },
        image: ImageRef {
            name: "ubuntu".into(),
            tag: "24.04".into(),
        },
        command: None,
        env: [(
            "ECHO_SERVICE".to_owned(),
            crate::proxy::ECHO_SERVICE.to_owned(),
        )]
        .into(),
        resources: Resources {
            cpu_milli: 500,
            ram_mib: 512,
            shm_mib: 0,
            gpu: None,
        },
        volumes: Vec::new(),
        // The proxy's echo service: it answers any path under the prefix.
        services: vec![ServiceSpec {
            name: "echo".into(),
            kind: ServiceKind::Custom,
            port: 8000,
            protocol: Protocol::Http,
            local_command: Some("exec python3 -c \"$ECHO_SERVICE\"".into()),
        }],
        ssh: SshAccess::None,
        start_at: None,
        end_at: None,
    };
    let container = services
        .create_container(&user, spec)
        .await
        .expect("a container");
    while services
        .workload(&user, container)
        .await
        .expect("stored")
        .status()
        != WorkloadStatus::Running
    {
        wait("running").await;
    }
    let form = CustomImageForm {
        name: "Sample".into(),
        description: String::new(),
        image_name: "sample".into(),
        tag: "v1".into(),
        image_type: Some(ImageType::Project),
    };
    let image = services
        .create_custom_image(&user, container, &form)
        .await
        .expect("a custom image");
    (container.to_string(), image.to_string())
}

/// A job of `owner` in `project` (activated already) that runs a while;
/// its id.
pub(crate) async fn sample_job(app: &TestApp, owner: &str, project: &str) -> String {
    use mlstack::domain::workload::{
        ImageRef, JobOrigin, JobSpec, Resources, WorkloadId, WorkloadMeta,
    };
    let services = app.services();
    let user = services
        .list_users()
        .await
        .expect("users")
        .into_iter()
        .find(|u| u.username.as_str() == owner)
        .expect("the owner");
    let spec = JobSpec {
        meta: WorkloadMeta {
            id: WorkloadId::generate(),
            project: project.parse().expect("project id"),
            owner: user.id,
            name: "sample-job".into(),
        },
        image: ImageRef {
            name: "ubuntu".into(),
            tag: "24.04".into(),
        },
        command: "echo \"Hello World\"; sleep 300".into(),
        env: Default::default(),
        resources: Resources {
            cpu_milli: 500,
            ram_mib: 512,
            shm_mib: 0,
            gpu: None,
        },
        volumes: Vec::new(),
        time_limit_secs: None,
        origin: JobOrigin::Immediately,
    };
    services
        .create_job(&user, spec)
        .await
        .expect("a job")
        .to_string()
}

/// A job template named `hello` running `command` in `project` (a CPU-only
/// spec and an image, made when the catalog has none), owned by `owner`.
pub(crate) async fn sample_template(
    app: &TestApp,
    owner: &str,
    project: &str,
    command: &str,
) -> mlstack::domain::ids::JobTemplateId {
    use mlstack::domain::catalog::{HardwareSpecRequest, ImageRequest};
    use mlstack::service::schedules::JobTemplateForm;
    let services = app.services();
    let user = services
        .list_users()
        .await
        .expect("users")
        .into_iter()
        .find(|u| u.username.as_str() == owner)
        .expect("the owner");
    let spec = match services
        .list_hardware_specs(false)
        .await
        .expect("specs")
        .pop()
    {
        Some(spec) => spec,
        None => services
            .create_hardware_spec(&HardwareSpecRequest {
                name: "c1".into(),
                cpu_cores: "0.5".into(),
                ram_gb: "1".into(),
                gpu_type: String::new(),
                price: "2".into(),
            })
            .await
            .expect("a spec"),
    };
    let image = match services.list_images(false).await.expect("images").pop() {
        Some(image) => image,
        None => services
            .create_image(&ImageRequest {
                name: "ubuntu".into(),
                versions: "24.04".into(),
                ssh_login: "password".into(),
                services: String::new(),
                local_commands: String::new(),
            })
            .await
            .expect("an image"),
    };
    let form = JobTemplateForm {
        name: "hello".into(),
        spec: spec.id.to_string(),
        image: image.id.to_string(),
        version: image.versions.first().cloned().unwrap_or_default(),
        command: command.into(),
        ..JobTemplateForm::default()
    };
    services
        .create_job_template(&user, project.parse().expect("project id"), form)
        .await
        .expect("a template")
}

/// The id of the first job template of `project`, as `owner` sees it.
pub(crate) async fn first_template(app: &TestApp, owner: &str, project: &str) -> String {
    let services = app.services();
    let user = services
        .list_users()
        .await
        .expect("users")
        .into_iter()
        .find(|u| u.username.as_str() == owner)
        .expect("the owner");
    let templates = services
        .job_templates(&user, project.parse().expect("project id"))
        .await
        .expect("templates");
    templates.first().expect("a template").id.to_string()
}

/// A job schedule of `owner`'s in `project`: every day at 20:00 in
/// Asia/Taipei through December 2026, single thread.
pub(crate) async fn sample_schedule(app: &TestApp, owner: &str, project: &str) -> String {
    use mlstack::service::schedules::JobScheduleForm;
    let template = sample_template(app, owner, project, "echo \"Hello World\"").await;
    let services = app.services();
    let user = services
        .list_users()
        .await
        .expect("users")
        .into_iter()
        .find(|u| u.username.as_str() == owner)
        .expect("the owner");
    let form = JobScheduleForm {
        name: "nightly".into(),
        description: "Hello every evening".into(),
        template: template.to_string(),
        zone: "Asia/Taipei".into(),
        start: "2026-11-29T00:00".into(),
        end: "2026-12-31T23:59".into(),
        cron: "0 20 * * *".into(),
        concurrency: "single".into(),
    };
    services
        .create_job_schedule(&user, project.parse().expect("project id"), form)
        .await
        .expect("a schedule")
        .to_string()
}

/// The id in the edit link of the catalog row named `name`.
fn catalog_id(body: &str, kind_path: &str, name: &str) -> String {
    let link_end = body.find(&format!("\">{name}</a>")).expect("a catalog row");
    let prefix = format!("{kind_path}/");
    let start = body[..link_end].rfind(&prefix).expect("an edit link") + prefix.len();
    body[start..link_end].to_owned()
}

/// The user id in the cap form of a project's member list.
fn member_cap_id(body: &str) -> String {
    let marker = "/caps/";
    let at = body.rfind(marker).expect("a cap form") + marker.len();
    body[at..at + 36].to_owned()
}

/// The user id in the admin actions of `username`'s row.
fn user_row_id(body: &str, username: &str) -> String {
    let row = &body[body.find(&format!("<td>{username}")).expect("a user row")..];
    let marker = "/admin/users/";
    let start = row.find(marker).expect("an action") + marker.len();
    row[start..start + 36].to_owned()
}

/// A key pair generated by `client`: its id, from the delete form of the list.
async fn key_pair_id(client: &Client) -> String {
    let generated = client
        .post_form("/advanced/key-pairs/generate", &[("name", "sample")])
        .await;
    assert_eq!(generated.status, StatusCode::OK, "{}", generated.body);
    let list = client.get("/advanced/key-pairs").await.body;
    let marker = "action=\"/advanced/key-pairs/";
    list.match_indices(marker)
        .map(|(at, _)| list[at + marker.len()..at + marker.len() + 36].to_owned())
        .find(|id| id.parse::<uuid::Uuid>().is_ok())
        .expect("the key pair's delete form")
}

#[tokio::test]
async fn every_route_answers_every_role_as_the_permission_table_says() {
    let app = TestApp::start();
    let admin = app.admin().await;
    let (manager, _) = app.member("manny").await;
    let (member, _) = app.member("mia").await;
    let (stranger, _) = app.member("sam").await;
    let bystander_created = admin
        .post_form("/admin/users", &[("username", "tess")])
        .await;
    assert!(secret_in(&bystander_created.body).is_some());
    let anonymous = app.client();

    let project = active_project(&app, &manager, "Matrix", &["manny", "mia"], &day(30)).await;
    // The fourth actor is a member (the manager) of another project.
    active_project(&app, &stranger, "Elsewhere", &["sam"], &day(30)).await;
    let member_id = member_cap_id(&manager.get(&format!("/projects/{project}")).await.body);
    let mut pending: Vec<String> = Vec::new();
    for name in ["Pending one", "Pending two"] {
        let page = apply(&manager, name, &["manny"], &[], &day(0), &day(30)).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        let queue = admin.get("/admin/reviews").await.body;
        let marker = "action=\"/admin/reviews/";
        let new = queue
            .match_indices(marker)
            .map(|(at, _)| queue[at + marker.len()..at + marker.len() + 36].to_owned())
            .find(|id| !pending.contains(id))
            .expect("the new application in the queue");
        pending.push(new);
    }
    let purpose = admin
        .post_form(
            "/admin/catalog/purposes",
            &[("name", "Teaching"), ("description", "Courses")],
        )
        .await;
    let (container, custom_image) = sample_container_and_image(&app, "mia", &project).await;
    let storage = sample_storage(&app, "mia", &project).await;
    let job = sample_job(&app, "mia", &project).await;
    let schedule = sample_schedule(&app, "mia", &project).await;
    let template = first_template(&app, "mia", &project).await;
    let ids = Ids {
        schedule,
        template,
        container,
        job,
        custom_image,
        storage,
        project,
        member: member_id,
        bystander: user_row_id(&admin.get("/admin/users").await.body, "tess"),
        to_decide: pending.remove(0),
        to_revoke: pending.remove(0),
        purpose: catalog_id(&purpose.body, "/admin/catalog/purposes", "Teaching"),
        key_pair: key_pair_id(&member).await,
    };

    let actors = [
        Actor {
            name: "admin",
            role: Role::Admin,
            membership: None,
            owner: false,
            client: &admin,
        },
        Actor {
            name: "manager",
            role: Role::Member,
            membership: Some(ProjectRole::Manager),
            owner: false,
            client: &manager,
        },
        Actor {
            name: "member",
            role: Role::Member,
            membership: Some(ProjectRole::Member),
            owner: true,
            client: &member,
        },
        Actor {
            name: "member of another project",
            role: Role::Member,
            membership: None,
            owner: false,
            client: &stranger,
        },
        Actor {
            name: "anonymous",
            role: Role::Anonymous,
            membership: None,
            owner: false,
            client: &anonymous,
        },
    ];

    let mut routes = mlstack::web::route_table();
    // Logging out ends the actors' sessions: last.
    routes.sort_by_key(|r| r.path == "/logout");
    let mut missing = Vec::new();
    let mut seen = BTreeSet::new();
    // The expectation table, generated from the route table and the
    // permission policy: one row per route, one column per actor.
    let mut table = Vec::new();
    for route in &routes {
        assert!(
            seen.insert((route.verb.method().to_string(), route.path)),
            "{:?} {} is mounted twice",
            route.verb,
            route.path
        );
        let Some(requests) = samples(route.verb, route.path, &ids) else {
            missing.push(format!("{:?} {}", route.verb, route.path));
            continue;
        };
        let answers: Vec<Outcome> = actors.iter().map(|a| expected(route.requires, a)).collect();
        table.push((route, requests, answers));
    }
    assert_eq!(
        table.len() + missing.len(),
        routes.len(),
        "every route is a row of the table or named as missing"
    );
    write_table(&table, &actors);

    let mut wrong = Vec::new();
    for (route, requests, answers) in &table {
        for (actor, &want) in actors.iter().zip(answers) {
            for (path, form) in requests {
                let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let page = match route.verb {
                    Verb::Get | Verb::Any => actor.client.get(path).await,
                    Verb::Post => actor.client.post_form(path, &form).await,
                };
                let got = outcome_of(path, &page);
                // Beyond the permission table a use case may find that the
                // thing asked for is not the actor's (another person's
                // application, a project they do not belong to): 404.
                let agrees = got == want
                    || matches!(route.requires, Requires::Platform(_))
                        && want == Outcome::Passed
                        && got == Outcome::Hidden;
                if !agrees {
                    wrong.push(format!(
                        "{} {:?} {} via {path} ({:?}): expected {want:?}, got {got:?} ({})",
                        actor.name, route.verb, route.path, route.requires, page.status
                    ));
                }
            }
        }
    }
    assert!(
        missing.is_empty() && wrong.is_empty(),
        "routes without a row in tests/integration/authz.rs `samples` (add a request \
         for each): {missing:#?}\nanswers that differ from domain::authz: {wrong:#?}"
    );
    let admin = app.admin().await;
    let projects = admin.get("/admin/projects").await;
    assert!(
        projects.body.contains("Matrix") && !projects.body.contains("Released"),
        "no refused or invalid request changed the project"
    );
    assert!(
        admin
            .get("/admin/reviews")
            .await
            .body
            .contains(&ids.to_decide),
        "the application to decide is still waiting"
    );
}
