//! Visitor calls: the chat page's data, posting a message, a turn's frames, history, hooks.
//!
//! A link is resolved on every request (one indexed lookup by hash), so a revocation or an
//! expiry takes effect on the very next request. Conversations belong to a JID (and, for the
//! widget, to one end user): a visitor of one link can never read or continue a conversation of
//! another. The widget's calls (in `widget`) share the turn machinery here through [`Entry`].

use std::net::IpAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{App, Inner};
use crate::agent::openai::{OpenAiAgent, OpenAiConfig};
use crate::agent::{Agent, AgentInput, BoxFuture, DeltaSink, Reply};
use crate::error::{Error, Result};
use crate::hub::{FrameStream, LiveTurn, OwnerEvent, Source, Switch, subscribe};
use crate::jid::Jid;
use crate::model::{EndUser, Message, Outcome, Role, TokenKind, now_ms, rfc3339};
use crate::store::{self, ConversationRow, EngineRow, NewTurn, TokenRow};
use crate::token;
use crate::turn::{self, TurnJob};

#[derive(Debug, Clone, Deserialize)]
pub struct PostMessage {
    pub content: String,
    #[serde(default)]
    pub conversation_id: Option<String>,
    /// The browser's `Accept-Language` (a header, not part of the body): the reply's language.
    #[serde(skip)]
    pub accept_language: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Posted {
    pub turn_id: String,
    pub conversation_id: String,
    pub message_id: String,
}

/// A message as a chat page's history shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryMessageView {
    pub id: String,
    pub turn_id: Option<String>,
    pub role: Role,
    pub content: String,
    pub created_at: String,
}

impl From<Message> for HistoryMessageView {
    fn from(m: Message) -> Self {
        HistoryMessageView {
            id: m.id,
            turn_id: m.turn_id,
            role: m.role,
            content: m.content,
            created_at: rfc3339(m.created_at),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct History {
    pub conversation_id: String,
    pub messages: Vec<HistoryMessageView>,
    pub running_turn_id: Option<String>,
    /// Where the conversation stream (`events`) picks up after these messages.
    pub last_event_id: i64,
}

/// Stands in for the agent while the owner has the conversation: it says nothing and ends the
/// turn as a handoff, so the visitor's message waits for the owner's reply.
struct OwnerAnswers;

impl Agent for OwnerAnswers {
    fn run<'a>(&'a self, _: AgentInput<'a>, _: &'a DeltaSink) -> BoxFuture<'a, Reply> {
        Box::pin(async { Reply::new(String::new(), Outcome::Handoff) })
    }
}

/// Where a message comes in: a chat link, a hook, or a widget end user.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub folder: String,
    pub jid: Jid,
    pub token_id: Option<i64>,
    pub end_user: Option<EndUser>,
    /// Rate limits and revocation apply per link or per widget app.
    pub switch: Switch,
    /// When the link expires or the widget session ends (ms); open streams end then.
    pub ends_at: Option<i64>,
}

impl Entry {
    fn of_link(row: &TokenRow) -> Entry {
        Entry {
            folder: row.folder.clone(),
            jid: row.jid.clone(),
            token_id: Some(row.id),
            end_user: None,
            switch: Switch::Link(row.id),
            ends_at: row.expires_at,
        }
    }

    /// What the per-conversation rate counts: the widget end user (one conversation each), or
    /// the conversation the visitor continues (a new one has no history to flood yet).
    fn rate_key(&self, conversation_id: Option<&str>) -> Option<String> {
        match &self.end_user {
            Some(u) => Some(format!("{}/{}", u.app_id, u.id)),
            None => conversation_id.map(str::to_owned),
        }
    }

    /// Whether `conv` is this entry's to read and continue.
    fn owns(&self, conv: &ConversationRow) -> bool {
        conv.jid == self.jid && conv.end_user == self.end_user
    }
}

/// The latest messages of a conversation, for any front end.
pub(super) fn history_of(i: &Inner, conv: &ConversationRow) -> Result<History> {
    let (messages, running_turn_id) = i.store.history(&conv.id, i.limits.history_messages)?;
    Ok(History {
        conversation_id: conv.id.clone(),
        messages: messages.into_iter().map(Into::into).collect(),
        running_turn_id,
        last_event_id: conv.last_seq,
    })
}

/// Questions offered under the greeting at most.
pub const MAX_SUGGESTIONS: usize = 3;

impl Inner {
    /// A few of the agent's questions for a visitor to tap under the greeting: the first the
    /// owner wrote in the visitor's language, else in the agent's.
    pub(super) fn suggestions(
        &self,
        folder: &crate::store::FolderRow,
        lang: crate::i18n::Lang,
    ) -> Result<Vec<String>> {
        let base = self.knowledge_base(folder)?;
        let index = base.index();
        let questions = |want: crate::i18n::Lang| -> Vec<String> {
            base.entries()
                .iter()
                .enumerate()
                .filter(|(at, _)| index.language_of(*at) == Some(want))
                .filter_map(|(_, e)| e.question.clone())
                .take(MAX_SUGGESTIONS)
                .collect()
        };
        let mine = questions(lang);
        Ok(if mine.is_empty() {
            questions(folder.language.unwrap_or_default())
        } else {
            mine
        })
    }

    /// The agent's knowledge with its index, built once per knowledge revision and language
    /// and shared by every turn: a message never rebuilds it, nor reads the entries again.
    pub(super) fn knowledge_base(
        &self,
        folder: &crate::store::FolderRow,
    ) -> Result<Arc<crate::agent::KnowledgeBase>> {
        let lang = folder.language.unwrap_or_default();
        let fresh = |c: &super::CachedKnowledge| {
            c.rev == folder.knowledge_rev && c.lang == lang && !self.wants_vectors(folder, &c.base)
        };
        if let Ok(cache) = self.knowledge.lock()
            && let Some(cached) = cache.get(&folder.slug).filter(|c| fresh(c))
        {
            return Ok(Arc::clone(&cached.base));
        }
        let entries = self.store.knowledge(&folder.slug)?;
        let base =
            Arc::new(self.with_vectors(folder, crate::agent::KnowledgeBase::new(entries, lang)));
        if let Ok(mut cache) = self.knowledge.lock() {
            // Two builds may race; the one of an older revision, or one without the vectors
            // another build of the same revision has, must not replace it.
            let better = cache.get(&folder.slug).is_some_and(|c| {
                c.rev > folder.knowledge_rev
                    || (c.rev == folder.knowledge_rev
                        && c.base.semantic().is_some()
                        && base.semantic().is_none())
            });
            if !better {
                cache.insert(
                    folder.slug.clone(),
                    super::CachedKnowledge {
                        rev: folder.knowledge_rev,
                        lang,
                        base: Arc::clone(&base),
                    },
                );
            }
        }
        Ok(base)
    }

    /// The live token of `kind` behind `raw`: unknown (or of the other kind) is not found,
    /// revoked or expired is refused.
    pub(super) fn resolve(&self, raw: &str, kind: TokenKind) -> Result<TokenRow> {
        if !token::looks_like_token(raw) {
            return Err(Error::NotFound { what: "link" });
        }
        let row = self
            .store
            .token_by_hash(&token::hash(raw))?
            .filter(|r| r.kind == kind)
            .ok_or(Error::NotFound { what: "link" })?;
        if row.revoked_at.is_some() {
            return Err(Error::LinkRevoked);
        }
        if row.expires_at.is_some_and(|e| e <= now_ms()) {
            return Err(Error::LinkExpired);
        }
        if row.paused_at.is_some() {
            return Err(Error::LinkPaused);
        }
        Ok(row)
    }

    /// The agent's persona and greeting for this JID, after its route rule.
    pub(super) fn persona(
        &self,
        folder: &str,
        jid: &Jid,
    ) -> Result<(store::FolderRow, String, String)> {
        let folder = self.store.folder(folder)?;
        let rule = self.store.route_rule(jid)?;
        let persona = rule
            .as_ref()
            .and_then(|r| r.persona.clone())
            .unwrap_or_else(|| folder.instructions.clone());
        let greeting = rule
            .and_then(|r| r.greeting)
            .unwrap_or_else(|| folder.greeting.clone());
        Ok((folder, persona, greeting))
    }

    pub(super) fn agent_for(&self, folder: &store::FolderRow) -> Result<Arc<dyn Agent>> {
        #[cfg(feature = "bench")]
        if folder.slug == crate::agent::wait::FOLDER {
            return Ok(Arc::new(crate::agent::wait::WaitAgent));
        }
        Ok(match &folder.engine {
            EngineRow::Answers => self.answers.clone(),
            EngineRow::OpenAi { base_url, model } => Arc::new(
                OpenAiAgent::new(
                    OpenAiConfig {
                        base_url: base_url.clone(),
                        model: model.clone(),
                        api_key: self.secrets.get(&self.api_key_name(&folder.slug))?,
                        max_tokens: folder
                            .ceilings
                            .max_tokens
                            .unwrap_or(self.limits.default_max_tokens),
                    },
                    self.http.clone(),
                )
                .with_idle_timeout(self.limits.provider_idle_timeout),
            ),
        })
    }

    /// Counts one provider request against the agent's daily budget; `false` once it is spent
    /// (the owner hears of it once a day, in the log and the window). Built-in answers cost
    /// nothing and are always within it.
    fn within_budget(&self, folder: &store::FolderRow, conversation_id: &str) -> Result<bool> {
        if !matches!(folder.engine, EngineRow::OpenAi { .. }) {
            return Ok(true);
        }
        let budget = super::agents::AgentBudget::of(&folder.ceilings, &self.limits, (0, 0));
        let day = super::agents::usage_day(now_ms());
        let within = self.store.spend_request(
            &folder.slug,
            &day,
            i64::from(budget.daily_requests),
            i64::try_from(budget.daily_tokens).unwrap_or(i64::MAX),
        )?;
        if !within {
            let first = self
                .budget_told
                .lock()
                .map(|mut told| told.insert(format!("{}/{day}", folder.slug)))
                .unwrap_or(false);
            if first {
                tracing::warn!(
                    agent = folder.slug,
                    day,
                    "the agent's daily provider budget is spent; built-in answers reply until tomorrow (UTC)"
                );
                self.hub.owner_event(OwnerEvent::BudgetSpent {
                    conversation_id: conversation_id.to_owned(),
                });
            }
        }
        Ok(within)
    }

    /// Who answers the turn `start` began: nobody (the owner has the conversation), the
    /// agent's engine, or its built-in answers once its daily budget is spent; and whose budget
    /// the turn's tokens are counted against.
    fn choose_agent(
        &self,
        folder: &store::FolderRow,
        start: &store::TurnStart,
    ) -> Result<(Arc<dyn Agent>, bool, Option<String>)> {
        let owner_answers = start.taken_over;
        let mut charge = None;
        let agent: Arc<dyn Agent> = if owner_answers {
            Arc::new(OwnerAnswers)
        } else {
            // The engine first: a request is counted only once it can be made.
            let engine = self.agent_for(folder)?;
            if !self.within_budget(folder, &start.conversation_id)? {
                self.answers.clone()
            } else {
                if matches!(folder.engine, EngineRow::OpenAi { .. }) {
                    charge = Some(folder.slug.clone());
                }
                engine
            }
        };
        Ok((agent, owner_answers, charge))
    }

    /// Writes the visitor's message and a running turn, and prepares the turn's job.
    fn begin(
        &self,
        entry: Entry,
        content: &str,
        conversation_id: Option<&str>,
        accept_language: Option<&str>,
    ) -> Result<(Posted, TurnJob)> {
        let (folder, persona, greeting) = self.persona(&entry.folder, &entry.jid)?;
        let lang = crate::i18n::negotiate(accept_language, folder.language.unwrap_or_default());
        let knowledge = self.knowledge_base(&folder)?;
        let start = self.store.begin_turn(NewTurn {
            conversation_id: conversation_id.map(str::to_owned),
            folder: entry.folder,
            jid: entry.jid,
            token_id: entry.token_id,
            end_user: entry.end_user,
            content: content.to_owned(),
            history: self.limits.context_messages,
        })?;
        // The message and a running turn are on disk now: anything failing before the turn's
        // task runs must end that turn, or the conversation would wait for the sweep.
        let (agent, owner_answers, charge) = match self.choose_agent(&folder, &start) {
            Ok(chosen) => chosen,
            Err(e) => {
                if let Err(fail) = self
                    .store
                    .fail_turn(&start.turn_id, crate::model::TurnError::Unavailable)
                {
                    tracing::error!(error = %fail, "could not end a turn that did not start");
                }
                return Err(e);
            }
        };
        let live = Arc::new(LiveTurn::new(
            start.turn_id.clone(),
            start.conversation_id.clone(),
            entry.token_id,
            start.first_seq,
        ));
        let conversation_id = start.conversation_id.clone();
        self.hub.owner_event(if start.new_conversation {
            OwnerEvent::Started { conversation_id }
        } else {
            OwnerEvent::Updated { conversation_id }
        });
        let posted = Posted {
            turn_id: start.turn_id,
            conversation_id: start.conversation_id,
            message_id: start.message_id,
        };
        // A hook's body may be far longer than a chat message; the agent reads as much as one.
        let bound =
            |text: &str| -> String { text.chars().take(self.limits.message_chars).collect() };
        let history = start
            .history
            .into_iter()
            .map(|mut h| {
                if h.content.len() > self.limits.message_chars {
                    h.content = bound(&h.content);
                }
                h
            })
            .collect();
        let job = TurnJob {
            live,
            agent,
            folder: folder.slug,
            name: folder.name,
            persona,
            greeting,
            knowledge,
            history,
            message: bound(content),
            lang,
            owner_answers,
            charge,
            bounds: turn::TurnBounds {
                deadline: self.limits.turn_deadline,
                reply_chars: self.limits.reply_chars,
            },
        };
        Ok((posted, job))
    }
}

pub(super) fn check_message(content: &str, max: usize) -> Result<()> {
    let n = content.chars().count();
    if content.trim().is_empty() {
        return Err(Error::invalid("the message is empty"));
    }
    if n > max {
        return Err(Error::invalid(format!(
            "the message is {n} characters long; the limit is {max}"
        )));
    }
    Ok(())
}

impl App {
    /// A visitor's message on a chat link: stored before this returns, answered in the background.
    pub async fn post_message(
        &self,
        token: &str,
        msg: PostMessage,
        client: IpAddr,
    ) -> Result<Posted> {
        check_message(&msg.content, self.0.limits.message_chars)?;
        if let Some(id) = &msg.conversation_id
            && !token::looks_like_id(id)
        {
            return Err(Error::NotFound {
                what: "conversation",
            });
        }
        let token = token.to_owned();
        self.start_turn(
            move |i| Ok(Entry::of_link(&i.resolve(&token, TokenKind::Web)?)),
            msg.content,
            msg.conversation_id,
            client,
            msg.accept_language,
        )
        .await
    }

    /// A hook's body becomes a message to the agent in a new conversation.
    pub async fn post_hook(&self, token: &str, body: String, client: IpAddr) -> Result<Posted> {
        if body.trim().is_empty() {
            return Err(Error::invalid("the body is empty"));
        }
        if body.len() > self.0.limits.hook_body {
            return Err(Error::PayloadTooLarge {
                limit: self.0.limits.hook_body,
            });
        }
        let token = token.to_owned();
        self.start_turn(
            move |i| Ok(Entry::of_link(&i.resolve(&token, TokenKind::Hook)?)),
            body,
            None,
            client,
            None,
        )
        .await
    }

    /// Resolves where the message comes in (on the blocking pool), counts it against the rate
    /// limits, writes it and starts the agent.
    pub(super) async fn start_turn(
        &self,
        entry: impl FnOnce(&Inner) -> Result<Entry> + Send + 'static,
        content: String,
        conversation_id: Option<String>,
        client: IpAddr,
        accept_language: Option<String>,
    ) -> Result<Posted> {
        if self.0.shutdown.is_cancelled() {
            return Err(Error::ShuttingDown);
        }
        #[cfg(feature = "bench")]
        crate::slowdown::pause().await;
        let app = self.clone();
        let (posted, job) = self
            .blocking(move |i| {
                let entry = entry(i)?;
                let key = entry.rate_key(conversation_id.as_deref());
                i.rates.check(&entry.switch, key.as_deref(), client)?;
                i.begin(
                    entry,
                    &content,
                    conversation_id.as_deref(),
                    accept_language.as_deref(),
                )
            })
            .await?;
        self.0.hub.insert_turn(job.live.clone());
        let inner = &app.0;
        inner.tasks.spawn(turn::run(
            inner.store.clone(),
            inner.hub.clone(),
            job,
            inner.shutdown.clone(),
        ));
        Ok(posted)
    }

    /// A turn's frames after `last_event_id` (all of them when `None`), then live ones until
    /// `done`. The stream ends early when the link is revoked or the server shuts down. `None`
    /// when the turn is over and `last_event_id` is at or past its end: the client has every
    /// frame (the HTTP answer is 204, which tells a standard SSE client to stop reconnecting).
    pub async fn subscribe(
        &self,
        token: &str,
        turn_id: &str,
        last_event_id: Option<i64>,
    ) -> Result<Option<FrameStream>> {
        let token = token.to_owned();
        self.subscribe_turn(
            move |i| Ok(Entry::of_link(&i.resolve(&token, TokenKind::Web)?)),
            turn_id,
            last_event_id,
        )
        .await
    }

    /// A turn's frames for whoever `entry` resolves to; a turn of another conversation is not
    /// found. The stream ends when the entry's switch (link or app) is revoked.
    pub(super) async fn subscribe_turn(
        &self,
        entry: impl FnOnce(&Inner) -> Result<Entry> + Send + 'static,
        turn_id: &str,
        last_event_id: Option<i64>,
    ) -> Result<Option<FrameStream>> {
        let turn_id = turn_id.to_owned();
        let hub = self.0.hub.clone();
        let (entry, source, cursor) = self
            .blocking(move |i| {
                let entry = entry(i)?;
                if !token::looks_like_id(&turn_id) {
                    return Err(Error::NotFound { what: "turn" });
                }
                let turn = i
                    .store
                    .turn(&turn_id)?
                    .ok_or(Error::NotFound { what: "turn" })?;
                let conv = i.store.conversation(&turn.conversation_id)?;
                if conv.is_none_or(|c| !entry.owns(&c)) {
                    return Err(Error::NotFound { what: "turn" });
                }
                let cursor = last_event_id.unwrap_or(turn.first_seq - 1);
                let source = match hub.turn(&turn_id) {
                    Some(live) => Some(Source::Live(live)),
                    // Over, and the client already has its last frame: nothing will ever come.
                    None if last_event_id.is_some()
                        && i.store
                            .turn_frames_page(&turn.conversation_id, &turn_id, cursor, 1)?
                            .is_empty() =>
                    {
                        None
                    }
                    None => Some(Source::Stored {
                        store: i.store.clone(),
                        conversation_id: turn.conversation_id,
                        turn_id,
                    }),
                };
                Ok((entry, source, cursor))
            })
            .await?;
        let Some(source) = source else {
            return Ok(None);
        };
        // Slots are taken only once the link or session is known good: strangers with a bad
        // token cannot fill them.
        let slot = self.0.hub.acquire_stream()?;
        let per_source = self
            .0
            .hub
            .acquire_turn_stream(&entry.switch, self.0.limits.turn_streams_per_source)?;
        Ok(Some(subscribe(
            source,
            cursor,
            self.0.hub.switch(entry.switch),
            (slot, per_source),
        )))
    }

    /// The conversation's stored frames after `last_event_id`, then new ones as they are stored
    /// (the owner's messages, turns started elsewhere), until the link is revoked or the server
    /// shuts down.
    pub async fn subscribe_conversation(
        &self,
        token: &str,
        conversation_id: &str,
        last_event_id: Option<i64>,
    ) -> Result<FrameStream> {
        let token = token.to_owned();
        let conversation_id = conversation_id.to_owned();
        self.conversation_feed(
            move |i| {
                let entry = Entry::of_link(&i.resolve(&token, TokenKind::Web)?);
                let conv = token::looks_like_id(&conversation_id)
                    .then(|| i.store.conversation(&conversation_id))
                    .transpose()?
                    .flatten()
                    .filter(|c| entry.owns(c))
                    .ok_or(Error::NotFound {
                        what: "conversation",
                    })?;
                Ok((entry, conv))
            },
            last_event_id,
        )
        .await
    }

    /// The conversation feed for whoever `find` resolves to (a link or a widget end user).
    pub(super) async fn conversation_feed(
        &self,
        find: impl FnOnce(&Inner) -> Result<(Entry, ConversationRow)> + Send + 'static,
        last_event_id: Option<i64>,
    ) -> Result<FrameStream> {
        let (entry, conv) = self.blocking(find).await?;
        let slot = self.0.hub.acquire_stream()?;
        let feed = self
            .0
            .hub
            .acquire_feed(&entry.switch, self.0.limits.feeds_per_source)?;
        let frames = crate::feed::subscribe(
            self.0.store.clone(),
            self.0.hub.clone(),
            conv.id,
            last_event_id.unwrap_or(0),
            self.0.hub.switch(entry.switch),
            (slot, feed),
        );
        // It never ends on its own: it ends when what opened it (an expiring link, a session
        // token) runs out, as a revocation ends it at once.
        Ok(match entry.ends_at {
            Some(at) => {
                let left = u64::try_from(at - now_ms()).unwrap_or(0);
                Box::pin(futures_util::StreamExt::take_until(
                    frames,
                    tokio::time::sleep(std::time::Duration::from_millis(left)),
                ))
            }
            None => frames,
        })
    }

    /// The conversation's latest messages, oldest first, and its running turn.
    pub async fn history(&self, token: &str, conversation_id: &str) -> Result<History> {
        let (token, conversation_id) = (token.to_owned(), conversation_id.to_owned());
        self.blocking(move |i| {
            let row = i.resolve(&token, TokenKind::Web)?;
            if !token::looks_like_id(&conversation_id) {
                return Err(Error::NotFound {
                    what: "conversation",
                });
            }
            let entry = Entry::of_link(&row);
            let conv = i
                .store
                .conversation(&conversation_id)?
                .filter(|c| entry.owns(c));
            let conv = conv.ok_or(Error::NotFound {
                what: "conversation",
            })?;
            history_of(i, &conv)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures_util::StreamExt;

    use super::super::test_util::test_app;
    use super::super::{IssueLink, LinkKind};
    use super::*;
    use crate::model::FrameEvent;

    const CLIENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn token_of(url: &str) -> String {
        url.trim_end_matches('/')
            .rsplit('/')
            .next()
            .expect("token")
            .to_owned()
    }

    async fn demo_token(app: &App) -> String {
        let link = app
            .issue_link(IssueLink::chat("demo"))
            .await
            .expect("issue");
        token_of(&link.url.expect("url"))
    }

    #[tokio::test]
    async fn post_stream_and_history() {
        let (_d, app) = test_app();
        let t = demo_token(&app).await;
        assert_eq!(
            app.chat_page(&t, None).await.expect("page").name,
            "Rosie's Bakery"
        );
        let msg = PostMessage {
            content: "When are you open on Sunday?".into(),
            conversation_id: None,
            accept_language: None,
        };
        let posted = app.post_message(&t, msg, CLIENT).await.expect("post");
        let frames: Vec<_> = app
            .subscribe(&t, &posted.turn_id, None)
            .await
            .expect("sse")
            .expect("a stream")
            .collect()
            .await;
        let last = frames.last().expect("frames");
        assert_eq!(last.event, FrameEvent::Done);
        assert!(last.data.contains("\"ok\""), "{}", last.data);
        assert!(
            frames
                .iter()
                .any(|f| f.event == FrameEvent::Message && f.data.contains("8am to 2pm"))
        );
        // Replay after the second frame gives exactly the rest, from the store.
        let rest: Vec<_> = app
            .subscribe(&t, &posted.turn_id, Some(frames[1].seq))
            .await
            .expect("replay")
            .expect("frames left")
            .collect()
            .await;
        assert_eq!(rest, frames[2..].to_vec());
        // Past the last frame of a finished turn nothing will come: no stream (HTTP 204), so a
        // standard SSE client stops reconnecting.
        let done_seq = frames.last().expect("done").seq;
        assert!(
            app.subscribe(&t, &posted.turn_id, Some(done_seq))
                .await
                .expect("over")
                .is_none()
        );
        let last: Vec<_> = app
            .subscribe(&t, &posted.turn_id, Some(done_seq - 1))
            .await
            .expect("one left")
            .expect("a stream")
            .collect()
            .await;
        assert_eq!(last, frames[frames.len() - 1..].to_vec());

        let h = app
            .history(&t, &posted.conversation_id)
            .await
            .expect("history");
        assert_eq!(
            h.messages.iter().map(|m| m.role).collect::<Vec<_>>(),
            [Role::User, Role::Assistant]
        );
        assert_eq!(h.running_turn_id, None);

        // Another link of the same agent sees neither the conversation nor the turn.
        let other = demo_token(&app).await;
        let other_link = app
            .issue_link(IssueLink {
                suffix: Some("x".into()),
                ..IssueLink::chat("demo")
            })
            .await
            .expect("x");
        let other_jid = token_of(&other_link.url.expect("url"));
        assert_eq!(
            app.history(&other_jid, &posted.conversation_id)
                .await
                .expect_err("jid")
                .code(),
            "not_found"
        );
        assert!(
            app.subscribe(&other_jid, &posted.turn_id, None)
                .await
                .is_err()
        );
        // Same JID, other token: the same place, so the conversation is visible.
        assert!(app.history(&other, &posted.conversation_id).await.is_ok());
    }

    #[tokio::test]
    async fn bad_messages_and_links_are_refused_without_writing() {
        let (_d, app) = test_app();
        let t = demo_token(&app).await;
        for content in ["", "   ", &"x".repeat(4001)] {
            let err = app
                .post_message(
                    &t,
                    PostMessage {
                        content: content.into(),
                        conversation_id: None,
                        accept_language: None,
                    },
                    CLIENT,
                )
                .await;
            assert_eq!(err.expect_err("bad").code(), "invalid_input");
        }
        let ok = PostMessage {
            content: "hi".into(),
            conversation_id: Some("nope".into()),
            accept_language: None,
        };
        assert_eq!(
            app.post_message(&t, ok, CLIENT)
                .await
                .expect_err("conv")
                .code(),
            "not_found"
        );
        let unknown = "A".repeat(43);
        assert_eq!(
            app.chat_page(&unknown, None)
                .await
                .expect_err("unknown")
                .error
                .code(),
            "not_found"
        );
        assert_eq!(
            app.chat_page("short", None)
                .await
                .expect_err("garbage")
                .error
                .code(),
            "not_found"
        );

        let hook = app
            .issue_link(IssueLink {
                kind: LinkKind::Hook {
                    source: "form".into(),
                },
                ..IssueLink::chat("demo")
            })
            .await
            .expect("hook");
        let hook_token = token_of(&hook.url.expect("url"));
        assert_eq!(
            app.chat_page(&hook_token, None)
                .await
                .expect_err("hook at chat")
                .error
                .code(),
            "not_found"
        );
        assert_eq!(
            app.post_hook(&t, "hi".into(), CLIENT)
                .await
                .expect_err("web at hook")
                .code(),
            "not_found"
        );
        let posted = app
            .post_hook(&hook_token, "Order #12 paid".into(), CLIENT)
            .await
            .expect("hook post");
        assert!(!posted.conversation_id.is_empty());
    }

    #[tokio::test]
    async fn revoked_and_expired_links_are_refused_and_streams_close() {
        let (_d, app) = test_app();
        let link = app
            .issue_link(IssueLink::chat("demo"))
            .await
            .expect("issue");
        let t = token_of(link.url.as_deref().expect("url"));
        let expiring = app
            .issue_link(IssueLink {
                expires_at: Some(now_ms() + 200),
                ..IssueLink::chat("demo")
            })
            .await
            .expect("expiring");
        let posted = app
            .post_message(
                &t,
                PostMessage {
                    content: "hello".into(),
                    conversation_id: None,
                    accept_language: None,
                },
                CLIENT,
            )
            .await
            .expect("post");
        // Hold the conversation's stream, which only a revocation (or shutdown) ends.
        let mut stream = app
            .subscribe_conversation(&t, &posted.conversation_id, Some(i64::MAX - 1))
            .await
            .expect("conversation stream");
        app.revoke_link(link.id).await.expect("revoke");
        let ended = tokio::time::timeout(Duration::from_secs(1), stream.next())
            .await
            .expect("closed within 1 s");
        assert!(ended.is_none());
        assert_eq!(
            app.chat_page(&t, None)
                .await
                .expect_err("revoked")
                .error
                .code(),
            "link_revoked"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
        let e = token_of(expiring.url.as_deref().expect("url"));
        assert_eq!(
            app.chat_page(&e, None)
                .await
                .expect_err("expired")
                .error
                .code(),
            "link_expired"
        );
    }
}
