//! A turn's lifecycle after the visitor's message is on disk: run the agent, stream its deltas to
//! the hub, write the reply and every frame in one transaction, publish `message` and `done`.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::agent::{Agent, AgentInput, Reply};
use crate::hub::{Hub, LiveTurn, OwnerEvent};
use crate::model::{
    FinishedTurn, Frame, HistoryMessage, Knowledge, Message, Outcome, Role, now_ms,
};
use crate::store::Store;
use crate::token::random_id;

/// What a visitor sees when the server stops in the middle of a reply.
pub const INTERRUPTED: &str =
    "The reply was interrupted because the chat server restarted. Please send your message again.";

/// Everything a turn needs, owned so the task can outlive the request that started it.
pub struct TurnJob {
    pub live: Arc<LiveTurn>,
    pub agent: Arc<dyn Agent>,
    pub name: String,
    pub persona: String,
    pub greeting: String,
    pub knowledge: Arc<Vec<Knowledge>>,
    pub history: Vec<HistoryMessage>,
    pub message: String,
    /// The owner has the conversation: no agent answered, the visitor wrote to the owner.
    pub owner_answers: bool,
}

/// Runs the turn to its end. Never fails: whatever happens, the turn ends with a `done` frame.
pub async fn run(store: Arc<Store>, hub: Arc<Hub>, job: TurnJob, shutdown: CancellationToken) {
    let live = job.live.clone();
    let turn_id = live.turn_id.clone();
    let streamed = Arc::new(std::sync::Mutex::new(String::new()));
    let sink = {
        let live = live.clone();
        let turn_id = turn_id.clone();
        let streamed = streamed.clone();
        move |text: &str| {
            if text.is_empty() {
                return;
            }
            if let Ok(mut s) = streamed.lock() {
                s.push_str(text);
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
    };
    let reply = tokio::select! {
        reply = job.agent.run(input, &sink) => reply,
        () = shutdown.cancelled() => Reply {
            text: streamed.lock().map(|s| s.clone()).unwrap_or_default(),
            outcome: Outcome::Error { visitor_message: INTERRUPTED.to_owned() },
        },
    };
    let handoff = matches!(reply.outcome, Outcome::Handoff);
    let owner_answers = job.owner_answers;
    finish(&store, &live, reply).await;
    hub.remove_turn(&turn_id);
    hub.conversation_changed(&live.conversation_id);
    let conversation_id = live.conversation_id.clone();
    hub.owner_event(match (owner_answers, handoff) {
        (true, _) => OwnerEvent::VisitorWrote { conversation_id },
        (false, true) => OwnerEvent::Handoff { conversation_id },
        (false, false) => OwnerEvent::Updated { conversation_id },
    });
}

async fn finish(store: &Arc<Store>, live: &Arc<LiveTurn>, reply: Reply) {
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
    });
    let (frames, tail) = live.close_with(&tail);
    let end = FinishedTurn {
        turn_id: turn_id.clone(),
        conversation_id: live.conversation_id.clone(),
        frames,
        reply: message,
        status,
    };
    let persisted = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || store.end_turn(end)).await
    };
    match persisted {
        Ok(Ok(())) => {}
        // The visitor still gets their `done`; the row stays `running` and the next start's
        // recovery ends it as an error.
        Ok(Err(e)) => tracing::error!(turn_id, error = %e, "could not store a finished turn"),
        Err(e) => tracing::error!(turn_id, error = %e, "turn persistence task failed"),
    }
    live.finish(tail);
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
            name: "Acme".into(),
            persona: String::new(),
            greeting: "Hi".into(),
            knowledge: Arc::new(vec![Knowledge {
                id: 1,
                question: Some("When are you open?".into()),
                answer: "Nine to five, every day.".into(),
            }]),
            history: vec![],
            owner_answers: false,
            message: "when are you open?".into(),
        }
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
            hub.acquire_stream().expect("slot"),
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
