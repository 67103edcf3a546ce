//! Requests to a container's HTTP services, for mlstack's service proxy
//! (`Driver::proxy`): the request and answer as plain `http` types with
//! streamed bodies, so the web layer names neither hyper nor kube, and the
//! connection after a `101 Switching Protocols` (WebSockets) as a byte
//! stream both ways. `Forwarder` sends them over HTTP/1.1 to an address
//! the driver chose (the local driver: a service's loopback port).

use std::net::SocketAddr;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use http::{HeaderMap, Method, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyDataStream, BodyExt, Empty, StreamBody};
use hyper::body::Frame;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite};

use super::DriverError;
use crate::domain::workload::WorkloadId;

/// A body as it arrives, piece by piece.
pub type ProxyBody = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// A connection both ways (after a 101).
pub trait Duplex: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Duplex for T {}

/// A request for a container's service. `path_and_query` keeps mlstack's
/// prefix ([`service_base_path`]): services are started to serve under it.
pub struct ProxyRequest {
    pub method: Method,
    pub path_and_query: String,
    /// End-to-end headers only (the web layer removed hop-by-hop ones and
    /// mlstack's cookies), plus `Connection`/`Upgrade` for an upgrade.
    pub headers: HeaderMap,
    /// None: the request has no body.
    pub body: Option<ProxyBody>,
}

/// The service's answer: status, headers and the body as it streams; after
/// a 101, the connection itself in `upgraded` (and an empty body).
pub struct ProxyResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: ProxyBody,
    pub upgraded: Option<Box<dyn Duplex>>,
}

/// Where mlstack serves a container's service: every request under it goes
/// through the proxy, and the service is told it (`BASE_URL`) to serve there.
pub fn service_base_path(id: WorkloadId, service: &str) -> String {
    format!("/containers/{id}/services/{service}/")
}

/// hyper's request body: the stream as data frames.
pub(crate) type HyperBody = UnsyncBoxBody<Bytes, std::io::Error>;

/// No body at all (not an empty chunked one), or the stream as data frames.
pub(crate) fn hyper_body(body: Option<ProxyBody>) -> HyperBody {
    match body {
        None => BodyExt::boxed_unsync(Empty::new().map_err(|never| match never {})),
        Some(body) => BodyExt::boxed_unsync(StreamBody::new(body.map_ok(Frame::data))),
    }
}

/// Turns hyper's (or kube's) answer into a [`ProxyResponse`], taking the
/// connection over after a 101.
pub(crate) async fn proxy_response<B>(
    mut response: http::Response<B>,
) -> Result<ProxyResponse, DriverError>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let status = response.status();
    if status == StatusCode::SWITCHING_PROTOCOLS {
        let upgraded = hyper::upgrade::on(&mut response)
            .await
            .map_err(|e| DriverError::Unreachable(format!("upgrading the connection: {e}")))?;
        return Ok(ProxyResponse {
            status,
            headers: std::mem::take(response.headers_mut()),
            body: futures_util::stream::empty().boxed(),
            upgraded: Some(Box::new(TokioIo::new(upgraded))),
        });
    }
    let (parts, body) = response.into_parts();
    let body = BodyDataStream::new(body)
        .map_err(|e| std::io::Error::other(e.into()))
        .boxed();
    Ok(ProxyResponse {
        status,
        headers: parts.headers,
        body,
        upgraded: None,
    })
}

/// An HTTP/1.1 client with a pool of kept-alive connections.
pub(crate) struct Forwarder {
    client: Client<HttpConnector, HyperBody>,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder").finish_non_exhaustive()
    }
}

impl Forwarder {
    pub(crate) fn new() -> Forwarder {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        Forwarder {
            client: Client::builder(TokioExecutor::new()).build(connector),
        }
    }

    /// Sends `request` to the service at `addr`.
    pub(crate) async fn send(
        &self,
        addr: SocketAddr,
        request: ProxyRequest,
    ) -> Result<ProxyResponse, DriverError> {
        let uri = format!("http://{addr}{}", request.path_and_query);
        let mut outgoing = http::Request::builder()
            .method(request.method)
            .uri(uri)
            .body(hyper_body(request.body))
            .map_err(|e| DriverError::Rejected(format!("a proxied request: {e}")))?;
        *outgoing.headers_mut() = request.headers;
        let response = self
            .client
            .request(outgoing)
            .await
            .map_err(|e| DriverError::Unreachable(format!("the service at {addr}: {e}")))?;
        proxy_response(response).await
    }
}
