//! `public_router(app)`: the HTTP surface visitors and customers' backends reach, and
//! [`serve`], the listener that holds it up against slow, greedy and hostile clients. Handlers
//! are thin (parse, one `App` call, answer); rules live in `App`, status codes in `error`.
//!
//! The client address used for limits is [`Client`]: the TCP peer, or, when the peer is one of
//! the `trusted_proxies`, the visitor its `X-Forwarded-For` names (the rightmost hop that is not
//! a trusted proxy). Forwarded headers from anyone else are never believed.

mod chat;
mod error;
mod page;
mod poll;
mod reach;
mod serve;
mod widget;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, Method, Request, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::app::App;
use crate::error::Error;

pub use error::ApiError;
pub use serve::{Caps, REFUSERS, STOP_GRACE};

/// How connections reach a listener: straight from visitors (or proxies listed in
/// `trusted_proxies`), or from a tunnel Chatlink started, whose own listener it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingress {
    Direct,
    /// Every connection is the tunnel's; the visitor's address is in the header it sets.
    Tunnel(Forwarded),
}

/// Which header a managed tunnel puts the visitor's address in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forwarded {
    /// `CF-Connecting-IP` (cloudflared).
    CfConnectingIp,
    /// The rightmost `X-Forwarded-For` hop (Tailscale Funnel, ngrok).
    XForwardedFor,
}

/// The visitor's address as the limits count it: the TCP peer, the visitor a trusted proxy
/// forwards ([`crate::app::client_behind`]), or the one a managed tunnel names.
#[derive(Debug, Clone, Copy)]
pub struct Client(pub IpAddr);

/// The visitor a managed tunnel names in its header; `None` when the header is missing or not
/// an address (the tunnel's own address counts then).
fn tunnel_client(parts: &Parts, by: Forwarded) -> Option<IpAddr> {
    match by {
        Forwarded::CfConnectingIp => parts
            .headers
            .get("cf-connecting-ip")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok()),
        Forwarded::XForwardedFor => parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .next_back()
            .and_then(|v| v.trim().parse().ok()),
    }
}

impl FromRequestParts<App> for Client {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| peer.ip())
            .ok_or_else(|| ApiError(Error::Internal("no peer address on the request".into())))?;
        if let Some(Ingress::Tunnel(by)) = parts.extensions.get::<Ingress>() {
            return Ok(Client(tunnel_client(parts, *by).unwrap_or(peer)));
        }
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok());
        Ok(Client(crate::app::client_behind(
            peer,
            forwarded,
            &app.limits().trusted_proxies,
        )))
    }
}

/// The most a route reads of a body: a hook's, a token request's, else a chat message's.
fn body_limit(path: &str, app: &App) -> usize {
    let limits = app.limits();
    if path.starts_with("/hook/") {
        limits.hook_body
    } else if path == "/api/v1/auth/token" {
        widget::TOKEN_BODY_LIMIT
    } else {
        limits.chat_body
    }
}

/// Reads every request body whole within `body_read_timeout`, before any handler runs, so a
/// client that dribbles its body holds no handler; 408 (and the connection closes) when it is
/// too slow, 413 past the route's limit (before reading, when `Content-Length` says so).
async fn read_bodies_within(State(app): State<App>, req: Request<Body>, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let limit = body_limit(req.uri().path(), &app);
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return ApiError(Error::PayloadTooLarge { limit }).into_response();
    }
    let (parts, body) = req.into_parts();
    let read = axum::body::to_bytes(body, limit);
    match tokio::time::timeout(app.limits().body_read_timeout, read).await {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Ok(Err(e)) if too_long(&e) => ApiError(Error::PayloadTooLarge { limit }).into_response(),
        Ok(Err(_)) => {
            ApiError(Error::invalid("the request body could not be read")).into_response()
        }
        Err(_) => {
            let mut res = ApiError(Error::RequestTimeout).into_response();
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            res
        }
    }
}

/// Whether reading a body failed because it was longer than its limit.
fn too_long(e: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// Counts pages, histories and streams per client address.
async fn count_reads(
    State(app): State<App>,
    client: Client,
    req: Request<Body>,
    next: Next,
) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD)
        && let Err(e) = app.count_read(client.0)
    {
        return ApiError(e).into_response();
    }
    next.run(req).await
}

/// The token of a `/chat/<token>/…` path.
fn link_token(path: &str) -> &str {
    path.split('/').nth(2).unwrap_or("")
}

fn header_str(headers: &axum::http::HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Refuses (403 `origin_not_allowed`) a chat link request sent by a web page that is neither
/// the link's own chat page nor a website on the link's list.
async fn link_origin_guard(State(app): State<App>, req: Request<Body>, next: Next) -> Response {
    let checked = app
        .check_link_origin(
            link_token(req.uri().path()),
            header_str(req.headers(), header::ORIGIN),
            header_str(req.headers(), header::HOST),
        )
        .await;
    match checked {
        Ok(()) => next.run(req).await,
        Err(e) => ApiError(e).into_response(),
    }
}

/// CORS on a chat link's routes for the websites on that link's list only: the one-line widget
/// on those sites can read the answers, and no other site's script can.
fn link_cors(app: App) -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    CorsLayer::new()
        .allow_origin(AllowOrigin::async_predicate(
            move |origin: HeaderValue, parts: &Parts| {
                let token = link_token(parts.uri.path()).to_owned();
                let host = header_str(&parts.headers, header::HOST).map(str::to_owned);
                async move {
                    let Ok(origin) = origin.to_str() else {
                        return false;
                    };
                    app.check_link_origin(&token, Some(origin), host.as_deref())
                        .await
                        .is_ok()
                }
            },
        ))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::CONTENT_TYPE,
            HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([header::RETRY_AFTER])
        .max_age(Duration::from_secs(600))
}

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
        .route("/api/v1/chat/turns/{turn_id}/frames", get(widget::poll))
        .route("/api/v1/chat/frames", get(widget::poll_conversation))
        .layer(widget::cors());
    let link_api = Router::new()
        .route("/chat/{token}/", get(chat::page).post(chat::post_message))
        .route("/chat/{token}/history", get(chat::history))
        .route("/chat/{token}/events", get(chat::conversation_events))
        .route("/chat/{token}/widget", get(chat::widget_config))
        .route("/chat/{token}/{turn_id}/sse", get(chat::sse))
        .route("/chat/{token}/frames", get(chat::poll_conversation))
        .route("/chat/{token}/{turn_id}/frames", get(chat::poll))
        .layer(middleware::from_fn_with_state(
            app.clone(),
            link_origin_guard,
        ))
        .layer(link_cors(app.clone()));
    Router::new()
        .merge(widget_api)
        .merge(link_api)
        .route("/api/v1/auth/token", post(widget::token))
        .route(
            "/api/v1/widget/config",
            get(widget::app_config).layer(widget::cors()),
        )
        .route("/widget/chat.js", get(widget::script))
        .route("/widget/xyz-chat.js", get(widget::script))
        .route("/logo/{id}", get(chat::logo))
        .route("/chat/{token}", get(chat::add_slash))
        .route("/.well-known/chatlink/{nonce}", get(reach::proof))
        .route("/.well-known/chatlink/{nonce}/stream", get(reach::proof_stream))
        .route("/hook/{token}", post(chat::post_hook))
        .route("/healthz", get(|| async { "ok" }))
        .fallback(chat::not_found)
        .layer(middleware::from_fn_with_state(app.clone(), count_reads))
        .layer(middleware::from_fn_with_state(app.clone(), read_bodies_within))
        .with_state(app)
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| {
                    tracing::info_span!("http", method = %req.method(), path = %redact(req.uri().path()))
                })
                // 503s are answers here (a paused link, a full server), not failures; real
                // server errors are logged with their cause where they happen.
                .on_failure(
                    tower_http::trace::DefaultOnFailure::new().level(tracing::Level::DEBUG),
                ),
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

/// Pending connections the kernel may queue while the server accepts: a flood of connections
/// fills a short queue, and a visitor whose SYN is dropped waits a whole second to retry.
pub const BACKLOG: u32 = 4096;

/// A listener on `addr` with a [`BACKLOG`]-long queue (the kernel may cap it, e.g. Linux's
/// `net.core.somaxconn`).
pub fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    // As std's TcpListener::bind does: a restarted server may take its port back at once.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Serves `app` on `listener` until the app shuts down; every open stream ends then.
pub async fn serve(app: App, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    let shutdown = app.shutdown_token();
    serve_until(app, listener, shutdown).await
}

/// Serves until `stop` is cancelled: the window moves its listener (another port, or the local
/// network) by stopping one and serving another, without shutting the app down. Pass a child of
/// [`App::shutdown_token`] so a shutdown also stops it. Every bound of `App::limits` applies.
pub async fn serve_until(
    app: App,
    listener: tokio::net::TcpListener,
    stop: tokio_util::sync::CancellationToken,
) -> std::io::Result<()> {
    let limits = app.limits().clone();
    serve::run(public_router(app), listener, limits, stop, Ingress::Direct).await
}

/// Serves a managed tunnel's own loopback listener until `stop`: like [`serve_until`], but
/// every connection is the tunnel's, so visitors are counted by the address it forwards and the
/// per-address connection cap does not apply to the tunnel itself.
pub async fn serve_tunnel_until(
    app: App,
    listener: tokio::net::TcpListener,
    stop: tokio_util::sync::CancellationToken,
    forwarded: Forwarded,
) -> std::io::Result<()> {
    let limits = app.limits().clone();
    serve::run(
        public_router(app),
        listener,
        limits,
        stop,
        Ingress::Tunnel(forwarded),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::{Body, redact};

    /// A chunked body (no Content-Length) past its limit is told apart from a broken one.
    #[tokio::test]
    async fn an_overlong_chunked_body_is_too_long_and_a_broken_one_is_not() {
        let chunks = futures_util::stream::iter(vec![
            Ok::<_, std::io::Error>(axum::body::Bytes::from_static(b"0123456789")),
            Ok(axum::body::Bytes::from_static(b"0123456789")),
        ]);
        let e = axum::body::to_bytes(Body::from_stream(chunks), 15)
            .await
            .expect_err("over");
        assert!(super::too_long(&e), "{e}");
        let broken = futures_util::stream::iter(vec![Err::<axum::body::Bytes, _>(
            std::io::Error::other("reset"),
        )]);
        let e = axum::body::to_bytes(Body::from_stream(broken), 15)
            .await
            .expect_err("broken");
        assert!(!super::too_long(&e), "{e}");
    }

    #[test]
    fn tokens_never_reach_logs() {
        assert_eq!(redact("/chat/SECRET/"), "/chat/…/");
        assert_eq!(redact("/chat/SECRET/turn/sse"), "/chat/…/turn/sse");
        assert_eq!(redact("/hook/SECRET"), "/hook/…");
        assert_eq!(redact("/healthz"), "/healthz");
    }
}
