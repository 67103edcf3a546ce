//! Memory limits through cgroup v2, where mlstack may create cgroups: each
//! workload gets a child cgroup `mlstack-<id>` with `memory.max`, and its
//! shells move themselves in before running anything. Where that is not
//! possible (cgroup v1, no delegation) the driver falls back to RLIMIT_AS.

use std::path::{Path, PathBuf};

use crate::domain::workload::WorkloadId;

/// Where the filesystem of cgroup v2 is mounted.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// A cgroup v2 directory whose children get the memory controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroups {
    parent: PathBuf,
}

fn has_memory(file: &Path) -> bool {
    std::fs::read_to_string(file).is_ok_and(|text| text.split_whitespace().any(|c| c == "memory"))
}

/// This process's cgroup v2 path from `/proc/self/cgroup` (`0::/path`).
fn own_path(proc_self_cgroup: &str) -> Option<&str> {
    proc_self_cgroup
        .lines()
        .find_map(|line| line.strip_prefix("0::"))
        .map(|path| path.trim().trim_start_matches('/'))
}

impl Cgroups {
    /// Uses `parent` when its children already get the memory controller
    /// and it is writable.
    pub fn at(parent: &Path) -> Option<Cgroups> {
        let writable = std::fs::metadata(parent).is_ok_and(|m| !m.permissions().readonly());
        (writable && has_memory(&parent.join("cgroup.subtree_control"))).then(|| Cgroups {
            parent: parent.to_owned(),
        })
    }

    /// Finds this process's own cgroup and, when it is delegated to us
    /// (systemd `Delegate=memory`, or running as root), enables the memory
    /// controller for its children. A cgroup with processes in it cannot
    /// pass controllers on, so the server first moves itself into a leaf
    /// `mlstack-server`. None where any of that is refused.
    pub fn detect(root: &Path, proc_self_cgroup: &str) -> Option<Cgroups> {
        let own = root.join(own_path(proc_self_cgroup)?);
        if let Some(found) = Cgroups::at(&own) {
            return Some(found);
        }
        if !has_memory(&own.join("cgroup.controllers")) {
            return None;
        }
        let leaf = own.join("mlstack-server");
        let moved = std::fs::create_dir_all(&leaf).and_then(|()| {
            std::fs::write(leaf.join("cgroup.procs"), std::process::id().to_string())
        });
        let enabled =
            moved.and_then(|()| std::fs::write(own.join("cgroup.subtree_control"), "+memory"));
        match enabled {
            Ok(()) => Some(Cgroups { parent: own }),
            Err(error) => {
                tracing::info!(%error, cgroup = %own.display(), "cgroup v2 memory limits are not available; using RLIMIT_AS");
                None
            }
        }
    }

    /// The cgroup of a workload.
    pub fn path(&self, id: WorkloadId) -> PathBuf {
        self.parent.join(format!("mlstack-{id}"))
    }

    /// Creates a workload's cgroup with its memory limit (and no swap, so
    /// the limit means what it says).
    pub fn create(&self, id: WorkloadId, ram_mib: u64) -> std::io::Result<PathBuf> {
        let dir = self.path(id);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(
            dir.join("memory.max"),
            ram_mib.saturating_mul(1024 * 1024).to_string(),
        )?;
        // Absent where swap accounting is off; the limit still holds.
        let _ = std::fs::write(dir.join("memory.swap.max"), "0");
        Ok(dir)
    }

    /// Whether the kernel killed something in the workload's cgroup for
    /// going over its limit.
    pub fn oom_killed(&self, id: WorkloadId) -> bool {
        std::fs::read_to_string(self.path(id).join("memory.events"))
            .is_ok_and(|events| oom_kills(&events) > 0)
    }

    /// CPU seconds (`cpu.stat` `usage_usec`) and memory in use
    /// (`memory.current`) of a workload's cgroup, each None when unreadable.
    pub fn usage(&self, id: WorkloadId) -> (Option<f64>, Option<f64>) {
        let dir = self.path(id);
        let cpu = std::fs::read_to_string(dir.join("cpu.stat"))
            .ok()
            .and_then(|t| usage_usec(&t))
            .map(|usec| usec as f64 / 1e6);
        let memory = std::fs::read_to_string(dir.join("memory.current"))
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok())
            .map(|b| b as f64);
        (cpu, memory)
    }

    /// Removes a workload's cgroup once its processes are gone.
    pub fn remove(&self, id: WorkloadId) {
        let _ = std::fs::remove_dir(self.path(id));
    }
}

/// The `oom_kill` count of a `memory.events` file.
fn oom_kills(events: &str) -> u64 {
    events
        .lines()
        .find_map(|line| line.strip_prefix("oom_kill "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// A shell word in single quotes.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// `usage_usec` of a cgroup's `cpu.stat`.
fn usage_usec(cpu_stat: &str) -> Option<u64> {
    cpu_stat
        .lines()
        .find_map(|l| l.strip_prefix("usage_usec "))?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn own_cgroup_from_proc() {
        assert_eq!(
            own_path("0::/system.slice/mlstack.service\n"),
            Some("system.slice/mlstack.service")
        );
        assert_eq!(own_path("4:memory:/x\n1:cpu:/\n"), None);
    }

    #[test]
    fn oom_kill_counts() {
        assert_eq!(oom_kills("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n"), 1);
        assert_eq!(oom_kills("oom 0\noom_kill 0\n"), 0);
        assert_eq!(oom_kills(""), 0);
    }

    #[test]
    fn detects_a_delegated_cgroup_and_creates_limits() {
        let root = tempfile::tempdir().unwrap();
        let own = root.path().join("system.slice/mlstack.service");
        std::fs::create_dir_all(&own).unwrap();
        std::fs::write(own.join("cgroup.controllers"), "cpu memory pids\n").unwrap();
        // Not delegated yet: the server moves into a leaf and enables memory
        // (a plain file here, so the "+memory" write replaces its content).
        std::fs::write(own.join("cgroup.subtree_control"), "").unwrap();
        let found = Cgroups::detect(root.path(), "0::/system.slice/mlstack.service\n");
        let leaf_procs = std::fs::read_to_string(own.join("mlstack-server/cgroup.procs")).unwrap();
        assert_eq!(leaf_procs, std::process::id().to_string());
        let cgroups = found.unwrap();
        let id = WorkloadId::generate();
        let dir = cgroups.create(id, 256).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("memory.max")).unwrap(),
            "268435456"
        );
        assert!(!cgroups.oom_killed(id));
        std::fs::write(dir.join("memory.events"), "oom 1\noom_kill 1\n").unwrap();
        assert!(cgroups.oom_killed(id));
    }

    #[test]
    fn no_memory_controller_means_no_cgroups() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("cgroup.controllers"), "cpu pids\n").unwrap();
        assert_eq!(Cgroups::detect(root.path(), "0::/\n"), None);
        assert_eq!(Cgroups::detect(root.path(), "4:memory:/x\n"), None);
    }

    #[test]
    fn quotes_for_the_shell() {
        assert_eq!(shell_quote("/a b/it's"), r"'/a b/it'\''s'");
    }

    #[test]
    fn a_workload_cgroups_cpu_and_memory_are_read() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("cgroup.subtree_control"), "memory\n").unwrap();
        let cgroups = Cgroups::at(root.path()).unwrap();
        let id = WorkloadId::generate();
        assert_eq!(cgroups.usage(id), (None, None));
        let dir = cgroups.create(id, 256).unwrap();
        std::fs::write(
            dir.join("cpu.stat"),
            "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n",
        )
        .unwrap();
        std::fs::write(dir.join("memory.current"), "1048576\n").unwrap();
        assert_eq!(cgroups.usage(id), (Some(2.5), Some(1_048_576.0)));
    }
}
