//! The audit log's use cases. The web layer runs each request inside
//! [`with_origin`] (who is signed in, from which address); a use case takes
//! an [`AuditStamp`] before it goes to the blocking pool and records its
//! event inside the transaction of the action (or in a write of its own
//! where the action writes nothing, e.g. a failed login or a proxy session).
//! Work with no request behind it (the CLI, the workers) is recorded as the
//! system's.

use std::future::Future;
use std::net::IpAddr;

use jiff::Timestamp;
use serde::Serialize;

use super::{ServiceError, Services};
use crate::domain::audit::{
    self, AuditAction, AuditEvent, AuditFilter, AuditOutcome, check_retention_days,
};
use crate::domain::ids::UserId;
use crate::domain::validation::FieldErrors;
use crate::store::audit::{self as log, AuditKey};
use crate::store::users::UserRecord;
use crate::store::{StoreError, WriteTx};

/// The name events without a signed-in actor carry.
pub const SYSTEM_ACTOR: &str = "system";

/// Events one export chunk reads in one read transaction.
pub const EXPORT_CHUNK: usize = 500;

/// Who a request comes from, as the web layer saw it.
#[derive(Debug, Clone, Default)]
pub struct RequestOrigin {
    /// The signed-in user's id and name.
    pub user: Option<(UserId, String)>,
    /// The client's address (behind a trusted proxy, the forwarded one).
    pub client: Option<IpAddr>,
}

tokio::task_local! {
    static ORIGIN: RequestOrigin;
}

/// Runs `work` (a request's handling) with `origin` as the origin of the
/// events it records.
pub async fn with_origin<F: Future>(origin: RequestOrigin, work: F) -> F::Output {
    ORIGIN.scope(origin, work).await
}

/// The origin of the request being handled (none outside a request).
fn current_origin() -> RequestOrigin {
    ORIGIN.try_with(Clone::clone).unwrap_or_default()
}

/// Who did it, from where and when: taken on the request's task, carried
/// into the transaction.
#[derive(Debug, Clone)]
pub(crate) struct AuditStamp {
    actor: Option<UserId>,
    actor_name: String,
    client: Option<IpAddr>,
    at: Timestamp,
}

impl AuditStamp {
    /// The event of `action` on `target` with `outcome`.
    pub(crate) fn event(
        &self,
        action: AuditAction,
        target: impl Into<String>,
        outcome: AuditOutcome,
    ) -> AuditEvent {
        AuditEvent {
            at: self.at,
            actor: self.actor,
            actor_name: self.actor_name.clone(),
            client: self.client,
            action,
            target: target.into(),
            outcome,
        }
    }

    /// Records a successful `action` on `target` in the caller's
    /// transaction.
    pub(crate) fn record_tx(
        &self,
        tx: &WriteTx,
        action: AuditAction,
        target: impl Into<String>,
    ) -> Result<(), StoreError> {
        log::insert_tx(tx, &self.event(action, target, AuditOutcome::Succeeded))
    }
}

/// A page of the audit log.
#[derive(Debug, Clone)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    /// How many events the filter selects in all.
    pub total: usize,
}

/// The JSON lines export's view of an event: codes, not Rust names.
#[derive(Debug, Serialize)]
struct JsonLine<'a> {
    time: String,
    actor: &'a str,
    actor_id: Option<String>,
    client: Option<String>,
    action: &'static str,
    target: &'a str,
    outcome: &'static str,
}

/// One event as a JSON line (ending in `\n`).
pub fn json_line(event: &AuditEvent) -> String {
    let line = JsonLine {
        time: event.at.to_string(),
        actor: &event.actor_name,
        actor_id: event.actor.map(|a| a.to_string()),
        client: event.client.map(|c| c.to_string()),
        action: event.action.code(),
        target: &event.target,
        outcome: event.outcome.code(),
    };
    // A struct of strings always serializes.
    let mut text = serde_json::to_string(&line).unwrap_or_default();
    text.push('\n');
    text
}

/// Resources as a quota's event names them: `GPU 1.5, CPU 8, RAM 16384 MiB`.
pub(crate) fn resources(r: &crate::domain::quota::Resources) -> String {
    let thousandths = |v: u64| format!("{}", v as f64 / 1000.0);
    format!(
        "GPU {}, CPU {}, RAM {} MiB, storage {} GB",
        thousandths(r.gpu_milli),
        thousandths(r.cpu_milli),
        r.ram_mib,
        r.storage_gib
    )
}

impl Services {
    /// A stamp for an event by the request's signed-in user (the system's
    /// outside a request).
    pub(crate) fn audit_stamp(&self) -> AuditStamp {
        let origin = current_origin();
        let (actor, actor_name) = match origin.user {
            Some((id, name)) => (Some(id), name),
            None => (None, SYSTEM_ACTOR.to_owned()),
        };
        AuditStamp {
            actor,
            actor_name,
            client: origin.client,
            at: self.clock.now(),
        }
    }

    /// A stamp for an event by `user` (who may not be signed in yet: a
    /// login) from the request's address, or `client` when given.
    pub(crate) fn audit_stamp_for(
        &self,
        user: Option<&UserRecord>,
        name: &str,
        client: Option<IpAddr>,
    ) -> AuditStamp {
        AuditStamp {
            actor: user.map(|u| u.id),
            actor_name: user.map_or_else(|| name.to_owned(), |u| u.username.to_string()),
            client: client.or(current_origin().client),
            at: self.clock.now(),
        }
    }

    /// Records `event` in a write of its own, for actions that write
    /// nothing else. A failure is logged, not returned: the action itself
    /// happened or was refused either way.
    pub(crate) async fn record_audit(&self, event: AuditEvent) {
        let action = event.action.code();
        let written = self
            .blocking(move |store| Ok(store.write(|tx| log::insert_tx(tx, &event))?))
            .await;
        if let Err(e) = written {
            tracing::error!(action, error = %e, "audit event not recorded");
        }
    }

    /// A page of the events `filter` selects, newest first.
    pub async fn audit_page(
        &self,
        filter: AuditFilter,
        offset: usize,
        limit: usize,
    ) -> Result<AuditPage, ServiceError> {
        self.blocking(move |store| {
            let (events, total) = store.read(|tx| log::page(tx, &filter, offset, limit))?;
            Ok(AuditPage { events, total })
        })
        .await
    }

    /// The next chunk of an export (oldest first) after `after`, with the
    /// key to continue from; an empty chunk ends the export.
    pub async fn audit_export_chunk(
        &self,
        filter: AuditFilter,
        after: Option<AuditKey>,
    ) -> Result<(Vec<AuditEvent>, Option<AuditKey>), ServiceError> {
        self.blocking(move |store| {
            Ok(store.read(|tx| log::chunk(tx, &filter, after, EXPORT_CHUNK))?)
        })
        .await
    }

    /// How many days the audit log keeps events.
    pub async fn audit_retention_days(&self) -> Result<u32, ServiceError> {
        self.blocking(|store| Ok(store.read(log::retention_days)?))
            .await
    }

    /// Sets how many days the audit log keeps events (1 to 3650); the
    /// change is itself an event.
    pub async fn set_audit_retention_days(&self, days: u32) -> Result<(), ServiceError> {
        let days = check_retention_days(days)
            .map_err(|key| ServiceError::Invalid(FieldErrors::single("retention_days", key)))?;
        let stamp = self.audit_stamp();
        self.blocking(move |store| {
            store.write(|tx| {
                log::set_retention_days_tx(tx, days)?;
                stamp.record_tx(tx, AuditAction::RetentionChanged, format!("{days} days"))?;
                Ok(())
            })
        })
        .await
    }

    /// Deletes the events older than the retention; returns how many went.
    pub async fn prune_audit_log(&self) -> Result<u64, ServiceError> {
        let now = self.clock.now();
        self.blocking(move |store| {
            store.write(|tx| {
                let days = log::retention_days_tx(tx)?;
                Ok(log::prune_before_tx(
                    tx,
                    audit::retention_cutoff(now, days),
                )?)
            })
        })
        .await
    }
}
