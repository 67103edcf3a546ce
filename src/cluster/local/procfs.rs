//! Processes and process groups on Linux: identity by pid plus start time
//! (from /proc), whether a group still has live members, and signals to a
//! whole group (nix's safe `killpg`).

use std::path::Path;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// The fields of /proc/PID/stat we use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// R, S, D, Z, T, X ...
    pub state: char,
    pub ppid: i32,
    pub pgrp: i32,
    /// The session id (the session leader's pid).
    pub session: i32,
    /// Clock ticks since boot when the process started: with the pid, the
    /// process's identity (a reused pid has another start time).
    pub start_ticks: u64,
}

impl ProcStat {
    /// Alive: not a zombie nor dead, waiting for its parent.
    pub fn is_live(&self) -> bool {
        !matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Parses /proc/PID/stat text: fields after the command name, which is in
/// parentheses and may itself contain spaces and parentheses.
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let after = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // fields[0] is field 3 (state); ppid is field 4, pgrp 5, session 6,
    // starttime 22.
    Some(ProcStat {
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        pgrp: fields.get(2)?.parse().ok()?,
        session: fields.get(3)?.parse().ok()?,
        start_ticks: fields.get(19)?.parse().ok()?,
    })
}

pub fn stat(pid: i32) -> Option<ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// Whether the process `pid` that started at `start_ticks` is still alive.
pub fn is_same_live_process(pid: i32, start_ticks: u64) -> bool {
    stat(pid).is_some_and(|s| s.start_ticks == start_ticks && s.is_live())
}

/// Every live process on the host with its stat fields.
fn live_processes() -> Vec<(i32, ProcStat)> {
    let Ok(entries) = std::fs::read_dir(Path::new("/proc")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| Some((pid, stat(pid).filter(ProcStat::is_live)?)))
        .collect()
}

/// Pids of the live (not zombie) members of a process group.
pub fn group_members(pgid: i32) -> Vec<i32> {
    live_processes()
        .into_iter()
        .filter(|(_, s)| s.pgrp == pgid)
        .map(|(pid, _)| pid)
        .collect()
}

/// Pids of the live members of session `sid`.
pub fn session_members(sid: i32) -> Vec<i32> {
    live_processes()
        .into_iter()
        .filter(|(_, s)| s.session == sid)
        .map(|(pid, _)| pid)
        .collect()
}

/// Pids of the live descendants of `pid` (children, theirs, and so on).
pub fn descendants(pid: i32) -> Vec<i32> {
    let all = live_processes();
    let mut found = vec![pid];
    let mut next = 0;
    while let Some(parent) = found.get(next).copied() {
        found.extend(
            all.iter()
                .filter(|(_, s)| s.ppid == parent)
                .map(|(child, _)| *child),
        );
        next += 1;
    }
    found.remove(0);
    found
}

/// The sessions of a process tree: `root`'s pid (the session it leads,
/// or will) and those of its live descendants, never this process's own.
pub fn sessions_of_tree(root: i32) -> std::collections::BTreeSet<i32> {
    let own = i32::try_from(std::process::id())
        .ok()
        .and_then(stat)
        .map(|s| s.session);
    descendants(root)
        .into_iter()
        .filter_map(|pid| stat(pid).map(|s| s.session))
        .chain([root])
        .filter(|sid| Some(*sid) != own)
        .collect()
}

/// The arguments a process was started with; empty when unreadable.
pub fn cmdline(pid: i32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|bytes| {
            bytes
                .split(|b| *b == 0)
                .filter(|arg| !arg.is_empty())
                .map(|arg| String::from_utf8_lossy(arg).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// CPU time a process has run, in nanoseconds: the first field of
/// /proc/PID/schedstat.
pub fn parse_schedstat_ns(text: &str) -> Option<u64> {
    text.split_whitespace().next()?.parse().ok()
}

/// Resident memory in bytes from /proc/PID/status (`VmRSS:  1234 kB`).
pub fn parse_vm_rss_bytes(text: &str) -> Option<u64> {
    let line = text.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().next()?.parse().ok()?;
    kib.checked_mul(1024)
}

/// CPU seconds and resident bytes of a process group's live members, added
/// up (None: no member could be read).
pub fn group_usage(pgid: i32) -> Option<(f64, f64)> {
    let mut seen = false;
    let (mut cpu_ns, mut rss) = (0u64, 0u64);
    for pid in group_members(pgid) {
        let sched = std::fs::read_to_string(format!("/proc/{pid}/schedstat"))
            .ok()
            .and_then(|t| parse_schedstat_ns(&t));
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|t| parse_vm_rss_bytes(&t));
        if let (Some(ns), Some(bytes)) = (sched, status) {
            seen = true;
            cpu_ns = cpu_ns.saturating_add(ns);
            rss = rss.saturating_add(bytes);
        }
    }
    seen.then(|| (cpu_ns as f64 / 1e9, rss as f64))
}

/// Sends `signal` to every member of session `sid`, again until none is
/// left (a member may fork meanwhile); a session that is gone is not an
/// error.
pub fn signal_session(sid: i32, signal: Signal) {
    if sid <= 1 {
        return;
    }
    for _ in 0..10 {
        let members = session_members(sid);
        if members.is_empty() {
            return;
        }
        for pid in members {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), signal);
        }
    }
}

/// Sends `signal` to every process of the group; a group that is gone is
/// not an error.
pub fn signal_group(pgid: i32, signal: Signal) -> std::io::Result<()> {
    if pgid <= 1 {
        // Never signal init's group or "every process" by mistake.
        return Ok(());
    }
    match killpg(Pid::from_raw(pgid), signal) {
        Ok(()) | Err(Errno::ESRCH) => Ok(()),
        Err(errno) => Err(std::io::Error::from(errno)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_names() {
        let text = "1234 (my (weird) prog) S 1 1234 1230 0 -1 4194560 100 0 0 0 \
                    1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615";
        let stat = parse_stat(text).unwrap();
        assert_eq!(
            stat,
            ProcStat {
                state: 'S',
                ppid: 1,
                pgrp: 1234,
                session: 1230,
                start_ticks: 987_654
            }
        );
        assert!(stat.is_live());
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn reads_its_own_process() {
        let me = std::process::id() as i32;
        let stat = stat(me).unwrap();
        assert!(is_same_live_process(me, stat.start_ticks));
        assert!(!is_same_live_process(me, stat.start_ticks + 1));
        assert!(session_members(stat.session).contains(&me));
        assert!(descendants(stat.ppid).contains(&me));
        assert!(!cmdline(me).is_empty());
    }

    #[test]
    fn a_child_is_a_descendant_and_a_session_ends_whole() {
        let mut child = std::process::Command::new("setsid")
            .args(["sh", "-c", "sleep 1000 & sleep 1000"])
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while descendants(pid).is_empty() {
            assert!(std::time::Instant::now() < deadline, "no children");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let sessions = sessions_of_tree(pid);
        assert!(sessions.contains(&pid), "{sessions:?}");
        let own = stat(std::process::id() as i32).unwrap().session;
        assert!(!sessions.contains(&own), "{sessions:?}");
        signal_session(pid, Signal::SIGKILL);
        child.wait().unwrap();
        assert!(session_members(pid).is_empty());
    }

    #[test]
    fn parses_cpu_time_and_resident_memory() {
        assert_eq!(
            parse_schedstat_ns("233062777 902096530 80\n"),
            Some(233_062_777)
        );
        assert_eq!(parse_schedstat_ns(""), None);
        let status = "Name:\tsleep\nVmPeak:\t 9000 kB\nVmRSS:\t    2208 kB\nThreads:\t1\n";
        assert_eq!(parse_vm_rss_bytes(status), Some(2208 * 1024));
        assert_eq!(parse_vm_rss_bytes("Name:\tkthreadd\n"), None);
        let me = std::process::id() as i32;
        let pgid = stat(me).map(|s| s.pgrp).unwrap_or(me);
        let (cpu, rss) = group_usage(pgid).expect("this test's own group");
        assert!(cpu >= 0.0 && rss > 0.0);
    }
}
