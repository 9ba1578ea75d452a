//! Fake tunnel tools on PATH, and a proxy that holds every response until it ends.
//!
//! [`FakeTools`] writes `cloudflared`, `tailscale` and `ngrok` scripts into a temporary folder;
//! each runs the `fake-tunnel` binary (built with this crate by `cargo build --all-targets`),
//! which speaks the tool's command line and local interface and really forwards a loopback port.
//! [`HoldingProxy`] forwards HTTP/1.1 requests but sends nothing back until the upstream answer
//! is complete, as some tunnels and corporate proxies do with streams.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The `fake-tunnel` binary beside the running test (`target/<profile>/`).
fn fake_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let mut dir = exe.parent().expect("the test's folder").to_owned();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let bin = dir.join(if cfg!(windows) {
        "fake-tunnel.exe"
    } else {
        "fake-tunnel"
    });
    assert!(
        bin.exists(),
        "{} is missing: build every target first (cargo build --workspace --all-targets)",
        bin.display()
    );
    bin
}

/// The three fake tools in a folder of their own.
pub struct FakeTools {
    pub dir: TempDir,
}

impl FakeTools {
    pub fn install() -> FakeTools {
        let dir = tempfile::tempdir().expect("a folder for the fake tools");
        let bin = fake_binary();
        for tool in ["cloudflared", "tailscale", "ngrok"] {
            let script = dir.path().join(tool);
            std::fs::write(
                &script,
                format!(
                    "#!/bin/sh\nFAKE_TUNNEL_DIR='{}' exec '{}' {tool} \"$@\"\n",
                    dir.path().display(),
                    bin.display()
                ),
            )
            .expect("write a fake tool");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
                    .expect("make it executable");
            }
        }
        FakeTools { dir }
    }

    /// The path of one fake tool.
    pub fn program(&self, tool: &str) -> PathBuf {
        self.dir.path().join(tool)
    }

    /// PATH with the fake tools first.
    pub fn path_env(&self) -> String {
        let rest = std::env::var("PATH").unwrap_or_default();
        format!("{}:{rest}", self.dir.path().display())
    }

    /// The tools' processes still running.
    pub fn running(&self) -> Vec<u32> {
        fake_tools_running(self.dir.path())
    }

    /// Every command line the tools were started with, oldest first.
    pub fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// Live processes started by the fake tools of `dir` (their environment names it).
pub fn fake_tools_running(dir: &Path) -> Vec<u32> {
    let want = format!("FAKE_TUNNEL_DIR={}", dir.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| process_alive(*pid))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.split(|b| *b == 0).any(|kv| kv == want.as_bytes()))
                .unwrap_or(false)
        })
        .collect()
}

/// Whether a process with this id is alive (Linux: it has a /proc entry and is no zombie).
pub fn process_alive(pid: u32) -> bool {
    let status = Path::new("/proc").join(pid.to_string()).join("status");
    std::fs::read_to_string(status)
        .map(|s| {
            !s.lines()
                .any(|l| l.starts_with("State:") && l.contains('Z'))
        })
        .unwrap_or(false)
}

/// A proxy on a free loopback port that answers each request only once the upstream answer
/// ended, and records the paths it carried.
pub struct HoldingProxy {
    pub url: String,
    paths: Arc<Mutex<Vec<String>>>,
}

impl HoldingProxy {
    pub async fn start(upstream: std::net::SocketAddr) -> HoldingProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let paths = Arc::new(Mutex::new(Vec::new()));
        let seen = paths.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let _ = hold(client, upstream, seen).await;
                });
            }
        });
        HoldingProxy { url, paths }
    }

    /// A holding proxy in front of the server at `base_url` (`http://127.0.0.1:<port>`).
    pub async fn before(base_url: &str) -> HoldingProxy {
        let upstream = base_url
            .trim_start_matches("http://")
            .parse()
            .expect("a loopback http base URL");
        HoldingProxy::start(upstream).await
    }

    /// The paths of every request it carried (query included), in order.
    pub fn paths(&self) -> Vec<String> {
        self.paths.lock().map(|p| p.clone()).unwrap_or_default()
    }
}

/// One request per connection: its head and body go up with `Connection: close`, the whole
/// answer comes back at once.
async fn hold(
    client: TcpStream,
    upstream: std::net::SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
) -> std::io::Result<()> {
    let mut client = BufReader::new(client);
    let mut head = String::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if client.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("connection:") {
            continue;
        }
        if line == "\r\n" {
            head.push_str("Connection: close\r\n\r\n");
            break;
        }
        if head.is_empty()
            && let Ok(mut s) = seen.lock()
        {
            s.push(line.split_whitespace().nth(1).unwrap_or("").to_owned());
        }
        head.push_str(&line);
    }
    let mut body = vec![0; length];
    client.read_exact(&mut body).await?;
    let mut up = TcpStream::connect(upstream).await?;
    up.write_all(head.as_bytes()).await?;
    up.write_all(&body).await?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer).await?;
    let client = client.get_mut();
    client.write_all(&answer).await?;
    client.shutdown().await
}
