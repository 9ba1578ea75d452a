//! A client of an OpenAI-compatible `/embeddings` endpoint (Ollama, LM Studio, llama.cpp's
//! server, OpenAI…): texts in, vectors out, for optional semantic matching
//! ([`super::retrieval::semantic`]).
//!
//! Everything the server sends is bounded before it is believed: the body's size, the number of
//! vectors and their length, and every value finite. A server that answers anything else is
//! reported as failing and the agent matches by words alone.

use std::fmt;
use std::time::Duration;

use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;

use crate::secret::Sensitive;

/// Texts sent in one request: large enough to embed a knowledge base in a few requests, small
/// enough that one answer stays well under [`MAX_BODY_BYTES`].
pub const BATCH: usize = 64;
/// The longest vector believed (OpenAI's largest model has 3,072 dimensions).
pub const MAX_DIMS: usize = 8_192;
/// What one vector may take as JSON: [`MAX_DIMS`] floats of up to 24 characters each. An
/// answer is bounded by the texts asked for, so one message's vector is never a 32 MiB parse.
const MAX_VECTOR_BYTES: usize = MAX_DIMS * 24;
const MAX_BODY_BYTES: usize = 32 << 20;

/// Where the embeddings come from. `Debug` is safe to log: the key prints as `***`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddingsConfig {
    /// Up to and including the version, e.g. `http://127.0.0.1:11434/v1`.
    pub base_url: String,
    pub model: String,
    pub api_key: Option<Sensitive<String>>,
}

impl EmbeddingsConfig {
    /// What cached vectors are filed under: another server or model makes other vectors.
    pub fn identity(&self) -> String {
        format!("{} {}", self.base_url, self.model)
    }
}

/// Why embedding failed: for the owner and the log, never for a visitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmbedFailure {
    Connect(String),
    Timeout,
    Status(u16),
    TooLarge,
    Malformed(String),
}

impl fmt::Display for EmbedFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmbedFailure::Connect(e) => write!(f, "could not reach the embeddings server: {e}"),
            EmbedFailure::Timeout => f.write_str("the embeddings server did not answer in time"),
            EmbedFailure::Status(s) => write!(f, "the embeddings server answered {s}"),
            EmbedFailure::TooLarge => f.write_str("the embeddings server's answer was too large"),
            EmbedFailure::Malformed(e) => {
                write!(f, "the embeddings server's answer was not embeddings: {e}")
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct Embedder {
    config: EmbeddingsConfig,
    client: reqwest::Client,
}

#[derive(Deserialize)]
struct Answer {
    data: Vec<Datum>,
}

#[derive(Deserialize)]
struct Datum {
    index: usize,
    embedding: Vec<f32>,
}

impl Embedder {
    /// `client` is shared with the rest of the server (it follows no redirects: a 307 would
    /// send the texts and the key wherever the server points).
    pub fn new(config: EmbeddingsConfig, client: reqwest::Client) -> Embedder {
        Embedder { config, client }
    }

    pub fn config(&self) -> &EmbeddingsConfig {
        &self.config
    }

    /// One vector per text, in order; at most [`BATCH`] texts, answered within `deadline`.
    pub async fn embed(
        &self,
        texts: &[String],
        deadline: Duration,
    ) -> Result<Vec<Vec<f32>>, EmbedFailure> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        if texts.len() > BATCH {
            return Err(EmbedFailure::Malformed(format!(
                "{} texts in one request (at most {BATCH})",
                texts.len()
            )));
        }
        tokio::time::timeout(deadline, self.request(texts))
            .await
            .unwrap_or(Err(EmbedFailure::Timeout))
    }

    /// One vector per text, in order, however many: [`BATCH`] at a time, each batch within
    /// `deadline`.
    pub async fn embed_all(
        &self,
        texts: &[String],
        deadline: Duration,
    ) -> Result<Vec<Vec<f32>>, EmbedFailure> {
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(BATCH) {
            out.extend(self.embed(batch, deadline).await?);
        }
        Ok(out)
    }

    async fn request(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedFailure> {
        let url = format!("{}/embeddings", self.config.base_url.trim_end_matches('/'));
        let mut request = self
            .client
            .post(url)
            .json(&json!({ "model": self.config.model, "input": texts }));
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key.expose());
        }
        let response = request
            .send()
            .await
            .map_err(|e| EmbedFailure::Connect(super::openai::chain(&e)))?;
        if !response.status().is_success() {
            return Err(EmbedFailure::Status(response.status().as_u16()));
        }
        let limit = (texts.len() * MAX_VECTOR_BYTES + 4096).min(MAX_BODY_BYTES);
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(EmbedFailure::TooLarge);
        }
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| EmbedFailure::Connect(super::openai::chain(&e)))?;
            if body.len() + chunk.len() > limit {
                return Err(EmbedFailure::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        // serde's message quotes what it could not read, which may be anything the server
        // echoed (a key among it): only where it went wrong is kept.
        let answer: Answer = serde_json::from_slice(&body).map_err(|e| {
            EmbedFailure::Malformed(format!(
                "not embeddings JSON (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        order(answer, texts.len())
    }
}

/// The vectors in the order of the texts, each checked.
fn order(answer: Answer, count: usize) -> Result<Vec<Vec<f32>>, EmbedFailure> {
    let bad = |why: &str| Err(EmbedFailure::Malformed(why.to_owned()));
    if answer.data.len() != count {
        return bad(&format!("{} vectors for {count} texts", answer.data.len()));
    }
    let mut out: Vec<Option<Vec<f32>>> = vec![None; count];
    let mut dims = None;
    for d in answer.data {
        let n = d.embedding.len();
        if n == 0 || n > MAX_DIMS || dims.is_some_and(|m| m != n) {
            return bad("vectors of differing or unlikely lengths");
        }
        if d.embedding.iter().any(|x| !x.is_finite()) {
            return bad("a value that is not a number");
        }
        dims = Some(n);
        match out.get_mut(d.index) {
            Some(slot @ None) => *slot = Some(d.embedding),
            _ => return bad("a vector's index is out of place"),
        }
    }
    Ok(out.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(data: Vec<(usize, Vec<f32>)>) -> Answer {
        Answer {
            data: data
                .into_iter()
                .map(|(index, embedding)| Datum { index, embedding })
                .collect(),
        }
    }

    #[test]
    fn vectors_come_back_in_the_order_of_the_texts() {
        let got = order(answer(vec![(1, vec![2.0]), (0, vec![1.0])]), 2).expect("ordered");
        assert_eq!(got, vec![vec![1.0], vec![2.0]]);
    }

    #[test]
    fn a_short_duplicated_or_odd_answer_is_refused() {
        assert!(order(answer(vec![(0, vec![1.0])]), 2).is_err(), "too few");
        assert!(
            order(answer(vec![(0, vec![1.0]), (0, vec![2.0])]), 2).is_err(),
            "an index twice"
        );
        assert!(
            order(answer(vec![(0, vec![1.0]), (5, vec![2.0])]), 2).is_err(),
            "out of range"
        );
        assert!(
            order(answer(vec![(0, vec![1.0]), (1, vec![2.0, 3.0])]), 2).is_err(),
            "lengths differ"
        );
        assert!(order(answer(vec![(0, vec![])]), 1).is_err(), "empty");
        assert!(
            order(answer(vec![(0, vec![0.5; MAX_DIMS + 1])]), 1).is_err(),
            "too long"
        );
    }

    #[test]
    fn the_identity_names_server_and_model_and_debug_hides_the_key() {
        let c = EmbeddingsConfig {
            base_url: "http://127.0.0.1:11434/v1".into(),
            model: "nomic-embed-text".into(),
            api_key: Some(Sensitive::new("sk-secret".into())),
        };
        assert_eq!(c.identity(), "http://127.0.0.1:11434/v1 nomic-embed-text");
        assert!(!format!("{c:?}").contains("sk-secret"));
    }
}
