//! Platform settings kept by the admin.

use redb::{ReadTransaction, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{StoreError, codec, tables};

const KEY: &str = "platform";

/// Buffer length, reminder days, currency and the time zone of dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlatformSettingsRecord {
    /// Days a project stays in its buffer period after its end date.
    pub buffer_days: u32,
    /// Days before the end date on which managers get a reminder.
    pub reminder_days: Vec<u32>,
    /// ISO 4217 code prices are shown in.
    pub currency: String,
    /// IANA time zone in which project dates begin and end.
    pub time_zone: String,
}

impl Default for PlatformSettingsRecord {
    fn default() -> Self {
        Self {
            buffer_days: 14,
            reminder_days: vec![7, 3, 1],
            currency: "TWD".into(),
            time_zone: "Asia/Taipei".into(),
        }
    }
}

pub fn get_read_tx(tx: &ReadTransaction) -> Result<PlatformSettingsRecord, StoreError> {
    tx.open_table(tables::PLATFORM_SETTINGS)?
        .get(KEY)?
        .map(|b| codec::decode(b.value()))
        .transpose()
        .map(Option::unwrap_or_default)
}

pub fn get_tx(tx: &WriteTransaction) -> Result<PlatformSettingsRecord, StoreError> {
    tx.open_table(tables::PLATFORM_SETTINGS)?
        .get(KEY)?
        .map(|b| codec::decode(b.value()))
        .transpose()
        .map(Option::unwrap_or_default)
}

pub fn put_tx(tx: &WriteTransaction, settings: &PlatformSettingsRecord) -> Result<(), StoreError> {
    tx.open_table(tables::PLATFORM_SETTINGS)?
        .insert(KEY, codec::encode(settings)?.as_slice())?;
    Ok(())
}
