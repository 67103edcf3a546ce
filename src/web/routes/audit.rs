//! Admin › Audit Log: the security-relevant events, filtered and paged;
//! their export as CSV or JSON lines (streamed, chunk by chunk); the
//! retention in days.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::{ADMIN, RouteDef, html, route};
use crate::domain::audit::{self, AuditAction, AuditFilter};
use crate::domain::validation::FieldErrors;
use crate::service::audit::json_line;
use crate::service::{ServiceError, Services};
use crate::store::audit::AuditKey;
use crate::web::error::WebError;
use crate::web::extract::RequireAdmin;
use crate::web::paths;
use crate::web::views::audit::{AuditFilterView, AuditView, audit};
use crate::web::views::components::PagerView;

/// Events per page.
const PAGE_SIZE: usize = 50;

pub fn routes() -> Vec<RouteDef> {
    vec![
        route!(Get paths::ADMIN_AUDIT, ADMIN => get_audit),
        route!(Get paths::ADMIN_AUDIT_CSV, ADMIN => get_audit_csv),
        route!(Get paths::ADMIN_AUDIT_JSONL, ADMIN => get_audit_jsonl),
        route!(Post paths::ADMIN_AUDIT_RETENTION, ADMIN => post_retention),
    ]
}

/// The filter as the page's address carries it.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
struct AuditQuery {
    #[serde(skip_serializing_if = "String::is_empty")]
    actor: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    action: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    from: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    to: String,
    #[serde(skip_serializing)]
    page: usize,
    #[serde(skip_serializing)]
    saved: String,
}

impl AuditQuery {
    fn view(&self) -> AuditFilterView {
        AuditFilterView {
            actor: self.actor.clone(),
            action: self.action.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
        }
    }

    /// The filter's query string (without the page).
    fn query_string(&self) -> String {
        serde_urlencoded::to_string(self).unwrap_or_default()
    }

    /// The filter the query asks for, dates in the platform zone.
    async fn filter(&self, services: &Services) -> Result<AuditFilter, FieldErrors> {
        let mut errors = FieldErrors::new();
        let action = match self.action.trim() {
            "" => None,
            code => {
                let action = AuditAction::from_code(code);
                if action.is_none() {
                    errors.add("action", "audit.error.action");
                }
                action
            }
        };
        let actor = self.actor.trim();
        if actor.chars().count() > 64 {
            errors.add("actor", "audit.error.actor");
        }
        let zone = services
            .time_zone()
            .await
            .unwrap_or(jiff::tz::TimeZone::UTC);
        let (from, until) = match audit::date_range(&self.from, &self.to, &zone) {
            Ok(range) => range,
            Err(bad) => {
                for e in bad.iter() {
                    errors.add(e.field, e.message);
                }
                (None, None)
            }
        };
        errors.into_result(AuditFilter {
            actor: (!actor.is_empty()).then(|| actor.to_owned()),
            action,
            from,
            until,
        })
    }
}

async fn render(
    admin: &RequireAdmin,
    query: &AuditQuery,
    retention: (String, FieldErrors),
    status: StatusCode,
) -> Result<HttpResponse, WebError> {
    let services = &admin.page.state.services;
    let zone = services.time_zone().await?;
    let (filter, filter_errors, status) = match query.filter(services).await {
        Ok(filter) => (Some(filter), FieldErrors::new(), status),
        Err(errors) => (None, errors, StatusCode::UNPROCESSABLE_ENTITY),
    };
    let page = query.page.max(1);
    let offset = (page - 1).saturating_mul(PAGE_SIZE);
    let found = match filter {
        Some(filter) => services.audit_page(filter, offset, PAGE_SIZE).await?,
        None => crate::service::audit::AuditPage {
            events: Vec::new(),
            total: 0,
        },
    };
    let query_string = query.query_string();
    let link = |page: usize| {
        let glue = if query_string.is_empty() { "" } else { "&" };
        format!("{}?{query_string}{glue}page={page}", paths::ADMIN_AUDIT)
    };
    let pager = PagerView {
        first: if found.events.is_empty() {
            0
        } else {
            offset + 1
        },
        last: offset + found.events.len(),
        total: found.total,
        previous: (page > 1).then(|| link(page - 1)),
        next: (offset + found.events.len() < found.total).then(|| link(page + 1)),
    };
    let filter_view = query.view();
    let view = AuditView {
        events: &found.events,
        zone: &zone,
        filter: &filter_view,
        filter_errors: &filter_errors,
        pager,
        query: &query_string,
        retention_days: &retention.0,
        retention_errors: &retention.1,
        saved: query.saved == "1",
    };
    let mut shell = admin.page.shell();
    shell.path = paths::ADMIN_AUDIT;
    Ok(html(status, audit(&shell, &view)))
}

async fn get_audit(
    admin: RequireAdmin,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, WebError> {
    let days = admin.page.state.services.audit_retention_days().await?;
    render(
        &admin,
        &query,
        (days.to_string(), FieldErrors::new()),
        StatusCode::OK,
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RetentionForm {
    retention_days: String,
}

async fn post_retention(
    admin: RequireAdmin,
    form: web::Form<RetentionForm>,
) -> Result<HttpResponse, WebError> {
    let typed = form.retention_days.trim().to_owned();
    let result = match typed.parse::<u32>() {
        Ok(days) => {
            admin
                .page
                .state
                .services
                .set_audit_retention_days(days)
                .await
        }
        Err(_) => Err(ServiceError::Invalid(FieldErrors::single(
            "retention_days",
            "audit.error.retention_range",
        ))),
    };
    match result {
        Ok(()) => Ok(crate::web::middleware::see_other(&format!(
            "{}?saved=1",
            paths::ADMIN_AUDIT
        ))),
        Err(ServiceError::Invalid(errors)) => {
            render(
                &admin,
                &AuditQuery::default(),
                (typed, errors),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// How an export writes events.
#[derive(Debug, Clone, Copy)]
enum Format {
    Csv,
    JsonLines,
}

async fn get_audit_csv(
    admin: RequireAdmin,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, WebError> {
    export(admin, query.into_inner(), Format::Csv).await
}

async fn get_audit_jsonl(
    admin: RequireAdmin,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, WebError> {
    export(admin, query.into_inner(), Format::JsonLines).await
}

/// Where a streamed export is.
struct ExportState {
    services: Services,
    filter: AuditFilter,
    format: Format,
    after: Option<AuditKey>,
    started: bool,
    done: bool,
}

/// The export's next piece: the header first (CSV), then one chunk of
/// events per read transaction, until the log is read.
async fn next_piece(mut state: ExportState) -> Option<(Result<Bytes, ServiceError>, ExportState)> {
    if state.done {
        return None;
    }
    let mut text = String::new();
    if !state.started {
        state.started = true;
        if let Format::Csv = state.format {
            // A byte order mark, so that spreadsheets read UTF-8 names.
            text.push('\u{feff}');
            text.push_str(audit::CSV_HEADER);
        }
    }
    match state
        .services
        .audit_export_chunk(state.filter.clone(), state.after)
        .await
    {
        Ok((events, last)) => {
            for event in &events {
                match state.format {
                    Format::Csv => text.push_str(&audit::csv_line(event)),
                    Format::JsonLines => text.push_str(&json_line(event)),
                }
            }
            state.done = last.is_none();
            state.after = last;
            Some((Ok(Bytes::from(text)), state))
        }
        Err(e) => {
            tracing::error!(error = %e, "audit export stopped");
            state.done = true;
            Some((Err(e), state))
        }
    }
}

async fn export(
    admin: RequireAdmin,
    query: AuditQuery,
    format: Format,
) -> Result<HttpResponse, WebError> {
    let services = admin.page.state.services.clone();
    let filter = query
        .filter(&services)
        .await
        .map_err(|_| WebError::Refused("audit.error.filter"))?;
    let (content_type, file_name) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "audit-log.csv"),
        Format::JsonLines => ("application/x-ndjson; charset=utf-8", "audit-log.jsonl"),
    };
    let state = ExportState {
        services,
        filter,
        format,
        after: None,
        started: false,
        done: false,
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(file_name.to_owned())],
        })
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(futures_util::stream::unfold(state, next_piece)))
}
