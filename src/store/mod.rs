//! The redb store: the single source of truth. Only this module names redb.
//!
//! Each entity has a module with plain functions that open their own
//! transaction and `*_tx` functions that compose inside a caller's write
//! transaction. A write is acknowledged only after its commit returned, and
//! every commit is durable (`Durability::Immediate`, redb's default).

pub mod activations;
pub mod audit;
pub mod backup;
pub mod catalog;
mod codec;
pub mod custom_images;
mod due;
pub mod email_verifications;
pub mod holds;
pub mod job_schedules;
pub mod job_templates;
pub mod key_pairs;
pub mod metrics;
pub mod migrations;
pub mod orders;
pub mod outbox;
pub mod platform;
pub mod projects;
pub mod runs;
pub mod schema;
pub mod sessions;
pub mod tables;
pub mod users;
pub mod volumes;
pub mod workloads;

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock};

use redb::{Database, ReadTransaction, ReadableDatabase, WriteTransaction};

pub use redb::{ReadTransaction as ReadTx, WriteTransaction as WriteTx};

/// File name of the store inside the data directory.
pub const FILE_NAME: &str = "mlstack.redb";

/// Problems reading or writing the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the store {path} is already open in another process (is another mlstack running with the same data directory?)"
    )]
    AlreadyOpen { path: PathBuf },
    #[error(
        "the store {path} has schema version {found}, newer than this mlstack supports ({supported}); upgrade mlstack instead of downgrading"
    )]
    NewerSchema {
        path: PathBuf,
        found: u64,
        supported: u64,
    },
    #[error(
        "the file {path} holds tables but no mlstack schema version; it is not an mlstack store"
    )]
    NotAStore { path: PathBuf },
    #[error("a stored record could not be read: {0}")]
    Corrupt(String),
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// The disk of the data directory is full (ENOSPC, or EDQUOT: over the
    /// user's disk quota): the write was not committed.
    #[error("the disk of the store is full; nothing was saved ({0})")]
    DiskFull(std::io::Error),
    #[error("store: {0}")]
    Backend(redb::Error),
}

impl From<redb::Error> for StoreError {
    fn from(e: redb::Error) -> Self {
        match e {
            redb::Error::Io(io) if is_disk_full(&io) => StoreError::DiskFull(io),
            other => StoreError::Backend(other),
        }
    }
}

/// Whether an I/O error says that the disk (ENOSPC) or the user's quota on
/// it (EDQUOT) is full, also where redb wrapped the system's error in one
/// of its own.
fn is_disk_full(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    ) || e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<std::io::Error>())
        .is_some_and(is_disk_full)
}

macro_rules! backend_error {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::from(redb::Error::from(e))
            }
        }
    )*};
}
backend_error!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::CompactionError
);

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::from(redb::Error::Io(e))
    }
}

/// An open store. One per process: a second open of the same file fails.
pub struct Store {
    /// The open database and how many times it was opened.
    slot: RwLock<Slot>,
    /// Held across each write transaction and while the database is opened
    /// again: one writer at a time (redb allows no more), and none while
    /// the file is closed and opened.
    writer: Mutex<()>,
    path: PathBuf,
    /// Write transactions committed since the store was opened.
    commits: AtomicU64,
    /// Why the last write failed, until a write commits again.
    failure: Mutex<Option<WriteFailure>>,
}

thread_local! {
    /// Whether this thread holds a store's writer lock.
    static WRITING: Cell<bool> = const { Cell::new(false) };
}

/// The writer lock; the thread's mark goes with it.
struct WriterGuard<'a> {
    _guard: MutexGuard<'a, ()>,
}

impl Drop for WriterGuard<'_> {
    fn drop(&mut self) {
        WRITING.set(false);
    }
}

/// The database, `None` while it could not be opened again, and its
/// generation: one more each time it is opened again.
struct Slot {
    db: Option<Database>,
    generation: u64,
}

/// Why the last write transaction failed to commit: what `/readyz` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteFailure {
    /// The disk of the data directory is full.
    DiskFull,
    /// Another I/O error, with its message.
    Io(String),
}

impl std::fmt::Display for WriteFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteFailure::DiskFull => f.write_str("the last write failed: the disk is full"),
            WriteFailure::Io(message) => write!(f, "the last write failed: {message}"),
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// The error of a database that refuses everything after an I/O error
/// until it is closed and opened again.
fn is_previous_io(e: &redb::TransactionError) -> bool {
    matches!(
        e,
        redb::TransactionError::Storage(redb::StorageError::PreviousIo)
    )
}

impl Store {
    /// Opens (creating if needed) the store in `data_dir`, upgrading an older
    /// schema and refusing a newer one, and compacts it; when the disk is
    /// too full to compact, it opens without.
    pub fn open_in(data_dir: &Path) -> Result<Store, StoreError> {
        let path = data_dir.join(FILE_NAME);
        let db = match schema::open(&path, true) {
            Err(StoreError::DiskFull(e)) => {
                tracing::warn!(error = %e, "the disk is full: the store was not compacted");
                schema::open(&path, false)?
            }
            other => other?,
        };
        Ok(Store {
            slot: RwLock::new(Slot {
                db: Some(db),
                generation: 0,
            }),
            writer: Mutex::new(()),
            path,
            commits: AtomicU64::new(0),
            failure: Mutex::new(None),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock_writer(&self) -> WriterGuard<'_> {
        let guard = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        WRITING.set(true);
        WriterGuard { _guard: guard }
    }

    /// The writer lock for a read that heals the database, unless this
    /// thread holds it already (a read inside a write transaction): that
    /// read does without.
    fn lock_writer_for_read(&self) -> Option<WriterGuard<'_>> {
        (!WRITING.get()).then(|| self.lock_writer())
    }

    /// With the writer lock held: opens the database where it is closed,
    /// or closes it and opens it again where it refuses writes after an
    /// I/O error (redb's `PreviousIo`: a failed commit leaves the file for
    /// the next open to recover). A read transaction of the old database
    /// then fails and `read` runs it again.
    fn heal_locked(&self) -> Result<bool, StoreError> {
        let mut slot = self.slot.write().unwrap_or_else(PoisonError::into_inner);
        let failed = match &slot.db {
            None => true,
            // No write transaction is live (the writer lock is held): this
            // one is aborted unused, only to ask whether writes work.
            Some(db) => match db.begin_write() {
                Ok(tx) => tx.abort().is_err(),
                Err(e) => is_previous_io(&e),
            },
        };
        if failed {
            slot.db = None;
            slot.generation += 1;
            slot.db = Some(schema::open(&self.path, false)?);
            tracing::info!("store opened again after a failed write");
        }
        Ok(failed)
    }

    /// Begins a read transaction (a consistent snapshot) and says of which
    /// generation of the database.
    fn begin_read_generation(&self) -> Result<(ReadTransaction, u64), StoreError> {
        {
            let slot = self.slot.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(db) = &slot.db {
                match db.begin_read() {
                    Err(e) if is_previous_io(&e) => {}
                    other => return Ok((other?, slot.generation)),
                }
            }
        }
        let Some(_writer) = self.lock_writer_for_read() else {
            return Err(self.classified(StoreError::Backend(redb::Error::DatabaseClosed)));
        };
        self.heal_locked().map_err(|e| self.classified(e))?;
        let slot = self.slot.read().unwrap_or_else(PoisonError::into_inner);
        match &slot.db {
            Some(db) => Ok((db.begin_read()?, slot.generation)),
            None => Err(self.classified(StoreError::Backend(redb::Error::DatabaseClosed))),
        }
    }

    /// Begins a read transaction (a consistent snapshot).
    pub(crate) fn begin_read(&self) -> Result<ReadTransaction, StoreError> {
        Ok(self.begin_read_generation()?.0)
    }

    /// Runs `f` in a read transaction (a consistent snapshot). When `f`
    /// fails because the database failed under it (a write's I/O error)
    /// and was opened again, `f` runs once more on the new one.
    pub fn read<R, E>(&self, f: impl Fn(&ReadTransaction) -> Result<R, E>) -> Result<R, E>
    where
        E: From<StoreError>,
    {
        let (tx, generation) = self.begin_read_generation()?;
        match f(&tx) {
            Err(e) => {
                drop(tx);
                if self.healed_since(generation)? {
                    let tx = self.begin_read()?;
                    return f(&tx);
                }
                Err(e)
            }
            ok => ok,
        }
    }

    /// Whether the database was opened again since `generation`, healing
    /// it first where writes fail.
    fn healed_since(&self, generation: u64) -> Result<bool, StoreError> {
        let Some(_writer) = self.lock_writer_for_read() else {
            return Ok(false);
        };
        self.heal_locked().map_err(|e| self.classified(e))?;
        Ok(self
            .slot
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .generation
            != generation)
    }

    /// Runs `f` in a write transaction, committing durably when it returns
    /// `Ok` and discarding every change when it returns `Err`. A write that
    /// fails for an I/O error (a full disk) changes nothing and is
    /// remembered until a write commits again; a database that then
    /// refuses writes is opened again at once.
    pub fn write<R, E>(&self, f: impl FnOnce(&WriteTransaction) -> Result<R, E>) -> Result<R, E>
    where
        E: From<StoreError>,
    {
        let _writer = self.lock_writer();
        let tx = self.begin_write_locked().map_err(|e| self.failed(e))?;
        match f(&tx) {
            Ok(value) => match tx.commit() {
                Ok(()) => {
                    self.commits.fetch_add(1, Ordering::Release);
                    *self.failure.lock().unwrap_or_else(PoisonError::into_inner) = None;
                    Ok(value)
                }
                Err(e) => {
                    let e = self.failed(StoreError::from(e));
                    if let Err(open) = self.heal_locked() {
                        tracing::error!(error = %open, "the store could not be opened again after a failed write");
                    }
                    Err(e.into())
                }
            },
            Err(e) => {
                // The caller's own refusal, unless the file failed under
                // the transaction: what `f` saw then may be only redb's
                // `PreviousIo`, and the store's error is the one to report.
                let aborted = tx.abort().is_ok();
                match self.heal_locked() {
                    Ok(false) if aborted => Err(e),
                    Ok(_) => Err(self
                        .failed(StoreError::Backend(redb::Error::PreviousIo))
                        .into()),
                    Err(open) => Err(self.failed(open).into()),
                }
            }
        }
    }

    /// With the writer lock held: begins a write transaction, healing the
    /// database first where it refuses.
    fn begin_write_locked(&self) -> Result<WriteTransaction, StoreError> {
        {
            let slot = self.slot.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(db) = &slot.db {
                match db.begin_write() {
                    Err(e) if is_previous_io(&e) => {}
                    other => return Ok(other?),
                }
            }
        }
        self.heal_locked()?;
        let slot = self.slot.read().unwrap_or_else(PoisonError::into_inner);
        match &slot.db {
            Some(db) => Ok(db.begin_write()?),
            None => Err(StoreError::Backend(redb::Error::DatabaseClosed)),
        }
    }

    /// `e`, or a full disk where it is redb's `PreviousIo` (an earlier I/O
    /// error, whose cause it does not keep) or a database that could not be
    /// opened again, while less than [`PROBE_FREE_BYTES`] are free.
    fn classified(&self, e: StoreError) -> StoreError {
        match e {
            StoreError::Backend(redb::Error::PreviousIo | redb::Error::DatabaseClosed)
                if self.free_bytes() < PROBE_FREE_BYTES =>
            {
                StoreError::DiskFull(std::io::ErrorKind::StorageFull.into())
            }
            other => other,
        }
    }

    /// Remembers why a write failed (for `/readyz`) and returns the error
    /// to report: redb's `PreviousIo` (an earlier I/O error, whose cause
    /// it does not keep) is a full disk where less than
    /// [`PROBE_FREE_BYTES`] are free. A refusal of the store's own rules is
    /// no failure.
    fn failed(&self, e: StoreError) -> StoreError {
        let e = self.classified(e);
        let failure = match &e {
            StoreError::DiskFull(_) => WriteFailure::DiskFull,
            StoreError::Backend(b) => WriteFailure::Io(b.to_string()),
            _ => return e,
        };
        tracing::error!(error = %e, "a write to the store failed");
        *self.failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(failure);
        e
    }

    /// How many write transactions this process has committed: what a read
    /// begun after this number was taken sees is at least as new as that
    /// commit, so a snapshot read then stays current while it is unchanged.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Acquire)
    }

    /// Whether the store answers a read and, after a write failed, commits
    /// again; used by `/readyz`. While a failure is remembered, each call
    /// tries one small commit (the schema version written again) and is
    /// ready only once it commits — after a full disk, only once
    /// [`PROBE_FREE_BYTES`] are free again, since a small commit may fit
    /// where the users' writes do not. Otherwise it only reads.
    pub fn readiness(&self) -> Result<(), NotReady> {
        let failure = self
            .failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(failure) = failure {
            if failure == WriteFailure::DiskFull && self.free_bytes() < PROBE_FREE_BYTES {
                return Err(NotReady::WriteFailed(failure));
            }
            if self
                .write(|tx| schema::set_version_tx(tx, schema::CURRENT_VERSION))
                .is_err()
            {
                let failure = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
                return Err(NotReady::WriteFailed(failure.clone().unwrap_or(
                    WriteFailure::Io("a write to the store failed".to_owned()),
                )));
            }
        }
        match self.read(schema::version) {
            Ok(Some(schema::CURRENT_VERSION)) => Ok(()),
            _ => Err(NotReady::Unreadable),
        }
    }

    /// The bytes free to the server's user on the store's file system (0
    /// when it cannot be asked).
    fn free_bytes(&self) -> u64 {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        rustix::fs::statvfs(dir).map_or(0, |s| s.f_bavail.saturating_mul(s.f_frsize))
    }
}

/// Free space on the store's file system below which `/readyz` stays not
/// ready after a write failed for a full disk.
pub const PROBE_FREE_BYTES: u64 = 1 << 20;

/// Why the store is not ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotReady {
    /// A read failed or found no current schema.
    Unreadable,
    /// The last write failed, and a write still fails.
    WriteFailed(WriteFailure),
}

impl std::fmt::Display for NotReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotReady::Unreadable => f.write_str("the store does not answer"),
            NotReady::WriteFailed(failure) => failure.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enospc_and_edquot_are_a_full_disk_also_inside_another_io_error() {
        for code in [28, 122] {
            let e = StoreError::from(std::io::Error::from_raw_os_error(code));
            assert!(matches!(e, StoreError::DiskFull(_)), "{code}: {e}");
            let wrapped = std::io::Error::other(std::io::Error::from_raw_os_error(code));
            let e = StoreError::from(redb::Error::Io(wrapped));
            assert!(matches!(e, StoreError::DiskFull(_)), "{code} wrapped: {e}");
        }
        let e = StoreError::from(std::io::Error::from_raw_os_error(5));
        assert!(matches!(e, StoreError::Backend(_)), "{e}");
    }

    #[test]
    fn a_store_with_no_failed_write_is_ready_and_commits() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open_in(dir.path()).expect("store");
        assert_eq!(store.readiness(), Ok(()));
        store
            .write(|tx| schema::set_version_tx(tx, schema::CURRENT_VERSION))
            .expect("write");
        assert_eq!(store.commits(), 1);
        assert_eq!(store.readiness(), Ok(()));
    }
}
