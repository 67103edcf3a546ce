//! Schema 5 -> 6: job templates and job schedules. Only new tables; no
//! record changes.

use redb::WriteTransaction;

use super::super::{StoreError, tables};

/// Creates the job template and job schedule tables (also run for a new
/// store, so that the list of tables lives in one place).
pub fn create_tables_tx(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(tables::JOB_TEMPLATE_ID_TO_TEMPLATE)?;
    tx.open_multimap_table(tables::PROJECT_ID_TO_JOB_TEMPLATE_IDS)?;
    tx.open_table(tables::PROJECT_JOB_TEMPLATE_NAME_TO_ID)?;
    tx.open_table(tables::JOB_SCHEDULE_ID_TO_SCHEDULE)?;
    tx.open_multimap_table(tables::PROJECT_ID_TO_JOB_SCHEDULE_IDS)?;
    tx.open_table(tables::PROJECT_JOB_SCHEDULE_NAME_TO_ID)?;
    tx.open_multimap_table(tables::JOB_TEMPLATE_ID_TO_SCHEDULE_IDS)?;
    tx.open_table(tables::DUE_JOB_SCHEDULE_IDS)?;
    Ok(())
}
