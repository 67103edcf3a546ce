//! The store: durability across restarts, migrations, and refusals.

use std::sync::Arc;

use mlstack::clock::ManualClock;
use mlstack::cluster::WorkloadKind;
use mlstack::domain::ids::UserId;
use mlstack::domain::user::{Profile, Settings, Username};
use mlstack::store::migrations::v1_to_v2::V1_SESSIONS;
use mlstack::store::sessions::SessionRecord;
use mlstack::store::users::UserRecord;
use mlstack::store::{Store, StoreError, schema, tables};
use redb::ReadableDatabase;
use reqwest::StatusCode;

use crate::common::{TestApp, start_time, test_config};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/store-v1.redb");
const FIXTURE_ADMIN_PASSWORD: &str = "fixture-admin-password";
const FIXTURE_ALICE_SESSION: &str = "v1-fixture-session-token-of-alice";

fn record_bytes<T: serde::Serialize>(record: &T) -> Vec<u8> {
    let mut bytes = vec![1u8];
    serde_json::to_writer(&mut bytes, record).expect("json");
    bytes
}

/// Writes the schema-1 fixture with schema 1's layout. Run once by hand
/// (`cargo test --test integration write_store_v1_fixture -- --ignored`);
/// the file is committed so that every later schema is tested against it.
#[test]
#[ignore = "writes the committed fixture"]
fn write_store_v1_fixture() {
    let _ = std::fs::remove_file(FIXTURE);
    let db = redb::Database::create(FIXTURE).expect("create fixture");
    let tx = db.begin_write().expect("tx");
    {
        tx.open_table(tables::META)
            .expect("meta")
            .insert("schema_version", 1u64)
            .expect("version");
        let mut users = tx.open_table(tables::USER_ID_TO_USER).expect("users");
        let mut names = tx.open_table(tables::USERNAME_TO_USER_ID).expect("names");
        let mut sessions = tx.open_table(V1_SESSIONS).expect("sessions");
        let hash = mlstack::service::password::hash_blocking(FIXTURE_ADMIN_PASSWORD).expect("hash");
        let admin = UserRecord {
            id: UserId::generate(),
            username: Username::parse("admin").expect("name"),
            password_hash: hash.clone(),
            is_admin: true,
            disabled: false,
            initial_password: false,
            password_must_change: false,
            last_login_lang: None,
            created_at: start_time(),
            profile: Profile::default(),
            settings: Settings::default(),
            current_project: None,
            emails: Default::default(),
        };
        let alice = UserRecord {
            id: UserId::generate(),
            username: Username::parse("alice").expect("name"),
            is_admin: false,
            profile: Profile {
                first_name: "Alice".into(),
                last_name: "Chen".into(),
                email: "alice@lab.example".into(),
                ..Profile::default()
            },
            ..admin.clone()
        };
        for user in [&admin, &alice] {
            users
                .insert(user.id.as_u128(), record_bytes(user).as_slice())
                .expect("user");
            names
                .insert(user.username.as_str(), user.id.as_u128())
                .expect("name");
        }
        let session = SessionRecord {
            user_id: alice.id,
            csrf_token: "v1-fixture-csrf-token".into(),
            created_at: start_time(),
            last_seen_at: start_time(),
        };
        sessions
            .insert(FIXTURE_ALICE_SESSION, record_bytes(&session).as_slice())
            .expect("session");
    }
    tx.commit().expect("commit");
}

fn version_of(path: &std::path::Path) -> Option<u64> {
    let db = redb::Database::open(path).expect("open");
    let tx = db.begin_read().expect("read");
    let table = tx.open_table(tables::META).expect("meta");
    table.get("schema_version").expect("get").map(|v| v.value())
}

#[tokio::test]
async fn a_schema_1_store_is_migrated_and_keeps_users_and_sessions() {
    let dir = tempfile::tempdir().expect("dir");
    let store_path = dir.path().join(mlstack::store::FILE_NAME);
    std::fs::copy(FIXTURE, &store_path).expect("copy fixture");
    assert_eq!(version_of(&store_path), Some(1));

    let app = TestApp::start_with(
        test_config(dir.path()),
        Arc::new(ManualClock::new(start_time())),
        String::new(),
    );
    assert!(
        app.admin_password.is_empty(),
        "the fixture has an admin: no first-run password"
    );
    assert!(!dir.path().join("initial-admin-password").exists());

    let alice = app.client();
    let page = crate::common::Client::read(
        alice
            .http
            .get(alice.url("/account/profile"))
            .header("cookie", format!("mlstack_session={FIXTURE_ALICE_SESSION}"))
            .send()
            .await
            .expect("GET"),
    )
    .await;
    assert_eq!(
        page.status,
        StatusCode::OK,
        "the schema-1 session still works"
    );
    assert!(page.body.contains("<dd>alice@lab.example"), "{}", page.body);
    app.client().login_ok("admin", FIXTURE_ADMIN_PASSWORD).await;
    drop(app);

    assert_eq!(version_of(&store_path), Some(schema::CURRENT_VERSION));
    let db = redb::Database::open(&store_path).expect("open");
    let tx = db.begin_read().expect("read");
    assert!(tx.open_table(V1_SESSIONS).is_err(), "the old table is gone");
    let sessions = tx
        .open_table(tables::SESSION_TOKEN_HASH_TO_SESSION)
        .expect("sessions");
    let hash = mlstack::store::sessions::hash_token(FIXTURE_ALICE_SESSION);
    assert!(
        sessions.get(hash).expect("get").is_some(),
        "stored under the token's hash"
    );
    let raw = std::fs::read(&store_path).expect("read file");
    assert!(
        !raw.windows(FIXTURE_ALICE_SESSION.len())
            .any(|w| w == FIXTURE_ALICE_SESSION.as_bytes()),
        "the token itself is no longer in the file"
    );
}

#[tokio::test]
async fn a_store_newer_than_the_binary_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().expect("dir");
    let store_path = dir.path().join(mlstack::store::FILE_NAME);
    drop(Store::open_in(dir.path()).expect("new store"));
    {
        let db = redb::Database::create(&store_path).expect("open");
        let tx = db.begin_write().expect("tx");
        tx.open_table(tables::META)
            .expect("meta")
            .insert("schema_version", 99u64)
            .expect("bump");
        tx.commit().expect("commit");
    }
    match Store::open_in(dir.path()) {
        Err(StoreError::NewerSchema {
            found: 99,
            supported,
            ..
        }) => assert_eq!(supported, schema::CURRENT_VERSION),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(version_of(&store_path), Some(99), "not modified");
    let started = mlstack::app::start(
        test_config(dir.path()),
        Arc::new(ManualClock::new(start_time())),
        mlstack::app::Options {
            handle_signals: false,
        },
    );
    let message = started.err().map(|e| format!("{e:#}")).unwrap_or_default();
    assert!(
        message.contains("schema version 99, newer than this mlstack supports"),
        "{message}"
    );
    assert_eq!(version_of(&store_path), Some(99));
}

#[tokio::test]
async fn records_and_sessions_survive_a_restart() {
    let app = TestApp::start();
    let (frank, password) = app.member("frank").await;
    frank
        .post_form(
            "/account/profile",
            &[
                ("category", "personal"),
                ("first_name", "Frank"),
                ("address", "No. 1, Roosevelt Rd."),
            ],
        )
        .await;
    frank
        .post_form("/account/theme", &[("theme", "dark"), ("next", "/")])
        .await;

    let app = app.restart();
    let frank = frank.rebase(&app.url);
    assert!(
        frank.is_logged_in().await,
        "the session is in the store, not in memory"
    );
    let again = app.client();
    again.login_ok("frank", &password).await;
    let profile = again.get("/account/profile").await;
    assert!(profile.body.contains("value=\"No. 1, Roosevelt Rd.\""));
    assert!(profile.body.contains("data-theme=\"dark\""));
    app.client().login_ok("admin", &app.admin_password).await;
}

#[test]
fn a_schema_3_store_gains_the_workload_volume_and_key_pair_tables() {
    let dir = tempfile::tempdir().expect("dir");
    let store_path = dir.path().join(mlstack::store::FILE_NAME);
    drop(Store::open_in(dir.path()).expect("a new store"));
    // Make it what schema 3 wrote: no workload or volume tables.
    {
        let db = redb::Database::open(&store_path).expect("open");
        let tx = db.begin_write().expect("write");
        for table in [tables::WORKLOAD_ID_TO_WORKLOAD, tables::VOLUME_ID_TO_VOLUME] {
            assert!(tx.delete_table(table).expect("delete"));
        }
        for table in [
            tables::PROJECT_WORKLOAD_NAME_TO_ID,
            tables::PROJECT_VOLUME_NAME_TO_ID,
        ] {
            assert!(tx.delete_table(table).expect("delete"));
        }
        for table in [tables::DUE_WORKLOAD_IDS, tables::DUE_VOLUME_IDS] {
            assert!(tx.delete_table(table).expect("delete"));
        }
        for table in [
            tables::PROJECT_ID_TO_WORKLOAD_IDS,
            tables::PROJECT_ID_TO_VOLUME_IDS,
        ] {
            assert!(tx.delete_multimap_table(table).expect("delete"));
        }
        tx.open_table(tables::META)
            .expect("meta")
            .insert("schema_version", 3u64)
            .expect("version");
        tx.commit().expect("commit");
    }
    assert_eq!(version_of(&store_path), Some(3));

    let store = Store::open_in(dir.path()).expect("upgraded");
    assert_eq!(store.readiness(), Ok(()));
    drop(store);
    assert_eq!(version_of(&store_path), Some(schema::CURRENT_VERSION));
    let db = redb::Database::open(&store_path).expect("open");
    let tx = db.begin_read().expect("read");
    tx.open_table(tables::WORKLOAD_ID_TO_WORKLOAD)
        .expect("workloads");
    tx.open_table(tables::DUE_WORKLOAD_IDS).expect("due list");
    tx.open_multimap_table(tables::PROJECT_ID_TO_VOLUME_IDS)
        .expect("volumes by project");
    tx.open_table(tables::KEY_PAIR_ID_TO_KEY_PAIR)
        .expect("key pairs (schema 5)");
    tx.open_table(tables::USER_KEY_PAIR_FINGERPRINT_TO_ID)
        .expect("key pairs by fingerprint");
}

/// A stored container `name` of `project` owned by `owner`.
fn container_record(
    project: mlstack::domain::ids::ProjectId,
    owner: UserId,
    name: &str,
) -> mlstack::store::workloads::WorkloadRecord {
    use mlstack::domain::workload::{
        ContainerSpec, ImageRef, Resources, SshAccess, WorkloadId, WorkloadMeta,
    };
    use mlstack::store::workloads::{Desired, WorkloadRecord, WorkloadSpec};
    WorkloadRecord {
        spec: WorkloadSpec::Container(ContainerSpec {
            meta: WorkloadMeta {
                id: WorkloadId::generate(),
                project,
                owner,
                name: name.into(),
            },
            image: ImageRef {
                name: "ubuntu".into(),
                tag: "24.04".into(),
            },
            command: None,
            env: Default::default(),
            resources: Resources {
                cpu_milli: 500,
                ram_mib: 1024,
                shm_mib: 0,
                gpu: None,
            },
            volumes: Vec::new(),
            services: Vec::new(),
            ssh: SshAccess::None,
            start_at: None,
            end_at: None,
        }),
        desired: Desired::Running,
        generation: 1,
        observed: None,
        error: None,
        events: Vec::new(),
        due_at: None,
        hold: None,
        queued: false,
        created_at: start_time(),
        updated_at: start_time(),
    }
}

#[test]
fn a_schema_5_store_gains_the_container_list_index_of_its_containers() {
    use mlstack::domain::ids::ProjectId;
    use mlstack::store::workloads;
    let dir = tempfile::tempdir().expect("dir");
    let store_path = dir.path().join(mlstack::store::FILE_NAME);
    let (project, other) = (ProjectId::generate(), ProjectId::generate());
    let (alice, bob) = (UserId::generate(), UserId::generate());
    let records = [
        container_record(project, alice, "first"),
        container_record(project, bob, "second"),
        container_record(other, alice, "elsewhere"),
    ];
    {
        let store = Store::open_in(dir.path()).expect("a new store");
        store
            .write(|tx| records.iter().try_for_each(|r| workloads::insert_tx(tx, r)))
            .expect("containers");
    }
    // Make it what schema 5 wrote: no list index.
    {
        let db = redb::Database::open(&store_path).expect("open");
        let tx = db.begin_write().expect("write");
        assert!(
            tx.delete_table(tables::PROJECT_CONTAINER_ID_TO_OWNER_NAME)
                .expect("delete")
        );
        tx.open_table(tables::META)
            .expect("meta")
            .insert("schema_version", 5u64)
            .expect("version");
        tx.commit().expect("commit");
    }

    let store = Store::open_in(dir.path()).expect("upgraded");
    let listed = |keep: &dyn Fn(UserId, &str) -> bool| {
        store
            .read(|tx| workloads::listed_read_tx(tx, WorkloadKind::Container, project))
            .expect("list")
            .into_iter()
            .filter(|l| keep(l.owner, &l.name))
            .map(|l| l.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        listed(&|_, _| true),
        vec![records[1].id(), records[0].id()],
        "the project's containers, newest first"
    );
    assert_eq!(listed(&|owner, _| owner == alice), vec![records[0].id()]);
    assert_eq!(
        listed(&|_, name| name.contains("sec")),
        vec![records[1].id()]
    );
    // A removed container leaves the index with its record.
    store
        .write(|tx| workloads::remove_tx(tx, records[1].id(), start_time()))
        .expect("removed");
    assert_eq!(listed(&|_, _| true), vec![records[0].id()]);
    drop(store);
    assert_eq!(version_of(&store_path), Some(schema::CURRENT_VERSION));
}

#[test]
fn a_schema_14_store_gains_the_job_list_index_of_its_jobs() {
    use mlstack::domain::ids::ProjectId;
    use mlstack::domain::workload::{JobOrigin, JobSpec};
    use mlstack::store::workloads::{self, WorkloadSpec};
    let job_record = |project, owner, name| {
        let mut record = container_record(project, owner, name);
        let WorkloadSpec::Container(c) = record.spec.clone() else {
            unreachable!("a container record")
        };
        record.spec = WorkloadSpec::Job(JobSpec {
            meta: c.meta,
            image: c.image,
            command: "echo hi".into(),
            env: Default::default(),
            resources: c.resources,
            volumes: Vec::new(),
            time_limit_secs: None,
            origin: JobOrigin::Immediately,
        });
        record
    };
    let dir = tempfile::tempdir().expect("dir");
    let store_path = dir.path().join(mlstack::store::FILE_NAME);
    let (project, other) = (ProjectId::generate(), ProjectId::generate());
    let (alice, bob) = (UserId::generate(), UserId::generate());
    let records = [
        job_record(project, alice, "first"),
        container_record(project, alice, "box"),
        job_record(project, bob, "second"),
        job_record(other, alice, "elsewhere"),
    ];
    {
        let store = Store::open_in(dir.path()).expect("a new store");
        store
            .write(|tx| records.iter().try_for_each(|r| workloads::insert_tx(tx, r)))
            .expect("workloads");
    }
    // Make it what schema 14 wrote: no job list index.
    {
        let db = redb::Database::open(&store_path).expect("open");
        let tx = db.begin_write().expect("write");
        assert!(
            tx.delete_table(tables::PROJECT_JOB_ID_TO_OWNER_NAME)
                .expect("delete")
        );
        tx.open_table(tables::META)
            .expect("meta")
            .insert("schema_version", 14u64)
            .expect("version");
        tx.commit().expect("commit");
    }

    let store = Store::open_in(dir.path()).expect("upgraded");
    let listed = |kind, keep: &dyn Fn(UserId, &str) -> bool| {
        store
            .read(|tx| workloads::listed_read_tx(tx, kind, project))
            .expect("list")
            .into_iter()
            .filter(|l| keep(l.owner, &l.name))
            .map(|l| l.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        listed(WorkloadKind::Job, &|_, _| true),
        vec![records[2].id(), records[0].id()],
        "the project's jobs, newest first, no container"
    );
    assert_eq!(
        listed(WorkloadKind::Container, &|_, _| true),
        vec![records[1].id()]
    );
    assert_eq!(
        listed(WorkloadKind::Job, &|owner, _| owner == bob),
        vec![records[2].id()]
    );
    // A removed job leaves the index with its record.
    store
        .write(|tx| workloads::remove_tx(tx, records[0].id(), start_time()))
        .expect("removed");
    assert_eq!(
        listed(WorkloadKind::Job, &|_, _| true),
        vec![records[2].id()]
    );
    drop(store);
    assert_eq!(version_of(&store_path), Some(schema::CURRENT_VERSION));
}

#[test]
fn a_schema_5_store_gains_the_order_and_run_interval_tables() {
    let dir = tempfile::tempdir().expect("dir");
    let store_path = dir.path().join(mlstack::store::FILE_NAME);
    drop(Store::open_in(dir.path()).expect("a new store"));
    // Make it what schema 5 wrote: no order or run interval tables.
    {
        let db = redb::Database::open(&store_path).expect("open");
        let tx = db.begin_write().expect("write");
        assert!(tx.delete_table(tables::ORDER_ID_TO_ORDER).expect("delete"));
        assert!(
            tx.delete_table(tables::WORKLOAD_RUN_INTERVALS)
                .expect("delete")
        );
        for table in [
            tables::USER_ID_TO_ORDER_IDS,
            tables::PROJECT_ID_TO_ORDER_IDS,
        ] {
            assert!(tx.delete_multimap_table(table).expect("delete"));
        }
        tx.open_table(tables::META)
            .expect("meta")
            .insert("schema_version", 5u64)
            .expect("version");
        tx.commit().expect("commit");
    }
    let store = Store::open_in(dir.path()).expect("upgraded");
    assert_eq!(store.readiness(), Ok(()));
    drop(store);
    assert_eq!(version_of(&store_path), Some(schema::CURRENT_VERSION));
    let db = redb::Database::open(&store_path).expect("open");
    let tx = db.begin_read().expect("read");
    tx.open_table(tables::ORDER_ID_TO_ORDER).expect("orders");
    tx.open_multimap_table(tables::USER_ID_TO_ORDER_IDS)
        .expect("orders by user");
    tx.open_multimap_table(tables::PROJECT_ID_TO_ORDER_IDS)
        .expect("orders by project");
    tx.open_table(tables::WORKLOAD_RUN_INTERVALS)
        .expect("run intervals");
}

#[test]
fn a_schema_5_store_gains_the_metrics_tables() {
    let dir = tempfile::tempdir().expect("dir");
    let store_path = dir.path().join(mlstack::store::FILE_NAME);
    drop(Store::open_in(dir.path()).expect("a new store"));
    {
        let db = redb::Database::open(&store_path).expect("open");
        let tx = db.begin_write().expect("write");
        for table in [
            tables::WORKLOAD_MINUTE_TO_SAMPLE,
            tables::WORKLOAD_HOUR_TO_ROLLUP,
        ] {
            assert!(tx.delete_table(table).expect("delete"));
        }
        tx.open_table(tables::META)
            .expect("meta")
            .insert("schema_version", 5u64)
            .expect("version");
        tx.commit().expect("commit");
    }
    assert_eq!(version_of(&store_path), Some(5));
    drop(Store::open_in(dir.path()).expect("upgraded"));
    assert_eq!(
        version_of(&store_path),
        Some(mlstack::store::schema::CURRENT_VERSION)
    );
    let db = redb::Database::open(&store_path).expect("open");
    let tx = db.begin_read().expect("read");
    tx.open_table(tables::WORKLOAD_MINUTE_TO_SAMPLE)
        .expect("minutes");
    tx.open_table(tables::WORKLOAD_HOUR_TO_ROLLUP)
        .expect("hours");
}

#[test]
fn an_upgrade_from_schema_5_lists_the_mails_already_queued() {
    use mlstack::domain::ids::MailId;
    use mlstack::store::outbox::{MailRecord, MailStatus};
    use redb::ReadableTableMetadata;
    let dir = tempfile::tempdir().expect("dir");
    drop(Store::open_in(dir.path()).expect("store"));
    let store_path = dir.path().join(mlstack::store::FILE_NAME);
    let mail = |status| MailRecord {
        id: MailId::generate(),
        to_user: UserId::generate(),
        to_address: "mei@lab.example".into(),
        to_name: String::new(),
        subject: "s".into(),
        body: "b".into(),
        html: String::new(),
        created_at: start_time(),
        status,
        attempts: 0,
        last_error: None,
        next_try: None,
        sent_at: None,
    };
    {
        let db = redb::Database::open(&store_path).expect("open");
        let tx = db.begin_write().expect("write");
        for m in [mail(MailStatus::Pending), mail(MailStatus::Sent)] {
            mlstack::store::outbox::put_tx(&tx, &m).expect("mail");
        }
        // A schema 5 store has no work list.
        assert!(tx.delete_table(tables::DUE_MAIL_IDS).expect("delete"));
        tx.open_table(tables::META)
            .expect("meta")
            .insert("schema_version", 5u64)
            .expect("version");
        tx.commit().expect("commit");
    }
    drop(Store::open_in(dir.path()).expect("upgraded"));
    assert_eq!(version_of(&store_path), Some(schema::CURRENT_VERSION));
    let db = redb::Database::open(&store_path).expect("open");
    let tx = db.begin_read().expect("read");
    let due = tx.open_table(tables::DUE_MAIL_IDS).expect("due mails");
    assert_eq!(due.len().expect("len"), 1, "the pending mail only");
}

#[test]
fn a_schema_10_store_gains_an_empty_audit_log_with_the_default_retention() {
    let dir = tempfile::tempdir().expect("dir");
    let store_path = dir.path().join(mlstack::store::FILE_NAME);
    drop(Store::open_in(dir.path()).expect("a new store"));
    {
        let db = redb::Database::open(&store_path).expect("open");
        let tx = db.begin_write().expect("write");
        assert!(
            tx.delete_table(tables::AUDIT_TIME_TO_EVENT)
                .expect("delete")
        );
        tx.open_table(tables::META)
            .expect("meta")
            .insert("schema_version", 10u64)
            .expect("version");
        tx.commit().expect("commit");
    }
    assert_eq!(version_of(&store_path), Some(10));
    let store = Store::open_in(dir.path()).expect("upgraded");
    let (events, total) = store
        .read(|tx| {
            mlstack::store::audit::page(tx, &mlstack::domain::audit::AuditFilter::default(), 0, 10)
        })
        .expect("the audit log reads");
    assert!(events.is_empty() && total == 0);
    assert_eq!(
        store
            .read(mlstack::store::audit::retention_days)
            .expect("retention"),
        365
    );
    drop(store);
    assert_eq!(
        version_of(&store_path),
        Some(mlstack::store::schema::CURRENT_VERSION)
    );
}
