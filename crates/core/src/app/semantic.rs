//! Owner calls and background work for optional semantic matching: which embeddings server an
//! agent uses, and keeping its knowledge's vectors in step with the knowledge.
//!
//! Vectors are cached in the database by text, so a knowledge revision embeds only the texts
//! that changed. Building an agent's index never waits for the server: the index is used with
//! words alone while a background task embeds what is missing, then the cached index is dropped
//! so the next message picks the vectors up. A server that fails is tried again after a pause,
//! and what went wrong is shown with the agent.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::agents::{provider_url, secret_line, text};
use super::{App, Inner};
use crate::agent::KnowledgeBase;
use crate::agent::embed::{BATCH, Embedder, EmbeddingsConfig};
use crate::agent::retrieval::Semantic;
use crate::agent::retrieval::semantic::{Side, Vectors, texts_of};
use crate::error::Result;
use crate::model::now_ms;
use crate::secret::Sensitive;
use crate::store::{EmbeddingsRow, FolderRow, TextHash};

/// One batch of the knowledge's texts may take this long.
const BATCH_DEADLINE: Duration = Duration::from_secs(60);
/// After a failure, the server is not asked again for this long.
const RETRY_AFTER_MS: i64 = 60_000;

/// Where an agent's knowledge is embedded for semantic matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddingsSetting {
    /// Up to and including the version: `http://127.0.0.1:11434/v1`.
    pub base_url: String,
    pub model: String,
}

/// Semantic matching as the owner sees it: the key only as set / not set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EmbeddingsInfo {
    pub base_url: String,
    pub model: String,
    pub api_key_set: bool,
    /// The knowledge's vectors are in use.
    pub ready: bool,
    /// Why they are not, when the server failed (for the owner, in plain words).
    pub problem: Option<String>,
}

/// How an agent's embedding work stands, per agent.
#[derive(Debug, Default)]
pub(super) struct EmbedState {
    /// The knowledge revision a task is embedding.
    running: Option<i64>,
    failed_at: Option<i64>,
    problem: Option<String>,
}

/// The texts of the knowledge with their hashes, in the order of the entries.
fn texts(base: &KnowledgeBase) -> Vec<(usize, Side, String, TextHash)> {
    base.entries()
        .iter()
        .enumerate()
        .flat_map(|(at, e)| {
            texts_of(e).into_iter().map(move |(side, text)| {
                let hash: TextHash = Sha256::digest(text.as_bytes()).into();
                (at, side, text, hash)
            })
        })
        .collect()
}

impl Inner {
    pub(super) fn embeddings_key_name(&self, slug: &str) -> String {
        format!("{}/agent/{slug}/embeddings-key", self.namespace)
    }

    fn embedder(&self, slug: &str, row: &EmbeddingsRow) -> Result<Embedder> {
        Ok(Embedder::new(
            EmbeddingsConfig {
                base_url: row.base_url.clone(),
                model: row.model.clone(),
                api_key: self.secrets.get(&self.embeddings_key_name(slug))?,
            },
            self.http.clone(),
        ))
    }

    /// `base` with its vectors when every text's is cached; otherwise `base` as it is, and a
    /// background task embeds the rest (unless one is already at it, or the server failed a
    /// moment ago).
    pub(super) fn with_vectors(
        &self,
        folder: &FolderRow,
        base: KnowledgeBase,
    ) -> Result<KnowledgeBase> {
        let Some(row) = &folder.embeddings else {
            return Ok(base);
        };
        let embedder = self.embedder(&folder.slug, row)?;
        let model = embedder.config().identity();
        let texts = texts(&base);
        let cached = self.store.embeddings(&folder.slug, &model)?;
        let missing: Vec<(String, TextHash)> = texts
            .iter()
            .filter(|t| !cached.contains_key(&t.3))
            .map(|t| (t.2.clone(), t.3))
            .collect();
        if missing.is_empty() {
            let units = texts
                .iter()
                .filter_map(|(at, side, _, hash)| Some((*at, *side, cached.get(hash)?.clone())))
                .collect();
            if let Some(vectors) = Vectors::new(units) {
                return Ok(base.with_semantic(Semantic::new(embedder, vectors)));
            }
            if !texts.is_empty()
                && let Ok(mut states) = self.embedding.lock()
            {
                states.entry(folder.slug.clone()).or_default().problem =
                    Some("the embeddings server's vectors were all empty or unreadable".into());
            }
            return Ok(base);
        }
        let keep: HashSet<TextHash> = texts.iter().map(|t| t.3).collect();
        self.start_embedding(folder, embedder, missing, keep);
        Ok(base)
    }

    fn start_embedding(
        &self,
        folder: &FolderRow,
        embedder: Embedder,
        missing: Vec<(String, TextHash)>,
        keep: HashSet<TextHash>,
    ) {
        let (Some(inner), Ok(runtime)) = (self.me.upgrade(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let (slug, rev) = (folder.slug.clone(), folder.knowledge_rev);
        {
            let Ok(mut states) = self.embedding.lock() else {
                return;
            };
            let state = states.entry(slug.clone()).or_default();
            let recently_failed = state
                .failed_at
                .is_some_and(|t| now_ms().saturating_sub(t) < RETRY_AFTER_MS);
            if state.running.is_some() || recently_failed {
                return;
            }
            state.running = Some(rev);
        }
        let shutdown = self.shutdown.clone();
        let tracker = self.tasks.clone();
        let _guard = runtime.enter();
        tracker.spawn(async move {
            let work = embed_missing(&inner, &slug, &embedder, missing, keep);
            let outcome = tokio::select! {
                r = work => r,
                () = shutdown.cancelled() => return,
            };
            if let Ok(mut states) = inner.embedding.lock() {
                let state = states.entry(slug.clone()).or_default();
                state.running = None;
                match &outcome {
                    Ok(()) => {
                        state.failed_at = None;
                        state.problem = None;
                    }
                    Err(problem) => {
                        state.failed_at = Some(now_ms());
                        state.problem = Some(problem.clone());
                    }
                }
            }
            match outcome {
                // The index is built again now, with every vector cached, so the owner sees it
                // in use and the next visitor does not wait for the build.
                Ok(()) => {
                    inner.forget_knowledge(&slug);
                    let rebuilt = Arc::clone(&inner);
                    let built = tokio::task::spawn_blocking(move || {
                        let folder = rebuilt.store.folder(&slug)?;
                        rebuilt.knowledge_base(&folder).map(|_| ())
                    })
                    .await;
                    if let Ok(Err(e)) = built {
                        tracing::warn!(error = %e, "could not build the knowledge index after embedding it");
                    }
                }
                Err(problem) => tracing::warn!(
                    agent = slug,
                    "the agent's knowledge could not be embedded; it matches by words alone: {problem}"
                ),
            }
        });
    }

    /// Drops an agent's built index, so the next use builds it again.
    pub(super) fn forget_knowledge(&self, slug: &str) {
        if let Ok(mut cache) = self.knowledge.lock() {
            cache.remove(slug);
        }
    }

    pub(super) fn embeddings_info(&self, folder: &FolderRow) -> Result<Option<EmbeddingsInfo>> {
        let Some(row) = &folder.embeddings else {
            return Ok(None);
        };
        let ready = self.knowledge.lock().ok().is_some_and(|cache| {
            cache
                .get(&folder.slug)
                .is_some_and(|c| c.rev == folder.knowledge_rev && c.base.semantic().is_some())
        });
        let problem = self
            .embedding
            .lock()
            .ok()
            .and_then(|s| s.get(&folder.slug).and_then(|s| s.problem.clone()));
        Ok(Some(EmbeddingsInfo {
            base_url: row.base_url.clone(),
            model: row.model.clone(),
            api_key_set: self
                .secrets
                .get(&self.embeddings_key_name(&folder.slug))?
                .is_some(),
            ready,
            problem: if ready { None } else { problem },
        }))
    }
}

/// Embeds `missing` in batches and files the vectors (forgetting those of texts gone).
async fn embed_missing(
    inner: &Arc<Inner>,
    slug: &str,
    embedder: &Embedder,
    missing: Vec<(String, TextHash)>,
    keep: HashSet<TextHash>,
) -> std::result::Result<(), String> {
    // One vector per distinct text: two entries may share an answer.
    let mut unique: HashMap<TextHash, String> = HashMap::new();
    for (text, hash) in missing {
        unique.entry(hash).or_insert(text);
    }
    let unique: Vec<(TextHash, String)> = unique.into_iter().collect();
    let mut made: Vec<(TextHash, Vec<f32>)> = Vec::with_capacity(unique.len());
    for batch in unique.chunks(BATCH) {
        let texts: Vec<String> = batch.iter().map(|(_, t)| t.clone()).collect();
        let vectors = embedder
            .embed(&texts, BATCH_DEADLINE)
            .await
            .map_err(|e| e.to_string())?;
        made.extend(batch.iter().map(|(h, _)| *h).zip(vectors));
    }
    let (store, slug, model) = (
        Arc::clone(&inner.store),
        slug.to_owned(),
        embedder.config().identity(),
    );
    tokio::task::spawn_blocking(move || store.put_embeddings(&slug, &model, &made, &keep))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

impl App {
    /// Points the agent's knowledge at an embeddings server (or, with `None`, back to words
    /// alone). The knowledge is embedded in the background; until then words alone match.
    pub async fn set_embeddings(
        &self,
        slug: &str,
        setting: Option<EmbeddingsSetting>,
    ) -> Result<super::AgentInfo> {
        let row = setting
            .map(|s| {
                Ok::<_, crate::error::Error>(EmbeddingsRow {
                    base_url: provider_url(&s.base_url)?,
                    model: text("embeddings model name", &s.model, 1, 200)?,
                })
            })
            .transpose()?;
        let slug = slug.to_owned();
        self.blocking(move |i| {
            let folder = i.store.set_embeddings(&slug, row.as_ref())?;
            if let Ok(mut states) = i.embedding.lock() {
                states.remove(&slug);
            }
            // Start embedding now, not at the first visitor's message.
            i.knowledge_base(&folder)?;
            i.agent_info(folder)
        })
        .await
    }

    /// Keeps (or with `None`, forgets) the key the agent's embeddings server wants.
    pub async fn set_embeddings_key(
        &self,
        slug: &str,
        key: Option<Sensitive<String>>,
    ) -> Result<super::AgentInfo> {
        let key = key.map(|k| secret_line(&k)).transpose()?;
        let slug = slug.to_owned();
        self.blocking(move |i| {
            let row = i.store.folder(&slug)?;
            let name = i.embeddings_key_name(&slug);
            match key {
                Some(k) => i.secrets.set(&name, &k)?,
                None => i.secrets.delete(&name)?,
            }
            if let Ok(mut states) = i.embedding.lock() {
                states.remove(&slug);
            }
            // Built again at once: the cached vectors still hold, and a message embedded from
            // now on carries the new key.
            i.forget_knowledge(&slug);
            i.knowledge_base(&row)?;
            i.agent_info(row)
        })
        .await
    }
}
