//! Schema 10 → 11: job templates and job schedules (with the schedules'
//! next-run index). No record changes; the step creates the tables.

use redb::WriteTransaction;

use crate::store::{StoreError, tables};

pub fn run_tx(tx: &WriteTransaction) -> Result<(), StoreError> {
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
