//! The visitor side of the load: POST a message, read a turn's SSE frames, resume with
//! `Last-Event-ID`, and check that what arrived is exact (consecutive ids, one `done`, deltas
//! adding up to the `message`).

use std::time::{Duration, Instant};

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde::Deserialize;

use crate::procs::Result;

#[derive(Debug, Clone)]
pub struct Frame {
    pub id: i64,
    pub event: String,
    pub data: String,
    pub at: Instant,
}

#[derive(Debug, Deserialize)]
pub struct Posted {
    pub turn_id: String,
    pub conversation_id: String,
}

/// One HTTP client for many visitors (a connection per concurrent request, kept alive).
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

pub async fn post(
    http: &reqwest::Client,
    link: &str,
    content: &str,
    conversation_id: Option<&str>,
) -> Result<Posted> {
    let body = match conversation_id {
        Some(c) => serde_json::json!({"content": content, "conversation_id": c}),
        None => serde_json::json!({"content": content}),
    };
    let res = http.post(link).json(&body).send().await?;
    let status = res.status();
    if status != reqwest::StatusCode::ACCEPTED {
        let text = res.text().await.unwrap_or_default();
        return Err(format!("POST {status}: {text}").into());
    }
    Ok(res.json().await?)
}

/// An open SSE response.
pub struct Stream {
    inner: std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<Frame>> + Send>>,
}

impl Stream {
    /// Opens `url`, resuming after `last_event_id`; fails unless the answer is 200.
    pub async fn open(
        http: &reqwest::Client,
        url: &str,
        last_event_id: Option<i64>,
    ) -> Result<Stream> {
        let mut req = http.get(url).header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id.to_string());
        }
        let res = req.send().await?;
        if res.status() != reqwest::StatusCode::OK {
            return Err(format!("GET {url}: {}", res.status()).into());
        }
        let inner = res.bytes_stream().eventsource().map(|e| {
            let e = e.map_err(|e| e.to_string())?;
            Ok(Frame {
                id: e
                    .id
                    .parse()
                    .map_err(|_| format!("frame without a numeric id: {e:?}"))?,
                event: e.event,
                data: e.data,
                at: Instant::now(),
            })
        });
        Ok(Stream {
            inner: Box::pin(inner),
        })
    }

    /// The next frame; `None` when the server ended the stream.
    pub async fn next(&mut self) -> Option<Result<Frame>> {
        self.inner.next().await
    }
}

/// Reads frames until `done` (or until `stop_after` frames, to simulate a dropped connection).
pub async fn read(
    stream: &mut Stream,
    frames: &mut Vec<Frame>,
    stop_after: Option<usize>,
) -> Result<bool> {
    let mut got = 0;
    while let Some(frame) = stream.next().await {
        let frame = frame?;
        let done = frame.event == "done";
        frames.push(frame);
        got += 1;
        if done {
            return Ok(true);
        }
        if stop_after.is_some_and(|n| got >= n) {
            return Ok(false);
        }
    }
    Ok(false)
}

/// Whether a turn's frames are exact: consecutive ids, deltas then one `message` then `done`,
/// the deltas adding up to the message.
pub fn check_turn(frames: &[Frame]) -> std::result::Result<(), String> {
    if let Some(w) = frames.windows(2).find(|w| w[1].id != w[0].id + 1) {
        return Err(format!("ids {} then {}", w[0].id, w[1].id));
    }
    let Some(last) = frames.last().filter(|f| f.event == "done") else {
        return Err("no done frame at the end".into());
    };
    if frames[..frames.len() - 1].iter().any(|f| f.event == "done") {
        return Err("more than one done".into());
    }
    let _ = last;
    let text = |f: &Frame, key: &str| -> String {
        serde_json::from_str::<serde_json::Value>(&f.data)
            .ok()
            .and_then(|v| v[key].as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    let deltas: String = frames
        .iter()
        .filter(|f| f.event == "delta")
        .map(|f| text(f, "text"))
        .collect();
    let messages: Vec<String> = frames
        .iter()
        .filter(|f| f.event == "message")
        .map(|f| text(f, "content"))
        .collect();
    match messages.as_slice() {
        [content] if *content == deltas => Ok(()),
        [content] => Err(format!("deltas {deltas:?} != message {content:?}")),
        other => Err(format!("{} message frames", other.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(id: i64, event: &str, data: serde_json::Value) -> Frame {
        Frame {
            id,
            event: event.into(),
            data: data.to_string(),
            at: Instant::now(),
        }
    }

    #[test]
    fn exact_turns_pass_and_every_kind_of_damage_is_caught() {
        let good = vec![
            frame(4, "delta", serde_json::json!({"text": "Hello "})),
            frame(5, "delta", serde_json::json!({"text": "there"})),
            frame(6, "message", serde_json::json!({"content": "Hello there"})),
            frame(7, "done", serde_json::json!({"status": "ok"})),
        ];
        assert_eq!(check_turn(&good), Ok(()));
        let mut gap = good.clone();
        gap.remove(1);
        assert!(check_turn(&gap).is_err(), "a missing frame");
        let mut dup = good.clone();
        dup.insert(1, good[0].clone());
        assert!(check_turn(&dup).is_err(), "a frame twice");
        assert!(check_turn(&good[..3]).is_err(), "no done");
        let mut wrong = good.clone();
        wrong[2] = frame(6, "message", serde_json::json!({"content": "Hello"}));
        assert!(check_turn(&wrong).is_err(), "deltas and message disagree");
    }
}
