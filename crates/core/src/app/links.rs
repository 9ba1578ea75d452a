//! Owner calls on route tokens: issue, list, show again, revoke, reissue, QR codes.

use serde::Serialize;

use super::{App, Inner};
use crate::error::{Error, Result};
use crate::hub::Switch;
use crate::jid::{Jid, check_name};
use crate::model::{TokenKind, now_ms, rfc3339, words};
use crate::store::{NewToken, TokenRow};
use crate::token;

pub const MAX_LABEL_CHARS: usize = 80;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkKind {
    /// A chat link, `/chat/<token>/`.
    Chat,
    /// A webhook, `/hook/<token>`, for messages from `source` (`github`, `form`…).
    Hook { source: String },
}

/// What to issue.
#[derive(Debug, Clone)]
pub struct IssueLink {
    pub folder: String,
    pub kind: LinkKind,
    pub suffix: Option<String>,
    pub label: Option<String>,
    /// Unix ms after which the link answers 401.
    pub expires_at: Option<i64>,
}

impl IssueLink {
    pub fn chat(folder: &str) -> IssueLink {
        IssueLink {
            folder: folder.to_owned(),
            kind: LinkKind::Chat,
            suffix: None,
            label: None,
            expires_at: None,
        }
    }
}

words! {
    /// Whether a link still opens.
    pub enum LinkStatus ("link status") {
        Live = "live",
        Paused = "paused",
        Revoked = "revoked",
        Expired = "expired",
    }
}

/// A link as the owner sees it. `url` is present when the link is live and was asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LinkInfo {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: i64,
    pub jid: String,
    pub folder: String,
    pub kind: TokenKind,
    pub suffix: Option<String>,
    pub source: Option<String>,
    pub label: Option<String>,
    pub status: LinkStatus,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub last_used_at: Option<String>,
    /// Messages visitors sent through this link.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub messages: i64,
    /// Websites allowed to embed this chat link (see `App::set_link_origins`).
    pub origins: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub url: Option<String>,
}

fn status(row: &TokenRow, now: i64) -> LinkStatus {
    if row.revoked_at.is_some() {
        LinkStatus::Revoked
    } else if row.expires_at.is_some_and(|e| e <= now) {
        LinkStatus::Expired
    } else if row.paused_at.is_some() {
        LinkStatus::Paused
    } else {
        LinkStatus::Live
    }
}

fn path_for(kind: TokenKind, token: &str) -> String {
    match kind {
        TokenKind::Hook => format!("/hook/{token}"),
        TokenKind::Web => format!("/chat/{token}/"),
    }
}

impl Inner {
    fn infos(&self, rows: &[TokenRow], with_url: bool) -> Result<Vec<LinkInfo>> {
        rows.iter().map(|r| self.info(r, with_url)).collect()
    }

    pub(super) fn info(&self, row: &TokenRow, with_url: bool) -> Result<LinkInfo> {
        let status = status(row, now_ms());
        let url = if with_url && matches!(status, LinkStatus::Live | LinkStatus::Paused) {
            let token = token::open(&self.keys, &row.sealed, &row.hash).map_err(|_| {
                Error::SecretStore(
                    "this link was sealed with a key the secret store no longer holds; it still works, \
                     but its URL cannot be shown again: reissue it for a new one"
                        .into(),
                )
            })?;
            let base = self.base_url.read().map(|u| u.clone()).unwrap_or_default();
            Some(format!("{base}{}", path_for(row.kind, token.expose())))
        } else {
            None
        };
        Ok(LinkInfo {
            id: row.id,
            jid: row.jid.to_string(),
            folder: row.folder.clone(),
            kind: row.kind,
            suffix: row.suffix.clone(),
            source: row.source.clone(),
            label: row.label.clone(),
            status,
            created_at: rfc3339(row.created_at),
            expires_at: row.expires_at.map(rfc3339),
            revoked_at: row.revoked_at.map(rfc3339),
            last_used_at: row.last_used_at.map(rfc3339),
            messages: row.visitor_messages,
            origins: row.origins.clone(),
            url,
        })
    }

    fn new_token(
        &self,
        jid: &Jid,
        kind: TokenKind,
        source: Option<String>,
        label: Option<String>,
        expires_at: Option<i64>,
    ) -> Result<(NewToken, String)> {
        let token = token::generate();
        let hash = token::hash(token.expose());
        let sealed = token::seal(&self.keys, &token)?;
        let new = NewToken {
            folder: jid.folder().to_owned(),
            kind,
            jid: jid.clone(),
            suffix: jid.suffix().map(str::to_owned),
            source,
            label,
            hash,
            sealed,
            expires_at,
        };
        Ok((new, token.expose().clone()))
    }
}

/// A valid request's JID, token kind, hook source and label.
type Valid = (Jid, TokenKind, Option<String>, Option<String>);

fn validate(req: &IssueLink) -> Result<Valid> {
    let suffix = req
        .suffix
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let (jid, kind, source) = match &req.kind {
        LinkKind::Chat => (Jid::web(&req.folder, suffix)?, TokenKind::Web, None),
        LinkKind::Hook { source } => {
            check_name("source", source)?;
            (
                Jid::hook(&req.folder, source, suffix)?,
                TokenKind::Hook,
                Some(source.clone()),
            )
        }
    };
    let label = req
        .label
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned);
    if label
        .as_ref()
        .is_some_and(|l| l.chars().count() > MAX_LABEL_CHARS || l.chars().any(char::is_control))
    {
        return Err(Error::invalid(format!(
            "a label is at most {MAX_LABEL_CHARS} characters on one line"
        )));
    }
    if req.expires_at.is_some_and(|e| e <= now_ms()) {
        return Err(Error::invalid("the expiry must be in the future"));
    }
    Ok((jid, kind, source, label))
}

pub(super) fn issue_blocking(inner: &Inner, req: &IssueLink) -> Result<LinkInfo> {
    let (jid, kind, source, label) = validate(req)?;
    let (new, _) = inner.new_token(&jid, kind, source, label, req.expires_at)?;
    let row = inner.store.insert_token(&new)?;
    inner.info(&row, true)
}

impl App {
    /// Issues a new link; the answer carries its URL.
    pub async fn issue_link(&self, req: IssueLink) -> Result<LinkInfo> {
        self.blocking(move |i| issue_blocking(i, &req)).await
    }

    /// Every link (of one agent, or all), oldest first, without URLs.
    pub async fn links(&self, folder: Option<String>) -> Result<Vec<LinkInfo>> {
        self.blocking(move |i| i.infos(&i.store.tokens(folder.as_deref())?, false))
            .await
    }

    /// Every link, live ones with their URLs, oldest first: the window's table, where the owner
    /// copies and prints any link again.
    pub async fn links_with_urls(&self) -> Result<Vec<LinkInfo>> {
        self.blocking(|i| i.infos(&i.store.tokens(None)?, true))
            .await
    }

    /// One link, with its URL when live.
    pub async fn link(&self, id: i64) -> Result<LinkInfo> {
        self.blocking(move |i| i.info(&i.store.token(id)?, true))
            .await
    }

    /// Every link of a JID, live ones with their URLs: "show me that link again".
    pub async fn links_of_jid(&self, jid: &str) -> Result<Vec<LinkInfo>> {
        let jid: Jid = jid.parse()?;
        self.blocking(move |i| {
            let rows = i.store.tokens_of_jid(&jid)?;
            if rows.is_empty() {
                return Err(Error::NotFound { what: "link" });
            }
            i.infos(&rows, true)
        })
        .await
    }

    /// Revokes every live link of a JID and closes their streams; returns what it revoked.
    pub async fn revoke_jid(&self, jid: &str) -> Result<Vec<LinkInfo>> {
        let jid: Jid = jid.parse()?;
        let revoked = self
            .blocking(move |i| {
                if i.store.tokens_of_jid(&jid)?.is_empty() {
                    return Err(Error::NotFound { what: "link" });
                }
                let ids = i.store.revoke_jid(&jid)?;
                ids.iter()
                    .map(|id| i.info(&i.store.token(*id)?, false))
                    .collect::<Result<Vec<_>>>()
            })
            .await?;
        for link in &revoked {
            self.0.hub.close(&Switch::Link(link.id));
        }
        Ok(revoked)
    }

    /// Revokes one link and closes its streams. Revoking a revoked link changes nothing.
    pub async fn revoke_link(&self, id: i64) -> Result<LinkInfo> {
        let info = self
            .blocking(move |i| i.info(&i.store.revoke_token(id)?, false))
            .await?;
        self.0.hub.close(&Switch::Link(id));
        Ok(info)
    }

    /// Pauses link `id` (visitors get "back soon", 503, and its open streams end) or resumes it.
    /// Unlike a revocation it comes back with one click: the URL and QR codes stay valid.
    pub async fn pause_link(&self, id: i64, paused: bool) -> Result<LinkInfo> {
        let info = self
            .blocking(move |i| i.info(&i.store.set_token_paused(id, paused)?, true))
            .await?;
        if paused {
            self.0.hub.close(&Switch::Link(id));
        }
        Ok(info)
    }

    /// Revokes link `id` and issues a new one on the same JID, label and expiry: a new URL for
    /// the same place.
    pub async fn reissue_link(&self, id: i64) -> Result<LinkInfo> {
        let info = self
            .blocking(move |i| {
                let old = i.store.token(id)?;
                let jid = old.jid.clone();
                let expires_at = old.expires_at.filter(|e| *e > now_ms());
                let (new, _) = i.new_token(
                    &jid,
                    old.kind,
                    old.source.clone(),
                    old.label.clone(),
                    expires_at,
                )?;
                let (_, row) = i.store.reissue_token(id, &new)?;
                i.info(&row, true)
            })
            .await?;
        self.0.hub.close(&Switch::Link(id));
        Ok(info)
    }

    /// The path of a live chat link (`/chat/<token>/`), for the window's preview, which opens it
    /// on the local server whatever the public URL.
    pub async fn chat_link_path(&self, id: i64) -> Result<String> {
        self.blocking(move |i| {
            let row = i.store.token(id)?;
            let state = status(&row, now_ms());
            if row.kind != TokenKind::Web {
                return Err(Error::invalid(format!(
                    "link {id} is a hook for another program, not a chat page to preview"
                )));
            }
            if state != LinkStatus::Live {
                return Err(Error::invalid(format!(
                    "link {id} is {state}; only a live link opens"
                )));
            }
            let token = token::open(&i.keys, &row.sealed, &row.hash)?;
            Ok(path_for(row.kind, token.expose()))
        })
        .await
    }

    /// The QR code of a live link as PNG bytes.
    pub async fn link_qr_png(&self, id: i64, scale: u32) -> Result<Vec<u8>> {
        let url = self.live_url(id).await?;
        crate::qr::png(&url, scale)
    }

    /// The QR code of a live link as an SVG document.
    pub async fn link_qr_svg(&self, id: i64) -> Result<String> {
        let url = self.live_url(id).await?;
        crate::qr::svg(&url)
    }

    /// Saves a live link's QR code to `path`, as PNG or SVG after its extension, atomically (never
    /// a half-written file). Returns the path written.
    pub async fn save_link_qr(
        &self,
        id: i64,
        path: &std::path::Path,
    ) -> Result<std::path::PathBuf> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        let bytes = match ext.as_deref() {
            Some("png") => self.link_qr_png(id, crate::qr::DEFAULT_SCALE).await?,
            Some("svg") => self.link_qr_svg(id).await?.into_bytes(),
            _ => {
                return Err(Error::invalid(format!(
                    "{} must end in .png or .svg",
                    path.display()
                )));
            }
        };
        let path = path.to_owned();
        self.blocking(move |_| {
            crate::files::write(&path, &bytes, crate::files::Access::Shared)?;
            Ok(path)
        })
        .await
    }

    /// The URL a QR code should carry for `target`: an http(s) URL as given, or the newest live
    /// link of a JID.
    pub async fn qr_url(&self, target: &str) -> Result<String> {
        if target.contains("://") {
            let url = reqwest::Url::parse(target)
                .map_err(|e| Error::invalid(format!("{target:?} is not a URL: {e}")))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(Error::invalid(format!("{target:?} is not an http(s) URL")));
            }
            return Ok(target.to_owned());
        }
        self.links_of_jid(target)
            .await?
            .into_iter()
            .rev()
            .find_map(|l| l.url)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "{target} has no live link; issue one with `chatlink token issue`"
                ))
            })
    }

    pub(super) async fn live_url(&self, id: i64) -> Result<String> {
        let info = self.link(id).await?;
        info.url.ok_or_else(|| {
            Error::invalid(format!(
                "link {id} is {}; only a live link opens",
                info.status
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::test_app;
    use super::*;

    #[tokio::test]
    async fn issue_show_revoke_reissue() {
        let (_d, app) = test_app();
        let a = app
            .issue_link(IssueLink {
                suffix: Some("flyer".into()),
                label: Some("Counter flyer".into()),
                ..IssueLink::chat("demo")
            })
            .await
            .expect("issue");
        assert_eq!(a.jid, "web:demo/flyer");
        let url = a.url.clone().expect("url");
        assert!(
            url.starts_with("http://127.0.0.1:8640/chat/") && url.ends_with('/'),
            "{url}"
        );
        let b = app
            .issue_link(IssueLink {
                suffix: Some("flyer".into()),
                ..IssueLink::chat("demo")
            })
            .await
            .expect("second");
        assert_ne!(a.url, b.url, "several live tokens per JID");
        let shown = app.links_of_jid("web:demo/flyer").await.expect("show");
        assert_eq!(
            shown
                .iter()
                .filter_map(|l| l.url.clone())
                .collect::<Vec<_>>(),
            vec![url.clone(), b.url.clone().expect("b url")]
        );

        let fresh = app.reissue_link(a.id).await.expect("reissue");
        assert_eq!(fresh.jid, a.jid);
        assert_eq!(fresh.label.as_deref(), Some("Counter flyer"));
        assert_ne!(fresh.url, a.url);
        assert_eq!(
            app.link(a.id).await.expect("old").status,
            LinkStatus::Revoked
        );

        let revoked = app.revoke_jid("web:demo/flyer").await.expect("revoke");
        assert_eq!(
            revoked.iter().map(|l| l.id).collect::<Vec<_>>(),
            vec![b.id, fresh.id]
        );
        assert!(
            app.links_of_jid("web:demo/flyer")
                .await
                .expect("tombstones")
                .iter()
                .all(|l| l.status == LinkStatus::Revoked && l.url.is_none())
        );
        assert_eq!(
            app.revoke_jid("web:demo/none")
                .await
                .expect_err("unknown")
                .code(),
            "not_found"
        );
        assert_eq!(
            app.link_qr_png(a.id, 4)
                .await
                .expect_err("revoked qr")
                .code(),
            "invalid_input"
        );
    }

    #[tokio::test]
    async fn the_preview_opens_a_live_chat_link_by_its_path_whatever_the_public_url() {
        let (_d, app) = test_app();
        app.set_base_url("https://chat.example.com")
            .expect("public");
        let chat = app
            .issue_link(IssueLink::chat("demo"))
            .await
            .expect("issue");
        let path = app.chat_link_path(chat.id).await.expect("path");
        assert_eq!(
            format!("https://chat.example.com{path}"),
            chat.url.expect("url")
        );
        let hook = app
            .issue_link(IssueLink {
                kind: LinkKind::Hook {
                    source: "crm".into(),
                },
                ..IssueLink::chat("demo")
            })
            .await
            .expect("hook");
        app.revoke_link(chat.id).await.expect("revoke");
        for id in [chat.id, hook.id] {
            let err = app.chat_link_path(id).await.expect_err("refused");
            assert_eq!(err.code(), "invalid_input", "{err}");
        }
        assert_eq!(
            app.chat_link_path(9999).await.expect_err("unknown").code(),
            "not_found"
        );
    }

    #[tokio::test]
    async fn bad_requests_change_nothing() {
        let (_d, app) = test_app();
        let before = app.links(None).await.expect("list").len();
        for req in [
            IssueLink::chat("Bad Folder"),
            IssueLink::chat("missing"),
            IssueLink {
                suffix: Some("a/b".into()),
                ..IssueLink::chat("demo")
            },
            IssueLink {
                label: Some("x".repeat(81)),
                ..IssueLink::chat("demo")
            },
            IssueLink {
                expires_at: Some(now_ms() - 1),
                ..IssueLink::chat("demo")
            },
            IssueLink {
                kind: LinkKind::Hook { source: "".into() },
                ..IssueLink::chat("demo")
            },
        ] {
            assert!(app.issue_link(req.clone()).await.is_err(), "{req:?}");
        }
        assert_eq!(app.links(None).await.expect("list").len(), before);
    }

    #[tokio::test]
    async fn hook_links_and_qr() {
        let (_d, app) = test_app();
        let hook = app
            .issue_link(IssueLink {
                kind: LinkKind::Hook {
                    source: "github".into(),
                },
                ..IssueLink::chat("demo")
            })
            .await
            .expect("hook");
        assert_eq!(hook.jid, "hook:demo/github");
        assert!(hook.url.as_deref().is_some_and(|u| u.contains("/hook/")));
        let png = app.link_qr_png(hook.id, 4).await.expect("png");
        assert!(png.starts_with(b"\x89PNG"));
        assert!(
            app.link_qr_svg(hook.id)
                .await
                .expect("svg")
                .contains("<svg")
        );
    }

    #[tokio::test]
    async fn a_saved_qr_png_decodes_to_the_link_and_bad_paths_write_nothing() {
        let (dir, app) = test_app();
        let link = app
            .issue_link(IssueLink::chat("demo"))
            .await
            .expect("issue");
        let png_path = dir.path().join("flyer.PNG");
        let written = app.save_link_qr(link.id, &png_path).await.expect("png");
        assert_eq!(written, png_path);
        let text =
            chatlink_test_support::decode_qr_png(&std::fs::read(&png_path).expect("read png"));
        assert_eq!(Some(text), link.url);
        let svg = dir.path().join("flyer.svg");
        app.save_link_qr(link.id, &svg).await.expect("svg");
        assert!(std::fs::read_to_string(&svg).expect("svg").contains("<svg"));

        let bad = dir.path().join("flyer.jpg");
        let err = app.save_link_qr(link.id, &bad).await.expect_err("jpg");
        assert_eq!(err.code(), "invalid_input");
        assert!(!bad.exists());
        app.revoke_link(link.id).await.expect("revoke");
        let after = dir.path().join("revoked.png");
        assert!(app.save_link_qr(link.id, &after).await.is_err());
        assert!(!after.exists(), "a revoked link's QR is not saved");
    }
}
