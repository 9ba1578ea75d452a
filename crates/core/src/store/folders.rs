//! Folders (one agent's home), their knowledge entries and per-JID route rules.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::Store;
use crate::error::{Error, Result};
use crate::jid::Jid;
use crate::model::{Knowledge, now_ms};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineRow {
    Answers,
    OpenAi { base_url: String, model: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderRow {
    pub slug: String,
    pub name: String,
    pub greeting: String,
    pub instructions: String,
    pub engine: EngineRow,
    pub created_at: i64,
    pub updated_at: i64,
    pub knowledge_count: i64,
    pub ceilings: Ceilings,
    /// The language of visitors whose browser asks for none a catalog ships for (its look's).
    pub language: Option<crate::i18n::Lang>,
    /// Moves with every change to the knowledge (see the `knowledge_rev` column).
    pub knowledge_rev: i64,
    /// The embeddings server its knowledge is embedded with, if any (semantic matching).
    pub embeddings: Option<EmbeddingsRow>,
}

/// An OpenAI-compatible embeddings endpoint and model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddingsRow {
    pub base_url: String,
    pub model: String,
}

/// An agent's own ceilings on its provider's use; `None` takes the server's default limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ceilings {
    pub max_tokens: Option<u32>,
    pub daily_requests: Option<u32>,
    pub daily_tokens: Option<i64>,
}

/// Fields to change; `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct FolderUpdate {
    pub name: Option<String>,
    pub greeting: Option<String>,
    pub instructions: Option<String>,
    pub engine: Option<EngineRow>,
    /// Each `Some(0)` goes back to the default; `None` keeps the stored value.
    pub max_tokens: Option<u32>,
    pub daily_requests: Option<u32>,
    pub daily_tokens: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRule {
    pub jid: Jid,
    pub folder: String,
    pub persona: Option<String>,
    pub greeting: Option<String>,
}

const FOLDER_COLUMNS: &str = "slug, name, greeting, instructions, engine, openai_base_url, openai_model, \
     created_at, updated_at, (SELECT count(*) FROM knowledge k WHERE k.folder = folders.slug), \
     max_tokens, daily_requests, daily_tokens, json_extract(look, '$.language'), knowledge_rev, \
     embed_url, embed_model";

fn folder_from_row(r: &Row<'_>) -> rusqlite::Result<FolderRow> {
    let engine: String = r.get(4)?;
    let engine = match engine.as_str() {
        "openai" => EngineRow::OpenAi {
            base_url: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
            model: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
        },
        _ => EngineRow::Answers,
    };
    Ok(FolderRow {
        slug: r.get(0)?,
        name: r.get(1)?,
        greeting: r.get(2)?,
        instructions: r.get(3)?,
        engine,
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
        knowledge_count: r.get(9)?,
        ceilings: Ceilings {
            max_tokens: r.get(10)?,
            daily_requests: r.get(11)?,
            daily_tokens: r.get(12)?,
        },
        language: r
            .get::<_, Option<String>>(13)?
            .as_deref()
            .and_then(crate::i18n::Lang::from_tag),
        knowledge_rev: r.get(14)?,
        embeddings: match (r.get(15)?, r.get(16)?) {
            (Some(base_url), Some(model)) => Some(EmbeddingsRow { base_url, model }),
            _ => None,
        },
    })
}

fn usage(conn: &Connection, folder: &str, day: &str) -> Result<(i64, i64)> {
    Ok(conn
        .query_row(
            "SELECT requests, tokens FROM usage WHERE folder = ?1 AND day = ?2",
            params![folder, day],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .unwrap_or((0, 0)))
}

pub fn get(conn: &Connection, slug: &str) -> Result<Option<FolderRow>> {
    let sql = format!("SELECT {FOLDER_COLUMNS} FROM folders WHERE slug = ?1");
    Ok(conn.query_row(&sql, [slug], folder_from_row).optional()?)
}

pub fn require(conn: &Connection, slug: &str) -> Result<FolderRow> {
    get(conn, slug)?.ok_or(Error::NotFound { what: "agent" })
}

pub fn knowledge(conn: &Connection, slug: &str) -> Result<Vec<Knowledge>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, question, answer, phrasings, lang FROM knowledge WHERE folder = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([slug], knowledge_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn knowledge_from_row(r: &Row<'_>) -> rusqlite::Result<Knowledge> {
    let phrasings: String = r.get(3)?;
    Ok(Knowledge {
        id: r.get(0)?,
        question: r.get(1)?,
        answer: r.get(2)?,
        // Written only by `set_knowledge_phrasings`; a damaged value reads as none.
        phrasings: serde_json::from_str(&phrasings).unwrap_or_default(),
        lang: r
            .get::<_, Option<String>>(4)?
            .as_deref()
            .and_then(crate::i18n::Lang::from_tag),
    })
}

fn knowledge_entry(conn: &Connection, slug: &str, id: i64) -> Result<Knowledge> {
    conn.query_row(
        "SELECT id, question, answer, phrasings, lang FROM knowledge WHERE folder = ?1 AND id = ?2",
        params![slug, id],
        knowledge_from_row,
    )
    .optional()?
    .ok_or(Error::NotFound {
        what: "knowledge entry",
    })
}

/// Runs one `UPDATE knowledge … WHERE folder = ?1 AND id = ?2` and returns the entry as it is now.
fn change_entry(
    conn: &Connection,
    slug: &str,
    id: i64,
    sql: &str,
    values: &[&dyn rusqlite::ToSql],
) -> Result<Knowledge> {
    let mut all: Vec<&dyn rusqlite::ToSql> = vec![&slug, &id];
    all.extend_from_slice(values);
    if conn.execute(sql, all.as_slice())? == 0 {
        return Err(Error::NotFound {
            what: "knowledge entry",
        });
    }
    knowledge_changed(conn, slug)?;
    knowledge_entry(conn, slug, id)
}

/// Every change to an agent's knowledge moves its revision, so built indexes are rebuilt.
fn knowledge_changed(conn: &Connection, slug: &str) -> Result<()> {
    conn.execute(
        "UPDATE folders SET knowledge_rev = knowledge_rev + 1, updated_at = ?2 WHERE slug = ?1",
        params![slug, now_ms()],
    )?;
    Ok(())
}

pub fn route_rule(conn: &Connection, jid: &Jid) -> Result<Option<RouteRule>> {
    Ok(conn
        .query_row(
            "SELECT jid, folder, persona, greeting FROM route_rules WHERE jid = ?1",
            [jid],
            |r| {
                Ok(RouteRule {
                    jid: r.get(0)?,
                    folder: r.get(1)?,
                    persona: r.get(2)?,
                    greeting: r.get(3)?,
                })
            },
        )
        .optional()?)
}

fn engine_columns(engine: &EngineRow) -> (&'static str, Option<&str>, Option<&str>) {
    match engine {
        EngineRow::Answers => ("answers", None, None),
        EngineRow::OpenAi { base_url, model } => ("openai", Some(base_url), Some(model)),
    }
}

impl Store {
    pub fn create_folder(
        &self,
        slug: &str,
        name: &str,
        greeting: &str,
        instructions: &str,
    ) -> Result<FolderRow> {
        self.write(|tx| {
            if get(tx, slug)?.is_some() {
                return Err(Error::Conflict(format!(
                    "an agent named `{slug}` already exists"
                )));
            }
            let now = now_ms();
            tx.execute(
                "INSERT INTO folders(slug, name, greeting, instructions, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![slug, name, greeting, instructions, now],
            )?;
            require(tx, slug)
        })
    }

    pub fn folder(&self, slug: &str) -> Result<FolderRow> {
        self.read(|c| require(c, slug))
    }

    pub fn folders(&self) -> Result<Vec<FolderRow>> {
        self.read(|c| {
            let sql = format!("SELECT {FOLDER_COLUMNS} FROM folders ORDER BY slug");
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map([], folder_from_row)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    pub fn update_folder(&self, slug: &str, update: &FolderUpdate) -> Result<FolderRow> {
        self.write(|tx| {
            let cur = require(tx, slug)?;
            let engine = update.engine.as_ref().unwrap_or(&cur.engine);
            let (engine, base_url, model) = engine_columns(engine);
            let ceiling = |new: Option<i64>, cur: Option<i64>| match new {
                None => cur,
                Some(0) => None,
                Some(n) => Some(n),
            };
            let c = cur.ceilings;
            tx.execute(
                "UPDATE folders SET max_tokens = ?2, daily_requests = ?3, daily_tokens = ?4
                 WHERE slug = ?1",
                params![
                    slug,
                    ceiling(
                        update.max_tokens.map(i64::from),
                        c.max_tokens.map(i64::from)
                    ),
                    ceiling(
                        update.daily_requests.map(i64::from),
                        c.daily_requests.map(i64::from)
                    ),
                    ceiling(update.daily_tokens, c.daily_tokens)
                ],
            )?;
            tx.execute(
                "UPDATE folders SET name = ?2, greeting = ?3, instructions = ?4, engine = ?5,
                        openai_base_url = ?6, openai_model = ?7, updated_at = ?8
                 WHERE slug = ?1",
                params![
                    slug,
                    update.name.as_deref().unwrap_or(&cur.name),
                    update.greeting.as_deref().unwrap_or(&cur.greeting),
                    update.instructions.as_deref().unwrap_or(&cur.instructions),
                    engine,
                    base_url,
                    model,
                    now_ms()
                ],
            )?;
            require(tx, slug)
        })
    }

    /// Moves `slug`'s knowledge revision without changing the knowledge, so every process
    /// builds its index again (a key it reads when building changed).
    pub fn touch_knowledge(&self, slug: &str) -> Result<FolderRow> {
        self.write(|tx| {
            require(tx, slug)?;
            knowledge_changed(tx, slug)?;
            require(tx, slug)
        })
    }

    /// Sets (or with `None`, clears) the embeddings server of `slug`'s knowledge. The knowledge's
    /// revision moves, so built indexes are rebuilt with the new server's vectors.
    pub fn set_embeddings(&self, slug: &str, to: Option<&EmbeddingsRow>) -> Result<FolderRow> {
        self.write(|tx| {
            require(tx, slug)?;
            tx.execute(
                "UPDATE folders SET embed_url = ?2, embed_model = ?3 WHERE slug = ?1",
                params![
                    slug,
                    to.map(|e| e.base_url.as_str()),
                    to.map(|e| e.model.as_str())
                ],
            )?;
            knowledge_changed(tx, slug)?;
            require(tx, slug)
        })
    }

    /// Counts one provider request for `folder` on `day` unless its ceilings for that day are
    /// reached; `false` means spent (nothing is counted).
    pub fn spend_request(
        &self,
        folder: &str,
        day: &str,
        max_requests: i64,
        max_tokens: i64,
    ) -> Result<bool> {
        self.write(|tx| {
            let (requests, tokens) = usage(tx, folder, day)?;
            if requests >= max_requests || tokens >= max_tokens {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO usage(folder, day, requests) VALUES (?1, ?2, 1)
                 ON CONFLICT(folder, day) DO UPDATE SET requests = requests + 1",
                params![folder, day],
            )?;
            Ok(true)
        })
    }

    /// Adds the tokens a finished provider turn used.
    pub fn add_usage_tokens(&self, folder: &str, day: &str, tokens: i64) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO usage(folder, day, tokens) VALUES (?1, ?2, ?3)
                 ON CONFLICT(folder, day) DO UPDATE SET tokens = tokens + excluded.tokens",
                params![folder, day, tokens],
            )?;
            Ok(())
        })
    }

    /// Requests and tokens `folder` used on `day`.
    pub fn usage(&self, folder: &str, day: &str) -> Result<(i64, i64)> {
        self.read(|c| usage(c, folder, day))
    }

    pub fn knowledge(&self, slug: &str) -> Result<Vec<Knowledge>> {
        self.read(|c| {
            require(c, slug)?;
            knowledge(c, slug)
        })
    }

    /// Adds entries in one transaction: an import either lands whole or not at all.
    pub fn add_knowledge(
        &self,
        slug: &str,
        entries: &[(Option<String>, String)],
    ) -> Result<Vec<Knowledge>> {
        self.write(|tx| {
            require(tx, slug)?;
            let now = now_ms();
            let mut out = Vec::with_capacity(entries.len());
            let mut stmt = tx.prepare_cached(
                "INSERT INTO knowledge(folder, question, answer, created_at) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (question, answer) in entries {
                stmt.execute(params![slug, question, answer, now])?;
                out.push(Knowledge {
                    id: tx.last_insert_rowid(),
                    question: question.clone(),
                    answer: answer.clone(),
                    ..Knowledge::default()
                });
            }
            knowledge_changed(tx, slug)?;
            Ok(out)
        })
    }

    /// Changes all of an entry at once (already checked by the caller), so a bad field leaves
    /// none of it changed.
    pub fn edit_knowledge(
        &self,
        slug: &str,
        id: i64,
        question: Option<&str>,
        answer: &str,
        phrasings: &[String],
        lang: Option<crate::i18n::Lang>,
    ) -> Result<Knowledge> {
        let json = serde_json::to_string(phrasings)
            .map_err(|e| Error::Internal(format!("phrasings as JSON: {e}")))?;
        let code = lang.map(|l| l.code());
        self.write(|tx| {
            change_entry(
                tx,
                slug,
                id,
                "UPDATE knowledge SET question = ?3, answer = ?4, phrasings = ?5, lang = ?6 \
                 WHERE folder = ?1 AND id = ?2",
                &[&question, &answer, &json, &code],
            )
        })
    }

    /// Replaces an entry's other phrasings (already checked by the caller).
    pub fn set_knowledge_phrasings(
        &self,
        slug: &str,
        id: i64,
        phrasings: &[String],
    ) -> Result<Knowledge> {
        let json = serde_json::to_string(phrasings)
            .map_err(|e| Error::Internal(format!("phrasings as JSON: {e}")))?;
        self.write(|tx| {
            change_entry(
                tx,
                slug,
                id,
                "UPDATE knowledge SET phrasings = ?3 WHERE folder = ?1 AND id = ?2",
                &[&json],
            )
        })
    }

    /// Sets the language an entry is written in; `None`: read from its text.
    pub fn set_knowledge_lang(
        &self,
        slug: &str,
        id: i64,
        lang: Option<crate::i18n::Lang>,
    ) -> Result<Knowledge> {
        let code = lang.map(|l| l.code());
        self.write(|tx| {
            change_entry(
                tx,
                slug,
                id,
                "UPDATE knowledge SET lang = ?3 WHERE folder = ?1 AND id = ?2",
                &[&code],
            )
        })
    }

    /// Adds an entry learned from a visitor's question (already checked by the caller) and takes
    /// the unanswered question `forget` off the list, in one transaction: a failure leaves the
    /// question on the list and no entry behind.
    pub fn learn_entry(
        &self,
        slug: &str,
        question: &str,
        answer: &str,
        lang: Option<crate::i18n::Lang>,
        forget: Option<&str>,
    ) -> Result<Knowledge> {
        let code = lang.map(|l| l.code());
        self.write(|tx| {
            require(tx, slug)?;
            tx.execute(
                "INSERT INTO knowledge(folder, question, answer, lang, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![slug, question, answer, code, now_ms()],
            )?;
            let id = tx.last_insert_rowid();
            knowledge_changed(tx, slug)?;
            if let Some(key) = forget {
                super::unanswered::forget(tx, slug, key)?;
            }
            knowledge_entry(tx, slug, id)
        })
    }

    /// Sets an entry's phrasings to `phrasings` (already checked by the caller; `None`: they
    /// stay) and takes the unanswered question `forget` off the list, in one transaction.
    pub fn learn_phrasing(
        &self,
        slug: &str,
        id: i64,
        phrasings: Option<&[String]>,
        forget: Option<&str>,
    ) -> Result<Knowledge> {
        let json = phrasings
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| Error::Internal(format!("phrasings as JSON: {e}")))?;
        self.write(|tx| {
            let entry = match &json {
                Some(json) => change_entry(
                    tx,
                    slug,
                    id,
                    "UPDATE knowledge SET phrasings = ?3 WHERE folder = ?1 AND id = ?2",
                    &[json],
                )?,
                None => knowledge_entry(tx, slug, id)?,
            };
            if let Some(key) = forget {
                super::unanswered::forget(tx, slug, key)?;
            }
            Ok(entry)
        })
    }

    pub fn knowledge_entry(&self, slug: &str, id: i64) -> Result<Knowledge> {
        self.read(|c| knowledge_entry(c, slug, id))
    }

    pub fn remove_knowledge(&self, slug: &str, id: i64) -> Result<()> {
        self.write(|tx| {
            let n = tx.execute(
                "DELETE FROM knowledge WHERE folder = ?1 AND id = ?2",
                params![slug, id],
            )?;
            if n == 0 {
                return Err(Error::NotFound {
                    what: "knowledge entry",
                });
            }
            knowledge_changed(tx, slug)
        })
    }

    pub fn set_route_rule(&self, rule: &RouteRule) -> Result<()> {
        self.write(|tx| {
            require(tx, &rule.folder)?;
            if rule.persona.is_none() && rule.greeting.is_none() {
                tx.execute("DELETE FROM route_rules WHERE jid = ?1", [&rule.jid])?;
            } else {
                tx.execute(
                    "INSERT INTO route_rules(jid, folder, persona, greeting) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(jid) DO UPDATE SET persona = excluded.persona, greeting = excluded.greeting",
                    params![rule.jid, rule.folder, rule.persona, rule.greeting],
                )?;
            }
            Ok(())
        })
    }

    pub fn route_rule(&self, jid: &Jid) -> Result<Option<RouteRule>> {
        self.read(|c| route_rule(c, jid))
    }

    pub fn route_rules(&self, slug: &str) -> Result<Vec<RouteRule>> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT jid, folder, persona, greeting FROM route_rules WHERE folder = ?1 ORDER BY jid",
            )?;
            let rows = stmt.query_map([slug], |r| {
                Ok(RouteRule { jid: r.get(0)?, folder: r.get(1)?, persona: r.get(2)?, greeting: r.get(3)? })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::temp_store;
    use super::*;

    #[test]
    fn folder_lifecycle_knowledge_and_rules() {
        let (_d, s) = temp_store();
        s.create_folder("acme", "Acme", "Hi!", "Be kind.")
            .expect("create");
        assert_eq!(
            s.create_folder("acme", "A", "", "")
                .expect_err("dup")
                .code(),
            "conflict"
        );
        let added = s
            .add_knowledge(
                "acme",
                &[
                    (Some("Hours?".into()), "9 to 5".into()),
                    (None, "We sell bread.".into()),
                ],
            )
            .expect("add");
        assert_eq!(added.len(), 2);
        assert_eq!(s.folder("acme").expect("get").knowledge_count, 2);
        s.edit_knowledge("acme", added[0].id, Some("When open?"), "9 to 6", &[], None)
            .expect("edit");
        s.remove_knowledge("acme", added[1].id).expect("remove");
        assert_eq!(
            s.remove_knowledge("acme", added[1].id)
                .expect_err("gone")
                .code(),
            "not_found"
        );
        let k = s.knowledge("acme").expect("list");
        assert_eq!(
            k,
            vec![Knowledge {
                id: added[0].id,
                question: Some("When open?".into()),
                answer: "9 to 6".into(),
                ..Knowledge::default()
            }]
        );

        let f = s
            .update_folder(
                "acme",
                &FolderUpdate {
                    engine: Some(EngineRow::OpenAi {
                        base_url: "http://x/v1".into(),
                        model: "m".into(),
                    }),
                    ..Default::default()
                },
            )
            .expect("update");
        assert_eq!(f.name, "Acme");
        assert_eq!(
            f.engine,
            EngineRow::OpenAi {
                base_url: "http://x/v1".into(),
                model: "m".into()
            }
        );

        let rule = RouteRule {
            jid: "web:acme/sales".parse().expect("jid"),
            folder: "acme".into(),
            persona: Some("Sell.".into()),
            greeting: None,
        };
        s.set_route_rule(&rule).expect("rule");
        assert_eq!(
            s.read(|c| route_rule(c, &rule.jid)).expect("read"),
            Some(rule)
        );
        assert_eq!(
            s.add_knowledge("nope", &[(None, "x".into())])
                .expect_err("missing")
                .code(),
            "not_found"
        );
    }
}
