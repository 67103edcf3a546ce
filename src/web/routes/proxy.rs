//! A container's HTTP services at mlstack's own origin:
//! `/containers/{id}/services/{name}/...`, every method and WebSocket
//! upgrades, each request checked against the session and the permission
//! table (operating the container: its owner, the project's managers,
//! admins) before the driver sends it on (`web::proxy` streams it).
//! Without a session a page load goes to the login page; a WebSocket or a
//! script's request gets 401. Someone else's container, or a service it
//! does not have, is 404; a container that is not running is 409 with a
//! page that says so.

use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};

use super::{RouteDef, route};
use crate::cluster::proxy::service_base_path;
use crate::domain::authz::WorkloadAction;
use crate::domain::workload::WorkloadId;
use crate::web::error::WebError;
use crate::web::extract::Page;
use crate::web::paths;
use crate::web::proxy::{self, Forwarded};
use crate::web::routes::Requires;

pub fn routes() -> Vec<RouteDef> {
    vec![route!(
        Any paths::SERVICE_PROXY,
        Requires::Workload(WorkloadAction::Operate) => any_service
    )]
}

async fn any_service(
    page: Page,
    req: HttpRequest,
    payload: web::Payload,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, WebError> {
    let (id, name, _) = path.into_inner();
    let upgrade = proxy::is_upgrade(&req);
    let Some(session) = page.ctx.session.as_ref() else {
        let page_load = !upgrade && matches!(*req.method(), Method::GET | Method::HEAD);
        return Err(if page_load {
            WebError::LoginRequired { next: page.path }
        } else {
            WebError::Unauthenticated
        });
    };
    if (upgrade || !req.method().is_safe()) && !proxy::from_same_origin(&req) {
        return Err(WebError::Forbidden);
    }
    let id: WorkloadId = id.parse().map_err(|_| WebError::NotFound)?;
    let prefix = service_base_path(id, &name);
    let forwarded = Forwarded {
        client: page.ctx.client_addr,
        https: page.ctx.secure,
        prefix: &prefix,
    };
    // The payload goes with the request, or after a 101 into the upgraded
    // connection; actix hands it out once.
    let (request_payload, upgrade_payload) = if upgrade {
        (Payload::None, payload.into_inner())
    } else {
        (payload.into_inner(), Payload::None)
    };
    let request = proxy::proxy_request(&req, request_payload, &forwarded, upgrade)
        .map_err(WebError::BadRequest)?;
    let answer = page
        .state
        .services
        .proxy_service(&session.user, id, &name, request)
        .await?;
    Ok(proxy::response(answer, upgrade_payload))
}
