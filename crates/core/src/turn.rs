//! A turn's lifecycle after the visitor's message is on disk: run the agent, stream its deltas to
//! the hub, write the reply and every frame in one transaction, publish `message` and `done`.
//!
//! Every turn ends, whatever its engine does: at its deadline or its reply-length cap the agent
//! is dropped (which closes a provider's connection) and the turn ends with what was written,
//! cut and marked, or as an error when nothing was. A final write that fails is retried; if it
//! still fails the visitor is told the reply was lost and the turn is marked `error` on disk by a
//! last small write, and the periodic sweep ends any turn left `running` past its deadline.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::agent::{Agent, AgentInput, Reply};
use crate::hub::{Hub, LiveTurn, OwnerEvent};
use crate::model::{
    FinishedTurn, Frame, HistoryMessage, Message, Outcome, Role, TurnError, now_ms, rfc3339,
};
use crate::store::Store;
use crate::token::random_id;

/// What ends a reply that hit its length cap or deadline with text, so nobody takes it as whole.
pub const CUT_MARK: &str = " […]";
/// Tries at the final write before the turn is given up as an error.
const SAVE_TRIES: u32 = 3;

/// How long and how long-winded a turn may be.
#[derive(Debug, Clone, Copy)]
pub struct TurnBounds {
    pub deadline: Duration,
    pub reply_chars: usize,
}

/// Everything a turn needs, owned so the task can outlive the request that started it.
pub struct TurnJob {
    pub live: Arc<LiveTurn>,
    pub agent: Arc<dyn Agent>,
    /// The agent's folder.
    pub folder: String,
    pub name: String,
    pub persona: String,
    pub greeting: String,
    pub knowledge: Arc<crate::agent::KnowledgeBase>,
    pub history: Vec<HistoryMessage>,
    pub message: String,
    /// The visitor's language, for the words the agent adds itself.
    pub lang: crate::i18n::Lang,
    /// The owner has the conversation: no agent answered, the visitor wrote to the owner.
    pub owner_answers: bool,
    /// The agent whose daily provider budget this turn's tokens are counted against.
    pub charge: Option<String>,
    pub bounds: TurnBounds,
}

/// The reply as streamed so far, capped at `max` characters.
struct Streamed {
    text: std::sync::Mutex<String>,
    chars: AtomicUsize,
    max: usize,
    full: AtomicBool,
    cut: Notify,
}

impl Streamed {
    /// Appends `piece` and returns the part of it that fits under the cap.
    fn take<'a>(&self, piece: &'a str) -> &'a str {
        if self.full.load(Ordering::Acquire) {
            return "";
        }
        let room = self.max.saturating_sub(self.chars.load(Ordering::Acquire));
        let fits = match piece.char_indices().nth(room) {
            Some((at, _)) => {
                self.full.store(true, Ordering::Release);
                self.cut.notify_one();
                &piece[..at]
            }
            None => piece,
        };
        self.chars.fetch_add(fits.chars().count(), Ordering::AcqRel);
        if let Ok(mut t) = self.text.lock() {
            t.push_str(fits);
        }
        fits
    }

    fn text(&self) -> String {
        self.text.lock().map(|t| t.clone()).unwrap_or_default()
    }
}

/// `text` cut to `max` characters and marked, when it is longer.
fn capped(mut text: String, max: usize) -> String {
    if let Some((at, _)) = text.char_indices().nth(max) {
        text.truncate(at);
        text.push_str(CUT_MARK);
    }
    text
}

/// Runs the turn to its end. Never fails: whatever happens, the turn ends with a `done` frame.
pub async fn run(store: Arc<Store>, hub: Arc<Hub>, job: TurnJob, shutdown: CancellationToken) {
    let live = job.live.clone();
    let turn_id = live.turn_id.clone();
    let streamed = Arc::new(Streamed {
        text: std::sync::Mutex::new(String::new()),
        chars: AtomicUsize::new(0),
        max: job.bounds.reply_chars,
        full: AtomicBool::new(false),
        cut: Notify::new(),
    });
    let sink = {
        let live = live.clone();
        let turn_id = turn_id.clone();
        let streamed = streamed.clone();
        move |text: &str| {
            let text = streamed.take(text);
            if text.is_empty() {
                return;
            }
            // Past the seq budget deltas are dropped: the `message` frame still carries all of it.
            let delta = Frame::Delta {
                turn_id: turn_id.clone(),
                text: text.to_owned(),
            };
            let _ = live.push(&delta, 2);
        }
    };
    let input = AgentInput {
        name: &job.name,
        persona: &job.persona,
        greeting: &job.greeting,
        knowledge: &job.knowledge,
        history: &job.history,
        message: &job.message,
        lang: job.lang,
    };
    let cut_short = |why: &str| {
        let text = streamed.text();
        tracing::warn!(turn_id, streamed = text.len(), "turn cut short: {why}");
        if text.is_empty() {
            Reply::new(text, Outcome::Error(TurnError::TooSlow))
        } else {
            Reply::new(text + CUT_MARK, Outcome::Ok)
        }
    };
    let reply = tokio::select! {
        // A panicking engine must still end its turn (and free the conversation).
        reply = std::panic::AssertUnwindSafe(job.agent.run(input, &sink)).catch_unwind() => match reply {
            Ok(reply) => Reply {
                text: capped(reply.text, job.bounds.reply_chars),
                ..reply
            },
            Err(_) => {
                tracing::error!(turn_id, "the agent panicked; the turn ends as an error");
                Reply::new(streamed.text(), Outcome::Error(TurnError::Unavailable))
            }
        },
        () = streamed.cut.notified() => cut_short("reply_chars"),
        () = tokio::time::sleep(job.bounds.deadline) => cut_short("turn_deadline"),
        () = shutdown.cancelled() => Reply::new(streamed.text(), Outcome::Error(TurnError::Interrupted)),
    };
    let handoff = matches!(reply.outcome, Outcome::Handoff);
    let owner_answers = job.owner_answers;
    if let Some(folder) = job.charge {
        // A turn cut short (deadline, length, shutdown) has no count from its engine: every
        // character of the persona, history, message and reply counts as a token (the
        // knowledge the engine added is not known here, so this is a floor).
        let used = reply.tokens.unwrap_or_else(|| {
            let history: usize = job.history.iter().map(|h| h.content.chars().count()).sum();
            (job.message.chars().count()
                + job.persona.chars().count()
                + history
                + reply.text.chars().count()) as u64
        });
        let store = store.clone();
        let day = rfc3339(now_ms()).chars().take(10).collect::<String>();
        let counted = tokio::task::spawn_blocking(move || {
            store.add_usage_tokens(&folder, &day, i64::try_from(used).unwrap_or(i64::MAX))
        })
        .await;
        if !matches!(counted, Ok(Ok(()))) {
            tracing::warn!(turn_id, "could not count the turn's tokens");
        }
    }
    // A question the agent could not answer is counted for the owner, who may answer it once
    // for every visitor who asks it next.
    let unanswered = (handoff && !owner_answers).then(|| {
        let (key, lang) = crate::agent::retrieval::question_key(&job.message, job.lang);
        crate::store::UnansweredNote {
            folder: job.folder.clone(),
            key,
            question: job.message.clone(),
            lang,
        }
    });
    finish(&store, &live, reply, unanswered).await;
    hub.remove_turn(&turn_id);
    hub.conversation_changed(&live.conversation_id);
    let conversation_id = live.conversation_id.clone();
    hub.owner_event(match (owner_answers, handoff) {
        (true, _) => OwnerEvent::VisitorWrote { conversation_id },
        (false, true) => OwnerEvent::Handoff { conversation_id },
        (false, false) => OwnerEvent::Updated { conversation_id },
    });
}

async fn finish(
    store: &Arc<Store>,
    live: &Arc<LiveTurn>,
    reply: Reply,
    unanswered: Option<crate::store::UnansweredNote>,
) {
    let turn_id = live.turn_id.clone();
    // Partial text the visitor already saw is kept: history must match what was on screen. No
    // text (a failed engine, or no agent while the owner has the conversation) is no message.
    let message = (!reply.text.is_empty()).then(|| Message {
        id: random_id(),
        turn_id: Some(turn_id.clone()),
        role: Role::Assistant,
        content: reply.text,
        created_at: now_ms(),
    });
    let status = reply.outcome.status();
    let mut tail = Vec::with_capacity(2);
    if let Some(m) = &message {
        tail.push(Frame::message(&turn_id, m));
    }
    tail.push(Frame::Done {
        turn_id: turn_id.clone(),
        outcome: reply.outcome,
        choices: reply.choices,
    });
    let (frames, tail) = live.close_with(&tail);
    let end = FinishedTurn {
        turn_id: turn_id.clone(),
        conversation_id: live.conversation_id.clone(),
        frames,
        reply: message,
        status,
        unanswered,
    };
    let mut tries = 0;
    let tail = loop {
        tries += 1;
        let persisted = {
            let (store, end) = (store.clone(), end.clone());
            tokio::task::spawn_blocking(move || store.end_turn(end)).await
        };
        let error = match persisted {
            Ok(Ok(())) => break tail,
            Ok(Err(e)) => e.to_string(),
            Err(e) => format!("turn persistence task failed: {e}"),
        };
        tracing::error!(turn_id, tries, error, "could not store a finished turn");
        if tries < SAVE_TRIES {
            tokio::time::sleep(Duration::from_millis(100 << tries)).await;
            continue;
        }
        break give_up(store, live, &turn_id).await;
    };
    live.finish(tail);
}

/// The reply could not be stored: the visitor is told so, and the turn is marked `error` on
/// disk by a last small write (or, failing that too, by the sweep), so it never stays `running`.
async fn give_up(
    store: &Arc<Store>,
    live: &Arc<LiveTurn>,
    turn_id: &str,
) -> Vec<crate::model::EncodedFrame> {
    let done = Frame::Done {
        turn_id: turn_id.to_owned(),
        outcome: Outcome::Error(TurnError::NotSaved),
        choices: Vec::new(),
    };
    let (_, tail) = live.close_with(std::slice::from_ref(&done));
    let (store, id) = (store.clone(), turn_id.to_owned());
    match tokio::task::spawn_blocking(move || store.fail_turn(&id, TurnError::NotSaved)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(turn_id, error = %e, "could not mark the turn as failed"),
        Err(e) => tracing::error!(turn_id, error = %e, "could not mark the turn as failed"),
    }
    tail
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;
    use crate::agent::DeltaSink;
    use crate::agent::answers::AnswersAgent;
    use crate::hub::{Source, subscribe};
    use crate::model::{EncodedFrame, FrameEvent};
    use crate::store::NewTurn;
    use crate::store::test_util::temp_store;

    struct Hang;
    impl Agent for Hang {
        fn run<'a>(
            &'a self,
            _: AgentInput<'a>,
            sink: &'a DeltaSink,
        ) -> crate::agent::BoxFuture<'a, Reply> {
            Box::pin(async move {
                sink("partial ");
                std::future::pending().await
            })
        }
    }

    fn start(store: &Store) -> (Arc<LiveTurn>, String) {
        store
            .create_folder("acme", "Acme", "Hi", "")
            .expect("folder");
        let t = store
            .begin_turn(NewTurn {
                conversation_id: None,
                folder: "acme".into(),
                jid: "web:acme".parse().expect("jid"),
                token_id: None,
                end_user: None,
                content: "when are you open?".into(),
                history: 10,
            })
            .expect("begin");
        (
            Arc::new(LiveTurn::new(
                t.turn_id,
                t.conversation_id.clone(),
                None,
                t.first_seq,
            )),
            t.conversation_id,
        )
    }

    fn job(live: Arc<LiveTurn>, agent: Arc<dyn Agent>) -> TurnJob {
        TurnJob {
            live,
            agent,
            folder: "acme".into(),
            name: "Acme".into(),
            persona: String::new(),
            greeting: "Hi".into(),
            knowledge: Arc::new(crate::agent::KnowledgeBase::new(
                vec![crate::model::Knowledge {
                    id: 1,
                    question: Some("When are you open?".into()),
                    answer: "Nine to five, every day.".into(),
                    ..Default::default()
                }],
                crate::i18n::Lang::En,
            )),
            history: vec![],
            owner_answers: false,
            charge: None,
            message: "when are you open?".into(),
            lang: crate::i18n::Lang::En,
            bounds: TurnBounds {
                deadline: Duration::from_secs(30),
                reply_chars: 8000,
            },
        }
    }

    /// Writes `piece` every millisecond, forever.
    struct Endless(&'static str);
    impl Agent for Endless {
        fn run<'a>(
            &'a self,
            _: AgentInput<'a>,
            sink: &'a DeltaSink,
        ) -> crate::agent::BoxFuture<'a, Reply> {
            Box::pin(async move {
                loop {
                    sink(self.0);
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            })
        }
    }

    async fn bounded_run(agent: Arc<dyn Agent>, bounds: TurnBounds) -> (Vec<EncodedFrame>, String) {
        let (_d, store) = temp_store();
        let store = Arc::new(store);
        let hub = Arc::new(Hub::new(CancellationToken::new(), 10));
        let (live, conv) = start(&store);
        let mut j = job(live.clone(), agent);
        j.bounds = bounds;
        tokio::time::timeout(
            bounds.deadline + Duration::from_secs(5),
            run(store.clone(), hub, j, CancellationToken::new()),
        )
        .await
        .expect("the turn ends on its own");
        let frames = store.frames_after(&conv, &live.turn_id, 0).expect("frames");
        let (history, running) = store.history(&conv, 10).expect("history");
        assert!(running.is_none(), "the conversation is free again");
        let reply = history
            .last()
            .map(|m| m.content.clone())
            .unwrap_or_default();
        (frames, reply)
    }

    #[tokio::test]
    async fn an_endless_reply_is_cut_at_its_length_and_marked() {
        let (frames, reply) = bounded_run(
            Arc::new(Endless("ab")),
            TurnBounds {
                deadline: Duration::from_secs(30),
                reply_chars: 101,
            },
        )
        .await;
        assert_eq!(reply, format!("{}a{CUT_MARK}", "ab".repeat(50)));
        let done = frames.last().expect("done");
        assert_eq!(done.event, FrameEvent::Done);
        assert!(done.data.contains("\"ok\""), "{}", done.data);
    }

    #[tokio::test]
    async fn a_turn_past_its_deadline_ends_with_what_it_wrote_or_as_an_error() {
        let started = std::time::Instant::now();
        let bounds = TurnBounds {
            deadline: Duration::from_millis(300),
            reply_chars: 1_000_000,
        };
        let (frames, reply) = bounded_run(Arc::new(Hang), bounds).await;
        assert!(started.elapsed() < Duration::from_secs(3));
        assert_eq!(reply, format!("partial {CUT_MARK}"));
        assert!(frames.last().expect("done").data.contains("\"ok\""));

        struct Silent;
        impl Agent for Silent {
            fn run<'a>(
                &'a self,
                _: AgentInput<'a>,
                _: &'a DeltaSink,
            ) -> crate::agent::BoxFuture<'a, Reply> {
                Box::pin(std::future::pending())
            }
        }
        let (frames, reply) = bounded_run(Arc::new(Silent), bounds).await;
        let done = frames.last().expect("done");
        assert!(
            done.data.contains("\"error\"") && done.data.contains("too long"),
            "{}",
            done.data
        );
        assert_eq!(
            reply, "when are you open?",
            "no reply message, only the visitor's"
        );
    }

    #[tokio::test]
    async fn a_panicking_agent_still_ends_its_turn() {
        struct Panics;
        impl Agent for Panics {
            fn run<'a>(
                &'a self,
                _: AgentInput<'a>,
                sink: &'a DeltaSink,
            ) -> crate::agent::BoxFuture<'a, Reply> {
                Box::pin(async move {
                    sink("half ");
                    panic!("engine bug")
                })
            }
        }
        let bounds = TurnBounds {
            deadline: Duration::from_secs(30),
            reply_chars: 8000,
        };
        let (frames, reply) = bounded_run(Arc::new(Panics), bounds).await;
        let done = frames.last().expect("done");
        assert!(done.data.contains("\"error\""), "{}", done.data);
        assert_eq!(reply, "half ", "what the visitor saw is kept");
    }

    #[tokio::test]
    async fn the_sweep_ends_stale_running_turns_but_not_live_ones() {
        let (_d, store) = temp_store();
        let (live, conv) = start(&store);
        let mut except = std::collections::HashSet::new();
        let sweep = |except: &std::collections::HashSet<String>| {
            store
                .end_running_turns(
                    TurnError::NotSaved,
                    crate::store::Running::StartedBefore {
                        before: now_ms() + 1000,
                        except,
                    },
                )
                .expect("sweep")
        };
        except.insert(live.turn_id.clone());
        assert!(
            sweep(&except).is_empty(),
            "a turn this process runs is left alone"
        );
        except.clear();
        let ended = sweep(&except);
        assert_eq!(ended.len(), 1);
        let (_, running) = store.history(&conv, 10).expect("history");
        assert!(running.is_none());
        let frames = store.frames_after(&conv, &live.turn_id, 0).expect("frames");
        assert!(
            frames
                .last()
                .expect("done")
                .data
                .contains("saving the reply")
        );
    }

    #[tokio::test]
    async fn deltas_then_message_then_done_stored_and_live_alike() {
        let (_d, store) = temp_store();
        let store = Arc::new(store);
        let hub = Arc::new(Hub::new(CancellationToken::new(), 10));
        let (live, conv) = start(&store);
        hub.insert_turn(live.clone());
        let sub = subscribe(
            Source::Live(live.clone()),
            0,
            hub.switch(crate::hub::Switch::Link(1)),
            (
                hub.acquire_stream().expect("slot"),
                hub.acquire_turn_stream(&crate::hub::Switch::Link(1), 1)
                    .expect("link slot"),
            ),
        );
        run(
            store.clone(),
            hub.clone(),
            job(live.clone(), Arc::new(AnswersAgent::new())),
            CancellationToken::new(),
        )
        .await;
        let got: Vec<EncodedFrame> = sub.collect().await;
        let events: Vec<FrameEvent> = got.iter().map(|f| f.event).collect();
        assert!(
            events.len() >= 3
                && events[..events.len() - 2]
                    .iter()
                    .all(|e| *e == FrameEvent::Delta),
            "{events:?}"
        );
        assert_eq!(
            &events[events.len() - 2..],
            [FrameEvent::Message, FrameEvent::Done]
        );
        assert!(
            got.windows(2).all(|w| w[1].seq == w[0].seq + 1),
            "consecutive seqs"
        );
        assert!(got[got.len() - 2].data.contains("Nine to five"));
        assert!(hub.turn(&live.turn_id).is_none(), "left the hub");
        assert_eq!(
            store.frames_after(&conv, &live.turn_id, 0).expect("stored"),
            got
        );
        let (history, running) = store.history(&conv, 10).expect("history");
        assert_eq!(history.len(), 2);
        assert!(running.is_none());
    }

    #[tokio::test]
    async fn shutdown_ends_a_hung_turn_as_error_keeping_partial_text() {
        let (_d, store) = temp_store();
        let store = Arc::new(store);
        let hub = Arc::new(Hub::new(CancellationToken::new(), 10));
        let (live, conv) = start(&store);
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(
            store.clone(),
            hub.clone(),
            job(live.clone(), Arc::new(Hang)),
            stop.clone(),
        ));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        stop.cancel();
        task.await.expect("turn task");
        let frames = store.frames_after(&conv, &live.turn_id, 0).expect("frames");
        let last = frames.last().expect("done");
        assert_eq!(last.event, FrameEvent::Done);
        assert!(last.data.contains("\"error\"") && last.data.contains("restarted"));
        let (history, _) = store.history(&conv, 10).expect("history");
        assert_eq!(history.last().map(|m| m.content.as_str()), Some("partial "));
    }
}
