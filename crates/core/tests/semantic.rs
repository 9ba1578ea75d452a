//! Optional semantic matching against a fake embeddings server on loopback: the knowledge is
//! embedded once in the background (with the owner's key), a visitor's question that shares no
//! word with the knowledge is matched by meaning, an edit re-embeds only what changed, a server
//! that fails leaves words alone and tells the owner, and the OpenAI engine's prompt knowledge is
//! chosen by words and meaning together.

mod common;

use std::time::Duration;

use chatlink_core::app::{AgentInfo, EmbeddingsSetting, IssueLink};
use chatlink_core::secret::Sensitive;
use chatlink_test_support::FakeEmbeddings;
use serde_json::json;

use common::*;

const COELIAC: &str = "I'm coeliac, is there anything I can eat?";
const GLUTEN: &str = "Do you have gluten-free options?";

/// Words a real model would put close together; the demo's knowledge says "gluten-free" only.
async fn embeddings() -> FakeEmbeddings {
    FakeEmbeddings::start(&[&["coeliac", "celiac", "gluten"]]).await
}

async fn embed_with(s: &Server, slug: &str, fake: &FakeEmbeddings) -> AgentInfo {
    s.app
        .set_embeddings_key(slug, Some(Sensitive::new("emb-secret".into())))
        .await
        .expect("key");
    s.app
        .set_embeddings(
            slug,
            Some(EmbeddingsSetting {
                base_url: fake.base_url.clone(),
                model: "fake-embed".into(),
            }),
        )
        .await
        .expect("set embeddings")
}

/// The agent's info once its vectors are in use (or its problem is reported), read as the
/// window reads it: with no visitor writing meanwhile.
async fn settled(s: &Server, slug: &str) -> AgentInfo {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let info = s.app.agent(slug).await.expect("agent");
        let e = info.embeddings.clone().expect("embeddings set");
        if e.ready || e.problem.is_some() {
            return info;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the knowledge was not embedded in 20 s: {e:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_question_no_word_of_the_knowledge_shares_is_matched_by_meaning() {
    let s = start().await;
    let (_, link) = s.link(IssueLink::chat("demo")).await;
    let (done, _) = turn(&s, &link, COELIAC, "en").await;
    assert_eq!(done["status"], "handoff", "words alone: {done}");

    let fake = embeddings().await;
    let info = embed_with(&s, "demo", &fake).await;
    let e = info.embeddings.expect("set");
    assert_eq!(e.model, "fake-embed");
    assert!(e.api_key_set);
    let info = settled(&s, "demo").await;
    let e = info.embeddings.expect("set");
    assert!(e.ready, "{e:?}");
    assert_eq!(e.problem, None);

    let asked = fake.asked();
    assert!(asked.iter().all(|a| a.model == "fake-embed"));
    assert!(
        asked
            .iter()
            .all(|a| a.authorization.as_deref() == Some("Bearer emb-secret"))
    );
    let texts = fake.texts();
    assert!(texts.iter().any(|t| t == GLUTEN), "{texts:?}");
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("We offer gluten-free brownies")),
        "answers are embedded too"
    );

    // A clear answer by words costs the embeddings server nothing.
    let asked = fake.asked().len();
    let (done, text) = turn(&s, &link, "When are you open on Sunday?", "en").await;
    assert_eq!(done["status"], "ok");
    assert!(text.contains("8am to 2pm"), "{text}");
    assert_eq!(fake.asked().len(), asked, "not embedded");

    // A person is still told, and meanwhile the visitor is offered the entry meaning points
    // at; tapping it answers.
    let (done, _) = turn(&s, &link, COELIAC, "en").await;
    assert_eq!(done["status"], "handoff", "{done}");
    assert_eq!(done["choices"], json!([GLUTEN]), "{done}");
    let (done, text) = turn(&s, &link, GLUTEN, "en").await;
    assert_eq!(done["status"], "ok");
    assert!(text.contains("gluten-free brownies"), "{text}");
    // The message was embedded by the same server and model, with the same key.
    assert!(fake.texts().iter().any(|t| t == COELIAC));

    // Nothing of the key reaches the database (nor its write-ahead log).
    for file in ["chatlink.db", "chatlink.db-wal"] {
        let bytes = std::fs::read(s.app.data_dir().join(file)).unwrap_or_default();
        assert!(!bytes.windows(10).any(|w| w == b"emb-secret"), "{file}");
    }
}

#[tokio::test]
async fn an_edit_re_embeds_only_what_changed() {
    let s = start().await;
    let fake = embeddings().await;
    embed_with(&s, "demo", &fake).await;
    assert!(settled(&s, "demo").await.embeddings.expect("set").ready);
    let before = fake.texts().len();
    s.app
        .add_knowledge(
            "demo",
            Some("Do you sell coffee?".into()),
            "Yes: filter coffee and espresso, to take away.".into(),
        )
        .await
        .expect("add");
    assert!(settled(&s, "demo").await.embeddings.expect("set").ready);
    let texts = fake.texts();
    let mut batch_texts: Vec<&String> = texts[before..].iter().collect();
    batch_texts.sort();
    assert_eq!(
        batch_texts,
        [
            "Do you sell coffee?",
            "Yes: filter coffee and espresso, to take away."
        ],
        "only the new entry's texts"
    );
}

#[tokio::test]
async fn a_failing_server_leaves_words_alone_and_tells_the_owner() {
    let s = start().await;
    let fake = embeddings().await;
    fake.fail_with(500);
    embed_with(&s, "demo", &fake).await;
    let e = settled(&s, "demo").await.embeddings.expect("set");
    assert!(!e.ready);
    let problem = e.problem.expect("a problem");
    assert!(problem.contains("500"), "{problem}");
    assert!(!problem.contains("emb-secret"));
    let answer = s.app.ask_agent("demo", None, COELIAC).await.expect("ask");
    assert_eq!(answer.outcome.as_str(), "handoff", "words alone");
    assert!(answer.choices.is_empty());
    let answer = s
        .app
        .ask_agent("demo", None, "When are you open on Sunday?")
        .await
        .expect("ask");
    assert!(answer.text.contains("8am to 2pm"), "{}", answer.text);

    // Setting the server again tries at once; now it answers.
    fake.fail_with(0);
    embed_with(&s, "demo", &fake).await;
    let e = settled(&s, "demo").await.embeddings.expect("set");
    assert!(e.ready, "{e:?}");
    let answer = s.app.ask_agent("demo", None, COELIAC).await.expect("ask");
    assert_eq!(answer.choices, [GLUTEN]);

    // A server that answers 200 with something else, echoing the key: the owner is told it
    // was not embeddings, and nothing it said.
    fake.echo_garbage(true);
    s.app
        .add_knowledge("demo", Some("Do you sell coffee?".into()), "Yes.".into())
        .await
        .expect("add");
    let e = settled(&s, "demo").await.embeddings.expect("set");
    let problem = e.problem.expect("a problem");
    assert!(problem.contains("not embeddings"), "{problem}");
    assert!(!problem.contains("emb-secret"), "{problem}");
    fake.echo_garbage(false);

    // A bad setting is refused and changes nothing.
    let refused = s
        .app
        .set_embeddings(
            "demo",
            Some(EmbeddingsSetting {
                base_url: "ftp://example".into(),
                model: "m".into(),
            }),
        )
        .await;
    assert!(refused.is_err());
    let info = s.app.agent("demo").await.expect("agent");
    assert_eq!(info.embeddings.expect("kept").base_url, fake.base_url);

    // Off again: words alone, the vectors' server no longer asked.
    s.app.set_embeddings("demo", None).await.expect("off");
    let asked = fake.asked().len();
    let answer = s.app.ask_agent("demo", None, COELIAC).await.expect("ask");
    assert_eq!(answer.outcome.as_str(), "handoff");
    assert!(answer.choices.is_empty());
    assert_eq!(fake.asked().len(), asked);
    assert!(
        s.app
            .agent("demo")
            .await
            .expect("agent")
            .embeddings
            .is_none()
    );
}

#[tokio::test]
async fn a_language_models_prompt_gets_the_knowledge_meaning_points_at() {
    let s = start().await;
    let provider = chatlink_test_support::FakeProvider::drip(&["Sure."], Duration::ZERO).await;
    agent_on(&s.app, "chef", &provider.base_url).await;
    for entry in s.app.knowledge("demo").await.expect("demo knowledge") {
        s.app
            .add_knowledge("chef", entry.question, entry.answer)
            .await
            .expect("copy");
    }
    let prompt = || async {
        let asked = provider.seen().len();
        s.app.ask_agent("chef", None, COELIAC).await.expect("ask");
        provider.seen()[asked..]
            .iter()
            .filter_map(|r| r.body["messages"][0]["content"].as_str())
            .next_back()
            .expect("a prompt")
            .to_owned()
    };
    let words_alone = prompt().await;
    assert!(
        !words_alone.contains("gluten-free brownies"),
        "{words_alone}"
    );
    let fake = embeddings().await;
    embed_with(&s, "chef", &fake).await;
    assert!(settled(&s, "chef").await.embeddings.expect("set").ready);
    let system = prompt().await;
    assert!(system.contains("gluten-free brownies"), "{system}");
}

#[tokio::test]
async fn a_large_knowledge_is_embedded_in_batches_of_64() {
    let s = start().await;
    s.app
        .create_agent(chatlink_core::app::NewAgent {
            slug: "big".into(),
            name: "Big Shop".into(),
            greeting: String::new(),
            instructions: String::new(),
        })
        .await
        .expect("agent");
    for i in 0..50 {
        s.app
            .add_knowledge(
                "big",
                Some(format!("Do you stock item number {i}?")),
                format!("Yes, item {i} is on shelf {i}."),
            )
            .await
            .expect("entry");
    }
    let fake = embeddings().await;
    embed_with(&s, "big", &fake).await;
    assert!(settled(&s, "big").await.embeddings.expect("set").ready);
    let sizes: Vec<usize> = fake.asked().iter().map(|a| a.texts.len()).collect();
    assert_eq!(
        sizes.iter().sum::<usize>(),
        100,
        "each text once: {sizes:?}"
    );
    assert!(sizes.iter().all(|&n| n <= 64), "{sizes:?}");
    assert!(sizes.len() >= 2, "{sizes:?}");
}
