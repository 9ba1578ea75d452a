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
use crate::agent::embed::{Embedder, EmbeddingsConfig};
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
    /// Moves when the owner changes the server, model or key: a task started before keeps
    /// nothing it made, and a new one may start at once.
    generation: u64,
    running: bool,
    failed_at: Option<i64>,
    problem: Option<String>,
}

impl EmbedState {
    fn may_start(&self) -> bool {
        !self.running
            && self
                .failed_at
                .is_none_or(|t| now_ms().saturating_sub(t) >= RETRY_AFTER_MS)
    }

    fn failed(&mut self, problem: String) {
        self.running = false;
        self.failed_at = Some(now_ms());
        self.problem = Some(problem);
    }

    /// The owner changed the setting: start over.
    fn restart(&mut self) {
        *self = EmbedState {
            generation: self.generation.wrapping_add(1),
            ..EmbedState::default()
        };
    }
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

    /// Whether a built index lacks vectors it could get now: matching by meaning is on, the
    /// knowledge has texts, and no task is at it or failed a moment ago. Such an index is
    /// built again at its next use, which starts embedding what is missing; so a server that
    /// was down is tried again after a minute.
    pub(super) fn wants_vectors(&self, folder: &FolderRow, base: &KnowledgeBase) -> bool {
        folder.embeddings.is_some()
            && base.semantic().is_none()
            && !base.entries().is_empty()
            && self
                .embedding
                .lock()
                .is_ok_and(|s| s.get(&folder.slug).is_none_or(EmbedState::may_start))
    }

    /// `base` with its vectors when every text's is cached; otherwise `base` as it is, and a
    /// background task embeds the rest (unless one is already at it, or the server failed a
    /// moment ago). Never fails: trouble with the key or the cache leaves words alone and is
    /// told to the owner, and the visitor's turn goes on.
    pub(super) fn with_vectors(&self, folder: &FolderRow, base: KnowledgeBase) -> KnowledgeBase {
        let Some(row) = &folder.embeddings else {
            return base;
        };
        let texts = texts(&base);
        if texts.is_empty() {
            return base;
        }
        let found = self.embedder(&folder.slug, row).and_then(|embedder| {
            let cached = self
                .store
                .embeddings(&folder.slug, &embedder.config().identity())?;
            Ok((embedder, cached))
        });
        let (embedder, cached) = match found {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(agent = folder.slug, error = %e, "matching by words alone");
                self.record_failure(&folder.slug, e.to_string());
                return base;
            }
        };
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
                return base.with_semantic(Semantic::new(embedder, vectors));
            }
            self.record_failure(
                &folder.slug,
                "the embeddings server's vectors were all empty or unreadable".into(),
            );
            return base;
        }
        let keep: HashSet<TextHash> = texts.iter().map(|t| t.3).collect();
        self.start_embedding(folder, embedder, missing, keep);
        base
    }

    fn record_failure(&self, slug: &str, problem: String) {
        if let Ok(mut states) = self.embedding.lock() {
            states.entry(slug.to_owned()).or_default().failed(problem);
        }
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
        let slug = folder.slug.clone();
        let generation = {
            let Ok(mut states) = self.embedding.lock() else {
                return;
            };
            let state = states.entry(slug.clone()).or_default();
            if !state.may_start() {
                return;
            }
            state.running = true;
            state.generation
        };
        let shutdown = self.shutdown.clone();
        let tracker = self.tasks.clone();
        let _guard = runtime.enter();
        tracker.spawn(async move {
            let work = embed_missing(&embedder, missing);
            let made = tokio::select! {
                r = work => r,
                () = shutdown.cancelled() => return,
            };
            let model = embedder.config().identity();
            let task = Arc::clone(&inner);
            let done = tokio::task::spawn_blocking(move || {
                // The vectors are kept, and the state changed, only if the owner has not
                // changed the setting meanwhile: the lock is held across the write so a
                // newer task's vectors are never swept by an older one.
                let Ok(mut states) = task.embedding.lock() else {
                    return false;
                };
                let state = states.entry(slug.clone()).or_default();
                if state.generation != generation {
                    return false;
                }
                let stored = made.and_then(|made| {
                    task.store
                        .put_embeddings(&slug, &model, &made, &keep)
                        .map_err(|e| e.to_string())
                });
                match stored {
                    Ok(()) => {
                        *state = EmbedState {
                            generation,
                            ..EmbedState::default()
                        };
                        drop(states);
                        // Built again now, with every vector cached, so the owner sees it in
                        // use and the next visitor does not wait for the build.
                        task.forget_knowledge(&slug);
                        if let Err(e) = task.store.folder(&slug).map(|f| task.knowledge_base(&f)) {
                            tracing::warn!(error = %e, "could not build the knowledge index after embedding it");
                        }
                    }
                    Err(problem) => {
                        tracing::warn!(
                            agent = slug,
                            "the agent's knowledge could not be embedded; it matches by words alone: {problem}"
                        );
                        state.failed(problem);
                    }
                }
                true
            })
            .await;
            if done.is_err() {
                tracing::warn!("the embedding task's last step failed");
            }
        });
    }

    /// Drops an agent's built index, so the next use builds it again.
    pub(super) fn forget_knowledge(&self, slug: &str) {
        if let Ok(mut cache) = self.knowledge.lock() {
            cache.remove(slug);
        }
    }

    /// The owner changed the server, model or key: what a running task makes is dropped, a
    /// failure is forgotten, and the index is built again with the new setting.
    fn restart_embedding(&self, slug: &str) {
        if let Ok(mut states) = self.embedding.lock() {
            states.entry(slug.to_owned()).or_default().restart();
        }
        self.forget_knowledge(slug);
    }

    pub(super) fn embeddings_info(&self, folder: &FolderRow) -> Result<Option<EmbeddingsInfo>> {
        let Some(row) = &folder.embeddings else {
            return Ok(None);
        };
        // Built (or embedding started) here too, so the window sees the state move without
        // waiting for a visitor's message.
        let ready = self
            .knowledge_base(folder)
            .is_ok_and(|b| b.semantic().is_some() || b.entries().is_empty());
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

/// Embeds `missing` in batches: each distinct text once (two entries may share an answer).
async fn embed_missing(
    embedder: &Embedder,
    missing: Vec<(String, TextHash)>,
) -> std::result::Result<Vec<(TextHash, Vec<f32>)>, String> {
    let mut unique: HashMap<TextHash, String> = HashMap::new();
    for (text, hash) in missing {
        unique.entry(hash).or_insert(text);
    }
    let (hashes, texts): (Vec<TextHash>, Vec<String>) = unique.into_iter().unzip();
    let vectors = embedder
        .embed_all(&texts, BATCH_DEADLINE)
        .await
        .map_err(|e| e.to_string())?;
    Ok(hashes.into_iter().zip(vectors).collect())
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
                    base_url: provider_url("embeddings server", &s.base_url)?,
                    model: text("embeddings model name", &s.model, 1, 200)?,
                })
            })
            .transpose()?;
        let slug = slug.to_owned();
        self.blocking(move |i| {
            let folder = i.store.set_embeddings(&slug, row.as_ref())?;
            // Embedding starts now (agent_info builds the index), not at the first message.
            i.restart_embedding(&slug);
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
            i.store.folder(&slug)?;
            let name = i.embeddings_key_name(&slug);
            match key {
                Some(k) => i.secrets.set(&name, &k)?,
                None => i.secrets.delete(&name)?,
            }
            // The revision moves so a server in another process (the CLI set the key) builds
            // its index again too: a message embedded from now on carries the new key.
            let row = i.store.touch_knowledge(&slug)?;
            i.restart_embedding(&slug);
            i.agent_info(row)
        })
        .await
    }
}
