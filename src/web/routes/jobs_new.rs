//! The job create wizard (manual §5.5) at `/jobs/new`, for the project
//! chosen in the header's selector (`?template=` fills it from a job
//! template: "Run job"). Each POST moves between steps (Clear, Previous,
//! Next: the steps so far are checked), creates the job (it runs now or
//! waits in the project's queue; the user lands on the job list, which says
//! which), or saves the form as a job template ("Save as template"; "Run job
//! with schedule" then opens the schedule form with it).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::containers_new::{Pairs, field, wizard_form};
use super::{RouteDef, WORKSPACE, html, route};
use crate::domain::ids::{JobTemplateId, ProjectId};
use crate::domain::validation::FieldErrors;
use crate::service::ServiceError;
use crate::service::containers::{WizardContext, WizardForm};
use crate::service::job_wizard::{JobForm, job_errors};
use crate::web::error::WebError;
use crate::web::extract::CurrentUser;
use crate::web::middleware::see_other;
use crate::web::paths;
use crate::web::views::jobs_new::{self as views, step_of};

pub fn routes() -> Vec<RouteDef> {
    vec![
        route!(Get paths::JOB_NEW, WORKSPACE => get_new),
        route!(Post paths::JOB_NEW, WORKSPACE => post_new),
    ]
}

/// The job form of a posted body (the template form posts the same names).
pub(super) fn job_form(pairs: &[(String, String)]) -> JobForm {
    JobForm {
        wizard: wizard_form(pairs),
        command: field(pairs, "command").to_owned(),
        env: field(pairs, "env").to_owned(),
        time_limit: field(pairs, "time_limit").to_owned(),
    }
}

/// An empty job form: shared memory offered at its smallest size.
pub(super) fn empty_form() -> JobForm {
    JobForm {
        wizard: WizardForm {
            shm_mb: "64".into(),
            ..WizardForm::default()
        },
        ..JobForm::default()
    }
}

fn current_project(user: &CurrentUser) -> Option<ProjectId> {
    user.session.current_project().map(|p| p.id)
}

fn render(
    user: &CurrentUser,
    ctx: &WizardContext,
    form: &JobForm,
    errors: &FieldErrors,
    step: u8,
    message: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    html(
        status,
        views::wizard(&user.page.shell(), ctx, form, errors, step, message),
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NewQuery {
    template: String,
}

async fn get_new(user: CurrentUser, query: web::Query<NewQuery>) -> Result<HttpResponse, WebError> {
    let Some(project) = current_project(&user) else {
        return Ok(see_other(paths::PROJECTS));
    };
    let services = &user.page.state.services;
    let actor = &user.session.user;
    let form = match query.template.trim() {
        "" => empty_form(),
        id => {
            let id: JobTemplateId = id.parse().map_err(|_| WebError::NotFound)?;
            let (template, form) = services.run_job_form(actor, id).await?;
            if template.project != project {
                return Err(WebError::NotFound);
            }
            form
        }
    };
    let ctx = services.wizard_context(actor, project).await?;
    Ok(render(
        &user,
        &ctx,
        &form,
        &FieldErrors::new(),
        1,
        None,
        StatusCode::OK,
    ))
}

/// The first step with an error (the form is shown there), else `step`.
fn step_of_errors(errors: &FieldErrors, step: u8) -> u8 {
    errors
        .iter()
        .map(|e| step_of(e.field))
        .min()
        .unwrap_or(step)
}

async fn post_new(user: CurrentUser, pairs: Pairs) -> Result<HttpResponse, WebError> {
    let Some(project) = current_project(&user) else {
        return Ok(see_other(paths::PROJECTS));
    };
    let services = &user.page.state.services;
    let actor = &user.session.user;
    let form = job_form(&pairs);
    let step = field(&pairs, "step").parse::<u8>().unwrap_or(1).clamp(1, 3);
    let ctx = services.wizard_context(actor, project).await?;
    let shown = |form: &JobForm, errors: &FieldErrors, step: u8, message: Option<String>| {
        let status = if errors.is_empty() && message.is_none() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        render(&user, &ctx, form, errors, step, message, status)
    };
    match field(&pairs, "go") {
        "clear" => Ok(shown(&empty_form(), &FieldErrors::new(), 1, None)),
        "previous" => Ok(shown(
            &form,
            &FieldErrors::new(),
            step.saturating_sub(1).max(1),
            None,
        )),
        "next" => {
            let mut errors = FieldErrors::new();
            for e in job_errors(&form, &ctx, actor.id).iter() {
                if step_of(e.field) <= step {
                    errors.add(e.field, e.message);
                }
            }
            let at = step_of_errors(&errors, (step + 1).min(3));
            Ok(shown(&form, &errors, at, None))
        }
        go @ ("template" | "schedule") => {
            let saved = match form.template_form() {
                Ok(template) => services.create_job_template(actor, project, template).await,
                Err(errors) => Err(ServiceError::Invalid(errors)),
            };
            match saved {
                Ok(id) if go == "schedule" => Ok(see_other(&format!(
                    "{}?template={id}",
                    paths::JOB_SCHEDULE_NEW
                ))),
                Ok(id) => Ok(see_other(&paths::job_template(id))),
                Err(ServiceError::Invalid(errors)) => {
                    let at = step_of_errors(&errors, step);
                    Ok(shown(&form, &errors, at, None))
                }
                Err(e) => Err(e.into()),
            }
        }
        _ => match services.create_job_from_wizard(actor, project, &form).await {
            Ok(_) => Ok(see_other(paths::JOBS)),
            Err(ServiceError::Invalid(errors)) => {
                let at = step_of_errors(&errors, step);
                Ok(shown(&form, &errors, at, None))
            }
            Err(ServiceError::Refused(key)) => {
                let message = user.page.tr().t(key).to_owned();
                Ok(shown(&form, &FieldErrors::new(), step, Some(message)))
            }
            Err(e) => Err(e.into()),
        },
    }
}
