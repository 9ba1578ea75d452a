//! The visitor's language: one message catalog per shipped language (`assets/i18n/*.json`), and
//! the one rule that picks a visitor's language everywhere (chat page, widget, error pages, the
//! built-in agent): the first language of the browser's `Accept-Language` a catalog ships for,
//! else the agent's default language.
//!
//! Catalogs are embedded in the binary and checked at test time to hold exactly English's keys
//! with the same placeholders, so a lookup never misses; if one ever did, English answers.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// A language a catalog ships for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Lang {
    #[default]
    En,
    De,
    Fr,
    Es,
    It,
    Nl,
    Pt,
    Ar,
}

const SOURCES: [(Lang, &str); 8] = [
    (Lang::En, include_str!("../assets/i18n/en.json")),
    (Lang::De, include_str!("../assets/i18n/de.json")),
    (Lang::Fr, include_str!("../assets/i18n/fr.json")),
    (Lang::Es, include_str!("../assets/i18n/es.json")),
    (Lang::It, include_str!("../assets/i18n/it.json")),
    (Lang::Nl, include_str!("../assets/i18n/nl.json")),
    (Lang::Pt, include_str!("../assets/i18n/pt.json")),
    (Lang::Ar, include_str!("../assets/i18n/ar.json")),
];

/// Past this, an `Accept-Language` header is read no further: it is a stranger's input.
const MAX_HEADER: usize = 512;
const MAX_RANGES: usize = 24;

impl Lang {
    pub const ALL: [Lang; 8] = [
        Lang::En,
        Lang::De,
        Lang::Fr,
        Lang::Es,
        Lang::It,
        Lang::Nl,
        Lang::Pt,
        Lang::Ar,
    ];

    /// The BCP 47 primary subtag (`lang` attributes, `Content-Language`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
            Lang::Fr => "fr",
            Lang::Es => "es",
            Lang::It => "it",
            Lang::Nl => "nl",
            Lang::Pt => "pt",
            Lang::Ar => "ar",
        }
    }

    /// The language's own name, for the owner's language picker.
    pub fn name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::De => "Deutsch",
            Lang::Fr => "Français",
            Lang::Es => "Español",
            Lang::It => "Italiano",
            Lang::Nl => "Nederlands",
            Lang::Pt => "Português",
            Lang::Ar => "العربية",
        }
    }

    /// Text direction of the language's script.
    pub fn dir(self) -> &'static str {
        match self {
            Lang::Ar => "rtl",
            _ => "ltr",
        }
    }

    /// A language tag's language (`de-AT` → German), if a catalog ships for it.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?;
        Lang::ALL
            .into_iter()
            .find(|l| l.code().eq_ignore_ascii_case(primary))
    }

    /// This language's catalog.
    pub fn catalog(self) -> &'static Catalog {
        &catalogs()[Lang::ALL.iter().position(|l| *l == self).unwrap_or(0)]
    }

    /// One message of this language, with `{name}` placeholders filled from `vars`.
    pub fn text(self, key: &str, vars: &[(&str, &str)]) -> String {
        let mut out = self.catalog().get(key).to_owned();
        for (name, value) in vars {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }
}

/// The visitor's language: the highest-weighted range of `accept_language` a catalog ships for
/// (`*` and `q=0` ranges never choose), else `default`.
pub fn negotiate(accept_language: Option<&str>, default: Lang) -> Lang {
    let Some(header) = accept_language else {
        return default;
    };
    let header = match header.char_indices().nth(MAX_HEADER) {
        Some((cut, _)) => &header[..cut],
        None => header,
    };
    let mut best: Option<(u16, Lang)> = None;
    for range in header.split(',').take(MAX_RANGES) {
        let mut parts = range.split(';');
        let tag = parts.next().unwrap_or("").trim();
        let weight = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .map_or(Some(1000), quality);
        let (Some(weight), Some(lang)) = (weight, Lang::from_tag(tag)) else {
            continue;
        };
        // Ties keep the earlier range: browsers list languages in the visitor's order.
        if weight > 0 && best.is_none_or(|(w, _)| weight > w) {
            best = Some((weight, lang));
        }
    }
    best.map_or(default, |(_, lang)| lang)
}

/// A `q` value in thousandths; `None` when it is not a number from 0 to 1.
fn quality(q: &str) -> Option<u16> {
    let v: f32 = q.trim().parse().ok()?;
    (0.0..=1.0)
        .contains(&v)
        .then(|| (v * 1000.0).round() as u16)
}

/// One language's messages, and the same as a JSON object for the pages and the widget.
#[derive(Debug)]
pub struct Catalog {
    pub lang: Lang,
    messages: HashMap<String, String>,
    value: serde_json::Value,
}

impl Catalog {
    /// The message for `key`; English's when this catalog lacks it, the key itself when no
    /// catalog has it (both caught by the catalog tests).
    pub fn get<'a>(&'a self, key: &'a str) -> &'a str {
        match self.messages.get(key) {
            Some(m) => m,
            None if self.lang != Lang::En => Lang::En.catalog().get(key),
            None => key,
        }
    }

    /// The whole catalog as a JSON object.
    pub fn value(&self) -> &serde_json::Value {
        &self.value
    }
}

fn catalogs() -> &'static [Catalog] {
    static ALL: OnceLock<Vec<Catalog>> = OnceLock::new();
    ALL.get_or_init(|| {
        SOURCES
            .iter()
            .map(|(lang, source)| {
                // Embedded and tested: a catalog that does not parse is a build defect, and
                // an empty one falls back to English rather than failing a visitor's page.
                let messages: HashMap<String, String> =
                    serde_json::from_str(source).unwrap_or_default();
                let value = serde_json::to_value(&messages).unwrap_or_default();
                Catalog {
                    lang: *lang,
                    messages,
                    value,
                }
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(source: &str) -> Vec<String> {
        // Compared as sorted lists: the same set of keys is what matters.
        let value: serde_json::Value = serde_json::from_str(source).expect("every catalog is JSON");
        value
            .as_object()
            .expect("an object")
            .keys()
            .cloned()
            .collect()
    }

    fn placeholders(s: &str) -> Vec<&str> {
        let mut out: Vec<&str> = s
            .split('{')
            .skip(1)
            .filter_map(|p| p.split_once('}').map(|(name, _)| name))
            .collect();
        out.sort_unstable();
        out
    }

    #[test]
    fn every_catalog_has_englishs_keys_and_placeholders() {
        let en = Lang::En.catalog();
        let english = keys(SOURCES[0].1);
        assert!(english.len() > 40, "the catalog has the visitor's strings");
        for (lang, source) in SOURCES {
            assert_eq!(keys(source), english, "{lang:?} has exactly English's keys");
            let cat = lang.catalog();
            for key in &english {
                let text = cat.messages.get(key).expect("present");
                assert!(!text.trim().is_empty(), "{lang:?} {key} is empty");
                assert_eq!(
                    placeholders(text),
                    placeholders(en.get(key)),
                    "{lang:?} {key} keeps English's placeholders"
                );
            }
        }
    }

    /// Every message a visitor-facing script asks for by key exists, so no visitor ever sees a
    /// bare key.
    #[test]
    fn every_key_the_scripts_use_is_in_the_catalog() {
        let en = Lang::En.catalog();
        for (name, script) in [
            ("chat.js", include_str!("../assets/chat.js")),
            ("widget.js", include_str!("../assets/widget.js")),
        ] {
            let mut seen = 0;
            // `t('key'…)` calls: the `t` must start a name (`split('…` is not one).
            let calls = script.match_indices("t('").filter(|(at, _)| {
                !script[..*at]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.')
            });
            for (at, _) in calls {
                let key = script[at + 3..].split('\'').next().unwrap_or("");
                if key.ends_with('.') {
                    continue; // a prefix completed by an error code: checked below
                }
                assert!(en.messages.contains_key(key), "{name} asks for {key:?}");
                seen += 1;
            }
            assert!(seen > 5, "{name} takes its strings from the catalog");
        }
        for code in [
            "rate_limited",
            "payload_too_large",
            "link_revoked",
            "link_expired",
            "link_paused",
            "origin_not_allowed",
            "too_many_streams",
        ] {
            assert!(en.messages.contains_key(&format!("error.{code}")), "{code}");
        }
    }

    #[test]
    fn the_browsers_first_shipped_language_wins_else_the_agents() {
        let de = Some("de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7");
        assert_eq!(negotiate(de, Lang::En), Lang::De);
        assert_eq!(negotiate(Some("fr-CA"), Lang::En), Lang::Fr);
        assert_eq!(negotiate(Some("ja,fr;q=0.5"), Lang::De), Lang::Fr);
        assert_eq!(negotiate(Some("ja, zh-CN"), Lang::It), Lang::It);
        assert_eq!(negotiate(None, Lang::Nl), Lang::Nl);
        assert_eq!(negotiate(Some("en;q=0.2, pt-BR;q=0.8"), Lang::De), Lang::Pt);
        assert_eq!(negotiate(Some("es;q=0, *"), Lang::Nl), Lang::Nl);
        assert_eq!(negotiate(Some("ar-EG"), Lang::En).dir(), "rtl");
        assert_eq!(negotiate(Some("de;q=2, fr;q=abc"), Lang::En), Lang::En);
    }

    proptest::proptest! {
        /// Any header picks a shipped language without panicking, and a long one is cut short.
        #[test]
        fn any_header_picks_a_language(header in "\\PC{0,600}") {
            let lang = negotiate(Some(&header), Lang::Es);
            proptest::prop_assert!(Lang::ALL.contains(&lang));
        }
    }

    #[test]
    fn texts_fill_their_placeholders() {
        assert_eq!(
            Lang::En.text("send.wait", &[("seconds", "30")]),
            "Please wait 30 s."
        );
        assert_eq!(
            Lang::De.catalog().value()["composer.send"],
            Lang::De.text("composer.send", &[])
        );
        assert_eq!(Lang::En.catalog().get("no.such.key"), "no.such.key");
    }
}
