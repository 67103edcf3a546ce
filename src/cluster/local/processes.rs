//! A workload's processes: starting them (recorded by pid and start time),
//! watching them until they end (our children, or processes found again
//! after a restart), ending a whole process group (TERM, grace, KILL: the
//! sandbox's first process is in the group, and when it dies the kernel
//! ends every process of the sandbox, `setsid` or not), and telling a
//! status from how they ended.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use super::{Inner, Kind, ProcRecord, procfs, sandbox};
use crate::cluster::DriverError;
use crate::domain::workload::{FailureReason, WorkloadId, WorkloadStatus};

/// The program a shell reported missing, from the last such line of a log:
/// dash `sh: 1: jupyter: not found`, bash `sh: line 1: jupyter: command not
/// found`.
pub(super) fn missing_program_in_log(log: &str) -> Option<String> {
    log.lines().rev().find_map(|line| {
        let head = line
            .strip_suffix(": command not found")
            .or_else(|| line.strip_suffix(": not found"))?;
        let program = head.rsplit(": ").next()?.trim();
        (!program.is_empty()).then(|| program.to_owned())
    })
}

/// A job's status from its exit code (127: the shell found no program).
pub(super) fn status_from_code(code: i32, program: Option<&str>) -> WorkloadStatus {
    match code {
        0 => WorkloadStatus::Succeeded,
        127 => WorkloadStatus::failed(FailureReason::MissingProgram(
            program.unwrap_or("(unknown)").to_owned(),
        )),
        code => WorkloadStatus::failed(FailureReason::ExitCode(code)),
    }
}

pub(super) fn status_from_exit(status: ExitStatus, program: Option<&str>) -> WorkloadStatus {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => status_from_code(code, program),
        (None, Some(signal)) => {
            WorkloadStatus::failed(FailureReason::Other(format!("killed by signal {signal}")))
        }
        (None, None) => WorkloadStatus::failed(FailureReason::Other("ended".to_owned())),
    }
}

/// The program a shell command starts, when it is a plain word: skips
/// `VAR=value` assignments and `exec`; None when shell syntax makes it
/// uncertain.
pub(super) fn first_program(command: &str) -> Option<String> {
    let word = command
        .split_whitespace()
        .find(|w| w.find('=').is_none_or(|at| at == 0) && *w != "exec")?;
    let plain = word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./+".contains(c));
    plain.then(|| word.to_owned())
}

/// Whether `program` can be run: a name found on the system's PATH. A path
/// may name something only the sandbox shows (the working directory, a
/// volume): the shell in the sandbox tells (127).
pub(super) fn program_exists(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let executable = |path: &Path| {
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return true;
    }
    // Shell builtins and keywords a command may start with.
    const BUILTINS: [&str; 12] = [
        "cd", "echo", "exit", "export", "printf", "read", "set", "test", "true", "false", "ulimit",
        "wait",
    ];
    if BUILTINS.contains(&program) {
        return true;
    }
    // Workloads get the system's PATH, not the server's.
    std::env::split_paths(sandbox::PATH).any(|dir| executable(&dir.join(program)))
}

pub(super) fn spawn_recorded(
    command: &mut Command,
    role: String,
    program: Option<String>,
) -> Result<(Child, ProcRecord), DriverError> {
    let child = command
        .spawn()
        .map_err(|e| DriverError::io(format!("starting {role}"), e))?;
    let pid = child.id().and_then(|p| i32::try_from(p).ok()).unwrap_or(0);
    let start_ticks = procfs::stat(pid).map(|s| s.start_ticks).unwrap_or(0);
    Ok((
        child,
        ProcRecord {
            role,
            pid,
            start_ticks,
            program,
        },
    ))
}

/// TERM to the group, then KILL after `grace` if members are left; returns
/// once none is.
pub(super) async fn terminate_group(pgid: i32, grace: Duration) {
    let _ = procfs::signal_group(pgid, Signal::SIGTERM);
    let deadline = tokio::time::Instant::now() + grace;
    loop {
        if procfs::group_members(pgid).is_empty() {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = procfs::signal_group(pgid, Signal::SIGKILL);
    for _ in 0..100 {
        if procfs::group_members(pgid).is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Watches a job we started until it ends.
pub(super) async fn watch_job(
    inner: Arc<Inner>,
    id: WorkloadId,
    mut child: Child,
    pgid: i32,
    program: Option<String>,
    time_limit: Option<Duration>,
) {
    let exited = match time_limit {
        Some(limit) => tokio::time::timeout(limit, child.wait()).await.ok(),
        None => Some(child.wait().await),
    };
    let status = match exited {
        None => {
            terminate_group(pgid, inner.config.stop_grace).await;
            let _ = child.wait().await;
            WorkloadStatus::failed(FailureReason::TimeLimit)
        }
        Some(result) => {
            // Background processes the command left behind go with it.
            let _ = procfs::signal_group(pgid, Signal::SIGKILL);
            match result {
                Ok(exit) => status_from_exit(exit, program.as_deref()),
                Err(e) => WorkloadStatus::failed(FailureReason::Other(format!(
                    "could not wait for the job: {e}"
                ))),
            }
        }
    };
    let message = match &status {
        WorkloadStatus::Succeeded => "the job succeeded".to_owned(),
        other => other.to_string(),
    };
    inner.finish(id, status, message);
}

pub(super) enum ContainerEnd {
    Exited(String, Option<String>, std::io::Result<ExitStatus>),
    NotListening(String, u16),
}

/// Watches a container we started: Running once every service listens,
/// Failed when any of its processes ends, Stopped when asked to stop.
pub(super) async fn watch_container(
    inner: Arc<Inner>,
    id: WorkloadId,
    pgid: i32,
    children: Vec<(Child, ProcRecord)>,
    services: Vec<(String, SocketAddr)>,
) {
    let (tx, mut rx) = mpsc::channel(children.len().max(1));
    for (mut child, record) in children {
        let tx = tx.clone();
        tokio::spawn(async move {
            let status = child.wait().await;
            let _ = tx.send((record.role, record.program, status)).await;
        });
    }
    drop(tx);
    let deadline = tokio::time::Instant::now() + inner.config.ready_timeout;
    let mut ready = false;
    let end = loop {
        if !ready {
            let addresses: Vec<SocketAddr> = services.iter().map(|(_, a)| *a).collect();
            let listening = tokio::task::spawn_blocking(move || {
                addresses.iter().all(|addr| {
                    TcpStream::connect_timeout(addr, Duration::from_millis(200)).is_ok()
                })
            })
            .await
            .unwrap_or(false);
            if listening {
                ready = true;
                let mut state = inner.lock();
                let stopping = state
                    .workloads
                    .get(&id)
                    .is_none_or(|e| e.record.stop_requested);
                if !stopping {
                    inner.transition(
                        &mut state,
                        id,
                        WorkloadStatus::Running,
                        "every service listens".to_owned(),
                    );
                }
            } else if tokio::time::Instant::now() >= deadline {
                let (name, port) = services
                    .iter()
                    .find(|(_, addr)| {
                        TcpStream::connect_timeout(addr, Duration::from_millis(200)).is_err()
                    })
                    .map(|(name, addr)| (name.clone(), addr.port()))
                    .unwrap_or_default();
                break ContainerEnd::NotListening(name, port);
            }
        }
        let poll = Duration::from_millis(if ready { 3_600_000 } else { 100 });
        tokio::select! {
            exited = rx.recv() => match exited {
                Some((role, program, status)) => break ContainerEnd::Exited(role, program, status),
                None => break ContainerEnd::Exited("keeper".to_owned(), None, Ok(ExitStatus::default())),
            },
            () = tokio::time::sleep(poll) => {}
        }
    };
    terminate_group(pgid, inner.config.stop_grace).await;
    let (status, message) = match end {
        ContainerEnd::NotListening(name, port) => {
            let text = format!(
                "the service {name} did not listen on port {port} within {} s",
                inner.config.ready_timeout.as_secs()
            );
            (
                WorkloadStatus::failed(FailureReason::Other(text.clone())),
                text,
            )
        }
        ContainerEnd::Exited(role, program, result) => {
            let status = match result {
                Ok(exit) => match status_from_exit(exit, program.as_deref()) {
                    // A service or the keeper ending with 0 still ends the
                    // container: it is not what a container should do.
                    WorkloadStatus::Succeeded if role != "command" => {
                        WorkloadStatus::failed(FailureReason::ExitCode(0))
                    }
                    other => other,
                },
                Err(e) => WorkloadStatus::failed(FailureReason::Other(e.to_string())),
            };
            let message = format!("{role} ended: {status}");
            (status, message)
        }
    };
    inner.finish(id, status, message);
}

/// Watches processes found again after a restart (not our children: by
/// polling /proc), enforcing what is left of a job's time limit.
pub(super) async fn watch_adopted(inner: Arc<Inner>, id: WorkloadId, remaining: Option<Duration>) {
    let started = tokio::time::Instant::now();
    loop {
        let (kind, procs) = {
            let state = inner.lock();
            let Some(entry) = state.workloads.get(&id) else {
                return;
            };
            (entry.record.kind, entry.record.procs.clone())
        };
        let Some(leader) = procs.first() else { return };
        let pgid = leader.pid;
        let gone = match kind {
            Kind::Job => !procfs::is_same_live_process(leader.pid, leader.start_ticks),
            Kind::Container | Kind::ImageCommit => !procs
                .iter()
                .all(|p| procfs::is_same_live_process(p.pid, p.start_ticks)),
        };
        if let Some(limit) = remaining
            && started.elapsed() >= limit
            && !gone
        {
            terminate_group(pgid, inner.config.stop_grace).await;
            inner.finish(
                id,
                WorkloadStatus::failed(FailureReason::TimeLimit),
                "the time limit was reached".to_owned(),
            );
            return;
        }
        if gone {
            let exit_code = std::fs::read_to_string(inner.workload_dir(id).join("exit_code"))
                .ok()
                .and_then(|t| t.trim().parse::<i32>().ok());
            let leader_live = procfs::is_same_live_process(leader.pid, leader.start_ticks);
            if leader_live {
                terminate_group(pgid, inner.config.stop_grace).await;
            }
            let status = match (kind, exit_code) {
                (Kind::Job, Some(code)) => status_from_code(code, leader.program.as_deref()),
                _ => WorkloadStatus::failed(FailureReason::Lost),
            };
            let message = status.to_string();
            inner.finish(id, status, message);
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The job wrapper, outside the sandbox: runs the sandboxed command (the
/// words after the exit file), then records its exit code.
pub(super) const JOB_WRAPPER: &str = r#"exit_file=$1
shift
"$@"
code=$?
(umask 077; printf '%s\n' "$code" > "$exit_file.tmp") && mv "$exit_file.tmp" "$exit_file"
exit "$code""#;

/// A service's launcher, outside the sandbox: runs the sandboxed command.
pub(super) const SERVICE_LAUNCHER: &str = r#"exec "$@""#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_programs() {
        assert_eq!(
            first_program("jupyter lab --port $PORT"),
            Some("jupyter".into())
        );
        assert_eq!(
            first_program("A=1 exec python3 -m x"),
            Some("python3".into())
        );
        assert_eq!(first_program("/usr/bin/env x"), Some("/usr/bin/env".into()));
        assert_eq!(first_program("$(which x) y"), None);
        assert_eq!(first_program("  "), None);
        assert!(program_exists("sh"));
        assert!(program_exists("echo"));
        assert!(!program_exists("no-such-program-mlstack"));
        assert!(program_exists("/workspace/start.sh"), "left to the sandbox");
    }

    #[test]
    fn missing_programs_from_shell_messages() {
        assert_eq!(
            missing_program_in_log("x\nsh: 1: jupyter: not found\n"),
            Some("jupyter".into())
        );
        assert_eq!(
            missing_program_in_log("sh: line 1: code-server: command not found"),
            Some("code-server".into())
        );
        assert_eq!(missing_program_in_log("all fine"), None);
    }

    #[test]
    fn exit_codes_to_statuses() {
        assert_eq!(status_from_code(0, None), WorkloadStatus::Succeeded);
        assert_eq!(
            status_from_code(3, None),
            WorkloadStatus::failed(FailureReason::ExitCode(3))
        );
        assert_eq!(
            status_from_code(127, Some("jupyter")),
            WorkloadStatus::failed(FailureReason::MissingProgram("jupyter".into()))
        );
    }
}
