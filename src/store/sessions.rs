//! Login sessions, keyed by the SHA-256 of the cookie token.

use jiff::Timestamp;
use redb::{ReadTransaction, ReadableMultimapTable, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Store, StoreError, codec, tables};
use crate::domain::ids::UserId;

/// A stored login session.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub user_id: UserId,
    /// The token that state-changing requests of this session must carry.
    pub csrf_token: String,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
}

impl std::fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRecord")
            .field("user_id", &self.user_id)
            .field("created_at", &self.created_at)
            .field("last_seen_at", &self.last_seen_at)
            .finish_non_exhaustive()
    }
}

/// The key a session is stored under.
pub type TokenHash = [u8; 32];

pub fn hash_token(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

pub fn get_read_tx(
    tx: &ReadTransaction,
    hash: &TokenHash,
) -> Result<Option<SessionRecord>, StoreError> {
    tx.open_table(tables::SESSION_TOKEN_HASH_TO_SESSION)?
        .get(hash)?
        .map(|bytes| codec::decode(bytes.value()))
        .transpose()
}

pub fn get(store: &Store, hash: &TokenHash) -> Result<Option<SessionRecord>, StoreError> {
    store.read(|tx| get_read_tx(tx, hash))
}

/// Records a session, or replaces it (to refresh its last-seen time).
pub fn put_tx(
    tx: &WriteTransaction,
    hash: &TokenHash,
    session: &SessionRecord,
) -> Result<(), StoreError> {
    tx.open_table(tables::SESSION_TOKEN_HASH_TO_SESSION)?
        .insert(hash, codec::encode(session)?.as_slice())?;
    tx.open_multimap_table(tables::USER_ID_TO_SESSION_TOKEN_HASHES)?
        .insert(session.user_id.as_u128(), hash)?;
    Ok(())
}

pub fn delete_tx(tx: &WriteTransaction, hash: &TokenHash) -> Result<(), StoreError> {
    let removed = tx
        .open_table(tables::SESSION_TOKEN_HASH_TO_SESSION)?
        .remove(hash)?
        .map(|bytes| codec::decode::<SessionRecord>(bytes.value()))
        .transpose()?;
    if let Some(session) = removed {
        tx.open_multimap_table(tables::USER_ID_TO_SESSION_TOKEN_HASHES)?
            .remove(session.user_id.as_u128(), hash)?;
    }
    Ok(())
}

/// Ends every session of `user` except `keep`; returns how many ended.
pub fn delete_all_for_user_tx(
    tx: &WriteTransaction,
    user: UserId,
    keep: Option<&TokenHash>,
) -> Result<usize, StoreError> {
    let mut index = tx.open_multimap_table(tables::USER_ID_TO_SESSION_TOKEN_HASHES)?;
    let mut sessions = tx.open_table(tables::SESSION_TOKEN_HASH_TO_SESSION)?;
    let hashes: Vec<TokenHash> = index
        .get(user.as_u128())?
        .map(|h| h.map(|h| h.value()))
        .collect::<Result<_, _>>()?;
    let mut ended = 0;
    for hash in hashes.iter().filter(|h| Some(*h) != keep) {
        sessions.remove(hash)?;
        index.remove(user.as_u128(), hash)?;
        ended += 1;
    }
    Ok(ended)
}

/// Removes every session last used before `idle_cutoff` or created before
/// `created_cutoff`; returns how many.
pub fn delete_expired_tx(
    tx: &WriteTransaction,
    idle_cutoff: Timestamp,
    created_cutoff: Timestamp,
) -> Result<usize, StoreError> {
    let stale: Vec<TokenHash> = {
        let table = tx.open_table(tables::SESSION_TOKEN_HASH_TO_SESSION)?;
        let mut stale = Vec::new();
        for entry in table.iter()? {
            let (hash, bytes) = entry?;
            let session: SessionRecord = codec::decode(bytes.value())?;
            if session.last_seen_at < idle_cutoff || session.created_at < created_cutoff {
                stale.push(hash.value());
            }
        }
        stale
    };
    for hash in &stale {
        delete_tx(tx, hash)?;
    }
    Ok(stale.len())
}

pub fn get_tx(
    tx: &WriteTransaction,
    hash: &TokenHash,
) -> Result<Option<SessionRecord>, StoreError> {
    tx.open_table(tables::SESSION_TOKEN_HASH_TO_SESSION)?
        .get(hash)?
        .map(|bytes| codec::decode(bytes.value()))
        .transpose()
}
