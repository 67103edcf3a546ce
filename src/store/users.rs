//! User accounts.

use jiff::Timestamp;
use redb::{ReadTransaction, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError, codec, sessions, tables};
use crate::domain::ids::{ProjectId, UserId};
use crate::domain::mail::AccountEmails;
use crate::domain::user::{Lang, Profile, Settings, Username};

/// A stored user account.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub id: UserId,
    pub username: Username,
    /// PHC string of the argon2id hash.
    pub password_hash: String,
    #[serde(default)]
    pub is_admin: bool,
    #[serde(default)]
    pub disabled: bool,
    /// The password is the one generated at first run and printed once; the
    /// file holding it is removed when it changes.
    #[serde(default)]
    pub initial_password: bool,
    /// The password was generated for the user (by an admin, the command
    /// line or the first run); every page asks them to change it first.
    #[serde(default)]
    pub password_must_change: bool,
    /// The language of the user's last login (`Accept-Language`), for mail
    /// to users who follow the browser's language.
    #[serde(default)]
    pub last_login_lang: Option<Lang>,
    pub created_at: Timestamp,
    #[serde(default)]
    pub profile: Profile,
    #[serde(default)]
    pub settings: Settings,
    /// The project chosen in the header's project selector.
    #[serde(default)]
    pub current_project: Option<ProjectId>,
    /// The backup address, what was verified, and which mail goes where.
    #[serde(default)]
    pub emails: AccountEmails,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("is_admin", &self.is_admin)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

fn get_in(
    table: &impl ReadableTable<u128, &'static [u8]>,
    id: UserId,
) -> Result<Option<UserRecord>, StoreError> {
    codec::decode_one(table, id.as_u128())
}

fn id_by_name_in(
    index: &impl ReadableTable<&'static str, u128>,
    username: &str,
) -> Result<Option<UserId>, StoreError> {
    Ok(index.get(username)?.map(|v| UserId::from_u128(v.value())))
}

pub fn get_read_tx(tx: &ReadTransaction, id: UserId) -> Result<Option<UserRecord>, StoreError> {
    get_in(&tx.open_table(tables::USER_ID_TO_USER)?, id)
}

pub fn get_tx(tx: &WriteTransaction, id: UserId) -> Result<Option<UserRecord>, StoreError> {
    get_in(&tx.open_table(tables::USER_ID_TO_USER)?, id)
}

pub fn get(store: &Store, id: UserId) -> Result<Option<UserRecord>, StoreError> {
    store.read(|tx| get_read_tx(tx, id))
}

pub fn get_by_username(store: &Store, username: &str) -> Result<Option<UserRecord>, StoreError> {
    store.read(|tx| {
        let Some(id) = id_by_name_in(&tx.open_table(tables::USERNAME_TO_USER_ID)?, username)?
        else {
            return Ok(None);
        };
        get_read_tx(tx, id)
    })
}

pub fn get_by_username_tx(
    tx: &WriteTransaction,
    username: &str,
) -> Result<Option<UserRecord>, StoreError> {
    let Some(id) = id_by_name_in(&tx.open_table(tables::USERNAME_TO_USER_ID)?, username)? else {
        return Ok(None);
    };
    get_tx(tx, id)
}

impl UserRecord {
    /// Whether the user must choose a password of their own before anything
    /// else (a first-run admin of an older store has only `initial_password`).
    pub fn must_change_password(&self) -> bool {
        self.password_must_change || self.initial_password
    }
}

/// Every user, oldest first.
pub fn list(store: &Store) -> Result<Vec<UserRecord>, StoreError> {
    store.read(|tx| codec::decode_all(&tx.open_table(tables::USER_ID_TO_USER)?))
}

/// Records a new user; a taken username is a `Conflict`.
pub fn insert_tx(tx: &WriteTransaction, user: &UserRecord) -> Result<(), StoreError> {
    let mut index = tx.open_table(tables::USERNAME_TO_USER_ID)?;
    if index.get(user.username.as_str())?.is_some() {
        return Err(StoreError::Conflict("username"));
    }
    index.insert(user.username.as_str(), user.id.as_u128())?;
    tx.open_table(tables::USER_ID_TO_USER)?
        .insert(user.id.as_u128(), codec::encode(user)?.as_slice())?;
    Ok(())
}

/// Replaces a stored user. The username is fixed at creation.
pub fn update_tx(tx: &WriteTransaction, user: &UserRecord) -> Result<(), StoreError> {
    let mut table = tx.open_table(tables::USER_ID_TO_USER)?;
    let previous = get_in(&table, user.id)?.ok_or(StoreError::Corrupt(format!(
        "update of a user that does not exist: {}",
        user.id
    )))?;
    if previous.username != user.username {
        return Err(StoreError::Corrupt("usernames cannot change".into()));
    }
    table.insert(user.id.as_u128(), codec::encode(user)?.as_slice())?;
    if user.disabled && !previous.disabled {
        sessions::delete_all_for_user_tx(tx, user.id, None)?;
    }
    Ok(())
}
