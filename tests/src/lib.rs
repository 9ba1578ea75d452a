//! End-to-end test helpers: a headless Chromium driven through `chromedriver`, screenshots and
//! a polling `wait_for`. The server, providers and QR decoding come from `chatlink-test-support`.
//!
//! Missing browser tools are a test failure with a clear message, never a skip: `make test`
//! installs them (Debian packages `chromium` and `chromium-driver`).

use std::future::Future;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chatlink_test_support::free_port;
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use tempfile::TempDir;

pub mod desktop;

/// The browser binary chromedriver starts (Debian's launcher script).
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// The driver, looked up on `PATH`.
pub const CHROMEDRIVER: &str = "chromedriver";
/// A phone-sized window (an iPhone 12–15 viewport), so layout checks see what visitors see.
pub const WINDOW: (u32, u32) = (390, 844);
/// A laptop-sized window, for pages visitors also open on a computer (a shop's site).
pub const DESKTOP: (u32, u32) = (1280, 800);

const INSTALL_HINT: &str = "install the Debian packages `chromium` and `chromium-driver` \
    (`make install` or `make test` does it)";

/// Gave up waiting: what was awaited and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeout(pub Duration);

impl std::fmt::Display for Timeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "condition not met within {:?}", self.0)
    }
}

impl std::error::Error for Timeout {}

/// Polls `check` every 50 ms until it yields `Some`, or fails after `timeout`. `check` runs at
/// least once, even with a zero timeout.
pub async fn wait_for<T, F, Fut>(mut check: F, timeout: Duration) -> Result<T, Timeout>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return Ok(v);
        }
        if start.elapsed() >= timeout {
            return Err(Timeout(timeout));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `rgb(r, g, b)`, as a computed style writes the colour `#rrggbb`.
pub fn css_rgb(hex: &str) -> String {
    let c = chatlink_core::brand::Rgb::parse(hex).expect("a colour");
    format!("rgb({}, {}, {})", c.0, c.1, c.2)
}

/// The workspace root (the parent of this crate).
pub fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the test crate lives inside the workspace")
        .to_path_buf()
}

/// Where screenshots go: `<workspace>/artifacts/screenshots`.
pub fn screenshot_dir() -> PathBuf {
    workspace_dir().join("artifacts").join("screenshots")
}

/// Saves a PNG of the current viewport as `<workspace>/artifacts/screenshots/<name>.png`.
pub async fn screenshot(client: &Client, name: &str) -> PathBuf {
    let png = client
        .screenshot()
        .await
        .expect("the browser takes a screenshot");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "the screenshot is a PNG"
    );
    let dir = screenshot_dir();
    std::fs::create_dir_all(&dir).expect("create artifacts/screenshots");
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, png).expect("write the screenshot");
    path
}

/// A `chromedriver` process, killed (with the browser session it drives) on drop.
struct Driver {
    child: Child,
    port: u16,
    session: Option<String>,
}

impl Driver {
    fn spawn() -> Result<Driver, String> {
        let mut last_error = String::new();
        for _ in 0..3 {
            let port = free_port();
            let child = match Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
            {
                Ok(child) => child,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(format!("`{CHROMEDRIVER}` is not on PATH: {INSTALL_HINT}"));
                }
                Err(e) => return Err(format!("cannot start `{CHROMEDRIVER}`: {e}")),
            };
            let mut driver = Driver {
                child,
                port,
                session: None,
            };
            match driver.wait_ready(Duration::from_secs(15)) {
                Ok(()) => return Ok(driver),
                // Most likely another process took the port first: try another one.
                Err(e) => last_error = e,
            }
        }
        Err(format!("`{CHROMEDRIVER}` did not start: {last_error}"))
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits until `GET /status` answers `ready: true`, or the process dies.
    fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("it exited with {status} (port {})", self.port));
            }
            if let Some(body) = self.request("GET", "/status")
                && body.contains("\"ready\":true")
            {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(format!(
                    "no answer on port {} within {timeout:?}",
                    self.port
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// One blocking HTTP/1.0 request to the driver; usable from `Drop`, where nothing can await.
    fn request(&self, method: &str, path: &str) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\
             Content-Length: 0\r\n\r\n",
            self.port
        )
        .ok()?;
        // chromedriver keeps the connection open regardless: read exactly one response.
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).ok()?;
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&answer);
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<usize>().ok())
                            .flatten()
                    })
                    .unwrap_or(0);
                if answer.len() >= end + 4 + length {
                    break;
                }
            }
        }
        Some(String::from_utf8_lossy(&answer).into_owned())
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Ending the session closes Chromium; killing only the driver could orphan it.
        if let Some(id) = self.session.take() {
            let _ = self.request("DELETE", &format!("/session/{id}"));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How a visitor's browser is set up: its window, its languages, its colour scheme.
#[derive(Debug, Clone, Copy)]
pub struct Visitor {
    pub size: (u32, u32),
    pub mobile: bool,
    /// `Accept-Language` and `navigator.languages`, e.g. `"de-DE,de"`; `None`: English.
    pub languages: Option<&'static str>,
    pub dark: bool,
}

impl Default for Visitor {
    fn default() -> Visitor {
        Visitor {
            size: WINDOW,
            mobile: true,
            languages: None,
            dark: false,
        }
    }
}

/// A headless Chromium session with its own fresh profile. Dropping it ends the session and the
/// driver; [`Browser::close`] does the same politely.
pub struct Browser {
    pub client: Client,
    driver: Driver,
    _profile: TempDir,
}

impl Browser {
    /// Starts `chromedriver` on a free port and opens a phone-sized headless Chromium.
    pub async fn start() -> Browser {
        Browser::start_as(Visitor::default()).await
    }

    /// [`Browser::start`] with a laptop-sized desktop viewport.
    pub async fn start_desktop() -> Browser {
        Browser::start_as(Visitor {
            size: DESKTOP,
            mobile: false,
            ..Visitor::default()
        })
        .await
    }

    /// A browser set up as `visitor`.
    pub async fn start_as(visitor: Visitor) -> Browser {
        let Visitor { size, mobile, .. } = visitor;
        assert!(
            Path::new(CHROMIUM).exists(),
            "{CHROMIUM} is missing: {INSTALL_HINT}"
        );
        let profile = tempfile::Builder::new()
            .prefix("chatlink-e2e-profile-")
            .tempdir()
            .expect("create a temporary browser profile");
        let mut driver = tokio::task::spawn_blocking(Driver::spawn)
            .await
            .expect("the chromedriver start-up task")
            .unwrap_or_else(|e| panic!("{e}"));
        let caps = json!({
            "browserName": "chrome",
            // Leave dialogs open so a test can see that one appeared.
            "unhandledPromptBehavior": "ignore",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-dev-shm-usage",
                    format!("--user-data-dir={}", profile.path().display()),
                    format!("--window-size={},{}", size.0, size.1),
                    format!("--lang={}", visitor.languages.unwrap_or("en-US").split(',').next().unwrap_or("en-US")),
                    // Blink's preferred scheme: 0 is dark, 1 is light.
                    format!("--blink-settings=preferredColorScheme={}", if visitor.dark { 0 } else { 1 }),
                ],
                "prefs": { "intl.accept_languages": visitor.languages.unwrap_or("en-US,en") },
                // Headless Chromium keeps a desktop window at least 500 px wide with room for
                // its toolbar, so the window size alone never gives a phone's viewport.
                "mobileEmulation": {
                    "deviceMetrics": {
                        "width": size.0,
                        "height": size.1,
                        "pixelRatio": 1.0,
                        "mobile": mobile,
                        "touch": mobile,
                    },
                },
            },
        });
        let serde_json::Value::Object(caps) = caps else {
            unreachable!("capabilities are a JSON object")
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&driver.url())
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "chromedriver could not start {CHROMIUM} ({e}); is it installed? {INSTALL_HINT}"
                )
            });
        driver.session = client
            .session_id()
            .await
            .expect("ask for the WebDriver session id");
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    /// Ends the browser session and stops the driver.
    pub async fn close(mut self) {
        self.driver.session = None;
        let _ = self.client.clone().close().await;
    }

    /// Runs `script` in the page (as a function body; `arguments` holds `args`).
    pub async fn js(&self, script: &str, args: Vec<serde_json::Value>) -> serde_json::Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Runs `body` in the page with `root` (the widget's host element) and `w` (its shadow
    /// root) in scope.
    pub async fn widget(&self, body: &str) -> serde_json::Value {
        self.js(
            &format!(
                "const root = document.getElementById('chatlink-widget');
                 const w = root && root.shadowRoot;
                 {body}"
            ),
            vec![],
        )
        .await
    }

    /// `document.body.dataset.state` (`loading`, `idle`, `sending`, `streaming`, `closed`).
    pub async fn state(&self) -> Option<String> {
        self.js(
            "return document.body && document.body.dataset.state || null",
            vec![],
        )
        .await
        .as_str()
        .map(str::to_owned)
    }

    /// Waits until the chat page reports `state`.
    pub async fn wait_state(&self, state: &str, timeout: Duration) {
        wait_for(
            || async { (self.state().await.as_deref() == Some(state)).then_some(()) },
            timeout,
        )
        .await
        .unwrap_or_else(|e| {
            panic!("the page never reached state {state:?}: {e}");
        });
    }
}

/// Whether a chatlink server answers `GET <base>/healthz` (false when nothing listens).
pub async fn healthy(base: &str) -> bool {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .expect("an HTTP client");
    client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

/// The answer to a plain GET without a browser: (status, body).
pub async fn http_get(url: &str) -> (u16, String) {
    let res = reqwest::get(url)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = res.status().as_u16();
    let body = res.text().await.expect("read the body");
    (status, body)
}
