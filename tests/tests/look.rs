//! The visitor's side in a real Chromium: the shop's look (a colour made readable, a logo, the
//! dark theme), the visitor's language, replies rendered as safe Markdown (and an XSS corpus
//! staying inert), the one-line embed on another website, and axe-core's accessibility check.
//!
//! Screenshots of the branded page and widget, light and dark, in several languages, land in
//! `artifacts/screenshots/look-*.png`.

use std::time::Duration;

use chatlink_core::app::IssueLink;
use chatlink_core::brand::{Look, Rgb, Side};
use chatlink_core::i18n::Lang;
use chatlink_e2e::{Browser, DESKTOP, Visitor, css_rgb, screenshot, wait_for, workspace_dir};
use chatlink_test_support::{FakeProvider, TestServer, agent_on, logo_png};
use fantoccini::Locator;
use serde_json::{Value, json};

const SHORT: Duration = Duration::from_secs(10);
/// A reply using every construct the renderer knows, split so markup straddles the pieces.
const REPLY: [&str; 4] = [
    "Our **fresh",
    " bread** is *ready* at 7am.\n\n- Sourdough\n- Rye\n\n",
    "Call +49 30 1234 5678, write to hello@rosie.example ",
    "or see [the menu](https://shop.example/menu).",
];
const ARABIC: &str = "مرحبا! نفتح كل يوم من الثامنة صباحا حتى الثانية ظهرا.";

/// A server with agent `bakery` (a faint yellow accent, a logo, a title) answering `reply`.
struct Shop {
    server: TestServer,
    link_id: i64,
    url: String,
}

async fn shop(reply: &[&str]) -> Shop {
    let server = TestServer::start().await;
    let provider = FakeProvider::drip(reply, Duration::from_millis(150)).await;
    agent_on(&server.app, "bakery", &provider.base_url).await;
    server
        .app
        .set_agent_logo("bakery", logo_png(96, 96, [122, 75, 42]))
        .await
        .expect("a PNG logo is accepted");
    let logo = server
        .app
        .agent_look("bakery")
        .await
        .expect("look")
        .look
        .logo;
    server
        .app
        .set_agent_look(
            "bakery",
            Look {
                accent: Some(Rgb::parse("#ffee00").expect("a colour")),
                title: Some("Rosie's Bakery".into()),
                launcher: Some("Chat with us".into()),
                side: Some(Side::Left),
                logo,
                language: None,
            },
        )
        .await
        .expect("set the look");
    let link = server
        .app
        .issue_link(IssueLink::chat("bakery"))
        .await
        .expect("a link");
    // The provider keeps serving for the test's runtime; nothing else needs it.
    drop(provider);
    Shop {
        link_id: link.id,
        url: link.url.expect("a live link's URL"),
        server,
    }
}

impl Shop {
    /// The colours visitors get for the agent's look.
    async fn palette(&self) -> chatlink_core::brand::Palette {
        let look = self.server.app.agent_look("bakery").await.expect("look");
        look.shown.palette
    }
}

async fn open(browser: &Browser, url: &str) {
    browser.client.goto(url).await.expect("open the chat link");
    browser.wait_state("idle", SHORT).await;
}

/// Types `text` and sends it, then waits for a finished reply; returns the reply bubble's
/// rendered structure.
async fn ask(browser: &Browser, text: &str) -> Value {
    let input = browser
        .client
        .find(Locator::Css("#input"))
        .await
        .expect("the composer");
    input.send_keys(text).await.expect("type");
    browser
        .client
        .find(Locator::Css("#send"))
        .await
        .expect("send")
        .click()
        .await
        .expect("click send");
    wait_for(
        || async {
            let v = browser
                .js(
                    "const el = [...document.querySelectorAll('#messages .msg.assistant[data-id]')].pop();
                     return document.body.dataset.state === 'idle' && el ? REPLY(el) : null"
                        .replace("REPLY(el)", DESCRIBE)
                        .as_str(),
                    vec![],
                )
                .await;
            (!v.is_null()).then_some(v)
        },
        SHORT,
    )
    .await
    .expect("a finished reply")
}

/// What a reply bubble holds: its tags, links, text and direction.
const DESCRIBE: &str = "({
  tags: [...el.querySelectorAll('*')].map(e => e.tagName),
  strong: [...el.querySelectorAll('strong')].map(e => e.textContent),
  em: [...el.querySelectorAll('em')].map(e => e.textContent),
  items: [...el.querySelectorAll('ul > li')].map(e => e.textContent),
  links: [...el.querySelectorAll('a')].map(e => [e.getAttribute('href'), e.textContent, e.rel, e.target]),
  text: el.textContent,
  dir: getComputedStyle(el).direction,
})";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_german_visitor_sees_the_shops_look_and_a_rendered_reply() {
    let shop = shop(&REPLY).await;
    let browser = Browser::start_as(Visitor {
        languages: Some("de-DE,de"),
        ..Visitor::default()
    })
    .await;
    open(&browser, &shop.url).await;
    let page = browser
        .js(
            "const logo = document.querySelector('.bar .logo');
             return {
               lang: document.documentElement.lang,
               placeholder: document.getElementById('input').placeholder,
               title: document.querySelector('.bar h1').textContent,
               logo: logo && logo.complete ? logo.naturalWidth : 0,
               dark: matchMedia('(prefers-color-scheme: dark)').matches,
             }",
            vec![],
        )
        .await;
    assert_eq!(page["lang"], "de");
    assert_eq!(
        page["placeholder"],
        Lang::De.text("composer.placeholder", &[]),
        "the composer speaks German"
    );
    assert_eq!(page["title"], "Rosie's Bakery");
    assert_eq!(page["logo"], 96, "the logo loaded from the server");
    assert_eq!(page["dark"], false);

    let reply = ask(&browser, "Habt ihr Brot?").await;
    assert_eq!(reply["strong"], json!(["fresh bread"]), "{reply}");
    assert_eq!(reply["em"], json!(["ready"]));
    assert_eq!(reply["items"], json!(["Sourdough", "Rye"]));
    let rel = "noopener noreferrer nofollow";
    assert_eq!(
        reply["links"],
        json!([
            ["tel:+493012345678", "+49 30 1234 5678", rel, "_blank"],
            [
                "mailto:hello@rosie.example",
                "hello@rosie.example",
                rel,
                "_blank"
            ],
            ["https://shop.example/menu", "the menu", rel, "_blank"],
        ])
    );
    assert!(
        !reply["text"].as_str().unwrap_or("").contains("**"),
        "no asterisks show: {reply}"
    );

    // The faint yellow was darkened for white text; the visitor's bubble shows the result.
    let palette = shop.palette().await;
    assert!(palette.adjusted);
    let bg = browser
        .js(
            "return getComputedStyle(document.querySelector('.msg.user')).backgroundColor",
            vec![],
        )
        .await;
    assert_eq!(bg, css_rgb(&palette.accent.hex()));
    screenshot(&browser.client, "look-page-de-light").await;

    // The finished reply is read out once, whole, by the page's live region.
    let announced = wait_for(
        || async {
            let v = browser
                .js(
                    "return document.getElementById('announce').textContent",
                    vec![],
                )
                .await;
            (v != "").then_some(v)
        },
        SHORT,
    )
    .await
    .expect("the reply is announced");
    assert_eq!(announced, reply["text"]);

    // While the visitor looks at another tab, the owner's reply shows in the tab's title.
    browser
        .js(
            "Object.defineProperty(document, 'hidden', { configurable: true, get: () => true }); return true",
            vec![],
        )
        .await;
    let app = &shop.server.app;
    let conv = app
        .inbox(Default::default())
        .await
        .expect("inbox")
        .into_iter()
        .next()
        .expect("the visitor's conversation")
        .id;
    app.owner_reply(&conv, "Ja, bis mittags!")
        .await
        .expect("the owner replies");
    wait_for(
        || async {
            let t = browser.js("return document.title", vec![]).await;
            (t == "(1) Rosie's Bakery").then_some(())
        },
        SHORT,
    )
    .await
    .expect("the tab counts the unread reply");
    browser
        .js(
            "Object.defineProperty(document, 'hidden', { configurable: true, get: () => false });
             document.dispatchEvent(new Event('visibilitychange'));
             return document.title",
            vec![],
        )
        .await;
    assert_eq!(
        browser.js("return document.title", vec![]).await,
        "Rosie's Bakery",
        "back on the tab, the count goes"
    );

    // The logo is served as the image it is, cacheable for ever (its URL names its content),
    // and readable from any website's widget.
    let logo = app
        .agent_look("bakery")
        .await
        .expect("look")
        .shown
        .logo
        .expect("a logo");
    let res = reqwest::get(format!("{}{logo}", shop.server.base_url))
        .await
        .expect("the logo");
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    assert_eq!(header("content-type"), "image/png");
    assert!(header("cache-control").contains("immutable"));
    assert_eq!(header("cross-origin-resource-policy"), "cross-origin");
    browser.close().await;
    shop.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_french_visitor_at_night_gets_the_dark_theme_in_french() {
    let shop = shop(&REPLY).await;
    let browser = Browser::start_as(Visitor {
        languages: Some("fr-FR,fr;q=0.9,en;q=0.5"),
        dark: true,
        ..Visitor::default()
    })
    .await;
    open(&browser, &shop.url).await;
    let page = browser
        .js(
            "return {
               lang: document.documentElement.lang,
               dark: matchMedia('(prefers-color-scheme: dark)').matches,
               label: document.querySelector('label[for=input]').textContent,
             }",
            vec![],
        )
        .await;
    assert_eq!(page["lang"], "fr");
    assert_eq!(page["dark"], true, "the browser prefers dark");
    assert_eq!(page["label"], Lang::Fr.text("composer.label", &[]));
    ask(&browser, "Avez-vous du pain ?").await;
    let palette = shop.palette().await;
    let user = browser
        .js(
            "const s = getComputedStyle(document.querySelector('.msg.user'));
             return [s.backgroundColor, s.color]",
            vec![],
        )
        .await;
    assert_eq!(
        user,
        json!([
            css_rgb(&palette.accent_dark.hex()),
            css_rgb(&palette.on_accent_dark.hex())
        ]),
        "the dark theme's readable pair"
    );
    screenshot(&browser.client, "look-page-fr-dark").await;
    browser.close().await;
    shop.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_arabic_reply_reads_right_to_left() {
    let shop = shop(&[ARABIC]).await;
    let browser = Browser::start_as(Visitor {
        languages: Some("ar-EG,ar"),
        ..Visitor::default()
    })
    .await;
    open(&browser, &shop.url).await;
    let dir = browser
        .js("return document.documentElement.dir", vec![])
        .await;
    assert_eq!(
        dir, "rtl",
        "an Arabic visitor's page lays out right to left"
    );
    let reply = ask(&browser, "متى تفتحون؟").await;
    assert_eq!(reply["dir"], "rtl", "{reply}");
    assert_eq!(reply["text"], ARABIC);
    screenshot(&browser.client, "look-page-ar").await;
    browser.close().await;

    // The same reply on an English page keeps its own direction inside its bubble.
    let browser = Browser::start().await;
    open(&browser, &shop.url).await;
    let reply = ask(&browser, "When are you open?").await;
    assert_eq!(reply["dir"], "rtl");
    assert_eq!(
        browser
            .js("return document.documentElement.dir", vec![])
            .await,
        "ltr"
    );
    browser.close().await;
    shop.server.stop().await;
}

/// The XSS corpus shared with the renderer's unit tests.
fn corpus() -> Vec<String> {
    let path = workspace_dir().join("tests/fixtures/xss.json");
    let text = std::fs::read_to_string(&path).expect("tests/fixtures/xss.json");
    serde_json::from_str(&text).expect("a JSON array of strings")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_xss_corpus_in_replies_stays_inert_text() {
    let payloads = corpus();
    assert!(payloads.len() >= 30, "at least 30 payloads");
    let reply = payloads.join("\n\n");
    let shop = shop(&[reply.as_str()]).await;
    let browser = Browser::start().await;
    open(&browser, &shop.url).await;
    browser
        .js(
            "window.__fired = [];
             window.__xss = (x) => window.__fired.push(String(x));
             window.alert = (x) => window.__fired.push('alert ' + x);
             window.__csp = [];
             document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective));
             return true",
            vec![],
        )
        .await;
    let shown = ask(&browser, "show me everything").await;
    // Give anything that would run (onerror, onload, timers) the chance to.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let tags: Vec<String> = serde_json::from_value(shown["tags"].clone()).expect("tags");
    let allowed = ["P", "BR", "STRONG", "EM", "UL", "OL", "LI", "A"];
    assert!(
        tags.iter().all(|t| allowed.contains(&t.as_str())),
        "only the renderer's own elements: {tags:?}"
    );
    for link in shown["links"].as_array().expect("links") {
        let href = link[0].as_str().unwrap_or("");
        assert!(
            ["http://", "https://", "mailto:", "tel:"]
                .iter()
                .any(|s| href.starts_with(s)),
            "a link to {href}"
        );
    }
    let after = browser
        .js(
            "return {fired: window.__fired, csp: window.__csp,
                     attrs: [...document.querySelectorAll('#messages *')].flatMap(e => [...e.attributes].map(a => a.name))
                       .filter(n => !['class', 'dir', 'data-id', 'href', 'rel', 'target', 'start', 'aria-busy'].includes(n))}",
            vec![],
        )
        .await;
    assert_eq!(
        after,
        json!({"fired": [], "csp": [], "attrs": []}),
        "nothing ran"
    );
    let text = shown["text"].as_str().expect("text");
    assert!(
        text.contains("<svg") && text.contains("onerror"),
        "markup shows as text"
    );
    browser.close().await;
    shop.server.stop().await;
}

#[tokio::test]
async fn an_svg_logo_is_refused_and_changes_nothing() {
    let server = TestServer::start().await;
    let before = server.app.agent_look("demo").await.expect("look");
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>"#;
    let err = server
        .app
        .set_agent_logo("demo", svg.to_vec())
        .await
        .expect_err("SVG is refused");
    assert_eq!(err.code(), "invalid_input");
    assert!(err.to_string().contains("PNG, JPEG or WebP"), "{err}");
    assert_eq!(server.app.agent_look("demo").await.expect("look"), before);
    server.stop().await;
}

/// A shop website on its own loopback port whose page carries the one-line embed.
async fn site(chatlink: &str, link: &str) -> String {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Rosie's Bakery</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\
         <body style=\"font-family:sans-serif;background:#fbf7f2\"><main><h1>Rosie's Bakery</h1>\
         <p>Fresh bread every morning.</p></main>\
         <script src=\"{chatlink}/widget/chat.js\" data-chatlink=\"{link}\" async></script></body></html>"
    );
    let router = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let html = html.clone();
            async move { axum::response::Html(html) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the shop site");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

async fn wait_widget(browser: &Browser, check: &str, what: &str) -> Value {
    wait_for(
        || async {
            let v = browser.widget(check).await;
            (!v.is_null() && v != json!(false)).then_some(v)
        },
        SHORT,
    )
    .await
    .unwrap_or_else(|e| panic!("the widget never {what}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_one_line_embed_chats_on_an_allowed_site_and_nowhere_else() {
    let shop = shop(&REPLY).await;
    let app = &shop.server.app;
    let allowed = site(&shop.server.base_url, &shop.url).await;
    let other = site(&shop.server.base_url, &shop.url).await;
    app.set_link_origins(shop.link_id, vec![allowed.clone()])
        .await
        .expect("allow the shop's site");
    let snippet = app.link_embed(shop.link_id).await.expect("embed").snippet;
    assert!(snippet.contains(&format!("data-chatlink=\"{}\"", shop.url)));

    let browser = Browser::start_as(Visitor {
        size: DESKTOP,
        mobile: false,
        ..Visitor::default()
    })
    .await;
    browser.client.goto(&allowed).await.expect("open the site");
    let bubble = wait_widget(
        &browser,
        "const b = w && w.querySelector('.bubble');
         return b && root.isConnected ? {label: b.querySelector('span:not(.badge)').textContent, left: b.getBoundingClientRect().left,
           bg: getComputedStyle(b).backgroundColor} : null",
        "showed its bubble",
    )
    .await;
    let palette = shop.palette().await;
    assert_eq!(bubble["label"], "Chat with us");
    assert!(
        bubble["left"].as_f64().unwrap_or(999.0) < 100.0,
        "on the left: {bubble}"
    );
    assert_eq!(bubble["bg"], css_rgb(&palette.accent.hex()));
    screenshot(&browser.client, "look-widget-closed-light").await;
    browser
        .widget("w.querySelector('.bubble').click(); return true")
        .await;
    wait_widget(&browser, "return root.dataset.state === 'idle'", "opened").await;
    let sent = browser
        .widget(
            "const input = w.querySelector('.input');
         input.value = 'Do you have bread?';
         input.dispatchEvent(new Event('input', { bubbles: true }));
         const send = w.querySelector('.send');
         if (send.disabled) return false;
         send.click();
         return true;",
        )
        .await;
    assert_eq!(sent, json!(true));
    let reply = wait_widget(
        &browser,
        "const el = [...w.querySelectorAll('.msg.assistant[data-id]')].pop();
         return root.dataset.state === 'idle' && el ? {strong: [...el.querySelectorAll('strong')].map(e => e.textContent),
           links: el.querySelectorAll('a').length} : null",
        "got its reply",
    )
    .await;
    assert_eq!(reply, json!({"strong": ["fresh bread"], "links": 3}));
    tokio::time::sleep(Duration::from_millis(400)).await;
    screenshot(&browser.client, "look-widget-open-light").await;

    // The owner answers while the panel is closed: the bubble counts it.
    browser
        .widget("w.querySelector('.close').click(); return true")
        .await;
    let conv = app
        .inbox(Default::default())
        .await
        .expect("inbox")
        .into_iter()
        .next()
        .expect("the visitor's conversation")
        .id;
    app.owner_reply(&conv, "Hi, Rosie here: yes, until noon!")
        .await
        .expect("the owner replies");
    let badge = wait_widget(
        &browser,
        "const b = w.querySelector('.badge');
         return b && !b.hidden ? [b.textContent, w.querySelector('.bubble').getAttribute('aria-label')] : null",
        "counted the owner's reply",
    )
    .await;
    assert_eq!(badge[0], "1", "{badge}");
    browser
        .widget("w.querySelector('.bubble').click(); return true")
        .await;
    let owner = wait_widget(
        &browser,
        "const el = w.querySelector('.msg.owner');
         return el && w.querySelector('.badge').hidden ? el.textContent : null",
        "showed the owner's reply",
    )
    .await;
    assert_eq!(owner, "Hi, Rosie here: yes, until noon!");

    // A reload keeps the conversation: it is kept in this browser, per link.
    browser.client.refresh().await.expect("reload");
    wait_widget(
        &browser,
        "return w && w.querySelectorAll('.msg[data-id]').length >= 3",
        "restored the conversation",
    )
    .await;

    // The same snippet on a site off the list: no bubble, and the server refuses it.
    browser
        .client
        .goto(&other)
        .await
        .expect("open the other site");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        browser
            .widget("return root ? root.isConnected : false")
            .await,
        json!(false),
        "no bubble on a site off the list"
    );
    let refused = reqwest::Client::new()
        .post(&shop.url)
        .header("Origin", &other)
        .json(&json!({"content": "hello"}))
        .send()
        .await
        .expect("a cross-site post");
    assert_eq!(refused.status(), 403);
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    let body: Value = refused.json().await.expect("JSON");
    assert_eq!(body["code"], "origin_not_allowed");
    browser.close().await;
    shop.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_widget_speaks_german_in_the_dark() {
    let shop = shop(&REPLY).await;
    let app = &shop.server.app;
    let allowed = site(&shop.server.base_url, &shop.url).await;
    app.set_link_origins(shop.link_id, vec![allowed.clone()])
        .await
        .expect("allow the shop's site");
    let browser = Browser::start_as(Visitor {
        languages: Some("de-DE,de"),
        dark: true,
        ..Visitor::default()
    })
    .await;
    browser.client.goto(&allowed).await.expect("open the site");
    wait_widget(&browser, "return root && root.isConnected", "mounted").await;
    browser
        .widget("w.querySelector('.bubble').click(); return true")
        .await;
    let strings = wait_widget(
        &browser,
        "return root.dataset.state === 'idle' ? {placeholder: w.querySelector('.input').placeholder,
           close: w.querySelector('.close').getAttribute('aria-label'), lang: w.querySelector('.panel').lang} : null",
        "opened",
    )
    .await;
    assert_eq!(
        strings,
        json!({
            "placeholder": Lang::De.text("composer.placeholder", &[]),
            "close": Lang::De.text("widget.close", &[]),
            "lang": "de",
        })
    );
    // Let the panel's 0.18 s opening animation finish before the picture.
    tokio::time::sleep(Duration::from_millis(400)).await;
    screenshot(&browser.client, "look-widget-open-de-dark").await;
    browser.close().await;
    shop.server.stop().await;
}

/// axe-core, from the npm package `make install` puts in `ui/node_modules`.
fn axe_source() -> String {
    let path = workspace_dir().join("ui/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; `make install` installs it", path.display()))
}

/// axe-core's serious and critical violations on the current page (`context` is a CSS selector
/// or a node; the page's CSP does not apply to WebDriver's script).
async fn serious_violations(browser: &Browser, context: &str) -> Value {
    let axe = axe_source();
    browser
        .client
        .execute_async(
            &format!(
                "const done = arguments[arguments.length - 1];
                 {axe}
                 axe.run({context}).then(r => done(r.passes.length < 10 ? 'axe checked almost nothing' :
                   r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                     .map(v => ({{id: v.id, nodes: v.nodes.map(n => n.html.slice(0, 120))}}))));"
            ),
            vec![],
        )
        .await
        .expect("axe runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axe_finds_no_serious_violations_on_the_page_or_the_open_widget() {
    let shop = shop(&REPLY).await;
    let browser = Browser::start().await;
    open(&browser, &shop.url).await;
    ask(&browser, "Bread?").await;
    let page = serious_violations(&browser, "document").await;
    assert_eq!(page, json!([]), "the chat page");

    let allowed = site(&shop.server.base_url, &shop.url).await;
    shop.server
        .app
        .set_link_origins(shop.link_id, vec![allowed.clone()])
        .await
        .expect("allow the site");
    browser.client.goto(&allowed).await.expect("open the site");
    wait_widget(&browser, "return root && root.isConnected", "mounted").await;
    browser
        .widget("w.querySelector('.bubble').click(); return true")
        .await;
    wait_widget(&browser, "return root.dataset.state === 'idle'", "opened").await;
    let open = serious_violations(&browser, "document.getElementById('chatlink-widget')").await;
    assert_eq!(open, json!([]), "the open widget");
    browser.close().await;
    shop.server.stop().await;
}
