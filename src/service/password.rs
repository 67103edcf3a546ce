//! Password hashing with argon2id. Hashing is deliberately slow, so it runs
//! on threads of its own and at most (cores - 1) hashes run at once: a burst
//! of logins queues instead of taking every core from the pages being served,
//! and the queue is bounded: past the bound a hash is refused at once
//! ([`ServiceError::Busy`]) instead of waiting behind a flood.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::OnceCell;

use super::ServiceError;

/// argon2id with one of the OWASP-recommended parameter sets: 7 MiB, 5
/// passes, 1 lane — as costly to attack as 19 MiB with 2 passes, with less
/// memory per login for a small appliance.
fn argon2() -> Result<Argon2<'static>, ServiceError> {
    let params =
        Params::new(7 * 1024, 5, 1, None).map_err(|e| ServiceError::Internal(e.to_string()))?;
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

type Job = Box<dyn FnOnce() + Send>;

/// The hashing pool: (cores - 1) threads of their own, at the lowest
/// scheduling priority, so that a burst of logins queues behind the pages
/// being served instead of taking the CPU from them.
#[derive(Clone)]
pub struct Passwords {
    jobs: std::sync::mpsc::Sender<Job>,
    /// Hashes queued or running now.
    pending: Arc<AtomicUsize>,
    /// The most hashes that may be queued or running at once.
    bound: usize,
    /// Hash of a random password, verified against when the username is
    /// unknown, so that a wrong name costs as much as a wrong password.
    decoy: Arc<OnceCell<String>>,
}

fn hashing_thread(jobs: Arc<std::sync::Mutex<std::sync::mpsc::Receiver<Job>>>) {
    use thread_priority::{NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy};
    let lowered = thread_priority::set_thread_priority_and_policy(
        thread_priority::thread_native_id(),
        ThreadPriority::Min,
        ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Other),
    );
    if let Err(e) = lowered {
        tracing::debug!(error = ?e, "password hashing runs at normal priority");
    }
    loop {
        let job = match jobs.lock() {
            Ok(receiver) => receiver.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

/// Counts a queued hash until it has run (or was dropped unrun).
struct Pending(Arc<AtomicUsize>);

impl Drop for Pending {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// How long a refused caller is told to wait before trying again.
const BUSY_RETRY: jiff::SignedDuration = jiff::SignedDuration::from_secs(1);

impl Passwords {
    /// Hashing threads, with at most `bound` hashes queued or running.
    pub fn new(bound: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let (sender, receiver) = std::sync::mpsc::channel::<Job>();
        let receiver = Arc::new(std::sync::Mutex::new(receiver));
        for n in 0..cores.saturating_sub(1).max(1) {
            let receiver = receiver.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("mlstack-hash-{n}"))
                .spawn(move || hashing_thread(receiver));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        Self {
            jobs: sender,
            pending: Arc::new(AtomicUsize::new(0)),
            bound: bound.max(1),
            decoy: Arc::new(OnceCell::new()),
        }
    }

    /// The same hashing threads with at most `bound` hashes queued or running.
    pub fn with_bound(mut self, bound: usize) -> Self {
        self.bound = bound.max(1);
        self
    }

    async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, ServiceError> {
        if self.pending.fetch_add(1, Ordering::SeqCst) >= self.bound {
            self.pending.fetch_sub(1, Ordering::SeqCst);
            tracing::warn!(
                bound = self.bound,
                "password check refused: the hashing queue is full"
            );
            return Err(ServiceError::Busy { wait: BUSY_RETRY });
        }
        let pending = Pending(self.pending.clone());
        let (done, result) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let result = f();
                // Out of the queue before the caller hears back, so that
                // its next hash finds the place free.
                drop(pending);
                let _ = done.send(result);
            }))
            .map_err(|_| ServiceError::Internal("the password hashing threads are gone".into()))?;
        result
            .await
            .map_err(|_| ServiceError::Internal("a password hashing job failed".into()))
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let hash = hash_blocking("correct horse").unwrap_or_default();
        assert!(hash.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{hash}");
        assert!(verify_blocking("correct horse", &hash));
        assert!(!verify_blocking("wrong horse", &hash));
        assert!(!verify_blocking("correct horse", "not a hash"));
    }
}
