//! The `pods/{name}/exec` subresource over WebSocket, as kube-rs (and
//! kubectl) speak it: the `v5.channel.k8s.io` or `v4.channel.k8s.io`
//! protocol, binary frames whose first byte is the channel (0 stdin,
//! 1 stdout, 3 the final `Status`, 4 a resize `{"Width","Height"}`, 255 in
//! v5 a stream closed). The command runs for real on this host under a
//! pseudo-terminal (TTY execs only), in a folder of its own, with nothing
//! of the test's environment: a pod's exec is backed by a real process.

use std::sync::Arc;

use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use actix_ws::AggregatedMessage;
use mlstack::cluster::local::Pty;
use mlstack::cluster::{TerminalInput, TerminalSession, TerminalSize};
use serde_json::{Value, json};
use tokio::process::Command;

use super::api::ApiError;
use super::http::error_response;
use super::{RecordedRequest, Shared, USER, resources};

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STATUS: u8 = 3;
const RESIZE: u8 = 4;
const CLOSE: u8 = 255;

/// `GET /api/v1/namespaces/{namespace}/pods/{name}/exec`, upgraded.
pub async fn handle(
    req: HttpRequest,
    body: web::Payload,
    path: web::Path<(String, String)>,
    shared: web::Data<Arc<Shared>>,
) -> HttpResponse {
    let shared = shared.get_ref().clone();
    let (namespace, name) = path.into_inner();
    shared.record(RecordedRequest {
        method: req.method().as_str().to_owned(),
        path: req.path().to_owned(),
        query: req.query_string().to_owned(),
        content_type: String::new(),
        accept: String::new(),
    });
    match start(&req, body, &shared, &namespace, &name) {
        Ok(response) => response,
        Err(error) => error_response(&error),
    }
}

fn start(
    req: &HttpRequest,
    body: web::Payload,
    shared: &Shared,
    namespace: &str,
    name: &str,
) -> Result<HttpResponse, ApiError> {
    let credentials = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let anonymous = credentials.is_empty() && shared.anonymous;
    if !anonymous && credentials != format!("Bearer {}", shared.token) {
        return Err(ApiError::new(401, "Unauthorized"));
    }
    if shared.is_forbidden("create", "", "pods/exec") {
        return Err(ApiError::new(
            403,
            format!(
                "pods \"{name}\" is forbidden: User \"{USER}\" cannot create resource \"pods/exec\" in API group \"\" in the namespace \"{namespace}\""
            ),
        ));
    }
    let query: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string())
        .map_err(|e| ApiError::bad_request(format!("bad query: {e}")))?;
    let value = |key: &str| {
        query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let command: Vec<&str> = query
        .iter()
        .filter(|(k, _)| k == "command")
        .map(|(_, v)| v.as_str())
        .collect();
    if command.is_empty() {
        return Err(ApiError::bad_request("you must specify at least 1 command"));
    }
    if value("tty") != Some("true") {
        return Err(ApiError::bad_request(
            "the fake API server runs execs with a TTY only",
        ));
    }
    let pods = resources::by_plural("pods").expect("pods are served");
    let pod = shared.lock().get(pods, namespace, name)?;
    let containers: Vec<&str> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .collect();
    if let Some(container) = value("container")
        && !containers.contains(&container)
    {
        return Err(ApiError::bad_request(format!(
            "container {container} is not valid for pod {name}"
        )));
    }
    if pod.pointer("/status/phase").and_then(Value::as_str) != Some("Running") {
        return Err(ApiError::bad_request(format!(
            "unable to upgrade connection: pod {name} is not running"
        )));
    }
    let (response, socket, stream) =
        actix_ws::handle_with_protocols(req, body, &["v5.channel.k8s.io", "v4.channel.k8s.io"])
            .map_err(|e| ApiError::bad_request(format!("not a WebSocket upgrade: {e}")))?;
    let folder = std::env::temp_dir();
    let mut process = Command::new("setsid");
    process
        .arg("--ctty")
        .args(&command)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("TERM", "xterm")
        .env("LANG", "C.UTF-8")
        .current_dir(folder);
    let started = Pty::open(TerminalSize { cols: 80, rows: 24 })
        .and_then(|pty| pty.spawn(&mut process, std::future::pending()))
        .map_err(|e| ApiError::new(500, format!("starting {command:?}: {e}")))?;
    let stream = stream.aggregate_continuations();
    actix_web::rt::spawn(relay(started, socket, stream));
    Ok(response)
}

/// What a resize frame says: `{"Width": 80, "Height": 24}`.
fn size_of(json: &[u8]) -> Option<TerminalSize> {
    let value: Value = serde_json::from_slice(json).ok()?;
    Some(TerminalSize {
        cols: u16::try_from(value.get("Width")?.as_u64()?).ok()?,
        rows: u16::try_from(value.get("Height")?.as_u64()?).ok()?,
    })
}

fn framed(channel: u8, bytes: &[u8]) -> Bytes {
    let mut frame = Vec::with_capacity(bytes.len() + 1);
    frame.push(channel);
    frame.extend_from_slice(bytes);
    Bytes::from(frame)
}

/// Carries frames between the WebSocket and the process until either ends;
/// when the process has ended, the final Status goes out first.
async fn relay(
    session: TerminalSession,
    mut socket: actix_ws::Session,
    mut stream: actix_ws::AggregatedMessageStream,
) {
    let TerminalSession { input, mut output } = session;
    let mut ended = false;
    loop {
        tokio::select! {
            message = stream.recv() => match message {
                Some(Ok(AggregatedMessage::Binary(frame))) => {
                    let to_process = match frame.split_first() {
                        Some((&STDIN, data)) => TerminalInput::Data(data.to_vec()),
                        Some((&RESIZE, json)) => match size_of(json) {
                            Some(size) => TerminalInput::Resize(size),
                            None => continue,
                        },
                        Some((&CLOSE, _)) => break,
                        _ => continue,
                    };
                    if input.send(to_process).await.is_err() {
                        break;
                    }
                }
                Some(Ok(AggregatedMessage::Ping(bytes))) => {
                    if socket.pong(&bytes).await.is_err() {
                        break;
                    }
                }
                Some(Ok(AggregatedMessage::Text(_) | AggregatedMessage::Pong(_))) => {}
                Some(Ok(AggregatedMessage::Close(_)) | Err(_)) | None => break,
            },
            bytes = output.recv() => match bytes {
                Some(bytes) => {
                    if socket.binary(framed(STDOUT, &bytes)).await.is_err() {
                        break;
                    }
                }
                None => {
                    ended = true;
                    break;
                }
            },
        }
    }
    drop(input);
    if ended {
        let status = json!({"metadata": {}, "status": "Success"});
        let _ = socket
            .binary(framed(STATUS, status.to_string().as_bytes()))
            .await;
    }
    let _ = socket.close(None).await;
}
