//! Background work: each worker is a struct with a `step` that tests call and
//! a `run` loop that the supervisor spawns. A failing step is logged and the
//! loop goes on after a pause.

pub mod janitor;

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

/// Starts every worker; abort the handles to stop them.
pub fn spawn_all(services: &Services) -> Vec<JoinHandle<()>> {
    let janitor = janitor::Janitor::new(services.clone());
    vec![supervise("janitor", janitor::EVERY, move || {
        let janitor = janitor.clone();
        async move { janitor.step().await.map(|_| ()) }
    })]
}
