//! The driver the configuration chose, as one type: an enum over the
//! implementations that delegates every method (static dispatch; the
//! `Driver` trait is not object-safe, see the module above). Adding a driver
//! is a variant here, an arm in `delegate!`, and its construction in
//! `app.rs`.

use tokio::sync::broadcast;

use super::kube::KubeDriver;
use super::local::LocalDriver;
use super::{
    Capacity, Driver, DriverError, DriverEvent, Health, LogStream, Observed, ProjectSpec,
    ProxyRequest, ProxyResponse, TerminalSession, TerminalSize, VolumeState, WorkloadEvent,
    WorkloadKind,
};
use crate::domain::ids::{ProjectId, UserId};
use crate::domain::workload::{ContainerSpec, ImageCommitSpec, JobSpec, VolumeSpec, WorkloadId};

/// One of the drivers.
#[derive(Debug)]
pub enum AnyDriver {
    Local(LocalDriver),
    Kube(KubeDriver),
}

/// Calls the same method on whichever driver this is.
macro_rules! delegate {
    ($self:ident, $driver:ident => $call:expr) => {
        match $self {
            AnyDriver::Local($driver) => $call,
            AnyDriver::Kube($driver) => $call,
        }
    };
}

impl Driver for AnyDriver {
    fn name(&self) -> &'static str {
        delegate!(self, d => d.name())
    }

    async fn health(&self) -> Result<Health, DriverError> {
        delegate!(self, d => d.health().await)
    }

    async fn capacity(&self) -> Result<Capacity, DriverError> {
        delegate!(self, d => d.capacity().await)
    }

    async fn provision_project(&self, project: &ProjectSpec) -> Result<(), DriverError> {
        delegate!(self, d => d.provision_project(project).await)
    }

    async fn provision_member(
        &self,
        project: &ProjectSpec,
        user: UserId,
    ) -> Result<(), DriverError> {
        delegate!(self, d => d.provision_member(project, user).await)
    }

    async fn release_project(&self, project: ProjectId) -> Result<(), DriverError> {
        delegate!(self, d => d.release_project(project).await)
    }

    async fn apply_container(&self, spec: &ContainerSpec) -> Result<Observed, DriverError> {
        delegate!(self, d => d.apply_container(spec).await)
    }

    async fn stop_container(&self, id: WorkloadId) -> Result<(), DriverError> {
        delegate!(self, d => d.stop_container(id).await)
    }

    async fn delete_container(&self, id: WorkloadId) -> Result<(), DriverError> {
        delegate!(self, d => d.delete_container(id).await)
    }

    async fn apply_job(&self, spec: &JobSpec) -> Result<Observed, DriverError> {
        delegate!(self, d => d.apply_job(spec).await)
    }

    async fn cancel_job(&self, id: WorkloadId) -> Result<(), DriverError> {
        delegate!(self, d => d.cancel_job(id).await)
    }

    async fn delete_job(&self, id: WorkloadId) -> Result<(), DriverError> {
        delegate!(self, d => d.delete_job(id).await)
    }

    async fn logs(&self, id: WorkloadId, tail_lines: usize) -> Result<String, DriverError> {
        delegate!(self, d => d.logs(id, tail_lines).await)
    }

    async fn follow_logs(&self, id: WorkloadId) -> Result<LogStream, DriverError> {
        delegate!(self, d => d.follow_logs(id).await)
    }

    async fn events(&self, id: WorkloadId) -> Result<Vec<WorkloadEvent>, DriverError> {
        delegate!(self, d => d.events(id).await)
    }

    async fn workloads(&self) -> Result<Vec<(WorkloadId, WorkloadKind)>, DriverError> {
        delegate!(self, d => d.workloads().await)
    }

    async fn volumes(&self) -> Result<Vec<(ProjectId, String)>, DriverError> {
        delegate!(self, d => d.volumes().await)
    }

    async fn ensure_volume(&self, spec: &VolumeSpec) -> Result<VolumeState, DriverError> {
        delegate!(self, d => d.ensure_volume(spec).await)
    }

    async fn delete_volume(&self, project: ProjectId, name: &str) -> Result<(), DriverError> {
        delegate!(self, d => d.delete_volume(project, name).await)
    }

    async fn commit_image(&self, spec: &ImageCommitSpec) -> Result<Observed, DriverError> {
        delegate!(self, d => d.commit_image(spec).await)
    }

    async fn open_terminal(
        &self,
        spec: &ContainerSpec,
        size: TerminalSize,
    ) -> Result<TerminalSession, DriverError> {
        delegate!(self, d => d.open_terminal(spec, size).await)
    }

    async fn status(&self, id: WorkloadId) -> Result<Observed, DriverError> {
        delegate!(self, d => d.status(id).await)
    }

    async fn proxy(
        &self,
        id: WorkloadId,
        service: &str,
        request: ProxyRequest,
    ) -> Result<ProxyResponse, DriverError> {
        delegate!(self, d => d.proxy(id, service, request).await)
    }

    fn subscribe(&self) -> broadcast::Receiver<DriverEvent> {
        delegate!(self, d => d.subscribe())
    }
}
