//! Removes expired sessions so the store does not grow with abandoned logins.

use std::time::Duration;

use crate::service::{ServiceError, Services};

/// How often the janitor runs.
pub const EVERY: Duration = Duration::from_secs(600);

#[derive(Clone)]
pub struct Janitor {
    services: Services,
}

impl Janitor {
    pub fn new(services: Services) -> Self {
        Self { services }
    }

    /// One pass; returns how many sessions were removed.
    pub async fn step(&self) -> Result<usize, ServiceError> {
        let removed = self.services.purge_idle_sessions().await?;
        if removed > 0 {
            tracing::info!(removed, "expired sessions removed");
        }
        Ok(removed)
    }
}
