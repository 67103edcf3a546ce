//! Schema 6 -> 7: order records and run intervals (the cost center).
//!
//! Adds the order tables and `WORKLOAD_RUN_INTERVALS`; no record changes.
//! Workloads created before the upgrade have no order, so no price: the
//! cost center counts nothing for them. One running at the upgrade gets its
//! interval opened by the first observation the reconcile loop writes
//! afterwards (its resync at start-up).

use redb::WriteTransaction;

use super::super::{StoreError, tables};

pub(super) fn run_tx(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(tables::ORDER_ID_TO_ORDER)?;
    tx.open_multimap_table(tables::USER_ID_TO_ORDER_IDS)?;
    tx.open_multimap_table(tables::PROJECT_ID_TO_ORDER_IDS)?;
    tx.open_table(tables::WORKLOAD_RUN_INTERVALS)?;
    Ok(())
}
