//! The domain's nouns that several layers share: frames and their one wire encoding, roles, turn
//! statuses, conversation states, messages, knowledge entries, and how time is kept.
//!
//! The store, the agents and the live layer (turn, hub, feed) all use these and none of them owns
//! them: the store maps them to and from its columns, the hub carries [`EncodedFrame`]s without
//! knowing where they are kept, and an engine sees [`Knowledge`] and [`HistoryMessage`] without
//! knowing they came from a database.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch: how every time is kept.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// RFC 3339 (UTC, milliseconds), as every JSON answer and frame carries times.
pub fn rfc3339(ms: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

/// A turn holds at most this many frames: its `done` frame's seq never exceeds
/// `first_seq + MAX_FRAMES_PER_TURN`, which is where crash recovery puts it so that it sorts after
/// anything a visitor may have seen live before the crash.
pub const MAX_FRAMES_PER_TURN: i64 = 65_536;

/// A closed set of lowercase words, each one variant: `as_str`, `Display` and `FromStr` (an
/// unknown word is `invalid_input`, naming the words that are accepted), and serde as the word.
macro_rules! words {
    ($(#[$meta:meta])* $vis:vis enum $name:ident ($what:literal) { $($(#[$vmeta:meta])* $variant:ident = $word:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, ::serde::Serialize, ::serde::Deserialize)]
        #[cfg_attr(feature = "ts", derive(ts_rs::TS))]
        $vis enum $name {
            $(
                $(#[$vmeta])*
                #[serde(rename = $word)]
                #[cfg_attr(feature = "ts", ts(rename = $word))]
                $variant,
            )+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word,)+ }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::error::Error;

            fn from_str(s: &str) -> $crate::error::Result<$name> {
                match s {
                    $($word => Ok($name::$variant),)+
                    _ => Err($crate::error::Error::invalid(format!(
                        "{s:?} is not a {}; use {}",
                        $what,
                        [$($word),+].join(", ")
                    ))),
                }
            }
        }
    };
}
pub(crate) use words;

words! {
    /// Who wrote a message.
    pub enum Role ("role") {
        /// The visitor (or a hook's sender, or a widget's end user).
        User = "user",
        /// The agent.
        Assistant = "assistant",
        /// The shop's owner, replying from the inbox.
        Owner = "owner",
    }
}

words! {
    /// Where a turn is: running, or how it ended.
    pub enum TurnStatus ("turn status") {
        Running = "running",
        Ok = "ok",
        Error = "error",
        /// The agent passed the question to a person.
        Handoff = "handoff",
    }
}

words! {
    /// A conversation's state in the owner's inbox. Taking over is a separate flag.
    pub enum ConversationState ("conversation state") {
        Open = "open",
        /// The agent could not help: waiting for the owner.
        Handoff = "handoff",
        Resolved = "resolved",
    }
}

words! {
    /// A frame's SSE `event:` name.
    pub enum FrameEvent ("frame event") {
        Delta = "delta",
        Message = "message",
        Done = "done",
    }
}

words! {
    /// What a route token opens: a chat link or a webhook.
    pub enum TokenKind ("link kind") {
        /// A chat link, `/chat/<token>/`.
        Web = "web",
        /// A webhook, `/hook/<token>`.
        Hook = "hook",
    }
}

/// A verified widget end user: the app that vouched for them and the id it gave.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EndUser {
    pub app_id: String,
    pub id: String,
}

words! {
    /// Why a reply failed, as a visitor is told: `turn.<word>` in the message catalog.
    pub enum TurnError ("turn error") {
        /// The reply took longer than the turn's deadline and nothing came.
        TooSlow = "too_slow",
        /// The provider failed; its detail stays in the logs.
        Unavailable = "unavailable",
        /// The server stopped in the middle of the reply.
        Interrupted = "interrupted",
        /// The reply could not be saved.
        NotSaved = "not_saved",
    }
}

impl TurnError {
    /// The English sentence, which the `done` frame carries for pages that predate codes.
    pub fn visitor_message(self) -> String {
        crate::i18n::Lang::En.text(&format!("turn.{}", self.as_str()), &[])
    }
}

/// How a turn ended, as its `done` frame reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// The agent could not help and passed the question to a person.
    Handoff,
    /// The engine failed; what a visitor is told (no provider detail).
    Error(TurnError),
}

impl Outcome {
    pub fn status(&self) -> TurnStatus {
        match self {
            Outcome::Ok => TurnStatus::Ok,
            Outcome::Handoff => TurnStatus::Handoff,
            Outcome::Error(_) => TurnStatus::Error,
        }
    }
}

/// One event of a turn, as visitors' pages and customers' widgets receive it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A piece of the reply as it is produced.
    Delta { turn_id: String, text: String },
    /// A whole message: the finished reply, or the owner's.
    Message {
        turn_id: String,
        id: String,
        role: Role,
        content: String,
        /// Ms since the epoch; sent as RFC 3339.
        created_at: i64,
    },
    /// The turn's end; always its last frame. `choices`: questions the visitor may tap (the
    /// agent was not sure which one was meant, or, beside a handoff, questions close in
    /// meaning), usually none.
    Done {
        turn_id: String,
        outcome: Outcome,
        choices: Vec<String>,
    },
}

// The JSON of each frame kind. Fields are in alphabetical order because that is the order the
// wire has always had (serde_json's sorted maps wrote it before these types existed) and pages
// in the wild are entitled to the same bytes; `tests::wire_format_is_pinned` holds it.
#[derive(Serialize)]
struct DeltaJson<'a> {
    text: &'a str,
    turn_id: &'a str,
}

#[derive(Serialize)]
struct MessageJson<'a> {
    content: &'a str,
    created_at: String,
    id: &'a str,
    role: Role,
    turn_id: &'a str,
}

#[derive(Serialize)]
struct DoneJson<'a> {
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    choices: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    status: TurnStatus,
    turn_id: &'a str,
}

impl Frame {
    /// The frame that carries a stored message of turn `turn_id` to the visitor.
    pub fn message(turn_id: &str, m: &Message) -> Frame {
        Frame::Message {
            turn_id: turn_id.to_owned(),
            id: m.id.clone(),
            role: m.role,
            content: m.content.clone(),
            created_at: m.created_at,
        }
    }

    pub fn event(&self) -> FrameEvent {
        match self {
            Frame::Delta { .. } => FrameEvent::Delta,
            Frame::Message { .. } => FrameEvent::Message,
            Frame::Done { .. } => FrameEvent::Done,
        }
    }

    /// The frame's one encoding, numbered `seq`: what the store keeps and every subscriber sends.
    pub fn encode(&self, seq: i64) -> EncodedFrame {
        let json = match self {
            Frame::Delta { turn_id, text } => serde_json::to_string(&DeltaJson { text, turn_id }),
            Frame::Message {
                turn_id,
                id,
                role,
                content,
                created_at,
            } => serde_json::to_string(&MessageJson {
                content,
                created_at: rfc3339(*created_at),
                id,
                role: *role,
                turn_id,
            }),
            Frame::Done {
                turn_id,
                outcome,
                choices,
            } => serde_json::to_string(&DoneJson {
                choices,
                code: match outcome {
                    Outcome::Error(e) => Some(e.as_str()),
                    Outcome::Ok | Outcome::Handoff => None,
                },
                message: match outcome {
                    Outcome::Error(e) => Some(e.visitor_message()),
                    Outcome::Ok | Outcome::Handoff => None,
                },
                status: outcome.status(),
                turn_id,
            }),
        };
        EncodedFrame {
            seq,
            event: self.event(),
            // Strings and plain structs always serialize; the fallback only keeps this total.
            data: json.unwrap_or_else(|_| String::from("{}")).into(),
        }
    }
}

/// A frame with its per-conversation sequence number (its SSE `id:`) and its JSON, encoded once.
/// Cloning shares the JSON, so a frame fanned out to thousands of streams is one allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedFrame {
    pub seq: i64,
    pub event: FrameEvent,
    pub data: Arc<str>,
}

/// A stored message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: String,
    pub turn_id: Option<String>,
    pub role: Role,
    pub content: String,
    /// Ms since the epoch.
    pub created_at: i64,
}

/// A past message handed to an engine as context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryMessage {
    pub role: Role,
    pub content: String,
}

/// One knowledge entry of a folder: a question/answer pair, or free text when `question` is None.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Knowledge {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: i64,
    pub question: Option<String>,
    pub answer: String,
    /// Other ways visitors ask the question ("also asked as"), matched like it.
    #[serde(default)]
    pub phrasings: Vec<String>,
    /// The language it is written in; None: read from its text, else the agent's language.
    #[serde(default)]
    pub lang: Option<crate::i18n::Lang>,
}

/// Everything a finished turn writes at once: its frames, the reply, and how it ended.
#[derive(Debug, Clone)]
pub struct FinishedTurn {
    pub turn_id: String,
    pub conversation_id: String,
    pub frames: Vec<EncodedFrame>,
    pub reply: Option<Message>,
    pub status: TurnStatus,
    /// A handed-off question to count among the agent's unanswered ones.
    pub unanswered: Option<crate::store::UnansweredNote>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: i64 = 1_764_547_200_123; // 2025-12-01T00:00:00.123Z

    fn data(frame: &Frame) -> String {
        frame.encode(7).data.to_string()
    }

    /// Recorded from the server before these types existed (serde_json maps, keys sorted): the
    /// bytes visitors' pages and customers' widgets parse. Never change one of these lines.
    #[test]
    fn wire_format_is_pinned() {
        let t = || "TURN".to_owned();
        assert_eq!(
            data(&Frame::Delta {
                turn_id: t(),
                text: "Hi \"there\" ü\n".into()
            }),
            r#"{"text":"Hi \"there\" ü\n","turn_id":"TURN"}"#
        );
        assert_eq!(
            data(&Frame::Message {
                turn_id: t(),
                id: "MSG".into(),
                role: Role::Assistant,
                content: "We open at 8.".into(),
                created_at: AT,
            }),
            r#"{"content":"We open at 8.","created_at":"2025-12-01T00:00:00.123Z","id":"MSG","role":"assistant","turn_id":"TURN"}"#
        );
        assert_eq!(
            data(&Frame::Message {
                turn_id: t(),
                id: "MSG".into(),
                role: Role::Owner,
                content: "Bring it by!".into(),
                created_at: AT,
            }),
            r#"{"content":"Bring it by!","created_at":"2025-12-01T00:00:00.123Z","id":"MSG","role":"owner","turn_id":"TURN"}"#
        );
        let done = |outcome| {
            data(&Frame::Done {
                turn_id: t(),
                outcome,
                choices: Vec::new(),
            })
        };
        assert_eq!(done(Outcome::Ok), r#"{"status":"ok","turn_id":"TURN"}"#);
        assert_eq!(
            done(Outcome::Handoff),
            r#"{"status":"handoff","turn_id":"TURN"}"#
        );
        assert_eq!(
            done(Outcome::Error(TurnError::TooSlow)),
            r#"{"code":"too_slow","message":"Sorry, the reply took too long. Please try again, or ask a shorter question.","status":"error","turn_id":"TURN"}"#
        );
    }

    #[test]
    fn encoding_numbers_and_names_the_frame() {
        let f = Frame::Done {
            turn_id: "T".into(),
            outcome: Outcome::Ok,
            choices: Vec::new(),
        }
        .encode(42);
        assert_eq!((f.seq, f.event), (42, FrameEvent::Done));
        let shared = f.clone();
        assert!(Arc::ptr_eq(&f.data, &shared.data), "clones share the JSON");
    }

    #[test]
    fn words_round_trip_and_unknown_ones_are_refused() {
        for s in ConversationState::ALL {
            assert_eq!(s.as_str().parse::<ConversationState>().ok(), Some(*s));
        }
        fn serde_is_the_word<T: Serialize + std::fmt::Display>(all: &[T]) {
            for w in all {
                assert_eq!(serde_json::to_string(w).ok(), Some(format!("\"{w}\"")));
            }
        }
        serde_is_the_word(Role::ALL);
        serde_is_the_word(TurnStatus::ALL);
        serde_is_the_word(ConversationState::ALL);
        serde_is_the_word(FrameEvent::ALL);
        serde_is_the_word(TokenKind::ALL);
        for e in FrameEvent::ALL {
            assert_eq!(e.as_str().parse::<FrameEvent>().ok(), Some(*e));
        }
        assert_eq!(
            "running".parse::<TurnStatus>().ok(),
            Some(TurnStatus::Running)
        );
        let err = "closed".parse::<ConversationState>().expect_err("unknown");
        assert_eq!(err.code(), "invalid_input");
        assert!(err.to_string().contains("open, handoff, resolved"), "{err}");
    }

    #[test]
    fn times_format_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(AT), "2025-12-01T00:00:00.123Z");
        assert!(now_ms() > 1_700_000_000_000);
    }
}
