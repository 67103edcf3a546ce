//! Schema 8 → 9: the metrics tables — a workload's GPU sample per minute and its
//! hourly rollups. No record changes; the step creates the two tables.

use redb::WriteTransaction;

use crate::store::{StoreError, tables};

pub fn run_tx(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(tables::WORKLOAD_MINUTE_TO_SAMPLE)?;
    tx.open_table(tables::WORKLOAD_HOUR_TO_ROLLUP)?;
    Ok(())
}
