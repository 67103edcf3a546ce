//! The actix-web adapter: the only module that names actix. This file mounts
//! every route module and wraps the middleware; handlers extract, call a
//! service and render a view.

pub mod assets;
pub mod error;
pub mod extract;
mod middleware;
pub mod paths;
mod proxy;
pub mod routes;
pub mod views;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{App, Error, web};

use crate::service::Services;
use crate::service::auth::FormKey;

/// Name of the session cookie (a random token; the store keeps its hash).
pub const SESSION_COOKIE: &str = "mlstack_session";
/// Name of the cookie that carries the CSRF token before login.
pub const CSRF_COOKIE: &str = "mlstack_csrf";
/// What every handler can reach.
pub struct AppState {
    pub services: Services,
    /// Cookies are marked Secure when mlstack serves TLS itself.
    pub secure_cookies: bool,
    /// Peers whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Signs the pre-login CSRF cookie.
    pub form_key: FormKey,
    /// The bearer token a Prometheus scraper may send for `/metrics`.
    pub metrics_token: Option<String>,
    /// The largest request body accepted, in bytes (413 beyond).
    pub max_body_bytes: u64,
    /// The largest request head accepted, in bytes (431 beyond).
    pub max_header_bytes: u64,
}

/// The application: routes, middleware and error pages.
pub fn app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
> {
    let body_limit = usize::try_from(state.max_body_bytes).unwrap_or(usize::MAX);
    App::new()
        .app_data(state)
        .app_data(
            web::FormConfig::default()
                .limit(body_limit)
                .error_handler(|e, _| error::WebError::BadRequest(e.to_string()).into()),
        )
        .app_data(web::PathConfig::default().error_handler(|_, _| error::WebError::NotFound.into()))
        .app_data(
            web::QueryConfig::default()
                .error_handler(|e, _| error::WebError::BadRequest(e.to_string()).into()),
        )
        .configure(routes::configure)
        .default_service(web::to(routes::not_found))
        .wrap(from_fn(middleware::head_as_get))
        .wrap(from_fn(middleware::session_and_csrf))
        .wrap(from_fn(middleware::request_limits))
        .wrap(from_fn(middleware::error_pages))
        .wrap(from_fn(middleware::security_headers))
        .wrap(from_fn(middleware::request_log))
}

/// The route table: every route with its method, path pattern and what the
/// permission table must allow. The routes are mounted from it and the
/// authorization test walks it.
pub fn route_table() -> Vec<routes::RouteDef> {
    routes::table()
}
