//! Cloud Provisioning: each user's activation on the platform (manual §4).

use jiff::Timestamp;
use redb::{ReadTransaction, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{StoreError, codec, tables};
use crate::domain::ids::UserId;

/// Activation status, as the manual names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivationStatus {
    NotActivated,
    Provisioning,
    Passed,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivationRecord {
    pub user: UserId,
    pub status: ActivationStatus,
    pub requested_at: Timestamp,
    /// What the driver said, when it failed.
    #[serde(default)]
    pub message: String,
}

pub fn get_read_tx(
    tx: &ReadTransaction,
    user: UserId,
) -> Result<Option<ActivationRecord>, StoreError> {
    tx.open_table(tables::USER_ID_TO_ACTIVATION)?
        .get(user.as_u128())?
        .map(|b| codec::decode(b.value()))
        .transpose()
}

pub fn put_tx(tx: &WriteTransaction, record: &ActivationRecord) -> Result<(), StoreError> {
    tx.open_table(tables::USER_ID_TO_ACTIVATION)?
        .insert(record.user.as_u128(), codec::encode(record)?.as_slice())?;
    Ok(())
}

pub fn get_tx(tx: &WriteTransaction, user: UserId) -> Result<Option<ActivationRecord>, StoreError> {
    tx.open_table(tables::USER_ID_TO_ACTIVATION)?
        .get(user.as_u128())?
        .map(|b| codec::decode(b.value()))
        .transpose()
}

/// The activations still waiting for the driver (Provisioning).
pub fn provisioning_read_tx(tx: &ReadTransaction) -> Result<Vec<ActivationRecord>, StoreError> {
    let all: Vec<ActivationRecord> =
        codec::decode_all(&tx.open_table(tables::USER_ID_TO_ACTIVATION)?)?;
    Ok(all
        .into_iter()
        .filter(|a| a.status == ActivationStatus::Provisioning)
        .collect())
}
