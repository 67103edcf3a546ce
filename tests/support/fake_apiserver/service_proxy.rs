//! The Service proxy subresource,
//! `/api/v1/namespaces/{ns}/services/{name}:{port}/proxy/{path}`: every
//! method and WebSocket upgrades, authorized like the real server (the
//! verb of the method on `services/proxy`), refused for a Service or port
//! that does not exist, and forwarded to the real local process the test
//! routed services to ([`super::FakeApiServer::route_services_to`]) with
//! the path after `/proxy`, as the API server sends it to an endpoint.

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::web::{self, BytesMut};
use actix_web::{HttpRequest, HttpResponse};
use futures_util::StreamExt;
use http_body_util::{BodyDataStream, Full};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

use super::api::ApiError;
use super::http::error_response;
use super::{RecordedRequest, Shared, resources};

/// Headers of one hop, or the API server's own.
const NOT_FORWARDED: [&str; 6] = [
    "authorization",
    "host",
    "keep-alive",
    "transfer-encoding",
    "connection",
    "upgrade",
];

pub async fn handle(
    req: HttpRequest,
    payload: web::Payload,
    path: web::Path<(String, String, String)>,
    shared: web::Data<Arc<Shared>>,
) -> HttpResponse {
    let shared = shared.get_ref().clone();
    shared.record(RecordedRequest {
        method: req.method().as_str().to_owned(),
        path: req.path().to_owned(),
        query: req.query_string().to_owned(),
        content_type: String::new(),
        accept: String::new(),
    });
    let credentials = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let anonymous = credentials.is_empty() && shared.anonymous;
    if !anonymous && credentials != format!("Bearer {}", shared.token) {
        return error_response(&ApiError::new(401, "Unauthorized"));
    }
    let (namespace, name, tail) = path.into_inner();
    let verb = match req.method().as_str() {
        "POST" => "create",
        "PUT" => "update",
        "PATCH" => "patch",
        "DELETE" => "delete",
        _ => "get",
    };
    if shared.is_forbidden(verb, "", "services/proxy") {
        return error_response(&ApiError::new(
            403,
            format!(
                "services \"{name}\" is forbidden: User \"{}\" cannot {verb} resource \"services/proxy\" in API group \"\" in the namespace \"{namespace}\"",
                super::USER
            ),
        ));
    }
    let (service, port) = name.split_once(':').unwrap_or((&name, ""));
    let found = {
        let state = shared.lock();
        let services = resources::by_plural("services").expect("services are served");
        state.store.get(services, &namespace, service).cloned()
    };
    let Some(object) = found else {
        return error_response(&ApiError::new(
            404,
            format!("services \"{service}\" not found"),
        ));
    };
    let has_port = object["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|p| {
            port.is_empty()
                || p["name"].as_str() == Some(port)
                || p["port"].as_u64().map(|n| n.to_string()).as_deref() == Some(port)
        });
    let backend = *shared
        .service_backend
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(backend) = backend.filter(|_| has_port) else {
        return error_response(&ApiError::new(
            503,
            format!("no endpoints available for service \"{service}\""),
        ));
    };
    match forward(&req, payload, backend, &tail).await {
        Ok(response) => response,
        Err(e) => error_response(&ApiError::new(
            503,
            format!("error trying to reach service: {e}"),
        )),
    }
}

/// Sends the request on to `backend` and streams its answer back (after
/// a 101, both connections are copied into each other).
async fn forward(
    req: &HttpRequest,
    payload: web::Payload,
    backend: SocketAddr,
    tail: &str,
) -> Result<HttpResponse, String> {
    let upgrade = req.headers().contains_key("upgrade");
    let mut payload = payload.into_inner();
    let mut body = BytesMut::new();
    if !upgrade {
        while let Some(piece) = payload.next().await {
            body.extend_from_slice(&piece.map_err(|e| e.to_string())?);
        }
    }
    let uri = match req.query_string() {
        "" => format!("/{tail}"),
        query => format!("/{tail}?{query}"),
    };
    let mut request = http::Request::builder()
        .method(req.method().as_str())
        .uri(uri)
        .header("host", backend.to_string());
    for (name, value) in req.headers() {
        if !NOT_FORWARDED.contains(&name.as_str()) {
            request = request.header(name.as_str(), value.as_bytes());
        }
    }
    if upgrade {
        request = request.header("connection", "upgrade");
        if let Some(protocol) = req.headers().get("upgrade") {
            request = request.header("upgrade", protocol.as_bytes());
        }
    }
    let request = request
        .body(Full::new(body.freeze()))
        .map_err(|e| e.to_string())?;
    let stream = tokio::net::TcpStream::connect(backend)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    actix_web::rt::spawn(connection.with_upgrades());
    let mut response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = StatusCode::from_u16(response.status().as_u16()).map_err(|e| e.to_string())?;
    let mut answer = HttpResponse::build(status);
    for (name, value) in response.headers() {
        if !NOT_FORWARDED.contains(&name.as_str()) {
            answer.append_header((name.as_str(), value.as_bytes()));
        }
    }
    if status != StatusCode::SWITCHING_PROTOCOLS {
        let body = BodyDataStream::new(response.into_body());
        return Ok(answer.streaming(body));
    }
    if let Some(protocol) = response.headers().get("upgrade") {
        answer.upgrade(protocol.as_bytes());
    }
    let upgraded = hyper::upgrade::on(&mut response)
        .await
        .map_err(|e| e.to_string())?;
    let (read, mut write) = tokio::io::split(TokioIo::new(upgraded));
    actix_web::rt::spawn(async move {
        while let Some(Ok(piece)) = payload.next().await {
            if write.write_all(&piece).await.is_err() {
                return;
            }
        }
        let _ = write.shutdown().await;
    });
    Ok(answer.streaming(ReaderStream::new(read)))
}
