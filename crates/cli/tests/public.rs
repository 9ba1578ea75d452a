//! Going public with the real `chatlink` binary: `serve --tunnel` with a fake `cloudflared` on
//! PATH, `public check` from another process, and real nginx (Debian's) in front of `serve`,
//! configured with what `chatlink public config nginx` prints.

// Fake tools are shell scripts, nginx is Debian's, processes are found in /proc.
#![cfg(unix)]

mod common;

use std::net::{IpAddr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chatlink_test_support::tunnels::FakeTools;
use chatlink_test_support::{FakeProvider, free_port};
use common::{Data, Server};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_a_tunnel_every_process_builds_links_on_it_and_quit_stops_it() {
    let tools = FakeTools::install();
    let data = Data::new();
    let mut cmd = data.command(&["serve", "--bind", "127.0.0.1:0", "--tunnel", "cloudflared"]);
    cmd.env("PATH", tools.path_env());
    let mut server = Server::spawn(cmd);
    let local = server.line_after("Chatlink is serving on ");
    let public = server.line_after("Public address: ");
    assert!(
        public.starts_with("http://127.0.0.1:") && public != local,
        "{public}"
    );

    // Another process builds links on the tunnel's address.
    let link = data.url_of("web:demo");
    assert!(link.starts_with(&public), "{link}");
    let page = reqwest::get(&link)
        .await
        .expect("the link through the tunnel");
    assert_eq!(page.status(), 200);
    let check = data.json(&["public", "check"]);
    assert_eq!(check["works"], true, "{check}");
    assert_eq!(check["audience"], "internet", "{check}");
    let status = data.json(&["public", "status"]);
    assert_eq!(status["via"], "tunnel");

    assert_eq!(tools.running().len(), 1, "one cloudflared");
    server.terminate();
    assert!(server.wait_for_exit(Duration::from_secs(15)).success());
    assert_eq!(tools.running(), Vec::<u32>::new(), "no child left behind");
    // Links go back to this computer's address once the tunnel is gone.
    assert_eq!(data.json(&["public", "status"])["base_url"], local);
}

#[test]
fn a_missing_tunnel_or_a_failed_check_says_so_and_exits_non_zero() {
    let data = Data::new();
    let mut cmd = data.command(&["serve", "--bind", "127.0.0.1:0", "--tunnel", "ngrok"]);
    cmd.env("PATH", "/nonexistent");
    let out = common::run(cmd, None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ngrok is not installed"), "{err}");

    // Links on this computer's own address: the check says so, and fails.
    data.ok(&[
        "public",
        "set",
        &format!("http://127.0.0.1:{}", free_port()),
    ]);
    let out = data.run(&["--json", "public", "check"]);
    assert!(!out.status.success());
    let printed: Value = serde_json::from_slice(&out.stdout).expect("the check as JSON");
    assert_eq!(printed["problem"], "refused", "{printed}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("\"code\":\"unreachable\""), "{err}");
    assert!(data.fail(&["public", "set", "ftp://x"]).contains("http"));

    // serve --public-url checks the address once it serves, and says what it found.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let mut server = Server::start_with(&data, &["--public-url", &dead]);
    let line = server.line_after("Public check (not public): ");
    assert!(
        line.starts_with(&dead) && line.contains("nothing answers"),
        "{line}"
    );
    assert!(
        data.fail(&["public", "config", "apache"])
            .contains("nginx or caddy")
    );
}

/// nginx on `port` with `server_block` (what `public config nginx` printed, listening on
/// loopback), its files in a folder of its own.
struct Nginx {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    /// SIGTERM, so the master stops its workers too (SIGKILL would orphan them).
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Nginx {
    fn start(server_block: &str, port: u16) -> Nginx {
        let dir = tempfile::tempdir().expect("nginx's folder");
        let block = server_block.replace("listen 80;", &format!("listen 127.0.0.1:{port};"));
        assert_ne!(
            block, server_block,
            "the generated block listens on port 80"
        );
        let conf = format!(
            "pid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\nhttp {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n{block}\n}}\n",
            d = dir.path().display()
        );
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, conf).expect("write nginx.conf");
        let child = Command::new("nginx")
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&path)
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx runs (make install adds Debian's nginx)");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "nginx did not listen on {addr}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Nginx { child, _dir: dir }
    }
}

/// `serve` with these limits, and nginx in front of it configured by `public config nginx`.
fn behind_nginx(data: &Data, limits: &[&str]) -> (Server, Nginx, String) {
    let mut extra = Vec::new();
    for l in limits {
        extra.extend(["--limit", l]);
    }
    let mut server = Server::start_with(data, &extra);
    let local = server.line_after("Chatlink is serving on ");
    let port = local.rsplit(':').next().expect("port");
    let nginx_port = free_port();
    let public = format!("http://127.0.0.1:{nginx_port}");
    let block = data.ok(&[
        "public", "config", "nginx", "--url", &public, "--port", port,
    ]);
    (server, Nginx::start(&block, nginx_port), public)
}

/// `GET /healthz` through `base` from the loopback address `from`; the status.
async fn healthz_from(from: [u8; 4], base: &str, forged: Option<&str>) -> u16 {
    let client = reqwest::Client::builder()
        .local_address(IpAddr::from(from))
        .build()
        .expect("client");
    let mut req = client.get(format!("{base}/healthz"));
    if let Some(f) = forged {
        req = req.header("x-forwarded-for", f);
    }
    req.send().await.expect("get").status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_real_nginx_streams_pass_and_visitors_are_counted_apart_only_when_trusted() {
    let rates = ["reads_burst=3", "reads_per_minute=1"];
    for trusted in [true, false] {
        let data = Data::new();
        let mut limits = rates.to_vec();
        if trusted {
            limits.push("trusted_proxies=127.0.0.1/32");
        }
        let (_server, _nginx, public) = behind_nginx(&data, &limits);
        let mut codes = Vec::new();
        for from in [[127, 0, 0, 2], [127, 0, 0, 3]] {
            for _ in 0..4 {
                codes.push(healthz_from(from, &public, Some("203.0.113.7")).await);
            }
        }
        let refused = codes.iter().filter(|c| **c == 429).count();
        if trusted {
            // Two visitors, three each, then 429 for each: the forged hop before them is ignored.
            assert_eq!(refused, 2, "{codes:?}");
        } else {
            // Untrusted, nginx is one client, whatever the headers say.
            assert_eq!(refused, 5, "{codes:?}");
        }
    }

    // A reply streams through nginx word by word, not at the end.
    let data = Data::new();
    let pieces: Vec<String> = (1..=8).map(|i| format!("w{i} ")).collect();
    let provider = FakeProvider::drip(&pieces, Duration::from_millis(300)).await;
    let link = data.provider_agent("slow", &provider.base_url);
    let (_server, _nginx, public) = behind_nginx(&data, &[]);
    let path = &link[link.find("/chat/").expect("a chat link")..];
    let via = format!("{public}{path}");
    let http = reqwest::Client::new();
    let posted: Value = http
        .post(&via)
        .json(&serde_json::json!({"content": "hi"}))
        .send()
        .await
        .expect("post through nginx")
        .json()
        .await
        .expect("json");
    let turn = posted["turn_id"].as_str().expect("turn");
    let res = http
        .get(format!("{via}{turn}/sse"))
        .send()
        .await
        .expect("sse through nginx");
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let started = Instant::now();
    let mut first = None;
    let mut body = String::new();
    let mut stream = res.bytes_stream();
    use futures_util::StreamExt;
    while let Some(Ok(chunk)) = stream.next().await {
        body.push_str(&String::from_utf8_lossy(&chunk));
        if first.is_none() && body.contains("event: delta") {
            first = Some(started.elapsed());
        }
    }
    let total = started.elapsed();
    let first = first.expect("a delta came");
    assert!(body.contains("event: done"), "{body}");
    assert!(
        first + Duration::from_millis(1200) < total,
        "the first word came at {first:?}, the end at {total:?}: nginx passed the stream as written"
    );

    // The check through nginx works, and says honestly that a loopback address is this computer's.
    data.ok(&["public", "set", &public]);
    let out = data.run(&["--json", "public", "check"]);
    let check: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        (check["works"].as_bool(), check["streams"].as_bool()),
        (Some(true), Some(true)),
        "{check}"
    );
    assert_eq!(check["audience"], "this_computer");
    assert!(
        !out.status.success(),
        "not public: only this computer can use a loopback address"
    );
}
