//! SSH into a container of the local driver with the real OpenSSH client
//! and server (Debian's openssh-client and openssh-server): a container
//! created over HTTP through the wizard with a key pair mlstack generated
//! (its private key downloaded once) runs sshd in its sandbox as the
//! project's user; the Services tab's command logs in with that key, a key
//! made by `ssh-keygen` and never chosen is refused, the session sees
//! nothing of the server's data, the host key outlives a stop and start,
//! and a container made with a password logs in with that password only.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use reqwest::StatusCode;

use mlstack::domain::workload::{WorkloadId, WorkloadStatus};
use mlstack::store::workloads::WorkloadRecord;

use crate::container_wizard::{Wizard, accepted, fields, post, wait_running, with, wizard};

const SSHD: &str = "/usr/sbin/sshd";

/// How a session logs in.
enum Login<'a> {
    Key(&'a Path),
    /// A password, typed by an askpass program.
    Password(&'a Path),
}

/// Runs the real `ssh` client against a container's server: no agent, no
/// user configuration, the host key remembered in `known_hosts` under
/// `alias` (so it is checked across ports), `strict` refusing an unknown
/// one.
fn ssh(port: u16, login: Login<'_>, known_hosts: &Path, strict: bool, command: &str) -> Output {
    let mut ssh = Command::new("ssh");
    ssh.args(["-F", "/dev/null", "-p", &port.to_string()])
        .args(["-o", "IdentityAgent=none", "-o", "IdentitiesOnly=yes"])
        .args(["-o", "ConnectTimeout=20", "-o", "HostKeyAlias=sshbox"])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
        .arg("-o")
        .arg(if strict {
            "StrictHostKeyChecking=yes"
        } else {
            "StrictHostKeyChecking=accept-new"
        })
        .stdin(Stdio::null())
        .env_remove("SSH_AUTH_SOCK");
    match login {
        Login::Key(key) => {
            ssh.args(["-o", "BatchMode=yes", "-i"]).arg(key);
        }
        Login::Password(askpass) => {
            ssh.args([
                "-o",
                "PubkeyAuthentication=no",
                "-o",
                "PreferredAuthentications=password",
                "-o",
                "NumberOfPasswordPrompts=1",
            ])
            .env("SSH_ASKPASS", askpass)
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", "none");
        }
    }
    ssh.arg("user@127.0.0.1")
        .arg(command)
        .output()
        .expect("ssh runs (Debian's openssh-client)")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// An askpass program that types `password`.
fn askpass(dir: &Path, name: &str, password: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\necho '{password}'\n")).expect("askpass");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    path
}

/// The container `name` of the project, created by carol.
async fn container(w: &Wizard, name: &str) -> WorkloadRecord {
    w.containers()
        .await
        .into_iter()
        .find(|r| r.spec.name() == Some(name))
        .expect("the container")
}

/// The port of a running container's SSH endpoint.
async fn ssh_port(w: &Wizard, id: WorkloadId) -> u16 {
    wait_running(&w.services, w.user("carol"), id).await;
    let record = w
        .services
        .workload(w.user("carol"), id)
        .await
        .expect("the container");
    let endpoint = record
        .observed
        .as_ref()
        .and_then(|o| o.endpoints.iter().find(|e| e.service == "ssh"))
        .expect("an SSH endpoint");
    assert_eq!(endpoint.login.as_deref(), Some("user"));
    assert_eq!(endpoint.host, "127.0.0.1");
    endpoint.port
}

async fn wait_status(w: &Wizard, id: WorkloadId, want: &WorkloadStatus) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let record = w
            .services
            .workload(w.user("carol"), id)
            .await
            .expect("the container");
        if record.status() == *want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not {want:?}: {:?}",
            record.events
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_member_logs_in_to_a_local_container_with_their_key_pair_and_nothing_else() {
    if !Path::new(SSHD).is_file() {
        eprintln!("skipped: {SSHD} is not installed (Debian: apt-get install openssh-server)");
        return;
    }
    let w = wizard().await;
    let dir = tempfile::tempdir().expect("dir");

    // Carol generates a key pair; its private key is downloaded once.
    let download = w
        .carol
        .post_form("/advanced/key-pairs/generate", &[("name", "laptop")])
        .await;
    assert_eq!(download.status, StatusCode::OK, "{}", download.body);
    let key = dir.path().join("laptop.pem");
    std::fs::write(&key, &download.body).expect("the private key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let pair = w
        .services
        .key_pairs(w.user("carol").id)
        .await
        .expect("key pairs")
        .pop()
        .expect("the key pair");
    // A key of hers that she never chose for the container.
    let other = dir.path().join("other");
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "other", "-f"])
        .arg(&other)
        .status()
        .expect("ssh-keygen runs");
    assert!(made.success());

    let created = post(
        &w.carol,
        &with(
            fields(&w, "sshbox"),
            &[
                ("accept_terms", accepted()),
                ("image", &w.ssh_key_image),
                ("version", "1"),
                ("key_pair", &pair.id.to_string()),
            ],
        ),
    )
    .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let id = container(&w, "sshbox").await.id();
    let port = ssh_port(&w, id).await;

    // The Services tab shows the command, and says where it works.
    let page = w.carol.get(&format!("/containers/{id}?tab=services")).await;
    assert_eq!(page.status, StatusCode::OK);
    let shown = format!("ssh user@127.0.0.1 -p {port}");
    assert!(page.body.contains(&shown), "{shown} in {}", page.body);
    assert!(
        page.body
            .contains("listens on the server&#39;s loopback address")
            || page
                .body
                .contains("listens on the server's loopback address"),
        "{}",
        page.body
    );

    // The key pair logs in, as the project's user.
    let local = w.app.data_dir().join("local");
    let uid: u32 = std::fs::read_to_string(local.join(format!("projects/{}/uid", w.project)))
        .expect("the project's user")
        .trim()
        .parse()
        .expect("a uid");
    let known_hosts = dir.path().join("known_hosts");
    let session = ssh(
        port,
        Login::Key(&key),
        &known_hosts,
        false,
        "echo hello-from-container; id -u",
    );
    assert!(session.status.success(), "{}", text(&session.stderr));
    assert_eq!(
        text(&session.stdout),
        format!("hello-from-container\n{uid}\n")
    );
    assert_ne!(uid, 0);

    // Another key is refused.
    let refused = ssh(port, Login::Key(&other), &known_hosts, true, "true");
    assert_eq!(refused.status.code(), Some(255));
    assert!(
        text(&refused.stderr).contains("Permission denied (publickey)"),
        "{}",
        text(&refused.stderr)
    );
    // So is a password, even the one typed into the wizard's form.
    let typed = askpass(dir.path(), "typed", "correct horse");
    let refused = ssh(port, Login::Password(&typed), &known_hosts, true, "true");
    assert_eq!(refused.status.code(), Some(255));

    // The session sees the container, not the server: none of mlstack's
    // data (every project's workloads and volumes are under it), not the
    // host's password hashes, with a terminal too.
    let data_dir = w.app.data_dir();
    let probe = format!(
        "ls {local}/projects 2>&1; cat {store} 2>&1; cat /etc/shadow 2>&1; pwd; tty",
        local = local.display(),
        store = data_dir.join(mlstack::store::FILE_NAME).display(),
    );
    let session = ssh(port, Login::Key(&key), &known_hosts, true, &probe);
    let out = text(&session.stdout);
    assert!(
        out.contains(&format!(
            "{}/projects': No such file or directory",
            local.display()
        )),
        "{out}"
    );
    assert!(out.contains("cat: /etc/shadow: Permission denied"), "{out}");
    assert!(out.contains("/workspace\n"), "{out}");
    assert!(
        out.contains(&format!(
            "{}: No such file or directory",
            data_dir.join(mlstack::store::FILE_NAME).display()
        )),
        "{out}"
    );
    let tty = Command::new("ssh")
        .args(["-F", "/dev/null", "-tt", "-p", &port.to_string()])
        .args(["-o", "IdentityAgent=none", "-o", "IdentitiesOnly=yes"])
        .args(["-o", "BatchMode=yes", "-o", "HostKeyAlias=sshbox"])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
        .arg("-i")
        .arg(&key)
        .arg("user@127.0.0.1")
        .arg("tty")
        .stdin(Stdio::null())
        .output()
        .expect("ssh runs");
    assert!(tty.status.success(), "{}", text(&tty.stderr));
    assert!(
        text(&tty.stdout).starts_with("/dev/pts/"),
        "{}",
        text(&tty.stdout)
    );

    // The server's folder is the project user's alone.
    let folder = local.join(format!("workloads/{id}/ssh"));
    for (path, mode) in [
        (folder.clone(), 0o700),
        (folder.join("host_ed25519_key"), 0o600),
        (folder.join("authorized_keys"), 0o600),
    ] {
        let meta = std::fs::metadata(&path).expect("the server's files");
        assert_eq!(
            (meta.permissions().mode() & 0o7777, meta.uid()),
            (mode, uid),
            "{}",
            path.display()
        );
    }
    assert_eq!(
        std::fs::read_to_string(folder.join("authorized_keys")).expect("authorized_keys"),
        format!("{}\n", pair.public_key)
    );

    // Stopped and started again (on another port), it is the same host.
    let stop = w
        .carol
        .post_form(&format!("/containers/{id}/stop"), &[("next", "detail")])
        .await;
    assert_eq!(stop.status, StatusCode::SEE_OTHER, "{}", stop.body);
    wait_status(&w, id, &WorkloadStatus::Stopped).await;
    let gone = ssh(port, Login::Key(&key), &known_hosts, true, "true");
    assert!(!gone.status.success(), "no server while stopped");
    let start = w
        .carol
        .post_form(&format!("/containers/{id}/start"), &[("next", "detail")])
        .await;
    assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.body);
    let box_port = ssh_port(&w, id).await;
    let again = ssh(box_port, Login::Key(&key), &known_hosts, true, "echo again");
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(text(&again.stdout), "again\n");
    let box_id = id;

    // A container made with a password logs in with it, and only with it.
    let created = post(
        &w.carol,
        &with(
            fields(&w, "sshpass"),
            &[
                ("image", &w.ssh_password_image),
                ("version", "1"),
                ("ssh_password", "correct horse"),
            ],
        ),
    )
    .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let id = container(&w, "sshpass").await.id();
    let port = ssh_port(&w, id).await;
    let wrong = askpass(dir.path(), "wrong", "wrong horse");
    let fresh_hosts = dir.path().join("known_hosts_2");
    let refused = ssh(port, Login::Password(&wrong), &fresh_hosts, false, "true");
    assert_eq!(refused.status.code(), Some(255));
    assert!(
        text(&refused.stderr).contains("Permission denied"),
        "{}",
        text(&refused.stderr)
    );
    let session = ssh(port, Login::Password(&typed), &fresh_hosts, true, "id -u");
    assert!(session.status.success(), "{}", text(&session.stderr));
    assert_eq!(text(&session.stdout), format!("{uid}\n"));
    // No key logs in to it, not even the key pair.
    let refused = ssh(port, Login::Key(&key), &fresh_hosts, true, "true");
    assert_eq!(refused.status.code(), Some(255));
    // Its folder holds the password's hash only, the user's alone.
    let shadow = local.join(format!("workloads/{id}/ssh/shadow"));
    let meta = std::fs::metadata(&shadow).expect("shadow");
    assert_eq!(
        (meta.permissions().mode() & 0o7777, meta.uid()),
        (0o600, uid)
    );
    let line = std::fs::read_to_string(&shadow).expect("shadow");
    assert!(
        line.starts_with("user:$6$") && !line.contains("correct horse"),
        "{line}"
    );

    // Deleted, a container's server goes with it.
    for (id, name) in [(box_id, "sshbox"), (id, "sshpass")] {
        let deleted = w
            .carol
            .post_form(&format!("/containers/{id}/delete"), &[("confirm", "yes")])
            .await;
        assert_eq!(deleted.status, StatusCode::SEE_OTHER, "{}", deleted.body);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while w
            .containers()
            .await
            .iter()
            .any(|r| r.spec.name() == Some(name))
        {
            assert!(tokio::time::Instant::now() < deadline, "{name} not deleted");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let gone = ssh(box_port, Login::Key(&key), &known_hosts, true, "true");
    assert!(!gone.status.success(), "no server after deletion");
    assert!(!local.join(format!("workloads/{box_id}")).exists());
}
