//! The home page.

use actix_web::HttpResponse;

use super::{RouteDef, WORKSPACE, ok, route};
use crate::web::error::WebError;
use crate::web::extract::CurrentUser;
use crate::web::paths;
use crate::web::views::areas;

pub fn routes() -> Vec<RouteDef> {
    vec![route!(Get paths::HOME, WORKSPACE => get_home)]
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
