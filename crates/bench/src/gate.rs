//! A three-phase gate (waiting → released → finished) that the baseline holds its streams on,
//! so the bench can publish one frame to every open stream at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use tokio::sync::watch;

pub const WAITING: u8 = 0;
pub const RELEASED: u8 = 1;
pub const FINISHED: u8 = 2;

#[derive(Clone)]
pub struct Gate {
    phase: Arc<watch::Sender<u8>>,
    holding: Arc<AtomicUsize>,
}

impl Default for Gate {
    fn default() -> Gate {
        Gate {
            phase: Arc::new(watch::Sender::new(WAITING)),
            holding: Arc::new(AtomicUsize::new(0)),
        }
    }
}

/// Counts one held stream while alive.
pub struct Held(Arc<AtomicUsize>);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Gate {
    pub fn hold(&self) -> Held {
        self.holding.fetch_add(1, Ordering::AcqRel);
        Held(self.holding.clone())
    }

    /// Waits until the gate reaches `phase` (or returns at once if it already has).
    pub async fn reached(&self, phase: u8) {
        let mut rx = self.phase.subscribe();
        let _ = rx.wait_for(|p| *p >= phase).await;
    }

    /// `/gate/release`, `/gate/finish`, `/gate/holding`: the bench's remote control.
    pub fn routes<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        Router::new()
            .route(
                "/gate/release",
                post(|State(g): State<Gate>| async move {
                    g.phase.send_replace(RELEASED);
                }),
            )
            .route(
                "/gate/finish",
                post(|State(g): State<Gate>| async move {
                    g.phase.send_replace(FINISHED);
                }),
            )
            .route(
                "/gate/holding",
                get(|State(g): State<Gate>| async move {
                    g.holding.load(Ordering::Acquire).to_string()
                }),
            )
            .with_state(self.clone())
    }
}
