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
