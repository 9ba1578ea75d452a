//! (Built only with the `bench` feature.) A deliberate slowdown, to show that the quick bench's
//! guard fails when the code gets slower: with `CHATLINK_BENCH_SLOWDOWN_MS=<n>` in its
//! environment, a bench build of `serve` waits `n` ms before it serves and before each turn
//! starts. Release builds without the feature have no such switch.

use std::sync::OnceLock;
use std::time::Duration;

/// The configured delay, read once.
fn delay() -> Option<Duration> {
    static DELAY: OnceLock<Option<Duration>> = OnceLock::new();
    *DELAY.get_or_init(|| {
        std::env::var("CHATLINK_BENCH_SLOWDOWN_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis)
    })
}

/// Waits the configured delay, if any.
pub async fn pause() {
    if let Some(d) = delay() {
        tokio::time::sleep(d).await;
    }
}
