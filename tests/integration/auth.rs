//! Logging in and out, CSRF, throttling, sessions and passwords.

use jiff::SignedDuration;
use reqwest::StatusCode;

use crate::common::TestApp;

#[tokio::test]
async fn first_run_admin_logs_in_with_the_printed_password() {
    let app = TestApp::start();
    let file = std::fs::read_to_string(app.data_dir().join("initial-admin-password"))
        .expect("password file");
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

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let app = TestApp::start();
    let client = app.client();
    let wrong = client.login("admin", "not-the-password").await;
    let unknown = client.login("nobody", "not-the-password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("Wrong username or password."));
    assert!(unknown.body.contains("Wrong username or password."));
    assert!(
        unknown.body.contains("value=\"nobody\""),
        "the name is kept"
    );
    assert!(
        !unknown.body.contains("not-the-password"),
        "the password is never echoed"
    );
    assert!(!client.is_logged_in().await);
}

#[tokio::test]
async fn empty_fields_are_named_beside_the_inputs() {
    let app = TestApp::start();
    let page = app.client().login("", "").await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("id=\"username-error\""));
    assert!(page.body.contains("id=\"password-error\""));
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = TestApp::start();
    let client = app.admin().await;
    assert!(client.is_logged_in().await);
    let page = client.post_form("/logout", &[]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), Some("/login?logged_out=1"));
    assert!(!client.is_logged_in().await);
    let profile = client.get("/account/profile").await;
    assert_eq!(profile.status, StatusCode::SEE_OTHER);
    assert_eq!(profile.location(), Some("/login?next=%2Faccount%2Fprofile"));
}

#[tokio::test]
async fn login_returns_to_the_page_asked_for_but_never_off_site() {
    let app = TestApp::start();
    let client = app.client();
    let token = client.csrf().await;
    let page = client
        .post_raw(
            "/login",
            &[
                ("username", "admin"),
                ("password", &app.admin_password),
                ("next", "/account/settings"),
                ("csrf", &token),
            ],
        )
        .await;
    assert_eq!(page.location(), Some("/account/settings"));

    let other = app.client();
    let token = other.csrf().await;
    let page = other
        .post_raw(
            "/login",
            &[
                ("username", "admin"),
                ("password", &app.admin_password),
                ("next", "//evil.example/"),
                ("csrf", &token),
            ],
        )
        .await;
    assert_eq!(page.location(), Some("/"));
}

#[tokio::test]
async fn state_changes_without_the_right_csrf_token_are_refused_and_change_nothing() {
    let app = TestApp::start();
    let client = app.admin().await;

    let missing = client
        .post_raw(
            "/account/profile",
            &[("category", "personal"), ("first_name", "Mallory")],
        )
        .await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert!(missing.body.contains("Form expired"));
    let wrong = client
        .post_raw(
            "/account/profile",
            &[
                ("category", "personal"),
                ("first_name", "Mallory"),
                ("csrf", "forged"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let logout = client.post_raw("/logout", &[]).await;
    assert_eq!(logout.status, StatusCode::FORBIDDEN);

    let profile = client.get("/account/profile").await;
    assert!(!profile.body.contains("Mallory"), "nothing changed");
    assert!(
        client.is_logged_in().await,
        "the refused logout did not log out"
    );

    // A token from another visitor's session does not work either.
    let visitor = app.client();
    let visitor_token = visitor.csrf().await;
    let foreign = client
        .post_raw(
            "/account/profile",
            &[
                ("category", "personal"),
                ("first_name", "Mallory"),
                ("csrf", &visitor_token),
            ],
        )
        .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);

    // A login form posted without the pre-login cookie is refused too.
    let fresh = crate::common::Client::new(&app.url);
    let page = fresh
        .post_raw(
            "/login",
            &[("username", "admin"), ("password", &app.admin_password)],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn five_failures_throttle_the_account_until_the_window_passes() {
    let app = TestApp::start();
    let attacker = app.client();
    for _ in 0..5 {
        let page = attacker.login("admin", "guess").await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    }
    let blocked = attacker.login("admin", &app.admin_password).await;
    assert_eq!(blocked.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(blocked.header("retry-after"), Some("300"));
    assert!(blocked.body.contains("Try again in 300 seconds"));
    assert!(
        !attacker.is_logged_in().await,
        "even the right password waits"
    );

    app.advance(SignedDuration::from_mins(5));
    let page = attacker.login("admin", &app.admin_password).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn an_address_is_throttled_across_accounts() {
    let app = TestApp::start();
    let client = app.client();
    for name in ["ann", "ben", "cat", "dan", "eve"] {
        assert_eq!(
            client.login(name, "guess").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let page = client.login("fay", "guess").await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions_and_the_initial_file() {
    let app = TestApp::start();
    let laptop = app.admin().await;
    let phone = app.admin().await;
    let password_file = app.data_dir().join("initial-admin-password");
    assert!(password_file.exists());

    let wrong = laptop
        .post_form(
            "/account/password",
            &[
                ("current_password", "wrong"),
                ("new_password", "a-new-password"),
                ("confirm_password", "a-new-password"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.body.contains("The current password is wrong."));
    let mismatch = laptop
        .post_form(
            "/account/password",
            &[
                ("current_password", &app.admin_password),
                ("new_password", "a-new-password"),
                ("confirm_password", "other"),
            ],
        )
        .await;
    assert!(mismatch.body.contains("The two passwords differ."));
    assert!(phone.is_logged_in().await, "refused changes end nothing");

    let done = laptop
        .post_form(
            "/account/password",
            &[
                ("current_password", &app.admin_password),
                ("new_password", "a-new-password"),
                ("confirm_password", "a-new-password"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(done.location(), Some("/account/password?changed=1"));
    assert!(
        laptop.is_logged_in().await,
        "the session that changed it stays"
    );
    assert!(!phone.is_logged_in().await, "every other session ended");
    assert!(
        !password_file.exists(),
        "the initial password file is removed"
    );
    let home = laptop.get("/").await;
    assert!(!home.body.contains("You are using the password printed"));

    let again = app.client();
    assert_eq!(
        again.login("admin", &app.admin_password).await.status,
        StatusCode::UNAUTHORIZED
    );
    again.login_ok("admin", "a-new-password").await;
}

#[tokio::test]
async fn idle_sessions_expire_and_active_ones_do_not() {
    let app = TestApp::start();
    let idle = app.admin().await;
    let active = app.admin().await;
    for _ in 0..3 {
        app.advance(SignedDuration::from_hours(5));
        assert!(active.is_logged_in().await, "use keeps a session alive");
    }
    assert!(
        !idle.is_logged_in().await,
        "15 idle hours exceed the 12 h timeout"
    );
    let page = idle.get("/account/profile").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_session_cookie_that_is_not_ours_is_ignored() {
    let app = TestApp::start();
    let client = app.client();
    let page = crate::common::Client::read(
        client
            .http
            .get(client.url("/account/profile"))
            .header("cookie", "mlstack_session=made-up")
            .send()
            .await
            .expect("GET"),
    )
    .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let cleared = page.header("set-cookie").unwrap_or_default();
    assert!(
        cleared.starts_with("mlstack_session=;") || cleared.contains("mlstack_session=;"),
        "{cleared}"
    );
}
