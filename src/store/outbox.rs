//! The durable mail outbox: a mail is recorded in the same transaction as
//! the change it tells about; the mail sender delivers it later.

use jiff::Timestamp;
use redb::{ReadTransaction, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{StoreError, codec, tables};
use crate::domain::ids::{MailId, UserId};

/// Whether a mail has left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailStatus {
    Pending,
    Sent,
    Failed,
}

/// One mail to one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailRecord {
    pub id: MailId,
    pub to_user: UserId,
    /// The address at the time of writing; empty when the user has none.
    pub to_address: String,
    pub subject: String,
    pub body: String,
    pub created_at: Timestamp,
    pub status: MailStatus,
}

pub fn put_tx(tx: &WriteTransaction, mail: &MailRecord) -> Result<(), StoreError> {
    tx.open_table(tables::MAIL_ID_TO_MAIL)?
        .insert(mail.id.as_u128(), codec::encode(mail)?.as_slice())?;
    Ok(())
}

/// Every mail, newest first.
pub fn all_read_tx(tx: &ReadTransaction) -> Result<Vec<MailRecord>, StoreError> {
    let table = tx.open_table(tables::MAIL_ID_TO_MAIL)?;
    let mut out: Vec<MailRecord> = table
        .iter()?
        .map(|entry| {
            let (_, bytes) = entry?;
            codec::decode(bytes.value())
        })
        .collect::<Result<_, _>>()?;
    out.reverse();
    Ok(out)
}
