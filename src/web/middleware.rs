//! Middleware, outermost first: request id and access log, security
//! headers, error pages, body limit, then session and CSRF.

use std::net::IpAddr;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web::{Bytes, BytesMut, Data};
use actix_web::{Error, HttpMessage, HttpResponse, ResponseError};
use futures_util::StreamExt;
use subtle::ConstantTimeEq;
use tracing::Instrument;

use super::error::{ErrorPage, WebError};
use super::extract::{RequestContext, shell_for};
use super::proxy::Proxied;
use super::views::errors;
use super::{AppState, CSRF_COOKIE, SESSION_COOKIE, paths};
use crate::domain::user::{Lang, Theme};
use crate::service::audit::{RequestOrigin, with_origin};

/// Gives each request an id (in the `X-Request-Id` header and on every log
/// line of the request) and logs method, path, status and duration (at
/// debug level for successful requests). The query string, cookies and
/// bodies are never logged.
pub async fn request_log(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let id = format!("{:016x}", rand::random::<u64>());
    let span = tracing::info_span!("request", id = %id, method = %req.method(), path = %req.path());
    let started = Instant::now();
    async move {
        let mut res = next.call(req).await?.map_into_boxed_body();
        let status = res.status().as_u16();
        if let Some(state) = res.request().app_data::<Data<AppState>>() {
            state.services.request_counters().count(status);
        }
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        // A small appliance's log stays readable: failures and refusals at
        // info and above, every other request at debug (`log.level =
        // "debug"` shows them all). Every line logged while serving carries
        // the request id through the span.
        match status {
            500.. => tracing::error!(status, ms, "served"),
            400..=499 => tracing::info!(status, ms, "served"),
            _ => tracing::debug!(status, ms, "served"),
        }
        if let Ok(value) = HeaderValue::from_str(&id) {
            res.headers_mut()
                .insert(HeaderName::from_static("x-request-id"), value);
        }
        Ok(res)
    }
    .instrument(span)
    .await
}

/// Headers on every response.
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    // HTTPS served here, or said by a trusted proxy.
    let secure = req
        .app_data::<Data<AppState>>()
        .is_some_and(|state| is_https(req.request(), state));
    let mut res = next.call(req).await?.map_into_boxed_body();
    let headers = res.headers_mut();
    let has_cache_control = headers.contains_key(header::CACHE_CONTROL);
    let mut set = |name: HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "same-origin");
    if secure {
        set(header::STRICT_TRANSPORT_SECURITY, "max-age=31536000");
    }
    // A service's answer keeps its own page rules (JupyterLab sets its
    // own policy and caches its assets).
    if res.response().extensions().get::<Proxied>().is_some() {
        return Ok(res);
    }
    let headers = res.headers_mut();
    let mut set = |name: HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    );
    set(header::X_FRAME_OPTIONS, "DENY");
    if !has_cache_control {
        set(header::CACHE_CONTROL, "no-store");
    }
    Ok(res)
}

/// Renders every response marked with [`ErrorPage`] as a full page in the
/// request's language. (The middleware inside this one answer errors as
/// responses, and actix turns handler errors into responses, so every error
/// passes here.)
pub async fn error_pages(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let res = next.call(req).await?.map_into_boxed_body();
    let page = res.response().extensions().get::<ErrorPage>().cloned();
    let Some(page) = page else {
        return Ok(res);
    };
    let (req, mut response) = res.into_parts();
    let state = req.app_data::<Data<AppState>>().cloned();
    let ctx = req.extensions().get::<RequestContext>().cloned();
    let Some(state) = state else {
        return Ok(ServiceResponse::new(req, response));
    };
    let lang = ctx.as_ref().map_or_else(
        || Lang::negotiate(header_str(&req, header::ACCEPT_LANGUAGE)),
        |c| c.lang,
    );
    let tr = state.services.catalog().tr(lang);
    let path = req.path().to_owned();
    let shell = shell_for(tr, ctx.as_ref(), &path);
    let args: Vec<(&str, &str)> = page.args.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let html = errors::error_page(
        &shell,
        response.status().as_u16(),
        page.title,
        &tr.f(page.message, &args),
    );
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    let response = response.set_body(BoxBody::new(html.into_string()));
    Ok(ServiceResponse::new(req, response))
}

/// Refuses a request head over `limits.max_header_bytes` (431), and a body
/// over `limits.max_body_bytes` by its declared length (413; but a
/// service's: its bodies stream through the proxy). Both with a page.
pub async fn request_limits(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(state) = req.app_data::<Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    if head_size(req.request()) > state.max_header_bytes {
        let refusal = WebError::HeadersTooLarge {
            limit: state.max_header_bytes,
        };
        return Ok(req.into_response(refusal.error_response()));
    }
    if paths::is_service_proxy(req.path()) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let declared =
        header_str(req.request(), header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > state.max_body_bytes) {
        let refusal = WebError::PayloadTooLarge {
            limit: state.max_body_bytes,
        };
        return Ok(req.into_response(refusal.error_response()));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// The size of a request's head as the client sent it: the request line and
/// every header line with its separators.
fn head_size(req: &actix_web::HttpRequest) -> u64 {
    let line = req.method().as_str().len() + req.uri().to_string().len() + " HTTP/1.1\r\n".len();
    let headers: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + ": \r\n".len())
        .sum();
    (line + headers + "\r\n".len()) as u64
}

fn header_str(req: &actix_web::HttpRequest, name: HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn skips_session(path: &str) -> bool {
    path.starts_with(paths::ASSETS_PREFIX) || path == paths::HEALTHZ || path == paths::READYZ
}

/// Reads the whole body (at most `limit` bytes).
async fn read_body(payload: &mut Payload, limit: u64) -> Result<Bytes, WebError> {
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| WebError::BadRequest(e.to_string()))?;
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(WebError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The CSRF token a state-changing request carries: the `X-CSRF-Token` header,
/// else the `csrf` field of a urlencoded form body.
fn submitted_csrf(req: &ServiceRequest, body: &Bytes) -> Option<String> {
    if let Some(token) = header_str(req.request(), HeaderName::from_static("x-csrf-token")) {
        return Some(token.to_owned());
    }
    let is_form = req
        .content_type()
        .eq_ignore_ascii_case("application/x-www-form-urlencoded");
    if !is_form {
        return None;
    }
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v)
}

fn tokens_match(expected: &str, submitted: Option<&str>) -> bool {
    submitted.is_some_and(|s| {
        !expected.is_empty() && bool::from(s.as_bytes().ct_eq(expected.as_bytes()))
    })
}

/// Builds a cookie with the attributes every mlstack cookie has.
pub fn cookie(name: &'static str, value: String, secure: bool) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .finish()
}

/// A cookie that tells the browser to forget `name`.
pub fn removal_cookie(name: &'static str, secure: bool) -> Cookie<'static> {
    let mut c = cookie(name, String::new(), secure);
    c.make_removal();
    c
}

fn is_trusted(state: &AppState, ip: &IpAddr) -> bool {
    state.trusted_proxies.iter().any(|net| net.contains(ip))
}

fn from_trusted_proxy(req: &actix_web::HttpRequest, state: &AppState) -> bool {
    req.peer_addr().is_some_and(|a| is_trusted(state, &a.ip()))
}

/// Whether the request reached us over HTTPS: mlstack serves TLS, or a
/// trusted proxy says `X-Forwarded-Proto: https` (from anyone else the
/// header is ignored).
fn is_https(req: &actix_web::HttpRequest, state: &AppState) -> bool {
    if state.secure_cookies || !from_trusted_proxy(req, state) {
        return state.secure_cookies;
    }
    req.headers()
        .get(HeaderName::from_static("x-forwarded-proto"))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

/// The client's address and whether it reached us over HTTPS. From a
/// trusted proxy, the client is the rightmost `X-Forwarded-For` address that
/// is not itself a trusted proxy; from anyone else the header is ignored.
fn client_of(req: &actix_web::HttpRequest, state: &AppState) -> (Option<IpAddr>, bool) {
    let peer = req.peer_addr().map(|a| a.ip());
    let secure = is_https(req, state);
    if !from_trusted_proxy(req, state) {
        return (peer, secure);
    }
    let trusted = |ip: &&IpAddr| is_trusted(state, ip);
    let hops: Vec<IpAddr> = req
        .headers()
        .get_all(HeaderName::from_static("x-forwarded-for"))
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
        .collect();
    let client = hops
        .iter()
        .rev()
        .find(|ip| !trusted(ip))
        .or(hops.first())
        .copied()
        .or(peer);
    (client, secure)
}

/// Whether a user who must change their password may still reach `path`:
/// the form itself, logging out, and logging in as someone else.
fn allowed_before_password_change(path: &str) -> bool {
    path == paths::PASSWORD || path == paths::LOGOUT || path == paths::LOGIN
}

/// Loads the session from its cookie, decides language and theme, and
/// refuses state-changing requests without the right CSRF token. A user
/// given a generated password is sent to Change password from every page.
pub async fn session_and_csrf(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if skips_session(req.path()) && req.method().is_safe() {
        // Assets and probes: no store read, no cookie; an anonymous context
        // so that the permission check and error pages still work.
        let lang = Lang::negotiate(header_str(req.request(), header::ACCEPT_LANGUAGE));
        req.extensions_mut().insert(RequestContext {
            session: None,
            csrf_token: String::new(),
            lang,
            theme: Theme::System,
            client_addr: None,
            secure: false,
        });
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let Some(state) = req.app_data::<Data<AppState>>().cloned() else {
        return Ok(req.into_response(
            WebError::Internal("application state missing".into()).error_response(),
        ));
    };
    let (client_addr, secure) = client_of(req.request(), &state);
    let token = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
    let session = match &token {
        Some(token) => match state.services.authenticate(token).await {
            Ok(session) => session,
            Err(e) => {
                return Ok(req.into_response(WebError::from(e).error_response()));
            }
        },
        None => None,
    };
    let stale_cookie = token.is_some() && session.is_none();
    let (csrf_token, new_csrf_cookie) = match (&session, req.cookie(CSRF_COOKIE)) {
        (Some(s), _) => (s.csrf_token.clone(), false),
        (None, Some(c)) if state.form_key.verify(c.value()) => (c.value().to_owned(), false),
        (None, _) => (state.form_key.issue(), true),
    };
    let accept_language = header_str(req.request(), header::ACCEPT_LANGUAGE).map(str::to_owned);
    let (lang, theme) = match &session {
        Some(s) => (
            s.user.settings.language.resolve(accept_language.as_deref()),
            s.user.settings.theme,
        ),
        None => (Lang::negotiate(accept_language.as_deref()), Theme::System),
    };

    // A service's requests carry the service's own tokens and stream;
    // the proxy refuses state-changing ones from another origin itself.
    if !req.method().is_safe() && !paths::is_service_proxy(req.path()) {
        let mut payload = req.take_payload();
        let body = match read_body(&mut payload, state.max_body_bytes).await {
            Ok(body) => body,
            Err(e) => return Ok(req.into_response(e.error_response())),
        };
        let submitted = submitted_csrf(&req, &body);
        req.set_payload(Payload::from(body));
        if new_csrf_cookie || !tokens_match(&csrf_token, submitted.as_deref()) {
            return Ok(req.into_response(WebError::CsrfRejected.error_response()));
        }
    }

    let must_change = session
        .as_ref()
        .is_some_and(|s| s.user.must_change_password());
    // The audit log's events name who did it and from where.
    let origin = RequestOrigin {
        user: session
            .as_ref()
            .map(|s| (s.user.id, s.user.username.to_string())),
        client: client_addr,
    };
    req.extensions_mut().insert(RequestContext {
        session,
        csrf_token: csrf_token.clone(),
        lang,
        theme,
        client_addr,
        secure,
    });
    let mut res = if must_change && !allowed_before_password_change(req.path()) {
        req.into_response(see_other(paths::PASSWORD))
    } else {
        with_origin(origin, next.call(req))
            .await?
            .map_into_boxed_body()
    };
    let handler_set_session = res.response().cookies().any(|c| c.name() == SESSION_COOKIE);
    if stale_cookie && !handler_set_session {
        let _ = res
            .response_mut()
            .add_cookie(&removal_cookie(SESSION_COOKIE, secure));
    }
    if new_csrf_cookie {
        let _ = res
            .response_mut()
            .add_cookie(&cookie(CSRF_COOKIE, csrf_token, secure));
    }
    Ok(res)
}

/// A redirect (303) to `location`.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_owned()))
        .finish()
}

/// HEAD answers as GET does on every page: the request is routed as a GET
/// (every page is mounted for GET), and the HTTP layer, which saw the HEAD,
/// sends the status and headers without the body. It is the innermost
/// middleware: the method can change only while no one else holds the
/// request.
pub async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if req.method() == actix_web::http::Method::HEAD {
        req.head_mut().method = actix_web::http::Method::GET;
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}
