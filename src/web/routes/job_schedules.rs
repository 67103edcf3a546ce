//! Job Management › Job Scheduling (manual §5.5.2): the trigger preview the
//! schedule form asks for as the fields change — a JSON answer with the
//! next 10 trigger times in the chosen zone.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::{RouteDef, WORKSPACE, route};
use crate::domain::schedule::TriggerFields;
use crate::domain::validation::FieldErrors;
use crate::web::error::WebError;
use crate::web::extract::CurrentUser;
use crate::web::paths;
use crate::web::views::format;

pub fn routes() -> Vec<RouteDef> {
    vec![route!(Get paths::JOB_SCHEDULE_PREVIEW, WORKSPACE => get_preview)]
}

/// The preview's question: a cron expression, or (when it is empty) the
/// form's trigger fields; the zone and the window as typed.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PreviewQuery {
    cron: String,
    month: String,
    /// `day` (days of the month) or `weekday`.
    switch: String,
    days: String,
    hour: String,
    minute: String,
    zone: String,
    /// `YYYY-MM-DDTHH:MM` in the zone.
    start: String,
    end: String,
}

/// `{"cron", "times": [{"local", "offset", "utc"}], "empty"}` where
/// `empty` carries the sentence to show when the window holds no trigger;
/// 422 with `{"errors": {field: message}}` for bad input.
async fn get_preview(
    user: CurrentUser,
    query: web::Query<PreviewQuery>,
) -> Result<HttpResponse, WebError> {
    let tr = user.page.tr();
    let invalid = |errors: FieldErrors| {
        let errors: serde_json::Map<String, serde_json::Value> = errors
            .iter()
            .map(|e| (e.field.to_owned(), tr.t(e.message).into()))
            .collect();
        HttpResponse::UnprocessableEntity().json(serde_json::json!({ "errors": errors }))
    };
    let cron = if query.cron.trim().is_empty() {
        match TriggerFields::from_form(
            &query.month,
            &query.switch,
            &query.days,
            &query.hour,
            &query.minute,
        ) {
            Ok(fields) => fields.to_cron(),
            Err(errors) => return Ok(invalid(errors)),
        }
    } else {
        query.cron.clone()
    };
    let services = &user.page.state.services;
    let preview = match services.schedule_preview(&cron, &query.zone, &query.start, &query.end) {
        Ok(preview) => preview,
        Err(errors) => return Ok(invalid(errors)),
    };
    let times: Vec<serde_json::Value> = preview
        .times
        .iter()
        .map(|z| {
            serde_json::json!({
                "local": format::date_time(z.timestamp(), z.time_zone()),
                "offset": z.offset().to_string(),
                "utc": z.timestamp().to_string(),
            })
        })
        .collect();
    let empty = times
        .is_empty()
        .then(|| tr.t("schedule.preview.empty").to_owned());
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "cron": preview.cron,
        "times": times,
        "empty": empty,
    })))
}
