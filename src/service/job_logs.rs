//! A job's log kept by mlstack after the job ended: the driver's copy goes
//! with the pod (the kube driver's Jobs have a TTL) or the process's
//! folder, so when a job ends the reconcile loop's writer has its last
//! [`ARCHIVE_MAX_BYTES`] saved under `data_dir/job-logs/<id>.log`; reading
//! a finished job's log reads that file; deleting the job deletes it.

use std::path::PathBuf;

use super::workloads::{LOG_LINES_MAX, bounded};
use super::{ServiceError, Services};
use crate::cluster::{Driver, WorkloadKind};
use crate::domain::workload::WorkloadId;
use crate::store::users::UserRecord;
use crate::store::workloads;

/// The most of a job's log kept after it ended: its last 10 MiB.
pub const ARCHIVE_MAX_BYTES: usize = 10 * 1024 * 1024;

/// The folder of the archived logs, in the data directory.
const ARCHIVE_DIR: &str = "job-logs";

/// The last `max` bytes of `text`, cut at a character boundary.
pub fn keep_last(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// The last `lines` lines of `text`.
fn tail(text: &str, lines: usize) -> &str {
    let trimmed = text.strip_suffix('\n').unwrap_or(text);
    match trimmed.rmatch_indices('\n').nth(lines.saturating_sub(1)) {
        Some((at, _)) if lines > 0 => &text[at + 1..],
        _ => text,
    }
}

/// Runs file work on the blocking pool (never on the async executor).
async fn on_disk<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, ServiceError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ServiceError::Internal(format!("job log archive: {e}")))?
        .map_err(|e| ServiceError::Internal(format!("job log archive: {e}")))
}

impl Services {
    fn archive_path(&self, id: WorkloadId) -> PathBuf {
        self.data_dir.join(ARCHIVE_DIR).join(format!("{id}.log"))
    }

    /// Saves the logs of the jobs among `ids` that have ended and have no
    /// archive yet (the reconcile loop's writer calls it after recording a
    /// batch). A driver that does not answer leaves it for the next end
    /// it records; nothing here fails the loop.
    pub(crate) async fn archive_ended_job_logs(&self, ids: Vec<WorkloadId>) {
        for id in ids {
            if let Err(error) = self.archive_job_log(id).await {
                tracing::warn!(workload = %id, %error, "could not archive a job's log");
            }
        }
    }

    async fn archive_job_log(&self, id: WorkloadId) -> Result<(), ServiceError> {
        let record = self
            .blocking(move |store| store.read(|tx| Ok(workloads::get_read_tx(tx, id)?)))
            .await?;
        let ended = record.is_some_and(|r| {
            r.spec.kind() == WorkloadKind::Job && r.status().is_terminal() && !r.queued
        });
        let path = self.archive_path(id);
        let exists = {
            let path = path.clone();
            on_disk(move || path.try_exists()).await?
        };
        if !ended || exists {
            return Ok(());
        }
        let cluster = self.cluster()?;
        let Some(text) = bounded(cluster, cluster.driver.logs(id, LOG_LINES_MAX)).await? else {
            return Ok(());
        };
        let kept = keep_last(&text, ARCHIVE_MAX_BYTES).to_owned();
        on_disk(move || {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            // Written beside and renamed over: a reader sees all of it or
            // none.
            let partial = path.with_extension("log.partial");
            std::fs::write(&partial, kept.as_bytes())?;
            std::fs::rename(&partial, &path)
        })
        .await
    }

    /// Removes the archived logs of jobs whose records went.
    pub(crate) async fn forget_job_logs(&self, ids: Vec<WorkloadId>) {
        for id in ids {
            let path = self.archive_path(id);
            let removed = on_disk(move || match std::fs::remove_file(path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                other => other,
            });
            match removed.await {
                Ok(()) => {}
                Err(error) => {
                    tracing::warn!(workload = %id, %error, "could not remove a job's archived log");
                }
            }
        }
    }

    /// The archived log of a job `viewer` may see (None: not archived).
    pub async fn archived_job_log(
        &self,
        viewer: &UserRecord,
        id: WorkloadId,
    ) -> Result<Option<String>, ServiceError> {
        self.workload(viewer, id).await?;
        let path = self.archive_path(id);
        on_disk(move || match std::fs::read(path) {
            Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        })
        .await
    }

    /// The last `tail_lines` lines of a finished job's archived log, if
    /// there is one.
    pub(crate) async fn archived_tail(
        &self,
        viewer: &UserRecord,
        id: WorkloadId,
        tail_lines: usize,
    ) -> Result<Option<String>, ServiceError> {
        Ok(self
            .archived_job_log(viewer, id)
            .await?
            .map(|text| tail(&text, tail_lines).to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_bytes_are_kept_at_a_character_boundary() {
        assert_eq!(keep_last("hello", 10), "hello");
        assert_eq!(keep_last("hello world", 5), "world");
        // "é" is two bytes: a cut inside it moves past it.
        assert_eq!(keep_last("aéb", 2), "b");
        assert_eq!(keep_last("", 0), "");
    }

    #[test]
    fn the_tail_is_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc\n");
        assert_eq!(tail("a\nb\nc", 2), "b\nc");
        assert_eq!(tail("a\nb\n", 5), "a\nb\n");
        assert_eq!(tail("only", 1), "only");
    }
}
