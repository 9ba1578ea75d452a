//! The built-in engine: answers from the folder's knowledge without a language model, and hands the
//! question to a person when nothing in the knowledge answers it.

use super::retrieval::{Index, terms};
use super::{Agent, AgentInput, BoxFuture, DeltaSink, Reply};
use crate::model::Outcome;

/// A match must contain more than half of the question's IDF weight. A word no entry contains has
/// the highest IDF there is, so a question about something the folder never mentions stays below
/// this even when it shares a word ("do you sell wedding dresses" matches "weddings" and no more),
/// while a paraphrase missing one minor word still passes ("when are you open on sunday": "when"
/// is nowhere, "open" and "sunday" are).
const MIN_COVERAGE: f64 = 0.5;

/// A match on a term that nearly every entry contains (the shop's own name) is no answer, however
/// complete. Such a term's IDF falls towards 0 as the folder grows (≈0.06 at 8 entries, ≈0.01 at
/// 50) while a term found in one entry scores about 1 or more; 0.1 sits between, and still lets a
/// one-entry folder answer (its terms score at least ln(4/3) ≈ 0.29).
const MIN_SCORE: f64 = 0.1;

/// Longer paragraphs of free text are narrowed to their best sentence: a chat reply, not a page.
const MAX_EXCERPT_CHARS: usize = 300;

/// Pieces small enough to look typed, large enough not to flood the socket with frames.
const WORDS_PER_DELTA: usize = 3;

const GREETINGS: &[&str] = &[
    "hi",
    "hello",
    "hey",
    "heya",
    "hiya",
    "howdy",
    "yo",
    "greetings",
    "morning",
    "afternoon",
    "evening",
    "bonjour",
    "salut",
    "hola",
    "hallo",
    "ciao",
    "ola",
    "olá",
];
const THANKS: &[&str] = &[
    "thanks",
    "thank",
    "thx",
    "ty",
    "cheers",
    "appreciated",
    "merci",
    "gracias",
    "danke",
    "grazie",
];
/// Words that may surround a greeting or thanks without making it a question.
const SMALL_TALK_FILLER: &[&str] = &[
    "a", "again", "all", "and", "are", "awesome", "doing", "everyone", "folks", "going", "good",
    "great", "guys", "how", "is", "it", "lot", "many", "much", "nice", "oh", "ok", "okay",
    "perfect", "so", "team", "there", "today", "up", "very", "well", "what", "you", "youre",
];

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
            let reply = answer(&input);
            for piece in pieces(&reply.text, WORDS_PER_DELTA) {
                sink(piece);
            }
            reply
        })
    }
}

enum SmallTalk {
    Greeting,
    Thanks,
}

fn answer(input: &AgentInput<'_>) -> Reply {
    let ok = |text: &str| Reply {
        text: text.to_string(),
        outcome: Outcome::Ok,
        tokens: None,
    };
    match small_talk(input.message, input.name) {
        Some(SmallTalk::Greeting) if input.greeting.trim().is_empty() => {
            return ok(&input.lang.text("agent.greeting", &[]));
        }
        Some(SmallTalk::Greeting) => return ok(input.greeting.trim()),
        Some(SmallTalk::Thanks) => return ok(&input.lang.text("agent.thanks", &[])),
        None => {}
    }
    let index = Index::new(input.knowledge);
    let found = index
        .search(input.message, 1)
        .into_iter()
        .next()
        .filter(|hit| hit.coverage > MIN_COVERAGE && hit.score >= MIN_SCORE)
        .and_then(|hit| input.knowledge.get(hit.index));
    let text = match found {
        Some(entry) if entry.question.is_some() => entry.answer.trim(),
        Some(entry) => excerpt(&index, &entry.answer, &terms(input.message)),
        None => "",
    };
    if !text.is_empty() {
        return ok(text);
    }
    let text = match input.name.trim() {
        "" => input.lang.text("agent.fallback", &[]),
        name => input.lang.text("agent.fallback_named", &[("name", name)]),
    };
    Reply {
        text,
        outcome: Outcome::Handoff,
        tokens: None,
    }
}

/// Whether the whole message is a greeting or a thanks. Words of the folder's name are allowed
/// ("hi Rosie"); anything else makes it a question, so "hi, are you open today?" is searched.
fn small_talk(message: &str, name: &str) -> Option<SmallTalk> {
    let words = |text: &str| -> Vec<String> {
        text.to_lowercase()
            .split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '’')
            // "hi Rosie" should match a folder named "Rosie's Bakery".
            .map(|w| {
                w.strip_suffix("'s")
                    .or_else(|| w.strip_suffix("’s"))
                    .unwrap_or(w)
            })
            .map(|w| w.replace(['\'', '’'], ""))
            .filter(|w| !w.is_empty())
            .collect()
    };
    let message = words(message);
    let name = words(name);
    let has = |set: &[&str]| message.iter().any(|w| set.contains(&w.as_str()));
    let all_small_talk = message.iter().all(|w| {
        [GREETINGS, THANKS, SMALL_TALK_FILLER]
            .iter()
            .any(|set| set.contains(&w.as_str()))
            || name.contains(w)
    });
    if message.len() > 8 || !all_small_talk {
        None
    } else if has(THANKS) {
        Some(SmallTalk::Thanks)
    } else if has(GREETINGS) {
        Some(SmallTalk::Greeting)
    } else {
        None
    }
}

/// The paragraph of a free-text entry that best matches the query, or its best sentence when that
/// paragraph is long. Ties go to the earliest, which is usually the more general.
fn excerpt<'t>(index: &Index, text: &'t str, query: &[String]) -> &'t str {
    let text = text.trim();
    let paragraph = most_relevant(index, paragraphs(text), query).unwrap_or(text);
    if paragraph.chars().count() <= MAX_EXCERPT_CHARS {
        return paragraph;
    }
    most_relevant(index, sentences(paragraph), query).unwrap_or(paragraph)
}

fn most_relevant<'t>(index: &Index, parts: Vec<&'t str>, query: &[String]) -> Option<&'t str> {
    let mut best: Option<(f64, &str)> = None;
    for part in parts.into_iter().map(str::trim).filter(|p| !p.is_empty()) {
        let found = terms(part);
        let score: f64 = query
            .iter()
            .filter(|t| found.contains(t))
            .map(|t| index.weight(t))
            .sum();
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

    use super::super::retrieval::tests::bakery;
    use super::*;
    use crate::model::{HistoryMessage, Knowledge};

    const GREETING: &str = "Hi! Welcome to Rosie's Bakery. How can we help?";

    async fn ask(knowledge: &[Knowledge], message: &str) -> (Reply, Vec<String>) {
        let deltas = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&deltas);
        let sink = move |d: &str| seen.lock().expect("sink lock").push(d.to_string());
        let history: [HistoryMessage; 0] = [];
        let input = AgentInput {
            name: "Rosie's Bakery",
            persona: "Friendly and brief.",
            greeting: GREETING,
            knowledge,
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
        let input = AgentInput {
            name: "",
            persona: "",
            greeting: "  ",
            knowledge: &[],
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
        }];
        let (reply, _) = ask(&kb, "croissants").await;
        assert_eq!(reply.text, "Ünïcödé 🥐 croissants!");
    }
}
