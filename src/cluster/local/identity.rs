//! Who the server is, and so whose user workloads run as: a server running
//! as root, or one that holds CAP_SETUID and CAP_SETGID (and the
//! capabilities to manage what its workloads' users own), runs each
//! project's workloads as a user of its own; any other runs them as its
//! own user. Read from the process's `/proc/self/status` (its uids and its
//! effective and ambient capability masks).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Capability numbers (linux/capability.h) the driver uses.
const CAP_CHOWN: u32 = 0;
const CAP_DAC_OVERRIDE: u32 = 1;
const CAP_FOWNER: u32 = 3;
const CAP_KILL: u32 = 5;
const CAP_SETGID: u32 = 6;
const CAP_SETUID: u32 = 7;

/// What a server that is not root needs besides CAP_SETUID/CAP_SETGID to
/// run workloads as other users: hand them their folders, signal their
/// processes, delete what they leave behind.
const HELPERS: [(u32, &str); 4] = [
    (CAP_CHOWN, "CAP_CHOWN"),
    (CAP_KILL, "CAP_KILL"),
    (CAP_DAC_OVERRIDE, "CAP_DAC_OVERRIDE"),
    (CAP_FOWNER, "CAP_FOWNER"),
];

/// The capabilities a server that is not root needs for a user per project,
/// as the packaged unit's `AmbientCapabilities=` names them.
pub const NEEDED: &str =
    "CAP_SETUID, CAP_SETGID, CAP_CHOWN, CAP_KILL, CAP_DAC_OVERRIDE and CAP_FOWNER";

/// The server process's identity, from `/proc/self/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credentials {
    pub effective_uid: u32,
    /// `CapEff`: the capabilities it holds now.
    pub effective: u64,
    /// `CapAmb`: those every program it starts inherits.
    pub ambient: u64,
}

impl Credentials {
    fn holds(&self, cap: u32) -> bool {
        self.effective & (1 << cap) != 0
    }

    /// Whether the programs it starts hold `cap` too.
    fn hands_on(&self, cap: u32) -> bool {
        self.ambient & (1 << cap) != 0
    }
}

/// Parses a `/proc/PID/status` text; None when a field is missing.
pub fn parse_status(status: &str) -> Option<Credentials> {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
    };
    let mask = |name: &str| u64::from_str_radix(field(name)?, 16).ok();
    Some(Credentials {
        effective_uid: field("Uid")?.split_whitespace().nth(1)?.parse().ok()?,
        effective: mask("CapEff")?,
        ambient: mask("CapAmb")?,
    })
}

/// This process's identity; None when /proc cannot tell.
pub fn current() -> Option<Credentials> {
    parse_status(&std::fs::read_to_string("/proc/self/status").ok()?)
}

/// How workloads get a user of their own, when they do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    /// The server is root: bwrap runs privileged and keeps CAP_SETUID and
    /// CAP_SETGID for `setpriv` inside the sandbox only.
    InSandbox,
    /// The server holds CAP_SETUID/CAP_SETGID: `setpriv` switches to the
    /// project's user (dropping every capability) before bwrap, which then
    /// runs unprivileged as that user. Its folders must be reachable by
    /// that user.
    BeforeSandbox,
}

/// Whose user workloads run as, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Users {
    /// Each project's as a user of its own.
    PerProject(Switch),
    /// The server's own; the reason when it holds CAP_SETUID/CAP_SETGID
    /// but something else is missing.
    Server(Option<String>),
}

/// What the credentials allow (the driver's folder is checked after).
pub fn users(credentials: Option<Credentials>) -> Users {
    let Some(credentials) = credentials else {
        return Users::Server(None);
    };
    if credentials.effective_uid == 0 {
        return Users::PerProject(Switch::InSandbox);
    }
    if !(credentials.holds(CAP_SETUID) && credentials.holds(CAP_SETGID)) {
        return Users::Server(None);
    }
    let missing: Vec<&str> = HELPERS
        .iter()
        .filter(|(cap, _)| !credentials.holds(*cap))
        .map(|(_, name)| *name)
        .collect();
    if !missing.is_empty() {
        Users::Server(Some(format!(
            "the server holds CAP_SETUID and CAP_SETGID but not {}; a user per project needs {NEEDED}",
            missing.join(", ")
        )))
    } else if !(credentials.hands_on(CAP_SETUID) && credentials.hands_on(CAP_SETGID)) {
        // setpriv, started through a shell, must hold them.
        Users::Server(Some(
            "the server holds CAP_SETUID and CAP_SETGID but not as ambient capabilities (systemd: AmbientCapabilities=), so the programs it starts cannot switch users".to_owned(),
        ))
    } else {
        Users::PerProject(Switch::BeforeSandbox)
    }
}

/// The first folder above `path` that users other than its owner cannot
/// enter (no search bit for others), if any: a workload's user could not
/// reach a folder under it.
pub fn closed_ancestor(path: &Path) -> Option<PathBuf> {
    path.ancestors()
        .skip(1)
        .find(|dir| {
            dir.metadata()
                .is_ok_and(|meta| meta.permissions().mode() & 0o001 == 0)
        })
        .map(Path::to_owned)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn status(uid: u32, effective: u64, ambient: u64) -> String {
        format!(
            "Name:\tmlstack\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\nGid:\t1\t1\t1\t1\n\
             CapInh:\t{ambient:016x}\nCapPrm:\t{effective:016x}\nCapEff:\t{effective:016x}\n\
             CapBnd:\t000001ffffffffff\nCapAmb:\t{ambient:016x}\n"
        )
    }

    #[test]
    fn credentials_from_proc() {
        assert_eq!(
            parse_status(&status(999, 0xeb, 0xeb)),
            Some(Credentials {
                effective_uid: 999,
                effective: 0xeb,
                ambient: 0xeb
            })
        );
        assert_eq!(
            parse_status("Name:\tx\nUid:\t1000\t0\t0\t0\nCapEff:\t0000000000000000\nCapAmb:\t0\n")
                .map(|c| c.effective_uid),
            Some(0)
        );
        assert_eq!(parse_status("Name:\tx\nUid:\t0\t0\t0\t0\n"), None);
        assert_eq!(
            parse_status(&status(1, 0, 0).replace("CapEff:\t0", "CapEff:\tz")),
            None
        );
        // This process has an identity.
        assert!(current().is_some());
    }

    #[test]
    fn root_or_the_capabilities_give_a_user_per_project() {
        let all = 0xeb; // chown, dac_override, fowner, kill, setgid, setuid
        let users_of = |uid, caps| users(parse_status(&status(uid, caps, caps)));
        assert_eq!(users_of(0, 0), Users::PerProject(Switch::InSandbox));
        assert_eq!(users_of(999, all), Users::PerProject(Switch::BeforeSandbox));
        assert_eq!(users_of(999, 0), Users::Server(None));
        // CAP_SETUID alone is not enough.
        assert_eq!(users_of(999, 1 << CAP_SETUID), Users::Server(None));
        let Users::Server(Some(why)) = users_of(999, all & !(1 << CAP_KILL)) else {
            panic!("CAP_KILL is needed");
        };
        assert!(why.contains("not CAP_KILL"), "{why}");
        assert!(why.contains(NEEDED), "{why}");
        assert_eq!(users(None), Users::Server(None));
        // Effective only (file capabilities on the binary): the programs it
        // starts would not hold them.
        let Users::Server(Some(why)) = users(parse_status(&status(999, all, 0))) else {
            panic!("ambient capabilities are needed");
        };
        assert!(why.contains("not as ambient capabilities"), "{why}");
    }

    #[test]
    fn closed_ancestors_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let open = dir.path().join("open");
        let closed = open.join("closed");
        std::fs::create_dir_all(closed.join("local")).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o711)).unwrap();
        std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(closed_ancestor(&closed.join("local")), Some(closed.clone()));
        assert_eq!(closed_ancestor(&open.join("local")), None);
        // Only folders above count: the driver opens its own.
        assert_eq!(closed_ancestor(&closed), None);
    }
}
