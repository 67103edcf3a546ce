//! The web terminal of a container: its page, and the WebSocket that
//! carries the shell (binary frames both ways: typed bytes in, terminal
//! output out; a text frame `{"cols":C,"rows":R}` is a resize).
//!
//! A WebSocket upgrade carries the session cookie but no CSRF token, so a
//! page of another site could open one in the user's name (cross-site
//! WebSocket hijacking): an upgrade whose `Origin` is not this server's own
//! is refused (403). Browsers always send `Origin` on WebSockets; a client
//! without one is not a browser acting for another site.

use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::AggregatedMessage;
use serde::Deserialize;

use super::{Requires, RouteDef, ok, route};
use crate::cluster::{TerminalInput, TerminalSession, TerminalSize};
use crate::domain::authz::WorkloadAction;
use crate::domain::workload::WorkloadId;
use crate::service::Services;
use crate::service::auth::SessionContext;
use crate::service::terminal::{TERMINAL_COLS_MAX, TERMINAL_ROWS_MAX};
use crate::web::error::WebError;
use crate::web::extract::{CurrentUser, Page};
use crate::web::views;

const OPERATE: Requires = Requires::Workload(WorkloadAction::Operate);

/// The largest WebSocket message taken from the browser (a big paste).
const MAX_MESSAGE: usize = 1024 * 1024;

/// How often the server pings the browser and checks that the session may
/// keep the terminal (not logged out, the account enabled, the permission
/// and the container still there), and how long it waits to hear anything
/// back before it takes the browser for gone (a dropped network leaves no
/// close frame) and ends the shell.
const PING_EVERY: Duration = Duration::from_secs(10);
const SILENCE_LIMIT: Duration = Duration::from_secs(90);

pub fn routes() -> Vec<RouteDef> {
    vec![
        route!(Get "/containers/{id}/terminal", OPERATE => get_terminal),
        route!(Get "/containers/{id}/terminal/ws", OPERATE => get_terminal_ws),
    ]
}

fn workload_id(text: &str) -> Result<WorkloadId, WebError> {
    text.parse().map_err(|_| WebError::NotFound)
}

async fn get_terminal(
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let id = workload_id(&path)?;
    let target = user
        .page
        .state
        .services
        .terminal_target(&user.session.user, id)
        .await?;
    Ok(ok(views::terminal::page(&user.page.shell(), &target)))
}

/// The terminal's first size, from the page's query (`?cols=&rows=`).
#[derive(Debug, Deserialize)]
struct SizeQuery {
    cols: Option<u16>,
    rows: Option<u16>,
}

fn clamp(size: TerminalSize) -> TerminalSize {
    TerminalSize {
        cols: size.cols.clamp(1, TERMINAL_COLS_MAX),
        rows: size.rows.clamp(1, TERMINAL_ROWS_MAX),
    }
}

/// Whether an upgrade comes from a page of another origin.
fn cross_origin(req: &HttpRequest) -> bool {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return false;
    };
    let info = req.connection_info();
    let authority = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest);
    authority != Some(info.host())
}

async fn get_terminal_ws(
    page: Page,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, WebError> {
    let session = page.ctx.session.clone().ok_or(WebError::Unauthenticated)?;
    if cross_origin(&req) {
        tracing::warn!("terminal WebSocket refused: cross-origin upgrade");
        return Err(WebError::Forbidden);
    }
    let id = workload_id(&path)?;
    let services = &page.state.services;
    // Who may see the container, before anything else is said about it.
    services.terminal_target(&session.user, id).await?;
    let query: SizeQuery = serde_urlencoded::from_str(req.query_string())
        .map_err(|e| WebError::BadRequest(format!("terminal size: {e}")))?;
    let size = TerminalSize {
        cols: query.cols.unwrap_or(80),
        rows: query.rows.unwrap_or(24),
    };
    let (response, socket, stream) = actix_ws::handle(&req, body)
        .map_err(|e| WebError::BadRequest(format!("not a WebSocket upgrade: {e}")))?;
    let terminal = services.open_terminal(&session.user, id, size).await?;
    let stream = stream
        .max_frame_size(MAX_MESSAGE)
        .aggregate_continuations()
        .max_continuation_size(MAX_MESSAGE);
    let allowed = Allowed {
        services: services.clone(),
        session,
        id,
    };
    actix_web::rt::spawn(relay(terminal, socket, stream, allowed));
    Ok(response)
}

/// What the relay asks, on each ping, whether the terminal may stay open.
struct Allowed {
    services: Services,
    session: SessionContext,
    id: WorkloadId,
}

impl Allowed {
    async fn still(&self) -> bool {
        self.services
            .terminal_still_allowed(&self.session, self.id)
            .await
            .unwrap_or(false)
    }
}

/// Carries the socket's messages to the terminal and its output back,
/// until either side ends or the session may no longer keep it; dropping
/// the session ends the shell.
async fn relay(
    terminal: TerminalSession,
    mut socket: actix_ws::Session,
    mut stream: actix_ws::AggregatedMessageStream,
    allowed: Allowed,
) {
    let TerminalSession { input, mut output } = terminal;
    let mut heartbeat = tokio::time::interval(PING_EVERY);
    let mut heard = Instant::now();
    loop {
        tokio::select! {
            _ = heartbeat.tick() => {
                if heard.elapsed() > SILENCE_LIMIT
                    || !allowed.still().await
                    || socket.ping(b"").await.is_err()
                {
                    break;
                }
            }
            message = stream.recv() => {
                heard = Instant::now();
                let to_terminal = match message {
                    Some(Ok(AggregatedMessage::Binary(bytes))) => {
                        TerminalInput::Data(bytes.to_vec())
                    }
                    Some(Ok(AggregatedMessage::Text(text))) => {
                        match serde_json::from_str::<TerminalSize>(&text) {
                            Ok(size) => TerminalInput::Resize(clamp(size)),
                            Err(_) => continue,
                        }
                    }
                    Some(Ok(AggregatedMessage::Ping(bytes))) => {
                        if socket.pong(&bytes).await.is_err() {
                            break;
                        }
                        continue;
                    }
                    Some(Ok(AggregatedMessage::Pong(_))) => continue,
                    Some(Ok(AggregatedMessage::Close(_)) | Err(_)) | None => break,
                };
                if input.send(to_terminal).await.is_err() {
                    break;
                }
            }
            bytes = output.recv() => match bytes {
                Some(bytes) => {
                    if socket.binary(bytes).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
        }
    }
    drop(input);
    let _ = socket.close(None).await;
}
