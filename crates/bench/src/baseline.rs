//! The baseline: bare axum doing the same HTTP exchange as a chat link with no work behind it.
//! POST answers ids at once; the SSE stream sends the same number of `delta` frames as
//! Chatlink's reply, then `message` and `done`, with `id:` and `Last-Event-ID` resume; the
//! `hold` variant waits on the [`Gate`] like a turn whose agent is thinking.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Json};
use axum::routing::{get, post};
use futures_util::Stream;
use serde_json::json;

use crate::gate::{FINISHED, Gate, RELEASED};

#[derive(Clone)]
struct Baseline {
    /// The reply split as Chatlink split it.
    pieces: Arc<Vec<String>>,
    ids: Arc<AtomicU64>,
    gate: Gate,
}

pub fn router(pieces: Vec<String>) -> Router {
    let gate = Gate::default();
    let state = Baseline {
        pieces: Arc::new(pieces),
        ids: Arc::new(AtomicU64::new(1)),
        gate: gate.clone(),
    };
    Router::new()
        .route("/chat/{token}/", post(post_message))
        .route("/chat/{token}/{turn}/sse", get(turn_sse))
        .route("/hold/{turn}/sse", get(hold_sse))
        .with_state(state)
        .merge(gate.routes())
}

async fn post_message(State(b): State<Baseline>, body: String) -> impl IntoResponse {
    // Parse the body as Chatlink does, so the baseline pays for the same JSON work.
    let parsed: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let conversation = parsed["conversation_id"].as_str().map(str::to_owned);
    let n = b.ids.fetch_add(1, Ordering::Relaxed);
    let body = json!({
        "turn_id": format!("turn{n:018}"),
        "conversation_id": conversation.unwrap_or_else(|| format!("conv{n:018}")),
        "message_id": format!("msg{n:019}"),
    });
    (StatusCode::ACCEPTED, Json(body))
}

fn last_event_id(headers: &HeaderMap) -> i64 {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn event(id: i64, name: &str, data: String) -> Result<Event, Infallible> {
    Ok(Event::default().id(id.to_string()).event(name).data(data))
}

async fn turn_sse(
    State(b): State<Baseline>,
    Path((_token, turn)): Path<(String, String)>,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let after = last_event_id(&headers);
    let mut frames = Vec::with_capacity(b.pieces.len() + 2);
    for (i, piece) in b.pieces.iter().enumerate() {
        frames.push((
            i as i64 + 1,
            "delta",
            json!({"turn_id": turn, "text": piece}).to_string(),
        ));
    }
    let n = frames.len() as i64;
    let content: String = b.pieces.concat();
    frames.push((n + 1, "message", json!({"turn_id": turn, "id": "m", "role": "assistant", "content": content, "created_at": "2026-01-01T00:00:00.000Z"}).to_string()));
    frames.push((
        n + 2,
        "done",
        json!({"turn_id": turn, "status": "ok"}).to_string(),
    ));
    let frames = frames
        .into_iter()
        .filter(move |f| f.0 > after)
        .map(|(id, name, data)| event(id, name, data));
    Sse::new(futures_util::stream::iter(frames))
}

async fn hold_sse(
    State(b): State<Baseline>,
    Path(turn): Path<String>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let held = b.gate.hold();
    let gate = b.gate.clone();
    let stream = futures_util::stream::unfold(0u8, move |step| {
        let gate = gate.clone();
        let turn = turn.clone();
        async move {
            match step {
                0 => {
                    gate.reached(RELEASED).await;
                    Some((
                        event(
                            1,
                            "delta",
                            json!({"turn_id": turn, "text": "go"}).to_string(),
                        ),
                        1,
                    ))
                }
                1 => {
                    gate.reached(FINISHED).await;
                    Some((
                        event(
                            2,
                            "done",
                            json!({"turn_id": turn, "status": "ok"}).to_string(),
                        ),
                        2,
                    ))
                }
                _ => None,
            }
        }
    });
    // The guard lives as long as the stream.
    let stream = futures_util::StreamExt::map(stream, move |e| {
        let _ = &held;
        e
    });
    Sse::new(stream)
}
