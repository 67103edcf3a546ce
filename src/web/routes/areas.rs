//! The home page and the areas of the manual that later releases fill in.

use actix_web::{HttpRequest, HttpResponse};

use super::{RouteDef, WORKSPACE, ok, route};
use crate::web::error::WebError;
use crate::web::extract::CurrentUser;
use crate::web::paths;
use crate::web::views::areas;

/// (path, sidebar section key, title key) of every area not built yet.
const WORKSPACE_AREAS: &[(&str, &str, &str)] = &[(
    paths::JOB_TEMPLATES,
    "nav.section.advanced",
    "nav.job_templates",
)];

pub fn routes() -> Vec<RouteDef> {
    let mut routes = vec![route!(Get paths::HOME, WORKSPACE => get_home)];
    routes.extend(
        WORKSPACE_AREAS
            .iter()
            .map(|&(path, _, _)| route!(Get path, WORKSPACE => get_area)),
    );
    routes
}

/// An area not built yet, found by the path it was mounted at.
async fn get_area(user: CurrentUser, req: HttpRequest) -> Result<HttpResponse, WebError> {
    let &(_, section, title) = WORKSPACE_AREAS
        .iter()
        .find(|(path, _, _)| *path == req.path())
        .ok_or(WebError::NotFound)?;
    Ok(ok(areas::not_available(&user.page.shell(), section, title)))
}

async fn get_home(user: CurrentUser) -> Result<HttpResponse, WebError> {
    let profile = &user.session.user.profile;
    let full_name = format!("{} {}", profile.first_name, profile.last_name);
    let name = match full_name.trim() {
        "" => user.session.user.username.as_str(),
        name => name,
    };
    let activation = user
        .page
        .state
        .services
        .activation(user.session.user.id)
        .await?;
    let activated =
        activation.is_some_and(|a| a.status == crate::store::activations::ActivationStatus::Passed);
    Ok(ok(areas::home(&user.page.shell(), name, activated)))
}
