//! A stand-in for `cloudflared`, `tailscale` and `ngrok` in tests: the scripts
//! `chatlink_test_support::tunnels::FakeTools` writes on PATH run it with the tool's name first.
//! It parses the real tools' command lines, really forwards a loopback port to the origin it was
//! given, and reports that port as its public address through the tool's own local interface
//! (cloudflared's metrics server, `tailscale funnel status --json`, ngrok's agent API).
//! Every invocation is appended to `$FAKE_TUNNEL_DIR/calls.log`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(std::env::var("FAKE_TUNNEL_DIR").unwrap_or_else(|_| ".".into()));
    if let Ok(mut log) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("calls.log"))
    {
        let _ = writeln!(log, "{}", args.join(" "));
    }
    let Some((tool, rest)) = args.split_first() else {
        eprintln!("usage: fake-tunnel TOOL ARGS…");
        std::process::exit(2);
    };
    match tool.as_str() {
        "cloudflared" => cloudflared(rest),
        "tailscale" => tailscale(rest, &dir),
        "ngrok" => ngrok(rest),
        other => {
            eprintln!("fake-tunnel: unknown tool {other}");
            std::process::exit(2);
        }
    }
}

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

/// `http://127.0.0.1:P` → 127.0.0.1:P.
fn origin_addr(url: &str) -> SocketAddr {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap_or_else(|_| fail(&format!("not a loopback origin: {url}")))
}

fn fail(msg: &str) -> ! {
    eprintln!("fake-tunnel: {msg}");
    std::process::exit(1);
}

/// Accepts on a fresh loopback port and copies bytes both ways to `origin`.
fn forward(origin: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| fail(&e.to_string()));
    let public = listener
        .local_addr()
        .unwrap_or_else(|e| fail(&e.to_string()));
    thread::spawn(move || {
        for inbound in listener.incoming().flatten() {
            let Ok(outbound) = TcpStream::connect(origin) else {
                continue;
            };
            pipe(inbound, outbound);
        }
    });
    public
}

fn pipe(a: TcpStream, b: TcpStream) {
    let (Ok(a2), Ok(b2)) = (a.try_clone(), b.try_clone()) else {
        return;
    };
    thread::spawn(move || copy_then_close(a, b2));
    thread::spawn(move || copy_then_close(b, a2));
}

fn copy_then_close(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}

/// A one-request-per-connection HTTP server answering `route(path)` = (status, JSON).
fn serve_json(
    listener: TcpListener,
    route: impl Fn(&str) -> (u16, String) + Send + Sync + 'static,
) {
    let route = Arc::new(route);
    thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let route = route.clone();
            thread::spawn(move || {
                let mut line = String::new();
                let mut reader = BufReader::new(match conn.try_clone() {
                    Ok(c) => c,
                    Err(_) => return,
                });
                if reader.read_line(&mut line).is_err() {
                    return;
                }
                // The rest of the head; these requests have no body.
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).map_or(true, |n| n == 0) || h == "\r\n" {
                        break;
                    }
                }
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let (status, body) = route(&path);
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
}

fn forever() -> ! {
    loop {
        thread::sleep(Duration::from_secs(3600));
    }
}

/// `cloudflared tunnel --no-autoupdate --metrics ADDR --url URL` (quick) or
/// `cloudflared tunnel --no-autoupdate --metrics ADDR run --url URL NAME` (named).
fn cloudflared(args: &[String]) -> ! {
    if args.first().map(String::as_str) != Some("tunnel") {
        fail("expected `tunnel`");
    }
    let metrics = flag(args, "--metrics").unwrap_or_else(|| fail("no --metrics"));
    let url = flag(args, "--url").unwrap_or_else(|| fail("no --url"));
    let named = args.iter().any(|a| a == "run");
    let public = forward(origin_addr(url));
    let listener = TcpListener::bind(metrics).unwrap_or_else(|e| fail(&e.to_string()));
    let started = Instant::now();
    // Like the real one: not ready until a connection to the edge is up.
    serve_json(listener, move |path| match path {
        "/ready" if started.elapsed() < Duration::from_millis(300) => (
            503,
            r#"{"status":503,"readyConnections":0,"connectorId":"fake"}"#.into(),
        ),
        "/ready" => (
            200,
            r#"{"status":200,"readyConnections":1,"connectorId":"fake"}"#.into(),
        ),
        "/quicktunnel" if named => (200, r#"{"hostname":""}"#.into()),
        "/quicktunnel" => (200, format!(r#"{{"hostname":"{public}"}}"#)),
        _ => (404, "{}".into()),
    });
    eprintln!("INF fake cloudflared forwarding {public} to {url}");
    forever()
}

/// `tailscale funnel --yes URL` (foreground) and `tailscale funnel status --json`.
fn tailscale(args: &[String], dir: &std::path::Path) -> ! {
    let state = dir.join("tailscale-state.json");
    match args {
        [funnel, status, json] if funnel == "funnel" && status == "status" && json == "--json" => {
            let mut text = String::new();
            let _ = std::fs::File::open(&state).and_then(|mut f| f.read_to_string(&mut text));
            let alive = text
                .split_once(' ')
                .and_then(|(pid, _)| pid.parse::<u32>().ok())
                .is_some_and(|pid| PathBuf::from(format!("/proc/{pid}")).exists());
            match text.split_once(' ').filter(|_| alive) {
                Some((_, rest)) => {
                    let (host, proxy) = rest.trim().split_once(' ').unwrap_or(("", ""));
                    println!(
                        r#"{{"Foreground":{{"fake-session":{{"TCP":{{"443":{{"HTTPS":true}}}},"Web":{{"{host}":{{"Handlers":{{"/":{{"Proxy":"{proxy}"}}}}}}}},"AllowFunnel":{{"{host}":true}}}}}}}}"#
                    );
                }
                None => println!("{{}}"),
            }
            std::process::exit(0);
        }
        [funnel, rest @ ..] if funnel == "funnel" => {
            let url = rest
                .iter()
                .find(|a| a.starts_with("http://"))
                .unwrap_or_else(|| fail("no origin"));
            let public = forward(origin_addr(url));
            let _ = std::fs::write(&state, format!("{} {public} {url}", std::process::id()));
            println!("Available on the internet:\n\nhttps://{public}/\n|-- proxy {url}");
            forever()
        }
        _ => fail("expected `funnel`"),
    }
}

/// `ngrok http URL --log stdout --log-format json`; the agent API on 4040 or the next free port.
fn ngrok(args: &[String]) -> ! {
    if args.first().map(String::as_str) != Some("http") {
        fail("expected `http`");
    }
    let url = args.get(1).cloned().unwrap_or_else(|| fail("no origin"));
    let public = forward(origin_addr(&url));
    let api = (4040..=4049)
        .find_map(|p| TcpListener::bind(("127.0.0.1", p)).ok())
        .unwrap_or_else(|| fail("no free agent API port"));
    let body = format!(
        r#"{{"tunnels":[{{"name":"command_line","uri":"/api/tunnels/command_line","public_url":"http://{public}","proto":"http","config":{{"addr":"{url}","inspect":true}}}}],"uri":"/api/tunnels"}}"#
    );
    serve_json(api, move |path| match path {
        "/api/tunnels" => (200, body.clone()),
        _ => (404, "{}".into()),
    });
    println!(r#"{{"lvl":"info","msg":"started tunnel","url":"http://{public}"}}"#);
    forever()
}
