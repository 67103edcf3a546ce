//! Headless Chromium for the browser journeys: starts `chromedriver` on a
//! free loopback port and speaks the W3C WebDriver protocol to it over plain
//! HTTP (JSON, with the test suite's own reqwest client).
//!
//! Needs the Debian packages `chromium` and `chromium-driver`, and axe-core
//! from npm (its `axe.min.js` named by `AXE_CORE_JS`; `.ci/run` installs
//! it). Without them the browser tests fail, never pass silently.
//!
//! Every page a journey opens (`goto`, and each page a click leads to) is
//! checked with axe-core: a serious or critical violation fails the test.
//!
//! Every helper panics with the current address and the start of the page's
//! text, so a failing journey says where it was.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};

pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// The environment variable that names axe-core's `axe.min.js`.
pub const AXE_JS_VAR: &str = "AXE_CORE_JS";

/// How long a wait for the page (a navigation, a condition) may take.
const WAIT: Duration = Duration::from_secs(20);
/// How long chromedriver may take to answer on its port.
const DRIVER_START: Duration = Duration::from_secs(20);
/// The WebDriver key code of Escape.
pub const ESCAPE: &str = "\u{E00C}";
/// The WebDriver key code of Tab.
pub const TAB: &str = "\u{E004}";
/// The WebDriver key code of Enter.
pub const ENTER: &str = "\u{E007}";

/// The W3C name of an element reference in JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A headless Chromium session pointed at one base URL.
pub struct Browser {
    http: reqwest::Client,
    driver: String,
    session: String,
    /// The application's base URL, such as `http://127.0.0.1:4312`.
    pub base: String,
    child: Child,
    log: PathBuf,
    _profile: tempfile::TempDir,
    /// The source of axe-core, injected into every page visited.
    axe: String,
}

/// An element the page holds (a WebDriver element reference).
#[derive(Debug, Clone)]
pub struct Element(String);

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    listener.local_addr().expect("local address").port()
}

/// axe-core's source, from the file `AXE_CORE_JS` names.
fn read_axe() -> String {
    let path = std::env::var_os(AXE_JS_VAR).unwrap_or_else(|| {
        panic!(
            "browser tests run axe-core on every page: set {AXE_JS_VAR} to axe-core's \
             axe.min.js, or run .ci/run, which installs it (npm install --prefix \
             /tmp/mlstack-npm axe-core@4) and sets \
             {AXE_JS_VAR}=/tmp/mlstack-npm/node_modules/axe-core/axe.min.js"
        )
    });
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{AXE_JS_VAR}={}: cannot read axe-core ({e}); run .ci/run or npm install axe-core@4",
            Path::new(&path).display()
        )
    })
}

fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn tail(path: &Path, max: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let start = text.len().saturating_sub(max);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    text[start..].to_owned()
}

impl Browser {
    /// Starts chromedriver and a fresh headless Chromium (its own temporary
    /// profile) for the application at `base`.
    pub async fn start(base: &str) -> Browser {
        assert!(
            Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists(),
            "browser tests need headless Chromium: {CHROMEDRIVER} or {CHROMIUM} is missing. \
             Install the Debian packages `chromium` and `chromium-driver` \
             (apt-get install -y chromium chromium-driver; .ci/run installs them)."
        );
        let axe = read_axe();
        install_crypto();
        let profile = tempfile::tempdir().expect("temp dir for the browser profile");
        let log = profile.path().join("chromedriver.log");
        let port = free_port();
        // Its own process group, so that whatever is left of the browser
        // can be ended with it (see `Drop`).
        let child = Command::new(CHROMEDRIVER)
            .process_group(0)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"));
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(90))
            .build()
            .expect("WebDriver HTTP client");
        let mut browser = Browser {
            http,
            driver: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            base: base.trim_end_matches('/').to_owned(),
            child,
            log,
            _profile: profile,
            axe,
        };
        browser.wait_for_driver(port).await;
        browser.session = browser.new_session().await;
        browser
            .cmd(
                Method::POST,
                "timeouts",
                json!({ "implicit": 0, "pageLoad": 60_000, "script": 30_000 }),
            )
            .await
            .unwrap_or_else(|e| panic!("set timeouts: {e}"));
        browser
    }

    async fn wait_for_driver(&mut self, port: u16) {
        let started = Instant::now();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "chromedriver exited at start ({status}); its log:\n{}",
                    tail(&self.log, 3000)
                );
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                let ready = self
                    .http
                    .get(format!("{}/status", self.driver))
                    .send()
                    .await
                    .ok()
                    .map(|r| r.status().is_success())
                    .unwrap_or(false);
                if ready {
                    return;
                }
            }
            assert!(
                started.elapsed() < DRIVER_START,
                "chromedriver did not answer on 127.0.0.1:{port} within {DRIVER_START:?}; its log:\n{}",
                tail(&self.log, 3000)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn new_session(&self) -> String {
        let args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,900",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .chain([format!(
            "--user-data-dir={}",
            self._profile.path().join("profile").display()
        )])
        .collect();
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "pageLoadStrategy": "normal",
                    "goog:chromeOptions": {
                        "binary": CHROMIUM,
                        "args": args,
                        // The visitor's language decides the login page's.
                        "prefs": {
                            "intl": { "accept_languages": "en-US,en" },
                            // Downloads (a generated private key) land in
                            // the profile's folder without asking.
                            "download": {
                                "default_directory": self.downloads(),
                                "prompt_for_download": false,
                            },
                        },
                    },
                },
            },
        });
        let response = self
            .http
            .post(format!("{}/session", self.driver))
            .json(&capabilities)
            .send()
            .await
            .unwrap_or_else(|e| panic!("WebDriver new session: {e}"));
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let id = body["value"]["sessionId"].as_str();
        match id {
            Some(id) if status.is_success() => id.to_owned(),
            _ => panic!(
                "Chromium did not start ({status}): {}\nchromedriver log:\n{}",
                body["value"]["message"],
                tail(&self.log, 3000)
            ),
        }
    }

    /// Where this browser's downloads land.
    pub fn downloads(&self) -> PathBuf {
        self._profile.path().join("downloads")
    }

    /// One WebDriver command on this session; returns its `value`.
    async fn cmd(&self, method: Method, path: &str, body: Value) -> Result<Value, String> {
        let url = if path.is_empty() {
            format!("{}/session/{}", self.driver, self.session)
        } else {
            format!("{}/session/{}/{path}", self.driver, self.session)
        };
        let request = self.http.request(method.clone(), &url);
        let request = if method == Method::POST {
            request.json(&body)
        } else {
            request
        };
        let response = request
            .send()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|e| format!("{method} {path}: unreadable answer: {e}"))?;
        if status.is_success() {
            Ok(body.get("value").cloned().unwrap_or(Value::Null))
        } else {
            Err(format!(
                "{method} {path}: {} ({})",
                body["value"]["error"].as_str().unwrap_or("error"),
                body["value"]["message"]
                    .as_str()
                    .unwrap_or("")
                    .lines()
                    .next()
                    .unwrap_or("")
            ))
        }
    }

    /// Fails the test with `message`, where the browser is and what it shows.
    pub async fn fail(&self, message: &str) -> ! {
        let url = self
            .cmd(Method::GET, "url", Value::Null)
            .await
            .unwrap_or_default();
        let text = self
            .cmd(
                Method::POST,
                "execute/sync",
                json!({ "script": "return document.body ? document.body.innerText : ''", "args": [] }),
            )
            .await
            .unwrap_or_default();
        let text: String = text.as_str().unwrap_or("").chars().take(1200).collect();
        panic!("{message}\n  at: {url}\n  page text:\n{text}\n");
    }

    async fn must(&self, result: Result<Value, String>) -> Value {
        match result {
            Ok(value) => value,
            Err(e) => self.fail(&e).await,
        }
    }

    /// The absolute URL of `path` on the application (full URLs pass through).
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    /// Opens `path`, waits for the page to load and checks it with axe-core.
    pub async fn goto(&self, path: &str) {
        let result = self
            .cmd(Method::POST, "url", json!({ "url": self.url(path) }))
            .await;
        self.must(result).await;
        self.check_accessibility().await;
    }

    /// Runs axe-core on the page shown and fails the test on any serious or
    /// critical violation, listing each with the elements concerned.
    pub async fn check_accessibility(&self) {
        let injected = self
            .cmd(
                Method::POST,
                "execute/sync",
                json!({ "script": format!("{}\nreturn typeof axe;", self.axe), "args": [] }),
            )
            .await;
        let injected = self.must(injected).await;
        if injected != json!("object") {
            self.fail(&format!("axe-core did not load ({injected})"))
                .await;
        }
        let script = "var done = arguments[arguments.length - 1]; \
             axe.run(document, { resultTypes: ['violations'] }).then(function (r) { \
               done(r.violations.filter(function (v) { \
                 return v.impact === 'serious' || v.impact === 'critical'; \
               }).map(function (v) { \
                 return v.impact + ' ' + v.id + ': ' + v.help + ' [' + v.nodes.slice(0, 5) \
                   .map(function (n) { return n.target.join(' ') + ' (' + (n.failureSummary || '') \
                     .replace(/\\s+/g, ' ') + ')'; }).join('; ') + ']'; \
               })); \
             }, function (e) { done(['axe failed: ' + e]); });";
        let result = self
            .cmd(
                Method::POST,
                "execute/async",
                json!({ "script": script, "args": [] }),
            )
            .await;
        let result = self.must(result).await;
        let violations: Vec<String> = result
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|v| v.as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        if !violations.is_empty() {
            self.fail(&format!(
                "axe-core found serious or critical accessibility violations:\n  {}",
                violations.join("\n  ")
            ))
            .await;
        }
    }

    /// The current address, full.
    pub async fn current_url(&self) -> String {
        let value = self.cmd(Method::GET, "url", Value::Null).await;
        self.must(value)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The current path and query (the address without the origin).
    pub async fn path(&self) -> String {
        let url = self.current_url().await;
        url.strip_prefix(&self.base).unwrap_or(&url).to_owned()
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page
    /// and returns what it returns.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        let result = self
            .cmd(
                Method::POST,
                "execute/sync",
                json!({ "script": script, "args": args }),
            )
            .await;
        self.must(result).await
    }

    /// Whether `script` returns something truthy now.
    async fn holds(&self, script: &str, args: &[Value]) -> bool {
        match self
            .cmd(
                Method::POST,
                "execute/sync",
                json!({ "script": script, "args": args }),
            )
            .await
        {
            Ok(Value::Bool(b)) => b,
            Ok(Value::Null) => false,
            Ok(Value::String(s)) => !s.is_empty(),
            Ok(Value::Number(n)) => n.as_f64().is_some_and(|n| n != 0.0),
            Ok(_) => true,
            // A navigation in progress: ask again.
            Err(_) => false,
        }
    }

    /// Waits until `script` returns something truthy; fails after a while,
    /// saying `what` was awaited.
    pub async fn wait_until(&self, what: &str, script: &str, args: Vec<Value>) {
        let started = Instant::now();
        while !self.holds(script, &args).await {
            if started.elapsed() > WAIT {
                self.fail(&format!("waited {WAIT:?} for {what}")).await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the document is loaded at `path` (path and query, or
    /// just the path when `path` has no `?`).
    pub async fn wait_for_path(&self, path: &str) {
        let script = "var want = arguments[0]; \
             var here = want.indexOf('?') >= 0 ? location.pathname + location.search : location.pathname; \
             return here === want && document.readyState === 'complete';";
        self.wait_until(&format!("the page {path}"), script, vec![json!(path)])
            .await;
    }

    /// Waits until the page's visible text contains `text`.
    pub async fn wait_for_text(&self, text: &str) {
        let script = "return document.readyState === 'complete' && document.body \
             && document.body.innerText.indexOf(arguments[0]) >= 0;";
        self.wait_until(&format!("the text {text:?}"), script, vec![json!(text)])
            .await;
    }

    /// The page's visible text.
    pub async fn text(&self) -> String {
        let value = self
            .execute(
                "return document.body ? document.body.innerText : '';",
                vec![],
            )
            .await;
        value.as_str().unwrap_or_default().to_owned()
    }

    /// Whether an element matches the CSS selector now (no waiting).
    pub async fn exists(&self, css: &str) -> bool {
        self.holds(
            "return document.querySelector(arguments[0]) !== null;",
            &[json!(css)],
        )
        .await
    }

    /// An attribute of `<html>`.
    pub async fn html_attr(&self, name: &str) -> Option<String> {
        self.execute(
            "return document.documentElement.getAttribute(arguments[0]);",
            vec![json!(name)],
        )
        .await
        .as_str()
        .map(str::to_owned)
    }

    async fn find_by(&self, using: &str, value: &str) -> Element {
        let started = Instant::now();
        loop {
            match self
                .cmd(
                    Method::POST,
                    "element",
                    json!({ "using": using, "value": value }),
                )
                .await
            {
                Ok(found) => match found[ELEMENT_KEY].as_str() {
                    Some(id) => return Element(id.to_owned()),
                    None => {
                        self.fail(&format!("odd element answer for {value}: {found}"))
                            .await
                    }
                },
                Err(e) if started.elapsed() > WAIT => {
                    self.fail(&format!("no element {value}: {e}")).await;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// The first element matching the CSS selector (waits for it a while).
    pub async fn find(&self, css: &str) -> Element {
        self.find_by("css selector", css).await
    }

    /// The first `tag` element whose normalised text is exactly `text`.
    pub async fn find_text(&self, tag: &str, text: &str) -> Element {
        let literal = if text.contains('\'') {
            format!("\"{text}\"")
        } else {
            format!("'{text}'")
        };
        self.find_by("xpath", &format!("//{tag}[normalize-space()={literal}]"))
            .await
    }

    /// Clicks an element.
    pub async fn click_element(&self, element: &Element) {
        let result = self
            .cmd(
                Method::POST,
                &format!("element/{}/click", element.0),
                json!({}),
            )
            .await;
        self.must(result).await;
    }

    /// Clicks the first element matching the CSS selector.
    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.click_element(&element).await;
    }

    /// Marks the current document so that [`Browser::wait_for_navigation`]
    /// can tell when another one has replaced it.
    pub async fn mark_page(&self) {
        self.execute("window.__mlstackOldPage = true; return true;", vec![])
            .await;
    }

    /// Waits until the marked document is gone and a new one has loaded,
    /// and checks the new one with axe-core.
    pub async fn wait_for_navigation(&self, what: &str) {
        self.wait_until(
            what,
            "return window.__mlstackOldPage !== true && document.readyState === 'complete';",
            vec![],
        )
        .await;
        self.check_accessibility().await;
    }

    /// Clicks something that submits a form or follows a link and waits for
    /// the next page to load.
    pub async fn click_and_wait(&self, element: &Element, what: &str) {
        self.mark_page().await;
        self.click_element(element).await;
        self.wait_for_navigation(what).await;
    }

    /// Types `text` into the field with this id (after clearing it); the
    /// form fields are `f-<name>`.
    pub async fn fill(&self, id: &str, text: &str) {
        let element = self.find(&format!("#{id}")).await;
        let clear = self
            .cmd(
                Method::POST,
                &format!("element/{}/clear", element.0),
                json!({}),
            )
            .await;
        self.must(clear).await;
        let typed = self
            .cmd(
                Method::POST,
                &format!("element/{}/value", element.0),
                json!({ "text": text }),
            )
            .await;
        self.must(typed).await;
    }

    /// Presses and releases one key (such as [`ESCAPE`]) on whatever has focus.
    pub async fn press(&self, key: &str) {
        let actions = json!({ "actions": [{
            "type": "key",
            "id": "keyboard",
            "actions": [ { "type": "keyDown", "value": key }, { "type": "keyUp", "value": key } ],
        }]});
        let result = self.cmd(Method::POST, "actions", actions).await;
        self.must(result).await;
        let _ = self.cmd(Method::DELETE, "actions", Value::Null).await;
    }

    /// Resizes the window (the viewport follows).
    pub async fn resize(&self, width: u32, height: u32) {
        let result = self
            .cmd(
                Method::POST,
                "window/rect",
                json!({ "width": width, "height": height }),
            )
            .await;
        self.must(result).await;
    }

    /// Saves a PNG of the viewport to `path`.
    pub async fn screenshot(&self, path: &Path) {
        let value = self.cmd(Method::GET, "screenshot", Value::Null).await;
        let value = self.must(value).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(value.as_str().unwrap_or_default())
            .expect("screenshot is base64");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot folder");
        }
        std::fs::write(path, png).expect("write screenshot");
    }

    /// The computed value of a CSS property of the first element matching
    /// the selector.
    pub async fn computed(&self, css: &str, property: &str) -> String {
        self.execute(
            "var e = document.querySelector(arguments[0]); \
             return e ? getComputedStyle(e).getPropertyValue(arguments[1]) : null;",
            vec![json!(css), json!(property)],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Logs in through the login form and waits for the next page.
    pub async fn log_in(&self, username: &str, password: &str) {
        if !self.exists("#f-username").await {
            self.goto("/login").await;
        }
        self.fill("f-username", username).await;
        self.fill("f-password", password).await;
        let submit = self
            .find("form[action='/login'] button[type='submit']")
            .await;
        self.click_and_wait(&submit, "the answer to the login form")
            .await;
    }

    /// Opens the user menu in the header (if closed).
    pub async fn open_user_menu(&self) {
        if !self.exists("details.user-menu[open]").await {
            self.click("details.user-menu > summary").await;
        }
        self.wait_until(
            "the user menu to open",
            "return document.querySelector('details.user-menu[open]') !== null;",
            vec![],
        )
        .await;
    }

    /// Opens the user menu and clicks the entry labelled `label`, which
    /// posts a form; waits for the page that follows.
    pub async fn user_menu(&self, label: &str) {
        self.open_user_menu().await;
        let button = self.find_text("button", label).await;
        self.click_and_wait(&button, &format!("the page after {label:?}"))
            .await;
    }

    /// Ends the session (Chromium quits) and stops chromedriver.
    pub async fn close(mut self) {
        if self.cmd(Method::DELETE, "", Value::Null).await.is_ok() {
            self.session.clear();
        }
    }

    /// Deletes the session without async (for `Drop`): a bare HTTP request.
    fn delete_session_blocking(&self) {
        let Some(addr) = self.driver.strip_prefix("http://") else {
            return;
        };
        let Ok(addr) = addr.parse::<SocketAddr>() else {
            return;
        };
        let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let request = format!(
            "DELETE /session/{} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.session
        );
        if stream.write_all(request.as_bytes()).is_ok() {
            let mut answer = Vec::new();
            let _ = stream.read_to_end(&mut answer);
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            self.delete_session_blocking();
        }
        // Chromium quits with its session; end anything left in the group
        // (chromedriver itself at least) so that no browser outlives a test.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Parses a computed colour such as `rgb(17, 21, 28)` and returns its
/// relative luminance (0 black .. 1 white).
pub fn luminance(color: &str) -> Option<f64> {
    let inner = color.split_once('(')?.1.trim_end_matches(')');
    let parts: Vec<f64> = inner
        .split([',', ' ', '/'])
        .filter(|s| !s.is_empty())
        .take(3)
        .map(|s| s.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .ok()?;
    if parts.len() != 3 {
        return None;
    }
    let channel = |c: f64| {
        let c = c / 255.0;
        if c <= 0.03928 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    Some(0.2126 * channel(parts[0]) + 0.7152 * channel(parts[1]) + 0.0722 * channel(parts[2]))
}

/// Helpers for the project journeys (forms with repeated field names,
/// date inputs, selects, whole-page screenshots).
impl Browser {
    /// Types `text` into the first element matching the CSS selector
    /// (after clearing it); for fields whose ids repeat on a page.
    pub async fn fill_in(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        let clear = self
            .cmd(
                Method::POST,
                &format!("element/{}/clear", element.0),
                json!({}),
            )
            .await;
        self.must(clear).await;
        let typed = self
            .cmd(
                Method::POST,
                &format!("element/{}/value", element.0),
                json!({ "text": text }),
            )
            .await;
        self.must(typed).await;
    }

    /// Sets the value of the first element matching the CSS selector from
    /// script and fires `input` and `change` (for date inputs, whose typed
    /// format follows the browser's locale).
    pub async fn set_value(&self, css: &str, value: &str) {
        self.find(css).await;
        self.execute(
            "var e = document.querySelector(arguments[0]); e.value = arguments[1]; \
             e.dispatchEvent(new Event('input', { bubbles: true })); \
             e.dispatchEvent(new Event('change', { bubbles: true })); return e.value;",
            vec![json!(css), json!(value)],
        )
        .await;
    }

    /// The current value of the first form control matching the selector.
    pub async fn value_of(&self, css: &str) -> String {
        self.find(css).await;
        self.execute(
            "return document.querySelector(arguments[0]).value;",
            vec![json!(css)],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// The visible text of the first element matching the selector.
    pub async fn text_of(&self, css: &str) -> String {
        self.find(css).await;
        self.execute(
            "return document.querySelector(arguments[0]).innerText;",
            vec![json!(css)],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .trim()
        .to_owned()
    }

    /// Follows the first `a` whose normalised text is `label` (a sidebar
    /// entry, a button-styled link) and waits for the next page.
    pub async fn follow(&self, label: &str) {
        let link = self.find_text("a", label).await;
        self.click_and_wait(&link, &format!("the page behind {label:?}"))
            .await;
    }

    /// Clicks the first element matching the selector and waits for the
    /// next page.
    pub async fn submit(&self, css: &str, what: &str) {
        let element = self.find(css).await;
        self.click_and_wait(&element, what).await;
    }

    /// Saves a PNG of the whole page (the window grows to the document's
    /// height for the shot, then returns to `width` × `height`).
    pub async fn screenshot_page(&self, path: &Path, width: u32, height: u32) {
        let full = self
            .execute(
                "return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight);",
                vec![],
            )
            .await
            .as_u64()
            .unwrap_or(u64::from(height));
        let full = u32::try_from(full).unwrap_or(height).clamp(height, 6000);
        // The window's frame is not part of the viewport; a little extra
        // height keeps the bottom of the page in view.
        self.resize(width, full + 140).await;
        self.screenshot(path).await;
        self.resize(width, height).await;
    }
}

/// Scripts that wait (the XSS sweep's collection of CSP reports).
impl Browser {
    /// Runs `script` (a function body whose last argument is the callback
    /// that ends it) in the page and returns what it passed back.
    pub async fn execute_async(&self, script: &str, args: Vec<Value>) -> Value {
        let result = self
            .cmd(
                Method::POST,
                "execute/async",
                json!({ "script": script, "args": args }),
            )
            .await;
        self.must(result).await
    }
}
