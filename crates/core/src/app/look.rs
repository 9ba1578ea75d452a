//! The visitor's side of a chat: the shop's look as the owner edits it (per agent, overridden
//! per widget app), what the chat page and the widget are told (look, language, catalog), the
//! one-line embed of a chat link and the websites it may be embedded on.
//!
//! The visitor's language is chosen here and nowhere else: [`i18n::negotiate`] over the
//! browser's `Accept-Language`, with the agent's default language as the fallback.

use serde::Serialize;

use super::widget::normalize_origins;
use super::{App, Inner, LinkInfo, normalize_origin};
use crate::brand::{self, ImageKind, Look, Shown};
use crate::error::{Error, Result};
use crate::i18n::{self, Lang};
use crate::jid::Jid;
use crate::model::TokenKind;
use crate::token;

/// The chat page for a live link: what it says and how it looks, in the visitor's language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatPage {
    pub name: String,
    pub greeting: String,
    /// Questions to tap under the greeting.
    pub suggestions: Vec<String>,
    pub look: Shown,
    pub lang: Lang,
}

/// A page that could not open, and the language to say so in.
#[derive(Debug)]
pub struct PageProblem {
    pub error: Error,
    pub lang: Lang,
}

/// What the widget is told before it shows its bubble: the look, and every string it shows in
/// the visitor's language.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WidgetConfig {
    pub title: String,
    pub greeting: String,
    /// Questions to tap under the greeting.
    pub suggestions: Vec<String>,
    pub look: Shown,
    pub lang: Lang,
    pub dir: &'static str,
    pub strings: &'static serde_json::Value,
}

/// An agent's look as the owner edits it, and as visitors will see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LookInfo {
    pub look: Look,
    pub shown: Shown,
}

/// The one-line embed of a chat link, for websites the owner cannot run code on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LinkEmbed {
    pub snippet: String,
    /// The websites it works on; none yet means it works on none.
    pub origins: Vec<String>,
}

/// A language visitors can be answered in, for the owner's picker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LanguageInfo {
    pub code: Lang,
    pub name: &'static str,
    pub dir: &'static str,
}

impl Inner {
    /// The look of `folder`, with a widget app's overrides when one is given.
    fn look_of(&self, folder: &str, app: Option<&str>) -> Result<Look> {
        let agent = self.store.folder_look(folder)?;
        Ok(match app {
            Some(id) => agent.under(&self.store.app_look(id)?),
            None => agent,
        })
    }

    fn widget_config(
        &self,
        folder: &str,
        jid: &Jid,
        app: Option<&str>,
        accept_language: Option<&str>,
    ) -> Result<WidgetConfig> {
        let (row, _, greeting) = self.persona(folder, jid)?;
        let look = self.look_of(folder, app)?.shown(&row.name);
        let lang = i18n::negotiate(accept_language, look.language);
        Ok(WidgetConfig {
            title: look.title.clone(),
            greeting,
            suggestions: self.suggestions(&row, lang)?,
            dir: lang.dir(),
            strings: lang.catalog().value(),
            lang,
            look,
        })
    }

    /// The language for a visitor of this link's agent; `default` when the link is unknown.
    fn language_of_link(&self, raw: &str, accept_language: Option<&str>) -> Lang {
        let default = token::looks_like_token(raw)
            .then(|| self.store.token_by_hash(&token::hash(raw)).ok().flatten())
            .flatten()
            .and_then(|row| self.store.folder_look(&row.folder).ok())
            .and_then(|look| look.language)
            .unwrap_or_default();
        i18n::negotiate(accept_language, default)
    }

    /// Whether a request from `origin` may use chat link `raw`: its own page (the `host` the
    /// request was sent to, or the public address), or a website on the link's list.
    fn link_origin(&self, raw: &str, origin: &str, host: Option<&str>) -> Result<()> {
        let Ok(origin) = normalize_origin(origin) else {
            return Err(Error::OriginNotAllowed);
        };
        let own = |candidate: String| normalize_origin(&candidate).is_ok_and(|o| o == origin);
        if host.is_some_and(|h| own(format!("http://{h}")) || own(format!("https://{h}"))) {
            return Ok(());
        }
        let base = self.base_url.read().map(|u| u.clone()).unwrap_or_default();
        if reqwest::Url::parse(&base).is_ok_and(|u| u.origin().ascii_serialization() == origin) {
            return Ok(());
        }
        let row = token::looks_like_token(raw)
            .then(|| self.store.token_by_hash(&token::hash(raw)))
            .transpose()?
            .flatten()
            .filter(|r| r.kind == TokenKind::Web);
        match row {
            Some(r) if r.origins.contains(&origin) => Ok(()),
            _ => Err(Error::OriginNotAllowed),
        }
    }
}

impl App {
    /// Every language a catalog ships for, English first.
    pub fn languages(&self) -> Vec<LanguageInfo> {
        Lang::ALL
            .into_iter()
            .map(|code| LanguageInfo {
                code,
                name: code.name(),
                dir: code.dir(),
            })
            .collect()
    }

    /// The chat page's title, greeting and look for a live chat link. Creates nothing.
    pub async fn chat_page(
        &self,
        token: &str,
        accept_language: Option<&str>,
    ) -> std::result::Result<ChatPage, PageProblem> {
        let (token, accept) = (token.to_owned(), accept_language.map(str::to_owned));
        self.blocking(move |i| {
            let opened = i.resolve(&token, TokenKind::Web).and_then(|row| {
                let (folder, _, greeting) = i.persona(&row.folder, &row.jid)?;
                let look = i.look_of(&row.folder, None)?.shown(&folder.name);
                let lang = i18n::negotiate(accept.as_deref(), look.language);
                Ok(ChatPage {
                    lang,
                    suggestions: i.suggestions(&folder, lang)?,
                    name: folder.name,
                    greeting,
                    look,
                })
            });
            Ok(opened.map_err(|error| PageProblem {
                lang: i.language_of_link(&token, accept.as_deref()),
                error,
            }))
        })
        .await
        .unwrap_or_else(|error| {
            Err(PageProblem {
                error,
                lang: i18n::negotiate(accept_language, Lang::En),
            })
        })
    }

    /// What the widget needs to show a chat link's bubble.
    pub async fn link_widget_config(
        &self,
        token: &str,
        accept_language: Option<&str>,
    ) -> Result<WidgetConfig> {
        let (token, accept) = (token.to_owned(), accept_language.map(str::to_owned));
        self.blocking(move |i| {
            let row = i.resolve(&token, TokenKind::Web)?;
            i.widget_config(&row.folder, &row.jid, None, accept.as_deref())
        })
        .await
    }

    /// What the widget needs to show a widget app's bubble, before it has a session. Public:
    /// a look and an app id are no secret (the id is in every session token a page holds).
    pub async fn app_widget_config(
        &self,
        app_id: &str,
        accept_language: Option<&str>,
    ) -> Result<WidgetConfig> {
        let (app_id, accept) = (app_id.to_owned(), accept_language.map(str::to_owned));
        self.blocking(move |i| {
            // A revoked app keeps its look: its widget shows the bubble and, once opened, says
            // the chat has ended, rather than vanishing from under a visitor.
            let app = i
                .store
                .app(&app_id)?
                .ok_or(Error::NotFound { what: "widget app" })?;
            let jid = Jid::Widget {
                folder: app.folder.clone(),
                app: app.id.clone(),
            };
            i.widget_config(&app.folder, &jid, Some(&app.id), accept.as_deref())
        })
        .await
    }

    /// Refuses a request to chat link `token` from a website not allowed to embed it.
    pub async fn check_link_origin(
        &self,
        token: &str,
        origin: Option<&str>,
        host: Option<&str>,
    ) -> Result<()> {
        let Some(origin) = origin else {
            return Ok(()); // not a cross-origin request: browsers always say where those come from
        };
        let (token, origin, host) = (token.to_owned(), origin.to_owned(), host.map(str::to_owned));
        self.blocking(move |i| i.link_origin(&token, &origin, host.as_deref()))
            .await
    }

    /// An agent's look, and what visitors see of it.
    pub async fn agent_look(&self, folder: &str) -> Result<LookInfo> {
        let folder = folder.to_owned();
        self.blocking(move |i| {
            let name = i.store.folder(&folder)?.name;
            let look = i.store.folder_look(&folder)?;
            Ok(LookInfo {
                shown: look.shown(&name),
                look,
            })
        })
        .await
    }

    /// What `look` would show on `folder`'s page, without saving it: the window's live preview.
    pub async fn preview_look(&self, folder: &str, look: Look) -> Result<LookInfo> {
        let look = look.checked()?;
        let folder = folder.to_owned();
        self.blocking(move |i| {
            let name = i.store.folder(&folder)?.name;
            Ok(LookInfo {
                shown: look.shown(&name),
                look,
            })
        })
        .await
    }

    /// Replaces an agent's look (its logo is set with [`App::set_agent_logo`], or cleared here
    /// by leaving it out).
    pub async fn set_agent_look(&self, folder: &str, look: Look) -> Result<LookInfo> {
        let look = look.checked()?;
        let folder = folder.to_owned();
        self.blocking(move |i| {
            let name = i.store.folder(&folder)?.name;
            let look = i.store.set_folder_look(&folder, &look)?;
            Ok(LookInfo {
                shown: look.shown(&name),
                look,
            })
        })
        .await
    }

    /// Checks and keeps an uploaded logo (PNG, JPEG or WebP; see [`brand::check_logo`]) and
    /// makes it the agent's.
    pub async fn set_agent_logo(&self, folder: &str, bytes: Vec<u8>) -> Result<LookInfo> {
        let logo = brand::check_logo(bytes)?;
        let folder = folder.to_owned();
        self.blocking(move |i| {
            let name = i.store.folder(&folder)?.name;
            i.store.put_logo(&logo)?;
            let look = Look {
                logo: Some(logo.id.clone()),
                ..i.store.folder_look(&folder)?
            };
            let look = i.store.set_folder_look(&folder, &look)?;
            Ok(LookInfo {
                shown: look.shown(&name),
                look,
            })
        })
        .await
    }

    /// A widget app's overrides of its agent's look.
    pub async fn app_look(&self, app_id: &str) -> Result<Look> {
        let app_id = app_id.to_owned();
        self.blocking(move |i| i.store.app_look(&app_id)).await
    }

    /// Replaces a widget app's overrides; an empty look shows the agent's.
    pub async fn set_app_look(&self, app_id: &str, look: Look) -> Result<Look> {
        let look = look.checked()?;
        let app_id = app_id.to_owned();
        self.blocking(move |i| i.store.set_app_look(&app_id, &look))
            .await
    }

    /// A stored logo, for `GET /logo/<id>`.
    pub async fn logo(&self, id: &str) -> Result<(ImageKind, Vec<u8>)> {
        if !brand::is_logo_id(id) {
            return Err(Error::NotFound { what: "logo" });
        }
        let id = id.to_owned();
        self.blocking(move |i| i.store.logo(&id)?.ok_or(Error::NotFound { what: "logo" }))
            .await
    }

    /// Replaces the websites allowed to embed chat link `id`'s widget.
    pub async fn set_link_origins(&self, id: i64, origins: Vec<String>) -> Result<LinkInfo> {
        let origins = normalize_origins(&origins)?;
        self.blocking(move |i| {
            let row = i.store.token(id)?;
            if row.kind != TokenKind::Web {
                return Err(Error::invalid(format!(
                    "link {id} is a hook for another program; only chat links go on websites"
                )));
            }
            let row = i.store.set_token_origins(id, &origins)?;
            i.info(&row, true)
        })
        .await
    }

    /// Sets the websites of chat link `id` when `origins` names some, then gives its embed.
    pub async fn embed_link(&self, id: i64, origins: Vec<String>) -> Result<LinkEmbed> {
        if !origins.is_empty() {
            self.set_link_origins(id, origins).await?;
        }
        self.link_embed(id).await
    }

    /// The one-line embed of live chat link `id`.
    pub async fn link_embed(&self, id: i64) -> Result<LinkEmbed> {
        let url = self.live_url(id).await?;
        let origins = self.link(id).await?.origins;
        let host = self.base_url();
        Ok(LinkEmbed {
            snippet: format!(
                "<script src=\"{host}/widget/chat.js\" data-chatlink=\"{url}\" async></script>"
            ),
            origins,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::IssueLink;
    use crate::app::test_util::test_app;

    #[tokio::test]
    async fn a_link_embeds_only_on_its_websites_and_its_own_page() {
        let (_d, app) = test_app();
        let link = app.issue_link(IssueLink::chat("demo")).await.expect("link");
        let url = link.url.clone().expect("url");
        let token = url
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .expect("token")
            .to_owned();
        let shop = "https://shop.example";
        let check = |origin: &'static str, host: Option<&'static str>| {
            let (app, token) = (app.clone(), token.clone());
            async move { app.check_link_origin(&token, Some(origin), host).await }
        };
        assert_eq!(
            check(shop, None).await.expect_err("not listed").code(),
            "origin_not_allowed"
        );
        app.check_link_origin(&token, None, None)
            .await
            .expect("no Origin: not cross-origin");
        check("http://127.0.0.1:9", Some("127.0.0.1:9"))
            .await
            .expect("its own page");
        let info = app
            .set_link_origins(link.id, vec!["https://Shop.Example/".into()])
            .await
            .expect("set");
        assert_eq!(info.origins, [shop]);
        check(shop, None).await.expect("listed");
        assert!(check("https://evil.example", None).await.is_err());
        assert!(check("null", None).await.is_err(), "an opaque origin");
        assert!(
            app.set_link_origins(link.id, vec!["javascript:alert(1)".into()])
                .await
                .is_err()
        );
        assert_eq!(
            app.link(link.id).await.expect("link").origins,
            [shop],
            "a refused change changes nothing"
        );
        let embed = app.link_embed(link.id).await.expect("embed");
        assert!(embed.snippet.contains(&format!("data-chatlink=\"{url}\"")));
    }

    /// A widget app's look overrides only what it sets; the rest is its agent's.
    #[tokio::test]
    async fn a_widget_app_overrides_its_agents_look() {
        let (_d, app) = test_app();
        let agent = Look {
            accent: Some(brand::Rgb::parse("#7a4b2a").expect("brown")),
            title: Some("Rosie's Bakery".into()),
            language: Some(Lang::De),
            ..Look::default()
        };
        app.set_agent_look("demo", agent).await.expect("agent look");
        let created = app
            .create_widget_app(crate::app::NewWidgetApp {
                folder: "demo".into(),
                name: None,
                origins: vec![],
                token_ttl: None,
            })
            .await
            .expect("app");
        let id = created.app.id;
        let over = Look {
            title: Some("Rosie's online shop".into()),
            side: Some(brand::Side::Left),
            ..Look::default()
        };
        assert_eq!(
            app.set_app_look(&id, over.clone()).await.expect("set"),
            over
        );
        let config = app.app_widget_config(&id, None).await.expect("config");
        assert_eq!(config.title, "Rosie's online shop");
        assert_eq!(config.look.side, brand::Side::Left);
        assert_eq!(
            config.look.palette.accent.hex(),
            "#7a4b2a",
            "the agent's colour"
        );
        assert_eq!(config.lang, Lang::De, "the agent's language");
        let bad = Look {
            launcher: Some("x".repeat(100)),
            ..Look::default()
        };
        assert!(app.set_app_look(&id, bad).await.is_err());
        assert_eq!(app.app_look(&id).await.expect("look"), over, "unchanged");
    }

    #[tokio::test]
    async fn the_page_speaks_the_visitors_language_else_the_agents() {
        let (_d, app) = test_app();
        let link = app.issue_link(IssueLink::chat("demo")).await.expect("link");
        let url = link.url.expect("url");
        let token = url.trim_end_matches('/').rsplit('/').next().expect("token");
        let page = app
            .chat_page(token, Some("de-DE,de;q=0.9"))
            .await
            .expect("page");
        assert_eq!(page.lang, Lang::De);
        let look = Look {
            language: Some(Lang::Fr),
            accent: Some(brand::Rgb::parse("#ffee00").expect("colour")),
            ..Look::default()
        };
        let info = app.set_agent_look("demo", look).await.expect("look");
        assert!(info.shown.palette.adjusted, "a faint yellow is darkened");
        let page = app.chat_page(token, Some("ja")).await.expect("page");
        assert_eq!(page.lang, Lang::Fr, "no catalog for Japanese: the agent's");
        app.revoke_link(link.id).await.expect("revoke");
        let problem = app.chat_page(token, Some("ja")).await.expect_err("revoked");
        assert_eq!(
            (problem.error.code(), problem.lang),
            ("link_revoked", Lang::Fr)
        );
    }
}
