//! The OpenAI-compatible engine against a mock provider whose behaviour each test picks.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::json;

use chatlink_core::agent::openai::{FORMATTING, OpenAiAgent, OpenAiConfig, default_client};
use chatlink_core::agent::{Agent, AgentInput, KnowledgeBase, Reply};
use chatlink_core::model::TurnError;
use chatlink_core::model::{HistoryMessage, Knowledge, Outcome, Role};
use chatlink_core::secret::Sensitive;
use chatlink_test_support::provider::{Behaviour, End, FakeProvider, events};

const PROVIDER_BODY: &str = "PROVIDER-SECRET-DETAIL: invalid api key sk-live-123";

/// Starts the fake provider; its base URL gets a trailing slash, which the engine must tolerate.
async fn start(behaviour: Behaviour) -> (String, FakeProvider) {
    let provider = FakeProvider::start(behaviour).await;
    (format!("{}/", provider.base_url), provider)
}

fn streaming(pieces: Vec<String>, end: End) -> Behaviour {
    Behaviour::Stream {
        pieces,
        end,
        pause: Duration::from_millis(15),
    }
}

fn agent(base_url: &str, key: Option<&str>) -> OpenAiAgent {
    let config = OpenAiConfig {
        max_tokens: 300,
        base_url: base_url.to_owned(),
        model: "tiny-model".to_owned(),
        api_key: key.map(|k| Sensitive::new(k.to_owned())),
    };
    OpenAiAgent::new(config, default_client())
}

fn knowledge() -> Vec<Knowledge> {
    vec![
        Knowledge {
            id: 1,
            question: Some("When are you open?".into()),
            answer: "Tuesday to Saturday, 7am to 3pm.".into(),
            ..Knowledge::default()
        },
        Knowledge {
            id: 2,
            question: Some("Do you bake sourdough?".into()),
            answer: "Yes, sourdough loaves every Friday.".into(),
            ..Knowledge::default()
        },
        Knowledge {
            id: 3,
            question: None,
            answer: "We deliver within 5 km for free.".into(),
            ..Knowledge::default()
        },
    ]
}

/// No knowledge: most of these tests are about the provider's protocol.
fn none() -> &'static KnowledgeBase {
    static NONE: std::sync::OnceLock<KnowledgeBase> = std::sync::OnceLock::new();
    NONE.get_or_init(|| KnowledgeBase::new(Vec::new(), chatlink_core::i18n::Lang::En))
}

fn input<'a>(
    knowledge: &'a KnowledgeBase,
    history: &'a [HistoryMessage],
    message: &'a str,
) -> AgentInput<'a> {
    AgentInput {
        name: "Rosie's Bakery",
        persona: "You are Rosie, the bakery's cheerful helper.",
        greeting: "Hi!",
        knowledge,
        history,
        message,
        lang: chatlink_core::i18n::Lang::En,
    }
}

/// Runs one turn; returns the deltas as the sink saw them and the reply.
async fn run(agent: &OpenAiAgent, input: AgentInput<'_>) -> (Vec<String>, Reply) {
    // `DeltaSink` is `'static`, so the sink owns its handle on the collected deltas.
    let deltas = Arc::new(Mutex::new(Vec::new()));
    let collected = deltas.clone();
    let sink = move |d: &str| collected.lock().expect("lock").push(d.to_owned());
    let reply = agent.run(input, &sink).await;
    let deltas = deltas.lock().expect("lock").clone();
    (deltas, reply)
}

async fn turn(behaviour: Behaviour) -> (Vec<String>, Reply) {
    let (url, _) = start(behaviour).await;
    run(&agent(&url, None), input(none(), &[], "Hello?")).await
}

fn assert_visitor_error(reply: &Reply) {
    match &reply.outcome {
        Outcome::Error(why) => {
            assert_eq!(*why, TurnError::Unavailable);
            let said = why.visitor_message();
            assert!(!said.contains("PROVIDER-SECRET-DETAIL"));
            assert!(!said.contains("sk-"));
        }
        other => panic!("expected an error outcome, got {other:?}"),
    }
}

#[tokio::test]
async fn streams_deltas_in_order() {
    let mut pieces = events(&["Hello", ", we", " open at 7", "."], "\n");
    pieces.push("data: [DONE]\n\n".into());
    let (deltas, reply) = turn(streaming(pieces, End::Close)).await;
    assert_eq!(deltas, ["Hello", ", we", " open at 7", "."]);
    // No usage reported: every character sent (system prompt, message) and received counts.
    let sent = "You are Rosie, the bakery's cheerful helper.".len()
        + FORMATTING.chars().count()
        + "Hello?".len();
    assert_eq!(
        reply.tokens,
        Some((sent + "Hello, we open at 7.".len()) as u64)
    );
    assert_eq!(
        reply,
        Reply {
            text: "Hello, we open at 7.".into(),
            outcome: Outcome::Ok,
            tokens: reply.tokens,
            choices: Vec::new(),
        }
    );
}

/// With `stream_options.include_usage`, the last chunk carries `usage` and no choices.
#[tokio::test]
async fn reports_the_tokens_the_provider_used() {
    let mut pieces = events(&["Fresh bread"], "\n");
    pieces.push(
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":50,\"completion_tokens\":10,\"total_tokens\":60}}\n\n"
            .into(),
    );
    let (url, provider) = start(Behaviour::Stream {
        pieces,
        end: End::Done,
        pause: Duration::ZERO,
    })
    .await;
    let sink = |_: &str| {};
    let reply = agent(&url, None).run(input(none(), &[], "hi"), &sink).await;
    assert_eq!(reply.tokens, Some(60), "{reply:?}");
    let body = &provider.seen()[0].body;
    assert_eq!(body["stream_options"]["include_usage"], true);
    assert_eq!(body["max_tokens"], 300);
}

#[tokio::test]
async fn tolerates_crlf_keepalives_garbage_and_split_writes() {
    let mut body = String::from(": keepalive\r\n\r\n");
    body += &format!(
        "data: {}\r\n\r\n",
        json!({ "choices": [{ "delta": { "role": "assistant" } }] })
    );
    for (i, event) in events(&["Fresh", " bread", " daily"], "\r\n")
        .into_iter()
        .enumerate()
    {
        body += &event;
        body += ": keepalive\r\n\r\n";
        if i == 0 {
            body += "data: this is not json\r\n\r\n";
            body += &format!(
                "data: {}\r\n\r\n",
                json!({ "choices": [{ "delta": { "content": null } }] })
            );
        }
    }
    body += "data: [DONE]\r\n\r\n";
    // Write in small uneven pieces so events, and even CR from LF, straddle network writes.
    let bytes = body.as_bytes();
    let pieces: Vec<String> = bytes
        .chunks(7)
        .map(|c| String::from_utf8(c.to_vec()).expect("ascii body"))
        .collect();
    let behaviour = Behaviour::Stream {
        pieces,
        end: End::Close,
        pause: Duration::from_millis(1),
    };
    let (deltas, reply) = turn(behaviour).await;
    assert_eq!(deltas, ["Fresh", " bread", " daily"]);
    assert_eq!(
        reply,
        Reply {
            text: "Fresh bread daily".into(),
            outcome: Outcome::Ok,
            tokens: reply.tokens,
            choices: Vec::new(),
        }
    );
}

#[tokio::test]
async fn clean_close_before_done_is_an_error_with_partial_text() {
    let (deltas, reply) = turn(streaming(events(&["We open", " at"], "\n"), End::Close)).await;
    assert_eq!(deltas, ["We open", " at"]);
    assert_eq!(reply.text, "We open at");
    assert_visitor_error(&reply);
}

#[tokio::test]
async fn dropped_connection_is_an_error_with_partial_text() {
    let (_, reply) = turn(streaming(events(&["We open", " at"], "\n"), End::Abort)).await;
    assert_eq!(reply.text, "We open at");
    assert_visitor_error(&reply);
}

#[tokio::test]
async fn finish_reason_then_close_without_done_is_accepted() {
    let mut pieces = events(&["All", " done"], "\n");
    let last = json!({ "choices": [{ "delta": {}, "finish_reason": "stop" }] });
    pieces.push(format!("data: {last}\n\n"));
    let (_, reply) = turn(streaming(pieces, End::Close)).await;
    assert_eq!(
        reply,
        Reply {
            text: "All done".into(),
            outcome: Outcome::Ok,
            tokens: reply.tokens,
            choices: Vec::new(),
        }
    );
}

#[tokio::test]
async fn done_without_text_is_an_error() {
    let (deltas, reply) = turn(streaming(vec!["data: [DONE]\n\n".into()], End::Close)).await;
    assert!(deltas.is_empty());
    assert_eq!(reply.text, "");
    assert_visitor_error(&reply);
}

#[tokio::test]
async fn in_band_error_ends_the_turn() {
    let mut pieces = events(&["Partial"], "\n");
    pieces.push(format!(
        "data: {}\n\n",
        json!({ "error": { "message": PROVIDER_BODY } })
    ));
    pieces.extend(events(&[" never shown"], "\n"));
    let (_, reply) = turn(streaming(pieces, End::Close)).await;
    assert_eq!(reply.text, "Partial");
    assert_visitor_error(&reply);
}

#[tokio::test]
async fn unauthorized_is_an_error() {
    let (deltas, reply) = turn(Behaviour::Status(
        StatusCode::UNAUTHORIZED,
        PROVIDER_BODY.into(),
    ))
    .await;
    assert!(deltas.is_empty());
    assert_eq!(reply.text, "");
    assert_visitor_error(&reply);
}

#[tokio::test]
async fn server_error_is_an_error() {
    let (_, reply) = turn(Behaviour::Status(
        StatusCode::INTERNAL_SERVER_ERROR,
        PROVIDER_BODY.into(),
    ))
    .await;
    assert_eq!(reply.text, "");
    assert_visitor_error(&reply);
}

#[tokio::test]
async fn connection_refused_is_an_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let agent = agent(&format!("http://{addr}/v1"), Some("sk-test"));
    let (_, reply) = run(&agent, input(none(), &[], "Hello?")).await;
    assert_eq!(reply.text, "");
    assert_visitor_error(&reply);
}

#[tokio::test]
async fn idle_provider_times_out_quickly() {
    let (url, _) = start(streaming(events(&["Thinking"], "\n"), End::Stall)).await;
    let agent = agent(&url, None).with_idle_timeout(Duration::from_millis(300));
    let started = Instant::now();
    let (_, reply) = run(&agent, input(none(), &[], "Hello?")).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(reply.text, "Thinking");
    assert_visitor_error(&reply);
}

#[tokio::test]
async fn keepalives_hold_a_slow_stream_open() {
    let mut pieces = vec![": keepalive\n\n".to_owned(); 6];
    pieces.extend(events(&["Ready"], "\n"));
    pieces.push("data: [DONE]\n\n".into());
    let behaviour = Behaviour::Stream {
        pieces,
        end: End::Close,
        pause: Duration::from_millis(100),
    };
    let (url, _) = start(behaviour).await;
    let agent = agent(&url, None).with_idle_timeout(Duration::from_millis(300));
    let (_, reply) = run(&agent, input(none(), &[], "Hello?")).await;
    assert_eq!(
        reply,
        Reply {
            text: "Ready".into(),
            outcome: Outcome::Ok,
            tokens: reply.tokens,
            choices: Vec::new(),
        }
    );
}

#[tokio::test]
async fn request_carries_model_key_prompt_history_and_message() {
    let mut pieces = events(&["Yes!"], "\n");
    pieces.push("data: [DONE]\n\n".into());
    let (url, provider) = start(streaming(pieces, End::Close)).await;
    let knowledge = KnowledgeBase::new(knowledge(), chatlink_core::i18n::Lang::En);
    // Twelve messages, so the oldest two must be left out.
    let history: Vec<HistoryMessage> = (0..12)
        .map(|i| HistoryMessage {
            role: [Role::User, Role::Assistant, Role::Owner][i % 3],
            content: format!("message {i}"),
        })
        .collect();
    let message = "Do you bake sourdough bread?";
    let (_, reply) = run(
        &agent(&url, Some("sk-test-key")),
        input(&knowledge, &history, message),
    )
    .await;
    assert_eq!(reply.outcome, Outcome::Ok);

    let seen = provider.seen()[0].clone();
    assert_eq!(seen.path, "/v1/chat/completions");
    assert_eq!(seen.authorization.as_deref(), Some("Bearer sk-test-key"));
    assert_eq!(seen.body["model"], "tiny-model");
    assert_eq!(seen.body["stream"], true);

    let messages = seen.body["messages"].as_array().expect("messages array");
    assert_eq!(messages.len(), 1 + 10 + 1);
    assert_eq!(messages[0]["role"], "system");
    let system = messages[0]["content"].as_str().expect("system text");
    assert!(
        system.starts_with("You are Rosie, the bakery's cheerful helper."),
        "{system}"
    );
    assert!(
        system.contains("Answer from this knowledge when it applies:"),
        "{system}"
    );
    assert!(
        system.contains("Q: Do you bake sourdough?\nA: Yes, sourdough loaves every Friday."),
        "{system}"
    );
    assert!(
        system.contains("**bold**") && system.contains("No headings, tables"),
        "the model is told which Markdown the chat renders: {system}"
    );
    let history_sent: Vec<(&str, &str)> = messages[1..11]
        .iter()
        .map(|m| {
            (
                m["role"].as_str().expect("role"),
                m["content"].as_str().expect("content"),
            )
        })
        .collect();
    let expected: Vec<(&str, String)> = (2..12)
        .map(|i| {
            (
                ["user", "assistant", "assistant"][i % 3],
                format!("message {i}"),
            )
        })
        .collect();
    let expected: Vec<(&str, &str)> = expected.iter().map(|(r, c)| (*r, c.as_str())).collect();
    assert_eq!(history_sent, expected);
    assert_eq!(messages[11], json!({ "role": "user", "content": message }));
}

#[tokio::test]
async fn no_key_means_no_authorization_and_a_default_persona() {
    let mut pieces = events(&["Hi"], "\n");
    pieces.push("data: [DONE]\n\n".into());
    let (url, provider) = start(streaming(pieces, End::Close)).await;
    let mut input = input(none(), &[], "Hello?");
    input.persona = "  ";
    let (_, reply) = run(&agent(url.trim_end_matches('/'), None), input).await;
    assert_eq!(reply.outcome, Outcome::Ok);

    let seen = provider.seen()[0].clone();
    assert_eq!(seen.path, "/v1/chat/completions");
    assert_eq!(seen.authorization, None);
    let messages = seen.body["messages"].as_array().expect("messages array");
    assert_eq!(messages.len(), 2);
    let system = messages[0]["content"].as_str().expect("system text");
    assert!(system.contains("Rosie's Bakery"), "{system}");
    assert!(!system.contains("knowledge"), "{system}");
}

#[test]
fn config_debug_hides_the_key() {
    let config = OpenAiConfig {
        max_tokens: 300,
        base_url: "http://localhost/v1".into(),
        model: "m".into(),
        api_key: Some(Sensitive::new("sk-very-secret".into())),
    };
    let printed = format!(
        "{config:?} {:?}",
        OpenAiAgent::new(config.clone(), default_client())
    );
    assert!(!printed.contains("sk-very-secret"), "{printed}");
}
