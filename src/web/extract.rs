//! Request context and the extractors that carry authorization: a handler
//! that takes [`CurrentUser`] or [`RequireAdmin`] cannot run for anyone the
//! permission table refuses.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use super::AppState;
use super::error::WebError;
use super::views::layout::{Shell, ShellUser};
use crate::domain::authz::{Action, Role, permits};
use crate::domain::user::{Lang, Theme};
use crate::i18n::Tr;
use crate::service::auth::SessionContext;

/// What the session middleware learned about a request.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub session: Option<SessionContext>,
    /// The token this request's forms must send back.
    pub csrf_token: String,
    pub lang: Lang,
    pub theme: Theme,
    /// The client's address (behind a trusted proxy, the forwarded one).
    pub client_addr: Option<std::net::IpAddr>,
    /// Whether cookies are marked Secure: mlstack serves TLS, or a trusted
    /// proxy says the request came over HTTPS.
    pub secure: bool,
}

impl RequestContext {
    pub fn role(&self) -> Role {
        match &self.session {
            None => Role::Anonymous,
            Some(s) if s.user.is_admin => Role::Admin,
            Some(_) => Role::Member,
        }
    }
}

/// The page shell for a request with context `ctx` (none when the request
/// failed before the session middleware ran).
pub fn shell_for<'a>(tr: Tr<'a>, ctx: Option<&'a RequestContext>, path: &'a str) -> Shell<'a> {
    let session = ctx.and_then(|c| c.session.as_ref());
    Shell {
        tr,
        theme: ctx.map_or(Theme::System, |c| c.theme),
        csrf: ctx.map_or("", |c| c.csrf_token.as_str()),
        path,
        user: session.map(|s| ShellUser {
            username: s.user.username.as_str(),
            is_admin: s.user.is_admin,
            initial_password: s.user.must_change_password(),
        }),
        projects: session.map_or(&[], |s| s.projects.as_slice()),
        current_project: session.and_then(|s| s.current_project()).map(|p| p.id),
        unsandboxed: false,
    }
}

/// Everything a page needs to render its shell.
pub struct Page {
    pub state: web::Data<AppState>,
    pub ctx: RequestContext,
    /// The request's path and query, for the active menu item and `next`.
    pub path: String,
}

impl Page {
    pub fn tr(&self) -> Tr<'_> {
        self.state.services.catalog().tr(self.ctx.lang)
    }

    pub fn shell(&self) -> Shell<'_> {
        Shell {
            unsandboxed: self.state.services.workloads_unsandboxed(),
            ..shell_for(self.tr(), Some(&self.ctx), &self.path)
        }
    }

    fn from_request(req: &HttpRequest) -> Result<Page, WebError> {
        let state = req
            .app_data::<web::Data<AppState>>()
            .cloned()
            .ok_or_else(|| WebError::Internal("application state missing".into()))?;
        let ctx = req
            .extensions()
            .get::<RequestContext>()
            .cloned()
            .ok_or_else(|| WebError::Internal("request context missing".into()))?;
        let path = match req.query_string() {
            "" => req.path().to_owned(),
            q => format!("{}?{q}", req.path()),
        };
        Ok(Page { state, ctx, path })
    }

    /// Checks the permission table for `action`.
    fn require(self, action: Action) -> Result<Page, WebError> {
        let role = self.ctx.role();
        if permits(role, action) {
            Ok(self)
        } else if role == Role::Anonymous {
            Err(WebError::LoginRequired { next: self.path })
        } else {
            Err(WebError::Forbidden)
        }
    }
}

impl FromRequest for Page {
    type Error = WebError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Page::from_request(req).and_then(|p| p.require(Action::UsePublicPages)))
    }
}

/// A logged-in user allowed to use the workspace.
pub struct CurrentUser {
    pub page: Page,
    pub session: SessionContext,
}

fn with_session(page: Page) -> Result<(Page, SessionContext), WebError> {
    let session = page
        .ctx
        .session
        .clone()
        .ok_or_else(|| WebError::LoginRequired {
            next: page.path.clone(),
        })?;
    Ok((page, session))
}

impl FromRequest for CurrentUser {
    type Error = WebError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            Page::from_request(req)
                .and_then(|p| p.require(Action::UseWorkspace))
                .and_then(with_session)
                .map(|(page, session)| CurrentUser { page, session }),
        )
    }
}

/// A logged-in platform admin.
pub struct RequireAdmin {
    pub page: Page,
    pub session: SessionContext,
}

impl FromRequest for RequireAdmin {
    type Error = WebError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            Page::from_request(req)
                .and_then(|p| p.require(Action::Administer))
                .and_then(with_session)
                .map(|(page, session)| RequireAdmin { page, session }),
        )
    }
}
