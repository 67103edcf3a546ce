//! What the benchmarks share: a user `bench` managing an approved project
//! with a passed activation (workloads need both).

use std::time::{Duration, Instant};

use mlstack::domain::ids::ProjectId;
use mlstack::domain::project::ProjectForm;
use mlstack::domain::quota::Resources;
use mlstack::service::Services;
use mlstack::store::users::UserRecord;

/// Creates `bench`, has it apply for the project `name` (60 days) and the
/// admin approve it with `quota`, then waits for bench's activation.
/// Returns the project, bench and bench's generated password.
pub async fn bench_project(
    services: &Services,
    name: &str,
    quota: Resources,
) -> anyhow::Result<(ProjectId, UserRecord, String)> {
    let created = services.create_user("bench", false).await?;
    let users = services.list_users().await?;
    let find = |name: &str| {
        users
            .iter()
            .find(|u| u.username.as_str() == name)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no user {name}"))
    };
    let (admin, bench) = (find("admin")?, find("bench")?);
    let today = jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::get("Asia/Taipei")?)
        .date();
    let form = ProjectForm {
        name: name.into(),
        start: today.to_string(),
        end: today.checked_add(jiff::Span::new().days(60))?.to_string(),
        purpose: String::new(),
        description: format!("{name} benchmark"),
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
        .decide_application(&admin, application, true, "", Some(quota))
        .await?;
    // The reconcile loop carries out the activation with the driver.
    services.activate(bench.id).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while services.activation(bench.id).await?.map(|a| a.status)
        != Some(mlstack::store::activations::ActivationStatus::Passed)
    {
        anyhow::ensure!(Instant::now() < deadline, "the activation did not pass");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok((project, bench, created.password))
}
