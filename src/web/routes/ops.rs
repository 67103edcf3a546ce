//! Health checks and static assets.

use super::{PUBLIC, RouteDef, route};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::web::error::WebError;
use crate::web::extract::Page;
use crate::web::{AppState, assets, paths};

pub fn routes() -> Vec<RouteDef> {
    vec![
        route!(Get paths::HEALTHZ, PUBLIC => get_healthz),
        route!(Get paths::READYZ, PUBLIC => get_readyz),
        route!(Get "/assets/{path:.*}", PUBLIC => get_asset),
    ]
}

/// The process is alive.
async fn get_healthz(_page: Page) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// The store is open and answers, and after a failed write (a full disk)
/// commits again; else 503 with the reason.
async fn get_readyz(_page: Page, state: web::Data<AppState>) -> HttpResponse {
    match state.services.readiness().await {
        Ok(()) => HttpResponse::Ok().content_type("text/plain").body("ready"),
        Err(reason) => HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body(format!("store not ready: {reason}")),
    }
}

#[derive(serde::Deserialize)]
struct AssetQuery {
    v: Option<String>,
}

async fn get_asset(
    _page: Page,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<AssetQuery>,
) -> Result<HttpResponse, WebError> {
    let asset = assets::get(&path).ok_or(WebError::NotFound)?;
    let etag = format!("\"{}\"", asset.hash);
    let cache = if query.v.as_deref() == Some(asset.hash.as_str()) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let not_modified = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if not_modified {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache));
    if not_modified {
        return Ok(response.finish());
    }
    Ok(response
        .content_type(asset.mime)
        .body(asset.data.into_owned()))
}
