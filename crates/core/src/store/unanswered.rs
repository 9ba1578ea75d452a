//! Questions the agent handed off, counted by how they were asked, until the owner answers or
//! dismisses them.

use rusqlite::{Connection, OptionalExtension, params};

use super::Store;
use crate::error::Result;
use crate::i18n::Lang;
use crate::model::now_ms;

/// An agent keeps at most this many; past it the least recently asked go.
pub const MAX_PER_AGENT: i64 = 1_000;

/// A handed-off question to count (see `FinishedTurn::unanswered`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnansweredNote {
    pub folder: String,
    /// The question's words as the index reads them: two ways of typing one question share it.
    pub key: String,
    pub question: String,
    pub lang: Option<Lang>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnansweredRow {
    pub key: String,
    /// The latest wording.
    pub question: String,
    pub lang: Option<Lang>,
    pub asks: i64,
    /// The conversation it was last asked in.
    pub conversation: Option<String>,
    pub first_at: i64,
    pub last_at: i64,
}

/// Counts one more ask, in the finishing turn's transaction.
pub(super) fn note(conn: &Connection, note: &UnansweredNote, conversation: &str) -> Result<()> {
    let now = now_ms();
    conn.prepare_cached(
        "INSERT INTO unanswered(folder, key, question, lang, conversation, first_at, last_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
         ON CONFLICT (folder, key) DO UPDATE SET asks = asks + 1, question = excluded.question,
             lang = excluded.lang, conversation = excluded.conversation, last_at = excluded.last_at",
    )?
    .execute(params![
        note.folder,
        note.key,
        note.question,
        note.lang.map(Lang::code),
        conversation,
        now
    ])?;
    conn.prepare_cached(
        "DELETE FROM unanswered WHERE folder = ?1 AND key IN (
             SELECT key FROM unanswered WHERE folder = ?1
              ORDER BY last_at DESC LIMIT -1 OFFSET ?2)",
    )?
    .execute(params![note.folder, MAX_PER_AGENT])?;
    Ok(())
}

/// Forgets one question, inside a caller's transaction (learning it writes the entry too).
pub(super) fn forget(conn: &Connection, folder: &str, key: &str) -> Result<usize> {
    Ok(conn
        .prepare_cached("DELETE FROM unanswered WHERE folder = ?1 AND key = ?2")?
        .execute(params![folder, key])?)
}

impl Store {
    /// Which of `keys` is on the agent's list: the one last asked in `conversation` if any,
    /// else the most recently asked.
    pub fn unanswered_key(
        &self,
        folder: &str,
        keys: &[String],
        conversation: &str,
    ) -> Result<Option<String>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT conversation = ?3, last_at FROM unanswered WHERE folder = ?1 AND key = ?2",
            )?;
            let mut best: Option<((bool, i64), &String)> = None;
            for key in keys {
                let found = stmt
                    .query_row(params![folder, key, conversation], |r| {
                        Ok((r.get::<_, Option<bool>>(0)?.unwrap_or(false), r.get(1)?))
                    })
                    .optional()?;
                if let Some(rank) = found
                    && best.is_none_or(|(b, _)| rank > b)
                {
                    best = Some((rank, key));
                }
            }
            Ok(best.map(|(_, k)| k.clone()))
        })
    }

    /// The agent's unanswered questions, most asked first, then most recent.
    pub fn unanswered(&self, folder: &str, limit: usize) -> Result<Vec<UnansweredRow>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT key, question, lang, asks, conversation, first_at, last_at FROM unanswered
                  WHERE folder = ?1 ORDER BY asks DESC, last_at DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![folder, limit as i64], |r| {
                Ok(UnansweredRow {
                    key: r.get(0)?,
                    question: r.get(1)?,
                    lang: r
                        .get::<_, Option<String>>(2)?
                        .as_deref()
                        .and_then(Lang::from_tag),
                    asks: r.get(3)?,
                    conversation: r.get(4)?,
                    first_at: r.get(5)?,
                    last_at: r.get(6)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Forgets the questions under these keys (answered, or dismissed); unknown keys are no error.
    pub fn forget_unanswered(&self, folder: &str, keys: &[String]) -> Result<usize> {
        self.write(|tx| {
            let mut n = 0;
            for key in keys {
                n += forget(tx, folder, key)?;
            }
            Ok(n)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::temp_store;
    use super::*;

    fn store_with_folder() -> (tempfile::TempDir, Store) {
        let (dir, s) = temp_store();
        s.create_folder("acme", "Acme", "Hi!", "").expect("create");
        (dir, s)
    }

    fn ask(s: &Store, key: &str, question: &str, conversation: &str) {
        let n = UnansweredNote {
            folder: "acme".into(),
            key: key.into(),
            question: question.into(),
            lang: Some(Lang::En),
        };
        s.write(|tx| note(tx, &n, conversation)).expect("note");
    }

    #[test]
    fn counts_asks_by_key_most_asked_first_and_forgets() {
        let (_dir, s) = store_with_folder();
        ask(&s, "flower", "Do you sell flowers?", "c1");
        ask(&s, "vegan", "anything vegan?", "c2");
        ask(&s, "vegan", "Vegan stuff??", "c3");
        let rows = s.unanswered("acme", 10).expect("list");
        assert_eq!(
            rows.iter()
                .map(|r| (r.key.as_str(), r.asks, r.question.as_str()))
                .collect::<Vec<_>>(),
            [
                ("vegan", 2, "Vegan stuff??"),
                ("flower", 1, "Do you sell flowers?")
            ]
        );
        assert_eq!(rows[0].conversation.as_deref(), Some("c3"));
        assert_eq!(rows[0].lang, Some(Lang::En));
        assert_eq!(
            s.forget_unanswered("acme", &["vegan".into(), "nope".into()])
                .expect("forget"),
            1
        );
        assert_eq!(s.unanswered("acme", 10).expect("list").len(), 1);
        assert!(s.unanswered("elsewhere", 10).expect("list").is_empty());
    }

    #[test]
    fn finds_a_key_this_conversations_first() {
        let (_dir, s) = store_with_folder();
        ask(&s, "vegan", "vegan?", "c1");
        ask(&s, "vegan en", "vegan?", "c2");
        // Asked later, even within the same millisecond.
        s.write(|tx| {
            tx.execute(
                "UPDATE unanswered SET last_at = last_at + 1000 WHERE key = 'vegan en'",
                [],
            )?;
            Ok(())
        })
        .expect("later");
        let keys = ["nope".to_owned(), "vegan".to_owned(), "vegan en".to_owned()];
        let found = |c| s.unanswered_key("acme", &keys, c).expect("find");
        assert_eq!(found("c1").as_deref(), Some("vegan"));
        assert_eq!(found("c2").as_deref(), Some("vegan en"));
        assert_eq!(found("c9").as_deref(), Some("vegan en"), "else the latest");
        assert_eq!(
            s.unanswered_key("acme", &keys[..1], "c1").expect("find"),
            None
        );
    }

    #[test]
    fn learning_writes_the_entry_and_forgets_the_question_together() {
        let (_dir, s) = store_with_folder();
        ask(&s, "vegan", "vegan?", "c1");
        ask(&s, "flower", "flowers?", "c1");
        let rev = s.folder("acme").expect("folder").knowledge_rev;
        let entry = s
            .learn_entry("acme", "Vegan?", "Yes.", Some(Lang::De), Some("vegan"))
            .expect("learn");
        assert_eq!(entry.question.as_deref(), Some("Vegan?"));
        assert_eq!(
            entry.lang,
            Some(Lang::De),
            "the language goes in with the entry"
        );
        assert!(s.folder("acme").expect("folder").knowledge_rev > rev);
        let keys = |s: &Store| {
            s.unanswered("acme", 10)
                .expect("list")
                .into_iter()
                .map(|r| r.key)
                .collect::<Vec<_>>()
        };
        assert_eq!(keys(&s), ["flower"]);

        // A phrasing of an entry that is not there: nothing is forgotten either.
        let err = s
            .learn_phrasing(
                "acme",
                entry.id + 1,
                Some(&["flowers?".into()]),
                Some("flower"),
            )
            .expect_err("no such entry");
        assert_eq!(err.code(), "not_found");
        assert_eq!(keys(&s), ["flower"]);
        let err = s
            .learn_entry("nobody", "Q?", "A.", None, Some("flower"))
            .expect_err("no such agent");
        assert_eq!(err.code(), "not_found");
        assert_eq!(keys(&s), ["flower"]);

        let grown = s
            .learn_phrasing("acme", entry.id, Some(&["flowers?".into()]), Some("flower"))
            .expect("a phrasing");
        assert_eq!(grown.phrasings, ["flowers?"]);
        assert!(keys(&s).is_empty());
        let same = s
            .learn_phrasing("acme", entry.id, None, None)
            .expect("unchanged");
        assert_eq!(same, grown);
    }

    #[test]
    fn keeps_at_most_the_cap_per_agent() {
        let (_dir, s) = store_with_folder();
        s.write(|tx| {
            for i in 0..MAX_PER_AGENT + 5 {
                let n = UnansweredNote {
                    folder: "acme".into(),
                    key: format!("k{i}"),
                    question: format!("q{i}"),
                    lang: None,
                };
                note(tx, &n, "c")?;
            }
            Ok(())
        })
        .expect("notes");
        let rows = s.unanswered("acme", 5_000).expect("list");
        assert_eq!(rows.len() as i64, MAX_PER_AGENT);
    }
}
