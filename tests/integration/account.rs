//! My Profile, Settings, language and theme.

use reqwest::StatusCode;

use crate::common::TestApp;

#[tokio::test]
async fn profile_is_saved_and_bad_input_is_kept_with_messages() {
    let app = TestApp::start();
    let client = app.admin().await;
    let saved = client
        .post_form(
            "/account/profile",
            &[
                ("category", "organization"),
                ("first_name", "Mei"),
                ("last_name", "Lin"),
                ("email", "mei@lab.example"),
                ("address", "No. 1, Roosevelt Rd."),
                ("phone", "+886 2 1234 5678"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let page = client.get("/account/profile?saved=1").await;
    assert!(page.body.contains("Your profile was updated."));
    assert!(page.body.contains("value=\"Mei\""));
    assert!(
        !page.body.contains("mei@lab.example"),
        "the login e-mail changes only through a mailed link"
    );
    assert!(page.body.contains("value=\"organization\" selected"));
    assert!(client.get("/").await.body.contains("Welcome, Mei Lin."));

    let bad = client
        .post_form(
            "/account/profile",
            &[
                ("category", "spaceship"),
                ("first_name", "<b>Zed</b>"),
                ("phone", "call me"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("id=\"phone-error\""));
    assert!(bad.body.contains("id=\"category-error\""));
    assert!(bad.body.contains("value=\"call me\""), "input is kept");
    assert!(
        bad.body.contains("&lt;b&gt;Zed&lt;/b&gt;"),
        "input is escaped"
    );
    let after = client.get("/account/profile").await;
    assert!(after.body.contains("value=\"Mei\""), "nothing changed");
}

#[tokio::test]
async fn language_follows_the_browser_until_the_user_picks_one() {
    let app = TestApp::start();
    let client = app.admin().await;
    let get_with = |lang: &'static str| {
        let request = client
            .http
            .get(client.url("/account/settings"))
            .header("accept-language", lang);
        async move { crate::common::Client::read(request.send().await.expect("GET")).await }
    };
    let zh = get_with("zh-TW,zh;q=0.9").await;
    assert!(zh.body.contains("<html lang=\"zh-TW\""));
    assert!(zh.body.contains("專案列表"));
    let en = get_with("en-US").await;
    assert!(en.body.contains("<html lang=\"en\""));

    let switched = client
        .post_form(
            "/account/language",
            &[("language", "zh-TW"), ("next", "/account/profile")],
        )
        .await;
    assert_eq!(switched.location(), Some("/account/profile"));
    let fixed = get_with("en-US").await;
    assert!(
        fixed.body.contains("<html lang=\"zh-TW\""),
        "the setting beats the browser"
    );
    assert!(fixed.body.contains("儲存設定"));

    let bad = client
        .post_form(
            "/account/language",
            &[("language", "klingon"), ("next", "/")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let off_site = client
        .post_form(
            "/account/language",
            &[("language", "en"), ("next", "https://evil.example/")],
        )
        .await;
    assert_eq!(off_site.location(), Some("/"));
}

#[tokio::test]
async fn theme_is_a_user_setting_and_the_default_follows_the_browser() {
    let app = TestApp::start();
    let client = app.admin().await;
    let page = client.get("/").await;
    assert!(
        !page.body.contains("data-theme="),
        "system theme: the stylesheet follows the browser"
    );
    let set = client
        .post_form("/account/theme", &[("theme", "dark"), ("next", "/")])
        .await;
    assert_eq!(set.status, StatusCode::SEE_OTHER);
    assert!(client.get("/").await.body.contains("data-theme=\"dark\""));

    let saved = client
        .post_form(
            "/account/settings",
            &[("theme", "light"), ("language", "browser")],
        )
        .await;
    assert_eq!(saved.location(), Some("/account/settings?saved=1"));
    let page = client.get("/account/settings?saved=1").await;
    assert!(page.body.contains("data-theme=\"light\""));
    assert!(page.body.contains("Your settings were saved."));

    let bad = client
        .post_form(
            "/account/settings",
            &[("theme", "neon"), ("language", "en")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("Choose a theme from the list."));
    assert!(
        client.get("/").await.body.contains("data-theme=\"light\""),
        "nothing changed"
    );
}

#[tokio::test]
async fn every_area_of_the_manual_is_in_the_sidebar_and_says_plainly_what_is_not_built() {
    let app = TestApp::start();
    let (member, _) = app.member("alice").await;
    let home = member.get("/").await;
    for path in [
        "/projects/reviews",
        "/projects",
        "/projects/detail",
        "/containers",
        "/advanced/key-pairs",
        "/advanced/custom-images",
        "/advanced/cloud-provisioning",
        "/storage",
        "/advanced/cost-center",
        "/account/orders",
        "/jobs",
        "/gpu-utilization",
        "/jobs/schedules",
        "/advanced/job-templates",
    ] {
        assert!(
            home.body.contains(&format!("href=\"{path}\"")),
            "sidebar links {path}"
        );
    }
    assert!(
        !home.body.contains("href=\"/admin/users\""),
        "members see no admin section"
    );
}
