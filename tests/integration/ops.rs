//! Operations and HTTP hygiene: health checks, error pages, limits, headers,
//! assets and TLS.

use std::sync::Arc;

use mlstack::clock::ManualClock;
use mlstack::config::TlsConfig;
use reqwest::StatusCode;

use crate::common::{Client, TestApp, start_time, test_config};

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::start();
    let client = app.client();
    let health = client.get("/healthz").await;
    assert_eq!(
        (health.status, health.body.as_str()),
        (StatusCode::OK, "ok")
    );
    let ready = client.get("/readyz").await;
    assert_eq!(
        (ready.status, ready.body.as_str()),
        (StatusCode::OK, "ready")
    );
}

#[tokio::test]
async fn unknown_routes_get_a_translated_404_page() {
    let app = TestApp::start();
    let anonymous = app.client();
    let page = anonymous.get("/no/such/page").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.body.contains("Page not found"));
    assert!(page.body.contains("<!DOCTYPE html>"));
    let zh = Client::read(
        anonymous
            .http
            .get(anonymous.url("/nope"))
            .header("accept-language", "zh-TW")
            .send()
            .await
            .expect("GET"),
    )
    .await;
    assert!(zh.body.contains("找不到頁面"));
    let admin = app.admin().await;
    let page = admin.get("/no/such/page").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(
        page.body.contains("class=\"sidebar\""),
        "signed-in users keep the shell"
    );
    assert_eq!(
        admin.get("/assets/missing.css").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn bodies_over_one_mib_get_413_and_change_nothing() {
    let app = TestApp::start();
    let client = app.admin().await;
    let token = client.csrf().await;
    let huge = "x".repeat(1024 * 1024 + 1);
    let page = client
        .post_raw(
            "/account/profile",
            &[("first_name", "Big"), ("address", &huge), ("csrf", &token)],
        )
        .await;
    assert_eq!(page.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(page.body.contains("Request too large"));
    assert!(
        !client
            .get("/account/profile")
            .await
            .body
            .contains("value=\"Big\"")
    );
}

#[tokio::test]
async fn malformed_form_bodies_are_a_400_not_a_500() {
    let app = TestApp::start();
    let client = app.admin().await;
    let token = client.csrf().await;
    let response = client
        .http
        .post(client.url("/account/profile"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-csrf-token", token)
        .body("first_name=%ZZ%&&==")
        .send()
        .await
        .expect("POST");
    let page = Client::read(response).await;
    assert!(page.status.is_client_error(), "{}", page.status);
}

#[tokio::test]
async fn every_response_carries_the_security_headers_and_a_request_id() {
    let app = TestApp::start();
    let admin = app.admin().await;
    let anonymous = app.client();
    let pages = [
        anonymous.get("/login").await,
        anonymous.get("/healthz").await,
        anonymous.get("/nope").await,
        anonymous.get("/assets/app.css").await,
        admin.get("/").await,
        admin.get("/admin/users").await,
        anonymous.post_raw("/login", &[]).await,
    ];
    for page in pages {
        let csp = page.header("content-security-policy").unwrap_or_default();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"));
        assert_eq!(page.header("x-frame-options"), Some("DENY"));
        assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(page.header("referrer-policy"), Some("same-origin"));
        assert_eq!(page.header("x-request-id").map(str::len), Some(16));
    }
    let html = admin.get("/").await.body;
    assert!(
        !html.contains("<script>") && !html.contains(" style=\""),
        "no inline script or style"
    );
}

#[tokio::test]
async fn assets_are_cached_by_content_hash_and_revalidated_by_etag() {
    let app = TestApp::start();
    let client = app.client();
    let login = client.get("/login").await;
    let start = login
        .body
        .find("/assets/app.css?v=")
        .expect("stylesheet link");
    let href: String = login.body[start..]
        .chars()
        .take_while(|c| *c != '"')
        .collect();
    let css = client.get(&href).await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(css.header("content-type"), Some("text/css"));
    assert_eq!(
        css.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let etag = css.header("etag").expect("etag").to_owned();
    let again = Client::read(
        client
            .http
            .get(client.url(&href))
            .header("if-none-match", &etag)
            .send()
            .await
            .expect("GET"),
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
    let unversioned = client.get("/assets/app.css").await;
    assert_eq!(unversioned.header("cache-control"), Some("no-cache"));
}

#[tokio::test]
async fn over_tls_cookies_are_secure() {
    let dir = tempfile::tempdir().expect("dir");
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("cert");
    let cert_file = dir.path().join("cert.pem");
    let key_file = dir.path().join("key.pem");
    std::fs::write(&cert_file, cert.cert.pem()).expect("write cert");
    std::fs::write(&key_file, cert.signing_key.serialize_pem()).expect("write key");
    let mut config = test_config(&dir.path().join("data"));
    config.tls = Some(TlsConfig {
        cert_file,
        key_file,
    });
    let app = TestApp::start_with(
        config,
        Arc::new(ManualClock::new(start_time())),
        String::new(),
    );
    assert!(app.url.starts_with("https://"));
    let client = app.client();
    let login = client.get("/login").await;
    assert!(
        login
            .header("set-cookie")
            .unwrap_or_default()
            .contains("Secure")
    );
    assert_eq!(
        login.header("strict-transport-security"),
        Some("max-age=31536000")
    );
    let page = client.login("admin", &app.admin_password).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let cookie = page.header("set-cookie").unwrap_or_default();
    assert!(
        cookie.starts_with("mlstack_session=") && cookie.contains("Secure"),
        "{cookie}"
    );
}
