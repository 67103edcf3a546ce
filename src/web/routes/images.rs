//! Advanced Settings › Custom Image: the list of the current project's
//! custom images, saving a Running container as one, and deleting one.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::{RouteDef, WORKSPACE, ok, route, unprocessable};
use crate::domain::authz::WorkloadAction;
use crate::domain::ids::ProjectId;
use crate::domain::image::{CustomImageForm, ImageType};
use crate::domain::validation::FieldErrors;
use crate::domain::workload::WorkloadId;
use crate::service::ServiceError;
use crate::store::workloads::{WorkloadRecord, WorkloadSpec};
use crate::web::error::WebError;
use crate::web::extract::CurrentUser;
use crate::web::middleware::see_other;
use crate::web::paths;
use crate::web::routes::Requires;
use crate::web::views::images::{self, FormValues, ListView};

const OPERATE: Requires = Requires::Workload(WorkloadAction::Operate);

pub fn routes() -> Vec<RouteDef> {
    vec![
        route!(Get paths::CUSTOM_IMAGES, WORKSPACE => get_list),
        route!(Post "/advanced/custom-images/{id}/delete", OPERATE => post_delete),
        route!(Get "/containers/{id}/image", OPERATE => get_form),
        route!(Post "/containers/{id}/image", OPERATE => post_form),
    ]
}

/// A workload id from the path; anything else is not found.
fn workload_id(path: &str) -> Result<WorkloadId, WebError> {
    path.parse().map_err(|_| WebError::NotFound)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ListQuery {
    /// The project to list (default: the session's current one).
    project: String,
    done: String,
}

/// The list page of `project` (else the current project), with `refused`
/// for a deletion that was refused.
async fn list_page(
    user: &CurrentUser,
    project: Option<ProjectId>,
    done: Option<&str>,
    refused: Option<(WorkloadId, &'static str)>,
) -> Result<Markup, WebError> {
    let services = &user.page.state.services;
    let viewer = &user.session.user;
    let chosen = project.or_else(|| user.session.current_project().map(|p| p.id));
    let zone = services.time_zone().await?;
    let (name, images, saveable) = match chosen {
        Some(id) => {
            let images = services.custom_images(viewer, id).await?;
            let saveable = services.saveable_containers(viewer, id).await?;
            let name = user
                .session
                .projects
                .iter()
                .find(|p| p.id == id)
                .map_or_else(|| id.to_string(), |p| p.name.clone());
            (Some(name), images, saveable)
        }
        None => (None, Vec::new(), Vec::new()),
    };
    Ok(images::list(
        &user.page.shell(),
        &ListView {
            project: name.as_deref(),
            images: &images,
            saveable: &saveable,
            zone: &zone,
            done,
            refused,
        },
    ))
}

type Markup = maud::Markup;

async fn get_list(
    user: CurrentUser,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, WebError> {
    let project = match query.project.as_str() {
        "" => None,
        id => Some(id.parse::<ProjectId>().map_err(|_| WebError::NotFound)?),
    };
    let done = Some(query.done.as_str()).filter(|d| matches!(*d, "created" | "deleted"));
    Ok(ok(list_page(&user, project, done, None).await?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DeleteForm {
    confirm: String,
}

async fn post_delete(
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<DeleteForm>,
) -> Result<HttpResponse, WebError> {
    let id = workload_id(&path)?;
    let services = &user.page.state.services;
    let image = services
        .custom_image_to_delete(&user.session.user, id)
        .await?;
    let project = Some(image.record.project);
    if form.confirm != "yes" {
        let page = list_page(&user, project, None, Some((id, "image.confirm_delete"))).await?;
        return Ok(unprocessable(page));
    }
    match services.delete_custom_image(&user.session.user, id).await {
        Ok(()) => Ok(see_other(&format!(
            "{}?project={}&done=deleted",
            paths::CUSTOM_IMAGES,
            image.record.project
        ))),
        Err(ServiceError::Refused(key)) => {
            let page = list_page(&user, project, None, Some((id, key))).await?;
            Ok(HttpResponse::Conflict()
                .content_type("text/html; charset=utf-8")
                .body(page.into_string()))
        }
        Err(e) => Err(e.into()),
    }
}

fn form_page(
    user: &CurrentUser,
    container: &WorkloadRecord,
    values: &FormValues,
    errors: &FieldErrors,
) -> Result<Markup, WebError> {
    let WorkloadSpec::Container(spec) = &container.spec else {
        return Err(WebError::NotFound);
    };
    Ok(images::form(
        &user.page.shell(),
        spec.meta.id,
        &spec.meta.name,
        &spec.services,
        values,
        errors,
    ))
}

async fn get_form(user: CurrentUser, path: web::Path<String>) -> Result<HttpResponse, WebError> {
    let id = workload_id(&path)?;
    let container = user
        .page
        .state
        .services
        .container_to_save(&user.session.user, id)
        .await?;
    let values = FormValues {
        image_type: ImageType::Private.code().to_owned(),
        ..FormValues::default()
    };
    Ok(ok(form_page(
        &user,
        &container,
        &values,
        &FieldErrors::new(),
    )?))
}

async fn post_form(
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<FormValues>,
) -> Result<HttpResponse, WebError> {
    let id = workload_id(&path)?;
    let values = form.into_inner();
    let request = CustomImageForm {
        name: values.name.clone(),
        description: values.description.clone(),
        image_name: values.image_name.clone(),
        tag: values.tag.clone(),
        image_type: ImageType::parse(&values.image_type),
    };
    let services = &user.page.state.services;
    match services
        .create_custom_image(&user.session.user, id, &request)
        .await
    {
        Ok(_) => {
            let container = services.workload(&user.session.user, id).await?;
            Ok(see_other(&format!(
                "{}?project={}&done=created",
                paths::CUSTOM_IMAGES,
                container.spec.project()
            )))
        }
        Err(ServiceError::Invalid(errors)) => {
            let container = services.container_to_save(&user.session.user, id).await?;
            Ok(unprocessable(form_page(
                &user, &container, &values, &errors,
            )?))
        }
        Err(e) => Err(e.into()),
    }
}
