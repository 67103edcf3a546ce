//! The only place that maps errors to HTTP status codes. The user sees a safe,
//! translated message (rendered by the error-page middleware from the
//! [`ErrorPage`] marker); the log gets the cause.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};

use super::paths;
use super::views::format;
use crate::domain::quota::Milli;
use crate::service::ServiceError;

/// Errors a request can end in.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("login required")]
    LoginRequired { next: String },
    /// No session, where a redirect to the login page would not help (a
    /// WebSocket, a script's request): 401.
    #[error("not signed in")]
    Unauthenticated,
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The request body is over `limits.max_body_bytes` (`limit`).
    #[error("request body too large")]
    PayloadTooLarge { limit: u64 },
    /// The request head is over `limits.max_header_bytes` (`limit`).
    #[error("request headers too large")]
    HeadersTooLarge { limit: u64 },
    #[error("missing or wrong CSRF token")]
    CsrfRejected,
    #[error("refused: {0}")]
    Refused(&'static str),
    /// Refused because `name` uses it; the message names it.
    #[error("in use by {name}: {message}")]
    InUse { message: &'static str, name: String },
    /// A new workload does not fit: what is left of the project's quota
    /// (or, with `member`, of the owner's cap in it).
    #[error("over quota")]
    OverQuota {
        left: crate::domain::quota::Resources,
        member: bool,
        project: String,
    },
    /// A member's jobs waiting in a project's queue reached the cap.
    #[error("queue full ({limit})")]
    QueueFull { limit: u32 },
    /// Retry after `seconds`; `message` names why.
    #[error("throttled for {seconds} s")]
    Throttled { seconds: i64, message: &'static str },
    /// The store's disk is full: nothing was saved (507).
    #[error("the disk is full: {0}")]
    DiskFull(String),
    /// The cluster did not answer in time or failed.
    #[error("cluster unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// Marks a response as an error page to render, with the translation keys
/// of its title and message and the values for the message's placeholders.
#[derive(Debug, Clone)]
pub struct ErrorPage {
    pub title: &'static str,
    pub message: &'static str,
    pub args: Vec<(&'static str, String)>,
}

impl From<ServiceError> for WebError {
    fn from(e: ServiceError) -> Self {
        match e {
            e if e.is_disk_full() => WebError::DiskFull(e.to_string()),
            ServiceError::NotFound => WebError::NotFound,
            ServiceError::Forbidden => WebError::Forbidden,
            ServiceError::OverQuota {
                left,
                member,
                project,
            } => WebError::OverQuota {
                left,
                member,
                project,
            },
            ServiceError::Refused(key) => WebError::Refused(key),
            ServiceError::QueueFull { limit } => WebError::QueueFull { limit },
            ServiceError::InUse { message, name } => WebError::InUse { message, name },
            ServiceError::Throttled { wait } => WebError::Throttled {
                seconds: wait.as_secs().max(1),
                message: "throttle.wait",
            },
            ServiceError::Busy { wait } => WebError::Throttled {
                seconds: wait.as_secs().max(1),
                message: "auth.busy",
            },
            ServiceError::Invalid(errors) => WebError::BadRequest(format!("{errors:?}")),
            ServiceError::InvalidCredentials | ServiceError::AccountDisabled => WebError::Forbidden,
            ServiceError::ClusterTimeout => WebError::Unavailable("timeout".into()),
            ServiceError::Cluster(cause) => WebError::Unavailable(cause),
            other => WebError::Internal(other.to_string()),
        }
    }
}

impl WebError {
    fn page(&self) -> ErrorPage {
        let (title, message) = match self {
            WebError::LoginRequired { .. } | WebError::Forbidden => {
                ("error.page.forbidden", "error.page.forbidden_text")
            }
            WebError::Unauthenticated => ("error.proxy.login", "error.proxy.login_text"),
            WebError::NotFound => ("error.page.not_found", "error.page.not_found_text"),
            WebError::BadRequest(_) => ("error.page.bad_request", "error.page.bad_request_text"),
            WebError::PayloadTooLarge { .. } => {
                ("error.page.too_large", "error.page.too_large_text")
            }
            WebError::HeadersTooLarge { .. } => (
                "error.page.headers_too_large",
                "error.page.headers_too_large_text",
            ),
            WebError::CsrfRejected => ("error.page.csrf", "error.page.csrf_text"),
            WebError::Refused(key) => ("error.page.refused", *key),
            WebError::InUse { message, .. } => ("error.page.refused", *message),
            WebError::Throttled { message, .. } => ("error.page.throttled", *message),
            WebError::OverQuota { member: false, .. } => {
                ("error.page.refused", "error.quota.left_in_project")
            }
            WebError::OverQuota { member: true, .. } => {
                ("error.page.refused", "error.quota.left_in_cap")
            }
            WebError::QueueFull { .. } => ("error.page.refused", "job.error.queue_full"),
            WebError::Unavailable(_) => ("error.page.unavailable", "error.page.unavailable_text"),
            WebError::DiskFull(_) => ("error.page.disk_full", "error.page.disk_full_text"),
            WebError::Internal(_) => ("error.page.internal", "error.page.internal_text"),
        };
        let args = match self {
            WebError::Throttled { seconds, .. } => vec![("seconds", seconds.to_string())],
            WebError::QueueFull { limit } => vec![("limit", limit.to_string())],
            WebError::PayloadTooLarge { limit } | WebError::HeadersTooLarge { limit } => {
                vec![("limit", limit.to_string())]
            }
            WebError::InUse { name, .. } => vec![("name", name.clone())],
            WebError::OverQuota { left, project, .. } => vec![
                ("gpu", Milli(left.gpu_milli).to_string()),
                ("cpu", Milli(left.cpu_milli).to_string()),
                ("ram_gb", format::gb_field(left.ram_mib)),
                ("project", project.clone()),
            ],
            _ => Vec::new(),
        };
        ErrorPage {
            title,
            message,
            args,
        }
    }
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebError::LoginRequired { .. } => StatusCode::SEE_OTHER,
            WebError::Unauthenticated => StatusCode::UNAUTHORIZED,
            WebError::Forbidden | WebError::CsrfRejected => StatusCode::FORBIDDEN,
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            WebError::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            WebError::Refused(_)
            | WebError::InUse { .. }
            | WebError::OverQuota { .. }
            | WebError::QueueFull { .. } => StatusCode::CONFLICT,
            WebError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            WebError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            WebError::DiskFull(_) => StatusCode::INSUFFICIENT_STORAGE,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            WebError::Internal(cause) => tracing::error!(cause = %cause, "request failed"),
            WebError::Unavailable(cause) => {
                tracing::warn!(cause = %cause, "request failed: the cluster is unavailable")
            }
            WebError::DiskFull(cause) => {
                tracing::error!(cause = %cause, "request failed: the disk is full")
            }
            WebError::BadRequest(cause) => tracing::info!(cause = %cause, "bad request"),
            WebError::CsrfRejected => {
                tracing::warn!("request refused: missing or wrong CSRF token")
            }
            _ => {}
        }
        if let WebError::LoginRequired { next } = self {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, paths::login_then(next)))
                .finish();
        }
        let mut response = HttpResponse::build(self.status_code());
        if let WebError::Throttled { seconds, .. } = self {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        let mut response = response
            .insert_header((
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ))
            .body(self.status_code().canonical_reason().unwrap_or("Error"));
        response.extensions_mut().insert(self.page());
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_that_does_not_answer_is_503_with_its_own_page() {
        for error in [
            ServiceError::ClusterTimeout,
            ServiceError::Cluster("unreachable".into()),
        ] {
            let web = WebError::from(error);
            assert_eq!(web.status_code(), StatusCode::SERVICE_UNAVAILABLE);
            let page = web.page();
            assert_eq!(
                (page.title, page.message),
                ("error.page.unavailable", "error.page.unavailable_text")
            );
        }
    }

    #[test]
    fn a_full_disk_is_507_with_a_page_that_says_nothing_was_saved_in_each_language() {
        use crate::domain::user::Lang;
        use crate::store::StoreError;
        let full = std::io::Error::from_raw_os_error(28);
        let web = WebError::from(ServiceError::Store(StoreError::from(full)));
        assert_eq!(web.status_code(), StatusCode::INSUFFICIENT_STORAGE);
        let page = web.page();
        assert_eq!(
            (page.title, page.message),
            ("error.page.disk_full", "error.page.disk_full_text")
        );
        let catalog = crate::i18n::Catalog::load().expect("catalog");
        let en = catalog.tr(Lang::En).t(page.message);
        assert!(
            en.contains("The server's disk is full; nothing was saved."),
            "{en}"
        );
        let zh = catalog.tr(Lang::ZhTw).t(page.message);
        assert!(zh.contains("伺服器磁碟已滿，未儲存任何內容。"), "{zh}");
        // Another I/O error stays a 500.
        let other = std::io::Error::from_raw_os_error(5);
        let web = WebError::from(ServiceError::Store(StoreError::from(other)));
        assert_eq!(web.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn an_over_quota_refusal_says_what_is_left_in_which_project_in_each_language() {
        use crate::domain::quota::Resources;
        use crate::domain::user::Lang;
        let web = WebError::from(ServiceError::OverQuota {
            left: Resources {
                gpu_milli: 500,
                cpu_milli: 2000,
                ram_mib: 1536,
                storage_gib: 0,
            },
            member: false,
            project: "Vision".into(),
        });
        assert_eq!(web.status_code(), StatusCode::CONFLICT);
        let page = web.page();
        assert_eq!(page.message, "error.quota.left_in_project");
        let catalog = crate::i18n::Catalog::load().expect("catalog");
        let args: Vec<(&str, &str)> = page.args.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let en = catalog.tr(Lang::En).f(page.message, &args);
        assert!(
            en.contains("0.5 GPU") && en.contains("project Vision") && en.contains("1.5 GB"),
            "{en}"
        );
        let zh = catalog.tr(Lang::ZhTw).f(page.message, &args);
        assert!(zh.contains("0.5 GPU") && zh.contains("Vision"), "{zh}");
        let member = WebError::from(ServiceError::OverQuota {
            left: Resources::ZERO,
            member: true,
            project: "Vision".into(),
        });
        assert_eq!(member.page().message, "error.quota.left_in_cap");
    }
}
