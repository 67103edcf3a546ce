//! Schema 12 → 13: the audit log table. No record changes; the step creates
//! the table (an upgraded store's log starts empty).

use redb::WriteTransaction;

use crate::store::{StoreError, tables};

pub fn run_tx(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(tables::AUDIT_TIME_TO_EVENT)?;
    Ok(())
}
