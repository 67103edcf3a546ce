//! Key pairs (manual §8.3): a user's SSH public keys, generated here (the
//! private key is handed out once and never kept) or imported. Key pairs
//! belong to a user; nobody else sees or deletes them, admins included:
//! another user's key pair is not found.

use ssh_key::rand_core::OsRng;
use ssh_key::{Algorithm, LineEnding, PrivateKey};

use super::{ServiceError, Services};
use crate::domain::audit::AuditAction;
use crate::domain::ids::{KeyPairId, UserId};
use crate::domain::key_pair::{ImportKeyPairRequest, KeyPairName, PublicKeyInfo};
use crate::domain::validation::FieldErrors;
use crate::store::StoreError;
use crate::store::key_pairs::{self, KeyPairOrigin, KeyPairRecord};

/// A private key in OpenSSH format, wiped from memory when dropped and
/// never printed by `Debug`.
pub struct PrivateKeyText(zeroize::Zeroizing<String>);

impl PrivateKeyText {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PrivateKeyText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKeyText(..)")
    }
}

/// A key pair just generated: the stored record and the private key, to be
/// handed to the user once.
#[derive(Debug)]
pub struct GeneratedKeyPair {
    pub record: KeyPairRecord,
    pub private_key: PrivateKeyText,
}

impl Services {
    /// The key pairs of `user`, oldest first, with their OpenSSH public
    /// keys (what the container wizard offers for SSH access).
    pub async fn key_pairs(&self, user: UserId) -> Result<Vec<KeyPairRecord>, ServiceError> {
        self.blocking(move |store| Ok(store.read(|tx| key_pairs::of_user_read_tx(tx, user))?))
            .await
    }

    /// Keeps the public key of `request` for `user`; refuses a private key,
    /// a malformed or unaccepted key, and a name or key the user already has.
    pub async fn import_key_pair(
        &self,
        user: UserId,
        request: &ImportKeyPairRequest,
    ) -> Result<KeyPairRecord, ServiceError> {
        let (name, key) = request.validate().map_err(ServiceError::Invalid)?;
        self.insert_key_pair(user, name, key, KeyPairOrigin::Imported)
            .await
    }

    /// Generates an Ed25519 key pair named `name` for `user`, keeps its
    /// public key and returns the private key, which is not kept.
    pub async fn generate_key_pair(
        &self,
        user: UserId,
        name: &str,
    ) -> Result<GeneratedKeyPair, ServiceError> {
        let name = KeyPairName::parse(name)
            .map_err(|message| ServiceError::Invalid(FieldErrors::single("name", message)))?;
        let mut private = PrivateKey::random(&mut OsRng, Algorithm::Ed25519)
            .map_err(|e| ServiceError::Internal(format!("generating a key pair: {e}")))?;
        private.set_comment(name.as_str());
        let key = PublicKeyInfo::of(private.public_key())
            .map_err(|e| ServiceError::Internal(format!("a generated key was refused: {e}")))?;
        let private_key = private
            .to_openssh(LineEnding::LF)
            .map_err(|e| ServiceError::Internal(format!("encoding a private key: {e}")))?;
        let record = self
            .insert_key_pair(user, name, key, KeyPairOrigin::Generated)
            .await?;
        Ok(GeneratedKeyPair {
            record,
            private_key: PrivateKeyText(private_key),
        })
    }

    async fn insert_key_pair(
        &self,
        user: UserId,
        name: KeyPairName,
        key: PublicKeyInfo,
        origin: KeyPairOrigin,
    ) -> Result<KeyPairRecord, ServiceError> {
        let record = KeyPairRecord {
            id: KeyPairId::generate(),
            owner: user,
            name,
            algorithm: key.algorithm,
            bits: key.bits,
            fingerprint: key.fingerprint,
            public_key: key.openssh,
            origin,
            created_at: self.clock.now(),
        };
        self.blocking(move |store| {
            store.write(|tx| match key_pairs::insert_tx(tx, &record) {
                Ok(()) => Ok(record),
                Err(StoreError::Conflict(key_pairs::NAME_TAKEN)) => Err(ServiceError::Invalid(
                    FieldErrors::single("name", "key_pair.error.name_taken"),
                )),
                Err(StoreError::Conflict(key_pairs::KEY_TAKEN)) => Err(ServiceError::Invalid(
                    FieldErrors::single("public_key", "key_pair.error.duplicate_key"),
                )),
                Err(e) => Err(e.into()),
            })
        })
        .await
    }

    /// Deletes a key pair of `user`. Containers given its public key keep
    /// it (the key text was copied into their spec). Another user's key
    /// pair, or one already gone, is not found.
    pub async fn delete_key_pair(&self, user: UserId, id: KeyPairId) -> Result<(), ServiceError> {
        let stamp = self.audit_stamp();
        self.blocking(move |store| {
            store.write(|tx| match key_pairs::get_tx(tx, id)? {
                Some(record) if record.owner == user => {
                    key_pairs::remove_tx(tx, id)?;
                    let target = format!("{} ({})", record.name, record.fingerprint);
                    stamp.record_tx(tx, AuditAction::KeyPairDeleted, target)?;
                    Ok(())
                }
                _ => Err(ServiceError::NotFound),
            })
        })
        .await
    }
}
