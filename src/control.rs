//! The control socket: `control.sock` in the data directory, a Unix socket
//! only the server's user may use (the directory is 0700, the socket 0600).
//! `mlstack backup` asks the running server through it, because the server
//! holds the store and only the holder can read it consistently. (An admin
//! HTTP endpoint would have needed a session and a token at the command
//! line, and would have offered the whole store to the network.)
//!
//! The protocol is one line from the client, `backup`, and one answer line:
//! `ok LENGTH` followed by the backup's bytes, or `error MESSAGE`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use std::io::{BufRead, Read, Write};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

use crate::service::Services;

/// The socket's file name in the data directory.
pub const SOCKET_FILE: &str = "control.sock";

/// Listens on the control socket until the task is aborted.
pub fn listen(data_dir: &Path, services: Services) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    use std::os::unix::fs::PermissionsExt;
    let path = data_dir.join(SOCKET_FILE);
    // A socket left by a process that ended without removing it; this
    // process holds the store, so no other server uses it.
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).context("cannot remove an old control socket"),
    }
    let listener = UnixListener::bind(&path)
        .with_context(|| format!("cannot listen on {}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .context("cannot make the control socket private")?;
    let data_dir = data_dir.to_owned();
    Ok(tokio::spawn(async move {
        let mut made = 0u64;
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "control socket: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            made += 1;
            let scratch =
                data_dir.join(format!("backup-{}-{made}.redb.partial", std::process::id()));
            let services = services.clone();
            tokio::spawn(async move {
                if let Err(e) = answer(stream, &services, &scratch).await {
                    tracing::warn!(error = %format!("{e:#}"), "control socket: request failed");
                }
                let _ = std::fs::remove_file(&scratch);
            });
        }
    }))
}

async fn answer(mut stream: UnixStream, services: &Services, scratch: &Path) -> anyhow::Result<()> {
    let mut line = String::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        tokio::io::BufReader::new((&mut stream).take(64)).read_line(&mut line),
    )
    .await
    .context("the client sent no request")??;
    if line.trim() != "backup" {
        stream.write_all(b"error unknown request\n").await?;
        return Ok(());
    }
    match services.backup_to(scratch.to_owned()).await {
        Ok(entries) => {
            // The copy is a file; std's blocking copy sends it on the
            // blocking pool.
            let mut stream = stream.into_std()?;
            stream.set_nonblocking(false)?;
            let scratch = scratch.to_owned();
            let length = tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
                let mut file = std::fs::File::open(&scratch)?;
                let length = file.metadata()?.len();
                stream.write_all(format!("ok {length}\n").as_bytes())?;
                std::io::copy(&mut file, &mut stream)?;
                stream.shutdown(std::net::Shutdown::Write)?;
                Ok(length)
            })
            .await??;
            tracing::info!(
                entries,
                bytes = length,
                "backup made for the control socket"
            );
        }
        Err(e) => {
            let message = e.to_string().replace('\n', " ");
            stream
                .write_all(format!("error {message}\n").as_bytes())
                .await?;
        }
    }
    Ok(())
}

/// Asks the server serving `data_dir` for a backup, written to `target`
/// (through a `.partial` file renamed once complete and synced). `Ok(None)`
/// when no server listens.
pub fn request_backup(data_dir: &Path, target: &Path) -> anyhow::Result<Option<u64>> {
    let path = data_dir.join(SOCKET_FILE);
    let mut stream = match std::os::unix::net::UnixStream::connect(&path) {
        Ok(stream) => stream,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e).with_context(|| format!("cannot reach {}", path.display())),
    };
    stream.write_all(b"backup\n")?;
    let mut read = std::io::BufReader::new(stream);
    let mut head = String::new();
    read.read_line(&mut head)?;
    let head = head.trim_end();
    let length: u64 = match head.split_once(' ') {
        Some(("ok", length)) => length
            .parse()
            .with_context(|| format!("the server answered {head:?}"))?,
        Some(("error", message)) => anyhow::bail!("the server could not make a backup: {message}"),
        _ => anyhow::bail!("the server answered {head:?}"),
    };
    let partial = partial_path(target);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;
    let complete = match std::io::copy(&mut read.by_ref().take(length), &mut file) {
        Ok(n) if n == length => file.sync_all().map_err(anyhow::Error::from),
        Ok(n) => Err(anyhow::anyhow!(
            "the server stopped after {n} of {length} bytes"
        )),
        Err(e) => Err(e.into()),
    };
    drop(file);
    if let Err(e) = complete {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, target)
        .with_context(|| format!("cannot write {}", target.display()))?;
    Ok(Some(length))
}

/// `FILE.partial` beside `FILE`.
pub fn partial_path(target: &Path) -> PathBuf {
    let mut name = target.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}
