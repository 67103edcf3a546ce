//! Logging in and out.

use super::{PUBLIC, RouteDef, WORKSPACE, route};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::html;
use crate::service::ServiceError;
use crate::service::auth::LoginClient;
use crate::web::error::WebError;
use crate::web::extract::{CurrentUser, Page};
use crate::web::middleware::{cookie, removal_cookie, see_other};
use crate::web::views::auth::{LoginView, login};
use crate::web::{SESSION_COOKIE, paths};

pub fn routes() -> Vec<RouteDef> {
    vec![
        route!(Get paths::LOGIN, PUBLIC => get_login),
        route!(Post paths::LOGIN, PUBLIC => post_login),
        route!(Post paths::LOGOUT, WORKSPACE => post_logout),
    ]
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LoginQuery {
    next: String,
    logged_out: Option<String>,
}

fn safe_next(next: &str) -> &str {
    if paths::is_local(next) { next } else { "" }
}

async fn get_login(page: Page, query: web::Query<LoginQuery>) -> HttpResponse {
    let next = safe_next(&query.next);
    if page.ctx.session.is_some() {
        return see_other(if next.is_empty() { paths::HOME } else { next });
    }
    let view = LoginView {
        next,
        logged_out: query.logged_out.is_some(),
        ..Default::default()
    };
    html(StatusCode::OK, login(&page.shell(), &view))
}

#[derive(Deserialize)]
#[serde(default)]
#[derive(Default)]
struct LoginForm {
    username: String,
    password: String,
    next: String,
}

async fn post_login(
    page: Page,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, WebError> {
    let form = form.into_inner();
    let next = safe_next(&form.next);
    let previous = req.cookie(SESSION_COOKIE);
    let client = LoginClient {
        addr: page.ctx.client_addr,
        accept_language: req
            .headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
        previous_token: previous.as_ref().map(|c| c.value()),
    };
    let result = page
        .state
        .services
        .login(&form.username, &form.password, &client)
        .await;
    let tr = page.tr();
    let mut view = LoginView {
        username: &form.username,
        next,
        ..Default::default()
    };
    let (status, retry_after) = match result {
        Ok(session) => {
            // Where no page was asked for, a member whose Cloud Provisioning
            // has not passed starts there (manual §3: first login).
            let target = match next {
                "" if !session.activated && !session.user.is_admin => paths::CLOUD_PROVISIONING,
                "" => paths::HOME,
                next => next,
            };
            let mut response = see_other(target);
            response
                .add_cookie(&cookie(SESSION_COOKIE, session.token, page.ctx.secure))
                .map_err(|e| WebError::Internal(e.to_string()))?;
            return Ok(response);
        }
        Err(ServiceError::Invalid(errors)) => {
            view.errors = errors;
            (StatusCode::UNPROCESSABLE_ENTITY, None)
        }
        Err(ServiceError::InvalidCredentials) => {
            let mut message = tr.t("login.invalid").to_owned();
            // Say so when the address is now slowed down, and by how much.
            if let Some(addr) = page.ctx.client_addr {
                let delay = page.state.services.login_delay(addr);
                if delay.is_positive() {
                    let seconds = format!("{:.2}", delay.as_secs_f64())
                        .trim_end_matches('0')
                        .trim_end_matches('.')
                        .to_owned();
                    message.push(' ');
                    message.push_str(&tr.f("auth.login.slowed", &[("seconds", &seconds)]));
                }
            }
            view.message = Some(message);
            (StatusCode::UNAUTHORIZED, None)
        }
        Err(ServiceError::AccountDisabled) => {
            view.message = Some(tr.t("login.disabled").to_owned());
            (StatusCode::FORBIDDEN, None)
        }
        Err(ServiceError::Throttled { wait }) => {
            let seconds = wait.as_secs().max(1).to_string();
            view.message = Some(tr.f("throttle.wait", &[("seconds", &seconds)]));
            (StatusCode::TOO_MANY_REQUESTS, Some(seconds))
        }
        Err(ServiceError::Busy { wait }) => {
            let seconds = wait.as_secs().max(1).to_string();
            view.message = Some(tr.f("auth.busy", &[("seconds", &seconds)]));
            (StatusCode::TOO_MANY_REQUESTS, Some(seconds))
        }
        Err(other) => return Err(other.into()),
    };
    let mut response = html(status, login(&page.shell(), &view));
    if let Some(Ok(value)) = retry_after.map(|s| header::HeaderValue::from_str(&s)) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    Ok(response)
}

async fn post_logout(user: CurrentUser) -> Result<HttpResponse, WebError> {
    user.page.state.services.logout(&user.session).await?;
    let mut response = see_other(&format!("{}?logged_out=1", paths::LOGIN));
    response
        .add_cookie(&removal_cookie(SESSION_COOKIE, user.page.ctx.secure))
        .map_err(|e| WebError::Internal(e.to_string()))?;
    Ok(response)
}
