//! Logging in and out, CSRF, throttling, sessions and passwords.

use jiff::SignedDuration;
use reqwest::StatusCode;

use reqwest::header::{HeaderMap, HeaderValue};

use crate::common::{Client, Page, TestApp};

#[tokio::test]
async fn first_run_admin_logs_in_with_the_printed_password_and_must_change_it() {
    let app = TestApp::start_first_run();
    let file = std::fs::read_to_string(app.data_dir().join("initial-admin-password"))
        .expect("password file");
    assert_eq!(file.trim(), app.admin_password);
    let mode = std::fs::metadata(app.data_dir().join("initial-admin-password"))
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
        .expect("metadata");
    assert_eq!(mode, 0o600);

    let client = app.client();
    let login_page = client.get("/login").await;
    assert!(
        !login_page.body.contains("initial-admin-password")
            && !login_page.body.contains("admin password"),
        "anonymous visitors learn nothing about the first admin password"
    );
    let page = client.login("admin", &app.admin_password).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), Some("/"));
    let cookie = page.header("set-cookie").expect("session cookie");
    assert!(cookie.starts_with("mlstack_session="));
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    assert!(!cookie.contains("Secure"), "plain HTTP: no Secure flag");
    let home = client.get("/").await;
    assert_eq!(home.status, StatusCode::SEE_OTHER);
    assert_eq!(home.location(), Some("/account/password"));
    let page = client.get("/account/password").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("You were given a generated password"));
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
async fn failures_under_other_names_slow_an_address_but_never_lock_out_the_right_password() {
    let app = TestApp::start();
    let client = app.client();
    let slowed = "each attempt from it now waits";
    for (i, name) in ["ann", "ben", "cat", "dan", "eve"].into_iter().enumerate() {
        let page = client.login(name, "guess").await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
        // The page says when the address is slowed down, and by how much.
        let delay = delay(&app, "127.0.0.1");
        assert_eq!(page.body.contains(slowed), delay.is_positive(), "{i}");
        if delay.is_positive() {
            let seconds = format!("{:.2}", delay.as_secs_f64());
            let seconds = seconds.trim_end_matches('0').trim_end_matches('.');
            assert!(
                page.body.contains(&format!("waits {seconds} s")),
                "{}",
                page.body
            );
        }
    }
    assert!(
        delay(&app, "127.0.0.1").is_positive(),
        "the address is slowed"
    );
    let page = client.login("admin", &app.admin_password).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let page = client.login("fay", "guess").await;
    assert_eq!(
        page.status,
        StatusCode::UNAUTHORIZED,
        "the address is slowed down, never refused"
    );
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions_and_the_initial_file() {
    let app = TestApp::start_first_run();
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
    assert_eq!(
        home.status,
        StatusCode::OK,
        "no more redirect to Change password"
    );
    assert!(!home.body.contains("You were given a generated password"));

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

/// `n` browsers, each with its pre-login CSRF token, sending `headers(i)`.
async fn browsers(
    app: &TestApp,
    n: usize,
    headers: impl Fn(usize) -> HeaderMap,
) -> Vec<(Client, String)> {
    let mut all = Vec::new();
    for i in 0..n {
        let client = Client::with_headers(&app.url, headers(i));
        let token = client.csrf().await;
        all.push((client, token));
    }
    all
}

/// Every browser posts its login at once; the answers in order.
async fn login_burst(browsers: &[(Client, String)], user: impl Fn(usize) -> String) -> Vec<Page> {
    let forms: Vec<[(&str, String); 3]> = browsers
        .iter()
        .enumerate()
        .map(|(i, (_, token))| {
            [
                ("username", user(i)),
                ("password", "guess".to_owned()),
                ("csrf", token.clone()),
            ]
        })
        .collect();
    futures_util::future::join_all(
        browsers
            .iter()
            .zip(&forms)
            .map(|((client, _), form)| Client::send_form(client, "/login", form)),
    )
    .await
}

fn forwarded_for(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-forwarded-for",
        HeaderValue::from_str(value).expect("header"),
    );
    headers
}

#[tokio::test]
async fn a_parallel_burst_of_guesses_cannot_pass_the_account_limit() {
    let app = TestApp::start();
    let all = browsers(&app, 20, |_| HeaderMap::new()).await;
    let pages = login_burst(&all, |_| "admin".into()).await;
    let checked = pages
        .iter()
        .filter(|p| p.status == StatusCode::UNAUTHORIZED)
        .count();
    let refused = pages
        .iter()
        .filter(|p| p.status == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(checked, 5, "only the per-account limit was checked");
    assert_eq!(refused, 15);
}

#[tokio::test]
async fn over_the_hashing_queue_bound_logins_get_429_with_retry_after() {
    let app = TestApp::start_configured(|c| {
        c.login_queue = 1;
        c.trusted_proxies = vec!["127.0.0.1/32".parse().expect("net")];
    });
    // Distinct names and clients: neither an account nor an address is
    // throttled, only the queue is full. The bound is one hash, and the names
    // are unknown, so every login checks against the decoy hash: the first
    // one computes it while the others, arriving meanwhile, wait for it, and
    // once it is ready they all ask for the single place at once. None is
    // refused only if the server took a whole hash between two logins sent
    // together; a slower machine hashes more slowly too (the hashing threads
    // run at the lowest priority), which only makes the overlap wider.
    let all = browsers(&app, 24, |i| forwarded_for(&format!("198.51.100.{i}"))).await;
    let pages = login_burst(&all, |i| format!("user{i}")).await;
    let (busy, checked): (Vec<&Page>, Vec<&Page>) = pages
        .iter()
        .partition(|p| p.status == StatusCode::TOO_MANY_REQUESTS);
    assert!(!busy.is_empty(), "some logins found the queue full");
    for page in busy {
        assert_eq!(page.header("retry-after"), Some("1"));
        assert!(
            page.body.contains("checking too many passwords"),
            "{}",
            page.body
        );
    }
    assert!(!checked.is_empty(), "the place was free for one");
    for page in checked {
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{}", page.body);
    }
}

/// `n` failed logins at once (under `n` names) from `headers(i)`.
async fn failures(app: &TestApp, n: usize, headers: impl Fn(usize) -> HeaderMap) {
    let all = browsers(app, n, headers).await;
    for page in login_burst(&all, |i| format!("nobody{i}")).await {
        assert_eq!(
            page.status,
            StatusCode::UNAUTHORIZED,
            "slowed, never refused"
        );
    }
}

/// How long the server would slow the next login from `addr`.
fn delay(app: &TestApp, addr: &str) -> SignedDuration {
    app.services()
        .login_delay(addr.parse().expect("an address"))
}

#[tokio::test]
async fn x_forwarded_for_names_the_client_only_from_a_trusted_proxy() {
    // Four failures are one more than an address may try before it is
    // slowed down; the test observes whom the server counted them against.
    let direct = TestApp::start();
    for i in 0..4 {
        assert_eq!(
            delay(&direct, &format!("203.0.113.{i}")),
            SignedDuration::ZERO
        );
    }
    // Without trusted proxies the header is ignored: every attempt is the
    // peer's, whatever address it claims.
    failures(&direct, 4, |i| forwarded_for(&format!("203.0.113.{i}"))).await;
    assert!(
        delay(&direct, "127.0.0.1").is_positive(),
        "the peer is slowed"
    );
    for i in 0..4 {
        assert_eq!(
            delay(&direct, &format!("203.0.113.{i}")),
            SignedDuration::ZERO,
            "a claimed address counts nothing"
        );
    }

    // Behind a trusted proxy each client is counted on its own, by the
    // rightmost address the proxy did not add itself.
    let proxied = TestApp::start_configured(|c| {
        c.trusted_proxies = vec!["127.0.0.1/32".parse().expect("net")];
    });
    failures(&proxied, 4, |_| forwarded_for("203.0.113.7")).await;
    let client = delay(&proxied, "203.0.113.7");
    assert!(client.is_positive(), "the client is slowed");
    assert_eq!(
        delay(&proxied, "127.0.0.1"),
        SignedDuration::ZERO,
        "the proxy is not"
    );
    assert_eq!(delay(&proxied, "198.51.100.1"), SignedDuration::ZERO);
    // An address the client put before the proxy's own is not believed.
    failures(&proxied, 1, |_| forwarded_for("198.51.100.2, 203.0.113.7")).await;
    assert_eq!(delay(&proxied, "198.51.100.2"), SignedDuration::ZERO);
    assert!(
        delay(&proxied, "203.0.113.7") > client,
        "counted against the real client"
    );
}

#[tokio::test]
async fn cookies_are_secure_when_a_trusted_proxy_says_https() {
    let mut https = HeaderMap::new();
    https.insert("x-forwarded-proto", HeaderValue::from_static("https"));

    let direct = TestApp::start();
    let page = Client::with_headers(&direct.url, https.clone())
        .get("/login")
        .await;
    let cookie = page.header("set-cookie").unwrap_or_default().to_owned();
    assert!(
        cookie.starts_with("mlstack_csrf=") && !cookie.contains("Secure"),
        "{cookie}"
    );

    let proxied = TestApp::start_configured(|c| {
        c.trusted_proxies = vec!["127.0.0.0/8".parse().expect("net")];
    });
    let client = Client::with_headers(&proxied.url, https);
    let page = client.get("/login").await;
    let cookie = page.header("set-cookie").unwrap_or_default().to_owned();
    assert!(
        cookie.starts_with("mlstack_csrf=") && cookie.contains("Secure"),
        "{cookie}"
    );
    assert_eq!(
        page.header("strict-transport-security"),
        Some("max-age=31536000"),
        "HTTPS through a trusted proxy asks browsers to stay on HTTPS"
    );
    let plain = proxied.client().get("/login").await;
    assert_eq!(plain.header("strict-transport-security"), None);
    let login = client.login("admin", &proxied.admin_password).await;
    let cookie = login.header("set-cookie").unwrap_or_default().to_owned();
    assert!(
        cookie.starts_with("mlstack_session=") && cookie.contains("Secure"),
        "{cookie}"
    );
}

#[tokio::test]
async fn a_username_longer_than_any_is_refused_at_login_with_the_limit() {
    let app = TestApp::start();
    let page = app.client().login(&"a".repeat(33), "guess").await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.body.contains("A username has at most 32 characters."),
        "{}",
        page.body
    );
}

/// The session token a login answer sets.
fn session_token(page: &Page) -> String {
    page.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("mlstack_session="))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned()
}

/// Whether a request carrying only this session token is logged in.
async fn token_is_live(app: &TestApp, token: &str) -> bool {
    let client = Client::new(&app.url);
    let page = Client::read(
        client
            .http
            .get(client.url("/account/password"))
            .header("cookie", format!("mlstack_session={token}"))
            .send()
            .await
            .expect("GET"),
    )
    .await;
    page.status == StatusCode::OK
}

#[tokio::test]
async fn a_login_ends_the_session_the_browser_had_before() {
    let app = TestApp::start();
    let browser = app.client();
    let first = browser.login("admin", &app.admin_password).await;
    let before = session_token(&first);
    assert!(token_is_live(&app, &before).await);

    let second = browser.login("admin", &app.admin_password).await;
    assert_eq!(second.status, StatusCode::SEE_OTHER);
    let after = session_token(&second);
    assert_ne!(before, after, "a new token is issued");
    assert!(
        !token_is_live(&app, &before).await,
        "the session from before the login is gone from the store"
    );
    assert!(token_is_live(&app, &after).await);
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_lifetime_even_when_active() {
    let app = TestApp::start();
    let client = app.admin().await;
    // Used every 11 hours, within the 12 h idle timeout, for 165 hours.
    for _ in 0..15 {
        app.advance(SignedDuration::from_hours(11));
        assert!(client.is_logged_in().await, "an active session lives");
    }
    app.advance(SignedDuration::from_hours(3));
    assert!(
        !client.is_logged_in().await,
        "168 hours after login the session ends however active"
    );
}

#[tokio::test]
async fn a_pre_login_csrf_cookie_the_server_did_not_issue_is_refused() {
    let app = TestApp::start();
    let forged = "A".repeat(43);
    let client = Client::new(&app.url);
    let page = Client::read(
        client
            .http
            .post(client.url("/login"))
            .header("cookie", format!("mlstack_csrf={forged}"))
            .form(&[
                ("username", "admin"),
                ("password", app.admin_password.as_str()),
                ("csrf", forged.as_str()),
            ])
            .send()
            .await
            .expect("POST"),
    )
    .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(!client.is_logged_in().await);

    let login_page = Client::read(
        client
            .http
            .get(client.url("/login"))
            .header("cookie", format!("mlstack_csrf={forged}"))
            .send()
            .await
            .expect("GET"),
    )
    .await;
    let cookie = login_page.header("set-cookie").unwrap_or_default();
    assert!(
        cookie.starts_with("mlstack_csrf=") && !cookie.contains(&forged),
        "a cookie of the server's own replaces it: {cookie}"
    );
    assert_ne!(login_page.csrf().as_deref(), Some(forged.as_str()));
}

#[tokio::test]
async fn blank_and_common_new_passwords_are_refused_with_a_clear_message() {
    let app = TestApp::start();
    let (client, password) = app.member("nia").await;
    for (new, message) in [
        ("        ", "A password cannot be only spaces."),
        (
            "password123",
            "This password is one of the most common ones.",
        ),
    ] {
        let page = client
            .post_form(
                "/account/password",
                &[
                    ("current_password", &password),
                    ("new_password", new),
                    ("confirm_password", new),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.body.contains(message), "{}", page.body);
    }
    let again = app.client();
    again.login_ok("nia", &password).await;
}

#[tokio::test]
async fn a_user_given_a_generated_password_changes_it_first_and_lands_on_cloud_provisioning() {
    let app = TestApp::start();
    let admin = app.admin().await;
    let created = admin
        .post_form("/admin/users", &[("username", "omar")])
        .await;
    let generated = crate::common::secret_in(&created.body).expect("password shown");

    let omar = app.client();
    let login = omar.login("omar", &generated).await;
    assert_eq!(login.status, StatusCode::SEE_OTHER);
    assert_eq!(
        login.location(),
        Some("/advanced/cloud-provisioning"),
        "not activated: the first login lands on Cloud Provisioning"
    );
    for path in [
        "/advanced/cloud-provisioning",
        "/projects",
        "/account/profile",
    ] {
        let page = omar.get(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(page.location(), Some("/account/password"), "{path}");
    }
    let refused = omar
        .post_form(
            "/account/profile",
            &[("category", "personal"), ("first_name", "O")],
        )
        .await;
    assert_eq!(refused.location(), Some("/account/password"));
    let changed = omar
        .post_form(
            "/account/password",
            &[
                ("current_password", &generated),
                ("new_password", "omar-chose-this-one"),
                ("confirm_password", "omar-chose-this-one"),
            ],
        )
        .await;
    assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.body);
    assert_eq!(omar.get("/projects").await.status, StatusCode::OK);

    // Activated, the next login goes home; a reset password must be
    // changed again.
    let activated = omar.post_form("/advanced/cloud-provisioning", &[]).await;
    assert_eq!(
        activated.status,
        StatusCode::SEE_OTHER,
        "{}",
        activated.body
    );
    let again = app.client();
    let login = again.login("omar", "omar-chose-this-one").await;
    assert_eq!(login.location(), Some("/"));
    let users = admin.get("/admin/users").await;
    assert!(users.status == StatusCode::OK);
}

#[tokio::test]
async fn mail_follows_the_language_of_the_last_login() {
    let app = TestApp::start();
    let (_, password) = app.member("pei").await;
    let mut chinese = HeaderMap::new();
    chinese.insert(
        "accept-language",
        HeaderValue::from_static("zh-TW,zh;q=0.9"),
    );
    let pei = Client::with_headers(&app.url, chinese);
    pei.login_ok("pei", &password).await;
    let start = "2026-11-29".to_owned();
    let end = "2027-01-31".to_owned();
    let applied = pei
        .post_form(
            "/projects/new",
            &[
                ("name", "Lotus"),
                ("start", &start),
                ("end", &end),
                ("description", "a study"),
                ("manager", "pei"),
            ],
        )
        .await;
    assert_eq!(applied.status, StatusCode::SEE_OTHER, "{}", applied.body);
    let admin = app.admin().await;
    let queue = admin.get("/admin/reviews").await;
    let marker = "action=\"/admin/reviews/";
    let at = queue.body.find(marker).expect("an application") + marker.len();
    let application = &queue.body[at..at + 36];
    let done = admin
        .post_form(
            &format!("/admin/reviews/{application}/approve"),
            &[
                ("gpu", "1"),
                ("cpu", "4"),
                ("ram", "8"),
                ("storage", "100"),
                ("remark", "ok"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let outbox = admin.get("/admin/outbox").await;
    assert!(outbox.body.contains("已核准：Lotus"), "{}", outbox.body);
}

#[tokio::test]
async fn members_find_people_by_a_search_of_two_characters_and_at_most_twenty_matches() {
    let app = TestApp::start();
    let admin = app.admin().await;
    for i in 0..22 {
        let name = format!("lab{i:02}");
        let page = admin
            .post_form("/admin/users", &[("username", &name)])
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    }
    let (member, _) = app.member("quinn").await;

    let form = member.get("/projects/new").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(!form.body.contains("lab05"), "the form lists no accounts");
    assert!(form.body.contains("data-user-search=\"/users/search\""));

    let short = member.get("/users/search?q=l").await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        short.body.contains("at least 2 characters"),
        "{}",
        short.body
    );

    let found = member.get("/users/search?q=lab").await;
    assert_eq!(found.status, StatusCode::OK);
    let answer: serde_json::Value = serde_json::from_str(&found.body).expect("json");
    let matches = answer["matches"].as_array().expect("matches");
    assert_eq!(matches.len(), 20, "at most 20 of the 22");
    assert_eq!(matches[0], "lab00");

    let one = member.get("/users/search?q=b21").await;
    assert!(one.body.contains("\"lab21\""), "{}", one.body);

    let anonymous = app.client().get("/users/search?q=lab").await;
    assert_eq!(
        anonymous.status,
        StatusCode::SEE_OTHER,
        "logged-in users only"
    );

    // Without script the names are typed, several in one field.
    let applied = member
        .post_form(
            "/projects/new",
            &[
                ("name", "Typed"),
                ("start", "2026-11-29"),
                ("end", "2027-01-31"),
                ("description", "names typed by hand"),
                ("manager", "quinn"),
                ("member", "lab01, lab02"),
            ],
        )
        .await;
    assert_eq!(applied.status, StatusCode::SEE_OTHER, "{}", applied.body);
}
