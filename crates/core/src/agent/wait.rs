//! (Built only with the `bench` feature.) An agent that waits: every turn of folder
//! [`FOLDER`] holds until the process receives SIGUSR1, then sends one delta; the next SIGUSR1
//! ends it. It lets the benchmark hold thousands of turns open and publish one frame to all of
//! them without a socket per turn to a remote provider.

use std::sync::OnceLock;

use tokio::sync::watch;

use super::{Agent, AgentInput, BoxFuture, DeltaSink, Reply};
use crate::model::Outcome;

/// The folder whose turns this agent runs in a bench build.
pub const FOLDER: &str = "bench-wait";

pub struct WaitAgent;

/// How many SIGUSR1 the process has received; the handler is installed on first use.
fn signals() -> watch::Receiver<u32> {
    static SIGNALS: OnceLock<watch::Sender<u32>> = OnceLock::new();
    SIGNALS
        .get_or_init(|| {
            let tx = watch::Sender::new(0);
            let count = tx.clone();
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1()) {
                Ok(mut sig) => {
                    tokio::spawn(async move {
                        while sig.recv().await.is_some() {
                            count.send_modify(|n| *n += 1);
                        }
                    });
                }
                Err(e) => tracing::error!(error = %e, "cannot listen for SIGUSR1"),
            }
            tx
        })
        .subscribe()
}

impl Agent for WaitAgent {
    fn run<'a>(&'a self, _: AgentInput<'a>, sink: &'a DeltaSink) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            let mut rx = signals();
            let start = *rx.borrow_and_update();
            let _ = rx.wait_for(|n| *n > start).await;
            sink("go");
            let _ = rx.wait_for(|n| *n > start + 1).await;
            Reply::new("go", Outcome::Ok)
        })
    }
}
