//! Opening the store: create, upgrade through the migrations, or refuse.

use std::path::Path;
use std::sync::atomic::AtomicU64;

use redb::{Database, ReadTransaction, ReadableDatabase, TableError, WriteTransaction};

use super::{Store, StoreError, migrations, tables};

/// The schema this binary reads and writes.
pub const CURRENT_VERSION: u64 = 15;

const VERSION_KEY: &str = "schema_version";

/// The schema version recorded in the store, `None` for a file without one.
pub fn version(tx: &ReadTransaction) -> Result<Option<u64>, StoreError> {
    match tx.open_table(tables::META) {
        Ok(table) => Ok(redb::ReadableTable::get(&table, VERSION_KEY)?.map(|v| v.value())),
        Err(TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn set_version_tx(tx: &WriteTransaction, version: u64) -> Result<(), StoreError> {
    tx.open_table(tables::META)?.insert(VERSION_KEY, version)?;
    Ok(())
}

/// Creates every table of the current schema that does not exist yet.
fn create_tables_tx(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(tables::META)?;
    tx.open_table(tables::USER_ID_TO_USER)?;
    tx.open_table(tables::USERNAME_TO_USER_ID)?;
    tx.open_table(tables::SESSION_TOKEN_HASH_TO_SESSION)?;
    tx.open_multimap_table(tables::USER_ID_TO_SESSION_TOKEN_HASHES)?;
    tx.open_table(tables::PROJECT_ID_TO_PROJECT)?;
    tx.open_multimap_table(tables::USER_ID_TO_PROJECT_IDS)?;
    tx.open_table(tables::APPLICATION_ID_TO_APPLICATION)?;
    tx.open_multimap_table(tables::USER_ID_TO_APPLICATION_IDS)?;
    tx.open_multimap_table(tables::PROJECT_ID_TO_APPLICATION_IDS)?;
    tx.open_table(tables::REVIEWING_APPLICATION_IDS)?;
    tx.open_table(tables::USER_ID_TO_ACTIVATION)?;
    tx.open_table(tables::MAIL_ID_TO_MAIL)?;
    tx.open_table(tables::PLATFORM_SETTINGS)?;
    tx.open_table(tables::GPU_TYPE_ID_TO_GPU_TYPE)?;
    tx.open_table(tables::HARDWARE_SPEC_ID_TO_SPEC)?;
    tx.open_table(tables::IMAGE_ID_TO_IMAGE)?;
    tx.open_table(tables::STORAGE_TYPE_ID_TO_STORAGE_TYPE)?;
    tx.open_table(tables::PURPOSE_ID_TO_PURPOSE)?;
    tx.open_table(tables::CATALOG_NAME_TO_ID)?;
    tx.open_table(tables::HOLD_ID_TO_HOLD)?;
    tx.open_multimap_table(tables::PROJECT_ID_TO_HOLD_IDS)?;
    tx.open_table(tables::WORKLOAD_ID_TO_WORKLOAD)?;
    tx.open_multimap_table(tables::PROJECT_ID_TO_WORKLOAD_IDS)?;
    tx.open_table(tables::PROJECT_WORKLOAD_NAME_TO_ID)?;
    tx.open_table(tables::DUE_WORKLOAD_IDS)?;
    tx.open_table(tables::VOLUME_ID_TO_VOLUME)?;
    tx.open_multimap_table(tables::PROJECT_ID_TO_VOLUME_IDS)?;
    tx.open_table(tables::PROJECT_VOLUME_NAME_TO_ID)?;
    tx.open_table(tables::DUE_VOLUME_IDS)?;
    tx.open_table(tables::KEY_PAIR_ID_TO_KEY_PAIR)?;
    tx.open_multimap_table(tables::USER_ID_TO_KEY_PAIR_IDS)?;
    tx.open_table(tables::USER_KEY_PAIR_NAME_TO_ID)?;
    tx.open_table(tables::USER_KEY_PAIR_FINGERPRINT_TO_ID)?;
    tx.open_table(tables::USER_ID_TO_TERMS_ACCEPTANCE)?;
    tx.open_table(tables::CUSTOM_IMAGE_ID_TO_IMAGE)?;
    tx.open_multimap_table(tables::PROJECT_ID_TO_CUSTOM_IMAGE_IDS)?;
    tx.open_multimap_table(tables::USER_ID_TO_CUSTOM_IMAGE_IDS)?;
    tx.open_table(tables::PROJECT_IMAGE_REF_TO_CUSTOM_IMAGE_ID)?;
    tx.open_table(tables::PROJECT_CONTAINER_ID_TO_OWNER_NAME)?;
    tx.open_table(tables::PROJECT_JOB_ID_TO_OWNER_NAME)?;
    tx.open_table(tables::ORDER_ID_TO_ORDER)?;
    tx.open_multimap_table(tables::USER_ID_TO_ORDER_IDS)?;
    tx.open_multimap_table(tables::PROJECT_ID_TO_ORDER_IDS)?;
    tx.open_table(tables::WORKLOAD_RUN_INTERVALS)?;
    tx.open_multimap_table(tables::PROJECT_ID_TO_QUEUED_JOB_IDS)?;
    tx.open_table(tables::WORKLOAD_MINUTE_TO_SAMPLE)?;
    tx.open_table(tables::WORKLOAD_HOUR_TO_ROLLUP)?;
    tx.open_table(tables::DUE_MAIL_IDS)?;
    tx.open_table(tables::JOB_TEMPLATE_ID_TO_TEMPLATE)?;
    tx.open_multimap_table(tables::PROJECT_ID_TO_JOB_TEMPLATE_IDS)?;
    tx.open_table(tables::PROJECT_JOB_TEMPLATE_NAME_TO_ID)?;
    tx.open_table(tables::JOB_SCHEDULE_ID_TO_SCHEDULE)?;
    tx.open_multimap_table(tables::PROJECT_ID_TO_JOB_SCHEDULE_IDS)?;
    tx.open_table(tables::PROJECT_JOB_SCHEDULE_NAME_TO_ID)?;
    tx.open_multimap_table(tables::JOB_TEMPLATE_ID_TO_SCHEDULE_IDS)?;
    tx.open_table(tables::DUE_JOB_SCHEDULE_IDS)?;
    tx.open_table(tables::EMAIL_TOKEN_HASH_TO_VERIFICATION)?;
    tx.open_table(tables::AUDIT_TIME_TO_EVENT)?;
    tx.open_table(tables::WORKLOAD_MINUTE_TO_USAGE)?;
    Ok(())
}

pub(super) fn open(path: &Path) -> Result<Store, StoreError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    // The data directory and the store file are the server's user's only
    // (0700, 0600), whatever the umask; an older install's are corrected.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .and_then(|()| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)))
            .map_err(|e| StoreError::Backend(redb::Error::Io(e)))?;
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
        .map_err(|e| StoreError::Backend(redb::Error::Io(e)))?;

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
    if db.compact()? {
        tracing::debug!("store compacted");
    }
    Ok(Store {
        db,
        path: path.to_owned(),
        commits: AtomicU64::new(0),
    })
}
