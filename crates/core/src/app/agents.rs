//! Owner calls on agents (folders): create, edit, engine and API key, knowledge, route rules.

use serde::Serialize;

use super::{App, Inner};
use crate::error::{Error, Result};
use crate::jid::{Jid, check_name};
use crate::knowledge::{self, Format};
use crate::model::{Knowledge, Outcome, TurnStatus, rfc3339};
use crate::secret::Sensitive;
use crate::store::{Ceilings, EngineRow, FolderRow, FolderUpdate, RouteRule};

pub const MAX_NAME_CHARS: usize = 80;
pub const MAX_GREETING_CHARS: usize = 500;
pub const MAX_INSTRUCTIONS_CHARS: usize = 8000;

#[derive(Debug, Clone, Default)]
pub struct NewAgent {
    pub slug: String,
    pub name: String,
    pub greeting: String,
    pub instructions: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineSetting {
    Answers,
    OpenAi { base_url: String, model: String },
}

/// Fields to change; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct AgentUpdate {
    pub name: Option<String>,
    pub greeting: Option<String>,
    pub instructions: Option<String>,
    pub engine: Option<EngineSetting>,
    /// The provider's `max_tokens` per reply; `Some(0)` goes back to the server's default.
    pub max_tokens: Option<u32>,
    /// Provider requests a day before built-in answers take over; `Some(0)`: the default.
    pub daily_requests: Option<u32>,
    /// Provider tokens a day (characters when it reports none); `Some(0)`: the default.
    pub daily_tokens: Option<u64>,
}

/// An agent's ceilings on its provider (its own or the server's defaults) and what it spent
/// today (UTC). Past either daily ceiling, visitors get built-in answers until tomorrow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AgentBudget {
    pub max_tokens: u32,
    pub daily_requests: u32,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub daily_tokens: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub today_requests: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub today_tokens: u64,
    /// Today's ceiling is reached.
    pub spent: bool,
}

impl AgentBudget {
    pub(super) fn of(
        ceilings: &Ceilings,
        limits: &super::Limits,
        today: (i64, i64),
    ) -> AgentBudget {
        let max_tokens = ceilings.max_tokens.unwrap_or(limits.default_max_tokens);
        let daily_requests = ceilings
            .daily_requests
            .unwrap_or(limits.default_daily_requests);
        let daily_tokens = ceilings
            .daily_tokens
            .and_then(|t| u64::try_from(t).ok())
            .unwrap_or(limits.default_daily_tokens);
        let today = (
            u64::try_from(today.0).unwrap_or(0),
            u64::try_from(today.1).unwrap_or(0),
        );
        AgentBudget {
            max_tokens,
            daily_requests,
            daily_tokens,
            today_requests: today.0,
            today_tokens: today.1,
            spent: today.0 >= u64::from(daily_requests) || today.1 >= daily_tokens,
        }
    }
}

const MAX_REPLY_TOKENS: u64 = 1_000_000;
const MAX_DAILY_REQUESTS: u64 = 1_000_000_000;
const MAX_DAILY_TOKENS: u64 = 1_000_000_000_000;

/// Budgets are counted per UTC day: the same day for every process on the data folder.
pub(super) fn usage_day(now: i64) -> String {
    rfc3339(now).chars().take(10).collect()
}

/// The engine as the owner sees it: the API key only as set / not set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum EngineInfo {
    Answers,
    Openai {
        base_url: String,
        model: String,
        api_key_set: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AgentInfo {
    pub slug: String,
    pub name: String,
    pub greeting: String,
    pub instructions: String,
    pub engine: EngineInfo,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub knowledge_count: i64,
    pub created_at: String,
    pub updated_at: String,
    pub budget: AgentBudget,
    /// Semantic matching, when the owner set an embeddings server.
    pub embeddings: Option<super::EmbeddingsInfo>,
}

/// What an agent answered to the owner's test question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TestAnswer {
    pub text: String,
    /// `ok`, `handoff` (the agent would pass the visitor to a person) or `error`; never
    /// `running`.
    #[cfg_attr(feature = "ts", ts(type = "\"ok\" | \"handoff\" | \"error\""))]
    pub outcome: TurnStatus,
    /// The questions a visitor would be offered to tap (the agent was unsure which was meant).
    pub choices: Vec<String>,
}

/// A suffix's persona and greeting, instead of the agent's; `None` keeps the agent's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RouteRuleInfo {
    pub jid: String,
    pub persona: Option<String>,
    pub greeting: Option<String>,
}

pub(super) fn text(what: &str, value: &str, min: usize, max: usize) -> Result<String> {
    let value = value.trim();
    let n = value.chars().count();
    if n < min || n > max {
        return Err(Error::invalid(if min > 0 {
            format!("the {what} must be {min} to {max} characters")
        } else {
            format!("the {what} must be at most {max} characters")
        }));
    }
    Ok(value.to_owned())
}

/// A provider's (or embeddings server's: `what`) base URL as stored: http(s), no
/// credentials, no trailing slash.
pub(super) fn provider_url(what: &str, base_url: &str) -> Result<String> {
    let url = reqwest::Url::parse(base_url.trim())
        .map_err(|e| Error::invalid(format!("the {what} URL {base_url:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::invalid(format!(
            "the {what} URL must start with http:// or https://"
        )));
    }
    // A password in the URL would be stored in the database and logged; keys belong in the
    // secret store (`--api-key`).
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::invalid(format!(
            "the {what} URL must not carry a user name or password; set the API key instead"
        )));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// An API key as kept: one trimmed line of at most 4096 characters.
pub(super) fn secret_line(key: &Sensitive<String>) -> Result<Sensitive<String>> {
    let k = key.expose();
    if k.trim().is_empty() || k.len() > 4096 || k.chars().any(char::is_control) {
        return Err(Error::invalid(
            "the API key must be one line of at most 4096 characters",
        ));
    }
    Ok(Sensitive::new(k.trim().to_owned()))
}

fn engine_row(setting: &EngineSetting) -> Result<EngineRow> {
    Ok(match setting {
        EngineSetting::Answers => EngineRow::Answers,
        EngineSetting::OpenAi { base_url, model } => EngineRow::OpenAi {
            base_url: provider_url("provider", base_url)?,
            model: text("model name", model, 1, 200)?,
        },
    })
}

impl Inner {
    pub(super) fn api_key_name(&self, slug: &str) -> String {
        format!("{}/agent/{slug}/api-key", self.namespace)
    }

    pub(super) fn agent_info(&self, row: FolderRow) -> Result<AgentInfo> {
        let embeddings = self.embeddings_info(&row)?;
        let engine = match row.engine {
            EngineRow::Answers => EngineInfo::Answers,
            EngineRow::OpenAi { base_url, model } => EngineInfo::Openai {
                base_url,
                model,
                api_key_set: self.secrets.get(&self.api_key_name(&row.slug))?.is_some(),
            },
        };
        let today = self
            .store
            .usage(&row.slug, &usage_day(crate::model::now_ms()))?;
        let budget = AgentBudget::of(&row.ceilings, &self.limits, today);
        Ok(AgentInfo {
            budget,
            embeddings,
            slug: row.slug,
            name: row.name,
            greeting: row.greeting,
            instructions: row.instructions,
            engine,
            knowledge_count: row.knowledge_count,
            created_at: rfc3339(row.created_at),
            updated_at: rfc3339(row.updated_at),
        })
    }
}

impl App {
    pub async fn create_agent(&self, new: NewAgent) -> Result<AgentInfo> {
        check_name("agent slug", &new.slug)?;
        let name = text("name", &new.name, 1, MAX_NAME_CHARS)?;
        let greeting = text("greeting", &new.greeting, 0, MAX_GREETING_CHARS)?;
        let instructions = text("instructions", &new.instructions, 0, MAX_INSTRUCTIONS_CHARS)?;
        self.blocking(move |i| {
            let row = i
                .store
                .create_folder(&new.slug, &name, &greeting, &instructions)?;
            i.agent_info(row)
        })
        .await
    }

    pub async fn agents(&self) -> Result<Vec<AgentInfo>> {
        self.blocking(|i| {
            i.store
                .folders()?
                .into_iter()
                .map(|r| i.agent_info(r))
                .collect()
        })
        .await
    }

    pub async fn agent(&self, slug: &str) -> Result<AgentInfo> {
        let slug = slug.to_owned();
        self.blocking(move |i| i.agent_info(i.store.folder(&slug)?))
            .await
    }

    pub async fn update_agent(&self, slug: &str, update: AgentUpdate) -> Result<AgentInfo> {
        let slug = slug.to_owned();
        for (what, value, max) in [
            (
                "max tokens",
                update.max_tokens.map(u64::from),
                MAX_REPLY_TOKENS,
            ),
            (
                "daily requests",
                update.daily_requests.map(u64::from),
                MAX_DAILY_REQUESTS,
            ),
            ("daily tokens", update.daily_tokens, MAX_DAILY_TOKENS),
        ] {
            if value.is_some_and(|v| v > max) {
                return Err(Error::invalid(format!(
                    "the {what} must be at most {max} (0 goes back to the server's default)"
                )));
            }
        }
        let update = FolderUpdate {
            name: update
                .name
                .as_deref()
                .map(|n| text("name", n, 1, MAX_NAME_CHARS))
                .transpose()?,
            greeting: update
                .greeting
                .as_deref()
                .map(|g| text("greeting", g, 0, MAX_GREETING_CHARS))
                .transpose()?,
            instructions: update
                .instructions
                .as_deref()
                .map(|s| text("instructions", s, 0, MAX_INSTRUCTIONS_CHARS))
                .transpose()?,
            engine: update.engine.as_ref().map(engine_row).transpose()?,
            max_tokens: update.max_tokens,
            daily_requests: update.daily_requests,
            daily_tokens: update
                .daily_tokens
                .map(|t| i64::try_from(t).unwrap_or(i64::MAX)),
        };
        self.blocking(move |i| i.agent_info(i.store.update_folder(&slug, &update)?))
            .await
    }

    /// Keeps (or with `None`, forgets) the agent's provider API key in the secret store.
    pub async fn set_api_key(
        &self,
        slug: &str,
        key: Option<Sensitive<String>>,
    ) -> Result<AgentInfo> {
        let key = key.map(|k| secret_line(&k)).transpose()?;
        let slug = slug.to_owned();
        self.blocking(move |i| {
            let row = i.store.folder(&slug)?;
            let name = i.api_key_name(&slug);
            match key {
                Some(k) => i.secrets.set(&name, &k)?,
                None => i.secrets.delete(&name)?,
            }
            i.agent_info(row)
        })
        .await
    }

    pub async fn knowledge(&self, slug: &str) -> Result<Vec<Knowledge>> {
        let slug = slug.to_owned();
        self.blocking(move |i| i.store.knowledge(&slug)).await
    }

    /// Adds one entry; a `None` or empty question makes free text.
    pub async fn add_knowledge(
        &self,
        slug: &str,
        question: Option<String>,
        answer: String,
    ) -> Result<Knowledge> {
        let entry = knowledge::entry(question.as_deref(), &answer)?;
        let slug = slug.to_owned();
        let mut added = self
            .blocking(move |i| i.store.add_knowledge(&slug, &[entry]))
            .await?;
        added
            .pop()
            .ok_or_else(|| Error::Internal("an added entry went missing".into()))
    }

    pub async fn remove_knowledge(&self, slug: &str, id: i64) -> Result<()> {
        let slug = slug.to_owned();
        self.blocking(move |i| i.store.remove_knowledge(&slug, id))
            .await
    }

    /// Imports a `.md` or `.csv` file from disk (the format follows the name), all or none.
    pub async fn import_knowledge_file(
        &self,
        slug: &str,
        path: &std::path::Path,
    ) -> Result<Vec<Knowledge>> {
        let name = path.to_string_lossy().into_owned();
        let format = knowledge::Format::from_file_name(&name)?;
        let text = tokio::fs::read_to_string(path)
            .await
            .map_err(|e| Error::io(format!("cannot read {name}"), e))?;
        self.import_knowledge(slug, &text, format).await
    }

    /// Imports a Markdown or CSV file's entries, all or none.
    pub async fn import_knowledge(
        &self,
        slug: &str,
        text: &str,
        format: Format,
    ) -> Result<Vec<Knowledge>> {
        let entries = knowledge::parse(text, format)?;
        let slug = slug.to_owned();
        self.blocking(move |i| i.store.add_knowledge(&slug, &entries))
            .await
    }

    /// Sets what a JID's visitors get instead of the agent's persona and greeting; both `None`
    /// removes the rule.
    pub async fn set_route_rule(
        &self,
        jid: &str,
        persona: Option<String>,
        greeting: Option<String>,
    ) -> Result<()> {
        let jid: Jid = jid.parse()?;
        let persona = persona
            .as_deref()
            .map(|p| text("persona", p, 1, MAX_INSTRUCTIONS_CHARS))
            .transpose()?;
        let greeting = greeting
            .as_deref()
            .map(|g| text("greeting", g, 1, MAX_GREETING_CHARS))
            .transpose()?;
        let rule = RouteRule {
            folder: jid.folder().to_owned(),
            jid,
            persona,
            greeting,
        };
        self.blocking(move |i| i.store.set_route_rule(&rule)).await
    }

    /// Asks the agent `question` as a visitor of `web:<slug>[/<suffix>]` would (the suffix's
    /// route rule applies) and returns the whole answer. Nothing is written: no conversation,
    /// no counts.
    pub async fn ask_agent(
        &self,
        slug: &str,
        suffix: Option<String>,
        question: &str,
    ) -> Result<TestAnswer> {
        super::chat::check_message(question, self.0.limits.message_chars)?;
        let suffix = suffix.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let jid = Jid::web(slug, suffix)?;
        let slug = slug.to_owned();
        let (folder, persona, greeting, agent, knowledge) = self
            .blocking(move |i| {
                let (folder, persona, greeting) = i.persona(&slug, &jid)?;
                let agent = i.agent_for(&folder)?;
                let knowledge = i.knowledge_base(&folder)?;
                Ok((folder, persona, greeting, agent, knowledge))
            })
            .await?;
        let input = crate::agent::AgentInput {
            name: &folder.name,
            persona: &persona,
            greeting: &greeting,
            knowledge: &knowledge,
            history: &[],
            message: question,
            lang: folder.language.unwrap_or_default(),
        };
        let reply = agent.run(input, &|_: &str| {}).await;
        let outcome = reply.outcome.status();
        let text = match reply.outcome {
            // The owner sees the visitor-safe message; the detail is in the log.
            Outcome::Error(e) if reply.text.is_empty() => e.visitor_message(),
            Outcome::Ok | Outcome::Handoff | Outcome::Error(_) => reply.text,
        };
        Ok(TestAnswer {
            text,
            outcome,
            choices: reply.choices,
        })
    }

    pub async fn route_rules(&self, slug: &str) -> Result<Vec<RouteRuleInfo>> {
        let slug = slug.to_owned();
        self.blocking(move |i| {
            i.store.folder(&slug)?;
            Ok(i.store
                .route_rules(&slug)?
                .into_iter()
                .map(|r| RouteRuleInfo {
                    jid: r.jid.to_string(),
                    persona: r.persona,
                    greeting: r.greeting,
                })
                .collect())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::test_app;
    use super::*;

    #[tokio::test]
    async fn the_test_box_asks_without_writing_anything() {
        let (_d, app) = test_app();
        let sunday = app
            .ask_agent("demo", None, "When are you open on Sunday?")
            .await
            .expect("ask");
        assert_eq!(sunday.outcome, TurnStatus::Ok);
        assert!(sunday.text.contains("8am to 2pm"), "{}", sunday.text);
        let bicycle = app
            .ask_agent("demo", Some("flyer".into()), "can you fix my bicycle?")
            .await
            .expect("ask");
        assert_eq!(bicycle.outcome, TurnStatus::Handoff, "{}", bicycle.text);
        assert_eq!(
            app.overview(0).await.expect("overview").conversations_today,
            0,
            "no conversation was written"
        );
        for (slug, suffix, q, code) in [
            ("demo", None, "   ", "invalid_input"),
            ("demo", Some("bad suffix!"), "hi", "invalid_input"),
            ("nobody", None, "hi", "not_found"),
        ] {
            let err = app
                .ask_agent(slug, suffix.map(str::to_owned), q)
                .await
                .expect_err("refused");
            assert_eq!(err.code(), code, "{err}");
        }
    }

    #[tokio::test]
    async fn create_edit_and_keep_the_key_out_of_sight() {
        let (_d, app) = test_app();
        let new = NewAgent {
            slug: "acme".into(),
            name: " Acme ".into(),
            greeting: "Hi".into(),
            instructions: "".into(),
        };
        let a = app.create_agent(new.clone()).await.expect("create");
        assert_eq!(a.name, "Acme");
        assert_eq!(
            app.create_agent(new).await.expect_err("dup").code(),
            "conflict"
        );
        assert_eq!(
            app.create_agent(NewAgent {
                slug: "Bad!".into(),
                name: "x".into(),
                ..Default::default()
            })
            .await
            .expect_err("slug")
            .code(),
            "invalid_input"
        );
        let a = app
            .update_agent(
                "acme",
                AgentUpdate {
                    engine: Some(EngineSetting::OpenAi {
                        base_url: "http://127.0.0.1:9/v1/".into(),
                        model: "m".into(),
                    }),
                    ..Default::default()
                },
            )
            .await
            .expect("engine");
        assert_eq!(
            a.engine,
            EngineInfo::Openai {
                base_url: "http://127.0.0.1:9/v1".into(),
                model: "m".into(),
                api_key_set: false
            }
        );
        let a = app
            .set_api_key("acme", Some(Sensitive::new("sk-secret".into())))
            .await
            .expect("key");
        assert!(matches!(
            a.engine,
            EngineInfo::Openai {
                api_key_set: true,
                ..
            }
        ));
        assert!(
            !serde_json::to_string(&a)
                .expect("json")
                .contains("sk-secret")
        );
        let err = app
            .update_agent(
                "acme",
                AgentUpdate {
                    engine: Some(EngineSetting::OpenAi {
                        base_url: "file:///etc".into(),
                        model: "m".into(),
                    }),
                    ..Default::default()
                },
            )
            .await
            .expect_err("bad url");
        assert_eq!(err.code(), "invalid_input");
        assert_eq!(app.agent("acme").await.expect("unchanged").engine, a.engine);
    }

    #[tokio::test]
    async fn knowledge_and_import_all_or_nothing() {
        let (_d, app) = test_app();
        let before = app.knowledge("demo").await.expect("list").len();
        let err = app
            .import_knowledge("demo", "# Q\nA\n# Empty\n", Format::Markdown)
            .await
            .expect_err("bad file");
        assert!(err.to_string().contains("line 3"));
        assert_eq!(app.knowledge("demo").await.expect("list").len(), before);
        let added = app
            .import_knowledge(
                "demo",
                "question,answer\nParking?,Behind the shop.\n",
                Format::Csv,
            )
            .await
            .expect("csv");
        assert_eq!(added.len(), 1);
        let k = app
            .add_knowledge("demo", None, "Free text.".into())
            .await
            .expect("add");
        let edit = crate::app::KnowledgeEdit {
            question: Some("Q?".into()),
            answer: "A.".into(),
            ..Default::default()
        };
        app.edit_knowledge("demo", k.id, edit).await.expect("edit");
        app.remove_knowledge("demo", k.id).await.expect("remove");
        assert_eq!(app.knowledge("demo").await.expect("list").len(), before + 1);
        app.set_route_rule("web:demo/sales", None, Some("Welcome, buyer!".into()))
            .await
            .expect("rule");
        assert_eq!(app.route_rules("demo").await.expect("rules").len(), 1);
        assert!(
            app.set_route_rule("web:nope/x", None, Some("x".into()))
                .await
                .is_err()
        );
    }
}
