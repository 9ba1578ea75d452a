//! Tunnels Chatlink starts and watches: `cloudflared` (a quick tunnel, or a named one with the
//! owner's hostname), Tailscale Funnel and ngrok, run as a child process that forwards the
//! internet to a loopback listener of their own.
//!
//! Each tool tells its public address through its own local interface, never through log text:
//! cloudflared through its `--metrics` server (`/ready`, then `/quicktunnel`), Tailscale through
//! `tailscale funnel status --json`, ngrok through its agent API (`/api/tunnels` on
//! 127.0.0.1:4040, or the next ports when that one is taken). A child that exits is started
//! again after 1, 2, 4 … 60 s; stopping kills it and waits for it. A tool address whose host is
//! a loopback address (only test doubles give one) is reached over plain http.
//!
//! Tailscale's funnel runs in the foreground, so it ends with its process and leaves no
//! configuration behind. A Chatlink killed with SIGKILL leaves its child running until the
//! child notices its origin is gone; a normal quit never does.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};

/// How long a started tool may take to report its address.
pub const LEARN_WITHIN: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// A tunnel up this long has its backoff reset.
const HEALTHY_AFTER: Duration = Duration::from_secs(60);
/// Where ngrok's agent API listens: 4040, or the next free port.
const NGROK_API_PORTS: std::ops::RangeInclusive<u16> = 4040..=4049;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum TunnelKind {
    Cloudflared,
    Tailscale,
    Ngrok,
}

impl TunnelKind {
    pub const ALL: [TunnelKind; 3] = [
        TunnelKind::Cloudflared,
        TunnelKind::Tailscale,
        TunnelKind::Ngrok,
    ];

    pub fn program(self) -> &'static str {
        match self {
            TunnelKind::Cloudflared => "cloudflared",
            TunnelKind::Tailscale => "tailscale",
            TunnelKind::Ngrok => "ngrok",
        }
    }

    pub fn parse(s: &str) -> Result<TunnelKind> {
        TunnelKind::ALL
            .into_iter()
            .find(|k| k.program() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                Error::invalid(format!(
                    "{s:?} is not a tunnel Chatlink knows: use cloudflared, tailscale or ngrok"
                ))
            })
    }

    /// Which header carries the visitor's address on the tunnel's connections.
    pub fn forwarded(self) -> crate::http::Forwarded {
        match self {
            TunnelKind::Cloudflared => crate::http::Forwarded::CfConnectingIp,
            TunnelKind::Tailscale | TunnelKind::Ngrok => crate::http::Forwarded::XForwardedFor,
        }
    }
}

/// A cloudflared tunnel the owner made (`cloudflared tunnel create`, `… route dns`), with the
/// hostname routed to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct NamedTunnel {
    pub name: String,
    pub hostname: String,
}

/// Which tunnel to run, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TunnelChoice {
    pub kind: TunnelKind,
    /// The program to run; looked up on PATH when empty.
    #[serde(default)]
    pub program: Option<String>,
    /// cloudflared only: run this named tunnel instead of a quick one.
    #[serde(default)]
    pub named: Option<NamedTunnel>,
}

impl TunnelChoice {
    /// The choice with its names checked: a named tunnel needs a tunnel name and a hostname.
    pub fn checked(mut self) -> Result<TunnelChoice> {
        self.program = self
            .program
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty());
        if let Some(named) = &mut self.named {
            if self.kind != TunnelKind::Cloudflared {
                return Err(Error::invalid("only cloudflared runs named tunnels"));
            }
            named.name = named.name.trim().to_owned();
            let host = named.hostname.trim().trim_start_matches("https://");
            named.hostname = host.trim_end_matches('/').to_ascii_lowercase();
            let good_name = !named.name.is_empty()
                && named.name.len() <= 100
                && !named.name.starts_with('-')
                && named
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !good_name {
                return Err(Error::invalid(
                    "the tunnel name is the one `cloudflared tunnel create` was given: letters, digits, - _ .",
                ));
            }
            let good_host = named.hostname.contains('.')
                && named.hostname.len() <= 253
                && named
                    .hostname
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-.".contains(c));
            if !good_host {
                return Err(Error::invalid(format!(
                    "{:?} is not a hostname such as chat.example.com",
                    named.hostname
                )));
            }
        }
        Ok(self)
    }

    /// Whether its address stays the same from one start to the next.
    pub fn lasting(&self) -> bool {
        !(self.kind == TunnelKind::Cloudflared && self.named.is_none())
    }
}

/// A tunnel tool as found on this computer, with what it costs and promises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TunnelTool {
    pub kind: TunnelKind,
    /// Where it was found on PATH.
    pub program: Option<String>,
    /// What it costs, what it promises, what to watch for, in plain words.
    pub about: String,
}

fn about(kind: TunnelKind) -> &'static str {
    match kind {
        TunnelKind::Cloudflared => {
            "Cloudflare Tunnel. A quick tunnel needs no account and is free, but its address changes every time it starts: fine for trying out, wrong for printed QR codes. It allows about 200 requests at once, and it may hold streamed replies until they end (chat pages then use a slower fallback). A named tunnel on your own domain keeps its address; it needs a free Cloudflare account."
        }
        TunnelKind::Tailscale => {
            "Tailscale Funnel. Free for personal use; needs a Tailscale account with Funnel turned on. The address (name.tailnet.ts.net) stays the same."
        }
        TunnelKind::Ngrok => {
            "ngrok. Needs an ngrok account (a free plan exists, with a limit on requests per month); the free plan keeps one fixed address, and shows visitors a warning page before the chat."
        }
    }
}

/// The tunnel tools on PATH (all three are listed; `program` is empty for a missing one).
pub fn detect() -> Vec<TunnelTool> {
    TunnelKind::ALL
        .into_iter()
        .map(|kind| TunnelTool {
            kind,
            program: find_program(kind.program()).map(|p| p.display().to_string()),
            about: about(kind).to_owned(),
        })
        .collect()
}

/// `name` on PATH, as the shell would find it (`name.exe` on Windows).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let file = if cfg!(windows) {
        format!("{name}.exe")
    } else {
        name.to_owned()
    };
    std::env::split_paths(&path)
        .map(|dir| dir.join(&file))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        p.is_file()
    }
}

/// Where a tunnel stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TunnelState {
    /// Started; waiting for it to report its address.
    Starting,
    Up {
        url: String,
    },
    /// It stopped or never came up; it starts again in `retry_in_secs`.
    Retrying {
        reason: String,
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        retry_in_secs: u64,
    },
    Stopped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TunnelStatus {
    pub choice: TunnelChoice,
    #[serde(flatten)]
    pub state: TunnelState,
    /// The running child's process id.
    pub pid: Option<u32>,
    /// How many times it was started.
    pub starts: u32,
}

/// A running tunnel. Dropping it stops the supervisor, which kills the child; [`Tunnel::stop`]
/// also waits for that.
pub struct Tunnel {
    status: Arc<watch::Sender<TunnelStatus>>,
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Tunnel {
    /// Starts `choice` forwarding to `target` (a loopback listener); `on_url` hears each
    /// address it reports. Fails at once when the program cannot be found.
    pub fn start(
        choice: TunnelChoice,
        target: SocketAddr,
        on_url: impl Fn(&str) + Send + Sync + 'static,
    ) -> Result<Tunnel> {
        let choice = choice.checked()?;
        let program = match &choice.program {
            Some(p) => {
                let p = PathBuf::from(p);
                if !is_executable(&p) {
                    return Err(Error::invalid(format!(
                        "{} is not a program this computer can run",
                        p.display()
                    )));
                }
                p
            }
            None => find_program(choice.kind.program()).ok_or_else(|| {
                Error::invalid(format!(
                    "{} is not installed (not found on PATH); install it, or pick where it is",
                    choice.kind.program()
                ))
            })?,
        };
        let status = Arc::new(watch::Sender::new(TunnelStatus {
            choice: choice.clone(),
            state: TunnelState::Starting,
            pid: None,
            starts: 0,
        }));
        let stop = CancellationToken::new();
        let supervisor = Supervisor {
            choice,
            program,
            target,
            status: status.clone(),
            stop: stop.clone(),
            on_url: Box::new(on_url),
        };
        let task = tokio::spawn(supervisor.run());
        Ok(Tunnel {
            status,
            stop,
            task: Some(task),
        })
    }

    pub fn status(&self) -> TunnelStatus {
        self.status.borrow().clone()
    }

    /// Every change of [`Tunnel::status`].
    pub fn subscribe(&self) -> watch::Receiver<TunnelStatus> {
        self.status.subscribe()
    }

    /// Kills the child and waits until it is gone.
    pub async fn stop(&mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

struct Supervisor {
    choice: TunnelChoice,
    program: PathBuf,
    target: SocketAddr,
    status: Arc<watch::Sender<TunnelStatus>>,
    stop: CancellationToken,
    on_url: Box<dyn Fn(&str) + Send + Sync>,
}

impl Supervisor {
    fn set(&self, f: impl FnOnce(&mut TunnelStatus)) {
        self.status.send_modify(f);
    }

    async fn run(self) {
        let mut failures = 0u32;
        loop {
            let started = Instant::now();
            let reason = self.once().await;
            let Some(reason) = reason else { break };
            if started.elapsed() >= HEALTHY_AFTER {
                failures = 0;
            }
            let wait = Duration::from_secs(1 << failures.min(6)).min(BACKOFF_MAX);
            failures += 1;
            tracing::warn!(tunnel = self.choice.kind.program(), %reason, retry_in = ?wait, "tunnel stopped");
            self.set(|s| {
                s.state = TunnelState::Retrying {
                    reason,
                    retry_in_secs: wait.as_secs(),
                };
                s.pid = None;
            });
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.stop.cancelled() => break,
            }
        }
        self.set(|s| {
            s.state = TunnelState::Stopped;
            s.pid = None;
        });
    }

    /// One life of the child: start it, learn its address, wait for it to end. Returns why it
    /// ended, or `None` on a stop (the child is killed and reaped first).
    async fn once(&self) -> Option<String> {
        let metrics = free_loopback_port();
        let mut child = match self.spawn(metrics) {
            Ok(c) => c,
            Err(e) => return Some(format!("{} could not start: {e}", self.program.display())),
        };
        self.set(|s| {
            s.state = TunnelState::Starting;
            s.pid = child.id();
            s.starts += 1;
        });
        let learned = tokio::select! {
            exit = child.wait() => Err(exited(exit)),
            learned = tokio::time::timeout(LEARN_WITHIN, self.learn(metrics)) => learned
                .unwrap_or_else(|_| Err(format!("it did not report an address within {} s", LEARN_WITHIN.as_secs()))),
            () = self.stop.cancelled() => Err(String::new()),
        };
        let reason = match learned {
            Ok(url) => {
                tracing::info!(tunnel = self.choice.kind.program(), %url, "tunnel up");
                (self.on_url)(&url);
                self.set(|s| s.state = TunnelState::Up { url });
                tokio::select! {
                    exit = child.wait() => Some(exited(exit)),
                    () = self.stop.cancelled() => None,
                }
            }
            Err(_) if self.stop.is_cancelled() => None,
            Err(reason) => Some(reason),
        };
        end_group(&mut child).await;
        reason
    }

    fn spawn(&self, metrics: u16) -> std::io::Result<Child> {
        let origin = format!("http://{}", self.target);
        let mut cmd = Command::new(&self.program);
        match (self.choice.kind, &self.choice.named) {
            (TunnelKind::Cloudflared, named) => {
                // --no-autoupdate: a child with no terminal would otherwise replace itself.
                cmd.args(["tunnel", "--no-autoupdate", "--metrics"])
                    .arg(format!("127.0.0.1:{metrics}"));
                match named {
                    None => cmd.args(["--url", &origin]),
                    Some(n) => cmd.args(["run", "--url", &origin, &n.name]),
                };
            }
            // In the foreground, so the funnel ends with the process.
            (TunnelKind::Tailscale, _) => {
                cmd.args(["funnel", "--yes", &origin]);
            }
            (TunnelKind::Ngrok, _) => {
                cmd.args(["http", &origin, "--log", "stdout", "--log-format", "json"]);
            }
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        no_console(&mut cmd);
        // A group of its own, so a wrapper script's real tool is stopped with it (and a Ctrl-C
        // in the terminal reaches Chatlink, which stops the tool itself).
        #[cfg(unix)]
        cmd.process_group(0);
        let mut child = cmd.spawn()?;
        // Drained so a chatty tool never blocks on a full pipe; kept at debug level.
        let tool = self.choice.kind.program();
        if let Some(out) = child.stdout.take() {
            tokio::spawn(drain(tool, BufReader::new(out)));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(drain(tool, BufReader::new(err)));
        }
        Ok(child)
    }

    /// Asks the tool for its public address until it has one.
    async fn learn(&self, metrics: u16) -> std::result::Result<String, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .no_proxy()
            .build()
            .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
        loop {
            let found = match (self.choice.kind, &self.choice.named) {
                (TunnelKind::Cloudflared, named) => {
                    cloudflared_url(&client, metrics, named.as_ref()).await
                }
                (TunnelKind::Tailscale, _) => {
                    tailscale_url(&self.program, self.target.port()).await
                }
                (TunnelKind::Ngrok, _) => ngrok_url(&client, self.target.port()).await,
            };
            if let Some(url) = found {
                return Ok(url);
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// Stops the child and everything in its process group: SIGTERM to the group (with the `kill`
/// program, since signalling a group takes `unsafe` in Rust), a moment to exit, then SIGKILL.
async fn end_group(child: &mut Child) {
    #[cfg(unix)]
    if let Some(pid) = child.id() {
        let mut kill = Command::new("kill");
        kill.args(["-TERM", "--", &format!("-{pid}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let _ = tokio::time::timeout(Duration::from_secs(2), kill.status()).await;
        if tokio::time::timeout(Duration::from_secs(3), child.wait())
            .await
            .is_ok()
        {
            return;
        }
    }
    let _ = child.start_kill();
    let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
}

/// On Windows a console program started from the windowed app would flash a console window
/// (CREATE_NO_WINDOW keeps it hidden); elsewhere nothing to do.
fn no_console(cmd: &mut Command) {
    #[cfg(windows)]
    cmd.creation_flags(0x0800_0000);
    #[cfg(not(windows))]
    let _ = cmd;
}

async fn drain<R: tokio::io::AsyncBufRead + Unpin>(tool: &'static str, reader: R) {
    let mut lines = reader.lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let line: String = line.chars().take(500).collect();
        tracing::debug!(tunnel = tool, "{line}");
    }
}

fn exited(exit: std::io::Result<std::process::ExitStatus>) -> String {
    match exit {
        Ok(status) => format!("it exited ({status})"),
        Err(e) => format!("cannot watch it: {e}"),
    }
}

/// A port no one listens on now, for the tool's local interface.
fn free_loopback_port() -> u16 {
    std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(20241)
}

/// `https://host` for a tool's hostname (`:443` dropped); `http://` for a loopback host.
pub fn url_of_host(host: &str) -> Option<String> {
    let host = host.trim().trim_end_matches('/');
    if host.is_empty() || host.contains(['/', '@', ' ']) {
        return None;
    }
    let bare = host
        .rsplit_once(':')
        .filter(|(_, port)| port.parse::<u16>().is_ok())
        .map_or(host, |(h, _)| h);
    let ip = bare
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok();
    if ip.is_some_and(|ip| ip.is_loopback()) {
        return Some(format!("http://{host}"));
    }
    Some(format!(
        "https://{}",
        host.strip_suffix(":443").unwrap_or(host)
    ))
}

async fn get_json(client: &reqwest::Client, url: &str) -> Option<(u16, serde_json::Value)> {
    let res = client.get(url).send().await.ok()?;
    let status = res.status().as_u16();
    let body = res.json().await.ok()?;
    Some((status, body))
}

async fn cloudflared_url(
    client: &reqwest::Client,
    metrics: u16,
    named: Option<&NamedTunnel>,
) -> Option<String> {
    let base = format!("http://127.0.0.1:{metrics}");
    let (status, _) = get_json(client, &format!("{base}/ready")).await?;
    if status != 200 {
        return None;
    }
    if let Some(named) = named {
        return Some(format!("https://{}", named.hostname));
    }
    let (_, body) = get_json(client, &format!("{base}/quicktunnel")).await?;
    url_of_host(body.get("hostname")?.as_str()?)
}

/// The funnel address whose handler proxies to `port`, from `tailscale funnel status --json`
/// (an `ipn.ServeConfig`: `Web` keyed by `host:port`, foreground sessions under `Foreground`).
async fn tailscale_url(program: &Path, port: u16) -> Option<String> {
    let mut cmd = Command::new(program);
    cmd.args(["funnel", "status", "--json"])
        .stdin(Stdio::null())
        .kill_on_drop(true);
    no_console(&mut cmd);
    let out = tokio::time::timeout(Duration::from_secs(5), cmd.output())
        .await
        .ok()?
        .ok()?;
    let config: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    funnel_host(&config, port).and_then(|h| url_of_host(&h))
}

/// The `host:port` of a funnel-enabled web handler that proxies to `port`.
pub fn funnel_host(config: &serde_json::Value, port: u16) -> Option<String> {
    let mut configs = vec![config];
    if let Some(fg) = config.get("Foreground").and_then(|f| f.as_object()) {
        configs.extend(fg.values());
    }
    let suffix = format!(":{port}");
    configs.into_iter().find_map(|c| {
        let funnel = c.get("AllowFunnel").and_then(|f| f.as_object());
        c.get("Web")?.as_object()?.iter().find_map(|(host, web)| {
            let proxies = web.get("Handlers")?.as_object()?.values().any(|h| {
                h.get("Proxy")
                    .and_then(|p| p.as_str())
                    .is_some_and(|p| p.trim_end_matches('/').ends_with(&suffix))
            });
            let open = funnel.is_some_and(|f| f.get(host).and_then(|v| v.as_bool()) == Some(true));
            (proxies && open).then(|| host.clone())
        })
    })
}

/// The public URL of the ngrok tunnel to `port`, from the agent API (https before http).
async fn ngrok_url(client: &reqwest::Client, port: u16) -> Option<String> {
    for api in NGROK_API_PORTS {
        let Some((200, body)) =
            get_json(client, &format!("http://127.0.0.1:{api}/api/tunnels")).await
        else {
            continue;
        };
        if let Some(url) = ngrok_public_url(&body, port) {
            return Some(url);
        }
    }
    None
}

pub fn ngrok_public_url(body: &serde_json::Value, port: u16) -> Option<String> {
    let suffix = format!(":{port}");
    let mut urls: Vec<&str> = body
        .get("tunnels")?
        .as_array()?
        .iter()
        .filter(|t| {
            t.pointer("/config/addr")
                .and_then(|a| a.as_str())
                .is_some_and(|a| a.trim_end_matches('/').ends_with(&suffix))
        })
        .filter_map(|t| t.get("public_url")?.as_str())
        .collect();
    urls.sort_by_key(|u| !u.starts_with("https://"));
    let url = urls.first()?;
    crate::app::normalize_base_url(url).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_become_urls() {
        assert_eq!(
            url_of_host("abc.trycloudflare.com").as_deref(),
            Some("https://abc.trycloudflare.com")
        );
        assert_eq!(
            url_of_host("shop.tail1.ts.net:443").as_deref(),
            Some("https://shop.tail1.ts.net")
        );
        assert_eq!(
            url_of_host("shop.tail1.ts.net:8443").as_deref(),
            Some("https://shop.tail1.ts.net:8443")
        );
        assert_eq!(
            url_of_host("127.0.0.1:9000").as_deref(),
            Some("http://127.0.0.1:9000")
        );
        for bad in ["", "  ", "a/b", "user@host", "a b"] {
            assert_eq!(url_of_host(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_funnel_address_is_the_one_proxying_to_our_port() {
        let config = serde_json::json!({
            "TCP": {"443": {"HTTPS": true}},
            "Web": {"other.ts.net:443": {"Handlers": {"/": {"Proxy": "http://127.0.0.1:3000"}}}},
            "AllowFunnel": {"other.ts.net:443": true},
            "Foreground": {"sess1": {
                "Web": {"shop.tail1.ts.net:443": {"Handlers": {"/": {"Proxy": "http://127.0.0.1:8640"}}}},
                "AllowFunnel": {"shop.tail1.ts.net:443": true}
            }}
        });
        assert_eq!(
            funnel_host(&config, 8640).as_deref(),
            Some("shop.tail1.ts.net:443")
        );
        assert_eq!(
            funnel_host(&config, 3000).as_deref(),
            Some("other.ts.net:443")
        );
        assert_eq!(funnel_host(&config, 9999), None);
        // Served on the tailnet but not funneled: not public.
        let private = serde_json::json!({
            "Web": {"shop.ts.net:443": {"Handlers": {"/": {"Proxy": "http://127.0.0.1:8640"}}}}
        });
        assert_eq!(funnel_host(&private, 8640), None);
        assert_eq!(funnel_host(&serde_json::json!({}), 8640), None);
    }

    #[test]
    fn the_ngrok_url_is_the_tunnel_to_our_port() {
        let body = serde_json::json!({"tunnels": [
            {"name": "other", "public_url": "https://other.ngrok.app", "proto": "https", "config": {"addr": "http://localhost:3000"}},
            {"name": "command_line (http)", "public_url": "http://d95211d2.ngrok.app", "proto": "http", "config": {"addr": "http://127.0.0.1:8640"}},
            {"name": "command_line", "public_url": "https://d95211d2.ngrok.app", "proto": "https", "config": {"addr": "http://127.0.0.1:8640"}}
        ], "uri": "/api/tunnels"});
        assert_eq!(
            ngrok_public_url(&body, 8640).as_deref(),
            Some("https://d95211d2.ngrok.app")
        );
        assert_eq!(ngrok_public_url(&body, 1234), None);
        assert_eq!(
            ngrok_public_url(&serde_json::json!({"tunnels": []}), 8640),
            None
        );
    }

    #[test]
    fn choices_are_checked() {
        let quick = TunnelChoice {
            kind: TunnelKind::Cloudflared,
            program: Some("  ".into()),
            named: None,
        };
        let quick = quick.checked().expect("quick");
        assert_eq!(quick.program, None);
        assert!(!quick.lasting());
        let named = TunnelChoice {
            kind: TunnelKind::Cloudflared,
            program: None,
            named: Some(NamedTunnel {
                name: "shop".into(),
                hostname: " https://Chat.Example.com/ ".into(),
            }),
        };
        let named = named.checked().expect("named");
        assert_eq!(
            named.named.as_ref().map(|n| n.hostname.as_str()),
            Some("chat.example.com")
        );
        assert!(named.lasting());
        for (name, host) in [
            ("", "chat.example.com"),
            ("--token", "chat.example.com"),
            ("shop", "no-dot"),
            ("shop", "a b.com"),
        ] {
            let bad = TunnelChoice {
                kind: TunnelKind::Cloudflared,
                program: None,
                named: Some(NamedTunnel {
                    name: name.into(),
                    hostname: host.into(),
                }),
            };
            assert_eq!(
                bad.checked().map_err(|e| e.code()),
                Err("invalid_input"),
                "{name} {host}"
            );
        }
        let wrong = TunnelChoice {
            kind: TunnelKind::Ngrok,
            program: None,
            named: Some(NamedTunnel {
                name: "shop".into(),
                hostname: "chat.example.com".into(),
            }),
        };
        assert!(wrong.checked().is_err());
        assert_eq!(
            TunnelKind::parse(" Cloudflared ").ok(),
            Some(TunnelKind::Cloudflared)
        );
        assert!(TunnelKind::parse("frp").is_err());
    }
}
