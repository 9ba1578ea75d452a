//! How text becomes index terms in one language: words split and folded (case, accents,
//! apostrophes), shorthand and phrases expanded, stop words and chit-chat dropped, Snowball
//! stems, and the lexicon's topics merged into one term each.
//!
//! The owner's knowledge and the visitor's message go through the same steps, so whatever the
//! steps do to a word they do on both sides.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use rust_stemmers::{Algorithm, Stemmer};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use super::lexicon::{self, Lexicon};
use crate::i18n::Lang;

/// Topic terms start with this, which no folded word can.
pub const TOPIC: char = '@';
const PRICE: &str = "@price";
const DURATION: &str = "@duration";

/// A currency sign next to a digit.
fn has_amount(text: &str) -> bool {
    let chars: Vec<char> = text.chars().filter(|c| *c != ' ').collect();
    chars.windows(2).any(|w| {
        let sign = |c: char| matches!(c, '$' | '€' | '£' | '¥');
        (sign(w[0]) && w[1].is_ascii_digit()) || (w[0].is_ascii_digit() && sign(w[1]))
    })
}

/// How much a term says about what is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Topic,
    /// The visitor's situation ("my street", "next week"): counted a little.
    Context,
}

/// One term of a text, with the folded word it came from (what typo correction compares).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub surface: String,
    pub term: String,
    pub kind: Kind,
}

/// Small talk: a whole message that is only a greeting or a thanks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmallTalk {
    Greeting,
    Thanks,
}

pub struct Analyzer {
    pub lang: Lang,
    stemmer: Stemmer,
    stop: HashSet<String>,
    /// Folded words and their stems → topic term.
    topics: HashMap<String, String>,
    /// Words as typed (lowercased, unfolded): "où" is a place, "ou" is "or".
    raw_topics: HashMap<String, String>,
    context: HashSet<String>,
    shorthand: HashMap<String, Vec<String>>,
    phrases: Vec<(Vec<String>, String)>,
    greetings: HashSet<String>,
    thanks: HashSet<String>,
    durations: HashSet<String>,
}

impl Analyzer {
    /// The analyzer of `lang`, built once.
    pub fn of(lang: Lang) -> &'static Analyzer {
        static ALL: OnceLock<Vec<Analyzer>> = OnceLock::new();
        let all = ALL.get_or_init(|| Lang::ALL.iter().map(|&l| Analyzer::new(l)).collect());
        let at = Lang::ALL.iter().position(|&l| l == lang).unwrap_or(0);
        &all[at]
    }

    fn new(lang: Lang) -> Analyzer {
        let lex: &Lexicon = lexicon::of(lang);
        let stemmer = Stemmer::create(algorithm(lang));
        let stem = |w: &str| stemmer.stem(w).into_owned();
        // Every list is spelled the way `token` spells what it reads.
        let norm = |w: &str| fold(&respell(lang, &w.to_lowercase()));
        let mut stop: HashSet<String> = stop_words::lookup(lang.code())
            .unwrap_or(&[])
            .iter()
            .map(|w| norm(w))
            .collect();
        stop.extend(lex.filler.iter().map(|w| norm(w)));
        let mut topics = HashMap::new();
        let mut raw_topics = HashMap::new();
        let mut phrases = Vec::new();
        for (topic, words) in lex.concepts {
            let term = format!("{TOPIC}{topic}");
            for word in *words {
                let lower = word.to_lowercase();
                if lower.contains(' ') {
                    phrases.push((lower.split(' ').map(fold).collect::<Vec<_>>(), term.clone()));
                    continue;
                }
                raw_topics
                    .entry(lower.clone())
                    .or_insert_with(|| term.clone());
                if lower.contains(['-', '\'']) {
                    continue;
                }
                let lower = respell(lang, &lower);
                let folded = fold(&lower);
                if folded != lower && stop.contains(&folded) {
                    // "où" is a place but "ou" is "or": only the accented spelling counts.
                    continue;
                }
                // A topic's own word is never a stop word ("where", "wo", "donde").
                stop.remove(&folded);
                topics
                    .entry(fold(&stem(&lower)))
                    .or_insert_with(|| term.clone());
                topics.entry(folded).or_insert_with(|| term.clone());
            }
        }
        for (from, to) in lex.phrases {
            phrases.push((from.split(' ').map(fold).collect(), fold(to)));
        }
        // Longest first, so "fin de semana" wins over a shorter phrase inside it.
        phrases.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
        let context = lex
            .context
            .iter()
            .map(|w| fold(&stem(&respell(lang, &w.to_lowercase()))))
            .collect();
        let shorthand = lex
            .shorthand
            .iter()
            .map(|(from, to)| (fold(from), folded_words(to)))
            .collect();
        let set = |words: &[&str]| words.iter().map(|w| norm(w)).collect::<HashSet<_>>();
        Analyzer {
            lang,
            stemmer,
            stop,
            topics,
            raw_topics,
            context,
            shorthand,
            phrases,
            greetings: set(lex.greetings),
            thanks: set(lex.thanks),
            durations: lex.durations.iter().map(|w| fold(w)).collect(),
        }
    }

    /// The terms of `text`, in order, stop words dropped. An amount of money ("$15", "20 €")
    /// is a price, whatever words are around it.
    pub fn tokens(&self, text: &str) -> Vec<Token> {
        let mut out = Vec::new();
        if has_amount(text) && self.topics.values().any(|t| t == PRICE) {
            out.push(Token {
                surface: String::new(),
                term: PRICE.to_owned(),
                kind: Kind::Topic,
            });
        }
        let sentences = sentences(text);
        // In a message that asks a question beside other sentences ("loved my cut! do you sell
        // the products?"), those others are what the visitor tells, not asks: their words count
        // as the visitor's situation.
        let asking = sentences.len() > 1 && sentences.iter().any(|(_, q)| *q);
        for (sentence, question) in sentences {
            let told = asking && !question;
            for word in self.words(sentence) {
                let mut tokens = match word {
                    Word::Topic(raw, term) => vec![Token {
                        surface: raw,
                        term,
                        kind: Kind::Topic,
                    }],
                    Word::Plain(w) => self.token(&w).into_iter().collect(),
                };
                if told {
                    for t in &mut tokens {
                        t.kind = Kind::Context;
                    }
                }
                out.extend(tokens);
            }
        }
        out
    }

    /// The term of one lowercased word, or None for a stop word. Snowball's rules know the
    /// accents ("reparación" → "repar"), so the word is stemmed as typed and folded after.
    pub fn token(&self, lower: &str) -> Option<Token> {
        let lower = &respell(self.lang, lower);
        let word = fold(lower);
        if let Some(term) = self.topics.get(&word) {
            return Some(Token {
                surface: word,
                term: term.clone(),
                kind: Kind::Topic,
            });
        }
        let is_number = word.chars().all(|c| c.is_ascii_digit());
        if self.stop.contains(&word) || (word.chars().count() < 2 && !is_number) {
            return None;
        }
        let stem = fold(&self.stemmer.stem(lower));
        if let Some(term) = self.topics.get(&stem) {
            return Some(Token {
                surface: word,
                term: term.clone(),
                kind: Kind::Topic,
            });
        }
        // A number is a time, an age or an amount the visitor mentions, rarely the question.
        let kind = if is_number || self.context.contains(&stem) {
            Kind::Context
        } else {
            Kind::Topic
        };
        Some(Token {
            surface: word,
            term: stem,
            kind,
        })
    }

    /// Whether words are run together into compounds ("Geschenkgutschein"), so a part of one
    /// is worth looking for.
    pub fn compounds(&self) -> bool {
        matches!(self.lang, Lang::De | Lang::Nl)
    }

    /// The folded stem of a lowercased word, as `token` makes it.
    pub fn stem(&self, lower: &str) -> String {
        fold(&self.stemmer.stem(&respell(self.lang, lower)))
    }

    /// Whether a folded word is one this language drops.
    pub fn is_stop(&self, word: &str) -> bool {
        self.stop.contains(word) && !self.topics.contains_key(word)
    }

    /// Whether a folded word is one of this language's function words, greetings, thanks or
    /// topic words: the evidence of which language a short message is in.
    pub fn knows_word(&self, word: &str) -> bool {
        let word = &fold(&respell(self.lang, word));
        self.stop.contains(word)
            || self.greetings.contains(word)
            || self.thanks.contains(word)
            || self.topics.contains_key(word)
    }

    /// Whether the whole message is a greeting or thanks in this language. Words of `name` are
    /// allowed ("hi Rosie").
    pub fn small_talk(&self, text: &str, name: &[String]) -> Option<SmallTalk> {
        let words: Vec<String> = folded_words(text)
            .iter()
            .map(|w| fold(&respell(self.lang, w)))
            .collect();
        if words.is_empty() || words.len() > 8 {
            return None;
        }
        let (mut greeting, mut thanks) = (false, false);
        for w in &words {
            greeting |= self.greetings.contains(w);
            thanks |= self.thanks.contains(w);
            let known = self.greetings.contains(w)
                || self.thanks.contains(w)
                || self.stop.contains(w)
                || name.contains(w);
            if !known {
                return None;
            }
        }
        if thanks {
            Some(SmallTalk::Thanks)
        } else if greeting {
            Some(SmallTalk::Greeting)
        } else {
            None
        }
    }

    /// Words after shorthand and phrases; topics spelled with a hyphen or apostrophe
    /// ("rendez-vous") are recognised as typed, before they are split.
    fn words(&self, text: &str) -> Vec<Word> {
        let mut words = Vec::new();
        // "2 hours" is how long something takes, not when the shop is open.
        let mut after_number = false;
        for chunk in chunks(text) {
            if let Some(term) = self.raw_topics.get(&chunk)
                && !(after_number && self.durations.contains(&fold(&chunk)))
            {
                words.push(Word::Topic(fold(&chunk), term.clone()));
                after_number = false;
                continue;
            }
            for part in &split_chunk(&chunk) {
                let part = part.as_str();
                let number = part.chars().all(|c| c.is_ascii_digit());
                if after_number && self.durations.contains(&fold(part)) {
                    words.push(Word::Topic(fold(part), DURATION.to_owned()));
                    after_number = false;
                    continue;
                }
                after_number = number;
                if let Some(term) = self.raw_topics.get(part) {
                    words.push(Word::Topic(fold(part), term.clone()));
                } else if let Some(expanded) = self.shorthand.get(&fold(part)) {
                    words.extend(expanded.iter().cloned().map(Word::Plain));
                } else {
                    words.push(Word::Plain(part.to_owned()));
                }
            }
        }
        self.join_phrases(words)
    }

    fn join_phrases(&self, words: Vec<Word>) -> Vec<Word> {
        if self.phrases.is_empty() {
            return words;
        }
        let mut out = Vec::with_capacity(words.len());
        let mut i = 0;
        'next: while i < words.len() {
            for (from, to) in &self.phrases {
                let n = from.len();
                let hit = i + n <= words.len()
                    && from.iter().zip(&words[i..i + n]).all(|(f, w)| match w {
                        Word::Plain(p) => fold(p) == *f,
                        // "gift cards" is a voucher, though "cards" alone is a payment.
                        Word::Topic(raw, _) => raw == f,
                    });
                if hit && to.is_empty() {
                    i += n;
                    continue 'next;
                }
                if hit {
                    out.push(if to.starts_with(TOPIC) {
                        Word::Topic(from.join(" "), to.clone())
                    } else {
                        Word::Plain(to.clone())
                    });
                    i += n;
                    continue 'next;
                }
            }
            out.push(words[i].clone());
            i += 1;
        }
        out
    }
}

#[derive(Debug, Clone)]
enum Word {
    /// A topic recognised before splitting: (what was typed, its term).
    Topic(String, String),
    Plain(String),
}

fn algorithm(lang: Lang) -> Algorithm {
    match lang {
        Lang::En => Algorithm::English,
        Lang::De => Algorithm::German,
        Lang::Fr => Algorithm::French,
        Lang::Es => Algorithm::Spanish,
        Lang::It => Algorithm::Italian,
        Lang::Nl => Algorithm::Dutch,
        Lang::Pt => Algorithm::Portuguese,
        Lang::Ar => Algorithm::Arabic,
    }
}

/// A text's sentences, each with whether it is a question: split after '.', '!' or '?' (and
/// runs of them) followed by a space or the end, and at line breaks.
fn sentences(text: &str) -> Vec<(&str, bool)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let end = match c {
            '\n' => Some((at, false)),
            '.' | '!' | '?' => {
                let mut question = c == '?';
                let mut last = at + c.len_utf8();
                while let Some(&(next, d)) = chars.peek() {
                    if !matches!(d, '.' | '!' | '?') {
                        break;
                    }
                    question |= d == '?';
                    last = next + d.len_utf8();
                    chars.next();
                }
                let boundary = chars.peek().is_none_or(|&(_, d)| d.is_whitespace());
                boundary.then_some((last, question))
            }
            _ => None,
        };
        if let Some((cut, question)) = end {
            let sentence = &text[start..cut];
            if sentence.chars().any(char::is_alphanumeric) {
                out.push((sentence, question));
            }
            start = cut;
        }
    }
    if text[start..].chars().any(char::is_alphanumeric) {
        out.push((&text[start..], false));
    }
    out
}

/// A chunk's words: split at hyphens and apostrophes, except that a lone letter before a
/// hyphen is part of the word ("e-bike", "e-mail", "t-shirt" are one word, as "ebike" and
/// "email" are), where splitting would drop the letter and leave only "bike". French
/// "a-t-il" stays apart: the letter must come first and the rest be a word.
fn split_chunk(chunk: &str) -> Vec<String> {
    let mut parts: Vec<String> = Vec::new();
    let mut segments = chunk.split('-').peekable();
    if let Some(first) = segments.next() {
        let lone = first.chars().count() == 1 && first.chars().all(char::is_alphabetic);
        match segments.peek() {
            Some(next) if lone && next.chars().count() >= 3 && !next.contains('\'') => {
                parts.push(format!("{first}{next}"));
                segments.next();
            }
            _ => parts.extend(first.split('\'').map(str::to_owned)),
        }
    }
    for segment in segments {
        parts.extend(segment.split('\'').map(str::to_owned));
    }
    parts.retain(|p| !p.is_empty());
    parts
}

/// Lowercased runs of letters, digits, apostrophes and hyphens, with typographic apostrophes
/// made plain and apostrophes or hyphens at either end dropped.
fn chunks(text: &str) -> Vec<String> {
    text.to_lowercase()
        .replace(['’', '‘', '`', '´'], "'")
        .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '-'))
        .map(|w| w.trim_matches(['\'', '-']))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The folded words of `text` with apostrophes and hyphens as separators (small talk, language
/// evidence).
pub fn folded_words(text: &str) -> Vec<String> {
    chunks(text)
        .iter()
        .flat_map(|c| c.split(['-', '\'']).map(fold).collect::<Vec<_>>())
        .filter(|w| !w.is_empty())
        .collect()
}

/// A German word typed without umlauts spelled with them: "fuer" is "für", "Groesse" is
/// "Größe", as keyboards without them write (Snowball's "german2" rule). Not after a vowel,
/// where the letters are their own ("neue", "Bauer", "Feuer"), nor "ue" after "q" ("Quelle").
/// Other languages are left as they are.
pub fn respell(lang: Lang, lower: &str) -> String {
    if lang != Lang::De || !lower.contains('e') {
        return lower.to_owned();
    }
    let chars: Vec<char> = lower.chars().collect();
    let mut out = String::with_capacity(lower.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let before = i.checked_sub(1).map(|b| chars[b]);
        let after_vowel = before.is_some_and(|b| "aeiouäöüy".contains(b));
        let umlaut = match c {
            'a' => Some('ä'),
            'o' => Some('ö'),
            'u' if before != Some('q') => Some('ü'),
            _ => None,
        };
        match umlaut {
            Some(u) if chars.get(i + 1) == Some(&'e') && !after_vowel => {
                out.push(u);
                i += 2;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Lowercase without accents: "Öffnungszeiten" → "offnungszeiten", "ß" → "ss", so a visitor who
/// types without accents meets the owner who typed them.
pub fn fold(word: &str) -> String {
    // Most words visitors and owners type are plain ASCII, where folding is lowercasing: skip
    // the decomposition, a third of an index build's time.
    if word.is_ascii() {
        return word.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(word.len());
    for c in word.to_lowercase().nfd() {
        match c {
            c if is_combining_mark(c) => {}
            'ß' => out.push_str("ss"),
            'œ' => out.push_str("oe"),
            'æ' => out.push_str("ae"),
            'ı' => out.push('i'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(lang: Lang, text: &str) -> Vec<String> {
        Analyzer::of(lang)
            .tokens(text)
            .into_iter()
            .map(|t| t.term)
            .collect()
    }

    #[test]
    fn folds_case_accents_and_ligatures() {
        assert_eq!(fold("Öffnungszeiten"), "offnungszeiten");
        assert_eq!(fold("Straße"), "strasse");
        assert_eq!(fold("CRÈME brûlée"), "creme brulee");
        assert_eq!(fold("œuvre"), "oeuvre");
        assert_eq!(
            fold("Open-Late"),
            "open-late",
            "plain ASCII is only lowercased"
        );
        assert_eq!(fold("e\u{301}te\u{301}"), "ete");
    }

    #[test]
    fn german_typed_without_umlauts_is_read_as_with_them() {
        assert_eq!(respell(Lang::De, "fuer"), "für");
        assert_eq!(respell(Lang::De, "groesse"), "grösse");
        assert_eq!(respell(Lang::De, "aerger"), "ärger");
        for same in ["neue", "bauer", "feuer", "quelle", "steuer"] {
            assert_eq!(respell(Lang::De, same), same);
        }
        assert_eq!(respell(Lang::En, "blue"), "blue");
        assert_eq!(
            terms(Lang::De, "Preis fuer Kinder"),
            terms(Lang::De, "Preis für Kinder")
        );
        assert_eq!(
            terms(Lang::De, "Oeffnungszeiten"),
            terms(Lang::De, "Öffnungszeiten")
        );
        assert!(Analyzer::of(Lang::De).is_stop("fur"));
    }

    #[test]
    fn stems_forms_of_a_word_together_in_each_language() {
        for (lang, a, b) in [
            (Lang::En, "croissants", "croissant"),
            (Lang::En, "baking", "baked"),
            (Lang::En, "repairs", "repairing"),
            (Lang::De, "Reparaturen", "Reparatur"),
            (Lang::De, "Haarschnitte", "Haarschnitt"),
            (Lang::Fr, "réparations", "réparation"),
            (Lang::Fr, "coupes", "coupe"),
            (Lang::Es, "bicicletas", "bicicleta"),
            (Lang::Es, "reparaciones", "reparación"),
        ] {
            assert_eq!(terms(lang, a), terms(lang, b), "{lang:?}: {a} / {b}");
            assert!(!terms(lang, a).is_empty());
        }
    }

    #[test]
    fn drops_stop_words_and_chit_chat_but_keeps_topics() {
        assert_eq!(
            terms(
                Lang::En,
                "Hi! Quick question, do you sell croissants please?"
            ),
            ["croissant"]
        );
        assert_eq!(terms(Lang::En, "where are you?"), ["@location"]);
        assert_eq!(terms(Lang::De, "Wo seid ihr?"), ["@location"]);
        assert_eq!(terms(Lang::Fr, "vous êtes où ?"), ["@location"]);
        assert_eq!(
            terms(Lang::Fr, "du pain ou des gâteaux"),
            ["pain", "gateau"]
        );
        assert_eq!(terms(Lang::Es, "¿dónde están?"), ["@location"]);
        assert!(terms(Lang::En, "it's the, and of!").is_empty());
    }

    #[test]
    fn topics_gather_the_everyday_words_for_one_thing() {
        for (lang, a, b) in [
            (Lang::En, "what time do you shut", "opening hours"),
            (Lang::En, "can I ring you", "phone number"),
            (Lang::En, "do you take visa", "can I pay by card"),
            (Lang::En, "how much is it", "prices"),
            (Lang::De, "Wann habt ihr geöffnet", "Öffnungszeiten"),
            (
                Lang::De,
                "Kann ich mit Karte zahlen",
                "Kartenzahlung bezahlen",
            ),
            (Lang::Fr, "vous êtes ouverts ?", "horaires"),
            (Lang::Es, "¿cuánto cuesta?", "precio"),
            (
                Lang::En,
                "can I come in without an appointment",
                "do you take walk-ins",
            ),
            (Lang::De, "geht das auch ohne Termin", "Laufkundschaft"),
            (Lang::Fr, "c'est possible sans rendez-vous ?", "sans rdv"),
        ] {
            let (ta, tb) = (terms(lang, a), terms(lang, b));
            assert!(
                ta.iter().any(|t| t.starts_with(TOPIC) && tb.contains(t)),
                "{lang:?}: {a} {ta:?} / {b} {tb:?}"
            );
        }
    }

    #[test]
    fn shorthand_and_contractions_expand() {
        assert_eq!(terms(Lang::En, "r u open tmrw"), ["@hours", "tomorrow"]);
        assert_eq!(terms(Lang::En, "r u open sun"), ["@hours", "@day"]);
        assert_eq!(terms(Lang::En, "what's ur address"), ["@location"]);
        assert_eq!(
            terms(Lang::En, "need a cake for my bday"),
            ["cake", "birthday"]
        );
        assert_eq!(terms(Lang::Fr, "l'adresse svp"), ["@location"]);
    }

    #[test]
    fn an_amount_of_money_is_a_price() {
        assert_eq!(
            terms(Lang::En, "It's $15 per wheel"),
            ["@price", "15", "wheel"]
        );
        assert_eq!(terms(Lang::De, "kostet 20 €"), ["@price", "@price", "20"]);
        assert_eq!(terms(Lang::En, "open 9 to 5"), ["@hours", "9", "5"]);
        assert_eq!(Analyzer::of(Lang::En).tokens("9")[0].kind, Kind::Context);
    }

    #[test]
    fn a_length_of_time_is_a_duration_not_opening_hours() {
        assert_eq!(
            terms(Lang::En, "at least 48 hours' notice"),
            ["least", "48", "@duration", "notic"]
        );
        assert_eq!(terms(Lang::En, "how long does it take"), ["@duration"]);
        assert_eq!(terms(Lang::En, "a 3-month warranty")[1], "@duration");
        assert_eq!(terms(Lang::En, "opening hours"), ["@hours", "@hours"]);
        assert_eq!(
            terms(Lang::De, "mindestens 24 Stunden vorher")[2],
            "@duration"
        );
        assert!(!terms(Lang::De, "bis 19 Uhr").contains(&"@duration".to_owned()));
    }

    #[test]
    fn a_letter_and_hyphen_start_one_word() {
        assert_eq!(terms(Lang::En, "e-bikes"), terms(Lang::En, "ebike"));
        assert_eq!(
            terms(Lang::En, "e-bikes"),
            terms(Lang::En, "electric bikes")
        );
        assert_ne!(terms(Lang::En, "e-bike"), terms(Lang::En, "bike"));
        assert_eq!(terms(Lang::En, "e-mail"), ["@contact"]);
        assert_eq!(split_chunk("a-t-il"), ["a", "t", "il"]);
        assert_eq!(split_chunk("l'e-bike"), ["l", "e", "bike"]);
        assert_eq!(split_chunk("rendez-vous"), ["rendez", "vous"]);
    }

    #[test]
    fn used_as_a_verb_is_not_second_hand() {
        assert_eq!(terms(Lang::En, "the products you used"), ["product"]);
        assert_eq!(terms(Lang::En, "can be used for any service"), ["servic"]);
        assert_eq!(terms(Lang::En, "used bikes"), ["@used", "bike"]);
    }

    #[test]
    fn what_a_visitor_tells_beside_a_question_counts_a_little() {
        let kinds = |text: &str| {
            Analyzer::of(Lang::En)
                .tokens(text)
                .into_iter()
                .map(|t| (t.term, t.kind))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            kinds("Loved my cut! Do you sell the products?"),
            [
                ("cut".to_owned(), Kind::Context),
                ("product".to_owned(), Kind::Topic)
            ]
        );
        // No question, or only questions: every sentence is what is asked.
        assert_eq!(kinds("Loved my cut! Products")[0].1, Kind::Topic);
        assert_eq!(kinds("Cakes? Like buns?")[0].1, Kind::Topic);
        assert_eq!(
            sentences("Hi. Open at 7.30?? ok\nbye"),
            [
                ("Hi.", false),
                (" Open at 7.30??", true),
                (" ok", false),
                ("\nbye", false)
            ]
        );
    }

    #[test]
    fn situation_words_are_context() {
        let tokens = Analyzer::of(Lang::En).tokens("deliver to my street");
        assert_eq!(
            tokens
                .iter()
                .map(|t| (t.term.as_str(), t.kind))
                .collect::<Vec<_>>(),
            [("@deliver", Kind::Topic), ("street", Kind::Context)]
        );
    }

    #[test]
    fn small_talk_is_a_whole_message_of_greetings_or_thanks() {
        let en = Analyzer::of(Lang::En);
        let rosie = folded_words("Rosie's Bakery");
        assert_eq!(
            en.small_talk("hi Rosie!", &rosie),
            Some(SmallTalk::Greeting)
        );
        assert_eq!(
            en.small_talk("Hey, how are you?", &[]),
            Some(SmallTalk::Greeting)
        );
        assert_eq!(
            en.small_talk("ok thanks so much", &[]),
            Some(SmallTalk::Thanks)
        );
        assert_eq!(en.small_talk("hi, are you open today?", &[]), None);
        assert_eq!(en.small_talk("are you there", &[]), None);
        let de = Analyzer::of(Lang::De);
        assert_eq!(de.small_talk("Vielen Dank!", &[]), Some(SmallTalk::Thanks));
        assert_eq!(
            de.small_talk("Guten Morgen", &[]),
            Some(SmallTalk::Greeting)
        );
    }

    #[test]
    fn odd_input_does_not_panic() {
        for lang in Lang::ALL {
            for odd in [
                "İSTANBUL's",
                "ß",
                "e\u{301}",
                "\u{0}’s’",
                "ﬁ",
                "'''",
                "s's",
                "--",
                "a-'-b",
                "パン屋はどこ",
                "🥐croissants🥐",
                "",
            ] {
                let _ = Analyzer::of(lang).tokens(odd);
                let _ = Analyzer::of(lang).small_talk(odd, &[]);
            }
        }
    }
}
