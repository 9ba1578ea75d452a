//! Live fan-out of a running turn's frames to its SSE subscribers, the switches that end
//! streams (one per link and one per widget app for revocation, one for the whole server for
//! shutdown), a change counter per watched conversation (its stored frames grew), and the owner's
//! event feed (new conversations, handoffs, activity) for the desktop window.
//!
//! A running turn's frames live in memory in its [`LiveTurn`] (an append-only list plus a
//! `watch` counter), not in a broadcast channel: a slow subscriber reads from its own cursor and
//! can never lag out or miss a frame, and a resume with `Last-Event-ID` is a slice of the list.
//! The turn writes its frames to the store before it publishes the last two (`message`, `done`)
//! and only then leaves the hub, so a subscriber that does not find a turn here finds it whole
//! in the store.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::Stream;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::model::{EncodedFrame, Frame, FrameEvent, MAX_FRAMES_PER_TURN};
use crate::store::Store;

/// The frames of one turn while it runs.
#[derive(Debug)]
pub struct LiveTurn {
    pub turn_id: String,
    pub conversation_id: String,
    pub token_id: Option<i64>,
    pub first_seq: i64,
    state: Mutex<LiveState>,
    version: watch::Sender<u64>,
}

#[derive(Debug, Default)]
struct LiveState {
    frames: Vec<EncodedFrame>,
    finished: bool,
}

impl LiveTurn {
    pub fn new(
        turn_id: String,
        conversation_id: String,
        token_id: Option<i64>,
        first_seq: i64,
    ) -> LiveTurn {
        LiveTurn {
            turn_id,
            conversation_id,
            token_id,
            first_seq,
            state: Mutex::new(LiveState::default()),
            version: watch::Sender::new(0),
        }
    }

    fn state(&self) -> MutexGuard<'_, LiveState> {
        // A panic while holding this lock cannot leave the list half-written (push is one call).
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Encodes `frame` with the next seq, appends it and wakes subscribers. `Some(seq)`, or
    /// `None` when the turn is out of seq numbers (only deltas can get there: the caller keeps
    /// `reserve` for the end).
    pub fn push(&self, frame: &Frame, reserve: usize) -> Option<i64> {
        let seq = {
            let mut st = self.state();
            if st.frames.len() + reserve >= MAX_FRAMES_PER_TURN as usize {
                return None;
            }
            let seq = self.first_seq + st.frames.len() as i64;
            st.frames.push(frame.encode(seq));
            seq
        };
        self.version.send_modify(|v| *v += 1);
        Some(seq)
    }

    /// Encodes the turn's closing frames with the seqs that follow everything pushed so far,
    /// without publishing them; returns every frame of the turn, the closing ones last.
    pub fn close_with(&self, tail: &[Frame]) -> (Vec<EncodedFrame>, Vec<EncodedFrame>) {
        let st = self.state();
        let next = self.first_seq + st.frames.len() as i64;
        let tail: Vec<EncodedFrame> = tail
            .iter()
            .zip(next..)
            .map(|(f, seq)| f.encode(seq))
            .collect();
        let mut all = Vec::with_capacity(st.frames.len() + tail.len());
        all.extend(st.frames.iter().cloned());
        all.extend(tail.iter().cloned());
        (all, tail)
    }

    /// Publishes the closing frames [`LiveTurn::close_with`] encoded and marks the turn
    /// finished: subscribers drain what is left and end.
    pub fn finish(&self, tail: Vec<EncodedFrame>) {
        {
            let mut st = self.state();
            st.frames.extend(tail);
            st.finished = true;
        }
        self.version.send_modify(|v| *v += 1);
    }

    fn after(&self, cursor: i64) -> (Vec<EncodedFrame>, bool) {
        let st = self.state();
        let start = st.frames.partition_point(|f| f.seq <= cursor);
        (st.frames[start..].to_vec(), st.finished)
    }
}

/// What a stream was opened through; revoking it ends the stream.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Switch {
    /// A chat link (token id).
    Link(i64),
    /// A widget app (app id).
    App(String),
}

/// What the owner's window hears about, as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerEvent {
    /// A visitor started a conversation.
    Started { conversation_id: String },
    /// A conversation has new messages or another state.
    Updated { conversation_id: String },
    /// The agent passed the conversation to a person.
    Handoff { conversation_id: String },
    /// The visitor wrote in a conversation the owner has taken over.
    VisitorWrote { conversation_id: String },
    /// The conversation's agent spent its daily provider budget: built-in answers reply for
    /// the rest of the day. Sent once per agent and day.
    BudgetSpent { conversation_id: String },
}

pub struct Hub {
    turns: Mutex<HashMap<String, Arc<LiveTurn>>>,
    conversations: Mutex<HashMap<String, watch::Sender<u64>>>,
    /// Open conversation streams per link or app.
    feeds: Arc<Mutex<HashMap<Switch, usize>>>,
    /// Open turn streams per link or app.
    turn_streams: Arc<Mutex<HashMap<Switch, usize>>>,
    events: broadcast::Sender<OwnerEvent>,
    switches: Mutex<HashMap<Switch, CancellationToken>>,
    shutdown: CancellationToken,
    open_streams: Arc<AtomicUsize>,
    max_streams: usize,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("open_streams", &self.open_streams.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Hub {
    pub fn new(shutdown: CancellationToken, max_streams: usize) -> Hub {
        Hub {
            turns: Mutex::new(HashMap::new()),
            conversations: Mutex::new(HashMap::new()),
            feeds: Arc::new(Mutex::new(HashMap::new())),
            turn_streams: Arc::new(Mutex::new(HashMap::new())),
            // A window that falls this far behind reloads instead (`Lagged`).
            events: broadcast::Sender::new(256),
            switches: Mutex::new(HashMap::new()),
            shutdown,
            open_streams: Arc::new(AtomicUsize::new(0)),
            max_streams,
        }
    }

    pub fn insert_turn(&self, turn: Arc<LiveTurn>) {
        lock(&self.turns).insert(turn.turn_id.clone(), turn);
    }

    pub fn turn(&self, turn_id: &str) -> Option<Arc<LiveTurn>> {
        lock(&self.turns).get(turn_id).cloned()
    }

    pub fn remove_turn(&self, turn_id: &str) {
        lock(&self.turns).remove(turn_id);
    }

    /// The ids of the turns this process is running.
    pub fn running_turn_ids(&self) -> std::collections::HashSet<String> {
        lock(&self.turns).keys().cloned().collect()
    }

    pub fn running_turns(&self) -> usize {
        lock(&self.turns).len()
    }

    pub fn open_streams(&self) -> usize {
        self.open_streams.load(Ordering::Relaxed)
    }

    /// The switch that ends every stream opened through `key`; the server's shutdown ends it too.
    pub fn switch(&self, key: Switch) -> CancellationToken {
        lock(&self.switches)
            .entry(key)
            .or_insert_with(|| self.shutdown.child_token())
            .clone()
    }

    /// Ends every open stream opened through `key` (it was revoked).
    pub fn close(&self, key: &Switch) {
        if let Some(switch) = lock(&self.switches).remove(key) {
            switch.cancel();
        }
    }

    /// Reserves one open stream, or `too_many_streams` at the cap.
    pub fn acquire_stream(&self) -> Result<StreamSlot> {
        let prev = self.open_streams.fetch_add(1, Ordering::AcqRel);
        let slot = StreamSlot(self.open_streams.clone());
        if prev >= self.max_streams {
            return Err(Error::TooManyStreams);
        }
        Ok(slot)
    }

    pub fn shutdown_token(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// Reserves one conversation stream for `source`, or `too_many_streams` when it holds `max`.
    pub fn acquire_feed(&self, source: &Switch, max: usize) -> Result<SourceSlot> {
        acquire_source(&self.feeds, source, max)
    }

    /// Reserves one turn stream for `source`, or `too_many_streams` when it holds `max`.
    pub fn acquire_turn_stream(&self, source: &Switch, max: usize) -> Result<SourceSlot> {
        acquire_source(&self.turn_streams, source, max)
    }

    /// A counter that moves each time the conversation's stored frames grow.
    pub fn watch_conversation(&self, conversation_id: &str) -> watch::Receiver<u64> {
        lock(&self.conversations)
            .entry(conversation_id.to_owned())
            .or_insert_with(|| watch::Sender::new(0))
            .subscribe()
    }

    /// Drops the counter once nobody watches the conversation (its last stream ended).
    pub fn unwatch_conversation(&self, conversation_id: &str) {
        let mut map = lock(&self.conversations);
        if map
            .get(conversation_id)
            .is_some_and(|tx| tx.receiver_count() == 0)
        {
            map.remove(conversation_id);
        }
    }

    /// The conversation's stored frames grew (a turn ended, the owner wrote): wakes its watchers.
    pub fn conversation_changed(&self, conversation_id: &str) {
        if let Some(tx) = lock(&self.conversations).get(conversation_id) {
            tx.send_modify(|v| *v += 1);
        }
    }

    /// Tells the owner's window; nobody listening is fine.
    pub fn owner_event(&self, event: OwnerEvent) {
        let _ = self.events.send(event);
    }

    pub fn owner_events(&self) -> broadcast::Receiver<OwnerEvent> {
        self.events.subscribe()
    }
}

fn acquire_source(
    map: &Arc<Mutex<HashMap<Switch, usize>>>,
    source: &Switch,
    max: usize,
) -> Result<SourceSlot> {
    let mut counts = lock(map);
    let n = counts.entry(source.clone()).or_insert(0);
    if *n >= max {
        return Err(Error::TooManyStreams);
    }
    *n += 1;
    Ok(SourceSlot {
        feeds: map.clone(),
        source: source.clone(),
    })
}

/// One open stream counted against its link's or app's cap; released on drop.
#[derive(Debug)]
pub struct SourceSlot {
    feeds: Arc<Mutex<HashMap<Switch, usize>>>,
    source: Switch,
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        let mut feeds = lock(&self.feeds);
        if let Some(n) = feeds.get_mut(&self.source) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                feeds.remove(&self.source);
            }
        }
    }
}

/// One open stream counted against the cap; released on drop.
#[derive(Debug)]
pub struct StreamSlot(Arc<AtomicUsize>);

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

pub type FrameStream = Pin<Box<dyn Stream<Item = EncodedFrame> + Send>>;

/// Frames of a stored turn read per query.
const PAGE: usize = 256;

/// Where a subscription reads from.
pub enum Source {
    Live(Arc<LiveTurn>),
    /// A finished turn's stored frames after the cursor, read a page at a time.
    Stored {
        store: Arc<Store>,
        conversation_id: String,
        turn_id: String,
    },
}

struct Sub {
    live: Option<(Arc<LiveTurn>, watch::Receiver<u64>)>,
    stored: Option<(Arc<Store>, String, String)>,
    pending: VecDeque<EncodedFrame>,
    cursor: i64,
    ended: bool,
    switch: CancellationToken,
    _slot: (StreamSlot, SourceSlot),
}

/// The frames after `cursor`, then live ones until `done`, the link's switch or shutdown.
pub fn subscribe(
    source: Source,
    cursor: i64,
    switch: CancellationToken,
    slot: (StreamSlot, SourceSlot),
) -> FrameStream {
    let (live, stored) = match source {
        Source::Live(turn) => {
            let rx = turn.version.subscribe();
            (Some((turn, rx)), None)
        }
        Source::Stored {
            store,
            conversation_id,
            turn_id,
        } => (None, Some((store, conversation_id, turn_id))),
    };
    let sub = Sub {
        live,
        stored,
        pending: VecDeque::new(),
        cursor,
        ended: false,
        switch,
        _slot: slot,
    };
    Box::pin(futures_util::stream::unfold(sub, |mut sub| async move {
        loop {
            if sub.ended || sub.switch.is_cancelled() {
                return None;
            }
            if let Some(frame) = sub.pending.pop_front() {
                sub.cursor = frame.seq;
                sub.ended = frame.event == FrameEvent::Done;
                return Some((frame, sub));
            }
            if let Some((store, conversation_id, turn_id)) = sub.stored.clone() {
                let after = sub.cursor;
                let page = tokio::task::spawn_blocking(move || {
                    store.turn_frames_page(&conversation_id, &turn_id, after, PAGE)
                })
                .await;
                match page {
                    Ok(Ok(frames)) => {
                        if frames.len() < PAGE {
                            sub.stored = None;
                        }
                        if frames.is_empty() {
                            return None;
                        }
                        sub.pending.extend(frames);
                        continue;
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "turn stream: cannot read frames");
                        return None;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "turn stream: read task failed");
                        return None;
                    }
                }
            }
            let (turn, rx) = sub.live.as_mut()?;
            rx.borrow_and_update();
            let (frames, finished) = turn.after(sub.cursor);
            if !frames.is_empty() {
                sub.pending.extend(frames);
                continue;
            }
            if finished {
                return None;
            }
            tokio::select! {
                changed = rx.changed() => if changed.is_err() { return None },
                () = sub.switch.cancelled() => return None,
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures_util::StreamExt;

    use super::*;
    use crate::model::Outcome;

    fn hub(max: usize) -> Hub {
        Hub::new(CancellationToken::new(), max)
    }

    fn slots(hub: &Hub) -> (StreamSlot, SourceSlot) {
        (
            hub.acquire_stream().expect("a stream slot"),
            hub.acquire_turn_stream(&Switch::Link(99), usize::MAX)
                .expect("a per-link slot"),
        )
    }

    fn delta(text: &str) -> Frame {
        Frame::Delta {
            turn_id: "t".into(),
            text: text.into(),
        }
    }

    fn done() -> Frame {
        Frame::Done {
            turn_id: "t".into(),
            outcome: Outcome::Ok,
            choices: Vec::new(),
        }
    }

    #[tokio::test]
    async fn a_late_subscriber_gets_every_frame_after_its_cursor_once() {
        let hub = hub(10);
        let turn = Arc::new(LiveTurn::new("t".into(), "c".into(), Some(1), 5));
        hub.insert_turn(turn.clone());
        for i in 0..3 {
            turn.push(&delta(&format!("d{i}")), 2).expect("push");
        }
        let mut s = subscribe(
            Source::Live(turn.clone()),
            5,
            hub.switch(Switch::Link(1)),
            slots(&hub),
        );
        let writer = {
            let turn = turn.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                turn.push(&delta("last"), 2).expect("push");
                let (all, tail) = turn.close_with(&[done()]);
                assert_eq!(all.len(), 5);
                turn.finish(tail);
            })
        };
        let mut seen = Vec::new();
        while let Some(f) = s.next().await {
            seen.push((f.seq, f.event));
        }
        writer.await.expect("writer");
        assert_eq!(
            seen,
            vec![
                (6, FrameEvent::Delta),
                (7, FrameEvent::Delta),
                (8, FrameEvent::Delta),
                (9, FrameEvent::Done)
            ]
        );
        assert_eq!(
            hub.open_streams(),
            0,
            "the slot is released when the stream ends"
        );
    }

    #[tokio::test]
    async fn closing_a_link_ends_its_streams_but_not_others() {
        let hub = hub(10);
        let turn = Arc::new(LiveTurn::new("t".into(), "c".into(), Some(1), 1));
        let mut a = subscribe(
            Source::Live(turn.clone()),
            0,
            hub.switch(Switch::Link(1)),
            slots(&hub),
        );
        let mut b = subscribe(
            Source::Live(turn.clone()),
            0,
            hub.switch(Switch::Link(2)),
            slots(&hub),
        );
        hub.close(&Switch::Link(1));
        assert!(
            tokio::time::timeout(Duration::from_secs(1), a.next())
                .await
                .expect("ends at once")
                .is_none()
        );
        assert!(
            tokio::time::timeout(Duration::from_millis(50), b.next())
                .await
                .is_err(),
            "b stays open"
        );
        hub.shutdown_token().cancel();
        assert!(
            tokio::time::timeout(Duration::from_secs(1), b.next())
                .await
                .expect("shutdown")
                .is_none()
        );
    }

    #[tokio::test]
    async fn stored_frames_replay_in_pages_and_the_caps_hold() {
        use crate::model::{FinishedTurn, TurnStatus};
        let (_d, store) = crate::store::test_util::temp_store();
        store
            .create_folder("acme", "Acme", "Hi", "")
            .expect("folder");
        let t = store
            .begin_turn(crate::store::NewTurn {
                conversation_id: None,
                folder: "acme".into(),
                jid: "web:acme".parse().expect("jid"),
                token_id: None,
                end_user: None,
                content: "hi".into(),
                history: 1,
            })
            .expect("begin");
        // More than two pages of frames.
        let n = PAGE * 2 + 10;
        let mut frames: Vec<EncodedFrame> = (0..n as i64)
            .map(|i| delta("x").encode(t.first_seq + i))
            .collect();
        frames.push(done().encode(t.first_seq + n as i64));
        store
            .end_turn(FinishedTurn {
                turn_id: t.turn_id.clone(),
                conversation_id: t.conversation_id.clone(),
                frames: frames.clone(),
                reply: None,
                status: TurnStatus::Ok,
                unanswered: None,
            })
            .expect("end");
        let store = Arc::new(store);
        let hub = hub(1);
        let slot = hub.acquire_stream().expect("first");
        assert_eq!(
            hub.acquire_stream().expect_err("over the cap").code(),
            "too_many_streams"
        );
        let per_link = hub
            .acquire_turn_stream(&Switch::Link(1), 1)
            .expect("link's first");
        assert_eq!(
            hub.acquire_turn_stream(&Switch::Link(1), 1)
                .expect_err("over the link's cap")
                .code(),
            "too_many_streams"
        );
        hub.acquire_turn_stream(&Switch::Link(2), 1)
            .expect("another link");
        let source = || Source::Stored {
            store: store.clone(),
            conversation_id: t.conversation_id.clone(),
            turn_id: t.turn_id.clone(),
        };
        let got: Vec<_> = subscribe(
            source(),
            t.first_seq - 1,
            hub.switch(Switch::Link(1)),
            (slot, per_link),
        )
        .collect()
        .await;
        assert_eq!(got, frames);
        assert!(
            hub.acquire_stream().is_ok(),
            "released after the stream ended"
        );
        let rest: Vec<_> = subscribe(
            source(),
            frames[PAGE + 3].seq,
            hub.switch(Switch::Link(1)),
            slots(&hub),
        )
        .collect()
        .await;
        assert_eq!(rest, frames[PAGE + 4..].to_vec(), "a resume mid-page");
    }

    #[test]
    fn pushes_stop_before_the_seq_budget_runs_out() {
        let turn = LiveTurn::new("t".into(), "c".into(), None, 1);
        for _ in 0..(MAX_FRAMES_PER_TURN as usize - 2) {
            turn.push(&delta(""), 2).expect("room");
        }
        assert!(turn.push(&delta(""), 2).is_none());
        let (all, tail) = turn.close_with(&[delta("message"), done()]);
        assert_eq!(tail.last().map(|f| f.seq), Some(MAX_FRAMES_PER_TURN));
        assert_eq!(all.len(), MAX_FRAMES_PER_TURN as usize);
    }
}
