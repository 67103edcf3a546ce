//! E-mail verification links, keyed by the SHA-256 of the token (the
//! token itself is only in the mail).

use jiff::Timestamp;
use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{StoreError, codec, tables};
use crate::domain::ids::UserId;
use crate::domain::mail::EmailSlot;

/// A verification link that was mailed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationRecord {
    pub user: UserId,
    pub address: String,
    pub slot: EmailSlot,
    pub expires_at: Timestamp,
    /// When it was followed; a link works once.
    pub used_at: Option<Timestamp>,
}

pub type TokenHash = [u8; 32];

pub fn get_tx(
    tx: &WriteTransaction,
    hash: &TokenHash,
) -> Result<Option<VerificationRecord>, StoreError> {
    let table = tx.open_table(tables::EMAIL_TOKEN_HASH_TO_VERIFICATION)?;
    let found = table.get(hash)?;
    found.map(|v| codec::decode(v.value())).transpose()
}

pub fn get_read_tx(
    tx: &redb::ReadTransaction,
    hash: &TokenHash,
) -> Result<Option<VerificationRecord>, StoreError> {
    let table = tx.open_table(tables::EMAIL_TOKEN_HASH_TO_VERIFICATION)?;
    let found = table.get(hash)?;
    found.map(|v| codec::decode(v.value())).transpose()
}

pub fn put_tx(
    tx: &WriteTransaction,
    hash: &TokenHash,
    record: &VerificationRecord,
) -> Result<(), StoreError> {
    let bytes = codec::encode(record)?;
    tx.open_table(tables::EMAIL_TOKEN_HASH_TO_VERIFICATION)?
        .insert(hash, bytes.as_slice())?;
    Ok(())
}

/// Removes the links that expired before `cutoff`; returns how many.
pub fn remove_expired_tx(tx: &WriteTransaction, cutoff: Timestamp) -> Result<usize, StoreError> {
    let mut table = tx.open_table(tables::EMAIL_TOKEN_HASH_TO_VERIFICATION)?;
    let mut stale: Vec<TokenHash> = Vec::new();
    for entry in table.iter()? {
        let (hash, bytes) = entry?;
        let record: VerificationRecord = codec::decode(bytes.value())?;
        if record.expires_at < cutoff {
            stale.push(hash.value());
        }
    }
    for hash in &stale {
        table.remove(hash)?;
    }
    Ok(stale.len())
}
