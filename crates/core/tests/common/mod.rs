//! Shared by the HTTP test files: a real server on 127.0.0.1:0 over a real SQLite file, a real
//! SSE client, and OpenAI-compatible providers started on loopback.
// Each test file uses its own subset of these helpers.
#![allow(dead_code)]

use std::time::Duration;

use chatlink_core::app::IssueLink;
use chatlink_core::{App, Limits};
use chatlink_test_support::{FakeProvider, TestServer};
use eventsource_stream::{Event, Eventsource};
use futures_util::{Stream, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};

pub use chatlink_test_support::agent_on;

/// The shared test server and a client that does not follow redirects (tests look at them).
pub struct Server {
    pub _dir: tempfile::TempDir,
    pub app: App,
    pub base: String,
    pub client: reqwest::Client,
}

pub async fn start_with(limits: Limits) -> Server {
    let server = TestServer::start_with(limits).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    Server {
        _dir: server.dir,
        app: server.app,
        base: server.base_url,
        client,
    }
}

pub async fn start() -> Server {
    start_with(Limits::default()).await
}

impl Server {
    pub async fn link(&self, req: IssueLink) -> (i64, String) {
        let l = self.app.issue_link(req).await.expect("issue");
        (l.id, l.url.expect("url"))
    }

    pub async fn post(&self, link: &str, body: Value) -> reqwest::Response {
        self.client
            .post(link)
            .json(&body)
            .send()
            .await
            .expect("post")
    }

    pub async fn ask(&self, link: &str, content: &str) -> Value {
        let res = self.post(link, json!({"content": content})).await;
        assert_eq!(res.status(), StatusCode::ACCEPTED);
        res.json().await.expect("json")
    }

    pub async fn sse(
        &self,
        link: &str,
        turn_id: &str,
        last_event_id: Option<&str>,
    ) -> reqwest::Response {
        let mut req = self.client.get(format!("{link}{turn_id}/sse"));
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id);
        }
        req.send().await.expect("sse")
    }

    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.app.data_dir().join("chatlink.db")).expect("db")
    }

    pub fn count(&self, table: &str) -> i64 {
        self.db()
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .expect("count")
    }
}

pub fn events(res: reqwest::Response) -> impl Stream<Item = Event> + Unpin {
    Box::pin(
        res.bytes_stream()
            .eventsource()
            .map(|e| e.expect("well-formed SSE")),
    )
}

pub async fn all_events(res: reqwest::Response) -> Vec<Event> {
    tokio::time::timeout(Duration::from_secs(10), events(res).collect::<Vec<_>>())
        .await
        .expect("stream ends")
}

pub async fn error_code(res: reqwest::Response) -> String {
    let v: Value = res.json().await.expect("JSON error body");
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    v["code"].as_str().expect("code").to_owned()
}

/// Creates agent `slug` whose provider streams one piece and then never finishes.
pub async fn slow_agent(server: &Server, slug: &str) {
    agent_on(&server.app, slug, &FakeProvider::hanging().await.base_url).await;
}

/// Asks `content` on `link` and returns the turn's `done` frame and its reply text.
pub async fn turn(s: &Server, link: &str, content: &str, lang: &str) -> (Value, String) {
    let res = s
        .client
        .post(link)
        .header("Accept-Language", lang)
        .json(&json!({"content": content}))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let posted: Value = res.json().await.expect("json");
    let turn_id = posted["turn_id"].as_str().expect("turn");
    let events = all_events(s.sse(link, turn_id, None).await).await;
    let mut text = String::new();
    let mut done = Value::Null;
    for e in events {
        let data: Value = serde_json::from_str(&e.data).expect("frame JSON");
        match e.event.as_str() {
            "message" => text = data["content"].as_str().unwrap_or_default().to_owned(),
            "done" => done = data,
            _ => {}
        }
    }
    (done, text)
}
