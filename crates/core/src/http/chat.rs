//! Handlers for chat links and hooks: each parses its request and makes one `App` call.

use std::convert::Infallible;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use futures_util::StreamExt;
use serde::Deserialize;

use super::Client;
use super::error::ApiError;
use super::poll::{PollQuery, poll_response};
use super::{PING_INTERVAL, page};
use crate::app::{App, PostMessage};
use crate::error::Error;
use crate::hub::FrameStream;

type ApiResult<T> = Result<T, ApiError>;

pub async fn add_slash(uri: Uri) -> Redirect {
    Redirect::permanent(&format!("{}/", uri.path()))
}

/// The browser's `Accept-Language`, if it sent one that is text.
pub(super) fn accept_language(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
}

pub async fn page(
    State(app): State<App>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    match app.chat_page(&token, accept_language(&headers)).await {
        Ok(p) => page::chat(&p),
        Err(p) => page::error(&p.error, p.lang),
    }
}

/// What the one-line widget needs to show this link's bubble.
pub async fn widget_config(
    State(app): State<App>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let config = app
        .link_widget_config(&token, accept_language(&headers))
        .await?;
    Ok(super::widget::config_response(&config))
}

/// A logo: named by its content, so it may be cached for ever; any website's widget shows it.
pub async fn logo(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Response> {
    let (kind, bytes) = app.logo(&id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind.mime())),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
            (
                axum::http::HeaderName::from_static("cross-origin-resource-policy"),
                HeaderValue::from_static("cross-origin"),
            ),
        ],
        bytes,
    )
        .into_response())
}

pub async fn not_found() -> ApiError {
    ApiError(Error::NotFound { what: "page" })
}

/// Reads at most `limit` bytes of body; more is `payload_too_large`, answered before parsing.
pub(super) async fn read_body(body: Body, limit: usize) -> Result<Bytes, Error> {
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| Error::PayloadTooLarge { limit })
}

fn parse_message(headers: &HeaderMap, body: &[u8]) -> Result<PostMessage, Error> {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ctype
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        "application/json" => serde_json::from_slice(body)
            .map_err(|e| Error::invalid(format!("the body is not a message: {e}"))),
        "application/x-www-form-urlencoded" => serde_urlencoded::from_bytes(body)
            .map_err(|e| Error::invalid(format!("the form is not a message: {e}"))),
        _ => Err(Error::invalid(
            "send the message as application/json: {\"content\": \"…\"}",
        )),
    }
}

pub async fn post_message(
    State(app): State<App>,
    Path(token): Path<String>,
    Client(client): Client,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<impl IntoResponse> {
    let body = read_body(body, app.limits().chat_body).await?;
    let mut msg = parse_message(&headers, &body)?;
    msg.accept_language = accept_language(&headers).map(str::to_owned);
    let posted = app.post_message(&token, msg, client).await?;
    Ok((StatusCode::ACCEPTED, Json(posted)))
}

pub async fn post_hook(
    State(app): State<App>,
    Path(token): Path<String>,
    Client(client): Client,
    body: Body,
) -> ApiResult<impl IntoResponse> {
    let body = read_body(body, app.limits().hook_body).await?;
    let text = String::from_utf8(body.to_vec())
        .map_err(|_| Error::invalid("the body must be UTF-8 text"))?;
    let posted = app.post_hook(&token, text, client).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(
            serde_json::json!({"turn_id": posted.turn_id, "conversation_id": posted.conversation_id}),
        ),
    ))
}

#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    conversation_id: String,
}

pub async fn history(
    State(app): State<App>,
    Path(token): Path<String>,
    query: Result<Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<impl IntoResponse> {
    let Query(q) = query.map_err(|_| Error::invalid("add ?conversation_id=<id> to the URL"))?;
    let mut res = Json(app.history(&token, &q.conversation_id).await?).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

#[derive(Debug, Deserialize)]
pub struct SseQuery {
    last_event_id: Option<String>,
}

pub(super) fn last_event_id(headers: &HeaderMap, query: &SseQuery) -> Result<Option<i64>, Error> {
    let bad = || Error::invalid("Last-Event-ID must be an event id this server sent");
    // A header that is not visible ASCII is a bad id, not a missing one (which would replay
    // the whole turn).
    let raw = match headers.get("last-event-id") {
        Some(v) => Some(v.to_str().map_err(|_| bad())?.to_owned()),
        None => query.last_event_id.clone(),
    };
    frame_id(raw.as_deref(), "Last-Event-ID")
}

/// A frame id a client sent back (`Last-Event-ID`, a poll's `after`): absent or blank is
/// `None`, anything but a non-negative number is a clear `invalid_input` naming `what`.
pub(super) fn frame_id(raw: Option<&str>, what: &str) -> Result<Option<i64>, Error> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(Some)
            .ok_or_else(|| Error::invalid(format!("{what} must be an event id this server sent"))),
    }
}

pub async fn sse(
    State(app): State<App>,
    Path((token, turn_id)): Path<(String, String)>,
    Query(query): Query<SseQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let after = last_event_id(&headers, &query)?;
    Ok(turn_response(app.subscribe(&token, &turn_id, after).await?))
}

/// A turn's stream, or 204 No Content once the client has all of a finished turn: the answer
/// that makes a standard `EventSource` stop reconnecting (it otherwise retries every 3 s).
pub(super) fn turn_response(frames: Option<FrameStream>) -> Response {
    match frames {
        Some(frames) => sse_response(frames),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct EventsQuery {
    conversation_id: String,
    last_event_id: Option<String>,
}

/// The conversation-level stream: what reaches the page when no turn of its own is running
/// (the owner's replies).
pub async fn conversation_events(
    State(app): State<App>,
    Path(token): Path<String>,
    query: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let Query(q) = query.map_err(|_| Error::invalid("add ?conversation_id=<id> to the URL"))?;
    let after = last_event_id(
        &headers,
        &SseQuery {
            last_event_id: q.last_event_id,
        },
    )?;
    Ok(sse_response(
        app.subscribe_conversation(&token, &q.conversation_id, after)
            .await?,
    ))
}

/// A turn's frames as an SSE answer: every frame with its `id:`, a ping comment every 15 s.
pub(super) fn sse_response(frames: FrameStream) -> Response {
    let events = frames.map(|f| {
        Ok::<_, Infallible>(
            Event::default()
                .id(f.seq.to_string())
                .event(f.event.as_str())
                .data(&*f.data),
        )
    });
    let mut res = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(PING_INTERVAL).text("ping"))
        .into_response();
    sse_headers(&mut res);
    res
}

/// What keeps proxies from caching, compressing or buffering a stream: `no-transform` for
/// those that recompress (and so buffer), `X-Accel-Buffering` for nginx.
pub(super) fn sse_headers(res: &mut Response) {
    let h = res.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-transform"),
    );
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
}

/// A turn's frames as long-poll JSON (see `http::poll`).
pub async fn poll(
    State(app): State<App>,
    Path((token, turn_id)): Path<(String, String)>,
    Query(q): Query<PollQuery>,
) -> ApiResult<Response> {
    let (after, wait) = (q.after()?, q.wait()?);
    Ok(poll_response(app.subscribe(&token, &turn_id, after).await?, wait).await)
}

/// The conversation stream as long-poll JSON.
pub async fn poll_conversation(
    State(app): State<App>,
    Path(token): Path<String>,
    Query(q): Query<PollQuery>,
) -> ApiResult<Response> {
    let (after, wait) = (q.after()?, q.wait()?);
    let conv = q
        .conversation_id
        .as_deref()
        .ok_or_else(|| Error::invalid("add ?conversation_id=<id> to the URL"))?;
    let frames = app.subscribe_conversation(&token, conv, after).await?;
    Ok(poll_response(Some(frames), wait).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// `Last-Event-ID` from a header or the query: a non-negative number this server could
        /// have sent, or a clear `invalid_input`; never a panic.
        #[test]
        fn last_event_id_is_a_number_or_a_clear_error(raw in "\\PC{0,30}|[0-9]{1,25}|-[0-9]{1,5}", in_header in proptest::prelude::any::<bool>()) {
            let mut headers = HeaderMap::new();
            let mut query = SseQuery { last_event_id: None };
            if in_header {
                match HeaderValue::from_str(&raw) {
                    Ok(v) => { headers.insert("last-event-id", v); }
                    Err(_) => return Ok(()),
                }
            } else {
                query.last_event_id = Some(raw.clone());
            }
            match last_event_id(&headers, &query) {
                Ok(Some(n)) => proptest::prop_assert_eq!(raw.trim().parse::<i64>().ok(), Some(n)),
                Ok(None) => proptest::prop_assert!(raw.trim().is_empty()),
                Err(e) => proptest::prop_assert_eq!(e.code(), "invalid_input"),
            }
        }

        /// Any body with any content type is a message or a clear `invalid_input`.
        #[test]
        fn any_body_is_a_message_or_a_clear_error(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200), json in "\\{(\"content\": ?\"\\PC{0,20}\"|\"conversation_id\": ?(null|1|\"x\"))?\\}", kind in 0..3usize) {
            let ctype = ["application/json", "application/x-www-form-urlencoded; charset=utf-8", "text/plain"][kind];
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
            for b in [body.as_slice(), json.as_bytes()] {
                if let Err(e) = parse_message(&headers, b) {
                    proptest::prop_assert_eq!(e.code(), "invalid_input");
                }
            }
        }
    }
}
