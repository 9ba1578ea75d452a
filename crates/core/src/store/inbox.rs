//! The owner's side of conversations: the inbox list and search, transcripts, taking over and
//! replying, the conversation-level frame feed, daily counts, exports and retention.

use rusqlite::params;

use super::chat::{
    CONVERSATION_COLUMNS, MESSAGE_COLUMNS, conversation, conversation_row, frame_row, insert_frame,
    insert_message, message_row, running_turn,
};
use super::{ConversationRow, Store};
use crate::error::{Error, Result};
use crate::model::{ConversationState, EncodedFrame, Frame, Message, Role, TurnStatus, now_ms};
use crate::token::random_id;

/// What the inbox lists; every field narrows, `None` does not.
#[derive(Debug, Clone, Default)]
pub struct InboxQuery {
    /// One conversation (its inbox line).
    pub id: Option<String>,
    pub folder: Option<String>,
    pub jid: Option<String>,
    pub state: Option<ConversationState>,
    /// Words that must appear in one of the conversation's messages (case-insensitive).
    pub search: Option<String>,
    pub limit: usize,
    pub offset: usize,
}

/// One inbox line: the conversation and its latest message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxRow {
    pub conversation: ConversationRow,
    pub agent_name: String,
    pub link_label: Option<String>,
    pub messages: i64,
    pub last_role: Option<Role>,
    pub last_message: Option<String>,
}

/// Conversations started and visitor messages sent on one day (days counted in the owner's time
/// zone: `day` is whole days since 1970-01-01 local).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRow {
    pub day: i64,
    pub conversations: i64,
    pub messages: i64,
}

const DAY_MS: i64 = 86_400_000;

/// `%`, `_` and `\` match themselves in a LIKE pattern.
fn like_pattern(words: &str) -> String {
    let mut out = String::with_capacity(words.len() + 2);
    out.push('%');
    for c in words.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

impl Store {
    /// Conversations, newest activity first.
    pub fn inbox(&self, q: &InboxQuery) -> Result<Vec<InboxRow>> {
        // The inbox's own columns follow the conversation's.
        let n = CONVERSATION_COLUMNS.split(", ").count();
        let columns = CONVERSATION_COLUMNS
            .split(", ")
            .map(|c| format!("c.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let search = q
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(like_pattern);
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {columns}, f.name, t.label,
                        (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id),
                        (SELECT role FROM messages m WHERE m.conversation_id = c.id ORDER BY seq DESC LIMIT 1),
                        (SELECT content FROM messages m WHERE m.conversation_id = c.id ORDER BY seq DESC LIMIT 1)
                   FROM conversations c
                   JOIN folders f ON f.slug = c.folder
                   LEFT JOIN tokens t ON t.id = c.token_id
                  WHERE (?1 IS NULL OR c.folder = ?1)
                    AND (?2 IS NULL OR c.jid = ?2)
                    AND (?3 IS NULL OR c.state = ?3)
                    AND (?4 IS NULL OR EXISTS (SELECT 1 FROM messages m
                          WHERE m.conversation_id = c.id AND m.content LIKE ?4 ESCAPE '\\'))
                    AND (?7 IS NULL OR c.id = ?7)
                  ORDER BY c.updated_at DESC, c.id
                  LIMIT ?5 OFFSET ?6"
            ))?;
            let rows = stmt.query_map(
                params![
                    q.folder,
                    q.jid,
                    q.state,
                    search,
                    q.limit as i64,
                    q.offset as i64,
                    q.id
                ],
                |r| {
                    Ok(InboxRow {
                        conversation: conversation_row(r)?,
                        agent_name: r.get(n)?,
                        link_label: r.get(n + 1)?,
                        messages: r.get(n + 2)?,
                        last_role: r.get(n + 3)?,
                        last_message: r.get(n + 4)?,
                    })
                },
            )?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Every message of a conversation, oldest first.
    pub fn transcript(&self, conversation_id: &str) -> Result<Vec<Message>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?1 ORDER BY seq"
            ))?;
            let rows = stmt.query_map([conversation_id], message_row)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// The stored `message` and `done` frames of a conversation with seq > `after`, in order, at
    /// most `limit`. Deltas stay on the per-turn stream: by the time a turn is stored its whole
    /// message is.
    pub fn conversation_frames_after(
        &self,
        conversation_id: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<EncodedFrame>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, event, data FROM frames
                  WHERE conversation_id = ?1 AND seq > ?2 AND event != 'delta'
                  ORDER BY seq LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![conversation_id, after, limit as i64], frame_row)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Sets who answers: the owner (`true`; the agent stays quiet) or the agent again, and
    /// optionally the state. Returns the conversation as it is now.
    pub fn set_owner(
        &self,
        conversation_id: &str,
        owner: bool,
        state: Option<ConversationState>,
    ) -> Result<ConversationRow> {
        let id = conversation_id.to_owned();
        self.write(move |tx| {
            conversation(tx, &id)?.ok_or(Error::NotFound {
                what: "conversation",
            })?;
            tx.execute(
                "UPDATE conversations
                    SET taken_over_at = CASE WHEN ?2 THEN coalesce(taken_over_at, ?4) END,
                        state = coalesce(?3, state),
                        updated_at = ?4
                  WHERE id = ?1",
                params![id, owner, state, now_ms()],
            )?;
            conversation(tx, &id)?.ok_or(Error::NotFound {
                what: "conversation",
            })
        })
    }

    /// Writes the owner's message as a one-frame turn (so it has a seq in the conversation's
    /// stream, like every reply) and takes the conversation over. Refused with
    /// `turn_in_progress` while the agent is still answering: frames are numbered in order.
    pub fn owner_message(&self, conversation_id: &str, content: &str) -> Result<Message> {
        let id = conversation_id.to_owned();
        let content = content.to_owned();
        self.write(move |tx| {
            let conv = conversation(tx, &id)?.ok_or(Error::NotFound {
                what: "conversation",
            })?;
            if running_turn(tx, &id)?.is_some() {
                return Err(Error::TurnInProgress);
            }
            let now = now_ms();
            let turn_id = random_id();
            let message = Message {
                id: random_id(),
                turn_id: Some(turn_id.clone()),
                role: Role::Owner,
                content,
                created_at: now,
            };
            let frame = Frame::message(&turn_id, &message).encode(conv.last_seq + 1);
            tx.execute(
                "INSERT INTO turns(id, conversation_id, status, first_seq, created_at, ended_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![turn_id, id, TurnStatus::Ok, frame.seq, now],
            )?;
            insert_message(tx, &id, &message)?;
            insert_frame(tx, &id, &turn_id, &frame)?;
            tx.execute(
                "UPDATE conversations
                    SET last_seq = ?2, updated_at = ?3, taken_over_at = coalesce(taken_over_at, ?3),
                        state = CASE state WHEN ?4 THEN ?5 ELSE state END
                  WHERE id = ?1",
                params![
                    id,
                    frame.seq,
                    now,
                    ConversationState::Resolved,
                    ConversationState::Open
                ],
            )?;
            Ok(message)
        })
    }

    /// Conversations started and visitor messages per local day from `since` (ms); `offset` is
    /// the owner's UTC offset in ms. Only days with activity are returned.
    pub fn daily_activity(
        &self,
        since: i64,
        offset: i64,
        token_id: Option<i64>,
    ) -> Result<Vec<DayRow>> {
        // Both counts group by local day: (created_at + offset) / DAY_MS.
        const CONVERSATIONS: &str = "SELECT (created_at + ?2) / ?4, COUNT(*) FROM conversations
              WHERE created_at >= ?1 AND (?3 IS NULL OR token_id = ?3) GROUP BY 1";
        const VISITOR_MESSAGES: &str = "SELECT (m.created_at + ?2) / ?4, COUNT(*) FROM messages m
               JOIN conversations c ON c.id = m.conversation_id
              WHERE m.created_at >= ?1 AND m.role = 'user' AND (?3 IS NULL OR c.token_id = ?3)
              GROUP BY 1";
        self.read(|c| {
            let mut days = std::collections::BTreeMap::<i64, DayRow>::new();
            for (sql, is_conversations) in [(CONVERSATIONS, true), (VISITOR_MESSAGES, false)] {
                let mut stmt = c.prepare_cached(sql)?;
                let rows = stmt.query_map(params![since, offset, token_id, DAY_MS], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
                })?;
                for row in rows {
                    let (day, n) = row?;
                    let entry = days.entry(day).or_insert(DayRow {
                        day,
                        conversations: 0,
                        messages: 0,
                    });
                    if is_conversations {
                        entry.conversations = n;
                    } else {
                        entry.messages = n;
                    }
                }
            }
            Ok(days.into_values().collect())
        })
    }

    /// Conversations with activity in `[from, to)` (ms), oldest first, for an export.
    pub fn conversations_between(&self, from: i64, to: i64) -> Result<Vec<ConversationRow>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {CONVERSATION_COLUMNS} FROM conversations
                  WHERE updated_at >= ?1 AND created_at < ?2 ORDER BY created_at, id"
            ))?;
            let rows = stmt.query_map(params![from, to], conversation_row)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Deletes resolved conversations with no activity since `cutoff` (ms); open ones (and those
    /// handed over, taken over or with a turn running) are never touched. Their messages, turns
    /// and frames go with them, and their links' message counts go down by what they held.
    /// Returns how many were deleted.
    pub fn delete_inactive_before(&self, cutoff: i64) -> Result<usize> {
        // One rule for both statements, so the counts drop by exactly what is deleted.
        const EXPIRED: &str = "c.updated_at < ?1 AND c.state = 'resolved' AND c.taken_over_at IS NULL
            AND NOT EXISTS (SELECT 1 FROM turns t WHERE t.conversation_id = c.id AND t.status = 'running')";
        self.write(move |tx| {
            tx.execute(
                &format!(
                    "UPDATE tokens SET visitor_messages = visitor_messages - gone.n
                       FROM (SELECT c.token_id AS id, COUNT(*) AS n
                               FROM conversations c
                               JOIN messages m ON m.conversation_id = c.id AND m.role = 'user'
                              WHERE c.token_id IS NOT NULL AND {EXPIRED}
                              GROUP BY c.token_id) AS gone
                      WHERE tokens.id = gone.id"
                ),
                [cutoff],
            )?;
            // Unanswered questions are visitors' words too: kept no longer than conversations.
            tx.execute("DELETE FROM unanswered WHERE last_at < ?1", [cutoff])?;
            Ok(tx.execute(
                &format!(
                    "DELETE FROM conversations WHERE id IN (SELECT c.id FROM conversations c WHERE {EXPIRED})"
                ),
                [cutoff],
            )?)
        })
    }

    /// Conversations changed at or after `since` (ms), by this process or another.
    pub fn conversations_updated_since(&self, since: i64) -> Result<Vec<String>> {
        self.read(|c| {
            let mut stmt =
                c.prepare_cached("SELECT id FROM conversations WHERE updated_at >= ?1")?;
            let rows = stmt.query_map([since], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// The conversation, if it exists (for owner calls, which are not bound to a link).
    pub fn find_conversation(&self, id: &str) -> Result<ConversationRow> {
        self.read(|c| conversation(c, id))?.ok_or(Error::NotFound {
            what: "conversation",
        })
    }
}
