//! Schema 1 -> 2: session cookies are no longer stored as they are.
//!
//! Schema 1 keyed sessions by the cookie token itself, so anyone holding a
//! copy of the store file (a backup, say) held live sessions. Schema 2 keys
//! them by the token's SHA-256 and adds an index from user to sessions, so
//! that every session of a user can be ended at once. Users are unchanged.

use redb::{ReadableTable, TableDefinition, WriteTransaction};

use super::super::{StoreError, sessions, tables};

/// Schema 1's session table: cookie token -> session record. Public so that
/// the fixture of a schema-1 store can be written by the same definition.
pub const V1_SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");

pub(super) fn run_tx(tx: &WriteTransaction) -> Result<(), StoreError> {
    let moved = {
        let old = tx.open_table(V1_SESSIONS)?;
        let mut by_hash = tx.open_table(tables::SESSION_TOKEN_HASH_TO_SESSION)?;
        let mut by_user = tx.open_multimap_table(tables::USER_ID_TO_SESSION_TOKEN_HASHES)?;
        let mut moved = 0usize;
        for entry in old.iter()? {
            let (token, bytes) = entry?;
            let session: sessions::SessionRecord = super::super::codec::decode(bytes.value())?;
            let hash = sessions::hash_token(token.value());
            by_hash.insert(hash, bytes.value())?;
            by_user.insert(session.user_id.as_u128(), hash)?;
            moved += 1;
        }
        moved
    };
    tx.delete_table(V1_SESSIONS)?;
    tracing::info!(sessions = moved, "moved sessions to hashed keys");
    Ok(())
}
