//! The web terminal on the local driver: an interactive shell under a
//! pseudo-terminal, inside the running container's own sandbox, as
//! `kubectl exec` is inside a pod. Every process of a container (its
//! services and command) runs in one sandbox, and the shell joins it the
//! same way they do (`sandbox::join_command`: util-linux `nsenter` into
//! the namespaces of the sandbox's placeholder — mount, PID, IPC, cgroup,
//! and its user namespace where bwrap runs unprivileged — then `setpriv`):
//! it sees the container's processes and its private `/tmp`, as the
//! container's user with no capability and no new privileges, and it is
//! in the container's cgroup (or under its RLIMIT_AS) like the others.
//!
//! The pty pair is opened with rustix (safe calls: `openpt`, `grantpt`,
//! `unlockpt`, `TIOCGPTPEER`, `tcsetwinsize`); the chain is started with
//! the slave side as stdin, stdout and stderr, and util-linux
//! `setsid --ctty` makes it a session whose controlling terminal is the
//! slave (no `unsafe` `pre_exec`). That slave belongs to the host's
//! `/dev/pts`, which the sandbox does not show (its own `/dev/pts` is
//! another instance): so inside, util-linux `script` relays it to a
//! terminal of the sandbox's own `/dev/pts` (passing on window sizes), the
//! shell's controlling terminal, which `tty` and every program that looks
//! its terminal up by name find (job control, Ctrl-C). TIOCSTI from inside
//! can only type into these terminals, whose other end is mlstack.
//!
//! The session ends, the terminal is hung up (the shell passes SIGHUP to
//! its jobs) and then every process of the terminal's sessions (the
//! outer one and the one `script` makes, found before the hang-up, so
//! orphans are counted) is killed, when the session is dropped (the
//! browser closed the socket), when the shell exits, or when the
//! container leaves Running (its sandbox ending ends the shell too). The
//! container's own processes are in none of those sessions and stay; a
//! process the shell started that left them (`setsid`, a daemon) and
//! whose parent is gone stays with the container, as after `kubectl
//! exec`, until the container stops.

use std::fs::File;
use std::future::Future;
use std::io;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::Signal;
use rustix::fs::OFlags;
use rustix::pty::OpenptFlags;
use rustix::termios::Winsize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;
use tokio::process::{Child, Command};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc};

use super::cgroup::shell_quote;
use super::launch::{Place, WorkloadEnv};
use super::{Inner, LocalDriver, SANDBOX_KEEPER, procfs};
use crate::cluster::{
    DriverError, DriverEvent, TERMINAL_BUFFER, TERMINAL_SHELL, TerminalInput, TerminalSession,
    TerminalSize,
};
use crate::domain::workload::{ContainerSpec, WorkloadId, WorkloadStatus};

/// The terminal's launcher, outside the sandbox: a new session with the
/// pty (its stdin) as controlling terminal, then the shell joining the
/// container's sandbox.
const TERMINAL_LAUNCHER: &str = r#"exec setsid --ctty "$@""#;

/// How long a hung-up shell has to end its jobs before its group is killed.
const HANGUP_GRACE: Duration = Duration::from_millis(500);

/// The most bytes one read of the terminal passes on.
const READ_CHUNK: usize = 16 * 1024;

/// A pseudo-terminal pair: the master side (driven by tokio as a
/// non-blocking reader and writer) and the slave side, for the child's
/// stdio.
pub struct Pty {
    master: OwnedFd,
    slave: OwnedFd,
}

impl Pty {
    /// Opens a pair with the window size `size`.
    pub fn open(size: TerminalSize) -> io::Result<Pty> {
        let master =
            rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
        rustix::pty::grantpt(&master)?;
        rustix::pty::unlockpt(&master)?;
        let slave = rustix::pty::ioctl_tiocgptpeer(
            &master,
            OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC,
        )?;
        set_size(&master, size)?;
        let flags = rustix::fs::fcntl_getfl(&master)?;
        rustix::fs::fcntl_setfl(&master, flags | OFlags::NONBLOCK)?;
        Ok(Pty { master, slave })
    }

    /// The slave side as a file (for a command's output).
    pub fn slave_file(&self) -> io::Result<File> {
        Ok(File::from(self.slave.try_clone()?))
    }

    /// Starts `command` with the slave side as stdin, stdout and stderr
    /// (the command must make it its controlling terminal in a session it
    /// leads, e.g. through `setsid --ctty`) and connects the master side
    /// to a session. The session ends, and every process of the child's
    /// session is killed, when it is dropped, when the child has exited,
    /// or when `stop` resolves.
    pub fn spawn(
        self,
        command: &mut Command,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<TerminalSession> {
        // tokio's pipe ends take any non-blocking descriptor that polls
        // like a pipe, which a pty master does (safe, unlike registering
        // a raw descriptor with `AsyncFd`).
        let reader = pipe::Receiver::from_owned_fd_unchecked(self.master.try_clone()?)?;
        let writer = pipe::Sender::from_owned_fd_unchecked(self.master.try_clone()?)?;
        command
            .stdin(self.slave.try_clone()?)
            .stdout(self.slave.try_clone()?)
            .stderr(self.slave.try_clone()?)
            .kill_on_drop(true);
        let child = command.spawn()?;
        // Only the child holds the slave side now: the master reads EIO
        // once everything in the session has gone.
        drop(self.slave);
        let (input_tx, input_rx) = mpsc::channel(TERMINAL_BUFFER);
        let (output_tx, output_rx) = mpsc::channel(TERMINAL_BUFFER);
        let ends = Ends {
            master: self.master,
            reader,
            writer,
        };
        tokio::spawn(pump(ends, child, input_rx, output_tx, stop));
        Ok(TerminalSession {
            input: input_tx,
            output: output_rx,
        })
    }
}

/// The master side: for the window size, reading and writing.
struct Ends {
    master: OwnedFd,
    reader: pipe::Receiver,
    writer: pipe::Sender,
}

fn set_size(master: &OwnedFd, size: TerminalSize) -> io::Result<()> {
    rustix::termios::tcsetwinsize(
        master,
        Winsize {
            ws_row: size.rows.max(1),
            ws_col: size.cols.max(1),
            ws_xpixel: 0,
            ws_ypixel: 0,
        },
    )?;
    Ok(())
}

/// What the terminal has written and not yet been read, without waiting.
fn read_ready(reader: &pipe::Receiver) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = vec![0u8; READ_CHUNK];
    while let Ok(n) = reader.try_read(&mut buf) {
        if n == 0 {
            break;
        }
        all.extend_from_slice(&buf[..n]);
    }
    all
}

/// Moves bytes between the terminal and the session until one side ends,
/// then kills the child's session (the child made it: `setsid --ctty`)
/// and those its descendants made.
async fn pump(
    mut ends: Ends,
    mut child: Child,
    mut input: mpsc::Receiver<TerminalInput>,
    output: mpsc::Sender<Vec<u8>>,
    stop: impl Future<Output = ()> + Send,
) {
    let root = child.id().and_then(|pid| i32::try_from(pid).ok());
    tokio::pin!(stop);
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        tokio::select! {
            read = ends.reader.read(&mut buf) => match read {
                Ok(n) if n > 0 => {
                    if output.send(buf[..n].to_vec()).await.is_err() {
                        break;
                    }
                }
                // EIO: nothing holds the slave side any more.
                _ => break,
            },
            message = input.recv() => match message {
                Some(TerminalInput::Data(bytes)) => {
                    if ends.writer.write_all(&bytes).await.is_err() {
                        break;
                    }
                }
                Some(TerminalInput::Resize(size)) => {
                    let _ = set_size(&ends.master, size);
                }
                None => break,
            },
            _ = child.wait() => {
                let rest = read_ready(&ends.reader);
                if !rest.is_empty() {
                    let _ = output.send(rest).await;
                }
                break;
            }
            () = &mut stop => break,
        }
    }
    // The child's session, and those its descendants made (the shell's
    // own terminal's), found before anything ends: an orphan keeps its
    // session, not its parents.
    let sessions = root.map(procfs::sessions_of_tree).unwrap_or_default();
    // Closing the master hangs the terminal up: the shell gets SIGHUP and
    // passes it to its jobs. A moment for that, then the sessions go,
    // every job's process group with them.
    drop(ends);
    let _ = tokio::time::timeout(HANGUP_GRACE, child.wait()).await;
    for session in sessions {
        procfs::signal_session(session, Signal::SIGKILL);
    }
    let _ = child.start_kill();
    let _ = child.wait().await;
}

/// Resolves when workload `id` is no longer Running (or the driver has
/// gone).
async fn left_running(
    inner: Arc<Inner>,
    mut events: broadcast::Receiver<DriverEvent>,
    id: WorkloadId,
) {
    loop {
        match events.recv().await {
            Ok(event) if event.workload == id && event.status != WorkloadStatus::Running => return,
            Ok(_) => {}
            Err(RecvError::Lagged(_)) => {
                let running = inner
                    .lock()
                    .workloads
                    .get(&id)
                    .is_some_and(|e| e.record.status == WorkloadStatus::Running);
                if !running {
                    return;
                }
            }
            Err(RecvError::Closed) => return,
        }
    }
}

impl LocalDriver {
    /// A shell under a pseudo-terminal in the sandbox of the running
    /// container `spec` (unsandboxed, where the driver runs workloads so,
    /// a shell with the container's environment).
    pub(super) async fn terminal(
        &self,
        spec: &ContainerSpec,
        size: TerminalSize,
    ) -> Result<TerminalSession, DriverError> {
        let id = spec.meta.id;
        let events = self.inner.events.subscribe();
        let not_running =
            || DriverError::Conflict(format!("container {} is not running", spec.meta.name));
        let (gpus, inside) = {
            let state = self.inner.lock();
            match state.workloads.get(&id) {
                Some(entry) if entry.record.status == WorkloadStatus::Running => (
                    entry.record.gpus.clone(),
                    entry
                        .record
                        .procs
                        .iter()
                        .find(|p| p.role == SANDBOX_KEEPER)
                        .cloned(),
                ),
                Some(_) => return Err(not_running()),
                None => {
                    return Err(DriverError::NotFound {
                        what: format!("container {id}"),
                    });
                }
            }
        };
        let place = match inside {
            Some(keeper) if procfs::is_same_live_process(keeper.pid, keeper.start_ticks) => {
                Place::Join(keeper.pid)
            }
            Some(_) => return Err(not_running()),
            None if self.inner.sandboxed() => {
                return Err(DriverError::Conflict(format!(
                    "container {} was started before its processes shared one sandbox: stop and start it",
                    spec.meta.name
                )));
            }
            None => Place::Own { userns: None },
        };
        let volumes = self.volume_dirs(spec.meta.project, &spec.volumes)?;
        let uid = self.project_uid(spec.meta.project)?;
        let work = self.inner.workload_dir(id).join("work");
        let env = WorkloadEnv {
            id,
            name: &spec.meta.name,
            gpus: &gpus,
            volumes: &volumes,
            vars: &spec.env,
            work: &work,
            uid,
            // Unsandboxed, the services' secret is the proxy's, not the
            // shell's (in the sandbox, the shell reads the container's
            // environment file, as its command does).
            service_token: None,
        };
        let limit = self.limit_prefix(id, &spec.resources, &gpus);
        let pty = Pty::open(size).map_err(|e| DriverError::io("opening a pseudo-terminal", e))?;
        let slave = pty
            .slave_file()
            .map_err(|e| DriverError::io("opening a pseudo-terminal", e))?;
        let shell = match place {
            Place::Join(_) => format!(
                "exec script -q -e -c {} /dev/null",
                shell_quote(TERMINAL_SHELL)
            ),
            Place::Own { .. } => TERMINAL_SHELL.to_owned(),
        };
        let command = self.workload_command(
            &format!("{limit}{TERMINAL_LAUNCHER}"),
            "mlstack-terminal",
            &[],
            &shell,
            "export TERM=xterm-256color\n",
            &[],
            &env,
            &slave,
            place,
        );
        let mut command = command?;
        drop(slave);
        let stop = left_running(self.inner.clone(), events, id);
        pty.spawn(&mut command, stop)
            .map_err(|e| DriverError::io("starting the terminal's shell", e))
    }
}
