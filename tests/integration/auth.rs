//! Logging in and out, CSRF, throttling, sessions and passwords.

use jiff::SignedDuration;
use reqwest::StatusCode;

use crate::common::TestApp;

#[tokio::test]
async fn first_run_admin_logs_in_with_the_printed_password() {
    let app = TestApp::start();
    let file = std::fs::read_to_string(app.data_dir().join("initial-admin-password")).expect("password file");
    assert_eq!(file.trim(), app.admin_password);
    let mode = std::fs::metadata(app.data_dir().join("initial-admin-password"))
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
        .expect("metadata");
    assert_eq!(mode, 0o600);

    let client = app.client();
    let page = client.login("admin", &app.admin_password).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), Some("/"));
    let cookie = page.header("set-cookie").expect("session cookie");
    assert!(cookie.starts_with("mlstack_session="));
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    assert!(!cookie.contains("Secure"), "plain HTTP: no Secure flag");
    let home = client.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("Welcome, admin."));
    assert!(home.body.contains("You are using the password printed"));
}
