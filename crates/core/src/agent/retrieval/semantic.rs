//! Optional semantic matching: the knowledge's texts as vectors from the owner's embeddings
//! server, and how their ranking is combined with the word ranking.
//!
//! Words carry most questions, and the word ranking's confidence is calibrated; what it cannot
//! see is meaning no word shares ("I'm coeliac" for the gluten-free entry). So the vectors never
//! overrule what the words decide. They order the candidates together with the words
//! (reciprocal rank fusion), settle a close call between the choices the words found, and put
//! beside a handoff the questions that stand out in meaning, for the visitor to tap while a
//! person is told. They never answer on their own: measured with a small real model
//! (`make eval-semantic`), a question the knowledge does not answer ("do you deliver flowers?")
//! stands out in meaning as clearly as one it answers in other words ("I'm coeliac").
//!
//! Cosine similarities are not comparable across models (a small local model and a large hosted
//! one put related texts at quite different values), so "stands out" is measured against the
//! agent's own entries: how many standard deviations the best entry is above their mean, and
//! how far ahead of the runner-up, with an absolute floor only to rule out noise.
//!
//! Only the entries of the language the message was searched in are compared, as for words: a
//! model that reads across languages would otherwise answer a French question in English.

use std::collections::HashMap;

use super::{Decision, Index, MAX_CHOICES, Ranked};

/// Reciprocal rank fusion's constant (Cormack et al.; 60 is the usual choice): a rank's
/// contribution is `1 / (K + rank)`.
const RRF_K: f64 = 60.0;
/// An answer's words are less specific than a question's: its similarity counts this much.
const ANSWER_WEIGHT: f32 = 0.9;
/// Below this cosine nothing is said to match in meaning, however the rest compare.
const FLOOR: f32 = 0.3;
/// Standard deviations above the entries' mean for the best entry to settle a close call, and
/// its lead over the runner-up then.
const Z_ANSWER: f32 = 2.0;
const LEAD_ANSWER: f32 = 0.75;
/// Standard deviations above the mean for an entry to be offered beside a handoff.
const Z_RELATED: f32 = 2.0;
/// Fewer entries than this say nothing about what "stands out" means.
const MIN_ENTRIES: usize = 4;
/// However the entries spread, an entry that stands out is at least this far above their mean:
/// among entries all about equally (un)like the message, the best by a hair means nothing.
const MIN_ABOVE_MEAN: f32 = 0.1;

/// Which side of an entry a text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The question or an alternative phrasing.
    Question,
    /// The answer (free text's only side).
    Answer,
}

/// Longest text of an entry sent to be embedded: a long free-text page is judged by its start.
pub const MAX_TEXT_CHARS: usize = 2_000;

/// What of a visitor's message is embedded.
pub fn query_text(message: &str) -> String {
    message.trim().chars().take(MAX_TEXT_CHARS).collect()
}

/// The texts of one entry that are embedded: its question, each phrasing, and its answer.
pub fn texts_of(entry: &crate::model::Knowledge) -> Vec<(Side, String)> {
    let clip = |s: &str| s.trim().chars().take(MAX_TEXT_CHARS).collect::<String>();
    entry
        .question
        .iter()
        .chain(&entry.phrasings)
        .map(|q| (Side::Question, clip(q)))
        .chain(std::iter::once((Side::Answer, clip(&entry.answer))))
        .filter(|(_, t)| !t.is_empty())
        .collect()
}

/// The knowledge as vectors: every embedded text of every entry, at unit length.
#[derive(Debug, Clone)]
pub struct Vectors {
    dims: usize,
    units: Vec<(usize, Side, Vec<f32>)>,
}

impl Vectors {
    /// `units`: (entry index, side, vector). A vector that is zero, not finite or of another
    /// length than the first is left out (that text is matched by words only); `None` when
    /// nothing is left.
    pub fn new(units: Vec<(usize, Side, Vec<f32>)>) -> Option<Vectors> {
        let dims = units.first()?.2.len();
        let units: Vec<_> = units
            .into_iter()
            .filter_map(|(at, side, v)| Some((at, side, unit(v, dims)?)))
            .collect();
        (!units.is_empty()).then_some(Vectors { dims, units })
    }

    /// Each allowed entry's similarity to `query` (its best text; an answer's counted at
    /// [`ANSWER_WEIGHT`]), best first. Empty when the query is not a vector of the same kind.
    pub fn similar(&self, query: &[f32], allowed: impl Fn(usize) -> bool) -> Vec<(usize, f32)> {
        let Some(query) = unit(query.to_vec(), self.dims) else {
            return Vec::new();
        };
        // Units are grouped by entry in the order they were made, but a slot per entry keeps
        // that an assumption of nobody's.
        let entries = self.units.iter().map(|u| u.0 + 1).max().unwrap_or(0);
        let mut best: Vec<Option<f32>> = vec![None; entries];
        for (at, side, v) in &self.units {
            if !allowed(*at) {
                continue;
            }
            let cos = dot(v, &query);
            let cos = match side {
                Side::Question => cos,
                Side::Answer => cos * ANSWER_WEIGHT,
            };
            let slot = &mut best[*at];
            *slot = Some(slot.map_or(cos, |b| b.max(cos)));
        }
        let mut out: Vec<(usize, f32)> = best
            .into_iter()
            .enumerate()
            .filter_map(|(at, s)| Some((at, s?)))
            .collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        out
    }
}

/// The dot product in eight lanes, which the compiler turns into vector instructions (a plain
/// sum of products must be added in order, and stays scalar): about a third of the time.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// `v` scaled to length 1, if it has `dims` finite values and is not zero.
fn unit(mut v: Vec<f32>, dims: usize) -> Option<Vec<f32>> {
    if v.len() != dims || v.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm <= f32::EPSILON {
        return None;
    }
    v.iter_mut().for_each(|x| *x /= norm);
    Some(v)
}

/// How the best entries stand out in meaning among the agent's entries.
#[derive(Debug, Clone, PartialEq)]
struct Standing {
    /// (entry, standard deviations above the mean), best first, above [`FLOOR`] only.
    scores: Vec<(usize, f32)>,
    /// The best entry's lead over the runner-up, in standard deviations.
    lead: f32,
}

fn standing(similar: &[(usize, f32)]) -> Option<Standing> {
    if similar.len() < MIN_ENTRIES {
        return None;
    }
    let n = similar.len() as f32;
    let mean = similar.iter().map(|s| s.1).sum::<f32>() / n;
    let sd = (similar.iter().map(|s| (s.1 - mean).powi(2)).sum::<f32>() / n).sqrt();
    if sd <= f32::EPSILON {
        return None;
    }
    let lead = (similar[0].1 - similar[1].1) / sd;
    let scores = similar
        .iter()
        .filter(|s| s.1 >= FLOOR && s.1 - mean >= MIN_ABOVE_MEAN)
        .map(|&(at, s)| (at, (s - mean) / sd))
        .collect();
    Some(Standing { scores, lead })
}

/// The word ranking and the meaning ranking as one order, best first (reciprocal rank fusion).
pub fn fuse(ranked: &Ranked, similar: &[(usize, f32)]) -> Vec<usize> {
    let mut score: HashMap<usize, f64> = HashMap::new();
    let lists = [
        ranked.hits.iter().map(|h| h.index).collect::<Vec<_>>(),
        similar
            .iter()
            .filter(|s| s.1 >= FLOOR)
            .map(|s| s.0)
            .collect(),
    ];
    for list in &lists {
        for (rank, &at) in list.iter().enumerate() {
            *score.entry(at).or_default() += 1.0 / (RRF_K + rank as f64 + 1.0);
        }
    }
    let mut out: Vec<(usize, f64)> = score.into_iter().collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out.into_iter().map(|(at, _)| at).collect()
}

/// The word decision with meaning taken into account: a close call between the words' choices
/// is settled by a clear lead in meaning, and the choices follow the fused order. An answer or
/// a handoff stands (see [`related`] for what a handoff may offer).
pub fn decide(ranked: &Ranked, words: Decision, similar: &[(usize, f32)]) -> Decision {
    let Decision::Clarify(choices) = words else {
        return words;
    };
    if ranked.foreign {
        return Decision::Clarify(choices);
    }
    let Some(standing) = standing(similar) else {
        return Decision::Clarify(choices);
    };
    let leader = standing
        .scores
        .first()
        .filter(|&&(_, z)| z >= Z_ANSWER && standing.lead >= LEAD_ANSWER)
        .map(|&(at, _)| at);
    if let Some(at) = leader.filter(|at| choices.contains(at)) {
        return Decision::Answer(at);
    }
    let fused = fuse(ranked, similar);
    let mut ordered = choices;
    ordered.sort_by_key(|at| fused.iter().position(|f| f == at).unwrap_or(usize::MAX));
    Decision::Clarify(ordered)
}

/// Questions to offer beside a handoff: the entries that stand out in meaning, in the fused
/// order, at most [`MAX_CHOICES`]. The handoff still reaches a person; these are for the
/// visitor who meant one of them in other words.
pub fn related(index: &Index, ranked: &Ranked, similar: &[(usize, f32)]) -> Vec<usize> {
    if ranked.foreign {
        return Vec::new();
    }
    let Some(standing) = standing(similar) else {
        return Vec::new();
    };
    let stands_out = |at: usize| {
        standing
            .scores
            .iter()
            .any(|&(s, z)| s == at && z >= Z_RELATED)
    };
    let asked = |at: usize| index.entries.get(at).is_some_and(|&(_, q)| q);
    fuse(ranked, similar)
        .into_iter()
        .filter(|&at| stands_out(at) && asked(at))
        .take(MAX_CHOICES)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::retrieval::Hit;
    use crate::i18n::Lang;
    use crate::model::Knowledge;

    fn entry(q: Option<&str>, a: &str) -> Knowledge {
        Knowledge {
            id: 0,
            question: q.map(str::to_owned),
            answer: a.to_owned(),
            phrasings: Vec::new(),
            lang: Some(Lang::En),
        }
    }

    fn ranked(hits: &[(usize, f64)]) -> Ranked {
        Ranked {
            detected: None,
            foreign: false,
            hits: hits
                .iter()
                .map(|&(index, confidence)| Hit { index, confidence })
                .collect(),
            weight: 3.0,
            unknown: 0.0,
        }
    }

    fn index(n: usize) -> Index {
        let entries: Vec<Knowledge> = (0..n)
            .map(|i| entry(Some(&format!("question {i}")), "answer"))
            .collect();
        Index::new(&entries, Lang::En)
    }

    /// Entry 0 far ahead in meaning; the rest alike.
    fn standout(n: usize) -> Vec<(usize, f32)> {
        let mut s: Vec<(usize, f32)> = (1..n).map(|i| (i, 0.2 + 0.01 * i as f32)).collect();
        s.push((0, 0.8));
        s.sort_by(|a, b| b.1.total_cmp(&a.1));
        s
    }

    #[test]
    fn texts_are_the_question_its_phrasings_and_the_answer_clipped() {
        let mut e = entry(Some("Do you deliver?"), &"x".repeat(5_000));
        e.phrasings = vec!["can you bring it to me".into()];
        let texts = texts_of(&e);
        assert_eq!(texts.len(), 3);
        assert_eq!(texts[0], (Side::Question, "Do you deliver?".to_owned()));
        assert_eq!(texts[1].0, Side::Question);
        assert_eq!(texts[2].0, Side::Answer);
        assert_eq!(texts[2].1.chars().count(), MAX_TEXT_CHARS);
        assert_eq!(texts_of(&entry(None, "Free text.")).len(), 1);
    }

    #[test]
    fn broken_vectors_are_left_out() {
        assert!(Vectors::new(Vec::new()).is_none());
        let mixed = vec![
            (0, Side::Question, vec![1.0, 0.0]),
            (1, Side::Question, vec![1.0, 0.0, 0.0]),
            (2, Side::Question, vec![0.0, 0.0]),
            (3, Side::Question, vec![f32::NAN, 1.0]),
        ];
        let kept = Vectors::new(mixed).expect("the good one");
        assert_eq!(
            kept.similar(&[1.0, 0.0], |_| true),
            [(0, 1.0)],
            "other lengths, zero and NaN are left out"
        );
        assert!(Vectors::new(vec![(0, Side::Question, vec![0.0, 0.0])]).is_none());
    }

    #[test]
    fn an_entry_is_as_similar_as_its_best_text_and_answers_count_less() {
        let v = Vectors::new(vec![
            (0, Side::Question, vec![1.0, 0.0]),
            (0, Side::Question, vec![0.0, 1.0]),
            (1, Side::Answer, vec![2.0, 0.0]),
        ])
        .expect("vectors");
        let sim = v.similar(&[0.0, 3.0], |_| true);
        assert_eq!(sim[0].0, 0);
        assert!((sim[0].1 - 1.0).abs() < 1e-6, "the phrasing, normalised");
        let sim = v.similar(&[1.0, 0.0], |_| true);
        assert_eq!(sim[0], (0, 1.0));
        assert!((sim[1].1 - ANSWER_WEIGHT).abs() < 1e-6);
        assert_eq!(v.similar(&[1.0, 0.0], |at| at == 1).len(), 1, "filtered");
        assert!(
            v.similar(&[1.0, 0.0, 0.0], |_| true).is_empty(),
            "wrong length"
        );
    }

    #[test]
    fn the_lane_dot_product_is_the_dot_product() {
        let a: Vec<f32> = (0..21).map(|i| i as f32 * 0.5 - 3.0).collect();
        let b: Vec<f32> = (0..21).map(|i| 1.0 - i as f32 * 0.25).collect();
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!(
            (dot(&a, &b) - plain).abs() < 1e-4,
            "{} vs {plain}",
            dot(&a, &b)
        );
        assert_eq!(dot(&[], &[]), 0.0);
    }

    #[test]
    fn fusion_puts_what_both_rank_high_first() {
        let r = ranked(&[(2, 0.5), (1, 0.45), (0, 0.2)]);
        let sim = [(1, 0.9), (0, 0.8), (2, 0.35)];
        assert_eq!(fuse(&r, &sim), vec![1, 2, 0]);
        // Below the floor, meaning says nothing: the words' order stands.
        let sim = [(0, 0.2), (1, 0.1)];
        assert_eq!(fuse(&r, &sim), vec![2, 1, 0]);
    }

    #[test]
    fn an_answer_or_a_handoff_is_never_overruled() {
        let r = ranked(&[(3, 0.9)]);
        assert_eq!(
            decide(&r, Decision::Answer(3), &standout(6)),
            Decision::Answer(3)
        );
        assert_eq!(
            decide(&r, Decision::Handoff, &standout(6)),
            Decision::Handoff
        );
    }

    #[test]
    fn a_clear_lead_in_meaning_settles_a_close_call_between_the_words_choices() {
        let r = ranked(&[(1, 0.5), (0, 0.48)]);
        let got = decide(&r, Decision::Clarify(vec![1, 0]), &standout(6));
        assert_eq!(got, Decision::Answer(0));
        // Not among the words' choices: only reordered, never replaced.
        let got = decide(&r, Decision::Clarify(vec![2, 1]), &standout(6));
        assert_eq!(
            got,
            Decision::Clarify(vec![1, 2]),
            "the fused order: 1 is ranked by words"
        );
    }

    #[test]
    fn a_handoff_offers_what_stands_out_in_meaning_and_nothing_otherwise() {
        let ix = index(6);
        let none = ranked(&[]);
        assert_eq!(related(&ix, &none, &standout(6)), vec![0]);
        // Nothing stands out: all entries about as (un)like the message.
        let flat: Vec<(usize, f32)> = (0..6).map(|i| (i, 0.5 + 0.001 * i as f32)).collect();
        assert!(related(&ix, &none, &flat).is_empty(), "best by a hair");
        let low: Vec<(usize, f32)> = standout(6).iter().map(|&(i, s)| (i, s * 0.3)).collect();
        assert!(related(&ix, &none, &low).is_empty(), "below the floor");
        // Free text has no question to tap.
        let free = Index::new(
            &[
                entry(None, "free text"),
                entry(Some("q1"), "a"),
                entry(Some("q2"), "a"),
                entry(Some("q3"), "a"),
                entry(Some("q4"), "a"),
                entry(Some("q5"), "a"),
            ],
            Lang::En,
        );
        assert!(related(&free, &none, &standout(6)).is_empty());
    }

    #[test]
    fn a_foreign_message_or_too_few_entries_keep_the_word_decision() {
        let ix = index(6);
        let mut r = ranked(&[(1, 0.5), (0, 0.48)]);
        r.foreign = true;
        let close = Decision::Clarify(vec![1, 0]);
        assert_eq!(decide(&r, close.clone(), &standout(6)), close);
        assert!(related(&ix, &r, &standout(6)).is_empty());
        let ix3 = index(3);
        let r = ranked(&[(1, 0.5), (0, 0.48)]);
        assert_eq!(decide(&r, close.clone(), &standout(3)), close);
        assert!(related(&ix3, &r, &standout(3)).is_empty());
    }
}
