//! A container's SSH service on the local driver: OpenSSH's own server
//! (`/usr/sbin/sshd`, Debian's openssh-server) started in the container's
//! sandbox like any other service — as the container's user, never root,
//! with no capability — on a port mlstack chose, at the address of
//! `[local] ssh_address` (loopback unless the admin opens it to the LAN).
//!
//! Its folder is `workloads/<id>/ssh/` (the workload's user's, 0700, shown
//! read-only at [`INSIDE`] in the container's one sandbox, which the server
//! joins like every service; its files are the container user's anyway): a host key made
//! once per container by `ssh-keygen` (kept over restarts, so clients keep
//! trusting it), the `sshd_config` of this start, the chosen public key as
//! `authorized_keys` (key login) or a one-line `shadow` with the password's
//! SHA-512 crypt hash (password login: a server that is not root checks
//! passwords against `/etc/shadow` itself, so the sandbox shows this file
//! there), and the `passwd` and `group` the sandbox shows: the host's,
//! with the container's user as [`LOGIN`] (sshd logs in only users it can
//! look up) and without the `tty` group (a server that is not root cannot
//! hand a terminal to that group, and would end the session).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::sandbox::{Mount, run_quietly};
use super::volumes::{give_to, private_dir, write_private};
use crate::cluster::DriverError;
use crate::domain::workload::SshAccess;

/// OpenSSH's server (Debian and Ubuntu: openssh-server).
pub const SSHD: &str = "/usr/sbin/sshd";
/// What makes a container's host key (openssh-client).
pub const SSH_KEYGEN: &str = "/usr/bin/ssh-keygen";
/// The name a container's user logs in with.
pub const LOGIN: &str = "user";
/// Where the server's folder is inside its sandbox.
pub const INSIDE: &str = "/run/mlstack/ssh";
const HOST_KEY: &str = "host_ed25519_key";
const CONFIG: &str = "sshd_config";

/// Whether containers' SSH services can be served: sshd and ssh-keygen
/// are installed.
pub fn installed() -> bool {
    Path::new(SSHD).is_file() && Path::new(SSH_KEYGEN).is_file()
}

/// The shell command that runs the server (in the sandbox).
pub fn command() -> String {
    format!("exec {SSHD} -D -e -f {INSIDE}/{CONFIG}")
}

/// The address a client connects to for a server listening on `listen`:
/// the advertised host when it listens on every address, else that
/// address.
pub fn shown_host(listen: IpAddr, advertise_host: &str) -> String {
    if listen.is_unspecified() {
        advertise_host.to_owned()
    } else {
        listen.to_string()
    }
}

/// Where readiness is checked for a server listening on `listen`.
pub fn probe_address(listen: IpAddr) -> IpAddr {
    match listen {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        other => other,
    }
}

/// What one start of a container's server is made of.
pub struct Server<'a> {
    pub listen: IpAddr,
    pub port: u16,
    /// Keys or a password hash (None serves nobody: not started).
    pub access: &'a SshAccess,
    /// The container's environment, set in every session.
    pub env: &'a BTreeMap<String, String>,
}

/// `sshd_config` for a start: only [`LOGIN`], by key or by password as
/// the container was created, nothing of PAM, no root, no X11.
pub fn config_text(server: &Server<'_>) -> String {
    let by_key = matches!(server.access, SshAccess::Keys(_));
    let by_password = matches!(server.access, SshAccess::PasswordHash(_));
    let yes_no = |on: bool| if on { "yes" } else { "no" };
    let mut text = format!(
        "# Written by mlstack for this start of the container; sshd runs as its user.\n\
         Port {port}\n\
         ListenAddress {listen}\n\
         HostKey {INSIDE}/{HOST_KEY}\n\
         PidFile none\n\
         UsePAM no\n\
         PermitRootLogin no\n\
         AllowUsers {LOGIN}\n\
         StrictModes yes\n\
         PubkeyAuthentication {key}\n\
         AuthorizedKeysFile {keys_file}\n\
         PasswordAuthentication {password}\n\
         PermitEmptyPasswords no\n\
         KbdInteractiveAuthentication no\n\
         HostbasedAuthentication no\n\
         PermitUserEnvironment no\n\
         X11Forwarding no\n\
         PermitTunnel no\n\
         PrintMotd no\n\
         PrintLastLog no\n\
         Subsystem sftp internal-sftp\n",
        port = server.port,
        listen = server.listen,
        key = yes_no(by_key),
        keys_file = if by_key {
            format!("{INSIDE}/authorized_keys")
        } else {
            "none".to_owned()
        },
        password = yes_no(by_password),
    );
    let pairs: Vec<String> = server
        .env
        .iter()
        .filter(|(name, value)| {
            !name.is_empty()
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !value.chars().any(char::is_control)
        })
        .map(|(name, value)| {
            let escaped = format!("{name}={value}")
                .replace('\\', "\\\\")
                .replace('"', "\\\"");
            format!("\"{escaped}\"")
        })
        .collect();
    if !pairs.is_empty() {
        text.push_str("SetEnv ");
        text.push_str(&pairs.join(" "));
        text.push('\n');
    }
    text
}

/// The host's `passwd` with the container's user as [`LOGIN`] (home: the
/// working directory) instead of any line of that name or uid.
pub fn passwd_text(host: &str, uid: u32, gid: u32, home: &str, shell: &str) -> String {
    let mut text: String = host
        .lines()
        .filter(|line| {
            let mut fields = line.split(':');
            let name = fields.next().unwrap_or("");
            let line_uid = fields.nth(1).unwrap_or("");
            name != LOGIN && line_uid != uid.to_string()
        })
        .map(|line| format!("{line}\n"))
        .collect();
    text.push_str(&format!("{LOGIN}:x:{uid}:{gid}:mlstack:{home}:{shell}\n"));
    text
}

/// The host's `group` with the container's user's group as [`LOGIN`], and
/// no `tty` group.
pub fn group_text(host: &str, gid: u32) -> String {
    let mut text: String = host
        .lines()
        .filter(|line| {
            let mut fields = line.split(':');
            let name = fields.next().unwrap_or("");
            let line_gid = fields.nth(1).unwrap_or("");
            name != LOGIN && name != "tty" && line_gid != gid.to_string()
        })
        .map(|line| format!("{line}\n"))
        .collect();
    text.push_str(&format!("{LOGIN}:x:{gid}:\n"));
    text
}

/// Prepares the server's folder `dir` for a start (the host key made on
/// the first) and returns what its sandbox mounts. `uid` and `gid` are
/// the container's user's; `owner` hands the files to it (None: the
/// server's own user runs workloads).
pub async fn prepare(
    dir: &Path,
    owner: Option<u32>,
    uid: u32,
    gid: u32,
    server: &Server<'_>,
) -> Result<Vec<Mount>, DriverError> {
    private_dir(dir)?;
    give_to(dir, owner)?;
    let key = dir.join(HOST_KEY);
    if !key.is_file() {
        make_host_key(&key).await?;
    }
    give_to(&key, owner)?;
    let _ = std::fs::remove_file(dir.join(format!("{HOST_KEY}.pub")));
    let write = |name: &str, text: &str| -> Result<PathBuf, DriverError> {
        let path = dir.join(name);
        write_private(&path, text.as_bytes())
            .map_err(|e| DriverError::io(format!("writing {}", path.display()), e))?;
        give_to(&path, owner)?;
        Ok(path)
    };
    write(CONFIG, &config_text(server))?;
    let _ = std::fs::remove_file(dir.join("authorized_keys"));
    let _ = std::fs::remove_file(dir.join("shadow"));
    let mut mounts = vec![Mount {
        host: dir.to_owned(),
        inside: INSIDE.to_owned(),
        read_only: true,
    }];
    match server.access {
        SshAccess::Keys(keys) => {
            let lines: String = keys
                .iter()
                .filter(|k| !k.contains(['\n', '\r']))
                .map(|k| format!("{k}\n"))
                .collect();
            write("authorized_keys", &lines)?;
        }
        SshAccess::PasswordHash(hash) => {
            let shadow = write("shadow", &format!("{LOGIN}:{hash}:::::::\n"))?;
            mounts.push(Mount {
                host: shadow,
                inside: "/etc/shadow".to_owned(),
                read_only: true,
            });
        }
        SshAccess::None => {}
    }
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let shell = if Path::new("/bin/bash").is_file() {
        "/bin/bash"
    } else {
        "/bin/sh"
    };
    let passwd = write(
        "passwd",
        &passwd_text(
            &read("/etc/passwd"),
            uid,
            gid,
            super::sandbox::WORKDIR,
            shell,
        ),
    )?;
    let group = write("group", &group_text(&read("/etc/group"), gid))?;
    mounts.push(Mount {
        host: passwd,
        inside: "/etc/passwd".to_owned(),
        read_only: true,
    });
    mounts.push(Mount {
        host: group,
        inside: "/etc/group".to_owned(),
        read_only: true,
    });
    Ok(mounts)
}

/// Makes an Ed25519 host key at `path` with ssh-keygen (no passphrase).
async fn make_host_key(path: &Path) -> Result<(), DriverError> {
    let mut command = tokio::process::Command::new(SSH_KEYGEN);
    command
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "", "-f"])
        .arg(path);
    match run_quietly(&mut command, Duration::from_secs(30)).await {
        Some(Ok(output)) if output.status.success() => Ok(()),
        Some(Ok(output)) => Err(DriverError::Conflict(format!(
            "ssh-keygen could not make the container's host key: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))),
        Some(Err(e)) => Err(DriverError::io("running ssh-keygen", e)),
        None => Err(DriverError::Conflict(
            "ssh-keygen did not make the container's host key within 30 s".to_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_key_login_config_takes_only_the_key_and_sets_the_environment() {
        let access = SshAccess::Keys(vec!["ssh-ed25519 AAAA me".into()]);
        let env = BTreeMap::from([
            ("CUDA_VISIBLE_DEVICES".to_owned(), "GPU-1".to_owned()),
            ("QUOTED".to_owned(), "say \"hi\" \\ there".to_owned()),
            ("LINES".to_owned(), "a\nb".to_owned()),
            ("BAD NAME".to_owned(), "x".to_owned()),
        ]);
        let text = config_text(&Server {
            listen: "127.0.0.1".parse().unwrap(),
            port: 40022,
            access: &access,
            env: &env,
        });
        for line in [
            "Port 40022",
            "ListenAddress 127.0.0.1",
            "UsePAM no",
            "PermitRootLogin no",
            "AllowUsers user",
            "PubkeyAuthentication yes",
            "AuthorizedKeysFile /run/mlstack/ssh/authorized_keys",
            "PasswordAuthentication no",
            "PermitUserEnvironment no",
            "SetEnv \"CUDA_VISIBLE_DEVICES=GPU-1\" \"QUOTED=say \\\"hi\\\" \\\\ there\"",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        assert!(!text.contains("LINES"), "{text}");
        assert!(!text.contains("BAD NAME"), "{text}");
    }

    #[test]
    fn a_password_login_config_takes_no_key() {
        let access = SshAccess::PasswordHash("$6$salt$hash".into());
        let text = config_text(&Server {
            listen: "::".parse().unwrap(),
            port: 2222,
            access: &access,
            env: &BTreeMap::new(),
        });
        assert!(text.contains("\nPasswordAuthentication yes\n"), "{text}");
        assert!(text.contains("\nPubkeyAuthentication no\n"), "{text}");
        assert!(text.contains("\nAuthorizedKeysFile none\n"), "{text}");
        assert!(text.contains("\nListenAddress ::\n"), "{text}");
        assert!(!text.contains("SetEnv"), "{text}");
    }

    #[test]
    fn the_sandbox_sees_the_container_user_by_name_and_no_tty_group() {
        let host = "root:x:0:0:root:/root:/bin/bash\nuser:x:1000:1000::/home/user:/bin/sh\nold:x:200000:5::/:/bin/sh\n";
        let passwd = passwd_text(host, 200_000, 200_000, "/workspace", "/bin/bash");
        assert_eq!(
            passwd,
            "root:x:0:0:root:/root:/bin/bash\nuser:x:200000:200000:mlstack:/workspace:/bin/bash\n"
        );
        let group = group_text("root:x:0:\ntty:x:5:\nuser:x:1000:\nstaff:x:50:\n", 200_000);
        assert_eq!(group, "root:x:0:\nstaff:x:50:\nuser:x:200000:\n");
    }

    #[test]
    fn clients_are_shown_the_listening_address_or_the_advertised_host() {
        assert_eq!(
            shown_host("0.0.0.0".parse().unwrap(), "lab.example"),
            "lab.example"
        );
        assert_eq!(
            shown_host("10.0.0.5".parse().unwrap(), "lab.example"),
            "10.0.0.5"
        );
        assert_eq!(
            probe_address("0.0.0.0".parse().unwrap()),
            "127.0.0.1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            probe_address("::".parse().unwrap()),
            "::1".parse::<IpAddr>().unwrap()
        );
    }
}
