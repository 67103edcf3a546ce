//! Background work: each worker is a struct with a `step` that tests call and
//! a `run` loop that the supervisor spawns. A failing step is logged and the
//! loop goes on after a pause. The reconcile loop, which needs the cluster
//! driver, is started by the composition root beside these.

pub mod janitor;
pub mod mailer;
pub mod metrics;
pub mod reconciler;
pub mod schedules;

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::service::Services;

/// Runs `step` every `every`, logging failures, until the task is aborted.
pub fn supervise<F, Fut, E>(name: &'static str, every: Duration, mut step: F) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: std::fmt::Display,
{
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(e) = step().await {
                tracing::warn!(worker = name, error = %e, "worker step failed; retrying at the next tick");
            }
        }
    })
}

/// How often the project lifecycle is swept.
pub const LIFECYCLE_EVERY: Duration = Duration::from_secs(60);

/// Starts every worker; abort the handles to stop them.
pub fn spawn_all(services: &Services) -> Vec<JoinHandle<()>> {
    let janitor = janitor::Janitor::new(services.clone());
    let lifecycle = services.clone();
    vec![
        supervise("janitor", janitor::EVERY, move || {
            let janitor = janitor.clone();
            async move { janitor.step().await.map(|_| ()) }
        }),
        // Project lifecycle: reminders, buffer period, release. The first
        // tick runs at once, so whatever fell due while mlstack was down
        // happens at start-up.
        supervise("lifecycle", LIFECYCLE_EVERY, move || {
            let services = lifecycle.clone();
            async move { services.sweep_lifecycle().await.map(|_| ()) }
        }),
        schedules::spawn(services),
    ]
}
