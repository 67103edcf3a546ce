//! The cost center and order records under the manual clock, on the local
//! driver (real sandboxed processes): a container that runs, stops, runs
//! again across a month boundary and a restart, and is deleted, and a job
//! that is cancelled; the sums are checked against hours × prices worked
//! out by hand, on the page, in the CSV and in the orders.

use jiff::SignedDuration;
use mlstack::domain::catalog::HardwareSpecRequest;

use super::*;

fn minutes(m: i64) -> SignedDuration {
    SignedDuration::from_mins(m)
}

#[tokio::test]
async fn cost_is_running_hours_times_the_ordered_price() {
    let lab = lab().await;
    // 1 core and 2 GB, as `resources()`: TWD 1.25 an hour.
    lab.services
        .create_hardware_spec(&HardwareSpecRequest {
            name: "c1.small".into(),
            cpu_cores: "1".into(),
            ram_gb: "2".into(),
            gpu_type: String::new(),
            price: "1.25".into(),
        })
        .await
        .expect("a spec");
    let bob = lab.bob.clone();
    let project = lab.project;
    // 2026-11-29 08:00 UTC (16:00 in Asia/Taipei, the platform zone).
    let web = lab
        .services
        .create_container(&bob, container(project, "web"))
        .await
        .expect("created");
    wait_running(&lab.services, &bob, web).await;
    // Runs 2 h, stops for 1 h, runs again.
    lab.app.advance(minutes(120));
    lab.services.stop_container(&bob, web).await.expect("stop");
    wait_status(&lab.services, &bob, web, WorkloadStatus::Stopped).await;
    lab.app.advance(minutes(60));
    lab.services
        .start_container(&bob, web)
        .await
        .expect("start");
    wait_running(&lab.services, &bob, web).await;
    // A job runs 1.5 h and is cancelled.
    let train = lab
        .services
        .create_job(&bob, job(project, "train", "sleep 600"))
        .await
        .expect("created");
    wait_status(&lab.services, &bob, train, WorkloadStatus::Running).await;
    lab.app.advance(minutes(90));
    lab.services.cancel_job(&bob, train).await.expect("cancel");
    wait_status(&lab.services, &bob, train, WorkloadStatus::Stopped).await;

    // A restart while the container runs (11:00 UTC on): its interval goes on.
    let Lab {
        app,
        services,
        passwords,
        alice,
        carol,
        ..
    } = lab;
    drop(services);
    let app = app.restart();
    let services = app.services();
    wait_running(&services, &bob, web).await;
    app.reconciler().resync().await.expect("resync");
    // To 2026-11-30 20:00 UTC: 29 h before December began in Taipei
    // (16:00 UTC), 4 h after; then deleted.
    app.advance(minutes(31 * 60 + 30));
    app.reconciler().resync().await.expect("resync");
    services.delete_workload(&bob, web).await.expect("delete");
    wait_gone(&services, &bob, web).await;

    // November: web 2 h + 29 h = 31 h × 1.25 = 38.75; train 1.5 h × 1.25
    // = 1.875; 32.5 h, TWD 40.625. December: web 4 h = TWD 5.
    let november = Some(mlstack::domain::cost::Month {
        year: 2026,
        month: 11,
    });
    let report = services
        .cost_report(&alice, project, november)
        .await
        .expect("report");
    let lines: Vec<(&str, u64, u64)> = report
        .lines
        .iter()
        .map(|l| (l.name.as_str(), l.running_ms, l.cost_milli))
        .collect();
    assert_eq!(
        lines,
        [("train", 5_400_000, 1_875), ("web", 31 * 3_600_000, 38_750)]
    );
    assert_eq!(
        (report.total_ms, report.total_milli),
        (32 * 3_600_000 + 1_800_000, 40_625)
    );
    assert!(report.whole_project, "a manager sees every member's");
    let december = services
        .cost_report(&alice, project, november.map(|m| m.next()))
        .await
        .expect("report");
    assert_eq!(
        (december.total_ms, december.total_milli),
        (4 * 3_600_000, 5_000)
    );

    // A member sees their own only: carol ran nothing.
    let own = services
        .cost_report(&carol, project, november)
        .await
        .expect("report");
    assert!(!own.whole_project && own.lines.is_empty() && own.total_milli == 0);

    // Over HTTP: the page, the CSV, the orders.
    let client = app.client();
    client.login_ok("alice", &passwords["alice"]).await;
    let page = client
        .get(&format!(
            "/advanced/cost-center?project={project}&month=2026-11"
        ))
        .await;
    assert_eq!(page.status, reqwest::StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("TWD 40.625"), "{}", page.body);
    assert!(page.body.contains("38.75") && page.body.contains("32.50"));
    let csv = client
        .get(&format!(
            "/advanced/cost-center/csv?project={project}&month=2026-11"
        ))
        .await;
    assert_eq!(csv.status, reqwest::StatusCode::OK);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    let body = csv.body.trim_start_matches('\u{feff}');
    let rows: Vec<&str> = body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        rows,
        [
            "Project,Month,Name,Type,Member,Hourly price,Hours,Cost,Currency",
            "Vision,2026-11,train,Job,bob,1.25,1.50,1.875,TWD",
            "Vision,2026-11,web,Container,bob,1.25,31.00,38.75,TWD",
            "Vision,2026-11,,Member total,bob,,32.50,40.625,TWD",
            "Vision,2026-11,,Total,,,32.50,40.625,TWD",
        ]
    );
    let bad = client
        .get(&format!(
            "/advanced/cost-center?project={project}&month=2026-13"
        ))
        .await;
    assert_eq!(bad.status, reqwest::StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body.contains("between 2000-01 and 2999-12"),
        "{}",
        bad.body
    );

    // Bob's orders keep the deleted container's configuration and price.
    let bob_client = app.client();
    bob_client.login_ok("bob", &passwords["bob"]).await;
    let orders = bob_client
        .get("/account/orders?from=2026-11-29&to=2026-12-01")
        .await;
    assert_eq!(orders.status, reqwest::StatusCode::OK, "{}", orders.body);
    assert!(orders.body.contains("web") && orders.body.contains("train"));
    assert!(orders.body.contains("Asia/Taipei"), "the zone is shown");
    let detail = bob_client.get(&format!("/account/orders/{web}")).await;
    assert_eq!(detail.status, reqwest::StatusCode::OK, "{}", detail.body);
    assert!(detail.body.contains("c1.small") && detail.body.contains("TWD 1.25"));
    assert!(detail.body.contains("ubuntu:24.04"));
    let job_detail = bob_client.get(&format!("/account/orders/{train}")).await;
    assert!(job_detail.body.contains("sleep 600"), "{}", job_detail.body);
    // Alice did not place them and they are not hers.
    let other = client.get(&format!("/account/orders/{web}")).await;
    assert_eq!(other.status, reqwest::StatusCode::NOT_FOUND);
    // A period the list refuses, with the limit named.
    let long = bob_client
        .get("/account/orders?from=2025-01-01&to=2026-12-01")
        .await;
    assert_eq!(long.status, reqwest::StatusCode::UNPROCESSABLE_ENTITY);
    assert!(long.body.contains("at most 366 days"), "{}", long.body);

    // In Chromium, both languages: the sidebar's Cost Center, November.
    let b = crate::common::browser::Browser::start(&app.url).await;
    b.log_in("alice", &passwords["alice"]).await;
    b.follow("Cost Center").await;
    b.set_value("#f-month", "2026-11").await;
    b.submit(".cost-filter button[type=submit]", "November's costs")
        .await;
    assert_eq!(b.text_of("#cost-total").await, "TWD 40.625");
    assert!(b.text_of("#cost-workloads").await.contains("train"));
    b.user_menu("繁體中文").await;
    assert_eq!(b.html_attr("lang").await.as_deref(), Some("zh-TW"));
    b.goto(&format!(
        "/advanced/cost-center?project={project}&month=2026-11"
    ))
    .await;
    assert_eq!(b.text_of("h1").await, "成本中心");
    assert_eq!(b.text_of("#cost-total").await, "TWD 40.625");
    assert!(b.text_of("#cost-members").await.contains("bob"));
    b.close().await;
    drop(services);
    drop(app);
}
