//! The container create wizard in headless Chromium, in English (bob, light
//! theme) and in Traditional Chinese (carol, dark theme): accept the terms,
//! choose a spec (the GPU type filters the table, the cost follows the
//! choices), an image and its version, shared memory (the split follows
//! the size) and a volume, read the overview and create; the browser lands
//! on the container list. axe-core checks every step.

use serde_json::json;

use crate::common::browser::Browser;
use crate::container_wizard::wizard;

struct Labels {
    switch_to: Option<&'static str>,
    theme: &'static str,
    html_lang: &'static str,
    terms_step: &'static str,
    split: &'static str,
    overview: &'static str,
    /// Whether the user sees the fixture's volume (bob owns it; a member
    /// sees only their own).
    mounts: bool,
}

const ENGLISH: Labels = Labels {
    switch_to: None,
    theme: "Light",
    html_lang: "en",
    terms_step: "Sign the terms",
    split: "25% shared memory | 75% system memory",
    overview: "Overview",
    mounts: true,
};

const CHINESE: Labels = Labels {
    switch_to: Some("繁體中文"),
    theme: "Dark",
    html_lang: "zh-TW",
    terms_step: "簽署條款",
    split: "25% 共享記憶體 | 75% 系統記憶體",
    overview: "總覽",
    mounts: false,
};

/// Clicks the wizard's button `go` (next, previous, create) and waits for
/// the step that follows.
async fn go(b: &Browser, go: &str) {
    b.submit(&format!("form.wizard button[value='{go}']"), go)
        .await;
    b.check_accessibility().await;
}

/// The journey as `user` (bob or carol, both members of the fixture's
/// project), creating a container called `name`.
async fn journey(l: &Labels, user: &str, name: &str) {
    let w = wizard().await;
    let password = match user {
        "bob" => w.passwords.0.clone(),
        _ => w.passwords.1.clone(),
    };
    let b = Browser::start(&w.app.url).await;
    b.log_in(user, &password).await;
    b.user_menu(l.theme).await;
    if let Some(label) = l.switch_to {
        b.user_menu(label).await;
    }
    b.goto("/containers/new").await;
    assert_eq!(b.html_attr("lang").await.as_deref(), Some(l.html_lang));
    let text = b.text().await;
    assert!(text.contains(l.terms_step), "{text}");
    assert!(
        text.contains("平台資源僅限用於您專案的工作"),
        "both languages' default terms"
    );
    assert_eq!(b.text_of("#wizard-cost-value").await, "TWD 0");

    b.click("#f-accept_terms").await;
    go(&b, "next").await;
    b.fill("f-name", name).await;
    // A GPU type shows its specs only, and its price counts.
    b.click(&format!("#f-gpu_type-{}", w.t4)).await;
    assert!(
        b.execute(
            "return document.querySelector(arguments[0]).closest('tr').hidden;",
            vec![json!(format!("#f-spec-{}", w.cpu_spec))],
        )
        .await
        .as_bool()
            == Some(true),
        "the CPU-only spec is hidden for a T4"
    );
    assert_eq!(b.text_of("#wizard-cost-value").await, "TWD 10");
    b.click("#f-gpu_type-none").await;
    b.click(&format!("#f-spec-{}", w.cpu_spec)).await;
    assert_eq!(b.text_of("#wizard-cost-value").await, "TWD 2");
    b.set_value("#f-image", &w.image).await;
    b.set_value("#f-version", "24.04").await;
    go(&b, "next").await;

    b.click("#f-shm").await;
    b.set_value("#f-shm_mb", "256").await;
    assert_eq!(b.text_of("#wizard-shm-split").await, l.split);
    if l.mounts {
        b.click("#f-mount-0").await;
    } else {
        assert!(
            !b.exists("#f-mount-0").await,
            "another member's volume is not offered"
        );
    }
    go(&b, "next").await;

    let overview = b.text_of("#wizard-step-4").await;
    assert!(overview.contains(l.overview), "{overview}");
    assert_eq!(
        overview.contains("data → /workspace/data"),
        l.mounts,
        "{overview}"
    );
    assert!(overview.contains(l.split), "{overview}");
    assert!(overview.contains("TWD 2"), "{overview}");
    b.submit("form.wizard button[value='create']", "the container list")
        .await;
    b.wait_for_path("/containers").await;

    let list = w.containers().await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].spec.name(), Some(name));
    b.close().await;
}

#[tokio::test]
async fn a_member_creates_a_container_through_the_wizard_in_english() {
    journey(&ENGLISH, "bob", "notebook").await;
}

#[tokio::test]
async fn a_member_creates_a_container_through_the_wizard_in_chinese() {
    journey(&CHINESE, "carol", "notebook2").await;
}
