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
    pub pgrp: i32,
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
    // fields[0] is field 3 (state); pgrp is field 5; starttime field 22.
    Some(ProcStat {
        state: fields.first()?.chars().next()?,
        pgrp: fields.get(2)?.parse().ok()?,
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

/// Pids of the live (not zombie) members of a process group.
pub fn group_members(pgid: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir(Path::new("/proc")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| stat(*pid).is_some_and(|s| s.pgrp == pgid && s.is_live()))
        .collect()
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
        let text = "1234 (my (weird) prog) S 1 1234 1234 0 -1 4194560 100 0 0 0 \
                    1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615";
        let stat = parse_stat(text).unwrap();
        assert_eq!(
            stat,
            ProcStat {
                state: 'S',
                pgrp: 1234,
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
