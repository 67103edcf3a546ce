//! Starting a workload's processes: its folders and user, its
//! environment (a file its shell reads, never a command line), its memory
//! limit, and the command that runs it in its sandbox.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::process::Command;

use super::cgroup::{self, shell_quote};
use super::sandbox::{Mount, RunAs};
use super::volumes::{folder, give_to, private_dir, read_uid, write_private};
use super::{Isolation, LocalDriver, LocalGpu, gpu, sandbox};
use crate::cluster::DriverError;
use crate::domain::ids::ProjectId;
use crate::domain::workload::{JUPYTER_WORKDIR_ENV, Resources, VolumeMount, WorkloadId};

/// Without a sandbox a volume is not at its mount path but in its host
/// folder: the Jupyter working directory (a mount path) as that folder.
fn workdir_on_host(
    vars: &BTreeMap<String, String>,
    volumes: &[(VolumeMount, PathBuf)],
) -> Option<String> {
    let path = vars.get(JUPYTER_WORKDIR_ENV)?;
    volumes
        .iter()
        .find(|(mount, _)| mount.mount_path == *path)
        .map(|(_, dir)| dir.to_string_lossy().into_owned())
}

/// What a workload is started with.
pub(super) struct WorkloadEnv<'a> {
    pub(super) id: WorkloadId,
    pub(super) name: &'a str,
    pub(super) gpus: &'a [u32],
    pub(super) volumes: &'a [(VolumeMount, PathBuf)],
    pub(super) vars: &'a BTreeMap<String, String>,
    /// The working directory on the host.
    pub(super) work: &'a Path,
    /// The user it runs as, when not the server's.
    pub(super) uid: Option<u32>,
    /// A container's service secret (`$SERVICE_TOKEN`).
    pub(super) service_token: Option<&'a str>,
}

/// Where a sandbox shows the workload's environment file.
const ENV_FILE_INSIDE: &str = "/run/mlstack/env";

/// Where a workload's process runs, when workloads are sandboxed.
#[derive(Debug, Clone, Copy)]
pub(super) enum Place<'a> {
    /// In a new sandbox of its own, made in the user namespace at that
    /// path (`/proc/PID/ns/user` of a container's placeholder) when given.
    Own { userns: Option<&'a Path> },
    /// In the running sandbox of process `target` (a container's: its
    /// environment file is the one the sandbox was made with).
    Join(i32),
}

impl LocalDriver {
    /// Checks that the spec's volumes exist and returns their directories.
    pub(super) fn volume_dirs(
        &self,
        project: ProjectId,
        mounts: &[VolumeMount],
    ) -> Result<Vec<(VolumeMount, PathBuf)>, DriverError> {
        mounts
            .iter()
            .map(|mount| {
                let dir = self.inner.volume_dir(project, &mount.volume);
                if dir.is_dir() {
                    Ok((mount.clone(), dir))
                } else {
                    Err(DriverError::NotFound {
                        what: format!("volume {}", mount.volume),
                    })
                }
            })
            .collect()
    }

    /// Makes the working directory (owned by the workload's user), its
    /// volume links (unsandboxed only: a sandbox mounts them) and the log
    /// file.
    pub(super) fn prepare(
        &self,
        id: WorkloadId,
        volumes: &[(VolumeMount, PathBuf)],
        uid: Option<u32>,
    ) -> Result<(PathBuf, std::fs::File), DriverError> {
        let dir = self.inner.workload_dir(id);
        folder(&dir, self.inner.folder_mode())?;
        let work = dir.join("work");
        private_dir(&work)?;
        give_to(&work, uid)?;
        for (_, volume) in volumes {
            give_to(volume, uid)?;
        }
        if !self.inner.sandboxed() {
            for (mount, target) in volumes {
                let link = work.join(mount.local_name());
                if link.symlink_metadata().is_ok() {
                    let _ = std::fs::remove_file(&link);
                }
                std::os::unix::fs::symlink(target, &link)
                    .map_err(|e| DriverError::io(format!("linking {}", link.display()), e))?;
            }
        }
        let _ = std::fs::remove_file(dir.join("exit_code"));
        let log_path = dir.join("output.log");
        // Other host users may pass through the folder: the log is the
        // server's alone (0600), whatever the umask.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&log_path)
            .map_err(|e| DriverError::io(format!("opening {}", log_path.display()), e))?;
        Ok((work, log))
    }

    /// The user a project's workloads run as: None unless workloads run in
    /// a sandbox and the server may switch users (root, or
    /// CAP_SETUID/CAP_SETGID); else the project's own, chosen once from
    /// `workload_uids` and kept in `projects/<id>/uid`.
    pub(super) fn project_uid(&self, project: ProjectId) -> Result<Option<u32>, DriverError> {
        if self.inner.switch().is_none() {
            return Ok(None);
        }
        let _choosing = self.inner.uids.lock().unwrap_or_else(|e| e.into_inner());
        let root = self.inner.config.data_dir.join("projects");
        let dir = self.inner.project_folder(project, None)?;
        let file = dir.join("uid");
        if let Some(uid) = read_uid(&file) {
            return Ok(Some(uid));
        }
        let taken: BTreeSet<u32> = std::fs::read_dir(&root)
            .map_err(|e| DriverError::io(format!("listing {}", root.display()), e))?
            .flatten()
            .filter_map(|entry| read_uid(&entry.path().join("uid")))
            .collect();
        let uid = self
            .inner
            .config
            .workload_uids
            .clone()
            .find(|uid| !taken.contains(uid))
            .ok_or_else(|| {
                DriverError::Conflict(format!(
                    "every workload user from {} to {} is taken: raise [local] workload_uid_count",
                    self.inner.config.workload_uids.start(),
                    self.inner.config.workload_uids.end()
                ))
            })?;
        write_private(&file, uid.to_string().as_bytes())
            .map_err(|e| DriverError::io(format!("writing {}", file.display()), e))?;
        Ok(Some(uid))
    }

    /// How a workload of user `uid` becomes that user, when it does.
    pub(super) fn run_as(&self, uid: Option<u32>) -> Option<RunAs> {
        uid.zip(self.inner.switch())
            .map(|(uid, switch)| RunAs { uid, switch })
    }

    /// The environment a workload gets, and nothing else of the server's.
    pub(super) fn workload_vars(&self, env: &WorkloadEnv<'_>) -> BTreeMap<String, String> {
        let sandboxed = self.inner.sandboxed();
        let workdir = if sandboxed {
            sandbox::WORKDIR.to_owned()
        } else {
            env.work.to_string_lossy().into_owned()
        };
        let mut vars = BTreeMap::new();
        vars.insert("PATH".to_owned(), sandbox::PATH.to_owned());
        vars.insert("HOME".to_owned(), workdir.clone());
        vars.insert("LANG".to_owned(), "C.UTF-8".to_owned());
        vars.insert("CUDA_DEVICE_ORDER".to_owned(), "PCI_BUS_ID".to_owned());
        let devices = {
            let state = self.inner.lock();
            gpu::cuda_visible_devices(&state.gpus.gpus, env.gpus)
        };
        vars.insert("CUDA_VISIBLE_DEVICES".to_owned(), devices);
        vars.insert("MLSTACK_WORKLOAD_ID".to_owned(), env.id.to_string());
        vars.insert("MLSTACK_WORKLOAD_NAME".to_owned(), env.name.to_owned());
        vars.insert("MLSTACK_WORKDIR".to_owned(), workdir);
        for (mount, dir) in env.volumes {
            let value = if sandboxed {
                mount.mount_path.clone()
            } else {
                dir.to_string_lossy().into_owned()
            };
            vars.insert(mount.env_name(), value);
        }
        for (name, value) in env.vars {
            vars.insert(name.clone(), value.clone());
        }
        if !sandboxed && let Some(host) = workdir_on_host(env.vars, env.volumes) {
            vars.insert(JUPYTER_WORKDIR_ENV.to_owned(), host);
        }
        if let Some(token) = env.service_token {
            vars.insert("SERVICE_TOKEN".to_owned(), token.to_owned());
        }
        vars
    }

    /// Writes the workload's environment as a file its shell reads
    /// (`export NAME='value'` lines), readable by the workload's user only:
    /// never on a command line, where other users of the host could read it.
    pub(super) fn write_env_file(&self, env: &WorkloadEnv<'_>) -> Result<PathBuf, DriverError> {
        let path = self.inner.workload_dir(env.id).join("env");
        let text: String = self
            .workload_vars(env)
            .iter()
            .map(|(name, value)| format!("export {name}={}\n", shell_quote(value)))
            .collect();
        // Written beside and renamed over: a sandbox starting meanwhile (a
        // terminal opened while the container starts) binds a whole file.
        static WRITES: AtomicU64 = AtomicU64::new(0);
        let temporary = path.with_extension(format!(
            "{}.{}",
            std::process::id(),
            WRITES.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temporary)
            .and_then(|mut file| std::io::Write::write_all(&mut file, text.as_bytes()))
            .map_err(|e| DriverError::io(format!("writing {}", temporary.display()), e))?;
        give_to(&temporary, env.uid)?;
        std::fs::rename(&temporary, &path)
            .map_err(|e| DriverError::io(format!("writing {}", path.display()), e))?;
        Ok(path)
    }

    /// A workload's process: `outer` is a shell script run outside the
    /// sandbox (its memory limit, the job wrapper) with `$0` = `arg0`,
    /// then `outer_args`, then the words that run `command` in the
    /// sandbox `place` says (or, unsandboxed, directly) with the
    /// workload's environment (plus `exports`, e.g. a service's PORT) and
    /// nothing else; a sandbox of its own also mounts `extra` (the SSH
    /// server's folder and files, in the container's sandbox).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn workload_command(
        &self,
        outer: &str,
        arg0: &str,
        outer_args: &[OsString],
        command: &str,
        exports: &str,
        extra: &[Mount],
        env: &WorkloadEnv<'_>,
        log: &std::fs::File,
        place: Place<'_>,
    ) -> Result<Command, DriverError> {
        let mut words: Vec<OsString> = Vec::new();
        let run_as = self.run_as(env.uid);
        let env_inside = match (&self.inner.isolation, place) {
            (Isolation::Sandbox { .. }, Place::Join(target)) => {
                words.extend(sandbox::join_command(
                    target,
                    run_as,
                    self.inner.own_userns(),
                    self.inner.drop_capabilities,
                ));
                PathBuf::from(ENV_FILE_INSIDE)
            }
            (Isolation::Sandbox { system, hidden, .. }, Place::Own { userns }) => {
                let env_file = self.write_env_file(env)?;
                let mut mounts: Vec<Mount> = env
                    .volumes
                    .iter()
                    .map(|(mount, dir)| Mount {
                        host: dir.clone(),
                        inside: mount.mount_path.clone(),
                        read_only: mount.read_only,
                    })
                    .collect();
                mounts.push(Mount {
                    host: env_file.clone(),
                    inside: ENV_FILE_INSIDE.to_owned(),
                    read_only: true,
                });
                mounts.extend(extra.iter().cloned());
                let minors: Vec<u32> = {
                    let state = self.inner.lock();
                    env.gpus
                        .iter()
                        .map(|index| {
                            state
                                .gpus
                                .gpus
                                .iter()
                                .find(|g| g.index == *index)
                                .map_or(*index, LocalGpu::device_minor)
                        })
                        .collect()
                };
                words.extend(sandbox::command(
                    &self.inner.config.bwrap,
                    &sandbox::Plan {
                        system,
                        hidden,
                        work: env.work,
                        mounts: &mounts,
                        gpu_minors: &minors,
                        run_as,
                        drop_capabilities: self.inner.drop_capabilities,
                        userns,
                    },
                ));
                PathBuf::from(ENV_FILE_INSIDE)
            }
            (Isolation::Unsandboxed(_), _) => {
                // Never the server's capabilities, sandbox or not.
                if self.inner.drop_capabilities {
                    words.extend(sandbox::drop_capabilities_args());
                }
                self.write_env_file(env)?
            }
            (Isolation::Refused(why), _) => return Err(DriverError::Conflict(why.clone())),
        };
        words.push("/bin/sh".into());
        words.push("-c".into());
        words.push(
            format!(
                ". {}\n{exports}exec /bin/sh -c \"$1\"",
                shell_quote(&env_inside.to_string_lossy())
            )
            .into(),
        );
        words.push("mlstack-workload".into());
        words.push(command.into());
        let mut process = Command::new("/bin/sh");
        process
            .arg("-c")
            .arg(outer)
            .arg(arg0)
            .args(outer_args)
            .args(words)
            .env_clear()
            .env("PATH", sandbox::PATH)
            .current_dir(env.work)
            .stdin(Stdio::null());
        let out = log
            .try_clone()
            .map_err(|e| DriverError::io("opening the log", e))?;
        let err = log
            .try_clone()
            .map_err(|e| DriverError::io("opening the log", e))?;
        process.stdout(out).stderr(err).kill_on_drop(false);
        Ok(process)
    }

    /// The shell lines that put a workload's memory limit in place before
    /// its command runs: joining its cgroup, or else RLIMIT_AS.
    pub(super) fn limit_prefix(
        &self,
        id: WorkloadId,
        resources: &Resources,
        gpus: &[u32],
    ) -> String {
        if !self.inner.config.memory_limit || resources.ram_mib == 0 {
            return String::new();
        }
        let rlimit = if gpus.is_empty() {
            format!(
                "ulimit -v {} 2>/dev/null",
                resources.ram_mib.saturating_mul(1024)
            )
        } else {
            ":".to_owned()
        };
        let cgroup = self.inner.cgroups.as_ref().and_then(|cgroups| {
            cgroups
                .create(id, resources.ram_mib)
                .inspect_err(
                    |error| tracing::warn!(%id, %error, "could not create the workload's cgroup"),
                )
                .ok()
        });
        match cgroup {
            Some(dir) => format!(
                "{{ echo $$ > {}; }} 2>/dev/null || {rlimit}\n",
                cgroup::shell_quote(&dir.join("cgroup.procs").to_string_lossy())
            ),
            None if gpus.is_empty() => format!("{rlimit}\n"),
            None => String::new(),
        }
    }
}

#[cfg(test)]
mod workdir_tests {
    use super::*;

    #[test]
    fn without_a_sandbox_the_jupyter_working_directory_is_the_volumes_host_folder() {
        let volumes = vec![(
            VolumeMount {
                volume: "data".into(),
                mount_path: "/workspace/data".into(),
                read_only: false,
            },
            PathBuf::from("/var/lib/mlstack/volumes/v1"),
        )];
        let vars = BTreeMap::from([(JUPYTER_WORKDIR_ENV.to_owned(), "/workspace/data".to_owned())]);
        assert_eq!(
            workdir_on_host(&vars, &volumes).as_deref(),
            Some("/var/lib/mlstack/volumes/v1")
        );
        assert_eq!(workdir_on_host(&BTreeMap::new(), &volumes), None);
    }
}
