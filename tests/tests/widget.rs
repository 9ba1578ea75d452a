//! The widget end to end: headless Chromium on the demo customer site (its own server, its own
//! origin), the widget script from the Chatlink server, tokens minted by the site's backend.
//! Session lifetimes of a few seconds make refreshes happen while the test watches.

use std::path::PathBuf;
use std::time::Duration;

use chatlink_core::app::NewWidgetApp;
use chatlink_customer_site::{Config, Site};
use chatlink_e2e::{Browser, screenshot, wait_for};
use chatlink_test_support::{FakeProvider, TestServer, agent_on};
use serde_json::{Value, json};

const SHORT: Duration = Duration::from_secs(10);

/// A Chatlink server, a widget app, and the demo shop site embedding it.
struct Shop {
    server: TestServer,
    site: Site,
    url: String,
    app_id: String,
    secret_file: PathBuf,
    _secrets: tempfile::TempDir,
}

impl Shop {
    async fn start(folder: &str, ttl: Duration, server: TestServer) -> Shop {
        let chatlink = server.base_url.clone();
        Shop::start_via(folder, ttl, server, chatlink).await
    }

    /// A shop whose page and backend reach Chatlink at `chatlink` (a proxy in front of it).
    async fn start_via(folder: &str, ttl: Duration, server: TestServer, chatlink: String) -> Shop {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the shop site");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let created = server
            .app
            .create_widget_app(NewWidgetApp {
                folder: folder.into(),
                name: Some("Shop website".into()),
                origins: vec![url.clone()],
                token_ttl: Some(ttl),
            })
            .await
            .expect("create the widget app");
        let secrets = tempfile::tempdir().expect("a folder for the shop's secret");
        let secret_file = secrets.path().join("app-secret");
        std::fs::write(&secret_file, created.secret.expose()).expect("write the secret");
        let site = Site::new(Config {
            chatlink_url: chatlink,
            app_id: created.app.id.clone(),
            app_secret_file: secret_file.clone(),
        })
        .expect("the site's config");
        let router = site.router();
        tokio::spawn(async move { axum::serve(listener, router).await });
        Shop {
            server,
            site,
            url: format!("{url}/"),
            app_id: created.app.id,
            secret_file,
            _secrets: secrets,
        }
    }

    /// Rotates the secret in Chatlink and hands the new one to the site, as an owner would.
    async fn rotate(&self) {
        let secret = self
            .server
            .app
            .rotate_app_secret(&self.app_id)
            .await
            .expect("rotate");
        std::fs::write(&self.secret_file, secret.expose()).expect("write the new secret");
    }
}

async fn wait_widget(browser: &Browser, state: &str, timeout: Duration) {
    wait_for(
        || async {
            let now = browser
                .widget("return root ? root.dataset.state : null")
                .await;
            (now == json!(state)).then_some(())
        },
        timeout,
    )
    .await
    .unwrap_or_else(|e| {
        panic!("the widget never reached state {state:?}: {e}");
    });
}

/// Opens the shop page and waits for the widget's bubble.
async fn visit(browser: &Browser, shop: &Shop) {
    browser.client.goto(&shop.url).await.expect("open the shop");
    wait_widget(browser, "closed", SHORT).await;
}

/// Records every `fetch` the page makes (URL, method, status) and every `fetchToken()` call.
async fn record_calls(browser: &Browser) {
    browser
        .js(
            r#"window.__calls = [];
            window.__fetchTokens = 0;
            const realFetch = window.fetch;
            window.fetch = async function (input, init) {
              const entry = { url: String(input && input.url || input), method: (init && init.method) || 'GET', status: null };
              window.__calls.push(entry);
              try { const res = await realFetch.apply(this, arguments); entry.status = res.status; return res; }
              catch (e) { entry.status = 'network error'; throw e; }
            };
            const cfg = window.ChatlinkChat;
            const realFetchToken = cfg.fetchToken;
            cfg.fetchToken = function () { window.__fetchTokens += 1; return realFetchToken.apply(this, arguments); };
            return true;"#,
            vec![],
        )
        .await;
}

/// `[status, …]` of the recorded calls whose URL contains `part` (and method, if given).
async fn statuses(browser: &Browser, part: &str, method: Option<&str>) -> Vec<Value> {
    let v = browser
        .js(
            "return window.__calls.filter(c => c.url.includes(arguments[0]) && (!arguments[1] || c.method === arguments[1])).map(c => c.status)",
            vec![json!(part), json!(method)],
        )
        .await;
    v.as_array().cloned().unwrap_or_default()
}

async fn fetch_tokens(browser: &Browser) -> u64 {
    browser
        .js("return window.__fetchTokens", vec![])
        .await
        .as_u64()
        .expect("a count")
}

async fn open_panel(browser: &Browser) {
    browser
        .widget("w.querySelector('.bubble').click(); return true")
        .await;
    wait_widget(browser, "idle", SHORT).await;
}

/// Types `text` into the composer and presses the send button, as a visitor does.
async fn type_and_send(browser: &Browser, text: &str) {
    type_text(browser, text).await;
    assert!(press_send(browser).await, "the send button was enabled");
}

/// Types `text` into the composer without sending it.
async fn type_text(browser: &Browser, text: &str) {
    browser
        .js(
            "const input = document.getElementById('chatlink-widget').shadowRoot.querySelector('.input');
             input.value = arguments[0];
             input.dispatchEvent(new Event('input', { bubbles: true }));
             return true;",
            vec![json!(text)],
        )
        .await;
}

/// Presses the send button if it is enabled; whether it was.
async fn press_send(browser: &Browser) -> bool {
    browser
        .widget("const send = w.querySelector('.send'); if (send.disabled) return false; send.click(); return true;")
        .await
        == json!(true)
}

/// Every bubble in the panel: `[{cls, text}]`.
async fn bubbles(browser: &Browser) -> Vec<Value> {
    browser.widget("return [...w.querySelectorAll('.messages .msg')].map(e => ({cls: e.className, text: e.textContent}))",
    )
    .await
    .as_array()
    .cloned()
    .unwrap_or_default()
}

async fn wait_reply_containing(browser: &Browser, text: &str, timeout: Duration) {
    wait_for(
        || async {
            bubbles(browser)
                .await
                .iter()
                .any(|b| {
                    b["cls"].as_str().is_some_and(|c| c.contains("assistant"))
                        && b["text"].as_str().is_some_and(|t| t.contains(text))
                })
                .then_some(())
        },
        timeout,
    )
    .await
    .unwrap_or_else(|e| panic!("no reply containing {text:?}: {e}"));
}

#[tokio::test]
async fn the_widget_chats_on_a_customer_site_and_renews_its_token_before_expiry() {
    let shop = Shop::start("demo", Duration::from_secs(6), TestServer::start().await).await;
    let browser = Browser::start_desktop().await;
    visit(&browser, &shop).await;
    screenshot(&browser.client, "widget-closed-desktop").await;
    record_calls(&browser).await;
    let rendered = shop.site.exchanges();
    assert_eq!(rendered, 1, "the page was rendered with one token");

    open_panel(&browser).await;
    let head = browser
        .widget(
            "return {title: w.querySelector('.title').textContent,
                 focused: w.activeElement && w.activeElement.className,
                 first: w.querySelector('.messages .msg').textContent}",
        )
        .await;
    assert_eq!(head["title"], "Rosie's Bakery");
    assert_eq!(
        head["focused"], "input",
        "opening moves focus to the message box"
    );
    assert!(
        head["first"]
            .as_str()
            .is_some_and(|g| g.contains("assistant at Rosie's Bakery")),
        "the greeting comes first: {head}"
    );
    type_and_send(&browser, "When are you open on Sunday?").await;
    wait_reply_containing(&browser, "8am to 2pm", SHORT).await;
    wait_widget(&browser, "idle", SHORT).await;
    // Markup in a message is shown as text, never run or rendered.
    type_and_send(
        &browser,
        "<img src=x onerror=\"window.__xss=1\"><b>cake</b>?",
    )
    .await;
    wait_widget(&browser, "idle", SHORT).await;
    let markup = browser.widget("return {xss: window.__xss || 0, imgs: w.querySelectorAll('.messages img, .messages b').length}",
    )
    .await;
    assert_eq!(markup, json!({"xss": 0, "imgs": 0}));
    screenshot(&browser.client, "widget-chat-desktop").await;

    // A 6 s token is renewed 4 s after it was issued, while the panel is open: no request ever
    // needs the 401 path.
    wait_for(
        || async { (fetch_tokens(&browser).await >= 2).then_some(()) },
        Duration::from_secs(15),
    )
    .await
    .expect("the widget renewed its token twice on its own");
    type_and_send(&browser, "Where are you?").await;
    wait_reply_containing(&browser, "Mill Lane", SHORT).await;
    wait_widget(&browser, "idle", SHORT).await;
    let api: Vec<Value> = statuses(&browser, "/api/v1/chat/", None).await;
    assert!(!api.is_empty());
    assert!(
        api.iter().all(|s| s.as_u64().is_some_and(|s| s < 400)),
        "no API call failed, none needed a reactive refresh: {api:?}"
    );
    assert!(shop.site.exchanges() >= rendered + 2);

    // Escape closes the panel and gives focus back to the bubble.
    let closed = browser.widget("w.querySelector('.input').dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true, composed: true}));
         return {open: root.dataset.open, focused: w.activeElement && w.activeElement.className}",
    )
    .await;
    assert_eq!(closed, json!({"open": "false", "focused": "bubble"}));
    browser.close().await;
    shop.server.stop().await;
}

#[tokio::test]
async fn a_reply_streamed_across_a_token_renewal_arrives_whole_and_once() {
    let server = TestServer::start().await;
    let pieces: Vec<String> = (1..=14)
        .map(|i| format!("Part {i} of the story. "))
        .collect();
    let provider = FakeProvider::drip(&pieces, Duration::from_millis(500)).await;
    agent_on(&server.app, "story", &provider.base_url).await;
    // A 5 s session against a 7 s reply: the server ends the stream at the token's expiry and the
    // widget must resume it with Last-Event-ID and the renewed token.
    let shop = Shop::start("story", Duration::from_secs(5), server).await;
    let browser = Browser::start().await;
    visit(&browser, &shop).await;
    record_calls(&browser).await;
    open_panel(&browser).await;
    // Every text the reply bubble shows on its way: a lost or repeated frame would show as a text
    // that is not a prefix of the reply (the final `message` frame alone would hide it).
    browser.widget("window.__texts = [];
         new MutationObserver(() => {
           const all = w.querySelectorAll('.messages .msg.assistant');
           window.__texts.push(all[all.length - 1].textContent);
         }).observe(w.querySelector('.messages'), {subtree: true, childList: true, characterData: true});
         return true",
    )
    .await;
    type_and_send(&browser, "Tell me a long story").await;
    wait_widget(&browser, "streaming", SHORT).await;
    screenshot(&browser.client, "widget-streaming-phone").await;
    wait_widget(&browser, "idle", Duration::from_secs(20)).await;

    let replies: Vec<String> = bubbles(&browser)
        .await
        .iter()
        .filter(|b| b["cls"].as_str().is_some_and(|c| c.contains("assistant")))
        .filter_map(|b| b["text"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        replies,
        ["Hello! Ask me for a story.".to_owned(), pieces.concat()],
        "the greeting, then the whole reply exactly once"
    );
    let full = pieces.concat();
    let seen = browser.js("return window.__texts", vec![]).await;
    let seen: Vec<&str> = seen
        .as_array()
        .expect("texts")
        .iter()
        .filter_map(Value::as_str)
        .filter(|t| !t.starts_with("Hello!"))
        .collect();
    assert!(
        seen.iter().filter(|t| !t.is_empty()).count() >= pieces.len(),
        "the reply was watched piece by piece: {seen:?}"
    );
    assert!(
        seen.iter().all(|t| full.starts_with(t)),
        "every step of the stream showed the reply so far, no piece lost or repeated: {seen:?}"
    );
    let streams = statuses(&browser, "/events", None).await;
    assert!(
        streams.len() >= 2,
        "the reply outlived its first stream and was resumed: {streams:?}"
    );
    assert!(
        streams.iter().all(|s| s == &json!(200)),
        "every stream was opened with a live token: {streams:?}"
    );
    assert!(fetch_tokens(&browser).await >= 1);
    assert!(
        bubbles(&browser)
            .await
            .iter()
            .all(|b| !b["cls"].as_str().is_some_and(|c| c.contains("error"))),
        "no error bubble"
    );
    screenshot(&browser.client, "widget-story-phone").await;
    browser.close().await;
    shop.server.stop().await;
}

#[tokio::test]
async fn a_401_renews_once_and_retries_once_and_a_second_401_ends_the_session() {
    let shop = Shop::start("demo", Duration::from_secs(900), TestServer::start().await).await;
    let browser = Browser::start().await;
    visit(&browser, &shop).await;
    open_panel(&browser).await;
    record_calls(&browser).await;

    // The owner rotates the secret and gives the site the new one: every session signed with the
    // old secret is refused, so the next request gets a 401.
    shop.rotate().await;
    type_and_send(&browser, "When are you open on Sunday?").await;
    wait_reply_containing(&browser, "8am to 2pm", SHORT).await;
    wait_widget(&browser, "idle", SHORT).await;
    assert_eq!(fetch_tokens(&browser).await, 1, "exactly one fetchToken()");
    assert_eq!(
        statuses(&browser, "/api/v1/chat/messages", Some("POST")).await,
        [json!(401), json!(202)],
        "one refused request, one retry"
    );
    assert_eq!(
        statuses(&browser, "/api/your-token-endpoint", Some("POST")).await,
        [json!(200)]
    );

    // Now fetchToken() hands back a token that is refused too: no loop, a clear ended state.
    let stale = browser
        .js(
            "const stale = window.ChatlinkChat.token;
             window.ChatlinkChat.fetchToken = async () => { window.__fetchTokens += 1; return stale; };
             return stale",
            vec![],
        )
        .await;
    assert!(stale.as_str().is_some_and(|t| t.split('.').count() == 3));
    shop.rotate().await;
    // The cut stream renews at once (this fetchToken() asks no one), so the session may have
    // ended before the visitor presses send: then the button is off and nothing is posted.
    type_text(&browser, "And on Monday?").await;
    let sent = press_send(&browser).await;
    wait_widget(&browser, "expired", SHORT).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        fetch_tokens(&browser).await,
        2,
        "one more fetchToken(), no loop"
    );
    // The conversation stream, cut by the rotation, may meet the refusal first (then the message
    // sees the session already ended and is not retried) or the message may (401, renewal, 401).
    // Either way: one renewal, then the ended state.
    let posts = statuses(&browser, "/api/v1/chat/messages", Some("POST")).await;
    assert!(
        if sent {
            posts == [json!(401), json!(202), json!(401)]
                || posts == [json!(401), json!(202), json!(401), json!(401)]
        } else {
            posts == [json!(401), json!(202)]
        },
        "{posts:?} (sent: {sent})"
    );
    let notice = browser
        .widget(
            "const n = w.querySelector('.notice');
         return {hidden: n.hidden, text: n.textContent,
                 retry: !w.querySelector('.retry').hidden,
                 disabled: w.querySelector('.input').disabled}",
        )
        .await;
    assert_eq!(notice["hidden"], json!(false));
    assert!(
        notice["text"]
            .as_str()
            .is_some_and(|t| t.contains("Chat session ended")),
        "{notice}"
    );
    assert_eq!(notice["retry"], json!(true));
    assert_eq!(notice["disabled"], json!(true), "{notice}");
    screenshot(&browser.client, "widget-session-ended-phone").await;

    // "Try again" with a working fetchToken() brings the chat back.
    browser
        .js(
            "window.ChatlinkChat.fetchToken = async () => {
               const res = await fetch('/api/your-token-endpoint', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{}'});
               return (await res.json()).data.token;
             }; return true",
            vec![],
        )
        .await;
    browser
        .widget("w.querySelector('.retry').click(); return true")
        .await;
    wait_widget(&browser, "idle", SHORT).await;
    type_and_send(&browser, "Do you deliver?").await;
    wait_reply_containing(&browser, "5 km", SHORT).await;
    browser.close().await;
    shop.server.stop().await;
}

#[tokio::test]
async fn a_revoked_app_stops_the_widget_with_a_clear_message() {
    let shop = Shop::start("demo", Duration::from_secs(900), TestServer::start().await).await;
    let browser = Browser::start().await;
    visit(&browser, &shop).await;
    open_panel(&browser).await;
    type_and_send(&browser, "Can I pay by card?").await;
    wait_reply_containing(&browser, "contactless", SHORT).await;
    wait_widget(&browser, "idle", SHORT).await;
    record_calls(&browser).await;

    shop.server
        .app
        .revoke_widget_app(&shop.app_id)
        .await
        .expect("revoke");
    // The revocation ends the widget's open feed, so the widget may learn of it on its own
    // before the visitor presses send: then the button is off and their words stay in the box.
    type_text(&browser, "Hello?").await;
    let sent = press_send(&browser).await;
    wait_widget(&browser, "expired", SHORT).await;
    assert_eq!(
        fetch_tokens(&browser).await,
        1,
        "one attempt to renew, refused by Chatlink through the site's backend"
    );
    assert_eq!(
        statuses(&browser, "/api/your-token-endpoint", Some("POST")).await,
        [json!(502)]
    );
    let text = browser
        .widget("return w.querySelector('.notice').textContent")
        .await;
    assert!(
        text.as_str()
            .is_some_and(|t| t.contains("Chat session ended") && t.contains("reload")),
        "{text}"
    );
    let in_a_bubble = bubbles(&browser)
        .await
        .iter()
        .any(|b| b["text"] == json!("Hello?"));
    let in_the_box = browser
        .widget("return w.querySelector('.input').value")
        .await
        == json!("Hello?");
    assert!(
        if sent { in_a_bubble } else { in_the_box },
        "what the visitor typed stays visible (sent: {sent})"
    );
    screenshot(&browser.client, "widget-app-revoked-phone").await;
    browser.close().await;
    shop.server.stop().await;
}

#[tokio::test]
async fn a_site_off_the_allowed_origins_gets_a_clear_refusal() {
    let shop = Shop::start("demo", Duration::from_secs(900), TestServer::start().await).await;
    shop.server
        .app
        .set_widget_app_origins(&shop.app_id, vec!["https://another-shop.example".into()])
        .await
        .expect("allow another site only");
    let browser = Browser::start().await;
    visit(&browser, &shop).await;
    browser
        .widget("w.querySelector('.bubble').click(); return true")
        .await;
    wait_widget(&browser, "error", SHORT).await;
    let notice = browser.widget("return {text: w.querySelector('.notice').textContent, retry: !w.querySelector('.retry').hidden}",
    )
    .await;
    assert!(
        notice["text"]
            .as_str()
            .is_some_and(|t| t
                .contains(&chatlink_core::i18n::Lang::En.text("error.origin_not_allowed", &[]))),
        "the browser could read the refusal through CORS: {notice}"
    );
    assert_eq!(notice["retry"], json!(false));
    // Let the panel's 0.18 s opening animation finish before the picture.
    tokio::time::sleep(Duration::from_millis(400)).await;
    screenshot(&browser.client, "widget-origin-refused-phone").await;
    browser.close().await;
    shop.server.stop().await;
}

#[tokio::test]
async fn the_owners_reply_reaches_the_open_widget_at_once() {
    let shop = Shop::start("demo", Duration::from_secs(6), TestServer::start().await).await;
    let browser = Browser::start_desktop().await;
    visit(&browser, &shop).await;
    open_panel(&browser).await;
    type_and_send(&browser, "can you fix my bicycle?").await;
    wait_reply_containing(&browser, "someone at Rosie's Bakery", SHORT).await;
    wait_widget(&browser, "idle", SHORT).await;
    let conv = shop
        .server
        .app
        .inbox(chatlink_core::app::InboxFilter::default())
        .await
        .expect("inbox")
        .first()
        .map(|c| (c.id.clone(), c.channel))
        .expect("the end user's conversation");
    assert_eq!(conv.1, chatlink_core::app::Channel::Widget);
    // Twice across a token renewal (6 s tokens): the conversation stream resumes with a new one.
    for (i, text) in ["Hi, Rosie here. Bring it by!", "We fix bikes on Tuesdays."]
        .into_iter()
        .enumerate()
    {
        if i == 1 {
            tokio::time::sleep(Duration::from_secs(7)).await;
        }
        shop.server
            .app
            .owner_reply(&conv.0, text)
            .await
            .expect("the owner replies");
        wait_for(
            || async {
                bubbles(&browser)
                    .await
                    .iter()
                    .any(|b| {
                        b["cls"].as_str().is_some_and(|c| c.contains("owner"))
                            && b["text"].as_str() == Some(text)
                    })
                    .then_some(())
            },
            SHORT,
        )
        .await
        .unwrap_or_else(|e| panic!("the widget shows {text:?} without a reload: {e}"));
    }
    let owners = bubbles(&browser)
        .await
        .iter()
        .filter(|b| b["cls"].as_str().is_some_and(|c| c.contains("owner")))
        .count();
    assert_eq!(owners, 2, "each reply once");
    screenshot(&browser.client, "widget-owner-reply").await;
    browser.close().await;
    shop.server.stop().await;
}

/// Behind a proxy that sends only whole answers, the widget notices its streams never open and
/// long-polls: the first words of a slow reply show while it is written, the owner's reply shows
/// in the open panel, and the proxy's log shows the `/frames` requests that carried them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_proxy_that_holds_streams_the_widget_long_polls() {
    use chatlink_test_support::tunnels::HoldingProxy;

    let server = TestServer::start().await;
    let _story = chatlink_test_support::story_agent(&server.app, "slow").await;
    let proxy = HoldingProxy::before(&server.base_url).await;
    let shop = Shop::start_via("slow", Duration::from_secs(120), server, proxy.url.clone()).await;
    let browser = Browser::start_desktop().await;
    visit(&browser, &shop).await;
    open_panel(&browser).await;
    let sent = std::time::Instant::now();
    type_and_send(&browser, "Tell me a story").await;
    let first = wait_for(
        || async {
            bubbles(&browser).await.iter().find_map(|b| {
                let t = b["text"].as_str()?;
                (b["cls"].as_str()?.contains("assistant") && t.contains("word1"))
                    .then(|| t.to_owned())
            })
        },
        SHORT,
    )
    .await
    .expect("the first words show while the reply is written");
    let took = sent.elapsed();
    assert!(
        !first.contains("word10"),
        "seen before the reply ended: {first:?}"
    );
    assert!(took < Duration::from_secs(7), "first words after {took:?}");
    wait_reply_containing(&browser, "word10", Duration::from_secs(20)).await;
    wait_widget(&browser, "idle", SHORT).await;

    let conv = shop
        .server
        .app
        .inbox(chatlink_core::app::InboxFilter::default())
        .await
        .expect("inbox")
        .first()
        .map(|c| c.id.clone())
        .expect("the end user's conversation");
    shop.server.app.take_over(&conv).await.expect("take over");
    shop.server
        .app
        .owner_reply(&conv, "Rosie here: stories on Fridays!")
        .await
        .expect("reply");
    wait_for(
        || async {
            bubbles(&browser)
                .await
                .iter()
                .any(|b| {
                    b["cls"].as_str().is_some_and(|c| c.contains("owner"))
                        && b["text"].as_str() == Some("Rosie here: stories on Fridays!")
                })
                .then_some(())
        },
        SHORT,
    )
    .await
    .expect("the owner's reply shows in the open panel");
    screenshot(&browser.client, "widget-behind-holding-proxy").await;
    let paths = proxy.paths();
    assert!(
        paths.iter().any(|p| p.contains("/events")),
        "streams were tried first: {paths:?}"
    );
    assert!(
        paths
            .iter()
            .filter(|p| p.starts_with("/api/v1/chat/turns/") && p.contains("/frames?wait="))
            .count()
            >= 3,
        "the reply came by several turn polls: {paths:?}"
    );
    assert!(
        paths
            .iter()
            .any(|p| p.starts_with("/api/v1/chat/frames?wait=")),
        "the owner's reply came by the conversation's poll: {paths:?}"
    );
    browser.close().await;
    shop.server.stop().await;
}

/// The questions the widget offers to tap, in order.
async fn widget_choices(browser: &Browser) -> Vec<String> {
    let list = browser
        .widget("return [...w.querySelectorAll('.messages .choices .choice')].map((b) => b.textContent)")
        .await;
    serde_json::from_value(list).expect("choice texts")
}

/// Taps the offered question `text`, as a visitor does.
async fn widget_tap(browser: &Browser, text: &str) {
    let tapped = browser
        .js(
            "const w = document.getElementById('chatlink-widget').shadowRoot;
             const b = [...w.querySelectorAll('.choices .choice')].find((b) => b.textContent === arguments[0]);
             if (!b) return false;
             b.click();
             return true;",
            vec![json!(text)],
        )
        .await;
    assert_eq!(tapped, json!(true), "{text:?} was offered");
}

#[tokio::test]
async fn the_widget_offers_questions_to_tap_and_a_close_call_offers_choices() {
    let server = TestServer::start().await;
    chatlink_test_support::cake_shop(&server.app).await;
    let shop = Shop::start("cakes", Duration::from_secs(600), server).await;
    let browser = Browser::start_desktop().await;
    visit(&browser, &shop).await;
    open_panel(&browser).await;
    let offered = wait_for(
        || async {
            let c = widget_choices(&browser).await;
            (!c.is_empty()).then_some(c)
        },
        SHORT,
    )
    .await
    .expect("questions under the greeting");
    assert_eq!(
        offered,
        [
            "How much is a birthday cake?",
            "How much is a wedding cake?",
            "When are you open?"
        ],
        "the agent's first questions"
    );
    screenshot(&browser.client, "widget-suggestions").await;

    widget_tap(&browser, "When are you open?").await;
    wait_reply_containing(&browser, "Every day from 8am to 6pm.", SHORT).await;
    let texts: Vec<Value> = bubbles(&browser)
        .await
        .into_iter()
        .map(|b| b["text"].clone())
        .collect();
    assert!(
        texts.contains(&json!("When are you open?")),
        "the tap was sent: {texts:?}"
    );
    assert!(
        widget_choices(&browser).await.is_empty(),
        "sent: the offer goes"
    );

    wait_widget(&browser, "idle", SHORT).await;
    type_and_send(&browser, "how much is a cake?").await;
    wait_reply_containing(&browser, "Is it one of these?", SHORT).await;
    let offered = wait_for(
        || async {
            let c = widget_choices(&browser).await;
            (c.len() == 2).then_some(c)
        },
        SHORT,
    )
    .await
    .expect("two choices after the reply");
    assert_eq!(
        offered,
        [
            "How much is a birthday cake?",
            "How much is a wedding cake?"
        ]
    );
    screenshot(&browser.client, "widget-clarify").await;
    wait_widget(&browser, "idle", SHORT).await;
    widget_tap(&browser, "How much is a wedding cake?").await;
    wait_reply_containing(&browser, "Wedding cakes start at $120.", SHORT).await;
    browser.close().await;
}
