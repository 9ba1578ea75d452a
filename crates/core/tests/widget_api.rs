//! The widget's HTTP surface over real TCP: the token exchange, every way a session JWT is
//! refused, end-user conversations, revocation and rotation, origins and CORS, and a stream that
//! ends with its JWT and resumes exactly with a new one.

mod common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chatlink_core::Limits;
use chatlink_core::app::NewWidgetApp;
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};

use chatlink_test_support::FakeProvider;
use common::*;

struct WidgetApp {
    id: String,
    secret: String,
}

impl Server {
    async fn widget_app(&self, folder: &str, origins: &[&str], ttl: Duration) -> WidgetApp {
        let created = self
            .app
            .create_widget_app(NewWidgetApp {
                folder: folder.into(),
                name: None,
                origins: origins.iter().map(|o| o.to_string()).collect(),
                token_ttl: Some(ttl),
            })
            .await
            .expect("create the widget app");
        WidgetApp {
            id: created.app.id,
            secret: created.secret.expose().clone(),
        }
    }

    async fn exchange(&self, body: Value) -> reqwest::Response {
        self.client
            .post(format!("{}/api/v1/auth/token", self.base))
            .json(&body)
            .send()
            .await
            .expect("token request")
    }

    /// A session JWT for `user` of `app`.
    async fn session(&self, app: &WidgetApp, user: &str) -> String {
        let res = self
            .exchange(json!({"appId": app.id, "appSecret": app.secret, "endUserId": user}))
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        let v: Value = res.json().await.expect("json");
        v["token"].as_str().expect("token").to_owned()
    }

    fn api(&self, method: reqwest::Method, path: &str, jwt: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}/api/v1/chat/{path}", self.base))
            .bearer_auth(jwt)
    }

    async fn history(&self, jwt: &str) -> reqwest::Response {
        self.api(reqwest::Method::GET, "history", jwt)
            .send()
            .await
            .expect("history")
    }

    async fn say(&self, jwt: &str, content: &str) -> reqwest::Response {
        self.api(reqwest::Method::POST, "messages", jwt)
            .json(&json!({"content": content}))
            .send()
            .await
            .expect("post")
    }

    async fn turn_events(&self, jwt: &str, turn: &str, after: Option<&str>) -> reqwest::Response {
        let mut req = self.api(reqwest::Method::GET, &format!("turns/{turn}/events"), jwt);
        if let Some(id) = after {
            req = req.header("Last-Event-ID", id);
        }
        req.send().await.expect("events")
    }
}

async fn json_of(res: reqwest::Response) -> Value {
    res.json().await.expect("JSON body")
}

/// `(delta text, every event id)` of a finished or cut stream.
fn deltas_and_ids(events: &[eventsource_stream::Event]) -> (String, Vec<i64>) {
    let text = events
        .iter()
        .filter(|e| e.event == "delta")
        .map(|e| {
            let v: Value = serde_json::from_str(&e.data).expect("delta json");
            v["text"].as_str().expect("text").to_owned()
        })
        .collect();
    let ids = events
        .iter()
        .map(|e| e.id.parse().expect("numeric id"))
        .collect();
    (text, ids)
}

#[tokio::test]
async fn the_token_exchange_checks_credentials_and_end_user_ids() {
    let s = start().await;
    let app = s.widget_app("demo", &[], Duration::from_secs(900)).await;
    let res = s
        .client
        .post(format!("{}/api/v1/auth/token", s.base))
        .header("origin", "https://shop.example")
        .json(&json!({"appId": app.id, "appSecret": app.secret, "endUserId": "user-42"}))
        .send()
        .await
        .expect("exchange");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers().get("access-control-allow-origin").is_none(),
        "browsers must not be able to read the token endpoint"
    );
    assert_eq!(res.headers()["cache-control"], "no-store");
    let v = json_of(res).await;
    let jwt = v["token"].as_str().expect("token");
    let payload: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(jwt.split('.').nth(1).expect("payload"))
            .expect("base64"),
    )
    .expect("claims");
    assert_eq!(payload["sub"], "user-42");
    assert_eq!(payload["app"], json!(app.id));
    assert_eq!(payload["iss"], "chatlink");
    assert_eq!(payload["aud"], "chatlink-widget");
    assert_eq!(
        payload["exp"].as_i64().expect("exp") - payload["iat"].as_i64().expect("iat"),
        900
    );
    assert!(v["expiresAt"].as_str().is_some_and(|t| t.ends_with('Z')));

    // Wrong secret, unknown app, junk app id and revoked app: one and the same answer.
    let revoked = s.widget_app("demo", &[], Duration::from_secs(60)).await;
    s.app.revoke_widget_app(&revoked.id).await.expect("revoke");
    let mut bodies = Vec::new();
    for (app_id, secret) in [
        (app.id.as_str(), "wrong-secret"),
        (app.id.as_str(), &app.secret[..42]),
        ("app_000000000000000000000000", app.secret.as_str()),
        ("not an app", app.secret.as_str()),
        (revoked.id.as_str(), revoked.secret.as_str()),
    ] {
        let res = s
            .exchange(json!({"appId": app_id, "appSecret": secret, "endUserId": "u"}))
            .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{app_id}");
        bodies.push(res.text().await.expect("body"));
    }
    assert!(bodies.iter().all(|b| b == &bodies[0]), "{bodies:?}");
    assert!(bodies[0].contains("bad_credentials"));

    for user in [
        json!(""),
        json!("   "),
        json!("a\nb"),
        json!("tab\there"),
        json!("x".repeat(129)),
        json!(42),
    ] {
        let res = s
            .exchange(json!({"appId": app.id, "appSecret": app.secret, "endUserId": user}))
            .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{user}");
        assert_eq!(error_code(res).await, "invalid_input");
    }
    for user in [
        "x".repeat(128),
        "Zoë Ñ 😀 <b>".into(),
        "mail@shop.example".into(),
    ] {
        s.session(&app, &user).await;
    }
    let res = s
        .client
        .post(format!("{}/api/v1/auth/token", s.base))
        .body("appId=x")
        .send()
        .await
        .expect("form");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

/// The app's token budget is spent by right secrets only; wrong ones are limited per address
/// (`bad_secret_*`), so a stranger guessing from the same page never causes the shop's 429.
#[tokio::test]
async fn the_token_endpoint_is_rate_limited() {
    let s = start_with(Limits {
        token_burst: 3,
        token_per_minute: 3,
        bad_secret_burst: 2,
        bad_secret_per_minute: 2,
        ..Limits::default()
    })
    .await;
    let app = s.widget_app("demo", &[], Duration::from_secs(60)).await;
    let guess = json!({"appId": app.id, "appSecret": "guess", "endUserId": "u"});
    for _ in 0..2 {
        assert_eq!(
            s.exchange(guess.clone()).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    for _ in 0..3 {
        s.session(&app, "u").await;
    }
    let res = s.exchange(guess).await;
    assert_eq!(
        res.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "this address guessed too often"
    );
    assert_eq!(error_code(res).await, "rate_limited");
    let res = s
        .exchange(json!({"appId": app.id, "appSecret": app.secret, "endUserId": "u"}))
        .await;
    assert_eq!(
        res.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the app's budget is spent"
    );
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(error_code(res).await, "rate_limited");
}

#[tokio::test]
async fn every_bad_session_token_gets_401_before_any_handler_runs() {
    let s = start().await;
    let app = s.widget_app("demo", &[], Duration::from_secs(900)).await;
    let good = s.session(&app, "alice").await;
    let parts: Vec<&str> = good.split('.').collect();
    let b64 = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("claims");
    let mut as_mallory = claims.clone();
    as_mallory["sub"] = json!("mallory");
    let other = start().await;
    let other_app = other
        .widget_app("demo", &[], Duration::from_secs(900))
        .await;
    let bad = [
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(json!({"alg": "none", "typ": "JWT", "kid": app.id})),
                parts[1]
            ),
        ),
        (
            "tampered claims",
            format!("{}.{}.{}", parts[0], b64(as_mallory), parts[2]),
        ),
        (
            "signed with another key",
            format!(
                "{}.{}.{}",
                parts[0],
                parts[1],
                URL_SAFE_NO_PAD.encode([7u8; 32])
            ),
        ),
        (
            "another server's app",
            other.session(&other_app, "alice").await,
        ),
        ("garbage", "abc.def.ghi".to_owned()),
    ];
    let before = s.count("messages");
    for (what, jwt) in &bad {
        for res in [s.history(jwt).await, s.say(jwt, "hello").await] {
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{what}");
            assert!(
                res.headers()["www-authenticate"]
                    .to_str()
                    .is_ok_and(|h| h.starts_with("Bearer")),
                "{what}"
            );
            assert_eq!(error_code(res).await, "invalid_session", "{what}");
        }
    }
    for auth in ["", "Bearer ", "Basic YTpi", &format!("bearer {good}")] {
        let res = s
            .client
            .get(format!("{}/api/v1/chat/history", s.base))
            .header("authorization", auth)
            .send()
            .await
            .expect("history");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
    }
    let res = s
        .client
        .get(format!("{}/api/v1/chat/history", s.base))
        .send()
        .await
        .expect("no header");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(s.count("messages"), before, "nothing was written");
    assert_eq!(s.history(&good).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_end_user_has_one_conversation_on_every_device_and_no_one_else_sees_it() {
    let s = start().await;
    let app = s.widget_app("demo", &[], Duration::from_secs(900)).await;
    let phone = s.session(&app, "alice").await;
    let empty = json_of(s.history(&phone).await).await;
    assert_eq!(empty["name"], "Rosie's Bakery");
    assert!(empty["greeting"].as_str().is_some_and(|g| !g.is_empty()));
    assert_eq!(empty["conversationId"], Value::Null);
    assert_eq!(empty["messages"], json!([]));

    let res = s.say(&phone, "When are you open on Sunday?").await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let posted = json_of(res).await;
    let turn = posted["turnId"].as_str().expect("turnId").to_owned();
    let events = all_events(s.turn_events(&phone, &turn, None).await).await;
    assert_eq!(events.last().map(|e| e.event.as_str()), Some("done"));
    assert!(
        events
            .iter()
            .any(|e| e.event == "message" && e.data.contains("8am to 2pm"))
    );

    // Another device of the same end user: a new token, the same conversation.
    let laptop = s.session(&app, "alice").await;
    let h = json_of(s.history(&laptop).await).await;
    assert_eq!(h["conversationId"], posted["conversationId"]);
    let roles: Vec<&str> = h["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["role"].as_str().expect("role"))
        .collect();
    assert_eq!(roles, ["user", "assistant"]);
    assert!(h["messages"][0]["createdAt"].is_string());
    let again = json_of(s.say(&laptop, "And where are you?").await).await;
    assert_eq!(again["conversationId"], posted["conversationId"]);

    // Another end user sees none of it, cannot stream it, cannot write into it.
    let bob = s.session(&app, "bob").await;
    assert_eq!(
        json_of(s.history(&bob).await).await["conversationId"],
        Value::Null
    );
    let res = s.turn_events(&bob, &turn, None).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = s
        .api(reqwest::Method::POST, "messages", &bob)
        .json(&json!({"content": "hi", "conversationId": posted["conversationId"]}))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // Neither does the same user id of another app.
    let other_app = s.widget_app("demo", &[], Duration::from_secs(900)).await;
    let other_alice = s.session(&other_app, "alice").await;
    assert_eq!(
        json_of(s.history(&other_alice).await).await["conversationId"],
        Value::Null
    );
    // Bad bodies are refused without writing.
    let before = s.count("messages");
    for body in [
        json!({"content": ""}),
        json!({"content": "x".repeat(4001)}),
        json!({}),
    ] {
        let res = s
            .api(reqwest::Method::POST, "messages", &bob)
            .json(&body)
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{body}");
    }
    assert_eq!(s.count("messages"), before);
}

#[tokio::test]
async fn revoking_or_rotating_ends_sessions_and_streams_at_once() {
    let s = start().await;
    slow_agent(&s, "slow").await;
    let app = s.widget_app("slow", &[], Duration::from_secs(900)).await;
    let jwt = s.session(&app, "alice").await;
    let turn = json_of(s.say(&jwt, "hello?").await).await["turnId"]
        .as_str()
        .expect("turn")
        .to_owned();
    let mut stream = events(s.turn_events(&jwt, &turn, None).await);
    let first = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("a first frame");
    assert!(first.is_some());
    let revoked_at = Instant::now();
    s.app.revoke_widget_app(&app.id).await.expect("revoke");
    let end = tokio::time::timeout(Duration::from_secs(1), async {
        while stream.next().await.is_some() {}
    })
    .await;
    assert!(end.is_ok(), "the open stream ended within a second");
    assert!(revoked_at.elapsed() < Duration::from_secs(1));
    assert_eq!(s.history(&jwt).await.status(), StatusCode::UNAUTHORIZED);
    let res = s
        .exchange(json!({"appId": app.id, "appSecret": app.secret, "endUserId": "alice"}))
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(s.app.reveal_app_secret(&app.id).await.is_err());
    let listed = s.app.widget_apps().await.expect("list");
    assert!(
        listed
            .iter()
            .any(|a| a.id == app.id && a.status == chatlink_core::app::AppStatus::Revoked)
    );

    let app = s.widget_app("demo", &[], Duration::from_secs(900)).await;
    let old_jwt = s.session(&app, "alice").await;
    let new_secret = s
        .app
        .rotate_app_secret(&app.id)
        .await
        .expect("rotate")
        .expose()
        .clone();
    assert_ne!(new_secret, app.secret);
    assert_eq!(URL_SAFE_NO_PAD.decode(&new_secret).expect("b64").len(), 32);
    assert_eq!(
        s.app
            .reveal_app_secret(&app.id)
            .await
            .expect("reveal")
            .expose(),
        &new_secret
    );
    assert_eq!(s.history(&old_jwt).await.status(), StatusCode::UNAUTHORIZED);
    let res = s
        .exchange(json!({"appId": app.id, "appSecret": app.secret, "endUserId": "alice"}))
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "the old secret");
    let rotated = WidgetApp {
        id: app.id,
        secret: new_secret,
    };
    let fresh = s.session(&rotated, "alice").await;
    assert_eq!(s.history(&fresh).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn allowed_origins_are_enforced_and_cors_lets_the_widget_read_why() {
    let s = start().await;
    let app = s
        .widget_app(
            "demo",
            &["https://Shop.example:443/"],
            Duration::from_secs(900),
        )
        .await;
    let jwt = s.session(&app, "alice").await;
    let from = |origin: &str| {
        s.api(reqwest::Method::GET, "history", &jwt)
            .header("origin", origin)
            .send()
    };
    let ok = from("https://shop.example").await.expect("allowed");
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    let refused = from("https://evil.example").await.expect("refused");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        refused.headers()["access-control-allow-origin"],
        "https://evil.example",
        "the widget can read the refusal and say why"
    );
    assert_eq!(error_code(refused).await, "origin_not_allowed");
    let before = s.count("messages");
    let res = s
        .api(reqwest::Method::POST, "messages", &jwt)
        .header("origin", "http://shop.example")
        .json(&json!({"content": "hi"}))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "the scheme counts");
    assert_eq!(
        s.count("messages"),
        before,
        "a refused message is not written"
    );
    // No Origin: not a cross-site browser request.
    assert_eq!(s.history(&jwt).await.status(), StatusCode::OK);

    let preflight = s
        .client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/v1/chat/messages", s.base),
        )
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,last-event-id",
        )
        .send()
        .await
        .expect("preflight");
    assert!(preflight.status().is_success());
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .expect("headers");
    assert!(allowed.contains("authorization") && allowed.contains("last-event-id"));

    s.app
        .set_widget_app_origins(&app.id, vec![])
        .await
        .expect("any origin");
    assert_eq!(
        from("https://evil.example").await.expect("any").status(),
        StatusCode::OK
    );
    assert_eq!(
        s.app
            .set_widget_app_origins(&app.id, vec!["https://shop.example/path".into()])
            .await
            .expect_err("a path")
            .code(),
        "invalid_input"
    );
}

#[tokio::test]
async fn a_stream_ends_with_its_token_and_resumes_exactly_with_a_new_one() {
    let s = start().await;
    let pieces: Vec<String> = (0..16).map(|i| format!("piece {i}. ")).collect();
    let provider = FakeProvider::drip(&pieces, Duration::from_millis(500)).await;
    agent_on(&s.app, "drip", &provider.base_url).await;
    let app = s.widget_app("drip", &[], Duration::from_secs(5)).await;
    let first_jwt = s.session(&app, "alice").await;
    let turn = json_of(s.say(&first_jwt, "Tell me a long story").await).await["turnId"]
        .as_str()
        .expect("turn")
        .to_owned();
    let started = Instant::now();
    let first = all_events(s.turn_events(&first_jwt, &turn, None).await).await;
    let cut_after = started.elapsed();
    assert!(
        first.iter().all(|e| e.event != "done"),
        "the stream ended at the token's expiry, before the reply did"
    );
    assert!(
        cut_after < Duration::from_secs(6),
        "ended after {cut_after:?}"
    );
    let (text_before, ids_before) = deltas_and_ids(&first);
    assert!(!text_before.is_empty());
    // The expired token opens nothing more.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        s.turn_events(
            &first_jwt,
            &turn,
            ids_before.last().map(|i| i.to_string()).as_deref()
        )
        .await
        .status(),
        StatusCode::UNAUTHORIZED
    );
    let second_jwt = s.session(&app, "alice").await;
    let last = ids_before.last().expect("an id").to_string();
    let rest = all_events(s.turn_events(&second_jwt, &turn, Some(&last)).await).await;
    assert_eq!(rest.last().map(|e| e.event.as_str()), Some("done"));
    let (text_after, ids_after) = deltas_and_ids(&rest);
    assert_eq!(
        format!("{text_before}{text_after}"),
        pieces.concat(),
        "every piece once, in order"
    );
    let ids: Vec<i64> = ids_before.into_iter().chain(ids_after).collect();
    assert!(
        ids.windows(2).all(|w| w[1] == w[0] + 1),
        "contiguous ids: {ids:?}"
    );
}

#[tokio::test]
async fn the_widget_script_is_served_for_any_site_under_both_names() {
    let s = start().await;
    for path in ["/widget/chat.js", "/widget/xyz-chat.js"] {
        let res = s
            .client
            .get(format!("{}{path}", s.base))
            .send()
            .await
            .expect("script");
        assert_eq!(res.status(), StatusCode::OK);
        let h = res.headers().clone();
        assert!(
            h["content-type"]
                .to_str()
                .is_ok_and(|c| c.starts_with("text/javascript"))
        );
        assert_eq!(h["cross-origin-resource-policy"], "cross-origin");
        let body = res.text().await.expect("body");
        assert!(body.contains("ChatlinkChat") && body.contains("XYZChat"));
    }
}

#[tokio::test]
async fn the_embed_snippet_is_filled_in_with_this_server_and_no_secret() {
    let s = start().await;
    let app = s.widget_app("demo", &[], Duration::from_secs(900)).await;
    let embed = s.app.widget_embed(&app.id).await.expect("embed");
    assert!(
        embed.snippet.contains(&format!("host: '{}'", s.base)),
        "{}",
        embed.snippet
    );
    assert!(
        embed.snippet.contains(&format!(
            "<script src=\"{}/widget/chat.js\" async></script>",
            s.base
        )),
        "{}",
        embed.snippet
    );
    assert!(embed.snippet.contains("fetchToken"));
    assert!(
        embed
            .token_request
            .contains(&format!("{}/api/v1/auth/token", s.base))
            && embed.token_request.contains(&app.id)
    );
    assert!(!embed.snippet.contains(&app.secret) && !embed.token_request.contains(&app.secret));
    assert_eq!(
        s.app
            .widget_embed("app_000000000000000000000000")
            .await
            .expect_err("unknown")
            .code(),
        "not_found"
    );
}
