//! Forward-only schema migrations, one module per step. Each step runs inside
//! the single write transaction that also records the new version, so an
//! upgrade either completes or leaves the old store untouched.

pub mod v10_to_v11;
pub mod v11_to_v12;
pub mod v12_to_v13;
pub mod v13_to_v14;
pub mod v14_to_v15;
pub mod v15_to_v16;
pub mod v1_to_v2;
pub mod v5_to_v6;
pub mod v6_to_v7;
pub mod v7_to_v8;
pub mod v8_to_v9;
pub mod v9_to_v10;

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
            5 => v5_to_v6::run_tx(tx)?,
            6 => v6_to_v7::run_tx(tx)?,
            7 => v7_to_v8::run_tx(tx)?,
            8 => v8_to_v9::run_tx(tx)?,
            9 => v9_to_v10::run_tx(tx)?,
            10 => v10_to_v11::run_tx(tx)?,
            11 => v11_to_v12::run_tx(tx)?,
            12 => v12_to_v13::run_tx(tx)?,
            13 => v13_to_v14::run_tx(tx)?,
            14 => v14_to_v15::run_tx(tx)?,
            15 => v15_to_v16::run_tx(tx)?,
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
