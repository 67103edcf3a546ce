//! The schedule loop: user job schedules fire from next-run times kept in
//! the store (`DUE_JOB_SCHEDULE_IDS`), rebuilt from the schedules at start.
//! The time is the services' `Clock`, so tests move it by hand; the loop
//! looks at the earliest next run every [`EVERY`] and fires what is due
//! (`Services::fire_due_schedules`). tokio-cron-scheduler is not used for
//! these: it keeps a fixed UTC offset for a zoned job and drops runs missed
//! while the server was down.

use std::time::Duration;

use crate::service::schedules::FireReport;
use crate::service::{ServiceError, Services};

/// How often the loop looks for a due schedule: a trigger's job is created
/// within this of its time.
pub const EVERY: Duration = Duration::from_millis(250);

/// The loop's state: the services it fires through.
#[derive(Clone)]
pub struct ScheduleLoop {
    services: Services,
}

impl ScheduleLoop {
    pub fn new(services: Services) -> Self {
        Self { services }
    }

    /// Lists every schedule's next run again (at start).
    pub async fn rebuild(&self) -> Result<usize, ServiceError> {
        self.services.rebuild_schedules().await
    }

    /// Fires every schedule due by now; does nothing (one read) when none
    /// is.
    pub async fn step(&self) -> Result<FireReport, ServiceError> {
        let now = self.services.clock.now();
        match self.services.next_schedule_due().await? {
            Some(due) if due <= now => {
                let mut total = FireReport::default();
                loop {
                    let report = self.services.fire_due_schedules().await?;
                    total.started += report.started;
                    total.skipped += report.skipped;
                    total.failed += report.failed;
                    if report == FireReport::default() {
                        return Ok(total);
                    }
                }
            }
            _ => Ok(FireReport::default()),
        }
    }
}

/// Rebuilds the next runs, then fires due schedules every [`EVERY`] until
/// the task is aborted. A run that fell due while the server was down
/// fires once, late, on the first step.
pub fn spawn(services: &Services) -> tokio::task::JoinHandle<()> {
    let schedules = ScheduleLoop::new(services.clone());
    tokio::spawn(async move {
        loop {
            match schedules.rebuild().await {
                Ok(count) => {
                    tracing::info!(schedules = count, "job schedules listed");
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "listing job schedules failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        let mut ticker = tokio::time::interval(EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(e) = schedules.step().await {
                tracing::warn!(worker = "schedules", error = %e, "schedule step failed; retrying at the next tick");
            }
        }
    })
}
