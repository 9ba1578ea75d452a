//! Typo tolerance against the knowledge's own vocabulary: a visitor's word the knowledge never
//! uses is read as the nearest word it does use, when one is close enough.
//!
//! Lookup is a symmetric-delete dictionary (the SymSpell idea): every vocabulary word is stored
//! under itself and each form with one letter deleted; a query word's own one-letter deletions
//! then find candidates in a few hash lookups, whatever the vocabulary's size, and the true edit
//! distance (Damerau–Levenshtein, so swapped letters count once) decides among them.

use std::collections::HashMap;

/// Words shorter than this are never corrected: "bake" → "cake" would be a guess.
const MIN_LEN: usize = 5;
/// From this length two edits are allowed, below it one.
const TWO_EDITS_FROM: usize = 8;

#[derive(Debug, Clone, Default)]
pub struct Typos {
    /// A word or one of its deletions → indices into `words`.
    deletes: HashMap<String, Vec<u32>>,
    words: Vec<(String, u32)>,
    known: HashMap<String, u32>,
}

impl Typos {
    /// Adds a vocabulary word; `weight` (how many entries use it) breaks ties.
    pub fn add(&mut self, word: &str) {
        if let Some(&at) = self.known.get(word) {
            self.words[at as usize].1 += 1;
            return;
        }
        let at = self.words.len() as u32;
        self.words.push((word.to_owned(), 1));
        self.known.insert(word.to_owned(), at);
        if word.chars().count() < MIN_LEN {
            return;
        }
        for form in std::iter::once(word.to_owned()).chain(deletions(word)) {
            let list = self.deletes.entry(form).or_default();
            if !list.contains(&at) {
                list.push(at);
            }
        }
    }

    pub fn contains(&self, word: &str) -> bool {
        self.known.contains_key(word)
    }

    /// The vocabulary word nearest to `word`, if one is within the allowed edits; None when the
    /// word is itself known or too short to correct.
    pub fn correct(&self, word: &str) -> Option<&str> {
        let len = word.chars().count();
        if len < MIN_LEN || self.known.contains_key(word) {
            return None;
        }
        let allowed = if len >= TWO_EDITS_FROM { 2 } else { 1 };
        let mut best: Option<(usize, u32, &str)> = None;
        for form in std::iter::once(word.to_owned()).chain(deletions(word)) {
            let Some(list) = self.deletes.get(&form) else {
                continue;
            };
            for &at in list {
                let (candidate, uses) = &self.words[at as usize];
                let distance = strsim::damerau_levenshtein(word, candidate);
                if distance > allowed {
                    continue;
                }
                let better = match best {
                    None => true,
                    Some((d, u, c)) => {
                        (distance, std::cmp::Reverse(*uses), candidate.as_str())
                            < (d, std::cmp::Reverse(u), c)
                    }
                };
                if better {
                    best = Some((distance, *uses, candidate));
                }
            }
        }
        best.map(|(_, _, w)| w)
    }
}

/// `word` with each one of its letters left out.
fn deletions(word: &str) -> impl Iterator<Item = String> + '_ {
    let chars: Vec<char> = word.chars().collect();
    (0..chars.len()).map(move |skip| {
        chars
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != skip)
            .map(|(_, c)| c)
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocabulary() -> Typos {
        let mut t = Typos::default();
        for w in [
            "delivery",
            "deliver",
            "address",
            "gluten",
            "croissant",
            "opening",
            "sunday",
            "cake",
            "cards",
        ] {
            t.add(w);
        }
        t
    }

    #[test]
    fn corrects_one_slip_and_two_in_long_words() {
        let t = vocabulary();
        assert_eq!(t.correct("deliverry"), Some("delivery"));
        assert_eq!(t.correct("adress"), Some("address"));
        assert_eq!(t.correct("glutne"), Some("gluten"), "a swap is one edit");
        assert_eq!(
            t.correct("crossiant"),
            Some("croissant"),
            "two edits in a long word"
        );
        assert_eq!(t.correct("sundya"), Some("sunday"));
        assert_eq!(t.correct("oppening"), Some("opening"));
    }

    #[test]
    fn leaves_short_known_and_far_words_alone() {
        let t = vocabulary();
        assert_eq!(t.correct("cake"), None, "known");
        assert_eq!(t.correct("bake"), None, "too short to guess");
        assert_eq!(t.correct("flowers"), None);
        assert_eq!(t.correct("adrs"), None, "two edits in a short word");
        assert_eq!(t.correct(""), None);
        assert_eq!(t.correct("ﬁ"), None);
    }
}
