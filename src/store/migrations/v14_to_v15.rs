//! Schema 14 → 15: the job list's index.
//!
//! Schema 15 adds `project_job_id_to_owner_name`, (project, job) -> (owner,
//! name), so that the job list counts and pages a project's jobs (ten
//! thousand may wait in a queue) without decoding every record, as the
//! container list does since schema 6. This step fills it from the existing
//! jobs; records are unchanged.

use redb::{ReadableTable, WriteTransaction};

use super::super::workloads::{self, WorkloadRecord};
use super::super::{StoreError, codec, tables};

pub(super) fn run_tx(tx: &WriteTransaction) -> Result<(), StoreError> {
    let records: Vec<WorkloadRecord> = {
        let table = tx.open_table(tables::WORKLOAD_ID_TO_WORKLOAD)?;
        let mut records = Vec::new();
        for entry in table.iter()? {
            records.push(codec::decode(entry?.1.value())?);
        }
        records
    };
    let mut indexed = 0usize;
    for record in &records {
        if workloads::index_job_tx(tx, record)? {
            indexed += 1;
        }
    }
    tracing::info!(jobs = indexed, "indexed the jobs for their list");
    Ok(())
}
