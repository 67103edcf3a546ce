//! Account Management: My Profile, Change password, Settings, and the
//! language and theme switches of the user menu.

use super::{RouteDef, WORKSPACE, route};
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::{ok, unprocessable};
use crate::domain::user::{LanguageSetting, Settings, Theme, UpdateProfileRequest};
use crate::domain::validation::FieldErrors;
use crate::service::ServiceError;
use crate::web::error::WebError;
use crate::web::extract::CurrentUser;
use crate::web::middleware::see_other;
use crate::web::paths;
use crate::web::views::account;

pub fn routes() -> Vec<RouteDef> {
    vec![
        route!(Get paths::PROFILE, WORKSPACE => get_profile),
        route!(Post paths::PROFILE, WORKSPACE => post_profile),
        route!(Get paths::PASSWORD, WORKSPACE => get_password),
        route!(Post paths::PASSWORD, WORKSPACE => post_password),
        route!(Get paths::SETTINGS, WORKSPACE => get_settings),
        route!(Post paths::SETTINGS, WORKSPACE => post_settings),
        route!(Post paths::SET_LANGUAGE, WORKSPACE => post_language),
        route!(Post paths::SET_THEME, WORKSPACE => post_theme),
        route!(Get paths::USER_SEARCH, WORKSPACE => get_user_search),
    ]
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SearchQuery {
    q: String,
}

/// `{"matches": [...]}`, or 422 with `{"error": message}` for a query
/// that is too short.
async fn get_user_search(
    user: CurrentUser,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, WebError> {
    match user.page.state.services.search_usernames(&query.q).await {
        Ok(matches) => Ok(HttpResponse::Ok().json(serde_json::json!({ "matches": matches }))),
        Err(ServiceError::Invalid(errors)) => {
            let message = errors.get("q").map_or("", |key| user.page.tr().t(key));
            Ok(HttpResponse::UnprocessableEntity().json(serde_json::json!({ "error": message })))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Done {
    saved: Option<String>,
    changed: Option<String>,
}

async fn get_profile(user: CurrentUser, done: web::Query<Done>) -> HttpResponse {
    let u = &user.session.user;
    let form = UpdateProfileRequest::from_profile(&u.profile);
    ok(account::profile(
        &user.page.shell(),
        u.username.as_str(),
        &u.profile.email,
        &form,
        &FieldErrors::new(),
        done.saved.is_some(),
    ))
}

async fn post_profile(
    user: CurrentUser,
    form: web::Form<UpdateProfileRequest>,
) -> Result<HttpResponse, WebError> {
    let form = form.into_inner();
    match user
        .page
        .state
        .services
        .update_profile(user.session.user.id, &form)
        .await
    {
        Ok(()) => Ok(see_other(&format!("{}?saved=1", paths::PROFILE))),
        Err(ServiceError::Invalid(errors)) => Ok(unprocessable(account::profile(
            &user.page.shell(),
            user.session.user.username.as_str(),
            &user.session.user.profile.email,
            &form,
            &errors,
            false,
        ))),
        Err(e) => Err(e.into()),
    }
}

async fn get_password(user: CurrentUser, done: web::Query<Done>) -> HttpResponse {
    ok(account::password(
        &user.page.shell(),
        &FieldErrors::new(),
        done.changed.is_some(),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PasswordForm {
    current_password: String,
    new_password: String,
    confirm_password: String,
}

async fn post_password(
    user: CurrentUser,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, WebError> {
    let services = &user.page.state.services;
    match services
        .change_password(
            &user.session,
            &form.current_password,
            &form.new_password,
            &form.confirm_password,
        )
        .await
    {
        Ok(()) => Ok(see_other(&format!("{}?changed=1", paths::PASSWORD))),
        Err(ServiceError::Invalid(errors)) => Ok(unprocessable(account::password(
            &user.page.shell(),
            &errors,
            false,
        ))),
        Err(e) => Err(e.into()),
    }
}

async fn get_settings(user: CurrentUser, done: web::Query<Done>) -> HttpResponse {
    ok(account::settings(
        &user.page.shell(),
        user.session.user.settings,
        &FieldErrors::new(),
        done.saved.is_some(),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SettingsForm {
    theme: String,
    language: String,
    next: String,
}

fn parse_settings(form: &SettingsForm, current: Settings) -> Result<Settings, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut settings = current;
    if !form.theme.is_empty() || form.language.is_empty() {
        match Theme::from_code(&form.theme) {
            Some(theme) => settings.theme = theme,
            None => errors.add("theme", "error.theme.invalid"),
        }
    }
    if !form.language.is_empty() || form.theme.is_empty() {
        match LanguageSetting::from_code(&form.language) {
            Some(language) => settings.language = language,
            None => errors.add("language", "error.language.invalid"),
        }
    }
    errors.into_result(settings)
}

async fn post_settings(
    user: CurrentUser,
    form: web::Form<SettingsForm>,
) -> Result<HttpResponse, WebError> {
    let current = user.session.user.settings;
    match parse_settings(&form, current) {
        Ok(settings) => {
            user.page
                .state
                .services
                .update_settings(user.session.user.id, settings)
                .await?;
            Ok(see_other(&format!("{}?saved=1", paths::SETTINGS)))
        }
        Err(errors) => Ok(unprocessable(account::settings(
            &user.page.shell(),
            current,
            &errors,
            false,
        ))),
    }
}

/// The user menu's quick switches: change one setting, go back.
async fn quick_switch(user: CurrentUser, form: SettingsForm) -> Result<HttpResponse, WebError> {
    let settings = parse_settings(&form, user.session.user.settings)
        .map_err(|e| WebError::BadRequest(format!("{e:?}")))?;
    user.page
        .state
        .services
        .update_settings(user.session.user.id, settings)
        .await?;
    let back = if paths::is_local(&form.next) {
        form.next.as_str()
    } else {
        paths::HOME
    };
    Ok(see_other(back))
}

async fn post_language(
    user: CurrentUser,
    form: web::Form<SettingsForm>,
) -> Result<HttpResponse, WebError> {
    let form = SettingsForm {
        theme: String::new(),
        ..form.into_inner()
    };
    quick_switch(user, form).await
}

async fn post_theme(
    user: CurrentUser,
    form: web::Form<SettingsForm>,
) -> Result<HttpResponse, WebError> {
    let form = SettingsForm {
        language: String::new(),
        ..form.into_inner()
    };
    quick_switch(user, form).await
}
