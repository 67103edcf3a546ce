//! Schema 5 -> 6: the container list's index.
//!
//! Schema 6 adds `project_container_id_to_owner_name`, (project, container)
//! -> (owner, name), so that the container list counts and pages a project's
//! containers without decoding every record. This step fills it from the
//! existing containers; records are unchanged.

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
        if workloads::index_container_tx(tx, record)? {
            indexed += 1;
        }
    }
    tracing::info!(
        containers = indexed,
        "indexed the containers for their list"
    );
    Ok(())
}
