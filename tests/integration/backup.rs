//! `mlstack backup` while serving and under writes, `mlstack restore` onto a
//! stopped instance, every table compared.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mlstack::clock::ManualClock;
use mlstack::store::Store;
use reqwest::StatusCode;

use crate::common::{TestApp, start_time, test_config};

const BIN: &str = env!("CARGO_BIN_EXE_mlstack");

fn mlstack(args: &[&str], data_dir: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("MLSTACK_CONFIG")
        .output()
        .expect("run mlstack")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn a_backup_taken_while_serving_and_writing_restores_every_table() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    let mut config = test_config(&data);
    config.seed_catalog = true;
    let clock = Arc::new(ManualClock::new(start_time()));
    let app = TestApp::start_with(config.clone(), clock.clone(), String::new());
    let admin = app.admin().await;
    assert_eq!(admin.get("/").await.status, StatusCode::OK);
    for name in ["ada", "grace", "linus"] {
        app.member(name).await;
    }
    app.client().login("ada", "a-wrong-password").await;

    // A writer creates accounts the whole time the backup runs.
    let services = app.services();
    let writing = Arc::new(AtomicBool::new(true));
    let writer = tokio::spawn({
        let writing = writing.clone();
        async move {
            let mut made = 0;
            while writing.load(Ordering::Relaxed) {
                services
                    .create_user(&format!("writer{made}"), false)
                    .await
                    .expect("create user");
                made += 1;
            }
            made
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let file = dir.path().join("lab.backup");
    let backup = {
        let (file, data) = (file.clone(), data.clone());
        tokio::task::spawn_blocking(move || {
            mlstack(&["backup", file.to_str().expect("path")], &data)
        })
        .await
        .expect("backup")
    };
    assert_eq!(backup.status.code(), Some(0), "{}", text(&backup.stderr));
    assert!(text(&backup.stdout).contains("backup of the running server written to"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    writing.store(false, Ordering::Relaxed);
    let made = writer.await.expect("writer");
    assert!(made > 0);

    // Refused: an existing file, and a restore while the server runs.
    let again = mlstack(&["backup", file.to_str().expect("path")], &data);
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again.stderr).contains("exists"));
    let running = mlstack(&["restore", file.to_str().expect("path")], &data);
    assert_eq!(running.status.code(), Some(1));
    assert!(
        text(&running.stderr).contains("already open in another process"),
        "{}",
        text(&running.stderr)
    );
    let admin_password = app.admin_password.clone();
    drop(app);

    let fresh = dir.path().join("restored");
    let restored = mlstack(&["restore", file.to_str().expect("path")], &fresh);
    assert_eq!(
        restored.status.code(),
        Some(0),
        "{}",
        text(&restored.stderr)
    );
    let original = Store::open_in(&data)
        .expect("original")
        .contents()
        .expect("read");
    let copy = Store::open_in(&fresh)
        .expect("restored")
        .contents()
        .expect("read");
    assert_eq!(
        original.keys().collect::<Vec<_>>(),
        copy.keys().collect::<Vec<_>>(),
        "the same tables"
    );
    let mut differing = BTreeSet::new();
    for (table, entries) in &copy {
        let live: BTreeSet<_> = original[table].iter().collect();
        for entry in entries {
            assert!(
                live.contains(entry),
                "{table}: an entry of the backup is not in the store"
            );
        }
        if entries.len() != live.len() {
            differing.insert(table.as_str());
        }
    }
    // Only what the writer added after the copy's transaction is missing,
    // and the copy is one moment: every account with its name index.
    let writes: BTreeSet<_> = [
        "user_id_to_user",
        "username_to_user_id",
        "audit_time_to_event",
        "user_id_to_activation",
    ]
    .into_iter()
    .collect();
    assert!(differing.is_subset(&writes), "{differing:?}");
    assert_eq!(
        copy["user_id_to_user"].len(),
        copy["username_to_user_id"].len()
    );
    let filled = copy.values().filter(|entries| !entries.is_empty()).count();
    let empty: Vec<_> = copy
        .iter()
        .filter(|(_, entries)| entries.is_empty())
        .map(|(name, _)| name.as_str())
        .collect();
    println!(
        "{filled} of {} tables hold entries; empty: {empty:?}",
        copy.len()
    );

    // The restored instance serves, with the admin's password.
    let mut config = test_config(&fresh);
    config.seed_catalog = true;
    let app = TestApp::start_with(config, clock, admin_password);
    app.admin().await;
}

#[test]
fn restore_refuses_what_is_not_a_store_and_a_newer_schema() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    std::fs::write(dir.path().join("notes.txt"), "not a store").expect("write");
    let out = mlstack(
        &[
            "restore",
            dir.path().join("notes.txt").to_str().expect("path"),
        ],
        &data,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("cannot restore"),
        "{}",
        text(&out.stderr)
    );
    assert!(!data.join("mlstack.redb").exists(), "nothing was replaced");

    // A store from a newer mlstack.
    let newer = dir.path().join("newer");
    drop(Store::open_in(&newer).expect("store"));
    {
        let db = redb::Database::create(newer.join("mlstack.redb")).expect("open");
        let tx = db.begin_write().expect("tx");
        tx.open_table(redb::TableDefinition::<&str, u64>::new("meta"))
            .expect("meta")
            .insert(
                "schema_version",
                mlstack::store::schema::CURRENT_VERSION + 1,
            )
            .expect("insert");
        tx.commit().expect("commit");
    }
    let out = mlstack(
        &[
            "restore",
            newer.join("mlstack.redb").to_str().expect("path"),
        ],
        &data,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("newer than this mlstack supports"));
    assert!(!data.join("mlstack.redb").exists(), "nothing was replaced");
}
