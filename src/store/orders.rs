//! Order records (manual §6.2): every creation of a container, job, volume
//! or custom image, with the configuration and hourly price it was ordered
//! at. Orders outlive what they ordered, so the cost center keeps the names
//! and prices of deleted workloads.

use jiff::Timestamp;
use redb::{ReadTransaction, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{StoreError, codec, tables};
use crate::domain::cost::HourlyPrice;
use crate::domain::ids::{OrderId, ProjectId, UserId};

/// What was ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderKind {
    Container,
    Job,
    Volume,
    CustomImage,
}

impl OrderKind {
    /// Whether running it costs by the hour (containers and jobs).
    pub fn is_hourly(self) -> bool {
        matches!(self, OrderKind::Container | OrderKind::Job)
    }
}

/// One line of an order's configuration: a translation key and the value
/// as it was (`order.config.image`, `pytorch:24.01`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigItem {
    pub label: String,
    pub value: String,
    /// The value is a translation key (a word of the product), not text.
    #[serde(default)]
    pub value_is_key: bool,
}

/// A stored order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRecord {
    /// The id of the workload or volume ordered.
    pub id: OrderId,
    pub kind: OrderKind,
    pub project: ProjectId,
    pub project_name: String,
    /// Whose it is (a batch's containers are the members').
    pub owner: UserId,
    pub owner_name: String,
    /// Who placed the order (a manager, for a batch).
    pub ordered_by: UserId,
    /// The workload's or volume's name (a custom image's `name:tag`).
    pub name: String,
    pub created_at: Timestamp,
    pub config: Vec<ConfigItem>,
    /// The hourly price then (zero for volumes and custom images).
    pub price: HourlyPrice,
    /// The platform currency then.
    pub currency: String,
}

/// Stores a new order with its indexes (by owner, by who ordered it, by
/// project).
pub fn insert_tx(tx: &WriteTransaction, record: &OrderRecord) -> Result<(), StoreError> {
    let id = record.id.as_u128();
    tx.open_table(tables::ORDER_ID_TO_ORDER)?
        .insert(id, codec::encode(record)?.as_slice())?;
    let mut by_user = tx.open_multimap_table(tables::USER_ID_TO_ORDER_IDS)?;
    by_user.insert(record.owner.as_u128(), id)?;
    by_user.insert(record.ordered_by.as_u128(), id)?;
    tx.open_multimap_table(tables::PROJECT_ID_TO_ORDER_IDS)?
        .insert(record.project.as_u128(), id)?;
    Ok(())
}

pub fn get_read_tx(tx: &ReadTransaction, id: OrderId) -> Result<Option<OrderRecord>, StoreError> {
    codec::decode_one(&tx.open_table(tables::ORDER_ID_TO_ORDER)?, id.as_u128())
}

/// The orders a user placed or owns, oldest first.
pub fn of_user_read_tx(tx: &ReadTransaction, user: UserId) -> Result<Vec<OrderRecord>, StoreError> {
    codec::decode_indexed(
        &tx.open_multimap_table(tables::USER_ID_TO_ORDER_IDS)?,
        &tx.open_table(tables::ORDER_ID_TO_ORDER)?,
        user.as_u128(),
    )
}

/// The orders of a project, oldest first.
pub fn of_project_read_tx(
    tx: &ReadTransaction,
    project: ProjectId,
) -> Result<Vec<OrderRecord>, StoreError> {
    codec::decode_indexed(
        &tx.open_multimap_table(tables::PROJECT_ID_TO_ORDER_IDS)?,
        &tx.open_table(tables::ORDER_ID_TO_ORDER)?,
        project.as_u128(),
    )
}
