//! Schema 9 → 10: the mail sender's work list `DUE_MAIL_IDS`. Mails queued
//! before it (status Pending) are listed, so they are delivered too.

use redb::WriteTransaction;

use crate::store::{StoreError, outbox, tables};

pub fn run_tx(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(tables::DUE_MAIL_IDS)?;
    outbox::index_pending_tx(tx)
}
