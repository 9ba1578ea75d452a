//! The public listener against slow, greedy and hostile clients, tried as an attacker would:
//! raw TCP against a real `chatlink serve`, client sockets bound to other loopback addresses to
//! play other visitors. Each test names the limit it shows.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use common::{Data, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Starts `serve` with `--limit` flags; returns it and its address.
fn serve(data: &Data, limits: &[&str]) -> (Server, SocketAddr) {
    let mut extra = Vec::new();
    for l in limits {
        extra.extend(["--limit", l]);
    }
    let mut server = Server::start_with(data, &extra);
    let base = server.line_after("Chatlink is serving on ");
    let addr = base
        .trim_start_matches("http://")
        .parse()
        .expect("serve prints its address");
    (server, addr)
}

/// A connection to `addr` from the loopback address `from` (127.0.0.x plays visitor x).
async fn connect_from(from: [u8; 4], addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::new(IpAddr::from(from), 0))
        .expect("bind a loopback source address");
    socket.connect(addr).await.expect("connect")
}

/// Reads until the server closes the connection (or `limit` passes); returns what arrived and
/// when the connection ended, `None` if it was still open at `limit`.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, Option<Duration>) {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = limit.saturating_sub(start.elapsed());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return (got, None),
            Ok(Ok(0)) | Ok(Err(_)) => return (got, Some(start.elapsed())),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// `/chat/<token>/` of a link's URL.
fn chat_path(url: &str) -> String {
    url.find("/chat/")
        .map(|i| url[i..].to_owned())
        .unwrap_or_else(|| panic!("{url} is not a chat link"))
}

/// One keep-alive `GET path`; returns the response head and body (`Content-Length` framed).
async fn get(stream: &mut TcpStream, path: &str) -> String {
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .expect("send");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("an answer within 10 s")
            .expect("read");
        assert!(
            n > 0,
            "closed before answering: {}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_owned())
                })
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if body.len() >= len {
                return text;
            }
        }
    }
}

/// header_read_timeout: headers started and never finished are cut at the limit, while a
/// connection that has sent nothing is idle, not slow, and is still open then.
#[tokio::test]
async fn a_slow_header_client_is_cut_and_an_idle_one_is_not() {
    let data = Data::new();
    let (_server, addr) = serve(&data, &["header_read_timeout=1s", "idle_timeout=4s"]);
    let mut silent = connect_from([127, 0, 0, 3], addr).await;
    let mut slow = connect_from([127, 0, 0, 2], addr).await;
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .expect("half a header");
    let (got, closed) = read_until_closed(&mut slow, Duration::from_secs(3)).await;
    let closed = closed.expect("the slow-header client is cut");
    assert!(
        closed >= Duration::from_millis(800) && closed < Duration::from_millis(2500),
        "cut after {closed:?}"
    );
    assert!(
        got.is_empty() || got.starts_with(b"HTTP/1.1 4"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    // The silent one has been open as long; idle_timeout (4 s) has not passed.
    let (_, closed) = read_until_closed(&mut silent, Duration::from_millis(200)).await;
    assert_eq!(
        closed, None,
        "a connection that sent nothing is idle until idle_timeout"
    );
    let ok = get(&mut silent, "/healthz").await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
}

/// idle_timeout: a keep-alive connection with no request is closed at the limit; one with a
/// stream open is busy, not idle, and stays.
#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_and_a_stream_is_not() {
    let data = Data::new();
    let (_server, addr) = serve(&data, &["idle_timeout=2s", "header_read_timeout=30s"]);
    let mut idle = connect_from([127, 0, 0, 2], addr).await;
    let ok = get(&mut idle, "/healthz").await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    let served = Instant::now();

    // A page that holds a stream: the widget script is not one, so use a chat's conversation
    // feed, which never ends on its own.
    let demo = data.url_of("web:demo");
    let path = chat_path(&demo);
    let mut visitor = connect_from([127, 0, 0, 3], addr).await;
    let body = r#"{"content":"When are you open on Sunday?"}"#;
    visitor
        .write_all(
            format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .expect("post");
    let mut buf = vec![0u8; 4096];
    let n = visitor.read(&mut buf).await.expect("posted");
    let posted = String::from_utf8_lossy(&buf[..n]).to_string();
    let conversation = posted
        .split("\"conversation_id\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("no conversation in {posted}"))
        .to_owned();
    let mut stream = connect_from([127, 0, 0, 4], addr).await;
    stream
        .write_all(
            format!("GET {path}events?conversation_id={conversation} HTTP/1.1\r\nHost: x\r\n\r\n")
                .as_bytes(),
        )
        .await
        .expect("open the feed");

    let (_, closed) = read_until_closed(&mut idle, Duration::from_secs(5)).await;
    assert!(closed.is_some(), "the idle connection is closed");
    let closed = served.elapsed();
    assert!(
        closed >= Duration::from_millis(1500) && closed < Duration::from_millis(4000),
        "closed after {closed:?}"
    );
    let (got, closed) = read_until_closed(&mut stream, Duration::from_millis(500)).await;
    assert_eq!(closed, None, "a stream in flight is not idle");
    assert!(
        String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got)
    );
}

/// body_read_timeout: a body that never arrives whole gets 408 and the connection closes.
#[tokio::test]
async fn a_body_that_never_arrives_gets_408() {
    let data = Data::new();
    let (_server, addr) = serve(&data, &["body_read_timeout=1s"]);
    let demo = data.url_of("web:demo");
    let path = chat_path(&demo);
    let mut slow = connect_from([127, 0, 0, 2], addr).await;
    slow.write_all(
        format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"content\":")
            .as_bytes(),
    )
    .await
    .expect("headers and a little body");
    let start = Instant::now();
    let (got, closed) = read_until_closed(&mut slow, Duration::from_secs(4)).await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("request_timeout"), "{text}");
    assert!(closed.is_some(), "the connection closes after a 408");
    assert!(
        start.elapsed() >= Duration::from_millis(800),
        "{:?}",
        start.elapsed()
    );
    let inbox = data.json(&["inbox"]);
    assert_eq!(
        inbox.as_array().map(Vec::len),
        Some(0),
        "nothing written: {inbox}"
    );
}

/// connections_per_client: 1,500 idle sockets from one address take that address's share, and
/// a visitor at another address is served at once; past the cap, a clean 503.
#[tokio::test]
async fn fifteen_hundred_idle_sockets_from_one_address_do_not_shut_out_another() {
    rlimit::increase_nofile_limit(8192).expect("raise the open-files limit");
    let data = Data::new();
    let (_server, addr) = serve(&data, &[]);
    let mut hog = Vec::with_capacity(1500);
    for _ in 0..1500 {
        hog.push(connect_from([127, 0, 0, 1], addr).await);
    }
    let mut other = connect_from([127, 0, 0, 2], addr).await;
    let start = Instant::now();
    let ok = get(&mut other, "/healthz").await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "served in {:?}",
        start.elapsed()
    );

    // Past its 256 the hog's sockets were refused: the first refusals with a 503 (at most
    // REFUSERS goodbyes run at once, each waiting up to 2 s for the client to hang up), later
    // ones closed at once; none is served.
    let (got, closed) = read_until_closed(&mut hog[300], Duration::from_secs(3)).await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("retry-after: 5"), "{text}");
    assert!(closed.is_some());
    let (got, closed) = read_until_closed(&mut hog[1499], Duration::from_secs(3)).await;
    assert!(closed.is_some(), "refused");
    assert!(
        got.is_empty() || got.starts_with(b"HTTP/1.1 503"),
        "{got:?}"
    );
    // Its first ones are served.
    let ok = get(&mut hog[0], "/healthz").await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
}

/// max_connections: past the total, a clean 503; a freed slot is served again.
#[tokio::test]
async fn past_the_total_cap_new_connections_get_503_and_the_rest_are_served() {
    let data = Data::new();
    let (_server, addr) = serve(&data, &["max_connections=20"]);
    let mut held = Vec::new();
    for i in 0..20u8 {
        held.push(connect_from([127, 0, 1, i + 1], addr).await);
    }
    // Accepting is asynchronous: make sure all 20 are in before the 21st knocks.
    let ok = get(&mut held[19], "/healthz").await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    let mut extra = connect_from([127, 0, 2, 1], addr).await;
    let (got, _) = read_until_closed(&mut extra, Duration::from_secs(3)).await;
    assert!(
        String::from_utf8_lossy(&got).starts_with("HTTP/1.1 503"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    let ok = get(&mut held[0], "/healthz").await;
    assert!(
        ok.starts_with("HTTP/1.1 200"),
        "the admitted ones are still served: {ok}"
    );
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = connect_from([127, 0, 2, 2], addr).await;
    let ok = get(&mut again, "/healthz").await;
    assert!(
        ok.starts_with("HTTP/1.1 200"),
        "a freed slot is served: {ok}"
    );
}

/// HTTP/1.1 only: an HTTP/2 preface (h2c with prior knowledge) and an `Upgrade: h2c` are not
/// served as HTTP/2.
#[tokio::test]
async fn h2c_is_not_served() {
    let data = Data::new();
    let (_server, addr) = serve(&data, &[]);
    let mut prior = connect_from([127, 0, 0, 2], addr).await;
    // The client preface, then an empty SETTINGS frame.
    prior
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .expect("preface");
    let (got, closed) = read_until_closed(&mut prior, Duration::from_secs(3)).await;
    assert!(closed.is_some(), "the connection ends");
    // A server speaking h2 would answer with its SETTINGS frame (type 4 at byte 3).
    assert!(
        got.is_empty() || got.starts_with(b"HTTP/1.1 "),
        "answered as HTTP/2: {got:?}"
    );

    let mut upgrade = connect_from([127, 0, 0, 3], addr).await;
    upgrade
        .write_all(
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
        )
        .await
        .expect("upgrade request");
    let mut buf = [0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(3), upgrade.read(&mut buf))
        .await
        .expect("an answer")
        .expect("read");
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "served as HTTP/1.1, no 101: {head}"
    );
}

/// Posts `content` to a chat link and reads its turn's stream to `done` (within 20 s); returns
/// the stream's text and how long the turn took.
async fn ask(link: &str, content: &str) -> (String, Duration) {
    let http = reqwest::Client::new();
    let start = Instant::now();
    let posted: serde_json::Value = http
        .post(link)
        .json(&serde_json::json!({ "content": content }))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("posted JSON");
    let turn = posted["turn_id"].as_str().expect("turn_id");
    let mut res = http
        .get(format!("{link}{turn}/sse"))
        .send()
        .await
        .expect("open the turn's stream");
    let mut text = String::new();
    let read = async {
        while let Some(chunk) = res.chunk().await.expect("stream") {
            text.push_str(&String::from_utf8_lossy(&chunk));
            if text.contains("event: done") && text.ends_with("\n\n") {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .expect("the turn ends within 20 s");
    (text, start.elapsed())
}

/// The `message` frame's content in an SSE text.
fn reply_of(sse: &str) -> String {
    sse.split("\n\n")
        .find(|e| e.contains("event: message"))
        .and_then(|e| e.lines().find_map(|l| l.strip_prefix("data: ")))
        .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .and_then(|v| v["content"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// reply_chars, turn_deadline and max_tokens: a model that never stops writing is cut at the
/// reply's length (marked), a slow one at the deadline, and the request always says max_tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_that_never_stops_ends_within_the_deadline_with_the_reply_bounded() {
    use chatlink_test_support::provider::Behaviour;
    let fast = chatlink_test_support::FakeProvider::start(Behaviour::Endless {
        content: "la ".into(),
        pause: Duration::from_millis(1),
    })
    .await;
    let slow = chatlink_test_support::FakeProvider::start(Behaviour::Endless {
        content: "word ".into(),
        pause: Duration::from_millis(200),
    })
    .await;
    let data = Data::new();
    let fast_link = data.provider_agent("fast", &fast.base_url);
    let slow_link = data.provider_agent("slow", &slow.base_url);
    let (_server, addr) = serve(
        &data,
        &[
            "turn_deadline=2s",
            "reply_chars=300",
            "default_max_tokens=77",
        ],
    );
    let base = format!("http://{addr}");
    let rebase = |l: &str| format!("{base}{}", chat_path(l));

    let (sse, took) = ask(&rebase(&fast_link), "sing").await;
    let reply = reply_of(&sse);
    assert!(sse.contains(r#""status":"ok""#), "{sse}");
    assert_eq!(
        reply.chars().count(),
        300 + " […]".chars().count(),
        "{reply}"
    );
    assert!(
        reply.starts_with("la la") && reply.ends_with(" […]"),
        "{reply}"
    );
    assert!(
        took < Duration::from_secs(2),
        "cut by length, not time: {took:?}"
    );
    assert_eq!(fast.seen()[0].body["max_tokens"], 77);

    let (sse, took) = ask(&rebase(&slow_link), "talk").await;
    let reply = reply_of(&sse);
    assert!(sse.contains(r#""status":"ok""#), "{sse}");
    assert!(
        reply.starts_with("word ") && reply.ends_with(" […]"),
        "{reply}"
    );
    assert!(
        took >= Duration::from_millis(1800) && took < Duration::from_secs(5),
        "ended at the deadline: {took:?}"
    );
    // The conversation is free again: the next message gets a turn.
    let (sse, _) = ask(&rebase(&slow_link), "again").await;
    assert!(sse.contains("event: done"), "{sse}");
}

/// Provider requests follow no redirects: a 307 elsewhere would re-send the visitor's words and
/// the API key there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_redirect_is_not_followed() {
    use chatlink_test_support::provider::Behaviour;
    let elsewhere = chatlink_test_support::FakeProvider::drip(&["stolen"], Duration::ZERO).await;
    let redirecting = chatlink_test_support::FakeProvider::start(Behaviour::Redirect(format!(
        "{}/chat/completions",
        elsewhere.base_url
    )))
    .await;
    let data = Data::new();
    let link = data.provider_agent("redir", &redirecting.base_url);
    let (_server, addr) = serve(&data, &[]);
    let (sse, _) = ask(&format!("http://{addr}{}", chat_path(&link)), "hello").await;
    assert!(sse.contains(r#""status":"error""#), "{sse}");
    assert_eq!(redirecting.seen().len(), 1);
    assert!(
        elsewhere.seen().is_empty(),
        "the redirect was followed: {:?}",
        elsewhere.seen()
    );

    let err = data.fail(&[
        "agent",
        "edit",
        "redir",
        "--engine",
        "openai",
        "--base-url",
        "http://user:pw@127.0.0.1:9/v1",
        "--model",
        "m",
    ]);
    assert!(err.contains("user name or password"), "{err}");
}

/// One token request from the loopback address `from`; returns its status.
async fn exchange(base: &str, from: [u8; 4], app_id: &str, secret: &str) -> u16 {
    let http = reqwest::Client::builder()
        .local_address(IpAddr::from(from))
        .build()
        .expect("client");
    http.post(format!("{base}/api/v1/auth/token"))
        .json(&serde_json::json!({"appId": app_id, "appSecret": secret, "endUserId": "u1"}))
        .send()
        .await
        .expect("token request")
        .status()
        .as_u16()
}

/// token_per_minute and bad_secret_*: 200 wrong secrets from other addresses (more than the
/// app's burst of 60) never spend the app's budget, so the shop's backend still gets its token;
/// one address guessing again and again is the one that waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_wrong_secrets_leave_the_right_one_working() {
    let data = Data::new();
    let created = data.json(&["app", "create", "demo"]);
    let app_id = created["app"]["id"].as_str().expect("appId").to_owned();
    let secret = created["appSecret"].as_str().expect("appSecret").to_owned();
    let (_server, addr) = serve(&data, &[]);
    let base = format!("http://{addr}");
    for i in 0..200u16 {
        let from = [127, 0, 3 + (i / 250) as u8, 1 + (i % 250) as u8];
        let status = exchange(&base, from, &app_id, &format!("guess-{i}")).await;
        assert_eq!(status, 401, "guess {i}");
    }
    assert_eq!(exchange(&base, [127, 0, 0, 1], &app_id, &secret).await, 200);

    let mut statuses = Vec::new();
    for i in 0..25 {
        statuses.push(exchange(&base, [127, 0, 9, 9], &app_id, &format!("again-{i}")).await);
    }
    assert_eq!(&statuses[..20], &[401; 20], "the burst of wrong secrets");
    assert!(statuses[20..].iter().all(|s| *s == 429), "{statuses:?}");
    assert_eq!(
        exchange(&base, [127, 0, 9, 9], &app_id, &secret).await,
        429,
        "a guessing address waits, whatever it sends: guessing stays slow"
    );
    assert_eq!(exchange(&base, [127, 0, 0, 1], &app_id, &secret).await, 200);
}

/// Daily budget: a provider that reports `usage` spends a small budget in one reply; the next
/// visitor gets the built-in answer from the agent's own knowledge, the provider is not asked
/// again, and the agent shows the budget spent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_daily_budget_falls_back_to_built_in_answers() {
    use chatlink_test_support::provider::{Behaviour, End, events};
    let mut pieces = events(&["Fresh ", "bread!"], "\n");
    pieces.push("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":500,\"completion_tokens\":100,\"total_tokens\":600}}\n\n".into());
    let provider = chatlink_test_support::FakeProvider::start(Behaviour::Stream {
        pieces,
        pause: Duration::ZERO,
        end: End::Done,
    })
    .await;
    let data = Data::new();
    let link = data.provider_agent("paid", &provider.base_url);
    data.ok(&["agent", "edit", "paid", "--daily-tokens", "500"]);
    data.ok(&[
        "agent",
        "knowledge",
        "add",
        "paid",
        "--question",
        "When are you open?",
        "--answer",
        "Nine to five, every day.",
    ]);
    let (_server, addr) = serve(&data, &[]);
    let link = format!("http://{addr}{}", chat_path(&link));

    let (sse, _) = ask(&link, "When are you open?").await;
    assert_eq!(reply_of(&sse), "Fresh bread!");
    let spent = data.json(&["agent", "show", "paid"]);
    let (sse, _) = ask(&link, "When are you open?").await;
    assert_eq!(reply_of(&sse), "Nine to five, every day.", "{spent}");
    assert_eq!(
        provider.seen().len(),
        1,
        "the provider is not asked past the budget"
    );
    assert_eq!(
        provider.seen()[0].body["stream_options"]["include_usage"],
        true
    );
    let agent = data.json(&["agent", "show", "paid"]);
    assert_eq!(agent["budget"]["today_tokens"], 600, "{agent}");
    assert_eq!(agent["budget"]["today_requests"], 1, "{agent}");
    assert_eq!(agent["budget"]["spent"], true, "{agent}");
}

/// Pause: the page says "back soon" with 503 and its messages are refused, until one resume;
/// the same URL then works again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_link_shows_back_soon_and_comes_back() {
    let data = Data::new();
    let (_server, addr) = serve(&data, &[]);
    let link = format!("http://{addr}{}", chat_path(&data.url_of("web:demo")));
    let id = data.json(&["token", "list"])[0]["id"]
        .as_i64()
        .expect("id")
        .to_string();
    let http = reqwest::Client::new();

    let paused = data.json(&["token", "pause", &id]);
    assert_eq!(paused[0]["status"], "paused", "{paused}");
    let page = http.get(&link).send().await.expect("page");
    assert_eq!(page.status(), 503);
    assert!(page.headers().contains_key("retry-after"));
    let html = page.text().await.expect("html");
    assert!(html.contains("Back soon"), "{html}");
    let post = http
        .post(&link)
        .json(&serde_json::json!({"content": "hello?"}))
        .send()
        .await
        .expect("post");
    assert_eq!(post.status(), 503);
    let body: serde_json::Value = post.json().await.expect("json");
    assert_eq!(body["code"], "link_paused");
    assert_eq!(
        data.json(&["inbox"]).as_array().map(Vec::len),
        Some(0),
        "nothing written"
    );

    let resumed = data.json(&["token", "resume", &id]);
    assert_eq!(resumed[0]["status"], "live");
    assert_eq!(http.get(&link).send().await.expect("page").status(), 200);
    let (sse, _) = ask(&link, "When are you open on Sunday?").await;
    assert!(sse.contains(r#""status":"ok""#), "{sse}");
}

/// Block: the conversation's next message is refused with 403 and writes nothing; unblocked,
/// it is accepted again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_conversations_message_is_refused_and_writes_nothing() {
    let data = Data::new();
    let (_server, addr) = serve(&data, &[]);
    let link = format!("http://{addr}{}", chat_path(&data.url_of("web:demo")));
    let http = reqwest::Client::new();
    let post = |conversation: Option<String>| {
        let (http, link) = (http.clone(), link.clone());
        async move {
            let mut body = serde_json::json!({"content": "spam spam spam"});
            if let Some(c) = conversation {
                body["conversation_id"] = c.into();
            }
            http.post(&link).json(&body).send().await.expect("post")
        }
    };
    let first: serde_json::Value = post(None).await.json().await.expect("posted");
    let conversation = first["conversation_id"].as_str().expect("id").to_owned();
    // Let the first turn end, so the refusal below is the block's, not a running turn's.
    ask(&link, "hello").await;
    let blocked = data.json(&["conversation", "block", &conversation]);
    assert_eq!(blocked["blocked"], true, "{blocked}");
    let before = data.json(&["conversation", "show", &conversation]);

    let refused = post(Some(conversation.clone())).await;
    assert_eq!(refused.status(), 403);
    let body: serde_json::Value = refused.json().await.expect("json");
    assert_eq!(body["code"], "conversation_blocked");
    assert_eq!(
        data.json(&["conversation", "show", &conversation])["messages"],
        before["messages"],
        "nothing written"
    );

    data.ok(&["conversation", "unblock", &conversation]);
    assert_eq!(post(Some(conversation)).await.status(), 202);
}

/// Exports hold visitors' words: the file is the owner's alone (0600), even over an existing
/// world-readable one, and no temporary file is left beside it.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_file_is_mode_0600() {
    use std::os::unix::fs::PermissionsExt;
    let data = Data::new();
    let (server, addr) = serve(&data, &[]);
    let link = format!("http://{addr}{}", chat_path(&data.url_of("web:demo")));
    ask(
        &link,
        "Do you have gluten-free bread? My number is 555-0101",
    )
    .await;
    drop(server);
    let out = tempfile::tempdir().expect("out");
    let path = out.path().join("visitors.csv");
    std::fs::write(&path, "old").expect("an old file");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    data.ok(&[
        "export",
        "--from",
        "1d",
        "--out",
        path.to_str().expect("utf-8 path"),
    ]);
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(text.contains("555-0101"), "{text}");
    let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let names: Vec<_> = std::fs::read_dir(out.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["visitors.csv"]);
}

/// hook_body and message_chars: a hook may carry a large body (all of it kept for the owner),
/// but the agent reads only as much as a chat message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_hook_body_reaches_the_agent_bounded_like_a_message() {
    let provider = chatlink_test_support::FakeProvider::drip(&["Noted."], Duration::ZERO).await;
    let data = Data::new();
    data.provider_agent("ops", &provider.base_url);
    let hook = data.ok(&["token", "issue", "ops", "hook", "form"]);
    let (_server, addr) = serve(&data, &[]);
    let hook = format!(
        "http://{addr}{}",
        &hook.trim()[hook.find("/hook/").expect("a hook URL")..]
    );
    let body = "order line é\n".repeat(20_000); // 280,000 characters, under 1 MiB
    let res = reqwest::Client::new()
        .post(&hook)
        .body(body.clone())
        .send()
        .await
        .expect("post the hook");
    assert_eq!(res.status(), 202);
    let mut seen = Vec::new();
    for _ in 0..100 {
        seen = provider.seen();
        if !seen.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let messages = seen.first().expect("the agent was asked").body["messages"].clone();
    let last = messages
        .as_array()
        .and_then(|m| m.last())
        .and_then(|m| m["content"].as_str())
        .expect("the visitor's message")
        .to_owned();
    assert_eq!(last.chars().count(), 4000, "bounded like a chat message");
    assert!(body.starts_with(&last));
    let too_big = reqwest::Client::new()
        .post(&hook)
        .body("x".repeat(1024 * 1024 + 1))
        .send()
        .await
        .expect("post");
    assert_eq!(too_big.status(), 413);
}

/// trusted_proxies: behind a trusted proxy each forwarded visitor has its own per-address
/// budget; without it, a forged `X-Forwarded-For` changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_visitors_are_counted_apart_only_behind_a_trusted_proxy() {
    let post = |link: String, forwarded: &'static str| async move {
        reqwest::Client::new()
            .post(&link)
            .header("x-forwarded-for", forwarded)
            .json(&serde_json::json!({"content": "hello"}))
            .send()
            .await
            .expect("post")
            .status()
            .as_u16()
    };
    let rates = ["client_burst=2", "client_per_minute=2"];
    for trusted in [true, false] {
        let data = Data::new();
        let mut limits = rates.to_vec();
        if trusted {
            limits.push("trusted_proxies=127.0.0.0/8");
        }
        let (_server, addr) = serve(&data, &limits);
        let link = format!("http://{addr}{}", chat_path(&data.url_of("web:demo")));
        let mut statuses = Vec::new();
        for forwarded in [
            "203.0.113.1",
            "203.0.113.1",
            "203.0.113.1",
            "6.6.6.6, 203.0.113.2",
        ] {
            statuses.push(post(link.clone(), forwarded).await);
        }
        if trusted {
            assert_eq!(
                statuses,
                [202, 202, 429, 202],
                "203.0.113.2 has its own budget"
            );
        } else {
            assert_eq!(
                statuses,
                [202, 202, 429, 429],
                "a forged header changes nothing"
            );
        }
    }
}
