//! The streaming side of the service proxy (`routes/proxy.rs` has the
//! route): actix's request turned into the driver's `ProxyRequest` and the
//! driver's `ProxyResponse` into actix's response, with hop-by-hop headers
//! and mlstack's own cookies and credentials left out, `X-Forwarded-*`
//! added, bodies streamed both ways through small bounded channels (actix's
//! payload lives on its worker thread; the driver's streams may move), and
//! after a 101 the two connections copied into each other.

use actix_web::HttpRequest;
use actix_web::HttpResponse;
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

use super::{CSRF_COOKIE, SESSION_COOKIE};
use crate::cluster::proxy::{ProxyBody, ProxyRequest, ProxyResponse};

/// Pieces of a body in flight between the two sides.
const BODY_PIECES_IN_FLIGHT: usize = 8;

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1);
/// never forwarded.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Request headers of the client that are for mlstack, not the service:
/// its credentials (the service trusts only mlstack's own secret), its
/// CSRF token, and what the proxy itself writes.
const CLIENT_ONLY: [&str; 7] = [
    "authorization",
    "expect",
    "x-csrf-token",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-prefix",
];

/// Whether `name` is a hop-by-hop header, by the fixed list or because the
/// message's `Connection` header names it.
fn is_hop_by_hop(name: &str, connection: &[String]) -> bool {
    HOP_BY_HOP.contains(&name) || connection.iter().any(|c| c == name)
}

/// The header names a `Connection` header lists, lower-case.
fn connection_names<'a>(values: impl Iterator<Item = &'a [u8]>) -> Vec<String> {
    values
        .filter_map(|v| std::str::from_utf8(v).ok())
        .flat_map(|v| v.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .filter(|name| !name.is_empty())
        .collect()
}

/// A `Cookie` header without mlstack's cookies (None: nothing left).
fn without_own_cookies(value: &str) -> Option<String> {
    let kept: Vec<&str> = value
        .split(';')
        .map(str::trim)
        .filter(|pair| {
            let name = pair.split('=').next().unwrap_or("").trim();
            !pair.is_empty() && name != SESSION_COOKIE && name != CSRF_COOKIE
        })
        .collect();
    (!kept.is_empty()).then(|| kept.join("; "))
}

/// Whether a `Set-Cookie` of the service would set one of mlstack's cookies.
fn sets_own_cookie(value: &[u8]) -> bool {
    let name = value.split(|b| *b == b'=').next().unwrap_or_default();
    let name = String::from_utf8_lossy(name);
    let name = name.trim();
    name == SESSION_COOKIE || name == CSRF_COOKIE
}

/// Whether the request asks to switch protocols (a WebSocket).
pub fn is_upgrade(req: &HttpRequest) -> bool {
    let connection = connection_names(
        req.headers()
            .get_all(actix_web::http::header::CONNECTION)
            .map(|v| v.as_bytes()),
    );
    connection.iter().any(|c| c == "upgrade")
        && req.headers().contains_key(actix_web::http::header::UPGRADE)
}

/// Whether the request comes from a page of this origin: no `Origin`
/// header (not from a browser's script), or one whose host is the
/// request's `Host`. A state-changing request or a WebSocket from another
/// site is refused (mlstack's CSRF token is not asked of proxied requests:
/// they are the service's).
pub fn from_same_origin(req: &HttpRequest) -> bool {
    let Some(origin) = req.headers().get(actix_web::http::header::ORIGIN) else {
        return true;
    };
    let host = req
        .headers()
        .get(actix_web::http::header::HOST)
        .and_then(|h| h.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, host)| host);
    matches!((origin_host, host), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b))
}

/// Whether a path stays where it says: no `.` or `..` segment, also
/// percent-encoded (`%2e%2e`, `..%2f`). A server on the way (the API
/// server, with mlstack's credentials) could otherwise resolve it to
/// somewhere else than the container's service.
pub fn stays_in_place(path: &str) -> bool {
    let bytes = path.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied(),
            bytes.get(i + 2).copied(),
        ) {
            (b'%', Some(h), Some(l)) if hex(h).is_some() && hex(l).is_some() => {
                let value = hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0);
                decoded.push(u8::try_from(value).unwrap_or(b'%'));
                i += 3;
            }
            (b, _, _) => {
                decoded.push(b);
                i += 1;
            }
        }
    }
    !decoded
        .split(|b| *b == b'/' || *b == b'\\')
        .any(|segment| segment == b"." || segment == b"..")
}

/// What the proxy knows of the client, for `X-Forwarded-*`.
pub struct Forwarded<'a> {
    pub client: Option<std::net::IpAddr>,
    pub https: bool,
    /// mlstack's path of the service (`X-Forwarded-Prefix`).
    pub prefix: &'a str,
}

/// The driver's request for `req`; `payload` is streamed to the service
/// (not for an upgrade: then the connection is copied after the 101).
pub fn proxy_request(
    req: &HttpRequest,
    payload: Payload,
    forwarded: &Forwarded<'_>,
    upgrade: bool,
) -> Result<ProxyRequest, String> {
    let method = http::Method::from_bytes(req.method().as_str().as_bytes())
        .map_err(|e| format!("method: {e}"))?;
    let connection = connection_names(
        req.headers()
            .get_all(actix_web::http::header::CONNECTION)
            .map(|v| v.as_bytes()),
    );
    let mut headers = http::HeaderMap::new();
    for (name, value) in req.headers() {
        let lower = name.as_str();
        if is_hop_by_hop(lower, &connection) || CLIENT_ONLY.contains(&lower) {
            continue;
        }
        let name = http::HeaderName::from_bytes(lower.as_bytes())
            .map_err(|e| format!("header name: {e}"))?;
        if name == http::header::COOKIE {
            let Some(kept) = value.to_str().ok().and_then(without_own_cookies) else {
                continue;
            };
            let kept = http::HeaderValue::try_from(kept).map_err(|e| format!("cookie: {e}"))?;
            headers.append(name, kept);
            continue;
        }
        let value = http::HeaderValue::from_bytes(value.as_bytes())
            .map_err(|e| format!("header value: {e}"))?;
        headers.append(name, value);
    }
    let add = |headers: &mut http::HeaderMap, name: &'static str, value: &str| {
        if let Ok(value) = http::HeaderValue::try_from(value) {
            headers.insert(http::HeaderName::from_static(name), value);
        }
    };
    if let Some(client) = forwarded.client {
        add(&mut headers, "x-forwarded-for", &client.to_string());
    }
    add(
        &mut headers,
        "x-forwarded-proto",
        if forwarded.https { "https" } else { "http" },
    );
    if let Some(host) = req
        .headers()
        .get(actix_web::http::header::HOST)
        .and_then(|h| h.to_str().ok())
    {
        add(&mut headers, "x-forwarded-host", host);
    }
    add(&mut headers, "x-forwarded-prefix", forwarded.prefix);
    if upgrade {
        let protocol = req
            .headers()
            .get(actix_web::http::header::UPGRADE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        add(&mut headers, "connection", "upgrade");
        add(&mut headers, "upgrade", protocol);
    }
    let has_body = !upgrade
        && (req
            .headers()
            .contains_key(actix_web::http::header::TRANSFER_ENCODING)
            || req
                .headers()
                .get(actix_web::http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .is_some_and(|len| len > 0));
    if !stays_in_place(req.uri().path()) {
        return Err("a dot segment in a service path".to_owned());
    }
    let path_and_query = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.path().to_owned(), |p| p.as_str().to_owned());
    Ok(ProxyRequest {
        method,
        path_and_query,
        headers,
        body: has_body.then(|| sendable(payload)),
    })
}

/// actix's payload (bound to this worker thread) as a stream that may move
/// to another thread: a local task feeds a bounded channel.
fn sendable(mut payload: Payload) -> ProxyBody {
    let (tx, rx) = tokio::sync::mpsc::channel(BODY_PIECES_IN_FLIGHT);
    actix_web::rt::spawn(async move {
        while let Some(piece) = payload.next().await {
            let piece = piece.map_err(|e| std::io::Error::other(e.to_string()));
            let failed = piece.is_err();
            if tx.send(piece).await.is_err() || failed {
                break;
            }
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|piece| (piece, rx))
    })
    .boxed()
}

/// actix's response for the service's answer. After a 101 the client's
/// connection (`payload` from now on) is written into the service's, and
/// the service's is the response body.
pub fn response(answer: ProxyResponse, payload: Payload) -> HttpResponse {
    let status = StatusCode::from_u16(answer.status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut builder = HttpResponse::build(status);
    let connection = connection_names(
        answer
            .headers
            .get_all(http::header::CONNECTION)
            .iter()
            .map(|v| v.as_bytes()),
    );
    for (name, value) in &answer.headers {
        let lower = name.as_str();
        if is_hop_by_hop(lower, &connection)
            || (name == http::header::SET_COOKIE && sets_own_cookie(value.as_bytes()))
        {
            continue;
        }
        builder.append_header((lower, value.as_bytes()));
    }
    builder.extensions_mut().insert(Proxied);
    let Some(upgraded) = answer.upgraded else {
        return builder.streaming(answer.body);
    };
    if let Some(protocol) = answer.headers.get(http::header::UPGRADE) {
        builder.upgrade(protocol.as_bytes());
    }
    let (read, mut write) = tokio::io::split(upgraded);
    actix_web::rt::spawn(async move {
        let mut payload = payload;
        while let Some(Ok(piece)) = payload.next().await {
            if write.write_all(&piece).await.is_err() {
                return;
            }
        }
        let _ = write.shutdown().await;
    });
    builder.streaming(ReaderStream::new(read))
}

/// Marks a response as the service's: mlstack's page headers (its CSP,
/// framing and caching rules) are not laid over it.
#[derive(Debug, Clone, Copy)]
pub struct Proxied;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mlstack_cookies_are_taken_out_and_the_others_kept() {
        assert_eq!(
            without_own_cookies("mlstack_session=abc; _xsrf=1; mlstack_csrf=x; theme=dark"),
            Some("_xsrf=1; theme=dark".to_owned())
        );
        assert_eq!(without_own_cookies("mlstack_session=abc"), None);
        assert!(sets_own_cookie(b"mlstack_session=evil; Path=/"));
        assert!(!sets_own_cookie(b"_xsrf=1; Path=/"));
    }

    #[test]
    fn dot_segments_are_refused_however_they_are_written() {
        for bad in [
            "/containers/1/services/a/../../x",
            "/containers/1/services/a/%2e%2e/x",
            "/containers/1/services/a/%2E./x",
            "/containers/1/services/a/..%2f..%2fx",
            "/containers/1/services/a/.%2E",
            "/containers/1/services/a/..\\x",
            "/containers/1/services/a/./x",
        ] {
            assert!(!stays_in_place(bad), "{bad}");
        }
        for good in [
            "/containers/1/services/a/",
            "/containers/1/services/a/notebooks/a..b/.hidden/x.ipynb",
            "/containers/1/services/a/100%25/%zz",
        ] {
            assert!(stays_in_place(good), "{good}");
        }
    }

    #[test]
    fn headers_named_by_connection_are_hop_by_hop() {
        let named = connection_names(["keep-alive, X-Secret".as_bytes()].into_iter());
        assert!(is_hop_by_hop("x-secret", &named));
        assert!(is_hop_by_hop("transfer-encoding", &[]));
        assert!(!is_hop_by_hop("content-type", &named));
    }
}
