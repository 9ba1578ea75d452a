//! The widget's HTTP surface: the token exchange for customers' backends, the Bearer-JWT chat API
//! the widget script calls from customers' pages, and the script itself.
//!
//! The chat API sends CORS headers for any origin so the widget can read every answer, including
//! a 403 `origin_not_allowed`; the allowed-origins list is enforced by [`Session`] on the request's
//! `Origin`. The token endpoint sends no CORS headers at all: it is called by servers, and a
//! browser calling it would mean an appSecret in a web page.

use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::Client;
use super::chat::{SseQuery, last_event_id, read_body, sse_response, turn_response};
use super::error::ApiError;
use super::poll::{PollQuery, poll_response};
use crate::app::{App, TokenRequest, WidgetMessage, WidgetSession};
use crate::error::Error;

type ApiResult<T> = Result<T, ApiError>;

const WIDGET_JS: &str = include_str!("../../assets/widget.js");

/// The widget script as served (see `page::visitor_script`).
pub(super) fn script_text() -> &'static str {
    static SCRIPT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SCRIPT.get_or_init(|| super::page::visitor_script(WIDGET_JS))
}
/// A token request is three short strings.
pub(super) const TOKEN_BODY_LIMIT: usize = 4 * 1024;

/// A verified widget session; no chat API handler can run without one.
pub struct Session(pub WidgetSession);

impl FromRequestParts<App> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        let header = |name| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let session = app
            .widget_session(header(header::AUTHORIZATION), header(header::ORIGIN))
            .await?;
        Ok(Session(session))
    }
}

/// CORS for the chat API: preflights carry no credentials, so every origin gets an answer and the
/// allowed-origins check happens on the real request, with the JWT.
pub fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([header::RETRY_AFTER])
        .max_age(Duration::from_secs(600))
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8], shape: &str) -> Result<T, Error> {
    serde_json::from_slice(body)
        .map_err(|e| Error::invalid(format!("the body must be JSON like {shape}: {e}")))
}

pub async fn token(
    State(app): State<App>,
    Client(client): Client,
    body: Body,
) -> ApiResult<Response> {
    let body = read_body(body, TOKEN_BODY_LIMIT).await?;
    let req: TokenRequest = parse_json(&body, r#"{"appId", "appSecret", "endUserId"}"#)?;
    let issued = app.issue_widget_token(req, client).await?;
    let mut res = Json(issued).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

pub async fn post_message(
    State(app): State<App>,
    Session(session): Session,
    Client(client): Client,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<impl IntoResponse> {
    let body = read_body(body, app.limits().chat_body).await?;
    let mut msg: WidgetMessage = parse_json(&body, r#"{"content": "…"}"#)?;
    msg.accept_language = super::chat::accept_language(&headers).map(str::to_owned);
    let posted = app.widget_post(&session, msg, client).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "turnId": posted.turn_id,
            "conversationId": posted.conversation_id,
            "messageId": posted.message_id,
        })),
    ))
}

pub async fn events(
    State(app): State<App>,
    Session(session): Session,
    Path(turn_id): Path<String>,
    Query(query): Query<SseQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let after = last_event_id(&headers, &query)?;
    Ok(turn_response(
        app.widget_subscribe(&session, &turn_id, after).await?,
    ))
}

/// The end user's conversation stream (the owner's replies); 404 before their first message.
pub async fn conversation_events(
    State(app): State<App>,
    Session(session): Session,
    Query(query): Query<SseQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let after = last_event_id(&headers, &query)?;
    Ok(sse_response(
        app.widget_subscribe_conversation(&session, after).await?,
    ))
}

/// A turn's frames as long-poll JSON (see `http::poll`).
pub async fn poll(
    State(app): State<App>,
    Session(session): Session,
    Path(turn_id): Path<String>,
    Query(q): Query<PollQuery>,
) -> ApiResult<Response> {
    let (after, wait) = (q.after()?, q.wait()?);
    Ok(poll_response(app.widget_subscribe(&session, &turn_id, after).await?, wait).await)
}

/// The end user's conversation stream as long-poll JSON.
pub async fn poll_conversation(
    State(app): State<App>,
    Session(session): Session,
    Query(q): Query<PollQuery>,
) -> ApiResult<Response> {
    let (after, wait) = (q.after()?, q.wait()?);
    let frames = app.widget_subscribe_conversation(&session, after).await?;
    Ok(poll_response(Some(frames), wait).await)
}

#[derive(Debug, serde::Deserialize)]
pub struct ConfigQuery {
    app: String,
}

/// A widget app's look and strings, before the widget has a session (`?app=<appId>`).
pub async fn app_config(
    State(app): State<App>,
    query: Result<Query<ConfigQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let Query(q) = query.map_err(|_| Error::invalid("add ?app=<appId> to the URL"))?;
    let config = app
        .app_widget_config(&q.app, super::chat::accept_language(&headers))
        .await?;
    Ok(config_response(&config))
}

/// A widget config: it follows the visitor's language, and changes when the owner edits the
/// look, so caches keep it a minute at most.
pub(super) fn config_response(config: &crate::app::WidgetConfig) -> Response {
    let mut res = Json(config).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=60"),
    );
    h.insert(
        header::VARY,
        HeaderValue::from_static("Accept-Language, Origin"),
    );
    res
}

pub async fn history(State(app): State<App>, Session(session): Session) -> ApiResult<Response> {
    let mut res = Json(app.widget_history(&session).await?).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// The widget script: loaded by `<script src>` from customers' pages, so it is cross-origin
/// readable; cached briefly so a new version reaches pages within minutes.
pub async fn script() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ),
            (
                HeaderName::from_static("cross-origin-resource-policy"),
                HeaderValue::from_static("cross-origin"),
            ),
        ],
        script_text(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// A token request or a widget message from any bytes: parsed or a clear `invalid_input`.
        #[test]
        fn widget_bodies_parse_or_fail_clearly(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200), json in "\\{(\"appId\": ?\"\\PC{0,10}\", ?\"appSecret\": ?\"x\", ?\"endUserId\": ?(\"u\"|1|null)|\"content\": ?(\"hi\"|\\[\\]))?\\}") {
            for b in [body.as_slice(), json.as_bytes()] {
                if let Err(e) = parse_json::<TokenRequest>(b, "{}") {
                    proptest::prop_assert_eq!(e.code(), "invalid_input");
                }
                if let Err(e) = parse_json::<WidgetMessage>(b, "{}") {
                    proptest::prop_assert_eq!(e.code(), "invalid_input");
                }
            }
        }
    }
}
