//! The built-in answers agent as visitors meet it over HTTP: suggested questions on the page,
//! a clarifying reply with choices, answers in the visitor's language or a handoff in it, and
//! the owner's answer to a handed-off question becoming knowledge.

mod common;

use chatlink_core::app::{IssueLink, KnowledgeEdit, LearnAs};
use chatlink_core::i18n::Lang;
use reqwest::StatusCode;
use serde_json::{Value, json};

use common::*;

/// The JSON the chat page hands its script.
async fn page_config(s: &Server, link: &str, accept_language: &str) -> Value {
    let html = s
        .client
        .get(link)
        .header("Accept-Language", accept_language)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    let start = html.find("id=\"chatlink-config\"").expect("config script");
    let body = &html[start..];
    let open = body.find('>').expect("tag end") + 1;
    let close = body.find("</script>").expect("script end");
    serde_json::from_str(&body[open..close]).expect("config JSON")
}

/// Asks `content` on `link` and returns the turn's `done` frame and its reply text.
async fn turn(s: &Server, link: &str, content: &str, lang: &str) -> (Value, String) {
    let res = s
        .client
        .post(link)
        .header("Accept-Language", lang)
        .json(&json!({"content": content}))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let posted: Value = res.json().await.expect("json");
    let turn_id = posted["turn_id"].as_str().expect("turn");
    let events = all_events(s.sse(link, turn_id, None).await).await;
    let mut text = String::new();
    let mut done = Value::Null;
    for e in events {
        let data: Value = serde_json::from_str(&e.data).expect("frame JSON");
        match e.event.as_str() {
            "message" => text = data["content"].as_str().unwrap_or_default().to_owned(),
            "done" => done = data,
            _ => {}
        }
    }
    (done, text)
}

#[tokio::test]
async fn the_page_suggests_the_first_questions_in_the_visitors_language() {
    let s = start().await;
    let (_, link) = s.link(IssueLink::chat("demo")).await;
    let config = page_config(&s, &link, "en").await;
    assert_eq!(
        config["suggestions"],
        json!([
            "What are your opening hours?",
            "Where are you located?",
            "What's on the menu?"
        ])
    );
    // The demo's knowledge is English: a German visitor is offered the English questions rather
    // than none, and the words around them are German.
    let config = page_config(&s, &link, "de").await;
    assert_eq!(config["lang"], "de");
    assert_eq!(config["suggestions"][0], "What are your opening hours?");

    let entry = s
        .app
        .add_knowledge(
            "demo",
            Some("Wann habt ihr geöffnet?".into()),
            "Montag bis Samstag 7 bis 18 Uhr, sonntags 8 bis 14 Uhr.".into(),
        )
        .await
        .expect("German entry");
    let config = page_config(&s, &link, "de").await;
    assert_eq!(config["suggestions"], json!(["Wann habt ihr geöffnet?"]));
    // And a German question is answered from it, not from the English hours.
    let (done, text) = turn(&s, &link, "Habt ihr sonntags offen?", "de").await;
    assert_eq!(done["status"], "ok", "{done}");
    assert!(text.starts_with("Montag bis Samstag"), "{text}");
    s.app.remove_knowledge("demo", entry.id).await.expect("rm");
}

#[tokio::test]
async fn a_close_call_asks_which_was_meant_and_a_tapped_choice_gets_its_answer() {
    let s = start().await;
    let link = chatlink_test_support::cake_shop(&s.app).await;
    let (done, text) = turn(&s, &link, "how much is a cake?", "en").await;
    assert_eq!(done["status"], "ok", "{done}");
    assert_eq!(
        done["choices"],
        json!([
            "How much is a birthday cake?",
            "How much is a wedding cake?"
        ])
    );
    assert!(text.contains("Is it one of these?"), "{text}");

    // Tapping a choice sends its text: that is the entry's own question.
    let (done, text) = turn(&s, &link, "How much is a wedding cake?", "en").await;
    assert_eq!(done["status"], "ok");
    assert!(
        done.get("choices").is_none(),
        "a sure answer offers nothing"
    );
    assert_eq!(text, "Wedding cakes start at $120.");

    // A French visitor is never given an English answer as a guess: the handoff is in French.
    let (done, text) = turn(&s, &link, "Vous livrez à domicile ?", "fr").await;
    assert_eq!(done["status"], "handoff", "{done}: {text}");
    assert_eq!(
        text,
        chatlink_core::i18n::Lang::Fr.text("agent.fallback_named", &[("name", "Cake Corner")])
    );
}

#[tokio::test]
async fn the_owners_answer_to_a_handed_off_question_answers_the_next_visitor() {
    let s = start().await;
    let link = chatlink_test_support::cake_shop(&s.app).await;
    let (done, _) = turn(&s, &link, "Do you make vegan cakes?", "en").await;
    assert_eq!(done["status"], "handoff");
    let (done, _) = turn(&s, &link, "do you make VEGAN cakes??", "en").await;
    assert_eq!(done["status"], "handoff");

    let unanswered = s.app.unanswered("cakes").await.expect("unanswered");
    assert_eq!(unanswered.len(), 1, "{unanswered:?}");
    assert_eq!(unanswered[0].asks, 2);
    assert_eq!(unanswered[0].question, "do you make VEGAN cakes??");
    let conversation = unanswered[0].conversation_id.clone().expect("where");

    s.app
        .owner_reply(
            &conversation,
            "Yes: vegan sponge cakes, to order, from $30.",
        )
        .await
        .expect("reply");
    let suggestion = s
        .app
        .learn_suggestion(&conversation)
        .await
        .expect("suggestion");
    assert_eq!(suggestion.question, "do you make VEGAN cakes??");
    assert_eq!(
        suggestion.answer,
        "Yes: vegan sponge cakes, to order, from $30."
    );
    s.app
        .learn(
            "cakes",
            &suggestion.question,
            &suggestion.answer,
            LearnAs::NewEntry,
        )
        .await
        .expect("learn");
    assert!(
        s.app.unanswered("cakes").await.expect("list").is_empty(),
        "answered questions leave the list"
    );

    let (done, text) = turn(&s, &link, "Any vegan cakes?", "en").await;
    assert_eq!(done["status"], "ok", "{done}: {text}");
    assert_eq!(text, "Yes: vegan sponge cakes, to order, from $30.");
}

#[tokio::test]
async fn an_edit_with_one_bad_field_changes_nothing_and_a_good_one_is_matched_at_once() {
    let s = start().await;
    let link = chatlink_test_support::cake_shop(&s.app).await;
    let entries = s.app.knowledge("cakes").await.expect("entries");
    let open = entries
        .iter()
        .find(|k| k.question.as_deref() == Some("When are you open?"))
        .expect("the hours entry")
        .clone();

    let too_long = KnowledgeEdit {
        question: Some("When do you open?".into()),
        answer: "Every day from 7am.".into(),
        phrasings: vec!["x".repeat(1_000)],
        lang: Some(Lang::En),
    };
    let err = s
        .app
        .edit_knowledge("cakes", open.id, too_long)
        .await
        .expect_err("a phrasing too long");
    assert_eq!(err.code(), "invalid_input");
    let free_text = KnowledgeEdit {
        question: None,
        answer: "We bake at night.".into(),
        phrasings: vec!["When do you bake?".into()],
        lang: None,
    };
    let err = s
        .app
        .edit_knowledge("cakes", open.id, free_text)
        .await
        .expect_err("free text with phrasings");
    assert_eq!(err.code(), "invalid_input");
    let after = s.app.knowledge("cakes").await.expect("entries");
    assert_eq!(after, entries, "a refused edit changes nothing");

    let (done, _) = turn(&s, &link, "Can I drop by for a tasting?", "en").await;
    assert_eq!(done["status"], "handoff", "nothing says so yet: {done}");
    let edited = s
        .app
        .edit_knowledge(
            "cakes",
            open.id,
            KnowledgeEdit {
                question: Some("  When are you open? ".into()),
                answer: "Every day from 8am to 6pm.".into(),
                phrasings: vec![
                    "Can I drop by for a tasting?".into(),
                    " ".into(),
                    "can i drop by for a tasting?".into(),
                ],
                lang: Some(Lang::En),
            },
        )
        .await
        .expect("edit");
    assert_eq!(edited.question.as_deref(), Some("When are you open?"));
    assert_eq!(edited.phrasings, ["Can I drop by for a tasting?"]);
    assert_eq!(edited.lang, Some(Lang::En));
    let (done, text) = turn(&s, &link, "Can I drop by for a tasting?", "en").await;
    assert_eq!(done["status"], "ok", "{done}: {text}");
    assert_eq!(text, "Every day from 8am to 6pm.");

    let similar = s
        .app
        .similar_entries("cakes", "how much for a cake for a wedding")
        .await
        .expect("similar");
    assert_eq!(
        similar.first().map(|e| e.question.as_str()),
        Some("How much is a wedding cake?"),
        "{similar:?}"
    );
    let err = s
        .app
        .similar_entries("cakes", &"cake ".repeat(200))
        .await
        .expect_err("too long");
    assert_eq!(err.code(), "invalid_input");
    assert!(
        s.app
            .similar_entries("cakes", "zebra crossing")
            .await
            .expect("similar")
            .is_empty()
    );
}
