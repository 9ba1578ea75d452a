//! Shared by the HTTP test files: a real server on 127.0.0.1:0 over a real SQLite file, a real
//! SSE client, and OpenAI-compatible providers started on loopback.
// Each test file uses its own subset of these helpers.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::routing::post;
use chatlink_core::app::{AgentUpdate, EngineSetting, IssueLink};
use chatlink_core::secret::SecretBackend;
use chatlink_core::{App, AppConfig, Limits};
use eventsource_stream::{Event, Eventsource};
use futures_util::{Stream, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};

pub struct Server {
    pub _dir: tempfile::TempDir,
    pub app: App,
    pub base: String,
    pub client: reqwest::Client,
}

pub async fn start_with(limits: Limits) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = AppConfig::new(dir.path(), SecretBackend::Memory);
    config.limits = limits;
    let app = App::open(config).expect("open");
    app.start_serving().await.expect("serving");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    app.set_base_url(&base).expect("base url");
    tokio::spawn(chatlink_core::http::serve(app.clone(), listener));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    Server {
        _dir: dir,
        app,
        base,
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

/// An OpenAI-compatible provider on loopback that streams `body`'s pieces as its reply.
async fn provider<S>(body: impl Fn() -> S + Clone + Send + Sync + 'static) -> String
where
    S: Stream<Item = Bytes> + Send + 'static,
{
    let complete = move || {
        let body = body.clone();
        async move {
            axum::response::Response::builder()
                .header("content-type", "text/event-stream")
                .body(Body::from_stream(body().map(Ok::<_, std::io::Error>)))
                .expect("response")
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            Router::new().route("/v1/chat/completions", post(complete)),
        )
        .await;
    });
    format!("http://{addr}/v1")
}

fn delta(text: &str) -> Bytes {
    let chunk = serde_json::json!({"choices": [{"delta": {"content": text}}]});
    Bytes::from(format!("data: {chunk}\n\n"))
}

/// A provider that streams one piece, then holds the response open until the test ends.
pub async fn hanging_provider() -> String {
    provider(|| {
        futures_util::stream::once(async { delta("Let me check") })
            .chain(futures_util::stream::pending())
    })
    .await
}

/// A provider that streams `pieces` one every `every`, then ends the reply.
pub async fn drip_provider(pieces: Vec<String>, every: Duration) -> String {
    provider(move || {
        let pieces = pieces.clone();
        futures_util::stream::iter(pieces)
            .then(move |p| async move {
                tokio::time::sleep(every).await;
                delta(&p)
            })
            .chain(futures_util::stream::once(async {
                Bytes::from("data: [DONE]\n\n")
            }))
    })
    .await
}

/// Creates agent `slug` answering through the provider at `base_url`.
pub async fn agent_on(server: &Server, slug: &str, base_url: String) {
    server
        .app
        .create_agent(chatlink_core::app::NewAgent {
            slug: slug.into(),
            name: "Slow".into(),
            ..Default::default()
        })
        .await
        .expect("agent");
    server
        .app
        .update_agent(
            slug,
            AgentUpdate {
                engine: Some(EngineSetting::OpenAi {
                    base_url,
                    model: "m".into(),
                }),
                ..Default::default()
            },
        )
        .await
        .expect("engine");
}

pub async fn slow_agent(server: &Server, slug: &str) {
    agent_on(server, slug, hanging_provider().await).await;
}
