//! A fake OpenAI-compatible provider on 127.0.0.1:0: it speaks the real chat-completions
//! streaming protocol (SSE `data:` chunks, `[DONE]`) with the behaviour a test picks, and
//! records what it was asked. It stands in for the remote language model, which cannot run here.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::{Value, json};

/// How a streamed body ends after its pieces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Sends `data: [DONE]`, then ends the body: a normal reply.
    Done,
    /// Ends the body without `[DONE]` (unless a piece carried it).
    Close,
    /// The body errors out, so the connection drops mid-message.
    Abort,
    /// Never sends another byte: the connection stays open.
    Stall,
}

/// What the provider answers to every request.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// Raw body pieces, each written after `pause`, then `end`.
    Stream {
        pieces: Vec<String>,
        pause: Duration,
        end: End,
    },
    /// A plain answer with this status and body.
    Status(StatusCode, String),
    /// `content` in a chunk every `pause`, for ever: a model that never stops writing.
    Endless { content: String, pause: Duration },
    /// A 307 redirect to this URL.
    Redirect(String),
}

/// What the provider saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub authorization: Option<String>,
    pub body: Value,
}

/// A running fake provider; it serves until the test's runtime ends.
#[derive(Debug, Clone)]
pub struct FakeProvider {
    /// `http://127.0.0.1:<port>/v1`, what an agent's base URL is set to.
    pub base_url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

#[derive(Clone)]
struct Mock {
    behaviour: Behaviour,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// One `chat.completion.chunk` carrying `content`, as the JSON of a `data:` line.
fn chunk(content: &str) -> String {
    json!({ "choices": [{ "index": 0, "delta": { "content": content }, "finish_reason": null }] })
        .to_string()
}

/// One SSE event per piece of content, with the given line ending (`"\n"` or `"\r\n"`).
pub fn events(contents: &[&str], eol: &str) -> Vec<String> {
    contents
        .iter()
        .map(|c| format!("data: {}{eol}{eol}", chunk(c)))
        .collect()
}

impl FakeProvider {
    pub async fn start(behaviour: Behaviour) -> FakeProvider {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new().fallback(handle).with_state(Mock {
            behaviour,
            seen: seen.clone(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake provider");
        let addr = listener.local_addr().expect("the fake provider's address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeProvider {
            base_url: format!("http://{addr}/v1"),
            seen,
        }
    }

    /// A reply of `pieces`, one every `every`, then `[DONE]`: a reply slow enough to watch.
    pub async fn drip<S: AsRef<str>>(pieces: &[S], every: Duration) -> FakeProvider {
        let pieces: Vec<&str> = pieces.iter().map(AsRef::as_ref).collect();
        FakeProvider::start(Behaviour::Stream {
            pieces: events(&pieces, "\n"),
            pause: every,
            end: End::Done,
        })
        .await
    }

    /// Streams one piece ("Let me check"), then holds the response open for good.
    pub async fn hanging() -> FakeProvider {
        FakeProvider::start(Behaviour::Stream {
            pieces: events(&["Let me check"], "\n"),
            pause: Duration::ZERO,
            end: End::Stall,
        })
        .await
    }

    /// Answers every request with `status` and `body`.
    pub async fn failing(status: StatusCode, body: &str) -> FakeProvider {
        FakeProvider::start(Behaviour::Status(status, body.to_owned())).await
    }

    /// Every request so far, oldest first.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

async fn handle(State(mock): State<Mock>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Ok(mut seen) = mock.seen.lock() {
        seen.push(Seen {
            path: uri.path().to_owned(),
            authorization,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        });
    }
    match mock.behaviour {
        Behaviour::Status(status, text) => (status, text).into_response(),
        Behaviour::Redirect(to) => {
            (StatusCode::TEMPORARY_REDIRECT, [("location", to)]).into_response()
        }
        Behaviour::Endless { content, pause } => {
            let event = Bytes::from(events(&[&content], "\n").concat());
            let body = futures_util::stream::repeat(event).then(move |e| async move {
                tokio::time::sleep(pause).await;
                Ok::<_, std::io::Error>(e)
            });
            (
                [("content-type", "text/event-stream")],
                Body::from_stream(body),
            )
                .into_response()
        }
        Behaviour::Stream { pieces, end, pause } => {
            let body = futures_util::stream::iter(pieces)
                .then(move |piece| async move {
                    tokio::time::sleep(pause).await;
                    Ok::<_, std::io::Error>(Bytes::from(piece))
                })
                .chain(futures_util::stream::once(async move {
                    // Lets the last piece reach the client before an abort resets the connection.
                    if end != End::Done {
                        tokio::time::sleep(pause).await;
                    }
                    match end {
                        End::Done => Ok(Bytes::from_static(b"data: [DONE]\n\n")),
                        End::Close => Ok(Bytes::new()),
                        End::Abort => Err(std::io::Error::other("cut")),
                        End::Stall => std::future::pending().await,
                    }
                }));
            (
                [("content-type", "text/event-stream")],
                Body::from_stream(body),
            )
                .into_response()
        }
    }
}
