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

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

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
    #[error("store: {0}")]
    Backend(#[from] redb::Error),
}

macro_rules! backend_error {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Backend(e.into())
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
        StoreError::Backend(redb::Error::Io(e))
    }
}

/// An open store. One per process: a second open of the same file fails.
pub struct Store {
    db: Database,
    path: PathBuf,
    /// Write transactions committed since the store was opened.
    commits: AtomicU64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if needed) the store in `data_dir`, upgrading an older
    /// schema and refusing a newer one.
    pub fn open_in(data_dir: &Path) -> Result<Store, StoreError> {
        schema::open(&data_dir.join(FILE_NAME))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in a read transaction (a consistent snapshot).
    pub fn read<R, E>(&self, f: impl FnOnce(&ReadTransaction) -> Result<R, E>) -> Result<R, E>
    where
        E: From<StoreError>,
    {
        let tx = self.db.begin_read().map_err(StoreError::from)?;
        f(&tx)
    }

    /// Runs `f` in a write transaction, committing durably when it returns
    /// `Ok` and discarding every change when it returns `Err`.
    pub fn write<R, E>(&self, f: impl FnOnce(&WriteTransaction) -> Result<R, E>) -> Result<R, E>
    where
        E: From<StoreError>,
    {
        let tx = self.db.begin_write().map_err(StoreError::from)?;
        match f(&tx) {
            Ok(value) => {
                tx.commit().map_err(StoreError::from)?;
                self.commits.fetch_add(1, Ordering::Release);
                Ok(value)
            }
            Err(e) => {
                tx.abort().map_err(StoreError::from)?;
                Err(e)
            }
        }
    }

    /// How many write transactions this process has committed: what a read
    /// begun after this number was taken sees is at least as new as that
    /// commit, so a snapshot read then stays current while it is unchanged.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Acquire)
    }

    /// Whether the store answers a read; used by `/readyz`.
    pub fn is_ready(&self) -> bool {
        self.read(schema::version)
            .is_ok_and(|v| v == Some(schema::CURRENT_VERSION))
    }
}
