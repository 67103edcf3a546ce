//! Backing up and restoring the store. A backup is made by the process that
//! holds the store (the server, asked through its control socket, or the
//! command line when no server runs); a restore replaces the store of a
//! stopped instance.

use std::path::{Path, PathBuf};

use super::{ServiceError, Services};
use crate::store::{self, Store, StoreError};

impl Services {
    /// Writes a consistent copy of the store to `target` (a new file) in
    /// one read transaction; writes go on meanwhile. Returns the number of
    /// entries copied.
    pub async fn backup_to(&self, target: PathBuf) -> Result<u64, ServiceError> {
        self.blocking(move |store| Ok(store.backup_to(&target)?))
            .await
    }
}

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    /// The schema version of the backup (older ones were upgraded).
    pub schema_version: u64,
    /// Where the replaced store was kept, if there was one.
    pub previous: Option<PathBuf>,
}

/// Replaces the store in `data_dir` with the backup `file`, on a stopped
/// instance: refused while a server holds the store, when the file is not an
/// mlstack store, or when its schema is newer than this binary's. The
/// replaced store is kept beside it as `mlstack.redb.before-restore`; an
/// older schema is upgraded as at a start.
pub fn restore(data_dir: &Path, file: &Path) -> Result<Restored, ServiceError> {
    let schema_version = store::backup::check_backup(file)?;
    let current = data_dir.join(store::FILE_NAME);
    // Holding the store proves no server does (redb locks the file), and
    // keeps one from starting until the new file is in place.
    let held = if current.exists() {
        Some(Store::open_in(data_dir)?)
    } else {
        std::fs::create_dir_all(data_dir).map_err(io)?;
        None
    };
    let incoming = data_dir.join(format!("{}.restoring", store::FILE_NAME));
    std::fs::copy(file, &incoming).map_err(io)?;
    std::fs::File::open(&incoming)
        .and_then(|f| f.sync_all())
        .map_err(io)?;
    let previous = if held.is_some() {
        let kept = data_dir.join(format!("{}.before-restore", store::FILE_NAME));
        std::fs::rename(&current, &kept).map_err(io)?;
        Some(kept)
    } else {
        None
    };
    std::fs::rename(&incoming, &current).map_err(io)?;
    std::fs::File::open(data_dir)
        .and_then(|d| d.sync_all())
        .map_err(io)?;
    drop(held);
    // Opened once: upgraded if older, and known to open.
    drop(Store::open_in(data_dir)?);
    Ok(Restored {
        schema_version,
        previous,
    })
}

fn io(e: std::io::Error) -> ServiceError {
    ServiceError::Store(StoreError::from(e))
}
