//! Owner calls on conversations: the inbox, a transcript, taking over and replying, handing back
//! and resolving, daily counts for the charts, exports, and retention.
//!
//! Taking over is a flag on the conversation, not a state: while it is set the agent produces
//! nothing (a visitor's message ends its turn as a handoff, waiting for the owner), and the
//! conversation stays `open` or `handoff` for the inbox's filters. Replying takes over. Handing
//! back clears the flag and reopens the conversation; resolving clears it and marks it resolved.
//! A visitor writing to a resolved conversation reopens it.

use serde::Serialize;

use super::{App, Inner};
use crate::error::{Error, Result};
use crate::hub::OwnerEvent;
use crate::jid::Jid;
use crate::model::{ConversationState, Message, Role, now_ms, rfc3339, words};
use crate::store::{ConversationRow, InboxQuery, InboxRow};
use crate::token;

/// Conversations an inbox page shows at most.
pub const MAX_INBOX_PAGE: usize = 500;
const PREVIEW_CHARS: usize = 140;
const DAY_MS: i64 = 86_400_000;
/// The retention setting's bounds, in days.
pub const RETENTION_DAYS: std::ops::RangeInclusive<u32> = 1..=3650;

/// The inbox's filters; `None` or empty shows everything.
#[derive(Debug, Clone, Default)]
pub struct InboxFilter {
    pub agent: Option<String>,
    pub jid: Option<String>,
    /// `open`, `handoff` or `resolved`, as the owner typed it.
    pub state: Option<String>,
    pub search: Option<String>,
    pub limit: Option<usize>,
    pub offset: usize,
}

words! {
    /// Where a conversation came in.
    pub enum Channel ("channel") {
        /// A chat link (the preview included).
        Link = "link",
        Widget = "widget",
        Hook = "hook",
    }
}

impl Channel {
    pub fn of(jid: &Jid) -> Channel {
        match jid {
            Jid::Web { .. } => Channel::Link,
            Jid::Widget { .. } => Channel::Widget,
            Jid::Hook { .. } => Channel::Hook,
        }
    }
}

/// One conversation as the inbox lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConversationSummary {
    pub id: String,
    pub agent: String,
    pub agent_name: String,
    pub jid: String,
    pub channel: Channel,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub link_id: Option<i64>,
    pub link_label: Option<String>,
    pub state: ConversationState,
    /// The owner answers; the agent stays quiet.
    pub taken_over: bool,
    /// The owner blocked it: its visitor's messages are refused.
    pub blocked: bool,
    pub created_at: String,
    pub updated_at: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub messages: i64,
    pub last_role: Option<Role>,
    /// The latest message, cut to 140 characters.
    pub last_message: Option<String>,
}

/// A conversation and every message in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConversationDetail {
    pub conversation: ConversationSummary,
    pub messages: Vec<TranscriptMessage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TranscriptMessage {
    pub id: String,
    pub role: Role,
    pub content: String,
    pub created_at: String,
}

/// One day of a chart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DayActivity {
    /// `YYYY-MM-DD` in the owner's time zone.
    pub date: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub conversations: i64,
    /// Messages visitors sent.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub messages: i64,
}

/// What to export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportScope {
    Conversation(String),
    /// Conversations with activity in `[from, to)`, ms since the epoch.
    Between {
        from: i64,
        to: i64,
    },
}

words! {
    pub enum ExportFormat ("export format") {
        Json = "json",
        Csv = "csv",
    }
}

impl ExportFormat {
    /// As the owner typed it or a file's extension says: any case.
    pub fn parse(s: &str) -> Result<ExportFormat> {
        s.to_ascii_lowercase().parse()
    }
}

fn preview(text: &str) -> String {
    let mut cut: String = text.chars().take(PREVIEW_CHARS).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
}

fn summary(row: InboxRow) -> ConversationSummary {
    let c = row.conversation;
    ConversationSummary {
        channel: Channel::of(&c.jid),
        id: c.id,
        agent: c.folder,
        agent_name: row.agent_name,
        jid: c.jid.to_string(),
        link_id: c.token_id,
        link_label: row.link_label,
        state: c.state,
        taken_over: c.taken_over_at.is_some(),
        blocked: c.blocked_at.is_some(),
        created_at: rfc3339(c.created_at),
        updated_at: rfc3339(c.updated_at),
        messages: row.messages,
        last_role: row.last_role,
        last_message: row.last_message.as_deref().map(preview),
    }
}

impl From<Message> for TranscriptMessage {
    fn from(m: Message) -> Self {
        TranscriptMessage {
            id: m.id,
            role: m.role,
            content: m.content,
            created_at: rfc3339(m.created_at),
        }
    }
}

fn check_id(id: &str) -> Result<()> {
    if token::looks_like_id(id) {
        Ok(())
    } else {
        Err(Error::NotFound {
            what: "conversation",
        })
    }
}

/// `YYYY-MM-DD` of a day index (whole days since 1970-01-01).
fn date_of(day: i64) -> String {
    rfc3339(day * DAY_MS).chars().take(10).collect()
}

impl Inner {
    fn summary_of(&self, id: &str) -> Result<ConversationSummary> {
        let rows = self.store.inbox(&InboxQuery {
            id: Some(id.to_owned()),
            limit: 1,
            ..InboxQuery::default()
        })?;
        rows.into_iter().next().map(summary).ok_or(Error::NotFound {
            what: "conversation",
        })
    }
}

impl App {
    /// Conversations from every channel, newest activity first.
    pub async fn inbox(&self, filter: InboxFilter) -> Result<Vec<ConversationSummary>> {
        let blank = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
        let state = blank(filter.state)
            .map(|s| s.trim().parse::<ConversationState>())
            .transpose()?;
        let query = InboxQuery {
            id: None,
            folder: blank(filter.agent),
            jid: blank(filter.jid),
            state,
            search: blank(filter.search),
            limit: filter.limit.unwrap_or(100).clamp(1, MAX_INBOX_PAGE),
            offset: filter.offset,
        };
        self.blocking(move |i| Ok(i.store.inbox(&query)?.into_iter().map(summary).collect()))
            .await
    }

    /// One conversation with its whole transcript.
    pub async fn conversation(&self, id: &str) -> Result<ConversationDetail> {
        check_id(id)?;
        let id = id.to_owned();
        self.blocking(move |i| {
            i.store.find_conversation(&id)?;
            Ok(ConversationDetail {
                conversation: i.summary_of(&id)?,
                messages: i
                    .store
                    .transcript(&id)?
                    .into_iter()
                    .map(Into::into)
                    .collect(),
            })
        })
        .await
    }

    async fn set_owner(
        &self,
        id: &str,
        owner: bool,
        state: Option<ConversationState>,
    ) -> Result<ConversationSummary> {
        check_id(id)?;
        let id = id.to_owned();
        let summary = self
            .blocking(move |i| {
                i.store.set_owner(&id, owner, state)?;
                i.summary_of(&id)
            })
            .await?;
        self.0.hub.owner_event(OwnerEvent::Updated {
            conversation_id: summary.id.clone(),
        });
        Ok(summary)
    }

    /// The owner answers from now on; the agent stays quiet in this conversation.
    pub async fn take_over(&self, id: &str) -> Result<ConversationSummary> {
        self.set_owner(id, true, None).await
    }

    /// The agent answers again; the conversation is open.
    pub async fn hand_back(&self, id: &str) -> Result<ConversationSummary> {
        self.set_owner(id, false, Some(ConversationState::Open))
            .await
    }

    /// Done: resolved, and the agent answers if the visitor writes again.
    pub async fn resolve(&self, id: &str) -> Result<ConversationSummary> {
        self.set_owner(id, false, Some(ConversationState::Resolved))
            .await
    }

    /// Blocks a conversation (its visitor's next messages are refused with 403 and write
    /// nothing) or unblocks it. For the abuse a rate limit cannot stop: one visitor, all day.
    pub async fn block_conversation(&self, id: &str, blocked: bool) -> Result<ConversationSummary> {
        check_id(id)?;
        let id = id.to_owned();
        let summary = self
            .blocking(move |i| {
                i.store.set_conversation_blocked(&id, blocked)?;
                i.summary_of(&id)
            })
            .await?;
        self.0.hub.owner_event(crate::hub::OwnerEvent::Updated {
            conversation_id: summary.id.clone(),
        });
        Ok(summary)
    }

    /// The owner's reply: stored, taken over, and sent at once to the visitor's open page or
    /// widget as a `message` frame with role `owner`.
    pub async fn owner_reply(&self, id: &str, content: &str) -> Result<TranscriptMessage> {
        check_id(id)?;
        super::chat::check_message(content, self.0.limits.message_chars)?;
        let (conversation_id, text) = (id.to_owned(), content.trim().to_owned());
        let written = self
            .blocking(move |i| i.store.owner_message(&conversation_id, &text))
            .await?;
        self.0.hub.conversation_changed(id);
        self.0.hub.owner_event(OwnerEvent::Updated {
            conversation_id: id.to_owned(),
        });
        Ok(written.into())
    }

    /// Conversations started and visitor messages per day for the last `days` days (today
    /// included), in the owner's time zone (`utc_offset_minutes`, east positive), of one link
    /// or of all. Every day is listed, quiet ones with zeros.
    pub async fn activity(
        &self,
        days: u32,
        utc_offset_minutes: i32,
        link: Option<i64>,
    ) -> Result<Vec<DayActivity>> {
        if !(1..=366).contains(&days) || !(-14 * 60..=14 * 60).contains(&utc_offset_minutes) {
            return Err(Error::invalid(
                "a chart covers 1 to 366 days, with a UTC offset within ±14 hours",
            ));
        }
        let offset = i64::from(utc_offset_minutes) * 60_000;
        let today = (now_ms() + offset).div_euclid(DAY_MS);
        let first = today - i64::from(days) + 1;
        let since = first * DAY_MS - offset;
        let rows = self
            .blocking(move |i| {
                if let Some(id) = link {
                    i.store.token(id)?;
                }
                i.store.daily_activity(since, offset, link)
            })
            .await?;
        Ok((first..=today)
            .map(|day| {
                let row = rows.iter().find(|r| r.day == day);
                DayActivity {
                    date: date_of(day),
                    conversations: row.map_or(0, |r| r.conversations),
                    messages: row.map_or(0, |r| r.messages),
                }
            })
            .collect())
    }

    /// The conversations in `scope` with every message, as JSON (an array of conversations with
    /// their messages) or CSV (one row per message).
    pub async fn export(&self, scope: ExportScope, format: ExportFormat) -> Result<String> {
        if let ExportScope::Conversation(id) = &scope {
            check_id(id)?;
        }
        if let ExportScope::Between { from, to } = scope
            && from >= to
        {
            return Err(Error::invalid("the export's start must be before its end"));
        }
        let details = self
            .blocking(move |i| {
                let rows: Vec<ConversationRow> = match &scope {
                    ExportScope::Conversation(id) => vec![i.store.find_conversation(id)?],
                    ExportScope::Between { from, to } => {
                        i.store.conversations_between(*from, *to)?
                    }
                };
                rows.into_iter()
                    .map(|c| {
                        Ok(ConversationDetail {
                            conversation: i.summary_of(&c.id)?,
                            messages: i
                                .store
                                .transcript(&c.id)?
                                .into_iter()
                                .map(Into::into)
                                .collect(),
                        })
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .await?;
        match format {
            ExportFormat::Json => serde_json::to_string_pretty(&details)
                .map_err(|e| Error::Internal(format!("cannot write JSON: {e}"))),
            ExportFormat::Csv => csv_of(&details),
        }
    }

    /// Writes an export to `path` atomically (never a half-written file), in the format its
    /// extension names (`.json` or `.csv`). Returns the path written.
    pub async fn export_to_file(
        &self,
        scope: ExportScope,
        path: &std::path::Path,
    ) -> Result<std::path::PathBuf> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let format = ExportFormat::parse(&ext)
            .map_err(|_| Error::invalid(format!("{} must end in .json or .csv", path.display())))?;
        let text = self.export(scope, format).await?;
        let path = path.to_owned();
        self.blocking(move |_| {
            // Visitors' words: the owner's account only.
            crate::files::write(&path, text.as_bytes(), crate::files::Access::Private)?;
            Ok(path)
        })
        .await
    }

    /// How many days conversations are kept; `None` (the default) keeps them forever.
    pub async fn retention_days(&self) -> Result<Option<u32>> {
        self.blocking(|i| {
            Ok(i.store
                .setting("retention_days")?
                .and_then(|d| d.parse().ok()))
        })
        .await
    }

    /// Sets how many days conversations are kept (`None`: forever) and applies it at once.
    /// Returns how many conversations that deleted.
    pub async fn set_retention_days(&self, days: Option<u32>) -> Result<usize> {
        if let Some(d) = days
            && !RETENTION_DAYS.contains(&d)
        {
            return Err(Error::invalid(format!(
                "keep conversations for {} to {} days, or forever",
                RETENTION_DAYS.start(),
                RETENTION_DAYS.end()
            )));
        }
        self.blocking(move |i| match days {
            Some(d) => i.store.set_setting("retention_days", &d.to_string()),
            None => i.store.delete_setting("retention_days"),
        })
        .await?;
        self.apply_retention().await
    }

    /// Deletes resolved conversations quiet for longer than the retention setting. Open ones,
    /// those waiting for the owner and those with a reply running are never touched.
    pub async fn apply_retention(&self) -> Result<usize> {
        let Some(days) = self.retention_days().await? else {
            return Ok(0);
        };
        let cutoff = now_ms() - i64::from(days) * DAY_MS;
        let deleted = self
            .blocking(move |i| i.store.delete_inactive_before(cutoff))
            .await?;
        if deleted > 0 {
            tracing::info!(deleted, days, "retention: deleted old conversations");
        }
        Ok(deleted)
    }

    /// New conversations, handoffs and activity, as they happen (the desktop's notifications and
    /// live inbox).
    pub fn owner_events(&self) -> tokio::sync::broadcast::Receiver<OwnerEvent> {
        self.0.hub.owner_events()
    }
}

/// A cell a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, or a tab or carriage return
/// first) gets a `'` in front, so a visitor's message can never run in the owner's spreadsheet.
fn cell(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}").into()
    } else {
        text.into()
    }
}

fn csv_of(details: &[ConversationDetail]) -> Result<String> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let failed = |e: csv::Error| Error::Internal(format!("cannot write CSV: {e}"));
    out.write_record([
        "conversation_id",
        "agent",
        "jid",
        "channel",
        "state",
        "message_id",
        "role",
        "created_at",
        "content",
    ])
    .map_err(failed)?;
    for d in details {
        let c = &d.conversation;
        for m in &d.messages {
            out.write_record([
                c.id.as_str(),
                &c.agent,
                &c.jid,
                c.channel.as_str(),
                c.state.as_str(),
                &m.id,
                m.role.as_str(),
                &m.created_at,
                &cell(&m.content),
            ])
            .map_err(failed)?;
        }
    }
    let bytes = out
        .into_inner()
        .map_err(|e| Error::Internal(format!("cannot write CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| Error::Internal(format!("CSV is not UTF-8: {e}")))
}
