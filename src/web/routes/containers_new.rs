//! The container create wizard (manual §5.4) at `/containers/new`, for the
//! project chosen in the header's selector: GET shows its first step, each
//! POST either moves between steps (Clear, Previous, Next: the steps so far
//! are checked) or creates (Create: everything is checked again by the use
//! case, which builds the specs from catalog ids) and sends the user to the
//! container list.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::{RouteDef, WORKSPACE, html, route};
use crate::domain::quota::Milli;
use crate::domain::validation::FieldErrors;
use crate::service::ServiceError;
use crate::service::containers::{
    MountForm, Shortfall, WizardContext, WizardError, WizardForm, carried, form_errors,
};
use crate::web::error::WebError;
use crate::web::extract::CurrentUser;
use crate::web::middleware::see_other;
use crate::web::paths;
use crate::web::views::containers_new::{self as views, step_of};
use crate::web::views::format;

pub fn routes() -> Vec<RouteDef> {
    vec![
        route!(Get paths::CONTAINER_NEW, WORKSPACE => get_new),
        route!(Post paths::CONTAINER_NEW, WORKSPACE => post_new),
    ]
}

/// Form bodies with repeated keys (mounted volumes) as ordered pairs.
pub(super) type Pairs = web::Form<Vec<(String, String)>>;

pub(super) fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

pub(super) fn wizard_form(pairs: &[(String, String)]) -> WizardForm {
    let text = |name: &str| field(pairs, name).to_owned();
    let mounts = pairs
        .iter()
        .filter(|(k, _)| k == "mount")
        .map(|(_, volume)| MountForm {
            volume: volume.clone(),
            path: field(pairs, &format!("path_{volume}")).to_owned(),
        })
        .collect();
    let batch = pairs
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("batch_")?.to_owned(), v.clone())))
        .collect();
    let or = |value: String, default: &str| {
        if value.is_empty() {
            default.to_owned()
        } else {
            value
        }
    };
    WizardForm {
        accept_terms: text("accept_terms"),
        name: text("name"),
        start_mode: or(text("start_mode"), "now"),
        start_at: text("start_at"),
        end_mode: or(text("end_mode"), "none"),
        end_at: text("end_at"),
        end_after_hours: text("end_after_hours"),
        gpu_type: text("gpu_type"),
        gpu_count: text("gpu_count"),
        spec: text("spec"),
        image_source: or(text("image_source"), "public"),
        image: text("image"),
        version: text("version"),
        custom_image: text("custom_image"),
        ssh_password: text("ssh_password"),
        ssh_password_hash: text("ssh_password_hash"),
        ssh_key: text("ssh_key"),
        key_pair: text("key_pair"),
        shm: field(pairs, "shm") == "on",
        shm_mb: text("shm_mb"),
        mounts,
        workdir: text("workdir"),
        batch,
    }
}

/// The project the wizard creates in: the one chosen in the selector.
fn current_project(user: &CurrentUser) -> Option<crate::domain::ids::ProjectId> {
    user.session.current_project().map(|p| p.id)
}

/// The first step: the terms, or creating the resource once accepted.
fn first_step(ctx: &WizardContext) -> u8 {
    if ctx.accepted_at.is_some() { 2 } else { 1 }
}

fn render(
    user: &CurrentUser,
    ctx: &WizardContext,
    form: &WizardForm,
    errors: &FieldErrors,
    step: u8,
    message: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let form = carried(form);
    html(
        status,
        views::wizard(&user.page.shell(), ctx, &form, errors, step, message),
    )
}

async fn get_new(user: CurrentUser) -> Result<HttpResponse, WebError> {
    let Some(project) = current_project(&user) else {
        return Ok(see_other(paths::PROJECTS));
    };
    let services = &user.page.state.services;
    let ctx = services.wizard_context(&user.session.user, project).await?;
    let form = WizardForm {
        shm_mb: "64".into(),
        ..WizardForm::default()
    };
    let step = first_step(&ctx);
    Ok(render(
        &user,
        &ctx,
        &form,
        &FieldErrors::new(),
        step,
        None,
        StatusCode::OK,
    ))
}

/// The message of a refusal that is no field's: what is left of the quota
/// or what the cluster lacks.
fn refusal_message(user: &CurrentUser, error: &WizardError) -> Option<String> {
    let tr = user.page.tr();
    match error {
        WizardError::Service(ServiceError::OverQuota {
            left,
            member,
            project,
        }) => {
            let key = if *member {
                "error.quota.left_in_cap"
            } else {
                "error.quota.left_in_project"
            };
            Some(tr.f(
                key,
                &[
                    ("gpu", &Milli(left.gpu_milli).to_string()),
                    ("cpu", &Milli(left.cpu_milli).to_string()),
                    ("ram_gb", &format::gb_field(left.ram_mib)),
                    ("project", project),
                ],
            ))
        }
        WizardError::MemberCap {
            member,
            left,
            project,
        } => Some(tr.f(
            "wizard.over_member_cap",
            &[
                ("member", member),
                ("gpu", &Milli(left.gpu_milli).to_string()),
                ("cpu", &Milli(left.cpu_milli).to_string()),
                ("ram_gb", &format::gb_field(left.ram_mib)),
                ("project", project),
            ],
        )),
        WizardError::Capacity(Shortfall::Gpus {
            type_name,
            asked,
            free,
        }) => Some(tr.f(
            "wizard.capacity_gpus",
            &[
                ("type", type_name),
                ("asked", &asked.to_string()),
                ("free", &free.to_string()),
            ],
        )),
        WizardError::Capacity(Shortfall::Node {
            cpu_milli,
            ram_mib,
            largest_cpu_milli,
            largest_ram_mib,
        }) => Some(tr.f(
            "wizard.capacity_node",
            &[
                ("cpu", &Milli(*cpu_milli).to_string()),
                ("ram", &format::ram_gb(*ram_mib)),
                ("largest_cpu", &Milli(*largest_cpu_milli).to_string()),
                ("largest_ram", &format::ram_gb(*largest_ram_mib)),
            ],
        )),
        WizardError::Service(ServiceError::Refused(key)) => Some(tr.t(key).to_owned()),
        _ => None,
    }
}

async fn post_new(user: CurrentUser, pairs: Pairs) -> Result<HttpResponse, WebError> {
    let Some(project) = current_project(&user) else {
        return Ok(see_other(paths::PROJECTS));
    };
    let services = &user.page.state.services;
    let actor = &user.session.user;
    let form = wizard_form(&pairs);
    let step = field(&pairs, "step").parse::<u8>().unwrap_or(1).clamp(1, 4);
    match field(&pairs, "go") {
        "clear" => {
            let ctx = services.wizard_context(actor, project).await?;
            let cleared = WizardForm {
                accept_terms: form.accept_terms.clone(),
                shm_mb: "64".into(),
                ..WizardForm::default()
            };
            let step = first_step(&ctx);
            Ok(render(
                &user,
                &ctx,
                &cleared,
                &FieldErrors::new(),
                step,
                None,
                StatusCode::OK,
            ))
        }
        "previous" => {
            let ctx = services.wizard_context(actor, project).await?;
            let back = step.saturating_sub(1).max(1);
            Ok(render(
                &user,
                &ctx,
                &form,
                &FieldErrors::new(),
                back,
                None,
                StatusCode::OK,
            ))
        }
        "next" => {
            let ctx = services.wizard_context(actor, project).await?;
            let mut shown = FieldErrors::new();
            for e in form_errors(&form, &ctx, actor.id).iter() {
                if step_of(e.field) <= step {
                    shown.add(e.field, e.message);
                }
            }
            match shown.iter().map(|e| step_of(e.field)).min() {
                Some(at) => Ok(render(
                    &user,
                    &ctx,
                    &form,
                    &shown,
                    at,
                    None,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )),
                None => Ok(render(
                    &user,
                    &ctx,
                    &form,
                    &shown,
                    (step + 1).min(4),
                    None,
                    StatusCode::OK,
                )),
            }
        }
        _ => match services.create_from_wizard(actor, project, &form).await {
            Ok(_) => Ok(see_other(paths::CONTAINERS)),
            Err(error) => {
                let message = refusal_message(&user, &error);
                let errors = match error {
                    WizardError::Invalid(errors) => errors,
                    WizardError::Service(
                        e @ (ServiceError::NotFound
                        | ServiceError::Forbidden
                        | ServiceError::Store(_)
                        | ServiceError::Internal(_)
                        | ServiceError::ClusterTimeout
                        | ServiceError::Cluster(_)),
                    ) => return Err(e.into()),
                    _ => FieldErrors::new(),
                };
                let ctx = services.wizard_context(actor, project).await?;
                let at = errors.iter().map(|e| step_of(e.field)).min().unwrap_or(2);
                Ok(render(
                    &user,
                    &ctx,
                    &form,
                    &errors,
                    at,
                    message,
                    StatusCode::UNPROCESSABLE_ENTITY,
                ))
            }
        },
    }
}
