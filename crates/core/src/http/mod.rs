//! `public_router(app)`: the HTTP surface visitors and customers' backends reach. Handlers are
//! thin (parse, one `App` call, answer); rules live in `App`, status codes in `error`.
//!
//! The client address used for rate limits is the TCP peer. Behind a reverse proxy every visitor
//! shares the proxy's address, so raise `Limits::client_per_minute` there; forwarded headers are
//! not trusted because anyone can send them.

mod chat;
mod error;
mod page;
mod widget;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Request, header};
use axum::routing::{get, post};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::app::App;

pub use error::ApiError;

/// SSE comment interval: under the 30–60 s idle timeouts of common proxies and phone networks.
pub const PING_INTERVAL: Duration = Duration::from_secs(15);

/// Route tokens are bearer secrets: logs get the route's shape, never the token.
fn redact(path: &str) -> String {
    let mut parts: Vec<&str> = path.split('/').collect();
    for i in 1..parts.len() {
        if matches!(parts[i - 1], "chat" | "hook") && !parts[i].is_empty() {
            parts[i] = "…";
        }
    }
    parts.join("/")
}

pub fn public_router(app: App) -> Router {
    let widget_api = Router::new()
        .route("/api/v1/chat/messages", post(widget::post_message))
        .route("/api/v1/chat/turns/{turn_id}/events", get(widget::events))
        .route("/api/v1/chat/history", get(widget::history))
        .route("/api/v1/chat/events", get(widget::conversation_events))
        .layer(widget::cors());
    Router::new()
        .merge(widget_api)
        .route("/api/v1/auth/token", post(widget::token))
        .route("/widget/chat.js", get(widget::script))
        .route("/widget/xyz-chat.js", get(widget::script))
        .route("/chat/{token}", get(chat::add_slash))
        .route("/chat/{token}/", get(chat::page).post(chat::post_message))
        .route("/chat/{token}/history", get(chat::history))
        .route("/chat/{token}/events", get(chat::conversation_events))
        .route("/chat/{token}/{turn_id}/sse", get(chat::sse))
        .route("/hook/{token}", post(chat::post_hook))
        .route("/healthz", get(|| async { "ok" }))
        .fallback(chat::not_found)
        .with_state(app)
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                tracing::info_span!("http", method = %req.method(), path = %redact(req.uri().path()))
            }),
        )
        .layer(SetResponseHeaderLayer::overriding(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'; base-uri 'none'"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("cross-origin-resource-policy"),
            HeaderValue::from_static("same-origin"),
        ))
}

/// Serves `app` on `listener` until the app shuts down; every open stream ends then.
pub async fn serve(app: App, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    let shutdown = app.shutdown_token();
    serve_until(app, listener, shutdown).await
}

/// Serves until `stop` is cancelled: the window moves its listener (another port, or the local
/// network) by stopping one and serving another, without shutting the app down. Pass a child of
/// [`App::shutdown_token`] so a shutdown also stops it.
pub async fn serve_until(
    app: App,
    listener: tokio::net::TcpListener,
    stop: tokio_util::sync::CancellationToken,
) -> std::io::Result<()> {
    let router = public_router(app);
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { stop.cancelled().await })
    .await
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn tokens_never_reach_logs() {
        assert_eq!(redact("/chat/SECRET/"), "/chat/…/");
        assert_eq!(redact("/chat/SECRET/turn/sse"), "/chat/…/turn/sse");
        assert_eq!(redact("/hook/SECRET"), "/hook/…");
        assert_eq!(redact("/healthz"), "/healthz");
    }
}
