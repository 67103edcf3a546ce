//! Boots the real appliance on a temporary store and talks to it over real
//! HTTP with cookies, like a browser.

pub mod browser;
#[path = "../../support/fake_apiserver/mod.rs"]
pub mod fake_apiserver;
pub mod smtp;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};

use jiff::{SignedDuration, Timestamp};
use mlstack::app::{self, Options, Running};
use mlstack::clock::ManualClock;
use mlstack::config::{self, CliOverrides, Config};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

/// A fixed starting time, so tests read the same on any day.
pub fn start_time() -> Timestamp {
    "2026-11-29T08:00:00Z"
        .parse()
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

pub fn install_crypto() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The configuration a test server runs with: port 0 on loopback, the
/// given data directory, defaults for the rest.
pub fn test_config(data_dir: &Path) -> Config {
    let overrides = CliOverrides {
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(data_dir.to_owned()),
    };
    let mut config = config::resolve(None, &Default::default(), &overrides).expect("test config");
    config.workers = 2;
    // Tests build the catalog they need; the default one is tested on its
    // own (tests/integration/catalog_seed.rs).
    config.seed_catalog = false;
    // The metrics collector (on the local driver it reads the workloads'
    // processes) ticks once at start and not again within a test: tests
    // step their own collectors on the manual clock.
    config.metrics.scrape_interval = std::time::Duration::from_secs(3600);
    config
}

/// A running appliance on a temporary data directory.
pub struct TestApp {
    running: Option<Running>,
    pub url: String,
    pub clock: Arc<ManualClock>,
    pub config: Config,
    /// The admin's password (kept across restarts): the printed one for
    /// [`TestApp::start_first_run`], else the one the admin chose.
    pub admin_password: String,
    /// Whether this start created the first admin.
    first_run: bool,
    _dir: Option<tempfile::TempDir>,
}

impl TestApp {
    pub fn start() -> TestApp {
        TestApp::start_configured(|_| {})
    }

    /// Starts like [`TestApp::start`] but leaves the first-run admin with
    /// the printed password, which they must still change.
    pub fn start_first_run() -> TestApp {
        TestApp::in_temp_dir(|_| {}, TestApp::boot)
    }

    /// Starts on a temporary data directory with the test configuration
    /// changed by `configure` (kept across restarts).
    pub fn start_configured(configure: impl FnOnce(&mut Config)) -> TestApp {
        TestApp::in_temp_dir(configure, TestApp::start_with)
    }

    /// Starts with `start` on the test configuration of a new temporary
    /// data directory, changed by `configure`; the directory lives as long
    /// as the app.
    fn in_temp_dir(
        configure: impl FnOnce(&mut Config),
        start: fn(Config, Arc<ManualClock>, String) -> TestApp,
    ) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = test_config(dir.path());
        configure(&mut config);
        let mut app = start(
            config,
            Arc::new(ManualClock::new(start_time())),
            String::new(),
        );
        app._dir = Some(dir);
        app
    }

    /// Starts on `config`; a first-run admin then changes the printed
    /// password (as every page asks them to) and `admin_password` is theirs.
    pub fn start_with(config: Config, clock: Arc<ManualClock>, admin_password: String) -> TestApp {
        let mut app = TestApp::boot(config, clock, admin_password);
        if app.first_run {
            app.settle_first_admin();
        }
        app
    }

    /// The first-run admin logs in with the printed password and chooses
    /// their own, over HTTP (on a thread of its own: callers may be sync).
    fn settle_first_admin(&mut self) {
        let url = self.url.clone();
        let printed = self.admin_password.clone();
        let chosen = format!("{printed}-own");
        let new = chosen.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let client = Client::new(&url);
                client.login_ok("admin", &printed).await;
                let page = client
                    .post_form(
                        "/account/password",
                        &[
                            ("current_password", &printed),
                            ("new_password", &new),
                            ("confirm_password", &new),
                        ],
                    )
                    .await;
                assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
            });
        })
        .join()
        .expect("the first admin chooses a password");
        self.admin_password = chosen;
    }

    fn boot(config: Config, clock: Arc<ManualClock>, admin_password: String) -> TestApp {
        install_crypto();
        let running = app::start(
            config.clone(),
            clock.clone(),
            Options {
                handle_signals: false,
            },
        )
        .expect("server starts");
        let scheme = if config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let url = format!("{scheme}://{}", running.addr);
        let first_run = running.initial_password.is_some();
        let admin_password = running
            .initial_password
            .as_ref()
            .map(|p| p.password.clone())
            .unwrap_or(admin_password);
        TestApp {
            first_run,
            running: Some(running),
            url,
            clock,
            config,
            admin_password,
            _dir: None,
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.config.data_dir.clone()
    }

    /// Stops gracefully and starts again on the same store and clock.
    pub fn restart(self) -> TestApp {
        self.restart_after(SignedDuration::ZERO)
    }

    /// Stops gracefully, moves the clock on by `down` (time that passes
    /// while the server is down), and starts again on the same store.
    pub fn restart_after(self, down: SignedDuration) -> TestApp {
        self.restart_with(down, |_| {})
    }

    /// Stops gracefully, lets `edit` change the stopped server's data
    /// directory (a store set back to an older schema, say), and starts
    /// again on it.
    pub fn restart_editing(self, edit: impl FnOnce(&Path)) -> TestApp {
        self.restart_with(SignedDuration::ZERO, edit)
    }

    fn restart_with(mut self, down: SignedDuration, edit: impl FnOnce(&Path)) -> TestApp {
        if let Some(running) = self.running.take() {
            running.stop().expect("server stops");
        }
        edit(&self.config.data_dir);
        self.clock.advance(down);
        let mut config = self.config.clone();
        config.listen = "127.0.0.1:0".parse().expect("addr");
        let mut app = TestApp::boot(config, self.clock.clone(), self.admin_password.clone());
        app._dir = self._dir.take();
        app
    }

    /// The services of the running server (same store), to run a worker
    /// step at a chosen moment.
    pub fn services(&self) -> mlstack::service::Services {
        self.running.as_ref().expect("running").services.clone()
    }

    /// The running server's reconcile loop, to run a pass or a resync at a
    /// chosen moment (passes never overlap with the server's own).
    pub fn reconciler(&self) -> mlstack::worker::reconciler::Reconciler {
        self.running.as_ref().expect("running").reconciler.clone()
    }

    pub fn advance(&self, by: SignedDuration) {
        self.clock.advance(by);
    }

    pub fn client(&self) -> Client {
        install_crypto();
        Client::new(&self.url)
    }

    /// A client logged in as the first-run admin.
    pub async fn admin(&self) -> Client {
        let client = self.client();
        client.login_ok("admin", &self.admin_password).await;
        client
    }

    /// Creates a member through the admin page and returns a client logged
    /// in as them, with their password (changed from the generated one at
    /// the first login, as the member is asked to).
    pub async fn member(&self, name: &str) -> (Client, String) {
        let admin = self.admin().await;
        let page = admin.post_form("/admin/users", &[("username", name)]).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let generated = secret_in(&page.body).expect("the generated password is shown");
        let client = self.client();
        client.login_ok(name, &generated).await;
        let password = client.choose_password(&generated).await;
        (client, password)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = running.stop();
        }
    }
}

/// The password shown once on the users page.
pub fn secret_in(body: &str) -> Option<String> {
    let start = body.find("<code class=\"secret\">")? + "<code class=\"secret\">".len();
    let end = body[start..].find("</code>")? + start;
    Some(body[start..end].to_owned())
}

/// A response, read whole.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> Option<&str> {
        self.headers.get("location").and_then(|v| v.to_str().ok())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The value of the page's first CSRF field.
    pub fn csrf(&self) -> Option<String> {
        let marker = "name=\"csrf\" value=\"";
        let start = self.body.find(marker)? + marker.len();
        let end = self.body[start..].find('"')? + start;
        Some(self.body[start..end].to_owned())
    }
}

/// Approves the application at the head of the review queue with `quota`
/// (the project's limits), as `admin`.
pub async fn approve_first_application(
    services: &mlstack::service::Services,
    admin: &mlstack::store::users::UserRecord,
    quota: mlstack::domain::quota::Resources,
) {
    let application = services
        .reviewing_applications(admin)
        .await
        .expect("queue")
        .first()
        .map(|a| a.application.id)
        .expect("an application");
    services
        .decide_application(admin, application, true, "welcome", Some(quota))
        .await
        .expect("approve");
}

/// Asks for `user`'s activation (Cloud Provisioning) and waits until the
/// reconcile loop had the driver provision them; workloads need it.
pub async fn activate(
    services: &mlstack::service::Services,
    user: &mlstack::store::users::UserRecord,
) {
    use mlstack::store::activations::ActivationStatus;
    services.activate(user.id).await.expect("activation");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let record = services.activation(user.id).await.expect("activation");
        match record.map(|r| r.status) {
            Some(ActivationStatus::Passed) => return,
            Some(ActivationStatus::Failed) => panic!("the activation failed"),
            _ => {}
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not activated in time"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A browser-like client: keeps cookies, does not follow redirects.
pub struct Client {
    pub http: reqwest::Client,
    base: String,
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client::with_headers(base, HeaderMap::new())
    }

    /// A client that sends `headers` with every request (a browser's
    /// `Accept-Language`, a proxy's `X-Forwarded-For`).
    pub fn with_headers(base: &str, headers: HeaderMap) -> Client {
        install_crypto();
        let http = reqwest::Client::builder()
            .default_headers(headers)
            // The server closes a connection idle for 5 s (actix's
            // keep-alive); a request sent on it just then fails with
            // IncompleteMessage, so idle connections are dropped first.
            .pool_idle_timeout(std::time::Duration::from_secs(2))
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .danger_accept_invalid_certs(true)
            .build()
            .expect("http client");
        Client {
            http,
            base: base.to_owned(),
        }
    }

    /// The same browser (cookies and all) pointed at another address, such
    /// as the same server after a restart on a new port.
    pub fn rebase(&self, base: &str) -> Client {
        Client {
            http: self.http.clone(),
            base: base.to_owned(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn read(response: reqwest::Response) -> Page {
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await.expect("body");
        Page {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        Self::read(self.http.get(self.url(path)).send().await.expect("GET")).await
    }

    /// The CSRF token the server expects from this client now.
    pub async fn csrf(&self) -> String {
        let page = self.get("/login").await;
        if let Some(token) = page.csrf() {
            return token;
        }
        // Logged in: /login redirects; Change password carries the token
        // (and is the one page open to a user who must change it).
        self.get("/account/password")
            .await
            .csrf()
            .expect("a page with a CSRF token")
    }

    /// Posts a form with the right CSRF token added.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.csrf().await;
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf", &token));
        self.post_raw(path, &all).await
    }

    /// Posts exactly these fields.
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        Self::read(
            self.http
                .post(self.url(path))
                .form(fields)
                .send()
                .await
                .expect("POST"),
        )
        .await
    }

    /// Posts exactly these owned fields.
    pub async fn send_form(&self, path: &str, fields: &[(&str, String)]) -> Page {
        Self::read(
            self.http
                .post(self.url(path))
                .form(fields)
                .send()
                .await
                .expect("POST"),
        )
        .await
    }

    pub async fn login(&self, username: &str, password: &str) -> Page {
        self.post_form("/login", &[("username", username), ("password", password)])
            .await
    }

    pub async fn login_ok(&self, username: &str, password: &str) {
        let page = self.login(username, password).await;
        assert_eq!(
            page.status,
            StatusCode::SEE_OTHER,
            "login of {username}: {}",
            page.body
        );
    }

    /// A user logged in with a generated password chooses their own (as
    /// every page asks them to); returns it.
    pub async fn choose_password(&self, generated: &str) -> String {
        let own = format!("{generated}-own");
        let page = self
            .post_form(
                "/account/password",
                &[
                    ("current_password", generated),
                    ("new_password", &own),
                    ("confirm_password", &own),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        own
    }

    /// Whether this client's session is live (Change password is open to
    /// every logged-in user, even one who must change it first).
    pub async fn is_logged_in(&self) -> bool {
        self.get("/account/password").await.status == StatusCode::OK
    }
}
