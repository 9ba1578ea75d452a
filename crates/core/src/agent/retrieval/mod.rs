//! Ranked retrieval over an agent's knowledge without a language model: which entries a
//! visitor's message is about, and how sure that is.
//!
//! Each language the knowledge is written in gets its own part of the index, analysed with its
//! own stemmer and lexicon ([`analyze`]). A message is searched in the part of the language it
//! is written in ([`detect`]); when that language is not known it is searched in every part, and
//! when it is known but the knowledge has nothing in it, nothing is searched: an English answer
//! to a French question would be a guess across languages.
//!
//! Within a part, an entry's confidence is how much of the message's weight (IDF, so a word no
//! entry uses weighs most) its best question or alternative phrasing covers, plus the words its
//! answer covers at a lower weight, scaled a little by how much of that question the message
//! asked. Words the knowledge never uses are corrected to its nearest word when one is close
//! ([`typo`]). [`Index::decide`] turns the confidences into an answer, a short list of choices, or
//! a handoff; how much of the message is words the knowledge never uses ([`Ranked::unknown`])
//! decides whether a lone weak candidate is answered and whether choices are worth offering.
//!
//! When the owner points the agent at an embeddings server, the knowledge's vectors ride along
//! ([`Semantic`]) and [`semantic`] combines the meaning ranking with the word ranking.
//!
//! An index is built once per version of an agent's knowledge and shared (see
//! `crate::app::KnowledgeCache`); a message only reads it.

pub mod analyze;
pub mod detect;
pub mod lexicon;
pub mod semantic;
pub mod typo;

use std::collections::{HashMap, HashSet};

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use analyze::{Analyzer, Kind, TOPIC, Token};
use typo::Typos;

use super::embed::{EmbedFailure, Embedder};

use crate::i18n::Lang;
use crate::model::Knowledge;

/// An answer at or above this confidence, clear of the runner-up by [`MARGIN`], is given.
pub const ANSWER: f64 = 0.55;
/// Between this and [`ANSWER`] (or too close to call) the visitor is offered choices.
pub const CLARIFY: f64 = 0.35;
pub const MARGIN: f64 = 0.1;
/// A lone candidate is answered from this confidence when the runner-up is at most
/// [`ALONE_RATIO`] of it and every word of the message is one the knowledge uses: the message
/// is plainly about that entry, in words its answer has rather than its question's ("is there
/// parking nearby" at a shop whose directions mention the car park). A word the knowledge never
/// uses ("do you deliver flowers") is what the message is about and nothing covers, so it
/// keeps the stricter bar.
pub const ALONE: f64 = 0.38;
pub const ALONE_RATIO: f64 = 0.5;
/// A message that is this much words the knowledge never uses is not offered choices: what it
/// asks is next to what the entries say ("do you rent out helmets" at a shop renting bikes),
/// and a person should answer it.
pub const UNCOVERED: f64 = 0.35;
/// Choices offered at most.
pub const MAX_CHOICES: usize = 3;

/// A message fully covered by an entry's answer alone is this sure; covered by its question,
/// `+ QUESTION_SHARE`; by a question it asked all of, `+ ASKED_SHARE` more (they sum to 1).
const BASE: f64 = 0.6;
const QUESTION_SHARE: f64 = 0.25;
const ASKED_SHARE: f64 = 0.15;
/// What free text's words count for, as a share of a question's.
const FREE_TEXT_SHARE: f64 = 0.2;
const CONTEXT_WEIGHT: f64 = 0.3;
/// `other_form`'s bounds: letters added or cut, and the shortest stem that is matched so.
const MAX_AFFIX: usize = 3;
const MIN_STEM: usize = 4;
/// Letters another form of a stem may add or cut: at most [`MAX_AFFIX`] and a third of the
/// longer form ("rental" / "rent", but not "motorbik" / "motor"), leaving [`MIN_STEM`].
fn max_affix(len: usize) -> usize {
    MAX_AFFIX.min(len / 3).min(len.saturating_sub(MIN_STEM))
}
/// A compound's parts: at least this many letters before the last part, and in it.
const MIN_HEAD: usize = 3;
const MIN_TAIL: usize = 5;
/// A message whose words are in nearly every entry ("bakery" at a bakery) says nothing about
/// which is meant, however fully it matches. A one-entry folder's words weigh ln(4/3) ≈ 0.29.
const MIN_WEIGHT: f64 = 0.2;
/// A corrected typo, or a word read as another form of a known one ("rentals" as "rent"),
/// counts for this much of the word it was read as.
const TYPO_CREDIT: f64 = 0.8;
/// A word the knowledge never uses weighs this much of the most a word can: it is what the
/// message is about that the knowledge does not cover ("flowers"), or a slip too far to read.
const UNKNOWN_WEIGHT: f64 = 0.7;

/// One ranked entry: `index` points into the entries the index was built from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub index: usize,
    /// 0..=1; see the module docs.
    pub confidence: f64,
}

/// A message's ranking.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    /// The message's language when detection was sure of it.
    pub detected: Option<Lang>,
    /// The message is in a language none of the knowledge is written in.
    pub foreign: bool,
    pub hits: Vec<Hit>,
    /// The message's total term weight where it was searched: how much it says.
    pub weight: f64,
    /// The share of that weight in topic words the knowledge never uses (nor a near spelling
    /// or another form of one): what the message asks that nothing covers.
    pub unknown: f64,
}

/// What to do with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Answer(usize),
    /// The closest entries, best first: ask which one was meant.
    Clarify(Vec<usize>),
    Handoff,
}

/// An agent's knowledge with its index: built once per version of the knowledge and shared by
/// every turn until the owner changes it.
#[derive(Debug)]
pub struct KnowledgeBase {
    entries: Vec<Knowledge>,
    index: Index,
    semantic: Option<Semantic>,
}

/// The knowledge's vectors and the server that made them: a message is embedded by the same
/// server and model, or its vector would not compare.
#[derive(Debug)]
pub struct Semantic {
    embedder: Embedder,
    vectors: semantic::Vectors,
    /// When a failure to embed a message was last logged: a server that is down is said once a
    /// minute, not once a message.
    warned_at: AtomicI64,
}

/// A visitor waits for the message's vector before the reply starts: past this, words alone.
const QUERY_DEADLINE: Duration = Duration::from_secs(3);
const WARN_EVERY_MS: i64 = 60_000;

impl Semantic {
    pub fn new(embedder: Embedder, vectors: semantic::Vectors) -> Semantic {
        Semantic {
            embedder,
            vectors,
            warned_at: AtomicI64::new(i64::MIN),
        }
    }

    /// Embeds every text of `entries` now, with no cache and no background: for measuring
    /// (`chatlink-eval --embeddings`). The server records vectors in `crate::app`.
    pub async fn embed_all(
        embedder: Embedder,
        entries: &[Knowledge],
        deadline: Duration,
    ) -> Result<Semantic, EmbedFailure> {
        let texts: Vec<(usize, semantic::Side, String)> = entries
            .iter()
            .enumerate()
            .flat_map(|(at, e)| {
                semantic::texts_of(e)
                    .into_iter()
                    .map(move |(side, text)| (at, side, text))
            })
            .collect();
        let strings: Vec<String> = texts.iter().map(|t| t.2.clone()).collect();
        let made = embedder.embed_all(&strings, deadline).await?;
        let units = texts
            .into_iter()
            .zip(made)
            .map(|(t, v)| (t.0, t.1, v))
            .collect();
        let vectors = semantic::Vectors::new(units)
            .ok_or_else(|| EmbedFailure::Malformed("no usable vectors".into()))?;
        Ok(Semantic::new(embedder, vectors))
    }

    /// The message's vector, or `None` (logged) when the server fails: the agent then matches
    /// by words alone.
    pub async fn embed_query(&self, message: &str) -> Option<Vec<f32>> {
        let text = semantic::query_text(message);
        match self.embedder.embed(&[text], QUERY_DEADLINE).await {
            Ok(mut v) => v.pop(),
            Err(e) => {
                let now = crate::model::now_ms();
                let last = self.warned_at.load(Ordering::Relaxed);
                if now.saturating_sub(last) >= WARN_EVERY_MS {
                    self.warned_at.store(now, Ordering::Relaxed);
                    let model = &self.embedder.config().model;
                    tracing::warn!(%model, "semantic matching skipped for a message: {e}");
                }
                None
            }
        }
    }
}

impl KnowledgeBase {
    pub fn new(entries: Vec<Knowledge>, default: Lang) -> KnowledgeBase {
        let index = Index::new(&entries, default);
        KnowledgeBase {
            entries,
            index,
            semantic: None,
        }
    }

    /// The same knowledge with its vectors.
    pub fn with_semantic(mut self, semantic: Semantic) -> KnowledgeBase {
        self.semantic = Some(semantic);
        self
    }

    pub fn entries(&self) -> &[Knowledge] {
        &self.entries
    }

    pub fn index(&self) -> &Index {
        &self.index
    }

    pub fn semantic(&self) -> Option<&Semantic> {
        self.semantic.as_ref()
    }

    /// The message's vector when the knowledge has vectors and the server answers.
    pub async fn embed_query(&self, message: &str) -> Option<Vec<f32>> {
        match &self.semantic {
            Some(s) => s.embed_query(message).await,
            None => None,
        }
    }

    /// Each searched entry's similarity in meaning to a message whose vector is `query`, best
    /// first; empty without vectors.
    pub fn similar(&self, ranked: &Ranked, query: Option<&[f32]>) -> Vec<(usize, f32)> {
        match (&self.semantic, query) {
            (Some(s), Some(q)) if !ranked.foreign => {
                s.vectors.similar(q, |at| self.index.searched(ranked, at))
            }
            _ => Vec::new(),
        }
    }

    /// Answer, ask which of a few was meant, or hand off (with the questions to offer beside
    /// it): the words' decision, with meaning taken into account when there are vectors.
    pub fn decide(&self, ranked: &Ranked, query: Option<&[f32]>) -> (Decision, Vec<usize>) {
        let words = self.index.decide(ranked);
        let similar = self.similar(ranked, query);
        if similar.is_empty() {
            return (words, Vec::new());
        }
        match semantic::decide(ranked, words, &similar) {
            Decision::Handoff => (
                Decision::Handoff,
                semantic::related(&self.index, ranked, &similar),
            ),
            other => (other, Vec::new()),
        }
    }

    /// The best entries for a message, best first, at most `limit`: the prompt knowledge of a
    /// language model. Words and meaning fused when there are vectors.
    pub fn best(&self, message: &str, query: Option<&[f32]>, limit: usize) -> Best {
        let ranked = self.index.rank(message, limit.max(RANK_DEPTH));
        let similar = self.similar(&ranked, query);
        let mut entries = if similar.is_empty() {
            ranked.hits.iter().map(|h| h.index).collect()
        } else {
            semantic::fuse(&ranked, &similar)
        };
        entries.truncate(limit);
        Best {
            foreign: ranked.foreign,
            entries,
        }
    }
}

/// [`KnowledgeBase::best`]'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Best {
    /// The message is in a language none of the knowledge is written in (nothing was searched).
    pub foreign: bool,
    /// Indexes into the entries, best first.
    pub entries: Vec<usize>,
}

/// Ranked entries fusion looks at.
const RANK_DEPTH: usize = 8;

#[derive(Debug, Clone)]
pub struct Index {
    parts: Vec<Part>,
    /// Each entry's part and whether it has a question.
    entries: Vec<(usize, bool)>,
}

#[derive(Debug, Clone)]
struct Part {
    lang: Lang,
    /// Local entry → index into the entries the index was built from.
    members: Vec<usize>,
    free_text: Vec<bool>,
    /// Questions and alternative phrasings: (local entry, its terms, their total weight).
    units: Vec<(u32, Vec<String>, f64)>,
    answer_terms: Vec<HashSet<String>>,
    df: HashMap<String, u32>,
    unit_postings: HashMap<String, Vec<u32>>,
    answer_postings: HashMap<String, Vec<u32>>,
    typos: Typos,
    /// Each folded word of the knowledge (and the lexicon's topic words) → its term, so a
    /// visitor who types "reparacion" meets the owner's "reparación" however each stems.
    surfaces: HashMap<String, String>,
    /// Hyphenated words written as one ("glutenfree") → their terms.
    joins: HashMap<String, Vec<Token>>,
    /// In languages that make compounds: the stem of a compound's last part → the compound's
    /// term, so "Gutscheine" finds "Geschenkgutscheine".
    tails: HashMap<String, String>,
    /// Known stems with up to three letters cut off → the stem, for forms Snowball keeps apart
    /// ("rental" / "rent", "electrical" / "electric").
    shorter: HashMap<String, String>,
}

impl Index {
    /// Indexes `entries`; an entry without a language is read as the one its text is in, else
    /// as `default`.
    pub fn new(entries: &[Knowledge], default: Lang) -> Index {
        let mut parts: Vec<Part> = Vec::new();
        let mut placed = Vec::with_capacity(entries.len());
        for (at, entry) in entries.iter().enumerate() {
            let lang = entry.lang.unwrap_or_else(|| {
                let text = format!(
                    "{} {}",
                    entry.question.as_deref().unwrap_or_default(),
                    entry.answer
                );
                detect::detect(&text).unwrap_or(default)
            });
            let part = match parts.iter().position(|p| p.lang == lang) {
                Some(p) => p,
                None => {
                    parts.push(Part::empty(lang));
                    parts.len() - 1
                }
            };
            placed.push((part, entry.question.is_some()));
            parts[part].add(at, entry);
        }
        for part in &mut parts {
            part.finish();
        }
        Index {
            parts,
            entries: placed,
        }
    }

    /// The languages the knowledge is written in, in the order first met.
    pub fn languages(&self) -> Vec<Lang> {
        self.parts.iter().map(|p| p.lang).collect()
    }

    /// The language entry `index` was indexed in.
    pub fn language_of(&self, index: usize) -> Option<Lang> {
        self.entries.get(index).map(|&(p, _)| self.parts[p].lang)
    }

    /// Entries the message may be about, best first, at most `limit`.
    pub fn rank(&self, message: &str, limit: usize) -> Ranked {
        let detected = detect::detect(message);
        let searched: Vec<&Part> = match detected {
            Some(lang) => self.parts.iter().filter(|p| p.lang == lang).collect(),
            None => self.parts.iter().collect(),
        };
        let foreign = detected.is_some() && searched.is_empty();
        let mut hits: Vec<Hit> = Vec::new();
        let mut weight: f64 = 0.0;
        let mut unknowns: Vec<(Lang, f64)> = Vec::new();
        for part in searched {
            let (found, w, u) = part.search(message);
            hits.extend(found);
            weight = weight.max(w);
            unknowns.push((part.lang, u));
        }
        hits.sort_by(|a, b| {
            b.confidence
                .total_cmp(&a.confidence)
                .then(a.index.cmp(&b.index))
        });
        hits.truncate(limit);
        // Read in the language of the best entry: when the message's is not detected, its words
        // are unknown to every other part.
        let best = hits.first().and_then(|h| self.language_of(h.index));
        let unknown = unknowns
            .iter()
            .find(|(l, _)| Some(*l) == best)
            .or(unknowns.first())
            .map_or(1.0, |&(_, u)| u);
        Ranked {
            detected,
            foreign,
            hits,
            weight,
            unknown,
        }
    }

    /// The best entries for a message, best first: the prompt knowledge of a language model.
    pub fn search(&self, message: &str, limit: usize) -> Vec<Hit> {
        self.rank(message, limit).hits
    }

    /// Whether entry `at` is in a part the ranked message was searched in.
    pub fn searched(&self, ranked: &Ranked, at: usize) -> bool {
        !ranked.foreign
            && match ranked.detected {
                Some(lang) => self.language_of(at) == Some(lang),
                None => at < self.entries.len(),
            }
    }

    /// Answer, ask which of a few was meant, or hand off.
    pub fn decide(&self, ranked: &Ranked) -> Decision {
        let Some(top) = ranked.hits.first() else {
            return Decision::Handoff;
        };
        if ranked.weight < MIN_WEIGHT {
            return Decision::Handoff;
        }
        let second = ranked.hits.get(1).map_or(0.0, |h| h.confidence);
        if top.confidence >= ANSWER && top.confidence - second >= MARGIN {
            return Decision::Answer(top.index);
        }
        if top.confidence >= ALONE
            && second <= top.confidence * ALONE_RATIO
            && ranked.unknown == 0.0
        {
            return Decision::Answer(top.index);
        }
        // Only entries with a question can be offered: a choice is a question to tap.
        let choices: Vec<usize> = ranked
            .hits
            .iter()
            .filter(|h| h.confidence >= CLARIFY && h.confidence >= top.confidence * 0.6)
            .filter(|h| self.entries.get(h.index).is_some_and(|&(_, q)| q))
            .take(MAX_CHOICES)
            .map(|h| h.index)
            .collect();
        if choices.is_empty() || ranked.unknown >= UNCOVERED {
            Decision::Handoff
        } else {
            Decision::Clarify(choices)
        }
    }

    /// The message's terms as each searched language reads them, with their weights and
    /// credit: what `chatlink-eval --explain` prints.
    pub fn explain(&self, message: &str) -> Vec<(Lang, String, f64, f64)> {
        self.parts
            .iter()
            .flat_map(|p| {
                p.query_terms(message)
                    .into_iter()
                    .map(|q| (p.lang, q.term, q.weight, q.credit))
            })
            .collect()
    }

    /// How much of the message a passage of entry `index` covers (the free-text excerpt).
    pub fn overlap(&self, index: usize, message: &str, passage: &str) -> f64 {
        let Some(&(p, _)) = self.entries.get(index) else {
            return 0.0;
        };
        let part = &self.parts[p];
        let analyzer = Analyzer::of(part.lang);
        let found: HashSet<String> = analyzer
            .tokens(passage)
            .into_iter()
            .map(|t| t.term)
            .collect();
        part.query_terms(message)
            .iter()
            .filter(|q| found.contains(&q.term))
            .map(|q| q.weight * q.credit)
            .sum()
    }
}

/// A message's term as a part reads it.
#[derive(Debug, Clone)]
struct QueryTerm {
    term: String,
    weight: f64,
    credit: f64,
    /// A topic word the knowledge never uses (see [`Ranked::unknown`]).
    unknown: bool,
}

impl Part {
    fn empty(lang: Lang) -> Part {
        Part {
            lang,
            members: Vec::new(),
            free_text: Vec::new(),
            units: Vec::new(),
            answer_terms: Vec::new(),
            df: HashMap::new(),
            unit_postings: HashMap::new(),
            answer_postings: HashMap::new(),
            typos: Typos::default(),
            surfaces: HashMap::new(),
            joins: HashMap::new(),
            shorter: HashMap::new(),
            tails: HashMap::new(),
        }
    }

    fn add(&mut self, at: usize, entry: &Knowledge) {
        let analyzer = Analyzer::of(self.lang);
        let local = self.members.len() as u32;
        self.members.push(at);
        self.free_text.push(entry.question.is_none());
        let mut seen: HashSet<String> = HashSet::new();
        for text in entry.question.iter().chain(&entry.phrasings) {
            let tokens = analyzer.tokens(text);
            self.learn_words(text, &tokens);
            let terms: Vec<String> = unique(tokens.iter().map(|t| t.term.clone()));
            seen.extend(terms.iter().cloned());
            if !terms.is_empty() {
                self.units.push((local, terms, 0.0));
            }
        }
        let tokens = analyzer.tokens(&entry.answer);
        self.learn_words(&entry.answer, &tokens);
        let answer: HashSet<String> = tokens.into_iter().map(|t| t.term).collect();
        seen.extend(answer.iter().cloned());
        self.answer_terms.push(answer);
        for term in seen {
            *self.df.entry(term).or_default() += 1;
        }
    }

    fn learn_words(&mut self, text: &str, tokens: &[Token]) {
        let analyzer = Analyzer::of(self.lang);
        for t in tokens {
            self.typos.add(&t.surface);
            self.surfaces
                .entry(t.surface.clone())
                .or_insert_with(|| t.term.clone());
            if analyzer.compounds() && !t.term.starts_with(TOPIC) {
                let chars: Vec<char> = t.surface.chars().collect();
                for head in MIN_HEAD..chars.len().saturating_sub(MIN_TAIL - 1) {
                    let tail: String = chars[head..].iter().collect();
                    self.tails
                        .entry(analyzer.stem(&tail))
                        .or_insert_with(|| t.term.clone());
                }
            }
        }
        for chunk in text.split(|c: char| !(c.is_alphanumeric() || c == '-')) {
            if chunk.contains('-') {
                let joined = analyze::fold(&chunk.replace('-', ""));
                let parts = analyzer.tokens(chunk);
                if !parts.is_empty() && !joined.is_empty() {
                    self.typos.add(&joined);
                    self.joins.insert(joined, parts);
                }
            }
        }
    }

    fn finish(&mut self) {
        // The lexicon's words are known too, so "delivry" is read as "delivery" even where the
        // owner only wrote "deliver".
        let analyzer = Analyzer::of(self.lang);
        for (_, words) in lexicon::of(self.lang).concepts {
            for w in *words {
                if !w.contains([' ', '-', '\'']) {
                    let folded = analyze::fold(w);
                    if let Some(t) = analyzer.token(&w.to_lowercase())
                        && !self.typos.contains(&folded)
                    {
                        self.typos.add(&folded);
                        self.surfaces.entry(folded).or_insert(t.term);
                    }
                }
            }
        }
        let mut units = std::mem::take(&mut self.units);
        for (at, (_, terms, weight)) in units.iter_mut().enumerate() {
            *weight = terms.iter().map(|t| self.idf(t)).sum();
            for t in terms.iter() {
                self.unit_postings
                    .entry(t.clone())
                    .or_default()
                    .push(at as u32);
            }
        }
        self.units = units;
        for term in self.df.keys() {
            if term.starts_with(TOPIC) || !term.chars().all(char::is_alphabetic) {
                continue;
            }
            let chars: Vec<char> = term.chars().collect();
            for cut in 1..=max_affix(chars.len()) {
                let prefix: String = chars[..chars.len() - cut].iter().collect();
                self.shorter.entry(prefix).or_insert_with(|| term.clone());
            }
        }
        for (local, terms) in self.answer_terms.iter().enumerate() {
            for t in terms {
                self.answer_postings
                    .entry(t.clone())
                    .or_default()
                    .push(local as u32);
            }
        }
    }

    fn idf(&self, term: &str) -> f64 {
        let n = self.members.len() as f64;
        match self.df.get(term) {
            Some(&df) => {
                let df = f64::from(df);
                (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
            }
            None => (1.0 + (n + 0.5) / 0.5).ln() * UNKNOWN_WEIGHT,
        }
    }

    /// A known stem this one is another form of: it with up to three letters more or fewer.
    fn other_form(&self, stem: &str) -> Option<&str> {
        if let Some(longer) = self.shorter.get(stem) {
            return Some(longer);
        }
        let chars: Vec<char> = stem.chars().collect();
        (1..=max_affix(chars.len())).find_map(|cut| {
            let prefix: String = chars[..chars.len() - cut].iter().collect();
            self.df.get_key_value(&prefix).map(|(k, _)| k.as_str())
        })
    }

    /// The message's distinct terms with their weights, typos read as the words meant.
    fn query_terms(&self, message: &str) -> Vec<QueryTerm> {
        let analyzer = Analyzer::of(self.lang);
        let mut out: Vec<QueryTerm> = Vec::new();
        let push = |token: &Token, credit: f64, out: &mut Vec<QueryTerm>| {
            let kind = match token.kind {
                Kind::Topic => 1.0,
                Kind::Context => CONTEXT_WEIGHT,
            };
            let weight = self.idf(&token.term) * kind;
            let unknown = token.kind == Kind::Topic && !self.df.contains_key(&token.term);
            match out.iter_mut().find(|q| q.term == token.term) {
                Some(q) => {
                    q.weight = q.weight.max(weight);
                    q.credit = q.credit.max(credit);
                }
                None => out.push(QueryTerm {
                    term: token.term.clone(),
                    weight,
                    credit,
                    unknown,
                }),
            }
        };
        for token in analyzer.tokens(message) {
            let known = |term: &str| Token {
                term: term.to_owned(),
                ..token.clone()
            };
            if token.term.starts_with(TOPIC) || self.df.contains_key(&token.term) {
                push(&token, 1.0, &mut out);
            } else if let Some(term) = self.surfaces.get(&token.surface) {
                push(&known(term), 1.0, &mut out);
            } else if let Some(parts) = self.joins.get(&token.surface) {
                for p in parts {
                    push(p, 1.0, &mut out);
                }
            } else if let Some(fixed) = self.typos.correct(&token.surface) {
                if let Some(parts) = self.joins.get(fixed) {
                    for p in parts {
                        push(p, TYPO_CREDIT, &mut out);
                    }
                } else if let Some(term) = self.surfaces.get(fixed) {
                    push(&known(term), TYPO_CREDIT, &mut out);
                } else {
                    push(&token, 1.0, &mut out);
                }
            } else if let Some(term) = self.other_form(&token.term) {
                push(&known(term), TYPO_CREDIT, &mut out);
            } else if let Some(term) = self.tails.get(&token.term) {
                push(&known(term), TYPO_CREDIT, &mut out);
            } else {
                push(&token, 1.0, &mut out);
            }
        }
        out
    }

    /// The entries the message may be about, the message's total weight here, and the share of
    /// it the knowledge never uses.
    fn search(&self, message: &str) -> (Vec<Hit>, f64, f64) {
        let query = self.query_terms(message);
        let total: f64 = query.iter().map(|q| q.weight).sum();
        if total <= 0.0 || self.members.is_empty() {
            return (Vec::new(), total, 1.0);
        }
        let unknown = query
            .iter()
            .filter(|q| q.unknown)
            .fold(0.0, |sum, q| sum + q.weight)
            / total;
        // Per unit, the matched weight; per entry, its best unit.
        let mut unit_score: HashMap<u32, f64> = HashMap::new();
        for q in &query {
            for &u in self.unit_postings.get(&q.term).into_iter().flatten() {
                *unit_score.entry(u).or_default() += q.weight * q.credit;
            }
        }
        let mut best_unit: HashMap<u32, (u32, f64)> = HashMap::new();
        for (&u, &score) in &unit_score {
            let local = self.units[u as usize].0;
            let slot = best_unit.entry(local).or_insert((u, score));
            if score > slot.1 || (score == slot.1 && u < slot.0) {
                *slot = (u, score);
            }
        }
        let mut candidates: HashSet<u32> = best_unit.keys().copied().collect();
        for q in &query {
            candidates.extend(self.answer_postings.get(&q.term).into_iter().flatten());
        }
        let mut hits = Vec::with_capacity(candidates.len());
        for local in candidates {
            let unit = best_unit
                .get(&local)
                .map(|&(u, s)| (&self.units[u as usize], s));
            let in_unit = |term: &str| unit.is_some_and(|(u, _)| u.1.iter().any(|t| t == term));
            let answer = &self.answer_terms[local as usize];
            let from_answer: f64 = query
                .iter()
                .filter(|q| !in_unit(&q.term) && answer.contains(&q.term))
                .map(|q| q.weight * q.credit)
                .sum();
            let from_question = unit.map_or(0.0, |(_, s)| s);
            let matched = from_question + from_answer;
            let coverage = (matched / total).min(1.0);
            let free = self.free_text[local as usize];
            // Found in the question weighs more than found in the answer (free text, having no
            // question, sits between)...
            let in_question = if free {
                FREE_TEXT_SHARE
            } else if matched > 0.0 {
                from_question / matched
            } else {
                0.0
            };
            // ...and more still when the message asked most of that question: "deliver?" asks
            // all of "Do you deliver?", a passing "card" little of "Can I order a birthday card?".
            let asked = match unit {
                Some((u, s)) if u.2 > 0.0 => (s / u.2).min(1.0),
                _ => 0.0,
            };
            let confidence = coverage * (BASE + QUESTION_SHARE * in_question + ASKED_SHARE * asked);
            if confidence > 0.0 {
                hits.push(Hit {
                    index: self.members[local as usize],
                    confidence: confidence.min(1.0),
                });
            }
        }
        (hits, total, unknown)
    }
}

/// How a question is counted among the unanswered ones: its terms as the index reads them, in
/// order and once each, so "Vegan stuff??" and "vegan stuff" are one question. The language is
/// the message's when clear.
pub fn question_key(message: &str, fallback: Lang) -> (String, Option<Lang>) {
    let lang = detect::detect(message);
    let analyzer = Analyzer::of(lang.unwrap_or(fallback));
    let mut terms = unique(analyzer.tokens(message).into_iter().map(|t| t.term));
    if terms.is_empty() {
        terms = analyze::folded_words(message);
    }
    terms.sort();
    let mut key = terms.join(" ");
    if key.len() > MAX_KEY_BYTES {
        let cut = (0..=MAX_KEY_BYTES)
            .rev()
            .find(|&i| key.is_char_boundary(i))
            .unwrap_or(0);
        key.truncate(cut);
    }
    (key, lang)
}

/// A key is an index into the owner's list, not the question: long messages share a prefix.
const MAX_KEY_BYTES: usize = 200;

fn unique(terms: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in terms {
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests;
