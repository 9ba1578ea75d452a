//! A demo of a customer's website with the Chatlink widget: the page embeds the widget snippet,
//! and the site's own backend holds the appId/appSecret and trades them for session JWTs.
//!
//! This is the pattern the README shows customers:
//! - the appSecret never leaves this server (it is read from a file on every exchange, so a
//!   rotated secret is picked up without a restart);
//! - the backend decides who the end user is (here a random id in an HttpOnly cookie standing in
//!   for the shop's own login) and never takes a user id from the browser;
//! - `POST /api/your-token-endpoint` answers `{data: {token}}`, which the snippet's `fetchToken`
//!   returns to the widget.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

const COOKIE: &str = "demo_user";

/// What the site needs to know about its Chatlink widget app.
#[derive(Debug, Clone)]
pub struct Config {
    /// The Chatlink server's origin, e.g. `http://127.0.0.1:8640`.
    pub chatlink_url: String,
    pub app_id: String,
    /// A file holding the appSecret (keep it mode 0600).
    pub app_secret_file: PathBuf,
}

/// The demo site: its router and how many tokens its backend has asked Chatlink for.
#[derive(Clone)]
pub struct Site(Arc<Inner>);

struct Inner {
    config: Config,
    http: reqwest::Client,
    exchanges: AtomicUsize,
}

#[derive(Debug)]
pub enum SiteError {
    /// The Chatlink URL is not an http(s) origin.
    BadChatlinkUrl(String),
}

impl std::fmt::Display for SiteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SiteError::BadChatlinkUrl(u) => write!(
                f,
                "{u:?} is not the origin of a Chatlink server (like http://127.0.0.1:8640)"
            ),
        }
    }
}

impl std::error::Error for SiteError {}

impl Site {
    pub fn new(mut config: Config) -> Result<Site, SiteError> {
        let url = reqwest::Url::parse(&config.chatlink_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or_else(|| SiteError::BadChatlinkUrl(config.chatlink_url.clone()))?;
        config.chatlink_url = url.origin().ascii_serialization();
        Ok(Site(Arc::new(Inner {
            config,
            http: reqwest::Client::new(),
            exchanges: AtomicUsize::new(0),
        })))
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/", get(page))
            .route("/api/your-token-endpoint", post(token_endpoint))
            .with_state(self.clone())
    }

    /// Token exchanges this backend has made with Chatlink (page renders and `fetchToken` calls).
    pub fn exchanges(&self) -> usize {
        self.0.exchanges.load(Ordering::SeqCst)
    }

    /// Asks Chatlink for a session JWT for `user`: the one place the appSecret is used.
    async fn exchange(&self, user: &str) -> Result<String, String> {
        self.0.exchanges.fetch_add(1, Ordering::SeqCst);
        let c = &self.0.config;
        let secret = std::fs::read_to_string(&c.app_secret_file)
            .map_err(|e| format!("cannot read {}: {e}", c.app_secret_file.display()))?;
        let res = self
            .0
            .http
            .post(format!("{}/api/v1/auth/token", c.chatlink_url))
            .json(&json!({"appId": c.app_id, "appSecret": secret.trim(), "endUserId": user}))
            .send()
            .await
            .map_err(|e| format!("Chatlink is unreachable: {e}"))?;
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        match body["token"].as_str() {
            Some(token) if status.is_success() => Ok(token.to_owned()),
            _ => Err(format!(
                "Chatlink refused the token request ({status}): {}",
                body["code"].as_str().unwrap_or("no code")
            )),
        }
    }
}

fn user_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 64)
}

fn new_user() -> String {
    let mut bytes = [0u8; 12];
    // Without OS randomness the demo cannot tell visitors apart; everyone shares one id.
    let _ = getrandom::fill(&mut bytes);
    format!("visitor-{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A JavaScript string literal (JSON is a subset), safe inside a `<script>` element.
fn js_string(s: &str) -> String {
    serde_json::to_string(s)
        .unwrap_or_else(|_| "\"\"".into())
        .replace('<', "\\u003c")
}

async fn page(State(site): State<Site>, headers: HeaderMap) -> Response {
    let (user, set_cookie) = match user_of(&headers) {
        Some(u) => (u, None),
        None => {
            let u = new_user();
            let cookie = format!("{COOKIE}={u}; Path=/; HttpOnly; SameSite=Lax");
            (u, Some(cookie))
        }
    };
    // A token rendered into the page saves the widget one round trip; if Chatlink is down the
    // widget asks `fetchToken()` later instead.
    let token = site.exchange(&user).await.unwrap_or_default();
    let html = PAGE
        .replace("{{chatlink}}", &js_string(&site.0.config.chatlink_url))
        .replace(
            "{{script}}",
            &format!("{}/widget/chat.js", site.0.config.chatlink_url),
        )
        .replace("{{appId}}", &js_string(&site.0.config.app_id))
        .replace("{{token}}", &js_string(&token));
    let mut res = Html(html).into_response();
    if let Some(c) = set_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        res.headers_mut().insert(header::SET_COOKIE, c);
    }
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

async fn token_endpoint(State(site): State<Site>, headers: HeaderMap) -> Response {
    let Some(user) = user_of(&headers) else {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "not signed in: load the page first"})),
        )
            .into_response();
    };
    match site.exchange(&user).await {
        Ok(token) => Json(json!({"data": {"token": token}})).into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, Json(json!({"error": e}))).into_response(),
    }
}

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Rosie's Bakery — order online</title>
<style>
  body { margin: 0; font: 16px/1.5 system-ui, sans-serif; color: #2b2118; background: #fbf7f2; }
  header { background: #7a4b2a; color: #fff; padding: 18px 24px; }
  header h1 { margin: 0; font-size: 22px; }
  main { max-width: 720px; margin: 0 auto; padding: 24px; }
  .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 16px; }
  .card { background: #fff; border-radius: 12px; padding: 16px; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
  .card h2 { margin: 0 0 4px; font-size: 18px; }
  .price { color: #7a4b2a; font-weight: 600; }
</style>
</head>
<body>
<header><h1>Rosie's Bakery</h1></header>
<main>
  <p>Fresh bread every morning, cakes to order. Questions? Use the chat in the corner.</p>
  <div class="cards">
    <div class="card"><h2>Sourdough loaf</h2><p>48-hour rise, crackly crust.</p><p class="price">$4.50</p></div>
    <div class="card"><h2>Cinnamon buns</h2><p>Box of four, baked at 7am.</p><p class="price">$6.00</p></div>
    <div class="card"><h2>Celebration cake</h2><p>Order three days ahead.</p><p class="price">from $28</p></div>
  </div>
</main>
<!-- The Chatlink widget: the snippet a customer pastes into their page. -->
<script>
window.ChatlinkChat = {
  appId: {{appId}},
  token: {{token}},
  host: {{chatlink}},
  fetchToken: async function () {
    var res = await fetch('/api/your-token-endpoint', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{}'
    });
    if (!res.ok) throw new Error('token endpoint answered ' + res.status);
    return (await res.json()).data.token;
  }
};
</script>
<script src="{{script}}" async></script>
</body>
</html>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_and_literals() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; demo_user=visitor-x"),
        );
        assert_eq!(user_of(&h).as_deref(), Some("visitor-x"));
        assert_eq!(user_of(&HeaderMap::new()), None);
        assert_eq!(js_string("</script>"), "\"\\u003c/script>\"");
        assert!(new_user().starts_with("visitor-"));
        assert!(
            Site::new(Config {
                chatlink_url: "ftp://x".into(),
                app_id: "a".into(),
                app_secret_file: "f".into(),
            })
            .is_err()
        );
    }
}
