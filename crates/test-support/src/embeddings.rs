//! A fake OpenAI-compatible embeddings server on 127.0.0.1:0: it speaks the real `/embeddings`
//! protocol and records what it was asked. It stands in for a real embedding model (which does
//! not run here), so its vectors are made from the words: each word gets a dimension of its own
//! (hashed), and each group of words the test says mean the same thing ("coeliac", "gluten")
//! shares one strong dimension, as a model's vectors would put them close.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// Hashed word dimensions, then one per group of words that mean the same.
const WORD_DIMS: usize = 256;
/// What a shared meaning weighs against a word.
const MEANING_WEIGHT: f32 = 3.0;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Asked {
    pub authorization: Option<String>,
    pub model: String,
    pub texts: Vec<String>,
}

#[derive(Clone)]
struct Shared {
    meanings: Arc<Vec<Vec<String>>>,
    asked: Arc<Mutex<Vec<Asked>>>,
    /// 0: answer; otherwise the status every request gets.
    failing: Arc<AtomicU16>,
    /// Answer 200 with what is not embeddings: the request's Authorization header echoed back,
    /// as a confused proxy might.
    garbage: Arc<AtomicBool>,
}

/// A running fake embeddings server; it serves until the test's runtime ends.
#[derive(Clone)]
pub struct FakeEmbeddings {
    /// `http://127.0.0.1:<port>/v1`, what an agent's embeddings URL is set to.
    pub base_url: String,
    shared: Shared,
}

impl FakeEmbeddings {
    /// `meanings`: groups of lowercase words that mean the same thing.
    pub async fn start(meanings: &[&[&str]]) -> FakeEmbeddings {
        let shared = Shared {
            meanings: Arc::new(
                meanings
                    .iter()
                    .map(|g| g.iter().map(|w| (*w).to_owned()).collect())
                    .collect(),
            ),
            asked: Arc::new(Mutex::new(Vec::new())),
            failing: Arc::new(AtomicU16::new(0)),
            garbage: Arc::new(AtomicBool::new(false)),
        };
        let app = Router::new()
            .route("/v1/embeddings", post(embed))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake embeddings server");
        let addr = listener.local_addr().expect("its address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeEmbeddings {
            base_url: format!("http://{addr}/v1"),
            shared,
        }
    }

    /// From now on every request gets `status` (0: answer again).
    pub fn fail_with(&self, status: u16) {
        self.shared.failing.store(status, Ordering::SeqCst);
    }

    /// From now on (or no longer) every request gets a 200 that is not embeddings but echoes
    /// its Authorization header.
    pub fn echo_garbage(&self, on: bool) {
        self.shared.garbage.store(on, Ordering::SeqCst);
    }

    /// Every request so far, oldest first.
    pub fn asked(&self) -> Vec<Asked> {
        self.shared
            .asked
            .lock()
            .map(|a| a.clone())
            .unwrap_or_default()
    }

    /// Every text embedded so far.
    pub fn texts(&self) -> Vec<String> {
        self.asked().into_iter().flat_map(|a| a.texts).collect()
    }
}

fn vector(text: &str, meanings: &[Vec<String>]) -> Vec<f32> {
    let mut v = vec![0.0f32; WORD_DIMS + meanings.len()];
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let word = word.to_lowercase();
        let mut h = DefaultHasher::new();
        word.hash(&mut h);
        v[(h.finish() % WORD_DIMS as u64) as usize] += 1.0;
        for (i, group) in meanings.iter().enumerate() {
            if group.iter().any(|g| word.starts_with(g.as_str())) {
                v[WORD_DIMS + i] += MEANING_WEIGHT;
            }
        }
    }
    v
}

async fn embed(State(shared): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let Ok(body) = serde_json::from_str::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "not JSON").into_response();
    };
    let texts: Vec<String> = match &body["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect(),
        _ => return (StatusCode::BAD_REQUEST, "no input").into_response(),
    };
    if let Ok(mut asked) = shared.asked.lock() {
        asked.push(Asked {
            authorization: headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            model: body["model"].as_str().unwrap_or_default().to_owned(),
            texts: texts.clone(),
        });
    }
    if shared.garbage.load(Ordering::SeqCst) {
        let echoed = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        return axum::Json(json!({ "data": echoed })).into_response();
    }
    let failing = shared.failing.load(Ordering::SeqCst);
    if failing != 0 {
        let status = StatusCode::from_u16(failing).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (status, r#"{"error":{"message":"down"}}"#).into_response();
    }
    let data: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| json!({ "object": "embedding", "index": i, "embedding": vector(t, &shared.meanings) }))
        .collect();
    axum::Json(json!({ "object": "list", "data": data, "model": body["model"] })).into_response()
}
