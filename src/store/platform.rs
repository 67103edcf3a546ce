//! Platform settings kept by the admin.

use jiff::Timestamp;
use redb::{ReadTransaction, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{StoreError, codec, tables};
use crate::domain::ids::UserId;

const KEY: &str = "platform";

/// Buffer length, reminder days, currency, the time zone of dates and the
/// usage terms every user accepts before creating a container.
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
    /// The platform's usage terms (manual §5.4, "Sign the terms"), shown as
    /// written in both languages of the interface.
    pub usage_terms: String,
    /// The most jobs one member may have waiting in one project's queue
    /// (None: no cap).
    pub queued_jobs_per_member: Option<u32>,
}

/// The usage terms of a new platform, in both languages of the interface,
/// until an admin writes the lab's own.
pub const DEFAULT_USAGE_TERMS: &str = "\
Use the platform's resources for the work of your project only. \
Stop or delete containers you no longer use, so that others can use the GPUs. \
Keep data you need in mounted storage volumes: files elsewhere in a container are lost when it is deleted. \
Do not share your account or your containers' passwords and keys.

平台資源僅限用於您專案的工作。\
不再使用的容器請停止或刪除，讓其他人可以使用 GPU。\
需要保留的資料請放在掛載的儲存空間：容器中其他位置的檔案會在容器刪除時遺失。\
請勿與他人共用您的帳號或容器的密碼與金鑰。";

impl Default for PlatformSettingsRecord {
    fn default() -> Self {
        Self {
            buffer_days: 14,
            reminder_days: vec![7, 3, 1],
            currency: "TWD".into(),
            time_zone: "Asia/Taipei".into(),
            usage_terms: DEFAULT_USAGE_TERMS.into(),
            queued_jobs_per_member: None,
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

/// A user's acceptance of the usage terms: the SHA-256 (hex) of the text
/// they accepted, so that changed terms are accepted again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TermsAcceptanceRecord {
    pub user: UserId,
    pub terms_sha256: String,
    pub accepted_at: Timestamp,
}

pub fn terms_acceptance_read_tx(
    tx: &ReadTransaction,
    user: UserId,
) -> Result<Option<TermsAcceptanceRecord>, StoreError> {
    tx.open_table(tables::USER_ID_TO_TERMS_ACCEPTANCE)?
        .get(user.as_u128())?
        .map(|b| codec::decode(b.value()))
        .transpose()
}

pub fn terms_acceptance_tx(
    tx: &WriteTransaction,
    user: UserId,
) -> Result<Option<TermsAcceptanceRecord>, StoreError> {
    tx.open_table(tables::USER_ID_TO_TERMS_ACCEPTANCE)?
        .get(user.as_u128())?
        .map(|b| codec::decode(b.value()))
        .transpose()
}

pub fn put_terms_acceptance_tx(
    tx: &WriteTransaction,
    record: &TermsAcceptanceRecord,
) -> Result<(), StoreError> {
    tx.open_table(tables::USER_ID_TO_TERMS_ACCEPTANCE)?
        .insert(record.user.as_u128(), codec::encode(record)?.as_slice())?;
    Ok(())
}
