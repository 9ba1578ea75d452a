//! The built-in answers agent as visitors meet it over HTTP: suggested questions on the page,
//! a clarifying reply with choices, answers in the visitor's language or a handoff in it, and
//! the owner's answer to a handed-off question becoming knowledge.

mod common;

use chatlink_core::app::{IssueLink, KnowledgeEdit, LearnAs};
use chatlink_core::i18n::Lang;
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
    assert_eq!(suggestion.key.as_deref(), Some(unanswered[0].key.as_str()));
    s.app
        .learn(
            "cakes",
            &suggestion.question,
            LearnAs::NewEntry {
                answer: suggestion.answer.clone(),
            },
            suggestion.key.clone(),
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
    // A visitor's message may be longer than an entry's question: its start is ranked.
    let long = format!("how much for a cake for a wedding? {}", "cake ".repeat(200));
    let similar = s
        .app
        .similar_entries("cakes", &long)
        .await
        .expect("a long question is ranked by its start");
    assert_eq!(
        similar.first().map(|e| e.question.as_str()),
        Some("How much is a wedding cake?"),
        "{similar:?}"
    );
    assert!(
        s.app
            .similar_entries("cakes", "zebra crossing")
            .await
            .expect("similar")
            .is_empty()
    );
}

/// What the code before keyed a learned question with: the owner's wording and the agent's
/// language. The tests below check it differs, so they exercise a key the owner's text cannot
/// rebuild.
fn rebuilt_key(question: &str) -> String {
    chatlink_core::agent::retrieval::question_key(question, Lang::En).0
}

#[tokio::test]
async fn a_learned_question_leaves_the_list_whatever_its_wording_and_browser_language() {
    let s = start().await;
    let link = chatlink_test_support::cake_shop(&s.app).await;
    // Too short to tell its language: the turn keys them with the browser's (German) words.
    let (done, _) = turn(&s, &link, "vegan cakes??", "de").await;
    assert_eq!(done["status"], "handoff", "{done}");
    let (done, _) = turn(&s, &link, "gluten free cakes?", "de").await;
    assert_eq!(done["status"], "handoff", "{done}");
    let listed = s.app.unanswered("cakes").await.expect("unanswered");
    assert_eq!(listed.len(), 2, "{listed:?}");
    let vegan = listed
        .iter()
        .find(|q| q.question == "vegan cakes??")
        .expect("vegan")
        .clone();

    // From the Unanswered panel: the owner tidies the wording (over two lines) and passes the
    // row's key.
    let edited = "Do you make\n   vegan cakes?";
    assert_ne!(rebuilt_key(edited), vegan.key, "the old way would miss it");
    let entry = s
        .app
        .learn(
            "cakes",
            edited,
            LearnAs::NewEntry {
                answer: "Yes, to order.".into(),
            },
            Some(vegan.key.clone()),
        )
        .await
        .expect("learn");
    assert_eq!(
        entry.question.as_deref(),
        Some("Do you make vegan cakes?"),
        "a question is kept on one line"
    );
    let left = s.app.unanswered("cakes").await.expect("unanswered");
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].question, "gluten free cakes?");

    // From the inbox: the suggestion carries the row's key, so an edited question still takes
    // it off the list.
    let conversation = left[0].conversation_id.clone().expect("where");
    s.app
        .owner_reply(&conversation, "Yes, gluten-free sponge on Fridays.")
        .await
        .expect("reply");
    let suggestion = s
        .app
        .learn_suggestion(&conversation)
        .await
        .expect("suggestion");
    assert_eq!(suggestion.question, "gluten free cakes?");
    assert_eq!(suggestion.key.as_deref(), Some(left[0].key.as_str()));
    let edited = "Are there gluten-free cakes?";
    assert_ne!(
        rebuilt_key(edited),
        left[0].key,
        "the old way would miss it"
    );
    s.app
        .learn(
            "cakes",
            edited,
            LearnAs::NewEntry {
                answer: suggestion.answer,
            },
            suggestion.key,
        )
        .await
        .expect("learn");
    assert!(
        s.app.unanswered("cakes").await.expect("list").is_empty(),
        "answered questions leave the list"
    );
}

#[tokio::test]
async fn a_question_learned_as_a_phrasing_leaves_the_list_and_bad_input_changes_nothing() {
    let s = start().await;
    let link = chatlink_test_support::cake_shop(&s.app).await;
    let (done, _) = turn(&s, &link, "Can I come by for a tasting?", "en").await;
    assert_eq!(done["status"], "handoff", "{done}");
    let listed = s.app.unanswered("cakes").await.expect("unanswered");
    assert_eq!(listed.len(), 1, "{listed:?}");
    let key = listed[0].key.clone();
    let before = s.app.knowledge("cakes").await.expect("entries");
    let open = before
        .iter()
        .find(|k| k.question.as_deref() == Some("When are you open?"))
        .expect("the hours entry")
        .clone();

    // An answer with a phrasing is refused, not dropped; so is a key no question has.
    let err = LearnAs::from_parts(Some("We are open daily.".into()), Some(open.id))
        .expect_err("an answer for a phrasing");
    assert_eq!(err.code(), "invalid_input");
    let err = s
        .app
        .learn(
            "cakes",
            "Can I come by for a tasting?",
            LearnAs::PhrasingOf(open.id),
            Some("k".repeat(201)),
        )
        .await
        .expect_err("a key too long");
    assert_eq!(err.code(), "invalid_input");
    let err = s
        .app
        .learn(
            "cakes",
            "Can I come\n by for a tasting?",
            LearnAs::PhrasingOf(999_999),
            Some(key.clone()),
        )
        .await
        .expect_err("no such entry");
    assert_eq!(err.code(), "not_found");
    assert_eq!(s.app.knowledge("cakes").await.expect("entries"), before);
    assert_eq!(s.app.unanswered("cakes").await.expect("list"), listed);

    let learned = s
        .app
        .learn(
            "cakes",
            "Can I come\n by for a tasting?",
            LearnAs::from_parts(Some("  ".into()), Some(open.id)).expect("a phrasing"),
            Some(key),
        )
        .await
        .expect("learn as a phrasing");
    assert_eq!(learned.id, open.id);
    assert_eq!(learned.answer, open.answer, "the entry's answer stands");
    assert_eq!(learned.phrasings, ["Can I come by for a tasting?"]);
    assert!(
        s.app.unanswered("cakes").await.expect("list").is_empty(),
        "a question learned as a phrasing leaves the list"
    );
    let (done, text) = turn(&s, &link, "Can I come by for a tasting?", "en").await;
    assert_eq!(done["status"], "ok", "{done}: {text}");
    assert_eq!(text, open.answer);
}

#[tokio::test]
async fn a_dismissed_question_leaves_the_list_and_an_overlong_key_is_refused() {
    let s = start().await;
    let link = chatlink_test_support::cake_shop(&s.app).await;
    let (done, _) = turn(&s, &link, "Do you sell flowers?", "en").await;
    assert_eq!(done["status"], "handoff", "{done}");
    let listed = s.app.unanswered("cakes").await.expect("unanswered");
    assert_eq!(listed.len(), 1, "{listed:?}");

    let err = s
        .app
        .dismiss_unanswered("cakes", &"k".repeat(201))
        .await
        .expect_err("a key too long");
    assert_eq!(err.code(), "invalid_input");
    let err = s
        .app
        .dismiss_unanswered("nobody", &listed[0].key)
        .await
        .expect_err("no such agent");
    assert_eq!(err.code(), "not_found");
    assert_eq!(s.app.unanswered("cakes").await.expect("list"), listed);

    // A key no question has is no error: the list may have changed since it was read.
    s.app
        .dismiss_unanswered("cakes", "never asked")
        .await
        .expect("an unknown key");
    assert_eq!(s.app.unanswered("cakes").await.expect("list"), listed);
    s.app
        .dismiss_unanswered("cakes", &listed[0].key)
        .await
        .expect("dismiss");
    assert!(s.app.unanswered("cakes").await.expect("list").is_empty());
}
