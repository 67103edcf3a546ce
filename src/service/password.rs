//! Password hashing with argon2id. Hashing is deliberately slow, so it runs
//! on the blocking pool and at most (cores - 1) hashes run at once: a burst
//! of logins queues instead of taking every core from the pages being served.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::{OnceCell, Semaphore};

use super::ServiceError;

/// argon2id with the OWASP-recommended parameters: 19 MiB, 2 passes, 1 lane.
fn argon2() -> Result<Argon2<'static>, ServiceError> {
    let params =
        Params::new(19 * 1024, 2, 1, None).map_err(|e| ServiceError::Internal(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password; blocking, CPU-bound.
pub fn hash_blocking(password: &str) -> Result<String, ServiceError> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt =
        SaltString::encode_b64(&salt_bytes).map_err(|e| ServiceError::Internal(e.to_string()))?;
    argon2()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServiceError::Internal(e.to_string()))
}

/// Checks a password against a stored hash; blocking, CPU-bound. A malformed
/// hash never matches.
pub fn verify_blocking(password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    argon2().is_ok_and(|a| a.verify_password(password.as_bytes(), &parsed).is_ok())
}

/// The hashing pool: a semaphore in front of `spawn_blocking`.
#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
    /// Hash of a random password, verified against when the username is
    /// unknown, so that a wrong name costs as much as a wrong password.
    decoy: Arc<OnceCell<String>>,
}

impl Passwords {
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            permits: Arc::new(Semaphore::new(cores.saturating_sub(1).max(1))),
            decoy: Arc::new(OnceCell::new()),
        }
    }

    async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, ServiceError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| ServiceError::Internal(format!("hashing task failed: {e}")))
    }

    pub async fn hash(&self, password: String) -> Result<String, ServiceError> {
        self.run(move || hash_blocking(&password)).await?
    }

    pub async fn verify(&self, password: String, hash: String) -> Result<bool, ServiceError> {
        self.run(move || verify_blocking(&password, &hash)).await
    }

    /// Verifies against the decoy hash; always false, as slow as a real check.
    pub async fn verify_decoy(&self, password: String) -> Result<bool, ServiceError> {
        let decoy = self
            .decoy
            .get_or_try_init(|| self.hash(super::random_password()))
            .await?
            .clone();
        self.verify(password, decoy).await.map(|_| false)
    }

    /// Computes the decoy hash ahead of the first login with an unknown name.
    pub async fn warm_up(&self) {
        if let Err(e) = self.verify_decoy(String::new()).await {
            tracing::warn!(error = %e, "could not prepare the decoy password hash");
        }
    }
}

impl Default for Passwords {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let hash = hash_blocking("correct horse").unwrap_or_default();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_blocking("correct horse", &hash));
        assert!(!verify_blocking("wrong horse", &hash));
        assert!(!verify_blocking("correct horse", "not a hash"));
    }
}
