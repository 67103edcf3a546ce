//! The web terminal of a container, end to end: a WebSocket with the
//! session cookie to `/containers/{id}/terminal/ws`, a real shell under a
//! pseudo-terminal in the local driver's sandbox (and an exec into the pod
//! on the fake API server), typed bytes in and the terminal's output out.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use mlstack::config::DriverChoice;
use mlstack::domain::ids::{ProjectId, UserId};
use mlstack::domain::project::ProjectForm;
use mlstack::domain::workload::{
    ContainerSpec, ImageRef, Resources, SshAccess, WorkloadId, WorkloadMeta, WorkloadStatus,
};
use mlstack::service::Services;
use mlstack::store::users::UserRecord;

use crate::common::browser::{Browser, ENTER};
use crate::common::fake_apiserver::FakeApiServer;
use crate::common::{Client, TestApp, activate, approve_first_application};

const WAIT: Duration = Duration::from_secs(30);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// An appliance with one active project: alice manages it, mia and otto
/// are members; each has a client logged in and its session cookie.
struct Lab {
    services: Services,
    project: ProjectId,
    /// Each user's record, logged-in client, session cookie and password.
    users: BTreeMap<&'static str, (UserRecord, Client, String, String)>,
    app: TestApp,
}

impl Lab {
    fn user(&self, name: &str) -> &UserRecord {
        &self.users[name].0
    }

    fn client(&self, name: &str) -> &Client {
        &self.users[name].1
    }

    fn cookie(&self, name: &str) -> &str {
        &self.users[name].2
    }

    fn password(&self, name: &str) -> &str {
        &self.users[name].3
    }
}

async fn lab(configure: impl FnOnce(&mut mlstack::config::Config)) -> Lab {
    let app = TestApp::start_configured(configure);
    let services = app.services();
    let mut logins = BTreeMap::new();
    for name in ["alice", "mia", "otto"] {
        let created = services.create_user(name, false).await.expect("user");
        let client = app.client();
        client.login_ok(name, &created.password).await;
        let own = client.choose_password(&created.password).await;
        // A second login of the same browser, to read its session cookie.
        let page = client.login(name, &own).await;
        let cookie = page
            .headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("mlstack_session="))
            .and_then(|v| v.split(';').next())
            .expect("a session cookie")
            .to_owned();
        logins.insert(name, (client, cookie, own));
    }
    let all = services.list_users().await.expect("users");
    let record = |name: &str| {
        all.iter()
            .find(|u| u.username.as_str() == name)
            .cloned()
            .expect("user")
    };
    let admin = record("admin");
    let form = ProjectForm {
        name: "Vision".into(),
        start: "2026-11-29".into(),
        end: "2027-01-31".into(),
        purpose: String::new(),
        description: "a study".into(),
        managers: vec!["alice".into()],
        members: vec!["mia".into(), "otto".into()],
    };
    let project = services
        .apply_project(&record("alice"), &form)
        .await
        .expect("apply");
    let quota = mlstack::domain::quota::Resources {
        gpu_milli: 0,
        cpu_milli: 16_000,
        ram_mib: 65_536,
        storage_gib: 0,
    };
    approve_first_application(&services, &admin, quota).await;
    activate(&services, &record("mia")).await;
    let users = logins
        .into_iter()
        .map(|(name, (client, cookie, password))| (name, (record(name), client, cookie, password)))
        .collect();
    Lab {
        services,
        project,
        users,
        app,
    }
}

/// A container that runs `command` and offers no service.
fn container(project: ProjectId, name: &str, command: Option<&str>) -> ContainerSpec {
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
        command: command.map(str::to_owned),
        env: BTreeMap::new(),
        resources: Resources {
            cpu_milli: 1000,
            ram_mib: 2048,
            shm_mib: 0,
            gpu: None,
        },
        volumes: Vec::new(),
        services: Vec::new(),
        ssh: SshAccess::None,
        start_at: None,
        end_at: None,
    }
}

async fn wait_status(
    services: &Services,
    viewer: &UserRecord,
    id: WorkloadId,
    want: WorkloadStatus,
) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let record = services.workload(viewer, id).await.expect("the workload");
        if record.status() == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not {want} after {WAIT:?}: {:?} {:?}",
            record.status(),
            record.events
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Opens the terminal WebSocket with these headers; the HTTP status of a
/// refused upgrade.
async fn connect(
    app: &TestApp,
    id: WorkloadId,
    headers: &[(&str, &str)],
) -> Result<Socket, StatusCode> {
    let url = format!(
        "{}/containers/{id}/terminal/ws?cols=80&rows=24",
        app.url.replace("http://", "ws://")
    );
    let mut request = url.into_client_request().expect("request");
    for (name, value) in headers {
        let name = tungstenite::http::HeaderName::from_bytes(name.as_bytes()).expect("header");
        request
            .headers_mut()
            .insert(name, HeaderValue::from_str(value).expect("header value"));
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tungstenite::Error::Http(response)) => {
            Err(StatusCode::from_u16(response.status().as_u16()).expect("status"))
        }
        Err(other) => panic!("the WebSocket failed: {other}"),
    }
}

async fn type_in(socket: &mut Socket, text: &str) {
    socket
        .send(Message::binary(text.as_bytes().to_vec()))
        .await
        .expect("send");
}

/// Reads the terminal's output until it contains `want`; returns all of it.
async fn read_until(socket: &mut Socket, want: &str) -> String {
    let mut seen: Vec<u8> = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let text = String::from_utf8_lossy(&seen).into_owned();
        if text.contains(want) {
            return text;
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, socket.next()).await {
            Ok(Some(Ok(Message::Binary(bytes)))) => seen.extend_from_slice(&bytes),
            Ok(Some(Ok(_))) => {}
            Ok(other) => panic!("the terminal ended ({other:?}) before {want:?}: {text:?}"),
            Err(_) => panic!("no {want:?} after {WAIT:?}: {text:?}"),
        }
    }
}

/// Runs `command` in the shell and returns what it printed between two
/// markers (so the echo of the typed line does not count).
async fn run(socket: &mut Socket, command: &str) -> String {
    type_in(
        socket,
        &format!("echo BEGIN-$((1+1)); {command}; echo END-$((2+2))\r"),
    )
    .await;
    let text = read_until(socket, "END-4").await;
    let start = text.rfind("BEGIN-2").expect("the start marker") + "BEGIN-2".len();
    let end = text.rfind("END-4").expect("the end marker");
    text[start..end].trim().to_owned()
}

/// Whether the server closes the socket within `WAIT`.
async fn closes(socket: &mut Socket) -> bool {
    tokio::time::timeout(WAIT, async {
        while let Some(Ok(message)) = socket.next().await {
            if message.is_close() {
                break;
            }
        }
    })
    .await
    .is_ok()
}

/// The pids of processes on this host whose command line holds `marker`.
fn processes_with(marker: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            cmdline.contains(marker).then_some(pid)
        })
        .collect()
}

#[tokio::test]
async fn a_member_types_into_a_shell_in_the_sandbox_of_their_running_container() {
    let lab = lab(|config| {
        config.local.detect_gpus = false;
    })
    .await;
    let (services, mia) = (&lab.services, lab.user("mia"));
    let id = services
        .create_container(
            mia,
            container(lab.project, "box", Some("exec sleep 100001")),
        )
        .await
        .expect("created");
    wait_status(services, mia, id, WorkloadStatus::Running).await;

    let page = lab
        .client("mia")
        .get(&format!("/containers/{id}/terminal"))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Terminal of box"), "{}", page.body);
    assert!(
        page.body
            .contains(&format!("data-ws=\"/containers/{id}/terminal/ws\""))
    );
    assert!(page.body.contains(&format!("href=\"/containers/{id}\"")));
    assert!(page.body.contains("/assets/terminal.js?v="));

    let mut chinese = reqwest::header::HeaderMap::new();
    chinese.insert(
        "accept-language",
        reqwest::header::HeaderValue::from_static("zh-TW"),
    );
    let zh = Client::with_headers(&lab.app.url, chinese);
    zh.login_ok("mia", lab.password("mia")).await;
    let page = zh.get(&format!("/containers/{id}/terminal")).await;
    assert!(page.body.contains("box 的終端機"), "{}", page.body);
    assert!(page.body.contains("連線中"), "{}", page.body);

    let cookie = lab.cookie("mia");
    let origin = lab.app.url.clone();
    let mut socket = connect(&lab.app, id, &[("cookie", cookie), ("origin", &origin)])
        .await
        .expect("the terminal opens");
    assert_eq!(run(&mut socket, "echo $((6*7))").await, "42");
    // The session opened is in the audit log, with the client's address.
    let opened = services
        .audit_page(
            mlstack::domain::audit::AuditFilter {
                action: Some(mlstack::domain::audit::AuditAction::TerminalOpened),
                ..Default::default()
            },
            0,
            10,
        )
        .await
        .expect("the audit log");
    assert_eq!(opened.total, 1);
    let event = &opened.events[0];
    assert_eq!(
        (event.actor_name.as_str(), event.target.as_str()),
        ("mia", "box")
    );
    assert_eq!(
        event.client.map(|c| c.to_string()).as_deref(),
        Some("127.0.0.1")
    );
    let tty = run(&mut socket, "tty; test -t 0 && echo is-a-terminal").await;
    assert!(tty.contains("is-a-terminal"), "{tty:?}");
    assert!(!tty.contains("not a tty"), "{tty:?}");
    assert_eq!(run(&mut socket, "printf '%s|%s\\n' 中文 ü").await, "中文|ü");
    assert_eq!(run(&mut socket, "stty size").await, "24 80");
    socket
        .send(Message::text(r#"{"cols":123,"rows":45}"#))
        .await
        .expect("resize");
    assert_eq!(run(&mut socket, "stty size").await, "45 123");
    // The container's sandbox: its working directory, not the server's
    // data directory.
    assert_eq!(run(&mut socket, "pwd").await, "/workspace");
    // The container's environment and user (its project's own when the
    // server runs as root).
    assert_eq!(run(&mut socket, "echo $MLSTACK_WORKLOAD_NAME").await, "box");
    // The command itself, not the shells and bwrap that started it.
    let workload_pid = processes_with("sleep 100001")
        .into_iter()
        .find(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == b"sleep\x00100001\x00")
        })
        .expect("the container's command");
    let status = std::fs::read_to_string(format!("/proc/{workload_pid}/status")).expect("status");
    let workload_uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().next())
        .expect("a uid")
        .to_owned();
    assert_eq!(run(&mut socket, "id -u").await, workload_uid);
    let data_dir = lab.app.data_dir();
    let listing = run(&mut socket, &format!("ls {} 2>&1", data_dir.display())).await;
    assert!(listing.contains("No such file or directory"), "{listing:?}");

    // Closing the socket ends the shell and what it started.
    let marker = "4242.4242";
    type_in(&mut socket, &format!("sleep {marker} &\r")).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while processes_with(marker).is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sleep never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    socket.close(None).await.expect("close");
    drop(socket);
    let deadline = tokio::time::Instant::now() + WAIT;
    while !processes_with(marker).is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the shell's processes outlived the socket: {:?}",
            processes_with(marker)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Refusals: no session, another member, another site.
    assert_eq!(
        connect(&lab.app, id, &[]).await.err(),
        Some(StatusCode::UNAUTHORIZED)
    );
    assert_eq!(
        connect(&lab.app, id, &[("cookie", lab.cookie("otto"))])
            .await
            .err(),
        Some(StatusCode::NOT_FOUND)
    );
    assert_eq!(
        connect(
            &lab.app,
            id,
            &[("cookie", cookie), ("origin", "http://evil.example")]
        )
        .await
        .err(),
        Some(StatusCode::FORBIDDEN)
    );
    let page = lab
        .client("otto")
        .get(&format!("/containers/{id}/terminal"))
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let page = lab
        .app
        .client()
        .get(&format!("/containers/{id}/terminal"))
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    // The project's manager may open it.
    let mut managed = connect(&lab.app, id, &[("cookie", lab.cookie("alice"))])
        .await
        .expect("the manager's terminal");
    assert_eq!(run(&mut managed, "echo manager").await, "manager");
    // Logging out ends the terminals of that session.
    let out = lab.client("alice").post_form("/logout", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(
        closes(&mut managed).await,
        "the terminal outlived the session"
    );

    // Stopping the container ends its open terminal; a stopped container
    // has none: the page says so.
    let mut open = connect(&lab.app, id, &[("cookie", cookie)])
        .await
        .expect("a terminal");
    assert_eq!(run(&mut open, "echo still-here").await, "still-here");
    services.stop_container(mia, id).await.expect("stop");
    wait_status(services, mia, id, WorkloadStatus::Stopped).await;
    assert!(
        closes(&mut open).await,
        "the terminal outlived its container"
    );
    let page = lab
        .client("mia")
        .get(&format!("/containers/{id}/terminal"))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("The container is not running"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("data-ws="));
    assert_eq!(
        connect(&lab.app, id, &[("cookie", cookie)]).await.err(),
        Some(StatusCode::CONFLICT)
    );
}

/// The line of `/proc/PID/status` named `name`, its words joined by one
/// space.
fn status_line(status: &str, name: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The shell words that print the pid (in the shell's own view of
/// /proc) of the process whose command line is `words`.
fn pid_of(words: &str) -> String {
    format!(
        "for p in /proc/[0-9]*; do [ \"$(tr '\\0' ' ' < $p/cmdline 2>/dev/null)\" = '{words} ' ] && echo ${{p#/proc/}}; done"
    )
}

#[tokio::test]
async fn the_terminal_is_a_shell_inside_the_running_container() {
    let lab = lab(|config| {
        config.local.detect_gpus = false;
    })
    .await;
    let (services, mia) = (&lab.services, lab.user("mia"));
    // The command leaves a marker process and a file in the sandbox's
    // private /tmp, which no other sandbox shows.
    let id = services
        .create_container(
            mia,
            container(
                lab.project,
                "inside",
                Some("echo only-here > /tmp/private.txt && exec sleep 100007"),
            ),
        )
        .await
        .expect("created");
    wait_status(services, mia, id, WorkloadStatus::Running).await;
    let marker = processes_with("sleep 100007")
        .into_iter()
        .find(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == b"sleep\x00100007\x00")
        })
        .expect("the container's command");
    let host_status =
        std::fs::read_to_string(format!("/proc/{marker}/status")).expect("its status");
    let namespace = |pid: &str, kind: &str| {
        std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
            .map(|link| link.to_string_lossy().into_owned())
            .unwrap_or_else(|e| panic!("/proc/{pid}/ns/{kind}: {e}"))
    };

    let mut socket = connect(&lab.app, id, &[("cookie", lab.cookie("mia"))])
        .await
        .expect("the terminal opens");
    // The container's processes and its private files.
    let inside = run(&mut socket, &pid_of("sleep 100007")).await;
    let inside_pid: u32 = inside.parse().unwrap_or_else(|_| panic!("{inside:?}"));
    assert_ne!(
        inside_pid.to_string(),
        marker.to_string(),
        "its own PID namespace's number"
    );
    assert_eq!(run(&mut socket, "cat /tmp/private.txt").await, "only-here");
    // The same namespaces as the command, seen from the host.
    for kind in ["mnt", "pid", "ipc", "cgroup", "user", "net", "uts"] {
        let shell = run(&mut socket, &format!("readlink /proc/self/ns/{kind}")).await;
        assert_eq!(shell, namespace(&marker.to_string(), kind), "{kind}");
    }
    // The same cgroup and limits as the command, seen from inside.
    assert_eq!(
        run(&mut socket, "cat /proc/self/cgroup").await,
        run(&mut socket, &format!("cat /proc/{inside_pid}/cgroup")).await
    );
    assert_eq!(
        run(&mut socket, "cat /proc/self/limits").await,
        run(&mut socket, &format!("cat /proc/{inside_pid}/limits")).await
    );
    // The container's user, with no capability and no new privileges.
    let status = run(&mut socket, "cat /proc/self/status").await;
    for line in ["Uid:", "Gid:", "Groups:", "NoNewPrivs:", "Seccomp:"] {
        assert_eq!(
            status_line(&status, line),
            status_line(&host_status, line),
            "{line} {status}"
        );
    }
    for caps in ["CapInh:", "CapPrm:", "CapEff:", "CapAmb:"] {
        assert_eq!(
            status_line(&status, caps),
            "0000000000000000",
            "{caps} {status}"
        );
    }
    // A server that is root empties the bounding set, as the sandbox's
    // (unprivileged, nothing is left to empty it with: no_new_privs).
    if status_line(
        &std::fs::read_to_string("/proc/self/status").expect("own status"),
        "Uid:",
    )
    .starts_with("0 ")
    {
        assert_eq!(
            status_line(&status, "CapBnd:"),
            "0000000000000000",
            "{status}"
        );
    }
    assert_eq!(status_line(&status, "NoNewPrivs:"), "1");
    assert_eq!(run(&mut socket, "pwd").await, "/workspace");

    // Closing the socket ends what the shell started, jobs in groups of
    // their own included, but not the container.
    type_in(&mut socket, "sleep 4646.4646 &\r").await;
    type_in(&mut socket, "(sleep 4747.4747 &) ; echo started\r").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while processes_with("4646.4646").is_empty() || processes_with("4747.4747").is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sleeps never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    socket.close(None).await.expect("close");
    drop(socket);
    let deadline = tokio::time::Instant::now() + WAIT;
    while !processes_with("4646.4646").is_empty() || !processes_with("4747.4747").is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the shell's processes outlived the socket"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        std::fs::read(format!("/proc/{marker}/cmdline")).is_ok_and(|c| c == b"sleep\x00100007\x00"),
        "the container's command went with the terminal"
    );
    let record = services.workload(mia, id).await.expect("the workload");
    assert_eq!(record.status(), WorkloadStatus::Running);
    // Another terminal finds the container as it was.
    let mut again = connect(&lab.app, id, &[("cookie", lab.cookie("mia"))])
        .await
        .expect("a second terminal");
    assert_eq!(run(&mut again, "cat /tmp/private.txt").await, "only-here");
    assert_eq!(run(&mut again, &pid_of("sleep 100007")).await, inside);
    drop(again);

    services.stop_container(mia, id).await.expect("stop");
    wait_status(services, mia, id, WorkloadStatus::Stopped).await;
}

/// The same terminal on the kube driver: an exec with a TTY into the
/// container's pod on the fake API server, backed there by a real shell.
#[tokio::test]
async fn the_terminal_of_a_container_on_kubernetes_is_an_exec_into_its_pod() {
    let fake = FakeApiServer::start();
    let dir = tempfile::tempdir().expect("dir");
    let kubeconfig = dir.path().join("kubeconfig");
    fake.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let lab = lab(|config| {
        config.cluster.driver = DriverChoice::Kube;
        config.cluster.kubeconfig = Some(kubeconfig);
    })
    .await;
    let (services, mia) = (&lab.services, lab.user("mia"));
    let id = services
        .create_container(mia, container(lab.project, "pod", None))
        .await
        .expect("created");
    wait_status(services, mia, id, WorkloadStatus::Running).await;

    let mut socket = connect(&lab.app, id, &[("cookie", lab.cookie("mia"))])
        .await
        .expect("the terminal opens");
    assert_eq!(run(&mut socket, "echo $((6*7))").await, "42");
    assert_eq!(run(&mut socket, "printf '%s\\n' 中文").await, "中文");
    socket
        .send(Message::text(r#"{"cols":101,"rows":33}"#))
        .await
        .expect("resize");
    assert_eq!(run(&mut socket, "stty size").await, "33 101");
    let exec = fake
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/exec"))
        .expect("an exec request");
    assert!(
        exec.path.starts_with("/api/v1/namespaces/"),
        "{}",
        exec.path
    );
    assert!(exec.query.contains("tty=true"), "{}", exec.query);
    assert!(exec.query.contains("container=main"), "{}", exec.query);

    // Closing the socket ends the exec's process.
    let marker = "4343.4343";
    type_in(&mut socket, &format!("sleep {marker} &\r")).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while processes_with(marker).is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sleep never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    socket.close(None).await.expect("close");
    drop(socket);
    let deadline = tokio::time::Instant::now() + WAIT;
    while !processes_with(marker).is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the exec's processes outlived the socket"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        connect(&lab.app, id, &[("cookie", lab.cookie("otto"))])
            .await
            .err(),
        Some(StatusCode::NOT_FOUND)
    );
}

/// The page in headless Chromium: xterm.js connects, a command typed into
/// the terminal runs in the container and its output shows.
#[tokio::test]
async fn a_command_typed_into_the_terminal_page_shows_its_output() {
    let lab = lab(|config| {
        config.local.detect_gpus = false;
    })
    .await;
    let (services, mia) = (&lab.services, lab.user("mia"));
    let id = services
        .create_container(
            mia,
            container(lab.project, "box", Some("exec sleep 100000")),
        )
        .await
        .expect("created");
    wait_status(services, mia, id, WorkloadStatus::Running).await;

    let b = Browser::start(&lab.app.url).await;
    b.log_in("mia", lab.password("mia")).await;
    b.goto(&format!("/containers/{id}/terminal")).await;
    b.wait_until(
        "the terminal to connect",
        "return document.getElementById('terminal-status').textContent.indexOf('Connected') >= 0;",
        vec![],
    )
    .await;
    b.fill_in(".xterm-helper-textarea", "echo $((6*7))-$((5*5))")
        .await;
    b.press(ENTER).await;
    b.wait_until(
        "the command's output in the terminal",
        "return document.querySelector('.xterm-rows').textContent.indexOf('42-25') >= 0;",
        vec![],
    )
    .await;
    // At 400 px the terminal narrows with the window, nothing runs past
    // it, and the shell is told the new width.
    b.resize(400, 800).await;
    b.wait_until(
        "the page to fit 400 px",
        "return document.documentElement.scrollWidth <= window.innerWidth \
           && document.getElementById('terminal').getBoundingClientRect().right <= window.innerWidth;",
        vec![],
    )
    .await;
    // The page sends the new size a moment after the window narrows (and
    // later under load): ask the shell again until it has heard of it.
    let narrowed = "var m = document.querySelector('.xterm-rows').textContent \
         .match(/(\\d+)x(\\d+)/g) || []; \
         return m.some(function (s) { return Number(s.split('x')[1]) < 60; });";
    let mut told = false;
    for _ in 0..20 {
        b.fill_in(
            ".xterm-helper-textarea",
            "clear; stty size | tr [:blank:] x",
        )
        .await;
        b.press(ENTER).await;
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        if b.execute(narrowed, vec![]).await.as_bool() == Some(true) {
            told = true;
            break;
        }
    }
    if !told {
        b.fail("the shell never saw fewer than 60 columns").await;
    }
    b.close().await;
    services.stop_container(mia, id).await.expect("stop");
    wait_status(services, mia, id, WorkloadStatus::Stopped).await;
}
