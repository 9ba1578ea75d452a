//! Agents answer a visitor's message: the `Agent` trait and its engines.
//!
//! An engine gets everything it needs in an [`AgentInput`] (the effective persona after route
//! rules, the folder's knowledge, recent history) and reports the reply as it is produced through
//! a [`DeltaSink`]. It never touches the store or the hub: the turn owns persistence and fan-out.

pub mod answers;
pub mod openai;
pub mod retrieval;
#[cfg(feature = "bench")]
pub mod wait;

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

/// One knowledge entry of a folder: a question/answer pair, or free text when `question` is None.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Knowledge {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: i64,
    pub question: Option<String>,
    pub answer: String,
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "user" => Some(Role::User),
            "assistant" => Some(Role::Assistant),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }
}

/// A past message handed to an engine as context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryMessage {
    pub role: Role,
    pub content: String,
}

/// Everything an engine may use to answer one message.
#[derive(Debug, Clone, Copy)]
pub struct AgentInput<'a> {
    /// The folder's display name ("Rosie's Bakery").
    pub name: &'a str,
    /// Instructions after route rules (a suffix may override the folder's).
    pub persona: &'a str,
    /// Greeting after route rules.
    pub greeting: &'a str,
    pub knowledge: &'a [Knowledge],
    /// Recent messages of the conversation, oldest first, without the current one.
    pub history: &'a [HistoryMessage],
    /// The visitor's message this turn answers.
    pub message: &'a str,
}

/// How a turn ended, as the `done` frame reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// The agent could not help and passed the question to a person.
    Handoff,
    /// The engine failed; `visitor_message` is safe to show a visitor (no provider detail).
    Error {
        visitor_message: String,
    },
}

/// What an engine produced: the whole reply text (the concatenation of its deltas) and the outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub text: String,
    pub outcome: Outcome,
}

/// Receives the reply as it is produced, one piece at a time.
pub type DeltaSink = dyn Fn(&str) + Send + Sync;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An engine that answers messages.
pub trait Agent: Send + Sync {
    /// Answers `input.message`, calling `sink` with each piece of the reply as it is produced.
    /// Never fails: failures end as `Outcome::Error` with a visitor-safe message.
    fn run<'a>(&'a self, input: AgentInput<'a>, sink: &'a DeltaSink) -> BoxFuture<'a, Reply>;
}
