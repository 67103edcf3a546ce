//! Cost benchmark (run by tests/bench/cost.sh), on a fresh store with the
//! use cases (no HTTP, no cluster): a project with 200 containers of 20
//! members, each ordered at TWD 12.50 an hour (a spec at 2.50 and one GPU
//! at 10) and run 8 hours a day on each of November's 30 days (6,000 run
//! intervals); the cost center's month report (by member and workload,
//! hours × prices), and the same with its CSV written. The totals are
//! checked against the hand-computed 200 × 240 h × 12.50 = TWD 600,000.
//!
//! Each is run 20 times after one warm-up; prints the median and the most
//! as `key=value` lines, in milliseconds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use mlstack::clock::{ManualClock, SharedClock};
use mlstack::domain::cost::{HourlyPrice, Month};
use mlstack::domain::ids::{OrderId, UserId};
use mlstack::domain::project::ProjectForm;
use mlstack::domain::quota::Resources as Quota;
use mlstack::domain::workload::WorkloadId;
use mlstack::i18n::Catalog;
use mlstack::service::Services;
use mlstack::store::Store;
use mlstack::store::orders::{self, OrderKind, OrderRecord};

const RUNS: usize = 20;
const CONTAINERS: usize = 200;
const MEMBERS: usize = 20;
const DAYS: i64 = 30;

fn summary(name: &str, mut times: Vec<Duration>) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("{name}_median_ms={:.2}", ms(times[times.len() / 2]));
    println!("{name}_max_ms={:.2}", ms(times[times.len() - 1]));
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(Store::open_in(dir.path())?);
    // November 2026 in Asia/Taipei (the platform zone) ends at
    // 2026-11-30T16:00Z; the report is read on December 1st.
    let now: Timestamp = "2026-12-01T04:00:00Z".parse()?;
    let clock: SharedClock = Arc::new(ManualClock::new(now));
    let catalog = Arc::new(Catalog::load().map_err(anyhow::Error::msg)?);
    let services = Services::new(
        store.clone(),
        clock,
        SignedDuration::from_hours(1),
        dir.path(),
        catalog.clone(),
    );
    services.create_user("boss", true).await?;
    services.create_user("bench", false).await?;
    let users = services.list_users().await?;
    let find = |name: &str| {
        users
            .iter()
            .find(|u| u.username.as_str() == name)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no user {name}"))
    };
    let (admin, bench) = (find("boss")?, find("bench")?);
    let form = ProjectForm {
        name: "Cost".into(),
        start: "2026-12-01".into(),
        end: "2027-03-31".into(),
        purpose: String::new(),
        description: "cost benchmark".into(),
        managers: vec!["bench".into()],
        members: Vec::new(),
    };
    let project = services.apply_project(&bench, &form).await?;
    let application = services
        .reviewing_applications(&admin)
        .await?
        .first()
        .map(|a| a.application.id)
        .ok_or_else(|| anyhow::anyhow!("no application"))?;
    services
        .decide_application(&admin, application, true, "", Some(Quota::default()))
        .await?;

    // The orders and their run intervals: 01:00–09:00 UTC on each day.
    let members: Vec<UserId> = (0..MEMBERS).map(|_| UserId::generate()).collect();
    let first_day: Timestamp = "2026-11-01T01:00:00Z".parse()?;
    store.write(|tx| {
        for n in 0..CONTAINERS {
            let id = WorkloadId::generate();
            let owner = members[n % MEMBERS];
            orders::insert_tx(
                tx,
                &OrderRecord {
                    id: OrderId::from_u128(id.as_u128()),
                    kind: OrderKind::Container,
                    project,
                    project_name: "Cost".into(),
                    owner,
                    owner_name: format!("member{:02}", n % MEMBERS),
                    ordered_by: owner,
                    name: format!("c{n:03}"),
                    created_at: first_day,
                    config: Vec::new(),
                    price: HourlyPrice {
                        spec_name: Some("g1.t4".into()),
                        spec_milli: 2_500,
                        gpu_type: Some("T4".into()),
                        gpu_milli: 10_000,
                    },
                    currency: "TWD".into(),
                },
            )?;
            for day in 0..DAYS {
                let start = first_day + SignedDuration::from_hours(24 * day);
                mlstack::store::runs::sync_tx(tx, id, true, start)?;
                mlstack::store::runs::sync_tx(
                    tx,
                    id,
                    false,
                    start + SignedDuration::from_hours(8),
                )?;
            }
        }
        Ok::<_, mlstack::store::StoreError>(())
    })?;
    println!("containers={CONTAINERS}");
    println!("run_intervals={}", CONTAINERS as i64 * DAYS);

    let november = Some(Month {
        year: 2026,
        month: 11,
    });
    // By hand: 240 h × TWD 12.50 = 3,000 a container; 600,000 in all.
    let expected_milli = CONTAINERS as u64 * 240 * 12_500;
    let mut report_times = Vec::new();
    for run in 0..=RUNS {
        let began = Instant::now();
        let report = services.cost_report(&bench, project, november).await?;
        anyhow::ensure!(
            report.lines.len() == CONTAINERS,
            "lines {}",
            report.lines.len()
        );
        anyhow::ensure!(
            report.members.len() == MEMBERS,
            "members {}",
            report.members.len()
        );
        anyhow::ensure!(
            report.total_milli == expected_milli,
            "total {} (expected {expected_milli})",
            report.total_milli
        );
        if run > 0 {
            report_times.push(began.elapsed());
        }
    }
    summary("report_200_containers_month", report_times);

    let tr = catalog.tr(mlstack::domain::user::Lang::En);
    let mut csv_times = Vec::new();
    for run in 0..=RUNS {
        let began = Instant::now();
        let report = services.cost_report(&bench, project, november).await?;
        let csv = mlstack::web::views::cost::csv(tr, &report);
        anyhow::ensure!(
            csv.lines().count() == 1 + CONTAINERS + MEMBERS + 1,
            "csv lines"
        );
        if run > 0 {
            csv_times.push(began.elapsed());
        }
    }
    summary("csv_200_containers_month", csv_times);
    Ok(())
}
