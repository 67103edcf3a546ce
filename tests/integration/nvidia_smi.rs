//! The local driver's GPUs measured through nvidia-smi, without DCGM: a
//! stand-in `nvidia-smi` (tests/support/nvidia-smi, a real process)
//! answering with output recorded on a host with three Quadro RTX 8000
//! (tests/fixtures/nvidia-smi/) is put first on PATH. The test runs itself
//! again as a process whose PATH has it (the test binary forbids changing
//! its own environment), so the appliance finds it where it finds the real
//! one: the local driver's inventory comes from it, which turns the
//! sampling on (`[metrics] nvidia_smi = "auto"`); two containers holding
//! GPUs 0 and 1 get each its own GPU's utilization and memory on their
//! Monitor tab and on the GPU Utilization Rate page. Then nvidia-smi
//! answers garbage, hangs, and is gone: each time its row on the admin's
//! Metrics Sources page says why, and the collector's step still ends.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use jiff::SignedDuration;
use mlstack::domain::workload::GpuRequest;
use mlstack::worker::metrics::MetricsCollector;
use reqwest::StatusCode;

use crate::common::TestApp;
use crate::containers::{activated, create, wait_state, web_container};
use crate::projects::{active_project, day};

/// Where the stand-in reads its answers (set only in the second run).
const FAKE_DIR: &str = "MLSTACK_FAKE_NVIDIA_SMI_DIR";

const RECORDED: &str = include_str!("../fixtures/nvidia-smi/query-gpu.csv");
const INVENTORY: &str = include_str!("../fixtures/nvidia-smi/inventory.csv");

/// The recorded output with each GPU's utilization set (the recording's
/// GPUs were idle); everything else as recorded.
fn recorded_with_utilization(util: [u32; 3]) -> String {
    RECORDED
        .lines()
        .zip(util)
        .map(|(line, util)| {
            let mut fields: Vec<String> = line.split(", ").map(str::to_owned).collect();
            fields[2] = util.to_string();
            fields.join(", ") + "\n"
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_gpus_are_measured_through_nvidia_smi() {
    if let Ok(dir) = std::env::var(FAKE_DIR) {
        return measured(Path::new(&dir)).await;
    }
    let dir = tempfile::tempdir().expect("dir");
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).expect("bin");
    let fake = bin.join("nvidia-smi");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/nvidia-smi"),
        &fake,
    )
    .expect("the stand-in");
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("mode");
    std::fs::write(dir.path().join("inventory.csv"), INVENTORY).expect("inventory");
    std::fs::write(dir.path().join("query-gpu.csv"), RECORDED).expect("recording");
    let path = match std::env::var_os("PATH") {
        Some(path) => {
            let mut all = vec![bin.clone()];
            all.extend(std::env::split_paths(&path));
            std::env::join_paths(all).expect("PATH")
        }
        None => bin.clone().into_os_string(),
    };
    let out = Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "nvidia_smi::local_gpus_are_measured_through_nvidia_smi",
            "--exact",
            "--nocapture",
        ])
        .env("PATH", path)
        .env(FAKE_DIR, dir.path())
        .output()
        .expect("runs");
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "the run with nvidia-smi failed:\n{output}"
    );
    // The copy really ran the test (a filter that matched nothing passes).
    assert!(output.contains("1 passed"), "{output}");
}

/// The test itself, with the stand-in first on PATH answering from `dir`.
async fn measured(dir: &Path) {
    let app = TestApp::start_configured(|config| {
        config.local.detect_gpus = true;
        config.metrics.scrape_timeout = Duration::from_secs(2);
    });
    let (manny, _) = app.member("manny").await;
    let (mia, _) = app.member("mia").await;
    let project = active_project(&app, &manny, "Vision", &["manny", "mia"], &day(30)).await;
    let mia_user = activated(&app, "mia").await;
    let mut ids = Vec::new();
    for name in ["train", "eval"] {
        let mut spec = web_container(&project, name);
        spec.resources.gpu = Some(GpuRequest {
            resource_name: "nvidia.com/gpu".into(),
            // The recorded host's GPUs, as its nvidia-smi names them.
            type_name: "Quadro RTX 8000".into(),
            node_selector: BTreeMap::new(),
            count: 1,
            units_milli: 1000,
        });
        let id = create(&app, &mia_user, spec).await;
        wait_state(&mia, &id, "running").await;
        ids.push(id);
    }
    let (train, eval) = (&ids[0], &ids[1]);
    let holds = |id: &str| {
        let services = app.services();
        let user = mia_user.clone();
        let id = id.parse().expect("id");
        async move {
            services
                .workload(&user, id)
                .await
                .expect("record")
                .observed
                .map(|o| o.gpus)
                .unwrap_or_default()
        }
    };
    assert_eq!(holds(train).await, vec![0]);
    assert_eq!(holds(eval).await, vec![1]);

    // GPU 0 at 34 %, GPU 1 at 80 %, GPU 2 (held by no one) idle; memory as
    // recorded: 1, 48,353 and 48,373 MiB.
    std::fs::write(
        dir.join("query-gpu.csv"),
        recorded_with_utilization([34, 80, 0]),
    )
    .expect("written");
    let collector = MetricsCollector::new(app.services(), &app.config.metrics);
    for _ in 0..60 {
        collector.step().await.expect("stored");
        app.clock.advance(SignedDuration::from_mins(1));
    }

    let tab = |id: &str| format!("/containers/{id}?tab=monitor&hours=1");
    let train_tab = mia.get(&tab(train)).await;
    assert_eq!(train_tab.status, StatusCode::OK);
    assert!(
        train_tab.body.contains("34 %</title>"),
        "{}",
        train_tab.body
    );
    assert!(
        !train_tab.body.contains("80 %</title>"),
        "{}",
        train_tab.body
    );
    let eval_tab = mia.get(&tab(eval)).await;
    assert!(eval_tab.body.contains("80 %</title>"), "{}", eval_tab.body);
    // 48,353 MiB = 47.2 GiB.
    assert!(
        eval_tab.body.contains("47.2 GiB</title>"),
        "{}",
        eval_tab.body
    );

    // The report by hand: an hour each, one GPU each: 0.34 GPU hours
    // (shown 0.3) at 34.0 %, 0.8 at 80.0 %.
    mia.post_form("/projects/select", &[("project", project.as_str())])
        .await;
    let csv = mia.get("/gpu-utilization?days=1&format=csv").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.body.contains("train,mia,1.0,0.3,34.0,no\r\n")
            && csv.body.contains("eval,mia,1.0,0.8,80.0,no\r\n"),
        "{}",
        csv.body
    );
    let report = mia.get("/gpu-utilization?days=1").await;
    assert!(
        report.body.contains(">34.0%<") && report.body.contains(">80.0%<"),
        "{}",
        report.body
    );

    let admin = app.admin().await;
    let source_row = |page: &str| -> String {
        let at = page.find("nvidia-smi").expect("nvidia-smi's row");
        page[at..].chars().take(1500).collect()
    };
    let sources = admin.get("/admin/metrics-sources").await;
    assert!(
        source_row(&sources.body).contains("Healthy"),
        "{}",
        sources.body
    );

    // Garbage: unhealthy, with what was wrong.
    std::fs::write(
        dir.join("query-gpu.csv"),
        "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n",
    )
    .expect("written");
    collector.step().await.expect("stored");
    let sources = admin.get("/admin/metrics-sources").await;
    let row = source_row(&sources.body);
    assert!(row.contains("Unhealthy"), "{row}");
    assert!(row.contains("not the 5 asked for"), "{row}");

    // Hanging: killed after the scrape timeout; the step ends.
    std::fs::write(dir.join("hang"), "").expect("written");
    app.clock.advance(SignedDuration::from_mins(1));
    collector.step().await.expect("stored");
    let row = source_row(&admin.get("/admin/metrics-sources").await.body);
    assert!(row.contains("no answer within 2s"), "{row}");

    // Gone (the driver uninstalled): named.
    std::fs::remove_file(dir.join("hang")).expect("removed");
    let program: PathBuf = dir.join("bin/nvidia-smi");
    std::fs::remove_file(&program).expect("removed");
    app.clock.advance(SignedDuration::from_mins(1));
    collector.step().await.expect("stored");
    let row = source_row(&admin.get("/admin/metrics-sources").await.body);
    assert!(row.contains("nvidia-smi was not found"), "{row}");

    // The measured hour is unchanged by the bad scrapes.
    let csv = mia.get("/gpu-utilization?days=1&format=csv").await;
    assert!(
        csv.body.contains("eval,mia,1.0,0.8,80.0,no\r\n"),
        "{}",
        csv.body
    );
}
