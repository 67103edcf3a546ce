//! The built binary, end to end: configuration errors, the first-run
//! password, user commands, one process per store, logs, graceful shutdown.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use reqwest::StatusCode;

use crate::common::Client;

const BIN: &str = env!("CARGO_BIN_EXE_mlstack");

fn mlstack(args: &[&str], dir: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("MLSTACK_CONFIG")
        .output()
        .expect("run mlstack")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn invalid_configuration_exits_2_naming_the_key() {
    let dir = tempfile::tempdir().expect("dir");
    let cases = [
        ("listen = \"everywhere\"\n", "listen"),
        (
            "[session]\nidle_timeout = \"a while\"\n",
            "session.idle_timeout",
        ),
        ("colour = \"blue\"\n", "colour"),
        ("[log]\nformat = \"xml\"\n", "log.format"),
        (
            "[tls]\ncert_file = \"/nonexistent/cert.pem\"\nkey_file = \"/nonexistent/key.pem\"\n",
            "tls.cert_file",
        ),
    ];
    for (file, key) in cases {
        std::fs::write(dir.path().join("bad.toml"), file).expect("write");
        for command in ["check-config", "serve"] {
            let out = mlstack(&[command, "--config", "bad.toml"], dir.path());
            assert_eq!(out.status.code(), Some(2), "{command} with {file:?}");
            let message = text(&out.stderr);
            assert!(
                message.contains(&format!("invalid configuration: {key}:")),
                "{message}"
            );
        }
    }
    let out = Command::new(BIN)
        .args(["check-config"])
        .current_dir(dir.path())
        .env("MLSTACK_LISTEN", "nowhere")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("listen"));
    assert!(
        !dir.path().join("data").exists(),
        "an invalid configuration touches nothing"
    );
}

#[test]
fn check_config_accepts_the_example_and_the_defaults() {
    let dir = tempfile::tempdir().expect("dir");
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml");
    let out = mlstack(&["check-config", "--config", example], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("configuration is valid"));
    std::fs::write(
        dir.path().join("mlstack.toml"),
        "listen = \"0.0.0.0:9999\"\n",
    )
    .expect("write");
    let out = mlstack(&["check-config"], dir.path());
    assert!(
        text(&out.stdout).contains("0.0.0.0:9999"),
        "./mlstack.toml is read when present"
    );
}

#[test]
fn user_commands_manage_accounts() {
    let dir = tempfile::tempdir().expect("dir");
    let out = mlstack(&["user", "add", "grace", "--admin"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("created grace (admin)"));
    let first = stdout
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("password")
        .to_owned();
    let out = mlstack(&["user", "add", "grace"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("This username is taken."));
    let out = mlstack(&["user", "add", "Not Valid"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let out = mlstack(&["user", "reset-password", "grace"], dir.path());
    let second = text(&out.stdout);
    assert!(second.starts_with("new password for grace: "));
    assert!(!second.contains(&first));
    let out = mlstack(&["user", "reset-password", "nobody"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no such user"));
    let list = text(&mlstack(&["user", "list"], dir.path()).stdout);
    assert!(
        list.lines()
            .any(|l| l.starts_with("grace") && l.contains("admin") && l.contains("active")),
        "{list}"
    );
}

/// A `mlstack serve` child process with its stdout read line by line.
pub(crate) struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Server {
    pub(crate) fn start(dir: &Path) -> Server {
        Server::start_with(dir, &[])
    }

    /// Starts `serve` with `args` added (`--config FILE`).
    pub(crate) fn start_with(dir: &Path, args: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir", "data"])
            .args(args)
            .current_dir(dir)
            .env("MLSTACK_LOG_LEVEL", "debug")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Server { child, lines }
    }

    /// Lines printed until the listening line, and the URL it names.
    pub(crate) fn until_listening(&self) -> (Vec<String>, String) {
        let mut seen = Vec::new();
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(20))
                .expect("serve prints its address");
            if let Some(url) = line.trim().strip_prefix("mlstack is listening on ") {
                return (seen, url.trim_end_matches('/').to_owned());
            }
            seen.push(line);
        }
    }

    /// The server's process id (for signals).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and returns the exit status and everything logged.
    pub(crate) fn terminate(mut self) -> (Option<i32>, String) {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(killed.success());
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            pipe.read_to_string(&mut stderr).expect("stderr");
        }
        let status = self.child.wait().expect("wait");
        (status.code(), stderr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn serve_prints_the_first_password_logs_no_secrets_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("dir");
    let server = Server::start(dir.path());
    let (printed, url) = server.until_listening();
    let password = printed
        .iter()
        .find_map(|l| l.trim().strip_prefix("password: "))
        .expect("the first-run password is printed")
        .to_owned();
    let file =
        std::fs::read_to_string(dir.path().join("data/initial-admin-password")).expect("file");
    assert_eq!(file.trim(), password);

    let client = Client::new(&url);
    let login = client.login("admin", &password).await;
    assert_eq!(login.status, StatusCode::SEE_OTHER);
    let session = login
        .header("set-cookie")
        .and_then(|c| c.strip_prefix("mlstack_session="))
        .and_then(|c| c.split(';').next())
        .expect("session")
        .to_owned();
    assert_eq!(client.get("/account/password").await.status, StatusCode::OK);
    let csrf = client.csrf().await;
    client.login("admin", "a-wrong-password-attempt").await;

    // A second process on the same store is refused at once.
    let other = mlstack(&["user", "list", "--data-dir", "data"], dir.path());
    assert_eq!(other.status.code(), Some(1));
    assert!(text(&other.stderr).contains("already open in another process"));

    let (code, logs) = server.terminate();
    assert_eq!(code, Some(0), "graceful stop exits 0: {logs}");
    assert!(logs.contains("store closed"), "{logs}");
    assert!(logs.contains("id="), "log lines carry the request id");
    let form_key = std::fs::read_to_string(dir.path().join("data/form-key")).expect("form key");
    for secret in [
        password.as_str(),
        session.as_str(),
        csrf.as_str(),
        "a-wrong-password-attempt",
        form_key.trim(),
    ] {
        assert!(!logs.contains(secret), "a secret reached the logs");
    }

    // Restarted: no new password, the old one still works.
    let server = Server::start(dir.path());
    let (printed, url) = server.until_listening();
    assert!(
        !printed.iter().any(|l| l.contains("password:")),
        "printed once only"
    );
    Client::new(&url).login_ok("admin", &password).await;
    let (code, _) = server.terminate();
    assert_eq!(code, Some(0));
}

#[test]
fn check_config_reports_the_driver_and_refuses_what_it_cannot_use() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("gpus.toml"),
        "[local]\ndetect_gpus = false\ngpus = [{ index = 0, name = \"NVIDIA T4\", memory_mib = 15360 }]\n",
    )
    .expect("write");
    let out = mlstack(&["check-config", "--config", "gpus.toml"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    for line in [
        "driver:        local (request timeout 10s)",
        "health:        ok",
        "nodes:         1",
        "NVIDIA T4 (nvidia.com/gpu): 1 free of 1",
    ] {
        assert!(report.contains(line), "{line:?} in {report}");
    }

    let cases = [
        (
            "[cluster]\nrequest_timeout = \"never\"\n",
            "cluster.request_timeout",
        ),
        (
            "[cluster]\ndriver = \"kube\"\nkubeconfig = \"/nonexistent/kubeconfig\"\n",
            "cluster.kubeconfig",
        ),
        ("[cluster]\ndriver = \"cloud\"\n", "cluster.driver"),
    ];
    for (file, key) in cases {
        std::fs::write(dir.path().join("bad.toml"), file).expect("write");
        for command in ["check-config", "serve"] {
            let out = mlstack(
                &[command, "--config", "bad.toml", "--data-dir", "d"],
                dir.path(),
            );
            assert_eq!(out.status.code(), Some(2), "{command} with {file:?}");
            let message = text(&out.stderr);
            assert!(
                message.contains(&format!("invalid configuration: {key}:")),
                "{message}"
            );
        }
    }

    // A driver that cannot open (its directory would be under a file).
    std::fs::write(dir.path().join("file"), "not a directory").expect("write");
    let out = mlstack(&["check-config", "--data-dir", "file"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot open the local driver"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn check_config_reports_that_no_sandbox_can_be_made() {
    let dir = tempfile::tempdir().expect("dir");
    let run = |allow: &str| {
        Command::new(BIN)
            .args(["check-config", "--data-dir", "d"])
            .current_dir(dir.path())
            .env_remove("MLSTACK_CONFIG")
            .env("MLSTACK_LOCAL_BWRAP", "/nonexistent-mlstack/bwrap")
            .env("MLSTACK_LOCAL_ALLOW_UNSANDBOXED", allow)
            .output()
            .expect("run mlstack")
    };
    let out = run("false");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let report = text(&out.stdout);
    assert!(report.contains("health:        NOT OK"), "{report}");
    assert!(
        report.contains("/nonexistent-mlstack/bwrap is not installed"),
        "{report}"
    );
    assert!(report.contains("allow_unsandboxed"), "{report}");

    let out = run("true");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("WARNING: workloads run WITHOUT a sandbox"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn check_config_tells_whether_a_cluster_answers_and_what_the_credentials_may_do() {
    let fake = crate::common::fake_apiserver::FakeApiServer::start();
    let dir = tempfile::tempdir().expect("dir");
    fake.write_kubeconfig(&dir.path().join("kubeconfig"))
        .expect("kubeconfig");
    std::fs::write(
        dir.path().join("kube.toml"),
        "[cluster]\ndriver = \"kube\"\nkubeconfig = \"kubeconfig\"\nrequest_timeout = \"3s\"\n",
    )
    .expect("write");
    let check = || mlstack(&["check-config", "--config", "kube.toml"], dir.path());

    let out = check();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    for line in [
        "driver:        kube",
        "health:        ok",
        "may do everything mlstack needs",
        "nodes:         1",
        "NVIDIA-H200 (nvidia.com/gpu): 4 free of 4",
    ] {
        assert!(report.contains(line), "{line:?} in {report}");
    }

    fake.forbid("create", "deployments");
    let out = check();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("NOT OK"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("may not: create deployments"),
        "{}",
        text(&out.stderr)
    );

    fake.clear_faults();
    fake.stop();
    let out = check();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("does not answer"),
        "{}",
        text(&out.stdout)
    );
}
