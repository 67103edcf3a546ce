//! Workload logs: the last lines of a log file, and a log followed as it
//! grows until its workload ends.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::Inner;
use crate::cluster::{DriverError, LogStream};
use crate::domain::workload::WorkloadId;

/// How often a followed log is read again for more.
pub(super) const FOLLOW_POLL: Duration = Duration::from_millis(200);

/// Reads a log file from its start and then as it grows, until the workload
/// is in a terminal status and the file has no more.
pub(super) fn follow(inner: Arc<Inner>, id: WorkloadId, path: PathBuf) -> LogStream {
    struct Cursor {
        inner: Arc<Inner>,
        id: WorkloadId,
        path: PathBuf,
        offset: u64,
        done: bool,
    }
    let cursor = Cursor {
        inner,
        id,
        path,
        offset: 0,
        done: false,
    };
    Box::pin(futures_util::stream::unfold(cursor, |mut c| async move {
        loop {
            if c.done {
                return None;
            }
            // Whether it had ended before this read: then this read is the last.
            let ended = c
                .inner
                .lock()
                .workloads
                .get(&c.id)
                .is_none_or(|e| e.record.status.is_terminal());
            let path = c.path.clone();
            let offset = c.offset;
            let chunk = tokio::task::spawn_blocking(move || read_from(&path, offset))
                .await
                .map_err(|e| DriverError::io("reading the log", std::io::Error::other(e)))
                .and_then(|r| r);
            match chunk {
                Ok(mut bytes) if !bytes.is_empty() => {
                    // A character cut at the chunk's end waits for the next read.
                    if let Err(e) = std::str::from_utf8(&bytes)
                        && e.error_len().is_none()
                        && e.valid_up_to() > 0
                    {
                        bytes.truncate(e.valid_up_to());
                    }
                    c.offset += bytes.len() as u64;
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    return Some((Ok(text), c));
                }
                Ok(_) if ended => return None,
                Ok(_) => tokio::time::sleep(FOLLOW_POLL).await,
                Err(e) => {
                    c.done = true;
                    return Some((Err(e), c));
                }
            }
        }
    }))
}

/// At most 64 KiB of a file from `offset` (nothing when it does not exist).
pub(super) fn read_from(path: &Path, offset: u64) -> Result<Vec<u8>, DriverError> {
    const CHUNK: u64 = 64 * 1024;
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(DriverError::io("reading the log", e)),
    };
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| DriverError::io("reading the log", e))?;
    let mut bytes = Vec::new();
    file.take(CHUNK)
        .read_to_end(&mut bytes)
        .map_err(|e| DriverError::io("reading the log", e))?;
    Ok(bytes)
}

/// The last `lines` lines of a file (reading at most its last 4 MiB).
pub(super) fn tail(path: &Path, lines: usize) -> Result<String, DriverError> {
    const WINDOW: u64 = 4 * 1024 * 1024;
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
        Err(e) => return Err(DriverError::io("reading the log", e)),
    };
    let len = file
        .metadata()
        .map_err(|e| DriverError::io("reading the log", e))?
        .len();
    file.seek(SeekFrom::Start(len.saturating_sub(WINDOW)))
        .map_err(|e| DriverError::io("reading the log", e))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| DriverError::io("reading the log", e))?;
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    let mut out = all[start..].join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails_logs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, "a\nb\nc\n").unwrap();
        assert_eq!(tail(&path, 2).unwrap(), "b\nc\n");
        assert_eq!(tail(&path, 10).unwrap(), "a\nb\nc\n");
        assert_eq!(tail(&dir.path().join("none"), 10).unwrap(), "");
    }
}
