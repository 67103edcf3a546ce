//! Opening the store: create, upgrade through the migrations, or refuse.

use std::path::Path;

use redb::{Database, ReadTransaction, ReadableDatabase, TableError, WriteTransaction};

use super::{StoreError, migrations, tables};

/// The schema this binary reads and writes.
pub const CURRENT_VERSION: u64 = 16;

const VERSION_KEY: &str = "schema_version";

/// The schema version recorded in the store, `None` for a file without one.
pub fn version(tx: &ReadTransaction) -> Result<Option<u64>, StoreError> {
    match tx.open_table(tables::META) {
        Ok(table) => Ok(redb::ReadableTable::get(&table, VERSION_KEY)?.map(|v| v.value())),
        Err(TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub(super) fn set_version_tx(tx: &WriteTransaction, version: u64) -> Result<(), StoreError> {
    tx.open_table(tables::META)?.insert(VERSION_KEY, version)?;
    Ok(())
}

/// Creates every table of the current schema that does not exist yet.
fn create_tables_tx(tx: &WriteTransaction) -> Result<(), StoreError> {
    tables::for_each_table!(
        |table| {
            tx.open_table(table)?;
        },
        |table| {
            tx.open_multimap_table(table)?;
        },
    );
    Ok(())
}

/// Opens the store file at `path` (creating it), upgrading an older schema
/// and refusing a newer one; with `compact`, the file is compacted too (at
/// start-up, not when the store is opened again after a failed write: a
/// compaction needs free space).
pub(super) fn open(path: &Path, compact: bool) -> Result<Database, StoreError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    // The data directory and the store file are the server's user's only
    // (0700, 0600), whatever the umask; an older install's are corrected.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .and_then(|()| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)))
            .map_err(StoreError::from)?;
    }
    let mut db = Database::builder()
        .set_repair_callback(|session| {
            tracing::warn!(
                progress = session.progress(),
                "repairing the store after an unclean shutdown"
            );
        })
        .create(path)
        .map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::AlreadyOpen {
                path: path.to_owned(),
            },
            other => other.into(),
        })?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(StoreError::from)?;

    let found = {
        let tx = db.begin_read()?;
        let found = version(&tx)?;
        if found.is_none() && tx.list_tables()?.next().is_some() {
            return Err(StoreError::NotAStore {
                path: path.to_owned(),
            });
        }
        found
    };
    match found {
        Some(v) if v > CURRENT_VERSION => {
            return Err(StoreError::NewerSchema {
                path: path.to_owned(),
                found: v,
                supported: CURRENT_VERSION,
            });
        }
        Some(CURRENT_VERSION) => {}
        Some(older) => {
            tracing::info!(
                from = older,
                to = CURRENT_VERSION,
                "upgrading the store schema"
            );
            let tx = db.begin_write()?;
            migrations::upgrade_tx(&tx, older)?;
            create_tables_tx(&tx)?;
            set_version_tx(&tx, CURRENT_VERSION)?;
            tx.commit()?;
        }
        None => {
            let tx = db.begin_write()?;
            create_tables_tx(&tx)?;
            set_version_tx(&tx, CURRENT_VERSION)?;
            tx.commit()?;
        }
    }
    if compact && db.compact()? {
        tracing::debug!("store compacted");
    }
    Ok(db)
}
