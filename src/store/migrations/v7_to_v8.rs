//! Schema 7 → 8: the job queue. Adds `project_id_to_queued_job_ids`, the
//! index of each project's queued jobs; no record changes (a workload
//! record without `queued` reads as not queued).

use redb::WriteTransaction;

use crate::store::{StoreError, tables};

pub fn run_tx(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_multimap_table(tables::PROJECT_ID_TO_QUEUED_JOB_IDS)?;
    Ok(())
}
