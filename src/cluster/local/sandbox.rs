//! The sandbox every local workload runs in: bubblewrap (`bwrap`) with its
//! own PID and IPC namespaces and a mount namespace that shows the host's
//! system directories read-only, a fresh `/proc`, a minimal `/dev` (plus the
//! workload's own GPU device nodes), a private `/tmp`, the working
//! directory at [`WORKDIR`] and only the workload's volumes at their mount
//! paths. The data directory, other workloads, the server's files and
//! `/sys` are not in that view. The network namespace is the host's, so
//! services listen on host ports as before.
//!
//! When the server runs as root, bwrap keeps `CAP_SETUID`/`CAP_SETGID` for
//! the sandbox's first process only, which is `setpriv` switching to the
//! project's own user with no capabilities left and no supplementary
//! groups before the workload's command runs. When the server only holds
//! CAP_SETUID/CAP_SETGID, `setpriv` switches to that user before bwrap,
//! clearing the inheritable and ambient capabilities, so bwrap runs
//! unprivileged as the project's user with nothing of the server's. A
//! server with ambient capabilities and no user switch still clears them
//! (bwrap refuses to run with capabilities it was not installed with, and
//! workloads never inherit the server's).
//!
//! A container's processes share one sandbox: they join the namespaces
//! of a process in it ([`join_command`]: util-linux `nsenter`, then
//! `setpriv` leaving no capability and setting no_new_privs). Where bwrap
//! runs unprivileged it would make two user namespaces, the sandbox's
//! processes in the inner one and the other namespaces owned by the outer
//! one, which no process is in; so a container's sandbox is made in a user
//! namespace that a placeholder holds ([`holder_command`], bwrap's
//! `--userns`), owned by the workload's user, who may then enter it and
//! everything it owns.
//!
//! The argument list is built by pure functions ([`command`], [`bwrap_args`],
//! [`holder_command`], [`join_command`]), so what a sandbox shows is tested
//! without running one; [`probe`] runs one once when the driver opens.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use super::identity::Switch;

/// Where a workload's working directory is inside its sandbox.
pub const WORKDIR: &str = "/workspace";

/// PATH inside a sandbox (and of unsandboxed workloads): the host's system
/// directories, never the server's own PATH.
pub const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The host directories a sandbox shows read-only (those that exist).
const SYSTEM_DIRS: [&str; 9] = [
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt",
];

/// The GPU control nodes every GPU workload needs, when they exist.
const GPU_CONTROL_NODES: [&str; 4] = [
    "/dev/nvidiactl",
    "/dev/nvidia-uvm",
    "/dev/nvidia-uvm-tools",
    "/dev/nvidia-modeset",
];

/// A host system directory as the sandbox shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SystemDir {
    /// A directory, bound read-only at the same path.
    Dir(PathBuf),
    /// A symbolic link (`/bin -> usr/bin` on merged-/usr systems), made
    /// again inside.
    Link { path: PathBuf, target: PathBuf },
}

/// The host's system directories as they are now.
pub fn system_dirs() -> Vec<SystemDir> {
    SYSTEM_DIRS
        .iter()
        .map(Path::new)
        .filter_map(|path| {
            let meta = path.symlink_metadata().ok()?;
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(path).ok()?;
                Some(SystemDir::Link {
                    path: path.to_owned(),
                    target,
                })
            } else if meta.is_dir() {
                Some(SystemDir::Dir(path.to_owned()))
            } else {
                None
            }
        })
        .collect()
}

/// A path of the server's that must not be seen through a bound system
/// directory (the configuration, the TLS key), and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hidden {
    /// Covered by an empty tmpfs.
    Dir(PathBuf),
    /// Covered by `/dev/null`.
    File(PathBuf),
}

/// What is hidden of `paths`: those that exist under a bound system
/// directory (anything else is outside the sandbox's view anyway).
pub fn hidden_paths(paths: &[PathBuf], system: &[SystemDir]) -> Vec<Hidden> {
    paths
        .iter()
        .filter(|path| {
            system.iter().any(|dir| match dir {
                SystemDir::Dir(bound) => path.starts_with(bound),
                SystemDir::Link { .. } => false,
            })
        })
        .filter_map(|path| {
            let meta = path.metadata().ok()?;
            Some(if meta.is_dir() {
                Hidden::Dir(path.clone())
            } else {
                Hidden::File(path.clone())
            })
        })
        .collect()
}

/// One mount of a workload's volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub host: PathBuf,
    /// The absolute path inside the sandbox.
    pub inside: String,
    pub read_only: bool,
}

/// Everything a workload's sandbox is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan<'a> {
    pub system: &'a [SystemDir],
    pub hidden: &'a [Hidden],
    /// The host directory shown as [`WORKDIR`].
    pub work: &'a Path,
    pub mounts: &'a [Mount],
    /// Minor numbers of the workload's GPUs (`/dev/nvidiaN`).
    pub gpu_minors: &'a [u32],
    /// The user (and group) the workload runs as, when the server may
    /// switch users.
    pub run_as: Option<RunAs>,
    /// Clear the server's inheritable and ambient capabilities before
    /// bwrap (the server holds ambient ones).
    pub drop_capabilities: bool,
    /// The user namespace to make the sandbox in (`/proc/PID/ns/user` of
    /// the placeholder of [`holder_command`]), when bwrap runs
    /// unprivileged for a container that others join.
    pub userns: Option<&'a Path>,
}

/// The user a sandbox's workload runs as, and how it becomes that user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunAs {
    pub uid: u32,
    pub switch: Switch,
}

/// `setpriv`, the util-linux program that changes users and capabilities.
pub const SETPRIV: &str = "/usr/bin/setpriv";

/// `setpriv`'s words that clear the inheritable and ambient capabilities
/// (and so every capability after the next exec of a program without file
/// capabilities), up to and including its `--`.
pub fn drop_capabilities_args() -> Vec<OsString> {
    [SETPRIV, "--inh-caps=-all", "--ambient-caps=-all", "--"]
        .iter()
        .map(OsString::from)
        .collect()
}

/// util-linux `nsenter`: a process into a running sandbox's namespaces.
pub const NSENTER: &str = "/usr/bin/nsenter";

/// util-linux `unshare`: the user namespace a container's sandbox is made
/// in when bwrap runs unprivileged.
pub const UNSHARE: &str = "/usr/bin/unshare";

/// The descriptor bwrap finds the user namespace of [`Plan::userns`] on.
const USERNS_FD: &str = "3";

/// The words before a sandboxed or joining program: `setpriv` switching to
/// the workload's user when the server switches users without root, or
/// clearing the server's ambient capabilities; none else.
fn before(run_as: Option<RunAs>, drop_capabilities: bool) -> Vec<OsString> {
    match run_as {
        Some(RunAs {
            uid,
            switch: Switch::BeforeSandbox,
        }) => {
            let id = uid.to_string();
            [
                SETPRIV,
                "--reuid",
                &id,
                "--regid",
                &id,
                "--clear-groups",
                "--inh-caps=-all",
                "--ambient-caps=-all",
                "--",
            ]
            .iter()
            .map(OsString::from)
            .collect()
        }
        _ if drop_capabilities => drop_capabilities_args(),
        _ => Vec::new(),
    }
}

/// The words that start a sandbox for a plan: `bwrap` (`bwrap` names the
/// program) and its arguments up to and including the `--` before the
/// workload's command; first `setpriv` when the server switches to the
/// workload's user before the sandbox, or clears its ambient capabilities;
/// then, for a plan made in a given user namespace, a shell that opens it
/// for bwrap's `--userns` (as the workload's user, who owns it).
pub fn command(bwrap: &Path, plan: &Plan<'_>) -> Vec<OsString> {
    let mut words = before(plan.run_as, plan.drop_capabilities);
    if let Some(userns) = plan.userns {
        words.extend(
            [
                "/bin/sh".as_ref(),
                "-c".as_ref(),
                format!(r#"exec "$@" {USERNS_FD}<"$0""#).as_ref(),
                userns.as_os_str(),
            ]
            .iter()
            .map(|w: &&std::ffi::OsStr| w.to_os_string()),
        );
    }
    words.push(bwrap.as_os_str().to_owned());
    words.extend(bwrap_args(plan));
    words
}

/// The words that start the placeholder holding the user namespace a
/// container's sandbox is made in, when bwrap runs unprivileged (as the
/// workload's user, up to and including the `--` before the placeholder's
/// command). bwrap, unprivileged, would otherwise make a user namespace
/// of its own and, to mount `/dev/pts`, a second one inside it for the
/// sandboxed processes; the other namespaces belong to the first, which
/// no process is in, so nothing could join them. In one that exists
/// already (`--userns`), bwrap makes no other.
pub fn holder_command(run_as: Option<RunAs>, drop_capabilities: bool) -> Vec<OsString> {
    let mut words = before(run_as, drop_capabilities);
    words.extend(
        [UNSHARE, "--user", "--map-current-user", "--"]
            .iter()
            .map(OsString::from),
    );
    words
}

/// The words that start a process in the running sandbox of process
/// `target` (a process of that sandbox), up to and including the `--`
/// before its command: `nsenter` into its mount, PID, IPC and cgroup
/// namespaces (and its user namespace when it has its own, `own_userns`),
/// its root and its working directory, then `setpriv` leaving it the
/// workload's user, no capability and no new privileges, as the
/// sandbox's own processes are. As root, the user switch happens there,
/// with the bounding set emptied; otherwise the user is switched (or the
/// server's ambient capabilities cleared) before `nsenter`, and entering a
/// user namespace of the same owner gives no capability that survives the
/// next program (its bounding set cannot be emptied without one).
pub fn join_command(
    target: i32,
    run_as: Option<RunAs>,
    own_userns: bool,
    drop_capabilities: bool,
) -> Vec<OsString> {
    let mut words = if own_userns {
        before(run_as, drop_capabilities)
    } else {
        Vec::new()
    };
    let target = target.to_string();
    words.extend(
        [NSENTER, "--target", &target]
            .iter()
            .chain(own_userns.then_some(&"--user"))
            .chain(&["--mount", "--pid", "--ipc", "--cgroup", "--root", "--wd"])
            .chain(own_userns.then_some(&"--preserve-credentials"))
            .chain(&["--", SETPRIV])
            .map(OsString::from),
    );
    if !own_userns {
        if let Some(RunAs { uid, .. }) = run_as {
            let id = uid.to_string();
            words.extend(
                ["--reuid", &id, "--regid", &id, "--clear-groups"]
                    .iter()
                    .map(OsString::from),
            );
        }
        words.extend(
            ["--inh-caps=-all", "--bounding-set=-all"]
                .iter()
                .map(OsString::from),
        );
    }
    words.extend(["--no-new-privs", "--"].iter().map(OsString::from));
    words
}

/// bwrap's arguments for a plan, up to and including the `--` before the
/// command (and `setpriv`'s when switching users).
pub fn bwrap_args(plan: &Plan<'_>) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    let mut push = |parts: &[&std::ffi::OsStr]| args.extend(parts.iter().map(|p| p.to_os_string()));
    if plan.userns.is_some() {
        push(&["--userns".as_ref(), USERNS_FD.as_ref()]);
    }
    push(&[
        "--unshare-pid".as_ref(),
        "--unshare-ipc".as_ref(),
        "--unshare-cgroup-try".as_ref(),
    ]);
    for dir in plan.system {
        match dir {
            SystemDir::Dir(path) => push(&["--ro-bind".as_ref(), path.as_ref(), path.as_ref()]),
            SystemDir::Link { path, target } => {
                push(&["--symlink".as_ref(), target.as_ref(), path.as_ref()])
            }
        }
    }
    for hidden in plan.hidden {
        match hidden {
            Hidden::Dir(path) => push(&["--tmpfs".as_ref(), path.as_ref()]),
            Hidden::File(path) => {
                push(&["--ro-bind".as_ref(), "/dev/null".as_ref(), path.as_ref()])
            }
        }
    }
    push(&[
        "--proc".as_ref(),
        "/proc".as_ref(),
        "--dev".as_ref(),
        "/dev".as_ref(),
        // Writable by everyone, sticky, as a host's /tmp (bwrap's own
        // mode would leave a root-made one to root alone).
        "--perms".as_ref(),
        "1777".as_ref(),
        "--tmpfs".as_ref(),
        "/tmp".as_ref(),
        "--bind".as_ref(),
        plan.work.as_ref(),
        WORKDIR.as_ref(),
    ]);
    // bwrap makes missing parents of a mount point only root may enter:
    // every parent (but `/` and the working directory) is made first,
    // open to all.
    let mut made: Vec<&Path> = Vec::new();
    for mount in plan.mounts {
        let inside = Path::new(&mount.inside);
        let mut parents: Vec<&Path> = inside
            .ancestors()
            .skip(1)
            .filter(|p| *p != Path::new("/") && *p != Path::new(WORKDIR))
            .collect();
        parents.reverse();
        for parent in parents {
            if !made.contains(&parent) {
                made.push(parent);
                push(&[
                    "--perms".as_ref(),
                    "0755".as_ref(),
                    "--dir".as_ref(),
                    parent.as_ref(),
                ]);
            }
        }
        let how = if mount.read_only {
            "--ro-bind"
        } else {
            "--bind"
        };
        push(&[how.as_ref(), mount.host.as_ref(), mount.inside.as_ref()]);
    }
    if !plan.gpu_minors.is_empty() {
        let nodes = plan
            .gpu_minors
            .iter()
            .map(|minor| format!("/dev/nvidia{minor}"))
            .chain(GPU_CONTROL_NODES.iter().map(|n| (*n).to_owned()));
        for node in nodes {
            push(&["--dev-bind-try".as_ref(), node.as_ref(), node.as_ref()]);
        }
    }
    push(&["--chdir".as_ref(), WORKDIR.as_ref()]);
    match plan.run_as {
        Some(RunAs {
            uid,
            switch: Switch::InSandbox,
        }) => {
            let id = uid.to_string();
            push(&[
                "--cap-add".as_ref(),
                "CAP_SETUID,CAP_SETGID".as_ref(),
                "--".as_ref(),
                SETPRIV.as_ref(),
                "--reuid".as_ref(),
                id.as_ref(),
                "--regid".as_ref(),
                id.as_ref(),
                "--clear-groups".as_ref(),
                "--inh-caps=-all".as_ref(),
                "--bounding-set=-all".as_ref(),
                "--".as_ref(),
            ]);
        }
        // The user was switched before the sandbox, or is the server's.
        _ => push(&["--".as_ref()]),
    }
    args
}

/// Runs `bwrap … true` in a sandbox like a workload's, with `work` as its
/// working directory, and, where bwrap runs unprivileged, `true` in a
/// user namespace of a container's placeholder ([`holder_command`]): Ok
/// when both work, else what went wrong (bwrap missing, user namespaces
/// off, a folder the workload's user cannot reach), in words.
pub async fn probe(
    bwrap: &Path,
    system: &[SystemDir],
    run_as: Option<RunAs>,
    drop_capabilities: bool,
    work: &Path,
) -> Result<(), String> {
    let plan = Plan {
        system,
        hidden: &[],
        work,
        mounts: &[],
        gpu_minors: &[],
        run_as,
        drop_capabilities,
        userns: None,
    };
    if !bwrap.is_file() {
        return Err(not_installed(bwrap));
    }
    let mut words = command(bwrap, &plan);
    words.extend(["/bin/sh", "-c", "true"].iter().map(OsString::from));
    try_run(
        &words,
        bwrap,
        "cannot make a sandbox (are user namespaces off?)",
    )
    .await?;
    let privileged = matches!(
        run_as,
        Some(RunAs {
            switch: Switch::InSandbox,
            ..
        })
    );
    if !privileged {
        let mut words = holder_command(run_as, drop_capabilities);
        words.push("true".into());
        try_run(
            &words,
            Path::new(UNSHARE),
            "cannot make the user namespace a container's sandbox is made in",
        )
        .await?;
    }
    Ok(())
}

/// Runs a short-lived tool's `command` with no environment, no input and
/// only its standard error kept, killed when it has not ended within
/// `limit` (then None).
pub(super) async fn run_quietly(
    command: &mut tokio::process::Command,
    limit: Duration,
) -> Option<std::io::Result<std::process::Output>> {
    let run = command
        .env_clear()
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(limit, run).await.ok()
}

/// Runs `words` (`true` at the end) as a probe: Ok when it succeeds, else
/// what `what` could not do, and why.
async fn try_run(words: &[OsString], what: &Path, cannot: &str) -> Result<(), String> {
    let Some((program, args)) = words.split_first() else {
        return Err("no sandbox command".to_owned());
    };
    let mut command = tokio::process::Command::new(program);
    command.args(args);
    match run_quietly(&mut command, Duration::from_secs(10)).await {
        None => Err(format!("{} did not answer within 10 s", what.display())),
        Some(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => Err(not_installed(program)),
        Some(Err(e)) => Err(format!("{} cannot be started: {e}", what.display())),
        Some(Ok(output)) if output.status.success() => Ok(()),
        Some(Ok(output)) => Err(format!(
            "{} {cannot}: {}",
            what.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        )),
    }
}

fn not_installed(program: impl AsRef<Path>) -> String {
    let program = program.as_ref();
    let package = if [SETPRIV, UNSHARE, NSENTER]
        .iter()
        .any(|p| program == Path::new(p))
    {
        "util-linux"
    } else {
        "bubblewrap"
    };
    format!(
        "{} is not installed (Debian and Ubuntu: apt-get install {package})",
        program.display()
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn strings(args: &[OsString]) -> Vec<String> {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    /// Whether `window` appears in `args` as consecutive arguments.
    fn has(args: &[String], window: &[&str]) -> bool {
        args.windows(window.len())
            .any(|w| w.iter().zip(window).all(|(a, b)| a == b))
    }

    fn system() -> Vec<SystemDir> {
        vec![
            SystemDir::Dir("/usr".into()),
            SystemDir::Link {
                path: "/bin".into(),
                target: "usr/bin".into(),
            },
            SystemDir::Dir("/etc".into()),
        ]
    }

    #[test]
    fn a_plan_shows_the_system_read_only_and_only_its_own_things() {
        let system = system();
        let hidden = [
            Hidden::Dir("/etc/mlstack".into()),
            Hidden::File("/etc/ssl/private/mlstack.key".into()),
        ];
        let mounts = [
            Mount {
                host: "/data/local/projects/p/volumes/set".into(),
                inside: "/workspace/set".into(),
                read_only: true,
            },
            Mount {
                host: "/data/local/projects/p/volumes/out".into(),
                inside: "/out/set".into(),
                read_only: false,
            },
        ];
        let args = strings(&bwrap_args(&Plan {
            system: &system,
            hidden: &hidden,
            work: Path::new("/data/local/workloads/w/work"),
            mounts: &mounts,
            gpu_minors: &[1],
            run_as: None,
            drop_capabilities: false,
            userns: None,
        }));
        assert!(has(
            &args,
            &["--unshare-pid", "--unshare-ipc", "--unshare-cgroup-try"]
        ));
        assert!(has(&args, &["--ro-bind", "/usr", "/usr"]));
        assert!(has(&args, &["--symlink", "usr/bin", "/bin"]));
        assert!(has(&args, &["--ro-bind", "/etc", "/etc"]));
        assert!(has(&args, &["--tmpfs", "/etc/mlstack"]));
        assert!(has(
            &args,
            &["--ro-bind", "/dev/null", "/etc/ssl/private/mlstack.key"]
        ));
        assert!(has(&args, &["--proc", "/proc", "--dev", "/dev"]));
        assert!(has(&args, &["--perms", "1777", "--tmpfs", "/tmp"]));
        assert!(!args.iter().any(|a| a == "--userns"));
        assert!(has(
            &args,
            &["--bind", "/data/local/workloads/w/work", "/workspace"]
        ));
        assert!(has(
            &args,
            &[
                "--ro-bind",
                "/data/local/projects/p/volumes/set",
                "/workspace/set"
            ]
        ));
        assert!(has(
            &args,
            &["--bind", "/data/local/projects/p/volumes/out", "/out/set"]
        ));
        // Parents of mount points are made open to all, once.
        assert!(has(&args, &["--perms", "0755", "--dir", "/out"]));
        assert!(!has(&args, &["--dir", "/workspace"]));
        assert_eq!(args.iter().filter(|a| *a == "--dir").count(), 1);
        // Only its own GPU, plus the control nodes.
        assert!(has(
            &args,
            &["--dev-bind-try", "/dev/nvidia1", "/dev/nvidia1"]
        ));
        assert!(has(
            &args,
            &["--dev-bind-try", "/dev/nvidiactl", "/dev/nvidiactl"]
        ));
        assert!(!args.iter().any(|a| a == "/dev/nvidia0"));
        assert!(has(&args, &["--chdir", "/workspace", "--"]));
        assert_eq!(args.last().map(String::as_str), Some("--"));
        // Nothing else of the host: no /sys, no /home, no /run, no /var.
        for absent in ["/sys", "/home", "/run", "/var", "/root"] {
            assert!(
                !args.iter().any(|a| a.starts_with(absent)),
                "{absent}: {args:?}"
            );
        }
        // The hidden paths come after the directory that holds them.
        let etc = args.iter().position(|a| a == "/etc").unwrap();
        let masked = args.iter().position(|a| a == "/etc/mlstack").unwrap();
        assert!(etc < masked);
    }

    #[test]
    fn a_plan_without_gpus_has_no_gpu_nodes_and_one_with_a_user_switches() {
        let system = system();
        let plan = Plan {
            system: &system,
            hidden: &[],
            work: Path::new("/w"),
            mounts: &[],
            gpu_minors: &[],
            run_as: Some(RunAs {
                uid: 200_000,
                switch: Switch::InSandbox,
            }),
            drop_capabilities: false,
            userns: None,
        };
        let args = strings(&bwrap_args(&plan));
        // As root, bwrap is the first program; setpriv runs inside.
        assert_eq!(
            strings(&command(Path::new("/usr/bin/bwrap"), &plan)[..1]),
            ["/usr/bin/bwrap"]
        );
        assert!(!args.iter().any(|a| a.contains("nvidia")));
        assert!(has(
            &args,
            &[
                "--cap-add",
                "CAP_SETUID,CAP_SETGID",
                "--",
                "/usr/bin/setpriv"
            ]
        ));
        assert!(has(&args, &["--reuid", "200000", "--regid", "200000"]));
        assert!(has(
            &args,
            &[
                "--clear-groups",
                "--inh-caps=-all",
                "--bounding-set=-all",
                "--"
            ]
        ));
    }

    #[test]
    fn only_paths_under_bound_directories_are_hidden() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key.pem");
        std::fs::write(&file, "secret").unwrap();
        let system = vec![SystemDir::Dir(dir.path().to_owned())];
        let elsewhere = PathBuf::from("/nonexistent-mlstack/config.toml");
        assert_eq!(
            hidden_paths(&[dir.path().to_owned(), file.clone(), elsewhere], &system),
            vec![Hidden::Dir(dir.path().to_owned()), Hidden::File(file)]
        );
        assert!(hidden_paths(&[PathBuf::from("/usr")], &[]).is_empty());
    }

    #[test]
    fn with_capabilities_setpriv_switches_before_bwrap_and_clears_them() {
        let system = system();
        let mut plan = Plan {
            system: &system,
            hidden: &[],
            work: Path::new("/w"),
            mounts: &[],
            gpu_minors: &[],
            run_as: Some(RunAs {
                uid: 200_001,
                switch: Switch::BeforeSandbox,
            }),
            drop_capabilities: true,
            userns: None,
        };
        let words = strings(&command(Path::new("/usr/bin/bwrap"), &plan));
        assert_eq!(
            words[..10],
            [
                "/usr/bin/setpriv",
                "--reuid",
                "200001",
                "--regid",
                "200001",
                "--clear-groups",
                "--inh-caps=-all",
                "--ambient-caps=-all",
                "--",
                "/usr/bin/bwrap"
            ]
        );
        // bwrap, unprivileged, gets no capability to hand on.
        assert!(!words.iter().any(|w| w == "--cap-add"), "{words:?}");
        assert_eq!(words.iter().filter(|w| *w == "/usr/bin/setpriv").count(), 1);
        assert_eq!(words.last().map(String::as_str), Some("--"));

        // No user switch, but ambient capabilities: cleared all the same.
        plan.run_as = None;
        let words = strings(&command(Path::new("/usr/bin/bwrap"), &plan));
        assert_eq!(
            words[..5],
            [
                "/usr/bin/setpriv",
                "--inh-caps=-all",
                "--ambient-caps=-all",
                "--",
                "/usr/bin/bwrap"
            ]
        );
        plan.drop_capabilities = false;
        let words = strings(&command(Path::new("/usr/bin/bwrap"), &plan));
        assert_eq!(words[0], "/usr/bin/bwrap");
    }

    #[test]
    fn a_shared_sandbox_is_made_in_its_holders_user_namespace_and_joined() {
        let system = system();
        let run_as = Some(RunAs {
            uid: 200_002,
            switch: Switch::BeforeSandbox,
        });
        let plan = Plan {
            system: &system,
            hidden: &[],
            work: Path::new("/w"),
            mounts: &[],
            gpu_minors: &[],
            run_as,
            drop_capabilities: true,
            userns: Some(Path::new("/proc/42/ns/user")),
        };
        let words = strings(&command(Path::new("/usr/bin/bwrap"), &plan));
        // As the workload's user, a shell opens the namespace for bwrap.
        assert_eq!(words[0], "/usr/bin/setpriv");
        assert!(has(
            &words,
            &[
                "--",
                "/bin/sh",
                "-c",
                r#"exec "$@" 3<"$0""#,
                "/proc/42/ns/user",
                "/usr/bin/bwrap",
                "--userns",
                "3",
                "--unshare-pid"
            ]
        ));
        assert_eq!(
            strings(&holder_command(run_as, true))[9..],
            ["/usr/bin/unshare", "--user", "--map-current-user", "--"]
        );
        assert_eq!(
            strings(&holder_command(None, false)),
            ["/usr/bin/unshare", "--user", "--map-current-user", "--"]
        );

        // Unprivileged: the user (or the capabilities) first, then the
        // sandbox's user namespace with the others; nothing regained.
        let join = strings(&join_command(77, run_as, true, true));
        assert!(has(&join, &["--reuid", "200002", "--regid", "200002"]));
        let nsenter = join.iter().position(|w| w == "/usr/bin/nsenter").unwrap();
        assert_eq!(
            join[nsenter..],
            [
                "/usr/bin/nsenter",
                "--target",
                "77",
                "--user",
                "--mount",
                "--pid",
                "--ipc",
                "--cgroup",
                "--root",
                "--wd",
                "--preserve-credentials",
                "--",
                "/usr/bin/setpriv",
                "--no-new-privs",
                "--"
            ]
        );
        // As root: no user namespace to enter; the user is switched inside
        // with every capability gone.
        let root = Some(RunAs {
            uid: 200_003,
            switch: Switch::InSandbox,
        });
        assert_eq!(
            strings(&join_command(78, root, false, false)),
            [
                "/usr/bin/nsenter",
                "--target",
                "78",
                "--mount",
                "--pid",
                "--ipc",
                "--cgroup",
                "--root",
                "--wd",
                "--",
                "/usr/bin/setpriv",
                "--reuid",
                "200003",
                "--regid",
                "200003",
                "--clear-groups",
                "--inh-caps=-all",
                "--bounding-set=-all",
                "--no-new-privs",
                "--"
            ]
        );
    }

    #[tokio::test]
    async fn a_missing_bwrap_is_reported() {
        let missing = Path::new("/nonexistent-mlstack/bwrap");
        let error = probe(missing, &system_dirs(), None, false, &std::env::temp_dir())
            .await
            .unwrap_err();
        assert!(error.contains("is not installed"), "{error}");
    }
}
