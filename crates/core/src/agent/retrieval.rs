//! Ranked retrieval over a folder's knowledge (BM25), so engines can find the entries a visitor's
//! question is about without a language model.

use std::collections::HashMap;

use crate::model::Knowledge;

const K1: f64 = 1.2;
const B: f64 = 0.75;

/// Counted into an entry this many times: the owner's question is the best summary of what the
/// entry answers, while the answer also carries incidental words.
const QUESTION_REPEAT: u32 = 2;

/// Question words say what kind of answer is wanted, not what about. They still help rank (a
/// "where…" question should prefer a Q&A asked with "where"), but at half weight so a folder that
/// never writes "when" can still cover "when are you open?".
const QUESTION_WORDS: &[&str] = &[
    "what", "when", "where", "which", "who", "whom", "why", "how",
];
const QUESTION_WORD_WEIGHT: f64 = 0.5;

/// Besides the usual function words: pleasantries and request verbs ("do you *sell*…", "I *need*…")
/// that visitors wrap around a question and owners rarely write, which would otherwise count as
/// unmatched topic words and sink a good match. Apostrophes are removed before the lookup.
const STOPWORDS: &[&str] = &[
    "a", "about", "all", "also", "am", "an", "and", "any", "anything", "are", "arent", "as", "at",
    "be", "been", "being", "but", "buy", "by", "can", "cant", "could", "did", "didnt", "do",
    "does", "doesnt", "dont", "for", "from", "get", "got", "had", "has", "have", "he", "hello",
    "her", "here", "hey", "hi", "his", "i", "id", "if", "im", "in", "into", "is", "isnt", "it",
    "its", "ive", "just", "know", "let", "like", "made", "make", "many", "may", "me", "might",
    "more", "much", "must", "my", "need", "no", "not", "of", "offer", "on", "or", "our", "ours",
    "please", "sell", "she", "should", "so", "some", "tell", "than", "thank", "thanks", "that",
    "the", "their", "them", "then", "there", "these", "they", "theyre", "this", "those", "to",
    "too", "up", "us", "very", "want", "was", "we", "well", "were", "weve", "will", "with",
    "without", "wont", "would", "you", "youll", "your", "youre", "yours", "youve",
];

/// The terms of `text` as the index sees them: lowercased, split on anything but letters and
/// digits (any script), stopwords dropped, lightly stemmed.
pub fn terms(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    lower
        .split(|c: char| !c.is_alphanumeric() && !is_apostrophe(c))
        .filter_map(|raw| {
            let word = raw.trim_matches(is_apostrophe);
            let word = word
                .strip_suffix("'s")
                .or_else(|| word.strip_suffix("’s"))
                .unwrap_or(word);
            let word: String = word.chars().filter(|&c| !is_apostrophe(c)).collect();
            if word.is_empty() || STOPWORDS.contains(&word.as_str()) {
                None
            } else if QUESTION_WORDS.contains(&word.as_str()) {
                // Unstemmed, so `weight` can recognise them ("where" would become "wher").
                Some(word)
            } else {
                Some(stem(&word))
            }
        })
        .collect()
}

fn is_apostrophe(c: char) -> bool {
    c == '\'' || c == '’'
}

fn is_vowel(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y')
}

/// A few suffix rules, not a full Porter stemmer: enough that the forms visitors and owners mix
/// up meet on one stem. Stems need not be words ("cake" → "cak"), only agree ("baking" → "bak").
fn stem(word: &str) -> String {
    let len = word.chars().count();
    let ends = |suffixes: &[&str]| suffixes.iter().any(|s| word.ends_with(s));
    let cut = |n: usize| word[..word.len() - n].to_string(); // suffixes are ASCII: a char boundary
    let mut w = if len > 4 && word.ends_with("ies") {
        // "pastries" and "pastry" both become "pastri" once `y` turns into `i` below.
        cut(2)
    } else if len > 4 && ends(&["sses", "xes", "zes", "ches", "shes"]) {
        cut(2)
    } else if len > 3 && word.ends_with('s') && !ends(&["ss", "us", "is"]) {
        cut(1)
    } else {
        word.to_string()
    };
    for suffix in ["ing", "ed"] {
        if let Some(base) = w.strip_suffix(suffix)
            && base.chars().count() >= 3
            && base.chars().any(is_vowel)
        {
            let mut base = base.to_string();
            let mut tail = base.chars().rev();
            // "shipped" → "ship", but "filled" keeps "fill".
            if let (Some(a), Some(b)) = (tail.next(), tail.next())
                && a == b
                && !is_vowel(a)
                && !matches!(a, 'l' | 's' | 'z')
            {
                base.pop();
            }
            w = base;
            break;
        }
    }
    // A final `e`/`y` varies between forms ("bake"/"baking", "pastry"/"pastries").
    if w.chars().count() > 3 {
        if w.ends_with('e') {
            w.pop();
        } else if w.ends_with('y') {
            w.pop();
            w.push('i');
        }
    }
    w
}

/// One ranked match: `index` points into the entries the index was built from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub index: usize,
    pub score: f64,
    /// Share (0..=1) of the query's term weight that this entry contains.
    pub coverage: f64,
}

/// A BM25 index over one folder's knowledge. Cheap to build: engines build one per turn rather
/// than cache it, so an owner's edit is seen on the very next message.
#[derive(Debug, Clone)]
pub struct Index {
    docs: Vec<Doc>,
    df: HashMap<String, usize>,
    avg_len: f64,
}

#[derive(Debug, Clone)]
struct Doc {
    tf: HashMap<String, u32>,
    len: u32,
}

impl Index {
    pub fn new(entries: &[Knowledge]) -> Index {
        let mut df: HashMap<String, usize> = HashMap::new();
        let docs: Vec<Doc> = entries
            .iter()
            .map(|entry| {
                let mut doc = Doc {
                    tf: HashMap::new(),
                    len: 0,
                };
                let question = entry.question.as_deref().map(|q| (q, QUESTION_REPEAT));
                for (text, times) in question.into_iter().chain([(entry.answer.as_str(), 1)]) {
                    for term in terms(text) {
                        *doc.tf.entry(term).or_default() += times;
                        doc.len += times;
                    }
                }
                for term in doc.tf.keys() {
                    *df.entry(term.clone()).or_default() += 1;
                }
                doc
            })
            .collect();
        let total: f64 = docs.iter().map(|d| f64::from(d.len)).sum();
        // Floored so a folder of empty entries cannot divide by zero; they never match anyway.
        let avg_len = (total / docs.len().max(1) as f64).max(1.0);
        Index { docs, df, avg_len }
    }

    /// How much a query term counts: its IDF, which is highest for a term no entry contains, so
    /// words the folder never mentions weigh most against coverage.
    pub fn weight(&self, term: &str) -> f64 {
        let n = self.docs.len() as f64;
        let df = self.df.get(term).copied().unwrap_or(0) as f64;
        // The `1 +` keeps it positive even for a term in every entry (Lucene's variant).
        let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
        if QUESTION_WORDS.contains(&term) {
            idf * QUESTION_WORD_WEIGHT
        } else {
            idf
        }
    }

    /// Entries matching at least one query term, best first (ties keep entry order), at most
    /// `limit`. Repeated query terms count once.
    pub fn search(&self, query: &str, limit: usize) -> Vec<Hit> {
        let mut query = terms(query);
        query.sort_unstable();
        query.dedup();
        let weights: Vec<f64> = query.iter().map(|t| self.weight(t)).collect();
        let total: f64 = weights.iter().sum();
        if total <= 0.0 {
            return Vec::new();
        }
        let mut hits: Vec<Hit> = self
            .docs
            .iter()
            .enumerate()
            .filter_map(|(index, doc)| {
                let norm = K1 * (1.0 - B + B * f64::from(doc.len) / self.avg_len);
                let (mut score, mut matched) = (0.0, 0.0);
                for (term, weight) in query.iter().zip(&weights) {
                    if let Some(&tf) = doc.tf.get(term) {
                        let tf = f64::from(tf);
                        score += weight * tf * (K1 + 1.0) / (tf + norm);
                        matched += weight;
                    }
                }
                (score > 0.0).then_some(Hit {
                    index,
                    score,
                    coverage: matched / total,
                })
            })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
        hits.truncate(limit);
        hits
    }
}

/// Indices of the entries that best match `query`, best first, at most `limit`, only ones that
/// match at least one term.
pub fn best(entries: &[Knowledge], query: &str, limit: usize) -> Vec<usize> {
    Index::new(entries)
        .search(query, limit)
        .into_iter()
        .map(|h| h.index)
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn qa(id: i64, question: &str, answer: &str) -> Knowledge {
        Knowledge {
            id,
            question: Some(question.into()),
            answer: answer.into(),
        }
    }

    /// A fictional shop's folder, shared with the answers engine's tests.
    pub(crate) fn bakery() -> Vec<Knowledge> {
        vec![
            qa(
                1,
                "What are your opening hours?",
                "We're open Monday to Saturday from 7am to 6pm, and on Sunday from 8am to 2pm.",
            ),
            qa(
                2,
                "Where are you located?",
                "You'll find Rosie's Bakery at 14 Mill Lane, Brookfield, across from the post \
                 office. There's free parking behind the shop.",
            ),
            qa(
                3,
                "What's on the menu?",
                "Every day we bake butter croissants, pain au chocolat, sourdough loaves, rye \
                 bread, cinnamon buns and a rotating selection of cakes.",
            ),
            qa(
                4,
                "Can I order a custom cake?",
                "Yes! Cakes for birthdays, weddings and other celebrations can be ordered with at \
                 least 48 hours' notice, in the shop or by phone on 555-0142.",
            ),
            qa(
                5,
                "Do you have gluten-free options?",
                "We offer gluten-free brownies every day and a gluten-free loaf on Fridays. Our \
                 kitchen also handles wheat, so we can't rule out traces.",
            ),
            qa(
                6,
                "Do you deliver?",
                "We deliver within 5 km of the shop on orders over $30, Tuesday to Saturday. \
                 Delivery costs $4.",
            ),
            Knowledge {
                id: 7,
                question: None,
                answer: "Rosie's Bakery was founded in 1998 by Rosie Alvarez, who started out \
                         selling bread from her kitchen window.\n\n\
                         Our sourdough starter is older than the shop. Each loaf is made with \
                         organic flour from Hollow Mill and fermented for 36 hours.\n\n\
                         We compost all our leftovers and give unsold bread to the Brookfield \
                         food bank every evening."
                    .into(),
            },
        ]
    }

    fn top(index: &Index, query: &str) -> Option<i64> {
        let hit = index.search(query, 1).into_iter().next()?;
        Some(bakery()[hit.index].id)
    }

    #[test]
    fn stems_common_forms_together() {
        for (a, b) in [
            ("hours", "hour"),
            ("opening", "open"),
            ("opened", "opens"),
            ("croissants", "croissant"),
            ("cakes", "cake"),
            ("baking", "baked"),
            ("bake", "bakes"),
            ("pastries", "pastry"),
            ("cookies", "cookie"),
            ("boxes", "box"),
            ("weddings", "wedding"),
            ("shipped", "ship"),
            ("closing", "close"),
            ("Rosie's", "rosie"),
            ("Sundays", "SUNDAY"),
        ] {
            assert_eq!(terms(a), terms(b), "{a} / {b}");
        }
        assert_eq!(terms("address"), ["address"]);
        assert_eq!(terms("spring filled"), ["spring", "fill"]);
        assert_ne!(terms("cake"), terms("croissant"));
    }

    #[test]
    fn drops_stopwords_and_keeps_question_words() {
        assert_eq!(
            terms("What are the hours of the shop?"),
            ["what", "hour", "shop"]
        );
        assert_eq!(terms("Hi! Do you sell bread, please?"), ["bread"]);
        assert!(terms("it's the, and of!").is_empty());
    }

    #[test]
    fn unicode_is_lowercased_and_split_without_panicking() {
        assert_eq!(
            terms("ÉCLAIRS — crème brûlée!"),
            ["éclair", "crèm", "brûlé"]
        );
        assert_eq!(terms("🥐croissants🥐"), ["croissant"]);
        assert_eq!(terms("パン屋はどこ"), ["パン屋はどこ"]);
        for odd in ["İSTANBUL's", "ß", "e\u{301}", "\u{0}’s’", "ﬁ", "'''", "s's"] {
            let _ = terms(odd);
            let _ = Index::new(&bakery()).search(odd, 3);
        }
    }

    #[test]
    fn ranks_the_right_entry_for_paraphrases() {
        let index = Index::new(&bakery());
        assert_eq!(top(&index, "when are you open on sunday?"), Some(1));
        assert_eq!(top(&index, "where is the shop"), Some(2));
        assert_eq!(top(&index, "do you sell croissants"), Some(3));
        assert_eq!(top(&index, "can I order a birthday cake"), Some(4));
        assert_eq!(top(&index, "anything without gluten?"), Some(5));
        assert_eq!(top(&index, "how much is delivery"), Some(6));
        assert_eq!(top(&index, "is your sourdough organic?"), Some(7));
    }

    #[test]
    fn question_counts_more_than_answer() {
        let entries = [
            qa(1, "Do you do parking?", "Yes, behind the shop."),
            qa(2, "Where are you?", "Mill Lane, with parking."),
        ];
        let hits = Index::new(&entries).search("parking", 2);
        assert_eq!(hits.iter().map(|h| h.index).collect::<Vec<_>>(), [0, 1]);
        assert!(hits[0].score > hits[1].score);
    }

    #[test]
    fn coverage_measures_how_much_of_the_query_matches() {
        let index = Index::new(&bakery());
        let full = index.search("croissants", 1);
        assert_eq!(full.len(), 1);
        assert!((full[0].coverage - 1.0).abs() < 1e-9);
        let partial = index.search("croissants and a unicorn", 1);
        assert!(partial[0].coverage > 0.0 && partial[0].coverage < 0.5);
        for hit in index.search("opening hours of the shop in Brookfield on Sunday", 10) {
            assert!((0.0..=1.0).contains(&hit.coverage), "{hit:?}");
        }
        let unrelated = index.search("what is the capital of France", 5);
        assert!(unrelated.iter().all(|h| h.coverage < 0.5), "{unrelated:?}");
        assert!(index.search("asdf qwerty", 5).is_empty());
    }

    #[test]
    fn best_limits_and_orders() {
        let entries = bakery();
        let found = best(&entries, "cake order shop", 2);
        assert_eq!(found.len(), 2);
        assert_eq!(entries[found[0]].id, 4);
        assert!(best(&entries, "cake order shop", 0).is_empty());
        assert!(best(&entries, "zzz", 5).is_empty());
        assert!(best(&entries, "the of and", 5).is_empty());
        assert!(best(&[], "cake", 5).is_empty());
        let empty = [qa(1, "", ""), qa(2, "?", "!")];
        assert!(best(&empty, "cake", 5).is_empty());
    }
}
