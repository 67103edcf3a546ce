//! The Storage Management journey in headless Chromium: a member opens the
//! "+" form, creates a project-readable storage (a refused size first) and
//! lands on its detail pane; clones it (a refused name first) and watches
//! the clone's row go from its copy's progress to Available without a
//! reload; then, in Traditional Chinese, creates a personal one and deletes
//! it through the confirmation dialog. axe-core checks every page; the
//! detail pane fits 400 px in both languages, the clone form in both
//! themes.

use crate::browser_layout::{HEIGHT, OVERFLOW, WIDTH};
use crate::common::TestApp;
use crate::common::browser::Browser;
use crate::projects::{active_project, day};

/// What does not fit on the page at 400 px (the layout test's check).
async fn overflow(b: &Browser) -> serde_json::Value {
    b.resize(WIDTH, HEIGHT).await;
    b.execute(OVERFLOW, vec![]).await
}

#[tokio::test]
async fn a_member_creates_storage_in_both_languages() {
    let app = TestApp::start();
    let (manager, _) = app.member("mona").await;
    let (_, password) = app.member("mia").await;
    let project = active_project(&app, &manager, "Vision", &["mona", "mia"], &day(30)).await;
    let storage_type = app
        .services()
        .create_storage_type(&mlstack::domain::catalog::StorageTypeRequest {
            name: "NFS".into(),
            storage_class: "nfs".into(),
            min_gib: "1".into(),
            max_gib: "50".into(),
        })
        .await
        .expect("a storage type");
    let b = Browser::start(&app.url).await;
    b.log_in("mia", &password).await;
    b.goto(&format!("/storage?project={project}")).await;
    b.wait_for_text("No storage yet").await;

    // A size beyond the type's limits is refused with the form open.
    b.click("details.storage-create > summary").await;
    b.fill("f-name", "datasets").await;
    b.set_value("#f-storage_type", &storage_type.id.to_string())
        .await;
    b.fill("f-size", "80").await;
    b.click("input[name='permission'][value='project_read_only']")
        .await;
    b.submit(
        "form.storage-form button[type='submit']",
        "the refused form",
    )
    .await;
    b.wait_for_text("Enter a whole number of GB within the storage type")
        .await;
    b.fill("f-size", "20").await;
    b.submit("form.storage-form button[type='submit']", "the list")
        .await;
    b.wait_for_text("The storage is being created.").await;
    let detail = b.text_of("#detail").await;
    assert!(detail.contains("datasets"), "{detail}");
    assert!(detail.contains("Readable by project"), "{detail}");
    assert!(detail.contains("20 GB"), "{detail}");
    assert_eq!(overflow(&b).await, serde_json::json!([]), "fits 400 px");

    // Once Available, it is cloned from its detail pane; the clone's row
    // shows the copy, then turns Available without a reload.
    b.resize(1280, 900).await;
    b.wait_until(
        "the storage Available in its row",
        "return document.querySelector('tbody[data-poll]').textContent.includes('Available');",
        vec![],
    )
    .await;
    b.goto(&b.path().await).await;
    b.click("#detail details.storage-clone > summary").await;
    b.fill("f-clone-name", "Datasets Copy").await;
    b.submit(
        "form.storage-clone-form button[type='submit']",
        "the refused clone",
    )
    .await;
    b.wait_for_text("Use 1 to 40 lowercase letters and digits")
        .await;
    assert_eq!(overflow(&b).await, serde_json::json!([]), "fits 400 px");
    b.resize(1280, 900).await;
    b.fill("f-clone-name", "copy").await;
    b.submit("form.storage-clone-form button[type='submit']", "the clone")
        .await;
    b.wait_for_text("The clone is being created").await;
    let row = b.text_of("tbody[data-poll] tr.selected").await;
    assert!(
        row.contains("copy") && row.contains("Creating") && row.contains("% copied"),
        "{row}"
    );
    b.mark_page().await;
    let reconciler = app.reconciler();
    let started = std::time::Instant::now();
    loop {
        let row = b.text_of("tbody[data-poll] tr.selected").await;
        if row.contains("Available") {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "{row}"
        );
        app.advance(jiff::SignedDuration::from_secs(1));
        reconciler.step().await.expect("a pass");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert_eq!(
        b.execute("return window.__mlstackOldPage === true;", vec![])
            .await,
        serde_json::json!(true),
        "the row changed without a reload"
    );
    assert!(b.text_of("#detail").await.contains("Cloned from"));
    let clone_page = b.path().await;

    // The clone's detail and its open clone form in Traditional Chinese, in
    // the dark theme, fit 400 px.
    b.user_menu("Dark").await;
    b.user_menu("繁體中文").await;
    b.goto(&clone_page).await;
    b.click("#detail details.storage-clone > summary").await;
    let detail = b.text_of("#detail").await;
    assert!(
        detail.contains("複製來源") && detail.contains("新儲存空間名稱"),
        "{detail}"
    );
    assert_eq!(overflow(&b).await, serde_json::json!([]), "fits 400 px");
    b.user_menu("淺色").await;
    b.resize(1280, 900).await;

    // In Traditional Chinese: a personal storage of the default size,
    // then deleted through its dialog.
    b.goto(&format!("/storage?project={project}")).await;
    assert_eq!(b.html_attr("lang").await.as_deref(), Some("zh-TW"));
    b.click("details.storage-create > summary").await;
    b.fill("f-name", "scratch").await;
    b.click("input[name='permission'][value='personal']").await;
    b.submit("form.storage-form button[type='submit']", "the list")
        .await;
    b.wait_for_text("儲存空間建立中").await;
    let detail = b.text_of("#detail").await;
    assert!(
        detail.contains("scratch") && detail.contains("僅個人可讀寫"),
        "{detail}"
    );
    assert!(
        detail.contains("1 GB"),
        "the type's smallest size: {detail}"
    );
    b.click("#detail button[data-dialog^='delete-']").await;
    b.wait_for_text("要刪除儲存空間 scratch 嗎？").await;
    b.submit("dialog[open] button.primary", "the list after deleting")
        .await;
    b.wait_for_text("儲存空間及其資料刪除中").await;
    b.close().await;
}
