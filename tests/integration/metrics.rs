//! GPU metrics end to end on the local driver: a container holding GPU 0
//! runs in the sandbox; a DCGM exporter (a local HTTP server answering in
//! the exporter's format) is scraped by the collector once a minute of the
//! manual clock for an hour; the Monitor tab, the GPU Utilization Rate page
//! and its CSV, the admin's sources page and `/metrics` (checked by the
//! real `promtool`) show what was measured. A second source that does not
//! answer is marked unhealthy and holds up nothing. cAdvisor's golden
//! output (tests/fixtures/cadvisor/), served with its cgroup renamed to the
//! container's and its values growing scrape by scrape, gives the CPU,
//! memory and network charts; before it, the local driver's reading of the
//! container's own processes does.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jiff::SignedDuration;
use mlstack::cluster::local::LocalGpu;
use mlstack::domain::workload::GpuRequest;
use mlstack::worker::metrics::MetricsCollector;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::common::TestApp;
use crate::containers::{activated, create, used, wait_state, web_container};
use crate::projects::{active_project, day};

const WAIT: Duration = Duration::from_secs(30);

/// DCGM exporter output for two GPUs of this host (labels as the released
/// exporter writes them, see tests/fixtures/dcgm/): GPU 0 at 34 % with
/// 3 GiB used, GPU 1 idle.
const EXPORTER: &str = "\
# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).
# TYPE DCGM_FI_DEV_GPU_UTIL gauge
DCGM_FI_DEV_GPU_UTIL{gpu=\"0\",UUID=\"GPU-test-0\",device=\"nvidia0\",modelName=\"T4\",Hostname=\"lab\"} 34
DCGM_FI_DEV_GPU_UTIL{gpu=\"1\",UUID=\"GPU-test-1\",device=\"nvidia1\",modelName=\"T4\",Hostname=\"lab\"} 0
# HELP DCGM_FI_DEV_FB_USED Framebuffer memory used (in MiB).
# TYPE DCGM_FI_DEV_FB_USED gauge
DCGM_FI_DEV_FB_USED{gpu=\"0\",UUID=\"GPU-test-0\",device=\"nvidia0\",modelName=\"T4\",Hostname=\"lab\"} 3072
DCGM_FI_DEV_FB_USED{gpu=\"1\",UUID=\"GPU-test-1\",device=\"nvidia1\",modelName=\"T4\",Hostname=\"lab\"} 0
";

/// GPU 0 quiet (1 %), GPU 1 still idle capacity.
const IDLE_EXPORTER: &str = "\
DCGM_FI_DEV_GPU_UTIL{gpu=\"0\",UUID=\"GPU-test-0\",Hostname=\"lab\"} 1
DCGM_FI_DEV_FB_USED{gpu=\"0\",UUID=\"GPU-test-0\",Hostname=\"lab\"} 3072
DCGM_FI_DEV_GPU_UTIL{gpu=\"1\",UUID=\"GPU-test-1\",Hostname=\"lab\"} 0
";

/// Serves `body` as `/metrics` to every connection; its address.
async fn exporter(body: &'static str) -> String {
    exporter_of(Arc::new(Mutex::new(body))).await
}

/// Serves what `body` holds at each connection as `/metrics`; its address.
async fn exporter_of(body: Arc<Mutex<&'static str>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let body = *body.lock().unwrap_or_else(PoisonError::into_inner);
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(body.as_bytes()).await;
            });
        }
    });
    format!("http://{address}/metrics")
}

/// cAdvisor's golden output (unchanged but for these): its container's
/// cgroup is the local workload `id`'s, and at scrape `n` its four per-CPU
/// counters read 7.5·n s each (30 CPU seconds a minute: 0.5 cores), its
/// working set 512 MiB on even scrapes and 768 MiB on odd ones, and its
/// eth0 counters 61,440·n bytes received and 122,880·n sent (1 and 2 KiB/s).
pub fn cadvisor_scrape(id: &str, n: u64) -> String {
    const FIXTURE: &str =
        include_str!("../fixtures/cadvisor/cadvisor-testdata-prometheus_metrics.txt");
    let per_cpu = 7.5 * n as f64;
    let memory = (512 + 256 * (n % 2)) * 1_048_576;
    FIXTURE
        .lines()
        .map(|line| {
            let value = if line.starts_with("container_cpu_usage_seconds_total{") {
                Some(format!("{per_cpu:e}"))
            } else if line.starts_with("container_memory_working_set_bytes{") {
                Some(memory.to_string())
            } else if line.starts_with("container_network_receive_bytes_total{") {
                Some((61_440 * n).to_string())
            } else if line.starts_with("container_network_transmit_bytes_total{") {
                Some((122_880 * n).to_string())
            } else {
                None
            };
            let line = line.replace(
                "id=\"testcontainer\"",
                &format!("id=\"/system.slice/mlstack-{id}\""),
            );
            match value {
                // `name{labels} value timestamp`: the value is the
                // second-to-last field.
                Some(value) => {
                    let mut fields: Vec<&str> = line.rsplitn(3, ' ').collect();
                    fields[1] = &value;
                    fields.reverse();
                    fields.join(" ")
                }
                None => line,
            }
        })
        .map(|line| line + "\n")
        .collect()
}

/// Serves `scrape(n)` to the n-th connection (from 0) as `/metrics`; its
/// address.
pub async fn changing_exporter(scrape: impl Fn(u64) -> String + Send + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let mut n = 0;
        while let Ok((mut socket, _)) = listener.accept().await {
            let body = scrape(n);
            n += 1;
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(body.as_bytes()).await;
            });
        }
    });
    format!("http://{address}/metrics")
}

/// The DCGM exporter's scrape of an L4 (tests/fixtures/dcgm/, from the
/// GPU operator) as it is but for its utilization and frame buffer use.
pub fn dcgm_scrape(util_pct: u32, fb_used_mib: u32) -> String {
    const FIXTURE: &str = include_str!("../fixtures/dcgm/kops-aws-l4-gpu-operator.txt");
    FIXTURE
        .lines()
        .map(|line| {
            let value = if line.starts_with("DCGM_FI_DEV_GPU_UTIL{") {
                Some(util_pct)
            } else if line.starts_with("DCGM_FI_DEV_FB_USED{") {
                Some(fb_used_mib)
            } else {
                None
            };
            match (value, line.rsplit_once(' ')) {
                (Some(value), Some((series, _))) => format!("{series} {value}\n"),
                _ => format!("{line}\n"),
            }
        })
        .collect()
}

/// Accepts connections and never answers: a source that hangs.
async fn silent() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://{address}/metrics")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gpu_metrics_reach_the_monitor_tab_the_report_and_prometheus() {
    let app = TestApp::start_configured(|config| {
        config.metrics.idle_after = Duration::from_secs(600);
        config.local.detect_gpus = false;
        config.local.gpus = (0..2)
            .map(|index| LocalGpu {
                index,
                name: "T4".into(),
                memory_mib: 15_360,
                uuid: Some(format!("GPU-test-{index}")),
                minor: None,
            })
            .collect();
    });
    let (manny, _) = app.member("manny").await;
    let (mia, _) = app.member("mia").await;
    let project = active_project(&app, &manny, "Vision", &["manny", "mia"], &day(30)).await;
    let mia_user = activated(&app, "mia").await;
    let mut spec = web_container(&project, "train");
    spec.resources.gpu = Some(GpuRequest {
        resource_name: "nvidia.com/gpu".into(),
        type_name: "T4".into(),
        node_selector: BTreeMap::new(),
        count: 1,
        units_milli: 1000,
    });
    let id = create(&app, &mia_user, spec).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let status = mia.get(&format!("/containers/{id}/status")).await;
        if status.body.contains("data-state=\"running\"") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not running: {}",
            status.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Before any scrape: the tab draws empty charts and says so.
    let before = mia.get(&format!("/containers/{id}?tab=monitor")).await;
    assert_eq!(before.status, StatusCode::OK);
    assert!(
        before.body.contains("Nothing measured in this interval"),
        "{}",
        before.body
    );

    // Without cAdvisor, the local driver reads the container's own
    // processes: memory at once, CPU from the second reading on; no
    // network (the sandbox shares the host's).
    let local_only = MetricsCollector::new(app.services(), &app.config.metrics);
    for _ in 0..2 {
        local_only.step().await.expect("stored");
        app.clock.advance(SignedDuration::from_mins(1));
    }
    let local = mia
        .get(&format!("/containers/{id}?tab=monitor&hours=1"))
        .await;
    assert_eq!(local.body.matches("<svg").count(), 6, "{}", local.body);
    assert!(local.body.contains(" MiB</title>"), "{}", local.body);
    assert!(local.body.contains(" cores</title>"), "{}", local.body);
    assert!(!local.body.contains("KiB/s</title>"), "{}", local.body);

    let serving = Arc::new(Mutex::new(EXPORTER));
    let good = exporter_of(serving.clone()).await;
    let hanging = silent().await;
    let container_id = id.to_string();
    let cadvisor = changing_exporter(move |n| cadvisor_scrape(&container_id, n)).await;
    let mut metrics = app.config.metrics.clone();
    metrics.dcgm_endpoints = vec![good.clone(), hanging.clone()];
    metrics.cadvisor_endpoints = vec![cadvisor.clone()];
    metrics.scrape_timeout = Duration::from_millis(300);
    let collector = MetricsCollector::new(app.services(), &metrics);
    // An hour of scrapes, one a minute (the clock starts on a minute).
    for _ in 0..60 {
        collector.step().await.expect("stored");
        app.clock.advance(SignedDuration::from_mins(1));
    }

    // The Monitor tab: both charts, hover values with their unit.
    let tab = mia
        .get(&format!("/containers/{id}?tab=monitor&hours=1"))
        .await;
    assert_eq!(tab.status, StatusCode::OK);
    assert_eq!(tab.body.matches("<svg").count(), 6, "{}", tab.body);
    assert!(tab.body.contains("34 %</title>"), "{}", tab.body);
    assert!(tab.body.contains("3 GiB</title>"), "{}", tab.body);
    // cAdvisor's values by hand: 30 CPU seconds a minute = 0.5 cores;
    // 512 and 768 MiB in turn; 61,440 and 122,880 bytes a minute = 1 and
    // 2 KiB/s.
    for value in [
        "0.5 cores</title>",
        "512 MiB</title>",
        "768 MiB</title>",
        "1 KiB/s</title>",
        "2 KiB/s</title>",
    ] {
        assert!(tab.body.contains(value), "{value}: {}", tab.body);
    }
    assert!(!tab.body.contains("Nothing measured"), "{}", tab.body);
    // An interval past the slider's range is named, not a failure.
    let wide = mia
        .get(&format!("/containers/{id}?tab=monitor&hours=99"))
        .await;
    assert_eq!(wide.status, StatusCode::OK);
    assert!(
        wide.body.contains("The interval is 1 to 24 hours"),
        "{}",
        wide.body
    );
    let junk = mia
        .get(&format!("/containers/{id}?tab=monitor&hours=%00x"))
        .await;
    assert_eq!(junk.status, StatusCode::OK);

    // The report by hand: 60 minutes at 34 % on one GPU = 1.0 container
    // hours, 0.34 GPU hours (shown 0.3), 34.0 %.
    mia.post_form("/projects/select", &[("project", project.as_str())])
        .await;
    let report = mia.get("/gpu-utilization?days=1").await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    assert!(report.body.contains(">train</a>"), "{}", report.body);
    assert!(
        report.body.contains(">1.0<") && report.body.contains(">0.3<"),
        "{}",
        report.body
    );
    assert!(report.body.contains(">34.0%<"), "{}", report.body);
    assert!(report.body.contains(">mia<"), "{}", report.body);
    let csv = mia.get("/gpu-utilization?days=1&format=csv").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.body.ends_with("train,mia,1.0,0.3,34.0,no\r\n"),
        "{}",
        csv.body
    );
    let bad = mia.get("/gpu-utilization?days=5").await;
    assert_eq!(bad.status, StatusCode::OK);
    assert!(
        bad.body.contains("Choose one of the listed periods"),
        "{}",
        bad.body
    );

    // The admin sees both sources: the hanging one unhealthy, with why.
    let admin = app.admin().await;
    let sources = admin.get("/admin/metrics-sources").await;
    assert_eq!(sources.status, StatusCode::OK);
    assert!(sources.body.contains(&good) && sources.body.contains(&hanging));
    assert!(sources.body.contains(&cadvisor), "{}", sources.body);
    assert!(sources.body.contains("Healthy") && sources.body.contains("Unhealthy"));
    assert!(
        sources.body.contains("no answer within"),
        "{}",
        sources.body
    );
    // GPU 0 goes quiet: after `idle_after` (10 minutes here) of measured
    // minutes below 5 %, the report flags it and mia gets one mail.
    *serving.lock().unwrap_or_else(PoisonError::into_inner) = IDLE_EXPORTER;
    for _ in 0..12 {
        collector.step().await.expect("stored");
        app.clock.advance(SignedDuration::from_mins(1));
    }
    let flagged = mia.get("/gpu-utilization?days=1").await;
    assert!(flagged.body.contains("badge amber"), "{}", flagged.body);
    let mails: Vec<_> = app
        .services()
        .outbox_page(1, usize::MAX)
        .await
        .map(|page| page.mails)
        .expect("outbox")
        .into_iter()
        .filter(|m| m.subject.contains("GPUs of train are idle"))
        .collect();
    assert_eq!(mails.len(), 1, "one mail per idle spell: {mails:?}");
    assert_eq!(mails[0].to_user, mia_user.id);

    let member_view = mia.get("/admin/metrics-sources").await;
    assert_eq!(member_view.status, StatusCode::FORBIDDEN);

    // /metrics: admins only (no token configured), valid for promtool.
    let exposition = admin.get("/metrics").await;
    assert_eq!(exposition.status, StatusCode::OK);
    assert!(
        exposition
            .body
            .contains("mlstack_workloads{kind=\"container\",status=\"running\"} 1"),
        "{}",
        exposition.body
    );
    assert!(exposition.body.contains(&format!(
        "mlstack_metrics_source_up{{source=\"{hanging}\"}} 0"
    )));
    assert!(exposition.body.contains(&format!(
        "mlstack_metrics_source_idle_gpus{{source=\"{good}\"}} 1"
    )));
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus)");
    promtool
        .stdin
        .take()
        .expect("stdin")
        .write_all(exposition.body.as_bytes())
        .expect("written");
    let checked = promtool.wait_with_output().expect("promtool ran");
    assert!(
        checked.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    assert_ne!(mia.get("/metrics").await.status, StatusCode::OK);
}

/// A port free a moment ago (Prometheus needs one named on its command line).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A real Prometheus (Debian's `prometheus`) scrapes the served exporter and
/// mlstack's own /metrics (with the configured bearer token); mlstack asks
/// it through its query API and maps what it answers to the running
/// container.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_mlstack_and_the_exporter_and_is_queried() {
    const TOKEN: &str = "scraper-token-0123456789abcdef";
    let app = TestApp::start_configured(|config| {
        config.local.detect_gpus = false;
        config.local.gpus = vec![LocalGpu {
            index: 0,
            name: "T4".into(),
            memory_mib: 15_360,
            uuid: Some("GPU-test-0".into()),
            minor: None,
        }];
        config.metrics.scrape_token = Some(TOKEN.into());
    });
    let (manny, _) = app.member("manny").await;
    let (mia, _) = app.member("mia").await;
    let project = active_project(&app, &manny, "Vision", &["manny", "mia"], &day(30)).await;
    let mia_user = activated(&app, "mia").await;
    let mut spec = web_container(&project, "train");
    spec.resources.gpu = Some(GpuRequest {
        resource_name: "nvidia.com/gpu".into(),
        type_name: "T4".into(),
        node_selector: BTreeMap::new(),
        count: 1,
        units_milli: 1000,
    });
    let id = create(&app, &mia_user, spec).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !mia
        .get(&format!("/containers/{id}/status"))
        .await
        .body
        .contains("data-state=\"running\"")
    {
        assert!(tokio::time::Instant::now() < deadline, "not running");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let exporter_url = exporter(EXPORTER).await;
    let exporter_target = exporter_url
        .trim_start_matches("http://")
        .trim_end_matches("/metrics")
        .to_owned();
    let mlstack_target = app
        .url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let dir = tempfile::tempdir().expect("dir");
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: dcgm\n    static_configs:\n      - targets: ['{exporter_target}']\n  - job_name: mlstack\n    authorization:\n      credentials: {TOKEN}\n    static_configs:\n      - targets: ['{mlstack_target}']\n"
    );
    std::fs::write(dir.path().join("prometheus.yml"), config).expect("config");
    let port = free_port();
    let mut server = Command::new("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.path().join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus (Debian package prometheus)");
    let base = format!("http://127.0.0.1:{port}");

    // Wait until Prometheus has scraped both targets successfully.
    crate::common::install_crypto();
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let up = loop {
        let answer = http
            .get(format!("{base}/api/v1/query?query=up"))
            .send()
            .await
            .ok();
        let text = match answer {
            Some(a) => a.text().await.unwrap_or_default(),
            None => String::new(),
        };
        let both = text.contains("\"job\":\"mlstack\"")
            && text.contains("\"job\":\"dcgm\"")
            && !text.contains("\"0\"]");
        if both {
            break text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "prometheus never scraped both: {text}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let _ = server.kill();
    let _ = server.wait();
    assert!(up.contains("\"1\"]"), "{up}");

    let mut metrics = app.config.metrics.clone();
    metrics.prometheus_url = Some(base.clone());
    // Prometheus was stopped: first the failure is named, then with a
    // server again the readings arrive.
    let collector = MetricsCollector::new(app.services(), &metrics);
    collector.step().await.expect("stored");
    let admin = app.admin().await;
    let sources = admin.get("/admin/metrics-sources").await;
    assert!(
        sources.body.contains(&base) && sources.body.contains("Unhealthy"),
        "{}",
        sources.body
    );

    let mut server = Command::new("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.path().join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus again");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        collector.step().await.expect("stored");
        let status = app.services().metrics_sources().all();
        if status
            .iter()
            .any(|s| s.healthy && s.report.mapped_gpus == 1)
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no readings via Prometheus: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let _ = server.kill();
    let _ = server.wait();
    let tab = mia
        .get(&format!("/containers/{id}?tab=monitor&hours=1"))
        .await;
    assert!(tab.body.contains("34 %</title>"), "{}", tab.body);
}

/// An admin's automatic stop: off by default; bad hours are refused naming
/// 1 to 168 and change nothing; set to one hour, a GPU container whose
/// GPU (the served L4 fixture, busy for half an hour, then at 2 %) stays
/// below the threshold for a measured hour is stopped through the normal
/// path — its quota given back, an `IdleStopped` event, one mail to its
/// owner —, and not before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_container_is_stopped_by_its_projects_automatic_stop() {
    let app = TestApp::start_configured(|config| {
        config.local.detect_gpus = false;
        config.local.gpus = vec![LocalGpu {
            index: 0,
            name: "T4".into(),
            memory_mib: 23_034,
            uuid: Some("GPU-c2f76b33-7953-256e-8f33-1343419b1a1c".into()),
            minor: None,
        }];
    });
    let (manny, _) = app.member("manny").await;
    let (mia, _) = app.member("mia").await;
    let project = active_project(&app, &manny, "Vision", &["manny", "mia"], &day(30)).await;
    let mia_user = activated(&app, "mia").await;
    let mut spec = web_container(&project, "train");
    spec.resources.gpu = Some(GpuRequest {
        resource_name: "nvidia.com/gpu".into(),
        type_name: "T4".into(),
        node_selector: BTreeMap::new(),
        count: 1,
        units_milli: 1000,
    });
    let id = create(&app, &mia_user, spec).await;
    wait_state(&mia, &id, "running").await;

    // The admin's setting: off at first; refused values name the limits.
    let admin = app.admin().await;
    let page = admin.get("/admin/projects").await;
    assert!(page.body.contains("Automatic stop of idle containers"));
    assert!(page.body.contains("<dd>Off</dd>"), "{}", page.body);
    let action = format!("/admin/projects/{project}/auto-stop");
    for bad in ["0", "169", "1.5", "soon"] {
        let refused = admin.post_form(&action, &[("auto_stop_hours", bad)]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(
            refused.body.contains("Enter whole hours from 1 to 168"),
            "{}",
            refused.body
        );
        assert!(
            refused.body.contains(&format!("value=\"{bad}\"")),
            "typed value kept"
        );
    }
    assert!(
        admin
            .get("/admin/projects")
            .await
            .body
            .contains("<dd>Off</dd>")
    );
    let forbidden = mia.post_form(&action, &[("auto_stop_hours", "1")]).await;
    assert!(forbidden.status.is_client_error(), "{}", forbidden.status);
    let saved = admin.post_form(&action, &[("auto_stop_hours", "1")]).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let page = admin.get("/admin/projects?done=auto-stop").await;
    assert!(
        page.body.contains("After 1 h of idle GPUs"),
        "{}",
        page.body
    );
    assert!(page.body.contains("was saved"), "{}", page.body);

    let busy = Arc::new(Mutex::new(true));
    let serving = busy.clone();
    let exporter = changing_exporter(move |_| {
        let busy = *serving.lock().unwrap_or_else(PoisonError::into_inner);
        dcgm_scrape(if busy { 80 } else { 2 }, 4096)
    })
    .await;
    let mut metrics = app.config.metrics.clone();
    metrics.dcgm_endpoints = vec![exporter];
    let collector = MetricsCollector::new(app.services(), &metrics);
    let minutes = |n: usize| {
        let collector = collector.clone();
        let clock = app.clock.clone();
        async move {
            for _ in 0..n {
                collector.step().await.expect("stored");
                clock.advance(SignedDuration::from_mins(1));
            }
        }
    };
    minutes(30).await;
    *busy.lock().unwrap_or_else(PoisonError::into_inner) = false;
    // 50 quiet minutes: less than nine tenths of the hour measured quiet
    // (the busy half hour is still in the window): not stopped.
    minutes(50).await;
    let vision = format!("/projects/{project}");
    assert_eq!(used(&manny.get(&vision).await.body, "CPU cores"), "1");
    assert_eq!(
        app.services()
            .workload(&mia_user, id.parse().expect("id"))
            .await
            .expect("record")
            .desired,
        mlstack::store::workloads::Desired::Running
    );
    // Past an hour of quiet minutes it is stopped, once.
    minutes(12).await;
    assert_eq!(used(&manny.get(&vision).await.body, "CPU cores"), "0");
    wait_state(&mia, &id, "stopped").await;
    let events = mia.get(&format!("/containers/{id}?tab=events")).await;
    assert!(
        events.body.contains("Stopped: GPUs idle"),
        "{}",
        events.body
    );
    let mails: Vec<_> = app
        .services()
        .outbox_page(1, usize::MAX)
        .await
        .map(|page| page.mails)
        .expect("outbox")
        .into_iter()
        .filter(|m| m.subject.contains("train was stopped: its GPUs were idle"))
        .collect();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].to_user, mia_user.id);
    assert!(
        mails[0].body.contains("below 5% utilization for 1 hours"),
        "{}",
        mails[0].body
    );
    minutes(2).await;
    let again = app
        .services()
        .outbox_page(1, usize::MAX)
        .await
        .map(|page| page.mails)
        .expect("outbox");
    assert_eq!(
        again
            .iter()
            .filter(|m| m.subject.contains("was stopped"))
            .count(),
        1,
        "a stopped container is not stopped again"
    );
    // Off again: the field left empty.
    let off = admin.post_form(&action, &[("auto_stop_hours", "")]).await;
    assert_eq!(off.status, StatusCode::SEE_OTHER);
    assert!(
        admin
            .get("/admin/projects")
            .await
            .body
            .contains("<dd>Off</dd>")
    );
}

/// The answers of a Prometheus server to mlstack's container queries, from
/// tests/fixtures/prometheus/cadvisor-query-vectors-constructed.json (built
/// from cAdvisor's golden output): its container's cgroup is the local
/// workload `id`'s, each of its four CPUs busy 0.125 s a second, 512 MiB
/// working set, 1 KiB/s received and 2 KiB/s sent; `memory` stands in for
/// the working set's value when given. The GPU queries get empty vectors.
fn prometheus_answer(query: &str, id: &str, memory: &str) -> String {
    const ANSWERS: &str =
        include_str!("../fixtures/prometheus/cadvisor-query-vectors-constructed.json");
    let empty = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
    let all: serde_json::Value = serde_json::from_str(&ANSWERS.replace(
        "\"testcontainer\"",
        &format!("\"/system.slice/mlstack-{id}\""),
    ))
    .expect("JSON");
    let metrics = [
        ("container_cpu_usage_seconds_total", "0.125"),
        ("container_memory_working_set_bytes", memory),
        ("container_network_receive_bytes_total", "1024"),
        ("container_network_transmit_bytes_total", "2048"),
    ];
    let Some((metric, value)) = metrics.iter().find(|(m, _)| query.contains(m)) else {
        return empty.to_owned();
    };
    let mut answer = all[*metric].clone();
    if let Some(result) = answer["data"]["result"].as_array_mut() {
        for series in result {
            series["value"][1] = serde_json::Value::String((*value).to_owned());
        }
    }
    answer.to_string()
}

/// Serves the query API: `answer(query)` for each `/api/v1/query`; its
/// base address.
async fn fake_prometheus(answer: impl Fn(&str) -> String + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut request = vec![0u8; 16 * 1024];
                let n = socket.read(&mut request).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&request[..n]);
                let target = head.split(' ').nth(1).unwrap_or("");
                let query: BTreeMap<String, String> =
                    serde_urlencoded::from_str(target.split_once('?').map_or("", |(_, q)| q))
                        .unwrap_or_default();
                let body = answer(query.get("query").map_or("", String::as_str));
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(body.as_bytes()).await;
            });
        }
    });
    format!("http://{address}")
}

/// A container of the local driver measured by a Prometheus server that
/// scrapes cAdvisor: its CPU, memory and network charts show the server's
/// rates (not the local driver's own reading of its processes); a bad value
/// and a failed query mark the source unhealthy with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_series_come_from_prometheus() {
    let app = TestApp::start();
    let (manny, _) = app.member("manny").await;
    let (mia, _) = app.member("mia").await;
    let project = active_project(&app, &manny, "Vision", &["manny", "mia"], &day(30)).await;
    let mia_user = activated(&app, "mia").await;
    let id = create(&app, &mia_user, web_container(&project, "train")).await;
    wait_state(&mia, &id, "running").await;

    let memory = Arc::new(Mutex::new("536870912"));
    let failing = Arc::new(Mutex::new(false));
    let (serving_id, serving_memory, serving_failure) =
        (id.clone(), memory.clone(), failing.clone());
    let base = fake_prometheus(move |query| {
        if *serving_failure.lock().unwrap_or_else(PoisonError::into_inner)
            && query.contains("transmit")
        {
            return r#"{"status":"error","errorType":"execution","error":"query timed out in expression evaluation"}"#.to_owned();
        }
        let memory = *serving_memory.lock().unwrap_or_else(PoisonError::into_inner);
        prometheus_answer(query, &serving_id, memory)
    })
    .await;
    let mut metrics = app.config.metrics.clone();
    metrics.prometheus_url = Some(base.clone());
    let collector = MetricsCollector::new(app.services(), &metrics);
    for _ in 0..3 {
        collector.step().await.expect("stored");
        app.clock.advance(SignedDuration::from_mins(1));
    }
    let tab = mia
        .get(&format!("/containers/{id}?tab=monitor&hours=1"))
        .await;
    assert_eq!(tab.status, StatusCode::OK);
    // By hand: 4 × 0.125 = 0.5 cores; 536,870,912 bytes = 512 MiB;
    // 1,024 and 2,048 bytes a second.
    for value in [
        "0.5 cores</title>",
        "512 MiB</title>",
        "1 KiB/s</title>",
        "2 KiB/s</title>",
    ] {
        assert!(tab.body.contains(value), "{value}: {}", tab.body);
    }
    let admin = app.admin().await;
    let sources = admin.get("/admin/metrics-sources").await;
    assert!(
        sources.body.contains(&base) && sources.body.contains("Healthy"),
        "{}",
        sources.body
    );
    assert!(!sources.body.contains("Unhealthy"), "{}", sources.body);

    *memory.lock().unwrap_or_else(PoisonError::into_inner) = "NaN";
    collector.step().await.expect("stored");
    let sources = admin.get("/admin/metrics-sources").await;
    assert!(sources.body.contains("Unhealthy"), "{}", sources.body);
    assert!(
        sources.body.contains("container_memory_working_set_bytes")
            && sources.body.contains("not a valid value"),
        "{}",
        sources.body
    );

    *failing.lock().unwrap_or_else(PoisonError::into_inner) = true;
    app.clock.advance(SignedDuration::from_mins(1));
    collector.step().await.expect("stored");
    let sources = admin.get("/admin/metrics-sources").await;
    assert!(
        sources
            .body
            .contains("query timed out in expression evaluation"),
        "{}",
        sources.body
    );
}

/// cAdvisor's golden output for the four container metrics (their HELP,
/// TYPE and sample lines, the sample times left out so that Prometheus
/// stamps its scrapes): the container's cgroup is the local workload
/// `id`'s, each CPU counter `0.125 × seconds` (0.5 cores in all), the
/// network counters 1,024 and 2,048 bytes a second, 512 MiB working set.
fn cadvisor_counting(id: &str, seconds: f64) -> String {
    const FIXTURE: &str =
        include_str!("../fixtures/cadvisor/cadvisor-testdata-prometheus_metrics.txt");
    let metrics = [
        ("container_cpu_usage_seconds_total", 0.125 * seconds),
        ("container_memory_working_set_bytes", 536_870_912.0),
        ("container_network_receive_bytes_total", 1024.0 * seconds),
        ("container_network_transmit_bytes_total", 2048.0 * seconds),
    ];
    FIXTURE
        .lines()
        .filter_map(|line| {
            let (metric, value) = metrics.iter().find(|(m, _)| line.contains(m))?;
            if line.starts_with('#') {
                return Some(format!("{line}\n"));
            }
            let series = line.strip_prefix(metric)?.rsplitn(3, ' ').nth(2)?;
            let series = series.replace(
                "id=\"testcontainer\"",
                &format!("id=\"/system.slice/mlstack-{id}\""),
            );
            Some(format!("{metric}{series} {value}\n"))
        })
        .collect()
}

/// A real Prometheus (Debian's `prometheus`) scrapes cAdvisor's golden
/// output, its counters growing with the real time and then reset (the
/// container restarted); mlstack asks it for the container's series once a
/// minute of the manual clock. The rates are the counters' real growth —
/// and across the reset never negative nor more than it (Prometheus counts
/// a counter that went down from zero).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_gives_container_rates_across_a_counter_reset() {
    let app = TestApp::start();
    let (manny, _) = app.member("manny").await;
    let (mia, _) = app.member("mia").await;
    let project = active_project(&app, &manny, "Vision", &["manny", "mia"], &day(30)).await;
    let mia_user = activated(&app, "mia").await;
    let id = create(&app, &mia_user, web_container(&project, "train")).await;
    wait_state(&mia, &id, "running").await;

    let counting_since = Arc::new(Mutex::new(std::time::Instant::now()));
    let since = counting_since.clone();
    let container_id = id.clone();
    let cadvisor = changing_exporter(move |_| {
        let since = *since.lock().unwrap_or_else(PoisonError::into_inner);
        cadvisor_counting(&container_id, since.elapsed().as_secs_f64())
    })
    .await;
    let target = cadvisor
        .trim_start_matches("http://")
        .trim_end_matches("/metrics")
        .to_owned();
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: cadvisor\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .expect("config");
    let port = free_port();
    let mut server = Command::new("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.path().join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus (Debian package prometheus)");
    let base = format!("http://127.0.0.1:{port}");
    // Until Prometheus holds two scrapes of the container's counters.
    crate::common::install_crypto();
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let answer = http
            .get(format!(
                "{base}/api/v1/query?{}",
                serde_urlencoded::to_string([(
                    "query",
                    "irate(container_cpu_usage_seconds_total[5m])"
                )])
                .expect("encoded")
            ))
            .send()
            .await
            .ok();
        let text = match answer {
            Some(a) => a.text().await.unwrap_or_default(),
            None => String::new(),
        };
        if text.contains(&id) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "prometheus never had two scrapes: {text}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mut metrics = app.config.metrics.clone();
    metrics.prometheus_url = Some(base.clone());
    let collector = MetricsCollector::new(app.services(), &metrics);
    let workload = id.parse().expect("id");
    // One step a second of real time (Prometheus scrapes each second) and
    // a minute of the manual clock: each step its own minute.
    let cpu_by_minute = |columns: mlstack::service::metrics::MonitorColumns| {
        columns
            .cpu_cores
            .into_iter()
            .flatten()
            .collect::<Vec<f64>>()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let before = loop {
        collector.step().await.expect("stored");
        app.clock.advance(SignedDuration::from_mins(1));
        let cpu = cpu_by_minute(
            app.services()
                .monitor_columns(workload, 1)
                .await
                .expect("columns"),
        );
        if cpu.len() >= 3 {
            break cpu;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no rates from Prometheus: {:?}",
            app.services().metrics_sources().all()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    for cpu in &before {
        assert!((0.45..=0.55).contains(cpu), "0.5 cores: {before:?}");
    }
    // The container restarts: its counters start again from zero.
    *counting_since
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = std::time::Instant::now();
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        collector.step().await.expect("stored");
        app.clock.advance(SignedDuration::from_mins(1));
    }
    let _ = server.kill();
    let _ = server.wait();
    let columns = app
        .services()
        .monitor_columns(workload, 1)
        .await
        .expect("columns");
    let rx: Vec<f64> = columns.rx_bytes_per_s.iter().flatten().copied().collect();
    let cpu = cpu_by_minute(columns);
    assert!(cpu.len() >= before.len() + 3, "{cpu:?}");
    for value in &cpu {
        assert!(
            (0.0..=0.55).contains(value),
            "never negative nor more: {cpu:?}"
        );
    }
    let last = cpu.last().copied().unwrap_or_default();
    assert!((0.45..=0.55).contains(&last), "0.5 cores again: {cpu:?}");
    assert!(
        rx.iter().all(|v| (0.0..=1024.0 * 1.1).contains(v)),
        "{rx:?}"
    );
    let sources = app.services().metrics_sources().all();
    assert!(sources.iter().all(|s| s.healthy), "{sources:?}");
}
