//! Conversation events to the window (`owner-event`, so the inbox updates live) and to the
//! desktop's notifications (a new conversation, a handoff), as the owner's settings allow.
//!
//! Clicking a notification opens the conversation: the window comes back and gets an
//! `open-conversation` event with the conversation's id. The notification plugin has no click
//! callback on Linux, so there the notification goes through `notify-rust` (what the plugin uses
//! underneath) with a default action, on a thread that waits for the click. At most
//! [`CLICKABLE`] such threads wait at once; each notification asks to expire after
//! [`EXPIRES_MS`] (a server may keep it longer, and its thread with it). Past that a
//! notification is shown without a click action, so a flood of visitors cannot start a flood
//! of threads.
//!
//! Visitors' words are shown as plain text: freedesktop notification servers read a little
//! markup in the body (`<b>`, `<a href>`), so there `&`, `<` and `>` are escaped. Titles are
//! plain text by the spec, and other systems show bodies as plain text.

use chatlink_core::hub::OwnerEvent;
use tauri::{AppHandle, Emitter, Manager};
#[cfg(not(target_os = "linux"))]
#[cfg(not(target_os = "linux"))]
use tauri_plugin_notification::NotificationExt;
use tokio::sync::broadcast;

use crate::desktop::Desktop;
use crate::types::OwnerEventView;

/// Notifications waiting for a click at once (Linux).
pub const CLICKABLE: usize = 4;
/// How long a clickable notification stays up (and its thread waits).
pub const EXPIRES_MS: u32 = 10_000;

/// `text` with the markup a notification server would read escaped.
pub fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if c.is_control() && c != '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The title and body of the notification an event deserves, given the settings
/// (`(new conversations, handoffs)`), or `None`.
pub fn notification_for(
    event: &OwnerEvent,
    wanted: (bool, bool),
    agent: &str,
    words: Option<&str>,
) -> Option<(String, String)> {
    let words = words.unwrap_or("(no message)");
    match event {
        // Money: always said, whatever the settings.
        OwnerEvent::BudgetSpent { .. } => Some((
            format!("{agent} reached its daily budget"),
            "Visitors get the built-in answers until tomorrow (UTC). Raise the budget in Agents if you expect more.".to_owned(),
        )),
        OwnerEvent::Started { .. } if wanted.0 => {
            Some((format!("New conversation with {agent}"), words.to_owned()))
        }
        OwnerEvent::Handoff { .. } if wanted.1 => Some((
            format!("{agent} needs you"),
            format!("The agent could not help: {words}"),
        )),
        // The owner is answering this one: the visitor's new words are for them.
        OwnerEvent::VisitorWrote { .. } if wanted.1 => Some((
            format!("The visitor wrote to you ({agent})"),
            words.to_owned(),
        )),
        _ => None,
    }
}

/// Forwards every owner event until the app's event feed closes.
pub fn forward(handle: AppHandle, mut events: broadcast::Receiver<OwnerEvent>) {
    tauri::async_runtime::spawn(async move {
        loop {
            let event = match events.recv().await {
                Ok(e) => e,
                // The window reloads its lists on the next event anyway.
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            };
            let _ = handle.emit_to("main", "owner-event", OwnerEventView::from(event.clone()));
            notify(&handle, &event).await;
        }
    });
}

async fn notify(handle: &AppHandle, event: &OwnerEvent) {
    let (OwnerEvent::Started { conversation_id }
    | OwnerEvent::Handoff { conversation_id }
    | OwnerEvent::VisitorWrote { conversation_id }
    | OwnerEvent::BudgetSpent { conversation_id }) = event
    else {
        return;
    };
    let desktop = handle.state::<Desktop>();
    let wanted = desktop.notifications();
    if wanted == (false, false) && !matches!(event, OwnerEvent::BudgetSpent { .. }) {
        return;
    }
    let Ok(app) = desktop.app() else { return };
    let Ok(detail) = app.conversation(conversation_id).await else {
        return;
    };
    let words = detail
        .messages
        .iter()
        .rev()
        .find(|m| m.role == chatlink_core::model::Role::User)
        .map(|m| m.content.chars().take(120).collect::<String>());
    let Some((title, body)) = notification_for(
        event,
        wanted,
        &detail.conversation.agent_name,
        words.as_deref(),
    ) else {
        return;
    };
    show(handle, title, body, conversation_id.clone());
}

/// Brings the window back on the conversation the owner clicked.
fn open_conversation(handle: &AppHandle, conversation_id: &str) {
    if let Some(w) = handle.get_webview_window("main") {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
    let _ = handle.emit_to("main", "open-conversation", conversation_id);
}

#[cfg(target_os = "linux")]
static WAITING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[cfg(target_os = "linux")]
fn show(handle: &AppHandle, title: String, body: String, conversation_id: String) {
    use std::sync::atomic::Ordering;
    let mut n = notify_rust::Notification::new();
    n.appname("Chatlink")
        .summary(&title)
        .body(&plain(&body))
        .timeout(notify_rust::Timeout::Milliseconds(EXPIRES_MS));
    if WAITING.fetch_add(1, Ordering::AcqRel) >= CLICKABLE {
        WAITING.fetch_sub(1, Ordering::AcqRel);
        if let Err(e) = n.show() {
            tracing::warn!(error = %e, "cannot show a notification");
        }
        return;
    }
    n.action("default", "Open");
    let handle = handle.clone();
    // wait_for_action blocks until the notification is clicked, closed or expires.
    std::thread::spawn(move || {
        match n.show() {
            Ok(shown) => shown.wait_for_action(|action| {
                if action == "default" {
                    open_conversation(&handle, &conversation_id);
                }
            }),
            Err(e) => tracing::warn!(error = %e, "cannot show a notification"),
        }
        WAITING.fetch_sub(1, Ordering::AcqRel);
    });
}

#[cfg(not(target_os = "linux"))]
fn show(handle: &AppHandle, title: String, body: String, _conversation_id: String) {
    // Elsewhere the plugin shows it; a click brings the app forward.
    if let Err(e) = handle
        .notification()
        .builder()
        .title(title)
        .body(body)
        .show()
    {
        tracing::warn!(error = %e, "cannot show a notification");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_follow_the_settings() {
        let started = OwnerEvent::Started {
            conversation_id: "c".into(),
        };
        let handoff = OwnerEvent::Handoff {
            conversation_id: "c".into(),
        };
        let updated = OwnerEvent::Updated {
            conversation_id: "c".into(),
        };
        let (title, body) = notification_for(&started, (true, false), "Rosie's Bakery", Some("Hi"))
            .expect("wanted");
        assert_eq!(title, "New conversation with Rosie's Bakery");
        assert_eq!(body, "Hi");
        assert!(notification_for(&started, (false, true), "R", Some("Hi")).is_none());
        let (title, _) =
            notification_for(&handoff, (false, true), "R", None).expect("handoff wanted");
        assert_eq!(title, "R needs you");
        assert!(notification_for(&handoff, (true, false), "R", None).is_none());
        let wrote = OwnerEvent::VisitorWrote {
            conversation_id: "c".into(),
        };
        let (title, body) =
            notification_for(&wrote, (false, true), "R", Some("Thanks!")).expect("wanted");
        assert_eq!(
            (title.as_str(), body.as_str()),
            ("The visitor wrote to you (R)", "Thanks!")
        );
        assert!(notification_for(&wrote, (true, false), "R", None).is_none());
        assert!(notification_for(&updated, (true, true), "R", None).is_none());
        let spent = OwnerEvent::BudgetSpent {
            conversation_id: "c".into(),
        };
        let (title, _) = notification_for(&spent, (false, false), "R", None).expect("always");
        assert_eq!(title, "R reached its daily budget");
    }

    #[test]
    fn visitors_words_are_plain_text() {
        assert_eq!(
            plain("<b>hi</b> <a href=\"https://evil.example\">x</a> & \u{7}"),
            "&lt;b&gt;hi&lt;/b&gt; &lt;a href=\"https://evil.example\"&gt;x&lt;/a&gt; &amp;  "
        );
        assert_eq!(
            plain("A&B <Shop>\nline two"),
            "A&amp;B &lt;Shop&gt;\nline two"
        );
    }
}
