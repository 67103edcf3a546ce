//! From what Kubernetes reports (Deployment, Job and pod conditions and
//! container states) to the product's statuses, with the reason a user can
//! act on. Pure functions over k8s-openapi objects.

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ContainerState, Pod};

use crate::domain::workload::{FailureReason, WorkloadStatus};

/// Waiting reasons that mean the image cannot be pulled.
const IMAGE_PULL_REASONS: [&str; 5] = [
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "RegistryUnavailable",
];

fn is_deleting(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// The newest pod that is not being deleted.
pub fn current_pod<'a>(pods: impl IntoIterator<Item = &'a Pod>) -> Option<&'a Pod> {
    pods.into_iter()
        .filter(|p| !is_deleting(p))
        .max_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

fn terminated_reason(state: &ContainerState) -> Option<FailureReason> {
    let terminated = state.terminated.as_ref()?;
    if terminated.reason.as_deref() == Some("OOMKilled") {
        return Some(FailureReason::OutOfMemory);
    }
    (terminated.exit_code != 0).then_some(FailureReason::ExitCode(terminated.exit_code))
}

/// Why a pod cannot do its work, if it cannot: it cannot be placed, its
/// image cannot be pulled, it ran out of memory, its command failed.
pub fn pod_problem(pod: &Pod) -> Option<FailureReason> {
    let status = pod.status.as_ref()?;
    let unschedulable = status.conditions.iter().flatten().any(|c| {
        c.type_ == "PodScheduled"
            && c.status == "False"
            && c.reason.as_deref() == Some("Unschedulable")
    });
    if unschedulable {
        return Some(FailureReason::Unschedulable);
    }
    for container in status.container_statuses.iter().flatten() {
        let Some(state) = &container.state else {
            continue;
        };
        if let Some(waiting) = &state.waiting {
            let reason = waiting.reason.as_deref().unwrap_or_default();
            if IMAGE_PULL_REASONS.contains(&reason) {
                return Some(FailureReason::ImagePull);
            }
            if reason == "CrashLoopBackOff" {
                let last = container.last_state.as_ref().and_then(terminated_reason);
                return Some(
                    last.unwrap_or(FailureReason::Other(
                        waiting
                            .message
                            .clone()
                            .unwrap_or_else(|| "the container keeps crashing".to_owned()),
                    )),
                );
            }
            if matches!(
                reason,
                "CreateContainerConfigError" | "CreateContainerError" | "RunContainerError"
            ) {
                return Some(FailureReason::Other(
                    waiting.message.clone().unwrap_or_else(|| reason.to_owned()),
                ));
            }
        }
        if let Some(reason) = terminated_reason(state) {
            return Some(reason);
        }
    }
    if status.phase.as_deref() == Some("Failed") {
        return Some(FailureReason::Other(
            status
                .message
                .clone()
                .or_else(|| status.reason.clone())
                .unwrap_or_else(|| "the pod failed".to_owned()),
        ));
    }
    None
}

fn is_ready(pod: &Pod) -> bool {
    pod.status.as_ref().is_some_and(|s| {
        s.phase.as_deref() == Some("Running")
            && s.conditions
                .iter()
                .flatten()
                .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

/// A container's status from its Deployment and pods.
pub fn container_status<'a>(
    deployment: &Deployment,
    pods: impl IntoIterator<Item = &'a Pod> + Clone,
) -> WorkloadStatus {
    let replicas = deployment
        .spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(1);
    if replicas == 0 {
        return if pods.into_iter().next().is_some() {
            WorkloadStatus::Stopping
        } else {
            WorkloadStatus::Stopped
        };
    }
    let Some(pod) = current_pod(pods.clone()) else {
        // No pod could be made (a quota, a missing service account).
        let failure = deployment
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| {
                c.iter()
                    .find(|c| c.type_ == "ReplicaFailure" && c.status == "True")
            });
        if failure.is_some() {
            return WorkloadStatus::failed(FailureReason::Unschedulable);
        }
        return if pods.into_iter().next().is_some() {
            WorkloadStatus::Stopping
        } else {
            WorkloadStatus::Creating
        };
    };
    if let Some(reason) = pod_problem(pod) {
        return WorkloadStatus::failed(reason);
    }
    if is_ready(pod) {
        WorkloadStatus::Running
    } else {
        WorkloadStatus::Creating
    }
}

fn job_condition<'a>(job: &'a Job, type_: &str) -> Option<&'a str> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_ && c.status == "True")
        .map(|c| c.reason.as_deref().unwrap_or_default())
}

/// A job's status from its Job and pods.
pub fn job_status<'a>(
    job: &Job,
    pods: impl IntoIterator<Item = &'a Pod> + Clone,
) -> WorkloadStatus {
    if job_condition(job, "Complete").is_some() {
        return WorkloadStatus::Succeeded;
    }
    if let Some(reason) = job_condition(job, "Failed") {
        if reason == "DeadlineExceeded" {
            return WorkloadStatus::failed(FailureReason::TimeLimit);
        }
        let from_pod = pods.clone().into_iter().filter_map(pod_problem).next();
        return WorkloadStatus::failed(
            from_pod.unwrap_or_else(|| FailureReason::Other(format!("the job failed ({reason})"))),
        );
    }
    let suspended = job_condition(job, "Suspended").is_some()
        || job.spec.as_ref().and_then(|s| s.suspend) == Some(true);
    if suspended {
        return if pods.into_iter().any(|p| !is_finished(p)) {
            WorkloadStatus::Stopping
        } else {
            WorkloadStatus::Stopped
        };
    }
    let Some(pod) = current_pod(pods) else {
        return WorkloadStatus::Creating;
    };
    if let Some(reason) = pod_problem(pod) {
        return WorkloadStatus::failed(reason);
    }
    match pod.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Running") => WorkloadStatus::Running,
        // The Job's condition follows in a moment.
        Some("Succeeded") => WorkloadStatus::Running,
        _ => WorkloadStatus::Creating,
    }
}

fn is_finished(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

/// When a pod started running.
pub fn pod_started(pod: &Pod) -> Option<Timestamp> {
    pod.status.as_ref()?.start_time.as_ref().map(|t| t.0)
}

/// When a job started and finished.
pub fn job_times(job: &Job) -> (Option<Timestamp>, Option<Timestamp>) {
    let Some(status) = &job.status else {
        return (None, None);
    };
    let finished = status.completion_time.as_ref().map(|t| t.0).or_else(|| {
        status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "Failed" && c.status == "True")
            .and_then(|c| c.last_transition_time.as_ref().map(|t| t.0))
    });
    (status.start_time.as_ref().map(|t| t.0), finished)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn pod(value: serde_json::Value) -> Pod {
        serde_json::from_value(value).unwrap()
    }

    fn deployment(replicas: i32) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "c"},
            "spec": {"replicas": replicas, "selector": {}, "template": {}}
        }))
        .unwrap()
    }

    fn job(conditions: serde_json::Value) -> Job {
        serde_json::from_value(json!({
            "metadata": {"name": "j"},
            "spec": {"template": {}},
            "status": {"conditions": conditions}
        }))
        .unwrap()
    }

    fn running() -> Pod {
        pod(json!({
            "metadata": {"name": "p", "creationTimestamp": "2026-11-29T10:00:00Z"},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": [{"name": "main", "image": "i", "imageID": "", "ready": true,
                           "restartCount": 0, "state": {"running": {}}}]}
        }))
    }

    fn waiting(reason: &str, last: serde_json::Value) -> Pod {
        pod(json!({
            "metadata": {"name": "p", "creationTimestamp": "2026-11-29T10:00:00Z"},
            "status": {"phase": "Pending",
                       "containerStatuses": [{"name": "main", "image": "i", "imageID": "", "ready": false,
                           "restartCount": 1, "state": {"waiting": {"reason": reason}}, "lastState": last}]}
        }))
    }

    #[test]
    fn containers() {
        let d = deployment(1);
        assert_eq!(container_status(&d, &[]), WorkloadStatus::Creating);
        assert_eq!(container_status(&d, &[running()]), WorkloadStatus::Running);
        assert_eq!(
            container_status(&d, &[waiting("ImagePullBackOff", json!({}))]),
            WorkloadStatus::failed(FailureReason::ImagePull)
        );
        assert_eq!(
            container_status(
                &d,
                &[waiting(
                    "CrashLoopBackOff",
                    json!({"terminated": {"exitCode": 137, "reason": "OOMKilled"}})
                )]
            ),
            WorkloadStatus::failed(FailureReason::OutOfMemory)
        );
        assert_eq!(
            container_status(
                &d,
                &[waiting(
                    "CrashLoopBackOff",
                    json!({"terminated": {"exitCode": 2, "reason": "Error"}})
                )]
            ),
            WorkloadStatus::failed(FailureReason::ExitCode(2))
        );
        let unschedulable = pod(json!({
            "metadata": {"name": "p"},
            "status": {"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]}
        }));
        assert_eq!(
            container_status(&d, &[unschedulable]),
            WorkloadStatus::failed(FailureReason::Unschedulable)
        );
        let stopped = deployment(0);
        assert_eq!(
            container_status(&stopped, &[running()]),
            WorkloadStatus::Stopping
        );
        assert_eq!(container_status(&stopped, &[]), WorkloadStatus::Stopped);
    }

    #[test]
    fn jobs() {
        let active = job(json!([]));
        assert_eq!(job_status(&active, &[]), WorkloadStatus::Creating);
        assert_eq!(job_status(&active, &[running()]), WorkloadStatus::Running);
        let done = job(json!([{"type": "Complete", "status": "True"}]));
        assert_eq!(job_status(&done, &[]), WorkloadStatus::Succeeded);
        let late = job(json!([{"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}]));
        assert_eq!(
            job_status(&late, &[]),
            WorkloadStatus::failed(FailureReason::TimeLimit)
        );
        let failed =
            job(json!([{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]));
        let exited = pod(json!({
            "metadata": {"name": "p"},
            "status": {"phase": "Failed", "containerStatuses": [{"name": "main", "image": "i", "imageID": "",
                "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 3, "reason": "Error"}}}]}
        }));
        assert_eq!(
            job_status(&failed, &[exited]),
            WorkloadStatus::failed(FailureReason::ExitCode(3))
        );
        let suspended = job(json!([{"type": "Suspended", "status": "True"}]));
        assert_eq!(job_status(&suspended, &[]), WorkloadStatus::Stopped);
        assert_eq!(
            job_status(&suspended, &[running()]),
            WorkloadStatus::Stopping
        );
    }
}
