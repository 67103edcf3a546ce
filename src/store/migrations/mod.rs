//! Forward-only schema migrations, one module per step. Each step runs inside
//! the single write transaction that also records the new version, so an
//! upgrade either completes or leaves the old store untouched.

pub mod v1_to_v2;
pub mod v5_to_v6;

use redb::WriteTransaction;

use super::StoreError;

/// Upgrades a store at schema version `from` to the current one.
pub fn upgrade_tx(tx: &WriteTransaction, from: u64) -> Result<(), StoreError> {
    let mut version = from;
    while version < super::schema::CURRENT_VERSION {
        match version {
            1 => v1_to_v2::run_tx(tx)?,
            // Schema 3 only adds the project, application, outbox, settings
            // and catalog tables, schema 4 the workload and volume tables,
            // and schema 5 the key pair, usage terms acceptance and custom
            // image tables; the caller creates them after the steps.
            2..=4 => {}
            5 => v5_to_v6::create_tables_tx(tx)?,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "no migration from schema version {other}"
                )));
            }
        }
        version += 1;
    }
    Ok(())
}
