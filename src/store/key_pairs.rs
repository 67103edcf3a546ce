//! Users' SSH key pairs: the public key, its name, algorithm and
//! fingerprint, with indexes by user, by (user, name) and by (user,
//! fingerprint). Private keys are never stored.

use jiff::Timestamp;
use redb::{ReadTransaction, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{StoreError, codec, tables};
use crate::domain::ids::{KeyPairId, UserId};
use crate::domain::key_pair::KeyPairName;

/// How a key pair came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyPairOrigin {
    /// Made here; its private key was offered for download once.
    Generated,
    /// The user pasted the public key.
    Imported,
}

/// A stored key pair (its public half).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPairRecord {
    pub id: KeyPairId,
    pub owner: UserId,
    pub name: KeyPairName,
    /// As OpenSSH names it: `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`.
    pub algorithm: String,
    pub bits: u32,
    /// `SHA256:<base64>`, as `ssh-keygen -l -E sha256` prints it.
    pub fingerprint: String,
    /// The public key as one OpenSSH line.
    pub public_key: String,
    pub origin: KeyPairOrigin,
    pub created_at: Timestamp,
}

/// What [`insert_tx`] names in `StoreError::Conflict` when the owner
/// already has a key pair of this name …
pub const NAME_TAKEN: &str = "a key pair of this name";
/// … or this key (the same fingerprint).
pub const KEY_TAKEN: &str = "a key pair with this key";

/// Stores a new key pair with its indexes; refuses a name or a key the
/// owner already has (`StoreError::Conflict` with [`NAME_TAKEN`] or
/// [`KEY_TAKEN`]).
pub fn insert_tx(tx: &WriteTransaction, record: &KeyPairRecord) -> Result<(), StoreError> {
    let id = record.id.as_u128();
    let owner = record.owner.as_u128();
    let mut names = tx.open_table(tables::USER_KEY_PAIR_NAME_TO_ID)?;
    if names.get((owner, record.name.as_str()))?.is_some() {
        return Err(StoreError::Conflict(NAME_TAKEN));
    }
    let mut fingerprints = tx.open_table(tables::USER_KEY_PAIR_FINGERPRINT_TO_ID)?;
    if fingerprints
        .get((owner, record.fingerprint.as_str()))?
        .is_some()
    {
        return Err(StoreError::Conflict(KEY_TAKEN));
    }
    names.insert((owner, record.name.as_str()), id)?;
    fingerprints.insert((owner, record.fingerprint.as_str()), id)?;
    tx.open_multimap_table(tables::USER_ID_TO_KEY_PAIR_IDS)?
        .insert(owner, id)?;
    tx.open_table(tables::KEY_PAIR_ID_TO_KEY_PAIR)?
        .insert(id, codec::encode(record)?.as_slice())?;
    Ok(())
}

pub fn get_tx(tx: &WriteTransaction, id: KeyPairId) -> Result<Option<KeyPairRecord>, StoreError> {
    codec::decode_one(
        &tx.open_table(tables::KEY_PAIR_ID_TO_KEY_PAIR)?,
        id.as_u128(),
    )
}

/// Removes a key pair and its index entries; returns what was removed.
pub fn remove_tx(
    tx: &WriteTransaction,
    id: KeyPairId,
) -> Result<Option<KeyPairRecord>, StoreError> {
    let removed: Option<KeyPairRecord> = tx
        .open_table(tables::KEY_PAIR_ID_TO_KEY_PAIR)?
        .remove(id.as_u128())?
        .map(|b| codec::decode(b.value()))
        .transpose()?;
    if let Some(record) = &removed {
        let owner = record.owner.as_u128();
        tx.open_table(tables::USER_KEY_PAIR_NAME_TO_ID)?
            .remove((owner, record.name.as_str()))?;
        tx.open_table(tables::USER_KEY_PAIR_FINGERPRINT_TO_ID)?
            .remove((owner, record.fingerprint.as_str()))?;
        tx.open_multimap_table(tables::USER_ID_TO_KEY_PAIR_IDS)?
            .remove(owner, id.as_u128())?;
    }
    Ok(removed)
}

/// The key pairs of `owner`, oldest first.
pub fn of_user_read_tx(
    tx: &ReadTransaction,
    owner: UserId,
) -> Result<Vec<KeyPairRecord>, StoreError> {
    codec::decode_indexed(
        &tx.open_multimap_table(tables::USER_ID_TO_KEY_PAIR_IDS)?,
        &tx.open_table(tables::KEY_PAIR_ID_TO_KEY_PAIR)?,
        owner.as_u128(),
    )
}
