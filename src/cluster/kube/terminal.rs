//! The web terminal on Kubernetes: an exec with a TTY into the main
//! container of the container's newest pod (kube-rs over a WebSocket, the
//! `v5.channel.k8s.io` / `v4.channel.k8s.io` protocols), as the plain
//! channels of a [`TerminalSession`]. Dropping the session aborts the exec's
//! connection, which ends the shell.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{AttachParams, TerminalSize as KubeTerminalSize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::KubeDriver;
use super::manifests::MAIN_CONTAINER;
use crate::cluster::{
    DriverError, TERMINAL_BUFFER, TERMINAL_SHELL, TerminalInput, TerminalSession, TerminalSize,
};
use crate::domain::workload::ContainerSpec;

/// The most bytes one read of the exec's output passes on.
const READ_CHUNK: usize = 16 * 1024;

fn kube_size(size: TerminalSize) -> KubeTerminalSize {
    KubeTerminalSize {
        width: size.cols.max(1),
        height: size.rows.max(1),
    }
}

impl KubeDriver {
    pub(super) async fn terminal(
        &self,
        spec: &ContainerSpec,
        size: TerminalSize,
    ) -> Result<TerminalSession, DriverError> {
        let Some((namespace, pod)) = self.log_pod(spec.meta.id).await? else {
            return Err(DriverError::Conflict(format!(
                "container {} has no pod",
                spec.meta.name
            )));
        };
        let params = AttachParams::interactive_tty().container(MAIN_CONTAINER);
        let mut attached = self
            .call(self.api::<Pod>(&namespace).exec(
                &pod,
                ["/bin/sh", "-c", TERMINAL_SHELL],
                &params,
            ))
            .await?;
        let (Some(mut stdin), Some(mut stdout), Some(mut resize)) = (
            attached.stdin(),
            attached.stdout(),
            attached.terminal_size(),
        ) else {
            attached.abort();
            return Err(DriverError::Rejected(
                "the exec has no terminal streams".to_owned(),
            ));
        };
        // The channel is new and has room: the first size always goes.
        let _ = resize.try_send(kube_size(size));
        let (input_tx, mut input_rx) = mpsc::channel(TERMINAL_BUFFER);
        let (output_tx, output_rx) = mpsc::channel(TERMINAL_BUFFER);
        tokio::spawn(async move {
            let mut buf = vec![0u8; READ_CHUNK];
            loop {
                tokio::select! {
                    read = stdout.read(&mut buf) => match read {
                        Ok(n) if n > 0 => {
                            if output_tx.send(buf[..n].to_vec()).await.is_err() {
                                break;
                            }
                        }
                        _ => break,
                    },
                    message = input_rx.recv() => match message {
                        Some(TerminalInput::Data(bytes)) => {
                            if stdin.write_all(&bytes).await.is_err() {
                                break;
                            }
                        }
                        Some(TerminalInput::Resize(size)) => {
                            let _ = resize.try_send(kube_size(size));
                        }
                        None => break,
                    },
                }
            }
            attached.abort();
        });
        Ok(TerminalSession {
            input: input_tx,
            output: output_rx,
        })
    }
}
