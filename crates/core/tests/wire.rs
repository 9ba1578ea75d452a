//! The bytes visitors' pages and customers' widgets parse, pinned on a real server: the SSE
//! framing of every frame kind (`id:`, `event:`, one `data:` line), and JSON objects whose keys
//! come in the order the wire has always had (sorted) with nothing else in them. The frames'
//! JSON itself is pinned byte for byte in `model::tests::wire_format_is_pinned`; these tests
//! pin what the HTTP layer makes of it.

mod common;

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;

use common::*;

/// One SSE block as the server wrote it.
#[derive(Debug)]
struct Block {
    id: i64,
    event: String,
    data: String,
}

/// Splits a raw SSE body into blocks, asserting each is exactly `id`, `event`, `data`, in that
/// order, one line each, and skipping `: ping` comments.
fn blocks(raw: &str) -> Vec<Block> {
    assert!(
        raw.ends_with("\n\n"),
        "a stream ends after a whole block: {raw:?}"
    );
    raw.split_terminator("\n\n")
        .filter(|b| !b.starts_with(':'))
        .map(|b| {
            let lines: Vec<&str> = b.split('\n').collect();
            let [id, event, data] = lines[..] else {
                panic!("a frame is three lines, id, event and data: {b:?}");
            };
            Block {
                id: id
                    .strip_prefix("id: ")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| panic!("id line: {id:?}")),
                event: event
                    .strip_prefix("event: ")
                    .unwrap_or_else(|| panic!("event line: {event:?}"))
                    .to_owned(),
                data: data
                    .strip_prefix("data: ")
                    .unwrap_or_else(|| panic!("data line: {data:?}"))
                    .to_owned(),
            }
        })
        .collect()
}

/// The frame's JSON with exactly `keys`, written compactly in sorted order (serde_json's `Value`
/// re-serializes that way, so equality pins the bytes).
fn object(b: &Block, keys: &[&str]) -> Value {
    let v: Value = serde_json::from_str(&b.data).expect("frame JSON");
    let got: Vec<&str> = v
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(got, keys, "{} frame keys", b.event);
    assert_eq!(v.to_string(), b.data, "compact, keys sorted: {}", b.data);
    v
}

fn is_rfc3339_millis(s: &str) -> bool {
    s.len() == 24 && s.ends_with('Z') && s.as_bytes()[10] == b'T' && s.as_bytes()[19] == b'.'
}

#[tokio::test]
async fn a_turns_frames_keep_their_bytes() {
    let s = start().await;
    let (_, link) = s.link(chatlink_core::app::IssueLink::chat("demo")).await;
    let posted = s.ask(&link, "When are you open on Sunday?").await;
    let turn = posted["turn_id"].as_str().expect("turn");
    let raw = s.sse(&link, turn, None).await.text().await.expect("body");
    let got = blocks(&raw);
    let (last, rest) = got.split_last().expect("frames");
    let (message, deltas) = rest.split_last().expect("a message");
    assert!(!deltas.is_empty());
    for (i, b) in got.iter().enumerate() {
        assert_eq!(b.id, 1 + i as i64, "ids count up from 1");
    }
    let mut text = String::new();
    for d in deltas {
        assert_eq!(d.event, "delta");
        let v = object(d, &["text", "turn_id"]);
        assert_eq!(v["turn_id"], turn);
        text.push_str(v["text"].as_str().expect("text"));
    }
    assert_eq!(message.event, "message");
    let m = object(message, &["content", "created_at", "id", "role", "turn_id"]);
    assert_eq!(
        m["content"],
        text.as_str(),
        "the deltas add up to the message"
    );
    assert_eq!(
        (m["role"].as_str(), m["turn_id"].as_str()),
        (Some("assistant"), Some(turn))
    );
    assert!(
        is_rfc3339_millis(m["created_at"].as_str().expect("time")),
        "{m}"
    );
    assert_eq!(last.event, "done");
    assert_eq!(
        last.data,
        format!(r#"{{"status":"ok","turn_id":"{turn}"}}"#)
    );

    // Replayed from the store after a restart of the stream, the bytes are the same.
    let again = s
        .sse(&link, turn, Some("0"))
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(again, raw);
}

#[tokio::test]
async fn an_owner_message_and_a_handoff_keep_their_bytes() {
    let s = start().await;
    let (_, link) = s.link(chatlink_core::app::IssueLink::chat("demo")).await;
    let posted = s.ask(&link, "Can you fix my bicycle?").await;
    let (turn, conv) = (
        posted["turn_id"].as_str().expect("turn"),
        posted["conversation_id"].as_str().expect("conversation"),
    );
    let raw = s.sse(&link, turn, None).await.text().await.expect("body");
    let done = blocks(&raw).pop().expect("done");
    assert_eq!(
        done.data,
        format!(r#"{{"status":"handoff","turn_id":"{turn}"}}"#)
    );

    let reply = s
        .app
        .owner_reply(conv, "Hi, Rosie here: \"bikes\" are not us, sorry!")
        .await
        .expect("reply");
    let res = s
        .client
        .get(format!("{link}events?conversation_id={conv}"))
        .header("Last-Event-ID", done.id.to_string())
        .send()
        .await
        .expect("conversation stream");
    let mut body = res.bytes_stream();
    let mut raw = String::new();
    while !(raw.contains("event: message") && raw.ends_with("\n\n")) {
        let chunk = tokio::time::timeout(Duration::from_secs(5), body.next())
            .await
            .expect("the owner's message arrives")
            .expect("open")
            .expect("bytes");
        raw.push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
    }
    let got = blocks(&raw);
    let owner = got.first().expect("the owner's message");
    assert_eq!((owner.id, owner.event.as_str()), (done.id + 1, "message"));
    let v = object(owner, &["content", "created_at", "id", "role", "turn_id"]);
    assert_eq!(v["role"], "owner");
    assert_eq!(v["id"], reply.id.as_str());
    assert_eq!(v["content"], "Hi, Rosie here: \"bikes\" are not us, sorry!");
    assert!(
        owner.data.contains(r#"Rosie here: \"bikes\""#),
        "quotes escaped as before"
    );
}
