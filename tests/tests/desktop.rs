//! The real desktop app under Xvfb through tauri-driver: Home shows the running server, and a
//! link made in the window works for a visitor, copies to the clipboard, and stops when revoked.

use std::time::Duration;

use chatlink_e2e::desktop::DesktopApp;
use chatlink_e2e::{http_get, wait_for};
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
    wait_for(
        || async {
            let el = app.client.find(Locator::Css(css)).await.ok()?;
            let t = el.text().await.ok()?;
            t.contains(want).then_some(())
        },
        SHORT,
    )
    .await
    .unwrap_or_else(|e| panic!("{css} never showed {want:?}: {e}"));
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
    app.screenshot("desktop-home");

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
    app.screenshot("desktop-links-form");
    click(&app, "[data-testid=new-link-submit]").await;
    let row = "[data-testid=link-row][data-jid='web:demo/flyer']";
    find(&app, row).await;
    let url = wait_for(
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
    .expect("the new link's URL is shown");
    let (status, page) = http_get(&url).await;
    assert_eq!(status, 200, "{url}");
    assert!(page.contains("Rosie&#39;s Bakery"));
    app.screenshot("desktop-links-new");

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
        chatlink_e2e::decode_qr_png(&png),
        url,
        "the saved QR code carries the URL"
    );

    click(&app, &format!("{row} [data-testid=revoke]")).await;
    let confirm = text(&app, "[data-testid=confirm]").await;
    assert!(
        confirm.contains("401"),
        "the confirmation says what happens: {confirm}"
    );
    app.screenshot("desktop-links-revoke-confirm");
    click(&app, "[data-testid=confirm-yes]").await;
    find(
        &app,
        "[data-testid=link-row][data-jid='web:demo/flyer'][data-status=revoked]",
    )
    .await;
    let (status, _) = http_get(&url).await;
    assert_eq!(status, 401, "the revoked link answers 401");
    app.close().await;
}

async fn type_into(app: &DesktopApp, css: &str, text: &str) {
    find(app, css)
        .await
        .send_keys(text)
        .await
        .unwrap_or_else(|e| panic!("type into {css}: {e}"));
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
    app.screenshot("desktop-agents");

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
    let url = wait_for(
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
    .expect("the new link's URL");

    // A visitor in Chromium chats with the agent the window made.
    let browser = chatlink_e2e::Browser::start().await;
    browser.client.goto(&url).await.expect("open the link");
    browser.wait_state("idle", SHORT).await;
    browser
        .client
        .find(Locator::Css("#input"))
        .await
        .expect("composer")
        .send_keys("Do you deliver bouquets on Sundays?")
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
    app.screenshot("desktop-widget-form");
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
    app.screenshot("desktop-widget-secret");
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
    app.screenshot("desktop-widget-snippet");
    // The secret works: the server trades it for a session token.
    let res = reqwest::Client::new()
        .post(format!("{local}/api/v1/auth/token"))
        .json(&serde_json::json!({"appId": app_id, "appSecret": secret.trim(), "endUserId": "u1"}))
        .send()
        .await
        .expect("token exchange");
    assert_eq!(res.status().as_u16(), 200);
    app.close().await;
}
