//! The public HTTP surface over real TCP: a server on 127.0.0.1:0, a real SQLite file, a real SSE
//! client, and an OpenAI-compatible provider started on loopback where a slow agent is needed.

mod common;

use std::time::{Duration, Instant};

use chatlink_core::app::{IssueLink, LinkKind};
use chatlink_core::secret::SecretBackend;
use chatlink_core::{App, AppConfig, Limits};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};

use chatlink_test_support::FakeProvider;
use common::*;

#[tokio::test]
async fn chat_page_headers_redirect_and_error_pages() {
    let s = start().await;
    let (id, link) = s.link(IssueLink::chat("demo")).await;
    let res = s.client.get(&link).send().await.expect("page");
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers().clone();
    let csp = h["content-security-policy"].to_str().expect("csp");
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'sha256-"),
        "{csp}"
    );
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h.get("set-cookie").is_none());
    let html = res.text().await.expect("html");
    assert!(
        html.contains("Rosie&#39;s Bakery") && !html.contains("src=\"http"),
        "self-contained page"
    );

    let res = s
        .client
        .get(link.trim_end_matches('/'))
        .send()
        .await
        .expect("no slash");
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(
        res.headers()["location"].to_str().expect("loc"),
        link.strip_prefix(&s.base).expect("path")
    );

    let unknown = format!("{}/chat/{}/", s.base, "A".repeat(43));
    let res = s.client.get(&unknown).send().await.expect("unknown");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(
        res.text()
            .await
            .expect("html")
            .contains("data-code=\"not_found\"")
    );

    s.app.revoke_link(id).await.expect("revoke");
    let res = s.client.get(&link).send().await.expect("revoked");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        res.text()
            .await
            .expect("html")
            .contains("data-code=\"link_revoked\"")
    );
    let res = s.post(&link, json!({"content": "hi"})).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(res).await, "link_revoked");
}

#[tokio::test]
async fn a_turn_streams_with_ids_and_resumes_exactly() {
    let s = start().await;
    let (_, link) = s.link(IssueLink::chat("demo")).await;
    let posted = s.ask(&link, "Do you deliver?").await;
    for key in ["turn_id", "conversation_id", "message_id"] {
        assert!(
            posted[key].as_str().is_some_and(|v| v.len() == 22),
            "{posted}"
        );
    }
    let turn = posted["turn_id"].as_str().expect("turn");
    let res = s.sse(&link, turn, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    assert_eq!(res.headers()["cache-control"], "no-cache, no-transform");
    assert_eq!(res.headers()["x-accel-buffering"], "no");
    let all = all_events(res).await;
    let names: Vec<&str> = all.iter().map(|e| e.event.as_str()).collect();
    assert!(
        names.len() >= 3 && names[..names.len() - 2].iter().all(|n| *n == "delta"),
        "{names:?}"
    );
    assert_eq!(&names[names.len() - 2..], ["message", "done"]);
    let ids: Vec<i64> = all
        .iter()
        .map(|e| e.id.parse().expect("numeric id"))
        .collect();
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "{ids:?}");
    let text: String = all
        .iter()
        .filter(|e| e.event == "delta")
        .map(|e| {
            serde_json::from_str::<Value>(&e.data).expect("delta")["text"]
                .as_str()
                .expect("text")
                .to_owned()
        })
        .collect();
    let message: Value = serde_json::from_str(&all[all.len() - 2].data).expect("message");
    assert_eq!(
        message["content"].as_str(),
        Some(text.as_str()),
        "deltas add up to the message"
    );
    assert_eq!(message["role"], "assistant");
    assert!(text.contains("5 km"), "{text}");
    let done: Value = serde_json::from_str(&all[all.len() - 1].data).expect("done");
    assert_eq!(done, json!({"turn_id": turn, "status": "ok"}));

    // Resume after the second frame by header and by query: exactly the rest, once, in order.
    let rest = all_events(s.sse(&link, turn, Some(&all[1].id)).await).await;
    assert_eq!(
        rest.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        all[2..].iter().map(|e| e.id.clone()).collect::<Vec<_>>()
    );
    let by_query = s
        .client
        .get(format!("{link}{turn}/sse?last_event_id={}", all[1].id))
        .send()
        .await
        .expect("query");
    assert_eq!(all_events(by_query).await.len(), all.len() - 2);
    let bad = s.sse(&link, turn, Some("abc")).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    let conv = posted["conversation_id"].as_str().expect("conv");
    let history: Value = s
        .client
        .get(format!("{link}history?conversation_id={conv}"))
        .send()
        .await
        .expect("history")
        .json()
        .await
        .expect("json");
    let roles: Vec<&str> = history["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["role"].as_str().expect("role"))
        .collect();
    assert_eq!(roles, ["user", "assistant"]);
    assert_eq!(history["messages"][1]["id"], message["id"]);
    assert_eq!(history["running_turn_id"], Value::Null);

    // A second message continues the conversation.
    let again = s.ask_in(&link, "And on Sundays?", conv).await;
    assert_eq!(again["conversation_id"], posted["conversation_id"]);
}

impl Server {
    async fn ask_in(&self, link: &str, content: &str, conv: &str) -> Value {
        let res = self
            .post(link, json!({"content": content, "conversation_id": conv}))
            .await;
        assert_eq!(res.status(), StatusCode::ACCEPTED);
        res.json().await.expect("json")
    }
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let s = start().await;
    let (_, link) = s.link(IssueLink::chat("demo")).await;
    let before = (
        s.count("messages"),
        s.count("conversations"),
        s.count("turns"),
    );
    let cases: Vec<(reqwest::RequestBuilder, StatusCode, &str)> = vec![
        (
            s.client.post(&link).json(&json!({"content": ""})),
            StatusCode::BAD_REQUEST,
            "invalid_input",
        ),
        (
            s.client
                .post(&link)
                .json(&json!({"content": "x".repeat(4001)})),
            StatusCode::BAD_REQUEST,
            "invalid_input",
        ),
        (
            s.client.post(&link).json(&json!({"text": "hi"})),
            StatusCode::BAD_REQUEST,
            "invalid_input",
        ),
        (
            s.client
                .post(&link)
                .body("{not json")
                .header("content-type", "application/json"),
            StatusCode::BAD_REQUEST,
            "invalid_input",
        ),
        (
            s.client.post(&link).body("hi"),
            StatusCode::BAD_REQUEST,
            "invalid_input",
        ),
        (
            s.client
                .post(&link)
                .json(&json!({"content": "y".repeat(17 * 1024)})),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            s.client
                .post(&link)
                .json(&json!({"content": "hi", "conversation_id": "A".repeat(22)})),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            s.client.get(format!("{link}history")),
            StatusCode::BAD_REQUEST,
            "invalid_input",
        ),
        (
            s.client.get(format!("{link}history?conversation_id=nope")),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            s.client.get(format!("{link}{}/sse", "B".repeat(22))),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            s.client.get(format!("{}/nowhere", s.base)),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (req, status, code) in cases {
        let res = req.send().await.expect("send");
        assert_eq!(res.status(), status);
        assert_eq!(error_code(res).await, code);
    }
    assert_eq!(
        (
            s.count("messages"),
            s.count("conversations"),
            s.count("turns")
        ),
        before,
        "nothing written"
    );
    // 4000 characters of multi-byte text is fine: the limit counts characters, not bytes.
    assert_eq!(
        s.post(&link, json!({"content": "é".repeat(4000)}))
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    let form = s
        .client
        .post(&link)
        .form(&[("content", "hello from a form")])
        .send()
        .await
        .expect("form");
    assert_eq!(form.status(), StatusCode::ACCEPTED);
    assert_eq!(s.count("turns") - before.2, 2);
}

#[tokio::test]
async fn gets_never_create_anything() {
    let s = start().await;
    let (_, link) = s.link(IssueLink::chat("demo")).await;
    let before = (
        s.count("conversations"),
        s.count("messages"),
        s.count("turns"),
    );
    for _ in 0..3 {
        assert_eq!(
            s.client.get(&link).send().await.expect("get").status(),
            StatusCode::OK
        );
        s.client.head(&link).send().await.expect("head");
        s.client
            .get(format!("{link}history?conversation_id={}", "C".repeat(22)))
            .send()
            .await
            .expect("history");
    }
    assert_eq!(
        (
            s.count("conversations"),
            s.count("messages"),
            s.count("turns")
        ),
        before
    );
}

#[tokio::test]
async fn hooks_and_link_kinds_stay_apart() {
    let s = start().await;
    let (_, chat) = s.link(IssueLink::chat("demo")).await;
    let (_, hook) = s
        .link(IssueLink {
            kind: LinkKind::Hook {
                source: "forms".into(),
            },
            ..IssueLink::chat("demo")
        })
        .await;
    let chat_token = chat
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .expect("token");
    let hook_token = hook.rsplit('/').next().expect("token");

    let res = s
        .client
        .post(format!("{}/hook/{chat_token}", s.base))
        .body("hi")
        .send()
        .await
        .expect("web at hook");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = s
        .client
        .get(format!("{}/chat/{hook_token}/", s.base))
        .send()
        .await
        .expect("hook at chat");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = s
        .client
        .post(format!("{}/chat/{hook_token}/", s.base))
        .json(&json!({"content": "hi"}))
        .send()
        .await
        .expect("hook post at chat");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    let res = s
        .client
        .post(&hook)
        .body("New order: 2 sourdough loaves for pickup at 9")
        .send()
        .await
        .expect("hook");
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let v: Value = res.json().await.expect("json");
    assert!(v["turn_id"].as_str().is_some());
    let too_big = vec![b'x'; 1024 * 1024 + 1];
    let res = s
        .client
        .post(&hook)
        .body(too_big)
        .send()
        .await
        .expect("big hook");
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let just_fits = "y".repeat(1024 * 1024);
    let res = s
        .client
        .post(&hook)
        .body(just_fits)
        .send()
        .await
        .expect("1 MiB hook");
    assert_eq!(res.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    let s = start_with(Limits {
        client_per_minute: 3,
        client_burst: 3,
        ..Limits::default()
    })
    .await;
    let (_, link) = s.link(IssueLink::chat("demo")).await;
    for i in 0..3 {
        assert_eq!(
            s.post(&link, json!({"content": format!("hello {i}")}))
                .await
                .status(),
            StatusCode::ACCEPTED
        );
    }
    let res = s.post(&link, json!({"content": "one too many"})).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .expect("header")
        .parse()
        .expect("seconds");
    assert!((1..=20).contains(&retry), "{retry}");
    assert_eq!(error_code(res).await, "rate_limited");
}

#[tokio::test]
async fn the_stream_cap_answers_503_and_frees_up() {
    let s = start_with(Limits {
        max_streams: 1,
        ..Limits::default()
    })
    .await;
    slow_agent(&s, "slow").await;
    let (_, link) = s.link(IssueLink::chat("slow")).await;
    let turn = s.ask(&link, "anything").await["turn_id"]
        .as_str()
        .expect("turn")
        .to_owned();
    let first = s.sse(&link, &turn, None).await;
    assert_eq!(first.status(), StatusCode::OK);
    let second = s.sse(&link, &turn, None).await;
    assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(second.headers().contains_key("retry-after"));
    assert_eq!(error_code(second).await, "too_many_streams");
    drop(first);
    // The server notices the closed connection at its next write; the ping interval bounds that,
    // so poll instead of waiting for it.
    let deadline = Instant::now() + Duration::from_secs(20);
    while s.app.open_streams() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(s.app.open_streams(), 0);
}

#[tokio::test]
async fn revocation_closes_open_streams_within_a_second_even_from_another_process() {
    let s = start().await;
    slow_agent(&s, "slow").await;
    let (id, link) = s
        .link(IssueLink {
            suffix: Some("a".into()),
            ..IssueLink::chat("slow")
        })
        .await;
    let (_, other_link) = s
        .link(IssueLink {
            suffix: Some("b".into()),
            ..IssueLink::chat("slow")
        })
        .await;
    let turn = s.ask(&link, "hello").await["turn_id"]
        .as_str()
        .expect("turn")
        .to_owned();
    let other_turn = s.ask(&other_link, "hello").await["turn_id"]
        .as_str()
        .expect("turn")
        .to_owned();
    let mut stream = events(s.sse(&link, &turn, None).await);
    let mut other = events(s.sse(&other_link, &other_turn, None).await);
    assert_eq!(stream.next().await.expect("first delta").event, "delta");
    assert_eq!(other.next().await.expect("first delta").event, "delta");

    // Revoke through a second App on the same data folder, as `chatlink token revoke` does.
    let cli =
        App::open(AppConfig::new(s.app.data_dir(), SecretBackend::Memory)).expect("second app");
    let started = Instant::now();
    cli.revoke_link(id).await.expect("revoke");
    let end = tokio::time::timeout(Duration::from_secs(2), stream.next())
        .await
        .expect("stream ends");
    assert!(end.is_none());
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "closed after {took:?}");
    assert!(
        tokio::time::timeout(Duration::from_millis(300), other.next())
            .await
            .is_err(),
        "other link untouched"
    );
    assert_eq!(
        s.post(&link, json!({"content": "again"})).await.status(),
        StatusCode::UNAUTHORIZED
    );
    println!("revocation by another process closed the stream in {took:?}");
}

#[tokio::test]
async fn a_second_message_while_a_reply_runs_is_409_and_shutdown_ends_streams() {
    let s = start().await;
    slow_agent(&s, "slow").await;
    let (_, link) = s.link(IssueLink::chat("slow")).await;
    let first = s.ask(&link, "hello").await;
    let conv = first["conversation_id"].as_str().expect("conv");
    let res = s
        .post(&link, json!({"content": "hello?", "conversation_id": conv}))
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(res).await, "turn_in_progress");
    let history: Value = s
        .client
        .get(format!("{link}history?conversation_id={conv}"))
        .send()
        .await
        .expect("h")
        .json()
        .await
        .expect("json");
    assert_eq!(history["running_turn_id"], first["turn_id"]);

    let mut stream = events(
        s.sse(&link, first["turn_id"].as_str().expect("turn"), None)
            .await,
    );
    assert_eq!(stream.next().await.expect("delta").event, "delta");
    let started = Instant::now();
    s.app.shutdown().await;
    let end = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("stream ends on shutdown");
    assert!(end.is_none());
    println!(
        "shutdown ended the stream and the running turn in {:?}",
        started.elapsed()
    );
    // The interrupted turn was written as an error, with the partial reply kept.
    let status: String = s
        .db()
        .query_row(
            "SELECT status FROM turns WHERE id = ?1",
            [first["turn_id"].as_str().expect("turn")],
            |r| r.get(0),
        )
        .expect("turn row");
    assert_eq!(status, "error");
}

#[tokio::test]
async fn a_failing_provider_ends_the_turn_with_a_visitor_safe_error() {
    let s = start().await;
    let provider = FakeProvider::failing(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal provider detail sk-live-999",
    )
    .await;
    agent_on(&s.app, "ai", &provider.base_url).await;
    let (_, link) = s.link(IssueLink::chat("ai")).await;
    let turn = s.ask(&link, "hi").await["turn_id"]
        .as_str()
        .expect("turn")
        .to_owned();
    let all = all_events(s.sse(&link, &turn, None).await).await;
    let done: Value = serde_json::from_str(&all.last().expect("done").data).expect("json");
    assert_eq!(done["status"], "error");
    assert!(!done.to_string().contains("sk-live-999"));
    // The server keeps serving.
    let (_, demo) = s.link(IssueLink::chat("demo")).await;
    assert_eq!(
        s.client.get(&demo).send().await.expect("page").status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_unanswerable_question_hands_off_and_a_suffix_gets_its_own_greeting() {
    let s = start().await;
    s.app
        .set_route_rule(
            "web:demo/wedding",
            None,
            Some("Planning a wedding? Ask me about our cakes.".into()),
        )
        .await
        .expect("rule");
    let (_, plain) = s.link(IssueLink::chat("demo")).await;
    let (_, wedding) = s
        .link(IssueLink {
            suffix: Some("wedding".into()),
            ..IssueLink::chat("demo")
        })
        .await;
    let page = s
        .client
        .get(&wedding)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(
        page.contains("Planning a wedding?"),
        "the suffix's greeting"
    );
    let page = s
        .client
        .get(&plain)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(
        !page.contains("Planning a wedding?") && page.contains("Ask me about our opening hours")
    );

    let turn = s.ask(&plain, "Can you fix my car's gearbox?").await["turn_id"]
        .as_str()
        .expect("turn")
        .to_owned();
    let all = all_events(s.sse(&plain, &turn, None).await).await;
    let done: Value = serde_json::from_str(&all.last().expect("done").data).expect("json");
    assert_eq!(done["status"], "handoff");
    let state: String = s
        .db()
        .query_row(
            "SELECT state FROM conversations ORDER BY created_at DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .expect("state");
    assert_eq!(state, "handoff");
}
