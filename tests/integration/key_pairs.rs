//! Advanced Settings › Key Pairs over HTTP, checked against the real
//! `ssh-keygen` (Debian's openssh-client): keys it makes are imported with
//! the fingerprint it prints, and the private keys we generate are keys it
//! reads. Private keys never reach the store file or the logs.

use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::StatusCode;

use crate::cli::Server;
use crate::common::{Client, Page, TestApp};

/// Runs `ssh-keygen` with `args` and returns what it printed.
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

/// A new key pair made by ssh-keygen in `dir`: the private key's path.
fn keygen(dir: &Path, file: &str, kind: &str, bits: &str) -> PathBuf {
    let path = dir.join(file);
    let path_text = path.to_str().expect("a UTF-8 path");
    ssh_keygen(&[
        "-q", "-t", kind, "-b", bits, "-N", "", "-C", "me@lab", "-f", path_text,
    ]);
    path
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).expect("read")
}

fn pub_path(private: &Path) -> PathBuf {
    PathBuf::from(format!("{}.pub", private.display()))
}

/// `(bits, fingerprint)` as `ssh-keygen -l -E sha256 -f` prints them.
fn keygen_fingerprint(path: &Path) -> (String, String) {
    let line = ssh_keygen(&[
        "-l",
        "-E",
        "sha256",
        "-f",
        path.to_str().expect("a UTF-8 path"),
    ]);
    let mut fields = line.split_whitespace();
    let bits = fields.next().expect("bits").to_owned();
    let fingerprint = fields.next().expect("fingerprint").to_owned();
    (bits, fingerprint)
}

async fn import(client: &Client, name: &str, public_key: &str) -> Page {
    client
        .post_form(
            "/advanced/key-pairs/import",
            &[("name", name), ("public_key", public_key)],
        )
        .await
}

/// The ids in the delete forms of the list, in list order.
fn listed_ids(body: &str) -> Vec<String> {
    let marker = "action=\"/advanced/key-pairs/";
    body.match_indices(marker)
        .filter_map(|(at, _)| body.get(at + marker.len()..at + marker.len() + 36))
        .filter(|id| id.parse::<uuid::Uuid>().is_ok())
        .map(str::to_owned)
        .collect()
}

/// The stored key pairs of `username`, through the use case the container
/// wizard calls.
async fn stored(app: &TestApp, username: &str) -> Vec<mlstack::store::key_pairs::KeyPairRecord> {
    let services = app.services();
    let user = services
        .list_users()
        .await
        .expect("users")
        .into_iter()
        .find(|u| u.username.as_str() == username)
        .expect("the user");
    services.key_pairs(user.id).await.expect("key pairs")
}

fn store_bytes(app: &TestApp) -> Vec<u8> {
    std::fs::read(app.data_dir().join(mlstack::store::FILE_NAME)).expect("the store file")
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// The longest base64 line of a private key file: what must appear nowhere.
fn secret_line(private_key: &str) -> String {
    private_key
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .max_by_key(|l| l.len())
        .expect("a key body")
        .to_owned()
}

#[tokio::test]
async fn keys_made_by_ssh_keygen_are_imported_with_the_fingerprint_it_prints() {
    let dir = tempfile::tempdir().expect("dir");
    let kinds = [
        ("ed25519", "256"),
        ("ecdsa", "256"),
        ("ecdsa", "384"),
        ("ecdsa", "521"),
        ("rsa", "2048"),
        ("rsa", "3072"),
    ];
    // Made before the appliance starts: an RSA key can take seconds, longer
    // than an idle HTTP connection is kept.
    let made: Vec<_> = kinds
        .iter()
        .map(|&(kind, bits)| {
            let name = format!("{kind}-{bits}");
            let private = keygen(dir.path(), &name, kind, bits);
            (name, private, bits)
        })
        .collect();
    let app = TestApp::start();
    let (mia, _) = app.member("mia").await;
    let mut expected = Vec::new();
    for (name, private, bits) in made {
        let public = read(&pub_path(&private));
        let page = import(&mia, &name, &public).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{name}: {}", page.body);
        assert_eq!(page.location(), Some("/advanced/key-pairs?imported=1"));
        let (printed_bits, fingerprint) = keygen_fingerprint(&pub_path(&private));
        assert_eq!(printed_bits, bits);
        expected.push((name, public.trim().to_owned(), fingerprint, bits));
    }

    let list = mia.get("/advanced/key-pairs").await;
    assert_eq!(list.status, StatusCode::OK);
    for (name, _, fingerprint, bits) in &expected {
        assert!(list.body.contains(fingerprint), "{name} {fingerprint}");
        assert!(list.body.contains(&format!("{bits} bits")), "{name}");
    }

    let records = stored(&app, "mia").await;
    let zone = app.services().time_zone().await.expect("zone");
    let created = mlstack::web::views::format::date_time(records[0].created_at, &zone);
    assert!(created.ends_with(')'), "{created}");
    assert!(
        list.body.contains(&created),
        "created on, with the zone: {created}"
    );
    assert_eq!(records.len(), expected.len());
    for (record, (name, public, fingerprint, _)) in records.iter().zip(&expected) {
        assert_eq!(record.name.as_str(), name);
        assert_eq!(&record.fingerprint, fingerprint);
        assert_eq!(
            &record.public_key, public,
            "the wizard gets the key as pasted"
        );
    }
}

#[tokio::test]
async fn a_generated_private_key_downloads_once_and_ssh_keygen_reads_it() {
    let app = TestApp::start();
    let (mia, _) = app.member("mia").await;
    let page = mia
        .post_form("/advanced/key-pairs/generate", &[("name", "laptop")])
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(
        page.header("content-disposition"),
        Some("attachment; filename=\"laptop.pem\"")
    );
    assert_eq!(page.header("content-type"), Some("application/x-pem-file"));
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert!(
        page.body
            .starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    );
    assert!(
        page.header("set-cookie").is_none(),
        "no download token, no cookie"
    );

    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("laptop.pem");
    std::fs::write(&file, &page.body).expect("write");
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod");
    let derived = ssh_keygen(&["-y", "-f", file.to_str().expect("a UTF-8 path")]);
    let (bits, fingerprint) = keygen_fingerprint(&file);
    assert_eq!(bits, "256");

    let records = stored(&app, "mia").await;
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(record.algorithm, "ssh-ed25519");
    assert_eq!(record.fingerprint, fingerprint);
    let key_of = |line: &str| {
        line.split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(key_of(&record.public_key), key_of(&derived));

    // Offered once: the list has no way to fetch it again, and neither the
    // list nor the store file holds it.
    let list = mia.get("/advanced/key-pairs").await;
    assert!(list.body.contains(&fingerprint));
    assert!(!list.body.contains("PRIVATE KEY"));
    assert!(!list.body.contains(".pem\""));
    let secret = secret_line(&page.body);
    assert!(!contains(&store_bytes(&app), &secret));

    // A second key pair of the same name is refused, and nothing is sent.
    let again = mia
        .post_form("/advanced/key-pairs/generate", &[("name", "laptop")])
        .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        again
            .body
            .contains("You already have a key pair of this name.")
    );
    assert!(!again.body.contains("PRIVATE KEY"));
    let long = "k".repeat(65);
    let refused = mia
        .post_form("/advanced/key-pairs/generate", &[("name", &long)])
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("at most 64 characters"));
    assert_eq!(stored(&app, "mia").await.len(), 1);

    // With the page's token (key-pairs.js), the download carries it back
    // in a cookie; a malformed token is not echoed.
    let page = mia
        .post_form(
            "/advanced/key-pairs/generate",
            &[("name", "desk"), ("download", "c0ffee42")],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let cookie = page.header("set-cookie").expect("the download cookie");
    assert!(
        cookie.starts_with("mlstack_key_download=c0ffee42;")
            && cookie.contains("Path=/advanced/key-pairs"),
        "{cookie}"
    );
    let page = mia
        .post_form(
            "/advanced/key-pairs/generate",
            &[("name", "tablet"), ("download", "a;b=c")],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.header("set-cookie").is_none());
    let list = mia.get("/advanced/key-pairs?generated=1").await;
    assert!(list.body.contains("Key pair generated."));
    assert_eq!(stored(&app, "mia").await.len(), 3);
}

#[tokio::test]
async fn private_short_malformed_and_duplicate_keys_are_refused_with_the_reason() {
    // Keys first (RSA takes a while), then the appliance.
    let dir = tempfile::tempdir().expect("dir");
    let private = keygen(dir.path(), "secret", "ed25519", "256");
    let rsa_private = keygen(dir.path(), "old", "rsa", "2048");
    ssh_keygen(&[
        "-q",
        "-p",
        "-m",
        "PEM",
        "-N",
        "",
        "-P",
        "",
        "-f",
        rsa_private.to_str().expect("a UTF-8 path"),
    ]);
    let short = keygen(dir.path(), "short", "rsa", "1024");
    let good = read(&pub_path(&keygen(dir.path(), "good", "ed25519", "256")));
    let other = read(&pub_path(&keygen(dir.path(), "other", "ed25519", "256")));
    let app = TestApp::start();
    let (mia, _) = app.member("mia").await;

    // A private key: refused, not sent back, not stored.
    let private_text = read(&private);
    let secret = secret_line(&private_text);
    let page = import(&mia, "secret", &private_text).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains(
        "This is a private key: it was not kept. Keep it secret, and paste the public key instead"
    ));
    assert!(
        !page.body.contains(&secret),
        "the private key is not echoed"
    );
    assert!(!contains(&store_bytes(&app), &secret));
    // An RSA private key in the older PEM format too.
    let pem = read(&rsa_private);
    assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    let page = import(&mia, "old", &pem).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("This is a private key"));
    assert!(!contains(&store_bytes(&app), &secret_line(&pem)));

    // RSA under 2048 bits.
    let page = import(&mia, "short", &read(&pub_path(&short))).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("shorter than 2048 bits"));

    // Malformed: cut short, not base64, a bare word.
    let cut = &good[..40];
    for bad in [cut, "ssh-ed25519 !!!!", "hello"] {
        let page = import(&mia, "bad", bad).await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(
            page.body
                .contains("This is not a public key in OpenSSH format"),
            "{bad}"
        );
    }
    let page = import(&mia, "long", &"A".repeat(9000)).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.body
            .contains("A public key has at most 8192 characters.")
    );
    let page = import(&mia, "", "").await;
    assert!(page.body.contains("Enter a name."));
    assert!(page.body.contains("Paste a public key."));
    let page = import(&mia, "a/b", &good).await;
    assert!(page.body.contains("Use letters, digits, "));

    // Duplicates: the same key under another name, another key under the
    // same name.
    assert_eq!(
        import(&mia, "good", &good).await.status,
        StatusCode::SEE_OTHER
    );
    let page = import(&mia, "again", &good).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.body
            .contains("You already have this key (same fingerprint).")
    );
    let page = import(&mia, "good", &other).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.body
            .contains("You already have a key pair of this name.")
    );

    // Another user may keep the same key.
    let (sam, _) = app.member("sam").await;
    assert_eq!(
        import(&sam, "good", &good).await.status,
        StatusCode::SEE_OTHER
    );

    let records = stored(&app, "mia").await;
    assert_eq!(records.len(), 1, "only the good key was kept");
    assert_eq!(records[0].name.as_str(), "good");
}

#[tokio::test]
async fn key_pairs_are_deleted_by_their_owner_only() {
    let app = TestApp::start();
    let (mia, _) = app.member("mia").await;
    let (sam, _) = app.member("sam").await;
    let admin = app.admin().await;
    let dir = tempfile::tempdir().expect("dir");
    let public = read(&pub_path(&keygen(dir.path(), "k", "ed25519", "256")));
    let (_, fingerprint) = keygen_fingerprint(&pub_path(&dir.path().join("k")));
    assert_eq!(
        import(&mia, "work", &public).await.status,
        StatusCode::SEE_OTHER
    );
    let list = mia.get("/advanced/key-pairs").await;
    let ids = listed_ids(&list.body);
    assert_eq!(ids.len(), 1, "{}", list.body);
    let delete = format!("/advanced/key-pairs/{}/delete", ids[0]);
    assert!(
        list.body.contains("Delete the key pair work?"),
        "asked first"
    );

    // Others do not see it and cannot delete it: it does not exist for them.
    for other in [&sam, &admin] {
        assert!(
            !other
                .get("/advanced/key-pairs")
                .await
                .body
                .contains(&fingerprint)
        );
        assert_eq!(
            other.post_form(&delete, &[]).await.status,
            StatusCode::NOT_FOUND
        );
    }
    assert_eq!(stored(&app, "mia").await.len(), 1);
    // A delete without the CSRF token changes nothing.
    assert_eq!(
        mia.post_raw(&delete, &[]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(stored(&app, "mia").await.len(), 1);

    let page = mia.post_form(&delete, &[]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), Some("/advanced/key-pairs?deleted=1"));
    let list = mia.get("/advanced/key-pairs?deleted=1").await;
    assert!(list.body.contains("Key pair deleted."));
    assert!(!list.body.contains(&fingerprint));
    assert!(stored(&app, "mia").await.is_empty());
    assert_eq!(
        mia.post_form(&delete, &[]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        mia.post_form("/advanced/key-pairs/not-an-id/delete", &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // The name and the key are free again.
    assert_eq!(
        import(&mia, "work", &public).await.status,
        StatusCode::SEE_OTHER
    );
}

/// The built binary at debug level: a pasted private key is in none of its
/// log lines, while the request itself is logged.
#[tokio::test]
async fn a_pasted_private_key_never_reaches_the_logs() {
    let dir = tempfile::tempdir().expect("dir");
    let private = keygen(dir.path(), "id_ed25519", "ed25519", "256");
    let private_text = read(&private);
    let server = Server::start(dir.path());
    let (printed, url) = server.until_listening();
    let password = printed
        .iter()
        .find_map(|l| l.trim().strip_prefix("password: "))
        .expect("the first-run password is printed")
        .to_owned();
    let admin = Client::new(&url);
    admin.login_ok("admin", &password).await;
    admin.choose_password(&password).await;
    let page = import(&admin, "pasted", &private_text).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    let (code, logs) = server.terminate();
    assert_eq!(code, Some(0), "{logs}");
    assert!(
        logs.contains("/advanced/key-pairs/import"),
        "the request is logged: {logs}"
    );
    assert!(!logs.contains(&secret_line(&private_text)));
    assert!(!logs.contains("PRIVATE KEY"));
}
