//! The web terminal: who may open a shell in a container (those who may
//! operate it: its owner, the project's managers, admins), only while it
//! runs; the shell itself comes from the driver.

use super::auth::SessionContext;
use super::guards::live_project_read_tx;
use super::workloads::{bounded, require};
use super::{ServiceError, Services};
use crate::cluster::{Driver, DriverError, TerminalSession, TerminalSize};
use crate::domain::authz::WorkloadAction;
use crate::domain::session;
use crate::domain::workload::{ContainerSpec, WorkloadId, WorkloadStatus};
use crate::store::sessions;
use crate::store::users::{self, UserRecord};
use crate::store::workloads::{self, Desired, WorkloadSpec};

/// The widest and tallest terminal a session is given.
pub const TERMINAL_COLS_MAX: u16 = 1000;
pub const TERMINAL_ROWS_MAX: u16 = 500;

/// A container whose terminal someone may open.
#[derive(Debug, Clone)]
pub struct TerminalTarget {
    pub spec: ContainerSpec,
    /// Running now (and meant to be): a shell can be opened.
    pub running: bool,
}

impl Services {
    /// The container `id` if `actor` may open its terminal; someone who may
    /// not see it (or an id that is not a container) gets NotFound.
    pub async fn terminal_target(
        &self,
        actor: &UserRecord,
        id: WorkloadId,
    ) -> Result<TerminalTarget, ServiceError> {
        let actor = actor.clone();
        self.blocking(move |store| {
            store.read(|tx| {
                let record = workloads::get_read_tx(tx, id)?.ok_or(ServiceError::NotFound)?;
                let p = live_project_read_tx(tx, record.spec.project())?;
                require(&actor, &p, record.spec.owner(), WorkloadAction::Operate)?;
                let running = record.desired == Desired::Running
                    && record.status() == WorkloadStatus::Running;
                match record.spec {
                    WorkloadSpec::Container(spec) => Ok(TerminalTarget { spec, running }),
                    WorkloadSpec::Job(_) | WorkloadSpec::ImageCommit(_) => {
                        Err(ServiceError::NotFound)
                    }
                }
            })
        })
        .await
    }

    /// Whether the terminal of container `id` opened in `session`
    /// may stay open: the session still exists (not logged out) within its
    /// absolute lifetime, its user is enabled and may still operate the
    /// container, which is still meant to run. The idle timeout does not
    /// count: typing in the terminal is activity no request records.
    pub async fn terminal_still_allowed(
        &self,
        session: &SessionContext,
        id: WorkloadId,
    ) -> Result<bool, ServiceError> {
        let token = session.token_hash;
        let now = self.clock.now();
        let lifetime = self.session_lifetime;
        self.blocking(move |store| {
            store.read(|tx| {
                let Some(session) = sessions::get_read_tx(tx, &token)? else {
                    return Ok(false);
                };
                let Some(user) = users::get_read_tx(tx, session.user_id)? else {
                    return Ok(false);
                };
                if user.disabled || session::outlived(session.created_at, now, lifetime) {
                    return Ok(false);
                }
                let Some(record) = workloads::get_read_tx(tx, id)? else {
                    return Ok(false);
                };
                let Ok(p) = live_project_read_tx(tx, record.spec.project()) else {
                    return Ok(false);
                };
                Ok(
                    require(&user, &p, record.spec.owner(), WorkloadAction::Operate).is_ok()
                        && record.desired == Desired::Running,
                )
            })
        })
        .await
    }

    /// Opens a shell of `size` (clamped to 1..=max) in container `id` for
    /// `actor`; refused while the container is not running. Opening is
    /// bounded by the request timeout; the session lasts until it is
    /// dropped or the shell ends.
    pub async fn open_terminal(
        &self,
        actor: &UserRecord,
        id: WorkloadId,
        size: TerminalSize,
    ) -> Result<TerminalSession, ServiceError> {
        let target = self.terminal_target(actor, id).await?;
        if !target.running {
            return Err(ServiceError::Refused("webterm.not_running"));
        }
        let stamp = self.audit_stamp_for(Some(actor), "", None);
        let name = target.spec.meta.name.clone();
        self.record_audit(stamp.event(
            crate::domain::audit::AuditAction::TerminalOpened,
            name,
            crate::domain::audit::AuditOutcome::Succeeded,
        ))
        .await;
        let size = TerminalSize {
            cols: size.cols.clamp(1, TERMINAL_COLS_MAX),
            rows: size.rows.clamp(1, TERMINAL_ROWS_MAX),
        };
        let cluster = self.cluster()?;
        let opened = bounded(cluster, async {
            match cluster.driver.open_terminal(&target.spec, size).await {
                // Stopped or gone since the store last heard.
                Err(DriverError::Conflict(_)) => Err(DriverError::NotFound {
                    what: "a running container".to_owned(),
                }),
                other => other,
            }
        })
        .await?;
        opened.ok_or(ServiceError::Refused("webterm.not_running"))
    }
}
