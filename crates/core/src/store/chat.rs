//! Conversations, messages, turns and their frames.
//!
//! A turn's frames are written once, at the turn's end, in the same transaction as the reply and
//! the turn's status; while it runs they live in the hub. The user's message and the running turn
//! are written before the 202 goes out, so an accepted message survives a crash, and
//! [`Store::recover_running_turns`] ends turns a crash interrupted.

use rusqlite::{Connection, OptionalExtension, params};

use super::Store;
use crate::error::{Error, Result};
use crate::jid::Jid;
use crate::model::{
    ConversationState, EncodedFrame, EndUser, FinishedTurn, Frame, HistoryMessage,
    MAX_FRAMES_PER_TURN, Message, Outcome, Role, TurnError, TurnStatus, now_ms,
};
use crate::token::random_id;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationRow {
    pub id: String,
    pub folder: String,
    pub jid: Jid,
    pub token_id: Option<i64>,
    /// The widget end user this conversation belongs to, for widget conversations.
    pub end_user: Option<EndUser>,
    pub state: ConversationState,
    pub last_seq: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// When the owner took the conversation over; `None` while the agent answers.
    pub taken_over_at: Option<i64>,
    /// When the owner blocked it: its visitor's messages are refused.
    pub blocked_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnRow {
    pub id: String,
    pub conversation_id: String,
    pub token_id: Option<i64>,
    pub status: TurnStatus,
    pub first_seq: i64,
}

/// A visitor's message that starts a turn. Owned, because the write may run on whichever thread
/// leads the group commit.
#[derive(Debug, Clone)]
pub struct NewTurn {
    /// Continue this conversation (it must belong to `jid`), or start a new one.
    pub conversation_id: Option<String>,
    pub folder: String,
    pub jid: Jid,
    pub token_id: Option<i64>,
    /// For the widget: the end user's one conversation is found, or started, by this.
    pub end_user: Option<EndUser>,
    pub content: String,
    /// How many earlier messages to hand the agent as context.
    pub history: usize,
}

/// What [`Store::begin_turn`] wrote.
#[derive(Debug, Clone)]
pub struct TurnStart {
    pub turn_id: String,
    pub conversation_id: String,
    pub message_id: String,
    pub first_seq: i64,
    pub history: Vec<HistoryMessage>,
    /// The conversation did not exist before this message.
    pub new_conversation: bool,
    /// The owner has taken the conversation over: no agent answers this turn.
    pub taken_over: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredTurn {
    pub turn_id: String,
    pub conversation_id: String,
}

pub(super) const CONVERSATION_COLUMNS: &str = "id, folder, jid, token_id, app_id, end_user, state, \
     last_seq, created_at, updated_at, taken_over_at, blocked_at";

pub(super) fn conversation_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ConversationRow> {
    let app_id: Option<String> = r.get(4)?;
    let end_user: Option<String> = r.get(5)?;
    Ok(ConversationRow {
        id: r.get(0)?,
        folder: r.get(1)?,
        jid: r.get(2)?,
        token_id: r.get(3)?,
        end_user: app_id
            .zip(end_user)
            .map(|(app_id, id)| EndUser { app_id, id }),
        state: r.get(6)?,
        last_seq: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
        taken_over_at: r.get(10)?,
        blocked_at: r.get(11)?,
    })
}

pub(super) const MESSAGE_COLUMNS: &str = "id, turn_id, role, content, created_at";

pub(super) fn message_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        id: r.get(0)?,
        turn_id: r.get(1)?,
        role: r.get(2)?,
        content: r.get(3)?,
        created_at: r.get(4)?,
    })
}

pub(super) fn frame_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EncodedFrame> {
    Ok(EncodedFrame {
        seq: r.get(0)?,
        event: r.get(1)?,
        data: r.get::<_, String>(2)?.into(),
    })
}

pub fn conversation(conn: &Connection, id: &str) -> Result<Option<ConversationRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ?1"
    ))?;
    Ok(stmt.query_row([id], conversation_row).optional()?)
}

fn end_user_conversation(conn: &Connection, user: &EndUser) -> Result<Option<ConversationRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE app_id = ?1 AND end_user = ?2"
    ))?;
    Ok(stmt
        .query_row(params![user.app_id, user.id], conversation_row)
        .optional()?)
}

pub(super) fn running_turn(conn: &Connection, conversation_id: &str) -> Result<Option<String>> {
    // The status is written out, not bound: only a literal lets SQLite use the partial index.
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM turns WHERE conversation_id = ?1 AND status = 'running' LIMIT 1",
    )?;
    Ok(stmt.query_row([conversation_id], |r| r.get(0)).optional()?)
}

/// The last `limit` messages of a conversation, oldest first.
pub(super) fn recent_messages(
    conn: &Connection,
    conversation_id: &str,
    limit: usize,
) -> Result<Vec<Message>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages
         WHERE conversation_id = ?1 ORDER BY seq DESC LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![conversation_id, limit as i64], message_row)?;
    let mut out: Vec<Message> = rows.collect::<rusqlite::Result<_>>()?;
    out.reverse();
    Ok(out)
}

pub(super) fn insert_message(conn: &Connection, conversation_id: &str, m: &Message) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO messages(id, conversation_id, turn_id, role, content, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        m.id,
        conversation_id,
        m.turn_id,
        m.role,
        m.content,
        m.created_at
    ])?;
    Ok(())
}

pub(super) fn insert_frame(
    conn: &Connection,
    conversation_id: &str,
    turn_id: &str,
    f: &EncodedFrame,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO frames(conversation_id, seq, turn_id, event, data) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![conversation_id, f.seq, turn_id, f.event, &*f.data])?;
    Ok(())
}

impl Store {
    /// Writes the visitor's message and a running turn. Fails with `turn_in_progress` while the
    /// conversation has a running turn, and `not_found` for a conversation of another JID.
    pub fn begin_turn(&self, t: NewTurn) -> Result<TurnStart> {
        self.write_grouped(move |tx| {
            let now = now_ms();
            let existing = match (t.conversation_id.as_deref(), &t.end_user) {
                (Some(id), _) => Some(
                    conversation(tx, id)?
                        .filter(|c| c.jid == t.jid && c.end_user == t.end_user)
                        .ok_or(Error::NotFound { what: "conversation" })?,
                ),
                (None, Some(user)) => end_user_conversation(tx, user)?,
                (None, None) => None,
            };
            let new_conversation = existing.is_none();
            let (conversation_id, last_seq, history, taken_over, counted_link) = match existing {
                Some(conv) => {
                    let id = conv.id.as_str();
                    if conv.blocked_at.is_some() {
                        return Err(Error::ConversationBlocked);
                    }
                    if running_turn(tx, id)?.is_some() {
                        return Err(Error::TurnInProgress);
                    }
                    let history = recent_messages(tx, id, t.history)?
                        .into_iter()
                        .map(|m| HistoryMessage { role: m.role, content: m.content })
                        .collect();
                    (conv.id, conv.last_seq, history, conv.taken_over_at.is_some(), conv.token_id)
                }
                None => {
                    let id = random_id();
                    let (app_id, end_user) = t.end_user.as_ref().map(|u| (&u.app_id, &u.id)).unzip();
                    tx.execute(
                        "INSERT INTO conversations(id, folder, jid, token_id, app_id, end_user, created_at, updated_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                        params![id, t.folder, t.jid, t.token_id, app_id, end_user, now],
                    )?;
                    (id, 0, Vec::new(), false, t.token_id)
                }
            };
            let turn_id = random_id();
            let message = Message {
                id: random_id(),
                turn_id: Some(turn_id.clone()),
                role: Role::User,
                content: t.content,
                created_at: now,
            };
            let first_seq = last_seq + 1;
            insert_message(tx, &conversation_id, &message)?;
            tx.prepare_cached(
                "INSERT INTO turns(id, conversation_id, token_id, first_seq, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![turn_id, conversation_id, t.token_id, first_seq, now])?;
            // A visitor writing again reopens a resolved conversation.
            tx.prepare_cached(
                "UPDATE conversations SET updated_at = ?2,
                        state = CASE state WHEN ?3 THEN ?4 ELSE state END
                  WHERE id = ?1",
            )?
            .execute(params![conversation_id, now, ConversationState::Resolved, ConversationState::Open])?;
            if let Some(token_id) = t.token_id {
                tx.prepare_cached("UPDATE tokens SET last_used_at = ?2 WHERE id = ?1")?
                    .execute(params![token_id, now])?;
            }
            // A link's message count is kept with the link (the links table must not count
            // messages): it counts the conversations the link started, as retention uncounts them.
            if let Some(token_id) = counted_link {
                tx.prepare_cached(
                    "UPDATE tokens SET visitor_messages = visitor_messages + 1 WHERE id = ?1",
                )?
                .execute([token_id])?;
            }
            Ok(TurnStart {
                turn_id,
                conversation_id,
                message_id: message.id,
                first_seq,
                history,
                new_conversation,
                taken_over,
            })
        })
    }

    pub fn end_turn(&self, end: FinishedTurn) -> Result<()> {
        self.write_grouped(move |tx| {
            let now = now_ms();
            for f in &end.frames {
                insert_frame(tx, &end.conversation_id, &end.turn_id, f)?;
            }
            let last_seq = end.frames.last().map(|f| f.seq);
            if let Some(reply) = &end.reply {
                insert_message(tx, &end.conversation_id, reply)?;
            }
            tx.prepare_cached("UPDATE turns SET status = ?2, ended_at = ?3 WHERE id = ?1")?
                .execute(params![end.turn_id, end.status, now])?;
            let state = (end.status == TurnStatus::Handoff).then_some(ConversationState::Handoff);
            tx.prepare_cached(
                "UPDATE conversations SET last_seq = max(last_seq, coalesce(?2, last_seq)),
                        state = coalesce(?3, state), updated_at = ?4 WHERE id = ?1",
            )?
            .execute(params![end.conversation_id, last_seq, state, now])?;
            if let Some(note) = &end.unanswered {
                super::unanswered::note(tx, note, &end.conversation_id)?;
            }
            Ok(())
        })
    }

    pub fn conversation(&self, id: &str) -> Result<Option<ConversationRow>> {
        self.read(|c| conversation(c, id))
    }

    /// Blocks (`true`) or unblocks a conversation.
    pub fn set_conversation_blocked(&self, id: &str, blocked: bool) -> Result<ConversationRow> {
        self.write(|tx| {
            tx.execute(
                "UPDATE conversations SET blocked_at = CASE WHEN ?2 THEN coalesce(blocked_at, ?3) END,
                        updated_at = ?3 WHERE id = ?1",
                params![id, blocked, now_ms()],
            )?;
            conversation(tx, id)?.ok_or(Error::NotFound { what: "conversation" })
        })
    }

    /// The widget end user's conversation, if they have written before.
    pub fn end_user_conversation(&self, user: &EndUser) -> Result<Option<ConversationRow>> {
        self.read(|c| end_user_conversation(c, user))
    }

    pub fn turn(&self, id: &str) -> Result<Option<TurnRow>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, conversation_id, token_id, status, first_seq FROM turns WHERE id = ?1",
            )?;
            Ok(stmt
                .query_row([id], |r| {
                    Ok(TurnRow {
                        id: r.get(0)?,
                        conversation_id: r.get(1)?,
                        token_id: r.get(2)?,
                        status: r.get(3)?,
                        first_seq: r.get(4)?,
                    })
                })
                .optional()?)
        })
    }

    /// The stored frames of a finished turn with seq > `after`, in order.
    pub fn frames_after(
        &self,
        conversation_id: &str,
        turn_id: &str,
        after: i64,
    ) -> Result<Vec<EncodedFrame>> {
        self.turn_frames_page(conversation_id, turn_id, after, usize::MAX)
    }

    /// At most `limit` of the turn's frames after seq `after`: a stored turn is replayed in
    /// pages, never read whole per subscriber.
    pub fn turn_frames_page(
        &self,
        conversation_id: &str,
        turn_id: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<EncodedFrame>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, event, data FROM frames
                 WHERE conversation_id = ?1 AND seq > ?3 AND turn_id = ?2 ORDER BY seq LIMIT ?4",
            )?;
            let rows =
                stmt.query_map(params![conversation_id, turn_id, after, limit], frame_row)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// The conversation's last `limit` messages and its running turn, if any.
    pub fn history(
        &self,
        conversation_id: &str,
        limit: usize,
    ) -> Result<(Vec<Message>, Option<String>)> {
        self.read(|c| {
            Ok((
                recent_messages(c, conversation_id, limit)?,
                running_turn(c, conversation_id)?,
            ))
        })
    }

    /// Ends every turn still marked running (the process that ran it is gone): status `error` and
    /// a `done` frame placed after any seq the turn could have used, so a visitor resuming from
    /// the last frame they saw gets it. Running turns are found through their partial index, so
    /// a start-up on a large history reads only them.
    pub fn recover_running_turns(&self, why: TurnError) -> Result<Vec<RecoveredTurn>> {
        self.end_running_turns(why, Running::All)
    }

    /// Ends one running turn as an error (its reply could not be stored).
    pub fn fail_turn(&self, turn_id: &str, why: TurnError) -> Result<()> {
        self.end_running_turns(why, Running::One(turn_id))
            .map(|_| ())
    }

    /// Ends `running` turns as errors with `visitor_message`: a `done` frame that sorts after
    /// anything the turn wrote, the turn's status, the conversation's cursor.
    pub fn end_running_turns(
        &self,
        why: TurnError,
        which: Running<'_>,
    ) -> Result<Vec<RecoveredTurn>> {
        self.write(|tx| {
            let mut stmt = tx.prepare(
                "SELECT id, conversation_id, first_seq, created_at FROM turns INDEXED BY turns_running
                  WHERE status = 'running'",
            )?;
            let running = stmt
                .query_map([], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let running: Vec<(String, String, i64)> = running
                .into_iter()
                .filter(|(id, _, _, created_at)| match &which {
                    Running::All => true,
                    Running::One(one) => id == one,
                    Running::StartedBefore { before, except } => {
                        *created_at < *before && !except.contains(id)
                    }
                })
                .map(|(id, conv, first, _)| (id, conv, first))
                .collect();
            let now = now_ms();
            let mut out = Vec::with_capacity(running.len());
            for (turn_id, conversation_id, first_seq) in running {
                let done = Frame::Done {
                    turn_id: turn_id.clone(),
                    outcome: Outcome::Error(why),
                    choices: Vec::new(),
                }
                .encode(first_seq + MAX_FRAMES_PER_TURN);
                insert_frame(tx, &conversation_id, &turn_id, &done)?;
                tx.execute(
                    "UPDATE turns SET status = ?3, ended_at = ?2 WHERE id = ?1",
                    params![turn_id, now, TurnStatus::Error],
                )?;
                tx.execute(
                    "UPDATE conversations SET last_seq = max(last_seq, ?2), updated_at = ?3 WHERE id = ?1",
                    params![conversation_id, done.seq, now],
                )?;
                out.push(RecoveredTurn { turn_id, conversation_id });
            }
            Ok(out)
        })
    }
}

/// Which running turns [`Store::end_running_turns`] ends.
#[derive(Debug, Clone, Copy)]
pub enum Running<'a> {
    /// Every one (a previous run's, at start).
    All,
    One(&'a str),
    /// Those started before this time (ms) that no task of this process is running.
    StartedBefore {
        before: i64,
        except: &'a std::collections::HashSet<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::super::test_util::temp_store;
    use super::*;
    use crate::model::FrameEvent;

    fn new_turn(conv: Option<&str>, content: &str) -> NewTurn {
        NewTurn {
            conversation_id: conv.map(str::to_owned),
            folder: "acme".into(),
            jid: "web:acme".parse().expect("jid"),
            token_id: None,
            end_user: None,
            content: content.into(),
            history: 10,
        }
    }

    #[test]
    fn a_turn_begins_ends_and_replays() {
        let (_d, s) = temp_store();
        s.create_folder("acme", "Acme", "", "").expect("folder");
        let t = s.begin_turn(new_turn(None, "hello")).expect("begin");
        assert_eq!(t.first_seq, 1);
        assert_eq!(
            s.begin_turn(new_turn(Some(&t.conversation_id), "again"))
                .expect_err("busy")
                .code(),
            "turn_in_progress"
        );
        let (msgs, running) = s.history(&t.conversation_id, 50).expect("history");
        assert_eq!(msgs.len(), 1);
        assert_eq!(running.as_deref(), Some(t.turn_id.as_str()));

        let turn_id = || t.turn_id.clone();
        let reply = Message {
            id: "m2".into(),
            turn_id: Some(turn_id()),
            role: Role::Assistant,
            content: "hi there".into(),
            created_at: now_ms(),
        };
        let frames = vec![
            Frame::Delta {
                turn_id: turn_id(),
                text: "hi there".into(),
            }
            .encode(1),
            Frame::message(&turn_id(), &reply).encode(2),
            Frame::Done {
                turn_id: turn_id(),
                outcome: Outcome::Handoff,
                choices: Vec::new(),
            }
            .encode(3),
        ];
        s.end_turn(FinishedTurn {
            turn_id: turn_id(),
            conversation_id: t.conversation_id.clone(),
            frames: frames.clone(),
            reply: Some(reply),
            status: TurnStatus::Handoff,
            unanswered: None,
        })
        .expect("end");
        assert_eq!(
            s.frames_after(&t.conversation_id, &t.turn_id, 1)
                .expect("replay"),
            frames[1..].to_vec()
        );
        let conv = s
            .conversation(&t.conversation_id)
            .expect("conv")
            .expect("exists");
        assert_eq!((conv.last_seq, conv.state), (3, ConversationState::Handoff));

        let t2 = s
            .begin_turn(new_turn(Some(&t.conversation_id), "more"))
            .expect("second");
        assert_eq!(t2.first_seq, 4);
        assert_eq!(t2.history.len(), 2);
        assert_eq!(t2.history[1].content, "hi there");
        let other = NewTurn {
            jid: "web:acme/other".parse().expect("jid"),
            ..new_turn(Some(&t.conversation_id), "x")
        };
        assert_eq!(
            s.begin_turn(other).expect_err("other jid").code(),
            "not_found"
        );
    }

    #[test]
    fn an_end_user_has_one_conversation_that_no_one_else_can_continue() {
        let (_d, s) = temp_store();
        s.create_folder("acme", "Acme", "Hi", "").expect("folder");
        s.insert_app(&super::super::NewApp {
            id: "app_1".into(),
            folder: "acme".into(),
            name: "Shop".into(),
            origins: vec![],
            token_ttl_secs: 900,
        })
        .expect("app");
        let widget: Jid = "widget:acme/app_1".parse().expect("jid");
        let user = |id: &str| NewTurn {
            jid: widget.clone(),
            end_user: Some(EndUser {
                app_id: "app_1".into(),
                id: id.into(),
            }),
            ..new_turn(None, "hello")
        };
        let first = s.begin_turn(user("alice")).expect("first");
        let end = |t: &TurnStart| FinishedTurn {
            turn_id: t.turn_id.clone(),
            conversation_id: t.conversation_id.clone(),
            frames: vec![],
            reply: None,
            status: TurnStatus::Ok,
            unanswered: None,
        };
        s.end_turn(end(&first)).expect("end");
        let again = s.begin_turn(user("alice")).expect("same user, no id");
        assert_eq!(again.conversation_id, first.conversation_id);
        assert_eq!(again.history.len(), 1, "continues with context");
        s.end_turn(end(&again)).expect("end");
        let bob = s.begin_turn(user("bob")).expect("bob");
        assert_ne!(bob.conversation_id, first.conversation_id);
        let bob_into_alice = NewTurn {
            conversation_id: Some(first.conversation_id.clone()),
            ..user("bob")
        };
        assert_eq!(
            s.begin_turn(bob_into_alice).expect_err("other user").code(),
            "not_found"
        );
        let link_into_alice = NewTurn {
            jid: widget.clone(),
            ..new_turn(Some(&first.conversation_id), "x")
        };
        assert_eq!(
            s.begin_turn(link_into_alice).expect_err("no user").code(),
            "not_found"
        );
        let found = s
            .end_user_conversation(&EndUser {
                app_id: "app_1".into(),
                id: "alice".into(),
            })
            .expect("lookup")
            .expect("found");
        assert_eq!(found.id, first.conversation_id);
    }

    #[test]
    fn recovery_ends_running_turns_after_any_live_seq() {
        let (_d, s) = temp_store();
        s.create_folder("acme", "Acme", "", "").expect("folder");
        let t = s.begin_turn(new_turn(None, "hello")).expect("begin");
        let rec = s
            .recover_running_turns(TurnError::Interrupted)
            .expect("recover");
        assert_eq!(
            rec,
            vec![RecoveredTurn {
                turn_id: t.turn_id.clone(),
                conversation_id: t.conversation_id.clone()
            }]
        );
        let frames = s
            .frames_after(&t.conversation_id, &t.turn_id, 500)
            .expect("frames");
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].event, FrameEvent::Done);
        assert_eq!(
            &*frames[0].data,
            format!(
                r#"{{"code":"interrupted","message":"{}","status":"error","turn_id":"{}"}}"#,
                TurnError::Interrupted.visitor_message(),
                t.turn_id
            ),
            "the recovered done frame has the wire's bytes"
        );
        assert_eq!(frames[0].seq, 1 + MAX_FRAMES_PER_TURN);
        assert_eq!(
            s.turn(&t.turn_id).expect("turn").expect("exists").status,
            TurnStatus::Error
        );
        assert!(
            s.recover_running_turns(TurnError::Interrupted)
                .expect("again")
                .is_empty()
        );
        // The next turn continues after the recovered done frame.
        let t2 = s
            .begin_turn(new_turn(Some(&t.conversation_id), "again"))
            .expect("next");
        assert_eq!(t2.first_seq, 2 + MAX_FRAMES_PER_TURN);
    }
}
