//! Engine that answers through any OpenAI-compatible `/chat/completions` endpoint (OpenAI, Ollama,
//! llama.cpp, vLLM, ...), streaming the reply to the visitor as it is generated.

use std::fmt::{self, Write as _};
use std::pin::Pin;
use std::time::Duration;

use eventsource_stream::{EventStreamError, Eventsource};
use futures_util::{Stream, StreamExt, stream};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Agent, AgentInput, BoxFuture, DeltaSink, Reply};
use crate::model::{Outcome, Role, TurnError};
use crate::secret::Sensitive;

const KNOWLEDGE_LIMIT: usize = 4;
const HISTORY_LIMIT: usize = 10;
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Enough of an error body to diagnose a misconfiguration without flooding the log.
const LOGGED_BODY_CHARS: usize = 200;

/// Where and how to reach the provider. `Debug` is safe to log: the key prints as `***`.
#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// Up to and including the version, e.g. `http://127.0.0.1:11434/v1`.
    pub base_url: String,
    pub model: String,
    /// None for local servers that need no key.
    pub api_key: Option<Sensitive<String>>,
    /// Sent with every request, so a model never writes without end on the owner's bill.
    pub max_tokens: u32,
}

/// A client suited to long streamed replies: an overall timeout would cut long answers, so only
/// connecting is bounded here and the agent bounds silence itself. Redirects are not followed:
/// a 307 would re-send the visitor's words and the API key to wherever the provider points.
pub fn default_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        // Building only fails when the TLS backend cannot start; `Client::new` then reports it.
        .unwrap_or_else(|_| reqwest::Client::new())
}

#[derive(Debug)]
pub struct OpenAiAgent {
    config: OpenAiConfig,
    client: reqwest::Client,
    idle_timeout: Duration,
}

impl OpenAiAgent {
    /// `client` is shared with the rest of the server so connections are pooled.
    pub fn new(config: OpenAiConfig, client: reqwest::Client) -> Self {
        OpenAiAgent {
            config,
            client,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }

    /// How long the provider may stay silent (no bytes at all, keepalives count) before the turn
    /// fails. Also bounds the wait for response headers, as a model may hang while loading.
    pub fn with_idle_timeout(mut self, idle_timeout: Duration) -> Self {
        self.idle_timeout = idle_timeout;
        self
    }

    async fn stream(
        &self,
        input: AgentInput<'_>,
        sink: &DeltaSink,
        text: &mut String,
        tokens: &mut Option<u64>,
        prompt_chars: &mut usize,
    ) -> Result<(), Failure> {
        let url = format!(
            "{}/chat/completions",
            self.config.base_url.trim_end_matches('/')
        );
        let query = input.knowledge.embed_query(input.message).await;
        let messages = messages(&input, query.as_deref());
        *prompt_chars = messages
            .iter()
            .filter_map(|m| m["content"].as_str())
            .map(|c| c.chars().count())
            .sum();
        // `include_usage` asks for the tokens used in a last chunk, for the agent's daily budget.
        let body = json!({
            "model": self.config.model,
            "stream": true,
            "stream_options": { "include_usage": true },
            "max_tokens": self.config.max_tokens,
            "messages": messages,
        });
        let mut request = self
            .client
            .post(url)
            .header("accept", "text/event-stream")
            .json(&body);
        if let Some(key) = &self.config.api_key {
            // reqwest marks the header sensitive, so it stays out of its own debug output too.
            request = request.bearer_auth(key.expose());
        }
        let response = tokio::time::timeout(self.idle_timeout, request.send())
            .await
            .map_err(|_| Failure::Idle)?
            .map_err(|e| Failure::Connect(chain(&e)))?;

        let status = response.status();
        if !status.is_success() {
            let body = tokio::time::timeout(self.idle_timeout, response.text()).await;
            let body = self.loggable(&body.ok().and_then(Result::ok).unwrap_or_default());
            let model = &self.config.model;
            tracing::warn!(%status, %body, %model, "provider refused the chat request");
            return Err(Failure::Status(status));
        }

        let mut events =
            std::pin::pin!(idle_guard(response.bytes_stream(), self.idle_timeout).eventsource());
        let mut finished = false;
        while let Some(event) = events.next().await {
            let event = event.map_err(|e| match e {
                EventStreamError::Transport(failure) => failure,
                // Invalid UTF-8 or an unparseable line: the stream cannot be trusted any more.
                other => Failure::Stream(other.to_string()),
            })?;
            let data = event.data.trim();
            if data == "[DONE]" {
                return Ok(());
            }
            let chunk: Chunk = match serde_json::from_str(data) {
                Ok(chunk) => chunk,
                Err(e) => {
                    tracing::debug!(error = %e, "skipping unparseable stream chunk");
                    continue;
                }
            };
            if let Some(usage) = chunk.usage.as_ref().and_then(|u| u.total_tokens) {
                *tokens = Some(usage);
            }
            if let Some(error) = chunk.error {
                // Ollama and others report mid-stream failures in-band, then close.
                return Err(Failure::Provider(self.loggable(&error.to_string())));
            }
            let Some(choice) = chunk.choices.into_iter().next() else {
                continue;
            };
            if let Some(piece) = choice
                .delta
                .and_then(|d| d.content)
                .filter(|p| !p.is_empty())
            {
                sink(&piece);
                text.push_str(&piece);
            }
            finished |= choice.finish_reason.is_some();
        }
        // Some servers stop after the `finish_reason` chunk without sending `[DONE]`; the model
        // said it was finished, so the reply is complete. Without it, the connection was cut.
        if finished {
            Ok(())
        } else {
            Err(Failure::Truncated)
        }
    }

    /// Provider text cut to a log-friendly length; some providers echo the key they rejected.
    fn loggable(&self, text: &str) -> String {
        let text = match &self.config.api_key {
            Some(key) if !key.expose().is_empty() => text.replace(key.expose().as_str(), "***"),
            _ => text.to_owned(),
        };
        text.chars().take(LOGGED_BODY_CHARS).collect()
    }
}

impl Agent for OpenAiAgent {
    fn run<'a>(&'a self, input: AgentInput<'a>, sink: &'a DeltaSink) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            let mut text = String::new();
            let (mut tokens, mut prompt_chars) = (None, 0);
            let result = match self
                .stream(input, sink, &mut text, &mut tokens, &mut prompt_chars)
                .await
            {
                Ok(()) if text.is_empty() => Err(Failure::Empty),
                other => other,
            };
            let outcome = match result {
                Ok(()) => Outcome::Ok,
                Err(failure) => {
                    let (model, streamed) = (&self.config.model, text.len());
                    tracing::warn!(%model, streamed, "chat turn failed: {failure}");
                    Outcome::Error(TurnError::Unavailable)
                }
            };
            // A provider that reports no usage is charged a token per character sent and
            // received: pessimistic, so a budget is not overrun.
            let tokens = tokens.or(Some((prompt_chars + text.chars().count()) as u64));
            Reply {
                text,
                outcome,
                tokens,
                choices: Vec::new(),
            }
        })
    }
}

/// What the chat page and the widget render of Markdown (`assets/rich.js`): anything else would
/// show as literal asterisks, hashes or pipes.
pub const FORMATTING: &str = "\n\nFormat replies as plain text with at most this Markdown: paragraphs \
     separated by a blank line, **bold**, *italic*, lists (lines starting with \"- \" or \"1. \") and \
     links as [text](https://…). No headings, tables, code blocks, images or HTML. Write web \
     addresses, e-mail addresses and phone numbers out in full: they become links by themselves.";

/// System prompt (persona plus the relevant knowledge), recent history, then the new message.
/// `query` is the message's vector when the knowledge has vectors: the knowledge put in the
/// prompt is then chosen by words and meaning together.
fn messages(input: &AgentInput<'_>, query: Option<&[f32]>) -> Vec<Value> {
    let mut system = if input.persona.trim().is_empty() {
        let name = Some(input.name.trim())
            .filter(|n| !n.is_empty())
            .unwrap_or("this business");
        format!(
            "You are the friendly assistant of {name}. Answer visitors' questions briefly and \
             politely. If you do not know the answer, say so rather than guessing."
        )
    } else {
        input.persona.trim().to_owned()
    };
    // The built-in engine's ranking. A message in a language the knowledge is not written in
    // matches nothing word for word, but a model reads across languages: it gets the first
    // entries instead.
    let all = input.knowledge.entries();
    let best = input.knowledge.best(input.message, query, KNOWLEDGE_LIMIT);
    let entries: Vec<_> = if best.foreign {
        all.iter().take(KNOWLEDGE_LIMIT).collect()
    } else {
        // `get` rather than indexing: a ranking bug must not take the turn down.
        best.entries.iter().filter_map(|&at| all.get(at)).collect()
    };
    if !entries.is_empty() {
        system.push_str("\n\nAnswer from this knowledge when it applies:");
        for entry in entries {
            let _ = match &entry.question {
                Some(q) => write!(system, "\nQ: {}\nA: {}", q.trim(), entry.answer.trim()),
                None => write!(system, "\n- {}", entry.answer.trim()),
            };
        }
    }

    system.push_str(FORMATTING);

    let recent = &input.history[input.history.len().saturating_sub(HISTORY_LIMIT)..];
    let mut out = Vec::with_capacity(recent.len() + 2);
    out.push(json!({ "role": "system", "content": system }));
    for m in recent {
        // The model speaks for the shop, so the owner's words are its own side of the dialogue.
        let role = match m.role {
            Role::User => "user",
            Role::Assistant | Role::Owner => "assistant",
        };
        out.push(json!({ "role": role, "content": m.content }));
    }
    out.push(json!({ "role": "user", "content": input.message }));
    out
}

/// Ends the byte stream with `Failure::Idle` when the provider goes silent; counting bytes rather
/// than events lets keepalive comments hold a slow (e.g. model-loading) stream open.
fn idle_guard<B>(
    bytes: impl Stream<Item = reqwest::Result<B>> + Send + 'static,
    idle: Duration,
) -> impl Stream<Item = Result<B, Failure>> {
    let bytes: Pin<Box<dyn Stream<Item = reqwest::Result<B>> + Send>> = Box::pin(bytes);
    stream::unfold(Some(bytes), move |state| async move {
        let mut bytes = state?;
        match tokio::time::timeout(idle, bytes.next()).await {
            Ok(Some(Ok(chunk))) => Some((Ok(chunk), Some(bytes))),
            Ok(Some(Err(e))) => Some((Err(Failure::Stream(chain(&e))), None)),
            Ok(None) => None,
            Err(_) => Some((Err(Failure::Idle), None)),
        }
    })
}

/// Why a turn failed: logged for the operator, never shown to the visitor.
#[derive(Debug)]
enum Failure {
    Connect(String),
    Status(reqwest::StatusCode),
    Provider(String),
    Stream(String),
    Idle,
    Truncated,
    Empty,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Connect(e) => write!(f, "could not reach the provider: {e}"),
            Failure::Status(s) => write!(f, "provider answered {s}"),
            Failure::Provider(e) => write!(f, "provider reported an error mid-stream: {e}"),
            Failure::Stream(e) => write!(f, "stream broke: {e}"),
            Failure::Idle => f.write_str("provider went silent"),
            Failure::Truncated => f.write_str("stream ended before [DONE]"),
            Failure::Empty => f.write_str("provider sent an empty reply"),
        }
    }
}

/// reqwest's own message hides the cause ("connection refused") in its source chain.
pub(super) fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let _ = write!(out, ": {cause}");
        source = cause.source();
    }
    out
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
    error: Option<Value>,
    /// The last chunk's, with `stream_options.include_usage`.
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Usage {
    total_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct Choice {
    delta: Option<Delta>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    content: Option<String>,
}
