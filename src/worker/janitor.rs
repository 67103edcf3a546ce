//! Removes expired sessions so the store does not grow with abandoned logins,
//! e-mail verification links a week after they expired, and audit events
//! older than the audit log's retention.

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
        let removed = self.services.purge_expired_sessions().await?;
        if removed > 0 {
            tracing::info!(removed, "expired sessions removed");
        }
        let links = self.services.purge_expired_email_links().await?;
        if links > 0 {
            tracing::info!(removed = links, "expired e-mail verification links removed");
        }
        let pruned = self.services.prune_audit_log().await?;
        if pruned > 0 {
            tracing::info!(pruned, "audit events past the retention removed");
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use jiff::SignedDuration;

    use super::*;
    use crate::clock::ManualClock;
    use crate::store::{Store, sessions};

    #[tokio::test]
    async fn a_step_removes_only_sessions_past_the_idle_timeout() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Arc::new(Store::open_in(dir.path()).expect("store"));
        let start = "2026-11-29T08:00:00Z".parse().expect("time");
        let clock = Arc::new(ManualClock::new(start));
        let services = Services::new(
            store.clone(),
            clock.clone(),
            SignedDuration::from_hours(12),
            dir.path(),
            Arc::new(crate::i18n::Catalog::load().expect("catalog")),
        );
        let user = services.create_user("ivy", false).await.expect("user");
        let stale = services
            .login("ivy", &user.password, &Default::default())
            .await
            .expect("login");
        clock.advance(SignedDuration::from_hours(11));
        let fresh = services
            .login("ivy", &user.password, &Default::default())
            .await
            .expect("login");
        clock.advance(SignedDuration::from_hours(2));

        let janitor = Janitor::new(services.clone());
        assert_eq!(janitor.step().await.expect("step"), 1);
        assert!(
            sessions::get(&store, &sessions::hash_token(&stale.token))
                .expect("read")
                .is_none()
        );
        assert!(
            sessions::get(&store, &sessions::hash_token(&fresh.token))
                .expect("read")
                .is_some()
        );
        assert_eq!(
            janitor.step().await.expect("step"),
            0,
            "a second pass changes nothing"
        );
    }

    #[tokio::test]
    async fn a_step_removes_verification_links_a_week_after_they_expired() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Arc::new(Store::open_in(dir.path()).expect("store"));
        let start = "2026-11-29T08:00:00Z".parse().expect("time");
        let clock = Arc::new(ManualClock::new(start));
        let services = Services::new(
            store.clone(),
            clock.clone(),
            SignedDuration::from_hours(12),
            dir.path(),
            Arc::new(crate::i18n::Catalog::load().expect("catalog")),
        );
        services.create_user("ivy", false).await.expect("user");
        let ivy = services.list_users().await.expect("users")[0].id;
        services
            .set_backup_email(ivy, "ivy@home.example", "http://lab/verify")
            .await
            .expect("backup");
        let mail = services
            .outbox_page(1, usize::MAX)
            .await
            .map(|page| page.mails)
            .expect("outbox")[0]
            .body
            .clone();
        let token = mail
            .split("token=")
            .nth(1)
            .and_then(|t| t.split_whitespace().next())
            .expect("a token")
            .to_owned();
        let janitor = Janitor::new(services.clone());
        clock.advance(SignedDuration::from_hours(24 * 7));
        janitor.step().await.expect("step");
        assert_eq!(
            services.verification_link(ivy, &token).await.expect("link"),
            crate::service::emails::LinkState::Expired,
            "kept for a week after it expired"
        );
        clock.advance(SignedDuration::from_hours(25));
        janitor.step().await.expect("step");
        assert_eq!(
            services.verification_link(ivy, &token).await.expect("link"),
            crate::service::emails::LinkState::Unknown
        );
    }
}
