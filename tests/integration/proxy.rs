//! The service proxy end to end: a container runs the echo service
//! (`tests/support/echo_service.py`) in the local driver's sandbox, and
//! browsers reach it at `/containers/{id}/services/echo/` over HTTP and
//! WebSocket with real session cookies; the same round trip on the kube
//! driver through the fake API server's service proxy.

use std::collections::BTreeMap;
use std::time::Duration;

use mlstack::domain::catalog::{Protocol, ServiceKind};
use mlstack::domain::ids::{ProjectId, UserId};
use mlstack::domain::project::ProjectForm;
use mlstack::domain::workload::{
    ContainerSpec, ImageRef, Resources, ServiceSpec, SshAccess, WorkloadId, WorkloadMeta,
    WorkloadStatus,
};
use mlstack::service::Services;
use mlstack::store::users::UserRecord;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{Client, TestApp, activate, approve_first_application};

const WAIT: Duration = Duration::from_secs(30);
pub const ECHO_SERVICE: &str = include_str!("../support/echo_service.py");

/// A signed-in user: their record, a browser, and its session cookie (for
/// the raw WebSocket requests).
pub struct Person {
    pub user: UserRecord,
    pub client: Client,
    pub cookie: String,
}

/// Creates `name`, lets them choose their password, and signs them in.
pub async fn person(app: &TestApp, services: &Services, name: &str) -> Person {
    let created = services.create_user(name, false).await.expect("user");
    let first = app.client();
    first.login_ok(name, &created.password).await;
    let own = first.choose_password(&created.password).await;
    let client = app.client();
    let login = client.login(name, &own).await;
    assert_eq!(login.status, StatusCode::SEE_OTHER, "{}", login.body);
    let cookie = login
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("mlstack_session="))
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let user = services
        .list_users()
        .await
        .expect("users")
        .into_iter()
        .find(|u| u.username.as_str() == name)
        .expect("the user");
    Person {
        user,
        client,
        cookie,
    }
}

/// An active project managed by `manager` with `members`, its members'
/// activations passed.
pub async fn project(services: &Services, manager: &Person, members: &[&Person]) -> ProjectId {
    let admin = services
        .list_users()
        .await
        .expect("users")
        .into_iter()
        .find(|u| u.username.as_str() == "admin")
        .expect("admin");
    let form = ProjectForm {
        name: "Echo".into(),
        start: "2026-11-29".into(),
        end: "2027-01-31".into(),
        purpose: String::new(),
        description: "services".into(),
        managers: vec![manager.user.username.as_str().to_owned()],
        members: members
            .iter()
            .map(|m| m.user.username.as_str().to_owned())
            .collect(),
    };
    let project = services
        .apply_project(&manager.user, &form)
        .await
        .expect("apply");
    let quota = mlstack::domain::quota::Resources {
        gpu_milli: 0,
        cpu_milli: 16_000,
        ram_mib: 65_536,
        storage_gib: 0,
    };
    approve_first_application(services, &admin, quota).await;
    for person in members.iter().chain([&manager]) {
        activate(services, &person.user).await;
    }
    project
}

/// A container whose HTTP service `echo` is the echo service.
pub fn echo_container(project: ProjectId, name: &str) -> ContainerSpec {
    ContainerSpec {
        meta: WorkloadMeta {
            id: WorkloadId::generate(),
            project,
            owner: UserId::generate(),
            name: name.into(),
        },
        image: ImageRef {
            name: "ubuntu".into(),
            tag: "24.04".into(),
        },
        command: None,
        env: BTreeMap::from([("ECHO_SERVICE".to_owned(), ECHO_SERVICE.to_owned())]),
        resources: Resources {
            cpu_milli: 1000,
            ram_mib: 1024,
            shm_mib: 0,
            gpu: None,
        },
        volumes: Vec::new(),
        services: vec![ServiceSpec {
            name: "echo".into(),
            kind: ServiceKind::Custom,
            port: 8000,
            protocol: Protocol::Http,
            local_command: Some("exec python3 -c \"$ECHO_SERVICE\"".into()),
        }],
        ssh: SshAccess::None,
        start_at: None,
        end_at: None,
    }
}

/// Waits until the stored container is Running; returns its service's
/// port, if it has a link.
pub async fn wait_running(services: &Services, viewer: &UserRecord, id: WorkloadId) -> Option<u16> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let record = services.workload(viewer, id).await.expect("the workload");
        if record.status() == WorkloadStatus::Running {
            return record
                .observed
                .as_ref()
                .and_then(|o| o.endpoints.first().map(|e| e.port));
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not running: {:?} {:?}",
            record.status(),
            record.events
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The echo of a request, as JSON.
fn echo_of(page: &crate::common::Page) -> Value {
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    serde_json::from_str(&page.body).expect("the echo's JSON")
}

/// The values of header `name` the service received.
fn received<'a>(echo: &'a Value, name: &str) -> Vec<&'a str> {
    echo["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .filter(|pair| {
            pair[0]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .filter_map(|pair| pair[1].as_str())
        .collect()
}

/// A raw WebSocket request to `path` of the server at `base` (with
/// `cookie`, from `origin`); the answer's head and, after a 101, the
/// connection.
pub async fn websocket(
    base: &str,
    path: &str,
    cookie: Option<&str>,
    origin: Option<&str>,
) -> (String, TcpStream) {
    let host = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).await.expect("connects");
    let mut head = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    );
    if let Some(cookie) = cookie {
        head.push_str(&format!("Cookie: {cookie}; other=kept\r\n"));
    }
    if let Some(origin) = origin {
        head.push_str(&format!("Origin: {origin}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.expect("sends");
    let mut answer = Vec::new();
    while !answer.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        let n = tokio::time::timeout(WAIT, stream.read(&mut byte))
            .await
            .expect("an answer in time")
            .expect("reads");
        if n == 0 {
            break;
        }
        answer.push(byte[0]);
    }
    (String::from_utf8_lossy(&answer).into_owned(), stream)
}

/// The status line of a GET of `path` exactly as written (a client
/// library would resolve dot segments first).
async fn raw_get_status(base: &str, path: &str, cookie: &str) -> String {
    let host = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).await.expect("connects");
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("sends");
    let mut answer = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut answer))
        .await
        .expect("an answer in time")
        .expect("reads");
    let answer = String::from_utf8_lossy(&answer);
    answer.lines().next().unwrap_or_default().to_owned()
}

/// Sends one masked text message and reads the echoed one.
pub async fn ws_round_trip(stream: &mut TcpStream, text: &str) -> String {
    let mask = [7u8, 1, 2, 9];
    let payload = text.as_bytes();
    assert!(payload.len() < 126);
    let mut frame = vec![0x81, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    stream.write_all(&frame).await.expect("sends a frame");
    let mut head = [0u8; 2];
    tokio::time::timeout(WAIT, stream.read_exact(&mut head))
        .await
        .expect("an echo in time")
        .expect("reads a frame");
    assert_eq!(head[0], 0x81, "a final text frame");
    let mut body = vec![0u8; usize::from(head[1] & 0x7f)];
    stream.read_exact(&mut body).await.expect("reads the text");
    String::from_utf8(body).expect("text")
}

#[tokio::test]
async fn a_container_service_is_reached_through_mlstack_only_by_who_may_operate_it() {
    let app = TestApp::start_configured(|config| {
        config.local.detect_gpus = false;
        config.local.gpus = Vec::new();
    });
    let services = app.services();
    let mia = person(&app, &services, "mia").await;
    let manny = person(&app, &services, "manny").await;
    let sam = person(&app, &services, "sam").await;
    let stranger = person(&app, &services, "tess").await;
    let project = project(&services, &manny, &[&mia, &sam]).await;
    let id = services
        .create_container(&mia.user, echo_container(project, "echo"))
        .await
        .expect("created");
    let port = wait_running(&services, &mia.user, id)
        .await
        .expect("the service's loopback port");
    let base = format!("/containers/{id}/services/echo/");

    // GET: the service sees its secret, mlstack's prefix and the client,
    // and none of mlstack's cookies. Its answer keeps its own page rules
    // (mlstack's CSP would forbid a notebook's scripts).
    let page = mia
        .client
        .get(&format!("{base}notebooks/a.ipynb?x=1"))
        .await;
    assert_eq!(page.header("content-security-policy"), None);
    assert_eq!(page.header("x-frame-options"), None);
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("set-cookie"), Some("echo=1; Path=/"));
    let echo = echo_of(&page);
    assert_eq!(echo["method"], "GET");
    assert_eq!(echo["path"], format!("{base}notebooks/a.ipynb?x=1"));
    assert_eq!(echo["base_url"], base);
    let secret = received(&echo, "authorization");
    assert!(
        secret.len() == 1 && secret[0].starts_with("token ") && secret[0].len() > 40,
        "{secret:?}"
    );
    assert!(
        received(&echo, "cookie")
            .iter()
            .all(|c| !c.contains("mlstack_")),
        "{echo}"
    );
    assert_eq!(received(&echo, "x-forwarded-prefix"), [base.as_str()]);
    assert_eq!(received(&echo, "x-forwarded-proto"), ["http"]);

    // POST of a body over mlstack's own form limit: streamed to the
    // service whole, without mlstack's CSRF token.
    let big: Vec<u8> = (0..3 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let sha = {
        use sha2::Digest;
        format!("{:x}", sha2::Sha256::digest(&big))
    };
    let posted = Client::read(
        mia.client
            .http
            .post(mia.client.url(&format!("{base}upload")))
            .header("x-csrf-token", "not for the service")
            .header("authorization", "Bearer the-client's")
            .body(big.clone())
            .send()
            .await
            .expect("POST"),
    )
    .await;
    let echo = echo_of(&posted);
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["body_length"], big.len());
    assert_eq!(echo["body_sha256"], sha);
    assert!(received(&echo, "x-csrf-token").is_empty());
    assert_eq!(received(&echo, "authorization"), secret);

    // A large download streams through.
    let size = 64 * 1024 * 1024;
    let response = mia
        .client
        .http
        .get(mia.client.url(&format!("{base}file?download={size}")))
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.bytes().await.expect("the download");
    assert_eq!(body.len(), size);

    // The service's own port refuses whoever lacks the secret (another
    // workload on the host).
    let direct = reqwest::Client::new();
    for authorization in [None, Some("token wrong")] {
        let mut request = direct.get(format!("http://127.0.0.1:{port}{base}"));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let answer = request.send().await.expect("the service answers");
        assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    }

    // WebSocket: echoed through the proxy with a session; without one, 401.
    let origin = app.url.clone();
    let (head, mut stream) = websocket(
        &app.url,
        &format!("{base}ws"),
        Some(&mia.cookie),
        Some(&origin),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert_eq!(
        ws_round_trip(&mut stream, "hello kernel").await,
        "hello kernel"
    );
    assert_eq!(ws_round_trip(&mut stream, "再見").await, "再見");
    let (head, _) = websocket(&app.url, &format!("{base}ws"), None, Some(&origin)).await;
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    let (head, _) = websocket(
        &app.url,
        &format!("{base}ws"),
        Some(&mia.cookie),
        Some("http://evil.example"),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");

    // The project's manager and an admin reach it too.
    assert_eq!(manny.client.get(&base).await.status, StatusCode::OK);
    assert_eq!(app.admin().await.get(&base).await.status, StatusCode::OK);

    // Each session opened is in the audit log, with the client's address:
    // the service's first page or a WebSocket, not every request of a page
    // and not the refused ones.
    let opened = app
        .admin()
        .await
        .get("/admin/audit/export.jsonl?action=proxy_opened")
        .await;
    let events: Vec<serde_json::Value> = opened
        .body
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let by = |name: &str| events.iter().filter(|e| e["actor"] == name).count();
    assert_eq!(
        (by("mia"), by("manny"), by("admin")),
        (1, 1, 1),
        "{events:?}"
    );
    assert!(
        events.iter().all(|e| e["client"] == "127.0.0.1"
            && e["target"]
                .as_str()
                .is_some_and(|t| t.ends_with("/echo echo"))),
        "{events:?}"
    );

    // Anyone else: as if it did not exist; no session: the login page, or
    // 401 for a script's request.
    for other in [&sam, &stranger] {
        assert_eq!(other.client.get(&base).await.status, StatusCode::NOT_FOUND);
    }
    let anonymous = app.client();
    let page = anonymous.get(&base).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(
        page.location()
            .is_some_and(|l| l.starts_with("/login?next="))
    );
    let page = Client::read(
        anonymous
            .http
            .post(anonymous.url(&base))
            .body("x")
            .send()
            .await
            .expect("POST"),
    )
    .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);

    // A cross-site form post with the session is refused.
    let page = Client::read(
        mia.client
            .http
            .post(mia.client.url(&base))
            .header("origin", "http://evil.example")
            .body("x")
            .send()
            .await
            .expect("POST"),
    )
    .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);

    // A path that would climb out of the service's prefix on the way
    // (through the API server, with mlstack's credentials) is refused.
    for sneaky in [
        "../../../api/v1/secrets",
        "%2e%2e/%2E%2e/x",
        "a/..%2F..%2Fx",
    ] {
        let status = raw_get_status(&app.url, &format!("{base}{sneaky}"), &mia.cookie).await;
        assert!(status.starts_with("HTTP/1.1 400"), "{sneaky}: {status}");
    }

    // A service the container does not have, or a container id that is
    // not one: 404.
    let page = mia
        .client
        .get(&format!("/containers/{id}/services/jupyter/"))
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let page = mia.client.get("/containers/nope/services/echo/").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);

    // Stopped: a page that says so, in the user's language.
    services.stop_container(&mia.user, id).await.expect("stop");
    let deadline = tokio::time::Instant::now() + WAIT;
    while services
        .workload(&mia.user, id)
        .await
        .expect("record")
        .status()
        != WorkloadStatus::Stopped
    {
        assert!(tokio::time::Instant::now() < deadline, "not stopped");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = mia.client.get(&base).await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(page.body.contains("not running"), "{}", page.body);
    assert!(
        page.header("content-security-policy").is_some(),
        "mlstack's own page"
    );
    let page = Client::read(
        mia.client
            .http
            .get(mia.client.url(&base))
            .header("accept-language", "zh-TW")
            .send()
            .await
            .expect("GET"),
    )
    .await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(page.body.contains("此容器未在執行中"), "{}", page.body);
}

/// The echo service as a process of its own on a free loopback port, as
/// the fake API server's Service endpoints.
async fn echo_process() -> (tokio::process::Child, std::net::SocketAddr) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(ECHO_SERVICE)
        .env("PORT", port.to_string())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 runs the echo service");
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = tokio::time::Instant::now() + WAIT;
    while TcpStream::connect(addr).await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "the echo service");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (child, addr)
}

#[tokio::test]
async fn on_kubernetes_a_service_is_reached_through_the_api_servers_service_proxy() {
    use crate::common::fake_apiserver::{FakeApiServer, Policy};
    use mlstack::cluster::kube::manifests;
    use mlstack::config::DriverChoice;

    // The fake grants exactly the packaged RBAC rules (services/proxy).
    let policy = Policy::from_manifest(
        include_str!("../../packaging/kubernetes/rbac.yaml"),
        "mlstack-driver",
    )
    .expect("the packaged ClusterRole");
    let fake = FakeApiServer::builder()
        .rbac(policy)
        .try_start()
        .expect("the fake API server");
    let (_echo, addr) = echo_process().await;
    fake.route_services_to(addr);
    let dir = tempfile::tempdir().expect("dir");
    let kubeconfig = dir.path().join("kubeconfig");
    fake.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let app = TestApp::start_configured(|config| {
        config.cluster.driver = DriverChoice::Kube;
        config.cluster.kubeconfig = Some(kubeconfig);
    });
    let services = app.services();
    let mia = person(&app, &services, "mia").await;
    let manny = person(&app, &services, "manny").await;
    let sam = person(&app, &services, "sam").await;
    let project = project(&services, &manny, &[&mia, &sam]).await;
    let id = services
        .create_container(&mia.user, echo_container(project, "echo"))
        .await
        .expect("created");
    wait_running(&services, &mia.user, id).await;
    let base = format!("/containers/{id}/services/echo/");

    let echo = echo_of(&mia.client.get(&format!("{base}tree?x=1")).await);
    assert_eq!(echo["path"], format!("{base}tree?x=1"));
    assert!(
        received(&echo, "cookie")
            .iter()
            .all(|c| !c.contains("mlstack_")),
        "{echo}"
    );
    assert!(
        received(&echo, "authorization").is_empty(),
        "neither the client's nor the API server's credentials reach the service: {echo}"
    );
    let namespace = manifests::namespace_name(project);
    assert!(
        fake.requests().iter().any(|r| r.path
            == format!("/api/v1/namespaces/{namespace}/services/echo:echo/proxy{base}tree")),
        "through the Service's proxy subresource"
    );

    let posted = Client::read(
        mia.client
            .http
            .post(mia.client.url(&format!("{base}save")))
            .body(vec![b'a'; 200_000])
            .send()
            .await
            .expect("POST"),
    )
    .await;
    let echo = echo_of(&posted);
    assert_eq!(
        (echo["method"].as_str(), echo["body_length"].as_u64()),
        (Some("POST"), Some(200_000))
    );

    let (head, mut stream) = websocket(
        &app.url,
        &format!("{base}api/kernels/1/channels"),
        Some(&mia.cookie),
        Some(&app.url),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert_eq!(ws_round_trip(&mut stream, "print(1)").await, "print(1)");

    assert_eq!(sam.client.get(&base).await.status, StatusCode::NOT_FOUND);
}

/// With `service_access = "cluster-address"` (mlstack inside the cluster)
/// the proxy goes straight to the Service's cluster IP and port, not
/// through the API server. (The Service is made beforehand with a
/// loopback cluster IP, where the echo process listens; the driver's apply
/// keeps it, as a real server keeps an allocated IP.)
#[tokio::test]
async fn inside_the_cluster_a_service_is_reached_at_its_cluster_address() {
    use crate::common::fake_apiserver::FakeApiServer;
    use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec as KubeServiceSpec};
    use mlstack::cluster::kube::manifests;
    use mlstack::config::{DriverChoice, ServiceAccess};

    let fake = FakeApiServer::start();
    let (_echo, addr) = echo_process().await;
    let dir = tempfile::tempdir().expect("dir");
    let kubeconfig = dir.path().join("kubeconfig");
    fake.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let app = TestApp::start_configured(|config| {
        config.cluster.driver = DriverChoice::Kube;
        config.cluster.kubeconfig = Some(kubeconfig);
        config.cluster.service_access = ServiceAccess::ClusterAddress;
    });
    let services = app.services();
    let mia = person(&app, &services, "mia").await;
    let manny = person(&app, &services, "manny").await;
    let project = project(&services, &manny, &[&mia]).await;
    let mut spec = echo_container(project, "echo");
    spec.services[0].port = addr.port();
    fake.create(
        &manifests::namespace_name(project),
        &Service {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some("echo".into()),
                ..Default::default()
            },
            spec: Some(KubeServiceSpec {
                cluster_ip: Some("127.0.0.1".into()),
                ports: Some(vec![ServicePort {
                    name: Some("echo".into()),
                    port: i32::from(addr.port()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .expect("the Service with a loopback cluster IP");
    let id = services
        .create_container(&mia.user, spec)
        .await
        .expect("created");
    wait_running(&services, &mia.user, id).await;
    let base = format!("/containers/{id}/services/echo/");

    let echo = echo_of(&mia.client.get(&format!("{base}lab")).await);
    assert_eq!(echo["path"], format!("{base}lab"));
    assert!(
        fake.requests().iter().all(|r| !r.path.contains("/proxy")),
        "not through the API server"
    );
    let (head, mut stream) = websocket(
        &app.url,
        &format!("{base}terminals/websocket/1"),
        Some(&mia.cookie),
        Some(&app.url),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert_eq!(ws_round_trip(&mut stream, "ls").await, "ls");
}
