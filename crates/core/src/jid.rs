//! The JID grammar: `web:<folder>[/<suffix>]`, `hook:<folder>/<source>[/<suffix>]` and
//! `widget:<folder>/<app id>`.
//!
//! Names are lowercase ASCII letters, digits and `-`/`_`, starting with a letter or digit, at most
//! 40 characters: they appear in URLs, logs and CLI arguments, so they stay boring.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Jid {
    Web {
        folder: String,
        suffix: Option<String>,
    },
    Hook {
        folder: String,
        source: String,
        suffix: Option<String>,
    },
    /// Conversations of one widget app; route rules can give each app its own persona.
    Widget { folder: String, app: String },
}

/// Checks one name (folder slug, suffix, hook source).
pub fn check_name(what: &str, s: &str) -> Result<()> {
    let ok = !s.is_empty()
        && s.len() <= 40
        && s.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{what} {s:?} is not valid: use 1–40 lowercase letters, digits, '-' or '_', starting with a letter or digit"
        )))
    }
}

impl Jid {
    pub fn web(folder: &str, suffix: Option<&str>) -> Result<Jid> {
        check_name("folder", folder)?;
        if let Some(s) = suffix {
            check_name("suffix", s)?;
        }
        Ok(Jid::Web {
            folder: folder.into(),
            suffix: suffix.map(Into::into),
        })
    }

    pub fn hook(folder: &str, source: &str, suffix: Option<&str>) -> Result<Jid> {
        check_name("folder", folder)?;
        check_name("hook source", source)?;
        if let Some(s) = suffix {
            check_name("suffix", s)?;
        }
        Ok(Jid::Hook {
            folder: folder.into(),
            source: source.into(),
            suffix: suffix.map(Into::into),
        })
    }

    pub fn widget(folder: &str, app: &str) -> Result<Jid> {
        check_name("folder", folder)?;
        check_name("widget app id", app)?;
        Ok(Jid::Widget {
            folder: folder.into(),
            app: app.into(),
        })
    }

    pub fn folder(&self) -> &str {
        match self {
            Jid::Web { folder, .. } | Jid::Hook { folder, .. } | Jid::Widget { folder, .. } => {
                folder
            }
        }
    }

    pub fn suffix(&self) -> Option<&str> {
        match self {
            Jid::Web { suffix, .. } | Jid::Hook { suffix, .. } => suffix.as_deref(),
            Jid::Widget { .. } => None,
        }
    }
}

impl fmt::Display for Jid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Jid::Web { folder, .. } => write!(f, "web:{folder}")?,
            Jid::Hook { folder, source, .. } => write!(f, "hook:{folder}/{source}")?,
            Jid::Widget { folder, app } => write!(f, "widget:{folder}/{app}")?,
        }
        match self.suffix() {
            Some(s) => write!(f, "/{s}"),
            None => Ok(()),
        }
    }
}

impl FromStr for Jid {
    type Err = Error;

    fn from_str(s: &str) -> Result<Jid> {
        let bad = || {
            Error::invalid(format!(
                "{s:?} is not a JID: expected web:<folder>[/<suffix>], hook:<folder>/<source>[/<suffix>] or widget:<folder>/<app id>"
            ))
        };
        let (kind, rest) = s.split_once(':').ok_or_else(bad)?;
        let parts: Vec<&str> = rest.split('/').collect();
        match (kind, parts.as_slice()) {
            ("web", [folder]) => Jid::web(folder, None),
            ("web", [folder, suffix]) => Jid::web(folder, Some(suffix)),
            ("hook", [folder, source]) => Jid::hook(folder, source, None),
            ("hook", [folder, source, suffix]) => Jid::hook(folder, source, Some(suffix)),
            ("widget", [folder, app]) => Jid::widget(folder, app),
            _ => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_every_form() {
        for s in [
            "web:acme",
            "web:acme/support",
            "hook:acme/github",
            "hook:acme/github/ci",
            "widget:acme/app_0a1b2c",
        ] {
            let jid: Jid = s.parse().expect(s);
            assert_eq!(jid.to_string(), s);
            assert_eq!(jid.folder(), "acme");
        }
        let j: Jid = "web:acme/sales".parse().expect("parse");
        assert_eq!(j.suffix(), Some("sales"));
    }

    #[test]
    fn rejects_bad_jids_with_a_clear_message() {
        for s in [
            "acme",
            "web:",
            "web:Acme",
            "web:acme/",
            "web:a/b/c",
            "hook:acme",
            "mail:acme",
            "web:-x",
            "web:a b",
            "widget:acme",
            "widget:acme/App_X",
        ] {
            let e = s.parse::<Jid>().expect_err(s);
            assert_eq!(e.code(), "invalid_input", "{s}");
        }
        assert!(check_name("folder", &"a".repeat(41)).is_err());
        assert!(check_name("folder", "rosies-bakery_2").is_ok());
    }

    proptest::proptest! {
        /// Any text either is refused with `invalid_input` or is a JID that prints back as
        /// itself.
        #[test]
        fn any_text_parses_to_a_round_tripping_jid_or_a_clear_error(text in "\\PC{0,80}|(web|hook|widget):[a-z0-9/_.:-]{0,40}") {
            match text.parse::<Jid>() {
                Ok(jid) => proptest::prop_assert_eq!(jid.to_string().parse::<Jid>().expect("again"), jid),
                Err(e) => proptest::prop_assert_eq!(e.code(), "invalid_input"),
            }
        }
    }
}
