//! Which language a visitor's message is in, only when the evidence is good.
//!
//! Visitors' messages are short, and trigram statistics (whatlang) are unreliable on a few
//! words, so two kinds of evidence are used: whatlang when it calls its own result reliable,
//! and the message's words that only one language's lists have (stop words, greetings, thanks,
//! the lexicon's topic words), which say a lot even in three words ("habt ihr offen"). When they disagree or are thin the answer is "not known",
//! and the caller searches every language the knowledge has rather than guessing.

use std::sync::OnceLock;

use super::analyze::{Analyzer, folded_words};
use crate::i18n::Lang;

fn whatlang_of(lang: Lang) -> whatlang::Lang {
    match lang {
        Lang::En => whatlang::Lang::Eng,
        Lang::De => whatlang::Lang::Deu,
        Lang::Fr => whatlang::Lang::Fra,
        Lang::Es => whatlang::Lang::Spa,
        Lang::It => whatlang::Lang::Ita,
        Lang::Nl => whatlang::Lang::Nld,
        Lang::Pt => whatlang::Lang::Por,
        Lang::Ar => whatlang::Lang::Ara,
    }
}

fn detector() -> &'static whatlang::Detector {
    static DETECTOR: OnceLock<whatlang::Detector> = OnceLock::new();
    DETECTOR.get_or_init(|| {
        whatlang::Detector::with_allowlist(Lang::ALL.iter().map(|&l| whatlang_of(l)).collect())
    })
}

/// The message's language when it is clear, else None.
pub fn detect(text: &str) -> Option<Lang> {
    evidence(text).filter(|e| e.sure).map(|e| e.lang)
}

struct Evidence {
    lang: Lang,
    sure: bool,
}

fn evidence(text: &str) -> Option<Evidence> {
    let words = folded_words(text);
    if words.is_empty() {
        return None;
    }
    // Known words per language; a word several languages share counts for none of them.
    let mut votes = [0usize; Lang::ALL.len()];
    for w in &words {
        let knowing: Vec<usize> = Lang::ALL
            .iter()
            .enumerate()
            .filter(|(_, l)| Analyzer::of(**l).knows_word(w))
            .map(|(i, _)| i)
            .collect();
        if let [only] = knowing.as_slice() {
            votes[*only] += 1;
        }
    }
    let mut ranked: Vec<(usize, usize)> = votes.iter().copied().enumerate().collect();
    ranked.sort_by_key(|&(_, v)| std::cmp::Reverse(v));
    let (top, top_votes) = ranked[0];
    let runner_up = ranked[1].1;
    let by_words = (top_votes >= 1 && top_votes > runner_up).then_some(Lang::ALL[top]);
    let by_trigrams = detector()
        .detect(text)
        .filter(|info| info.is_reliable())
        .and_then(|info| {
            Lang::ALL
                .iter()
                .copied()
                .find(|&l| whatlang_of(l) == info.lang())
        });
    let found = |lang, sure| Some(Evidence { lang, sure });
    match (by_words, by_trigrams) {
        (Some(a), Some(b)) if a == b => found(a, true),
        // Two or more words only one language uses outweigh trigrams on a short message; one
        // against a reliable trigram verdict is a tie, and a tie is "not known".
        (Some(a), _) if top_votes >= 2 => found(a, true),
        (Some(_), Some(_)) => None,
        // One telling word ("wen" is German, and texting for "when") is only a guess.
        (Some(a), None) => found(a, false),
        (None, Some(b)) => found(b, words.len() >= 4),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_the_languages_of_ordinary_questions() {
        for (text, lang) in [
            ("When are you open on Sunday?", Lang::En),
            ("do you deliver to my street", Lang::En),
            ("hallo, habt ihr sonntags offen?", Lang::De),
            ("Wie viel kostet ein Haarschnitt für Kinder?", Lang::De),
            ("vous livrez le dimanche ?", Lang::Fr),
            ("Bonjour, est-ce que je peux payer par carte ?", Lang::Fr),
            ("¿abren los domingos?", Lang::Es),
            ("hola, cuanto cuesta arreglar un pinchazo", Lang::Es),
        ] {
            assert_eq!(detect(text), Some(lang), "{text}");
        }
    }

    #[test]
    fn says_nothing_when_the_evidence_is_thin() {
        for text in [
            "croissants?",
            "deliverry",
            "",
            "???",
            "555-0142",
            "ok",
            "wen r u open",
        ] {
            assert_eq!(detect(text), None, "{text}");
        }
    }
}
