//! The chat page in a real headless Chromium: asking the demo agent, streaming, history after a
//! reload, markup staying text, revoked and unknown links, and the layout on a phone screen.
//!
//! Each test starts its own server and browser, so they run in parallel and share nothing.

use std::time::{Duration, Instant};

use chatlink_e2e::{Browser, WINDOW, http_get, screenshot, wait_for};
use chatlink_test_support::{TestServer, agent_on};
use fantoccini::Locator;
use serde_json::{Value, json};

const QUESTION: &str = "When are you open on Sunday?";
const SUNDAY_HOURS: &str = "8am to 2pm";
const XSS: &str = "<img src=x onerror=alert(1)>";
const SHORT: Duration = Duration::from_secs(10);

/// Records how the streaming bubble grows: its text length after every change (the renderer
/// redraws the whole reply so far on each piece). Also records CSP violations, which would mean
/// that markup from a message became an element that tried to run.
const RECORDER: &str = r#"
window.__growth = [];
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + (e.sample || ''));
});
new MutationObserver((records) => {
  for (const r of records) {
    const t = r.target;
    if (r.type !== 'childList' || !(t instanceof Element) || !t.classList.contains('streaming')) continue;
    window.__growth.push(t.textContent.length);
  }
}).observe(document.getElementById('messages'), { childList: true, subtree: true });
return true;
"#;

/// Every message with an id: `[role, id, text]`, in page order.
const MESSAGES: &str = r#"
return [...document.querySelectorAll('#messages .msg[data-id]')].map((el) => [
  ['user', 'assistant', 'owner'].find((r) => el.classList.contains(r)) || '',
  el.dataset.id,
  el.textContent,
]);
"#;

/// Opens `url` and waits until the chat page is ready for input.
async fn open_chat(browser: &Browser, url: &str) {
    browser.client.goto(url).await.expect("open the chat link");
    browser.wait_state("idle", SHORT).await;
}

/// Types `text` into the composer and clicks send.
async fn send(browser: &Browser, text: &str) {
    let input = browser
        .client
        .find(Locator::Css("#input"))
        .await
        .expect("the composer's textarea");
    input.send_keys(text).await.expect("type the message");
    let button = browser
        .client
        .find(Locator::Css("#send"))
        .await
        .expect("the send button");
    wait_for(
        || async { button.is_enabled().await.ok().filter(|on| *on) },
        SHORT,
    )
    .await
    .expect("the send button is enabled once there is text");
    button.click().await.expect("click send");
}

/// The role, id and text of every message that has an id.
async fn messages(browser: &Browser) -> Vec<(String, String, String)> {
    let list = browser.js(MESSAGES, vec![]).await;
    serde_json::from_value(list).expect("messages as [role, id, text] triples")
}

/// Asks `text`, then waits for the user bubble and the finished reply; returns the reply's text.
async fn ask(browser: &Browser, text: &str) -> String {
    let before = messages(browser).await.len();
    send(browser, text).await;
    answered(browser, before, text).await
}

/// Waits, after `before` messages, for the visitor's `text` and the finished reply to it; returns
/// the reply's text.
async fn answered(browser: &Browser, before: usize, text: &str) -> String {
    browser.wait_state("idle", SHORT).await;
    let after = wait_for(
        || async {
            let m = messages(browser).await;
            (m.len() >= before + 2).then_some(m)
        },
        SHORT,
    )
    .await
    .expect("the question and the reply both get ids");
    let (role, _, content) = &after[before];
    assert_eq!(
        (role.as_str(), content.as_str()),
        ("user", text),
        "the visitor's bubble"
    );
    let (role, _, reply) = &after[before + 1];
    assert_eq!(role, "assistant", "the reply's bubble: {after:?}");
    reply.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_answers_with_a_streamed_reply() {
    let started = Instant::now();
    let server = TestServer::start().await;
    let browser = Browser::start().await;
    open_chat(&browser, &server.demo_url).await;

    let greeting = browser
        .client
        .find(Locator::Css("#messages .msg.assistant.greeting"))
        .await
        .expect("the greeting bubble")
        .text()
        .await
        .expect("the greeting's text");
    assert!(
        greeting.contains("Rosie's Bakery"),
        "the demo greeting: {greeting:?}"
    );
    assert_eq!(browser.js(RECORDER, vec![]).await, json!(true));

    send(&browser, QUESTION).await;
    // The visitor's own bubble shows at once, before any reply.
    let user = browser
        .client
        .wait()
        .at_most(SHORT)
        .for_element(Locator::Css("#messages .msg.user"))
        .await
        .expect("the visitor's bubble appears");
    assert_eq!(user.text().await.expect("user bubble text"), QUESTION);

    browser.wait_state("idle", SHORT).await;
    let reply = browser
        .client
        .find(Locator::Css("#messages .msg.assistant[data-id]"))
        .await
        .expect("the finished reply has an id");
    let text = reply.text().await.expect("the reply's text");
    assert!(text.contains(SUNDAY_HOURS), "the Sunday hours: {text:?}");
    let class = reply
        .attr("class")
        .await
        .expect("class")
        .unwrap_or_default();
    assert!(
        !class.contains("streaming") && !class.contains("typing"),
        "the finished bubble is no longer streaming: {class:?}"
    );
    assert_eq!(
        browser
            .js(
                "return document.querySelectorAll('.streaming').length",
                vec![]
            )
            .await,
        json!(0)
    );
    let status = browser
        .client
        .find(Locator::Css("#status"))
        .await
        .expect("#status")
        .text()
        .await
        .expect("status text");
    assert_eq!(
        status, "",
        "no error or reconnect notice after a good reply"
    );

    // Streamed: the bubble grew piece by piece up to the whole reply.
    let growth: Vec<usize> =
        serde_json::from_value(browser.js("return window.__growth", vec![]).await)
            .expect("growth record as numbers");
    let full = browser
        .js(
            "return document.querySelector('#messages .msg.assistant[data-id]').textContent.length",
            vec![],
        )
        .await
        .as_u64()
        .expect("reply length") as usize;
    let mut partial: Vec<usize> = growth
        .iter()
        .copied()
        .filter(|&n| n > 0 && n < full)
        .collect();
    partial.dedup();
    assert!(
        partial.len() >= 2,
        "at least two partial lengths before the whole reply of {full} characters: {growth:?}"
    );
    assert!(
        growth.windows(2).all(|w| w[0] <= w[1]),
        "the text only grows: {growth:?}"
    );
    assert_eq!(
        growth.last().copied(),
        Some(full),
        "the pieces add up to the reply: {growth:?}"
    );

    let shot = screenshot(&browser.client, "chat-answer").await;
    eprintln!(
        "streamed reply in {} pieces {growth:?}; screenshot {}; {:?}",
        growth.len(),
        shot.display(),
        started.elapsed()
    );
    browser.close().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_shows_the_same_conversation() {
    let server = TestServer::start().await;
    let browser = Browser::start().await;
    open_chat(&browser, &server.demo_url).await;
    let reply = ask(&browser, QUESTION).await;
    assert!(reply.contains(SUNDAY_HOURS), "{reply:?}");
    let before = messages(&browser).await;
    assert_eq!(before.len(), 2, "one question and one reply: {before:?}");

    browser.client.refresh().await.expect("reload the page");
    browser.wait_state("idle", SHORT).await;
    let after = wait_for(
        || async {
            let m = messages(&browser).await;
            (m.len() >= before.len()).then_some(m)
        },
        SHORT,
    )
    .await
    .expect("the history comes back after a reload");
    assert_eq!(after, before, "same roles, ids and texts after a reload");
    let greetings = browser
        .client
        .find_all(Locator::Css("#messages .greeting"))
        .await
        .expect("greeting lookup");
    assert_eq!(greetings.len(), 1, "the greeting is shown once");

    // The conversation continues after the reload.
    let reply = ask(&browser, "Where is the shop?").await;
    assert!(!reply.is_empty(), "a second reply");
    let all = messages(&browser).await;
    assert_eq!(all.len(), 4, "{all:?}");
    assert_eq!(all[..2], before[..], "the earlier messages stay in place");

    browser.close().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_in_a_message_stays_text() {
    let server = TestServer::start().await;
    let browser = Browser::start().await;
    open_chat(&browser, &server.demo_url).await;
    assert_eq!(browser.js(RECORDER, vec![]).await, json!(true));

    ask(&browser, XSS).await;
    // Let anything an injected element might trigger (its load error, then its handler) happen.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_safe(&browser).await;
    let violations = browser.js("return window.__cspViolations", vec![]).await;
    assert_eq!(
        violations,
        json!([]),
        "nothing tried to load or run, so the CSP never had to step in"
    );

    // Once more from history, which renders through a different path.
    browser.client.refresh().await.expect("reload the page");
    browser.wait_state("idle", SHORT).await;
    wait_for(
        || async { (messages(&browser).await.len() >= 2).then_some(()) },
        SHORT,
    )
    .await
    .expect("the history comes back");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_safe(&browser).await;

    browser.close().await;
    server.stop().await;
}

/// The visitor's bubble holds the markup as text: no element made from it, no dialog opened.
async fn assert_safe(browser: &Browser) {
    match browser.client.get_alert_text().await {
        Err(e) if e.is_no_such_alert() => {}
        Ok(text) => panic!("an alert was raised: {text:?}"),
        Err(e) => panic!("could not check for an alert: {e}"),
    }
    let user = browser
        .js(
            "return document.querySelector('#messages .msg.user').textContent",
            vec![],
        )
        .await;
    assert_eq!(user, json!(XSS), "the bubble shows exactly what was typed");
    let images = browser
        .js(
            "return document.querySelectorAll('#messages img').length",
            vec![],
        )
        .await;
    assert_eq!(images, json!(0), "no <img> element inside #messages");
    let children = browser
        .js(
            "return document.querySelector('#messages .msg.user').children.length",
            vec![],
        )
        .await;
    assert_eq!(children, json!(0), "the bubble holds only text");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_link_shows_the_error_page() {
    let server = TestServer::start().await;
    let browser = Browser::start().await;
    open_chat(&browser, &server.demo_url).await;

    let link = server.demo_link().await;
    server
        .app
        .revoke_link(link.id)
        .await
        .expect("revoke the demo link");

    // The page still open closes itself on the next send, and gives the typed text back.
    send(&browser, "Hello?").await;
    browser.wait_state("closed", SHORT).await;
    let closed = browser
        .js(
            r#"return {
              disabled: document.getElementById('input').disabled,
              value: document.getElementById('input').value,
              status: document.getElementById('status').textContent,
              users: document.querySelectorAll('#messages .msg.user').length,
            }"#,
            vec![],
        )
        .await;
    assert_eq!(closed["disabled"], json!(true), "{closed}");
    assert_eq!(closed["value"], json!("Hello?"), "{closed}");
    assert_eq!(closed["users"], json!(0), "{closed}");
    assert_eq!(
        closed["status"],
        json!(chatlink_core::i18n::Lang::En.text("error.link_revoked", &[])),
        "the page says why, as a sentence: {closed}"
    );
    screenshot(&browser.client, "link-revoked-open-page").await;

    browser.client.refresh().await.expect("reload the page");
    let code = error_code(&browser).await;
    assert_eq!(code, "link_revoked");
    let heading = browser
        .client
        .find(Locator::Css("#link-error h1"))
        .await
        .expect("the error heading")
        .text()
        .await
        .expect("heading text");
    assert!(!heading.is_empty(), "the error page explains itself");
    assert!(
        browser
            .client
            .find_all(Locator::Css("#input"))
            .await
            .expect("composer lookup")
            .is_empty(),
        "no composer on the error page"
    );
    screenshot(&browser.client, "link-revoked").await;

    let (status, body) = http_get(&server.demo_url).await;
    assert_eq!(status, 401, "a revoked link answers 401");
    assert!(body.contains(r#"data-code="link_revoked""#), "{body}");

    // A link issued afterwards works, and the revoked one stays off.
    let fresh = server
        .app
        .issue_link(chatlink_core::app::IssueLink::chat("demo"))
        .await
        .expect("issue a new link");
    let fresh_url = fresh.url.expect("a new link has a URL");
    open_chat(&browser, &fresh_url).await;
    browser
        .client
        .goto(&server.demo_url)
        .await
        .expect("open the old link");
    assert_eq!(error_code(&browser).await, "link_revoked");

    browser.close().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_link_shows_not_found() {
    let server = TestServer::start().await;
    let browser = Browser::start().await;
    let url = format!("{}/chat/{}/", server.base_url, "A".repeat(43));

    browser
        .client
        .goto(&url)
        .await
        .expect("open an unknown link");
    assert_eq!(error_code(&browser).await, "not_found");
    screenshot(&browser.client, "link-not-found").await;

    let (status, body) = http_get(&url).await;
    assert_eq!(status, 404, "an unknown link answers 404");
    assert!(body.contains(r#"data-code="not_found""#), "{body}");

    browser.close().await;
    server.stop().await;
}

/// Waits for the link error page and returns its `data-code`.
async fn error_code(browser: &Browser) -> String {
    let main = browser
        .client
        .wait()
        .at_most(SHORT)
        .for_element(Locator::Css("main#link-error"))
        .await
        .expect("the link error page");
    main.attr("data-code")
        .await
        .expect("read data-code")
        .expect("the error page names its code")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_composer_fits_a_phone_screen() {
    let server = TestServer::start().await;
    let browser = Browser::start().await;
    open_chat(&browser, &server.demo_url).await;

    let layout = browser
        .js(
            r#"
            const box = (sel) => {
              const r = document.querySelector(sel).getBoundingClientRect();
              return { top: r.top, left: r.left, bottom: r.bottom, right: r.right };
            };
            return {
              width: window.innerWidth,
              height: window.innerHeight,
              scrollWidth: document.documentElement.scrollWidth,
              input: box('#input'),
              send: box('#send'),
              fontSize: parseFloat(getComputedStyle(document.getElementById('input')).fontSize),
            };
            "#,
            vec![],
        )
        .await;
    let num = |v: &Value| v.as_f64().expect("a number in the layout");
    let (width, height) = (num(&layout["width"]), num(&layout["height"]));
    assert_eq!(
        width,
        f64::from(WINDOW.0),
        "a phone-wide viewport: {layout}"
    );
    assert!(
        height > 600.0 && height <= f64::from(WINDOW.1),
        "a phone-tall viewport: {layout}"
    );
    assert!(
        num(&layout["scrollWidth"]) <= width,
        "nothing scrolls sideways: {layout}"
    );
    for el in ["input", "send"] {
        let b = &layout[el];
        assert!(
            num(&b["top"]) >= 0.0
                && num(&b["left"]) >= 0.0
                && num(&b["bottom"]) <= height
                && num(&b["right"]) <= width
                && num(&b["bottom"]) > num(&b["top"]),
            "#{el} lies inside the viewport: {layout}"
        );
    }
    assert!(
        num(&layout["fontSize"]) >= 16.0,
        "16px or more, so phones do not zoom in on focus: {layout}"
    );
    let input = browser
        .client
        .find(Locator::Css("#input"))
        .await
        .expect("the composer");
    assert!(
        input.is_displayed().await.expect("visibility"),
        "#input is shown"
    );
    screenshot(&browser.client, "chat-phone").await;

    browser.close().await;
    server.stop().await;
}

/// When the server refuses a reply's stream (here: a stream cap of zero) while the turn keeps
/// running, the page retries after a growing pause instead of looping, and piles up no error
/// bubbles while it waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_stream_is_retried_after_a_pause_not_in_a_loop() {
    use chatlink_core::app::IssueLink;
    // A provider that accepts and never answers keeps the turn running.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a silent provider");
    let base_url = format!("http://{}/v1", silent.local_addr().expect("address"));
    std::thread::spawn(move || {
        let held: Vec<_> = silent.incoming().flatten().collect();
        drop(held);
    });
    let server = TestServer::start_with(chatlink_core::Limits {
        max_streams: 0,
        ..chatlink_core::Limits::default()
    })
    .await;
    let app = &server.app;
    agent_on(app, "slow", &base_url).await;
    let url = app
        .issue_link(IssueLink::chat("slow"))
        .await
        .expect("issue a link")
        .url
        .expect("a URL");

    let browser = Browser::start().await;
    open_chat(&browser, &url).await;
    // Count every stream the page opens.
    browser
        .js(
            r#"const Real = window.EventSource;
            window.__streams = 0;
            window.EventSource = function (...a) {
              // Turn streams only: the conversation stream is refused too, and has its own pauses.
              if (String(a[0]).includes('/sse')) window.__streams += 1;
              return new Real(...a);
            };
            window.EventSource.CLOSED = Real.CLOSED;
            return true;"#,
            vec![],
        )
        .await;
    send(&browser, "Is anyone there?").await;
    browser.wait_state("reconnecting", SHORT).await;
    // Pauses of 1 s then 2 s: within 2.5 s at most two streams, where a loop opens hundreds.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let seen = browser
        .js(
            r#"return {
              streams: window.__streams,
              errors: document.querySelectorAll('#messages .msg.error').length,
              status: document.getElementById('status').textContent,
            }"#,
            vec![],
        )
        .await;
    let streams = seen["streams"].as_u64().expect("a stream count");
    assert!(
        (1..=2).contains(&streams),
        "retried after pauses, not in a loop: {seen}"
    );
    assert_eq!(
        seen["errors"],
        json!(0),
        "no error bubbles while retrying: {seen}"
    );
    assert_eq!(
        seen["status"],
        json!("Connection lost, retrying…"),
        "{seen}"
    );
    screenshot(&browser.client, "stream-refused-retrying").await;

    browser.close().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owners_reply_appears_on_the_open_page_without_a_reload() {
    let server = TestServer::start().await;
    let browser = Browser::start().await;
    open_chat(&browser, &server.demo_url).await;
    ask(&browser, "can you fix my bicycle?").await;
    let note = browser
        .client
        .find(Locator::Css("#messages .note.handoff"))
        .await
        .expect("the handoff note");
    assert!(note.text().await.expect("text").contains("will reply here"));

    let conv = server
        .app
        .inbox(chatlink_core::app::InboxFilter::default())
        .await
        .expect("inbox")
        .first()
        .map(|c| c.id.clone())
        .expect("the visitor's conversation");
    let reply = server
        .app
        .owner_reply(&conv, "Hi, Rosie here. Bring it by on Tuesday!")
        .await
        .expect("the owner replies");
    let shown = wait_for(
        || async {
            let m = messages(&browser).await;
            m.iter()
                .any(|(role, id, _)| role == "owner" && *id == reply.id)
                .then_some(m)
        },
        SHORT,
    )
    .await
    .expect("the owner's reply shows without a reload");
    assert_eq!(
        shown.last().map(|m| m.2.as_str()),
        Some("Hi, Rosie here. Bring it by on Tuesday!")
    );
    screenshot(&browser.client, "chat-owner-reply").await;

    // While the owner has the conversation the agent stays quiet; the page says a person replies.
    send(&browser, "Great, what time?").await;
    browser.wait_state("idle", SHORT).await;
    server
        .app
        .owner_reply(&conv, "Any time after 9.")
        .await
        .expect("second reply");
    wait_for(
        || async {
            let m = messages(&browser).await;
            m.last()
                .is_some_and(|(role, _, text)| role == "owner" && text == "Any time after 9.")
                .then_some(())
        },
        SHORT,
    )
    .await
    .expect("the second reply shows too");
    let roles: Vec<String> = messages(&browser).await.into_iter().map(|m| m.0).collect();
    assert_eq!(roles, ["user", "assistant", "owner", "user", "owner"]);
    assert_eq!(
        browser
            .client
            .find_all(Locator::Css("#messages .note.handoff"))
            .await
            .expect("notes")
            .len(),
        1,
        "the note is said once"
    );

    // After a reload the same messages, once each.
    browser.client.refresh().await.expect("reload");
    browser.wait_state("idle", SHORT).await;
    let after: Vec<String> = messages(&browser).await.into_iter().map(|m| m.0).collect();
    assert_eq!(after, roles);
    server
        .app
        .owner_reply(&conv, "See you!")
        .await
        .expect("third reply");
    wait_for(
        || async {
            let m = messages(&browser).await;
            (m.len() == 6 && m[5].2 == "See you!").then_some(())
        },
        SHORT,
    )
    .await
    .expect("a reloaded page follows the conversation too, from where its history ended");
    browser.close().await;
    server.stop().await;
}

/// A paused link: an open page keeps the visitor's words and says the chat is paused; a reload
/// shows "Back soon" (503); after the owner resumes, the same URL chats again.
#[tokio::test]
async fn a_paused_link_says_back_soon_and_comes_back() {
    let server = TestServer::start().await;
    let browser = Browser::start().await;
    open_chat(&browser, &server.demo_url).await;
    let link = server.demo_link().await;
    server.app.pause_link(link.id, true).await.expect("pause");

    send(&browser, "Hello?").await;
    let status = browser
        .client
        .wait()
        .at_most(SHORT)
        .for_element(Locator::Css("#status"))
        .await
        .expect("the status line");
    let mut said = String::new();
    for _ in 0..50 {
        said = status.text().await.expect("status text");
        if said.contains("paused") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(said.contains("paused"), "{said}");
    let kept = browser
        .js("return document.getElementById('input').value", vec![])
        .await;
    assert_eq!(kept, json!("Hello?"), "the visitor's words are kept");

    browser.client.refresh().await.expect("reload the page");
    assert_eq!(error_code(&browser).await, "link_paused");
    let heading = browser
        .client
        .find(Locator::Css("#link-error h1"))
        .await
        .expect("the error heading")
        .text()
        .await
        .expect("heading text");
    assert_eq!(heading, "Back soon");
    screenshot(&browser.client, "link-paused").await;
    let (status, _) = http_get(&server.demo_url).await;
    assert_eq!(status, 503);

    server.app.pause_link(link.id, false).await.expect("resume");
    open_chat(&browser, &server.demo_url).await;
    send(&browser, "When are you open on Sunday?").await;
    browser.wait_state("idle", SHORT).await;
    let last = browser
        .js(
            "const m = document.querySelectorAll('#messages .msg.assistant'); return m[m.length - 1]?.textContent ?? ''",
            vec![],
        )
        .await;
    assert!(last.as_str().is_some_and(|t| t.contains("8am")), "{last}");
    browser.close().await;
    server.stop().await;
}

/// A standard `EventSource` on a turn's stream gets every frame, then stops: its reconnect with
/// the `done` frame's id gets 204, the standard's signal to stop (it would otherwise reconnect
/// every 3 s for as long as the page is open).
#[tokio::test]
async fn a_native_event_source_stops_after_the_turn_is_done() {
    let server = TestServer::start().await;
    let browser = Browser::start().await;
    open_chat(&browser, &server.demo_url).await;
    browser
        .js(
            r#"window.es = { opens: 0, done: 0, events: 0, errors: 0 };
               fetch('./', { method: 'POST', headers: { 'Content-Type': 'application/json' },
                             body: JSON.stringify({ content: 'When are you open on Sunday?' }) })
                 .then(r => r.json())
                 .then(p => {
                   const s = new EventSource('./' + p.turn_id + '/sse');
                   window.es.source = s;
                   s.onopen = () => window.es.opens++;
                   s.onerror = () => window.es.errors++;
                   s.addEventListener('delta', () => window.es.events++);
                   s.addEventListener('message', () => window.es.events++);
                   s.addEventListener('done', () => window.es.done++);
                 });"#,
            vec![],
        )
        .await;
    // Long enough for two of EventSource's 3-second reconnects.
    tokio::time::sleep(std::time::Duration::from_secs(8)).await;
    let seen = browser
        .js(
            "return { ...window.es, source: undefined, state: window.es.source?.readyState }",
            vec![],
        )
        .await;
    assert_eq!(seen["done"], json!(1), "one done: {seen}");
    assert!(seen["events"].as_u64().is_some_and(|n| n >= 2), "{seen}");
    assert_eq!(
        seen["state"],
        json!(2),
        "closed for good (CLOSED = 2): {seen}"
    );
    assert!(
        seen["opens"].as_u64().is_some_and(|n| n <= 2),
        "at most one reconnect: {seen}"
    );
}

/// Behind a proxy that sends only whole answers, the page notices its streams never open and
/// long-polls instead: the first words of a slow reply appear while it is still being written,
/// and the owner's reply appears on the open page. The proxy's log shows what carried them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_proxy_that_holds_streams_the_page_long_polls() {
    use chatlink_test_support::tunnels::HoldingProxy;

    let server = TestServer::start().await;
    let (_provider, pieces) = chatlink_test_support::story_agent(&server.app, "slow").await;
    let link = server
        .app
        .issue_link(chatlink_core::app::IssueLink::chat("slow"))
        .await
        .expect("link")
        .url
        .expect("url");
    let proxy = HoldingProxy::before(&server.base_url).await;
    let path = link.trim_start_matches(&server.base_url);
    let browser = Browser::start().await;
    open_chat(&browser, &format!("{}{path}", proxy.url)).await;

    let sent = Instant::now();
    send(&browser, "Tell me a story").await;
    let first = wait_for(
        || async {
            let text = browser
                .js("const b = document.querySelector('.msg.streaming'); return b ? b.textContent : '';", vec![])
                .await;
            text.as_str().filter(|t| t.contains("word1")).map(str::to_owned)
        },
        SHORT,
    )
    .await
    .expect("the first words appear while the reply is written");
    let took = sent.elapsed();
    assert!(
        !first.contains("word10"),
        "seen before the reply ended: {first:?}"
    );
    assert!(took < Duration::from_secs(7), "first words after {took:?}");
    browser.wait_state("idle", Duration::from_secs(20)).await;
    let all = messages(&browser).await;
    assert_eq!(
        all.last().map(|m| m.2.trim_end().to_owned()),
        Some(pieces.concat().trim_end().to_owned())
    );
    assert_eq!(
        browser
            .js("return document.body.dataset.transport;", vec![])
            .await,
        json!("poll")
    );

    let conv = server
        .app
        .inbox(chatlink_core::app::InboxFilter::default())
        .await
        .expect("inbox")
        .first()
        .map(|c| c.id.clone())
        .expect("the conversation");
    server.app.take_over(&conv).await.expect("take over");
    let reply = server
        .app
        .owner_reply(&conv, "Rosie here: stories on Fridays!")
        .await
        .expect("reply");
    wait_for(
        || async {
            messages(&browser)
                .await
                .iter()
                .any(|(role, id, _)| role == "owner" && *id == reply.id)
                .then_some(())
        },
        SHORT,
    )
    .await
    .expect("the owner's reply shows on the open page");
    screenshot(&browser.client, "chat-behind-holding-proxy").await;

    let paths = proxy.paths();
    assert!(
        paths.iter().any(|p| p.contains("/sse")),
        "the stream was tried first: {paths:?}"
    );
    let turn_polls = paths.iter().filter(|p| p.contains("/frames?wait=")).count();
    assert!(
        turn_polls >= 3,
        "the reply came by several turn polls: {paths:?}"
    );
    assert!(
        paths.iter().any(|p| p.contains("frames?conversation_id=")),
        "the owner's reply came by the conversation's poll: {paths:?}"
    );
    browser.close().await;
    server.stop().await;
}

/// The texts of the questions offered to tap, in page order.
async fn choices(browser: &Browser) -> Vec<String> {
    let list = browser
        .js(
            "return [...document.querySelectorAll('#messages .choices .choice')].map((b) => b.textContent);",
            vec![],
        )
        .await;
    serde_json::from_value(list).expect("choice texts")
}

/// Taps the offered question `text`; waits for it to be sent and answered, and returns the answer.
async fn tap(browser: &Browser, text: &str) -> String {
    let before = messages(browser).await.len();
    let xpath = format!("//button[contains(@class,'choice')][normalize-space()=\"{text}\"]");
    browser
        .client
        .find(Locator::XPath(&xpath))
        .await
        .unwrap_or_else(|e| panic!("no choice {text:?}: {e}"))
        .click()
        .await
        .expect("tap the choice");
    answered(browser, before, text).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tapped_suggestion_gets_its_answer_and_a_close_call_offers_choices() {
    let server = TestServer::start().await;
    let browser = Browser::start().await;
    open_chat(&browser, &server.demo_url).await;
    assert_eq!(
        choices(&browser).await,
        [
            "What are your opening hours?",
            "Where are you located?",
            "What's on the menu?"
        ],
        "the demo's first questions under its greeting"
    );
    screenshot(&browser.client, "chat-suggestions").await;

    let reply = tap(&browser, "Where are you located?").await;
    assert!(reply.contains("14 Mill Lane"), "{reply}");
    assert!(choices(&browser).await.is_empty(), "sent: the offer goes");

    // An agent whose two entries fit one question about equally asks which was meant.
    let link = chatlink_test_support::cake_shop(&server.app).await;
    open_chat(&browser, &link).await;
    let reply = ask(&browser, "how much is a cake?").await;
    assert!(reply.contains("Is it one of these?"), "{reply}");
    let offered = wait_for(
        || async {
            let c = choices(&browser).await;
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
    screenshot(&browser.client, "chat-clarify").await;
    let reply = tap(&browser, "How much is a wedding cake?").await;
    assert_eq!(reply, "Wedding cakes start at $120.");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handoff_offers_the_question_meant_in_other_words_when_matching_by_meaning() {
    let server = TestServer::start().await;
    let fake = chatlink_test_support::FakeEmbeddings::start(&[&["coeliac", "gluten"]]).await;
    server
        .app
        .set_embeddings(
            "demo",
            Some(chatlink_core::app::EmbeddingsSetting {
                base_url: fake.base_url.clone(),
                model: "fake-embed".into(),
            }),
        )
        .await
        .expect("match the demo by meaning");
    wait_for(
        || async {
            let info = server.app.agent("demo").await.ok()?;
            info.embeddings.filter(|e| e.ready).map(|_| ())
        },
        SHORT,
    )
    .await
    .expect("the demo's knowledge is embedded");
    let browser = Browser::start().await;
    open_chat(&browser, &server.demo_url).await;
    let reply = ask(&browser, "I'm coeliac, is there anything I can eat?").await;
    assert!(reply.contains("Rosie's Bakery"), "the handoff: {reply}");
    let offered = wait_for(
        || async {
            let c = choices(&browser).await;
            (!c.is_empty()).then_some(c)
        },
        SHORT,
    )
    .await
    .expect("a question offered beside the handoff");
    assert_eq!(offered, ["Do you have gluten-free options?"]);
    screenshot(&browser.client, "chat-handoff-related").await;
    let reply = tap(&browser, "Do you have gluten-free options?").await;
    assert!(reply.contains("gluten-free brownies"), "{reply}");
    browser.close().await;
    server.stop().await;
}
