//! Admin: users.

use super::{ADMIN, RouteDef, route};
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::html;
use crate::domain::ids::UserId;
use crate::domain::validation::FieldErrors;
use crate::service::ServiceError;
use crate::service::users::UserChange;
use crate::store::users::UserRecord;
use crate::web::error::WebError;
use crate::web::extract::RequireAdmin;
use crate::web::paths;
use crate::web::views::admin::{UserRowView, UsersNotice, UsersView, users};
use crate::web::views::format;

pub fn routes() -> Vec<RouteDef> {
    vec![
        route!(Get "/admin", ADMIN => get_admin),
        route!(Get paths::ADMIN_USERS, ADMIN => get_users),
        route!(Post paths::ADMIN_USERS, ADMIN => post_create_user),
        route!(Post "/admin/users/{id}/{action}", ADMIN => post_user_action),
    ]
}

async fn get_admin(_admin: RequireAdmin) -> HttpResponse {
    crate::web::middleware::see_other(paths::ADMIN_USERS)
}

/// The Users table; creation dates in the platform time zone.
fn rows(all: &[UserRecord], me: UserId, zone: &jiff::tz::TimeZone) -> Vec<UserRowView> {
    all.iter()
        .map(|u| UserRowView {
            id: u.id,
            username: u.username.to_string(),
            full_name: format!("{} {}", u.profile.first_name, u.profile.last_name)
                .trim()
                .to_owned(),
            email: u.profile.email.clone(),
            is_admin: u.is_admin,
            disabled: u.disabled,
            created: format::date(u.created_at.to_zoned(zone.clone()).date()),
            is_self: u.id == me,
        })
        .collect()
}

async fn render(
    admin: &RequireAdmin,
    status: actix_web::http::StatusCode,
    notice: UsersNotice,
    form: &CreateUserForm,
    errors: FieldErrors,
) -> Result<HttpResponse, WebError> {
    let services = &admin.page.state.services;
    let all = services.list_users().await?;
    let zone = services.time_zone().await?;
    let view = UsersView {
        rows: rows(&all, admin.session.user.id, &zone),
        notice,
        new_username: &form.username,
        new_is_admin: form.is_admin.is_some(),
        errors,
    };
    // Rendered after a POST too (a generated password is shown once and
    // never stored): the menu's language and theme switches return to the
    // page itself, not to the action's address.
    let mut shell = admin.page.shell();
    shell.path = paths::ADMIN_USERS;
    Ok(html(status, users(&shell, &view)))
}

/// After a change the page is fetched again (post/redirect/get) with what
/// was done in the query, so a reload repeats nothing.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct UsersDone {
    done: String,
    username: String,
}

async fn get_users(
    admin: RequireAdmin,
    done: web::Query<UsersDone>,
) -> Result<HttpResponse, WebError> {
    let key = match done.done.as_str() {
        "disable" => Some("users.disabled_done"),
        "enable" => Some("users.enabled_done"),
        "grant-admin" => Some("users.granted_done"),
        "revoke-admin" => Some("users.revoked_done"),
        _ => None,
    };
    let notice = match key {
        Some(key) => UsersNotice::Changed(
            admin
                .page
                .tr()
                .f(key, &[("username", done.username.as_str())]),
        ),
        None => UsersNotice::None,
    };
    render(
        &admin,
        actix_web::http::StatusCode::OK,
        notice,
        &CreateUserForm::default(),
        FieldErrors::new(),
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CreateUserForm {
    username: String,
    is_admin: Option<String>,
}

async fn post_create_user(
    admin: RequireAdmin,
    form: web::Form<CreateUserForm>,
) -> Result<HttpResponse, WebError> {
    let form = form.into_inner();
    let result = admin
        .page
        .state
        .services
        .create_user(&form.username, form.is_admin.is_some())
        .await;
    match result {
        Ok(created) => password_once(&admin, created.username.to_string(), created.password).await,
        Err(ServiceError::Invalid(errors)) => {
            render(
                &admin,
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                UsersNotice::None,
                &form,
                errors,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

async fn post_user_action(
    admin: RequireAdmin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let (id, action) = path.into_inner();
    let target: UserId = id.parse().map_err(|_| WebError::NotFound)?;
    let services = &admin.page.state.services;
    let tr = admin.page.tr();
    let me = admin.session.user.id;
    let change = match action.as_str() {
        "disable" => UserChange::Disable,
        "enable" => UserChange::Enable,
        "grant-admin" => UserChange::GrantAdmin,
        "revoke-admin" => UserChange::RevokeAdmin,
        "reset-password" => {
            let user = services.user(target).await?;
            return match services
                .reset_password(Some(me), user.username.as_str())
                .await
            {
                Ok(reset) => {
                    password_once(&admin, reset.username.to_string(), reset.password).await
                }
                Err(ServiceError::Refused(key)) => refused(&admin, tr.t(key)).await,
                Err(e) => Err(e.into()),
            };
        }
        _ => return Err(WebError::NotFound),
    };
    match services.change_user(me, target, change).await {
        Ok(user) => {
            let query = serde_urlencoded::to_string([
                ("done", action.as_str()),
                ("username", user.username.as_str()),
            ])
            .map_err(|e| WebError::Internal(e.to_string()))?;
            Ok(crate::web::middleware::see_other(&format!(
                "{}?{query}",
                paths::ADMIN_USERS
            )))
        }
        Err(ServiceError::Refused(key)) => refused(&admin, tr.t(key)).await,
        Err(e) => Err(e.into()),
    }
}

/// The users page showing a new or reset password, once.
async fn password_once(
    admin: &RequireAdmin,
    username: String,
    password: String,
) -> Result<HttpResponse, WebError> {
    render(
        admin,
        actix_web::http::StatusCode::OK,
        UsersNotice::Password { username, password },
        &CreateUserForm::default(),
        FieldErrors::new(),
    )
    .await
}

async fn refused(admin: &RequireAdmin, text: &str) -> Result<HttpResponse, WebError> {
    render(
        admin,
        actix_web::http::StatusCode::CONFLICT,
        UsersNotice::Refused(text.to_owned()),
        &CreateUserForm::default(),
        FieldErrors::new(),
    )
    .await
}
