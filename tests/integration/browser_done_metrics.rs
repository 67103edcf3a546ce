//! Issue 12's "Done when" as a browser journey on the local driver (a real
//! sandboxed container holding GPU 0): fixture exporters serve changing
//! values — the DCGM exporter's L4 scrape (tests/fixtures/dcgm/) busy at
//! 60 % and 20 % in turn for an hour, then quiet at 2 %, and cAdvisor's
//! golden output (tests/fixtures/cadvisor/) with the container's cgroup and
//! growing counters — scraped once a minute of the manual clock. The
//! member sees the Monitor tab's charts follow new scrapes without a
//! reload, in English and in Traditional Chinese; the project's GPU
//! Utilization Rate table reads the hand-computed figures with the
//! container flagged idle; and the cost center's total is hours × prices.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jiff::SignedDuration;
use serde_json::json;

use mlstack::cluster::local::LocalGpu;
use mlstack::domain::catalog::{GpuTypeRequest, HardwareSpecRequest};
use mlstack::domain::workload::GpuRequest;
use mlstack::worker::metrics::MetricsCollector;

use crate::common::TestApp;
use crate::common::browser::Browser;
use crate::containers::{activated, create, wait_state, web_container};
use crate::metrics::{cadvisor_scrape, changing_exporter, dcgm_scrape};
use crate::projects::{active_project, day};

/// Longer than the Monitor tab's refresh (15 s) with room for a slow
/// machine.
const LIVE_WAIT: Duration = Duration::from_secs(60);

/// Waits until `script` holds in the page, which must be the same document
/// (the mark set before is still there: no reload).
async fn wait_live(b: &Browser, what: &str, script: &str) {
    let started = tokio::time::Instant::now();
    loop {
        let holds = b
            .execute(
                &format!("return window.__mlstackOldPage === true && ({script});"),
                vec![],
            )
            .await;
        if holds == json!(true) {
            return;
        }
        if started.elapsed() > LIVE_WAIT {
            b.fail(&format!("waited {LIVE_WAIT:?} for {what}")).await;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The charts' markup.
async fn charts(b: &Browser) -> String {
    b.execute(
        "return document.getElementById('monitor-charts').innerHTML;",
        vec![],
    )
    .await
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_sees_live_charts_the_utilization_and_the_cost_of_a_gpu_container() {
    let app = TestApp::start_configured(|config| {
        config.metrics.idle_after = Duration::from_secs(600);
        config.local.detect_gpus = false;
        config.local.gpus = vec![LocalGpu {
            index: 0,
            name: "T4".into(),
            memory_mib: 23_034,
            uuid: Some("GPU-c2f76b33-7953-256e-8f33-1343419b1a1c".into()),
            minor: None,
        }];
    });
    let services = app.services();
    // Prices: the T4 at TWD 10 a GPU-hour, the 1-core 2 GB T4 spec at 2.50.
    let t4 = services
        .create_gpu_type(&GpuTypeRequest {
            name: "T4".into(),
            resource_name: "nvidia.com/gpu".into(),
            sharing: "whole".into(),
            memory_gb: "16".into(),
            allowed_counts: "1".into(),
            price: "10".into(),
            ..GpuTypeRequest::default()
        })
        .await
        .expect("a GPU type");
    services
        .create_hardware_spec(&HardwareSpecRequest {
            name: "g1.t4".into(),
            cpu_cores: "1".into(),
            ram_gb: "2".into(),
            gpu_type: t4.id.to_string(),
            price: "2.5".into(),
        })
        .await
        .expect("a spec");
    let (manny, _) = app.member("manny").await;
    let (_, mia_password) = app.member("mia").await;
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
    wait_state(&manny, &id, "running").await;

    // The exporters: the GPU busy (60 % and 20 % in turn) until `quiet`.
    let quiet = Arc::new(Mutex::new(false));
    let serving = quiet.clone();
    let dcgm = changing_exporter(move |n| {
        let quiet = *serving.lock().unwrap_or_else(PoisonError::into_inner);
        let util = match (quiet, n % 2) {
            (true, _) => 2,
            (false, 0) => 60,
            (false, _) => 20,
        };
        dcgm_scrape(util, 4096)
    })
    .await;
    let container_id = id.clone();
    let cadvisor = changing_exporter(move |n| cadvisor_scrape(&container_id, n)).await;
    let mut metrics = app.config.metrics.clone();
    metrics.dcgm_endpoints = vec![dcgm];
    metrics.cadvisor_endpoints = vec![cadvisor];
    let collector = MetricsCollector::new(services.clone(), &metrics);
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
    minutes(60).await;

    // English: the tab's six charts with the measured values.
    let b = Browser::start(&app.url).await;
    b.log_in("mia", &mia_password).await;
    b.goto(&format!("/containers/{id}?tab=monitor&hours=1"))
        .await;
    let drawn = charts(&b).await;
    assert_eq!(drawn.matches("<svg").count(), 6, "{drawn}");
    for value in [
        "60 %</title>",
        "20 %</title>",
        "4 GiB</title>",
        "0.5 cores</title>",
        "768 MiB</title>",
        "2 KiB/s</title>",
    ] {
        assert!(drawn.contains(value), "{value}: {drawn}");
    }
    assert!(!drawn.contains(": 2 %</title>"), "{drawn}");
    assert!(drawn.contains("(Asia/Taipei)"), "times carry their zone");
    // Live: the GPU goes quiet; the open page shows it without a reload.
    b.mark_page().await;
    *quiet.lock().unwrap_or_else(PoisonError::into_inner) = true;
    minutes(6).await;
    wait_live(
        &b,
        "the quiet minutes on the open Monitor tab",
        "document.getElementById('monitor-charts').innerHTML.indexOf(': 2 %</title>') >= 0",
    )
    .await;

    // Chinese: the same tab, its titles translated, following the clock.
    b.user_menu("繁體中文").await;
    b.goto(&format!("/containers/{id}?tab=monitor&hours=1"))
        .await;
    let drawn = charts(&b).await;
    for title in ["GPU 使用率", "記憶體用量", "網路接收", "網路傳送", "核心"] {
        assert!(drawn.contains(title), "{title}: {drawn}");
    }
    let range = b.text_of("#monitor-charts .hint").await;
    b.mark_page().await;
    minutes(6).await;
    wait_live(
        &b,
        "the Monitor tab's interval moved on with the clock",
        &format!(
            "document.querySelector('#monitor-charts .hint').innerText.trim() !== {}",
            json!(range)
        ),
    )
    .await;

    // The GPU Utilization Rate table by hand: 72 measured minutes = 1.2
    // container hours; GPU hours = (30 × 0.6 + 30 × 0.2 + 12 × 0.02) / 60
    // = 0.404 (0.4); utilization = 0.404 / 1.2 = 33.7 %; the last ten
    // minutes were all below 5 %: idle.
    b.user_menu("English").await;
    b.mark_page().await;
    b.execute(
        "var f = document.querySelector('form.project-selector'); \
         f.querySelector('select').value = arguments[0]; f.submit(); return true;",
        vec![json!(project)],
    )
    .await;
    b.wait_for_navigation("the page after choosing the project")
        .await;
    b.goto("/gpu-utilization?days=1").await;
    let row = b.text_of("table tbody tr").await;
    let cells: Vec<&str> = row.split('\t').map(str::trim).collect();
    assert_eq!(cells[..5], ["train", "1.2", "0.4", "33.7%", "mia"], "{row}");
    assert!(cells[5].contains("Idle"), "{row}");

    // The cost center by hand: 72 minutes running at 2.50 + 10 an hour =
    // 1.2 h × 12.50 = TWD 15.
    b.goto(&format!(
        "/advanced/cost-center?project={project}&month=2026-11"
    ))
    .await;
    assert_eq!(b.text_of("#cost-total").await, "TWD 15");
    b.close().await;
}
