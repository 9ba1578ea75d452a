//! Going public, for real on loopback: long-poll frames beside SSE, the self-test through real
//! routes (direct, a proxy that holds streams, nothing listening, another server), and tunnels
//! run from fake `cloudflared`, `tailscale` and `ngrok` that really forward a port.

mod common;

use std::time::Duration;

use chatlink_core::App;
use chatlink_core::app::{Audience, IssueLink, ReachProblem, Via};
use chatlink_test_support::tunnels::HoldingProxy;
use chatlink_test_support::{TestServer, free_port};
use reqwest::StatusCode;
use serde_json::Value;

use common::*;

/// Polls `url` (a `…/frames` route) from `after` until a `done` frame; every frame in order.
async fn poll_until_done(s: &Server, url: &str, mut after: Option<i64>) -> Vec<Value> {
    let mut frames = Vec::new();
    for _ in 0..200 {
        let q = after.map(|a| format!("&after={a}")).unwrap_or_default();
        let res = s
            .client
            .get(format!("{url}?wait=5{q}"))
            .send()
            .await
            .expect("poll");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["cache-control"], "no-store");
        let body: Value = res.json().await.expect("json");
        for f in body["frames"].as_array().expect("frames") {
            after = f["id"].as_i64();
            frames.push(f.clone());
        }
        if frames.last().is_some_and(|f| f["event"] == "done") {
            return frames;
        }
    }
    panic!("no done frame after 200 polls: {frames:?}");
}

#[tokio::test]
async fn long_poll_carries_the_same_frames_as_sse_and_the_owners_replies() {
    let s = start().await;
    let (_, link) = s.link(IssueLink::chat("demo")).await;
    let posted = s.ask(&link, "Do you deliver?").await;
    let turn = posted["turn_id"].as_str().expect("turn");
    let conv = posted["conversation_id"].as_str().expect("conv");

    let polled = poll_until_done(&s, &format!("{link}{turn}/frames"), None).await;
    let sse = all_events(s.sse(&link, turn, None).await).await;
    assert_eq!(polled.len(), sse.len(), "{polled:?}");
    for (p, e) in polled.iter().zip(&sse) {
        assert_eq!(p["id"].as_i64().map(|i| i.to_string()), Some(e.id.clone()));
        assert_eq!(p["event"].as_str(), Some(e.event.as_str()));
        assert_eq!(p["data"].as_str(), Some(e.data.as_str()));
    }
    // Resume from the middle: exactly the rest; at the end: 204, like SSE.
    let mid = polled[1]["id"].as_i64().expect("id");
    let rest = poll_until_done(&s, &format!("{link}{turn}/frames"), Some(mid)).await;
    assert_eq!(rest.len(), polled.len() - 2);
    let last = polled
        .last()
        .and_then(|f| f["id"].as_i64())
        .expect("last id");
    let over = s
        .client
        .get(format!("{link}{turn}/frames?after={last}"))
        .send()
        .await
        .expect("over");
    assert_eq!(over.status(), StatusCode::NO_CONTENT);
    for bad in ["after=abc", "after=-1", "wait=soon"] {
        let res = s
            .client
            .get(format!("{link}{turn}/frames?{bad}"))
            .send()
            .await
            .expect("bad");
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(error_code(res).await, "invalid_input");
    }

    // The conversation's twin: a poll waiting from the last frame gets the owner's reply.
    let feed = format!("{link}frames?conversation_id={conv}&after={last}&wait=10");
    let waiting = tokio::spawn({
        let client = s.client.clone();
        async move {
            let started = std::time::Instant::now();
            let body: Value = client
                .get(feed)
                .send()
                .await
                .expect("poll")
                .json()
                .await
                .expect("json");
            (body, started.elapsed())
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.app.take_over(conv).await.expect("take over");
    s.app
        .owner_reply(conv, "Yes, every day!")
        .await
        .expect("reply");
    let (body, took) = waiting.await.expect("poll task");
    assert!(
        took < Duration::from_secs(5),
        "answered as the reply came: {took:?}"
    );
    let frames = body["frames"].as_array().expect("frames");
    assert!(
        frames.iter().any(|f| f["event"] == "message"
            && f["data"]
                .as_str()
                .is_some_and(|d| d.contains("Yes, every day!"))),
        "{body}"
    );
    // Nothing new: an empty answer after `wait`.
    let after = frames.last().and_then(|f| f["id"].as_i64()).expect("id");
    let quiet: Value = s
        .client
        .get(format!(
            "{link}frames?conversation_id={conv}&after={after}&wait=1"
        ))
        .send()
        .await
        .expect("quiet")
        .json()
        .await
        .expect("json");
    assert_eq!(quiet["frames"], serde_json::json!([]));
}

#[tokio::test]
async fn sse_asks_proxies_not_to_transform_or_buffer() {
    let s = start().await;
    let (_, link) = s.link(IssueLink::chat("demo")).await;
    let posted = s.ask(&link, "Hello").await;
    let res = s
        .sse(&link, posted["turn_id"].as_str().expect("turn"), None)
        .await;
    assert_eq!(res.headers()["cache-control"], "no-cache, no-transform");
    assert_eq!(res.headers()["x-accel-buffering"], "no");
}

/// Points the app's links at `url` and runs the self-test.
async fn check_at(app: &App, url: &str, via: Via) -> chatlink_core::app::ReachCheck {
    app.set_address(url, via).expect("address");
    app.check_reach().await.expect("check")
}

#[tokio::test]
async fn the_self_test_tells_a_working_route_from_a_holding_proxy_a_dead_one_and_another_server() {
    let s = TestServer::start().await;
    let direct = s.base_url.clone();
    let check = check_at(&s.app, &direct, Via::Own).await;
    assert!(check.works && check.streams == Some(true), "{check:?}");
    assert_eq!(check.audience, Audience::ThisComputer);
    assert!(!check.public(), "a loopback address is not public");
    // Recorded for Home (the app's own periodic check may have run it again since).
    let reach = s.app.reach().await.expect("reach");
    assert!(reach.last_check.is_some_and(|c| c.works && c.url == direct));
    assert_eq!(reach.last_unreachable_at, None);

    let port: std::net::SocketAddr = direct.trim_start_matches("http://").parse().expect("addr");
    let proxy = HoldingProxy::start(port).await;
    let held = check_at(&s.app, &proxy.url, Via::Own).await;
    assert!(held.works, "{held:?}");
    assert_eq!(
        held.streams,
        Some(false),
        "the proxy holds the stream probe"
    );
    assert!(held.message.contains("fallback"), "{}", held.message);
    assert!(
        proxy
            .paths()
            .iter()
            .any(|p| p.starts_with("/.well-known/chatlink/"))
    );

    let nothing = check_at(
        &s.app,
        &format!("http://127.0.0.1:{}", free_port()),
        Via::Own,
    )
    .await;
    assert_eq!(
        (nothing.works, nothing.problem),
        (false, Some(ReachProblem::Refused)),
        "{nothing:?}"
    );
    assert!(
        s.app
            .reach()
            .await
            .expect("reach")
            .last_unreachable_at
            .is_some()
    );

    // Another Chatlink (another data folder, another key) answers, but it is not this one.
    let other = TestServer::start().await;
    let wrong = check_at(&s.app, &other.base_url, Via::Own).await;
    assert_eq!(wrong.problem, Some(ReachProblem::WrongServer), "{wrong:?}");
    other.stop().await;
    s.stop().await;
}

#[tokio::test]
async fn any_host_is_served() {
    let s = TestServer::start().await;
    let link = s.demo_link().await.url.expect("url");
    for host in [
        "abc-def.trycloudflare.com",
        "shop.tail1234.ts.net",
        "chat.example.com:443",
    ] {
        let res = reqwest::Client::new()
            .get(&link)
            .header("host", host)
            .send()
            .await
            .expect("page");
        assert_eq!(res.status(), StatusCode::OK, "{host}");
    }
    s.stop().await;
}

/// The tunnel tests run fake tools written as shell scripts, and look processes up in /proc.
#[cfg(unix)]
mod tunnels {
    use super::*;
    use chatlink_core::Limits;
    use chatlink_core::tunnel::{TunnelChoice, TunnelKind, TunnelState, TunnelStatus};
    use chatlink_test_support::tunnels::{FakeTools, process_alive};

    /// Waits up to 20 s for the tunnel's status to satisfy `ok`.
    async fn wait_for(
        changes: &mut tokio::sync::watch::Receiver<TunnelStatus>,
        ok: impl Fn(&TunnelStatus) -> bool,
    ) -> TunnelStatus {
        let found = tokio::time::timeout(Duration::from_secs(20), changes.wait_for(|s| ok(s)))
            .await
            .expect("the tunnel got there within 20 s")
            .expect("the tunnel is watched");
        found.clone()
    }

    fn up_url(s: &TunnelStatus) -> Option<String> {
        match &s.state {
            TunnelState::Up { url } => Some(url.clone()),
            _ => None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_quick_tunnel_is_learned_checked_restarted_after_a_crash_and_stopped() {
        let tools = FakeTools::install();
        let s = TestServer::start().await;
        let choice = TunnelChoice {
            kind: TunnelKind::Cloudflared,
            program: Some(tools.program("cloudflared").display().to_string()),
            named: None,
        };
        let tunnel = s.app.start_tunnel(choice).await.expect("start");
        let mut changes = tunnel.subscribe();
        let first = wait_for(&mut changes, |s| up_url(s).is_some()).await;
        let url = up_url(&first).expect("url");
        assert_eq!(
            s.app.base_url(),
            url,
            "links are built on the tunnel's address"
        );
        assert_eq!(s.app.base_via(), Via::Tunnel);
        let link = s.demo_link().await.url.expect("url");
        assert!(link.starts_with(&url), "{link}");
        let calls = tools.calls();
        let call = calls.first().expect("cloudflared was started");
        assert!(
            call.starts_with("cloudflared tunnel --no-autoupdate --metrics 127.0.0.1:")
                && call.ends_with(&format!(" --url http://{}", tunnel.target)),
            "{call}"
        );

        let check = s.app.check_reach().await.expect("check");
        assert!(
            check.works && check.public(),
            "through the tunnel: {check:?}"
        );
        // The chat page itself opens through the tunnel.
        let page = reqwest::get(&link).await.expect("page through the tunnel");
        assert_eq!(page.status(), StatusCode::OK);

        // Killed: started again, with a new address (a quick tunnel's changes every start).
        let pid = first.pid.expect("pid");
        assert!(
            std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status()
                .expect("kill")
                .success()
        );
        let again = wait_for(&mut changes, |s| s.starts >= 2 && up_url(s).is_some()).await;
        let new_url = up_url(&again).expect("url");
        assert_ne!(new_url, url);
        assert_eq!(s.app.base_url(), new_url);
        let change = s
            .app
            .reach()
            .await
            .expect("reach")
            .address_change
            .expect("a change to warn about");
        assert_eq!((change.from, change.to), (url, new_url));

        let pid = again.pid.expect("pid");
        tunnel.stop().await;
        assert!(!process_alive(pid), "no child left behind");
        s.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tailscale_funnel_and_ngrok_are_learned_from_their_own_interfaces() {
        let tools = FakeTools::install();
        let s = TestServer::start().await;
        for kind in [TunnelKind::Tailscale, TunnelKind::Ngrok] {
            let choice = TunnelChoice {
                kind,
                program: Some(tools.program(kind.program()).display().to_string()),
                named: None,
            };
            let tunnel = s.app.start_tunnel(choice).await.expect("start");
            let mut changes = tunnel.subscribe();
            let up = wait_for(&mut changes, |s| up_url(s).is_some()).await;
            let url = up_url(&up).expect("url");
            assert_eq!(s.app.base_url(), url);
            let check = s.app.check_reach().await.expect("check");
            assert!(check.public(), "{kind:?}: {check:?}");
            let pid = up.pid.expect("pid");
            tunnel.stop().await;
            assert!(!process_alive(pid), "{kind:?} left running");
        }
        let calls = tools.calls().join("\n");
        assert!(
            calls.contains("tailscale funnel --yes http://127.0.0.1:"),
            "{calls}"
        );
        assert!(calls.contains("tailscale funnel status --json"), "{calls}");
        assert!(
            calls.contains("ngrok http http://127.0.0.1:")
                && calls.contains("--log stdout --log-format json"),
            "{calls}"
        );
        s.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_named_cloudflared_tunnel_runs_by_name_and_uses_the_owners_hostname() {
        let tools = FakeTools::install();
        // A wrapper that runs the tool as its child (no exec), as some installs do: stopping the
        // tunnel must stop the real tool too.
        let wrapper = tools.dir.path().join("cloudflared-wrapper");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\n'{}' \"$@\"\n",
                tools.program("cloudflared").display()
            ),
        )
        .expect("write the wrapper");
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755))
                .expect("mode");
        }
        let s = TestServer::start().await;
        let choice = TunnelChoice {
            kind: TunnelKind::Cloudflared,
            program: Some(wrapper.display().to_string()),
            named: Some(chatlink_core::tunnel::NamedTunnel {
                name: "shop".into(),
                hostname: "Chat.Example.com".into(),
            }),
        };
        let tunnel = s.app.start_tunnel(choice).await.expect("start");
        let mut changes = tunnel.subscribe();
        let up = wait_for(&mut changes, |s| up_url(s).is_some()).await;
        // Known from the owner's hostname once cloudflared is ready; it lasts across starts.
        assert_eq!(up_url(&up).as_deref(), Some("https://chat.example.com"));
        assert!(up.choice.lasting());
        let calls = tools.calls();
        assert!(
            calls.iter().any(|c| c
                .starts_with("cloudflared tunnel --no-autoupdate --metrics 127.0.0.1:")
                && c.ends_with(&format!(" run --url http://{} shop", tunnel.target))),
            "{calls:?}"
        );
        assert_eq!(tools.running().len(), 1, "the tool runs under its wrapper");
        tunnel.stop().await;
        assert_eq!(
            tools.running(),
            Vec::<u32>::new(),
            "the wrapper's child stopped too"
        );
        s.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_missing_tunnel_program_is_a_clear_error() {
        let s = TestServer::start().await;
        let choice = TunnelChoice {
            kind: TunnelKind::Ngrok,
            program: Some("/nonexistent/ngrok".into()),
            named: None,
        };
        let err = s.app.start_tunnel(choice).await.err().expect("refused");
        assert_eq!(err.code(), "invalid_input");
        assert!(err.to_string().contains("/nonexistent/ngrok"), "{err}");
        s.stop().await;
    }

    /// GETs `path` through `base` as if from `visitor` (a `CF-Connecting-IP` header); the status.
    async fn get_as(client: &reqwest::Client, base: &str, visitor: &str) -> u16 {
        client
            .get(format!("{base}/healthz"))
            .header("cf-connecting-ip", visitor)
            .send()
            .await
            .expect("get")
            .status()
            .as_u16()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cf_connecting_ip_is_believed_from_the_managed_tunnel_only() {
        let tools = FakeTools::install();
        let mut limits = Limits::default();
        limits.set("reads_burst", "3").expect("burst");
        limits.set("reads_per_minute", "1").expect("rate");
        let s = TestServer::start_with(limits).await;
        let choice = TunnelChoice {
            kind: TunnelKind::Cloudflared,
            program: Some(tools.program("cloudflared").display().to_string()),
            named: None,
        };
        let tunnel = s.app.start_tunnel(choice).await.expect("start");
        let mut changes = tunnel.subscribe();
        let url = up_url(&wait_for(&mut changes, |s| up_url(s).is_some()).await).expect("url");
        let client = reqwest::Client::new();
        // Through the tunnel: two visitors, each with a budget of their own.
        for visitor in ["203.0.113.1", "203.0.113.2"] {
            let codes: Vec<u16> =
                futures_util::future::join_all((0..4).map(|_| get_as(&client, &url, visitor)))
                    .await;
            assert_eq!(
                codes.iter().filter(|c| **c == 429).count(),
                1,
                "{visitor}: {codes:?}"
            );
        }
        // Straight to the server, the same header is a forgery: one budget for this address.
        let direct: Vec<u16> = futures_util::future::join_all(
            [
                "198.51.100.1",
                "198.51.100.2",
                "198.51.100.3",
                "198.51.100.4",
            ]
            .map(|v| get_as(&client, &s.base_url, v)),
        )
        .await;
        assert_eq!(
            direct.iter().filter(|c| **c == 429).count(),
            1,
            "{direct:?}"
        );
        tunnel.stop().await;
        s.stop().await;
    }
}
