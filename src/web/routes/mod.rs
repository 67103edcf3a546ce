//! One module per area; each has `configure` and `get_*`/`post_*` handlers
//! that extract, call a service and render a view.

mod account;
mod admin;
mod areas;
mod auth;
mod catalog;
mod ops;
mod projects;

use actix_web::{HttpResponse, web};
use maud::Markup;

use super::error::WebError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    ops::configure(cfg);
    auth::configure(cfg);
    account::configure(cfg);
    admin::configure(cfg);
    projects::configure(cfg);
    catalog::configure(cfg);
    areas::configure(cfg);
}

/// Every unknown route.
pub async fn not_found() -> Result<HttpResponse, WebError> {
    Err(WebError::NotFound)
}

/// An HTML page with the given status.
fn html(status: actix_web::http::StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(markup.into_string())
}

fn ok(markup: Markup) -> HttpResponse {
    html(actix_web::http::StatusCode::OK, markup)
}

/// A form re-rendered because its input was refused.
fn unprocessable(markup: Markup) -> HttpResponse {
    html(actix_web::http::StatusCode::UNPROCESSABLE_ENTITY, markup)
}
