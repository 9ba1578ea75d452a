//! The built-in engine: answers from the folder's knowledge without a language model, asks which
//! question was meant when a few fit about equally, and hands the question to a person when
//! nothing in the knowledge answers it.
//!
//! Matching is [`super::retrieval`]'s; this module turns its decision into words. Words of the
//! engine's own (thanks, "did you mean", the handoff) are in the language the visitor wrote in
//! when that is clear, else in the page's language.

use super::retrieval::analyze::{Analyzer, SmallTalk, folded_words};
use super::retrieval::{self, Decision, Index};
use super::{Agent, AgentInput, BoxFuture, DeltaSink, Reply};
use crate::i18n::Lang;
use crate::model::{Knowledge, Outcome};

/// Longer paragraphs of free text are narrowed to their best sentence: a chat reply, not a page.
const MAX_EXCERPT_CHARS: usize = 300;

/// Pieces small enough to look typed, large enough not to flood the socket with frames.
const WORDS_PER_DELTA: usize = 3;

/// Ranked entries a decision looks at.
const RANKED: usize = 8;

/// Answers from knowledge by ranked retrieval; see the module docs.
#[derive(Debug, Default, Clone, Copy)]
pub struct AnswersAgent;

impl AnswersAgent {
    pub fn new() -> Self {
        AnswersAgent
    }
}

impl Agent for AnswersAgent {
    fn run<'a>(&'a self, input: AgentInput<'a>, sink: &'a DeltaSink) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            // Meaning only weighs in where the words leave it open (a close call or a
            // handoff), so only then is the message embedded: a greeting, thanks or a clear
            // answer costs the embeddings server nothing. A server that fails leaves words
            // alone.
            let mut judged = verdict(&input, None);
            let open = matches!(judged.0, Verdict::Clarify(_) | Verdict::Handoff(_));
            if open
                && input.knowledge.semantic().is_some()
                && let Some(query) = input.knowledge.embed_query(input.message).await
            {
                judged = verdict(&input, Some(&query));
            }
            let reply = answer(&input, judged);
            for piece in pieces(&reply.text, WORDS_PER_DELTA) {
                sink(piece);
            }
            reply
        })
    }
}

/// What the engine makes of a message, before it is put into words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    SmallTalk(SmallTalk),
    /// Entry `.0` of the knowledge answers it.
    Answer(usize),
    /// One of these entries may: the visitor is asked which.
    Clarify(Vec<usize>),
    /// A person should answer; these entries are close in meaning and offered to tap meanwhile
    /// (semantic matching only).
    Handoff(Vec<usize>),
}

/// A greeting or thanks, in any language the engine reads.
fn small_talk(input: &AgentInput<'_>) -> Option<SmallTalk> {
    let name = folded_words(input.name);
    Lang::ALL
        .iter()
        .find_map(|&l| Analyzer::of(l).small_talk(input.message, &name))
}

/// The engine's verdict on `input.message`, and the language its own words should be in: the
/// message's when that is clear, else the page's. `query` is the message's vector when the
/// knowledge has vectors (semantic matching).
pub fn verdict(input: &AgentInput<'_>, query: Option<&[f32]>) -> (Verdict, Lang) {
    if let Some(talk) = small_talk(input) {
        // A greeting or thanks is never searched; only its language is wanted.
        let lang = retrieval::detect::detect(input.message).unwrap_or(input.lang);
        return (Verdict::SmallTalk(talk), lang);
    }
    let ranked = input.knowledge.index().rank(input.message, RANKED);
    let lang = ranked.detected.unwrap_or(input.lang);
    let (decision, related) = input.knowledge.decide(&ranked, query);
    let verdict = match decision {
        Decision::Answer(at) => Verdict::Answer(at),
        Decision::Clarify(choices) => Verdict::Clarify(choices),
        Decision::Handoff => Verdict::Handoff(related),
    };
    (verdict, lang)
}

/// The reply to `input.message` given the engine's verdict on it.
fn answer(input: &AgentInput<'_>, (verdict, lang): (Verdict, Lang)) -> Reply {
    let ok = |text: &str| Reply::new(text, Outcome::Ok);
    let entries = input.knowledge.entries();
    let questions = |at: &[usize]| -> Vec<String> {
        at.iter()
            .filter_map(|&at| entries.get(at)?.question.clone())
            .collect()
    };
    let mut related = Vec::new();
    match verdict {
        Verdict::SmallTalk(SmallTalk::Greeting) if input.greeting.trim().is_empty() => {
            return ok(&lang.text("agent.greeting", &[]));
        }
        Verdict::SmallTalk(SmallTalk::Greeting) => return ok(input.greeting.trim()),
        Verdict::SmallTalk(SmallTalk::Thanks) => return ok(&lang.text("agent.thanks", &[])),
        Verdict::Answer(at) => {
            let index = input.knowledge.index();
            let text = entries
                .get(at)
                .map(|entry| text_of(index, at, entry, input.message))
                .unwrap_or_default();
            if !text.is_empty() {
                return ok(text);
            }
        }
        Verdict::Clarify(choices) => {
            let choices = questions(&choices);
            if !choices.is_empty() {
                return Reply {
                    choices,
                    ..ok(&lang.text("agent.clarify", &[]))
                };
            }
        }
        Verdict::Handoff(close) => related = questions(&close),
    }
    let text = match input.name.trim() {
        "" => lang.text("agent.fallback", &[]),
        name => lang.text("agent.fallback_named", &[("name", name)]),
    };
    Reply {
        choices: related,
        ..Reply::new(text, Outcome::Handoff)
    }
}

/// A Q&A entry's answer, or the part of free text the message is about.
fn text_of<'t>(index: &Index, at: usize, entry: &'t Knowledge, message: &str) -> &'t str {
    if entry.question.is_some() {
        entry.answer.trim()
    } else {
        excerpt(index, at, &entry.answer, message)
    }
}

/// The paragraph of a free-text entry that best matches the message, or its best sentence when
/// that paragraph is long. Ties go to the earliest, which is usually the more general.
fn excerpt<'t>(index: &Index, at: usize, text: &'t str, message: &str) -> &'t str {
    let text = text.trim();
    let paragraph = most_relevant(index, at, paragraphs(text), message).unwrap_or(text);
    if paragraph.chars().count() <= MAX_EXCERPT_CHARS {
        return paragraph;
    }
    most_relevant(index, at, sentences(paragraph), message).unwrap_or(paragraph)
}

fn most_relevant<'t>(
    index: &Index,
    at: usize,
    parts: Vec<&'t str>,
    message: &str,
) -> Option<&'t str> {
    let mut best: Option<(f64, &str)> = None;
    for part in parts.into_iter().map(str::trim).filter(|p| !p.is_empty()) {
        let score = index.overlap(at, message, part);
        if best.is_none_or(|(top, _)| score > top) {
            best = Some((score, part));
        }
    }
    best.map(|(_, part)| part)
}

/// Splits at blank lines (however the owner's editor wrote them).
fn paragraphs(text: &str) -> Vec<&str> {
    let (mut parts, mut start, mut at) = (Vec::new(), 0, 0);
    for line in text.split_inclusive('\n') {
        if line.trim().is_empty() {
            parts.push(&text[start..at]);
            start = at + line.len();
        }
        at += line.len();
    }
    parts.push(&text[start..]);
    parts
}

/// Splits after `.`, `!` or `?` followed by whitespace, and at line breaks.
fn sentences(text: &str) -> Vec<&str> {
    let (mut parts, mut start, mut after_stop) = (Vec::new(), 0, false);
    for (i, c) in text.char_indices() {
        if c == '\n' || (after_stop && c.is_whitespace()) {
            parts.push(&text[start..i]);
            start = i;
        }
        after_stop = matches!(c, '.' | '!' | '?');
    }
    parts.push(&text[start..]);
    parts
}

/// `text` cut into pieces of `words` words each. Whitespace stays with the word before it, so the
/// pieces concatenate back to exactly `text`.
fn pieces(text: &str, words: usize) -> Vec<&str> {
    let (mut parts, mut start, mut count, mut in_word) = (Vec::new(), 0, 0, false);
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            in_word = false;
        } else if !in_word {
            in_word = true;
            if count == words.max(1) {
                parts.push(&text[start..i]);
                (start, count) = (i, 0);
            }
            count += 1;
        }
    }
    if start < text.len() {
        parts.push(&text[start..]);
    }
    parts
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::super::KnowledgeBase;
    use super::super::retrieval::tests::bakery;
    use super::*;
    use crate::model::HistoryMessage;

    const GREETING: &str = "Hi! Welcome to Rosie's Bakery. How can we help?";

    async fn ask(knowledge: &[Knowledge], message: &str) -> (Reply, Vec<String>) {
        let deltas = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&deltas);
        let sink = move |d: &str| seen.lock().expect("sink lock").push(d.to_string());
        let history: [HistoryMessage; 0] = [];
        let base = KnowledgeBase::new(knowledge.to_vec(), crate::i18n::Lang::En);
        let input = AgentInput {
            name: "Rosie's Bakery",
            persona: "Friendly and brief.",
            greeting: GREETING,
            knowledge: &base,
            history: &history,
            message,
            lang: crate::i18n::Lang::En,
        };
        let reply = AnswersAgent::new().run(input, &sink).await;
        let deltas = deltas.lock().expect("deltas lock").clone();
        (reply, deltas)
    }

    fn answer_of(id: i64) -> String {
        bakery()
            .into_iter()
            .find(|k| k.id == id)
            .map(|k| k.answer)
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn answers_paraphrased_questions_from_the_right_entry() {
        let kb = bakery();
        for (message, id) in [
            ("when are you open on sunday?", 1),
            ("Hi! When are you open on Sunday?", 1),
            ("where is the shop", 2),
            ("do you sell croissants", 3),
            ("can I order a birthday cake", 4),
            ("anything without gluten?", 5),
            ("how much is delivery", 6),
        ] {
            let (reply, _) = ask(&kb, message).await;
            assert_eq!(reply.outcome, Outcome::Ok, "{message}");
            assert_eq!(reply.text, answer_of(id), "{message}");
        }
    }

    #[tokio::test]
    async fn free_text_answers_with_the_relevant_paragraph() {
        let (reply, _) = ask(&bakery(), "is your sourdough organic?").await;
        assert_eq!(reply.outcome, Outcome::Ok);
        assert!(
            reply.text.starts_with("Our sourdough starter"),
            "{}",
            reply.text
        );
        assert!(reply.text.contains("organic flour"));
        assert!(!reply.text.contains("1998") && !reply.text.contains("food bank"));

        let long = format!(
            "{}Our cakes are iced to order. We open at seven.",
            "Filler words here. ".repeat(20)
        );
        let kb = [Knowledge {
            id: 1,
            question: None,
            answer: long,
            ..Knowledge::default()
        }];
        let (reply, _) = ask(&kb, "are your cakes iced?").await;
        assert_eq!(reply.text, "Our cakes are iced to order.");
    }

    #[tokio::test]
    async fn unrelated_or_partial_questions_hand_off() {
        let kb = bakery();
        for message in [
            "what is the capital of France",
            "asdf qwerty",
            "do you sell wedding dresses",
            "can you fix my bicycle?",
            "",
            "???",
        ] {
            let (reply, deltas) = ask(&kb, message).await;
            assert_eq!(reply.outcome, Outcome::Handoff, "{message}");
            assert!(
                reply.text.contains("someone at Rosie's Bakery"),
                "{}",
                reply.text
            );
            assert!(reply.text.contains("reply here"));
            assert_eq!(deltas.concat(), reply.text);
        }
    }

    #[tokio::test]
    async fn a_term_in_every_entry_is_no_answer_but_a_single_entry_folder_answers() {
        let everywhere: Vec<Knowledge> = (0..10)
            .map(|i| Knowledge {
                id: i,
                question: Some(format!("Question {i} about the bakery")),
                answer: format!("Answer {i}."),
                ..Knowledge::default()
            })
            .collect();
        assert_eq!(ask(&everywhere, "bakery").await.0.outcome, Outcome::Handoff);

        let one = &bakery()[2..3];
        let (reply, _) = ask(one, "croissants?").await;
        assert_eq!((reply.outcome, reply.text), (Outcome::Ok, answer_of(3)));
    }

    #[tokio::test]
    async fn small_talk_gets_the_greeting_or_an_acknowledgement() {
        for message in [
            "hi",
            "Hello!",
            "hey there",
            "Good morning",
            "bonjour",
            "hi Rosie",
            "Hey, how are you?",
        ] {
            let (reply, _) = ask(&bakery(), message).await;
            assert_eq!(
                (reply.outcome, reply.text.as_str()),
                (Outcome::Ok, GREETING),
                "{message}"
            );
            let (reply, _) = ask(&[], message).await;
            assert_eq!(reply.text, GREETING, "{message}");
        }
        for message in ["thanks", "Thank you!", "ok thanks so much", "cheers!"] {
            let (reply, _) = ask(&bakery(), message).await;
            assert_eq!(
                (reply.outcome, reply.text.as_str()),
                (
                    Outcome::Ok,
                    crate::i18n::Lang::En.text("agent.thanks", &[]).as_str()
                ),
                "{message}"
            );
        }
        let (reply, _) = ask(&bakery(), "thanks, do you deliver?").await;
        assert_eq!(reply.text, answer_of(6));
    }

    #[tokio::test]
    async fn an_empty_greeting_falls_back_to_a_default() {
        let sink = |_: &str| {};
        let empty = KnowledgeBase::new(Vec::new(), crate::i18n::Lang::En);
        let input = AgentInput {
            name: "",
            persona: "",
            greeting: "  ",
            knowledge: &empty,
            history: &[],
            message: "hello",
            lang: crate::i18n::Lang::En,
        };
        let reply = AnswersAgent.run(input, &sink).await;
        assert_eq!(
            reply.text,
            crate::i18n::Lang::En.text("agent.greeting", &[])
        );
        let reply = AnswersAgent
            .run(
                AgentInput {
                    message: "cake?",
                    ..input
                },
                &sink,
            )
            .await;
        assert_eq!(reply.outcome, Outcome::Handoff);
        assert!(reply.text.contains("to a person"));
        let reply = AnswersAgent
            .run(
                AgentInput {
                    message: "Kuchen?",
                    lang: crate::i18n::Lang::De,
                    ..input
                },
                &sink,
            )
            .await;
        assert_eq!(
            reply.text,
            crate::i18n::Lang::De.text("agent.fallback", &[]),
            "a German visitor is told in German"
        );
    }

    #[tokio::test]
    async fn empty_knowledge_always_hands_off() {
        for message in ["when are you open?", "croissants", "do you deliver?"] {
            assert_eq!(
                ask(&[], message).await.0.outcome,
                Outcome::Handoff,
                "{message}"
            );
        }
    }

    #[tokio::test]
    async fn streams_in_pieces_that_add_up_to_the_reply() {
        let (reply, deltas) = ask(&bakery(), "where is the shop").await;
        assert!(deltas.len() > 1);
        assert_eq!(deltas.concat(), reply.text);
        assert!(
            deltas
                .iter()
                .all(|d| d.split_whitespace().count() <= WORDS_PER_DELTA)
        );
    }

    #[test]
    fn pieces_keep_exact_spacing() {
        let text = "  one two\tthree  four\n\nfive six seven ";
        let parts = pieces(text, 3);
        assert_eq!(parts, ["  one two\tthree  ", "four\n\nfive six ", "seven "]);
        assert_eq!(parts.concat(), text);
        assert!(pieces("", 3).is_empty());
        assert_eq!(pieces("   ", 3), ["   "]);
        assert_eq!(pieces("a b", 0).concat(), "a b");
    }

    #[tokio::test]
    async fn unicode_and_odd_input_do_not_panic() {
        for message in [
            "¿Dónde está la panadería? 🥐",
            "パン屋はどこですか",
            "İİİ ß ﬁ e\u{301}",
            "\u{0}\u{200b}'s’",
            "héllo",
            &"croissant ".repeat(500),
        ] {
            let (reply, deltas) = ask(&bakery(), message).await;
            assert_eq!(deltas.concat(), reply.text);
        }
        let kb = [Knowledge {
            id: 1,
            question: None,
            answer: "Ünïcödé 🥐 croissants!\r\n\r\nÉté.".into(),
            ..Knowledge::default()
        }];
        let (reply, _) = ask(&kb, "croissants").await;
        assert_eq!(reply.text, "Ünïcödé 🥐 croissants!");
    }
}
