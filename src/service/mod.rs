//! Use cases. Each validates with `domain`, reads and writes the store off
//! the async executor, and returns service errors, never HTTP types.

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod catalog;
pub mod containers;
pub mod cost;
pub mod emails;
pub(crate) mod guards;
pub mod images;
pub mod job_logs;
pub mod job_wizard;
pub mod key_pairs;
mod lists;
pub mod mail;
pub mod metrics;
pub mod password;
pub mod projects;
pub mod schedules;
pub mod storage;
pub mod terminal;
pub mod users;
pub mod workloads;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jiff::SignedDuration;
use tokio::sync::Notify;

use crate::clock::SharedClock;
use crate::cluster::AnyDriver;
use crate::domain::validation::FieldErrors;
use crate::i18n::Catalog;
use crate::store::{NotReady, Store, StoreError};

/// Name of the file, in the data directory, that holds the first-run admin
/// password until it is changed.
pub const INITIAL_PASSWORD_FILE: &str = "initial-admin-password";

/// How many password checks may wait or run at once by default.
pub const DEFAULT_HASH_QUEUE: usize = 32;

/// Why a use case did not happen. Nothing was changed in any of these cases.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("invalid input")]
    Invalid(FieldErrors),
    #[error("wrong username or password")]
    InvalidCredentials,
    #[error("the account is disabled")]
    AccountDisabled,
    #[error("too many failed logins; retry in {wait:?}")]
    Throttled { wait: SignedDuration },
    /// Too many password checks are waiting; retry after `wait`.
    #[error("busy; retry in {wait:?}")]
    Busy { wait: SignedDuration },
    #[error("not found")]
    NotFound,
    /// The actor may see the thing but not do this to it.
    #[error("forbidden")]
    Forbidden,
    /// A new workload does not fit the project's quota (or, with `member`,
    /// its owner's cap inside the project); `left` is what remains.
    #[error("over quota")]
    OverQuota {
        left: crate::domain::quota::Resources,
        member: bool,
        /// The project's name, for the message.
        project: String,
    },
    /// A new job would wait in its project's queue, but its owner has
    /// `limit` jobs waiting there already (the platform's cap).
    #[error("the queue holds {limit} jobs of this member already")]
    QueueFull { limit: u32 },
    /// A rule of the product refused the action; the key names the message.
    #[error("refused: {0}")]
    Refused(&'static str),
    /// Refused because something else uses it; `name` names that thing
    /// (a job template that a schedule runs).
    #[error("in use by {name}: {message}")]
    InUse { message: &'static str, name: String },
    /// The cluster did not answer within the configured request timeout.
    #[error("the cluster did not answer in time")]
    ClusterTimeout,
    /// The cluster (or its driver) failed or is not available here.
    #[error("cluster: {0}")]
    Cluster(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal: {0}")]
    Internal(String),
}

impl ServiceError {
    /// Whether the store refused the write because its disk is full.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, ServiceError::Store(StoreError::DiskFull(_)))
    }
}

/// The cluster driver and how long a request may wait on it.
#[derive(Clone)]
pub(crate) struct ClusterAccess {
    pub(crate) driver: Arc<AnyDriver>,
    pub(crate) request_timeout: Duration,
}

/// Everything the use cases need, shared by the web layer, the CLI and the
/// workers.
#[derive(Clone)]
pub struct Services {
    pub(crate) store: Arc<Store>,
    pub(crate) clock: SharedClock,
    pub(crate) passwords: password::Passwords,
    pub(crate) throttle: Arc<auth::LoginThrottle>,
    pub(crate) idle_timeout: SignedDuration,
    /// A session ends this long after login, however active.
    pub(crate) session_lifetime: SignedDuration,
    pub(crate) data_dir: PathBuf,
    /// Translations, for mail written in the recipient's language.
    pub(crate) catalog: Arc<Catalog>,
    /// The cluster driver; None where no cluster is needed (the `user`
    /// commands): the workload records work, logs and events do not.
    pub(crate) cluster: Option<ClusterAccess>,
    /// Poked after every change of desired state, so the reconcile loop
    /// applies it at once.
    pub(crate) reconcile: Arc<Notify>,
    /// Each metrics source's last scrape, for the admin status page.
    pub(crate) metrics_sources: metrics::SourceHealth,
    /// Requests answered, for `/metrics`.
    pub(crate) request_counters: Arc<metrics::RequestCounters>,
    /// When a container's GPUs count as idle.
    pub(crate) idle_rule: crate::domain::metrics::IdleRule,
    /// Containers whose owner was mailed about idle GPUs in this idle spell.
    pub(crate) idle_mailed:
        Arc<std::sync::Mutex<std::collections::BTreeSet<crate::domain::workload::WorkloadId>>>,
    /// Whether an SMTP relay is configured; the admin outbox says so.
    pub(crate) mail_delivery: bool,
    /// The container and job lists, read once per change of the store.
    pub(crate) lists: Arc<lists::ListSnapshots>,
}

impl Services {
    pub fn new(
        store: Arc<Store>,
        clock: SharedClock,
        idle_timeout: SignedDuration,
        data_dir: &Path,
        catalog: Arc<Catalog>,
    ) -> Self {
        Self {
            store,
            clock,
            passwords: password::Passwords::new(DEFAULT_HASH_QUEUE),
            throttle: Arc::new(auth::LoginThrottle::default()),
            idle_timeout,
            session_lifetime: crate::domain::session::DEFAULT_LIFETIME,
            data_dir: data_dir.to_owned(),
            catalog,
            cluster: None,
            reconcile: Arc::new(Notify::new()),
            metrics_sources: metrics::SourceHealth::default(),
            request_counters: Arc::default(),
            idle_rule: crate::domain::metrics::IdleRule::default(),
            idle_mailed: Arc::default(),
            mail_delivery: false,
            lists: Arc::default(),
        }
    }

    /// The same services with the configured session lifetime and bound of
    /// the password hashing queue.
    pub fn with_login_limits(
        mut self,
        session_lifetime: SignedDuration,
        hash_queue: usize,
    ) -> Self {
        self.session_lifetime = session_lifetime;
        self.passwords = self.passwords.with_bound(hash_queue);
        self
    }

    /// The same services with a cluster driver: logs and events come from
    /// it, each call bounded by `request_timeout`.
    pub fn with_cluster(mut self, driver: Arc<AnyDriver>, request_timeout: Duration) -> Self {
        self.cluster = Some(ClusterAccess {
            driver,
            request_timeout,
        });
        self
    }

    /// The same services, telling admins whether mail is delivered.
    pub fn with_mail_delivery(mut self, configured: bool) -> Self {
        self.mail_delivery = configured;
        self
    }

    /// The cluster driver, when these services have one.
    pub fn driver(&self) -> Option<&Arc<AnyDriver>> {
        self.cluster.as_ref().map(|c| &c.driver)
    }

    /// Whether workloads run without a sandbox (the local driver could not
    /// make one and `[local] allow_unsandboxed` let them): admins are warned.
    pub fn workloads_unsandboxed(&self) -> bool {
        matches!(self.driver().map(|d| &**d), Some(AnyDriver::Local(local)) if local.unsandboxed_warning().is_some())
    }

    /// What the reconcile loop waits on between passes.
    pub(crate) fn reconcile_signal(&self) -> Arc<Notify> {
        self.reconcile.clone()
    }

    /// Wakes the reconcile loop (after a committed change of desired state).
    pub(crate) fn wake_reconciler(&self) {
        self.reconcile.notify_one();
    }

    /// The translation catalog the services write mail with.
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// Whether the store answers and, after a failed write, commits again;
    /// for the readiness check, with the reason when it is not ready.
    pub async fn readiness(&self) -> Result<(), NotReady> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.readiness())
            .await
            .unwrap_or(Err(NotReady::Unreadable))
    }

    /// Runs store work on the blocking pool, never on an executor thread.
    pub(crate) async fn blocking<R, F>(&self, f: F) -> Result<R, ServiceError>
    where
        F: FnOnce(&Store) -> Result<R, ServiceError> + Send + 'static,
        R: Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| ServiceError::Internal(format!("store task failed: {e}")))?
    }

    pub(crate) fn initial_password_path(&self) -> PathBuf {
        self.data_dir.join(INITIAL_PASSWORD_FILE)
    }

    /// Removes the first-run password file once that password is gone.
    pub(crate) fn forget_initial_password(&self) {
        let path = self.initial_password_path();
        match std::fs::remove_file(&path) {
            Ok(()) => tracing::info!(path = %path.display(), "initial admin password file removed"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "could not remove the initial admin password file")
            }
        }
    }
}

/// A random URL-safe token with 256 bits of entropy.
pub(crate) fn random_token() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A random password of 20 letters and digits (about 119 bits).
pub(crate) fn random_password() -> String {
    use rand::Rng;
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(20)
        .map(char::from)
        .collect()
}
