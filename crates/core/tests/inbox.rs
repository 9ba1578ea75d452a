//! The owner's side over real HTTP: the conversation-level stream (owner replies reach an open
//! page at once, `Last-Event-ID` resumes it), taking over (the agent stays quiet), handing back,
//! resolving, the inbox's filters and search, daily counts, exports and retention.

mod common;

use std::time::Duration;

use chatlink_core::app::Channel;
use chatlink_core::app::{ExportFormat, ExportScope, InboxFilter, IssueLink};
use chatlink_core::hub::OwnerEvent;
use chatlink_core::model::{ConversationState, now_ms};
use common::{all_events, error_code, events, start};
use eventsource_stream::Event;
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(5);

/// Asks and waits for the turn's `done`; returns (conversation id, done status).
async fn ask_and_wait(
    server: &common::Server,
    link: &str,
    content: &str,
    conversation: Option<&str>,
) -> (String, String) {
    let mut body = serde_json::json!({ "content": content });
    if let Some(c) = conversation {
        body["conversation_id"] = c.into();
    }
    let res = server.post(link, body).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let posted: Value = res.json().await.expect("json");
    let turn = posted["turn_id"].as_str().expect("turn");
    let frames = all_events(server.sse(link, turn, None).await).await;
    let done = frames.last().expect("frames");
    assert_eq!(done.event, "done");
    let status: Value = serde_json::from_str(&done.data).expect("done json");
    (
        posted["conversation_id"]
            .as_str()
            .expect("conversation")
            .to_owned(),
        status["status"].as_str().expect("status").to_owned(),
    )
}

fn conversation_stream(
    server: &common::Server,
    link: &str,
    conversation: &str,
    last: Option<&str>,
) -> reqwest::RequestBuilder {
    let mut req = server
        .client
        .get(format!("{link}events?conversation_id={conversation}"));
    if let Some(id) = last {
        req = req.header("Last-Event-ID", id);
    }
    req
}

async fn next(stream: &mut (impl futures_util::Stream<Item = Event> + Unpin)) -> Event {
    tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("an event in time")
        .expect("the stream stays open")
}

#[tokio::test]
async fn an_owner_reply_reaches_the_open_page_and_the_agent_stays_quiet_until_handed_back() {
    let server = start().await;
    let (_, link) = server.link(IssueLink::chat("demo")).await;
    let (conv, status) = ask_and_wait(&server, &link, "can you fix my bicycle?", None).await;
    assert_eq!(status, "handoff", "the agent cannot help and hands over");
    let inbox = server
        .app
        .inbox(InboxFilter {
            state: Some("handoff".into()),
            ..InboxFilter::default()
        })
        .await
        .expect("inbox");
    assert_eq!(inbox.len(), 1);
    assert_eq!(
        (inbox[0].id.as_str(), inbox[0].channel),
        (conv.as_str(), Channel::Link)
    );
    assert!(!inbox[0].taken_over);

    // The visitor's page holds the conversation stream open; it first replays what is stored.
    let res = conversation_stream(&server, &link, &conv, None)
        .send()
        .await
        .expect("events");
    assert_eq!(res.status(), StatusCode::OK);
    let mut page = events(res);
    let mut replayed = Vec::new();
    loop {
        let e = next(&mut page).await;
        let done = e.event == "done";
        replayed.push(e);
        if done {
            break;
        }
    }
    assert!(replayed.iter().any(|e| e.event == "message"));
    let last_replayed = replayed.last().expect("replayed").id.clone();

    // The owner replies: the page gets it as a `message` frame with role `owner`, at once.
    let reply = server
        .app
        .owner_reply(&conv, "Hi, this is Rosie. Bring it by on Tuesday!")
        .await
        .expect("reply");
    let e = next(&mut page).await;
    assert_eq!(e.event, "message");
    let data: Value = serde_json::from_str(&e.data).expect("json");
    assert_eq!(data["role"], "owner");
    assert_eq!(data["id"], reply.id.as_str());
    assert_eq!(
        data["content"],
        "Hi, this is Rosie. Bring it by on Tuesday!"
    );
    assert!(
        e.id.parse::<i64>().expect("id") > last_replayed.parse::<i64>().expect("id"),
        "ids keep growing"
    );

    // Taken over: the visitor writes, the agent produces nothing, the turn waits for the owner.
    let summary = server.app.conversation(&conv).await.expect("detail");
    assert!(summary.conversation.taken_over);
    let mut owner_events = server.app.owner_events();
    let before = server.count("messages WHERE role = 'assistant'");
    let (_, status) =
        ask_and_wait(&server, &link, "When are you open on Sunday?", Some(&conv)).await;
    assert_eq!(status, "handoff");
    assert_eq!(
        server.count("messages WHERE role = 'assistant'"),
        before,
        "no agent reply while the owner has the conversation"
    );
    // The window hears "the visitor wrote to you", not a new handoff.
    // (The event follows the turn's `done`, so wait for it rather than peek.)
    let mut heard = Vec::new();
    while let Ok(Ok(e)) =
        tokio::time::timeout(Duration::from_millis(500), owner_events.recv()).await
    {
        let wrote = matches!(e, OwnerEvent::VisitorWrote { .. });
        heard.push(e);
        if wrote {
            break;
        }
    }
    assert!(
        heard.iter().any(|e| matches!(e, OwnerEvent::VisitorWrote { conversation_id } if *conversation_id == conv)),
        "{heard:?}"
    );
    assert!(
        !heard
            .iter()
            .any(|e| matches!(e, OwnerEvent::Handoff { .. })),
        "{heard:?}"
    );
    // The page's stream carries that turn's done too (no message: nobody answered yet).
    let e = next(&mut page).await;
    assert_eq!(e.event, "done");

    // A resume from the owner's message replays exactly what came after it.
    let resumed = conversation_stream(&server, &link, &conv, Some(&e.id))
        .send()
        .await
        .expect("resume");
    let mut resumed = events(resumed);
    server
        .app
        .owner_reply(&conv, "We open at 8 on Sunday.")
        .await
        .expect("reply");
    let e2 = next(&mut resumed).await;
    assert_eq!(e2.event, "message");
    assert!(e2.data.contains("We open at 8"));
    assert_eq!(next(&mut page).await.id, e2.id, "both streams agree");

    // Handed back: the agent answers again.
    let back = server.app.hand_back(&conv).await.expect("hand back");
    assert!(!back.taken_over);
    assert_eq!(back.state, ConversationState::Open);
    let (_, status) =
        ask_and_wait(&server, &link, "When are you open on Sunday?", Some(&conv)).await;
    assert_eq!(status, "ok");
    let detail = server.app.conversation(&conv).await.expect("detail");
    let roles: Vec<&str> = detail.messages.iter().map(|m| m.role.as_str()).collect();
    assert_eq!(
        roles,
        [
            "user",
            "assistant",
            "owner",
            "user",
            "owner",
            "user",
            "assistant"
        ]
    );

    // Resolved; a visitor writing again reopens it.
    assert_eq!(
        server.app.resolve(&conv).await.expect("resolve").state,
        ConversationState::Resolved
    );
    ask_and_wait(&server, &link, "Thanks!", Some(&conv)).await;
    let state = server.app.conversation(&conv).await.expect("detail");
    assert_eq!(state.conversation.state, ConversationState::Open);
}

#[tokio::test]
async fn the_conversation_stream_is_the_links_alone_and_ends_when_it_is_revoked() {
    let server = start().await;
    let (id, link) = server.link(IssueLink::chat("demo")).await;
    let (_, other) = server
        .link(IssueLink {
            suffix: Some("other".into()),
            ..IssueLink::chat("demo")
        })
        .await;
    let (conv, _) = ask_and_wait(&server, &link, "When are you open on Sunday?", None).await;
    for (link, conv) in [(&other, conv.as_str()), (&link, "nope"), (&link, "")] {
        let res = conversation_stream(&server, link, conv, None)
            .send()
            .await
            .expect("events");
        assert!(res.status().is_client_error(), "{}", res.status());
    }
    let res = server
        .client
        .get(format!("{link}events"))
        .send()
        .await
        .expect("no id");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(res).await, "invalid_input");

    let res = conversation_stream(&server, &link, &conv, Some("999999"))
        .send()
        .await
        .expect("events");
    let stream = events(res);
    server.app.revoke_link(id).await.expect("revoke");
    let rest = tokio::time::timeout(Duration::from_secs(2), stream.collect::<Vec<_>>())
        .await
        .expect("revocation ends the stream within a second or two");
    assert!(rest.is_empty());

    // Owner calls refuse what does not exist and bad input, changing nothing.
    for bad in ["", "nope", "../../etc"] {
        assert_eq!(
            server.app.take_over(bad).await.expect_err("unknown").code(),
            "not_found"
        );
    }
    assert_eq!(
        server
            .app
            .owner_reply(&conv, "   ")
            .await
            .expect_err("empty")
            .code(),
        "invalid_input"
    );
    assert_eq!(
        server
            .app
            .inbox(InboxFilter {
                state: Some("closed".into()),
                ..InboxFilter::default()
            })
            .await
            .expect_err("state")
            .code(),
        "invalid_input"
    );
    assert!(
        !server
            .app
            .conversation(&conv)
            .await
            .expect("detail")
            .conversation
            .taken_over
    );
}

#[tokio::test]
async fn inbox_filters_search_counts_exports_and_retention() {
    let server = start().await;
    let (flyer_id, flyer) = server
        .link(IssueLink {
            suffix: Some("flyer".into()),
            label: Some("Counter flyer".into()),
            ..IssueLink::chat("demo")
        })
        .await;
    let (_, web) = server.link(IssueLink::chat("demo")).await;
    let (a, _) = ask_and_wait(&server, &flyer, "Do you make wedding cakes?", None).await;
    let (b, _) = ask_and_wait(&server, &web, "When are you open on Sunday?", None).await;
    let (c, _) = ask_and_wait(&server, &web, "can you fix my bicycle?", None).await;

    let all = server.app.inbox(InboxFilter::default()).await.expect("all");
    assert_eq!(
        all.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        [c.as_str(), b.as_str(), a.as_str()],
        "newest activity first"
    );
    let flyer_only = server
        .app
        .inbox(InboxFilter {
            jid: Some("web:demo/flyer".into()),
            ..InboxFilter::default()
        })
        .await
        .expect("jid");
    assert_eq!(flyer_only.len(), 1);
    assert_eq!(flyer_only[0].link_label.as_deref(), Some("Counter flyer"));
    let found = server
        .app
        .inbox(InboxFilter {
            search: Some("SUNDAY".into()),
            ..InboxFilter::default()
        })
        .await
        .expect("search");
    assert_eq!(
        found.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        [b.as_str()]
    );
    let literal = server
        .app
        .inbox(InboxFilter {
            search: Some("100%".into()),
            ..InboxFilter::default()
        })
        .await
        .expect("search");
    assert!(literal.is_empty(), "% is a character, not a wildcard");
    assert!(
        server
            .app
            .inbox(InboxFilter {
                agent: Some("nobody".into()),
                ..InboxFilter::default()
            })
            .await
            .expect("agent")
            .is_empty()
    );

    // Today's bar counts three conversations and three visitor messages; the flyer's one each.
    let days = server.app.activity(30, 0, None).await.expect("activity");
    assert_eq!(days.len(), 30);
    let today = days.last().expect("today");
    assert_eq!((today.conversations, today.messages), (3, 3));
    assert!(
        days[..29]
            .iter()
            .all(|d| d.conversations == 0 && d.messages == 0)
    );
    let flyer_days = server
        .app
        .activity(30, 120, Some(flyer_id))
        .await
        .expect("per link");
    assert_eq!(flyer_days.iter().map(|d| d.conversations).sum::<i64>(), 1);
    assert_eq!(
        server
            .app
            .activity(0, 0, None)
            .await
            .expect_err("days")
            .code(),
        "invalid_input"
    );
    assert_eq!(
        server
            .app
            .activity(30, 0, Some(999))
            .await
            .expect_err("link")
            .code(),
        "not_found"
    );

    // Exports: JSON with every message, CSV with a row per message.
    let json = server
        .app
        .export(ExportScope::Conversation(b.clone()), ExportFormat::Json)
        .await
        .expect("json");
    let parsed: Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(parsed[0]["conversation"]["id"], b.as_str());
    assert_eq!(
        parsed[0]["messages"][0]["content"],
        "When are you open on Sunday?"
    );
    let csv = server
        .app
        .export(
            ExportScope::Between {
                from: now_ms() - 60_000,
                to: now_ms() + 60_000,
            },
            ExportFormat::Csv,
        )
        .await
        .expect("csv");
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 6, "three questions and three answers");
    assert!(rows.iter().any(|r| &r[8] == "Do you make wedding cakes?"));
    assert_eq!(
        server
            .app
            .export(ExportScope::Between { from: 10, to: 5 }, ExportFormat::Csv)
            .await
            .expect_err("range")
            .code(),
        "invalid_input"
    );

    // Retention: old resolved conversations go; open ones and one waiting for the owner stay.
    let messages_of = |id: i64| {
        let app = server.app.clone();
        async move { app.link(id).await.expect("link").messages }
    };
    assert_eq!(messages_of(flyer_id).await, 1);
    server.app.resolve(&a).await.expect("resolve a");
    server
        .db()
        .execute(
            "UPDATE conversations SET updated_at = updated_at - 40 * 86400000",
            [],
        )
        .expect("age them");
    assert_eq!(server.app.retention_days().await.expect("off"), None);
    assert_eq!(
        server
            .app
            .set_retention_days(Some(0))
            .await
            .expect_err("bounds")
            .code(),
        "invalid_input"
    );
    assert_eq!(
        server.app.set_retention_days(Some(50)).await.expect("on"),
        0,
        "not old enough"
    );
    assert_eq!(
        server.app.set_retention_days(Some(30)).await.expect("on"),
        1
    );
    let left = server
        .app
        .inbox(InboxFilter::default())
        .await
        .expect("left");
    let mut states: Vec<(&str, ConversationState)> =
        left.iter().map(|s| (s.id.as_str(), s.state)).collect();
    states.sort();
    let mut want = vec![
        (b.as_str(), ConversationState::Open),
        (c.as_str(), ConversationState::Handoff),
    ];
    want.sort();
    assert_eq!(
        states, want,
        "the open one and the one waiting for the owner stay"
    );
    assert_eq!(
        server.count("messages"),
        4,
        "the deleted one took its messages"
    );
    assert_eq!(
        messages_of(flyer_id).await,
        0,
        "and the flyer's count lost its visitor's message"
    );
    assert_eq!(server.app.set_retention_days(None).await.expect("off"), 0);
}

#[tokio::test]
async fn an_expiring_links_stream_ends_with_it_and_exports_never_carry_formulas() {
    let server = start().await;
    let (_, link) = server
        .link(IssueLink {
            expires_at: Some(now_ms() + 2_000),
            ..IssueLink::chat("demo")
        })
        .await;
    let (conv, _) = ask_and_wait(&server, &link, "=HYPERLINK(\"http://x\")", None).await;
    let res = conversation_stream(&server, &link, &conv, None)
        .send()
        .await
        .expect("events");
    assert_eq!(res.status(), StatusCode::OK);
    let frames = tokio::time::timeout(Duration::from_secs(5), events(res).collect::<Vec<_>>())
        .await
        .expect("the stream ends when the link expires");
    assert!(
        frames.iter().all(|f| f.event != "delta"),
        "deltas stay on the turn stream"
    );
    assert!(frames.iter().any(|f| f.event == "message"));

    let csv = server
        .app
        .export(ExportScope::Conversation(conv), ExportFormat::Csv)
        .await
        .expect("csv");
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let first = reader.records().next().expect("a row").expect("row");
    assert_eq!(
        &first[8], "'=HYPERLINK(\"http://x\")",
        "a formula is kept as text"
    );
}

#[tokio::test]
async fn one_link_cannot_hold_every_conversation_stream() {
    let server = common::start_with(chatlink_core::Limits {
        feeds_per_source: 2,
        ..chatlink_core::Limits::default()
    })
    .await;
    let (_, link) = server.link(IssueLink::chat("demo")).await;
    let (_, other) = server
        .link(IssueLink {
            suffix: Some("other".into()),
            ..IssueLink::chat("demo")
        })
        .await;
    let (conv, _) = ask_and_wait(&server, &link, "When are you open on Sunday?", None).await;
    let (conv2, _) = ask_and_wait(&server, &other, "When are you open on Sunday?", None).await;
    let open = |link: String, conv: String| {
        let req = conversation_stream(&server, &link, &conv, Some("999999"));
        async move { req.send().await.expect("events") }
    };
    let a = open(link.clone(), conv.clone()).await;
    let b = open(link.clone(), conv.clone()).await;
    assert_eq!((a.status(), b.status()), (StatusCode::OK, StatusCode::OK));
    let refused = open(link.clone(), conv.clone()).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(error_code(refused).await, "too_many_streams");
    assert_eq!(
        open(other.clone(), conv2.clone()).await.status(),
        StatusCode::OK,
        "another link is not affected"
    );
    drop(a);
    let again = tokio::time::timeout(WAIT, async {
        loop {
            let res = open(link.clone(), conv.clone()).await;
            if res.status() == StatusCode::OK {
                return res;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("a closed stream frees its place");
    drop((b, again));
}
