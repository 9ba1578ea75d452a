//! The real desktop app under Xvfb through tauri-driver: links made in the window work for a
//! visitor, copy, save and revoke; agents and widget apps made there answer; the preview, the
//! test box and suffix overrides behave as visitors see them; settings move the server, open it
//! to the network, start it at login and decide what closing the window does.

use std::time::Duration;

use chatlink_e2e::desktop::DesktopApp;
use chatlink_e2e::{css_rgb, healthy, http_get, wait_for};
use fantoccini::Locator;
use fantoccini::elements::Element;

const SHORT: Duration = Duration::from_secs(15);

async fn find(app: &DesktopApp, css: &str) -> Element {
    app.client
        .wait()
        .at_most(SHORT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css} in the window: {e}"))
}

async fn text(app: &DesktopApp, css: &str) -> String {
    find(app, css)
        .await
        .text()
        .await
        .unwrap_or_else(|e| panic!("read {css}: {e}"))
}

async fn click(app: &DesktopApp, css: &str) {
    find(app, css)
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

async fn nav(app: &DesktopApp, screen: &str) {
    app.client
        .wait()
        .at_most(SHORT)
        .for_element(Locator::XPath(&format!(
            "//nav//*[self::a or self::button][normalize-space()='{screen}']"
        )))
        .await
        .unwrap_or_else(|e| panic!("no {screen} in the navigation: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("open {screen}: {e}"));
}

async fn wait_text(app: &DesktopApp, css: &str, want: &str) {
    let last = std::sync::Mutex::new(None::<String>);
    let found = wait_for(
        || async {
            let el = app.client.find(Locator::Css(css)).await.ok()?;
            let t = el.text().await.ok()?;
            let hit = t.contains(want);
            if let Ok(mut l) = last.lock() {
                *l = Some(t);
            }
            hit.then_some(())
        },
        SHORT,
    )
    .await;
    if let Err(e) = found {
        let toast = match app.client.find(Locator::Css("[data-testid=toast]")).await {
            Ok(el) => el.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        let seen = last.lock().ok().and_then(|l| l.clone());
        panic!("{css} never showed {want:?}: {e}; it last showed {seen:?}; toast {toast:?}");
    }
}

/// Dismisses the address-change warning and waits for it to go: the panel below it moves up
/// as it does, and a click aimed at a button there while it moves can land on nothing.
async fn dismiss_address_change(app: &DesktopApp) {
    click(app, "[data-testid=dismiss-address-change]").await;
    wait_for(
        || async {
            app.client
                .find(Locator::Css("[data-testid=address-change]"))
                .await
                .is_err()
                .then_some(())
        },
        SHORT,
    )
    .await
    .expect("the address-change warning goes when dismissed");
}

#[tokio::test]
async fn a_link_made_in_the_window_works_copies_and_stops_when_revoked() {
    let app = DesktopApp::start().await;

    wait_text(&app, "[data-testid=server-state]", "Running").await;
    let local = text(&app, "[data-testid=local-url]").await;
    assert!(local.starts_with("http://127.0.0.1:"), "{local}");
    assert_eq!(text(&app, "[data-testid=live-links-count]").await, "1");
    let (status, _) = http_get(&format!("{}/healthz", local.trim())).await;
    assert_eq!(status, 200, "the window's server answers");
    app.screenshot("desktop-home").await;

    nav(&app, "Links").await;
    click(
        &app,
        "[data-testid=link-row][data-jid='web:demo'] [data-testid=copy-url]",
    )
    .await;
    wait_text(&app, "[data-testid=toast]", "Copied").await;
    let demo = app.clipboard();
    assert!(
        demo.starts_with(local.trim()) && demo.contains("/chat/"),
        "the seeded demo link is ready to copy: {demo:?}"
    );
    click(&app, "[data-testid=new-link]").await;
    let agent = find(&app, "[data-testid=new-link-agent]").await;
    agent
        .select_by_value("demo")
        .await
        .expect("pick the demo agent");
    find(&app, "[data-testid=new-link-suffix]")
        .await
        .send_keys("flyer")
        .await
        .expect("type a suffix");
    find(&app, "[data-testid=new-link-label]")
        .await
        .send_keys("Counter flyer")
        .await
        .expect("type a label");
    app.screenshot("desktop-links-form").await;
    click(&app, "[data-testid=new-link-submit]").await;
    let row = "[data-testid=link-row][data-jid='web:demo/flyer']";
    find(&app, row).await;
    let url = shown_link_url(&app).await;
    let (status, page) = http_get(&url).await;
    assert_eq!(status, 200, "{url}");
    assert!(page.contains("Rosie&#39;s Bakery"));
    app.screenshot("desktop-links-new").await;

    click(&app, &format!("{row} [data-testid=copy-url]")).await;
    wait_text(&app, "[data-testid=toast]", "Copied").await;
    assert_eq!(app.clipboard().trim(), url, "the clipboard holds the URL");

    // Save the QR code through the native save dialog, and read it back as a phone would.
    let saved = app.scratch.path().join("flyer-qr.png");
    click(&app, "[data-testid=save-qr]").await;
    app.answer_save_dialog("Save QR code", &saved).await;
    wait_text(&app, "[data-testid=toast]", "Saved to").await;
    let png = std::fs::read(&saved).expect("the QR code PNG was written");
    assert_eq!(
        chatlink_test_support::decode_qr_png(&png),
        url,
        "the saved QR code carries the URL"
    );

    // Pause: visitors get "back soon" (503) on the same URL, until one click on Resume.
    click(&app, &format!("{row} [data-testid=pause]")).await;
    link_status(&app, "web:demo/flyer", "paused").await;
    let (status, page) = http_get(&url).await;
    assert_eq!(status, 503, "the paused link answers 503");
    assert!(page.contains("Back soon"), "{page}");
    app.screenshot("desktop-links-paused").await;
    click(&app, &format!("{row} [data-testid=resume]")).await;
    link_status(&app, "web:demo/flyer", "live").await;
    assert_eq!(http_get(&url).await.0, 200, "resumed on the same URL");

    click(&app, &format!("{row} [data-testid=revoke]")).await;
    let confirm = text(&app, "[data-testid=confirm]").await;
    assert!(
        confirm.contains("401"),
        "the confirmation says what happens: {confirm}"
    );
    app.screenshot("desktop-links-revoke-confirm").await;
    click(&app, "[data-testid=confirm-yes]").await;
    link_status(&app, "web:demo/flyer", "revoked").await;
    let (status, _) = http_get(&url).await;
    assert_eq!(status, 401, "the revoked link answers 401");
    app.close().await;
}

/// A visitor in Chromium types `text` on the chat page and sends it once the button allows.
/// Waits until the links table shows `jid`'s row with `status`.
async fn link_status(app: &DesktopApp, jid: &str, status: &str) {
    find(
        app,
        &format!("[data-testid=link-row][data-jid='{jid}'][data-status={status}]"),
    )
    .await;
}

async fn visitor_says(browser: &chatlink_e2e::Browser, text: &str) {
    browser
        .client
        .find(Locator::Css("#input"))
        .await
        .expect("composer")
        .send_keys(text)
        .await
        .expect("type");
    let send = browser
        .client
        .find(Locator::Css("#send"))
        .await
        .expect("send");
    wait_for(
        || async { send.is_enabled().await.ok().filter(|on| *on) },
        SHORT,
    )
    .await
    .expect("send enabled");
    send.click().await.expect("send");
}

/// The chat URL the Links screen shows (after a link is made, or its QR panel opened).
async fn shown_link_url(app: &DesktopApp) -> String {
    wait_for(
        || async {
            let el = app
                .client
                .find(Locator::Css("[data-testid=link-url]"))
                .await
                .ok()?;
            let t = el.text().await.ok()?;
            t.contains("/chat/").then(|| t.trim().to_owned())
        },
        SHORT,
    )
    .await
    .expect("the link's URL is shown")
}

async fn type_into(app: &DesktopApp, css: &str, text: &str) {
    find(app, css)
        .await
        .send_keys(text)
        .await
        .unwrap_or_else(|e| panic!("type into {css}: {e}"));
}

async fn clear_and_type(app: &DesktopApp, css: &str, text: &str) {
    find(app, css)
        .await
        .clear()
        .await
        .unwrap_or_else(|e| panic!("clear {css}: {e}"));
    type_into(app, css, text).await;
}

#[tokio::test]
async fn an_agent_made_in_the_window_answers_from_its_knowledge_and_gets_a_widget() {
    let app = DesktopApp::start().await;
    wait_text(&app, "[data-testid=server-state]", "Running").await;
    let local = text(&app, "[data-testid=local-url]")
        .await
        .trim()
        .to_owned();

    nav(&app, "Agents").await;
    click(&app, "[data-testid=new-agent]").await;
    type_into(&app, "[data-testid=new-agent-slug]", "florist").await;
    type_into(&app, "[data-testid=new-agent-name]", "Fern's Flowers").await;
    type_into(
        &app,
        "[data-testid=new-agent-greeting]",
        "Hello! Ask me about bouquets.",
    )
    .await;
    click(&app, "[data-testid=new-agent-submit]").await;
    find(&app, "[data-testid=agent-editor][data-slug=florist]").await;
    type_into(
        &app,
        "[data-testid=knowledge-question]",
        "Do you deliver bouquets on Sundays?",
    )
    .await;
    type_into(
        &app,
        "[data-testid=knowledge-answer]",
        "Yes, Sunday bouquet deliveries leave the shop at 10am sharp.",
    )
    .await;
    click(&app, "[data-testid=knowledge-add]").await;
    wait_text(&app, "[data-testid=knowledge-entry]", "10am sharp").await;
    app.screenshot("desktop-agents").await;
    // The provider engine brings its spending limits, filled with the server's defaults.
    click(&app, "[data-testid=engine-openai]").await;
    let daily = find(&app, "[data-testid=budget-daily_requests]")
        .await
        .prop("value")
        .await
        .expect("the field's value");
    assert_eq!(daily.as_deref(), Some("2000"));
    app.screenshot("desktop-agent-budget").await;
    // Saved on a provider, the agent takes an API key that never comes back: only "set".
    type_into(&app, "[data-testid=engine-model]", "gpt-4o-mini").await;
    click(&app, "[data-testid=agent-save]").await;
    wait_text(&app, "[data-testid=api-key-state]", "not set").await;
    type_into(&app, "[data-testid=api-key-input]", "sk-desktop-test").await;
    click(&app, "[data-testid=api-key-save]").await;
    wait_text(&app, "[data-testid=toast]", "API key saved").await;
    let state = text(&app, "[data-testid=api-key-state]").await;
    assert_eq!(state.trim(), "set");
    let typed = find(&app, "[data-testid=api-key-input]")
        .await
        .prop("value")
        .await
        .expect("the input's value");
    assert_eq!(
        typed.as_deref(),
        Some(""),
        "the key leaves the window once saved"
    );
    app.screenshot("desktop-api-key").await;
    click(&app, "[data-testid=api-key-remove]").await;
    wait_text(&app, "[data-testid=api-key-state]", "not set").await;
    click(&app, "[data-testid=engine-answers]").await;
    click(&app, "[data-testid=agent-save]").await;
    wait_text(&app, "[data-testid=toast]", "Agent saved").await;

    nav(&app, "Links").await;
    click(&app, "[data-testid=new-link]").await;
    find(&app, "[data-testid=new-link-agent]")
        .await
        .select_by_value("florist")
        .await
        .expect("pick the new agent");
    type_into(&app, "[data-testid=new-link-suffix]", "counter").await;
    click(&app, "[data-testid=new-link-submit]").await;
    find(
        &app,
        "[data-testid=link-row][data-jid='web:florist/counter']",
    )
    .await;
    let url = shown_link_url(&app).await;

    // A visitor in Chromium chats with the agent the window made.
    let browser = chatlink_e2e::Browser::start().await;
    browser.client.goto(&url).await.expect("open the link");
    browser.wait_state("idle", SHORT).await;
    visitor_says(&browser, "Do you deliver bouquets on Sundays?").await;
    let answer = wait_for(
        || async {
            let el = browser
                .client
                .find(Locator::Css("#messages .msg.assistant[data-id]"))
                .await
                .ok()?;
            let t = el.text().await.ok()?;
            t.contains("10am sharp").then_some(t)
        },
        SHORT,
    )
    .await
    .expect("the agent answers from the knowledge added in the window");
    assert!(answer.contains("Sunday"), "{answer}");
    chatlink_e2e::screenshot(&browser.client, "desktop-made-link-chat").await;
    browser.close().await;

    nav(&app, "Widget").await;
    click(&app, "[data-testid=new-widget-app]").await;
    find(&app, "[data-testid=new-widget-agent]")
        .await
        .select_by_value("florist")
        .await
        .expect("pick the agent");
    type_into(
        &app,
        "[data-testid=new-widget-origins]",
        "https://ferns-flowers.example",
    )
    .await;
    app.screenshot("desktop-widget-form").await;
    click(&app, "[data-testid=new-widget-submit]").await;
    let secret = text(&app, "[data-testid=app-secret]").await;
    assert_eq!(
        secret.trim().len(),
        43,
        "the appSecret is shown once: {secret}"
    );
    let row = "[data-testid=widget-row]";
    let app_id = find(&app, row)
        .await
        .attr("data-app-id")
        .await
        .expect("read the app id")
        .expect("an app id");
    app.screenshot("desktop-widget-secret").await;
    // The new app's details stay open once its secret is put away.
    click(&app, "[data-testid=dismiss-secret]").await;
    assert!(
        app.client
            .find(Locator::Css("[data-testid=app-secret]"))
            .await
            .is_err(),
        "the secret left the screen"
    );
    let snippet = text(&app, "[data-testid=embed-snippet]").await;
    assert!(
        snippet.contains(&format!("{local}/widget/chat.js")) && snippet.contains("fetchToken"),
        "{snippet}"
    );
    let request = text(&app, "[data-testid=token-request]").await;
    assert!(request.contains(&app_id), "{request}");
    assert!(
        !snippet.contains(secret.trim()) && !request.contains(secret.trim()),
        "the snippet never carries the secret"
    );
    app.screenshot("desktop-widget-snippet").await;
    // The secret works: the server trades it for a session token.
    let res = reqwest::Client::new()
        .post(format!("{local}/api/v1/auth/token"))
        .json(&serde_json::json!({"appId": app_id, "appSecret": secret.trim(), "endUserId": "u1"}))
        .send()
        .await
        .expect("token exchange");
    assert_eq!(res.status().as_u16(), 200);

    // This website's chat gets a title of its own; the rest stays the agent's, which the
    // blank fields name.
    wait_text(
        &app,
        "[data-testid=app-look-side]",
        "agent's (bottom right)",
    )
    .await;
    type_into(&app, "[data-testid=app-look-title]", "Fern's online shop").await;
    click(&app, "[data-testid=app-look-save]").await;
    wait_text(&app, "[data-testid=toast]", "its own look").await;
    scroll_to(&app, "[data-testid=app-look]").await;
    app.screenshot("desktop-widget-app-look").await;
    let config: serde_json::Value =
        reqwest::get(format!("{local}/api/v1/widget/config?app={app_id}"))
            .await
            .expect("the widget's config")
            .json()
            .await
            .expect("JSON");
    assert_eq!(config["title"], "Fern's online shop");
    assert_eq!(config["look"]["side"], "right", "the agent's corner");
    app.close().await;
}

/// The port in `http://127.0.0.1:<port>`.
fn port_of(url: &str) -> u16 {
    url.trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .unwrap_or_else(|| panic!("no port in {url:?}"))
}

#[tokio::test]
async fn the_window_previews_copies_qr_images_tests_agents_and_sets_suffix_overrides() {
    let app = DesktopApp::start().await;
    wait_text(&app, "[data-testid=server-state]", "Running").await;

    // The demo link's QR code goes to the clipboard as an image a phone can read.
    nav(&app, "Links").await;
    let demo = "[data-testid=link-row][data-jid='web:demo']";
    click(&app, &format!("{demo} [data-testid=show-qr]")).await;
    let url = text(&app, "[data-testid=link-url]").await.trim().to_owned();
    assert!(url.contains("/chat/"), "{url}");
    click(&app, "[data-testid=copy-qr]").await;
    wait_text(&app, "[data-testid=toast]", "QR code copied").await;
    let png = app.clipboard_png();
    assert!(png.starts_with(b"\x89PNG"), "the clipboard holds a PNG");
    assert_eq!(chatlink_test_support::decode_qr_png(&png), url);

    // The preview is the visitor's page, in a window of its own, on the same server.
    let main = app.client.window().await.expect("the main window");
    click(&app, &format!("{demo} [data-testid=preview]")).await;
    let preview = wait_for(
        || async {
            let handles = app.client.windows().await.ok()?;
            handles.into_iter().find(|h| *h != main)
        },
        SHORT,
    )
    .await
    .expect("a preview window opens");
    app.client
        .switch_to_window(preview)
        .await
        .expect("switch to the preview");
    find(&app, "#messages .msg.assistant.greeting").await;
    type_into(&app, "#input", "When are you open on Sunday?").await;
    click(&app, "#send").await;
    wait_text(&app, "#messages .msg.assistant[data-id]", "8am to 2pm").await;
    app.screenshot("desktop-preview").await;
    app.client
        .switch_to_window(main)
        .await
        .expect("back to the main window");
    app.close_window("Chatlink preview: what visitors see")
        .await
        .expect("the preview closes");

    // Home counts the preview's conversation.
    nav(&app, "Home").await;
    click(&app, "[data-testid=refresh]").await;
    wait_text(&app, "[data-testid=conversations-today-count]", "1").await;
    assert_eq!(
        text(&app, "[data-testid=open-handoffs-count]").await.trim(),
        "0"
    );

    // The test box asks the saved agent, and says when it would hand over.
    nav(&app, "Agents").await;
    click(&app, "[data-testid=agent-row][data-slug=demo]").await;
    find(&app, "[data-testid=agent-editor][data-slug=demo]").await;
    type_into(
        &app,
        "[data-testid=agent-test-question]",
        "can you fix my bicycle?",
    )
    .await;
    click(&app, "[data-testid=agent-test-ask]").await;
    find(
        &app,
        "[data-testid=agent-test-answer][data-outcome=handoff]",
    )
    .await;
    let question = find(&app, "[data-testid=agent-test-question]").await;
    question.clear().await.expect("clear the question");
    question
        .send_keys("When are you open on Sunday?")
        .await
        .expect("type the question");
    click(&app, "[data-testid=agent-test-ask]").await;
    wait_text(
        &app,
        "[data-testid=agent-test-answer][data-outcome=ok]",
        "8am to 2pm",
    )
    .await;
    app.screenshot("desktop-agent-test").await;
    // A close call: the visitor would be asked which was meant, and shown what to tap.
    clear_and_type(
        &app,
        "[data-testid=agent-test-question]",
        "Can I order a gluten free cake?",
    )
    .await;
    click(&app, "[data-testid=agent-test-ask]").await;
    wait_text(
        &app,
        "[data-testid=agent-test-choices]",
        "How do I order a custom cake?",
    )
    .await;
    wait_text(
        &app,
        "[data-testid=agent-test-choices]",
        "Do you have gluten-free options?",
    )
    .await;

    // Match by meaning: words alone hand a coeliac visitor over; with an embeddings server set
    // in the window, the gluten-free question is offered beside the handoff.
    const COELIAC: &str = "I'm coeliac, is there anything I can eat?";
    clear_and_type(&app, "[data-testid=agent-test-question]", COELIAC).await;
    click(&app, "[data-testid=agent-test-ask]").await;
    find(
        &app,
        "[data-testid=agent-test-answer][data-outcome=handoff]",
    )
    .await;
    assert!(
        app.client
            .find(Locator::Css("[data-testid=agent-test-choices]"))
            .await
            .is_err(),
        "words alone offer nothing"
    );
    let fake = chatlink_test_support::FakeEmbeddings::start(&[&["coeliac", "gluten"]]).await;
    wait_text(&app, "[data-testid=meaning-state]", "off").await;
    clear_and_type(&app, "[data-testid=meaning-url]", "not a url").await;
    click(&app, "[data-testid=meaning-save]").await;
    wait_text(&app, "[data-testid=meaning-panel]", "Enter a full URL").await;
    clear_and_type(&app, "[data-testid=meaning-url]", &fake.base_url).await;
    type_into(&app, "[data-testid=meaning-model]", "fake-embed").await;
    click(&app, "[data-testid=meaning-save]").await;
    wait_text(
        &app,
        "[data-testid=meaning-detail]",
        "matched by meaning too",
    )
    .await;
    type_into(&app, "[data-testid=meaning-key-input]", "emb-key-1").await;
    click(&app, "[data-testid=meaning-key-save]").await;
    wait_text(&app, "[data-testid=meaning-key-state]", "Key set").await;
    scroll_to(&app, "[data-testid=meaning-panel]").await;
    app.screenshot("desktop-meaning").await;
    clear_and_type(&app, "[data-testid=agent-test-question]", COELIAC).await;
    click(&app, "[data-testid=agent-test-ask]").await;
    wait_text(
        &app,
        "[data-testid=agent-test-choices]",
        "Do you have gluten-free options?",
    )
    .await;
    find(
        &app,
        "[data-testid=agent-test-answer][data-outcome=handoff]",
    )
    .await;
    let asked = fake.asked();
    assert!(asked.iter().any(|a| a.texts.iter().any(|t| t == COELIAC)
        && a.authorization.as_deref() == Some("Bearer emb-key-1")));
    assert!(
        fake.texts()
            .iter()
            .any(|t| t == "Do you have gluten-free options?")
    );
    // Off again: words alone.
    click(&app, "[data-testid=meaning-off]").await;
    wait_text(&app, "[data-testid=meaning-state]", "off").await;

    // A suffix override: links with that suffix greet their visitors differently.
    type_into(&app, "[data-testid=route-rule-suffix]", "flyer").await;
    type_into(
        &app,
        "[data-testid=route-rule-greeting]",
        "Welcome, flyer reader! Ask about this week's offer.",
    )
    .await;
    click(&app, "[data-testid=route-rule-save]").await;
    app.screenshot("desktop-agent-rules").await;
    // The clamped values are left out of WebDriver's element text; their title holds them whole.
    find(
        &app,
        "[data-testid=route-rule][data-jid='web:demo/flyer'] [title*='flyer reader']",
    )
    .await;
    nav(&app, "Links").await;
    click(&app, "[data-testid=new-link]").await;
    type_into(&app, "[data-testid=new-link-suffix]", "flyer").await;
    click(&app, "[data-testid=new-link-submit]").await;
    find(&app, "[data-testid=link-row][data-jid='web:demo/flyer']").await;
    let flyer = shown_link_url(&app).await;
    let (status, page) = http_get(&flyer).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("flyer reader"),
        "the override greets flyer visitors"
    );
    let (_, plain) = http_get(&url).await;
    assert!(!plain.contains("flyer reader"), "and only them");

    // The preview's message shows in the demo link's row.
    let messages = text(&app, &format!("{demo} [data-testid=link-messages]")).await;
    assert_eq!(messages.trim(), "1");
    app.close().await;
}

#[tokio::test]
async fn settings_move_the_server_open_it_to_the_network_and_decide_what_closing_does() {
    let app = DesktopApp::start().await;
    wait_text(&app, "[data-testid=server-state]", "Running").await;
    find(&app, "[data-testid=lan-off-hint]").await;
    let first = text(&app, "[data-testid=local-url]")
        .await
        .trim()
        .to_owned();

    // Another port: the server moves there at once, and links follow.
    let port = chatlink_test_support::free_port();
    nav(&app, "Settings").await;
    let field = find(&app, "[data-testid=settings-port]").await;
    field.clear().await.expect("clear the port");
    field
        .send_keys(&port.to_string())
        .await
        .expect("type a port");
    app.screenshot("desktop-settings").await;
    click(&app, "[data-testid=settings-save]").await;
    wait_text(&app, "[data-testid=toast]", &format!(":{port}")).await;
    let moved = format!("http://127.0.0.1:{port}");
    assert!(healthy(&moved).await, "the server answers on {moved}");
    assert!(!healthy(&first).await, "and no longer on {first}");

    // Open to the local network: a plain warning, then Home shows the LAN address and a QR code.
    click(&app, "[data-testid=settings-lan]").await;
    let warning = text(&app, "[data-testid=settings-lan-warning]").await;
    assert!(warning.contains("network"), "{warning}");
    app.screenshot("desktop-settings-lan").await;
    click(&app, "[data-testid=settings-save]").await;
    wait_text(&app, "[data-testid=settings-address]", "on your network").await;
    nav(&app, "Home").await;
    let lan = text(&app, "[data-testid=lan-url]").await.trim().to_owned();
    assert_eq!(port_of(&lan), port, "{lan}");
    assert!(!lan.contains("127.0.0.1"), "{lan}");
    assert!(healthy(&lan).await, "a phone on the network reaches {lan}");
    find(&app, "[data-testid=lan-qr]").await;
    let base = text(&app, "[data-testid=base-url]").await;
    assert_eq!(base.trim(), lan, "links are built on the LAN address");
    app.screenshot("desktop-home-lan").await;

    // Start at login writes the desktop's autostart entry, and turning it off removes it.
    nav(&app, "Settings").await;
    let autostart = app.scratch.path().join("home/.config/autostart");
    let entries = || {
        std::fs::read_dir(&autostart)
            .map(|d| d.flatten().count())
            .unwrap_or(0)
    };
    assert_eq!(entries(), 0);
    click(&app, "[data-testid=settings-autostart]").await;
    wait_text(&app, "[data-testid=toast]", "will start when you log in").await;
    assert_eq!(entries(), 1, "an entry in {}", autostart.display());
    click(&app, "[data-testid=settings-autostart]").await;
    wait_text(&app, "[data-testid=toast]", "will not start").await;
    assert_eq!(entries(), 0);

    // Closing the window keeps the server in the tray; launching again brings the window back.
    app.close_window("Chatlink")
        .await
        .unwrap_or_else(|e| panic!("closing hides the window: {e}\n{}", app.log()));
    assert!(healthy(&moved).await, "visitors are still answered");
    assert!(app.launch_again().success());
    wait_for(
        || async { app.window_visible("Chatlink").then_some(()) },
        SHORT,
    )
    .await
    .expect("the second launch shows the running window");

    // With "keep running in the tray" off, closing quits and the server stops.
    click(&app, "[data-testid=settings-keep-in-tray]").await;
    find(&app, "[data-testid=settings-dirty]").await;
    click(&app, "[data-testid=settings-save]").await;
    wait_for(
        || async {
            let dirty = app
                .client
                .find(Locator::Css("[data-testid=settings-dirty]"))
                .await;
            dirty.is_err().then_some(())
        },
        SHORT,
    )
    .await
    .expect("the setting is saved");
    app.close_window("Chatlink")
        .await
        .unwrap_or_else(|e| panic!("closing quits the app: {e}\n{}", app.log()));
    wait_for(|| async { (!healthy(&moved).await).then_some(()) }, SHORT)
        .await
        .expect("the server stops when the app quits");
}

/// The text of every message a Chromium chat page shows, `(role, text)`.
async fn page_messages(browser: &chatlink_e2e::Browser) -> Vec<(String, String)> {
    let v = browser
        .js(
            "return [...document.querySelectorAll('#messages .msg[data-id]')].map((el) => [
               ['user', 'assistant', 'owner'].find((r) => el.classList.contains(r)) || '',
               el.textContent])",
            vec![],
        )
        .await;
    serde_json::from_value(v).expect("[role, text] pairs")
}

#[tokio::test]
async fn the_owner_sees_a_handoff_in_the_inbox_and_the_reply_reaches_the_visitor_at_once() {
    let app = DesktopApp::start().await;
    wait_text(&app, "[data-testid=server-state]", "Running").await;
    nav(&app, "Links").await;
    let demo = "[data-testid=link-row][data-jid='web:demo']";
    click(&app, &format!("{demo} [data-testid=show-qr]")).await;
    let url = text(&app, "[data-testid=link-url]").await.trim().to_owned();
    nav(&app, "Inbox").await;
    find(&app, "[data-testid=inbox-empty]").await;
    let _notifications = app.notification_daemon();
    wait_for(
        || async { app.dunstctl(&["is-paused"]).contains("false").then_some(()) },
        SHORT,
    )
    .await
    .expect("the notification server runs");

    // A visitor asks what the agent cannot answer.
    let browser = chatlink_e2e::Browser::start().await;
    browser.client.goto(&url).await.expect("open the link");
    browser.wait_state("idle", SHORT).await;
    visitor_says(&browser, "Can you fix my bicycle?").await;
    browser
        .client
        .wait()
        .at_most(SHORT)
        .for_element(Locator::Css("#messages .note.handoff"))
        .await
        .expect("the visitor is told a person will reply");

    // The desktop says so twice: a new conversation, then the agent needing the owner.
    wait_for(
        || async { (app.dunstctl(&["count", "displayed"]).trim() == "2").then_some(()) },
        SHORT,
    )
    .await
    .expect("two notifications on screen");
    // A click on one brings the window to that conversation, from another screen.
    nav(&app, "Home").await;
    app.dunstctl(&["action", "0"]);
    find(&app, "[data-testid=conversation-view]").await;

    // The window's inbox shows it, live, waiting for the owner.
    let row = "[data-testid=conversation-row][data-state=handoff]";
    find(&app, row).await;
    click(&app, row).await;
    find(&app, "[data-testid=conversation-view]").await;
    wait_text(&app, "[data-testid=transcript]", "Can you fix my bicycle?").await;
    app.screenshot("desktop-inbox-handoff").await;

    // The owner replies from the window; the visitor's page shows it without a reload.
    type_into(
        &app,
        "[data-testid=reply-input]",
        "Hi, Rosie here. Bring it by on Tuesday!",
    )
    .await;
    click(&app, "[data-testid=reply-send]").await;
    wait_text(&app, "[data-testid=transcript]", "Bring it by on Tuesday!").await;
    wait_for(
        || async {
            page_messages(&browser)
                .await
                .iter()
                .any(|(role, text)| {
                    role == "owner" && text == "Hi, Rosie here. Bring it by on Tuesday!"
                })
                .then_some(())
        },
        SHORT,
    )
    .await
    .expect("the visitor's open page shows the owner's reply");
    chatlink_e2e::screenshot(&browser.client, "chat-reply-from-window").await;
    find(&app, "[data-testid=conversation-row][data-taken-over=true]").await;

    // The visitor answers; the window shows it without a click, and the agent stays quiet.
    browser.wait_state("idle", SHORT).await;
    visitor_says(&browser, "Great, see you then!").await;
    wait_text(&app, "[data-testid=transcript]", "Great, see you then!").await;
    browser.wait_state("idle", SHORT).await;
    let roles: Vec<String> = page_messages(&browser)
        .await
        .into_iter()
        .map(|m| m.0)
        .collect();
    assert_eq!(
        roles,
        ["user", "assistant", "owner", "user"],
        "no agent reply while taken over"
    );
    app.screenshot("desktop-inbox-conversation").await;

    // Export the conversation through the save dialog, then resolve it.
    let saved = app.scratch.path().join("bicycle.json");
    click(&app, "[data-testid=export-conversation]").await;
    app.answer_save_dialog("Export conversations", &saved).await;
    wait_text(&app, "[data-testid=toast]", "Exported to").await;
    let exported: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).expect("the export")).expect("JSON");
    assert_eq!(exported[0]["messages"].as_array().map(Vec::len), Some(4));
    click(&app, "[data-testid=resolve]").await;
    wait_text(&app, "[data-testid=conversation-state]", "esolved").await;

    // Block: the visitor's next message is refused (their text stays in the composer), until
    // the owner unblocks.
    click(&app, "[data-testid=block]").await;
    wait_text(&app, "[data-testid=toast]", "Blocked").await;
    find(&app, "[data-testid=conversation-blocked]").await;
    find(&app, "[data-testid=unblock]").await;
    browser.wait_state("idle", SHORT).await;
    visitor_says(&browser, "Hello again").await;
    wait_for(
        || async {
            let status = browser
                .client
                .find(Locator::Css("#status"))
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            status.contains("closed by the shop").then_some(())
        },
        SHORT,
    )
    .await
    .expect("the visitor is told the conversation is closed");
    wait_text(&app, "[data-testid=transcript]", "Great, see you then!").await;
    assert!(
        !text(&app, "[data-testid=transcript]")
            .await
            .contains("Hello again"),
        "a blocked visitor's message is not written"
    );
    app.screenshot("desktop-inbox-blocked").await;
    click(&app, "[data-testid=unblock]").await;
    find(&app, "[data-testid=block]").await;

    // Both notifications named the shop and carried the visitor's words (the clicked one closed at
    // once, the other after dunst's timeout).
    let history = wait_for(
        || async {
            let h = app.dunstctl(&["history"]);
            (h.contains("New conversation with Rosie's Bakery")
                && h.contains("Rosie's Bakery needs you"))
            .then_some(h)
        },
        Duration::from_secs(20),
    )
    .await
    .expect("both notifications in the server's history");
    assert!(history.contains("Can you fix my bicycle?"), "{history}");

    // Home's chart counts today's conversation, and so does the demo link's own.
    nav(&app, "Home").await;
    find(&app, "[data-testid=home-chart]").await;
    wait_text(&app, "[data-testid=conversations-today-count]", "1").await;
    app.screenshot("desktop-home-chart").await;
    nav(&app, "Links").await;
    click(&app, &format!("{demo} [data-testid=show-qr]")).await;
    find(&app, "[data-testid=link-chart]").await;
    app.screenshot("desktop-link-chart").await;
    browser.close().await;
    app.close().await;
}

/// Home offers the tunnels found on PATH (fakes that really forward); starting one turns Home
/// to "anyone on the internet", links and QR codes use the tunnel's address, the self-test
/// passes through it, stopping warns about printed QR codes, and quitting leaves no child.
#[tokio::test]
async fn going_public_with_a_tunnel_from_home_rebuilds_links_and_qr_codes() {
    let app = DesktopApp::start().await;
    wait_text(&app, "[data-testid=server-state]", "Running").await;
    // The owner asks to keep the computer awake while links are public.
    nav(&app, "Settings").await;
    click(&app, "[data-testid=settings-keep-awake]").await;
    click(&app, "[data-testid=settings-save]").await;
    wait_text(&app, "[data-testid=toast]", "Settings saved").await;
    nav(&app, "Home").await;
    wait_text(&app, "[data-testid=audience]", "Only this computer").await;
    wait_text(&app, "[data-testid=go-public]", "Cloudflare quick tunnel").await;
    app.screenshot("home-go-public").await;
    click(&app, "[data-testid=start-tunnel-cloudflared]").await;
    wait_text(&app, "[data-testid=audience]", "Anyone on the internet").await;
    wait_text(
        &app,
        "[data-testid=tunnel-state]",
        "running at http://127.0.0.1:",
    )
    .await;
    let state = text(&app, "[data-testid=tunnel-state]").await;
    let url = state
        .rsplit(' ')
        .next()
        .expect("the tunnel's address")
        .to_owned();
    assert_eq!(text(&app, "[data-testid=reach-base-url]").await, url);
    // The app's own check runs a second after the address comes up.
    wait_for(
        || async {
            let t = app
                .client
                .find(Locator::Css("[data-testid=reach-check]"))
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            t.contains("Works through your public address (checked from this computer")
                .then_some(())
        },
        Duration::from_secs(20),
    )
    .await
    .expect("the self-test passes through the tunnel");
    app.screenshot("home-public-tunnel").await;

    nav(&app, "Links").await;
    let demo = "[data-testid=link-row][data-jid='web:demo']";
    click(&app, &format!("{demo} [data-testid=show-qr]")).await;
    let link = shown_link_url(&app).await;
    assert!(link.starts_with(&url), "{link} is on the tunnel");
    click(&app, "[data-testid=copy-qr]").await;
    wait_text(&app, "[data-testid=toast]", "QR code copied").await;
    assert_eq!(
        chatlink_test_support::decode_qr_png(&app.clipboard_png()),
        link
    );
    let (status, _) = chatlink_e2e::http_get(&link).await;
    assert_eq!(status, 200, "the link opens through the tunnel");

    // With the tunnel up the app tries to keep the computer awake, and says how it went (this
    // machine has no systemd-logind to grant the lock, so the honest answer is why not).
    nav(&app, "Settings").await;
    wait_for(
        || async {
            let t = app
                .client
                .find(Locator::Css("[data-testid=settings-awake-state]"))
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            (t.contains("kept awake now") || t.contains("could not keep it awake")).then_some(t)
        },
        SHORT,
    )
    .await
    .expect("Settings says whether the computer is kept awake");
    app.screenshot("settings-keep-awake").await;

    nav(&app, "Home").await;
    assert_eq!(app.tools.running().len(), 1, "one cloudflared");
    click(&app, "[data-testid=stop-tunnel]").await;
    wait_text(&app, "[data-testid=audience]", "Only this computer").await;
    wait_text(&app, "[data-testid=address-change]", &url).await;
    assert_eq!(
        app.tools.running(),
        Vec::<u32>::new(),
        "the tunnel's process ended"
    );
    dismiss_address_change(&app).await;

    // A named tunnel: started by name, links on the owner's hostname, which stays.
    click(&app, "[data-testid=go-public] details.named summary").await;
    type_into(&app, "[data-testid=named-tunnel-name]", "shop").await;
    type_into(
        &app,
        "[data-testid=named-tunnel-hostname]",
        "chat.example.com",
    )
    .await;
    click(&app, "[data-testid=start-named-tunnel]").await;
    wait_text(
        &app,
        "[data-testid=tunnel-state]",
        "Cloudflare named tunnel: running at https://chat.example.com",
    )
    .await;
    wait_text(
        &app,
        "[data-testid=reach-base-url]",
        "https://chat.example.com",
    )
    .await;
    assert!(
        app.tools
            .calls()
            .iter()
            .any(|c| c.contains(" run --url http://127.0.0.1:") && c.ends_with(" shop")),
        "{:?}",
        app.tools.calls()
    );
    click(&app, "[data-testid=stop-tunnel]").await;
    wait_text(&app, "[data-testid=audience]", "Only this computer").await;
    dismiss_address_change(&app).await;

    // Started again, then the session ends (SIGTERM, as at logout): the app quits the way its
    // tray's Quit does, and its child goes with it.
    click(&app, "[data-testid=start-tunnel-cloudflared]").await;
    wait_text(&app, "[data-testid=tunnel-state]", "running at").await;
    let child = *app.tools.running().first().expect("the tunnel runs again");
    let status = std::fs::read_to_string(format!("/proc/{child}/status")).expect("its status");
    let parent = status
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .map(|p| p.trim().to_owned())
        .expect("its parent");
    assert!(
        std::fs::read_to_string(format!("/proc/{parent}/cmdline"))
            .is_ok_and(|c| c.contains("chatlink-desktop")),
        "the app started it"
    );
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &parent])
        .status()
        .expect("kill");
    assert!(killed.success());
    wait_for(
        || async {
            let app_gone =
                !chatlink_test_support::tunnels::process_alive(parent.parse().unwrap_or(0));
            (app_gone && app.tools.running().is_empty()).then_some(())
        },
        Duration::from_secs(20),
    )
    .await
    .expect("the app quit and no tunnel process outlives it");
    app.close().await;
}

/// Runs `script` in the window (a function body) and returns its value.
async fn js(app: &DesktopApp, script: &str, args: Vec<serde_json::Value>) -> serde_json::Value {
    app.client
        .execute(script, args)
        .await
        .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
}

async fn preview_bubble(app: &DesktopApp) -> serde_json::Value {
    js(
        app,
        "const b = document.querySelector('[data-testid=look-preview-user]');
         return b ? getComputedStyle(b).backgroundColor : null",
        vec![],
    )
    .await
}

/// Picks `path` in the file input `css` the way an owner does, through WebDriver's file upload.
async fn pick_file(app: &DesktopApp, css: &str, path: &std::path::Path) {
    find(app, css)
        .await
        .send_keys(&path.display().to_string())
        .await
        .unwrap_or_else(|e| panic!("pick {} in {css}: {e}", path.display()));
}

async fn scroll_to(app: &DesktopApp, css: &str) {
    js(
        app,
        "document.querySelector(arguments[0]).scrollIntoView({ block: 'center' }); return true",
        vec![serde_json::json!(css)],
    )
    .await;
}

#[tokio::test]
async fn the_look_panel_previews_and_saves_the_shops_look_and_a_link_goes_on_a_website() {
    let app = DesktopApp::start().await;
    wait_text(&app, "[data-testid=server-state]", "Running").await;

    nav(&app, "Agents").await;
    click(&app, "[data-testid=agent-row][data-slug=demo]").await;
    find(&app, "[data-testid=look-preview]").await;

    // A logo, picked as a file: the window sends the bytes and the core says what they are.
    let svg = app.scratch.path().join("logo.svg");
    std::fs::write(
        &svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><script>alert(1)</script></svg>"#,
    )
    .expect("write the SVG");
    pick_file(&app, "[data-testid=look-logo-input]", &svg).await;
    wait_text(&app, "[data-testid=look-logo-problem]", "SVG").await;
    let png = app.scratch.path().join("logo.png");
    std::fs::write(&png, chatlink_test_support::logo_png(64, 64, [122, 75, 42])).expect("PNG");
    pick_file(&app, "[data-testid=look-logo-input]", &png).await;
    find(&app, "[data-testid=look-logo-set]").await;
    assert!(
        app.client
            .find(Locator::Css("[data-testid=look-logo-problem]"))
            .await
            .is_err(),
        "the refusal is gone once a good file is in"
    );
    // The preview shows the stored copy (a data: URL: the window's CSP loads nothing from the
    // local server), decoded to its real size.
    wait_for(
        || async {
            let w = js(
                &app,
                "const i = document.querySelector('[data-testid=look-preview-logo]');
                 return i && i.complete ? i.naturalWidth : 0",
                vec![],
            )
            .await;
            (w == 64).then_some(())
        },
        SHORT,
    )
    .await
    .expect("the preview shows the logo");

    // A colour picker's value, as the picker sets it.
    js(
        &app,
        "const i = document.querySelector('[data-testid=look-accent]');
         i.value = '#ffee00'; i.dispatchEvent(new Event('input', { bubbles: true })); return true",
        vec![],
    )
    .await;
    let palette = chatlink_core::brand::Palette::of(
        chatlink_core::brand::Rgb::parse("#ffee00").expect("yellow"),
    );
    assert!(
        palette.adjusted,
        "a faint yellow is too light for white text"
    );
    wait_text(&app, "[data-testid=look-adjusted]", &palette.accent.hex()).await;
    let light = css_rgb(&palette.accent.hex());
    wait_for(
        || async { (preview_bubble(&app).await == light.as_str()).then_some(()) },
        SHORT,
    )
    .await
    .expect("the preview shows the readable colour");
    type_into(&app, "[data-testid=look-launcher]", "Chat with us").await;
    wait_text(&app, "[data-testid=look-preview-bubble]", "Chat with us").await;
    scroll_to(&app, "[data-testid=look-preview]").await;
    app.screenshot("desktop-look-light").await;
    click(&app, "[data-testid=look-dark]").await;
    let dark = css_rgb(&palette.accent_dark.hex());
    wait_for(
        || async { (preview_bubble(&app).await == dark.as_str()).then_some(()) },
        SHORT,
    )
    .await
    .expect("the dark preview shows the dark theme's colour");
    app.screenshot("desktop-look-dark").await;
    click(&app, "[data-testid=look-save]").await;
    wait_text(&app, "[data-testid=toast]", "Look saved").await;

    // The demo link's page has the logo and the colour.
    nav(&app, "Links").await;
    let demo = "[data-testid=link-row][data-jid='web:demo']";
    click(&app, &format!("{demo} [data-testid=show-qr]")).await;
    let url = text(&app, "[data-testid=link-url]").await.trim().to_owned();
    let (status, page) = http_get(&url).await;
    assert_eq!(status, 200);
    assert!(page.contains("class=\"logo\""), "the page shows the logo");
    assert!(
        page.contains(&format!("--accent:{}", palette.accent.hex())),
        "the page has the saved colour"
    );

    // On a website: none listed yet, so the window says the bubble shows nowhere.
    wait_text(&app, "[data-testid=embed-no-site]", "appears nowhere").await;
    type_into(&app, "[data-testid=embed-origins]", "shop.example/prices").await;
    click(&app, "[data-testid=embed-save]").await;
    wait_text(&app, "[data-testid=embed-problem]", "not an origin").await;
    clear_and_type(&app, "[data-testid=embed-origins]", "https://Shop.Example/").await;
    click(&app, "[data-testid=embed-save]").await;
    wait_text(&app, "[data-testid=embed-snippet]", "data-chatlink=").await;
    assert!(
        text(&app, "[data-testid=embed-snippet]")
            .await
            .contains(&format!("data-chatlink=\"{url}\""))
    );
    assert_eq!(
        js(
            &app,
            "return document.querySelector('[data-testid=embed-origins]').value",
            vec![]
        )
        .await,
        "https://shop.example",
        "the website as the core normalised it"
    );
    scroll_to(&app, "[data-testid=embed-copy]").await;
    app.screenshot("desktop-embed").await;
    click(&app, "[data-testid=embed-copy]").await;
    wait_text(&app, "[data-testid=toast]", "Copied").await;
    assert!(
        app.clipboard().contains("data-chatlink="),
        "the line is on the clipboard"
    );

    // Saved in the core: the panel, opened again, reads it back, and the widget's config
    // answers that website only.
    click(&app, &format!("{demo} [data-testid=show-qr]")).await;
    click(&app, &format!("{demo} [data-testid=show-qr]")).await;
    wait_text(&app, "[data-testid=embed-snippet]", "data-chatlink=").await;
    let client = reqwest::Client::new();
    for (origin, allowed) in [
        ("https://shop.example", true),
        ("https://other.example", false),
    ] {
        let res = client
            .get(format!("{url}widget"))
            .header("Origin", origin)
            .send()
            .await
            .expect("the widget's config");
        assert_eq!(res.status().is_success(), allowed, "{origin}");
    }
    app.close().await;
}

/// `attr` of the first `css` element whose text contains `text`.
async fn attr_of_one_with(app: &DesktopApp, css: &str, text: &str, attr: &str) -> String {
    wait_for(
        || async {
            for el in app.client.find_all(Locator::Css(css)).await.ok()? {
                if el.text().await.ok()?.contains(text) {
                    return el.attr(attr).await.ok().flatten();
                }
            }
            None
        },
        SHORT,
    )
    .await
    .unwrap_or_else(|e| panic!("no {css} showing {text:?}: {e}"))
}

/// The loop that grows the knowledge: a question the agent hands off is listed under the agent,
/// the owner's reply in the inbox is added to the answers in one click, and the next visitor
/// who asks (another browser) is answered at once. "Also asked as" and an entry's language are
/// edited in the window and matched too.
#[tokio::test]
async fn an_owners_reply_to_a_handoff_becomes_the_answer_the_next_visitor_gets() {
    let app = DesktopApp::start().await;
    wait_text(&app, "[data-testid=server-state]", "Running").await;
    nav(&app, "Links").await;
    click(
        &app,
        "[data-testid=link-row][data-jid='web:demo'] [data-testid=show-qr]",
    )
    .await;
    let url = shown_link_url(&app).await;

    let first = chatlink_e2e::Browser::start().await;
    first.client.goto(&url).await.expect("open the link");
    first.wait_state("idle", SHORT).await;
    visitor_says(&first, "Are dogs allowed inside?").await;
    first
        .client
        .wait()
        .at_most(SHORT)
        .for_element(Locator::Css("#messages .note.handoff"))
        .await
        .expect("the agent passes it on");

    // The Agents screen lists it, most asked first.
    nav(&app, "Agents").await;
    click(&app, "[data-testid=agent-row][data-slug=demo]").await;
    find(&app, "[data-testid=agent-editor][data-slug=demo]").await;
    wait_text(
        &app,
        "[data-testid=unanswered-question]",
        "Are dogs allowed inside?",
    )
    .await;
    wait_text(&app, "[data-testid=unanswered-question]", "asked once").await;
    scroll_to(&app, "[data-testid=unanswered]").await;
    app.screenshot("desktop-unanswered").await;

    // The owner answers in the inbox, then adds the answer to the knowledge.
    nav(&app, "Inbox").await;
    click(&app, "[data-testid=conversation-row][data-state=handoff]").await;
    wait_text(&app, "[data-testid=transcript]", "Are dogs allowed inside?").await;
    assert!(
        app.client
            .find(Locator::Css("[data-testid=learn-open]"))
            .await
            .is_err(),
        "nothing to add before the owner answers"
    );
    let answer = "Yes, well-behaved dogs are welcome inside.";
    type_into(&app, "[data-testid=reply-input]", answer).await;
    click(&app, "[data-testid=reply-send]").await;
    wait_text(&app, "[data-testid=transcript]", "well-behaved dogs").await;
    // A draft begun before is kept while the answer is added in the reply box's place.
    type_into(&app, "[data-testid=reply-input]", "See you soon").await;
    click(&app, "[data-testid=learn-open]").await;
    let seeded = find(&app, "[data-testid=learn-question]")
        .await
        .prop("value")
        .await
        .expect("the question field");
    assert_eq!(seeded.as_deref(), Some("Are dogs allowed inside?"));
    let seeded = find(&app, "[data-testid=learn-answer]")
        .await
        .prop("value")
        .await
        .expect("the answer field");
    assert_eq!(seeded.as_deref(), Some(answer));
    assert!(
        app.client
            .find(Locator::Css("[data-testid=reply-input]"))
            .await
            .is_err(),
        "the form takes the reply box's place"
    );
    app.screenshot("desktop-inbox-learn").await;
    click(&app, "[data-testid=learn-save]").await;
    wait_text(&app, "[data-testid=toast]", "Added to the answers").await;
    let draft = find(&app, "[data-testid=reply-input]")
        .await
        .prop("value")
        .await
        .expect("the reply box");
    assert_eq!(draft.as_deref(), Some("See you soon"));
    assert!(
        app.client
            .find(Locator::Css("[data-testid=learn-open]"))
            .await
            .is_err(),
        "added once, the offer goes"
    );

    // Another visitor, asking it their way, is answered without a person.
    let next = chatlink_e2e::Browser::start().await;
    next.client.goto(&url).await.expect("open the link");
    next.wait_state("idle", SHORT).await;
    visitor_says(&next, "can my dog come in with me?").await;
    next.wait_state("idle", SHORT).await;
    let said = wait_for(
        || async {
            let m = page_messages(&next).await;
            (m.len() >= 2).then_some(m)
        },
        SHORT,
    )
    .await
    .expect("an answer");
    assert_eq!(said[1], ("assistant".to_owned(), answer.to_owned()));
    assert!(
        next.client
            .find(Locator::Css("#messages .note.handoff"))
            .await
            .is_err(),
        "no handoff"
    );
    chatlink_e2e::screenshot(&next.client, "chat-learned-answer").await;

    // The agent's list is empty now; the new entry is in its knowledge.
    nav(&app, "Agents").await;
    click(&app, "[data-testid=agent-row][data-slug=demo]").await;
    find(&app, "[data-testid=unanswered-empty]").await;
    wait_text(&app, "section.knowledge ol", "well-behaved dogs").await;

    // "Also asked as", and the entry's language, edited in the window.
    let entry = attr_of_one_with(
        &app,
        "[data-testid=knowledge-entry]",
        "Do you deliver?",
        "data-id",
    )
    .await;
    let row = format!("[data-testid=knowledge-entry][data-id='{entry}']");
    click(&app, &format!("{row} [data-testid=knowledge-edit]")).await;
    type_into(
        &app,
        &format!("{row} [data-testid=knowledge-edit-phrasings]"),
        "Could my aunt get one at her house?",
    )
    .await;
    find(&app, &format!("{row} [data-testid=knowledge-edit-lang]"))
        .await
        .select_by_value("en")
        .await
        .expect("pick English");
    app.screenshot("desktop-knowledge-edit").await;
    click(&app, &format!("{row} [data-testid=knowledge-edit-save]")).await;
    wait_text(&app, "[data-testid=toast]", "Entry saved").await;
    wait_text(
        &app,
        &format!("{row} [data-testid=knowledge-phrasings]"),
        "Also asked as: “Could my aunt get one at her house?”",
    )
    .await;
    wait_text(
        &app,
        &format!("{row} [data-testid=knowledge-lang]"),
        "English",
    )
    .await;
    scroll_to(&app, &row).await;
    app.screenshot("desktop-knowledge-phrasings").await;
    next.wait_state("idle", SHORT).await;
    visitor_says(&next, "Could my aunt get one at her house?").await;
    let said = wait_for(
        || async {
            let m = page_messages(&next).await;
            (m.len() >= 4).then_some(m)
        },
        SHORT,
    )
    .await
    .expect("an answer");
    assert_eq!(said[3].0, "assistant");
    assert!(said[3].1.contains("deliver"), "{said:?}");

    // From the Agents screen: one question answered there, another dismissed.
    for asked in ["Can you fix my bicycle?", "Do you sell flowers?"] {
        next.wait_state("idle", SHORT).await;
        let before = page_messages(&next).await.len();
        visitor_says(&next, asked).await;
        wait_for(
            || async { (page_messages(&next).await.len() >= before + 2).then_some(()) },
            SHORT,
        )
        .await
        .expect("the agent replies");
    }
    click(&app, "[data-testid=unanswered-refresh]").await;
    let question = "[data-testid=unanswered-question]";
    let key = attr_of_one_with(&app, question, "Can you fix my bicycle?", "data-key").await;
    let bicycle = format!("{question}[data-key='{key}']");
    let key = attr_of_one_with(&app, question, "Do you sell flowers?", "data-key").await;
    let flowers = format!("{question}[data-key='{key}']");
    // The row's buttons are described by its question, for a screen reader.
    let described = find(&app, &format!("{flowers} [data-testid=unanswered-answer]"))
        .await
        .attr("aria-describedby")
        .await
        .expect("read aria-describedby")
        .expect("aria-describedby");
    assert_eq!(
        text(&app, &format!("#{described}")).await,
        "Do you sell flowers?"
    );
    click(&app, &format!("{bicycle} [data-testid=unanswered-answer]")).await;
    find(&app, &format!("{bicycle} [data-testid=learn-answer]")).await;
    // One form at a time: another row's "Answer it" would drop what is typed in this one.
    let other = find(&app, &format!("{flowers} [data-testid=unanswered-answer]"))
        .await
        .attr("disabled")
        .await
        .expect("read disabled");
    assert!(other.is_some(), "another row's Answer it waits");
    click(&app, &format!("{flowers} [data-testid=unanswered-dismiss]")).await;
    wait_text(&app, "[data-testid=toast]", "Dismissed").await;
    type_into(
        &app,
        &format!("{bicycle} [data-testid=learn-answer]"),
        "Sorry, we only bake: try Spokes on Main Street.",
    )
    .await;
    scroll_to(&app, &bicycle).await;
    app.screenshot("desktop-unanswered-answer").await;
    click(&app, &format!("{bicycle} [data-testid=learn-save]")).await;
    wait_text(&app, "[data-testid=toast]", "Added to the answers").await;
    // Read the list again from the server (a fresh screen shows "Loading…" until it has), so
    // the learned question must be gone there, not only from the panel's own copy.
    nav(&app, "Inbox").await;
    nav(&app, "Agents").await;
    click(&app, "[data-testid=agent-row][data-slug=demo]").await;
    find(&app, "[data-testid=agent-editor][data-slug=demo]").await;
    wait_text(
        &app,
        "[data-testid=unanswered-empty]",
        "No unanswered questions right now.",
    )
    .await;
    wait_text(&app, "section.knowledge ol", "try Spokes on Main Street").await;
    next.wait_state("idle", SHORT).await;
    visitor_says(&next, "could you fix my bicycle").await;
    let said = wait_for(
        || async {
            let m = page_messages(&next).await;
            (m.len() >= 10).then_some(m)
        },
        SHORT,
    )
    .await
    .expect("an answer");
    assert_eq!(
        said[9],
        (
            "assistant".to_owned(),
            "Sorry, we only bake: try Spokes on Main Street.".to_owned()
        )
    );

    first.close().await;
    next.close().await;
    app.close().await;
}
