//! Schema 13 → 14: a container's CPU, memory and network per minute
//! (`workload_minute_to_usage`). No record changes; the step creates the
//! table.

use redb::WriteTransaction;

use crate::store::{StoreError, tables};

pub fn run_tx(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(tables::WORKLOAD_MINUTE_TO_USAGE)?;
    Ok(())
}
