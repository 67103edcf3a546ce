//! A real SMTP server for the mail tests: aiosmtpd (PyPI, installed by
//! `.ci/run` into a virtual environment under /tmp) on a free 127.0.0.1
//! port, writing every message it receives into a Maildir the test reads.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mlstack::mail::{MailSettings, Security};

/// The Python with aiosmtpd: `AIOSMTPD_PYTHON`, else the venv `.ci/run` makes.
fn python() -> PathBuf {
    std::env::var_os("AIOSMTPD_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/mlstack-aiosmtpd/bin/python"))
}

/// A port nothing listens on (yet).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The `[mail]` settings of a plain relay on 127.0.0.1:`port`.
pub fn settings(port: u16) -> MailSettings {
    MailSettings {
        host: "127.0.0.1".into(),
        port,
        security: Security::None,
        username: None,
        password: None,
        from_address: "mlstack@lab.example".parse().expect("address"),
        from_name: "mlstack 實驗室".into(),
        connections: 4,
    }
}

/// A running aiosmtpd; killed when dropped.
pub struct SmtpSink {
    child: Child,
    dir: tempfile::TempDir,
    pub port: u16,
}

impl SmtpSink {
    /// Starts aiosmtpd on `port` and waits until it accepts connections.
    pub fn start(port: u16) -> SmtpSink {
        let dir = tempfile::tempdir().expect("maildir");
        let child = Command::new(python())
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.path().join("maildir"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start aiosmtpd with {}: {e}", python().display()));
        let sink = SmtpSink { child, dir, port };
        for _ in 0..500 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return sink;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("aiosmtpd did not listen on {port}");
    }

    /// Every message received so far, raw.
    pub fn messages(&self) -> Vec<String> {
        let new = self.dir.path().join("maildir").join("new");
        let Ok(entries) = std::fs::read_dir(new) else {
            return Vec::new();
        };
        let mut out: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .collect();
        out.sort();
        out
    }

    /// Waits until at least `count` messages arrived (at most a minute).
    pub async fn wait_for(&self, count: usize) -> Vec<String> {
        for _ in 0..3000 {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "{count} messages did not arrive; got {}",
            self.messages().len()
        );
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
