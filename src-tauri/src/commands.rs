//! The window's commands: each makes one `App` call and maps its error; the rules live in the core.

use chatlink_core::app::{AgentInfo, IssueLink, LinkInfo};
use chatlink_core::store::now_ms;
use tauri::State;

use crate::desktop::Desktop;
use crate::types::{CommandError, NewLink, Status};

type Reply<T> = Result<T, CommandError>;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

#[tauri::command]
pub fn status(desktop: State<'_, Desktop>) -> Status {
    desktop.status()
}

#[tauri::command]
pub async fn list_links(desktop: State<'_, Desktop>) -> Reply<Vec<LinkInfo>> {
    Ok(desktop.app()?.links_with_urls().await?)
}

#[tauri::command]
pub async fn issue_link(desktop: State<'_, Desktop>, req: NewLink) -> Reply<LinkInfo> {
    let blank = |s: Option<String>| s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let link = IssueLink {
        suffix: blank(req.suffix),
        label: blank(req.label),
        expires_at: req
            .expires_in_days
            .map(|d| now_ms() + i64::from(d) * DAY_MS),
        ..IssueLink::chat(&req.folder)
    };
    Ok(desktop.app()?.issue_link(link).await?)
}

#[tauri::command]
pub async fn revoke_link(desktop: State<'_, Desktop>, id: i64) -> Reply<LinkInfo> {
    Ok(desktop.app()?.revoke_link(id).await?)
}

#[tauri::command]
pub async fn reissue_link(desktop: State<'_, Desktop>, id: i64) -> Reply<LinkInfo> {
    Ok(desktop.app()?.reissue_link(id).await?)
}

#[tauri::command]
pub async fn link_qr_svg(desktop: State<'_, Desktop>, id: i64) -> Reply<String> {
    Ok(desktop.app()?.link_qr_svg(id).await?)
}

#[tauri::command]
pub async fn list_agents(desktop: State<'_, Desktop>) -> Reply<Vec<AgentInfo>> {
    Ok(desktop.app()?.agents().await?)
}
