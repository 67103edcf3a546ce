//! The durable mail outbox: a mail is recorded in the same transaction as
//! the change it tells about; the mail sender (`worker/mailer.rs`) delivers
//! it later. A mail waiting for delivery has an entry in `DUE_MAIL_IDS` at
//! its next try.

use jiff::Timestamp;
use redb::{ReadTransaction, ReadableTable, ReadableTableMetadata, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{StoreError, codec, due, tables};
use crate::domain::ids::{MailId, UserId};

/// Whether a mail has left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailStatus {
    /// Queued: waiting for its first or next try.
    Pending,
    Sent,
    /// Given up: the server refused it for good, or every try failed.
    Failed,
    /// Kept in the outbox only: the user has no address mail may go to.
    NoAddress,
}

/// One mail to one address of one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailRecord {
    pub id: MailId,
    pub to_user: UserId,
    /// The address at the time of writing; empty when the user has none.
    pub to_address: String,
    /// The recipient's display name (may be non-ASCII).
    #[serde(default)]
    pub to_name: String,
    pub subject: String,
    /// The plain text part.
    pub body: String,
    /// The HTML part (empty in mails written before there was one).
    #[serde(default)]
    pub html: String,
    pub created_at: Timestamp,
    pub status: MailStatus,
    /// Delivery tries so far.
    #[serde(default)]
    pub attempts: u32,
    /// What the last failed try reported.
    #[serde(default)]
    pub last_error: Option<String>,
    /// When the next try is due (Pending only).
    #[serde(default)]
    pub next_try: Option<Timestamp>,
    #[serde(default)]
    pub sent_at: Option<Timestamp>,
}

impl MailRecord {
    /// When the mail sender should try it, if it should.
    fn due_at(&self) -> Option<Timestamp> {
        (self.status == MailStatus::Pending).then(|| self.next_try.unwrap_or(self.created_at))
    }
}

/// Writes a mail and keeps its due entry in step.
pub fn put_tx(tx: &WriteTransaction, mail: &MailRecord) -> Result<(), StoreError> {
    let old = get_tx(tx, mail.id)?.and_then(|m| m.due_at());
    tx.open_table(tables::MAIL_ID_TO_MAIL)?
        .insert(mail.id.as_u128(), codec::encode(mail)?.as_slice())?;
    due::move_tx(
        tx,
        tables::DUE_MAIL_IDS,
        mail.id.as_u128(),
        old,
        mail.due_at(),
    )
}

pub fn get_tx(tx: &WriteTransaction, id: MailId) -> Result<Option<MailRecord>, StoreError> {
    codec::decode_one(&tx.open_table(tables::MAIL_ID_TO_MAIL)?, id.as_u128())
}

/// At most `limit` mails due at `now` or before, the longest waiting first.
pub fn due_read_tx(
    tx: &ReadTransaction,
    now: Timestamp,
    limit: usize,
) -> Result<Vec<MailRecord>, StoreError> {
    due::records_read_tx(
        tx,
        tables::DUE_MAIL_IDS,
        tables::MAIL_ID_TO_MAIL,
        now,
        limit,
    )
}

/// Page `page` (from 1; past the end: the last) of `page_size` mails of
/// the outbox, newest first (ids are UUIDv7, in time order), how many it
/// holds, and the page shown; only the page's mails are decoded.
pub fn page_read_tx(
    tx: &ReadTransaction,
    page: usize,
    page_size: usize,
) -> Result<(Vec<MailRecord>, usize, usize), StoreError> {
    let table = tx.open_table(tables::MAIL_ID_TO_MAIL)?;
    let total = usize::try_from(table.len()?).unwrap_or(usize::MAX);
    let page_size = page_size.max(1);
    let page = page.clamp(1, total.div_ceil(page_size).max(1));
    let mails = table
        .iter()?
        .rev()
        .skip((page - 1).saturating_mul(page_size))
        .take(page_size)
        .map(|entry| {
            let (_, bytes) = entry?;
            codec::decode(bytes.value())
        })
        .collect::<Result<_, _>>()?;
    Ok((mails, total, page))
}

/// Gives every Pending mail without a due entry one (the upgrade to the
/// schema that added `DUE_MAIL_IDS`: mails queued before it are delivered).
pub fn index_pending_tx(tx: &WriteTransaction) -> Result<(), StoreError> {
    let pending: Vec<MailRecord> = {
        let table = tx.open_table(tables::MAIL_ID_TO_MAIL)?;
        table
            .iter()?
            .map(|entry| {
                let (_, bytes) = entry?;
                codec::decode::<MailRecord>(bytes.value())
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    for mail in pending {
        due::move_tx(
            tx,
            tables::DUE_MAIL_IDS,
            mail.id.as_u128(),
            None,
            mail.due_at(),
        )?;
    }
    Ok(())
}
