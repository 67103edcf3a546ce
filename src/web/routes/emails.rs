//! Account Management › E-mail (manual §6.1): the login and backup
//! addresses, their mailed verification links, and the notification
//! switches.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::{RouteDef, WORKSPACE, html, ok, route, unprocessable};
use crate::domain::mail::{EmailSlot, MailKind, MailPrefs};
use crate::domain::validation::FieldErrors;
use crate::service::ServiceError;
use crate::service::emails::LinkState;
use crate::web::error::WebError;
use crate::web::extract::CurrentUser;
use crate::web::middleware::see_other;
use crate::web::paths;
use crate::web::views::emails::{self, EmailNotice, EmailsView, LinkView};

pub fn routes() -> Vec<RouteDef> {
    vec![
        route!(Get paths::EMAILS, WORKSPACE => get_emails),
        route!(Post paths::EMAIL_LOGIN, WORKSPACE => post_login),
        route!(Post paths::EMAIL_BACKUP, WORKSPACE => post_backup),
        route!(Post paths::EMAIL_BACKUP_DELETE, WORKSPACE => post_backup_delete),
        route!(Post paths::EMAIL_RESEND, WORKSPACE => post_resend),
        route!(Post paths::EMAIL_NOTIFICATIONS, WORKSPACE => post_notifications),
        route!(Get paths::EMAIL_VERIFY, WORKSPACE => get_verify),
        route!(Post paths::EMAIL_VERIFY, WORKSPACE => post_verify),
    ]
}

/// The verification page's absolute address as the user reaches mlstack
/// (their request's scheme and host), for the mailed link.
fn verify_link_base(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}{}", info.scheme(), info.host(), paths::EMAIL_VERIFY)
}

fn done(notice: EmailNotice) -> HttpResponse {
    see_other(&format!("{}?done={}", paths::EMAILS, notice.code()))
}

/// The page again, with a refused form's input and messages.
fn refused(
    user: &CurrentUser,
    login_input: &str,
    backup_input: &str,
    prefs: Option<MailPrefs>,
    errors: &FieldErrors,
) -> HttpResponse {
    let u = &user.session.user;
    unprocessable(emails::emails(
        &user.page.shell(),
        &EmailsView {
            login: &u.profile.email,
            emails: &u.emails,
            notice: None,
            login_input,
            backup_input,
            prefs: prefs.unwrap_or(u.emails.prefs),
            errors,
        },
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DoneQuery {
    done: String,
}

async fn get_emails(user: CurrentUser, query: web::Query<DoneQuery>) -> HttpResponse {
    let u = &user.session.user;
    ok(emails::emails(
        &user.page.shell(),
        &EmailsView {
            login: &u.profile.email,
            emails: &u.emails,
            notice: EmailNotice::from_code(&query.done),
            login_input: "",
            backup_input: "",
            prefs: u.emails.prefs,
            errors: &FieldErrors::new(),
        },
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LoginForm {
    address: String,
    current_password: String,
}

async fn post_login(
    user: CurrentUser,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, WebError> {
    let base = verify_link_base(&req);
    let result = user
        .page
        .state
        .services
        .request_login_email(
            user.session.user.id,
            &form.address,
            &form.current_password,
            &base,
        )
        .await;
    match result {
        Ok(()) => Ok(done(EmailNotice::LinkSent)),
        Err(ServiceError::Invalid(errors)) => Ok(refused(&user, &form.address, "", None, &errors)),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct BackupForm {
    backup: String,
}

async fn post_backup(
    user: CurrentUser,
    req: HttpRequest,
    form: web::Form<BackupForm>,
) -> Result<HttpResponse, WebError> {
    let base = verify_link_base(&req);
    let result = user
        .page
        .state
        .services
        .set_backup_email(user.session.user.id, &form.backup, &base)
        .await;
    match result {
        Ok(()) => Ok(done(EmailNotice::LinkSent)),
        Err(ServiceError::Invalid(errors)) => Ok(refused(&user, "", &form.backup, None, &errors)),
        Err(e) => Err(e.into()),
    }
}

async fn post_backup_delete(user: CurrentUser) -> Result<HttpResponse, WebError> {
    user.page
        .state
        .services
        .remove_backup_email(user.session.user.id)
        .await?;
    Ok(done(EmailNotice::BackupRemoved))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ResendForm {
    slot: String,
}

async fn post_resend(
    user: CurrentUser,
    req: HttpRequest,
    form: web::Form<ResendForm>,
) -> Result<HttpResponse, WebError> {
    let slot = EmailSlot::from_code(&form.slot)
        .ok_or_else(|| WebError::BadRequest(format!("unknown address {:?}", form.slot)))?;
    let base = verify_link_base(&req);
    user.page
        .state
        .services
        .resend_verification(user.session.user.id, slot, &base)
        .await?;
    Ok(done(EmailNotice::LinkSent))
}

async fn post_notifications(
    user: CurrentUser,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, WebError> {
    let checked = |name: &str| form.iter().any(|(k, v)| k == name && v == "on");
    let mut prefs = MailPrefs {
        to_login: checked("to_login"),
        to_backup: checked("to_backup"),
        ..MailPrefs::default()
    };
    for kind in MailKind::SWITCHABLE {
        prefs.set(kind, checked(kind.code()));
    }
    let result = user
        .page
        .state
        .services
        .update_mail_prefs(user.session.user.id, prefs)
        .await;
    match result {
        Ok(()) => Ok(done(EmailNotice::PrefsSaved)),
        Err(ServiceError::Invalid(errors)) => Ok(refused(&user, "", "", Some(prefs), &errors)),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TokenForm {
    token: String,
}

/// The link's page: 200 with the confirmation form, else why it does not
/// work (410 used, expired or replaced; 403 another account's; 404 none).
fn link_page(user: &CurrentUser, token: &str, state: &LinkState) -> HttpResponse {
    let (status, view) = match state {
        LinkState::Valid { address, slot } => (
            StatusCode::OK,
            LinkView::Valid {
                token,
                address,
                slot: *slot,
            },
        ),
        LinkState::Used => (StatusCode::GONE, LinkView::Used),
        LinkState::Expired => (StatusCode::GONE, LinkView::Expired),
        LinkState::Superseded => (StatusCode::GONE, LinkView::Superseded),
        LinkState::OtherUser => (StatusCode::FORBIDDEN, LinkView::OtherUser),
        LinkState::Unknown => (StatusCode::NOT_FOUND, LinkView::Unknown),
    };
    html(status, emails::verify(&user.page.shell(), &view))
}

async fn get_verify(
    user: CurrentUser,
    query: web::Query<TokenForm>,
) -> Result<HttpResponse, WebError> {
    let state = user
        .page
        .state
        .services
        .verification_link(user.session.user.id, &query.token)
        .await?;
    Ok(link_page(&user, &query.token, &state))
}

async fn post_verify(
    user: CurrentUser,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, WebError> {
    let state = user
        .page
        .state
        .services
        .confirm_email(user.session.user.id, &form.token)
        .await?;
    match state {
        LinkState::Valid {
            slot: EmailSlot::Login,
            ..
        } => Ok(done(EmailNotice::LoginConfirmed)),
        LinkState::Valid {
            slot: EmailSlot::Backup,
            ..
        } => Ok(done(EmailNotice::BackupConfirmed)),
        other => Ok(link_page(&user, &form.token, &other)),
    }
}
