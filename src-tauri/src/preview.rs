//! The preview window: a link's chat page, loaded from the local server in a window of its own
//! (the page forbids framing, and a separate webview holds no app capabilities: it is a visitor's
//! browser, nothing more).

use tauri::{AppHandle, Manager, Url, WebviewUrl, WebviewWindowBuilder};

pub const LABEL: &str = "preview";

/// Shows `url` in the preview window, opening it the first time.
pub fn show(handle: &AppHandle, url: Url) -> tauri::Result<()> {
    if let Some(window) = handle.get_webview_window(LABEL) {
        window.navigate(url)?;
        window.show()?;
        window.set_focus()?;
        return Ok(());
    }
    WebviewWindowBuilder::new(handle, LABEL, WebviewUrl::External(url))
        .title("Chatlink preview: what visitors see")
        .inner_size(420.0, 720.0)
        .min_inner_size(320.0, 480.0)
        .build()?;
    Ok(())
}
