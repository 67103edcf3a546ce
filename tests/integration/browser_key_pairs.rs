//! The key pairs journey in headless Chromium: a member generates a key
//! pair and the browser downloads its private key (which `ssh-keygen`
//! reads), imports a public key by pasting it, and deletes a key pair
//! through the confirmation dialog. Needs the Debian packages `chromium`,
//! `chromium-driver` and `openssh-client`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::TestApp;
use crate::common::browser::Browser;

fn ssh_keygen(args: &[&str]) -> String {
    let out = Command::new("ssh-keygen")
        .args(args)
        .output()
        .expect("ssh-keygen runs (Debian's openssh-client)");
    assert!(
        out.status.success(),
        "ssh-keygen {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits for a finished download at `path` (Chromium writes a
/// `.crdownload` file first, then renames it).
async fn downloaded(path: &Path) -> String {
    let started = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            return text;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no download at {}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_member_generates_downloads_imports_and_deletes_key_pairs() {
    let app = TestApp::start();
    let (_, password) = app.member("mia").await;
    let b = Browser::start(&app.url).await;
    b.log_in("mia", &password).await;
    b.goto("/advanced/key-pairs").await;
    b.wait_for_text("You have no key pairs yet.").await;

    // Generate: the answer is a download; once it started, the page shows
    // the list again with the new key pair (key-pairs.js).
    b.fill("f-generate-name", "laptop").await;
    b.mark_page().await;
    b.click("form[action='/advanced/key-pairs/generate'] button[type='submit']")
        .await;
    b.wait_for_navigation("the list after the download").await;
    b.wait_for_text("Key pair generated.").await;
    let file = b.downloads().join("laptop.pem");
    let private_key = downloaded(&file).await;
    assert!(private_key.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod");
    let path = file.to_str().expect("a UTF-8 path");
    ssh_keygen(&["-y", "-f", path]);
    let listed = ssh_keygen(&["-l", "-E", "sha256", "-f", path]);
    let fingerprint = listed.split_whitespace().nth(1).expect("a fingerprint");
    b.wait_for_text(fingerprint).await;

    // Import a public key made by ssh-keygen, pasted into the form.
    let dir = tempfile::tempdir().expect("dir");
    let key = dir.path().join("id_ecdsa");
    let key_path = key.to_str().expect("a UTF-8 path");
    ssh_keygen(&[
        "-q", "-t", "ecdsa", "-b", "384", "-N", "", "-C", "mia@desk", "-f", key_path,
    ]);
    let public = std::fs::read_to_string(format!("{key_path}.pub")).expect("pub");
    b.fill("f-import-name", "desk").await;
    b.fill("f-import-public_key", public.trim()).await;
    b.submit(
        "form[action='/advanced/key-pairs/import'] button[type='submit']",
        "the list after importing",
    )
    .await;
    b.wait_for_text("Key pair imported.").await;
    let imported = ssh_keygen(&["-l", "-E", "sha256", "-f", &format!("{key_path}.pub")]);
    let imported = imported.split_whitespace().nth(1).expect("a fingerprint");
    b.wait_for_text(imported).await;
    assert!(b.text().await.contains("ecdsa-sha2-nistp384"));

    // Delete the generated one through its dialog.
    b.click("button[data-dialog^='d-delete-']").await;
    b.wait_for_text("Delete the key pair laptop?").await;
    b.submit("dialog[open] button.primary", "the list after deleting")
        .await;
    b.wait_for_text("Key pair deleted.").await;
    let text = b.text().await;
    assert!(!text.contains(fingerprint), "the deleted key pair is gone");
    assert!(text.contains(imported), "the other one stays");
    b.close().await;
}
