//! How the owner's knowledge grows from what visitors ask: other phrasings of an entry, its
//! language, the questions the agent handed off (most asked first), and turning the owner's
//! reply to a handed-off question into knowledge in one step.

use serde::{Deserialize, Serialize};

use super::{App, Inner};
use crate::agent::retrieval::{self, CLARIFY, MAX_CHOICES};
use crate::error::{Error, Result};
use crate::i18n::Lang;
use crate::knowledge::{self, MAX_QUESTION_CHARS};
use crate::model::{Knowledge, Role, rfc3339};

/// Phrasings an entry keeps at most, besides its question.
pub const MAX_PHRASINGS: usize = 20;
/// Unanswered questions the owner is shown at most.
pub const MAX_UNANSWERED_SHOWN: usize = 200;
/// An unanswered question's key is at most this long: `retrieval::question_key` cuts keys there,
/// so a longer one names no question and is refused rather than looked up.
pub const MAX_KEY_BYTES: usize = 200;

/// A question visitors asked that the agent could not answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UnansweredQuestion {
    /// What `dismiss_unanswered` takes.
    pub key: String,
    /// The latest wording.
    pub question: String,
    pub lang: Option<Lang>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub asks: i64,
    /// The conversation it was last asked in.
    pub conversation_id: Option<String>,
    pub last_asked_at: String,
}

/// An existing entry the owner's answer may be another phrasing of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SimilarEntry {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: i64,
    pub question: String,
}

/// What the window offers to learn from a conversation the owner answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LearnSuggestion {
    pub agent: String,
    /// The visitor's question the owner answered.
    pub question: String,
    /// The owner's answer to it.
    pub answer: String,
    /// Entries it may be another way of asking, closest first.
    pub similar: Vec<SimilarEntry>,
    /// The unanswered question this is, when it is on the list: what `learn` takes to take it
    /// off (the visitor's browser language shaped the key, so it is not rebuilt from the text).
    pub key: Option<String>,
}

/// An entry as the owner's edit form changes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct KnowledgeEdit {
    /// `None` or blank: free text.
    pub question: Option<String>,
    pub answer: String,
    /// Other ways visitors ask it (tidied: blanks and repeats dropped).
    pub phrasings: Vec<String>,
    /// `None`: read from its text.
    pub lang: Option<Lang>,
}

/// Where a learned question goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LearnAs {
    /// A new entry with the owner's answer.
    NewEntry { answer: String },
    /// Another phrasing of this entry: its own answer stands, so none is taken.
    PhrasingOf(i64),
}

impl LearnAs {
    /// From a front end's two optional fields: an answer makes a new entry, an entry id a
    /// phrasing of it. Both at once is refused rather than the answer silently dropped.
    pub fn from_parts(answer: Option<String>, phrasing_of: Option<i64>) -> Result<LearnAs> {
        let answer = answer.filter(|a| !a.trim().is_empty());
        match (answer, phrasing_of) {
            (Some(_), Some(_)) => Err(Error::invalid(
                "an answer goes with a new entry: another phrasing keeps its entry's answer",
            )),
            (None, Some(id)) => Ok(LearnAs::PhrasingOf(id)),
            (Some(answer), None) => Ok(LearnAs::NewEntry { answer }),
            (None, None) => Err(Error::invalid("the answer is empty")),
        }
    }
}

impl App {
    /// Replaces an entry's other phrasings (trimmed; blanks and repeats dropped).
    pub async fn set_phrasings(
        &self,
        slug: &str,
        id: i64,
        phrasings: Vec<String>,
    ) -> Result<Knowledge> {
        let phrasings = tidy_phrasings(phrasings)?;
        let slug = slug.to_owned();
        self.blocking(move |i| {
            i.has_question(&slug, id)?;
            i.store.set_knowledge_phrasings(&slug, id, &phrasings)
        })
        .await
    }

    /// Adds one phrasing to an entry (a repeat changes nothing).
    pub async fn add_phrasing(&self, slug: &str, id: i64, phrasing: &str) -> Result<Knowledge> {
        let slug = slug.to_owned();
        let phrasing = phrasing.to_owned();
        self.blocking(move |i| i.add_phrasing(&slug, id, &phrasing))
            .await
    }

    /// Sets the language an entry is written in; `None`: read from its text.
    pub async fn set_knowledge_language(
        &self,
        slug: &str,
        id: i64,
        lang: Option<Lang>,
    ) -> Result<Knowledge> {
        let slug = slug.to_owned();
        self.blocking(move |i| i.store.set_knowledge_lang(&slug, id, lang))
            .await
    }

    /// The questions the agent handed off, most asked first.
    pub async fn unanswered(&self, slug: &str) -> Result<Vec<UnansweredQuestion>> {
        let slug = slug.to_owned();
        self.blocking(move |i| {
            i.store.folder(&slug)?;
            let rows = i.store.unanswered(&slug, MAX_UNANSWERED_SHOWN)?;
            Ok(rows
                .into_iter()
                .map(|r| UnansweredQuestion {
                    key: r.key,
                    question: r.question,
                    lang: r.lang,
                    asks: r.asks,
                    conversation_id: r.conversation,
                    last_asked_at: rfc3339(r.last_at),
                })
                .collect())
        })
        .await
    }

    /// Entries of an agent a question may be another way of asking (for an unanswered
    /// question the owner is about to answer).
    ///
    /// A visitor's message may be longer than an entry's question: only its first
    /// `MAX_QUESTION_CHARS` characters are ranked, which bounds the work and still lets the owner
    /// answer it (this only reads).
    pub async fn similar_entries(&self, slug: &str, question: &str) -> Result<Vec<SimilarEntry>> {
        let question: String = question.chars().take(MAX_QUESTION_CHARS).collect();
        let slug = slug.to_owned();
        self.blocking(move |i| {
            let folder = i.store.folder(&slug)?;
            i.similar(&folder, &question)
        })
        .await
    }

    /// Changes an entry's question, answer, other phrasings and language together: a bad field
    /// changes none of them.
    pub async fn edit_knowledge(
        &self,
        slug: &str,
        id: i64,
        edit: KnowledgeEdit,
    ) -> Result<Knowledge> {
        let (question, answer) = knowledge::entry(edit.question.as_deref(), &edit.answer)?;
        let phrasings = tidy_phrasings(edit.phrasings)?;
        if question.is_none() && !phrasings.is_empty() {
            return Err(free_text_has_no_question());
        }
        let slug = slug.to_owned();
        self.blocking(move |i| {
            i.store.edit_knowledge(
                &slug,
                id,
                question.as_deref(),
                &answer,
                &phrasings,
                edit.lang,
            )
        })
        .await
    }

    /// Takes a question off the unanswered list without answering it.
    pub async fn dismiss_unanswered(&self, slug: &str, key: &str) -> Result<()> {
        check_key(key)?;
        let (slug, key) = (slug.to_owned(), key.to_owned());
        self.blocking(move |i| {
            i.store.folder(&slug)?;
            i.store.forget_unanswered(&slug, &[key])?;
            Ok(())
        })
        .await
    }

    /// The visitor's question the owner last answered in a conversation, the owner's answer, and
    /// entries it may be another phrasing of.
    pub async fn learn_suggestion(&self, conversation_id: &str) -> Result<LearnSuggestion> {
        let id = conversation_id.to_owned();
        self.blocking(move |i| {
            let conversation = i.store.find_conversation(&id)?;
            let transcript = i.store.transcript(&id)?;
            let (question, answer) = last_answered(&transcript).ok_or_else(|| {
                Error::invalid("no question in this conversation has the owner's answer yet")
            })?;
            let folder = i.store.folder(&conversation.folder)?;
            let similar = i.similar(&folder, &question)?;
            // The turn keyed the question with the visitor's browser language, which is not
            // kept: every language's key of the exact text is tried, this conversation's first.
            let mut keys: Vec<String> = Lang::ALL
                .iter()
                .map(|&l| retrieval::question_key(&question, l).0)
                .collect();
            keys.sort();
            keys.dedup();
            let key = i.store.unanswered_key(&folder.slug, &keys, &id)?;
            Ok(LearnSuggestion {
                agent: folder.slug,
                question,
                answer,
                similar,
                key,
            })
        })
        .await
    }

    /// Adds a visitor's question to the knowledge (a new entry with its answer, or a phrasing
    /// of an existing one) and takes the unanswered question `forget` (its key from
    /// `unanswered` or `learn_suggestion`) off the list, all in one write: the next visitor
    /// who asks it is answered. The key is taken as given, not rebuilt from the question: the
    /// owner may have tidied the wording, and the visitor's browser language shaped the key.
    pub async fn learn(
        &self,
        slug: &str,
        question: &str,
        learn_as: LearnAs,
        forget: Option<String>,
    ) -> Result<Knowledge> {
        if let Some(key) = &forget {
            check_key(key)?;
        }
        // A question is one line: a visitor's message may run over several.
        let question = one_line(question);
        if question.is_empty() {
            return Err(Error::invalid("the question is empty"));
        }
        let slug = slug.to_owned();
        self.blocking(move |i| {
            i.store.folder(&slug)?;
            let forget = forget.as_deref();
            match learn_as {
                LearnAs::NewEntry { answer } => {
                    let (_, answer) = knowledge::entry(Some(&question), &answer)?;
                    // The visitor's language, when clear, is the entry's: a German question
                    // answered in German is matched with German words.
                    let lang = retrieval::detect::detect(&question);
                    i.store.learn_entry(&slug, &question, &answer, lang, forget)
                }
                LearnAs::PhrasingOf(id) => {
                    let entry = i.has_question(&slug, id)?;
                    let phrasings = with_phrasing(&entry, &question)?;
                    // A phrasing it already has changes nothing, so the index is not rebuilt.
                    let changed = (phrasings != entry.phrasings).then_some(phrasings.as_slice());
                    i.store.learn_phrasing(&slug, id, changed, forget)
                }
            }
        })
        .await
    }
}

impl Inner {
    /// Entries a question may be another way of asking, closest first.
    fn similar(
        &self,
        folder: &crate::store::FolderRow,
        question: &str,
    ) -> Result<Vec<SimilarEntry>> {
        let base = self.knowledge_base(folder)?;
        let ranked = base.index().rank(question, MAX_CHOICES * 2);
        Ok(ranked
            .hits
            .iter()
            .filter(|h| h.confidence >= CLARIFY)
            .filter_map(|h| {
                let entry = base.entries().get(h.index)?;
                Some(SimilarEntry {
                    id: entry.id,
                    question: entry.question.clone()?,
                })
            })
            .take(MAX_CHOICES)
            .collect())
    }

    fn has_question(&self, slug: &str, id: i64) -> Result<Knowledge> {
        let entry = self.store.knowledge_entry(slug, id)?;
        if entry.question.is_none() {
            return Err(free_text_has_no_question());
        }
        Ok(entry)
    }

    fn add_phrasing(&self, slug: &str, id: i64, phrasing: &str) -> Result<Knowledge> {
        let entry = self.has_question(slug, id)?;
        let phrasings = with_phrasing(&entry, phrasing)?;
        if phrasings == entry.phrasings {
            return Ok(entry);
        }
        self.store.set_knowledge_phrasings(slug, id, &phrasings)
    }
}

fn free_text_has_no_question() -> Error {
    Error::invalid("free text has no question to ask another way: give it a question first")
}

/// Keys come from the owner's front end; one longer than any key names nothing.
fn check_key(key: &str) -> Result<()> {
    if key.len() > MAX_KEY_BYTES {
        return Err(Error::invalid(format!(
            "an unanswered question's key is at most {MAX_KEY_BYTES} bytes"
        )));
    }
    Ok(())
}

/// Runs of whitespace (line breaks too) as one space, trimmed.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An entry's phrasings with one more. A repeat (ignoring case) changes nothing, even on an
/// entry that already has as many as it may.
fn with_phrasing(entry: &Knowledge, phrasing: &str) -> Result<Vec<String>> {
    let lower = phrasing.trim().to_lowercase();
    if entry.phrasings.iter().any(|p| p.to_lowercase() == lower) {
        return Ok(entry.phrasings.clone());
    }
    let mut phrasings = entry.phrasings.clone();
    phrasings.push(phrasing.to_owned());
    tidy_phrasings(phrasings)
}

/// Trimmed, without blanks or repeats (ignoring case), each within a question's length.
fn tidy_phrasings(phrasings: Vec<String>) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for p in phrasings {
        let p = p.trim();
        if p.is_empty() {
            continue;
        }
        // Checked before the comparison with those kept, so a huge list costs at most
        // `MAX_PHRASINGS` comparisons per item rather than growing without bound.
        if out.len() == MAX_PHRASINGS {
            return Err(Error::invalid(format!(
                "an entry takes at most {MAX_PHRASINGS} other phrasings"
            )));
        }
        if p.chars().count() > MAX_QUESTION_CHARS {
            return Err(Error::invalid(format!(
                "a phrasing is longer than {MAX_QUESTION_CHARS} characters"
            )));
        }
        if p.chars().any(char::is_control) {
            return Err(Error::invalid("a phrasing must be one line of plain text"));
        }
        let lower = p.to_lowercase();
        if seen.contains(&lower) {
            continue;
        }
        out.push(p.to_owned());
        seen.push(lower);
    }
    Ok(out)
}

/// The last visitor message the owner answered, and the owner's messages that answered it.
fn last_answered(transcript: &[crate::model::Message]) -> Option<(String, String)> {
    let last_owner = transcript.iter().rposition(|m| m.role == Role::Owner)?;
    let asked = transcript[..last_owner]
        .iter()
        .rposition(|m| m.role == Role::User)?;
    let answer: Vec<&str> = transcript[asked + 1..=last_owner]
        .iter()
        .filter(|m| m.role == Role::Owner)
        .map(|m| m.content.trim())
        .collect();
    Some((
        transcript[asked].content.trim().to_owned(),
        answer.join("\n\n"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Message;

    fn m(role: Role, content: &str) -> Message {
        Message {
            id: content.into(),
            turn_id: None,
            role,
            content: content.into(),
            created_at: 0,
        }
    }

    #[test]
    fn the_last_answered_question_is_the_visitors_before_the_owners_reply() {
        let t = [
            m(Role::User, "hi"),
            m(Role::Assistant, "Hello!"),
            m(Role::User, "do you sell flowers?"),
            m(Role::Assistant, "I'll pass that on."),
            m(Role::Owner, "Yes, on Fridays."),
            m(Role::Owner, "Tulips mostly."),
        ];
        assert_eq!(
            last_answered(&t),
            Some((
                "do you sell flowers?".into(),
                "Yes, on Fridays.\n\nTulips mostly.".into()
            ))
        );
        assert_eq!(last_answered(&t[..4]), None, "no owner reply yet");
        assert_eq!(last_answered(&[m(Role::Owner, "Hi")]), None);
    }

    #[test]
    fn phrasings_are_tidied_and_bounded() {
        assert_eq!(
            tidy_phrasings(vec![
                " Parking? ".into(),
                "".into(),
                "parking?".into(),
                "Where do I park".into()
            ])
            .expect("tidy"),
            ["Parking?", "Where do I park"]
        );
        assert!(tidy_phrasings(vec!["x".repeat(MAX_QUESTION_CHARS + 1)]).is_err());
        let err = tidy_phrasings(vec!["a\nb".into()]).expect_err("two lines");
        assert_eq!(err.to_string(), "a phrasing must be one line of plain text");
        assert!(tidy_phrasings((0..=MAX_PHRASINGS).map(|i| format!("q{i}")).collect()).is_err());
        assert_eq!(
            tidy_phrasings((0..MAX_PHRASINGS).map(|i| format!("q{i}")).collect())
                .expect("as many as allowed")
                .len(),
            MAX_PHRASINGS
        );
        // A huge list is refused as soon as it passes the cap, without comparing the rest.
        let huge: Vec<String> = (0..100_000).map(|i| format!("q{i}")).collect();
        let err = tidy_phrasings(huge).expect_err("too many");
        assert_eq!(err.code(), "invalid_input");
    }

    #[test]
    fn a_repeat_phrasing_changes_nothing_even_on_a_full_entry() {
        let full = Knowledge {
            id: 1,
            question: Some("Hours?".into()),
            answer: "9 to 5".into(),
            phrasings: (0..MAX_PHRASINGS).map(|i| format!("q{i}")).collect(),
            lang: None,
        };
        assert_eq!(
            with_phrasing(&full, " Q3 ").expect("a repeat"),
            full.phrasings
        );
        assert!(with_phrasing(&full, "one more").is_err());
    }

    #[test]
    fn a_question_is_one_line() {
        assert_eq!(
            one_line("  Do you\r\n make \t vegan\ncakes? "),
            "Do you make vegan cakes?"
        );
        assert_eq!(one_line(" \n "), "");
    }

    #[test]
    fn an_answer_goes_with_a_new_entry_only() {
        assert_eq!(
            LearnAs::from_parts(Some("Yes.".into()), None).expect("new"),
            LearnAs::NewEntry {
                answer: "Yes.".into()
            }
        );
        assert_eq!(
            LearnAs::from_parts(Some(" ".into()), Some(4)).expect("phrasing"),
            LearnAs::PhrasingOf(4)
        );
        assert_eq!(
            LearnAs::from_parts(None, Some(4)).expect("phrasing"),
            LearnAs::PhrasingOf(4)
        );
        for (answer, into) in [(Some("Yes."), Some(4)), (None, None), (Some(""), None)] {
            let err = LearnAs::from_parts(answer.map(str::to_owned), into).expect_err("refused");
            assert_eq!(err.code(), "invalid_input", "{answer:?} {into:?}");
        }
    }

    #[test]
    fn every_key_the_turn_makes_fits_the_bound_on_keys() {
        let long: String = (0..400).map(|i| format!("word{i} ")).collect();
        let (key, _) = retrieval::question_key(&long, Lang::En);
        assert!(key.len() <= MAX_KEY_BYTES, "{}", key.len());
        assert!(
            key.len() > MAX_KEY_BYTES - 10,
            "the turn cuts at the same bound"
        );
        assert!(check_key(&key).is_ok());
        assert!(check_key(&"k".repeat(MAX_KEY_BYTES + 1)).is_err());
    }
}
