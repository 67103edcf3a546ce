//! The mail sender: delivers the outbox through the configured SMTP relay,
//! a batch of due mails at a time, several at once over the transport's
//! pooled connections, and records every outcome (sent; failed and tried
//! again after a backoff; given up). Without a relay it is not started and
//! mail stays in the outbox. No request waits on it.

use std::time::Duration;

use futures_util::stream::{self, StreamExt};

use crate::domain::ids::MailId;
use crate::mail::SmtpSender;
use crate::service::mail::Delivery;
use crate::service::{ServiceError, Services};

/// How often the outbox is looked at when nothing is due.
pub const EVERY: Duration = Duration::from_secs(1);

/// Mails read per pass.
const BATCH: usize = 200;

#[derive(Clone)]
pub struct Mailer {
    services: Services,
    sender: SmtpSender,
    /// Mails in flight at once (the pool's size).
    parallel: usize,
}

impl Mailer {
    pub fn new(services: Services, sender: SmtpSender, parallel: usize) -> Self {
        Self {
            services,
            sender,
            parallel: parallel.max(1),
        }
    }

    /// One pass over the due mails; returns how many were tried.
    pub async fn step(&self) -> Result<usize, ServiceError> {
        let due = self.services.due_mails(BATCH).await?;
        let tried = due.len();
        if tried == 0 {
            return Ok(0);
        }
        let outcomes: Vec<(MailId, Delivery)> = stream::iter(due)
            .map(|mail| async move {
                let outcome = match self.sender.send(&mail).await {
                    Ok(()) => Delivery::Sent,
                    Err(e) => {
                        tracing::warn!(mail = %mail.id, attempt = mail.attempts + 1, permanent = e.permanent, error = %e.message, "mail not delivered");
                        Delivery::Failed {
                            permanent: e.permanent,
                            error: e.message,
                        }
                    }
                };
                (mail.id, outcome)
            })
            .buffer_unordered(self.parallel)
            .collect()
            .await;
        self.services.record_deliveries(outcomes).await?;
        Ok(tried)
    }

    /// Passes until the task is aborted: at once again after a full batch,
    /// else after `EVERY`.
    pub async fn run_loop(self) {
        loop {
            match self.step().await {
                Ok(tried) if tried >= BATCH => continue,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(worker = "mailer", error = %e, "mail pass failed; retrying");
                }
            }
            tokio::time::sleep(EVERY).await;
        }
    }
}
