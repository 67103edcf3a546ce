//! The audit log: security-relevant events keyed by (time in Unix ms, a
//! UUIDv7), so that lists and exports read a time range in order and the
//! retention prunes a prefix. Events are written by the use cases inside
//! the transaction of the action they record.

use jiff::Timestamp;
use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::{StoreError, codec, tables};
use crate::domain::audit::{AuditEvent, AuditFilter, DEFAULT_RETENTION_DAYS};

/// An event's place in the log.
pub type AuditKey = (i64, u128);

/// The `META` key of the retention in days.
const RETENTION_KEY: &str = "audit_retention_days";

/// Records `event` in the caller's transaction.
pub fn insert_tx(tx: &WriteTransaction, event: &AuditEvent) -> Result<(), StoreError> {
    let key = (event.at.as_millisecond(), uuid::Uuid::now_v7().as_u128());
    tx.open_table(tables::AUDIT_TIME_TO_EVENT)?
        .insert(key, codec::encode(event)?.as_slice())?;
    Ok(())
}

/// The key range of a filter's time range.
fn bounds(filter: &AuditFilter) -> (AuditKey, AuditKey) {
    let from = filter.from.map_or(i64::MIN, |t| t.as_millisecond());
    let until = filter.until.map_or(i64::MAX, |t| t.as_millisecond());
    ((from, 0), (until, 0))
}

/// A page of the events `filter` selects, newest first: `limit` of them
/// after skipping `offset`, with how many it selects in all.
pub fn page(
    tx: &ReadTransaction,
    filter: &AuditFilter,
    offset: usize,
    limit: usize,
) -> Result<(Vec<AuditEvent>, usize), StoreError> {
    let table = tx.open_table(tables::AUDIT_TIME_TO_EVENT)?;
    let (from, until) = bounds(filter);
    let mut events = Vec::new();
    let mut total = 0usize;
    for entry in table.range(from..until)?.rev() {
        let (_, bytes) = entry?;
        let event: AuditEvent = codec::decode(bytes.value())?;
        if !filter.matches(&event) {
            continue;
        }
        if total >= offset && events.len() < limit {
            events.push(event);
        }
        total += 1;
    }
    Ok((events, total))
}

/// Up to `limit` of the events `filter` selects, oldest first, after the
/// key `after` (from the start when None), with the key of the last one
/// read: the export reads the log chunk by chunk, each in its own short
/// read transaction.
pub fn chunk(
    tx: &ReadTransaction,
    filter: &AuditFilter,
    after: Option<AuditKey>,
    limit: usize,
) -> Result<(Vec<AuditEvent>, Option<AuditKey>), StoreError> {
    let table = tx.open_table(tables::AUDIT_TIME_TO_EVENT)?;
    let (from, until) = bounds(filter);
    let start = match after {
        Some((ms, id)) => match id.checked_add(1) {
            Some(next) => (ms, next),
            None => (ms.saturating_add(1), 0),
        },
        None => from,
    };
    let mut events = Vec::new();
    let mut last = None;
    if start >= until {
        return Ok((events, last));
    }
    for entry in table.range(start..until)? {
        let (key, bytes) = entry?;
        last = Some(key.value());
        let event: AuditEvent = codec::decode(bytes.value())?;
        if filter.matches(&event) {
            events.push(event);
            if events.len() >= limit {
                break;
            }
        }
    }
    Ok((events, last))
}

/// Deletes every event before `before`; returns how many went.
pub fn prune_before_tx(tx: &WriteTransaction, before: Timestamp) -> Result<u64, StoreError> {
    let mut table = tx.open_table(tables::AUDIT_TIME_TO_EVENT)?;
    let mut removed = 0u64;
    table.retain_in((i64::MIN, 0)..(before.as_millisecond(), 0), |_, _| {
        removed += 1;
        false
    })?;
    Ok(removed)
}

/// How many days events are kept.
pub fn retention_days(tx: &ReadTransaction) -> Result<u32, StoreError> {
    let table = tx.open_table(tables::META)?;
    let stored = table.get(RETENTION_KEY)?.map(|v| v.value());
    Ok(stored
        .and_then(|d| u32::try_from(d).ok())
        .unwrap_or(DEFAULT_RETENTION_DAYS))
}

/// How many days events are kept, inside a write.
pub fn retention_days_tx(tx: &WriteTransaction) -> Result<u32, StoreError> {
    let table = tx.open_table(tables::META)?;
    let stored = table.get(RETENTION_KEY)?.map(|v| v.value());
    Ok(stored
        .and_then(|d| u32::try_from(d).ok())
        .unwrap_or(DEFAULT_RETENTION_DAYS))
}

/// Sets how many days events are kept.
pub fn set_retention_days_tx(tx: &WriteTransaction, days: u32) -> Result<(), StoreError> {
    tx.open_table(tables::META)?
        .insert(RETENTION_KEY, u64::from(days))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::audit::{AuditAction, AuditOutcome};
    use crate::store::Store;

    fn event(actor: &str, action: AuditAction, at: &str) -> AuditEvent {
        AuditEvent {
            at: at.parse().expect("time"),
            actor: None,
            actor_name: actor.into(),
            client: None,
            action,
            target: String::new(),
            outcome: AuditOutcome::Succeeded,
        }
    }

    #[test]
    fn pages_chunks_and_prunes_in_time_order() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open_in(dir.path()).expect("store");
        store
            .write(|tx| {
                for (i, hour) in ["08", "09", "10", "11"].iter().enumerate() {
                    let action = if i % 2 == 0 {
                        AuditAction::Login
                    } else {
                        AuditAction::Logout
                    };
                    insert_tx(
                        tx,
                        &event("ivy", action, &format!("2026-12-01T{hour}:00:00Z")),
                    )?;
                }
                Ok::<_, StoreError>(())
            })
            .expect("write");
        let logins = AuditFilter {
            action: Some(AuditAction::Login),
            ..Default::default()
        };
        let (events, total) = store.read(|tx| page(tx, &logins, 0, 1)).expect("page");
        assert_eq!(total, 2);
        assert_eq!(events[0].at.to_string(), "2026-12-01T10:00:00Z");

        let (first, after) = store
            .read(|tx| chunk(tx, &AuditFilter::default(), None, 3))
            .expect("chunk");
        assert_eq!(first.len(), 3);
        assert_eq!(first[0].at.to_string(), "2026-12-01T08:00:00Z");
        let (rest, _) = store
            .read(|tx| chunk(tx, &AuditFilter::default(), after, 3))
            .expect("chunk");
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].at.to_string(), "2026-12-01T11:00:00Z");

        let removed = store
            .write(|tx| prune_before_tx(tx, "2026-12-01T10:00:00Z".parse().expect("t")))
            .expect("prune");
        assert_eq!(removed, 2);
        let (_, total) = store
            .read(|tx| page(tx, &AuditFilter::default(), 0, 10))
            .expect("page");
        assert_eq!(total, 2);

        assert_eq!(store.read(retention_days).expect("days"), 365);
        store
            .write(|tx| set_retention_days_tx(tx, 30))
            .expect("set");
        assert_eq!(store.read(retention_days).expect("days"), 30);
    }
}
