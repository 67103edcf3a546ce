//! The real kubectl against the fake API server, through a kubeconfig
//! file: the fake speaks the protocol real clients speak (discovery, the
//! OpenAPI index kubectl validates with, server-side tables, watches,
//! logs, deletion with waiting). Skips, saying so, where kubectl is not
//! installed.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod};

use crate::common::fake_apiserver::{FakeApiServer, wait_for};

const MANIFEST: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: trainer
spec:
  replicas: 1
  selector:
    matchLabels:
      app: trainer
  template:
    metadata:
      labels:
        app: trainer
    spec:
      containers:
      - name: main
        image: pytorch/pytorch:2.5
        command: [\"sh\", \"-c\", \"echo hello from the fake; echo second line; sleep 600\"]
        ports:
        - containerPort: 8888
        resources:
          limits:
            nvidia.com/gpu: 1
";

const JOB: &str = "\
apiVersion: batch/v1
kind: Job
metadata:
  name: hello
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: [\"sh\", \"-c\", \"echo hi\"]
";

fn kubectl_installed() -> bool {
    Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The fake, and a folder holding its kubeconfig, for kubectl; `None`,
/// saying so, where kubectl is not installed.
fn fake_for_kubectl() -> Option<(FakeApiServer, tempfile::TempDir)> {
    if !kubectl_installed() {
        println!("skipped: kubectl is not on PATH");
        return None;
    }
    // kubectl sends its token only over TLS: serve it without one.
    let fake = FakeApiServer::builder()
        .anonymous(true)
        .try_start()
        .expect("the fake starts");
    let dir = tempfile::tempdir().expect("dir");
    fake.write_kubeconfig(&dir.path().join("kubeconfig"))
        .expect("kubeconfig");
    Some((fake, dir))
}

/// kubectl with the fake's kubeconfig and a home of its own (its
/// discovery cache goes there).
fn kubectl(dir: &Path) -> Command {
    let mut command = Command::new("kubectl");
    command
        .arg("--kubeconfig")
        .arg(dir.join("kubeconfig"))
        .env("HOME", dir)
        .env_remove("KUBECONFIG");
    command
}

fn run(dir: &Path, args: &[&str]) -> Output {
    let output = kubectl(dir).args(args).output().expect("kubectl runs");
    assert!(
        output.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs kubectl until its output contains `wanted`, for at most 20 s.
async fn until_output(dir: &Path, args: &[&str], wanted: &str) -> String {
    wait_for(&format!("kubectl {args:?} to show {wanted}"), async || {
        let text = stdout(&run(dir, args));
        text.contains(wanted).then_some(text)
    })
    .await
}

#[tokio::test]
async fn kubectl_gets_applies_watches_reads_logs_and_deletes() {
    let Some((fake, dir)) = fake_for_kubectl() else {
        return;
    };
    let dir = dir.path();
    std::fs::write(dir.join("trainer.yaml"), MANIFEST).expect("manifest");

    let nodes = stdout(&run(dir, &["get", "nodes"]));
    assert!(nodes.contains("STATUS"), "{nodes}");
    let node = nodes
        .lines()
        .find(|l| l.starts_with("gpu-node-1"))
        .expect("the node is listed");
    assert!(node.contains("Ready") && node.contains("v1.33.0"), "{node}");

    // Watch pods from before the Deployment exists.
    let mut watch = kubectl(dir)
        .args(["get", "pods", "-w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl get pods -w starts");
    let (lines, watched) = mpsc::channel();
    let output = watch.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(output).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let applied = stdout(&run(
        dir,
        &["apply", "-f", &dir.join("trainer.yaml").to_string_lossy()],
    ));
    assert_eq!(applied.trim(), "deployment.apps/trainer created");
    let running = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            let Ok(line) = watched.recv_timeout(left) else {
                break;
            };
            if line.starts_with("trainer-") && line.contains("Running") {
                return Ok(line);
            }
            seen.push(line);
        }
        Err(seen)
    })
    .await
    .expect("the reader");
    // The watch is ours to end.
    let _ = watch.kill();
    let _ = watch.wait();
    let _ = reader.join();
    let running = running.unwrap_or_else(|seen| panic!("no Running line in {seen:?}"));
    assert!(running.contains("1/1"), "{running}");

    let deployment = fake
        .get::<Deployment>("default", "trainer")
        .expect("stored");
    let limits = deployment
        .spec
        .and_then(|s| s.template.spec)
        .map(|s| s.containers[0].clone())
        .and_then(|c| c.resources?.limits)
        .expect("limits");
    assert_eq!(limits["nvidia.com/gpu"].0, "1");
    let pod = fake
        .list::<Pod>(Some("default"), "app=trainer")
        .pop()
        .expect("the pod");
    let pod_name = pod.metadata.name.expect("name");
    let logs = stdout(&run(dir, &["logs", &pod_name]));
    assert_eq!(logs, "hello from the fake\nsecond line\n");
    until_output(dir, &["get", "deployment", "trainer"], "1/1").await;
    let events = stdout(&run(dir, &["get", "events"]));
    assert!(
        events.contains("Scheduled") && events.contains(&format!("pod/{pod_name}")),
        "{events}"
    );

    // A service from kubectl's generator, and a job.
    run(
        dir,
        &[
            "expose",
            "deployment",
            "trainer",
            "--type=NodePort",
            "--port=8888",
        ],
    );
    let services = stdout(&run(dir, &["get", "service", "trainer"]));
    assert!(
        services.contains("NodePort") && services.contains("8888:3"),
        "{services}"
    );
    std::fs::write(dir.join("hello.yaml"), JOB).expect("manifest");
    run(
        dir,
        &["apply", "-f", &dir.join("hello.yaml").to_string_lossy()],
    );
    until_output(dir, &["get", "jobs"], "Complete").await;
    let job_logs = stdout(&run(dir, &["logs", "job/hello"]));
    assert_eq!(job_logs, "hi\n");

    let deleted = stdout(&run(dir, &["delete", "deployment", "trainer"]));
    assert_eq!(deleted.trim(), "deployment.apps \"trainer\" deleted");
    wait_for("the trainer's pods to go", async || {
        fake.list::<Pod>(Some("default"), "app=trainer")
            .is_empty()
            .then_some(())
    })
    .await;
    let gone = kubectl(dir)
        .args(["get", "deployment", "trainer"])
        .output()
        .expect("kubectl runs");
    assert!(!gone.status.success());
    assert!(String::from_utf8_lossy(&gone.stderr).contains("NotFound"));
}

/// `kubectl create namespace` sends protobuf (kubectl 1.32 does not fall
/// back to JSON after a 415): the fake decodes it. `kubectl run` sends
/// JSON. What the fake stores is what kubectl built.
#[tokio::test]
async fn kubectl_create_namespace_and_run_work() {
    let Some((fake, dir)) = fake_for_kubectl() else {
        return;
    };
    let dir = dir.path();

    let created = stdout(&run(dir, &["create", "namespace", "lab"]));
    assert_eq!(created.trim(), "namespace/lab created");
    assert!(fake.get::<Namespace>("", "lab").is_some());

    let ran = stdout(&run(
        dir,
        &["run", "web", "--image=nginx:1.27", "--namespace=lab"],
    ));
    assert_eq!(ran.trim(), "pod/web created");
    let pod = fake.get::<Pod>("lab", "web").expect("the pod");
    let spec = pod.spec.expect("a spec");
    assert_eq!(spec.containers[0].image.as_deref(), Some("nginx:1.27"));
    until_output(dir, &["get", "pod", "web", "--namespace=lab"], "Running").await;

    let requests = fake.requests();
    let posts: Vec<_> = requests.iter().filter(|r| r.method == "POST").collect();
    assert_eq!(posts.len(), 2, "{posts:?}");
    assert_eq!(posts[0].path, "/api/v1/namespaces");
    assert!(posts[0].content_type.contains("protobuf"), "{posts:?}");

    // A kind the fake does not decode is refused, not half-read.
    let job = kubectl(dir)
        .args([
            "create",
            "job",
            "hello",
            "--image=busybox",
            "--namespace=lab",
        ])
        .output()
        .expect("kubectl runs");
    assert!(!job.status.success());
    assert!(
        String::from_utf8_lossy(&job.stderr).contains("protobuf only for v1 Namespace"),
        "{}",
        String::from_utf8_lossy(&job.stderr)
    );
}
