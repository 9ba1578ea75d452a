//! Long-poll JSON, the fallback for streams that a proxy holds until they end: the same frames,
//! ids and replay rules as the SSE routes, one short answer per batch.
//!
//! `GET …/frames?after=<id>&wait=<s>` answers as soon as a frame after `after` exists (with what
//! else arrives in the next 150 ms, so a streamed reply costs a few requests a second, not one
//! per word), or with no frames after `wait` seconds (at most 25, under the 30–60 s idle cuts of
//! common proxies). A finished turn whose last frame the client has gets 204, as on SSE.
//!
//! Frames are `{"id": 12, "event": "delta", "data": "<the SSE data line>"}`: `data` is the same
//! JSON text an SSE client receives, so one parser serves both transports.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{FutureExt, StreamExt};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::hub::FrameStream;

/// The longest a poll may wait for its first frame.
pub const WAIT_MAX: Duration = Duration::from_secs(25);
/// After the first frame, how long a poll keeps gathering before it answers.
const LINGER: Duration = Duration::from_millis(150);
/// Frames in one answer at most; the next poll takes the rest.
const BATCH: usize = 512;

#[derive(Debug, Deserialize)]
pub struct PollQuery {
    /// The conversation, on the conversation stream's twin.
    pub conversation_id: Option<String>,
    pub after: Option<String>,
    pub wait: Option<String>,
}

impl PollQuery {
    /// The last frame id the client has (`None`: from the start).
    pub fn after(&self) -> Result<Option<i64>, Error> {
        super::chat::frame_id(self.after.as_deref(), "after")
    }

    /// How long to wait for a first frame: `wait` seconds, 0 to [`WAIT_MAX`]; 25 when absent.
    pub fn wait(&self) -> Result<Duration, Error> {
        match self.wait.as_deref().map(str::trim) {
            None | Some("") => Ok(WAIT_MAX),
            Some(s) => s
                .parse::<u64>()
                .ok()
                .map(|n| Duration::from_secs(n).min(WAIT_MAX))
                .ok_or_else(|| Error::invalid("wait must be a number of seconds, 0 to 25")),
        }
    }
}

#[derive(Debug, Serialize)]
struct PolledFrame {
    id: i64,
    event: &'static str,
    data: String,
}

#[derive(Debug, Serialize)]
struct Polled {
    frames: Vec<PolledFrame>,
}

/// Waits up to `wait` for frames of `frames` and answers with what came; `None` is 204.
pub async fn poll_response(frames: Option<FrameStream>, wait: Duration) -> Response {
    let Some(mut frames) = frames else {
        return StatusCode::NO_CONTENT.into_response();
    };
    let mut batch = Vec::new();
    if let Ok(Some(first)) = tokio::time::timeout(wait, frames.next()).await {
        batch.push(first);
        let linger = tokio::time::sleep(LINGER);
        tokio::pin!(linger);
        while batch.len() < BATCH {
            // What is ready now is taken without waiting; then the rest of the linger.
            let next = match frames.next().now_or_never() {
                Some(next) => next,
                None => tokio::select! {
                    next = frames.next() => next,
                    _ = &mut linger => break,
                },
            };
            match next {
                Some(f) => batch.push(f),
                None => break,
            }
        }
    }
    let body = Polled {
        frames: batch
            .into_iter()
            .map(|f| PolledFrame {
                id: f.seq,
                event: f.event.as_str(),
                data: f.data.to_string(),
            })
            .collect(),
    };
    let mut res = Json(body).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(after: Option<&str>, wait: Option<&str>) -> PollQuery {
        PollQuery {
            conversation_id: None,
            after: after.map(str::to_owned),
            wait: wait.map(str::to_owned),
        }
    }

    #[test]
    fn after_and_wait_are_bounded_numbers_or_clear_errors() {
        assert_eq!(query(None, None).after().ok(), Some(None));
        assert_eq!(query(Some("12"), None).after().ok(), Some(Some(12)));
        assert_eq!(query(None, None).wait().ok(), Some(WAIT_MAX));
        assert_eq!(query(None, Some("0")).wait().ok(), Some(Duration::ZERO));
        assert_eq!(query(None, Some("3600")).wait().ok(), Some(WAIT_MAX));
        for bad in ["-1", "x", "1e3"] {
            assert_eq!(
                query(Some(bad), None).after().map_err(|e| e.code()),
                Err("invalid_input")
            );
            assert_eq!(
                query(None, Some(bad)).wait().map_err(|e| e.code()),
                Err("invalid_input")
            );
        }
    }
}
