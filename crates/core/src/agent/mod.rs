//! Agents answer a visitor's message: the `Agent` trait and its engines.
//!
//! An engine gets everything it needs in an [`AgentInput`] (the effective persona after route
//! rules, the folder's knowledge, recent history) and reports the reply as it is produced through
//! a [`DeltaSink`]. It never touches the store or the hub: the turn owns persistence and fan-out.

pub mod answers;
pub mod embed;
pub mod openai;
pub mod retrieval;
#[cfg(feature = "bench")]
pub mod wait;

use std::future::Future;
use std::pin::Pin;

pub use retrieval::KnowledgeBase;

use crate::model::{HistoryMessage, Outcome};

/// Everything an engine may use to answer one message.
#[derive(Debug, Clone, Copy)]
pub struct AgentInput<'a> {
    /// The folder's display name ("Rosie's Bakery").
    pub name: &'a str,
    /// Instructions after route rules (a suffix may override the folder's).
    pub persona: &'a str,
    /// Greeting after route rules.
    pub greeting: &'a str,
    /// The folder's knowledge and its index, built once per version of it.
    pub knowledge: &'a KnowledgeBase,
    /// Recent messages of the conversation, oldest first, without the current one.
    pub history: &'a [HistoryMessage],
    /// The visitor's message this turn answers.
    pub message: &'a str,
    /// The visitor's language: what the agent says in its own words (a greeting, a handoff)
    /// comes from the message catalog in it.
    pub lang: crate::i18n::Lang,
}

/// What an engine produced: the whole reply text (the concatenation of its deltas) and the outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub text: String,
    pub outcome: Outcome,
    /// Tokens the provider reported using (`usage.total_tokens`); `None` when it reported none
    /// or no provider was asked.
    pub tokens: Option<u64>,
    /// Questions the visitor may tap to say which was meant (the `done` frame's `choices`).
    pub choices: Vec<String>,
}

impl Reply {
    /// A reply with no tokens counted and no choices.
    pub fn new(text: impl Into<String>, outcome: Outcome) -> Reply {
        Reply {
            text: text.into(),
            outcome,
            tokens: None,
            choices: Vec::new(),
        }
    }
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
