//! Schema 11 → 12: the e-mail verification links
//! (`EMAIL_TOKEN_HASH_TO_VERIFICATION`). No record changes: a user record
//! without `emails` reads as nothing verified, every mail but job endings
//! to the login e-mail.

use redb::WriteTransaction;

use crate::store::{StoreError, tables};

pub fn run_tx(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(tables::EMAIL_TOKEN_HASH_TO_VERIFICATION)?;
    Ok(())
}
