//! The admin's users page.

use reqwest::StatusCode;

use crate::common::{Client, TestApp, secret_in};

/// The id in the action URLs of `username`'s row.
fn user_id(body: &str, username: &str) -> String {
    let row_start = body.find(&format!("<td>{username}")).expect("row");
    let row = &body[row_start..];
    let marker = "/admin/users/";
    let start = row.find(marker).expect("an action") + marker.len();
    row[start..start + 36].to_owned()
}

#[tokio::test]
async fn admins_create_users_who_log_in_with_the_password_shown_once() {
    let app = TestApp::start();
    let admin = app.admin().await;
    let created = admin
        .post_form("/admin/users", &[("username", "bob"), ("is_admin", "on")])
        .await;
    assert_eq!(created.status, StatusCode::OK);
    let password = secret_in(&created.body).expect("password shown");
    assert!(created.body.contains("The password of bob is shown once"));
    let list = admin.get("/admin/users").await;
    assert!(!list.body.contains(&password), "shown once only");
    let bob = app.client();
    bob.login_ok("bob", &password).await;
    let first = bob.get("/admin/users").await;
    assert_eq!(
        first.location(),
        Some("/account/password"),
        "a generated password is changed before anything else"
    );
    bob.choose_password(&password).await;
    assert_eq!(
        bob.get("/admin/users").await.status,
        StatusCode::OK,
        "bob is an admin"
    );

    let taken = admin
        .post_form("/admin/users", &[("username", "bob")])
        .await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(taken.body.contains("This username is taken."));
    let bad = admin
        .post_form("/admin/users", &[("username", "Bad Name")])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("value=\"Bad Name\""));
}

#[tokio::test]
async fn disabling_a_user_ends_their_sessions_at_once() {
    let app = TestApp::start();
    let admin = app.admin().await;
    let (carol, password) = app.member("carol").await;
    let id = user_id(&admin.get("/admin/users").await.body, "carol");
    let done = admin
        .post_form(&format!("/admin/users/{id}/disable"), &[])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "post/redirect/get");
    let page = admin.get(done.location().expect("redirect")).await;
    assert!(page.body.contains("carol is disabled."));
    assert!(
        page.body.contains("name=\"next\" value=\"/admin/users\""),
        "the menu returns here"
    );
    assert!(!carol.is_logged_in().await);
    let again = app.client().login("carol", &password).await;
    assert_eq!(again.status, StatusCode::FORBIDDEN);
    assert!(again.body.contains("This account is disabled."));

    admin
        .post_form(&format!("/admin/users/{id}/enable"), &[])
        .await;
    app.client().login_ok("carol", &password).await;
}

#[tokio::test]
async fn reset_password_ends_sessions_and_gives_a_new_password() {
    let app = TestApp::start();
    let admin = app.admin().await;
    let (dave, old) = app.member("dave").await;
    let id = user_id(&admin.get("/admin/users").await.body, "dave");
    let page = admin
        .post_form(&format!("/admin/users/{id}/reset-password"), &[])
        .await;
    let new = secret_in(&page.body).expect("new password shown");
    assert_ne!(new, old);
    assert!(!dave.is_logged_in().await);
    assert_eq!(
        app.client().login("dave", &old).await.status,
        StatusCode::UNAUTHORIZED
    );
    let dave = app.client();
    dave.login_ok("dave", &new).await;
    assert_eq!(
        dave.get("/projects").await.location(),
        Some("/account/password"),
        "a reset password is changed at the next login"
    );
}

#[tokio::test]
async fn admins_manage_each_other_but_not_themselves() {
    let app = TestApp::start();
    let admin = app.admin().await;
    let body = admin.get("/admin/users").await.body;
    assert!(!body.contains("/disable\""), "no action on one's own row");
    let page = admin
        .post_form("/admin/users", &[("username", "erin"), ("is_admin", "on")])
        .await;
    let erin_password = secret_in(&page.body).expect("password");
    let erin = Client::new(&app.url);
    erin.login_ok("erin", &erin_password).await;
    erin.choose_password(&erin_password).await;
    let admin_id = user_id(&erin.get("/admin/users").await.body, "admin");
    let erin_id = user_id(&admin.get("/admin/users").await.body, "erin");

    // erin revokes admin; then admin is the last one and erin is a member.
    let page = erin
        .post_form(&format!("/admin/users/{admin_id}/revoke-admin"), &[])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(
        admin.get("/admin/users").await.status,
        StatusCode::FORBIDDEN
    );
    let own = erin
        .post_form(&format!("/admin/users/{erin_id}/revoke-admin"), &[])
        .await;
    assert_eq!(own.status, StatusCode::CONFLICT);
    assert!(
        own.body
            .contains("You cannot change your own account here.")
    );
    erin.post_form(&format!("/admin/users/{admin_id}/grant-admin"), &[])
        .await;
    let page = admin
        .post_form(&format!("/admin/users/{erin_id}/disable"), &[])
        .await;
    let page = admin.get(page.location().expect("redirect")).await;
    assert!(page.body.contains("erin is disabled."));
    assert!(!erin.is_logged_in().await);

    let unknown = admin
        .post_form(
            "/admin/users/0190a0a0-0000-7000-8000-000000000000/disable",
            &[],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let nonsense = admin
        .post_form(&format!("/admin/users/{erin_id}/explode"), &[])
        .await;
    assert_eq!(nonsense.status, StatusCode::NOT_FOUND);
}

/// The Users table dates an account in the platform time zone (Asia/Taipei
/// by default): created at 17:00 UTC on 29 November, it is already the 30th.
#[tokio::test]
async fn users_are_dated_in_the_platform_time_zone() {
    let app = TestApp::start();
    app.clock.advance(jiff::SignedDuration::from_hours(9));
    let admin = app.admin().await;
    let created = admin
        .post_form("/admin/users", &[("username", "late")])
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let body = admin.get("/admin/users").await.body;
    let row = &body[body.find("<td>late").expect("row")..];
    let row = &row[..row.find("</tr>").expect("row end")];
    assert!(row.contains("2026/11/30"), "{row}");
}
