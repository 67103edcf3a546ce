//! Every table of the store, in one place. Keys that are ids use the id's
//! `u128` form (UUIDv7, so keys sort by creation time); values are records
//! encoded by `codec`.

use redb::{MultimapTableDefinition, TableDefinition};

/// Store metadata: `"schema_version"` -> the schema version number.
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// User id -> `UserRecord`.
pub const USER_ID_TO_USER: TableDefinition<u128, &[u8]> = TableDefinition::new("user_id_to_user");

/// Unique index: username -> user id.
pub const USERNAME_TO_USER_ID: TableDefinition<&str, u128> =
    TableDefinition::new("username_to_user_id");

/// SHA-256 of a session cookie token -> `SessionRecord`. The token itself is
/// never stored, so a copy of the file does not hold live sessions.
pub const SESSION_TOKEN_HASH_TO_SESSION: TableDefinition<[u8; 32], &[u8]> =
    TableDefinition::new("session_token_hash_to_session");

/// Index: user id -> hashes of that user's session tokens.
pub const USER_ID_TO_SESSION_TOKEN_HASHES: MultimapTableDefinition<u128, [u8; 32]> =
    MultimapTableDefinition::new("user_id_to_session_token_hashes");
