//! The conversation-level stream: every stored frame of one conversation after the visitor's
//! cursor, then each new one as it is committed (a turn's frames when it ends, an owner's
//! message at once), until the link is revoked or the server shuts down. It never ends on its
//! own. Frames carry the same `id:` (their seq) as on the per-turn stream, so `Last-Event-ID`
//! resumes it the same way.
//!
//! Deltas of a running turn are not here (they live in the hub until the turn ends): the page
//! streams its own turns on the per-turn stream and takes from this one what it did not start,
//! such as the owner's messages.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::hub::{FrameStream, Hub, SourceSlot, StreamSlot};
use crate::model::EncodedFrame;
use crate::store::Store;

/// Frames read from the store per query.
const PAGE: usize = 256;

struct Feed {
    store: Arc<Store>,
    hub: Arc<Hub>,
    conversation_id: String,
    rx: Option<watch::Receiver<u64>>,
    pending: VecDeque<EncodedFrame>,
    cursor: i64,
    switch: CancellationToken,
    _slot: StreamSlot,
    _feed: SourceSlot,
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.rx.take();
        self.hub.unwatch_conversation(&self.conversation_id);
    }
}

/// The conversation's frames after `cursor`, then new ones as they are stored.
pub fn subscribe(
    store: Arc<Store>,
    hub: Arc<Hub>,
    conversation_id: String,
    cursor: i64,
    switch: CancellationToken,
    slot: (StreamSlot, SourceSlot),
) -> FrameStream {
    // Watch before the first read: a commit between the read and the wait still wakes us.
    let rx = Some(hub.watch_conversation(&conversation_id));
    let feed = Feed {
        store,
        hub,
        conversation_id,
        rx,
        pending: VecDeque::new(),
        cursor,
        switch,
        _slot: slot.0,
        _feed: slot.1,
    };
    Box::pin(futures_util::stream::unfold(feed, |mut feed| async move {
        loop {
            if feed.switch.is_cancelled() {
                return None;
            }
            if let Some(frame) = feed.pending.pop_front() {
                feed.cursor = frame.seq;
                return Some((frame, feed));
            }
            if let Some(rx) = feed.rx.as_mut() {
                rx.borrow_and_update();
            }
            let (store, id, after) = (
                feed.store.clone(),
                feed.conversation_id.clone(),
                feed.cursor,
            );
            let read = tokio::task::spawn_blocking(move || {
                store.conversation_frames_after(&id, after, PAGE)
            })
            .await;
            match read {
                Ok(Ok(frames)) if !frames.is_empty() => {
                    feed.pending.extend(frames);
                    continue;
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "conversation stream: cannot read frames");
                    return None;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "conversation stream: read task failed");
                    return None;
                }
            }
            let rx = feed.rx.as_mut()?;
            tokio::select! {
                changed = rx.changed() => if changed.is_err() { return None },
                () = feed.switch.cancelled() => return None,
            }
        }
    }))
}
