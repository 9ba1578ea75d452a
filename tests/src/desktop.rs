//! The real desktop app under a private Xvfb display, driven through `tauri-driver` (which starts
//! `WebKitWebDriver`, which starts the app) with fantoccini.
//!
//! Each [`DesktopApp`] gets its own display, its own scratch folder for `XDG_*` and the data
//! folder, and the session's Secret Service (the tests run inside `scripts/with-session.sh`), so
//! nothing lands in `$HOME` and two tests never share anything.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use tempfile::TempDir;

use chatlink_test_support::free_port;
use chatlink_test_support::tunnels::FakeTools;

use crate::{screenshot_dir, wait_for, workspace_dir};

const HINT: &str =
    "`make test` installs Xvfb, webkit2gtk-driver and tauri-driver and builds the app";

/// A child process stopped on drop: SIGTERM (tauri-driver then stops its WebKitWebDriver), and
/// SIGKILL if it is still there after 5 s.
struct Stopped(Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let pid = self.0.id().to_string();
        let _ = Command::new("kill")
            .args(["-TERM", &pid])
            .stderr(Stdio::null())
            .status();
        for _ in 0..50 {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(cmd: &mut Command, what: &str) -> Stopped {
    Stopped(
        cmd.spawn()
            .unwrap_or_else(|e| panic!("cannot start {what} ({e}); {HINT}")),
    )
}

/// The debug build of the desktop app.
pub fn app_binary() -> PathBuf {
    let path = workspace_dir().join("target/debug/chatlink-desktop");
    assert!(path.exists(), "{} is missing; {HINT}", path.display());
    path
}

/// What the app sees of its surroundings: the private display, and config, data and runtime
/// folders inside the test's scratch folder.
fn app_env(
    scratch: &Path,
    display: &str,
    tools: &FakeTools,
) -> Vec<(&'static str, std::ffi::OsString)> {
    vec![
        // Fake cloudflared, tailscale and ngrok first on PATH, so Home offers them.
        ("PATH", tools.path_env().into()),
        ("DISPLAY", display.into()),
        // The autostart entry goes to $HOME/.config/autostart whatever XDG_CONFIG_HOME says.
        ("HOME", scratch.join("home").into()),
        ("XDG_DATA_HOME", scratch.join("share").into()),
        ("XDG_CONFIG_HOME", scratch.join("config").into()),
        ("XDG_CACHE_HOME", scratch.join("cache").into()),
        ("XDG_RUNTIME_DIR", scratch.join("runtime").into()),
        ("CHATLINK_DATA_DIR", scratch.join("data").into()),
        ("CHATLINK_BIND", "127.0.0.1:0".into()),
    ]
}

/// The running desktop app and the WebDriver session on its window.
pub struct DesktopApp {
    pub client: Client,
    /// `:N`, the private X display.
    pub display: String,
    /// Scratch folder: the data folder is `data/` inside it.
    pub scratch: TempDir,
    /// The fake tunnel tools on the app's PATH.
    pub tools: FakeTools,
    // Dropped in this order: the driver (and the app), the display, then the next test's turn.
    _driver: Stopped,
    _xvfb: Stopped,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

/// The app is single-instance per D-Bus session (a second launch hands over to the first and
/// exits), and the tests share the session's keyring, so one app runs at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

impl DesktopApp {
    /// Starts a display, `tauri-driver` and the app on a fresh data folder; waits while another
    /// test's app is running.
    pub async fn start() -> DesktopApp {
        let turn = ONE_AT_A_TIME.lock().await;
        let scratch = tempfile::Builder::new()
            .prefix("chatlink-desktop-e2e-")
            .tempdir()
            .expect("a scratch folder");
        let mut xvfb = Command::new("Xvfb");
        xvfb.args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1280x800x24",
            "-nolisten",
            "tcp",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
        let mut xvfb = spawn(&mut xvfb, "Xvfb");
        let mut line = String::new();
        BufReader::new(xvfb.0.stdout.take().expect("Xvfb's stdout"))
            .read_line(&mut line)
            .expect("Xvfb prints its display number");
        let display = format!(":{}", line.trim());
        assert!(display.len() > 1, "Xvfb gave no display number");

        let tools = FakeTools::install();
        let (port, native) = (free_port(), free_port());
        let runtime = scratch.path().join("runtime");
        std::fs::create_dir_all(&runtime).expect("runtime dir");
        std::fs::create_dir_all(scratch.path().join("home")).expect("home dir");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700))
                .expect("runtime dir mode");
        }
        let mut driver = Command::new("tauri-driver");
        driver
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
            ])
            .envs(app_env(scratch.path(), &display, &tools))
            .env_remove("CHATLINK_SECRETS")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let driver = spawn(&mut driver, "tauri-driver");

        let caps = json!({
            "browserName": "wry",
            "tauri:options": { "application": app_binary() },
        });
        let serde_json::Value::Object(caps) = caps else {
            unreachable!("capabilities are a JSON object")
        };
        let url = format!("http://127.0.0.1:{port}");
        // One attempt can hang when the app dies at start, so each gets its own deadline.
        let client = wait_for(
            || async {
                let mut builder = ClientBuilder::new(HttpConnector::new());
                builder.capabilities(caps.clone());
                tokio::time::timeout(Duration::from_secs(20), builder.connect(&url))
                    .await
                    .ok()?
                    .ok()
            },
            Duration::from_secs(40),
        )
        .await
        .unwrap_or_else(|e| panic!("tauri-driver never opened the app: {e}; {HINT}"));
        DesktopApp {
            client,
            display,
            scratch,
            tools,
            _driver: driver,
            _xvfb: xvfb,
            _turn: turn,
        }
    }

    /// What the app's clipboard holds, read through X (`xclip`).
    pub fn clipboard(&self) -> String {
        let out = Command::new("xclip")
            .args(["-o", "-selection", "clipboard"])
            .env("DISPLAY", &self.display)
            .output()
            .unwrap_or_else(|e| panic!("cannot run xclip ({e}); {HINT}"));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A PNG of the window WebDriver is on, as WebKit renders it, in the screenshots folder.
    /// Not a grab of the X display: under WebDriver the app repaints the display only now and
    /// then, so a grab can show a screen from seconds before (see the README's test notes).
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("create artifacts/screenshots");
        let path = dir.join(format!("{name}.png"));
        // CSS transitions (a toast sliding in) finish first.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let png = self
            .client
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("WebDriver screenshot {name}: {e}"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// What the app logged so far (its `desktop.log`).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir().join("desktop.log")).unwrap_or_default()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.scratch.path().join("data")
    }

    /// Ends the WebDriver session, which closes the app.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

/// A running notification server; stopped on drop.
pub struct NotificationDaemon(#[allow(dead_code)] Stopped);

/// Whether `path` is a PNG file.
pub fn is_png(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|b| b.starts_with(b"\x89PNG\r\n\x1a\n"))
}

impl DesktopApp {
    /// Answers the native save dialog titled `title`: types `path` into it and presses Enter
    /// (`xdotool` on the private display; WebDriver cannot reach GTK dialogs). The dialog is found
    /// by its title and given the keyboard focus first, and the answer is typed again while the
    /// dialog stays open, because a slow machine can map it long after the click.
    pub async fn answer_save_dialog(&self, title: &str, path: &Path) {
        let exact = format!("^{title}$");
        for _attempt in 0..3 {
            let window = wait_for(
                || async { self.xdotool(&["search", "--onlyvisible", "--name", &exact]) },
                Duration::from_secs(20),
            )
            .await
            .unwrap_or_else(|e| panic!("the save dialog {title:?} never appeared: {e}"));
            let window = window.lines().next().unwrap_or_default().to_owned();
            self.xdotool(&["windowfocus", "--sync", &window]);
            // GTK focuses the name field once the dialog has drawn; typing earlier is lost.
            tokio::time::sleep(Duration::from_millis(400)).await;
            self.xdotool(&["key", "--clearmodifiers", "ctrl+a"]);
            self.xdotool(&["type", "--delay", "15", &path.display().to_string()]);
            self.xdotool(&["key", "Return"]);
            let closed = wait_for(
                || async {
                    self.xdotool(&["search", "--onlyvisible", "--name", &exact])
                        .is_none()
                        .then_some(())
                },
                Duration::from_secs(5),
            )
            .await;
            if closed.is_ok() {
                return;
            }
        }
        panic!(
            "the save dialog {title:?} did not take the path {}",
            path.display()
        );
    }

    /// Closes the top-level window titled `title` as a window manager's close button does: a
    /// `WM_DELETE_WINDOW` message (Xvfb has no window manager and WebDriver cannot). Under
    /// WebDriver the app now and then leaves one unanswered for several seconds (without
    /// WebDriver it answers every one at once; see the desktop test notes in the README), so the
    /// request is repeated every 3 s, up to six times, until the window is gone from the screen.
    pub async fn close_window(&self, title: &str) -> Result<(), String> {
        for attempt in 0..6 {
            if attempt > 0 {
                eprintln!(
                    "close request {} for {title:?}: the last one went unanswered",
                    attempt + 1
                );
            }
            self.send_wm_delete(title);
            // A WebDriver round trip makes the app's main loop turn over (it can sit in
            // WebKit's automation wait otherwise).
            let _ = tokio::time::timeout(Duration::from_secs(1), self.client.title()).await;
            let gone = wait_for(
                || async { (!self.window_visible(title)).then_some(()) },
                Duration::from_secs(3),
            )
            .await;
            if gone.is_ok() {
                return Ok(());
            }
        }
        Err(format!(
            "the window {title:?} stayed on screen after six close requests"
        ))
    }

    fn send_wm_delete(&self, title: &str) {
        use x11rb::connection::Connection;
        use x11rb::protocol::xproto::{ClientMessageEvent, ConnectionExt, EventMask};
        let Some(window) = self
            .xdotool(&["search", "--onlyvisible", "--name", &format!("^{title}$")])
            .and_then(|ids| ids.lines().next().and_then(|id| id.parse::<u32>().ok()))
        else {
            return;
        };
        let (conn, _) = x11rb::connect(Some(&self.display)).expect("connect to the X display");
        let atom = |name: &[u8]| {
            conn.intern_atom(false, name)
                .expect("intern an atom")
                .reply()
                .expect("the atom")
                .atom
        };
        let (protocols, delete) = (atom(b"WM_PROTOCOLS"), atom(b"WM_DELETE_WINDOW"));
        let message = ClientMessageEvent::new(
            32,
            window,
            protocols,
            [delete, x11rb::CURRENT_TIME, 0, 0, 0],
        );
        conn.send_event(false, window, EventMask::NO_EVENT, message)
            .expect("send WM_DELETE_WINDOW");
        conn.flush().expect("flush the X connection");
    }

    /// Whether a window titled `title` is mapped on the display.
    pub fn window_visible(&self, title: &str) -> bool {
        self.xdotool(&["search", "--onlyvisible", "--name", &format!("^{title}$")])
            .is_some()
    }

    /// Starts the app a second time, as an owner clicking its icon again would; returns its exit
    /// status (the single-instance plugin hands over to the running app and exits).
    pub fn launch_again(&self) -> std::process::ExitStatus {
        let mut second = Command::new(app_binary());
        second
            .envs(app_env(self.scratch.path(), &self.display, &self.tools))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = spawn(&mut second, "a second chatlink-desktop");
        for _ in 0..150 {
            if let Ok(Some(status)) = child.0.try_wait() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the second launch did not hand over and exit within 15 s");
    }

    /// Starts a notification server (dunst) on the app's display and D-Bus session, so the app's
    /// notifications are shown and can be clicked; stopped when the guard drops.
    pub fn notification_daemon(&self) -> NotificationDaemon {
        let mut cmd = Command::new("dunst");
        cmd.env("DISPLAY", &self.display)
            .env("HOME", self.scratch.path().join("home"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        NotificationDaemon(spawn(&mut cmd, "dunst"))
    }

    /// `dunstctl <args>`: the notification server's view (its history is JSON).
    pub fn dunstctl(&self, args: &[&str]) -> String {
        let out = Command::new("dunstctl")
            .args(args)
            .env("DISPLAY", &self.display)
            .output()
            .unwrap_or_else(|e| panic!("cannot run dunstctl ({e}); {HINT}"));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The PNG image on the clipboard (empty when it holds none).
    pub fn clipboard_png(&self) -> Vec<u8> {
        Command::new("xclip")
            .args(["-o", "-selection", "clipboard", "-t", "image/png"])
            .env("DISPLAY", &self.display)
            .output()
            .unwrap_or_else(|e| panic!("cannot run xclip ({e}); {HINT}"))
            .stdout
    }

    /// Runs `xdotool` on the app's display; its output when it succeeds (`search` fails when
    /// no window matches).
    fn xdotool(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("xdotool")
            .args(args)
            .env("DISPLAY", &self.display)
            .output()
            .unwrap_or_else(|e| panic!("cannot run xdotool ({e}); {HINT}"));
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }
}
