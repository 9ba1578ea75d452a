//! Widget apps and the widget's calls. Owner calls create, list, reveal, rotate and revoke apps;
//! a customer's backend exchanges an appId/appSecret for a short-lived JWT; the widget chats on
//! behalf of the end user that JWT names.
//!
//! Decisions beyond DESIGN.md:
//! - The appSecret lives in the secret store under `<install>/widget-app/<appId>`; the database
//!   holds no hash or copy of it. Every token exchange reads it back and compares in constant time.
//! - Rotating a secret also ends the sessions signed before it (the JWT key includes the secret's
//!   generation): whoever held the old secret may have minted tokens with it. The widget's
//!   401-then-`fetchToken()` path makes this invisible to visitors once the backend has the new
//!   secret.
//! - A widget stream ends when the JWT that opened it expires; the widget resumes it with
//!   `Last-Event-ID` and a fresh token, so no stream outlives its authorization.
//! - Allowed origins are checked against the `Origin` header of every widget API request (403
//!   `origin_not_allowed`) after the JWT, and CORS headers are sent so the widget can show that
//!   answer. Browsers always send `Origin` on cross-site requests, so a page on another site cannot
//!   use the app; any non-browser client can claim any origin, so this is not authentication.
//! - Unknown, revoked and wrong-secret exchanges get the same 401 body. Timing differs (a known app
//!   costs a keyring read); app ids are not secrets.

use std::net::IpAddr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::chat::{Entry, HistoryMessageView, Posted, check_message, history_of};
use super::{App, Inner};
use crate::error::{Error, Result};
use crate::hub::{FrameStream, Switch};
use crate::jid::Jid;
use crate::jwt;
use crate::model::{EndUser, Role, now_ms, rfc3339, words};
use crate::secret::Sensitive;
use crate::store::{AppRow, NewApp};
use crate::token;

pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);
pub const MIN_TOKEN_TTL: Duration = Duration::from_secs(5);
pub const MAX_TOKEN_TTL: Duration = Duration::from_secs(24 * 60 * 60);
pub const MAX_END_USER_CHARS: usize = 128;
pub const MAX_APP_NAME_CHARS: usize = 80;
pub const MAX_ORIGINS: usize = 20;
const APP_ID_PREFIX: &str = "app_";

#[derive(Debug, Clone, Default)]
pub struct NewWidgetApp {
    /// The agent's slug.
    pub folder: String,
    /// Defaults to the agent's name.
    pub name: Option<String>,
    /// `https://shop.example`; empty means any origin.
    pub origins: Vec<String>,
    /// How long a session JWT lasts; [`DEFAULT_TOKEN_TTL`] when `None`.
    pub token_ttl: Option<Duration>,
}

words! {
    /// Whether a widget app still trades its secret for sessions.
    pub enum AppStatus ("widget app status") {
        Active = "active",
        Revoked = "revoked",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct WidgetAppInfo {
    pub id: String,
    pub folder: String,
    pub jid: String,
    pub name: String,
    pub origins: Vec<String>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub token_ttl_secs: i64,
    pub created_at: String,
    pub rotated_at: Option<String>,
    pub revoked_at: Option<String>,
    pub status: AppStatus,
}

/// A new app and its secret, which is shown to the owner once here (and on an explicit reveal).
#[derive(Debug)]
pub struct CreatedWidgetApp {
    pub app: WidgetAppInfo,
    pub secret: Sensitive<String>,
}

/// `POST /api/v1/auth/token`'s body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRequest {
    pub app_id: String,
    pub app_secret: Sensitive<String>,
    pub end_user_id: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedToken {
    pub token: String,
    /// RFC 3339.
    pub expires_at: String,
}

/// What a website needs to embed an app's widget, filled in with this server's address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct WidgetEmbed {
    /// The HTML snippet for the page.
    pub snippet: String,
    /// The request the site's backend makes for each user (with a placeholder for the secret).
    pub token_request: String,
}

/// A verified widget session: the end user a valid JWT names, and where their messages go.
/// Only [`App::widget_session`] makes one.
#[derive(Debug, Clone)]
pub struct WidgetSession {
    entry: Entry,
    /// Unix seconds.
    expires_at: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WidgetMessage {
    pub content: String,
    #[serde(default)]
    pub conversation_id: Option<String>,
    /// The browser's `Accept-Language` (a header, not part of the body): the reply's language.
    #[serde(skip)]
    pub accept_language: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WidgetHistoryMessage {
    pub id: String,
    pub turn_id: Option<String>,
    pub role: Role,
    pub content: String,
    pub created_at: String,
}

// The widget's API spells its fields in camelCase, the chat page's in snake_case: the same
// message, two wire names.
impl From<HistoryMessageView> for WidgetHistoryMessage {
    fn from(m: HistoryMessageView) -> Self {
        WidgetHistoryMessage {
            id: m.id,
            turn_id: m.turn_id,
            role: m.role,
            content: m.content,
            created_at: m.created_at,
        }
    }
}

/// The end user's conversation (none before their first message) and what to greet them with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WidgetHistory {
    pub name: String,
    pub greeting: String,
    pub conversation_id: Option<String>,
    pub messages: Vec<WidgetHistoryMessage>,
    pub running_turn_id: Option<String>,
    /// Where the conversation stream (`/api/v1/chat/events`) picks up after these messages.
    pub last_event_id: Option<i64>,
}

fn new_app_id() -> String {
    let bytes = token::random_bytes::<12>();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{APP_ID_PREFIX}{hex}")
}

/// Shape check before any lookup, so junk never reaches the database or the keyring.
pub fn looks_like_app_id(s: &str) -> bool {
    s.strip_prefix(APP_ID_PREFIX).is_some_and(|hex| {
        hex.len() == 24 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// `https://Shop.Example:443/` → `https://shop.example`. Only a bare origin is accepted: a path
/// would suggest a finer control than browsers give.
pub fn normalize_origin(raw: &str) -> Result<String> {
    let bad = |why: &str| {
        Error::invalid(format!(
            "{raw:?} is not an origin ({why}): write it like https://shop.example or http://localhost:3000"
        ))
    };
    let url = reqwest::Url::parse(raw.trim()).map_err(|_| bad("not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad("it needs http:// or https:// and a host"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(bad("an origin has no path, query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("an origin has no user name or password"));
    }
    Ok(url.origin().ascii_serialization())
}

pub(super) fn normalize_origins(raw: &[String]) -> Result<Vec<String>> {
    if raw.len() > MAX_ORIGINS {
        return Err(Error::invalid(format!(
            "at most {MAX_ORIGINS} websites, please"
        )));
    }
    let mut out = Vec::with_capacity(raw.len());
    for o in raw {
        let o = normalize_origin(o)?;
        if !out.contains(&o) {
            out.push(o);
        }
    }
    Ok(out)
}

/// 1–128 characters, none of them a control character, not all blank.
fn check_end_user(id: &str) -> Result<()> {
    let n = id.chars().count();
    if n == 0 || n > MAX_END_USER_CHARS || id.trim().is_empty() || id.chars().any(char::is_control)
    {
        return Err(Error::invalid(format!(
            "endUserId must be 1 to {MAX_END_USER_CHARS} printable characters"
        )));
    }
    Ok(())
}

fn check_ttl(ttl: Duration) -> Result<i64> {
    if !(MIN_TOKEN_TTL..=MAX_TOKEN_TTL).contains(&ttl) {
        return Err(Error::invalid(format!(
            "a session lifetime must be between {} s and {} h",
            MIN_TOKEN_TTL.as_secs(),
            MAX_TOKEN_TTL.as_secs() / 3600
        )));
    }
    Ok(ttl.as_secs() as i64)
}

fn app_info(row: AppRow) -> WidgetAppInfo {
    WidgetAppInfo {
        jid: Jid::Widget {
            folder: row.folder.clone(),
            app: row.id.clone(),
        }
        .to_string(),
        status: if row.revoked_at.is_some() {
            AppStatus::Revoked
        } else {
            AppStatus::Active
        },
        id: row.id,
        folder: row.folder,
        name: row.name,
        origins: row.origins,
        token_ttl_secs: row.token_ttl_secs,
        created_at: rfc3339(row.created_at),
        rotated_at: row.rotated_at.map(rfc3339),
        revoked_at: row.revoked_at.map(rfc3339),
    }
}

impl Inner {
    fn app_secret_name(&self, app_id: &str) -> String {
        format!("{}/widget-app/{app_id}", self.namespace)
    }

    fn live_app(&self, app_id: &str) -> Result<AppRow> {
        let row = self
            .store
            .app(app_id)?
            .ok_or(Error::NotFound { what: "widget app" })?;
        if row.revoked_at.is_some() {
            return Err(Error::Conflict(format!(
                "widget app {app_id} is revoked; create a new one"
            )));
        }
        Ok(row)
    }

    fn exchange(&self, req: &TokenRequest) -> Result<IssuedToken> {
        let row = self
            .store
            .app(&req.app_id)?
            .filter(|r| r.revoked_at.is_none())
            .ok_or(Error::BadCredentials)?;
        let Some(stored) = self.secrets.get(&self.app_secret_name(&row.id))? else {
            tracing::warn!(app = %row.id, "a widget app has no secret in the secret store");
            return Err(Error::BadCredentials);
        };
        if !token::ct_eq(
            stored.expose().as_bytes(),
            req.app_secret.expose().as_bytes(),
        ) {
            return Err(Error::BadCredentials);
        }
        let key = jwt::app_key(&self.keys, &row.id, row.generation);
        let (token, claims) = jwt::issue(
            &key,
            &row.id,
            &req.end_user_id,
            now_ms() / 1000,
            row.token_ttl_secs,
        )?;
        Ok(IssuedToken {
            token,
            expires_at: rfc3339(claims.exp * 1000),
        })
    }

    fn session(&self, jwt: &str, origin: Option<&str>) -> Result<WidgetSession> {
        let app_id = jwt::claimed_app(jwt)?;
        if !looks_like_app_id(&app_id) {
            return Err(Error::InvalidSession);
        }
        let row = self
            .store
            .app(&app_id)?
            .filter(|r| r.revoked_at.is_none())
            .ok_or(Error::InvalidSession)?;
        let claims = jwt::verify(
            &jwt::app_key(&self.keys, &row.id, row.generation),
            &row.id,
            jwt,
        )?;
        // `jsonwebtoken` counts whole seconds and accepts a token during its `exp` second; a
        // widget stream ends at `exp` exactly, so a reconnect at that moment must be refused.
        if claims.exp * 1000 <= now_ms() {
            return Err(Error::InvalidSession);
        }
        check_end_user(&claims.sub).map_err(|_| Error::InvalidSession)?;
        if let Some(origin) = origin
            && !row.origins.is_empty()
            && !normalize_origin(origin).is_ok_and(|o| row.origins.contains(&o))
        {
            return Err(Error::OriginNotAllowed);
        }
        Ok(WidgetSession {
            entry: Entry {
                jid: Jid::Widget {
                    folder: row.folder.clone(),
                    app: row.id.clone(),
                },
                folder: row.folder,
                token_id: None,
                end_user: Some(EndUser {
                    app_id: row.id.clone(),
                    id: claims.sub,
                }),
                switch: Switch::App(row.id),
                ends_at: Some(claims.exp.saturating_mul(1000)),
            },
            expires_at: claims.exp,
        })
    }
}

impl App {
    /// Creates a widget app and stores its new secret; the secret is returned this once.
    pub async fn create_widget_app(&self, req: NewWidgetApp) -> Result<CreatedWidgetApp> {
        let origins = normalize_origins(&req.origins)?;
        let ttl = check_ttl(req.token_ttl.unwrap_or(DEFAULT_TOKEN_TTL))?;
        let name = req.name.map(|n| n.trim().to_owned());
        if let Some(n) = &name
            && (n.is_empty() || n.chars().count() > MAX_APP_NAME_CHARS)
        {
            return Err(Error::invalid(format!(
                "a widget app's name is 1 to {MAX_APP_NAME_CHARS} characters"
            )));
        }
        self.blocking(move |i| {
            let folder = i.store.folder(&req.folder)?;
            let row = i.store.insert_app(&NewApp {
                id: new_app_id(),
                folder: folder.slug,
                name: name.unwrap_or(folder.name),
                origins,
                token_ttl_secs: ttl,
            })?;
            let secret = Sensitive::new(URL_SAFE_NO_PAD.encode(token::random_bytes::<32>()));
            if let Err(e) = i.secrets.set(&i.app_secret_name(&row.id), &secret) {
                // An app whose secret was never stored could never be used: take it back.
                i.store.delete_new_app(&row.id)?;
                return Err(e);
            }
            Ok(CreatedWidgetApp {
                app: app_info(row),
                secret,
            })
        })
        .await
    }

    /// Every widget app, revoked ones included, oldest first.
    pub async fn widget_apps(&self) -> Result<Vec<WidgetAppInfo>> {
        self.blocking(|i| Ok(i.store.apps()?.into_iter().map(app_info).collect()))
            .await
    }

    pub async fn widget_app(&self, app_id: &str) -> Result<WidgetAppInfo> {
        let app_id = app_id.to_owned();
        self.blocking(move |i| {
            i.store
                .app(&app_id)?
                .map(app_info)
                .ok_or(Error::NotFound { what: "widget app" })
        })
        .await
    }

    /// The app's secret, read back from the secret store, for the owner who asks to see it.
    pub async fn reveal_app_secret(&self, app_id: &str) -> Result<Sensitive<String>> {
        let app_id = app_id.to_owned();
        self.blocking(move |i| {
            let row = i.live_app(&app_id)?;
            i.secrets.get(&i.app_secret_name(&row.id))?.ok_or_else(|| {
                Error::SecretStore(format!(
                    "the secret of widget app {app_id} is missing from the {} store; rotate it to make a new one",
                    i.secrets.backend().as_str()
                ))
            })
        })
        .await
    }

    /// Replaces the app's secret: the old secret and every session signed before stop working now.
    pub async fn rotate_app_secret(&self, app_id: &str) -> Result<Sensitive<String>> {
        let app_id = app_id.to_owned();
        self.blocking(move |i| {
            // The generation goes first: if the secret store then fails, the old secret still
            // works and the owner can simply rotate again; the other order could leave a new
            // secret in force that nobody was shown.
            let row = i.store.bump_app_generation(&app_id)?;
            let secret = Sensitive::new(URL_SAFE_NO_PAD.encode(token::random_bytes::<32>()));
            i.secrets.set(&i.app_secret_name(&row.id), &secret)?;
            i.hub.close(&Switch::App(row.id));
            Ok(secret)
        })
        .await
    }

    /// Revokes the app: token exchanges and every session, even unexpired, stop working now. The
    /// app stays listed as revoked; its secret is deleted.
    pub async fn revoke_widget_app(&self, app_id: &str) -> Result<WidgetAppInfo> {
        let app_id = app_id.to_owned();
        self.blocking(move |i| {
            let row = i.store.revoke_app(&app_id)?;
            i.hub.close(&Switch::App(row.id.clone()));
            if let Err(e) = i.secrets.delete(&i.app_secret_name(&row.id)) {
                tracing::warn!(app = %row.id, error = %e, "could not delete a revoked app's secret");
            }
            Ok(app_info(row))
        })
        .await
    }

    /// The snippet and the backend's token request for `app_id`, on this server's base URL.
    pub async fn widget_embed(&self, app_id: &str) -> Result<WidgetEmbed> {
        let app = self.widget_app(app_id).await?;
        let host = self.base_url();
        Ok(WidgetEmbed {
            snippet: format!(
                "<script>\n\
                 window.ChatlinkChat = {{\n\
                 \x20 host: '{host}',\n\
                 \x20 appId: '{}',\n\
                 \x20 fetchToken: async function () {{\n\
                 \x20   var res = await fetch('/api/your-token-endpoint', {{\n\
                 \x20     method: 'POST', headers: {{ 'Content-Type': 'application/json' }}, body: '{{}}'\n\
                 \x20   }});\n\
                 \x20   return (await res.json()).data.token;\n\
                 \x20 }}\n\
                 }};\n\
                 </script>\n\
                 <script src=\"{host}/widget/chat.js\" async></script>\n",
                app.id
            ),
            token_request: format!(
                "curl -X POST {host}/api/v1/auth/token \\\n\
                 \x20 -H 'Content-Type: application/json' \\\n\
                 \x20 -d '{{\"appId\": \"{}\", \"appSecret\": \"YOUR_APP_SECRET\", \"endUserId\": \"THE_SIGNED_IN_USER_ID\"}}'\n",
                app.id
            ),
        })
    }

    /// Replaces the app's allowed origins; an empty list allows any origin.
    pub async fn set_widget_app_origins(
        &self,
        app_id: &str,
        origins: Vec<String>,
    ) -> Result<WidgetAppInfo> {
        let origins = normalize_origins(&origins)?;
        let app_id = app_id.to_owned();
        self.blocking(move |i| Ok(app_info(i.store.set_app_origins(&app_id, &origins)?)))
            .await
    }

    /// The token exchange a customer's backend makes: appId + appSecret + endUserId → a JWT.
    pub async fn issue_widget_token(
        &self,
        req: TokenRequest,
        client: IpAddr,
    ) -> Result<IssuedToken> {
        check_end_user(&req.end_user_id)?;
        self.0.rates.check_token_client(client)?;
        self.0.rates.check_guessing(client)?;
        let app_id = req.app_id.clone();
        let issued = if looks_like_app_id(&req.app_id) {
            self.blocking(move |i| i.exchange(&req)).await
        } else {
            Err(Error::BadCredentials)
        };
        // Only a right secret spends the app's budget, so strangers who read the appId from a
        // page can never cause a 429 for the shop's backend (at another address); wrong ones
        // are counted per address, and an address past that budget waits whatever it sends.
        match issued {
            Err(Error::BadCredentials) => {
                self.0.rates.bad_secret(client)?;
                Err(Error::BadCredentials)
            }
            Ok(token) => {
                self.0.rates.check_token_app(&app_id)?;
                Ok(token)
            }
            Err(e) => Err(e),
        }
    }

    /// Checks a widget request's `Authorization: Bearer` JWT (and its `Origin` against the app's
    /// allowed origins) and returns the end user's session.
    pub async fn widget_session(
        &self,
        authorization: Option<&str>,
        origin: Option<&str>,
    ) -> Result<WidgetSession> {
        let jwt = authorization
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 4096)
            .ok_or(Error::InvalidSession)?
            .to_owned();
        let origin = origin.map(str::to_owned);
        self.blocking(move |i| i.session(&jwt, origin.as_deref()))
            .await
    }

    /// The end user's message: it continues their one conversation (or starts it).
    pub async fn widget_post(
        &self,
        session: &WidgetSession,
        msg: WidgetMessage,
        client: IpAddr,
    ) -> Result<Posted> {
        check_message(&msg.content, self.0.limits.message_chars)?;
        if msg
            .conversation_id
            .as_deref()
            .is_some_and(|id| !token::looks_like_id(id))
        {
            return Err(Error::NotFound {
                what: "conversation",
            });
        }
        let entry = session.entry.clone();
        self.start_turn(
            move |_| Ok(entry),
            msg.content,
            msg.conversation_id,
            client,
            msg.accept_language,
        )
        .await
    }

    /// A turn of the end user's conversation, like [`App::subscribe`] (`None` too when the
    /// client has it all); the stream also ends when the session's JWT expires (the widget
    /// resumes with a fresh one).
    pub async fn widget_subscribe(
        &self,
        session: &WidgetSession,
        turn_id: &str,
        last_event_id: Option<i64>,
    ) -> Result<Option<FrameStream>> {
        let entry = session.entry.clone();
        let Some(frames) = self
            .subscribe_turn(move |_| Ok(entry), turn_id, last_event_id)
            .await?
        else {
            return Ok(None);
        };
        let left = u64::try_from(session.expires_at * 1000 - now_ms()).unwrap_or(0);
        Ok(Some(Box::pin(frames.take_until(tokio::time::sleep(
            Duration::from_millis(left),
        )))))
    }

    /// The end user's conversation (any device: it is found by app and end user id).
    /// The end user's conversation feed (the owner's replies, replies started on another
    /// device), like [`App::subscribe_conversation`]; it ends with the session's JWT, and the
    /// widget resumes it with a fresh one. `not_found` before the end user's first message.
    pub async fn widget_subscribe_conversation(
        &self,
        session: &WidgetSession,
        last_event_id: Option<i64>,
    ) -> Result<FrameStream> {
        let entry = session.entry.clone();
        self.conversation_feed(
            move |i| {
                let user = entry.end_user.as_ref().ok_or(Error::InvalidSession)?;
                let conv = i
                    .store
                    .end_user_conversation(user)?
                    .ok_or(Error::NotFound {
                        what: "conversation",
                    })?;
                Ok((entry, conv))
            },
            last_event_id,
        )
        .await
    }

    pub async fn widget_history(&self, session: &WidgetSession) -> Result<WidgetHistory> {
        let entry = session.entry.clone();
        self.blocking(move |i| {
            let (folder, _, greeting) = i.persona(&entry.folder, &entry.jid)?;
            let user = entry.end_user.as_ref().ok_or(Error::InvalidSession)?;
            let history = match i.store.end_user_conversation(user)? {
                Some(conv) => Some(history_of(i, &conv)?),
                None => None,
            };
            Ok(WidgetHistory {
                name: folder.name,
                greeting,
                conversation_id: history.as_ref().map(|h| h.conversation_id.clone()),
                running_turn_id: history.as_ref().and_then(|h| h.running_turn_id.clone()),
                last_event_id: history.as_ref().map(|h| h.last_event_id),
                messages: history
                    .map(|h| h.messages.into_iter().map(Into::into).collect())
                    .unwrap_or_default(),
            })
        })
        .await
    }
}
